//! `/presence off|on` (PROTOCOL.md, "Presence") over real loopback sockets:
//! raw lines as `nc` would send them, and the Rust `Client` with
//! `ClientConfig::presence` false.

mod common_server;

use std::time::Duration;

use common_server::{cfg, start, users_of, Raw, WAIT};
use papo::{Client, ClientConfig, ErrorCode, Event};

/// `/presence off` at the nickname prompt: `PRESENCE off`, then `WELCOME`
/// with no `USERS`; no `JOIN`/`LEFT`/`NICK` about others; messages, its
/// own `NICK` and `/list` as usual; `/presence on` brings the lines back.
/// Clients with presence on see everything as before.
#[test]
fn presence_off_at_the_prompt() {
    let server = start(cfg(2));
    let addr = server.local_addr();
    let (mut ana, users) = Raw::join(addr, "ana");
    assert_eq!(users, ["ana"]);

    let mut quiet = Raw::connect_hello(addr);
    quiet.label = "quiet".into();
    // A bad argument is refused and the prompt stays usable.
    quiet.send("/presence maybe");
    quiet.expect("ERROR 10 * :");
    quiet.send("/PRESENCE off");
    quiet.expect("PRESENCE off :");
    quiet.send("quiet");
    quiet.expect("WELCOME quiet :");
    // No implicit USERS list: nothing before the PONG.
    quiet.sync_quiet();
    // The others still see it join.
    assert!(ana.line().starts_with("JOIN quiet :"));

    // bob joins (presence on): ana is told, quiet is not.
    let (mut bob, users) = Raw::join(addr, "bob");
    assert_eq!(users, ["ana", "bob", "quiet"]);
    assert!(ana.line().starts_with("JOIN bob :"));
    quiet.sync_quiet();

    // Public and private messages still come.
    bob.send(":olá");
    assert_eq!(ana.line(), "PUBLIC bob :olá");
    assert_eq!(quiet.line(), "PUBLIC bob :olá");
    bob.send("quiet:psst");
    bob.expect("SENT quiet :");
    assert_eq!(quiet.line(), "PRIVATE bob :psst");

    // Someone else renames: not told. Its own rename: answered.
    bob.send("/nick robert");
    bob.expect("NICK bob robert :");
    assert!(ana.line().starts_with("NICK bob robert :"));
    quiet.sync_quiet();
    quiet.send("/nick silent");
    assert!(quiet.line().starts_with("NICK quiet silent :"));
    assert!(ana.line().starts_with("NICK quiet silent :"));
    assert!(bob.line().starts_with("NICK quiet silent :"));
    quiet.send("/list");
    assert_eq!(
        users_of(&quiet.expect("USERS ")),
        ["ana", "robert", "silent"]
    );

    // Someone leaves: not told.
    bob.send("quit");
    bob.read_to_end();
    assert!(ana.line().starts_with("LEFT robert :"));
    quiet.sync_quiet();

    // Back on: the next join and leave are told again.
    quiet.send("/presence on");
    quiet.expect("PRESENCE on :");
    let (mut dani, users) = Raw::join(addr, "dani");
    assert_eq!(users, ["ana", "dani", "silent"]);
    assert!(ana.line().starts_with("JOIN dani :"));
    assert!(quiet.line().starts_with("JOIN dani :"));
    dani.send("quit");
    dani.read_to_end();
    assert!(quiet.line().starts_with("LEFT dani :"));
    assert!(ana.line().starts_with("LEFT dani :"));
    ana.sync_quiet();
    quiet.sync_quiet();
}

