//! Finding papo servers on the LAN: mDNS/DNS-SD (RFC 6762, RFC 6763)
//! browsing for [`SERVICE_TYPE`], which `papo-server` announces
//! (PROTOCOL.md, "Discovery"). In C: `papo_discover`; in Python:
//! `papo.discover()`.
//!
//! The mDNS stack is the `mdns-sd` crate: one thread of its own for the
//! duration of a call, multicast on every non-loopback interface (so a
//! server announced on this machine's LAN address is found, one on
//! 127.0.0.1 is not announced at all).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use mdns_sd::{ServiceDaemon, ServiceEvent, ServiceInfo};

use crate::error::{Error, ErrorCode, Result};

/// The DNS-SD service type papo servers are announced under.
pub const SERVICE_TYPE: &str = "_papo._tcp.local.";
/// TXT key: the server's papo version (`1.0.0`).
pub const TXT_VERSION: &str = "version";
/// TXT key: the wire protocol (`papo/1`, as in `HELLO`).
pub const TXT_PROTOCOL: &str = "proto";
/// TXT key: the TLS port, when the server has TLS.
pub const TXT_TLS_PORT: &str = "tls";
/// TXT key: the HTTP port (browser client), when the server has one.
pub const TXT_HTTP_PORT: &str = "http";
/// TXT key: `required` when the server asks for a password.
pub const TXT_PASSWORD: &str = "pass";

/// A server found on the LAN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveredServer {
    /// The announced instance name, for people ("papo on lab-pc").
    pub name: String,
    /// The announcing machine's mDNS host name ("lab-pc.local.").
    pub host: String,
    /// Its addresses, IPv4 first, each sorted; connect to any of them.
    /// Never empty. IPv6 link-local addresses (`fe80::`), which need an
    /// interface name to connect to, are left out (a server with only
    /// those is not listed).
    pub addresses: Vec<IpAddr>,
    /// The plain-text chat port.
    pub port: u16,
    /// The TLS port, if the server announced one.
    pub tls_port: Option<u16>,
    /// The HTTP port of the browser client, if announced.
    pub http_port: Option<u16>,
    /// The server's papo version, if announced.
    pub version: Option<String>,
    /// Whether the server asks for a password (`/pass`) before the
    /// nickname.
    pub password_required: bool,
}

impl DiscoveredServer {
    fn from_info(info: &ServiceInfo) -> Option<DiscoveredServer> {
        let fullname = info.get_fullname();
        let name = fullname
            .strip_suffix(SERVICE_TYPE)
            .map(|n| n.trim_end_matches('.'))
            .unwrap_or(fullname)
            .to_owned();
        // An IPv6 link-local address (fe80::/10) needs the interface it
        // is on to be reached, which the records do not say: left out.
        let mut addresses: Vec<IpAddr> = info
            .get_addresses()
            .iter()
            .copied()
            .filter(|a| !is_link_local_v6(a))
            .collect();
        addresses.sort_by_key(|a| (a.is_ipv6(), *a));
        if addresses.is_empty() || info.get_port() == 0 {
            return None;
        }
        let port = |key| {
            info.get_property_val_str(key)
                .and_then(|v| v.parse::<u16>().ok())
                .filter(|&p| p != 0)
        };
        Some(DiscoveredServer {
            name,
            host: info.get_hostname().to_owned(),
            addresses,
            port: info.get_port(),
            tls_port: port(TXT_TLS_PORT),
            http_port: port(TXT_HTTP_PORT),
            version: info.get_property_val_str(TXT_VERSION).map(str::to_owned),
            password_required: info.get_property_val_str(TXT_PASSWORD) == Some("required"),
        })
    }
}

fn is_link_local_v6(a: &IpAddr) -> bool {
    matches!(a, IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80)
}

/// The papo servers that answer on the LAN within `timeout`, sorted by
/// name. Blocks for the whole `timeout` (answers keep coming in until then;
/// 1 to 3 s finds the servers of a LAN), then returns what it found, which
/// may be nothing. A server that withdrew its announcement within the
/// call is left out. A zero `timeout` returns an empty list at once
/// without sending anything.
///
/// Thread safety: any thread, several at once (each call has its own mDNS
/// socket and thread).
///
/// Errors: 15 `Io` when the mDNS stack cannot start (no socket for it).
pub fn discover(timeout: Duration) -> Result<Vec<DiscoveredServer>> {
    if timeout.is_zero() {
        // No time to hear an answer: nothing is sent.
        return Ok(Vec::new());
    }
    let io = |what: &str, e: mdns_sd::Error| Error::new(ErrorCode::Io, format!("{what}: {e}"));
    let daemon = ServiceDaemon::new().map_err(|e| io("cannot start mDNS", e))?;
    let found = browse(&daemon, timeout).map_err(|e| io("cannot browse mDNS", e));
    // The daemon's thread ends with it; the answer is not worth waiting for.
    if let Ok(rx) = daemon.shutdown() {
        let _ = rx.recv_timeout(Duration::from_millis(500));
    }
    found
}

fn browse(
    daemon: &ServiceDaemon,
    timeout: Duration,
) -> std::result::Result<Vec<DiscoveredServer>, mdns_sd::Error> {
    let events = daemon.browse(SERVICE_TYPE)?;
    let deadline = Instant::now().checked_add(timeout);
    let mut found: BTreeMap<String, DiscoveredServer> = BTreeMap::new();
    loop {
        let left = match deadline {
            Some(d) => d.saturating_duration_since(Instant::now()),
            None => Duration::from_secs(3600),
        };
        if left.is_zero() {
            break;
        }
        match events.recv_timeout(left) {
            Ok(ServiceEvent::ServiceResolved(info)) => {
                if let Some(s) = DiscoveredServer::from_info(&info) {
                    found.insert(info.get_fullname().to_owned(), s);
                }
            }
            Ok(ServiceEvent::ServiceRemoved(_, fullname)) => {
                found.remove(&fullname);
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    let _ = daemon.stop_browse(SERVICE_TYPE);
    let mut list: Vec<DiscoveredServer> = found.into_values().collect();
    list.sort_by(|a, b| a.name.cmp(&b.name).then(a.port.cmp(&b.port)));
    Ok(list)
}
