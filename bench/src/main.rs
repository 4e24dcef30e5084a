//! `papo-bench`: the load generator of issue 5. It drives a papo server, a
//! NATS server and a Redis server with the same scenarios over real loopback
//! connections and reports deliveries per second, latency, memory and CPU
//! time. See BENCHMARKS.md for what is measured and how; run it with
//! `scripts/bench.sh`.
//!
//! Subcommands:
//! - `serve`: a papo server (`papo::Server`) in this process, until stdin
//!   closes (the suite starts one per run, so its CPU and memory are its own;
//!   `--cluster redis://...` makes it a node of a cluster);
//! - `run`: one scenario against one system, result as JSON on stdout
//!   (`--nodes N`: papo as N nodes of one chat over a Redis, issue 13);
//! - `suite`: every scenario against every system, several runs, medians,
//!   tables, plot (`--smoke` for a few-second check);
//! - `nonreaders`: issue 14's clients that never read, beside honest
//!   clients' `/ping` latency, one sender open loop;
//! - `resume`: what a resume costs, on one server and across the nodes
//!   of a cluster (the `/resume` line to `RESUMED`), and that a user away
//!   meanwhile misses no private message;
//! - `plot`: redraw the plot and tables from a `results.json`.

mod cluster;
mod engine;
mod nonreaders;
mod report;
mod resume;
mod scenario;
mod servers;
mod sys;
mod wire;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use report::SuiteResults;
use scenario::{Options, RunResult, Scenario};
use servers::{PapoOptions, System};

