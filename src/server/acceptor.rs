//! The acceptor thread: accepts connections, applies `max_clients` and
//! `max_clients_per_ip`, and hands each socket to an I/O thread, round-robin.
//!
//! A dedicated thread (rather than one of the I/O loops) keeps accepting
//! while the I/O threads are busy, and keeps the I/O loops uniform. It
//! sleeps in `poll` until a connection arrives or the server stops.
//!
//! Out of file descriptors: when `accept` fails with `EMFILE`/`ENFILE`, the
//! connection waits in the kernel's backlog and nothing would tell its
//! client why. The acceptor keeps one spare descriptor (`/dev/null`, opened
//! when it starts); it closes it, accepts the connection into the freed
//! descriptor, answers `HELLO` and `ERROR 12` (server full) at once, closes
//! it and reopens the spare: nginx's and libuv's answer to the same
//! problem. Only when even that fails (another thread took the freed
//! descriptor) does it fall back to trying again after a pause.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Poll, Token};

use crate::error::ErrorCode;
use crate::protocol::ServerLine;

use super::inbox::Cmd;
use super::shared::Shared;
use super::tls::Transport;
use super::ServerEvent;

/// Token of the listening socket.
pub(crate) const LISTENER: Token = Token(0);
/// Token of the acceptor's waker (used to stop it).
pub(crate) const ACCEPT_WAKER: Token = Token(1);
/// Token of the TLS listening socket, if any (PROTOCOL.md "TLS").
pub(crate) const TLS_LISTENER: Token = Token(2);

/// Accepted sockets handed out before the threads that got them are woken,
/// so that a burst of connections is batched but I/O starts early.
const WAKE_EVERY: usize = 64;
/// How long to wait before accepting again when the process is out of
/// descriptors (or memory) and the spare could not help.
const RETRY_PAUSE: Duration = Duration::from_millis(100);

/// The descriptor kept in reserve for a connection the process has no
/// descriptor for (see the module's comment).
struct Spare(Option<File>);

impl Spare {
    fn open() -> Spare {
        // Rust opens files with O_CLOEXEC, so the spare does not leak into
        // programs the host process starts.
        Spare(File::open("/dev/null").ok())
    }

    /// Gives up the spare descriptor and accepts one connection into it.
    /// On success the caller closes that connection at once and then calls
    /// [`Spare::restore`]; on failure the spare is taken back here. `None`
    /// when there is no spare to give up (it could not be reopened).
    fn accept_with(
        &mut self,
        listener: &TcpListener,
    ) -> Option<io::Result<(TcpStream, SocketAddr)>> {
        if self.0.is_none() {
            // Lost last time (another thread took the freed descriptor):
            // descriptors may have been freed since.
            *self = Spare::open();
        }
        let spare = self.0.take()?;
        drop(spare);
        let accepted = loop {
            match listener.accept() {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => break r,
            }
        };
        if accepted.is_err() {
            // Nothing took the freed descriptor here: take it back now.
            self.restore();
        }
        // Otherwise the caller answers and closes the connection, which
        // frees its descriptor again, then calls `restore`.
        Some(accepted)
    }

    /// Takes the spare descriptor back after [`Spare::accept_with`] (if
    /// another thread took the freed descriptor meanwhile, the next
    /// `accept_with` tries again).
    fn restore(&mut self) {
        if self.0.is_none() {
            *self = Spare::open();
        }
    }
}

/// Whether an `accept` error means the process (or the system) has no file
/// descriptor left.
fn out_of_descriptors(e: &io::Error) -> bool {
    #[cfg(unix)]
    {
        matches!(e.raw_os_error(), Some(libc::EMFILE) | Some(libc::ENFILE))
    }
    #[cfg(not(unix))]
    {
        let _ = e;
        false
    }
}

