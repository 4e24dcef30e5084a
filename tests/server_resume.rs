//! Resuming a connection over real sockets, as a raw client types it
//! (PROTOCOL.md, "Resuming a connection"): the token, the grace period
//! (nobody sees `LEFT`, private messages are answered `SENT`), the missed
//! messages in order, a stolen or spent token refused, the grace period
//! running out.

mod common_server;

use std::time::Duration;

use common_server::*;
use papo::protocol::ServerLine;
use papo::ServerConfig;

/// Registers `nick` with `/resume on` and `/tags on`; returns the client,
/// its token and the last id the server had handed out.
fn join_resumable(addr: std::net::SocketAddr, nick: &str) -> (Raw, String, u64) {
    let mut c = Raw::connect_hello(addr);
    c.send("/resume on");
    c.expect("RESUME on :");
    c.send("/tags on");
    c.expect("TAGS on :");
    c.send(nick);
    c.expect(&format!("WELCOME {nick} :"));
    c.expect("USERS ");
    let line = c.expect("TOKEN ");
    let Ok(ServerLine::Token { token, last_id }) = ServerLine::parse(&line) else {
        panic!("not a TOKEN line: {line:?}");
    };
    assert_eq!(token.len(), 32, "{line:?}");
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()), "{line:?}");
    (c, token.to_owned(), last_id)
}

/// Presents `nick`'s token on a new connection; returns the client, the
/// `RESUMED` line's new token and `recovered`.
fn resume(addr: std::net::SocketAddr, nick: &str, token: &str, since: u64) -> (Raw, String, bool) {
    let mut c = Raw::connect_hello(addr);
    c.send(&format!("@r /resume {nick} {token} {since}"));
    let line = c.expect("@r RESUMED ");
    let parsed = ServerLine::parse(line.strip_prefix("@r ").unwrap_or(&line));
    let Ok(ServerLine::Resumed {
        nick: got,
        token,
        recovered,
    }) = parsed
    else {
        panic!("not a RESUMED line: {line:?}");
    };
    assert_eq!(got, nick);
    (c, token.to_owned(), recovered)
}

/// The id of a tagged message line.
fn id_of(line: &str) -> u64 {
    let word = line
        .split(' ')
        .find_map(|w| w.strip_prefix("id="))
        .unwrap_or_else(|| panic!("no id in {line:?}"));
    word.parse()
        .unwrap_or_else(|_| panic!("bad id in {line:?}"))
}

#[test]
fn nc_users_see_nothing_new() {
    let server = start(cfg(1));
    let mut c = Raw::connect(server.local_addr());
    let hello = c.expect("HELLO papo/1 ");
    assert!(hello.contains(" resume=1"), "{hello:?}");
    c.send("ana");
    c.expect("WELCOME ana :");
    c.expect("USERS 1 :ana");
    // No TOKEN line without `/resume on`.
    c.sync_quiet();
    // And without a token, nothing is held: others get LEFT at once.
    let (mut bob, _) = Raw::join(server.local_addr(), "bob");
    c.sync();
    drop(c);
    bob.expect("LEFT ana :");
}

#[test]
fn dropped_connection_is_held_and_resumed_with_what_it_missed() {
    let server = start(cfg(2));
    let addr = server.local_addr();
    let (mut ana, token, last_id) = join_resumable(addr, "ana");
    let (mut bob, _) = Raw::join(addr, "bob");
    ana.expect("JOIN bob :");
    ana.send("/join #sala");
    ana.expect("ROOMJOIN #sala ana :");
    bob.send("/join #sala");
    bob.expect("ROOMJOIN #sala bob :");
    ana.expect("ROOMJOIN #sala bob :");
    bob.send(":antes");
    let before = ana.expect("PUBLIC bob id=");
    let seen = id_of(&before);
    assert!(seen > last_id);

    // The connection drops without a quit.
    drop(ana);
    // While held: private messages are accepted, nobody sees LEFT.
    bob.send("@1 ana:oi ana");
    bob.expect("@1 SENT ana :");
    bob.send("#sala:na sala");
    bob.expect("SENT #sala :");
    bob.send(":para todos");
    bob.send("@2 ana:tudo bem?");
    bob.expect("@2 SENT ana :");
    bob.sync_quiet();

    let (mut ana, token2, recovered) = resume(addr, "ana", &token, seen);
    assert!(recovered);
    assert_ne!(token2, token, "a new token on each resume");
    let missed: Vec<String> = (0..4).map(|_| ana.line()).collect();
    assert!(missed[0].starts_with("PRIVATE bob id="), "{missed:?}");
    assert!(missed[0].ends_with(" :oi ana"), "{missed:?}");
    assert!(missed[1].starts_with("ROOM #sala bob id="), "{missed:?}");
    assert!(missed[2].starts_with("PUBLIC bob id="), "{missed:?}");
    assert!(missed[3].ends_with(" :tudo bem?"), "{missed:?}");
    let ids: Vec<u64> = missed.iter().map(|l| id_of(l)).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{missed:?}");
    ana.sync_quiet();

    // The nickname and the room are ana's again.
    bob.send("#sala:de volta?");
    bob.expect("SENT #sala :");
    let l = ana.expect("ROOM #sala bob id=");
    assert!(l.ends_with(":de volta?"));
    ana.send("@3 bob:sim");
    ana.expect("@3 SENT bob :");
    bob.expect("PRIVATE ana :sim");
    ana.send("@4 /list");
    ana.expect("@4 USERS 2 :ana bob");
    // bob never saw ana leave or come back.
    bob.sync_quiet();

    // The spent token is refused; so is bob's attempt with a made-up one.
    let mut thief = Raw::connect_hello(addr);
    thief.send(&format!("/resume ana {token} {seen}"));
    thief.expect("ERROR 24 ana :");
    thief.send("/resume ana 0123456789abcdef0123456789abcdef");
    thief.expect("ERROR 24 ana :");
    // A refused resume leaves the prompt usable.
    thief.send("carla");
    thief.expect("WELCOME carla :");
    ana.expect("JOIN carla :");
    bob.expect("JOIN carla :");

    // The new token works once more, and takes over a connection the
    // server still thinks alive: the old socket is closed.
    let (mut ana2, _, recovered) = resume(addr, "ana", &token2, id_of(&l));
    assert!(recovered);
    ana.expect_eof();
    ana2.sync_quiet();
    ana2.send("quit");
    bob.expect("LEFT ana :");
}

