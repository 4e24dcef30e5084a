//! Reconnecting by itself (PROTOCOL.md, "Resuming a connection"): when the
//! connection is lost without this client's `quit`, the reader thread
//! connects again with backoff and jitter, presents the resume token (the
//! server then gives the connection back, rooms and missed messages
//! included), or registers afresh and joins its rooms again, and tells the
//! caller with `Event::Reconnecting` and `Event::Reconnected`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::connect::{self, ResumeWith};
use super::inner::Inner;
use super::lines::LineReader;
use super::Event;
use crate::protocol::ClientLine;

/// Queues one event and wakes the caller: false once the queue has ended
/// (this client disconnected itself).
fn emit_one(inner: &Inner, event: Event) -> bool {
    if inner.events.push(event) {
        inner.wake();
        true
    } else {
        false
    }
}

/// How often a backoff delay looks whether the client is disconnecting.
const SLICE: Duration = Duration::from_millis(20);

/// A random factor in [0.5, 1] (jitter, so that the clients of a restarted
/// server do not all come back at the same instant), from the operating
/// system's random source; 1 if it has none.
fn jitter() -> f64 {
    let mut b = [0u8; 4];
    match getrandom::getrandom(&mut b) {
        Ok(()) => 0.5 + f64::from(u32::from_le_bytes(b)) / f64::from(u32::MAX) / 2.0,
        Err(_) => 1.0,
    }
}

/// The delay before attempt `attempt` (from 1): `first`, doubled each
/// attempt up to `max`, times [`jitter`].
pub(crate) fn delay(attempt: u32, first: Duration, max: Duration) -> Duration {
    let doubled = first.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    doubled.min(max).mul_f64(jitter())
}

/// Sleeps `d`, in slices; false as soon as the client is disconnecting.
fn pause(inner: &Inner, d: Duration) -> bool {
    let until = Instant::now() + d;
    loop {
        if inner.is_disconnecting() || inner.events.has_ended() {
            return false;
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        std::thread::sleep(left.min(SLICE));
    }
}

/// The connection was lost for `reason`. With `ClientConfig::reconnect`
/// (and unless this client is disconnecting), connects again: up to
/// `reconnect_attempts` attempts, each announced by `Event::Reconnecting`
/// and preceded by its delay. On success the new connection is in place,
/// `Event::Reconnected` is queued, and the reader to go on with is
/// returned with the events that came while registering. `None`: give up
/// (the caller ends the connection: `Event::Disconnected`).
pub(crate) fn reconnect(inner: &Arc<Inner>, reason: &str) -> Option<(LineReader, Vec<Event>)> {
    let config = &inner.config;
    if !inner.reconnects || inner.is_disconnecting() || inner.events.has_ended() {
        return None;
    }
    inner.link_down(reason);
    // Files coming or going fail (their parts are deleted): a transfer
    // does not survive its connection.
    for event in super::transfer::connection_ended(inner, reason) {
        if !emit_one(inner, event) {
            return None;
        }
    }
    let (ip, port) = (inner.server.0.clone(), inner.server.1);
    for attempt in 1..=config.reconnect_attempts {
        if !emit_one(inner, Event::Reconnecting { attempt }) {
            return None;
        }
        let wait = delay(attempt, config.reconnect_delay, config.reconnect_max_delay);
        if !pause(inner, wait) {
            return None;
        }
        let nick = inner.nick.lock().clone();
        let (token, since) = {
            let r = inner.resume.lock();
            (r.token.clone(), r.since())
        };
        let presented = token.as_deref().map(|token| ResumeWith { token, since });
        let Ok(reg) = connect::register(&ip, port, &nick, config, presented) else {
            continue;
        };
        if reg
            .stream
            .set_write_timeout(Some(config.reply_timeout))
            .is_err()
        {
            continue;
        }
        let recovered = reg.resumed.unwrap_or(false);
        let rooms: Vec<String> = {
            let mut r = inner.resume.lock();
            r.token = reg.token.clone();
            if reg.resumed.is_none() {
                // Registered afresh: the server forgot the rooms.
                std::mem::take(&mut r.rooms).into_iter().collect()
            } else {
                Vec::new()
            }
        };
        *inner.nick.lock() = reg.nick.clone();
        inner.link_up(Arc::clone(&reg.stream));
        if !emit_one(inner, Event::Reconnected { recovered }) {
            return None;
        }
        for room in &rooms {
            // Answered by ROOMJOIN lines, which the reader turns into
            // events (and notes the room again).
            let _ = inner.send(&ClientLine::Join(room), &[], None, false);
        }
        return Some((reg.reader, reg.early_events));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_maximum_with_jitter() {
        let (first, max) = (Duration::from_millis(100), Duration::from_secs(1));
        for _ in 0..50 {
            let d1 = delay(1, first, max);
            assert!(d1 >= first / 2 && d1 <= first, "{d1:?}");
            let d3 = delay(3, first, max);
            assert!(d3 >= first * 2 && d3 <= first * 4, "{d3:?}");
            let d10 = delay(10, first, max);
            assert!(d10 >= max / 2 && d10 <= max, "{d10:?}");
        }
        assert!(delay(u32::MAX, first, max) <= max);
    }
}
