//! The server's options: `papo_server_options_new`, `_free` and one setter
//! per `ServerConfig` setting.

use super::*;

/// A new options object holding the default limits (each setter names
/// its default). Free it with papo_server_options_free().
///
/// Returns: the object, or NULL only when memory ran out (or on a panic).
///
/// Thread safety: may be called from any thread.
///
/// Since: 1.0.
#[no_mangle]
pub extern "C" fn papo_server_options_new() -> *mut papo_server_options {
    std::panic::catch_unwind(|| Box::into_raw(Box::new(papo_server_options::defaults())))
        .unwrap_or(std::ptr::null_mut())
}

/// Frees an options object. NULL is ignored. Handles made with it are not
/// affected (they copied what they needed).
///
/// Thread safety: no other thread may use `options` during or after the
/// call.
///
/// Since: 1.0.
///
/// # Safety
/// `options` is NULL or from papo_server_options_new() and not freed yet.
#[no_mangle]
pub unsafe extern "C" fn papo_server_options_free(options: *mut papo_server_options) {
    if !options.is_null() {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            // SAFETY: from Box::into_raw in papo_server_options_new(), handed back once.
            drop(unsafe { Box::from_raw(options) });
        }));
    }
}

/// Longest line a client may send, in bytes, without its line feed; a
/// longer one gets ERROR 07 and is skipped. Default 4096.
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
/// (a value the server refuses; the options keep their previous value);
/// PAPO_ERR_PANIC.
///
/// Thread safety: an options object is not shared: no other thread may use
/// `options` during the call.
///
/// Since: 1.0.
///
/// # Safety
/// `options` is NULL or from papo_server_options_new() and not freed.
#[no_mangle]
pub unsafe extern "C" fn papo_server_options_set_max_line_bytes(
    options: *mut papo_server_options,
    value: usize,
) -> c_int {
    let change = |o: &mut papo_server_options| -> FfiResult<()> {
        o.config.max_line_bytes = value;
        Ok(())
    };
    // SAFETY: caller's contract.
    unsafe { set_server(options, change) }
}

/// A line longer than this many bytes (whether its line feed has come
/// or not) closes the connection with ERROR 07: someone sending a
/// never-ending line. Lines between max_line_bytes and this are only
/// skipped. Default 65536 (never less than max_line_bytes + 35: room
/// for a line at the limit, its CR and a request label).
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
/// (a value the server refuses; the options keep their previous value);
/// PAPO_ERR_PANIC.
///
/// Thread safety: an options object is not shared: no other thread may use
/// `options` during the call.
///
/// Since: 1.0.
///
/// # Safety
/// `options` is NULL or from papo_server_options_new() and not freed.
#[no_mangle]
pub unsafe extern "C" fn papo_server_options_set_max_discard_bytes(
    options: *mut papo_server_options,
    value: usize,
) -> c_int {
    let change = |o: &mut papo_server_options| -> FfiResult<()> {
        o.config.max_discard_bytes = value;
        Ok(())
    };
    // SAFETY: caller's contract.
    unsafe { set_server(options, change) }
}

/// Longest nickname, in characters (not bytes). Default 32.
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
/// (a value the server refuses; the options keep their previous value);
/// PAPO_ERR_PANIC.
///
/// Thread safety: an options object is not shared: no other thread may use
/// `options` during the call.
///
/// Since: 1.0.
///
/// # Safety
/// `options` is NULL or from papo_server_options_new() and not freed.
#[no_mangle]
pub unsafe extern "C" fn papo_server_options_set_max_nick_chars(
    options: *mut papo_server_options,
    value: usize,
) -> c_int {
    let change = |o: &mut papo_server_options| -> FfiResult<()> {
        o.config.max_nick_chars = value;
        Ok(())
    };
    // SAFETY: caller's contract.
    unsafe { set_server(options, change) }
}

/// Most connections at once, registered or not; one more gets ERROR 12
/// and is closed. Default 16384. Each also takes a file descriptor: one
/// the process has no descriptor left for gets ERROR 12 too (see
/// raise_nofile_limit).
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
/// (a value the server refuses; the options keep their previous value);
/// PAPO_ERR_PANIC.
///
/// Thread safety: an options object is not shared: no other thread may use
/// `options` during the call.
///
/// Since: 1.0.
///
/// # Safety
/// `options` is NULL or from papo_server_options_new() and not freed.
#[no_mangle]
pub unsafe extern "C" fn papo_server_options_set_max_clients(
    options: *mut papo_server_options,
    value: usize,
) -> c_int {
    let change = |o: &mut papo_server_options| -> FfiResult<()> {
        o.config.max_clients = value;
        Ok(())
    };
    // SAFETY: caller's contract.
    unsafe { set_server(options, change) }
}

