//! Resume tokens that work on every node (PROTOCOL.md, "Resuming on
//! another node"): what Redis holds and the scripts that change it. The
//! node that issues a token writes it to the user's *resume record*; a
//! node that is shown it spends the record, takes the nickname's claim
//! and the user's room memberships in one script ([`TAKE`]), and reads
//! what the user missed from the shared history streams.
//!
//! - `papo:resume:<nick key>` (a hash): `t` the token, `n` the claim value
//!   of the registration it belongs to (`node|since|connection`), `k` the
//!   nickname as registered, `g` 1 when the client said `/tags on`. Its
//!   expiry is the resume grace period plus the lease, renewed with the
//!   claims: it outlives a crashed node by the grace period.
//! - `papo:moved:<old claim value>`: the node a registration moved to,
//!   for the lease; the old node's renewal finds it ([`super::RENEW`]) if
//!   it missed the `MOVED` message.
//! - `papo:h:u:<nick key>`: a user's private messages from others (a
//!   stream like the other shared history streams), which expires a grace
//!   period and a lease after the last one: only a resume reads it.

use std::sync::Arc;

use super::{history_stream, room_channel, Cluster, Out};
use crate::protocol::{nick_key, HistoryKind};
use crate::server::session::{Conversation, Entry, Missed};

/// A user's resume record.
pub(crate) fn record_key(nick: &str) -> String {
    format!("papo:resume:{}", nick_key(nick))
}

/// A user's stream of private messages from others.
pub(crate) fn inbox_stream(key: &str) -> String {
    format!("papo:h:u:{key}")
}

