//! The subscriber thread: receives the other nodes' messages from Redis
//! and delivers them to this node's users, like one more I/O thread (it
//! has an [`Outbox`] of its own, so a burst of remote public messages
//! reaches each I/O thread as one command).

mod files;

pub(super) use files::files_node_gone;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::remote::wake_all;
use super::{set_partitioned, tell_everyone};
use crate::protocol::{HistoryKind, ServerLine};
use crate::server::cluster::wire::{self, Bus, Envelope};
use crate::server::cluster::{node_channel, room_channel, Cluster, ALL, REMOTE};
use crate::server::outbox::Outbox;
use crate::server::session::{Conversation, Peer, Target};
use crate::server::shared::Shared;

/// How long one wait for a message lasts before the thread looks at its
/// rooms and the stop flag again.
const POLL: Duration = Duration::from_millis(50);
/// The longest wait between two attempts to reach Redis.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// The subscriber's state across reconnections.
struct Inbound {
    outbox: Outbox,
    /// The last number seen from each (node, channel).
    last: HashMap<(String, String), u64>,
    /// Room channels subscribed to, with the room's name.
    rooms: HashMap<String, Arc<str>>,
    /// `Shared::rooms_seq` when the rooms were last compared.
    rooms_seq: u64,
    /// Messages since the outbox was last handed over.
    unflushed: usize,
}

