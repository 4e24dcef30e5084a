//! A connection resumed on another node (PROTOCOL.md, "Resuming on
//! another node"; the Redis side is `server/cluster/resume.rs`), seen from
//! the three nodes concerned:
//!
//! - the new node ([`resume_here`]) spends the token, makes the user its
//!   own without a `LEFT` or `JOIN` (the registry entry of the remote user
//!   becomes the new connection's), says `MOVED` to every node, and reads
//!   what the user missed from the shared history once every message
//!   routed before the move is there;
//! - the old node ([`Cluster::moved_away`]) ends the old session without
//!   a word, and forwards what still comes for the user;
//! - every other node ([`Cluster::moved_in`]) points the user at its new
//!   node, and sends there the private messages it held for the old one.
//!
//! Why nothing is lost: every message is appended to the shared history
//! before it is published (`Host::shared_record`). A message published
//! before `MOVED` (in Redis's order) is in the history before the new node
//! reads it, because the new node reads only once its `MOVED` reached
//! Redis ([`Cluster::barrier`]) and it follows the user's rooms; one
//! published after `MOVED` to the old node reaches the old node after
//! `MOVED` (one subscriber connection sees Redis's order), which forwards
//! it, or, if the old node is gone, is held by its sender's node and sent
//! again to the new node once that node has heard `MOVED`. A message may
//! come twice (from the history and live); the client skips ids it has
//! seen.
//!
//! Not covered: a room message that another thread of the new node routes
//! with the room's member snapshot from just before the move (a span of a
//! few instructions) is not delivered to the user live, and its append to
//! the history may come after the backlog was read.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::ErrorCode;
use crate::protocol::{nick_key, ServerLine, Tag};
use crate::server::cluster::resume::Taken;
use crate::server::cluster::wire::Bus;
use crate::server::cluster::{
    node_channel, Claim, Cluster, Gone, NodeInfo, Out, RemoteUser, ALL, REMOTE,
};
use crate::server::inbox::Cmd;
use crate::server::session::{Adopted, Missed, Peer, RoomCast, RESUME_SKEW_IDS};
use crate::server::shared::Shared;

/// The longest an I/O thread waits for this node to follow the resumed
/// user's rooms before it reads their history.
const FOLLOW_WAIT: Duration = Duration::from_secs(1);
/// The longest an I/O thread waits for the old node's `MOVEDOK`.
const OLD_NODE_WAIT: Duration = Duration::from_secs(2);

/// Whether `channel` has a subscriber (`PUBSUB NUMSUB`): a node's own
/// channel has one while the node is alive and reaches Redis.
fn subscribed(con: &mut Option<redis::Connection>, channel: &str) -> bool {
    let Some(k) = con.as_mut() else {
        return false;
    };
    let got: redis::RedisResult<(String, i64)> =
        redis::cmd("PUBSUB").arg("NUMSUB").arg(channel).query(k);
    matches!(got, Ok((_, n)) if n > 0)
}

/// A resume on this node of a user of another node, done.
pub(crate) struct Here {
    /// What the session answers with.
    pub adopted: Adopted,
    /// The registry's change number the connection has seen.
    pub reg_seq: u64,
    /// `ROOMJOIN`s for this node's members of rooms it did not know the
    /// user was in.
    pub casts: Vec<RoomCast>,
}

