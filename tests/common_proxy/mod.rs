//! A fault-injecting TCP proxy on loopback for the resume tests: it
//! forwards every connection to the server, and can cut every live
//! connection at once (both sockets shut down, whatever is in flight
//! lost), refuse new connections for a while, and change the server it
//! forwards to (a restarted server on another port).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

struct State {
    upstream: Mutex<SocketAddr>,
    /// Both sockets of every connection not yet cut.
    live: Mutex<Vec<(TcpStream, TcpStream)>>,
    refusing: AtomicBool,
    stop: AtomicBool,
    accepted: AtomicUsize,
}

/// The proxy; stops (and cuts everything) when dropped.
pub struct Proxy {
    addr: SocketAddr,
    state: Arc<State>,
    acceptor: Option<JoinHandle<()>>,
}

fn pump(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}

impl Proxy {
    /// A proxy on 127.0.0.1 (any free port) to `upstream`.
    pub fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let state = Arc::new(State {
            upstream: Mutex::new(upstream),
            live: Mutex::new(Vec::new()),
            refusing: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            accepted: AtomicUsize::new(0),
        });
        let st = Arc::clone(&state);
        let acceptor = std::thread::spawn(move || {
            for client in listener.incoming() {
                if st.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                st.accepted.fetch_add(1, Ordering::SeqCst);
                if st.refusing.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let to = *st.upstream.lock().unwrap();
                let Ok(server) = TcpStream::connect(to) else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
                    continue;
                };
                let (Ok(c3), Ok(s3)) = (client.try_clone(), server.try_clone()) else {
                    continue;
                };
                st.live.lock().unwrap().push((c3, s3));
                std::thread::spawn(move || pump(client, server));
                std::thread::spawn(move || pump(s2, c2));
            }
        });
        Proxy {
            addr,
            state,
            acceptor: Some(acceptor),
        }
    }

    /// Where clients connect.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Cuts every connection now: both of its sockets are shut down, so
    /// the client and the server each see their connection end, and bytes
    /// in flight between them are lost.
    pub fn cut(&self) {
        for (c, s) in self.state.live.lock().unwrap().drain(..) {
            let _ = c.shutdown(Shutdown::Both);
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    /// While on, new connections are closed at once (the server is
    /// unreachable).
    pub fn refuse(&self, on: bool) {
        self.state.refusing.store(on, Ordering::SeqCst);
    }

    /// Forwards new connections to `upstream` from now on.
    pub fn set_upstream(&self, upstream: SocketAddr) {
        *self.state.upstream.lock().unwrap() = upstream;
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.state.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        // Wake the acceptor with a connection of our own.
        let _ = TcpStream::connect(self.addr);
        if let Some(a) = self.acceptor.take() {
            let _ = a.join();
        }
        self.cut();
    }
}
