//! History in an SQLite database (`ServerConfig::history_path`,
//! PROTOCOL.md "History"): what survives a restart of the server.
//!
//! - At start ([`open`]), on the starting thread: the database is opened
//!   (created if missing) in WAL mode, messages past the retention age are
//!   deleted, the highest id seeds the server's id counter (ids keep
//!   increasing across restarts), and the last `history_limit` messages of
//!   every conversation are read back into the in-memory rings, which
//!   answer every `/history` (so no I/O thread ever reads the database).
//! - While running: the I/O threads hand each message to [`DbSink`], which
//!   only tries to put it into a bounded channel (never blocks, never
//!   waits for the disk); one writer thread takes what is there and writes
//!   it in one transaction per batch.
//! - When the writer falls behind (the channel is full) or a write fails
//!   (a full disk, a read-only directory, a database that cannot be
//!   opened), history writes pause: entries are not written, chat goes on,
//!   and a [`ServerEvent::History`] says so. The writer tries again after
//!   [`RETRY_AFTER`]; once a write succeeds, another event says writing
//!   resumed.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, OnceLock, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::{params, Connection};

use super::session::{Conversation, Entry, History, HistorySink};
use super::shared::Shared;
use super::unix_time_ms as now_ms;
use super::ServerEvent;
use crate::protocol::{HistoryKind, Tag};

/// Entries waiting for the writer, at most.
pub const QUEUE_CAPACITY: usize = 65_536;

/// Entries written in one transaction, at most.
const BATCH: usize = 4096;

/// Rows in one multi-row `INSERT` statement (prepared once; the rest of a
/// batch goes through the one-row statement). 64 rows bind 384 parameters,
/// well within SQLite's limit.
const ROWS_PER_INSERT: usize = 64;

/// The schema this version writes (`PRAGMA user_version`). 0: the first
/// one (a rowid table and an index on conversation and id), migrated at
/// start; 1: one B-tree, `WITHOUT ROWID`, keyed by conversation and id.
const SCHEMA_VERSION: i64 = 1;

/// The table of [`SCHEMA_VERSION`].
const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS messages (
         conversation TEXT NOT NULL,
         id INTEGER NOT NULL,
         kind TEXT NOT NULL,
         sender TEXT NOT NULL,
         time INTEGER NOT NULL,
         text TEXT NOT NULL,
         PRIMARY KEY (conversation, id)
     ) WITHOUT ROWID;";

/// How long the writer lets entries gather after the first one of a batch
/// when fewer than [`BATCH`] are waiting (not when more are: the writer
/// never waits while it is behind).
const GATHER: Duration = Duration::from_millis(20);

/// How long the writer waits after a failed write before trying again.
pub const RETRY_AFTER: Duration = Duration::from_secs(2);

/// One message for the writer: what the rings already hold (the
/// conversation is turned into its key text on the writer's thread).
struct Row {
    conversation: Conversation,
    entry: Arc<Entry>,
}

/// The conversation's column text ([`Conversation::to_key`]), borrowed
/// where it can be.
fn key(conversation: &Conversation) -> std::borrow::Cow<'_, str> {
    match conversation {
        Conversation::Public => "*".into(),
        Conversation::Room(r) => r.as_str().into(),
        Conversation::Private(..) => conversation.to_key().into(),
    }
}

/// What the writer and the sinks share.
struct State {
    /// Entries not written because the channel was full, since the last
    /// report.
    overflowed: AtomicU64,
    /// Set when the writer thread must end.
    stop: AtomicBool,
    /// The server, to report events (set once it exists).
    shared: OnceLock<Weak<Shared>>,
}

impl State {
    fn report(&self, paused: bool, message: String) {
        let Some(shared) = self.shared.get().and_then(Weak::upgrade) else {
            return;
        };
        shared.events.push(ServerEvent::History { paused, message });
    }
}

/// The [`HistorySink`] of a server with a database: hands entries to the
/// writer thread without blocking.
pub(crate) struct DbSink {
    tx: SyncSender<Row>,
    state: Arc<State>,
}

