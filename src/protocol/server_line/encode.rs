//! Encoding a server line: [`ServerLine::encode`] and its helpers, the
//! one writer of every line a server sends.

use std::io::Write;

use super::super::names::push_label;
use super::*;

impl Tag {
    /// The words ` id=<id> time=<ms>`.
    fn push(self, out: &mut Vec<u8>) {
        out.extend_from_slice(b" id=");
        num(out, self.id);
        out.extend_from_slice(b" time=");
        num(out, self.time);
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
            L::Cluster(state) => L::Cluster(*state),
            L::Lost { count } => L::Lost { count: *count },
            L::Renamed { old, new } => L::Renamed {
                old: f(old),
                new: f(new),
            },
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
            L::Cluster(ClusterState::Partitioned) => put(
                out,
                &["CLUSTER partitioned :sem contato com os outros servidores (cut off from the other servers)"],
            ),
            L::Cluster(ClusterState::Healed) => put(
                out,
                &["CLUSTER healed :de volta ao chat inteiro (back in the whole chat)"],
            ),
            L::Lost { count } => {
                put_words(out, &["LOST "]);
                num(out, *count);
                put(out, &[" :mensagens perdidas entre servidores (messages lost between servers)"]);
            }
            L::Renamed { old, new } => put(
                out,
                &[
                    "RENAMED ",
                    old.as_ref(),
                    " ",
                    new.as_ref(),
                    " :apelido já era de outro servidor (nickname was another server's first)",
                ],
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
