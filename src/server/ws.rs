//! The WebSocket transport (PROTOCOL.md "WebSocket"): a browser's
//! connection, after the HTTP thread answered its upgrade, as one more
//! [`Stream`](crate::server::tls::Stream) of the I/O threads.
//!
//! The I/O threads and the session see the same byte stream as over TCP;
//! this module only translates between it and WebSocket messages
//! (tungstenite's non-blocking `WebSocket` over the mio socket):
//!
//! - In: a text message is one line (its bytes and a LF); a binary message
//!   is payload bytes as they are (what follows a `/bytes` or `/chunk`
//!   line). So every rule (line limits, payloads, flooding, UTF-8) is the
//!   session's and the framing's, as for any client.
//! - Out: each line the server writes becomes one text message (without
//!   its LF), and the payload after a `BYTES` or `CHUNK` line one binary
//!   message (without the LF that ends it): the server's stream is cut
//!   with the same [`LineBuffer`] and [`ServerLine::payload_size`] the
//!   library client reads it with.
//! - Back pressure: bytes are taken from the connection's queue only while
//!   the socket takes what was framed before, so a browser that stops
//!   reading leaves its bytes in the queue, where `max_queue_bytes` and the
//!   server's `Meter` count them: it is a slow consumer like any other. At
//!   most [`TAKE_MAX`] bytes plus one message wait here.
//! - A message larger than the limit tungstenite enforces
//!   ([`inbound_limit`]) is reported as [`TooBig`], which the I/O thread
//!   answers as the framing's endless line (`ERROR 07`, then close).

use std::io::{self, Read, Write};
use std::net::Shutdown;

use mio::net::TcpStream;
use tungstenite::error::{CapacityError, Error as WsError};
use tungstenite::protocol::{Role, WebSocket, WebSocketConfig};
use tungstenite::Message;

use crate::config::ServerConfig;
use crate::protocol::{Frame, LineBuffer, Next, ServerLine};

/// Most bytes taken from the connection's queue per write call: what waits
/// in the transport rather than in the queue is at most this plus one
/// message (a line, or a payload of at most 64 KiB for files and
/// `max_payload_bytes` for binary messages).
const TAKE_MAX: usize = 64 * 1024;

/// The piece tungstenite reads from the socket at once.
const READ_PIECE: usize = 8 * 1024;

/// Longest server line cut into a message (what the library client
/// accepts, PROTOCOL.md "Limits").
const MAX_SERVER_LINE: usize = 16 * 1024 * 1024;

/// The largest message (and frame) a browser may send: room for a line the
/// framing refuses on its own (over `max_discard_bytes`: `ERROR 07`, then
/// close) and for the largest payload piece (`max_payload_bytes`, or a
/// 64 KiB file chunk). Messages past it are refused the same way
/// ([`TooBig`]) without being gathered.
pub(crate) fn inbound_limit(cfg: &ServerConfig) -> usize {
    cfg.max_discard_bytes
        .max(cfg.max_payload_bytes)
        .max(64 * 1024)
        .saturating_add(1024)
}

/// The error a read returns for a message over [`inbound_limit`].
#[derive(Debug)]
pub(crate) struct TooBig(pub usize);

impl std::fmt::Display for TooBig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WebSocket message over {} bytes", self.0)
    }
}

impl std::error::Error for TooBig {}

/// Whether `e` is a [`TooBig`] (a browser's message over the limit).
pub(crate) fn is_too_big(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<TooBig>())
}

/// A WebSocket connection whose handshake the HTTP thread has answered.
pub(crate) struct WsConn {
    ws: WebSocket<TcpStream>,
    limit: usize,
    /// Bytes of the last message read not yet handed to the reader.
    inbound: Vec<u8>,
    in_pos: usize,
    /// Cuts what the server writes into lines and payloads.
    framer: LineBuffer,
    /// The payload being gathered into one binary message.
    payload: Option<Vec<u8>>,
    /// tungstenite holds bytes the socket did not take.
    pending: bool,
    /// The peer's close came: reads end.
    read_done: bool,
    /// A message over the limit came: tungstenite's state is over, and
    /// reads take the socket's bytes raw, to be thrown away while the
    /// connection closes (so that its close is no reset that could destroy
    /// the `ERROR 07` before the browser reads it).
    refused: bool,
}

impl WsConn {
    /// Wraps an upgraded socket. `early` holds bytes the HTTP thread read
    /// past the request's head (the browser's first frames, if they came
    /// with it).
    pub(crate) fn new(sock: TcpStream, early: Vec<u8>, cfg: &ServerConfig) -> WsConn {
        let limit = inbound_limit(cfg);
        let config = WebSocketConfig::default()
            .max_message_size(Some(limit))
            .max_frame_size(Some(limit))
            // Messages are gathered up to this much before a write (each
            // `write` call below ends with a flush); what the socket does
            // not take stays in tungstenite, bounded by `write` (see the
            // module's comment).
            .write_buffer_size(TAKE_MAX)
            // tungstenite reads in pieces of this size into a buffer it
            // keeps (128 KiB by default): an idle browser costs no more
            // than a few KiB.
            .read_buffer_size(READ_PIECE)
            .max_write_buffer_size(usize::MAX);
        let ws = if early.is_empty() {
            WebSocket::from_raw_socket(sock, Role::Server, Some(config))
        } else {
            WebSocket::from_partially_read(sock, early, Role::Server, Some(config))
        };
        WsConn {
            ws,
            limit,
            inbound: Vec::new(),
            in_pos: 0,
            framer: LineBuffer::new(MAX_SERVER_LINE, MAX_SERVER_LINE),
            payload: None,
            pending: false,
            read_done: false,
            refused: false,
        }
    }