impl HistorySink for DbSink {
    fn append(&self, conversation: &Conversation, entry: &Arc<Entry>) {
        let row = Row {
            conversation: conversation.clone(),
            entry: Arc::clone(entry),
        };
        match self.tx.try_send(row) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.state.overflowed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// The writer thread of a running server; stopped and joined on drop.
pub(crate) struct Writer {
    state: Arc<State>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    /// Lets the writer report events to the server (once it exists).
    pub(crate) fn attach(&self, shared: &Arc<Shared>) {
        let _ = self.state.shared.set(Arc::downgrade(shared));
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The history of a server with `history_path` set: rings filled from the
/// database, a sink writing to it, and the writer thread. When the database
/// cannot be opened or read, the history is in memory only and the error
/// is returned with it, for a [`ServerEvent::History`] once the server
/// exists; the writer keeps trying to open the database.
pub(crate) fn open(
    path: &Path,
    limit: usize,
    max_age: Duration,
) -> (History, Writer, Option<String>) {
    let state = Arc::new(State {
        overflowed: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        shared: OnceLock::new(),
    });
    let (tx, rx) = sync_channel(QUEUE_CAPACITY);
    let sink = DbSink {
        tx,
        state: Arc::clone(&state),
    };
    let max_age_ms = u64::try_from(max_age.as_millis()).unwrap_or(u64::MAX);
    let (history, conn, error) = match load(path, limit, max_age_ms) {
        Ok((conn, last_id, entries)) => {
            let history = History::new(limit, max_age, last_id, Some(Box::new(sink)));
            for (conversation, entry) in entries {
                history.restore(conversation, Arc::new(entry));
            }
            (history, Some(conn), None)
        }
        Err(e) => {
            let history = History::new(limit, max_age, 0, Some(Box::new(sink)));
            let message = format!(
                "history database {}: {e}; history is kept in memory only, writes paused",
                path.display()
            );
            (history, None, Some(message))
        }
    };
    let thread_state = Arc::clone(&state);
    let path = path.to_path_buf();
    let thread = std::thread::Builder::new()
        .name("papo-history".into())
        .spawn(move || write_loop(rx, conn, path, thread_state, max_age_ms));
    let writer = Writer {
        state,
        thread: thread.ok(),
    };
    (history, writer, error)
}

/// Opens the database and prepares it: creates the table, or migrates a
/// database of an older schema (in one transaction: a failure leaves it as
/// it was). A database of a newer schema is an error.
fn connect(path: &Path) -> rusqlite::Result<Connection> {
    let mut conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(1))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version == SCHEMA_VERSION {
        return Ok(conn);
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_MISMATCH),
            Some(format!(
                "schema version {version} was written by a newer papo (this one reads up to \
                 {SCHEMA_VERSION})"
            )),
        ));
    }
    if version < SCHEMA_VERSION {
        let old: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'messages')",
            [],
            |r| r.get(0),
        )?;
        if old {
            tx.execute_batch("ALTER TABLE messages RENAME TO messages_v0;")?;
        }
        tx.execute_batch(CREATE_TABLE)?;
        if old {
            tx.execute_batch(
                "INSERT OR REPLACE INTO messages (conversation, id, kind, sender, time, text)
                     SELECT conversation, id, kind, sender, time, text FROM messages_v0;
                 DROP TABLE messages_v0;",
            )?;
        }
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    }
    tx.commit()?;
    Ok(conn)
}

type Loaded = (Connection, u64, Vec<(Conversation, Entry)>);

