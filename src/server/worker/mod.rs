//! One I/O thread: a `mio::Poll` event loop that owns a set of connections
//! and hosts their sessions. The chat's rules are in `session/`; this module
//! is sockets, buffers, queues, timers and the loop: the loop itself here,
//! `reading.rs` and `writing.rs` for the sockets, `commands.rs` for what
//! other threads send, `lifecycle.rs` for connections coming, going and
//! being dropped, `timers.rs` for deadlines.
//!
//! Each loop iteration reads every ready socket in large chunks into one
//! scratch buffer per thread and feeds each connection's framing, whose
//! frames go to the connection's session at once. What must reach other
//! connections is collected per target thread in the [`Outbox`] and
//! appended to each target's inbox at the end of the burst, waking each
//! target once. Replies to the sender go straight into its own queue, so
//! they come in the order of its lines. Finally every connection with
//! something queued is written (its queued segments in gathering writes (`sendmsg`), at
//! most 256 KiB per connection per turn, so that one reader catching up
//! does not hold the thread); only a connection whose socket buffer is full
//! gets `WRITABLE` interest until it drains.
//!
//! Nothing here ever blocks on one client: sockets are non-blocking, and a
//! client whose queue would pass `max_queue_bytes` is a slow consumer and
//! is dropped (`ERROR 03`, best effort); so are the biggest holders while
//! the whole server is over `max_total_queue_bytes` (broadcasts are queued
//! as references to one shared copy, counted once).
//!
//! Costs kept off the per-message path (each found by profiling the
//! benchmark, see BENCHMARKS.md): drained queue buffers are reused through
//! a per-thread pool instead of being freed and regrown; private messages
//! find their receiver through a per-thread cache (no lock, no allocation)
//! and travel to another thread in one command per burst; after heavy
//! output an idle thread may give freed heap back to the operating system.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use super::acceptor::refuse_now;
use super::conn::{
    drains_too_slowly, reset_on_close, unacked_bytes, Closing, Conn, Link, IO_CHUNK,
};
use super::dispatch::{Dispatch, Io};
use super::inbox::{Cmd, ThreadStats};
use super::session::{Cx, Phase, Session, Target};
use super::shared::Shared;
use super::tls::{Stream, Transport};
use super::ServerEvent;
use crate::error::ErrorCode;
use crate::protocol::{Frame, LineBuffer, Next, ServerLine};

/// Token of the thread's waker; connection in slot `i` has `Token(i + 1)`.
pub(crate) const WAKER: Token = Token(0);

/// Reads from one socket per loop iteration before the others get a turn.
const READ_BUDGET: usize = 4;
/// How long a closing connection may take to flush what is queued for it
/// and to close its side; then it is dropped.
const CLOSE_LINGER: Duration = Duration::from_secs(2);
/// How long shutdown waits for queued bytes (and `ERROR 03`) to be written.
const SHUTDOWN_FLUSH: Duration = Duration::from_millis(500);
/// The pool is freed once the thread has had nothing to do for this long,
/// so that idle clients cost no buffer memory at all.
const POOL_IDLE: Duration = Duration::from_millis(200);
/// After a thread has written this many bytes, its next idle moment (see
/// [`POOL_IDLE`]) also hands the memory freed since back to the operating
/// system ([`trim_heap`]).
const TRIM_AFTER_BYTES: u64 = 4 * 1024 * 1024;

enum ReadOutcome {
    Drained,
    Budget,
    Stopped,
    Eof,
    Failed(io::Error),
}

