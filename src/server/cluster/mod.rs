//! Several servers as one chat (PROTOCOL.md, "Clusters";
//! `ServerConfig::cluster`): the nodes share one Redis (or Valkey) server
//! and nothing else. The model is Centrifugo's Redis engine and Socket.IO's
//! Redis adapter, not IRC's server links: no node talks to another
//! directly, so a node that dies or is cut off is only a node whose
//! messages stop.
//!
//! - Routing is Redis pub/sub. Public messages, presence and heartbeats go
//!   on `papo:all`; private messages on the receiving node's own channel
//!   (`papo:node:<id>`); room messages and membership on the room's
//!   channel (`papo:room:<key>`), to which a node subscribes only while
//!   one of its own users is a member. So a node receives what its users
//!   get, not everything.
//! - Users of other nodes are entries of the local [`Directory`] whose
//!   [`Peer::thread`] is [`REMOTE`]: the user list, `/who`, lookups and
//!   presence lines work as for local users, and local delivery skips
//!   them (no I/O thread has that index).
//! - Nicknames are unique across nodes by a claim in Redis
//!   (`papo:nick:<key>`, `SET ... PX lease`), taken before the local
//!   registry is touched, renewed every third of the lease, freed at once
//!   on a normal departure. A crashed node's claims lapse within the lease;
//!   the other nodes forget its users when its heartbeats stop.
//! - Order: one publisher thread and connection per node, so one sender's
//!   messages reach Redis, and each receiving node, in the order sent.
//!   Every data message carries its node's number on its channel; a
//!   receiver that sees a gap tells the clients concerned (`LOST n`).
//! - Ids: message ids are cluster-wide (`History::stamp` with a node tag
//!   the keeper leases in Redis, `papo:tag:<t>`); the node that takes a
//!   message publishes its id and time with it (`TPUB`, `TPRIV`, `TROOM`)
//!   and every node records and delivers it with them.
//! - Faults: any link to Redis failing makes the node *partitioned*: its
//!   users get `CLUSTER partitioned`, other nodes' users are hidden from
//!   lookups (a private message to them is 02, not a promise) and leave
//!   when their heartbeats have been missing for two thirds of the lease.
//!   When Redis answers again the node renews its claims (a claim lost to
//!   an earlier claimant renames its user, who gets `RENAMED`), asks every
//!   node for its users, and tells its users `CLUSTER healed`.
//!
//! This module is the node's side that its I/O threads call (claims, and
//! what to publish); the threads that talk to Redis are in
//! `server/node/`: `papo-cluster-pub` (publishes, in order),
//! `papo-cluster-sub` (reads the other nodes' messages and follows rooms),
//! `papo-cluster-in` (delivers them to the local I/O threads like one more
//! I/O thread), `papo-cluster-keep` (claims, heartbeats, partitions).

pub(crate) mod files;
pub(crate) mod resume;
pub(crate) mod rooms;
pub(crate) mod wire;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::session::{Conversation, Entry, Peer};
use crate::error::ErrorCode;
use crate::protocol::{nick_key, room_key, HistoryKind, Tag};
use wire::Bus;

/// The [`Peer::thread`] of a user of another node.
pub(crate) const REMOTE: usize = usize::MAX;

/// The channel of public messages, presence and heartbeats.
pub(crate) const ALL: &str = "papo:all";

/// Redis's answer time limit for one command, and the connect timeout.
const REDIS_TIMEOUT: Duration = Duration::from_millis(1000);

