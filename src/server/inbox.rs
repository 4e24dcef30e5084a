//! The inboxes of the I/O threads: what one thread (or the acceptor, or
//! `Server::shutdown`) asks another to do, in the order it was asked.
//!
//! Every delivery to a connection goes through the inbox of the thread that
//! owns it, in the order the sending thread produced it (a thread collects
//! its outgoing commands per target during one readiness burst and appends
//! them to each target's inbox at once, see `outbox.rs`). So the lines one
//! client sends reach each receiver in the order they were sent.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mio::net::TcpStream;
use mio::Waker;
use parking_lot::{Condvar, Mutex};

use super::conn::Chunk;
use super::session::{Credit, Target};
use super::tls::Transport;
use crate::error::ErrorCode;

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
        /// Which port it came from: plain, TLS, or WebSocket (HTTP).
        transport: Transport,
    },
    /// Bytes (one or more whole lines, encoded once) for every registered
    /// connection of the thread whose `reg_seq` is below `seq`, except the
    /// connection `except` (0: none). `presence`: the bytes are a `JOIN`,
    /// `LEFT` or `NICK` line, skipped for connections that turned presence
    /// off (PROTOCOL.md, "Presence").
    ///
    /// `tagged`: the same lines with their messages' ids and times, for
    /// connections that said `/tags on` (public messages only).
    Broadcast {
        bytes: Chunk,
        tagged: Option<Chunk>,
        seq: u64,
        except: u64,
        presence: bool,
    },
    /// Private messages for connections of the thread: `bytes` holds the
    /// encoded `PRIVATE` lines one after the other, each followed by the
    /// same line with its message's id and time (for a connection that
    /// said `/tags on`), and `to` says, in the same order, whose each pair
    /// is: (slot, connection id, plain line's length, tagged line's length).
    /// A line goes out only if the slot still holds connection `id`. One
    /// command carries all the private messages a thread sends to another
    /// in one burst (one allocation per burst, not per message).
    Deliver {
        bytes: Vec<u8>,
        to: Vec<(usize, u64, usize, usize)>,
    },
    /// A room's line (PROTOCOL.md, "Rooms"), encoded once, for the members
    /// of the room on this thread: (slot, connection id). `tagged`: the
    /// same line with its message's id and time, for members that said
    /// `/tags on`. `about`: a membership change about that connection,
    /// skipped by members with presence off unless it is about them.
    /// `messages`: the bytes are `ROOM` message lines (counted in
    /// `ServerStats::deliveries`), not membership or topic lines.
    RoomCast {
        bytes: Chunk,
        tagged: Option<Chunk>,
        to: Vec<(usize, u64)>,
        about: Option<u64>,
        messages: bool,
    },
    /// A server operator (`by`) put connection `id` (slot `slot`) off the
    /// server: it gets `ERROR 03` and is closed.
    Kick { slot: usize, id: u64, by: Box<str> },
    /// Connection `id` (slot `slot`) lost its nickname `nick` to another
    /// node's earlier claim (a cluster after a partition): its session
    /// takes another ([`super::session::Session::nick_lost`]).
    NickLost {
        slot: usize,
        id: u64,
        nick: Box<str>,
    },
    /// Connection `id` (slot `slot`) resumed on another node of the
    /// cluster (PROTOCOL.md, "Resuming on another node"): its registry
    /// entry is that node's user already; its session here ends without a
    /// word to anyone.
    Moved { slot: usize, id: u64 },
    /// First step of a shutdown: stop reading from clients, move every
    /// command this thread has collected into the inboxes, then say so.
    /// Once every thread has, every private message that was answered
    /// `SENT` sits in its receiver's inbox ahead of the `Shutdown` that
    /// follows, so it is delivered before the receiver's `ERROR 03`.
    Quiesce(Arc<Quiesce>),
    /// The server is shutting down: send `ERROR 03` to everyone, flush,
    /// close, and end the thread.
    Shutdown,
    /// One whole frame (`FILE`, `CHUNK`, `FILEEND`, `FILEFAIL` or `BYTES`)
    /// for the connections of this thread that `to` names. `credit` is the
    /// share of a transfer's flow control charged for this thread while the
    /// frame waits here; receivers take their own share when the frame is
    /// queued to them (session/transfer.rs, "Flow control").
    Frame {
        to: Target,
        bytes: Chunk,
        credit: Option<Credit>,
    },
    /// The transfers of connection `id` (slot `slot` of this thread) fell
    /// below their low-water mark: read its socket again.
    Resume { slot: usize, id: u64 },
    /// A new connection presented the resume token of connection `id`
    /// (slot `slot` of this thread): its socket, what it had not yet been
    /// sent (`pending`), and its `/resume`'s `since` and label. The held
    /// session takes the socket and answers `RESUMED`.
    Adopt {
        slot: usize,
        id: u64,
        stream: super::tls::Stream,
        pending: Vec<u8>,
        since: Option<u64>,
        label: Option<Box<str>>,
    },
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
    /// Public, private and room text messages accepted from this thread's
    /// clients.
    pub messages_received: AtomicU64,
    /// `PUBLIC`/`PRIVATE`/`ROOM` lines queued to this thread's clients.
    pub deliveries: AtomicU64,
    /// While the server is over `max_total_queue_bytes`: the most bytes one
    /// connection of this thread holds (the threads compare them to drop
    /// the biggest holder first).
    pub biggest: AtomicUsize,
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
    /// Commands waiting now (for `ServerStats::inbox_depths`).
    pub(crate) fn depth(&self) -> usize {
        self.queue.lock().len()
    }

    pub(crate) fn is_alive(&self) -> bool {
        self.alive.load(Ordering::Acquire)
    }

    /// Whether commands were announced and not yet taken.
    pub(crate) fn announced(&self) -> bool {
        self.notified.load(Ordering::Acquire)
    }

    /// Marks the owning thread ended and takes every command still queued
    /// (it answers what it can). Under the queue's lock, so that nothing
    /// pushed with [`Inbox::push_if_alive`] can arrive after it.
    pub(crate) fn close_and_take(&self, into: &mut Vec<Cmd>) {
        let mut q = self.queue.lock();
        self.alive.store(false, Ordering::Release);
        self.notified.store(false, Ordering::Release);
        into.append(&mut q);
    }

    /// Appends one command unless the owning thread has ended (checked
    /// under the queue's lock, see [`Inbox::close_and_take`]); gives it
    /// back then. The caller notifies afterwards.
    pub(crate) fn push_if_alive(&self, cmd: Cmd) -> Result<(), Cmd> {
        let mut q = self.queue.lock();
        if !self.is_alive() {
            return Err(cmd);
        }
        q.push(cmd);
        Ok(())
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
