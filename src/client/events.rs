//! The bounded event queue between the reader thread and the caller, with
//! its wake-up flag ([`EventQueue::wakeup`]) and its readiness descriptor
//! ([`EventQueue::fd`]).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::Event;
use crate::error::{Error, ErrorCode, Result};
#[cfg(unix)]
use crate::readiness::Readiness;

struct State {
    queue: VecDeque<Event>,
    capacity: usize,
    /// The final `Disconnected` event has been queued: nothing more goes in
    /// (except replies, which go in front of it).
    ended: bool,
    /// The final `Disconnected` event has been taken by the caller.
    final_taken: bool,
    /// `Client::wakeup` was called and no `next_event` has returned since.
    wakeup: bool,
    /// The readiness descriptor, once asked for; kept in step with
    /// `queue` (readable exactly while it is non-empty) under this lock.
    #[cfg(unix)]
    ready: Option<Readiness>,
    /// The descriptor was closed with the client: never made again.
    #[cfg(unix)]
    fd_closed: bool,
}

impl State {
    /// Brings the descriptor in step with the queue; called after every
    /// change of the queue, under the lock.
    fn sync_ready(&mut self) {
        #[cfg(unix)]
        if let Some(r) = &mut self.ready {
            r.update(!self.queue.is_empty());
        }
    }
}

/// A FIFO of events with a capacity. The reader thread waits while it is
/// full (so TCP backpressure reaches the server); the final `Disconnected`
/// event and the replies to asynchronous requests always fit, so ending
/// and answering never wait.
pub(crate) struct EventQueue {
    state: Mutex<State>,
    not_empty: Condvar,
    not_full: Condvar,
}

impl EventQueue {
    pub(crate) fn new(capacity: usize) -> EventQueue {
        EventQueue {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                capacity: capacity.max(1),
                ended: false,
                final_taken: false,
                wakeup: false,
                #[cfg(unix)]
                ready: None,
                #[cfg(unix)]
                fd_closed: false,
            }),
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
        }
    }

    /// Queues an event, waiting while the queue is full. Returns `false`
    /// (and drops the event) once the queue has ended.
    pub(crate) fn push(&self, event: Event) -> bool {
        let mut st = self.state.lock();
        while !st.ended && st.queue.len() >= st.capacity {
            self.not_full.wait(&mut st);
        }
        if st.ended {
            return false;
        }
        st.queue.push_back(event);
        st.sync_ready();
        self.not_empty.notify_one();
        true
    }

    /// Queues the answer to an asynchronous request without waiting: over
    /// the capacity if need be (replies are bounded by the caller's own
    /// outstanding requests), and in front of the final `Disconnected`
    /// event if that one is queued already, so that it stays the last.
    /// Returns `false` (and drops the reply) only once the final event has
    /// been taken, when nobody could pull it any more.
    pub(crate) fn push_reply(&self, event: Event) -> bool {
        let mut st = self.state.lock();
        if st.final_taken {
            return false;
        }
        if st.ended {
            let at = st.queue.len().saturating_sub(1);
            st.queue.insert(at, event);
        } else {
            st.queue.push_back(event);
        }
        st.sync_ready();
        self.not_empty.notify_one();
        true
    }

    /// Queues the final `Disconnected` event (over the capacity if need
    /// be) unless one was queued already. Returns whether it was queued.
    /// Wakes everyone waiting on the queue.
    pub(crate) fn push_final(&self, code: ErrorCode, reason: String) -> bool {
        let mut st = self.state.lock();
        if st.ended {
            return false;
        }
        st.ended = true;
        st.queue.push_back(Event::Disconnected { code, reason });
        st.sync_ready();
        self.not_empty.notify_all();
        self.not_full.notify_all();
        true
    }

    /// True once the final event has been queued.
    pub(crate) fn has_ended(&self) -> bool {
        self.state.lock().ended
    }

    /// Makes a `pop` in progress return at once, or else the next one
    /// (see `Client::wakeup`).
    pub(crate) fn wakeup(&self) {
        self.state.lock().wakeup = true;
        self.not_empty.notify_all();
    }

    /// The next event, waiting up to `timeout`; a wake-up ends the wait
    /// with 11 `Timeout`. Whatever it returns, a pending wake-up is
    /// consumed (as `mpv_wait_event` consumes `mpv_wakeup`).
    pub(crate) fn pop(&self, timeout: Duration) -> Result<Event> {
        let deadline = Instant::now().checked_add(timeout);
        let mut st = self.state.lock();
        let result = loop {
            if let Some(event) = st.queue.pop_front() {
                if matches!(event, Event::Disconnected { .. }) {
                    st.final_taken = true;
                }
                st.sync_ready();
                self.not_full.notify_one();
                break Ok(event);
            }
            if st.final_taken {
                break Err(Error::new(
                    ErrorCode::Closed,
                    "the connection has ended and every event was delivered",
                ));
            }
            if st.wakeup {
                break Err(Error::new(
                    ErrorCode::Timeout,
                    "the wait was interrupted by Client::wakeup",
                ));
            }
            match deadline {
                Some(d) => {
                    if Instant::now() >= d {
                        break Err(Error::new(
                            ErrorCode::Timeout,
                            format!("no event within {} ms", timeout.as_millis()),
                        ));
                    }
                    self.not_empty.wait_until(&mut st, d);
                }
                None => self.not_empty.wait(&mut st),
            }
        };
        st.wakeup = false;
        result
    }

    /// The readiness descriptor, made on the first call (readable at once
    /// if events are queued). Errors: the system's when it cannot be made
    /// (`EMFILE` ...); `EBADF` once [`EventQueue::close_fd`] ran.
    #[cfg(unix)]
    pub(crate) fn fd(&self) -> std::io::Result<std::os::fd::RawFd> {
        let mut st = self.state.lock();
        if st.fd_closed {
            return Err(std::io::Error::from_raw_os_error(libc::EBADF));
        }
        if st.ready.is_none() {
            st.ready = Some(Readiness::new()?);
            st.sync_ready();
        }
        Ok(st.ready.as_ref().map_or(-1, Readiness::fd))
    }

    /// Closes the readiness descriptor, if one was made; it is never made
    /// again. Called when the `Client` is dropped, so that no borrow of
    /// the descriptor handed out by `Client::event_fd` outlives it.
    #[cfg(unix)]
    pub(crate) fn close_fd(&self) {
        let mut st = self.state.lock();
        st.fd_closed = true;
        st.ready = None;
    }
}