/// Runs until `stop` is set (and the waker fired). Dropping the listeners
/// on return releases the ports. Connections from `tls_listener` are marked
/// for TLS.
pub(crate) fn run(
    mut poll: Poll,
    listener: TcpListener,
    tls_listener: Option<TcpListener>,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
) {
    let listeners: Vec<(&TcpListener, bool)> = std::iter::once((&listener, false))
        .chain(tls_listener.as_ref().map(|l| (l, true)))
        .collect();
    let mut events = Events::with_capacity(16);
    let threads = shared.inboxes.len().max(1);
    let mut next_thread = 0usize;
    let mut to_wake = vec![false; threads];
    let mut retry: Option<Duration> = None;
    let mut spare = Spare::open();
    loop {
        if let Err(e) = poll.poll(&mut events, retry) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            // The poller itself failed: nothing can be accepted any more.
            break;
        }
        if stop.load(Ordering::Acquire) {
            break;
        }
        retry = None;
        let mut handed = 0usize;
        for &(listener, tls) in &listeners {
            loop {
                let mut accepted = listener.accept();
                let mut no_descriptor = false;
                if let Err(e) = &accepted {
                    if out_of_descriptors(e) {
                        if let Some(r) = spare.accept_with(listener) {
                            no_descriptor = r.is_ok();
                            accepted = r;
                        }
                    }
                }
                match accepted {
                    Ok((stream, addr)) if no_descriptor => {
                        // Accepted into the spare's descriptor: answer and
                        // close it now, so that the spare can be taken back.
                        let id = shared.next_conn_id();
                        shared.accepted.fetch_add(1, Ordering::Relaxed);
                        shared.rejected.fetch_add(1, Ordering::Relaxed);
                        shared.events.push(ServerEvent::Connected { id, addr });
                        refuse_now(stream, tls, &shared, ErrorCode::ServerFull);
                        spare.restore();
                        shared.events.push(ServerEvent::Disconnected {
                            id,
                            addr,
                            nick: None,
                            code: Some(ErrorCode::ServerFull),
                            reason: "server full (no file descriptor left)".into(),
                        });
                    }
                    Ok((stream, addr)) => {
                        // Small lines, answered at once: no Nagle delay.
                        let _ = stream.set_nodelay(true);
                        crate::server::conn::limit_unsent(&stream);
                        let id = shared.next_conn_id();
                        shared.accepted.fetch_add(1, Ordering::Relaxed);
                        // Counted first: whoever sees `Connected` and asks
                        // for the connection count finds this one in it.
                        let reject = admit(&shared, addr.ip());
                        shared.events.push(ServerEvent::Connected { id, addr });
                        if reject.is_some() {
                            shared.rejected.fetch_add(1, Ordering::Relaxed);
                        }
                        // Round-robin over the I/O threads that still run.
                        let mut cmd = Some(Cmd::NewConn {
                            stream,
                            addr,
                            id,
                            reject,
                            transport: if tls {
                                Transport::Tls
                            } else {
                                Transport::Plain
                            },
                        });
                        let mut taken = None;
                        for k in 0..threads {
                            let t = (next_thread + k) % threads;
                            let Some(inbox) = shared.inboxes.get(t) else {
                                continue;
                            };
                            let Some(c) = cmd.take() else {
                                break;
                            };
                            match inbox.push_if_alive(c) {
                                Ok(()) => {
                                    taken = Some(t);
                                    break;
                                }
                                Err(back) => cmd = Some(back),
                            }
                        }
                        let Some(t) = taken else {
                            // Every I/O thread has ended (each did so by a
                            // bug: they end only at shutdown, after this
                            // thread). Nobody would ever serve it: answer it
                            // here rather than leave it waiting.
                            if let Some(Cmd::NewConn { stream, .. }) = cmd {
                                if reject.is_none() {
                                    shared.connections.fetch_sub(1, Ordering::AcqRel);
                                    shared.release_ip(addr.ip());
                                }
                                let code = reject.unwrap_or(ErrorCode::ConnectionAborted);
                                refuse_now(stream, tls, &shared, code);
                                shared.events.push(ServerEvent::Disconnected {
                                    id,
                                    addr,
                                    nick: None,
                                    code: Some(code),
                                    reason: "no I/O thread running".into(),
                                });
                            }
                            continue;
                        };
                        next_thread = (t + 1) % threads;
                        if let Some(w) = to_wake.get_mut(t) {
                            *w = true;
                        }
                        handed += 1;
                        if handed % WAKE_EVERY == 0 {
                            wake(&shared, &mut to_wake);
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                        ) =>
                    {
                        continue
                    }
                    Err(_) => {
                        // Out of memory, or out of file descriptors with no
                        // spare to give up: the pending connection stays in
                        // the backlog. Epoll is edge-triggered, so try again
                        // after a pause instead of waiting for a new edge.
                        retry = Some(RETRY_PAUSE);
                        break;
                    }
                }
            }
        }
        wake(&shared, &mut to_wake);
    }
    drop(listeners);
    drop(tls_listener);
    drop(listener);
}