/// Most connections at once from one IP address; 0 = no limit.
/// Default 0.
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
/// (a value the server refuses; the options keep their previous value);
/// PAPO_ERR_PANIC.
///
/// Thread safety: an options object is not shared: no other thread may use
/// `options` during the call.
///
/// Since: 1.0.
///
/// # Safety
/// `options` is NULL or from papo_server_options_new() and not freed.
#[no_mangle]
pub unsafe extern "C" fn papo_server_options_set_max_clients_per_ip(
    options: *mut papo_server_options,
    value: usize,
) -> c_int {
    let change = |o: &mut papo_server_options| -> FfiResult<()> {
        o.config.max_clients_per_ip = value;
        Ok(())
    };
    // SAFETY: caller's contract.
    unsafe { set_server(options, change) }
}

/// Bytes that may wait in one client's outbound queue; a client over it
/// is a slow consumer and is disconnected with ERROR 03. Default 67108864
/// (64 MiB): a broadcast queued to many clients is held once, so a reader
/// a few MiB behind during a burst is not a slow consumer; see also
/// papo_server_options_set_max_total_queue_bytes().
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
/// (a value the server refuses; the options keep their previous value);
/// PAPO_ERR_PANIC.
///
/// Thread safety: an options object is not shared: no other thread may use
/// `options` during the call.
///
/// Since: 1.0.
///
/// # Safety
/// `options` is NULL or from papo_server_options_new() and not freed.
#[no_mangle]
pub unsafe extern "C" fn papo_server_options_set_max_queue_bytes(
    options: *mut papo_server_options,
    value: usize,
) -> c_int {
    let change = |o: &mut papo_server_options| -> FfiResult<()> {
        o.config.max_queue_bytes = value;
        Ok(())
    };
    // SAFETY: caller's contract.
    unsafe { set_server(options, change) }
}

/// Bytes that may wait in all clients' outbound queues together, a
/// broadcast queued to many clients counting once. Past it, the clients
/// holding the most bytes are dropped first, as slow consumers (ERROR 03),
/// until the server is back under it; the others stay. 0 is refused.
/// Default 1073741824 (1 GiB, a fixed figure so that a server behaves the
/// same on every machine; set what the machine can spare).
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
/// (a value the server refuses; the options keep their previous value);
/// PAPO_ERR_PANIC.
///
/// Thread safety: an options object is not shared: no other thread may use
/// `options` during the call.
///
/// Since: 1.0.
///
/// # Safety
/// `options` is NULL or from papo_server_options_new() and not freed.
#[no_mangle]
pub unsafe extern "C" fn papo_server_options_set_max_total_queue_bytes(
    options: *mut papo_server_options,
    value: usize,
) -> c_int {
    let change = |o: &mut papo_server_options| -> FfiResult<()> {
        o.config.max_total_queue_bytes = value;
        Ok(())
    };
    // SAFETY: caller's contract.
    unsafe { set_server(options, change) }
}

/// Milliseconds a new connection has to register a nickname; then
/// ERROR 11 and close. Default 30000.
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
/// (a value the server refuses; the options keep their previous value);
/// PAPO_ERR_PANIC.
///
/// Thread safety: an options object is not shared: no other thread may use
/// `options` during the call.
///
/// Since: 1.0.
///
/// # Safety
/// `options` is NULL or from papo_server_options_new() and not freed.
#[no_mangle]
pub unsafe extern "C" fn papo_server_options_set_registration_timeout_ms(
    options: *mut papo_server_options,
    value: u32,
) -> c_int {
    let change = |o: &mut papo_server_options| -> FfiResult<()> {
        o.config.registration_timeout = Duration::from_millis(u64::from(value));
        Ok(())
    };
    // SAFETY: caller's contract.
    unsafe { set_server(options, change) }
}

