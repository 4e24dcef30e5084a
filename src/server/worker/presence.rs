//! Presence coalescing (PROTOCOL.md, "Presence"): the `JOIN`, `LEFT` and
//! `NICK` broadcasts that reach this thread within one tick (50 ms,
//! [`PRESENCE_TICK`]; longer on a thread with thousands of listeners,
//! [`TICK_PER_RECEIVER`])
//! go to each receiver as one `CHANGES` line instead of one line each.
//!
//! Why: with presence on, n clients registering make n(n-1)/2 lines, one
//! per join per client online (10,000 clients: 50 million lines, 51 s and
//! 57.6 s of server CPU with 8 handshakes in flight). Gathered per tick, a
//! receiver gets one line per tick with every change of that tick: the
//! names are still told (that is the meaning of presence), the per-line
//! costs (a queue append, a line header, a client wake-up) are not paid
//! once per name.
//!
//! The rules, all here:
//! - A change that arrives when nothing is pending and no change was
//!   delivered on this thread within the last tick goes out at once, as
//!   its single line: one join in a quiet chat looks and times exactly as
//!   before. (A change told to nobody here, such as the first client's own
//!   join, starts no tick.)
//! - Later changes within the tick wait for its end and then go out
//!   together, in the order the registry numbered them (the order is the
//!   same for every thread, [`crate::server::shared`]).
//! - Nothing overtakes a pending change: before any other line is queued to
//!   a connection of this thread (a public or private message, a frame, the
//!   shutdown, or anything a registered session answers, such as `PONG`),
//!   the pending changes are delivered first. So a `PUBLIC` from a newcomer
//!   still comes after its `JOIN`, and `/ping` stays a barrier.
//! - Each receiver gets exactly the changes it got before: those numbered
//!   after its own registration, none about itself (its own `NICK` is its
//!   reply), and only while its presence is on. A user who joins and leaves
//!   within one tick is therefore told as both, `JOIN` then `LEFT`, in one
//!   line: nothing is dropped or merged, so a client that applies the
//!   changes in order ends with the same list as before.

use super::*;
use crate::protocol::PresenceChange;
use crate::server::conn::Chunk;

/// How long changes are gathered after one was delivered, at least. 50 ms
/// is below what a person notices on a "joined" notice, and long enough
/// that a storm (thousands of registrations per second) becomes 20 lines
/// per second per receiver instead of thousands.
pub(crate) const PRESENCE_TICK: Duration = Duration::from_millis(50);

/// What each receiver on the thread adds to the tick. Every tick costs one
/// socket write per receiver, and on loopback that write is the whole cost
/// (93% of the server's CPU in `send` during a 10,000-client storm, about
/// 5-7 µs each): 40 µs per receiver keeps a thread's presence writes near
/// 25,000 a second, a sixth of a core, however many listen. With 1,250
/// receivers on a thread the tick is still 50 ms; with 5,000 it is 200 ms,
/// while the chat has 10,000 people in it.
const TICK_PER_RECEIVER: Duration = Duration::from_micros(40);

/// The longest tick, however many receivers.
const MAX_TICK: Duration = Duration::from_secs(1);

/// One registry change waiting for the end of the tick.
struct Pending {
    /// The change's number (see `Cmd::Broadcast`).
    seq: u64,
    /// The connection the change is about (not told).
    except: u64,
    change: PresenceChange<Box<str>>,
}

/// The changes of the current tick, and when it ends.
#[derive(Default)]
pub(crate) struct PresenceBatch {
    pending: Vec<Pending>,
    /// Changes arriving before this instant wait; after it, the first one
    /// goes out at once.
    quiet_at: Option<Instant>,
}

impl PresenceBatch {
    /// When the pending changes are due, if there are any.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        if self.pending.is_empty() {
            None
        } else {
            self.quiet_at
        }
    }
}

impl Worker {
    /// The current tick: [`PRESENCE_TICK`], longer with many receivers
    /// ([`TICK_PER_RECEIVER`]).
    fn presence_tick(&self) -> Duration {
        let per =
            TICK_PER_RECEIVER.saturating_mul(u32::try_from(self.presence_on).unwrap_or(u32::MAX));
        per.clamp(PRESENCE_TICK, MAX_TICK)
    }

