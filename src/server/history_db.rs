//! History in an SQLite database (`ServerConfig::history_path`,
//! PROTOCOL.md "History"): what survives a restart of the server.
//!
//! - At start ([`open`]), on the starting thread: the database is opened
//!   (created if missing) in WAL mode and migrated to the current schema,
//!   chunks whose newest message is past the retention age are deleted
//!   (older messages of a kept chunk are skipped when read), the highest id
//!   seeds the server's id counter (ids keep
//!   increasing across restarts), and the last `history_limit` messages of
//!   every conversation are read back into the in-memory rings, which
//!   answer every `/history` (so no I/O thread ever reads the database).
//! - While running: the I/O threads hand each message to [`DbSink`], which
//!   only tries to put it into a bounded channel (never blocks, never
//!   waits for the disk); one writer thread takes what is there and writes
//!   it in one transaction per batch, each conversation's messages of the
//!   batch as chunks of up to [`CHUNK`] messages a row.
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

/// Messages of one conversation in one row of the chunk table, at most:
/// a batch's messages of a conversation are one B-tree insert per this
/// many instead of one per message.
const CHUNK: usize = 256;

/// The schema this version writes (`PRAGMA user_version`). 0: the first
/// one (a rowid table `messages` and an index on conversation and id); 1:
/// `messages` as one B-tree, `WITHOUT ROWID`, keyed by conversation and id;
/// 2: `chunks`, several consecutive messages of one conversation a row
/// (see [`encode`]). 0 and 1 are migrated at start.
const SCHEMA_VERSION: i64 = 2;

/// The table of [`SCHEMA_VERSION`]: a row holds the messages of one
/// conversation with ids `first_id..=last_id` (not every id of that range:
/// ids are shared by all conversations), `last_time` the time of the newest
/// (for the retention), `body` the messages as [`encode`] writes them.
const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS chunks (
         conversation TEXT NOT NULL,
         first_id INTEGER NOT NULL,
         last_id INTEGER NOT NULL,
         last_time INTEGER NOT NULL,
         body BLOB NOT NULL,
         PRIMARY KEY (conversation, first_id)
     ) WITHOUT ROWID;";

/// Writes one chunk. Written again (the same messages after a failed
/// commit, say), the row covering more messages is kept.
const INSERT_CHUNK: &str = "INSERT INTO chunks (conversation, first_id, last_id, last_time, body)
     VALUES (?1, ?2, ?3, ?4, ?5)
     ON CONFLICT (conversation, first_id) DO UPDATE SET
         last_id = excluded.last_id, last_time = excluded.last_time, body = excluded.body
     WHERE excluded.last_id >= chunks.last_id";

/// Deletes the chunks whose newest message is older than `?1` (ms).
const PRUNE: &str = "DELETE FROM chunks WHERE last_time < ?1";

/// One message of a chunk body, as [`decode`] reads it back.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Decoded {
    id: u64,
    /// The kind's protocol word (unknown words are kept, and skipped by
    /// the loader: a newer papo may write kinds this one does not know).
    kind: String,
    sender: String,
    time: u64,
    text: String,
}

/// Appends one message to a chunk body: id (u64), kind (u8 length and
/// UTF-8), sender (u32 length and UTF-8), text (u32 length and UTF-8),
/// time (u64, ms since the epoch); integers little-endian.
fn encode(out: &mut Vec<u8>, id: u64, kind: &str, sender: &str, time: u64, text: &str) {
    out.extend_from_slice(&id.to_le_bytes());
    // Kind words are short protocol words; a longer one is cut (never
    // happens with this version's kinds).
    let kind = &kind.as_bytes()[..kind.len().min(usize::from(u8::MAX))];
    out.push(kind.len() as u8);
    out.extend_from_slice(kind);
    for field in [sender, text] {
        let len = u32::try_from(field.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&field.as_bytes()[..len as usize]);
    }
    out.extend_from_slice(&time.to_le_bytes());
}

