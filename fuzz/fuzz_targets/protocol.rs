//! The protocol parser and command dispatch, fed in random chunks:
//! `papo::protocol::fuzzing::protocol_session` (its documentation says
//! what the input bytes mean and what is checked).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    papo::protocol::fuzzing::protocol_session(data);
});
