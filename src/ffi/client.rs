//! The client side of the C ABI: `papo_client_*`, over [`crate::Client`].

use std::ffi::{c_char, c_int, c_void};
use std::os::fd::AsRawFd;
use std::sync::Arc;

use parking_lot::Mutex;

use super::event::{papo_event, EventData};
use super::handles::{handle_ptr, Guard, Registry};
use super::options::papo_client_options;
use super::{
    boundary, check_buffer_args, ip_arg, non_null, str_arg, timeout_arg, write_buffer, FfiError,
    FfiResult, PAPO_ERR_INVALID_ARGUMENT, PAPO_ERR_INVALID_NICK, PAPO_ERR_INVALID_ROOM,
    PAPO_ERR_INVALID_TEXT,
};
use crate::client::{self as rust_client, Client};
use crate::config::ClientConfig;

/// A connected, registered chat client (opaque handle). Created by
/// Conecta_cliente() or papo_client_connect_with(); ended and freed by
/// Desconecta_cliente(). Its value is an id, never dereferenced (see
/// "Handles" at the top of this header).
///
/// Since: 0.1.
pub struct papo_client {
    _opaque: [u8; 0],
}

/// What a client handle stands for.
pub(crate) struct ClientHandle {
    pub(crate) client: Client,
    /// The event last handed out by papo_client_wait_event (or 0.1's
    /// papo_client_next_event), kept until the next call or
    /// Desconecta_cliente.
    last_event: Mutex<Option<Box<StoredEvent>>>,
}

/// An event and its C view, which points into it.
pub(crate) struct StoredEvent {
    _data: EventData,
    pub(crate) c: papo_event,
}

// SAFETY: the raw pointers in `c` point into `_data`, which the struct owns
// and never changes; reading them from another thread is reading `_data`.
unsafe impl Send for StoredEvent {}

/// Every live client handle.
pub(crate) static CLIENTS: Registry<ClientHandle> = Registry::new("client");

/// The live client behind `client`, for the duration of a call.
pub(crate) fn client_arg(client: *const papo_client) -> FfiResult<Guard<ClientHandle>> {
    CLIENTS.get(client, "client")
}

/// Connects and registers a handle: the body of papo_client_connect_with(),
/// Conecta_cliente() and 0.1's papo_client_connect().
///
/// # Safety
/// `ip` and `apelido` are NULL or NUL-terminated; `out_client` is NULL or
/// writable.
pub(crate) unsafe fn connect(
    ip: *const c_char,
    port: u16,
    apelido: *const c_char,
    config: impl FnOnce() -> FfiResult<ClientConfig>,
    out_client: *mut *mut papo_client,
) -> FfiResult<()> {
    non_null(out_client, "out_client")?;
    // SAFETY: caller's contract.
    let ip = unsafe { ip_arg(ip) }?;
    // SAFETY: caller's contract.
    let nick = unsafe { str_arg(apelido, "apelido", PAPO_ERR_INVALID_NICK) }?;
    let config = config()?;
    let client = Client::connect_with(ip, port, nick, config)?;
    let id = CLIENTS.insert(ClientHandle {
        client,
        last_event: Mutex::new(None),
    });
    // SAFETY: non-NULL and writable by the caller's contract.
    unsafe { out_client.write(handle_ptr(id)) };
    Ok(())
}

