//! One I/O thread: a `mio::Poll` event loop that owns a set of connections.
//!
//! Each loop iteration reads every ready socket in large chunks into one
//! scratch buffer per thread and feeds each connection's
//! [`LineBuffer`]; the lines are handled at
//! once. What must reach other connections is collected per target thread
//! (public messages from one burst are coalesced into one buffer, encoded
//! once and shared as `Arc<[u8]>`) and appended to each target's inbox at
//! the end of the burst, waking each target once. Replies to the sender
//! (`SENT`, `ERROR`, `USERS`, `PONG`, `HELP`, its own `NICK`) are appended
//! to its outbound buffer directly, so they come in the order of its lines.
//! Finally every connection with something queued is written once (all its
//! queued lines in one `write`); only a connection whose socket buffer is
//! full gets `WRITABLE` interest until it drains.
//!
//! Nothing here ever blocks on one client: sockets are non-blocking, and a
//! client whose outbound buffer would pass `max_queue_bytes` is a slow
//! consumer and is dropped (`ERROR 03`, best effort).
//!
//! Costs kept off the per-message path (each found by profiling the
//! benchmark of issue 5, see BENCHMARKS.md): drained outbound buffers are
//! reused through a per-thread pool instead of being freed and regrown;
//! private messages find their receiver through a per-thread cache
//! (no lock, no allocation) and travel to another thread in one command per
//! burst; after heavy output an idle thread gives freed heap back to the
//! operating system.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use crate::error::ErrorCode;
use crate::protocol::{
    encode, parse_command, strip_cr, validate_nick, Command, Frame, LineBuffer, LineEvent,
};

use super::auth::{constant_time_eq, pass_command};
use super::clock;
use super::limits::{is_chunk_line, looks_like_http, Idle, Meter, Policing, PROBE_TOKEN};
use super::shared::{Cmd, Shared, ThreadStats};
use super::tls::Stream;
use super::ServerEvent;

// File transfers and binary messages (PROTOCOL.md, "Files and binary
// payloads"): their own file, reached through a few hooks marked `transfer`.
#[path = "transfer.rs"]
pub(super) mod transfer;

/// Token of the thread's waker; connection in slot `i` has `Token(i + 1)`.
pub(crate) const WAKER: Token = Token(0);

/// Bytes read from a socket at once (one scratch buffer per thread).
const READ_CHUNK: usize = 64 * 1024;
/// Reads from one socket per loop iteration before the others get a turn.
const READ_BUDGET: usize = 4;
/// How long a closing connection may take to flush what is queued for it
/// and to close its side; then it is dropped.
const CLOSE_LINGER: Duration = Duration::from_secs(2);
/// How long shutdown waits for queued bytes (and `ERROR 03`) to be written.
const SHUTDOWN_FLUSH: Duration = Duration::from_millis(500);
/// Longest the kernel is left to deliver, after we close a socket, what it
/// still holds for the peer, at the pace that peer took bytes while the
/// connection was closing; a slower peer is reset (see `remove`).
const ORPHAN_DRAIN_MAX: Duration = Duration::from_secs(10);
/// That pace is judged only over at least this much closing time.
const DRAIN_PACE_MIN: Duration = Duration::from_millis(250);
/// Public messages from one burst share one broadcast buffer up to this size.
const MAX_BROADCAST_BATCH: usize = 16 * 1024;
/// Initial capacity of a broadcast or private-message batch buffer.
const BATCH_START: usize = 4 * 1024;
/// Outbound buffers that drained are kept for reuse by any connection of
/// the thread, up to this many bytes of capacity in all. Freeing a buffer
/// each time it drains and growing a new one for the next burst cost more
/// than half of the server's CPU time in the broadcast benchmark (page
/// faults and allocator work: BENCHMARKS.md, "Profile").
const POOL_MAX_BYTES: usize = 8 * 1024 * 1024;
/// Most nicknames in one thread's lookup cache (emptied when full).
const LOOKUP_CACHE_MAX: usize = 4096;
/// Buffers larger than this are not kept (one huge burst does not pin
/// memory).
const POOL_MAX_BUF: usize = 64 * 1024;
/// The pool is freed once the thread has had nothing to do for this long,
/// so that idle clients cost no buffer memory at all.
const POOL_IDLE: Duration = Duration::from_millis(200);
/// After a thread has written this many bytes, its next idle moment (see
/// [`POOL_IDLE`]) also hands the memory freed since back to the operating
/// system ([`trim_heap`]).
const TRIM_AFTER_BYTES: u64 = 4 * 1024 * 1024;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    /// Waiting for a nickname.
    Unregistered,
    /// Chatting.
    Registered,
    /// The session is over (nickname freed, events sent); flushing what is
    /// queued, then closing.
    Closing,
}

/// One connection. Kept small: an idle connection holds no buffer (its
/// outbound buffer goes back to the thread's pool whenever it drains, and
/// the pool is freed when the thread is idle; its line buffer only
/// holds an incomplete line).
struct Conn {
    stream: Stream,
    id: u64,
    addr: SocketAddr,
    nick: Option<Arc<str>>,
    /// Number of the registry change that registered it: it receives only
    /// broadcasts numbered after it.
    reg_seq: u64,
    /// Outbound bytes; `out[out_pos..]` is still to be written.
    out: Vec<u8>,
    out_pos: usize,
    lines: LineBuffer,
    phase: Phase,
    /// Counted in `connections` (and per IP); false for refused ones.
    counted: bool,
    /// `WRITABLE` interest is registered.
    writable: bool,
    /// In the thread's dirty list (to be written at the end of the burst).
    dirty: bool,
    /// Over its queue limit; will be dropped as a slow consumer.
    doomed: bool,
    /// A line was partly written (the socket took only part of it).
    line_open: bool,
    /// `/presence off`: no `JOIN`/`LEFT`/`NICK` about others, no `USERS`
    /// at registration (PROTOCOL.md, "Presence").
    presence_off: bool,
    /// Our side was shut down (FIN sent) after the last byte went out.
    write_shut: bool,
    /// The peer closed its side (read returned 0).
    read_closed: bool,
    /// Flood limit, keepalive and nickname attempts (`limits.rs`).
    meter: Meter,
    /// The password was given (or none is needed): a nickname may come.
    authed: bool,
    /// File transfer state (transfer); `None` for connections that never
    /// sent or received a file.
    xfer: Option<Box<transfer::ConnXfer>>,
    /// When the session ended (`Phase::Closing`), and the bytes the peer
    /// had acknowledged then (where the kernel tells): the peer's pace
    /// while closing (`drains_too_slowly`). Boxed: only closing
    /// connections have it, and the slot stays small.
    closing_from: Option<Box<(Instant, u64)>>,
}

enum ReadOutcome {
    Drained,
    Budget,
    Stopped,
    Eof,
    Failed(io::Error),
}