/// `/resume nick token since` on connection `me` of this node, for a
/// nickname not held here: spends the token in Redis and makes the user
/// this connection's (see the module doc). 24 `ResumeRefused` for a wrong
/// or spent token, while cut off, or when Redis does not answer. Waits on
/// Redis (a few round trips, each at most 1 s), for the old node's
/// `MOVEDOK` (at most [`OLD_NODE_WAIT`]) and for the subscriber to follow
/// the user's rooms (at most [`FOLLOW_WAIT`]): milliseconds when all is
/// well, and the I/O thread serves nobody else meanwhile.
pub(crate) fn resume_here(
    shared: &Arc<Shared>,
    con: &mut Option<redis::Connection>,
    me: Peer,
    nick: &str,
    token: &str,
    since: Option<u64>,
) -> Result<Here, ErrorCode> {
    let c = shared.cluster.as_ref().ok_or(ErrorCode::ResumeRefused)?;
    let key = nick_key(nick);
    // A registration of this node racing for the nickname waits its turn
    // (`Cluster::claim` refuses it while the key is being claimed).
    if c.claims.lock().contains_key(&key) || !c.claiming.lock().insert(key.clone()) {
        return Err(ErrorCode::ResumeRefused);
    }
    let Some(taken) = c.take(con, nick, token, me.id) else {
        c.claiming.lock().remove(&key);
        return Err(ErrorCode::ResumeRefused);
    };
    let claim = Claim {
        nick: Arc::clone(&taken.nick),
        peer: me,
        value: format!("{}|{}|{}", c.node, taken.since, me.id),
        since: taken.since,
    };
    let Some(reg_seq) = adopt(shared, c, me, &taken) else {
        // Someone else holds the nickname here (two claimants after a
        // partition): the token is spent, the client registers afresh.
        c.unclaim(claim, true);
        return Err(ErrorCode::ResumeRefused);
    };
    c.claims.lock().insert(key.clone(), claim);
    c.claiming.lock().remove(&key);
    // What this node's users sent the user and holds for its old node's
    // channel (that node is gone) is in the shared history read below.
    c.enqueue(Out::Reroute {
        from: node_channel(&taken.old_node),
        key: key.clone(),
        to: None,
    });
    let (ok_tx, ok_rx) = std::sync::mpsc::sync_channel(1);
    c.moves.lock().insert(key.clone(), ok_tx);
    // Before anything this user says here, and before its rooms' members
    // hear of it from this node.
    c.send(ALL.to_owned(), &Bus::Moved(&taken.nick));
    let casts = join_rooms(shared, c, con, me, &taken);
    let barrier = c.barrier(Duration::from_secs(1));
    // The old node's own users' messages to the user went to it directly,
    // not through Redis: wait until it says they are all in the history
    // (`MOVEDOK`), if it is alive (subscribed) to say it.
    let old_alive = barrier && subscribed(con, &node_channel(&taken.old_node));
    let acked = !old_alive || ok_rx.recv_timeout(OLD_NODE_WAIT).is_ok();
    c.moves.lock().remove(&key);
    let followed = wait_followed(c, &taken.rooms);
    let rooms: Vec<(String, Arc<str>)> = shared.directory.read().rooms_of(me.id);
    let missed = match since {
        Some(since) if barrier && followed && acked => {
            let keys: Vec<String> = rooms.iter().map(|(k, _)| k.clone()).collect();
            c.missed(
                con,
                &key,
                &keys,
                since.saturating_sub(RESUME_SKEW_IDS),
                shared.rules.load().resume_backlog,
                shared.cfg.history_limit,
            )
            .unwrap_or_default()
        }
        _ => Missed::default(),
    };
    Ok(Here {
        adopted: Adopted {
            nick: taken.nick,
            tags: taken.tags,
            missed,
            rooms,
        },
        reg_seq,
        casts,
    })
}

