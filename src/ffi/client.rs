//! The client side of the C ABI: `papo_client_*`, over [`crate::Client`].

use std::ffi::{c_char, c_int, c_void};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::event::{papo_event, EventData};
use super::{
    arg_ref, boundary, check_buffer_args, code_of, ip_arg, non_null, opt_str_arg, str_arg,
    timeout_arg, write_buffer, PAPO_ERR_INVALID_ARGUMENT, PAPO_ERR_INVALID_NICK,
    PAPO_ERR_INVALID_TEXT,
};
use crate::client::{self as rust_client, Client, ClientTls};
use crate::config::{ClientConfig, Password};
use crate::error::ErrorCode;

/// A connected, registered chat client (opaque handle). Created by
/// Conecta_cliente() or papo_client_connect(); ended and freed by
/// Desconecta_cliente().
pub struct papo_client {
    pub(crate) client: Client,
    /// The strings of the event last returned by papo_client_next_event,
    /// kept alive until the next call or Desconecta_cliente.
    last_event: Mutex<Option<EventData>>,
}

/// The client's settings (papo::ClientConfig). Fill it with
/// papo_client_config_init() first, then change the fields you need.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct papo_client_config {
    /// Milliseconds allowed to resolve a host name, open the TCP connection
    /// and receive the server's greeting and user list; past it the
    /// connection fails with PAPO_ERR_INVALID_SERVER (04), or
    /// PAPO_ERR_INVALID_ADDRESS (05) if the name was still not resolved.
    /// Must be > 0. Default 5000.
    pub connect_timeout_ms: u32,
    /// Milliseconds to wait for the server's answer to a request (a private
    /// message, the user list, a nickname change, a ping); past it the call
    /// fails with PAPO_ERR_TIMEOUT. Must be > 0. Default 10000.
    pub reply_timeout_ms: u32,
    /// Most events kept for papo_client_next_event(); when the queue is full
    /// the client stops reading from the socket until events are taken, so
    /// nothing is lost (the server may then drop this client as a slow
    /// consumer, 03). Must be > 0. Default 65536.
    pub event_queue_capacity: usize,
    /// The server's password (PROTOCOL.md "Password"), UTF-8,
    /// NUL-terminated, sent as `/pass <password>` before the nickname; a
    /// server that wants one and gets a wrong one makes the connection fail
    /// with PAPO_ERR_ACCESS_DENIED (19). NULL = none (the default). Copied.
    pub password: *const c_char,
    /// Path of a PEM file with the certificate(s) to trust (the server's
    /// own if self-signed, or its authority): when not NULL the connection
    /// speaks TLS (PROTOCOL.md "TLS"; connect to the TLS port, by
    /// convention 18001). A failed handshake or an untrusted certificate is
    /// PAPO_ERR_INVALID_SERVER (04). NULL = plain text (the default).
    pub tls_ca_file: *const c_char,
    /// With TLS, the name (DNS name or IP address) the server's certificate
    /// must carry; NULL = the `ip` argument of papo_client_connect(), host
    /// name or IP address (the default).
    pub tls_server_name: *const c_char,
    /// Presence notices (PROTOCOL.md "Presence"): nonzero (the default, 1)
    /// receives PAPO_EVENT_JOINED, PAPO_EVENT_LEFT and PAPO_EVENT_NICK_CHANGED
    /// for other users and the user list at registration. 0 sends
    /// `/presence off` before the nickname: no presence events about others
    /// and no implicit list (papo_client_users() still works), which is
    /// what a bot or a load generator in a room of thousands wants: each
    /// join would otherwise cost every client a line (O(n^2) in all).
    pub presence: u8,
}

