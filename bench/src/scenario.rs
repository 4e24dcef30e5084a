//! The scenarios of issue 5 and how each maps onto each system, so that
//! every system does the same work:
//!
//! | scenario | papo | NATS | Redis |
//! | --- | --- | --- | --- |
//! | broadcast S, P | S registered clients; clients 0..P send `:payload`; each message reaches the S-1 others as `PUBLIC` | S connections subscribed to `bench.all` with `echo:false`; connections 0..P publish to it; each message reaches the S-1 others | S-1 connections subscribed to `bench.all`, plus P publisher connections (RESP3 PUBLISH, integer reply); each message reaches the S-1 subscribers |
//! | private, K pairs | 2K clients; client i sends `c<i^1>:payload`; the partner gets `PRIVATE`, the sender `SENT` | 2K connections, each subscribed to `p.<i>`, publishing to `p.<i^1>` | 2K RESP3 connections, each subscribed to `p.<i>` and publishing to `p.<i^1>` (integer reply) |
//! | connections N | N clients register a nickname (each also gets a `JOIN` for every later client) | N connections: CONNECT, SUB `inbox.<i>`, PING | N connections: HELLO 3, SUBSCRIBE `inbox.<i>`, PING |
//!
//! Counted deliveries are exactly: papo `PUBLIC`/`PRIVATE` lines, NATS
//! `MSG` frames, Redis `message` push frames, each carrying one of our
//! payloads. Acknowledgements (papo `SENT`, Redis PUBLISH replies) and
//! notices (papo `JOIN`) are counted apart.

use std::time::{Duration, Instant};

use crate::cluster::{Deployment, RedisStats};
use crate::engine::{ConnSpec, Engine, Fanout, Pace, PubSpec};
use crate::servers::{PapoOptions, System};
use crate::sys;

/// One scenario with its sizes.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Scenario {
    /// S clients online, P of them sending as fast as the window allows.
    Broadcast {
        /// S, clients online.
        clients: usize,
        /// P, clients sending.
        publishers: usize,
        /// B, payload bytes.
        bytes: usize,
        /// M, messages per publisher at most.
        messages: u64,
        /// Longest sending time, seconds.
        duration: f64,
        /// Most messages any receiver may be behind.
        window: u64,
    },
    /// As broadcast, at a fixed rate per sender.
    Latency {
        /// S, clients online.
        clients: usize,
        /// P, clients sending.
        publishers: usize,
        /// B, payload bytes.
        bytes: usize,
        /// Messages per second per sender.
        rate: f64,
        /// Sending time, seconds.
        duration: f64,
    },
    /// K pairs sending each other private messages.
    Private {
        /// K, pairs.
        pairs: usize,
        /// B, payload bytes.
        bytes: usize,
        /// Messages per sender at most.
        messages: u64,
        /// Longest sending time, seconds.
        duration: f64,
        /// Most messages a receiver may be behind its partner.
        window: u64,
    },
    /// N idle registered clients.
    Connections {
        /// N, clients.
        clients: usize,
        /// papo only: false registers every client with `/presence off`
        /// (PROTOCOL.md, "Presence": no `JOIN` lines, no `USERS` list),
        /// the same work as NATS and Redis, which announce nothing.
        presence: bool,
    },
}

impl Scenario {
    /// Short name: broadcast, latency, private, connections.
    pub fn kind(&self) -> &'static str {
        match self {
            Scenario::Broadcast { .. } => "broadcast",
            Scenario::Latency { .. } => "latency",
            Scenario::Private { .. } => "private",
            Scenario::Connections { .. } => "connections",
        }
    }

    /// A label naming the sizes, e.g. `broadcast S=100 P=10 B=64`.
    pub fn label(&self) -> String {
        match self {
            Scenario::Broadcast {
                clients,
                publishers,
                bytes,
                ..
            } => format!("broadcast S={clients} P={publishers} B={bytes}"),
            Scenario::Latency {
                clients,
                publishers,
                bytes,
                rate,
                ..
            } => format!("latency S={clients} P={publishers} B={bytes} @{rate}/s"),
            Scenario::Private { pairs, bytes, .. } => format!("private pairs={pairs} B={bytes}"),
            Scenario::Connections {
                clients,
                presence: true,
            } => format!("connections N={clients}"),
            Scenario::Connections {
                clients,
                presence: false,
            } => format!("connections N={clients} presence off"),
        }
    }

    /// Logical clients (papo clients; the x axis of the plot).
    pub fn clients(&self) -> usize {
        match self {
            Scenario::Broadcast { clients, .. }
            | Scenario::Latency { clients, .. }
            | Scenario::Connections { clients, .. } => *clients,
            Scenario::Private { pairs, .. } => 2 * pairs,
        }
    }

    fn publishers(&self) -> usize {
        match self {
            Scenario::Broadcast { publishers, .. } | Scenario::Latency { publishers, .. } => {
                *publishers
            }
            Scenario::Private { pairs, .. } => 2 * pairs,
            Scenario::Connections { .. } => 0,
        }
    }
}