/// Reads a chunk body written by [`encode`]. A body that is cut short, or
/// whose text is not UTF-8 (a damaged file), is an error, never a panic.
fn decode(body: &[u8]) -> Result<Vec<Decoded>, String> {
    struct Reader<'a>(&'a [u8]);
    impl<'a> Reader<'a> {
        fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
            if self.0.len() < n {
                return Err("a history chunk is cut short".into());
            }
            let (head, rest) = self.0.split_at(n);
            self.0 = rest;
            Ok(head)
        }
        fn u64(&mut self) -> Result<u64, String> {
            let b = self.take(8)?;
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            Ok(u64::from_le_bytes(a))
        }
        fn text(&mut self, len: usize) -> Result<String, String> {
            let b = self.take(len)?;
            String::from_utf8(b.to_vec())
                .map_err(|_| "a history chunk holds text that is not UTF-8".into())
        }
        fn long_text(&mut self) -> Result<String, String> {
            let b = self.take(4)?;
            let mut a = [0u8; 4];
            a.copy_from_slice(b);
            let len = usize::try_from(u32::from_le_bytes(a))
                .map_err(|_| "a history chunk is too long".to_string())?;
            self.text(len)
        }
    }
    let mut r = Reader(body);
    let mut out = Vec::new();
    while !r.0.is_empty() {
        let id = r.u64()?;
        let kind_len = usize::from(r.take(1)?[0]);
        let kind = r.text(kind_len)?;
        let sender = r.long_text()?;
        let text = r.long_text()?;
        let time = r.u64()?;
        out.push(Decoded {
            id,
            kind,
            sender,
            time,
            text,
        });
    }
    Ok(out)
}

/// A damaged chunk, reported like a database that cannot be read.
fn corrupt(message: String) -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
        Some(message),
    )
}

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
        // Schemas 0 and 1 both keep one message a row in `messages`, with
        // the same columns.
        let old: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'messages')",
            [],
            |r| r.get(0),
        )?;
        tx.execute_batch(CREATE_TABLE)?;
        if old {
            migrate_messages(&tx)?;
            tx.execute_batch("DROP TABLE messages;")?;
        }
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    }
    tx.commit()?;
    Ok(conn)
}

/// Copies the one-message rows of schema 0 or 1 into chunks, in id order
/// per conversation.
fn migrate_messages(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    let mut select = tx.prepare(
        "SELECT conversation, id, kind, sender, time, text FROM messages ORDER BY conversation, id",
    )?;
    let mut insert = tx.prepare(INSERT_CHUNK)?;
    let mut rows = select.query([])?;
    // The chunk being filled: conversation, first id, last id, last time,
    // messages in it, body.
    let mut current: Option<(String, i64, i64, i64, usize, Vec<u8>)> = None;
    while let Some(r) = rows.next()? {
        let conversation: String = r.get(0)?;
        let id: i64 = r.get(1)?;
        let kind: String = r.get(2)?;
        let sender: String = r.get(3)?;
        let time: i64 = r.get(4)?;
        let text: String = r.get(5)?;
        let full = matches!(&current, Some((c, .., n, _)) if *c != conversation || *n >= CHUNK);
        if full {
            if let Some((c, first, last, last_time, _, body)) = current.take() {
                insert.execute(params![c, first, last, last_time, body])?;
            }
        }
        let chunk = current.get_or_insert_with(|| (conversation, id, id, time, 0, Vec::new()));
        encode(
            &mut chunk.5,
            u64::try_from(id).unwrap_or(0),
            &kind,
            &sender,
            u64::try_from(time).unwrap_or(0),
            &text,
        );
        chunk.2 = id;
        chunk.3 = chunk.3.max(time);
        chunk.4 += 1;
    }
    if let Some((c, first, last, last_time, _, body)) = current {
        insert.execute(params![c, first, last, last_time, body])?;
    }
    Ok(())
}

type Loaded = (Connection, u64, Vec<(Conversation, Entry)>);

