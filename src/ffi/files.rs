//! File transfer and binary messages in the C ABI: `papo_client_send_file`,
//! `papo_client_send_bytes`, the download folder, and the file events
//! (PROTOCOL.md, "Files and binary payloads").

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::path::PathBuf;

use super::client::papo_client;
use super::{
    arg_ref, boundary, c_string, check_buffer_args, code_of, non_null, not_in_wakeup, opt_str_arg,
    write_buffer, PAPO_ERR_INVALID_NICK, PAPO_ERR_NULL_ARGUMENT,
};
use crate::client::Event;

/// papo_event.kind: a binary message: `nick` sent `data_len` bytes at
/// `data` (any bytes, NUL included), to this client alone if `is_private`
/// is 1, else to everyone.
pub const PAPO_EVENT_BYTES: c_int = 8;
/// papo_event.kind: a file began to arrive from `nick` (seed 002: a file
/// sent to all reaches every other user): `file_id` numbers it,
/// `file_name` is the safe name it will be saved under, `bytes_total` its
/// size, `is_private` 1 if sent to this client alone. It is written to a
/// temporary file in the download folder as it comes;
/// PAPO_EVENT_FILE_PROGRESS events follow, then PAPO_EVENT_FILE_RECEIVED or
/// PAPO_EVENT_FILE_FAILED with the same `file_id`.
pub const PAPO_EVENT_FILE_OFFERED: c_int = 9;
/// papo_event.kind: more of file `file_id` from `nick` arrived:
/// `bytes_done` of `bytes_total` bytes (once per whole percent).
pub const PAPO_EVENT_FILE_PROGRESS: c_int = 10;
/// papo_event.kind: file `file_id` from `nick` arrived whole and was saved
/// at `path` (inside the download folder; never replacing a file: the name
/// may have " (n)" added). `bytes_done` = `bytes_total` = its size.
pub const PAPO_EVENT_FILE_RECEIVED: c_int = 11;
/// papo_event.kind: file `file_id` from `nick` will not arrive; `text` says
/// why (the sender left or gave up, wrong size, cannot write, connection
/// lost). Nothing of it is left in the download folder.
pub const PAPO_EVENT_FILE_FAILED: c_int = 12;
/// papo_event.kind: the server forwarded `bytes_done` of the `bytes_total`
/// bytes of this client's file `file_id` (papo_client_send_file()) to `nick`
/// (NULL: everyone); once per whole percent.
pub const PAPO_EVENT_FILE_SEND_PROGRESS: c_int = 13;
/// papo_event.kind: every byte of this client's file `file_id` was forwarded
/// to `nick` (NULL: everyone). `bytes_done` = `bytes_total` = its size.
pub const PAPO_EVENT_FILE_SENT: c_int = 14;
/// papo_event.kind: this client's file `file_id` was not sent whole; `text`
/// says why (receiver left, file unreadable or changed size, connection
/// lost).
pub const PAPO_EVENT_FILE_SEND_FAILED: c_int = 15;

/// The strings and bytes of a file or binary event, kept by the client
/// handle with the event's other strings.
#[derive(Default)]
pub(crate) struct FileEventData {
    pub(crate) file_name: Option<CString>,
    pub(crate) path: Option<CString>,
    pub(crate) data: Option<Vec<u8>>,
}

/// The numeric fields of a file or binary event.
#[derive(Default, Clone, Copy)]
pub(crate) struct FileEventNumbers {
    pub(crate) file_id: u64,
    pub(crate) bytes_done: u64,
    pub(crate) bytes_total: u64,
    pub(crate) is_private: c_int,
}

/// What a file or binary event becomes in C: kind, `nick`, `text`, the
/// numbers and the file strings. `None` for the other events.
pub(crate) struct Converted {
    pub(crate) kind: c_int,
    pub(crate) nick: Option<String>,
    pub(crate) text: Option<String>,
    pub(crate) numbers: FileEventNumbers,
    pub(crate) data: FileEventData,
}

fn path_c_string(path: &std::path::Path) -> CString {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        // A path holds no NUL on Unix; c_string's fallback is for the others.
        CString::new(path.as_os_str().as_bytes().to_vec())
            .unwrap_or_else(|_| c_string(&path.to_string_lossy()))
    }
    #[cfg(not(unix))]
    {
        c_string(&path.to_string_lossy())
    }
}

