//! The lines of a registered client (PROTOCOL.md, "Client lines").

use std::sync::Arc;

use super::history::Conversation;
use super::transfer::Sending;
use super::{locate, reply_error, Cx, Host, Session, State};
use crate::error::ErrorCode;
use crate::protocol::{validate_nick, ClientLine, HistoryKind, Next, ServerLine, HELP_LINES};
use crate::server::ServerEvent;

impl Session {
    /// A line after registration, parsed with the chat's grammar. Returns
    /// what the framing does next (a payload follows `/bytes` and
    /// `/chunk`).
    pub(super) fn chat_line<H: Host + ?Sized>(
        &mut self,
        label: Option<&str>,
        line: Result<ClientLine<'_>, ErrorCode>,
        cx: &mut Cx<'_, H>,
    ) -> Next {
        let State::Registered { nick, .. } = &self.state else {
            return Next::Stop;
        };
        let nick = Arc::clone(nick);
        let line = match line {
            Ok(line) => line,
            Err(code) => {
                reply_error(cx, label, code, None, None);
                return Next::Continue;
            }
        };
        let reply =
            |cx: &mut Cx<'_, H>, l: ServerLine<&str>| l.encode_labeled(label, cx.host.reply());
        match line {
            ClientLine::Public(text) => {
                let tag = super::stamp(cx);
                // Shared history first: in a cluster, a message another
                // node can see is already in it (a resume there reads it).
                cx.host
                    .shared_record(&Conversation::Public, tag, HistoryKind::Public, &nick, text);
                cx.host.public(&nick, text, tag);
                cx.host.history().record(
                    Conversation::Public,
                    tag,
                    HistoryKind::Public,
                    &nick,
                    text,
                );
            }
            ClientLine::Room { room, text } => self.room_message(label, &nick, room, text, cx),
            ClientLine::Join(room) => self.join(label, &nick, room, cx),
            ClientLine::Part(room) => self.part(label, room, cx),
            ClientLine::Rooms => self.list_rooms(label, cx),
            ClientLine::Who(room) => self.who(label, room, cx),
            ClientLine::Topic { room, text } => self.topic(label, room, text, cx),
            ClientLine::Op { room, nick: to } => self.make_op(label, room, to, cx),
            ClientLine::Kick { room, nick: to } => self.kick(label, &nick, room, to, cx),
            ClientLine::Oper(password) => self.oper(label, password, cx),
            ClientLine::History {
                target,
                count,
                before,
            } => self.history(label, &nick, target, count, before, cx),
            ClientLine::Tags(on) => {
                self.set_tags(on);
                reply(cx, ServerLine::Tags(on));
            }
            ClientLine::Private { to, text } => self.private(label, &nick, to, text, cx),
            ClientLine::Quit => self.close(None, "quit", cx),
            ClientLine::List => cx.host.users(label),
            ClientLine::Nick(new) => self.rename(label, &nick, new, cx),
            ClientLine::Ping(token) => reply(cx, ServerLine::Pong(token)),
            ClientLine::Help => {
                for l in HELP_LINES {
                    reply(cx, ServerLine::Help(l));
                }
            }
            ClientLine::Presence(on) => {
                self.set_presence(on);
                reply(cx, ServerLine::Presence(on));
            }
            ClientLine::Binary(on) => {
                self.set_binary(on);
                reply(cx, ServerLine::Binary(on));
            }
            ClientLine::ResumeCap(on) => {
                self.set_resume(on);
                reply(cx, ServerLine::ResumeCap(on));
                if on {
                    self.send_token(label, cx);
                } else {
                    cx.host.drop_token(&nick);
                }
            }
            ClientLine::Nothing | ClientLine::Pong(_) => {}
            ClientLine::Bytes { .. }
            | ClientLine::File { .. }
            | ClientLine::Chunk { .. }
            | ClientLine::FileEnd { .. }
            | ClientLine::FileAbort { .. } => {
                let size = line.payload_size();
                let s = self
                    .sending
                    .get_or_insert_with(|| Box::new(Sending::new(cx.rules)));
                s.on_command(label, &nick, line, cx);
                if size > 0 {
                    return Next::Payload(size);
                }
                // A payload of 0 bytes ends at once.
                s.on_payload_end(cx);
            }
            // The chat's grammar gives none of the prompt's lines.
            ClientLine::Nickname(_)
            | ClientLine::Pass(_)
            | ClientLine::HttpRequest(_)
            | ClientLine::Resume { .. } => {
                reply_error(cx, label, ErrorCode::UnknownCommand, None, None)
            }
        }
        Next::Continue
    }

