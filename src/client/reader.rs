//! The reader thread: reads the server's lines, each parsed once by the
//! [`LineReader`], and dispatches each in one place: an answer goes to the
//! request it answers (by label, see `pending.rs`), a transfer line to the
//! file code, everything else becomes an [`Event`].

use std::sync::Arc;

use super::inner::Inner;
use super::lines::{Incoming, LineReader, ReadEnd};
use super::{events_tagged, Event, HistoryEntry, Reply, RoomInfo, RoomMember};
use crate::error::{Error, ErrorCode};
use crate::protocol::{nick_key, validate_text, ClientLine, ServerLine, Tag, LABEL_MARK};

/// What to do after a line.
enum Flow {
    Continue,
    /// The connection is over, for this reason.
    Stop(String),
    /// The connection was lost, for this reason: the client may reconnect
    /// (`reconnect.rs`).
    Lost(String),
}

/// Ends the connection however the reader thread ends (panics included):
/// waiting requests get 03, the final event is queued, `disconnect` is let go.
struct Finish<'a> {
    inner: &'a Inner,
    reason: String,
}

impl Drop for Finish<'_> {
    fn drop(&mut self) {
        let inner = self.inner;
        let reason = match inner.broken_reason.lock().clone() {
            Some(r) => r,
            None => std::mem::take(&mut self.reason),
        };
        inner.connection_ended(&reason);
        // Files still coming or going fail first (their parts are deleted).
        for event in super::transfer::connection_ended(inner, &reason) {
            if inner.events.push(event) {
                inner.wake();
            }
        }
        if inner
            .events
            .push_final(ErrorCode::ConnectionAborted, reason)
        {
            inner.wake();
        }
        inner.mark_reader_done();
    }
}

/// The body of the reader thread.
pub(crate) fn run(inner: Arc<Inner>, mut reader: LineReader, early: Vec<Event>) {
    let _ = inner.reader_id.set(std::thread::current().id());
    let mut finish = Finish {
        inner: &inner,
        reason: "connection closed by the server".to_owned(),
    };
    if let Flow::Stop(reason) = emit_all(&inner, early) {
        finish.reason = reason;
        return;
    }
    let mut partial = Partial::default();
    loop {
        if inner.events.has_ended() {
            // This client disconnected itself.
            finish.reason = "disconnected by this client".to_owned();
            break;
        }
        let flow = match reader.next(None) {
            Ok(Incoming::Line { label, line, tag }) => {
                dispatch(&inner, &mut partial, label.as_deref(), line, tag)
            }
            Ok(Incoming::Frame { line, payload }) => {
                emit_all(&inner, super::transfer::on_frame(&inner, line, payload))
            }
            // Not fatal: a line we cannot read is skipped.
            Ok(Incoming::Unreadable(_)) | Ok(Incoming::TooLong) => Flow::Continue,
            Err(ReadEnd::Eof) => Flow::Lost(
                inner
                    .broken_reason
                    .lock()
                    .clone()
                    .unwrap_or_else(|| "connection closed by the server".to_owned()),
            ),
            Err(ReadEnd::Overflow) => Flow::Stop("the server sent a line with no end".to_owned()),
            Err(ReadEnd::TimedOut) => Flow::Continue,
            Err(ReadEnd::Io(e)) => Flow::Lost(format!("connection lost: {e}")),
        };
        match flow {
            Flow::Continue => {}
            Flow::Stop(reason) => {
                finish.reason = reason;
                break;
            }
            Flow::Lost(reason) => match super::reconnect::reconnect(&inner, &reason) {
                Some((again, early)) => {
                    reader = again;
                    partial = Partial::default();
                    if let Flow::Stop(reason) = emit_all(&inner, early) {
                        finish.reason = reason;
                        break;
                    }
                }
                None => {
                    finish.reason = reason;
                    break;
                }
            },
        }
    }
    drop(finish);
}

