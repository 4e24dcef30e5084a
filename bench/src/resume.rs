//! `papo-bench resume`: what a resume costs (PROTOCOL.md, "Resuming a
//! connection" and "Resuming on another node"), measured from outside with
//! raw line clients, as a person at `nc` would type it.
//!
//! Each round registers a user `/presence off`, `/resume on`, `/tags on`
//! and reads its `TOKEN`; in a cluster it then waits until the token is in
//! Redis (`HGET papo:resume:<key> t`, polled: the node writes it through
//! its publisher, after `TOKEN`), closes the connection, waits
//! `settle_ms` (the node notices the close and holds the session), opens a
//! new connection, reads `HELLO`, and measures the time from writing
//! `/resume <nick> <token> <since>` to reading `RESUMED`. Nothing else is
//! timed. The user then says `quit`, so every round starts from the same
//! state.
//!
//! The cases (each on fresh processes):
//! - `single`: one server alone, no Redis (the single-node resume);
//! - `same`: two nodes over a Redis, resumed on the node that holds the
//!   session (node A);
//! - `other`: registered on node A, resumed on node B while A is alive
//!   (A ends the held session and answers `MOVEDOK`);
//! - `killed`: `batch` users registered on node A, A killed with SIGKILL,
//!   each resumed on node B in turn; then a fresh node A for the next
//!   batch. The seconds between the kill and each resume are kept: past
//!   two thirds of the lease (about 6.7 s by default) B has forgotten A's
//!   users and a resume takes another path.
//!
//! With `messages` K > 0, each case also runs as `<case>+msgs`: before the
//! resume a sender sends the away user K private messages, reads their
//! K `SENT` and, in a cluster, waits until the K are in the user's stream
//! in Redis (`XLEN papo:h:u:<key>`: `SENT` comes once the sender's node
//! has queued a message for its publisher, not once Redis has it, and the
//! resume is not to be timed behind that pipeline); after `RESUMED` the resumed client sends `/ping` and reads
//! until `PONG` and, if any is still missing, up to 3 s more (a message
//! may also come live, forwarded); every distinct text counts once, and
//! `missing` (K less those that came) must be 0. The sender is on node B
//! (`sender_on_b`, the default; so on the other node than the session in
//! `same`) or on node A (`--sender a`: the old node's own user, the case
//! `MOVEDOK` is for; not possible in `killed`, which keeps B).
//!
//! `trace` turns on Redis's `MONITOR` (a separate connection that reads
//! every command Redis runs, with Redis's wall-clock time) and reports,
//! per case, when after the `/resume` line each step of the path reached
//! Redis: the `TAKE` script, the `MOVED` publish, the publisher's barrier
//! (`EXISTS papo:barrier`), `PUBSUB NUMSUB`, the old node's `MOVEDOK`
//! publish, the `XREVRANGE` pipeline. `MONITOR` costs Redis a little on
//! every command: traced figures are for where the time goes, the
//! untraced ones for how long it takes.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::cluster::{Deployment, RedisStats};
use crate::servers::{PapoOptions, System};
use crate::sys;

/// Longest wait for any one line the bench expects.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a resumed client waits, after its `PONG`, for messages that
/// may still come live.
const STRAGGLER_WAIT: Duration = Duration::from_secs(3);

/// What to run.
#[derive(Debug, Clone)]
pub struct Params {
    /// Rounds per case.
    pub rounds: usize,
    /// Private messages sent to the away user in the `+msgs` variants (0:
    /// no such variant).
    pub messages: usize,
    /// Users per killed node in `killed`.
    pub batch: usize,
    /// Milliseconds between closing the old connection and the resume.
    pub settle_ms: u64,
    /// The sender of the `+msgs` variants is on node B (else node A).
    pub sender_on_b: bool,
    /// Which cases: `single`, `same`, `other`, `killed`.
    pub cases: Vec<String>,
    /// Redis `MONITOR` timeline (see the module doc).
    pub trace: bool,
}

