//! The server under load, over real loopback sockets: many clients at once,
//! a slow consumer, races for one nickname, and users coming and going
//! while others watch.

mod common_server;

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use common_server::{eventually, start, wait_event, Raw, WAIT};
use papo::{ErrorCode, ServerConfig, ServerEvent};

/// 200 clients on 4 I/O threads exchange public and private messages:
/// every delivery is counted; none is lost, none duplicated, and each
/// sender's order is kept.
#[test]
fn two_hundred_clients_lose_nothing() {
    const N: usize = 200;
    const M: usize = 5; // public messages per client
    const P: usize = 5; // private messages per client
    let server = start(ServerConfig {
        io_threads: 4,
        ..ServerConfig::default()
    });
    let addr = server.local_addr();
    let registered = Arc::new(Barrier::new(N));
    let received_all = Arc::new(Barrier::new(N));
    let synced = Arc::new(Barrier::new(N));
    let mut handles = Vec::new();
    for i in 0..N {
        let registered = Arc::clone(&registered);
        let received_all = Arc::clone(&received_all);
        let synced = Arc::clone(&synced);
        let h = thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || {
                let me = format!("u{i}");
                let (mut c, _users) = Raw::join(addr, &me);
                registered.wait();
                // Everyone is online now: send everything in one write.
                let mut batch = String::new();
                for k in 0..M.max(P) {
                    if k < M {
                        batch.push_str(&format!(":{i} {k}\n"));
                    }
                    if k < P {
                        let to = (i + k + 1) % N;
                        batch.push_str(&format!("u{to}:{i} {k}\n"));
                    }
                }
                c.send_raw(batch.as_bytes());
                let mut next_public: HashMap<usize, usize> = HashMap::new();
                let mut privates = BTreeSet::new();
                let mut sent = 0;
                let mut publics = 0;
                while publics < (N - 1) * M || privates.len() < P || sent < P {
                    let l = c.line();
                    if l.starts_with("JOIN ") {
                        continue;
                    }
                    if let Some(rest) = l.strip_prefix("PUBLIC ") {
                        let (from, text) = rest.split_once(" :").expect("PUBLIC line");
                        let (s, k) = text.split_once(' ').expect("i k");
                        let s: usize = s.parse().expect("sender");
                        let k: usize = k.parse().expect("k");
                        assert_eq!(from, format!("u{s}"));
                        assert_ne!(s, i, "own public message echoed");
                        let want = next_public.entry(s).or_insert(0);
                        assert_eq!(
                            k, *want,
                            "{me}: public from u{s} out of order or duplicated"
                        );
                        *want += 1;
                        publics += 1;
                    } else if let Some(rest) = l.strip_prefix("PRIVATE ") {
                        let (from, text) = rest.split_once(" :").expect("PRIVATE line");
                        let (s, k) = text.split_once(' ').expect("i k");
                        let s: usize = s.parse().expect("sender");
                        let k: usize = k.parse().expect("k");
                        assert_eq!(from, format!("u{s}"));
                        assert_eq!((s + k + 1) % N, i, "{me}: private for someone else");
                        assert!(privates.insert(s), "{me}: private from u{s} twice");
                    } else if l.starts_with("SENT ") {
                        sent += 1;
                    } else {
                        panic!("{me}: unexpected {l:?}");
                    }
                    assert!(publics <= (N - 1) * M && sent <= P);
                }
                assert!(next_public.values().all(|k| *k == M));
                received_all.wait();
                // Nothing more (no duplicates) before our PONG.
                let extra: Vec<String> = c
                    .sync()
                    .into_iter()
                    .filter(|l| !l.starts_with("JOIN "))
                    .collect();
                assert!(extra.is_empty(), "{me}: extra lines {extra:?}");
                synced.wait();
                c.send("quit");
                let rest = c.read_to_end();
                assert!(
                    rest.iter().all(|l| l.starts_with("LEFT ")),
                    "{me}: {rest:?}"
                );
                publics
            })
            .expect("spawn");
        handles.push(h);
    }
    let mut total = 0;
    for h in handles {
        total += h.join().expect("client thread");
    }
    assert_eq!(total, N * (N - 1) * M);
    eventually("everyone gone", || {
        server.connection_count() == 0 && server.user_count() == 0
    });
    let stats = server.stats();
    assert_eq!(stats.accepted, N as u64);
    // nick + M + P + ping + quit per client
    assert_eq!(stats.lines_received, (N * (1 + M + P + 2)) as u64);
}

