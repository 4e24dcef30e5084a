//! The server's side of file transfers and binary messages, spoken by hand
//! over real loopback sockets (PROTOCOL.md, "Files and binary payloads").

mod common_files;

use std::time::Duration;

use common_files::Wire;
use papo::{Server, ServerConfig};

fn start(cfg: ServerConfig) -> Server {
    Server::start("127.0.0.1", 0, cfg).expect("server starts")
}

fn every_byte() -> Vec<u8> {
    (0..=255u8).collect()
}

/// `(id, size)` of a `FILE <from> <id> <size> ...` line.
fn file_line(l: &str, from: &str) -> (u64, u64) {
    let w: Vec<&str> = l.split(' ').collect();
    assert_eq!(w[0], "FILE", "{l:?}");
    assert_eq!(w[1], from, "{l:?}");
    (w[2].parse().unwrap(), w[3].parse().unwrap())
}

fn file_ok(l: &str) -> u64 {
    assert!(l.starts_with("FILEOK "), "{l:?}");
    l.split(' ').nth(1).unwrap().parse().unwrap()
}

#[test]
fn binary_messages_carry_every_byte_value() {
    let server = start(ServerConfig {
        io_threads: 2,
        ..ServerConfig::default()
    });
    let addr = server.local_addr();
    let mut ana = Wire::join(addr, "ana");
    let mut bob = Wire::join(addr, "bob");
    let mut carla = Wire::join(addr, "carla");
    ana.sync("a");
    bob.sync("b");

    // Public: everyone else gets it; ana gets SENT *.
    let data = every_byte();
    ana.send("/bytes * 256");
    ana.send_raw(&data);
    assert_eq!(ana.line(), "SENT * :Mensagem enviada (message sent)");
    for w in [&mut bob, &mut carla] {
        assert_eq!(w.line(), "BYTES ana 256");
        assert_eq!(w.payload(256), data);
    }
    // Private, split across writes anyhow, with a LF after it (an empty
    // line, ignored) and a chat line right behind.
    let mut frame = b"/bytes bob 256\n".to_vec();
    frame.extend_from_slice(&data);
    frame.extend_from_slice(b"\n:depois\n");
    for piece in frame.chunks(7) {
        ana.send_raw(piece);
    }
    assert_eq!(ana.line(), "SENT bob :Mensagem enviada (message sent)");
    assert_eq!(bob.line(), "BYTES ana 256 private");
    assert_eq!(bob.payload(256), data);
    assert_eq!(bob.line(), "PUBLIC ana :depois");
    assert_eq!(carla.line(), "PUBLIC ana :depois");
    // To oneself, and empty.
    ana.send("/bytes ana 3");
    ana.send_raw(b"\0\n\xff");
    assert_eq!(ana.line(), "BYTES ana 3 private");
    assert_eq!(ana.payload(3), b"\0\n\xff");
    assert_eq!(ana.line(), "SENT ana :Mensagem enviada (message sent)");
    ana.send("/bytes * 0");
    assert!(ana.line().starts_with("SENT * "));
    assert_eq!(bob.line(), "BYTES ana 0");
    assert_eq!(bob.payload(0), b"");
    // Nobody there: ERROR 02, the payload is skipped, the line after it is
    // read as a line.
    ana.send("/bytes zé 4");
    ana.send_raw(b"quit");
    ana.send(":still here");
    assert!(ana.line().starts_with("ERROR 02 zé :"));
    assert_eq!(bob.line(), "PUBLIC ana :still here");
    assert!(ana.sync("c").is_empty());
}

#[test]
fn oversized_payloads_are_refused_up_front_and_skipped() {
    let server = start(ServerConfig {
        max_payload_bytes: 100,
        max_file_bytes: 1000,
        ..ServerConfig::default()
    });
    let addr = server.local_addr();
    let mut ana = Wire::join(addr, "ana");
    let mut bob = Wire::join(addr, "bob");
    ana.sync("a");

    ana.send("/bytes bob 101");
    ana.send_raw(&[b'\n'; 101]);
    let e = ana.line();
    assert!(e.starts_with("ERROR 07 * :"), "{e}");
    assert!(e.contains("100 bytes"), "{e}");
    ana.send("/file * 1001 :big.iso");
    let e = ana.line();
    assert!(
        e.starts_with("ERROR 07 * :") && e.contains("1000 bytes"),
        "{e}"
    );
    ana.send("/file * 1000 :ok.iso");
    let id = file_ok(&ana.line());
    ana.send("/fileabort 9999999");
    assert!(ana.line().starts_with("FILESTOP 9999999 :"));
    ana.send(&format!("/fileabort {id}"));
    assert!(ana.line().starts_with(&format!("FILESTOP {id} :")));
    assert!(ana.sync("b").is_empty());
    // Bob saw none of the refused ones; the accepted one began and failed.
    let (got, _) = file_line(&bob.line(), "ana");
    assert_eq!(got, id);
    assert!(bob.line().starts_with(&format!("FILEFAIL {id} :")));
    assert!(bob.sync("c").is_empty());
}

