//! The server side of the C ABI: `papo_server_*`, over [`crate::Server`].

use std::ffi::{c_char, c_int, CString};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

use super::handles::{handle_ptr, Guard, Registry};
use super::options::papo_server_options;
use super::{
    boundary, c_string, check_buffer_args, ip_arg, non_null, opt_ptr, timeout_arg, write_buffer,
    FfiError, FfiResult, PAPO_ERR_CLOSED, PAPO_ERR_INVALID_ARGUMENT, PAPO_ERR_TIMEOUT,
};
use crate::config::ServerConfig;
use crate::server::{Server, ServerEvent};
use papo_server_event_kind::*;

/// A running chat server (opaque handle). Created by Conecta_Servidor() or
/// papo_server_start_with(); ended and freed by Desconecta_Servidor(). Its
/// value is an id, never dereferenced (see "Handles" at the top of this
/// header).
///
/// Since: 0.1.
pub struct papo_server {
    _opaque: [u8; 0],
}

/// What a server handle stands for.
pub(crate) struct ServerHandle {
    pub(crate) server: Server,
    /// The event last handed out by papo_server_wait_event (or 0.1's
    /// papo_server_next_event), kept until the next call or
    /// Desconecta_Servidor.
    last_event: Mutex<Option<Box<StoredServerEvent>>>,
    /// Set by Desconecta_Servidor before it shuts the server down, so that
    /// a wait ended by the shutdown returns PAPO_ERR_CLOSED.
    closing: AtomicBool,
}

/// A server event's strings and its C view, which points into them.
pub(crate) struct StoredServerEvent {
    _strings: ServerEventStrings,
    pub(crate) c: papo_server_event,
}

// SAFETY: the raw pointers in `c` point into `_strings`, which the struct
// owns and never changes.
unsafe impl Send for StoredServerEvent {}

/// Every live server handle.
pub(crate) static SERVERS: Registry<ServerHandle> = Registry::new("server");

/// The live server behind `server`, for the duration of a call.
pub(crate) fn server_arg(server: *const papo_server) -> FfiResult<Guard<ServerHandle>> {
    SERVERS.get(server, "server")
}

struct ServerEventStrings {
    ip: CString,
    nick: Option<CString>,
    new_nick: Option<CString>,
    reason: Option<CString>,
}

/// What a papo_server_event is (its `kind`). The numbers never change; a
/// later version may add kinds (a `switch` needs a `default:`).
///
/// Since: 1.0 (the values are those of 0.1's PAPO_SERVER_EVENT_* macros).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum papo_server_event_kind {
    /// Never in an event the library hands out.
    PAPO_SERVER_EVENT_NONE = 0,
    /// A TCP connection was accepted (ip and port are the client's; seed
    /// 000 server manual item 3).
    PAPO_SERVER_EVENT_CONNECTED = 1,
    /// A connection registered the nickname `nick`.
    PAPO_SERVER_EVENT_REGISTERED = 2,
    /// A client renamed from `nick` to `new_nick`.
    PAPO_SERVER_EVENT_NICK_CHANGED = 3,
    /// A connection ended (`nick` is NULL if it had not registered; `code`
    /// 0 if the client left by itself).
    PAPO_SERVER_EVENT_DISCONNECTED = 4,
    /// History writes to the database (papo_server_options_set_history_path)
    /// paused (code = 1: it could not be opened or written, or fell behind;
    /// chat goes on, history stays in memory) or resumed (code = 0); reason
    /// says what happened. client_id and port are 0, ip is "", nick is NULL.
    /// Since: 1.1.
    PAPO_SERVER_EVENT_HISTORY = 5,
    /// This node of a cluster (papo_server_options_set_cluster()) was cut
    /// off from Redis, so from the other nodes (code = 1; its users were
    /// told `CLUSTER partitioned`), or is back (code = 0), or private
    /// messages were dropped after their node stayed unreachable for the
    /// lease (code says whether still cut off); reason says what happened.
    /// client_id and port are 0, ip is "", nick is NULL. Since: 1.2.
    PAPO_SERVER_EVENT_CLUSTER = 6,
}

