//! The server over real loopback sockets, spoken to as `nc` would: text
//! lines on raw `TcpStream`s. PROTOCOL.md is the specification; seed 000
//! ("Protocolo para bate-papo") gives the scenario.

mod common_server;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::time::Duration;

use common_server::{cfg, eventually, start, users_of, wait_event, Raw, WAIT};
use papo::{ErrorCode, Server, ServerConfig, ServerEvent};

fn is_left(l: &str, nick: &str) -> bool {
    l.starts_with(&format!("LEFT {nick} :"))
}

/// Seed 000 end to end: HELLO, user list, public, private with SENT, 02,
/// 01 (also Ana vs ana), /nick, /list, /help, quit, dropped socket, shutdown.
#[test]
fn seed_000_scenario() {
    let server = start(cfg(2));
    let addr = server.local_addr();

    let (mut ana, users) = Raw::join(addr, "ana");
    assert_eq!(users, ["ana"]);
    let (mut bob, users) = Raw::join(addr, "bob");
    assert_eq!(users, ["ana", "bob"]);
    assert_eq!(ana.line(), "JOIN bob :bob entrou no chat (joined)");

    // carla first tries taken nicknames, on the same connection.
    let mut carla = Raw::connect(addr);
    carla.label = "carla".into();
    let hello = carla.line();
    // The limits, then `labels=1`: this server echoes request labels
    // (PROTOCOL.md, "Labels").
    assert!(
        hello.starts_with(
            "HELLO papo/1 line=4096 nick=32 bytes=262144 file=4294967296 labels=1 binary=1 tags=1 resume=1 :"
        ),
        "{hello}"
    );
    carla.send("ana");
    assert!(carla
        .line()
        .starts_with("ERROR 01 ana :Esse apelido já está em uso"));
    carla.send("Ana");
    assert!(carla.line().starts_with("ERROR 01 Ana :"));
    carla.send("BOB");
    assert!(carla.line().starts_with("ERROR 01 BOB :"));
    carla.send("carla");
    assert!(carla.line().starts_with("WELCOME carla :"));
    assert_eq!(users_of(&carla.line()), ["ana", "bob", "carla"]);
    assert!(ana.line().starts_with("JOIN carla :"));
    assert!(bob.line().starts_with("JOIN carla :"));

    // Public: everyone else, with the sender's nick; not echoed.
    carla.send(":olá a todos");
    assert_eq!(ana.line(), "PUBLIC carla :olá a todos");
    assert_eq!(bob.line(), "PUBLIC carla :olá a todos");
    carla.sync_quiet();

    // Private: SENT to the sender, PRIVATE to the receiver only.
    carla.send("bob:oi bob, tudo bem?");
    assert_eq!(carla.line(), "SENT bob :Mensagem enviada (message sent)");
    assert_eq!(bob.line(), "PRIVATE carla :oi bob, tudo bem?");
    ana.sync_quiet();
    // Spaces around the destination are ignored; text is verbatim.
    bob.send(" carla : tudo ótimo ");
    assert!(bob.line().starts_with("SENT carla :"));
    assert_eq!(carla.line(), "PRIVATE bob : tudo ótimo ");

    // 02: nobody by that name.
    carla.send("zé:alguém aí?");
    assert_eq!(
        carla.line(),
        "ERROR 02 zé :Destino da mensagem privada não existe (no such user online)"
    );

    // /nick: everyone sees NICK; the old name is free, the new reachable.
    carla.send("/nick Carla2");
    let nick_line = "NICK carla Carla2 :carla agora se chama Carla2 (renamed)";
    assert_eq!(carla.line(), nick_line);
    assert_eq!(ana.line(), nick_line);
    assert_eq!(bob.line(), nick_line);
    ana.send("carla:ainda aí?");
    assert!(ana.line().starts_with("ERROR 02 carla :"));
    ana.send("carla2:oi Carla2");
    assert!(ana.line().starts_with("SENT carla2 :"));
    assert_eq!(carla.line(), "PRIVATE ana :oi Carla2");
    let (mut carla_new, users) = Raw::join(addr, "carla");
    // Sorted case-insensitively: "carla" < "carla2".
    assert_eq!(users, ["ana", "bob", "carla", "Carla2"]);
    carla_new.send("quit");
    carla_new.expect_eof();
    for c in [&mut ana, &mut bob, &mut carla] {
        assert!(c.line().starts_with("JOIN carla :"));
        assert!(is_left(&c.line(), "carla"));
    }

    // /list, /help, /ping.
    carla.send("/list");
    assert_eq!(carla.line(), "USERS 3 :ana bob Carla2");
    carla.send("/help");
    let help_lines = papo::protocol::HELP_LINES.len();
    let help: Vec<String> = (0..help_lines).map(|_| carla.line()).collect();
    assert!(help.iter().all(|l| l.starts_with("HELP :")), "{help:?}");
    assert!(help.iter().any(|l| l.contains("/nick")));
    carla.send("/ping");
    assert_eq!(carla.line(), "PONG");
    carla.send("/ping 42");
    assert_eq!(carla.line(), "PONG :42");
    // An empty line is ignored.
    carla.send("");
    carla.sync_quiet();

    // Leaving by `quit`: others get LEFT.
    bob.send("quit");
    bob.expect_eof();
    assert!(is_left(&ana.line(), "bob"));
    assert!(is_left(&carla.line(), "bob"));
    eventually("bob's nick freed", || server.users() == ["ana", "Carla2"]);

    // Leaving by dropping the socket.
    drop(carla);
    assert_eq!(ana.line(), "LEFT Carla2 :Carla2 saiu do chat (left)");

    // Shutdown: every client, registered or not, gets ERROR 03, then end.
    let mut waiting = Raw::connect_hello(addr);
    ana.sync_quiet();
    server.shutdown();
    for c in [&mut ana, &mut waiting] {
        let l = c.line();
        assert!(
            l.starts_with("ERROR 03 * :Cancelamento de conexão forçado"),
            "{l:?}"
        );
        assert!(l.contains("server shutting down"), "{l:?}");
        c.expect_eof();
    }
    assert_eq!(server.connection_count(), 0);
    assert_eq!(server.user_count(), 0);
}

