//! One I/O thread: a `mio::Poll` event loop that owns a set of connections
//! and hosts their sessions. The chat's rules are in `session/`; this file
//! is sockets, buffers, queues, timers and the loop.
//!
//! Each loop iteration reads every ready socket in large chunks into one
//! scratch buffer per thread and feeds each connection's framing, whose
//! frames go to the connection's session at once. What must reach other
//! connections is collected per target thread in the [`Outbox`] and
//! appended to each target's inbox at the end of the burst, waking each
//! target once. Replies to the sender go straight into its own queue, so
//! they come in the order of its lines. Finally every connection with
//! something queued is written once (all its queued lines in one `write`);
//! only a connection whose socket buffer is full gets `WRITABLE` interest
//! until it drains.
//!
//! Nothing here ever blocks on one client: sockets are non-blocking, and a
//! client whose queue would pass `max_queue_bytes` is a slow consumer and
//! is dropped (`ERROR 03`, best effort).
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

use super::conn::{reset_on_close, unacked_bytes, Closing, Conn, Link, IO_CHUNK};
use super::dispatch::{Dispatch, Io};
use super::inbox::{Cmd, ThreadStats};
use super::session::{Cx, Phase, Session, Target};
use super::shared::Shared;
use super::tls::Stream;
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
}

/// Returns the heap memory freed so far to the operating system (glibc's
/// `malloc_trim`, which also releases free pages in the middle of the heap
/// and of every thread's arena). Without it, the memory that queued lines
/// took during a burst (10,000 clients joining make 50 million `JOIN`
/// lines) stays in the process as free heap: 10 KB per idle client after
/// such a burst instead of about 1 KB (BENCHMARKS.md, "connections").
/// It only gives back pages that are free; other allocators (musl, a
/// host application's own) are left alone.
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
        touched: false,
    };
    let mut cx = Cx {
        rules: &shared.rules,
        now,
        host: &mut d,
    };
    let r = f(session, &mut cx);
    d.settle();
    r
}

impl Worker {
    pub(crate) fn new(idx: usize, shared: Arc<Shared>, poll: Poll) -> Worker {
        let timeout = shared.cfg.registration_timeout;
        let tick = (timeout / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
        let next_keepalive = shared
            .rules
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
        let conn = self.conns.get_mut(slot).and_then(Option::as_mut)?;
        let heard = conn.session.hears_presence();
        let r = host(&mut self.io, conn, slot, now, f);
        self.after_session(slot, heard);
        Some(r)
    }

    /// After a session handled input: the presence count follows it, and a
    /// session that ended starts its connection's close.
    fn after_session(&mut self, slot: usize, heard_before: bool) {
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
            link.closing = Some(Closing::default());
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
                    if self.sent_since_trim >= TRIM_AFTER_BYTES {
                        self.sent_since_trim = 0;
                        trim_heap();
                    }
                }
            } else {
                self.last_busy = Instant::now();
            }
            let again = std::mem::take(&mut self.again);
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
        if !self.again.is_empty() {
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
        if self.idle_cleanup_due() {
            // Wake up once the thread has been idle long enough to free the
            // pool and trim the heap.
            wait = Some(wait.map_or(POOL_IDLE, |x| x.min(POOL_IDLE)));
        }
        wait
    }

