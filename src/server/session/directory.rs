//! The nickname registry: who is online and where (PROTOCOL.md,
//! "Registration"). A plain data structure: the host keeps one per server
//! behind a lock, and publishes each [`Change`] to every connection while
//! it still holds that lock, so that every connection sees the changes in
//! the same order.
//!
//! Changes are numbered. A newcomer's `USERS` list is a snapshot taken at
//! its own change; the `JOIN`/`LEFT`/`NICK` lines it gets afterwards are
//! exactly the changes numbered after it, with no duplicate and no gap.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::Peer;
use crate::error::ErrorCode;
use crate::protocol::{nick_fold, nick_key, ServerLine};

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

    /// Where `nick` (any case, or a look-alike: same [`nick_key`]) is
    /// online.
    pub fn lookup(&self, nick: &str) -> Option<Peer> {
        self.get(&nick_key(nick)).map(|e| e.peer)
    }

    /// Appends `USERS <n> :<nick> ...` for everyone online, labeled.
    pub fn users(&self, label: Option<&str>, out: &mut Vec<u8>) {
        ServerLine::Users(self.nicks().collect()).encode_labeled(label, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
