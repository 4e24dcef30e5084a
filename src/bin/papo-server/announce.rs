//! The server's announcement on the LAN: mDNS/DNS-SD (RFC 6762, RFC 6763)
//! as `_papo._tcp.local.`, with the TXT keys PROTOCOL.md ("Discovery")
//! lists, so that `papo::discover` (`papo_discover`, `papo.discover`, the
//! GUI's "Find servers") finds it without anyone typing an address.
//!
//! Announcing lives in the program, not in `papo::Server`: multicast on
//! every interface of the machine is a decision about the host, like the
//! process-wide settings a library leaves to its program; a program that
//! embeds the library announces (or not) with its own mDNS stack.
//!
//! A server on a loopback address (the default 127.0.0.1) is not announced:
//! nobody else on the LAN could reach it. A server on an unspecified
//! address (0.0.0.0, ::) is announced with every address of the machine,
//! kept up to date as interfaces come and go.

use std::net::IpAddr;
use std::time::Duration;

use mdns_sd::{ServiceDaemon, ServiceInfo};
use papo::discover::{
    SERVICE_TYPE, TXT_HTTP_PORT, TXT_PASSWORD, TXT_PROTOCOL, TXT_TLS_PORT, TXT_VERSION,
};

/// A running announcement; [`Announcement::stop`] says goodbye (records
/// with TTL 0) so that browsers drop the server at once.
pub struct Announcement {
    daemon: ServiceDaemon,
    fullname: String,
}

/// What to announce.
pub struct What<'a> {
    /// The instance name ("papo on lab-pc").
    pub name: Option<&'a str>,
    /// The address the server listens on.
    pub ip: IpAddr,
    /// The plain-text port.
    pub port: u16,
    /// The TLS port, if any.
    pub tls_port: Option<u16>,
    /// The HTTP port of the browser client, if any.
    pub http_port: Option<u16>,
    /// Whether a password is required.
    pub password: bool,
}

/// This machine's host name (for the announcement's host record and the
/// default instance name).
fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most `buf.len()` bytes into `buf`,
    // which lives on this stack frame.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name = String::from_utf8_lossy(&buf[..end]);
    let name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if rc != 0 || name.is_empty() {
        "papo".to_owned()
    } else {
        name
    }
}

/// Starts announcing, or says why not: `Ok(None)` when the address is a
/// loopback one; `Err` when the mDNS stack cannot start (the server runs
/// on without it).
pub fn start(what: &What<'_>) -> Result<Option<Announcement>, String> {
    if what.ip.is_loopback() {
        return Ok(None);
    }
    let host = host_name();
    let name = match what.name {
        Some(n) => n.to_owned(),
        None => format!("papo on {host}"),
    };
    let version = env!("CARGO_PKG_VERSION").to_owned();
    let mut txt = vec![
        (TXT_VERSION, version),
        (TXT_PROTOCOL, papo::protocol::PROTOCOL_NAME.to_owned()),
    ];
    if let Some(p) = what.tls_port {
        txt.push((TXT_TLS_PORT, p.to_string()));
    }
    if what.password {
        txt.push((TXT_PASSWORD, "required".to_owned()));
    }
    if let Some(p) = what.http_port {
        txt.push((TXT_HTTP_PORT, p.to_string()));
    }
    let txt: Vec<(&str, &str)> = txt.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let host_record = format!("{host}.local.");
    let info = if what.ip.is_unspecified() {
        ServiceInfo::new(SERVICE_TYPE, &name, &host_record, "", what.port, &txt[..])
            .map(ServiceInfo::enable_addr_auto)
    } else {
        ServiceInfo::new(
            SERVICE_TYPE,
            &name,
            &host_record,
            what.ip,
            what.port,
            &txt[..],
        )
    }
    .map_err(|e| format!("cannot describe the service: {e}"))?;
    let fullname = info.get_fullname().to_owned();
    let daemon = ServiceDaemon::new().map_err(|e| format!("cannot start mDNS: {e}"))?;
    daemon
        .register(info)
        .map_err(|e| format!("cannot announce {fullname}: {e}"))?;
    Ok(Some(Announcement { daemon, fullname }))
}

impl Announcement {
    /// The announced name (`papo on lab-pc._papo._tcp.local.`).
    pub fn fullname(&self) -> &str {
        &self.fullname
    }

    /// Withdraws the announcement and stops the mDNS thread, waiting at
    /// most a second for each.
    pub fn stop(self) {
        if let Ok(rx) = self.daemon.unregister(&self.fullname) {
            let _ = rx.recv_timeout(Duration::from_secs(1));
        }
        if let Ok(rx) = self.daemon.shutdown() {
            let _ = rx.recv_timeout(Duration::from_secs(1));
        }
    }
}
