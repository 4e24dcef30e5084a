//! The papo wire protocol: pure parsing and encoding, no I/O.
//!
//! Line-based UTF-8 text over TCP, one line per message, ended by LF (a CR
//! before the LF is dropped). A person can speak it with `nc`, using the
//! vocabulary of seed 000 section 2: `:text` to everyone, `Nick:text` to
//! one person, `quit` to leave. Every line the server sends starts with an
//! upper-case keyword, then space-separated arguments, then optionally
//! ` :` and a free text that runs to the end of the line (the IRC layout,
//! RFC 1459 section 2.3.1). `PROTOCOL.md` is the full description; this
//! module is its executable form, shared by the server and the client.

mod framing;
pub mod fuzzing;
pub mod transfer;

pub use framing::{Frame, LineBuffer, LineEvent, Next};
pub use transfer::{
    numbered_file_name, parse_transfer_command, safe_file_name, server_payload_size,
    TransferCommand,
};

use crate::error::ErrorCode;

/// The default TCP port (seed 004: "PORTA: 18000").
pub const DEFAULT_PORT: u16 = 18000;

/// The TLS port by convention (PROTOCOL.md "TLS"): the plain port plus one.
pub const DEFAULT_TLS_PORT: u16 = 18001;

/// The protocol name and version announced in the `HELLO` line.
pub const PROTOCOL_NAME: &str = "papo/1";

/// Default maximum length of one line, in bytes, without its LF.
pub const DEFAULT_MAX_LINE_BYTES: usize = 4096;

/// Default maximum length of a nickname, in characters (Unicode scalar values).
pub const DEFAULT_MAX_NICK_CHARS: usize = 32;

/// Words that can never be nicknames (compared case-insensitively): the
/// seed's leave commands, so that `quit:hi` can never be mistaken.
pub const RESERVED_NICKS: [&str; 2] = ["quit", "{quit}"];

/// Characters a nickname may not contain, besides whitespace and control
/// characters. `:` separates a private message's destination from its text;
/// `/` starts commands; `*` stands for "no one" in server lines; `,` and `\`
/// are kept free for future lists and escapes.
pub const FORBIDDEN_NICK_CHARS: [char; 5] = [':', '/', '\\', '*', ','];

