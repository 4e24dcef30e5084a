//! Queue memory (issue 14): a broadcast is queued to its receivers as a
//! reference to one encoded copy, so the server's queued bytes grow with
//! distinct messages, not with receivers times messages; and the budget
//! for the whole server (`max_total_queue_bytes`) drops the clients
//! holding the most first, as slow consumers, while the others stay.

mod common_server;

use std::net::{SocketAddr, TcpStream};

use common_server::{eventually, start, wait_event, Raw};
use papo::{ErrorCode, ServerConfig, ServerEvent};

/// A TCP connection whose receive buffer is set to `rcvbuf` bytes before
/// `connect`, so that the kernel absorbs almost nothing for a client that
/// does not read.
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

/// Registers `nick` on a connection with a tiny receive buffer; the caller
/// then never reads it.
fn non_reader(addr: SocketAddr, nick: &str) -> Raw {
    let mut c = Raw::from_stream(connect_small(addr, 1024));
    c.label = nick.into();
    c.expect("HELLO ");
    c.send(nick);
    c.expect(&format!("WELCOME {nick} "));
    c.expect("USERS ");
    c
}

/// `n` public lines of about `size` bytes each, as one write.
fn publics(n: usize, size: usize, tag: &str) -> String {
    let filler = "p".repeat(size);
    (0..n).map(|k| format!(":{tag}{k} {filler}\n")).collect()
}

#[test]
fn two_hundred_non_readers_hold_one_copy_of_each_broadcast() {
    const READERS: usize = 200;
    const LINES: usize = 900; // within the default flood burst (1000)
                              // 7 MB of distinct lines: more than the kernel takes for one socket.
    const SIZE: usize = 8000;
    let server = start(ServerConfig {
        io_threads: 2,
        max_line_bytes: 10000,
        max_queue_bytes: 64 * 1024 * 1024,
        ..ServerConfig::default()
    });
    let addr = server.local_addr();
    let idle: Vec<Raw> = (0..READERS)
        .map(|k| non_reader(addr, &format!("idle{k}")))
        .collect();
    let (mut sender, _) = Raw::join(addr, "sender");
    sender.sync();
    sender.send_raw(publics(LINES, SIZE, "m").as_bytes());
    sender.sync();
    let distinct = LINES * (SIZE + "PUBLIC sender :m000 \n".len());
    // Every receiver holds most of it (the kernel takes a megabyte or two
    // per socket on loopback, however small the peer's receive buffer).
    eventually("the broadcasts are queued", || {
        server.stats().queued_bytes >= distinct / 2
    });
    let queued = server.stats().queued_bytes;
    assert!(
        queued < 2 * distinct,
        "{queued} bytes queued for {READERS} receivers of {distinct} distinct bytes"
    );
    let stats = server.stats();
    assert_eq!(stats.slow_consumers, 0);
    assert_eq!(stats.users, READERS + 1);
    drop(idle);
    // Once they are gone, nothing stays queued.
    eventually("the queues are freed", || {
        server.stats().queued_bytes < 64 * 1024
    });
}

#[test]
fn the_server_budget_drops_the_biggest_holder_first() {
    // Lines of 9 KB: 2.5 MB of public ones for everyone (under the
    // budget even before any socket took a byte), then 8 MB of private
    // ones for `big` alone (more than the kernel takes for one socket on
    // loopback): `big` holds the most when the server passes its budget,
    // and dropping it brings the server back under, as the public bytes
    // are held once for all the others.
    const SIZE: usize = 9000;
    const BUDGET: usize = 3_500_000;
    let server = start(ServerConfig {
        io_threads: 2,
        max_line_bytes: 10000,
        max_queue_bytes: 64 * 1024 * 1024,
        max_total_queue_bytes: BUDGET,
        flood_lines_per_sec: 0,
        ..ServerConfig::default()
    });
    let addr = server.local_addr();
    let big = non_reader(addr, "big");
    let small: Vec<Raw> = (0..3)
        .map(|k| non_reader(addr, &format!("small{k}")))
        .collect();
    let (mut sender, _) = Raw::join(addr, "sender");
    sender.sync();
    sender.send_raw(publics(280, SIZE, "m").as_bytes());
    sender.sync();
    assert_eq!(server.stats().slow_consumers, 0);
    let filler = "q".repeat(SIZE);
    let privates: String = (0..900).map(|k| format!("big:{k} {filler}\n")).collect();
    sender.send_raw(privates.as_bytes());
    sender.sync();
    let ev = wait_event(
        &server,
        "big dropped",
        |e| matches!(e, ServerEvent::Disconnected { nick: Some(n), .. } if n == "big"),
    );
    let ServerEvent::Disconnected { code, reason, .. } = ev else {
        unreachable!()
    };
    assert_eq!(code, Some(ErrorCode::ConnectionAborted));
    assert_eq!(reason, "slow consumer");
    // The others stay, with everything queued for them.
    sender.sync();
    let mut users = server.users();
    users.sort();
    assert_eq!(users, ["sender", "small0", "small1", "small2"]);
    assert_eq!(server.stats().slow_consumers, 1);
    let queued = server.stats().queued_bytes;
    assert!(queued <= BUDGET, "{queued} bytes queued");
    // What `big` still gets ends with ERROR 03 naming the budget, or a
    // reset (what could not be written was thrown away).
    let mut big = big;
    let rest = big.read_to_end();
    if let Some(last) = rest.last().filter(|l| l.starts_with("ERROR ")) {
        assert!(last.starts_with("ERROR 03 "), "{last}");
        assert!(last.contains("queued in all"), "{last}");
    }
    drop(small);
}
