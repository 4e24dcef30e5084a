//! The real server over loopback, fed in random chunks:
//! `papo_testkit::fuzz::server_session` (its documentation says what the
//! input bytes mean and what is checked). Unlike `session`, which hosts the
//! sessions in memory, this one runs `papo::Server` itself, its I/O threads
//! and inboxes: slower (a connection per input), but it is the code that
//! serves users.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    papo_testkit::fuzz::server_session(data);
});
