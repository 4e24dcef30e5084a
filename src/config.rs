//! Limits and settings of the server and the client, with their defaults.
//! `PROTOCOL.md` ("Limits") lists each one and what happens when it is
//! crossed.

use std::fmt;
use std::time::Duration;

#[cfg(feature = "test-support")]
use crate::clock::Clock;
use crate::error::{Error, ErrorCode, Result};
use crate::protocol::{DEFAULT_MAX_LINE_BYTES, DEFAULT_MAX_NICK_CHARS};
/// The size limit on the PEM files named in a configuration (certificate,
/// key, trusted authorities), in bytes.
pub use crate::tls::MAX_PEM_FILE_BYTES;
use crate::tls::{ClientTls, ServerTls};

/// The server's limits. Build one with `ServerConfig::default()` and change
/// the fields you need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Longest line a client may send, in bytes, without its LF. A longer
    /// line gets `ERROR 07` and is skipped; the connection stays usable.
    /// Default 4096.
    pub max_line_bytes: usize,
    /// A line longer than this many bytes (whether its LF has come or
    /// not) drops the connection (`ERROR 07`, then close): someone sending
    /// a never-ending line. Lines between `max_line_bytes` and this are
    /// only skipped. Default 65536 (and never less than
    /// `max_line_bytes + 35`: room for a line at the limit, its CR and a
    /// request label, PROTOCOL.md "Labels").
    pub max_discard_bytes: usize,
    /// Longest nickname, in characters. Default 32.
    pub max_nick_chars: usize,
    /// Most connections at once (registered or not); one more gets
    /// `ERROR 12` and is closed. Default 16384. Each connection also takes
    /// one of the process's file descriptors: a connection the process has
    /// no descriptor left for gets `ERROR 12` and is closed too, however
    /// far below this limit the server is (see `raise_nofile_limit`).
    pub max_clients: usize,
    /// Most connections at once from one IP address; 0 means no limit.
    /// One more gets `ERROR 12` and is closed. Default 0.
    pub max_clients_per_ip: usize,
    /// Bytes that may wait in one client's outbound queue, counting all it
    /// holds (its share of broadcasts too). A client whose queue would grow
    /// past this is a slow consumer: it is sent `ERROR 03` (best effort)
    /// and disconnected, and nobody else waits for it. Default 64 MiB, as
    /// NATS's pending limit (Redis allows 32 MB to a pub/sub client): a
    /// broadcast queued to many clients is held once, so a reader a few MiB
    /// behind during a burst costs little and is not a slow consumer;
    /// `max_total_queue_bytes` bounds the whole server.
    pub max_queue_bytes: usize,
    /// Bytes that may wait in all clients' outbound queues together,
    /// counting a broadcast queued to many clients once (the queues hold
    /// references to one encoded copy). Past it, the clients holding the
    /// most bytes are dropped first, as slow consumers (`ERROR 03`), until
    /// the server is back under it; the others stay. This, not
    /// `max_queue_bytes` times the number of clients, bounds the server's
    /// queue memory. Default 1 GiB: a fixed figure rather than a fraction
    /// of RAM, so that a server behaves the same on every machine (and in
    /// a container whose memory limit the process cannot see); it holds
    /// 16 clients at a 64 MiB backlog of their own, or thousands of
    /// clients behind on the same broadcasts. Set it to what the machine
    /// can spare.
    pub max_total_queue_bytes: usize,
    /// Time a connection has to send a valid nickname; after it, `ERROR 11`
    /// and close. Default 30 s.
    pub registration_timeout: Duration,
    /// Number of I/O threads (each runs one event loop); 0 means one per
    /// CPU core, at most 4. Default 0.
    pub io_threads: usize,
    /// Most server events kept for [`crate::Server::next_event`]; when the
    /// queue is full, new events are dropped and counted
    /// ([`crate::Server::dropped_events`]). Default 65536.
    pub event_queue_capacity: usize,
    /// Largest file a client may send (`/file`), in bytes, announced up
    /// front and refused there with `ERROR 07`. The server never holds a
    /// file: it forwards it in pieces of at most 64 KiB. Default 4 GiB.
    pub max_file_bytes: u64,
    /// Largest binary message (`/bytes`), in bytes. Over it, `ERROR 07` and
    /// the payload is skipped. A binary message is gathered whole before it
    /// is forwarded and is queued like a text message, so keep this well
    /// below `max_queue_bytes`. Default 256 KiB.
    pub max_payload_bytes: usize,
    /// How long a receiver may take no byte at all while file data waits
    /// for it; then it is dropped as a slow consumer (`ERROR 03`), so that
    /// one stuck receiver does not hold a transfer (which goes at the pace
    /// of its slowest receiver) forever. Default 30 s.
    pub file_stall_timeout: Duration,
    /// Flood limit: lines per second a client may send for ever, after a
    /// burst of `flood_burst_lines`. A client over it is flooding: it is
    /// sent `ERROR 03` (`...: flooding ...`) and disconnected, and everyone
    /// else is told `LEFT` (PROTOCOL.md, "Limits"). Every line counts,
    /// empty ones and the nickname prompt's included. 0 means no limit.
    /// Default 100.
    pub flood_lines_per_sec: u32,
    /// Lines a client may send at once before `flood_lines_per_sec` applies
    /// (0 is taken as 1). Default 1000.
    pub flood_burst_lines: u32,
    /// Keepalive: a registered client that has sent nothing for this long
    /// is sent `PING :keepalive`, which any line (or byte) answers.
    /// `Duration::ZERO` turns keepalive off. Default 120 s.
    pub keepalive_interval: Duration,
    /// Keepalive: a client that sends nothing for this long after a
    /// `PING` is dropped with `ERROR 11` and everyone else is told `LEFT`.
    /// Default 60 s.
    pub keepalive_timeout: Duration,
    /// Failed nickname attempts (lines at the nickname prompt that are
    /// refused: invalid, taken, too long, not UTF-8) after which the
    /// connection is closed with that last error. Something that is not a
    /// person at `nc` (random bytes, an HTTP request) is so closed at once
    /// instead of at the registration timeout. 0 means no limit.
    /// Default 10.
    pub max_nick_attempts: u32,
    /// The server password (PROTOCOL.md, "Password"): when set, a client
    /// must send `/pass <password>` before its nickname; a wrong or missing
    /// one gets `ERROR 19` and the connection is closed. Compared in
    /// constant time. It crosses the network in clear text unless the
    /// client uses TLS. `None` (the default): no password.
    pub password: Option<Password>,
    /// TLS (PROTOCOL.md "TLS"): when set, the server also listens on
    /// `tls_port` (same IP address), where every connection speaks TLS
    /// with this certificate; the chat is the same on both ports. `None`
    /// (the default): plain text only.
    pub tls: Option<ServerTls>,
    /// The TLS port, used only with `tls` set. By convention 18001, next to
    /// the plain 18000 (`protocol::DEFAULT_TLS_PORT`); 0 picks any free
    /// port ([`crate::Server::tls_port`] tells which). Default 18001.
    pub tls_port: u16,
    /// The HTTP port (PROTOCOL.md "HTTP"): when set, the server also
    /// listens on this port (same IP address) for HTTP, where it serves the
    /// browser chat client (`/`), its WebSocket endpoint (`/ws`, the same
    /// chat with the same limits), Prometheus metrics (`/metrics`) and a
    /// health check (`/healthz`). 0 picks any free port
    /// ([`crate::Server::http_port`] tells which). By convention 18080
    /// ([`crate::server::DEFAULT_HTTP_PORT`]), which a server program turns on;
    /// the library leaves it off. Default `None`.
    pub http_port: Option<u16>,
    /// Origins (`scheme://host[:port]`, as browsers send them in the
    /// `Origin` header, compared case-insensitively) whose pages may open
    /// the WebSocket endpoint besides the HTTP port's own (an `Origin`
    /// whose host and port are the request's `Host`). Any other `Origin`
    /// gets `403 Forbidden`, so that a page elsewhere cannot chat in a
    /// visitor's name. A request without `Origin` (not a browser) is
    /// allowed. Default empty.
    pub http_allowed_origins: Vec<String>,
    /// Process-wide: when true, [`crate::Server::start`] raises this
    /// process's soft limit on open files (`RLIMIT_NOFILE`, what `ulimit
    /// -n` shows) to its hard limit before it listens. Each connection is
    /// one file descriptor, and the usual soft limit (1024) stops a server
    /// near 1,000 clients although the hard limit often allows far more.
    /// The limit is the whole process's, so it is off by default: a
    /// library should not change it behind its host program's back; a
    /// server program turns it on (the C and Python example servers and
    /// `papo-bench serve` do). The limit is never lowered again; a failure
    /// to raise it is ignored (the server then has the limit it had).
    /// Whatever the limit, a connection the process has no descriptor for
    /// is still answered `ERROR 12` and closed (PROTOCOL.md "Limits").
    /// Unix only; elsewhere it does nothing. Default false.
    pub raise_nofile_limit: bool,
    /// Process-wide: when true, an I/O thread that has written 4 MiB or
    /// more since it last did so calls glibc's `malloc_trim(0)` at its next
    /// idle moment (200 ms without events), which hands the heap memory
    /// freed since back to the operating system. Without it, the memory
    /// that queued lines took during a burst (10,000 clients joining queue
    /// 50 million `JOIN` lines) stays in the process as free heap: about
    /// 10 KB per idle client afterwards instead of about 1 KB
    /// (BENCHMARKS.md, "connections"). `malloc_trim` works on the whole
    /// process's heap (every thread's arena) and takes the allocator's
    /// locks while it runs, so it is off by default; a server program
    /// turns it on (the example servers and `papo-bench serve` do). Only
    /// Linux with glibc; elsewhere it does nothing. Default false.
    pub trim_heap: bool,
    /// The server operators' password (PROTOCOL.md, "Rooms"): a client
    /// that sends `/oper <password>` becomes a server operator and may put
    /// anyone off the server with `/kick Nick`. Compared in constant time;
    /// it crosses the network in clear text unless the client uses TLS.
    /// `None` (the default): nobody can become one. Since: 1.1.
    pub oper_password: Option<Password>,
    /// History (PROTOCOL.md, "History"): the most messages kept per room,
    /// for the public chat and per private conversation; older ones are
    /// forgotten. 0 keeps no history at all (`/history` answers nothing).
    /// Default 1000. Since: 1.1.
    pub history_limit: usize,
    /// History: messages older than this are forgotten. Default 30 days.
    /// Since: 1.1.
    pub history_max_age: Duration,
    /// History: when set, history is also written to an SQLite database
    /// at this path (created if missing, WAL journal), so that it and the
    /// message ids survive a restart of the server. Writes happen on a
    /// thread of their own, batched, never on the I/O threads; when the
    /// database cannot keep up or fails (a full disk, a read-only
    /// directory), writing pauses and a [`crate::ServerEvent::History`]
    /// event says so: chat goes on. `None` (the default): history in memory
    /// only. Since: 1.1.
    pub history_path: Option<std::path::PathBuf>,
    /// Resuming (PROTOCOL.md, "Resuming a connection"): how long the
    /// server holds the nickname, rooms and messages of a client that
    /// said `/resume on` after its connection dropped without a `quit`.
    /// Meanwhile others see no `LEFT` and private messages to it are
    /// answered `SENT`; once it has passed, everyone gets `LEFT` and the
    /// token is void. 0: nothing is held (a token still takes over a
    /// connection the server still thinks alive). Default 60 s.
    /// Since: 1.1.
    pub resume_grace: Duration,
    /// Resuming: the most messages a resumed connection is sent of what it
    /// missed (its backlog); past it, the last `resume_backlog` are sent and
    /// `RESUMED` says `0` (not recovered). The messages come from history,
    /// so `history_limit` per conversation bounds it too. Default 1000.
    /// Since: 1.1.
    pub resume_backlog: usize,
    /// Several servers as one chat (PROTOCOL.md, "Clusters"): the address
    /// of the Redis (or Valkey) server every node of the chat uses, as a
    /// `redis://host:port/` URL (`redis://host:port/db`, and `unix:///path`
    /// for a Unix socket, are accepted too). Users of every node then see
    /// one user list, one public chat, the same rooms, and can write to
    /// each other; nicknames are unique across the nodes; a client may
    /// resume its connection on any node within `resume_grace` (PROTOCOL.md,
    /// "Resuming on another node"). `None` (the default): this server is
    /// a chat of its own. Since: 1.2.
    pub cluster: Option<String>,
    /// Clusters: how long a node's claim on its users' nicknames lasts
    /// without being renewed. A node renews every third of it; a node that
    /// stops (crash, `kill -9`, lost network) has its users gone from every
    /// other node, and their nicknames free, within it. Default 10 s; at
    /// least 1 s, at most 1 hour. Since: 1.2.
    pub cluster_lease: Duration,
    /// Test support (cargo feature `test-support`, off by default): the
    /// clock of the registration timeout, keepalive and the flood limit.
    /// The system clock by default; tests give the server a
    /// [`Clock::manual`] clock and move it with [`Clock::advance`].
    #[cfg(feature = "test-support")]
    pub clock: Clock,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            max_discard_bytes: 64 * 1024,
            max_nick_chars: DEFAULT_MAX_NICK_CHARS,
            max_clients: 16384,
            max_clients_per_ip: 0,
            max_queue_bytes: 64 * 1024 * 1024,
            max_total_queue_bytes: 1024 * 1024 * 1024,
            registration_timeout: Duration::from_secs(30),
            io_threads: 0,
            event_queue_capacity: 65536,
            max_file_bytes: 4 * 1024 * 1024 * 1024,
            max_payload_bytes: 256 * 1024,
            file_stall_timeout: Duration::from_secs(30),
            flood_lines_per_sec: 100,
            flood_burst_lines: 1000,
            keepalive_interval: Duration::from_secs(120),
            keepalive_timeout: Duration::from_secs(60),
            max_nick_attempts: 10,
            password: None,
            tls: None,
            tls_port: crate::protocol::DEFAULT_TLS_PORT,
            http_port: None,
            http_allowed_origins: Vec::new(),
            raise_nofile_limit: false,
            trim_heap: false,
            oper_password: None,
            history_limit: 1000,
            history_max_age: Duration::from_secs(30 * 24 * 3600),
            history_path: None,
            cluster: None,
            cluster_lease: Duration::from_secs(10),
            resume_grace: Duration::from_secs(60),
            resume_backlog: 1000,
            #[cfg(feature = "test-support")]
            clock: Clock::system(),
        }
    }
}