/// The state of one I/O thread.
pub(crate) struct Worker {
    poll: Poll,
    conns: Vec<Option<Conn>>,
    free: Vec<usize>,
    live: usize,
    /// What the sessions' hosts borrow.
    io: Io,
    scratch: Box<[u8]>,
    /// Connections to read again without waiting for readiness.
    again: Vec<usize>,
    /// Registration deadlines on the rules' clock: (when, slot, id).
    reg_deadlines: VecDeque<(Instant, usize, u64)>,
    /// Lingering closes on the real clock: (when, slot, id).
    close_deadlines: VecDeque<(Instant, usize, u64)>,
    /// When registered sessions next get a keepalive tick (rules' clock).
    next_keepalive: Option<Instant>,
    inbox_buf: Vec<Cmd>,
    /// Set once `Shutdown` arrived: the instant everything gets dropped.
    stopping: Option<Instant>,
    /// Granularity of the deadline sweeps.
    tick: Duration,
    /// Shutting down: clients are no longer read (see `Cmd::Quiesce`).
    quiesced: bool,
    /// When the thread last had work (for freeing the pool when idle).
    last_busy: Instant,
    /// Bytes written since the heap was last trimmed.
    sent_since_trim: u64,
    /// Registered connections of this thread with presence on: when 0, a
    /// `JOIN`/`LEFT`/`NICK` broadcast skips the thread's slots altogether
    /// (10,000 opted-out clients joining cost no O(n²) slot scans).
    presence_on: usize,
    /// Presence changes gathered for the end of the tick (`presence.rs`).
    presence: presence::PresenceBatch,
    /// Held connections' grace periods on the rules' clock, in the order
    /// they end: (when, slot, id) (`lifecycle.rs`, `hold`).
    held_deadlines: VecDeque<(Instant, usize, u64)>,
    /// The current grace deadline of each held connection, by id (an older
    /// entry of `held_deadlines`, from before a resume, is stale).
    held: std::collections::HashMap<u64, Instant>,
}

/// Returns the heap memory freed so far to the operating system (glibc's
/// `malloc_trim`, which also releases free pages in the middle of the heap
/// and of every thread's arena). Without it, the memory that queued lines
/// took during a burst (10,000 clients joining make 50 million `JOIN`
/// lines) stays in the process as free heap: 10 KB per idle client after
/// such a burst instead of about 1 KB (BENCHMARKS.md, "connections").
/// It only gives back pages that are free; other allocators (musl, a
/// host application's own) are left alone. It acts on the whole process's
/// heap, so it runs only with `ServerConfig::trim_heap`.
fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointer and may be called from any
    // thread at any time; it locks the allocator's arenas itself.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// What an I/O error on a client socket means for the `Disconnected` event.
fn classify(e: &io::Error) -> (Option<ErrorCode>, String) {
    match e.kind() {
        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe => {
            (None, "connection reset by peer".to_string())
        }
        _ => (
            Some(ErrorCode::ConnectionAborted),
            format!("I/O error: {e}"),
        ),
    }
}

/// Runs `f` on the session of `conn` with a [`Dispatch`] as its host, then
/// settles the connection's queue.
fn host<R>(
    io: &mut Io,
    conn: &mut Conn,
    slot: usize,
    now: Instant,
    f: impl FnOnce(&mut Session, &mut Cx<'_, Dispatch<'_>>) -> R,
) -> R {
    let shared = Arc::clone(&io.shared);
    let Conn { session, link } = conn;
    let mut d = Dispatch {
        io,
        out: &mut link.out,
        stream: &mut link.stream,
        reg_seq: &mut link.reg_seq,
        slot,
        id: link.id,
        addr: link.addr,
        counted: &mut link.counted,
        touched: false,
    };
    // The rules in force now (`Server::reconfigure` may swap them between
    // two calls; one call sees one set).
    let rules = shared.rules.load();
    let mut cx = Cx {
        rules: &rules,
        now,
        host: &mut d,
    };
    let r = f(session, &mut cx);
    d.settle();
    r
}

mod commands;
mod lifecycle;
mod presence;
mod reading;
mod timers;
mod writing;