impl From<&ClientConfig> for papo_client_config {
    fn from(c: &ClientConfig) -> papo_client_config {
        papo_client_config {
            connect_timeout_ms: u32::try_from(c.connect_timeout.as_millis()).unwrap_or(u32::MAX),
            reply_timeout_ms: u32::try_from(c.reply_timeout.as_millis()).unwrap_or(u32::MAX),
            event_queue_capacity: c.event_queue_capacity,
            password: std::ptr::null(),
            tls_ca_file: std::ptr::null(),
            tls_server_name: std::ptr::null(),
            presence: u8::from(c.presence),
        }
    }
}

impl papo_client_config {
    /// The Rust settings, converted field by field; the values are
    /// checked by `ClientConfig::validate` when connecting.
    ///
    /// # Safety
    /// The string fields are NULL or NUL-terminated.
    unsafe fn to_rust(self) -> Result<ClientConfig, c_int> {
        Ok(ClientConfig {
            connect_timeout: Duration::from_millis(u64::from(self.connect_timeout_ms)),
            reply_timeout: Duration::from_millis(u64::from(self.reply_timeout_ms)),
            event_queue_capacity: self.event_queue_capacity,
            // SAFETY: caller's contract.
            password: unsafe { opt_str_arg(self.password, PAPO_ERR_INVALID_TEXT) }?
                .map(Password::from),
            // SAFETY: caller's contract.
            tls: match unsafe { opt_str_arg(self.tls_ca_file, PAPO_ERR_INVALID_TEXT) }? {
                None => None,
                Some(path) => {
                    let tls = ClientTls::from_ca_pem_file(path).map_err(code_of)?;
                    // SAFETY: caller's contract.
                    match unsafe { opt_str_arg(self.tls_server_name, PAPO_ERR_INVALID_TEXT) }? {
                        None => Some(tls),
                        Some(name) => Some(tls.with_server_name(name).map_err(code_of)?),
                    }
                }
            },
            presence: self.presence != 0,
        })
    }
}

/// Fills `config` with the default settings (listed on each field). NULL is
/// ignored.
///
/// Thread safety: may be called from any thread; `config` must not be used
/// by another thread during the call.
///
/// # Safety
/// `config` is NULL or points to a writable papo_client_config.
#[no_mangle]
pub unsafe extern "C" fn papo_client_config_init(config: *mut papo_client_config) {
    let _ = boundary(|| {
        non_null(config)?;
        let defaults = papo_client_config::from(&ClientConfig::default());
        // SAFETY: non-NULL and writable by the caller's contract.
        unsafe { config.write(defaults) };
        Ok(())
    });
}

