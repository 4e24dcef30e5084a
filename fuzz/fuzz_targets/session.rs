//! The server's sessions (`papo::server::session`), the real rules with no
//! socket, hosted in memory by `papo_testkit::Hub`: up to three clients and
//! the clock, driven by a script, played whole and cut into pieces:
//! `papo_testkit::fuzz::session` (its documentation says what the input
//! bytes mean and what is checked).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    papo_testkit::fuzz::session(data);
});