/// Number of I/O threads (one event loop each); 0 = one per CPU core, at
/// most 4. Default 0.
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
/// (a value the server refuses; the options keep their previous value);
/// PAPO_ERR_PANIC.
///
/// Thread safety: an options object is not shared: no other thread may use
/// `options` during the call.
///
/// Since: 1.0.
///
/// # Safety
/// `options` is NULL or from papo_server_options_new() and not freed.
#[no_mangle]
pub unsafe extern "C" fn papo_server_options_set_io_threads(
    options: *mut papo_server_options,
    value: u32,
) -> c_int {
    let change = |o: &mut papo_server_options| -> FfiResult<()> {
        o.config.io_threads = usize::try_from(value).unwrap_or(usize::MAX);
        Ok(())
    };
    // SAFETY: caller's contract.
    unsafe { set_server(options, change) }
}

/// Most server events kept for papo_server_wait_event(); further ones
/// are dropped while the queue is full. Default 65536.
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
/// (a value the server refuses; the options keep their previous value);
/// PAPO_ERR_PANIC.
///
/// Thread safety: an options object is not shared: no other thread may use
/// `options` during the call.
///
/// Since: 1.0.
///
/// # Safety
/// `options` is NULL or from papo_server_options_new() and not freed.
#[no_mangle]
pub unsafe extern "C" fn papo_server_options_set_event_queue_capacity(
    options: *mut papo_server_options,
    value: usize,
) -> c_int {
    let change = |o: &mut papo_server_options| -> FfiResult<()> {
        o.config.event_queue_capacity = value;
        Ok(())
    };
    // SAFETY: caller's contract.
    unsafe { set_server(options, change) }
}

/// Largest file a client may send, in bytes; a larger one is refused
/// when announced (ERROR 07). The server never holds a file whole: it
/// forwards it in pieces of at most 64 KiB. Default 4294967296 (4 GiB).
/// (Added in 0.1 with file transfer; PROTOCOL.md "Files and binary
/// payloads".)
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
/// (a value the server refuses; the options keep their previous value);
/// PAPO_ERR_PANIC.
///
/// Thread safety: an options object is not shared: no other thread may use
/// `options` during the call.
///
/// Since: 1.0.
///
/// # Safety
/// `options` is NULL or from papo_server_options_new() and not freed.
#[no_mangle]
pub unsafe extern "C" fn papo_server_options_set_max_file_bytes(
    options: *mut papo_server_options,
    value: u64,
) -> c_int {
    let change = |o: &mut papo_server_options| -> FfiResult<()> {
        o.config.max_file_bytes = value;
        Ok(())
    };
    // SAFETY: caller's contract.
    unsafe { set_server(options, change) }
}

/// Largest binary message (papo_client_send_bytes()), in bytes; a larger
/// one gets ERROR 07 and is skipped. Keep it well below max_queue_bytes.
/// Default 262144 (256 KiB).
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
/// (a value the server refuses; the options keep their previous value);
/// PAPO_ERR_PANIC.
///
/// Thread safety: an options object is not shared: no other thread may use
/// `options` during the call.
///
/// Since: 1.0.
///
/// # Safety
/// `options` is NULL or from papo_server_options_new() and not freed.
#[no_mangle]
pub unsafe extern "C" fn papo_server_options_set_max_payload_bytes(
    options: *mut papo_server_options,
    value: usize,
) -> c_int {
    let change = |o: &mut papo_server_options| -> FfiResult<()> {
        o.config.max_payload_bytes = value;
        Ok(())
    };
    // SAFETY: caller's contract.
    unsafe { set_server(options, change) }
}

/// Milliseconds a receiver may take no byte while file data waits for
/// it; then it is disconnected as a slow consumer (ERROR 03). Must be
/// > 0. Default 30000.
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
/// (a value the server refuses; the options keep their previous value);
/// PAPO_ERR_PANIC.
///
/// Thread safety: an options object is not shared: no other thread may use
/// `options` during the call.
///
/// Since: 1.0.
///
/// # Safety
/// `options` is NULL or from papo_server_options_new() and not freed.
#[no_mangle]
pub unsafe extern "C" fn papo_server_options_set_file_stall_timeout_ms(
    options: *mut papo_server_options,
    value: u32,
) -> c_int {
    let change = |o: &mut papo_server_options| -> FfiResult<()> {
        o.config.file_stall_timeout = Duration::from_millis(u64::from(value));
        Ok(())
    };
    // SAFETY: caller's contract.
    unsafe { set_server(options, change) }
}