/// Invalid nicknames are refused with their error, the connection stays at
/// the prompt, and a good nickname then works.
#[test]
fn bad_nicknames_then_a_good_one() {
    let server = start(ServerConfig {
        max_nick_chars: 8,
        io_threads: 1,
        // 13 refused attempts below; the attempt limit is tested in hostile_input.rs.
        max_nick_attempts: 0,
        ..ServerConfig::default()
    });
    let mut c = Raw::connect(server.local_addr());
    assert!(c.line().starts_with(
        "HELLO papo/1 line=4096 nick=8 bytes=262144 file=4294967296 labels=1 binary=1 tags=1 resume=1 :"
    ));
    let invalid: [&[u8]; 12] = [
        b"",
        b"   ",
        b"abcdefghi", // 9 characters
        b"a:b",
        b"a b",
        b"a/b",
        b"a\0b",
        b"a\x1b[2Jb",
        b"quit",
        b"{QUIT}",
        b"*",
        b"a,b",
    ];
    for nick in invalid {
        let mut line = nick.to_vec();
        line.push(b'\n');
        c.send_raw(&line);
        let l = c.line();
        assert!(
            l.starts_with("ERROR 06 * :Apelido inválido"),
            "{nick:?}: {l:?}"
        );
    }
    c.send_raw(b"\xff\xfeana\n");
    assert!(c.line().starts_with("ERROR 08 * :"));
    // Eight characters of two bytes each fit: the limit counts characters.
    c.send("éééééééé");
    assert!(c.line().starts_with("WELCOME éééééééé :"));
    assert_eq!(users_of(&c.line()), ["éééééééé"]);
    // /nick refuses the same way and the old name stays.
    c.send("/nick a:b");
    assert!(c.line().starts_with("ERROR 06 * :"));
    c.send("/nick");
    assert!(c.line().starts_with("ERROR 09 * :"));
    c.send("/list");
    assert_eq!(c.line(), "USERS 1 :éééééééé");
}

/// `/quit` at the nickname prompt closes; so does a closed socket.
#[test]
fn quit_at_the_prompt() {
    let server = start(cfg(1));
    let mut c = Raw::connect_hello(server.local_addr());
    c.send("/QUIT");
    c.expect_eof();
    let ev = wait_event(&server, "disconnect", |e| {
        matches!(e, ServerEvent::Disconnected { .. })
    });
    match ev {
        ServerEvent::Disconnected {
            nick, code, reason, ..
        } => {
            assert_eq!(nick, None);
            assert_eq!(code, None);
            assert_eq!(reason, "quit");
        }
        _ => unreachable!(),
    }
    assert_eq!(server.connection_count(), 0);
}

