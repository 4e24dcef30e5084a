//! File transfer and binary messages in the C ABI: `papo_client_send_file`,
//! `papo_client_send_bytes`, the download folder, and the file events
//! (PROTOCOL.md, "Files and binary payloads").

use std::ffi::{c_char, c_int, c_void, CStr};
use std::path::PathBuf;

use super::client::{client_arg, papo_client};
use super::{
    boundary, check_buffer_args, non_null, null_arg, opt_str_arg, write_buffer, FfiError,
    FfiResult, PAPO_ERR_INVALID_NICK,
};

/// A path argument: NUL-terminated bytes (any bytes on Unix, where paths
/// are bytes; UTF-8 elsewhere, else PAPO_ERR_INVALID_TEXT).
///
/// # Safety
/// `p` is non-NULL and NUL-terminated.
unsafe fn path_arg(p: *const c_char, name: &str) -> FfiResult<PathBuf> {
    // SAFETY: caller's contract.
    let bytes = unsafe { CStr::from_ptr(p) }.to_bytes();
    #[cfg(unix)]
    {
        let _ = name;
        use std::os::unix::ffi::OsStrExt;
        Ok(PathBuf::from(std::ffi::OsStr::from_bytes(bytes)))
    }
    #[cfg(not(unix))]
    {
        std::str::from_utf8(bytes).map(PathBuf::from).map_err(|_| {
            FfiError::new(
                super::PAPO_ERR_INVALID_TEXT,
                format!("argument {name} is not UTF-8"),
            )
        })
    }
}

/// Sends the file at `path` to `destino`, or to everyone else online when
/// `destino` is NULL or "" (seed 002's `/sendFile arquivo.ext`). Returns
/// once the server has accepted the file; a library thread then streams it
/// from disk, 64 KiB at a time (it is never read whole into memory), while
/// this client keeps working: messages sent meanwhile go out between two
/// pieces. Progress and the outcome arrive as events carrying the same
/// `file_id`: PAPO_EVENT_FILE_SEND_PROGRESS, then PAPO_EVENT_FILE_SENT or
/// PAPO_EVENT_FILE_SEND_FAILED. Receivers get PAPO_EVENT_FILE_OFFERED,
/// PAPO_EVENT_FILE_PROGRESS and PAPO_EVENT_FILE_RECEIVED. The transfer
/// goes at the pace of the slowest receiver.
///
/// Arguments:
/// - `destino`: a nickname (UTF-8), or NULL / "" for everyone. Copied.
/// - `path`: the file to send (a regular file), NUL-terminated; on Unix any
///   bytes, elsewhere UTF-8. The name announced is its last component
///   reduced to a safe name; the size is its size now. Copied.
/// - `out_file_id`: receives the transfer's number on success (the
///   `file_id` of its events); may be NULL.
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (client or path NULL);
/// PAPO_ERR_INVALID_NICK (06: destino not UTF-8 or not a possible
/// nickname); PAPO_ERR_IO (15: the file cannot be opened);
/// PAPO_ERR_INVALID_ARGUMENT (17: not a regular file, or inside a wake-up
/// callback: it waits for the server's answer; see
/// papo_client_set_wakeup()); PAPO_ERR_NO_SUCH_USER (02); PAPO_ERR_TOO_LONG (07: larger
/// than the server's max_file_bytes, 4 GiB by default, refused up front);
/// PAPO_ERR_SERVER_FULL (12: 16 files of this client are open already);
/// PAPO_ERR_CONNECTION_ABORTED (03); PAPO_ERR_TIMEOUT (no answer within
/// reply_timeout_ms); PAPO_ERR_CLOSED, PAPO_ERR_FORKED (see "Handles");
/// PAPO_ERR_PANIC.
///
/// Thread safety: may be called from any thread, concurrently with every
/// other function on the same client; blocks
/// for one round trip. Not inside a wake-up callback.
///
/// Since: 0.1.
///
/// # Safety
/// `client` is any value (checked against the live handles); `destino` and `path` are NULL or
/// NUL-terminated; `out_file_id` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn papo_client_send_file(
    client: *mut papo_client,
    destino: *const c_char,
    path: *const c_char,
    out_file_id: *mut u64,
) -> c_int {
    boundary(|| {
        non_null(path, "path")?;
        let c = client_arg(client)?;
        // SAFETY: caller's contract.
        let to = unsafe { opt_str_arg(destino, "destino", PAPO_ERR_INVALID_NICK) }?;
        // SAFETY: non-NULL, NUL-terminated by the caller's contract.
        let path = unsafe { path_arg(path, "path") }?;
        let id = c.client.send_file(to.filter(|t| !t.is_empty()), &path)?;
        if !out_file_id.is_null() {
            // SAFETY: non-NULL and writable by the caller's contract.
            unsafe { out_file_id.write(id) };
        }
        Ok(())
    })
}