/// Flood limit (since 0.1, issue 6): lines per second a client may send
/// for ever after a burst of flood_burst_lines; a client over it is sent
/// ERROR 03 ("flooding") and disconnected. 0 = no limit. Default 100.
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
/// (a value the server refuses; the options keep their previous value);
/// PAPO_ERR_PANIC.
///
/// Thread safety: an options object is not shared: no other thread may use
/// `options` during the call.
///
/// Since: 1.0.
///
/// # Safety
/// `options` is NULL or from papo_server_options_new() and not freed.
#[no_mangle]
pub unsafe extern "C" fn papo_server_options_set_flood_lines_per_sec(
    options: *mut papo_server_options,
    value: u32,
) -> c_int {
    let change = |o: &mut papo_server_options| -> FfiResult<()> {
        o.config.flood_lines_per_sec = value;
        Ok(())
    };
    // SAFETY: caller's contract.
    unsafe { set_server(options, change) }
}

/// Lines a client may send at once before flood_lines_per_sec applies
/// (0 is taken as 1). Default 1000.
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
/// (a value the server refuses; the options keep their previous value);
/// PAPO_ERR_PANIC.
///
/// Thread safety: an options object is not shared: no other thread may use
/// `options` during the call.
///
/// Since: 1.0.
///
/// # Safety
/// `options` is NULL or from papo_server_options_new() and not freed.
#[no_mangle]
pub unsafe extern "C" fn papo_server_options_set_flood_burst_lines(
    options: *mut papo_server_options,
    value: u32,
) -> c_int {
    let change = |o: &mut papo_server_options| -> FfiResult<()> {
        o.config.flood_burst_lines = value;
        Ok(())
    };
    // SAFETY: caller's contract.
    unsafe { set_server(options, change) }
}

/// Milliseconds of silence after which a registered client is sent
/// "PING :keepalive" (any line answers; papo clients answer by
/// themselves). 0 = no keepalive. Default 120000.
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
/// (a value the server refuses; the options keep their previous value);
/// PAPO_ERR_PANIC.
///
/// Thread safety: an options object is not shared: no other thread may use
/// `options` during the call.
///
/// Since: 1.0.
///
/// # Safety
/// `options` is NULL or from papo_server_options_new() and not freed.
#[no_mangle]
pub unsafe extern "C" fn papo_server_options_set_keepalive_interval_ms(
    options: *mut papo_server_options,
    value: u32,
) -> c_int {
    let change = |o: &mut papo_server_options| -> FfiResult<()> {
        o.config.keepalive_interval = Duration::from_millis(u64::from(value));
        Ok(())
    };
    // SAFETY: caller's contract.
    unsafe { set_server(options, change) }
}

/// Milliseconds of further silence after a PING after which the client
/// is dropped with ERROR 11. Default 60000.
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
/// (a value the server refuses; the options keep their previous value);
/// PAPO_ERR_PANIC.
///
/// Thread safety: an options object is not shared: no other thread may use
/// `options` during the call.
///
/// Since: 1.0.
///
/// # Safety
/// `options` is NULL or from papo_server_options_new() and not freed.
#[no_mangle]
pub unsafe extern "C" fn papo_server_options_set_keepalive_timeout_ms(
    options: *mut papo_server_options,
    value: u32,
) -> c_int {
    let change = |o: &mut papo_server_options| -> FfiResult<()> {
        o.config.keepalive_timeout = Duration::from_millis(u64::from(value));
        Ok(())
    };
    // SAFETY: caller's contract.
    unsafe { set_server(options, change) }
}

/// Refused lines at the nickname prompt after which the connection is
/// closed. 0 = no limit. Default 10.
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
/// (a value the server refuses; the options keep their previous value);
/// PAPO_ERR_PANIC.
///
/// Thread safety: an options object is not shared: no other thread may use
/// `options` during the call.
///
/// Since: 1.0.
///
/// # Safety
/// `options` is NULL or from papo_server_options_new() and not freed.
#[no_mangle]
pub unsafe extern "C" fn papo_server_options_set_max_nick_attempts(
    options: *mut papo_server_options,
    value: u32,
) -> c_int {
    let change = |o: &mut papo_server_options| -> FfiResult<()> {
        o.config.max_nick_attempts = value;
        Ok(())
    };
    // SAFETY: caller's contract.
    unsafe { set_server(options, change) }
}

