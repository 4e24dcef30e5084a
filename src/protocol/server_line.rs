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

use super::names::parse_number;
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
    /// `CLUSTER partitioned|healed :...` (PROTOCOL.md, "Clusters"): this
    /// server lost its link to the other nodes of the chat (until it
    /// heals, only its own users see each other) or got it back. Since: 1.2.
    Cluster(ClusterState),
    /// `LOST <n> :...` (PROTOCOL.md, "Clusters"): `n` messages meant for
    /// this client from other nodes were lost between the nodes. Since: 1.2.
    Lost {
        /// How many messages (at least 1).
        count: u64,
    },
    /// `RENAMED <old> <new> :...` (PROTOCOL.md, "Clusters"): the server
    /// changed this client's nickname, because another node's user held it
    /// first when a partition healed. Since: 1.2.
    Renamed {
        /// The nickname before.
        old: S,
        /// The nickname now.
        new: S,
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

/// What a `CLUSTER` line says (PROTOCOL.md, "Clusters").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClusterState {
    /// `partitioned`: the other nodes are out of reach; chat goes on among
    /// this server's own users.
    Partitioned,
    /// `healed`: the other nodes are back; one chat again.
    Healed,
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

/// The text of an `ERROR` line: the code's text, then `": "` and `detail`
/// when there is one.
pub fn error_text(code: ErrorCode, detail: Option<&str>) -> String {
    match detail {
        Some(d) => format!("{}: {d}", code.text()),
        None => code.text().to_owned(),
    }
}

mod encode;
mod parse;
#[cfg(test)]
mod tests;
