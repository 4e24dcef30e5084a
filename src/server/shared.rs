//! State shared by the acceptor and the I/O threads of one server: the
//! nickname registry, the counters, the inboxes and the server event queue.
//!
//! # Ordering of registry changes
//!
//! Changes of the registry (someone registers, renames or leaves) are
//! numbered by the [`Directory`] under its write lock, and their broadcast
//! (`JOIN`, `NICK`, `LEFT`) is appended to every inbox while that lock is
//! held, so every thread sees the changes in the same order. A connection
//! remembers the number of its own registration and only receives
//! broadcasts numbered after it: its `USERS` list is a snapshot taken at
//! that number, and the `JOIN`/`LEFT`/`NICK` lines it gets afterwards are
//! exactly the changes since, with no duplicate and no gap.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use parking_lot::{Condvar, Mutex, RwLock};

use super::conn::{Chunk, Meter};
use super::inbox::{Cmd, Inbox};
use super::session::{Change, Directory, History, Peer, Rules};
use super::{DisconnectReason, ServerEvent, ServerStats};
use crate::clock::Clock;
use crate::config::ServerConfig;
use crate::error::ErrorCode;
#[cfg(unix)]
use crate::readiness::Readiness;

/// The bounded queue of server events behind `Server::next_event`, with
/// its wake-up flag (`Server::wakeup`) and its readiness descriptor
/// (`Server::event_fd`, [`crate::readiness`]).
pub(crate) struct EventQueue {
    state: Mutex<EventState>,
    cond: Condvar,
    capacity: usize,
    dropped: AtomicU64,
    /// `Disconnected` events by reason (dropped ones too), for
    /// `ServerStats::disconnects`.
    disconnects: [AtomicU64; DisconnectReason::ALL.len()],
}

struct EventState {
    queue: VecDeque<ServerEvent>,
    closed: bool,
    /// `Server::wakeup` was called and no `next_event` has returned since.
    wakeup: bool,
    /// The readiness descriptor, once asked for; readable exactly while
    /// `queue` is non-empty, kept so under this lock.
    #[cfg(unix)]
    ready: Option<Readiness>,
    /// The descriptor was closed with the server: never made again.
    #[cfg(unix)]
    fd_closed: bool,
}

impl EventState {
    /// Brings the descriptor in step with the queue, after every change.
    fn sync_ready(&mut self) {
        #[cfg(unix)]
        if let Some(r) = &mut self.ready {
            r.update(!self.queue.is_empty());
        }
    }
}

impl EventQueue {
    pub(crate) fn new(capacity: usize) -> EventQueue {
        EventQueue {
            state: Mutex::new(EventState {
                queue: VecDeque::new(),
                closed: false,
                wakeup: false,
                #[cfg(unix)]
                ready: None,
                #[cfg(unix)]
                fd_closed: false,
            }),
            cond: Condvar::new(),
            capacity,
            dropped: AtomicU64::new(0),
            disconnects: Default::default(),
        }
    }

