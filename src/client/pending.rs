//! Requests waiting for the server's answer, matched without ambiguity.
//!
//! A papo server that announces `labels=1` in its `HELLO` echoes a
//! request's label in front of every line that answers it (PROTOCOL.md,
//! "Labels", the idea of IRCv3's `labeled-response`). Then every request is
//! sent with a label of its own and its answer is the line with that label,
//! whatever else the server sends in between; an unlabeled `ERROR` answers
//! no request (it is an event). With a server that announces no labels the
//! client falls back to the order of the answers (a server answers a
//! client's lines in order, PROTOCOL.md "Client lines"): each answer goes
//! to the oldest waiting request.
//!
//! A request is queued under the same lock as its write (see
//! `Inner::send`), so the queue order is the wire order.
//!
//! A request is either waited for by its caller (a synchronous call such
//! as `Client::users`: the answer goes to a channel the caller blocks on)
//! or answered as an event (an asynchronous call such as
//! `Client::users_async`, after libmpv's `mpv_command_async`: the answer
//! becomes an [`Event::Reply`] carrying the caller's `userdata`). Both kinds
//! share the one queue, so the matching rules above hold for both. Replies
//! are queued in request order: an asynchronous request answered locally (a
//! public message, answered once written) waits behind older asynchronous
//! requests still waiting for the server. They are queued without waiting
//! for room in the event queue, and they are queued under this module's
//! lock, so that [`Pending::close`] (which answers every request still
//! waiting with 03) and a late answer from the reader thread can never
//! both answer one request, nor put a reply after the final `Disconnected`
//! event.

use std::collections::VecDeque;
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::time::Duration;

use parking_lot::Mutex;

use super::events::EventQueue;
use super::files::Offer;
use super::{Event, Reply, ReplyError};
use crate::error::{Error, ErrorCode, Result};

/// What a request waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Request {
    /// `Nick:text` or `/bytes`: `SENT` or `ERROR 02`/`07`.
    Sent,
    /// `/list`: `USERS`.
    List,
    /// `/nick New`: this client's own `NICK`, or `ERROR 01`/`06`.
    Nick,
    /// `/ping`: `PONG`.
    Ping,
    /// `/file`: `FILEOK <id>`, or `ERROR 02/07/08/09/12`.
    FileOffer,
    /// `/join #room`: this client's own `ROOMJOIN`.
    Join,
    /// `/part #room`: this client's own `ROOMPART`.
    Part,
    /// `/rooms`: the `ROOMINFO` lines and `ROOMS`.
    Rooms,
    /// `/who #room`: `MEMBERS`.
    Who,
    /// `/history`: the `HISTORY` lines and `HISTEND`.
    History,
    /// `/topic`, `/op`, `/kick #room`, `/oper`: the line the operator's
    /// command made (`TOPIC`, `ROOMOP`, `ROOMKICK`, `OPER`).
    Operator,
    /// `:text`: the server answers nothing; answered here once written
    /// ([`Pending::resolve`]). Only asynchronous requests use it (a
    /// synchronous public message waits for nothing).
    Public,
}

impl Reply {
    /// The kind of request this reply answers.
    fn answers(&self) -> Request {
        match self {
            Reply::Sent => Request::Sent,
            Reply::Users(_) => Request::List,
            Reply::Nick => Request::Nick,
            Reply::Pong => Request::Ping,
            Reply::FileOk(_) => Request::FileOffer,
            Reply::Joined(_) => Request::Join,
            Reply::Parted => Request::Part,
            Reply::Rooms(_) => Request::Rooms,
            Reply::Members(_) => Request::Who,
            Reply::History(_) => Request::History,
            Reply::Done => Request::Operator,
        }
    }
}

/// Where a request's answer goes.
enum Answer {
    /// To the caller blocked on the [`Ticket`].
    Channel(SyncSender<Result<Reply>>),
    /// Into the event queue, as [`Event::Reply`] with `userdata`.
    Event {
        userdata: u64,
        /// The answer, once it came; the entry then waits (answered) until
        /// every older asynchronous request has its reply queued.
        outcome: Option<std::result::Result<Reply, ReplyError>>,
        /// An asynchronous `/file` offer: the opened file, handed back to
        /// the reader thread with `FILEOK` to start streaming it.
        offer: Option<Offer>,
    },
}

