//! State shared by the acceptor and the I/O threads: the nickname registry,
//! the counters, the per-thread inboxes and the server event queue.
//!
//! # Ordering of what crosses threads
//!
//! Every delivery to a connection goes through the inbox of the thread that
//! owns it, in the order the sending thread produced it (a thread collects
//! its outgoing commands per target during one readiness burst and appends
//! them to each target's inbox at once). So the lines one client sends reach
//! each receiver in the order they were sent.
//!
//! Changes of the registry (someone registers, renames or leaves) are
//! numbered by `change_seq`, under the registry's write lock, and their
//! broadcast (`JOIN`, `NICK`, `LEFT`) is appended to every inbox while that
//! lock is held, so every thread sees the changes in the same order. A
//! connection remembers the number of its own registration (`reg_seq`) and
//! only receives broadcasts numbered after it: its `USERS` list is a
//! snapshot taken at that number, and the `JOIN`/`LEFT`/`NICK` lines it gets
//! afterwards are exactly the changes since, with no duplicate and no gap.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mio::net::TcpStream;
use mio::Waker;
use parking_lot::{Condvar, Mutex, RwLock};

use crate::config::ServerConfig;
use crate::error::ErrorCode;
use crate::protocol::encode;

use super::ServerEvent;

/// A command for one I/O thread, pushed into its inbox.
pub(crate) enum Cmd {
    /// A freshly accepted connection for this thread to own. With `reject`
    /// set, the server is full: the thread sends `HELLO` and that error,
    /// then closes it (it never counted as a connection).
    NewConn {
        stream: TcpStream,
        addr: std::net::SocketAddr,
        id: u64,
        reject: Option<ErrorCode>,
        /// Accepted on the TLS port: wrap it in a TLS session.
        tls: bool,
    },
    /// Bytes (one or more whole lines, encoded once) for every registered
    /// connection of the thread whose `reg_seq` is below `seq`, except the
    /// connection `except` (0: none). `presence`: the bytes are a `JOIN`,
    /// `LEFT` or `NICK` line, skipped for connections that turned presence
    /// off (PROTOCOL.md, "Presence").
    Broadcast {
        bytes: Arc<[u8]>,
        seq: u64,
        except: u64,
        presence: bool,
    },
    /// Private messages for connections of the thread: `bytes` holds the
    /// encoded `PRIVATE` lines one after the other, and `to` says, in the
    /// same order, whose each line is: (slot, connection id, line length).
    /// A line goes out only if the slot still holds connection `id`. One
    /// command carries all the private messages a thread sends to another
    /// in one burst (one allocation per burst, not per message).
    Deliver {
        bytes: Vec<u8>,
        to: Vec<(usize, u64, usize)>,
    },
    /// First step of a shutdown: stop reading from clients, move every
    /// command this thread has collected into the inboxes, then say so.
    /// Once every thread has, every private message that was answered
    /// `SENT` sits in its receiver's inbox ahead of the `Shutdown` that
    /// follows, so it is delivered before the receiver's `ERROR 03`.
    Quiesce(Arc<Quiesce>),
    /// The server is shutting down: send `ERROR 03` to everyone, flush,
    /// close, and end the thread.
    Shutdown,
    /// A file transfer or binary message frame, or a flow-control resume
    /// (see `transfer.rs`).
    Transfer(super::worker::transfer::XCmd),
}

/// A countdown of the I/O threads that have quiesced (see [`Cmd::Quiesce`]).
pub(crate) struct Quiesce {
    left: Mutex<usize>,
    cv: Condvar,
}

impl Quiesce {
    pub(crate) fn new(threads: usize) -> Quiesce {
        Quiesce {
            left: Mutex::new(threads),
            cv: Condvar::new(),
        }
    }

    /// One thread has quiesced.
    pub(crate) fn done(&self) {
        let mut left = self.left.lock();
        *left = left.saturating_sub(1);
        if *left == 0 {
            self.cv.notify_all();
        }
    }

