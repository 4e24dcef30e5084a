//! File transfers and binary messages inside one I/O thread (PROTOCOL.md,
//! "Files and binary payloads"). A child module of `worker`, so that it can
//! reach the connection state; the worker calls it through a few small
//! hooks (reading, writing, closing, sweeping, and its inbox).
//!
//! # Streaming
//!
//! The sender's `/chunk` payloads are never held whole: their bytes are cut
//! into pieces of at most `piece` bytes (64 KiB with the default queue
//! limit), and each piece goes out at once as one `CHUNK <id> <n>` frame,
//! encoded once and shared by every receiver (`Arc<[u8]>`). A piece is the
//! most the server keeps per open transfer. `/bytes` payloads are messages:
//! they are gathered whole (at most `max_payload_bytes`) and sent as one
//! `BYTES` frame.
//!
//! # Flow control
//!
//! Every transfer has a [`Flow`] counting the bytes of its frames that
//! were forwarded but not yet written to the receivers' sockets (in the
//! other threads' inboxes, then in each receiver's outbound buffer). Before
//! each read from the sender's socket, the sender's thread looks at that
//! count: above the high-water mark (half of `max_queue_bytes`), it stops
//! reading the sender (TCP then slows the sender down) until the count
//! falls to the low-water mark (a quarter), when the thread that released
//! the last bytes sends it [`XCmd::Resume`]. So a transfer goes at the pace
//! of its slowest receiver, memory stays flat whatever the file's size,
//! and a receiver's queue never holds more than about half its limit of
//! file data: chat lines to it (and to everyone else) wait behind at most
//! that much, and file data alone never makes it a slow consumer.
//!
//! A receiver that takes nothing for `file_stall_timeout` while file data
//! waits for it is stuck: it is dropped as a slow consumer (`ERROR 03`),
//! which releases its share and lets the others go on. Pausing the sender
//! rather than dropping receivers at once keeps every reader that reads,
//! however slowly; the stall timeout keeps one that does not read from
//! holding everybody else.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use super::{after_append, Phase, Worker};
use crate::error::ErrorCode;
use crate::protocol::transfer::encode as xencode;
use crate::protocol::{
    encode, parse_transfer_command, strip_cr, validate_nick, Frame, LineEvent, Next,
    TransferCommand,
};
use crate::server::clock;
use crate::server::shared::{Cmd, Shared};

/// Most bytes of one `CHUNK` frame the server sends (less with a small
/// `max_queue_bytes`: an eighth of it).
pub(super) const MAX_PIECE: usize = 64 * 1024;

/// Most file transfers one connection may have open at once; one more
/// `/file` gets `ERROR 12`.
pub(super) const MAX_OPEN_FILES: usize = 16;

/// Numbers of transfers, unique in the process (so on every server).
static NEXT_TRANSFER_ID: AtomicU64 = AtomicU64::new(1);

/// Who gets the frames of a transfer or of a binary message.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Target {
    /// Every registered connection of a thread registered before the
    /// change numbered `seq` (so not the ones that joined after the
    /// transfer began), except connection `except` (the sender).
    All { seq: u64, except: u64 },
    /// Connection `id` in slot `slot` of thread `thread`.
    One { thread: usize, slot: usize, id: u64 },
}

/// A transfer command for an I/O thread (inside [`Cmd::Transfer`]).
pub(crate) enum XCmd {
    /// One whole frame (`FILE`, `CHUNK`, `FILEEND`, `FILEFAIL` or `BYTES`)
    /// for the connections of this thread that `to` names. `credit` is the
    /// share of a transfer's [`Flow`] charged for this thread; receivers
    /// take their own share when the frame is queued to them.
    Frame {
        to: Target,
        bytes: Arc<[u8]>,
        credit: Option<Credit>,
    },
    /// The transfers of connection `id` (slot `slot` of this thread) fell
    /// below their low-water mark: read its socket again.
    Resume { slot: usize, id: u64 },
}

