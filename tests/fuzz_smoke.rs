//! Fuzz smoke test: the four fuzz harnesses (`papo_testkit::fuzz`, the
//! test-support crate in testkit/) on stable, in `cargo test`: first every
//! file of the seed corpus (`fuzz/corpus/<target>/`, which also keeps every
//! input a fuzzer ever found to fail), then pseudo-random inputs from a
//! fixed seed, built from the protocol's interesting bytes: a few thousand
//! for the frame decoder and file names, fewer for `session` (each plays a
//! script twice through real sessions in memory), a few hundred for
//! `server_session`, which talks to real servers over loopback sockets.
//! The long runs are `scripts/fuzz.sh` (cargo-fuzz, nightly).

use std::fs;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

use papo::protocol::HELP_LINES;
use papo_testkit::fuzz::{file_name, frame_decoder, server_session, session};

const RANDOM_INPUTS: usize = 3000;
/// Each plays a script of up to three clients twice through a hub.
const RANDOM_SESSION_INPUTS: usize = 1500;
/// Each is a connection to a real server and a `/ping` round trip, about a
/// millisecond: a few hundred keep the test to a second or so.
const RANDOM_SERVER_INPUTS: usize = 300;

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<(String, Vec<u8>)> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let data = fs::read(e.path()).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, data)
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no seed corpus in {}", dir.display());
    files
}

/// xorshift64*: the same inputs on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Pieces a hostile client would combine.
const PIECES: &[&[u8]] = &[
    b"\n",
    b"\r\n",
    b"\r",
    b":",
    b" ",
    b"\t",
    b"/",
    b"\\",
    b"*",
    b",",
    b"\0",
    b"\x1b[2K",
    b"\x7f",
    b"ana",
    b"Bob",
    b"quit",
    b"{quit}",
    b"/quit",
    b"/nick ",
    b"/list",
    b"/ping ",
    b"/pong",
    b"/help",
    b"PUBLIC bob :",
    b"ERROR 03 * :",
    b"GET / HTTP/1.1",
    b"\xc3\xa9",
    b"\xf0\x9d\x84\x9e",
    b"\xe2\x80\xa8",
    b"\xc2\x85",
    b"\xff",
    b"\xc3",
    b"\xed\xa0\x80",
    b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
];

fn random_input(rng: &mut Rng) -> Vec<u8> {
    let mut v = Vec::new();
    for _ in 0..4 {
        v.push(rng.next() as u8);
    }
    let pieces = rng.below(60);
    for _ in 0..pieces {
        if rng.below(8) == 0 {
            v.push(rng.next() as u8);
        } else {
            v.extend_from_slice(PIECES[rng.below(PIECES.len())]);
        }
    }
    v
}

#[test]
fn frame_decoder_corpus_and_random() {
    for (name, data) in corpus("frame") {
        println!("frame corpus {name}");
        frame_decoder(&data);
    }
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    for _ in 0..RANDOM_INPUTS {
        frame_decoder(&random_input(&mut rng));
    }
}

/// Pieces of what clients of a session send, on top of [`PIECES`]: the
/// script's instructions (`FF b` switches to client b, `FF e` closes,
/// `FF t n` waits n seconds), registration, labels, presence, the
/// transfer commands and their payloads.
const SESSION_PIECES: &[&[u8]] = &[
    b"\xffa",
    b"\xffb",
    b"\xffc",
    b"\xffe",
    b"\xfft\x01",
    b"\xfft\x0a",
    b"\xfft\x1e",
    b"ana\n",
    b"bob\n",
    b"ana:",
    b"bob:",
    b"/pass fuzz\n",
    b"/presence off\n",
    b"/presence on\n",
    b"@7 ",
    b"@x.y-z ",
    b"@ ",
    b"/bytes ",
    b"/file ",
    b"/chunk ",
    b"/fileend ",
    b"/fileabort ",
    b"/chunk 1 5\nabcde",
    b"/file * 5 :a.txt\n",
    b"/file bob 5 :b.txt\n",
    b"/file ana 300 :big\n",
    b"/chunk 1 200\n",
    b"/fileend 1\n",
    b"/bytes * 3\nxyz",
    b"/file bob 5 :b.txt\n/chunk 1 5\nabcde/fileend 1\n",
    b"/file * 10 :x\n/chunk 1 4\n0123/chunk 1 6\n456789\n/fileend 1\n",
    b"/file ana 300 :self\n/chunk 1 300\n",
    b"/file * 300 :all\n/chunk 1 150\n",
    b"/file * 1000 :big\n/chunk 1 999\n",
    b"/chunk 2 150\n",
    b"/fileend 2\n",
    b"/fileabort 1\n",
    b"* ",
    b"1",
    b"5",
    b"0",
    b"12 ",
    b"99999999999999999999",
    b" :a.txt",
    b":hi\n",
    b"/list\n",
    b"/nick ",
];

/// A payload's worth of bytes: long runs, LFs and bytes of every value.
const FILLER: &[u8] = &[b'x'; 400];

fn random_session_input(rng: &mut Rng) -> Vec<u8> {
    let mut v = Vec::new();
    for _ in 0..4 {
        v.push(rng.next() as u8);
    }
    // Register first, more often than not: that is where most of the
    // rules are (profiles 2, 5 and 6 want the password before).
    match rng.below(4) {
        0 => {}
        1 => v.extend_from_slice(b"/pass fuzz\nana\n\xffb/pass fuzz\nbob\n\xffa"),
        _ => v.extend_from_slice(b"ana\n\xffbbob\n\xffa"),
    }
    for _ in 0..rng.below(60) {
        match rng.below(10) {
            0 => v.push(rng.next() as u8),
            1..=3 => v.extend_from_slice(PIECES[rng.below(PIECES.len())]),
            4 => v.extend_from_slice(&FILLER[..rng.below(FILLER.len())]),
            _ => v.extend_from_slice(SESSION_PIECES[rng.below(SESSION_PIECES.len())]),
        }
    }
    v
}