/// A line sent by a client after it has registered, as the server reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command<'a> {
    /// `:text`: a public message to everyone else online (seed 000).
    Public(&'a str),
    /// `Nick:text`: a private message to `to` (seed 000).
    Private {
        /// The destination nickname, with surrounding spaces removed.
        to: &'a str,
        /// The message text, verbatim.
        text: &'a str,
    },
    /// `quit`, `{quit}` or `/quit`: leave (seed 000, seed 002).
    Quit,
    /// `/list`: send the list of who is online again (seed 002).
    List,
    /// `/nick New`: change nickname (seed 002).
    Nick(&'a str),
    /// `/ping [token]`: a no-op round trip; the server answers `PONG [token]`.
    Ping(Option<&'a str>),
    /// `/help`: the server sends `HELP` lines describing the commands.
    Help,
    /// `/presence on` (true) or `/presence off` (false): whether the server
    /// sends this client `JOIN`, `LEFT` and `NICK` lines about other users
    /// (PROTOCOL.md, "Presence"; also accepted at the nickname prompt).
    Presence(bool),
    /// `/pong [token]`: the answer to the server's keepalive `PING`; no
    /// reply (any line answers a `PING`; this one says nothing else).
    Pong,
    /// An empty (or all-blank) line: ignored, so that pressing Enter in
    /// `nc` does nothing.
    Nothing,
}

/// Reads one client line (without its line ending) once the client has
/// registered. Errors: `UnknownCommand` for a line that is neither `:text`,
/// `Nick:text` nor a known `/command`; `Empty` for `:` or `Nick:` with no
/// text, or `/nick` with no name; `InvalidText` for control characters;
/// `InvalidNick` for a `Nick:` part that cannot be a nickname.
pub fn parse_command(line: &str) -> Result<Command<'_>, ErrorCode> {
    let trimmed = line.trim();
    if trimmed.is_empty() {
        return Ok(Command::Nothing);
    }
    if is_quit_word(trimmed) {
        return Ok(Command::Quit);
    }
    if let Some(rest) = trimmed.strip_prefix('/') {
        let (name, arg) = match rest.split_once(char::is_whitespace) {
            Some((n, a)) => (n, a.trim()),
            None => (rest, ""),
        };
        return match name.to_ascii_lowercase().as_str() {
            "presence" => parse_presence_arg(arg).map(Command::Presence),
            "quit" => Ok(Command::Quit),
            "list" => Ok(Command::List),
            "help" => Ok(Command::Help),
            "pong" => Ok(Command::Pong),
            "nick" if arg.is_empty() => Err(ErrorCode::Empty),
            "nick" => Ok(Command::Nick(arg)),
            "ping" if arg.is_empty() => Ok(Command::Ping(None)),
            "ping" => {
                validate_text(arg)?;
                Ok(Command::Ping(Some(arg)))
            }
            _ => Err(ErrorCode::UnknownCommand),
        };
    }
    let Some((to, text)) = line.split_once(':') else {
        return Err(ErrorCode::UnknownCommand);
    };
    if text.is_empty() {
        return Err(ErrorCode::Empty);
    }
    validate_text(text)?;
    let to = to.trim();
    if to.is_empty() {
        return Ok(Command::Public(text));
    }
    if to.chars().any(|c| c.is_whitespace()) {
        // "hello there: x" is prose, not "Nick:text".
        return Err(ErrorCode::UnknownCommand);
    }
    Ok(Command::Private { to, text })
}

fn parse_presence_arg(arg: &str) -> Result<bool, ErrorCode> {
    if arg.eq_ignore_ascii_case("on") {
        Ok(true)
    } else if arg.eq_ignore_ascii_case("off") {
        Ok(false)
    } else {
        Err(ErrorCode::UnknownCommand)
    }
}

/// Reads a `/presence on|off` line (PROTOCOL.md, "Presence"), as the
/// server does at the nickname prompt: `None` when the line is not a
/// `/presence` command, `Some(Ok(on))` for `on`/`off` (any case), and
/// `Some(Err(UnknownCommand))` for any other argument.
pub fn parse_presence(line: &str) -> Option<Result<bool, ErrorCode>> {
    let rest = line.trim().strip_prefix('/')?;
    let (name, arg) = match rest.split_once(char::is_whitespace) {
        Some((n, a)) => (n, a.trim()),
        None => (rest, ""),
    };
    if !name.eq_ignore_ascii_case("presence") {
        return None;
    }
    Some(parse_presence_arg(arg))
}

/// True for the seed's leave words: `quit`, `{quit}` (seed 000) and `/quit`
/// (seed 002), compared case-insensitively.
pub fn is_quit_word(s: &str) -> bool {
    let s = s.trim();
    s.eq_ignore_ascii_case("quit")
        || s.eq_ignore_ascii_case("{quit}")
        || s.eq_ignore_ascii_case("/quit")
}

/// Checks a nickname: 1 to `max_chars` characters, none of them whitespace,
/// control or one of [`FORBIDDEN_NICK_CHARS`], and not a reserved word
/// ([`RESERVED_NICKS`]). Every failure is `InvalidNick` (code 06).
pub fn validate_nick(nick: &str, max_chars: usize) -> Result<(), ErrorCode> {
    if nick.is_empty() {
        return Err(ErrorCode::InvalidNick);
    }
    if nick.chars().count() > max_chars {
        return Err(ErrorCode::InvalidNick);
    }
    if nick
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || FORBIDDEN_NICK_CHARS.contains(&c))
    {
        return Err(ErrorCode::InvalidNick);
    }
    let key = nick_key(nick);
    if RESERVED_NICKS.iter().any(|r| *r == key) {
        return Err(ErrorCode::InvalidNick);
    }
    Ok(())
}

/// The key under which a nickname is unique: its Unicode lower case, so that
/// `Ana` and `ana` are the same person (error 01).
pub fn nick_key(nick: &str) -> String {
    nick.to_lowercase()
}

/// Checks message text: no control characters except TAB (so that no CR,
/// NUL or ESC can make a line look as if it came from someone else).
/// Returns `InvalidText`.
pub fn validate_text(text: &str) -> Result<(), ErrorCode> {
    // Fast path (every message passes here): one branch-free pass over the
    // bytes, which the compiler vectorises. For ASCII text a byte is a
    // character, and the ASCII control characters are 0x00-0x1F and 0x7F.
    // Text with any non-ASCII byte takes the per-character check, which
    // also catches the C1 controls U+0080-U+009F.
    let (mut control, mut non_ascii) = (false, false);
    for &b in text.as_bytes() {
        control |= (b < 0x20 && b != b'\t') | (b == 0x7f);
        non_ascii |= b >= 0x80;
    }
    if non_ascii {
        control = text.chars().any(|c| c.is_control() && c != '\t');
    }
    if control {
        return Err(ErrorCode::InvalidText);
    }
    Ok(())
}