    /// `Nick:text`. The receiver gets `PRIVATE` through the host; the
    /// sender gets `SENT` as soon as the host has taken the message for a
    /// user online ("accepted for delivery"), which keeps the sender's
    /// answers in the order of its lines. A private message to oneself is
    /// delivered like any other.
    fn private<H: Host + ?Sized>(
        &mut self,
        label: Option<&str>,
        nick: &str,
        to: &str,
        text: &str,
        cx: &mut Cx<'_, H>,
    ) {
        match locate(label, to, cx) {
            None => {}
            Some(peer) if peer == cx.host.me() => {
                let tag = super::stamp(cx);
                let tagged = self.wants_tags().then_some(tag);
                let out = cx.host.reply();
                ServerLine::Private { from: nick, text }.encode_tagged(None, tagged, out);
                ServerLine::Sent { to }.encode_labeled(label, out);
                let conversation = Conversation::private(nick, to);
                cx.host
                    .shared_record(&conversation, tag, HistoryKind::Private, nick, text);
                cx.host
                    .history()
                    .record(conversation, tag, HistoryKind::Private, nick, text);
            }
            Some(peer) => {
                let tag = super::stamp(cx);
                let conversation = Conversation::private(nick, to);
                // Shared history first, as for a public message.
                cx.host
                    .shared_record(&conversation, tag, HistoryKind::Private, nick, text);
                cx.host.private(peer, nick, text, tag);
                ServerLine::Sent { to }.encode_labeled(label, cx.host.reply());
                cx.host
                    .history()
                    .record(conversation, tag, HistoryKind::Private, nick, text);
            }
        }
    }

    /// A new resume token, as `TOKEN <token> <last id>` (PROTOCOL.md,
    /// "Resuming a connection"), labeled.
    pub(super) fn send_token<H: Host + ?Sized>(&mut self, label: Option<&str>, cx: &mut Cx<'_, H>) {
        let (Some(nick), Some(flags)) = (self.nick(), self.flags()) else {
            return;
        };
        let nick = Arc::clone(nick);
        if let Some(token) = cx.host.issue_token(&nick, flags.tags) {
            let last_id = cx.host.history().last_id();
            ServerLine::Token {
                token: token.as_str(),
                last_id,
            }
            .encode_labeled(label, cx.host.reply());
        }
    }

    /// `/nick New`.
    fn rename<H: Host + ?Sized>(
        &mut self,
        label: Option<&str>,
        old: &str,
        new: &str,
        cx: &mut Cx<'_, H>,
    ) {
        if validate_nick(new, cx.rules.max_nick_chars).is_err() {
            return reply_error(cx, label, ErrorCode::InvalidNick, None, None);
        }
        match cx.host.rename(old, new) {
            Err(ErrorCode::NickInUse) => {
                reply_error(cx, label, ErrorCode::NickInUse, Some(new), None)
            }
            Err(code) => reply_error(cx, label, code, None, None),
            Ok(stored) => {
                self.state = State::Registered {
                    nick: stored,
                    flags: self.flags().unwrap_or_default(),
                };
                ServerLine::Nick { old, new }.encode_labeled(label, cx.host.reply());
                let (id, addr) = (cx.host.me().id, cx.host.addr());
                cx.host.event(ServerEvent::NickChanged {
                    id,
                    addr,
                    old: old.to_owned(),
                    new: new.to_owned(),
                });
            }
        }
    }

    /// Another node of the cluster holds this connection's nickname `lost`
    /// by an earlier claim (PROTOCOL.md, "Clusters": after a partition,
    /// the later claimant is renamed). Takes the first free of `lost2`,
    /// `lost3`, ... (cut to `max_nick_chars`), tells the client
    /// `RENAMED lost new` and everyone else `NICK`. Nothing if the
    /// connection holds another nickname by now; with no free name in a
    /// thousand tries, the connection is closed with 01.
    pub fn nick_lost<H: Host + ?Sized>(&mut self, lost: &str, cx: &mut Cx<'_, H>) {
        let State::Registered { nick, .. } = &self.state else {
            return;
        };
        if crate::protocol::nick_key(nick) != crate::protocol::nick_key(lost) {
            return;
        }
        let old = Arc::clone(nick);
        let max = cx.rules.max_nick_chars;
        for n in 2..1000u32 {
            let suffix = n.to_string();
            let keep = max.saturating_sub(suffix.len());
            let candidate: String = old.chars().take(keep).chain(suffix.chars()).collect();
            if validate_nick(&candidate, max).is_err() {
                continue;
            }
            match cx.host.rename(&old, &candidate) {
                Ok(stored) => {
                    self.state = State::Registered {
                        nick: stored,
                        flags: self.flags().unwrap_or_default(),
                    };
                    ServerLine::Renamed {
                        old: &*old,
                        new: &*candidate,
                    }
                    .encode(cx.host.reply());
                    let (id, addr) = (cx.host.me().id, cx.host.addr());
                    cx.host.event(ServerEvent::NickChanged {
                        id,
                        addr,
                        old: old.to_string(),
                        new: candidate,
                    });
                    return;
                }
                Err(ErrorCode::NickInUse) => continue,
                Err(_) => break,
            }
        }
        self.fail(
            ErrorCode::NickInUse,
            Some(&old),
            "nickname held by another node, and no other free",
            cx,
        );
    }
}