fn set_rcvbuf(stream: &std::net::TcpStream, bytes: libc::c_int) {
    use std::os::fd::AsRawFd;
    // SAFETY: setsockopt on a descriptor we own, with a pointer to a local.
    let r = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            &bytes as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0, "setsockopt SO_RCVBUF");
}

/// A client that never reads is dropped as a slow consumer (03) while the
/// others keep receiving every message.
#[test]
fn slow_consumer_is_dropped_and_nobody_waits() {
    let server = start(ServerConfig {
        max_queue_bytes: 64 * 1024,
        io_threads: 2,
        // The sender floods on purpose; the flood limit is tested in hostile_input.rs.
        flood_lines_per_sec: 0,
        ..ServerConfig::default()
    });
    let addr = server.local_addr();
    let (mut slow, _) = Raw::join(addr, "slow");
    set_rcvbuf(&slow.stream, 4096);
    let (mut fast, _) = Raw::join(addr, "fast");
    let (mut sender, _) = Raw::join(addr, "sender");
    fast.sync();
    sender.sync();

    // How far the fast reader has read: the sender sends a batch only once
    // it has read everything before, so that on a loaded machine the fast reader is never
    // the one over the limit.
    let read = Arc::new(AtomicUsize::new(0));
    let progress = Arc::clone(&read);
    let reader = thread::spawn(move || {
        let mut count = 0usize;
        let mut saw_left = false;
        loop {
            progress.store(count, Ordering::Release);
            let l = fast.line();
            if l == "PUBLIC sender :end" {
                return (count, saw_left, fast);
            }
            if l.starts_with("LEFT slow ") {
                saw_left = true;
                continue;
            }
            let Some(text) = l.strip_prefix("PUBLIC sender :") else {
                panic!("fast got {:?}", l.get(..l.len().min(200)));
            };
            let k: usize = text
                .split(' ')
                .next()
                .and_then(|k| k.parse().ok())
                .expect("number");
            assert_eq!(k, count, "lost or reordered");
            count += 1;
        }
    });

    let filler = "x".repeat(1000);
    let mut k = 0usize;
    let mut dropped = None;
    // At most 64 MiB; the slow consumer goes long before.
    for _round in 0..2048 {
        let deadline = std::time::Instant::now() + WAIT;
        while read.load(Ordering::Acquire) < k {
            assert!(
                std::time::Instant::now() < deadline,
                "the fast reader stopped"
            );
            thread::sleep(Duration::from_millis(1));
        }
        let mut batch = String::new();
        for _ in 0..32 {
            batch.push_str(&format!(":{k} {filler}\n"));
            k += 1;
        }
        sender.send_raw(batch.as_bytes());
        let seen = sender.sync();
        assert!(seen.iter().all(|l| l.starts_with("LEFT slow ")), "{seen:?}");
        while let Some(ev) = server.next_event(Duration::ZERO) {
            if matches!(&ev, ServerEvent::Disconnected { nick: Some(n), .. } if n == "slow") {
                dropped = Some(ev);
            }
        }
        if dropped.is_some() {
            break;
        }
    }
    let Some(ServerEvent::Disconnected { code, reason, .. }) = dropped else {
        panic!("the slow consumer was never dropped");
    };
    assert_eq!(code, Some(ErrorCode::ConnectionAborted));
    assert_eq!(reason, "slow consumer");
    // The others go on.
    for _ in 0..10 {
        sender.send(&format!(":{k} after"));
        k += 1;
    }
    sender.send(":end");
    let (count, saw_left, _fast) = reader.join().expect("reader");
    assert_eq!(count, k, "the fast reader got every message");
    assert!(saw_left, "others were told LEFT slow");
    assert_eq!(server.users(), ["fast", "sender"]);
    assert_eq!(server.stats().slow_consumers, 1);
    // The server closed the slow client's connection (it resets it, as
    // what was queued for it could not be written): reading what our
    // kernel still holds ends in end-of-stream or a reset.
    let t = std::time::Instant::now();
    let rest = slow.read_to_end();
    println!(
        "slow client drained {} lines in {:?}; last: {:?}",
        rest.len(),
        t.elapsed(),
        rest.last().map(|l| l.get(..l.len().min(120)))
    );
}