/// Connects to the papo server at `ip`:`port` and registers the nickname
/// `apelido` (seed 000 client manual items 1-2). Returns after the server
/// accepted the nickname and sent the list of who is online (read it with
/// papo_client_users()); from then on a reader thread queues what arrives
/// for papo_client_wait_event().
///
/// Arguments:
/// - `ip`: the server's address as text: an IPv4 address ("192.168.0.10"),
///   an IPv6 address with or without brackets (`"::1"`, `"[::1]"`), or a host
///   name ("localhost", "chat.example.org": ASCII letters, digits, hyphens
///   and dots; resolved by the system within the connect timeout); NULL or
///   "" means "127.0.0.1" (seed 000). Copied.
/// - `port`: the server's TCP port (PAPO_DEFAULT_PORT is 18000).
/// - `apelido`: the nickname, UTF-8, 1 to 32 characters (the server's
///   limit) without whitespace, control characters or `:` `/` `\` `*` `,`.
///   Copied.
/// - `options`: the settings (papo_client_options_new()); NULL means the
///   defaults. Read during the call only: the caller keeps it and may free
///   it as soon as this returns.
/// - `out_client`: receives the new handle on success (untouched on
///   error). Free it with Desconecta_cliente().
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (apelido or out_client NULL);
/// PAPO_ERR_INVALID_TEXT (ip not UTF-8); PAPO_ERR_INVALID_NICK (06: apelido
/// not UTF-8 or not a valid nickname); PAPO_ERR_INVALID_ADDRESS (05: ip is
/// neither an IP address nor a host name, e.g. "999.1.1.1", "1.2.3.4:80",
/// "não é ip", which are refused without any lookup; or the name does not
/// resolve in time); PAPO_ERR_INVALID_SERVER (04: nothing answers in time,
/// or not a papo server, or a TLS handshake or certificate failed);
/// PAPO_ERR_NICK_IN_USE (01: taken, compared case-insensitively);
/// PAPO_ERR_SERVER_FULL (12); PAPO_ERR_CONNECTION_ABORTED (03: lost while
/// registering); PAPO_ERR_ACCESS_DENIED (19: wrong or missing password);
/// PAPO_ERR_INVALID_ARGUMENT (a TLS file with no certificate, or called
/// inside a wake-up callback: connecting waits, see
/// papo_client_set_wakeup()); PAPO_ERR_IO (the TLS file cannot be read);
/// PAPO_ERR_PANIC. papo_last_error() gives the detail (for example
/// "connection refused by 127.0.0.1:18000").
///
/// Thread safety: may be called from any thread, but not inside a wake-up
/// callback; blocks the calling thread for up to the connect timeout.
///
/// Since: 1.0.
///
/// # Safety
/// Every pointer is NULL or valid; strings are NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn papo_client_connect_with(
    ip: *const c_char,
    port: u16,
    apelido: *const c_char,
    options: *const papo_client_options,
    out_client: *mut *mut papo_client,
) -> c_int {
    boundary(|| {
        // SAFETY: caller's contract.
        let options = unsafe { options.as_ref() };
        // SAFETY: caller's contract.
        unsafe {
            connect(
                ip,
                port,
                apelido,
                || options.map_or_else(|| Ok(ClientConfig::default()), |o| o.to_config()),
                out_client,
            )
        }
    })
}

/// Takes the next event (the body of papo_client_wait_event() and 0.1's
/// papo_client_next_event()) and keeps it in the handle; `write` gets the
/// stored C view, under the handle's event lock.
pub(crate) fn wait_event(
    client: *const papo_client,
    timeout_ms: i32,
    write: impl FnOnce(&papo_event),
) -> FfiResult<()> {
    let c = client_arg(client)?;
    // Client::next_event's rule (17 inside a wake-up callback), asked
    // before taking the lock below: another thread waiting in this
    // function holds it until the event this callback's thread would
    // queue arrives.
    rust_client::check_may_wait("papo_client_wait_event")?;
    let mut last = c.last_event.lock();
    let event = c.client.next_event(timeout_arg(timeout_ms))?;
    let data = EventData::from_event(event);
    let view = data.as_c();
    let stored = last.insert(Box::new(StoredEvent {
        _data: data,
        c: view,
    }));
    write(&stored.c);
    Ok(())
}

