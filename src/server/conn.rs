//! One connection as its I/O thread sees it: the socket, the framing of
//! what it reads, and the bounded queue of what waits to be written.
//!
//! Kept small: an idle connection holds no buffer (its queue's buffer goes
//! back to the thread's pool whenever it drains, and the pool is freed when
//! the thread is idle; its line buffer only holds an incomplete line).

use std::collections::VecDeque;
use std::io::{self, IoSlice, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::session::{Credit, Session};
use super::tls::Stream;
use crate::protocol::LineBuffer;

/// Bytes read from (and compacted in) a queue at once.
pub(crate) const IO_CHUNK: usize = 64 * 1024;

/// Adjacent payload frames are remembered as one span up to this many
/// bytes (so a flood of tiny binary messages costs few entries); cutting a
/// slow consumer's queue keeps at most this much more than needed.
const FRAME_RUN: u64 = 64 * 1024;

/// A connection: the chat's state ([`Session`]) and the I/O around it.
pub(crate) struct Conn {
    pub session: Session,
    pub link: Link,
}

/// The I/O side of a connection.
pub(crate) struct Link {
    pub stream: Stream,
    /// A number unique to this connection for the server's lifetime.
    pub id: u64,
    pub addr: SocketAddr,
    /// Cuts what is read into lines and payloads.
    pub lines: LineBuffer,
    pub out: Queue,
    /// Number of the registry change that registered it: it receives only
    /// broadcasts numbered after it (`shared.rs`, "Ordering").
    pub reg_seq: u64,
    /// Counted in `connections` (and per IP); false for refused ones and
    /// once the session is over.
    pub counted: bool,
    /// `WRITABLE` interest is registered.
    pub writable: bool,
    /// The session is over: what is queued is being flushed before the
    /// socket closes.
    /// Boxed: only closing connections have one, and the slot stays small.
    pub closing: Option<Box<Closing>>,
}

/// Where a connection that said `/resume` goes (PROTOCOL.md, "Resuming a
/// connection").
#[derive(Debug)]
pub(crate) struct Moving {
    /// The connection moving (its id; it is in the slot its session ran in).
    pub id: u64,
    /// The held connection that takes the socket.
    pub to: super::session::Peer,
    /// The id after which it missed messages.
    pub since: Option<u64>,
    /// The `/resume` line's label, for the `RESUMED` answer.
    pub label: Option<Box<str>>,
}

/// How far a closing connection has got.
#[derive(Debug, Default)]
pub(crate) struct Closing {
    /// Our side was shut down (FIN sent) after the last byte went out.
    pub write_shut: bool,
    /// The peer closed its side (a read returned 0).
    pub read_closed: bool,
    /// When the session ended, and the bytes the peer had acknowledged
    /// then (where the kernel tells): the peer's pace while closing, see
    /// [`drains_too_slowly`].
    pub from: Option<(Instant, u64)>,
}

impl Closing {
    /// A connection whose session has just ended.
    pub(crate) fn now(stream: &Stream) -> Closing {
        Closing {
            from: bytes_acked(stream).map(|n| (Instant::now(), n)),
            ..Closing::default()
        }
    }
}

/// Longest the kernel is left to deliver, after we close a socket, what it
/// still holds for the peer, at the pace that peer took bytes while the
/// connection was closing; a slower peer is reset (`worker/lifecycle.rs`,
/// `remove`).
const ORPHAN_DRAIN_MAX: Duration = Duration::from_secs(10);
/// That pace is judged only over at least this much closing time.
const DRAIN_PACE_MIN: Duration = Duration::from_millis(250);

/// Bytes queued for clients in the whole server, for
/// `ServerConfig::max_total_queue_bytes` and `ServerStats::queued_bytes`:
/// every shared chunk once (from the moment it is encoded until the last
/// queue holding it lets it go) plus the bytes each queue owns alone
/// (private lines, replies), settled whenever the queue is written.
#[derive(Default)]
pub(crate) struct Meter {
    shared: AtomicUsize,
    owned: AtomicUsize,
}

impl Meter {
    /// Distinct bytes queued now.
    pub(crate) fn total(&self) -> usize {
        self.shared
            .load(Ordering::Relaxed)
            .saturating_add(self.owned.load(Ordering::Relaxed))
    }
}

/// Bytes encoded once and queued to any number of connections (a public
/// message batch, a presence line, a frame sent to everyone): each queue
/// holds a reference, never a copy, so memory grows with distinct messages,
/// not with receivers times messages. Counted in the server's [`Meter`]
/// while any reference lives.
#[derive(Clone)]
pub(crate) struct Chunk(Arc<ChunkBytes>);

struct ChunkBytes {
    bytes: Box<[u8]>,
    meter: Arc<Meter>,
}

impl Drop for ChunkBytes {
    fn drop(&mut self) {
        self.meter
            .shared
            .fetch_sub(self.bytes.len(), Ordering::Relaxed);
    }
}

impl Chunk {
    pub(crate) fn new(bytes: Vec<u8>, meter: &Arc<Meter>) -> Chunk {
        meter.shared.fetch_add(bytes.len(), Ordering::Relaxed);
        Chunk(Arc::new(ChunkBytes {
            bytes: bytes.into_boxed_slice(),
            meter: Arc::clone(meter),
        }))
    }

    /// How many queues (and commands) hold this chunk.
    #[cfg(test)]
    pub(crate) fn holders(&self) -> usize {
        Arc::strong_count(&self.0)
    }
}

impl std::ops::Deref for Chunk {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0.bytes
    }
}

