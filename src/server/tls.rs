//! Optional TLS on the server (rustls), PROTOCOL.md "TLS". The identity
//! ([`ServerTls`]) is a configuration value defined in `crate::tls`.
//!
//! A server with `ServerConfig::tls` set listens on a second port,
//! `ServerConfig::tls_port` (by convention 18001, next to the plain 18000),
//! where every connection speaks TLS; the chat is the same on both ports.
//! The I/O threads see a [`Stream`]: a plain TCP socket, or one wrapped in
//! a rustls server connection. Both are non-blocking; the TLS one reads
//! records as they come, answers the handshake on its own, and may hold
//! encrypted bytes the socket did not take yet ([`Stream::wants_write`]),
//! which the I/O loop flushes when the socket becomes writable again.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::sync::Arc;

use mio::event::Source;
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use super::ws::WsConn;
use crate::config::ServerConfig;
use crate::tls::ServerTls;

/// Which listener a connection came from, and so which [`Stream`] the I/O
/// thread that takes it wraps its socket in.
pub(crate) enum Transport {
    /// The plain port.
    Plain,
    /// The TLS port (PROTOCOL.md "TLS").
    Tls,
    /// The HTTP port, after the HTTP thread answered a WebSocket upgrade
    /// (PROTOCOL.md "WebSocket"); with the bytes it read past the request.
    WebSocket(Vec<u8>),
}

impl Transport {
    /// Whether the client reads the protocol's lines from the socket as
    /// they are (so that a refusal can be written to it raw).
    pub(crate) fn is_plain(&self) -> bool {
        matches!(self, Transport::Plain)
    }

    /// The stream the I/O threads use for `sock`.
    pub(crate) fn stream(self, sock: TcpStream, cfg: &ServerConfig) -> io::Result<Stream> {
        match (self, &cfg.tls) {
            (Transport::Plain, _) => Ok(Stream::Plain(sock)),
            (Transport::Tls, Some(t)) => t.accept(sock),
            (Transport::Tls, None) => Err(io::Error::other("TLS is not configured")),
            (Transport::WebSocket(early), _) => Ok(Stream::Layered(Box::new(Layered::Ws(
                WsConn::new(sock, early, cfg),
            )))),
        }
    }
}

impl ServerTls {
    /// Wraps an accepted socket in a TLS server connection with this
    /// identity; the handshake happens as the I/O loop reads and writes.
    pub(crate) fn accept(&self, sock: TcpStream) -> io::Result<Stream> {
        let tls = rustls::ServerConnection::new(Arc::clone(&self.config))
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        Ok(Stream::Layered(Box::new(Layered::Tls(TlsConn {
            sock,
            tls,
            read_eof: false,
        }))))
    }
}

/// A TLS connection: the socket and the rustls state.
pub(crate) struct TlsConn {
    sock: TcpStream,
    tls: rustls::ServerConnection,
    /// The socket said end-of-stream.
    read_eof: bool,
}

impl TlsConn {
    /// Writes what rustls holds, until the socket would block.
    fn flush_tls(&mut self) -> io::Result<()> {
        while self.tls.wants_write() {
            match self.tls.write_tls(&mut self.sock) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.tls.reader().read(buf) {
                Ok(n) => return Ok(n), // 0: the peer's close_notify
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) => return Err(e),
            }
            if self.read_eof {
                return Ok(0);
            }
            match self.tls.read_tls(&mut self.sock) {
                Ok(0) => self.read_eof = true,
                Ok(_) => {}
                Err(e) => return Err(e), // WouldBlock included
            }
            if let Err(e) = self.tls.process_new_packets() {
                // Send the alert rustls prepared, best effort.
                let _ = self.flush_tls();
                return Err(io::Error::new(io::ErrorKind::InvalidData, e));
            }
            // Handshake messages (or a key update) to answer.
            self.flush_tls()?;
        }
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.tls.writer().write(buf)?;
        self.flush_tls()?;
        if n == 0 && !buf.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(n)
    }
}

/// `sendmsg(MSG_NOSIGNAL)` over `bufs` (Linux, Android and the BSDs that
/// have the flag).
#[cfg(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd"
))]
fn send_vectored(sock: &TcpStream, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    // SAFETY: msghdr is plain data; all zeros is a valid empty message.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    // IoSlice is guaranteed ABI-compatible with iovec on Unix; sendmsg
    // only reads through the pointer.
    msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
    msg.msg_iovlen = bufs.len() as _;
    // SAFETY: a descriptor owned by `sock`, alive here; `msg` points at
    // `bufs`, alive for the call.
    let n = unsafe { libc::sendmsg(sock.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Elsewhere (macOS has no `MSG_NOSIGNAL`; mio sets `SO_NOSIGPIPE` on its
/// sockets there): the first non-empty slice through `write`.
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd"
)))]
fn send_vectored(mut sock: &TcpStream, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
    match bufs.iter().find(|b| !b.is_empty()) {
        Some(b) => sock.write(b),
        None => Ok(0),
    }
}