/// Writes a resume record. KEYS: the record. ARGV: token, claim value,
/// nickname, tags (1/0), expiry in ms.
pub(crate) const RECORD: &str = r"
redis.call('HSET', KEYS[1], 't', ARGV[1], 'n', ARGV[2], 'k', ARGV[3], 'g', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1";

/// Deletes a resume record if it still holds this token. KEYS: the
/// record. ARGV: token.
pub(crate) const FORGET: &str = r"
if redis.call('HGET', KEYS[1], 't') == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0";

/// Spends a token: when the record holds it, and the nickname's claim is
/// still that registration's or has lapsed (a crashed node's, not yet
/// someone else's), deletes the record, gives the nickname's claim to the
/// new node (keeping the registration time,
/// which settles collisions after a partition), marks the old claim moved,
/// and moves the user's memberships of every room from the old node to
/// the new one. Returns {old node, nickname, tags, since, room names...},
/// or nil for a wrong token. Atomic, so a token is spent once. KEYS:
/// record, claim, rooms, room nodes. ARGV: token, new node, new
/// connection id, lease ms, nick key.
const TAKE: &str = r"
local r = redis.call('HMGET', KEYS[1], 't', 'n', 'k', 'g')
if (not r[1]) or r[1] ~= ARGV[1] or (not r[2]) or (not r[3]) then
  return false
end
local old, nick = r[2], r[3]
local oldnode, since = string.match(old, '^([^|]*)|(%d+)|')
if not oldnode then
  return false
end
local cur = redis.call('GET', KEYS[2])
if cur and cur ~= old then
  return false
end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], ARGV[2] .. '|' .. since .. '|' .. ARGV[3], 'PX', ARGV[4])
redis.call('SET', 'papo:moved:' .. old, ARGV[2], 'PX', ARGV[4])
local out = {oldnode, nick, r[4] or '0', since}
for _, rk in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  local info = 'papo:roominfo:' .. rk
  local v = redis.call('HGET', info, 'm:' .. ARGV[5])
  if v and string.sub(v, 1, #oldnode + 1) == oldnode .. ' ' then
    redis.call('HSET', info, 'm:' .. ARGV[5], ARGV[2] .. ' ' .. nick)
    local name = redis.call('HGET', info, 'name')
    if name then
      table.insert(out, name)
    end
  end
end
if #out > 4 then
  redis.call('SADD', KEYS[4], ARGV[2])
end
return out";

/// A token spent by [`Cluster::take`].
#[derive(Debug)]
pub(crate) struct Taken {
    /// The node the user was on.
    pub old_node: String,
    /// The nickname as registered.
    pub nick: Arc<str>,
    /// Its client said `/tags on`.
    pub tags: bool,
    /// When it registered (UTC ms; kept by the new claim).
    pub since: u64,
    /// Its rooms' names.
    pub rooms: Vec<String>,
}

impl Cluster {
    /// The expiry of a resume record: the grace period (the longest a
    /// token is any good after its node stopped renewing it) plus a lease.
    pub(crate) fn record_ttl_ms(&self, grace: std::time::Duration) -> u64 {
        u64::try_from((grace + self.lease).as_millis()).unwrap_or(u64::MAX)
    }

    /// A local user was given `token`: written to its resume record, so
    /// that another node can take it, on the calling I/O thread's
    /// connection `con` before the client is told the token (a client that
    /// moves at once must find it there); through the publisher, later,
    /// when Redis does not answer now.
    pub(crate) fn record_token(
        &self,
        con: &mut Option<redis::Connection>,
        nick: &str,
        token: &str,
        tags: bool,
        grace: std::time::Duration,
    ) {
        let Some(value) = self
            .claims
            .lock()
            .get(&nick_key(nick))
            .map(|c| c.value.clone())
        else {
            return;
        };
        let key = record_key(nick);
        let args = vec![
            token.to_owned(),
            value,
            nick.to_owned(),
            if tags { "1" } else { "0" }.to_owned(),
            self.record_ttl_ms(grace).to_string(),
        ];
        if !self.partitioned() && !self.claims_down.load(std::sync::atomic::Ordering::Acquire) {
            if con.is_none() {
                *con = self.connect().ok();
            }
            if let Some(k) = con.as_mut() {
                let done: redis::RedisResult<i64> = redis::cmd("EVAL")
                    .arg(RECORD)
                    .arg(1)
                    .arg(&key)
                    .arg(&args)
                    .query(k);
                if done.is_ok() {
                    return;
                }
                *con = None;
            }
        }
        self.enqueue(Out::Eval {
            script: RECORD,
            keys: vec![key],
            args,
        });
    }

    /// A local user's token is void (it left, or said `/resume off`).
    pub(crate) fn forget_token(&self, nick: &str, token: &str) {
        self.enqueue(Out::Eval {
            script: FORGET,
            keys: vec![record_key(nick)],
            args: vec![token.to_owned()],
        });
    }

    /// Spends `token` for `nick` (see [`TAKE`]) for connection `conn` of
    /// this node, on the calling I/O thread's connection `con`. `None`:
    /// a wrong or spent token, or Redis did not answer.
    pub(crate) fn take(
        &self,
        con: &mut Option<redis::Connection>,
        nick: &str,
        token: &str,
        conn: u64,
    ) -> Option<Taken> {
        if self.partitioned() {
            return None;
        }
        if con.is_none() {
            *con = self.connect().ok();
        }
        let k = con.as_mut()?;
        let got: redis::RedisResult<Option<Vec<String>>> = redis::Script::new(TAKE)
            .key(record_key(nick))
            .key(super::claim_key(nick))
            .key(super::rooms::ROOMS)
            .key(super::rooms::ROOM_NODES)
            .arg(token)
            .arg(&self.node)
            .arg(conn)
            .arg(self.lease.as_millis() as u64)
            .arg(nick_key(nick))
            .invoke(k);
        let got = match got {
            Ok(g) => g?,
            Err(_) => {
                *con = None;
                return None;
            }
        };
        let mut it = got.into_iter();
        let old_node = it.next()?;
        let nick: Arc<str> = Arc::from(it.next()?.as_str());
        let tags = it.next()? == "1";
        let since = it.next()?.parse().ok()?;
        Some(Taken {
            old_node,
            nick,
            tags,
            since,
            rooms: it.collect(),
        })
    }

    /// The room channels of `rooms` this node does not follow yet.
    pub(crate) fn unfollowed(&self, rooms: &[String]) -> Vec<String> {
        let followed = self.followed.lock();
        rooms
            .iter()
            .map(|r| room_channel(r))
            .filter(|ch| !followed.contains(ch))
            .collect()
    }

    /// What user `me` (nick key) missed since message id `floor` (the
    /// client's `since` less the clock skew allowance), read from the
    /// shared history: the public stream's and `rooms`' (room keys)
    /// messages from others, and its own private stream's, in id order, at
    /// most `backlog` (the last ones). `complete` when every stream still
    /// went back to `floor` (or was never trimmed) and no more than
    /// `backlog` came. `None` when Redis did not answer.
    pub(crate) fn missed(
        &self,
        con: &mut Option<redis::Connection>,
        me: &str,
        rooms: &[String],
        floor: u64,
        backlog: usize,
        limit: usize,
    ) -> Option<Missed> {
        if con.is_none() {
            *con = self.connect().ok();
        }
        let k = con.as_mut()?;
        // (conversation, stream); `None`: the user's own private stream,
        // whose entries are each of its own conversation.
        let mut streams: Vec<(Option<Conversation>, String)> = vec![(
            Some(Conversation::Public),
            history_stream(&Conversation::Public),
        )];
        for r in rooms {
            let c = Conversation::room(r);
            let s = history_stream(&c);
            streams.push((Some(c), s));
        }
        streams.push((None, inbox_stream(me)));
        let count = backlog.saturating_add(1);
        let mut pipe = redis::pipe();
        for (_, s) in &streams {
            pipe.cmd("XREVRANGE")
                .arg(s)
                .arg("+")
                .arg("-")
                .arg("COUNT")
                .arg(count);
        }
        let got: Vec<redis::Value> = match pipe.query(k) {
            Ok(g) => g,
            Err(_) => {
                *con = None;
                return None;
            }
        };
        let mut complete = limit > 0;
        let mut out: Vec<(Conversation, Arc<Entry>)> = Vec::new();
        for ((c, _), v) in streams.iter().zip(got) {
            let redis::Value::Array(items) = v else {
                complete = false;
                continue;
            };
            let entries: Vec<Entry> = items.iter().filter_map(super::stream_entry).collect();
            let reached = entries.iter().any(|e| e.tag.id <= floor);
            // A stream shorter than its bound was never trimmed
            // (`XADD ... MAXLEN ~` keeps at least the bound).
            let whole = items.len() < count && items.len() < limit;
            if !reached && !whole {
                complete = false;
            }
            for e in entries.into_iter().filter(|e| e.tag.id > floor) {
                let kind_ok = matches!(
                    e.kind,
                    HistoryKind::Public | HistoryKind::Private | HistoryKind::Room
                );
                let c = match c {
                    // Its own messages are not sent back to it.
                    Some(_) if nick_key(&e.from) == me => continue,
                    Some(c) => c.clone(),
                    None => Conversation::private(&e.from, me),
                };
                if kind_ok {
                    out.push((c, Arc::new(e)));
                }
            }
        }
        out.sort_by_key(|(_, e)| e.tag.id);
        out.dedup_by_key(|(_, e)| e.tag.id);
        if out.len() > backlog {
            complete = false;
            out.drain(..out.len() - backlog);
        }
        Some(Missed {
            entries: out,
            complete,
        })
    }
}