/// Connects to the papo server at `ip`:`port` and registers the nickname
/// `apelido` (seed 000 client manual items 1-2). Returns after the server
/// accepted the nickname and sent the list of who is online (read it with
/// papo_client_users()); from then on a reader thread queues what arrives
/// for papo_client_next_event().
///
/// Arguments:
/// - `ip`: the server's address as text: an IPv4 address ("192.168.0.10"),
///   an IPv6 address with or without brackets (`"::1"`, `"[::1]"`), or a host
///   name ("localhost", "chat.example.org": ASCII letters, digits, hyphens
///   and dots; resolved by the system within connect_timeout_ms); NULL or
///   "" means "127.0.0.1" (seed 000). Copied.
/// - `port`: the server's TCP port (PAPO_DEFAULT_PORT is 18000).
/// - `apelido`: the nickname, UTF-8, 1 to 32 characters (the server's
///   limit) without whitespace, control characters or `:` `/` `\` `*` `,`.
///   Copied.
/// - `config`: the settings; NULL means the defaults. Copied.
/// - `out_client`: receives the new handle on success (untouched on
///   error). Free it with Desconecta_cliente().
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (apelido or out_client NULL);
/// PAPO_ERR_INVALID_TEXT (ip not UTF-8); PAPO_ERR_INVALID_NICK (06: apelido
/// not UTF-8 or not a valid nickname); PAPO_ERR_INVALID_ADDRESS (05: ip is
/// neither an IP address nor a host name, e.g. "999.1.1.1", "1.2.3.4:80",
/// "não é ip", which are refused without any lookup; or the name does not
/// resolve in time); PAPO_ERR_INVALID_SERVER (04: nothing answers in time,
/// or not a papo server); PAPO_ERR_NICK_IN_USE (01: taken, compared
/// case-insensitively); PAPO_ERR_SERVER_FULL (12);
/// PAPO_ERR_CONNECTION_ABORTED (03: lost while registering);
/// PAPO_ERR_ACCESS_DENIED (19: wrong or missing password);
/// PAPO_ERR_INVALID_ARGUMENT (a config value of 0, a bad password setting,
/// a TLS file with no certificate, a bad TLS server name, or called inside
/// a wake-up callback: connecting waits, see papo_client_set_wakeup());
/// PAPO_ERR_IO (the TLS file cannot be read); PAPO_ERR_INVALID_TEXT (a
/// config string not UTF-8); PAPO_ERR_PANIC.
///
/// Thread safety: may be called from any thread, but not inside a wake-up
/// callback; blocks the calling thread for up to connect_timeout_ms.
///
/// # Safety
/// Every pointer is NULL or valid; strings are NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn papo_client_connect(
    ip: *const c_char,
    port: u16,
    apelido: *const c_char,
    config: *const papo_client_config,
    out_client: *mut *mut papo_client,
) -> c_int {
    boundary(|| {
        non_null(out_client)?;
        non_null(apelido)?;
        // SAFETY: caller's contract.
        let ip = unsafe { ip_arg(ip) }?;
        // SAFETY: caller's contract.
        let nick = unsafe { str_arg(apelido, PAPO_ERR_INVALID_NICK) }?;
        // SAFETY: caller's contract.
        let config = match unsafe { config.as_ref() } {
            // SAFETY: caller's contract (string fields NULL or valid).
            Some(c) => unsafe { c.to_rust() }?,
            None => ClientConfig::default(),
        };
        let client = Client::connect_with(ip, port, nick, config).map_err(code_of)?;
        let handle = Box::new(papo_client {
            client,
            last_event: Mutex::new(None),
        });
        // SAFETY: non-NULL and writable by the caller's contract.
        unsafe { out_client.write(Box::into_raw(handle)) };
        Ok(())
    })
}

/// Waits for the next event from the server (a message, someone joining,
/// leaving or renaming, an error, the end of the connection) and fills
/// `*out_event` with it. Events are pulled, as with libmpv's
/// mpv_wait_event(); see papo_client_set_wakeup() to be told when one is
/// waiting.
///
/// Arguments: `timeout_ms` in milliseconds: negative waits until an event
/// comes, 0 only looks, a positive value waits up to that long.
/// `out_event` is written only on success; its strings stay valid until the
/// next call of this function on the same client or Desconecta_cliente().
///
/// Errors: PAPO_ERR_TIMEOUT (nothing in time); PAPO_ERR_CLOSED (the
/// DISCONNECTED event was already delivered; nothing more will come);
/// PAPO_ERR_NULL_ARGUMENT; PAPO_ERR_INVALID_ARGUMENT (inside a wake-up
/// callback, whatever the timeout; see papo_client_set_wakeup());
/// PAPO_ERR_PANIC.
///
/// Thread safety: may be called from any thread, concurrently with every
/// other function on the same client except Desconecta_cliente(); calls of
/// this function itself on one client are serialized (the second waits for
/// the first), and each frees the previous event's strings, so use one
/// thread to pull events. Not inside a wake-up callback.
///
/// # Safety
/// `client` is NULL or a live handle; `out_event` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn papo_client_next_event(
    client: *mut papo_client,
    timeout_ms: i32,
    out_event: *mut papo_event,
) -> c_int {
    boundary(|| {
        non_null(out_event)?;
        // SAFETY: caller's contract.
        let c = unsafe { arg_ref(client.cast_const()) }?;
        // Client::next_event's rule (17 inside a wake-up callback), asked
        // before taking the lock below: another thread waiting in this
        // function holds it until the event this callback's thread would
        // queue arrives.
        rust_client::check_may_wait("papo_client_next_event").map_err(code_of)?;
        let mut last = c.last_event.lock();
        let event = match timeout_arg(timeout_ms) {
            Some(t) => c.client.next_event(t),
            None => loop {
                match c.client.next_event(Duration::from_secs(3600)) {
                    Err(e) if e.code() == ErrorCode::Timeout => continue,
                    other => break other,
                }
            },
        }
        .map_err(code_of)?;
        let out = last.insert(EventData::from_event(event)).as_c();
        // SAFETY: non-NULL and writable by the caller's contract.
        unsafe { out_event.write(out) };
        Ok(())
    })
}

