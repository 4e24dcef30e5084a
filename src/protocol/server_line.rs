//! The lines a server sends: one type, [`ServerLine`], parsed and encoded
//! here and nowhere else (PROTOCOL.md, "Server lines").
//!
//! Every line starts with an upper-case keyword, then space-separated
//! arguments, then optionally ` :` and a free text that runs to the end of
//! the line (the IRC layout, RFC 1459 section 2.3.1). A line that answers a
//! labeled request starts with `@<label> ` (PROTOCOL.md, "Labels").
//!
//! `ServerLine<S>` is generic over its strings: the server encodes
//! `ServerLine<&str>` built from borrowed text (no allocation), the client
//! parses into `ServerLine<&str>` borrowed from its read buffer and keeps
//! what it needs as `ServerLine<String>` ([`ServerLine::to_owned_line`]).

use std::fmt;
use std::io::Write;

use super::names::{parse_number, push_label, split_label};
use crate::error::ErrorCode;

/// The protocol name and version announced in the `HELLO` line.
pub const PROTOCOL_NAME: &str = "papo/1";

/// The byte that ends a payload the server sends (a `CHUNK` or `BYTES`
/// frame: header line, payload, this LF), PROTOCOL.md "Files and binary
/// payloads". A reader takes it for an empty line.
pub const PAYLOAD_END: u8 = b'\n';

/// The `HELP` text answering `/help`, one line each (the chat commands,
/// then the file and binary commands).
pub const HELP_LINES: [&str; 12] = [
    ":texto          mensagem pública para todos (public message to everyone)",
    "Apelido:texto   mensagem privada para Apelido (private message to one nickname)",
    "/list           quem está online (who is online)",
    "/nick NovoNome  trocar de apelido (change nickname)",
    "/ping [token]   responde PONG (no-op round trip)",
    "/presence on|off  avisos JOIN/LEFT/NICK dos outros (others' join/left/nick notices)",
    "/help           esta ajuda (this help)",
    "quit            sair (leave; also {quit} and /quit)",
    "/bytes Apelido|* N   N bytes binários seguem a linha (N binary bytes follow the line)",
    "/file Apelido|* N :nome   oferece um arquivo de N bytes; resposta FILEOK id (offer a file)",
    "/chunk id N          N bytes do arquivo id seguem a linha (N bytes of file id follow)",
    "/fileend id, /fileabort id   fim do arquivo, ou desistir (file complete, or give up)",
];

