//! Hostile and broken input (issue 6, first section), over real loopback
//! sockets with the server's limits shrunk and its timers on a manual clock
//! (`papo::server::Clock::manual`), so that a 30-second timeout is tested
//! without waiting for it.
//!
//! Already proven elsewhere, not repeated here:
//! - 1 MiB with no newline gets `ERROR 07` and a disconnect, others keep
//!   chatting: `server_raw::bad_input_gets_errors_and_the_server_keeps_serving`
//!   (memory: `hostile_resources.rs`);
//! - a line exactly at the limit works, one byte over gets `ERROR 07` and
//!   the connection stays usable: the same test;
//! - two connections registering one nickname at the same instant:
//!   `server_load::simultaneous_registration_of_one_nick`;
//! - more than `max_clients_per_ip`: `server_raw::max_clients_per_ip`;
//! - no CPU spin on hostile connections: `hostile_resources.rs`.

mod common_proc;
mod common_server;

use std::io::Write;
use std::time::Duration;

use common_proc::random_bytes;
use common_server::{eventually, start, wait_event, Raw};
use papo::server::Clock;
use papo::{Client, ErrorCode, Event, ServerConfig, ServerEvent};

/// A config on a manual clock, one I/O thread unless said otherwise.
fn manual(io_threads: usize) -> (ServerConfig, Clock) {
    let clock = Clock::manual();
    (
        ServerConfig {
            io_threads,
            clock: clock.clone(),
            ..ServerConfig::default()
        },
        clock,
    )
}

fn is_left(l: &str, nick: &str) -> bool {
    l.starts_with(&format!("LEFT {nick} :"))
}

/// A connection that never sends a nickname is closed after the
/// registration timeout (`ERROR 11`), and not a moment before; the active
/// count returns to what it was; registered clients are not touched.
#[test]
fn registration_timeout_on_a_manual_clock() {
    let (cfg, clock) = manual(1);
    let server = start(ServerConfig {
        registration_timeout: Duration::from_secs(30),
        ..cfg
    });
    let addr = server.local_addr();
    let (mut ana, _) = Raw::join(addr, "ana");
    let before = server.connection_count();
    assert_eq!(before, 1);
    let mut silent = Raw::connect_hello(addr);
    let mut half = Raw::connect_hello(addr);
    half.send_raw(b"ha"); // half a nickname does not stop the clock
    let mut late = Raw::connect_hello(addr);
    eventually("three waiting", || server.connection_count() == before + 3);

    // 29 s: nothing fires. The PONG proves the I/O thread has swept at
    // 29 s (the clock woke it before the /ping was sent); `late` then
    // registers, which it could not if it had been timed out.
    clock.advance(Duration::from_secs(29));
    ana.sync_quiet();
    late.send("late");
    late.expect("WELCOME late ");
    late.expect("USERS 2 ");

    // 30 s: the two that never finished a nickname are closed.
    clock.advance(Duration::from_secs(1));
    for c in [&mut silent, &mut half] {
        let l = c.line();
        assert!(l.starts_with("ERROR 11 * :Tempo esgotado"), "{l:?}");
        assert!(l.contains("no nickname within 30000 ms"), "{l:?}");
        c.expect_eof();
    }
    for _ in 0..2 {
        let ev = wait_event(&server, "timeout", |e| {
            matches!(
                e,
                ServerEvent::Disconnected {
                    code: Some(ErrorCode::Timeout),
                    ..
                }
            )
        });
        assert!(
            matches!(&ev, ServerEvent::Disconnected { nick: None, reason, .. } if reason == "registration timeout"),
            "{ev:?}"
        );
    }
    eventually("count back", || server.connection_count() == before + 1);
    assert!(ana.line().starts_with("JOIN late "));
    ana.sync_quiet();
    late.sync_quiet();
    assert_eq!(server.users(), ["ana", "late"]);
}

