//! The server side of the C ABI: `papo_server_*`, over [`crate::Server`].

use std::ffi::{c_char, c_int, CString};
use std::net::SocketAddr;
use std::time::Duration;

use parking_lot::Mutex;

use super::{
    arg_ref, boundary, c_string, check_buffer_args, code_of, ip_arg, non_null, opt_ptr,
    opt_str_arg, timeout_arg, write_buffer, PAPO_ERR_INVALID_ARGUMENT, PAPO_ERR_INVALID_TEXT,
    PAPO_ERR_TIMEOUT,
};
use crate::config::{Password, ServerConfig};
use crate::server::{Server, ServerEvent, ServerTls};

/// A running chat server (opaque handle). Created by Conecta_Servidor() or
/// papo_server_start(); ended and freed by Desconecta_Servidor().
pub struct papo_server {
    pub(crate) server: Server,
    /// The strings of the event last returned by papo_server_next_event,
    /// kept alive until the next call or Desconecta_Servidor.
    last_event: Mutex<Option<ServerEventStrings>>,
}

impl papo_server {
    pub(crate) fn new(server: Server) -> papo_server {
        papo_server {
            server,
            last_event: Mutex::new(None),
        }
    }
}

struct ServerEventStrings {
    ip: CString,
    nick: Option<CString>,
    new_nick: Option<CString>,
    reason: Option<CString>,
}

