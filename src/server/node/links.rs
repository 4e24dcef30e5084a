//! The two cluster threads that write to Redis: the publisher, which sends
//! this node's messages in order, and the keeper, which renews the
//! nickname claims, sends heartbeats, forgets silent nodes, and declares
//! partitions healed.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{set_partitioned, tell_everyone};
use crate::protocol::{ClusterState, ServerLine};
use crate::server::cluster::resume::record_key;
use crate::server::cluster::wire::{self, envelope, Bus, Envelope};
use crate::server::cluster::{claim_key, tag_key, Claim, Cluster, Out, ALL, RELEASE, RENEW, TAG};
use crate::server::inbox::Cmd;
use crate::server::session::NODE_TAGS;
use crate::server::shared::Shared;
use crate::server::ServerEvent;

/// Most messages sent to Redis in one pipeline.
const MAX_BATCH: usize = 1024;
/// The longest wait between two attempts to reach Redis.
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// How often held private messages are tried again.
const HELD_RETRY: Duration = Duration::from_millis(100);

/// One command of a pipeline.
enum Ready {
    /// `PUBLISH channel payload`; `private`: a private message, kept and
    /// sent again while its node has no subscriber (see [`publisher`]).
    Publish {
        channel: String,
        payload: Vec<u8>,
        private: bool,
        since: Instant,
    },
    /// Free a claim: key, value.
    Release(String, String),
    /// Append to a history stream (`XADD ... MAXLEN ~`): the stream, the
    /// receiver's stream and its expiry in ms (a private message: appended
    /// there too), the most entries kept, the fields and values. Redis
    /// refusing an append (a key of another type, over its memory limit)
    /// loses that entry and stalls nothing (the pipeline ignores errors).
    Archive {
        stream: String,
        inbox: Option<(String, u64)>,
        limit: usize,
        fields: Vec<String>,
    },
    /// A script whose answer is not read.
    Eval {
        script: &'static str,
        keys: Vec<String>,
        args: Vec<String>,
    },
    /// Someone waits for what came before to reach Redis (an `EXISTS`
    /// answers when it has).
    Barrier(mpsc::SyncSender<()>),
}

impl Ready {
    fn add_to(&self, pipe: &mut redis::Pipeline) {
        match self {
            Ready::Publish {
                channel, payload, ..
            } => {
                pipe.cmd("PUBLISH").arg(channel).arg(payload);
            }
            Ready::Release(key, value) => {
                pipe.cmd("EVAL").arg(RELEASE).arg(1).arg(key).arg(value);
            }
            Ready::Archive {
                stream,
                inbox,
                limit,
                fields,
            } => {
                // One answer per command of the batch: the receiver's
                // stream's are not read.
                if let Some((inbox, ttl)) = inbox {
                    pipe.cmd("XADD")
                        .arg(inbox)
                        .arg("MAXLEN")
                        .arg("~")
                        .arg(limit)
                        .arg("*")
                        .arg(fields)
                        .ignore();
                    pipe.cmd("PEXPIRE").arg(inbox).arg(ttl).ignore();
                }
                pipe.cmd("XADD")
                    .arg(stream)
                    .arg("MAXLEN")
                    .arg("~")
                    .arg(limit)
                    .arg("*")
                    .arg(fields);
            }
            Ready::Eval { script, keys, args } => {
                pipe.cmd("EVAL")
                    .arg(*script)
                    .arg(keys.len())
                    .arg(keys)
                    .arg(args);
            }
            Ready::Barrier(_) => {
                pipe.cmd("EXISTS").arg("papo:barrier");
            }
        }
    }
}

