//! File transfers between users of different nodes (PROTOCOL.md,
//! "Clusters"), with the flow control of one server
//! (`session/transfer.rs`) stretched over Redis.
//!
//! - **Data.** The sender's node publishes each frame of a transfer with a
//!   remote receiver (`FILE`, every `CHUNK`, `FILEEND`/`FILEFAIL`) as a
//!   [`Bus::FileFrame`]: on the receiver's node channel for a private
//!   file, on the public channel for a file to everyone. It goes through
//!   the node's one publisher, so it keeps its place among the sender's
//!   other messages.
//! - **Numbers.** Transfer numbers are each node's own. A receiving node
//!   gives each (sending node, number) a number of its own ([`Incoming`])
//!   and rewrites the frames' number, so two nodes' transfers never mix
//!   on a client.
//! - **Flow control.** The sender's [`Flow`] holds, for each receiving
//!   node, the bytes published to it and not yet reported written
//!   ([`Flow::charge_remote`]). The receiving node delivers the frames
//!   through a flow of its own ([`Flow::relay`]), whose receivers' credits
//!   are given back as their sockets take the bytes; after each release it
//!   reports, on the sender's node channel, how many bytes its slowest
//!   receiver has taken ([`Bus::FileProgress`]), and the sender's node gives
//!   that much back. So the sender is read only as fast as the slowest
//!   receiver anywhere takes the file, and neither Redis nor a node holds
//!   more than the high-water mark (at most 512 KiB) of it per node.
//! - **Faults.** A private file's receiver gone on its node (left, or no
//!   binary frames) is reported ([`Bus::FileGone`]) and the sender gets
//!   `FILESTOP` on its next chunk, as on one server. A node gone (said
//!   `BYE`, or silent for two thirds of the lease: crashed, or cut off by a
//!   partition) releases its shares at the sender's node (a private file
//!   to it stops the same way), and at a receiving node every transfer
//!   from it ends with `FILEFAIL` (the sender left). So nothing waits
//!   longer than the lease. A gap in a node's numbers on a channel fails
//!   the transfers relayed from it on that channel (`FILEFAIL`, and
//!   `FGONE` to the sender's node): a file with a hole is no file. Frames
//!   of a transfer nobody here relays are answered `FGONE` once, so that
//!   the sender's node never waits on this node for them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use super::wire::Bus;
use super::{node_channel, Cluster, Out, ALL};
use crate::protocol::ServerLine;
use crate::server::session::{Flow, Peer, Rules, Target};

/// Which frame of a transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FrameKind {
    Header,
    Chunk,
    /// `FILEEND` or `FILEFAIL`: the last frame.
    End,
}

/// The kind of `frame` (a file frame the sessions encode) and the frame
/// with its transfer number replaced by `id` (`None`: keep it). `None`
/// for anything that is not a file frame.
pub(crate) fn file_frame(frame: &[u8], id: Option<u64>) -> Option<(FrameKind, Vec<u8>)> {
    let nl = frame.iter().position(|b| *b == b'\n')?;
    let line = std::str::from_utf8(frame.get(..nl)?).ok()?;
    let parsed = ServerLine::parse(line).ok()?;
    let (kind, line) = match parsed {
        ServerLine::File {
            from,
            id: old,
            size,
            private,
            name,
        } => (
            FrameKind::Header,
            ServerLine::File {
                from,
                id: id.unwrap_or(old),
                size,
                private,
                name,
            },
        ),
        ServerLine::Chunk { id: old, size } => (
            FrameKind::Chunk,
            ServerLine::Chunk {
                id: id.unwrap_or(old),
                size,
            },
        ),
        ServerLine::FileEnd { id: old } => (
            FrameKind::End,
            ServerLine::FileEnd {
                id: id.unwrap_or(old),
            },
        ),
        ServerLine::FileFail { id: old, reason } => (
            FrameKind::End,
            ServerLine::FileFail {
                id: id.unwrap_or(old),
                reason,
            },
        ),
        _ => return None,
    };
    if id.is_none() {
        return Some((kind, Vec::new()));
    }
    let mut out = Vec::with_capacity(frame.len() + 16);
    line.encode(&mut out);
    out.extend_from_slice(frame.get(nl + 1..)?);
    Some((kind, out))
}

/// The key of node `node`'s share in a [`Flow`] (among connection ids,
/// which count up from 1: the top bit keeps them apart).
fn node_key(node: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in node.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    h | (1 << 63)
}

