//! Files and binary messages as their sender's session sees them
//! (PROTOCOL.md, "Files and binary payloads").
//!
//! # Streaming
//!
//! The sender's `/chunk` payloads are never held whole: their bytes are cut
//! into pieces of at most [`MAX_PIECE`] bytes (an eighth of
//! `max_queue_bytes` when that is smaller), and each piece goes out at once
//! as one `CHUNK <id> <n>` frame, which the host shares among the
//! receivers. A piece is the most the server keeps per open transfer.
//! `/bytes` payloads are messages: they are gathered whole (at most
//! `max_payload_bytes`) and sent as one `BYTES` frame.
//!
//! # Flow control
//!
//! Every transfer has a [`Flow`] counting the bytes of its frames that were
//! forwarded but not yet written to the receivers' sockets (the host holds
//! a [`Credit`] for them until then). Before each read from the sender's
//! socket the host asks [`super::Session::read_allowance`]: above the
//! high-water mark (half of `max_queue_bytes`, at most 512 KiB) it stops reading the sender
//! (TCP then slows the sender down) until the count falls to the low-water
//! mark (a quarter), when the releasing side calls the host's resume
//! function. So a transfer goes at the pace of its slowest receiver, memory
//! stays flat whatever the file's size, and a receiver's queue never holds
//! more than about half its limit of file data: chat lines to it wait
//! behind at most that much, and file data alone never makes it a slow
//! consumer. (A receiver that takes nothing at all for
//! `file_stall_timeout` is dropped by its host, which releases its share.)
//!
//! In a cluster the same flow spans nodes (`server/cluster/files.rs`):
//! the sender's flow holds each receiving node's share
//! ([`Flow::charge_remote`], given back as that node reports its
//! receivers took the bytes), and the receiving node delivers through a
//! relay flow of its own ([`Flow::relay`]) whose releases make those
//! reports.
//!
//! # Slow receivers and text-only clients
//!
//! The flow also keeps each receiver's share (by connection id), so that a
//! receiver far behind the others can be taken off a file alone
//! ([`Flow::cut_laggards`], PROTOCOL.md "Slow receivers"); and every host
//! asks [`deliver_to`] what each receiver gets of a frame: the frame, a
//! line instead (`FILEOFFER`/`BYTESNOTE` for a client without
//! `/binary on`, PROTOCOL.md "Binary capability"; `FILEFAIL` for one taken
//! off), or nothing.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::history::Conversation;
use super::{locate, reply_error, Cx, Host, Rules, Session, Target};
use crate::clock::Clock;
use crate::error::ErrorCode;
use crate::protocol::{ClientLine, HistoryKind, ServerLine, PAYLOAD_END};

/// Most bytes of one `CHUNK` frame the server sends (less with a small
/// `max_queue_bytes`: an eighth of it).
pub const MAX_PIECE: usize = 64 * 1024;

/// The high-water mark of a transfer's flow control never passes this,
/// however generous `max_queue_bytes` is: a file needs no more in flight to
/// keep its receivers' sockets busy, and memory stays flat.
const MAX_IN_FLIGHT: u64 = 512 * 1024;

/// Most file transfers one connection may have open at once; one more
/// `/file` gets `ERROR 12`.
pub const MAX_OPEN_FILES: usize = 16;

/// How long the sender of a file may be held back, with another receiver
/// waiting for data, before the receivers that hold it back are taken off
/// the transfer (PROTOCOL.md, "Slow receivers"). Long enough for a
/// receiver's passing hiccup (a busy machine, a congested link for a few
/// seconds) to go unpunished; short enough that the others do not wait on
/// a receiver that reads a trickle: one reading 64 KiB every 20 s held a
/// 20 MB file for everyone for minutes.
pub const SLOW_RECEIVER_PATIENCE: Duration = Duration::from_secs(10);

const NO_TRANSFER: &str = "nenhuma transferência aberta (no open transfer)";
const RECEIVER_LEFT: &str = "o destinatário saiu (the receiver left)";
const RECEIVER_TEXT_ONLY: &str =
    "o destinatário não aceita arquivos: precisa de um cliente papo (the receiver does not accept binary frames)";
