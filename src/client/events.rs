//! The bounded event queue between the reader thread and the caller.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::Event;
use crate::error::{Error, ErrorCode, Result};

struct State {
    queue: VecDeque<Event>,
    capacity: usize,
    /// The final `Disconnected` event has been queued: nothing more goes in.
    ended: bool,
    /// The final `Disconnected` event has been taken by the caller.
    final_taken: bool,
}

/// A FIFO of events with a capacity. The reader thread waits while it is
/// full (so TCP backpressure reaches the server); the final `Disconnected`
/// event always fits, so ending never waits.
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
        self.not_empty.notify_all();
        self.not_full.notify_all();
        true
    }

    /// True once the final event has been queued.
    pub(crate) fn has_ended(&self) -> bool {
        self.state.lock().ended
    }

    /// The next event, waiting up to `timeout`.
    pub(crate) fn pop(&self, timeout: Duration) -> Result<Event> {
        let deadline = Instant::now().checked_add(timeout);
        let mut st = self.state.lock();
        loop {
            if let Some(event) = st.queue.pop_front() {
                if matches!(event, Event::Disconnected { .. }) {
                    st.final_taken = true;
                }
                self.not_full.notify_one();
                return Ok(event);
            }
            if st.final_taken {
                return Err(Error::new(
                    ErrorCode::Closed,
                    "the connection has ended and every event was delivered",
                ));
            }
            match deadline {
                Some(d) => {
                    if Instant::now() >= d {
                        return Err(Error::new(
                            ErrorCode::Timeout,
                            format!("no event within {} ms", timeout.as_millis()),
                        ));
                    }
                    self.not_empty.wait_until(&mut st, d);
                }
                None => self.not_empty.wait(&mut st),
            }
        }
    }
}
