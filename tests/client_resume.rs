//! The library client reconnecting by itself (PROTOCOL.md, "Resuming a
//! connection"), through a fault-injecting proxy on loopback that cuts its
//! connection: messages to it arrive exactly once and in order across 100
//! cuts while messages flow both ways; a grace period that runs out gives
//! the others `LEFT` and the client `recovered = false` (and its rooms
//! back); a restarted server with a history database makes it register
//! afresh.

mod common_proxy;

use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common_proxy::Proxy;
use papo::{Client, ClientConfig, ErrorCode, Event, Server, ServerConfig};

/// Longest a test waits for any one event; it only bounds a failure.
const WAIT: Duration = Duration::from_secs(30);

/// A client that reconnects at once and keeps trying.
fn reconnecting() -> ClientConfig {
    ClientConfig {
        reconnect_delay: Duration::from_millis(2),
        reconnect_max_delay: Duration::from_millis(20),
        reconnect_attempts: 100_000,
        ..ClientConfig::default()
    }
}

fn plain() -> ClientConfig {
    ClientConfig {
        reconnect: false,
        ..ClientConfig::default()
    }
}

fn server(cfg: ServerConfig) -> Server {
    Server::start("127.0.0.1", 0, cfg).expect("server")
}

/// The next event, or a panic after [`WAIT`].
fn next(c: &Client, what: &str) -> Event {
    match c.next_event(WAIT) {
        Ok(e) => e,
        Err(e) => panic!("no event while waiting for {what}: {e}"),
    }
}

#[test]
fn hundred_cuts_lose_nothing_and_repeat_nothing() {
    const CUTS: usize = 100;
    const PER_ROUND: usize = 20;
    let s = server(ServerConfig {
        io_threads: 2,
        history_limit: 100_000,
        resume_backlog: 100_000,
        flood_lines_per_sec: 0,
        ..ServerConfig::default()
    });
    let proxy = Proxy::start(s.local_addr());
    let ana = Arc::new(
        Client::connect_with("127.0.0.1", proxy.port(), "ana", reconnecting()).expect("ana"),
    );
    let bob = Arc::new(Client::connect_with("127.0.0.1", s.port(), "bob", plain()).expect("bob"));
    // bob's JOIN reaches ana (so the first cut is not before it).
    match next(&ana, "bob's JOIN") {
        Event::Joined { nick } => assert_eq!(nick, "bob"),
        other => panic!("{other:?}"),
    }

    // Senders: each round, bob sends PER_ROUND private messages to ana
    // and ana as many to bob, from threads of their own.
    let (bob_go, bob_rounds) = mpsc::channel::<usize>();
    let b = Arc::clone(&bob);
    let bob_sender = std::thread::spawn(move || {
        for round in bob_rounds {
            for k in 0..PER_ROUND {
                let n = round * PER_ROUND + k;
                // ana is online or held: always accepted.
                b.send(Some("ana"), &format!("b{n}")).expect("bob's send");
            }
        }
    });
    let (ana_go, ana_rounds) = mpsc::channel::<usize>();
    let a = Arc::clone(&ana);
    let ana_sender = std::thread::spawn(move || {
        let mut acknowledged = Vec::new();
        for round in ana_rounds {
            for k in 0..PER_ROUND {
                let n = round * PER_ROUND + k;
                // A message in flight when the connection is cut fails
                // (03 or 11): the server may or may not have taken it.
                match a.send(Some("bob"), &format!("a{n}")) {
                    Ok(()) => acknowledged.push(n),
                    Err(e) => assert!(
                        matches!(e.code(), ErrorCode::ConnectionAborted | ErrorCode::Timeout),
                        "{e}"
                    ),
                }
            }
        }
        acknowledged
    });

    let mut got: Vec<usize> = Vec::new();
    let mut reconnected = 0;
    let take = |ev: Event, got: &mut Vec<usize>, reconnected: &mut usize| match ev {
        Event::Private { from, text, .. } => {
            assert_eq!(from, "bob");
            let n: usize = text[1..].parse().expect("a number");
            got.push(n);
        }
        Event::Reconnecting { attempt } => assert!(attempt >= 1),
        Event::Reconnected { recovered } => {
            assert!(recovered, "the server held ana: nothing may be missing");
            *reconnected += 1;
        }
        other => panic!("unexpected {other:?}"),
    };
    for round in 0..CUTS {
        bob_go.send(round).expect("bob's thread");
        ana_go.send(round).expect("ana's thread");
        // Cut in the middle of the round: once ana has some of it.
        let want = round * PER_ROUND + PER_ROUND / 4;
        while got.len() < want {
            let ev = next(&ana, "bob's messages");
            take(ev, &mut got, &mut reconnected);
        }
        proxy.cut();
        while reconnected <= round {
            let ev = next(&ana, "the reconnection");
            take(ev, &mut got, &mut reconnected);
        }
    }
    drop(bob_go);
    drop(ana_go);
    bob_sender.join().expect("bob's thread");
    let acknowledged = ana_sender.join().expect("ana's thread");
    while got.len() < CUTS * PER_ROUND {
        let ev = next(&ana, "the last of bob's messages");
        take(ev, &mut got, &mut reconnected);
    }
    // Exactly once, in order.
    assert_eq!(got, (0..CUTS * PER_ROUND).collect::<Vec<_>>());
    assert_eq!(reconnected, CUTS);
    assert!(proxy.accepted() > CUTS);

    // bob got every message ana's sends acknowledged, in order, none
    // twice (and perhaps some whose send failed in a cut).
    bob.ping().expect("bob's ping");
    ana.ping().expect("ana's ping");
    bob.ping().expect("bob's ping");
    let mut from_ana = Vec::new();
    while let Ok(ev) = bob.next_event(Duration::ZERO) {
        if let Event::Private { from, text, .. } = ev {
            assert_eq!(from, "ana");
            from_ana.push(text[1..].parse::<usize>().expect("a number"));
        }
    }
    assert!(
        from_ana.windows(2).all(|w| w[0] < w[1]),
        "out of order or twice"
    );
    for n in &acknowledged {
        assert!(
            from_ana.contains(n),
            "a{n} was acknowledged and never arrived"
        );
    }
    // Enough sends were acknowledged for the check above to mean
    // something (a send during a cut fails; on a loaded machine, more do).
    assert!(
        acknowledged.len() > CUTS * PER_ROUND / 10,
        "{}",
        acknowledged.len()
    );
    // ana never left the chat for bob.
    assert!(ana.is_connected());
    assert_eq!(bob.users().expect("users"), ["ana", "bob"]);
}