/// Something that happened on the server, handed out by
/// papo_server_wait_event().
///
/// Ownership: the library owns the event and its strings; they stay valid
/// until the next papo_server_wait_event() on the same server or
/// Desconecta_Servidor(), whichever comes first; copy what you keep.
/// Strings are UTF-8 and NUL-terminated.
///
/// Compatibility: a later 1.x version may append fields. Never allocate a
/// papo_server_event, copy one by value or take its sizeof; read it only
/// through the pointer the library gave.
///
/// Since: 1.0 (0.1 filled a caller's struct of the same fields).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct papo_server_event {
    /// What happened.
    pub kind: papo_server_event_kind,
    /// A number unique to the connection for the server's lifetime.
    pub client_id: u64,
    /// The client's IP address as text (e.g. "127.0.0.1"). Never NULL
    /// ("" for PAPO_SERVER_EVENT_HISTORY).
    pub ip: *const c_char,
    /// The client's TCP port.
    pub port: u16,
    /// REGISTERED: the nickname; NICK_CHANGED: the old nickname;
    /// DISCONNECTED: the nickname, or NULL if it had not registered;
    /// CONNECTED: NULL.
    pub nick: *const c_char,
    /// NICK_CHANGED: the new nickname; otherwise NULL.
    pub new_nick: *const c_char,
    /// DISCONNECTED: 0 if the client left by itself (quit or closed its
    /// socket), else why the server closed it: 3 (slow consumer, shutdown,
    /// I/O error), 7 (endless line), 11 (registration timeout), 12 (server
    /// full). Otherwise 0.
    pub code: c_int,
    /// DISCONNECTED: a short English text ("quit", "closed by peer", "slow
    /// consumer", ...); otherwise NULL.
    pub reason: *const c_char,
}

/// Starts a chat server listening on `ip`:`port` with the given options
/// (seed 000 server manual item 2). Returns once the socket listens; clients
/// are served on background I/O threads, so the caller's thread is free.
///
/// Arguments:
/// - `ip`: the local address to listen on, as text: an IPv4 address, an
///   IPv6 address with or without brackets (`"::1"`, `"[::1]"`), or a host name
///   such as "localhost" (resolved by the system within 5 s; the server
///   listens on the first of its addresses where it can); NULL or "" means
///   "127.0.0.1" (seed 000). Copied; the caller keeps ownership.
/// - `port`: the TCP port; 0 picks a free port (see papo_server_port()).
/// - `options`: the limits (papo_server_options_new()); NULL means the
///   defaults. Read during the call only; the caller keeps it.
/// - `out_server`: receives the new handle on success (untouched on
///   error). Free it with Desconecta_Servidor().
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (out_server NULL); PAPO_ERR_INVALID_TEXT
/// (ip not UTF-8); PAPO_ERR_INVALID_ADDRESS (05: ip is neither an IP
/// address nor a host name, e.g. "999.1.1.1", "1.2.3.4:80", "não é ip",
/// refused without any lookup; a name that does not resolve within 5 s; or
/// not an address of this machine); PAPO_ERR_IO (port taken, no permission,
/// threads could not start, or a TLS file cannot be read);
/// PAPO_ERR_INVALID_ARGUMENT (only one of the two TLS files, or a TLS file
/// that holds no usable certificate or key); PAPO_ERR_PANIC.
/// papo_last_error() gives the detail.
///
/// Thread safety: may be called from any thread.
///
/// Since: 1.0.
///
/// # Safety
/// Every pointer is NULL or valid; `ip` is NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn papo_server_start_with(
    ip: *const c_char,
    port: u16,
    options: *const papo_server_options,
    out_server: *mut *mut papo_server,
) -> c_int {
    boundary(|| {
        // SAFETY: caller's contract.
        let options = unsafe { options.as_ref() };
        // SAFETY: caller's contract.
        unsafe {
            start(
                ip,
                port,
                || options.map_or_else(|| Ok(ServerConfig::default()), |o| o.to_config()),
                out_server,
            )
        }
    })
}

