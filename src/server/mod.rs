//! The chat server: background I/O threads with event loops (mio), no
//! thread per client.
//!
//! # Inside
//!
//! - The chat's rules live in [`session`]: one [`session::Session`] per
//!   connection, a state machine with no I/O that takes framed lines and
//!   timer ticks and acts through a [`session::Host`]. Everything else in
//!   this module is I/O around it.
//! - One acceptor thread (`acceptor.rs`) accepts connections, applies
//!   `max_clients` and `max_clients_per_ip`, and hands each socket to one of
//!   `ServerConfig::io_threads` I/O threads, round-robin.
//! - Each I/O thread (`worker/`) runs one `mio::Poll` loop over the
//!   connections it owns (`conn.rs`: socket, framing, bounded queue). It
//!   reads in 64 KiB chunks, cuts lines with
//!   [`crate::protocol::LineBuffer`] and hands them to the sessions through
//!   `dispatch.rs` (the worker's [`session::Host`]): replies go straight
//!   into the sender's queue, what other clients must get is batched per
//!   thread (`outbox.rs`) and appended to their thread's inbox
//!   (`inbox.rs`), waking each thread once per burst. A public message is
//!   encoded once and its bytes shared among threads.
//! - The nickname registry ([`session::Directory`], case-insensitive)
//!   sits behind a read-write lock in `shared.rs`; of two simultaneous
//!   registrations of one nickname exactly one wins.
//! - Every client has a bounded outbound queue (`max_queue_bytes`); a
//!   client that does not read is dropped as a slow consumer (`ERROR 03`)
//!   and nobody waits for it. A broadcast is encoded once and queued to
//!   its receivers as references to that one copy, so queue memory grows
//!   with distinct messages; the whole server's queued bytes are bounded
//!   by `max_total_queue_bytes` (past it the biggest holders are dropped
//!   first).
//! - Files and binary messages (PROTOCOL.md "Files and binary payloads"):
//!   the sender's session forwards a file in pieces of at most 64 KiB as
//!   it arrives, never holding it whole; the I/O thread stops reading the
//!   sender while a receiver lags by more than half its queue limit, at most 512 KiB (flow
//!   control per transfer), and drops a receiver that takes nothing for
//!   `file_stall_timeout` as a slow consumer.
//!
//! # Ordering guarantees
//!
//! - The lines one client sends reach each receiver in the order it sent
//!   them, whatever threads they cross.
//! - A client's replies (`SENT`, `ERROR`, `USERS`, `PONG`, `HELP`, its own
//!   `NICK`) come in the order of its lines.
//! - `SENT` means the private message was accepted for delivery to a user
//!   online at that moment (queued to the receiver's I/O thread); a
//!   receiver that leaves in the same instant may miss it.
//! - Causality through `/ping`: whatever another client did before this
//!   client sent `/ping` (as this client could have learnt from a reply to
//!   the other client: `WELCOME`, `SENT`, `PONG`, ...) has been delivered to
//!   this client before its `PONG`. So `/ping` is a barrier a test or a
//!   program can wait on.
//! - A new user's `USERS` list and the `JOIN`/`LEFT`/`NICK` lines it gets
//!   afterwards fit together: every change after the list, none before it.

mod acceptor;
mod cluster;
mod conn;
mod dispatch;
mod history_db;
mod http;
mod inbox;
mod node;
mod outbox;
mod reconfigure;
pub mod session;
mod shared;
mod tls;
mod worker;
mod ws;

#[cfg(feature = "test-support")]
pub use crate::clock::Clock;
pub use crate::tls::ServerTls;
pub use http::DEFAULT_HTTP_PORT;
pub use reconfigure::Reconfigured;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use arc_swap::ArcSwap;
use mio::{Poll, Waker};
use parking_lot::Mutex;

use crate::config::ServerConfig;
use crate::error::{Error, ErrorCode, Result};
use crate::net::Host;
use inbox::{Cmd, Inbox, Quiesce};
use session::{History, Rules};
use shared::{EventQueue, Shared};