/// The subscriber thread (see the module doc).
pub(super) fn subscriber(shared: Arc<Shared>) {
    let Some(c) = shared.cluster.as_ref() else {
        return;
    };
    let threads = shared.inboxes.len();
    let mut st = Inbound {
        outbox: Outbox::new(
            threads,
            threads,
            shared.cfg.max_queue_bytes,
            Arc::clone(&shared.meter),
        ),
        last: HashMap::new(),
        rooms: HashMap::new(),
        rooms_seq: u64::MAX,
        unflushed: 0,
    };
    let mut backoff = Duration::from_millis(100);
    while !c.stopping() {
        let mut con = match c.connect() {
            Ok(k) => k,
            Err(e) => {
                set_partitioned(&shared, &e.to_string());
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        if con.set_read_timeout(Some(POLL)).is_err() {
            continue;
        }
        let mut ps = con.as_pubsub();
        if ps.subscribe(&[ALL, &node_channel(&c.node)]).is_err() {
            continue;
        }
        backoff = Duration::from_millis(100);
        st.rooms.clear();
        st.rooms_seq = u64::MAX;
        c.subscribed.store(true, Ordering::Release);
        c.announce();
        if let Err(e) = st.receive(&shared, c, &mut ps) {
            set_partitioned(&shared, &e.to_string());
        }
        st.flush(&shared);
        c.subscribed.store(false, Ordering::Release);
    }
}

impl Inbound {
    /// Receives until the link fails or the server stops.
    fn receive(
        &mut self,
        shared: &Shared,
        c: &Cluster,
        ps: &mut redis::PubSub<'_>,
    ) -> redis::RedisResult<()> {
        while !c.stopping() {
            self.follow_rooms(shared, c, ps)?;
            match ps.get_message() {
                Ok(msg) => {
                    let channel = msg.get_channel_name().to_owned();
                    self.handle(shared, c, &channel, msg.get_payload_bytes());
                    self.unflushed += 1;
                    if self.unflushed >= 64 {
                        self.flush(shared);
                    }
                }
                Err(e) if e.is_timeout() => self.flush(shared),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Hands what was collected to the I/O threads and wakes them.
    fn flush(&mut self, shared: &Shared) {
        self.unflushed = 0;
        self.outbox.flush(&shared.inboxes);
        self.outbox.send_wakes(&shared.inboxes);
    }

    /// Subscribes to the channels of the rooms that have members here,
    /// and unsubscribes from the others (forgetting their other nodes'
    /// members: nobody here hears of them any more).
    fn follow_rooms(
        &mut self,
        shared: &Shared,
        c: &Cluster,
        ps: &mut redis::PubSub<'_>,
    ) -> redis::RedisResult<()> {
        let resync = c.resync_rooms.swap(false, Ordering::AcqRel);
        let seq = shared.rooms_seq.load(Ordering::Acquire);
        if seq == self.rooms_seq && !resync {
            return Ok(());
        }
        self.rooms_seq = seq;
        let wanted: HashMap<String, Arc<str>> = shared
            .directory
            .read()
            .rooms_with(|p| p.thread != REMOTE)
            .into_iter()
            .map(|name| (room_channel(&name), name))
            .collect();
        let gone: Vec<String> = self
            .rooms
            .keys()
            .filter(|k| !wanted.contains_key(*k))
            .cloned()
            .collect();
        for ch in gone {
            ps.unsubscribe(&ch)?;
            self.last.retain(|(_, c), _| *c != ch);
            if let Some(name) = self.rooms.remove(&ch) {
                self.flush(shared);
                let remote = shared
                    .directory
                    .write()
                    .drop_room_members(&name, |p| p.thread == REMOTE);
                if remote {
                    shared.rooms_seq.fetch_add(1, Ordering::Release);
                }
            }
        }
        for (ch, name) in wanted {
            let new = !self.rooms.contains_key(&ch);
            if new {
                ps.subscribe(&ch)?;
                self.rooms.insert(ch.clone(), Arc::clone(&name));
            }
            if new || resync {
                self.tell_members(shared, c, &name);
                c.send(ch, &Bus::RoomSync(&name));
            }
        }
        Ok(())
    }

    /// Sends this node's members of `room` on the room's channel.
    fn tell_members(&self, shared: &Shared, c: &Cluster, room: &str) {
        let members = shared.directory.read().room_members(room);
        let nicks: Vec<&str> = members
            .iter()
            .filter(|(_, p)| p.thread != REMOTE)
            .map(|(n, _)| &**n)
            .collect();
        if !nicks.is_empty() {
            c.send(room_channel(room), &Bus::RoomMembers { room, nicks });
        }
    }

    /// One message from Redis.
    fn handle(&mut self, shared: &Shared, c: &Cluster, channel: &str, payload: &[u8]) {
        let Some(Envelope { node, seq, msg }) = wire::parse(payload) else {
            return;
        };
        if node == c.node {
            return;
        }
        c.touch(node);
        if seq != 0 {
            let last = self
                .last
                .entry((node.to_owned(), channel.to_owned()))
                .or_insert(0);
            if seq <= *last {
                // Sent again after a cut that hid whether the first
                // attempt arrived: already delivered.
                return;
            }
            let missed = if *last != 0 { seq - *last - 1 } else { 0 };
            *last = seq;
            if missed > 0 {
                self.lost(shared, channel, missed);
                self.files_lost(shared, c, node, channel);
            }
        }
        match msg {
            Bus::Heartbeat => {}
            Bus::Bye => {
                self.flush(shared);
                c.forget_node(shared, node);
            }
            Bus::Sync => {
                let nicks = c.local_nicks();
                let list: Vec<&str> = nicks.iter().map(|n| &**n).collect();
                c.send(node_channel(node), &Bus::Users(list));
            }
            Bus::Users(list) => {
                self.flush(shared);
                c.reconcile(shared, node, &list);
            }
            Bus::Join(nick) => {
                self.flush(shared);
                c.ensure_remote(shared, node, nick);
            }
            Bus::Left(nick) => {
                self.flush(shared);
                c.drop_remote(shared, node, nick);
            }
            Bus::Nick(old, new) => {
                self.flush(shared);
                c.rename_remote(shared, node, old, new);
            }
            Bus::Public { from, text } => {
                let tag = shared.history.stamp(crate::server::unix_time_ms());
                shared
                    .history
                    .record(Conversation::Public, tag, HistoryKind::Public, from, text);
                let seq = shared.change_seq.load(Ordering::Acquire) + 1;
                self.outbox.public(seq, 0, from, text, tag);
            }
            Bus::Private { to, from, text } => {
                let Some(peer) = shared.lookup(to).filter(|p| p.thread != REMOTE) else {
                    return;
                };
                let tag = shared.history.stamp(crate::server::unix_time_ms());
                shared.history.record(
                    Conversation::private(from, to),
                    tag,
                    HistoryKind::Private,
                    from,
                    text,
                );
                self.outbox.private(peer, from, text, tag);
            }
            Bus::Room { room, from, text } => {
                let Some((name, members)) = shared.directory.read().room_peers(room) else {
                    return;
                };
                let tag = shared.history.stamp(crate::server::unix_time_ms());
                shared.history.record(
                    Conversation::room(&name),
                    tag,
                    HistoryKind::Room,
                    from,
                    text,
                );
                let members: Arc<[Peer]> = Arc::from(members);
                let line = ServerLine::Room {
                    room: &*name,
                    from,
                    text,
                };
                self.outbox.room_message(&members, 0, &line, tag);
            }
            Bus::RoomJoin { room, nick } => {
                self.flush(shared);
                self.join(shared, c, node, room, nick);
            }
            Bus::RoomPart { room, nick } => {
                self.flush(shared);
                let Some(peer) = c.ensure_remote(shared, node, nick) else {
                    return;
                };
                let cast = shared.directory.write().part_room(room, peer);
                shared.rooms_seq.fetch_add(1, Ordering::Release);
                if let Ok((_, cast)) = cast {
                    self.outbox.room(cast.line, None, &cast.to, cast.about);
                }
            }
            Bus::Frame { to, frame } => {
                let target = match to {
                    None => Target::All {
                        seq: shared.change_seq.load(Ordering::Acquire) + 1,
                        except: 0,
                    },
                    Some(nick) => match shared.lookup(nick).filter(|p| p.thread != REMOTE) {
                        Some(p) => Target::One(p),
                        None => return,
                    },
                };
                self.outbox
                    .frame(target, frame.to_vec(), None, false, &shared.inboxes);
            }
            msg @ Bus::FileFrame { .. } => self.file_frame(shared, c, node, msg),
            Bus::FileProgress { id, bytes } => c.file_progress(node, id, bytes),
            Bus::FileGone { id, text_only } => c.file_gone(node, id, text_only),
            Bus::RoomSync(room) => self.tell_members(shared, c, room),
            Bus::RoomMembers { room, nicks } => {
                self.flush(shared);
                for nick in nicks {
                    self.join(shared, c, node, room, nick);
                }
            }
        }
    }

    /// `nick`, a user of `node`, is a member of `room`, if the room has
    /// members here (otherwise this node does not follow it).
    fn join(&mut self, shared: &Shared, c: &Cluster, node: &str, room: &str, nick: &str) {
        let Some(peer) = c.ensure_remote(shared, node, nick) else {
            return;
        };
        let cast = {
            let mut dir = shared.directory.write();
            if dir.room_peers(room).is_none() || dir.is_member(room, peer.id) {
                return;
            }
            let (_, _, cast) = dir.join_room(room, nick, peer);
            shared.rooms_seq.fetch_add(1, Ordering::Release);
            cast
        };
        self.outbox.room(cast.line, None, &cast.to, cast.about);
    }

    /// `count` messages on `channel` never came: tell whom they were for
    /// (a room's members here; everyone for the public and this node's
    /// private channel, whose receivers cannot be known).
    fn lost(&mut self, shared: &Shared, channel: &str, count: u64) {
        self.flush(shared);
        let line = ServerLine::Lost { count };
        match self.rooms.get(channel) {
            Some(name) => {
                let Some((_, members)) = shared.directory.read().room_peers(name) else {
                    return;
                };
                let mut bytes = Vec::new();
                line.encode(&mut bytes);
                self.outbox.room(bytes, None, &members, None);
            }
            None => tell_everyone(shared, line),
        }
        wake_all(shared);
    }
}
