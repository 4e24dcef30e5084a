//! Writing: what is queued for a connection into its socket.

use super::*;

/// Bytes written to one connection per turn of the loop at most; what
/// remains goes out on the next turn, after the other connections of the
/// thread had theirs. A reader catching up on megabytes of backlog would
/// otherwise hold its thread (and every honest client on it) for as long
/// as its socket keeps taking bytes. 256 KiB is a few socket buffers'
/// worth: large enough that gathering writes stay big, small enough that a
/// turn over a thousand busy connections stays in milliseconds.
const WRITE_BUDGET: usize = 256 * 1024;

impl Worker {
    pub(super) fn flush_dirty(&mut self) {
        let mut dirty = std::mem::take(&mut self.io.dirty);
        for &slot in &dirty {
            self.flush_conn(slot);
        }
        dirty.clear();
        if self.io.dirty.is_empty() && dirty.capacity() <= 4096 {
            self.io.dirty = dirty;
        }
    }

    /// Writes what is queued for connection `slot`, in as few `write` calls
    /// as the socket allows; gives the buffer back when it drains; asks for
    /// `WRITABLE` only while bytes remain; finishes closing connections.
    pub(super) fn flush_conn(&mut self, slot: usize) {
        let io = &mut self.io;
        let Some(Some(c)) = self.conns.get_mut(slot) else {
            return;
        };
        let link = &mut c.link;
        link.out.dirty = false;
        let (sent, mut failed) = link.out.write_to(&mut link.stream, WRITE_BUDGET);
        link.out.settle_count(&io.shared.meter);
        if failed.is_none() && sent >= WRITE_BUDGET as u64 && !link.out.is_drained() {
            // The socket may take more: next turn (no readiness will say so).
            io.write_again.push(slot);
        }
        let mut remove = false;
        if failed.is_none() {
            if link.out.is_drained() && !link.stream.wants_write() {
                // Drained: the buffer goes back to the thread's pool, so an
                // idle client holds none.
                io.pool.put(link.out.take_buffer());
                io.pool.put_segs(link.out.take_segs());
                if link.writable {
                    link.writable = false;
                    if let Err(e) = self.poll.registry().reregister(
                        &mut link.stream,
                        Token(slot + 1),
                        Interest::READABLE,
                    ) {
                        failed = Some(e);
                    }
                }
                if let (None, Some(cl)) = (&failed, link.closing.as_mut()) {
                    if !cl.write_shut {
                        cl.write_shut = true;
                        let _ = link.stream.shutdown_write();
                    }
                    // Even when shutting down, wait for the peer's end (or
                    // the deadline): closing with its bytes unread would
                    // send a reset that can destroy the lines just written.
                    remove = cl.read_closed;
                }
            } else if !link.writable {
                link.writable = true;
                if let Err(e) = self.poll.registry().reregister(
                    &mut link.stream,
                    Token(slot + 1),
                    Interest::READABLE | Interest::WRITABLE,
                ) {
                    failed = Some(e);
                }
            }
        }
        let sent = sent + std::mem::take(&mut io.sent_early);
        self.sent_since_trim += sent;
        if let Some(s) = self.stats() {
            ThreadStats::add(&s.bytes_sent, sent);
        }
        if let Some(e) = failed {
            let now = self.shared().clock.now();
            if self.hold(slot, now) {
                return;
            }
            let (code, reason) = classify(&e);
            self.with_session(slot, now, |s, cx| s.close(code, &reason, cx));
            self.remove(slot);
        } else if remove {
            self.remove(slot);
        }
    }
}