/// 17 `InvalidArgument` naming the field and why.
fn refuse(field: &str, why: &str) -> Result<()> {
    Err(Error::new(
        ErrorCode::InvalidArgument,
        format!("{field} {why}"),
    ))
}

impl ServerConfig {
    /// Checks the values that cannot work; [`crate::Server::start`] (and so
    /// `papo_server_start` and `Conecta_Servidor` in C) calls it first, so
    /// calling it yourself is only a way to find out earlier.
    ///
    /// Errors: 17 `InvalidArgument` when `max_line_bytes`, `max_nick_chars`,
    /// `max_clients`, `max_queue_bytes`, `max_total_queue_bytes`,
    /// `registration_timeout` or
    /// `file_stall_timeout` is 0; when `max_line_bytes` is above
    /// `isize::MAX` (no buffer can be that large); when the password is
    /// empty, holds control characters, or starts or ends with a space
    /// (clients cannot send those). The detail names the field.
    pub fn validate(&self) -> Result<()> {
        let zero = |name: &str| refuse(&format!("ServerConfig::{name}"), "must not be 0");
        if self.max_line_bytes == 0 {
            return zero("max_line_bytes");
        }
        if self.max_nick_chars == 0 {
            return zero("max_nick_chars");
        }
        if self.max_clients == 0 {
            return zero("max_clients");
        }
        if self.max_queue_bytes == 0 {
            return zero("max_queue_bytes");
        }
        if self.max_total_queue_bytes == 0 {
            return zero("max_total_queue_bytes");
        }
        if self.registration_timeout.is_zero() {
            return zero("registration_timeout");
        }
        if self.file_stall_timeout.is_zero() {
            return zero("file_stall_timeout");
        }
        if let Some(p) = &self.password {
            if p.as_str().is_empty() || p.as_str().chars().any(|c| c.is_control()) {
                return refuse(
                    "ServerConfig::password",
                    "must not be empty or hold control characters",
                );
            }
            if p.as_str() != p.as_str().trim() {
                return refuse(
                    "ServerConfig::password",
                    "must not start or end with spaces (clients cannot send them)",
                );
            }
        }
        if let Some(p) = &self.oper_password {
            let p = p.as_str();
            if p.is_empty() || p.chars().any(|c| c.is_control()) || p != p.trim() {
                return refuse(
                    "ServerConfig::oper_password",
                    "must not be empty, hold control characters, or start or end with spaces",
                );
            }
        }
        if let Some(url) = &self.cluster {
            if let Err(e) = redis::Client::open(url.as_str()) {
                return refuse(
                    "ServerConfig::cluster",
                    &format!("{url:?} is no Redis URL: {e}"),
                );
            }
        }
        if self.cluster_lease < Duration::from_secs(1)
            || self.cluster_lease > Duration::from_secs(3600)
        {
            return refuse(
                "ServerConfig::cluster_lease",
                "must be at least 1 s and at most 1 hour",
            );
        }
        if self.max_line_bytes > isize::MAX as usize {
            return refuse(
                "ServerConfig::max_line_bytes",
                "is larger than any buffer can be",
            );
        }
        for o in &self.http_allowed_origins {
            if !(o.starts_with("http://") || o.starts_with("https://"))
                || o.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                return refuse(
                    "ServerConfig::http_allowed_origins",
                    &format!("entry {o:?} is no origin (scheme://host[:port])"),
                );
            }
        }
        Ok(())
    }
}