/// Line limits, invalid text, unknown commands, byte-by-byte input, and a
/// line that never ends.
#[test]
fn bad_input_gets_errors_and_the_server_keeps_serving() {
    let server = start(ServerConfig {
        max_line_bytes: 64,
        max_discard_bytes: 4096,
        io_threads: 2,
        ..ServerConfig::default()
    });
    let addr = server.local_addr();
    let (mut ana, _) = Raw::join(addr, "ana");
    let (mut bob, _) = Raw::join(addr, "bob");
    assert!(ana.line().starts_with("JOIN bob "));

    // Exactly 64 bytes works; 65 gets 07 and the connection stays usable.
    let at_limit = format!(":{}", "x".repeat(63));
    assert_eq!(at_limit.len(), 64);
    bob.send(&at_limit);
    assert_eq!(ana.line(), format!("PUBLIC bob {at_limit}"));
    bob.send_raw(format!("{at_limit}\r\n").as_bytes()); // nc -C: CRLF at the limit
    assert_eq!(ana.line(), format!("PUBLIC bob {at_limit}"));
    bob.send(&format!(":{}", "y".repeat(64)));
    let l = bob.line();
    assert!(l.starts_with("ERROR 07 * :Linha longa demais"), "{l:?}");
    bob.send(":still here");
    assert_eq!(ana.line(), "PUBLIC bob :still here");
    bob.sync_quiet();

    // Invalid UTF-8 and control characters: 08.
    bob.send_raw(b":caf\xe9\n");
    assert!(bob.line().starts_with("ERROR 08 * :Texto inválido"));
    bob.send_raw(b":a\x1b[2Kb\n");
    assert!(bob.line().starts_with("ERROR 08 * :"));
    bob.send_raw(b"ana:a\0b\n");
    assert!(bob.line().starts_with("ERROR 08 * :"));
    bob.send_raw(b":a\rb\n");
    assert!(bob.line().starts_with("ERROR 08 * :"));
    // Unknown commands and bare text: 10. Empty messages: 09.
    bob.send("/bogus");
    assert!(bob.line().starts_with("ERROR 10 * :Comando desconhecido"));
    bob.send("hello");
    assert!(bob.line().starts_with("ERROR 10 * :"));
    bob.send(":");
    assert!(bob.line().starts_with("ERROR 09 * :"));
    bob.send("ana:");
    assert!(bob.line().starts_with("ERROR 09 * :"));
    // A destination that cannot be a nickname: 02 with subject `*`.
    bob.send("a/b:hi");
    assert!(bob.line().starts_with("ERROR 02 * :"));
    ana.sync_quiet();

    // Byte by byte, the same as whole.
    for b in b"ana:byte a byte\n" {
        bob.send_raw(&[*b]);
    }
    assert!(bob.line().starts_with("SENT ana :"));
    assert_eq!(ana.line(), "PRIVATE bob :byte a byte");
    // Several lines in one write.
    bob.send_raw(b":one\n:two\r\nana:three\n");
    assert_eq!(ana.line(), "PUBLIC bob :one");
    assert_eq!(ana.line(), "PUBLIC bob :two");
    assert_eq!(ana.line(), "PRIVATE bob :three");
    assert!(bob.line().starts_with("SENT ana :"));

    // 1 MiB with no line end: 07, then closed; others are unaffected.
    let mut flood = Raw::connect_hello(addr);
    let big = vec![b'z'; 1 << 20];
    let writer = {
        let mut s = flood.stream.try_clone().expect("clone");
        std::thread::spawn(move || {
            use std::io::Write;
            // The server may close before reading it all; that is fine.
            let _ = s.write_all(&big);
        })
    };
    let l = flood.line();
    assert!(l.starts_with("ERROR 07 * :"), "{l:?}");
    assert!(l.contains("no line end"), "{l:?}");
    flood.expect_eof();
    let _ = writer.join();
    let ev = wait_event(&server, "flood dropped", |e| {
        matches!(
            e,
            ServerEvent::Disconnected {
                code: Some(ErrorCode::TooLong),
                ..
            }
        )
    });
    assert!(matches!(ev, ServerEvent::Disconnected { nick: None, .. }));
    bob.send(":after the flood");
    assert_eq!(ana.line(), "PUBLIC bob :after the flood");
    assert_eq!(server.connection_count(), 2);
}

/// A private message to oneself is delivered like any other.
#[test]
fn private_to_self() {
    let server = start(cfg(1));
    let (mut ana, _) = Raw::join(server.local_addr(), "ana");
    ana.send("ANA:eu mesma");
    assert_eq!(ana.line(), "PRIVATE ana :eu mesma");
    assert!(ana.line().starts_with("SENT ANA :"));
}