/// Waits for the next event from the server (a message, someone joining,
/// leaving or renaming, a file's progress, an error, the end of the
/// connection) and hands it out. Events are pulled, as with libmpv's
/// mpv_wait_event().
///
/// Arguments: `timeout_ms` in milliseconds: negative waits until an event
/// comes, 0 only looks, a positive value waits up to that long.
/// `out_event` receives, on success only, a pointer to the event; the
/// library owns it, and it stays valid until the next call of this
/// function on the same client or Desconecta_cliente(). Never free it,
/// copy it by value or take its sizeof (see "Compatibility").
///
/// Errors: PAPO_ERR_TIMEOUT (nothing in time); PAPO_ERR_CLOSED (the handle
/// was freed, or the DISCONNECTED event was already delivered: nothing
/// more will come); PAPO_ERR_NULL_ARGUMENT; PAPO_ERR_INVALID_ARGUMENT
/// (inside a wake-up callback, whatever the timeout; see
/// papo_client_set_wakeup()); PAPO_ERR_FORKED; PAPO_ERR_PANIC.
///
/// Thread safety: may be called from any thread, concurrently with every
/// other function on the same client; calls of this function itself on one
/// client are serialized (the second waits for the first), and each one
/// ends the previous event's life, so pull events from one thread.
/// Desconecta_cliente() from another thread ends a wait at once (it
/// returns the DISCONNECTED event, or PAPO_ERR_CLOSED). Not inside a
/// wake-up callback.
///
/// Since: 1.0.
///
/// # Safety
/// `client` is any value; `out_event` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn papo_client_wait_event(
    client: *mut papo_client,
    timeout_ms: i32,
    out_event: *mut *const papo_event,
) -> c_int {
    boundary(|| {
        non_null(out_event, "out_event")?;
        wait_event(client, timeout_ms, |e| {
            // SAFETY: non-NULL and writable by the caller's contract.
            unsafe { out_event.write(e) }
        })
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
/// server's answer; see papo_client_set_wakeup()); PAPO_ERR_CLOSED,
/// PAPO_ERR_FORKED (see "Handles"); PAPO_ERR_PANIC.
///
/// Thread safety: may be called from any thread, concurrently with every
/// other function on the same client; blocks
/// for one round trip. Not inside a wake-up callback.
///
/// Since: 0.1.
///
/// # Safety
/// `client` is any value (checked against the live handles); `buf` is NULL or `buf_len` writable
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
        let c = client_arg(client)?;
        let text = c.client.users()?.join("\n");
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
/// PAPO_ERR_CLOSED, PAPO_ERR_FORKED (see "Handles"); PAPO_ERR_PANIC.
///
/// Thread safety: may be called from any thread, concurrently with every
/// other function on the same client, and
/// inside a wake-up callback; does not block.
///
/// Since: 0.1.
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
        let c = client_arg(client)?;
        let nick = c.client.nick();
        // SAFETY: arguments checked; caller's contract.
        unsafe { write_buffer(&nick, buf, buf_len, out_len) }
    })
}

/// Changes this client's nickname (`/nick New`, seed 002). Returns once the
/// server answered; on success everyone, this client included, also gets a
/// PAPO_EVENT_NICK_CHANGED event. On error the old nickname stays.
///
/// Arguments: `new_nick`: UTF-8, same rules as for papo_client_connect_with().
/// Copied.
///
/// Errors: PAPO_ERR_NICK_IN_USE (01, case-insensitively; renaming to a
/// different case of one's own nickname is allowed if the server allows
/// it); PAPO_ERR_INVALID_NICK (06: not UTF-8 or not a valid nickname);
/// PAPO_ERR_CONNECTION_ABORTED (03); PAPO_ERR_TIMEOUT;
/// PAPO_ERR_NULL_ARGUMENT; PAPO_ERR_INVALID_ARGUMENT (inside a wake-up
/// callback: it waits for the server's answer); PAPO_ERR_CLOSED,
/// PAPO_ERR_FORKED (see "Handles"); PAPO_ERR_PANIC.
///
/// Thread safety: as papo_client_users(); blocks for one round trip.
///
/// Since: 0.1.
///
/// # Safety
/// `client` is any value (checked against the live handles); `new_nick` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn papo_client_set_nick(
    client: *mut papo_client,
    new_nick: *const c_char,
) -> c_int {
    boundary(|| {
        let c = client_arg(client)?;
        // SAFETY: caller's contract.
        let nick = unsafe { str_arg(new_nick, "new_nick", PAPO_ERR_INVALID_NICK) }?;
        Ok(c.client.change_nick(nick)?)
    })
}