impl Worker {
    pub(crate) fn new(idx: usize, shared: Arc<Shared>, poll: Poll) -> Worker {
        let timeout = shared.cfg.registration_timeout;
        let tick = (timeout / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
        let next_keepalive = shared
            .rules
            .load()
            .keepalive_step()
            .and_then(|s| shared.clock.now().checked_add(s));
        Worker {
            poll,
            conns: Vec::new(),
            free: Vec::new(),
            live: 0,
            io: Io::new(idx, shared),
            scratch: vec![0u8; IO_CHUNK].into_boxed_slice(),
            again: Vec::new(),
            reg_deadlines: VecDeque::new(),
            close_deadlines: VecDeque::new(),
            next_keepalive,
            inbox_buf: Vec::new(),
            stopping: None,
            tick,
            quiesced: false,
            last_busy: Instant::now(),
            sent_since_trim: 0,
            presence_on: 0,
            presence: presence::PresenceBatch::default(),
            held_deadlines: VecDeque::new(),
            held: std::collections::HashMap::new(),
        }
    }

    fn shared(&self) -> &Arc<Shared> {
        &self.io.shared
    }

    fn stats(&self) -> Option<&ThreadStats> {
        self.io.stats()
    }

    fn conn(&mut self, slot: usize) -> Option<&mut Conn> {
        self.conns.get_mut(slot).and_then(Option::as_mut)
    }

    /// Connection `slot`, if it is still connection `id`.
    fn conn_id(&mut self, slot: usize, id: u64) -> Option<&mut Conn> {
        self.conn(slot).filter(|c| c.link.id == id)
    }

    /// Runs `f` on the session in `slot` (see [`host`]), then keeps the
    /// thread's books: the presence count, and the closing of a connection
    /// whose session ended.
    fn with_session<R>(
        &mut self,
        slot: usize,
        now: Instant,
        f: impl FnOnce(&mut Session, &mut Cx<'_, Dispatch<'_>>) -> R,
    ) -> Option<R> {
        self.flush_presence_before(slot);
        let conn = self.conns.get_mut(slot).and_then(Option::as_mut)?;
        let heard = conn.session.hears_presence();
        let r = host(&mut self.io, conn, slot, now, f);
        self.after_session(slot, heard);
        Some(r)
    }

    /// Before a registered session handles anything: the presence changes
    /// pending on this thread go out first, so that nothing it answers
    /// (`PONG`, its own `NICK`) overtakes them (`presence.rs`).
    fn flush_presence_before(&mut self, slot: usize) {
        if self.presence.deadline().is_some()
            && self
                .conn(slot)
                .is_some_and(|c| c.session.phase() == Phase::Registered)
        {
            self.flush_presence();
        }
    }

    /// After a session handled input: the presence count follows it, and a
    /// session that ended starts its connection's close.
    fn after_session(&mut self, slot: usize, heard_before: bool) {
        if !self.io.moving.is_empty() && self.hand_over(slot) {
            return;
        }
        let Some(conn) = self.conns.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        let heard = conn.session.hears_presence();
        if heard != heard_before {
            if heard {
                self.presence_on += 1;
            } else {
                self.presence_on = self.presence_on.saturating_sub(1);
            }
        }
        if conn.session.phase() == Phase::Closed && conn.link.closing.is_none() {
            let link = &mut conn.link;
            link.closing = Some(Box::new(Closing::now(&link.stream)));
            link.lines = LineBuffer::new(0, 0);
            let (id, addr, counted) = (link.id, link.addr, link.counted);
            link.counted = false;
            self.io.mark(&mut link.out, slot);
            self.close_deadlines
                .push_back((Instant::now() + CLOSE_LINGER, slot, id));
            if counted {
                self.shared().connections.fetch_sub(1, Ordering::AcqRel);
                self.shared().release_ip(addr.ip());
            }
        }
    }

    /// The event loop. Returns when the server shuts down and every
    /// connection of this thread is closed.
    pub(crate) fn run(mut self) {
        let mut events = Events::with_capacity(1024);
        loop {
            let timeout = self.poll_timeout();
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != io::ErrorKind::Interrupted {
                    // The poller itself failed; this thread cannot serve
                    // its clients any more.
                    break;
                }
                events.clear();
            }
            if events.is_empty() {
                if self.idle_cleanup_due()
                    && Instant::now().saturating_duration_since(self.last_busy) >= POOL_IDLE
                {
                    self.io.pool.release();
                    if self.trim_due() {
                        self.sent_since_trim = 0;
                        trim_heap();
                    }
                }
            } else {
                self.last_busy = Instant::now();
            }
            let again = std::mem::take(&mut self.again);
            for slot in std::mem::take(&mut self.io.write_again) {
                self.mark_dirty(slot);
            }
            for ev in events.iter() {
                let token = ev.token();
                if token == WAKER {
                    continue; // the inbox is drained below
                }
                let slot = token.0 - 1;
                if ev.is_writable() {
                    self.mark_dirty(slot);
                }
                if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                    self.on_readable(slot);
                }
            }
            for slot in again {
                self.on_readable(slot);
            }
            self.sweep();
            self.settle();
            if self.keep_budget() {
                self.settle();
            }
            if self.stopping.is_some() && self.live == 0 {
                break;
            }
        }
        self.close_all("server shutting down");
    }

    /// How long `poll` may sleep: forever when nothing is due; otherwise
    /// until the earliest deadline, but at least one tick, so that many
    /// deadlines close together are swept in one wake-up.
    fn poll_timeout(&self) -> Option<Duration> {
        if !self.again.is_empty() || !self.io.write_again.is_empty() {
            return Some(Duration::ZERO);
        }
        let now = Instant::now();
        // Registration deadlines and keepalive run on the rules' clock (a
        // manual one wakes this thread when it moves), lingering closes and
        // stalls on the real one.
        let ruled = self.shared().clock.now();
        let stall = (!self.io.watch.is_empty()).then(|| {
            (self.shared().cfg.file_stall_timeout / 4)
                .clamp(Duration::from_millis(10), Duration::from_secs(1))
        });
        let earliest = [
            self.reg_deadlines
                .front()
                .map(|(d, _, _)| d.saturating_duration_since(ruled)),
            self.close_deadlines
                .front()
                .map(|(d, _, _)| d.saturating_duration_since(now)),
            self.next_keepalive
                .map(|d| d.saturating_duration_since(ruled)),
            self.held_deadlines
                .front()
                .map(|(d, _, _)| d.saturating_duration_since(ruled)),
            stall,
        ]
        .into_iter()
        .flatten()
        .min();
        let mut wait = earliest.map(|w| if w.is_zero() { w } else { w.max(self.tick) });
        if let Some(stop) = self.stopping {
            let w = stop.saturating_duration_since(now);
            wait = Some(wait.map_or(w, |x| x.min(w)));
        }
        // The end of the presence tick is its own granularity (it is
        // shorter than the sweeps' `tick` may be).
        if let Some(due) = self.presence.deadline() {
            let w = due.saturating_duration_since(now);
            wait = Some(wait.map_or(w, |x| x.min(w)));
        }
        if self.idle_cleanup_due() {
            // Wake up once the thread has been idle long enough to free the
            // pool and trim the heap.
            wait = Some(wait.map_or(POOL_IDLE, |x| x.min(POOL_IDLE)));
        }
        wait
    }

    /// Whether an idle moment has memory to give back.
    fn idle_cleanup_due(&self) -> bool {
        !self.io.pool.is_empty() || self.trim_due()
    }

    /// Whether the heap is to be trimmed at the next idle moment (only with
    /// `ServerConfig::trim_heap`: without it, an idle thread must not wake
    /// up for it).
    fn trim_due(&self) -> bool {
        self.shared().cfg.trim_heap && self.sent_since_trim >= TRIM_AFTER_BYTES
    }

    /// Handles everything that the burst produced: slow consumers, commands
    /// for other threads, this thread's own inbox, and the writes, until
    /// nothing is left.
    fn settle(&mut self) {
        loop {
            self.process_kills();
            let shared = Arc::clone(self.shared());
            self.io.outbox.flush(&shared.inboxes);
            self.io.outbox.send_wakes(&shared.inboxes);
            if self.drain_inbox() {
                continue;
            }
            self.flush_dirty();
            if self.io.kill.is_empty() && self.io.outbox.is_idle() {
                break;
            }
        }
    }
}