/// One case's figures.
#[derive(Debug, Default, Serialize)]
pub struct CaseResult {
    /// `single`, `same`, `other`, `killed`, with `+msgs` for the variant.
    pub case: String,
    /// papo processes (1: no Redis).
    pub nodes: usize,
    /// Rounds asked.
    pub rounds: usize,
    /// Rounds that got `RESUMED`.
    pub resumed: usize,
    /// `RESUMED ... 1` among them.
    pub recovered: usize,
    /// `ERROR 24` answers to `/resume`.
    pub refused: usize,
    /// Rounds that failed otherwise (time-outs, closed sockets, ...).
    pub errors: usize,
    /// The first such failure, for the report.
    pub first_error: Option<String>,
    /// `/resume` line written to `RESUMED` read, milliseconds.
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
    /// Private messages sent to each away user (0: not this variant).
    pub messages: usize,
    /// Of all rounds' messages, those that never came.
    pub missing: usize,
    /// Messages that came after `PONG` (live, forwarded or rerouted).
    pub after_pong: usize,
    /// Lines of a message that came twice (history and live); the client
    /// skips them by id.
    pub duplicates: usize,
    /// `killed`: the longest time between the kill and a resume, seconds.
    pub max_s_after_kill: Option<f64>,
    /// `trace`: when each step reached Redis, ms after the `/resume` line.
    pub trace: Option<Trace>,
    /// What Redis counted over the case's rounds (registrations and
    /// messages included; `INFO commandstats`: calls and microseconds per
    /// command). None without Redis.
    pub redis: Option<RedisStats>,
}

/// Medians over the rounds of a traced case: milliseconds from writing
/// `/resume` to Redis's running of each command (its `MONITOR` time, the
/// same wall clock), and the number of rounds where it was seen.
#[derive(Debug, Default, Serialize)]
pub struct Trace {
    pub take_ms: Option<f64>,
    pub moved_ms: Option<f64>,
    pub barrier_ms: Option<f64>,
    pub numsub_ms: Option<f64>,
    pub movedok_ms: Option<f64>,
    pub xrevrange_ms: Option<f64>,
    /// `RESUMED` read by the client.
    pub resumed_ms: Option<f64>,
    /// Rounds with each step seen: take, moved, barrier, numsub,
    /// movedok, xrevrange.
    pub seen: [usize; 6],
    /// The slowest round: its steps in the same order, then `RESUMED`.
    pub slowest: [Option<f64>; 7],
    /// Every round, as `slowest`.
    pub per_round: Vec<[Option<f64>; 7]>,
}

/// The whole run.
#[derive(Debug, Serialize)]
pub struct Outcome {
    pub command: String,
    pub machine: sys::Machine,
    pub loadavg_start: [f64; 3],
    pub loadavg_end: [f64; 3],
    pub rounds: usize,
    pub messages: usize,
    pub batch: usize,
    pub settle_ms: u64,
    pub sender: &'static str,
    pub traced: bool,
    pub cases: Vec<CaseResult>,
}

impl Outcome {
    /// Whether nothing was lost or broke.
    pub fn ok(&self) -> bool {
        self.cases
            .iter()
            .all(|c| c.missing == 0 && c.errors == 0 && c.refused == 0 && c.resumed == c.rounds)
    }
}

impl CaseResult {
    /// One line for the terminal.
    pub fn one_line(&self) -> String {
        let mut s = format!(
            "{:<13} {}/{} resumed, recovered {} p50 {:.2}ms p90 {:.2}ms p99 {:.2}ms max {:.2}ms",
            self.case,
            self.resumed,
            self.rounds,
            self.recovered,
            self.p50_ms,
            self.p90_ms,
            self.p99_ms,
            self.max_ms
        );
        if self.messages > 0 {
            s += &format!(
                " msgs {}x{} missing {}",
                self.rounds, self.messages, self.missing
            );
        }
        if self.refused + self.errors > 0 {
            s += &format!(
                " REFUSED {} ERRORS {} {}",
                self.refused,
                self.errors,
                self.first_error.as_deref().unwrap_or("")
            );
        }
        s
    }
}

