//! Connections coming, going and being dropped: a new connection, the end
//! of a session and of its socket, shutdown, slow consumers.

use super::*;

impl Worker {
    pub(super) fn add_conn(
        &mut self,
        stream: TcpStream,
        addr: SocketAddr,
        id: u64,
        reject: Option<ErrorCode>,
        transport: Transport,
    ) {
        let slot = match self.free.pop() {
            Some(i) => i,
            None => {
                self.conns.push(None);
                self.conns.len() - 1
            }
        };
        let shared = Arc::clone(self.shared());
        // A connection to the TLS port gets a rustls session, one from the
        // HTTP port its WebSocket framing (tls.rs).
        let stream = transport.stream(stream, &shared.cfg);
        let registered = stream.and_then(|mut s| {
            match self
                .poll
                .registry()
                .register(&mut s, Token(slot + 1), Interest::READABLE)
            {
                Ok(()) => Ok(s),
                Err(e) => {
                    // Not watched, so never served: answered at once, as a
                    // connection no thread can take is.
                    if let Stream::Plain(raw) = s {
                        refuse_now(raw, false, &shared, ErrorCode::ConnectionAborted);
                    }
                    Err(e)
                }
            }
        });
        let stream = match registered {
            Ok(s) => s,
            Err(e) => {
                self.free.push(slot);
                forget(
                    &shared,
                    id,
                    addr,
                    reject,
                    &format!("cannot watch the socket: {e}"),
                );
                return;
            }
        };
        let now = shared.clock.now();
        let rules = shared.rules.load();
        let lines = LineBuffer::new(rules.framing_limit(), rules.max_discard_bytes);
        let mut conn = Conn {
            session: Session::new(&rules, now),
            link: Link::new(stream, id, addr, lines, reject.is_none()),
        };
        self.io.pool.fill(&mut conn.link.out.buf);
        conn.link.out.buf.extend_from_slice(&shared.hello);
        self.io.mark(&mut conn.link.out, slot);
        let deadline = conn.session.registration_deadline(&rules);
        if let Some(c) = self.conns.get_mut(slot) {
            *c = Some(conn);
        }
        self.live += 1;
        if self.stopping.is_some() {
            self.tell_shutdown(slot, now);
        } else if let Some(code) = reject {
            self.with_session(slot, now, |s, cx| s.fail(code, None, "server full", cx));
        } else if let Some(d) = deadline {
            self.reg_deadlines.push_back((d, slot, id));
        }
    }

    pub(super) fn mark_dirty(&mut self, slot: usize) {
        let io = &mut self.io;
        if let Some(Some(c)) = self.conns.get_mut(slot) {
            io.mark(&mut c.link.out, slot);
        }
    }

    /// Drops connection `slot` (its session is ended first if it was not).
    /// If bytes queued for it could not all be written (a client that does
    /// not read, at its close deadline), the socket is reset rather than
    /// closed: a normal close would leave the kernel holding (up to
    /// megabytes of) unsent data for a peer that is not reading, long
    /// after we are done with it.
    pub(super) fn remove(&mut self, slot: usize) {
        let open = match self.conn(slot) {
            Some(c) => c.session.phase() != Phase::Closed,
            None => return,
        };
        if open {
            let now = self.shared().clock.now();
            self.with_session(slot, now, |s, cx| {
                s.close(Some(ErrorCode::ConnectionAborted), "dropped", cx)
            });
        }
        let Some(Some(mut c)) = self.conns.get_mut(slot).map(Option::take) else {
            return;
        };
        let _ = self.poll.registry().deregister(&mut c.link.stream);
        c.link.out.uncount(&self.io.shared.meter);
        // Bytes still in our queue: the peer is not reading, so free them
        // now (a reset) rather than leave an orphaned socket trickling
        // them out for minutes. A peer dropped for not reading (a slow
        // consumer, a stalled file receiver) is reset also when only the
        // kernel still holds bytes for it: with a tiny receive window on
        // loopback it would get them at the pace of zero-window probes.
        // So is a peer that took bytes, while closing, too slowly for the
        // kernel to deliver what it still holds within a few seconds (a file
        // receiver that stopped reading, at the shutdown): its end of stream
        // (its client's `Disconnected`) would otherwise come minutes later.
        // Any other peer gets a normal close, and the kernel delivers what
        // we wrote (it may be reading slowly, as during a shutdown: a
        // reset would destroy lines already acknowledged to their senders).
        let link = &c.link;
        if link.out.queued() > 0
            || (link.out.doomed && unacked_bytes(&link.stream) > 0)
            || drains_too_slowly(&link.stream, link.closing.as_deref())
        {
            reset_on_close(&c.link.stream);
        }
        drop(c);
        self.free.push(slot);
        self.live = self.live.saturating_sub(1);
    }

