//! The nickname registry: who is online and where (PROTOCOL.md,
//! "Registration"). A plain data structure: the host keeps one per server
//! behind a lock, and publishes each [`Change`] to every connection while
//! it still holds that lock, so that every connection sees the changes in
//! the same order.
//!
//! Changes are numbered. A newcomer's `USERS` list is a snapshot taken at
//! its own change; the `JOIN`/`LEFT`/`NICK` lines it gets afterwards are
//! exactly the changes numbered after it, with no duplicate and no gap.

mod cluster;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use super::Peer;
use crate::error::ErrorCode;
use crate::protocol::{nick_fold, nick_key, room_key, ServerLine};

/// One member of a room.
#[derive(Debug, Clone)]
struct Member {
    /// The member's nickname now.
    nick: Arc<str>,
    peer: Peer,
    /// One of the room's operators (its creator, or named by one).
    op: bool,
}

/// A room (PROTOCOL.md, "Rooms"): created by its first `/join`, gone when
/// its last member leaves.
#[derive(Debug)]
struct Room {
    /// The name as its creator wrote it.
    name: Arc<str>,
    topic: String,
    /// Members by connection id.
    members: BTreeMap<u64, Member>,
    /// In a cluster, the room's operators by [`nick_key`], as the cluster
    /// holds them (the room's creator anywhere, and those named since):
    /// members are operators by this set, not by being first here.
    /// `None`: a server alone, whose first member is the operator.
    shared_ops: Option<HashSet<String>>,
    /// In a cluster, the number of the topic in Redis: an older one
    /// arriving late does not replace a newer one.
    topic_ver: u64,
}

/// A room as the cluster's Redis holds it (PROTOCOL.md, "Clusters"): what a
/// node learns when one of its users joins it or it starts following it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SharedRoom {
    /// The name as its creator (on any node) wrote it.
    pub name: String,
    /// Its topic (empty: none).
    pub topic: String,
    /// The topic's number (higher: newer).
    pub topic_ver: u64,
    /// The operators' [`nick_key`]s.
    pub ops: HashSet<String>,
}

/// A line for some members of a room, encoded once: what the host delivers
/// (PROTOCOL.md, "Rooms").
#[derive(Debug, Default)]
pub struct RoomCast {
    /// The encoded line.
    pub line: Vec<u8>,
    /// Who gets it.
    pub to: Vec<Peer>,
    /// `Some(id)`: the line is a membership change (`ROOMJOIN`, `ROOMPART`,
    /// `ROOMKICK`) about connection `id`: a receiver with presence off gets
    /// it only when it is about itself.
    pub about: Option<u64>,
}

/// A room as `/rooms` lists it: name, members, topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomSummary {
    /// The name as its creator wrote it.
    pub name: Arc<str>,
    /// How many members it has.
    pub members: usize,
    /// Its topic (empty: none).
    pub topic: String,
}

/// A room operator's change made on this node, for a cluster's other
/// nodes (PROTOCOL.md, "Clusters").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomChange<'a> {
    /// `by` set the topic to `text`.
    Topic {
        /// The operator's nickname.
        by: &'a str,
        /// The new topic (empty: none).
        text: &'a str,
    },
    /// `by` made `nick` an operator.
    Op {
        /// The operator's nickname.
        by: &'a str,
        /// The new operator, as the operator typed it.
        nick: &'a str,
    },
    /// `by` put `nick` out of the room.
    Kick {
        /// The operator's nickname.
        by: &'a str,
        /// The member put out, as the operator typed it.
        nick: &'a str,
    },
}

struct Entry {
    /// The nickname as the user wrote it.
    nick: Arc<str>,
    peer: Peer,
}

/// Nicknames online: unique by [`nick_key`] (case-insensitively and up to
/// look-alikes), sorted by [`nick_fold`] (case-insensitively, the way
/// `USERS` wants them; a confusable skeleton is no order for people).
/// Two nicknames with the same fold have the same key, so the fold is
/// unique too.
#[derive(Default)]
pub struct Directory {
    /// Entries by fold, in `USERS` order.
    by_fold: BTreeMap<String, Entry>,
    /// The fold of the entry holding each key.
    by_key: HashMap<String, String>,
    /// Number of the last change.
    seq: u64,
    /// Rooms by [`room_key`].
    rooms: HashMap<String, Room>,
    /// The keys of the rooms each connection (by id) is a member of.
    rooms_of: HashMap<u64, Vec<String>>,
}