    /// Waits until every thread has quiesced, or `still_worth_it` says a
    /// thread has died (checked every 20 ms), or `limit` has passed.
    pub(crate) fn wait(&self, limit: Duration, still_worth_it: impl Fn() -> bool) {
        let deadline = std::time::Instant::now() + limit;
        let mut left = self.left.lock();
        while *left > 0 && still_worth_it() && std::time::Instant::now() < deadline {
            self.cv.wait_for(&mut left, Duration::from_millis(20));
        }
    }
}

/// Counters of one I/O thread, written only by it (relaxed atomics; no
/// contention), summed by `Server::stats`.
#[derive(Default)]
pub(crate) struct ThreadStats {
    pub lines_received: AtomicU64,
    pub bytes_received: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub slow_consumers: AtomicU64,
}

impl ThreadStats {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// The inbox of one I/O thread. Aligned to its own cache lines so that
/// threads touching different inboxes do not slow each other down.
#[repr(align(128))]
pub(crate) struct Inbox {
    queue: Mutex<Vec<Cmd>>,
    /// Set when commands were pushed and the owner has not drained them yet;
    /// a pusher wakes the owner only when it flips this from false to true,
    /// so a busy thread is woken once per batch, not once per message.
    notified: AtomicBool,
    /// Cleared when the owning thread has ended.
    alive: AtomicBool,
    waker: Waker,
    pub stats: ThreadStats,
}

impl Inbox {
    pub(crate) fn new(waker: Waker) -> Inbox {
        Inbox {
            queue: Mutex::new(Vec::new()),
            notified: AtomicBool::new(false),
            alive: AtomicBool::new(true),
            waker,
            stats: ThreadStats::default(),
        }
    }

    /// Appends commands (leaving `cmds` empty). The caller calls
    /// [`Inbox::notify`] (or, for its own inbox, [`Inbox::mark`]) afterwards.
    pub(crate) fn push_all(&self, cmds: &mut Vec<Cmd>) {
        self.queue.lock().append(cmds);
    }

    /// Appends one command. The caller notifies afterwards.
    pub(crate) fn push(&self, cmd: Cmd) {
        self.queue.lock().push(cmd);
    }

    /// Wakes the owning thread unless it has already been told.
    pub(crate) fn notify(&self) {
        if !self.notified.swap(true, Ordering::AcqRel) {
            // A failed wake can only mean the eventfd is gone, i.e. the
            // thread has ended; nothing to do then.
            let _ = self.waker.wake();
        }
    }

    /// Marks the inbox as non-empty without a wake-up: used by the owning
    /// thread itself, which drains its inbox before it next sleeps.
    pub(crate) fn mark(&self) {
        self.notified.store(true, Ordering::Release);
    }

    /// Whether the owning thread still runs.
    pub(crate) fn is_alive(&self) -> bool {
        self.alive.load(Ordering::Acquire)
    }

    pub(crate) fn set_dead(&self) {
        self.alive.store(false, Ordering::Release);
    }

    /// Whether commands were announced and not yet taken.
    pub(crate) fn announced(&self) -> bool {
        self.notified.load(Ordering::Acquire)
    }

