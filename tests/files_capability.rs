//! PROTOCOL.md "Binary capability" and "Slow receivers" over real loopback
//! sockets: a person at `nc` (a raw socket that never says `/binary on`)
//! beside library clients (which do), and a public file whose receiver
//! stops reading.

mod common_server;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common_server::{start, Raw};
use papo::server::session::{SLOW_RECEIVER_PATIENCE, TOO_SLOW};
use papo::server::Clock;
use papo::{Client, Event, ServerConfig};

const WAIT: Duration = Duration::from_secs(20);

/// The next event of `c` matching `pred` (others are skipped).
fn wait_for(c: &Client, what: &str, pred: impl Fn(&Event) -> bool) -> Event {
    let end = Instant::now() + WAIT;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no {what} within {WAIT:?}");
        match c.next_event(left) {
            Ok(e) if pred(&e) => return e,
            Ok(_) => {}
            Err(e) => panic!("{what}: {e}"),
        }
    }
}

fn temp_file(name: &str, content: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::Builder::new()
        .prefix("papo-caps-")
        .tempdir()
        .expect("temporary folder");
    let path = dir.path().join(name);
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(content))
        .expect("write the file");
    (dir, path)
}

/// A file and binary messages sent by a library client: the other library
/// client gets their bytes, the `nc` user one readable line each and no
/// byte of them; a private file to the `nc` user fails for its sender; the
/// `nc` user's chat is unaffected.
#[test]
fn an_nc_user_gets_one_line_per_file_and_binary_message() {
    let server = start(ServerConfig::default());
    let addr = server.local_addr();
    let (mut nc, _) = Raw::join(addr, "nc");
    let ana = Client::connect("127.0.0.1", server.port(), "ana").expect("ana connects");
    let bob = Client::connect("127.0.0.1", server.port(), "bob").expect("bob connects");
    let downloads = tempfile::tempdir().expect("download folder");
    bob.set_download_dir(Some(downloads.path().to_path_buf()));

    // Bytes that would wreck a terminal: clear screen, title, NULs.
    let mut content = b"\x1b[2J\x1b]0;owned\x07\x00\x00".to_vec();
    content.extend((0..100_000u32).map(|k| (k % 251) as u8));
    let (_dir, path) = temp_file("foto.bin", &content);
    let id = ana.send_file(None, &path).expect("file accepted");
    let Event::FileReceived { path: saved, .. } = wait_for(&bob, "bob's FileReceived", |e| {
        matches!(e, Event::FileReceived { .. })
    }) else {
        unreachable!()
    };
    assert_eq!(std::fs::read(saved).expect("saved file"), content);

    ana.send_bytes(None, b"\x1b[2J\x00oi")
        .expect("bytes to everyone");
    let got = wait_for(&bob, "bob's Bytes", |e| matches!(e, Event::Bytes { .. }));
    assert!(matches!(got, Event::Bytes { data, .. } if data == b"\x1b[2J\x00oi"));
    ana.send_bytes(Some("nc"), b"\x07\x07")
        .expect("bytes to nc: SENT");

    let mut lines = nc.sync();
    lines.retain(|l| !l.starts_with("JOIN "));
    assert_eq!(
        lines,
        [
            format!(
                "FILEOFFER ana {id} {} :ana oferece um arquivo de {} bytes; receba-o com um \
                 cliente papo (offers a file; needs a papo client): foto.bin",
                content.len(),
                content.len()
            ),
            "BYTESNOTE ana 7 :ana enviou uma mensagem binária de 7 bytes; leia-a com um cliente \
             papo (sent a binary message; needs a papo client)"
                .to_owned(),
            "BYTESNOTE ana 2 private :ana enviou uma mensagem binária de 2 bytes; leia-a com um \
             cliente papo (sent a binary message; needs a papo client)"
                .to_owned(),
        ]
    );

    // A private file to nc: the sender is stopped at its first chunk after
    // nc's host saw the header (a file big enough not to be forwarded
    // whole before that), nc gets the offer only.
    let big = vec![b'y'; 4 << 20];
    let (_dir2, big_path) = temp_file("grande.bin", &big);
    let id2 = ana.send_file(Some("nc"), &big_path).expect("file accepted");
    let failed = wait_for(
        &ana,
        "ana's FileSendFailed",
        |e| matches!(e, Event::FileSendFailed { id, .. } | Event::FileSent { id, .. } if *id == id2),
    );
    match failed {
        Event::FileSendFailed { id, reason, .. } => {
            assert_eq!(id, id2);
            assert!(reason.contains("does not accept binary frames"), "{reason}");
        }
        other => panic!("a private file to nc was sent whole: {other:?}"),
    }
    let lines = nc.sync();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with(&format!("FILEOFFER ana {id2} {} private :", big.len())),
        "{lines:?}"
    );

    // nc's chat is as before.
    nc.send(":olá");
    let got = wait_for(&bob, "bob's Public", |e| matches!(e, Event::Public { .. }));
    assert!(matches!(got, Event::Public { from, text, .. } if from == "nc" && text == "olá"));
    ana.send(Some("nc"), "oi nc").expect("private to nc");
    assert_eq!(nc.sync(), ["PRIVATE ana :oi nc"]);
}