/// The flow control of one transfer (see the module docs).
pub(crate) struct Flow {
    /// Bytes of this transfer's frames forwarded and not yet written to a
    /// receiver's socket (or dropped).
    in_flight: AtomicU64,
    /// The sender's thread stopped reading it and waits for a `Resume`.
    waiting: AtomicBool,
    /// A private transfer's receiver is gone.
    gone: AtomicBool,
    high: u64,
    low: u64,
    /// The sender: thread, slot, connection id.
    thread: usize,
    slot: usize,
    id: u64,
    /// Weak, so that frames still queued in an inbox when the server stops
    /// do not keep the shared state alive through their credit.
    shared: Weak<Shared>,
}

impl Flow {
    /// Takes `n` bytes of credit; they are given back when the returned
    /// [`Credit`] is dropped.
    fn charge(self: &Arc<Flow>, n: u64) -> Credit {
        self.in_flight.fetch_add(n, Ordering::SeqCst);
        Credit {
            flow: Arc::clone(self),
            n,
        }
    }

    fn release(&self, n: u64) {
        if n == 0 {
            return;
        }
        let before = self.in_flight.fetch_sub(n, Ordering::SeqCst);
        let now = before.saturating_sub(n);
        if now <= self.low && self.waiting.swap(false, Ordering::SeqCst) {
            if let Some(shared) = self.shared.upgrade() {
                if let Some(inbox) = shared.inboxes.get(self.thread) {
                    inbox.push(Cmd::Transfer(XCmd::Resume {
                        slot: self.slot,
                        id: self.id,
                    }));
                    inbox.notify();
                }
            }
        }
    }

    /// Called by the sender's thread before reading the sender: true when
    /// it must not read now. Then a `Resume` is sure to come (the waiting
    /// flag is set before the count is looked at again, and a releaser
    /// looks at the flag after lowering the count).
    fn over(&self) -> bool {
        if self.in_flight.load(Ordering::SeqCst) <= self.high {
            return false;
        }
        self.waiting.store(true, Ordering::SeqCst);
        if self.in_flight.load(Ordering::SeqCst) > self.high {
            return true;
        }
        self.waiting.store(false, Ordering::SeqCst);
        false
    }
}

/// Bytes charged to a [`Flow`], given back when dropped (written, thrown
/// away with a closing connection, or with a command nobody ran).
pub(crate) struct Credit {
    flow: Arc<Flow>,
    n: u64,
}

impl Drop for Credit {
    fn drop(&mut self) {
        self.flow.release(self.n);
    }
}

/// Where the bytes of the payload being read go.
#[derive(Default)]
enum Sink {
    #[default]
    None,
    /// Thrown away (a refused `/bytes`, a chunk of no open transfer).
    Discard,
    /// A `/bytes` payload, gathered behind its `BYTES` header line.
    Bytes {
        to: BytesTo,
        frame: Vec<u8>,
        /// `*` or the nickname, for the `SENT` answer.
        answer: Box<str>,
    },
    /// The chunk of open transfer `id`.
    Chunk { id: u64 },
}

enum BytesTo {
    Others(Target),
    /// A binary message to oneself: answered directly, like a private
    /// message to oneself.
    Myself,
}

/// One open transfer of the sending connection.
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

/// The transfer state of one connection, boxed so that connections that
/// never transfer anything pay one pointer.
#[derive(Default)]
pub(crate) struct ConnXfer {
    // As a sender.
    sink: Sink,
    outgoing: Vec<Outgoing>,
    piece: usize,
    // As a receiver.
    /// Credits for file bytes queued to this connection, with the stream
    /// offset (`written` + queued) at which each is fully written.
    credits: VecDeque<(u64, Credit)>,
    /// Bytes written to this socket since the state was created.
    written: u64,
    /// Stream offsets (`written` space) of the payload frames queued to
    /// this connection and not yet fully written, adjacent ones merged up
    /// to [`FRAME_RUN`] bytes: a slow consumer's queue is cut at a frame's
    /// end, never inside a payload (where a LF may be a payload byte).
    frames: VecDeque<(u64, u64)>,
    /// Last time a byte was written while file data waited.
    last_progress: Option<Instant>,
    /// In the thread's stall watch list.
    watched: bool,
}