/// Something that happened on the server, for its owner to show (seed 000,
/// server manual item 3: "será mostrado o endereço IP e a porta do cliente").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEvent {
    /// A TCP connection was accepted from `addr`.
    Connected {
        /// A number unique to this connection for the server's lifetime.
        id: u64,
        /// The client's IP address and port.
        addr: SocketAddr,
    },
    /// The connection `id` registered the nickname `nick`.
    Registered {
        /// The connection.
        id: u64,
        /// The client's IP address and port.
        addr: SocketAddr,
        /// The nickname.
        nick: String,
    },
    /// The client `id` renamed from `old` to `new`.
    NickChanged {
        /// The connection.
        id: u64,
        /// The client's IP address and port.
        addr: SocketAddr,
        /// The old nickname.
        old: String,
        /// The new nickname.
        new: String,
    },
    /// The connection `id` ended.
    Disconnected {
        /// The connection.
        id: u64,
        /// The client's IP address and port.
        addr: SocketAddr,
        /// Its nickname, if it had registered.
        nick: Option<String>,
        /// `None` when the client left by itself (quit or closed its
        /// socket); otherwise why the server closed it: 03 (slow consumer,
        /// flooding, shutdown, I/O error), 07 (endless line), 11
        /// (registration timeout, keepalive timeout), 12 (server full), or
        /// the code of the last refused nickname after
        /// `ServerConfig::max_nick_attempts` (06, 01, 07, 08), 10 (an HTTP
        /// request), 08 (a TLS handshake on the plain port).
        code: Option<ErrorCode>,
        /// A short English text: "quit", "closed by peer", "slow consumer",
        /// "flooding", "registration timeout", "keepalive timeout", "too
        /// many nickname attempts", "HTTP request", "TLS on the plain
        /// port", ...
        reason: String,
    },
    /// History writes to the database (`ServerConfig::history_path`)
    /// paused (`paused`: the database could not be opened or written, or
    /// fell behind; chat goes on and history is kept in memory) or resumed
    /// (`!paused`). Since: 1.1.
    History {
        /// True when writes paused, false when they resumed.
        paused: bool,
        /// What happened, in English, with the database's path and error.
        message: String,
    },
    /// This node of a cluster (`ServerConfig::cluster`) was cut off from
    /// Redis, so from the other nodes (`partitioned`; its users were told
    /// `CLUSTER partitioned`), or is back (`!partitioned`, told `CLUSTER
    /// healed`), or something between the nodes went wrong (private
    /// messages dropped after the lease: `message` says). Since: 1.2.
    Cluster {
        /// True while the node is cut off.
        partitioned: bool,
        /// What happened, in English, with Redis's error.
        message: String,
    },
}

/// The system's UTC time in milliseconds since 1970-01-01: the time a
/// server stamps on messages (PROTOCOL.md, "Message ids and server time");
/// 0 if the system clock is before 1970.
pub fn unix_time_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Counters of a running server, for monitoring and benchmarks
/// ([`Server::stats`]). Every value counts since the server started, except
/// `connections` and `users`, which are the current numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Active connections, registered or not (as [`Server::connection_count`]).
    pub connections: usize,
    /// Registered users online (as [`Server::user_count`]).
    pub users: usize,
    /// TCP connections accepted, including refused ones.
    pub accepted: u64,
    /// Connections refused with `ERROR 12` (over `max_clients` or
    /// `max_clients_per_ip`, or with no file descriptor left for them).
    pub rejected: u64,
    /// Clients dropped as slow consumers (`ERROR 03`).
    pub slow_consumers: u64,
    /// Whole lines received from clients.
    pub lines_received: u64,
    /// Bytes received from clients.
    pub bytes_received: u64,
    /// Bytes written to clients.
    pub bytes_sent: u64,
    /// Server events dropped because the event queue was full (as
    /// [`Server::dropped_events`]).
    pub dropped_events: u64,
    /// Bytes queued for clients now, counted as for
    /// `ServerConfig::max_total_queue_bytes`: a broadcast queued to many
    /// clients counts once. Owned bytes (private lines, replies) are
    /// counted when their connection is next written, so the figure can lag
    /// by one turn of an I/O thread.
    pub queued_bytes: usize,
    /// Chat messages accepted from clients: public, private and room text
    /// messages (binary messages and files are counted apart).
    pub messages_received: u64,
    /// Lines of chat messages (`PUBLIC`, `PRIVATE`, `ROOM`) queued to their
    /// receivers: a public message to 10 others is 10 deliveries.
    pub deliveries: u64,
    /// Files offered and accepted (`FILEOK`), whether they then completed
    /// or not.
    pub files: u64,
    /// HTTP requests answered on the HTTP port (WebSocket upgrades
    /// included); 0 without `ServerConfig::http_port`.
    pub http_requests: u64,
    /// WebSocket connections (browsers) handed to the chat.
    pub websocket_upgrades: u64,
    /// Connections ended, per reason, every reason listed (0 included), in
    /// the order of [`DisconnectReason::ALL`].
    pub disconnects: Vec<(DisconnectReason, u64)>,
    /// Commands waiting in each I/O thread's inbox now (messages from
    /// other threads not yet handled): one entry per I/O thread. A number
    /// that stays high says that thread cannot keep up.
    pub inbox_depths: Vec<usize>,
    /// Rooms that exist now (PROTOCOL.md, "Rooms": a room lives while it
    /// has members). Since: 1.1.
    pub rooms: usize,
}