/// Starts and registers a server: the body of papo_server_start_with(),
/// Conecta_Servidor() and 0.1's papo_server_start().
///
/// # Safety
/// `ip` is NULL or NUL-terminated; `out_server` is NULL or writable.
pub(crate) unsafe fn start(
    ip: *const c_char,
    port: u16,
    config: impl FnOnce() -> FfiResult<ServerConfig>,
    out_server: *mut *mut papo_server,
) -> FfiResult<()> {
    non_null(out_server, "out_server")?;
    // SAFETY: caller's contract.
    let ip = unsafe { ip_arg(ip) }?;
    let server = Server::start(ip, port, config()?)?;
    let id = SERVERS.insert(ServerHandle {
        server,
        last_event: Mutex::new(None),
        closing: AtomicBool::new(false),
    });
    // SAFETY: non-NULL and writable by the caller's contract.
    unsafe { out_server.write(handle_ptr(id)) };
    Ok(())
}

/// The body of the server's getters: checks both pointers, reads one value
/// from the server and writes it to `out` (only on success), inside the
/// panic boundary.
///
/// # Safety
/// `server` is any value (checked against the live handles); `out` is NULL or writable.
unsafe fn read_into<T>(
    server: *const papo_server,
    out: *mut T,
    read: impl FnOnce(&Server) -> T,
) -> c_int {
    boundary(|| {
        non_null(out, "out")?;
        let s = server_arg(server)?;
        let value = read(&s.server);
        // SAFETY: non-NULL and writable by the caller's contract.
        unsafe { out.write(value) };
        Ok(())
    })
}

/// The TCP port the server listens on (the real one when it was started on
/// port 0).
///
/// Errors: PAPO_ERR_NULL_ARGUMENT; PAPO_ERR_CLOSED, PAPO_ERR_FORKED (see
/// "Handles"); PAPO_ERR_PANIC.
///
/// Thread safety: may be called from any thread, concurrently with any
/// other function on the same server.
///
/// Since: 0.1.
///
/// # Safety
/// `server` is any value (checked against the live handles); `out_port` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn papo_server_port(server: *const papo_server, out_port: *mut u16) -> c_int {
    // SAFETY: caller's contract, forwarded.
    unsafe { read_into(server, out_port, |s| s.port()) }
}

/// The TLS port the server listens on (the real one when tls_port was 0),
/// or 0 when the server has no TLS (PROTOCOL.md "TLS").
///
/// Errors: PAPO_ERR_NULL_ARGUMENT; PAPO_ERR_CLOSED, PAPO_ERR_FORKED (see
/// "Handles"); PAPO_ERR_PANIC.
///
/// Thread safety: as papo_server_port().
///
/// Since: 0.1.
///
/// # Safety
/// `server` is any value (checked against the live handles); `out_port` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn papo_server_tls_port(
    server: *const papo_server,
    out_port: *mut u16,
) -> c_int {
    // SAFETY: caller's contract, forwarded.
    unsafe { read_into(server, out_port, |s| s.tls_port().unwrap_or(0)) }
}

/// The HTTP port (the real one when it was asked for as 0), or 0 when the
/// server has none (PROTOCOL.md "HTTP"; papo_server_options_set_http_port()).
///
/// Errors: PAPO_ERR_NULL_ARGUMENT; PAPO_ERR_CLOSED, PAPO_ERR_FORKED (see
/// "Handles"); PAPO_ERR_PANIC.
///
/// Thread safety: as papo_server_port().
///
/// Since: 1.1.
///
/// # Safety
/// `server` is any value (checked against the live handles); `out_port` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn papo_server_http_port(
    server: *const papo_server,
    out_port: *mut u16,
) -> c_int {
    // SAFETY: caller's contract, forwarded.
    unsafe { read_into(server, out_port, |s| s.http_port().unwrap_or(0)) }
}

