//! The client's options: `papo_client_options_new`, `_free` and one setter
//! per `ClientConfig` setting.

use super::*;

/// A new options object holding the default settings (each setter names
/// its default). Free it with papo_client_options_free().
///
/// Returns: the object, or NULL only when memory ran out (or on a panic).
///
/// Thread safety: may be called from any thread.
///
/// Since: 1.0.
#[no_mangle]
pub extern "C" fn papo_client_options_new() -> *mut papo_client_options {
    std::panic::catch_unwind(|| Box::into_raw(Box::new(papo_client_options::defaults())))
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
/// `options` is NULL or from papo_client_options_new() and not freed yet.
#[no_mangle]
pub unsafe extern "C" fn papo_client_options_free(options: *mut papo_client_options) {
    if !options.is_null() {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            // SAFETY: from Box::into_raw in papo_client_options_new(), handed back once.
            drop(unsafe { Box::from_raw(options) });
        }));
    }
}

/// Milliseconds allowed to resolve a host name, open the TCP connection
/// and receive the server's greeting and user list; past it the
/// connection fails with PAPO_ERR_INVALID_SERVER (04), or
/// PAPO_ERR_INVALID_ADDRESS (05) if the name was still not resolved.
/// Must be > 0. Default 5000.
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
/// (a value the client refuses; the options keep their previous value);
/// PAPO_ERR_PANIC.
///
/// Thread safety: an options object is not shared: no other thread may use
/// `options` during the call.
///
/// Since: 1.0.
///
/// # Safety
/// `options` is NULL or from papo_client_options_new() and not freed.
#[no_mangle]
pub unsafe extern "C" fn papo_client_options_set_connect_timeout_ms(
    options: *mut papo_client_options,
    value: u32,
) -> c_int {
    let change = |o: &mut papo_client_options| -> FfiResult<()> {
        o.config.connect_timeout = Duration::from_millis(u64::from(value));
        Ok(())
    };
    // SAFETY: caller's contract.
    unsafe { set_client(options, change) }
}

/// Milliseconds to wait for the server's answer to a request (a private
/// message, the user list, a nickname change, a ping); past it the call
/// fails with PAPO_ERR_TIMEOUT. Must be > 0. Default 10000.
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
/// (a value the client refuses; the options keep their previous value);
/// PAPO_ERR_PANIC.
///
/// Thread safety: an options object is not shared: no other thread may use
/// `options` during the call.
///
/// Since: 1.0.
///
/// # Safety
/// `options` is NULL or from papo_client_options_new() and not freed.
#[no_mangle]
pub unsafe extern "C" fn papo_client_options_set_reply_timeout_ms(
    options: *mut papo_client_options,
    value: u32,
) -> c_int {
    let change = |o: &mut papo_client_options| -> FfiResult<()> {
        o.config.reply_timeout = Duration::from_millis(u64::from(value));
        Ok(())
    };
    // SAFETY: caller's contract.
    unsafe { set_client(options, change) }
}

/// Most events kept for papo_client_wait_event(); when the queue is full
/// the client stops reading from the socket until events are taken, so
/// nothing is lost (the server may then drop this client as a slow
/// consumer, 03). Must be > 0. Default 65536.
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
/// (a value the client refuses; the options keep their previous value);
/// PAPO_ERR_PANIC.
///
/// Thread safety: an options object is not shared: no other thread may use
/// `options` during the call.
///
/// Since: 1.0.
///
/// # Safety
/// `options` is NULL or from papo_client_options_new() and not freed.
#[no_mangle]
pub unsafe extern "C" fn papo_client_options_set_event_queue_capacity(
    options: *mut papo_client_options,
    value: usize,
) -> c_int {
    let change = |o: &mut papo_client_options| -> FfiResult<()> {
        o.config.event_queue_capacity = value;
        Ok(())
    };
    // SAFETY: caller's contract.
    unsafe { set_client(options, change) }
}