/// The `FILEFAIL` reason a receiver taken off a transfer gets.
pub const TOO_SLOW: &str =
    "você ficou para trás; os outros continuam (too slow: taken off this file, the others go on)";

/// Why a private transfer's one receiver will not get it.
const GONE_NO: u8 = 0;
const GONE_LEFT: u8 = 1;
const GONE_TEXT_ONLY: u8 = 2;

/// One receiver's share of a transfer's flow control.
#[derive(Debug, Default)]
struct Held {
    /// Bytes charged to it and not yet given back.
    bytes: u64,
    /// Bytes charged to it in all: a receiver that left stops growing it,
    /// so it is not taken for one waiting for data.
    total: u64,
    /// Taken off the transfer; `told`: it was sent its `FILEFAIL`.
    cut: bool,
    told: bool,
    /// Another node of a cluster ([`Flow::charge_remote`]): never taken
    /// off here (its node applies the rule to its own receivers).
    remote: bool,
}

/// The flow control of one transfer (see the module docs). Shared by the
/// sender's session and the hosts of its receivers, on any thread.
pub struct Flow {
    /// The transfer's number.
    id: u64,
    /// Bytes of this transfer's frames forwarded and not yet written to a
    /// receiver's socket (or dropped).
    in_flight: AtomicU64,
    /// The sender's host stopped reading it and waits for the resume call.
    waiting: AtomicBool,
    /// A private transfer's receiver is gone ([`GONE_LEFT`]) or accepts no
    /// binary frames ([`GONE_TEXT_ONLY`]).
    gone: AtomicU8,
    high: u64,
    low: u64,
    /// Makes the sender's host read the sender again.
    resume: Arc<dyn Fn() + Send + Sync>,
    /// Each receiver's share, by connection id, and since when the sender
    /// has been held back (see [`Flow::cut_laggards`]).
    shares: Mutex<Shares>,
    /// The rules' clock.
    clock: Clock,
    /// Called after every release (see [`Flow::relay`]).
    relay: Option<RelayHook>,
}

/// What a relayed transfer's [`Flow`] calls after bytes were given back.
pub type RelayHook = Arc<dyn Fn(&Flow) + Send + Sync>;

#[derive(Debug, Default)]
struct Shares {
    by_conn: HashMap<u64, Held>,
    held_since: Option<Instant>,
}

impl std::fmt::Debug for Flow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flow")
            .field("id", &self.id)
            .field("in_flight", &self.in_flight.load(Ordering::Relaxed))
            .field("high", &self.high)
            .finish()
    }
}

impl Flow {
    fn new(id: u64, rules: &Rules, resume: Arc<dyn Fn() + Send + Sync>) -> Flow {
        let high = (rules.max_queue_bytes as u64 / 2).clamp(1, MAX_IN_FLIGHT);
        Flow {
            id,
            in_flight: AtomicU64::new(0),
            waiting: AtomicBool::new(false),
            gone: AtomicU8::new(GONE_NO),
            high,
            low: high / 2,
            resume,
            shares: Mutex::new(Shares::default()),
            clock: rules.clock.clone(),
            relay: None,
        }
    }

    /// The flow of a transfer another node of a cluster relays to this
    /// node's receivers under this node's number `id`: nobody is read
    /// again when it drains (the sender is on the other node); instead
    /// `hook` is called, on the releasing thread and with no lock held,
    /// after every release, so that the node can tell the sender's node
    /// how far its receivers got ([`Flow::slowest`]).
    pub fn relay(id: u64, rules: &Rules, hook: RelayHook) -> Flow {
        let mut f = Flow::new(id, rules, Arc::new(|| {}));
        f.relay = Some(hook);
        f
    }

    /// The transfer's number.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Charges `n` bytes to another node of a cluster (`key` names it
    /// among the receivers' connection ids) while they travel to it and
    /// its receivers write them; given back with [`Flow::release_remote`]
    /// when that node reports them written. Such a share is never taken
    /// off by [`Flow::cut_laggards`].
    pub fn charge_remote(&self, n: u64, key: u64) {
        let mut shares = self.lock();
        let held = shares.by_conn.entry(key).or_default();
        held.remote = true;
        held.bytes += n;
        held.total += n;
        self.in_flight.fetch_add(n, Ordering::SeqCst);
    }

