//! `Server::reconfigure` (what `papo-server` does on SIGHUP) on a real
//! server over loopback: the admission limits and the flood limit change
//! for what comes next, connections already open are kept, the limits
//! announced in `HELLO` are named as needing a restart and stay, and an
//! invalid configuration changes nothing.

mod common_server;

use common_server::{start, Raw};
use papo::{ErrorCode, ServerConfig};

/// A connection refused as the server is full: `HELLO`, `ERROR 12`, then
/// closed.
fn refused(addr: std::net::SocketAddr) {
    let mut c = Raw::connect_hello(addr);
    let l = c.line();
    assert!(l.starts_with("ERROR 12 "), "{l:?}");
    c.expect_eof();
}

/// The next line starting with `prefix`, the ones before it skipped
/// (arrivals).
fn until(c: &mut Raw, prefix: &str) -> String {
    loop {
        let l = c.line();
        if l.starts_with(prefix) {
            return l;
        }
        assert!(l.starts_with("JOIN "), "{l:?} before {prefix:?}");
    }
}

#[test]
fn max_clients_changes_for_new_connections_and_keeps_the_open_ones() {
    let cfg = ServerConfig {
        max_clients: 2,
        ..ServerConfig::default()
    };
    let server = start(cfg.clone());
    let addr = server.local_addr();
    let (mut ana, _) = Raw::join(addr, "ana");
    let (mut bob, _) = Raw::join(addr, "bob");
    refused(addr);

    let done = server
        .reconfigure(&ServerConfig {
            max_clients: 3,
            ..cfg.clone()
        })
        .expect("reconfigure");
    assert_eq!(done.applied, ["max_clients"]);
    assert!(done.needs_restart.is_empty(), "{done:?}");
    let (mut carla, _) = Raw::join(addr, "carla");
    refused(addr);

    // Lower than the clients online: they stay and chat; newcomers wait.
    server
        .reconfigure(&ServerConfig {
            max_clients: 1,
            ..cfg.clone()
        })
        .expect("reconfigure");
    refused(addr);
    carla.send(":ainda aqui");
    assert_eq!(until(&mut ana, "PUBLIC carla"), "PUBLIC carla :ainda aqui");
    assert_eq!(until(&mut bob, "PUBLIC carla"), "PUBLIC carla :ainda aqui");
    assert_eq!(server.user_count(), 3);
}

#[test]
fn max_clients_per_ip_counts_the_connections_already_open() {
    // Started without a per-address limit; two connections from 127.0.0.1.
    let server = start(ServerConfig::default());
    let addr = server.local_addr();
    let (_ana, _) = Raw::join(addr, "ana");
    let (_bob, _) = Raw::join(addr, "bob");
    let done = server
        .reconfigure(&ServerConfig {
            max_clients_per_ip: 2,
            ..ServerConfig::default()
        })
        .expect("reconfigure");
    assert_eq!(done.applied, ["max_clients_per_ip"]);
    refused(addr);
    server
        .reconfigure(&ServerConfig {
            max_clients_per_ip: 3,
            ..ServerConfig::default()
        })
        .expect("reconfigure");
    let (_carla, _) = Raw::join(addr, "carla");
}

#[test]
fn a_flood_limit_set_while_running_applies_to_clients_already_online() {
    // No flood limit at start; ana is online before it is set.
    let cfg = ServerConfig {
        flood_lines_per_sec: 0,
        ..ServerConfig::default()
    };
    let server = start(cfg.clone());
    let addr = server.local_addr();
    let (mut ana, _) = Raw::join(addr, "ana");
    let (mut obs, _) = Raw::join(addr, "obs");
    ana.expect("JOIN obs ");
    let done = server
        .reconfigure(&ServerConfig {
            flood_lines_per_sec: 1,
            flood_burst_lines: 5,
            ..cfg
        })
        .expect("reconfigure");
    assert_eq!(done.applied, ["flood_lines_per_sec", "flood_burst_lines"]);
    // Far more lines at once than the burst of 5: ana is a flooder now.
    ana.send_raw(":x\n".repeat(50).as_bytes());
    let l = ana.expect("ERROR 03");
    assert!(l.contains("flooding"), "{l:?}");
    // The observer got at most the burst, then ana's departure.
    let mut publics = 0;
    loop {
        let l = obs.line();
        if l == "PUBLIC ana :x" {
            publics += 1;
            continue;
        }
        assert!(l.starts_with("LEFT ana"), "{l:?}");
        break;
    }
    assert!(publics <= 5, "{publics} lines passed a burst of 5");
}

#[test]
fn limits_announced_in_hello_need_a_restart_and_stay() {
    let cfg = ServerConfig::default();
    let server = start(cfg.clone());
    let addr = server.local_addr();
    let mut before = Raw::connect(addr);
    let hello = before.line();
    let done = server
        .reconfigure(&ServerConfig {
            max_line_bytes: 1000,
            max_nick_chars: 8,
            max_clients: 100,
            ..cfg.clone()
        })
        .expect("reconfigure");
    assert_eq!(done.applied, ["max_clients"]);
    assert_eq!(done.needs_restart, ["max_line_bytes", "max_nick_chars"]);
    // New clients are told, and get, what the server started with.
    let mut after = Raw::connect(addr);
    assert_eq!(after.line(), hello);
    after.send("um_apelido_longo_de_20");
    after.expect("WELCOME um_apelido_longo_de_20 ");

    // Reconfiguring with what runs changes nothing and says so.
    let same = ServerConfig {
        max_clients: 100,
        ..cfg.clone()
    };
    let done = server.reconfigure(&same).expect("reconfigure");
    assert!(
        done.applied.is_empty() && done.needs_restart.is_empty(),
        "{done:?}"
    );
}

#[test]
fn an_invalid_configuration_changes_nothing() {
    let cfg = ServerConfig {
        max_clients: 1,
        ..ServerConfig::default()
    };
    let server = start(cfg.clone());
    let addr = server.local_addr();
    let e = server
        .reconfigure(&ServerConfig {
            max_clients: 0,
            ..cfg
        })
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArgument);
    assert!(e.detail().contains("max_clients"), "{e}");
    let (_ana, _) = Raw::join(addr, "ana");
    refused(addr);
}
