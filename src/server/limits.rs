//! Per-connection policing by time: the flood limit and keepalive.
//!
//! Both read the configurable [`Clock`] (so tests drive them), once per
//! readiness event of a connection rather than once per line, and keep
//! their per-connection state in one small [`Meter`] (32 bytes) so that an
//! idle connection stays cheap.
//!
//! - Flood limit (`ServerConfig::flood_lines_per_sec`,
//!   `ServerConfig::flood_burst_lines`): a GCRA ("generic cell rate
//!   algorithm", the token bucket written with one timestamp). A client may
//!   send `flood_burst_lines` lines at once and then `flood_lines_per_sec`
//!   lines per second for ever; a line beyond that is flooding, and the
//!   client is disconnected with `ERROR 03` (PROTOCOL.md, "Limits").
//!   Disconnecting rather than throttling keeps the cost of a flooder
//!   bounded by the burst: nothing of it is kept, and nobody else waits.
//! - Keepalive (`ServerConfig::keepalive_interval`,
//!   `ServerConfig::keepalive_timeout`): a registered client that has sent
//!   nothing for `keepalive_interval` is sent `PING :keepalive`; if it then
//!   sends nothing (any line, even an empty one, or any byte counts) for
//!   `keepalive_timeout`, it is dropped with `ERROR 11` and everyone is
//!   told `LEFT`.

use std::time::{Duration, Instant};

use super::clock::Clock;
use crate::config::ServerConfig;

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The time-based state of one connection.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Meter {
    /// GCRA "theoretical arrival time" of the next line, in nanoseconds of
    /// the policing clock.
    tat: u64,
    /// When the client was last heard from (any byte).
    heard: u64,
    /// When the keepalive probe was sent; 0 if none is outstanding.
    probe: u64,
    /// Failed nickname attempts at the prompt.
    pub(crate) attempts: u32,
}

/// What keepalive says about one connection.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Idle {
    /// Heard from recently enough, or already probed and still in time.
    Fine,
    /// Silent for `keepalive_interval`: send it a probe now.
    Probe,
    /// Probed and silent for `keepalive_timeout` since: drop it.
    Dead,
}

/// The policing of one I/O thread: the configuration in nanoseconds and
/// the time last read from the clock.
pub(crate) struct Policing {
    clock: Clock,
    epoch: Instant,
    /// Nanoseconds since `epoch`, as last read by [`Policing::tick`].
    now: u64,
    /// GCRA emission interval (ns per line) and tolerance; `None`: no limit.
    flood: Option<(u64, u64)>,
    /// Keepalive interval and timeout (ns); `None`: no keepalive.
    keepalive: Option<(u64, u64)>,
    /// When the next keepalive sweep is due.
    next_sweep: u64,
}

/// The token of the keepalive probe, `PING :keepalive`.
pub(crate) const PROBE_TOKEN: &str = "keepalive";

impl Policing {
    pub(crate) fn new(cfg: &ServerConfig) -> Policing {
        let clock = cfg.clock.clone();
        let flood = match (cfg.flood_lines_per_sec, cfg.flood_burst_lines) {
            (0, _) => None,
            (rate, burst) => {
                let interval = 1_000_000_000 / u64::from(rate);
                let tolerance = interval.saturating_mul(u64::from(burst.max(1)) - 1);
                Some((interval.max(1), tolerance))
            }
        };
        let keepalive = if cfg.keepalive_interval.is_zero() {
            None
        } else {
            Some((
                nanos(cfg.keepalive_interval),
                nanos(cfg.keepalive_timeout).max(1),
            ))
        };
        let mut p = Policing {
            epoch: clock.now(),
            clock,
            now: 0,
            flood,
            keepalive,
            next_sweep: 0,
        };
        p.next_sweep = p.sweep_step();
        p
    }

    /// Whether anything here needs the time on each read.
    #[inline]
    pub(crate) fn active(&self) -> bool {
        self.flood.is_some() || self.keepalive.is_some()
    }

    /// Reads the clock. Returns the time in nanoseconds since the epoch.
    #[inline]
    pub(crate) fn tick(&mut self) -> u64 {
        let now = self.clock.now();
        // Offset by one so that 0 never is a time (`Meter::probe` 0 = none).
        self.now = nanos(now.saturating_duration_since(self.epoch)).saturating_add(1);
        self.now
    }

    /// The state of a new connection (heard from now).
    pub(crate) fn meter(&mut self) -> Meter {
        let now = if self.active() { self.tick() } else { 0 };
        Meter {
            tat: now,
            heard: now,
            probe: 0,
            attempts: 0,
        }
    }

    /// The client was heard from (at the last `tick`).
    #[inline]
    pub(crate) fn heard(&self, m: &mut Meter) {
        m.heard = self.now;
        m.probe = 0;
    }

    /// Accounts for one line; false if the line is flooding.
    #[inline]
    pub(crate) fn allow_line(&self, m: &mut Meter) -> bool {
        let Some((interval, tolerance)) = self.flood else {
            return true;
        };
        let tat = m.tat.max(self.now);
        if tat - self.now > tolerance {
            return false;
        }
        m.tat = tat.saturating_add(interval);
        true
    }

    /// The flood limit as text, for the error line.
    pub(crate) fn flood_text(cfg: &ServerConfig) -> String {
        format!(
            "flooding: more than {} lines at once or {} lines per second",
            cfg.flood_burst_lines.max(1),
            cfg.flood_lines_per_sec
        )
    }