#[test]
fn grace_period_running_out_gives_left_and_recovered_false() {
    let s = server(ServerConfig {
        resume_grace: Duration::from_millis(300),
        ..ServerConfig::default()
    });
    let proxy = Proxy::start(s.local_addr());
    let ana = Client::connect_with("127.0.0.1", proxy.port(), "ana", reconnecting()).expect("ana");
    let bob = Client::connect_with("127.0.0.1", s.port(), "bob", plain()).expect("bob");
    ana.join("#sala").expect("join");
    bob.join("#sala").expect("join");
    // The server is unreachable for longer than the grace period.
    proxy.refuse(true);
    proxy.cut();
    let deadline = Instant::now() + WAIT;
    loop {
        assert!(Instant::now() < deadline, "no LEFT for ana");
        if let Event::Left { nick } = next(&bob, "ana's LEFT") {
            assert_eq!(nick, "ana");
            break;
        }
    }
    proxy.refuse(false);
    let mut rejoined = false;
    loop {
        match next(&ana, "the reconnection") {
            Event::Reconnected { recovered } => {
                assert!(!recovered, "the grace period ran out");
                break;
            }
            Event::Reconnecting { .. } | Event::RoomJoined { .. } | Event::Joined { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    // Registered afresh and back in its room.
    while !rejoined {
        if let Event::RoomJoined { room, nick } = next(&ana, "the room joined again") {
            rejoined = room == "#sala" && nick == "ana";
        }
    }
    bob.send(Some("#sala"), "de volta").expect("room message");
    loop {
        if let Event::Room { from, text, .. } = next(&ana, "bob's room message") {
            assert_eq!((from.as_str(), text.as_str()), ("bob", "de volta"));
            break;
        }
    }
    assert_eq!(ana.nick(), "ana");
}

#[test]
fn a_restarted_server_with_history_is_joined_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("history.db");
    let cfg = || ServerConfig {
        history_path: Some(db.clone()),
        ..ServerConfig::default()
    };
    let first = server(cfg());
    let proxy = Proxy::start(first.local_addr());
    let ana = Client::connect_with("127.0.0.1", proxy.port(), "ana", reconnecting()).expect("ana");
    let bob = Client::connect_with("127.0.0.1", first.port(), "bob", plain()).expect("bob");
    ana.join("#sala").expect("join");
    bob.join("#sala").expect("join");
    bob.send(Some("#sala"), "antes do reinício")
        .expect("room message");
    loop {
        if let Event::Room { .. } = next(&ana, "bob's room message") {
            break;
        }
    }
    drop(bob);
    first.shutdown();
    let second = server(cfg());
    proxy.set_upstream(second.local_addr());
    loop {
        match next(&ana, "the reconnection") {
            Event::Reconnected { recovered } => {
                assert!(!recovered, "the server restarted: its tokens are gone");
                break;
            }
            Event::Reconnecting { .. } | Event::Left { .. } | Event::RoomLeft { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    loop {
        if let Event::RoomJoined { room, nick } = next(&ana, "the room joined again") {
            assert_eq!((room.as_str(), nick.as_str()), ("#sala", "ana"));
            break;
        }
    }
    // What was said before the restart is in the history.
    let before = ana.history("#sala", Some(10), None).expect("history");
    assert!(
        before.iter().any(|e| e.text == "antes do reinício"),
        "{before:?}"
    );
}

#[test]
fn without_reconnect_a_cut_is_the_end() {
    let s = server(ServerConfig::default());
    let proxy = Proxy::start(s.local_addr());
    let ana = Client::connect_with("127.0.0.1", proxy.port(), "ana", plain()).expect("ana");
    proxy.cut();
    match next(&ana, "the end") {
        Event::Disconnected { code, .. } => assert_eq!(code, ErrorCode::ConnectionAborted),
        other => panic!("{other:?}"),
    }
}