/// The nicknames online, fresh from the server (a `/list` round trip),
/// sorted case-insensitively, separated by '\n' (no trailing newline) and
/// NUL-terminated; this client is among them.
///
/// Arguments: `buf` receives the text, `buf_len` is its size in bytes; `buf`
/// may be NULL only if `buf_len` is 0 (to ask for the size). `*out_len`
/// receives the bytes needed INCLUDING the NUL, both on success and on
/// PAPO_ERR_BUFFER_TOO_SMALL (then `buf` is untouched): call again with a
/// buffer that large. Each call asks the server anew and the list may grow
/// between two calls, so loop until the result is not
/// PAPO_ERR_BUFFER_TOO_SMALL.
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (client or out_len NULL, or buf NULL with
/// buf_len > 0); PAPO_ERR_BUFFER_TOO_SMALL; PAPO_ERR_CONNECTION_ABORTED
/// (03); PAPO_ERR_TIMEOUT (no answer within reply_timeout_ms);
/// PAPO_ERR_INVALID_ARGUMENT (inside a wake-up callback: it waits for the
/// server's answer; see papo_client_set_wakeup()); PAPO_ERR_PANIC.
///
/// Thread safety: may be called from any thread, concurrently with every
/// other function on the same client except Desconecta_cliente(); blocks
/// for one round trip. Not inside a wake-up callback.
///
/// # Safety
/// `client` is NULL or a live handle; `buf` is NULL or `buf_len` writable
/// bytes; `out_len` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn papo_client_users(
    client: *mut papo_client,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> c_int {
    boundary(|| {
        check_buffer_args(buf, buf_len, out_len)?;
        // SAFETY: caller's contract.
        let c = unsafe { arg_ref(client.cast_const()) }?;
        let text = c.client.users().map_err(code_of)?.join("\n");
        // SAFETY: arguments checked; caller's contract.
        unsafe { write_buffer(&text, buf, buf_len, out_len) }
    })
}

/// This client's current nickname, NUL-terminated, into `buf` (same buffer
/// protocol as papo_client_users(): `*out_len` = bytes needed including the
/// NUL, set on success and on PAPO_ERR_BUFFER_TOO_SMALL). No network round
/// trip. A nickname is at most 32 characters by default, so 129 bytes
/// always suffice for the default limit.
///
/// Errors: PAPO_ERR_NULL_ARGUMENT; PAPO_ERR_BUFFER_TOO_SMALL;
/// PAPO_ERR_PANIC.
///
/// Thread safety: may be called from any thread, concurrently with every
/// other function on the same client except Desconecta_cliente(), and
/// inside a wake-up callback; does not block.
///
/// # Safety
/// As papo_client_users().
#[no_mangle]
pub unsafe extern "C" fn papo_client_nick(
    client: *mut papo_client,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> c_int {
    boundary(|| {
        check_buffer_args(buf, buf_len, out_len)?;
        // SAFETY: caller's contract.
        let c = unsafe { arg_ref(client.cast_const()) }?;
        let nick = c.client.nick();
        // SAFETY: arguments checked; caller's contract.
        unsafe { write_buffer(&nick, buf, buf_len, out_len) }
    })
}

/// Changes this client's nickname (`/nick New`, seed 002). Returns once the
/// server answered; on success everyone, this client included, also gets a
/// PAPO_EVENT_NICK_CHANGED event. On error the old nickname stays.
///
/// Arguments: `new_nick`: UTF-8, same rules as for papo_client_connect().
/// Copied.
///
/// Errors: PAPO_ERR_NICK_IN_USE (01, case-insensitively; renaming to a
/// different case of one's own nickname is allowed if the server allows
/// it); PAPO_ERR_INVALID_NICK (06: not UTF-8 or not a valid nickname);
/// PAPO_ERR_CONNECTION_ABORTED (03); PAPO_ERR_TIMEOUT;
/// PAPO_ERR_NULL_ARGUMENT; PAPO_ERR_INVALID_ARGUMENT (inside a wake-up
/// callback: it waits for the server's answer); PAPO_ERR_PANIC.
///
/// Thread safety: as papo_client_users(); blocks for one round trip.
///
/// # Safety
/// `client` is NULL or a live handle; `new_nick` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn papo_client_set_nick(
    client: *mut papo_client,
    new_nick: *const c_char,
) -> c_int {
    boundary(|| {
        non_null(new_nick)?;
        // SAFETY: caller's contract.
        let c = unsafe { arg_ref(client.cast_const()) }?;
        // SAFETY: caller's contract.
        let nick = unsafe { str_arg(new_nick, PAPO_ERR_INVALID_NICK) }?;
        c.client.change_nick(nick).map_err(code_of)
    })
}

/// A no-op round trip (`/ping`): when it returns 0, the server has
/// processed everything this client sent before it.
///
/// Errors: PAPO_ERR_CONNECTION_ABORTED (03); PAPO_ERR_TIMEOUT;
/// PAPO_ERR_NULL_ARGUMENT; PAPO_ERR_INVALID_ARGUMENT (inside a wake-up
/// callback: it waits for the server's answer); PAPO_ERR_PANIC.
///
/// Thread safety: as papo_client_users(); blocks for one round trip.
///
/// # Safety
/// `client` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn papo_client_ping(client: *mut papo_client) -> c_int {
    boundary(|| {
        // SAFETY: caller's contract.
        let c = unsafe { arg_ref(client.cast_const()) }?;
        c.client.ping().map_err(code_of)
    })
}

