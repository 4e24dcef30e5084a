//! File transfers between users of different nodes of a cluster over a
//! real `redis-server` (PROTOCOL.md, "Clusters" and "Files and binary
//! payloads"), spoken by hand over loopback sockets: a private and a
//! public file byte for byte, flow control from a receiver that does not
//! read back to the sender on another node (memory flat on both), and the
//! transfer ending cleanly when its receiver quits, its sender quits, the
//! receiver's node stops, Redis goes away, or Redis drops some of it.

mod common_files;
mod common_redis;

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common_files::{Wire, WAIT};
use common_redis::Redis;
use papo::{Server, ServerConfig};

/// A node of the cluster at `redis`, with a small queue limit so that
/// the flow control's high-water mark is small (64 KiB; pieces of 16 KiB).
fn node(redis: &Redis) -> Server {
    node_with(redis, 128 * 1024)
}

/// A node with `max_queue_bytes` of `max_queue`.
fn node_with(redis: &Redis, max_queue: usize) -> Server {
    let cfg = ServerConfig {
        io_threads: 2,
        cluster: Some(redis.url()),
        cluster_lease: Duration::from_secs(3),
        max_queue_bytes: max_queue,
        ..ServerConfig::default()
    };
    Server::start("127.0.0.1", 0, cfg).expect("a node starts")
}

