//! Client events in the C ABI: the `papo_event` struct, its kinds
//! (`papo_event_kind`), and the conversion of every [`crate::client::Event`]
//! into it, in one exhaustive match. `client.rs` (papo_client_wait_event)
//! and `legacy.rs` (0.1's papo_client_next_event) use it; it uses nothing of
//! the other client modules.

use std::ffi::{c_char, c_int, CString};

use super::{c_string, opt_ptr};
use crate::client::{ClusterState, Event, HistoryEntry, Reply, RoomInfo, RoomMember};
use papo_event_kind::*;

/// What a papo_event is (its `kind`). The numbers never change; a later
/// version may add kinds, so a `switch` over them needs a `default:` that
/// ignores what it does not know.
///
/// Since: 1.0 (the values 1..15 are those of 0.1's PAPO_EVENT_* macros).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum papo_event_kind {
    /// Never in an event the library hands out; a value for "no event yet"
    /// in the caller's own variables.
    PAPO_EVENT_NONE = 0,
    /// A public message (`:text`): `nick` sent `text` to
    /// everyone.
    PAPO_EVENT_PUBLIC = 1,
    /// A private message to this client: "Mensagem recebida
    /// de: `nick`" (seed 000 server manual item 6).
    PAPO_EVENT_PRIVATE = 2,
    /// `nick` joined the chat.
    PAPO_EVENT_JOINED = 3,
    /// `nick` left the chat (quit or was dropped).
    PAPO_EVENT_LEFT = 4,
    /// Someone, perhaps this client, renamed from `nick` to
    /// `new_nick`.
    PAPO_EVENT_NICK_CHANGED = 5,
    /// An error line from the server that answers no request
    /// of this API; `code` and `text` say which.
    PAPO_EVENT_ERROR = 6,
    /// The connection ended; always the last event. `code` is
    /// PAPO_ERR_CONNECTION_ABORTED (03) when the server closed it or it was
    /// lost, PAPO_ERR_CLOSED when this client left by itself.
    PAPO_EVENT_DISCONNECTED = 7,
    /// A binary message: `nick` sent `data_len` bytes at
    /// `data` (any bytes, NUL included), to this client alone if `is_private`
    /// is 1, else to everyone.
    PAPO_EVENT_BYTES = 8,
    /// A file began to arrive from `nick` (seed 002: a file
    /// sent to all reaches every other user): `file_id` numbers it,
    /// `file_name` is the safe name it will be saved under, `bytes_total` its
    /// size, `is_private` 1 if sent to this client alone. It is written to a
    /// temporary file in the download folder as it comes;
    /// PAPO_EVENT_FILE_PROGRESS events follow, then PAPO_EVENT_FILE_RECEIVED or
    /// PAPO_EVENT_FILE_FAILED with the same `file_id`.
    PAPO_EVENT_FILE_OFFERED = 9,
    /// More of file `file_id` from `nick` arrived:
    /// `bytes_done` of `bytes_total` bytes (once per whole percent).
    PAPO_EVENT_FILE_PROGRESS = 10,
    /// File `file_id` from `nick` arrived whole and was saved
    /// at `path` (inside the download folder; never replacing a file: the name
    /// may have " (n)" added). `bytes_done` = `bytes_total` = its size.
    PAPO_EVENT_FILE_RECEIVED = 11,
    /// File `file_id` from `nick` will not arrive; `text` says
    /// why (the sender left or gave up, wrong size, cannot write, connection
    /// lost). Nothing of it is left in the download folder.
    PAPO_EVENT_FILE_FAILED = 12,
    /// The server forwarded `bytes_done` of the `bytes_total`
    /// bytes of this client's file `file_id` (papo_client_send_file()) to `nick`
    /// (NULL: everyone); once per whole percent.
    PAPO_EVENT_FILE_SEND_PROGRESS = 13,
    /// Every byte of this client's file `file_id` was forwarded
    /// to `nick` (NULL: everyone). `bytes_done` = `bytes_total` = its size.
    PAPO_EVENT_FILE_SENT = 14,
    /// This client's file `file_id` was not sent whole; `text`
    /// says why (receiver left, file unreadable or changed size, connection
    /// lost).
    PAPO_EVENT_FILE_SEND_FAILED = 15,
    /// The answer to an asynchronous request of this client
    /// (papo_client_send_async(), papo_client_send_bytes_async(),
    /// papo_client_set_nick_async(), papo_client_ping_async(),
    /// papo_client_users_async(), papo_client_send_file_async()), as
    /// libmpv's MPV_EVENT_COMMAND_REPLY: `userdata` is the request's,
    /// `code` is 0 on success or the error the request's blocking twin
    /// would have returned (02 for a private message to nobody, 01 for a
    /// nickname in use, 03 when the connection ended first), `text` is the
    /// error's detail, or for a users request the nicknames online sorted
    /// case-insensitively and separated by '\n' (NULL for other
    /// successes), `file_id` is the transfer's number when a file offer
    /// was accepted. Every accepted request gets exactly one REPLY, in the
    /// order of the requests, before the final DISCONNECTED. Since: 1.0.
    PAPO_EVENT_REPLY = 16,
    /// A message to a room this client is in: `nick` sent `text` to `room`;
    /// `message_id` and `time_ms` say which and when. Since: 1.1.
    PAPO_EVENT_ROOM = 17,
    /// `nick` joined `room` (this client itself after papo_client_join()).
    /// With presence off, only this client's own joins. Since: 1.1.
    PAPO_EVENT_ROOM_JOINED = 18,
    /// `nick` left `room` (this client itself after papo_client_part()).
    /// Someone leaving the server leaves its rooms too, told only by
    /// PAPO_EVENT_LEFT. Since: 1.1.
    PAPO_EVENT_ROOM_LEFT = 19,
    /// Operator `by` put `nick` (perhaps this client) out of `room`.
    /// Since: 1.1.
    PAPO_EVENT_ROOM_KICKED = 20,
    /// `room`'s topic is now `text` (empty: none), set by `by` ("*" when
    /// the server tells a newcomer the topic it joined with). Since: 1.1.
    PAPO_EVENT_TOPIC = 21,
    /// Operator `by` made `nick` an operator of `room`. Since: 1.1.
    PAPO_EVENT_ROOM_OPERATOR = 22,
    /// The connection was lost (without this client's quit) and the client
    /// connects again by itself (papo_client_options_set_reconnect()):
    /// attempt number `attempt` (1, 2, ...) is about to start. Requests
    /// waiting for an answer got PAPO_ERR_CONNECTION_ABORTED; new ones wait
    /// for the reconnection (up to the reply timeout). After the last
    /// attempt fails comes PAPO_EVENT_DISCONNECTED. Since: 1.1.
    PAPO_EVENT_RECONNECTING = 23,
    /// Connected again, with the same nickname. `recovered` 1: the server
    /// had held the connection, the rooms are kept, and every message sent
    /// to this client meanwhile follows, in order, none twice. 0: the
    /// server had let it go (its grace period passed, it restarted) or no
    /// longer had all of it: the client registered afresh and joined its
    /// rooms again; fetch what is missing with papo_client_history().
    /// Since: 1.1.
    PAPO_EVENT_RECONNECTED = 24,
    /// The server lost its link to the other servers of its cluster
    /// (PROTOCOL.md, "Clusters"): until PAPO_EVENT_CLUSTER_HEALED, the chat
    /// goes on among this server's own users only (PROTOCOL.md says what
    /// happens meanwhile to messages for users of the other servers). No
    /// field is set (`nick`, `text` NULL, `count` 0). A server that is no
    /// cluster never sends it. Since: 1.2.
    PAPO_EVENT_CLUSTER_PARTITIONED = 25,
    /// The server is linked to the other servers of its cluster again: one
    /// chat again (PROTOCOL.md, "Clusters"). No field is set. Since: 1.2.
    PAPO_EVENT_CLUSTER_HEALED = 26,
    /// `count` messages meant for this client were lost between the
    /// servers of its cluster and will not arrive; the server says so
    /// rather than lose them silently (PROTOCOL.md, "Clusters").
    /// papo_client_history() may still have them. Since: 1.2.
    PAPO_EVENT_LOST = 27,
    /// The server changed this client's own nickname from `nick` to
    /// `new_nick`: when a partition of its cluster healed, a user of
    /// another server had held `nick` first (PROTOCOL.md, "Clusters").
    /// The client is known by `new_nick` from then on (a reconnection
    /// presents it). Other users see an ordinary PAPO_EVENT_NICK_CHANGED.
    /// Since: 1.2.
    PAPO_EVENT_RENAMED = 28,
}

