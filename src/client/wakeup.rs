//! The one rule for calls made from inside a wake-up function
//! ([`super::Client::set_wakeup`]; in C, `papo_client_set_wakeup`).
//!
//! A wake-up function runs on a client's reader thread: the only thread
//! that reads that client's socket and queues its events. While it runs,
//! that client's answers and events wait for it to return, so anything that
//! waits (for an answer, an event, a connection, another thread) either
//! deadlocks or stalls the reader for as long as it waits. Hence, inside
//! any client's wake-up function, every call that would wait fails at once
//! with 17 `InvalidArgument` and does nothing:
//!
//! - connecting ([`super::Client::connect`], [`super::Client::connect_with`]);
//! - requests that wait for the server's answer: a private
//!   [`super::Client::send`], [`super::Client::users`],
//!   [`super::Client::change_nick`], [`super::Client::ping`],
//!   [`super::Client::send_file`], [`super::Client::send_bytes`];
//! - [`super::Client::next_event`], whatever the timeout;
//! - [`super::Client::disconnect`] of another client (it would wait for that
//!   client's threads).
//!
//! Allowed: a public `send` (it only writes), the asynchronous requests
//! (`send_async` and the other `*_async`: their answers come as events),
//! `wakeup`, `set_wakeup`, the getters and
//! setters that do not talk to the server (`nick`, `download_dir`,
//! `set_download_dir`, `is_connected`, ...), and `disconnect` of the client
//! whose function is running (it does not wait for its own reader thread).
//!
//! The rule is per thread: a flag set around each call of a wake-up
//! function ([`Running`]), asked with [`in_wakeup`]. The C API adds only
//! what follows from freeing memory: `Desconecta_cliente` frees the handle,
//! and a handle cannot be freed while a callback may be using it, so it is
//! refused inside any wake-up callback.

use std::cell::Cell;

use crate::error::{Error, ErrorCode, Result};

thread_local! {
    /// The address of the client state (`Inner`) whose wake-up function
    /// this thread is running; 0 when it runs none.
    static RUNNING: Cell<usize> = const { Cell::new(0) };
}

/// True while the calling thread is running a client's wake-up function
/// (see [`crate::Client::set_wakeup`]): then every call that would wait
/// fails with 17 `InvalidArgument` (connecting, requests that wait for the
/// server's answer, `next_event`, `disconnect` of another client).
///
/// The C API asks it to refuse `Desconecta_cliente` inside a wake-up
/// callback, since a handle cannot be freed there. A program may ask it
/// too, say to defer work that waits to another thread.
pub fn in_wakeup() -> bool {
    RUNNING.with(Cell::get) != 0
}

/// True while this thread runs the wake-up function of the client whose
/// state is at `client`.
pub(crate) fn running_for(client: *const ()) -> bool {
    let id = client as usize;
    id != 0 && RUNNING.with(Cell::get) == id
}

/// `Ok` outside wake-up functions; inside one, 17 `InvalidArgument` for
/// `what`, a call that would wait.
pub(crate) fn check_may_wait(what: &str) -> Result<()> {
    if in_wakeup() {
        Err(Error::new(
            ErrorCode::InvalidArgument,
            format!(
                "{what} would wait, and nothing may wait inside a wake-up function (it runs on a reader thread; see Client::set_wakeup)"
            ),
        ))
    } else {
        Ok(())
    }
}

/// Marks this thread as running the wake-up function of `client` until it
/// is dropped, then restores what was there before.
pub(crate) struct Running {
    previous: usize,
}

impl Running {
    pub(crate) fn enter(client: *const ()) -> Running {
        Running {
            previous: RUNNING.with(|r| r.replace(client as usize)),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.with(|r| r.set(self.previous));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_is_per_thread_and_restored() {
        assert!(!in_wakeup());
        assert!(check_may_wait("x").is_ok());
        let a = 0x10 as *const ();
        let b = 0x20 as *const ();
        {
            let _outer = Running::enter(a);
            assert!(in_wakeup() && running_for(a) && !running_for(b));
            assert_eq!(
                check_may_wait("ping").unwrap_err().code(),
                ErrorCode::InvalidArgument
            );
            std::thread::spawn(|| assert!(!in_wakeup())).join().unwrap();
            {
                let _inner = Running::enter(b);
                assert!(running_for(b) && !running_for(a));
            }
            assert!(running_for(a));
        }
        assert!(!in_wakeup() && !running_for(a));
    }
}