    fn sweep_step(&self) -> u64 {
        match self.keepalive {
            // A quarter of the shorter period: a probe goes out at most a
            // quarter late, a dead peer is dropped at most a quarter late.
            Some((interval, timeout)) => (interval.min(timeout) / 4).max(1_000_000),
            None => u64::MAX,
        }
    }

    /// Whether a keepalive sweep is due (after a `tick`); if so, schedules
    /// the next one.
    pub(crate) fn sweep_due(&mut self) -> bool {
        if self.keepalive.is_none() || self.now < self.next_sweep {
            return false;
        }
        self.next_sweep = self.now.saturating_add(self.sweep_step());
        true
    }

    /// How long until the next keepalive sweep, on the policing clock
    /// (after a `tick`); `None` without keepalive.
    pub(crate) fn until_sweep(&self) -> Option<Duration> {
        self.keepalive?;
        Some(Duration::from_nanos(
            self.next_sweep.saturating_sub(self.now),
        ))
    }

    /// Keepalive's verdict on one registered connection (after a `tick`).
    /// On `Probe`, the probe is recorded as sent.
    pub(crate) fn idle(&self, m: &mut Meter) -> Idle {
        let Some((interval, timeout)) = self.keepalive else {
            return Idle::Fine;
        };
        if m.probe != 0 {
            if self.now.saturating_sub(m.probe) >= timeout {
                return Idle::Dead;
            }
            return Idle::Fine;
        }
        if self.now.saturating_sub(m.heard) >= interval {
            m.probe = self.now;
            return Idle::Probe;
        }
        Idle::Fine
    }
}

/// Whether a line is a file transfer's `/chunk <id> <n>` (PROTOCOL.md,
/// "Files and binary payloads"), which the flood limit does not count: file
/// data is paced by the transfer's flow control instead.
pub(crate) fn is_chunk_line(raw: &[u8]) -> bool {
    if raw.first() != Some(&b'/') {
        return false;
    }
    let Ok(text) = std::str::from_utf8(crate::protocol::strip_cr(raw)) else {
        return false;
    };
    matches!(
        crate::protocol::transfer::parse_transfer_command(text),
        Some(Ok(crate::protocol::transfer::TransferCommand::Chunk { .. }))
    )
}

/// Whether a line at the nickname prompt is an HTTP request line
/// (`GET / HTTP/1.1`): method, target, `HTTP/` version. Such a client is
/// closed at once (PROTOCOL.md, "Registration").
pub(crate) fn looks_like_http(line: &str) -> bool {
    let mut w = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (w.next(), w.next(), w.next(), w.next())
    else {
        return false;
    };
    !method.is_empty()
        && method.bytes().all(|b| b.is_ascii_uppercase())
        && !target.is_empty()
        && version.starts_with("HTTP/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(rate: u32, burst: u32) -> ServerConfig {
        ServerConfig {
            clock: Clock::manual(),
            flood_lines_per_sec: rate,
            flood_burst_lines: burst,
            keepalive_interval: Duration::from_secs(60),
            keepalive_timeout: Duration::from_secs(20),
            ..ServerConfig::default()
        }
    }

    #[test]
    fn burst_then_rate() {
        let c = cfg(10, 5);
        let mut p = Policing::new(&c);
        p.tick();
        let mut m = p.meter();
        for k in 0..5 {
            assert!(p.allow_line(&mut m), "line {k} of the burst");
        }
        assert!(!p.allow_line(&mut m), "one over the burst");
        // 100 ms later one more line is allowed (10 per second), not two.
        c.clock.advance(Duration::from_millis(100));
        p.tick();
        assert!(p.allow_line(&mut m));
        assert!(!p.allow_line(&mut m));
        // After a long pause the whole burst is back, no more.
        c.clock.advance(Duration::from_secs(100));
        p.tick();
        for _ in 0..5 {
            assert!(p.allow_line(&mut m));
        }
        assert!(!p.allow_line(&mut m));
    }

    #[test]
    fn http_request_lines() {
        assert!(looks_like_http("GET / HTTP/1.1"));
        assert!(looks_like_http("CONNECT example.com:443 HTTP/1.0"));
        assert!(!looks_like_http("ana"));
        assert!(!looks_like_http("GET / HTTP"));
        assert!(!looks_like_http("get / HTTP/1.1"));
        assert!(!looks_like_http("GET  HTTP/1.1"));
    }

    #[test]
    fn no_limit() {
        let c = cfg(0, 5);
        let mut p = Policing::new(&c);
        p.tick();
        let mut m = p.meter();
        for _ in 0..100_000 {
            assert!(p.allow_line(&mut m));
        }
    }

    #[test]
    fn keepalive_probe_then_drop() {
        let c = cfg(0, 0);
        let mut p = Policing::new(&c);
        p.tick();
        let mut m = p.meter();
        assert_eq!(p.idle(&mut m), Idle::Fine);
        c.clock.advance(Duration::from_secs(60));
        p.tick();
        assert!(p.sweep_due());
        assert!(!p.sweep_due());
        assert_eq!(p.idle(&mut m), Idle::Probe);
        assert_eq!(p.idle(&mut m), Idle::Fine);
        c.clock.advance(Duration::from_secs(19));
        p.tick();
        assert_eq!(p.idle(&mut m), Idle::Fine);
        c.clock.advance(Duration::from_secs(1));
        p.tick();
        assert_eq!(p.idle(&mut m), Idle::Dead);
        // Any traffic clears the probe.
        p.heard(&mut m);
        assert_eq!(p.idle(&mut m), Idle::Fine);
    }
}
