//! The WebSocket endpoint (PROTOCOL.md "WebSocket"): browser clients in
//! the same chat as `nc`-style TCP clients, public and private, both ways;
//! files as binary messages; the Origin rule; over-long messages refused
//! like an endless line; a browser that stops reading dropped as a slow
//! consumer while the others keep chatting.

mod common_server;
mod common_ws;

use std::net::{SocketAddr, TcpStream};

use common_server::{eventually, start, Raw};
use common_ws::{open, Ws};
use papo::server::DisconnectReason;
use papo::ServerConfig;
use tungstenite::Message;

fn with_http() -> ServerConfig {
    ServerConfig {
        http_port: Some(0),
        io_threads: 2,
        ..ServerConfig::default()
    }
}

#[test]
fn browser_and_tcp_clients_chat_both_ways_public_and_private() {
    let server = start(with_http());
    let port = server.http_port().expect("HTTP port");
    let (mut nc, _) = Raw::join(server.local_addr(), "nc");
    let (mut web, users) = Ws::join(port, "web", false);
    assert_eq!(users, "USERS 2 :nc web");
    nc.expect("JOIN web ");
    // Public, both ways.
    web.send(":olá do navegador");
    nc.expect("PUBLIC web :olá do navegador");
    nc.send(":oi do nc");
    assert_eq!(web.line(), "PUBLIC nc :oi do nc");
    // Private, both ways, with SENT.
    web.send("nc:só para você");
    web.expect("SENT nc ");
    nc.expect("PRIVATE web :só para você");
    nc.send("web:resposta");
    nc.expect("SENT web ");
    assert_eq!(web.line(), "PRIVATE nc :resposta");
    // Errors and labels as over TCP.
    web.send("@7 zé:alguém?");
    web.expect("@7 ERROR 02 zé ");
    web.send("/list");
    assert_eq!(web.line(), "USERS 2 :nc web");
    // A second browser; presence reaches everyone.
    let (mut web2, _) = Ws::join(port, "web2", false);
    assert!(web.line().starts_with("JOIN web2 "));
    nc.expect("JOIN web2 ");
    web2.send("/quit");
    assert!(web2.next().is_none(), "closed after /quit");
    assert!(web.line().starts_with("LEFT web2 "));
    nc.expect("LEFT web2 ");
    assert!(web.sync().is_empty());
}

#[test]
fn files_travel_as_binary_messages_both_ways() {
    let server = start(with_http());
    let port = server.http_port().expect("HTTP port");
    let (mut tcp, _) = Raw::join_binary(server.local_addr(), "tcp");
    let (mut web, _) = Ws::join(port, "web", true);
    tcp.expect("JOIN web ");
    // TCP to browser: FILE, CHUNK + binary message, FILEEND.
    tcp.send("/file * 5 :a.txt");
    let ok = tcp.expect("FILEOK ");
    let id: u64 = ok
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("id");
    tcp.send(&format!("/chunk {id} 5"));
    tcp.send_raw(b"\x00\n\xffab\n");
    tcp.send(&format!("/fileend {id}"));
    tcp.expect(&format!("FILEACK {id} 5"));
    tcp.expect(&format!("FILEDONE {id} "));
    assert_eq!(web.line(), format!("FILE tcp {id} 5 :a.txt"));
    assert_eq!(web.line(), format!("CHUNK {id} 5"));
    match web.next() {
        Some(Message::Binary(b)) => assert_eq!(&b[..], b"\x00\n\xffab"),
        other => panic!("expected the payload, got {other:?}"),
    }
    assert_eq!(web.line(), format!("FILEEND {id}"));
    // Browser to TCP: the payload as a binary message after its line.
    web.send("/file tcp 4 :b.bin");
    let ok = web.expect("FILEOK ");
    let id: u64 = ok
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("id");
    web.send(&format!("/chunk {id} 4"));
    web.send_binary(b"\n\x01\x02\n");
    web.send(&format!("/fileend {id}"));
    web.expect(&format!("FILEACK {id} 4"));
    web.expect(&format!("FILEDONE {id} "));
    tcp.expect(&format!("FILE web {id} 4 private :b.bin"));
    tcp.expect(&format!("CHUNK {id} 4"));
    let mut payload = [0u8; 5];
    for b in payload.iter_mut() {
        *b = tcp.read_byte();
    }
    assert_eq!(&payload, b"\n\x01\x02\n\n", "the payload and its LF");
    tcp.expect(&format!("FILEEND {id}"));
    // A binary message.
    web.send("/bytes * 3");
    web.send_binary(b"x\ny");
    web.expect("SENT * ");
    tcp.expect("BYTES web 3");
    let got: Vec<u8> = (0..4).map(|_| tcp.read_byte()).collect();
    assert_eq!(got, b"x\ny\n");
    assert!(server.stats().files >= 2);
}