    /// The connection in `slot` dropped without a `quit`: holds it if its
    /// session says so ([`Session::on_dropped`]: a client that said
    /// `/resume on`), for the grace period: the socket is closed and no
    /// longer watched, what is routed to it is thrown away, and the
    /// nickname and rooms stay. Returns false when it is not held (the
    /// caller closes it as usual).
    pub(super) fn hold(&mut self, slot: usize, now: Instant) -> bool {
        let open = self
            .conn(slot)
            .is_some_and(|c| c.link.closing.is_none() && !c.link.out.doomed);
        if !open
            || !self
                .with_session(slot, now, |s, cx| s.on_dropped(cx))
                .unwrap_or(false)
        {
            return false;
        }
        self.let_go_of_socket(slot, now)
    }

    /// A session just held (`hold`, or keepalive finding its peer gone):
    /// the socket is closed and no longer watched, what is queued and what
    /// comes for it is thrown away, and its grace period starts at `now`.
    pub(super) fn let_go_of_socket(&mut self, slot: usize, now: Instant) -> bool {
        let shared = Arc::clone(self.shared());
        let registry = self.poll.registry();
        let Some(Some(c)) = self.conns.get_mut(slot) else {
            return false;
        };
        let _ = registry.deregister(&mut c.link.stream);
        let _ = c.link.stream.shutdown_both();
        c.link.writable = false;
        c.link.out.held = true;
        c.link.out.discard_all(&shared.meter);
        let until = now
            .checked_add(shared.rules.load().resume_grace)
            .unwrap_or(now);
        self.held.insert(c.link.id, until);
        self.held_deadlines.push_back((until, slot, c.link.id));
        true
    }

    /// The session in `slot` presented a held connection's token: its
    /// socket, and what it was not yet sent, go to that connection's
    /// thread ([`Cmd::Adopt`]); this connection ends here without a
    /// `LEFT` (it never registered). Returns false when the connection in
    /// `slot` is not moving.
    pub(super) fn hand_over(&mut self, slot: usize) -> bool {
        let Some(at) = self.io.moving.iter().position(|m| {
            self.conns
                .get(slot)
                .and_then(Option::as_ref)
                .is_some_and(|c| c.link.id == m.id)
        }) else {
            return false;
        };
        let mv = self.io.moving.swap_remove(at);
        let Some(Some(mut c)) = self.conns.get_mut(slot).map(Option::take) else {
            return false;
        };
        let shared = Arc::clone(self.shared());
        let _ = self.poll.registry().deregister(&mut c.link.stream);
        let pending = c.link.out.take_pending(&shared.meter);
        c.link.out.uncount(&shared.meter);
        if std::mem::take(&mut c.link.counted) {
            shared.connections.fetch_sub(1, Ordering::AcqRel);
            shared.release_ip(c.link.addr.ip());
        }
        self.free.push(slot);
        self.live = self.live.saturating_sub(1);
        shared.events.push(ServerEvent::Disconnected {
            id: c.link.id,
            addr: c.link.addr,
            nick: None,
            code: None,
            reason: "resumed a held connection".to_owned(),
        });
        let Conn { link, .. } = c;
        let Some(inbox) = shared.inboxes.get(mv.to.thread) else {
            return true;
        };
        inbox.push(Cmd::Adopt {
            slot: mv.to.slot,
            id: mv.to.id,
            stream: link.stream,
            pending,
            since: mv.since,
            label: mv.label,
        });
        inbox.notify();
        true
    }

