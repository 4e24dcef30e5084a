//! Connecting and registering: the errors of `Client::connect` over real
//! loopback sockets, against scripted peers (no papo server needed).

mod common_client;

use std::time::Duration;

use common_client::{dead_port, scripted, HELLO};
use papo::{Client, ClientConfig, ErrorCode};

/// Short enough that the tests waiting for it stay quick, long enough that
/// a scripted peer's answer is not mistaken for silence on a loaded machine.
fn quick() -> ClientConfig {
    ClientConfig {
        connect_timeout: Duration::from_millis(2000),
        ..ClientConfig::default()
    }
}

fn code_of(r: papo::Result<Client>) -> ErrorCode {
    match r {
        Ok(c) => panic!("connected unexpectedly as {}", c.nick()),
        Err(e) => e.code(),
    }
}

#[test]
fn client_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Client>();
}

/// Neither an IP address nor a host name that resolves: 05. ("localhost"
/// was in this list while only IP addresses were accepted; it is a host
/// name now: see `a_host_name_connects`.)
#[test]
fn not_an_ip_address_is_05() {
    for ip in [
        "abc",
        "999.1.1.1",
        "1.2.3",
        "127.0.0.1:80",
        "::g",
        "1.2.3.4:80",
        "não é ip",
        "nada.invalid",
        "[127.0.0.1]",
    ] {
        assert_eq!(
            code_of(Client::connect(ip, 18000, "ana")),
            ErrorCode::InvalidAddress,
            "{ip:?}"
        );
    }
}

#[test]
fn nothing_listening_is_04() {
    let port = dead_port();
    assert_eq!(
        code_of(Client::connect_with("127.0.0.1", port, "ana", quick())),
        ErrorCode::InvalidServer
    );
    // The empty address means 127.0.0.1 (seed 000), so it gets as far as
    // the connection attempt.
    assert_eq!(
        code_of(Client::connect_with("", port, "ana", quick())),
        ErrorCode::InvalidServer
    );
}

/// A host name is resolved (by the system: `localhost` is in /etc/hosts)
/// and connected to; an IPv6 address may come in brackets.
#[test]
fn a_host_name_connects() {
    let (port, peer) = scripted(|mut p| p.register(&[]));
    let c = Client::connect_with("localhost", port, "ana", quick()).unwrap();
    assert_eq!(c.initial_users(), ["ana"]);
    assert_eq!(peer.join().unwrap(), "ana");
    // Nothing listens: the name resolved, so it gets as far as connecting.
    let dead = dead_port();
    for ip in ["localhost", "LOCALHOST"] {
        assert_eq!(
            code_of(Client::connect_with(ip, dead, "ana", quick())),
            ErrorCode::InvalidServer,
            "{ip}"
        );
    }
}

#[test]
fn ipv6_with_and_without_brackets() {
    let Ok(listener) = std::net::TcpListener::bind("[::1]:0") else {
        println!("SKIPPED: this machine has no IPv6 loopback (::1)");
        return;
    };
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        for _ in 0..2 {
            let (stream, _) = listener.accept().unwrap();
            let mut s = std::io::BufReader::new(stream);
            let mut nick = String::new();
            use std::io::{BufRead, Write};
            writeln!(s.get_mut(), "{HELLO}").unwrap();
            s.read_line(&mut nick).unwrap();
            let nick = nick.trim_end();
            write!(s.get_mut(), "WELCOME {nick} :oi\nUSERS 1 :{nick}\n").unwrap();
            let mut quit = String::new();
            s.read_line(&mut quit).unwrap();
        }
    });
    for (ip, nick) in [("::1", "seis"), ("[::1]", "sete")] {
        let c = Client::connect_with(ip, port, nick, quick()).unwrap();
        assert_eq!(c.initial_users(), [nick], "{ip}");
        c.disconnect().unwrap();
    }
    server.join().unwrap();
}

#[test]
fn invalid_nick_is_06_before_connecting() {
    // Nothing listens on the port: 06 (not 04) shows the check is local.
    let port = dead_port();
    for nick in [
        "a b", "a:b", "", "quit", "{QUIT}", "a/b", "a\tb", "x\ny", "a*", "a,b",
    ] {
        assert_eq!(
            code_of(Client::connect_with("127.0.0.1", port, nick, quick())),
            ErrorCode::InvalidNick,
            "{nick:?}"
        );
    }
}

#[test]
fn zero_settings_are_17() {
    for cfg in [
        ClientConfig {
            connect_timeout: Duration::ZERO,
            ..ClientConfig::default()
        },
        ClientConfig {
            reply_timeout: Duration::ZERO,
            ..ClientConfig::default()
        },
        ClientConfig {
            event_queue_capacity: 0,
            ..ClientConfig::default()
        },
    ] {
        assert_eq!(
            code_of(Client::connect_with("127.0.0.1", 18000, "ana", cfg)),
            ErrorCode::InvalidArgument
        );
    }
}

