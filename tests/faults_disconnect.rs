//! Faults (issue 6): clients killed with a reset in the middle of a line
//! or in the middle of a file (mid-chunk), half-closed, or closed mid-line,
//! 1,000 times over (250 of each). Each is removed, its
//! name is freed at once (the next cycle registers the same name), everyone
//! is told `LEFT`; and afterwards the process has exactly the threads and
//! file descriptors it had before (/proc/self/task, /proc/self/fd).
//!
//! This file holds one test: it counts the whole process's threads and
//! descriptors, which other tests running at the same time would disturb.
//! (A reset mid-line once, with the event's code, is also in
//! `server_raw::half_close_pipelined_quit_and_reset`; a real sender process
//! killed mid-file, with the receiver's files checked, in
//! `files_client.rs`.)

mod common_proc;
mod common_server;

use std::time::Duration;

use common_proc::{fd_count, set_reset_on_close, thread_count};
use common_server::{eventually, start, Raw};
use papo::{ServerConfig, ServerEvent};

#[test]
fn thousand_killed_clients_leak_nothing() {
    const CYCLES: usize = 1000;
    let server = start(ServerConfig {
        io_threads: 2,
        ..ServerConfig::default()
    });
    let addr = server.local_addr();
    let (mut watcher, _) = Raw::join_binary(addr, "watcher");
    watcher.sync_quiet();
    let threads_before = thread_count();
    let fds_before = fd_count();

    let mut kinds = [0usize; 4];
    let mut departures = 0usize;
    for cycle in 0..CYCLES {
        let (mut v, users) = Raw::join(addr, "vitima");
        assert_eq!(users, ["vitima", "watcher"], "cycle {cycle}");
        assert!(watcher.line().starts_with("JOIN vitima "), "cycle {cycle}");
        if cycle % 4 == 3 {
            // killed (RST) mid-file: a 100-byte file to everyone; its
            // first chunk (30 bytes) goes through, then 20 of the 50 bytes
            // of the second reach the server, then the reset.
            v.send("/file * 100 :dados.bin");
            let ok = v.expect("FILEOK ");
            let id: u64 = ok
                .split(' ')
                .nth(1)
                .and_then(|n| n.parse().ok())
                .expect("FILEOK <id>");
            v.send_raw(format!("/chunk {id} 30\n{}", "d".repeat(30)).as_bytes());
            v.expect(&format!("FILEACK {id} 30"));
            assert_eq!(
                watcher.line(),
                format!("FILE vitima {id} 100 :dados.bin"),
                "cycle {cycle}"
            );
            assert_eq!(watcher.line(), format!("CHUNK {id} 30"), "cycle {cycle}");
            let data: Vec<u8> = (0..31).map(|_| watcher.read_byte()).collect();
            assert_eq!(&data[..30], "d".repeat(30).as_bytes());
            let before = server.stats().bytes_received;
            let part = format!("/chunk {id} 50\n{}", "e".repeat(20));
            v.send_raw(part.as_bytes());
            let n = part.len() as u64;
            eventually("mid-chunk bytes read", || {
                server.stats().bytes_received >= before + n
            });
            set_reset_on_close(&v.stream);
            drop(v);
            let l = watcher.line();
            assert!(
                l.starts_with(&format!("FILEFAIL {id} :")),
                "cycle {cycle}: {l:?}"
            );
            kinds[3] += 1;
            let l = watcher.line();
            assert!(l.starts_with("LEFT vitima "), "cycle {cycle}: {l:?}");
            while let Some(ev) = server.next_event(Duration::ZERO) {
                count_departure(&ev, &mut departures);
            }
            continue;
        }
        v.send_raw(b":half a li");
        match cycle % 4 {
            0 => {
                // killed: reset (RST), both descriptors closed
                set_reset_on_close(&v.stream);
                drop(v);
            }
            1 => {
                // half-closed: FIN after half a line, still reading
                v.shutdown_write();
                v.expect_eof();
            }
            _ => {
                // closed (FIN) mid-line without reading
                drop(v);
            }
        }
        kinds[cycle % 3] += 1;
        let l = watcher.line();
        assert!(l.starts_with("LEFT vitima "), "cycle {cycle}: {l:?}");
        // Keep the event queue short.
        while let Some(ev) = server.next_event(Duration::ZERO) {
            count_departure(&ev, &mut departures);
        }
    }
    assert_eq!(kinds, [250, 250, 250, 250]);
    watcher.sync_quiet();
    assert_eq!(server.users(), ["watcher"]);
    eventually("connections back to one", || server.connection_count() == 1);
    // The server drops each socket as soon as it has seen the end; a reset
    // or a half-close leaves nothing lingering.
    eventually("file descriptors back", || fd_count() == fds_before);
    assert_eq!(thread_count(), threads_before, "threads leaked");
    let s = server.stats();
    assert_eq!(s.accepted, CYCLES as u64 + 1);
    assert_eq!(s.slow_consumers, 0);
    // Every victim's session ended as a departure (no error code).
    while departures < CYCLES {
        match server.next_event(common_server::WAIT) {
            Some(ev) => count_departure(&ev, &mut departures),
            None => panic!("only {departures} departures"),
        }
    }
    drop(server);
    eventually("server threads gone", || {
        common_proc::threads_named("papo-").is_empty()
    });
}

fn count_departure(ev: &ServerEvent, n: &mut usize) {
    if let ServerEvent::Disconnected {
        nick, code, reason, ..
    } = ev
    {
        assert_eq!(nick.as_deref(), Some("vitima"), "{ev:?}");
        assert_eq!(*code, None, "{reason}");
        *n += 1;
    }
}
