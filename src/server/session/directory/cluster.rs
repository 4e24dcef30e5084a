//! The registry's rooms in a cluster (PROTOCOL.md, "Rooms across nodes"):
//! a room's state as Redis holds it (operators by nickname, numbered
//! topics) applied to this node's copy, and the operators' changes other
//! nodes make. The rules of one server's rooms are in `mod.rs`.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use super::{Directory, Room, RoomCast, SharedRoom};
use crate::error::ErrorCode;
use crate::protocol::{nick_key, room_key, ServerLine};
use crate::server::session::Peer;

impl Directory {
    /// Cluster: `peer` joins `room` as [`Directory::join_room`], the room
    /// taking the cluster's state `shared` (its name, topic and operators,
    /// from Redis) first, so that `peer` is an operator only if the cluster
    /// says so.
    pub fn join_room_shared(
        &mut self,
        room: &str,
        nick: &str,
        peer: Peer,
        shared: &SharedRoom,
    ) -> (Arc<str>, String, RoomCast) {
        let key = room_key(room);
        let name = if room_key(&shared.name) == key {
            &shared.name
        } else {
            room
        };
        self.rooms.entry(key).or_insert_with(|| Room {
            name: Arc::from(name),
            topic: String::new(),
            members: BTreeMap::new(),
            shared_ops: Some(HashSet::new()),
            topic_ver: 0,
        });
        self.apply_shared_room(room, shared);
        self.join_room(room, nick, peer)
    }

    /// Cluster: the room's state as Redis holds it now (read after this
    /// node started following it): its operators become `shared.ops`, its
    /// topic `shared.topic` unless a newer one is known. Returns whether
    /// the room exists here.
    pub fn apply_shared_room(&mut self, room: &str, shared: &SharedRoom) -> bool {
        let Some(r) = self.rooms.get_mut(&room_key(room)) else {
            return false;
        };
        if shared.topic_ver >= r.topic_ver {
            r.topic.clone_from(&shared.topic);
            r.topic_ver = shared.topic_ver;
        }
        for m in r.members.values_mut() {
            m.op = shared.ops.contains(&nick_key(&m.nick));
        }
        r.shared_ops = Some(shared.ops.clone());
        true
    }

    /// Cluster: operator `by` sets the topic, which Redis numbered `ver`
    /// (`None`: not written there, this node decides alone), as
    /// [`Directory::set_topic`]; but when a newer topic came meanwhile from
    /// another node, the room keeps that one and nobody else here is told
    /// (the operator's session still answers it).
    pub fn set_topic_at(
        &mut self,
        room: &str,
        by: Peer,
        text: &str,
        ver: Option<u64>,
    ) -> Result<RoomCast, ErrorCode> {
        let (old, old_ver) = {
            let r = self.operated(room, by.id)?;
            (r.topic.clone(), r.topic_ver)
        };
        let mut cast = self.set_topic(room, by, text)?;
        if let Some(r) = self.rooms.get_mut(&room_key(room)) {
            match ver {
                Some(v) if v < old_ver => {
                    r.topic = old;
                    cast.to.clear();
                }
                Some(v) => r.topic_ver = v,
                None => {}
            }
        }
        Ok(cast)
    }

    /// Cluster: `by`, an operator on another node, set the topic (number
    /// `ver`): the `TOPIC` line for every member here, or `None` when the
    /// room has no members here or a newer topic is known.
    pub fn topic_from_node(
        &mut self,
        room: &str,
        by: &str,
        text: &str,
        ver: u64,
    ) -> Option<RoomCast> {
        let r = self.rooms.get_mut(&room_key(room))?;
        if ver < r.topic_ver {
            return None;
        }
        r.topic = text.to_owned();
        r.topic_ver = ver;
        let mut cast = RoomCast {
            to: r.members.values().map(|m| m.peer).collect(),
            ..RoomCast::default()
        };
        ServerLine::Topic {
            room: &*r.name,
            by,
            text,
        }
        .encode(&mut cast.line);
        Some(cast)
    }

    /// Cluster: `by`, an operator on another node, made `nick` an
    /// operator: the `ROOMOP` line for every member here (`None`: the
    /// room has no members here). `nick` counts as an operator even if its
    /// `ROOMJOIN` has not arrived yet.
    pub fn op_from_node(&mut self, room: &str, by: &str, nick: &str) -> Option<RoomCast> {
        let r = self.rooms.get_mut(&room_key(room))?;
        let key = nick_key(nick);
        r.shared_ops
            .get_or_insert_with(HashSet::new)
            .insert(key.clone());
        let mut shown: Arc<str> = Arc::from(nick);
        for m in r.members.values_mut() {
            if nick_key(&m.nick) == key {
                m.op = true;
                shown = Arc::clone(&m.nick);
            }
        }
        let mut cast = RoomCast {
            to: r.members.values().map(|m| m.peer).collect(),
            ..RoomCast::default()
        };
        ServerLine::RoomOp {
            room: &*r.name,
            by,
            nick: &*shown,
        }
        .encode(&mut cast.line);
        Some(cast)
    }

    /// Cluster: `by`, an operator on another node, put `nick` out of the
    /// room: the member is removed here and the `ROOMKICK` line is for
    /// every member here, the one put out included (`None`: no such member
    /// here). Returns the cast and the peer put out. The room goes once
    /// empty.
    pub fn kick_from_node(&mut self, room: &str, by: &str, nick: &str) -> Option<(RoomCast, Peer)> {
        let key = room_key(room);
        let r = self.rooms.get_mut(&key)?;
        let target = Self::member_by_nick(r, nick).map(|m| m.peer)?;
        let mut cast = RoomCast {
            to: r.members.values().map(|m| m.peer).collect(),
            about: Some(target.id),
            ..RoomCast::default()
        };
        let kicked = r.members.remove(&target.id);
        if let (Some(m), Some(ops)) = (kicked.as_ref(), r.shared_ops.as_mut()) {
            ops.remove(&nick_key(&m.nick));
        }
        ServerLine::RoomKick {
            room: &*r.name,
            by,
            nick: kicked.as_ref().map_or(nick, |m| &*m.nick),
        }
        .encode(&mut cast.line);
        if r.members.is_empty() {
            self.rooms.remove(&key);
        }
        if let Some(list) = self.rooms_of.get_mut(&target.id) {
            list.retain(|k| *k != key);
        }
        Some((cast, target))
    }

    /// Cluster: the operators of `room` among its members with `pick`
    /// true, and every such member: (nickname, operator).
    pub fn room_members_ops(
        &self,
        room: &str,
        pick: impl Fn(&Peer) -> bool,
    ) -> Vec<(Arc<str>, bool)> {
        self.rooms
            .get(&room_key(room))
            .map(|r| {
                r.members
                    .values()
                    .filter(|m| pick(&m.peer))
                    .map(|m| (Arc::clone(&m.nick), m.op))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Cluster: the room's topic and its number (`None`: no such room).
    pub fn room_topic(&self, room: &str) -> Option<(String, u64)> {
        self.rooms
            .get(&room_key(room))
            .map(|r| (r.topic.clone(), r.topic_ver))
    }
}