/// Converts the file and binary events; `Err(event)` gives back the others.
pub(crate) fn convert(event: Event) -> Result<Converted, Event> {
    let n = |file_id, bytes_done, bytes_total, private: bool| FileEventNumbers {
        file_id,
        bytes_done,
        bytes_total,
        is_private: c_int::from(private),
    };
    let named = |name: &str| FileEventData {
        file_name: Some(c_string(name)),
        ..FileEventData::default()
    };
    Ok(match event {
        Event::Bytes {
            from,
            data,
            private,
        } => Converted {
            kind: PAPO_EVENT_BYTES,
            nick: Some(from),
            text: None,
            numbers: n(0, 0, 0, private),
            data: FileEventData {
                data: Some(data),
                ..FileEventData::default()
            },
        },
        Event::FileOffered {
            id,
            from,
            name,
            size,
            private,
        } => Converted {
            kind: PAPO_EVENT_FILE_OFFERED,
            nick: Some(from),
            text: None,
            numbers: n(id, 0, size, private),
            data: named(&name),
        },
        Event::FileProgress {
            id,
            from,
            name,
            bytes_done,
            bytes_total,
        } => Converted {
            kind: PAPO_EVENT_FILE_PROGRESS,
            nick: Some(from),
            text: None,
            numbers: n(id, bytes_done, bytes_total, false),
            data: named(&name),
        },
        Event::FileReceived {
            id,
            from,
            name,
            path,
            size,
        } => Converted {
            kind: PAPO_EVENT_FILE_RECEIVED,
            nick: Some(from),
            text: None,
            numbers: n(id, size, size, false),
            data: FileEventData {
                file_name: Some(c_string(&name)),
                path: Some(path_c_string(&path)),
                data: None,
            },
        },
        Event::FileFailed {
            id,
            from,
            name,
            reason,
        } => Converted {
            kind: PAPO_EVENT_FILE_FAILED,
            nick: Some(from),
            text: Some(reason),
            numbers: n(id, 0, 0, false),
            data: named(&name),
        },
        Event::FileSendProgress {
            id,
            to,
            name,
            bytes_done,
            bytes_total,
        } => Converted {
            kind: PAPO_EVENT_FILE_SEND_PROGRESS,
            nick: to,
            text: None,
            numbers: n(id, bytes_done, bytes_total, false),
            data: named(&name),
        },
        Event::FileSent { id, to, name, size } => Converted {
            kind: PAPO_EVENT_FILE_SENT,
            nick: to,
            text: None,
            numbers: n(id, size, size, false),
            data: named(&name),
        },
        Event::FileSendFailed {
            id,
            to,
            name,
            reason,
        } => Converted {
            kind: PAPO_EVENT_FILE_SEND_FAILED,
            nick: to,
            text: Some(reason),
            numbers: n(id, 0, 0, false),
            data: named(&name),
        },
        other => return Err(other),
    })
}