/// Sends `len` bytes at `data`, any bytes (NUL, line feeds, binary data),
/// as one binary message to `destino`, or to everyone else online when
/// `destino` is NULL or "" (PROTOCOL.md, "Files and binary payloads").
/// Receivers get a PAPO_EVENT_BYTES event with exactly these bytes. Returns
/// once the server has taken the whole message.
///
/// Arguments: `destino` as for papo_client_send_file(); `data` may be NULL
/// only when `len` is 0; `len` in bytes, at most the server's
/// max_payload_bytes (256 KiB by default). Both are copied.
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (client NULL, or data NULL with len > 0);
/// PAPO_ERR_INVALID_NICK (06); PAPO_ERR_NO_SUCH_USER (02);
/// PAPO_ERR_TOO_LONG (07: over max_payload_bytes; nothing is delivered);
/// PAPO_ERR_CONNECTION_ABORTED (03); PAPO_ERR_TIMEOUT;
/// PAPO_ERR_INVALID_ARGUMENT (inside a wake-up callback: it waits for the
/// server's answer); PAPO_ERR_CLOSED, PAPO_ERR_FORKED (see "Handles");
/// PAPO_ERR_PANIC.
///
/// Thread safety: as papo_client_send_file(); blocks for one round trip.
///
/// Since: 0.1.
///
/// # Safety
/// `client` is any value (checked against the live handles); `destino` is NULL or NUL-terminated;
/// `data` is NULL or points to `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn papo_client_send_bytes(
    client: *mut papo_client,
    destino: *const c_char,
    data: *const c_void,
    len: usize,
) -> c_int {
    boundary(|| {
        let c = client_arg(client)?;
        // SAFETY: caller's contract.
        let to = unsafe { opt_str_arg(destino, "destino", PAPO_ERR_INVALID_NICK) }?;
        // SAFETY: caller's contract.
        let bytes = unsafe { bytes_arg(data, len) }?;
        Ok(c.client.send_bytes(to.filter(|t| !t.is_empty()), bytes)?)
    })
}

/// papo_client_send_file() without waiting for the server's answer. The
/// file is opened and checked here (errors below); then the offer is sent
/// and this returns. The answer comes as a PAPO_EVENT_REPLY carrying
/// `userdata`: `code` 0 and the transfer's number in `file_id` when the
/// server accepted the file, which is then streamed exactly as with
/// papo_client_send_file() (its PAPO_EVENT_FILE_SEND_* events follow the
/// reply); or the error that refused it (02, 07, 12, 03 ...) with the
/// detail in `text`.
///
/// Arguments: as papo_client_send_file(); `userdata` is any number,
/// returned as is.
///
/// Errors (nothing is sent, no REPLY comes): PAPO_ERR_NULL_ARGUMENT
/// (client or path NULL); PAPO_ERR_INVALID_NICK (06); PAPO_ERR_IO (15: the
/// file cannot be opened); PAPO_ERR_INVALID_ARGUMENT (17: not a regular
/// file); PAPO_ERR_TOO_LONG (07: the offer line would be too long);
/// PAPO_ERR_CONNECTION_ABORTED (03); PAPO_ERR_CLOSED, PAPO_ERR_FORKED (see
/// "Handles"); PAPO_ERR_PANIC.
///
/// Thread safety: any thread, concurrently with every other function on
/// the same client; allowed inside a wake-up callback (it never waits for
/// the server).
///
/// Since: 1.0.
///
/// # Safety
/// `destino` and `path` are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn papo_client_send_file_async(
    client: *mut papo_client,
    destino: *const c_char,
    path: *const c_char,
    userdata: u64,
) -> c_int {
    boundary(|| {
        non_null(path, "path")?;
        let c = client_arg(client)?;
        // SAFETY: caller's contract.
        let to = unsafe { opt_str_arg(destino, "destino", PAPO_ERR_INVALID_NICK) }?;
        // SAFETY: non-NULL, NUL-terminated by the caller's contract.
        let path = unsafe { path_arg(path, "path") }?;
        Ok(c.client
            .send_file_async(to.filter(|t| !t.is_empty()), &path, userdata)?)
    })
}

