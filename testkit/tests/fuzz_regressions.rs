//! Inputs a fuzzer found, kept as tests next to the harnesses that found
//! them (each is also in `fuzz/corpus/<target>/`).

use papo::protocol::{safe_file_name, FALLBACK_FILE_NAME};
use papo_testkit::fuzz::file_name;

/// Found by the `file_name` fuzz target: a long name whose stem only
/// became a Windows device name (`CONOUT$`) when it was cut to
/// `MAX_FILE_NAME_BYTES` kept no `_` in front.
#[test]
fn a_device_name_made_by_cutting_gets_its_underscore() {
    let mut announced = String::from("CONOUT$");
    announced.push_str(&" ".repeat(232));
    announced.push_str("LPT");
    announced.push_str(&" ".repeat(64));
    announced.push_str(". *   * \u{fffd}");
    let name = safe_file_name(&announced);
    assert!(name.starts_with("_CONOUT$."), "{name:?}");
    file_name(announced.as_bytes());
}

/// Found by the `file_name` fuzz target: a long name that was nothing
/// but one forbidden character and spaces came out as a lone `_` (which a
/// short one never does), so sanitising it again changed it.
#[test]
fn a_lone_underscore_left_by_cutting_is_the_fallback() {
    let announced = format!("*{}\u{fffd}", " ".repeat(218));
    assert_eq!(safe_file_name(&announced), FALLBACK_FILE_NAME);
    file_name(announced.as_bytes());
}

/// Windows also reserves COM¹-³ and LPT¹-³ (superscript digits); a Unicode
/// space after `NUL` is no device name (Windows drops only ASCII spaces and
/// dots).
#[test]
fn superscript_device_names_and_unicode_spaces() {
    assert_eq!(safe_file_name("COM¹.txt"), "_COM¹.txt");
    assert_eq!(safe_file_name("lpt³"), "_lpt³");
    assert_eq!(safe_file_name("NUL\u{2000}.x"), "NUL\u{2000}.x");
    file_name("COM².log".as_bytes());
}

/// Found by the `session` fuzz target: a read that started with 0x16 after
/// a first line at the prompt was taken for a TLS handshake, the same bytes
/// read at once for a nickname (the answer depended on the cut).
#[test]
fn tls_is_the_first_byte_only() {
    let mut input = vec![0x00, 0xff, 0x0c, 0x00];
    input.extend_from_slice(b"/presence on\n\x16\x03\x01\x00\x05hello\n");
    papo_testkit::fuzz::session(&input);
}
