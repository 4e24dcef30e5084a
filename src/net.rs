//! The one parser of the address text that [`crate::Server::start`],
//! [`crate::Client::connect`] and the C functions `Conecta_Servidor` /
//! `Conecta_cliente` (through the same Rust calls) take.
//!
//! Accepted, in this order:
//! - `""`: 127.0.0.1 (seed 000: "Se deixar o endereço de IP em branco será
//!   atribuido o IP 127.0.0.1"). C's NULL is converted to `""` by the FFI.
//! - an IPv4 address in dotted decimal (`192.168.0.10`), or an IPv6 address
//!   with or without brackets (`::1`, `[::1]`), as [`std::net::IpAddr`]
//!   parses them (so no leading zeros, no shortened `127.1`).
//! - a host name (`localhost`, `chat.example.org`): ASCII letters, digits
//!   and hyphens in dot-separated labels of 1 to 63 characters, none
//!   starting or ending with a hyphen, at most 253 characters in all (RFC
//!   1123 section 2.1), and an optional final dot (an absolute name, kept
//!   as such). It is resolved by the system (`/etc/hosts`, then DNS)
//!   through [`std::net::ToSocketAddrs`].
//!
//! Everything else is 05 `InvalidAddress` without any lookup: spaces or
//! other characters (`não é ip`), a port inside the text (`1.2.3.4:80`), a
//! text that looks like an IPv4 address but is not one (`999.1.1.1`,
//! `1.2.3`: its last label is a number, so it cannot be a host name, as in
//! the WHATWG URL host parser), and names under `.invalid`, which RFC 6761
//! section 6.4 reserves for names that never resolve. A host name that the
//! system cannot resolve, or not within the time given, is 05 too.
//!
//! Resolution runs on a short-lived thread of its own, so that a DNS server
//! that never answers costs the caller the time allowed and no more; the
//! lookup is left to finish (and be dropped) on that thread.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::sync::mpsc;
use std::time::Duration;

use crate::error::{Error, ErrorCode, Result};

/// Where to connect or listen, as parsed from the address text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Host {
    /// An IP address, given as such (or `""`, for 127.0.0.1).
    Ip(IpAddr),
    /// A host name, checked for syntax but not resolved yet.
    Name(String),
}

/// Longest host name, in characters (RFC 1123 section 2.1, RFC 1035).
const MAX_NAME_CHARS: usize = 253;
/// Longest label of a host name (RFC 1035 section 2.3.4).
const MAX_LABEL_CHARS: usize = 63;

fn invalid(text: &str, why: &str) -> Error {
    // The text is the caller's; show only a bounded part of it.
    let shown: String = text.chars().take(80).collect();
    Error::new(
        ErrorCode::InvalidAddress,
        format!("{shown:?} is not an IP address or a host name: {why}"),
    )
}

impl Host {
    /// Parses the address text (see the module's documentation). Looks
    /// nothing up. Errors: 05 `InvalidAddress`.
    pub(crate) fn parse(text: &str) -> Result<Host> {
        if text.is_empty() {
            return Ok(Host::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        }
        if let Some(inner) = text.strip_prefix('[') {
            return match inner.strip_suffix(']').map(str::parse::<IpAddr>) {
                Some(Ok(ip @ IpAddr::V6(_))) => Ok(Host::Ip(ip)),
                _ => Err(invalid(
                    text,
                    "only an IPv6 address may be written in brackets",
                )),
            };
        }
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Ok(Host::Ip(ip));
        }
        if text.contains(':') {
            return Err(invalid(
                text,
                "not an IPv6 address (and a port goes in its own argument)",
            ));
        }
        let name = text.strip_suffix('.').unwrap_or(text);
        if name.is_empty() || name.len() > MAX_NAME_CHARS {
            return Err(invalid(text, "a host name has 1 to 253 characters"));
        }
        let labels: Vec<&str> = name.split('.').collect();
        for label in &labels {
            let ok = !label.is_empty()
                && label.len() <= MAX_LABEL_CHARS
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-');
            if !ok {
                return Err(invalid(
                    text,
                    "a host name is ASCII letters, digits and hyphens in labels of 1 to 63 characters separated by dots",
                ));
            }
        }
        let last = labels.last().copied().unwrap_or_default();
        if last.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid(text, "not a valid IPv4 address"));
        }
        if last.eq_ignore_ascii_case("invalid") {
            return Err(invalid(
                text,
                "names under .invalid never resolve (RFC 6761)",
            ));
        }
        Ok(Host::Name(text.to_owned()))
    }

    /// The socket addresses of this host at `port`: the one address of an
    /// IP, or every address the system gives for a name, in its order of
    /// preference. A name is given at most `within` to resolve.
    ///
    /// Errors: 05 `InvalidAddress` when the name does not resolve, gives no
    /// address, or takes longer than `within`; 15 `Io` when the thread that
    /// resolves cannot be started.
    pub(crate) fn addrs(&self, port: u16, within: Duration) -> Result<Vec<SocketAddr>> {
        match self {
            Host::Ip(ip) => Ok(vec![SocketAddr::new(*ip, port)]),
            Host::Name(name) => resolve_within(name, port, within, system_lookup),
        }
    }
}

/// The system's resolver, through the standard library (`getaddrinfo`).
fn system_lookup(name: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
    Ok((name, port).to_socket_addrs()?.collect())
}

