//! # papo: a TCP chat server and client with a C ABI
//!
//! papo implements the chat of the IFSC document "Protocolo para bate-papo"
//! (the seed documents, see `PROTOCOL.md`): a server that routes public
//! (`:text`) and private (`Nick:text`) messages between clients with unique
//! nicknames, tells everyone who joins, leaves or renames, and keeps the
//! seed's error codes 01-05 ([`ErrorCode`]).
//!
//! - [`Server`] runs on background I/O threads (one event loop each, no
//!   thread per client) and never blocks its caller.
//! - [`Client`] connects, registers a nickname, sends messages and queues
//!   what arrives as [`Event`]s for the caller to pull.
//! - [`protocol`] is the wire format, pure and shared by both.
//! - The C ABI (`include/papo.h`) wraps these, with the seed's five function
//!   names: `Conecta_Servidor`, `Conecta_cliente`, `enviar_Msg`,
//!   `Desconecta_Servidor`, `Desconecta_cliente`.
//!
//! ```no_run
//! use papo::{Client, Event, Server, ServerConfig};
//! use std::time::Duration;
//!
//! let server = Server::start("127.0.0.1", 0, ServerConfig::default())?;
//! let ana = Client::connect("127.0.0.1", server.port(), "ana")?;
//! let bob = Client::connect("127.0.0.1", server.port(), "bob")?;
//! ana.send(Some("bob"), "oi bob")?; // private: returns once the server says SENT
//! match bob.next_event(Duration::from_secs(2))? {
//!     Event::Private { from, text, .. } => println!("Mensagem recebida de: {from}: {text}"),
//!     other => println!("{other:?}"),
//! }
//! # Ok::<(), papo::Error>(())
//! ```

#![warn(missing_docs)]

pub mod client;
mod clock;
pub mod config;
pub mod discover;
pub mod error;
pub mod ffi;
mod net;
pub mod protocol;
#[cfg(unix)]
mod readiness;
pub mod server;
mod tls;

pub use client::{Client, Event, Reply, ReplyError};
pub use config::{ClientConfig, ServerConfig};
pub use discover::{discover, DiscoveredServer};
pub use error::{Error, ErrorCode, Result};
pub use server::{Server, ServerEvent};