#[test]
fn session_corpus_and_random() {
    for (name, data) in corpus("session") {
        println!("session corpus {name}");
        session(&data);
    }
    let mut rng = Rng(0xfeed_f00d_dead_beef);
    for _ in 0..RANDOM_SESSION_INPUTS {
        session(&random_session_input(&mut rng));
    }
}

#[test]
fn file_name_corpus_and_random() {
    for (name, data) in corpus("file_name") {
        println!("file_name corpus {name}");
        file_name(&data);
    }
    let mut rng = Rng(0x5eed_f11e_0000_0001);
    for _ in 0..RANDOM_INPUTS {
        let mut v = Vec::new();
        for _ in 0..rng.below(40) {
            match rng.below(6) {
                0 => v.push(rng.next() as u8),
                1 => v.extend_from_slice(b".."),
                2 => v.extend_from_slice(["/", "\\", ":", " ", "."][rng.below(5)].as_bytes()),
                3 => v.extend_from_slice(
                    ["CON", "nul", "COM1", "lpt9", "AUX"][rng.below(5)].as_bytes(),
                ),
                4 => v.extend_from_slice("é\u{202e}\u{200f}𝄞".as_bytes()),
                _ => v.extend_from_slice(&b"abcdefghij".repeat(1 + rng.below(30))),
            }
        }
        file_name(&v);
    }
}

/// Pieces of what a client of the real server sends, on top of [`PIECES`]:
/// the nickname prompt, the password, the transfer commands and their
/// payloads, the control client's nickname (`ctl`).
const SERVER_PIECES: &[&[u8]] = &[
    b"ana\n",
    b"ctl",
    b"ctl:",
    b"ana:",
    b"/pass fuzz\n",
    b"/presence off",
    b"/presence on",
    b"/bytes ",
    b"/file ",
    b"/chunk ",
    b"/fileend ",
    b"/fileabort ",
    b"* ",
    b"ana ",
    b"ctl ",
    b"1",
    b"5",
    b"0",
    b"12 ",
    b"99999999999999999999",
    b" :a.txt",
    b"hello",
    b":hi\n",
];

fn random_server_input(rng: &mut Rng) -> Vec<u8> {
    let mut v = Vec::new();
    for _ in 0..4 {
        v.push(rng.next() as u8);
    }
    // Register first, more often than not: that is where most of the
    // dispatch is (server 2 wants the password before).
    match rng.below(4) {
        0 => {}
        1 => v.extend_from_slice(b"/pass fuzz\nana\n"),
        _ => v.extend_from_slice(b"ana\n"),
    }
    for _ in 0..rng.below(40) {
        match rng.below(10) {
            0 => v.push(rng.next() as u8),
            1..=4 => v.extend_from_slice(PIECES[rng.below(PIECES.len())]),
            _ => v.extend_from_slice(SERVER_PIECES[rng.below(SERVER_PIECES.len())]),
        }
    }
    v
}

#[test]
fn server_session_corpus_and_random() {
    for (name, data) in corpus("server") {
        println!("server corpus {name}");
        server_session(&data);
    }
    let mut rng = Rng(0x5e4e_5e4e_0000_0006);
    for _ in 0..RANDOM_SERVER_INPUTS {
        server_session(&random_server_input(&mut rng));
    }
}

fn set_rcvbuf(stream: &TcpStream, bytes: libc::c_int) {
    use std::os::fd::AsRawFd;
    // SAFETY: setsockopt on a descriptor we own, with a pointer to a local.
    let r = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            &bytes as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0, "setsockopt SO_RCVBUF");
}

/// Found by the `server` harness (its corpus keeps the input:
/// fuzz/corpus/server/regression-reset-after-half-close): a client that
/// sends its requests and shuts its write side (as `nc -N` does) must get
/// every answer, then the end of the stream. The server used to reset such
/// a connection instead of closing it whenever the kernel still held bytes
/// the client had not acknowledged when the server removed it (right after
/// its `FIN` it always does, for a moment), which destroyed the answers not
/// yet delivered: here 32 KiB of about 200 KiB arrived, then ECONNRESET.
/// (Fixed in main by cdc63fc, found there by faults_shutdown under load.)
/// A small receive buffer on the client makes it certain: the server's
/// last answers sit in its kernel's send buffer when it removes the
/// connection.
#[test]
fn regression_half_closed_client_gets_every_answer_then_eof() {
    use papo::{Server, ServerConfig};
    let server = Server::start("127.0.0.1", 0, ServerConfig::default()).expect("server starts");
    let mut s = TcpStream::connect(server.local_addr()).expect("connect");
    set_rcvbuf(&s, 4096);
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    const HELPS: usize = 200;
    let mut input = b"ana\n".to_vec();
    for _ in 0..HELPS {
        input.extend_from_slice(b"/help\n");
    }
    s.write_all(&input).expect("write");
    s.shutdown(Shutdown::Write).expect("half-close");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => panic!(
                "after {} bytes: {e} (the server did not close cleanly)",
                got.len()
            ),
        }
    }
    let per_help = HELP_LINES.len();
    let text = String::from_utf8(got).expect("UTF-8");
    let helps = text.lines().filter(|l| l.starts_with("HELP :")).count();
    assert_eq!(helps, HELPS * per_help, "HELP lines received");
    assert!(text.ends_with('\n'), "the stream ends with a whole line");
}