/// A client may send many requests without waiting; the answers come in
/// the same order.
#[test]
fn replies_come_in_request_order() {
    let server = start(cfg(3));
    let addr = server.local_addr();
    let (mut ana, _) = Raw::join(addr, "ana");
    let mut others = Vec::new();
    for n in ["b1", "b2", "b3", "b4"] {
        others.push(Raw::join(addr, n).0);
    }
    let joins = ana.sync();
    assert_eq!(joins.len(), 4, "{joins:?}");
    assert!(joins.iter().all(|l| l.starts_with("JOIN ")));
    let mut batch = String::new();
    for k in 0..50 {
        for n in ["b1", "b2", "zz", "b3", "b4"] {
            batch.push_str(&format!("{n}:m{k}\n"));
        }
        batch.push_str(&format!("/ping p{k}\n"));
    }
    ana.send_raw(batch.as_bytes());
    for k in 0..50 {
        for n in ["b1", "b2", "zz", "b3", "b4"] {
            let l = ana.line();
            if n == "zz" {
                assert!(l.starts_with("ERROR 02 zz "), "{l}");
            } else {
                assert!(l.starts_with(&format!("SENT {n} ")), "{l}");
            }
        }
        assert_eq!(ana.line(), format!("PONG :p{k}"));
    }
    for (i, o) in others.iter_mut().enumerate() {
        let mut k = 0;
        while k < 50 {
            let l = o.line();
            if l.starts_with("JOIN ") {
                continue;
            }
            assert_eq!(l, format!("PRIVATE ana :m{k}"), "b{}", i + 1);
            k += 1;
        }
    }
}

/// Server events, counts and the sorted user list.
#[test]
fn events_and_counts() {
    let server = start(cfg(2));
    let addr = server.local_addr();
    assert_eq!(server.connection_count(), 0);
    assert_eq!(server.user_count(), 0);

    let mut ana = Raw::connect_hello(addr);
    let ana_addr = ana.stream.local_addr().expect("addr");
    let id = match wait_event(&server, "connected", |e| {
        matches!(e, ServerEvent::Connected { .. })
    }) {
        ServerEvent::Connected { id, addr } => {
            assert_eq!(addr, ana_addr, "the client's IP and port");
            id
        }
        _ => unreachable!(),
    };
    assert_eq!(server.connection_count(), 1);
    assert_eq!(server.user_count(), 0);
    ana.send("ana");
    ana.expect("WELCOME ana ");
    ana.expect("USERS 1 ");
    assert_eq!(
        server.next_event(WAIT),
        Some(ServerEvent::Registered {
            id,
            addr: ana_addr,
            nick: "ana".into()
        })
    );
    assert_eq!(server.user_count(), 1);

    ana.send("/nick Zé");
    ana.expect("NICK ana Zé ");
    assert_eq!(
        server.next_event(WAIT),
        Some(ServerEvent::NickChanged {
            id,
            addr: ana_addr,
            old: "ana".into(),
            new: "Zé".into()
        })
    );
    let (bob, _) = Raw::join(addr, "bob");
    let (mut carl, _) = Raw::join(addr, "Carl");
    let (dani, _) = Raw::join(addr, "alfa");
    assert_eq!(server.users(), ["alfa", "bob", "Carl", "Zé"]);
    assert_eq!(server.user_count(), 4);
    assert_eq!(server.connection_count(), 4);
    carl.send("/list");
    let l = carl.line();
    let l = if l.starts_with("JOIN alfa ") {
        carl.line()
    } else {
        l
    };
    assert_eq!(l, "USERS 4 :alfa bob Carl Zé");

    // Leaving by itself: code None.
    ana.send("quit");
    let rest = ana.read_to_end();
    assert!(rest.iter().all(|l| l.starts_with("JOIN ")), "{rest:?}");
    let ev = wait_event(
        &server,
        "ana left",
        |e| matches!(e, ServerEvent::Disconnected { id: i, .. } if *i == id),
    );
    assert_eq!(
        ev,
        ServerEvent::Disconnected {
            id,
            addr: ana_addr,
            nick: Some("Zé".into()),
            code: None,
            reason: "quit".into()
        }
    );
    drop(bob);
    let ev = wait_event(
        &server,
        "bob left",
        |e| matches!(e, ServerEvent::Disconnected { nick: Some(n), .. } if n == "bob"),
    );
    assert!(
        matches!(ev, ServerEvent::Disconnected { code: None, .. }),
        "{ev:?}"
    );
    drop(carl);
    drop(dani);
    eventually("counts back to zero", || {
        server.connection_count() == 0 && server.user_count() == 0
    });
    assert!(server.users().is_empty());
    let stats = server.stats();
    assert_eq!(stats.accepted, 4);
    // ana, /nick, bob, Carl, alfa, /list, quit
    assert_eq!(stats.lines_received, 7, "{stats:?}");
    assert!(stats.bytes_sent > 0);
    assert_eq!(server.dropped_events(), 0);
}