    /// A connection that said `/resume` comes to connection `id` (slot
    /// `slot`), held or not: it takes the socket (a live one's old socket
    /// is closed), its queue starts afresh with what the new connection
    /// was not yet sent, and its session answers `RESUMED` and the missed
    /// messages. If the connection is gone meanwhile (put off the server),
    /// the new socket gets `ERROR 24` and is closed.
    pub(super) fn adopt(
        &mut self,
        slot: usize,
        id: u64,
        mut stream: Stream,
        mut pending: Vec<u8>,
        since: Option<u64>,
        label: Option<Box<str>>,
    ) {
        let now = self.shared().clock.now();
        let shared = Arc::clone(self.shared());
        let alive = self.conn_id(slot, id).is_some_and(|c| {
            c.session.phase() == Phase::Registered && c.link.closing.is_none() && !c.link.out.doomed
        });
        if !alive || self.stopping.is_some() {
            ServerLine::Error {
                code: ErrorCode::ResumeRefused.as_i32().unsigned_abs(),
                subject: None,
                text: ErrorCode::ResumeRefused.text(),
            }
            .encode(&mut pending);
            let _ = io::Write::write(&mut stream, &pending);
            let _ = io::Write::flush(&mut stream);
            return;
        }
        self.held.remove(&id);
        let registry = self.poll.registry();
        let Some(Some(c)) = self.conns.get_mut(slot) else {
            return;
        };
        if !c.session.is_held() {
            let _ = registry.deregister(&mut c.link.stream);
            let _ = c.link.stream.shutdown_both();
        }
        c.link.stream = stream;
        let watched = registry.register(&mut c.link.stream, Token(slot + 1), Interest::READABLE);
        c.link.writable = false;
        let rules = shared.rules.load();
        c.link.lines = LineBuffer::new(rules.framing_limit(), rules.max_discard_bytes);
        c.link.out.discard_all(&shared.meter);
        c.link.out.held = false;
        self.io.pool.fill(&mut c.link.out.buf);
        c.link.out.buf.extend_from_slice(&pending);
        self.with_session(slot, now, |s, cx| s.on_resumed(since, label.as_deref(), cx));
        self.mark_dirty(slot);
        if watched.is_err() {
            // Never served: held again until the grace period ends.
            self.hold(slot, now);
        } else {
            self.again.push(slot);
        }
    }

    pub(super) fn close_all(&mut self, reason: &str) {
        let now = self.shared().clock.now();
        for slot in 0..self.conns.len() {
            if self.conn(slot).is_some() {
                self.with_session(slot, now, |s, cx| {
                    s.close(Some(ErrorCode::ConnectionAborted), reason, cx)
                });
                self.remove(slot);
            }
        }
    }

    /// Ends the session in `slot` because the server shuts down: `ERROR 03`
    /// (PROTOCOL.md, "Leaving and shutdown"), no `LEFT` for the others.
    fn tell_shutdown(&mut self, slot: usize, now: Instant) {
        self.with_session(slot, now, |s, cx| {
            s.fail(
                ErrorCode::ConnectionAborted,
                Some("server shutting down"),
                "server shutting down",
                cx,
            )
        });
    }

    pub(super) fn begin_shutdown(&mut self) {
        if self.stopping.is_some() {
            return;
        }
        self.stopping = Some(Instant::now() + SHUTDOWN_FLUSH);
        self.io.stopping = true;
        self.reg_deadlines.clear();
        let now = self.shared().clock.now();
        for slot in 0..self.conns.len() {
            let Some(c) = self.conn(slot) else {
                continue;
            };
            if c.session.phase() != Phase::Closed && !c.link.out.doomed {
                self.tell_shutdown(slot, now);
            }
            // Closing ones are dropped as soon as their output is written
            // and their peer has closed its side. What they sent while this
            // thread was quiesced is read (and thrown away) now.
            self.mark_dirty(slot);
            self.again.push(slot);
        }
    }