/// Something that arrived from the server, handed out by
/// papo_client_wait_event().
///
/// Ownership: the library owns the event and everything it points to; they
/// stay valid until the next papo_client_wait_event() on the same client or
/// Desconecta_cliente(), whichever comes first; copy what you keep. Strings
/// are UTF-8 and NUL-terminated.
///
/// Compatibility: a later 1.x version may append fields. Never allocate a
/// papo_event, copy one by value or take its sizeof; read it only through
/// the pointer the library gave.
///
/// Since: 1.0 (0.1 filled a caller's struct of the same first fields).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct papo_event {
    /// What happened.
    pub kind: papo_event_kind,
    /// ERROR and DISCONNECTED: the code (PAPO_ERR_*); REPLY: 0 or the
    /// request's error code; otherwise 0.
    pub code: c_int,
    /// PUBLIC, PRIVATE: the sender; JOINED, LEFT: who; NICK_CHANGED,
    /// RENAMED (since 1.2): the old nickname; otherwise NULL.
    pub nick: *const c_char,
    /// NICK_CHANGED, RENAMED (since 1.2): the new nickname; otherwise NULL.
    pub new_nick: *const c_char,
    /// PUBLIC, PRIVATE: the message; ERROR, DISCONNECTED: a short text;
    /// REPLY: the error's detail, or a users request's nicknames separated
    /// by '\n' (NULL for other successes); otherwise NULL.
    pub text: *const c_char,
    /// Bytes of `text` without its NUL; 0 when `text` is NULL.
    pub text_len: usize,
    // The fields below were added with file transfer (kinds 8-15); they
    // are 0 / NULL for the kinds 1-7.
    /// FILE_*: the transfer's number (papo_client_send_file() returns it for
    /// files this client sends); REPLY to papo_client_send_file_async(): the
    /// number of the file the server accepted; otherwise 0.
    pub file_id: u64,
    /// FILE_PROGRESS, FILE_SEND_PROGRESS: bytes received / forwarded so
    /// far; FILE_RECEIVED, FILE_SENT: the size; otherwise 0.
    pub bytes_done: u64,
    /// FILE_OFFERED, FILE_PROGRESS, FILE_RECEIVED, FILE_SEND_PROGRESS,
    /// FILE_SENT: the file's size in bytes; otherwise 0.
    pub bytes_total: u64,
    /// FILE_*: the file's name: for received files the announced name
    /// reduced to a safe base name (the saved name may add " (n)"), for
    /// sent files the name announced; otherwise NULL.
    pub file_name: *const c_char,
    /// FILE_RECEIVED: where the file was saved (inside the download
    /// folder); otherwise NULL.
    pub path: *const c_char,
    /// BYTES: the message's bytes (any bytes, NUL included; followed by no
    /// NUL of its own), NULL for an empty message; otherwise NULL. Owned like
    /// the strings.
    pub data: *const u8,
    /// BYTES: bytes at `data`; otherwise 0.
    pub data_len: usize,
    /// BYTES, FILE_OFFERED: 1 when sent to this client alone, 0 when sent
    /// to everyone; otherwise 0.
    pub is_private: c_int,
    /// REPLY: the userdata of the request it answers (any number the
    /// caller chose); otherwise 0. Since: 1.0.
    pub userdata: u64,
    // The fields below were added with rooms and message ids (1.1); they
    // are 0 / NULL for the kinds that do not say otherwise.
    /// ROOM, ROOM_JOINED, ROOM_LEFT, ROOM_KICKED, TOPIC, ROOM_OPERATOR: the
    /// room's name ('#' included); REPLY to papo_client_join_async(): the
    /// room's name as the server keeps it; otherwise NULL. Since: 1.1.
    pub room: *const c_char,
    /// ROOM_KICKED, ROOM_OPERATOR, TOPIC: the operator who did it;
    /// otherwise NULL. Since: 1.1.
    pub by: *const c_char,
    /// PUBLIC, PRIVATE, ROOM: the message's id, unique on the server and
    /// increasing (0 when the server gave none); otherwise 0. Since: 1.1.
    pub message_id: u64,
    /// PUBLIC, PRIVATE, ROOM: the server's UTC time when it took the
    /// message, in milliseconds since 1970-01-01 (0 when the server gave
    /// none); otherwise 0. Since: 1.1.
    pub time_ms: u64,
    /// RECONNECTING: the attempt about to start, from 1; otherwise 0.
    /// Since: 1.1.
    pub attempt: u32,
    /// RECONNECTED: 1 when nothing was lost, 0 when messages may be
    /// missing; otherwise 0. Since: 1.1.
    pub recovered: c_int,
    // The fields below were added with clusters (1.2); they are 0 for the
    // kinds that do not say otherwise.
    /// LOST: how many messages were lost (at least 1); otherwise 0.
    /// Since: 1.2.
    pub count: u64,
}