impl ServerStats {
    /// The count of disconnects for one reason.
    pub fn disconnects_for(&self, reason: DisconnectReason) -> u64 {
        self.disconnects
            .iter()
            .find(|(r, _)| *r == reason)
            .map_or(0, |(_, n)| *n)
    }
}

/// Why a connection ended, as counted in [`ServerStats::disconnects`] and
/// shown as the `reason` label of `papo_disconnects_total` on `/metrics`.
/// Taken from each [`ServerEvent::Disconnected`]'s `code` and `reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The client left: `quit`, or it closed its socket (no code).
    Client,
    /// Dropped as a slow consumer (03).
    SlowConsumer,
    /// Dropped for flooding (03).
    Flooding,
    /// The server shut down (03).
    Shutdown,
    /// Registration or keepalive timeout (11).
    Timeout,
    /// An endless line or an over-long WebSocket message (07).
    TooLong,
    /// Server full (12).
    ServerFull,
    /// Refused at the prompt: too many refused nicknames, an HTTP request
    /// or TLS on the plain port, a wrong password (01, 06, 08, 09, 10, 19).
    Refused,
    /// Anything else: I/O errors, a reset (03 with another reason).
    Error,
}

impl DisconnectReason {
    /// Every reason, in a fixed order.
    pub const ALL: [DisconnectReason; 9] = [
        DisconnectReason::Client,
        DisconnectReason::SlowConsumer,
        DisconnectReason::Flooding,
        DisconnectReason::Shutdown,
        DisconnectReason::Timeout,
        DisconnectReason::TooLong,
        DisconnectReason::ServerFull,
        DisconnectReason::Refused,
        DisconnectReason::Error,
    ];

    /// The label: `client`, `slow_consumer`, `flooding`, `shutdown`,
    /// `timeout`, `too_long`, `server_full`, `refused`, `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            DisconnectReason::Client => "client",
            DisconnectReason::SlowConsumer => "slow_consumer",
            DisconnectReason::Flooding => "flooding",
            DisconnectReason::Shutdown => "shutdown",
            DisconnectReason::Timeout => "timeout",
            DisconnectReason::TooLong => "too_long",
            DisconnectReason::ServerFull => "server_full",
            DisconnectReason::Refused => "refused",
            DisconnectReason::Error => "error",
        }
    }

    /// The reason of a `Disconnected` event.
    pub(crate) fn of(code: Option<ErrorCode>, reason: &str) -> DisconnectReason {
        match code {
            None => DisconnectReason::Client,
            Some(ErrorCode::ConnectionAborted) => {
                if reason.starts_with("slow consumer") {
                    DisconnectReason::SlowConsumer
                } else if reason.starts_with("flooding") {
                    DisconnectReason::Flooding
                } else if reason.contains("shutting down") {
                    DisconnectReason::Shutdown
                } else {
                    DisconnectReason::Error
                }
            }
            Some(ErrorCode::Timeout) => DisconnectReason::Timeout,
            Some(ErrorCode::TooLong) => DisconnectReason::TooLong,
            Some(ErrorCode::ServerFull) => DisconnectReason::ServerFull,
            Some(
                ErrorCode::NickInUse
                | ErrorCode::InvalidNick
                | ErrorCode::InvalidText
                | ErrorCode::Empty
                | ErrorCode::UnknownCommand
                | ErrorCode::AccessDenied,
            ) => DisconnectReason::Refused,
            Some(_) => DisconnectReason::Error,
        }
    }
}