    /// Drops the clients that went over their queue limit: what was queued
    /// for them is thrown away (except the rest of a line or frame already
    /// partly written), `ERROR 03` is queued, and the socket is closed.
    pub(super) fn process_kills(&mut self) {
        if self.io.kill.is_empty() {
            return;
        }
        let kills = std::mem::take(&mut self.io.kill);
        let limit = self.shared().cfg.max_queue_bytes;
        let detail = format!("slow consumer, over {limit} bytes queued");
        for &(slot, id) in &kills {
            self.drop_slow(slot, id, &detail);
        }
        if self.io.kill.is_empty() {
            let mut kills = kills;
            kills.clear();
            self.io.kill = kills;
        }
    }

    /// Drops slow consumer `slot` (connection `id`): what was queued for it
    /// is thrown away (except the rest of a line or frame already partly
    /// written), `ERROR 03` with `detail` is queued, and the socket is
    /// closed.
    fn drop_slow(&mut self, slot: usize, id: u64, detail: &str) {
        let now = self.shared().clock.now();
        let shared = Arc::clone(self.shared());
        {
            let Some(c) = self.conn_id(slot, id) else {
                return;
            };
            if c.link.closing.is_some() {
                return;
            }
            c.link.out.doomed = true;
            c.link.out.cut();
            let text = crate::protocol::error_text(ErrorCode::ConnectionAborted, Some(detail));
            ServerLine::Error {
                code: 3,
                subject: None,
                text: &*text,
            }
            .encode(&mut c.link.out.buf);
            c.link.out.settle_count(&shared.meter);
        }
        if let Some(s) = self.stats() {
            ThreadStats::add(&s.slow_consumers, 1);
        }
        self.mark_dirty(slot);
        self.with_session(slot, now, |s, cx| {
            s.close(Some(ErrorCode::ConnectionAborted), "slow consumer", cx)
        });
    }

    /// Keeps the server under `max_total_queue_bytes`: while it is over,
    /// the connection holding the most bytes is dropped as a slow consumer
    /// (`ERROR 03`), biggest first across the threads. Each thread
    /// publishes the most one of its connections holds; a thread whose
    /// biggest holder is not the biggest of all wakes the thread that has
    /// it, which does the same when it runs (so the values compared are
    /// fresh where it matters). Costs nothing while under the budget.
    /// Returns whether it dropped any.
    pub(super) fn keep_budget(&mut self) -> bool {
        let mut dropped = false;
        let shared = Arc::clone(self.shared());
        let budget = shared.cfg.max_total_queue_bytes;
        while shared.meter.total() > budget {
            let biggest = self
                .conns
                .iter()
                .enumerate()
                .filter_map(|(slot, c)| c.as_ref().map(|c| (slot, c)))
                .filter(|(_, c)| c.link.closing.is_none() && !c.link.out.doomed)
                .map(|(slot, c)| (c.link.out.queued(), slot, c.link.id))
                .max();
            let held = biggest.map_or(0, |b| b.0);
            let me = self.io.idx;
            if let Some(i) = shared.inboxes.get(me) {
                i.stats.biggest.store(held, Ordering::Relaxed);
            }
            let other = shared
                .inboxes
                .iter()
                .enumerate()
                .filter(|(t, i)| *t != me && i.is_alive())
                .map(|(t, i)| (i.stats.biggest.load(Ordering::Relaxed), t))
                .max();
            if let Some((_, t)) = other.filter(|o| o.0 > held) {
                if let Some(i) = shared.inboxes.get(t) {
                    i.notify();
                }
                break;
            }
            let Some((_, slot, id)) = biggest.filter(|b| b.0 > 0) else {
                break;
            };
            let detail = format!("slow consumer, server over {budget} bytes queued in all");
            self.drop_slow(slot, id, &detail);
            dropped = true;
        }
        dropped
    }
}

/// A connection that never became one of this thread's: it no longer
/// counts (unless it was refused, and so never counted), and its
/// `Disconnected` event goes out with code 03.
pub(super) fn forget(
    shared: &Shared,
    id: u64,
    addr: SocketAddr,
    reject: Option<ErrorCode>,
    reason: &str,
) {
    if reject.is_none() {
        shared.connections.fetch_sub(1, Ordering::AcqRel);
        shared.release_ip(addr.ip());
    }
    shared.events.push(ServerEvent::Disconnected {
        id,
        addr,
        nick: None,
        code: Some(ErrorCode::ConnectionAborted),
        reason: reason.to_owned(),
    });
}