/// A raw line client.
struct Line {
    w: TcpStream,
    r: BufReader<TcpStream>,
    buf: String,
}

impl Line {
    fn connect(addr: SocketAddr) -> Result<Line, String> {
        let s = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
        let _ = s.set_nodelay(true);
        s.set_read_timeout(Some(READ_TIMEOUT))
            .map_err(|e| e.to_string())?;
        let r = BufReader::new(s.try_clone().map_err(|e| e.to_string())?);
        Ok(Line {
            w: s,
            r,
            buf: String::new(),
        })
    }

    fn send(&mut self, text: &str) -> Result<(), String> {
        self.w
            .write_all(text.as_bytes())
            .map_err(|e| format!("write: {e}"))
    }

    /// The next line, without its end; an error at the end of the stream
    /// or after [`READ_TIMEOUT`].
    fn next(&mut self) -> Result<&str, String> {
        self.buf.clear();
        match self.r.read_line(&mut self.buf) {
            Ok(0) => Err("closed by the server".into()),
            Ok(_) => Ok(self.buf.trim_end_matches(['\n', '\r'])),
            Err(e) => Err(format!("read: {e}")),
        }
    }

    /// Reads until a line starting with `prefix`; an `ERROR` line first is
    /// an error.
    fn until(&mut self, prefix: &str) -> Result<String, String> {
        loop {
            let l = self.next()?;
            if l.starts_with(prefix) {
                return Ok(l.to_owned());
            }
            if l.starts_with("ERROR ") {
                return Err(format!("wanted {prefix:?}, got {l:?}"));
            }
        }
    }
}

/// A RESP2 connection to Redis for the few reads the bench needs.
struct Resp {
    s: TcpStream,
    r: BufReader<TcpStream>,
}

impl Resp {
    fn connect(addr: SocketAddr) -> Result<Resp, String> {
        let s = TcpStream::connect(addr).map_err(|e| format!("redis {addr}: {e}"))?;
        s.set_read_timeout(Some(READ_TIMEOUT))
            .map_err(|e| e.to_string())?;
        let r = BufReader::new(s.try_clone().map_err(|e| e.to_string())?);
        Ok(Resp { s, r })
    }

    fn command(&mut self, args: &[&str]) -> Result<(), String> {
        let mut req = format!("*{}\r\n", args.len());
        for a in args {
            req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        self.s
            .write_all(req.as_bytes())
            .map_err(|e| format!("redis write: {e}"))
    }

    /// A bulk-string reply (`None` for nil); other replies are errors.
    fn bulk(&mut self, args: &[&str]) -> Result<Option<String>, String> {
        self.command(args)?;
        let mut head = String::new();
        self.r
            .read_line(&mut head)
            .map_err(|e| format!("redis read: {e}"))?;
        let len: i64 = head
            .trim_end()
            .strip_prefix('$')
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("redis: not a bulk reply: {head:?}"))?;
        let Ok(len) = usize::try_from(len) else {
            return Ok(None);
        };
        let mut body = vec![0u8; len + 2];
        self.r
            .read_exact(&mut body)
            .map_err(|e| format!("redis read: {e}"))?;
        body.truncate(len);
        String::from_utf8(body)
            .map(Some)
            .map_err(|_| "redis: reply not UTF-8".into())
    }