impl ConnXfer {
    /// Bytes were written to the socket: the credits of frames now fully
    /// written are given back.
    pub(super) fn on_written(&mut self, sent: u64) {
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
        self.last_progress = Some(clock::now());
    }

    /// If the socket stopped inside a payload frame, the bytes from the
    /// next byte to write (`out_pos`) to that frame's end.
    pub(super) fn open_frame_rest(&self) -> Option<usize> {
        self.frames
            .front()
            .filter(|(start, end)| *start < self.written && *end > self.written)
            .and_then(|(_, end)| usize::try_from(end - self.written).ok())
    }

    /// Forgets the queued frames (the queue was cut).
    pub(super) fn forget_frames(&mut self) {
        self.frames.clear();
    }
}

/// Adjacent payload frames are remembered as one span up to this many
/// bytes (so a flood of tiny binary messages costs few entries); cutting a
/// slow consumer's queue keeps at most this much more than needed.
const FRAME_RUN: u64 = 64 * 1024;

/// Records that the last `len` bytes of `c.out` are one payload frame
/// (`BYTES`/`CHUNK` header, payload, LF); returns the connection's
/// transfer state and the stream offset at which that frame is written.
fn note_frame(c: &mut super::Conn, len: usize) -> (&mut ConnXfer, u64) {
    let queued = c.queued() as u64;
    let x = c.xfer.get_or_insert_with(Box::default);
    let end = x.written + queued;
    let start = end.saturating_sub(len as u64);
    match x.frames.back_mut() {
        Some((s, e)) if *e == start && end - *s <= FRAME_RUN => *e = end,
        _ => x.frames.push_back((start, end)),
    }
    (x, end)
}

/// Per-thread transfer state.
#[derive(Default)]
pub(crate) struct ThreadXfer {
    /// Connections holding file data (slot, id), checked for stalls.
    watch: Vec<(usize, u64)>,
}

/// How many bytes may be read from connection `c` now: `None` while one of
/// its transfers is over its high-water mark, a piece while it has open
/// transfers (so that one read forwards at most about a piece), else
/// `usize::MAX`.
pub(super) fn read_limit(x: Option<&ConnXfer>) -> Option<usize> {
    match x {
        Some(x) if !x.outgoing.is_empty() => {
            if x.outgoing.iter().any(|o| o.flow.over()) {
                None
            } else {
                Some(x.piece.max(1))
            }
        }
        _ => Some(usize::MAX),
    }
}

/// Whether `raw` can be a transfer command: its first character after
/// leading whitespace is `/`. Chat lines (`:text`, `Nick:text`) skip the
/// UTF-8 check and the command parser here (they get both in `on_line`);
/// that was a second pass over every message. A line starting with a
/// non-ASCII byte (which could be Unicode whitespace) takes the full check.
fn may_be_command(raw: &[u8]) -> bool {
    // The ASCII characters `str::trim_start` removes (Unicode White_Space).
    let space = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r');
    match raw.iter().find(|b| !space(b)) {
        Some(&b) => b == b'/' || !b.is_ascii(),
        None => false,
    }
}

fn keep(worker: &Worker, i: usize) -> Next {
    match worker.slots.get(i) {
        Some(Some(c)) if c.phase != Phase::Closing && !c.doomed => Next::Continue,
        _ => Next::Stop,
    }
}

fn next_of(keep_going: bool) -> Next {
    if keep_going {
        Next::Continue
    } else {
        Next::Stop
    }
}

impl Worker {
    /// One framing event of connection `i`: transfer commands and payload
    /// bytes are handled here, every other line by `on_line`.
    pub(super) fn on_frame(&mut self, i: usize, frame: Frame<'_>) -> Next {
        // hardening: shutdown quiesce and the flood limit (worker.rs).
        if !self.admit_frame(i, &frame) {
            return Next::Stop;
        }
        match frame {
            Frame::Line(raw) => {
                let registered =
                    matches!(self.slots.get(i), Some(Some(c)) if c.phase == Phase::Registered);
                if registered && may_be_command(raw) {
                    if let Ok(text) = std::str::from_utf8(strip_cr(raw)) {
                        if let Some(cmd) = parse_transfer_command(text) {
                            let next = self.on_transfer_command(i, cmd);
                            return match keep(self, i) {
                                Next::Stop => Next::Stop,
                                _ => next,
                            };
                        }
                    }
                }
                next_of(self.on_line(i, LineEvent::Line(raw)))
            }
            Frame::TooLong => next_of(self.on_line(i, LineEvent::TooLong)),
            Frame::Overflow => next_of(self.on_line(i, LineEvent::Overflow)),
            Frame::Payload(data) => {
                self.on_payload(i, data);
                keep(self, i)
            }
            Frame::PayloadEnd => {
                self.on_payload_end(i);
                keep(self, i)
            }
        }
    }