/// A server's counters (papo_server_get_stats()), the figures `/metrics` shows
/// on the HTTP port. Every value counts since the server started, except
/// those marked "now".
///
/// Growable: a later version may append fields, never reorder or remove
/// them. Set `size` to sizeof(papo_server_stats) before the call; the
/// library fills the fields that fit in `size` bytes (those of the header
/// the program was built with) and leaves the rest alone, so a program
/// built against an older header keeps working.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct papo_server_stats {
    /// Set by the caller: sizeof(papo_server_stats). The library does not
    /// change it.
    pub size: usize,
    /// Now: open connections, registered or not (WebSocket ones included).
    pub connections: u64,
    /// Now: registered users online.
    pub users: u64,
    /// Connections accepted, refused ones included.
    pub accepted: u64,
    /// Connections refused as server full (ERROR 12).
    pub rejected: u64,
    /// Public, private and room chat messages accepted from clients.
    pub messages_received: u64,
    /// Chat message lines (PUBLIC, PRIVATE, ROOM) queued to receivers (a
    /// public message to 10 others is 10).
    pub deliveries: u64,
    /// Protocol lines received from clients.
    pub lines_received: u64,
    /// Bytes received from clients.
    pub bytes_received: u64,
    /// Bytes written to clients.
    pub bytes_sent: u64,
    /// Now: bytes queued for clients (a broadcast counts once).
    pub queued_bytes: u64,
    /// Clients dropped as slow consumers.
    pub slow_consumers: u64,
    /// Files offered and accepted (FILEOK).
    pub files: u64,
    /// Server events dropped because the event queue was full.
    pub dropped_events: u64,
    /// HTTP requests answered on the HTTP port (upgrades included).
    pub http_requests: u64,
    /// WebSocket connections (browsers) handed to the chat.
    pub websocket_connections: u64,
    /// Connections ended because the client left (quit, closed).
    pub disconnects_client: u64,
    /// ... dropped as slow consumers.
    pub disconnects_slow_consumer: u64,
    /// ... dropped for flooding.
    pub disconnects_flooding: u64,
    /// ... ended by the server's shutdown.
    pub disconnects_shutdown: u64,
    /// ... registration or keepalive timeout.
    pub disconnects_timeout: u64,
    /// ... an endless line or over-long WebSocket message.
    pub disconnects_too_long: u64,
    /// ... server full.
    pub disconnects_server_full: u64,
    /// ... refused at the prompt (nickname attempts, HTTP or TLS on the
    /// plain port, password).
    pub disconnects_refused: u64,
    /// ... anything else (I/O errors, resets).
    pub disconnects_error: u64,
    /// The number of I/O threads.
    pub io_threads: u64,
    /// Now: commands waiting in all I/O threads' inboxes together.
    pub inbox_depth_total: u64,
    /// Now: commands waiting in the fullest I/O thread's inbox.
    pub inbox_depth_max: u64,
    /// Now: rooms that exist (a room lives while it has members).
    pub rooms: u64,
}

/// Fills `*out` with the server's counters (see papo_server_stats): set
/// `out->size = sizeof(papo_server_stats)` first. Cheap: a few atomic reads
/// per I/O thread.
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (server or out NULL);
/// PAPO_ERR_INVALID_ARGUMENT (`out->size` too small to hold even the first
/// counter: it was not set); PAPO_ERR_CLOSED, PAPO_ERR_FORKED (see
/// "Handles"); PAPO_ERR_PANIC.
///
/// Thread safety: as papo_server_port().
///
/// Since: 1.1.
///
/// # Safety
/// `server` is any value (checked against the live handles); `out` is NULL or points to
/// `out->size` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn papo_server_get_stats(
    server: *const papo_server,
    out: *mut papo_server_stats,
) -> c_int {
    boundary(|| {
        non_null(out, "out")?;
        let s = server_arg(server)?;
        // SAFETY: non-NULL; the caller's contract says `size` is readable.
        let size = unsafe { std::ptr::addr_of!((*out).size).read_unaligned() };
        let first = std::mem::offset_of!(papo_server_stats, connections) + 8;
        if size < first {
            return Err(FfiError::new(
                PAPO_ERR_INVALID_ARGUMENT,
                format!("out->size is {size}: set it to sizeof(papo_server_stats)"),
            ));
        }
        let st = s.server.stats();
        use crate::server::DisconnectReason as R;
        let d = |r| st.disconnects_for(r);
        let full = papo_server_stats {
            size,
            connections: st.connections as u64,
            users: st.users as u64,
            accepted: st.accepted,
            rejected: st.rejected,
            messages_received: st.messages_received,
            deliveries: st.deliveries,
            lines_received: st.lines_received,
            bytes_received: st.bytes_received,
            bytes_sent: st.bytes_sent,
            queued_bytes: st.queued_bytes as u64,
            slow_consumers: st.slow_consumers,
            files: st.files,
            dropped_events: st.dropped_events,
            http_requests: st.http_requests,
            websocket_connections: st.websocket_upgrades,
            disconnects_client: d(R::Client),
            disconnects_slow_consumer: d(R::SlowConsumer),
            disconnects_flooding: d(R::Flooding),
            disconnects_shutdown: d(R::Shutdown),
            disconnects_timeout: d(R::Timeout),
            disconnects_too_long: d(R::TooLong),
            disconnects_server_full: d(R::ServerFull),
            disconnects_refused: d(R::Refused),
            disconnects_error: d(R::Error),
            io_threads: st.inbox_depths.len() as u64,
            inbox_depth_total: st.inbox_depths.iter().sum::<usize>() as u64,
            inbox_depth_max: st.inbox_depths.iter().copied().max().unwrap_or(0) as u64,
            rooms: st.rooms as u64,
        };
        let n = size.min(std::mem::size_of::<papo_server_stats>());
        // SAFETY: `out` points to `size` >= `n` writable bytes (caller's
        // contract); `full` is a local of at least `n` bytes; they do not
        // overlap. Bytes, so the caller's alignment does not matter.
        unsafe {
            std::ptr::copy_nonoverlapping(
                (&full as *const papo_server_stats).cast::<u8>(),
                out.cast::<u8>(),
                n,
            );
        }
        Ok(())
    })
}