/// A full event queue drops new events and counts them.
/// `Connected` comes after the connection is counted: whoever reacts to it
/// by asking for the count (examples/c/servidor.c prints "Conexões ativas")
/// finds it there. The event used to come first, and on a loaded machine
/// the example test read "Conexões ativas: 0".
#[test]
fn connected_comes_after_the_count() {
    let server = start(cfg(1));
    let addr = server.local_addr();
    for k in 1..=300 {
        let c = std::net::TcpStream::connect(addr).expect("connect");
        wait_event(&server, "connected", |e| {
            matches!(e, ServerEvent::Connected { .. })
        });
        let n = server.connection_count();
        assert!(n >= 1, "connection {k}: Connected seen, count {n}");
        drop(c);
        eventually("closed", || server.connection_count() == 0);
    }
}

/// The mirror image: `Disconnected` comes after the connection stopped
/// counting, so servidor.c and servidor.py, which print the count when a
/// client leaves, never show the one that just left (the Python example
/// test once read "Conexões ativas: 2" on a loaded machine). Both ways of
/// leaving: `quit` after registering, and a socket closed at the prompt.
#[test]
fn disconnected_comes_after_the_count() {
    let server = start(cfg(1));
    let addr = server.local_addr();
    for k in 1..=200 {
        if k % 2 == 0 {
            let (mut c, _) = Raw::join(addr, "breve");
            c.send("quit");
        } else {
            drop(std::net::TcpStream::connect(addr).expect("connect"));
        }
        wait_event(&server, "disconnected", |e| {
            matches!(e, ServerEvent::Disconnected { .. })
        });
        let n = server.connection_count();
        assert_eq!(n, 0, "leave {k}: Disconnected seen, count {n}");
    }
}

#[test]
fn event_queue_overflow_is_counted() {
    let server = start(ServerConfig {
        event_queue_capacity: 2,
        io_threads: 1,
        ..ServerConfig::default()
    });
    let addr = server.local_addr();
    let (_a, _) = Raw::join(addr, "a");
    let (_b, _) = Raw::join(addr, "b");
    // 4 events happened (2 Connected, 2 Registered); 2 fit.
    assert_eq!(server.dropped_events(), 2);
    assert!(matches!(
        server.next_event(WAIT),
        Some(ServerEvent::Connected { .. })
    ));
    assert!(server.next_event(WAIT).is_some());
    assert_eq!(server.next_event(Duration::from_millis(10)), None);
}

/// No nickname within the registration timeout: ERROR 11, then closed.
#[test]
fn registration_timeout() {
    let server = start(ServerConfig {
        registration_timeout: Duration::from_millis(1000),
        io_threads: 1,
        ..ServerConfig::default()
    });
    let addr = server.local_addr();
    let (mut ana, _) = Raw::join(addr, "ana");
    let mut slow = Raw::connect_hello(addr);
    let l = slow.line();
    assert!(l.starts_with("ERROR 11 * :Tempo esgotado"), "{l:?}");
    slow.expect_eof();
    let ev = wait_event(&server, "timeout", |e| {
        matches!(e, ServerEvent::Disconnected { .. })
    });
    assert!(
        matches!(
            ev,
            ServerEvent::Disconnected {
                code: Some(ErrorCode::Timeout),
                nick: None,
                ..
            }
        ),
        "{ev:?}"
    );
    assert_eq!(server.connection_count(), 1);
    // A registered client is not affected.
    ana.sync_quiet();
    // Half-typed nickname does not reset the clock either.
    let mut half = Raw::connect_hello(addr);
    half.send_raw(b"an");
    assert!(half.line().starts_with("ERROR 11 "));
    half.expect_eof();
    eventually("count back", || server.connection_count() == 1);
}

/// max_clients: one more gets HELLO and ERROR 12, then is closed.
#[test]
fn max_clients() {
    let server = start(ServerConfig {
        max_clients: 2,
        io_threads: 2,
        ..ServerConfig::default()
    });
    let addr = server.local_addr();
    let (_ana, _) = Raw::join(addr, "ana");
    let mut waiting = Raw::connect_hello(addr); // unregistered counts too
    let mut third = Raw::connect_hello(addr);
    let l = third.line();
    assert!(l.starts_with("ERROR 12 * :Servidor cheio"), "{l:?}");
    third.expect_eof();
    let ev = wait_event(&server, "refused", |e| {
        matches!(
            e,
            ServerEvent::Disconnected {
                code: Some(ErrorCode::ServerFull),
                ..
            }
        )
    });
    assert!(matches!(ev, ServerEvent::Disconnected { nick: None, .. }));
    assert_eq!(server.connection_count(), 2);
    assert_eq!(server.stats().rejected, 1);
    // A place frees up when someone leaves.
    waiting.send("/quit");
    waiting.expect_eof();
    eventually("place freed", || server.connection_count() == 1);
    let (_bob, users) = Raw::join(addr, "bob");
    assert_eq!(users, ["ana", "bob"]);
}

