//! Faults (issue 6): a slow consumer whose socket has a 128-byte receive
//! buffer (set before it connects, so the TCP window is tiny from the
//! start), during a flood of public messages from two senders. It alone is
//! dropped, with 03, once its outbound queue passes `max_queue_bytes`;
//! everyone else's messages keep flowing, all of them, in order.
//! (`server_load::slow_consumer_is_dropped_and_nobody_waits` is the
//! one-sender version with a 4 KiB buffer.)

mod common_server;

use std::collections::HashMap;
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::Duration;

use common_server::{start, Raw};
use papo::{ErrorCode, ServerConfig, ServerEvent};

/// A TCP connection whose receive buffer is set to `rcvbuf` bytes before
/// `connect` (libc: socket, setsockopt, connect).
fn connect_small(to: SocketAddr, rcvbuf: libc::c_int) -> TcpStream {
    use std::os::fd::FromRawFd;
    let SocketAddr::V4(to) = to else {
        panic!("IPv4 only")
    };
    // SAFETY: plain socket calls on a descriptor created here, which is
    // handed to TcpStream (which then owns it) only after success.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert!(fd >= 0, "socket");
        let r = libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            &rcvbuf as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
        assert_eq!(r, 0, "SO_RCVBUF");
        let addr = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: to.port().to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(*to.ip()).to_be(),
            },
            sin_zero: [0; 8],
        };
        let r = libc::connect(
            fd,
            &addr as *const libc::sockaddr_in as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        assert_eq!(r, 0, "connect");
        TcpStream::from_raw_fd(fd)
    }
}

/// Reads public lines until `PUBLIC <each sender> :end`; checks that each
/// sender's numbers arrive complete and in order; returns the counts.
fn read_all(mut c: Raw, senders: &[&str]) -> (HashMap<String, usize>, bool, Raw) {
    let mut next: HashMap<String, usize> = senders.iter().map(|s| (s.to_string(), 0)).collect();
    let mut ended = 0;
    let mut saw_left = false;
    while ended < senders.len() {
        let l = c.line();
        if l.starts_with("LEFT slow ") {
            saw_left = true;
            continue;
        }
        if l.starts_with("JOIN ") {
            continue;
        }
        let rest = l
            .strip_prefix("PUBLIC ")
            .unwrap_or_else(|| panic!("{l:.200}"));
        let (from, text) = rest.split_once(" :").expect("PUBLIC from :text");
        if text == "end" {
            ended += 1;
            continue;
        }
        let k: usize = text
            .split(' ')
            .next()
            .and_then(|k| k.parse().ok())
            .expect("number");
        let want = next.get_mut(from).expect("known sender");
        assert_eq!(k, *want, "{}: from {from}: lost or reordered", c.label);
        *want += 1;
    }
    (next, saw_left, c)
}