/// papo_client_send_bytes() without waiting: returns once the message is
/// written; a PAPO_EVENT_REPLY carrying `userdata` comes with `code` 0 once
/// the server took the whole message, or 02, 07 ... with the server's words
/// in `text`, or 03 when the connection ended first.
///
/// Arguments: as papo_client_send_bytes(); `userdata` is any number,
/// returned as is.
///
/// Errors (nothing is sent, no REPLY comes): PAPO_ERR_NULL_ARGUMENT
/// (client NULL, or data NULL with len > 0); PAPO_ERR_INVALID_NICK (06);
/// PAPO_ERR_CONNECTION_ABORTED (03); PAPO_ERR_CLOSED, PAPO_ERR_FORKED (see
/// "Handles"); PAPO_ERR_PANIC.
///
/// Thread safety: as papo_client_send_file_async().
///
/// Since: 1.0.
///
/// # Safety
/// `destino` is NULL or NUL-terminated; `data` is NULL or points to `len`
/// readable bytes.
#[no_mangle]
pub unsafe extern "C" fn papo_client_send_bytes_async(
    client: *mut papo_client,
    destino: *const c_char,
    data: *const c_void,
    len: usize,
    userdata: u64,
) -> c_int {
    boundary(|| {
        let c = client_arg(client)?;
        // SAFETY: caller's contract.
        let to = unsafe { opt_str_arg(destino, "destino", PAPO_ERR_INVALID_NICK) }?;
        // SAFETY: caller's contract.
        let bytes = unsafe { bytes_arg(data, len) }?;
        Ok(c.client
            .send_bytes_async(to.filter(|t| !t.is_empty()), bytes, userdata)?)
    })
}

/// The `data`/`len` arguments: NULL only with `len` 0.
///
/// # Safety
/// `data` is NULL or points to `len` readable bytes that live for `'a`.
unsafe fn bytes_arg<'a>(data: *const c_void, len: usize) -> FfiResult<&'a [u8]> {
    if len == 0 {
        Ok(&[])
    } else if data.is_null() {
        Err(null_arg("data"))
    } else {
        // SAFETY: non-NULL, `len` readable bytes by the caller's contract.
        Ok(unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) })
    }
}

/// Sets the folder where this client saves received files; NULL goes back
/// to the default, `$HOME/papo-downloads` (seed 002 creates a folder in the
/// user's home). The folder (and its parents) is created when a file
/// arrives; if it cannot be, that file fails (PAPO_EVENT_FILE_FAILED).
/// Files that already began keep their folder.
///
/// Arguments: `path`: NUL-terminated; on Unix any bytes, elsewhere UTF-8.
/// Copied.
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (client NULL); PAPO_ERR_INVALID_TEXT
/// (path not UTF-8, off Unix); PAPO_ERR_INVALID_ARGUMENT (path "");
/// PAPO_ERR_CLOSED, PAPO_ERR_FORKED (see "Handles"); PAPO_ERR_PANIC.
///
/// Thread safety: may be called from any thread, concurrently with every
/// other function on the same client, and
/// inside a wake-up callback; does not block.
///
/// Since: 0.1.
///
/// # Safety
/// `client` is any value (checked against the live handles); `path` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn papo_client_set_download_dir(
    client: *mut papo_client,
    path: *const c_char,
) -> c_int {
    boundary(|| {
        let c = client_arg(client)?;
        let dir = if path.is_null() {
            None
        } else {
            // SAFETY: non-NULL, NUL-terminated by the caller's contract.
            let p = unsafe { path_arg(path, "path") }?;
            if p.as_os_str().is_empty() {
                return Err(FfiError::new(
                    super::PAPO_ERR_INVALID_ARGUMENT,
                    "argument path is \"\" (NULL means the default folder)",
                ));
            }
            Some(p)
        };
        c.client.set_download_dir(dir);
        Ok(())
    })
}

/// The folder where this client saves received files (see
/// papo_client_set_download_dir()), NUL-terminated, into `buf` (same buffer
/// protocol as papo_client_users(): `*out_len` = bytes needed including the
/// NUL, set on success and on PAPO_ERR_BUFFER_TOO_SMALL). A path that is
/// not UTF-8 is given with U+FFFD in place of the bad bytes.
///
/// Errors: PAPO_ERR_NULL_ARGUMENT; PAPO_ERR_BUFFER_TOO_SMALL;
/// PAPO_ERR_CLOSED, PAPO_ERR_FORKED (see "Handles"); PAPO_ERR_PANIC.
///
/// Thread safety: as papo_client_set_download_dir(); does not block.
///
/// Since: 0.1.
///
/// # Safety
/// `client` is any value (checked against the live handles); `buf` is NULL or `buf_len` writable
/// bytes; `out_len` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn papo_client_download_dir(
    client: *mut papo_client,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> c_int {
    boundary(|| {
        check_buffer_args(buf, buf_len, out_len)?;
        let c = client_arg(client)?;
        let dir = c.client.download_dir();
        let text = dir.to_string_lossy();
        // SAFETY: arguments checked; caller's contract.
        unsafe { write_buffer(&text, buf, buf_len, out_len) }
    })
}