/// The server password (PROTOCOL.md "Password"), UTF-8, NUL-terminated:
/// clients must send `/pass <password>` before their nickname; a wrong
/// or missing one gets ERROR 19 (PAPO_ERR_ACCESS_DENIED) and a close.
/// Not empty, no control characters, no spaces at either end. NULL = no
/// password (the default). Copied.
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_TEXT (value not UTF-8); PAPO_ERR_INVALID_ARGUMENT
/// (a value the server refuses; the options keep their previous value);
/// PAPO_ERR_PANIC.
///
/// Thread safety: an options object is not shared: no other thread may use
/// `options` during the call.
///
/// Since: 1.0.
///
/// # Safety
/// `options` is NULL or from papo_server_options_new() and not freed; `value` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn papo_server_options_set_password(
    options: *mut papo_server_options,
    value: *const c_char,
) -> c_int {
    let change = |o: &mut papo_server_options| -> FfiResult<()> {
        // SAFETY: caller's contract.
        let v = unsafe { opt_str_arg(value, "value", PAPO_ERR_INVALID_TEXT) }?;
        o.config.password = v.map(Password::from);
        Ok(())
    };
    // SAFETY: caller's contract.
    unsafe { set_server(options, change) }
}

/// Path of a PEM file with the server's TLS certificate (then any
/// intermediates). With tls_key_file, the server also listens for TLS
/// on tls_port (PROTOCOL.md "TLS"). NULL = no TLS (the default). Read by papo_server_start_with().
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_TEXT (value not UTF-8); PAPO_ERR_INVALID_ARGUMENT
/// (a value the server refuses; the options keep their previous value);
/// PAPO_ERR_PANIC.
///
/// Thread safety: an options object is not shared: no other thread may use
/// `options` during the call.
///
/// Since: 1.0.
///
/// # Safety
/// `options` is NULL or from papo_server_options_new() and not freed; `value` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn papo_server_options_set_tls_cert_file(
    options: *mut papo_server_options,
    value: *const c_char,
) -> c_int {
    let change = |o: &mut papo_server_options| -> FfiResult<()> {
        // SAFETY: caller's contract.
        let v = unsafe { opt_str_arg(value, "value", PAPO_ERR_INVALID_TEXT) }?;
        o.tls_cert_file = v.map(PathBuf::from);
        Ok(())
    };
    // SAFETY: caller's contract.
    unsafe { set_server(options, change) }
}

/// Path of a PEM file with the private key of tls_cert_file. NULL = no
/// TLS (the default).
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_TEXT (value not UTF-8); PAPO_ERR_INVALID_ARGUMENT
/// (a value the server refuses; the options keep their previous value);
/// PAPO_ERR_PANIC.
///
/// Thread safety: an options object is not shared: no other thread may use
/// `options` during the call.
///
/// Since: 1.0.
///
/// # Safety
/// `options` is NULL or from papo_server_options_new() and not freed; `value` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn papo_server_options_set_tls_key_file(
    options: *mut papo_server_options,
    value: *const c_char,
) -> c_int {
    let change = |o: &mut papo_server_options| -> FfiResult<()> {
        // SAFETY: caller's contract.
        let v = unsafe { opt_str_arg(value, "value", PAPO_ERR_INVALID_TEXT) }?;
        o.tls_key_file = v.map(PathBuf::from);
        Ok(())
    };
    // SAFETY: caller's contract.
    unsafe { set_server(options, change) }
}

/// The TLS port, used only with tls_cert_file/tls_key_file: by
/// convention 18001 (PAPO_DEFAULT_TLS_PORT), the default; 0 picks a
/// free port (see papo_server_tls_port()).
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
/// (a value the server refuses; the options keep their previous value);
/// PAPO_ERR_PANIC.
///
/// Thread safety: an options object is not shared: no other thread may use
/// `options` during the call.
///
/// Since: 1.0.
///
/// # Safety
/// `options` is NULL or from papo_server_options_new() and not freed.
#[no_mangle]
pub unsafe extern "C" fn papo_server_options_set_tls_port(
    options: *mut papo_server_options,
    value: u16,
) -> c_int {
    let change = |o: &mut papo_server_options| -> FfiResult<()> {
        o.config.tls_port = value;
        Ok(())
    };
    // SAFETY: caller's contract.
    unsafe { set_server(options, change) }
}

