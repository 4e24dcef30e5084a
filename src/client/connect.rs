//! Opening the connection and registering the nickname (PROTOCOL.md,
//! "Registration").

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::lines::{Incoming, LineReader, ReadEnd};
use super::transport::Transport;
use super::{event_of, Event};
use crate::config::ClientConfig;
use crate::error::{Error, ErrorCode, Result};
use crate::protocol::{
    validate_nick, ClientLine, ServerLine, DEFAULT_MAX_LINE_BYTES, DEFAULT_MAX_NICK_CHARS,
    PROTOCOL_NAME,
};

/// A registered connection, ready for the reader thread.
pub(crate) struct Registered {
    pub(crate) stream: Arc<Transport>,
    pub(crate) reader: LineReader,
    pub(crate) nick: String,
    pub(crate) max_line_bytes: usize,
    pub(crate) max_nick_chars: usize,
    /// The server echoes request labels (`HELLO ... labels=1`).
    pub(crate) labels: bool,
    pub(crate) users: Vec<String>,
    /// Lines that came between `WELCOME` and `USERS` and are events.
    pub(crate) early_events: Vec<Event>,
}

/// The server's address: `ip` (v4 or v6, optionally in brackets; empty means
/// 127.0.0.1, seed 000) and `port`. Error 05 when `ip` is not an IP address.
pub(crate) fn server_addr(ip: &str, port: u16) -> Result<SocketAddr> {
    let text = ip.trim();
    if text.is_empty() {
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    }
    let bare = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    bare.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, port))
        .map_err(|_| {
            Error::new(
                ErrorCode::InvalidAddress,
                format!("{ip:?} is not an IPv4 or IPv6 address"),
            )
        })
}

fn invalid_server(detail: String) -> Error {
    Error::new(ErrorCode::InvalidServer, detail)
}

fn check_config(config: &ClientConfig) -> Result<()> {
    let bad = |what: &str| {
        Err(Error::new(
            ErrorCode::InvalidArgument,
            format!("ClientConfig::{what} must not be 0"),
        ))
    };
    if config.connect_timeout.is_zero() {
        return bad("connect_timeout");
    }
    if config.reply_timeout.is_zero() {
        return bad("reply_timeout");
    }
    if config.event_queue_capacity == 0 {
        return bad("event_queue_capacity");
    }
    if let Some(p) = &config.password {
        if p.as_str().trim().is_empty() || p.as_str().chars().any(|c| c.is_control()) {
            return Err(Error::new(
                ErrorCode::InvalidArgument,
                "ClientConfig::password must not be empty or hold control characters",
            ));
        }
    }
    Ok(())
}

