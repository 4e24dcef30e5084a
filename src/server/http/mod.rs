//! The HTTP port (PROTOCOL.md "HTTP" and "WebSocket"), on with
//! `ServerConfig::http_port`: the browser chat client, its WebSocket
//! endpoint, `/metrics` and `/healthz`.
//!
//! One thread of its own (`papo-http`, a `mio` loop like the acceptor's)
//! reads each request (`httparse`), answers it and closes, or, for a
//! WebSocket upgrade, answers `101` and hands the socket to an I/O thread
//! as one more transport ([`WsConn`](super::ws::WsConn) inside
//! [`Stream`](super::tls::Stream)), where it is a client like any other:
//! the same sessions, queues and limits. A thread of its own rather than
//! the I/O threads: requests are rare, short and closed at once, they need
//! a state (a half-read request, a response being written) that chat
//! connections never have, and `/metrics` reads every thread's counters;
//! keeping them apart leaves the I/O loops exactly as they were for TCP.
//!
//! Limits: a request head of at most [`MAX_REQUEST_BYTES`] (`431`
//! otherwise), [`MAX_PENDING`] requests at once (more are closed at once),
//! [`REQUEST_TIMEOUT`] to send the head (`408`), `GET` and `HEAD` only
//! (`405`); every answer closes its connection.

mod assets;
mod metrics;

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

use super::acceptor::{admit, refuse_now};
use super::inbox::Cmd;
use super::shared::Shared;
use super::tls::Transport;
use super::ServerEvent;
use crate::error::ErrorCode;

/// The HTTP port by convention (PROTOCOL.md "HTTP"), which a server program
/// turns on; the library's default is no HTTP port
/// (`ServerConfig::http_port`).
pub const DEFAULT_HTTP_PORT: u16 = 18080;

/// Token of the HTTP listening socket.
pub(crate) const HTTP_LISTENER: Token = Token(0);
/// Token of the HTTP thread's waker (used to stop it).
pub(crate) const HTTP_WAKER: Token = Token(1);
/// Longest request head (request line and headers), in bytes.
pub(crate) const MAX_REQUEST_BYTES: usize = 8192;
/// Most headers in a request.
const MAX_HEADERS: usize = 48;
/// Most HTTP connections being read or answered at once.
pub(crate) const MAX_PENDING: usize = 1024;
/// Time a client has to send its request head.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// One HTTP connection: its request being read, or its answer being
/// written.
struct Pending {
    sock: TcpStream,
    addr: SocketAddr,
    input: Vec<u8>,
    output: Vec<u8>,
    written: usize,
    /// After the answer: hand the socket over as a WebSocket, with the
    /// bytes read past the request head.
    upgrade: Option<Vec<u8>>,
    since: Instant,
}