/// A no-op round trip (`/ping`): when it returns 0, the server has
/// processed everything this client sent before it.
///
/// Errors: PAPO_ERR_CONNECTION_ABORTED (03); PAPO_ERR_TIMEOUT;
/// PAPO_ERR_NULL_ARGUMENT; PAPO_ERR_INVALID_ARGUMENT (inside a wake-up
/// callback: it waits for the server's answer); PAPO_ERR_CLOSED,
/// PAPO_ERR_FORKED (see "Handles"); PAPO_ERR_PANIC.
///
/// Thread safety: as papo_client_users(); blocks for one round trip.
///
/// Since: 0.1.
///
/// # Safety
/// `client` is any value (checked against the live handles).
#[no_mangle]
pub unsafe extern "C" fn papo_client_ping(client: *mut papo_client) -> c_int {
    boundary(|| {
        let c = client_arg(client)?;
        c.client.ping().map_err(FfiError::from)
    })
}

/// Makes a papo_client_wait_event() in progress on another thread return
/// at once with PAPO_ERR_TIMEOUT (unless an event is queued, which it then
/// returns), even a wait of an hour or with timeout -1; when no wait is in
/// progress, the next papo_client_wait_event() returns at once instead
/// (libmpv's mpv_wakeup()). The wake-up is sticky until one wait returns,
/// and several before that count as one. It does not make
/// papo_client_fd() readable.
///
/// Errors: PAPO_ERR_NULL_ARGUMENT; PAPO_ERR_CLOSED, PAPO_ERR_FORKED (see
/// "Handles"); PAPO_ERR_PANIC.
///
/// Thread safety: any thread, concurrently with every other function on
/// the same client, inside a wake-up callback too; never waits.
///
/// Since: 1.0.
#[no_mangle]
pub extern "C" fn papo_client_wakeup(client: *mut papo_client) -> c_int {
    boundary(|| {
        client_arg(client)?.client.wakeup();
        Ok(())
    })
}

/// A file descriptor that is readable exactly while at least one event is
/// queued for papo_client_wait_event(), for an event loop: poll()/epoll,
/// GLib's g_unix_fd_add(), Qt's QSocketNotifier, Tk's createfilehandler,
/// asyncio's loop.add_reader(). Level-triggered: it stays readable until
/// the queue is drained, so take the events with
/// papo_client_wait_event(client, 0, &ev) until PAPO_ERR_TIMEOUT (or one
/// per wake-up). An eventfd on Linux, a pipe elsewhere; made on the first
/// call, the same one afterwards; non-blocking and close-on-exec.
///
/// Arguments: `out_fd` receives the descriptor on success. It belongs to
/// the handle: never read, write or close it; Desconecta_cliente() closes
/// it (after the connection ends it stays readable while the last events,
/// DISCONNECTED included, are queued).
///
/// Errors: PAPO_ERR_NULL_ARGUMENT; PAPO_ERR_IO (no descriptor left,
/// EMFILE); PAPO_ERR_CLOSED, PAPO_ERR_FORKED (see "Handles");
/// PAPO_ERR_PANIC.
///
/// Thread safety: any thread, concurrently with every other function on
/// the same client, inside a wake-up callback too; any thread may poll the
/// descriptor.
///
/// Since: 1.0.
///
/// # Safety
/// `client` is any value; `out_fd` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn papo_client_fd(client: *mut papo_client, out_fd: *mut c_int) -> c_int {
    boundary(|| {
        non_null(out_fd, "out_fd")?;
        let c = client_arg(client)?;
        let fd = c.client.event_fd()?.as_raw_fd();
        // SAFETY: non-NULL and writable by the caller's contract.
        unsafe { out_fd.write(fd) };
        Ok(())
    })
}

