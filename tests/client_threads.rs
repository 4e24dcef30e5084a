//! No library thread of a client outlives `Client::disconnect` (and so
//! `Desconecta_cliente`): not the reader thread, and not a file-sending
//! thread blocked on a receiver that takes nothing. Alone in its test
//! binary, because it counts the process's threads by name.

mod common_files;

use std::fs;
use std::time::{Duration, Instant};

use common_files::{Wire, WAIT};
use papo::{Client, ClientConfig, Event, Server, ServerConfig};

/// The names of this process's threads (Linux: /proc/self/task/*/comm).
fn thread_names() -> Vec<String> {
    let Ok(dir) = fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|t| fs::read_to_string(t.path().join("comm")).ok())
        .map(|n| n.trim_end().to_owned())
        .collect()
}

/// The next file line for `w` (`FILE`, `FILEEND`, `FILEFAIL`), skipping
/// presence lines and the `CHUNK` frames with their payloads.
fn next_file_line(w: &mut Wire) -> String {
    loop {
        let l = w.line();
        if let Some(rest) = l.strip_prefix("CHUNK ") {
            let n: usize = rest
                .split(' ')
                .nth(1)
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("bad CHUNK line {l:?}"));
            w.payload(n);
        } else if l.starts_with("FILE") {
            return l;
        }
    }
}

fn count(name: &str) -> usize {
    thread_names().iter().filter(|n| *n == name).count()
}

#[test]
fn disconnect_ends_a_blocked_file_sending_thread() {
    if !std::path::Path::new("/proc/self/task").exists() {
        eprintln!("no /proc/self/task: thread names cannot be read here");
        return;
    }
    let server = Server::start(
        "127.0.0.1",
        0,
        ServerConfig {
            file_stall_timeout: Duration::from_secs(600),
            ..ServerConfig::default()
        },
    )
    .expect("server");
    // A receiver that registers and then reads nothing: the server stops
    // reading the sender once the receiver's queue is full.
    let mut rx = Wire::join(server.local_addr(), "rx");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("grande.bin");
    let file = fs::File::create(&path).expect("create");
    // Big enough that the sockets and the server's queue cannot take it
    // all (the sender's socket, the server's receive buffer: a few MiB
    // each), small enough that the first whole percent of progress (what
    // the server forwards before it stops reading the sender: its
    // transfer window of 512 KiB plus what rx's socket takes, at most
    // 128 KiB unsent in the kernel) is reached.
    file.set_len(32 << 20).expect("sparse 32 MiB");
    drop(file);

    for round in 0..3 {
        let tx = Client::connect_with(
            "127.0.0.1",
            server.port(),
            &format!("tx{round}"),
            ClientConfig::default(),
        )
        .expect("tx");
        let id = tx.send_file(Some("rx"), &path).expect("send_file");
        // The offer reaches rx (after tx's JOIN); then rx reads nothing.
        let offer = next_file_line(&mut rx);
        assert!(
            offer.starts_with(&format!("FILE tx{round} {id} ")),
            "{offer}"
        );
        // Let it fill the sockets and the server's queue (progress events
        // come with the server's acknowledgements), then block.
        let deadline = Instant::now() + WAIT;
        loop {
            match tx.next_event(Duration::from_millis(100)) {
                Ok(Event::FileSendProgress { .. }) => break,
                Ok(_) => {}
                Err(e) => assert!(Instant::now() < deadline, "round {round}: no progress: {e}"),
            }
        }
        assert_eq!(count("papo-file-send"), 1, "{:?}", thread_names());
        tx.disconnect().expect("disconnect");
        // Returned: the reader and the sending thread have ended.
        let names = thread_names();
        assert!(
            !names.iter().any(|n| n == "papo-file-send"),
            "round {round}: a sending thread outlived disconnect: {names:?}"
        );
        // The transfer failed for the receiver, which is still connected.
        let fail = loop {
            let l = next_file_line(&mut rx);
            if l.starts_with("FILEFAIL ") {
                break l;
            }
        };
        assert!(fail.starts_with(&format!("FILEFAIL {id} ")), "{fail}");
    }
}