struct Waiting {
    /// This request's number; also its label when the server echoes labels.
    seq: u64,
    /// The request's label, when the server echoes labels and answers it.
    label: Option<u64>,
    request: Request,
    /// The nickname the request is about (a message's destination, the new
    /// nickname asked for), to say so in its error's detail.
    subject: Option<String>,
    answer: Answer,
}

/// The error for a request, its detail naming what the request was about
/// where the server's own text (its code's generic text) does not:
/// `nickname "Ana" is already in use`, `no user "bob" is online`.
fn explain(request: Request, subject: Option<&str>, error: Error) -> Error {
    let Some(subject) = subject else {
        return error;
    };
    let what = match (request, error.code()) {
        (Request::Nick, ErrorCode::NickInUse) => {
            format!("nickname {subject:?} is already in use")
        }
        (Request::Nick, ErrorCode::InvalidNick) => {
            format!("the server refused the nickname {subject:?}")
        }
        (Request::Sent | Request::FileOffer, ErrorCode::NoSuchUser) => {
            format!("no user {subject:?} is online")
        }
        _ => return error,
    };
    // The server's text follows, as it may say more.
    let detail = match error.detail() {
        "" => what,
        text => format!("{what}: {text}"),
    };
    Error::new(error.code(), detail)
}

impl Waiting {
    /// True while this request waits for a line from the server.
    fn awaits_server(&self) -> bool {
        self.request != Request::Public
            && !matches!(
                self.answer,
                Answer::Event {
                    outcome: Some(_),
                    ..
                }
            )
    }
}

struct State {
    /// Set once the connection has ended: no request is accepted any more.
    dead: bool,
    /// The server echoes labels.
    labels: bool,
    /// The last request number handed out.
    last_seq: u64,
    queue: VecDeque<Waiting>,
}

/// The requests waiting for an answer.
pub(crate) struct Pending {
    state: Mutex<State>,
}

/// The waiting end of one request.
pub(crate) struct Ticket {
    rx: Receiver<Result<Reply>>,
}

/// What answering a line did.
#[derive(Default)]
pub(crate) struct Answered {
    /// The line answered a request (else it answers nothing and may be an
    /// event).
    pub(crate) matched: bool,
    /// At least one [`Event::Reply`] was queued: the caller wakes the
    /// client's wake-up function.
    pub(crate) queued: bool,
    /// `FILEOK` answered an asynchronous `/file` offer: its file, to be
    /// streamed now, as `Client::send_file` does after `FILEOK`.
    pub(crate) offer: Option<Offer>,
}

pub(crate) fn aborted(detail: &str) -> Error {
    Error::new(ErrorCode::ConnectionAborted, detail.to_owned())
}

impl Ticket {
    /// Waits for the answer, up to `timeout` (then 11 `Timeout`; without
    /// labels the request stays queued, so that later answers still match
    /// their requests).
    pub(crate) fn wait(self, timeout: Duration) -> Result<Reply> {
        match self.rx.recv_timeout(timeout) {
            Ok(answer) => answer,
            Err(RecvTimeoutError::Timeout) => Err(Error::new(
                ErrorCode::Timeout,
                format!(
                    "no answer from the server within {} ms",
                    timeout.as_millis()
                ),
            )),
            Err(RecvTimeoutError::Disconnected) => {
                Err(aborted("the connection ended before the server answered"))
            }
        }
    }
}

impl Pending {
    /// `labels`: the server echoes request labels (its `HELLO` said
    /// `labels=1`).
    pub(crate) fn new(labels: bool) -> Pending {
        Pending {
            state: Mutex::new(State {
                dead: false,
                labels,
                last_seq: 0,
                queue: VecDeque::new(),
            }),
        }
    }

    /// Queues a request whose caller waits for the answer; 03 once the
    /// connection has ended. Returns the ticket to wait on and the label to
    /// send the request with, if the server echoes labels.
    /// `subject`: the nickname the request is about, for error details.
    pub(crate) fn push(
        &self,
        request: Request,
        subject: Option<&str>,
    ) -> Result<(Ticket, Option<String>)> {
        let (tx, rx) = sync_channel(1);
        let (_, label) = self.enqueue(request, subject, Answer::Channel(tx))?;
        Ok((Ticket { rx }, label))
    }