/// Sends `mensagem` to `destino` (NULL or "": everyone) like enviar_Msg(),
/// without waiting for the server: returns once the line is written, and
/// the answer comes later as a PAPO_EVENT_REPLY event carrying `userdata`
/// (libmpv's mpv_command_async()): `code` 0 when the server took a private
/// message (a public one is answered 0 once written, or 03 when the
/// connection ends as it is written), 02 when `destino`
/// is not online (07, 08 ...) with the server's words in `text`, 03 when
/// the connection ended first. Replies come in the order of the requests.
///
/// Arguments: as enviar_Msg(); `userdata` is any number, returned as is.
///
/// Errors (nothing is sent, no REPLY comes): PAPO_ERR_INVALID_NICK (06);
/// PAPO_ERR_TOO_LONG (07); PAPO_ERR_INVALID_TEXT (08); PAPO_ERR_EMPTY
/// (09); PAPO_ERR_CONNECTION_ABORTED (03: the connection has ended);
/// PAPO_ERR_NULL_ARGUMENT; PAPO_ERR_CLOSED, PAPO_ERR_FORKED (see
/// "Handles"); PAPO_ERR_PANIC.
///
/// Thread safety: any thread, concurrently with every other function on
/// the same client; allowed inside a wake-up callback (it never waits for
/// the server; the write itself may block up to the reply timeout when the
/// server does not read).
///
/// Since: 1.0.
///
/// # Safety
/// `destino` and `mensagem` are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn papo_client_send_async(
    client: *mut papo_client,
    destino: *const c_char,
    mensagem: *const c_char,
    userdata: u64,
) -> c_int {
    boundary(|| {
        let c = client_arg(client)?;
        // SAFETY: caller's contract.
        let to = unsafe { super::opt_str_arg(destino, "destino", PAPO_ERR_INVALID_NICK) }?;
        // SAFETY: caller's contract.
        let text = unsafe { str_arg(mensagem, "mensagem", PAPO_ERR_INVALID_TEXT) }?;
        Ok(c.client
            .send_async(to.filter(|t| !t.is_empty()), text, userdata)?)
    })
}

/// Changes this client's nickname like papo_client_set_nick(), without
/// waiting: the answer comes as a PAPO_EVENT_REPLY carrying `userdata`
/// (`code` 0, before this client's own PAPO_EVENT_NICK_CHANGED; or 01
/// when taken, 06, 03 with the detail in `text`).
///
/// Errors (nothing is sent, no REPLY comes): PAPO_ERR_INVALID_NICK (06:
/// not UTF-8 or cannot be a nickname, checked here);
/// PAPO_ERR_CONNECTION_ABORTED (03); PAPO_ERR_NULL_ARGUMENT;
/// PAPO_ERR_CLOSED, PAPO_ERR_FORKED (see "Handles"); PAPO_ERR_PANIC.
///
/// Thread safety: as papo_client_send_async().
///
/// Since: 1.0.
///
/// # Safety
/// `new_nick` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn papo_client_set_nick_async(
    client: *mut papo_client,
    new_nick: *const c_char,
    userdata: u64,
) -> c_int {
    boundary(|| {
        let c = client_arg(client)?;
        // SAFETY: caller's contract.
        let nick = unsafe { str_arg(new_nick, "new_nick", PAPO_ERR_INVALID_NICK) }?;
        Ok(c.client.change_nick_async(nick, userdata)?)
    })
}

/// papo_client_ping() without waiting: a PAPO_EVENT_REPLY carrying
/// `userdata` comes (`code` 0) once the server has processed everything
/// this client sent before, or with 03 when the connection ended first.
///
/// Errors (nothing is sent, no REPLY comes): PAPO_ERR_CONNECTION_ABORTED
/// (03); PAPO_ERR_NULL_ARGUMENT; PAPO_ERR_CLOSED, PAPO_ERR_FORKED (see
/// "Handles"); PAPO_ERR_PANIC.
///
/// Thread safety: as papo_client_send_async().
///
/// Since: 1.0.
#[no_mangle]
pub extern "C" fn papo_client_ping_async(client: *mut papo_client, userdata: u64) -> c_int {
    boundary(|| Ok(client_arg(client)?.client.ping_async(userdata)?))
}

