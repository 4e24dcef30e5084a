//! Message ids, server time and history (PROTOCOL.md, "Message ids and
//! server time" and "History"), as plain data the host shares among its
//! threads.
//!
//! Every public, private, room and binary message, and every file offered,
//! gets an id from one counter ([`History::stamp`]): unique on the server
//! and increasing in the order the server took the messages in, so that a
//! later "everything after id N" (a resumed connection) is one comparison.
//! With a database ([`HistorySink`]) the counter starts after the highest
//! id stored, so ids keep increasing across restarts.
//!
//! The history itself is a bounded ring per conversation (the public chat,
//! each room, each pair of nicknames talking privately), in memory, which
//! answers `/history` without touching a disk: a session asks on its I/O
//! thread and is answered at once. A database, when the host has one, is
//! written behind the rings by a thread of its own (the sink must never
//! block) and read only at start, to fill the rings again. So `/history`
//! reaches back `history_limit` messages per conversation, in memory and
//! from the database alike; the database's copy is what survives a restart.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::protocol::{nick_key, room_key, HistoryKind, Tag};

/// The most messages one `/history` answers, whatever it asks for.
pub const MAX_HISTORY_REQUEST: u64 = 500;

/// The number of messages `/history` answers when it does not say.
pub const DEFAULT_HISTORY_REQUEST: u64 = 50;

/// Most conversations kept at once (rooms and private pairs, besides the
/// public chat); when a new one would pass it, the one quiet for the
/// longest is forgotten.
pub const MAX_CONVERSATIONS: usize = 100_000;

/// Cluster-wide ids (PROTOCOL.md, "Clusters"): the start of their clock,
/// 2026-01-01T00:00:00Z in UTC milliseconds.
pub const ID_EPOCH_MS: u64 = 1_767_225_600_000;

/// Bits of a cluster-wide id that name the node that gave it out (so
/// ids of two nodes never collide): at most 32 nodes hold a tag at once.
pub const NODE_TAG_BITS: u32 = 5;

/// The number of node tags.
pub const NODE_TAGS: u64 = 1 << NODE_TAG_BITS;

/// Bits of a cluster-wide id that count the node's messages within one
/// millisecond (256; a burst beyond takes the next millisecond's ids).
const COUNTER_BITS: u32 = 8;

/// How far before a resume's `since` a cluster's node looks (5 s of
/// cluster-wide ids): a message of another node may arrive after one with a
/// higher id (the nodes' clocks differ a little, and Redis takes a
/// moment), so "the ids above `since`" would miss it. What this sends again
/// the client skips by id (PROTOCOL.md, "Clusters").
pub const RESUME_SKEW_IDS: u64 = 5_000 << (COUNTER_BITS + NODE_TAG_BITS);

/// No node tag: ids are the plain counter (no cluster).
const NO_TAG: u64 = u64::MAX;

/// Which conversation a message belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Conversation {
    /// Everyone's public messages (`/history *`).
    Public,
    /// A room, by its [`room_key`].
    Room(String),
    /// The private messages between two nicknames, by their [`nick_key`]s
    /// in order (so both sides name the same conversation).
    Private(String, String),
}

impl Conversation {
    /// The room `room` (any case).
    pub fn room(room: &str) -> Conversation {
        Conversation::Room(room_key(room))
    }

    /// The private conversation between `a` and `b` (any spelling).
    pub fn private(a: &str, b: &str) -> Conversation {
        let (a, b) = (nick_key(a), nick_key(b));
        if a <= b {
            Conversation::Private(a, b)
        } else {
            Conversation::Private(b, a)
        }
    }

    /// The conversation as one text (the database's column): `*`,
    /// `#room`, or `key a` + LF + `key b` (a nickname holds no LF).
    pub fn to_key(&self) -> String {
        match self {
            Conversation::Public => "*".to_owned(),
            Conversation::Room(r) => r.clone(),
            Conversation::Private(a, b) => format!("{a}\n{b}"),
        }
    }

    /// Reads [`Conversation::to_key`] back.
    pub fn from_key(key: &str) -> Option<Conversation> {
        if key == "*" {
            return Some(Conversation::Public);
        }
        if key.starts_with(crate::protocol::ROOM_MARK) {
            return Some(Conversation::Room(key.to_owned()));
        }
        let (a, b) = key.split_once('\n')?;
        Some(Conversation::Private(a.to_owned(), b.to_owned()))
    }
}

/// One message as history keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its id and time.
    pub tag: Tag,
    /// What it was.
    pub kind: HistoryKind,
    /// Who sent it (the nickname at the time).
    pub from: Arc<str>,
    /// The text; a file's name; a binary message's size in bytes.
    pub text: Box<str>,
}