    /// Swaps the queued commands into `into` (which must be empty) if any
    /// were announced. Returns whether it looked.
    pub(crate) fn take(&self, into: &mut Vec<Cmd>) -> bool {
        if !self.notified.swap(false, Ordering::AcqRel) {
            return false;
        }
        std::mem::swap(&mut *self.queue.lock(), into);
        true
    }
}

/// Where a registered nickname lives.
pub(crate) struct Entry {
    /// The nickname as the user wrote it.
    pub nick: Arc<str>,
    /// Index of the I/O thread that owns the connection.
    pub thread: usize,
    /// The connection's slot in that thread.
    pub slot: usize,
    /// The connection's id (unique for the server's lifetime), so that a
    /// reused slot is never mistaken for the old connection.
    pub id: u64,
}

/// Nicknames online, keyed by `protocol::nick_key` (so sorted
/// case-insensitively, as `USERS` wants them).
#[derive(Default)]
pub(crate) struct Registry {
    pub by_key: BTreeMap<String, Entry>,
}

impl Registry {
    /// Appends `USERS <n> :<nick> ...` for everyone online.
    pub(crate) fn encode_users(&self, out: &mut Vec<u8>) {
        let nicks: Vec<&str> = self.by_key.values().map(|e| &*e.nick).collect();
        encode::users(out, &nicks);
    }
}

/// The bounded queue of server events behind `Server::next_event`.
pub(crate) struct EventQueue {
    state: Mutex<EventState>,
    cond: Condvar,
    capacity: usize,
    dropped: AtomicU64,
}

struct EventState {
    queue: VecDeque<ServerEvent>,
    closed: bool,
}

impl EventQueue {
    pub(crate) fn new(capacity: usize) -> EventQueue {
        EventQueue {
            state: Mutex::new(EventState {
                queue: VecDeque::new(),
                closed: false,
            }),
            cond: Condvar::new(),
            capacity,
            dropped: AtomicU64::new(0),
        }
    }

