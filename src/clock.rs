//! The clock of the server's rules' timers (the registration timeout, keepalive and
//! the flood limit), which the I/O threads pass to the sessions.
//!
//! In a normal build it is the system's monotonic clock and nothing else.
//! With the cargo feature `test-support` (off by default; the project's own
//! tests turn it on), [`crate::ServerConfig`] has a `clock` field that a test
//! sets to a [`Clock::manual`] clock, which stands still until
//! [`Clock::advance`] moves it and then wakes the server's I/O threads, so
//! that a 30-second timeout is tested over real sockets without waiting 30
//! seconds. (The sessions themselves take the time as an argument and are
//! tested with any time at all, without a server.)
//!
//! The server's own housekeeping (how long a closing connection may linger,
//! how long shutdown waits for queued bytes) always reads the real clock, so
//! that it ends even when a manual clock stands still.

use std::fmt;
#[cfg(feature = "test-support")]
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
#[cfg(feature = "test-support")]
use std::sync::Weak;
#[cfg(feature = "test-support")]
use std::time::Duration;
use std::time::Instant;

#[cfg(feature = "test-support")]
use parking_lot::Mutex;

/// The clock behind the server's protocol timers: the registration timeout
/// (`ServerConfig::registration_timeout`), keepalive
/// (`ServerConfig::keepalive_interval`, `ServerConfig::keepalive_timeout`)
/// and the flood limit (`ServerConfig::flood_lines_per_sec`).
///
/// `Clock::default()` is the system's monotonic clock. [`Clock::manual`]
/// makes one that stands still until [`Clock::advance`] moves it; tests use
/// it to drive timeouts without waiting. Cloning a clock shares it: every
/// clone reads and moves the same time, and one manual clock may drive
/// several servers.
///
/// Thread safety: all methods may be called from any thread.
#[derive(Clone, Default)]
pub struct Clock {
    #[cfg(feature = "test-support")]
    manual: Option<Arc<Manual>>,
}

#[cfg(feature = "test-support")]
struct Manual {
    /// The instant the clock was made; it reads `base + offset`.
    base: Instant,
    /// Nanoseconds the clock has been advanced.
    offset_ns: AtomicU64,
    /// What to call when the time moves (each server's wake-up of its I/O
    /// threads), as long as its owner keeps it.
    watchers: Mutex<Vec<Weak<dyn Fn() + Send + Sync>>>,
}

impl Clock {
    /// The system's monotonic clock (`std::time::Instant`), the default.
    pub fn system() -> Clock {
        Clock::default()
    }

    /// A clock that starts at the current instant and then stands still
    /// until [`Clock::advance`] moves it. For tests and simulations.
    #[cfg(feature = "test-support")]
    pub fn manual() -> Clock {
        Clock {
            manual: Some(Arc::new(Manual {
                base: Instant::now(),
                offset_ns: AtomicU64::new(0),
                watchers: Mutex::new(Vec::new()),
            })),
        }
    }

    /// Whether this is a manual clock.
    pub fn is_manual(&self) -> bool {
        #[cfg(feature = "test-support")]
        return self.manual.is_some();
        #[cfg(not(feature = "test-support"))]
        return false;
    }

    /// The current instant of this clock.
    #[inline]
    pub fn now(&self) -> Instant {
        #[cfg(not(feature = "test-support"))]
        return Instant::now();
        #[cfg(feature = "test-support")]
        match &self.manual {
            None => Instant::now(),
            Some(m) => {
                let ns = m.offset_ns.load(Ordering::Acquire);
                m.base
                    .checked_add(Duration::from_nanos(ns))
                    .unwrap_or(m.base)
            }
        }
    }

    /// Moves a manual clock forward by `by` and wakes the I/O threads of
    /// every running server that uses it, so that timers now due fire
    /// (a registration timeout, a keepalive probe, ...). The timers fire
    /// asynchronously, on the I/O threads, shortly after this returns; a
    /// test waits for their effect (a line, an event), not for this call.
    /// Does nothing on the system clock.
    #[cfg(feature = "test-support")]
    pub fn advance(&self, by: Duration) {
        let Some(m) = &self.manual else {
            return;
        };
        let ns = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        let _ = m
            .offset_ns
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |o| {
                Some(o.saturating_add(ns))
            });
        let live: Vec<Arc<dyn Fn() + Send + Sync>> = {
            let mut w = m.watchers.lock();
            w.retain(|s| s.strong_count() > 0);
            w.iter().filter_map(Weak::upgrade).collect()
        };
        for wake in live {
            wake();
        }
    }

    /// Calls `wake` whenever a manual clock moves, for as long as its owner
    /// keeps the `Arc` (a server: the wake-up of its I/O threads). Does
    /// nothing on the system clock.
    pub(crate) fn watch(&self, wake: &Arc<dyn Fn() + Send + Sync>) {
        #[cfg(not(feature = "test-support"))]
        let _ = wake;
        #[cfg(feature = "test-support")]
        if let Some(m) = &self.manual {
            let mut w = m.watchers.lock();
            w.retain(|s| s.strong_count() > 0);
            w.push(Arc::downgrade(wake));
        }
    }
}

impl PartialEq for Clock {
    /// Two clocks are equal when both are the system clock, or both are
    /// (clones of) the same manual clock.
    fn eq(&self, other: &Clock) -> bool {
        #[cfg(not(feature = "test-support"))]
        return other.is_manual() == self.is_manual();
        #[cfg(feature = "test-support")]
        match (&self.manual, &other.manual) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Eq for Clock {}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        #[cfg(not(feature = "test-support"))]
        return f.write_str("Clock::System");
        #[cfg(feature = "test-support")]
        match &self.manual {
            None => f.write_str("Clock::System"),
            Some(m) => write!(
                f,
                "Clock::Manual(+{:?})",
                Duration::from_nanos(m.offset_ns.load(Ordering::Relaxed))
            ),
        }
    }
}

#[cfg(all(test, feature = "test-support"))]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let c = Clock::manual();
        let t0 = c.now();
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(c.now(), t0);
        let shared = c.clone();
        shared.advance(Duration::from_secs(30));
        assert_eq!(c.now(), t0 + Duration::from_secs(30));
        assert_eq!(c, shared);
        assert_ne!(c, Clock::manual());
        assert_eq!(Clock::system(), Clock::default());
        assert!(!Clock::default().is_manual());
        Clock::system().advance(Duration::from_secs(1)); // no effect, no panic
        c.advance(Duration::MAX); // saturates
        let _ = c.now();
    }
}