    /// Whether an idle moment has memory to give back.
    fn idle_cleanup_due(&self) -> bool {
        !self.io.pool.is_empty() || self.sent_since_trim >= TRIM_AFTER_BYTES
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

    // ---- commands from other threads ------------------------------------

    /// Runs the commands in this thread's inbox. Returns false when there
    /// were none.
    fn drain_inbox(&mut self) -> bool {
        let mut cmds = std::mem::take(&mut self.inbox_buf);
        let took = match self.shared().inboxes.get(self.io.idx) {
            Some(inbox) => inbox.take(&mut cmds),
            None => false,
        };
        for cmd in cmds.drain(..) {
            self.handle_cmd(cmd);
        }
        if cmds.capacity() > 4096 {
            cmds = Vec::new();
        }
        self.inbox_buf = cmds;
        took
    }

    fn inbox_announced(&self) -> bool {
        self.shared()
            .inboxes
            .get(self.io.idx)
            .is_some_and(|i| i.announced())
    }

    fn handle_cmd(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::NewConn {
                stream,
                addr,
                id,
                reject,
                tls,
            } => self.add_conn(stream, addr, id, reject, tls),
            Cmd::Broadcast {
                bytes,
                seq,
                except,
                presence,
            } => {
                if presence && self.presence_on == 0 {
                    return; // presence: nobody here listens
                }
                let io = &mut self.io;
                for (slot, c) in self.conns.iter_mut().enumerate() {
                    let Some(Conn { session, link }) = c else {
                        continue;
                    };
                    let wanted = if presence {
                        session.hears_presence()
                    } else {
                        session.phase() == Phase::Registered
                    };
                    if !wanted || link.out.doomed || link.reg_seq >= seq || link.id == except {
                        continue;
                    }
                    io.pool.fill(&mut link.out.buf);
                    link.out.buf.extend_from_slice(&bytes);
                    io.after_append(&mut link.out, &mut link.stream, slot, link.id);
                }
            }
            Cmd::Deliver { bytes, to } => {
                let mut start = 0usize;
                for (slot, id, len) in to {
                    let end = start + len;
                    let line = bytes.get(start..end).unwrap_or(&[]);
                    start = end;
                    let io = &mut self.io;
                    let Some(Some(Conn { session, link })) = self.conns.get_mut(slot) else {
                        continue;
                    };
                    if link.id == id && session.phase() == Phase::Registered && !link.out.doomed {
                        io.pool.fill(&mut link.out.buf);
                        link.out.buf.extend_from_slice(line);
                        io.after_append(&mut link.out, &mut link.stream, slot, id);
                    }
                }
            }
            Cmd::Frame { to, bytes, credit } => {
                // Receivers take their own share of the frames the thread
                // was charged for (the chunks); headers and ends are free.
                let flow = credit
                    .as_ref()
                    .filter(|c| c.bytes() > 0)
                    .map(|c| Arc::clone(c.flow()));
                let io = &mut self.io;
                match to {
                    Target::All { seq, except } => {
                        for (slot, c) in self.conns.iter_mut().enumerate() {
                            let Some(Conn { session, link }) = c else {
                                continue;
                            };
                            if session.phase() == Phase::Registered
                                && !link.out.doomed
                                && link.reg_seq < seq
                                && link.id != except
                            {
                                let id = link.id;
                                io.deliver_frame(
                                    &mut link.out,
                                    &mut link.stream,
                                    slot,
                                    id,
                                    &bytes,
                                    flow.as_ref(),
                                );
                            }
                        }
                    }
                    Target::One(p) => match self.conns.get_mut(p.slot) {
                        Some(Some(Conn { session, link }))
                            if link.id == p.id
                                && session.phase() == Phase::Registered
                                && !link.out.doomed =>
                        {
                            io.deliver_frame(
                                &mut link.out,
                                &mut link.stream,
                                p.slot,
                                p.id,
                                &bytes,
                                flow.as_ref(),
                            );
                        }
                        _ => {
                            if let Some(c) = &credit {
                                c.flow().receiver_gone();
                            }
                        }
                    },
                }
                // The thread's share is given back once the receivers hold
                // their own.
                drop(credit);
            }
            Cmd::Resume { slot, id } => {
                if self
                    .conn_id(slot, id)
                    .is_some_and(|c| c.link.closing.is_none())
                {
                    self.again.push(slot);
                }
            }
            Cmd::Quiesce(q) => {
                self.quiesced = true;
                let shared = Arc::clone(self.shared());
                self.io.outbox.flush(&shared.inboxes);
                self.io.outbox.send_wakes(&shared.inboxes);
                q.done();
            }
            Cmd::Shutdown => self.begin_shutdown(),
        }
    }

    // ---- connections ----------------------------------------------------