/// The server's password (PROTOCOL.md "Password"), UTF-8,
/// NUL-terminated, sent as `/pass <password>` before the nickname; a
/// server that wants one and gets a wrong one makes the connection fail
/// with PAPO_ERR_ACCESS_DENIED (19). NULL = none (the default). Copied.
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_TEXT (value not UTF-8); PAPO_ERR_INVALID_ARGUMENT
/// (a value the client refuses; the options keep their previous value);
/// PAPO_ERR_PANIC.
///
/// Thread safety: an options object is not shared: no other thread may use
/// `options` during the call.
///
/// Since: 1.0.
///
/// # Safety
/// `options` is NULL or from papo_client_options_new() and not freed; `value` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn papo_client_options_set_password(
    options: *mut papo_client_options,
    value: *const c_char,
) -> c_int {
    let change = |o: &mut papo_client_options| -> FfiResult<()> {
        // SAFETY: caller's contract.
        let v = unsafe { opt_str_arg(value, "value", PAPO_ERR_INVALID_TEXT) }?;
        o.config.password = v.map(Password::from);
        Ok(())
    };
    // SAFETY: caller's contract.
    unsafe { set_client(options, change) }
}

/// Path of a PEM file with the certificate(s) to trust (the server's
/// own if self-signed, or its authority): when not NULL the connection
/// speaks TLS (PROTOCOL.md "TLS"; connect to the TLS port, by
/// convention 18001). A failed handshake or an untrusted certificate is
/// PAPO_ERR_INVALID_SERVER (04). NULL = plain text (the default).
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_TEXT (value not UTF-8); PAPO_ERR_INVALID_ARGUMENT
/// (a value the client refuses; the options keep their previous value);
/// PAPO_ERR_PANIC.
///
/// Thread safety: an options object is not shared: no other thread may use
/// `options` during the call.
///
/// Since: 1.0.
///
/// # Safety
/// `options` is NULL or from papo_client_options_new() and not freed; `value` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn papo_client_options_set_tls_ca_file(
    options: *mut papo_client_options,
    value: *const c_char,
) -> c_int {
    let change = |o: &mut papo_client_options| -> FfiResult<()> {
        // SAFETY: caller's contract.
        let v = unsafe { opt_str_arg(value, "value", PAPO_ERR_INVALID_TEXT) }?;
        o.tls_ca_file = v.map(PathBuf::from);
        Ok(())
    };
    // SAFETY: caller's contract.
    unsafe { set_client(options, change) }
}

/// With TLS, the name (DNS name or IP address) the server's certificate
/// must carry; NULL = the `ip` argument of papo_client_connect_with(), host
/// name or IP address (the default).
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_TEXT (value not UTF-8); PAPO_ERR_INVALID_ARGUMENT
/// (a value the client refuses; the options keep their previous value);
/// PAPO_ERR_PANIC.
///
/// Thread safety: an options object is not shared: no other thread may use
/// `options` during the call.
///
/// Since: 1.0.
///
/// # Safety
/// `options` is NULL or from papo_client_options_new() and not freed; `value` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn papo_client_options_set_tls_server_name(
    options: *mut papo_client_options,
    value: *const c_char,
) -> c_int {
    let change = |o: &mut papo_client_options| -> FfiResult<()> {
        // SAFETY: caller's contract.
        let v = unsafe { opt_str_arg(value, "value", PAPO_ERR_INVALID_TEXT) }?;
        o.tls_server_name = v.map(str::to_owned);
        Ok(())
    };
    // SAFETY: caller's contract.
    unsafe { set_client(options, change) }
}

/// Presence notices (PROTOCOL.md "Presence"): nonzero (the default, 1)
/// receives PAPO_EVENT_JOINED, PAPO_EVENT_LEFT and PAPO_EVENT_NICK_CHANGED
/// for other users and the user list at registration. 0 sends
/// `/presence off` before the nickname: no presence events about others
/// and no implicit list (papo_client_users() still works), which is
/// what a bot or a load generator in a room of thousands wants: each
/// join would otherwise cost every client a line (O(n^2) in all).
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
/// (a value the client refuses; the options keep their previous value);
/// PAPO_ERR_PANIC.
///
/// Thread safety: an options object is not shared: no other thread may use
/// `options` during the call.
///
/// Since: 1.0.
///
/// # Safety
/// `options` is NULL or from papo_client_options_new() and not freed.
#[no_mangle]
pub unsafe extern "C" fn papo_client_options_set_presence(
    options: *mut papo_client_options,
    value: c_int,
) -> c_int {
    let change = |o: &mut papo_client_options| -> FfiResult<()> {
        o.config.presence = value != 0;
        Ok(())
    };
    // SAFETY: caller's contract.
    unsafe { set_client(options, change) }
}

