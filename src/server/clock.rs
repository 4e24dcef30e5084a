//! The server's one source of time.
//!
//! Every time-based behaviour of the server (the registration timeout, how
//! long a closing connection may linger, the shutdown flush deadline) reads
//! the clock through [`now`], so that a later change can make it
//! controllable from tests without touching the I/O code. Waits that only
//! bound how long a caller blocks (`Server::next_event`) use the real clock.

use std::time::Instant;

/// The current instant.
#[inline]
pub(crate) fn now() -> Instant {
    Instant::now()
}
