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

use std::collections::VecDeque;
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::time::Duration;

use parking_lot::Mutex;

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
}

/// A successful answer.
#[derive(Debug)]
pub(crate) enum Reply {
    Sent,
    Users(Vec<String>),
    Nick,
    Pong,
    /// `FILEOK <id>`: the transfer's number.
    FileOk(u64),
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
        }
    }
}

struct Waiting {
    /// The request's label, when the server echoes labels.
    label: Option<u64>,
    request: Request,
    answer: SyncSender<Result<Reply>>,
}

struct State {
    /// Set once the connection has ended: no request is accepted any more.
    dead: bool,
    /// The server echoes labels.
    labels: bool,
    /// The last label handed out.
    last_label: u64,
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
                last_label: 0,
                queue: VecDeque::new(),
            }),
        }
    }

    /// Queues a request; 03 once the connection has ended. Returns the
    /// ticket to wait on and the label to send the request with, if the
    /// server echoes labels.
    pub(crate) fn push(&self, request: Request) -> Result<(Ticket, Option<String>)> {
        let mut st = self.state.lock();
        if st.dead {
            return Err(aborted("the connection has ended"));
        }
        let label = st.labels.then(|| {
            st.last_label += 1;
            st.last_label
        });
        let (tx, rx) = sync_channel(1);
        st.queue.push_back(Waiting {
            label,
            request,
            answer: tx,
        });
        Ok((Ticket { rx }, label.map(|l| l.to_string())))
    }

    /// Takes the request a line with `label` answers: the one with that
    /// label; without labels, the oldest one (if `fits` it). An unlabeled
    /// line answers nothing while labels are on, and a label that is no
    /// request's answers nothing either.
    fn take(&self, label: Option<&str>, fits: impl Fn(Request) -> bool) -> Option<Waiting> {
        let mut st = self.state.lock();
        let at = match (st.labels, label) {
            (true, Some(l)) => {
                let n: u64 = l.parse().ok()?;
                st.queue.iter().position(|w| w.label == Some(n))?
            }
            (true, None) => return None,
            (false, _) => 0,
        };
        if !st.queue.get(at).is_some_and(|w| fits(w.request)) {
            return None;
        }
        st.queue.remove(at)
    }

    /// Answers the request that `label` names (see [`Pending::take`]) if
    /// `reply` is the kind of answer it waits for; otherwise does nothing
    /// and returns false (an answer nobody asked for is ignored).
    pub(crate) fn answer(&self, label: Option<&str>, reply: Reply) -> bool {
        let kind = reply.answers();
        match self.take(label, |r| r == kind) {
            Some(w) => {
                // The waiter may have timed out and gone: nothing to do then.
                let _ = w.answer.try_send(Ok(reply));
                true
            }
            None => false,
        }
    }

    /// Answers the request that `label` names, whatever it is, with an
    /// error. Returns false when the error answers no request (it is then
    /// an event for the caller).
    pub(crate) fn fail(&self, label: Option<&str>, error: Error) -> bool {
        match self.take(label, |_| true) {
            Some(w) => {
                let _ = w.answer.try_send(Err(error));
                true
            }
            None => false,
        }
    }

    /// Marks the connection ended: every waiting request gets 03 and no new
    /// one is accepted.
    pub(crate) fn close(&self, detail: &str) {
        let mut st = self.state.lock();
        st.dead = true;
        for w in st.queue.drain(..) {
            let _ = w.answer.try_send(Err(aborted(detail)));
        }
    }

    /// True once [`Pending::close`] ran.
    pub(crate) fn is_closed(&self) -> bool {
        self.state.lock().dead
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_match_whatever_the_order() {
        let p = Pending::new(true);
        let (a, la) = p.push(Request::List).unwrap();
        let (b, lb) = p.push(Request::Sent).unwrap();
        let (la, lb) = (la.unwrap(), lb.unwrap());
        assert_ne!(la, lb);
        // An unlabeled error (caused by a public message, say) answers
        // neither: it is an event.
        assert!(!p.fail(None, Error::new(ErrorCode::InvalidText, "x")));
        assert!(p.answer(Some(&lb), Reply::Sent));
        assert!(!p.answer(Some(&la), Reply::Sent), "a list waits for USERS");
        assert!(p.answer(Some(&la), Reply::Users(vec!["ana".into()])));
        assert!(matches!(b.wait(Duration::ZERO), Ok(Reply::Sent)));
        assert!(matches!(a.wait(Duration::ZERO), Ok(Reply::Users(_))));
        assert!(!p.answer(Some("999"), Reply::Pong));
    }

    #[test]
    fn without_labels_the_oldest_is_answered() {
        let p = Pending::new(false);
        let (a, la) = p.push(Request::Ping).unwrap();
        assert_eq!(la, None);
        let (b, _) = p.push(Request::Sent).unwrap();
        assert!(!p.answer(None, Reply::Sent), "the oldest waits for PONG");
        assert!(p.answer(None, Reply::Pong));
        assert!(p.fail(None, Error::new(ErrorCode::NoSuchUser, "x")));
        assert!(a.wait(Duration::ZERO).is_ok());
        assert_eq!(
            b.wait(Duration::ZERO).unwrap_err().code(),
            ErrorCode::NoSuchUser
        );
        p.close("bye");
        assert!(p.push(Request::List).is_err());
    }
}