/// The number of active connections, registered or not (seed 004: "the
/// server prints the number of active connections").
///
/// Errors: PAPO_ERR_NULL_ARGUMENT; PAPO_ERR_CLOSED, PAPO_ERR_FORKED (see
/// "Handles"); PAPO_ERR_PANIC.
///
/// Thread safety: as papo_server_port().
///
/// Since: 0.1.
///
/// # Safety
/// `server` is any value (checked against the live handles); `out_count` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn papo_server_connection_count(
    server: *const papo_server,
    out_count: *mut usize,
) -> c_int {
    // SAFETY: caller's contract, forwarded.
    unsafe { read_into(server, out_count, Server::connection_count) }
}

/// The number of registered users online.
///
/// Errors: PAPO_ERR_NULL_ARGUMENT; PAPO_ERR_CLOSED, PAPO_ERR_FORKED (see
/// "Handles"); PAPO_ERR_PANIC.
///
/// Thread safety: as papo_server_port().
///
/// Since: 0.1.
///
/// # Safety
/// `server` is any value (checked against the live handles); `out_count` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn papo_server_user_count(
    server: *const papo_server,
    out_count: *mut usize,
) -> c_int {
    // SAFETY: caller's contract, forwarded.
    unsafe { read_into(server, out_count, Server::user_count) }
}

