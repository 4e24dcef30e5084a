//! Rooms as one thing across the cluster (PROTOCOL.md, "Clusters",
//! "Rooms across nodes"): who created a room, its operators, its topic and
//! its members live in Redis; the nodes' registries are copies, kept in
//! step by bus messages on the room's channel.
//!
//! - `papo:roominfo:<key>` (a hash per room): `name` (as its creator
//!   wrote it), `topic`, `tv` (the topic's number, raised at each change),
//!   `n` (members), `m:<nick key>` = `<node> <nick>` for each member,
//!   `op:<nick key>` for each operator.
//! - `papo:rooms`: the keys of the rooms that exist (for `/rooms`).
//! - `papo:roomnodes`: the nodes that have (or had) room members, and
//!   `papo:nodealive:<node>`, set with the lease by each node's keeper:
//!   a node whose key lapsed is dead, and its members are taken out of
//!   every room by any live node's keeper ([`GC`]).
//!
//! Every change is one Lua script, so it is atomic: of two nodes creating
//! one room at once, exactly one runs [`JOIN`] first and its user is the
//! creator; the other's user joins it. A change is written to Redis before
//! its bus message is published, and a node that starts following a room
//! subscribes to its channel before reading it ([`REASSERT`]), so no
//! change falls between the two. Membership changes of one user are
//! written by its connection's I/O thread, in order (a `/part` then a
//! `/join` cannot be reordered).

use redis::Connection;

use super::wire::Bus;
use super::{node_channel, room_channel, Cluster, REMOTE};
use crate::protocol::{nick_key, room_key};
use crate::server::session::{Peer, RoomChange, RoomSummary, SharedRoom};

/// The set of rooms that exist.
pub(crate) const ROOMS: &str = "papo:rooms";
/// The set of nodes that have had room members.
pub(crate) const ROOM_NODES: &str = "papo:roomnodes";

/// A room's hash.
pub(crate) fn info_key(room: &str) -> String {
    format!("papo:roominfo:{}", room_key(room))
}

/// A node's liveness key (set with the lease by its keeper).
pub(crate) fn alive_key(node: &str) -> String {
    format!("papo:nodealive:{node}")
}

/// A user joins a room. The room is new (its user the creator and only
/// operator) when it has no member on a live node. KEYS: info, rooms,
/// room nodes, this node's alive key. ARGV: room key, name, nick key,
/// node, nick, lease ms. Returns the hash.
const JOIN: &str = r"
redis.call('SET', KEYS[4], '1', 'PX', ARGV[6])
local n = tonumber(redis.call('HGET', KEYS[1], 'n') or '0') or 0
local live = false
if n > 0 then
  local all = redis.call('HGETALL', KEYS[1])
  for i = 1, #all, 2 do
    if string.sub(all[i], 1, 2) == 'm:' then
      local node = string.match(all[i + 1], '^(%S+)')
      if node == ARGV[4] or redis.call('EXISTS', 'papo:nodealive:' .. node) == 1 then
        live = true
        break
      end
    end
  end
end
if not live then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'name', ARGV[2], 'topic', '', 'tv', '0', 'n', '0', 'op:' .. ARGV[3], '1')
  redis.call('SADD', KEYS[2], ARGV[1])
end
if redis.call('HSETNX', KEYS[1], 'm:' .. ARGV[3], ARGV[4] .. ' ' .. ARGV[5]) == 1 then
  redis.call('HINCRBY', KEYS[1], 'n', 1)
else
  redis.call('HSET', KEYS[1], 'm:' .. ARGV[3], ARGV[4] .. ' ' .. ARGV[5])
end
redis.call('SADD', KEYS[3], ARGV[4])
return redis.call('HGETALL', KEYS[1])";