/// The server's limits (papo::ServerConfig; PROTOCOL.md "Limits"). Fill it
/// with papo_server_config_init() first, then change the fields you need, so
/// that a field added in a later version gets its default.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct papo_server_config {
    /// Longest line a client may send, in bytes, without its line feed; a
    /// longer one gets ERROR 07 and is skipped. Default 4096.
    pub max_line_bytes: usize,
    /// A line longer than this many bytes (whether its line feed has come
    /// or not) closes the connection with ERROR 07: someone sending a
    /// never-ending line. Lines between max_line_bytes and this are only
    /// skipped. Default 65536 (never less than max_line_bytes + 35: room
    /// for a line at the limit, its CR and a request label).
    pub max_discard_bytes: usize,
    /// Longest nickname, in characters (not bytes). Default 32.
    pub max_nick_chars: usize,
    /// Most connections at once, registered or not; one more gets ERROR 12
    /// and is closed. Default 16384. Each also takes a file descriptor: one
    /// the process has no descriptor left for gets ERROR 12 too (see
    /// raise_nofile_limit).
    pub max_clients: usize,
    /// Most connections at once from one IP address; 0 = no limit.
    /// Default 0.
    pub max_clients_per_ip: usize,
    /// Bytes that may wait in one client's outbound queue; a client over it
    /// is a slow consumer and is disconnected with ERROR 03. Default 1048576.
    pub max_queue_bytes: usize,
    /// Milliseconds a new connection has to register a nickname; then
    /// ERROR 11 and close. Default 30000.
    pub registration_timeout_ms: u32,
    /// Number of I/O threads (one event loop each); 0 = one per CPU core, at
    /// most 4. Default 0.
    pub io_threads: u32,
    /// Most server events kept for papo_server_next_event(); further ones
    /// are dropped while the queue is full. Default 65536.
    pub event_queue_capacity: usize,
    /// Largest file a client may send, in bytes; a larger one is refused
    /// when announced (ERROR 07). The server never holds a file whole: it
    /// forwards it in pieces of at most 64 KiB. Default 4294967296 (4 GiB).
    /// (Added in 0.1 with file transfer; PROTOCOL.md "Files and binary
    /// payloads".)
    pub max_file_bytes: u64,
    /// Largest binary message (papo_client_send_bytes()), in bytes; a larger
    /// one gets ERROR 07 and is skipped. Keep it well below max_queue_bytes.
    /// Default 262144 (256 KiB).
    pub max_payload_bytes: usize,
    /// Milliseconds a receiver may take no byte while file data waits for
    /// it; then it is disconnected as a slow consumer (ERROR 03). Must be
    /// > 0. Default 30000.
    pub file_stall_timeout_ms: u32,
    /// Flood limit (since 0.1, issue 6): lines per second a client may send
    /// for ever after a burst of flood_burst_lines; a client over it is sent
    /// ERROR 03 ("flooding") and disconnected. 0 = no limit. Default 100.
    pub flood_lines_per_sec: u32,
    /// Lines a client may send at once before flood_lines_per_sec applies
    /// (0 is taken as 1). Default 1000.
    pub flood_burst_lines: u32,
    /// Milliseconds of silence after which a registered client is sent
    /// "PING :keepalive" (any line answers; papo clients answer by
    /// themselves). 0 = no keepalive. Default 120000.
    pub keepalive_interval_ms: u32,
    /// Milliseconds of further silence after a PING after which the client
    /// is dropped with ERROR 11. Default 60000.
    pub keepalive_timeout_ms: u32,
    /// Refused lines at the nickname prompt after which the connection is
    /// closed. 0 = no limit. Default 10.
    pub max_nick_attempts: u32,
    /// The server password (PROTOCOL.md "Password"), UTF-8, NUL-terminated:
    /// clients must send `/pass <password>` before their nickname; a wrong
    /// or missing one gets ERROR 19 (PAPO_ERR_ACCESS_DENIED) and a close.
    /// Not empty, no control characters, no spaces at either end. NULL = no
    /// password (the default). Copied by papo_server_start(); the caller
    /// keeps ownership.
    pub password: *const c_char,
    /// Path of a PEM file with the server's TLS certificate (then any
    /// intermediates). With tls_key_file, the server also listens for TLS
    /// on tls_port (PROTOCOL.md "TLS"). NULL = no TLS (the default). Read
    /// by papo_server_start().
    pub tls_cert_file: *const c_char,
    /// Path of a PEM file with the private key of tls_cert_file. NULL = no
    /// TLS (the default).
    pub tls_key_file: *const c_char,
    /// The TLS port, used only with tls_cert_file/tls_key_file: by
    /// convention 18001 (PAPO_DEFAULT_TLS_PORT), the default; 0 picks a
    /// free port (see papo_server_tls_port()).
    pub tls_port: u16,
    /// Process-wide, 0 = off (the default), nonzero = on: papo_server_start()
    /// raises the process's soft limit on open files (RLIMIT_NOFILE, what
    /// `ulimit -n` shows) to its hard limit. Each client is one file
    /// descriptor and the usual soft limit, 1024, stops a server near 1,000
    /// clients. Off by default because the limit belongs to the whole
    /// process, not to the library; a server program turns it on
    /// (examples/c/servidor.c does). Never lowered again; a failure is
    /// ignored. Whatever the limit, a client the process has no descriptor
    /// left for gets ERROR 12 and is closed. Unix only.
    pub raise_nofile_limit: u8,
    /// Process-wide, 0 = off (the default), nonzero = on: an I/O thread that
    /// has written 4 MiB or more calls glibc's malloc_trim(0) at its next
    /// idle moment (200 ms without events), handing the heap memory freed
    /// since back to the system. Without it, what a burst queued (10,000
    /// clients joining) stays in the process as free heap: about 10 KB per
    /// idle client instead of 1 KB. Off by default because malloc_trim acts
    /// on the whole process's heap; a server program turns it on. Linux with
    /// glibc only; elsewhere it does nothing.
    pub trim_heap: u8,
}

impl From<&ServerConfig> for papo_server_config {
    fn from(c: &ServerConfig) -> papo_server_config {
        papo_server_config {
            max_line_bytes: c.max_line_bytes,
            max_discard_bytes: c.max_discard_bytes,
            max_nick_chars: c.max_nick_chars,
            max_clients: c.max_clients,
            max_clients_per_ip: c.max_clients_per_ip,
            max_queue_bytes: c.max_queue_bytes,
            registration_timeout_ms: u32::try_from(c.registration_timeout.as_millis())
                .unwrap_or(u32::MAX),
            io_threads: u32::try_from(c.io_threads).unwrap_or(u32::MAX),
            event_queue_capacity: c.event_queue_capacity,
            max_file_bytes: c.max_file_bytes,
            max_payload_bytes: c.max_payload_bytes,
            file_stall_timeout_ms: u32::try_from(c.file_stall_timeout.as_millis())
                .unwrap_or(u32::MAX),
            flood_lines_per_sec: c.flood_lines_per_sec,
            flood_burst_lines: c.flood_burst_lines,
            keepalive_interval_ms: u32::try_from(c.keepalive_interval.as_millis())
                .unwrap_or(u32::MAX),
            keepalive_timeout_ms: u32::try_from(c.keepalive_timeout.as_millis())
                .unwrap_or(u32::MAX),
            max_nick_attempts: c.max_nick_attempts,
            password: std::ptr::null(),
            tls_cert_file: std::ptr::null(),
            tls_key_file: std::ptr::null(),
            tls_port: c.tls_port,
            raise_nofile_limit: u8::from(c.raise_nofile_limit),
            trim_heap: u8::from(c.trim_heap),
        }
    }
}