/// One receiving node's share of an outgoing transfer.
#[derive(Debug)]
struct Share {
    key: u64,
    /// Bytes published to it (its frames as this node encoded them).
    charged: u64,
    /// Bytes it reported taken.
    acked: u64,
    /// It will get no more (its node is gone, or its receiver).
    gone: bool,
}

/// A transfer of a local sender with receivers on other nodes.
#[derive(Debug)]
struct Outgoing {
    flow: Weak<Flow>,
    /// Where its frames are published.
    channel: String,
    /// The receiver's nickname (a private file), or `None` (everyone).
    to: Option<Arc<str>>,
    /// Bytes of its `CHUNK` frames published so far.
    sent: u64,
    /// By node id.
    shares: HashMap<String, Share>,
}

/// How far a relayed transfer got, for its reports to the sender's node.
struct Progress {
    /// The sender's node and its number for the transfer.
    node: String,
    id: u64,
    /// Bytes of its `CHUNK` frames received (as the sender's node encoded
    /// them; the sender's count, so one lost on the way counts too).
    received: AtomicU64,
    /// The last `FPROG` sent.
    reported: AtomicU64,
    /// `FGONE` was sent.
    gone_told: AtomicBool,
    /// The publisher's queue.
    out: std::sync::mpsc::Sender<Out>,
}

impl Progress {
    fn send(&self, msg: &Bus<'_>) {
        let mut body = Vec::with_capacity(48);
        msg.encode_body(&mut body);
        let _ = self.out.send(Out::Publish {
            channel: node_channel(&self.node),
            msg: body,
            numbered: msg.numbered(),
        });
    }

    /// After a release of `flow`: report how far the slowest receiver got
    /// (once per new figure), and a private receiver gone (once).
    fn report(&self, flow: &Flow) {
        if let Some(text_only) = flow.gone() {
            if !self.gone_told.swap(true, Ordering::AcqRel) {
                self.send(&Bus::FileGone {
                    id: self.id,
                    text_only,
                });
            }
        }
        let done = self
            .received
            .load(Ordering::SeqCst)
            .saturating_sub(flow.slowest());
        if self.reported.fetch_max(done, Ordering::AcqRel) < done {
            self.send(&Bus::FileProgress {
                id: self.id,
                bytes: done,
            });
        }
    }
}

/// A transfer of another node's user relayed to this node's users.
#[derive(Clone)]
pub(crate) struct Incoming {
    /// This node's number for it.
    pub local: u64,
    pub target: Target,
    pub flow: Arc<Flow>,
    progress: Arc<Progress>,
}

/// The cluster's file transfers on this node: outgoing ones with remote
/// receivers, by transfer number; relayed ones, by (node, its number).
#[derive(Default)]
pub(crate) struct Files {
    outgoing: HashMap<u64, Outgoing>,
    incoming: HashMap<(String, u64), Incoming>,
    /// Other nodes' transfers whose frames come here with nobody to
    /// relay them to, already answered `FGONE` (bounded: emptied when
    /// full).
    refused: std::collections::HashSet<(String, u64)>,
}

/// Most entries of [`Files::refused`].
const MAX_REFUSED: usize = 1024;

impl Cluster {
    /// A frame of a local sender's transfer `flow` for `to` (a [`REMOTE`]
    /// peer) or everyone (`None`): published for the other nodes, charged
    /// to each receiving node's share (see the module doc).
    ///
    /// [`REMOTE`]: super::REMOTE
    pub(crate) fn file_frame(&self, to: Option<Peer>, frame: &[u8], flow: &Arc<Flow>) {
        let Some((kind, _)) = file_frame(frame, None) else {
            return;
        };
        let id = flow.id();
        let mut files = self.files.lock();
        let (channel, nick, sent) = match kind {
            FrameKind::Header => {
                let private = to.and_then(|p| self.remote_user(p));
                if self.partitioned() || (to.is_some() && private.is_none()) {
                    // The other nodes' users are out of reach (a file to
                    // everyone goes to this node's users only), or the
                    // receiver left meanwhile: as on one server, the
                    // sender's next chunk is answered `FILESTOP`.
                    if to.is_some() {
                        flow.receiver_gone();
                    }
                    return;
                }
                let (channel, nick, nodes) = match private {
                    Some((node, nick)) => (node_channel(&node), Some(nick), vec![node]),
                    None => {
                        let nodes = self.remote.lock().nodes.keys().cloned().collect();
                        (ALL.to_owned(), None, nodes)
                    }
                };
                let shares = nodes
                    .into_iter()
                    .map(|n| {
                        let key = node_key(&n);
                        let share = Share {
                            key,
                            charged: 0,
                            acked: 0,
                            gone: false,
                        };
                        (n, share)
                    })
                    .collect();
                files.outgoing.insert(
                    id,
                    Outgoing {
                        flow: Arc::downgrade(flow),
                        channel: channel.clone(),
                        to: nick.clone(),
                        sent: 0,
                        shares,
                    },
                );
                (channel, nick, 0)
            }
            FrameKind::Chunk => {
                let Some(o) = files.outgoing.get_mut(&id) else {
                    return;
                };
                let n = frame.len() as u64;
                let mut live = false;
                for s in o.shares.values_mut().filter(|s| !s.gone) {
                    s.charged += n;
                    flow.charge_remote(n, s.key);
                    live = true;
                }
                if !live {
                    return;
                }
                o.sent += n;
                (o.channel.clone(), o.to.clone(), o.sent)
            }
            FrameKind::End => {
                let Some(o) = files.outgoing.remove(&id) else {
                    return;
                };
                (o.channel, o.to, o.sent)
            }
        };
        drop(files);
        self.send(
            channel,
            &Bus::FileFrame {
                id,
                to: nick.as_deref(),
                sent,
                frame,
            },
        );
    }