    fn xfer_mut(&mut self, i: usize) -> Option<&mut ConnXfer> {
        match self.slots.get_mut(i) {
            Some(Some(c)) => Some(c.xfer.get_or_insert_with(Box::default)),
            _ => None,
        }
    }

    fn set_sink(&mut self, i: usize, sink: Sink) {
        if let Some(x) = self.xfer_mut(i) {
            x.sink = sink;
        }
    }

    /// Where `to` (a nickname, or `None` for everyone) is: `Err` after
    /// answering `ERROR 02`. `Ok(None)` is the sender itself.
    fn resolve(&mut self, i: usize, to: Option<&str>) -> Result<Option<Target>, ()> {
        let Some(Some(c)) = self.slots.get(i) else {
            return Err(());
        };
        let me = c.id;
        let Some(to) = to else {
            let seq = self.shared.change_seq.load(Ordering::Acquire) + 1;
            return Ok(Some(Target::All { seq, except: me }));
        };
        if validate_nick(to, self.shared.cfg.max_nick_chars).is_err() {
            self.reply_error(i, ErrorCode::NoSuchUser, None, None);
            return Err(());
        }
        match self.shared.lookup(to) {
            None => {
                self.reply_error(i, ErrorCode::NoSuchUser, Some(to), None);
                Err(())
            }
            Some((_, _, id)) if id == me => Ok(None),
            Some((thread, slot, id)) => Ok(Some(Target::One { thread, slot, id })),
        }
    }

    fn on_transfer_command(
        &mut self,
        i: usize,
        cmd: Result<TransferCommand<'_>, ErrorCode>,
    ) -> Next {
        let cmd = match cmd {
            Ok(cmd) => cmd,
            Err(code) => {
                self.reply_error(i, code, None, None);
                return Next::Continue;
            }
        };
        let payload = cmd.payload_size();
        let sink = match cmd {
            TransferCommand::Bytes { to, size } => self.bytes_header(i, to, size),
            TransferCommand::File { to, size, name } => {
                self.file_header(i, to, size, name);
                Sink::None
            }
            TransferCommand::Chunk { id, size } => self.chunk_header(i, id, size),
            TransferCommand::FileEnd { id } => {
                self.file_end(i, id);
                Sink::None
            }
            TransferCommand::FileAbort { id } => {
                self.fail_outgoing(
                    i,
                    id,
                    "o remetente desistiu (cancelled by the sender)",
                    "cancelled",
                );
                Sink::None
            }
        };
        self.set_sink(i, sink);
        if payload > 0 {
            Next::Payload(payload)
        } else {
            // A payload of 0 bytes ends at once.
            self.on_payload_end(i);
            Next::Continue
        }
    }

    /// `/bytes <to|*> <size>`.
    fn bytes_header(&mut self, i: usize, to: Option<&str>, size: u64) -> Sink {
        let max = self.shared.cfg.max_payload_bytes;
        if size > max as u64 {
            let detail = format!(
                "binary message of {size} bytes, over the limit of {max} bytes; its bytes are skipped"
            );
            self.reply_error(i, ErrorCode::TooLong, None, Some(&detail));
            return Sink::Discard;
        }
        let target = match self.resolve(i, to) {
            Ok(t) => t,
            Err(()) => return Sink::Discard,
        };
        let Some(Some(c)) = self.slots.get(i) else {
            return Sink::Discard;
        };
        let from = c.nick.clone().unwrap_or_else(|| Arc::from(""));
        let private = to.is_some();
        let reserve = (size as usize).min(MAX_PIECE);
        let mut frame = Vec::with_capacity(40 + from.len() + reserve);
        xencode::bytes(&mut frame, &from, size, private);
        Sink::Bytes {
            to: match target {
                Some(t) => BytesTo::Others(t),
                None => BytesTo::Myself,
            },
            frame,
            answer: Box::from(to.unwrap_or("*")),
        }
    }