/// Keepalive: a registered client silent for `keepalive_interval` gets
/// `PING :keepalive`; one that answers with anything (here an empty line;
/// `papo::Client` answers `/pong` by itself) stays; one that stays silent
/// for `keepalive_timeout` more is dropped with `ERROR 11`, everyone is
/// told `LEFT`, and its name is free at once.
#[test]
fn keepalive_probes_then_drops_idle_peers() {
    let (cfg, clock) = manual(1);
    let server = start(ServerConfig {
        keepalive_interval: Duration::from_secs(60),
        keepalive_timeout: Duration::from_secs(20),
        ..cfg
    });
    let addr = server.local_addr();
    let (mut ana, _) = Raw::join(addr, "ana");
    let (mut bob, _) = Raw::join(addr, "bob");
    let carl = Client::connect("127.0.0.1", server.port(), "carl").expect("carl");
    let dan = Client::connect("127.0.0.1", server.port(), "dan").expect("dan");
    assert!(ana.line().starts_with("JOIN bob "));
    assert!(ana.line().starts_with("JOIN carl "));
    assert!(ana.line().starts_with("JOIN dan "));
    for _ in 0..2 {
        assert!(bob.line().starts_with("JOIN "));
    }
    ana.sync_quiet();
    bob.sync_quiet();
    carl.ping().expect("carl ping");
    // Half the interval: dan talks (its PONG also proves the sweep at 30 s
    // has run), the others are silent.
    clock.advance(Duration::from_secs(30));
    dan.ping().expect("dan ping");
    let lines_before = server.stats().lines_received;

    // 60 s: ana, bob and carl are probed, once; dan is not (it spoke at 30).
    clock.advance(Duration::from_secs(30));
    assert_eq!(ana.line(), "PING :keepalive");
    assert_eq!(bob.line(), "PING :keepalive");
    ana.send(""); // any line answers
    assert!(ana.sync().is_empty(), "a second probe");
    // carl's library answered `/pong keepalive` on its own.
    eventually("ana and carl answered", || {
        server.stats().lines_received >= lines_before + 3
    });

    // 80 s: bob, silent since the probe, is dropped; the others are not.
    clock.advance(Duration::from_secs(20));
    let l = bob.line();
    assert!(l.starts_with("ERROR 11 * :"), "{l:?}");
    assert!(l.contains("keepalive"), "{l:?}");
    bob.expect_eof();
    let ev = wait_event(
        &server,
        "bob dropped",
        |e| matches!(e, ServerEvent::Disconnected { nick: Some(n), .. } if n == "bob"),
    );
    assert!(
        matches!(&ev, ServerEvent::Disconnected { code: Some(ErrorCode::Timeout), reason, .. } if reason == "keepalive timeout"),
        "{ev:?}"
    );
    assert!(is_left(&ana.line(), "bob"));
    ana.sync_quiet();
    carl.ping().expect("carl still connected");
    loop {
        match carl.next_event(common_server::WAIT).expect("carl event") {
            Event::Left { nick } if nick == "bob" => break,
            Event::Joined { .. } => {}
            other => panic!("carl: {other:?}"),
        }
    }
    // The name is free at once.
    let (mut bob2, users) = Raw::join(addr, "bob");
    assert_eq!(users, ["ana", "bob", "carl", "dan"]);
    assert!(ana.line().starts_with("JOIN bob "));
    ana.sync_quiet();
    bob2.sync_quiet();
    carl.ping().expect("carl ping");

    // Everyone silent for two more intervals: each is probed once per
    // interval, and each answer keeps it (4 answers + 2 syncs a round).
    for round in 0..2 {
        let before = server.stats().lines_received;
        clock.advance(Duration::from_secs(60));
        for c in [&mut ana, &mut bob2] {
            assert_eq!(c.line(), "PING :keepalive", "round {round}");
            c.send("/pong keepalive");
            c.sync_quiet();
        }
        eventually("all answered", || {
            server.stats().lines_received >= before + 6
        });
    }
    assert!(carl.is_connected() && dan.is_connected());
    assert_eq!(server.users(), ["ana", "bob", "carl", "dan"]);
    carl.disconnect().expect("carl leaves");
    dan.disconnect().expect("dan leaves");
}