/// The C function and its userdata, called from the client's reader thread.
struct CWakeup {
    wakeup: unsafe extern "C" fn(*mut c_void),
    userdata: *mut c_void,
}

// SAFETY: the pointer is only handed back to the caller's function, never
// dereferenced here. papo_client_set_wakeup() documents that the function is
// called on another thread, so making `userdata` safe to use from there is
// the caller's part of the contract (as with mpv_set_wakeup_callback).
unsafe impl Send for CWakeup {}
// SAFETY: as for Send: shared access only copies the two pointers.
unsafe impl Sync for CWakeup {}

impl CWakeup {
    fn call(&self) {
        // SAFETY: the caller registered this function and userdata for
        // exactly this call, and keeps them valid until the callback is
        // removed or the client freed.
        unsafe { (self.wakeup)(self.userdata) };
    }
}

/// Sets the wake-up callback: `wakeup(userdata)` is called each time an
/// event is queued for papo_client_next_event(), like libmpv's
/// mpv_set_wakeup_callback(). It only says "there is something to pull":
/// it runs on the client's reader thread and must return quickly. Typical
/// use: write a byte to a pipe that the main loop polls, or signal a
/// condition variable. Events queued before the callback was set do not
/// call it, so pull once after setting it; the one exception is an event
/// queued at the very moment the callback is set, which may call it
/// although the event was already pulled. A call is a hint: finding
/// nothing to pull is normal.
///
/// Inside a wake-up callback (of this client or any other), every call that
/// would wait returns PAPO_ERR_INVALID_ARGUMENT (17) at once and does
/// nothing, since the reader thread running the callback is what it would
/// wait for, or would be stalled by it: papo_client_connect() and
/// Conecta_cliente(); a private enviar_Msg() (it waits for the server's
/// answer), papo_client_users(), papo_client_set_nick(),
/// papo_client_ping(), papo_client_send_file(), papo_client_send_bytes();
/// papo_client_next_event(), whatever the timeout; and
/// Desconecta_cliente() of any client, which frees the handle, which cannot
/// be done while a callback runs (for another client it would also wait for
/// that client's threads). Allowed there: a public enviar_Msg(),
/// papo_client_set_wakeup(), papo_client_nick(),
/// papo_client_set_download_dir() and papo_client_download_dir(). This is
/// the Rust library's rule (papo::Client::set_wakeup), plus the one about
/// freeing the handle.
///
/// Arguments: `wakeup` NULL removes the callback (then `userdata` is
/// ignored). `userdata` is passed back untouched; the caller owns it and
/// must keep it valid until the callback is removed or
/// Desconecta_cliente() returns. The callback is never called after
/// Desconecta_cliente() returns; it may still run once concurrently with a
/// call that replaces or removes it (from another thread; from inside the
/// callback itself the replacement takes effect from the next event).
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (client NULL); PAPO_ERR_PANIC.
///
/// Thread safety: may be called from any thread, concurrently with every
/// other function on the same client except Desconecta_cliente(), and
/// inside a wake-up callback. The callback itself runs on another thread
/// than the caller's.
///
/// # Safety
/// `client` is NULL or a live handle; `wakeup` is NULL or a function that
/// is safe to call from another thread with `userdata`.
#[no_mangle]
pub unsafe extern "C" fn papo_client_set_wakeup(
    client: *mut papo_client,
    wakeup: Option<unsafe extern "C" fn(userdata: *mut c_void)>,
    userdata: *mut c_void,
) -> c_int {
    boundary(|| {
        // SAFETY: caller's contract.
        let c = unsafe { arg_ref(client.cast_const()) }?;
        let callback = wakeup.map(|wakeup| {
            let w = CWakeup { wakeup, userdata };
            Arc::new(move || w.call()) as Arc<dyn Fn() + Send + Sync>
        });
        c.client.set_wakeup(callback);
        Ok(())
    })
}