/// Reconnecting by itself (PROTOCOL.md "Resuming a connection"): nonzero
/// (the default) makes a client whose connection is lost without its quit
/// (a network cut, a server restart) connect again with backoff, take its
/// nickname, rooms and missed messages back, and report
/// PAPO_EVENT_RECONNECTING and PAPO_EVENT_RECONNECTED; PAPO_EVENT_DISCONNECTED
/// comes only after the last attempt failed. Only with a server that says
/// `resume=1` in its HELLO. 0: a lost connection ends at once (as with
/// Conecta_cliente(), which never reconnects).
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_PANIC.
///
/// Thread safety: an options object is not shared: no other thread may use
/// `options` during the call.
///
/// Since: 1.1.
///
/// # Safety
/// `options` is NULL or from papo_client_options_new() and not freed.
#[no_mangle]
pub unsafe extern "C" fn papo_client_options_set_reconnect(
    options: *mut papo_client_options,
    value: c_int,
) -> c_int {
    let change = |o: &mut papo_client_options| -> FfiResult<()> {
        o.config.reconnect = value != 0;
        Ok(())
    };
    // SAFETY: caller's contract.
    unsafe { set_client(options, change) }
}

/// Reconnecting: attempts in a row before giving up (then
/// PAPO_EVENT_DISCONNECTED). Must be > 0. Default 10.
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
/// (0; the options keep their previous value); PAPO_ERR_PANIC.
///
/// Thread safety: an options object is not shared: no other thread may use
/// `options` during the call.
///
/// Since: 1.1.
///
/// # Safety
/// `options` is NULL or from papo_client_options_new() and not freed.
#[no_mangle]
pub unsafe extern "C" fn papo_client_options_set_reconnect_attempts(
    options: *mut papo_client_options,
    value: u32,
) -> c_int {
    let change = |o: &mut papo_client_options| -> FfiResult<()> {
        o.config.reconnect_attempts = value;
        Ok(())
    };
    // SAFETY: caller's contract.
    unsafe { set_client(options, change) }
}

/// Reconnecting: milliseconds before the first attempt; each further
/// attempt waits twice as long, up to the maximum delay, every delay
/// multiplied by a random factor between 0.5 and 1. Default 200.
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
/// (above the maximum delay; the options keep their previous value);
/// PAPO_ERR_PANIC.
///
/// Thread safety: an options object is not shared: no other thread may use
/// `options` during the call.
///
/// Since: 1.1.
///
/// # Safety
/// `options` is NULL or from papo_client_options_new() and not freed.
#[no_mangle]
pub unsafe extern "C" fn papo_client_options_set_reconnect_delay_ms(
    options: *mut papo_client_options,
    value: u32,
) -> c_int {
    let change = |o: &mut papo_client_options| -> FfiResult<()> {
        o.config.reconnect_delay = Duration::from_millis(u64::from(value));
        Ok(())
    };
    // SAFETY: caller's contract.
    unsafe { set_client(options, change) }
}

/// Reconnecting: the longest delay between two attempts, in milliseconds.
/// Default 5000.
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
/// (below the first delay; the options keep their previous value);
/// PAPO_ERR_PANIC.
///
/// Thread safety: an options object is not shared: no other thread may use
/// `options` during the call.
///
/// Since: 1.1.
///
/// # Safety
/// `options` is NULL or from papo_client_options_new() and not freed.
#[no_mangle]
pub unsafe extern "C" fn papo_client_options_set_reconnect_max_delay_ms(
    options: *mut papo_client_options,
    value: u32,
) -> c_int {
    let change = |o: &mut papo_client_options| -> FfiResult<()> {
        o.config.reconnect_max_delay = Duration::from_millis(u64::from(value));
        Ok(())
    };
    // SAFETY: caller's contract.
    unsafe { set_client(options, change) }
}
