//! The other nodes' messages, in two threads: the subscriber reads them
//! from Redis (and follows the rooms this node's users are in), the
//! deliverer hands them to this node's users like one more I/O thread (it
//! has an [`Outbox`] of its own). The deliverer hands over as soon as
//! nothing more is waiting, so a lone message waits for no batch, while a
//! burst of remote public messages reaches each I/O thread as one
//! command. Between them, a bounded queue: a deliverer that falls behind
//! stops the subscriber's reads, Redis buffers, and past its limit for
//! subscribers cuts the connection, which shows as a gap (`LOST`).

mod files;

pub(super) use files::files_node_gone;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::time::Duration;

use super::remote::wake_all;
use super::{set_partitioned, tell_everyone};
use crate::protocol::{HistoryKind, ServerLine, Tag};
use crate::server::cluster::wire::{self, Bus, Envelope};
use crate::server::cluster::{node_channel, room_channel, Cluster, ALL, REMOTE};
use crate::server::outbox::Outbox;
use crate::server::session::{Conversation, Peer, Target};
use crate::server::shared::Shared;

/// How long one wait for a message lasts before the subscriber looks at
/// its rooms and the stop flag again.
const POLL: Duration = Duration::from_millis(50);
/// Messages (and room changes) between the subscriber and the deliverer.
const QUEUE: usize = 65_536;
/// Most messages handled between two hand-overs to the I/O threads.
const BATCH: usize = 256;

/// What the subscriber passes to the deliverer, in the order it happened.
pub(super) enum Delivery {
    /// A message from `channel`.
    Message { channel: String, payload: Vec<u8> },
    /// The subscriber now follows `room` on `channel`.
    Follow { channel: String, room: Arc<str> },
    /// The subscriber no longer follows the room on `channel`.
    Unfollow { channel: String },
}
/// The longest wait between two attempts to reach Redis.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// The subscriber's state across reconnections.
struct Reader {
    tx: SyncSender<Delivery>,
    /// Room channels subscribed to, with the room's name.
    rooms: HashMap<String, Arc<str>>,
    /// `Shared::rooms_seq` when the rooms were last compared.
    rooms_seq: u64,
    /// A connection for commands (a subscribed one takes none): the
    /// rooms' state read when this node starts following them.
    side: Option<redis::Connection>,
}

/// The deliverer's state.
struct Inbound {
    outbox: Outbox,
    /// The last number seen from each (node, channel).
    last: HashMap<(String, String), u64>,
    /// Room channels followed, with the room's name.
    rooms: HashMap<String, Arc<str>>,
}

/// The queue from the subscriber to the deliverer.
pub(super) fn queue() -> (SyncSender<Delivery>, Receiver<Delivery>) {
    sync_channel(QUEUE)
}

/// The deliverer thread (see the module doc): ends when the subscriber
/// has.
pub(super) fn deliverer(shared: Arc<Shared>, rx: Receiver<Delivery>) {
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
    };
    loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(d) => {
                st.take(&shared, c, d);
                let mut n = 1;
                while let Ok(d) = rx.try_recv() {
                    st.take(&shared, c, d);
                    n += 1;
                    if n >= BATCH {
                        st.flush(&shared);
                        n = 0;
                    }
                }
                st.flush(&shared);
            }
            Err(RecvTimeoutError::Timeout) => st.forget_gone(c),
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// The subscriber thread (see the module doc).
pub(super) fn subscriber(shared: Arc<Shared>, tx: SyncSender<Delivery>) {
    let Some(c) = shared.cluster.as_ref() else {
        return;
    };
    let mut st = Reader {
        tx,
        rooms: HashMap::new(),
        rooms_seq: u64::MAX,
        side: None,
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
        c.followed.lock().clear();
        st.rooms_seq = u64::MAX;
        c.subscribed.store(true, Ordering::Release);
        c.announce();
        if let Err(e) = st.receive(&shared, c, &mut ps) {
            set_partitioned(&shared, &e.to_string());
        }
        c.subscribed.store(false, Ordering::Release);
        c.followed.lock().clear();
    }
}

