//! `Server::shutdown` (what `Desconecta_Servidor` calls) while a file
//! receiver has stopped reading: once it reads again, its connection must
//! end within seconds, not minutes.
//!
//! This is what made `tests/c/test_misuse.c` ("shutdown mid-send") fail
//! under load: its receiver `rx` pulls no event until the server is gone,
//! so its reader thread stops reading the socket. At the shutdown the server
//! had handed the last megabytes of the file to the kernel (nothing left
//! in its own queue), so it closed the socket normally, and the orphaned
//! socket went on delivering them on its own. On loopback (a 64 KiB MSS) a
//! receive window that has shrunk below one segment is only served by the
//! zero-window probes, a few KiB every 200 ms or more, so the end of the
//! stream (and with it the client's `DISCONNECTED` event) came minutes
//! later. The server now resets a connection whose peer has taken nothing
//! for a while when it gives up on it (`worker.rs`, `remove`).
//!
//! Here the receiver is a raw socket: it reads a few MiB of the file (so
//! the windows and buffers grow as on any fast connection), then shrinks
//! its receive buffer to the minimum (the window falls below one segment)
//! and stops reading while a little more file data arrives; then the
//! server shuts down and the receiver reads to the end. Linux only (the
//! receive-buffer change and the loopback MSS are what make it exact).

#![cfg(target_os = "linux")]

mod common_proc;
mod common_server;

use std::io::{ErrorKind, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common_proc::set_rcvbuf;
use common_server::{eventually, start, Raw};
use papo::ServerConfig;

/// File bytes the receiver reads at full speed first.
const PRIME: u64 = 8 * 1024 * 1024;
/// File bytes sent after the receiver stopped reading: few enough for the
/// server's socket to take them all, so that nothing is left in its queue
/// (the server lets the kernel hold at most 128 KiB unsent per socket,
/// `TCP_NOTSENT_LOWAT` in `server/conn.rs`; more would wait in the
/// server's queue, and the file's flow control would hold the sender).
const EXTRA: u64 = 6 * PIECE as u64;
/// Bytes per `/chunk` the sender writes.
const PIECE: usize = 16 * 1024;
/// The end of the stream must come within this after the shutdown. Without
/// the reset, EXTRA bytes through a window of about 1 KiB per zero-window
/// probe (a few KiB every 200 ms or more, backing off) take minutes.
const END_WITHIN: Duration = Duration::from_secs(10);

#[test]
fn shutdown_ends_a_stalled_receiver_at_once() {
    let server = start(ServerConfig {
        io_threads: 1,
        // rx stalls until the shutdown; the stall timeout must not drop it.
        file_stall_timeout: Duration::from_secs(600),
        ..ServerConfig::default()
    });
    let addr = server.local_addr();
    let (mut tx, _) = Raw::join(addr, "tx");
    let (mut rx, _) = Raw::join_binary(addr, "rx");
    tx.send("/file rx 1073741824 :grande.bin");
    let ok = loop {
        let l = tx.line();
        if l.starts_with("FILEOK ") {
            break l;
        }
        assert!(l.starts_with("JOIN "), "tx: {l:?}");
    };
    let id: u64 = ok
        .split(' ')
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("FILEOK <id>");
    loop {
        let l = rx.line();
        if l.starts_with("FILE ") {
            break;
        }
    }

    // The sender: pours chunks until `allowed` bytes are out, counts FILEACK.
    let allowed = Arc::new(AtomicU64::new(PRIME));
    let forwarded = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut w = tx.stream.try_clone().expect("clone");
    let pour = {
        let (allowed, stop) = (Arc::clone(&allowed), Arc::clone(&stop));
        thread::spawn(move || {
            let mut chunk = format!("/chunk {id} {PIECE}\n").into_bytes();
            chunk.extend_from_slice(&[b'z'; PIECE]);
            let mut sent = 0u64;
            while !stop.load(Ordering::Acquire) {
                if sent >= allowed.load(Ordering::Acquire) {
                    thread::sleep(Duration::from_millis(5));
                    continue;
                }
                if w.write_all(&chunk).is_err() {
                    return;
                }
                sent += PIECE as u64;
            }
        })
    };
    let acks = {
        let forwarded = Arc::clone(&forwarded);
        thread::spawn(move || {
            tx.read_to_end_with(|l| {
                if let Some(n) = l
                    .strip_prefix(&format!("FILEACK {id} "))
                    .and_then(|n| n.parse::<u64>().ok())
                {
                    forwarded.store(n, Ordering::Release);
                }
            })
        })
    };

    // rx reads the first PRIME bytes of file data (frames and all).
    let mut file_bytes = 0u64;
    while file_bytes < PRIME {
        let l = rx.line();
        let n: usize = l
            .strip_prefix(&format!("CHUNK {id} "))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("rx: {l:?}"));
        let piece = rx.read_exact_or_end(n + 1).expect("rx: a whole CHUNK");
        assert_eq!(piece.last(), Some(&b'\n'));
        file_bytes += n as u64;
    }
    // Then it stops reading, with the smallest receive buffer, and EXTRA
    // more bytes come: the server forwards them all (FILEACK) and hands
    // them to its socket, where they wait.
    set_rcvbuf(&rx.stream, 1);
    allowed.store(PRIME + EXTRA, Ordering::Release);
    eventually("the extra bytes forwarded", || {
        forwarded.load(Ordering::Acquire) >= PRIME + EXTRA
    });
    thread::sleep(Duration::from_secs(1));

    server.shutdown();
    let shut = Instant::now();
    stop.store(true, Ordering::Release);

    // rx reads again: the stream must end (EOF or reset) promptly.
    rx.stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("read timeout");
    let mut raw = rx.stream.try_clone().expect("clone");
    let mut buf = vec![0u8; 64 * 1024];
    let mut after = 0u64;
    let how = loop {
        if shut.elapsed() > END_WITHIN {
            break None;
        }
        match raw.read(&mut buf) {
            Ok(0) => break Some("end of stream"),
            Ok(n) => after += n as u64,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break Some("reset"),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => panic!("rx: read: {e}"),
        }
    };
    let took = shut.elapsed();
    assert!(
        how.is_some(),
        "rx: no end of stream {END_WITHIN:?} after the shutdown ({after} bytes came \
         meanwhile): the server left an orphaned socket feeding a stalled receiver"
    );
    println!(
        "rx: {} after {took:?}, {after} bytes read after the shutdown",
        how.unwrap_or_default()
    );
    let _ = pour.join();
    let _ = acks.join();
}