/// Runs until `stop` is set (and the waker fired).
pub(crate) fn run(
    mut poll: Poll,
    listener: TcpListener,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
) {
    let mut events = Events::with_capacity(64);
    let mut conns: HashMap<usize, Pending> = HashMap::new();
    let mut next_token = 2usize;
    let mut next_thread = 0usize;
    loop {
        let timeout = (!conns.is_empty()).then_some(Duration::from_secs(1));
        if let Err(e) = poll.poll(&mut events, timeout) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            break;
        }
        if stop.load(Ordering::Acquire) {
            break;
        }
        for ev in events.iter() {
            match ev.token() {
                HTTP_WAKER => {}
                HTTP_LISTENER => loop {
                    match listener.accept() {
                        Ok((mut sock, addr)) => {
                            if conns.len() >= MAX_PENDING {
                                // Too many at once: closed unanswered.
                                continue;
                            }
                            let _ = sock.set_nodelay(true);
                            let token = next_token;
                            next_token = next_token.wrapping_add(1).max(2);
                            if poll
                                .registry()
                                .register(&mut sock, Token(token), Interest::READABLE)
                                .is_ok()
                            {
                                conns.insert(
                                    token,
                                    Pending {
                                        sock,
                                        addr,
                                        input: Vec::new(),
                                        output: Vec::new(),
                                        written: 0,
                                        upgrade: None,
                                        since: Instant::now(),
                                    },
                                );
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => {}
                        Err(_) => break, // WouldBlock, or out of descriptors
                    }
                },
                Token(t) => {
                    let done = match conns.get_mut(&t) {
                        Some(p) => step(p, &shared),
                        None => false,
                    };
                    if done {
                        if let Some(mut p) = conns.remove(&t) {
                            let _ = poll.registry().deregister(&mut p.sock);
                            finish(p, &shared, &mut next_thread);
                        }
                    } else if let Some(p) = conns.get_mut(&t) {
                        if p.output.len() > p.written {
                            let _ = poll.registry().reregister(
                                &mut p.sock,
                                Token(t),
                                Interest::READABLE | Interest::WRITABLE,
                            );
                        }
                    }
                }
            }
        }
        // Requests that never came whole in time.
        let now = Instant::now();
        let late: Vec<usize> = conns
            .iter()
            .filter(|(_, p)| now.saturating_duration_since(p.since) > REQUEST_TIMEOUT)
            .map(|(t, _)| *t)
            .collect();
        for t in late {
            if let Some(mut p) = conns.remove(&t) {
                let _ = poll.registry().deregister(&mut p.sock);
                if p.output.is_empty() {
                    let out = simple(408, "Request Timeout", "request timeout\n");
                    let _ = (&p.sock).write(&out);
                }
                let _ = p.sock.shutdown(Shutdown::Both);
            }
        }
    }
}

/// Reads and answers what connection `p` has; true once it is finished
/// (answered whole, or failed).
fn step(p: &mut Pending, shared: &Shared) -> bool {
    if p.output.is_empty() {
        let mut buf = [0u8; 4096];
        // A client may end its side right after the request (`nc -N`): it
        // is still answered.
        let mut ended = false;
        loop {
            match p.sock.read(&mut buf) {
                Ok(0) => {
                    ended = true;
                    break;
                }
                Ok(n) => {
                    p.input.extend_from_slice(buf.get(..n).unwrap_or(&[]));
                    if p.input.len() > MAX_REQUEST_BYTES * 2 {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return true,
            }
        }
        match answer(&p.input, shared) {
            None => return ended, // the head is not complete yet
            Some(a) => {
                shared.http_requests.fetch_add(1, Ordering::Relaxed);
                p.output = a.bytes;
                p.upgrade = a.upgrade;
            }
        }
    }
    while p.written < p.output.len() {
        match p.sock.write(p.output.get(p.written..).unwrap_or(&[])) {
            Ok(0) => return true,
            Ok(n) => p.written += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return true,
        }
    }
    true
}

/// A finished connection: closed, or handed over as a WebSocket.
fn finish(p: Pending, shared: &Shared, next_thread: &mut usize) {
    let complete = p.written >= p.output.len() && !p.output.is_empty();
    match p.upgrade {
        Some(early) if complete => hand_off(p.sock, p.addr, early, shared, next_thread),
        _ => {
            let _ = p.sock.shutdown(Shutdown::Write);
            // Take what the client may still send (the rest of a body), so
            // that the close is a FIN and not a reset that could destroy
            // the answer; bounded.
            let mut buf = [0u8; 1024];
            for _ in 0..8 {
                match (&p.sock).read(&mut buf) {
                    Ok(n) if n > 0 => {}
                    _ => break,
                }
            }
        }
    }
}

/// Gives an upgraded socket to an I/O thread, counted and limited like a
/// connection to the plain port (`acceptor.rs`).
fn hand_off(
    sock: TcpStream,
    addr: SocketAddr,
    early: Vec<u8>,
    shared: &Shared,
    next_thread: &mut usize,
) {
    // Unsent bytes wait in the connection's queue, not the kernel's, as
    // for the plain port (`conn.rs`).
    super::conn::limit_unsent(&sock);
    let id = shared.next_conn_id();
    shared.accepted.fetch_add(1, Ordering::Relaxed);
    shared.websocket_upgrades.fetch_add(1, Ordering::Relaxed);
    let reject = admit(shared, addr.ip());
    shared.events.push(ServerEvent::Connected { id, addr });
    if reject.is_some() {
        shared.rejected.fetch_add(1, Ordering::Relaxed);
    }
    let mut cmd = Some(Cmd::NewConn {
        stream: sock,
        addr,
        id,
        reject,
        transport: Transport::WebSocket(early),
    });
    let threads = shared.inboxes.len().max(1);
    for k in 0..threads {
        let t = (*next_thread + k) % threads;
        let (Some(inbox), Some(c)) = (shared.inboxes.get(t), cmd.take()) else {
            break;
        };
        match inbox.push_if_alive(c) {
            Ok(()) => {
                inbox.notify();
                *next_thread = (t + 1) % threads;
                return;
            }
            Err(back) => cmd = Some(back),
        }
    }
    // No I/O thread runs (each ended by a bug): closed, as the acceptor
    // does.
    if let Some(Cmd::NewConn { stream, .. }) = cmd {
        if reject.is_none() {
            shared.connections.fetch_sub(1, Ordering::AcqRel);
            shared.release_ip(addr.ip());
        }
        let code = reject.unwrap_or(ErrorCode::ConnectionAborted);
        refuse_now(stream, true, shared, code);
        shared.events.push(ServerEvent::Disconnected {
            id,
            addr,
            nick: None,
            code: Some(code),
            reason: "no I/O thread running".into(),
        });
    }
}

/// An answer: its bytes, and whether the socket becomes a WebSocket.
struct Answer {
    bytes: Vec<u8>,
    upgrade: Option<Vec<u8>>,
}

impl Answer {
    fn close(bytes: Vec<u8>) -> Option<Answer> {
        Some(Answer {
            bytes,
            upgrade: None,
        })
    }
}

/// The answer to the request at the start of `input`, or `None` while its
/// head is incomplete.
fn answer(input: &[u8], shared: &Shared) -> Option<Answer> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let head_len = match req.parse(input) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            if input.len() > MAX_REQUEST_BYTES {
                return Answer::close(simple(
                    431,
                    "Request Header Fields Too Large",
                    "request head too large\n",
                ));
            }
            return None;
        }
        Err(httparse::Error::TooManyHeaders) => {
            return Answer::close(simple(
                431,
                "Request Header Fields Too Large",
                "too many headers\n",
            ));
        }
        Err(_) => return Answer::close(simple(400, "Bad Request", "bad request\n")),
    };
    if head_len > MAX_REQUEST_BYTES {
        return Answer::close(simple(
            431,
            "Request Header Fields Too Large",
            "request head too large\n",
        ));
    }
    let method = req.method.unwrap_or("");
    let head = method == "HEAD";
    if method != "GET" && !head {
        return Answer::close(simple(405, "Method Not Allowed", "GET only\n"));
    }
    let header = |name: &str| {
        req.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .and_then(|h| std::str::from_utf8(h.value).ok())
            .map(str::trim)
    };
    let path = req.path.unwrap_or("/");
    let path = path.split(['?', '#']).next().unwrap_or("/");
    let host = header("Host").unwrap_or("");
    if path == "/ws" {
        return Some(upgrade(&header, host, input.get(head_len..), shared));
    }
    let (status, reason, ctype, body): (u16, &str, &str, Vec<u8>) = match path {
        "/healthz" => (200, "OK", "text/plain; charset=utf-8", b"ok\n".to_vec()),
        "/metrics" => (
            200,
            "OK",
            "text/plain; version=0.0.4; charset=utf-8",
            metrics::render(&shared.stats()).into_bytes(),
        ),
        _ => match assets::find(path) {
            Some((ctype, body)) => (200, "OK", ctype, body.to_vec()),
            None => (
                404,
                "Not Found",
                "text/plain; charset=utf-8",
                b"not found\n".to_vec(),
            ),
        },
    };
    let mut out = response_head(status, reason, ctype, body.len(), host);
    if !head {
        out.extend_from_slice(&body);
    }
    Answer::close(out)
}

