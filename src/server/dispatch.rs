//! The bridge between a session and its I/O thread: [`Dispatch`] is the
//! [`Host`] a session talks to inside a worker. It appends replies to the
//! connection's queue, runs registry changes on the shared directory, and
//! hands what other connections must get to the thread's [`Outbox`].

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use super::conn::{BufPool, Chunk, Moving, Queue};
use super::inbox::{Cmd, ThreadStats};
use super::outbox::Outbox;
use super::session::{
    constant_time_eq, Conversation, Directory, Entry, Flow, History, Host, Peer, Resumption,
    RoomCast, RoomChange, RoomSummary, SharedRoom, Target, MAX_HISTORY_REQUEST,
};
use super::shared::Shared;
use super::tls::Stream;
use super::ServerEvent;
use crate::error::ErrorCode;
use crate::protocol::{HistoryKind, ServerLine, Tag};

/// Most nicknames in one thread's lookup cache (emptied when full).
const LOOKUP_CACHE_MAX: usize = 4096;

/// What a session's host needs from its I/O thread besides the connection
/// itself.
pub(crate) struct Io {
    pub idx: usize,
    pub shared: Arc<Shared>,
    pub outbox: Outbox,
    /// Empty outbound buffers kept for reuse.
    pub pool: BufPool,
    /// Connections to write at the end of the burst.
    pub dirty: Vec<usize>,
    /// Connections that had their write budget for this turn and may take
    /// more: written again on the next turn.
    pub write_again: Vec<usize>,
    /// Connections over their queue limit: (slot, id), to drop as slow
    /// consumers.
    pub kill: Vec<(usize, u64)>,
    /// Bytes written outside the flush (to relieve a full queue), not yet
    /// added to the thread's counters.
    pub sent_early: u64,
    /// Receivers with file data waiting: (slot, id), checked for stalls.
    pub watch: Vec<(usize, u64)>,
    /// The server is shutting down.
    pub stopping: bool,
    lookup: LookupCache,
    /// Snapshots of rooms' members (`room_members`).
    rooms: RoomCache,
    /// Where replies to a connection that can take no more go.
    discard: Vec<u8>,
    /// Connections of this thread whose session presented a held
    /// connection's resume token: their sockets go there
    /// (`worker/lifecycle.rs`, `hand_over`).
    pub moving: Vec<Moving>,
    /// This thread's connection to the cluster's Redis, for nickname
    /// claims (opened on first use, dropped on an error).
    redis: Option<redis::Connection>,
}

impl Io {
    pub(crate) fn new(idx: usize, shared: Arc<Shared>) -> Io {
        let threads = shared.inboxes.len();
        let max_queue = shared.cfg.max_queue_bytes;
        Io {
            idx,
            outbox: Outbox::new(idx, threads, max_queue, Arc::clone(&shared.meter)),
            pool: BufPool::default(),
            dirty: Vec::new(),
            write_again: Vec::new(),
            kill: Vec::new(),
            sent_early: 0,
            watch: Vec::new(),
            stopping: false,
            lookup: LookupCache::default(),
            rooms: RoomCache::default(),
            discard: Vec::new(),
            moving: Vec::new(),
            redis: None,
            shared,
        }
    }

    pub(crate) fn stats(&self) -> Option<&ThreadStats> {
        self.shared.inboxes.get(self.idx).map(|i| &i.stats)
    }

    /// Marks connection `slot` for writing and checks its queue limit. Over
    /// the limit, the socket first gets what it takes at once: only a client
    /// whose socket is full and whose queue still passes the limit is a slow
    /// consumer (a client that reads is never dropped because one burst was
    /// big).
    pub(crate) fn after_append(
        &mut self,
        out: &mut Queue,
        stream: &mut Stream,
        slot: usize,
        id: u64,
    ) {
        if out.held {
            out.discard_all(&self.shared.meter);
            return;
        }
        let max = self.shared.cfg.max_queue_bytes;
        if !out.doomed && out.queued() > max {
            // An error here shows again when the connection is flushed.
            self.sent_early += out.write_to(stream, usize::MAX).0;
            if out.queued() > max {
                out.doomed = true;
                self.kill.push((slot, id));
            }
        }
        self.mark(out, slot);
    }

    /// Puts connection `slot` in the dirty list (once).
    pub(crate) fn mark(&mut self, out: &mut Queue, slot: usize) {
        if out.held {
            out.discard_all(&self.shared.meter);
            return;
        }
        if !out.dirty {
            out.dirty = true;
            self.dirty.push(slot);
        }
    }