#[derive(Parser)]
#[command(
    name = "papo-bench",
    version,
    about = "Load generator: papo vs NATS vs Redis pub/sub"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    Broadcast,
    Latency,
    Private,
    Connections,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a papo server in this process until stdin closes; prints
    /// "LISTENING <addr>" once it listens.
    Serve {
        /// IP address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        ip: String,
        /// Port (0: any free port).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// I/O threads (0: the library's default).
        #[arg(long, default_value_t = 0)]
        io_threads: usize,
        /// History written to this SQLite file (`ServerConfig::history_path`).
        #[arg(long)]
        history_path: Option<std::path::PathBuf>,
        /// Join the chat of every node using this Redis
        /// (`ServerConfig::cluster`, e.g. `redis://127.0.0.1:6379/`).
        #[arg(long, value_name = "URL")]
        cluster: Option<String>,
    },
    /// Run one scenario against one system; prints the result as JSON.
    Run {
        /// Which server.
        #[arg(long, value_enum)]
        system: System,
        /// Which scenario.
        #[arg(long, value_enum)]
        scenario: Kind,
        /// S (broadcast, latency) or N (connections): clients online.
        #[arg(long, default_value_t = 100)]
        clients: usize,
        /// P: clients sending (broadcast, latency).
        #[arg(long, default_value_t = 10)]
        publishers: usize,
        /// Pairs (private).
        #[arg(long, default_value_t = 50)]
        pairs: usize,
        /// B: payload bytes (at least 28).
        #[arg(long, default_value_t = 64)]
        bytes: usize,
        /// M: messages per sender at most (broadcast, private).
        #[arg(long, default_value_t = 20_000)]
        messages: u64,
        /// Messages per second per sender (latency).
        #[arg(long, default_value_t = 200.0)]
        rate: f64,
        /// Longest sending time, seconds.
        #[arg(long, default_value_t = 5.0)]
        duration: f64,
        /// Most messages a receiver may be behind (broadcast, private).
        #[arg(long, default_value_t = 1024)]
        window: u64,
        /// Connections opening at once.
        #[arg(long, default_value_t = 256)]
        in_flight: usize,
        /// papo I/O threads (0: the library's default).
        #[arg(long, default_value_t = 0)]
        io_threads: usize,
        /// connections: keep the clients connected this many seconds after
        /// measuring (to inspect the server).
        #[arg(long, default_value_t = 0.0)]
        hold: f64,
        /// connections, papo: `off` registers every client with
        /// `/presence off` (no JOIN lines, no USERS list).
        #[arg(long, default_value = "on", value_parser = ["on", "off"])]
        presence: String,
        /// connections: registered clients read nothing until every client
        /// is registered (their JOIN lines wait in the server), as in issue
        /// 14's presence storm.
        #[arg(long)]
        defer_reads: bool,
        /// broadcast, latency, papo: every client joins `#bench` and the
        /// publishers send to the room (issue 11).
        #[arg(long)]
        room: bool,
        /// papo: the server writes history to an SQLite file in a
        /// temporary folder (`ServerConfig::history_path`, issue 11).
        #[arg(long)]
        history_db: bool,
        /// papo: run N server processes that are one chat over a Redis
        /// (issue 13): a redis-server of the run's own on a free loopback
        /// port (no persistence, a temporary folder, stopped at the end),
        /// each node with `ServerConfig::cluster` set to it; client i
        /// connects to node i mod N. CPU is reported per node and for
        /// redis-server. 1: one server, no Redis (as without the option).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=64))]
        nodes: u64,
        /// papo: start the Redis and set `ServerConfig::cluster` even with
        /// `--nodes 1` (what the cluster layer costs by itself).
        #[arg(long)]
        cluster: bool,
    },
    /// Every scenario against every available system, `--runs` times;
    /// writes results.json, summary.json, summary.csv, summary.md and
    /// plot.png into `--out`.
    Suite {
        /// A few-second check with small sizes; exits non-zero if anything
        /// was lost or broke.
        #[arg(long)]
        smoke: bool,
        /// Runs of every cell (medians are reported).
        #[arg(long)]
        runs: Option<usize>,
        /// Systems to run (default: papo, and nats/redis when installed).
        #[arg(long, value_enum, value_delimiter = ',')]
        systems: Option<Vec<System>>,
        /// Only these scenarios.
        #[arg(long, value_enum, value_delimiter = ',')]
        only: Option<Vec<Kind>>,
        /// Output directory (default bench/results, or target/bench-smoke
        /// with --smoke).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Most messages a receiver may be behind (broadcast, private).
        #[arg(long, default_value_t = 1024)]
        window: u64,
        /// papo I/O threads (0: the library's default).
        #[arg(long, default_value_t = 0)]
        io_threads: usize,
    },
    /// Issue 14: one sender open loop (within the flood limit), clients
    /// that never read, honest clients' `/ping` round trip; prints JSON.
    Nonreaders {
        /// Registered clients that never read.
        #[arg(long, default_value_t = 1500)]
        non_readers: usize,
        /// Honest clients (reading, `/ping` every 100 ms).
        #[arg(long, default_value_t = 10)]
        honest: usize,
        /// The sender's public messages per second (the default flood
        /// limit is 100).
        #[arg(long, default_value_t = 90.0)]
        rate: f64,
        /// Bytes per message line.
        #[arg(long, default_value_t = 512)]
        bytes: usize,
        /// Sending time, seconds.
        #[arg(long, default_value_t = 20.0)]
        duration: f64,
        /// `SO_RCVBUF` of the non-readers' sockets, bytes (default: the
        /// kernel's). A small one keeps the kernel's socket memory for
        /// 1,500 non-readers within `net.ipv4.tcp_mem`, and leaves more of
        /// what they are sent in the server's queues.
        #[arg(long)]
        rcvbuf: Option<usize>,
    },
    /// What a resume costs: the time from `/resume <nick> <token>
    /// <since>` to `RESUMED` on one server alone (`single`) and in a
    /// cluster of two nodes over a Redis, on the node holding the session
    /// (`same`), on the other node while the old one lives (`other`), and
    /// after the old node was killed with SIGKILL (`killed`); with
    /// `--messages K`, also each case with K private messages sent to the
    /// user while away, every one of which must come. Prints JSON on
    /// stdout, one line per case on stderr; exits non-zero if a resume
    /// failed or a message was missing.
    Resume {
        /// Resumes per case.
        #[arg(long, default_value_t = 200)]
        rounds: usize,
        /// Private messages to the away user in the `+msgs` variants (0:
        /// none).
        #[arg(long, default_value_t = 100)]
        messages: usize,
        /// `killed`: users registered on the node before each kill (a
        /// fresh node is started for every batch).
        #[arg(long, default_value_t = 20)]
        batch: usize,
        /// Milliseconds between closing the old connection and the resume
        /// (not measured).
        #[arg(long, default_value_t = 10)]
        settle_ms: u64,
        /// The node of the `+msgs` variants' sender: `b` (the node the
        /// user is resumed on in `other` and `killed`) or `a` (the user's
        /// first node; not possible for `killed`, which uses b).
        #[arg(long, default_value = "b", value_parser = ["a", "b"])]
        sender: String,
        /// Cases, in order.
        #[arg(long, value_delimiter = ',', default_value = "single,same,other,killed",
              value_parser = ["single", "same", "other", "killed"])]
        cases: Vec<String>,
        /// Record Redis's `MONITOR` and report when each step of the path
        /// reached Redis (slows Redis a little).
        #[arg(long)]
        trace: bool,
    },
    /// Rebuild summary.* and plot.png from a results.json.
    Plot {
        /// The results.json of a suite.
        #[arg(long)]
        input: PathBuf,
        /// Output directory (default: the input's directory).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    sys::raise_nofile_limit();
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Serve {
            ip,
            port,
            io_threads,
            history_path,
            cluster,
        } => serve(&ip, port, io_threads, history_path, cluster),
        Cmd::Run {
            system,
            scenario,
            clients,
            publishers,
            pairs,
            bytes,
            messages,
            rate,
            duration,
            window,
            in_flight,
            io_threads,
            hold,
            presence,
            defer_reads,
            room,
            history_db,
            nodes,
            cluster,
        } => {
            let presence = presence != "off";
            // Removed (with the database) when the run is over.
            let scratch = match history_db {
                true => Some(tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))),
                false => None,
            };
            let history_path = match &scratch {
                Some(Ok(dir)) => Some(dir.path().join("history.db")),
                Some(Err(e)) => {
                    eprintln!("papo-bench: {e}");
                    return ExitCode::FAILURE;
                }
                None => None,
            };
            let sc = match scenario {
                Kind::Broadcast => Scenario::Broadcast {
                    clients,
                    publishers,
                    bytes,
                    messages,
                    duration,
                    window,
                },
                Kind::Latency => Scenario::Latency {
                    clients,
                    publishers,
                    bytes,
                    rate,
                    duration,
                },
                Kind::Private => Scenario::Private {
                    pairs,
                    bytes,
                    messages,
                    duration,
                    window,
                },
                Kind::Connections => Scenario::Connections { clients, presence },
            };
            let opts = Options {
                in_flight,
                papo: PapoOptions {
                    io_threads,
                    history_path,
                    cluster: None,
                },
                hold,
                defer_reads,
                room,
                nodes: nodes as usize,
                with_redis: cluster,
            };
            let r = scenario::run(system, &sc, 1, &opts);
            println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
            if r.ok() {
                Ok(())
            } else {
                Err(format!("{}: something was lost or broke", r.label))
            }
        }
        Cmd::Suite {
            smoke,
            runs,
            systems,
            only,
            out,
            window,
            io_threads,
        } => suite(smoke, runs, systems, only, out, window, io_threads),
        Cmd::Plot { input, out } => replot(&input, out),
        Cmd::Resume {
            rounds,
            messages,
            batch,
            settle_ms,
            sender,
            cases,
            trace,
        } => resume::run(&resume::Params {
            rounds,
            messages,
            batch,
            settle_ms,
            sender_on_b: sender == "b",
            cases,
            trace,
        })
        .and_then(|o| {
            println!("{}", serde_json::to_string_pretty(&o).unwrap_or_default());
            if o.ok() {
                Ok(())
            } else {
                Err("a resume failed or a message was missing".into())
            }
        }),
        Cmd::Nonreaders {
            non_readers,
            honest,
            rate,
            bytes,
            duration,
            rcvbuf,
        } => nonreaders::run(&nonreaders::Params {
            non_readers,
            honest,
            rate,
            bytes,
            duration,
            rcvbuf,
        })
        .map(|o| println!("{}", serde_json::to_string(&o).unwrap_or_default())),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("papo-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(
    ip: &str,
    port: u16,
    io_threads: usize,
    history_path: Option<std::path::PathBuf>,
    cluster: Option<String>,
) -> Result<(), String> {
    let config = papo::ServerConfig {
        io_threads,
        history_path,
        cluster,
        // The load generator sends far more than a person would; like NATS
        // and Redis beside it, no per-client flood limit (issue 6's
        // default, 100 lines/s after a burst of 1000, would disconnect it).
        flood_lines_per_sec: 0,
        // A server program: room for 10,000 clients (main() has already
        // raised the limit for the whole benchmark; the server asks too, as
        // any server program should), and the heap memory of the
        // registration burst handed back once idle, which BENCHMARKS.md's
        // idle memory per client depends on (about 1 KB instead of 10 KB).
        raise_nofile_limit: true,
        trim_heap: true,
        ..Default::default()
    };
    let server = papo::Server::start(ip, port, config).map_err(|e| format!("serve: {e}"))?;
    println!("LISTENING {}", server.local_addr());
    let _ = std::io::stdout().flush();
    // Take the server's events like an application would (they are part of
    // the server's cost); stop when stdin closes.
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = server.next_event(Duration::from_millis(100));
            }
        });
        let mut buf = [0u8; 256];
        let mut stdin = std::io::stdin();
        loop {
            match stdin.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        server.shutdown();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    Ok(())
}