/// A path argument: NUL-terminated bytes (any bytes on Unix, where paths
/// are bytes; UTF-8 elsewhere, else PAPO_ERR_INVALID_TEXT).
///
/// # Safety
/// `p` is non-NULL and NUL-terminated.
unsafe fn path_arg(p: *const c_char) -> Result<PathBuf, c_int> {
    // SAFETY: caller's contract.
    let bytes = unsafe { CStr::from_ptr(p) }.to_bytes();
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Ok(PathBuf::from(std::ffi::OsStr::from_bytes(bytes)))
    }
    #[cfg(not(unix))]
    {
        std::str::from_utf8(bytes)
            .map(PathBuf::from)
            .map_err(|_| super::PAPO_ERR_INVALID_TEXT)
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
/// PAPO_ERR_INVALID_ARGUMENT (17: not a regular file, or inside the wake-up
/// callback); PAPO_ERR_NO_SUCH_USER (02); PAPO_ERR_TOO_LONG (07: larger
/// than the server's max_file_bytes, 4 GiB by default, refused up front);
/// PAPO_ERR_SERVER_FULL (12: 16 files of this client are open already);
/// PAPO_ERR_CONNECTION_ABORTED (03); PAPO_ERR_TIMEOUT (no answer within
/// reply_timeout_ms); PAPO_ERR_PANIC.
///
/// Thread safety: may be called from any thread, concurrently with every
/// other function on the same client except Desconecta_cliente(); blocks
/// for one round trip. Not from inside the wake-up callback.
///
/// # Safety
/// `client` is NULL or a live handle; `destino` and `path` are NULL or
/// NUL-terminated; `out_file_id` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn papo_client_send_file(
    client: *mut papo_client,
    destino: *const c_char,
    path: *const c_char,
    out_file_id: *mut u64,
) -> c_int {
    boundary(|| {
        non_null(path)?;
        // SAFETY: caller's contract.
        let c = unsafe { arg_ref(client.cast_const()) }?;
        // SAFETY: caller's contract.
        let to = unsafe { opt_str_arg(destino, PAPO_ERR_INVALID_NICK) }?;
        // SAFETY: non-NULL, NUL-terminated by the caller's contract.
        let path = unsafe { path_arg(path) }?;
        not_in_wakeup()?;
        let id = c
            .client
            .send_file(to.filter(|t| !t.is_empty()), &path)
            .map_err(code_of)?;
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
/// PAPO_ERR_INVALID_ARGUMENT (inside the wake-up callback); PAPO_ERR_PANIC.
///
/// Thread safety: as papo_client_send_file(); blocks for one round trip.
///
/// # Safety
/// `client` is NULL or a live handle; `destino` is NULL or NUL-terminated;
/// `data` is NULL or points to `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn papo_client_send_bytes(
    client: *mut papo_client,
    destino: *const c_char,
    data: *const c_void,
    len: usize,
) -> c_int {
    boundary(|| {
        // SAFETY: caller's contract.
        let c = unsafe { arg_ref(client.cast_const()) }?;
        // SAFETY: caller's contract.
        let to = unsafe { opt_str_arg(destino, PAPO_ERR_INVALID_NICK) }?;
        let bytes: &[u8] = if len == 0 {
            &[]
        } else if data.is_null() {
            return Err(PAPO_ERR_NULL_ARGUMENT);
        } else {
            // SAFETY: non-NULL, `len` readable bytes by the caller's contract.
            unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) }
        };
        not_in_wakeup()?;
        c.client
            .send_bytes(to.filter(|t| !t.is_empty()), bytes)
            .map_err(code_of)
    })
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
/// (path not UTF-8, off Unix); PAPO_ERR_INVALID_ARGUMENT (path "", or
/// inside the wake-up callback); PAPO_ERR_PANIC.
///
/// Thread safety: may be called from any thread, concurrently with every
/// other function on the same client except Desconecta_cliente(); does not
/// block.
///
/// # Safety
/// `client` is NULL or a live handle; `path` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn papo_client_set_download_dir(
    client: *mut papo_client,
    path: *const c_char,
) -> c_int {
    boundary(|| {
        // SAFETY: caller's contract.
        let c = unsafe { arg_ref(client.cast_const()) }?;
        not_in_wakeup()?;
        let dir = if path.is_null() {
            None
        } else {
            // SAFETY: non-NULL, NUL-terminated by the caller's contract.
            let p = unsafe { path_arg(path) }?;
            if p.as_os_str().is_empty() {
                return Err(super::PAPO_ERR_INVALID_ARGUMENT);
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
/// PAPO_ERR_INVALID_ARGUMENT (inside the wake-up callback); PAPO_ERR_PANIC.
///
/// Thread safety: as papo_client_set_download_dir(); does not block.
///
/// # Safety
/// `client` is NULL or a live handle; `buf` is NULL or `buf_len` writable
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
        // SAFETY: caller's contract.
        let c = unsafe { arg_ref(client.cast_const()) }?;
        not_in_wakeup()?;
        let dir = c.client.download_dir();
        let text = dir.to_string_lossy();
        // SAFETY: arguments checked; caller's contract.
        unsafe { write_buffer(&text, buf, buf_len, out_len) }
    })
}