/// A piece of a queue written before its owned tail.
enum Seg {
    Owned(Vec<u8>),
    Shared(Chunk),
}

impl Seg {
    fn bytes(&self) -> &[u8] {
        match self {
            Seg::Owned(v) => v,
            Seg::Shared(c) => c,
        }
    }
}

/// The segments of a queue before its owned tail.
#[derive(Default)]
pub(crate) struct Segs {
    list: VecDeque<Seg>,
    /// Bytes in `list` (whole segments), and the owned part of them.
    bytes: usize,
    owned: usize,
}

/// Chunks shorter than this are copied into a receiver's queue rather than
/// referenced: a reference costs a segment entry (32 bytes) and a shared
/// counter touched by every thread, more than copying a `JOIN` line or a
/// short public message (public messages from one burst are batched into
/// one chunk, so under load chunks are large).
pub(crate) const SHARE_MIN: usize = 128;

/// Most slices handed to one gathering write (`sendmsg`, the `writev` of sockets).
const MAX_IOV: usize = 64;

/// The outbound queue of one connection: the segments in `segs` (owned
/// ones and references to shared chunks), then the owned tail `buf`, from
/// offset `pos` in the first of them, are still to be written.
#[derive(Default)]
pub(crate) struct Queue {
    /// Owned bytes appended last (replies, private lines); sealed into a
    /// segment when a shared chunk is queued after them.
    pub buf: Vec<u8>,
    /// Boxed: only a connection with a backlog of broadcasts has one, and
    /// the slot stays small.
    segs: Option<Box<Segs>>,
    /// Offset in the first segment (or in `buf` when there is none).
    pos: usize,
    /// Owned bytes counted in the server's [`Meter`].
    counted: usize,
    /// In the thread's dirty list (to be written at the end of the burst).
    pub dirty: bool,
    /// Over its limit; will be dropped as a slow consumer.
    pub doomed: bool,
    /// Its connection dropped and its session is held for a resume: what is
    /// appended is thrown away (a resume sends what was missed from
    /// history).
    pub held: bool,
    /// A line was partly written (the socket took only part of it).
    line_open: bool,
    /// File data queued here, for flow control and slow-consumer cuts;
    /// `None` for connections that never received a file or binary message.
    rx: Option<Box<Receiving>>,
}

