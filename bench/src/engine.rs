//! The load generator's event loop: one thread, one `mio::Poll`, every
//! client connection non-blocking on it. Reads go into one large shared
//! buffer (256 KiB); writes are batched per connection.
//!
//! A run has phases: [`Engine::connect_all`] (open and register every
//! connection, a bounded number at a time), [`Engine::barrier`] (a ping on
//! every connection, so that the server has processed every registration),
//! then [`Engine::measure`] (publish and count every delivery).

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use crate::servers::System;
use crate::wire::{self, Item};

/// One client connection to open.
#[derive(Debug, Clone)]
pub struct ConnSpec {
    /// papo nickname.
    pub nick: String,
    /// Subject/channel to subscribe to (NATS, Redis); `None`: none.
    pub inbox: Option<String>,
    /// Whether deliveries to this connection are expected and counted.
    pub receiver: bool,
    /// papo: send `/presence off` before the nickname (no `JOIN` lines,
    /// no `USERS` list).
    pub presence_off: bool,
}

/// Who receives a publisher's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fanout {
    /// Every receiver except the publisher's own connection.
    AllOthers,
    /// Exactly one connection (a private message).
    One(usize),
}

/// One publisher.
#[derive(Debug, Clone)]
pub struct PubSpec {
    /// The connection it sends on.
    pub conn: usize,
    /// papo: `None` public, `Some(nick)` private; NATS/Redis: the subject.
    pub to: Option<String>,
    /// Who gets each message.
    pub fanout: Fanout,
    /// Whether the server acknowledges each message (papo `SENT`, Redis
    /// PUBLISH reply).
    pub acked: bool,
}

/// How publishers send during [`Engine::measure`].
#[derive(Debug, Clone, Copy)]
pub enum Pace {
    /// As fast as possible, but no receiver may fall more than `window`
    /// messages behind what was published to it (flow control so that no
    /// server has to queue without bound: the same rule for every system).
    Window(u64),
    /// A fixed rate per publisher, in messages per second.
    Rate(f64),
}

struct Conn {
    stream: TcpStream,
    spec: ConnSpec,
    carry: Vec<u8>,
    out: Vec<u8>,
    out_pos: usize,
    connected: bool,
    ready: bool,
    welcome: bool,
    closed: Option<String>,
    last_error: Option<String>,
    recv: u64,
    acks: u64,
    pongs: u64,
    joins: u64,
    /// Next expected sequence number per publisher (receivers only).
    next_seq: Vec<u32>,
    /// Messages this connection has published (when it is a publisher).
    sent_here: u64,
}

/// Counters over all connections.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct Counters {
    /// Deliveries received by receivers.
    pub deliveries: u64,
    /// Acknowledgements (papo SENT, Redis PUBLISH replies).
    pub acks: u64,
    /// papo JOIN notices.
    pub joins: u64,
    /// Bytes read from all connections.
    pub bytes: u64,
    /// Error lines/frames from the server.
    pub errors: u64,
    /// Lines/frames the generator did not expect.
    pub unexpected: u64,
    /// Deliveries whose payload was not ours or arrived at a non-receiver.
    pub bad_payload: u64,
    /// Deliveries out of order (gap or repeat) per publisher.
    pub order_errors: u64,
    /// papo cluster lines (`CLUSTER partitioned|healed`, `RENAMED`).
    pub cluster_notices: u64,
    /// Sum of the counts of papo `LOST <n>` lines.
    pub lost_reported: u64,
    /// Samples of error/unexpected lines (at most 5).
    pub samples: Vec<String>,
}