/// Opens the database, applies the retention, and reads the highest id and
/// the last `limit` messages of every conversation, oldest first.
fn load(path: &Path, limit: usize, max_age_ms: u64) -> rusqlite::Result<Loaded> {
    let conn = connect(path)?;
    let oldest = now_ms().saturating_sub(max_age_ms);
    conn.execute(
        "DELETE FROM messages WHERE time < ?1",
        params![i64::try_from(oldest).unwrap_or(i64::MAX)],
    )?;
    let last_id: i64 = conn.query_row("SELECT COALESCE(MAX(id), 0) FROM messages", [], |r| {
        r.get(0)
    })?;
    let mut entries = Vec::new();
    {
        let mut stmt = conn.prepare(
            "SELECT conversation, kind, sender, id, time, text FROM (
                 SELECT *, ROW_NUMBER() OVER (PARTITION BY conversation ORDER BY id DESC) AS n
                 FROM messages)
             WHERE n <= ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map(params![i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, String>(5)?,
            ))
        })?;
        for row in rows {
            let (conversation, kind, sender, id, time, text) = row?;
            // Rows this version cannot read are skipped.
            let (Some(conversation), Some(kind)) = (
                Conversation::from_key(&conversation),
                HistoryKind::parse(&kind),
            ) else {
                continue;
            };
            entries.push((
                conversation,
                Entry {
                    tag: Tag {
                        id: u64::try_from(id).unwrap_or(0),
                        time: u64::try_from(time).unwrap_or(0),
                    },
                    kind,
                    from: Arc::from(sender.as_str()),
                    text: Box::from(text.as_str()),
                },
            ));
        }
    }
    Ok((conn, u64::try_from(last_id).unwrap_or(0), entries))
}

/// The `INSERT` of `rows` rows (numbered parameters, six a row).
fn insert_sql(rows: usize) -> String {
    let mut sql = String::from(
        "INSERT OR REPLACE INTO messages (id, conversation, kind, sender, time, text) VALUES ",
    );
    for i in 0..rows {
        let p = i * 6;
        if i > 0 {
            sql.push(',');
        }
        sql.push_str(&format!(
            "(?{},?{},?{},?{},?{},?{})",
            p + 1,
            p + 2,
            p + 3,
            p + 4,
            p + 5,
            p + 6
        ));
    }
    sql
}

/// Binds `rows` to `stmt` (made by [`insert_sql`] for as many rows) and
/// runs it.
fn insert_rows(stmt: &mut rusqlite::CachedStatement<'_>, rows: &[Row]) -> rusqlite::Result<()> {
    for (i, row) in rows.iter().enumerate() {
        let p = i * 6;
        let e = &row.entry;
        stmt.raw_bind_parameter(p + 1, i64::try_from(e.tag.id).unwrap_or(i64::MAX))?;
        stmt.raw_bind_parameter(p + 2, &*key(&row.conversation))?;
        stmt.raw_bind_parameter(p + 3, e.kind.as_str())?;
        stmt.raw_bind_parameter(p + 4, &*e.from)?;
        stmt.raw_bind_parameter(p + 5, i64::try_from(e.tag.time).unwrap_or(i64::MAX))?;
        stmt.raw_bind_parameter(p + 6, &*e.text)?;
    }
    stmt.raw_execute().map(|_| ())
}

/// Writes one batch in one transaction: [`ROWS_PER_INSERT`] rows a
/// statement, then the rest one by one (both statements prepared once per
/// connection).
fn write_batch(conn: &mut Connection, batch: &[Row]) -> rusqlite::Result<()> {
    static MANY: OnceLock<String> = OnceLock::new();
    static ONE: OnceLock<String> = OnceLock::new();
    let many = MANY.get_or_init(|| insert_sql(ROWS_PER_INSERT));
    let one = ONE.get_or_init(|| insert_sql(1));
    let tx = conn.transaction()?;
    {
        let mut chunks = batch.chunks_exact(ROWS_PER_INSERT);
        if chunks.len() > 0 {
            let mut stmt = tx.prepare_cached(many)?;
            for chunk in &mut chunks {
                insert_rows(&mut stmt, chunk)?;
            }
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut stmt = tx.prepare_cached(one)?;
            for row in rest {
                insert_rows(&mut stmt, std::slice::from_ref(row))?;
            }
        }
    }
    tx.commit()
}

/// Moves what the channel holds into `batch`, up to [`BATCH`] entries.
fn drain(rx: &Receiver<Row>, batch: &mut Vec<Row>) {
    while batch.len() < BATCH {
        match rx.try_recv() {
            Ok(row) => batch.push(row),
            Err(_) => break,
        }
    }
}