/// The answer to `GET /ws`: `101` and the hand-over, or why not.
fn upgrade<'a>(
    header: &impl Fn(&str) -> Option<&'a str>,
    host: &str,
    early: Option<&[u8]>,
    shared: &Shared,
) -> Answer {
    let refuse = |status, reason, text: &str| Answer {
        bytes: simple(status, reason, text),
        upgrade: None,
    };
    let has_token = |name: &str, token: &str| {
        header(name).is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    };
    if !has_token("Upgrade", "websocket") || !has_token("Connection", "upgrade") {
        return refuse(
            426,
            "Upgrade Required",
            "this is papo's WebSocket endpoint: connect with a WebSocket client\n",
        );
    }
    if header("Sec-WebSocket-Version") != Some("13") {
        let mut out = simple(426, "Upgrade Required", "WebSocket version 13 only\n");
        // `Sec-WebSocket-Version: 13` after the status line (RFC 6455 4.4).
        if let Some(at) = out.windows(2).position(|w| w == b"\r\n") {
            let tail = out.split_off(at + 2);
            out.extend_from_slice(b"Sec-WebSocket-Version: 13\r\n");
            out.extend_from_slice(&tail);
        }
        return Answer {
            bytes: out,
            upgrade: None,
        };
    }
    let Some(key) = header("Sec-WebSocket-Key").filter(|k| !k.is_empty()) else {
        return refuse(400, "Bad Request", "Sec-WebSocket-Key missing\n");
    };
    if let Some(origin) = header("Origin") {
        if !origin_allowed(origin, host, &shared.cfg.http_allowed_origins) {
            return refuse(
                403,
                "Forbidden",
                "this page's origin may not open papo's WebSocket\n",
            );
        }
    }
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    let bytes = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n\r\n"
    )
    .into_bytes();
    Answer {
        bytes,
        upgrade: Some(early.unwrap_or(&[]).to_vec()),
    }
}

