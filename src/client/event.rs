//! What the client hands its caller: [`Event`], and the outcome of an
//! asynchronous request ([`Reply`], [`ReplyError`]).

#[allow(unused_imports)] // for the doc links
use super::Client;
use crate::error::{Error, ErrorCode};
pub use crate::protocol::ClusterState;

/// Something that arrived from the server, queued for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A public message (`:text`) from `from`.
    Public {
        /// Who sent it.
        from: String,
        /// The text.
        text: String,
        /// The message's id: unique on the server and increasing
        /// (PROTOCOL.md, "Message ids and server time"); 0 when the server
        /// gave none (a server older than 1.1). Since: 1.1.
        id: u64,
        /// The server's UTC time when it took the message, in milliseconds
        /// since 1970-01-01; 0 when the server gave none. Since: 1.1.
        time: u64,
    },
    /// A private message to this client ("Mensagem recebida de: from").
    Private {
        /// Who sent it.
        from: String,
        /// The text.
        text: String,
        /// As in [`Event::Public`]. Since: 1.1.
        id: u64,
        /// As in [`Event::Public`]. Since: 1.1.
        time: u64,
    },
    /// A message to a room this client is a member of (PROTOCOL.md,
    /// "Rooms"). Since: 1.1.
    Room {
        /// The room's name, `#` included.
        room: String,
        /// Who sent it.
        from: String,
        /// The text.
        text: String,
        /// As in [`Event::Public`].
        id: u64,
        /// As in [`Event::Public`].
        time: u64,
    },
    /// `nick` joined `room` (this client itself after [`Client::join`]).
    /// With presence off, only this client's own joins are told. Since: 1.1.
    RoomJoined {
        /// The room's name.
        room: String,
        /// Who joined.
        nick: String,
    },
    /// `nick` left `room` (this client itself after [`Client::part`]).
    /// Someone who leaves the server leaves its rooms too, told only by
    /// [`Event::Left`]. Since: 1.1.
    RoomLeft {
        /// The room's name.
        room: String,
        /// Who left.
        nick: String,
    },
    /// Operator `by` put `nick` (perhaps this client) out of `room`.
    /// Since: 1.1.
    RoomKicked {
        /// The room's name.
        room: String,
        /// The operator.
        by: String,
        /// Who was put out.
        nick: String,
    },
    /// `room`'s topic is now `text` (empty: none), set by `by` (`*` when
    /// the server tells a newcomer the topic it joined with). Since: 1.1.
    TopicChanged {
        /// The room's name.
        room: String,
        /// Who set it.
        by: String,
        /// The topic.
        text: String,
    },
    /// Operator `by` made `nick` an operator of `room`. Since: 1.1.
    RoomOperator {
        /// The room's name.
        room: String,
        /// The operator who did it.
        by: String,
        /// The new operator.
        nick: String,
    },
    /// Someone registered.
    Joined {
        /// Their nickname.
        nick: String,
    },
    /// Someone left (quit or dropped).
    Left {
        /// Their nickname.
        nick: String,
    },
    /// Someone renamed, perhaps this client itself.
    NickChanged {
        /// The old nickname.
        old: String,
        /// The new nickname.
        new: String,
    },
    /// An error line from the server that answers no request of this
    /// client's API.
    Error {
        /// The code.
        code: ErrorCode,
        /// The server's text.
        text: String,
    },
    /// A binary message (`/bytes`, PROTOCOL.md "Files and binary payloads"):
    /// arbitrary bytes, any length up to the server's `max_payload_bytes`.
    Bytes {
        /// Who sent it.
        from: String,
        /// The bytes, exactly as sent.
        data: Vec<u8>,
        /// Sent to this client alone (else to everyone).
        private: bool,
    },
    /// A file began to arrive from `from` (seed 002: every other user
    /// receives a file sent to all). It is saved as it comes, in a
    /// temporary file of the download folder ([`Client::download_dir`]);
    /// [`Event::FileProgress`] events follow, then [`Event::FileReceived`]
    /// or [`Event::FileFailed`] with the same `id`.
    FileOffered {
        /// The transfer's number (unique on the server).
        id: u64,
        /// The sender's nickname.
        from: String,
        /// The name it will be saved under: the announced name reduced to a
        /// safe base name ([`crate::protocol::safe_file_name`]); if taken,
        /// the final name gets a ` (n)`.
        name: String,
        /// The announced size, in bytes.
        size: u64,
        /// Sent to this client alone (else to everyone).
        private: bool,
    },
    /// More of file `id` arrived. Sent each time another whole percent
    /// arrived (at most 100 times per file).
    FileProgress {
        /// The transfer's number.
        id: u64,
        /// The sender's nickname.
        from: String,
        /// The (safe) name, as in [`Event::FileOffered`].
        name: String,
        /// Bytes received and written so far.
        bytes_done: u64,
        /// The file's size in bytes.
        bytes_total: u64,
    },
    /// File `id` arrived whole and was saved at `path`, inside the download
    /// folder, without replacing any existing file.
    FileReceived {
        /// The transfer's number.
        id: u64,
        /// The sender's nickname.
        from: String,
        /// The (safe) name, as in [`Event::FileOffered`].
        name: String,
        /// Where it was saved (the name may have a ` (n)` added).
        path: std::path::PathBuf,
        /// Its size in bytes.
        size: u64,
    },
    /// File `id` will not arrive: the sender left or gave up, the bytes did
    /// not match the announced size, the file could not be written, or the
    /// connection ended. Nothing of it is left in the download folder.
    FileFailed {
        /// The transfer's number.
        id: u64,
        /// The sender's nickname.
        from: String,
        /// The (safe) name, as in [`Event::FileOffered`].
        name: String,
        /// Why, in words.
        reason: String,
    },
    /// More of this client's file `id` ([`Client::send_file`]) was taken
    /// and forwarded by the server. Sent each time another whole percent
    /// was forwarded (at most 100 times per file).
    FileSendProgress {
        /// The transfer's number, as returned by [`Client::send_file`].
        id: u64,
        /// The destination, or `None` for everyone.
        to: Option<String>,
        /// The name it was announced under.
        name: String,
        /// Bytes forwarded so far.
        bytes_done: u64,
        /// The file's size in bytes.
        bytes_total: u64,
    },
    /// Every byte of this client's file `id` was forwarded to its
    /// receivers.
    FileSent {
        /// The transfer's number.
        id: u64,
        /// The destination, or `None` for everyone.
        to: Option<String>,
        /// The name it was announced under.
        name: String,
        /// Its size in bytes.
        size: u64,
    },
    /// This client's file `id` was not sent whole: the receiver left, the
    /// file could not be read (or changed size), or the connection ended.
    FileSendFailed {
        /// The transfer's number.
        id: u64,
        /// The destination, or `None` for everyone.
        to: Option<String>,
        /// The name it was announced under.
        name: String,
        /// Why, in words.
        reason: String,
    },
    /// The answer to an asynchronous request of this client
    /// ([`Client::send_async`], [`Client::send_bytes_async`],
    /// [`Client::change_nick_async`], [`Client::ping_async`],
    /// [`Client::users_async`], [`Client::send_file_async`]), as libmpv's
    /// `MPV_EVENT_COMMAND_REPLY` answers `mpv_command_async`.
    ///
    /// Every asynchronous request that was accepted (its call returned
    /// `Ok`) gets exactly one `Reply`, and replies come in the order of the
    /// requests. They are queued even when the event queue is full (they
    /// are bounded by the caller's own outstanding requests), and when the
    /// connection ends, every request still waiting gets its reply with
    /// code 03 `ConnectionAborted` before the final [`Event::Disconnected`].
    Reply {
        /// The number the caller gave with the request, returned as is.
        userdata: u64,
        /// What the server answered: the same success or error the
        /// request's synchronous twin returns (the error as a
        /// [`ReplyError`], so that `Event` stays `Clone` and `Eq`).
        outcome: std::result::Result<Reply, ReplyError>,
    },
    /// The connection was lost (without this client's `quit`) and the
    /// client connects again by itself ([`crate::ClientConfig::reconnect`]):
    /// attempt `attempt` (1, 2, ...) is about to start, after a delay with
    /// backoff. Requests waiting for an answer got 03 (the server may or may
    /// not have taken them); new ones wait for the reconnection (up to the
    /// reply timeout). After the last attempt fails comes
    /// [`Event::Disconnected`]. Since: 1.1.
    Reconnecting {
        /// The attempt about to start, from 1.
        attempt: u32,
    },
    /// Connected again, with the same nickname (PROTOCOL.md, "Resuming a
    /// connection"). `recovered` true: the server had held the connection,
    /// its rooms are kept, and every message sent to this client meanwhile
    /// follows this event, in order, none twice. False: the server had let
    /// it go (the grace period passed, the server restarted) or no longer
    /// had all of it; the client registered afresh and joined its rooms
    /// again, and messages may be missing: fetch them with
    /// [`crate::Client::history`]. Since: 1.1.
    Reconnected {
        /// Nothing was lost.
        recovered: bool,
    },
    /// The server's link to the other servers of its cluster changed
    /// (PROTOCOL.md, "Clusters"; the server's `CLUSTER` line).
    /// [`ClusterState::Partitioned`]: the other nodes are out of reach; the
    /// chat goes on among this server's own users only (PROTOCOL.md says
    /// what happens meanwhile to messages for users of the other nodes)
    /// until [`ClusterState::Healed`]: one chat again. A server that is no
    /// cluster never sends it. Since: 1.2.
    Cluster {
        /// Cut off or back.
        state: ClusterState,
    },
    /// `count` messages meant for this client were lost between the
    /// servers of its cluster and will not arrive (PROTOCOL.md, "Clusters";
    /// the server's `LOST` line): the server says so rather than lose them
    /// silently. [`crate::Client::history`] may still have them. Since: 1.2.
    Lost {
        /// How many messages (at least 1).
        count: u64,
    },
    /// The server changed this client's own nickname from `old` to `new`
    /// (PROTOCOL.md, "Clusters"; the server's `RENAMED` line): when a
    /// partition healed, a user of another node had held `old` first.
    /// [`Client::nick`] already returns `new` when this event is taken, and
    /// a reconnection presents `new`. Other users see an ordinary
    /// [`Event::NickChanged`]. Since: 1.2.
    Renamed {
        /// This client's nickname before.
        old: String,
        /// This client's nickname now.
        new: String,
    },
    /// The connection ended. Always the last event; after it,
    /// [`Client::next_event`] returns 14 `Closed`.
    ///
    /// When the server or the network ends the connection, the code is 03
    /// `ConnectionAborted` and the reason is the text of the server's
    /// `ERROR 03` line (shutdown, slow consumer) or what went wrong. After
    /// [`Client::disconnect`] (or drop) it is `Closed` with the reason
    /// "disconnected by this client": the events that arrived before stay
    /// queued and come first. The wake-up function is not called for this
    /// one.
    Disconnected {
        /// 03 when the server closed it (shutdown, slow consumer) or it was
        /// lost; `Closed` when this client disconnected itself.
        code: ErrorCode,
        /// A short text.
        reason: String,
    },
}