/// Many connections ask for the same nickname at the same instant (in
/// various cases): exactly one wins each time.
#[test]
fn simultaneous_registration_of_one_nick() {
    const K: usize = 12;
    let server = start(ServerConfig {
        io_threads: 3,
        ..ServerConfig::default()
    });
    let addr = server.local_addr();
    let mut winners_kept = Vec::new();
    for round in 0..5 {
        let nick = format!("Same{round}");
        let go = Arc::new(Barrier::new(K));
        let handles: Vec<_> = (0..K)
            .map(|j| {
                let go = Arc::clone(&go);
                let nick = match j % 3 {
                    0 => nick.clone(),
                    1 => nick.to_lowercase(),
                    _ => nick.to_uppercase(),
                };
                thread::spawn(move || {
                    let mut c = Raw::connect_hello(addr);
                    go.wait();
                    c.send(&nick);
                    let l = c.line();
                    let won = if l.starts_with("WELCOME ") {
                        c.expect("USERS ");
                        true
                    } else {
                        assert!(l.starts_with(&format!("ERROR 01 {nick} :")), "{l:?}");
                        false
                    };
                    (won, c)
                })
            })
            .collect();
        let results: Vec<(bool, Raw)> = handles.into_iter().map(|h| h.join().expect("t")).collect();
        let winners = results.iter().filter(|(w, _)| *w).count();
        assert_eq!(winners, 1, "round {round}");
        assert_eq!(server.user_count(), round + 1);
        // Keep the winner online; the losers leave.
        for (won, mut c) in results {
            if won {
                winners_kept.push(c);
            } else {
                c.send("/quit");
                c.expect_eof();
            }
        }
    }
    server.shutdown();
    for mut c in winners_kept {
        let rest = c.read_to_end();
        assert!(
            rest.last().is_some_and(|l| l.starts_with("ERROR 03 ")),
            "{rest:?}"
        );
    }
}

/// Users join, rename and leave on several threads while observers watch:
/// each observer's `USERS` list plus the `JOIN`/`NICK`/`LEFT` lines it gets
/// afterwards add up to the real list, with no duplicate and no gap.
#[test]
fn user_list_and_changes_fit_together_under_churn() {
    let server = start(ServerConfig {
        io_threads: 3,
        ..ServerConfig::default()
    });
    let addr = server.local_addr();
    let start_line = Arc::new(Barrier::new(6 + 1));
    let mut churners = Vec::new();
    for t in 0..6 {
        let go = Arc::clone(&start_line);
        churners.push(thread::spawn(move || {
            go.wait();
            for r in 0..15 {
                let (mut c, _) = Raw::join(addr, &format!("c{t}x{r}"));
                if r % 2 == 0 {
                    c.send(&format!("/nick C{t}y{r}"));
                    // Our NICK comes after any JOIN/LEFT already queued.
                    loop {
                        let l = c.line();
                        if l.starts_with("NICK ") && l.contains(&format!(" C{t}y{r} ")) {
                            break;
                        }
                    }
                }
                if r % 3 == 0 {
                    drop(c); // closed socket
                } else {
                    c.send("quit");
                    let _ = c.read_to_end();
                }
            }
        }));
    }
    let (stay, _) = Raw::join(addr, "stays");
    start_line.wait();
    let mut observers = Vec::new();
    for o in 0..8 {
        thread::sleep(Duration::from_millis(3));
        let (c, users) = Raw::join(addr, &format!("obs{o}"));
        observers.push((c, users.into_iter().collect::<BTreeSet<String>>()));
    }
    for h in churners {
        h.join().expect("churner");
    }
    eventually("churn over", || server.user_count() == 1 + 8);
    let truth: BTreeSet<String> = server.users().into_iter().collect();
    for (c, view) in observers.iter_mut() {
        for l in c.sync() {
            let mut w = l.split(' ');
            match (w.next(), w.next(), w.next()) {
                (Some("JOIN"), Some(n), _) => {
                    assert!(view.insert(n.to_string()), "{}: JOIN {n} twice", c.label)
                }
                (Some("LEFT"), Some(n), _) => {
                    assert!(view.remove(n), "{}: LEFT {n} not in list", c.label)
                }
                (Some("NICK"), Some(old), Some(new)) => {
                    assert!(view.remove(old), "{}: NICK of unknown {old}", c.label);
                    assert!(
                        view.insert(new.to_string()),
                        "{}: NICK to present {new}",
                        c.label
                    );
                }
                _ => panic!("{}: unexpected {l:?}", c.label),
            }
        }
        assert_eq!(*view, truth, "{}", c.label);
    }
    drop(stay);
    let _ = wait_event(
        &server,
        "stays left",
        |e| matches!(e, ServerEvent::Disconnected { nick: Some(n), .. } if n == "stays"),
    );
}