/// The result of one run of one scenario against one system. Fields
/// missing from an older results.json read as their defaults.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct RunResult {
    /// papo, nats or redis.
    pub system: String,
    /// broadcast, latency, private, connections.
    pub scenario: String,
    /// The scenario with its sizes.
    pub label: String,
    /// Logical clients (S, 2K or N).
    pub clients: usize,
    /// TCP connections the generator opened.
    pub connections: usize,
    /// Publishers.
    pub publishers: usize,
    /// Which run (1-based).
    pub run: usize,
    /// Messages published.
    pub sent: u64,
    /// Deliveries expected from what was published.
    pub expected: u64,
    /// Deliveries counted.
    pub deliveries: u64,
    /// expected - deliveries.
    pub lost: u64,
    /// Acknowledgements expected / counted (papo SENT, Redis replies).
    pub expected_acks: u64,
    /// Acknowledgements counted.
    pub acks: u64,
    /// Deliveries per second (first publish to last delivery).
    pub deliveries_per_s: f64,
    /// Messages published per second (same interval).
    pub messages_per_s: f64,
    /// Latency percentiles, microseconds.
    pub p50_us: f64,
    /// 99th percentile, microseconds.
    pub p99_us: f64,
    /// 99.9th percentile, microseconds.
    pub p999_us: f64,
    /// Largest latency, microseconds.
    pub max_us: f64,
    /// Several nodes: p50 and p99 of the deliveries on the publisher's own
    /// node, and their count, microseconds.
    pub local: Option<LatencySplit>,
    /// Several nodes: the same for deliveries on another node (through
    /// Redis).
    pub remote: Option<LatencySplit>,
    /// Measured interval, seconds.
    pub elapsed_s: f64,
    /// From the first to the last publish, seconds.
    pub send_elapsed_s: f64,
    /// Paced runs: the latest any message was sent after its due time, µs.
    pub max_send_lag_us: f64,
    /// CPU seconds used by the server process during the measured phase
    /// (a cluster: every node and redis-server together; each apart in
    /// `node_cpu_s` and `redis_cpu_s`).
    pub server_cpu_s: f64,
    /// papo server processes (nodes); 1 without `--nodes`.
    pub nodes: usize,
    /// Each node's CPU seconds during the measured phase, in node order
    /// (client i is on node i mod `nodes`).
    pub node_cpu_s: Vec<f64>,
    /// redis-server's CPU seconds during the measured phase (None: no
    /// Redis in the run).
    pub redis_cpu_s: Option<f64>,
    /// Each node's CPU seconds during the measured phase by thread group
    /// (`papo-io` = the I/O threads together; `papo-cluster-pu`,
    /// `papo-cluster-su` and `papo-cluster-ke`, the cluster's publisher,
    /// subscriber and keeper, their names cut to 15 bytes by the kernel),
    /// in node order.
    pub node_thread_cpu_s: Vec<std::collections::BTreeMap<String, f64>>,
    /// Each node's resident memory at the end of the measured phase, KiB.
    pub node_rss_end_kib: Vec<u64>,
    /// redis-server's resident memory at the end of the measured phase, KiB.
    pub redis_rss_end_kib: Option<u64>,
    /// What Redis counted during the measured phase (commands and their
    /// CPU time, bytes in and out, channels subscribed at the end).
    pub redis_stats: Option<RedisStats>,
    /// A cluster: the warm-up before measuring (one message per publisher,
    /// every delivery awaited up to 10 s, so that every node has joined the
    /// chat): deliveries counted / expected, and the time it took, seconds.
    pub warmup: Option<(u64, u64, f64)>,
    /// papo `CLUSTER partitioned|healed` and `RENAMED` lines the clients
    /// received (a run with any of them is not ok).
    pub cluster_notices: u64,
    /// Sum of the counts of papo `LOST <n>` lines (messages the server says
    /// were lost between nodes).
    pub lost_reported: u64,
    /// CPU seconds used by the load generator in the same interval.
    pub gen_cpu_s: f64,
    /// Server resident memory before any client connected, KiB.
    pub server_rss_start_kib: u64,
    /// Server resident memory at the end of the measured phase, KiB.
    pub server_rss_end_kib: u64,
    /// Peak resident memory of the server process (`VmHWM`), in KiB.
    pub server_rss_peak_kib: u64,
    /// connections: (end - start) RSS / N, bytes per client.
    pub rss_per_client_bytes: Option<f64>,
    /// connections: seconds from the first connect to the last client ready.
    pub connect_s: Option<f64>,
    /// connections: seconds until the server was idle (papo: every JOIN
    /// notice delivered).
    pub idle_s: Option<f64>,
    /// papo JOIN notices counted in the connections scenario.
    pub joins: u64,
    /// Bytes the generator read from the server during the measured phase
    /// (connections: from the first connect on).
    pub bytes_received: u64,
    /// Error lines/frames the server sent.
    pub errors: u64,
    /// Deliveries out of order.
    pub order_errors: u64,
    /// Deliveries that were not ours / went to a non-receiver.
    pub bad_payload: u64,
    /// Lines/frames not expected.
    pub unexpected: u64,
    /// Samples of errors and unexpected lines.
    pub samples: Vec<String>,
    /// Connections closed during the run, and why.
    pub disconnects: Vec<String>,
    /// Why deliveries are missing, when some are.
    pub loss_reason: Option<String>,
    /// The run could not be carried out (server did not start, ...).
    pub harness_error: Option<String>,
    /// Load average (1, 5, 15 min) when the run started.
    pub loadavg: [f64; 3],
    /// Unix time of the run, seconds.
    pub unix_time: u64,
}