/// A password (the server's, or the one a client sends). Its `Debug` output
/// never shows it. Build one with `Password::from("...")`.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// The password as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Password {
    fn from(s: &str) -> Password {
        Password(s.to_owned())
    }
}

impl From<String> for Password {
    fn from(s: String) -> Password {
        Password(s)
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// The client's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Time allowed to resolve a host name, open the TCP connection and
    /// receive the server's `HELLO`, `WELCOME` and `USERS`; past it,
    /// `Conecta_cliente` fails with 04 (invalid server), or 05 if the name
    /// was still not resolved. Default 5 s.
    pub connect_timeout: Duration,
    /// Time to wait for the server's answer to a request (a private
    /// message's `SENT`/`ERROR 02`, `/list`, `/nick`, `/ping`); past it the
    /// call fails with 11 (timeout). Default 10 s.
    pub reply_timeout: Duration,
    /// Most events kept for [`crate::Client::next_event`]. When the queue is
    /// full the client stops reading from the socket until the caller takes
    /// events, so nothing is lost; the server may then drop this client as a
    /// slow consumer (03). Default 65536.
    pub event_queue_capacity: usize,
    /// Whether the server should tell this client about other users
    /// (PROTOCOL.md, "Presence"). Default true: the list of who is online
    /// at registration ([`crate::Client::initial_users`]) and a `Joined`,
    /// `Left` or `NickChanged` event whenever someone else comes, goes or
    /// renames. False: `connect_with` sends `/presence off` before the
    /// nickname, so the server sends none of those (like IRCv3's
    /// `no-implicit-names` and Twitch without its membership capability);
    /// `initial_users()` is then empty, and `list()` still asks who is
    /// online. Messages, the client's own renames and errors come as
    /// usual. Use it for clients that only send or receive messages (bots,
    /// services): with thousands of users it saves the server and the client
    /// a line per join per client.
    pub presence: bool,
    /// The server's password, sent as `/pass <password>` before the
    /// nickname (PROTOCOL.md, "Password"). A server without a password
    /// accepts it and ignores it. A wrong one makes `Conecta_cliente` fail
    /// with 19 (access denied). `None` (the default): no password sent.
    pub password: Option<Password>,
    /// TLS (PROTOCOL.md "TLS"): when set, the connection speaks TLS,
    /// trusting the certificates in it; connect to the server's TLS port
    /// (by convention 18001). The server's certificate must be for the
    /// host name or IP address given to connect (or for the name set with
    /// [`ClientTls::with_server_name`]). A failed handshake or an untrusted
    /// certificate makes `Conecta_cliente` fail with 04. `None` (the
    /// default): plain text.
    pub tls: Option<ClientTls>,
    /// Reconnecting by itself (PROTOCOL.md, "Resuming a connection"): when
    /// the connection drops without a `quit` (or a server's `ERROR 03`),
    /// the client connects again with backoff, takes its nickname, rooms
    /// and missed messages back with its resume token, and tells the
    /// caller with `Event::Reconnecting` and `Event::Reconnected`; only
    /// after `reconnect_attempts` failures does `Event::Disconnected`
    /// come. Only with a server that knows resuming (`HELLO ... resume=1`);
    /// with another, a lost connection ends at once, as before. Default
    /// true. Since: 1.1.
    pub reconnect: bool,
    /// Reconnecting: how many attempts in a row before giving up
    /// (`Event::Disconnected`). Default 10. Since: 1.1.
    pub reconnect_attempts: u32,
    /// Reconnecting: the delay before the first attempt; each further
    /// attempt waits twice as long, up to `reconnect_max_delay`, each
    /// delay multiplied by a random factor between 0.5 and 1 (jitter, so
    /// that the clients of a restarted server do not come back all at
    /// once). Default 200 ms. Since: 1.1.
    pub reconnect_delay: Duration,
    /// Reconnecting: the longest delay between two attempts. Default 5 s.
    /// Since: 1.1.
    pub reconnect_max_delay: Duration,
}

impl Default for ClientConfig {
    fn default() -> ClientConfig {
        ClientConfig {
            connect_timeout: Duration::from_secs(5),
            reply_timeout: Duration::from_secs(10),
            event_queue_capacity: 65536,
            presence: true,
            password: None,
            tls: None,
            reconnect: true,
            reconnect_attempts: 10,
            reconnect_delay: Duration::from_millis(200),
            reconnect_max_delay: Duration::from_secs(5),
        }
    }
}

impl ClientConfig {
    /// Checks the values that cannot work; [`crate::Client::connect_with`]
    /// (and so `papo_client_connect` in C) calls it first, so calling it
    /// yourself is only a way to find out earlier.
    ///
    /// Errors: 17 `InvalidArgument` when `connect_timeout`,
    /// `reply_timeout` or `event_queue_capacity` is 0 (or
    /// `reconnect_attempts` with `reconnect` on), when `reconnect_max_delay`
    /// is below `reconnect_delay`, or when the password
    /// is empty (or only spaces) or holds control characters. The detail
    /// names the field.
    pub fn validate(&self) -> Result<()> {
        let zero = |name: &str| refuse(&format!("ClientConfig::{name}"), "must not be 0");
        if self.connect_timeout.is_zero() {
            return zero("connect_timeout");
        }
        if self.reply_timeout.is_zero() {
            return zero("reply_timeout");
        }
        if self.event_queue_capacity == 0 {
            return zero("event_queue_capacity");
        }
        if self.reconnect && self.reconnect_attempts == 0 {
            return zero("reconnect_attempts");
        }
        if self.reconnect_max_delay < self.reconnect_delay {
            return refuse(
                "ClientConfig::reconnect_max_delay",
                "must not be below reconnect_delay",
            );
        }
        if let Some(p) = &self.password {
            if p.as_str().trim().is_empty() || p.as_str().chars().any(|c| c.is_control()) {
                return refuse(
                    "ClientConfig::password",
                    "must not be empty or hold control characters",
                );
            }
        }
        Ok(())
    }
}