/// The HTTP port (PROTOCOL.md "HTTP"), on the server's IP address: the
/// browser chat client at `/`, its WebSocket at `/ws` (the same chat as the
/// plain port, with the same limits), Prometheus metrics at `/metrics` and
/// `/healthz`. `port` -1 = no HTTP port (the default); 0 = any free port
/// (see papo_server_http_port()); 1-65535 = that port (by convention 18080,
/// PAPO_DEFAULT_HTTP_PORT).
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
/// (`port` below -1 or above 65535; the options keep their previous
/// value); PAPO_ERR_PANIC.
///
/// Thread safety: an options object is not shared: no other thread may use
/// `options` during the call.
///
/// Since: 1.1.
///
/// # Safety
/// `options` is NULL or from papo_server_options_new() and not freed.
#[no_mangle]
pub unsafe extern "C" fn papo_server_options_set_http_port(
    options: *mut papo_server_options,
    port: i32,
) -> c_int {
    let change = |o: &mut papo_server_options| -> FfiResult<()> {
        o.config.http_port = match port {
            -1 => None,
            p => Some(u16::try_from(p).map_err(|_| {
                FfiError::new(
                    PAPO_ERR_INVALID_ARGUMENT,
                    format!("port {p} is neither -1 (no HTTP port) nor 0-65535"),
                )
            })?),
        };
        Ok(())
    };
    // SAFETY: caller's contract.
    unsafe { set_server(options, change) }
}

/// Adds an origin (`scheme://host[:port]`, as a browser sends it in its
/// `Origin` header, e.g. `https://chat.example.org`) whose pages may open
/// the HTTP port's WebSocket besides the port's own page. Any other origin
/// gets `403 Forbidden` (PROTOCOL.md "WebSocket"). None by default.
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (options or origin NULL);
/// PAPO_ERR_INVALID_TEXT (not UTF-8); PAPO_ERR_INVALID_ARGUMENT (not
/// `http://...` or `https://...`, or with spaces; the options keep their
/// previous value); PAPO_ERR_PANIC.
///
/// Thread safety: an options object is not shared: no other thread may use
/// `options` during the call.
///
/// Since: 1.1.
///
/// # Safety
/// `options` is NULL or from papo_server_options_new() and not freed; `origin` is NULL or
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn papo_server_options_add_http_origin(
    options: *mut papo_server_options,
    origin: *const c_char,
) -> c_int {
    let change = |o: &mut papo_server_options| -> FfiResult<()> {
        // SAFETY: caller's contract.
        let v = unsafe { opt_str_arg(origin, "origin", PAPO_ERR_INVALID_TEXT) }?
            .ok_or_else(|| null_arg("origin"))?;
        o.config.http_allowed_origins.push(v.to_owned());
        Ok(())
    };
    // SAFETY: caller's contract.
    unsafe { set_server(options, change) }
}

/// Process-wide, 0 = off (the default), nonzero = on: papo_server_start_with()
/// raises the process's soft limit on open files (RLIMIT_NOFILE, what
/// `ulimit -n` shows) to its hard limit. Each client is one file
/// descriptor and the usual soft limit, 1024, stops a server near 1,000
/// clients. Off by default because the limit belongs to the whole
/// process, not to the library; a server program turns it on
/// (examples/c/servidor.c does). Never lowered again; a failure is
/// ignored. Whatever the limit, a client the process has no descriptor
/// left for gets ERROR 12 and is closed. Unix only.
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
/// (a value the server refuses; the options keep their previous value);
/// PAPO_ERR_PANIC.
///
/// Thread safety: an options object is not shared: no other thread may use
/// `options` during the call.
///
/// Since: 1.0.
///
/// # Safety
/// `options` is NULL or from papo_server_options_new() and not freed.
#[no_mangle]
pub unsafe extern "C" fn papo_server_options_set_raise_nofile_limit(
    options: *mut papo_server_options,
    value: c_int,
) -> c_int {
    let change = |o: &mut papo_server_options| -> FfiResult<()> {
        o.config.raise_nofile_limit = value != 0;
        Ok(())
    };
    // SAFETY: caller's contract.
    unsafe { set_server(options, change) }
}