impl RunResult {
    /// Nothing lost, nothing broken.
    pub fn ok(&self) -> bool {
        self.harness_error.is_none()
            && self.lost == 0
            && self.disconnects.is_empty()
            && self.errors == 0
            && self.order_errors == 0
            && self.bad_payload == 0
            && self.acks >= self.expected_acks
            && self.cluster_notices == 0
            && self.lost_reported == 0
            && self.warmup.is_none_or(|(got, want, _)| got >= want)
    }
}

/// Latency of one part of a run's deliveries ([`RunResult::local`],
/// [`RunResult::remote`]).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct LatencySplit {
    /// Deliveries counted in this part.
    pub deliveries: u64,
    /// Median, microseconds.
    pub p50_us: f64,
    /// 99th percentile, microseconds.
    pub p99_us: f64,
}

/// Generator settings shared by the scenarios.
#[derive(Debug, Clone)]
pub struct Options {
    /// Openings under way at once during connect.
    pub in_flight: usize,
    /// papo server process options.
    pub papo: PapoOptions,
    /// connections: keep the clients connected this long after measuring
    /// (seconds), to inspect the server (pmap, gdb, perf).
    pub hold: f64,
    /// connections: registered clients read nothing until every client
    /// is registered ([`crate::engine::Engine::defer_reads`]).
    pub defer_reads: bool,
    /// broadcast, latency, papo: every client joins the room `#bench`
    /// and the publishers send to it (`#bench:text`, answered `SENT`)
    /// instead of to everyone (PROTOCOL.md "Rooms"); NATS and Redis are
    /// unchanged (their subject is already a room).
    pub room: bool,
    /// papo: server processes, one chat over a Redis when more than one
    /// ([`Deployment`]); clients are spread over them round-robin.
    pub nodes: usize,
    /// papo: a Redis and `ServerConfig::cluster` even with one node.
    pub with_redis: bool,
}