/// Opens the database, applies the retention, and reads the highest id and
/// the last `limit` messages of every conversation, oldest first.
fn load(path: &Path, limit: usize, max_age_ms: u64) -> rusqlite::Result<Loaded> {
    let conn = connect(path)?;
    let oldest = now_ms().saturating_sub(max_age_ms);
    conn.execute(PRUNE, params![i64::try_from(oldest).unwrap_or(i64::MAX)])?;
    let last_id: i64 = conn.query_row("SELECT COALESCE(MAX(last_id), 0) FROM chunks", [], |r| {
        r.get(0)
    })?;
    let mut entries = Vec::new();
    {
        // Newest chunk first in each conversation, until `limit` messages.
        let mut stmt = conn.prepare(
            "SELECT conversation, body FROM chunks ORDER BY conversation, first_id DESC",
        )?;
        let mut rows = stmt.query([])?;
        // The conversation being read (its column text, and `None` when
        // this version cannot read it), and its messages, newest first.
        let mut current: Option<(String, Option<Conversation>)> = None;
        let mut mine: Vec<Entry> = Vec::new();
        let mut flush = |c: Option<Conversation>, mine: &mut Vec<Entry>| {
            let Some(c) = c else {
                mine.clear();
                return;
            };
            // Chunks written twice over (a retry) may overlap: one entry
            // an id.
            mine.sort_unstable_by_key(|e| std::cmp::Reverse(e.tag.id));
            mine.dedup_by_key(|e| e.tag.id);
            mine.truncate(limit);
            entries.extend(mine.drain(..).map(|e| (c.clone(), e)));
        };
        while let Some(r) = rows.next()? {
            let key = r.get_ref(0)?.as_str()?;
            if current.as_ref().map(|(k, _)| k.as_str()) != Some(key) {
                if let Some((_, c)) = current.take() {
                    flush(c, &mut mine);
                }
                current = Some((key.to_owned(), Conversation::from_key(key)));
            }
            // Rows this version cannot read are skipped.
            if mine.len() >= limit || current.as_ref().is_some_and(|(_, c)| c.is_none()) {
                continue;
            }
            let body = r.get_ref(1)?.as_blob()?;
            let decoded = decode(body).map_err(corrupt)?;
            for d in decoded.into_iter().rev() {
                if d.time < oldest {
                    continue;
                }
                let Some(kind) = HistoryKind::parse(&d.kind) else {
                    continue;
                };
                mine.push(Entry {
                    tag: Tag {
                        id: d.id,
                        time: d.time,
                    },
                    kind,
                    from: Arc::from(d.sender.as_str()),
                    text: Box::from(d.text.as_str()),
                });
            }
        }
        if let Some((_, c)) = current.take() {
            flush(c, &mut mine);
        }
    }
    entries.sort_unstable_by_key(|(_, e)| e.tag.id);
    Ok((conn, u64::try_from(last_id).unwrap_or(0), entries))
}

