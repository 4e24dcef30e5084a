//! What one I/O thread sends to the others during a burst, batched.
//!
//! Public messages from one burst are coalesced into one buffer (encoded
//! once into a [`Chunk`] shared by every thread and every receiver's
//! queue), private messages to one
//! thread travel in one command per burst, and each target thread's inbox
//! gets everything at once and one wake-up, at the end of the burst or
//! before a registry change (so that what a client sent before renaming or
//! leaving is queued before the change's broadcast).

use std::sync::Arc;

use super::conn::{Chunk, Meter};
use super::inbox::{Cmd, Inbox};
use super::session::{Flow, Peer, Target};
use crate::protocol::{ServerLine, Tag};

/// Public messages from one burst share one broadcast buffer up to this size.
const MAX_BROADCAST_BATCH: usize = 16 * 1024;
/// Initial capacity of a broadcast or private-message batch buffer.
const BATCH_START: usize = 4 * 1024;

/// Room messages being coalesced (see [`Outbox::room_message`]).
struct RoomBatch {
    /// The room's members when the batch began (a snapshot shared with the
    /// thread's room cache).
    members: Arc<[Peer]>,
    /// The sender, who gets none of it.
    except: u64,
    plain: Vec<u8>,
    tagged: Vec<u8>,
}

/// The commands one thread has collected for every thread (itself
/// included) and not yet handed over.
pub(crate) struct Outbox {
    /// Index of the owning thread.
    idx: usize,
    pending: Vec<Vec<Cmd>>,
    to_wake: Vec<bool>,
    /// Public messages being coalesced: (seq, except, bytes, the same
    /// lines tagged).
    bcast: Option<(u64, u64, Vec<u8>, Vec<u8>)>,
    /// Room messages being coalesced (consecutive messages of one sender to
    /// one room with the same members).
    room_batch: Option<RoomBatch>,
    batch_limit: usize,
    /// The server's count of queued bytes (the shared chunks made here).
    meter: Arc<Meter>,
}

impl Outbox {
    pub(crate) fn new(idx: usize, threads: usize, max_queue: usize, meter: Arc<Meter>) -> Outbox {
        Outbox {
            idx,
            pending: (0..threads).map(|_| Vec::new()).collect(),
            to_wake: vec![false; threads],
            bcast: None,
            room_batch: None,
            batch_limit: MAX_BROADCAST_BATCH.min((max_queue / 8).max(1)),
            meter,
        }
    }

    /// Whether nothing waits to be handed over or woken.
    pub(crate) fn is_idle(&self) -> bool {
        self.bcast.is_none()
            && self.room_batch.is_none()
            && self.pending.iter().all(Vec::is_empty)
            && !self.to_wake.iter().any(|w| *w)
    }

    /// `PUBLIC from :text` for everyone registered before change `seq`,
    /// except connection `except`, coalesced with the public messages just
    /// before it.
    pub(crate) fn public(&mut self, seq: u64, except: u64, from: &str, text: &str, tag: Tag) {
        let reuse = matches!(&self.bcast,
            Some((s, e, b, _)) if *s == seq && *e == except && b.len() < self.batch_limit);
        if !reuse {
            self.finish_bcast();
        }
        let (_, _, buf, tagged) = self.bcast.get_or_insert_with(|| {
            (
                seq,
                except,
                Vec::with_capacity(BATCH_START),
                Vec::with_capacity(BATCH_START),
            )
        });
        let line = ServerLine::Public { from, text };
        line.encode(buf);
        line.encode_tagged(None, Some(tag), tagged);
    }

    /// A room's line for its members `to` (grouped here by thread), after
    /// whatever was collected before (so the sender's order is kept).
    pub(crate) fn room(
        &mut self,
        line: Vec<u8>,
        tagged: Option<Vec<u8>>,
        to: &[Peer],
        about: Option<u64>,
    ) {
        if to.is_empty() {
            return;
        }
        self.finish_bcast();
        let bytes = Chunk::new(line, &self.meter);
        let tagged = tagged.map(|t| Chunk::new(t, &self.meter));
        let mut by_thread: Vec<Vec<(usize, u64)>> = vec![Vec::new(); self.pending.len()];
        for p in to {
            if let Some(list) = by_thread.get_mut(p.thread) {
                list.push((p.slot, p.id));
            }
        }
        for (t, list) in by_thread.into_iter().enumerate() {
            if list.is_empty() {
                continue;
            }
            if let (Some(p), Some(w)) = (self.pending.get_mut(t), self.to_wake.get_mut(t)) {
                p.push(Cmd::RoomCast {
                    bytes: bytes.clone(),
                    tagged: tagged.clone(),
                    to: list,
                    about,
                    messages: false,
                });
                *w = true;
            }
        }
    }

    /// `ROOM room from :text` for the members `members` of a room except
    /// connection `except` (the sender), coalesced with the room messages
    /// just before it when they went to the same members (the same
    /// snapshot), like public messages: one shared buffer and one command
    /// per thread for a burst.
    pub(crate) fn room_message(
        &mut self,
        members: &Arc<[Peer]>,
        except: u64,
        line: &ServerLine<&str>,
        tag: Tag,
    ) {
        let reuse = matches!(&self.room_batch,
            Some(b) if Arc::ptr_eq(&b.members, members) && b.except == except
                && b.plain.len() < self.batch_limit);
        if !reuse {
            self.finish_bcast();
        }
        let b = self.room_batch.get_or_insert_with(|| RoomBatch {
            members: Arc::clone(members),
            except,
            plain: Vec::with_capacity(BATCH_START),
            tagged: Vec::with_capacity(BATCH_START),
        });
        line.encode(&mut b.plain);
        line.encode_tagged(None, Some(tag), &mut b.tagged);
    }

