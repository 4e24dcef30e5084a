//! Functions that need no handle: error texts, the version, and the panic
//! test hook.

use std::ffi::{c_char, c_int};
use std::panic::catch_unwind;

use super::boundary;
use crate::error::ErrorCode;

/// The text of a return code: `"success"` for 0, the seed's Portuguese
/// words (with an English gloss) for 1..5, a short text for 6..19, and
/// `"unknown error code"` for any other number.
///
/// Ownership: the string is static (UTF-8, NUL-terminated); never free it.
/// Never returns NULL.
///
/// Thread safety: may be called from any thread at any time.
#[no_mangle]
pub extern "C" fn papo_strerror(code: c_int) -> *const c_char {
    let text = catch_unwind(|| {
        if code == 0 {
            c"success"
        } else {
            ErrorCode::from_i32(code).map_or(c"unknown error code", ErrorCode::c_text)
        }
    });
    text.unwrap_or(c"unknown error code").as_ptr()
}

/// The library's version, e.g. `"0.1.0"`; the same as PAPO_VERSION_STRING
/// for the header the program was compiled with, which may differ from the
/// library loaded at run time.
///
/// Ownership: static; never free it. Never returns NULL.
///
/// Thread safety: may be called from any thread at any time.
#[no_mangle]
pub extern "C" fn papo_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// TEST ONLY: panics inside the library on purpose, inside the same panic
/// boundary as every other function, and so returns PAPO_ERR_PANIC (16).
/// It exists so that tests can prove that a panic never unwinds into the
/// caller and that the process lives on; a program has no use for it. It
/// touches no handle and no global state (the panic message is printed on
/// stderr by Rust's default panic hook).
///
/// Returns: always PAPO_ERR_PANIC.
///
/// Thread safety: may be called from any thread at any time.
#[no_mangle]
pub extern "C" fn papo_debug_force_panic() -> c_int {
    boundary(|| panic!("papo_debug_force_panic: deliberate panic (test hook)"))
}