impl Reader {
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
                    let d = Delivery::Message {
                        channel: msg.get_channel_name().to_owned(),
                        payload: msg.get_payload_bytes().to_vec(),
                    };
                    if self.tx.send(d).is_err() {
                        return Ok(());
                    }
                }
                Err(e) if e.is_timeout() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
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
            c.followed.lock().remove(&ch);
            self.rooms.remove(&ch);
            let _ = self.tx.send(Delivery::Unfollow { channel: ch });
        }
        for (ch, name) in wanted {
            let new = !self.rooms.contains_key(&ch);
            if new {
                ps.subscribe(&ch)?;
                self.rooms.insert(ch.clone(), Arc::clone(&name));
                let _ = self.tx.send(Delivery::Follow {
                    channel: ch.clone(),
                    room: Arc::clone(&name),
                });
            }
            if new || resync {
                // Subscribed: the members read now are told, and those who
                // join from now on are told by their own `RJOIN`.
                let mut followed = c.followed.lock();
                followed.insert(ch.clone());
                tell_members(shared, c, &name);
                drop(followed);
                c.send(ch, &Bus::RoomSync(&name));
                super::rooms::follow(shared, c, &mut self.side, &name, resync);
            }
        }
        Ok(())
    }
}

/// The connection id of `from`, another node's user when it sent a
/// message, if it is this node's now (it resumed here while its message
/// was on its way: a sender never gets its own message back); else 0.
fn sender_here(shared: &Shared, from: &str) -> u64 {
    // Only in the lease after a user resumed here: not a registry lookup
    // (a nickname key and the directory's lock) for every message.
    if !shared.cluster.as_ref().is_some_and(|c| c.adopted_lately()) {
        return 0;
    }
    shared
        .lookup(from)
        .filter(|p| p.thread != REMOTE)
        .map_or(0, |p| p.id)
}

