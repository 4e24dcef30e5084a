//! Functions that need no handle: error texts, the version, and (only in a
//! build with the `test-hooks` feature) the panic test hook.

use std::ffi::{c_char, c_int};
use std::panic::catch_unwind;

use crate::error::ErrorCode;

/// The text of a return code: `"success"` for 0, the seed's Portuguese
/// words (with an English gloss) for 1..5, a short text for papo's own
/// codes (6 and up), and `"unknown error code"` for any other number.
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

/// TEST ONLY, not part of the C API: panics inside the library on purpose,
/// inside the same panic boundary as every other function, and so returns
/// PAPO_ERR_PANIC (16). It lets tests prove that a panic never unwinds into
/// the caller and that the process lives on. It touches no handle and no
/// global state (Rust's default panic hook prints the message on stderr).
///
/// It exists only when the library is built with the cargo feature
/// `test-hooks` (off by default, so never in a release `libpapo`); papo.h
/// does not declare it (cbindgen.toml excludes it), so a test program
/// declares it itself. The library's own unit tests get it through
/// `cfg(test)`.
///
/// Returns: always PAPO_ERR_PANIC.
///
/// Thread safety: may be called from any thread at any time.
#[cfg(any(test, feature = "test-hooks"))]
#[no_mangle]
pub extern "C" fn papo_debug_force_panic() -> c_int {
    super::boundary(|| panic!("papo_debug_force_panic: deliberate panic (test hook)"))
}