/// What a client event owns for C: its kind and code, its strings and
/// bytes, and its numbers. Kept by the client handle until the next
/// papo_client_wait_event() or Desconecta_cliente(), so that the pointers
/// of the [`papo_event`] made by [`EventData::as_c`] stay valid.
pub(crate) struct EventData {
    kind: papo_event_kind,
    code: c_int,
    nick: Option<CString>,
    new_nick: Option<CString>,
    text: Option<CString>,
    file_name: Option<CString>,
    path: Option<CString>,
    data: Option<Vec<u8>>,
    file_id: u64,
    bytes_done: u64,
    bytes_total: u64,
    is_private: c_int,
    userdata: u64,
    room: Option<CString>,
    by: Option<CString>,
    message_id: u64,
    time_ms: u64,
    attempt: u32,
    recovered: c_int,
    count: u64,
}

impl EventData {
    fn new(kind: papo_event_kind) -> EventData {
        EventData {
            kind,
            code: 0,
            nick: None,
            new_nick: None,
            text: None,
            file_name: None,
            path: None,
            data: None,
            file_id: 0,
            bytes_done: 0,
            bytes_total: 0,
            is_private: 0,
            userdata: 0,
            room: None,
            by: None,
            message_id: 0,
            time_ms: 0,
            attempt: 0,
            recovered: 0,
            count: 0,
        }
    }