/// Process-wide, 0 = off (the default), nonzero = on: an I/O thread that
/// has written 4 MiB or more calls glibc's malloc_trim(0) at its next
/// idle moment (200 ms without events), handing the heap memory freed
/// since back to the system. Without it, what a burst queued (10,000
/// clients joining) stays in the process as free heap: about 10 KB per
/// idle client instead of 1 KB. Off by default because malloc_trim acts
/// on the whole process's heap; a server program turns it on. Linux with
/// glibc only; elsewhere it does nothing.
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
/// (a value the server refuses; the options keep their previous value);
/// PAPO_ERR_PANIC.
///
/// Thread safety: an options object is not shared: no other thread may use
/// `options` during the call.
///
/// Since: 1.0.
///
/// # Safety
/// `options` is NULL or from papo_server_options_new() and not freed.
#[no_mangle]
pub unsafe extern "C" fn papo_server_options_set_trim_heap(
    options: *mut papo_server_options,
    value: c_int,
) -> c_int {
    let change = |o: &mut papo_server_options| -> FfiResult<()> {
        o.config.trim_heap = value != 0;
        Ok(())
    };
    // SAFETY: caller's contract.
    unsafe { set_server(options, change) }
}

/// The server operators' password (PROTOCOL.md "Rooms"), UTF-8,
/// NUL-terminated: a client that sends `/oper <password>` becomes a server
/// operator and may put anyone off the server (`/kick Nick`). Not empty, no
/// control characters, no spaces at either end. NULL = nobody can become
/// one (the default). Copied.
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_TEXT
/// (value not UTF-8); PAPO_ERR_INVALID_ARGUMENT (a value the server
/// refuses; the options keep their previous value); PAPO_ERR_PANIC.
///
/// Thread safety: an options object is not shared: no other thread may use
/// `options` during the call.
///
/// Since: 1.1.
///
/// # Safety
/// `options` is NULL or from papo_server_options_new() and not freed; `value` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn papo_server_options_set_oper_password(
    options: *mut papo_server_options,
    value: *const c_char,
) -> c_int {
    let change = |o: &mut papo_server_options| -> FfiResult<()> {
        // SAFETY: caller's contract.
        let v = unsafe { opt_str_arg(value, "value", PAPO_ERR_INVALID_TEXT) }?;
        o.config.oper_password = v.map(Password::from);
        Ok(())
    };
    // SAFETY: caller's contract.
    unsafe { set_server(options, change) }
}

/// The path of an SQLite database for the chat's history (PROTOCOL.md
/// "History"), UTF-8, NUL-terminated: created if missing; history and
/// message ids then survive a restart of the server. When it cannot be
/// opened or written, the server still starts and chats, keeps history in
/// memory and reports a PAPO_SERVER_EVENT_HISTORY. NULL = history in memory
/// only (the default). Copied; opened by papo_server_start_with().
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_TEXT
/// (value not UTF-8); PAPO_ERR_PANIC.
///
/// Thread safety: an options object is not shared: no other thread may use
/// `options` during the call.
///
/// Since: 1.1.
///
/// # Safety
/// `options` is NULL or from papo_server_options_new() and not freed; `value` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn papo_server_options_set_history_path(
    options: *mut papo_server_options,
    value: *const c_char,
) -> c_int {
    let change = |o: &mut papo_server_options| -> FfiResult<()> {
        // SAFETY: caller's contract.
        let v = unsafe { opt_str_arg(value, "value", PAPO_ERR_INVALID_TEXT) }?;
        o.config.history_path = v.map(PathBuf::from);
        Ok(())
    };
    // SAFETY: caller's contract.
    unsafe { set_server(options, change) }
}

/// The most messages the history keeps per room, for the public chat and
/// per private conversation (default 1000; 0 keeps no history).
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_PANIC.
///
/// Thread safety: an options object is not shared: no other thread may use
/// `options` during the call.
///
/// Since: 1.1.
///
/// # Safety
/// `options` is NULL or from papo_server_options_new() and not freed.
#[no_mangle]
pub unsafe extern "C" fn papo_server_options_set_history_limit(
    options: *mut papo_server_options,
    value: usize,
) -> c_int {
    let change = |o: &mut papo_server_options| -> FfiResult<()> {
        o.config.history_limit = value;
        Ok(())
    };
    // SAFETY: caller's contract.
    unsafe { set_server(options, change) }
}