    /// An integer reply.
    fn int(&mut self, args: &[&str]) -> Result<i64, String> {
        self.command(args)?;
        let mut head = String::new();
        self.r
            .read_line(&mut head)
            .map_err(|e| format!("redis read: {e}"))?;
        head.trim_end()
            .strip_prefix(':')
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("redis: not an integer reply: {head:?}"))
    }

    /// Waits until `nick`'s private stream in Redis holds `k` messages:
    /// `SENT` comes when the sender's node has queued a message for its
    /// publisher, which appends it to the stream and publishes it a moment
    /// later.
    fn wait_stream(&mut self, nick: &str, k: usize) -> Result<(), String> {
        let key = format!("papo:h:u:{}", papo::protocol::nick_key(nick));
        let deadline = Instant::now() + READ_TIMEOUT;
        loop {
            if self.int(&["XLEN", &key])? >= k as i64 {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!("{nick}: {k} messages not in Redis after 10 s"));
            }
            thread::sleep(Duration::from_millis(1));
        }
    }

    /// Waits until `nick`'s resume record in Redis holds `token` (the
    /// node writes it through its publisher, after sending `TOKEN`).
    fn wait_record(&mut self, nick: &str, token: &str) -> Result<(), String> {
        let key = format!("papo:resume:{}", papo::protocol::nick_key(nick));
        let deadline = Instant::now() + READ_TIMEOUT;
        loop {
            if self.bulk(&["HGET", &key, "t"])?.as_deref() == Some(token) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!("{nick}: token not in Redis after 10 s"));
            }
            thread::sleep(Duration::from_millis(1));
        }
    }
}

/// Wall-clock seconds since 1970 (the clock Redis's `MONITOR` uses).
fn wall() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// A Redis `MONITOR` reader: every command Redis runs, with its time.
struct Monitor {
    events: Arc<Mutex<Vec<(f64, String)>>>,
    stream: TcpStream,
    reader: Option<thread::JoinHandle<()>>,
}

impl Monitor {
    fn start(addr: SocketAddr) -> Result<Monitor, String> {
        let mut r = Resp::connect(addr)?;
        r.command(&["MONITOR"])?;
        let mut ok = String::new();
        r.r.read_line(&mut ok)
            .map_err(|e| format!("MONITOR: {e}"))?;
        if !ok.starts_with("+OK") {
            return Err(format!("MONITOR answered {ok:?}"));
        }
        let _ = r.s.set_read_timeout(None);
        let events: Arc<Mutex<Vec<(f64, String)>>> = Arc::default();
        let sink = Arc::clone(&events);
        let stream = r.s.try_clone().map_err(|e| e.to_string())?;
        let mut lines = r.r;
        let reader = thread::spawn(move || {
            let mut l = String::new();
            loop {
                l.clear();
                match lines.read_line(&mut l) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                // +1733456789.123456 [0 127.0.0.1:53422] "CMD" "arg" ...
                let Some(rest) = l.strip_prefix('+') else {
                    continue;
                };
                let Some((ts, cmd)) = rest.split_once(' ') else {
                    continue;
                };
                let Ok(ts) = ts.parse::<f64>() else {
                    continue;
                };
                let cmd = cmd.split_once("] ").map_or(cmd, |(_, c)| c);
                if let Ok(mut v) = sink.lock() {
                    v.push((ts, cmd.trim_end().to_owned()));
                }
            }
        });
        Ok(Monitor {
            events,
            stream,
            reader: Some(reader),
        })
    }

    /// Everything seen so far, taken.
    fn take(&self) -> Vec<(f64, String)> {
        self.events
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
        if let Some(t) = self.reader.take() {
            let _ = t.join();
        }
    }
}

/// The steps of [`Trace`], found in a `MONITOR` line (`"CMD" "arg" ...`).
fn step_of(cmd: &str) -> Option<usize> {
    let (name, rest) = cmd.split_once(' ').unwrap_or((cmd, ""));
    match name.trim_matches('"').to_ascii_uppercase().as_str() {
        // TAKE: four keys, the resume record first (the token's own
        // record, written by the publisher, is an EVAL of one key).
        "EVALSHA" | "EVAL" if rest.contains("\"4\" \"papo:resume:") => Some(0),
        "PUBLISH" if rest.contains("MOVEDOK") => Some(4),
        "PUBLISH" if rest.starts_with("\"papo:all\"") && rest.contains("MOVED ") => Some(1),
        "EXISTS" if rest.contains("papo:barrier") => Some(2),
        "PUBSUB" if rest.to_ascii_uppercase().contains("NUMSUB") => Some(3),
        "XREVRANGE" => Some(5),
        _ => None,
    }
}