    /// `/file <to|*> <size> :<name>`.
    fn file_header(&mut self, i: usize, to: Option<&str>, size: u64, name: &str) {
        let max = self.shared.cfg.max_file_bytes;
        if size > max {
            let detail = format!("file of {size} bytes, over the limit of {max} bytes");
            self.reply_error(i, ErrorCode::TooLong, None, Some(&detail));
            return;
        }
        let open = match self.slots.get(i) {
            Some(Some(c)) => c.xfer.as_ref().map_or(0, |x| x.outgoing.len()),
            _ => return,
        };
        if open >= MAX_OPEN_FILES {
            let detail = format!("{MAX_OPEN_FILES} file transfers open already");
            self.reply_error(i, ErrorCode::ServerFull, None, Some(&detail));
            return;
        }
        let target = match self.resolve(i, to) {
            Ok(t) => t,
            Err(()) => return,
        };
        let (me, from) = match self.slots.get(i) {
            Some(Some(c)) => (c.id, c.nick.clone().unwrap_or_else(|| Arc::from(""))),
            _ => return,
        };
        // A file to oneself travels through this thread's own inbox.
        let target = target.unwrap_or(Target::One {
            thread: self.idx,
            slot: i,
            id: me,
        });
        let id = NEXT_TRANSFER_ID.fetch_add(1, Ordering::Relaxed);
        let max_queue = self.shared.cfg.max_queue_bytes as u64;
        let high = (max_queue / 2).max(1);
        let flow = Arc::new(Flow {
            in_flight: AtomicU64::new(0),
            waiting: AtomicBool::new(false),
            gone: AtomicBool::new(false),
            high,
            low: high / 2,
            thread: self.idx,
            slot: i,
            id: me,
            shared: Arc::downgrade(&self.shared),
        });
        let mut header = Vec::with_capacity(64 + from.len() + name.len());
        xencode::file(
            &mut header,
            &from,
            id,
            size,
            matches!(target, Target::One { .. }),
            name,
        );
        self.send_frame(target, header, Some(&flow), false);
        let piece = MAX_PIECE.min(self.shared.cfg.max_queue_bytes / 8).max(1);
        if let Some(x) = self.xfer_mut(i) {
            x.piece = piece;
            x.outgoing.push(Outgoing {
                id,
                to: target,
                size,
                forwarded: 0,
                buf: Vec::new(),
                flow,
            });
        }
        self.reply_with(i, |o| xencode::file_ok(o, id));
    }

    fn outgoing_index(&self, i: usize, id: u64) -> Option<usize> {
        match self.slots.get(i) {
            Some(Some(c)) => c
                .xfer
                .as_ref()
                .and_then(|x| x.outgoing.iter().position(|o| o.id == id)),
            _ => None,
        }
    }

    /// `/chunk <id> <size>`: where its payload goes.
    fn chunk_header(&mut self, i: usize, id: u64, size: u64) -> Sink {
        let Some(k) = self.outgoing_index(i, id) else {
            self.reply_with(i, |o| {
                xencode::file_stop(o, id, "nenhuma transferência aberta (no open transfer)")
            });
            return Sink::Discard;
        };
        let (over, gone) = match self.xfer_mut(i).and_then(|x| x.outgoing.get(k)) {
            Some(o) => (
                o.forwarded + o.buf.len() as u64 + size > o.size,
                o.flow.gone.load(Ordering::Relaxed),
            ),
            None => return Sink::Discard,
        };
        if gone {
            self.drop_outgoing(i, id, None, "o destinatário saiu (the receiver left)");
            return Sink::Discard;
        }
        if over {
            self.fail_outgoing(
                i,
                id,
                "o arquivo passou do tamanho anunciado (more bytes than announced)",
                "more bytes than announced",
            );
            return Sink::Discard;
        }
        Sink::Chunk { id }
    }

