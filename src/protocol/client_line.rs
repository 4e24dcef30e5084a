//! The lines a client sends: one type, [`ClientLine`], parsed and encoded
//! here and nowhere else (PROTOCOL.md, "Registration" and "Client lines").
//!
//! A line means different things before and after registration: at the
//! nickname prompt a bare word is a nickname, afterwards it is no command
//! (seed 000 has no bare text). So a line is parsed with the grammar of the
//! [`Stage`] its connection is in, exactly once. Whether a nickname is
//! acceptable, or a destination online, is not the parser's business: the
//! server's session decides (it knows the limits and who is online).

use super::names::{is_quit_word, parse_number, push_label, split_label, validate_text};
use crate::error::ErrorCode;

/// Which grammar a line is read with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Before registration: the nickname prompt (PROTOCOL.md,
    /// "Registration").
    Prompt,
    /// After registration (PROTOCOL.md, "Client lines").
    Chat,
}

/// A line sent by a client, as the server reads it and as a client writes
/// it. The comment of each variant gives the line and the [`Stage`] it
/// belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientLine<'a> {
    /// Prompt: any other line is the nickname asked for, trimmed
    /// (checked by the server with [`super::validate_nick`]).
    Nickname(&'a str),
    /// Prompt: `/pass <password>` (PROTOCOL.md, "Password"); the command
    /// word in any case, spaces around the password ignored.
    Pass(&'a str),
    /// Prompt: an HTTP request line (`GET / HTTP/1.1`): no papo client;
    /// the server closes the connection at once.
    HttpRequest(&'a str),
    /// Both: `/presence on` (true) or `/presence off` (false), PROTOCOL.md
    /// "Presence".
    Presence(bool),
    /// Both: `/binary on` (true) or `/binary off` (false): this client
    /// accepts binary frames (`FILE`, `CHUNK`, `BYTES` ...) or not; off by
    /// default, so that a person at `nc` gets a readable line instead
    /// (PROTOCOL.md, "Binary capability").
    Binary(bool),
    /// Both: `/tags on` (true) or `/tags off` (false): this client wants
    /// every message line tagged with the message's id and the server's
    /// time (`id=<n> time=<ms>`); off by default, so that a person at `nc`
    /// keeps clean lines (PROTOCOL.md, "Message ids and server time").
    Tags(bool),
    /// Both: `/resume on` (true) or `/resume off` (false): this client
    /// wants a resume token (`TOKEN`) and its connection held for the grace
    /// period when it drops (PROTOCOL.md, "Resuming a connection"); off by
    /// default, so a person at `nc` sees nothing new. Since: 1.1.
    ResumeCap(bool),
    /// Prompt: `/resume <nick> <token> [<since>]`: take back `nick`'s
    /// connection, held since it dropped, with the token it was given,
    /// and get the messages with an id above `since` that it missed
    /// (PROTOCOL.md, "Resuming a connection"). Since: 1.1.
    Resume {
        /// The nickname to take back.
        nick: &'a str,
        /// Its resume token.
        token: &'a str,
        /// The id after which messages are missing (none: 0).
        since: Option<u64>,
    },
    /// Both: `quit`, `{quit}` or `/quit` (seeds 000, 002): leave. At the
    /// prompt only `/quit` leaves (`quit` there is a refused nickname).
    Quit,
    /// Chat: an empty or all-blank line, ignored (pressing Enter in `nc`).
    Nothing,
    /// Chat: `:text`, a public message to everyone else online (seed 000).
    Public(&'a str),
    /// Chat: `Nick:text`, a private message (seed 000); spaces around the
    /// nickname are removed, the text is verbatim.
    Private {
        /// The destination nickname.
        to: &'a str,
        /// The message text.
        text: &'a str,
    },
    /// Chat: `#room:text`, a message to a room's members (PROTOCOL.md,
    /// "Rooms"); spaces around the room's name are removed.
    Room {
        /// The room's name, `#` included (checked by the server with
        /// [`super::validate_room`]).
        room: &'a str,
        /// The message text.
        text: &'a str,
    },
    /// Chat: `/join #room`: join the room, creating it if nobody is in it.
    Join(&'a str),
    /// Chat: `/part #room`: leave the room.
    Part(&'a str),
    /// Chat: `/rooms`: the rooms, their member counts and topics.
    Rooms,
    /// Chat: `/who #room`: a room's members.
    Who(&'a str),
    /// Chat: `/topic #room text`: a room operator sets the topic (an empty
    /// text clears it).
    Topic {
        /// The room's name.
        room: &'a str,
        /// The new topic, verbatim after the room's name and one space.
        text: &'a str,
    },
    /// Chat: `/op #room Nick`: a room operator makes a member an operator.
    Op {
        /// The room's name.
        room: &'a str,
        /// The member to make an operator.
        nick: &'a str,
    },
    /// Chat: `/kick #room Nick` (a room operator puts a member out of the
    /// room) or `/kick Nick` (a server operator puts a user off the
    /// server).
    Kick {
        /// The room's name, or `None` for the whole server.
        room: Option<&'a str>,
        /// Who is put out.
        nick: &'a str,
    },
    /// Chat: `/oper <password>`: become a server operator.
    Oper(&'a str),
    /// Chat: `/history <#room|*|Nick> [n] [before=<id>]`: the last `n`
    /// messages of a room, of the public chat (`*`) or of this client's
    /// private conversation with `Nick`, oldest first (PROTOCOL.md,
    /// "History").
    History {
        /// `#room`, `*` or a nickname.
        target: &'a str,
        /// How many (the server's default when `None`).
        count: Option<u64>,
        /// Only messages with an id below this one (paging back).
        before: Option<u64>,
    },
    /// Chat: `/list`, who is online (seed 002).
    List,
    /// Chat: `/nick New`, change nickname (seed 002).
    Nick(&'a str),
    /// Chat: `/ping [token]`, a no-op round trip answered `PONG [token]`.
    Ping(Option<&'a str>),
    /// Chat: `/pong [token]`, the answer to the server's keepalive `PING`
    /// (any line answers it; this one says nothing else).
    Pong(Option<&'a str>),
    /// Chat: `/help`.
    Help,
    /// Chat: `/bytes <to|*> <size>` + LF + `size` bytes: a binary message to
    /// `to` (`None`: everyone else online).
    Bytes {
        /// The destination nickname, or `None` for `*`.
        to: Option<&'a str>,
        /// Payload bytes that follow the line.
        size: u64,
    },
    /// Chat: `/file <to|*> <size> :<name>`: offers a file of `size` bytes.
    File {
        /// The destination nickname, or `None` for `*` (everyone else).
        to: Option<&'a str>,
        /// The file's size in bytes, announced up front.
        size: u64,
        /// The file's name as the sender wrote it (no control character;
        /// receivers reduce it with [`super::safe_file_name`]).
        name: &'a str,
    },
    /// Chat: `/chunk <id> <n>` + LF + `n` bytes: the next bytes of file `id`.
    Chunk {
        /// The transfer's number, from `FILEOK`.
        id: u64,
        /// Payload bytes that follow the line.
        size: u64,
    },
    /// Chat: `/fileend <id>`: every byte of file `id` was sent.
    FileEnd {
        /// The transfer's number.
        id: u64,
    },
    /// Chat: `/fileabort <id>`: the sender gives up file `id`.
    FileAbort {
        /// The transfer's number.
        id: u64,
    },
}

/// A parsed line and the label it came with (PROTOCOL.md, "Labels"): the
/// server writes the label in front of every line that answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labeled<'a> {
    /// The request label, if the line had one.
    pub label: Option<&'a str>,
    /// The line, or the error code that answers it.
    pub line: Result<ClientLine<'a>, ErrorCode>,
}

/// `/name arg`: the lower-cased command word and the rest, trimmed.
fn command(trimmed: &str) -> Option<(String, &str)> {
    let rest = trimmed.strip_prefix('/')?;
    let (name, arg) = match rest.split_once(char::is_whitespace) {
        Some((n, a)) => (n, a.trim()),
        None => (rest, ""),
    };
    Some((name.to_ascii_lowercase(), arg))
}

fn presence_arg(arg: &str) -> Result<bool, ErrorCode> {
    if arg.eq_ignore_ascii_case("on") {
        Ok(true)
    } else if arg.eq_ignore_ascii_case("off") {
        Ok(false)
    } else {
        Err(ErrorCode::UnknownCommand)
    }
}

/// `/resume`'s argument at the prompt: `on`/`off` (the capability), or
/// `<nick> <token> [<since>]` (taking a connection back); 10 otherwise.
fn resume_arg(arg: &str) -> Result<ClientLine<'_>, ErrorCode> {
    let words: Vec<&str> = arg.split_whitespace().collect();
    match words.as_slice() {
        [one] => presence_arg(one).map(ClientLine::ResumeCap),
        [nick, token] => Ok(ClientLine::Resume {
            nick,
            token,
            since: None,
        }),
        [nick, token, since] => match parse_number(since) {
            Some(n) => Ok(ClientLine::Resume {
                nick,
                token,
                since: Some(n),
            }),
            None => Err(ErrorCode::UnknownCommand),
        },
        _ => Err(ErrorCode::UnknownCommand),
    }
}

/// Whether a line at the prompt is an HTTP request line: method, target,
/// `HTTP/` version.
fn looks_like_http(line: &str) -> bool {
    let mut w = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (w.next(), w.next(), w.next(), w.next())
    else {
        return false;
    };
    !method.is_empty()
        && method.bytes().all(|b| b.is_ascii_uppercase())
        && !target.is_empty()
        && version.starts_with("HTTP/")
}

fn destination(word: &str) -> Option<&str> {
    (word != "*").then_some(word)
}

impl<'a> ClientLine<'a> {
    /// Reads one line (without its line ending; a trailing CR already
    /// removed) together with its label, if any.
    pub fn parse_labeled(line: &'a str, stage: Stage) -> Labeled<'a> {
        match split_label(line) {
            Ok((label, rest)) => Labeled {
                label,
                line: ClientLine::parse(rest, stage),
            },
            Err(code) => Labeled {
                label: None,
                line: Err(code),
            },
        }
    }

    /// Reads one line (without label and line ending) with the grammar of
    /// `stage`.
    ///
    /// Errors, at the prompt: 10 `UnknownCommand` for `/presence` with
    /// another argument than `on`/`off`. In the chat: 10 for a line that is
    /// neither `:text`, `Nick:text` nor a known command, or a command with
    /// malformed arguments (a size that is not a plain decimal number, extra
    /// words); 09 `Empty` for `:` or `Nick:` with no text, `/nick` with no
    /// name, a `/file` with no name; 08 `InvalidText` for a control
    /// character in a message, a `/ping` token or a file name.
    pub fn parse(line: &'a str, stage: Stage) -> Result<ClientLine<'a>, ErrorCode> {
        match stage {
            Stage::Prompt => Self::parse_prompt(line),
            Stage::Chat => Self::parse_chat(line),
        }
    }

    fn parse_prompt(line: &'a str) -> Result<ClientLine<'a>, ErrorCode> {
        let trimmed = line.trim();
        if trimmed.eq_ignore_ascii_case("/quit") {
            return Ok(ClientLine::Quit);
        }
        if looks_like_http(trimmed) {
            return Ok(ClientLine::HttpRequest(trimmed));
        }
        if let Some((name, arg)) = command(trimmed) {
            match name.as_str() {
                "pass" => return Ok(ClientLine::Pass(arg)),
                "presence" => return presence_arg(arg).map(ClientLine::Presence),
                "binary" => return presence_arg(arg).map(ClientLine::Binary),
                "tags" => return presence_arg(arg).map(ClientLine::Tags),
                "resume" => return resume_arg(arg),
                _ => {}
            }
        }
        Ok(ClientLine::Nickname(trimmed))
    }

    fn parse_chat(line: &'a str) -> Result<ClientLine<'a>, ErrorCode> {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            return Ok(ClientLine::Nothing);
        }
        if is_quit_word(trimmed) {
            return Ok(ClientLine::Quit);
        }
        if let Some((name, arg)) = command(trimmed) {
            return match name.as_str() {
                "bytes" | "file" | "chunk" | "fileend" | "fileabort" => {
                    Self::parse_transfer(&name, line)
                }
                "presence" => presence_arg(arg).map(ClientLine::Presence),
                "binary" => presence_arg(arg).map(ClientLine::Binary),
                "tags" => presence_arg(arg).map(ClientLine::Tags),
                "resume" => presence_arg(arg).map(ClientLine::ResumeCap),
                "join" | "part" | "who" | "rooms" | "topic" | "op" | "kick" | "oper"
                | "history" => Self::parse_room_command(&name, arg),
                "list" => Ok(ClientLine::List),
                "help" => Ok(ClientLine::Help),
                "pong" => Ok(ClientLine::Pong((!arg.is_empty()).then_some(arg))),
                "nick" if arg.is_empty() => Err(ErrorCode::Empty),
                "nick" => Ok(ClientLine::Nick(arg)),
                "ping" if arg.is_empty() => Ok(ClientLine::Ping(None)),
                "ping" => validate_text(arg).map(|()| ClientLine::Ping(Some(arg))),
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
            return Ok(ClientLine::Public(text));
        }
        if to.chars().any(char::is_whitespace) {
            // "hello there: x" is prose, not "Nick:text".
            return Err(ErrorCode::UnknownCommand);
        }
        if to.starts_with(super::names::ROOM_MARK) {
            return Ok(ClientLine::Room { room: to, text });
        }
        Ok(ClientLine::Private { to, text })
    }

    /// The room commands and `/oper`, `/history` (`name` is their
    /// lower-cased word, `arg` the rest, trimmed).
    fn parse_room_command(name: &str, arg: &'a str) -> Result<ClientLine<'a>, ErrorCode> {
        let words: Vec<&str> = arg.split_whitespace().collect();
        let bad = Err(ErrorCode::UnknownCommand);
        match (name, words.as_slice()) {
            ("rooms", []) => Ok(ClientLine::Rooms),
            ("join" | "part" | "who" | "oper" | "op" | "kick" | "topic" | "history", []) => {
                Err(ErrorCode::Empty)
            }
            ("join", [room]) => Ok(ClientLine::Join(room)),
            ("part", [room]) => Ok(ClientLine::Part(room)),
            ("who", [room]) => Ok(ClientLine::Who(room)),
            ("oper", _) => Ok(ClientLine::Oper(arg)),
            ("op", [room, nick]) => Ok(ClientLine::Op { room, nick }),
            ("kick", [nick]) if !nick.starts_with(super::names::ROOM_MARK) => {
                Ok(ClientLine::Kick { room: None, nick })
            }
            ("kick", [room, nick]) => Ok(ClientLine::Kick {
                room: Some(room),
                nick,
            }),
            ("topic", [room, ..]) => {
                // The topic is everything after the room's name and the
                // whitespace after it, verbatim.
                let text = arg
                    .get(room.len()..)
                    .unwrap_or("")
                    .trim_start_matches(char::is_whitespace);
                validate_text(text)?;
                Ok(ClientLine::Topic { room, text })
            }
            ("history", [target, rest @ ..]) if rest.len() <= 2 => {
                let (mut count, mut before) = (None, None);
                for w in rest {
                    if let Some(id) = w.strip_prefix("before=") {
                        match (before, parse_number(id)) {
                            (None, Some(id)) => before = Some(id),
                            _ => return bad,
                        }
                    } else {
                        match (count, parse_number(w)) {
                            (None, Some(n)) => count = Some(n),
                            _ => return bad,
                        }
                    }
                }
                Ok(ClientLine::History {
                    target,
                    count,
                    before,
                })
            }
            _ => bad,
        }
    }

    /// The transfer commands (`name` is their lower-cased word): arguments
    /// are words up to ` :`, after which `/file` has its name.
    fn parse_transfer(name: &str, line: &'a str) -> Result<ClientLine<'a>, ErrorCode> {
        let rest = line.trim_start().get(1..).unwrap_or("");
        let (head, trailing) = match rest.split_once(" :") {
            Some((h, t)) => (h, Some(t)),
            None => (rest, None),
        };
        let args: Vec<&str> = head.split_whitespace().skip(1).collect();
        let bad = Err(ErrorCode::UnknownCommand);
        let number = |i: usize| args.get(i).and_then(|w| parse_number(w));
        match (name, args.as_slice()) {
            ("bytes", [to, _]) if trailing.is_none() => match number(1) {
                Some(size) => Ok(ClientLine::Bytes {
                    to: destination(to),
                    size,
                }),
                None => bad,
            },
            ("file", [to, _]) => {
                let Some(size) = number(1) else {
                    return bad;
                };
                let Some(name) = trailing.filter(|n| !n.trim().is_empty()) else {
                    return Err(ErrorCode::Empty);
                };
                if name.chars().any(char::is_control) {
                    return Err(ErrorCode::InvalidText);
                }
                Ok(ClientLine::File {
                    to: destination(to),
                    size,
                    name,
                })
            }
            ("chunk", [_, _]) if trailing.is_none() => match (number(0), number(1)) {
                (Some(id), Some(size)) => Ok(ClientLine::Chunk { id, size }),
                _ => bad,
            },
            ("fileend", [_]) if trailing.is_none() => match number(0) {
                Some(id) => Ok(ClientLine::FileEnd { id }),
                None => bad,
            },
            ("fileabort", [_]) => match number(0) {
                Some(id) => Ok(ClientLine::FileAbort { id }),
                None => bad,
            },
            _ => bad,
        }
    }

    /// Payload bytes that follow this line (`/bytes`, `/chunk`), 0 for the
    /// lines that carry none.
    pub fn payload_size(&self) -> u64 {
        match self {
            ClientLine::Bytes { size, .. } | ClientLine::Chunk { size, .. } => *size,
            _ => 0,
        }
    }

    /// Appends the line, prefixed with `@<label> ` when `label` is given
    /// (PROTOCOL.md, "Labels"), and its LF. A payload line (`/bytes`,
    /// `/chunk`) is followed by its payload, which the caller appends.
    pub fn encode_labeled(&self, label: Option<&str>, out: &mut Vec<u8>) {
        push_label(out, label);
        self.encode(out);
    }

    /// Appends the line and its LF to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        use std::io::Write as _;
        // Writing to a Vec cannot fail.
        let _ = match self {
            ClientLine::Nickname(n) => writeln!(out, "{n}"),
            ClientLine::Pass(p) => writeln!(out, "/pass {p}"),
            ClientLine::HttpRequest(l) => writeln!(out, "{l}"),
            ClientLine::Presence(true) => writeln!(out, "/presence on"),
            ClientLine::Presence(false) => writeln!(out, "/presence off"),
            ClientLine::Binary(true) => writeln!(out, "/binary on"),
            ClientLine::Binary(false) => writeln!(out, "/binary off"),
            ClientLine::Tags(true) => writeln!(out, "/tags on"),
            ClientLine::Tags(false) => writeln!(out, "/tags off"),
            ClientLine::ResumeCap(true) => writeln!(out, "/resume on"),
            ClientLine::ResumeCap(false) => writeln!(out, "/resume off"),
            ClientLine::Resume {
                nick,
                token,
                since: None,
            } => writeln!(out, "/resume {nick} {token}"),
            ClientLine::Resume {
                nick,
                token,
                since: Some(n),
            } => writeln!(out, "/resume {nick} {token} {n}"),
            ClientLine::Room { room, text } => writeln!(out, "{room}:{text}"),
            ClientLine::Join(r) => writeln!(out, "/join {r}"),
            ClientLine::Part(r) => writeln!(out, "/part {r}"),
            ClientLine::Rooms => writeln!(out, "/rooms"),
            ClientLine::Who(r) => writeln!(out, "/who {r}"),
            ClientLine::Topic { room, text: "" } => writeln!(out, "/topic {room}"),
            ClientLine::Topic { room, text } => writeln!(out, "/topic {room} {text}"),
            ClientLine::Op { room, nick } => writeln!(out, "/op {room} {nick}"),
            ClientLine::Kick { room: None, nick } => writeln!(out, "/kick {nick}"),
            ClientLine::Kick {
                room: Some(room),
                nick,
            } => writeln!(out, "/kick {room} {nick}"),
            ClientLine::Oper(p) => writeln!(out, "/oper {p}"),
            ClientLine::History {
                target,
                count,
                before,
            } => {
                let _ = write!(out, "/history {target}");
                if let Some(n) = count {
                    let _ = write!(out, " {n}");
                }
                if let Some(id) = before {
                    let _ = write!(out, " before={id}");
                }
                writeln!(out)
            }
            ClientLine::Quit => writeln!(out, "quit"),
            ClientLine::Nothing => writeln!(out),
            ClientLine::Public(t) => writeln!(out, ":{t}"),
            ClientLine::Private { to, text } => writeln!(out, "{to}:{text}"),
            ClientLine::List => writeln!(out, "/list"),
            ClientLine::Nick(n) => writeln!(out, "/nick {n}"),
            ClientLine::Ping(None) => writeln!(out, "/ping"),
            ClientLine::Ping(Some(t)) => writeln!(out, "/ping {t}"),
            ClientLine::Pong(None) => writeln!(out, "/pong"),
            ClientLine::Pong(Some(t)) => writeln!(out, "/pong {t}"),
            ClientLine::Help => writeln!(out, "/help"),
            ClientLine::Bytes { to, size } => writeln!(out, "/bytes {} {size}", to.unwrap_or("*")),
            ClientLine::File { to, size, name } => {
                writeln!(out, "/file {} {size} :{name}", to.unwrap_or("*"))
            }
            ClientLine::Chunk { id, size } => writeln!(out, "/chunk {id} {size}"),
            ClientLine::FileEnd { id } => writeln!(out, "/fileend {id}"),
            ClientLine::FileAbort { id } => writeln!(out, "/fileabort {id}"),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn chat(l: &str) -> Result<ClientLine<'_>, ErrorCode> {
        ClientLine::parse(l, Stage::Chat)
    }

    fn prompt(l: &str) -> Result<ClientLine<'_>, ErrorCode> {
        ClientLine::parse(l, Stage::Prompt)
    }

    #[test]
    fn chat_lines() {
        use ClientLine::*;
        assert_eq!(chat(":olá a todos"), Ok(Public("olá a todos")));
        assert_eq!(
            chat("bob:oi: tudo bem?"),
            Ok(Private {
                to: "bob",
                text: "oi: tudo bem?"
            })
        );
        assert_eq!(
            chat(" bob :oi"),
            Ok(Private {
                to: "bob",
                text: "oi"
            })
        );
        assert_eq!(chat("quit"), Ok(Quit));
        assert_eq!(chat("{quit}"), Ok(Quit));
        assert_eq!(chat("/QUIT"), Ok(Quit));
        assert_eq!(chat("/list"), Ok(List));
        assert_eq!(chat("/nick  Novo "), Ok(Nick("Novo")));
        assert_eq!(chat("/nick"), Err(ErrorCode::Empty));
        assert_eq!(chat("/ping"), Ok(Ping(None)));
        assert_eq!(chat("/ping 42"), Ok(Ping(Some("42"))));
        assert_eq!(chat("/ping a\u{1b}b"), Err(ErrorCode::InvalidText));
        assert_eq!(chat("/help"), Ok(Help));
        assert_eq!(chat("/presence off"), Ok(Presence(false)));
        assert_eq!(chat("/BINARY Off"), Ok(Binary(false)));
        assert_eq!(chat("/PRESENCE On"), Ok(Presence(true)));
        assert_eq!(chat("/presence"), Err(ErrorCode::UnknownCommand));
        assert_eq!(chat("/presence maybe"), Err(ErrorCode::UnknownCommand));
        assert_eq!(chat("/pong keepalive"), Ok(Pong(Some("keepalive"))));
        assert_eq!(chat("/pass x"), Err(ErrorCode::UnknownCommand));
        assert_eq!(chat("/bogus"), Err(ErrorCode::UnknownCommand));
        assert_eq!(chat("hello"), Err(ErrorCode::UnknownCommand));
        assert_eq!(chat("hello there: x"), Err(ErrorCode::UnknownCommand));
        assert_eq!(chat(":"), Err(ErrorCode::Empty));
        assert_eq!(chat("bob:"), Err(ErrorCode::Empty));
        assert_eq!(chat(":a\x1b[2Kb"), Err(ErrorCode::InvalidText));
        assert_eq!(chat(":a\rb"), Err(ErrorCode::InvalidText));
        assert_eq!(chat(":a\tb"), Ok(Public("a\tb")));
        assert_eq!(chat(""), Ok(Nothing));
        assert_eq!(chat("   "), Ok(Nothing));
        assert_eq!(
            chat("quit:hi"),
            Ok(Private {
                to: "quit",
                text: "hi"
            })
        );
    }

    #[test]
    fn room_lines() {
        use ClientLine::*;
        assert_eq!(
            chat("#sala:oi: todos"),
            Ok(Room {
                room: "#sala",
                text: "oi: todos"
            })
        );
        assert_eq!(
            chat(" #sala :oi"),
            Ok(Room {
                room: "#sala",
                text: "oi"
            })
        );
        assert_eq!(chat("#sala:"), Err(ErrorCode::Empty));
        assert_eq!(chat("/join #sala"), Ok(Join("#sala")));
        assert_eq!(chat("/JOIN"), Err(ErrorCode::Empty));
        assert_eq!(chat("/join #a #b"), Err(ErrorCode::UnknownCommand));
        assert_eq!(chat("/part #sala"), Ok(Part("#sala")));
        assert_eq!(chat("/rooms"), Ok(Rooms));
        assert_eq!(chat("/rooms x"), Err(ErrorCode::UnknownCommand));
        assert_eq!(chat("/who #sala"), Ok(Who("#sala")));
        assert_eq!(
            chat("/topic #sala  Bem-vindos à sala "),
            Ok(Topic {
                room: "#sala",
                text: "Bem-vindos à sala"
            })
        );
        assert_eq!(
            chat("/topic #sala"),
            Ok(Topic {
                room: "#sala",
                text: ""
            })
        );
        assert_eq!(chat("/topic #sala a\u{1b}b"), Err(ErrorCode::InvalidText));
        assert_eq!(
            chat("/op #sala bob"),
            Ok(Op {
                room: "#sala",
                nick: "bob"
            })
        );
        assert_eq!(
            chat("/kick #sala bob"),
            Ok(Kick {
                room: Some("#sala"),
                nick: "bob"
            })
        );
        assert_eq!(
            chat("/kick bob"),
            Ok(Kick {
                room: None,
                nick: "bob"
            })
        );
        assert_eq!(chat("/kick #sala"), Err(ErrorCode::UnknownCommand));
        assert_eq!(chat("/oper s3gredo x"), Ok(Oper("s3gredo x")));
        assert_eq!(
            chat("/history #sala 20 before=99"),
            Ok(History {
                target: "#sala",
                count: Some(20),
                before: Some(99)
            })
        );
        assert_eq!(
            chat("/history *"),
            Ok(History {
                target: "*",
                count: None,
                before: None
            })
        );
        assert_eq!(
            chat("/history bob before=7"),
            Ok(History {
                target: "bob",
                count: None,
                before: Some(7)
            })
        );
        for bad in [
            "/history * x",
            "/history * 1 2",
            "/history * before=x",
            "/history * 1 before=2 3",
        ] {
            assert_eq!(chat(bad), Err(ErrorCode::UnknownCommand), "{bad:?}");
        }
        assert_eq!(chat("/tags on"), Ok(Tags(true)));
        assert_eq!(prompt("/tags off"), Ok(Tags(false)));
        // Resuming: the capability at both stages, taking a connection
        // back at the prompt only.
        assert_eq!(prompt("/resume on"), Ok(ResumeCap(true)));
        assert_eq!(chat("/resume off"), Ok(ResumeCap(false)));
        assert_eq!(
            prompt("/RESUME ana 0f0f 17"),
            Ok(Resume {
                nick: "ana",
                token: "0f0f",
                since: Some(17)
            })
        );
        assert_eq!(
            prompt("/resume ana 0f0f"),
            Ok(Resume {
                nick: "ana",
                token: "0f0f",
                since: None
            })
        );
        assert_eq!(prompt("/resume ana 0f0f x"), Err(ErrorCode::UnknownCommand));
        assert_eq!(prompt("/resume"), Err(ErrorCode::UnknownCommand));
        assert_eq!(chat("/resume ana 0f0f"), Err(ErrorCode::UnknownCommand));
    }

    #[test]
    fn transfer_lines() {
        use ClientLine::*;
        assert_eq!(chat("/bytes * 12"), Ok(Bytes { to: None, size: 12 }));
        assert_eq!(
            chat("/BYTES bob 0"),
            Ok(Bytes {
                to: Some("bob"),
                size: 0
            })
        );
        assert_eq!(
            chat("/file * 1024 :minha foto.png"),
            Ok(File {
                to: None,
                size: 1024,
                name: "minha foto.png"
            })
        );
        assert_eq!(
            chat("/file bob 5 :../../a:b"),
            Ok(File {
                to: Some("bob"),
                size: 5,
                name: "../../a:b"
            })
        );
        assert_eq!(chat("/chunk 7 65536"), Ok(Chunk { id: 7, size: 65536 }));
        assert_eq!(chat("/fileend 7"), Ok(FileEnd { id: 7 }));
        assert_eq!(chat("/fileabort 7"), Ok(FileAbort { id: 7 }));
        assert_eq!(chat("/fileabort 7 :tchau"), Ok(FileAbort { id: 7 }));
        assert_eq!(Chunk { id: 1, size: 9 }.payload_size(), 9);
        assert_eq!(FileEnd { id: 1 }.payload_size(), 0);
        assert_eq!(chat("/filer 1"), Err(ErrorCode::UnknownCommand));
        for bad in [
            "/bytes",
            "/bytes *",
            "/bytes * -1",
            "/bytes * +1",
            "/bytes * 0x10",
            "/bytes * 1 2",
            "/bytes * 123456789012345678901",
            "/bytes * 99999999999999999999",
            "/chunk 1",
            "/chunk x 1",
            "/fileend",
            "/fileend 1 2",
            "/file * x :a",
        ] {
            assert_eq!(chat(bad), Err(ErrorCode::UnknownCommand), "{bad:?}");
        }
        assert_eq!(chat("/file * 3"), Err(ErrorCode::Empty));
        assert_eq!(chat("/file * 3 :  "), Err(ErrorCode::Empty));
        assert_eq!(chat("/file * 3 :a\u{1b}[2Jb"), Err(ErrorCode::InvalidText));
        assert_eq!(chat("/file * 3 :a\0b"), Err(ErrorCode::InvalidText));
        assert_eq!(
            chat("bob:/bytes * 3"),
            Ok(Private {
                to: "bob",
                text: "/bytes * 3"
            })
        );
    }

    #[test]
    fn prompt_lines() {
        use ClientLine::*;
        assert_eq!(prompt(" ana "), Ok(Nickname("ana")));
        assert_eq!(prompt(""), Ok(Nickname("")));
        assert_eq!(prompt("quit"), Ok(Nickname("quit")));
        assert_eq!(prompt("/Quit"), Ok(Quit));
        assert_eq!(prompt("/pass segredo"), Ok(Pass("segredo")));
        assert_eq!(prompt("  /PASS   com espaço  "), Ok(Pass("com espaço")));
        assert_eq!(prompt("/pass"), Ok(Pass("")));
        assert_eq!(prompt("/password x"), Ok(Nickname("/password x")));
        assert_eq!(prompt("/presence off"), Ok(Presence(false)));
        assert_eq!(prompt("/binary on"), Ok(Binary(true)));
        assert_eq!(prompt("/binary x"), Err(ErrorCode::UnknownCommand));
        assert_eq!(prompt("/presence x"), Err(ErrorCode::UnknownCommand));
        assert_eq!(prompt("/presenceoff"), Ok(Nickname("/presenceoff")));
        assert_eq!(prompt("/list"), Ok(Nickname("/list")));
        assert_eq!(prompt("GET / HTTP/1.1"), Ok(HttpRequest("GET / HTTP/1.1")));
        assert_eq!(
            prompt("CONNECT example.com:443 HTTP/1.0"),
            Ok(HttpRequest("CONNECT example.com:443 HTTP/1.0"))
        );
        for not_http in ["GET / HTTP", "get / HTTP/1.1", "GET  HTTP/1.1"] {
            assert!(
                !matches!(prompt(not_http), Ok(HttpRequest(_))),
                "{not_http:?}"
            );
        }
    }

    #[test]
    fn labels() {
        let l = ClientLine::parse_labeled("@7 bob:oi", Stage::Chat);
        assert_eq!(l.label, Some("7"));
        assert_eq!(
            l.line,
            Ok(ClientLine::Private {
                to: "bob",
                text: "oi"
            })
        );
        let l = ClientLine::parse_labeled("@x!y :oi", Stage::Chat);
        assert_eq!((l.label, l.line), (None, Err(ErrorCode::UnknownCommand)));
        let l = ClientLine::parse_labeled("@3 /nick", Stage::Chat);
        assert_eq!((l.label, l.line), (Some("3"), Err(ErrorCode::Empty)));
        let mut b = Vec::new();
        ClientLine::List.encode_labeled(Some("12"), &mut b);
        assert_eq!(b, b"@12 /list\n");
    }

    fn nick() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9_éç\\-\\[\\]{}|.]{1,12}".prop_filter("not a quit word", |n| !is_quit_word(n))
    }

    // Text and tokens in any script, without what `validate_text` refuses:
    // control characters and the bidi embeddings, overrides and isolates
    // (`BIDI_REORDERING`).
    fn text() -> impl Strategy<Value = String> {
        "[^\\p{Cc}\\x{202A}-\\x{202E}\\x{2066}-\\x{2069}]{1,40}"
    }

    fn token() -> impl Strategy<Value = String> {
        "[^\\p{Cc}\\p{White_Space}\\x{202A}-\\x{202E}\\x{2066}-\\x{2069}]{1,10}"
    }

    fn round_trip(line: &ClientLine<'_>, stage: Stage) -> Result<(), TestCaseError> {
        let mut b = Vec::new();
        line.encode_labeled(Some("l1"), &mut b);
        let s = String::from_utf8(b).unwrap();
        let body = s.strip_suffix('\n').unwrap();
        prop_assert!(!body.contains('\n'));
        let parsed = ClientLine::parse_labeled(body, stage);
        prop_assert_eq!(parsed.label, Some("l1"));
        prop_assert_eq!(parsed.line.as_ref(), Ok(line));
        Ok(())
    }

    proptest! {
        /// Every chat line a client encodes is read back the same by the
        /// server.
        #[test]
        fn chat_round_trip(k in 0..24u8, a in nick(), t in text(), tok in token(),
                           n in any::<u64>(), m in any::<u64>(), star in any::<bool>()) {
            use ClientLine::*;
            let to = (!star).then_some(a.as_str());
            let room = format!("#{a}");
            let topic = t.trim();
            let line = match k {
                14 => Room { room: &room, text: &t },
                15 => Join(&room),
                16 => Part(&room),
                17 => Rooms,
                18 => Who(&room),
                19 => Topic { room: &room, text: topic },
                20 => Op { room: &room, nick: &a },
                21 => Kick { room: (!star).then_some(room.as_str()), nick: &a },
                22 => History { target: if star { "*" } else { &room }, count: Some(n), before: (!star).then_some(m) },
                23 => Tags(star),
                0 => Public(&t),
                1 => Private { to: &a, text: &t },
                2 => Quit,
                3 => List,
                4 => Nick(&a),
                5 => Ping(Some(&tok)),
                6 => Ping(None),
                7 => Pong(Some(&tok)),
                8 => Help,
                9 => Bytes { to, size: n },
                10 => File { to, size: n, name: &t },
                11 => Chunk { id: n, size: m },
                12 => FileEnd { id: n },
                _ => FileAbort { id: n },
            };
            // A file name that is all blanks is refused, as the parser says.
            prop_assume!(!matches!(line, File { name, .. } if name.trim().is_empty()));
            round_trip(&line, Stage::Chat)?;
        }

        /// Every prompt line a client encodes is read back the same. (Not
        /// `Quit`, which a client encodes with the seed's word `quit`: at the
        /// prompt only `/quit` leaves, and `quit` is a refused nickname.)
        #[test]
        fn prompt_round_trip(k in 0..6u8, a in nick(), tok in token(), on in any::<bool>(), n in any::<u64>()) {
            use ClientLine::*;
            let line = match k {
                0 => Nickname(&a),
                1 => Pass(&tok),
                2 => Binary(on),
                3 => ResumeCap(on),
                4 => Resume { nick: &a, token: &tok, since: on.then_some(n) },
                _ => Presence(on),
            };
            round_trip(&line, Stage::Prompt)?;
        }

        /// Whatever a client sends, parsing never panics, and a line that
        /// parses is written back into one that parses the same.
        #[test]
        fn parse_then_encode(s in "[ -~éç\\t]{0,30}", prompt_stage in any::<bool>()) {
            let stage = if prompt_stage { Stage::Prompt } else { Stage::Chat };
            let parsed = ClientLine::parse_labeled(&s, stage);
            if let Ok(line) = parsed.line {
                let mut b = Vec::new();
                line.encode_labeled(parsed.label, &mut b);
                let again = String::from_utf8(b).unwrap();
                let re = ClientLine::parse_labeled(again.trim_end_matches('\n'), stage);
                prop_assert_eq!(re.label, parsed.label);
                prop_assert_eq!(re.line, Ok(line));
            }
        }
    }
}