/// A line sent by the server. `S` is `&str` when borrowed from a buffer
/// being parsed or encoded, `String` when kept.
///
/// Texts that the server always writes the same way (the greeting of
/// `HELLO`, `WELCOME`'s, `SENT`'s "Mensagem enviada" ...) are not fields:
/// [`ServerLine::encode`] writes them and [`ServerLine::parse`] skips them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerLine<S> {
    /// `HELLO papo/1 line=<bytes> nick=<chars> bytes=<bytes> file=<bytes>
    /// [pass=required] [labels=1] :<greeting>`: the first line on every
    /// connection; it asks for a nickname (seed 000 server manual item 3).
    /// A limit not announced (an older server) is `None`; words of the form
    /// `name=value` that a reader does not know are ignored.
    Hello {
        /// The protocol token, [`PROTOCOL_NAME`].
        protocol: S,
        /// Longest client line, in bytes without the LF (`line=`).
        max_line_bytes: Option<usize>,
        /// Longest nickname, in characters (`nick=`).
        max_nick_chars: Option<usize>,
        /// Largest binary message, in bytes (`bytes=`).
        max_payload_bytes: Option<u64>,
        /// Largest file, in bytes (`file=`).
        max_file_bytes: Option<u64>,
        /// `/pass <password>` must come before the nickname
        /// (`pass=required`, PROTOCOL.md "Password").
        password_required: bool,
        /// The server echoes request labels (`labels=1`, PROTOCOL.md
        /// "Labels").
        labels: bool,
        /// The server knows `/binary on` (`binary=1`, PROTOCOL.md "Binary
        /// capability"): a client that accepts binary frames says so.
        binary: bool,
        /// The server knows `/tags on`, rooms and `/history` (`tags=1`,
        /// PROTOCOL.md "Message ids and server time"). Since: 1.1.
        tags: bool,
        /// The server knows `/resume on` and `/resume <nick> <token>`
        /// (`resume=1`, PROTOCOL.md "Resuming a connection"). Since: 1.1.
        resume: bool,
    },
    /// `WELCOME <nick> :<text>`: the nickname was accepted.
    Welcome {
        /// The registered nickname.
        nick: S,
    },
    /// `USERS <count> :<nick> <nick> ...`: everyone online, sorted
    /// case-insensitively (seed 000 client manual item 3).
    Users(Vec<S>),
    /// `PUBLIC <from> :<text>`: a public message.
    Public {
        /// Who sent it.
        from: S,
        /// The text.
        text: S,
    },
    /// `PRIVATE <from> :<text>`: a private message ("Mensagem recebida de").
    Private {
        /// Who sent it.
        from: S,
        /// The text.
        text: S,
    },
    /// `SENT <to> :Mensagem enviada (message sent)`: a private (or binary)
    /// message was accepted for delivery; `to` is the destination as the
    /// sender wrote it, or `*` for a binary message to everyone.
    Sent {
        /// The destination.
        to: S,
    },
    /// `JOIN <nick> :<nick> entrou no chat (joined)`: someone registered.
    Join {
        /// Who joined.
        nick: S,
    },
    /// `LEFT <nick> :<nick> saiu do chat (left)`: someone left (quit or
    /// dropped).
    Left {
        /// Who left.
        nick: S,
    },
    /// `NICK <old> <new> :...`: someone (maybe the receiver) renamed.
    Nick {
        /// The old nickname.
        old: S,
        /// The new nickname.
        new: S,
    },
    /// `CHANGES <count> :JOIN <nick> <nick>, LEFT <nick>, NICK <old> <new>, ...`:
    /// several registry changes at once, in the order they happened
    /// (PROTOCOL.md, "Presence"). The server sends it instead of `count`
    /// single `JOIN`, `LEFT` and `NICK` lines when several changes came
    /// within one presence tick; a client takes it as those lines, one
    /// after the other. `count` is the number of changes, not of items:
    /// consecutive joins (or leaves) share one `JOIN` (`LEFT`) item.
    Changes(Vec<PresenceChange<S>>),
    /// `PONG` or `PONG :<token>`: the answer to `/ping [token]`.
    Pong(Option<S>),
    /// `PING :<token>`: the server's keepalive probe; any line answers it,
    /// by convention `/pong <token>`.
    Ping(Option<S>),
    /// `PASS :...`: the password sent with `/pass` was accepted (or the
    /// server wants none); the nickname comes next.
    PassAccepted,
    /// `HELP :<text>`: one line of help, answering `/help`.
    Help(S),
    /// `PRESENCE on|off :...`: the answer to `/presence on|off` (true: on);
    /// PROTOCOL.md, "Presence".
    Presence(bool),
    /// `BINARY on|off :...`: the answer to `/binary on|off` (true: this
    /// client accepts binary frames); PROTOCOL.md, "Binary capability".
    Binary(bool),
    /// `FILEOFFER <from> <id> <size> [private] :<text>: <name>`: what a
    /// client that did not accept binary frames gets instead of a `FILE`
    /// and its frames: `from` offers a file that needs a papo client.
    FileOffer {
        /// The sender's nickname when the transfer started.
        from: S,
        /// The transfer's number.
        id: u64,
        /// The announced size in bytes.
        size: u64,
        /// Sent to this client alone.
        private: bool,
        /// The name as the sender announced it.
        name: S,
    },
    /// `BYTESNOTE <from> <n> [private] :<text>`: what a client that did not
    /// accept binary frames gets instead of a `BYTES` frame.
    BytesNote {
        /// Who sent it.
        from: S,
        /// Bytes of the binary message (not sent).
        size: u64,
        /// Sent to this client alone.
        private: bool,
    },
    /// `FILEOK <id> :...`: the server accepted this client's `/file`; `id`
    /// numbers the transfer in `/chunk`, `/fileend`, `/fileabort`.
    FileOk {
        /// The transfer's number, unique on the server.
        id: u64,
    },
    /// `FILEACK <id> <bytes>`: the server has taken and forwarded `bytes`
    /// bytes of this client's file `id` so far (the sender's progress).
    FileAck {
        /// The transfer's number.
        id: u64,
        /// Bytes forwarded so far.
        bytes: u64,
    },
    /// `FILEDONE <id> :...`: every byte of this client's file `id` was
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
        reason: S,
    },
    /// `FILE <from> <id> <size> [private] :<name>`: `from` is sending a file
    /// of `size` bytes to everyone, or to this client alone when `private`;
    /// its bytes come in `CHUNK <id>` frames.
    File {
        /// The sender's nickname when the transfer started.
        from: S,
        /// The transfer's number.
        id: u64,
        /// The announced size in bytes.
        size: u64,
        /// Sent to this client alone.
        private: bool,
        /// The name as the sender announced it (unsafe: see
        /// [`super::safe_file_name`]).
        name: S,
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
        reason: S,
    },
    /// `BYTES <from> <n> [private]`, followed by `n` bytes and one LF: a
    /// binary message.
    Bytes {
        /// Who sent it.
        from: S,
        /// Payload bytes that follow.
        size: u64,
        /// Sent to this client alone.
        private: bool,
    },
    /// `TAGS on|off :...`: the answer to `/tags on|off` (true: message
    /// lines carry `id=` and `time=`); PROTOCOL.md, "Message ids and
    /// server time".
    Tags(bool),
    /// `ROOM <#room> <from> :<text>`: a message to a room this client is a
    /// member of (PROTOCOL.md, "Rooms").
    Room {
        /// The room's name, `#` included.
        room: S,
        /// Who sent it.
        from: S,
        /// The text.
        text: S,
    },
    /// `ROOMJOIN <#room> <nick> :...`: `nick` joined the room (to this
    /// client itself: the answer to its `/join`).
    RoomJoin {
        /// The room's name.
        room: S,
        /// Who joined.
        nick: S,
    },
    /// `ROOMPART <#room> <nick> :...`: `nick` left the room (to this
    /// client itself: the answer to its `/part`).
    RoomPart {
        /// The room's name.
        room: S,
        /// Who left.
        nick: S,
    },
    /// `ROOMKICK <#room> <by> <nick> :...`: operator `by` put `nick` out
    /// of the room.
    RoomKick {
        /// The room's name.
        room: S,
        /// The operator who did it.
        by: S,
        /// Who was put out.
        nick: S,
    },
    /// `ROOMOP <#room> <by> <nick> :...`: operator `by` made `nick` an
    /// operator of the room.
    RoomOp {
        /// The room's name.
        room: S,
        /// The operator who did it.
        by: S,
        /// The new operator.
        nick: S,
    },
    /// `TOPIC <#room> <by> :<topic>`: the room's topic is now `topic` (set
    /// by `by`; empty: no topic).
    Topic {
        /// The room's name.
        room: S,
        /// Who set it.
        by: S,
        /// The topic.
        text: S,
    },
    /// `MEMBERS <#room> <n> :<nick> ...`: a room's members, sorted
    /// case-insensitively; an operator's nickname is written with `@` in
    /// front (a nickname never starts with `@`). The answer to `/who`.
    Members {
        /// The room's name.
        room: S,
        /// The members as written (`@` marks an operator).
        nicks: Vec<S>,
    },
    /// `ROOMINFO <#room> <members> :<topic>`: one room, in the answer to
    /// `/rooms` (which ends with `ROOMS`).
    RoomInfo {
        /// The room's name.
        room: S,
        /// How many members it has.
        members: u64,
        /// Its topic (empty: none).
        topic: S,
    },
    /// `ROOMS <n> :...`: the end of the answer to `/rooms`, after its `n`
    /// `ROOMINFO` lines.
    RoomsEnd {
        /// How many rooms were listed.
        count: u64,
    },
    /// `OPER :...`: the answer to a right `/oper <password>`.
    Oper,
    /// `RESUME on|off :...`: the answer to `/resume on|off` (PROTOCOL.md,
    /// "Resuming a connection"). Since: 1.1.
    ResumeCap(bool),
    /// `TOKEN <token> <id> :...`: this connection's resume token, to a
    /// client that said `/resume on`, after its `WELCOME` (and its `USERS`);
    /// `id` is the last message id the server had handed out then (a
    /// client that has received nothing since resumes from it). Since: 1.1.
    Token {
        /// The resume token (32 hexadecimal digits).
        token: S,
        /// The server's last message id when the token was issued.
        last_id: u64,
    },
    /// `RESUMED <nick> <token> <1|0> :...`: the answer to
    /// `/resume <nick> <token> [<since>]`: the connection is `nick`'s again,
    /// with its rooms; `token` is the next resume token (the one presented
    /// is spent); `recovered` (1) says every message after `since` follows,
    /// 0 that some were no longer kept. Since: 1.1.
    Resumed {
        /// The nickname taken back.
        nick: S,
        /// The next resume token.
        token: S,
        /// Nothing was lost.
        recovered: bool,
    },
    /// `HISTORY <target> <kind> <from> <id> <time> :<text>`: one message
    /// of the history asked for with `/history` (PROTOCOL.md, "History"),
    /// oldest first; `HISTEND` follows the last one.
    History {
        /// The target as asked for: `#room`, `*`, or the other nickname of
        /// a private conversation.
        target: S,
        /// What the message was.
        kind: HistoryKind,
        /// Who sent it.
        from: S,
        /// Its id (unique on the server, increasing).
        id: u64,
        /// The server's UTC time when it was sent, in milliseconds since
        /// 1970-01-01.
        time: u64,
        /// The text; for a file, its name.
        text: S,
    },
    /// `HISTEND <target> <n> :...`: the end of a `/history` answer, after
    /// its `n` `HISTORY` lines.
    HistoryEnd {
        /// The target as asked for.
        target: S,
        /// How many `HISTORY` lines came.
        count: u64,
    },
    /// `ERROR <code> <subject> :<text>`: a numbered error (PROTOCOL.md,
    /// "Error codes"); the code is written with two digits.
    Error {
        /// The number as sent; [`ServerLine::error_code`] reads it.
        code: u32,
        /// The nickname concerned (for 01, 02), or `None` (written `*`).
        subject: Option<S>,
        /// The human text: the code's text ([`ErrorCode::text`]), then
        /// `": "` and a detail when there is one.
        text: S,
    },
}