/// One measured resume.
struct Round {
    /// `/resume` written to `RESUMED` read.
    took: Duration,
    /// Wall-clock times of the same two moments (for the trace).
    wall: (f64, f64),
    recovered: bool,
    missing: usize,
    after_pong: usize,
    duplicates: usize,
}

enum Failure {
    Refused,
    Error(String),
}

impl From<String> for Failure {
    fn from(e: String) -> Failure {
        Failure::Error(e)
    }
}

/// A registered, resumable user: its connection, token and last id.
struct Held {
    nick: String,
    conn: Line,
    token: String,
    since: u64,
}

/// What `/resume` needs: nickname, token, last id seen.
struct Ticket {
    nick: String,
    token: String,
    since: u64,
}

impl Held {
    /// Closes the connection (the server holds the session), keeping
    /// what the resume needs.
    fn drop_connection(self) -> Ticket {
        drop(self.conn);
        Ticket {
            nick: self.nick,
            token: self.token,
            since: self.since,
        }
    }
}

fn register(addr: SocketAddr, nick: &str, redis: Option<&mut Resp>) -> Result<Held, String> {
    let mut c = Line::connect(addr)?;
    c.until("HELLO ")?;
    c.send(&format!("/presence off\n/resume on\n/tags on\n{nick}\n"))?;
    c.until(&format!("WELCOME {nick} "))?;
    let line = c.until("TOKEN ")?;
    let mut w = line.split(' ').skip(1);
    let (Some(token), Some(since)) = (w.next(), w.next().and_then(|v| v.parse().ok())) else {
        return Err(format!("bad TOKEN line {line:?}"));
    };
    let token = token.to_owned();
    if let Some(r) = redis {
        r.wait_record(nick, &token)?;
    }
    Ok(Held {
        nick: nick.to_owned(),
        conn: c,
        token,
        since,
    })
}

/// A sender (registered, presence off) of the `+msgs` variants.
fn sender(addr: SocketAddr, nick: &str) -> Result<Line, String> {
    let mut c = Line::connect(addr)?;
    c.until("HELLO ")?;
    c.send(&format!("/presence off\n{nick}\n"))?;
    c.until(&format!("WELCOME {nick} "))?;
    Ok(c)
}

/// Sends `to` K private messages `tag-i` and reads their `SENT`s.
fn send_messages(s: &mut Line, to: &str, tag: &str, k: usize) -> Result<(), String> {
    let mut out = String::new();
    for i in 0..k {
        out += &format!("{to}:{tag}-{i}\n");
    }
    s.send(&out)?;
    let want = format!("SENT {to} ");
    let mut got = 0;
    while got < k {
        let l = s.next()?;
        if l.starts_with(&want) {
            got += 1;
        } else if l.starts_with("ERROR ") {
            return Err(format!("sender: {l}"));
        }
    }
    Ok(())
}

/// The messages `<prefix>i` (i < K) a resumed client has seen.
struct Seen {
    seen: Vec<bool>,
    count: usize,
    prefix: String,
}

impl Seen {
    /// Notes a message's text (`late`: it came after `PONG`).
    fn note(&mut self, text: &str, late: bool, round: &mut Round) {
        let Some(i) = text
            .strip_prefix(&self.prefix)
            .and_then(|i| i.parse::<usize>().ok())
        else {
            return;
        };
        match self.seen.get_mut(i) {
            Some(s) if *s => round.duplicates += 1,
            Some(s) => {
                *s = true;
                self.count += 1;
                if late {
                    round.after_pong += 1;
                }
            }
            None => {}
        }
    }
}