impl papo_server_config {
    /// The password and TLS fields, read from the caller's strings.
    ///
    /// # Safety
    /// The string fields are NULL or NUL-terminated.
    unsafe fn strings_into(&self, config: &mut ServerConfig) -> Result<(), c_int> {
        // SAFETY: caller's contract.
        let password = unsafe { opt_str_arg(self.password, PAPO_ERR_INVALID_TEXT) }?;
        config.password = password.map(Password::from);
        // SAFETY: caller's contract.
        let cert = unsafe { opt_str_arg(self.tls_cert_file, PAPO_ERR_INVALID_TEXT) }?;
        // SAFETY: caller's contract.
        let key = unsafe { opt_str_arg(self.tls_key_file, PAPO_ERR_INVALID_TEXT) }?;
        config.tls = match (cert, key) {
            (None, None) => None,
            (Some(c), Some(k)) => Some(ServerTls::from_pem_files(c, k).map_err(code_of)?),
            _ => return Err(PAPO_ERR_INVALID_ARGUMENT),
        };
        Ok(())
    }
}

impl From<&papo_server_config> for ServerConfig {
    fn from(c: &papo_server_config) -> ServerConfig {
        ServerConfig {
            max_line_bytes: c.max_line_bytes,
            max_discard_bytes: c.max_discard_bytes,
            max_nick_chars: c.max_nick_chars,
            max_clients: c.max_clients,
            max_clients_per_ip: c.max_clients_per_ip,
            max_queue_bytes: c.max_queue_bytes,
            registration_timeout: Duration::from_millis(u64::from(c.registration_timeout_ms)),
            io_threads: c.io_threads as usize,
            event_queue_capacity: c.event_queue_capacity,
            max_file_bytes: c.max_file_bytes,
            max_payload_bytes: c.max_payload_bytes,
            file_stall_timeout: Duration::from_millis(u64::from(c.file_stall_timeout_ms)),
            flood_lines_per_sec: c.flood_lines_per_sec,
            flood_burst_lines: c.flood_burst_lines,
            keepalive_interval: Duration::from_millis(u64::from(c.keepalive_interval_ms)),
            keepalive_timeout: Duration::from_millis(u64::from(c.keepalive_timeout_ms)),
            max_nick_attempts: c.max_nick_attempts,
            tls_port: c.tls_port,
            raise_nofile_limit: c.raise_nofile_limit != 0,
            trim_heap: c.trim_heap != 0,
            ..ServerConfig::default()
        }
    }
}

/// papo_server_event.kind: a TCP connection was accepted (ip and port are
/// the client's; seed 000 server manual item 3).
pub const PAPO_SERVER_EVENT_CONNECTED: c_int = 1;
/// papo_server_event.kind: a connection registered the nickname `nick`.
pub const PAPO_SERVER_EVENT_REGISTERED: c_int = 2;
/// papo_server_event.kind: a client renamed from `nick` to `new_nick`.
pub const PAPO_SERVER_EVENT_NICK_CHANGED: c_int = 3;
/// papo_server_event.kind: a connection ended (`nick` is NULL if it had not
/// registered; `code` 0 if the client left by itself).
pub const PAPO_SERVER_EVENT_DISCONNECTED: c_int = 4;

/// Something that happened on the server, filled by papo_server_next_event().
///
/// Ownership: the strings belong to the server handle and stay valid until
/// the next papo_server_next_event() on the same server or
/// Desconecta_Servidor(), whichever comes first; copy what you keep. They
/// are UTF-8 and NUL-terminated.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct papo_server_event {
    /// One of PAPO_SERVER_EVENT_*.
    pub kind: c_int,
    /// A number unique to the connection for the server's lifetime.
    pub client_id: u64,
    /// The client's IP address as text (e.g. "127.0.0.1"). Never NULL.
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