    /// Gives back `n` bytes charged with [`Flow::charge_remote`].
    pub fn release_remote(&self, n: u64, key: u64) {
        self.release(n, Some(key));
    }

    /// Bytes the slowest receiver still holds, plus those waiting in I/O
    /// threads' inboxes: what a relaying node has not yet delivered to
    /// every receiver. An overestimate while a release is under way, never
    /// an underestimate.
    pub fn slowest(&self) -> u64 {
        let shares = self.lock();
        let held: u64 = shares.by_conn.values().map(|h| h.bytes).sum();
        let most = shares.by_conn.values().map(|h| h.bytes).max().unwrap_or(0);
        let total = self.in_flight.load(Ordering::SeqCst);
        drop(shares);
        most + total.saturating_sub(held)
    }

    /// For a relayed transfer: notes whether its receivers hold more than
    /// the high-water mark, so that the slow-receiver rule
    /// ([`Flow::cut_laggards`]) runs on its releases as it does for a
    /// sender held back.
    pub fn relay_check(&self) {
        let _ = self.over();
    }

    /// Why the one receiver of a private transfer will not get it:
    /// `Some(true)` it takes no binary frames, `Some(false)` it left.
    pub fn gone(&self) -> Option<bool> {
        match self.gone.load(Ordering::Relaxed) {
            GONE_NO => None,
            GONE_TEXT_ONLY => Some(true),
            _ => Some(false),
        }
    }

    /// Takes `n` bytes of credit for an I/O thread while a frame waits in
    /// its inbox; they are given back when the returned [`Credit`] is
    /// dropped.
    pub fn charge(self: &Arc<Flow>, n: u64) -> Credit {
        self.in_flight.fetch_add(n, Ordering::SeqCst);
        Credit {
            flow: Arc::clone(self),
            n,
            to: None,
        }
    }