/// Resumes `h` on `addr` (the measured part), then, with `k` > 0, counts
/// the messages `tag-0` .. `tag-(k-1)` that come.
fn resume(h: &Ticket, addr: SocketAddr, tag: &str, k: usize) -> Result<Round, Failure> {
    let mut c = Line::connect(addr)?;
    c.until("HELLO ")?;
    let line = format!("/resume {} {} {}\n", h.nick, h.token, h.since);
    let (t0, w0) = (Instant::now(), wall());
    c.send(&line)?;
    let (took, w1, recovered) = loop {
        let l = c.next()?;
        if l.starts_with("RESUMED ") {
            let (took, w1) = (t0.elapsed(), wall());
            break (took, w1, l.split(' ').nth(3) == Some("1"));
        }
        if l.starts_with("ERROR 24") {
            return Err(Failure::Refused);
        }
        if l.starts_with("ERROR ") {
            return Err(Failure::Error(format!("/resume: {l}")));
        }
    };
    let mut round = Round {
        took,
        wall: (w0, w1),
        recovered,
        missing: 0,
        after_pong: 0,
        duplicates: 0,
    };
    if k > 0 {
        let mut seen = Seen {
            seen: vec![false; k],
            count: 0,
            prefix: format!("{tag}-"),
        };
        c.send("/ping resumed\n")?;
        loop {
            let l = c.next()?;
            if l == "PONG :resumed" || l == "PONG resumed" {
                break;
            }
            if l.starts_with("PRIVATE ") {
                if let Some((_, text)) = l.split_once(" :") {
                    let text = text.to_owned();
                    seen.note(&text, false, &mut round);
                }
            }
        }
        let deadline = Instant::now() + STRAGGLER_WAIT;
        let _ = c.w.set_read_timeout(Some(Duration::from_millis(100)));
        while seen.count < k && Instant::now() < deadline {
            match c.next() {
                Ok(l) if l.starts_with("PRIVATE ") => {
                    if let Some((_, text)) = l.split_once(" :") {
                        let text = text.to_owned();
                        seen.note(&text, true, &mut round);
                    }
                }
                Ok(_) => {}
                Err(e) if e.contains("closed") => break,
                Err(_) => {} // a read time-out: look at the clock again
            }
        }
        round.missing = k - seen.count;
    }
    let _ = c.send("quit\n");
    Ok(round)
}

/// Percentile `q` (0..=1) of sorted `v`, nearest rank.
fn pct(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let i = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
    v[i]
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(pct(&v, 0.5))
}

/// Medians of each step's time after the `/resume` line, from `MONITOR`
/// `events` and each round's wall-clock window.
fn trace_of(events: &[(f64, String)], windows: &[(f64, f64)]) -> Trace {
    let mut steps: [Vec<f64>; 6] = Default::default();
    let mut ends = Vec::new();
    let mut slowest: [Option<f64>; 7] = [None; 7];
    let mut per_round = Vec::with_capacity(windows.len());
    for &(w0, w1) in windows {
        let end = (w1 - w0) * 1e3;
        ends.push(end);
        let mut first: [Option<f64>; 6] = [None; 6];
        for (ts, cmd) in events.iter().filter(|(ts, _)| *ts >= w0 && *ts <= w1) {
            if let Some(s) = step_of(cmd) {
                if first[s].is_none() {
                    first[s] = Some((ts - w0) * 1e3);
                }
            }
        }
        let row = [
            first[0],
            first[1],
            first[2],
            first[3],
            first[4],
            first[5],
            Some(end),
        ];
        per_round.push(row);
        if slowest[6].is_none_or(|t| end > t) {
            slowest = row;
        }
        for (s, t) in first.iter().enumerate() {
            if let Some(t) = t {
                steps[s].push(*t);
            }
        }
    }
    let seen = [0, 1, 2, 3, 4, 5].map(|s| steps[s].len());
    let [take, moved, barrier, numsub, movedok, xrev] = steps;
    Trace {
        take_ms: median(take),
        moved_ms: median(moved),
        barrier_ms: median(barrier),
        numsub_ms: median(numsub),
        movedok_ms: median(movedok),
        xrevrange_ms: median(xrev),
        resumed_ms: median(ends),
        seen,
        slowest,
        per_round,
    }
}

