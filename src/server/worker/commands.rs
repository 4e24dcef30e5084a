//! What other threads (and the acceptor, and `Server::shutdown`) send an
//! I/O thread through its inbox.

use super::*;
use crate::server::conn::Chunk;
use crate::server::session::{deliver_to, Delivery};

impl Worker {
    /// Runs the commands in this thread's inbox. Returns false when there
    /// were none.
    pub(super) fn drain_inbox(&mut self) -> bool {
        let mut cmds = std::mem::take(&mut self.inbox_buf);
        let took = match self.shared().inboxes.get(self.io.idx) {
            Some(inbox) => inbox.take(&mut cmds),
            None => false,
        };
        for cmd in cmds.drain(..) {
            self.handle_cmd(cmd);
        }
        if cmds.capacity() > 4096 {
            cmds = Vec::new();
        }
        self.inbox_buf = cmds;
        took
    }

    pub(super) fn inbox_announced(&self) -> bool {
        self.shared()
            .inboxes
            .get(self.io.idx)
            .is_some_and(|i| i.announced())
    }

    pub(super) fn handle_cmd(&mut self, cmd: Cmd) {
        // Whatever else reaches a connection goes behind the presence
        // changes gathered before it (`presence.rs`).
        let gathered = matches!(
            cmd,
            Cmd::Broadcast { presence: true, .. } | Cmd::NewConn { .. } | Cmd::Resume { .. }
        );
        if !gathered {
            self.flush_presence();
        }
        match cmd {
            Cmd::NewConn {
                stream,
                addr,
                id,
                reject,
                transport,
            } => self.add_conn(stream, addr, id, reject, transport),
            Cmd::Broadcast {
                bytes,
                tagged,
                seq,
                except,
                presence,
            } => {
                if presence {
                    self.on_presence(bytes, seq, except);
                    return;
                }
                let io = &mut self.io;
                let mut receivers = 0u64;
                for (slot, c) in self.conns.iter_mut().enumerate() {
                    let Some(Conn { session, link }) = c else {
                        continue;
                    };
                    let wanted = if presence {
                        session.hears_presence()
                    } else {
                        session.phase() == Phase::Registered
                    };
                    if !wanted || link.out.doomed || link.reg_seq >= seq || link.id == except {
                        continue;
                    }
                    let bytes = match &tagged {
                        Some(t) if session.wants_tags() => t,
                        _ => &bytes,
                    };
                    io.pool.fill_segs(&mut link.out, bytes.len());
                    link.out.push_shared(bytes);
                    io.after_append(&mut link.out, &mut link.stream, slot, link.id);
                    receivers += 1;
                }
                if receivers > 0 {
                    // For `ServerStats::deliveries`: the batch holds one
                    // line per public message.
                    let lines = bytes.iter().filter(|b| **b == b'\n').count() as u64;
                    if let Some(s) = self.stats() {
                        ThreadStats::add(&s.deliveries, lines * receivers);
                    }
                }
            }
            Cmd::Deliver { bytes, to } => {
                let mut start = 0usize;
                for (slot, id, plain, tagged) in to {
                    let mid = start + plain;
                    let end = mid + tagged;
                    let (plain, tagged) = (
                        bytes.get(start..mid).unwrap_or(&[]),
                        bytes.get(mid..end).unwrap_or(&[]),
                    );
                    start = end;
                    let io = &mut self.io;
                    let Some(Some(Conn { session, link })) = self.conns.get_mut(slot) else {
                        crate::server::node::forward_moved(&io.shared, id, tagged);
                        continue;
                    };
                    let line = if session.wants_tags() { tagged } else { plain };
                    let here =
                        link.id == id && session.phase() == Phase::Registered && !link.out.doomed;
                    if !here || link.out.held {
                        // Its user may have resumed on another node.
                        crate::server::node::forward_moved(&io.shared, id, tagged);
                    }
                    if here {
                        io.pool.fill(&mut link.out.buf);
                        link.out.buf.extend_from_slice(line);
                        io.after_append(&mut link.out, &mut link.stream, slot, id);
                        if let Some(s) = io.stats() {
                            ThreadStats::add(&s.deliveries, 1);
                        }
                    }
                }
            }
            Cmd::Frame { to, bytes, credit } => {
                // Receivers take their own share of the frames the thread
                // was charged for (the chunks); headers and ends are free.
                let flow = credit
                    .as_ref()
                    .filter(|c| c.bytes() > 0)
                    .map(|c| Arc::clone(c.flow()));
                // Every frame of a transfer carries its flow (headers and
                // ends with no bytes charged): what each receiver gets of
                // it is the session's rule (binary capability, receivers
                // taken off a slow transfer).
                let transfer = credit.as_ref().map(|c| c.flow());
                let io = &mut self.io;
                match to {
                    Target::All { seq, except } => {
                        for (slot, c) in self.conns.iter_mut().enumerate() {
                            let Some(Conn { session, link }) = c else {
                                continue;
                            };
                            if session.phase() == Phase::Registered
                                && !link.out.doomed
                                && link.reg_seq < seq
                                && link.id != except
                            {
                                let id = link.id;
                                match deliver_to(session, id, &bytes, transfer) {
                                    Delivery::Frame => io.deliver_frame(
                                        &mut link.out,
                                        &mut link.stream,
                                        slot,
                                        id,
                                        &bytes,
                                        flow.as_ref(),
                                    ),
                                    Delivery::Line(line) => {
                                        let line = Chunk::new(line, &io.shared.meter);
                                        io.deliver_frame(
                                            &mut link.out,
                                            &mut link.stream,
                                            slot,
                                            id,
                                            &line,
                                            None,
                                        )
                                    }
                                    Delivery::Nothing => {}
                                }
                            }
                        }
                    }
                    Target::One(p) => match self.conns.get_mut(p.slot) {
                        Some(Some(Conn { session, link }))
                            if link.id == p.id
                                && session.phase() == Phase::Registered
                                && !link.out.doomed =>
                        {
                            let delivery = match deliver_to(session, p.id, &bytes, transfer) {
                                Delivery::Frame => Some((bytes, flow.as_ref())),
                                Delivery::Line(line) => {
                                    Some((Chunk::new(line, &io.shared.meter), None))
                                }
                                Delivery::Nothing => None,
                            };
                            if let Some((bytes, flow)) = delivery {
                                io.deliver_frame(
                                    &mut link.out,
                                    &mut link.stream,
                                    p.slot,
                                    p.id,
                                    &bytes,
                                    flow,
                                );
                            }
                        }
                        _ => {
                            if let Some(c) = &credit {
                                c.flow().receiver_gone();
                            }
                        }
                    },
                }
                // The thread's share is given back once the receivers hold
                // their own.
                drop(credit);
            }
            Cmd::RoomCast {
                bytes,
                tagged,
                to,
                about,
                messages,
            } => {
                let io = &mut self.io;
                let mut receivers = 0u64;
                for (slot, id) in to {
                    let Some(Some(Conn { session, link })) = self.conns.get_mut(slot) else {
                        continue;
                    };
                    if link.id != id
                        || session.phase() != Phase::Registered
                        || link.out.doomed
                        || about.is_some_and(|a| !session.hears_room_change(a, id))
                    {
                        continue;
                    }
                    let bytes = match &tagged {
                        Some(t) if session.wants_tags() => t,
                        _ => &bytes,
                    };
                    io.pool.fill_segs(&mut link.out, bytes.len());
                    link.out.push_shared(bytes);
                    io.after_append(&mut link.out, &mut link.stream, slot, id);
                    receivers += 1;
                }
                if messages && receivers > 0 {
                    // For `ServerStats::deliveries`: the batch holds one
                    // line per room message.
                    let lines = bytes.iter().filter(|b| **b == b'\n').count() as u64;
                    if let Some(s) = self.stats() {
                        ThreadStats::add(&s.deliveries, lines * receivers);
                    }
                }
            }
            Cmd::NickLost { slot, id, nick } => {
                if self
                    .conn_id(slot, id)
                    .is_some_and(|c| c.session.phase() != Phase::Closed && !c.link.out.doomed)
                {
                    let now = self.shared().clock.now();
                    self.with_session(slot, now, |s, cx| s.nick_lost(&nick, cx));
                    self.mark_dirty(slot);
                }
            }
            Cmd::Moved { slot, id } => {
                if self
                    .conn_id(slot, id)
                    .is_some_and(|c| c.session.phase() == Phase::Registered)
                {
                    let now = self.shared().clock.now();
                    self.with_session(slot, now, |s, cx| {
                        s.close(None, "resumed on another node", cx)
                    });
                    self.held.remove(&id);
                    self.remove(slot);
                }
            }
            Cmd::Kick { slot, id, by } => {
                if self
                    .conn_id(slot, id)
                    .is_some_and(|c| c.session.phase() != Phase::Closed && !c.link.out.doomed)
                {
                    let now = self.shared().clock.now();
                    let detail = format!("put off the server by the operator {by}");
                    self.with_session(slot, now, |s, cx| {
                        s.fail(
                            ErrorCode::ConnectionAborted,
                            Some(&detail),
                            "kicked by a server operator",
                            cx,
                        )
                    });
                    self.mark_dirty(slot);
                }
            }
            Cmd::Adopt {
                slot,
                id,
                stream,
                pending,
                since,
                label,
            } => self.adopt(slot, id, stream, pending, since, label),
            Cmd::Resume { slot, id } => {
                if self
                    .conn_id(slot, id)
                    .is_some_and(|c| c.link.closing.is_none())
                {
                    self.again.push(slot);
                }
            }
            Cmd::Quiesce(q) => {
                self.quiesced = true;
                let shared = Arc::clone(self.shared());
                self.io.outbox.flush(&shared.inboxes);
                self.io.outbox.send_wakes(&shared.inboxes);
                q.done();
            }
            Cmd::Shutdown => self.begin_shutdown(),
        }
    }
}
