//! The optional server password (issue 6, PROTOCOL.md "Password"): a
//! `/pass <password>` line before the nickname, typeable in `nc`; a wrong
//! or missing password gets `ERROR 19` and a close; `papo::Client` sends it
//! from `ClientConfig::password`.

mod common_server;

use std::time::Duration;

use common_server::{eventually, start, wait_event, Raw};
use papo::config::Password;
use papo::{Client, ClientConfig, ErrorCode, Server, ServerConfig, ServerEvent};

const SECRET: &str = "abre-te sésamo";

fn with_password() -> Server {
    start(ServerConfig {
        io_threads: 2,
        password: Some(Password::from(SECRET)),
        ..ServerConfig::default()
    })
}

fn client_cfg(password: Option<&str>) -> ClientConfig {
    ClientConfig {
        password: password.map(Password::from),
        connect_timeout: Duration::from_secs(20),
        ..ClientConfig::default()
    }
}

#[test]
fn nc_users_type_the_password_first() {
    let server = with_password();
    let addr = server.local_addr();
    let mut c = Raw::connect(addr);
    let hello = c.line();
    assert!(
        hello.starts_with("HELLO papo/1 line=4096 nick=32 "),
        "{hello:?}"
    );
    assert!(
        hello.contains(" pass=required labels=1 binary=1 tags=1 resume=1 :"),
        "{hello:?}"
    );
    assert!(hello.contains("/pass"), "{hello:?}");
    // Command word in any case, spaces around the password ignored.
    c.send(&format!("/PASS   {SECRET}  "));
    assert!(c.line().starts_with("PASS :Senha aceita"));
    c.send("ana");
    c.expect("WELCOME ana ");
    c.expect("USERS 1 :ana");
    // After registration /pass is no command.
    c.send(&format!("/pass {SECRET}"));
    c.expect("ERROR 10 * :");
    c.sync_quiet();
}

#[test]
fn wrong_or_missing_password_is_refused_and_closed() {
    let server = with_password();
    let addr = server.local_addr();
    let (mut ana, _) = {
        let mut c = Raw::connect_hello(addr);
        c.send(&format!("/pass {SECRET}"));
        c.expect("PASS ");
        c.send("ana");
        c.expect("WELCOME ana ");
        let u = c.expect("USERS ");
        (c, u)
    };

    // A nickname without the password.
    let mut none = Raw::connect_hello(addr);
    none.send("mallory");
    let l = none.line();
    assert!(l.starts_with("ERROR 19 * :Acesso negado"), "{l:?}");
    assert!(l.contains("password required"), "{l:?}");
    none.expect_eof();

    // Wrong passwords: one character off, a prefix, longer, empty.
    for wrong in ["abre-te sésamO", "abre-te", "abre-te sésamo!", ""] {
        let mut c = Raw::connect_hello(addr);
        c.send(&format!("/pass {wrong}"));
        let l = c.line();
        assert!(l.starts_with("ERROR 19 * :"), "{wrong:?}: {l:?}");
        assert!(l.contains("wrong password"), "{l:?}");
        c.expect_eof();
    }
    for _ in 0..5 {
        let ev = wait_event(&server, "denied", |e| {
            matches!(
                e,
                ServerEvent::Disconnected {
                    code: Some(ErrorCode::AccessDenied),
                    ..
                }
            )
        });
        assert!(matches!(ev, ServerEvent::Disconnected { nick: None, .. }));
    }
    eventually("only ana left", || server.connection_count() == 1);
    // Nobody got in; ana saw nothing.
    ana.sync_quiet();
    assert_eq!(server.users(), ["ana"]);
}

#[test]
fn the_client_library_sends_the_password() {
    let server = with_password();
    let port = server.port();
    let ana = Client::connect_with("127.0.0.1", port, "ana", client_cfg(Some(SECRET)))
        .expect("right password");
    assert_eq!(ana.initial_users(), ["ana"]);
    for (nick, pw) in [("bob", None), ("eve", Some("senha errada"))] {
        let e = Client::connect_with("127.0.0.1", port, nick, client_cfg(pw))
            .expect_err("must be refused");
        assert_eq!(e.code(), ErrorCode::AccessDenied, "{nick}: {e}");
    }
    // Settings a client cannot send are refused before connecting.
    for bad in ["", "   ", "a\nb"] {
        let e = Client::connect_with("127.0.0.1", port, "zed", client_cfg(Some(bad)))
            .expect_err("bad password setting");
        assert_eq!(e.code(), ErrorCode::InvalidArgument, "{bad:?}");
    }
    ana.ping().expect("ana still fine");
    assert_eq!(server.users(), ["ana"]);
    ana.disconnect().expect("disconnect");
}

#[test]
fn a_server_without_password_accepts_and_ignores_one() {
    let server = start(ServerConfig::default());
    let mut c = Raw::connect(server.local_addr());
    let hello = c.line();
    assert!(!hello.contains("pass="), "{hello:?}");
    c.send("/pass qualquer");
    c.expect("PASS ");
    c.send("ana");
    c.expect("WELCOME ana ");
    let bob = Client::connect_with(
        "127.0.0.1",
        server.port(),
        "bob",
        client_cfg(Some("qualquer")),
    )
    .expect("a password is harmless");
    bob.disconnect().expect("disconnect");
}

#[test]
fn password_settings_are_checked_and_never_printed() {
    for bad in ["", " lead", "trail ", "a\tb", "a\nb"] {
        let e = Server::start(
            "127.0.0.1",
            0,
            ServerConfig {
                password: Some(Password::from(bad)),
                ..ServerConfig::default()
            },
        )
        .expect_err("bad password setting");
        assert_eq!(e.code(), ErrorCode::InvalidArgument, "{bad:?}");
    }
    let cfg = ServerConfig {
        password: Some(Password::from(SECRET)),
        ..ServerConfig::default()
    };
    let shown = format!("{cfg:?} {:?}", client_cfg(Some(SECRET)));
    assert!(!shown.contains("sésamo"), "{shown}");
    assert!(shown.contains("Password(***)"));
}
