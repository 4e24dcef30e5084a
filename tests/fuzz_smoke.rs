//! Fuzz smoke test (issue 6): the three fuzz harnesses
//! (`papo::protocol::fuzzing`) on stable, in `cargo test`: first every file
//! of the seed corpus (`fuzz/corpus/<target>/`, which also keeps every
//! input a fuzzer ever found to fail), then a few thousand pseudo-random
//! inputs from a fixed seed, built from the protocol's interesting bytes.
//! The long runs are `scripts/fuzz.sh` (cargo-fuzz, nightly).

use std::fs;
use std::path::PathBuf;

use papo::protocol::fuzzing::{file_name, frame_decoder, protocol_session};

const RANDOM_INPUTS: usize = 3000;

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

#[test]
fn protocol_session_corpus_and_random() {
    for (name, data) in corpus("protocol") {
        println!("protocol corpus {name}");
        protocol_session(&data);
    }
    let mut rng = Rng(0xfeed_f00d_dead_beef);
    for _ in 0..RANDOM_INPUTS {
        protocol_session(&random_input(&mut rng));
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