/// The publisher thread: takes [`Out`]s in the order the I/O threads (and
/// the other cluster threads) queued them, numbers each data message on
/// its channel, and sends them in pipelines of up to [`MAX_BATCH`].
///
/// When Redis fails, the node is partitioned and the batch is kept and
/// sent again once Redis answers: a message a client was told was sent is
/// not dropped for a short cut. A private message whose node's channel
/// has no subscriber (`PUBLISH` answers 0: that node is cut off, or
/// resubscribing after one) is held, with every later message to that
/// node behind it so that order is kept, and sent again every 100 ms
/// until the lease has passed (by then that node's users are gone).
pub(super) fn publisher(shared: Arc<Shared>, rx: mpsc::Receiver<Out>) {
    let Some(c) = shared.cluster.as_ref() else {
        return;
    };
    let mut con: Option<redis::Connection> = None;
    let mut seqs: HashMap<String, u64> = HashMap::new();
    let mut batch: Vec<Ready> = Vec::new();
    let mut held: HashMap<String, VecDeque<Ready>> = HashMap::new();
    let mut stopping = false;
    let mut backoff = Duration::from_millis(100);
    let mut stop_deadline: Option<Instant> = None;
    let mut next_held = Instant::now();
    loop {
        let wait = if held.is_empty() {
            Duration::from_millis(200)
        } else {
            Duration::from_millis(100)
        };
        let mut take = |o: Out, batch: &mut Vec<Ready>, stopping: &mut bool| match o {
            Out::Publish {
                channel,
                msg,
                numbered,
            } => {
                let seq = if numbered {
                    let s = seqs.entry(channel.clone()).or_insert(0);
                    *s += 1;
                    *s
                } else {
                    0
                };
                let mut payload = Vec::with_capacity(msg.len() + 32);
                envelope(&c.node, seq, &mut payload);
                payload.extend_from_slice(&msg);
                let private = channel.starts_with("papo:node:") && numbered;
                let r = Ready::Publish {
                    channel,
                    payload,
                    private,
                    since: Instant::now(),
                };
                match &r {
                    Ready::Publish { channel, .. }
                        if private && held.get(channel).is_some_and(|q| !q.is_empty()) =>
                    {
                        if let Some(q) = held.get_mut(channel) {
                            q.push_back(r);
                        }
                    }
                    _ => batch.push(r),
                }
            }
            Out::Release(k, v) => batch.push(Ready::Release(k, v)),
            Out::Archive(stream, inbox, fields) => {
                let limit = shared.cfg.history_limit;
                if limit > 0 {
                    batch.push(Ready::Archive {
                        stream,
                        inbox,
                        limit,
                        fields,
                    });
                }
            }
            Out::Eval { script, keys, args } => batch.push(Ready::Eval { script, keys, args }),
            Out::Barrier(tx) => batch.push(Ready::Barrier(tx)),
            Out::Reroute { from, key, to } => {
                reroute(c, &mut seqs, &mut held, batch, &from, &key, to.as_deref());
            }
            Out::Stop => *stopping = true,
        };
        if batch.is_empty() && !stopping {
            match rx.recv_timeout(wait) {
                Ok(o) => take(o, &mut batch, &mut stopping),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => stopping = true,
            }
            while batch.len() < MAX_BATCH && !stopping {
                match rx.try_recv() {
                    Ok(o) => take(o, &mut batch, &mut stopping),
                    Err(_) => break,
                }
            }
        }
        if !stopping && c.stopping() {
            // `Cluster::stop` queued its last messages and `Stop` before it
            // set the flag: take them now, even while a batch Redis does
            // not take waits (or the thread would never see `Stop`).
            while let Ok(o) = rx.try_recv() {
                take(o, &mut batch, &mut stopping);
            }
        }
        if stopping {
            // Redis may be gone: give what is queued a moment, no more.
            let deadline = *stop_deadline.get_or_insert_with(|| Instant::now() + c.lease / 3);
            if (batch.is_empty() && held.values().all(VecDeque::is_empty))
                || Instant::now() >= deadline
            {
                return;
            }
            if batch.is_empty() {
                // Only held messages are left: wait for their next try.
                let now = Instant::now();
                std::thread::sleep(next_held.min(deadline).saturating_duration_since(now));
            }
        }
        if con.is_none() {
            match c.connect() {
                Ok(k) => {
                    con = Some(k);
                    backoff = Duration::from_millis(100);
                }
                Err(e) => {
                    set_partitioned(&shared, &e.to_string());
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            }
        }
        let Some(k) = con.as_mut() else {
            continue;
        };
        if !batch.is_empty() {
            let mut pipe = redis::pipe();
            // A command Redis refuses (an append to a key of another type)
            // answers an error in its place; the others go on.
            pipe.ignore_errors();
            for r in &batch {
                r.add_to(&mut pipe);
            }
            match pipe.query::<Vec<redis::Value>>(k) {
                Ok(answers) => {
                    // Subscribers a `PUBLISH` reached (1 for the others).
                    let counts = answers.into_iter().map(|v| match v {
                        redis::Value::Int(n) => n,
                        _ => 1,
                    });
                    let n = batch
                        .iter()
                        .filter(|r| matches!(r, Ready::Publish { .. }))
                        .count();
                    c.published.fetch_add(n as u64, Ordering::Relaxed);
                    for (r, n) in batch
                        .drain(..)
                        .zip(counts.into_iter().chain(std::iter::repeat(1)))
                    {
                        if let Ready::Barrier(tx) = &r {
                            let _ = tx.try_send(());
                        }
                        if let Ready::Publish {
                            private: true,
                            channel,
                            payload,
                            ..
                        } = r
                        {
                            if n == 0 {
                                // The lease counts from now: the node may
                                // have been cut off as long as this one.
                                held.entry(channel.clone()).or_default().push_back(
                                    Ready::Publish {
                                        channel,
                                        payload,
                                        private: true,
                                        since: Instant::now(),
                                    },
                                );
                            }
                        }
                    }
                }
                Err(e) => {
                    con = None;
                    set_partitioned(&shared, &e.to_string());
                    continue;
                }
            }
        }
        if !held.is_empty() && Instant::now() >= next_held {
            next_held = Instant::now() + HELD_RETRY;
            if send_held(&shared, c, k, &mut held).is_err() {
                con = None;
            }
        }
    }
}

/// A user moved from the node of channel `from` to that of channel `to`
/// (PROTOCOL.md, "Resuming on another node"): the private messages and
/// binary messages for it (nickname key `key`) held for `from` (that node
/// is gone or cut off) go to `to` instead, numbered there, in their order;
/// with no `to` (it moved to this node, which read them from the shared
/// history) they are dropped.
fn reroute(
    c: &Cluster,
    seqs: &mut HashMap<String, u64>,
    held: &mut HashMap<String, VecDeque<Ready>>,
    batch: &mut Vec<Ready>,
    from: &str,
    key: &str,
    to: Option<&str>,
) {
    let Some(q) = held.get_mut(from) else {
        return;
    };
    let mut moved = Vec::new();
    let mut kept = VecDeque::new();
    for r in q.drain(..) {
        let Ready::Publish { payload, .. } = &r else {
            kept.push_back(r);
            continue;
        };
        let body = match wire::parse(payload) {
            Some(Envelope {
                node,
                seq,
                msg:
                    Bus::Private { to: nick, .. }
                    | Bus::PrivateTagged { to: nick, .. }
                    | Bus::Frame { to: Some(nick), .. },
            }) if crate::protocol::nick_key(nick) == key => {
                // The envelope is `node seq `.
                let skip = node.len() + seq.to_string().len() + 2;
                payload.get(skip..).map(<[u8]>::to_vec)
            }
            _ => None,
        };
        match body {
            Some(b) => moved.push(b),
            None => kept.push_back(r),
        }
    }
    *q = kept;
    if q.is_empty() {
        held.remove(from);
    }
    let Some(to) = to else {
        return;
    };
    for body in moved {
        let s = seqs.entry(to.to_owned()).or_insert(0);
        *s += 1;
        let mut payload = Vec::with_capacity(body.len() + 32);
        envelope(&c.node, *s, &mut payload);
        payload.extend_from_slice(&body);
        let r = Ready::Publish {
            channel: to.to_owned(),
            payload,
            private: true,
            since: Instant::now(),
        };
        match held.get_mut(to) {
            Some(q) if !q.is_empty() => q.push_back(r),
            _ => batch.push(r),
        }
    }
}

/// Sends the held private messages of each node again, in order, while
/// its channel has a subscriber; drops those older than the lease (their
/// node is gone: its users have left everywhere).
fn send_held(
    shared: &Shared,
    c: &Cluster,
    k: &mut redis::Connection,
    held: &mut HashMap<String, VecDeque<Ready>>,
) -> redis::RedisResult<()> {
    let mut dropped = 0u64;
    for q in held.values_mut() {
        while let Some(Ready::Publish {
            channel,
            payload,
            since,
            ..
        }) = q.front()
        {
            let n: i64 = redis::cmd("PUBLISH").arg(channel).arg(payload).query(k)?;
            if n > 0 {
                q.pop_front();
            } else if since.elapsed() > c.lease {
                q.pop_front();
                dropped += 1;
            } else {
                break;
            }
        }
    }
    held.retain(|_, q| !q.is_empty());
    if dropped > 0 {
        shared.events.push(ServerEvent::Cluster {
            partitioned: c.partitioned(),
            message: format!(
                "{dropped} private message(s) dropped: their receivers' node stayed unreachable for the lease"
            ),
        });
    }
    Ok(())
}

/// The keeper thread: every third of the lease (every 250 ms while
/// partitioned) renews this node's claims and sends a heartbeat; every
/// 100 ms forgets the nodes not heard from for two thirds of the lease.
pub(super) fn keeper(shared: Arc<Shared>) {
    let Some(c) = shared.cluster.as_ref() else {
        return;
    };
    let mut con: Option<redis::Connection> = None;
    let mut next = Instant::now();
    while !c.stopping() {
        let now = Instant::now();
        if now >= next {
            match renew(&shared, c, &mut con) {
                Ok(()) => {
                    if let Some(k) = con.as_mut() {
                        // Its failure shows in the next renewal.
                        let _ = keep_tag(&shared, c, k);
                    }
                    c.claims_down.store(false, Ordering::Release);
                    c.send(ALL.to_owned(), &Bus::Heartbeat);
                    if c.partitioned() && c.subscribed.load(Ordering::Acquire) {
                        heal(&shared, c);
                    }
                    if let Some(k) = con.as_mut() {
                        rooms_upkeep(c, k, c.lease.as_millis() as u64);
                    }
                }
                Err(e) => {
                    con = None;
                    set_partitioned(&shared, &e.to_string());
                }
            }
            next = now
                + if c.partitioned() {
                    Duration::from_millis(250)
                } else {
                    c.lease / 3
                };
        }
        forget_silent(&shared, c, c.lease * 2 / 3);
        c.retry_refused(&shared);
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Renews this node's lease on its tag of cluster-wide ids
/// (`History::set_node_tag`), or, when another node holds it (two nodes
/// drew the same one at start, or Redis lost the lease while this node was
/// cut off), leases a free one and uses it from now on. With all 32 tags
/// held by live nodes it keeps its own: ids of two nodes might then
/// collide (PROTOCOL.md, "Clusters", says at most 32 nodes).
pub(super) fn keep_tag(
    shared: &Shared,
    c: &Cluster,
    k: &mut redis::Connection,
) -> redis::RedisResult<()> {
    let lease_ms = c.lease.as_millis() as u64;
    let mine = shared.history.node_tag().unwrap_or(0);
    for t in (0..NODE_TAGS).map(|i| (mine + i) % NODE_TAGS) {
        let got: i64 = redis::cmd("EVAL")
            .arg(TAG)
            .arg(1)
            .arg(tag_key(t))
            .arg(&c.node)
            .arg(lease_ms)
            .query(k)?;
        if got == 1 {
            if t != mine {
                shared.history.set_node_tag(t);
            }
            return Ok(());
        }
    }
    Ok(())
}

/// Renews every claim of this node in one pipeline (which also proves
/// Redis answers); a claim an earlier claimant holds makes its user's
/// session take another nickname ([`Cmd::NickLost`]).
fn renew(
    shared: &Shared,
    c: &Cluster,
    con: &mut Option<redis::Connection>,
) -> redis::RedisResult<()> {
    if con.is_none() {
        *con = Some(c.connect()?);
    }
    let Some(k) = con.as_mut() else {
        return Ok(());
    };
    let claims: Vec<Claim> = c.claims.lock().values().cloned().collect();
    let lease_ms = c.lease.as_millis() as u64;
    let record_ms = c.record_ttl_ms(shared.rules.load().resume_grace);
    let mut pipe = redis::pipe();
    pipe.cmd("PING").ignore();
    for cl in &claims {
        pipe.cmd("EVAL")
            .arg(RENEW)
            .arg(1)
            .arg(claim_key(&cl.nick))
            .arg(&cl.value)
            .arg(lease_ms)
            .arg(cl.since);
        // Its token outlives this node by the grace period.
        pipe.cmd("PEXPIRE")
            .arg(record_key(&cl.nick))
            .arg(record_ms)
            .ignore();
    }
    let got: Vec<redis::Value> = pipe.query(k)?;
    for (cl, got) in claims.iter().zip(got) {
        match got {
            redis::Value::Int(0) => {}
            redis::Value::BulkString(node) => {
                // It resumed on another node, whose `MOVED` did not come
                // (yet): its session here ends without a word.
                let node = String::from_utf8_lossy(&node);
                c.moved_away(shared, &cl.nick, cl.peer, &node);
                continue;
            }
            _ => continue,
        }
        // Still the same registration? Then its session renames itself.
        let lost = {
            let mut claims = c.claims.lock();
            let key = crate::protocol::nick_key(&cl.nick);
            match claims.get(&key) {
                Some(now) if now.value == cl.value => claims.remove(&key).is_some(),
                _ => false,
            }
        };
        if lost {
            if let Some(inbox) = shared.inboxes.get(cl.peer.thread) {
                inbox.push(Cmd::NickLost {
                    slot: cl.peer.slot,
                    id: cl.peer.id,
                    nick: Box::from(&*cl.nick),
                });
                inbox.notify();
            }
        }
    }
    Ok(())
}

/// Back in the cluster: say so, and tell every node this node's users and
/// ask for theirs (they may have forgotten this node meanwhile).
fn heal(shared: &Shared, c: &Cluster) {
    if !c.partitioned.swap(false, Ordering::AcqRel) {
        return;
    }
    c.announce();
    c.resync_rooms.store(true, Ordering::Release);
    tell_everyone(shared, ServerLine::Cluster(ClusterState::Healed));
    shared.events.push(ServerEvent::Cluster {
        partitioned: false,
        message: "in the cluster".to_owned(),
    });
}

/// Forgets the nodes not heard from for `silence`: their users leave
/// (everyone here gets `LEFT`).
fn forget_silent(shared: &Shared, c: &Cluster, silence: Duration) {
    let gone: Vec<String> = c
        .remote
        .lock()
        .nodes
        .iter()
        .filter(|(_, n)| n.last_seen.elapsed() > silence)
        .map(|(id, _)| id.clone())
        .collect();
    for node in gone {
        c.forget_node(shared, &node);
    }
}

/// Says this node is alive (`papo:nodealive:<node>`, for the lease) and
/// takes the members of nodes whose key lapsed out of every room
/// (`server/cluster/rooms.rs`). A failure here is noticed by the next
/// renewal.
fn rooms_upkeep(c: &Cluster, k: &mut redis::Connection, lease_ms: u64) {
    use crate::server::cluster::rooms::{alive_key, GC, ROOMS, ROOM_NODES};
    let _: redis::RedisResult<()> = redis::pipe()
        .cmd("SET")
        .arg(alive_key(&c.node))
        .arg(1)
        .arg("PX")
        .arg(lease_ms)
        .ignore()
        .cmd("EVAL")
        .arg(GC)
        .arg(2)
        .arg(ROOM_NODES)
        .arg(ROOMS)
        .ignore()
        .query(k);
}