/// What [`Engine::measure`] observed.
#[derive(Debug, Clone)]
pub struct Measured {
    /// Messages published.
    pub sent: u64,
    /// Deliveries expected from what was published.
    pub expected: u64,
    /// Acknowledgements expected.
    pub expected_acks: u64,
    /// Counters during the measurement.
    pub counters: Counters,
    /// From the first publish to the last delivery (or the end of the
    /// drain wait), in seconds.
    pub elapsed: f64,
    /// From the first publish to the last publish, in seconds.
    pub send_elapsed: f64,
    /// End-to-end latency, nanoseconds.
    pub latency: Histogram<u64>,
    /// Connections spread over several nodes: the same latencies split into
    /// deliveries on the publisher's node (`[0]`) and on another (`[1]`).
    pub latency_split: Option<[Histogram<u64>; 2]>,
    /// Paced runs: the latest a message was sent after its due time, ns.
    pub max_send_lag_ns: u64,
    /// Connections closed during the run, with the reason.
    pub disconnects: Vec<String>,
    /// Whether the drain wait ran out before every delivery arrived.
    pub drain_timed_out: bool,
}

const READ_BUF: usize = 256 * 1024;
const MAX_BATCH: u64 = 64;

/// The generator: connections, poll and bookkeeping.
pub struct Engine {
    system: System,
    poll: Poll,
    events: Events,
    conns: Vec<Conn>,
    rbuf: Vec<u8>,
    epoch: Instant,
    counters: Counters,
    hist: Histogram<u64>,
    /// Several nodes: latencies of deliveries on the publisher's own node
    /// (`[0]`) and on another node (`[1]`), apart.
    hist_split: [Histogram<u64>; 2],
    /// Servers the connections were spread over ([`Engine::connect_all`]):
    /// connection i is on node i mod `n_nodes`.
    n_nodes: usize,
    /// Each publisher's connection, during [`Engine::measure`].
    pub_conn: Vec<usize>,
    /// Record latencies and check order only while measuring.
    measuring: bool,
    /// Registered connections are not read until [`Engine::wait_joins`]
    /// (see [`Engine::defer_reads`]).
    deferring: bool,
    n_pubs: usize,
}

fn new_hist() -> Histogram<u64> {
    // 1 ns .. 100 s, 3 significant digits.
    Histogram::new_with_bounds(1, 100_000_000_000, 3).expect("valid histogram bounds")
}

impl Engine {
    /// A generator speaking `system`; `n_pubs` is the number of publishers
    /// (for per-publisher order checks).
    pub fn new(system: System, n_pubs: usize) -> io::Result<Engine> {
        Ok(Engine {
            system,
            poll: Poll::new()?,
            events: Events::with_capacity(4096),
            conns: Vec::new(),
            rbuf: vec![0; READ_BUF],
            epoch: Instant::now(),
            counters: Counters::default(),
            hist: new_hist(),
            hist_split: [new_hist(), new_hist()],
            n_nodes: 1,
            pub_conn: Vec::new(),
            measuring: false,
            deferring: false,
            n_pubs,
        })
    }

    /// From now until [`Engine::wait_joins`], a connection that has
    /// registered is not read: what the server sends it (papo's `JOIN`
    /// lines) stays in the socket and then in the server's queues, as with
    /// clients that do not read until everyone is in (issue 14's presence
    /// storm). Connections still registering are read as usual.
    pub fn defer_reads(&mut self) {
        self.deferring = true;
    }

    fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// Counters so far (reset by [`Engine::measure`] at its start).
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Connections closed so far, with why.
    pub fn disconnects(&self) -> Vec<String> {
        self.conns
            .iter()
            .filter_map(|c| {
                c.closed.as_ref().map(|why| {
                    format!(
                        "{} ({}): {}{}",
                        c.spec.nick,
                        c.spec.inbox.as_deref().unwrap_or("-"),
                        why,
                        c.last_error
                            .as_ref()
                            .map(|e| format!("; last error line: {e}"))
                            .unwrap_or_default()
                    )
                })
            })
            .collect()
    }