/// The threads of a running server, taken by [`Server::shutdown`].
struct Control {
    acceptor: Option<(JoinHandle<()>, Waker, Arc<AtomicBool>)>,
    /// The HTTP thread, with `ServerConfig::http_port`.
    http: Option<(JoinHandle<()>, Waker, Arc<AtomicBool>)>,
    workers: Vec<JoinHandle<()>>,
}

/// A running chat server. All methods take `&self` and may be called from
/// any thread. Dropping it is the same as [`Server::shutdown`].
pub struct Server {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    tls_addr: Option<SocketAddr>,
    http_addr: Option<SocketAddr>,
    control: Mutex<Option<Control>>,
    /// The configuration in force: the one it started with, changed by
    /// each [`Server::reconfigure`].
    config: Mutex<ServerConfig>,
    /// Kept for as long as the server lives: a manual clock calls it.
    _clock_wake: Arc<dyn Fn() + Send + Sync>,
    /// The history database's writer thread (`history_path`), stopped by
    /// [`Server::shutdown`] once the I/O threads have ended, so that every
    /// message they recorded is written before it returns.
    history: Mutex<Option<history_db::Writer>>,
}

// `Server` is shared between threads (and handed to C as an opaque handle).
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Server>();
};

/// Most I/O threads a server starts, whatever the config asks.
const MAX_IO_THREADS: usize = 64;
/// Listen backlog asked for (the kernel caps it at `somaxconn`), so that a
/// burst of thousands of connections is not refused before it is accepted.
const LISTEN_BACKLOG: i32 = 4096;

fn io_err(code: ErrorCode, what: &str, e: std::io::Error) -> Error {
    Error::io(code, format!("{what}: {e}"), e)
}

/// Raises this process's soft limit on open files (`RLIMIT_NOFILE`) to its
/// hard limit, so that thousands of clients fit (one descriptor each). Only
/// with `ServerConfig::raise_nofile_limit`: the limit is the process's.
/// Best effort: a failure leaves the limit as it was.
fn raise_nofile_limit() {
    #[cfg(unix)]
    // SAFETY: getrlimit/setrlimit only read and write the struct passed to
    // them, which lives on this stack frame.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            let wanted = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &wanted) != 0 {
                // macOS refuses more than OPEN_MAX even when the hard limit
                // says "unlimited"; try that instead.
                #[cfg(target_os = "macos")]
                {
                    let mac = libc::rlimit {
                        rlim_cur: lim.rlim_max.min(libc::OPEN_MAX as libc::rlim_t),
                        rlim_max: lim.rlim_max,
                    };
                    let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &mac);
                }
            }
        }
    }
}

/// How long [`Server::start`] waits for a host name to resolve.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