#[test]
fn malformed_transfer_commands_get_errors() {
    let server = start(ServerConfig::default());
    let addr = server.local_addr();
    let mut ana = Wire::join(addr, "ana");
    for (line, code) in [
        ("/bytes * x", "10"),
        ("/bytes", "10"),
        ("/file * 10", "09"),
        ("/file * 10 :a\tb\u{1b}", "08"),
        ("/file zé 10 :a", "02"),
        ("/file a:b 10 :a", "02"),
        ("/chunk 1", "10"),
        ("/fileend x", "10"),
    ] {
        ana.send(line);
        let l = ana.line();
        assert!(l.starts_with(&format!("ERROR {code} ")), "{line:?}: {l:?}");
    }
    ana.send("/chunk 424242 3");
    ana.send_raw(b"abc");
    assert!(ana.line().starts_with("FILESTOP 424242 :"));
    ana.send("/fileend 424242");
    assert!(ana.line().starts_with("FILESTOP 424242 :"));
    assert!(ana.sync("x").is_empty());
}

#[test]
fn a_file_streams_to_everyone_in_chunks() {
    let server = start(ServerConfig {
        io_threads: 2,
        ..ServerConfig::default()
    });
    let addr = server.local_addr();
    let mut ana = Wire::join(addr, "ana");
    let mut bob = Wire::join(addr, "bob");
    let mut carla = Wire::join(addr, "carla");
    ana.sync("1");
    bob.sync("2");

    let content: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    ana.send(&format!("/file * {} :dados binários.bin", content.len()));
    let id = file_ok(&ana.line());
    for w in [&mut bob, &mut carla] {
        let l = w.line();
        assert_eq!(
            l,
            format!("FILE ana {id} {} :dados binários.bin", content.len())
        );
    }
    // A newcomer after the FILE line gets none of its frames.
    let mut dani = Wire::join(addr, "dani");
    // Chunks of odd sizes; one larger than a piece (the server re-cuts it).
    let mut sent = 0usize;
    for size in [1usize, 1000, 150_000, 48_999] {
        ana.send(&format!("/chunk {id} {size}"));
        ana.send_raw(&content[sent..sent + size]);
        sent += size;
    }
    assert_eq!(sent, content.len());
    ana.send(&format!("/fileend {id}"));
    // The sender sees its progress, then FILEDONE.
    let mut last = 0;
    loop {
        let l = ana.line();
        if l.starts_with("JOIN dani") {
            continue;
        }
        if l.starts_with(&format!("FILEDONE {id} ")) {
            break;
        }
        let w: Vec<&str> = l.split(' ').collect();
        assert_eq!(w[..2], ["FILEACK", &id.to_string()[..]], "{l}");
        let n: u64 = w[2].parse().unwrap();
        assert!(n > last);
        last = n;
    }
    assert_eq!(last, content.len() as u64);
    for w in [&mut bob, &mut carla] {
        let mut got = Vec::new();
        loop {
            let l = w.line();
            if l.starts_with("JOIN dani") {
                continue;
            }
            if l == format!("FILEEND {id}") {
                break;
            }
            let parts: Vec<&str> = l.split(' ').collect();
            assert_eq!(parts[..2], ["CHUNK", &id.to_string()[..]], "{l}");
            let n: usize = parts[2].parse().unwrap();
            assert!(n <= 64 * 1024, "pieces are at most 64 KiB");
            got.extend(w.payload(n));
        }
        assert_eq!(got, content);
    }
    assert!(dani.sync("d").is_empty(), "the newcomer got frames");
}