/// A registry change to tell the other connections: its number, the line
/// (`JOIN`, `NICK` or `LEFT`), and the connection id it is not sent to
/// (the one that changed, which is answered directly).
#[derive(Debug)]
pub struct Change {
    /// The change's number.
    pub seq: u64,
    /// The encoded line; empty for a departure nobody is told about (a
    /// shutdown).
    pub line: Vec<u8>,
    /// The connection the change is about.
    pub except: u64,
}

impl Directory {
    /// Number of the last change (0: none yet).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Nicknames online.
    pub fn len(&self) -> usize {
        self.by_fold.len()
    }

    /// Whether nobody is online.
    pub fn is_empty(&self) -> bool {
        self.by_fold.is_empty()
    }

    /// The nicknames online, sorted case-insensitively.
    pub fn nicks(&self) -> impl Iterator<Item = &str> {
        self.by_fold.values().map(|e| &*e.nick)
    }

    /// The entry holding `key`.
    fn get(&self, key: &str) -> Option<&Entry> {
        self.by_key.get(key).and_then(|fold| self.by_fold.get(fold))
    }

    fn insert(&mut self, nick: Arc<str>, peer: Peer, key: String) {
        let fold = nick_fold(&nick);
        self.by_key.insert(key, fold.clone());
        self.by_fold.insert(fold, Entry { nick, peer });
    }

    fn take(&mut self, key: &str) {
        if let Some(fold) = self.by_key.remove(key) {
            self.by_fold.remove(&fold);
        }
    }