fn wake(shared: &Shared, to_wake: &mut [bool]) {
    for (t, w) in to_wake.iter_mut().enumerate() {
        if std::mem::take(w) {
            if let Some(inbox) = shared.inboxes.get(t) {
                inbox.notify();
            }
        }
    }
}

/// Answers a connection that no I/O thread will take, from this thread:
/// `HELLO` and `ERROR <code>` (what an I/O thread sends a refused
/// connection), then closes it. The socket is fresh, so the two short lines
/// fit its send buffer and the write does not block. A connection to the
/// TLS port is only closed: its client expects a TLS handshake first.
pub(crate) fn refuse_now(stream: TcpStream, tls: bool, shared: &Shared, code: ErrorCode) {
    if !tls {
        let mut msg = Vec::with_capacity(shared.hello.len() + 64);
        msg.extend_from_slice(&shared.hello);
        ServerLine::Error {
            code: code.as_i32().unsigned_abs(),
            subject: None,
            text: code.text(),
        }
        .encode(&mut msg);
        let _ = (&stream).write(&msg);
    }
    let _ = stream.shutdown(Shutdown::Write);
    // Take what the client may already have sent (a nickname), so that the
    // close sends a FIN after the lines and not a reset that could destroy
    // them before the client reads them. Bounded: a client pouring bytes
    // gets its reset.
    let mut buf = [0u8; 1024];
    for _ in 0..8 {
        match (&stream).read(&mut buf) {
            Ok(n) if n > 0 => {}
            _ => break,
        }
    }
}

/// Counts a new connection against the limits, or says why it is refused.
pub(crate) fn admit(shared: &Shared, ip: std::net::IpAddr) -> Option<ErrorCode> {
    // Only this thread increments `connections`, so the check cannot race
    // past the limit (I/O threads only decrement it).
    if shared.connections.load(Ordering::Acquire) >= shared.cfg.max_clients {
        return Some(ErrorCode::ServerFull);
    }
    if shared.cfg.max_clients_per_ip > 0 {
        let mut map = shared.per_ip.lock();
        let n = map.entry(ip).or_insert(0);
        if *n >= shared.cfg.max_clients_per_ip {
            return Some(ErrorCode::ServerFull);
        }
        *n += 1;
    }
    shared.connections.fetch_add(1, Ordering::AcqRel);
    None
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::net::TcpStream;
    use std::time::Duration;

    use super::super::{Server, ServerEvent};
    use crate::config::ServerConfig;
    use crate::error::ErrorCode;

    /// A connection no I/O thread can take (here: every thread marked as
    /// ended, as a panic in each would leave them) is answered `HELLO` and
    /// `ERROR 03` by the acceptor and closed, not left waiting in a dead
    /// thread's inbox, and it does not stay counted.
    #[test]
    fn a_connection_no_io_thread_takes_is_answered_and_closed() {
        let server = match Server::start(
            "127.0.0.1",
            0,
            ServerConfig {
                io_threads: 2,
                ..ServerConfig::default()
            },
        ) {
            Ok(s) => s,
            Err(e) => panic!("server: {e}"),
        };
        for inbox in &server.shared.inboxes {
            inbox.close_and_take(&mut Vec::new());
        }
        let mut c = TcpStream::connect(server.local_addr()).expect("connect");
        c.set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        let mut got = String::new();
        c.read_to_string(&mut got).expect("read to the end");
        let lines: Vec<&str> = got.lines().collect();
        assert_eq!(lines.len(), 2, "{got:?}");
        assert!(lines[0].starts_with("HELLO papo/1 "), "{got:?}");
        assert!(lines[1].starts_with("ERROR 03 * :"), "{got:?}");
        assert_eq!(server.connection_count(), 0);
        let ev = server.next_event(Duration::from_secs(20));
        assert!(matches!(ev, Some(ServerEvent::Connected { .. })), "{ev:?}");
        let ev = server.next_event(Duration::from_secs(20));
        assert!(
            matches!(
                ev,
                Some(ServerEvent::Disconnected {
                    code: Some(ErrorCode::ConnectionAborted),
                    nick: None,
                    ..
                })
            ),
            "{ev:?}"
        );
        server.shutdown();
    }
}
