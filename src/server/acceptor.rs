//! The acceptor thread: accepts connections, applies `max_clients` and
//! `max_clients_per_ip`, and hands each socket to an I/O thread, round-robin.
//!
//! A dedicated thread (rather than one of the I/O loops) keeps accepting
//! while the I/O threads are busy, and keeps the I/O loops uniform. It
//! sleeps in `poll` until a connection arrives or the server stops.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mio::net::TcpListener;
use mio::{Events, Poll, Token};

use crate::error::ErrorCode;

use super::shared::{Cmd, Shared};
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
    let mut next_id: u64 = 1;
    let mut to_wake = vec![false; threads];
    let mut retry: Option<Duration> = None;
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
                match listener.accept() {
                    Ok((stream, addr)) => {
                        // Small lines, answered at once: no Nagle delay.
                        let _ = stream.set_nodelay(true);
                        let id = next_id;
                        next_id += 1;
                        shared.accepted.fetch_add(1, Ordering::Relaxed);
                        // Counted first: whoever sees `Connected` and asks
                        // for the connection count finds this one in it.
                        let reject = admit(&shared, addr.ip());
                        shared.events.push(ServerEvent::Connected { id, addr });
                        if reject.is_some() {
                            shared.rejected.fetch_add(1, Ordering::Relaxed);
                        }
                        // Round-robin over the I/O threads that still run.
                        let mut t = next_thread;
                        for _ in 0..threads {
                            if shared.inboxes.get(t).is_some_and(|i| i.is_alive()) {
                                break;
                            }
                            t = (t + 1) % threads;
                        }
                        next_thread = (t + 1) % threads;
                        if let Some(inbox) = shared.inboxes.get(t) {
                            inbox.push(Cmd::NewConn {
                                stream,
                                addr,
                                id,
                                reject,
                                tls,
                            });
                            if let Some(w) = to_wake.get_mut(t) {
                                *w = true;
                            }
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
                        // Out of file descriptors (EMFILE/ENFILE) or memory: the
                        // pending connection stays in the backlog. Epoll is
                        // edge-triggered, so try again after a pause instead of
                        // waiting for a new edge.
                        retry = Some(Duration::from_millis(100));
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

/// Counts a new connection against the limits, or says why it is refused.
fn admit(shared: &Shared, ip: std::net::IpAddr) -> Option<ErrorCode> {
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