    fn next(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Registers `nick` for `peer` unless its [`nick_key`] is taken (01). Appends
    /// `WELCOME` and, with `users`, `USERS` (everyone online, the newcomer
    /// included) to `reply`, labeled with `label`; returns the stored
    /// nickname and the `JOIN` to tell everyone else.
    pub fn register(
        &mut self,
        nick: &str,
        peer: Peer,
        label: Option<&str>,
        reply: &mut Vec<u8>,
        users: bool,
    ) -> Result<(Arc<str>, Change), ErrorCode> {
        let key = nick_key(nick);
        if self.by_key.contains_key(&key) {
            return Err(ErrorCode::NickInUse);
        }
        let stored: Arc<str> = Arc::from(nick);
        self.insert(Arc::clone(&stored), peer, key);
        let seq = self.next();
        ServerLine::Welcome { nick }.encode_labeled(label, reply);
        if users {
            self.users(label, reply);
        }
        let mut line = Vec::with_capacity(64 + 2 * nick.len());
        ServerLine::Join { nick }.encode(&mut line);
        Ok((
            stored,
            Change {
                seq,
                line,
                except: peer.id,
            },
        ))
    }

    /// Renames `peer` from `old` to `new` (01 if `new` is someone else's;
    /// the same name in another case, or any name with the same
    /// [`nick_key`], is fine). Returns the stored new name
    /// and the `NICK` to tell everyone else.
    pub fn rename(
        &mut self,
        old: &str,
        new: &str,
        peer: Peer,
    ) -> Result<(Arc<str>, Change), ErrorCode> {
        let old_key = nick_key(old);
        let new_key = nick_key(new);
        if old_key != new_key && self.by_key.contains_key(&new_key) {
            return Err(ErrorCode::NickInUse);
        }
        match self.get(&old_key) {
            Some(e) if e.peer == peer => {}
            // Cannot happen: a registered connection is in the registry.
            _ => return Err(ErrorCode::NoSuchUser),
        }
        self.take(&old_key);
        let stored: Arc<str> = Arc::from(new);
        self.insert(Arc::clone(&stored), peer, new_key);
        for key in self.rooms_of.get(&peer.id).into_iter().flatten() {
            if let Some(m) = self
                .rooms
                .get_mut(key)
                .and_then(|r| r.members.get_mut(&peer.id))
            {
                m.nick = Arc::clone(&stored);
            }
            if let Some(r) = self.rooms.get_mut(key) {
                if let Some(ops) = r.shared_ops.as_mut() {
                    if ops.remove(&old_key) {
                        ops.insert(nick_key(new));
                    }
                    // A cluster's rank is by name: whichever name the
                    // room's state read from Redis had, the rank follows.
                    let op = ops.contains(&nick_key(new));
                    if let Some(m) = r.members.get_mut(&peer.id) {
                        m.op = op;
                    }
                }
            }
        }
        let seq = self.next();
        let mut line = Vec::with_capacity(64 + 3 * (old.len() + new.len()));
        ServerLine::Nick { old, new }.encode(&mut line);
        Ok((
            stored,
            Change {
                seq,
                line,
                except: peer.id,
            },
        ))
    }

    /// Frees `peer`'s nickname `nick`; the `LEFT` to tell everyone else
    /// (an empty line without `announce`), or `None` if `peer` did not hold
    /// it.
    pub fn remove(&mut self, nick: &str, peer: Peer, announce: bool) -> Option<Change> {
        let key = nick_key(nick);
        match self.get(&key) {
            Some(e) if e.peer == peer => {}
            _ => return None,
        }
        self.take(&key);
        // Leaving the server leaves every room (the `LEFT` says so); an
        // empty room is gone.
        for room in self.rooms_of.remove(&peer.id).unwrap_or_default() {
            if let Some(r) = self.rooms.get_mut(&room) {
                r.members.remove(&peer.id);
                if let Some(ops) = r.shared_ops.as_mut() {
                    ops.remove(&key);
                }
                if r.members.is_empty() {
                    self.rooms.remove(&room);
                }
            }
        }
        let seq = self.next();
        let mut line = Vec::new();
        if announce {
            ServerLine::Left { nick }.encode(&mut line);
        }
        Some(Change {
            seq,
            line,
            except: peer.id,
        })
    }

    /// Cluster: `nick`'s connection is now `to` instead of `from` (a
    /// connection resumed on another node: PROTOCOL.md, "Resuming on
    /// another node"). Its nickname, rooms and operator ranks stay, and
    /// nobody is told anything: for everyone else it never left. The
    /// change is numbered (so that whoever remembers where `nick` was
    /// looks again) but its line is empty. `None` (and nothing changes)
    /// when `from` does not hold `nick`.
    pub fn repoint(&mut self, nick: &str, from: Peer, to: Peer) -> Option<Change> {
        let key = nick_key(nick);
        let fold = self.by_key.get(&key)?;
        match self.by_fold.get_mut(fold) {
            Some(e) if e.peer == from => e.peer = to,
            _ => return None,
        }
        let rooms = self.rooms_of.remove(&from.id).unwrap_or_default();
        for k in &rooms {
            if let Some(r) = self.rooms.get_mut(k) {
                if let Some(mut m) = r.members.remove(&from.id) {
                    m.peer = to;
                    r.members.insert(to.id, m);
                }
            }
        }
        if !rooms.is_empty() {
            self.rooms_of.insert(to.id, rooms);
        }
        Some(Change {
            seq: self.next(),
            line: Vec::new(),
            except: to.id,
        })
    }

    /// Where `nick` (any case, or a look-alike: same [`nick_key`]) is
    /// online.
    pub fn lookup(&self, nick: &str) -> Option<Peer> {
        self.get(&nick_key(nick)).map(|e| e.peer)
    }

    /// Appends `USERS <n> :<nick> ...` for everyone online, labeled.
    pub fn users(&self, label: Option<&str>, out: &mut Vec<u8>) {
        ServerLine::Users(self.nicks().collect()).encode_labeled(label, out);
    }

    /// Rooms that exist now.
    pub fn room_count(&self) -> usize {
        self.rooms.len()
    }

    /// `peer` (registered as `nick`) joins `room` (a valid name, see
    /// [`crate::protocol::validate_room`]), creating it, with `peer` as its
    /// operator, if it does not exist. Returns the room's name as stored,
    /// its topic, and the `ROOMJOIN` for the other members (nobody when
    /// `peer` was a member already). The joiner's own `ROOMJOIN` is its
    /// session's answer.
    pub fn join_room(
        &mut self,
        room: &str,
        nick: &str,
        peer: Peer,
    ) -> (Arc<str>, String, RoomCast) {
        let key = room_key(room);
        let r = self.rooms.entry(key.clone()).or_insert_with(|| Room {
            name: Arc::from(room),
            topic: String::new(),
            members: BTreeMap::new(),
            shared_ops: None,
            topic_ver: 0,
        });
        let name = Arc::clone(&r.name);
        let mut cast = RoomCast {
            about: Some(peer.id),
            ..RoomCast::default()
        };
        if !r.members.contains_key(&peer.id) {
            let op = match &r.shared_ops {
                Some(ops) => ops.contains(&nick_key(nick)),
                None => r.members.is_empty(),
            };
            cast.to = r.members.values().map(|m| m.peer).collect();
            ServerLine::RoomJoin { room: &*name, nick }.encode(&mut cast.line);
            r.members.insert(
                peer.id,
                Member {
                    nick: Arc::from(nick),
                    peer,
                    op,
                },
            );
            self.rooms_of.entry(peer.id).or_default().push(key);
        }
        (name, r.topic.clone(), cast)
    }

    /// `peer` leaves `room` (21 `NotInRoom` if it is not a member). Returns
    /// the room's name and the `ROOMPART` for the members left; the room is
    /// gone once empty.
    pub fn part_room(&mut self, room: &str, peer: Peer) -> Result<(Arc<str>, RoomCast), ErrorCode> {
        let key = room_key(room);
        let r = self.rooms.get_mut(&key).ok_or(ErrorCode::NotInRoom)?;
        let m = r.members.remove(&peer.id).ok_or(ErrorCode::NotInRoom)?;
        if let Some(ops) = r.shared_ops.as_mut() {
            ops.remove(&nick_key(&m.nick));
        }
        let name = Arc::clone(&r.name);
        let mut cast = RoomCast {
            about: Some(peer.id),
            to: r.members.values().map(|m| m.peer).collect(),
            ..RoomCast::default()
        };
        ServerLine::RoomPart {
            room: &*name,
            nick: &*m.nick,
        }
        .encode(&mut cast.line);
        if r.members.is_empty() {
            self.rooms.remove(&key);
        }
        if let Some(list) = self.rooms_of.get_mut(&peer.id) {
            list.retain(|k| *k != key);
        }
        Ok((name, cast))
    }

    /// The room's name and its members except `except`, for a message from
    /// member `except` (21 `NotInRoom` if it is not one).
    pub fn room_targets(
        &self,
        room: &str,
        except: u64,
    ) -> Result<(Arc<str>, Vec<Peer>), ErrorCode> {
        let r = self
            .rooms
            .get(&room_key(room))
            .ok_or(ErrorCode::NotInRoom)?;
        if !r.members.contains_key(&except) {
            return Err(ErrorCode::NotInRoom);
        }
        let to = r
            .members
            .values()
            .filter(|m| m.peer.id != except)
            .map(|m| m.peer)
            .collect();
        Ok((Arc::clone(&r.name), to))
    }

    /// The room's name and all its members (the sender included), for a
    /// message from member `id` (21 `NotInRoom` if it is not one): what a
    /// host caches until the rooms change.
    pub fn room_snapshot(&self, room: &str, id: u64) -> Result<(Arc<str>, Vec<Peer>), ErrorCode> {
        let r = self
            .rooms
            .get(&room_key(room))
            .ok_or(ErrorCode::NotInRoom)?;
        if !r.members.contains_key(&id) {
            return Err(ErrorCode::NotInRoom);
        }
        Ok((
            Arc::clone(&r.name),
            r.members.values().map(|m| m.peer).collect(),
        ))
    }

    /// The room's name as stored and all its members (`None`: no such
    /// room). For a cluster node delivering another node's room message.
    pub fn room_peers(&self, room: &str) -> Option<(Arc<str>, Vec<Peer>)> {
        let r = self.rooms.get(&room_key(room))?;
        Some((
            Arc::clone(&r.name),
            r.members.values().map(|m| m.peer).collect(),
        ))
    }

    /// The room's members: nickname and peer (empty: no such room).
    pub fn room_members(&self, room: &str) -> Vec<(Arc<str>, Peer)> {
        self.rooms
            .get(&room_key(room))
            .map(|r| {
                r.members
                    .values()
                    .map(|m| (Arc::clone(&m.nick), m.peer))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The names of the rooms with at least one member for which `pick`
    /// is true (a cluster node: the rooms with members of its own).
    pub fn rooms_with(&self, pick: impl Fn(&Peer) -> bool) -> Vec<Arc<str>> {
        self.rooms
            .values()
            .filter(|r| r.members.values().any(|m| pick(&m.peer)))
            .map(|r| Arc::clone(&r.name))
            .collect()
    }

    /// Removes, without a line to anyone, the members of `room` for which
    /// `pick` is true (a cluster node that no longer follows the room
    /// forgets the other nodes' members); the room goes once empty.
    /// Returns whether anyone was removed.
    pub fn drop_room_members(&mut self, room: &str, pick: impl Fn(&Peer) -> bool) -> bool {
        let key = room_key(room);
        let Some(r) = self.rooms.get_mut(&key) else {
            return false;
        };
        let ids: Vec<u64> = r
            .members
            .values()
            .filter(|m| pick(&m.peer))
            .map(|m| m.peer.id)
            .collect();
        for id in &ids {
            if let (Some(m), Some(ops)) = (r.members.remove(id), r.shared_ops.as_mut()) {
                ops.remove(&nick_key(&m.nick));
            }
            if let Some(list) = self.rooms_of.get_mut(id) {
                list.retain(|k| *k != key);
            }
        }
        if r.members.is_empty() {
            self.rooms.remove(&key);
        }
        !ids.is_empty()
    }

    /// The rooms connection `id` is a member of: (key, name as stored).
    pub fn rooms_of(&self, id: u64) -> Vec<(String, Arc<str>)> {
        self.rooms_of
            .get(&id)
            .into_iter()
            .flatten()
            .filter_map(|k| self.rooms.get(k).map(|r| (k.clone(), Arc::clone(&r.name))))
            .collect()
    }

    /// Whether connection `id` is a member of `room`.
    pub fn is_member(&self, room: &str, id: u64) -> bool {
        self.rooms
            .get(&room_key(room))
            .is_some_and(|r| r.members.contains_key(&id))
    }

    /// Appends `MEMBERS <#room> <n> :...` (operators marked `@`, sorted
    /// case-insensitively), labeled; 21 `NotInRoom` when the room does not
    /// exist.
    pub fn who(&self, room: &str, label: Option<&str>, out: &mut Vec<u8>) -> Result<(), ErrorCode> {
        let r = self
            .rooms
            .get(&room_key(room))
            .ok_or(ErrorCode::NotInRoom)?;
        let mut nicks: Vec<(String, String)> = r
            .members
            .values()
            .map(|m| {
                let shown = if m.op {
                    format!("@{}", m.nick)
                } else {
                    m.nick.to_string()
                };
                (nick_fold(&m.nick), shown)
            })
            .collect();
        nicks.sort();
        ServerLine::Members {
            room: &*r.name,
            nicks: nicks.iter().map(|(_, n)| n.as_str()).collect(),
        }
        .encode_labeled(label, out);
        Ok(())
    }

    /// Every room, sorted by key.
    pub fn rooms(&self) -> Vec<RoomSummary> {
        let mut all: Vec<(&String, RoomSummary)> = self
            .rooms
            .iter()
            .map(|(k, r)| {
                (
                    k,
                    RoomSummary {
                        name: Arc::clone(&r.name),
                        members: r.members.len(),
                        topic: r.topic.clone(),
                    },
                )
            })
            .collect();
        all.sort_by(|a, b| a.0.cmp(b.0));
        all.into_iter().map(|(_, r)| r).collect()
    }

    /// Whether `by` may operate `room`: 21 when it is no member, 22 when it
    /// is no operator.
    pub fn check_operator(&self, room: &str, by: u64) -> Result<(), ErrorCode> {
        let r = self
            .rooms
            .get(&room_key(room))
            .ok_or(ErrorCode::NotInRoom)?;
        match r.members.get(&by) {
            None => Err(ErrorCode::NotInRoom),
            Some(m) if !m.op => Err(ErrorCode::NotOperator),
            Some(_) => Ok(()),
        }
    }

    /// Whether connection `id` is an operator of `room`.
    pub fn is_room_op(&self, room: &str, id: u64) -> bool {
        self.rooms
            .get(&room_key(room))
            .and_then(|r| r.members.get(&id))
            .is_some_and(|m| m.op)
    }

    /// The room and its operator `by`: 21 when `by` is no member, 22 when
    /// it is no operator.
    fn operated(&mut self, room: &str, by: u64) -> Result<&mut Room, ErrorCode> {
        let r = self
            .rooms
            .get_mut(&room_key(room))
            .ok_or(ErrorCode::NotInRoom)?;
        match r.members.get(&by) {
            None => Err(ErrorCode::NotInRoom),
            Some(m) if !m.op => Err(ErrorCode::NotOperator),
            Some(_) => Ok(r),
        }
    }

    /// Operator `by` sets the topic: the `TOPIC` line for every member
    /// (the operator included; its session labels its own copy).
    pub fn set_topic(&mut self, room: &str, by: Peer, text: &str) -> Result<RoomCast, ErrorCode> {
        let r = self.operated(room, by.id)?;
        r.topic = text.to_owned();
        let by_nick = r.members.get(&by.id).map(|m| Arc::clone(&m.nick));
        let mut cast = RoomCast {
            to: r
                .members
                .values()
                .filter(|m| m.peer != by)
                .map(|m| m.peer)
                .collect(),
            ..RoomCast::default()
        };
        ServerLine::Topic {
            room: &*r.name,
            by: by_nick.as_deref().unwrap_or("*"),
            text,
        }
        .encode(&mut cast.line);
        Ok(cast)
    }

    /// The member of `room` whose nickname has the key of `nick`.
    fn member_by_nick<'r>(r: &'r Room, nick: &str) -> Option<&'r Member> {
        let key = nick_key(nick);
        r.members.values().find(|m| nick_key(&m.nick) == key)
    }

    /// Operator `by` makes member `nick` an operator: the `ROOMOP` line
    /// for the other members (21 when `nick` is no member).
    pub fn make_op(&mut self, room: &str, by: Peer, nick: &str) -> Result<RoomCast, ErrorCode> {
        let r = self.operated(room, by.id)?;
        let target = Self::member_by_nick(r, nick)
            .map(|m| m.peer.id)
            .ok_or(ErrorCode::NotInRoom)?;
        if let Some(m) = r.members.get_mut(&target) {
            m.op = true;
            if let Some(ops) = r.shared_ops.as_mut() {
                ops.insert(nick_key(&m.nick));
            }
        }
        let by_nick = r.members.get(&by.id).map(|m| Arc::clone(&m.nick));
        let new = r.members.get(&target).map(|m| Arc::clone(&m.nick));
        let mut cast = RoomCast {
            to: r
                .members
                .values()
                .filter(|m| m.peer != by)
                .map(|m| m.peer)
                .collect(),
            ..RoomCast::default()
        };
        ServerLine::RoomOp {
            room: &*r.name,
            by: by_nick.as_deref().unwrap_or("*"),
            nick: new.as_deref().unwrap_or(nick),
        }
        .encode(&mut cast.line);
        Ok(cast)
    }

    /// Operator `by` puts member `nick` out of the room: the `ROOMKICK`
    /// line for every other member and the one put out (21 when `nick` is
    /// no member). The room is gone if it is empty then.
    pub fn kick(&mut self, room: &str, by: Peer, nick: &str) -> Result<RoomCast, ErrorCode> {
        let key = room_key(room);
        let r = self.operated(room, by.id)?;
        let target = Self::member_by_nick(r, nick)
            .map(|m| m.peer.id)
            .ok_or(ErrorCode::NotInRoom)?;
        let by_nick = r.members.get(&by.id).map(|m| Arc::clone(&m.nick));
        let mut cast = RoomCast {
            to: r
                .members
                .values()
                .filter(|m| m.peer != by)
                .map(|m| m.peer)
                .collect(),
            about: Some(target),
            ..RoomCast::default()
        };
        let kicked = r.members.remove(&target);
        if let (Some(m), Some(ops)) = (kicked.as_ref(), r.shared_ops.as_mut()) {
            ops.remove(&nick_key(&m.nick));
        }
        ServerLine::RoomKick {
            room: &*r.name,
            by: by_nick.as_deref().unwrap_or("*"),
            nick: kicked.as_ref().map_or(nick, |m| &*m.nick),
        }
        .encode(&mut cast.line);
        if r.members.is_empty() {
            self.rooms.remove(&key);
        }
        if let Some(list) = self.rooms_of.get_mut(&target) {
            list.retain(|k| *k != key);
        }
        Ok(cast)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repoint_keeps_name_rooms_and_ranks_and_tells_nobody() {
        let (a, b, far) = (
            Peer {
                thread: 0,
                slot: 1,
                id: 1,
            },
            Peer {
                thread: 0,
                slot: 2,
                id: 2,
            },
            Peer {
                thread: usize::MAX,
                slot: 0,
                id: 3,
            },
        );
        let mut d = Directory::default();
        let mut out = Vec::new();
        d.register("Ana", a, None, &mut out, false).expect("ana");
        d.register("bob", b, None, &mut out, false).expect("bob");
        d.join_room("#sala", "Ana", a);
        d.join_room("#sala", "bob", b);
        let seq = d.seq();
        // Not the holder: nothing changes.
        assert!(d.repoint("ana", b, far).is_none());
        assert_eq!(d.seq(), seq);
        let change = d.repoint("ana", a, far).expect("the holder");
        assert!(change.line.is_empty(), "nobody is told");
        assert_eq!(change.seq, seq + 1, "but lookups look again");
        assert_eq!(d.lookup("ANA"), Some(far));
        assert_eq!(d.nicks().collect::<Vec<_>>(), ["Ana", "bob"]);
        assert!(d.is_member("#sala", far.id));
        assert!(!d.is_member("#sala", a.id));
        assert!(d.is_room_op("#sala", far.id), "the creator's rank stays");
        assert!(d.rooms_of(a.id).is_empty());
        assert_eq!(d.rooms_of(far.id).len(), 1);
    }

    fn peer(id: u64) -> Peer {
        Peer {
            thread: 0,
            slot: id as usize,
            id,
        }
    }

    #[test]
    fn unique_case_insensitively_and_sorted() {
        let mut d = Directory::default();
        let mut out = Vec::new();
        let (_, c) = d.register("bob", peer(1), None, &mut out, true).unwrap();
        assert_eq!(c.seq, 1);
        assert_eq!(c.line, b"JOIN bob :bob entrou no chat (joined)\n");
        assert_eq!(
            d.register("BOB", peer(2), None, &mut out, true)
                .unwrap_err(),
            ErrorCode::NickInUse
        );
        out.clear();
        d.register("Ana", peer(2), Some("7"), &mut out, true)
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("@7 WELCOME Ana :"));
        assert!(text.ends_with("@7 USERS 2 :Ana bob\n"));
        assert_eq!(d.lookup("ANA"), Some(peer(2)));
        assert_eq!(
            d.rename("Ana", "bob", peer(2)).unwrap_err(),
            ErrorCode::NickInUse
        );
        let (n, c) = d.rename("Ana", "ANA", peer(2)).unwrap();
        assert_eq!((&*n, c.seq), ("ANA", 3));
        assert!(d.remove("ana", peer(1), true).is_none(), "not bob's");
        let c = d.remove("ana", peer(2), false).unwrap();
        assert!(c.line.is_empty());
        assert_eq!(d.nicks().collect::<Vec<_>>(), ["bob"]);
        assert_eq!(d.seq(), 4);
    }

    /// A cluster node's copy of a room: operators by the cluster's set,
    /// not by being first here; other nodes' topics, operators and kicks.
    #[test]
    fn shared_rooms_follow_the_cluster() {
        let mut d = Directory::default();
        let mut out = Vec::new();
        for (i, n) in ["ana", "bob", "carla"].iter().enumerate() {
            d.register(n, peer(i as u64 + 1), None, &mut out, false)
                .unwrap();
        }
        let state = SharedRoom {
            name: "#Sala".into(),
            topic: "t1".into(),
            topic_ver: 1,
            ops: [nick_key("zeca")].into_iter().collect(),
        };
        // bob is first here but zeca (another node) created it.
        let (name, topic, _) = d.join_room_shared("#sala", "bob", peer(2), &state);
        assert_eq!((&*name, topic.as_str()), ("#Sala", "t1"));
        assert_eq!(
            d.set_topic("#sala", peer(2), "x").unwrap_err(),
            ErrorCode::NotOperator
        );
        d.join_room("#sala", "carla", peer(3));
        // An older topic arriving late changes nothing; a newer one does.
        assert!(d.topic_from_node("#sala", "zeca", "t0", 0).is_none());
        let cast = d.topic_from_node("#sala", "zeca", "t2", 2).unwrap();
        assert_eq!(cast.to, [peer(2), peer(3)]);
        assert_eq!(cast.line, b"TOPIC #Sala zeca :t2\n");
        // zeca names carla: an operator here too.
        let cast = d.op_from_node("#sala", "zeca", "CARLA").unwrap();
        assert!(String::from_utf8(cast.line)
            .unwrap()
            .starts_with("ROOMOP #Sala zeca carla :"));
        assert!(d.is_room_op("#sala", 3) && !d.is_room_op("#sala", 2));
        // carla's topic, numbered 1 in Redis, came after zeca's (2): the
        // room keeps zeca's and nobody else is told; numbered 3, it is
        // the room's.
        assert_eq!(d.check_operator("#sala", 2), Err(ErrorCode::NotOperator));
        let cast = d.set_topic_at("#sala", peer(3), "velho", Some(1)).unwrap();
        assert!(cast.to.is_empty());
        assert_eq!(d.room_topic("#sala"), Some(("t2".into(), 2)));
        let cast = d.set_topic_at("#sala", peer(3), "novo", Some(3)).unwrap();
        assert_eq!(cast.to, [peer(2)]);
        assert_eq!(d.room_topic("#sala"), Some(("novo".into(), 3)));
        // A rename keeps the rank.
        d.rename("carla", "carol", peer(3)).unwrap();
        assert!(d.is_room_op("#sala", 3));
        d.part_room("#sala", peer(3)).unwrap();
        d.join_room("#sala", "carol", peer(3));
        assert!(!d.is_room_op("#sala", 3), "parting ends the rank");
        // zeca kicks bob: bob and carol are told, bob is out.
        let (cast, out_peer) = d.kick_from_node("#sala", "zeca", "bob").unwrap();
        assert_eq!(
            (out_peer, cast.to, cast.about),
            (peer(2), vec![peer(2), peer(3)], Some(2))
        );
        assert!(!d.is_member("#sala", 2));
        assert!(d.kick_from_node("#sala", "zeca", "bob").is_none());
        // The state read later replaces the operators.
        let later = SharedRoom {
            ops: [nick_key("carol")].into_iter().collect(),
            ..state
        };
        assert!(d.apply_shared_room("#sala", &later));
        assert!(d.is_room_op("#sala", 3));
        // ...but not a newer topic with an older one.
        assert_eq!(d.room_topic("#sala"), Some(("novo".into(), 3)));
    }

    #[test]
    fn rooms_members_operators() {
        let mut d = Directory::default();
        let mut out = Vec::new();
        for (i, n) in ["ana", "bob", "carla"].iter().enumerate() {
            d.register(n, peer(i as u64 + 1), None, &mut out, false)
                .unwrap();
        }
        let (name, topic, cast) = d.join_room("#Sala", "ana", peer(1));
        assert_eq!((&*name, topic.as_str(), cast.to.len()), ("#Sala", "", 0));
        let (_, _, cast) = d.join_room("#sala", "bob", peer(2));
        assert_eq!(cast.to, [peer(1)]);
        assert_eq!(cast.about, Some(2));
        assert!(String::from_utf8(cast.line)
            .unwrap()
            .starts_with("ROOMJOIN #Sala bob :"));
        // Joining twice tells nobody.
        assert!(d.join_room("#SALA", "bob", peer(2)).2.to.is_empty());
        assert_eq!(
            d.room_targets("#sala", 3).unwrap_err(),
            ErrorCode::NotInRoom
        );
        assert_eq!(d.room_targets("#sala", 1).unwrap().1, [peer(2)]);
        // bob is no operator; ana is (the creator).
        assert_eq!(
            d.set_topic("#sala", peer(2), "x").unwrap_err(),
            ErrorCode::NotOperator
        );
        assert_eq!(
            d.set_topic("#sala", peer(3), "x").unwrap_err(),
            ErrorCode::NotInRoom
        );
        let cast = d.set_topic("#sala", peer(1), "olá").unwrap();
        assert_eq!(cast.to, [peer(2)]);
        assert_eq!(cast.line, "TOPIC #Sala ana :olá\n".as_bytes());
        assert_eq!(
            d.make_op("#sala", peer(1), "carla").unwrap_err(),
            ErrorCode::NotInRoom
        );
        d.make_op("#sala", peer(1), "BOB").unwrap();
        let mut who = Vec::new();
        d.who("#sala", Some("4"), &mut who).unwrap();
        assert_eq!(who, b"@4 MEMBERS #Sala 2 :@ana @bob\n");
        let cast = d.kick("#sala", peer(2), "ana").unwrap();
        assert_eq!((cast.to, cast.about), (vec![peer(1)], Some(1)));
        assert!(!d.is_member("#sala", 1));
        d.rename("bob", "Bobby", peer(2)).unwrap();
        let rooms = d.rooms();
        assert_eq!(rooms.len(), 1);
        assert_eq!((rooms[0].members, rooms[0].topic.as_str()), (1, "olá"));
        who.clear();
        d.who("#sala", None, &mut who).unwrap();
        assert_eq!(who, b"MEMBERS #Sala 1 :@Bobby\n");
        // The last member leaving the server ends the room.
        d.remove("Bobby", peer(2), true).unwrap();
        assert_eq!(d.room_count(), 0);
        assert_eq!(
            d.part_room("#sala", peer(2)).unwrap_err(),
            ErrorCode::NotInRoom
        );
    }
}
