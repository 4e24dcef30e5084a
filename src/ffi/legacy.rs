//! The 0.1 ABI, frozen: the entry points that took or filled a caller's
//! struct, with the 0.1 layouts of those structs, kept so that a program
//! built against the 0.1 header (tests/c/compat/papo-0.1.h) runs unchanged
//! against this library. They are exported but not declared in the 1.0
//! header (cbindgen.toml excludes them); 1.0 programs use the options
//! objects and the library-owned events instead. The layouts below never
//! change: a 0.1 program allocated them with 0.1's sizeof.
//!
//! Events of kinds a 0.1 program cannot know never reach it: most answer
//! requests a 0.1 program cannot make; of a cluster's (1.2), RENAMED comes
//! as the NICK_CHANGED it knows, the others are skipped.

use std::ffi::{c_char, c_int};
use std::time::Duration;

use super::client::{self, papo_client};
use super::event::papo_event;
use super::options::{papo_client_options, papo_server_options};
use super::server::{self, papo_server, papo_server_event};
use super::{boundary, non_null, opt_str_arg, FfiResult, PAPO_ERR_INVALID_TEXT};
use crate::config::{ClientConfig, ServerConfig};

/// 0.1's client settings (papo::ClientConfig), filled by
/// papo_client_config_init(). Frozen layout.
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
    /// The Rust settings, converted field by field (and the TLS file
    /// read); the values are checked by `ClientConfig::validate` when
    /// connecting.
    ///
    /// # Safety
    /// The string fields are NULL or NUL-terminated.
    unsafe fn to_rust(self) -> FfiResult<ClientConfig> {
        let mut o = papo_client_options::defaults();
        let c = o.config_mut();
        // 0.1 programs knew no reconnection (nor its events).
        c.reconnect = false;
        c.connect_timeout = Duration::from_millis(u64::from(self.connect_timeout_ms));
        c.reply_timeout = Duration::from_millis(u64::from(self.reply_timeout_ms));
        c.event_queue_capacity = self.event_queue_capacity;
        c.presence = self.presence != 0;
        // SAFETY: caller's contract (each string NULL or NUL-terminated).
        let (password, ca, name) = unsafe {
            (
                opt_str_arg(self.password, "config->password", PAPO_ERR_INVALID_TEXT)?,
                opt_str_arg(
                    self.tls_ca_file,
                    "config->tls_ca_file",
                    PAPO_ERR_INVALID_TEXT,
                )?,
                opt_str_arg(
                    self.tls_server_name,
                    "config->tls_server_name",
                    PAPO_ERR_INVALID_TEXT,
                )?,
            )
        };
        o.set_strings(password, ca, name);
        o.to_config()
    }
}

/// 0.1: fills `config` with the default settings. NULL is ignored.
///
/// # Safety
/// `config` is NULL or points to a writable 0.1 papo_client_config.
#[no_mangle]
pub unsafe extern "C" fn papo_client_config_init(config: *mut papo_client_config) {
    let _ = boundary(|| {
        non_null(config, "config")?;
        let defaults = papo_client_config::from(&ClientConfig::default());
        // SAFETY: non-NULL and writable by the caller's contract.
        unsafe { config.write(defaults) };
        Ok(())
    });
}

/// 0.1: papo_client_connect_with() with a 0.1 config struct (NULL: the
/// defaults).
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
        // SAFETY: caller's contract.
        let config = unsafe { config.as_ref() }.copied();
        let make = || match config {
            // SAFETY: caller's contract (string fields NULL or valid).
            Some(c) => unsafe { c.to_rust() },
            None => Ok(ClientConfig {
                reconnect: false,
                ..ClientConfig::default()
            }),
        };
        // SAFETY: caller's contract.
        unsafe { client::connect(ip, port, apelido, make, out_client) }
    })
}

