//! Rooms, server operators and history as a registered client sees them
//! (PROTOCOL.md, "Rooms" and "History"). The registry's rules (who is a
//! member, who an operator) are in `directory/`; here the lines are
//! checked, answered and their effects handed to the host.

use std::collections::HashSet;

use super::directory::{RoomCast, RoomChange, RoomSummary};
use super::history::{Conversation, DEFAULT_HISTORY_REQUEST, MAX_HISTORY_REQUEST};
use super::prompt::constant_time_eq;
use super::{locate, reply_error, Cx, Host, Session};
use crate::error::ErrorCode;
use crate::protocol::{validate_nick, validate_room, HistoryKind, ServerLine, ROOM_MARK};

/// Appends an already encoded line to the reply, labeled.
fn reply_encoded<H: Host + ?Sized>(cx: &mut Cx<'_, H>, label: Option<&str>, line: &[u8]) {
    let out = cx.host.reply();
    if let Some(l) = label {
        out.push(b'@');
        out.extend_from_slice(l.as_bytes());
        out.push(b' ');
    }
    out.extend_from_slice(line);
}

/// Checks a room's name: `ERROR 23` when it is none.
fn checked_room<H: Host + ?Sized>(label: Option<&str>, room: &str, cx: &mut Cx<'_, H>) -> bool {
    if validate_room(room).is_err() {
        reply_error(cx, label, ErrorCode::InvalidRoom, None, None);
        return false;
    }
    true
}

impl Session {
    /// `#room:text`: to the room's other members, `SENT #room` to the
    /// sender; `ERROR 21 #room` for a non-member.
    pub(super) fn room_message<H: Host + ?Sized>(
        &mut self,
        label: Option<&str>,
        nick: &str,
        room: &str,
        text: &str,
        cx: &mut Cx<'_, H>,
    ) {
        if !checked_room(label, room, cx) {
            return;
        }
        let tag = super::stamp(cx);
        let name = match cx.host.room_message(room, nick, text, tag) {
            Ok(name) => name,
            Err(code) => return reply_error(cx, label, code, Some(room), None),
        };
        // (`room_message` appended it to the shared history, if any.)
        ServerLine::Sent { to: room }.encode_labeled(label, cx.host.reply());
        cx.host.history().record(
            Conversation::room(&name),
            tag,
            HistoryKind::Room,
            nick,
            text,
        );
    }

    /// `/join #room`: `ROOMJOIN #room nick` to the joiner (its answer) and
    /// to the other members, then the topic if there is one.
    pub(super) fn join<H: Host + ?Sized>(
        &mut self,
        label: Option<&str>,
        nick: &str,
        room: &str,
        cx: &mut Cx<'_, H>,
    ) {
        if !checked_room(label, room, cx) {
            return;
        }
        let me = cx.host.me();
        let shared = cx.host.room_joining(room, nick);
        let mut joined = None;
        cx.host.directory_mut(&mut |d| {
            joined = Some(match &shared {
                Some(s) => d.join_room_shared(room, nick, me, s),
                None => d.join_room(room, nick, me),
            })
        });
        let Some((name, topic, cast)) = joined else {
            return;
        };
        ServerLine::RoomJoin { room: &*name, nick }.encode_labeled(label, cx.host.reply());
        if !topic.is_empty() {
            ServerLine::Topic {
                room: &*name,
                by: "*",
                text: &*topic,
            }
            .encode(cx.host.reply());
        }
        if !cast.line.is_empty() {
            cx.host.room_member(&name, nick, true);
        }
        cx.host.room_cast(cast, None);
    }

    /// `/part #room`: `ROOMPART` to the member leaving (its answer) and to
    /// the others.
    pub(super) fn part<H: Host + ?Sized>(
        &mut self,
        label: Option<&str>,
        room: &str,
        cx: &mut Cx<'_, H>,
    ) {
        if !checked_room(label, room, cx) {
            return;
        }
        let me = cx.host.me();
        let mut parted = Err(ErrorCode::NotInRoom);
        cx.host
            .directory_mut(&mut |d| parted = d.part_room(room, me));
        match parted {
            Err(code) => reply_error(cx, label, code, Some(room), None),
            Ok((name, cast)) => {
                reply_encoded(cx, label, &cast.line);
                if let Some(nick) = self.nick().cloned() {
                    cx.host.room_member(&name, &nick, false);
                }
                cx.host.room_cast(cast, None);
            }
        }
    }