/// Runs `lookup` on a thread of its own and waits for it at most `within`.
fn resolve_within(
    name: &str,
    port: u16,
    within: Duration,
    lookup: fn(&str, u16) -> std::io::Result<Vec<SocketAddr>>,
) -> Result<Vec<SocketAddr>> {
    let (tx, rx) = mpsc::sync_channel(1);
    let owned = name.to_owned();
    std::thread::Builder::new()
        .name("papo-resolve".to_owned())
        .spawn(move || {
            // The receiver may be gone (timed out): nothing to do then.
            let _ = tx.send(lookup(&owned, port));
        })
        .map_err(|e| {
            Error::io(
                ErrorCode::Io,
                "cannot start the thread that resolves a host name",
                e,
            )
        })?;
    match rx.recv_timeout(within) {
        Ok(Ok(addrs)) if !addrs.is_empty() => Ok(addrs),
        Ok(Ok(_)) => Err(invalid(name, "the name has no address")),
        Ok(Err(e)) => Err(Error::io(
            ErrorCode::InvalidAddress,
            format!("{name:?} is not an IP address, and the name does not resolve: {e}"),
            e,
        )),
        Err(mpsc::RecvTimeoutError::Timeout) => Err(invalid(
            name,
            &format!("the name did not resolve within {} ms", within.as_millis()),
        )),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            Err(invalid(name, "the name could not be resolved"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn ip(s: &str) -> Host {
        Host::Ip(s.parse().unwrap())
    }

    #[test]
    fn ip_addresses_and_the_empty_text() {
        assert_eq!(Host::parse("").unwrap(), ip("127.0.0.1"));
        assert_eq!(Host::parse("10.0.0.7").unwrap(), ip("10.0.0.7"));
        assert_eq!(Host::parse("::1").unwrap(), ip("::1"));
        assert_eq!(Host::parse("[::1]").unwrap(), ip("::1"));
        assert_eq!(Host::parse("[fe80::2]").unwrap(), ip("fe80::2"));
    }

    #[test]
    fn host_names_are_kept_for_the_resolver() {
        for name in ["localhost", "localhost.", "chat.example.org", "a-b.c1", "x"] {
            assert_eq!(Host::parse(name).unwrap(), Host::Name(name.to_owned()));
        }
        let longest_label = "a".repeat(63);
        assert!(Host::parse(&longest_label).is_ok());
        let longest_name = [
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(61),
        ]
        .join(".");
        assert_eq!(longest_name.len(), 253);
        assert!(Host::parse(&longest_name).is_ok());
    }

    #[test]
    fn garbage_is_05_without_any_lookup() {
        let long_label = "a".repeat(64);
        let long_name = [
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(62),
        ]
        .join(".");
        let digits = "1".repeat(10000);
        for bad in [
            "999.1.1.1",
            "256.1.1.1",
            "1.2.3",
            "1.2.3.4:80",
            "127.0.0.1:80",
            "não é ip",
            "not an ip",
            " 127.0.0.1",
            "127.0.0.1 ",
            " ",
            "::g",
            "[::1",
            "::1]",
            "[127.0.0.1]",
            "[localhost]",
            "a..b",
            ".a",
            "-a.b",
            "a-.b",
            "a_b",
            "ação.br",
            "nul\0ip",
            "x.invalid",
            "INVALID",
            "..",
            ".",
            long_label.as_str(),
            long_name.as_str(),
            digits.as_str(),
        ] {
            let e = Host::parse(bad).expect_err(bad);
            assert_eq!(e.code(), ErrorCode::InvalidAddress, "{bad:?}");
        }
    }

    #[test]
    fn localhost_resolves_to_a_loopback_address() {
        let addrs = Host::parse("localhost")
            .unwrap()
            .addrs(7, Duration::from_secs(5))
            .unwrap();
        assert!(!addrs.is_empty());
        assert!(
            addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 7),
            "{addrs:?}"
        );
    }

    #[test]
    fn an_ip_needs_no_lookup() {
        let addrs = Host::parse("[::1]")
            .unwrap()
            .addrs(9, Duration::ZERO)
            .unwrap();
        assert_eq!(addrs, vec!["[::1]:9".parse().unwrap()]);
    }

    fn never_answers(_: &str, _: u16) -> std::io::Result<Vec<SocketAddr>> {
        std::thread::sleep(Duration::from_secs(10));
        Ok(Vec::new())
    }

    fn says_no(_: &str, _: u16) -> std::io::Result<Vec<SocketAddr>> {
        Err(std::io::Error::other("no such name"))
    }

    fn finds_nothing(_: &str, _: u16) -> std::io::Result<Vec<SocketAddr>> {
        Ok(Vec::new())
    }

    /// A resolver that hangs costs the time allowed, no more.
    #[test]
    fn a_lookup_that_never_answers_is_05_at_the_deadline() {
        let started = Instant::now();
        let e = resolve_within("slow.example", 1, Duration::from_millis(200), never_answers)
            .unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidAddress, "{e}");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
        assert!(e.to_string().contains("200 ms"), "{e}");
    }

    #[test]
    fn a_failed_or_empty_lookup_is_05() {
        for lookup in [says_no, finds_nothing] {
            let e = resolve_within("x.example", 1, Duration::from_secs(5), lookup).unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidAddress, "{e}");
        }
    }
}
