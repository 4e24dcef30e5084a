//! The name-sanitising function of received files
//! (`papo::protocol::safe_file_name`) against its promises:
//! `papo_testkit::fuzz::file_name`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    papo_testkit::fuzz::file_name(data);
});
