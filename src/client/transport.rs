//! The client's connection: a plain TCP socket, or TLS over it (rustls),
//! shared by the reader thread and the writing threads (PROTOCOL.md "TLS").
//!
//! `Read` and `Write` work on `&Transport`, as they do on `&TcpStream`, so
//! that one reader and many writers share it. For TLS the rustls state sits
//! behind a mutex that is never held while blocking on a socket read: the
//! reader reads encrypted bytes without it, then takes it to decrypt; a
//! writer takes it to encrypt and write one line.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

use crate::error::{Error, ErrorCode, Result};

/// Bytes asked of the socket per read.
const RAW_CHUNK: usize = 16 * 1024;

/// A client's TLS settings: the certificates it trusts (the server's own,
/// if self-signed, or the CA that signed it) and optionally the name to
/// check the server's certificate against. Cloning shares them.
#[derive(Clone)]
pub struct ClientTls {
    config: Arc<rustls::ClientConfig>,
    server_name: Option<ServerName<'static>>,
}

fn bad(what: &str, e: impl fmt::Display) -> Error {
    Error::new(ErrorCode::InvalidArgument, format!("{what}: {e}"))
}

impl ClientTls {
    /// Trusts the certificates in `ca_pem` (PEM, one or more
    /// `-----BEGIN CERTIFICATE-----`): a server's self-signed certificate,
    /// or the authority that signed it. No system store is used.
    ///
    /// Errors: 17 `InvalidArgument` if there is no usable certificate.
    pub fn from_ca_pem(ca_pem: &[u8]) -> Result<ClientTls> {
        let mut roots = rustls::RootCertStore::empty();
        let mut n = 0;
        for cert in CertificateDer::pem_slice_iter(ca_pem) {
            let cert = cert.map_err(|e| bad("the CA certificate is not valid PEM", e))?;
            roots
                .add(cert)
                .map_err(|e| bad("the CA certificate cannot be used", e))?;
            n += 1;
        }
        if n == 0 {
            return Err(Error::new(
                ErrorCode::InvalidArgument,
                "no certificate (-----BEGIN CERTIFICATE-----) in the CA PEM",
            ));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| bad("TLS setup", e))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(ClientTls {
            config: Arc::new(config),
            server_name: None,
        })
    }

    /// [`ClientTls::from_ca_pem`] from a file.
    ///
    /// Errors: 15 `Io` if the file cannot be read; as `from_ca_pem`.
    pub fn from_ca_pem_file(path: impl AsRef<Path>) -> Result<ClientTls> {
        let p = path.as_ref();
        let pem = std::fs::read(p)
            .map_err(|e| Error::io(ErrorCode::Io, format!("cannot read {}", p.display()), e))?;
        ClientTls::from_ca_pem(&pem)
    }

    /// Checks the server's certificate against `name` (a DNS name or an IP
    /// address) instead of the IP address connected to.
    ///
    /// Errors: 17 `InvalidArgument` if `name` is neither.
    pub fn with_server_name(mut self, name: &str) -> Result<ClientTls> {
        let n = ServerName::try_from(name.to_owned())
            .map_err(|e| bad(&format!("{name:?} cannot be a TLS server name"), e))?;
        self.server_name = Some(n);
        Ok(self)
    }

    /// Opens TLS over `sock` (connected to `ip`) and completes the
    /// handshake before `deadline`.
    pub(crate) fn connect(
        &self,
        sock: TcpStream,
        ip: IpAddr,
        deadline: Instant,
    ) -> Result<Transport> {
        let name = self
            .server_name
            .clone()
            .unwrap_or(ServerName::IpAddress(ip.into()));
        let mut tls = rustls::ClientConnection::new(Arc::clone(&self.config), name)
            .map_err(|e| bad("TLS setup", e))?;
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

impl PartialEq for ClientTls {
    /// The same settings (clones of one `ClientTls`, same server name).
    fn eq(&self, other: &ClientTls) -> bool {
        Arc::ptr_eq(&self.config, &other.config) && self.server_name == other.server_name
    }
}

impl Eq for ClientTls {}

impl fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientTls")
            .field("server_name", &self.server_name)
            .finish()
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