    /// A `JOIN`/`LEFT`/`NICK` broadcast (`line`, one encoded line) for this
    /// thread: delivered now or gathered (see the module's rules).
    pub(super) fn on_presence(&mut self, line: Chunk, seq: u64, except: u64) {
        if self.presence_on == 0 {
            return; // presence: nobody here listens
        }
        let now = Instant::now();
        let quiet = self.presence.quiet_at.is_none_or(|t| now >= t);
        if self.presence.pending.is_empty() && quiet {
            if self.deliver_presence(&line, seq, except) {
                self.presence.quiet_at = Some(now + self.presence_tick());
            }
            return;
        }
        // The broadcast carries the line encoded once by the registry; it
        // is read back with the one parser of server lines rather than
        // widening the inbox command. Our own encoding always reads back;
        // if it did not, the line would still go out, unbatched, in order.
        let text = std::str::from_utf8(&line)
            .unwrap_or("")
            .trim_end_matches('\n');
        let change = match ServerLine::parse(text) {
            Ok(ServerLine::Join { nick }) => PresenceChange::Join(nick.into()),
            Ok(ServerLine::Left { nick }) => PresenceChange::Left(nick.into()),
            Ok(ServerLine::Nick { old, new }) => PresenceChange::Nick {
                old: old.into(),
                new: new.into(),
            },
            _ => {
                self.flush_presence();
                self.deliver_presence(&line, seq, except);
                self.presence.quiet_at = Some(now + self.presence_tick());
                return;
            }
        };
        self.presence.pending.push(Pending {
            seq,
            except,
            change,
        });
    }

    /// Delivers the pending changes now (their tick ended, or something
    /// else is about to be queued behind them).
    pub(super) fn flush_presence(&mut self) {
        if self.presence.pending.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut self.presence.pending);
        if self.presence_on == 0 {
            return;
        }
        // One encoding for every receiver that gets all of them (all but
        // those the tick's changes are about or that registered within it).
        let all = encode(pending.iter());
        let first_seq = pending.first().map_or(0, |p| p.seq);
        let io = &mut self.io;
        let mut told = false;
        for (slot, c) in self.conns.iter_mut().enumerate() {
            let Some(Conn { session, link }) = c else {
                continue;
            };
            if !session.hears_presence() || link.out.doomed {
                continue;
            }
            let (id, reg_seq) = (link.id, link.reg_seq);
            let own;
            let bytes: &[u8] = if reg_seq < first_seq && pending.iter().all(|p| p.except != id) {
                &all
            } else {
                own = encode(pending.iter().filter(|p| p.seq > reg_seq && p.except != id));
                &own
            };
            if bytes.is_empty() {
                continue;
            }
            io.pool.fill(&mut link.out.buf);
            link.out.buf.extend_from_slice(bytes);
            io.after_append(&mut link.out, &mut link.stream, slot, id);
            told = true;
        }
        if told {
            self.presence.quiet_at = Some(Instant::now() + self.presence_tick());
        }
    }

    /// Delivers one change's line to every connection of this thread that
    /// hears presence, registered before it and is not the one it is about.
    /// Returns whether anyone was told.
    fn deliver_presence(&mut self, line: &[u8], seq: u64, except: u64) -> bool {
        let io = &mut self.io;
        let mut told = false;
        for (slot, c) in self.conns.iter_mut().enumerate() {
            let Some(Conn { session, link }) = c else {
                continue;
            };
            if !session.hears_presence()
                || link.out.doomed
                || link.reg_seq >= seq
                || link.id == except
            {
                continue;
            }
            io.pool.fill(&mut link.out.buf);
            link.out.buf.extend_from_slice(line);
            io.after_append(&mut link.out, &mut link.stream, slot, link.id);
            told = true;
        }
        told
    }
}

/// The line for a receiver of `changes`: nothing for none, the single line
/// for one, `CHANGES` for several.
fn encode<'a>(changes: impl Iterator<Item = &'a Pending>) -> Vec<u8> {
    let list: Vec<PresenceChange<&str>> = changes
        .map(|p| match &p.change {
            PresenceChange::Join(n) => PresenceChange::Join(&**n),
            PresenceChange::Left(n) => PresenceChange::Left(&**n),
            PresenceChange::Nick { old, new } => PresenceChange::Nick {
                old: &**old,
                new: &**new,
            },
        })
        .collect();
    let mut out = Vec::new();
    match list.len() {
        0 => {}
        1 => {
            if let Some(one) = list.into_iter().next() {
                one.into_line().encode(&mut out);
            }
        }
        _ => ServerLine::Changes(list).encode(&mut out),
    }
    out
}