/// Shared by enviar_Msg: sends a public (destination NULL or "") or private
/// message.
///
/// # Safety
/// Every pointer is NULL or valid; strings are NUL-terminated.
pub(crate) unsafe fn send(
    client: *mut papo_client,
    destino: *const c_char,
    mensagem: *const c_char,
) -> c_int {
    boundary(|| {
        non_null(mensagem)?;
        // SAFETY: caller's contract.
        let c = unsafe { arg_ref(client.cast_const()) }?;
        // SAFETY: caller's contract.
        let to = unsafe { super::opt_str_arg(destino, PAPO_ERR_INVALID_NICK) }?;
        // SAFETY: caller's contract.
        let text = unsafe { str_arg(mensagem, super::PAPO_ERR_INVALID_TEXT) }?;
        c.client
            .send(to.filter(|t| !t.is_empty()), text)
            .map_err(code_of)
    })
}

/// Shared by Desconecta_cliente: leaves the chat and frees the handle.
///
/// # Safety
/// `client` is NULL or a live handle, not used by anyone afterwards.
pub(crate) unsafe fn destroy(client: *mut papo_client) -> c_int {
    boundary(|| {
        if client.is_null() {
            return Ok(());
        }
        // The one rule of the C API's own: the handle is freed here, and
        // it cannot be while a wake-up callback (this one, or the client's
        // own, which may be using it) runs on this thread.
        if rust_client::in_wakeup() {
            return Err(PAPO_ERR_INVALID_ARGUMENT);
        }
        // SAFETY: a live handle from Box::into_raw, handed back for good.
        let handle = unsafe { Box::from_raw(client) };
        // Errors of disconnect are ignored: the connection is over either
        // way and the handle is freed.
        let _ = handle.client.disconnect();
        drop(handle);
        Ok(())
    })
}