/// What a `HISTORY` line's message was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HistoryKind {
    /// A public message (`public`).
    Public,
    /// A private message (`private`).
    Private,
    /// A room message (`room`).
    Room,
    /// A file offered (`file`): the text is the file's name; its bytes are
    /// not kept.
    File,
    /// A binary message (`bytes`): the text is its size; its bytes are not
    /// kept.
    Bytes,
}

impl HistoryKind {
    /// The word on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            HistoryKind::Public => "public",
            HistoryKind::Private => "private",
            HistoryKind::Room => "room",
            HistoryKind::File => "file",
            HistoryKind::Bytes => "bytes",
        }
    }

    /// Reads the word on the wire.
    pub fn parse(word: &str) -> Option<HistoryKind> {
        Some(match word {
            "public" => HistoryKind::Public,
            "private" => HistoryKind::Private,
            "room" => HistoryKind::Room,
            "file" => HistoryKind::File,
            "bytes" => HistoryKind::Bytes,
            _ => return None,
        })
    }
}

/// A message's id and the server's time (PROTOCOL.md, "Message ids and
/// server time"): written as ` id=<id> time=<ms>` words before the text of
/// `PUBLIC`, `PRIVATE`, `ROOM` and `BYTES` lines for a client that said
/// `/tags on`. Readers that do not know them skip them (unknown
/// `name=value` words are ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Tag {
    /// The message's id: unique on the server and increasing (also across
    /// restarts when the server keeps its history in a database).
    pub id: u64,
    /// The server's UTC time when the message arrived, in milliseconds
    /// since 1970-01-01.
    pub time: u64,
}

impl Tag {
    /// The tag in a line without its label (`None` when it has none): the
    /// `id=` and `time=` words before its ` :`.
    pub fn of_line(line: &str) -> Option<Tag> {
        let (head, _) = split_trailing(line);
        let (mut id, mut time) = (None, None);
        for w in head.split(' ') {
            if let Some(v) = w.strip_prefix("id=") {
                id = parse_number(v);
            } else if let Some(v) = w.strip_prefix("time=") {
                time = parse_number(v);
            }
        }
        Some(Tag {
            id: id?,
            time: time?,
        })
    }

    /// The words ` id=<id> time=<ms>`.
    fn push(self, out: &mut Vec<u8>) {
        out.extend_from_slice(b" id=");
        num(out, self.id);
        out.extend_from_slice(b" time=");
        num(out, self.time);
    }
}

/// Why a server line could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineParseError(pub String);

/// One registry change inside a [`ServerLine::Changes`] line: what a single
/// `JOIN`, `LEFT` or `NICK` line would have said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PresenceChange<S> {
    /// Someone registered (`JOIN <nick>`).
    Join(S),
    /// Someone left (`LEFT <nick>`).
    Left(S),
    /// Someone renamed (`NICK <old> <new>`).
    Nick {
        /// The old nickname.
        old: S,
        /// The new nickname.
        new: S,
    },
}

impl<S> PresenceChange<S> {
    /// The same change as its single line (`JOIN`, `LEFT` or `NICK`).
    pub fn into_line(self) -> ServerLine<S> {
        match self {
            PresenceChange::Join(nick) => ServerLine::Join { nick },
            PresenceChange::Left(nick) => ServerLine::Left { nick },
            PresenceChange::Nick { old, new } => ServerLine::Nick { old, new },
        }
    }
}

