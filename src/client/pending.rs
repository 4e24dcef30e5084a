//! Requests waiting for the server's answer, in the order they were sent.
//!
//! The server answers a client's lines in order (PROTOCOL.md, "Client
//! lines"), so the reader thread hands each answer line to the oldest
//! waiting request. A request is queued under the same lock as its write
//! (see `Inner::write_line`), so the queue order is the wire order.

use std::collections::VecDeque;
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::time::Duration;

use parking_lot::Mutex;

use crate::error::{Error, ErrorCode, Result};

/// What a request waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Request {
    /// `Nick:text`: `SENT` or `ERROR 02`.
    Private,
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

struct Waiting {
    request: Request,
    answer: SyncSender<Result<Reply>>,
}

struct State {
    /// Set once the connection has ended: no request is accepted any more.
    dead: bool,
    queue: VecDeque<Waiting>,
}

/// The FIFO of requests waiting for an answer.
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
    /// Waits for the answer, up to `timeout` (then 11 `Timeout`; the request
    /// stays queued so that later answers still match their requests).
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
    pub(crate) fn new() -> Pending {
        Pending {
            state: Mutex::new(State {
                dead: false,
                queue: VecDeque::new(),
            }),
        }
    }

    /// Queues a request; 03 once the connection has ended.
    pub(crate) fn push(&self, request: Request) -> Result<Ticket> {
        let mut st = self.state.lock();
        if st.dead {
            return Err(aborted("the connection has ended"));
        }
        let (tx, rx) = sync_channel(1);
        st.queue.push_back(Waiting {
            request,
            answer: tx,
        });
        Ok(Ticket { rx })
    }

    /// Answers the oldest request if it is of the kind `request`; otherwise
    /// leaves the queue alone and returns `false` (an answer nobody asked
    /// for is ignored).
    pub(crate) fn answer_if(&self, request: Request, answer: Result<Reply>) -> bool {
        let mut st = self.state.lock();
        if st.queue.front().map(|w| w.request) != Some(request) {
            return false;
        }
        if let Some(w) = st.queue.pop_front() {
            // The waiter may have timed out and gone: nothing to do then.
            let _ = w.answer.try_send(answer);
        }
        true
    }

    /// Answers the oldest request, whatever it is, with an error. Returns
    /// `false` when no request is waiting.
    pub(crate) fn fail_head(&self, error: Error) -> bool {
        let mut st = self.state.lock();
        match st.queue.pop_front() {
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