    /// `/fileend <id>`.
    fn file_end(&mut self, i: usize, id: u64) {
        let Some(k) = self.outgoing_index(i, id) else {
            self.reply_with(i, |o| {
                xencode::file_stop(o, id, "nenhuma transferência aberta (no open transfer)")
            });
            return;
        };
        self.forward_piece(i, k);
        let Some((forwarded, size, gone)) = self
            .xfer_mut(i)
            .and_then(|x| x.outgoing.get(k))
            .map(|o| (o.forwarded, o.size, o.flow.gone.load(Ordering::Relaxed)))
        else {
            return;
        };
        if gone {
            self.drop_outgoing(i, id, None, "o destinatário saiu (the receiver left)");
        } else if forwarded != size {
            let reason = format!(
                "o arquivo terminou antes do tamanho anunciado ({forwarded} of {size} bytes)"
            );
            self.fail_outgoing(i, id, &reason, &reason);
        } else {
            let mut end = Vec::with_capacity(32);
            xencode::file_end(&mut end, id);
            if let Some(o) = self.take_outgoing(i, id) {
                self.send_frame(o.to, end, Some(&o.flow), false);
            }
            self.reply_with(i, |o| xencode::file_done(o, id));
        }
    }

    fn take_outgoing(&mut self, i: usize, id: u64) -> Option<Outgoing> {
        let x = self.xfer_mut(i)?;
        let k = x.outgoing.iter().position(|o| o.id == id)?;
        Some(x.outgoing.swap_remove(k))
    }

    /// Ends open transfer `id` of connection `i` early: receivers get
    /// `FILEFAIL` with `fail_reason`, the sender `FILESTOP` with
    /// `stop_reason`.
    fn fail_outgoing(&mut self, i: usize, id: u64, fail_reason: &str, stop_reason: &str) {
        match self.outgoing_index(i, id) {
            Some(_) => self.drop_outgoing(i, id, Some(fail_reason), stop_reason),
            None => self.reply_with(i, |o| {
                xencode::file_stop(o, id, "nenhuma transferência aberta (no open transfer)")
            }),
        }
    }

    fn drop_outgoing(&mut self, i: usize, id: u64, fail_reason: Option<&str>, stop_reason: &str) {
        let Some(o) = self.take_outgoing(i, id) else {
            return;
        };
        if let Some(reason) = fail_reason {
            let mut fail = Vec::with_capacity(32 + reason.len());
            xencode::file_fail(&mut fail, id, reason);
            self.send_frame(o.to, fail, Some(&o.flow), false);
        }
        self.reply_with(i, |out| xencode::file_stop(out, id, stop_reason));
    }

    fn on_payload(&mut self, i: usize, mut data: &[u8]) {
        let Some(x) = self.xfer_mut(i) else {
            return;
        };
        let id = match &mut x.sink {
            Sink::Bytes { frame, .. } => {
                frame.extend_from_slice(data);
                return;
            }
            Sink::Chunk { id } => *id,
            Sink::None | Sink::Discard => return,
        };
        let piece = x.piece.max(1);
        while !data.is_empty() {
            let Some(k) = self.outgoing_index(i, id) else {
                return;
            };
            let Some(o) = self.xfer_mut(i).and_then(|x| x.outgoing.get_mut(k)) else {
                return;
            };
            let room = piece.saturating_sub(o.buf.len()).max(1);
            let (now, rest) = data.split_at(room.min(data.len()));
            o.buf.extend_from_slice(now);
            data = rest;
            if o.buf.len() >= piece {
                self.forward_piece(i, k);
            }
        }
    }

    fn on_payload_end(&mut self, i: usize) {
        let Some(x) = self.xfer_mut(i) else {
            return;
        };
        match std::mem::take(&mut x.sink) {
            Sink::None | Sink::Discard => {}
            Sink::Bytes {
                to,
                mut frame,
                answer,
            } => {
                frame.push(b'\n');
                match to {
                    BytesTo::Myself => {
                        let open = matches!(self.slots.get(i),
                            Some(Some(c)) if c.phase != Phase::Closing && !c.doomed);
                        if open {
                            self.deliver_frame(i, &frame, None);
                        }
                        self.reply_with(i, |o| encode::sent(o, &answer));
                    }
                    BytesTo::Others(target) => {
                        self.send_frame(target, frame, None, false);
                        self.reply_with(i, |o| encode::sent(o, &answer));
                    }
                }
            }
            Sink::Chunk { id } => {
                // A chunk's end is a piece's end: small chunks go out at once.
                if let Some(k) = self.outgoing_index(i, id) {
                    self.forward_piece(i, k);
                }
            }
        }
    }

