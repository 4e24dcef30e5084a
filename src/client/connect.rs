//! Opening the connection and registering the nickname (PROTOCOL.md,
//! "Registration").

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;

use super::lines::{Incoming, LineReader, ReadEnd};
use super::transport::Transport;
use super::{events_tagged, Event};
use crate::config::ClientConfig;
use crate::error::{Error, ErrorCode, Result};
use crate::net::Host;
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
    /// `Some(recovered)` when a `/resume` took the old connection back
    /// (`RESUMED`), with the next token in `token`; `None` when the
    /// nickname was registered afresh.
    pub(crate) resumed: Option<bool>,
    /// The token `RESUMED` gave.
    pub(crate) token: Option<String>,
    /// The server knows resuming (`HELLO ... resume=1`).
    pub(crate) resumable: bool,
}

/// What a reconnecting client presents (PROTOCOL.md, "Resuming a
/// connection"): its token and the id after which it misses messages.
pub(crate) struct ResumeWith<'a> {
    pub(crate) token: &'a str,
    pub(crate) since: u64,
}

fn invalid_server(detail: String) -> Error {
    Error::new(ErrorCode::InvalidServer, detail)
}

/// Opens a TCP connection to the first of `addrs` that takes it (a host
/// name may have several, say ::1 and 127.0.0.1), each attempt within the
/// time `left` says remains. Error 04 with the first address's reason.
fn open(addrs: &[SocketAddr], left: impl Fn() -> Duration) -> Result<(TcpStream, SocketAddr)> {
    let mut first_error = None;
    for &addr in addrs {
        let time = left();
        if time.is_zero() {
            break;
        }
        match TcpStream::connect_timeout(&addr, time) {
            Ok(stream) => return Ok((stream, addr)),
            Err(e) => {
                let detail = match e.kind() {
                    std::io::ErrorKind::ConnectionRefused => {
                        format!("connection refused by {addr}")
                    }
                    std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
                        format!("no answer from {addr} within {} ms", time.as_millis())
                    }
                    _ => format!("cannot connect to {addr}: {e}"),
                };
                first_error.get_or_insert(Error::io(ErrorCode::InvalidServer, detail, e));
            }
        }
    }
    Err(first_error.unwrap_or_else(|| {
        invalid_server(format!(
            "no time left to connect to {}",
            addrs.first().map_or_else(String::new, ToString::to_string)
        ))
    }))
}

/// The name the server's TLS certificate is checked against by default:
/// the host name given, or else the IP address.
fn tls_name(host: &Host, addr: SocketAddr) -> ServerName<'static> {
    match host {
        Host::Name(name) => {
            let bare = name.strip_suffix('.').unwrap_or(name);
            ServerName::try_from(bare.to_owned()).unwrap_or(ServerName::IpAddress(addr.ip().into()))
        }
        Host::Ip(_) => ServerName::IpAddress(addr.ip().into()),
    }
}

