//! The line/payload frame decoder (`papo::protocol::LineBuffer`) against a
//! reference model, whole, byte by byte and in random chunks:
//! `papo_testkit::fuzz::frame_decoder`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    papo_testkit::fuzz::frame_decoder(data);
});