/// The nicknames online, sorted case-insensitively, separated by '\n' (no
/// trailing newline) and NUL-terminated; "" (just the NUL) when nobody is
/// online.
///
/// Arguments: `buf` receives the text, `buf_len` is its size in bytes; `buf`
/// may be NULL only if `buf_len` is 0 (to ask for the size). `*out_len`
/// receives the bytes needed INCLUDING the NUL, both on success and on
/// PAPO_ERR_BUFFER_TOO_SMALL (then `buf` is untouched): call again with a
/// buffer that large. The list may grow between two calls; loop until 0.
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (server or out_len NULL, or buf NULL with
/// buf_len > 0); PAPO_ERR_BUFFER_TOO_SMALL; PAPO_ERR_CLOSED,
/// PAPO_ERR_FORKED (see "Handles"); PAPO_ERR_PANIC.
///
/// Thread safety: as papo_server_port().
///
/// Since: 0.1.
///
/// # Safety
/// `server` is any value (checked against the live handles); `buf` is NULL or `buf_len` writable
/// bytes; `out_len` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn papo_server_users(
    server: *const papo_server,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> c_int {
    boundary(|| {
        check_buffer_args(buf, buf_len, out_len)?;
        let s = server_arg(server)?;
        let text = s.server.users().join("\n");
        // SAFETY: arguments checked; caller's contract.
        unsafe { write_buffer(&text, buf, buf_len, out_len) }
    })
}

/// Makes a papo_server_wait_event() in progress on another thread return
/// at once with PAPO_ERR_TIMEOUT (unless an event is queued), even one
/// with timeout -1; when no wait is in progress, the next one returns at
/// once instead (libmpv's mpv_wakeup()). Sticky until one wait returns;
/// several count as one. It does not make papo_server_fd() readable.
///
/// Errors: PAPO_ERR_NULL_ARGUMENT; PAPO_ERR_CLOSED, PAPO_ERR_FORKED (see
/// "Handles"); PAPO_ERR_PANIC.
///
/// Thread safety: any thread, concurrently with every other function on
/// the same server; never waits.
///
/// Since: 1.0.
#[no_mangle]
pub extern "C" fn papo_server_wakeup(server: *mut papo_server) -> c_int {
    boundary(|| {
        server_arg(server)?.server.wakeup();
        Ok(())
    })
}

/// A file descriptor that is readable exactly while at least one event is
/// queued for papo_server_wait_event(), for poll()/epoll, GLib, Qt, Tk or
/// asyncio (as papo_client_fd()). Level-triggered; take the events with
/// papo_server_wait_event(server, 0, &ev). Made on the first call, the
/// same one afterwards; non-blocking and close-on-exec. Events dropped
/// because the queue was full never make it readable.
///
/// Arguments: `out_fd` receives the descriptor on success. It belongs to
/// the handle: never read, write or close it; Desconecta_Servidor()
/// closes it.
///
/// Errors: PAPO_ERR_NULL_ARGUMENT; PAPO_ERR_IO (no descriptor left,
/// EMFILE); PAPO_ERR_CLOSED, PAPO_ERR_FORKED (see "Handles");
/// PAPO_ERR_PANIC.
///
/// Thread safety: any thread, concurrently with every other function on
/// the same server; any thread may poll the descriptor.
///
/// Since: 1.0.
///
/// # Safety
/// `server` is any value; `out_fd` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn papo_server_fd(server: *mut papo_server, out_fd: *mut c_int) -> c_int {
    boundary(|| {
        non_null(out_fd, "out_fd")?;
        let s = server_arg(server)?;
        let fd = s.server.event_fd()?.as_raw_fd();
        // SAFETY: non-NULL and writable by the caller's contract.
        unsafe { out_fd.write(fd) };
        Ok(())
    })
}

/// Takes the next server event (the body of papo_server_wait_event() and
/// 0.1's papo_server_next_event()) and keeps it in the handle; `write` gets
/// the stored C view, under the handle's event lock.
pub(crate) fn wait_event(
    server: *const papo_server,
    timeout_ms: i32,
    write: impl FnOnce(&papo_server_event),
) -> FfiResult<()> {
    let s = server_arg(server)?;
    let mut last = s.last_event.lock();
    let Some(event) = s.server.next_event(timeout_arg(timeout_ms)) else {
        return Err(if s.closing.load(Ordering::SeqCst) {
            FfiError::new(
                PAPO_ERR_CLOSED,
                "the server was stopped by Desconecta_Servidor()",
            )
        } else {
            FfiError::new(
                PAPO_ERR_TIMEOUT,
                if timeout_ms < 0 {
                    "papo_server_wakeup() ended the wait".to_owned()
                } else {
                    format!("no server event within {timeout_ms} ms, or papo_server_wakeup()")
                },
            )
        });
    };
    let (view, strings) = convert_event(&event);
    let view = papo_server_event {
        ip: strings.ip.as_ptr(),
        nick: opt_ptr(&strings.nick),
        new_nick: opt_ptr(&strings.new_nick),
        reason: opt_ptr(&strings.reason),
        ..view
    };
    let stored = last.insert(Box::new(StoredServerEvent {
        _strings: strings,
        c: view,
    }));
    write(&stored.c);
    Ok(())
}

