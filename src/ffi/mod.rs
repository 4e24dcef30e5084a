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
//!   work, and every string for UTF-8 (`PAPO_ERR_INVALID_TEXT`, 8, or
//!   `PAPO_ERR_INVALID_NICK`, 6, for a nickname);
//! - writes its out-parameters only on success (except `*out_len` on
//!   `PAPO_ERR_BUFFER_TOO_SMALL`);
//! - maps a [`crate::Error`] to its [`crate::ErrorCode`] number.
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

use std::ffi::{c_char, c_int, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::Error;

pub mod client;
pub mod codes;
pub mod event;
pub mod files;
pub mod general;
pub mod seed;
pub mod server;

pub use codes::*;

/// Runs the body of an export inside `catch_unwind`. `Ok(())` becomes
/// `PAPO_OK`, `Err(code)` becomes `code`, and a panic becomes
/// `PAPO_ERR_PANIC`; nothing unwinds into the C caller.
pub(crate) fn boundary(f: impl FnOnce() -> Result<(), c_int>) -> c_int {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => PAPO_OK,
        Ok(Err(code)) => code,
        Err(_) => PAPO_ERR_PANIC,
    }
}

/// The C return code of a Rust error.
pub(crate) fn code_of(e: Error) -> c_int {
    e.code() as c_int
}

/// A shared reference to what a handle pointer points to, or
/// `PAPO_ERR_NULL_ARGUMENT`.
///
/// # Safety
/// `p` is NULL or points to a live `T` for the duration of `'a`.
pub(crate) unsafe fn arg_ref<'a, T>(p: *const T) -> Result<&'a T, c_int> {
    // SAFETY: the caller guarantees `p` is NULL or valid.
    unsafe { p.as_ref() }.ok_or(PAPO_ERR_NULL_ARGUMENT)
}

/// `PAPO_ERR_NULL_ARGUMENT` if `p` is NULL.
pub(crate) fn non_null<T>(p: *const T) -> Result<(), c_int> {
    if p.is_null() {
        Err(PAPO_ERR_NULL_ARGUMENT)
    } else {
        Ok(())
    }
}

/// A required string argument: NULL is `PAPO_ERR_NULL_ARGUMENT`, bytes that
/// are not UTF-8 are `bad_utf8` (`PAPO_ERR_INVALID_TEXT`, or
/// `PAPO_ERR_INVALID_NICK` for a nickname).
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that lives for `'a`.
pub(crate) unsafe fn str_arg<'a>(p: *const c_char, bad_utf8: c_int) -> Result<&'a str, c_int> {
    non_null(p)?;
    // SAFETY: non-NULL and NUL-terminated by the caller's contract.
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str().map_err(|_| bad_utf8)
}

/// An optional string argument: NULL is `None`; otherwise as [`str_arg`].
///
/// # Safety
/// As [`str_arg`].
pub(crate) unsafe fn opt_str_arg<'a>(
    p: *const c_char,
    bad_utf8: c_int,
) -> Result<Option<&'a str>, c_int> {
    if p.is_null() {
        Ok(None)
    } else {
        // SAFETY: forwarded contract.
        unsafe { str_arg(p, bad_utf8) }.map(Some)
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
pub(crate) unsafe fn ip_arg<'a>(p: *const c_char) -> Result<&'a str, c_int> {
    // SAFETY: forwarded contract.
    Ok(unsafe { opt_str_arg(p, PAPO_ERR_INVALID_TEXT) }?.unwrap_or(""))
}

/// Checks the buffer arguments of a function that fills a caller's buffer:
/// `out_len` is required; `buf` may be NULL only when `buf_len` is 0.
pub(crate) fn check_buffer_args(
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> Result<(), c_int> {
    non_null(out_len)?;
    if buf.is_null() && buf_len != 0 {
        return Err(PAPO_ERR_NULL_ARGUMENT);
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
) -> Result<(), c_int> {
    check_buffer_args(buf, buf_len, out_len)?;
    let needed = text.len() + 1;
    // SAFETY: out_len is non-NULL and writable (caller's contract).
    unsafe { out_len.write(needed) };
    if buf_len < needed {
        return Err(PAPO_ERR_BUFFER_TOO_SMALL);
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
/// (`None`), 0 means "do not wait".
pub(crate) fn timeout_arg(timeout_ms: i32) -> Option<std::time::Duration> {
    u64::try_from(timeout_ms)
        .ok()
        .map(std::time::Duration::from_millis)
}

#[cfg(test)]
mod tests;