    /// The C form of every event: one arm per kind, no fallback.
    pub(crate) fn from_event(event: Event) -> EventData {
        let text = |kind, from: &str, text: &str| EventData {
            nick: Some(c_string(from)),
            text: Some(c_string(text)),
            ..EventData::new(kind)
        };
        let who = |kind, nick: &str| EventData {
            nick: Some(c_string(nick)),
            ..EventData::new(kind)
        };
        let coded = |kind, code: crate::ErrorCode, text: &str| EventData {
            code: code as c_int,
            text: Some(c_string(text)),
            ..EventData::new(kind)
        };
        let file = |kind, id, nick: Option<&str>, name: &str| EventData {
            file_id: id,
            nick: nick.map(c_string),
            file_name: Some(c_string(name)),
            ..EventData::new(kind)
        };
        match event {
            Event::Reconnecting { attempt } => EventData {
                attempt,
                ..EventData::new(PAPO_EVENT_RECONNECTING)
            },
            Event::Reconnected { recovered } => EventData {
                recovered: c_int::from(recovered),
                ..EventData::new(PAPO_EVENT_RECONNECTED)
            },
            Event::Cluster { state } => EventData::new(match state {
                ClusterState::Partitioned => PAPO_EVENT_CLUSTER_PARTITIONED,
                ClusterState::Healed => PAPO_EVENT_CLUSTER_HEALED,
            }),
            Event::Lost { count } => EventData {
                count,
                ..EventData::new(PAPO_EVENT_LOST)
            },
            Event::Renamed { old, new } => EventData {
                new_nick: Some(c_string(&new)),
                ..who(PAPO_EVENT_RENAMED, &old)
            },
            Event::Public {
                from,
                text: t,
                id,
                time,
            } => EventData {
                message_id: id,
                time_ms: time,
                ..text(PAPO_EVENT_PUBLIC, &from, &t)
            },
            Event::Private {
                from,
                text: t,
                id,
                time,
            } => EventData {
                message_id: id,
                time_ms: time,
                ..text(PAPO_EVENT_PRIVATE, &from, &t)
            },
            Event::Room {
                room,
                from,
                text: t,
                id,
                time,
            } => EventData {
                room: Some(c_string(&room)),
                message_id: id,
                time_ms: time,
                ..text(PAPO_EVENT_ROOM, &from, &t)
            },
            Event::RoomJoined { room, nick } => EventData {
                room: Some(c_string(&room)),
                ..who(PAPO_EVENT_ROOM_JOINED, &nick)
            },
            Event::RoomLeft { room, nick } => EventData {
                room: Some(c_string(&room)),
                ..who(PAPO_EVENT_ROOM_LEFT, &nick)
            },
            Event::RoomKicked { room, by, nick } => EventData {
                room: Some(c_string(&room)),
                by: Some(c_string(&by)),
                ..who(PAPO_EVENT_ROOM_KICKED, &nick)
            },
            Event::RoomOperator { room, by, nick } => EventData {
                room: Some(c_string(&room)),
                by: Some(c_string(&by)),
                ..who(PAPO_EVENT_ROOM_OPERATOR, &nick)
            },
            Event::TopicChanged { room, by, text: t } => EventData {
                room: Some(c_string(&room)),
                by: Some(c_string(&by)),
                text: Some(c_string(&t)),
                ..EventData::new(PAPO_EVENT_TOPIC)
            },
            Event::Joined { nick } => who(PAPO_EVENT_JOINED, &nick),
            Event::Left { nick } => who(PAPO_EVENT_LEFT, &nick),
            Event::NickChanged { old, new } => EventData {
                new_nick: Some(c_string(&new)),
                ..who(PAPO_EVENT_NICK_CHANGED, &old)
            },
            Event::Error { code, text: t } => coded(PAPO_EVENT_ERROR, code, &t),
            Event::Disconnected { code, reason } => coded(PAPO_EVENT_DISCONNECTED, code, &reason),
            Event::Bytes {
                from,
                data,
                private,
            } => EventData {
                data: Some(data),
                is_private: c_int::from(private),
                ..who(PAPO_EVENT_BYTES, &from)
            },
            Event::FileOffered {
                id,
                from,
                name,
                size,
                private,
            } => EventData {
                bytes_total: size,
                is_private: c_int::from(private),
                ..file(PAPO_EVENT_FILE_OFFERED, id, Some(&from), &name)
            },
            Event::FileProgress {
                id,
                from,
                name,
                bytes_done,
                bytes_total,
            } => EventData {
                bytes_done,
                bytes_total,
                ..file(PAPO_EVENT_FILE_PROGRESS, id, Some(&from), &name)
            },
            Event::FileReceived {
                id,
                from,
                name,
                path,
                size,
            } => EventData {
                path: Some(path_c_string(&path)),
                bytes_done: size,
                bytes_total: size,
                ..file(PAPO_EVENT_FILE_RECEIVED, id, Some(&from), &name)
            },
            Event::FileFailed {
                id,
                from,
                name,
                reason,
            } => EventData {
                text: Some(c_string(&reason)),
                ..file(PAPO_EVENT_FILE_FAILED, id, Some(&from), &name)
            },
            Event::FileSendProgress {
                id,
                to,
                name,
                bytes_done,
                bytes_total,
            } => EventData {
                bytes_done,
                bytes_total,
                ..file(PAPO_EVENT_FILE_SEND_PROGRESS, id, to.as_deref(), &name)
            },
            Event::FileSent { id, to, name, size } => EventData {
                bytes_done: size,
                bytes_total: size,
                ..file(PAPO_EVENT_FILE_SENT, id, to.as_deref(), &name)
            },
            Event::FileSendFailed {
                id,
                to,
                name,
                reason,
            } => EventData {
                text: Some(c_string(&reason)),
                ..file(PAPO_EVENT_FILE_SEND_FAILED, id, to.as_deref(), &name)
            },
            Event::Reply { userdata, outcome } => {
                let reply = EventData {
                    userdata,
                    ..EventData::new(PAPO_EVENT_REPLY)
                };
                match outcome {
                    Ok(Reply::Sent | Reply::Nick | Reply::Pong | Reply::Parted | Reply::Done) => {
                        reply
                    }
                    Ok(Reply::Joined(room)) => EventData {
                        room: Some(c_string(&room)),
                        ..reply
                    },
                    Ok(Reply::Rooms(rooms)) => EventData {
                        text: Some(c_string(&rooms_text(&rooms))),
                        ..reply
                    },
                    Ok(Reply::Members(members)) => EventData {
                        text: Some(c_string(&members_text(&members))),
                        ..reply
                    },
                    Ok(Reply::History(entries)) => EventData {
                        text: Some(c_string(&history_text(&entries))),
                        ..reply
                    },
                    Ok(Reply::Users(nicks)) => EventData {
                        text: Some(c_string(&nicks.join("\n"))),
                        ..reply
                    },
                    Ok(Reply::FileOk(id)) => EventData {
                        file_id: id,
                        ..reply
                    },
                    Err(e) => EventData {
                        code: e.code as c_int,
                        text: Some(c_string(&e.detail)),
                        ..reply
                    },
                }
            }
        }
    }