/// Writes one batch in one transaction: its messages grouped by
/// conversation, in id order, [`CHUNK`] at most a row.
fn write_batch(conn: &mut Connection, batch: &[Row]) -> rusqlite::Result<()> {
    let mut groups: Vec<(std::borrow::Cow<'_, str>, Vec<&Entry>)> = Vec::new();
    for row in batch {
        let k = key(&row.conversation);
        // Few conversations a batch in the common case (the public one,
        // some rooms): a linear search, the last one used first.
        match groups.iter_mut().rev().find(|(g, _)| *g == k) {
            Some((_, entries)) => entries.push(&row.entry),
            None => groups.push((k, vec![&row.entry])),
        }
    }
    let tx = conn.transaction()?;
    {
        let mut stmt = tx.prepare_cached(INSERT_CHUNK)?;
        let mut body = Vec::new();
        for (k, entries) in &mut groups {
            entries.sort_by_key(|e| e.tag.id);
            for chunk in entries.chunks(CHUNK) {
                body.clear();
                for e in chunk {
                    encode(
                        &mut body,
                        e.tag.id,
                        e.kind.as_str(),
                        &e.from,
                        e.tag.time,
                        &e.text,
                    );
                }
                let (Some(first), Some(last)) = (chunk.first(), chunk.last()) else {
                    continue;
                };
                let last_time = chunk.iter().map(|e| e.tag.time).max().unwrap_or(0);
                stmt.execute(params![
                    &**k,
                    i64::try_from(first.tag.id).unwrap_or(i64::MAX),
                    i64::try_from(last.tag.id).unwrap_or(i64::MAX),
                    i64::try_from(last_time).unwrap_or(i64::MAX),
                    &body,
                ])?;
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
                    let _ = c.execute(PRUNE, params![i64::try_from(oldest).unwrap_or(i64::MAX)]);
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

    /// More messages than one chunk takes, in three
    /// conversations: what comes back is the last `limit` of each, oldest
    /// first, with the highest id.
    #[test]
    fn batches_write_and_load_back() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("h.db");
        let mut conn = connect(&path).expect("open");
        let mut batch = Vec::new();
        for id in 1..=(3 * CHUNK as u64 + 5) {
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
        assert_eq!(last, 3 * CHUNK as u64 + 5);
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

    /// Bodies read back as written; every cut or damaged body is an error,
    /// not a panic.
    #[test]
    fn chunk_bodies_round_trip_and_damage_is_an_error() {
        let mut body = Vec::new();
        let want = vec![
            Decoded {
                id: 1,
                kind: "public".into(),
                sender: "ana".into(),
                time: 5,
                text: "hello".into(),
            },
            Decoded {
                id: u64::MAX,
                kind: "private".into(),
                sender: "bób".into(),
                time: 0,
                text: String::new(),
            },
        ];
        for d in &want {
            encode(&mut body, d.id, &d.kind, &d.sender, d.time, &d.text);
        }
        assert_eq!(decode(&body), Ok(want));
        assert_eq!(decode(&[]), Ok(Vec::new()));
        // The first message ends at 39 bytes: a body of that one alone.
        let first = 8 + 1 + 6 + 4 + 3 + 4 + 5 + 8;
        assert_eq!(decode(&body[..first]).map(|d| d.len()), Ok(1));
        for cut in (1..body.len()).filter(|&c| c != first) {
            assert!(decode(&body[..cut]).is_err(), "cut at {cut}");
        }
        // A length far past the end.
        let mut long = body.clone();
        long[8 + 1 + 6] = 0xff;
        assert!(decode(&long).is_err());
        // Text that is not UTF-8 ("hello" starts after id, kind, sender).
        let mut bad = body.clone();
        bad[8 + 1 + 6 + 4 + 3 + 4] = 0xff;
        assert!(decode(&bad).is_err());
    }

    /// A damaged chunk in the file makes loading fail like a database that
    /// cannot be read.
    #[test]
    fn a_damaged_chunk_is_an_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("bad.db");
        let conn = connect(&path).expect("open");
        let now = i64::try_from(now_ms()).expect("time");
        conn.execute(INSERT_CHUNK, params!["*", 1, 1, now, vec![1u8, 2, 3]])
            .expect("bad chunk");
        drop(conn);
        let Err(err) = load(&path, 50, DAY) else {
            panic!("a damaged chunk was read");
        };
        assert!(err.to_string().contains("cut short"), "{err}");
    }

    /// A database of schema 1 (one message a row, `WITHOUT ROWID`) is
    /// migrated to chunks at start, more than one chunk a conversation.
    #[test]
    fn a_database_of_schema_1_is_migrated() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("v1.db");
        let n = 2 * CHUNK as i64 + 10;
        {
            let conn = Connection::open(&path).expect("open");
            conn.execute_batch(
                "CREATE TABLE messages (
                     conversation TEXT NOT NULL,
                     id INTEGER NOT NULL,
                     kind TEXT NOT NULL,
                     sender TEXT NOT NULL,
                     time INTEGER NOT NULL,
                     text TEXT NOT NULL,
                     PRIMARY KEY (conversation, id)
                 ) WITHOUT ROWID;
                 PRAGMA user_version = 1;",
            )
            .expect("schema 1");
            let now = i64::try_from(now_ms()).expect("time");
            for id in 1..=n {
                let (c, k) = if id % 2 == 0 {
                    ("*", "public")
                } else {
                    ("#r", "room")
                };
                conn.execute(
                    "INSERT INTO messages (conversation, id, kind, sender, time, text)
                     VALUES (?1, ?2, ?3, 'ana', ?4, ?5)",
                    params![c, id, k, now, format!("m{id}")],
                )
                .expect("row");
            }
            // One more, in a conversation of its own, too old to keep.
            conn.execute(
                "INSERT INTO messages (conversation, id, kind, sender, time, text)
                 VALUES ('#old', 3, 'room', 'ana', 1, 'gone')",
                [],
            )
            .expect("old row");
        }
        let (conn, last, entries) = load(&path, 1000, DAY).expect("load");
        assert_eq!(last, u64::try_from(n).expect("n"));
        assert_eq!(entries.len(), usize::try_from(n).expect("n"));
        for (i, (c, e)) in entries.iter().enumerate() {
            let id = i as u64 + 1;
            assert_eq!(e.tag.id, id);
            assert_eq!(&*e.text, format!("m{id}"));
            let want = if id % 2 == 0 {
                Conversation::Public
            } else {
                Conversation::room("#r")
            };
            assert_eq!(*c, want);
        }
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .expect("version");
        assert_eq!(version, SCHEMA_VERSION);
        let (chunks, messages): (i64, bool) = conn
            .query_row(
                "SELECT (SELECT COUNT(*) FROM chunks), EXISTS (SELECT 1 FROM sqlite_master \
                 WHERE name = 'messages')",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("count");
        // CHUNK + 5 messages in each of two conversations: two chunks
        // each; the old conversation's was deleted at load.
        assert_eq!(chunks, 4);
        assert!(!messages);
        // With a smaller limit, the newest of each conversation.
        drop(conn);
        let (_, _, entries) = load(&path, 3, DAY).expect("load again");
        let ids: Vec<u64> = entries.iter().map(|(_, e)| e.tag.id).collect();
        let n = u64::try_from(n).expect("n");
        assert_eq!(ids, vec![n - 5, n - 4, n - 3, n - 2, n - 1, n]);
    }
}