impl Server {
    /// Starts a server listening on `ip`:`port` (seed 000 server manual,
    /// item 2). `ip` is an IPv4 address, an IPv6 address with or without
    /// brackets, or a host name such as `localhost` (resolved by the
    /// system, within 5 s; the server listens on the first of its addresses
    /// where it can); an empty `ip` means `127.0.0.1`; port 0
    /// picks any free port (see [`Server::port`]). Returns once the socket
    /// listens; serving happens on background threads.
    ///
    /// Errors: 17 `InvalidArgument` when [`ServerConfig::validate`] refuses
    /// `config` (checked first); 05 `InvalidAddress` if `ip` is neither an
    /// IP address nor a host name (spaces, a port inside it, `999.1.1.1`:
    /// nothing is looked up then), if the name does not resolve within 5 s,
    /// or if the address is not one of this machine; 15 `Io` if the port
    /// (or, with `config.tls`, the TLS port) is taken or the threads cannot
    /// start.
    ///
    /// With `config.tls`, the server also listens on `config.tls_port` (same
    /// IP address) for TLS connections, which join the same chat
    /// (PROTOCOL.md "TLS"); see [`Server::tls_port`].
    ///
    /// Threads: one acceptor thread plus `config.io_threads` I/O threads
    /// (0 means one per CPU core, at most 4; more than 64 are capped at 64),
    /// each running one event loop; no thread per client.
    ///
    /// `max_queue_bytes` should leave room for the longest reply (a
    /// `USERS` line grows with the number of users), or ordinary replies
    /// make clients slow consumers. `event_queue_capacity` 0 is allowed:
    /// every server event is then dropped and counted.
    ///
    /// Process-wide side effects happen only when the config asks for
    /// them: `config.raise_nofile_limit` raises the process's soft limit on
    /// open files to its hard limit here (never lowered again), and
    /// `config.trim_heap` lets the I/O threads hand freed heap memory back
    /// to the operating system (`malloc_trim`). Both are off by default.
    ///
    /// File descriptors: each connection takes one, and the server keeps
    /// one spare (on `/dev/null`) besides its listening sockets and
    /// pollers. When the process has none left for a new connection
    /// (`EMFILE`/`ENFILE`), the server gives up the spare for a moment to
    /// accept it, answers `HELLO` and `ERROR 12` (server full), closes it
    /// and takes the spare back, as nginx and libuv do; so a client past
    /// the process's limit is refused like one past `max_clients` rather
    /// than left waiting.
    pub fn start(ip: &str, port: u16, config: ServerConfig) -> Result<Server> {
        config.validate()?;
        let addrs = Host::parse(ip)?.addrs(port, RESOLVE_TIMEOUT)?;
        // A name may have several addresses (say ::1 and 127.0.0.1); the
        // first where a socket can listen wins, else the first one's error.
        let mut first_error = None;
        for addr in addrs {
            match Server::bind(addr, config.clone()) {
                Ok(server) => return Ok(server),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        Err(first_error.unwrap_or_else(|| {
            Error::new(ErrorCode::InvalidAddress, format!("{ip:?} has no address"))
        }))
    }

    /// Starts a server on a socket address. Errors as [`Server::start`].
    pub fn bind(addr: SocketAddr, config: ServerConfig) -> Result<Server> {
        config.validate()?;
        if config.raise_nofile_limit {
            raise_nofile_limit();
        }
        let listener = mio::net::TcpListener::bind(addr).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AddrNotAvailable {
                io_err(
                    ErrorCode::InvalidAddress,
                    &format!("{} is not an address of this machine", addr.ip()),
                    e,
                )
            } else {
                io_err(ErrorCode::Io, &format!("cannot listen on {addr}"), e)
            }
        })?;
        #[cfg(unix)]
        {
            // mio listens with a backlog of 128; calling listen() again on
            // a listening socket only changes its backlog (Linux, BSD).
            use std::os::fd::AsRawFd;
            // SAFETY: the descriptor belongs to `listener`, alive here.
            unsafe {
                libc::listen(listener.as_raw_fd(), LISTEN_BACKLOG);
            }
        }
        let local_addr = listener
            .local_addr()
            .map_err(|e| io_err(ErrorCode::Io, "cannot read the listening address", e))?;
        // The TLS port (PROTOCOL.md "TLS"), on the same IP address.
        let tls_listener = match &config.tls {
            None => None,
            Some(_) => {
                let tls_at = SocketAddr::new(addr.ip(), config.tls_port);
                let l = mio::net::TcpListener::bind(tls_at).map_err(|e| {
                    io_err(
                        ErrorCode::Io,
                        &format!("cannot listen for TLS on {tls_at}"),
                        e,
                    )
                })?;
                Some(l)
            }
        };
        // The HTTP port (PROTOCOL.md "HTTP"), on the same IP address.
        let http_listener = match config.http_port {
            None => None,
            Some(port) => {
                let at = SocketAddr::new(addr.ip(), port);
                let l = mio::net::TcpListener::bind(at).map_err(|e| {
                    io_err(ErrorCode::Io, &format!("cannot listen for HTTP on {at}"), e)
                })?;
                Some(l)
            }
        };
        let http_addr =
            match &http_listener {
                None => None,
                Some(l) => Some(l.local_addr().map_err(|e| {
                    io_err(ErrorCode::Io, "cannot read the HTTP listening address", e)
                })?),
            };
        let tls_addr =
            match &tls_listener {
                None => None,
                Some(l) => Some(l.local_addr().map_err(|e| {
                    io_err(ErrorCode::Io, "cannot read the TLS listening address", e)
                })?),
            };

        let threads = match config.io_threads {
            0 => std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
                .min(4),
            n => n.min(MAX_IO_THREADS),
        };
        let mut polls = Vec::with_capacity(threads);
        let mut inboxes = Vec::with_capacity(threads);
        for _ in 0..threads {
            let poll =
                Poll::new().map_err(|e| io_err(ErrorCode::Io, "cannot create a poller", e))?;
            let waker = Waker::new(poll.registry(), worker::WAKER)
                .map_err(|e| io_err(ErrorCode::Io, "cannot create a waker", e))?;
            polls.push(poll);
            inboxes.push(Inbox::new(waker));
        }
        #[cfg(feature = "test-support")]
        let clock = config.clock.clone();
        #[cfg(not(feature = "test-support"))]
        let clock = crate::clock::Clock::system();
        let rules = Rules::new(&config, clock.now());
        let (history, history_writer, history_error) = match &config.history_path {
            Some(path) => {
                let (h, w, e) =
                    history_db::open(path, config.history_limit, config.history_max_age);
                (h, Some(w), e)
            }
            None => (
                History::new(config.history_limit, config.history_max_age, 0, None),
                None,
                None,
            ),
        };
        let cluster = match &config.cluster {
            Some(url) => Some(cluster::Cluster::new(url, config.cluster_lease).map_err(|code| {
                Error::new(code, "cannot use ServerConfig::cluster (no Redis URL, or no random bytes for the node id)")
            })?),
            None => None,
        };
        let shared = Arc::new(Shared {
            hello: rules.hello().into_boxed_slice(),
            rules: ArcSwap::from_pointee(rules),
            max_clients: AtomicUsize::new(config.max_clients),
            max_clients_per_ip: AtomicUsize::new(config.max_clients_per_ip),
            clock,
            directory: Default::default(),
            change_seq: Default::default(),
            connections: Default::default(),
            users: Default::default(),
            per_ip: Default::default(),
            events: EventQueue::new(config.event_queue_capacity),
            inboxes,
            accepted: Default::default(),
            http_requests: Default::default(),
            websocket_upgrades: Default::default(),
            rejected: Default::default(),
            conn_ids: Default::default(),
            transfers: Default::default(),
            meter: Default::default(),
            history,
            rooms_seq: Default::default(),
            tokens: Default::default(),
            cluster,
            cfg: config,
        });
        if let Some(w) = &history_writer {
            w.attach(&shared);
        }
        if let Some(message) = history_error {
            shared.events.push(ServerEvent::History {
                paused: true,
                message,
            });
        }
        // A manual clock (tests) wakes the I/O threads when it moves.
        let weak = Arc::downgrade(&shared);
        let clock_wake: Arc<dyn Fn() + Send + Sync> = Arc::new(move || {
            if let Some(shared) = weak.upgrade() {
                for inbox in &shared.inboxes {
                    inbox.notify();
                }
            }
        });
        shared.clock.watch(&clock_wake);
        let server = Server {
            shared: Arc::clone(&shared),
            local_addr,
            tls_addr,
            http_addr,
            config: Mutex::new(shared.cfg.clone()),
            _clock_wake: clock_wake,
            history: Mutex::new(history_writer),
            control: Mutex::new(Some(Control {
                acceptor: None,
                http: None,
                workers: Vec::with_capacity(threads),
            })),
        };
        // From here on, an error drops `server`, which stops what started.
        for (idx, poll) in polls.into_iter().enumerate() {
            let w = worker::Worker::new(idx, Arc::clone(&shared), poll);
            let handle = std::thread::Builder::new()
                .name(format!("papo-io-{idx}"))
                .spawn(move || w.run())
                .map_err(|e| io_err(ErrorCode::Io, "cannot start an I/O thread", e))?;
            if let Some(ctl) = server.control.lock().as_mut() {
                ctl.workers.push(handle);
            }
        }
        node::start(&shared)
            .map_err(|e| io_err(ErrorCode::Io, "cannot start the cluster threads", e))?;
        let mut listener = listener;
        let apoll = Poll::new().map_err(|e| io_err(ErrorCode::Io, "cannot create a poller", e))?;
        apoll
            .registry()
            .register(&mut listener, acceptor::LISTENER, mio::Interest::READABLE)
            .map_err(|e| io_err(ErrorCode::Io, "cannot watch the listening socket", e))?;
        let mut tls_listener = tls_listener;
        if let Some(l) = tls_listener.as_mut() {
            apoll
                .registry()
                .register(l, acceptor::TLS_LISTENER, mio::Interest::READABLE)
                .map_err(|e| io_err(ErrorCode::Io, "cannot watch the TLS listening socket", e))?;
        }
        let awaker = Waker::new(apoll.registry(), acceptor::ACCEPT_WAKER)
            .map_err(|e| io_err(ErrorCode::Io, "cannot create a waker", e))?;
        let stop = Arc::new(AtomicBool::new(false));
        let astop = Arc::clone(&stop);
        let ashared = Arc::clone(&shared);
        let handle = std::thread::Builder::new()
            .name("papo-accept".into())
            .spawn(move || acceptor::run(apoll, listener, tls_listener, ashared, astop))
            .map_err(|e| io_err(ErrorCode::Io, "cannot start the acceptor thread", e))?;
        if let Some(ctl) = server.control.lock().as_mut() {
            ctl.acceptor = Some((handle, awaker, stop));
        }
        if let Some(mut l) = http_listener {
            let hpoll =
                Poll::new().map_err(|e| io_err(ErrorCode::Io, "cannot create a poller", e))?;
            hpoll
                .registry()
                .register(&mut l, http::HTTP_LISTENER, mio::Interest::READABLE)
                .map_err(|e| io_err(ErrorCode::Io, "cannot watch the HTTP listening socket", e))?;
            let hwaker = Waker::new(hpoll.registry(), http::HTTP_WAKER)
                .map_err(|e| io_err(ErrorCode::Io, "cannot create a waker", e))?;
            let hstop = Arc::new(AtomicBool::new(false));
            let (s2, h2) = (Arc::clone(&hstop), Arc::clone(&shared));
            let handle = std::thread::Builder::new()
                .name("papo-http".into())
                .spawn(move || http::run(hpoll, l, h2, s2))
                .map_err(|e| io_err(ErrorCode::Io, "cannot start the HTTP thread", e))?;
            if let Some(ctl) = server.control.lock().as_mut() {
                ctl.http = Some((handle, hwaker, hstop));
            }
        }
        Ok(server)
    }

