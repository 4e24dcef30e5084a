//! The reader thread: reads server lines, answers waiting requests and
//! queues everything else as events.

use std::sync::Arc;

use super::inner::Inner;
use super::lines::{Incoming, LineReader, ReadEnd};
use super::pending::{Reply, Request};
use super::{event_of, Event};
use crate::error::{Error, ErrorCode};
use crate::protocol::{nick_key, parse_server_line, ServerLine};

/// What to do after a line.
enum Flow {
    Continue,
    /// The connection is over, for this reason.
    Stop(String),
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
    for event in early {
        if let Flow::Stop(reason) = emit(&inner, event) {
            finish.reason = reason;
            return;
        }
    }
    loop {
        if inner.events.has_ended() {
            // This client disconnected itself.
            finish.reason = "disconnected by this client".to_owned();
            break;
        }
        let line = match reader.next(None) {
            Ok(Incoming::Line(line)) => line,
            Ok(Incoming::Frame { line, payload }) => {
                let events = super::transfer::on_frame(&inner, &line, payload);
                if let Flow::Stop(reason) = emit_all(&inner, events) {
                    finish.reason = reason;
                    break;
                }
                continue;
            }
            // Not fatal: a line we cannot read is skipped.
            Ok(Incoming::NotUtf8) | Ok(Incoming::TooLong) => continue,
            Err(ReadEnd::Eof) => break,
            Err(ReadEnd::Overflow) => {
                finish.reason = "the server sent a line with no end".to_owned();
                break;
            }
            Err(ReadEnd::TimedOut) => continue,
            Err(ReadEnd::Io(e)) => {
                finish.reason = format!("connection lost: {e}");
                break;
            }
        };
        match handle_line(&inner, &line) {
            Flow::Continue => {}
            Flow::Stop(reason) => {
                finish.reason = reason;
                break;
            }
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

fn handle_line(inner: &Inner, line: &str) -> Flow {
    let Ok(parsed) = parse_server_line(line) else {
        // Unknown or malformed: skipped (a newer server may say more).
        return Flow::Continue;
    };
    match parsed {
        ServerLine::Sent { .. } => {
            inner.pending.answer_if(Request::Private, Ok(Reply::Sent));
            Flow::Continue
        }
        ServerLine::Users(nicks) => {
            let nicks = nicks.into_iter().map(str::to_owned).collect();
            inner
                .pending
                .answer_if(Request::List, Ok(Reply::Users(nicks)));
            Flow::Continue
        }
        ServerLine::Pong(_) => {
            inner.pending.answer_if(Request::Ping, Ok(Reply::Pong));
            Flow::Continue
        }
        ServerLine::Ping(token) => {
            // The server's keepalive probe (PROTOCOL.md, "Keepalive"): any
            // line answers it. A failed write ends the connection, which
            // this thread then sees as EOF.
            let line = match token {
                Some(t) if crate::protocol::validate_text(t).is_ok() => format!("/pong {t}\n"),
                _ => "/pong\n".to_owned(),
            };
            let _ = inner.write_line(line.as_bytes(), None);
            Flow::Continue
        }
        ServerLine::Nick { old, new } => {
            let mine = {
                let mut current = inner.nick.lock();
                if nick_key(old) == nick_key(&current) {
                    *current = new.to_owned();
                    true
                } else {
                    false
                }
            };
            if mine {
                // Answer first: the event may have to wait for queue space.
                inner.pending.answer_if(Request::Nick, Ok(Reply::Nick));
            }
            emit(
                inner,
                Event::NickChanged {
                    old: old.to_owned(),
                    new: new.to_owned(),
                },
            )
        }
        ServerLine::Error {
            code: Some(ErrorCode::ConnectionAborted),
            text,
            ..
        } => Flow::Stop(if text.is_empty() {
            "the server ended the connection (03)".to_owned()
        } else {
            text.to_owned()
        }),
        ServerLine::Error {
            code,
            raw_code,
            text,
            ..
        } => {
            let code_or = code.unwrap_or(ErrorCode::InvalidServer);
            let detail = match code {
                Some(_) => text.to_owned(),
                None => format!("the server answered with unknown error {raw_code:02}: {text}"),
            };
            if inner.pending.fail_head(Error::new(code_or, detail)) {
                return Flow::Continue;
            }
            match code {
                Some(code) => emit(
                    inner,
                    Event::Error {
                        code,
                        text: text.to_owned(),
                    },
                ),
                // An unknown number answering nothing: skipped.
                None => Flow::Continue,
            }
        }
        other => {
            // File transfer lines (FILE, FILEEND, FILEOK, FILEACK ...).
            if let Some(events) = super::transfer::on_line(inner, &other) {
                return emit_all(inner, events);
            }
            match event_of(&other) {
                Some(event) => emit(inner, event),
                // HELP, a late HELLO or WELCOME: nothing for the caller.
                None => Flow::Continue,
            }
        }
    }
}