/// `/presence off` after registering, on one of two I/O threads' clients:
/// the next joins, renames and leaves are not told to it; `/presence on`
/// works again; `/help` lists the command.
#[test]
fn presence_off_after_registration() {
    let server = start(cfg(2));
    let addr = server.local_addr();
    let (mut ana, _) = Raw::join(addr, "ana");
    let (mut bob, _) = Raw::join(addr, "bob");
    assert!(ana.line().starts_with("JOIN bob :"));

    bob.send("/presence off");
    bob.expect("PRESENCE off :");
    bob.send("/presence");
    bob.expect("ERROR 10 * :");
    // Repeating it changes nothing and is answered the same.
    bob.send("/presence off");
    bob.expect("PRESENCE off :");

    let mut others = Vec::new();
    for n in ["c1", "c2", "c3"] {
        let (c, _) = Raw::join(addr, n);
        assert!(ana.line().starts_with(&format!("JOIN {n} :")));
        others.push(c);
    }
    bob.sync_quiet();
    for (c, n) in others.iter_mut().zip(["c1", "c2", "c3"]) {
        c.send("quit");
        c.read_to_end();
        assert!(ana.line().starts_with(&format!("LEFT {n} :")));
    }
    bob.sync_quiet();
    ana.send(":still here");
    assert_eq!(bob.line(), "PUBLIC ana :still here");

    bob.send("/presence on");
    bob.expect("PRESENCE on :");
    ana.send("/nick Ana2");
    ana.expect("NICK ana Ana2 :");
    assert!(bob.line().starts_with("NICK ana Ana2 :"));
    bob.send("/help");
    let mut help = Vec::new();
    for _ in 0..papo::protocol::HELP_LINES.len() {
        help.push(bob.expect("HELP :"));
    }
    assert!(
        help.iter().any(|l| l.starts_with("HELP :/presence")),
        "{help:?}"
    );
    bob.sync_quiet();
    ana.sync_quiet();
}

fn ev(c: &Client) -> Event {
    c.next_event(WAIT)
        .unwrap_or_else(|e| panic!("{}: no event: {e}", c.nick()))
}

fn assert_quiet(c: &Client) {
    c.ping().unwrap();
    match c.next_event(Duration::ZERO) {
        Err(e) => assert_eq!(e.code(), ErrorCode::Timeout),
        Ok(e) => panic!("{}: unexpected event {e:?}", c.nick()),
    }
}

/// The Rust client with `presence: false`: registers with no initial list,
/// gets no `Joined`/`Left`/`NickChanged` about others, still gets messages,
/// its own rename and `users()`.
#[test]
fn rust_client_with_presence_off() {
    let server = start(cfg(2));
    let port = server.local_addr().port();
    let ana = Client::connect("127.0.0.1", port, "ana").unwrap();
    let quiet = Client::connect_with(
        "127.0.0.1",
        port,
        "quiet",
        ClientConfig {
            presence: false,
            ..ClientConfig::default()
        },
    )
    .unwrap();
    assert_eq!(quiet.nick(), "quiet");
    assert!(quiet.initial_users().is_empty());
    assert_eq!(
        ev(&ana),
        Event::Joined {
            nick: "quiet".into()
        }
    );

    let bob = Client::connect("127.0.0.1", port, "bob").unwrap();
    assert_eq!(bob.initial_users(), ["ana", "bob", "quiet"]);
    assert_eq!(ev(&ana), Event::Joined { nick: "bob".into() });
    assert_quiet(&quiet);

    bob.send(None, "olá").unwrap();
    bob.send(Some("quiet"), "psst").unwrap();
    assert_eq!(
        ev(&quiet),
        Event::Public {
            from: "bob".into(),
            text: "olá".into()
        }
    );
    assert_eq!(
        ev(&quiet),
        Event::Private {
            from: "bob".into(),
            text: "psst".into()
        }
    );
    bob.change_nick("robert").unwrap();
    quiet.change_nick("silent").unwrap();
    assert_eq!(
        ev(&quiet),
        Event::NickChanged {
            old: "quiet".into(),
            new: "silent".into()
        }
    );
    assert_eq!(quiet.users().unwrap(), ["ana", "robert", "silent"]);
    bob.disconnect().unwrap();
    // ana sees the leave; quiet does not.
    loop {
        if let Event::Left { nick } = ev(&ana) {
            assert_eq!(nick, "robert");
            break;
        }
    }
    assert_quiet(&quiet);
}