/// Sends this node's members of `room` on the room's channel.
fn tell_members(shared: &Shared, c: &Cluster, room: &str) {
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

impl Inbound {
    /// Forgets the numbers of nodes this node no longer knows (ended or
    /// silent), so that restarts over a long life do not pile them up.
    fn forget_gone(&mut self, c: &Cluster) {
        if self.last.len() <= 64 {
            return;
        }
        let remote = c.remote.lock();
        self.last
            .retain(|(node, _), _| remote.nodes.contains_key(node));
    }

    /// Hands what was collected to the I/O threads and wakes them.
    fn flush(&mut self, shared: &Shared) {
        self.outbox.flush(&shared.inboxes);
        self.outbox.send_wakes(&shared.inboxes);
    }

    /// One thing from the subscriber.
    fn take(&mut self, shared: &Shared, c: &Cluster, d: Delivery) {
        match d {
            Delivery::Message { channel, payload } => self.handle(shared, c, &channel, &payload),
            Delivery::Follow { channel, room } => {
                self.rooms.insert(channel, room);
            }
            Delivery::Unfollow { channel } => {
                self.last.retain(|(_, c), _| *c != channel);
                if let Some(name) = self.rooms.remove(&channel) {
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
        c.received.fetch_add(1, Ordering::Relaxed);
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
                c.lost.fetch_add(missed, Ordering::Relaxed);
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
            Bus::Moved(nick) => {
                self.flush(shared);
                c.moved_in(shared, node, nick);
            }
            Bus::MovedOk(nick) => {
                if let Some(tx) = c.moves.lock().remove(&crate::protocol::nick_key(nick)) {
                    let _ = tx.try_send(());
                }
            }
            // A node of an earlier papo: no id of its own; this node gives
            // it one.
            Bus::Public { from, text } => self.public(shared, from, text, None),
            Bus::Private { to, from, text } => self.private(shared, c, to, from, text, None),
            Bus::Room { room, from, text } => self.room(shared, room, from, text, None),
            // The id and time the sender's node gave it: the same message
            // has the same id on every node (cluster-wide ids).
            Bus::PublicTagged { from, tag, text } => self.public(shared, from, text, Some(tag)),
            Bus::PrivateTagged {
                to,
                from,
                tag,
                text,
            } => self.private(shared, c, to, from, text, Some(tag)),
            Bus::RoomTagged {
                room,
                from,
                tag,
                text,
            } => self.room(shared, room, from, text, Some(tag)),
            Bus::RoomJoin { room, nick } => {
                self.flush(shared);
                self.join(shared, c, node, room, nick, false);
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
            Bus::RoomSync(room) => tell_members(shared, c, room),
            Bus::RoomTopic {
                room,
                by,
                ver,
                text,
            } => {
                self.flush(shared);
                super::rooms::topic(shared, &mut self.outbox, room, by, ver, text);
            }
            Bus::RoomOp { room, by, nick } => {
                self.flush(shared);
                super::rooms::op(shared, &mut self.outbox, room, by, nick);
            }
            Bus::RoomKick { room, by, nick } => {
                self.flush(shared);
                super::rooms::kick(shared, &mut self.outbox, room, by, nick);
            }
            Bus::UserKick { to, by } => {
                self.flush(shared);
                super::rooms::kick_user(shared, &mut self.outbox, to, by);
            }
            Bus::RoomMembers { room, nicks } => {
                self.flush(shared);
                for nick in nicks {
                    self.join(shared, c, node, room, nick, true);
                }
            }
        }
    }

    /// A public message from another node: recorded and delivered with
    /// `tag` (its node's), or a new one of this node's.
    fn public(&mut self, shared: &Shared, from: &str, text: &str, tag: Option<Tag>) {
        let tag = tag.unwrap_or_else(|| shared.history.stamp(crate::server::unix_time_ms()));
        shared
            .history
            .record(Conversation::Public, tag, HistoryKind::Public, from, text);
        let seq = shared.change_seq.load(Ordering::Acquire) + 1;
        self.outbox
            .public(seq, sender_here(shared, from), from, text, tag);
    }

    /// A private message from another node to `to`, a user of this one;
    /// or of another node now (it resumed there, and the sender's node did
    /// not know yet): forwarded there, with its id.
    fn private(
        &mut self,
        shared: &Shared,
        c: &Cluster,
        to: &str,
        from: &str,
        text: &str,
        tag: Option<Tag>,
    ) {
        let Some(peer) = shared.lookup(to) else {
            return;
        };
        if peer.thread == REMOTE {
            if let Some(tag) = tag {
                c.private(peer, from, text, tag);
            }
            return;
        }
        let tag = tag.unwrap_or_else(|| shared.history.stamp(crate::server::unix_time_ms()));
        shared.history.record(
            Conversation::private(from, to),
            tag,
            HistoryKind::Private,
            from,
            text,
        );
        self.outbox.private(peer, from, text, tag);
    }

    /// A room message from another node, for this node's members.
    fn room(&mut self, shared: &Shared, room: &str, from: &str, text: &str, tag: Option<Tag>) {
        let Some((name, members)) = shared.directory.read().room_peers(room) else {
            return;
        };
        let tag = tag.unwrap_or_else(|| shared.history.stamp(crate::server::unix_time_ms()));
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
        let except = sender_here(shared, from);
        self.outbox.room_message(&members, except, &line, tag);
    }

    /// `nick`, a user of `node`, is a member of `room`, if the room has
    /// members here (otherwise this node does not follow it).
    ///
    /// `listed`: from a node's list of its members (`RMEMBERS`, which
    /// also answers this node's `RSYNC` when it starts following the
    /// room): a user that just resumed here, and was in the room all
    /// along, is not told they joined.
    fn join(
        &mut self,
        shared: &Shared,
        c: &Cluster,
        node: &str,
        room: &str,
        nick: &str,
        listed: bool,
    ) {
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
        let mut to = cast.to;
        if listed {
            to.retain(|p| !c.just_adopted(p.id));
        }
        self.outbox.room(cast.line, None, &to, cast.about);
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