    /// Sends the bytes gathered for open transfer number `k` of connection
    /// `i` as one `CHUNK` frame, and tells the sender (`FILEACK`).
    fn forward_piece(&mut self, i: usize, k: usize) {
        let Some(o) = self.xfer_mut(i).and_then(|x| x.outgoing.get_mut(k)) else {
            return;
        };
        if o.buf.is_empty() {
            return;
        }
        let n = o.buf.len();
        let mut frame = Vec::with_capacity(40 + n);
        xencode::chunk(&mut frame, o.id, n as u64);
        frame.extend_from_slice(&o.buf);
        frame.push(b'\n');
        o.buf.clear();
        if o.buf.capacity() > MAX_PIECE {
            o.buf = Vec::new();
        }
        o.forwarded += n as u64;
        let (to, flow, id, forwarded) = (o.to, Arc::clone(&o.flow), o.id, o.forwarded);
        self.send_frame(to, frame, Some(&flow), true);
        self.reply_with(i, |out| xencode::file_ack(out, id, forwarded));
    }

    /// Queues a frame for the threads of `to`, after whatever this thread
    /// collected before (so the sender's order is kept). With `flow`, each
    /// thread is charged the frame's size while the frame waits in its
    /// inbox (`charged`), or nothing (headers and ends are small).
    fn send_frame(&mut self, to: Target, frame: Vec<u8>, flow: Option<&Arc<Flow>>, charged: bool) {
        self.finish_bcast();
        let len = if charged { frame.len() as u64 } else { 0 };
        let bytes: Arc<[u8]> = Arc::from(frame);
        let one = |this: &mut Worker, t: usize| {
            let alive = this.shared.inboxes.get(t).is_some_and(|b| b.is_alive());
            let Some(p) = this.pending.get_mut(t) else {
                return;
            };
            if !alive {
                return;
            }
            p.push(Cmd::Transfer(XCmd::Frame {
                to,
                bytes: Arc::clone(&bytes),
                credit: flow.map(|f| f.charge(len)),
            }));
            if let Some(w) = this.to_wake.get_mut(t) {
                *w = true;
            }
        };
        match to {
            Target::All { .. } => {
                for t in 0..self.pending.len() {
                    one(self, t);
                }
            }
            Target::One { thread, .. } => one(self, thread),
        }
    }

    /// Runs a transfer command from the inbox.
    pub(super) fn handle_xcmd(&mut self, cmd: XCmd) {
        match cmd {
            XCmd::Resume { slot, id } => {
                if matches!(self.slots.get(slot), Some(Some(c)) if c.id == id && c.phase != Phase::Closing)
                {
                    self.again.push(slot);
                }
            }
            XCmd::Frame { to, bytes, credit } => {
                // Receivers take their own share of the frames the thread
                // was charged for (the chunks); headers and ends are free.
                let flow = credit.as_ref().map(|c| &c.flow);
                let charge = credit.as_ref().is_some_and(|c| c.n > 0);
                match to {
                    Target::All { seq, except } => {
                        for i in 0..self.slots.len() {
                            let wanted = matches!(self.slots.get(i), Some(Some(c))
                                if c.phase == Phase::Registered
                                    && !c.doomed
                                    && c.reg_seq < seq
                                    && c.id != except);
                            if wanted {
                                self.deliver_frame(i, &bytes, flow.filter(|_| charge));
                            }
                        }
                    }
                    Target::One { slot, id, .. } => {
                        let here = matches!(self.slots.get(slot), Some(Some(c))
                            if c.id == id && c.phase == Phase::Registered && !c.doomed);
                        if here {
                            self.deliver_frame(slot, &bytes, flow.filter(|_| charge));
                        } else if let Some(f) = flow {
                            f.gone.store(true, Ordering::Relaxed);
                        }
                    }
                }
                // The thread's share is given back once the receivers hold
                // their own.
                drop(credit);
            }
        }
    }