/// Asks `/list` until `w` sees `want` (sorted), reading past other lines.
fn wait_users(w: &mut Wire, want: &[&str]) {
    let deadline = Instant::now() + WAIT;
    loop {
        w.send("/list");
        let users = loop {
            let l = w.line();
            if let Some(rest) = l.strip_prefix("USERS ") {
                let list = rest.split_once(" :").map(|(_, l)| l).unwrap_or("");
                let mut v: Vec<String> = list
                    .split(' ')
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect();
                v.sort();
                break v;
            }
        };
        if users == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{}: users {users:?}, want {want:?}",
            w.label
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Reads lines until one starts with `prefix`, skipping presence and
/// cluster lines; panics on a frame line (its payload would be misread).
fn until(w: &mut Wire, prefix: &str) -> String {
    loop {
        let l = w.line();
        if l.starts_with(prefix) {
            return l;
        }
        assert!(
            !l.starts_with("CHUNK "),
            "{}: {l:?} before {prefix:?}",
            w.label
        );
    }
}

/// The transfer number in `FILEOK <id> ...`.
fn file_ok(l: &str) -> u64 {
    assert!(l.starts_with("FILEOK "), "{l}");
    l.split(' ')
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("an id")
}

/// Reads a whole file as `w` receives it after its `FILE` line: the bytes
/// of its chunks, until `FILEEND <id>` (`Ok`) or `FILEFAIL <id>` (`Err`
/// with the bytes so far and the line).
fn receive(w: &mut Wire, id: u64) -> Result<Vec<u8>, (Vec<u8>, String)> {
    let mut got = Vec::new();
    loop {
        let l = w.line();
        let words: Vec<&str> = l.split(' ').collect();
        match words.as_slice() {
            ["CHUNK", i, n] if *i == id.to_string() => {
                let n: usize = n.parse().expect("a size");
                got.extend(w.payload(n));
            }
            ["FILEEND", i] if *i == id.to_string() => return Ok(got),
            ["FILEFAIL", i, ..] if *i == id.to_string() => return Err((got, l)),
            _ => assert!(
                l.starts_with("JOIN ") || l.starts_with("LEFT ") || l.starts_with("CLUSTER "),
                "{}: unexpected {l:?}",
                w.label
            ),
        }
    }
}

/// Sends `content` as the chunks of transfer `id`, 64 KiB at a time, then
/// `/fileend`, on its own thread (the server may stop reading it for a
/// while: that is the flow control). Ends quietly if the server closes.
fn send_chunks(w: &Wire, id: u64, content: Vec<u8>) -> std::thread::JoinHandle<()> {
    let mut stream: TcpStream = w.stream.try_clone().expect("clone");
    std::thread::spawn(move || {
        for piece in content.chunks(64 * 1024) {
            let head = format!("/chunk {id} {}\n", piece.len());
            if stream.write_all(head.as_bytes()).is_err() || stream.write_all(piece).is_err() {
                return;
            }
        }
        let _ = stream.write_all(format!("/fileend {id}\n").as_bytes());
    })
}

/// Every byte value, in a pattern that shows a misplaced byte.
fn content(n: usize) -> Vec<u8> {
    (0..n as u32)
        .map(|i| (i.wrapping_mul(7) % 256) as u8)
        .collect()
}

#[test]
fn a_private_and_a_public_file_cross_nodes() {
    let redis = Redis::start();
    let a = node(&redis);
    let b = node(&redis);
    let mut ana = Wire::join(a.local_addr(), "ana");
    let mut dani = Wire::join(a.local_addr(), "dani");
    let mut bob = Wire::join(b.local_addr(), "bob");
    let mut carla = Wire::join(b.local_addr(), "carla");
    for w in [&mut ana, &mut dani, &mut bob, &mut carla] {
        wait_users(w, &["ana", "bob", "carla", "dani"]);
    }

    // Private, ana (node A) to bob (node B): 1 MiB, far over the
    // high-water mark, so it moves only as bob's node reports progress.
    let data = content(1024 * 1024 + 17);
    ana.send(&format!("/file bob {} :relatório final.pdf", data.len()));
    let id = file_ok(&until(&mut ana, "FILEOK "));
    let sender = send_chunks(&ana, id, data.clone());
    let l = until(&mut bob, "FILE ");
    let words: Vec<&str> = l.split(' ').collect();
    assert_eq!(words[1], "ana", "{l}");
    let bob_id: u64 = words[2].parse().expect("an id");
    assert_eq!(
        l,
        format!(
            "FILE ana {bob_id} {} private :relatório final.pdf",
            data.len()
        )
    );
    assert_eq!(receive(&mut bob, bob_id).expect("the whole file"), data);
    let mut last = 0;
    loop {
        let l = ana.line();
        if l.starts_with("FILEDONE ") {
            assert_eq!(l.split(' ').nth(1), Some(&*id.to_string()));
            break;
        }
        let n: u64 = l
            .strip_prefix(&format!("FILEACK {id} "))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("ana: {l:?}"));
        assert!(n > last);
        last = n;
    }
    assert_eq!(last, data.len() as u64);
    sender.join().expect("sender");
    // carla (same node as bob) and dani (same node as ana) got nothing.
    assert!(carla.sync("c").is_empty());
    assert!(dani.sync("d").is_empty());

    // Public, bob (node B) to everyone: carla on B, ana and dani on A.
    let data = content(300_000);
    bob.send(&format!("/file * {} :todos.bin", data.len()));
    let id = file_ok(&until(&mut bob, "FILEOK "));
    let sender = send_chunks(&bob, id, data.clone());
    // All three read at once: the file moves at the pace of the slowest.
    std::thread::scope(|s| {
        for w in [&mut carla, &mut ana, &mut dani] {
            let data = &data;
            s.spawn(move || {
                let l = until(w, "FILE ");
                let rid: u64 = l
                    .split(' ')
                    .nth(2)
                    .and_then(|n| n.parse().ok())
                    .expect("id");
                assert_eq!(l, format!("FILE bob {rid} {} :todos.bin", data.len()));
                assert_eq!(
                    &receive(w, rid).expect("the whole file"),
                    data,
                    "{}",
                    w.label
                );
            });
        }
    });
    until(&mut bob, &format!("FILEDONE {id} "));
    sender.join().expect("sender");
    // The number node A gave it is not taken by A's own next transfer.
    ana.send("/file dani 1 :x");
    let next = file_ok(&until(&mut ana, "FILEOK "));
    ana.send(&format!("/chunk {next} 1"));
    ana.send_raw(b"z");
    ana.send(&format!("/fileend {next}"));
    let l = until(&mut dani, "FILE ");
    assert_eq!(l, format!("FILE ana {next} 1 private :x"));
    assert_eq!(receive(&mut dani, next).expect("file"), b"z");
}

/// Sets the socket's receive buffer: small, so that a receiver that does
/// not read holds little in its kernel; large again to read at speed (a
/// window smaller than loopback's segments makes TCP wait for timers).
fn receive_buffer(s: &TcpStream, size: libc::c_int) {
    use std::os::fd::AsRawFd;
    // SAFETY: setsockopt on a descriptor `s` owns, alive here, reading an
    // int on this stack frame.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            &size as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

#[test]
fn a_remote_receiver_that_does_not_read_holds_the_sender_back() {
    let redis = Redis::start();
    let a = node(&redis);
    let b = node(&redis);
    let mut ana = Wire::join(a.local_addr(), "ana");
    let mut bob = Wire::join(b.local_addr(), "bob");
    receive_buffer(&bob.stream, 16 * 1024);
    wait_users(&mut ana, &["ana", "bob"]);
    wait_users(&mut bob, &["ana", "bob"]);

    let size = 16 * 1024 * 1024usize;
    let data = vec![0x5au8; size];
    ana.send(&format!("/file bob {size} :grande.bin"));
    let id = file_ok(&until(&mut ana, "FILEOK "));
    let sender = send_chunks(&ana, id, data);
    // bob reads nothing for a while. Whatever the timing, with flow control
    // node A reads at most what bob's socket, node B's queue for bob and the
    // two nodes' windows hold: far less than the file.
    std::thread::sleep(Duration::from_millis(1500));
    let mut peak_b = 0;
    for _ in 0..10 {
        peak_b = peak_b.max(b.stats().queued_bytes);
        std::thread::sleep(Duration::from_millis(50));
    }
    let taken = a.stats().bytes_received;
    let queued_a = a.stats().queued_bytes;
    eprintln!(
        "while bob did not read: node A read {} KiB of 16 MiB; queued: A {} KiB, B {} KiB (peak)",
        taken >> 10,
        queued_a >> 10,
        peak_b >> 10
    );
    assert!(taken < 4 * 1024 * 1024, "node A read {taken} bytes");
    assert!(peak_b < 2 * 1024 * 1024, "node B holds {peak_b} bytes");
    assert!(queued_a < 2 * 1024 * 1024, "node A holds {queued_a} bytes");
    // The sender's acknowledgements stopped short of the file (it cannot
    // send a line to ask: its socket is full of chunks the server does not
    // read now).
    let mut acked = 0u64;
    while let Some(l) = ana.try_line(Duration::from_millis(300)) {
        let n = l
            .strip_prefix(&format!("FILEACK {id} "))
            .expect("a FILEACK");
        acked = n.parse().expect("a count");
    }
    eprintln!("the sender was acknowledged {} KiB", acked >> 10);
    assert!(acked < size as u64 / 4, "acknowledged {acked}");

    // bob reads now: the whole file comes, and the sender is done.
    receive_buffer(&bob.stream, 1024 * 1024);
    let l = until(&mut bob, "FILE ");
    let bob_id: u64 = l
        .split(' ')
        .nth(2)
        .and_then(|n| n.parse().ok())
        .expect("id");
    let got = receive(&mut bob, bob_id).expect("the whole file");
    assert_eq!(got.len(), size);
    assert!(got.iter().all(|b| *b == 0x5a));
    until(&mut ana, &format!("FILEDONE {id} "));
    sender.join().expect("sender");
    // Nothing is left queued for the transfer on either node.
    for (name, n) in [("A", &a), ("B", &b)] {
        let deadline = Instant::now() + WAIT;
        while n.stats().queued_bytes > 64 * 1024 {
            assert!(Instant::now() < deadline, "node {name} still holds bytes");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn the_receiver_or_the_sender_quitting_ends_the_transfer() {
    let redis = Redis::start();
    let a = node(&redis);
    let b = node(&redis);
    let mut ana = Wire::join(a.local_addr(), "ana");
    let mut bob = Wire::join(b.local_addr(), "bob");
    let mut carla = Wire::join(b.local_addr(), "carla");
    for w in [&mut ana, &mut bob, &mut carla] {
        wait_users(w, &["ana", "bob", "carla"]);
    }

    // The receiver quits after its first chunk: the sender, still sending,
    // gets FILESTOP.
    let size = 16 * 1024 * 1024;
    ana.send(&format!("/file bob {size} :a.bin"));
    let id = file_ok(&until(&mut ana, "FILEOK "));
    let sender = send_chunks(&ana, id, vec![1u8; size]);
    let l = until(&mut bob, "FILE ");
    let bob_id: u64 = l
        .split(' ')
        .nth(2)
        .and_then(|n| n.parse().ok())
        .expect("id");
    let l = bob.line();
    assert!(l.starts_with(&format!("CHUNK {bob_id} ")), "{l}");
    bob.send("/quit");
    let stop = loop {
        let l = ana.line();
        if l.starts_with("FILEACK ") || l.starts_with("LEFT bob") {
            continue;
        }
        break l;
    };
    assert!(
        stop.starts_with(&format!("FILESTOP {id} ")),
        "ana: {stop:?}"
    );
    sender.join().expect("sender");

    // The sender quits mid-file: its receiver on the other node gets
    // FILEFAIL.
    ana.sync("after");
    ana.send(&format!("/file carla {size} :b.bin"));
    let id = file_ok(&until(&mut ana, "FILEOK "));
    ana.send(&format!("/chunk {id} 1000"));
    ana.send_raw(&[2u8; 1000]);
    until(&mut ana, &format!("FILEACK {id} 1000"));
    let l = until(&mut carla, "FILE ");
    let carla_id: u64 = l
        .split(' ')
        .nth(2)
        .and_then(|n| n.parse().ok())
        .expect("id");
    ana.send("/quit");
    let (got, fail) = receive(&mut carla, carla_id).expect_err("a failed file");
    assert_eq!(got, vec![2u8; 1000]);
    assert!(fail.contains("remetente saiu"), "{fail}");
    until(&mut carla, "LEFT ana");
}

#[test]
fn a_node_stopping_or_redis_going_away_ends_the_transfer() {
    let mut redis = Redis::start();
    let a = node(&redis);
    let b = node(&redis);
    let mut ana = Wire::join(a.local_addr(), "ana");
    let mut bob = Wire::join(b.local_addr(), "bob");
    wait_users(&mut ana, &["ana", "bob"]);
    wait_users(&mut bob, &["ana", "bob"]);

    // Redis goes away while bob (not reading) holds the sender back: within
    // the lease the sender gets FILESTOP (node B's users are gone from
    // node A) and bob FILEFAIL (ana is gone from node B), nobody hangs.
    let size = 64 * 1024 * 1024;
    ana.send(&format!("/file bob {size} :c.bin"));
    let id = file_ok(&until(&mut ana, "FILEOK "));
    let sender = send_chunks(&ana, id, vec![3u8; size]);
    let l = until(&mut bob, "FILE ");
    let bob_id: u64 = l
        .split(' ')
        .nth(2)
        .and_then(|n| n.parse().ok())
        .expect("id");
    until(&mut ana, &format!("FILEACK {id} "));
    redis.stop();
    let stop = loop {
        let l = ana.line();
        if l.starts_with("FILEACK ") || l.starts_with("CLUSTER ") || l.starts_with("LEFT ") {
            continue;
        }
        break l;
    };
    assert!(
        stop.starts_with(&format!("FILESTOP {id} ")),
        "ana: {stop:?}"
    );
    let (_, fail) = receive(&mut bob, bob_id).expect_err("a failed file");
    assert!(fail.contains("remetente saiu"), "{fail}");
    sender.join().expect("sender");

    // Back together; then bob's node stops mid-file: ana's transfer stops.
    redis.start_again();
    until(&mut ana, "CLUSTER healed");
    until(&mut bob, "CLUSTER healed");
    wait_users(&mut ana, &["ana", "bob"]);
    ana.sync("healed");
    ana.send(&format!("/file bob {size} :d.bin"));
    let id = file_ok(&until(&mut ana, "FILEOK "));
    let sender = send_chunks(&ana, id, vec![4u8; size]);
    until(&mut bob, "FILE ");
    until(&mut ana, &format!("FILEACK {id} "));
    b.shutdown();
    let stop = loop {
        let l = ana.line();
        if l.starts_with("FILEACK ") || l.starts_with("LEFT ") {
            continue;
        }
        break l;
    };
    assert!(
        stop.starts_with(&format!("FILESTOP {id} ")),
        "ana: {stop:?}"
    );
    sender.join().expect("sender");
    drop(bob);
}

#[test]
fn frames_lost_between_nodes_fail_the_file_not_corrupt_it() {
    let redis = Redis::start();
    // Pieces of 64 KiB: a message Redis cannot hold in a client's 16 KiB
    // reply buffer.
    let a = node_with(&redis, 1024 * 1024);
    let b = node_with(&redis, 1024 * 1024);
    let mut ana = Wire::join(a.local_addr(), "ana");
    let mut bob = Wire::join(b.local_addr(), "bob");
    wait_users(&mut ana, &["ana", "bob"]);
    wait_users(&mut bob, &["ana", "bob"]);

    ana.send("/file bob 100000 :furado.bin");
    let id = file_ok(&until(&mut ana, "FILEOK "));
    let l = until(&mut bob, "FILE ");
    let bob_id: u64 = l
        .split(' ')
        .nth(2)
        .and_then(|n| n.parse().ok())
        .expect("id");
    // Redis cuts any subscriber for which over 8 KiB wait (its
    // slow-consumer rule): node B loses the next chunk and its link.
    let set = |limit: &str| {
        let r = redis.command(&["CONFIG", "SET", "client-output-buffer-limit", limit]);
        assert!(r.is_some_and(|r| r.starts_with("+OK")), "CONFIG SET");
    };
    set("pubsub 8kb 8kb 0");
    ana.send(&format!("/chunk {id} 60000"));
    ana.send_raw(&[9u8; 60000]);
    until(&mut ana, &format!("FILEACK {id} 60000"));
    until(&mut bob, "CLUSTER partitioned");
    set("pubsub 32mb 8mb 60");
    // The next chunk reaches node B after the gap: bob is told of the loss
    // and the file fails for him (a file with a hole is no file), and the
    // sender is stopped.
    ana.send(&format!("/chunk {id} 1000"));
    ana.send_raw(&[9u8; 1000]);
    let mut lost = false;
    let fail = loop {
        let l = bob.line();
        if l.starts_with("LOST ") {
            lost = true;
            continue;
        }
        if l.starts_with(&format!("FILEFAIL {bob_id} ")) {
            break l;
        }
        assert!(
            l.starts_with("CLUSTER ") || l.starts_with("JOIN ") || l.starts_with("LEFT "),
            "bob: {l}"
        );
    };
    assert!(lost, "bob was not told of the loss");
    assert!(fail.contains("lost between servers"), "{fail}");
    let stop = loop {
        ana.send(&format!("/chunk {id} 1"));
        ana.send_raw(b"x");
        let l = ana.line();
        if !l.starts_with("FILEACK ") && !l.starts_with("CLUSTER ") {
            break l;
        }
    };
    assert!(stop.starts_with(&format!("FILESTOP {id} ")), "ana: {stop}");
}