    /// Queues a whole payload frame for connection `slot`; with `flow`, it
    /// takes its own share of the transfer's credit until written.
    pub(crate) fn deliver_frame(
        &mut self,
        out: &mut Queue,
        stream: &mut Stream,
        slot: usize,
        id: u64,
        bytes: &Chunk,
        flow: Option<&Arc<Flow>>,
    ) {
        let credit = flow.map(|f| f.charge_to(bytes.len() as u64, id));
        self.pool.fill_segs(out, bytes.len());
        if out.push_shared_frame(bytes, credit, Instant::now()) {
            self.watch.push((slot, id));
        }
        self.after_append(out, stream, slot, id);
    }

    /// The room `room` (as a client typed it) and its members, if
    /// connection `me` is one of them (21 otherwise): from the thread's
    /// snapshot while the rooms have not changed since it was taken
    /// (`Shared::rooms_seq`), so that a burst of room messages takes no
    /// lock and copies no member list (the directory's lock is a cache line
    /// every I/O thread would touch, as `lookup` explains).
    fn room_members(&mut self, room: &str, me: u64) -> Result<RoomSnapshot, ErrorCode> {
        let seq = self.shared.rooms_seq.load(Ordering::Acquire);
        let cache = &mut self.rooms;
        if seq != cache.seq {
            cache.map.clear();
            cache.seq = seq;
        }
        if let Some((name, members)) = cache.map.get(room) {
            if members.iter().any(|p| p.id == me) {
                return Ok((Arc::clone(name), Arc::clone(members)));
            }
            return Err(ErrorCode::NotInRoom);
        }
        // Read after `seq`: the snapshot is at least as new as its tag.
        let (name, members) = self.shared.directory.read().room_snapshot(room, me)?;
        let members: Arc<[Peer]> = Arc::from(members);
        if cache.map.len() >= LOOKUP_CACHE_MAX {
            cache.map.clear();
        }
        cache
            .map
            .insert(Box::from(room), (Arc::clone(&name), Arc::clone(&members)));
        Ok((name, members))
    }

    /// Where the nickname `to` (as a client typed it) is online. Answers
    /// come from a per-thread cache that is emptied whenever the registry
    /// changes (`change_seq`), so the common case, one client writing to the
    /// same few others, costs a hash lookup: no lower-casing, no allocation,
    /// no shared lock (the lock's counter was a cache line bouncing between
    /// the I/O threads: 16% of the server's time in the private-message
    /// benchmark).
    fn lookup(&mut self, to: &str) -> Option<Peer> {
        let seq = self.shared.change_seq.load(Ordering::Acquire);
        let cache = &mut self.lookup;
        if seq != cache.seq {
            cache.map.clear();
            cache.seq = seq;
        }
        if let Some(hit) = cache.map.get(to) {
            return Some(*hit);
        }
        // Read after `seq`: the answer is at least as new as the tag it is
        // cached under; a change after it empties the cache next time.
        let found = self.shared.lookup(to)?;
        if cache.map.len() >= LOOKUP_CACHE_MAX {
            cache.map.clear();
        }
        cache.map.insert(Box::from(to), found);
        Some(found)
    }
}

/// Nickname (as typed) -> where it is, valid while the registry's
/// `change_seq` is `seq`.
struct LookupCache {
    map: HashMap<Box<str>, Peer, BuildHasherDefault<FxHasher>>,
    seq: u64,
}

impl Default for LookupCache {
    fn default() -> LookupCache {
        LookupCache {
            map: HashMap::default(),
            seq: u64::MAX,
        }
    }
}

/// A room's name and members.
type RoomSnapshot = (Arc<str>, Arc<[Peer]>);

/// Room (as typed) -> its name and members, valid while the rooms'
/// `rooms_seq` is `seq`.
struct RoomCache {
    map: HashMap<Box<str>, RoomSnapshot, BuildHasherDefault<FxHasher>>,
    seq: u64,
}

impl Default for RoomCache {
    fn default() -> RoomCache {
        RoomCache {
            map: HashMap::default(),
            seq: u64::MAX,
        }
    }
}

