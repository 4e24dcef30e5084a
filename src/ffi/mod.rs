//! The C ABI: the seed's five functions (`Conecta_Servidor`,
//! `Conecta_cliente`, `enviar_Msg`, `Desconecta_Servidor`,
//! `Desconecta_cliente`, seed 000 section 4) and the `papo_*` functions
//! around them. `include/papo.h` is generated from this module by cbindgen
//! (`PAPO_BLESS=1 cargo test --test header`); the doc comments here are the
//! header's documentation.
//!
//! This layer has no chat logic of its own. Every export:
//! - runs inside a panic boundary (`catch_unwind`), so a panic comes back as
//!   `PAPO_ERR_PANIC` (16) instead of unwinding into C;
//! - checks every pointer (`PAPO_ERR_NULL_ARGUMENT`, 13) before doing any
//!   work, every handle against the registry of live handles
//!   (`handles.rs`: `PAPO_ERR_CLOSED`, 14, or `PAPO_ERR_FORKED`, 20), and
//!   every string for UTF-8 (`PAPO_ERR_INVALID_TEXT`, 8, or
//!   `PAPO_ERR_INVALID_NICK`, 6, for a nickname);
//! - leaves the detail of an error for `papo_last_error()` (per thread);
//! - writes its out-parameters only on success (except `*out_len` on
//!   `PAPO_ERR_BUFFER_TOO_SMALL`);
//! - maps a [`crate::Error`] to its [`crate::ErrorCode`] number and its
//!   detail (`FfiError`).
//!
//! The functions are `unsafe extern "C"`: from Rust, use [`crate::Server`]
//! and [`crate::Client`] instead; they are public here only so that the
//! symbols are exported and documented.
//!
//! Model: rustls-ffi (`ffi_panic_boundary!`, handle conventions, cbindgen
//! header checked in CI), libmpv (`mpv_wait_event`: event strings live until
//! the next call), nng (`nng_strerror`).

#![deny(unsafe_op_in_unsafe_fn)]
// C names: the types are spelled as in papo.h, the seed functions as in seed 000.
#![allow(non_camel_case_types, non_snake_case)]

use std::cell::RefCell;
use std::ffi::{c_char, c_int, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::Error;

// In this order in papo.h (cbindgen keeps the source order): the codes
// and the functions without a handle, the seed's five, the server, the
// client, files, options; the 0.1 entry points are not declared.
pub mod client;
pub mod codes;
pub mod discover;
pub mod event;
pub mod files;
pub mod general;
pub(crate) mod handles;
pub mod legacy;
pub mod options;
pub mod seed;
pub mod server;

pub use codes::*;

/// An error on its way to the C caller: the code the function returns and
/// the detail `papo_last_error()` gives.
#[derive(Debug)]
pub(crate) struct FfiError {
    pub code: c_int,
    pub detail: String,
}

impl FfiError {
    pub(crate) fn new(code: c_int, detail: impl Into<String>) -> FfiError {
        FfiError {
            code,
            detail: detail.into(),
        }
    }
}

impl From<Error> for FfiError {
    /// The code, and the detail followed by the operating system's words
    /// when an I/O error caused it ("cannot connect to 127.0.0.1:18000:
    /// Connection refused (os error 111)").
    fn from(e: Error) -> FfiError {
        let detail = match std::error::Error::source(&e) {
            Some(cause) => format!("{}: {cause}", e.detail()),
            None => e.detail().to_owned(),
        };
        FfiError::new(e.code() as c_int, detail)
    }
}

/// What every function body returns.
pub(crate) type FfiResult<T> = Result<T, FfiError>;

thread_local! {
    /// The detail of the last error returned on this thread
    /// (`papo_last_error`).
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Keeps `detail` as this thread's last error. Never panics: during the
/// thread's teardown, when the thread-local is gone, the detail is lost.
fn set_last_error(detail: &str) {
    let text = c_string(detail);
    let _ = LAST_ERROR.try_with(|slot| {
        if let Ok(mut slot) = slot.try_borrow_mut() {
            *slot = text;
        }
    });
}

/// The pointer `papo_last_error` returns: this thread's last detail, or
/// `""`. Valid until the thread's next papo call.
pub(crate) fn last_error_ptr() -> *const c_char {
    LAST_ERROR
        .try_with(|slot| slot.try_borrow().map(|s| s.as_ptr()).ok())
        .ok()
        .flatten()
        .unwrap_or(c"".as_ptr())
}

/// The text of a panic's payload, if it is a string.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned());
    match message {
        Some(m) => format!("panic inside the library: {m}"),
        None => "panic inside the library".to_owned(),
    }
}

/// Runs the body of an export inside `catch_unwind`. `Ok(())` becomes
/// `PAPO_OK`, `Err(e)` becomes `e.code` (and `e.detail` this thread's
/// `papo_last_error()`), and a panic becomes `PAPO_ERR_PANIC` (with the
/// panic's message as the detail); nothing unwinds into the C caller.
pub(crate) fn boundary(f: impl FnOnce() -> FfiResult<()>) -> c_int {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => PAPO_OK,
        Ok(Err(e)) => {
            set_last_error(&e.detail);
            e.code
        }
        Err(payload) => {
            // Building the text allocates; a panic there is caught too.
            let text = catch_unwind(AssertUnwindSafe(|| panic_text(&*payload)));
            set_last_error(text.as_deref().unwrap_or("panic inside the library"));
            // The payload's destructor could panic as well: drop it inside
            // a boundary of its own.
            let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
            PAPO_ERR_PANIC
        }
    }
}