/// A successful answer to a request, as carried by [`Event::Reply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// The server took the message (`SENT`): a private message or a
    /// private binary message was accepted for delivery to a user online,
    /// a public binary message for everyone online
    /// ([`Client::send_async`], [`Client::send_bytes_async`]). A public
    /// text message gets it once written to the socket, as the server
    /// answers nothing for it.
    Sent,
    /// The nicknames online, sorted case-insensitively
    /// ([`Client::users_async`]).
    Users(Vec<String>),
    /// The new nickname was taken ([`Client::change_nick_async`]);
    /// [`Client::nick`] already returns it.
    Nick,
    /// The server answered the ping ([`Client::ping_async`]): it has
    /// processed everything this client sent before.
    Pong,
    /// The server accepted the file offer (`FILEOK`) and the file is being
    /// streamed ([`Client::send_file_async`]): the transfer's number, as
    /// in the [`Event::FileSendProgress`], [`Event::FileSent`] or
    /// [`Event::FileSendFailed`] events that follow.
    FileOk(u64),
    /// This client is in the room ([`Client::join_async`]): its name as
    /// the server keeps it (the creator's spelling). Since: 1.1.
    Joined(String),
    /// This client left the room ([`Client::part_async`]). Since: 1.1.
    Parted,
    /// The rooms ([`Client::rooms_async`]). Since: 1.1.
    Rooms(Vec<RoomInfo>),
    /// A room's members ([`Client::who`]). Since: 1.1.
    Members(Vec<RoomMember>),
    /// Messages from history, oldest first ([`Client::history_async`]).
    /// Since: 1.1.
    History(Vec<HistoryEntry>),
    /// A room operator's or a server operator's command was done
    /// ([`Client::set_topic`], [`Client::make_operator`],
    /// [`Client::kick`], [`Client::oper`]). Since: 1.1.
    Done,
}