    /// The C struct, pointing into `self`.
    pub(crate) fn as_c(&self) -> papo_event {
        papo_event {
            kind: self.kind,
            code: self.code,
            nick: opt_ptr(&self.nick),
            new_nick: opt_ptr(&self.new_nick),
            text: opt_ptr(&self.text),
            text_len: self.text.as_ref().map_or(0, |t| t.as_bytes().len()),
            file_id: self.file_id,
            bytes_done: self.bytes_done,
            bytes_total: self.bytes_total,
            file_name: opt_ptr(&self.file_name),
            path: opt_ptr(&self.path),
            // NULL rather than a dangling pointer for an empty message.
            data: self
                .data
                .as_ref()
                .filter(|d| !d.is_empty())
                .map_or(std::ptr::null(), |d| d.as_ptr()),
            data_len: self.data.as_ref().map_or(0, Vec::len),
            is_private: self.is_private,
            userdata: self.userdata,
            room: opt_ptr(&self.room),
            by: opt_ptr(&self.by),
            message_id: self.message_id,
            time_ms: self.time_ms,
            attempt: self.attempt,
            recovered: self.recovered,
            count: self.count,
        }
    }
}

/// The rooms as C gets them (papo_client_rooms()): one room per line,
/// `name TAB members TAB topic`, lines separated by '\n'.
pub(crate) fn rooms_text(rooms: &[RoomInfo]) -> String {
    rooms
        .iter()
        .map(|r| format!("{}\t{}\t{}", r.name, r.members, r.topic))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A room's members as C gets them: one per line, '@' in front of an
/// operator's nickname.
pub(crate) fn members_text(members: &[RoomMember]) -> String {
    members
        .iter()
        .map(|m| {
            if m.operator {
                format!("@{}", m.nick)
            } else {
                m.nick.clone()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// History as C gets it (papo_client_history()): one message per line,
/// `id TAB time_ms TAB kind TAB from TAB text`, oldest first (the text,
/// last, may itself hold TABs, never a line feed).
pub(crate) fn history_text(entries: &[HistoryEntry]) -> String {
    entries
        .iter()
        .map(|e| {
            format!(
                "{}\t{}\t{}\t{}\t{}",
                e.id,
                e.time,
                e.kind.as_str(),
                e.from,
                e.text
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn path_c_string(path: &std::path::Path) -> CString {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        // A path holds no NUL on Unix; c_string's fallback is for the others.
        CString::new(path.as_os_str().as_bytes().to_vec())
            .unwrap_or_else(|_| c_string(&path.to_string_lossy()))
    }
    #[cfg(not(unix))]
    {
        c_string(&path.to_string_lossy())
    }
}