#[test]
fn a_token_is_bound_to_its_nickname() {
    let server = start(cfg(1));
    let addr = server.local_addr();
    let (_ana, ana_token, _) = join_resumable(addr, "ana");
    let (_bob, _bob_token, _) = join_resumable(addr, "bob");
    let mut c = Raw::connect_hello(addr);
    c.send(&format!("/resume bob {ana_token}"));
    c.expect("ERROR 24 bob :");
    c.send(&format!("/resume nobody {ana_token}"));
    c.expect("ERROR 24 nobody :");
}

#[test]
fn grace_period_running_out_gives_left_and_voids_the_token() {
    let server = start(ServerConfig {
        io_threads: 2,
        resume_grace: Duration::from_millis(200),
        ..ServerConfig::default()
    });
    let addr = server.local_addr();
    let (ana, token, last_id) = join_resumable(addr, "ana");
    let (mut bob, _) = Raw::join(addr, "bob");
    bob.sync();
    drop(ana);
    // Waits as long as it takes: the LEFT comes once the grace period has
    // passed.
    bob.expect("LEFT ana :");
    let mut late = Raw::connect_hello(addr);
    late.send(&format!("/resume ana {token} {last_id}"));
    late.expect("ERROR 24 ana :");
    // The nickname is free again.
    late.send("ana");
    late.expect("WELCOME ana :");
}

#[test]
fn a_resume_without_since_replays_nothing_and_says_so() {
    let server = start(cfg(1));
    let addr = server.local_addr();
    let (ana, token, _) = join_resumable(addr, "ana");
    let (mut bob, _) = Raw::join(addr, "bob");
    drop(ana);
    bob.send("@1 ana:perdida?");
    bob.expect("@1 SENT ana :");
    let mut c = Raw::connect_hello(addr);
    c.send(&format!("/resume ana {token}"));
    let l = c.expect("RESUMED ana ");
    assert!(l.contains(" 0 :"), "{l:?}");
    c.sync_quiet();
}

#[test]
fn backlog_past_its_bound_is_not_recovered() {
    let server = start(ServerConfig {
        io_threads: 1,
        resume_backlog: 3,
        ..ServerConfig::default()
    });
    let addr = server.local_addr();
    let (ana, token, last_id) = join_resumable(addr, "ana");
    let (mut bob, _) = Raw::join(addr, "bob");
    drop(ana);
    for i in 0..5 {
        bob.send(&format!("ana:m{i}"));
        bob.expect("SENT ana :");
    }
    let (mut ana, _, recovered) = resume(addr, "ana", &token, last_id);
    assert!(!recovered);
    // The last three, in order.
    for i in 2..5 {
        let l = ana.expect("PRIVATE bob ");
        assert!(l.ends_with(&format!(":m{i}")), "{l:?}");
    }
    ana.sync_quiet();
}

#[test]
fn a_peer_silent_past_keepalive_is_held_too() {
    let server = start(ServerConfig {
        io_threads: 1,
        keepalive_interval: Duration::from_millis(100),
        keepalive_timeout: Duration::from_millis(100),
        ..ServerConfig::default()
    });
    let addr = server.local_addr();
    let (mut ana, token, last_id) = join_resumable(addr, "ana");
    // ana goes silent (a laptop asleep): probed, then let go of without
    // an ERROR 11 (held, not closed).
    ana.expect("PING :keepalive");
    ana.expect_eof();
    // bob, a library client, answers keepalive by itself.
    let cfg = papo::ClientConfig {
        reconnect: false,
        ..papo::ClientConfig::default()
    };
    let bob = papo::Client::connect_with("127.0.0.1", server.port(), "bob", cfg).expect("bob");
    assert_eq!(bob.users().expect("users"), ["ana", "bob"]);
    bob.send(Some("ana"), "acorda")
        .expect("accepted while held");
    let (mut ana, _, recovered) = resume(addr, "ana", &token, last_id);
    assert!(recovered);
    let l = ana.expect("PRIVATE bob id=");
    assert!(l.ends_with(":acorda"), "{l:?}");
    ana.send("quit");
    loop {
        match bob.next_event(WAIT).expect("an event") {
            papo::Event::Left { nick } => {
                assert_eq!(nick, "ana");
                break;
            }
            papo::Event::Joined { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}