/// Makes `taken`'s user connection `me`'s in the registry: the entry of
/// the remote user becomes `me` (nobody here is told anything), or, when
/// this node had forgotten it (its node went silent), it registers anew
/// (`JOIN` to this node's users). Returns the registry's change number;
/// `None` when someone else holds the nickname here.
fn adopt(shared: &Shared, c: &Cluster, me: Peer, taken: &Taken) -> Option<u64> {
    let key = nick_key(&taken.nick);
    let mut r = c.remote.lock();
    let old = match r
        .nodes
        .get_mut(&taken.old_node)
        .and_then(|n| n.users.remove(&key))
    {
        Some(u) => Some(u),
        None => r.nodes.values_mut().find_map(|n| n.users.remove(&key)),
    };
    if let Some(u) = &old {
        r.by_id.remove(&u.peer.id);
        let mut adopted = c.adopted.lock();
        let lease = c.lease;
        adopted.retain(|_, (_, at)| at.elapsed() < lease);
        adopted.insert(u.peer.id, (me, Instant::now()));
    }
    let mut dir = shared.directory.write();
    let repointed = old
        .as_ref()
        .and_then(|u| dir.repoint(&taken.nick, u.peer, me));
    let seq = match (repointed, old) {
        (Some(change), _) => {
            let seq = change.seq;
            // Lookups cached by the I/O threads look again.
            shared.publish(change);
            seq
        }
        (None, other) => {
            if let Some(u) = other {
                // Out of step with the remote user's entry: it leaves,
                // and comes back as this node's.
                if let Some(change) = dir.remove(&u.nick, u.peer, true) {
                    shared.publish(change);
                }
            }
            let mut welcome = Vec::new();
            match dir.register(&taken.nick, me, None, &mut welcome, false) {
                Ok((_, change)) => {
                    let seq = change.seq;
                    shared.publish(change);
                    seq
                }
                Err(_) => return None,
            }
        }
    };
    shared.users.fetch_add(1, Ordering::Relaxed);
    // (The rooms' snapshots are refreshed by `join_rooms`, after `MOVED`
    // is queued: the subscriber follows the user's rooms then.)
    drop(dir);
    drop(r);
    super::remote::wake_all(shared);
    Some(seq)
}

/// Joins `me` to the rooms of `taken` this node did not know it was in
/// (their state read from Redis), and tells the rooms' other nodes.
fn join_rooms(
    shared: &Shared,
    c: &Cluster,
    con: &mut Option<redis::Connection>,
    me: Peer,
    taken: &Taken,
) -> Vec<RoomCast> {
    let mut casts = Vec::new();
    for room in &taken.rooms {
        if !shared.directory.read().is_member(room, me.id) {
            let state = c.room_join(con, room, &taken.nick).unwrap_or_default();
            let (_, _, cast) =
                shared
                    .directory
                    .write()
                    .join_room_shared(room, &taken.nick, me, &state);
            if !cast.to.is_empty() {
                casts.push(cast);
            }
        }
        // Nodes that forgot the user (its node went silent) learn it is a
        // member again; the others know.
        c.room_member(room, &taken.nick, true);
    }
    shared.rooms_seq.fetch_add(1, Ordering::Release);
    casts
}