/// `PAPO_ERR_NULL_ARGUMENT` naming the argument.
pub(crate) fn null_arg(name: &str) -> FfiError {
    FfiError::new(PAPO_ERR_NULL_ARGUMENT, format!("argument {name} is NULL"))
}

/// `PAPO_ERR_NULL_ARGUMENT` (naming the argument) if `p` is NULL.
pub(crate) fn non_null<T>(p: *const T, name: &str) -> FfiResult<()> {
    if p.is_null() {
        Err(null_arg(name))
    } else {
        Ok(())
    }
}

/// A required string argument: NULL is `PAPO_ERR_NULL_ARGUMENT`, bytes that
/// are not UTF-8 are `bad_utf8` (`PAPO_ERR_INVALID_TEXT`, or
/// `PAPO_ERR_INVALID_NICK` for a nickname); the details name the argument.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that lives for `'a`.
pub(crate) unsafe fn str_arg<'a>(
    p: *const c_char,
    name: &str,
    bad_utf8: c_int,
) -> FfiResult<&'a str> {
    non_null(p, name)?;
    // SAFETY: non-NULL and NUL-terminated by the caller's contract.
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str()
        .map_err(|e| FfiError::new(bad_utf8, format!("argument {name} is not UTF-8: {e}")))
}

/// An optional string argument: NULL is `None`; otherwise as [`str_arg`].
///
/// # Safety
/// As [`str_arg`].
pub(crate) unsafe fn opt_str_arg<'a>(
    p: *const c_char,
    name: &str,
    bad_utf8: c_int,
) -> FfiResult<Option<&'a str>> {
    if p.is_null() {
        Ok(None)
    } else {
        // SAFETY: forwarded contract.
        unsafe { str_arg(p, name, bad_utf8) }.map(Some)
    }
}

/// The address argument of the start/connect functions, converted only:
/// NULL becomes `""` (which the Rust parser, `crate::net`, takes as
/// 127.0.0.1, seed 000); bytes that are not UTF-8 are
/// `PAPO_ERR_INVALID_TEXT`. Everything else is [`crate::Server::start`]'s
/// and [`crate::Client::connect_with`]'s to judge.
///
/// # Safety
/// As [`str_arg`].
pub(crate) unsafe fn ip_arg<'a>(p: *const c_char) -> FfiResult<&'a str> {
    // SAFETY: forwarded contract.
    Ok(unsafe { opt_str_arg(p, "ip", PAPO_ERR_INVALID_TEXT) }?.unwrap_or(""))
}

/// Checks the buffer arguments of a function that fills a caller's buffer:
/// `out_len` is required; `buf` may be NULL only when `buf_len` is 0.
pub(crate) fn check_buffer_args(
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> FfiResult<()> {
    non_null(out_len, "out_len")?;
    if buf.is_null() && buf_len != 0 {
        return Err(FfiError::new(
            PAPO_ERR_NULL_ARGUMENT,
            format!("argument buf is NULL but buf_len is {buf_len}"),
        ));
    }
    Ok(())
}

/// Copies `text` and a NUL into the caller's buffer. `*out_len` is set to
/// the bytes needed including the NUL, both on success and on
/// `PAPO_ERR_BUFFER_TOO_SMALL` (then nothing is written to `buf`).
///
/// # Safety
/// The arguments passed [`check_buffer_args`]; `buf` points to `buf_len`
/// writable bytes and `out_len` to a writable `size_t`.
pub(crate) unsafe fn write_buffer(
    text: &str,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> FfiResult<()> {
    check_buffer_args(buf, buf_len, out_len)?;
    let needed = text.len() + 1;
    // SAFETY: out_len is non-NULL and writable (caller's contract).
    unsafe { out_len.write(needed) };
    if buf_len < needed {
        return Err(FfiError::new(
            PAPO_ERR_BUFFER_TOO_SMALL,
            format!("the buffer holds {buf_len} bytes; {needed} are needed"),
        ));
    }
    // SAFETY: buf holds at least `needed` bytes; the regions cannot overlap
    // (`text` is Rust-owned memory).
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), text.len());
        buf.add(text.len()).write(0);
    }
    Ok(())
}

/// A C string of an event's text. Texts from the server never contain NUL
/// (the protocol refuses control characters), but if one did it would be
/// dropped here rather than panic.
pub(crate) fn c_string(s: &str) -> CString {
    CString::new(s).unwrap_or_else(|e| {
        let mut bytes = e.into_vec();
        bytes.retain(|&b| b != 0);
        CString::new(bytes).unwrap_or_default()
    })
}

/// The pointer of an optional stored string, or NULL.
pub(crate) fn opt_ptr(s: &Option<CString>) -> *const c_char {
    s.as_ref().map_or(std::ptr::null(), |c| c.as_ptr())
}

/// A timeout argument in milliseconds: negative means "wait forever"
/// (`Duration::MAX`, which the Rust queues take as no limit), 0 means "do
/// not wait".
pub(crate) fn timeout_arg(timeout_ms: i32) -> std::time::Duration {
    u64::try_from(timeout_ms).map_or(std::time::Duration::MAX, std::time::Duration::from_millis)
}

#[cfg(test)]
mod tests;
