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

/// How long the writer waits after a failed write before trying again.
pub const RETRY_AFTER: Duration = Duration::from_secs(2);

/// One message for the writer.
struct Row {
    conversation: String,
    entry: Arc<Entry>,
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
    fn append(&self, conversation: &Conversation, entry: &Entry) {
        let row = Row {
            conversation: conversation.to_key(),
            entry: Arc::new(entry.clone()),
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

/// Opens the database and prepares it.
fn connect(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(1))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS messages (
             id INTEGER PRIMARY KEY,
             conversation TEXT NOT NULL,
             kind TEXT NOT NULL,
             sender TEXT NOT NULL,
             time INTEGER NOT NULL,
             text TEXT NOT NULL
         );
         CREATE INDEX IF NOT EXISTS messages_by_conversation ON messages (conversation, id);",
    )?;
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

/// Writes one batch in one transaction.
fn write_batch(conn: &mut Connection, batch: &[Row]) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        let mut stmt = tx.prepare_cached(
            "INSERT OR REPLACE INTO messages (id, conversation, kind, sender, time, text)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for row in batch {
            let e = &row.entry;
            stmt.execute(params![
                i64::try_from(e.tag.id).unwrap_or(i64::MAX),
                row.conversation,
                e.kind.as_str(),
                &*e.from,
                i64::try_from(e.tag.time).unwrap_or(i64::MAX),
                &*e.text,
            ])?;
        }
    }
    tx.commit()
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
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(row) => batch.push(row),
                Err(_) => break,
            }
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
