//! What a session asks of whatever hosts it ([`Host`]): the worker's I/O
//! thread over real sockets, or a test's in-memory chat. And how it names
//! other connections: [`Peer`] (one) and [`Target`] (one or everyone).

use std::net::SocketAddr;
use std::sync::Arc;

use super::{
    Conversation, Directory, Entry, Flow, History, Missed, RoomCast, RoomChange, RoomSummary,
    SharedRoom,
};
use crate::error::ErrorCode;
use crate::protocol::{HistoryKind, Tag};
use crate::server::ServerEvent;

/// Where a connection is: its I/O thread, its slot there, and its id
/// (unique for the server's lifetime, so that a reused slot is never taken
/// for the connection that had it before).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer {
    /// Index of the I/O thread that owns the connection.
    pub thread: usize,
    /// The connection's slot in that thread.
    pub slot: usize,
    /// The connection's id.
    pub id: u64,
}

/// Who receives a file's or a binary message's frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Everyone registered before the registry change numbered `seq` (so
    /// not those who join later), except the connection `except` (the
    /// sender).
    All {
        /// The first registry change whose newcomers are left out.
        seq: u64,
        /// The sender's connection id.
        except: u64,
    },
    /// One connection.
    One(Peer),
}

/// What a session needs from whatever hosts it: the worker's I/O thread
/// over real sockets, or a test's in-memory chat. Every method is called
/// while the session handles one input, on the host's thread.
pub trait Host {
    /// This connection's outbound queue: replies are appended here, in the
    /// order of the lines they answer.
    fn reply(&mut self) -> &mut Vec<u8>;
    /// This connection.
    fn me(&self) -> Peer;
    /// This connection's peer address (for server events).
    fn addr(&self) -> SocketAddr;
    /// The server is shutting down: no `LEFT` lines, no `FILEFAIL`s.
    fn stopping(&self) -> bool;

    /// Registers `nick` for this connection, atomically with everyone
    /// else's registrations: unless its key is taken (01 `NickInUse`),
    /// appends `WELCOME` (and with `users`, the `USERS` list at that
    /// instant) to the reply, labeled with `label`, and tells everyone else
    /// `JOIN`. Returns the nickname as stored.
    fn register(
        &mut self,
        nick: &str,
        users: bool,
        label: Option<&str>,
    ) -> Result<Arc<str>, ErrorCode>;
    /// Renames this connection from `old` to `new` (01 if `new` is taken);
    /// tells everyone else `NICK`.
    fn rename(&mut self, old: &str, new: &str) -> Result<Arc<str>, ErrorCode>;
    /// Frees this connection's nickname; with `announce`, tells everyone
    /// else `LEFT`.
    fn leave(&mut self, nick: &str, announce: bool);
    /// Where `nick` (as a client typed it, any case) is online.
    fn lookup(&mut self, nick: &str) -> Option<Peer>;
    /// Appends `USERS` (everyone online) to the reply, labeled.
    fn users(&mut self, label: Option<&str>);
    /// Everyone online now except this connection, as a frame target.
    fn everyone(&mut self) -> Target;

