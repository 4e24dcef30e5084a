//! The chat server: background I/O threads with event loops (mio), no
//! thread per client.
//!
//! CONTRACT (public API; the implementation behind it is free):

use std::net::SocketAddr;
use std::time::Duration;

use crate::config::ServerConfig;
use crate::error::{ErrorCode, Result};

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
        /// shutdown, I/O error), 07 (endless line), 11 (registration
        /// timeout), 12 (server full).
        code: Option<ErrorCode>,
        /// A short English text: "quit", "closed by peer", "slow consumer", ...
        reason: String,
    },
}

/// A running chat server. All methods take `&self` and may be called from
/// any thread. Dropping it is the same as [`Server::shutdown`].
pub struct Server {
    _todo: (),
}

impl Server {
    /// Starts a server listening on `ip`:`port` (seed 000 server manual,
    /// item 2). `ip` may be IPv4 or IPv6; an empty `ip` means `127.0.0.1`;
    /// port 0 picks any free port (see [`Server::port`]). Returns once the
    /// socket listens; serving happens on background threads.
    ///
    /// Errors: `InvalidAddress` (05) if `ip` is not an IP address or is not
    /// an address of this machine; `Io` if the port is taken or the threads
    /// cannot start; `InvalidArgument` for a config value of 0 where one is
    /// not allowed.
    pub fn start(ip: &str, port: u16, config: ServerConfig) -> Result<Server> {
        let _ = (ip, port, config);
        todo!()
    }

    /// Starts a server on a socket address. Errors as [`Server::start`].
    pub fn bind(addr: SocketAddr, config: ServerConfig) -> Result<Server> {
        let _ = (addr, config);
        todo!()
    }

    /// The address the server listens on (with the real port when started
    /// on port 0).
    pub fn local_addr(&self) -> SocketAddr {
        todo!()
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    /// Active connections, registered or not (seed 004 prints this number).
    pub fn connection_count(&self) -> usize {
        todo!()
    }

    /// Registered users online.
    pub fn user_count(&self) -> usize {
        todo!()
    }

    /// The nicknames online, sorted case-insensitively.
    pub fn users(&self) -> Vec<String> {
        todo!()
    }

    /// The next server event, waiting up to `timeout` for one; `None` if
    /// none came in time or the server has shut down and the queue is empty.
    pub fn next_event(&self, timeout: Duration) -> Option<ServerEvent> {
        let _ = timeout;
        todo!()
    }

    /// Events dropped because the event queue was full.
    pub fn dropped_events(&self) -> u64 {
        todo!()
    }

    /// Stops the server: every client is sent `ERROR 03` and closed, every
    /// I/O thread ends, and the port is released, before this returns.
    /// Calling it again does nothing.
    pub fn shutdown(&self) {
        todo!()
    }
}
