//! Policing by time: the flood limit and keepalive (PROTOCOL.md, "Flood
//! limit" and "Keepalive"), on the session clock (nanoseconds, see
//! [`super::Rules::nanos`]), in 24 bytes per connection.
//!
//! - Flood limit: a GCRA ("generic cell rate algorithm", the token bucket
//!   written with one timestamp). A client may send `flood_burst_lines`
//!   lines at once and then `flood_lines_per_sec` lines per second for
//!   ever; a line beyond that is flooding, and the client is disconnected
//!   with `ERROR 03`. Disconnecting rather than throttling keeps the cost of
//!   a flooder bounded by the burst: nothing of it is kept, and nobody else
//!   waits.
//! - Keepalive: a registered client that has sent nothing for
//!   `keepalive_interval` is sent `PING :keepalive`; if it then sends
//!   nothing (any byte counts) for `keepalive_timeout`, it is dropped with
//!   `ERROR 11` and everyone is told `LEFT`.

/// The token of the keepalive probe, `PING :keepalive`.
pub(super) const PROBE_TOKEN: &str = "keepalive";

/// The time-based state of one connection.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Meter {
    /// GCRA "theoretical arrival time" of the next line.
    tat: u64,
    /// When the client was last heard from (any byte).
    heard: u64,
    /// When the keepalive probe was sent; 0 if none is outstanding.
    probe: u64,
}

/// What keepalive says about one connection.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Idle {
    /// Heard from recently enough, or already probed and still in time.
    Fine,
    /// Silent for `keepalive_interval`: send it a probe now.
    Probe,
    /// Probed and silent for `keepalive_timeout` since: drop it.
    Dead,
}

impl Meter {
    /// The state of a connection accepted (and so heard from) at `now`.
    pub(super) fn new(now: u64) -> Meter {
        Meter {
            tat: now,
            heard: now,
            probe: 0,
        }
    }

    /// The client was heard from at `now`.
    pub(super) fn heard(&mut self, now: u64) {
        self.heard = now;
        self.probe = 0;
    }

    /// Accounts for one line at `now`; false if the line is flooding.
    pub(super) fn allow_line(&mut self, now: u64, interval: u64, tolerance: u64) -> bool {
        let tat = self.tat.max(now);
        if tat - now > tolerance {
            return false;
        }
        self.tat = tat.saturating_add(interval);
        true
    }

    /// Keepalive's verdict at `now`. On `Probe`, the probe is recorded as
    /// sent.
    pub(super) fn idle(&mut self, now: u64, interval: u64, timeout: u64) -> Idle {
        if self.probe != 0 {
            if now.saturating_sub(self.probe) >= timeout {
                return Idle::Dead;
            }
            return Idle::Fine;
        }
        if now.saturating_sub(self.heard) >= interval {
            self.probe = now;
            return Idle::Probe;
        }
        Idle::Fine
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn burst_then_rate() {
        // 10 lines per second, a burst of 5.
        let (interval, tolerance) = (S / 10, S / 10 * 4);
        let mut now = 1;
        let mut m = Meter::new(now);
        for k in 0..5 {
            assert!(
                m.allow_line(now, interval, tolerance),
                "line {k} of the burst"
            );
        }
        assert!(
            !m.allow_line(now, interval, tolerance),
            "one over the burst"
        );
        // 100 ms later one more line is allowed (10 per second), not two.
        now += S / 10;
        assert!(m.allow_line(now, interval, tolerance));
        assert!(!m.allow_line(now, interval, tolerance));
        // After a long pause the whole burst is back, no more.
        now += 100 * S;
        for _ in 0..5 {
            assert!(m.allow_line(now, interval, tolerance));
        }
        assert!(!m.allow_line(now, interval, tolerance));
    }

    #[test]
    fn keepalive_probe_then_drop() {
        let (interval, timeout) = (60 * S, 20 * S);
        let mut now = 1;
        let mut m = Meter::new(now);
        assert_eq!(m.idle(now, interval, timeout), Idle::Fine);
        now += 60 * S;
        assert_eq!(m.idle(now, interval, timeout), Idle::Probe);
        assert_eq!(m.idle(now, interval, timeout), Idle::Fine);
        now += 19 * S;
        assert_eq!(m.idle(now, interval, timeout), Idle::Fine);
        now += S;
        assert_eq!(m.idle(now, interval, timeout), Idle::Dead);
        // Any traffic clears the probe.
        m.heard(now);
        assert_eq!(m.idle(now, interval, timeout), Idle::Fine);
    }
}