/// Tallies rounds into a [`CaseResult`].
struct Tally {
    res: CaseResult,
    times: Vec<f64>,
    windows: Vec<(f64, f64)>,
}

impl Tally {
    fn new(case: &str, nodes: usize, p: &Params, k: usize) -> Tally {
        Tally {
            res: CaseResult {
                case: case.to_owned(),
                nodes,
                rounds: p.rounds,
                messages: k,
                ..Default::default()
            },
            times: Vec::with_capacity(p.rounds),
            windows: Vec::new(),
        }
    }

    fn add(&mut self, r: Result<Round, Failure>) {
        match r {
            Ok(r) => {
                self.res.resumed += 1;
                self.res.recovered += usize::from(r.recovered);
                self.res.missing += r.missing;
                self.res.after_pong += r.after_pong;
                self.res.duplicates += r.duplicates;
                self.times.push(r.took.as_secs_f64() * 1e3);
                self.windows.push(r.wall);
            }
            Err(Failure::Refused) => self.res.refused += 1,
            Err(Failure::Error(e)) => self.error(e),
        }
    }

    fn error(&mut self, e: String) {
        self.res.errors += 1;
        if self.res.first_error.is_none() {
            self.res.first_error = Some(e);
        }
    }

    fn done(mut self, monitor: Option<&Monitor>) -> CaseResult {
        let mut t = std::mem::take(&mut self.times);
        t.sort_by(f64::total_cmp);
        self.res.p50_ms = pct(&t, 0.5);
        self.res.p90_ms = pct(&t, 0.9);
        self.res.p99_ms = pct(&t, 0.99);
        self.res.max_ms = t.last().copied().unwrap_or(f64::NAN);
        self.res.mean_ms = t.iter().sum::<f64>() / t.len().max(1) as f64;
        if let Some(m) = monitor {
            // The reader thread may not have read the last round's lines.
            thread::sleep(Duration::from_millis(100));
            self.res.trace = Some(trace_of(&m.take(), &self.windows));
        }
        self.res
    }
}

/// `single`, `same` or `other`: each round registers on node A and
/// resumes on node A (`same`, `single`) or B (`other`).
fn run_simple(case: &str, p: &Params, k: usize) -> Result<CaseResult, String> {
    let nodes = if case == "single" { 1 } else { 2 };
    let dep = Deployment::start(System::Papo, nodes, false, &PapoOptions::default())?;
    let addrs = dep.addrs();
    let (a, b) = (addrs[0], *addrs.last().unwrap_or(&addrs[0]));
    let target = if case == "other" { b } else { a };
    let mut redis = match &dep.redis {
        Some(r) => Some(Resp::connect(r.addr)?),
        None => None,
    };
    let monitor = match (&dep.redis, p.trace) {
        (Some(r), true) => Some(Monitor::start(r.addr)?),
        _ => None,
    };
    let name = if k > 0 {
        format!("{case}+msgs")
    } else {
        case.to_owned()
    };
    let mut tally = Tally::new(&name, nodes, p, k);
    let mut snd = match k {
        0 => None,
        _ => Some(sender(if p.sender_on_b { b } else { a }, "sender")?),
    };
    if let Some(m) = &monitor {
        m.take();
    }
    let stats0 = dep.redis_stats();
    for round in 0..p.rounds {
        let nick = format!("u{round}");
        let held = match register(a, &nick, redis.as_mut()) {
            Ok(h) => h,
            Err(e) => {
                tally.error(e);
                continue;
            }
        };
        let ticket = held.drop_connection();
        thread::sleep(Duration::from_millis(p.settle_ms));
        let tag = format!("m{round}");
        if let Some(s) = snd.as_mut() {
            let sent = send_messages(s, &ticket.nick, &tag, k).and_then(|()| match &mut redis {
                Some(r) => r.wait_stream(&ticket.nick, k),
                None => Ok(()),
            });
            if let Err(e) = sent {
                tally.error(e);
                continue;
            }
        }
        tally.add(resume(&ticket, target, &tag, k));
    }
    let mut res = tally.done(monitor.as_ref());
    res.redis = match (dep.redis_stats(), stats0) {
        (Some(now), Some(then)) => Some(now.since(&then)),
        _ => None,
    };
    drop(monitor);
    dep.stop();
    Ok(res)
}