/// Reads the items of a `CHANGES` line's trailing text (see
/// [`ServerLine::Changes`]); `None` if one is malformed.
fn parse_changes(text: &str) -> Option<Vec<PresenceChange<&str>>> {
    let mut changes = Vec::new();
    for item in text.split(',') {
        let mut words = item.split(' ').filter(|w| !w.is_empty());
        let Some(verb) = words.next() else {
            // Only `CHANGES 0 :` has an empty item.
            if text.trim().is_empty() {
                continue;
            }
            return None;
        };
        match verb {
            "JOIN" | "LEFT" => {
                let before = changes.len();
                for nick in words {
                    changes.push(if verb == "JOIN" {
                        PresenceChange::Join(nick)
                    } else {
                        PresenceChange::Left(nick)
                    });
                }
                if changes.len() == before {
                    return None;
                }
            }
            "NICK" => {
                let (old, new) = (words.next()?, words.next()?);
                if words.next().is_some() {
                    return None;
                }
                changes.push(PresenceChange::Nick { old, new });
            }
            _ => return None,
        }
    }
    Some(changes)
}

impl fmt::Display for LineParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LineParseError {}

fn split_trailing(line: &str) -> (&str, Option<&str>) {
    match line.find(" :") {
        Some(i) => (&line[..i], Some(&line[i + 2..])),
        None => (line, None),
    }
}

impl<'a> ServerLine<&'a str> {
    /// Reads one server line (without its line ending) and its label, if
    /// it has one (PROTOCOL.md, "Labels").
    pub fn parse_labeled(line: &'a str) -> Result<(Option<&'a str>, Self), LineParseError> {
        let (label, rest) = split_label(line)
            .map_err(|_| LineParseError(format!("malformed label in {line:?}")))?;
        Ok((label, ServerLine::parse(rest)?))
    }