    /// `/rooms`: one `ROOMINFO` per room, then `ROOMS <n>`.
    pub(super) fn list_rooms<H: Host + ?Sized>(&mut self, label: Option<&str>, cx: &mut Cx<'_, H>) {
        let rooms: Vec<RoomSummary> = match cx.host.cluster_rooms() {
            Some(all) => all,
            None => {
                let mut rooms = Vec::new();
                cx.host.directory(&mut |d| rooms = d.rooms());
                rooms
            }
        };
        let out = cx.host.reply();
        for r in &rooms {
            ServerLine::RoomInfo {
                room: &*r.name,
                members: r.members as u64,
                topic: r.topic.as_str(),
            }
            .encode_labeled(label, out);
        }
        ServerLine::<&str>::RoomsEnd {
            count: rooms.len() as u64,
        }
        .encode_labeled(label, out);
    }

    /// `/who #room`: `MEMBERS`, or `ERROR 21` when the room does not exist.
    pub(super) fn who<H: Host + ?Sized>(
        &mut self,
        label: Option<&str>,
        room: &str,
        cx: &mut Cx<'_, H>,
    ) {
        if !checked_room(label, room, cx) {
            return;
        }
        let mut line = Vec::new();
        let mut found = Ok(());
        cx.host
            .directory(&mut |d| found = d.who(room, label, &mut line));
        match found {
            Ok(()) => cx.host.reply().extend_from_slice(&line),
            Err(code) => match cx.host.cluster_who(room, label) {
                Some(line) => cx.host.reply().extend_from_slice(&line),
                None => reply_error(cx, label, code, Some(room), None),
            },
        }
    }

    /// Answers a room operator's command: the line it makes, labeled, to
    /// the operator, and the same to the members it names.
    fn operated<H: Host + ?Sized>(
        label: Option<&str>,
        room: &str,
        done: Result<RoomCast, ErrorCode>,
        cx: &mut Cx<'_, H>,
    ) {
        match done {
            Err(code) => reply_error(cx, label, code, Some(room), None),
            Ok(cast) => {
                reply_encoded(cx, label, &cast.line);
                cx.host.room_cast(cast, None);
            }
        }
    }

    /// `/topic #room text` (operators only).
    pub(super) fn topic<H: Host + ?Sized>(
        &mut self,
        label: Option<&str>,
        room: &str,
        text: &str,
        cx: &mut Cx<'_, H>,
    ) {
        if !checked_room(label, room, cx) {
            return;
        }
        let me = cx.host.me();
        // A cluster numbers the topic first (after the operator's rights
        // are checked here), so that this node keeps a newer one from
        // another node that came meanwhile.
        let mut allowed = Ok(());
        cx.host
            .directory(&mut |d| allowed = d.check_operator(room, me.id));
        if let Err(code) = allowed {
            return reply_error(cx, label, code, Some(room), None);
        }
        let ver = match self.nick().cloned() {
            Some(by) => cx
                .host
                .room_operated(room, RoomChange::Topic { by: &by, text }),
            None => None,
        };
        let mut done = Err(ErrorCode::NotInRoom);
        cx.host
            .directory_mut(&mut |d| done = d.set_topic_at(room, me, text, ver));
        Self::operated(label, room, done, cx);
    }

    /// `/op #room Nick` (operators only).
    pub(super) fn make_op<H: Host + ?Sized>(
        &mut self,
        label: Option<&str>,
        room: &str,
        nick: &str,
        cx: &mut Cx<'_, H>,
    ) {
        if !checked_room(label, room, cx) {
            return;
        }
        let me = cx.host.me();
        let mut done = Err(ErrorCode::NotInRoom);
        cx.host
            .directory_mut(&mut |d| done = d.make_op(room, me, nick));
        let ok = done.is_ok();
        Self::operated(label, room, done, cx);
        if let (true, Some(by)) = (ok, self.nick().cloned()) {
            cx.host
                .room_operated(room, RoomChange::Op { by: &by, nick });
        }
    }

