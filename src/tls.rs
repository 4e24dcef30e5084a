//! The TLS settings of the server and the client (PROTOCOL.md "TLS"):
//! certificates and keys read from PEM, ready for rustls with the `ring`
//! provider (TLS 1.2 and 1.3). These are configuration values, used by
//! [`crate::ServerConfig::tls`] and [`crate::ClientConfig::tls`]; the
//! connections themselves are made in `server/tls.rs` and
//! `client/transport.rs`. Both types are re-exported where their users
//! look for them: `papo::server::ServerTls` and `papo::client::ClientTls`.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use crate::error::{Error, ErrorCode, Result};

fn bad(what: &str, e: impl fmt::Display) -> Error {
    Error::new(ErrorCode::InvalidArgument, format!("{what}: {e}"))
}

/// The largest PEM file read: 1 MiB, far above a certificate chain and
/// key (a few KiB each), so that a path naming `/dev/zero`, a FIFO or a
/// huge file fails at once instead of reading until memory runs out.
pub const MAX_PEM_FILE_BYTES: u64 = 1 << 20;

/// Reads a PEM file of at most [`MAX_PEM_FILE_BYTES`]: 15 `Io` if it
/// cannot be read, 17 `InvalidArgument` if it is larger.
fn read_file(p: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let io = |e| Error::io(ErrorCode::Io, format!("cannot read {}", p.display()), e);
    let mut bytes = Vec::new();
    std::fs::File::open(p)
        .and_then(|f| f.take(MAX_PEM_FILE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(io)?;
    if bytes.len() as u64 > MAX_PEM_FILE_BYTES {
        return Err(Error::new(
            ErrorCode::InvalidArgument,
            format!(
                "{} is larger than {MAX_PEM_FILE_BYTES} bytes: not a PEM certificate or key",
                p.display()
            ),
        ));
    }
    Ok(bytes)
}

/// A server's TLS identity: its certificate chain and private key, ready
/// for use (rustls with the `ring` provider, TLS 1.2 and 1.3, no client
/// certificates). Cloning shares it. Build one from PEM text or PEM files.
#[derive(Clone)]
pub struct ServerTls {
    pub(crate) config: Arc<rustls::ServerConfig>,
}

impl ServerTls {
    /// From PEM text: `cert_chain_pem` holds the server's certificate
    /// first, then any intermediates (`-----BEGIN CERTIFICATE-----`);
    /// `key_pem` its private key (PKCS#8, PKCS#1 or SEC1).
    ///
    /// Errors: 17 `InvalidArgument` if there is no certificate or key in
    /// them, or they do not fit together.
    pub fn from_pem(cert_chain_pem: &[u8], key_pem: &[u8]) -> Result<ServerTls> {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_chain_pem)
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| bad("the TLS certificate is not valid PEM", e))?;
        if certs.is_empty() {
            return Err(Error::new(
                ErrorCode::InvalidArgument,
                "no certificate (-----BEGIN CERTIFICATE-----) in the TLS certificate PEM",
            ));
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem)
            .map_err(|e| bad("no private key in the TLS key PEM", e))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| bad("TLS setup", e))?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| bad("the TLS certificate and key do not fit together", e))?;
        Ok(ServerTls {
            config: Arc::new(config),
        })
    }

    /// From PEM files (see [`ServerTls::from_pem`]).
    ///
    /// Errors: 15 `Io` if a file cannot be read; as `from_pem` otherwise.
    pub fn from_pem_files(
        cert_chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<ServerTls> {
        let cert = read_file(cert_chain.as_ref())?;
        let key = read_file(key.as_ref())?;
        ServerTls::from_pem(&cert, &key)
    }
}

impl PartialEq for ServerTls {
    /// The same identity (clones of one `ServerTls`).
    fn eq(&self, other: &ServerTls) -> bool {
        Arc::ptr_eq(&self.config, &other.config)
    }
}

impl Eq for ServerTls {}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServerTls(..)")
    }
}

/// A client's TLS settings: the certificates it trusts (the server's own,
/// if self-signed, or the CA that signed it) and optionally the name to
/// check the server's certificate against. Cloning shares them.
#[derive(Clone)]
pub struct ClientTls {
    pub(crate) config: Arc<rustls::ClientConfig>,
    pub(crate) server_name: Option<ServerName<'static>>,
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
        let pem = read_file(path.as_ref())?;
        ClientTls::from_ca_pem(&pem)
    }

    /// Checks the server's certificate against `name` (a DNS name or an IP
    /// address) instead of the address given to connect (the host name, or
    /// the IP address when an IP address was given).
    ///
    /// Errors: 17 `InvalidArgument` if `name` is neither.
    pub fn with_server_name(mut self, name: &str) -> Result<ClientTls> {
        let n = ServerName::try_from(name.to_owned())
            .map_err(|e| bad(&format!("{name:?} cannot be a TLS server name"), e))?;
        self.server_name = Some(n);
        Ok(self)
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