/// The state of one I/O thread.
pub(crate) struct Worker {
    idx: usize,
    shared: Arc<Shared>,
    poll: Poll,
    slots: Vec<Option<Conn>>,
    free: Vec<usize>,
    live: usize,
    scratch: Box<[u8]>,
    /// Commands for each thread (own included), collected during a burst.
    pending: Vec<Vec<Cmd>>,
    to_wake: Vec<bool>,
    /// Public messages being coalesced: (seq, except, bytes).
    bcast: Option<(u64, u64, Vec<u8>)>,
    dirty: Vec<usize>,
    kill: Vec<(usize, u64)>,
    again: Vec<usize>,
    reg_deadlines: VecDeque<(Instant, usize, u64)>,
    close_deadlines: VecDeque<(Instant, usize, u64)>,
    inbox_buf: Vec<Cmd>,
    /// Set once `Shutdown` arrived: the instant everything gets dropped.
    stopping: Option<Instant>,
    /// Granularity of the deadline sweeps.
    tick: Duration,
    max_queue: usize,
    batch_limit: usize,
    /// Bytes written outside `flush_conn` (to relieve a full queue), not
    /// yet added to the thread's counters.
    sent_early: u64,
    /// Flood limit and keepalive, on the configurable clock (`limits.rs`).
    police: Policing,
    /// Shutting down: clients are no longer read (see `Cmd::Quiesce`).
    quiesced: bool,
    /// Empty outbound buffers kept for reuse (see [`POOL_MAX_BYTES`]).
    pool: BufPool,
    /// Nickname (as typed) -> (thread, slot, id), valid while the
    /// registry's `change_seq` is `lookup_seq` (see [`Worker::lookup`]).
    lookup_cache: HashMap<Box<str>, (usize, usize, u64), BuildHasherDefault<FxHasher>>,
    lookup_seq: u64,
    /// When the thread last had work (for freeing the pool when idle).
    last_busy: Instant,
    /// Bytes written since the heap was last trimmed.
    sent_since_trim: u64,
    /// File transfer state of the thread (transfer).
    xfer: transfer::ThreadXfer,
    /// Registered connections of this thread with presence on: when 0, a
    /// `JOIN`/`LEFT`/`NICK` broadcast skips the thread's slots altogether
    /// (10,000 opted-out clients joining cost no O(n²) slot scans).
    presence_on: usize,
}

/// The multiply-rotate hash of rustc ("FxHash"): a few cycles for a short
/// nickname where SipHash takes tens. Only for the per-thread lookup cache,
/// whose keys come from clients: a client can at worst slow its own
/// thread's cache, which is bounded ([`LOOKUP_CACHE_MAX`]) and emptied on
/// every registry change.
#[derive(Default)]
struct FxHasher {
    hash: u64,
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.hash = (self.hash.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.hash = (self.hash.rotate_left(5) ^ b as u64).wrapping_mul(K);
        }
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

/// Drained outbound buffers of one thread, kept for the next burst.
#[derive(Default)]
struct BufPool {
    bufs: Vec<Vec<u8>>,
    bytes: usize,
}

impl BufPool {
    /// Gives `out` (empty) a kept buffer, if there is one, before bytes are
    /// appended to it.
    #[inline]
    fn fill(&mut self, out: &mut Vec<u8>) {
        if out.capacity() == 0 {
            if let Some(b) = self.bufs.pop() {
                self.bytes -= b.capacity();
                *out = b;
            }
        }
    }

    /// Takes back a drained buffer (or frees it when the pool is full or
    /// the buffer too big).
    fn put(&mut self, mut b: Vec<u8>) {
        let cap = b.capacity();
        if cap == 0 || cap > POOL_MAX_BUF || self.bytes + cap > POOL_MAX_BYTES {
            return;
        }
        b.clear();
        self.bytes += cap;
        self.bufs.push(b);
    }

    fn is_empty(&self) -> bool {
        self.bufs.is_empty()
    }

    fn release(&mut self) {
        *self = BufPool::default();
    }
}

impl Conn {
    /// Writes as much of the queue as the socket takes now, without
    /// blocking. Returns the bytes written and the error that stopped it,
    /// if any (`WouldBlock` is no error). Compacts the buffer when much of
    /// it has gone out.
    fn write_out(&mut self) -> (u64, Option<io::Error>) {
        let mut sent = 0u64;
        let mut failed = None;
        // TLS: encrypted bytes the socket did not take last time go first.
        if let Err(e) = self.stream.flush() {
            return (0, Some(e));
        }
        while self.out_pos < self.out.len() {
            let rest = self.out.get(self.out_pos..).unwrap_or(&[]);
            match self.stream.write(rest) {
                Ok(0) => {
                    failed = Some(io::Error::from(io::ErrorKind::WriteZero));
                    break;
                }
                Ok(n) => {
                    self.out_pos += n;
                    sent += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        if sent > 0 {
            self.line_open = self
                .out_pos
                .checked_sub(1)
                .and_then(|p| self.out.get(p))
                .is_some_and(|b| *b != b'\n');
            let left = self.out.len() - self.out_pos;
            if left > 0 && (self.out_pos >= READ_CHUNK || self.out_pos >= left) {
                self.out.drain(..self.out_pos);
                self.out_pos = 0;
            }
        }
        if sent > 0 {
            if let Some(x) = self.xfer.as_deref_mut() {
                x.on_written(sent); // transfer: credits of written file data
            }
        }
        (sent, failed)
    }

    fn queued(&self) -> usize {
        self.out.len().saturating_sub(self.out_pos)
    }
}

/// Marks `c` (in slot `i`) for writing and checks its queue limit. Over the
/// limit, the socket first gets what it takes at once: only a client whose
/// socket is full and whose queue still passes the limit is a slow consumer
/// (a client that reads is never dropped because one burst was big).
fn after_append(
    c: &mut Conn,
    i: usize,
    max_queue: usize,
    dirty: &mut Vec<usize>,
    kill: &mut Vec<(usize, u64)>,
    sent: &mut u64,
) {
    if !c.doomed && c.queued() > max_queue {
        // An error here shows again when the connection is flushed.
        *sent += c.write_out().0;
        if c.queued() > max_queue {
            c.doomed = true;
            kill.push((i, c.id));
        }
    }
    if !c.dirty {
        c.dirty = true;
        dirty.push(i);
    }
}

/// Bytes written to the socket that the peer has not acknowledged yet
/// (Linux `SIOCOUTQ`), i.e. still held by the kernel for it; 0 where this
/// cannot be told.
fn unacked_bytes(stream: &Stream) -> usize {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let mut n: libc::c_int = 0;
        // SAFETY: ioctl on a descriptor owned by `stream`, alive here,
        // writing one int on this stack frame.
        let rc = unsafe { libc::ioctl(stream.as_raw_fd(), libc::TIOCOUTQ, &mut n) };
        if rc == 0 {
            return usize::try_from(n).unwrap_or(0);
        }
    }
    let _ = stream;
    0
}

/// Bytes the peer has acknowledged so far (Linux `TCP_INFO`,
/// `tcpi_bytes_acked`, Linux 4.2 and later); `None` where this cannot be
/// told.
fn bytes_acked(stream: &Stream) -> Option<u64> {
    #[cfg(all(target_os = "linux", any(target_env = "gnu", target_env = "musl")))]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: tcp_info is plain integers; all zeros is a valid value.
        let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
        // SAFETY: getsockopt on a descriptor owned by `stream`, alive here,
        // writing at most `len` bytes into `info` on this stack frame.
        let rc = unsafe {
            libc::getsockopt(
                stream.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_INFO,
                (&mut info as *mut libc::tcp_info).cast::<libc::c_void>(),
                &mut len,
            )
        };
        // An older kernel fills a shorter struct.
        let end =
            std::mem::offset_of!(libc::tcp_info, tcpi_bytes_acked) + std::mem::size_of::<u64>();
        if rc == 0 && usize::try_from(len).is_ok_and(|l| l >= end) {
            return Some(info.tcpi_bytes_acked);
        }
    }
    let _ = stream;
    None
}

/// True when the kernel still holds bytes for the peer and, at the pace
/// the peer took bytes since `closing_from` (when its session ended, and
/// its acknowledged count then), would need more than [`ORPHAN_DRAIN_MAX`]
/// to deliver them: a peer that took nothing, or a trickle. False when
/// this cannot be told, or over less than [`DRAIN_PACE_MIN`].
fn drains_too_slowly(stream: &Stream, closing_from: Option<&(Instant, u64)>) -> bool {
    let Some(&(since, acked_then)) = closing_from else {
        return false;
    };
    let unacked = unacked_bytes(stream);
    let elapsed = clock::now().saturating_duration_since(since);
    if unacked == 0 || elapsed < DRAIN_PACE_MIN {
        return false;
    }
    let Some(acked_now) = bytes_acked(stream) else {
        return false;
    };
    let took = acked_now.saturating_sub(acked_then);
    // unacked / (took / elapsed) > ORPHAN_DRAIN_MAX, without dividing.
    (unacked as u128) * elapsed.as_micros() > u128::from(took) * ORPHAN_DRAIN_MAX.as_micros()
}

/// Makes the coming `close` send a reset and free the socket's buffers at
/// once (`SO_LINGER` with a zero timeout). Best effort.
fn reset_on_close(stream: &Stream) {
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: setsockopt on a descriptor owned by `stream`, alive here,
        // reading a struct on this stack frame.
        unsafe {
            libc::setsockopt(
                stream.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                &linger as *const libc::linger as *const libc::c_void,
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            );
        }
    }
    #[cfg(not(unix))]
    let _ = stream;
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

impl Worker {
    pub(crate) fn new(idx: usize, shared: Arc<Shared>, poll: Poll) -> Worker {
        let threads = shared.inboxes.len();
        let timeout = shared.cfg.registration_timeout;
        let tick = (timeout / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
        let max_queue = shared.cfg.max_queue_bytes;
        Worker {
            idx,
            poll,
            slots: Vec::new(),
            free: Vec::new(),
            live: 0,
            scratch: vec![0u8; READ_CHUNK].into_boxed_slice(),
            pending: (0..threads).map(|_| Vec::new()).collect(),
            to_wake: vec![false; threads],
            bcast: None,
            dirty: Vec::new(),
            kill: Vec::new(),
            again: Vec::new(),
            reg_deadlines: VecDeque::new(),
            close_deadlines: VecDeque::new(),
            inbox_buf: Vec::new(),
            stopping: None,
            tick,
            max_queue,
            batch_limit: MAX_BROADCAST_BATCH.min((max_queue / 8).max(1)),
            sent_early: 0,
            police: Policing::new(&shared.cfg),
            quiesced: false,
            pool: BufPool::default(),
            last_busy: clock::now(),
            sent_since_trim: 0,
            lookup_cache: HashMap::default(),
            lookup_seq: u64::MAX,
            xfer: transfer::ThreadXfer::default(),
            presence_on: 0,
            shared,
        }
    }

    fn stats(&self) -> Option<&ThreadStats> {
        self.shared.inboxes.get(self.idx).map(|i| &i.stats)
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
                    && clock::now().saturating_duration_since(self.last_busy) >= POOL_IDLE
                {
                    self.pool.release();
                    if self.shared.cfg.trim_heap && self.sent_since_trim >= TRIM_AFTER_BYTES {
                        self.sent_since_trim = 0;
                        trim_heap();
                    }
                }
            } else {
                self.last_busy = clock::now();
            }
            let again = std::mem::take(&mut self.again);
            for ev in events.iter() {
                let token = ev.token();
                if token == WAKER {
                    continue; // the inbox is drained below
                }
                let i = token.0 - 1;
                if ev.is_writable() {
                    self.mark_dirty(i);
                }
                if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                    self.on_readable(i);
                }
            }
            for i in again {
                self.on_readable(i);
            }
            self.sweep();
            self.settle();
            if self.stopping.is_some() && self.live == 0 {
                break;
            }
        }
        self.close_all(ErrorCode::ConnectionAborted, "server shutting down");
    }