/// max_clients_per_ip: a second connection from the same address is
/// refused; another address is not.
#[test]
fn max_clients_per_ip() {
    let server = start(ServerConfig {
        max_clients_per_ip: 1,
        io_threads: 1,
        ..ServerConfig::default()
    });
    let addr = server.local_addr();
    let (mut ana, _) = Raw::join(addr, "ana");
    let mut second = Raw::connect_hello(addr);
    assert!(second.line().starts_with("ERROR 12 * :"));
    second.expect_eof();
    #[cfg(target_os = "linux")]
    {
        // All of 127/8 is loopback on Linux: 127.0.0.2 is another client IP.
        let stream = connect_from(Ipv4Addr::new(127, 0, 0, 2), addr);
        let mut other = Raw::from_stream(stream);
        other.expect("HELLO ");
        other.send("bob");
        other.expect("WELCOME bob ");
    }
    // When ana leaves, her address may connect again.
    ana.send("quit");
    let rest = ana.read_to_end();
    assert!(
        rest.iter()
            .all(|l| l.starts_with("JOIN bob ") || l.starts_with("LEFT bob ")),
        "{rest:?}"
    );
    eventually("ana gone", || {
        server.users() == ["bob"] || server.user_count() == 0
    });
    wait_event(
        &server,
        "ana disconnected",
        |e| matches!(e, ServerEvent::Disconnected { nick: Some(n), .. } if n == "ana"),
    );
    let (_again, _) = Raw::join(addr, "ana");
}

/// A TCP stream from a chosen local IP address (libc: bind before connect).
#[cfg(target_os = "linux")]
fn connect_from(local: Ipv4Addr, to: SocketAddr) -> std::net::TcpStream {
    use std::os::fd::FromRawFd;
    let SocketAddr::V4(to) = to else {
        panic!("IPv4 only")
    };
    let sin = |ip: Ipv4Addr, port: u16| libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(ip).to_be(),
        },
        sin_zero: [0; 8],
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: plain socket calls on a descriptor we own; the sockaddr
    // structs live on this stack frame.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "socket");
        let a = sin(local, 0);
        assert_eq!(
            libc::bind(fd, &a as *const _ as *const libc::sockaddr, len),
            0,
            "bind"
        );
        let b = sin(*to.ip(), to.port());
        assert_eq!(
            libc::connect(fd, &b as *const _ as *const libc::sockaddr, len),
            0,
            "connect"
        );
        std::net::TcpStream::from_raw_fd(fd)
    }
}

/// Addresses: "" is 127.0.0.1, bad strings and foreign addresses are 05,
/// a taken port is an I/O error, IPv6 works.
#[test]
fn addresses_and_config() {
    let s = Server::start("", 0, cfg(1)).expect("start on \"\"");
    assert_eq!(s.local_addr().ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));
    assert_ne!(s.port(), 0);
    let (mut c, _) = Raw::join(s.local_addr(), "ana");
    c.sync_quiet();

    // ("localhost" was in this list while only IP addresses were accepted;
    // it is a host name now, started on below.)
    for bad in [
        "999.1.1.1",
        "abc",
        "1.2.3",
        "::g",
        "1.2.3.4:80",
        "não é ip",
        "nada.invalid",
    ] {
        let e = Server::start(bad, 0, cfg(1)).expect_err(bad);
        assert_eq!(e.code(), ErrorCode::InvalidAddress, "{bad}: {e}");
    }
    // A host name: resolved by the system (localhost is in /etc/hosts).
    let named = Server::start("localhost", 0, cfg(1)).expect("start on localhost");
    assert!(
        named.local_addr().ip().is_loopback(),
        "{}",
        named.local_addr()
    );
    let (mut c, _) = Raw::join(named.local_addr(), "ana");
    c.sync_quiet();
    // TEST-NET-1 is no address of this machine.
    let e = Server::start("192.0.2.1", 0, cfg(1)).expect_err("foreign");
    assert_eq!(e.code(), ErrorCode::InvalidAddress, "{e}");

    let e = Server::start("127.0.0.1", s.port(), cfg(1)).expect_err("port in use");
    assert_eq!(e.code(), ErrorCode::Io, "{e}");

    let e = Server::start(
        "127.0.0.1",
        0,
        ServerConfig {
            max_line_bytes: 0,
            ..ServerConfig::default()
        },
    )
    .expect_err("max_line_bytes 0");
    assert_eq!(e.code(), ErrorCode::InvalidArgument);
    let e = Server::start(
        "127.0.0.1",
        0,
        ServerConfig {
            registration_timeout: Duration::ZERO,
            ..ServerConfig::default()
        },
    )
    .expect_err("timeout 0");
    assert_eq!(e.code(), ErrorCode::InvalidArgument);

    let e = Server::start(
        "127.0.0.1",
        0,
        ServerConfig {
            max_line_bytes: usize::MAX,
            ..ServerConfig::default()
        },
    )
    .expect_err("max_line_bytes usize::MAX");
    assert_eq!(e.code(), ErrorCode::InvalidArgument);
    // A registration timeout too large for the clock simply never fires.
    let forever = Server::start(
        "",
        0,
        ServerConfig {
            registration_timeout: Duration::MAX,
            io_threads: 1,
            ..ServerConfig::default()
        },
    )
    .expect("huge timeout");
    let (mut c, _) = Raw::join(forever.local_addr(), "ana");
    c.sync_quiet();

    if TcpListener::bind("[::1]:0").is_err() {
        println!("SKIPPED IPv6 part: this machine has no IPv6 loopback (::1)");
        return;
    }
    for ip in ["::1", "[::1]"] {
        let s6 = Server::start(ip, 0, cfg(1)).expect("start on ::1");
        assert_eq!(s6.local_addr().ip().to_string(), "::1");
        let (mut ana, _) = Raw::join(s6.local_addr(), "ana");
        let (mut bob, _) = Raw::join(s6.local_addr(), "bob");
        assert!(ana.line().starts_with("JOIN bob "));
        bob.send(":olá v6");
        assert_eq!(ana.line(), "PUBLIC bob :olá v6");
    }
}

