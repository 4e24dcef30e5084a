//! Another node's file transfer delivered to this node's users
//! (`cluster/files.rs` has the design): each frame renumbered with this
//! node's number for the transfer and queued like a local sender's frame,
//! through the transfer's relay flow, whose releases report progress back.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::Inbound;
use crate::protocol::ServerLine;
use crate::server::cluster::files::{file_frame, FrameKind, Incoming};
use crate::server::cluster::wire::Bus;
use crate::server::cluster::{node_channel, Cluster, ALL, REMOTE};
use crate::server::conn::Chunk;
use crate::server::inbox::Cmd;
use crate::server::session::{Flow, Target};
use crate::server::shared::Shared;

/// The `FILEFAIL` reason receivers get when the sender's node is gone.
const SENDER_GONE: &str = "o remetente saiu (the sender left)";
/// The `FILEFAIL` reason receivers get when frames of the file were lost
/// between the nodes.
const FRAMES_LOST: &str =
    "partes do arquivo se perderam entre os servidores (part of the file was lost between servers)";

/// `node` is gone (said `BYE`, or went silent: crashed, or cut off): this
/// node's transfers to it stop counting on it, and its transfers to this
/// node's users end with `FILEFAIL` for them.
pub(in crate::server::node) fn files_node_gone(shared: &Shared, c: &Cluster, node: &str) {
    for inc in c.files_node_gone(node) {
        fail(shared, &inc, SENDER_GONE);
    }
}

/// Ends relayed transfer `inc` for its receivers with `FILEFAIL`.
fn fail(shared: &Shared, inc: &Incoming, reason: &str) {
    let mut bytes = Vec::with_capacity(64);
    ServerLine::FileFail {
        id: inc.local,
        reason,
    }
    .encode(&mut bytes);
    deliver_now(shared, inc.target, bytes, &inc.flow);
}

/// Puts a frame of relayed transfer `flow` straight into the inboxes of
/// the threads of `target` (from a thread with no outbox: the keeper).
fn deliver_now(shared: &Shared, target: Target, bytes: Vec<u8>, flow: &Arc<Flow>) {
    let bytes = Chunk::new(bytes, &shared.meter);
    let threads = match target {
        Target::All { .. } => 0..shared.inboxes.len(),
        Target::One(p) => p.thread..p.thread.saturating_add(1),
    };
    for t in threads {
        let Some(inbox) = shared.inboxes.get(t).filter(|i| i.is_alive()) else {
            continue;
        };
        inbox.push(Cmd::Frame {
            to: target,
            bytes: bytes.clone(),
            credit: Some(flow.charge(0)),
        });
        inbox.notify();
    }
}

impl Inbound {
    /// Messages from `node` on `channel` were lost: the transfers it
    /// relayed here on that channel fail (a file with a hole is no file).
    pub(super) fn files_lost(&mut self, shared: &Shared, c: &Cluster, node: &str, channel: &str) {
        let public = channel == ALL;
        if !public && channel != node_channel(&c.node) {
            return;
        }
        let lost = c.files_lost(node, public);
        if lost.is_empty() {
            return;
        }
        // What was collected for them goes first.
        self.flush(shared);
        for inc in &lost {
            fail(shared, inc, FRAMES_LOST);
        }
    }

    /// A frame of another node's transfer ([`Bus::FileFrame`] from
    /// `node`), for a user here (or everyone).
    pub(super) fn file_frame(&mut self, shared: &Shared, c: &Cluster, node: &str, msg: Bus<'_>) {
        let Bus::FileFrame {
            id,
            to,
            sent,
            frame,
        } = msg
        else {
            return;
        };
        let Some((kind, _)) = file_frame(frame, None) else {
            return;
        };
        let inc = match kind {
            FrameKind::Header => {
                let target = match to {
                    None => Target::All {
                        seq: shared.change_seq.load(Ordering::Acquire) + 1,
                        except: 0,
                    },
                    Some(nick) => match shared.lookup(nick).filter(|p| p.thread != REMOTE) {
                        Some(p) => Target::One(p),
                        None => {
                            c.file_unknown(node, id, false);
                            return;
                        }
                    },
                };
                let local = shared.transfers.fetch_add(1, Ordering::Relaxed) + 1;
                c.file_incoming(node, id, target, local, &shared.rules.load())
            }
            FrameKind::Chunk | FrameKind::End => {
                match c.file_relayed(node, id, kind == FrameKind::End) {
                    Some(inc) => inc,
                    None => {
                        c.file_unknown(node, id, kind == FrameKind::End);
                        return;
                    }
                }
            }
        };
        let Some((_, bytes)) = file_frame(frame, Some(inc.local)) else {
            return;
        };
        let charged = kind == FrameKind::Chunk;
        self.outbox
            .frame(inc.target, bytes, Some(&inc.flow), charged, &shared.inboxes);
        if charged {
            // Counted once charged, so that a report never runs ahead of
            // what the receivers took.
            inc.received(sent);
        } else {
            inc.report();
        }
        // At once, not with the next 64 messages or the next pause: the
        // sender may be held back until these bytes are taken.
        self.flush(shared);
    }
}