/// Where history is also written (a database, see `server/history_db.rs`).
/// Called on I/O threads: it must not block (hand the entry to a thread of
/// its own, or drop it and say so).
pub trait HistorySink: Send + Sync {
    /// One message, as the rings keep it (the sink may keep a clone of the
    /// `Arc`: the entry is immutable).
    fn append(&self, conversation: &Conversation, entry: &Arc<Entry>);
}

/// The server's history: the id counter and the rings. Shared by the I/O
/// threads; each conversation's ring is behind one lock held for a push or
/// a copy.
pub struct History {
    /// The last id handed out.
    next_id: AtomicU64,
    /// The node's tag in cluster-wide ids ([`History::set_node_tag`]), or
    /// `NO_TAG`.
    node_tag: AtomicU64,
    limit: usize,
    max_age: Duration,
    /// The public chat's ring, apart from the others: every public message
    /// touches it.
    public: Mutex<Ring>,
    others: Mutex<HashMap<Conversation, Ring>>,
    sink: Option<Box<dyn HistorySink>>,
}

impl std::fmt::Debug for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("History")
            .field("next_id", &self.next_id)
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl History {
    /// A history keeping `limit` messages per conversation for `max_age`,
    /// with ids starting after `last_id`, written also to `sink`.
    pub fn new(
        limit: usize,
        max_age: Duration,
        last_id: u64,
        sink: Option<Box<dyn HistorySink>>,
    ) -> History {
        History {
            next_id: AtomicU64::new(last_id),
            node_tag: AtomicU64::new(NO_TAG),
            limit,
            max_age,
            public: Mutex::new(Ring::default()),
            others: Mutex::new(HashMap::new()),
            sink,
        }
    }

    /// A new message id, with `time_ms`, the server's UTC time in
    /// milliseconds (the host's clock: the rules read none,
    /// [`super::Host::unix_ms`]).
    ///
    /// In a cluster ([`History::set_node_tag`]) the id is cluster-wide:
    /// `(time_ms - ID_EPOCH_MS) << 13 | counter << 5 | node tag`, so ids
    /// of different nodes never collide, roughly follow the time, and stay
    /// below 2^53 (exact as a JavaScript number) until 2060; on one node
    /// they still strictly increase (a burst of more than 256 in one
    /// millisecond, or a clock stepped back, borrows later ids).
    pub fn stamp(&self, time_ms: u64) -> Tag {
        let tag = self.node_tag.load(Ordering::Relaxed);
        if tag == NO_TAG {
            return Tag {
                id: self.next_id.fetch_add(1, Ordering::Relaxed) + 1,
                time: time_ms,
            };
        }
        let base = time_ms.saturating_sub(ID_EPOCH_MS) << (COUNTER_BITS + NODE_TAG_BITS);
        let mut last = self.next_id.load(Ordering::Relaxed);
        loop {
            let next_slot = ((last >> NODE_TAG_BITS) + 1) << NODE_TAG_BITS;
            let id = base.max(next_slot) | tag;
            match self
                .next_id
                .compare_exchange_weak(last, id, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return Tag { id, time: time_ms },
                Err(now) => last = now,
            }
        }
    }

    /// Makes ids cluster-wide ([`History::stamp`]) with `tag` (below
    /// [`NODE_TAGS`]; taken modulo) as this node's part: the tag the node
    /// leases in Redis. It may change while the server runs (the lease was
    /// lost): ids keep increasing.
    pub fn set_node_tag(&self, tag: u64) {
        self.node_tag.store(tag % NODE_TAGS, Ordering::Relaxed);
    }

    /// The node's tag in cluster-wide ids; `None` without a cluster.
    pub fn node_tag(&self) -> Option<u64> {
        let t = self.node_tag.load(Ordering::Relaxed);
        (t != NO_TAG).then_some(t)
    }

    /// The last id handed out (0: none).
    pub fn last_id(&self) -> u64 {
        self.next_id.load(Ordering::Relaxed)
    }

    /// Keeps a message of `conversation` (and hands it to the sink).
    pub fn record(
        &self,
        conversation: Conversation,
        tag: Tag,
        kind: HistoryKind,
        from: &str,
        text: &str,
    ) {
        if self.limit == 0 {
            return;
        }
        let entry = Arc::new(Entry {
            tag,
            kind,
            from: Arc::from(from),
            text: Box::from(text),
        });
        if let Some(sink) = &self.sink {
            sink.append(&conversation, &entry);
        }
        self.restore(conversation, entry);
    }

    /// Puts an entry read back from a database into its ring (at start),
    /// or one just recorded.
    pub fn restore(&self, conversation: Conversation, entry: Arc<Entry>) {
        if self.limit == 0 {
            return;
        }
        if conversation == Conversation::Public {
            push(&mut self.public.lock(), entry, self.limit);
            return;
        }
        let mut others = self.others.lock();
        if !others.contains_key(&conversation) && others.len() >= MAX_CONVERSATIONS {
            // Forget the conversation quiet for the longest.
            let oldest = others
                .iter()
                .min_by_key(|(_, ring)| ring.entries.back().map_or(0, |e| e.tag.id))
                .map(|(c, _)| c.clone());
            if let Some(c) = oldest {
                others.remove(&c);
            }
        }
        push(others.entry(conversation).or_default(), entry, self.limit);
    }

    /// The last `count` messages of `conversation` with an id below
    /// `before` (all when `None`) and not older than the retention at
    /// `now_ms` (the server's UTC time in milliseconds), oldest first.
    /// `count` is capped at [`MAX_HISTORY_REQUEST`].
    pub fn query(
        &self,
        conversation: &Conversation,
        count: u64,
        before: Option<u64>,
        now_ms: u64,
    ) -> Vec<Arc<Entry>> {
        let count = count.min(MAX_HISTORY_REQUEST) as usize;
        let oldest =
            now_ms.saturating_sub(u64::try_from(self.max_age.as_millis()).unwrap_or(u64::MAX));
        let pick = |ring: &Ring| -> Vec<Arc<Entry>> {
            let mut out: Vec<Arc<Entry>> = ring
                .entries
                .iter()
                .rev()
                .filter(|e| before.is_none_or(|b| e.tag.id < b))
                .take_while(|e| e.tag.time >= oldest)
                .take(count)
                .cloned()
                .collect();
            out.reverse();
            out
        };
        if *conversation == Conversation::Public {
            return pick(&self.public.lock());
        }
        self.others
            .lock()
            .get(conversation)
            .map_or_else(Vec::new, pick)
    }
}