    /// The address the server listens on (with the real port when started
    /// on port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    /// The TLS port (with the real port when `ServerConfig::tls_port` was
    /// 0), or `None` when the server has no TLS (PROTOCOL.md "TLS").
    pub fn tls_port(&self) -> Option<u16> {
        self.tls_addr.map(|a| a.port())
    }

    /// The HTTP port (with the real port when `ServerConfig::http_port` was
    /// `Some(0)`), or `None` when the server has none (PROTOCOL.md "HTTP").
    pub fn http_port(&self) -> Option<u16> {
        self.http_addr.map(|a| a.port())
    }

    /// Active connections, registered or not (seed 004 prints this number).
    pub fn connection_count(&self) -> usize {
        self.shared.connections.load(Ordering::Acquire)
    }

    /// Registered users online.
    pub fn user_count(&self) -> usize {
        self.shared.users.load(Ordering::Acquire)
    }

    /// The nicknames online, sorted case-insensitively.
    pub fn users(&self) -> Vec<String> {
        self.shared
            .directory
            .read()
            .nicks()
            .map(str::to_owned)
            .collect()
    }

    /// The next server event, waiting up to `timeout` for one; `None` if
    /// none came in time, if [`Server::wakeup`] interrupted the wait, or if
    /// the server has shut down and the queue is empty.
    /// `Duration::MAX` waits without limit.
    pub fn next_event(&self, timeout: Duration) -> Option<ServerEvent> {
        self.shared.events.next(timeout)
    }