    /// Opens every connection in `specs` and registers it (papo: nickname
    /// until `WELCOME`; NATS: CONNECT, SUB, PING until `PONG`; Redis: HELLO
    /// 3, SUBSCRIBE, PING until `PONG`), keeping at most `in_flight`
    /// openings under way. Connection i goes to `addrs[i % addrs.len()]`
    /// (the nodes of a cluster, round-robin; one address: all to it).
    /// Returns the seconds from the first connect to the last connection
    /// ready.
    pub fn connect_all(
        &mut self,
        addrs: &[SocketAddr],
        specs: Vec<ConnSpec>,
        in_flight: usize,
        timeout: Duration,
    ) -> Result<f64, String> {
        let start = Instant::now();
        let deadline = start + timeout;
        let total = specs.len();
        let mut specs = specs.into_iter();
        let mut pending = 0usize;
        let mut ready = 0usize;
        let in_flight = in_flight.max(1);
        if addrs.is_empty() {
            return Err("connect: no server address".into());
        }
        self.n_nodes = addrs.len();
        loop {
            while pending < in_flight {
                let Some(spec) = specs.next() else { break };
                let addr = addrs[self.conns.len() % addrs.len()];
                self.open(addr, spec)?;
                pending += 1;
            }
            if ready == total {
                return Ok(start.elapsed().as_secs_f64());
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(format!(
                    "connect: only {ready} of {total} connections ready after {:?}",
                    timeout
                ));
            }
            self.poll_once(Some((deadline - now).min(Duration::from_millis(100))))?;
            let mut newly = 0;
            for c in &mut self.conns {
                if !c.ready {
                    if let Some(why) = &c.closed {
                        return Err(format!(
                            "connect: {} closed during registration: {why} {}",
                            c.spec.nick,
                            c.last_error.as_deref().unwrap_or("")
                        ));
                    }
                    let done = match self.system {
                        System::Papo => c.last_error.is_none() && c.welcomed(),
                        _ => c.pongs > 0,
                    };
                    if done {
                        c.ready = true;
                        newly += 1;
                    } else if let Some(e) = &c.last_error {
                        return Err(format!("connect: {} refused: {e}", c.spec.nick));
                    }
                }
            }
            ready += newly;
            pending -= newly;
        }
    }