    pub(crate) fn sock(&self) -> &TcpStream {
        self.ws.get_ref()
    }

    pub(crate) fn sock_mut(&mut self) -> &mut TcpStream {
        self.ws.get_mut()
    }

    /// Bytes framed here wait for the socket.
    pub(crate) fn wants_write(&self) -> bool {
        self.pending
    }

    /// Hands tungstenite's bytes to the socket; `WouldBlock` is no error
    /// (see [`WsConn::wants_write`]).
    pub(crate) fn flush_ws(&mut self) -> io::Result<()> {
        match self.ws.flush() {
            Ok(()) => {
                self.pending = false;
                Ok(())
            }
            Err(WsError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                self.pending = true;
                Ok(())
            }
            Err(e) => Err(to_io(e)),
        }
    }

    /// Sends a close frame (best effort), then the TCP FIN.
    pub(crate) fn shutdown_write(&mut self) -> io::Result<()> {
        let _ = self.ws.close(None);
        let _ = self.flush_ws();
        self.ws.get_ref().shutdown(Shutdown::Write)
    }

    /// Cuts `data` (bytes of the server's stream) into messages for
    /// tungstenite.
    fn frame_out(&mut self, data: &[u8]) -> io::Result<()> {
        let ws = &mut self.ws;
        let payload = &mut self.payload;
        let pending = &mut self.pending;
        let mut failed = None;
        // A frame the socket did not take stays buffered in tungstenite
        // (and is sent by the next flush): only other errors stop.
        let mut put = |ws: &mut WebSocket<TcpStream>, m: Message| match ws.write(m) {
            Ok(()) => None,
            Err(WsError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                *pending = true;
                None
            }
            Err(e) => Some(e),
        };
        self.framer.feed_frames(data, |frame| {
            let msg = match frame {
                Frame::Line(raw) => {
                    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
                    if raw.is_empty() {
                        // The LF that ends a payload.
                        return Next::Continue;
                    }
                    let Ok(text) = std::str::from_utf8(raw) else {
                        // The server writes UTF-8 lines only.
                        return Next::Continue;
                    };
                    if let Some(size) = ServerLine::parse_labeled(text)
                        .ok()
                        .and_then(|(_, l)| l.payload_size())
                    {
                        // The payload after it becomes one binary message.
                        *payload = Some(Vec::with_capacity(size.min(TAKE_MAX as u64) as usize));
                        if let Some(e) = put(ws, Message::text(text.to_owned())) {
                            failed = Some(e);
                            return Next::Stop;
                        }
                        return Next::Payload(size);
                    }
                    Message::text(text.to_owned())
                }
                Frame::Payload(piece) => {
                    if let Some(p) = payload.as_mut() {
                        p.extend_from_slice(piece);
                    }
                    return Next::Continue;
                }
                Frame::PayloadEnd => Message::binary(payload.take().unwrap_or_default()),
                Frame::TooLong | Frame::Overflow => return Next::Continue,
            };
            match put(ws, msg) {
                None => Next::Continue,
                Some(e) => {
                    failed = Some(e);
                    Next::Stop
                }
            }
        });
        match failed {
            None => Ok(()),
            Some(e) => Err(to_io(e)),
        }
    }
}

/// tungstenite's error as an I/O error; a message over the limit as
/// [`TooBig`].
fn to_io(e: WsError) -> io::Error {
    match e {
        WsError::Io(e) => e,
        WsError::ConnectionClosed | WsError::AlreadyClosed => {
            io::Error::from(io::ErrorKind::BrokenPipe)
        }
        WsError::Capacity(CapacityError::MessageTooLong { max_size, .. }) => {
            io::Error::new(io::ErrorKind::InvalidData, TooBig(max_size))
        }
        other => io::Error::new(io::ErrorKind::InvalidData, other.to_string()),
    }
}

impl Read for WsConn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.refused {
            return self.ws.get_mut().read(buf);
        }
        loop {
            let rest = self.inbound.get(self.in_pos..).unwrap_or(&[]);
            if !rest.is_empty() {
                let n = rest.len().min(buf.len());
                if let (Some(dst), Some(src)) = (buf.get_mut(..n), rest.get(..n)) {
                    dst.copy_from_slice(src);
                }
                self.in_pos += n;
                return Ok(n);
            }
            if self.read_done {
                return Ok(0);
            }
            self.inbound.clear();
            self.in_pos = 0;
            match self.ws.read() {
                Ok(Message::Text(t)) => {
                    self.inbound.extend_from_slice(t.as_bytes());
                    self.inbound.push(b'\n');
                }
                Ok(Message::Binary(b)) => self.inbound.extend_from_slice(&b),
                Ok(Message::Close(_)) => {
                    // tungstenite queued the answering close frame.
                    self.read_done = true;
                    let _ = self.flush_ws();
                }
                Ok(_) => {
                    // Ping (its pong is queued and sent with the next
                    // write or flush), pong, raw frame.
                    self.flush_ws()?;
                }
                Err(WsError::ConnectionClosed) | Err(WsError::AlreadyClosed) => {
                    self.read_done = true;
                }
                Err(WsError::Capacity(_)) => {
                    self.refused = true;
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        TooBig(self.limit),
                    ));
                }
                Err(e) => return Err(to_io(e)),
            }
        }
    }
}

impl Write for WsConn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.pending {
            self.flush_ws()?;
            if self.pending {
                return Err(io::ErrorKind::WouldBlock.into());
            }
        }
        let n = buf.len().min(TAKE_MAX);
        self.frame_out(buf.get(..n).unwrap_or(&[]))?;
        self.flush_ws()?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_ws()
    }
}
