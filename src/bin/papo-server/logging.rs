//! Logs through `tracing`: the subscriber (text or JSON lines on standard
//! error, which systemd's journal collects) and what each server event
//! looks like in the log.
//!
//! The level: `--log-level`, else `[log] level` in the file, else
//! `RUST_LOG`, else `info`. A reload (SIGHUP) can change the file's level
//! while the server runs; the format is fixed at start.

use std::net::SocketAddr;

use papo::ServerEvent;
use tracing::{info, warn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, reload, EnvFilter, Registry};

use crate::args::LogFormat;
use crate::config::ConfigError;

/// Changes the level of the running subscriber.
pub struct Logging {
    handle: reload::Handle<EnvFilter, Registry>,
}

/// The filter for `level` (flag or file), else `RUST_LOG`, else `info`.
fn filter(level: Option<&str>) -> Result<EnvFilter, ConfigError> {
    match level {
        Some(l) => EnvFilter::try_new(l)
            .map_err(|e| ConfigError(format!("invalid value for log.level (--log-level): {e}"))),
        None => Ok(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))),
    }
}

/// Installs the subscriber. Errors: the level is not a valid filter.
pub fn init(level: Option<&str>, format: LogFormat) -> Result<Logging, ConfigError> {
    let (filter, handle) = reload::Layer::new(filter(level)?);
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let registry = tracing_subscriber::registry().with(filter);
    let done = match format {
        LogFormat::Text => registry
            .with(fmt::layer().with_writer(std::io::stderr).with_ansi(ansi))
            .try_init(),
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
    done.map_err(|e| ConfigError(format!("cannot set up logging: {e}")))?;
    Ok(Logging { handle })
}

impl Logging {
    /// Applies a new level (a reload). Errors: not a valid filter (the
    /// old level stays).
    pub fn set_level(&self, level: Option<&str>) -> Result<(), ConfigError> {
        let f = filter(level)?;
        self.handle
            .reload(f)
            .map_err(|e| ConfigError(format!("cannot change the log level: {e}")))
    }
}

/// One server event as one log line (seed 000, server manual item 3: the
/// client's IP address and port are shown).
pub fn event(ev: &ServerEvent) {
    match ev {
        ServerEvent::Connected { id, addr } => {
            info!(conn = id, peer = %addr, "connected");
        }
        ServerEvent::Registered { id, addr, nick } => {
            info!(conn = id, peer = %addr, nick = %nick, "registered");
        }
        ServerEvent::NickChanged { id, addr, old, new } => {
            info!(conn = id, peer = %addr, old = %old, new = %new, "nick changed");
        }
        ServerEvent::Disconnected {
            id,
            addr,
            nick,
            code,
            reason,
        } => disconnected(*id, addr, nick.as_deref(), *code, reason),
        // History writes to the database paused or resumed:
        // chat goes on either way, so a pause is a warning.
        ServerEvent::History {
            paused: true,
            message,
        } => warn!(message = %message, "history writes paused"),
        ServerEvent::History {
            paused: false,
            message,
        } => info!(message = %message, "history writes resumed"),
        ServerEvent::Cluster {
            partitioned: true,
            message,
        } => warn!(message = %message, "cut off from the cluster"),
        ServerEvent::Cluster {
            partitioned: false,
            message,
        } => info!(message = %message, "cluster"),
    }
}

fn disconnected(
    id: u64,
    addr: &SocketAddr,
    nick: Option<&str>,
    code: Option<papo::ErrorCode>,
    reason: &str,
) {
    let nick = nick.unwrap_or("-");
    match code {
        // The client left by itself.
        None => info!(conn = id, peer = %addr, nick, reason, "left"),
        Some(code) => {
            let code = format!("{:02}", code as i32);
            // Everyone gets 03 at shutdown: that is no one's fault.
            if reason.contains("shutting down") {
                info!(conn = id, peer = %addr, nick, code, reason, "closed")
            } else {
                warn!(conn = id, peer = %addr, nick, code, reason, "dropped")
            }
        }
    }
}
