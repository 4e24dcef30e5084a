//! End to end: `papo::Client` against a real `papo::Server` started on port
//! 0 inside each test, over loopback sockets.

mod common_client;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use common_client::WAIT;
use papo::{Client, ClientConfig, ErrorCode, Event, Server, ServerConfig};

fn server() -> Server {
    Server::start("127.0.0.1", 0, ServerConfig::default()).unwrap()
}

/// A client that does not reconnect by itself: these tests check what a
/// lost connection looks like without it (tests/client_resume.rs has the
/// reconnecting client).
fn join(s: &Server, nick: &str) -> Client {
    let cfg = ClientConfig {
        reconnect: false,
        ..ClientConfig::default()
    };
    Client::connect_with("127.0.0.1", s.port(), nick, cfg).unwrap()
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

/// Asserts that nothing more is queued for `c` once the server has
/// processed everything `c` sent (the `PONG` comes after anything the
/// server queued for `c` before it).
fn assert_quiet(c: &Client) {
    c.ping().unwrap();
    match c.next_event(Duration::ZERO) {
        Err(e) => assert_eq!(e.code(), ErrorCode::Timeout),
        Ok(e) => panic!("{}: unexpected event {e:?}", c.nick()),
    }
}

fn joined(n: &str) -> Event {
    Event::Joined { nick: n.into() }
}
fn left(n: &str) -> Event {
    Event::Left { nick: n.into() }
}
fn public(from: &str, text: &str) -> Event {
    Event::Public {
        from: from.into(),
        text: text.into(),
        id: 0,
        time: 0,
    }
}
fn private(from: &str, text: &str) -> Event {
    Event::Private {
        from: from.into(),
        text: text.into(),
        id: 0,
        time: 0,
    }
}
fn renamed(old: &str, new: &str) -> Event {
    Event::NickChanged {
        old: old.into(),
        new: new.into(),
    }
}

/// A raw `nc`-like connection that registers and then just closes.
fn raw_register_and_close(port: u16, nick: &str) {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    assert!(line.starts_with("HELLO papo/1"), "{line}");
    (&s).write_all(format!("{nick}\n").as_bytes()).unwrap();
    line.clear();
    r.read_line(&mut line).unwrap();
    assert!(line.starts_with(&format!("WELCOME {nick}")), "{line}");
    line.clear();
    r.read_line(&mut line).unwrap();
    assert!(line.starts_with("USERS "), "{line}");
    // Dropped without `quit`: the server must notice the close.
}

#[test]
fn seed_000_scenario() {
    let s = server();
    let ana = join(&s, "ana");
    assert_eq!(ana.initial_users(), ["ana"]);
    let bob = join(&s, "bob");
    assert_eq!(bob.initial_users(), ["ana", "bob"]);
    let carla = join(&s, "carla");
    // Seed 000 client manual item 3: on connecting, the list of who is online.
    assert_eq!(carla.initial_users(), ["ana", "bob", "carla"]);
    assert_eq!(carla.users().unwrap(), ["ana", "bob", "carla"]);
    assert_eq!(ev(&ana), joined("bob"));
    assert_eq!(ev(&ana), joined("carla"));
    assert_eq!(ev(&bob), joined("carla"));

    // Public: everyone else gets it, not the sender.
    carla.send(None, "olá a todos").unwrap();
    carla.send(Some(""), "de novo: a todos").unwrap();
    for c in [&ana, &bob] {
        assert_eq!(ev(c), public("carla", "olá a todos"));
        assert_eq!(ev(c), public("carla", "de novo: a todos"));
    }
    assert_quiet(&carla);

    // Private with acknowledgement ("Mensagem enviada"), only to bob.
    carla.send(Some("bob"), "oi bob, tudo bem?").unwrap();
    assert_eq!(ev(&bob), private("carla", "oi bob, tudo bem?"));
    // Destination compared case-insensitively.
    carla.send(Some("BOB"), "de novo").unwrap();
    assert_eq!(ev(&bob), private("carla", "de novo"));
    // To oneself: delivered like any other.
    carla.send(Some("carla"), "nota").unwrap();
    assert_eq!(ev(&carla), private("carla", "nota"));
    assert_quiet(&ana);

    // 02: nobody by that name.
    let e = carla.send(Some("zé"), "alguém aí?").unwrap_err();
    assert_eq!(e.code(), ErrorCode::NoSuchUser);

    // 01: the nickname is taken, also in another case.
    for nick in ["ana", "Ana", "ANA"] {
        let e = Client::connect("127.0.0.1", s.port(), nick).unwrap_err();
        assert_eq!(e.code(), ErrorCode::NickInUse, "{nick}");
    }
    // 06 from the server's rules too (checked locally first).
    let e = Client::connect("127.0.0.1", s.port(), "a b").unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidNick);

    // /nick: everyone, the renamed one included, sees it.
    carla.change_nick("Carla2").unwrap();
    assert_eq!(carla.nick(), "Carla2");
    for c in [&ana, &bob, &carla] {
        assert_eq!(ev(c), renamed("carla", "Carla2"));
    }
    let e = carla.change_nick("BOB").unwrap_err();
    assert_eq!(e.code(), ErrorCode::NickInUse);
    assert_eq!(carla.nick(), "Carla2");
    // Others reach the new name; the old one is free.
    bob.send(Some("Carla2"), "oi Carla2").unwrap();
    assert_eq!(ev(&carla), private("bob", "oi Carla2"));
    assert_eq!(
        bob.send(Some("carla"), "ainda aí?").unwrap_err().code(),
        ErrorCode::NoSuchUser
    );
    assert_eq!(bob.users().unwrap(), ["ana", "bob", "Carla2"]);
    assert_eq!(s.users(), ["ana", "bob", "Carla2"]);

    // Leaving by disconnect: the others are told.
    bob.disconnect().unwrap();
    assert!(!bob.is_connected());
    assert_eq!(ev(&ana), left("bob"));
    assert_eq!(ev(&carla), left("bob"));
    assert_eq!(
        bob.send(None, "still here?").unwrap_err().code(),
        ErrorCode::ConnectionAborted
    );

    // Leaving by closing the socket (no quit): the others are told too.
    raw_register_and_close(s.port(), "dani");
    for c in [&ana, &carla] {
        assert_eq!(ev(c), joined("dani"));
        assert_eq!(ev(c), left("dani"));
    }
    assert_eq!(ana.users().unwrap(), ["ana", "Carla2"]);
    assert_quiet(&ana);
    assert_quiet(&carla);

    // Server shutdown: 03 for everyone still connected.
    s.shutdown();
    for c in [&ana, &carla] {
        match ev(c) {
            Event::Disconnected { code, .. } => assert_eq!(code, ErrorCode::ConnectionAborted),
            other => panic!("{other:?}"),
        }
        assert!(!c.is_connected());
        assert_eq!(c.next_event(WAIT).unwrap_err().code(), ErrorCode::Closed);
        assert_eq!(
            c.send(None, "alô?").unwrap_err().code(),
            ErrorCode::ConnectionAborted
        );
        assert_eq!(
            c.send(Some("ana"), "alô?").unwrap_err().code(),
            ErrorCode::ConnectionAborted
        );
        assert_eq!(c.users().unwrap_err().code(), ErrorCode::ConnectionAborted);
        assert_eq!(c.ping().unwrap_err().code(), ErrorCode::ConnectionAborted);
        assert_eq!(
            c.change_nick("novo").unwrap_err().code(),
            ErrorCode::ConnectionAborted
        );
        c.disconnect().unwrap();
    }
    // Nothing listens any more.
    let e = Client::connect_with(
        "127.0.0.1",
        s.port(),
        "eva",
        ClientConfig {
            connect_timeout: Duration::from_secs(2),
            ..ClientConfig::default()
        },
    )
    .unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidServer);
}