#[test]
fn a_foreign_origin_is_refused() {
    let server = start(ServerConfig {
        http_allowed_origins: vec!["https://chat.example.org".into()],
        ..with_http()
    });
    let port = server.http_port().expect("HTTP port");
    match open(port, Some("http://evil.example"), None) {
        Err(tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 403),
        Err(e) => panic!("expected 403, got {e}"),
        Ok(_) => panic!("a foreign origin was let in"),
    }
    // Same host and port as the request's Host: in.
    let own = format!("http://127.0.0.1:{port}");
    assert!(open(port, Some(&own), None).is_ok());
    // The allow-list: in.
    assert!(open(port, Some("https://chat.example.org"), None).is_ok());
    // No Origin (not a browser): in.
    assert!(open(port, None, None).is_ok());
    eventually("three upgrades counted", || {
        server.stats().websocket_upgrades == 3
    });
}

#[test]
fn over_long_messages_are_refused_like_an_endless_line() {
    let server = start(ServerConfig {
        max_line_bytes: 100,
        max_discard_bytes: 1000,
        ..with_http()
    });
    let port = server.http_port().expect("HTTP port");
    // Over max_line_bytes: skipped, the connection stays.
    let (mut web, _) = Ws::join(port, "web", false);
    web.send(&format!(":{}", "a".repeat(200)));
    web.expect("ERROR 07 ");
    assert!(web.sync().is_empty());
    // Over max_discard_bytes: ERROR 07, then closed.
    web.send(&format!(":{}", "a".repeat(5000)));
    web.expect("ERROR 07 ");
    assert!(web.next().is_none(), "closed");
    // Over the WebSocket limit (never gathered whole): the same.
    let (mut web, _) = Ws::join(port, "web", false);
    // (The server may close before the client has written it all.)
    let _ = web.ws.send(Message::text("b".repeat(600 * 1024)));
    web.expect("ERROR 07 ");
    assert!(web.next().is_none(), "closed");
    eventually("both counted as too long", || {
        server.stats().disconnects_for(DisconnectReason::TooLong) == 2
    });
}

/// A TCP connection whose receive buffer is set to `rcvbuf` bytes before
/// it connects, so that a peer that stops reading fills it at once.
fn connect_small(to: SocketAddr, rcvbuf: libc::c_int) -> TcpStream {
    use std::os::fd::FromRawFd;
    let SocketAddr::V4(to) = to else {
        panic!("IPv4 only")
    };
    // SAFETY: plain socket calls on a descriptor created here, handed to
    // TcpStream (which then owns it) only after success.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert!(fd >= 0, "socket");
        let rc = libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&rcvbuf as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
        assert_eq!(rc, 0, "SO_RCVBUF");
        let sa = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: to.port().to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(*to.ip()).to_be(),
            },
            sin_zero: [0; 8],
        };
        let rc = libc::connect(
            fd,
            (&sa as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        assert_eq!(rc, 0, "connect");
        TcpStream::from_raw_fd(fd)
    }
}

#[test]
fn a_browser_that_stops_reading_is_a_slow_consumer() {
    let server = start(ServerConfig {
        max_queue_bytes: 256 * 1024,
        flood_lines_per_sec: 0,
        ..with_http()
    });
    let port = server.http_port().expect("HTTP port");
    let http_addr = SocketAddr::from(([127, 0, 0, 1], port));
    let sock = connect_small(http_addr, 4096);
    let origin = format!("http://127.0.0.1:{port}");
    let mut slow = open(port, Some(&origin), Some(sock)).expect("handshake");
    slow.expect("HELLO ");
    slow.send("slow");
    slow.expect("WELCOME slow ");
    let (mut ana, _) = Raw::join(server.local_addr(), "ana");
    let (mut bob, _) = Ws::join(port, "bob", false);
    ana.expect("JOIN bob ");
    // The slow browser reads nothing from here on. ana talks, bob (a
    // browser that reads) gets every line.
    let text = "x".repeat(2000);
    let n = 2000;
    let reader = std::thread::spawn(move || {
        let mut got = 0;
        let mut left = false;
        while got < n {
            let l = bob.line();
            if l.starts_with("PUBLIC ana :") {
                got += 1;
            } else if l.starts_with("LEFT slow ") {
                left = true;
            }
        }
        if !left {
            bob.sync()
                .iter()
                .any(|l| l.starts_with("LEFT slow "))
                .then_some(())
                .expect("LEFT slow");
        }
        got
    });
    for i in 0..n {
        ana.send(&format!(":{i} {text}"));
    }
    eventually("the slow browser dropped", || {
        server.stats().slow_consumers == 1
    });
    assert_eq!(reader.join().expect("bob's reader"), n);
    assert_eq!(
        server
            .stats()
            .disconnects_for(DisconnectReason::SlowConsumer),
        1
    );
    ana.sync();
    drop(slow);
}