/// The room of [`Options::room`].
pub const BENCH_ROOM: &str = "#bench";

fn conn_specs(system: System, sc: &Scenario, room: bool) -> (Vec<ConnSpec>, Vec<PubSpec>) {
    let spec = |i: usize, inbox: Option<String>, receiver: bool| ConnSpec {
        nick: format!("c{i}"),
        inbox,
        receiver,
        presence_off: false,
    };
    match *sc {
        Scenario::Broadcast {
            clients,
            publishers,
            ..
        }
        | Scenario::Latency {
            clients,
            publishers,
            ..
        } => {
            let all = || Some("bench.all".to_string());
            let in_room = room && system == System::Papo;
            match system {
                System::Papo | System::Nats => {
                    let inbox = || {
                        if in_room {
                            Some(BENCH_ROOM.to_string())
                        } else {
                            all()
                        }
                    };
                    let conns = (0..clients).map(|i| spec(i, inbox(), true)).collect();
                    let pubs = (0..publishers)
                        .map(|i| PubSpec {
                            conn: i,
                            to: match system {
                                System::Papo if in_room => Some(BENCH_ROOM.to_string()),
                                System::Papo => None,
                                _ => all(),
                            },
                            fanout: Fanout::AllOthers,
                            // A room message is answered `SENT`.
                            acked: in_room,
                        })
                        .collect();
                    (conns, pubs)
                }
                System::Redis => {
                    let subs = clients.saturating_sub(1);
                    let mut conns: Vec<ConnSpec> =
                        (0..subs).map(|i| spec(i, all(), true)).collect();
                    conns.extend((0..publishers).map(|i| spec(subs + i, None, false)));
                    let pubs = (0..publishers)
                        .map(|i| PubSpec {
                            conn: subs + i,
                            to: all(),
                            fanout: Fanout::AllOthers,
                            acked: true,
                        })
                        .collect();
                    (conns, pubs)
                }
            }
        }
        Scenario::Private { pairs, .. } => {
            let n = 2 * pairs;
            let conns = (0..n)
                .map(|i| spec(i, Some(format!("p.{i}")), true))
                .collect();
            let pubs = (0..n)
                .map(|i| PubSpec {
                    conn: i,
                    to: Some(if system == System::Papo {
                        format!("c{}", i ^ 1)
                    } else {
                        format!("p.{}", i ^ 1)
                    }),
                    fanout: Fanout::One(i ^ 1),
                    acked: system != System::Nats,
                })
                .collect();
            (conns, pubs)
        }
        Scenario::Connections { clients, presence } => (
            (0..clients)
                .map(|i| ConnSpec {
                    presence_off: !presence && system == System::Papo,
                    ..spec(i, Some(format!("inbox.{i}")), false)
                })
                .collect(),
            Vec::new(),
        ),
    }
}

/// Runs `sc` once against a fresh `system` server and returns what was
/// measured; a harness failure is reported in `harness_error`.
pub fn run(system: System, sc: &Scenario, run: usize, opts: &Options) -> RunResult {
    let mut label = match (opts.room && system == System::Papo, &opts.papo.history_path) {
        (true, _) => format!("{} room", sc.label()),
        (false, Some(_)) => format!("{} history=sqlite", sc.label()),
        (false, None) => sc.label(),
    };
    if opts.nodes > 1 || opts.with_redis {
        label += &format!(" nodes={}+redis", opts.nodes.max(1));
    }
    let mut r = RunResult {
        system: system.name().into(),
        scenario: sc.kind().into(),
        label,
        nodes: opts.nodes.max(1),
        clients: sc.clients(),
        publishers: sc.publishers(),
        run,
        loadavg: sys::loadavg(),
        unix_time: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        ..Default::default()
    };
    if let Err(e) = run_inner(system, sc, opts, &mut r) {
        r.harness_error = Some(e);
    }
    r
}