fn scenarios(smoke: bool, window: u64) -> Vec<Scenario> {
    let b = 64;
    if smoke {
        return vec![
            Scenario::Broadcast {
                clients: 20,
                publishers: 5,
                bytes: b,
                messages: 2000,
                duration: 2.0,
                window,
            },
            Scenario::Latency {
                clients: 20,
                publishers: 5,
                bytes: b,
                rate: 200.0,
                duration: 0.5,
            },
            Scenario::Private {
                pairs: 10,
                bytes: b,
                messages: 2000,
                duration: 2.0,
                window,
            },
            Scenario::Connections {
                clients: 200,
                presence: true,
            },
            Scenario::Connections {
                clients: 200,
                presence: false,
            },
        ];
    }
    // About 15 million deliveries per broadcast run, capped at 5 s of
    // sending.
    let target = 15_000_000u64;
    let mut v = Vec::new();
    for (s, p) in [(10, 10), (100, 10), (1000, 10), (1000, 1)] {
        v.push(Scenario::Broadcast {
            clients: s,
            publishers: p,
            bytes: b,
            messages: target / (p as u64 * (s as u64 - 1)),
            duration: 5.0,
            window,
        });
    }
    for (s, p) in [(10, 10), (100, 10), (1000, 10), (1000, 1)] {
        v.push(Scenario::Latency {
            clients: s,
            publishers: p,
            bytes: b,
            rate: 200.0,
            duration: 3.0,
        });
    }
    v.push(Scenario::Private {
        pairs: 50,
        bytes: b,
        messages: 30_000,
        duration: 5.0,
        window,
    });
    for n in [1000, 5000, 10_000] {
        v.push(Scenario::Connections {
            clients: n,
            presence: true,
        });
        v.push(Scenario::Connections {
            clients: n,
            presence: false,
        });
    }
    v
}