/// Queues events in order (see [`emit`]).
fn emit_all(inner: &Inner, events: Vec<Event>) -> Flow {
    for event in events {
        if let Flow::Stop(reason) = emit(inner, event) {
            return Flow::Stop(reason);
        }
    }
    Flow::Continue
}

/// Queues an event and wakes the caller; `Stop` once the queue has ended.
fn emit(inner: &Inner, event: Event) -> Flow {
    if inner.events.push(event) {
        inner.wake();
        Flow::Continue
    } else {
        Flow::Stop("disconnected by this client".to_owned())
    }
}

/// The answers of several lines (`/rooms`, `/history`) gathered until
/// their last line, by label (`None` without labels: in order).
#[derive(Default)]
pub(crate) struct Partial {
    rooms: Vec<(Option<String>, RoomInfo)>,
    history: Vec<(Option<String>, HistoryEntry)>,
}

/// Takes the items gathered under `label`.
fn take_labeled<T>(items: &mut Vec<(Option<String>, T)>, label: Option<&str>) -> Vec<T> {
    let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(items)
        .into_iter()
        .partition(|(l, _)| l.as_deref() == label);
    *items = rest;
    mine.into_iter().map(|(_, t)| t).collect()
}

/// One server line, with the label of the request it answers, if any, and
/// the message's id and time when it carried them.
fn dispatch(
    inner: &Arc<Inner>,
    partial: &mut Partial,
    label: Option<&str>,
    line: ServerLine<String>,
    tag: Option<Tag>,
) -> Flow {
    // What a reconnection needs: the rooms this client is in, the token,
    // and which messages it has seen (one a resume sends again is skipped).
    match &line {
        ServerLine::RoomJoin { room, nick } if inner.is_me(nick) => {
            inner.resume.lock().rooms.insert(room.clone());
        }
        ServerLine::RoomPart { room, nick } | ServerLine::RoomKick { room, nick, .. }
            if inner.is_me(nick) =>
        {
            inner.resume.lock().rooms.remove(room);
        }
        ServerLine::Token { token, last_id } => {
            inner.resume.lock().token(token.clone(), *last_id);
            return Flow::Continue;
        }
        ServerLine::Public { .. } | ServerLine::Private { .. } | ServerLine::Room { .. } => {
            if let Some(t) = tag {
                if !inner.resume.lock().note(t.id) {
                    return Flow::Continue;
                }
            }
        }
        _ => {}
    }
    match line {
        ServerLine::RoomJoin { ref room, .. } if label.is_some() => {
            inner.answer(label, Reply::Joined(room.clone()));
            emit_all(inner, events_tagged(line, None))
        }
        ServerLine::RoomPart { .. } if label.is_some() => {
            inner.answer(label, Reply::Parted);
            emit_all(inner, events_tagged(line, None))
        }
        ServerLine::RoomKick { .. } | ServerLine::RoomOp { .. } | ServerLine::Topic { .. }
            if label.is_some() =>
        {
            inner.answer(label, Reply::Done);
            emit_all(inner, events_tagged(line, None))
        }
        ServerLine::Oper => {
            inner.answer(label, Reply::Done);
            Flow::Continue
        }
        ServerLine::Members { nicks, .. } => {
            let members = nicks
                .into_iter()
                .map(|n| match n.strip_prefix(LABEL_MARK) {
                    Some(nick) => RoomMember {
                        nick: nick.to_owned(),
                        operator: true,
                    },
                    None => RoomMember {
                        nick: n,
                        operator: false,
                    },
                })
                .collect();
            inner.answer(label, Reply::Members(members));
            Flow::Continue
        }
        ServerLine::RoomInfo {
            room,
            members,
            topic,
        } => {
            partial.rooms.push((
                label.map(str::to_owned),
                RoomInfo {
                    name: room,
                    members,
                    topic,
                },
            ));
            Flow::Continue
        }
        ServerLine::RoomsEnd { .. } => {
            let rooms = take_labeled(&mut partial.rooms, label);
            inner.answer(label, Reply::Rooms(rooms));
            Flow::Continue
        }
        ServerLine::History {
            kind,
            from,
            id,
            time,
            text,
            ..
        } => {
            partial.history.push((
                label.map(str::to_owned),
                HistoryEntry {
                    kind,
                    from,
                    id,
                    time,
                    text,
                },
            ));
            Flow::Continue
        }
        ServerLine::HistoryEnd { .. } => {
            let entries = take_labeled(&mut partial.history, label);
            inner.answer(label, Reply::History(entries));
            Flow::Continue
        }
        ServerLine::Public { .. } | ServerLine::Private { .. } | ServerLine::Room { .. } => {
            emit_all(inner, events_tagged(line, tag))
        }
        ServerLine::Sent { .. } => {
            inner.answer(label, Reply::Sent);
            Flow::Continue
        }
        ServerLine::Users(nicks) => {
            inner.answer(label, Reply::Users(nicks));
            Flow::Continue
        }
        ServerLine::Pong(_) => {
            inner.answer(label, Reply::Pong);
            Flow::Continue
        }
        ServerLine::Ping(token) => {
            // The server's keepalive probe (PROTOCOL.md, "Keepalive"): any
            // line answers it. A failed write ends the connection, which
            // this thread then sees as EOF.
            let token = token.filter(|t| validate_text(t).is_ok());
            let _ = inner.send(&ClientLine::Pong(token.as_deref()), &[], None, false);
            Flow::Continue
        }
        ServerLine::Nick { old, new } => {
            let mine = {
                let mut current = inner.nick.lock();
                if nick_key(&old) == nick_key(&current) {
                    *current = new.clone();
                    true
                } else {
                    false
                }
            };
            if mine {
                // Answer first: the event may have to wait for queue space.
                inner.answer(label, Reply::Nick);
            }
            emit(inner, Event::NickChanged { old, new })
        }
        // The cluster's lines (PROTOCOL.md, "Clusters") are news, never an
        // answer: a label on one is ignored, and a request waiting (a
        // `/nick` among them) keeps waiting for its own answer.
        ServerLine::Cluster(state) => emit(inner, Event::Cluster { state }),
        ServerLine::Lost { count } => emit(inner, Event::Lost { count }),
        ServerLine::Renamed { old, new } => {
            // The server renamed this client by itself: it is known by `new`
            // from now on (a `NICK` about it, a reconnection's `/resume`).
            // The line is only ever about this client, whatever `old` says.
            *inner.nick.lock() = new.clone();
            emit(inner, Event::Renamed { old, new })
        }
        ServerLine::Error { code, text, .. } if code == ErrorCode::ConnectionAborted as u32 => {
            let reason = if text.is_empty() {
                "the server ended the connection (03)".to_owned()
            } else {
                text
            };
            // Put off the server by an operator: coming back is not wanted.
            // Anything else (a shutdown, a slow consumer): reconnect.
            if reason.contains("operator") {
                Flow::Stop(reason)
            } else {
                Flow::Lost(reason)
            }
        }
        ServerLine::Error { code, text, .. } => {
            let known = i32::try_from(code).ok().and_then(ErrorCode::from_i32);
            let error = match known {
                Some(k) => Error::new(k, text.clone()),
                None => Error::new(
                    ErrorCode::InvalidServer,
                    format!("the server answered with unknown error {code:02}: {text}"),
                ),
            };
            if inner.fail(label, error) {
                return Flow::Continue;
            }
            match known {
                Some(code) => emit(inner, Event::Error { code, text }),
                // An unknown number answering nothing: skipped.
                None => Flow::Continue,
            }
        }
        other => match super::transfer::on_line(inner, label, other) {
            // File transfer lines (FILE, FILEEND, FILEOK, FILEACK ...).
            Ok(events) => emit_all(inner, events),
            // HELP, a late HELLO or WELCOME: no event for the caller; a
            // `CHANGES` line: one event per change, in order.
            Err(other) => emit_all(inner, events_tagged(other, None)),
        },
    }
}