/// `killed`: batches of users on node A, A killed, each resumed on B.
fn run_killed(p: &Params, k: usize) -> Result<CaseResult, String> {
    let opts = PapoOptions::default();
    let mut dep = Deployment::start(System::Papo, 2, false, &opts)?;
    let b = dep.addrs()[1];
    let raddr = dep.redis.as_ref().map(|r| r.addr).ok_or("no Redis")?;
    let mut redis = Resp::connect(raddr)?;
    let monitor = match p.trace {
        true => Some(Monitor::start(raddr)?),
        false => None,
    };
    let name = if k > 0 { "killed+msgs" } else { "killed" };
    let mut tally = Tally::new(name, 2, p, k);
    let mut snd = match k {
        0 => None,
        _ => Some(sender(b, "sender")?),
    };
    let stats0 = dep.redis_stats();
    let mut after_kill: f64 = 0.0;
    let mut round = 0;
    let mut first = true;
    while round < p.rounds {
        if !first {
            dep.restart_node(0, &opts)?;
        }
        first = false;
        let a = dep.addrs()[0];
        let n = p.batch.max(1).min(p.rounds - round);
        let mut held = Vec::with_capacity(n);
        for i in 0..n {
            match register(a, &format!("u{}", round + i), Some(&mut redis)) {
                Ok(h) => held.push((round + i, h)),
                Err(e) => tally.error(e),
            }
        }
        dep.crash_node(0);
        let killed = Instant::now();
        // The kernel closed the server's side; close the clients' too.
        let tickets: Vec<(usize, Ticket)> = held
            .into_iter()
            .map(|(r, h)| (r, h.drop_connection()))
            .collect();
        for (r, h) in &tickets {
            let tag = format!("m{r}");
            if let Some(s) = snd.as_mut() {
                let sent =
                    send_messages(s, &h.nick, &tag, k).and_then(|()| redis.wait_stream(&h.nick, k));
                if let Err(e) = sent {
                    tally.error(e);
                    continue;
                }
            }
            after_kill = after_kill.max(killed.elapsed().as_secs_f64());
            tally.add(resume(h, b, &tag, k));
        }
        round += n;
    }
    let mut res = tally.done(monitor.as_ref());
    res.max_s_after_kill = Some(after_kill);
    res.redis = match (dep.redis_stats(), stats0) {
        (Some(now), Some(then)) => Some(now.since(&then)),
        _ => None,
    };
    drop(monitor);
    dep.stop();
    Ok(res)
}

/// Runs every case asked, each without and (with `messages` > 0) with
/// messages, and returns the figures.
pub fn run(p: &Params) -> Result<Outcome, String> {
    let loadavg_start = sys::loadavg();
    let mut cases = Vec::new();
    for case in &p.cases {
        let mut ks = vec![0];
        if p.messages > 0 {
            ks.push(p.messages);
        }
        for k in ks {
            let r = match case.as_str() {
                "single" | "same" | "other" => run_simple(case, p, k)?,
                "killed" => run_killed(p, k)?,
                other => return Err(format!("no case {other:?}")),
            };
            eprintln!(
                "papo-bench resume: {} load {:.2}",
                r.one_line(),
                sys::loadavg()[0]
            );
            cases.push(r);
        }
    }
    Ok(Outcome {
        command: std::env::args().collect::<Vec<_>>().join(" "),
        machine: sys::machine(),
        loadavg_start,
        loadavg_end: sys::loadavg(),
        rounds: p.rounds,
        messages: p.messages,
        batch: p.batch,
        settle_ms: p.settle_ms,
        sender: if p.sender_on_b { "b" } else { "a" },
        traced: p.trace,
        cases,
    })
}