/// papo_client_users() without waiting: a PAPO_EVENT_REPLY carrying
/// `userdata` comes with the nicknames online in `text` (sorted
/// case-insensitively, separated by '\n'), or with 03 when the connection
/// ended first.
///
/// Errors (nothing is sent, no REPLY comes): PAPO_ERR_CONNECTION_ABORTED
/// (03); PAPO_ERR_NULL_ARGUMENT; PAPO_ERR_CLOSED, PAPO_ERR_FORKED (see
/// "Handles"); PAPO_ERR_PANIC.
///
/// Thread safety: as papo_client_send_async().
///
/// Since: 1.0.
#[no_mangle]
pub extern "C" fn papo_client_users_async(client: *mut papo_client, userdata: u64) -> c_int {
    boundary(|| Ok(client_arg(client)?.client.users_async(userdata)?))
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
/// event is queued for papo_client_wait_event(), like libmpv's
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
/// wait for, or would be stalled by it: papo_client_connect_with() and
/// Conecta_cliente(); a private enviar_Msg() (it waits for the server's
/// answer), papo_client_users(), papo_client_set_nick(),
/// papo_client_ping(), papo_client_send_file(), papo_client_send_bytes();
/// papo_client_wait_event(), whatever the timeout; and
/// Desconecta_cliente() of any client, which frees the handle, which cannot
/// be done while a callback runs (for another client it would also wait for
/// that client's threads). Allowed there: a public enviar_Msg(),
/// papo_client_set_wakeup(), papo_client_nick(),
/// papo_client_set_download_dir(), papo_client_download_dir(),
/// papo_client_wakeup(), papo_client_fd() and the *_async requests, which
/// never wait for the server (their answers come as PAPO_EVENT_REPLY). This is
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
/// Errors: PAPO_ERR_NULL_ARGUMENT (client NULL); PAPO_ERR_CLOSED,
/// PAPO_ERR_FORKED (see "Handles"); PAPO_ERR_PANIC.
///
/// Thread safety: may be called from any thread, concurrently with every
/// other function on the same client, and
/// inside a wake-up callback. The callback itself runs on another thread
/// than the caller's.
///
/// Since: 0.1.
///
/// # Safety
/// `client` is any value (checked against the live handles); `wakeup` is NULL or a function that
/// is safe to call from another thread with `userdata`.
#[no_mangle]
pub unsafe extern "C" fn papo_client_set_wakeup(
    client: *mut papo_client,
    wakeup: Option<unsafe extern "C" fn(userdata: *mut c_void)>,
    userdata: *mut c_void,
) -> c_int {
    boundary(|| {
        let c = client_arg(client)?;
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
        let c = client_arg(client)?;
        // SAFETY: caller's contract.
        let to = unsafe { super::opt_str_arg(destino, "destino", PAPO_ERR_INVALID_NICK) }?;
        // SAFETY: caller's contract.
        let text = unsafe { str_arg(mensagem, "mensagem", PAPO_ERR_INVALID_TEXT) }?;
        Ok(c.client.send(to.filter(|t| !t.is_empty()), text)?)
    })
}

/// Shared by Desconecta_cliente: leaves the chat and frees the handle.
pub(crate) fn destroy(client: *mut papo_client) -> c_int {
    boundary(|| {
        if client.is_null() {
            return Ok(());
        }
        // The one rule of the C API's own: the handle is freed here, and
        // it cannot be while a wake-up callback (this one, or the client's
        // own, which may be using it) runs on this thread.
        if rust_client::in_wakeup() {
            return Err(FfiError::new(
                PAPO_ERR_INVALID_ARGUMENT,
                "Desconecta_cliente() inside a wake-up callback: the handle cannot be freed there",
            ));
        }
        let handle = CLIENTS.remove(client, "client")?;
        // Errors of disconnect are ignored: the connection is over either
        // way. It wakes every wait in progress on the handle (requests get
        // 03, papo_client_wait_event the DISCONNECTED event).
        let _ = handle.client.disconnect();
        CLIENTS.wait_unshared(handle);
        Ok(())
    })
}

/// Joins the room `room` ("#" and 1 to 32 characters without whitespace,
/// control characters, ':' or ','; PROTOCOL.md "Rooms"), creating it (with
/// this client as its operator) if nobody is in it, and waits for the
/// server's answer. A PAPO_EVENT_ROOM_JOINED for this client follows, and
/// a PAPO_EVENT_TOPIC if the room has a topic; the room's messages come as
/// PAPO_EVENT_ROOM from then on; send to it with
/// enviar_Msg(client, "#room", text) or papo_client_send_async(). Fetch
/// what was said before with papo_client_history().
///
/// Errors: PAPO_ERR_INVALID_ROOM (23, checked here); PAPO_ERR_NULL_ARGUMENT;
/// PAPO_ERR_CONNECTION_ABORTED (03); PAPO_ERR_TIMEOUT;
/// PAPO_ERR_INVALID_ARGUMENT (inside a wake-up callback); PAPO_ERR_CLOSED,
/// PAPO_ERR_FORKED (see "Handles"); PAPO_ERR_PANIC.
///
/// Thread safety: as papo_client_users(); blocks for one round trip.
///
/// Since: 1.1.
///
/// # Safety
/// `room` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn papo_client_join(client: *mut papo_client, room: *const c_char) -> c_int {
    boundary(|| {
        let c = client_arg(client)?;
        // SAFETY: caller's contract.
        let room = unsafe { str_arg(room, "room", PAPO_ERR_INVALID_ROOM) }?;
        c.client.join(room)?;
        Ok(())
    })
}