/// Fills `config` with the default limits (the same as papo::ServerConfig's
/// defaults, listed on each field). NULL is ignored.
///
/// Thread safety: may be called from any thread; `config` must not be used
/// by another thread during the call.
///
/// # Safety
/// `config` is NULL or points to a writable papo_server_config.
#[no_mangle]
pub unsafe extern "C" fn papo_server_config_init(config: *mut papo_server_config) {
    let _ = boundary(|| {
        non_null(config)?;
        let defaults = papo_server_config::from(&ServerConfig::default());
        // SAFETY: non-NULL and writable by the caller's contract.
        unsafe { config.write(defaults) };
        Ok(())
    });
}

/// Starts a chat server listening on `ip`:`port` with the given limits
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
/// - `config`: the limits; NULL means the defaults. Copied.
/// - `out_server`: receives the new handle on success (untouched on
///   error). Free it with Desconecta_Servidor().
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (out_server NULL); PAPO_ERR_INVALID_TEXT
/// (ip not UTF-8); PAPO_ERR_INVALID_ADDRESS (05: ip is neither an IP
/// address nor a host name, e.g. "999.1.1.1", "1.2.3.4:80", "não é ip",
/// refused without any lookup; a name that does not resolve within 5 s; or
/// not an address of this machine); PAPO_ERR_IO (port taken, no permission,
/// threads could not start, or a TLS file cannot be read);
/// PAPO_ERR_INVALID_ARGUMENT (a config value papo::ServerConfig::validate
/// refuses: 0 for max_line_bytes, max_nick_chars, max_clients,
/// max_queue_bytes, registration_timeout_ms or file_stall_timeout_ms; a
/// password that is empty, has control characters or spaces at either end;
/// also only one of the two TLS files, or a TLS file that holds no usable
/// certificate or key); PAPO_ERR_INVALID_TEXT (a
/// config string not UTF-8); PAPO_ERR_PANIC.
///
/// Thread safety: may be called from any thread.
///
/// # Safety
/// Every pointer is NULL or valid; `ip` is NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn papo_server_start(
    ip: *const c_char,
    port: u16,
    config: *const papo_server_config,
    out_server: *mut *mut papo_server,
) -> c_int {
    boundary(|| {
        non_null(out_server)?;
        // SAFETY: caller's contract.
        let ip = unsafe { ip_arg(ip) }?;
        // SAFETY: caller's contract.
        let config = match unsafe { config.as_ref() } {
            Some(c) => {
                let mut rust = ServerConfig::from(c);
                // SAFETY: caller's contract (string fields NULL or valid).
                unsafe { c.strings_into(&mut rust) }?;
                rust
            }
            None => ServerConfig::default(),
        };
        let server = Server::start(ip, port, config).map_err(code_of)?;
        let handle = Box::into_raw(Box::new(papo_server::new(server)));
        // SAFETY: non-NULL and writable by the caller's contract.
        unsafe { out_server.write(handle) };
        Ok(())
    })
}

/// The body of the server's getters: checks both pointers, reads one value
/// from the server and writes it to `out` (only on success), inside the
/// panic boundary.
///
/// # Safety
/// `server` is NULL or a live handle; `out` is NULL or writable.
unsafe fn read_into<T>(
    server: *const papo_server,
    out: *mut T,
    read: impl FnOnce(&Server) -> T,
) -> c_int {
    boundary(|| {
        non_null(out)?;
        // SAFETY: caller's contract.
        let s = unsafe { arg_ref(server) }?;
        let value = read(&s.server);
        // SAFETY: non-NULL and writable by the caller's contract.
        unsafe { out.write(value) };
        Ok(())
    })
}

/// The TCP port the server listens on (the real one when it was started on
/// port 0).
///
/// Errors: PAPO_ERR_NULL_ARGUMENT; PAPO_ERR_PANIC.
///
/// Thread safety: may be called from any thread, concurrently with any
/// other function on the same server except Desconecta_Servidor().
///
/// # Safety
/// `server` is NULL or a live handle; `out_port` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn papo_server_port(server: *const papo_server, out_port: *mut u16) -> c_int {
    // SAFETY: caller's contract, forwarded.
    unsafe { read_into(server, out_port, |s| s.port()) }
}

/// The TLS port the server listens on (the real one when tls_port was 0),
/// or 0 when the server has no TLS (PROTOCOL.md "TLS").
///
/// Errors: PAPO_ERR_NULL_ARGUMENT; PAPO_ERR_PANIC.
///
/// Thread safety: as papo_server_port().
///
/// # Safety
/// `server` is NULL or a live handle; `out_port` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn papo_server_tls_port(
    server: *const papo_server,
    out_port: *mut u16,
) -> c_int {
    // SAFETY: caller's contract, forwarded.
    unsafe { read_into(server, out_port, |s| s.tls_port().unwrap_or(0)) }
}