    fn add_conn(
        &mut self,
        stream: TcpStream,
        addr: SocketAddr,
        id: u64,
        reject: Option<ErrorCode>,
        tls: bool,
    ) {
        let slot = match self.free.pop() {
            Some(i) => i,
            None => {
                self.conns.push(None);
                self.conns.len() - 1
            }
        };
        let shared = Arc::clone(self.shared());
        // A connection to the TLS port gets a rustls session (tls.rs).
        let stream = match (tls, &shared.cfg.tls) {
            (false, _) => Ok(Stream::Plain(stream)),
            (true, Some(t)) => t.accept(stream),
            (true, None) => Err(io::Error::other("TLS is not configured")),
        };
        let registered = stream.and_then(|mut s| {
            self.poll
                .registry()
                .register(&mut s, Token(slot + 1), Interest::READABLE)
                .map(|()| s)
        });
        let stream = match registered {
            Ok(s) => s,
            Err(e) => {
                self.free.push(slot);
                if reject.is_none() {
                    shared.connections.fetch_sub(1, Ordering::AcqRel);
                    shared.release_ip(addr.ip());
                }
                shared.events.push(ServerEvent::Disconnected {
                    id,
                    addr,
                    nick: None,
                    code: Some(ErrorCode::ConnectionAborted),
                    reason: format!("cannot watch the socket: {e}"),
                });
                return;
            }
        };
        let now = shared.clock.now();
        let lines = LineBuffer::new(shared.rules.framing_limit(), shared.rules.max_discard_bytes);
        let mut conn = Conn {
            session: Session::new(&shared.rules, now),
            link: Link::new(stream, id, addr, lines, reject.is_none()),
        };
        self.io.pool.fill(&mut conn.link.out.buf);
        conn.link.out.buf.extend_from_slice(&shared.hello);
        self.io.mark(&mut conn.link.out, slot);
        let deadline = conn.session.registration_deadline(&shared.rules);
        if let Some(c) = self.conns.get_mut(slot) {
            *c = Some(conn);
        }
        self.live += 1;
        if self.stopping.is_some() {
            self.with_session(slot, now, |s, cx| {
                s.fail(
                    ErrorCode::ConnectionAborted,
                    Some("server shutting down"),
                    "server shutting down",
                    cx,
                )
            });
        } else if let Some(code) = reject {
            self.with_session(slot, now, |s, cx| s.fail(code, None, "server full", cx));
        } else if let Some(d) = deadline {
            self.reg_deadlines.push_back((d, slot, id));
        }
    }

    fn mark_dirty(&mut self, slot: usize) {
        let io = &mut self.io;
        if let Some(Some(c)) = self.conns.get_mut(slot) {
            io.mark(&mut c.link.out, slot);
        }
    }

    /// Drops connection `slot` (its session is ended first if it was not).
    /// If bytes queued for it could not all be written (a client that does
    /// not read, at its close deadline), the socket is reset rather than
    /// closed: a normal close would leave the kernel holding (up to
    /// megabytes of) unsent data for a peer that is not reading, long
    /// after we are done with it.
    fn remove(&mut self, slot: usize) {
        let open = match self.conn(slot) {
            Some(c) => c.session.phase() != Phase::Closed,
            None => return,
        };
        if open {
            let now = self.shared().clock.now();
            self.with_session(slot, now, |s, cx| {
                s.close(Some(ErrorCode::ConnectionAborted), "dropped", cx)
            });
        }
        let Some(Some(mut c)) = self.conns.get_mut(slot).map(Option::take) else {
            return;
        };
        let _ = self.poll.registry().deregister(&mut c.link.stream);
        // Bytes still in our queue: the peer is not reading, so free them
        // now (a reset) rather than leave an orphaned socket trickling
        // them out for minutes. A peer dropped for not reading (a slow
        // consumer, a stalled file receiver) is reset also when only the
        // kernel still holds bytes for it: with a tiny receive window on
        // loopback it would get them at the pace of zero-window probes.
        // Any other peer gets a normal close, and the kernel delivers what
        // we wrote (it may be reading slowly, as during a shutdown: a
        // reset would destroy lines already acknowledged to their senders).
        if c.link.out.queued() > 0 || (c.link.out.doomed && unacked_bytes(&c.link.stream) > 0) {
            reset_on_close(&c.link.stream);
        }
        drop(c);
        self.free.push(slot);
        self.live = self.live.saturating_sub(1);
    }

    fn close_all(&mut self, reason: &str) {
        let now = self.shared().clock.now();
        for slot in 0..self.conns.len() {
            if self.conn(slot).is_some() {
                self.with_session(slot, now, |s, cx| {
                    s.close(Some(ErrorCode::ConnectionAborted), reason, cx)
                });
                self.remove(slot);
            }
        }
    }