    /// `PUBLIC from :text` to everyone registered, except this connection;
    /// receivers that said `/tags on` get it with `tag`.
    fn public(&mut self, from: &str, text: &str, tag: Tag);
    /// `PRIVATE from :text` to `to` (with `tag` if it said `/tags on`).
    fn private(&mut self, to: Peer, from: &str, text: &str, tag: Tag);
    /// The server's history and message ids (shared by every connection).
    fn history(&self) -> &History;
    /// A public or private message this connection's user sends: in a
    /// cluster, appended to the history every node shares (PROTOCOL.md,
    /// "Clusters"), without waiting, and before it is delivered
    /// ([`Host::public`], [`Host::private`]), so that whoever saw it can
    /// also read it there (a resume on another node does). Room messages
    /// are appended by [`Host::room_message`]. The default does nothing.
    fn shared_record(
        &mut self,
        conversation: &Conversation,
        tag: Tag,
        kind: HistoryKind,
        from: &str,
        text: &str,
    ) {
        let _ = (conversation, tag, kind, from, text);
    }
    /// The last `count` messages of `conversation` with an id below
    /// `before` (all when `None`), oldest first, from the history every
    /// node of a cluster shares (PROTOCOL.md, "Clusters"); `None` (the
    /// default) without a cluster, or when it cannot be read now: then
    /// [`Host::history`] alone answers. May wait for Redis up to its time
    /// limit (1 s).
    fn shared_history(
        &mut self,
        conversation: &Conversation,
        count: u64,
        before: Option<u64>,
    ) -> Option<Vec<Arc<Entry>>> {
        let _ = (conversation, count, before);
        None
    }
    /// The server's UTC time in milliseconds since 1970-01-01, stamped on
    /// messages (PROTOCOL.md, "Message ids and server time"). The rules
    /// read no clock; the host does.
    fn unix_ms(&mut self) -> u64;
    /// Runs `f` on the registry, read-only, under its lock.
    fn directory(&mut self, f: &mut dyn FnMut(&Directory));
    /// Runs `f` on the registry, to change it (rooms), under its lock.
    fn directory_mut(&mut self, f: &mut dyn FnMut(&mut Directory));
    /// `ROOM room from :text` (with `tag` for members that said `/tags
    /// on`) to the other members of `room`, if this connection is one of
    /// them ([`Directory::room_snapshot`]'s rule: 21 `NotInRoom`
    /// otherwise). Returns the room's name as stored. A host may route it
    /// from a snapshot of the members taken since the rooms last changed.
    /// A cluster node appends it to the shared history before it routes
    /// it (see [`Host::shared_record`]).
    fn room_message(
        &mut self,
        room: &str,
        from: &str,
        text: &str,
        tag: Tag,
    ) -> Result<Arc<str>, ErrorCode>;
    /// Delivers a room's line ([`RoomCast`]) to the members it names;
    /// `tagged` is the same line with its message's tag, for members that
    /// said `/tags on`.
    fn room_cast(&mut self, cast: RoomCast, tagged: Option<Vec<u8>>);
    /// A user of this server joined (`joined`) or left `room` by its own
    /// `/join`, `/part` or a kick (a cluster node tells the other nodes;
    /// PROTOCOL.md, "Clusters"). Nothing by default.
    fn room_member(&mut self, room: &str, nick: &str, joined: bool) {
        let _ = (room, nick, joined);
    }
    /// A cluster node: `nick`, a user of this server, is joining `room`:
    /// records it in the cluster and returns the room's state there (its
    /// name, topic and operators; a room new everywhere has `nick` as its
    /// only operator). `None` (the default, and a node cut off from the
    /// cluster): this server decides alone.
    fn room_joining(&mut self, room: &str, nick: &str) -> Option<SharedRoom> {
        let _ = (room, nick);
        None
    }
    /// A cluster node: a room operator of this server changed `room`
    /// (already done in the registry): tells the cluster. For a topic,
    /// returns its number in the cluster. Nothing by default.
    fn room_operated(&mut self, room: &str, change: RoomChange<'_>) -> Option<u64> {
        let _ = (room, change);
        None
    }
    /// A cluster node: every room of the cluster, sorted by key (`None`,
    /// the default, and when the cluster cannot be asked: the registry's).
    fn cluster_rooms(&mut self) -> Option<Vec<RoomSummary>> {
        None
    }
    /// A cluster node: `/who` of a room without members on this node (so
    /// not in its registry): the `MEMBERS` line, labeled, from the
    /// cluster. `None` (the default): no such room anywhere, or the
    /// cluster cannot be asked.
    fn cluster_who(&mut self, room: &str, label: Option<&str>) -> Option<Vec<u8>> {
        let _ = (room, label);
        None
    }
    /// Puts connection `to` off the server: a server operator `by` said
    /// `/kick` (its session ends with `ERROR 03`).
    fn kick_user(&mut self, to: Peer, by: &str);
    /// [`Host::kick_user`], telling whether `to` could be reached: a user
    /// of another node of a cluster is put off by its node, and cannot be
    /// when this node no longer knows it. By default, `kick_user` and
    /// `true`.
    fn kick_user_reached(&mut self, to: Peer, by: &str) -> bool {
        self.kick_user(to, by);
        true
    }
    /// A whole payload frame (or a transfer line) for `to`. With `flow`,
    /// the bytes count against the transfer's flow control until written
    /// (`charged`: the frame carries file data).
    fn frame(&mut self, to: Target, bytes: Vec<u8>, flow: Option<&Arc<Flow>>, charged: bool);
    /// A whole payload frame for this connection itself (a binary message
    /// to oneself), queued like a reply.
    fn reply_frame(&mut self, frame: &[u8]);
    /// A new transfer number, unique for the server's lifetime.
    fn transfer_id(&mut self) -> u64;
    /// A function that makes the host read this connection again once a
    /// transfer's flow control lets it (called from any thread).
    fn resumer(&mut self) -> Arc<dyn Fn() + Send + Sync>;

    /// A server event for the owner of the server.
    fn event(&mut self, event: ServerEvent);

    /// A new resume token for this connection, registered as `nick`
    /// (PROTOCOL.md, "Resuming a connection"): 128 random bits from the
    /// operating system, written as 32 hexadecimal digits, replacing any
    /// earlier one. In a cluster it is also written to Redis with `tags`
    /// (its client said `/tags on`), so that any node takes it. `None`
    /// when the system has no random bytes to give (then the client gets
    /// no token).
    fn issue_token(&mut self, nick: &str, tags: bool) -> Option<String>;
    /// Forgets the resume token of this connection, registered as `nick`
    /// (it leaves, or said `/resume off`).
    fn drop_token(&mut self, nick: &str);
    /// `/resume nick token [since]` at the prompt: when `token` is the
    /// current token of the connection holding `nick` (compared in
    /// constant time), spends it. A connection of this server: this
    /// connection's socket moves to that one, whose session then answers
    /// ([`super::Session::on_resumed`]) with `label`, and this session ends
    /// silently ([`Resumption::Moving`]). A user of another node of a
    /// cluster (PROTOCOL.md, "Resuming on another node"): this session
    /// becomes it ([`Resumption::Here`]). 24 `ResumeRefused` otherwise.
    fn resume(
        &mut self,
        nick: &str,
        token: &str,
        since: Option<u64>,
        label: Option<&str>,
    ) -> Result<Resumption, ErrorCode>;
    /// Whether a `/resume` has spent this connection's token and its socket
    /// is on its way here (a held session then waits for it).
    fn resume_pending(&mut self) -> bool;
}

/// How the host took a `/resume` ([`Host::resume`]).
#[derive(Debug)]
pub enum Resumption {
    /// The socket goes to the connection holding the nickname on this
    /// server; this session ends without a word.
    Moving,
    /// The nickname was held on another node of the cluster: this
    /// connection is now registered as it, and its session answers.
    Here(Box<Adopted>),
}

/// A user of another node that resumed on this one ([`Resumption::Here`]).
#[derive(Debug)]
pub struct Adopted {
    /// The nickname as registered.
    pub nick: Arc<str>,
    /// Its client had said `/tags on`.
    pub tags: bool,
    /// What it missed, from the shared history.
    pub missed: Missed,
    /// Its rooms: (key, name).
    pub rooms: Vec<(String, Arc<str>)>,
}