/// Waits until the subscriber follows every room of `rooms`, so that a
/// room message is either in the history read next or delivered live.
fn wait_followed(c: &Cluster, rooms: &[String]) -> bool {
    let deadline = Instant::now() + FOLLOW_WAIT;
    loop {
        if c.unfollowed(rooms).is_empty() {
            return true;
        }
        if Instant::now() >= deadline || c.partitioned() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

impl Cluster {
    /// `node` said `MOVED nick`: the user resumed there. This node's own
    /// user: its session here ends ([`Cluster::moved_away`]). Another
    /// node's: it is `node`'s from now on, with nobody here told, and the
    /// private messages this node holds for its old node go to `node`.
    /// Unknown here: it comes in (`JOIN`).
    pub(super) fn moved_in(&self, shared: &Shared, node: &str, nick: &str) {
        let key = nick_key(nick);
        let mine = self.claims.lock().get(&key).cloned();
        if let Some(cl) = mine {
            self.moved_away(shared, &cl.nick, cl.peer, node);
            return;
        }
        let mut r = self.remote.lock();
        let from = r
            .nodes
            .iter_mut()
            .filter(|(n, _)| n.as_str() != node)
            .find_map(|(n, info)| info.users.remove(&key).map(|u| (n.clone(), u)));
        let Some((old, u)) = from else {
            drop(r);
            self.ensure_remote(shared, node, nick);
            return;
        };
        r.by_id
            .insert(u.peer.id, (node.to_owned(), Arc::clone(&u.nick)));
        r.nodes
            .entry(node.to_owned())
            .or_insert_with(NodeInfo::heard_now)
            .users
            .insert(key.clone(), u);
        drop(r);
        self.enqueue(Out::Reroute {
            from: node_channel(&old),
            key,
            to: Some(node_channel(node)),
        });
    }

    /// This node's user `nick` (connection `peer`) resumed on `node`: its
    /// claim and token here are void, its registry entry (and rooms)
    /// become the remote user's, so this node's users see no change, and
    /// its session ends without a word ([`Cmd::Moved`]).
    pub(crate) fn moved_away(&self, shared: &Shared, nick: &str, peer: Peer, node: &str) {
        let key = nick_key(nick);
        let stored = {
            let mut claims = self.claims.lock();
            match claims.get(&key) {
                Some(cl) if cl.peer == peer => claims.remove(&key).map(|cl| cl.nick),
                _ => None,
            }
        };
        let Some(stored) = stored else {
            return;
        };
        {
            let mut gone = self.moved.lock();
            let lease = self.lease;
            gone.retain(|_, g| g.at.elapsed() < lease);
            gone.insert(
                peer.id,
                Gone {
                    node: node.to_owned(),
                    nick: Arc::clone(&stored),
                    at: Instant::now(),
                },
            );
        }
        shared.tokens.lock().remove(&peer.id);
        let remote = Peer {
            thread: REMOTE,
            slot: 0,
            id: shared.next_conn_id(),
        };
        let mut r = self.remote.lock();
        let moved = {
            let mut dir = shared.directory.write();
            let change = dir.repoint(&stored, peer, remote);
            let moved = change.is_some();
            if let Some(change) = change {
                // This node's threads look `nick` up again: it is remote.
                shared.publish(change);
            }
            moved
        };
        if moved {
            shared.users.fetch_sub(1, Ordering::Relaxed);
            r.nodes
                .entry(node.to_owned())
                .or_insert_with(NodeInfo::heard_now)
                .users
                .insert(
                    key,
                    RemoteUser {
                        nick: Arc::clone(&stored),
                        peer: remote,
                    },
                );
            r.by_id
                .insert(remote.id, (node.to_owned(), Arc::clone(&stored)));
        }
        drop(r);
        shared.rooms_seq.fetch_add(1, Ordering::Release);
        // After every message of this node's users to it is queued for the
        // shared history (their threads look it up again from now on).
        self.send(node_channel(node), &Bus::MovedOk(&stored));
        if let Some(inbox) = shared.inboxes.get(peer.thread) {
            inbox.push(Cmd::Moved {
                slot: peer.slot,
                id: peer.id,
            });
            inbox.notify();
        }
    }
}

/// A private message for connection `id` of this node that will not be
/// delivered here (it is gone or held): when its user resumed on another
/// node ([`Cluster::moved_away`]), it is sent there with its id, from its
/// line as encoded for a client that said `/tags on`. A sender that looked
/// the user up here just before the move reaches it so. Returns whether it
/// was forwarded.
pub(crate) fn forward_moved(shared: &Shared, id: u64, tagged: &[u8]) -> bool {
    let Some(c) = shared.cluster.as_ref() else {
        return false;
    };
    let Some((node, nick)) = c
        .moved
        .lock()
        .get(&id)
        .map(|g| (g.node.clone(), Arc::clone(&g.nick)))
    else {
        return false;
    };
    let Ok(line) = std::str::from_utf8(tagged) else {
        return false;
    };
    let line = line.trim_end_matches('\n');
    let (Some(tag), Ok(ServerLine::Private { from, text })) =
        (Tag::of_line(line), ServerLine::parse(line))
    else {
        return false;
    };
    c.private_to(&node, &nick, from, text, tag);
    true
}
