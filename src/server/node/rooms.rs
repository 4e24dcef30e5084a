//! Other nodes' room operators' changes delivered here (PROTOCOL.md,
//! "Clusters"; the design is in `server/cluster/rooms.rs`): topics,
//! operators and kicks from `RTOPIC`, `ROP`, `RKICK`, a server operator's
//! kick of one of this node's users (`UKICK`), and the room's state read
//! from Redis when this node starts following a room.

use std::sync::atomic::Ordering;

use crate::server::cluster::{Cluster, REMOTE};
use crate::server::outbox::Outbox;
use crate::server::shared::Shared;

/// `by` (another node's operator) set `room`'s topic, number `ver`.
pub(super) fn topic(
    shared: &Shared,
    outbox: &mut Outbox,
    room: &str,
    by: &str,
    ver: u64,
    text: &str,
) {
    let cast = shared
        .directory
        .write()
        .topic_from_node(room, by, text, ver);
    if let Some(cast) = cast {
        outbox.room(cast.line, None, &cast.to, cast.about);
    }
}

/// `by` (another node's operator) made `nick` an operator of `room`.
pub(super) fn op(shared: &Shared, outbox: &mut Outbox, room: &str, by: &str, nick: &str) {
    let cast = shared.directory.write().op_from_node(room, by, nick);
    if let Some(cast) = cast {
        outbox.room(cast.line, None, &cast.to, cast.about);
    }
}

/// `by` (another node's operator) put `nick` (a member on any node) out of
/// `room`: out of this node's copy too, with `ROOMKICK` to the members
/// here and to `nick` if it is this node's. Redis already says so (the
/// operator's node wrote it before publishing).
pub(super) fn kick(shared: &Shared, outbox: &mut Outbox, room: &str, by: &str, nick: &str) {
    let done = shared.directory.write().kick_from_node(room, by, nick);
    shared.rooms_seq.fetch_add(1, Ordering::Release);
    if let Some((cast, _)) = done {
        outbox.room(cast.line, None, &cast.to, cast.about);
    }
}

/// The server operator `by` (on another node) put `to`, a user of this
/// node, off the server.
pub(super) fn kick_user(shared: &Shared, outbox: &mut Outbox, to: &str, by: &str) {
    if let Some(peer) = shared.lookup(to).filter(|p| p.thread != REMOTE) {
        outbox.kick(peer, by);
    }
}

/// This node just subscribed to `room`'s channel (or again, after a
/// partition): asserts its members in Redis and takes the room's state
/// (operators, topic) from there. Read after subscribing, so that a change
/// made since this node's user joined is either in what is read or comes
/// on the channel.
///
/// Members are written again only with `reassert` (after a partition):
/// right after a join, the join wrote them, and writing them again could
/// bring back a member who has left since.
pub(super) fn follow(
    shared: &Shared,
    c: &Cluster,
    con: &mut Option<redis::Connection>,
    room: &str,
    reassert: bool,
) {
    let (members, ops, topic) = {
        let dir = shared.directory.read();
        let ops: Vec<String> = dir
            .room_members_ops(room, |_| true)
            .into_iter()
            .filter(|(_, op)| *op)
            .map(|(n, _)| crate::protocol::nick_key(&n))
            .collect();
        (
            dir.room_members_ops(room, |p| p.thread != REMOTE),
            ops,
            dir.room_topic(room),
        )
    };
    let Some((topic, ver)) = topic else {
        return;
    };
    if members.is_empty() {
        return;
    }
    let (members, ops) = if reassert {
        (members, ops)
    } else {
        (Vec::new(), Vec::new())
    };
    if let Some(state) = c.room_follow(con, room, &members, &ops, &topic, ver) {
        shared.directory.write().apply_shared_room(room, &state);
    }
}