/// Waits for the next server event (a client connected, registered,
/// renamed or disconnected) and hands it out. Events are queued on the
/// server's threads and pulled here, as with libmpv's mpv_wait_event(); no
/// library code runs on the caller's behalf.
///
/// Arguments: `timeout_ms` in milliseconds: negative waits until an event
/// comes, 0 only looks, a positive value waits up to that long.
/// `out_event` receives, on success only, a pointer to the event; the
/// library owns it, and it stays valid until the next call of this
/// function on the same server or Desconecta_Servidor(). Never free it,
/// copy it by value or take its sizeof (see "Compatibility").
///
/// Errors: PAPO_ERR_TIMEOUT (no event in time); PAPO_ERR_CLOSED (the
/// handle was freed, or Desconecta_Servidor() stopped the server during the
/// wait); PAPO_ERR_NULL_ARGUMENT; PAPO_ERR_FORKED; PAPO_ERR_PANIC.
///
/// Thread safety: may be called from any thread, concurrently with every
/// other function on the same server; calls of this function itself on one
/// server are serialized (the second waits for the first), and each one
/// ends the previous event's life, so pull events from one thread.
/// Desconecta_Servidor() from another thread ends a wait at once.
///
/// Since: 1.0.
///
/// # Safety
/// `server` is any value; `out_event` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn papo_server_wait_event(
    server: *mut papo_server,
    timeout_ms: i32,
    out_event: *mut *const papo_server_event,
) -> c_int {
    boundary(|| {
        non_null(out_event, "out_event")?;
        wait_event(server, timeout_ms, |e| {
            // SAFETY: non-NULL and writable by the caller's contract.
            unsafe { out_event.write(e) }
        })
    })
}

/// The C event for a Rust event (string pointers NULL) and the strings it
/// points to.
fn convert_event(event: &ServerEvent) -> (papo_server_event, ServerEventStrings) {
    let null = std::ptr::null();
    let blank = |kind: papo_server_event_kind, id: u64, addr: &SocketAddr| papo_server_event {
        kind,
        client_id: id,
        ip: null,
        port: addr.port(),
        nick: null,
        new_nick: null,
        code: 0,
        reason: null,
    };
    let strings = |addr: &SocketAddr| ServerEventStrings {
        ip: c_string(&addr.ip().to_string()),
        nick: None,
        new_nick: None,
        reason: None,
    };
    match event {
        ServerEvent::Connected { id, addr } => {
            (blank(PAPO_SERVER_EVENT_CONNECTED, *id, addr), strings(addr))
        }
        ServerEvent::Registered { id, addr, nick } => (
            blank(PAPO_SERVER_EVENT_REGISTERED, *id, addr),
            ServerEventStrings {
                nick: Some(c_string(nick)),
                ..strings(addr)
            },
        ),
        ServerEvent::NickChanged { id, addr, old, new } => (
            blank(PAPO_SERVER_EVENT_NICK_CHANGED, *id, addr),
            ServerEventStrings {
                nick: Some(c_string(old)),
                new_nick: Some(c_string(new)),
                ..strings(addr)
            },
        ),
        ServerEvent::Disconnected {
            id,
            addr,
            nick,
            code,
            reason,
        } => (
            papo_server_event {
                code: code.map_or(0, |c| c as c_int),
                ..blank(PAPO_SERVER_EVENT_DISCONNECTED, *id, addr)
            },
            ServerEventStrings {
                nick: nick.as_deref().map(c_string),
                reason: Some(c_string(reason)),
                ..strings(addr)
            },
        ),
        ServerEvent::History {
            paused: flag,
            message,
        }
        | ServerEvent::Cluster {
            partitioned: flag,
            message,
        } => (
            papo_server_event {
                kind: if matches!(event, ServerEvent::History { .. }) {
                    PAPO_SERVER_EVENT_HISTORY
                } else {
                    PAPO_SERVER_EVENT_CLUSTER
                },
                client_id: 0,
                ip: null,
                port: 0,
                nick: null,
                new_nick: null,
                code: c_int::from(*flag),
                reason: null,
            },
            ServerEventStrings {
                ip: c_string(""),
                nick: None,
                new_nick: None,
                reason: Some(c_string(message)),
            },
        ),
    }
}

/// Shared by Desconecta_Servidor: stops the server and frees the handle.
pub(crate) fn destroy(server: *mut papo_server) -> c_int {
    boundary(|| {
        if server.is_null() {
            return Ok(());
        }
        let handle = SERVERS.remove(server, "server")?;
        handle.closing.store(true, Ordering::SeqCst);
        // Wakes every wait in progress (the event queue is closed).
        handle.server.shutdown();
        SERVERS.wait_unshared(handle);
        Ok(())
    })
}
