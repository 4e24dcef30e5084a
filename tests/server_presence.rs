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
    untagged(
        c.next_event(WAIT)
            .unwrap_or_else(|e| panic!("{}: no event: {e}", c.nick())),
    )
}

/// The event without its message id and server time, which the tests of
/// this file do not check (tests/server_rooms.rs and client_rooms.rs do).
fn untagged(e: Event) -> Event {
    match e {
        Event::Public { from, text, .. } => Event::Public {
            from,
            text,
            id: 0,
            time: 0,
        },
        Event::Private { from, text, .. } => Event::Private {
            from,
            text,
            id: 0,
            time: 0,
        },
        other => other,
    }
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
            text: "olá".into(),
            id: 0,
            time: 0,
        }
    );
    assert_eq!(
        ev(&quiet),
        Event::Private {
            from: "bob".into(),
            text: "psst".into(),
            id: 0,
            time: 0,
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

/// The presence tick of the I/O threads (src/server/worker/presence.rs):
/// waiting this long (twice the tick, and more for a loaded machine) makes
/// the next change a single line again.
const PAST_TICK: Duration = Duration::from_millis(300);

/// `/ping` and the raw lines (a `CHANGES` line whole) before its `PONG`.
fn raw_sync(c: &mut common_server::Raw) -> Vec<String> {
    c.send("/ping rawsync");
    let mut lines = Vec::new();
    loop {
        let l = c.raw_line();
        if l == "PONG :rawsync" {
            return lines;
        }
        lines.push(l);
    }
}

/// The changes a raw line stands for, as single lines' keywords and names
/// (`JOIN c1`, `NICK a b`).
fn changes_of(line: &str) -> Vec<String> {
    use papo::protocol::{PresenceChange, ServerLine};
    let one = |c: PresenceChange<&str>| match c {
        PresenceChange::Join(n) => format!("JOIN {n}"),
        PresenceChange::Left(n) => format!("LEFT {n}"),
        PresenceChange::Nick { old, new } => format!("NICK {old} {new}"),
    };
    match ServerLine::parse(line) {
        Ok(ServerLine::Changes(list)) => list.into_iter().map(one).collect(),
        Ok(ServerLine::Join { nick }) => vec![one(PresenceChange::Join(nick))],
        Ok(ServerLine::Left { nick }) => vec![one(PresenceChange::Left(nick))],
        Ok(ServerLine::Nick { old, new }) => vec![one(PresenceChange::Nick { old, new })],
        other => panic!("not a presence line: {line:?} ({other:?})"),
    }
}

/// Twenty clients registering one after the other, quickly: an `nc` user
/// online gets the first `JOIN` at once, as a single line, and the rest in
/// fewer lines than joins (`CHANGES <n> :JOIN c2 c3 ...`), every name once
/// and in registration order. Each newcomer is told exactly the joins after
/// its own (none about itself), on both I/O threads. After a quiet tick, a
/// single join is again the seed's single `JOIN` line.
#[test]
fn joins_within_a_tick_come_as_one_line() {
    let server = start(cfg(2));
    let addr = server.local_addr();
    let (mut ana, _) = Raw::join(addr, "ana");
    let names: Vec<String> = (1..=20).map(|i| format!("c{i}")).collect();
    let mut joined = Vec::new();
    for n in &names {
        let (c, users) = Raw::join(addr, n);
        assert!(users.contains(n), "{users:?}");
        joined.push(c);
    }
    let lines = raw_sync(&mut ana);
    assert_eq!(
        lines.first().map(String::as_str),
        Some("JOIN c1 :c1 entrou no chat (joined)"),
        "the first join after a quiet moment is unchanged: {lines:?}"
    );
    let told: Vec<String> = lines.iter().flat_map(|l| changes_of(l)).collect();
    let want: Vec<String> = names.iter().map(|n| format!("JOIN {n}")).collect();
    assert_eq!(told, want);
    assert!(
        lines.len() < names.len(),
        "20 quick joins in {} lines: {lines:?}",
        lines.len()
    );
    let batch = lines
        .iter()
        .find(|l| l.starts_with("CHANGES "))
        .expect("a CHANGES line");
    assert!(batch.contains(" :JOIN c"), "{batch}");
    for (i, c) in joined.iter_mut().enumerate() {
        let told: Vec<String> = raw_sync(c).iter().flat_map(|l| changes_of(l)).collect();
        assert_eq!(told, want[i + 1..], "{}", names[i]);
    }

    std::thread::sleep(PAST_TICK);
    let (_late, _) = Raw::join(addr, "late");
    assert_eq!(ana.raw_line(), "JOIN late :late entrou no chat (joined)");
    assert_eq!(
        joined[0].raw_line(),
        "JOIN late :late entrou no chat (joined)"
    );
}

/// A join, a rename and a leave of one user, and others' joins, within one
/// tick: told in the order they happened (a user who joins and leaves
/// within a tick is told as both). Nothing overtakes a gathered change: the
/// newcomer's public message comes after its `JOIN`, and `/ping` answered
/// after a change comes after it.
#[test]
fn order_of_join_rename_leave_is_kept() {
    let server = start(cfg(2));
    let addr = server.local_addr();
    let (mut ana, _) = Raw::join(addr, "ana");
    let (_b1, _) = Raw::join(addr, "b1");
    let (mut dan, _) = Raw::join(addr, "dan");
    dan.send("/nick dave");
    dan.expect("NICK dan dave :");
    dan.send(":oi");
    // b2 connects after the server has taken dan's message (dan's PONG
    // comes after it): two connections' lines have no order of their own.
    dan.send("/ping oi");
    dan.expect("PONG :oi");
    let (_b2, _) = Raw::join(addr, "b2");
    dan.send("quit");
    dan.read_to_end();
    let (_b3, _) = Raw::join(addr, "b3");
    let lines = raw_sync(&mut ana);
    let mut told = Vec::new();
    for l in &lines {
        if l.starts_with("PUBLIC ") {
            told.push(l.clone());
        } else {
            told.extend(changes_of(l));
        }
    }
    assert_eq!(
        told,
        [
            "JOIN b1",
            "JOIN dan",
            "NICK dan dave",
            "PUBLIC dave :oi",
            "JOIN b2",
            "LEFT dave",
            "JOIN b3"
        ],
        "{lines:?}"
    );
}

/// The library client turns `CHANGES` lines back into one `Joined`, `Left`
/// or `NickChanged` event per change, in order: its callers (and the C and
/// Python APIs on top of it) see no difference.
#[test]
fn library_client_gets_one_event_per_change() {
    let server = start(cfg(2));
    let addr = server.local_addr();
    let ana = Client::connect("127.0.0.1", addr.port(), "ana").unwrap();
    let mut raws = Vec::new();
    for i in 1..=12 {
        raws.push(Raw::join(addr, &format!("j{i}")).0);
    }
    raws[0].send("/nick j1b");
    while !raws[0].line().starts_with("NICK j1 j1b :") {}
    raws[1].send("quit");
    raws[1].read_to_end();
    let mut want: Vec<Event> = (1..=12)
        .map(|i| Event::Joined {
            nick: format!("j{i}"),
        })
        .collect();
    want.push(Event::NickChanged {
        old: "j1".into(),
        new: "j1b".into(),
    });
    want.push(Event::Left { nick: "j2".into() });
    for w in want {
        assert_eq!(ev(&ana), w);
    }
    assert_quiet(&ana);
}
