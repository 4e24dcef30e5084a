//! Deadlines: registration timeouts, keepalive ticks, the end of a
//! presence tick (`presence.rs`), stalled file receivers and lingering
//! closes.

use super::*;

impl Worker {
    /// Registration timeouts, keepalive, stalled file receivers, and the end
    /// of lingering closes.
    pub(super) fn sweep(&mut self) {
        let ruled = self.shared().clock.now();
        let now = Instant::now();
        if self.presence.deadline().is_some_and(|d| now >= d) {
            self.flush_presence();
        }
        self.stall_sweep(now);
        while let Some(&(d, slot, id)) = self.reg_deadlines.front() {
            if d > ruled {
                break;
            }
            self.reg_deadlines.pop_front();
            let waiting = self
                .conn_id(slot, id)
                .is_some_and(|c| c.session.phase() == Phase::Prompt);
            if waiting {
                self.with_session(slot, ruled, |s, cx| s.on_timer(cx));
            }
        }
        if self.next_keepalive.is_some_and(|t| ruled >= t) {
            self.next_keepalive = self
                .shared()
                .rules
                .load()
                .keepalive_step()
                .and_then(|s| ruled.checked_add(s));
            for slot in 0..self.conns.len() {
                let due = self.conn(slot).is_some_and(|c| {
                    c.session.phase() == Phase::Registered
                        && !c.link.out.doomed
                        && !c.session.is_held()
                });
                if due {
                    self.with_session(slot, ruled, |s, cx| s.on_timer(cx));
                    // Keepalive found the peer gone and the session held it.
                    if self
                        .conn(slot)
                        .is_some_and(|c| c.session.is_held() && !c.link.out.held)
                    {
                        self.let_go_of_socket(slot, ruled);
                    }
                }
            }
        }
        while let Some(&(d, slot, id)) = self.held_deadlines.front() {
            if d > ruled {
                break;
            }
            self.held_deadlines.pop_front();
            if self.held.get(&id) != Some(&d) {
                continue; // resumed since (and perhaps held again)
            }
            self.held.remove(&id);
            let held = self.conn_id(slot, id).is_some_and(|c| c.session.is_held());
            if held
                && self
                    .with_session(slot, ruled, |s, cx| s.on_grace_over(cx))
                    .unwrap_or(false)
            {
                self.remove(slot);
            }
        }
        while let Some(&(d, slot, id)) = self.close_deadlines.front() {
            if d > now {
                break;
            }
            self.close_deadlines.pop_front();
            if self
                .conn_id(slot, id)
                .is_some_and(|c| c.link.closing.is_some())
            {
                self.remove(slot);
            }
        }
        if let Some(stop) = self.stopping {
            if now >= stop {
                self.close_all("server shutting down");
            }
        }
    }

    /// Drops (as slow consumers) the receivers that took no byte for
    /// `file_stall_timeout` while file data waited for them.
    pub(super) fn stall_sweep(&mut self, now: Instant) {
        if self.io.watch.is_empty() {
            return;
        }
        let Some(since) = now.checked_sub(self.shared().cfg.file_stall_timeout) else {
            return;
        };
        let conns = &mut self.conns;
        let kill = &mut self.io.kill;
        self.io.watch.retain(|&(slot, id)| {
            let Some(Some(c)) = conns.get_mut(slot) else {
                return false;
            };
            if c.link.id != id {
                return false;
            }
            match c.link.out.stalled(since) {
                None => false,
                Some(stuck) => {
                    if stuck && !c.link.out.doomed && c.link.closing.is_none() {
                        c.link.out.doomed = true;
                        kill.push((slot, id));
                    }
                    true
                }
            }
        });
    }
}