/// Flood limit: with the clock standing still, a client may send exactly
/// `flood_burst_lines` lines; the next is flooding: `ERROR 03`, closed,
/// `LEFT` to the others, which received exactly the burst. The others'
/// latency stays bounded: a `/ping` sent in the middle of a flood has at
/// most the burst ahead of it. After a second, `flood_lines_per_sec` more
/// lines are allowed, no more.
#[test]
fn a_flooding_client_is_disconnected_and_others_flow() {
    const BURST: u32 = 20;
    const RATE: u32 = 10;
    let (cfg, clock) = manual(2);
    let server = start(ServerConfig {
        flood_burst_lines: BURST,
        flood_lines_per_sec: RATE,
        ..cfg
    });
    let addr = server.local_addr();
    let (mut ana, _) = Raw::join(addr, "ana");
    let (mut flood, _) = Raw::join(addr, "flood");
    assert!(ana.line().starts_with("JOIN flood "));
    ana.sync_quiet();

    // The flooder pours 4 MiB of one-word lines from another thread while
    // ana asks for a PONG.
    let mut writer = flood.stream.try_clone().expect("clone");
    let pour = std::thread::spawn(move || {
        let chunk = ":x\n".repeat(21_000);
        for _ in 0..64 {
            if writer.write_all(chunk.as_bytes()).is_err() {
                break; // closed by the server: expected
            }
        }
    });
    ana.send("/ping during");
    let mut publics = 0u32;
    loop {
        let l = ana.line();
        if l == "PONG :during" {
            break;
        }
        if l == "PUBLIC flood :x" {
            publics += 1;
            continue;
        }
        assert!(is_left(&l, "flood"), "{l:?}");
    }
    assert!(publics <= BURST, "{publics} flood lines before ana's PONG");
    let l = flood.line();
    assert!(l.starts_with("ERROR 03 * :Cancelamento"), "{l:?}");
    assert!(l.contains("flooding"), "{l:?}");
    let _ = flood.read_to_end();
    let _ = pour.join();
    let ev = wait_event(
        &server,
        "flood dropped",
        |e| matches!(e, ServerEvent::Disconnected { nick: Some(n), .. } if n == "flood"),
    );
    assert!(
        matches!(&ev, ServerEvent::Disconnected { code: Some(ErrorCode::ConnectionAborted), reason, .. } if reason == "flooding"),
        "{ev:?}"
    );
    // ana received exactly what the flooder was allowed (the burst minus
    // its nickname line), and LEFT.
    let rest = ana.sync();
    let total = publics + rest.iter().filter(|l| *l == "PUBLIC flood :x").count() as u32;
    assert_eq!(total, BURST - 1, "{rest:?}");
    assert!(
        rest.iter()
            .all(|l| l == "PUBLIC flood :x" || is_left(l, "flood")),
        "{rest:?}"
    );

    // The rate, exactly: `bob` uses its whole burst (nickname, 18 lines,
    // /ping), then one more second's worth after the clock moves.
    let (mut bob, _) = Raw::join(addr, "bob");
    let mut batch = String::new();
    for k in 0..(BURST - 2) {
        batch.push_str(&format!(":b{k}\n"));
    }
    bob.send_raw(batch.as_bytes());
    bob.sync_quiet(); // the 20th line
    clock.advance(Duration::from_secs(1));
    let mut batch = String::new();
    for k in 0..(RATE - 1) {
        batch.push_str(&format!(":c{k}\n"));
    }
    bob.send_raw(batch.as_bytes());
    bob.sync_quiet(); // the 10th line of this second
    bob.send(":one too many");
    assert!(bob.line().contains("flooding"));
    bob.expect_eof();
    let seen = ana.sync();
    let bobs = seen
        .iter()
        .filter(|l| l.starts_with("PUBLIC bob :"))
        .count();
    assert_eq!(bobs as u32, (BURST - 2) + (RATE - 1), "{seen:?}");
    assert!(seen.iter().all(|l| !l.contains("one too many")));
    assert_eq!(server.users(), ["ana"]);
}