    /// Queues an asynchronous request, answered by an [`Event::Reply`]
    /// with `userdata`; 03 once the connection has ended. Returns the
    /// request's number (for [`Pending::resolve`]) and the label to send
    /// it with, if the server echoes labels (never for `Public`, which the
    /// server does not answer).
    pub(crate) fn push_async(
        &self,
        request: Request,
        subject: Option<&str>,
        userdata: u64,
        offer: Option<Offer>,
    ) -> Result<(u64, Option<String>)> {
        self.enqueue(
            request,
            subject,
            Answer::Event {
                userdata,
                outcome: None,
                offer,
            },
        )
    }

    fn enqueue(
        &self,
        request: Request,
        subject: Option<&str>,
        answer: Answer,
    ) -> Result<(u64, Option<String>)> {
        let mut st = self.state.lock();
        if st.dead {
            return Err(aborted("the connection has ended"));
        }
        st.last_seq += 1;
        let seq = st.last_seq;
        let label = (st.labels && request != Request::Public).then_some(seq);
        st.queue.push_back(Waiting {
            seq,
            label,
            request,
            subject: subject.map(str::to_owned),
            answer,
        });
        Ok((seq, label.map(|l| l.to_string())))
    }

    /// Where the request a line with `label` answers is: the one with that
    /// label; without labels, the oldest one still waiting for the server.
    /// An unlabeled line answers nothing while labels are on, and a label
    /// that is no request's answers nothing either.
    fn find(st: &State, label: Option<&str>) -> Option<usize> {
        match (st.labels, label) {
            (true, Some(l)) => {
                let n: u64 = l.parse().ok()?;
                st.queue
                    .iter()
                    .position(|w| w.label == Some(n) && w.awaits_server())
            }
            (true, None) => None,
            (false, _) => st.queue.iter().position(Waiting::awaits_server),
        }
    }

    /// Gives the request at `at` its answer: on its channel (and removes
    /// it), or as a reply event (queued once every older asynchronous
    /// request has its own).
    fn settle(st: &mut State, at: usize, result: Result<Reply>, events: &EventQueue) -> Answered {
        let mut answered = Answered {
            matched: true,
            ..Answered::default()
        };
        let Some(w) = st.queue.get_mut(at) else {
            return Answered::default();
        };
        let result = result.map_err(|e| explain(w.request, w.subject.as_deref(), e));
        match &mut w.answer {
            Answer::Channel(tx) => {
                // The waiter may have timed out and gone: nothing to do then.
                let _ = tx.try_send(result);
                st.queue.remove(at);
            }
            Answer::Event { outcome, offer, .. } => {
                let file = offer.take();
                if let Ok(Reply::FileOk(_)) = &result {
                    answered.offer = file;
                }
                *outcome = Some(result.map_err(|e| ReplyError::from(&e)));
                answered.queued = Pending::flush(st, events);
            }
        }
        answered
    }

    /// Queues the replies that are due: those of answered asynchronous
    /// requests not behind an unanswered one. Returns whether it queued any.
    fn flush(st: &mut State, events: &EventQueue) -> bool {
        let mut queued = false;
        loop {
            let next = st
                .queue
                .iter()
                .position(|w| matches!(w.answer, Answer::Event { .. }));
            let Some(at) = next else { break };
            let due = matches!(
                st.queue.get(at),
                Some(Waiting {
                    answer: Answer::Event {
                        outcome: Some(_),
                        ..
                    },
                    ..
                })
            );
            if !due {
                break;
            }
            if let Some(Waiting {
                answer:
                    Answer::Event {
                        userdata,
                        outcome: Some(outcome),
                        ..
                    },
                ..
            }) = st.queue.remove(at)
            {
                queued |= events.push_reply(Event::Reply { userdata, outcome });
            }
        }
        queued
    }