    fn deliver_frame(&mut self, i: usize, bytes: &[u8], flow: Option<&Arc<Flow>>) {
        let max = self.max_queue;
        let Some(Some(c)) = self.slots.get_mut(i) else {
            return;
        };
        c.out.extend_from_slice(bytes);
        let id = c.id;
        let (x, end) = note_frame(c, bytes.len());
        if let Some(flow) = flow {
            x.credits.push_back((end, flow.charge(bytes.len() as u64)));
            if !x.watched {
                x.watched = true;
                x.last_progress = Some(clock::now());
                self.xfer.watch.push((i, id));
            }
        }
        after_append(
            c,
            i,
            max,
            &mut self.dirty,
            &mut self.kill,
            &mut self.sent_early,
        );
    }

    /// Connection `i`'s session ends: its open transfers fail for their
    /// receivers (before its `LEFT`, which the caller broadcasts next).
    pub(super) fn xfer_session_closing(&mut self, i: usize) {
        let outgoing = match self.slots.get_mut(i) {
            Some(Some(c)) if c.phase != Phase::Closing => match c.xfer.as_deref_mut() {
                Some(x) => {
                    x.sink = Sink::None;
                    std::mem::take(&mut x.outgoing)
                }
                None => return,
            },
            _ => return,
        };
        if self.stopping.is_some() {
            return;
        }
        for o in outgoing {
            let mut fail = Vec::with_capacity(64);
            xencode::file_fail(&mut fail, o.id, "o remetente saiu (the sender left)");
            self.send_frame(o.to, fail, Some(&o.flow), false);
        }
    }

    /// How long the event loop may sleep, as far as transfers care: while
    /// file data waits for a receiver, often enough to notice a stall.
    pub(super) fn xfer_wait(&self) -> Option<Duration> {
        if self.xfer.watch.is_empty() {
            None
        } else {
            Some(
                (self.shared.cfg.file_stall_timeout / 4)
                    .clamp(Duration::from_millis(10), Duration::from_secs(1)),
            )
        }
    }

    /// Drops (as slow consumers) the receivers that took no byte for
    /// `file_stall_timeout` while file data waited for them.
    pub(super) fn xfer_sweep(&mut self, now: Instant) {
        if self.xfer.watch.is_empty() {
            return;
        }
        let stall = self.shared.cfg.file_stall_timeout;
        let slots = &mut self.slots;
        let kill = &mut self.kill;
        self.xfer.watch.retain(|&(i, id)| {
            let Some(Some(c)) = slots.get_mut(i) else {
                return false;
            };
            if c.id != id {
                return false;
            }
            let Some(x) = c.xfer.as_deref_mut() else {
                return false;
            };
            if x.credits.is_empty() {
                x.watched = false;
                return false;
            }
            let stuck = x
                .last_progress
                .is_some_and(|t| now.saturating_duration_since(t) >= stall);
            if stuck && !c.doomed && c.phase != Phase::Closing {
                c.doomed = true;
                kill.push((i, id));
            }
            true
        });
    }
}

#[cfg(test)]
mod may_be_command_tests {
    use super::may_be_command;
    use crate::protocol::parse_transfer_command;

    /// The shortcut never skips a line the command parser would take.
    #[test]
    fn agrees_with_the_parser() {
        let lines = [
            "/file bob 10 :a.txt",
            " \t/bytes bob 3",
            "\u{0b}/file bob 1 :x",
            "\u{a0}/file bob 1 :x",
            "\u{3000}/chunk 1 5",
            ":olá",
            "bob:/file x",
            "",
            "   ",
            "/help",
        ];
        for l in lines {
            if parse_transfer_command(l).is_some() {
                assert!(may_be_command(l.as_bytes()), "{l:?}");
            }
        }
        assert!(!may_be_command(b":hello"));
        assert!(!may_be_command(b"bob:hi"));
    }
}