fn versions(systems: &[System]) -> BTreeMap<String, String> {
    let mut v = BTreeMap::new();
    let first_line = |prog: &str, arg: &str| -> Option<String> {
        let path = servers::find_program(prog)?;
        let out = std::process::Command::new(path).arg(arg).output().ok()?;
        Some(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .next()?
                .trim()
                .to_string(),
        )
    };
    for s in systems {
        let text = match s {
            System::Papo => {
                let rev = std::process::Command::new("git")
                    .args(["rev-parse", "--short", "HEAD"])
                    .output()
                    .ok()
                    .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
                    .unwrap_or_default();
                Some(format!("papo {} (git {rev})", env!("CARGO_PKG_VERSION")))
            }
            System::Nats => first_line("nats-server", "--version"),
            System::Redis => first_line("redis-server", "--version"),
        };
        if let Some(t) = text {
            v.insert(s.name().to_string(), t);
        }
    }
    v
}

fn kind_of(sc: &Scenario) -> &'static str {
    sc.kind()
}

fn suite(
    smoke: bool,
    runs: Option<usize>,
    systems: Option<Vec<System>>,
    only: Option<Vec<Kind>>,
    out: Option<PathBuf>,
    window: u64,
    io_threads: usize,
) -> Result<(), String> {
    let runs = runs.unwrap_or(if smoke { 1 } else { 3 }).max(1);
    let systems: Vec<System> = match systems {
        Some(s) => s,
        None => [System::Papo, System::Nats, System::Redis]
            .into_iter()
            .filter(|s| {
                let ok = s.available();
                if !ok {
                    eprintln!("papo-bench: {} is not installed; skipped", s.name());
                }
                ok
            })
            .collect(),
    };
    let out = out.unwrap_or_else(|| {
        PathBuf::from(if smoke {
            "target/bench-smoke"
        } else {
            "bench/results"
        })
    });
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut list = scenarios(smoke, window);
    if let Some(only) = &only {
        let names: Vec<&str> = only
            .iter()
            .map(|k| match k {
                Kind::Broadcast => "broadcast",
                Kind::Latency => "latency",
                Kind::Private => "private",
                Kind::Connections => "connections",
            })
            .collect();
        list.retain(|s| names.contains(&kind_of(s)));
    }
    let opts = Options {
        in_flight: 256,
        papo: PapoOptions {
            io_threads,
            history_path: None,
            cluster: None,
        },
        hold: 0.0,
        defer_reads: false,
        room: false,
        nodes: 1,
        with_redis: false,
    };
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let loadavg_start = sys::loadavg();
    let mut results: Vec<RunResult> = Vec::new();
    // Runs are interleaved (run 1 of everything, then run 2, ...) and the
    // systems alternate within each scenario, so that a burst of load from
    // elsewhere on the machine hits all systems alike.
    for run in 1..=runs {
        for sc in &list {
            for &system in &systems {
                if matches!(
                    sc,
                    Scenario::Connections {
                        presence: false,
                        ..
                    }
                ) && system != System::Papo
                {
                    continue; // NATS and Redis have no presence to turn off
                }
                let r = scenario::run(system, sc, run, &opts);
                eprintln!(
                    "[run {run}/{runs}] {:<5} {:<40} {} load {:.2}",
                    system.name(),
                    sc.label(),
                    one_line(&r),
                    r.loadavg[0]
                );
                results.push(r);
            }
        }
    }
    let suite = SuiteResults {
        machine: sys::machine(),
        command,
        runs,
        loadavg_start,
        loadavg_end: sys::loadavg(),
        versions: versions(&systems),
        results,
    };
    let json = serde_json::to_string_pretty(&suite).map_err(|e| e.to_string())?;
    write(&out.join("results.json"), &json)?;
    let problems = write_reports(&suite, &out)?;
    eprintln!("papo-bench: results in {}", out.display());
    if problems > 0 {
        return Err(format!(
            "{problems} run(s) lost deliveries or broke; see {}/summary.md",
            out.display()
        ));
    }
    Ok(())
}