/// Leaves the room `room` and waits for the server's answer (a
/// PAPO_EVENT_ROOM_LEFT for this client follows).
///
/// Errors: PAPO_ERR_NOT_IN_ROOM (21); PAPO_ERR_INVALID_ROOM (23); the rest
/// as papo_client_join().
///
/// Thread safety: as papo_client_join().
///
/// Since: 1.1.
///
/// # Safety
/// `room` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn papo_client_part(client: *mut papo_client, room: *const c_char) -> c_int {
    boundary(|| {
        let c = client_arg(client)?;
        // SAFETY: caller's contract.
        let room = unsafe { str_arg(room, "room", PAPO_ERR_INVALID_ROOM) }?;
        c.client.part(room)?;
        Ok(())
    })
}

/// Every room on the server, fresh from the server (`/rooms`), into `buf`
/// (the buffer protocol of papo_client_users()): one room per line,
/// "name TAB members TAB topic" (the topic may be empty), lines separated by
/// '\n' (no trailing newline), NUL-terminated; "" when there is none.
///
/// Errors: as papo_client_users().
///
/// Thread safety: as papo_client_users().
///
/// Since: 1.1.
///
/// # Safety
/// As papo_client_users().
#[no_mangle]
pub unsafe extern "C" fn papo_client_rooms(
    client: *mut papo_client,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> c_int {
    boundary(|| {
        check_buffer_args(buf, buf_len, out_len)?;
        let c = client_arg(client)?;
        let text = super::event::rooms_text(&c.client.rooms()?);
        // SAFETY: arguments checked; caller's contract.
        unsafe { write_buffer(&text, buf, buf_len, out_len) }
    })
}

/// The last `count` messages (<= 0: the server's default, 50; the server
/// caps it at 500) of `target` with an id below `before` (0: the newest),
/// oldest first (`/history`, PROTOCOL.md "History"), into `buf` (the
/// buffer protocol of papo_client_users()): one message per line,
/// "id TAB time_ms TAB kind TAB from TAB text", kind being "public",
/// "private", "room", "file" (text: the file's name) or "bytes" (text: the
/// size); lines separated by '\n', NUL-terminated; "" when there is none.
/// The text is last and may itself hold TABs. `target` is "#room" (a room
/// this client is in), "*" (the public messages) or a nickname (this
/// client's own private conversation with it). To page back, pass the id
/// of the oldest line as `before`.
///
/// Errors: PAPO_ERR_NOT_IN_ROOM (21); PAPO_ERR_INVALID_ROOM (23),
/// PAPO_ERR_INVALID_NICK (06) for a target that can be neither (checked
/// here); the rest as papo_client_users().
///
/// Thread safety: as papo_client_users().
///
/// Since: 1.1.
///
/// # Safety
/// `target` is NULL or NUL-terminated; the rest as papo_client_users().
#[no_mangle]
pub unsafe extern "C" fn papo_client_history(
    client: *mut papo_client,
    target: *const c_char,
    count: c_int,
    before: u64,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> c_int {
    boundary(|| {
        check_buffer_args(buf, buf_len, out_len)?;
        let c = client_arg(client)?;
        // SAFETY: caller's contract.
        let target = unsafe { str_arg(target, "target", PAPO_ERR_INVALID_NICK) }?;
        let count = u64::try_from(count).ok().filter(|n| *n > 0);
        let before = (before > 0).then_some(before);
        let text = super::event::history_text(&c.client.history(target, count, before)?);
        // SAFETY: arguments checked; caller's contract.
        unsafe { write_buffer(&text, buf, buf_len, out_len) }
    })
}

/// papo_client_join() without waiting: a PAPO_EVENT_REPLY carrying
/// `userdata` comes with `code` 0 and the room's name as the server keeps
/// it in `room`, or with the server's error (03 when the connection ended
/// first).
///
/// Errors (nothing is sent, no REPLY comes): PAPO_ERR_INVALID_ROOM (23);
/// PAPO_ERR_CONNECTION_ABORTED (03); PAPO_ERR_NULL_ARGUMENT;
/// PAPO_ERR_CLOSED, PAPO_ERR_FORKED (see "Handles"); PAPO_ERR_PANIC.
///
/// Thread safety: as papo_client_send_async().
///
/// Since: 1.1.
///
/// # Safety
/// `room` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn papo_client_join_async(
    client: *mut papo_client,
    room: *const c_char,
    userdata: u64,
) -> c_int {
    boundary(|| {
        let c = client_arg(client)?;
        // SAFETY: caller's contract.
        let room = unsafe { str_arg(room, "room", PAPO_ERR_INVALID_ROOM) }?;
        Ok(c.client.join_async(room, userdata)?)
    })
}

/// papo_client_part() without waiting: a PAPO_EVENT_REPLY carrying
/// `userdata` comes with `code` 0, or 21 ... Errors as
/// papo_client_join_async().
///
/// Thread safety: as papo_client_send_async().
///
/// Since: 1.1.
///
/// # Safety
/// `room` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn papo_client_part_async(
    client: *mut papo_client,
    room: *const c_char,
    userdata: u64,
) -> c_int {
    boundary(|| {
        let c = client_arg(client)?;
        // SAFETY: caller's contract.
        let room = unsafe { str_arg(room, "room", PAPO_ERR_INVALID_ROOM) }?;
        Ok(c.client.part_async(room, userdata)?)
    })
}