/// Connects and registers: see [`super::Client::connect_with`] for the
/// errors.
pub(crate) fn register(
    ip: &str,
    port: u16,
    nick: &str,
    config: &ClientConfig,
) -> Result<Registered> {
    check_config(config)?;
    let addr = server_addr(ip, port)?;
    // The characters are checked before connecting; the length once the
    // server has announced its limit.
    validate_nick(nick, usize::MAX).map_err(|code| {
        Error::new(
            code,
            format!("{nick:?} cannot be a nickname (1 or more characters, no spaces, control characters or : / \\ * , and not quit)"),
        )
    })?;
    let started = Instant::now();
    let deadline = started.checked_add(config.connect_timeout);
    let stream = TcpStream::connect_timeout(&addr, config.connect_timeout).map_err(|e| {
        Error::io(
            ErrorCode::InvalidServer,
            format!("cannot connect to {addr}"),
            e,
        )
    })?;
    let io_err = |e| {
        Error::io(
            ErrorCode::InvalidServer,
            format!("socket setup for {addr}"),
            e,
        )
    };
    stream.set_nodelay(true).map_err(io_err)?;
    // TLS, when configured, before anything else (PROTOCOL.md "TLS").
    let transport = match &config.tls {
        None => Transport::plain(stream),
        Some(tls) => tls.connect(
            stream,
            addr.ip(),
            deadline.unwrap_or_else(|| started + Duration::from_secs(3600)),
        )?,
    };
    let stream = Arc::new(transport);
    let mut reader = LineReader::new(Arc::clone(&stream));

    // 1. HELLO papo/1 line=<bytes> nick=<chars> :...
    let not_papo = |what: &str| invalid_server(format!("{addr} is not a papo server: {what}"));
    let first = match reader.next(deadline) {
        Ok(Incoming::Line { line, .. }) => line,
        Ok(Incoming::Unreadable(shown)) => {
            return Err(not_papo(&format!("its first line is {shown:?}")))
        }
        Ok(Incoming::TooLong) | Err(ReadEnd::Overflow) => {
            return Err(not_papo("its first line is too long"))
        }
        Ok(Incoming::Frame { .. }) => return Err(not_papo("its first line is a payload frame")),
        Err(ReadEnd::TimedOut) => {
            return Err(not_papo(&format!(
                "no HELLO line within {} ms",
                config.connect_timeout.as_millis()
            )))
        }
        Err(ReadEnd::Eof) => return Err(not_papo("it closed the connection without HELLO")),
        Err(ReadEnd::Io(e)) => {
            return Err(Error::io(
                ErrorCode::InvalidServer,
                format!("{addr} is not a papo server: reading HELLO failed"),
                e,
            ))
        }
    };
    let (max_line_bytes, max_nick_chars, labels) = match first {
        ServerLine::Hello {
            protocol,
            max_line_bytes,
            max_nick_chars,
            labels,
            ..
        } if protocol == PROTOCOL_NAME => (
            max_line_bytes.unwrap_or(DEFAULT_MAX_LINE_BYTES),
            max_nick_chars.unwrap_or(DEFAULT_MAX_NICK_CHARS),
            labels,
        ),
        ServerLine::Hello { protocol, .. } => {
            return Err(not_papo(&format!(
                "it speaks {protocol:?}, not {PROTOCOL_NAME}"
            )))
        }
        ServerLine::Error { code, text, .. } if code == ErrorCode::ServerFull as u32 => {
            return Err(Error::new(ErrorCode::ServerFull, text))
        }
        other => {
            let mut shown = Vec::new();
            other.encode(&mut shown);
            let shown: String = String::from_utf8_lossy(&shown)
                .trim_end()
                .chars()
                .take(80)
                .collect();
            return Err(not_papo(&format!("its first line is {shown:?}")));
        }
    };
    validate_nick(nick, max_nick_chars).map_err(|code| {
        Error::new(
            code,
            format!("{nick:?} is longer than the server's limit of {max_nick_chars} characters"),
        )
    })?;

    // 2. The password, if any (PROTOCOL.md "Password"), then `/presence
    //    off` when asked (PROTOCOL.md "Presence": answered `PRESENCE off`
    //    before WELCOME, and then no USERS list), then our nickname, in one
    //    write.
    let write_timeout = deadline
        .map(|d| d.saturating_duration_since(Instant::now()))
        .unwrap_or(config.connect_timeout)
        .max(Duration::from_millis(1));
    let mut writer = &*stream;
    stream
        .set_write_timeout(Some(write_timeout))
        .map_err(io_err)?;
    let mut first_lines = Vec::new();
    if let Some(p) = &config.password {
        ClientLine::Pass(p.as_str().trim()).encode(&mut first_lines);
    }
    if !config.presence {
        ClientLine::Presence(false).encode(&mut first_lines);
    }
    ClientLine::Nickname(nick).encode(&mut first_lines);
    writer.write_all(&first_lines).map_err(|e| {
        Error::io(
            ErrorCode::ConnectionAborted,
            "sending the nickname failed",
            e,
        )
    })?;

    // 3. WELCOME <nick> :..., or ERROR 01 / 06 / 12 / ...
    let lost = |what: &str| {
        Error::new(
            ErrorCode::ConnectionAborted,
            format!("the server closed the connection {what}"),
        )
    };
    let slow = |what: &str| {
        invalid_server(format!(
            "no {what} from {addr} within {} ms",
            config.connect_timeout.as_millis()
        ))
    };
    let registered_nick = loop {
        let line = match reader.next(deadline) {
            Ok(Incoming::Line { line, .. }) => line,
            Ok(_) => continue,
            Err(ReadEnd::TimedOut) => return Err(slow("WELCOME")),
            Err(ReadEnd::Io(e)) => {
                return Err(Error::io(
                    ErrorCode::ConnectionAborted,
                    "the connection was lost while registering",
                    e,
                ))
            }
            Err(_) => return Err(lost("while registering")),
        };
        let code = line.error_code();
        match line {
            ServerLine::Welcome { nick } => break nick,
            ServerLine::Error {
                code: raw, text, ..
            } if !config.presence && raw == ErrorCode::UnknownCommand as u32 => {
                return Err(invalid_server(format!(
                    "{addr} does not know /presence (answered ERROR 10: {text})"
                )))
            }
            ServerLine::Error {
                code: raw, text, ..
            } => {
                return Err(match code {
                    Some(code) => Error::new(code, text),
                    None => invalid_server(format!("unexpected answer ERROR {raw:02}: {text}")),
                })
            }
            // HELP and the like: nothing to do with registering.
            _ => continue,
        }
    };

    // 4. USERS <n> :<nick> ... (everyone online, this client included);
    //    none with presence off.
    let mut early_events = Vec::new();
    let users = if !config.presence {
        Vec::new()
    } else {
        loop {
            let line = match reader.next(deadline) {
                Ok(Incoming::Line { line, .. }) => line,
                Ok(_) => continue,
                Err(ReadEnd::TimedOut) => return Err(slow("USERS")),
                Err(ReadEnd::Io(e)) => {
                    return Err(Error::io(
                        ErrorCode::ConnectionAborted,
                        "the connection was lost while registering",
                        e,
                    ))
                }
                Err(_) => return Err(lost("while registering")),
            };
            match line {
                ServerLine::Users(nicks) => break nicks,
                ServerLine::Error { code, text, .. }
                    if code == ErrorCode::ConnectionAborted as u32 =>
                {
                    return Err(Error::new(ErrorCode::ConnectionAborted, text))
                }
                other => early_events.extend(event_of(other)),
            }
        }
    };

    Ok(Registered {
        stream,
        reader,
        nick: registered_nick,
        max_line_bytes,
        max_nick_chars,
        labels,
        users,
        early_events,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(
            server_addr("", 7).unwrap(),
            "127.0.0.1:7".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(
            server_addr("::1", 7).unwrap(),
            "[::1]:7".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(
            server_addr("[::1]", 7).unwrap(),
            "[::1]:7".parse::<SocketAddr>().unwrap()
        );
        for bad in ["abc", "999.1.1.1", "1.2.3", "localhost", "1.2.3.4:80"] {
            assert_eq!(
                server_addr(bad, 7).unwrap_err().code(),
                ErrorCode::InvalidAddress,
                "{bad}"
            );
        }
    }
}