#[test]
fn a_file_to_one_user_and_to_oneself() {
    let server = start(ServerConfig::default());
    let addr = server.local_addr();
    let mut ana = Wire::join(addr, "ana");
    let mut bob = Wire::join(addr, "bob");
    ana.sync("1");
    ana.send("/file bob 3 :x.txt");
    let id = file_ok(&ana.line());
    ana.send(&format!("/chunk {id} 3"));
    ana.send_raw(b"a\nb");
    ana.send(&format!("/fileend {id}"));
    assert_eq!(bob.line(), format!("FILE ana {id} 3 private :x.txt"));
    assert_eq!(bob.line(), format!("CHUNK {id} 3"));
    assert_eq!(bob.payload(3), b"a\nb");
    assert_eq!(bob.line(), format!("FILEEND {id}"));
    assert_eq!(ana.line(), format!("FILEACK {id} 3"));
    assert!(ana.line().starts_with(&format!("FILEDONE {id} ")));

    ana.send("/file ana 2 :eu.txt");
    let id = file_ok(&ana.line());
    ana.send(&format!("/chunk {id} 2"));
    ana.send_raw(b"eu");
    ana.send(&format!("/fileend {id}"));
    // Its receiver's lines (through the inbox) and its sender's lines
    // (direct) interleave; each keeps its own order.
    let mut lines = Vec::new();
    while !(lines.contains(&format!("FILEEND {id}"))
        && lines
            .iter()
            .any(|l: &String| l.starts_with(&format!("FILEDONE {id}"))))
    {
        let l = ana.line();
        if l.starts_with("CHUNK") {
            assert_eq!(ana.payload(2), b"eu");
        }
        lines.push(l);
    }
    let pos = |p: &str| lines.iter().position(|l| l.starts_with(p)).unwrap();
    assert!(pos(&format!("FILE ana {id} 2 private :eu.txt")) < pos(&format!("CHUNK {id} 2")));
    assert!(pos(&format!("CHUNK {id} 2")) < pos(&format!("FILEEND {id}")));
    assert!(pos(&format!("FILEACK {id} 2")) < pos(&format!("FILEDONE {id}")));
    assert_eq!(lines.len(), 5, "{lines:?}");
}

#[test]
fn wrong_sizes_and_a_vanished_sender_fail_the_file() {
    let server = start(ServerConfig::default());
    let addr = server.local_addr();
    let mut ana = Wire::join(addr, "ana");
    let mut bob = Wire::join(addr, "bob");
    ana.sync("1");

    // More bytes than announced: refused at the chunk's header.
    ana.send("/file * 4 :a");
    let id = file_ok(&ana.line());
    ana.send(&format!("/chunk {id} 5"));
    ana.send_raw(b"12345");
    assert!(ana.line().starts_with(&format!("FILESTOP {id} :")));
    file_line(&bob.line(), "ana");
    assert!(bob.line().starts_with(&format!("FILEFAIL {id} :")));

    // Fewer bytes than announced.
    ana.send("/file * 4 :b");
    let id = file_ok(&ana.line());
    ana.send(&format!("/chunk {id} 3"));
    ana.send_raw(b"123");
    ana.send(&format!("/fileend {id}"));
    assert_eq!(ana.line(), format!("FILEACK {id} 3"));
    assert!(ana.line().starts_with(&format!("FILESTOP {id} :")));
    file_line(&bob.line(), "ana");
    assert_eq!(bob.line(), format!("CHUNK {id} 3"));
    bob.payload(3);
    assert!(bob.line().starts_with(&format!("FILEFAIL {id} :")));

    // The sender dies mid-file, mid-chunk: FILEFAIL, then LEFT.
    ana.send("/file * 1000 :c");
    let id = file_ok(&ana.line());
    file_line(&bob.line(), "ana");
    // Whether or not the server reads these bytes before the reset, the
    // file is open and must fail.
    ana.send(&format!("/chunk {id} 500"));
    ana.send_raw(&[7u8; 200]);
    ana.kill();
    let mut l = bob.line();
    if l.starts_with("CHUNK ") {
        let n: usize = l.split(' ').nth(2).unwrap().parse().unwrap();
        bob.payload(n);
        l = bob.line();
    }
    assert!(l.starts_with(&format!("FILEFAIL {id} :")), "{l}");
    assert!(bob.line().starts_with("LEFT ana "));
}

