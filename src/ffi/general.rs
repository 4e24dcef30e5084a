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
///
/// Since: 0.1.
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

/// The library's version, e.g. `"1.0.0"`. PAPO_VERSION_STRING is the
/// version of the header the program was compiled with, which may differ
/// from the library loaded at run time (see papo_version_is_compatible()).
///
/// Ownership: static; never free it. Never returns NULL.
///
/// Thread safety: may be called from any thread at any time.
///
/// Since: 0.1.
#[no_mangle]
pub extern "C" fn papo_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// Whether this library serves a program compiled against the header of
/// version `major`.`minor`.`patch`: 1 when it has the same major version
/// and a (minor, patch) at least the program's (a 1.x library has every
/// function and field of the 1.y headers for y <= x), and for every 0.1.x
/// (the 0.1 entry points are kept for programs built against that header);
/// otherwise 0. PAPO_VERSION_IS_COMPATIBLE() calls it with the version of
/// the header being compiled; a program checks it once at start and stops
/// with a clear message when it is 0.
///
/// Returns: 1 or 0; never fails.
///
/// Thread safety: may be called from any thread at any time.
///
/// Since: 1.0.
#[no_mangle]
pub extern "C" fn papo_version_is_compatible(major: u32, minor: u32, patch: u32) -> c_int {
    c_int::from(version_is_compatible(major, minor, patch))
}

fn version_is_compatible(major: u32, minor: u32, patch: u32) -> bool {
    let parse = |s: &str| s.parse::<u32>().unwrap_or(0);
    let (lib_major, lib_minor, lib_patch) = (
        parse(env!("CARGO_PKG_VERSION_MAJOR")),
        parse(env!("CARGO_PKG_VERSION_MINOR")),
        parse(env!("CARGO_PKG_VERSION_PATCH")),
    );
    if major == 0 && minor == 1 {
        return true;
    }
    major == lib_major && (minor, patch) <= (lib_minor, lib_patch)
}

/// The detail of the last error a papo function returned on the calling
/// thread: what exactly went wrong, in English, e.g. "connection refused
/// by 127.0.0.1:18000", "nickname \"Ana\" is already in use" or "argument
/// apelido is NULL". The code says what kind of error it was
/// (papo_strerror()); this says which. "" when no papo function has
/// returned an error on this thread yet. A successful call does not change
/// it.
///
/// Ownership: the library's (UTF-8, NUL-terminated); never free it. It
/// stays valid until the next papo call on the same thread; copy what you
/// keep. Never returns NULL.
///
/// Thread safety: per thread; may be called from any thread at any time,
/// inside a wake-up callback too.
///
/// Since: 1.0.
#[no_mangle]
pub extern "C" fn papo_last_error() -> *const c_char {
    super::last_error_ptr()
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
