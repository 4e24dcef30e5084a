//! Reading: bytes from a socket into its framing and its session.

use super::*;

impl Worker {
    pub(super) fn on_readable(&mut self, slot: usize) {
        let closing = match self.conn(slot) {
            Some(c) => c.link.closing.is_some(),
            None => return,
        };
        if closing {
            self.discard_input(slot);
            return;
        }
        if self.quiesced {
            return; // shutting down: nothing more is read
        }
        let now = self.shared().clock.now();
        let mut scratch = std::mem::take(&mut self.scratch);
        let mut budget = READ_BUDGET;
        let (mut received, mut n_lines) = (0u64, 0u64);
        let outcome = loop {
            let Some(c) = self.conn(slot) else {
                break ReadOutcome::Stopped;
            };
            if c.link.closing.is_some() || c.link.out.doomed {
                break ReadOutcome::Stopped;
            }
            if budget == 0 {
                break ReadOutcome::Budget;
            }
            // Paused while one of its files waits for a slow receiver; a
            // piece at a time while it sends files.
            let Some(limit) = c.session.read_allowance() else {
                break ReadOutcome::Drained;
            };
            budget -= 1;
            let want = scratch.len().min(limit);
            match c
                .link
                .stream
                .read(scratch.get_mut(..want).unwrap_or(&mut []))
            {
                Ok(0) => break ReadOutcome::Eof,
                Ok(n) => {
                    received += n as u64;
                    // Deliver what other threads queued for this thread
                    // before handling what was just read: whatever happened
                    // before the client sent these bytes (and was announced
                    // to it by a reply) then reaches it before the replies
                    // to them. This is what makes `/ping` a barrier for
                    // other clients' messages too. One atomic load when the
                    // inbox is empty.
                    if self.inbox_announced() {
                        self.drain_inbox();
                    }
                    let data = scratch.get(..n).unwrap_or(&[]);
                    let (fed, lines) = self.feed(slot, data, now);
                    n_lines += lines;
                    if !fed {
                        break ReadOutcome::Stopped;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break ReadOutcome::Drained,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break ReadOutcome::Failed(e),
            }
        };
        self.scratch = scratch;
        if let Some(s) = self.stats() {
            ThreadStats::add(&s.bytes_received, received);
            ThreadStats::add(&s.lines_received, n_lines);
        }
        let io = &mut self.io;
        if let Some(Some(c)) = self.conns.get_mut(slot) {
            // TLS: the handshake (or a key update) left bytes to send.
            if c.link.stream.wants_write() {
                io.mark(&mut c.link.out, slot);
            }
        }
        match outcome {
            ReadOutcome::Eof if self.hold(slot, now) => {}
            ReadOutcome::Eof => {
                if let Some(c) = self.conn(slot) {
                    if let Some(cl) = c.link.closing.as_mut() {
                        cl.read_closed = true;
                    }
                }
                self.with_session(slot, now, |s, cx| s.close(None, "closed by peer", cx));
                if let Some(cl) = self.conn(slot).and_then(|c| c.link.closing.as_mut()) {
                    cl.read_closed = true;
                }
            }
            ReadOutcome::Failed(e) if crate::server::ws::is_too_big(&e) => {
                // A browser's WebSocket message past its limit: the
                // framing's endless line, answered by the same rule.
                self.with_session(slot, now, |s, cx| s.on_frame(Frame::Overflow, cx));
            }
            ReadOutcome::Failed(_) if self.hold(slot, now) => {}
            ReadOutcome::Failed(e) => {
                let (code, reason) = classify(&e);
                self.with_session(slot, now, |s, cx| s.close(code, &reason, cx));
                self.remove(slot);
            }
            ReadOutcome::Budget => self.again.push(slot),
            ReadOutcome::Stopped => {
                // The session ended (quit, overflow) with bytes perhaps left
                // unread; epoll will not report them again, so look once
                // more (they are read and discarded while closing).
                self.again.push(slot);
            }
            ReadOutcome::Drained => {}
        }
    }

    /// Feeds bytes read from connection `slot` to its framing and session.
    /// Returns whether to keep reading, and the lines handled.
    pub(super) fn feed(&mut self, slot: usize, data: &[u8], now: Instant) -> (bool, u64) {
        let quiesced = self.quiesced;
        self.flush_presence_before(slot);
        let Some(Some(conn)) = self.conns.get_mut(slot) else {
            return (false, 0);
        };
        let heard = conn.session.hears_presence();
        let mut lines = std::mem::replace(&mut conn.link.lines, LineBuffer::new(0, 0));
        let mut n_lines = 0u64;
        let keep = host(&mut self.io, conn, slot, now, |session, cx| {
            if !session.on_bytes(data, cx) {
                return false;
            }
            lines.feed_frames(data, |frame| {
                // Shutting down (the inbox was drained in the middle of a
                // read): what was not handled yet is not handled, so not
                // acknowledged.
                if quiesced {
                    return Next::Stop;
                }
                n_lines += u64::from(matches!(frame, Frame::Line(_)));
                let next = session.on_frame(frame, cx);
                cx.host.settle();
                if cx.host.out.doomed {
                    return Next::Stop;
                }
                next
            });
            session.phase() != Phase::Closed
        });
        if let Some(Some(conn)) = self.conns.get_mut(slot) {
            if conn.link.closing.is_none() && conn.session.phase() != Phase::Closed {
                conn.link.lines = lines;
            }
        }
        self.after_session(slot, heard);
        (keep, n_lines)
    }

    /// Reads and throws away what a closing connection still sends, so
    /// that closing it does not turn into a reset that could destroy the
    /// last lines we sent (a lingering close).
    pub(super) fn discard_input(&mut self, slot: usize) {
        let mut scratch = std::mem::take(&mut self.scratch);
        let mut budget = READ_BUDGET;
        let outcome = loop {
            let Some(c) = self.conn(slot) else {
                break ReadOutcome::Stopped;
            };
            if budget == 0 {
                break ReadOutcome::Budget;
            }
            budget -= 1;
            match c.link.stream.read(&mut scratch) {
                Ok(0) => break ReadOutcome::Eof,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break ReadOutcome::Drained,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break ReadOutcome::Failed(e),
            }
        };
        self.scratch = scratch;
        match outcome {
            ReadOutcome::Eof => {
                let drained = match self.conn(slot) {
                    Some(c) => {
                        if let Some(cl) = c.link.closing.as_mut() {
                            cl.read_closed = true;
                        }
                        c.link.out.is_drained()
                    }
                    None => false,
                };
                if drained {
                    self.remove(slot);
                }
            }
            ReadOutcome::Failed(_) => self.remove(slot),
            ReadOutcome::Budget => self.again.push(slot),
            ReadOutcome::Drained | ReadOutcome::Stopped => {}
        }
    }
}