/// 0.1's client event, filled by 0.1's papo_client_next_event(). Frozen
/// layout: 1.0's papo_event without `userdata`, `kind` an int.
///
/// Ownership: the strings belong to the client handle and stay valid until
/// the next papo_client_next_event() on the same client or
/// Desconecta_cliente(), whichever comes first; copy what you keep. They are
/// UTF-8 and NUL-terminated.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct papo_event_0_1 {
    /// One of PAPO_EVENT_*.
    pub kind: c_int,
    /// ERROR and DISCONNECTED: the code (PAPO_ERR_*); otherwise 0.
    pub code: c_int,
    /// PUBLIC, PRIVATE: the sender; JOINED, LEFT: who; NICK_CHANGED: the old
    /// nickname; otherwise NULL.
    pub nick: *const c_char,
    /// NICK_CHANGED: the new nickname; otherwise NULL.
    pub new_nick: *const c_char,
    /// PUBLIC, PRIVATE: the message; ERROR, DISCONNECTED: a short text;
    /// otherwise NULL.
    pub text: *const c_char,
    /// Bytes of `text` without its NUL; 0 when `text` is NULL.
    pub text_len: usize,
    // The fields below were added with file transfer (kinds 8-15); they
    // are 0 / NULL for the kinds 1-7.
    /// FILE_*: the transfer's number (papo_client_send_file() returns it for
    /// files this client sends); otherwise 0.
    pub file_id: u64,
    /// FILE_PROGRESS, FILE_SEND_PROGRESS: bytes received / forwarded so
    /// far; FILE_RECEIVED, FILE_SENT: the size; otherwise 0.
    pub bytes_done: u64,
    /// FILE_OFFERED, FILE_PROGRESS, FILE_RECEIVED, FILE_SEND_PROGRESS,
    /// FILE_SENT: the file's size in bytes; otherwise 0.
    pub bytes_total: u64,
    /// FILE_*: the file's name: for received files the announced name
    /// reduced to a safe base name (the saved name may add " (n)"), for
    /// sent files the name announced; otherwise NULL.
    pub file_name: *const c_char,
    /// FILE_RECEIVED: where the file was saved (inside the download
    /// folder); otherwise NULL.
    pub path: *const c_char,
    /// BYTES: the message's bytes (any bytes, NUL included; followed by no
    /// NUL of its own), NULL for an empty message; otherwise NULL. Owned like
    /// the strings: valid until the next papo_client_next_event() on this
    /// client or Desconecta_cliente().
    pub data: *const u8,
    /// BYTES: bytes at `data`; otherwise 0.
    pub data_len: usize,
    /// BYTES, FILE_OFFERED: 1 when sent to this client alone, 0 when sent
    /// to everyone; otherwise 0.
    pub is_private: c_int,
}

impl From<&papo_event> for papo_event_0_1 {
    fn from(e: &papo_event) -> papo_event_0_1 {
        use super::event::papo_event_kind::{PAPO_EVENT_NICK_CHANGED, PAPO_EVENT_RENAMED};
        let kind = match e.kind {
            // Its own nickname changed: the same fields as NICK_CHANGED.
            PAPO_EVENT_RENAMED => PAPO_EVENT_NICK_CHANGED,
            other => other,
        };
        papo_event_0_1 {
            kind: kind as c_int,
            code: e.code,
            nick: e.nick,
            new_nick: e.new_nick,
            text: e.text,
            text_len: e.text_len,
            file_id: e.file_id,
            bytes_done: e.bytes_done,
            bytes_total: e.bytes_total,
            file_name: e.file_name,
            path: e.path,
            data: e.data,
            data_len: e.data_len,
            is_private: e.is_private,
        }
    }
}

/// 0.1: papo_client_wait_event() copying the event into the caller's 0.1
/// struct (its pointers valid until the next call on the client or
/// Desconecta_cliente()).
///
/// # Safety
/// `out_event` is NULL or points to a writable 0.1 papo_event.
#[no_mangle]
pub unsafe extern "C" fn papo_client_next_event(
    client: *mut papo_client,
    timeout_ms: i32,
    out_event: *mut papo_event_0_1,
) -> c_int {
    use super::event::papo_event_kind::{
        PAPO_EVENT_CLUSTER_HEALED, PAPO_EVENT_CLUSTER_PARTITIONED, PAPO_EVENT_LOST,
    };
    boundary(|| {
        non_null(out_event, "out_event")?;
        let deadline = u64::try_from(timeout_ms)
            .ok()
            .filter(|&ms| ms > 0)
            .map(|ms| std::time::Instant::now() + Duration::from_millis(ms));
        loop {
            // What is left of the caller's timeout (negative: no limit).
            let left = match deadline {
                None => timeout_ms,
                Some(d) => {
                    let ms = d.saturating_duration_since(std::time::Instant::now());
                    i32::try_from(ms.as_millis()).unwrap_or(i32::MAX)
                }
            };
            let mut skipped = false;
            client::wait_event(client, left, |e| match e.kind {
                // A cluster's news (1.2): no 0.1 kind says it.
                PAPO_EVENT_CLUSTER_PARTITIONED | PAPO_EVENT_CLUSTER_HEALED | PAPO_EVENT_LOST => {
                    skipped = true
                }
                // SAFETY: non-NULL and writable by the caller's contract.
                _ => unsafe { out_event.write(papo_event_0_1::from(e)) },
            })?;
            if !skipped {
                return Ok(());
            }
        }
    })
}