    fn open(&mut self, addr: SocketAddr, spec: ConnSpec) -> Result<(), String> {
        let mut stream = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
        let _ = stream.set_nodelay(true);
        let token = Token(self.conns.len());
        self.poll
            .registry()
            .register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)
            .map_err(|e| format!("register: {e}"))?;
        let mut out = Vec::new();
        if spec.presence_off && self.system == System::Papo {
            out.extend_from_slice(b"/presence off\n");
        }
        wire::enc::opening(self.system, &mut out, &spec.nick, spec.inbox.as_deref());
        let next_seq = if spec.receiver {
            vec![0; self.n_pubs]
        } else {
            Vec::new()
        };
        self.conns.push(Conn {
            stream,
            spec,
            carry: Vec::new(),
            out,
            out_pos: 0,
            connected: false,
            ready: false,
            welcome: false,
            closed: None,
            last_error: None,
            recv: 0,
            acks: 0,
            pongs: 0,
            joins: 0,
            next_seq,
            sent_here: 0,
        });
        Ok(())
    }

    /// Sends a ping on every open connection and waits for every answer:
    /// afterwards the server has processed everything sent before.
    pub fn barrier(&mut self, timeout: Duration) -> Result<(), String> {
        let want: Vec<u64> = self.conns.iter().map(|c| c.pongs + 1).collect();
        for i in 0..self.conns.len() {
            if self.conns[i].closed.is_none() {
                wire::enc::ping(self.system, &mut self.conns[i].out);
                self.flush(i);
            }
        }
        let deadline = Instant::now() + timeout;
        loop {
            let missing = self
                .conns
                .iter()
                .zip(&want)
                .filter(|(c, w)| c.closed.is_none() && c.pongs < **w)
                .count();
            if missing == 0 {
                return Ok(());
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(format!(
                    "barrier: {missing} connections did not answer the ping"
                ));
            }
            self.poll_once(Some((deadline - now).min(Duration::from_millis(100))))?;
        }
    }

    /// Reads until `joins` JOIN notices arrived in all (papo), or `timeout`.
    /// Returns whether they all came.
    pub fn wait_joins(&mut self, joins: u64, timeout: Duration) -> Result<bool, String> {
        let deadline = Instant::now() + timeout;
        if std::mem::take(&mut self.deferring) {
            // The readiness edges of the deferred connections were spent:
            // read each once, then poll as usual.
            for i in 0..self.conns.len() {
                if self.conns[i].closed.is_none() {
                    self.read(i);
                }
            }
        }
        while self.counters.joins < joins {
            let now = Instant::now();
            if now >= deadline {
                return Ok(false);
            }
            self.poll_once(Some((deadline - now).min(Duration::from_millis(100))))?;
        }
        Ok(true)
    }

    /// Publishes and counts. Each publisher sends at most `messages` of
    /// `bytes` bytes, for at most `duration`; then the generator waits up to
    /// `drain` for every outstanding delivery.
    pub fn measure(
        &mut self,
        pubs: &[PubSpec],
        pace: Pace,
        messages: u64,
        bytes: usize,
        duration: Duration,
        drain: Duration,
    ) -> Result<Measured, String> {
        self.counters = Counters::default();
        self.hist = new_hist();
        self.hist_split = [new_hist(), new_hist()];
        self.pub_conn = pubs.iter().map(|p| p.conn).collect();
        self.measuring = true;
        for c in &mut self.conns {
            c.recv = 0;
            c.acks = 0;
            c.sent_here = 0;
            c.next_seq.iter_mut().for_each(|s| *s = 0);
        }
        let receivers: Vec<usize> = (0..self.conns.len())
            .filter(|&i| self.conns[i].spec.receiver)
            .collect();
        let n_receivers = receivers.len() as u64;
        let fanout_of = |p: &PubSpec, conns: &[Conn]| -> u64 {
            match p.fanout {
                Fanout::AllOthers => n_receivers - conns[p.conn].spec.receiver as u64,
                Fanout::One(_) => 1,
            }
        };
        let fanouts: Vec<u64> = pubs.iter().map(|p| fanout_of(p, &self.conns)).collect();
        let broadcast = pubs.iter().any(|p| p.fanout == Fanout::AllOthers);
        let n = pubs.len().max(1);
        let start = Instant::now();
        let send_deadline = start + duration;
        let mut due: Vec<Instant> = (0..pubs.len())
            .map(|i| match pace {
                Pace::Rate(r) => start + Duration::from_secs_f64(i as f64 / (r * n as f64)),
                Pace::Window(_) => start,
            })
            .collect();
        let period = match pace {
            Pace::Rate(r) => Duration::from_secs_f64(1.0 / r),
            Pace::Window(_) => Duration::ZERO,
        };
        let mut sent = vec![0u64; pubs.len()];
        let mut sending = true;
        let mut send_end = start;
        let mut last_delivery = start;
        let mut max_lag_ns = 0u64;
        let mut rr = 0usize;
        let mut drain_deadline = None;
        let mut drain_timed_out = false;
        loop {
            // Publish what is allowed now.
            let now = Instant::now();
            let mut can_send_more = false;
            if sending {
                if now >= send_deadline || sent.iter().all(|&s| s >= messages) {
                    sending = false;
                    send_end = now;
                    drain_deadline = Some(now + drain);
                } else {
                    match pace {
                        Pace::Rate(_) => {
                            for (i, p) in pubs.iter().enumerate() {
                                let mut k = 0;
                                while due[i] <= now && sent[i] + k < messages && k < MAX_BATCH {
                                    max_lag_ns = max_lag_ns.max((now - due[i]).as_nanos() as u64);
                                    due[i] += period;
                                    k += 1;
                                }
                                if k > 0 {
                                    self.publish(p, i as u32, sent[i], k, bytes);
                                    sent[i] += k;
                                }
                            }
                        }
                        Pace::Window(w) => {
                            if broadcast {
                                // The receiver furthest behind decides.
                                let total: u64 = sent.iter().sum();
                                let max_lag = receivers
                                    .iter()
                                    .map(|&r| {
                                        let c = &self.conns[r];
                                        (total - c.sent_here).saturating_sub(c.recv)
                                    })
                                    .max()
                                    .unwrap_or(0);
                                let mut allowed = w.saturating_sub(max_lag);
                                let quota = (allowed / n as u64).clamp(1, MAX_BATCH);
                                for j in 0..pubs.len() {
                                    if allowed == 0 {
                                        break;
                                    }
                                    let i = (rr + j) % pubs.len();
                                    if self.conns[pubs[i].conn].out_pos
                                        < self.conns[pubs[i].conn].out.len()
                                    {
                                        continue; // socket full: wait for it
                                    }
                                    let k =
                                        quota.min(allowed).min(messages - sent[i].min(messages));
                                    if k > 0 {
                                        self.publish(&pubs[i], i as u32, sent[i], k, bytes);
                                        sent[i] += k;
                                        allowed -= k;
                                    }
                                }
                                rr = (rr + 1) % pubs.len().max(1);
                                can_send_more = allowed > 0 && sent.iter().any(|&s| s < messages);
                            } else {
                                for (i, p) in pubs.iter().enumerate() {
                                    let Fanout::One(target) = p.fanout else {
                                        continue;
                                    };
                                    let lag = sent[i].saturating_sub(self.conns[target].recv);
                                    let k = w
                                        .saturating_sub(lag)
                                        .min(MAX_BATCH)
                                        .min(messages - sent[i].min(messages));
                                    let c = &self.conns[p.conn];
                                    if k > 0 && c.out_pos >= c.out.len() && c.closed.is_none() {
                                        self.publish(p, i as u32, sent[i], k, bytes);
                                        sent[i] += k;
                                        if k == MAX_BATCH {
                                            can_send_more = true;
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            let expected: u64 = sent.iter().zip(&fanouts).map(|(s, f)| s * f).sum();
            if !sending {
                if self.counters.deliveries >= expected {
                    break;
                }
                if let Some(d) = drain_deadline {
                    if Instant::now() >= d {
                        drain_timed_out = true;
                        break;
                    }
                }
                if receivers.iter().all(|&r| self.conns[r].closed.is_some()) {
                    break;
                }
            }
            // Wait for events, or for the next due send.
            let now = Instant::now();
            let timeout = if can_send_more {
                Duration::ZERO
            } else if sending {
                let next = match pace {
                    Pace::Rate(_) => due.iter().min().copied().unwrap_or(send_deadline),
                    Pace::Window(_) => now + Duration::from_millis(5),
                };
                next.min(send_deadline).saturating_duration_since(now)
            } else {
                drain_deadline
                    .map(|d| d.saturating_duration_since(now))
                    .unwrap_or_default()
                    .min(Duration::from_millis(50))
            };
            let before = self.counters.deliveries;
            self.poll_once(Some(timeout))?;
            if self.counters.deliveries > before {
                last_delivery = Instant::now();
            }
        }
        self.measuring = false;
        let expected: u64 = sent.iter().zip(&fanouts).map(|(s, f)| s * f).sum();
        let expected_acks: u64 = sent
            .iter()
            .zip(pubs)
            .filter(|(_, p)| p.acked)
            .map(|(s, _)| s)
            .sum();
        // Give late acknowledgements a moment (they are not deliveries).
        let ack_deadline = Instant::now() + Duration::from_secs(2);
        while self.counters.acks < expected_acks && Instant::now() < ack_deadline {
            self.poll_once(Some(Duration::from_millis(20)))?;
        }
        let end = if drain_timed_out {
            Instant::now()
        } else {
            last_delivery
        };
        Ok(Measured {
            sent: sent.iter().sum(),
            expected,
            expected_acks,
            counters: self.counters.clone(),
            elapsed: (end - start).as_secs_f64(),
            send_elapsed: (send_end - start).as_secs_f64(),
            latency: std::mem::replace(&mut self.hist, new_hist()),
            latency_split: (self.n_nodes > 1)
                .then(|| std::mem::replace(&mut self.hist_split, [new_hist(), new_hist()])),
            max_send_lag_ns: max_lag_ns,
            disconnects: self.disconnects(),
            drain_timed_out,
        })
    }

    /// Appends `k` messages of publisher `p` (numbered from `seq`) to its
    /// connection's output, all stamped now, and writes.
    fn publish(&mut self, p: &PubSpec, pub_id: u32, seq: u64, k: u64, bytes: usize) {
        let ts = self.now_ns();
        let system = self.system;
        let c = &mut self.conns[p.conn];
        if c.closed.is_some() {
            return;
        }
        if c.out_pos >= c.out.len() {
            c.out.clear();
            c.out_pos = 0;
        }
        for j in 0..k {
            wire::enc::publish_start(system, &mut c.out, p.to.as_deref(), bytes);
            wire::put_payload(&mut c.out, ts, pub_id, (seq + j) as u32, bytes);
            wire::enc::publish_end(system, &mut c.out);
        }
        c.sent_here += k;
        self.flush(p.conn);
    }

    /// Writes what connection `i` has queued, until done or the socket is
    /// full (then the writable event resumes it).
    fn flush(&mut self, i: usize) {
        let c = &mut self.conns[i];
        if !c.connected || c.closed.is_some() {
            return;
        }
        while c.out_pos < c.out.len() {
            match c.stream.write(&c.out[c.out_pos..]) {
                Ok(0) => {
                    c.closed = Some("write returned 0".into());
                    return;
                }
                Ok(n) => c.out_pos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return,
                Err(e) => {
                    c.closed = Some(format!("write: {e}"));
                    return;
                }
            }
        }
        c.out.clear();
        c.out_pos = 0;
    }

    /// Waits up to `timeout` for events and handles them.
    fn poll_once(&mut self, timeout: Option<Duration>) -> Result<(), String> {
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(()),
            Err(e) => return Err(format!("poll: {e}")),
        }
        let tokens: Vec<(usize, bool, bool)> = self
            .events
            .iter()
            .map(|e| {
                (
                    e.token().0,
                    e.is_readable() || e.is_read_closed() || e.is_error(),
                    e.is_writable() || e.is_error(),
                )
            })
            .collect();
        for (i, readable, writable) in tokens {
            if i >= self.conns.len() || self.conns[i].closed.is_some() {
                continue;
            }
            if writable && !self.conns[i].connected {
                let c = &mut self.conns[i];
                match c.stream.take_error() {
                    Ok(Some(e)) | Err(e) => {
                        c.closed = Some(format!("connect: {e}"));
                        continue;
                    }
                    Ok(None) => {}
                }
                match c.stream.peer_addr() {
                    Ok(_) => c.connected = true,
                    Err(e) if e.kind() == io::ErrorKind::NotConnected => continue,
                    Err(e) => {
                        c.closed = Some(format!("connect: {e}"));
                        continue;
                    }
                }
            }
            if readable && !(self.deferring && self.conns[i].ready) {
                self.read(i);
            }
            if self.conns[i].out_pos < self.conns[i].out.len() {
                self.flush(i);
            }
        }
        Ok(())
    }

    /// Reads connection `i` until the socket is empty, handling every item.
    fn read(&mut self, i: usize) {
        let system = self.system;
        let measuring = self.measuring;
        loop {
            let c = &mut self.conns[i];
            let carried = c.carry.len();
            if carried + 4096 > self.rbuf.len() {
                self.rbuf.resize((carried + 4096) * 2, 0);
            }
            self.rbuf[..carried].copy_from_slice(&c.carry);
            let n = match c.stream.read(&mut self.rbuf[carried..]) {
                Ok(0) => {
                    c.closed = Some("closed by the server".into());
                    let _ = self.poll.registry().deregister(&mut c.stream);
                    return;
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return,
                Err(e) => {
                    c.closed = Some(format!("read: {e}"));
                    let _ = self.poll.registry().deregister(&mut c.stream);
                    return;
                }
            };
            c.connected = true;
            self.counters.bytes += n as u64;
            let now_ns = self.epoch.elapsed().as_nanos() as u64;
            let data = &self.rbuf[..carried + n];
            let counters = &mut self.counters;
            let hist = &mut self.hist;
            let hist_split = &mut self.hist_split;
            let (n_nodes, pub_conn) = (self.n_nodes, &self.pub_conn);
            let mut reply_pong = 0;
            // Deliveries of one read that were sent together have the same
            // latency: record runs of equal values at once (cheaper).
            let mut run_value = 0u64;
            let mut run_len = 0u64;
            let result = wire::parse(system, data, &mut |item| match item {
                Item::Delivery(p) => {
                    if !c.spec.receiver {
                        counters.bad_payload += 1;
                        return;
                    }
                    match wire::read_payload(p) {
                        Some((ts, pub_id, seq)) => {
                            c.recv += 1;
                            counters.deliveries += 1;
                            if measuring {
                                let lat = now_ns.saturating_sub(ts).max(1);
                                if lat != run_value {
                                    if run_len > 0 {
                                        hist.saturating_record_n(run_value, run_len);
                                    }
                                    run_value = lat;
                                    run_len = 0;
                                }
                                run_len += 1;
                                if n_nodes > 1 {
                                    if let Some(&pc) = pub_conn.get(pub_id as usize) {
                                        let other = pc % n_nodes != i % n_nodes;
                                        hist_split[other as usize].saturating_record(lat);
                                    }
                                }
                                match c.next_seq.get_mut(pub_id as usize) {
                                    Some(next) => {
                                        if seq != *next {
                                            counters.order_errors += 1;
                                        }
                                        *next = seq.wrapping_add(1);
                                    }
                                    None => counters.bad_payload += 1,
                                }
                            }
                        }
                        None => counters.bad_payload += 1,
                    }
                }
                Item::Ack => {
                    c.acks += 1;
                    counters.acks += 1;
                }
                Item::Pong => c.pongs += 1,
                Item::Welcome => c.welcome = true,
                Item::Joins(n) => {
                    c.joins += n;
                    counters.joins += n;
                }
                Item::Ping => reply_pong += 1,
                Item::Notice => {}
                Item::Error(line) => {
                    counters.errors += 1;
                    let s = String::from_utf8_lossy(line).into_owned();
                    if counters.samples.len() < 5 {
                        counters.samples.push(format!("{}: {s}", c.spec.nick));
                    }
                    c.last_error = Some(s);
                }
                Item::Cluster(line) => {
                    counters.cluster_notices += 1;
                    if counters.samples.len() < 5 {
                        let s = String::from_utf8_lossy(line).into_owned();
                        counters.samples.push(format!("{}: {s}", c.spec.nick));
                    }
                }
                Item::Lost(n, line) => {
                    counters.lost_reported += n;
                    if counters.samples.len() < 5 {
                        let s = String::from_utf8_lossy(line).into_owned();
                        counters.samples.push(format!("{}: {s}", c.spec.nick));
                    }
                }
                Item::Unexpected(line) => {
                    counters.unexpected += 1;
                    if counters.samples.len() < 5 {
                        let s = String::from_utf8_lossy(&line[..line.len().min(120)]).into_owned();
                        counters
                            .samples
                            .push(format!("{}: unexpected {s}", c.spec.nick));
                    }
                }
            });
            if run_len > 0 {
                self.hist.saturating_record_n(run_value, run_len);
            }
            match result {
                Ok(used) => {
                    c.carry.clear();
                    c.carry.extend_from_slice(&data[used..]);
                }
                Err(e) => {
                    c.closed = Some(format!("protocol error: {e}"));
                    let _ = self.poll.registry().deregister(&mut c.stream);
                    return;
                }
            }
            if reply_pong > 0 {
                for _ in 0..reply_pong {
                    wire::enc::pong(&mut c.out);
                }
                self.flush(i);
            }
            if n < self.rbuf.len() - carried {
                // A short read: the socket is most likely empty now; the
                // next edge-triggered event brings more.
                // (Reading again to see WouldBlock would cost a syscall.)
                return;
            }
        }
    }
}

impl Conn {
    fn welcomed(&self) -> bool {
        self.welcome
    }
}