    /// Answers the request that `label` names (see [`Pending::find`]) if
    /// `reply` is the kind of answer it waits for; otherwise does nothing
    /// (an answer nobody asked for is ignored).
    pub(crate) fn answer(
        &self,
        label: Option<&str>,
        reply: Reply,
        events: &EventQueue,
    ) -> Answered {
        let kind = reply.answers();
        let mut st = self.state.lock();
        match Pending::find(&st, label) {
            Some(at) if st.queue.get(at).is_some_and(|w| w.request == kind) => {
                Pending::settle(&mut st, at, Ok(reply), events)
            }
            _ => Answered::default(),
        }
    }

    /// Answers the request that `label` names, whatever it is, with an
    /// error. `matched` is false when the error answers no request (it is
    /// then an event for the caller).
    pub(crate) fn fail(&self, label: Option<&str>, error: Error, events: &EventQueue) -> Answered {
        let mut st = self.state.lock();
        match Pending::find(&st, label) {
            Some(at) => Pending::settle(&mut st, at, Err(error), events),
            None => Answered::default(),
        }
    }

    /// Answers the asynchronous request number `seq` here, without the
    /// server: a public message once written (`Ok(Sent)`), or any request
    /// whose line could not be written (the write's error). Returns whether
    /// a reply was queued. Nothing happens when the request was answered
    /// already ([`Pending::close`] may have run meanwhile).
    pub(crate) fn resolve(&self, seq: u64, result: Result<Reply>, events: &EventQueue) -> bool {
        let mut st = self.state.lock();
        let at = st
            .queue
            .iter()
            .position(|w| w.seq == seq && matches!(w.answer, Answer::Event { outcome: None, .. }));
        match at {
            Some(at) => Pending::settle(&mut st, at, result, events).queued,
            None => false,
        }
    }

    /// Marks the connection ended: every waiting request gets 03 (on its
    /// channel or as a reply event, in request order) and no new one is
    /// accepted. Returns whether a reply was queued. Called before the
    /// final `Disconnected` event is queued, so the replies come first.
    pub(crate) fn close(&self, detail: &str, events: &EventQueue) -> bool {
        let mut st = self.state.lock();
        st.dead = true;
        for w in &mut st.queue {
            match &mut w.answer {
                Answer::Channel(tx) => {
                    let _ = tx.try_send(Err(aborted(detail)));
                }
                Answer::Event { outcome, offer, .. } => {
                    *offer = None;
                    if outcome.is_none() {
                        *outcome = Some(Err(ReplyError::from(&aborted(detail))));
                    }
                }
            }
        }
        st.queue
            .retain(|w| matches!(w.answer, Answer::Event { .. }));
        Pending::flush(&mut st, events)
    }

    /// Accepts requests again after [`Pending::close`]: the client has
    /// reconnected (`reconnect.rs`).
    pub(crate) fn reopen(&self) {
        self.state.lock().dead = false;
    }

