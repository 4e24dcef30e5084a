//! The client's connection: a plain TCP socket, or TLS over it (rustls),
//! shared by the reader thread and the writing threads (PROTOCOL.md "TLS").
//!
//! `Read` and `Write` work on `&Transport`, as they do on `&TcpStream`, so
//! that one reader and many writers share it. For TLS the rustls state sits
//! behind a mutex that is never held while blocking on a socket read: the
//! reader reads encrypted bytes without it, then takes it to decrypt; a
//! writer takes it to encrypt and write one line.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rustls::pki_types::ServerName;

use crate::error::{Error, ErrorCode, Result};
use crate::tls::ClientTls;

/// Bytes asked of the socket per read.
const RAW_CHUNK: usize = 16 * 1024;

impl ClientTls {
    /// Opens TLS over `sock` (connected to `addr`) and completes the
    /// handshake before `deadline`. The server's certificate is checked
    /// against the name set with [`ClientTls::with_server_name`], else
    /// against `default_name` (the host name or IP address the caller gave).
    pub(crate) fn connect(
        &self,
        sock: TcpStream,
        addr: SocketAddr,
        default_name: ServerName<'static>,
        deadline: Instant,
    ) -> Result<Transport> {
        let ip = addr.ip();
        let name = self.server_name.clone().unwrap_or(default_name);
        let mut tls = rustls::ClientConnection::new(Arc::clone(&self.config), name)
            .map_err(|e| Error::new(ErrorCode::InvalidArgument, format!("TLS setup: {e}")))?;
        let failed = |e: io::Error| {
            Error::io(
                ErrorCode::InvalidServer,
                format!("the TLS handshake with {ip} failed: {e}"),
                e,
            )
        };
        let mut s = &sock;
        while tls.is_handshaking() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::new(
                    ErrorCode::InvalidServer,
                    format!("no TLS handshake with {ip} in time"),
                ));
            }
            let _ = sock.set_read_timeout(Some(left));
            let _ = sock.set_write_timeout(Some(left));
            tls.complete_io(&mut s).map_err(failed)?;
        }
        Ok(Transport {
            sock,
            tls: Some(Mutex::new(TlsState {
                conn: tls,
                pending: Vec::new(),
                eof: false,
            })),
        })
    }
}

struct TlsState {
    conn: rustls::ClientConnection,
    /// Encrypted bytes read but not yet given to rustls.
    pending: Vec<u8>,
    /// The socket said end-of-stream.
    eof: bool,
}

impl TlsState {
    fn send_all(&mut self, sock: &TcpStream) -> io::Result<()> {
        let mut s = sock;
        while self.conn.wants_write() {
            self.conn.write_tls(&mut s)?;
        }
        Ok(())
    }
}

/// The connection a client reads from and writes to.
pub(crate) struct Transport {
    sock: TcpStream,
    tls: Option<Mutex<TlsState>>,
}

impl Transport {
    pub(crate) fn plain(sock: TcpStream) -> Transport {
        Transport { sock, tls: None }
    }

    pub(crate) fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        self.sock.set_read_timeout(t)
    }

    pub(crate) fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        self.sock.set_write_timeout(t)
    }

    /// Shuts the socket down; with TLS, a `close_notify` alert goes first
    /// when writing is being shut (best effort, never waiting on the lock).
    pub(crate) fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        if how != Shutdown::Read {
            if let Some(t) = &self.tls {
                if let Some(mut st) = t.try_lock_for(Duration::from_millis(100)) {
                    st.conn.send_close_notify();
                    let _ = st.send_all(&self.sock);
                }
            }
        }
        self.sock.shutdown(how)
    }

    fn read_tls(&self, t: &Mutex<TlsState>, buf: &mut [u8]) -> io::Result<usize> {
        let mut raw = Vec::new();
        loop {
            {
                let mut st = t.lock();
                loop {
                    match st.conn.reader().read(buf) {
                        Ok(n) => return Ok(n), // 0: the server's close_notify
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                        Err(e) => return Err(e),
                    }
                    if st.pending.is_empty() {
                        break;
                    }
                    let TlsState { conn, pending, .. } = &mut *st;
                    let mut slice: &[u8] = pending;
                    let used = conn.read_tls(&mut slice)?;
                    pending.drain(..used);
                    if let Err(e) = conn.process_new_packets() {
                        let _ = st.send_all(&self.sock);
                        return Err(io::Error::new(io::ErrorKind::InvalidData, e));
                    }
                    st.send_all(&self.sock)?;
                    if used == 0 {
                        break;
                    }
                }
                if st.eof {
                    return Ok(0);
                }
            }
            // Blocking read of encrypted bytes, without the lock.
            raw.resize(RAW_CHUNK, 0);
            let n = (&self.sock).read(&mut raw)?;
            let mut st = t.lock();
            match raw.get(..n) {
                Some(got) if n > 0 => st.pending.extend_from_slice(got),
                _ => st.eof = true,
            }
        }
    }
}

impl Read for &Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &self.tls {
            None => (&self.sock).read(buf),
            Some(t) => self.read_tls(t, buf),
        }
    }
}

impl Write for &Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &self.tls {
            None => (&self.sock).write(buf),
            Some(t) => {
                let mut st = t.lock();
                let n = st.conn.writer().write(buf)?;
                st.send_all(&self.sock)?;
                Ok(n)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &self.tls {
            None => (&self.sock).flush(),
            Some(t) => t.lock().send_all(&self.sock),
        }
    }
}
