//! Hostile input against the server's resources (issue 6): no CPU spin on
//! hostile or half-dead connections, and bounded memory under endless
//! lines. Measured from /proc (the CPU time of the server's own threads,
//! the process's resident memory), so each test here runs alone: they
//! share one lock, and this file holds nothing else.

mod common_proc;
mod common_server;

use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use common_proc::{cpu_ticks, random_bytes, rss_kib, set_reset_on_close, threads_named};
use common_server::{eventually, start, Raw};
use papo::server::Clock;
use papo::ServerConfig;

/// One test at a time: they measure the whole process.
static ALONE: Mutex<()> = Mutex::new(());

fn alone() -> std::sync::MutexGuard<'static, ()> {
    ALONE.lock().unwrap_or_else(|p| p.into_inner())
}

/// `GET / HTTP/1.1`, a TLS ClientHello, random bytes, an endless line, a
/// half-closed and a reset connection, and clients that stop reading:
/// once the server has closed them (while they still linger, unread), its
/// threads use no CPU. A spinning thread would burn about 100 ticks per
/// second; the bound allows 15 for a loaded machine's noise.
#[test]
fn hostile_connections_cost_no_cpu() {
    let _g = alone();
    let clock = Clock::manual();
    let server = start(ServerConfig {
        io_threads: 2,
        registration_timeout: Duration::from_secs(3600),
        clock: clock.clone(),
        ..ServerConfig::default()
    });
    let addr = server.local_addr();
    let (mut ana, _) = Raw::join(addr, "ana");

    let mut keep = Vec::new();
    let mut http = Raw::connect_hello(addr);
    http.send_raw(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    keep.push(http);
    let mut tls = Raw::connect_hello(addr);
    let mut hello = vec![0x16, 0x03, 0x01, 0x00, 0x40];
    hello.extend(random_bytes(3, 0x40));
    tls.send_raw(&hello);
    keep.push(tls);
    let noise = Raw::connect_hello(addr);
    let mut w = noise.stream.try_clone().expect("clone");
    let pour = std::thread::spawn(move || {
        let _ = w.write_all(&random_bytes(11, 256 * 1024));
    });
    keep.push(noise);
    let endless = Raw::connect_hello(addr);
    let mut w = endless.stream.try_clone().expect("clone");
    let pour2 = std::thread::spawn(move || {
        let _ = w.write_all(&vec![b'z'; 1 << 20]);
    });
    keep.push(endless);
    let half = Raw::connect_hello(addr);
    half.shutdown_write();
    keep.push(half);
    let (reg_half, _) = Raw::join(addr, "meio");
    reg_half.shutdown_write();
    keep.push(reg_half);
    let (rst, _) = Raw::join(addr, "rst");
    set_reset_on_close(&rst.stream);
    drop(rst);
    let _ = pour.join();
    let _ = pour2.join();
    // Every hostile one is closed by the server (none is counted any more);
    // the sockets linger on our side, unread.
    eventually("hostile ones closed", || server.connection_count() == 1);

    // The server's threads are there to be measured (one acceptor, two I/O).
    assert!(threads_named("papo-").len() >= 3, "{:?}", threads_named(""));
    let before = cpu_ticks("papo-");
    std::thread::sleep(Duration::from_millis(1500));
    let used = cpu_ticks("papo-") - before;
    println!("server threads: {before} ticks before, {used} while idle");
    assert!(
        used <= 15,
        "the server's threads used {used} ticks in 1.5 s while idle"
    );
    // ana was served all along and still is.
    let seen = ana.sync();
    assert!(
        seen.iter()
            .all(|l| l.starts_with("JOIN ") || l.starts_with("LEFT ")),
        "{seen:?}"
    );
    for mut c in keep {
        let rest = c.read_to_end();
        assert!(rest.iter().all(|l| l.starts_with("ERROR ")
            || l.starts_with("WELCOME ")
            || l.starts_with("USERS ")
            || l.starts_with("JOIN ")
            || l.starts_with("LEFT ")));
    }
}

/// Endless lines do not grow the server's memory: 64 MiB without a line
/// feed, with the discard limit raised to 1 GiB so that the connection is
/// not closed, leaves the resident size within 16 MiB of where it was, and
/// the connection then gets `ERROR 07` and stays usable. And 32 clients
/// each sending 1 MiB without a line feed at once (default limits) are each
/// told `ERROR 07` and closed, also within 16 MiB.
#[test]
fn endless_lines_keep_memory_bounded() {
    let _g = alone();
    let server = start(ServerConfig {
        io_threads: 2,
        max_discard_bytes: 1 << 30,
        ..ServerConfig::default()
    });
    let addr = server.local_addr();
    let (mut ana, _) = Raw::join(addr, "ana");
    let (mut big, _) = Raw::join(addr, "big");
    ana.sync();
    let base = rss_kib();
    let chunk = vec![b'y'; 64 * 1024];
    let before = server.stats().bytes_received;
    for _ in 0..1024 {
        big.send_raw(&chunk);
    }
    eventually("64 MiB read", || {
        server.stats().bytes_received >= before + (64 << 20)
    });
    let grown = rss_kib().saturating_sub(base);
    println!(
        "64 MiB discarded: {grown} KiB more resident; server CPU {} ticks",
        cpu_ticks("papo-")
    );
    assert!(grown < 16 * 1024, "resident size grew {grown} KiB");
    big.send_raw(b"\n:after\n");
    assert!(big.line().starts_with("ERROR 07 * :"));
    assert_eq!(ana.line(), "PUBLIC big :after");
    big.sync_quiet();
    drop(server);

    let server = start(ServerConfig {
        io_threads: 2,
        ..ServerConfig::default()
    });
    let addr = server.local_addr();
    let mib = std::sync::Arc::new(vec![b'x'; 1 << 20]);
    let base = rss_kib();
    let handles: Vec<_> = (0..32)
        .map(|_| {
            let mib = std::sync::Arc::clone(&mib);
            std::thread::spawn(move || {
                let mut c = Raw::connect_hello(addr);
                let mut w = c.stream.try_clone().expect("clone");
                let pour = std::thread::spawn(move || {
                    let _ = w.write_all(&mib);
                });
                let l = c.line();
                assert!(l.starts_with("ERROR 07 * :"), "{l:?}");
                let _ = c.read_to_end();
                let _ = pour.join();
            })
        })
        .collect();
    for h in handles {
        h.join().expect("client");
    }
    let grown = rss_kib().saturating_sub(base);
    assert!(grown < 16 * 1024, "resident size grew {grown} KiB");
    eventually("all closed", || server.connection_count() == 0);
}