fn run_inner(
    system: System,
    sc: &Scenario,
    opts: &Options,
    r: &mut RunResult,
) -> Result<(), String> {
    let servers = Deployment::start(system, opts.nodes, opts.with_redis, &opts.papo)?;
    std::thread::sleep(Duration::from_millis(150));
    r.server_rss_start_kib = servers.rss_kib();
    let addrs = servers.addrs();
    let (specs, pubs) = conn_specs(system, sc, opts.room);
    r.connections = specs.len();
    let mut engine = Engine::new(system, pubs.len()).map_err(|e| format!("poll: {e}"))?;
    let n = specs.len();
    let connect_timeout = Duration::from_secs(60 + n as u64 / 100);

    if let Scenario::Connections { clients, presence } = *sc {
        let t0 = Instant::now();
        let cpu0 = servers.cpu();
        let cpu_g0 = sys::self_cpu_seconds();
        if opts.defer_reads {
            engine.defer_reads();
        }
        r.connect_s = Some(engine.connect_all(&addrs, specs, opts.in_flight, connect_timeout)?);
        let joins = if system == System::Papo && presence {
            (clients as u64) * (clients as u64 - 1) / 2
        } else {
            0
        };
        if !engine.wait_joins(joins, connect_timeout)? {
            r.loss_reason = Some(format!(
                "only {} of {joins} JOIN notices arrived",
                engine.counters().joins
            ));
        }
        r.idle_s = Some(t0.elapsed().as_secs_f64());
        engine.barrier(connect_timeout)?;
        record_cpu(r, &servers.cpu().since(&cpu0));
        r.gen_cpu_s = sys::self_cpu_seconds() - cpu_g0;
        // Let the server settle (free what the registration burst used).
        std::thread::sleep(Duration::from_millis(500));
        r.server_rss_end_kib = servers.rss_kib();
        r.server_rss_peak_kib = servers.peak_rss_kib();
        r.node_rss_end_kib = servers.node_rss_kib();
        r.redis_rss_end_kib = servers.redis_rss_kib();
        r.rss_per_client_bytes = Some(
            (r.server_rss_end_kib as f64 - r.server_rss_start_kib as f64) * 1024.0 / clients as f64,
        );
        let c = engine.counters();
        r.joins = c.joins;
        r.bytes_received = c.bytes;
        r.expected = joins;
        r.deliveries = c.joins;
        r.lost = joins.saturating_sub(c.joins);
        r.errors = c.errors;
        r.unexpected = c.unexpected;
        r.cluster_notices = c.cluster_notices;
        r.lost_reported = c.lost_reported;
        r.samples = c.samples.clone();
        r.disconnects = engine.disconnects();
        r.elapsed_s = r.idle_s.unwrap_or(0.0);
        if opts.hold > 0.0 {
            eprintln!(
                "papo-bench: holding {clients} clients for {} s; server pid(s) {:?}",
                opts.hold,
                servers.pids()
            );
            std::thread::sleep(Duration::from_secs_f64(opts.hold));
        }
        servers.stop();
        drop(engine);
        return Ok(());
    }

    engine.connect_all(&addrs, specs, opts.in_flight, connect_timeout)?;
    engine.barrier(connect_timeout)?;
    let (pace, messages, bytes, duration) = match *sc {
        Scenario::Broadcast {
            bytes,
            messages,
            duration,
            window,
            ..
        }
        | Scenario::Private {
            bytes,
            messages,
            duration,
            window,
            ..
        } => (Pace::Window(window), messages, bytes, duration),
        Scenario::Latency {
            bytes,
            rate,
            duration,
            ..
        } => (Pace::Rate(rate), u64::MAX, bytes, duration),
        Scenario::Connections { .. } => unreachable!("handled above"),
    };
    if servers.redis.is_some() {
        // `/ping` answered by every client's own node says nothing of the
        // other nodes: before measuring, one message from every publisher,
        // every delivery awaited, so that each node routes to the others.
        let w = engine.measure(
            &pubs,
            Pace::Window(1024),
            1,
            bytes,
            Duration::from_secs(2),
            Duration::from_secs(10),
        )?;
        r.warmup = Some((w.counters.deliveries, w.expected, w.elapsed));
        if w.counters.deliveries < w.expected || w.counters.errors > 0 {
            r.samples.push(format!(
                "warm-up: {} of {} deliveries in {:.3} s, {} error lines {:?}, {} disconnects",
                w.counters.deliveries,
                w.expected,
                w.elapsed,
                w.counters.errors,
                w.counters.samples,
                w.disconnects.len()
            ));
        }
    }
    let redis0 = servers.redis_stats();
    let cpu0 = servers.cpu();
    let cpu_g0 = sys::self_cpu_seconds();
    let m = engine.measure(
        &pubs,
        pace,
        messages,
        bytes,
        Duration::from_secs_f64(duration),
        Duration::from_secs(10),
    )?;
    record_cpu(r, &servers.cpu().since(&cpu0));
    r.gen_cpu_s = sys::self_cpu_seconds() - cpu_g0;
    if let (Some(before), Some(after)) = (&redis0, servers.redis_stats()) {
        r.redis_stats = Some(after.since(before));
    }
    r.server_rss_end_kib = servers.rss_kib();
    r.node_rss_end_kib = servers.node_rss_kib();
    r.redis_rss_end_kib = servers.redis_rss_kib();
    r.sent = m.sent;
    r.expected = m.expected;
    r.deliveries = m.counters.deliveries;
    r.bytes_received = m.counters.bytes;
    r.lost = m.expected.saturating_sub(m.counters.deliveries);
    r.expected_acks = m.expected_acks;
    r.acks = m.counters.acks;
    r.elapsed_s = m.elapsed;
    r.send_elapsed_s = m.send_elapsed;
    if m.elapsed > 0.0 {
        r.deliveries_per_s = m.counters.deliveries as f64 / m.elapsed;
        r.messages_per_s = m.sent as f64 / m.elapsed;
    }
    let us = |q: f64| m.latency.value_at_quantile(q) as f64 / 1000.0;
    if !m.latency.is_empty() {
        r.p50_us = us(0.5);
        r.p99_us = us(0.99);
        r.p999_us = us(0.999);
        r.max_us = m.latency.max() as f64 / 1000.0;
    }
    if let Some([local, remote]) = &m.latency_split {
        let split = |h: &hdrhistogram::Histogram<u64>| LatencySplit {
            deliveries: h.len(),
            p50_us: h.value_at_quantile(0.5) as f64 / 1000.0,
            p99_us: h.value_at_quantile(0.99) as f64 / 1000.0,
        };
        r.local = Some(split(local));
        r.remote = Some(split(remote));
    }
    r.max_send_lag_us = m.max_send_lag_ns as f64 / 1000.0;
    r.errors = m.counters.errors;
    r.order_errors = m.counters.order_errors;
    r.bad_payload = m.counters.bad_payload;
    r.unexpected = m.counters.unexpected;
    r.cluster_notices = m.counters.cluster_notices;
    r.lost_reported = m.counters.lost_reported;
    r.samples.extend(m.counters.samples.iter().cloned());
    r.disconnects = m.disconnects.clone();
    if r.lost > 0 || r.acks < r.expected_acks {
        let mut why = Vec::new();
        if !m.disconnects.is_empty() {
            why.push(format!(
                "{} connection(s) closed during the run (first: {})",
                m.disconnects.len(),
                m.disconnects[0]
            ));
        }
        if m.drain_timed_out {
            why.push("not delivered within 10 s after the last publish".into());
        }
        if r.acks < r.expected_acks {
            why.push(format!(
                "{} acknowledgements missing",
                r.expected_acks - r.acks
            ));
        }
        if r.lost_reported > 0 {
            why.push(format!(
                "the servers reported {} lost between nodes (LOST lines)",
                r.lost_reported
            ));
        }
        if why.is_empty() {
            why.push("unknown".into());
        }
        r.loss_reason = Some(why.join("; "));
    }
    servers.stop();
    drop(engine);
    Ok(())
}

/// Stores the CPU used during the measured phase: the total in
/// `server_cpu_s`, each process apart.
fn record_cpu(r: &mut RunResult, used: &crate::cluster::CpuSample) {
    r.server_cpu_s = used.total();
    r.node_cpu_s = used.nodes.clone();
    r.redis_cpu_s = used.redis;
    r.node_thread_cpu_s = used.node_threads.clone();
}