    /// Takes `n` bytes of credit for receiver `conn` (a connection id)
    /// while a frame waits in its queue. A receiver taken off the transfer
    /// ([`Flow::cut_laggards`]) is charged nothing.
    pub fn charge_to(self: &Arc<Flow>, n: u64, conn: u64) -> Credit {
        let mut shares = self.lock();
        let held = shares.by_conn.entry(conn).or_default();
        let n = if held.cut { 0 } else { n };
        held.bytes += n;
        held.total += n;
        self.in_flight.fetch_add(n, Ordering::SeqCst);
        drop(shares);
        Credit {
            flow: Arc::clone(self),
            n,
            to: Some(conn),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shares> {
        // A panic while holding it leaves plain numbers: still usable.
        self.shares.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The one receiver of a private transfer is gone: the sender's next
    /// chunk is answered `FILESTOP`.
    pub fn receiver_gone(&self) {
        let _ =
            self.gone
                .compare_exchange(GONE_NO, GONE_LEFT, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// The one receiver of a private transfer accepts no binary frames (it
    /// got a `FILEOFFER` line): the sender's next chunk is answered
    /// `FILESTOP`.
    pub fn receiver_text_only(&self) {
        let _ = self.gone.compare_exchange(
            GONE_NO,
            GONE_TEXT_ONLY,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }

    /// Why the private receiver will not get the file, if it will not.
    fn gone_reason(&self) -> Option<&'static str> {
        match self.gone.load(Ordering::Relaxed) {
            GONE_NO => None,
            GONE_TEXT_ONLY => Some(RECEIVER_TEXT_ONLY),
            _ => Some(RECEIVER_LEFT),
        }
    }

    fn release(&self, n: u64, to: Option<u64>) {
        if let Some(conn) = to {
            let mut shares = self.lock();
            if let Some(held) = shares.by_conn.get_mut(&conn) {
                if held.cut {
                    // Already given back when it was cut.
                    return;
                }
                held.bytes = held.bytes.saturating_sub(n);
            }
        }
        if n > 0 {
            self.in_flight.fetch_sub(n, Ordering::SeqCst);
        }
        if self.waiting.load(Ordering::SeqCst) {
            self.cut_laggards(self.clock.now());
        }
        self.maybe_resume();
    }

    fn maybe_resume(&self) {
        if self.in_flight.load(Ordering::SeqCst) <= self.low
            && self.waiting.swap(false, Ordering::SeqCst)
        {
            self.lock().held_since = None;
            (self.resume)();
        }
        if let Some(hook) = &self.relay {
            hook(self);
        }
    }

    /// The rule for slow receivers (PROTOCOL.md, "Slow receivers"): when
    /// the sender has been held back (above the high-water mark) for
    /// [`SLOW_RECEIVER_PATIENCE`] while some receiver holds nothing of the
    /// file (it was sent every byte forwarded so far, took them all and
    /// waits for more), the receivers that
    /// hold at least half as much as the one furthest behind are far
    /// behind: they are taken off the transfer (their share given back at
    /// once, nothing more charged to them; their host sends them
    /// `FILEFAIL` instead of the next frame, see [`deliver_to`]), and the
    /// others go on. Called with the time on the rules' clock whenever
    /// bytes are given back while the sender is held, and at the sender's
    /// timer ticks ([`Session::on_timer`]: a receiver that stopped reading
    /// gives nothing back); returns how many were cut.
    pub fn cut_laggards(&self, now: Instant) -> usize {
        let mut shares = self.lock();
        let since = match shares.held_since {
            Some(t) => t,
            None => {
                shares.held_since = Some(now);
                return 0;
            }
        };
        if now.saturating_duration_since(since) < SLOW_RECEIVER_PATIENCE {
            return 0;
        }
        let live = || shares.by_conn.values().filter(|h| !h.cut);
        // Waiting: it got every byte sent so far and took them all.
        let newest = live().map(|h| h.total).max().unwrap_or(0);
        let someone_waits = live().any(|h| h.bytes == 0 && h.total == newest);
        let most = live().map(|h| h.bytes).max().unwrap_or(0);
        if !someone_waits || most == 0 {
            return 0;
        }
        let mut cut = 0;
        let mut freed = 0;
        for held in shares.by_conn.values_mut() {
            if !held.cut && !held.remote && held.bytes > 0 && held.bytes >= most / 2 {
                held.cut = true;
                freed += std::mem::take(&mut held.bytes);
                cut += 1;
            }
        }
        // Patience starts again for whoever still holds it back.
        shares.held_since = Some(now);
        drop(shares);
        self.in_flight.fetch_sub(freed, Ordering::SeqCst);
        self.maybe_resume();
        cut
    }

    /// Whether receiver `conn` was taken off this transfer, and if so
    /// whether this is the first time it is asked (it gets `FILEFAIL`
    /// then, nothing after).
    fn cut_for(&self, conn: u64) -> Option<bool> {
        let mut shares = self.lock();
        let held = shares.by_conn.get_mut(&conn)?;
        if !held.cut {
            return None;
        }
        Some(!std::mem::replace(&mut held.told, true))
    }

    /// True when the sender must not be read now. Then a resume call is
    /// sure to come: the waiting flag is set before the count is looked at
    /// again, and a releaser looks at the flag after lowering the count.
    fn over(&self) -> bool {
        if self.in_flight.load(Ordering::SeqCst) <= self.high {
            return false;
        }
        self.waiting.store(true, Ordering::SeqCst);
        if self.in_flight.load(Ordering::SeqCst) > self.high {
            let mut shares = self.lock();
            shares.held_since.get_or_insert_with(|| self.clock.now());
            return true;
        }
        self.waiting.store(false, Ordering::SeqCst);
        false
    }
}

/// Bytes charged to a [`Flow`], given back when dropped (written, thrown
/// away with a closing connection, or with a command nobody ran).
pub struct Credit {
    flow: Arc<Flow>,
    n: u64,
    /// The receiver's connection id; `None`: an I/O thread's share.
    to: Option<u64>,
}

impl Credit {
    /// The transfer this credit belongs to.
    pub fn flow(&self) -> &Arc<Flow> {
        &self.flow
    }

    /// The bytes it holds.
    pub fn bytes(&self) -> u64 {
        self.n
    }
}

impl Drop for Credit {
    fn drop(&mut self) {
        self.flow.release(self.n, self.to);
    }
}

/// What one receiver gets of a file's or binary message's frame.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery {
    /// The frame itself.
    Frame,
    /// This line instead (PROTOCOL.md, "Binary capability" and "Slow
    /// receivers").
    Line(Vec<u8>),
    /// Nothing.
    Nothing,
}

/// What receiver `session` (connection id `conn`) gets of `frame`, a
/// frame the sender's session handed its host ([`Host::frame`]) with the
/// transfer's `flow`: the one rule for every host. A client that did not
/// say `/binary on` gets one readable line for a `FILE` header
/// (`FILEOFFER`, and a private file's sender is stopped) or a `BYTES`
/// frame (`BYTESNOTE`), and nothing of the rest; a receiver taken off a
/// slow transfer gets `FILEFAIL` once, then nothing of it.
pub fn deliver_to(
    session: &Session,
    conn: u64,
    frame: &[u8],
    flow: Option<&Arc<Flow>>,
) -> Delivery {
    if !session.accepts_binary() {
        return match text_instead(frame) {
            Some((line, private_file)) => {
                if let (true, Some(f)) = (private_file, flow) {
                    f.receiver_text_only();
                }
                Delivery::Line(line)
            }
            None => Delivery::Nothing,
        };
    }
    match flow.and_then(|f| f.cut_for(conn).map(|first| (f, first))) {
        None => Delivery::Frame,
        Some((f, true)) => Delivery::Line(frame_of(ServerLine::FileFail {
            id: f.id,
            reason: TOO_SLOW,
        })),
        Some((_, false)) => Delivery::Nothing,
    }
}

/// The line a client that accepts no binary frames gets instead of
/// `frame`: `FILEOFFER` for a `FILE` header, `BYTESNOTE` for a `BYTES`
/// frame (with whether it was a private file), `None` for the rest of a
/// file (`CHUNK`, `FILEEND`, `FILEFAIL`).
pub fn text_instead(frame: &[u8]) -> Option<(Vec<u8>, bool)> {
    let head = frame.split(|b| *b == b'\n').next()?;
    let head = std::str::from_utf8(head).ok()?;
    let mut out = Vec::with_capacity(head.len() + 128);
    match ServerLine::parse(head).ok()? {
        ServerLine::File {
            from,
            id,
            size,
            private,
            name,
        } => {
            ServerLine::FileOffer {
                from,
                id,
                size,
                private,
                name,
            }
            .encode(&mut out);
            Some((out, private))
        }
        ServerLine::Bytes {
            from,
            size,
            private,
        } => {
            ServerLine::BytesNote {
                from,
                size,
                private,
            }
            .encode(&mut out);
            Some((out, false))
        }
        _ => None,
    }
}

/// Where the bytes of the payload being read go.
#[derive(Default, Debug)]
enum Sink {
    #[default]
    None,
    /// Thrown away (a refused `/bytes`, a chunk of no open transfer).
    Discard,
    /// A `/bytes` payload, gathered behind its `BYTES` header line.
    Bytes {
        /// `None`: to the sender itself.
        to: Option<Target>,
        frame: Vec<u8>,
        /// `*` or the nickname, for the `SENT` answer.
        answer: Box<str>,
        label: Option<Box<str>>,
    },
    /// The chunk of open transfer `id`.
    Chunk { id: u64 },
}

/// One open transfer of the sending connection.
#[derive(Debug)]
struct Outgoing {
    id: u64,
    to: Target,
    size: u64,
    /// Payload bytes forwarded so far.
    forwarded: u64,
    /// Bytes of the current piece (at most `piece`).
    buf: Vec<u8>,
    flow: Arc<Flow>,
}

/// The sender's side of a connection's files and binary messages.
#[derive(Debug)]
pub(super) struct Sending {
    sink: Sink,
    outgoing: Vec<Outgoing>,
    piece: usize,
}

/// A file frame (`FILE`, `FILEEND`, `FILEFAIL`) encoded on its own.
fn frame_of(line: ServerLine<&str>) -> Vec<u8> {
    let mut b = Vec::with_capacity(64);
    line.encode(&mut b);
    b
}

impl Sending {
    pub(super) fn new(rules: &Rules) -> Sending {
        Sending {
            sink: Sink::None,
            outgoing: Vec::new(),
            piece: MAX_PIECE.min(rules.max_queue_bytes / 8).max(1),
        }
    }

    /// The slow-receiver rule ([`Flow::cut_laggards`]) for every open
    /// transfer whose sender is held back, now on the rules' clock.
    pub(super) fn check_laggards(&self) {
        for o in &self.outgoing {
            if o.flow.waiting.load(Ordering::SeqCst) {
                o.flow.cut_laggards(o.flow.clock.now());
            }
        }
    }

    /// See [`super::Session::read_allowance`].
    pub(super) fn read_allowance(&self) -> Option<usize> {
        if self.outgoing.is_empty() {
            Some(usize::MAX)
        } else if self.outgoing.iter().any(|o| o.flow.over()) {
            None
        } else {
            Some(self.piece)
        }
    }

    /// A transfer line (`/bytes`, `/file`, `/chunk`, `/fileend`,
    /// `/fileabort`) from `nick`. A payload that follows goes where the
    /// line says ([`Sending::on_payload`]).
    pub(super) fn on_command<H: Host + ?Sized>(
        &mut self,
        label: Option<&str>,
        nick: &str,
        line: ClientLine<'_>,
        cx: &mut Cx<'_, H>,
    ) {
        self.sink = match line {
            ClientLine::Bytes { to, size } => self.bytes_header(label, nick, to, size, cx),
            ClientLine::File { to, size, name } => {
                self.file_header(label, nick, to, size, name, cx);
                Sink::None
            }
            ClientLine::Chunk { id, size } => self.chunk_header(label, id, size, cx),
            ClientLine::FileEnd { id } => {
                self.file_end(label, id, cx);
                Sink::None
            }
            ClientLine::FileAbort { id } => {
                self.fail_outgoing(
                    label,
                    id,
                    "o remetente desistiu (cancelled by the sender)",
                    "cancelled",
                    cx,
                );
                Sink::None
            }
            _ => Sink::None,
        };
    }

    /// Where `to` (a nickname, or `None` for everyone) is: `Err` after
    /// answering `ERROR 02`; `Ok(None)` is the sender itself.
    fn resolve<H: Host + ?Sized>(
        label: Option<&str>,
        to: Option<&str>,
        cx: &mut Cx<'_, H>,
    ) -> Result<Option<Target>, ()> {
        let Some(to) = to else {
            return Ok(Some(cx.host.everyone()));
        };
        match locate(label, to, cx) {
            None => Err(()),
            Some(p) if p == cx.host.me() => Ok(None),
            Some(p) => Ok(Some(Target::One(p))),
        }
    }

    /// `/bytes <to|*> <size>`.
    fn bytes_header<H: Host + ?Sized>(
        &mut self,
        label: Option<&str>,
        nick: &str,
        to: Option<&str>,
        size: u64,
        cx: &mut Cx<'_, H>,
    ) -> Sink {
        let max = cx.rules.max_payload_bytes;
        if size > max as u64 {
            let detail = format!(
                "binary message of {size} bytes, over the limit of {max} bytes; its bytes are skipped"
            );
            reply_error(cx, label, ErrorCode::TooLong, None, Some(&detail));
            return Sink::Discard;
        }
        let Ok(target) = Self::resolve(label, to, cx) else {
            return Sink::Discard;
        };
        let reserve = usize::try_from(size).unwrap_or(MAX_PIECE).min(MAX_PIECE);
        let mut frame = Vec::with_capacity(40 + nick.len() + reserve);
        ServerLine::Bytes {
            from: nick,
            size,
            private: to.is_some(),
        }
        .encode(&mut frame);
        let conversation = match to {
            None => Conversation::Public,
            Some(to) => Conversation::private(nick, to),
        };
        let tag = super::stamp(cx);
        cx.host.history().record(
            conversation,
            tag,
            HistoryKind::Bytes,
            nick,
            &size.to_string(),
        );
        Sink::Bytes {
            to: target,
            frame,
            answer: Box::from(to.unwrap_or("*")),
            label: label.map(Box::from),
        }
    }

    /// `/file <to|*> <size> :<name>`.
    fn file_header<H: Host + ?Sized>(
        &mut self,
        label: Option<&str>,
        nick: &str,
        to: Option<&str>,
        size: u64,
        name: &str,
        cx: &mut Cx<'_, H>,
    ) {
        let max = cx.rules.max_file_bytes;
        if size > max {
            let detail = format!("file of {size} bytes, over the limit of {max} bytes");
            return reply_error(cx, label, ErrorCode::TooLong, None, Some(&detail));
        }
        if self.outgoing.len() >= MAX_OPEN_FILES {
            let detail = format!("{MAX_OPEN_FILES} file transfers open already");
            return reply_error(cx, label, ErrorCode::ServerFull, None, Some(&detail));
        }
        let Ok(target) = Self::resolve(label, to, cx) else {
            return;
        };
        // A file to oneself travels through the host like any other.
        let target = target.unwrap_or(Target::One(cx.host.me()));
        let id = cx.host.transfer_id();
        let flow = Arc::new(Flow::new(id, cx.rules, cx.host.resumer()));
        let header = frame_of(ServerLine::File {
            from: nick,
            id,
            size,
            private: matches!(target, Target::One(_)),
            name,
        });
        cx.host.frame(target, header, Some(&flow), false);
        let conversation = match to {
            None => Conversation::Public,
            Some(to) => Conversation::private(nick, to),
        };
        let tag = super::stamp(cx);
        cx.host
            .history()
            .record(conversation, tag, HistoryKind::File, nick, name);
        self.outgoing.push(Outgoing {
            id,
            to: target,
            size,
            forwarded: 0,
            buf: Vec::new(),
            flow,
        });
        ServerLine::<&str>::FileOk { id }.encode_labeled(label, cx.host.reply());
    }

    fn index(&self, id: u64) -> Option<usize> {
        self.outgoing.iter().position(|o| o.id == id)
    }

    fn no_transfer<H: Host + ?Sized>(label: Option<&str>, id: u64, cx: &mut Cx<'_, H>) {
        ServerLine::FileStop {
            id,
            reason: NO_TRANSFER,
        }
        .encode_labeled(label, cx.host.reply());
    }

    /// `/chunk <id> <size>`: where its payload goes.
    fn chunk_header<H: Host + ?Sized>(
        &mut self,
        label: Option<&str>,
        id: u64,
        size: u64,
        cx: &mut Cx<'_, H>,
    ) -> Sink {
        let Some(o) = self.index(id).and_then(|k| self.outgoing.get(k)) else {
            Self::no_transfer(label, id, cx);
            return Sink::Discard;
        };
        if let Some(why) = o.flow.gone_reason() {
            self.drop_outgoing(label, id, None, why, cx);
            return Sink::Discard;
        }
        if o.forwarded + o.buf.len() as u64 + size > o.size {
            self.fail_outgoing(
                label,
                id,
                "o arquivo passou do tamanho anunciado (more bytes than announced)",
                "more bytes than announced",
                cx,
            );
            return Sink::Discard;
        }
        Sink::Chunk { id }
    }

    /// `/fileend <id>`.
    fn file_end<H: Host + ?Sized>(&mut self, label: Option<&str>, id: u64, cx: &mut Cx<'_, H>) {
        let Some(k) = self.index(id) else {
            return Self::no_transfer(label, id, cx);
        };
        self.forward_piece(k, cx);
        let Some(o) = self.outgoing.get(k) else {
            return;
        };
        let (forwarded, size) = (o.forwarded, o.size);
        if let Some(why) = o.flow.gone_reason() {
            self.drop_outgoing(label, id, None, why, cx);
        } else if forwarded != size {
            let reason = format!(
                "o arquivo terminou antes do tamanho anunciado ({forwarded} of {size} bytes)"
            );
            self.fail_outgoing(label, id, &reason, &reason, cx);
        } else {
            let o = self.outgoing.swap_remove(k);
            cx.host.frame(
                o.to,
                frame_of(ServerLine::FileEnd { id }),
                Some(&o.flow),
                false,
            );
            ServerLine::<&str>::FileDone { id }.encode_labeled(label, cx.host.reply());
        }
    }

    /// Ends open transfer `id` early: receivers get `FILEFAIL` with
    /// `fail_reason`, the sender `FILESTOP` with `stop_reason`.
    fn fail_outgoing<H: Host + ?Sized>(
        &mut self,
        label: Option<&str>,
        id: u64,
        fail_reason: &str,
        stop_reason: &str,
        cx: &mut Cx<'_, H>,
    ) {
        match self.index(id) {
            Some(_) => self.drop_outgoing(label, id, Some(fail_reason), stop_reason, cx),
            None => Self::no_transfer(label, id, cx),
        }
    }

    fn drop_outgoing<H: Host + ?Sized>(
        &mut self,
        label: Option<&str>,
        id: u64,
        fail_reason: Option<&str>,
        stop_reason: &str,
        cx: &mut Cx<'_, H>,
    ) {
        let Some(k) = self.index(id) else {
            return;
        };
        let o = self.outgoing.swap_remove(k);
        if let Some(reason) = fail_reason {
            let fail = frame_of(ServerLine::FileFail { id, reason });
            cx.host.frame(o.to, fail, Some(&o.flow), false);
        }
        ServerLine::FileStop {
            id,
            reason: stop_reason,
        }
        .encode_labeled(label, cx.host.reply());
    }

    /// Payload bytes of the current `/bytes` or `/chunk`.
    pub(super) fn on_payload<H: Host + ?Sized>(&mut self, mut data: &[u8], cx: &mut Cx<'_, H>) {
        let id = match &mut self.sink {
            Sink::Bytes { frame, .. } => {
                frame.extend_from_slice(data);
                return;
            }
            Sink::Chunk { id } => *id,
            Sink::None | Sink::Discard => return,
        };
        let Some(k) = self.index(id) else {
            return;
        };
        let piece = self.piece;
        while !data.is_empty() {
            let Some(o) = self.outgoing.get_mut(k) else {
                return;
            };
            let room = piece.saturating_sub(o.buf.len()).max(1);
            let (now, rest) = data.split_at(room.min(data.len()));
            o.buf.extend_from_slice(now);
            data = rest;
            if o.buf.len() >= piece {
                self.forward_piece(k, cx);
            }
        }
    }

    /// The current payload is complete.
    pub(super) fn on_payload_end<H: Host + ?Sized>(&mut self, cx: &mut Cx<'_, H>) {
        match std::mem::take(&mut self.sink) {
            Sink::None | Sink::Discard => {}
            Sink::Bytes {
                to,
                mut frame,
                answer,
                label,
            } => {
                frame.push(PAYLOAD_END);
                match to {
                    None => cx.host.reply_frame(&frame),
                    Some(target) => cx.host.frame(target, frame, None, false),
                }
                ServerLine::Sent { to: &*answer }.encode_labeled(label.as_deref(), cx.host.reply());
            }
            Sink::Chunk { id } => {
                // A chunk's end is a piece's end: small chunks go out at once.
                if let Some(k) = self.index(id) {
                    self.forward_piece(k, cx);
                }
            }
        }
    }

    /// Sends the bytes gathered for open transfer number `k` as one `CHUNK`
    /// frame, and tells the sender how far it got (`FILEACK`).
    fn forward_piece<H: Host + ?Sized>(&mut self, k: usize, cx: &mut Cx<'_, H>) {
        let Some(o) = self.outgoing.get_mut(k) else {
            return;
        };
        if o.buf.is_empty() {
            return;
        }
        let n = o.buf.len();
        let mut frame = Vec::with_capacity(40 + n);
        ServerLine::<&str>::Chunk {
            id: o.id,
            size: n as u64,
        }
        .encode(&mut frame);
        frame.extend_from_slice(&o.buf);
        frame.push(PAYLOAD_END);
        o.buf.clear();
        if o.buf.capacity() > MAX_PIECE {
            o.buf = Vec::new();
        }
        o.forwarded += n as u64;
        let (to, id, forwarded) = (o.to, o.id, o.forwarded);
        let flow = Arc::clone(&o.flow);
        cx.host.frame(to, frame, Some(&flow), true);
        ServerLine::<&str>::FileAck {
            id,
            bytes: forwarded,
        }
        .encode(cx.host.reply());
    }

    /// The sender's session ends: its open files fail for their receivers.
    pub(super) fn sender_left<H: Host + ?Sized>(self, cx: &mut Cx<'_, H>) {
        for o in self.outgoing {
            let fail = frame_of(ServerLine::FileFail {
                id: o.id,
                reason: "o remetente saiu (the sender left)",
            });
            cx.host.frame(o.to, fail, Some(&o.flow), false);
        }
    }
}