    /// How long `poll` may sleep: forever when nothing is due; otherwise
    /// until the earliest deadline, but at least one tick, so that many
    /// deadlines close together are swept in one wake-up.
    fn poll_timeout(&self) -> Option<Duration> {
        if !self.again.is_empty() {
            return Some(Duration::ZERO);
        }
        let now = clock::now();
        let mut wait: Option<Duration> = None;
        // Registration deadlines and keepalive run on the configurable
        // clock (a manual one wakes this thread when it moves), lingering
        // closes on the real one.
        let policed = self.shared.cfg.clock.now();
        let earliest = [
            self.reg_deadlines
                .front()
                .map(|(d, _, _)| d.saturating_duration_since(policed)),
            self.close_deadlines
                .front()
                .map(|(d, _, _)| d.saturating_duration_since(now)),
            self.police.until_sweep(),
        ]
        .into_iter()
        .flatten()
        .min();
        if let Some(w) = earliest {
            wait = Some(if w.is_zero() { w } else { w.max(self.tick) });
        }
        if let Some(stop) = self.stopping {
            let w = stop.saturating_duration_since(now);
            wait = Some(wait.map_or(w, |x| x.min(w)));
        }
        if self.idle_cleanup_due() {
            // Wake up once the thread has been idle long enough to free the
            // pool and trim the heap.
            wait = Some(wait.map_or(POOL_IDLE, |x| x.min(POOL_IDLE)));
        }
        if let Some(w) = self.xfer_wait() {
            wait = Some(wait.map_or(w, |x| x.min(w))); // transfer: stalls
        }
        wait
    }

    /// Whether an idle moment has memory to give back.
    fn idle_cleanup_due(&self) -> bool {
        !self.pool.is_empty() || self.sent_since_trim >= TRIM_AFTER_BYTES
    }

    /// Handles everything that the burst produced: slow consumers, commands
    /// for other threads, this thread's own inbox, and the writes, until
    /// nothing is left.
    fn settle(&mut self) {
        loop {
            self.process_kills();
            self.flush_pending();
            self.send_wakes();
            if self.drain_inbox() {
                continue;
            }
            self.flush_dirty();
            let idle = self.kill.is_empty()
                && self.bcast.is_none()
                && self.pending.iter().all(Vec::is_empty)
                && !self.to_wake.iter().any(|w| *w);
            if idle {
                break;
            }
        }
    }

    // ---- cross-thread commands ------------------------------------------

    /// Ends the public-message batch: one shared buffer, one command per
    /// thread.
    fn finish_bcast(&mut self) {
        let Some((seq, except, bytes)) = self.bcast.take() else {
            return;
        };
        let bytes: Arc<[u8]> = Arc::from(bytes);
        for (t, p) in self.pending.iter_mut().enumerate() {
            p.push(Cmd::Broadcast {
                bytes: Arc::clone(&bytes),
                seq,
                except,
                presence: false,
            });
            if let Some(w) = self.to_wake.get_mut(t) {
                *w = true;
            }
        }
    }

    /// The buffer collecting public messages numbered `seq` from `except`.
    fn bcast_buf(&mut self, seq: u64, except: u64) -> &mut Vec<u8> {
        let reuse = matches!(&self.bcast,
            Some((s, e, b)) if *s == seq && *e == except && b.len() < self.batch_limit);
        if !reuse {
            self.finish_bcast();
        }
        &mut self
            .bcast
            .get_or_insert_with(|| (seq, except, Vec::with_capacity(BATCH_START)))
            .2
    }