fn one_line(r: &RunResult) -> String {
    if let Some(e) = &r.harness_error {
        return format!("HARNESS ERROR: {e}");
    }
    let mut s = match r.scenario.as_str() {
        "connections" => format!(
            "connect {:.3}s idle {:.3}s mem/client {:.0} B",
            r.connect_s.unwrap_or(f64::NAN),
            r.idle_s.unwrap_or(f64::NAN),
            r.rss_per_client_bytes.unwrap_or(f64::NAN)
        ),
        _ => format!(
            "{:>10.0} deliv/s p50 {:.0}us p99 {:.0}us max {:.0}us cpu srv {:.2}s gen {:.2}s",
            r.deliveries_per_s, r.p50_us, r.p99_us, r.max_us, r.server_cpu_s, r.gen_cpu_s
        ),
    };
    if !r.ok() {
        s += &format!(
            " LOST {} {}",
            r.lost,
            r.loss_reason
                .as_deref()
                .unwrap_or("(errors/order, see results)")
        );
    }
    s
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Writes summary.json/.csv/.md and plot.png; returns the number of runs
/// with problems.
fn write_reports(suite: &SuiteResults, out: &Path) -> Result<usize, String> {
    let summary = report::summarize(&suite.results);
    write(
        &out.join("summary.json"),
        &serde_json::to_string_pretty(&summary).map_err(|e| e.to_string())?,
    )?;
    write(&out.join("summary.csv"), &report::csv(&summary))?;
    let md = report::markdown(suite, &summary);
    write(&out.join("summary.md"), &md)?;
    if let Err(e) = report::plot(&summary, &out.join("plot.png")) {
        eprintln!("papo-bench: no plot: {e}");
    }
    print!("{md}");
    Ok(suite.results.iter().filter(|r| !r.ok()).count())
}

fn replot(input: &Path, out: Option<PathBuf>) -> Result<(), String> {
    let text = std::fs::read_to_string(input).map_err(|e| format!("{}: {e}", input.display()))?;
    let suite: SuiteResults =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", input.display()))?;
    let out = out.unwrap_or_else(|| input.parent().unwrap_or(Path::new(".")).to_path_buf());
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    write_reports(&suite, &out)?;
    Ok(())
}
