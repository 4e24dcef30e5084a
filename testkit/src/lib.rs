//! Test support for papo, kept out of the library (nothing here is linked
//! into `libpapo.so`/`libpapo.a`):
//!
//! - [`Hub`] (`hub.rs`): an in-memory host for the server's sans-I/O
//!   sessions ([`papo::server::session`]): N connections, each with its
//!   [`papo::server::session::Session`], its own framing and the bytes it
//!   was sent, routed between one another synchronously with the
//!   semantics of the I/O threads (`src/server/dispatch.rs` and
//!   `worker.rs`), a registry ([`papo::server::session::Directory`]), the
//!   server events, and a clock the test moves. It is the harness of
//!   `tests/session.rs` and of the `session` fuzz target.
//! - [`wire`]: reading what a server sends: lines and payload frames,
//!   checked to be well-formed.
//! - [`fuzz`]: the fuzz harnesses, one function per cargo-fuzz target
//!   (`fuzz/fuzz_targets/`, run by `scripts/fuzz.sh`), also run on stable
//!   over the seed corpus by `tests/fuzz_smoke.rs`.

#![warn(missing_docs)]

pub mod fuzz;
mod hub;
pub mod wire;

pub use hub::{ConnId, Hub, HubHost};