#[test]
fn slow_consumer_with_a_128_byte_buffer_alone_is_dropped() {
    const QUEUE: usize = 32 * 1024;
    let server = start(ServerConfig {
        io_threads: 2,
        max_queue_bytes: QUEUE,
        flood_lines_per_sec: 0, // the senders flood on purpose
        ..ServerConfig::default()
    });
    let addr = server.local_addr();
    let mut slow = Raw::from_stream(connect_small(addr, 128));
    slow.label = "slow".into();
    slow.expect("HELLO ");
    slow.send("/binary on");
    slow.expect("BINARY on ");
    slow.send("slow");
    slow.expect("WELCOME slow ");
    slow.expect("USERS ");
    let readers: Vec<Raw> = (0..3)
        .map(|k| Raw::join(addr, &format!("fast{k}")).0)
        .collect();
    let mut senders: Vec<Raw> = ["s0", "s1"].iter().map(|n| Raw::join(addr, n).0).collect();
    for s in senders.iter_mut() {
        s.sync();
    }
    let reader_threads: Vec<_> = readers
        .into_iter()
        .map(|mut r| {
            r.sync();
            thread::spawn(move || read_all(r, &["s0", "s1"]))
        })
        .collect();

    // Both senders pour numbered public messages (200 bytes each) in
    // batches until the slow consumer is dropped (at most 32 MiB each).
    let filler = "f".repeat(190);
    let mut sent = [0usize; 2];
    let mut dropped = None;
    for _round in 0..800 {
        for (j, s) in senders.iter_mut().enumerate() {
            let mut batch = String::new();
            for _ in 0..200 {
                batch.push_str(&format!(":{} {filler}\n", sent[j]));
                sent[j] += 1;
            }
            s.send_raw(batch.as_bytes());
        }
        for s in senders.iter_mut() {
            let seen = s.sync();
            assert!(
                seen.iter()
                    .all(|l| l.starts_with("LEFT slow ") || l.starts_with("PUBLIC s")),
                "{:?}",
                seen.first()
            );
        }
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
    // Everyone else goes on: a few more each, then the end marks.
    for (j, s) in senders.iter_mut().enumerate() {
        for _ in 0..20 {
            s.send(&format!(":{} after", sent[j]));
            sent[j] += 1;
        }
        s.send(":end");
    }
    let mut readers = Vec::new();
    for t in reader_threads {
        let (counts, saw_left, r) = t.join().expect("reader");
        readers.push(r);
        assert_eq!(counts["s0"], sent[0], "every message of s0");
        assert_eq!(counts["s1"], sent[1], "every message of s1");
        assert!(saw_left, "told LEFT slow");
    }
    for s in senders.iter_mut() {
        s.sync();
    }
    let mut users = server.users();
    users.sort();
    assert_eq!(users, ["fast0", "fast1", "fast2", "s0", "s1"]);
    assert_eq!(server.stats().slow_consumers, 1);

    // What reached the slow client is a gap-free prefix of each sender's
    // messages, ended by ERROR 03 or (what could not be written being
    // thrown away) a reset.
    let rest = slow.read_to_end();
    let mut next = [0usize; 2];
    for l in &rest {
        if let Some(p) = l.strip_prefix("PUBLIC s") {
            let j: usize = p.get(..1).and_then(|d| d.parse().ok()).expect("sender");
            let k: usize = p
                .get(3..)
                .and_then(|t| t.split(' ').next())
                .and_then(|k| k.parse().ok())
                .expect("number");
            assert_eq!(k, next[j], "slow: gap from s{j}");
            next[j] += 1;
        } else {
            assert!(
                l.starts_with("ERROR 03 ") || l.starts_with("JOIN ") || l.starts_with("PONG"),
                "slow got {l:.120}"
            );
        }
    }
    if let Some(last) = rest.last() {
        if !last.starts_with("PUBLIC ") {
            assert!(
                last.starts_with("ERROR 03 ") || last.starts_with("JOIN "),
                "{last:.120}"
            );
        }
    }
    println!(
        "slow consumer read {} lines ({} + {} messages) before the end",
        rest.len(),
        next[0],
        next[1]
    );
}

/// A slow consumer of binary messages whose payloads are mostly LFs is
/// dropped with its queue cut at a frame's end, never inside a payload
/// (where the next LF may be a payload byte): every `BYTES` frame it reads
/// whole is intact, and its stream ends with `ERROR 03` or simply ends.
#[test]
fn a_slow_consumer_is_never_cut_inside_a_payload() {
    let server = start(ServerConfig {
        io_threads: 1,
        max_queue_bytes: 64 * 1024,
        flood_lines_per_sec: 0,
        ..ServerConfig::default()
    });
    let addr = server.local_addr();
    let mut slow = Raw::from_stream(connect_small(addr, 4096));
    slow.label = "slow".into();
    slow.expect("HELLO ");
    slow.send("/binary on");
    slow.expect("BINARY on ");
    slow.send("slow");
    slow.expect("WELCOME slow ");
    slow.expect("USERS ");
    let (mut sender, _) = Raw::join(addr, "sender");
    slow.send("/ping ready"); // the slow client reads nothing from now on
    sender.sync();

    // 5,000-byte payloads: LFs, with the frame's number in the middle.
    let payload = |k: usize| -> Vec<u8> {
        let mut p = vec![b'\n'; 5000];
        let tag = format!("[{k:06}]");
        p[2500..2500 + tag.len()].copy_from_slice(tag.as_bytes());
        p
    };
    let mut dropped = false;
    let mut k = 0usize;
    for _round in 0..400 {
        let mut batch = Vec::new();
        for _ in 0..20 {
            batch.extend_from_slice(b"/bytes slow 5000\n");
            batch.extend_from_slice(&payload(k));
            k += 1;
        }
        sender.send_raw(&batch);
        let seen = sender.sync();
        assert!(
            seen.iter().all(|l| l.starts_with("SENT slow ")
                || l.starts_with("LEFT slow ")
                || l.starts_with("ERROR 02 ")),
            "{:?}",
            seen.first()
        );
        while let Some(ev) = server.next_event(Duration::ZERO) {
            if matches!(&ev, ServerEvent::Disconnected { nick: Some(n), .. } if n == "slow") {
                dropped = true;
            }
        }
        if dropped {
            break;
        }
    }
    assert!(dropped, "the slow consumer was never dropped");

    // What the slow client gets: PONG, then whole frames, each intact and
    // in order, then ERROR 03 or the end (a cut frame at the very end is
    // a reset's doing, not a corruption).
    let mut next = 0usize;
    let mut saw_error = false;
    while let Some(l) = slow.try_line_or_reset() {
        if l == "PONG :ready" || l.starts_with("JOIN sender ") {
            continue;
        }
        if l.starts_with("ERROR 03 ") {
            saw_error = true;
            break;
        }
        assert_eq!(l, "BYTES sender 5000 private", "slow: frame {next}");
        let Some(body) = slow.read_exact_or_end(5001) else {
            break; // reset while reading it
        };
        if body[..5000] != payload(next)[..] {
            let text = String::from_utf8_lossy(&body[..5000]).replace('\n', "");
            panic!("slow: frame {next} corrupted; its non-LF bytes: {text:?}");
        }
        assert_eq!(body[5000], b'\n', "slow: frame {next} not ended by LF");
        next += 1;
    }
    println!("slow got {next} whole frames of {k}; ERROR 03 seen: {saw_error}");
    assert!(next < k);
    sender.sync();
    assert_eq!(server.users(), ["sender"]);
}