/// papo_client_rooms() without waiting: a PAPO_EVENT_REPLY carrying
/// `userdata` comes with the rooms in `text`, in papo_client_rooms()'s
/// format. Errors as papo_client_users_async().
///
/// Thread safety: as papo_client_send_async().
///
/// Since: 1.1.
#[no_mangle]
pub extern "C" fn papo_client_rooms_async(client: *mut papo_client, userdata: u64) -> c_int {
    boundary(|| Ok(client_arg(client)?.client.rooms_async(userdata)?))
}

/// papo_client_history() without waiting: a PAPO_EVENT_REPLY carrying
/// `userdata` comes with the messages in `text`, in
/// papo_client_history()'s format, or with the server's error (21 ...).
///
/// Errors (nothing is sent, no REPLY comes): PAPO_ERR_INVALID_ROOM,
/// PAPO_ERR_INVALID_NICK (the target, checked here);
/// PAPO_ERR_CONNECTION_ABORTED (03); PAPO_ERR_NULL_ARGUMENT;
/// PAPO_ERR_CLOSED, PAPO_ERR_FORKED (see "Handles"); PAPO_ERR_PANIC.
///
/// Thread safety: as papo_client_send_async().
///
/// Since: 1.1.
///
/// # Safety
/// `target` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn papo_client_history_async(
    client: *mut papo_client,
    target: *const c_char,
    count: c_int,
    before: u64,
    userdata: u64,
) -> c_int {
    boundary(|| {
        let c = client_arg(client)?;
        // SAFETY: caller's contract.
        let target = unsafe { str_arg(target, "target", PAPO_ERR_INVALID_NICK) }?;
        let count = u64::try_from(count).ok().filter(|n| *n > 0);
        let before = (before > 0).then_some(before);
        Ok(c.client.history_async(target, count, before, userdata)?)
    })
}