/// The Origin rule (PROTOCOL.md "WebSocket"): the page comes from this
/// very HTTP port (its origin's host and port are the request's `Host`),
/// or its origin is in the allow-list.
pub(crate) fn origin_allowed(origin: &str, host: &str, allowed: &[String]) -> bool {
    let origin = origin.trim_end_matches('/');
    if allowed
        .iter()
        .any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(origin))
    {
        return true;
    }
    let rest = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    match rest {
        Some(h) => !host.is_empty() && h.eq_ignore_ascii_case(host),
        None => false,
    }
}

/// `Host` as it may appear in a header we send: host name or address
/// characters only.
fn clean_host(host: &str) -> Option<&str> {
    let ok = !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    ok.then_some(host)
}

/// The head of a `200`/`404` answer, with the security headers every page
/// of the port carries.
fn response_head(status: u16, reason: &str, ctype: &str, len: usize, host: &str) -> Vec<u8> {
    // The page opens its WebSocket on the host it came from; `'self'`
    // covers ws: only in newer browsers, so the origin is named too.
    let connect = match clean_host(host) {
        Some(h) => format!("'self' ws://{h} wss://{h}"),
        None => "'self'".to_owned(),
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\n\
         Content-Type: {ctype}\r\n\
         Content-Length: {len}\r\n\
         Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; \
         img-src 'self' blob: data:; connect-src {connect}; base-uri 'none'; \
         form-action 'none'; frame-ancestors 'none'\r\n\
         X-Content-Type-Options: nosniff\r\n\
         Referrer-Policy: no-referrer\r\n\
         Cache-Control: no-cache\r\n\
         Connection: close\r\n\r\n"
    )
    .into_bytes()
}

/// A short plain-text answer.
fn simple(status: u16, reason: &str, text: &str) -> Vec<u8> {
    let mut out = response_head(status, reason, "text/plain; charset=utf-8", text.len(), "");
    out.extend_from_slice(text.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::origin_allowed;

    #[test]
    fn origin_rule() {
        let none: Vec<String> = Vec::new();
        assert!(origin_allowed(
            "http://127.0.0.1:18080",
            "127.0.0.1:18080",
            &none
        ));
        assert!(origin_allowed(
            "http://LocalHost:18080",
            "localhost:18080",
            &none
        ));
        assert!(!origin_allowed(
            "http://evil.example",
            "127.0.0.1:18080",
            &none
        ));
        assert!(!origin_allowed(
            "http://127.0.0.1:9999",
            "127.0.0.1:18080",
            &none
        ));
        assert!(!origin_allowed("null", "127.0.0.1:18080", &none));
        assert!(!origin_allowed("http://x", "", &none));
        let list = vec!["https://chat.example.org".to_owned()];
        assert!(origin_allowed(
            "https://chat.example.org",
            "10.0.0.1:18080",
            &list
        ));
        assert!(!origin_allowed(
            "http://chat.example.org",
            "10.0.0.1:18080",
            &list
        ));
    }
}