    fn begin_shutdown(&mut self) {
        if self.stopping.is_some() {
            return;
        }
        self.stopping = Some(Instant::now() + SHUTDOWN_FLUSH);
        self.io.stopping = true;
        self.reg_deadlines.clear();
        let now = self.shared().clock.now();
        for slot in 0..self.conns.len() {
            let Some(c) = self.conn(slot) else {
                continue;
            };
            if c.session.phase() != Phase::Closed && !c.link.out.doomed {
                self.with_session(slot, now, |s, cx| {
                    s.fail(
                        ErrorCode::ConnectionAborted,
                        Some("server shutting down"),
                        "server shutting down",
                        cx,
                    )
                });
            }
            // Closing ones are dropped as soon as their output is written
            // and their peer has closed its side. What they sent while this
            // thread was quiesced is read (and thrown away) now.
            self.mark_dirty(slot);
            self.again.push(slot);
        }
    }

    /// Drops the clients that went over their queue limit: what was queued
    /// for them is thrown away (except the rest of a line or frame already
    /// partly written), `ERROR 03` is queued, and the socket is closed.
    fn process_kills(&mut self) {
        if self.io.kill.is_empty() {
            return;
        }
        let kills = std::mem::take(&mut self.io.kill);
        let limit = self.shared().cfg.max_queue_bytes;
        let now = self.shared().clock.now();
        for &(slot, id) in &kills {
            let Some(c) = self.conn_id(slot, id) else {
                continue;
            };
            if c.link.closing.is_some() {
                continue;
            }
            c.link.out.cut();
            let detail = format!("slow consumer, over {limit} bytes queued");
            let text = crate::protocol::error_text(ErrorCode::ConnectionAborted, Some(&detail));
            ServerLine::Error {
                code: 3,
                subject: None,
                text: &*text,
            }
            .encode(&mut c.link.out.buf);
            if let Some(s) = self.stats() {
                ThreadStats::add(&s.slow_consumers, 1);
            }
            self.mark_dirty(slot);
            self.with_session(slot, now, |s, cx| {
                s.close(Some(ErrorCode::ConnectionAborted), "slow consumer", cx)
            });
        }
        if self.io.kill.is_empty() {
            let mut kills = kills;
            kills.clear();
            self.io.kill = kills;
        }
    }

    /// Registration timeouts, keepalive, stalled file receivers, and the end
    /// of lingering closes.
    fn sweep(&mut self) {
        let ruled = self.shared().clock.now();
        let now = Instant::now();
        self.stall_sweep(now);
        while let Some(&(d, slot, id)) = self.reg_deadlines.front() {
            if d > ruled {
                break;
            }
            self.reg_deadlines.pop_front();
            let waiting = self
                .conn_id(slot, id)
                .is_some_and(|c| c.session.phase() == Phase::Prompt);
            if waiting {
                self.with_session(slot, ruled, |s, cx| s.on_timer(cx));
            }
        }
        if self.next_keepalive.is_some_and(|t| ruled >= t) {
            self.next_keepalive = self
                .shared()
                .rules
                .keepalive_step()
                .and_then(|s| ruled.checked_add(s));
            for slot in 0..self.conns.len() {
                let due = self
                    .conn(slot)
                    .is_some_and(|c| c.session.phase() == Phase::Registered && !c.link.out.doomed);
                if due {
                    self.with_session(slot, ruled, |s, cx| s.on_timer(cx));
                }
            }
        }
        while let Some(&(d, slot, id)) = self.close_deadlines.front() {
            if d > now {
                break;
            }
            self.close_deadlines.pop_front();
            if self
                .conn_id(slot, id)
                .is_some_and(|c| c.link.closing.is_some())
            {
                self.remove(slot);
            }
        }
        if let Some(stop) = self.stopping {
            if now >= stop {
                self.close_all("server shutting down");
            }
        }
    }

    /// Drops (as slow consumers) the receivers that took no byte for
    /// `file_stall_timeout` while file data waited for them.
    fn stall_sweep(&mut self, now: Instant) {
        if self.io.watch.is_empty() {
            return;
        }
        let Some(since) = now.checked_sub(self.shared().cfg.file_stall_timeout) else {
            return;
        };
        let conns = &mut self.conns;
        let kill = &mut self.io.kill;
        self.io.watch.retain(|&(slot, id)| {
            let Some(Some(c)) = conns.get_mut(slot) else {
                return false;
            };
            if c.link.id != id {
                return false;
            }
            match c.link.out.stalled(since) {
                None => false,
                Some(stuck) => {
                    if stuck && !c.link.out.doomed && c.link.closing.is_none() {
                        c.link.out.doomed = true;
                        kill.push((slot, id));
                    }
                    true
                }
            }
        });
    }

    // ---- reading --------------------------------------------------------