    /// Queues an event, or drops and counts it when the queue is full.
    pub(crate) fn push(&self, event: ServerEvent) {
        let mut st = self.state.lock();
        if st.queue.len() >= self.capacity {
            drop(st);
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        st.queue.push_back(event);
        drop(st);
        self.cond.notify_one();
    }

    /// No more events will come: waiters return at once when the queue is
    /// empty.
    pub(crate) fn close(&self) {
        self.state.lock().closed = true;
        self.cond.notify_all();
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// The next event, waiting up to `timeout`.
    pub(crate) fn next(&self, timeout: Duration) -> Option<ServerEvent> {
        let deadline = std::time::Instant::now().checked_add(timeout);
        let mut st = self.state.lock();
        loop {
            if let Some(ev) = st.queue.pop_front() {
                return Some(ev);
            }
            if st.closed {
                return None;
            }
            match deadline {
                Some(d) => {
                    if self.cond.wait_until(&mut st, d).timed_out() {
                        return st.queue.pop_front();
                    }
                }
                None => self.cond.wait(&mut st),
            }
        }
    }
}

/// Everything the threads of one server share.
pub(crate) struct Shared {
    pub cfg: ServerConfig,
    /// `HELLO ...`, encoded once.
    pub hello: Box<[u8]>,
    pub registry: RwLock<Registry>,
    /// Number of the last registry change; written only under the
    /// registry's write lock, read without it for public messages.
    pub change_seq: AtomicU64,
    /// Connections counted against `max_clients` (registered or not).
    pub connections: AtomicUsize,
    /// Registered users.
    pub users: AtomicUsize,
    /// Connections per client IP address; kept only when
    /// `max_clients_per_ip` is set.
    pub per_ip: Mutex<HashMap<IpAddr, usize>>,
    pub events: EventQueue,
    pub inboxes: Vec<Inbox>,
    /// Connections accepted (including refused ones).
    pub accepted: AtomicU64,
    /// Connections refused with `ERROR 12`.
    pub rejected: AtomicU64,
}

/// What a successful registration hands back to the registering thread.
pub(crate) struct Registered {
    pub seq: u64,
    pub nick: Arc<str>,
}

impl Shared {
    /// Appends a registry-change broadcast to every inbox. Called with the
    /// registry's write lock held, so that the inboxes see the changes in
    /// `seq` order. The caller notifies the threads afterwards.
    fn push_change(&self, bytes: Vec<u8>, seq: u64, except: u64) {
        let bytes: Arc<[u8]> = Arc::from(bytes);
        for inbox in &self.inboxes {
            inbox.push(Cmd::Broadcast {
                bytes: Arc::clone(&bytes),
                seq,
                except,
                presence: true,
            });
        }
    }

    fn next_seq(&self) -> u64 {
        let seq = self.change_seq.load(Ordering::Relaxed) + 1;
        self.change_seq.store(seq, Ordering::Release);
        seq
    }

    /// Registers `nick` for connection `id` (thread `thread`, slot `slot`)
    /// unless its key is taken; on success appends `WELCOME` and (with
    /// `users`: the connection has presence on) `USERS` to `reply` and
    /// broadcasts `JOIN` to everyone else.
    pub(crate) fn register(
        &self,
        nick: &str,
        thread: usize,
        slot: usize,
        id: u64,
        reply: &mut Vec<u8>,
        users: bool,
    ) -> Result<Registered, ErrorCode> {
        let key = crate::protocol::nick_key(nick);
        let nick: Arc<str> = Arc::from(nick);
        let mut reg = self.registry.write();
        if reg.by_key.contains_key(&key) {
            return Err(ErrorCode::NickInUse);
        }
        let seq = self.next_seq();
        reg.by_key.insert(
            key,
            Entry {
                nick: Arc::clone(&nick),
                thread,
                slot,
                id,
            },
        );
        self.users.fetch_add(1, Ordering::Relaxed);
        encode::welcome(reply, &nick);
        if users {
            reg.encode_users(reply);
        }
        let mut join = Vec::with_capacity(64 + 2 * nick.len());
        encode::join(&mut join, &nick);
        self.push_change(join, seq, id);
        Ok(Registered { seq, nick })
    }

    /// Renames connection `id` from `old` to `new`; broadcasts `NICK` to
    /// everyone but the renamer (who is answered directly).
    pub(crate) fn rename(&self, old: &str, new: &str, id: u64) -> Result<Arc<str>, ErrorCode> {
        let old_key = crate::protocol::nick_key(old);
        let new_key = crate::protocol::nick_key(new);
        let new_nick: Arc<str> = Arc::from(new);
        let mut reg = self.registry.write();
        if old_key != new_key && reg.by_key.contains_key(&new_key) {
            return Err(ErrorCode::NickInUse);
        }
        let Some(mut entry) = reg.by_key.remove(&old_key) else {
            // Cannot happen: a registered connection is in the registry.
            return Err(ErrorCode::NoSuchUser);
        };
        if entry.id != id {
            reg.by_key.insert(old_key, entry);
            return Err(ErrorCode::NoSuchUser);
        }
        let seq = self.next_seq();
        entry.nick = Arc::clone(&new_nick);
        reg.by_key.insert(new_key, entry);
        let mut line = Vec::with_capacity(64 + 3 * (old.len() + new.len()));
        encode::nick(&mut line, old, new);
        self.push_change(line, seq, id);
        Ok(new_nick)
    }

    /// Frees the nickname of connection `id`; with `announce`, broadcasts
    /// `LEFT` to everyone else.
    pub(crate) fn unregister(&self, nick: &str, id: u64, announce: bool) {
        let key = crate::protocol::nick_key(nick);
        let mut reg = self.registry.write();
        match reg.by_key.get(&key) {
            Some(e) if e.id == id => {}
            _ => return,
        }
        reg.by_key.remove(&key);
        self.users.fetch_sub(1, Ordering::Relaxed);
        let seq = self.next_seq();
        if announce {
            let mut line = Vec::with_capacity(64 + 2 * nick.len());
            encode::left(&mut line, nick);
            self.push_change(line, seq, id);
        }
    }

    /// Where `nick` (any case) is online: (thread, slot, id).
    pub(crate) fn lookup(&self, nick: &str) -> Option<(usize, usize, u64)> {
        let key = crate::protocol::nick_key(nick);
        let reg = self.registry.read();
        reg.by_key.get(&key).map(|e| (e.thread, e.slot, e.id))
    }

    /// Forgets one connection from `ip` (for `max_clients_per_ip`).
    pub(crate) fn release_ip(&self, ip: IpAddr) {
        if self.cfg.max_clients_per_ip == 0 {
            return;
        }
        let mut map = self.per_ip.lock();
        if let Some(n) = map.get_mut(&ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&ip);
            }
        }
    }
}