/// One conversation's messages, and the highest id it has forgotten (so
/// that a resumed connection learns whether what it missed is all there).
#[derive(Debug, Default)]
struct Ring {
    entries: VecDeque<Arc<Entry>>,
    /// The highest id pushed out of the ring (0: none yet).
    forgotten: u64,
}

/// Appends to a ring of at most `limit` entries.
fn push(ring: &mut Ring, entry: Arc<Entry>, limit: usize) {
    // Entries restored from a database come in id order; a recorded one
    // may come a little out of order (two threads), which `query` keeps.
    while ring.entries.len() >= limit {
        if let Some(old) = ring.entries.pop_front() {
            ring.forgotten = ring.forgotten.max(old.tag.id);
        }
    }
    ring.entries.push_back(entry);
}

/// What a resumed connection missed ([`History::missed`]).
#[derive(Debug, Default)]
pub struct Missed {
    /// The messages, in id order: (conversation, entry).
    pub entries: Vec<(Conversation, Arc<Entry>)>,
    /// Nothing it should have got is missing: no ring forgot a message
    /// after `since`, and there were no more than the backlog allows.
    pub complete: bool,
}

impl History {
    /// The messages with an id above `since` that the user with nickname
    /// key `me` would have received (PROTOCOL.md, "Resuming a connection"):
    /// the public chat's and those of `rooms` (room keys) from others, and
    /// those of its private conversations from others (and to itself), in
    /// id order, at most `backlog` (the last ones). Files and binary
    /// messages are left out (their bytes are not kept).
    ///
    /// In a cluster ([`History::set_node_tag`]) it looks
    /// [`RESUME_SKEW_IDS`] further back than `since`.
    pub fn missed(&self, me: &str, rooms: &[String], since: u64, backlog: usize) -> Missed {
        let since = match self.node_tag() {
            Some(_) => since.saturating_sub(RESUME_SKEW_IDS),
            None => since,
        };
        let mut out: Vec<(Conversation, Arc<Entry>)> = Vec::new();
        let mut complete = self.limit > 0;
        let mut take = |c: &Conversation, ring: &Ring, own_too: bool| {
            if ring.forgotten > since {
                complete = false;
            }
            for e in ring.entries.iter().filter(|e| e.tag.id > since) {
                if !matches!(
                    e.kind,
                    HistoryKind::Public | HistoryKind::Private | HistoryKind::Room
                ) {
                    continue;
                }
                if !own_too && nick_key(&e.from) == me {
                    continue;
                }
                out.push((c.clone(), Arc::clone(e)));
            }
        };
        take(&Conversation::Public, &self.public.lock(), false);
        {
            let others = self.others.lock();
            for r in rooms {
                let c = Conversation::Room(r.clone());
                if let Some(ring) = others.get(&c) {
                    take(&c, ring, false);
                }
            }
            for (c, ring) in others.iter() {
                if let Conversation::Private(a, b) = c {
                    if a == me || b == me {
                        take(c, ring, a == b);
                    }
                }
            }
        }
        out.sort_by_key(|(_, e)| e.tag.id);
        if out.len() > backlog {
            complete = false;
            out.drain(..out.len() - backlog);
        }
        Missed {
            entries: out,
            complete,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A time (2025-12-05).
    const T: u64 = 1_764_900_000_000;

    #[test]
    fn cluster_ids_carry_the_node_and_increase() {
        let h = History::new(5, Duration::from_secs(3600), 0, None);
        h.set_node_tag(7);
        let now = ID_EPOCH_MS + 1_000_000;
        let mut last = 0;
        // More than one millisecond's counter, at one time.
        for _ in 0..600 {
            let t = h.stamp(now);
            assert_eq!(t.id % NODE_TAGS, 7);
            assert!(t.id > last);
            assert!(t.id < 1 << 53);
            last = t.id;
        }
        // A later time jumps ahead; an earlier one (clock stepped back)
        // still increases; another tag keeps increasing too.
        let later = h.stamp(now + 10).id;
        assert!(later > last);
        assert_eq!(later >> 13, 1_000_010);
        assert!(h.stamp(now - 5_000).id > later);
        h.set_node_tag(3);
        let t = h.stamp(now + 10);
        assert!(t.id > later && t.id % NODE_TAGS == 3);
        // Another node at the same millisecond: a different id.
        let other = History::new(5, Duration::from_secs(3600), 0, None);
        other.set_node_tag(8);
        let again = History::new(5, Duration::from_secs(3600), 0, None);
        again.set_node_tag(7);
        assert_ne!(other.stamp(now).id, again.stamp(now).id);
    }

    #[test]
    fn a_resume_in_a_cluster_gets_a_late_message_of_another_node() {
        let h = History::new(50, Duration::from_secs(3600), 0, None);
        h.set_node_tag(1);
        let now = ID_EPOCH_MS + 1_000_000;
        let mine = h.stamp(now);
        h.record(Conversation::Public, mine, HistoryKind::Public, "ana", "a");
        // Another node's message, 20 ms earlier by its clock, arriving now.
        let other = Tag {
            id: ((now - 20 - ID_EPOCH_MS) << 13) | 2,
            time: now - 20,
        };
        h.record(Conversation::Public, other, HistoryKind::Public, "bob", "b");
        let missed = h.missed("carla", &[], mine.id, 100);
        let ids: Vec<u64> = missed.entries.iter().map(|(_, e)| e.tag.id).collect();
        assert_eq!(ids, [other.id, mine.id]);
        assert!(missed.complete);
    }

    #[test]
    fn rings_are_bounded_and_paged() {
        let h = History::new(5, Duration::from_secs(3600), 100, None);
        for i in 0..8 {
            let tag = h.stamp(T);
            assert_eq!(tag.id, 101 + i);
            h.record(
                Conversation::Public,
                tag,
                HistoryKind::Public,
                "ana",
                &format!("m{i}"),
            );
        }
        let texts = |v: Vec<Arc<Entry>>| v.iter().map(|e| e.text.to_string()).collect::<Vec<_>>();
        assert_eq!(
            texts(h.query(&Conversation::Public, 3, None, T)),
            ["m5", "m6", "m7"]
        );
        assert_eq!(
            texts(h.query(&Conversation::Public, 50, Some(106), T)),
            ["m3", "m4"]
        );
        assert!(h.query(&Conversation::room("#x"), 5, None, T).is_empty());
        assert_eq!(
            Conversation::private("Ana", "bob"),
            Conversation::private("BOB", "ana")
        );
        for c in [
            Conversation::Public,
            Conversation::room("#Sala"),
            Conversation::private("ana", "bob"),
        ] {
            assert_eq!(Conversation::from_key(&c.to_key()), Some(c));
        }
    }

    #[test]
    fn old_messages_are_forgotten() {
        let h = History::new(5, Duration::from_millis(1), 0, None);
        let mut tag = h.stamp(T);
        tag.time -= 10_000;
        h.record(Conversation::Public, tag, HistoryKind::Public, "ana", "old");
        assert!(h.query(&Conversation::Public, 5, None, T).is_empty());
        let off = History::new(0, Duration::from_secs(1), 0, None);
        off.record(
            Conversation::Public,
            off.stamp(T),
            HistoryKind::Public,
            "a",
            "x",
        );
        assert!(off.query(&Conversation::Public, 5, None, T).is_empty());
    }
}