/// Removes one trailing CR (so that `nc -C` and telnet's CRLF work).
pub fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// A line sent by the server, as the client reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerLine<'a> {
    /// `HELLO papo/1 line=<bytes> nick=<chars> :<greeting>`: the first line
    /// on every connection; it asks for a nickname (seed 000 server, item 3).
    Hello {
        /// The protocol token, `papo/1`.
        protocol: &'a str,
        /// The server's maximum line length in bytes, if announced.
        max_line_bytes: Option<usize>,
        /// The server's maximum nickname length in characters, if announced.
        max_nick_chars: Option<usize>,
    },
    /// `WELCOME <nick> :<text>`: the nickname was accepted.
    Welcome {
        /// The registered nickname.
        nick: &'a str,
    },
    /// `USERS <count> :<nick> <nick> ...`: everyone online, sorted
    /// case-insensitively (seed 000 client, item 3).
    Users(Vec<&'a str>),
    /// `PUBLIC <from> :<text>`: a public message.
    Public {
        /// Who sent it.
        from: &'a str,
        /// The text.
        text: &'a str,
    },
    /// `PRIVATE <from> :<text>`: a private message ("Mensagem recebida de").
    Private {
        /// Who sent it.
        from: &'a str,
        /// The text.
        text: &'a str,
    },
    /// `SENT <to> :Mensagem enviada`: a private message was delivered.
    Sent {
        /// The destination it was delivered to.
        to: &'a str,
    },
    /// `JOIN <nick> :<text>`: someone registered.
    Join {
        /// Who joined.
        nick: &'a str,
    },
    /// `LEFT <nick> :<text>`: someone left (quit or dropped).
    Left {
        /// Who left.
        nick: &'a str,
    },
    /// `NICK <old> <new> :<text>`: someone (maybe the receiver) renamed.
    Nick {
        /// The old nickname.
        old: &'a str,
        /// The new nickname.
        new: &'a str,
    },
    /// `PONG [token]`: the answer to `/ping [token]`.
    Pong(Option<&'a str>),
    /// `PING :<token>`: the server's keepalive probe; the client answers
    /// with any line, by convention `/pong <token>`.
    Ping(Option<&'a str>),
    /// `PASS :<text>`: the password sent with `/pass` was accepted (or the
    /// server wants none); the nickname comes next.
    PassAccepted,
    /// `HELP :<text>`: one line of help, answering `/help`.
    Help(&'a str),
    /// `PRESENCE on|off :<text>`: the answer to `/presence on|off` (true:
    /// on); PROTOCOL.md, "Presence".
    Presence(bool),
    /// `FILEOK <id> :<text>`: the server accepted this client's `/file`;
    /// `id` numbers the transfer in `/chunk`, `/fileend`, `/fileabort`.
    FileOk {
        /// The transfer's number, unique on the server.
        id: u64,
    },
    /// `FILEACK <id> <bytes>`: the server has taken and forwarded `bytes`
    /// bytes of this client's file `id` so far (sender's progress).
    FileAck {
        /// The transfer's number.
        id: u64,
        /// Bytes forwarded so far.
        bytes: u64,
    },
    /// `FILEDONE <id> :<text>`: every byte of this client's file `id` was
    /// forwarded (the answer to `/fileend`).
    FileDone {
        /// The transfer's number.
        id: u64,
    },
    /// `FILESTOP <id> :<reason>`: the server stopped this client's file
    /// `id` (receiver gone, more bytes than announced, cancelled ...).
    FileStop {
        /// The transfer's number.
        id: u64,
        /// Why.
        reason: &'a str,
    },
    /// `FILE <from> <id> <size> [private] :<name>`: `from` is sending a
    /// file of `size` bytes to everyone, or to this client alone when
    /// `private`; its bytes come in `CHUNK <id>` frames.
    File {
        /// The sender's nickname when the transfer started.
        from: &'a str,
        /// The transfer's number.
        id: u64,
        /// The announced size in bytes.
        size: u64,
        /// Sent to this client alone.
        private: bool,
        /// The name as the sender announced it (unsafe: see
        /// [`safe_file_name`]).
        name: &'a str,
    },
    /// `CHUNK <id> <n>`, followed by `n` bytes of file `id` and one LF.
    Chunk {
        /// The transfer's number.
        id: u64,
        /// Payload bytes that follow.
        size: u64,
    },
    /// `FILEEND <id>`: file `id` is complete.
    FileEnd {
        /// The transfer's number.
        id: u64,
    },
    /// `FILEFAIL <id> :<reason>`: file `id` will not be completed.
    FileFail {
        /// The transfer's number.
        id: u64,
        /// Why (sender left, cancelled, ...).
        reason: &'a str,
    },
    /// `BYTES <from> <n> [private]`, followed by `n` bytes and one LF: a
    /// binary message.
    Bytes {
        /// Who sent it.
        from: &'a str,
        /// Payload bytes that follow.
        size: u64,
        /// Sent to this client alone.
        private: bool,
    },
    /// `ERROR <code> <subject> :<text>`: a numbered error. `subject` is the
    /// nickname concerned (for 01, 02, 06) or `*`.
    Error {
        /// The code; unknown numbers are kept as `None` with the raw number
        /// in `raw_code`.
        code: Option<ErrorCode>,
        /// The number as sent.
        raw_code: u32,
        /// The nickname concerned, or `*`.
        subject: &'a str,
        /// The human text.
        text: &'a str,
    },
}

/// Why a server line could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineParseError(pub String);

fn split_trailing(line: &str) -> (&str, Option<&str>) {
    match line.find(" :") {
        Some(i) => (&line[..i], Some(&line[i + 2..])),
        None => (line, None),
    }
}

/// Reads one server line (without its line ending).
pub fn parse_server_line(line: &str) -> Result<ServerLine<'_>, LineParseError> {
    let (head, trailing) = split_trailing(line);
    let mut words = head.split(' ').filter(|w| !w.is_empty());
    let keyword = words
        .next()
        .ok_or_else(|| LineParseError("empty line".into()))?;
    let bad = || LineParseError(format!("malformed {keyword} line: {line:?}"));
    let number = |w: &str| transfer::parse_number(w).ok_or_else(bad);
    let mut arg = || words.next().ok_or_else(bad);
    Ok(match keyword {
        "HELLO" => {
            let protocol = arg()?;
            let mut max_line_bytes = None;
            let mut max_nick_chars = None;
            for w in head.split(' ').skip(2) {
                if let Some(v) = w.strip_prefix("line=") {
                    max_line_bytes = v.parse().ok();
                } else if let Some(v) = w.strip_prefix("nick=") {
                    max_nick_chars = v.parse().ok();
                }
            }
            ServerLine::Hello {
                protocol,
                max_line_bytes,
                max_nick_chars,
            }
        }
        "WELCOME" => ServerLine::Welcome { nick: arg()? },
        "USERS" => {
            let count: usize = arg()?.parse().map_err(|_| bad())?;
            let nicks: Vec<&str> = trailing
                .unwrap_or("")
                .split(' ')
                .filter(|w| !w.is_empty())
                .collect();
            if nicks.len() != count {
                return Err(bad());
            }
            ServerLine::Users(nicks)
        }
        "PUBLIC" => ServerLine::Public {
            from: arg()?,
            text: trailing.ok_or_else(bad)?,
        },
        "PRIVATE" => ServerLine::Private {
            from: arg()?,
            text: trailing.ok_or_else(bad)?,
        },
        "SENT" => ServerLine::Sent { to: arg()? },
        "JOIN" => ServerLine::Join { nick: arg()? },
        "LEFT" => ServerLine::Left { nick: arg()? },
        "NICK" => {
            let old = arg()?;
            let new = arg()?;
            ServerLine::Nick { old, new }
        }
        "PONG" => ServerLine::Pong(trailing.or_else(|| words.next())),
        "PING" => ServerLine::Ping(trailing.or_else(|| words.next())),
        "PASS" => ServerLine::PassAccepted,
        "HELP" => ServerLine::Help(trailing.unwrap_or("")),
        "PRESENCE" => match arg()? {
            "on" => ServerLine::Presence(true),
            "off" => ServerLine::Presence(false),
            _ => return Err(bad()),
        },
        "ERROR" => {
            let raw = arg()?;
            let raw_code: u32 = raw.parse().map_err(|_| bad())?;
            let subject = words.next().unwrap_or("*");
            ServerLine::Error {
                code: i32::try_from(raw_code).ok().and_then(ErrorCode::from_i32),
                raw_code,
                subject,
                text: trailing.unwrap_or(""),
            }
        }
        "FILEOK" => ServerLine::FileOk {
            id: number(arg()?)?,
        },
        "FILEACK" => {
            let id = number(arg()?)?;
            ServerLine::FileAck {
                id,
                bytes: number(arg()?)?,
            }
        }
        "FILEDONE" => ServerLine::FileDone {
            id: number(arg()?)?,
        },
        "FILESTOP" => ServerLine::FileStop {
            id: number(arg()?)?,
            reason: trailing.unwrap_or(""),
        },
        "FILE" => {
            let from = arg()?;
            let id = number(arg()?)?;
            let size = number(arg()?)?;
            let private = words.next() == Some("private");
            ServerLine::File {
                from,
                id,
                size,
                private,
                name: trailing.ok_or_else(bad)?,
            }
        }
        "CHUNK" => {
            let id = number(arg()?)?;
            ServerLine::Chunk {
                id,
                size: number(arg()?)?,
            }
        }
        "FILEEND" => ServerLine::FileEnd {
            id: number(arg()?)?,
        },
        "FILEFAIL" => ServerLine::FileFail {
            id: number(arg()?)?,
            reason: trailing.unwrap_or(""),
        },
        "BYTES" => {
            let from = arg()?;
            let size = number(arg()?)?;
            ServerLine::Bytes {
                from,
                size,
                private: words.next() == Some("private"),
            }
        }
        _ => return Err(LineParseError(format!("unknown keyword in {line:?}"))),
    })
}

/// Encoders for the lines the server sends. Each appends one whole line,
/// LF included, to `out`, so that a broadcast is encoded once and its bytes
/// copied or shared among the receivers.
pub mod encode {
    use super::*;

    fn push(out: &mut Vec<u8>, parts: &[&str]) {
        for p in parts {
            out.extend_from_slice(p.as_bytes());
        }
        out.push(b'\n');
    }

    /// The limits a server announces in its `HELLO` line, so that clients
    /// can check what they send before sending it.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct HelloLimits {
        /// Longest client line, in bytes (`line=`).
        pub max_line_bytes: usize,
        /// Longest nickname, in characters (`nick=`).
        pub max_nick_chars: usize,
        /// Largest binary message, in bytes (`bytes=`).
        pub max_payload_bytes: usize,
        /// Largest file, in bytes (`file=`).
        pub max_file_bytes: u64,
        /// The server wants `/pass <password>` before the nickname
        /// (`pass=required`, PROTOCOL.md "Password").
        pub password_required: bool,
    }

    /// `HELLO papo/1 line=<bytes> nick=<chars> bytes=<max_payload_bytes>
    /// file=<max_file_bytes> [pass=required] :<greeting>`: the first line of
    /// every connection (PROTOCOL.md "Registration"; seed 000 server manual
    /// item 3: the server asks for an identification).
    pub fn hello(out: &mut Vec<u8>, limits: &HelloLimits) {
        let (pass, greeting) = if limits.password_required {
            (
                " pass=required",
                " :Bem-vindo ao papo! Digite /pass <senha>, depois seu apelido \
                 (type /pass <password>, then your nickname):",
            )
        } else {
            (
                "",
                " :Bem-vindo ao papo! Digite seu apelido (type your nickname):",
            )
        };
        push(
            out,
            &[
                "HELLO ",
                PROTOCOL_NAME,
                " line=",
                &limits.max_line_bytes.to_string(),
                " nick=",
                &limits.max_nick_chars.to_string(),
                " bytes=",
                &limits.max_payload_bytes.to_string(),
                " file=",
                &limits.max_file_bytes.to_string(),
                pass,
                greeting,
            ],
        );
    }

    /// `PASS :...`: the password was accepted.
    pub fn pass_accepted(out: &mut Vec<u8>) {
        push(
            out,
            &["PASS :Senha aceita; digite seu apelido (password accepted; type your nickname)"],
        );
    }

    /// `WELCOME <nick> :...`.
    pub fn welcome(out: &mut Vec<u8>, nick: &str) {
        push(
            out,
            &[
                "WELCOME ",
                nick,
                " :Bem-vindo, ",
                nick,
                "! :texto para todos, Apelido:texto para um, /help, quit para sair",
            ],
        );
    }

    /// `USERS <count> :<nick> <nick> ...`.
    pub fn users<S: AsRef<str>>(out: &mut Vec<u8>, nicks: &[S]) {
        out.extend_from_slice(b"USERS ");
        out.extend_from_slice(nicks.len().to_string().as_bytes());
        out.extend_from_slice(b" :");
        for (i, n) in nicks.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            out.extend_from_slice(n.as_ref().as_bytes());
        }
        out.push(b'\n');
    }

    /// `PUBLIC <from> :<text>`.
    pub fn public(out: &mut Vec<u8>, from: &str, text: &str) {
        push(out, &["PUBLIC ", from, " :", text]);
    }

    /// `PRIVATE <from> :<text>`.
    pub fn private(out: &mut Vec<u8>, from: &str, text: &str) {
        push(out, &["PRIVATE ", from, " :", text]);
    }

    /// `SENT <to> :Mensagem enviada`.
    pub fn sent(out: &mut Vec<u8>, to: &str) {
        push(out, &["SENT ", to, " :Mensagem enviada (message sent)"]);
    }

    /// `JOIN <nick> :<nick> entrou`.
    pub fn join(out: &mut Vec<u8>, nick: &str) {
        push(
            out,
            &["JOIN ", nick, " :", nick, " entrou no chat (joined)"],
        );
    }

    /// `LEFT <nick> :<nick> saiu`.
    pub fn left(out: &mut Vec<u8>, nick: &str) {
        push(out, &["LEFT ", nick, " :", nick, " saiu do chat (left)"]);
    }

    /// `NICK <old> <new> :...`.
    pub fn nick(out: &mut Vec<u8>, old: &str, new: &str) {
        push(
            out,
            &[
                "NICK ",
                old,
                " ",
                new,
                " :",
                old,
                " agora se chama ",
                new,
                " (renamed)",
            ],
        );
    }

    /// `PONG` or `PONG :<token>`.
    pub fn pong(out: &mut Vec<u8>, token: Option<&str>) {
        match token {
            Some(t) => push(out, &["PONG :", t]),
            None => push(out, &["PONG"]),
        }
    }

    /// `PRESENCE on|off :<text>`, answering `/presence on|off`.
    pub fn presence(out: &mut Vec<u8>, on: bool) {
        if on {
            push(
                out,
                &["PRESENCE on :avisos de entrada e saída ligados (join/left/nick notices on)"],
            );
        } else {
            push(
                out,
                &["PRESENCE off :avisos de entrada e saída desligados (join/left/nick notices off)"],
            );
        }
    }

    /// `PING :<token>` (the keepalive probe).
    pub fn ping(out: &mut Vec<u8>, token: &str) {
        push(out, &["PING :", token]);
    }

    /// The `HELP` lines answering `/help` (the chat commands, then the
    /// transfer commands of [`super::transfer::encode::HELP_LINES`]).
    pub fn help(out: &mut Vec<u8>) {
        for l in HELP_LINES
            .iter()
            .chain(super::transfer::encode::HELP_LINES.iter())
        {
            push(out, &["HELP :", l]);
        }
    }

    /// `ERROR <code> <subject> :<text>`; `subject` is a nickname or `*`.
    pub fn error(out: &mut Vec<u8>, code: ErrorCode, subject: Option<&str>, detail: Option<&str>) {
        let num = format!("{:02}", code.as_i32());
        let subject = subject.unwrap_or("*");
        match detail {
            Some(d) => push(
                out,
                &["ERROR ", &num, " ", subject, " :", code.text(), ": ", d],
            ),
            None => push(out, &["ERROR ", &num, " ", subject, " :", code.text()]),
        }
    }

    /// The text of the `HELP` lines.
    pub const HELP_LINES: [&str; 8] = [
        ":texto          mensagem pública para todos (public message to everyone)",
        "Apelido:texto   mensagem privada para Apelido (private message to one nickname)",
        "/list           quem está online (who is online)",
        "/nick NovoNome  trocar de apelido (change nickname)",
        "/ping [token]   responde PONG (no-op round trip)",
        "/presence on|off  avisos JOIN/LEFT/NICK dos outros (others' join/left/nick notices)",
        "/help           esta ajuda (this help)",
        "quit            sair (leave; also {quit} and /quit)",
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_text_fast_path_agrees_with_char_check() {
        let slow = |t: &str| !t.chars().any(|c| c.is_control() && c != '\t');
        let mut cases: Vec<String> = vec![
            String::new(),
            "olá a todos".into(),
            "tab\there".into(),
            "x".repeat(100),
            "caf\u{e9} \u{1F600}".into(),
        ];
        for bad in [
            '\0', '\r', '\n', '\u{1b}', '\u{7f}', '\u{80}', '\u{9f}', '\u{85}',
        ] {
            for at in [0, 5, 63] {
                let mut t: String = "a".repeat(64);
                t.insert(at, bad);
                cases.push(t);
            }
        }
        // Non-ASCII but no control: U+00A0 (right after the C1 block).
        cases.push("a\u{a0}b".into());
        for t in &cases {
            assert_eq!(validate_text(t).is_ok(), slow(t), "{t:?}");
        }
    }

    #[test]
    fn commands() {
        assert_eq!(
            parse_command(":olá a todos"),
            Ok(Command::Public("olá a todos"))
        );
        assert_eq!(
            parse_command("bob:oi: tudo bem?"),
            Ok(Command::Private {
                to: "bob",
                text: "oi: tudo bem?"
            })
        );
        assert_eq!(
            parse_command(" bob :oi"),
            Ok(Command::Private {
                to: "bob",
                text: "oi"
            })
        );
        assert_eq!(parse_command("quit"), Ok(Command::Quit));
        assert_eq!(parse_command("{quit}"), Ok(Command::Quit));
        assert_eq!(parse_command("/QUIT"), Ok(Command::Quit));
        assert_eq!(parse_command("/list"), Ok(Command::List));
        assert_eq!(parse_command("/nick  Novo "), Ok(Command::Nick("Novo")));
        assert_eq!(parse_command("/nick"), Err(ErrorCode::Empty));
        assert_eq!(parse_command("/ping"), Ok(Command::Ping(None)));
        assert_eq!(parse_command("/ping 42"), Ok(Command::Ping(Some("42"))));
        assert_eq!(parse_command("/help"), Ok(Command::Help));
        assert_eq!(parse_command("/presence off"), Ok(Command::Presence(false)));
        assert_eq!(parse_command("/PRESENCE On"), Ok(Command::Presence(true)));
        assert_eq!(parse_command("/presence"), Err(ErrorCode::UnknownCommand));
        assert_eq!(
            parse_command("/presence maybe"),
            Err(ErrorCode::UnknownCommand)
        );
        assert_eq!(parse_presence(" /presence off "), Some(Ok(false)));
        assert_eq!(parse_presence("/presence on"), Some(Ok(true)));
        assert_eq!(
            parse_presence("/presence x"),
            Some(Err(ErrorCode::UnknownCommand))
        );
        assert_eq!(parse_presence("/presenceoff"), None);
        assert_eq!(parse_presence("ana"), None);
        assert_eq!(parse_command("/pong keepalive"), Ok(Command::Pong));
        assert_eq!(parse_command("/bogus"), Err(ErrorCode::UnknownCommand));
        assert_eq!(parse_command("hello"), Err(ErrorCode::UnknownCommand));
        assert_eq!(
            parse_command("hello there: x"),
            Err(ErrorCode::UnknownCommand)
        );
        assert_eq!(parse_command(":"), Err(ErrorCode::Empty));
        assert_eq!(parse_command("bob:"), Err(ErrorCode::Empty));
        assert_eq!(parse_command(":a\x1b[2Kb"), Err(ErrorCode::InvalidText));
        assert_eq!(parse_command(":a\rb"), Err(ErrorCode::InvalidText));
        assert_eq!(parse_command(":a\tb"), Ok(Command::Public("a\tb")));
        assert_eq!(parse_command(""), Ok(Command::Nothing));
        assert_eq!(parse_command("   "), Ok(Command::Nothing));
    }

    #[test]
    fn nicks() {
        assert!(validate_nick("ana", 32).is_ok());
        assert!(validate_nick("João_99", 32).is_ok());
        for bad in [
            "", "a b", "a:b", "a/b", "a\\b", "a\0b", "a\x1bb", "*", "quit", "QUIT", "{quit}", "a,b",
        ] {
            assert_eq!(
                validate_nick(bad, 32),
                Err(ErrorCode::InvalidNick),
                "{bad:?}"
            );
        }
        assert_eq!(
            validate_nick(&"x".repeat(33), 32),
            Err(ErrorCode::InvalidNick)
        );
        assert!(validate_nick(&"é".repeat(32), 32).is_ok());
        assert_eq!(nick_key("Ana"), nick_key("ana"));
    }

    #[test]
    fn server_lines_round_trip() {
        let mut b = Vec::new();
        let limits = encode::HelloLimits {
            max_line_bytes: 4096,
            max_nick_chars: 32,
            max_payload_bytes: 262144,
            max_file_bytes: 1 << 32,
            password_required: false,
        };
        encode::hello(&mut b, &limits);
        encode::welcome(&mut b, "ana");
        encode::users(&mut b, &["ana", "bob"]);
        encode::users::<&str>(&mut b, &[]);
        encode::public(&mut b, "ana", "olá : todos");
        encode::private(&mut b, "ana", "oi");
        encode::sent(&mut b, "bob");
        encode::join(&mut b, "bob");
        encode::left(&mut b, "bob");
        encode::nick(&mut b, "bob", "robert");
        encode::pong(&mut b, Some("7"));
        encode::pong(&mut b, None);
        encode::ping(&mut b, "keepalive");
        encode::pass_accepted(&mut b);
        encode::hello(
            &mut b,
            &encode::HelloLimits {
                max_line_bytes: 512,
                max_nick_chars: 16,
                max_payload_bytes: 1024,
                max_file_bytes: 1 << 20,
                password_required: true,
            },
        );
        encode::error(&mut b, ErrorCode::NoSuchUser, Some("zé"), None);
        encode::error(&mut b, ErrorCode::TooLong, None, Some("limit 4096 bytes"));
        encode::presence(&mut b, false);
        encode::presence(&mut b, true);
        let text = String::from_utf8(b).unwrap();
        let lines: Vec<ServerLine> = text
            .lines()
            .map(|l| parse_server_line(l).unwrap())
            .collect();
        assert_eq!(
            lines[0],
            ServerLine::Hello {
                protocol: "papo/1",
                max_line_bytes: Some(4096),
                max_nick_chars: Some(32)
            }
        );
        assert_eq!(lines[1], ServerLine::Welcome { nick: "ana" });
        assert_eq!(lines[2], ServerLine::Users(vec!["ana", "bob"]));
        assert_eq!(lines[3], ServerLine::Users(vec![]));
        assert_eq!(
            lines[4],
            ServerLine::Public {
                from: "ana",
                text: "olá : todos"
            }
        );
        assert_eq!(
            lines[5],
            ServerLine::Private {
                from: "ana",
                text: "oi"
            }
        );
        assert_eq!(lines[6], ServerLine::Sent { to: "bob" });
        assert_eq!(lines[7], ServerLine::Join { nick: "bob" });
        assert_eq!(lines[8], ServerLine::Left { nick: "bob" });
        assert_eq!(
            lines[9],
            ServerLine::Nick {
                old: "bob",
                new: "robert"
            }
        );
        assert_eq!(lines[10], ServerLine::Pong(Some("7")));
        assert_eq!(lines[11], ServerLine::Pong(None));
        assert_eq!(lines[12], ServerLine::Ping(Some("keepalive")));
        assert_eq!(lines[13], ServerLine::PassAccepted);
        assert_eq!(
            lines[14],
            ServerLine::Hello {
                protocol: "papo/1",
                max_line_bytes: Some(512),
                max_nick_chars: Some(16)
            }
        );
        match &lines[15] {
            ServerLine::Error { code, subject, .. } => {
                assert_eq!(*code, Some(ErrorCode::NoSuchUser));
                assert_eq!(*subject, "zé");
            }
            other => panic!("{other:?}"),
        }
        // The last two lines: the PRESENCE answers.
        assert_eq!(
            lines[lines.len() - 2..],
            [ServerLine::Presence(false), ServerLine::Presence(true)]
        );
        assert!(text.contains("ERROR 02 zé :Destino"));
        assert!(text.contains("ERROR 07 * :"));
    }

    #[test]
    fn malformed_server_lines() {
        assert!(parse_server_line("").is_err());
        assert!(parse_server_line("NOPE x").is_err());
        assert!(parse_server_line("USERS 3 :a b").is_err());
        assert!(parse_server_line("ERROR xx").is_err());
        assert!(parse_server_line("PUBLIC ana").is_err());
    }
}