    /// `/kick #room Nick` (room operators) or `/kick Nick` (server
    /// operators: the user is put off the server, and the operator is
    /// answered `SENT Nick`).
    pub(super) fn kick<H: Host + ?Sized>(
        &mut self,
        label: Option<&str>,
        by: &str,
        room: Option<&str>,
        nick: &str,
        cx: &mut Cx<'_, H>,
    ) {
        let Some(room) = room else {
            if !self.flags().is_some_and(|f| f.oper) {
                return reply_error(
                    cx,
                    label,
                    ErrorCode::NotOperator,
                    None,
                    Some("only a server operator (/oper) may put a user off the server"),
                );
            }
            if let Some(peer) = locate(label, nick, cx) {
                if cx.host.kick_user_reached(peer, by) {
                    ServerLine::Sent { to: nick }.encode_labeled(label, cx.host.reply());
                } else {
                    reply_error(cx, label, ErrorCode::NoSuchUser, Some(nick), None);
                }
            }
            return;
        };
        if !checked_room(label, room, cx) {
            return;
        }
        let me = cx.host.me();
        let mut done = Err(ErrorCode::NotInRoom);
        cx.host
            .directory_mut(&mut |d| done = d.kick(room, me, nick));
        let ok = done.is_ok();
        Self::operated(label, room, done, cx);
        if ok {
            cx.host.room_operated(room, RoomChange::Kick { by, nick });
        }
    }

    /// `/oper <password>`: `OPER`, or `ERROR 22` (the connection stays).
    pub(super) fn oper<H: Host + ?Sized>(
        &mut self,
        label: Option<&str>,
        password: &str,
        cx: &mut Cx<'_, H>,
    ) {
        let ok = cx
            .rules
            .oper_password
            .as_ref()
            .is_some_and(|p| constant_time_eq(password.as_bytes(), p.as_str().as_bytes()));
        if !ok {
            return reply_error(
                cx,
                label,
                ErrorCode::NotOperator,
                None,
                Some("wrong password"),
            );
        }
        if let Some(f) = self.flags_mut() {
            f.oper = true;
        }
        ServerLine::<&str>::Oper.encode_labeled(label, cx.host.reply());
    }

    /// `/history <#room|*|Nick> [n] [before=<id>]`: `HISTORY` lines, oldest
    /// first, then `HISTEND`. A room's history is for its members (21
    /// otherwise); a private conversation is only ever the asker's own.
    pub(super) fn history<H: Host + ?Sized>(
        &mut self,
        label: Option<&str>,
        nick: &str,
        target: &str,
        count: Option<u64>,
        before: Option<u64>,
        cx: &mut Cx<'_, H>,
    ) {
        let conversation = if target == "*" {
            Conversation::Public
        } else if target.starts_with(ROOM_MARK) {
            if !checked_room(label, target, cx) {
                return;
            }
            let me = cx.host.me().id;
            let mut member = false;
            cx.host.directory(&mut |d| member = d.is_member(target, me));
            if !member {
                return reply_error(cx, label, ErrorCode::NotInRoom, Some(target), None);
            }
            Conversation::room(target)
        } else {
            if validate_nick(target, cx.rules.max_nick_chars).is_err() {
                return reply_error(cx, label, ErrorCode::InvalidNick, None, None);
            }
            Conversation::private(nick, target)
        };
        let now = cx.host.unix_ms();
        let count = count.unwrap_or(DEFAULT_HISTORY_REQUEST);
        let mut entries = cx.host.history().query(&conversation, count, before, now);
        // In a cluster: what every node took (the shared history), with what
        // this node recorded that it lacks (while cut off, files, binary
        // messages), each message once, in id order (ids are cluster-wide).
        if let Some(shared) = cx.host.shared_history(&conversation, count, before) {
            let mut ids: HashSet<u64> = entries.iter().map(|e| e.tag.id).collect();
            entries.extend(shared.into_iter().filter(|e| ids.insert(e.tag.id)));
            entries.sort_by_key(|e| e.tag.id);
            let keep = (count.min(MAX_HISTORY_REQUEST) as usize).min(entries.len());
            entries.drain(..entries.len() - keep);
        }
        let out = cx.host.reply();
        for e in &entries {
            ServerLine::History {
                target,
                kind: e.kind,
                from: &*e.from,
                id: e.tag.id,
                time: e.tag.time,
                text: &*e.text,
            }
            .encode_labeled(label, out);
        }
        ServerLine::HistoryEnd {
            target,
            count: entries.len() as u64,
        }
        .encode_labeled(label, out);
    }
}