/// What a connection receives of files and binary messages.
#[derive(Default)]
struct Receiving {
    /// Credits for file bytes queued here, with the stream offset
    /// (`written` + queued) at which each is fully written.
    credits: VecDeque<(u64, Credit)>,
    /// Bytes written to this socket since the state was made.
    written: u64,
    /// Stream offsets (`written` space) of the payload frames queued here
    /// and not yet fully written, adjacent ones merged up to [`FRAME_RUN`]
    /// bytes: a slow consumer's queue is cut at a frame's end, never inside
    /// a payload (where a LF may be a payload byte).
    frames: VecDeque<(u64, u64)>,
    /// Last time a byte was written while file data waited.
    last_progress: Option<Instant>,
    /// In the thread's stall watch list.
    watched: bool,
}

impl Link {
    pub(crate) fn new(
        stream: Stream,
        id: u64,
        addr: SocketAddr,
        lines: LineBuffer,
        counted: bool,
    ) -> Link {
        Link {
            stream,
            id,
            addr,
            lines,
            out: Queue::default(),
            reg_seq: 0,
            counted,
            writable: false,
            closing: None,
        }
    }
}

impl Queue {
    /// Bytes waiting to be written (shared ones included: what this
    /// connection holds, for `max_queue_bytes`).
    pub(crate) fn queued(&self) -> usize {
        (self.sealed() + self.buf.len()).saturating_sub(self.pos)
    }

    /// Everything queued has been written.
    pub(crate) fn is_drained(&self) -> bool {
        self.queued() == 0
    }

    /// Bytes held by this queue alone (not in shared chunks).
    fn owned(&self) -> usize {
        let front_owned = !matches!(self.front(), Some(Seg::Shared(_)));
        let skip = if front_owned { self.pos } else { 0 };
        let sealed_owned = self.segs.as_ref().map_or(0, |s| s.owned);
        (sealed_owned + self.buf.len()).saturating_sub(skip)
    }

    /// Bytes in the segments before the owned tail.
    fn sealed(&self) -> usize {
        self.segs.as_ref().map_or(0, |s| s.bytes)
    }

    /// The first segment, if any.
    fn front(&self) -> Option<&Seg> {
        self.segs.as_ref().and_then(|s| s.list.front())
    }