    /// `node` reports its receivers of this node's transfer `id` took the
    /// first `bytes` bytes: give them back to the sender's flow.
    pub(crate) fn file_progress(&self, node: &str, id: u64, bytes: u64) {
        let mut files = self.files.lock();
        let Some(o) = files.outgoing.get_mut(&id) else {
            return;
        };
        let Some(s) = o.shares.get_mut(node).filter(|s| !s.gone) else {
            return;
        };
        let done = bytes.min(s.charged);
        if done <= s.acked {
            return;
        }
        let delta = done - s.acked;
        s.acked = done;
        let (key, flow) = (s.key, o.flow.upgrade());
        drop(files);
        if let Some(f) = flow {
            f.release_remote(delta, key);
        }
    }

    /// `node` will take no more of this node's transfer `id` (its private
    /// receiver left, `text_only`: takes no binary frames; or `node` is
    /// gone).
    pub(crate) fn file_gone(&self, node: &str, id: u64, text_only: bool) {
        let mut files = self.files.lock();
        let Some(o) = files.outgoing.get_mut(&id) else {
            return;
        };
        let private = o.to.is_some();
        let Some(s) = o.shares.get_mut(node).filter(|s| !s.gone) else {
            return;
        };
        s.gone = true;
        let (key, owed) = (s.key, s.charged - s.acked);
        s.acked = s.charged;
        let flow = o.flow.upgrade();
        if private {
            files.outgoing.remove(&id);
        }
        drop(files);
        let Some(f) = flow else {
            return;
        };
        if private {
            if text_only {
                f.receiver_text_only();
            } else {
                f.receiver_gone();
            }
        }
        f.release_remote(owed, key);
    }

    /// `node` is gone (said `BYE`, or went silent): this node's transfers
    /// to it stop counting on it (a private one stops); its transfers
    /// relayed here are forgotten and returned, to fail for their
    /// receivers (`node/inbound/files.rs`).
    pub(crate) fn files_node_gone(&self, node: &str) -> Vec<Incoming> {
        let (out, incoming): (Vec<u64>, Vec<Incoming>) = {
            let mut files = self.files.lock();
            let out = files
                .outgoing
                .iter()
                .filter(|(_, o)| o.shares.get(node).is_some_and(|s| !s.gone))
                .map(|(id, _)| *id)
                .collect();
            let keys: Vec<(String, u64)> = files
                .incoming
                .keys()
                .filter(|(n, _)| n == node)
                .cloned()
                .collect();
            let incoming = keys
                .iter()
                .filter_map(|k| files.incoming.remove(k))
                .collect();
            (out, incoming)
        };
        for id in out {
            self.file_gone(node, id, false);
        }
        incoming
    }

    /// Messages from `node` on the public channel (`public`) or this
    /// node's own were lost (a gap in its numbers): its transfers relayed
    /// here on that channel may have lost frames, so they are forgotten
    /// here, their senders told (`FGONE`: a private file stops, a file to
    /// everyone goes on without this node), and returned, to fail for
    /// their receivers.
    pub(crate) fn files_lost(&self, node: &str, public: bool) -> Vec<Incoming> {
        let lost: Vec<Incoming> = {
            let mut files = self.files.lock();
            let keys: Vec<(String, u64)> = files
                .incoming
                .iter()
                .filter(|((n, _), inc)| {
                    n == node && matches!(inc.target, Target::All { .. }) == public
                })
                .map(|(k, _)| k.clone())
                .collect();
            keys.iter()
                .filter_map(|k| files.incoming.remove(k))
                .collect()
        };
        for inc in &lost {
            self.file_unknown(node, inc.progress.id, false);
        }
        lost
    }