/// The multiply-rotate hash of rustc ("FxHash"): a few cycles for a short
/// nickname where SipHash takes tens. Only for the per-thread lookup cache,
/// whose keys come from clients: a client can at worst slow its own
/// thread's cache, which is bounded ([`LOOKUP_CACHE_MAX`]) and emptied on
/// every registry change.
#[derive(Default)]
struct FxHasher {
    hash: u64,
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.hash = (self.hash.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.hash = (self.hash.rotate_left(5) ^ b as u64).wrapping_mul(K);
        }
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

/// The host of one session while it handles one input.
pub(crate) struct Dispatch<'a> {
    pub io: &'a mut Io,
    pub out: &'a mut Queue,
    pub stream: &'a mut Stream,
    /// The registry change that registered this connection: it receives
    /// only broadcasts numbered after it.
    pub reg_seq: &'a mut u64,
    pub slot: usize,
    pub id: u64,
    pub addr: SocketAddr,
    /// The connection counts against `max_clients` (and its IP address's
    /// share); see [`Dispatch::event`].
    pub counted: &'a mut bool,
    /// Something was appended to the queue.
    pub touched: bool,
}

impl Dispatch<'_> {
    /// Checks the queue limit and marks the connection for writing if the
    /// session appended anything. Call after each input.
    pub(crate) fn settle(&mut self) {
        if std::mem::take(&mut self.touched) {
            self.io
                .after_append(self.out, self.stream, self.slot, self.id);
        }
        self.io.discard.clear();
    }
}

impl Dispatch<'_> {
    /// The names of the rooms this connection is a member of.
    fn my_rooms(&self) -> Vec<String> {
        self.io
            .shared
            .directory
            .read()
            .rooms_of(self.id)
            .into_iter()
            .map(|(_, name)| name.to_string())
            .collect()
    }
}