    /// The bytes still to be written, one by one.
    fn rest_bytes(&self) -> impl Iterator<Item = u8> + '_ {
        self.pieces().enumerate().flat_map(|(i, piece)| {
            let from = if i == 0 { self.pos } else { 0 };
            piece.get(from..).unwrap_or(&[]).iter().copied()
        })
    }

    /// Every piece still queued, in order, whole (the first from `pos`).
    fn pieces(&self) -> impl Iterator<Item = &[u8]> {
        self.segs
            .iter()
            .flat_map(|s| s.list.iter())
            .map(Seg::bytes)
            .chain(std::iter::once(&self.buf[..]))
    }

    /// Brings the server's count of owned queued bytes up to date.
    pub(crate) fn settle_count(&mut self, meter: &Meter) {
        let now = self.owned();
        if now > self.counted {
            meter.owned.fetch_add(now - self.counted, Ordering::Relaxed);
        } else {
            meter.owned.fetch_sub(self.counted - now, Ordering::Relaxed);
        }
        self.counted = now;
    }

    /// Takes the queue's owned bytes out of the server's count (the
    /// connection is going away).
    pub(crate) fn uncount(&mut self, meter: &Meter) {
        meter.owned.fetch_sub(self.counted, Ordering::Relaxed);
        self.counted = 0;
    }

    /// Throws away everything queued (a held connection's lines, which its
    /// resume replays from history; a resumed one's unwritten rest).
    pub(crate) fn discard_all(&mut self, meter: &Meter) {
        self.segs = None;
        self.buf.clear();
        self.pos = 0;
        self.line_open = false;
        self.rx = None;
        self.settle_count(meter);
    }

    /// The bytes still to be written, taken out of the queue (which is
    /// left empty and uncounted): what a connection moving to a held one
    /// had not yet been sent (its `HELLO`, answers at the prompt).
    pub(crate) fn take_pending(&mut self, meter: &Meter) -> Vec<u8> {
        let rest: Vec<u8> = self.rest_bytes().collect();
        self.discard_all(meter);
        rest
    }

    /// Takes the (drained) buffer away, for the thread's pool.
    pub(crate) fn take_buffer(&mut self) -> Vec<u8> {
        self.pos = 0;
        self.line_open = false;
        std::mem::take(&mut self.buf)
    }

    /// Takes the (drained) segment list away, for the thread's pool.
    pub(crate) fn take_segs(&mut self) -> Option<Box<Segs>> {
        self.segs.take().filter(|s| s.list.is_empty())
    }

    /// Queues a reference to a shared chunk (no copy) after what is
    /// queued.
    pub(crate) fn push_shared(&mut self, chunk: &Chunk) {
        if chunk.is_empty() {
            return;
        }
        if chunk.len() < SHARE_MIN {
            self.buf.extend_from_slice(chunk);
            return;
        }
        if self.front().is_none() && self.pos >= self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
        let segs = self.segs.get_or_insert_with(Box::default);
        if !self.buf.is_empty() {
            let owned = std::mem::take(&mut self.buf);
            segs.bytes += owned.len();
            segs.owned += owned.len();
            segs.list.push_back(Seg::Owned(owned));
        }
        segs.bytes += chunk.len();
        segs.list.push_back(Seg::Shared(chunk.clone()));
    }

    /// The byte just before the next one to write, if any was written from
    /// the current first piece.
    fn last_written(&self) -> Option<u8> {
        let first = self.front().map_or(&self.buf[..], Seg::bytes);
        self.pos.checked_sub(1).and_then(|p| first.get(p)).copied()
    }

    /// `n` more bytes were written.
    fn advance(&mut self, mut n: usize) {
        while n > 0 {
            let Some(segs) = self.segs.as_deref_mut().filter(|s| !s.list.is_empty()) else {
                self.pos += n;
                break;
            };
            let Some(front) = segs.list.front() else {
                break;
            };
            let len = front.bytes().len();
            let rest = len.saturating_sub(self.pos);
            if n < rest {
                self.pos += n;
                break;
            }
            n -= rest;
            if let Seg::Owned(_) = front {
                segs.owned -= len;
            }
            self.line_open = front.bytes().last().is_some_and(|b| *b != b'\n');
            segs.bytes -= len;
            segs.list.pop_front();
            self.pos = 0;
        }
        if let Some(b) = self.last_written() {
            self.line_open = b != b'\n';
        }
    }

    /// Writes as much of the queue as `stream` takes now, without blocking,
    /// up to about `budget` bytes (so that one connection cannot keep its
    /// thread from the others), in gathering writes (`sendmsg`) over the queued
    /// segments. Returns the bytes written and the error that stopped it,
    /// if any (`WouldBlock` is no error). Compacts the owned tail when much
    /// of it has gone out.
    pub(crate) fn write_to(
        &mut self,
        stream: &mut Stream,
        budget: usize,
    ) -> (u64, Option<io::Error>) {
        let mut sent = 0usize;
        let mut failed = None;
        // TLS: encrypted bytes the socket did not take last time go first.
        if let Err(e) = stream.flush() {
            return (0, Some(e));
        }
        while !self.is_drained() && sent < budget {
            let mut iov: [IoSlice<'_>; MAX_IOV] = [IoSlice::new(&[]); MAX_IOV];
            let mut k = 0;
            let mut room = budget - sent;
            let mut skip = self.pos;
            for piece in self.pieces() {
                if k == MAX_IOV || room == 0 {
                    break;
                }
                let part = piece.get(skip..).unwrap_or(&[]);
                skip = 0;
                let part = part.get(..room.min(part.len())).unwrap_or(part);
                if part.is_empty() {
                    continue;
                }
                room -= part.len();
                if let Some(slot) = iov.get_mut(k) {
                    *slot = IoSlice::new(part);
                }
                k += 1;
            }
            let res = stream.write_vectored(iov.get(..k).unwrap_or(&[]));
            match res {
                Ok(0) => {
                    failed = Some(io::Error::from(io::ErrorKind::WriteZero));
                    break;
                }
                Ok(n) => {
                    self.advance(n);
                    sent += n;
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
            if self.front().is_none() {
                let left = self.buf.len().saturating_sub(self.pos);
                if left > 0 && (self.pos >= IO_CHUNK || self.pos >= left) {
                    self.buf.drain(..self.pos);
                    self.pos = 0;
                }
            }
            if let Some(rx) = self.rx.as_deref_mut() {
                rx.on_written(sent as u64);
            }
        }
        (sent as u64, failed)
    }

    /// Appends a whole payload frame (`BYTES`/`CHUNK` header, payload, LF,
    /// or a transfer line), remembering where it ends; with `credit`, the
    /// transfer's flow control counts it until it is written. Returns true
    /// when the connection should join the thread's stall watch (file data
    /// now waits for it and it was not watched).
    pub(crate) fn push_frame(
        &mut self,
        bytes: &[u8],
        credit: Option<Credit>,
        now: Instant,
    ) -> bool {
        self.buf.extend_from_slice(bytes);
        self.frame_queued(bytes.len(), credit, now)
    }

    /// As [`Queue::push_frame`], for a frame shared with other receivers.
    pub(crate) fn push_shared_frame(
        &mut self,
        chunk: &Chunk,
        credit: Option<Credit>,
        now: Instant,
    ) -> bool {
        self.push_shared(chunk);
        self.frame_queued(chunk.len(), credit, now)
    }

    /// A frame of `len` bytes was just queued.
    fn frame_queued(&mut self, len: usize, credit: Option<Credit>, now: Instant) -> bool {
        let queued = self.queued() as u64;
        let rx = self.rx.get_or_insert_with(Box::default);
        let end = rx.written + queued;
        let start = end.saturating_sub(len as u64);
        match rx.frames.back_mut() {
            Some((s, e)) if *e == start && end - *s <= FRAME_RUN => *e = end,
            _ => rx.frames.push_back((start, end)),
        }
        let Some(credit) = credit else {
            return false;
        };
        rx.credits.push_back((end, credit));
        if rx.watched {
            return false;
        }
        rx.watched = true;
        rx.last_progress = Some(now);
        true
    }

    /// For the stall watch: `None` when no file data waits here any more
    /// (the connection leaves the watch), else whether it has taken no byte
    /// since `stalled_since`.
    pub(crate) fn stalled(&mut self, stalled_since: Instant) -> Option<bool> {
        let rx = self.rx.as_deref_mut()?;
        if rx.credits.is_empty() {
            rx.watched = false;
            return None;
        }
        Some(rx.last_progress.is_some_and(|t| t <= stalled_since))
    }

    /// Throws away what is queued for a slow consumer, except the rest of a
    /// line or payload frame the socket already took part of (the stream
    /// the peer reads stays whole lines and whole frames); file credits go
    /// back with the bytes.
    pub(crate) fn cut(&mut self) {
        let frame_rest = self.rx.as_deref().and_then(Receiving::open_frame_rest);
        if let Some(rx) = self.rx.as_deref_mut() {
            rx.frames.clear();
        }
        let queued = self.queued();
        let keep = if let Some(rest) = frame_rest {
            rest.min(queued)
        } else if self.line_open {
            self.rest_bytes()
                .position(|b| b == b'\n')
                .map_or(queued, |p| p + 1)
        } else {
            0
        };
        let kept: Vec<u8> = self.rest_bytes().take(keep).collect();
        self.segs = None;
        self.pos = 0;
        self.buf = kept;
    }
}

impl Receiving {
    /// Bytes were written to the socket: the credits of frames now fully
    /// written are given back.
    fn on_written(&mut self, sent: u64) {
        self.written += sent;
        while self
            .frames
            .front()
            .is_some_and(|(_, end)| *end <= self.written)
        {
            self.frames.pop_front();
        }
        if self.credits.is_empty() {
            return;
        }
        while self
            .credits
            .front()
            .is_some_and(|(end, _)| *end <= self.written)
        {
            self.credits.pop_front();
        }
        self.last_progress = Some(Instant::now());
    }

    /// If the socket stopped inside a payload frame, the bytes from the
    /// next byte to write to that frame's end.
    fn open_frame_rest(&self) -> Option<usize> {
        self.frames
            .front()
            .filter(|(start, end)| *start < self.written && *end > self.written)
            .and_then(|(_, end)| usize::try_from(end - self.written).ok())
    }
}

/// Bytes written to the socket that the peer has not acknowledged yet
/// (Linux `SIOCOUTQ`), i.e. still held by the kernel for it; 0 where this
/// cannot be told.
pub(crate) fn unacked_bytes(stream: &Stream) -> usize {
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
/// the peer took bytes since its session ended (`closing.from`), would need
/// more than [`ORPHAN_DRAIN_MAX`] to deliver them: a peer that took
/// nothing, or a trickle (with a tiny receive window on loopback the kernel
/// feeds it at the pace of zero-window probes, and its end of stream would
/// come minutes later). False when this cannot be told, or over less than
/// [`DRAIN_PACE_MIN`].
pub(crate) fn drains_too_slowly(stream: &Stream, closing: Option<&Closing>) -> bool {
    let Some((since, acked_then)) = closing.and_then(|c| c.from) else {
        return false;
    };
    let unacked = unacked_bytes(stream);
    let elapsed = Instant::now().saturating_duration_since(since);
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

/// Unsent bytes the kernel takes into one socket's send queue
/// (`TCP_NOTSENT_LOWAT`, Linux 3.12): past it, `write` says `WouldBlock`
/// and the bytes wait in the connection's queue, counted by the server's
/// budget (`ServerConfig::max_total_queue_bytes`, shared among receivers).
/// Without it the kernel grows each send buffer by itself (up to
/// `net.ipv4.tcp_wmem`, 4 MiB), outside any budget: 1,500 clients that
/// never read held 1.5 GB of kernel memory and pushed the machine's TCP
/// stack into memory pressure, delaying everyone (BENCHMARKS.md, "Clients
/// that never read"). Bytes in flight are not limited, so a reader that
/// keeps up still gets the whole window.
const MAX_UNSENT_BYTES: libc::c_int = 128 * 1024;

/// Applies [`MAX_UNSENT_BYTES`] to an accepted socket. Best effort: where
/// the option does not exist the kernel's own sizing stays.
pub(crate) fn limit_unsent(stream: &mio::net::TcpStream) {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        use std::os::fd::AsRawFd;
        let v = MAX_UNSENT_BYTES;
        // SAFETY: setsockopt on a descriptor owned by `stream`, alive here,
        // reading an int on this stack frame.
        unsafe {
            libc::setsockopt(
                stream.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_NOTSENT_LOWAT,
                &v as *const libc::c_int as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let _ = stream;
}

/// Makes the coming `close` send a reset and free the socket's buffers at
/// once (`SO_LINGER` with a zero timeout). Best effort.
pub(crate) fn reset_on_close(stream: &Stream) {
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

/// Outbound buffers that drained are kept for reuse by any connection of
/// the thread, up to this many bytes of capacity in all. Freeing a buffer
/// each time it drains and growing a new one for the next burst cost more
/// than half of the server's CPU time in the broadcast benchmark (page
/// faults and allocator work: BENCHMARKS.md, "Profile").
const POOL_MAX_BYTES: usize = 8 * 1024 * 1024;
/// Buffers larger than this are not kept (one huge burst does not pin
/// memory).
const POOL_MAX_BUF: usize = 64 * 1024;

/// Drained outbound buffers of one thread, kept for the next burst.
#[derive(Default)]
pub(crate) struct BufPool {
    bufs: Vec<Vec<u8>>,
    bytes: usize,
    /// Drained segment lists (a box and its deque's room), so that queuing
    /// a broadcast to a drained connection allocates nothing. Boxed: the
    /// boxes themselves move between queues and the pool.
    #[allow(clippy::vec_box)]
    segs: Vec<Box<Segs>>,
}

/// Segment lists kept at most (with up to [`SEGS_MAX_ROOM`] entries of room
/// each).
const POOL_MAX_SEGS: usize = 4096;
const SEGS_MAX_ROOM: usize = 64;

impl BufPool {
    /// Gives `out` (empty) a kept buffer, if there is one, before bytes are
    /// appended to it.
    #[inline]
    pub(crate) fn fill(&mut self, out: &mut Vec<u8>) {
        if out.capacity() == 0 {
            if let Some(b) = self.bufs.pop() {
                self.bytes -= b.capacity();
                *out = b;
            }
        }
    }

    /// Takes back a drained buffer (or frees it when the pool is full or
    /// the buffer too big).
    pub(crate) fn put(&mut self, mut b: Vec<u8>) {
        let cap = b.capacity();
        if cap == 0 || cap > POOL_MAX_BUF || self.bytes + cap > POOL_MAX_BYTES {
            return;
        }
        b.clear();
        self.bytes += cap;
        self.bufs.push(b);
    }

    /// Before a shared chunk of `len` bytes is queued to `out`: gives it a
    /// kept segment list if it has none (or, for a chunk that will be
    /// copied, a kept buffer).
    #[inline]
    pub(crate) fn fill_segs(&mut self, out: &mut Queue, len: usize) {
        if len < SHARE_MIN {
            self.fill(&mut out.buf);
        } else if out.segs.is_none() {
            out.segs = self.segs.pop();
        }
    }

    /// Takes back a drained segment list.
    pub(crate) fn put_segs(&mut self, s: Option<Box<Segs>>) {
        if let Some(s) = s {
            if self.segs.len() < POOL_MAX_SEGS && s.list.capacity() <= SEGS_MAX_ROOM {
                self.segs.push(s);
            }
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.bufs.is_empty() && self.segs.is_empty()
    }

    /// Frees every kept buffer (the thread is idle).
    pub(crate) fn release(&mut self) {
        *self = BufPool::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// A non-blocking server-side stream and the peer's blocking end, on
    /// loopback.
    fn pair() -> (Stream, std::net::TcpStream) {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let peer = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (ours, _) = l.accept().unwrap();
        ours.set_nonblocking(true).unwrap();
        (Stream::Plain(mio::net::TcpStream::from_std(ours)), peer)
    }

    /// A peer that never reads holds, in the kernel, what its receive
    /// buffer takes plus at most [`MAX_UNSENT_BYTES`] unsent: the rest
    /// waits in the server's queue, under the server's budget.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_socket_takes_little_more_than_the_peer_window() {
        use std::os::fd::AsRawFd;
        let (ours, peer) = pair();
        let Stream::Plain(sock) = &ours else {
            unreachable!("pair() makes a plain stream")
        };
        limit_unsent(sock);
        let mut got: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: getsockopt into an int on this stack frame, on a live
        // descriptor.
        let rc = unsafe {
            libc::getsockopt(
                sock.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_NOTSENT_LOWAT,
                &mut got as *mut libc::c_int as *mut libc::c_void,
                &mut len,
            )
        };
        assert_eq!(rc, 0);
        assert_eq!(got, MAX_UNSENT_BYTES);
        let mut sock = sock;
        let block = vec![b'x'; 64 * 1024];
        let mut taken = 0usize;
        // The kernel moves bytes to the peer in the background: stop once
        // several writes in a row, a few milliseconds apart, take nothing.
        let mut refusals = 0;
        while refusals < 5 && taken < 64 << 20 {
            match sock.write(&block) {
                Ok(n) => {
                    taken += n;
                    refusals = 0;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    refusals += 1;
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("write: {e}"),
            }
        }
        let mut rcvbuf: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: as above, on the peer's live descriptor.
        let rc = unsafe {
            libc::getsockopt(
                peer.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                &mut rcvbuf as *mut libc::c_int as *mut libc::c_void,
                &mut len,
            )
        };
        assert_eq!(rc, 0);
        let bound = usize::try_from(rcvbuf).unwrap() + MAX_UNSENT_BYTES as usize + (64 << 10);
        assert!(
            taken <= bound,
            "the kernel took {taken} bytes for a peer that never reads (bound {bound})"
        );
        drop(peer);
    }

    #[test]
    fn receivers_of_one_broadcast_share_one_allocation() {
        let meter = Arc::new(Meter::default());
        let mut line = b"PUBLIC ana :".to_vec();
        line.extend_from_slice(&[b'o'; 200]);
        line.push(b'\n');
        let len = line.len();
        let chunk = Chunk::new(line, &meter);
        let mut queues: Vec<Queue> = (0..100).map(|_| Queue::default()).collect();
        for q in &mut queues {
            q.buf.extend_from_slice(b"PRIVATE bob :x\n");
            q.push_shared(&chunk);
            q.settle_count(&meter);
        }
        // One allocation: 100 queues and this handle hold the same bytes.
        assert_eq!(chunk.holders(), 101);
        for q in &queues {
            // Each queue counts what it holds, shared or not...
            assert_eq!(q.queued(), 15 + len);
        }
        // ...and the server counts the chunk once.
        assert_eq!(meter.total(), len + 100 * 15);
        drop(chunk);
        for q in &mut queues {
            q.cut();
            q.settle_count(&meter);
        }
        assert_eq!(meter.total(), 0);
        // A line shorter than SHARE_MIN is copied (cheaper than a
        // reference), and counted as the queue's own.
        let tiny = Chunk::new(b"JOIN ana\n".to_vec(), &meter);
        let mut q = Queue::default();
        q.push_shared(&tiny);
        assert_eq!(tiny.holders(), 1);
        assert_eq!(q.queued(), 9);
        drop(tiny);
        q.settle_count(&meter);
        assert_eq!(meter.total(), 9);
    }

    #[test]
    fn segments_go_out_in_order_with_writev_and_budget() {
        let meter = Arc::new(Meter::default());
        let (mut ours, mut peer) = pair();
        let mut q = Queue::default();
        let mut want = Vec::new();
        for i in 0..50u8 {
            let own = format!("PRIVATE a :{i}\n");
            q.buf.extend_from_slice(own.as_bytes());
            want.extend_from_slice(own.as_bytes());
            let shared = vec![b'a' + i % 26; 1000 + usize::from(i)];
            let mut line = b"PUBLIC b :".to_vec();
            line.extend_from_slice(&shared);
            line.push(b'\n');
            want.extend_from_slice(&line);
            q.push_shared(&Chunk::new(line, &meter));
        }
        q.buf.extend_from_slice(b"tail\n");
        want.extend_from_slice(b"tail\n");
        // A small budget: several turns, each at most about the budget.
        let mut turns = 0;
        while !q.is_drained() {
            let (n, err) = q.write_to(&mut ours, 4096);
            assert!(err.is_none());
            assert!(n <= 4096);
            turns += 1;
            assert!(turns < 1000);
        }
        assert!(turns > 10);
        let mut got = vec![0u8; want.len()];
        peer.read_exact(&mut got).unwrap();
        assert_eq!(got, want);
        q.settle_count(&meter);
        assert_eq!(meter.total(), 0);
    }

    #[test]
    fn cut_keeps_the_rest_of_a_partly_written_line() {
        let meter = Arc::new(Meter::default());
        let (mut ours, mut peer) = pair();
        let mut q = Queue::default();
        let first = format!("PUBLIC a :{}\n", "f".repeat(100));
        let second = format!("PUBLIC a :{}\n", "s".repeat(100));
        let chunk = Chunk::new(format!("{first}{second}").into_bytes(), &meter);
        q.push_shared(&chunk);
        assert_eq!(chunk.holders(), 2);
        drop(chunk);
        q.buf.extend_from_slice(b"PRIVATE b :third\n");
        // Write into the second line.
        let (n, _) = q.write_to(&mut ours, first.len() + 20);
        assert_eq!(n as usize, first.len() + 20);
        q.cut();
        q.buf.extend_from_slice(b"ERROR 03\n");
        while !q.is_drained() {
            q.write_to(&mut ours, usize::MAX);
        }
        let want = format!("{first}{second}ERROR 03\n");
        let mut got = vec![0u8; want.len()];
        peer.read_exact(&mut got).unwrap();
        assert_eq!(got, want.as_bytes());
        // The chunk went with the cut.
        assert_eq!(meter.total(), 0);
    }
}