/// Resuming (PROTOCOL.md "Resuming a connection"): milliseconds the server
/// holds the nickname, rooms and messages of a client that asked for it
/// (the library's clients do) after its connection dropped without a quit;
/// meanwhile nobody sees it leave and private messages to it are accepted.
/// 0: nothing is held. Default 60000.
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_PANIC.
///
/// Thread safety: an options object is not shared: no other thread may use
/// `options` during the call.
///
/// Since: 1.1.
///
/// # Safety
/// `options` is NULL or from papo_server_options_new() and not freed.
#[no_mangle]
pub unsafe extern "C" fn papo_server_options_set_resume_grace_ms(
    options: *mut papo_server_options,
    value: u32,
) -> c_int {
    let change = |o: &mut papo_server_options| -> FfiResult<()> {
        o.config.resume_grace = Duration::from_millis(u64::from(value));
        Ok(())
    };
    // SAFETY: caller's contract.
    unsafe { set_server(options, change) }
}

/// Resuming: the most missed messages a resumed client is sent (its
/// backlog); past it the client is told that messages were lost. Default
/// 1000.
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_PANIC.
///
/// Thread safety: an options object is not shared: no other thread may use
/// `options` during the call.
///
/// Since: 1.1.
///
/// # Safety
/// `options` is NULL or from papo_server_options_new() and not freed.
#[no_mangle]
pub unsafe extern "C" fn papo_server_options_set_resume_backlog(
    options: *mut papo_server_options,
    value: usize,
) -> c_int {
    let change = |o: &mut papo_server_options| -> FfiResult<()> {
        o.config.resume_backlog = value;
        Ok(())
    };
    // SAFETY: caller's contract.
    unsafe { set_server(options, change) }
}

/// Several servers as one chat (PROTOCOL.md "Clusters"): the URL of the
/// Redis (or Valkey) server every node of the chat uses, UTF-8,
/// NUL-terminated: `redis://host:port/` (also `redis://host:port/db`, and
/// `unix:///path` for a Unix socket). Users of every
/// server started with the same URL then see one chat: one user list, the
/// same public chat and rooms, private messages between servers, nicknames
/// unique across all of them. NULL = off, this server is a chat of its own
/// (the default). Copied; the URL's form is checked here, the Redis server
/// is reached by papo_server_start_with().
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_TEXT
/// (value not UTF-8); PAPO_ERR_INVALID_ARGUMENT (not a Redis URL; the
/// options keep their previous value; papo_last_error() says why);
/// PAPO_ERR_PANIC.
///
/// Thread safety: an options object is not shared: no other thread may use
/// `options` during the call.
///
/// Since: 1.2.
///
/// # Safety
/// `options` is NULL or from papo_server_options_new() and not freed; `url` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn papo_server_options_set_cluster(
    options: *mut papo_server_options,
    url: *const c_char,
) -> c_int {
    let change = |o: &mut papo_server_options| -> FfiResult<()> {
        // SAFETY: caller's contract.
        let v = unsafe { opt_str_arg(url, "url", PAPO_ERR_INVALID_TEXT) }?;
        o.config.cluster = v.map(str::to_owned);
        Ok(())
    };
    // SAFETY: caller's contract.
    unsafe { set_server(options, change) }
}

/// Clusters (PROTOCOL.md "Clusters"): milliseconds a server's claim on its
/// users' nicknames lasts without being renewed (it renews every third of
/// it). When a server stops without a goodbye (a crash, `kill -9`, a lost
/// network), its users are gone from the other servers, and their
/// nicknames free, within this time. From 1000 to 3600000 (1 hour);
/// default 10000. Only
/// used with papo_server_options_set_cluster(); every server of one chat
/// should have the same value.
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
/// (below 1000 or above 3600000; the options keep their previous value);
/// PAPO_ERR_PANIC.
///
/// Thread safety: an options object is not shared: no other thread may use
/// `options` during the call.
///
/// Since: 1.2.
///
/// # Safety
/// `options` is NULL or from papo_server_options_new() and not freed.
#[no_mangle]
pub unsafe extern "C" fn papo_server_options_set_cluster_lease_ms(
    options: *mut papo_server_options,
    ms: u64,
) -> c_int {
    let change = |o: &mut papo_server_options| -> FfiResult<()> {
        o.config.cluster_lease = Duration::from_millis(ms);
        Ok(())
    };
    // SAFETY: caller's contract.
    unsafe { set_server(options, change) }
}