#[test]
fn eight_threads_send_at_once() {
    const THREADS: usize = 8;
    const EACH: usize = 40;
    let s = server();
    let rx = join(&s, "rx");
    let other = join(&s, "other");
    let tx = Arc::new(join(&s, "tx"));
    assert_eq!(ev(&rx), joined("other"));
    assert_eq!(ev(&rx), joined("tx"));
    assert_eq!(ev(&other), joined("tx"));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let tx = Arc::clone(&tx);
            std::thread::spawn(move || {
                for i in 0..EACH {
                    tx.send(None, &format!("pub {t} {i}")).unwrap();
                    tx.send(Some("rx"), &format!("priv {t} {i}")).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    tx.ping().unwrap();
    let mut pubs = HashSet::new();
    let mut privs = HashSet::new();
    // Per thread, messages arrive in the order that thread sent them.
    let mut last: HashMap<(bool, usize), usize> = HashMap::new();
    while pubs.len() + privs.len() < 2 * THREADS * EACH {
        let (is_priv, text) = match ev(&rx) {
            Event::Public { from, text, .. } if from == "tx" => (false, text),
            Event::Private { from, text, .. } if from == "tx" => (true, text),
            other => panic!("{other:?}"),
        };
        let mut words = text.split(' ').skip(1).map(|w| w.parse::<usize>().unwrap());
        let (t, i) = (words.next().unwrap(), words.next().unwrap());
        if let Some(prev) = last.insert((is_priv, t), i) {
            assert!(prev < i, "{text} after {prev}");
        }
        let fresh = if is_priv {
            privs.insert(text.clone())
        } else {
            pubs.insert(text.clone())
        };
        assert!(fresh, "duplicate {text}");
    }
    assert_eq!(pubs.len(), THREADS * EACH);
    assert_eq!(privs.len(), THREADS * EACH);
    assert_quiet(&rx);
    // The bystander got every public message and no private one.
    for _ in 0..THREADS * EACH {
        assert!(matches!(ev(&other), Event::Public { .. }));
    }
    assert_quiet(&other);
}

#[test]
fn two_hundred_clients_lose_and_duplicate_nothing() {
    const N: usize = 200;
    const WORKERS: usize = 8;
    let s = server();
    let clients: Vec<Arc<Client>> = (0..N)
        .map(|i| Arc::new(join(&s, &format!("u{i:03}"))))
        .collect();
    assert_eq!(s.user_count(), N);
    // Everyone sends one public message and one private message to the next.
    let clients = Arc::new(clients);
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let clients = Arc::clone(&clients);
            std::thread::spawn(move || {
                for i in (w..N).step_by(WORKERS) {
                    let c = &clients[i];
                    c.send(None, &format!("hello from {i}")).unwrap();
                    let to = format!("u{:03}", (i + 1) % N);
                    c.send(Some(&to), &format!("psst {i}")).unwrap();
                    c.ping().unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    // Every sender's lines are processed (its PONG came); each receiver now
    // collects what it must get, and a final ping shows nothing more.
    let receivers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let clients = Arc::clone(&clients);
            std::thread::spawn(move || {
                for i in (w..N).step_by(WORKERS) {
                    let c = &clients[i];
                    let mut pubs = HashSet::new();
                    let mut privs = Vec::new();
                    let mut joins = HashSet::new();
                    while pubs.len() < N - 1 || privs.is_empty() {
                        match ev(c) {
                            Event::Public { from, text, .. } => {
                                assert_eq!(
                                    text,
                                    format!("hello from {}", &from[1..].parse::<usize>().unwrap())
                                );
                                assert!(pubs.insert(from.clone()), "{i}: twice from {from}");
                                assert_ne!(from, c.nick());
                            }
                            Event::Private { from, text, .. } => {
                                let j = (i + N - 1) % N;
                                assert_eq!(from, format!("u{j:03}"));
                                assert_eq!(text, format!("psst {j}"));
                                privs.push(text);
                            }
                            Event::Joined { nick } => assert!(joins.insert(nick)),
                            other => panic!("{i}: {other:?}"),
                        }
                    }
                    assert_eq!(privs.len(), 1);
                    // Only later arrivals are announced, each once.
                    assert_eq!(joins.len(), N - 1 - i);
                    assert_quiet(c);
                }
            })
        })
        .collect();
    for r in receivers {
        r.join().unwrap();
    }
    for c in clients.iter() {
        c.disconnect().unwrap();
    }
}

#[test]
fn a_client_that_never_pulls_does_not_block_the_others() {
    let s = Server::start(
        "127.0.0.1",
        0,
        ServerConfig {
            max_queue_bytes: 64 * 1024,
            // The talker floods on purpose; the flood limit is tested in hostile_input.rs.
            flood_lines_per_sec: 0,
            ..ServerConfig::default()
        },
    )
    .unwrap();
    let slow = Client::connect_with(
        "127.0.0.1",
        s.port(),
        "slow",
        ClientConfig {
            event_queue_capacity: 4,
            // Dropped as a slow consumer, it would come back.
            reconnect: false,
            ..ClientConfig::default()
        },
    )
    .unwrap();
    let fast = Arc::new(join(&s, "fast"));
    let talker = join(&s, "talker");
    assert_eq!(ev(&fast), joined("talker"));

    // The fast reader pulls on its own thread until told how many to expect,
    // publishing how many it has so far.
    let (total_tx, total_rx) = mpsc::channel::<usize>();
    let progress = Arc::new(AtomicUsize::new(0));
    let reader = {
        let fast = Arc::clone(&fast);
        let progress = Arc::clone(&progress);
        std::thread::spawn(move || {
            let mut got = 0usize;
            let mut saw_left = false;
            let mut total = None;
            loop {
                if total.is_none() {
                    total = total_rx.try_recv().ok();
                }
                if total == Some(got) && saw_left {
                    return got;
                }
                match fast.next_event(Duration::from_millis(100)) {
                    Ok(Event::Public { from, text, .. }) => {
                        assert_eq!(from, "talker");
                        assert!(text.starts_with(&format!("{got:06} ")), "{text}");
                        got += 1;
                        progress.store(got, Ordering::Release);
                    }
                    Ok(Event::Left { nick }) => {
                        assert_eq!(nick, "slow");
                        saw_left = true;
                    }
                    Ok(other) => panic!("{other:?}"),
                    Err(e) => assert_eq!(e.code(), ErrorCode::Timeout),
                }
            }
        })
    };

    // Talk until the server drops the slow consumer (bounded: 256 MiB), at
    // the pace of the fast reader: at most BATCH messages (15 KB) ahead of
    // what it has pulled, so that the fast client, which reads everything,
    // never has the 64 KiB limit's worth waiting for it however late its
    // threads are scheduled on a busy machine. The slow client pulls
    // nothing, so its backlog still grows until it is dropped.
    const BATCH: usize = 5;
    let filler = "x".repeat(3000);
    let mut sent = 0usize;
    while s.users().iter().any(|n| n == "slow") {
        assert!(sent < 90_000, "the slow consumer was never dropped");
        for _ in 0..BATCH {
            talker.send(None, &format!("{sent:06} {filler}")).unwrap();
            sent += 1;
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while progress.load(Ordering::Acquire) + BATCH < sent {
            assert!(
                Instant::now() < deadline,
                "the fast reader stopped at {progress:?}"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        talker.ping().unwrap();
    }
    total_tx.send(sent).unwrap();
    assert_eq!(reader.join().unwrap(), sent);
    assert!(talker.is_connected());
    assert!(fast.is_connected());

    // The slow client, pulling at last, gets a prefix of the messages in
    // order, then Disconnected with 03.
    let mut got = 0usize;
    loop {
        match ev(&slow) {
            Event::Joined { .. } => {}
            Event::Public { text, .. } => {
                assert!(text.starts_with(&format!("{got:06} ")), "{got}");
                got += 1;
            }
            Event::Disconnected { code, .. } => {
                assert_eq!(code, ErrorCode::ConnectionAborted);
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(got < sent);
    assert!(!slow.is_connected());
    assert_eq!(
        slow.ping().unwrap_err().code(),
        ErrorCode::ConnectionAborted
    );
}

#[test]
fn wakeup_with_a_real_server() {
    let s = server();
    let ana = Arc::new(join(&s, "ana"));
    let bob = join(&s, "bob");
    assert_eq!(ev(&ana), joined("bob"));
    // The reader thread queues an event, then calls the wake-up function:
    // `Joined` may already be pulled while its call is still to come, and
    // would then reach the function installed below (a hint, documented).
    // Answering the ping means the reader thread is past that call.
    ana.ping().unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let me = Mutex::new(Some(Arc::clone(&ana)));
    {
        let calls = Arc::clone(&calls);
        ana.set_wakeup(Some(Arc::new(move || {
            let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
            if n == 3 {
                // The third event: leave from inside the wake-up function.
                if let Some(me) = me.lock().unwrap().take() {
                    me.disconnect().unwrap();
                }
            }
            let _ = tx.lock().unwrap().send(n);
        })));
    }
    for i in 0..3 {
        bob.send(None, &format!("m{i}")).unwrap();
    }
    for want in 1..=3 {
        assert_eq!(rx.recv_timeout(WAIT).unwrap(), want);
    }
    // bob sees ana leave; ana's disconnect from the callback did not hang.
    assert_eq!(ev(&bob), left("ana"));
    ana.disconnect().unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    for i in 0..3 {
        assert_eq!(ev(&ana), public("bob", &format!("m{i}")));
    }
    match ev(&ana) {
        Event::Disconnected { code, .. } => assert_eq!(code, ErrorCode::Closed),
        other => panic!("{other:?}"),
    }
    assert_eq!(ana.next_event(WAIT).unwrap_err().code(), ErrorCode::Closed);
    // More traffic reaches nobody's wake-up function.
    bob.send(None, "anyone?").unwrap();
    bob.ping().unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[test]
fn server_limits_are_respected() {
    let s = Server::start(
        "127.0.0.1",
        0,
        ServerConfig {
            max_line_bytes: 64,
            max_nick_chars: 6,
            max_clients: 2,
            ..ServerConfig::default()
        },
    )
    .unwrap();
    let ana = join(&s, "ana");
    let bob = join(&s, "bob");
    assert_eq!(ana.max_line_bytes(), 64);
    assert_eq!(ana.max_nick_chars(), 6);
    assert_eq!(ev(&ana), joined("bob"));
    // ":" + 63 bytes is exactly the limit; one more byte is 07, locally.
    ana.send(None, &"a".repeat(63)).unwrap();
    assert_eq!(ev(&bob), public("ana", &"a".repeat(63)));
    assert_eq!(
        ana.send(None, &"a".repeat(64)).unwrap_err().code(),
        ErrorCode::TooLong
    );
    ana.send(Some("bob"), &"b".repeat(60)).unwrap();
    assert_eq!(ev(&bob), private("ana", &"b".repeat(60)));
    assert_eq!(
        ana.send(Some("bob"), &"b".repeat(61)).unwrap_err().code(),
        ErrorCode::TooLong
    );
    assert_eq!(
        ana.change_nick("seven77").unwrap_err().code(),
        ErrorCode::InvalidNick
    );
    ana.change_nick("six666").unwrap();
    assert_eq!(ev(&bob), renamed("ana", "six666"));
    // A third connection is over max_clients: 12.
    let e = Client::connect("127.0.0.1", s.port(), "carla").unwrap_err();
    assert_eq!(e.code(), ErrorCode::ServerFull);
    assert_quiet(&bob);
}

/// One address parser for the server and the client (`papo::net` inside):
/// host names and IPv6 in brackets work on both sides, garbage is 05.
#[test]
fn host_names_and_bracketed_ipv6_for_server_and_client() {
    let s = Server::start("localhost", 0, ServerConfig::default()).unwrap();
    assert!(s.local_addr().ip().is_loopback(), "{}", s.local_addr());
    let ana = Client::connect("localhost", s.port(), "ana").unwrap();
    let bob = Client::connect("", s.port(), "bob").unwrap();
    assert_eq!(ev(&ana), joined("bob"));
    bob.send(Some("ana"), "oi pelo nome").unwrap();
    assert_eq!(ev(&ana), private("bob", "oi pelo nome"));
    for bad in ["999.1.1.1", "1.2.3.4:80", "não é ip"] {
        let e = Server::start(bad, 0, ServerConfig::default()).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidAddress, "{bad}: {e}");
        let e = Client::connect(bad, s.port(), "zeca").unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidAddress, "{bad}: {e}");
    }
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        println!("SKIPPED IPv6 part: this machine has no IPv6 loopback (::1)");
        return;
    }
    for server_ip in ["[::1]", "::1"] {
        let s6 = Server::start(server_ip, 0, ServerConfig::default()).unwrap();
        assert_eq!(s6.local_addr().ip().to_string(), "::1", "{server_ip}");
        let a = Client::connect("[::1]", s6.port(), "seis").unwrap();
        let b = Client::connect("::1", s6.port(), "sete").unwrap();
        assert_eq!(a.users().unwrap(), ["seis", "sete"]);
        b.send(None, "olá v6").unwrap();
        assert_eq!(ev(&a), joined("sete"));
        assert_eq!(ev(&a), public("sete", "olá v6"));
    }
}

/// The wake-up rule (`Client::set_wakeup`): inside any client's wake-up
/// function, whatever would wait is 17 and does nothing; public messages,
/// `set_wakeup`, the getters and the client's own `disconnect` are allowed,
/// and dropping another client there does not hang.
#[test]
fn inside_a_wakeup_function_nothing_waits() {
    let s = server();
    let port = s.port();
    let ana = Arc::new(join(&s, "ana"));
    let bob = Arc::new(join(&s, "bob"));
    let carla = join(&s, "carla");
    assert_eq!(ev(&ana), joined("bob"));
    assert_eq!(ev(&ana), joined("carla"));
    assert_eq!(ev(&bob), joined("carla"));
    ana.ping().unwrap(); // the reader thread is past the calls for the joins
    assert!(!papo::client::in_wakeup());
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), b"conteudo").unwrap();
    let path = file.path().to_owned();

    let (tx, rx) = mpsc::channel::<Vec<(&'static str, Option<ErrorCode>)>>();
    let (later_tx, later_rx) = mpsc::channel::<()>();
    let later_tx = Mutex::new(later_tx);
    let first = Mutex::new(Some((
        tx,
        Arc::clone(&ana),
        Arc::clone(&bob),
        carla,
        later_tx,
    )));
    ana.set_wakeup(Some(Arc::new(move || {
        let Some((tx, me, other, carla, later_tx)) = first.lock().unwrap().take() else {
            return;
        };
        let code = |r: papo::Result<()>| r.err().map(|e| e.code());
        let mut got = vec![
            (
                "in_wakeup",
                (!papo::client::in_wakeup()).then_some(ErrorCode::Panic),
            ),
            (
                "connect",
                code(Client::connect("127.0.0.1", port, "zeca").map(drop)),
            ),
            ("private send", code(me.send(Some("bob"), "x"))),
            ("users", code(me.users().map(drop))),
            ("change_nick", code(me.change_nick("ana2"))),
            ("ping", code(me.ping())),
            ("send_bytes", code(me.send_bytes(None, b"x"))),
            ("send_file", code(me.send_file(None, &path).map(drop))),
            (
                "next_event 0",
                code(me.next_event(Duration::ZERO).map(drop)),
            ),
            (
                "next_event 1s",
                code(me.next_event(Duration::from_secs(1)).map(drop)),
            ),
            ("other's ping", code(other.ping())),
            ("other's disconnect", code(other.disconnect())),
            ("public send", code(me.send(None, "pública de dentro"))),
        ];
        got.push((
            "getters",
            (me.nick() != "ana" || !me.is_connected() || !other.is_connected())
                .then_some(ErrorCode::Panic),
        ));
        me.set_download_dir(Some(std::env::temp_dir()));
        got.push((
            "download dir",
            (me.download_dir() != std::env::temp_dir()).then_some(ErrorCode::Panic),
        ));
        // Dropping another client here closes it without waiting.
        drop(carla);
        // Replacing the function from inside it.
        me.set_wakeup(Some(Arc::new(move || {
            let _ = later_tx.lock().unwrap().send(());
        })));
        let _ = tx.send(got);
    })));
    bob.send(None, "acorda").unwrap();
    let got = rx.recv_timeout(WAIT).expect("the wake-up function ran");
    for (what, code) in got {
        let want = match what {
            "in_wakeup" | "public send" | "getters" | "download dir" => None,
            _ => Some(ErrorCode::InvalidArgument),
        };
        assert_eq!(code, want, "{what}");
    }
    assert!(!papo::client::in_wakeup());
    // Nothing refused was done: bob got no private message, no bytes and no
    // file offer, is still connected, and ana kept her name; the public
    // message went out; carla left.
    assert_eq!(ev(&bob), public("ana", "pública de dentro"));
    assert_eq!(ev(&bob), left("carla"));
    assert_quiet(&bob);
    assert_eq!(ana.nick(), "ana");
    // The replacement function is called for the next event.
    assert_eq!(ev(&ana), public("bob", "acorda"));
    assert_eq!(ev(&ana), left("carla"));
    later_rx
        .recv_timeout(WAIT)
        .expect("the new wake-up function ran");
    // Outside, everything works again.
    ana.send(Some("bob"), "de fora").unwrap();
    assert_eq!(ev(&bob), private("ana", "de fora"));
    assert_eq!(ana.users().unwrap(), ["ana", "bob"]);
    ana.set_wakeup(None);
    bob.disconnect().unwrap();
    assert_eq!(ev(&ana), left("bob"));
}
