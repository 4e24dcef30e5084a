//! The chat client: a connection to a papo server with a reader thread and
//! an event queue the caller pulls from.
//!
//! CONTRACT (public API; the implementation behind it is free):

use std::sync::Arc;
use std::time::Duration;

use crate::config::ClientConfig;
use crate::error::{ErrorCode, Result};

/// Something that arrived from the server, queued for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A public message (`:text`) from `from`.
    Public {
        /// Who sent it.
        from: String,
        /// The text.
        text: String,
    },
    /// A private message to this client ("Mensagem recebida de: from").
    Private {
        /// Who sent it.
        from: String,
        /// The text.
        text: String,
    },
    /// Someone registered.
    Joined {
        /// Their nickname.
        nick: String,
    },
    /// Someone left (quit or dropped).
    Left {
        /// Their nickname.
        nick: String,
    },
    /// Someone renamed, perhaps this client itself.
    NickChanged {
        /// The old nickname.
        old: String,
        /// The new nickname.
        new: String,
    },
    /// An error line from the server that answers no request of this
    /// client's API.
    Error {
        /// The code.
        code: ErrorCode,
        /// The server's text.
        text: String,
    },
    /// The connection ended. Always the last event.
    Disconnected {
        /// 03 when the server closed it (shutdown, slow consumer) or it was
        /// lost; `Closed` when this client disconnected itself.
        code: ErrorCode,
        /// A short text.
        reason: String,
    },
}

/// A connected, registered chat client. All methods take `&self` and may be
/// called from several threads at once. Dropping it is the same as
/// [`Client::disconnect`].
pub struct Client {
    _todo: (),
}

impl Client {
    /// Connects to the server at `ip`:`port` and registers `nick`, with the
    /// default [`ClientConfig`]. Returns after the server has accepted the
    /// nickname and sent the list of who is online.
    ///
    /// Errors: 05 `InvalidAddress` if `ip` is not an IP address (empty
    /// means 127.0.0.1); 04 `InvalidServer` if nothing answers there in
    /// time or what answers is not a papo server; 01 `NickInUse`; 06
    /// `InvalidNick` (checked locally, then by the server); 12
    /// `ServerFull`; 03 if the connection is lost while registering.
    pub fn connect(ip: &str, port: u16, nick: &str) -> Result<Client> {
        Client::connect_with(ip, port, nick, ClientConfig::default())
    }

    /// [`Client::connect`] with explicit settings.
    pub fn connect_with(ip: &str, port: u16, nick: &str, config: ClientConfig) -> Result<Client> {
        let _ = (ip, port, nick, config);
        todo!()
    }

    /// This client's current nickname.
    pub fn nick(&self) -> String {
        todo!()
    }

    /// Sends `text` to `to`, or to everyone when `to` is `None` or empty
    /// (seed 000 section 4, `enviar_Msg(Destino, mensagem)`). A private
    /// message waits for the server's answer: `Ok` is "Mensagem enviada".
    /// A public message returns once written to the socket.
    ///
    /// Errors: 02 `NoSuchUser`; 03 `ConnectionAborted` once the connection
    /// is lost; 07 `TooLong` over the server's line limit; 08 `InvalidText`
    /// for control characters; 09 `Empty`; 06 `InvalidNick` for a
    /// destination that cannot be a nickname; 11 `Timeout` if no answer
    /// comes within the reply timeout.
    pub fn send(&self, to: Option<&str>, text: &str) -> Result<()> {
        let _ = (to, text);
        todo!()
    }

    /// The nicknames online, fresh from the server (`/list`), sorted
    /// case-insensitively. Errors: 03, 11.
    pub fn users(&self) -> Result<Vec<String>> {
        todo!()
    }

    /// Changes this client's nickname (`/nick`). Errors: 01 `NickInUse`,
    /// 06 `InvalidNick`, 03, 11.
    pub fn change_nick(&self, new_nick: &str) -> Result<()> {
        let _ = new_nick;
        todo!()
    }

    /// A no-op round trip (`/ping`): when it returns, the server has
    /// processed everything this client sent before. Errors: 03, 11.
    pub fn ping(&self) -> Result<()> {
        todo!()
    }

    /// The next event, waiting up to `timeout`. Errors: 11 `Timeout` when
    /// nothing came in time; 14 `Closed` once the `Disconnected` event has
    /// been taken and nothing more can come.
    pub fn next_event(&self, timeout: Duration) -> Result<Event> {
        let _ = timeout;
        todo!()
    }

    /// Sets (or with `None` removes) a function called each time an event
    /// is queued, from the client's reader thread. It must return quickly
    /// and must not call [`Client::next_event`] itself: it is a wake-up
    /// ("there is something to pull"), as with `mpv_set_wakeup_callback`.
    /// It is never called after [`Client::disconnect`] returns.
    pub fn set_wakeup(&self, wakeup: Option<Arc<dyn Fn() + Send + Sync>>) {
        let _ = wakeup;
        todo!()
    }

    /// True until the connection has ended.
    pub fn is_connected(&self) -> bool {
        todo!()
    }

    /// Leaves the chat: sends `quit`, closes the socket and waits for the
    /// reader thread to end. Others are told this client left. Calling it
    /// again does nothing. Errors: none in practice (a lost connection is
    /// already closed).
    pub fn disconnect(&self) -> Result<()> {
        todo!()
    }
}
