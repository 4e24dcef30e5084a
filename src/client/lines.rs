//! Reading the server's lines from the socket, with an optional deadline:
//! bytes in, parsed [`ServerLine`]s out. Each line is parsed exactly once,
//! here; a payload line (`CHUNK`, `BYTES`) is handed over with its payload
//! and the header already parsed.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::sync::Arc;
use std::time::Instant;

use super::transport::Transport;
use crate::protocol::{strip_cr, Frame, LineBuffer, Next, ServerLine, Tag};

/// Longest server line the client accepts, in bytes. Server lines can be
/// much longer than the client's own `max_line_bytes`: a `USERS` line lists
/// every nickname online (16384 users of 32 four-byte characters is about
/// 2 MiB). A longer line is skipped; one with no LF at all ends the
/// connection.
pub(crate) const MAX_SERVER_LINE_BYTES: usize = 16 * 1024 * 1024;

/// Bytes asked of the socket per `read` call.
const READ_CHUNK: usize = 64 * 1024;

/// Largest payload (`BYTES`, `CHUNK`) the client takes from a server, in
/// bytes. A papo server sends chunks of at most 64 KiB and binary messages
/// of at most its `max_payload_bytes`; a larger payload is skipped without
/// being held (as `TooLong`).
pub(crate) const MAX_SERVER_PAYLOAD_BYTES: u64 = 64 * 1024 * 1024;

/// One unit read from the server.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// A whole line and its label (PROTOCOL.md, "Labels"), if any.
    Line {
        /// The label of the request it answers.
        label: Option<Box<str>>,
        /// The line.
        line: ServerLine<String>,
        /// The message's id and time (`id=`, `time=`: PROTOCOL.md,
        /// "Message ids and server time"), for `PUBLIC`, `PRIVATE` and
        /// `ROOM` lines that carry them.
        tag: Option<Tag>,
    },
    /// A line that is not UTF-8, or that no papo server sends (an unknown
    /// keyword, malformed arguments): skipped by the caller (a newer server
    /// may say more). Its first 80 characters, for error messages.
    Unreadable(String),
    /// A line over [`MAX_SERVER_LINE_BYTES`] (skipped by the caller), or a
    /// payload over [`MAX_SERVER_PAYLOAD_BYTES`].
    TooLong,
    /// A line announcing a payload (`BYTES`, `CHUNK`) and its bytes.
    Frame {
        /// The header line.
        line: ServerLine<String>,
        /// Exactly the bytes it announced.
        payload: Vec<u8>,
    },
}

/// The payload being read: its header line and bytes (`None` when skipped).
struct PayloadIn {
    line: ServerLine<String>,
    bytes: Option<Vec<u8>>,
}

/// Why no further line can be read.
#[derive(Debug)]
pub(crate) enum ReadEnd {
    /// The server closed the connection (or our own `shutdown` did).
    Eof,
    /// More than [`MAX_SERVER_LINE_BYTES`] arrived with no LF.
    Overflow,
    /// The deadline passed before a whole line arrived.
    TimedOut,
    /// An operating-system error (reset, ...).
    Io(io::Error),
}

/// The read half of a client connection: bytes in, whole lines out.
pub(crate) struct LineReader {
    /// Shared with the writers (`Read` and `Write` work on `&Transport`).
    stream: Arc<Transport>,
    framing: LineBuffer,
    ready: VecDeque<Incoming>,
    overflowed: bool,
    /// True while a read timeout is set on the socket.
    timed: bool,
    buf: Vec<u8>,
    payload: Option<PayloadIn>,
}

impl LineReader {
    pub(crate) fn new(stream: Arc<Transport>) -> LineReader {
        LineReader {
            stream,
            framing: LineBuffer::new(MAX_SERVER_LINE_BYTES, MAX_SERVER_LINE_BYTES),
            ready: VecDeque::new(),
            overflowed: false,
            timed: false,
            buf: vec![0; READ_CHUNK],
            payload: None,
        }
    }

    /// The next line. With a deadline, gives `TimedOut` once it has passed;
    /// without one, blocks until a line, EOF or an error (a `shutdown` of the
    /// socket from another thread ends the wait with `Eof`).
    pub(crate) fn next(&mut self, deadline: Option<Instant>) -> Result<Incoming, ReadEnd> {
        loop {
            if let Some(item) = self.ready.pop_front() {
                return Ok(item);
            }
            if self.overflowed {
                return Err(ReadEnd::Overflow);
            }
            let timeout = match deadline {
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(ReadEnd::TimedOut);
                    }
                    Some(left)
                }
                None => None,
            };
            if timeout.is_some() || self.timed {
                self.stream.set_read_timeout(timeout).map_err(ReadEnd::Io)?;
                self.timed = timeout.is_some();
            }
            let n = match (&*self.stream).read(&mut self.buf) {
                Ok(0) => return Err(ReadEnd::Eof),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    if deadline.is_some() {
                        continue; // the loop checks the deadline
                    }
                    return Err(ReadEnd::Io(e));
                }
                Err(e) => return Err(ReadEnd::Io(e)),
            };
            let ready = &mut self.ready;
            let overflowed = &mut self.overflowed;
            let payload = &mut self.payload;
            let data = self.buf.get(..n).unwrap_or(&[]);
            self.framing.feed_frames(data, |frame| {
                match frame {
                    Frame::Line(raw) => {
                        let raw = strip_cr(raw);
                        let text = std::str::from_utf8(raw).ok();
                        let parsed = text.and_then(|s| ServerLine::parse_labeled(s).ok());
                        let Some((label, line)) = parsed else {
                            let shown = String::from_utf8_lossy(raw).chars().take(80).collect();
                            ready.push_back(Incoming::Unreadable(shown));
                            return Next::Continue;
                        };
                        if let Some(size) = line.payload_size() {
                            // A payload frame (PROTOCOL.md, "Payload frames").
                            let bytes = (size <= MAX_SERVER_PAYLOAD_BYTES)
                                .then(|| Vec::with_capacity(size.min(READ_CHUNK as u64) as usize));
                            *payload = Some(PayloadIn {
                                line: line.to_owned_line(),
                                bytes,
                            });
                            return Next::Payload(size);
                        }
                        let tag = match line {
                            ServerLine::Public { .. }
                            | ServerLine::Private { .. }
                            | ServerLine::Room { .. } => text.and_then(Tag::of_line),
                            _ => None,
                        };
                        ready.push_back(Incoming::Line {
                            label: label.map(Box::from),
                            line: line.to_owned_line(),
                            tag,
                        });
                    }
                    Frame::TooLong => ready.push_back(Incoming::TooLong),
                    Frame::Overflow => *overflowed = true,
                    Frame::Payload(piece) => {
                        if let Some(PayloadIn { bytes: Some(b), .. }) = payload {
                            b.extend_from_slice(piece);
                        }
                    }
                    Frame::PayloadEnd => match payload.take() {
                        Some(PayloadIn {
                            line,
                            bytes: Some(payload),
                        }) => ready.push_back(Incoming::Frame { line, payload }),
                        Some(PayloadIn { bytes: None, .. }) => ready.push_back(Incoming::TooLong),
                        None => {}
                    },
                }
                Next::Continue
            });
        }
    }
}
