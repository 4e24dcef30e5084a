//! The real server's command dispatch over loopback, fed in random chunks:
//! `papo::protocol::fuzzing::server_session` (its documentation says what
//! the input bytes mean and what is checked). Unlike `protocol`, which
//! checks a model of the dispatch, this one runs `papo::Server` itself:
//! slower (a connection per input), but it is the code that serves users.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    papo::protocol::fuzzing::server_session(data);
});
