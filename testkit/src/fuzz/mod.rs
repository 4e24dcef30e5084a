//! The fuzz harnesses: one function per cargo-fuzz target
//! (`fuzz/fuzz_targets/`, run by `scripts/fuzz.sh`), also run on stable by
//! `tests/fuzz_smoke.rs` over the seed corpus (`fuzz/corpus/<target>/`) and
//! fixed pseudo-random inputs.
//!
//! Each harness takes arbitrary bytes, never panics on its own, and panics
//! (an `assert!`) when the code under test breaks a property: that is what
//! the fuzzer looks for.
//!
//! - [`frame_decoder`] (target `frame`): [`papo::protocol::LineBuffer`],
//!   lines and payloads, against a reference model, however the stream is
//!   cut.
//! - [`session`] (target `session`): the server's real sessions
//!   ([`papo::server::session`]) hosted by a [`crate::Hub`]: up to three
//!   clients, the clock, every line they get checked, and the whole
//!   transcript the same however the input is cut.
//! - [`file_name`] (target `file_name`): the name-sanitising function of
//!   received files ([`papo::protocol::safe_file_name`]) against its
//!   promises.
//! - [`server_session`] (target `server`): the real server
//!   ([`papo::Server`], its I/O threads) over loopback sockets.

mod file_name;
mod frame;
mod server;
mod session;

pub use file_name::file_name;
pub use frame::frame_decoder;
pub use server::{server_session, MAX_SERVER_INPUT};
pub use session::{session, SESSION_PASSWORD};

/// A pseudo-random sequence of chunk lengths (1..=max) adding up to
/// `total`, from a seed (xorshift).
pub fn chunk_lengths(seed: u64, total: usize, max: usize) -> Vec<usize> {
    let mut x = seed | 1;
    let mut out = Vec::new();
    let mut left = total;
    while left > 0 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let n = (x as usize % max.max(1)) + 1;
        let n = n.min(left);
        out.push(n);
        left -= n;
    }
    out
}

/// `data` cut into pieces of the given lengths (the rest, if any, as one
/// more piece).
pub fn cut<'a>(data: &'a [u8], lengths: &[usize]) -> Vec<&'a [u8]> {
    let mut parts = Vec::with_capacity(lengths.len());
    let mut rest = data;
    for &n in lengths {
        let (a, b) = rest.split_at(n.min(rest.len()));
        parts.push(a);
        rest = b;
    }
    if !rest.is_empty() {
        parts.push(rest);
    }
    parts
}