/// Connects and registers: see [`super::Client::connect_with`] for the
/// errors.
pub(crate) fn register(
    ip: &str,
    port: u16,
    nick: &str,
    config: &ClientConfig,
    resume: Option<ResumeWith<'_>>,
) -> Result<Registered> {
    config.validate()?;
    let host = Host::parse(ip)?;
    // The characters are checked before connecting; the length once the
    // server has announced its limit.
    validate_nick(nick, usize::MAX).map_err(|code| {
        Error::new(
            code,
            format!("{nick:?} cannot be a nickname (1 or more characters, no spaces, control, invisible or bidi characters, none of : / \\ * , and not quit; PROTOCOL.md \"Nicknames\")"),
        )
    })?;
    let started = Instant::now();
    // Name resolution, the TCP connection, TLS and registration share
    // `connect_timeout`.
    let deadline = started.checked_add(config.connect_timeout);
    let left = || {
        deadline.map_or(config.connect_timeout, |d| {
            d.saturating_duration_since(Instant::now())
        })
    };
    let addrs = host.addrs(port, config.connect_timeout)?;
    let (stream, addr) = open(&addrs, left)?;
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
            addr,
            tls_name(&host, addr),
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
    let (max_line_bytes, max_nick_chars, labels, binary, tags, resumable) = match first {
        ServerLine::Hello {
            protocol,
            max_line_bytes,
            max_nick_chars,
            labels,
            binary,
            tags,
            resume,
            ..
        } if protocol == PROTOCOL_NAME => (
            max_line_bytes.unwrap_or(DEFAULT_MAX_LINE_BYTES),
            max_nick_chars.unwrap_or(DEFAULT_MAX_NICK_CHARS),
            labels,
            binary,
            tags,
            resume,
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

    // 2. The password, if any (PROTOCOL.md "Password"), then `/binary on`
    //    when the server knows it (`binary=1`; PROTOCOL.md "Binary
    //    capability": this client reads payload frames, so it gets files
    //    and binary messages as frames, not as FILEOFFER/BYTESNOTE lines;
    //    answered `BINARY on`, which the loop below skips), then `/presence
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
    if binary {
        ClientLine::Binary(true).encode(&mut first_lines);
    }
    // `/tags on` when the server knows it (`tags=1`; PROTOCOL.md "Message
    // ids and server time"): every message event then carries the
    // message's id and the server's time. Answered `TAGS on`, skipped
    // below.
    if tags {
        ClientLine::Tags(true).encode(&mut first_lines);
    }
    if !config.presence {
        ClientLine::Presence(false).encode(&mut first_lines);
    }
    // `/resume on` when the client reconnects by itself and the server
    // knows it (`resume=1`; PROTOCOL.md "Resuming a connection"): the server
    // then sends a token after `USERS`, and holds this connection for a
    // while when it drops. A reconnection presents its token instead of the
    // nickname (a refused one is answered `ERROR 24`, then the nickname
    // goes as usual).
    if resumable && config.reconnect {
        ClientLine::ResumeCap(true).encode(&mut first_lines);
    }
    let presenting = resume.as_ref().filter(|_| resumable);
    match presenting {
        Some(r) => ClientLine::Resume {
            nick,
            token: r.token,
            since: Some(r.since),
        }
        .encode(&mut first_lines),
        None => ClientLine::Nickname(nick).encode(&mut first_lines),
    }
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
    let mut resuming = presenting.is_some();
    // Events from lines that came while registering (a `CLUSTER` line may
    // come before `WELCOME`), queued first once the reader thread runs.
    let mut early_events = Vec::new();
    let mut registered_nick = loop {
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
            ServerLine::Resumed {
                nick,
                token,
                recovered,
            } if resuming => {
                return Ok(Registered {
                    stream,
                    reader,
                    nick,
                    max_line_bytes,
                    max_nick_chars,
                    labels,
                    users: Vec::new(),
                    early_events,
                    resumed: Some(recovered),
                    token: Some(token),
                    resumable,
                });
            }
            ServerLine::Error { code: raw, .. }
                if resuming && raw == ErrorCode::ResumeRefused as u32 =>
            {
                // The token is gone (grace period over, a restart): the
                // prompt is still open; register afresh.
                resuming = false;
                let mut again = Vec::new();
                ClientLine::Nickname(nick).encode(&mut again);
                writer.write_all(&again).map_err(|e| {
                    Error::io(
                        ErrorCode::ConnectionAborted,
                        "sending the nickname failed",
                        e,
                    )
                })?;
                continue;
            }
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
                    Some(ErrorCode::NickInUse) => Error::new(
                        ErrorCode::NickInUse,
                        format!("nickname {nick:?} is already in use: {text}"),
                    ),
                    Some(ErrorCode::InvalidNick) => Error::new(
                        ErrorCode::InvalidNick,
                        format!("the server refused the nickname {nick:?}: {text}"),
                    ),
                    Some(ErrorCode::ServerFull) => {
                        Error::new(ErrorCode::ServerFull, format!("{addr} is full: {text}"))
                    }
                    Some(ErrorCode::AccessDenied) => Error::new(
                        ErrorCode::AccessDenied,
                        format!("{addr} refused the password: {text}"),
                    ),
                    Some(code) => Error::new(code, text),
                    None => invalid_server(format!("unexpected answer ERROR {raw:02}: {text}")),
                })
            }
            // The cluster's state: news for the caller.
            line @ ServerLine::Cluster(_) => early_events.extend(events_tagged(line, None)),
            // HELP and the like: nothing to do with registering.
            _ => continue,
        }
    };

    // 4. USERS <n> :<nick> ... (everyone online, this client included);
    //    none with presence off.
    let users = if !config.presence {
        Vec::new()
    } else {
        loop {
            let (line, tag) = match reader.next(deadline) {
                Ok(Incoming::Line { line, tag, .. }) => (line, tag),
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
                ServerLine::Renamed { ref new, .. } => {
                    // Renamed by the server already (a partition healed):
                    // this client is `new` from now on (`reader.rs` does
                    // the same later on).
                    registered_nick = new.clone();
                    early_events.extend(events_tagged(line, tag))
                }
                other => early_events.extend(events_tagged(other, tag)),
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
        resumed: None,
        token: None,
        resumable,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(r: Result<Registered>) -> ErrorCode {
        match r {
            Ok(_) => panic!("registered"),
            Err(e) => e.code(),
        }
    }

    /// The address goes through the one parser (`crate::net`): IP
    /// addresses, with or without brackets, and host names get as far as
    /// connecting (04: nothing listens there); garbage is 05.
    #[test]
    fn addresses() {
        let config = ClientConfig {
            connect_timeout: Duration::from_secs(2),
            ..ClientConfig::default()
        };
        // A port where nothing listens: bound, then closed.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        for ok in ["", "127.0.0.1", "localhost", "::1", "[::1]"] {
            assert_eq!(
                code(register(ok, port, "ana", &config, None)),
                ErrorCode::InvalidServer,
                "{ok}"
            );
        }
        for bad in [
            "abc",
            "999.1.1.1",
            "1.2.3",
            "1.2.3.4:80",
            "não é ip",
            "x.invalid",
        ] {
            assert_eq!(
                code(register(bad, port, "ana", &config, None)),
                ErrorCode::InvalidAddress,
                "{bad}"
            );
        }
    }
}