/// Claims a nickname: free, or already this node's (a user of this node
/// who just left, whose release may still be on its way) → set; another
/// node's → 0. ARGV: value, lease in ms, this node's value prefix.
pub(crate) const CLAIM: &str = r"
local v = redis.call('GET', KEYS[1])
if (not v) or string.sub(v, 1, #ARGV[3]) == ARGV[3] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0";

/// Renews a claim, or takes it again after Redis lost it (restarted
/// empty), or takes it from a later claimant (one that registered the
/// nickname while this node was cut off): 1; 0 when an earlier claimant
/// holds it; the new node's id when the user resumed there
/// (`server/cluster/resume.rs`). ARGV: value, lease in ms, the claim's
/// registration time.
pub(crate) const RENEW: &str = r"
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
local moved = redis.call('GET', 'papo:moved:' .. ARGV[1])
if moved then
  return moved
end
if not v then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
local since = tonumber(string.match(v, '^[^|]*|(%d+)|'))
if since and tonumber(ARGV[3]) < since then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0";

/// Takes or renews a node tag of cluster-wide ids (`papo:tag:<t>`): free,
/// or already this node's → set with the lease as expiry, 1; another
/// node's → 0. ARGV: node id, lease in ms.
pub(crate) const TAG: &str = r"
local v = redis.call('GET', KEYS[1])
if (not v) or v == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0";

/// The Redis key of node tag `t` of cluster-wide ids.
pub(crate) fn tag_key(t: u64) -> String {
    format!("papo:tag:{t}")
}

/// The Redis stream of a conversation's shared history: `papo:h:*`,
/// `papo:h:#room`, `papo:h:<key a> <key b>` (PROTOCOL.md, "Clusters").
pub(crate) fn history_stream(c: &Conversation) -> String {
    match c {
        Conversation::Public => "papo:h:*".to_owned(),
        Conversation::Room(r) => format!("papo:h:{r}"),
        Conversation::Private(a, b) => format!("papo:h:{a} {b}"),
    }
}

/// Frees a claim if it is still this one. ARGV: value.
pub(crate) const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0";

/// The fields of a history stream's entry (read by [`stream_entry`]).
fn entry_fields(tag: Tag, kind: HistoryKind, from: &str, text: &str) -> Vec<String> {
    vec![
        "i".to_owned(),
        tag.id.to_string(),
        "t".to_owned(),
        tag.time.to_string(),
        "k".to_owned(),
        kind.as_str().to_owned(),
        "f".to_owned(),
        from.to_owned(),
        "x".to_owned(),
        text.to_owned(),
    ]
}

/// The Redis key of a nickname's claim.
pub(crate) fn claim_key(nick: &str) -> String {
    format!("papo:nick:{}", nick_key(nick))
}

/// A node's private-message channel.
pub(crate) fn node_channel(node: &str) -> String {
    format!("papo:node:{node}")
}

/// A room's channel.
pub(crate) fn room_channel(room: &str) -> String {
    format!("papo:room:{}", room_key(room))
}

/// One local user's claim on its nickname.
#[derive(Debug, Clone)]
pub(crate) struct Claim {
    /// The nickname as registered.
    pub nick: Arc<str>,
    /// The connection holding it.
    pub peer: Peer,
    /// The value stored in Redis: `node|since_ms|connection id`.
    pub value: String,
    /// When it was registered (UTC ms): between two claimants, the earlier
    /// keeps the nickname.
    pub since: u64,
}

/// What the publisher thread sends, in order.
pub(crate) enum Out {
    /// A message for `channel`, encoded without its envelope.
    Publish {
        channel: String,
        msg: Vec<u8>,
        numbered: bool,
    },
    /// Free a claim (`RELEASE`): key, value.
    Release(String, String),
    /// Append to a stream of shared history (`XADD`): the stream, the
    /// receiver's own stream and its expiry in ms (a private message), and
    /// the entry's fields and values in turn.
    Archive(String, Option<(String, u64)>, Vec<String>),
    /// Run a script: its text, keys and arguments (its answer is not read).
    Eval {
        script: &'static str,
        keys: Vec<String>,
        args: Vec<String>,
    },
    /// Tell the sender once everything queued before has reached Redis.
    Barrier(mpsc::SyncSender<()>),
    /// A user moved from the node of channel `from` to that of channel
    /// `to`: the private messages for it (by [`nick_key`]) held for `from`
    /// go to `to` instead (`None`: it moved to this node, which read them
    /// from the shared history: they are dropped).
    Reroute {
        from: String,
        key: String,
        to: Option<String>,
    },
    /// Shutdown: send what is queued, then end.
    Stop,
}

/// One entry of a history stream (`[id, [field, value, ...]]`, written by
/// [`Cluster::archive`]); `None` for anything else.
pub(crate) fn stream_entry(v: &redis::Value) -> Option<Entry> {
    let redis::Value::Array(pair) = v else {
        return None;
    };
    let redis::Value::Array(fields) = pair.get(1)? else {
        return None;
    };
    let (mut id, mut time, mut kind, mut from, mut text) = (None, None, None, None, None);
    for kv in fields.chunks(2) {
        let (Some(redis::Value::BulkString(k)), Some(redis::Value::BulkString(v))) =
            (kv.first(), kv.get(1))
        else {
            continue;
        };
        let v = String::from_utf8_lossy(v);
        match k.as_slice() {
            b"i" => id = v.parse::<u64>().ok(),
            b"t" => time = v.parse::<u64>().ok(),
            b"k" => kind = HistoryKind::parse(&v),
            b"f" => from = Some(Arc::from(&*v)),
            b"x" => text = Some(Box::from(&*v)),
            _ => {}
        }
    }
    Some(Entry {
        tag: Tag {
            id: id?,
            time: time?,
        },
        kind: kind?,
        from: from?,
        text: text?,
    })
}

/// A user of another node.
#[derive(Debug, Clone)]
pub(crate) struct RemoteUser {
    pub nick: Arc<str>,
    pub peer: Peer,
}

/// Another node, as this one knows it.
#[derive(Debug)]
pub(crate) struct NodeInfo {
    /// When it was last heard from.
    pub last_seen: Instant,
    /// Its users by [`nick_key`].
    pub users: HashMap<String, RemoteUser>,
}

impl NodeInfo {
    /// A node heard from just now, with no users known yet.
    pub(crate) fn heard_now() -> NodeInfo {
        NodeInfo {
            last_seen: Instant::now(),
            users: HashMap::new(),
        }
    }
}

/// The other nodes and their users.
#[derive(Debug, Default)]
pub(crate) struct Remote {
    pub nodes: HashMap<String, NodeInfo>,
    /// Node and nickname of each remote user, by its [`Peer::id`].
    pub by_id: HashMap<u64, (String, Arc<str>)>,
    /// Other nodes' users this node could not list because their
    /// nickname was someone else's here (two claimants after a
    /// partition): (node, nickname), tried again by the keeper until the
    /// loser is renamed.
    pub refused: HashSet<(String, String)>,
}

/// The cluster side of one server: shared by its I/O threads (claims and
/// publishing) and the three cluster threads.
pub(crate) struct Cluster {
    /// This node's id: 16 hexadecimal digits, new at each start.
    pub node: String,
    pub(crate) client: redis::Client,
    /// `ServerConfig::cluster_lease`.
    pub(crate) lease: Duration,
    /// The publisher's queue (a `Sender` is shared by every thread
    /// without a lock).
    pub(crate) out: mpsc::Sender<Out>,
    pub(crate) out_rx: Mutex<Option<mpsc::Receiver<Out>>>,
    /// Some link to Redis is down (see the module doc).
    pub(crate) partitioned: AtomicBool,
    /// An I/O thread's claim could not reach Redis: the others skip the
    /// round trip until the keeper's next renewal succeeds.
    pub(crate) claims_down: AtomicBool,
    /// The subscriber is subscribed (a heal waits for it).
    pub(crate) subscribed: AtomicBool,
    /// The subscriber is to tell every room's channel this node's members
    /// again and ask for the others' (after a heal).
    pub(crate) resync_rooms: AtomicBool,
    /// The threads are to end.
    pub(crate) stop: AtomicBool,
    /// Room channels the subscriber is subscribed to. Held by the
    /// subscriber from subscribing until it has told the room's members,
    /// and by [`Cluster::room_member`] while it checks and tells.
    pub(crate) followed: Mutex<HashSet<String>>,
    /// Nicknames ([`nick_key`]) a connection of this node is claiming now.
    pub(crate) claiming: Mutex<HashSet<String>>,
    /// Local users' claims, by [`nick_key`].
    pub(crate) claims: Mutex<HashMap<String, Claim>>,
    /// Other nodes and their users.
    pub(crate) remote: Mutex<Remote>,
    pub(crate) threads: Mutex<Vec<JoinHandle<()>>>,
    /// Messages published (`ClusterStats::published`).
    pub(crate) published: AtomicU64,
    /// Messages received from other nodes (`ClusterStats::received`).
    pub(crate) received: AtomicU64,
    /// Messages found missing (`ClusterStats::lost`).
    pub(crate) lost: AtomicU64,
    /// File transfers with receivers on other nodes, and other nodes'
    /// transfers relayed here (`files.rs`).
    pub(crate) files: Mutex<files::Files>,
    /// Resumes on this node waiting for the old node's `MOVEDOK`, by
    /// [`nick_key`] (`server/node/resume.rs`).
    pub(crate) moves: Mutex<HashMap<String, mpsc::SyncSender<()>>>,
    /// This node's connections whose users resumed on another node, for a
    /// lease, by connection id. A private message still on its way to one
    /// is forwarded there (`server/node/resume.rs`).
    pub(crate) moved: Mutex<HashMap<u64, Gone>>,
    /// Users of other nodes that resumed here, for a lease: their old
    /// remote peer's id, their connection here, and when. A sender that
    /// looked one up just before still reaches it.
    pub(crate) adopted: Mutex<HashMap<u64, (Peer, Instant)>>,
}

/// A connection of this node whose user resumed on another node.
#[derive(Debug, Clone)]
pub(crate) struct Gone {
    /// The node it is on now.
    pub node: String,
    /// Its nickname.
    pub nick: Arc<str>,
    /// When it moved.
    pub at: Instant,
}

impl Cluster {
    /// The cluster side for `url` (checked by `ServerConfig::validate`);
    /// no thread and no connection yet ([`Cluster::start`]).
    pub(crate) fn new(url: &str, lease: Duration) -> Result<Cluster, ErrorCode> {
        let client = redis::Client::open(url).map_err(|_| ErrorCode::InvalidArgument)?;
        let mut id = [0u8; 8];
        getrandom::getrandom(&mut id).map_err(|_| ErrorCode::Io)?;
        let node = id.iter().map(|b| format!("{b:02x}")).collect();
        let (tx, rx) = mpsc::channel();
        Ok(Cluster {
            node,
            client,
            lease,
            out: tx,
            out_rx: Mutex::new(Some(rx)),
            // Until the first link works, the node is alone.
            partitioned: AtomicBool::new(true),
            claims_down: AtomicBool::new(false),
            subscribed: AtomicBool::new(false),
            resync_rooms: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            followed: Mutex::new(HashSet::new()),
            claiming: Mutex::new(HashSet::new()),
            claims: Mutex::new(HashMap::new()),
            remote: Mutex::new(Remote::default()),
            threads: Mutex::new(Vec::new()),
            published: AtomicU64::new(0),
            received: AtomicU64::new(0),
            lost: AtomicU64::new(0),
            files: Mutex::new(files::Files::default()),
            moves: Mutex::new(HashMap::new()),
            moved: Mutex::new(HashMap::new()),
            adopted: Mutex::new(HashMap::new()),
        })
    }

    /// Ends the cluster threads: says `BYE` (the other nodes forget this
    /// node's users at once), frees every claim, and waits for them.
    pub(crate) fn stop(&self) {
        if !self.partitioned() {
            self.send(ALL.to_owned(), &Bus::Bye);
        }
        let claims: Vec<Claim> = self.claims.lock().drain().map(|(_, c)| c).collect();
        for c in claims {
            self.enqueue(Out::Release(claim_key(&c.nick), c.value));
        }
        // Not alive any more: the others take this node's room members
        // out at once (`rooms.rs`).
        self.enqueue(Out::Release(rooms::alive_key(&self.node), "1".to_owned()));
        self.enqueue(Out::Stop);
        self.stop.store(true, Ordering::Release);
        for h in self.threads.lock().drain(..) {
            let _ = h.join();
        }
    }

    pub(crate) fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// The node's counters now.
    pub(crate) fn stats(&self) -> super::ClusterStats {
        super::ClusterStats {
            partitioned: self.partitioned(),
            nodes: self.remote.lock().nodes.len(),
            published: self.published.load(Ordering::Relaxed),
            received: self.received.load(Ordering::Relaxed),
            lost: self.lost.load(Ordering::Relaxed),
        }
    }

    /// Whether this node is cut off from the others.
    pub(crate) fn partitioned(&self) -> bool {
        self.partitioned.load(Ordering::Acquire)
    }

    /// A connection to Redis with the time limits set.
    pub(crate) fn connect(&self) -> redis::RedisResult<redis::Connection> {
        let con = self.client.get_connection_with_timeout(REDIS_TIMEOUT)?;
        con.set_read_timeout(Some(REDIS_TIMEOUT))?;
        con.set_write_timeout(Some(REDIS_TIMEOUT))?;
        Ok(con)
    }

    pub(crate) fn enqueue(&self, out: Out) {
        // The receiver lives as long as the publisher thread; after it
        // ended (shutdown) nothing is to be sent.
        let _ = self.out.send(out);
    }

    /// Publishes `msg` on `channel` (in this node's order).
    pub(crate) fn send(&self, channel: String, msg: &Bus<'_>) {
        let mut body = Vec::with_capacity(64);
        msg.encode_body(&mut body);
        self.enqueue(Out::Publish {
            channel,
            msg: body,
            numbered: msg.numbered(),
        });
    }

    /// The claim value of a registration of connection `peer` at `since`.
    fn claim_value(&self, since: u64, peer: Peer) -> String {
        format!("{}|{since}|{}", self.node, peer.id)
    }

    /// Claims `nick` for connection `peer` in Redis, on the calling
    /// thread's connection `con` (opened here when `None`): 01 when
    /// another node's user holds it. When Redis cannot be reached, the
    /// node is partitioned and the claim is made when it heals (the
    /// keeper's renewal).
    pub(crate) fn claim(
        &self,
        con: &mut Option<redis::Connection>,
        nick: &str,
        peer: Peer,
    ) -> Result<Claim, ErrorCode> {
        let key = nick_key(nick);
        // Two connections of this node after one nickname: the first
        // claims it, the other is refused here (Redis would take both
        // claims as this node's).
        if self.claims.lock().get(&key).is_some_and(|c| c.peer != peer)
            || !self.claiming.lock().insert(key.clone())
        {
            return Err(ErrorCode::NickInUse);
        }
        let since = super::unix_time_ms();
        let claim = Claim {
            nick: Arc::from(nick),
            peer,
            value: self.claim_value(since, peer),
            since,
        };
        // Cut off, or a claim just failed to reach Redis: no round trip
        // that would hold this I/O thread up to the timeout for every
        // registration; the keeper claims it once Redis answers.
        if self.partitioned() || self.claims_down.load(Ordering::Acquire) {
            return Ok(claim);
        }
        if con.is_none() {
            *con = self.connect().ok();
        }
        let Some(c) = con.as_mut() else {
            self.claims_down.store(true, Ordering::Release);
            return Ok(claim);
        };
        let prefix = format!("{}|", self.node);
        let got: redis::RedisResult<i64> = redis::Script::new(CLAIM)
            .key(claim_key(nick))
            .arg(&claim.value)
            .arg(self.lease.as_millis() as u64)
            .arg(prefix)
            .invoke(c);
        match got {
            Ok(1) => Ok(claim),
            Ok(_) => {
                self.claiming.lock().remove(&key);
                Err(ErrorCode::NickInUse)
            }
            Err(_) => {
                // The keeper notices too, and claims it once healed.
                *con = None;
                self.claims_down.store(true, Ordering::Release);
                Ok(claim)
            }
        }
    }

    /// The local registry now holds `claim` (after [`Cluster::claim`]):
    /// keep it renewed, and tell the other nodes `JOIN` (or `NICK` from
    /// `old`).
    pub(crate) fn registered(&self, claim: Claim, old: Option<&str>) {
        let nick = Arc::clone(&claim.nick);
        let mut claims = self.claims.lock();
        if let Some(old) = old {
            if let Some(c) = claims.remove(&nick_key(old)) {
                if nick_key(old) != nick_key(&nick) {
                    self.enqueue(Out::Release(claim_key(old), c.value));
                }
            }
        }
        self.claiming.lock().remove(&nick_key(&nick));
        claims.insert(nick_key(&nick), claim);
        drop(claims);
        if !self.partitioned() {
            let msg = match old {
                Some(old) => Bus::Nick(old, &nick),
                None => Bus::Join(&nick),
            };
            self.send(ALL.to_owned(), &msg);
        }
    }

    /// The local registry refused `claim` after all: free it in Redis
    /// (`release`; not when the connection holds the same key under
    /// another case and keeps it).
    pub(crate) fn unclaim(&self, claim: Claim, release: bool) {
        self.claiming.lock().remove(&nick_key(&claim.nick));
        if release {
            self.enqueue(Out::Release(claim_key(&claim.nick), claim.value));
        }
    }

    /// A local user left: free its nickname and tell the other nodes.
    pub(crate) fn left(&self, nick: &str, peer: Peer) {
        let key = nick_key(nick);
        let mut claims = self.claims.lock();
        let Some(c) = claims.get(&key).filter(|c| c.peer == peer).cloned() else {
            return;
        };
        claims.remove(&key);
        drop(claims);
        if !self.partitioned() {
            self.send(ALL.to_owned(), &Bus::Left(nick));
        }
        self.enqueue(Out::Release(claim_key(nick), c.value));
    }

    /// A public message from a local user, for the other nodes, with the
    /// id and time this node gave it (they record and deliver it so).
    pub(crate) fn public(&self, from: &str, text: &str, tag: Tag) {
        if !self.partitioned() {
            self.send(ALL.to_owned(), &Bus::PublicTagged { from, tag, text });
        }
    }

    /// A private message from a local user to `to`, a user of another node
    /// ([`REMOTE`]): `false` when this node does not know it (any more).
    pub(crate) fn private(&self, to: Peer, from: &str, text: &str, tag: Tag) -> bool {
        let Some((node, nick)) = self.remote_user(to) else {
            return false;
        };
        self.private_to(&node, &nick, from, text, tag);
        true
    }

    /// A private message with its id and time for `nick` on `node`.
    pub(crate) fn private_to(&self, node: &str, nick: &str, from: &str, text: &str, tag: Tag) {
        self.send(
            node_channel(node),
            &Bus::PrivateTagged {
                to: nick,
                from,
                tag,
                text,
            },
        );
    }

    /// A room message from a local user, for the room's other nodes, with
    /// its id and time.
    pub(crate) fn room(&self, room: &str, from: &str, text: &str, tag: Tag) {
        if !self.partitioned() {
            self.send(
                room_channel(room),
                &Bus::RoomTagged {
                    room,
                    from,
                    tag,
                    text,
                },
            );
        }
    }

    /// A local user joined (`joined`) or left a room.
    ///
    /// Only while this node follows the room's channel: otherwise the
    /// subscriber subscribes first and then tells the room's other nodes
    /// all its members at once (`RMEMBERS`), so that nobody elsewhere sees
    /// this user join before its messages to it can arrive here. The
    /// check and the subscriber's subscription share a lock (see
    /// `followed`), so a join is told one way or the other, never neither.
    pub(crate) fn room_member(&self, room: &str, nick: &str, joined: bool) {
        if self.partitioned() {
            return;
        }
        let channel = room_channel(room);
        let followed = self.followed.lock();
        if !followed.contains(&channel) {
            return;
        }
        let msg = if joined {
            Bus::RoomJoin { room, nick }
        } else {
            Bus::RoomPart { room, nick }
        };
        self.send(channel, &msg);
    }

    /// A binary message's whole frame (`BYTES ...` + payload) from a local
    /// user, to `to` (a [`REMOTE`] peer) or to everyone (`None`).
    pub(crate) fn frame(&self, to: Option<Peer>, frame: &[u8]) {
        if self.partitioned() {
            return;
        }
        let (channel, nick) = match to {
            None => (ALL.to_owned(), None),
            Some(p) => match self.remote_user(p) {
                Some((node, nick)) => (node_channel(&node), Some(nick)),
                None => return,
            },
        };
        self.send(
            channel,
            &Bus::Frame {
                to: nick.as_deref(),
                frame,
            },
        );
    }

    /// A message a local user sent (public, private or room), for the
    /// history every node shares: appended, in this node's order, to its
    /// conversation's stream by the publisher thread (no I/O thread waits
    /// for it). Not while cut off: the node's own history keeps it.
    ///
    /// `inbox`: a private message's receiver (nickname key) and how long
    /// its own stream ([`resume::inbox_stream`], which a resume on another
    /// node reads) lasts after its last message, in ms.
    pub(crate) fn archive(
        &self,
        conversation: &Conversation,
        tag: Tag,
        kind: HistoryKind,
        from: &str,
        text: &str,
        inbox: Option<(&str, u64)>,
    ) {
        if self.partitioned() {
            return;
        }
        let fields = entry_fields(tag, kind, from, text);
        let inbox = inbox.map(|(to, ttl)| (resume::inbox_stream(to), ttl.max(1)));
        self.enqueue(Out::Archive(history_stream(conversation), inbox, fields));
    }

    /// Waits until everything this node queued for Redis before has been
    /// sent (at most `limit`): false when it was not (Redis is slow or
    /// gone).
    pub(crate) fn barrier(&self, limit: Duration) -> bool {
        let (tx, rx) = mpsc::sync_channel(1);
        self.enqueue(Out::Barrier(tx));
        rx.recv_timeout(limit).is_ok()
    }

    /// The last `count` messages of `conversation`'s shared history with an
    /// id below `before` (all when `None`) and a time not before
    /// `oldest_ms`, oldest first, read on the calling I/O thread's
    /// connection `con` (opened here when `None`) with one `XREVRANGE` of
    /// at most `count` entries (`scan` with `before`: ids are cluster-wide
    /// but entries are in the order Redis got them). `None` when cut off or
    /// Redis does not answer (the caller answers from its own history).
    pub(crate) fn history(
        &self,
        con: &mut Option<redis::Connection>,
        conversation: &Conversation,
        count: usize,
        before: Option<u64>,
        oldest_ms: u64,
        scan: usize,
    ) -> Option<Vec<Arc<Entry>>> {
        if self.partitioned() || self.claims_down.load(Ordering::Acquire) || count == 0 {
            return None;
        }
        if con.is_none() {
            *con = self.connect().ok();
        }
        let k = con.as_mut()?;
        let read = if before.is_some() {
            scan.max(count)
        } else {
            count
        };
        let got: redis::RedisResult<redis::Value> = redis::cmd("XREVRANGE")
            .arg(history_stream(conversation))
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(read)
            .query(k);
        let Ok(redis::Value::Array(items)) = got else {
            *con = None;
            return None;
        };
        let mut out: Vec<Arc<Entry>> = items
            .iter()
            .filter_map(stream_entry)
            .filter(|e| before.is_none_or(|b| e.tag.id < b))
            .take_while(|e| e.tag.time >= oldest_ms)
            .take(count)
            .map(Arc::new)
            .collect();
        out.reverse();
        Some(out)
    }

    /// The node and nickname of remote user `peer`.
    fn remote_user(&self, peer: Peer) -> Option<(String, Arc<str>)> {
        self.remote
            .lock()
            .by_id
            .get(&peer.id)
            .map(|(n, nick)| (n.clone(), Arc::clone(nick)))
    }

    /// The connection here of the user that was remote peer `id` before it
    /// resumed on this node (within a lease).
    pub(crate) fn adopted_peer(&self, id: u64) -> Option<Peer> {
        self.adopted.lock().get(&id).map(|(p, _)| *p)
    }

    /// Whether a user of another node resumed here within the lease.
    pub(crate) fn adopted_lately(&self) -> bool {
        let lease = self.lease;
        self.adopted
            .lock()
            .values()
            .any(|(_, at)| at.elapsed() < lease)
    }

    /// Whether connection `id` of this node is a user that resumed here
    /// from another node in the last 2 s (while this node learns who is
    /// in its rooms).
    pub(crate) fn just_adopted(&self, id: u64) -> bool {
        self.adopted
            .lock()
            .values()
            .any(|(p, at)| p.id == id && at.elapsed() < Duration::from_secs(2))
    }

    /// Whether `peer` may be written to now: local users always, other
    /// nodes' users only while the node is not cut off.
    pub(crate) fn reachable(&self, peer: Peer) -> bool {
        peer.thread != REMOTE || !self.partitioned()
    }
}