    /// Starts relaying transfer `id` of `node` to `target` on this node,
    /// as this node's transfer `local` under `rules`.
    pub(crate) fn file_incoming(
        &self,
        node: &str,
        id: u64,
        target: Target,
        local: u64,
        rules: &Rules,
    ) -> Incoming {
        let progress = Arc::new(Progress {
            node: node.to_owned(),
            id,
            received: AtomicU64::new(0),
            reported: AtomicU64::new(0),
            gone_told: AtomicBool::new(false),
            out: self.out.clone(),
        });
        let hook = Arc::clone(&progress);
        let flow = Arc::new(Flow::relay(
            local,
            rules,
            Arc::new(move |f: &Flow| hook.report(f)),
        ));
        let inc = Incoming {
            local,
            target,
            flow,
            progress,
        };
        self.files
            .lock()
            .incoming
            .insert((node.to_owned(), id), inc.clone());
        inc
    }

    /// The relayed transfer `id` of `node`, if this node relays it;
    /// `end`: its last frame, so it is forgotten.
    pub(crate) fn file_relayed(&self, node: &str, id: u64, end: bool) -> Option<Incoming> {
        let mut files = self.files.lock();
        let key = (node.to_owned(), id);
        if end {
            files.incoming.remove(&key)
        } else {
            files.incoming.get(&key).cloned()
        }
    }

    /// A frame of `node`'s transfer `id` came and nobody here relays it
    /// (its receiver was not here, this node missed its header, or
    /// forgot it after a gap): tells `node` once (`FGONE`), so that it
    /// stops counting on this node; `end`: its last frame, nothing more to
    /// answer.
    pub(crate) fn file_unknown(&self, node: &str, id: u64, end: bool) {
        let key = (node.to_owned(), id);
        let first = {
            let mut files = self.files.lock();
            if end {
                files.refused.remove(&key);
                return;
            }
            if files.refused.len() >= MAX_REFUSED {
                files.refused.clear();
            }
            files.refused.insert(key)
        };
        if first {
            self.file_refused(node, id);
        }
    }

    /// Tells `node` that its transfer `id` has no receiver here (any more).
    pub(crate) fn file_refused(&self, node: &str, id: u64) {
        self.send(
            node_channel(node),
            &Bus::FileGone {
                id,
                text_only: false,
            },
        );
    }
}

impl Incoming {
    /// The sender's node had published `sent` bytes of the transfer's
    /// `CHUNK` frames when it published the one just handed to this node's
    /// I/O threads (after it was charged here).
    pub(crate) fn received(&self, sent: u64) {
        self.progress.received.fetch_max(sent, Ordering::SeqCst);
        self.flow.relay_check();
    }

    /// Reports progress now (after frames that charged nothing).
    pub(crate) fn report(&self) {
        self.progress.report(&self.flow);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_renumbered() {
        let f = b"FILE ana 7 11 :notas finais.txt\n";
        let (k, out) = file_frame(f, Some(123)).expect("a file frame");
        assert_eq!(k, FrameKind::Header);
        assert_eq!(out, b"FILE ana 123 11 :notas finais.txt\n");
        let f = b"FILE ana 7 11 private :x\n";
        let (_, out) = file_frame(f, Some(8)).expect("a file frame");
        assert_eq!(out, b"FILE ana 8 11 private :x\n");
        let f = b"CHUNK 7 3\n\n\x00\xff\n";
        let (k, out) = file_frame(f, Some(9)).expect("a chunk");
        assert_eq!(k, FrameKind::Chunk);
        assert_eq!(out, b"CHUNK 9 3\n\n\x00\xff\n");
        let (k, out) = file_frame(b"FILEEND 7\n", Some(1)).expect("an end");
        assert_eq!((k, &out[..]), (FrameKind::End, &b"FILEEND 1\n"[..]));
        let (k, out) = file_frame(b"FILEFAIL 7 :o remetente saiu\n", Some(2)).expect("a fail");
        assert_eq!(
            (k, &out[..]),
            (FrameKind::End, &b"FILEFAIL 2 :o remetente saiu\n"[..])
        );
        assert!(file_frame(b"BYTES ana 3\nabc\n", Some(1)).is_none());
        assert!(file_frame(b"CHUNK 7 3", Some(1)).is_none());
        assert_eq!(node_key("00ff") >> 63, 1);
    }
}