/// A user of this node leaves rooms (its `/part`, or it left the
/// server); a room whose last member left is gone. KEYS: rooms. ARGV:
/// node, nick key, room keys...
const PART: &str = r"
for i = 3, #ARGV do
  local info = 'papo:roominfo:' .. ARGV[i]
  local v = redis.call('HGET', info, 'm:' .. ARGV[2])
  if v and string.sub(v, 1, #ARGV[1] + 1) == ARGV[1] .. ' ' then
    redis.call('HDEL', info, 'm:' .. ARGV[2], 'op:' .. ARGV[2])
    if redis.call('HINCRBY', info, 'n', -1) <= 0 then
      redis.call('DEL', info)
      redis.call('SREM', KEYS[1], ARGV[i])
    end
  end
end
return 0";

/// A user of this node changed nickname: its memberships and operator
/// marks follow. ARGV: node, old key, new key, new nick, room keys...
const RENAME: &str = r"
for i = 5, #ARGV do
  local info = 'papo:roominfo:' .. ARGV[i]
  local v = redis.call('HGET', info, 'm:' .. ARGV[2])
  if v and string.sub(v, 1, #ARGV[1] + 1) == ARGV[1] .. ' ' then
    redis.call('HDEL', info, 'm:' .. ARGV[2])
    redis.call('HSET', info, 'm:' .. ARGV[3], ARGV[1] .. ' ' .. ARGV[4])
    if redis.call('HDEL', info, 'op:' .. ARGV[2]) == 1 then
      redis.call('HSET', info, 'op:' .. ARGV[3], '1')
    end
  end
end
return 0";

/// An operator put a member (of any node) out. KEYS: info, rooms. ARGV:
/// room key, nick key.
const KICK: &str = r"
if redis.call('HDEL', KEYS[1], 'm:' .. ARGV[2]) == 1 then
  redis.call('HDEL', KEYS[1], 'op:' .. ARGV[2])
  if redis.call('HINCRBY', KEYS[1], 'n', -1) <= 0 then
    redis.call('DEL', KEYS[1])
    redis.call('SREM', KEYS[2], ARGV[1])
  end
end
return 0";

/// An operator made a member an operator. KEYS: info. ARGV: nick key.
const OP: &str = r"
if redis.call('HEXISTS', KEYS[1], 'm:' .. ARGV[1]) == 1 then
  redis.call('HSET', KEYS[1], 'op:' .. ARGV[1], '1')
end
return 0";

/// An operator set the topic: its new number (0: no such room). KEYS:
/// info. ARGV: text.
const TOPIC: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[1], 'topic', ARGV[1])
return redis.call('HINCRBY', KEYS[1], 'tv', 1)";

/// Every room with members on live nodes: {key, name, topic, members}.
/// KEYS: rooms.
const LIST: &str = r"
local out = {}
local alive = {}
for _, rk in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local all = redis.call('HGETALL', 'papo:roominfo:' .. rk)
  local name, topic, count = nil, '', 0
  for i = 1, #all, 2 do
    local f = all[i]
    if f == 'name' then
      name = all[i + 1]
    elseif f == 'topic' then
      topic = all[i + 1]
    elseif string.sub(f, 1, 2) == 'm:' then
      local node = string.match(all[i + 1], '^(%S+)') or ''
      if alive[node] == nil then
        alive[node] = redis.call('EXISTS', 'papo:nodealive:' .. node) == 1
      end
      if alive[node] then
        count = count + 1
      end
    end
  end
  if name and count > 0 then
    table.insert(out, {rk, name, topic, count})
  end
end
return out";

/// A room's members on live nodes and its operators: {name, nick, op
/// (1/0)...}, empty when there is no such room. KEYS: info.
const WHO: &str = r"
local all = redis.call('HGETALL', KEYS[1])
local name, ops, members, alive = nil, {}, {}, {}
for i = 1, #all, 2 do
  local f = all[i]
  if f == 'name' then
    name = all[i + 1]
  elseif string.sub(f, 1, 3) == 'op:' then
    ops[string.sub(f, 4)] = true
  end
end
if not name then
  return {}
end
local out = {name}
for i = 1, #all, 2 do
  local f = all[i]
  if string.sub(f, 1, 2) == 'm:' then
    local node, nick = string.match(all[i + 1], '^(%S+) (.*)$')
    if node then
      if alive[node] == nil then
        alive[node] = redis.call('EXISTS', 'papo:nodealive:' .. node) == 1
      end
      if alive[node] then
        table.insert(out, nick)
        table.insert(out, ops[string.sub(f, 3)] and '1' or '0')
      end
    end
  end
end
return out";

/// Takes the members of dead nodes (alive key lapsed) out of every room,
/// except those whose resume token is still good (`papo:resume:<key>` of
/// a registration on that node: they may resume on another node and keep
/// their rooms; collected once it lapses). KEYS: room nodes, rooms.
pub(crate) const GC: &str = r"
for _, node in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', 'papo:nodealive:' .. node) == 0 then
    local kept = false
    for _, rk in ipairs(redis.call('SMEMBERS', KEYS[2])) do
      local info = 'papo:roominfo:' .. rk
      local all = redis.call('HGETALL', info)
      for i = 1, #all, 2 do
        local f = all[i]
        if string.sub(f, 1, 2) == 'm:' and string.sub(all[i + 1], 1, #node + 1) == node .. ' ' then
          local rec = redis.call('HGET', 'papo:resume:' .. string.sub(f, 3), 'n')
          if rec and string.sub(rec, 1, #node + 1) == node .. '|' then
            kept = true
          else
            redis.call('HDEL', info, f, 'op:' .. string.sub(f, 3))
            if redis.call('HINCRBY', info, 'n', -1) <= 0 then
              redis.call('DEL', info)
              redis.call('SREM', KEYS[2], rk)
              break
            end
          end
        end
      end
    end
    if not kept then
      redis.call('SREM', KEYS[1], node)
    end
  end
end
return 0";

/// A node that starts following a room (a user of its joined it: no
/// members given, [`JOIN`] wrote them) or follows it again after a
/// partition (its members given) makes sure Redis holds its members (Redis
/// may have restarted empty, or the node's members been collected while it
/// was cut off for longer than the lease), and reads the room. A room
/// Redis no longer has is written again with the topic and every operator
/// (of any node) this node knows; a room Redis has gets no operator from
/// here (one made while this node was cut off, its first member there,
/// is no operator of the cluster's room). KEYS: info, rooms, room nodes,
/// alive key. ARGV: room key, name, node, topic, topic number, lease ms,
/// the number k of operators, their k nick keys, then (nick key, nick, 1
/// if operator) per member of this node (the last unused).
const REASSERT: &str = r"
redis.call('SET', KEYS[4], '1', 'PX', ARGV[6])
local k = tonumber(ARGV[7]) or 0
local first = 8 + k
if #ARGV < first and redis.call('EXISTS', KEYS[1]) == 0 then
  return {}
end
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'name', ARGV[2], 'topic', ARGV[4], 'tv', ARGV[5], 'n', '0')
  redis.call('SADD', KEYS[2], ARGV[1])
  for i = 8, first - 1 do
    redis.call('HSET', KEYS[1], 'op:' .. ARGV[i], '1')
  end
end
for i = first, #ARGV, 3 do
  if redis.call('HSETNX', KEYS[1], 'm:' .. ARGV[i], ARGV[3] .. ' ' .. ARGV[i + 1]) == 1 then
    redis.call('HINCRBY', KEYS[1], 'n', 1)
  end
end
redis.call('SADD', KEYS[3], ARGV[3])
return redis.call('HGETALL', KEYS[1])";

/// A room's hash as [`SharedRoom`] (`None`: no name, no room).
fn shared_room(pairs: Vec<String>) -> Option<SharedRoom> {
    let mut room = SharedRoom::default();
    let mut named = false;
    let mut it = pairs.into_iter();
    while let (Some(f), Some(v)) = (it.next(), it.next()) {
        match f.as_str() {
            "name" => {
                room.name = v;
                named = true;
            }
            "topic" => room.topic = v,
            "tv" => room.topic_ver = v.parse().unwrap_or(0),
            _ => {
                if let Some(k) = f.strip_prefix("op:") {
                    room.ops.insert(k.to_owned());
                }
            }
        }
    }
    named.then_some(room)
}

impl Cluster {
    /// Runs `f` on the calling thread's connection `con` (opened here when
    /// `None`, dropped on an error): `None` when this node is cut off or
    /// Redis fails (the node goes on alone; the keeper notices).
    ///
    /// A connection kept from before may have been cut (Redis restarted
    /// while this node was partitioned): a failure on it is tried once
    /// more on a new one.
    fn with_redis<T>(
        &self,
        con: &mut Option<Connection>,
        f: impl Fn(&mut Connection) -> redis::RedisResult<T>,
    ) -> Option<T> {
        if self.partitioned() {
            return None;
        }
        let fresh = con.is_none();
        if fresh {
            *con = self.connect().ok();
        }
        let k = con.as_mut()?;
        match f(k) {
            Ok(v) => return Some(v),
            Err(_) => *con = None,
        }
        if fresh {
            return None;
        }
        *con = self.connect().ok();
        let k = con.as_mut()?;
        match f(k) {
            Ok(v) => Some(v),
            Err(_) => {
                *con = None;
                None
            }
        }
    }

    /// `nick`, a user of this node, joins `room`: recorded in Redis, which
    /// answers the room's state (see [`JOIN`]). One round trip on the
    /// calling I/O thread, like a nickname claim.
    pub(crate) fn room_join(
        &self,
        con: &mut Option<Connection>,
        room: &str,
        nick: &str,
    ) -> Option<SharedRoom> {
        let lease = self.lease.as_millis() as u64;
        let pairs: Vec<String> = self.with_redis(con, |k| {
            redis::Script::new(JOIN)
                .key(info_key(room))
                .key(ROOMS)
                .key(ROOM_NODES)
                .key(alive_key(&self.node))
                .arg(room_key(room))
                .arg(room)
                .arg(nick_key(nick))
                .arg(&self.node)
                .arg(nick)
                .arg(lease)
                .invoke(k)
        })?;
        shared_room(pairs)
    }

    /// `nick`, a user of this node, left `rooms` (keys or names).
    pub(crate) fn room_parts(&self, con: &mut Option<Connection>, nick: &str, rooms: &[String]) {
        if rooms.is_empty() {
            return;
        }
        self.with_redis(con, |k| {
            let s = redis::Script::new(PART);
            let mut inv = s.key(ROOMS);
            inv.arg(&self.node).arg(nick_key(nick));
            for r in rooms {
                inv.arg(room_key(r));
            }
            inv.invoke::<i64>(k)
        });
    }

    /// A user of this node in `rooms` renamed itself from `old` to `new`.
    pub(crate) fn room_rename(
        &self,
        con: &mut Option<Connection>,
        old: &str,
        new: &str,
        rooms: &[String],
    ) {
        if rooms.is_empty() {
            return;
        }
        self.with_redis(con, |k| {
            let mut cmd = redis::cmd("EVAL");
            cmd.arg(RENAME)
                .arg(0)
                .arg(&self.node)
                .arg(nick_key(old))
                .arg(nick_key(new))
                .arg(new);
            for r in rooms {
                cmd.arg(room_key(r));
            }
            cmd.query::<i64>(k)
        });
    }

    /// A room operator of this node changed `room`: written to Redis, then
    /// told to the room's channel. For a topic, its number.
    pub(crate) fn room_operated(
        &self,
        con: &mut Option<Connection>,
        room: &str,
        change: RoomChange<'_>,
    ) -> Option<u64> {
        let done = self.with_redis(con, |k| match change {
            RoomChange::Topic { text, .. } => redis::Script::new(TOPIC)
                .key(info_key(room))
                .arg(text)
                .invoke::<u64>(k),
            RoomChange::Op { nick, .. } => redis::Script::new(OP)
                .key(info_key(room))
                .arg(nick_key(nick))
                .invoke::<u64>(k),
            RoomChange::Kick { nick, .. } => redis::Script::new(KICK)
                .key(info_key(room))
                .key(ROOMS)
                .arg(room_key(room))
                .arg(nick_key(nick))
                .invoke::<u64>(k),
        })?;
        let msg = match change {
            RoomChange::Topic { by, text } => Bus::RoomTopic {
                room,
                by,
                ver: done,
                text,
            },
            RoomChange::Op { by, nick } => Bus::RoomOp { room, by, nick },
            RoomChange::Kick { by, nick } => Bus::RoomKick { room, by, nick },
        };
        self.send(room_channel(room), &msg);
        matches!(change, RoomChange::Topic { .. }).then_some(done)
    }

    /// Every room of the cluster with members on live nodes, sorted by
    /// key: `None` when Redis cannot be asked.
    pub(crate) fn rooms_list(&self, con: &mut Option<Connection>) -> Option<Vec<RoomSummary>> {
        let mut all: Vec<(String, String, String, i64)> =
            self.with_redis(con, |k| redis::Script::new(LIST).key(ROOMS).invoke(k))?;
        all.sort_by(|a, b| a.0.cmp(&b.0));
        Some(
            all.into_iter()
                .map(|(_, name, topic, n)| RoomSummary {
                    name: name.into(),
                    members: n.max(0) as usize,
                    topic,
                })
                .collect(),
        )
    }

    /// This node starts following `room` (or follows it again after a
    /// partition): its `members` ((nickname, operator) of this node) are
    /// asserted in Redis, and the room's state read (see [`REASSERT`]).
    /// `ops`: every operator this node knows (any node's), written only
    /// if Redis no longer has the room.
    pub(crate) fn room_follow(
        &self,
        con: &mut Option<Connection>,
        room: &str,
        members: &[(std::sync::Arc<str>, bool)],
        ops: &[String],
        topic: &str,
        topic_ver: u64,
    ) -> Option<SharedRoom> {
        let lease = self.lease.as_millis() as u64;
        let pairs: Vec<String> = self.with_redis(con, |k| {
            let s = redis::Script::new(REASSERT);
            let mut inv = s.key(info_key(room));
            inv.key(ROOMS)
                .key(ROOM_NODES)
                .key(alive_key(&self.node))
                .arg(room_key(room))
                .arg(room)
                .arg(&self.node)
                .arg(topic)
                .arg(topic_ver)
                .arg(lease)
                .arg(ops.len());
            for op in ops {
                inv.arg(op);
            }
            for (nick, op) in members {
                inv.arg(nick_key(nick))
                    .arg(&**nick)
                    .arg(if *op { "1" } else { "0" });
            }
            inv.invoke(k)
        })?;
        shared_room(pairs)
    }

    /// A room's name and members ((nickname, operator), on live nodes) as
    /// Redis holds them: `Some(None)` when there is no such room, `None`
    /// when Redis cannot be asked. For `/who` of a room this node does
    /// not follow.
    #[allow(clippy::type_complexity)]
    pub(crate) fn room_who(
        &self,
        con: &mut Option<Connection>,
        room: &str,
    ) -> Option<Option<(String, Vec<(String, bool)>)>> {
        let got: Vec<String> = self.with_redis(con, |k| {
            redis::Script::new(WHO).key(info_key(room)).invoke(k)
        })?;
        let mut it = got.into_iter();
        let Some(name) = it.next() else {
            return Some(None);
        };
        let mut members = Vec::new();
        while let (Some(nick), Some(op)) = (it.next(), it.next()) {
            members.push((nick, op == "1"));
        }
        Some(Some((name, members)))
    }

    /// The server operator `by` put `to`, a user of another node, off the
    /// server: its node closes the connection (`UKICK`). `false` when this
    /// node does not know `to` (any more) or is cut off.
    pub(crate) fn kick_user(&self, to: Peer, by: &str) -> bool {
        if to.thread != REMOTE || self.partitioned() {
            return false;
        }
        let Some((node, nick)) = self
            .remote
            .lock()
            .by_id
            .get(&to.id)
            .map(|(n, nick)| (n.clone(), std::sync::Arc::clone(nick)))
        else {
            return false;
        };
        self.send(node_channel(&node), &Bus::UserKick { to: &nick, by });
        true
    }
}