/// The number of active connections, registered or not (seed 004: "the
/// server prints the number of active connections").
///
/// Errors: PAPO_ERR_NULL_ARGUMENT; PAPO_ERR_PANIC.
///
/// Thread safety: as papo_server_port().
///
/// # Safety
/// `server` is NULL or a live handle; `out_count` is NULL or writable.
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
/// Errors: PAPO_ERR_NULL_ARGUMENT; PAPO_ERR_PANIC.
///
/// Thread safety: as papo_server_port().
///
/// # Safety
/// `server` is NULL or a live handle; `out_count` is NULL or writable.
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
/// buf_len > 0); PAPO_ERR_BUFFER_TOO_SMALL; PAPO_ERR_PANIC.
///
/// Thread safety: as papo_server_port().
///
/// # Safety
/// `server` is NULL or a live handle; `buf` is NULL or `buf_len` writable
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
        // SAFETY: caller's contract.
        let s = unsafe { arg_ref(server) }?;
        let text = s.server.users().join("\n");
        // SAFETY: arguments checked; caller's contract.
        unsafe { write_buffer(&text, buf, buf_len, out_len) }
    })
}

/// Waits for the next server event (a client connected, registered,
/// renamed or disconnected) and fills `*out_event` with it. Events are
/// queued on the server's threads and pulled here, as with libmpv's
/// mpv_wait_event(); no library code runs on the caller's behalf.
///
/// Arguments: `timeout_ms` in milliseconds: negative waits until an event
/// comes, 0 only looks, a positive value waits up to that long.
/// `out_event` is written only on success; its strings stay valid until the
/// next call of this function on the same server or Desconecta_Servidor().
///
/// Errors: PAPO_ERR_TIMEOUT (no event in time); PAPO_ERR_NULL_ARGUMENT;
/// PAPO_ERR_PANIC.
///
/// Thread safety: may be called from any thread, concurrently with every
/// other function on the same server except Desconecta_Servidor(); calls of
/// this function itself on one server are serialized (the second waits for
/// the first), and each one frees the previous event's strings, so use one
/// thread to pull events.
///
/// # Safety
/// `server` is NULL or a live handle; `out_event` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn papo_server_next_event(
    server: *mut papo_server,
    timeout_ms: i32,
    out_event: *mut papo_server_event,
) -> c_int {
    boundary(|| {
        non_null(out_event)?;
        // SAFETY: caller's contract.
        let s = unsafe { arg_ref(server.cast_const()) }?;
        let mut last = s.last_event.lock();
        let event = match timeout_arg(timeout_ms) {
            Some(t) => s.server.next_event(t),
            None => loop {
                if let Some(e) = s.server.next_event(Duration::from_secs(3600)) {
                    break Some(e);
                }
            },
        };
        let event = event.ok_or(PAPO_ERR_TIMEOUT)?;
        let (out, strings) = convert_event(&event);
        let strings = last.insert(strings);
        let out = papo_server_event {
            ip: strings.ip.as_ptr(),
            nick: opt_ptr(&strings.nick),
            new_nick: opt_ptr(&strings.new_nick),
            reason: opt_ptr(&strings.reason),
            ..out
        };
        // SAFETY: non-NULL and writable by the caller's contract.
        unsafe { out_event.write(out) };
        Ok(())
    })
}

/// The C event for a Rust event (string pointers NULL) and the strings it
/// points to.
fn convert_event(event: &ServerEvent) -> (papo_server_event, ServerEventStrings) {
    let null = std::ptr::null();
    let blank = |kind: c_int, id: u64, addr: &SocketAddr| papo_server_event {
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
    }
}

/// Shared by Desconecta_Servidor: stops the server and frees the handle.
///
/// # Safety
/// `server` is NULL or a live handle, not used by anyone afterwards.
pub(crate) unsafe fn destroy(server: *mut papo_server) -> c_int {
    boundary(|| {
        if server.is_null() {
            return Ok(());
        }
        // SAFETY: a live handle from Box::into_raw, handed back for good.
        let handle = unsafe { Box::from_raw(server) };
        handle.server.shutdown();
        drop(handle);
        Ok(())
    })
}