/// One room, as [`Client::rooms`] lists it. Since: 1.1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomInfo {
    /// Its name, `#` included.
    pub name: String,
    /// How many members it has.
    pub members: u64,
    /// Its topic (empty: none).
    pub topic: String,
}

/// One member of a room, as [`Client::who`] lists them. Since: 1.1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomMember {
    /// The nickname.
    pub nick: String,
    /// One of the room's operators.
    pub operator: bool,
}

/// One message from history ([`Client::history`]). Since: 1.1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// What it was: a public, private or room message, a file offered (the
    /// text is its name) or a binary message (the text is its size).
    pub kind: crate::protocol::HistoryKind,
    /// Who sent it (the nickname then).
    pub from: String,
    /// Its id (unique on the server, increasing): pass the oldest one as
    /// `before` to page further back.
    pub id: u64,
    /// The server's UTC time when it was sent, in milliseconds since
    /// 1970-01-01.
    pub time: u64,
    /// The text.
    pub text: String,
}

/// A failed answer to a request, as carried by [`Event::Reply`]: the code
/// and detail the request's synchronous twin would have returned as an
/// [`Error`] (e.g. 02 `NoSuchUser` with the server's text for a private
/// message to a nickname not online, 01 `NickInUse`, 03 when the
/// connection ended first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyError {
    /// The code.
    pub code: ErrorCode,
    /// What exactly went wrong, in English (for an `ERROR` line from the
    /// server, its text).
    pub detail: String,
}

impl From<&Error> for ReplyError {
    fn from(e: &Error) -> ReplyError {
        ReplyError {
            code: e.code(),
            detail: e.detail().to_owned(),
        }
    }
}

impl From<ReplyError> for Error {
    fn from(e: ReplyError) -> Error {
        Error::new(e.code, e.detail)
    }
}

impl std::fmt::Display for ReplyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.detail)
    }
}

impl std::error::Error for ReplyError {}