/// Every kind of bad nickname is refused with an error and a good one
/// afterwards works; past `max_nick_attempts` refusals the connection is
/// closed.
#[test]
fn bad_nicknames_are_refused_then_a_good_one_works() {
    let (cfg, _clock) = manual(1);
    let server = start(ServerConfig {
        max_nick_chars: 8,
        max_nick_attempts: 10,
        ..cfg
    });
    let addr = server.local_addr();
    let (_ana, _) = Raw::join(addr, "ana");
    let mut c = Raw::connect_hello(addr);
    let bad: [(&[u8], &str); 9] = [
        (b"", "ERROR 06 * :"),          // empty
        (b"abcdefghi", "ERROR 06 * :"), // 9 characters, over 8
        (b"a:b", "ERROR 06 * :"),
        (b"a b", "ERROR 06 * :"),
        (b"a/b", "ERROR 06 * :"),
        (b"a\\b", "ERROR 06 * :"),
        (b"a\0b\x1b", "ERROR 06 * :"), // NUL and ESC
        (b"\xc3\x28", "ERROR 08 * :"), // invalid UTF-8
        (b"QuIt", "ERROR 06 * :"),     // reserved word
    ];
    for (nick, want) in bad {
        let mut line = nick.to_vec();
        line.push(b'\n');
        c.send_raw(&line);
        let l = c.line();
        assert!(l.starts_with(want), "{nick:?}: {l:?}");
    }
    c.send("ANA"); // taken, case-insensitively: the 10th refusal closes
    let l = c.line();
    assert!(l.starts_with("ERROR 01 ANA :"), "{l:?}");
    assert!(l.contains("10 failed nickname attempts"), "{l:?}");
    c.expect_eof();

    let mut d = Raw::connect_hello(addr);
    for (nick, want) in bad {
        let mut line = nick.to_vec();
        line.push(b'\n');
        d.send_raw(&line);
        assert!(d.line().starts_with(want));
    }
    d.send("boa"); // the 10th line is a good one
    d.expect("WELCOME boa ");
    d.expect("USERS 2 :ana boa");
    assert_eq!(server.users(), ["ana", "boa"]);
}