    /// Makes a [`Server::next_event`] wait in progress on another thread
    /// return at once with `None` (unless an event is queued, which it then
    /// returns); when no wait is in progress, the next `next_event` call
    /// returns at once instead. The wake-up is sticky until one
    /// `next_event` call returns, whatever it returns, and several
    /// wake-ups before that count as one: libmpv's `mpv_wakeup`.
    ///
    /// It does not make [`Server::event_fd`] readable. Never fails, never
    /// waits; safe from any thread, also after [`Server::shutdown`].
    pub fn wakeup(&self) {
        self.shared.events.wakeup();
    }

    /// A file descriptor that is readable exactly while at least one event
    /// is queued for [`Server::next_event`], for `poll`/`epoll`, GLib, Qt's
    /// `QSocketNotifier`, Tk's `createfilehandler` or asyncio's
    /// `loop.add_reader`. Level-triggered: it stays readable until the
    /// queue is drained. Pull the events with
    /// `next_event(Duration::ZERO)`; never read from, write to or close the
    /// descriptor.
    ///
    /// An `eventfd` on Linux, the read end of a pipe on other Unix systems;
    /// made on the first call (later calls return the same one),
    /// non-blocking and close-on-exec, kept in step with the queue under
    /// the queue's lock, and closed when this `Server` is dropped (not by
    /// [`Server::shutdown`]). Events dropped because the queue was full
    /// ([`Server::dropped_events`]) never make it readable.
    ///
    /// Thread safety: any thread may call it and poll the descriptor.
    ///
    /// Errors: 15 `Io` when the descriptor cannot be made (the process has
    /// no descriptor left: `EMFILE`).
    #[cfg(unix)]
    pub fn event_fd(&self) -> Result<std::os::fd::BorrowedFd<'_>> {
        let fd = self.shared.events.fd().map_err(|e| {
            Error::io(
                ErrorCode::Io,
                format!("cannot make the event descriptor: {e}"),
                e,
            )
        })?;
        // SAFETY: the descriptor stays open until `close_fd`, which only
        // `Drop for Server` calls, so not while this borrow of `self` lives.
        Ok(unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) })
    }

    /// Events dropped because the event queue was full.
    pub fn dropped_events(&self) -> u64 {
        self.shared.events.dropped()
    }

    /// The server's counters (see [`ServerStats`]). Cheap: it reads a few
    /// atomic counters per I/O thread.
    pub fn stats(&self) -> ServerStats {
        self.shared.stats()
    }

    /// Stops the server: every client is sent `ERROR 03` and closed, every
    /// I/O thread ends, and the port is released, before this returns.
    /// Calling it again does nothing.
    ///
    /// In detail: the acceptor stops first (the port is free once it has
    /// ended); then every I/O thread stops reading from its clients and
    /// hands over what it has collected, so that every private message
    /// already answered `SENT` is delivered (nothing acknowledged is lost;
    /// lines not handled yet are not handled, nor acknowledged); then every
    /// connection, registered or not, is sent `ERROR 03 * :Cancelamento de
    /// conexão forçado ...: server shutting down` behind what is queued for
    /// it, and closed, each getting a `Disconnected` event with code 03 (no
    /// `LEFT` lines: everyone is leaving). Each connection is closed once
    /// its queue is written and its peer has closed its side too (as
    /// `papo::Client` does on 03), so that no reset destroys the last
    /// lines; a client that does not read or does not close is not waited
    /// for more than about half a second. A client that took bytes so
    /// slowly in that time that what its socket still holds would need
    /// more than 10 s (one that stopped reading) is reset instead of
    /// closed, so that it sees the end at once when it reads again rather
    /// than minutes later. With `history_path` set, the history still
    /// queued for the database is written before this returns. Afterwards
    /// [`Server::next_event`] returns the events still queued, then `None`
    /// at once. A second (or concurrent) call waits for the first to finish
    /// and then does nothing.
    pub fn shutdown(&self) {
        let mut guard = self.control.lock();
        let Some(ctl) = guard.take() else {
            return;
        };
        // No new connection from either port from here on.
        for (handle, waker, stop) in [ctl.acceptor, ctl.http].into_iter().flatten() {
            stop.store(true, Ordering::Release);
            let _ = waker.wake();
            let _ = handle.join();
        }
        // The other nodes forget this one's users at once (`BYE`) and its
        // nicknames are free.
        if let Some(c) = &self.shared.cluster {
            c.stop();
        }
        // Two steps, so that nothing acknowledged is lost: first every I/O
        // thread stops reading and hands over what it collected (a `SENT`
        // private message is then in its receiver's inbox), then everyone
        // is sent `ERROR 03` behind it.
        let alive: Vec<&Inbox> = self
            .shared
            .inboxes
            .iter()
            .filter(|i| i.is_alive())
            .collect();
        let quiesce = Arc::new(Quiesce::new(alive.len()));
        for inbox in &alive {
            inbox.push(Cmd::Quiesce(Arc::clone(&quiesce)));
            inbox.notify();
        }
        quiesce.wait(Duration::from_secs(5), || {
            alive.iter().all(|i| i.is_alive())
        });
        for inbox in &self.shared.inboxes {
            inbox.push(Cmd::Shutdown);
            inbox.notify();
        }
        for handle in ctl.workers {
            let _ = handle.join();
        }
        // Nothing records history any more: the writer writes what is
        // queued and ends (a server started next on the same database
        // reads all of it).
        drop(self.history.lock().take());
        self.shared.events.close();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown();
        // The descriptor goes with the handle (see `event_fd`).
        #[cfg(unix)]
        self.shared.events.close_fd();
    }
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("connections", &self.connection_count())
            .field("users", &self.user_count())
            .finish()
    }
}