    fn on_readable(&mut self, slot: usize) {
        let closing = match self.conn(slot) {
            Some(c) => c.link.closing.is_some(),
            None => return,
        };
        if closing {
            self.discard_input(slot);
            return;
        }
        if self.quiesced {
            return; // shutting down: nothing more is read
        }
        let now = self.shared().clock.now();
        let mut scratch = std::mem::take(&mut self.scratch);
        let mut budget = READ_BUDGET;
        let (mut received, mut n_lines) = (0u64, 0u64);
        let outcome = loop {
            let Some(c) = self.conn(slot) else {
                break ReadOutcome::Stopped;
            };
            if c.link.closing.is_some() || c.link.out.doomed {
                break ReadOutcome::Stopped;
            }
            if budget == 0 {
                break ReadOutcome::Budget;
            }
            // Paused while one of its files waits for a slow receiver; a
            // piece at a time while it sends files.
            let Some(limit) = c.session.read_allowance() else {
                break ReadOutcome::Drained;
            };
            budget -= 1;
            let want = scratch.len().min(limit);
            match c
                .link
                .stream
                .read(scratch.get_mut(..want).unwrap_or(&mut []))
            {
                Ok(0) => break ReadOutcome::Eof,
                Ok(n) => {
                    received += n as u64;
                    // Deliver what other threads queued for this thread
                    // before handling what was just read: whatever happened
                    // before the client sent these bytes (and was announced
                    // to it by a reply) then reaches it before the replies
                    // to them. This is what makes `/ping` a barrier for
                    // other clients' messages too. One atomic load when the
                    // inbox is empty.
                    if self.inbox_announced() {
                        self.drain_inbox();
                    }
                    let data = scratch.get(..n).unwrap_or(&[]);
                    let (fed, lines) = self.feed(slot, data, now);
                    n_lines += lines;
                    if !fed {
                        break ReadOutcome::Stopped;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break ReadOutcome::Drained,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break ReadOutcome::Failed(e),
            }
        };
        self.scratch = scratch;
        if let Some(s) = self.stats() {
            ThreadStats::add(&s.bytes_received, received);
            ThreadStats::add(&s.lines_received, n_lines);
        }
        let io = &mut self.io;
        if let Some(Some(c)) = self.conns.get_mut(slot) {
            // TLS: the handshake (or a key update) left bytes to send.
            if c.link.stream.wants_write() {
                io.mark(&mut c.link.out, slot);
            }
        }
        match outcome {
            ReadOutcome::Eof => {
                if let Some(c) = self.conn(slot) {
                    if let Some(cl) = c.link.closing.as_mut() {
                        cl.read_closed = true;
                    }
                }
                self.with_session(slot, now, |s, cx| s.close(None, "closed by peer", cx));
                if let Some(cl) = self.conn(slot).and_then(|c| c.link.closing.as_mut()) {
                    cl.read_closed = true;
                }
            }
            ReadOutcome::Failed(e) => {
                let (code, reason) = classify(&e);
                self.with_session(slot, now, |s, cx| s.close(code, &reason, cx));
                self.remove(slot);
            }
            ReadOutcome::Budget => self.again.push(slot),
            ReadOutcome::Stopped => {
                // The session ended (quit, overflow) with bytes perhaps left
                // unread; epoll will not report them again, so look once
                // more (they are read and discarded while closing).
                self.again.push(slot);
            }
            ReadOutcome::Drained => {}
        }
    }

    /// Feeds bytes read from connection `slot` to its framing and session.
    /// Returns whether to keep reading, and the lines handled.
    fn feed(&mut self, slot: usize, data: &[u8], now: Instant) -> (bool, u64) {
        let quiesced = self.quiesced;
        let Some(Some(conn)) = self.conns.get_mut(slot) else {
            return (false, 0);
        };
        let heard = conn.session.hears_presence();
        let mut lines = std::mem::replace(&mut conn.link.lines, LineBuffer::new(0, 0));
        let at_line_start = lines.pending() == 0 && lines.payload_left() == 0;
        let mut n_lines = 0u64;
        let keep = host(&mut self.io, conn, slot, now, |session, cx| {
            if !session.on_bytes(data, at_line_start, cx) {
                return false;
            }
            lines.feed_frames(data, |frame| {
                // Shutting down (the inbox was drained in the middle of a
                // read): what was not handled yet is not handled, so not
                // acknowledged.
                if quiesced {
                    return Next::Stop;
                }
                n_lines += u64::from(matches!(frame, Frame::Line(_)));
                let next = session.on_frame(frame, cx);
                cx.host.settle();
                if cx.host.out.doomed {
                    return Next::Stop;
                }
                next
            });
            session.phase() != Phase::Closed
        });
        if let Some(Some(conn)) = self.conns.get_mut(slot) {
            if conn.link.closing.is_none() && conn.session.phase() != Phase::Closed {
                conn.link.lines = lines;
            }
        }
        self.after_session(slot, heard);
        (keep, n_lines)
    }

    /// Reads and throws away what a closing connection still sends, so
    /// that closing it does not turn into a reset that could destroy the
    /// last lines we sent (a lingering close).
    fn discard_input(&mut self, slot: usize) {
        let mut scratch = std::mem::take(&mut self.scratch);
        let mut budget = READ_BUDGET;
        let outcome = loop {
            let Some(c) = self.conn(slot) else {
                break ReadOutcome::Stopped;
            };
            if budget == 0 {
                break ReadOutcome::Budget;
            }
            budget -= 1;
            match c.link.stream.read(&mut scratch) {
                Ok(0) => break ReadOutcome::Eof,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break ReadOutcome::Drained,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break ReadOutcome::Failed(e),
            }
        };
        self.scratch = scratch;
        match outcome {
            ReadOutcome::Eof => {
                let drained = match self.conn(slot) {
                    Some(c) => {
                        if let Some(cl) = c.link.closing.as_mut() {
                            cl.read_closed = true;
                        }
                        c.link.out.is_drained()
                    }
                    None => false,
                };
                if drained {
                    self.remove(slot);
                }
            }
            ReadOutcome::Failed(_) => self.remove(slot),
            ReadOutcome::Budget => self.again.push(slot),
            ReadOutcome::Drained | ReadOutcome::Stopped => {}
        }
    }

    // ---- writing --------------------------------------------------------

    fn flush_dirty(&mut self) {
        let mut dirty = std::mem::take(&mut self.io.dirty);
        for &slot in &dirty {
            self.flush_conn(slot);
        }
        dirty.clear();
        if self.io.dirty.is_empty() && dirty.capacity() <= 4096 {
            self.io.dirty = dirty;
        }
    }

    /// Writes what is queued for connection `slot`, in as few `write` calls
    /// as the socket allows; gives the buffer back when it drains; asks for
    /// `WRITABLE` only while bytes remain; finishes closing connections.
    fn flush_conn(&mut self, slot: usize) {
        let io = &mut self.io;
        let Some(Some(c)) = self.conns.get_mut(slot) else {
            return;
        };
        let link = &mut c.link;
        link.out.dirty = false;
        let (sent, mut failed) = link.out.write_to(&mut link.stream);
        let mut remove = false;
        if failed.is_none() {
            if link.out.is_drained() && !link.stream.wants_write() {
                // Drained: the buffer goes back to the thread's pool, so an
                // idle client holds none.
                io.pool.put(link.out.take_buffer());
                if link.writable {
                    link.writable = false;
                    if let Err(e) = self.poll.registry().reregister(
                        &mut link.stream,
                        Token(slot + 1),
                        Interest::READABLE,
                    ) {
                        failed = Some(e);
                    }
                }
                if let (None, Some(cl)) = (&failed, link.closing.as_mut()) {
                    if !cl.write_shut {
                        cl.write_shut = true;
                        let _ = link.stream.shutdown_write();
                    }
                    // Even when shutting down, wait for the peer's end (or
                    // the deadline): closing with its bytes unread would
                    // send a reset that can destroy the lines just written.
                    remove = cl.read_closed;
                }
            } else if !link.writable {
                link.writable = true;
                if let Err(e) = self.poll.registry().reregister(
                    &mut link.stream,
                    Token(slot + 1),
                    Interest::READABLE | Interest::WRITABLE,
                ) {
                    failed = Some(e);
                }
            }
        }
        let sent = sent + std::mem::take(&mut io.sent_early);
        self.sent_since_trim += sent;
        if let Some(s) = self.stats() {
            ThreadStats::add(&s.bytes_sent, sent);
        }
        if let Some(e) = failed {
            let (code, reason) = classify(&e);
            let now = self.shared().clock.now();
            self.with_session(slot, now, |s, cx| s.close(code, &reason, cx));
            self.remove(slot);
        } else if remove {
            self.remove(slot);
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
            inbox.set_dead();
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