/// A client connection as the I/O threads see it.
pub(crate) enum Stream {
    /// Plain text (the seed's protocol as is).
    Plain(TcpStream),
    /// TLS or WebSocket, boxed: most connections are plain, and a slot
    /// stays small (one boxed variant keeps the plain socket's niche free
    /// for the tag, so `Stream` is no larger than a socket and a pointer).
    Layered(Box<Layered>),
}

/// A connection with a protocol layer between its socket and the chat.
/// Boxed whole in [`Stream`]; a WebSocket connection so takes the TLS
/// state's size (about 1.2 KB) on the heap, small beside what a browser's
/// connection holds anyway, and one box instead of two keeps both layers
/// one pointer away.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Layered {
    /// TLS (the TLS port).
    Tls(TlsConn),
    /// WebSocket from a browser (the HTTP port, `ws.rs`).
    Ws(WsConn),
}

impl Stream {
    /// TLS bytes are waiting for the socket to take them.
    pub(crate) fn wants_write(&self) -> bool {
        match self {
            Stream::Plain(_) => false,
            Stream::Layered(l) => match &**l {
                Layered::Tls(t) => t.tls.wants_write(),
                Layered::Ws(w) => w.wants_write(),
            },
        }
    }

    /// Ends our sending side: for TLS a `close_notify` alert first (best
    /// effort), then the TCP FIN.
    pub(crate) fn shutdown_write(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.shutdown(Shutdown::Write),
            Stream::Layered(l) => match &mut **l {
                Layered::Tls(t) => {
                    t.tls.send_close_notify();
                    let _ = t.flush_tls();
                    t.sock.shutdown(Shutdown::Write)
                }
                Layered::Ws(w) => w.shutdown_write(),
            },
        }
    }

    /// Shuts the socket down both ways (a held connection's dead socket,
    /// or the old socket of a connection taken over by a resume).
    pub(crate) fn shutdown_both(&mut self) -> io::Result<()> {
        self.sock().shutdown(Shutdown::Both)
    }

    fn sock(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Layered(l) => match &**l {
                Layered::Tls(t) => &t.sock,
                Layered::Ws(w) => w.sock(),
            },
        }
    }

    fn sock_mut(&mut self) -> &mut TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Layered(l) => match &mut **l {
                Layered::Tls(t) => &mut t.sock,
                Layered::Ws(w) => w.sock_mut(),
            },
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Layered(l) => match &mut **l {
                Layered::Tls(t) => t.read(buf),
                Layered::Ws(w) => w.read(buf),
            },
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Layered(l) => match &mut **l {
                Layered::Tls(t) => t.write(buf),
                Layered::Ws(w) => w.write(buf),
            },
        }
    }

    /// One gathering write over the slices on a plain socket (`sendmsg`
    /// with `MSG_NOSIGNAL`: a plain `writev` to a socket the peer has
    /// closed raises SIGPIPE, which kills a C program that did not ignore
    /// it); TLS copies them into its records one by one (rustls encrypts a
    /// copy anyway).
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => send_vectored(s, bufs),
            Stream::Layered(l) => match &mut **l {
                Layered::Tls(t) => {
                    let mut n = 0;
                    for b in bufs {
                        match t.write(b) {
                            Ok(m) => {
                                n += m;
                                if m < b.len() {
                                    break;
                                }
                            }
                            Err(e) if n == 0 => return Err(e),
                            Err(_) => break,
                        }
                    }
                    Ok(n)
                }
                // One message at a time is framed anyway.
                Layered::Ws(w) => match bufs.iter().find(|b| !b.is_empty()) {
                    Some(b) => w.write(b),
                    None => Ok(0),
                },
            },
        }
    }

    /// Writes what TLS holds; never blocks (`WouldBlock` is no error here:
    /// see [`Stream::wants_write`]).
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(_) => Ok(()),
            Stream::Layered(l) => match &mut **l {
                Layered::Tls(t) => t.flush_tls(),
                Layered::Ws(w) => w.flush_ws(),
            },
        }
    }
}

#[cfg(unix)]
impl std::os::fd::AsRawFd for Stream {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.sock().as_raw_fd()
    }
}

impl Source for Stream {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        self.sock_mut().register(registry, token, interests)
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        self.sock_mut().reregister(registry, token, interests)
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        self.sock_mut().deregister(registry)
    }
}
