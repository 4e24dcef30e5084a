//! The users of other nodes, as this node knows them: entries of the local
//! [`crate::server::session::Directory`] with [`REMOTE`] peers, kept
//! in step with what the other nodes say (`JOIN`, `LEFT`, `NICK`, `USERS`)
//! and forgotten with their node.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use crate::protocol::nick_key;
use crate::server::cluster::wire::Bus;
use crate::server::cluster::{Cluster, NodeInfo, RemoteUser, ALL, REMOTE};
use crate::server::session::Peer;
use crate::server::shared::Shared;

impl Cluster {
    /// Notes that `node` was heard from.
    pub(super) fn touch(&self, node: &str) {
        let mut r = self.remote.lock();
        match r.nodes.get_mut(node) {
            Some(n) => n.last_seen = Instant::now(),
            None => {
                r.nodes.insert(node.to_owned(), NodeInfo::heard_now());
            }
        }
    }

    /// The peer of `nick`, a user of `node`, registered here if it is new.
    /// `None` when its nickname is someone else's here: the claims in Redis
    /// decide who keeps it, and the loser's node renames its user (a `NICK`
    /// that brings it here then).
    pub(super) fn ensure_remote(&self, shared: &Shared, node: &str, nick: &str) -> Option<Peer> {
        let key = nick_key(nick);
        let mut r = self.remote.lock();
        let info = r
            .nodes
            .entry(node.to_owned())
            .or_insert_with(NodeInfo::heard_now);
        if let Some(u) = info.users.get(&key) {
            return Some(u.peer);
        }
        let peer = Peer {
            thread: REMOTE,
            slot: 0,
            id: shared.next_conn_id(),
        };
        let Ok(stored) = shared.register_remote(nick, peer) else {
            r.refused.insert((node.to_owned(), nick.to_owned()));
            return None;
        };
        info.users.insert(
            key,
            RemoteUser {
                nick: Arc::clone(&stored),
                peer,
            },
        );
        r.refused.remove(&(node.to_owned(), nick.to_owned()));
        r.by_id.insert(peer.id, (node.to_owned(), stored));
        drop(r);
        wake_all(shared);
        Some(peer)
    }

    /// `nick`, a user of `node`, left.
    pub(super) fn drop_remote(&self, shared: &Shared, node: &str, nick: &str) {
        let mut r = self.remote.lock();
        r.refused.remove(&(node.to_owned(), nick.to_owned()));
        let Some(u) = r
            .nodes
            .get_mut(node)
            .and_then(|n| n.users.remove(&nick_key(nick)))
        else {
            return;
        };
        r.by_id.remove(&u.peer.id);
        shared.leave_remote(&u.nick, u.peer);
        drop(r);
        wake_all(shared);
    }

    /// A user of `node` changed nickname from `old` to `new`.
    pub(super) fn rename_remote(&self, shared: &Shared, node: &str, old: &str, new: &str) {
        let mut r = self.remote.lock();
        r.refused.remove(&(node.to_owned(), old.to_owned()));
        let user = r
            .nodes
            .get_mut(node)
            .and_then(|n| n.users.remove(&nick_key(old)));
        let Some(u) = user else {
            drop(r);
            // Not known here under its old name (refused for a collision,
            // or never heard of): it comes in under its new one.
            self.ensure_remote(shared, node, new);
            return;
        };
        match shared.rename(&u.nick, new, u.peer) {
            Ok(stored) => {
                if let Some(n) = r.nodes.get_mut(node) {
                    n.users.insert(
                        nick_key(new),
                        RemoteUser {
                            nick: Arc::clone(&stored),
                            peer: u.peer,
                        },
                    );
                }
                r.by_id.insert(u.peer.id, (node.to_owned(), stored));
            }
            Err(_) => {
                // Its new name is someone else's here: it is gone from
                // this node's view until the claims settle it.
                r.by_id.remove(&u.peer.id);
                shared.leave_remote(&u.nick, u.peer);
            }
        }
        drop(r);
        wake_all(shared);
    }

    /// `node` said who its users are now: add the new ones, drop the
    /// ones it no longer has.
    pub(super) fn reconcile(&self, shared: &Shared, node: &str, nicks: &[&str]) {
        let keep: HashSet<String> = nicks.iter().map(|n| nick_key(n)).collect();
        let stale: Vec<Arc<str>> = self
            .remote
            .lock()
            .nodes
            .get(node)
            .map(|n| {
                n.users
                    .iter()
                    .filter(|(k, _)| !keep.contains(*k))
                    .map(|(_, u)| Arc::clone(&u.nick))
                    .collect()
            })
            .unwrap_or_default();
        for nick in stale {
            self.drop_remote(shared, node, &nick);
        }
        self.remote
            .lock()
            .refused
            .retain(|(n, k)| n != node || keep.contains(&nick_key(k)));
        for nick in nicks {
            self.ensure_remote(shared, node, nick);
        }
    }

    /// Forgets `node` and its users (it said `BYE`, or went silent).
    pub(crate) fn forget_node(&self, shared: &Shared, node: &str) {
        let mut r = self.remote.lock();
        r.refused.retain(|(n, _)| n != node);
        let Some(info) = r.nodes.remove(node) else {
            return;
        };
        for u in info.users.values() {
            r.by_id.remove(&u.peer.id);
            shared.leave_remote(&u.nick, u.peer);
        }
        drop(r);
        super::inbound::files_node_gone(shared, self, node);
        wake_all(shared);
    }

    /// Tries again to list the other nodes' users that were refused for a
    /// nickname held here (see `Remote::refused`).
    pub(super) fn retry_refused(&self, shared: &Shared) {
        let refused: Vec<(String, String)> = self.remote.lock().refused.iter().cloned().collect();
        for (node, nick) in refused {
            self.ensure_remote(shared, &node, &nick);
        }
    }

    /// This node's users' nicknames now.
    pub(super) fn local_nicks(&self) -> Vec<Arc<str>> {
        self.claims
            .lock()
            .values()
            .map(|c| Arc::clone(&c.nick))
            .collect()
    }

    /// Tells every node this node's users, and asks for theirs.
    pub(super) fn announce(&self) {
        let nicks = self.local_nicks();
        let list: Vec<&str> = nicks.iter().map(|n| &**n).collect();
        self.send(ALL.to_owned(), &Bus::Users(list));
        self.send(ALL.to_owned(), &Bus::Sync);
    }
}

/// Wakes every I/O thread (a registry change was put in their inboxes).
pub(super) fn wake_all(shared: &Shared) {
    for inbox in &shared.inboxes {
        inbox.notify();
    }
}