impl Drop for Worker {
    /// On a normal exit nothing is left. If the thread is unwinding from a
    /// bug, its clients are still released properly (nicknames freed,
    /// `LEFT` sent to the others, counts and events right), and the
    /// acceptor stops handing it new connections.
    fn drop(&mut self) {
        let shared = Arc::clone(self.shared());
        if let Some(inbox) = shared.inboxes.get(self.io.idx) {
            // Connections the acceptor handed over before it saw this
            // thread end are answered (`ERROR 03`) and forgotten, not left
            // waiting in an inbox nobody reads.
            let mut cmds = Vec::new();
            inbox.close_and_take(&mut cmds);
            for cmd in cmds {
                if let Cmd::NewConn {
                    stream,
                    addr,
                    id,
                    reject,
                    transport,
                } = cmd
                {
                    let plain = transport.is_plain();
                    refuse_now(stream, !plain, &shared, ErrorCode::ConnectionAborted);
                    lifecycle::forget(&shared, id, addr, reject, "its I/O thread ended");
                }
            }
        }
        if self.live > 0 {
            self.close_all("internal error in an I/O thread");
            self.io.outbox.flush(&shared.inboxes);
            self.io.outbox.send_wakes(&shared.inboxes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An idle connection costs its slot (this struct) plus a registry
    /// entry; keep the slot small (the benchmark aims at < 2.5 KB per idle
    /// client in all).
    #[test]
    fn connection_slot_stays_small() {
        let size = std::mem::size_of::<Option<Conn>>();
        assert!(size <= 256, "Option<Conn> is {size} bytes");
    }
}