#[test]
fn a_private_file_stops_when_its_receiver_leaves() {
    let server = start(ServerConfig::default());
    let addr = server.local_addr();
    let mut ana = Wire::join(addr, "ana");
    let mut bob = Wire::join(addr, "bob");
    ana.sync("1");
    ana.send("/file bob 1000 :x");
    let id = file_ok(&ana.line());
    bob.send("quit");
    assert!(ana.line().starts_with("LEFT bob"));
    // The next frames find nobody; once bob's thread has seen that, the
    // chunk after gets FILESTOP (and no more FILEACK).
    let mut stopped = None;
    for k in 0..100 {
        ana.send(&format!("/chunk {id} 1"));
        ana.send_raw(b"x");
        for l in ana.sync(&format!("s{k}")) {
            if l.starts_with(&format!("FILESTOP {id} :")) {
                stopped = Some(l);
            } else {
                assert!(l.starts_with(&format!("FILEACK {id} ")), "{l}");
            }
        }
        if stopped.is_some() {
            break;
        }
    }
    let l = stopped.expect("no FILESTOP after the receiver left");
    assert!(l.contains("the receiver left"), "{l}");
}

/// A receiver that does not read holds the sender (the server stops reading
/// it) but is not dropped; once it reads, everything arrives. One that
/// never reads is dropped after `file_stall_timeout`, and the sender and the
/// other receivers go on.
#[test]
fn a_slow_receiver_holds_the_sender_and_a_stuck_one_is_dropped() {
    let server = start(ServerConfig {
        io_threads: 2,
        max_queue_bytes: 256 * 1024,
        file_stall_timeout: Duration::from_secs(3),
        ..ServerConfig::default()
    });
    let addr = server.local_addr();
    let mut ana = Wire::join(addr, "ana");
    let mut bob = Wire::join(addr, "bob");
    let stuck = Wire::join(addr, "stuck");
    ana.sync("1");
    bob.sync("2");

    let size = 32 * 1024 * 1024usize;
    ana.send(&format!("/file * {size} :big"));
    let id = file_ok(&ana.line());
    let sender = {
        let mut stream = ana.stream.try_clone().unwrap();
        std::thread::spawn(move || {
            use std::io::Write;
            let block = vec![0xabu8; 64 * 1024];
            for _ in 0..size / block.len() {
                stream
                    .write_all(format!("/chunk {id} {}\n", block.len()).as_bytes())
                    .unwrap();
                stream.write_all(&block).unwrap();
            }
            stream
                .write_all(format!("/fileend {id}\n").as_bytes())
                .unwrap();
        })
    };
    // Nobody reads for a while: the server stops reading the sender once
    // the receivers' queues and socket buffers are full (the kernel's socket
    // buffers of one receiver hold up to about 10 MB), far from the 32 MiB.
    std::thread::sleep(Duration::from_millis(1000));
    let taken = server.stats().bytes_received;
    eprintln!(
        "server read {} KiB of the 32 MiB while no receiver read",
        taken >> 10
    );
    assert!(taken < 16 * 1024 * 1024, "the server read {taken} bytes");
    // Bob reads all of it now (the transfer waited for him).
    assert_eq!(bob.line(), format!("FILE ana {id} {size} :big"));
    let mut got = 0usize;
    loop {
        let l = bob.line();
        if l.starts_with("LEFT stuck") {
            continue;
        }
        if l == format!("FILEEND {id}") {
            break;
        }
        let n: usize = l.split(' ').nth(2).unwrap().parse().unwrap();
        let p = bob.payload(n);
        assert!(p.iter().all(|b| *b == 0xab));
        got += n;
    }
    assert_eq!(got, size);
    sender.join().unwrap();
    // The stuck receiver was dropped as a slow consumer, not bob. (Its
    // `ERROR 03` is best effort: its socket is full, so it may never get
    // it; it sees its connection end.)
    let mut stuck = stuck;
    stuck.read_to_end();
    assert_eq!(server.stats().slow_consumers, 1);
    let mut dropped = None;
    while let Some(ev) = server.next_event(Duration::ZERO) {
        if let papo::ServerEvent::Disconnected {
            nick, code, reason, ..
        } = ev
        {
            dropped = Some((nick, code, reason));
        }
    }
    assert_eq!(
        dropped,
        Some((
            Some("stuck".to_string()),
            Some(papo::ErrorCode::ConnectionAborted),
            "slow consumer".to_string()
        ))
    );
    assert!(bob.sync("3").iter().all(|l| l.starts_with("LEFT stuck")));
}