/// The writer thread: batches what the channel holds into transactions;
/// pauses (dropping what comes, and saying so) while writing fails.
fn write_loop(
    rx: Receiver<Row>,
    mut conn: Option<Connection>,
    path: PathBuf,
    state: Arc<State>,
    max_age_ms: u64,
) {
    let mut paused = conn.is_none();
    let mut retry_at = Instant::now() + RETRY_AFTER;
    let mut dropped_while_paused = 0u64;
    let mut batch: Vec<Row> = Vec::with_capacity(BATCH);
    let mut last_prune = Instant::now();
    while !state.stop.load(Ordering::Acquire) {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(row) => batch.push(row),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        drain(&rx, &mut batch);
        if !batch.is_empty() && batch.len() < BATCH && !state.stop.load(Ordering::Acquire) {
            // Let more come: fewer, larger transactions, and while the
            // writer sleeps the I/O threads' sends wake nobody.
            std::thread::sleep(GATHER);
            drain(&rx, &mut batch);
        }
        let overflowed = state.overflowed.swap(0, Ordering::Relaxed);
        if overflowed > 0 && !paused {
            state.report(
                true,
                format!(
                    "history writes fell behind: {overflowed} messages not written to {}",
                    path.display()
                ),
            );
        }
        dropped_while_paused += overflowed;
        if paused {
            if Instant::now() < retry_at {
                dropped_while_paused += batch.len() as u64;
                batch.clear();
                continue;
            }
            if conn.is_none() {
                conn = connect(&path).ok();
            }
        }
        if batch.is_empty() && !paused {
            if last_prune.elapsed() > Duration::from_secs(3600) {
                last_prune = Instant::now();
                if let Some(c) = &conn {
                    let oldest = now_ms().saturating_sub(max_age_ms);
                    let _ = c.execute(
                        "DELETE FROM messages WHERE time < ?1",
                        params![i64::try_from(oldest).unwrap_or(i64::MAX)],
                    );
                }
            }
            continue;
        }
        let result = match conn.as_mut() {
            Some(c) => write_batch(c, &batch),
            None => Err(rusqlite::Error::InvalidPath(path.clone())),
        };
        match result {
            Ok(()) => {
                if paused {
                    paused = false;
                    state.report(
                        false,
                        format!(
                            "history writes resumed to {} ({dropped_while_paused} messages \
                             were not written while paused)",
                            path.display()
                        ),
                    );
                    dropped_while_paused = 0;
                }
            }
            Err(e) => {
                dropped_while_paused += batch.len() as u64;
                if !paused {
                    paused = true;
                    state.report(
                        true,
                        format!(
                            "history writes paused: {} cannot be written ({e}); chat goes on",
                            path.display()
                        ),
                    );
                }
                retry_at = Instant::now() + RETRY_AFTER;
            }
        }
        batch.clear();
    }
    // What is still queued at shutdown is written if it can be.
    while let Ok(row) = rx.try_recv() {
        batch.push(row);
    }
    if let (Some(c), false, false) = (conn.as_mut(), batch.is_empty(), paused) {
        let _ = write_batch(c, &batch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(conversation: Conversation, id: u64, kind: HistoryKind, from: &str, text: &str) -> Row {
        Row {
            conversation,
            entry: Arc::new(Entry {
                tag: Tag { id, time: now_ms() },
                kind,
                from: Arc::from(from),
                text: Box::from(text),
            }),
        }
    }

    const DAY: u64 = 86_400_000;

    /// More rows than one multi-row statement takes, in three
    /// conversations: what comes back is the last `limit` of each, oldest
    /// first, with the highest id.
    #[test]
    fn batches_write_and_load_back() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("h.db");
        let mut conn = connect(&path).expect("open");
        let mut batch = Vec::new();
        for id in 1..=(2 * ROWS_PER_INSERT as u64 + 5) {
            let (c, k) = match id % 3 {
                0 => (Conversation::Public, HistoryKind::Public),
                1 => (Conversation::room("#a"), HistoryKind::Room),
                _ => (Conversation::private("Bob", "ana"), HistoryKind::Private),
            };
            batch.push(row(c, id, k, "ana", &format!("m{id}")));
        }
        write_batch(&mut conn, &batch).expect("write");
        // Written again (a retry): replaced, not doubled.
        write_batch(&mut conn, &batch[..3]).expect("write again");
        drop(conn);
        let (_, last, entries) = load(&path, 10, DAY).expect("load");
        assert_eq!(last, 2 * ROWS_PER_INSERT as u64 + 5);
        assert_eq!(entries.len(), 30);
        let ids: Vec<u64> = entries.iter().map(|(_, e)| e.tag.id).collect();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        assert_eq!(ids, sorted);
        for want in [
            Conversation::Public,
            Conversation::room("#A"),
            Conversation::private("ana", "bob"),
        ] {
            let mine: Vec<&Entry> = entries
                .iter()
                .filter(|(c, _)| *c == want)
                .map(|(_, e)| e)
                .collect();
            assert_eq!(mine.len(), 10, "{want:?}");
            let top = batch
                .iter()
                .filter(|r| r.conversation == want)
                .map(|r| r.entry.tag.id)
                .max();
            assert_eq!(mine.last().map(|e| e.tag.id), top);
            assert_eq!(&*mine[9].text, format!("m{}", mine[9].tag.id));
        }
    }

    /// A database written by the first schema (papo before schema
    /// versions: a rowid table and an index) is migrated at start and
    /// keeps its messages and ids.
    #[test]
    fn a_database_of_the_first_schema_is_migrated() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("old.db");
        {
            let conn = Connection::open(&path).expect("open");
            conn.pragma_update(None, "journal_mode", "WAL")
                .expect("wal");
            conn.execute_batch(
                "CREATE TABLE IF NOT EXISTS messages (
                     id INTEGER PRIMARY KEY,
                     conversation TEXT NOT NULL,
                     kind TEXT NOT NULL,
                     sender TEXT NOT NULL,
                     time INTEGER NOT NULL,
                     text TEXT NOT NULL
                 );
                 CREATE INDEX IF NOT EXISTS messages_by_conversation
                     ON messages (conversation, id);",
            )
            .expect("old schema");
            let now = i64::try_from(now_ms()).expect("time");
            for (id, c, k, text) in [
                (7, "*", "public", "hello"),
                (8, "#r", "room", "in the room"),
                (9, "ana\nbob", "private", "psst"),
                (12, "*", "public", "again"),
            ] {
                conn.execute(
                    "INSERT INTO messages (id, conversation, kind, sender, time, text)
                     VALUES (?1, ?2, ?3, 'ana', ?4, ?5)",
                    params![id, c, k, now, text],
                )
                .expect("old row");
            }
        }
        let (mut conn, last, entries) = load(&path, 50, DAY).expect("load");
        assert_eq!(last, 12);
        let got: Vec<(Conversation, u64, &str)> = entries
            .iter()
            .map(|(c, e)| (c.clone(), e.tag.id, &*e.text))
            .collect();
        assert_eq!(
            got,
            vec![
                (Conversation::Public, 7, "hello"),
                (Conversation::room("#r"), 8, "in the room"),
                (Conversation::private("ana", "bob"), 9, "psst"),
                (Conversation::Public, 12, "again"),
            ]
        );
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .expect("version");
        assert_eq!(version, SCHEMA_VERSION);
        // New rows go on after the old ones.
        write_batch(
            &mut conn,
            &[row(
                Conversation::Public,
                13,
                HistoryKind::Public,
                "bob",
                "new",
            )],
        )
        .expect("write");
        drop(conn);
        let (_, last, entries) = load(&path, 50, DAY).expect("load again");
        assert_eq!(last, 13);
        assert_eq!(entries.len(), 5);
    }

    /// A database of a newer schema is not touched.
    #[test]
    fn a_newer_schema_is_an_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("new.db");
        {
            let conn = Connection::open(&path).expect("open");
            conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
                .expect("version");
        }
        let Err(err) = load(&path, 50, DAY) else {
            panic!("a newer schema was opened");
        };
        assert!(err.to_string().contains("newer papo"), "{err}");
    }
}