    /// Reads one server line without a label (without its line ending).
    pub fn parse(line: &'a str) -> Result<Self, LineParseError> {
        let (head, trailing) = split_trailing(line);
        let mut words = head.split(' ').filter(|w| !w.is_empty());
        let keyword = words
            .next()
            .ok_or_else(|| LineParseError("empty line".into()))?;
        let bad = || LineParseError(format!("malformed {keyword} line: {line:?}"));
        let number = |w: &str| parse_number(w).ok_or_else(bad);
        let mut arg = || words.next().ok_or_else(bad);
        Ok(match keyword {
            "HELLO" => {
                let protocol = arg()?;
                let (mut line_b, mut nick_c, mut payload, mut file) = (None, None, None, None);
                let (mut password_required, mut labels, mut binary) = (false, false, false);
                let (mut tags, mut resume) = (false, false);
                for w in words {
                    match w.split_once('=') {
                        Some(("line", v)) => line_b = v.parse().ok(),
                        Some(("nick", v)) => nick_c = v.parse().ok(),
                        Some(("bytes", v)) => payload = parse_number(v),
                        Some(("file", v)) => file = parse_number(v),
                        Some(("pass", v)) => password_required = v == "required",
                        Some(("labels", v)) => labels = v == "1",
                        Some(("binary", v)) => binary = v == "1",
                        Some(("tags", v)) => tags = v == "1",
                        Some(("resume", v)) => resume = v == "1",
                        _ => {}
                    }
                }
                ServerLine::Hello {
                    protocol,
                    max_line_bytes: line_b,
                    max_nick_chars: nick_c,
                    max_payload_bytes: payload,
                    max_file_bytes: file,
                    password_required,
                    labels,
                    binary,
                    tags,
                    resume,
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
            "CHANGES" => {
                let count: usize = arg()?.parse().map_err(|_| bad())?;
                let changes = parse_changes(trailing.unwrap_or("")).ok_or_else(bad)?;
                if changes.len() != count {
                    return Err(bad());
                }
                ServerLine::Changes(changes)
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
            "BINARY" => match arg()? {
                "on" => ServerLine::Binary(true),
                "off" => ServerLine::Binary(false),
                _ => return Err(bad()),
            },
            "FILEOFFER" => {
                let from = arg()?;
                let id = number(arg()?)?;
                let size = number(arg()?)?;
                let private = words.next() == Some("private");
                // The fixed text holds the first `): ` (a nickname has no
                // `:`); the name is everything after it.
                let text = trailing.ok_or_else(bad)?;
                let (_, name) = text.split_once("): ").ok_or_else(bad)?;
                ServerLine::FileOffer {
                    from,
                    id,
                    size,
                    private,
                    name,
                }
            }
            "BYTESNOTE" => {
                let from = arg()?;
                let size = number(arg()?)?;
                ServerLine::BytesNote {
                    from,
                    size,
                    private: words.next() == Some("private"),
                }
            }
            "TAGS" => match arg()? {
                "on" => ServerLine::Tags(true),
                "off" => ServerLine::Tags(false),
                _ => return Err(bad()),
            },
            "ROOM" => {
                let room = arg()?;
                ServerLine::Room {
                    room,
                    from: arg()?,
                    text: trailing.ok_or_else(bad)?,
                }
            }
            "ROOMJOIN" | "ROOMPART" => {
                let (room, nick) = (arg()?, arg()?);
                if keyword == "ROOMJOIN" {
                    ServerLine::RoomJoin { room, nick }
                } else {
                    ServerLine::RoomPart { room, nick }
                }
            }
            "ROOMKICK" | "ROOMOP" => {
                let (room, by, nick) = (arg()?, arg()?, arg()?);
                if keyword == "ROOMKICK" {
                    ServerLine::RoomKick { room, by, nick }
                } else {
                    ServerLine::RoomOp { room, by, nick }
                }
            }
            "TOPIC" => {
                let (room, by) = (arg()?, arg()?);
                ServerLine::Topic {
                    room,
                    by,
                    text: trailing.unwrap_or(""),
                }
            }
            "MEMBERS" => {
                let room = arg()?;
                let count: usize = arg()?.parse().map_err(|_| bad())?;
                let nicks: Vec<&str> = trailing
                    .unwrap_or("")
                    .split(' ')
                    .filter(|w| !w.is_empty())
                    .collect();
                if nicks.len() != count {
                    return Err(bad());
                }
                ServerLine::Members { room, nicks }
            }
            "ROOMINFO" => {
                let room = arg()?;
                ServerLine::RoomInfo {
                    room,
                    members: number(arg()?)?,
                    topic: trailing.unwrap_or(""),
                }
            }
            "ROOMS" => ServerLine::RoomsEnd {
                count: number(arg()?)?,
            },
            "OPER" => ServerLine::Oper,
            "RESUME" => match arg()? {
                "on" => ServerLine::ResumeCap(true),
                "off" => ServerLine::ResumeCap(false),
                _ => return Err(bad()),
            },
            "TOKEN" => {
                let token = arg()?;
                ServerLine::Token {
                    token,
                    last_id: number(arg()?)?,
                }
            }
            "RESUMED" => {
                let (nick, token) = (arg()?, arg()?);
                let recovered = match arg()? {
                    "1" => true,
                    "0" => false,
                    _ => return Err(bad()),
                };
                ServerLine::Resumed {
                    nick,
                    token,
                    recovered,
                }
            }
            "HISTORY" => {
                let target = arg()?;
                let kind = HistoryKind::parse(arg()?).ok_or_else(bad)?;
                let from = arg()?;
                let id = number(arg()?)?;
                ServerLine::History {
                    target,
                    kind,
                    from,
                    id,
                    time: number(arg()?)?,
                    text: trailing.unwrap_or(""),
                }
            }
            "HISTEND" => {
                let target = arg()?;
                ServerLine::HistoryEnd {
                    target,
                    count: number(arg()?)?,
                }
            }
            "ERROR" => {
                let code: u32 = arg()?.parse().map_err(|_| bad())?;
                let subject = words.next().filter(|s| *s != "*");
                ServerLine::Error {
                    code,
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
}

/// Appends the pieces, without a LF.
fn put_words(out: &mut Vec<u8>, parts: &[&str]) {
    for p in parts {
        out.extend_from_slice(p.as_bytes());
    }
}

/// Appends the pieces and a LF.
fn put(out: &mut Vec<u8>, parts: &[&str]) {
    for p in parts {
        out.extend_from_slice(p.as_bytes());
    }
    out.push(b'\n');
}

/// Appends a decimal number (no allocation).
fn num(out: &mut Vec<u8>, n: u64) {
    // Writing to a Vec cannot fail.
    let _ = write!(out, "{n}");
}

impl<S: AsRef<str>> ServerLine<S> {
    /// The payload bytes that follow this line: `Some(n)` for `CHUNK` and
    /// `BYTES` (PROTOCOL.md, "Payload frames"), `None` for every other line.
    pub fn payload_size(&self) -> Option<u64> {
        match self {
            ServerLine::Chunk { size, .. } | ServerLine::Bytes { size, .. } => Some(*size),
            _ => None,
        }
    }

    /// The code of an `ERROR` line, when it is one papo knows.
    pub fn error_code(&self) -> Option<ErrorCode> {
        match self {
            ServerLine::Error { code, .. } => {
                i32::try_from(*code).ok().and_then(ErrorCode::from_i32)
            }
            _ => None,
        }
    }

    /// A copy that owns its strings.
    pub fn to_owned_line(&self) -> ServerLine<String> {
        self.map(|s| s.as_ref().to_owned())
    }

    /// The same line with every string converted by `f`.
    fn map<T>(&self, mut f: impl FnMut(&S) -> T) -> ServerLine<T> {
        use ServerLine as L;
        match self {
            L::Hello {
                protocol,
                max_line_bytes,
                max_nick_chars,
                max_payload_bytes,
                max_file_bytes,
                password_required,
                labels,
                binary,
                tags,
                resume,
            } => L::Hello {
                protocol: f(protocol),
                max_line_bytes: *max_line_bytes,
                max_nick_chars: *max_nick_chars,
                max_payload_bytes: *max_payload_bytes,
                max_file_bytes: *max_file_bytes,
                password_required: *password_required,
                labels: *labels,
                binary: *binary,
                tags: *tags,
                resume: *resume,
            },
            L::Welcome { nick } => L::Welcome { nick: f(nick) },
            L::Users(nicks) => L::Users(nicks.iter().map(f).collect()),
            L::Public { from, text } => L::Public {
                from: f(from),
                text: f(text),
            },
            L::Private { from, text } => L::Private {
                from: f(from),
                text: f(text),
            },
            L::Sent { to } => L::Sent { to: f(to) },
            L::Join { nick } => L::Join { nick: f(nick) },
            L::Left { nick } => L::Left { nick: f(nick) },
            L::Nick { old, new } => L::Nick {
                old: f(old),
                new: f(new),
            },
            L::Changes(changes) => L::Changes(
                changes
                    .iter()
                    .map(|c| match c {
                        PresenceChange::Join(n) => PresenceChange::Join(f(n)),
                        PresenceChange::Left(n) => PresenceChange::Left(f(n)),
                        PresenceChange::Nick { old, new } => PresenceChange::Nick {
                            old: f(old),
                            new: f(new),
                        },
                    })
                    .collect(),
            ),
            L::Pong(t) => L::Pong(t.as_ref().map(f)),
            L::Ping(t) => L::Ping(t.as_ref().map(f)),
            L::PassAccepted => L::PassAccepted,
            L::Help(t) => L::Help(f(t)),
            L::Presence(on) => L::Presence(*on),
            L::Binary(on) => L::Binary(*on),
            L::FileOffer {
                from,
                id,
                size,
                private,
                name,
            } => L::FileOffer {
                from: f(from),
                id: *id,
                size: *size,
                private: *private,
                name: f(name),
            },
            L::BytesNote {
                from,
                size,
                private,
            } => L::BytesNote {
                from: f(from),
                size: *size,
                private: *private,
            },
            L::FileOk { id } => L::FileOk { id: *id },
            L::FileAck { id, bytes } => L::FileAck {
                id: *id,
                bytes: *bytes,
            },
            L::FileDone { id } => L::FileDone { id: *id },
            L::FileStop { id, reason } => L::FileStop {
                id: *id,
                reason: f(reason),
            },
            L::File {
                from,
                id,
                size,
                private,
                name,
            } => L::File {
                from: f(from),
                id: *id,
                size: *size,
                private: *private,
                name: f(name),
            },
            L::Chunk { id, size } => L::Chunk {
                id: *id,
                size: *size,
            },
            L::FileEnd { id } => L::FileEnd { id: *id },
            L::FileFail { id, reason } => L::FileFail {
                id: *id,
                reason: f(reason),
            },
            L::Bytes {
                from,
                size,
                private,
            } => L::Bytes {
                from: f(from),
                size: *size,
                private: *private,
            },
            L::Tags(on) => L::Tags(*on),
            L::Room { room, from, text } => L::Room {
                room: f(room),
                from: f(from),
                text: f(text),
            },
            L::RoomJoin { room, nick } => L::RoomJoin {
                room: f(room),
                nick: f(nick),
            },
            L::RoomPart { room, nick } => L::RoomPart {
                room: f(room),
                nick: f(nick),
            },
            L::RoomKick { room, by, nick } => L::RoomKick {
                room: f(room),
                by: f(by),
                nick: f(nick),
            },
            L::RoomOp { room, by, nick } => L::RoomOp {
                room: f(room),
                by: f(by),
                nick: f(nick),
            },
            L::Topic { room, by, text } => L::Topic {
                room: f(room),
                by: f(by),
                text: f(text),
            },
            L::Members { room, nicks } => L::Members {
                room: f(room),
                nicks: nicks.iter().map(&mut f).collect(),
            },
            L::RoomInfo {
                room,
                members,
                topic,
            } => L::RoomInfo {
                room: f(room),
                members: *members,
                topic: f(topic),
            },
            L::RoomsEnd { count } => L::RoomsEnd { count: *count },
            L::Oper => L::Oper,
            L::ResumeCap(on) => L::ResumeCap(*on),
            L::Token { token, last_id } => L::Token {
                token: f(token),
                last_id: *last_id,
            },
            L::Resumed {
                nick,
                token,
                recovered,
            } => L::Resumed {
                nick: f(nick),
                token: f(token),
                recovered: *recovered,
            },
            L::History {
                target,
                kind,
                from,
                id,
                time,
                text,
            } => L::History {
                target: f(target),
                kind: *kind,
                from: f(from),
                id: *id,
                time: *time,
                text: f(text),
            },
            L::HistoryEnd { target, count } => L::HistoryEnd {
                target: f(target),
                count: *count,
            },
            L::Error {
                code,
                subject,
                text,
            } => L::Error {
                code: *code,
                subject: subject.as_ref().map(&mut f),
                text: f(text),
            },
        }
    }

    /// Appends the line, prefixed with `@<label> ` when `label` is given
    /// (the answer to a labeled request, PROTOCOL.md "Labels"), and its LF.
    pub fn encode_labeled(&self, label: Option<&str>, out: &mut Vec<u8>) {
        push_label(out, label);
        self.encode(out);
    }

    /// Appends the line as [`ServerLine::encode_labeled`] does, with the
    /// message's [`Tag`] (` id=<id> time=<ms>`) before its text when `tag`
    /// is given: for a client that said `/tags on`. Only message lines
    /// (`PUBLIC`, `PRIVATE`, `ROOM`, `BYTES`) are tagged; other lines are
    /// written without it.
    pub fn encode_tagged(&self, label: Option<&str>, tag: Option<Tag>, out: &mut Vec<u8>) {
        let start = out.len();
        self.encode_labeled(label, out);
        let Some(tag) = tag else {
            return;
        };
        let at = match self {
            // The words end at the first ` :` (a nickname or a room's name
            // has no `:`).
            ServerLine::Public { .. } | ServerLine::Private { .. } | ServerLine::Room { .. } => out
                .get(start..)
                .and_then(|l| l.windows(2).position(|w| w == b" :"))
                .map(|i| start + i),
            // No text: the words end at the LF.
            ServerLine::Bytes { .. } => out.len().checked_sub(1),
            _ => None,
        };
        if let Some(at) = at {
            let mut words = Vec::with_capacity(48);
            tag.push(&mut words);
            out.splice(at..at, words);
        }
    }

    /// Appends the line and its LF to `out`. A payload line (`CHUNK`,
    /// `BYTES`) is followed by its payload and one more LF, which the
    /// caller appends.
    pub fn encode(&self, out: &mut Vec<u8>) {
        use ServerLine as L;
        match self {
            L::Hello {
                protocol,
                max_line_bytes,
                max_nick_chars,
                max_payload_bytes,
                max_file_bytes,
                password_required,
                labels,
                binary,
                tags,
                resume,
            } => {
                out.extend_from_slice(b"HELLO ");
                out.extend_from_slice(protocol.as_ref().as_bytes());
                let limits = [
                    (" line=", max_line_bytes.map(|n| n as u64)),
                    (" nick=", max_nick_chars.map(|n| n as u64)),
                    (" bytes=", *max_payload_bytes),
                    (" file=", *max_file_bytes),
                ];
                for (key, value) in limits {
                    if let Some(v) = value {
                        out.extend_from_slice(key.as_bytes());
                        num(out, v);
                    }
                }
                if *password_required {
                    out.extend_from_slice(b" pass=required");
                }
                if *labels {
                    out.extend_from_slice(b" labels=1");
                }
                if *binary {
                    out.extend_from_slice(b" binary=1");
                }
                if *tags {
                    out.extend_from_slice(b" tags=1");
                }
                if *resume {
                    out.extend_from_slice(b" resume=1");
                }
                let greeting = if *password_required {
                    " :Bem-vindo ao papo! Digite /pass <senha>, depois seu apelido \
                     (type /pass <password>, then your nickname):"
                } else {
                    " :Bem-vindo ao papo! Digite seu apelido (type your nickname):"
                };
                put(out, &[greeting]);
            }
            L::Welcome { nick } => {
                let n = nick.as_ref();
                put(
                    out,
                    &[
                        "WELCOME ",
                        n,
                        " :Bem-vindo, ",
                        n,
                        "! :texto para todos, Apelido:texto para um, /help, quit para sair",
                    ],
                );
            }
            L::Users(nicks) => {
                out.extend_from_slice(b"USERS ");
                num(out, nicks.len() as u64);
                out.extend_from_slice(b" :");
                for (i, n) in nicks.iter().enumerate() {
                    if i > 0 {
                        out.push(b' ');
                    }
                    out.extend_from_slice(n.as_ref().as_bytes());
                }
                out.push(b'\n');
            }
            L::Public { from, text } => put(out, &["PUBLIC ", from.as_ref(), " :", text.as_ref()]),
            L::Private { from, text } => {
                put(out, &["PRIVATE ", from.as_ref(), " :", text.as_ref()])
            }
            L::Sent { to } => put(out, &["SENT ", to.as_ref(), " :Mensagem enviada (message sent)"]),
            L::Join { nick } => {
                let n = nick.as_ref();
                put(out, &["JOIN ", n, " :", n, " entrou no chat (joined)"]);
            }
            L::Left { nick } => {
                let n = nick.as_ref();
                put(out, &["LEFT ", n, " :", n, " saiu do chat (left)"]);
            }
            L::Nick { old, new } => {
                let (o, n) = (old.as_ref(), new.as_ref());
                put(
                    out,
                    &["NICK ", o, " ", n, " :", o, " agora se chama ", n, " (renamed)"],
                );
            }
            L::Changes(changes) => {
                out.extend_from_slice(b"CHANGES ");
                num(out, changes.len() as u64);
                out.extend_from_slice(b" :");
                // Consecutive joins (leaves) share one item; each rename
                // is its own item.
                let mut last: Option<&'static str> = None;
                for c in changes {
                    let (verb, first, second) = match c {
                        PresenceChange::Join(n) => ("JOIN", n, None),
                        PresenceChange::Left(n) => ("LEFT", n, None),
                        PresenceChange::Nick { old, new } => ("NICK", old, Some(new)),
                    };
                    if last == Some(verb) && verb != "NICK" {
                        out.push(b' ');
                    } else {
                        if last.is_some() {
                            out.extend_from_slice(b", ");
                        }
                        out.extend_from_slice(verb.as_bytes());
                        out.push(b' ');
                    }
                    out.extend_from_slice(first.as_ref().as_bytes());
                    if let Some(new) = second {
                        out.push(b' ');
                        out.extend_from_slice(new.as_ref().as_bytes());
                    }
                    last = Some(verb);
                }
                out.push(b'\n');
            }
            L::Pong(None) => put(out, &["PONG"]),
            L::Pong(Some(t)) => put(out, &["PONG :", t.as_ref()]),
            L::Ping(None) => put(out, &["PING"]),
            L::Ping(Some(t)) => put(out, &["PING :", t.as_ref()]),
            L::PassAccepted => put(
                out,
                &["PASS :Senha aceita; digite seu apelido (password accepted; type your nickname)"],
            ),
            L::Help(t) => put(out, &["HELP :", t.as_ref()]),
            L::Presence(true) => put(
                out,
                &["PRESENCE on :avisos de entrada e saída ligados (join/left/nick notices on)"],
            ),
            L::Presence(false) => put(
                out,
                &["PRESENCE off :avisos de entrada e saída desligados (join/left/nick notices off)"],
            ),
            L::Binary(true) => put(
                out,
                &["BINARY on :quadros binários aceitos (binary frames accepted)"],
            ),
            L::Binary(false) => put(
                out,
                &["BINARY off :arquivos e bytes chegam como avisos (files and bytes come as notices)"],
            ),
            L::FileOffer {
                from,
                id,
                size,
                private,
                name,
            } => {
                let from = from.as_ref();
                out.extend_from_slice(b"FILEOFFER ");
                out.extend_from_slice(from.as_bytes());
                out.push(b' ');
                num(out, *id);
                out.push(b' ');
                num(out, *size);
                out.extend_from_slice(if *private { b" private :" } else { b" :" });
                out.extend_from_slice(from.as_bytes());
                out.extend_from_slice(" oferece um arquivo de ".as_bytes());
                num(out, *size);
                put(
                    out,
                    &[
                        " bytes; receba-o com um cliente papo \
                         (offers a file; needs a papo client): ",
                        name.as_ref(),
                    ],
                );
            }
            L::BytesNote {
                from,
                size,
                private,
            } => {
                let from = from.as_ref();
                out.extend_from_slice(b"BYTESNOTE ");
                out.extend_from_slice(from.as_bytes());
                out.push(b' ');
                num(out, *size);
                out.extend_from_slice(if *private { b" private :" } else { b" :" });
                out.extend_from_slice(from.as_bytes());
                out.extend_from_slice(" enviou uma mensagem binária de ".as_bytes());
                num(out, *size);
                put(
                    out,
                    &[" bytes; leia-a com um cliente papo \
                       (sent a binary message; needs a papo client)"],
                );
            }
            L::FileOk { id } => {
                out.extend_from_slice(b"FILEOK ");
                num(out, *id);
                put(
                    out,
                    &[" :Arquivo aceito, envie os blocos (file accepted, send the chunks)"],
                );
            }
            L::FileAck { id, bytes } => {
                out.extend_from_slice(b"FILEACK ");
                num(out, *id);
                out.push(b' ');
                num(out, *bytes);
                out.push(b'\n');
            }
            L::FileDone { id } => {
                out.extend_from_slice(b"FILEDONE ");
                num(out, *id);
                put(out, &[" :Arquivo enviado (file sent)"]);
            }
            L::FileStop { id, reason } => {
                out.extend_from_slice(b"FILESTOP ");
                num(out, *id);
                put(out, &[" :", reason.as_ref()]);
            }
            L::File {
                from,
                id,
                size,
                private,
                name,
            } => {
                out.extend_from_slice(b"FILE ");
                out.extend_from_slice(from.as_ref().as_bytes());
                out.push(b' ');
                num(out, *id);
                out.push(b' ');
                num(out, *size);
                let sep = if *private { " private :" } else { " :" };
                put(out, &[sep, name.as_ref()]);
            }
            L::Chunk { id, size } => {
                out.extend_from_slice(b"CHUNK ");
                num(out, *id);
                out.push(b' ');
                num(out, *size);
                out.push(b'\n');
            }
            L::FileEnd { id } => {
                out.extend_from_slice(b"FILEEND ");
                num(out, *id);
                out.push(b'\n');
            }
            L::FileFail { id, reason } => {
                out.extend_from_slice(b"FILEFAIL ");
                num(out, *id);
                put(out, &[" :", reason.as_ref()]);
            }
            L::Bytes {
                from,
                size,
                private,
            } => {
                out.extend_from_slice(b"BYTES ");
                out.extend_from_slice(from.as_ref().as_bytes());
                out.push(b' ');
                num(out, *size);
                put(out, &[if *private { " private" } else { "" }]);
            }
            L::Tags(true) => put(
                out,
                &["TAGS on :mensagens com id e hora (messages carry ids and times)"],
            ),
            L::Tags(false) => put(
                out,
                &["TAGS off :mensagens sem id e hora (messages without ids and times)"],
            ),
            L::Room { room, from, text } => put(
                out,
                &["ROOM ", room.as_ref(), " ", from.as_ref(), " :", text.as_ref()],
            ),
            L::RoomJoin { room, nick } => {
                let (r, n) = (room.as_ref(), nick.as_ref());
                put(
                    out,
                    &["ROOMJOIN ", r, " ", n, " :", n, " entrou na sala ", r, " (joined the room)"],
                );
            }
            L::RoomPart { room, nick } => {
                let (r, n) = (room.as_ref(), nick.as_ref());
                put(
                    out,
                    &["ROOMPART ", r, " ", n, " :", n, " saiu da sala ", r, " (left the room)"],
                );
            }
            L::RoomKick { room, by, nick } => {
                let (r, b, n) = (room.as_ref(), by.as_ref(), nick.as_ref());
                put(
                    out,
                    &[
                        "ROOMKICK ", r, " ", b, " ", n, " :", b, " tirou ", n, " da sala ", r,
                        " (kicked)",
                    ],
                );
            }
            L::RoomOp { room, by, nick } => {
                let (r, b, n) = (room.as_ref(), by.as_ref(), nick.as_ref());
                put(
                    out,
                    &[
                        "ROOMOP ", r, " ", b, " ", n, " :", b, " fez de ", n,
                        " um operador da sala (made an operator)",
                    ],
                );
            }
            L::Topic { room, by, text } => put(
                out,
                &["TOPIC ", room.as_ref(), " ", by.as_ref(), " :", text.as_ref()],
            ),
            L::Members { room, nicks } => {
                out.extend_from_slice(b"MEMBERS ");
                out.extend_from_slice(room.as_ref().as_bytes());
                out.push(b' ');
                num(out, nicks.len() as u64);
                out.extend_from_slice(b" :");
                for (i, n) in nicks.iter().enumerate() {
                    if i > 0 {
                        out.push(b' ');
                    }
                    out.extend_from_slice(n.as_ref().as_bytes());
                }
                out.push(b'\n');
            }
            L::RoomInfo {
                room,
                members,
                topic,
            } => {
                out.extend_from_slice(b"ROOMINFO ");
                out.extend_from_slice(room.as_ref().as_bytes());
                out.push(b' ');
                num(out, *members);
                put(out, &[" :", topic.as_ref()]);
            }
            L::RoomsEnd { count } => {
                out.extend_from_slice(b"ROOMS ");
                num(out, *count);
                put(out, &[" :fim da lista de salas (end of rooms)"]);
            }
            L::Oper => put(
                out,
                &["OPER :você agora é operador do servidor (you are now a server operator)"],
            ),
            L::ResumeCap(true) => put(
                out,
                &["RESUME on :conexão retomável (resumable connection)"],
            ),
            L::ResumeCap(false) => put(
                out,
                &["RESUME off :conexão não retomável (not resumable)"],
            ),
            L::Token { token, last_id } => {
                put_words(out, &["TOKEN ", token.as_ref(), " "]);
                num(out, *last_id);
                put(out, &[" :guarde para retomar (keep it to resume)"]);
            }
            L::Resumed {
                nick,
                token,
                recovered,
            } => put(
                out,
                &[
                    "RESUMED ",
                    nick.as_ref(),
                    " ",
                    token.as_ref(),
                    if *recovered {
                        " 1 :conexão retomada (resumed)"
                    } else {
                        " 0 :conexão retomada; mensagens perdidas (resumed; messages were lost)"
                    },
                ],
            ),
            L::History {
                target,
                kind,
                from,
                id,
                time,
                text,
            } => {
                put_words(out, &["HISTORY ", target.as_ref(), " ", kind.as_str(), " ", from.as_ref(), " "]);
                num(out, *id);
                out.push(b' ');
                num(out, *time);
                put(out, &[" :", text.as_ref()]);
            }
            L::HistoryEnd { target, count } => {
                put_words(out, &["HISTEND ", target.as_ref(), " "]);
                num(out, *count);
                put(out, &[" :fim do histórico (end of history)"]);
            }
            L::Error {
                code,
                subject,
                text,
            } => {
                // Two digits, as the seed writes its codes (01 ... 05).
                let _ = write!(out, "ERROR {code:02} ");
                let subject = subject.as_ref().map_or("*", |s| s.as_ref());
                put(out, &[subject, " :", text.as_ref()]);
            }
        }
    }
}

/// The text of an `ERROR` line: the code's text, then `": "` and `detail`
/// when there is one.
pub fn error_text(code: ErrorCode, detail: Option<&str>) -> String {
    match detail {
        Some(d) => format!("{}: {d}", code.text()),
        None => code.text().to_owned(),
    }
}

#[cfg(test)]
mod tests;