    /// True once [`Pending::close`] ran (and no [`Pending::reopen`] since).
    pub(crate) fn is_closed(&self) -> bool {
        self.state.lock().dead
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(events: &EventQueue) -> (u64, std::result::Result<Reply, ReplyError>) {
        match events.pop(Duration::ZERO) {
            Ok(Event::Reply { userdata, outcome }) => (userdata, outcome),
            other => panic!("expected a reply, got {other:?}"),
        }
    }

    #[test]
    fn labels_match_whatever_the_order() {
        let q = EventQueue::new(8);
        let p = Pending::new(true);
        let (a, la) = p.push(Request::List, None).unwrap();
        let (b, lb) = p.push(Request::Sent, Some("bob")).unwrap();
        let (la, lb) = (la.unwrap(), lb.unwrap());
        assert_ne!(la, lb);
        // An unlabeled error (caused by a public message, say) answers
        // neither: it is an event.
        assert!(
            !p.fail(None, Error::new(ErrorCode::InvalidText, "x"), &q)
                .matched
        );
        assert!(p.answer(Some(&lb), Reply::Sent, &q).matched);
        assert!(
            !p.answer(Some(&la), Reply::Sent, &q).matched,
            "a list waits for USERS"
        );
        assert!(
            p.answer(Some(&la), Reply::Users(vec!["ana".into()]), &q)
                .matched
        );
        assert!(matches!(b.wait(Duration::ZERO), Ok(Reply::Sent)));
        assert!(matches!(a.wait(Duration::ZERO), Ok(Reply::Users(_))));
        assert!(!p.answer(Some("999"), Reply::Pong, &q).matched);
        assert!(
            q.pop(Duration::ZERO).is_err(),
            "no event for a waited request"
        );
    }

    #[test]
    fn without_labels_the_oldest_is_answered() {
        let q = EventQueue::new(8);
        let p = Pending::new(false);
        let (a, la) = p.push(Request::Ping, None).unwrap();
        assert_eq!(la, None);
        let (b, _) = p.push(Request::Sent, Some("bob")).unwrap();
        assert!(
            !p.answer(None, Reply::Sent, &q).matched,
            "the oldest waits for PONG"
        );
        assert!(p.answer(None, Reply::Pong, &q).matched);
        assert!(
            p.fail(None, Error::new(ErrorCode::NoSuchUser, "x"), &q)
                .matched
        );
        assert!(a.wait(Duration::ZERO).is_ok());
        assert_eq!(
            b.wait(Duration::ZERO).unwrap_err().code(),
            ErrorCode::NoSuchUser
        );
        p.close("bye", &q);
        assert!(p.push(Request::List, None).is_err());
        assert!(p.push_async(Request::List, None, 1, None).is_err());
    }

    /// Asynchronous requests are answered as events, in request order,
    /// even when a later one (a public message) is answered first; the
    /// waited ones in between keep their channels; a full queue takes
    /// replies anyway.
    #[test]
    fn async_replies_come_in_request_order() {
        let q = EventQueue::new(1);
        assert!(q.push(Event::Joined { nick: "x".into() }), "now full");
        let p = Pending::new(true);
        let (_, l1) = p.push_async(Request::Sent, Some("bob"), 1, None).unwrap();
        let (t, l2) = p.push(Request::Ping, None).unwrap();
        let (seq3, l3) = p.push_async(Request::Public, None, 3, None).unwrap();
        assert_eq!(l3, None, "a public message carries no label");
        let (_, l4) = p.push_async(Request::List, None, 4, None).unwrap();
        assert!(!p.resolve(seq3, Ok(Reply::Sent), &q), "waits behind 1");
        let r = p.answer(l2.as_deref(), Reply::Pong, &q);
        assert!(r.matched && !r.queued);
        assert!(t.wait(Duration::ZERO).is_ok());
        let r = p.fail(
            l1.as_deref(),
            Error::new(ErrorCode::NoSuchUser, "not here"),
            &q,
        );
        assert!(r.matched && r.queued, "1 then 3 are due");
        let r = p.answer(l4.as_deref(), Reply::Users(vec!["ana".into()]), &q);
        assert!(r.matched && r.queued);
        assert!(matches!(q.pop(Duration::ZERO), Ok(Event::Joined { .. })));
        assert_eq!(
            reply(&q),
            (
                1,
                Err(ReplyError {
                    code: ErrorCode::NoSuchUser,
                    detail: "no user \"bob\" is online: not here".into()
                })
            )
        );
        assert_eq!(reply(&q), (3, Ok(Reply::Sent)));
        assert_eq!(reply(&q), (4, Ok(Reply::Users(vec!["ana".into()]))));
        // A second answer to an answered request matches nothing.
        assert!(!p.resolve(seq3, Ok(Reply::Sent), &q));
    }

    /// Closing answers every asynchronous request with 03, in order, before
    /// the final event.
    #[test]
    fn close_answers_async_requests_before_the_final_event() {
        let q = EventQueue::new(4);
        let p = Pending::new(false);
        p.push_async(Request::Ping, None, 7, None).unwrap();
        p.push_async(Request::List, None, 8, None).unwrap();
        q.push_final(ErrorCode::ConnectionAborted, "gone".into());
        assert!(p.close("gone", &q));
        for want in [7, 8] {
            let (userdata, outcome) = reply(&q);
            assert_eq!(userdata, want);
            assert_eq!(outcome.unwrap_err().code, ErrorCode::ConnectionAborted);
        }
        assert!(matches!(
            q.pop(Duration::ZERO),
            Ok(Event::Disconnected { .. })
        ));
    }
}
