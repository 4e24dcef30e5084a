//! Options objects (tox_options, nng's setters) in place of 0.1's config
//! structs: `papo_client_options_*` and `papo_server_options_*`. An options
//! object is a plain heap object owned by the caller (not a registry
//! handle); papo_client_connect_with() and papo_server_start_with() read it
//! and keep nothing of it. A setter checks its value the way the Rust
//! config's `validate` does, so a value the library would refuse is
//! refused where it is set.

use std::ffi::{c_char, c_int};
use std::path::PathBuf;
use std::time::Duration;

use super::{
    boundary, null_arg, opt_str_arg, FfiError, FfiResult, PAPO_ERR_INVALID_ARGUMENT,
    PAPO_ERR_INVALID_TEXT,
};
use crate::client::ClientTls;
use crate::config::{ClientConfig, Password, ServerConfig};
use crate::server::ServerTls;

/// A client's settings (opaque). Create it with papo_client_options_new(),
/// change what you need with the papo_client_options_set_*() functions,
/// pass it to papo_client_connect_with(), free it with
/// papo_client_options_free(). A later version adds setters, never fields
/// the caller must fill.
///
/// Since: 1.0.
#[derive(Clone)]
pub struct papo_client_options {
    config: ClientConfig,
    tls_ca_file: Option<PathBuf>,
    tls_server_name: Option<String>,
}

/// A server's settings and limits (opaque), as papo_client_options: create
/// with papo_server_options_new(), set, pass to papo_server_start_with(),
/// free with papo_server_options_free().
///
/// Since: 1.0.
#[derive(Clone)]
pub struct papo_server_options {
    config: ServerConfig,
    tls_cert_file: Option<PathBuf>,
    tls_key_file: Option<PathBuf>,
}

impl papo_client_options {
    pub(crate) fn defaults() -> papo_client_options {
        papo_client_options {
            config: ClientConfig::default(),
            tls_ca_file: None,
            tls_server_name: None,
        }
    }

    /// The Rust settings; the TLS file is read here.
    pub(crate) fn to_config(&self) -> FfiResult<ClientConfig> {
        let mut config = self.config.clone();
        config.tls = match &self.tls_ca_file {
            None => None,
            Some(path) => {
                let tls = ClientTls::from_ca_pem_file(path)?;
                match &self.tls_server_name {
                    None => Some(tls),
                    Some(name) => Some(tls.with_server_name(name)?),
                }
            }
        };
        Ok(config)
    }

    /// Sets the password (for 0.1's config struct).
    pub(crate) fn set_strings(
        &mut self,
        password: Option<&str>,
        tls_ca_file: Option<&str>,
        tls_server_name: Option<&str>,
    ) {
        self.config.password = password.map(Password::from);
        self.tls_ca_file = tls_ca_file.map(PathBuf::from);
        self.tls_server_name = tls_server_name.map(str::to_owned);
    }

    pub(crate) fn config_mut(&mut self) -> &mut ClientConfig {
        &mut self.config
    }
}

impl papo_server_options {
    pub(crate) fn defaults() -> papo_server_options {
        papo_server_options {
            config: ServerConfig::default(),
            tls_cert_file: None,
            tls_key_file: None,
        }
    }

    /// The Rust settings; the TLS files are read here.
    pub(crate) fn to_config(&self) -> FfiResult<ServerConfig> {
        let mut config = self.config.clone();
        config.tls = match (&self.tls_cert_file, &self.tls_key_file) {
            (None, None) => None,
            (Some(c), Some(k)) => Some(ServerTls::from_pem_files(c, k)?),
            _ => {
                return Err(FfiError::new(
                    PAPO_ERR_INVALID_ARGUMENT,
                    "tls_cert_file and tls_key_file go together: set both or neither",
                ))
            }
        };
        Ok(config)
    }

    /// Sets the TLS files (for 0.1's config struct).
    pub(crate) fn set_tls_files(&mut self, cert: Option<&str>, key: Option<&str>) {
        self.tls_cert_file = cert.map(PathBuf::from);
        self.tls_key_file = key.map(PathBuf::from);
    }

    pub(crate) fn config_mut(&mut self) -> &mut ServerConfig {
        &mut self.config
    }
}

/// The body of a client setter: the change is made on a copy, which
/// replaces the options only when the whole config still validates.
///
/// # Safety
/// `options` is NULL or a live options object used by no other thread.
unsafe fn set_client(
    options: *mut papo_client_options,
    change: impl FnOnce(&mut papo_client_options) -> FfiResult<()>,
) -> c_int {
    boundary(|| {
        // SAFETY: caller's contract.
        let o = unsafe { options.as_mut() }.ok_or_else(|| null_arg("options"))?;
        let mut next = o.clone();
        change(&mut next)?;
        next.config.validate()?;
        *o = next;
        Ok(())
    })
}

/// As [`set_client`], for a server's options.
///
/// # Safety
/// As [`set_client`].
unsafe fn set_server(
    options: *mut papo_server_options,
    change: impl FnOnce(&mut papo_server_options) -> FfiResult<()>,
) -> c_int {
    boundary(|| {
        // SAFETY: caller's contract.
        let o = unsafe { options.as_mut() }.ok_or_else(|| null_arg("options"))?;
        let mut next = o.clone();
        change(&mut next)?;
        next.config.validate()?;
        *o = next;
        Ok(())
    })
}

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