    /// Ends the room-message batch: one shared buffer (and its tagged
    /// twin), one command per thread with members.
    fn finish_room(&mut self) {
        let Some(b) = self.room_batch.take() else {
            return;
        };
        let bytes = Chunk::new(b.plain, &self.meter);
        let tagged = Chunk::new(b.tagged, &self.meter);
        let mut by_thread: Vec<Vec<(usize, u64)>> = vec![Vec::new(); self.pending.len()];
        for p in b.members.iter().filter(|p| p.id != b.except) {
            if let Some(list) = by_thread.get_mut(p.thread) {
                list.push((p.slot, p.id));
            }
        }
        for (t, list) in by_thread.into_iter().enumerate() {
            if list.is_empty() {
                continue;
            }
            if let (Some(p), Some(w)) = (self.pending.get_mut(t), self.to_wake.get_mut(t)) {
                p.push(Cmd::RoomCast {
                    bytes: bytes.clone(),
                    tagged: Some(tagged.clone()),
                    to: list,
                    about: None,
                    messages: true,
                });
                *w = true;
            }
        }
    }

    /// Puts connection `to` off the server (a server operator's `/kick`).
    pub(crate) fn kick(&mut self, to: Peer, by: &str) {
        self.finish_bcast();
        if let (Some(p), Some(w)) = (
            self.pending.get_mut(to.thread),
            self.to_wake.get_mut(to.thread),
        ) {
            p.push(Cmd::Kick {
                slot: to.slot,
                id: to.id,
                by: Box::from(by),
            });
            *w = true;
        }
    }

    /// Ends the public-message batch: one shared buffer, one command per
    /// thread.
    fn finish_bcast(&mut self) {
        self.finish_room();
        let Some((seq, except, bytes, tagged)) = self.bcast.take() else {
            return;
        };
        let bytes = Chunk::new(bytes, &self.meter);
        let tagged = Chunk::new(tagged, &self.meter);
        for (p, w) in self.pending.iter_mut().zip(self.to_wake.iter_mut()) {
            p.push(Cmd::Broadcast {
                bytes: bytes.clone(),
                tagged: Some(tagged.clone()),
                seq,
                except,
                presence: false,
            });
            *w = true;
        }
    }

    /// `PRIVATE from :text` for connection `to`, after any batched
    /// broadcast (so the sender's order is kept), in the same command as
    /// the private messages just before it to that thread.
    pub(crate) fn private(&mut self, to: Peer, from: &str, text: &str, tag: Tag) {
        self.finish_bcast();
        let Some(p) = self.pending.get_mut(to.thread) else {
            return;
        };
        if !matches!(p.last(), Some(Cmd::Deliver { bytes, .. }) if bytes.len() < MAX_BROADCAST_BATCH)
        {
            // Sized for a burst up front: growing it line by line (realloc
            // and copy) took 17% of the server's time in the private
            // benchmark.
            p.push(Cmd::Deliver {
                bytes: Vec::with_capacity(BATCH_START),
                to: Vec::with_capacity(BATCH_START / 64),
            });
        }
        if let Some(Cmd::Deliver { bytes, to: whom }) = p.last_mut() {
            let start = bytes.len();
            let line = ServerLine::Private { from, text };
            line.encode(bytes);
            let mid = bytes.len();
            line.encode_tagged(None, Some(tag), bytes);
            whom.push((to.slot, to.id, mid - start, bytes.len() - mid));
        }
        if let Some(w) = self.to_wake.get_mut(to.thread) {
            *w = true;
        }
    }

    /// A frame for the threads of `to`, after whatever was collected before
    /// (so the sender's order is kept). With `flow`, each thread is charged
    /// the frame's size while it waits in its inbox (`charged`), or nothing
    /// (headers and ends are small). Threads that have ended get nothing.
    pub(crate) fn frame(
        &mut self,
        to: Target,
        frame: Vec<u8>,
        flow: Option<&Arc<Flow>>,
        charged: bool,
        inboxes: &[Inbox],
    ) {
        self.finish_bcast();
        let len = if charged { frame.len() as u64 } else { 0 };
        let bytes = Chunk::new(frame, &self.meter);
        let threads = match to {
            Target::All { .. } => 0..self.pending.len(),
            Target::One(p) => p.thread..p.thread.saturating_add(1),
        };
        for t in threads {
            let alive = inboxes.get(t).is_some_and(Inbox::is_alive);
            let (Some(p), true) = (self.pending.get_mut(t), alive) else {
                continue;
            };
            p.push(Cmd::Frame {
                to,
                bytes: bytes.clone(),
                credit: flow.map(|f| f.charge(len)),
            });
            if let Some(w) = self.to_wake.get_mut(t) {
                *w = true;
            }
        }
    }

    /// Every thread is to be woken (a registry change went to all inboxes).
    pub(crate) fn wake_all(&mut self) {
        self.to_wake.iter_mut().for_each(|w| *w = true);
    }

    /// Moves the collected commands into the inboxes (the wakes come later,
    /// in [`Outbox::send_wakes`]).
    pub(crate) fn flush(&mut self, inboxes: &[Inbox]) {
        self.finish_bcast();
        for (p, inbox) in self.pending.iter_mut().zip(inboxes) {
            if !p.is_empty() {
                inbox.push_all(p);
            }
        }
    }

    /// Wakes the threads that were given something (this thread only marks
    /// its own inbox: it drains it before it sleeps).
    pub(crate) fn send_wakes(&mut self, inboxes: &[Inbox]) {
        for (t, (w, inbox)) in self.to_wake.iter_mut().zip(inboxes).enumerate() {
            if !std::mem::take(w) {
                continue;
            }
            if t == self.idx {
                inbox.mark();
            } else {
                inbox.notify();
            }
        }
    }
}