    /// Moves the collected commands into the inboxes (wakes come later, in
    /// [`Worker::send_wakes`]). Called before every registry change, so
    /// that what a client sent before renaming or leaving is queued before
    /// the change's broadcast.
    fn flush_pending(&mut self) {
        self.finish_bcast();
        for (t, p) in self.pending.iter_mut().enumerate() {
            if p.is_empty() {
                continue;
            }
            if let Some(inbox) = self.shared.inboxes.get(t) {
                inbox.push_all(p);
            } else {
                p.clear();
            }
        }
    }

    fn wake_all(&mut self) {
        self.to_wake.iter_mut().for_each(|w| *w = true);
    }

    fn send_wakes(&mut self) {
        for (t, w) in self.to_wake.iter_mut().enumerate() {
            if !std::mem::take(w) {
                continue;
            }
            if let Some(inbox) = self.shared.inboxes.get(t) {
                if t == self.idx {
                    inbox.mark();
                } else {
                    inbox.notify();
                }
            }
        }
    }

    /// Runs the commands in this thread's inbox. Returns false when there
    /// were none.
    fn drain_inbox(&mut self) -> bool {
        let mut cmds = std::mem::take(&mut self.inbox_buf);
        let took = match self.shared.inboxes.get(self.idx) {
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
        self.shared
            .inboxes
            .get(self.idx)
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
                let max = self.max_queue;
                for (i, slot) in self.slots.iter_mut().enumerate() {
                    let Some(c) = slot else { continue };
                    if c.phase != Phase::Registered
                        || c.doomed
                        || c.reg_seq >= seq
                        || c.id == except
                        || (presence && c.presence_off)
                    {
                        continue;
                    }
                    self.pool.fill(&mut c.out);
                    c.out.extend_from_slice(&bytes);
                    after_append(
                        c,
                        i,
                        max,
                        &mut self.dirty,
                        &mut self.kill,
                        &mut self.sent_early,
                    );
                }
            }
            Cmd::Deliver { bytes, to } => {
                let max = self.max_queue;
                let mut start = 0usize;
                for (slot, id, len) in to {
                    let end = start + len;
                    let line = bytes.get(start..end).unwrap_or(&[]);
                    start = end;
                    if let Some(Some(c)) = self.slots.get_mut(slot) {
                        if c.id == id && c.phase == Phase::Registered && !c.doomed {
                            self.pool.fill(&mut c.out);
                            c.out.extend_from_slice(line);
                            after_append(
                                c,
                                slot,
                                max,
                                &mut self.dirty,
                                &mut self.kill,
                                &mut self.sent_early,
                            );
                        }
                    }
                }
            }
            Cmd::Quiesce(q) => {
                self.quiesced = true;
                self.flush_pending();
                self.send_wakes();
                q.done();
            }
            Cmd::Shutdown => self.begin_shutdown(),
            Cmd::Transfer(x) => self.handle_xcmd(x),
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
        let i = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(None);
                self.slots.len() - 1
            }
        };
        // A connection to the TLS port gets a rustls session (tls.rs).
        let stream = match (tls, &self.shared.cfg.tls) {
            (false, _) => Ok(Stream::Plain(stream)),
            (true, Some(t)) => t.accept(stream),
            (true, None) => Err(io::Error::other("TLS is not configured")),
        };
        let registered = stream.and_then(|mut s| {
            self.poll
                .registry()
                .register(&mut s, Token(i + 1), Interest::READABLE)
                .map(|()| s)
        });
        let stream = match registered {
            Ok(s) => s,
            Err(e) => {
                self.free.push(i);
                if reject.is_none() {
                    self.shared.connections.fetch_sub(1, Ordering::AcqRel);
                    self.shared.release_ip(addr.ip());
                }
                self.shared.events.push(ServerEvent::Disconnected {
                    id,
                    addr,
                    nick: None,
                    code: Some(ErrorCode::ConnectionAborted),
                    reason: format!("cannot watch the socket: {e}"),
                });
                return;
            }
        };
        let cfg = &self.shared.cfg;
        let conn = Conn {
            stream,
            id,
            addr,
            nick: None,
            reg_seq: 0,
            out: Vec::new(),
            out_pos: 0,
            lines: LineBuffer::new(cfg.max_line_bytes, cfg.max_discard_bytes),
            phase: Phase::Unregistered,
            counted: reject.is_none(),
            writable: false,
            dirty: false,
            doomed: false,
            line_open: false,
            presence_off: false,
            write_shut: false,
            read_closed: false,
            meter: self.police.meter(),
            authed: cfg.password.is_none(),
            xfer: None,
            closing_from: None,
        };
        if let Some(slot) = self.slots.get_mut(i) {
            *slot = Some(conn);
        }
        self.live += 1;
        let shared = Arc::clone(&self.shared);
        self.reply_with(i, |o| o.extend_from_slice(&shared.hello));
        if self.stopping.is_some() {
            self.reply_error(
                i,
                ErrorCode::ConnectionAborted,
                None,
                Some("server shutting down"),
            );
            self.close_session(
                i,
                Some(ErrorCode::ConnectionAborted),
                "server shutting down",
            );
        } else if let Some(code) = reject {
            self.reply_error(i, code, None, None);
            self.close_session(i, Some(code), "server full");
        } else if let Some(deadline) = shared
            .cfg
            .clock
            .now()
            .checked_add(shared.cfg.registration_timeout)
        {
            // (A timeout too large to add to the clock never fires.)
            self.reg_deadlines.push_back((deadline, i, id));
        }
    }

    fn mark_dirty(&mut self, i: usize) {
        if let Some(Some(c)) = self.slots.get_mut(i) {
            if !c.dirty {
                c.dirty = true;
                self.dirty.push(i);
            }
        }
    }

    /// Appends to the outbound buffer of connection `i` (not when it is
    /// closing or over its limit).
    fn reply_with(&mut self, i: usize, f: impl FnOnce(&mut Vec<u8>)) {
        let max = self.max_queue;
        let Some(Some(c)) = self.slots.get_mut(i) else {
            return;
        };
        if c.phase == Phase::Closing || c.doomed {
            return;
        }
        self.pool.fill(&mut c.out);
        f(&mut c.out);
        after_append(
            c,
            i,
            max,
            &mut self.dirty,
            &mut self.kill,
            &mut self.sent_early,
        );
    }

    fn reply_error(
        &mut self,
        i: usize,
        code: ErrorCode,
        subject: Option<&str>,
        detail: Option<&str>,
    ) {
        self.reply_with(i, |o| encode::error(o, code, subject, detail));
    }

    /// Ends the session of connection `i`: frees its nickname (and tells
    /// everyone else `LEFT`, except during shutdown), updates the counts,
    /// queues the `Disconnected` event, and starts closing the socket once
    /// what is queued for it has been written. Lines queued before this
    /// call (a final `ERROR`) still go out.
    fn close_session(&mut self, i: usize, code: Option<ErrorCode>, reason: &str) {
        self.xfer_session_closing(i); // transfer: open files fail first
        let Some(Some(c)) = self.slots.get_mut(i) else {
            return;
        };
        if c.phase == Phase::Closing {
            return;
        }
        let registered = c.phase == Phase::Registered;
        if registered && !c.presence_off {
            self.presence_on = self.presence_on.saturating_sub(1); // presence
        }
        c.phase = Phase::Closing;
        c.lines = LineBuffer::new(0, 0);
        c.closing_from = bytes_acked(&c.stream).map(|n| Box::new((clock::now(), n)));
        let nick = c.nick.clone();
        let (id, addr, counted) = (c.id, c.addr, c.counted);
        c.counted = false;
        if !c.dirty {
            c.dirty = true;
            self.dirty.push(i);
        }
        self.close_deadlines
            .push_back((clock::now() + CLOSE_LINGER, i, id));
        if registered {
            if let Some(n) = &nick {
                let announce = self.stopping.is_none();
                if announce {
                    self.flush_pending();
                }
                self.shared.unregister(n, id, announce);
                if announce {
                    self.wake_all();
                }
            }
        }
        if counted {
            self.shared.connections.fetch_sub(1, Ordering::AcqRel);
            self.shared.release_ip(addr.ip());
        }
        self.shared.events.push(ServerEvent::Disconnected {
            id,
            addr,
            nick: nick.map(|n| n.to_string()),
            code,
            reason: reason.to_string(),
        });
    }

    /// Drops connection `i` (its session must be over). If bytes queued for
    /// it could not all be written (a client that does not read, at its
    /// close deadline), the socket is reset rather than closed: a normal
    /// close would leave the kernel holding (up to megabytes of) unsent
    /// data for a peer that is not reading, long after we are done with it.
    fn remove(&mut self, i: usize) {
        let phase = match self.slots.get(i) {
            Some(Some(c)) => c.phase,
            _ => return,
        };
        if phase != Phase::Closing {
            self.close_session(i, Some(ErrorCode::ConnectionAborted), "dropped");
        }
        let Some(Some(mut c)) = self.slots.get_mut(i).map(Option::take) else {
            return;
        };
        let _ = self.poll.registry().deregister(&mut c.stream);
        // Bytes still in our queue: the peer is not reading, so free them
        // now (a reset) rather than leave an orphaned socket trickling
        // them out for minutes. A peer dropped for not reading (a slow
        // consumer, a stalled file receiver) is reset also when only the
        // kernel still holds bytes for it: with a tiny receive window on
        // loopback it would get them at the pace of zero-window probes.
        // So is a peer that took bytes, while closing, too slowly for the
        // kernel to deliver what it still holds within ORPHAN_DRAIN_MAX (a
        // file receiver that stopped reading, at the shutdown): the
        // orphaned socket would feed it at the pace of zero-window probes
        // once it reads again, and its end of stream (its client's
        // `Disconnected`) would come minutes later.
        // Any other peer gets a normal close, and the kernel delivers what
        // we wrote (it may be reading slowly, as during a shutdown: a
        // reset would destroy lines already acknowledged to their senders).
        if c.queued() > 0
            || (c.doomed && unacked_bytes(&c.stream) > 0)
            || drains_too_slowly(&c.stream, c.closing_from.as_deref())
        {
            reset_on_close(&c.stream);
        }
        drop(c);
        self.free.push(i);
        self.live = self.live.saturating_sub(1);
    }

    fn close_all(&mut self, code: ErrorCode, reason: &str) {
        for i in 0..self.slots.len() {
            if matches!(self.slots.get(i), Some(Some(_))) {
                self.close_session(i, Some(code), reason);
                self.remove(i);
            }
        }
    }

    fn begin_shutdown(&mut self) {
        if self.stopping.is_some() {
            return;
        }
        self.stopping = Some(clock::now() + SHUTDOWN_FLUSH);
        self.reg_deadlines.clear();
        for i in 0..self.slots.len() {
            let (phase, doomed) = match self.slots.get(i) {
                Some(Some(c)) => (c.phase, c.doomed),
                _ => continue,
            };
            if phase != Phase::Closing && !doomed {
                self.reply_error(
                    i,
                    ErrorCode::ConnectionAborted,
                    None,
                    Some("server shutting down"),
                );
                self.close_session(
                    i,
                    Some(ErrorCode::ConnectionAborted),
                    "server shutting down",
                );
            }
            // Closing ones are dropped as soon as their output is written
            // and their peer has closed its side. What they sent while this
            // thread was quiesced is read (and thrown away) now.
            self.mark_dirty(i);
            self.again.push(i);
        }
    }

    /// Drops the clients that went over their queue limit: what was
    /// queued for them is thrown away (except the rest of a line already
    /// partly written), `ERROR 03` is queued, and the socket is closed.
    fn process_kills(&mut self) {
        if self.kill.is_empty() {
            return;
        }
        let kills = std::mem::take(&mut self.kill);
        for &(i, id) in &kills {
            let limit = self.max_queue;
            let Some(Some(c)) = self.slots.get_mut(i) else {
                continue;
            };
            if c.id != id || c.phase == Phase::Closing {
                continue;
            }
            // Inside a payload frame: keep the rest of it (a LF there may
            // be a payload byte). Inside a line: keep the rest of the line.
            let frame_rest = c.xfer.as_deref().and_then(|x| x.open_frame_rest());
            if let Some(x) = c.xfer.as_deref_mut() {
                x.forget_frames();
            }
            let keep = if let Some(rest) = frame_rest {
                c.out_pos.saturating_add(rest).min(c.out.len())
            } else if c.line_open {
                c.out
                    .get(c.out_pos..)
                    .and_then(|rest| rest.iter().position(|b| *b == b'\n'))
                    .map_or(c.out.len(), |p| c.out_pos + p + 1)
            } else {
                c.out_pos
            };
            c.out.truncate(keep);
            c.out.shrink_to_fit();
            let detail = format!("slow consumer, over {limit} bytes queued");
            encode::error(
                &mut c.out,
                ErrorCode::ConnectionAborted,
                None,
                Some(&detail),
            );
            if let Some(s) = self.stats() {
                ThreadStats::add(&s.slow_consumers, 1);
            }
            self.mark_dirty(i);
            self.close_session(i, Some(ErrorCode::ConnectionAborted), "slow consumer");
        }
        if self.kill.is_empty() {
            let mut kills = kills;
            kills.clear();
            self.kill = kills;
        }
    }

    /// Registration timeouts, keepalive, and the end of lingering closes.
    fn sweep(&mut self) {
        let policed = self.shared.cfg.clock.now();
        // (transfer's stall deadlines run on the real clock)
        self.xfer_sweep(clock::now()); // transfer: receivers stuck on file data
        while let Some(&(d, i, id)) = self.reg_deadlines.front() {
            if d > policed {
                break;
            }
            self.reg_deadlines.pop_front();
            let waiting = matches!(self.slots.get(i),
                Some(Some(c)) if c.id == id && c.phase == Phase::Unregistered);
            if waiting {
                let ms = self.shared.cfg.registration_timeout.as_millis();
                let detail = format!("no nickname within {ms} ms");
                self.reply_error(i, ErrorCode::Timeout, None, Some(&detail));
                self.close_session(i, Some(ErrorCode::Timeout), "registration timeout");
            }
        }
        self.police.tick();
        if self.police.sweep_due() {
            self.keepalive_sweep();
        }
        let now = clock::now();
        while let Some(&(d, i, id)) = self.close_deadlines.front() {
            if d > now {
                break;
            }
            self.close_deadlines.pop_front();
            let closing = matches!(self.slots.get(i),
                Some(Some(c)) if c.id == id && c.phase == Phase::Closing);
            if closing {
                self.remove(i);
            }
        }
        if let Some(stop) = self.stopping {
            if now >= stop {
                self.close_all(ErrorCode::ConnectionAborted, "server shutting down");
            }
        }
    }

    /// Keepalive (`limits.rs`): probes the registered clients that have
    /// been silent for `keepalive_interval`, drops those silent for
    /// `keepalive_timeout` since their probe.
    fn keepalive_sweep(&mut self) {
        for i in 0..self.slots.len() {
            let verdict = match self.slots.get_mut(i) {
                Some(Some(c)) if c.phase == Phase::Registered && !c.doomed => {
                    self.police.idle(&mut c.meter)
                }
                _ => continue,
            };
            match verdict {
                Idle::Fine => {}
                Idle::Probe => self.reply_with(i, |o| encode::ping(o, PROBE_TOKEN)),
                Idle::Dead => {
                    let ms = self.shared.cfg.keepalive_timeout.as_millis();
                    let detail = format!("no answer to keepalive within {ms} ms");
                    self.reply_error(i, ErrorCode::Timeout, None, Some(&detail));
                    self.close_session(i, Some(ErrorCode::Timeout), "keepalive timeout");
                }
            }
        }
    }

    // ---- reading --------------------------------------------------------

    fn on_readable(&mut self, i: usize) {
        let phase = match self.slots.get(i) {
            Some(Some(c)) => c.phase,
            _ => return,
        };
        if phase == Phase::Closing {
            self.discard_input(i);
            return;
        }
        if self.quiesced {
            return; // shutting down: nothing more is read
        }
        if self.police.active() {
            self.police.tick();
        }
        let Some(Some(c)) = self.slots.get_mut(i) else {
            return;
        };
        let mut lines = std::mem::replace(&mut c.lines, LineBuffer::new(0, 0));
        let mut scratch = std::mem::take(&mut self.scratch);
        let mut budget = READ_BUDGET;
        let mut received = 0u64;
        let mut n_lines = 0u64;
        let outcome = loop {
            let Some(Some(c)) = self.slots.get_mut(i) else {
                break ReadOutcome::Stopped;
            };
            if c.phase == Phase::Closing || c.doomed {
                break ReadOutcome::Stopped;
            }
            if budget == 0 {
                break ReadOutcome::Budget;
            }
            // transfer: paused while a receiver lags; a piece at a time.
            let Some(limit) = transfer::read_limit(c.xfer.as_deref()) else {
                break ReadOutcome::Drained;
            };
            budget -= 1;
            let want = scratch.len().min(limit);
            match c.stream.read(scratch.get_mut(..want).unwrap_or(&mut [])) {
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
                    if self.hostile_start(i, &lines, data) {
                        break ReadOutcome::Stopped;
                    }
                    lines.feed_frames(data, |ev| {
                        n_lines += matches!(ev, Frame::Line(_)) as u64;
                        self.on_frame(i, ev)
                    });
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
        if let Some(Some(c)) = self.slots.get_mut(i) {
            if c.phase != Phase::Closing {
                c.lines = lines;
            }
            if received > 0 {
                self.police.heard(&mut c.meter);
            }
            // TLS: the handshake (or a key update) left bytes to send.
            if c.stream.wants_write() && !c.dirty {
                c.dirty = true;
                self.dirty.push(i);
            }
        }
        match outcome {
            ReadOutcome::Eof => {
                if let Some(Some(c)) = self.slots.get_mut(i) {
                    c.read_closed = true;
                }
                self.close_session(i, None, "closed by peer");
            }
            ReadOutcome::Failed(e) => {
                let (code, reason) = classify(&e);
                self.close_session(i, code, &reason);
                self.remove(i);
            }
            ReadOutcome::Budget => self.again.push(i),
            ReadOutcome::Stopped => {
                // The session ended (quit, overflow) with bytes perhaps left
                // unread; epoll will not report them again, so look once
                // more (they are read and discarded while closing).
                self.again.push(i);
            }
            ReadOutcome::Drained => {}
        }
    }

    /// Reads and throws away what a closing connection still sends, so
    /// that closing it does not turn into a reset that could destroy the
    /// last lines we sent (a lingering close).
    fn discard_input(&mut self, i: usize) {
        let mut scratch = std::mem::take(&mut self.scratch);
        let mut budget = READ_BUDGET;
        let outcome = loop {
            let Some(Some(c)) = self.slots.get_mut(i) else {
                break ReadOutcome::Stopped;
            };
            if budget == 0 {
                break ReadOutcome::Budget;
            }
            budget -= 1;
            match c.stream.read(&mut scratch) {
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
                let drained = match self.slots.get_mut(i) {
                    Some(Some(c)) => {
                        c.read_closed = true;
                        c.out_pos >= c.out.len()
                    }
                    _ => false,
                };
                if drained {
                    self.remove(i);
                }
            }
            ReadOutcome::Failed(_) => self.remove(i),
            ReadOutcome::Budget => self.again.push(i),
            ReadOutcome::Drained | ReadOutcome::Stopped => {}
        }
    }

    /// One framing event; returns whether to keep reading this connection.
    fn on_line(&mut self, i: usize, ev: LineEvent<'_>) -> bool {
        match ev {
            LineEvent::Line(raw) => self.on_line_bytes(i, strip_cr(raw)),
            LineEvent::TooLong => {
                let detail = format!(
                    "over {} bytes; line skipped",
                    self.shared.cfg.max_line_bytes
                );
                if matches!(self.slots.get(i), Some(Some(c)) if c.phase == Phase::Unregistered) {
                    self.nick_refused(i, ErrorCode::TooLong, None, Some(&detail), None);
                } else {
                    self.reply_error(i, ErrorCode::TooLong, None, Some(&detail));
                }
            }
            LineEvent::Overflow => {
                let detail = format!(
                    "over {} bytes with no line end; closing",
                    self.shared
                        .cfg
                        .max_discard_bytes
                        .max(self.shared.cfg.max_line_bytes)
                );
                self.reply_error(i, ErrorCode::TooLong, None, Some(&detail));
                self.close_session(i, Some(ErrorCode::TooLong), "endless line");
            }
        }
        matches!(self.slots.get(i), Some(Some(c)) if c.phase != Phase::Closing && !c.doomed)
    }

    /// Checks every frame before it is handled (called first by
    /// `transfer::on_frame`); false means stop reading this connection:
    ///
    /// - shutting down (the inbox was drained in the middle of a read):
    ///   what was not handled yet is not handled, so not acknowledged;
    /// - the flood limit, for each line (`ERROR 03` and close when over).
    ///   `/chunk` lines are not counted: file data is paced by the
    ///   transfer's own flow control and bounded by `max_file_bytes`.
    pub(super) fn admit_frame(&mut self, i: usize, frame: &Frame<'_>) -> bool {
        if self.quiesced {
            return false;
        }
        let counted = match frame {
            Frame::Line(raw) => !is_chunk_line(raw),
            Frame::TooLong => true,
            Frame::Overflow | Frame::Payload(_) | Frame::PayloadEnd => false,
        };
        !counted || self.allow_line(i)
    }

    /// The flood limit (`limits.rs`): false, after `ERROR 03` and closing
    /// the session, for a line over it.
    fn allow_line(&mut self, i: usize) -> bool {
        let Some(Some(c)) = self.slots.get_mut(i) else {
            return false;
        };
        if self.police.allow_line(&mut c.meter) {
            return true;
        }
        let detail = Policing::flood_text(&self.shared.cfg);
        self.reply_error(i, ErrorCode::ConnectionAborted, None, Some(&detail));
        self.close_session(i, Some(ErrorCode::ConnectionAborted), "flooding");
        false
    }

    /// Something that is plainly no papo client, at the nickname prompt: a
    /// TLS handshake on the plain port (its first byte is 0x16, a control
    /// character no nickname starts with). Answered with `ERROR 08` and
    /// closed at once. Returns whether it was.
    fn hostile_start(&mut self, i: usize, lines: &LineBuffer, data: &[u8]) -> bool {
        let tls = data.first() == Some(&0x16) && lines.pending() == 0;
        if !tls || !matches!(self.slots.get(i), Some(Some(c)) if c.phase == Phase::Unregistered) {
            return false;
        }
        self.reply_error(
            i,
            ErrorCode::InvalidText,
            None,
            Some("a TLS handshake on the plain-text port (see PROTOCOL.md, TLS)"),
        );
        self.close_session(i, Some(ErrorCode::InvalidText), "TLS on the plain port");
        true
    }

    /// A refused line at the nickname prompt: answers `code` and, past
    /// `max_nick_attempts` (or at once, for the reason `close_now`), closes.
    fn nick_refused(
        &mut self,
        i: usize,
        code: ErrorCode,
        subject: Option<&str>,
        detail: Option<&str>,
        close_now: Option<&str>,
    ) {
        let max = self.shared.cfg.max_nick_attempts;
        let over = match self.slots.get_mut(i) {
            Some(Some(c)) if c.phase == Phase::Unregistered => {
                c.meter.attempts = c.meter.attempts.saturating_add(1);
                close_now.is_some() || (max > 0 && c.meter.attempts >= max)
            }
            _ => false,
        };
        if !over {
            self.reply_error(i, code, subject, detail);
            return;
        }
        let (why, reason) = match close_now {
            Some(reason) => (detail.unwrap_or(reason).to_string(), reason),
            None => (
                format!("{max} failed nickname attempts; closing"),
                "too many nickname attempts",
            ),
        };
        self.reply_error(i, code, subject, Some(&why));
        self.close_session(i, Some(code), reason);
    }

    fn on_line_bytes(&mut self, i: usize, bytes: &[u8]) {
        let phase = match self.slots.get(i) {
            Some(Some(c)) => c.phase,
            _ => return,
        };
        let Ok(line) = std::str::from_utf8(bytes) else {
            if phase == Phase::Unregistered {
                self.nick_refused(i, ErrorCode::InvalidText, None, Some("not UTF-8"), None);
            } else {
                self.reply_error(i, ErrorCode::InvalidText, None, Some("not UTF-8"));
            }
            return;
        };
        match phase {
            Phase::Unregistered => self.on_nick_line(i, line),
            Phase::Registered => self.on_command(i, line),
            Phase::Closing => {}
        }
    }

    /// A line at the nickname prompt (PROTOCOL.md "Registration").
    fn on_nick_line(&mut self, i: usize, line: &str) {
        let nick = line.trim();
        if nick.eq_ignore_ascii_case("/quit") {
            self.close_session(i, None, "quit");
            return;
        }
        if looks_like_http(nick) {
            let why = "an HTTP request; this is a papo chat server (PROTOCOL.md)";
            self.nick_refused(
                i,
                ErrorCode::UnknownCommand,
                None,
                Some(why),
                Some("HTTP request"),
            );
            return;
        }
        if let Some(given) = pass_command(nick) {
            self.on_pass(i, given);
            return;
        }
        if let Some(on) = crate::protocol::parse_presence(nick) {
            return self.set_presence(i, on); // presence, before registering
        }
        if matches!(self.slots.get(i), Some(Some(c)) if !c.authed) {
            self.deny(
                i,
                "password required: send /pass <password> before your nickname",
            );
            return;
        }
        if validate_nick(nick, self.shared.cfg.max_nick_chars).is_err() {
            self.nick_refused(i, ErrorCode::InvalidNick, None, None, None);
            return;
        }
        self.flush_pending();
        let max = self.max_queue;
        let idx = self.idx;
        let shared = &self.shared;
        let Some(Some(c)) = self.slots.get_mut(i) else {
            return;
        };
        // WELCOME and USERS go straight into the newcomer's buffer.
        self.pool.fill(&mut c.out);
        let presence = !c.presence_off;
        match shared.register(nick, idx, i, c.id, &mut c.out, presence) {
            Err(code) => self.nick_refused(i, code, Some(nick), None, None),
            Ok(reg) => {
                self.presence_on += usize::from(presence);
                c.phase = Phase::Registered;
                c.nick = Some(reg.nick);
                c.reg_seq = reg.seq;
                let (id, addr) = (c.id, c.addr);
                after_append(
                    c,
                    i,
                    max,
                    &mut self.dirty,
                    &mut self.kill,
                    &mut self.sent_early,
                );
                self.wake_all();
                self.shared.events.push(ServerEvent::Registered {
                    id,
                    addr,
                    nick: nick.to_string(),
                });
            }
        }
    }

    /// `/pass <password>` at the prompt (PROTOCOL.md "Password"): accepted
    /// (`PASS`; also when the server wants none), or `ERROR 19` and close.
    fn on_pass(&mut self, i: usize, given: &str) {
        let ok = match &self.shared.cfg.password {
            None => true,
            Some(p) => constant_time_eq(given.as_bytes(), p.as_str().as_bytes()),
        };
        if !ok {
            self.deny(i, "wrong password");
            return;
        }
        if let Some(Some(c)) = self.slots.get_mut(i) {
            c.authed = true;
        }
        self.reply_with(i, encode::pass_accepted);
    }

    /// `ERROR 19` and close (no password, or a wrong one).
    fn deny(&mut self, i: usize, why: &str) {
        self.reply_error(i, ErrorCode::AccessDenied, None, Some(why));
        self.close_session(i, Some(ErrorCode::AccessDenied), why);
    }

    /// A line from a registered client (PROTOCOL.md "Client lines").
    fn on_command(&mut self, i: usize, line: &str) {
        let (id, nick) = match self.slots.get(i) {
            Some(Some(c)) => (c.id, c.nick.clone()),
            _ => return,
        };
        let Some(nick) = nick else { return };
        match parse_command(line) {
            Ok(Command::Public(text)) => {
                let seq = self.shared.change_seq.load(Ordering::Acquire) + 1;
                encode::public(self.bcast_buf(seq, id), &nick, text);
            }
            Ok(Command::Private { to, text }) => self.private(i, id, &nick, to, text),
            Ok(Command::Quit) => self.close_session(i, None, "quit"),
            Ok(Command::List) => {
                let shared = Arc::clone(&self.shared);
                self.reply_with(i, |o| shared.registry.read().encode_users(o));
            }
            Ok(Command::Nick(new)) => self.rename(i, id, &nick, new),
            Ok(Command::Ping(token)) => self.reply_with(i, |o| encode::pong(o, token)),
            Ok(Command::Help) => self.reply_with(i, encode::help),
            Ok(Command::Presence(on)) => self.set_presence(i, Ok(on)),
            Ok(Command::Nothing) | Ok(Command::Pong) => {}
            Err(code) => self.reply_error(i, code, None, None),
        }
    }

    /// `/presence on|off` (PROTOCOL.md, "Presence"), at the nickname prompt
    /// or after registration: sets the flag, keeps `presence_on` right,
    /// answers `PRESENCE on|off`.
    fn set_presence(&mut self, i: usize, on: Result<bool, ErrorCode>) {
        let on = match on {
            Ok(on) => on,
            Err(code) => return self.reply_error(i, code, None, None),
        };
        let Some(Some(c)) = self.slots.get_mut(i) else {
            return;
        };
        if c.presence_off == on && c.phase == Phase::Registered {
            if on {
                self.presence_on += 1;
            } else {
                self.presence_on = self.presence_on.saturating_sub(1);
            }
        }
        c.presence_off = !on;
        self.reply_with(i, |o| encode::presence(o, on));
    }

    /// `Nick:text`. The receiver gets `PRIVATE` through its thread's inbox;
    /// the sender gets `SENT` as soon as the message is queued there
    /// ("accepted for delivery to a user online"), which keeps the sender's
    /// replies in the order of its lines. A receiver that leaves before its
    /// thread delivers the message does not get it.
    fn private(&mut self, i: usize, id: u64, nick: &str, to: &str, text: &str) {
        match self.lookup(to) {
            Err(()) => self.reply_error(i, ErrorCode::NoSuchUser, None, None),
            Ok(None) => self.reply_error(i, ErrorCode::NoSuchUser, Some(to), None),
            Ok(Some((_, _, target))) if target == id => {
                self.reply_with(i, |o| {
                    encode::private(o, nick, text);
                    encode::sent(o, to);
                });
            }
            Ok(Some((thread, slot, target))) => {
                self.push_private(thread, slot, target, nick, text);
                self.reply_with(i, |o| encode::sent(o, to));
            }
        }
    }

    /// Where the nickname `to` (as a client typed it) is online: `Err` if
    /// it cannot be a nickname, `Ok(None)` if nobody has it. Answers come
    /// from a per-thread cache that is emptied whenever the registry
    /// changes (`change_seq`), so the common case, one client writing to
    /// the same few others, costs a hash lookup: no lower-casing, no
    /// allocation, no shared lock (the lock's counter was a cache line
    /// bouncing between the I/O threads: 16% of the server's time in the
    /// private-message benchmark).
    fn lookup(&mut self, to: &str) -> Result<Option<(usize, usize, u64)>, ()> {
        let seq = self.shared.change_seq.load(Ordering::Acquire);
        if seq != self.lookup_seq {
            self.lookup_cache.clear();
            self.lookup_seq = seq;
        }
        if let Some(hit) = self.lookup_cache.get(to) {
            return Ok(Some(*hit));
        }
        if validate_nick(to, self.shared.cfg.max_nick_chars).is_err() {
            return Err(());
        }
        // Read after `seq`: the answer is at least as new as the tag it is
        // cached under; a change after it empties the cache next time.
        let found = self.shared.lookup(to);
        if let Some(hit) = found {
            if self.lookup_cache.len() >= LOOKUP_CACHE_MAX {
                self.lookup_cache.clear();
            }
            self.lookup_cache.insert(Box::from(to), hit);
        }
        Ok(found)
    }

    /// Queues the private line `PRIVATE nick :text` for connection `target`
    /// (slot `slot` of thread `t`), after any batched broadcast (so the
    /// sender's order is kept), into the same command as the private
    /// messages just before it to that thread.
    fn push_private(&mut self, t: usize, slot: usize, target: u64, nick: &str, text: &str) {
        self.finish_bcast();
        let Some(p) = self.pending.get_mut(t) else {
            return;
        };
        if !matches!(p.last(), Some(Cmd::Deliver { bytes, .. }) if bytes.len() < MAX_BROADCAST_BATCH)
        {
            // Sized for a burst up front: growing it line by line (realloc
            // and copy) took 17% of the server's time in the private
            // benchmark.
            p.push(Cmd::Deliver {
                bytes: Vec::with_capacity(BATCH_START),
                to: Vec::with_capacity(BATCH_START / 64),
            });
        }
        if let Some(Cmd::Deliver { bytes, to }) = p.last_mut() {
            let start = bytes.len();
            encode::private(bytes, nick, text);
            to.push((slot, target, bytes.len() - start));
        }
        if let Some(w) = self.to_wake.get_mut(t) {
            *w = true;
        }
    }

    /// `/nick New`.
    fn rename(&mut self, i: usize, id: u64, old: &str, new: &str) {
        if validate_nick(new, self.shared.cfg.max_nick_chars).is_err() {
            self.reply_error(i, ErrorCode::InvalidNick, None, None);
            return;
        }
        self.flush_pending();
        match self.shared.rename(old, new, id) {
            Err(ErrorCode::NickInUse) => self.reply_error(i, ErrorCode::NickInUse, Some(new), None),
            Err(code) => self.reply_error(i, code, None, None),
            Ok(new_nick) => {
                self.wake_all();
                let addr = match self.slots.get_mut(i) {
                    Some(Some(c)) => {
                        c.nick = Some(new_nick);
                        c.addr
                    }
                    _ => return,
                };
                self.reply_with(i, |o| encode::nick(o, old, new));
                self.shared.events.push(ServerEvent::NickChanged {
                    id,
                    addr,
                    old: old.to_string(),
                    new: new.to_string(),
                });
            }
        }
    }

    // ---- writing --------------------------------------------------------

    fn flush_dirty(&mut self) {
        let mut dirty = std::mem::take(&mut self.dirty);
        for &i in &dirty {
            self.flush_conn(i);
        }
        dirty.clear();
        if self.dirty.is_empty() && dirty.capacity() <= 4096 {
            self.dirty = dirty;
        }
    }

    /// Writes what is queued for connection `i`, in as few `write` calls as
    /// the socket allows; frees the buffer when it drains; asks for
    /// `WRITABLE` only while bytes remain; finishes closing connections.
    fn flush_conn(&mut self, i: usize) {
        let Some(Some(c)) = self.slots.get_mut(i) else {
            return;
        };
        c.dirty = false;
        let (sent, mut failed) = c.write_out();
        let mut remove = false;
        if failed.is_none() {
            if c.out_pos >= c.out.len() && !c.stream.wants_write() {
                // Drained: the buffer goes back to the thread's pool, so an
                // idle client holds none.
                self.pool.put(std::mem::take(&mut c.out));
                c.out_pos = 0;
                c.line_open = false;
                if c.writable {
                    c.writable = false;
                    if let Err(e) = self.poll.registry().reregister(
                        &mut c.stream,
                        Token(i + 1),
                        Interest::READABLE,
                    ) {
                        failed = Some(e);
                    }
                }
                if failed.is_none() && c.phase == Phase::Closing {
                    if !c.write_shut {
                        c.write_shut = true;
                        let _ = c.stream.shutdown_write();
                    }
                    // Even when shutting down, wait for the peer's end (or
                    // the deadline): closing with its bytes unread would
                    // send a reset that can destroy the lines just written.
                    remove = c.read_closed;
                }
            } else if !c.writable {
                c.writable = true;
                if let Err(e) = self.poll.registry().reregister(
                    &mut c.stream,
                    Token(i + 1),
                    Interest::READABLE | Interest::WRITABLE,
                ) {
                    failed = Some(e);
                }
            }
        }
        let sent = sent + std::mem::take(&mut self.sent_early);
        self.sent_since_trim += sent;
        if let Some(s) = self.stats() {
            ThreadStats::add(&s.bytes_sent, sent);
        }
        if let Some(e) = failed {
            let (code, reason) = classify(&e);
            self.close_session(i, code, &reason);
            self.remove(i);
        } else if remove {
            self.remove(i);
        }
    }
}

impl Drop for Worker {
    /// On a normal exit nothing is left. If the thread is unwinding from a
    /// bug, its clients are still released properly (nicknames freed,
    /// `LEFT` sent to the others, counts and events right), and the
    /// acceptor stops handing it new connections.
    fn drop(&mut self) {
        if let Some(inbox) = self.shared.inboxes.get(self.idx) {
            inbox.set_dead();
        }
        if self.live > 0 {
            self.close_all(
                ErrorCode::ConnectionAborted,
                "internal error in an I/O thread",
            );
            self.flush_pending();
            self.send_wakes();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An idle connection costs its slot (this struct) plus a registry
    /// entry; keep the slot small (issue 5 aims at < 2.5 KB per idle
    /// client in all).
    #[test]
    fn connection_slot_stays_small() {
        let size = std::mem::size_of::<Option<Conn>>();
        assert!(size <= 256, "Option<Conn> is {size} bytes");
    }
}