#[test]
fn http_server_is_04() {
    let (port, peer) = scripted(|mut p| {
        p.send_raw(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        // Keep the socket open until the client has given up.
        p.line()
    });
    assert_eq!(
        code_of(Client::connect_with("127.0.0.1", port, "ana", quick())),
        ErrorCode::InvalidServer
    );
    // The client never sent its nickname to something that is not papo.
    assert_eq!(peer.join().unwrap(), None);
}

#[test]
fn silent_listener_is_04() {
    let (port, peer) = scripted(|mut p| p.line());
    assert_eq!(
        code_of(Client::connect_with("127.0.0.1", port, "ana", quick())),
        ErrorCode::InvalidServer
    );
    assert_eq!(peer.join().unwrap(), None);
}

#[test]
fn closing_listener_is_04() {
    let (port, peer) = scripted(drop);
    assert_eq!(
        code_of(Client::connect_with("127.0.0.1", port, "ana", quick())),
        ErrorCode::InvalidServer
    );
    peer.join().unwrap();
}

#[test]
fn garbage_first_line_is_04() {
    for first in [
        &b"\xff\xfe\x00garbage\n"[..],
        b"HELLO irc/2 line=4096 nick=32 :hi\n",
        b"WELCOME ana :too early\n",
        b"SSH-2.0-OpenSSH_9.6\r\n",
    ] {
        let bytes = first.to_vec();
        let (port, peer) = scripted(move |mut p| {
            p.send_raw(&bytes);
            p.line()
        });
        assert_eq!(
            code_of(Client::connect_with("127.0.0.1", port, "ana", quick())),
            ErrorCode::InvalidServer,
            "{}",
            String::from_utf8_lossy(first)
        );
        assert_eq!(peer.join().unwrap(), None);
    }
}

#[test]
fn hello_then_error_01_is_nick_in_use() {
    let (port, peer) = scripted(|mut p| {
        p.send(HELLO);
        let nick = p.line();
        p.send("ERROR 01 ana :Esse apelido já está em uso (nickname already in use)");
        // The client closes its side after the refusal.
        (nick, p.line())
    });
    let err = Client::connect_with("127.0.0.1", port, "ana", quick()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::NickInUse);
    assert!(err.detail().contains("Esse apelido"), "{err}");
    let (nick, after) = peer.join().unwrap();
    assert_eq!(nick.as_deref(), Some("ana"));
    assert_eq!(after, None);
}

#[test]
fn registration_errors_map_to_their_codes() {
    for (answer, code) in [
        ("ERROR 06 * :Apelido inválido", ErrorCode::InvalidNick),
        ("ERROR 12 * :Servidor cheio", ErrorCode::ServerFull),
        (
            "ERROR 03 * :Cancelamento de conexão forçado",
            ErrorCode::ConnectionAborted,
        ),
        ("ERROR 11 * :Tempo esgotado", ErrorCode::Timeout),
    ] {
        let (port, peer) = scripted(move |mut p| {
            p.send(HELLO);
            let nick = p.line();
            p.send(answer);
            nick
        });
        let got = code_of(Client::connect_with("127.0.0.1", port, "bob", quick()));
        assert_eq!(got, code, "{answer}");
        assert_eq!(peer.join().unwrap().as_deref(), Some("bob"));
    }
}

#[test]
fn server_full_instead_of_hello_is_12() {
    let (port, peer) = scripted(|mut p| {
        p.send("ERROR 12 * :Servidor cheio (server full)");
        p.line()
    });
    assert_eq!(
        code_of(Client::connect_with("127.0.0.1", port, "ana", quick())),
        ErrorCode::ServerFull
    );
    assert_eq!(peer.join().unwrap(), None);
}

#[test]
fn closed_while_registering_is_03() {
    // Closed after HELLO, and closed after WELCOME (before USERS).
    for welcome in [false, true] {
        let (port, peer) = scripted(move |mut p| {
            p.send(HELLO);
            let nick = p.line();
            if welcome {
                p.send("WELCOME ana :Bem-vindo, ana!");
            }
            nick
        });
        assert_eq!(
            code_of(Client::connect_with("127.0.0.1", port, "ana", quick())),
            ErrorCode::ConnectionAborted,
            "welcome={welcome}"
        );
        assert_eq!(peer.join().unwrap().as_deref(), Some("ana"));
    }
}

#[test]
fn no_welcome_in_time_is_04() {
    let (port, peer) = scripted(|mut p| {
        p.send(HELLO);
        let nick = p.line();
        // Say nothing more; wait for the client to give up and close.
        (nick, p.line())
    });
    assert_eq!(
        code_of(Client::connect_with("127.0.0.1", port, "ana", quick())),
        ErrorCode::InvalidServer
    );
    let (nick, after) = peer.join().unwrap();
    assert_eq!(nick.as_deref(), Some("ana"));
    assert_eq!(after, None);
}

#[test]
fn nick_over_the_announced_limit_is_06_without_sending() {
    let (port, peer) = scripted(|mut p| {
        p.send("HELLO papo/1 line=4096 nick=4 :hi");
        p.line()
    });
    assert_eq!(
        code_of(Client::connect_with("127.0.0.1", port, "carla", quick())),
        ErrorCode::InvalidNick
    );
    assert_eq!(peer.join().unwrap(), None);
}

#[test]
fn registered_with_crlf_lines_and_limits() {
    let (port, peer) = scripted(|mut p| {
        p.send_raw(b"HELLO papo/1 line=100 nick=8 :Bem-vindo\r\n");
        let nick = p.line();
        p.send_raw(b"WELCOME ana :ok\r\nUSERS 3 :ana bob carla\r\n");
        // The client leaves with quit.
        (nick, p.line(), p.line())
    });
    let c = Client::connect_with("127.0.0.1", port, "ana", quick()).unwrap();
    assert!(c.is_connected());
    assert_eq!(c.nick(), "ana");
    assert_eq!(c.initial_users(), ["ana", "bob", "carla"]);
    assert_eq!(c.max_line_bytes(), 100);
    assert_eq!(c.max_nick_chars(), 8);
    c.disconnect().unwrap();
    assert!(!c.is_connected());
    let (nick, quit, eof) = peer.join().unwrap();
    assert_eq!(nick.as_deref(), Some("ana"));
    assert_eq!(quit.as_deref(), Some("quit"));
    assert_eq!(eof, None);
}