/// Shutdown is idempotent, releases the port, and ends the event queue.
#[test]
fn shutdown_releases_everything() {
    let server = start(cfg(2));
    let addr = server.local_addr();
    let (mut ana, _) = Raw::join(addr, "ana");
    let mut unregistered = Raw::connect_hello(addr);
    ana.sync_quiet();
    server.shutdown();
    server.shutdown();
    for c in [&mut ana, &mut unregistered] {
        assert!(c.line().starts_with("ERROR 03 * :"));
        c.expect_eof();
    }
    // The port is free again.
    TcpListener::bind(addr).expect("port released by shutdown");
    // Events already queued come out, then None without waiting.
    let mut kinds = Vec::new();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::scope(|s| {
        s.spawn(|| {
            while let Some(ev) = server.next_event(Duration::from_secs(3600)) {
                kinds.push(ev);
            }
            let _ = tx.send(());
        });
        rx.recv_timeout(WAIT)
            .expect("next_event kept waiting after shutdown");
    });
    let disc: Vec<_> = kinds
        .iter()
        .filter_map(|e| match e {
            ServerEvent::Disconnected { code, reason, .. } => Some((*code, reason.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(disc.len(), 2, "{kinds:?}");
    assert!(disc
        .iter()
        .all(|(c, r)| *c == Some(ErrorCode::ConnectionAborted) && r == "server shutting down"));
    // Dropping after shutdown is fine.
    drop(server);
}

/// A client that half-closes (sends, then shuts its writing side, as
/// `nc -N` does) still gets every reply before the server closes; a
/// pipelined `/ping` then `quit` gets its PONG; a reset in the middle of a
/// line just removes the client.
#[test]
fn half_close_pipelined_quit_and_reset() {
    let server = start(cfg(2));
    let addr = server.local_addr();
    let (mut ana, _) = Raw::join(addr, "ana");

    let mut bob = Raw::connect_hello(addr);
    bob.send_raw(b"bob\n:hello\n/list\n");
    bob.shutdown_write();
    assert!(bob.line().starts_with("WELCOME bob "));
    assert_eq!(bob.line(), "USERS 2 :ana bob");
    assert_eq!(bob.line(), "USERS 2 :ana bob");
    bob.expect_eof();
    assert!(ana.line().starts_with("JOIN bob "));
    assert_eq!(ana.line(), "PUBLIC bob :hello");
    assert!(is_left(&ana.line(), "bob"));

    let (mut carl, _) = Raw::join(addr, "carl");
    carl.send_raw(b"/ping last\nquit\n:never sent\n");
    assert_eq!(carl.line(), "PONG :last");
    carl.expect_eof();
    assert!(ana.line().starts_with("JOIN carl "));
    assert!(is_left(&ana.line(), "carl"));

    let (mut dani, _) = Raw::join(addr, "dani");
    dani.sync_quiet();
    let before = server.stats().bytes_received;
    dani.send_raw(b":half a li");
    // The partial line has reached the server and waits there.
    eventually("partial line read", || {
        server.stats().bytes_received >= before + 10
    });
    reset(dani);
    assert!(ana.line().starts_with("JOIN dani "));
    assert!(is_left(&ana.line(), "dani"));
    let ev = wait_event(
        &server,
        "dani",
        |e| matches!(e, ServerEvent::Disconnected { nick: Some(n), .. } if n == "dani"),
    );
    assert!(
        matches!(ev, ServerEvent::Disconnected { code: None, .. }),
        "{ev:?}"
    );
    ana.sync_quiet();
    assert_eq!(server.users(), ["ana"]);
}

/// Closes a client's socket with a reset (SO_LINGER 0).
fn reset(client: Raw) {
    let stream = &client.stream;
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt on a descriptor we own, reading a local struct.
    let r = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &linger as *const libc::linger as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0);
    drop(client); // both descriptors (the reader holds a duplicate)
}

/// Labels (PROTOCOL.md, "Labels"): a line that starts with `@<label> `
/// gets every line that answers it with the same label in front; what it
/// delivers to others, and what the server sends on its own, carries none.
/// The line limit counts the line without its label.
#[test]
fn labels_are_echoed_on_every_answer_and_nowhere_else() {
    let s = start(ServerConfig {
        max_line_bytes: 64,
        ..cfg(2)
    });
    let addr = s.local_addr();
    let (mut bob, _) = Raw::join(addr, "bob");
    let mut ana = Raw::connect_hello(addr);
    ana.send("@p1 ana");
    assert!(ana.line().starts_with("@p1 WELCOME ana :"));
    assert_eq!(ana.line(), "@p1 USERS 2 :ana bob");
    assert_eq!(bob.line(), "JOIN ana :ana entrou no chat (joined)");

    ana.send("@a1 /list");
    assert_eq!(ana.line(), "@a1 USERS 2 :ana bob");
    ana.send("@a-2.x_ /ping tok");
    assert_eq!(ana.line(), "@a-2.x_ PONG :tok");
    ana.send("@a3 nobody:oi");
    assert!(ana
        .line()
        .starts_with("@a3 ERROR 02 nobody :Destino da mensagem privada"));
    ana.send("@a4 bob:oi bob");
    assert_eq!(ana.line(), "@a4 SENT bob :Mensagem enviada (message sent)");
    assert_eq!(bob.line(), "PRIVATE ana :oi bob");
    // A public message has no answer; a private one to oneself is answered
    // (SENT, labeled) and delivered (PRIVATE, not labeled).
    ana.send("@a5 :olá");
    assert_eq!(bob.line(), "PUBLIC ana :olá");
    ana.send("@a6 ana:eu");
    assert_eq!(ana.line(), "PRIVATE ana :eu");
    assert_eq!(ana.line(), "@a6 SENT ana :Mensagem enviada (message sent)");
    ana.send("@a7 /help");
    for _ in 0..papo::protocol::HELP_LINES.len() {
        assert!(ana.line().starts_with("@a7 HELP :"));
    }
    ana.send("@a8 /nick Ana2");
    assert_eq!(
        ana.line(),
        "@a8 NICK ana Ana2 :ana agora se chama Ana2 (renamed)"
    );
    assert_eq!(
        bob.line(),
        "NICK ana Ana2 :ana agora se chama Ana2 (renamed)"
    );
    ana.send("@a9 /bogus");
    assert!(ana.line().starts_with("@a9 ERROR 10 * :"));
    // A malformed label: no label to echo, 10.
    ana.send("@a!b /list");
    assert!(ana.line().starts_with("ERROR 10 * :"));
    ana.send(&format!("@{} /list", "x".repeat(33)));
    assert!(ana.line().starts_with("ERROR 10 * :"));
    // 64 bytes after a label are within the limit; 65 are not.
    let at_limit = format!(":{}", "x".repeat(63));
    ana.send(&format!("@l1 {at_limit}"));
    assert_eq!(bob.line(), format!("PUBLIC Ana2 {at_limit}"));
    ana.send(&format!("@l2 {at_limit}x"));
    assert!(ana.line().starts_with("@l2 ERROR 07 * :"));
    ana.send("@a10 /ping");
    assert_eq!(ana.line(), "@a10 PONG");
    bob.sync_quiet();
}

/// Nicknames cannot start with `@`, which starts a label.
#[test]
fn a_nickname_cannot_start_with_the_label_mark() {
    let s = start(cfg(1));
    let mut c = Raw::connect_hello(s.local_addr());
    c.send("@ana");
    assert!(c.line().starts_with("ERROR 06 * :"));
    c.send("a@na");
    assert!(c.line().starts_with("WELCOME a@na :"));
}