/// `GET / HTTP/1.1`, a TLS ClientHello and random bytes on the plain port
/// are closed at once (the registration timeout is an hour on a clock that
/// stands still: only the detection can close them). CPU: see
/// `hostile_resources.rs`.
#[test]
fn http_tls_and_random_bytes_are_closed_at_once() {
    let (cfg, _clock) = manual(2);
    let server = start(ServerConfig {
        registration_timeout: Duration::from_secs(3600),
        ..cfg
    });
    let addr = server.local_addr();
    let (mut ana, _) = Raw::join(addr, "ana");

    let mut http = Raw::connect_hello(addr);
    http.send_raw(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: curl/8\r\n\r\n");
    let l = http.line();
    assert!(l.starts_with("ERROR 10 * :"), "{l:?}");
    assert!(l.contains("HTTP request"), "{l:?}");
    assert!(http.read_to_end().is_empty());

    let mut tls = Raw::connect_hello(addr);
    tls.send_raw(&client_hello());
    let l = tls.line();
    assert!(l.starts_with("ERROR 08 * :"), "{l:?}");
    assert!(l.contains("TLS"), "{l:?}");
    assert!(tls.read_to_end().is_empty());

    let mut noise = Raw::connect_hello(addr);
    let bytes = random_bytes(0x9e37_79b9_7f4a_7c15, 64 * 1024);
    let mut w = noise.stream.try_clone().expect("clone");
    let pour = std::thread::spawn(move || {
        let _ = w.write_all(&bytes); // the server may close first
    });
    let rest = noise.read_to_end();
    let _ = pour.join();
    assert!(!rest.is_empty(), "no error line before the close");
    assert!(
        rest.iter().all(|l| l.starts_with("ERROR ")),
        "random bytes registered? {rest:?}"
    );
    eventually("all three gone", || server.connection_count() == 1);
    for _ in 0..3 {
        let ev = wait_event(&server, "hostile dropped", |e| {
            matches!(e, ServerEvent::Disconnected { nick: None, .. })
        });
        assert!(
            matches!(ev, ServerEvent::Disconnected { code: Some(_), .. }),
            "{ev:?}"
        );
    }
    ana.sync_quiet();
}

/// A line sent whole, byte by byte, or split in two at every position
/// (each part read by the server before the next is sent) arrives the same.
#[test]
fn a_line_split_anywhere_arrives_the_same() {
    let (cfg, _clock) = manual(2);
    let server = start(cfg);
    let addr = server.local_addr();
    let (mut ana, _) = Raw::join(addr, "ana");
    let (mut bob, _) = Raw::join(addr, "bob");
    assert!(ana.line().starts_with("JOIN bob "));
    let line = "ana: olá, ação € 𝄞\t!\r\n".as_bytes();
    let want = "PRIVATE bob : olá, ação € 𝄞\t!";

    bob.send_raw(line);
    assert_eq!(ana.line(), want);
    bob.expect("SENT ana ");

    for cut in 1..line.len() {
        let (a, b) = line.split_at(cut);
        send_in_parts(&server, &mut bob, &[a, b]);
        assert_eq!(ana.line(), want, "cut at {cut}");
        bob.expect("SENT ana ");
    }
    let bytes: Vec<&[u8]> = line.chunks(1).collect();
    send_in_parts(&server, &mut bob, &bytes);
    assert_eq!(ana.line(), want, "byte by byte");
    bob.expect("SENT ana ");
    ana.sync_quiet();
}

/// Writes each part once the server has read everything before it, so
/// that the server sees the parts in separate reads.
fn send_in_parts(server: &papo::Server, c: &mut Raw, parts: &[&[u8]]) {
    for p in parts {
        let before = server.stats().bytes_received;
        c.send_raw(p);
        let n = p.len() as u64;
        eventually("part read", || server.stats().bytes_received >= before + n);
    }
}

/// A failed `/nick` keeps the old name working; quitting, closing and a
/// reset each free the name at once (a new client takes it as soon as the
/// `LEFT` is out).
#[test]
fn failed_rename_keeps_the_name_and_leaving_frees_it() {
    let (cfg, _clock) = manual(2);
    let server = start(cfg);
    let addr = server.local_addr();
    let (mut ana, _) = Raw::join(addr, "ana");
    let (mut bob, _) = Raw::join(addr, "bob");
    assert!(ana.line().starts_with("JOIN bob "));

    for (new, want) in [
        ("ANA", "ERROR 01 ANA :"),
        ("a:b", "ERROR 06 * :"),
        ("quit", "ERROR 06 * :"),
        (&"x".repeat(33), "ERROR 06 * :"),
    ] {
        bob.send(&format!("/nick {new}"));
        let l = bob.line();
        assert!(l.starts_with(want), "{new}: {l:?}");
    }
    ana.send("bob:still bob?");
    ana.expect("SENT bob ");
    assert_eq!(bob.line(), "PRIVATE ana :still bob?");
    bob.send("ana:yes");
    assert_eq!(ana.line(), "PRIVATE bob :yes");
    bob.expect("SENT ana ");
    assert_eq!(server.users(), ["ana", "bob"]);

    // quit
    bob.send("quit");
    bob.expect_eof();
    assert!(is_left(&ana.line(), "bob"));
    let (bob, _) = Raw::join(addr, "bob");
    assert!(ana.line().starts_with("JOIN bob "));
    // closed socket
    drop(bob);
    assert!(is_left(&ana.line(), "bob"));
    let (bob, _) = Raw::join(addr, "Bob");
    assert!(ana.line().starts_with("JOIN Bob "));
    // reset
    reset(bob);
    assert!(is_left(&ana.line(), "Bob"));
    let (mut bob, _) = Raw::join(addr, "BOB");
    assert!(ana.line().starts_with("JOIN BOB "));
    // half-closed (writing side shut): still told, still freed
    bob.shutdown_write();
    bob.expect_eof();
    assert!(is_left(&ana.line(), "BOB"));
    let (_bob, users) = Raw::join(addr, "bob");
    assert_eq!(users, ["ana", "bob"]);
}

/// No text with CR, NUL, ESC or any other control character can make a
/// receiver see a line that looks as if someone else sent it: every such
/// attempt is refused (`ERROR 08`/`06`), and everything the observer gets
/// is exactly the honest lines, with no control character but TAB.
#[test]
fn control_characters_never_forge_a_line() {
    let (cfg, _clock) = manual(2);
    let server = start(cfg);
    let addr = server.local_addr();
    let (mut ana, _) = Raw::join(addr, "ana");
    let (mut eve, _) = Raw::join(addr, "eve");
    assert!(ana.line().starts_with("JOIN eve "));
    ana.sync_quiet();

    let forged = "PUBLIC bob :transfer the money";
    let attempts: Vec<Vec<u8>> = [
        format!(":hi\r{forged}"),
        format!(":hi\r\r{forged}"),
        format!("ana:hi\r{forged}"),
        format!(":hi\0{forged}"),
        format!(":hi\x1b[2K\r{forged}"),
        format!(":hi\x1b[1A{forged}"),
        format!(":hi\x0b{forged}"),
        format!(":hi\x0c{forged}"),
        format!(":hi\u{85}{forged}"), // NEL
        format!(":hi\x7f{forged}"),   // DEL
        format!("/nick bob\r{forged}"),
        format!("/ping x\r{forged}"),
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    for a in &attempts {
        let mut line = a.clone();
        line.push(b'\n');
        eve.send_raw(&line);
        let l = eve.line();
        assert!(
            l.starts_with("ERROR 08 * :")
                || l.starts_with("ERROR 06 * :")
                || l.starts_with("ERROR 02 * :")
                || l.starts_with("ERROR 10 * :"),
            "{a:?} -> {l:?}"
        );
    }
    // A CR right before the LF is a line ending (nc -C), not text; TAB is
    // text.
    eve.send_raw(b":ok\r\n");
    eve.send_raw(b":tab\there\n");
    eve.sync_quiet();
    let got = ana.sync();
    assert_eq!(got, ["PUBLIC eve :ok", "PUBLIC eve :tab\there"]);
    assert!(got
        .iter()
        .all(|l| !l.chars().any(|c| c.is_control() && c != '\t')));

    // At the nickname prompt too: a nickname cannot carry a line.
    let mut mallory = Raw::connect_hello(addr);
    mallory.send_raw(b"bob\rPUBLIC bob :hi\n");
    assert!(mallory.line().starts_with("ERROR 06 * :"));
    mallory.send_raw(b"mal\x1b[2K\n");
    assert!(mallory.line().starts_with("ERROR 06 * :"));
    ana.sync_quiet();
    assert_eq!(server.users(), ["ana", "eve"]);
}

/// Closes a client's socket with a reset (SO_LINGER 0).
fn reset(client: Raw) {
    common_proc::set_reset_on_close(&client.stream);
    drop(client); // both descriptors (the reader holds a duplicate)
}

/// A TLS 1.2/1.3 ClientHello record as a browser would send first (the
/// bytes matter only in that the first is 0x16, a handshake record).
fn client_hello() -> Vec<u8> {
    let mut body = vec![0x03, 0x03]; // client_version TLS 1.2
    body.extend(random_bytes(7, 32)); // random
    body.push(0); // session id
    body.extend([0x00, 0x04, 0x13, 0x01, 0xc0, 0x2f]); // cipher suites
    body.extend([0x01, 0x00]); // compression: null
    body.extend([0x00, 0x00]); // no extensions
    let mut hs = vec![0x01, 0x00, 0x00, body.len() as u8];
    hs.extend(body);
    let mut rec = vec![0x16, 0x03, 0x01, 0x00, hs.len() as u8];
    rec.extend(hs);
    rec
}