/// 0.1's server limits (papo::ServerConfig), filled by
/// papo_server_config_init(). Frozen layout.
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
    /// is a slow consumer and is disconnected with ERROR 03. Default 1048576
    /// (papo_server_config_init() keeps 0.1's default; 1.0's options start
    /// at 64 MiB).
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
    /// The Rust settings, converted field by field (and the TLS files
    /// read); the values are checked by `ServerConfig::validate` when
    /// starting.
    ///
    /// # Safety
    /// The string fields are NULL or NUL-terminated.
    pub(crate) unsafe fn to_rust(self) -> FfiResult<ServerConfig> {
        let mut o = papo_server_options::defaults();
        let c = o.config_mut();
        c.max_line_bytes = self.max_line_bytes;
        c.max_discard_bytes = self.max_discard_bytes;
        c.max_nick_chars = self.max_nick_chars;
        c.max_clients = self.max_clients;
        c.max_clients_per_ip = self.max_clients_per_ip;
        c.max_queue_bytes = self.max_queue_bytes;
        c.registration_timeout = Duration::from_millis(u64::from(self.registration_timeout_ms));
        c.io_threads = self.io_threads as usize;
        c.event_queue_capacity = self.event_queue_capacity;
        c.max_file_bytes = self.max_file_bytes;
        c.max_payload_bytes = self.max_payload_bytes;
        c.file_stall_timeout = Duration::from_millis(u64::from(self.file_stall_timeout_ms));
        c.flood_lines_per_sec = self.flood_lines_per_sec;
        c.flood_burst_lines = self.flood_burst_lines;
        c.keepalive_interval = Duration::from_millis(u64::from(self.keepalive_interval_ms));
        c.keepalive_timeout = Duration::from_millis(u64::from(self.keepalive_timeout_ms));
        c.max_nick_attempts = self.max_nick_attempts;
        c.tls_port = self.tls_port;
        c.raise_nofile_limit = self.raise_nofile_limit != 0;
        c.trim_heap = self.trim_heap != 0;
        // SAFETY: caller's contract (each string NULL or NUL-terminated).
        let (password, cert, key) = unsafe {
            (
                opt_str_arg(self.password, "config->password", PAPO_ERR_INVALID_TEXT)?,
                opt_str_arg(
                    self.tls_cert_file,
                    "config->tls_cert_file",
                    PAPO_ERR_INVALID_TEXT,
                )?,
                opt_str_arg(
                    self.tls_key_file,
                    "config->tls_key_file",
                    PAPO_ERR_INVALID_TEXT,
                )?,
            )
        };
        c.password = password.map(crate::config::Password::from);
        o.set_tls_files(cert, key);
        o.to_config()
    }
}

/// 0.1: fills `config` with the default limits. NULL is ignored.
///
/// # Safety
/// `config` is NULL or points to a writable 0.1 papo_server_config.
#[no_mangle]
pub unsafe extern "C" fn papo_server_config_init(config: *mut papo_server_config) {
    let _ = boundary(|| {
        non_null(config, "config")?;
        let mut defaults = papo_server_config::from(&ServerConfig::default());
        // A program built for 0.1 gets the queue limit 0.1 documented.
        defaults.max_queue_bytes = 1 << 20;
        // SAFETY: non-NULL and writable by the caller's contract.
        unsafe { config.write(defaults) };
        Ok(())
    });
}

/// 0.1: papo_server_start_with() with a 0.1 config struct (NULL: the
/// defaults).
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
        // SAFETY: caller's contract.
        let config = unsafe { config.as_ref() }.copied();
        let make = || match config {
            // SAFETY: caller's contract (string fields NULL or valid).
            Some(c) => unsafe { c.to_rust() },
            None => Ok(ServerConfig::default()),
        };
        // SAFETY: caller's contract.
        unsafe { server::start(ip, port, make, out_server) }
    })
}

/// 0.1's server event, filled by 0.1's papo_server_next_event(). Frozen
/// layout: 1.0's papo_server_event with `kind` an int.
///
/// Ownership: the strings belong to the server handle and stay valid until
/// the next papo_server_next_event() on the same server or
/// Desconecta_Servidor(), whichever comes first; copy what you keep. They
/// are UTF-8 and NUL-terminated.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct papo_server_event_0_1 {
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

impl From<&papo_server_event> for papo_server_event_0_1 {
    fn from(e: &papo_server_event) -> papo_server_event_0_1 {
        papo_server_event_0_1 {
            kind: e.kind as c_int,
            client_id: e.client_id,
            ip: e.ip,
            port: e.port,
            nick: e.nick,
            new_nick: e.new_nick,
            code: e.code,
            reason: e.reason,
        }
    }
}

/// 0.1: papo_server_wait_event() copying the event into the caller's 0.1
/// struct.
///
/// # Safety
/// `out_event` is NULL or points to a writable 0.1 papo_server_event.
#[no_mangle]
pub unsafe extern "C" fn papo_server_next_event(
    server: *mut papo_server,
    timeout_ms: i32,
    out_event: *mut papo_server_event_0_1,
) -> c_int {
    boundary(|| {
        non_null(out_event, "out_event")?;
        server::wait_event(server, timeout_ms, |e| {
            // SAFETY: non-NULL and writable by the caller's contract.
            unsafe { out_event.write(papo_server_event_0_1::from(e)) }
        })
    })
}