impl Host for Dispatch<'_> {
    fn reply(&mut self) -> &mut Vec<u8> {
        if self.out.doomed {
            // Over its limit: it is being dropped, nothing more goes in.
            return &mut self.io.discard;
        }
        if !self.touched {
            self.touched = true;
            self.io.pool.fill(&mut self.out.buf);
        }
        &mut self.out.buf
    }

    fn me(&self) -> Peer {
        Peer {
            thread: self.io.idx,
            slot: self.slot,
            id: self.id,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn stopping(&self) -> bool {
        self.io.stopping
    }

    fn register(
        &mut self,
        nick: &str,
        users: bool,
        label: Option<&str>,
    ) -> Result<Arc<str>, ErrorCode> {
        // What this client sent before goes to the others before its JOIN.
        self.io.outbox.flush(&self.io.shared.inboxes);
        let me = self.me();
        let shared = Arc::clone(&self.io.shared);
        // In a cluster the nickname is first claimed in Redis, so that two
        // nodes cannot both give it out (a round trip on this thread).
        let claim = match &shared.cluster {
            Some(c) => Some(c.claim(&mut self.io.redis, nick, me)?),
            None => None,
        };
        match shared.register(nick, me, label, self.reply(), users) {
            Ok((stored, seq)) => {
                *self.reg_seq = seq;
                self.io.outbox.wake_all();
                if let (Some(c), Some(claim)) = (&shared.cluster, claim) {
                    c.registered(claim, None);
                }
                Ok(stored)
            }
            Err(e) => {
                if let (Some(c), Some(claim)) = (&shared.cluster, claim) {
                    c.unclaim(claim, true);
                }
                Err(e)
            }
        }
    }

    fn rename(&mut self, old: &str, new: &str) -> Result<Arc<str>, ErrorCode> {
        self.io.outbox.flush(&self.io.shared.inboxes);
        let me = self.me();
        let shared = Arc::clone(&self.io.shared);
        let claim = match &shared.cluster {
            Some(c) => Some(c.claim(&mut self.io.redis, new, me)?),
            None => None,
        };
        // Its rooms' members and operators in Redis follow, before the
        // registry: a room's state read from Redis meanwhile (this node
        // starting to follow it) then names the operator by either name,
        // and the registry's rename keeps the rank in both cases.
        let rooms = match &shared.cluster {
            Some(c) => {
                let rooms = self.my_rooms();
                c.room_rename(&mut self.io.redis, old, new, &rooms);
                rooms
            }
            None => Vec::new(),
        };
        match shared.rename(old, new, me) {
            Ok(stored) => {
                self.io.outbox.wake_all();
                if let (Some(c), Some(claim)) = (&shared.cluster, claim) {
                    c.registered(claim, Some(old));
                }
                Ok(stored)
            }
            Err(e) => {
                if let (Some(c), Some(claim)) = (&shared.cluster, claim) {
                    c.room_rename(&mut self.io.redis, new, old, &rooms);
                    let other = crate::protocol::nick_key(old) != crate::protocol::nick_key(new);
                    c.unclaim(claim, other);
                }
                Err(e)
            }
        }
    }

    fn leave(&mut self, nick: &str, announce: bool) {
        let shared = Arc::clone(&self.io.shared);
        if let Some(c) = &shared.cluster {
            // Leaving the server leaves every room, in Redis too.
            let rooms = self.my_rooms();
            c.room_parts(&mut self.io.redis, nick, &rooms);
        }
        if announce {
            self.io.outbox.flush(&self.io.shared.inboxes);
        }
        self.io.shared.leave(nick, self.me(), announce);
        if announce {
            self.io.outbox.wake_all();
        }
        if let Some(c) = &self.io.shared.cluster {
            c.left(nick, self.me());
        }
    }

    fn lookup(&mut self, nick: &str) -> Option<Peer> {
        let peer = self.io.lookup(nick)?;
        match &self.io.shared.cluster {
            // Another node's user while cut off from it: not reachable, so
            // not online as far as a sender here can tell (02).
            Some(c) if !c.reachable(peer) => None,
            _ => Some(peer),
        }
    }

    fn users(&mut self, label: Option<&str>) {
        let shared = Arc::clone(&self.io.shared);
        let dir = shared.directory.read();
        dir.users(label, self.reply());
    }

    fn everyone(&mut self) -> Target {
        Target::All {
            seq: self.io.shared.change_seq.load(Ordering::Acquire) + 1,
            except: self.id,
        }
    }

    fn public(&mut self, from: &str, text: &str, tag: Tag) {
        let seq = self.io.shared.change_seq.load(Ordering::Acquire) + 1;
        self.io.outbox.public(seq, self.id, from, text, tag);
        if let Some(c) = &self.io.shared.cluster {
            c.public(from, text, tag);
        }
        if let Some(s) = self.io.stats() {
            ThreadStats::add(&s.messages_received, 1);
        }
    }

    fn private(&mut self, to: Peer, from: &str, text: &str, tag: Tag) {
        match &self.io.shared.cluster {
            Some(c) if to.thread == super::cluster::REMOTE => {
                if !c.private(to, from, text, tag) {
                    // Looked up just before that user resumed here.
                    if let Some(here) = c.adopted_peer(to.id) {
                        self.io.outbox.private(here, from, text, tag);
                    }
                }
            }
            _ => self.io.outbox.private(to, from, text, tag),
        }
        if let Some(s) = self.io.stats() {
            ThreadStats::add(&s.messages_received, 1);
        }
    }

    fn history(&self) -> &History {
        &self.io.shared.history
    }

    fn shared_record(
        &mut self,
        conversation: &Conversation,
        tag: Tag,
        kind: HistoryKind,
        from: &str,
        text: &str,
    ) {
        if let Some(c) = &self.io.shared.cluster {
            // A private message also goes to its receiver's own stream, for
            // a resume on another node.
            let inbox = match (conversation, kind) {
                (Conversation::Private(a, b), HistoryKind::Private) => {
                    let me = crate::protocol::nick_key(from);
                    let to = if *a == me { b } else { a };
                    let ttl = c.record_ttl_ms(self.io.shared.rules.load().resume_grace);
                    Some((to.as_str(), ttl))
                }
                _ => None,
            };
            c.archive(conversation, tag, kind, from, text, inbox);
        }
    }

    fn shared_history(
        &mut self,
        conversation: &Conversation,
        count: u64,
        before: Option<u64>,
    ) -> Option<Vec<Arc<Entry>>> {
        let c = self.io.shared.cluster.as_ref()?;
        let cfg = &self.io.shared.cfg;
        let age = u64::try_from(cfg.history_max_age.as_millis()).unwrap_or(u64::MAX);
        let oldest = super::unix_time_ms().saturating_sub(age);
        let count = count.min(MAX_HISTORY_REQUEST) as usize;
        c.history(
            &mut self.io.redis,
            conversation,
            count,
            before,
            oldest,
            cfg.history_limit,
        )
    }

    fn unix_ms(&mut self) -> u64 {
        super::unix_time_ms()
    }

    fn directory(&mut self, f: &mut dyn FnMut(&Directory)) {
        f(&self.io.shared.directory.read());
    }

    fn directory_mut(&mut self, f: &mut dyn FnMut(&mut Directory)) {
        let mut dir = self.io.shared.directory.write();
        f(&mut dir);
        // Room membership may have changed: the threads' snapshots are stale.
        self.io.shared.rooms_seq.fetch_add(1, Ordering::Release);
    }

    fn room_message(
        &mut self,
        room: &str,
        from: &str,
        text: &str,
        tag: Tag,
    ) -> Result<Arc<str>, ErrorCode> {
        let me = self.id;
        let (name, members) = self.io.room_members(room, me)?;
        if let Some(c) = &self.io.shared.cluster {
            // Shared history before anyone sees it (`Host::shared_record`).
            c.archive(
                &Conversation::room(&name),
                tag,
                HistoryKind::Room,
                from,
                text,
                None,
            );
        }
        let line = ServerLine::Room {
            room: &*name,
            from,
            text,
        };
        self.io.outbox.room_message(&members, me, &line, tag);
        if let Some(c) = &self.io.shared.cluster {
            c.room(&name, from, text, tag);
        }
        if let Some(s) = self.io.stats() {
            ThreadStats::add(&s.messages_received, 1);
        }
        Ok(name)
    }

    fn room_cast(&mut self, cast: RoomCast, tagged: Option<Vec<u8>>) {
        self.io.outbox.room(cast.line, tagged, &cast.to, cast.about);
    }

    fn room_member(&mut self, room: &str, nick: &str, joined: bool) {
        let shared = Arc::clone(&self.io.shared);
        if let Some(c) = &shared.cluster {
            if !joined {
                // (A join was recorded by `room_joining`.)
                c.room_parts(&mut self.io.redis, nick, &[room.to_owned()]);
            }
            c.room_member(room, nick, joined);
        }
    }

    fn room_joining(&mut self, room: &str, nick: &str) -> Option<SharedRoom> {
        let shared = Arc::clone(&self.io.shared);
        shared
            .cluster
            .as_ref()?
            .room_join(&mut self.io.redis, room, nick)
    }

    fn room_operated(&mut self, room: &str, change: RoomChange<'_>) -> Option<u64> {
        let shared = Arc::clone(&self.io.shared);
        shared
            .cluster
            .as_ref()?
            .room_operated(&mut self.io.redis, room, change)
    }

    fn cluster_who(&mut self, room: &str, label: Option<&str>) -> Option<Vec<u8>> {
        let shared = Arc::clone(&self.io.shared);
        let (name, members) = shared
            .cluster
            .as_ref()?
            .room_who(&mut self.io.redis, room)??;
        if members.is_empty() {
            return None;
        }
        let mut nicks: Vec<(String, String)> = members
            .into_iter()
            .map(|(n, op)| {
                let shown = if op { format!("@{n}") } else { n.clone() };
                (crate::protocol::nick_fold(&n), shown)
            })
            .collect();
        nicks.sort();
        let mut line = Vec::new();
        ServerLine::Members {
            room: name.as_str(),
            nicks: nicks.iter().map(|(_, n)| n.as_str()).collect(),
        }
        .encode_labeled(label, &mut line);
        Some(line)
    }

    fn cluster_rooms(&mut self) -> Option<Vec<RoomSummary>> {
        let shared = Arc::clone(&self.io.shared);
        shared.cluster.as_ref()?.rooms_list(&mut self.io.redis)
    }

    fn kick_user(&mut self, to: Peer, by: &str) {
        self.kick_user_reached(to, by);
    }

    fn kick_user_reached(&mut self, to: Peer, by: &str) -> bool {
        if to.thread == super::cluster::REMOTE {
            // Another node's user: its node closes the connection.
            return self
                .io
                .shared
                .cluster
                .as_ref()
                .is_some_and(|c| c.kick_user(to, by));
        }
        self.io.outbox.kick(to, by);
        true
    }

    fn frame(&mut self, to: Target, bytes: Vec<u8>, flow: Option<&Arc<Flow>>, charged: bool) {
        let shared = Arc::clone(&self.io.shared);
        if let Some(c) = &shared.cluster {
            // Binary messages and files cross nodes (a file's frames with
            // the flow control of `cluster/files.rs`).
            match (to, flow) {
                (Target::One(p), None) if p.thread == super::cluster::REMOTE => {
                    c.frame(Some(p), &bytes);
                    return;
                }
                (Target::One(p), Some(f)) if p.thread == super::cluster::REMOTE => {
                    c.file_frame(Some(p), &bytes, f);
                    return;
                }
                (Target::All { .. }, None) => c.frame(None, &bytes),
                (Target::All { .. }, Some(f)) => c.file_frame(None, &bytes, f),
                _ => {}
            }
        }
        self.io
            .outbox
            .frame(to, bytes, flow, charged, &shared.inboxes);
    }

    fn reply_frame(&mut self, frame: &[u8]) {
        if self.out.doomed {
            return;
        }
        self.touched = true;
        self.io.pool.fill(&mut self.out.buf);
        if self.out.push_frame(frame, None, Instant::now()) {
            self.io.watch.push((self.slot, self.id));
        }
    }

    fn transfer_id(&mut self) -> u64 {
        self.io.shared.transfers.fetch_add(1, Ordering::Relaxed) + 1
    }

    fn resumer(&mut self) -> Arc<dyn Fn() + Send + Sync> {
        // Weak, so that frames still queued when the server stops do not
        // keep its shared state alive through their credit.
        let shared = Arc::downgrade(&self.io.shared);
        let (thread, slot, id) = (self.io.idx, self.slot, self.id);
        Arc::new(move || {
            if let Some(shared) = shared.upgrade() {
                if let Some(inbox) = shared.inboxes.get(thread) {
                    inbox.push(Cmd::Resume { slot, id });
                    inbox.notify();
                }
            }
        })
    }

    fn event(&mut self, event: ServerEvent) {
        // A connection stops counting before its `Disconnected` is seen, so
        // that whoever reacts to the event (servidor.c and servidor.py print
        // the count) never sees it still counted.
        if matches!(event, ServerEvent::Disconnected { .. }) && std::mem::take(self.counted) {
            self.io.shared.connections.fetch_sub(1, Ordering::AcqRel);
            self.io.shared.release_ip(self.addr.ip());
        }
        self.io.shared.events.push(event);
    }

    fn issue_token(&mut self, nick: &str, tags: bool) -> Option<String> {
        let mut bytes = [0u8; 16];
        getrandom::getrandom(&mut bytes).ok()?;
        let mut token = String::with_capacity(32);
        for b in bytes {
            use std::fmt::Write as _;
            let _ = write!(token, "{b:02x}");
        }
        self.io
            .shared
            .tokens
            .lock()
            .insert(self.id, Some(token.clone()));
        let shared = Arc::clone(&self.io.shared);
        if let Some(c) = &shared.cluster {
            let grace = shared.rules.load().resume_grace;
            c.record_token(&mut self.io.redis, nick, &token, tags, grace);
        }
        Some(token)
    }

    fn drop_token(&mut self, nick: &str) {
        let token = self.io.shared.tokens.lock().remove(&self.id);
        if let (Some(c), Some(Some(token))) = (&self.io.shared.cluster, token) {
            c.forget_token(nick, &token);
        }
    }

    fn resume(
        &mut self,
        nick: &str,
        token: &str,
        since: Option<u64>,
        label: Option<&str>,
    ) -> Result<Resumption, ErrorCode> {
        // The registry itself, not this thread's cache: the holder now.
        let holder = self.io.shared.lookup(nick);
        let shared = Arc::clone(&self.io.shared);
        if shared.cluster.is_some() && holder.is_none_or(|p| p.thread == super::cluster::REMOTE) {
            // Not this node's user: perhaps another node's, whose token
            // any node can take (PROTOCOL.md, "Resuming on another node").
            let me = self.me();
            let here =
                super::node::resume_here(&shared, &mut self.io.redis, me, nick, token, since)?;
            *self.reg_seq = here.reg_seq;
            for cast in here.casts {
                self.io.outbox.room(cast.line, None, &cast.to, cast.about);
            }
            self.io.outbox.wake_all();
            return Ok(Resumption::Here(Box::new(here.adopted)));
        }
        let peer = holder.ok_or(ErrorCode::ResumeRefused)?;
        {
            let mut tokens = self.io.shared.tokens.lock();
            let held = tokens.get_mut(&peer.id).ok_or(ErrorCode::ResumeRefused)?;
            let right = held
                .as_deref()
                .is_some_and(|t| constant_time_eq(token.as_bytes(), t.as_bytes()));
            if !right {
                return Err(ErrorCode::ResumeRefused);
            }
            // Spent: nobody else can present it, and the held session
            // waits for this socket instead of expiring.
            *held = None;
        }
        self.io.moving.push(Moving {
            id: self.id,
            to: peer,
            since,
            label: label.map(Box::from),
        });
        Ok(Resumption::Moving)
    }

    fn resume_pending(&mut self) -> bool {
        matches!(self.io.shared.tokens.lock().get(&self.id), Some(None))
    }
}