    /// Queues an event, or drops and counts it when the queue is full.
    pub(crate) fn push(&self, event: ServerEvent) {
        if let ServerEvent::Disconnected { code, reason, .. } = &event {
            let why = DisconnectReason::of(*code, reason);
            if let Some(n) = self.disconnects.get(why as usize) {
                n.fetch_add(1, Ordering::Relaxed);
            }
        }
        let mut st = self.state.lock();
        if st.queue.len() >= self.capacity {
            drop(st);
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        st.queue.push_back(event);
        st.sync_ready();
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

    /// Connections ended so far, by reason.
    pub(crate) fn disconnects(&self) -> Vec<(DisconnectReason, u64)> {
        DisconnectReason::ALL
            .iter()
            .zip(&self.disconnects)
            .map(|(r, n)| (*r, n.load(Ordering::Relaxed)))
            .collect()
    }

    /// Makes a `next` in progress return at once, or else the next one
    /// (see `Server::wakeup`).
    pub(crate) fn wakeup(&self) {
        self.state.lock().wakeup = true;
        self.cond.notify_all();
    }

    /// The next event, waiting up to `timeout`; a wake-up ends the wait
    /// with `None`. Whatever it returns, a pending wake-up is consumed.
    pub(crate) fn next(&self, timeout: Duration) -> Option<ServerEvent> {
        let deadline = std::time::Instant::now().checked_add(timeout);
        let mut st = self.state.lock();
        let event = loop {
            if let Some(ev) = st.queue.pop_front() {
                break Some(ev);
            }
            if st.closed || st.wakeup {
                break None;
            }
            match deadline {
                Some(d) => {
                    if self.cond.wait_until(&mut st, d).timed_out() {
                        break st.queue.pop_front();
                    }
                }
                None => self.cond.wait(&mut st),
            }
        };
        st.wakeup = false;
        st.sync_ready();
        event
    }

    /// The readiness descriptor, made on the first call (readable at once
    /// if events are queued). Errors: the system's when it cannot be made
    /// (`EMFILE` ...); `EBADF` once [`EventQueue::close_fd`] ran.
    #[cfg(unix)]
    pub(crate) fn fd(&self) -> std::io::Result<std::os::fd::RawFd> {
        let mut st = self.state.lock();
        if st.fd_closed {
            return Err(std::io::Error::from_raw_os_error(libc::EBADF));
        }
        if st.ready.is_none() {
            st.ready = Some(Readiness::new()?);
            st.sync_ready();
        }
        Ok(st.ready.as_ref().map_or(-1, Readiness::fd))
    }

    /// Closes the readiness descriptor, if one was made; it is never made
    /// again. Called when the `Server` is dropped, so that no borrow of
    /// the descriptor handed out by `Server::event_fd` outlives it.
    #[cfg(unix)]
    pub(crate) fn close_fd(&self) {
        let mut st = self.state.lock();
        st.fd_closed = true;
        st.ready = None;
    }
}

/// Everything the threads of one server share.
pub(crate) struct Shared {
    pub cfg: ServerConfig,
    /// The rules every session reads, from `cfg` and then from each
    /// `Server::reconfigure`; swapped whole, so a reader sees one set.
    pub rules: ArcSwap<Rules>,
    /// `ServerConfig::max_clients` in force (changed by `Server::reconfigure`).
    pub max_clients: AtomicUsize,
    /// `ServerConfig::max_clients_per_ip` in force (0: no limit).
    pub max_clients_per_ip: AtomicUsize,
    /// The clock of the rules' timers (the system's, or a test's manual one).
    pub clock: Clock,
    /// `HELLO ...`, encoded once.
    pub hello: Box<[u8]>,
    pub directory: RwLock<Directory>,
    /// The directory's change number, mirrored for reading without its lock
    /// (public messages and the per-thread lookup caches). Written only
    /// under the directory's write lock.
    pub change_seq: AtomicU64,
    /// Connections counted against `max_clients` (registered or not).
    pub connections: AtomicUsize,
    /// Registered users.
    pub users: AtomicUsize,
    /// Connections per client IP address, always kept, so that
    /// `max_clients_per_ip` set while the server runs counts the
    /// connections already open.
    pub per_ip: Mutex<HashMap<IpAddr, usize>>,
    pub events: EventQueue,
    pub inboxes: Vec<Inbox>,
    /// Connections accepted (including refused ones).
    pub accepted: AtomicU64,
    /// HTTP requests answered by the HTTP thread (upgrades included).
    pub http_requests: AtomicU64,
    /// WebSocket connections handed to the I/O threads.
    pub websocket_upgrades: AtomicU64,
    /// Connections refused with `ERROR 12`.
    pub rejected: AtomicU64,
    /// The last connection number handed out (by the acceptor and the
    /// HTTP thread).
    pub conn_ids: AtomicU64,
    /// The last transfer number handed out.
    pub transfers: AtomicU64,
    /// Bytes queued for clients in the whole server
    /// (`max_total_queue_bytes`).
    pub meter: Arc<Meter>,
    /// Message ids and the history rings (`session/history.rs`).
    pub history: History,
    /// Bumped (under the directory's write lock) whenever room membership
    /// may have changed: the I/O threads' snapshots of a room's members
    /// (`dispatch.rs`) are valid while it stays the same.
    pub rooms_seq: AtomicU64,
    /// Resume tokens by connection id (PROTOCOL.md, "Resuming a
    /// connection"): `None` once a `/resume` spent it and the socket is on
    /// its way to that connection.
    pub tokens: Mutex<HashMap<u64, Option<String>>>,
    /// The cluster this server is a node of (`ServerConfig::cluster`).
    pub cluster: Option<super::cluster::Cluster>,
}

impl Shared {
    /// Appends a registry change's broadcast to every inbox, with the
    /// directory's write lock held (so that the inboxes see the changes in
    /// order) and publishes its number. The caller wakes the threads.
    pub(crate) fn publish(&self, change: Change) {
        self.change_seq.store(change.seq, Ordering::Release);
        if change.line.is_empty() {
            return;
        }
        let bytes = Chunk::new(change.line, &self.meter);
        for inbox in &self.inboxes {
            inbox.push(Cmd::Broadcast {
                bytes: bytes.clone(),
                tagged: None,
                seq: change.seq,
                except: change.except,
                presence: true,
            });
        }
    }

    /// Registers `nick` for `peer` (see [`Directory::register`]) and tells
    /// everyone. Returns the stored nickname and the change's number.
    pub(crate) fn register(
        &self,
        nick: &str,
        peer: Peer,
        label: Option<&str>,
        reply: &mut Vec<u8>,
        users: bool,
    ) -> Result<(Arc<str>, u64), ErrorCode> {
        let mut dir = self.directory.write();
        let (stored, change) = dir.register(nick, peer, label, reply, users)?;
        let seq = change.seq;
        self.users.fetch_add(1, Ordering::Relaxed);
        self.publish(change);
        Ok((stored, seq))
    }

    /// Renames `peer` (see [`Directory::rename`]) and tells everyone.
    pub(crate) fn rename(&self, old: &str, new: &str, peer: Peer) -> Result<Arc<str>, ErrorCode> {
        let mut dir = self.directory.write();
        let (stored, change) = dir.rename(old, new, peer)?;
        self.publish(change);
        Ok(stored)
    }

    /// Frees `peer`'s nickname; with `announce`, tells everyone `LEFT`.
    pub(crate) fn leave(&self, nick: &str, peer: Peer, announce: bool) {
        let mut dir = self.directory.write();
        self.rooms_seq.fetch_add(1, Ordering::Release);
        if let Some(change) = dir.remove(nick, peer, announce) {
            self.users.fetch_sub(1, Ordering::Relaxed);
            self.publish(change);
        }
    }

    /// Registers `nick`, a user of another node of the cluster (`peer` is
    /// a [`super::cluster::REMOTE`] one), and tells everyone here `JOIN`
    /// (not counted in `users`: those are this server's own).
    pub(crate) fn register_remote(&self, nick: &str, peer: Peer) -> Result<Arc<str>, ErrorCode> {
        let mut dir = self.directory.write();
        let mut welcome = Vec::new();
        let (stored, change) = dir.register(nick, peer, None, &mut welcome, false)?;
        self.publish(change);
        Ok(stored)
    }

    /// Another node's user `peer` left: everyone here gets `LEFT`.
    pub(crate) fn leave_remote(&self, nick: &str, peer: Peer) {
        let mut dir = self.directory.write();
        self.rooms_seq.fetch_add(1, Ordering::Release);
        if let Some(change) = dir.remove(nick, peer, true) {
            self.publish(change);
        }
    }

    /// Where `nick` (any case) is online.
    pub(crate) fn lookup(&self, nick: &str) -> Option<Peer> {
        self.directory.read().lookup(nick)
    }

    /// The server's counters (`Server::stats`).
    pub(crate) fn stats(&self) -> ServerStats {
        let mut s = ServerStats {
            connections: self.connections.load(Ordering::Acquire),
            users: self.users.load(Ordering::Acquire),
            accepted: self.accepted.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            dropped_events: self.events.dropped(),
            queued_bytes: self.meter.total(),
            files: self.transfers.load(Ordering::Relaxed),
            http_requests: self.http_requests.load(Ordering::Relaxed),
            websocket_upgrades: self.websocket_upgrades.load(Ordering::Relaxed),
            disconnects: self.events.disconnects(),
            rooms: self.directory.read().room_count(),
            ..ServerStats::default()
        };
        for inbox in &self.inboxes {
            let t = &inbox.stats;
            s.slow_consumers += t.slow_consumers.load(Ordering::Relaxed);
            s.lines_received += t.lines_received.load(Ordering::Relaxed);
            s.bytes_received += t.bytes_received.load(Ordering::Relaxed);
            s.bytes_sent += t.bytes_sent.load(Ordering::Relaxed);
            s.messages_received += t.messages_received.load(Ordering::Relaxed);
            s.deliveries += t.deliveries.load(Ordering::Relaxed);
            s.inbox_depths.push(inbox.depth());
        }
        s
    }

    /// A new connection's number, unique for the server's lifetime.
    pub(crate) fn next_conn_id(&self) -> u64 {
        self.conn_ids.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Forgets one connection from `ip` (for `max_clients_per_ip`).
    pub(crate) fn release_ip(&self, ip: IpAddr) {
        let mut map = self.per_ip.lock();
        if let Some(n) = map.get_mut(&ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&ip);
            }
        }
    }
}
