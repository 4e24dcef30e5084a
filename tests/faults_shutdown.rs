//! Faults (issue 6): `Server::shutdown` (what `Desconecta_Servidor` calls)
//! while clients are in the middle of sending. Every client gets 03, every
//! thread the library started ends (the process's thread count returns to
//! what it was before the server started), and nothing the server had
//! acknowledged is lost: every private message answered `SENT` reached its
//! receiver before the receiver's `ERROR 03`.
//!
//! A file in the middle of its transfer counts too: every byte the server
//! acknowledged to its sender (`FILEACK`, forwarded) reached the receiver
//! before the receiver's `ERROR 03`.
//!
//! One test in this file: it counts the whole process's threads.

mod common_proc;
mod common_server;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use common_proc::thread_count;
use common_server::{eventually, start, Raw, WAIT};
use papo::{Client, ErrorCode, Event, ServerConfig};

const NICKS: [&str; 6] = ["ana", "bia", "caio", "davi", "eva", "fil"];

/// Message numbers per (from, to).
type PerPair = HashMap<(String, String), Vec<usize>>;

#[test]
fn shutdown_mid_send_loses_nothing_acknowledged() {
    let threads_before = thread_count();
    let server = start(ServerConfig {
        io_threads: 3,
        flood_lines_per_sec: 0,
        ..ServerConfig::default()
    });
    let addr = server.local_addr();
    let clients: Vec<Arc<Client>> = NICKS
        .iter()
        .map(|n| Arc::new(Client::connect("127.0.0.1", server.port(), n).expect("connect")))
        .collect();
    // Acknowledged (SENT) private messages, per (from, to): their numbers.
    let acked: Arc<Mutex<PerPair>> = Default::default();

    // Receivers: each client's events, until its Disconnected.
    let receivers: Vec<_> = clients
        .iter()
        .map(|c| {
            let c = Arc::clone(c);
            thread::spawn(move || {
                let mut got: HashMap<String, Vec<usize>> = HashMap::new();
                loop {
                    match c.next_event(WAIT) {
                        Ok(Event::Private { from, text, .. }) => {
                            let k = text.parse().expect("number");
                            got.entry(from).or_default().push(k);
                        }
                        Ok(Event::Disconnected { code, .. }) => return (got, code),
                        Ok(_) => {}
                        Err(e) => panic!("{}: {e}", c.nick()),
                    }
                }
            })
        })
        .collect();
    // Senders: private messages round-robin, each waiting for its SENT.
    let senders: Vec<_> = clients
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let c = Arc::clone(c);
            let acked = Arc::clone(&acked);
            thread::spawn(move || {
                let me = NICKS[i];
                let mut k = 0usize;
                loop {
                    let to = NICKS[(i + 1 + k % (NICKS.len() - 1)) % NICKS.len()];
                    match c.send(Some(to), &k.to_string()) {
                        Ok(()) => acked
                            .lock()
                            .expect("lock")
                            .entry((me.to_string(), to.to_string()))
                            .or_default()
                            .push(k),
                        Err(e) => {
                            assert!(
                                matches!(
                                    e.code(),
                                    ErrorCode::ConnectionAborted | ErrorCode::Closed
                                ),
                                "{me}: {e}"
                            );
                            return k;
                        }
                    }
                    k += 1;
                }
            })
        })
        .collect();
    // A raw client pipelining private messages without waiting, and
    // leaving half a line unfinished.
    let (mut raw, _) = Raw::join(addr, "raw");
    let mut w = raw.stream.try_clone().expect("clone");
    let pour = thread::spawn(move || {
        let mut batch = String::new();
        for k in 0..2000 {
            batch.push_str(&format!("ana:{k}\n"));
        }
        for _ in 0..5 {
            if !w.write_all_ok(batch.as_bytes()) {
                return;
            }
        }
        let _ = w.write_all_ok(b"ana:unfinis");
    });
    let raw_reader = thread::spawn(move || raw.read_to_end());

    // A file in the middle of its transfer: `tx` sends `rx` a 1 GiB file
    // in 4 KiB chunks for as long as the server reads them.
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
    let file_id: u64 = ok
        .split(' ')
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("FILEOK <id>");
    let acked_bytes = Arc::new(AtomicU64::new(0));
    let mut tx_w = tx.stream.try_clone().expect("clone");
    let tx_pour = thread::spawn(move || {
        let mut chunk = format!("/chunk {file_id} 4096\n").into_bytes();
        chunk.extend_from_slice(&[b'z'; 4096]);
        while tx_w.write_all_ok(&chunk) {}
    });
    let tx_reader = {
        let acked_bytes = Arc::clone(&acked_bytes);
        thread::spawn(move || {
            let lines = tx.read_to_end_with(|l| {
                if let Some(n) = l
                    .strip_prefix(&format!("FILEACK {file_id} "))
                    .and_then(|n| n.parse::<u64>().ok())
                {
                    acked_bytes.store(n, Ordering::Release);
                }
            });
            lines.last().cloned()
        })
    };
    let rx_reader = thread::spawn(move || {
        // Bytes of the file received, and the last line.
        let mut got = 0u64;
        let mut last = None;
        while let Some(l) = rx.try_line_or_reset() {
            if let Some(n) = l
                .strip_prefix(&format!("CHUNK {file_id} "))
                .and_then(|n| n.parse::<u64>().ok())
            {
                // The piece and its LF, read in one go (not byte by byte: a
                // slow reader would hold the shutdown to its deadline).
                let Some(piece) = usize::try_from(n)
                    .ok()
                    .and_then(|n| rx.read_exact_or_end(n + 1))
                else {
                    panic!("rx: the stream ended inside a CHUNK of {n} bytes");
                };
                assert_eq!(piece.last(), Some(&b'\n'), "rx: CHUNK without its LF");
                got += n;
            }
            last = Some(l);
        }
        (got, last)
    });

    // Let everyone get going, then shut down in the middle of it.
    eventually("file flowing", || {
        acked_bytes.load(Ordering::Acquire) >= 64 * 1024
    });
    eventually("messages flowing", || {
        acked
            .lock()
            .expect("lock")
            .values()
            .map(Vec::len)
            .sum::<usize>()
            >= 300
    });
    server.shutdown();

    // Every client was told 03.
    let mut received = PerPair::new();
    for (i, r) in receivers.into_iter().enumerate() {
        let (got, code) = r.join().expect("receiver");
        assert_eq!(code, ErrorCode::ConnectionAborted, "{}", NICKS[i]);
        for (from, ks) in got {
            received.insert((from, NICKS[i].to_string()), ks);
        }
    }
    for s in senders {
        s.join().expect("sender");
    }
    let raw_lines = raw_reader.join().expect("raw reader");
    let _ = pour.join();
    let raw_sent = raw_lines
        .iter()
        .filter(|l| l.starts_with("SENT ana "))
        .count();
    assert!(
        raw_lines.last().is_some_and(|l| l.starts_with("ERROR 03 ")),
        "raw: {:?}",
        raw_lines.last()
    );

    // Nothing acknowledged was lost, and nothing came twice or out of order.
    let acked = acked.lock().expect("lock").clone();
    let mut total = 0;
    for ((from, to), ks) in &acked {
        let got = received
            .get(&(from.clone(), to.clone()))
            .cloned()
            .unwrap_or_default();
        assert!(
            got.len() >= ks.len() && got.get(..ks.len()) == Some(&ks[..]),
            "{from} -> {to}: acknowledged {} (last {:?}), received {} (last {:?})",
            ks.len(),
            ks.last(),
            got.len(),
            got.last()
        );
        total += ks.len();
    }
    let raw_got = received
        .get(&("raw".to_string(), "ana".to_string()))
        .map_or(0, Vec::len);
    assert!(
        raw_got >= raw_sent,
        "raw -> ana: acknowledged {raw_sent}, received {raw_got}"
    );
    // The file: every byte the server acknowledged to the sender (FILEACK:
    // forwarded) reached the receiver before its 03; both got 03 last.
    let tx_last = tx_reader.join().expect("tx reader");
    let _ = tx_pour.join();
    let (rx_got, rx_last) = rx_reader.join().expect("rx reader");
    let file_acked = acked_bytes.load(Ordering::Acquire);
    assert!(
        tx_last
            .as_deref()
            .is_some_and(|l| l.starts_with("ERROR 03 ")),
        "tx: {tx_last:?}"
    );
    assert!(
        rx_last
            .as_deref()
            .is_some_and(|l| l.starts_with("ERROR 03 ")),
        "rx: {rx_last:?}"
    );
    assert!(
        rx_got >= file_acked,
        "file: {file_acked} bytes acknowledged, {rx_got} received"
    );
    println!(
        "{total} acknowledged private messages + {raw_sent} from raw, \
         {file_acked} acknowledged file bytes ({rx_got} received), none lost"
    );

    // Every library thread ends: the server's I/O and acceptor threads
    // (ended by shutdown), and each client's reader thread.
    for c in &clients {
        c.disconnect().expect("disconnect");
    }
    drop(clients);
    drop(server);
    eventually("threads back", || thread_count() == threads_before);
}

/// `write_all` that reports failure instead of returning it.
trait WriteAllOk {
    fn write_all_ok(&mut self, b: &[u8]) -> bool;
}

impl WriteAllOk for std::net::TcpStream {
    fn write_all_ok(&mut self, b: &[u8]) -> bool {
        std::io::Write::write_all(self, b).is_ok()
    }
}