/// A socket with a small receive buffer, so that a receiver that stops
/// reading holds back the sender soon.
fn connect_small(to: SocketAddr) -> TcpStream {
    let rcvbuf: libc::c_int = 4096;
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
        let s = TcpStream::from_raw_fd(fd);
        s.set_read_timeout(Some(WAIT)).expect("timeout");
        s
    }
}

/// One receiver of a public file stops reading: after
/// `SLOW_RECEIVER_PATIENCE` (on the server's manual clock) it is taken off
/// the file with `FILEFAIL`, the other receiver gets the whole file, and
/// the slow one's chat goes on.
#[test]
fn a_receiver_that_stops_reading_is_taken_off_a_public_file() {
    let clock = Clock::manual();
    let server = start(ServerConfig {
        max_queue_bytes: 64 * 1024,
        clock: clock.clone(),
        ..ServerConfig::default()
    });
    let addr = server.local_addr();
    let mut slow = Raw::from_stream(connect_small(addr));
    slow.label = "slow".into();
    slow.expect("HELLO ");
    slow.send("/binary on");
    slow.expect("BINARY on ");
    slow.send("slow");
    slow.expect("WELCOME slow ");
    slow.expect("USERS ");
    let ana = Client::connect("127.0.0.1", server.port(), "ana").expect("ana connects");
    let bob = Client::connect("127.0.0.1", server.port(), "bob").expect("bob connects");
    let downloads = tempfile::tempdir().expect("download folder");
    bob.set_download_dir(Some(downloads.path().to_path_buf()));
    slow.sync(); // slow reads nothing from now on

    // 8 MiB without LF: far more than the sockets and queues hold.
    let content = vec![b'x'; 8 << 20];
    let (_dir, path) = temp_file("grande.bin", &content);
    let id = ana.send_file(None, &path).expect("file accepted");
    // Let the transfer run into slow's full socket, then move the rules'
    // clock past the patience, twice (each move wakes the I/O threads; the
    // sender's timer ticks every 15 s with keepalive's defaults), staying
    // well short of keepalive's 120 s.
    std::thread::sleep(Duration::from_millis(500));
    for _ in 0..2 {
        clock.advance(SLOW_RECEIVER_PATIENCE + Duration::from_secs(6));
        std::thread::sleep(Duration::from_millis(300));
    }
    let received = wait_for(&bob, "bob's FileReceived", |e| {
        matches!(e, Event::FileReceived { .. })
    });
    let Event::FileReceived { path: saved, .. } = received else {
        unreachable!()
    };
    assert_eq!(std::fs::read(saved).expect("saved").len(), content.len());
    wait_for(&ana, "ana's FileSent", |e| {
        matches!(e, Event::FileSent { .. })
    });
    ana.send(None, "fim").expect("public");

    // slow: what was queued for it, then FILEFAIL, then the chat.
    slow.expect(&format!("FILE ana {id} {} :grande.bin", content.len()));
    let mut got = 0usize;
    let fail = loop {
        let l = slow.line();
        if l.starts_with("CHUNK ") || l.is_empty() || l.bytes().all(|b| b == b'x') {
            got += l.len();
            continue;
        }
        break l;
    };
    assert_eq!(fail, format!("FILEFAIL {id} :{TOO_SLOW}"));
    assert!(got < content.len(), "slow got {got} bytes");
    assert_eq!(slow.expect("PUBLIC "), "PUBLIC ana :fim");
}
