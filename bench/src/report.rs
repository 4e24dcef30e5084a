//! Medians over runs, the tables and target checks for BENCHMARKS.md, CSV,
//! and the PNG plot (plotters, bitmap backend, text drawn with ab_glyph from
//! a TrueType file so no system library is needed).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use crate::scenario::RunResult;
use crate::sys::Machine;

/// A metric read from a summary.
type Metric = Box<dyn Fn(&Summary) -> f64>;

/// Everything one suite produced: written as `results.json`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SuiteResults {
    /// The machine it ran on.
    pub machine: Machine,
    /// The command line.
    pub command: String,
    /// Runs per scenario and system.
    pub runs: usize,
    /// Load average at the start and at the end of the suite.
    pub loadavg_start: [f64; 3],
    /// Load average at the end.
    pub loadavg_end: [f64; 3],
    /// Versions of the servers, as they report them.
    pub versions: BTreeMap<String, String>,
    /// Every run, raw.
    pub results: Vec<RunResult>,
}

/// Medians of one scenario on one system.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    /// System.
    pub system: String,
    /// Scenario kind.
    pub scenario: String,
    /// Scenario label.
    pub label: String,
    /// Logical clients.
    pub clients: usize,
    /// Publishers.
    pub publishers: usize,
    /// Runs counted.
    pub runs: usize,
    /// Runs where something was lost or broke.
    pub failed_runs: usize,
    /// Median deliveries per second.
    pub deliveries_per_s: f64,
    /// Median messages (publishes) per second.
    pub messages_per_s: f64,
    /// Median p50 latency, µs.
    pub p50_us: f64,
    /// Median p99 latency, µs.
    pub p99_us: f64,
    /// Median max latency, µs.
    pub max_us: f64,
    /// Median server CPU seconds in the measured interval.
    pub server_cpu_s: f64,
    /// Median generator CPU seconds in the measured interval.
    pub gen_cpu_s: f64,
    /// Median server CPU / wall time (cores used).
    pub server_cores: f64,
    /// Median generator CPU / wall time (cores used).
    pub gen_cores: f64,
    /// Median measured interval, s.
    pub elapsed_s: f64,
    /// Median server memory per idle client, bytes.
    pub rss_per_client_bytes: Option<f64>,
    /// Median time to connect all, s.
    pub connect_s: Option<f64>,
    /// Median time until idle, s.
    pub idle_s: Option<f64>,
    /// Median bytes the clients received.
    pub bytes_received: f64,
    /// Sum of lost deliveries over the runs.
    pub lost: u64,
    /// Why, from the runs that lost something.
    pub problems: Vec<String>,
    /// Highest 1-minute load average seen at the start of a run.
    pub loadavg_max: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Medians per (system, scenario label), in the order first seen.
pub fn summarize(results: &[RunResult]) -> Vec<Summary> {
    let mut order: Vec<(String, String)> = Vec::new();
    for r in results {
        let k = (r.label.clone(), r.system.clone());
        if !order.contains(&k) {
            order.push(k);
        }
    }
    order
        .into_iter()
        .map(|(label, system)| {
            let rs: Vec<&RunResult> = results
                .iter()
                .filter(|r| r.label == label && r.system == system)
                .collect();
            let good: Vec<&RunResult> = rs
                .iter()
                .copied()
                .filter(|r| r.harness_error.is_none())
                .collect();
            let m = |f: &dyn Fn(&RunResult) -> f64| median(good.iter().map(|r| f(r)).collect());
            let mo = |f: &dyn Fn(&RunResult) -> Option<f64>| {
                let v: Vec<f64> = good.iter().filter_map(|r| f(r)).collect();
                (!v.is_empty()).then(|| median(v))
            };
            let first = rs[0];
            let mut problems = Vec::new();
            for r in &rs {
                if let Some(e) = &r.harness_error {
                    problems.push(format!("run {}: harness error: {e}", r.run));
                }
                if let Some(why) = &r.loss_reason {
                    problems.push(format!("run {}: lost {}: {why}", r.run, r.lost));
                }
                if r.order_errors > 0 || r.bad_payload > 0 || r.errors > 0 {
                    problems.push(format!(
                        "run {}: {} out of order, {} bad payloads, {} server errors {:?}",
                        r.run, r.order_errors, r.bad_payload, r.errors, r.samples
                    ));
                }
            }
            Summary {
                system,
                scenario: first.scenario.clone(),
                label,
                clients: first.clients,
                publishers: first.publishers,
                runs: rs.len(),
                failed_runs: rs.iter().filter(|r| !r.ok()).count(),
                deliveries_per_s: m(&|r| r.deliveries_per_s),
                messages_per_s: m(&|r| r.messages_per_s),
                p50_us: m(&|r| r.p50_us),
                p99_us: m(&|r| r.p99_us),
                max_us: m(&|r| r.max_us),
                server_cpu_s: m(&|r| r.server_cpu_s),
                gen_cpu_s: m(&|r| r.gen_cpu_s),
                server_cores: m(&|r| r.server_cpu_s / r.elapsed_s),
                gen_cores: m(&|r| r.gen_cpu_s / r.elapsed_s),
                elapsed_s: m(&|r| r.elapsed_s),
                rss_per_client_bytes: mo(&|r| r.rss_per_client_bytes),
                connect_s: mo(&|r| r.connect_s),
                idle_s: mo(&|r| r.idle_s),
                bytes_received: m(&|r| r.bytes_received as f64),
                lost: rs.iter().map(|r| r.lost).sum(),
                problems,
                loadavg_max: rs.iter().map(|r| r.loadavg[0]).fold(0.0, f64::max),
            }
        })
        .collect()
}

fn find<'a>(s: &'a [Summary], system: &str, label: &str) -> Option<&'a Summary> {
    s.iter().find(|x| x.system == system && x.label == label)
}

fn fmt_rate(v: f64) -> String {
    if !v.is_finite() {
        "-".into()
    } else if v >= 1e6 {
        format!("{:.2} M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1} k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

fn fmt_us(v: f64) -> String {
    if !v.is_finite() {
        "-".into()
    } else if v >= 1000.0 {
        format!("{:.2} ms", v / 1000.0)
    } else {
        format!("{v:.0} µs")
    }
}

fn ratio(a: f64, b: f64) -> String {
    if a.is_finite() && b.is_finite() && b > 0.0 {
        format!("{:.2}", a / b)
    } else {
        "-".into()
    }
}

/// The Markdown tables (results, ratios, targets) for BENCHMARKS.md.
pub fn markdown(suite: &SuiteResults, s: &[Summary]) -> String {
    let mut md = String::new();
    let mc = &suite.machine;
    let _ = writeln!(
        md,
        "Machine: {} cores, {}, {} MiB, Linux {}. Runs per cell: {} (medians). \
         Load average at start {:.2} / {:.2} / {:.2}, at end {:.2} / {:.2} / {:.2}.\n",
        mc.nproc,
        mc.cpu_model,
        mc.mem_mib,
        mc.kernel,
        suite.runs,
        suite.loadavg_start[0],
        suite.loadavg_start[1],
        suite.loadavg_start[2],
        suite.loadavg_end[0],
        suite.loadavg_end[1],
        suite.loadavg_end[2]
    );
    if !suite.versions.is_empty() {
        let v: Vec<String> = suite
            .versions
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        let _ = writeln!(md, "Versions: {}.\n", v.join("; "));
    }
    let _ = writeln!(md, "Command: `{}`\n", suite.command);
    let systems: Vec<String> = {
        let mut v: Vec<String> = Vec::new();
        for x in s {
            if !v.contains(&x.system) {
                v.push(x.system.clone());
            }
        }
        v
    };
    let labels = |kind: &str| -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        for x in s.iter().filter(|x| x.scenario == kind) {
            if !v.contains(&x.label) {
                v.push(x.label.clone());
            }
        }
        v
    };

    for kind in ["broadcast", "latency", "private"] {
        let ls = labels(kind);
        if ls.is_empty() {
            continue;
        }
        let _ = writeln!(md, "### {kind}\n");
        let _ = writeln!(
            md,
            "| scenario | system | deliveries/s | messages/s | p50 | p99 | max | server CPU (cores) | generator CPU (cores) | lost |"
        );
        let _ = writeln!(
            md,
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        );
        for l in &ls {
            for sys in &systems {
                if let Some(x) = find(s, sys, l) {
                    let _ = writeln!(
                        md,
                        "| {l} | {sys} | {} | {} | {} | {} | {} | {:.2} s ({:.2}) | {:.2} s ({:.2}) | {}{} |",
                        fmt_rate(x.deliveries_per_s),
                        fmt_rate(x.messages_per_s),
                        fmt_us(x.p50_us),
                        fmt_us(x.p99_us),
                        fmt_us(x.max_us),
                        x.server_cpu_s,
                        x.server_cores,
                        x.gen_cpu_s,
                        x.gen_cores,
                        x.lost,
                        if x.failed_runs > 0 {
                            format!(" ({} runs failed)", x.failed_runs)
                        } else {
                            String::new()
                        }
                    );
                }
            }
        }
        md.push('\n');
    }
    let ls = labels("connections");
    if !ls.is_empty() {
        let _ = writeln!(md, "### connections (idle registered clients)\n");
        let _ = writeln!(
            md,
            "| scenario | system | server memory per client | time to connect all | time until idle | bytes to the clients | server CPU | generator CPU | problems |"
        );
        let _ = writeln!(
            md,
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
        );
        for l in &ls {
            for sys in &systems {
                if let Some(x) = find(s, sys, l) {
                    let _ = writeln!(
                        md,
                        "| {l} | {sys} | {} | {} | {} | {:.1} MB | {:.2} s | {:.2} s | {} |",
                        x.rss_per_client_bytes
                            .map(|b| format!("{:.0} B", b))
                            .unwrap_or("-".into()),
                        x.connect_s
                            .map(|t| format!("{t:.3} s"))
                            .unwrap_or("-".into()),
                        x.idle_s.map(|t| format!("{t:.3} s")).unwrap_or("-".into()),
                        x.bytes_received / 1e6,
                        x.server_cpu_s,
                        x.gen_cpu_s,
                        if x.failed_runs > 0 {
                            "see problems"
                        } else {
                            "none"
                        }
                    );
                }
            }
        }
        md.push('\n');
    }

    // Ratios papo / anchor.
    let anchors: Vec<&str> = ["nats", "redis"]
        .into_iter()
        .filter(|a| systems.iter().any(|x| x == a))
        .collect();
    if systems.iter().any(|x| x == "papo") && !anchors.is_empty() {
        let _ = writeln!(md, "### ratios papo / anchor (medians)\n");
        let mut head = "| scenario | metric |".to_string();
        let mut rule = "| --- | --- |".to_string();
        for a in &anchors {
            head += &format!(" papo/{a} |");
            rule += " ---: |";
        }
        let _ = writeln!(md, "{head}\n{rule}");
        for x in s.iter().filter(|x| x.system == "papo") {
            let rows: Vec<(&str, Metric)> = match x.scenario.as_str() {
                "connections" => vec![
                    (
                        "memory per client (lower is better)",
                        Box::new(|y: &Summary| y.rss_per_client_bytes.unwrap_or(f64::NAN)),
                    ),
                    (
                        "time to connect (lower is better)",
                        Box::new(|y: &Summary| y.connect_s.unwrap_or(f64::NAN)),
                    ),
                ],
                "latency" => vec![(
                    "p99 latency (lower is better)",
                    Box::new(|y: &Summary| y.p99_us),
                )],
                _ => vec![
                    (
                        "deliveries/s (higher is better)",
                        Box::new(|y: &Summary| y.deliveries_per_s),
                    ),
                    (
                        "p99 latency (lower is better)",
                        Box::new(|y: &Summary| y.p99_us),
                    ),
                ],
            };
            for (name, f) in rows {
                let mut line = format!("| {} | {name} |", x.label);
                for a in &anchors {
                    let v = find(s, a, &x.label)
                        .map(|y| ratio(f(x), f(y)))
                        .unwrap_or("-".into());
                    line += &format!(" {v} |");
                }
                let _ = writeln!(md, "{line}");
            }
        }
        md.push('\n');
    }

    let _ = writeln!(md, "### targets (issue 5)\n");
    let _ = writeln!(md, "| target | measured | met? |\n| --- | --- | --- |");
    for (t, m, ok) in targets(s) {
        let _ = writeln!(md, "| {t} | {m} | {ok} |");
    }
    md.push('\n');

    let problems: Vec<String> = s
        .iter()
        .flat_map(|x| {
            x.problems
                .iter()
                .map(move |p| format!("{} {}: {p}", x.system, x.label))
        })
        .collect();
    let _ = writeln!(md, "### losses and problems\n");
    if problems.is_empty() {
        let _ = writeln!(
            md,
            "None: every expected delivery was counted in every run.\n"
        );
    } else {
        for p in problems {
            let _ = writeln!(md, "- {p}");
        }
        md.push('\n');
    }
    md
}

/// Each target of issue 5 with what was measured and whether it is met.
pub fn targets(s: &[Summary]) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let yes_no = |b: bool| {
        if b {
            "yes".to_string()
        } else {
            "**no**".to_string()
        }
    };
    let bl = "broadcast S=100 P=10 B=64";
    match (find(s, "papo", bl), find(s, "nats", bl)) {
        (Some(p), Some(n)) => {
            let r = p.deliveries_per_s / n.deliveries_per_s;
            out.push((
                "broadcast S=100 P=10 B=64: deliveries/s >= 1.5 x NATS".into(),
                format!(
                    "papo {} /s, NATS {} /s: {:.2} x",
                    fmt_rate(p.deliveries_per_s),
                    fmt_rate(n.deliveries_per_s),
                    r
                ),
                yes_no(r >= 1.5),
            ));
            out.push((
                "broadcast S=100 P=10 B=64: p99 latency no worse than NATS".into(),
                format!("papo {}, NATS {}", fmt_us(p.p99_us), fmt_us(n.p99_us)),
                yes_no(p.p99_us <= n.p99_us),
            ));
        }
        _ => out.push((
            "broadcast S=100 P=10 B=64 vs NATS".into(),
            "not measured (papo or NATS missing)".into(),
            "-".into(),
        )),
    }
    // The latency sizes are those of its broadcast: S=100 P=10 and
    // S=1000 P=1 (the other sizes are for the plot).
    for x in s.iter().filter(|x| {
        x.system == "papo"
            && x.scenario == "latency"
            && ((x.clients == 100 && x.publishers == 10)
                || (x.clients == 1000 && x.publishers == 1))
    }) {
        let others: Vec<String> = ["nats", "redis"]
            .iter()
            .filter_map(|a| find(s, a, &x.label).map(|y| format!("{a} {}", fmt_us(y.p99_us))))
            .collect();
        out.push((
            format!("{}: p99 < 1 ms", x.label),
            if others.is_empty() {
                fmt_us(x.p99_us)
            } else {
                format!("{} ({})", fmt_us(x.p99_us), others.join(", "))
            },
            yes_no(x.p99_us < 1000.0),
        ));
    }
    if let Some(x) = find(s, "papo", "connections N=10000") {
        let b = x.rss_per_client_bytes.unwrap_or(f64::NAN);
        out.push((
            "10,000 idle clients: <= 2.5 KB (2,500 bytes) of server memory each".into(),
            format!("{b:.0} bytes"),
            yes_no(b <= 2500.0),
        ));
        let t = x.connect_s.unwrap_or(f64::NAN);
        out.push((
            "10,000 idle clients connected in < 0.5 s".into(),
            format!(
                "{t:.3} s to the last WELCOME; {:.3} s until every JOIN notice was delivered",
                x.idle_s.unwrap_or(f64::NAN)
            ),
            yes_no(t < 0.5),
        ));
    }
    if let Some(x) = find(s, "papo", "connections N=10000 presence off") {
        let t = x.connect_s.unwrap_or(f64::NAN);
        out.push((
            "10,000 idle clients connected in < 0.5 s, with /presence off (no JOIN, no USERS: what NATS and Redis do)".into(),
            format!(
                "{t:.3} s to the last WELCOME; {:.0} bytes of server memory per client",
                x.rss_per_client_bytes.unwrap_or(f64::NAN)
            ),
            yes_no(t < 0.5),
        ));
    }
    let pl = s
        .iter()
        .find(|x| x.system == "papo" && x.scenario == "private");
    if let Some(p) = pl {
        match find(s, "nats", &p.label) {
            Some(n) => out.push((
                "private messages: at least NATS's rate".into(),
                format!(
                    "papo {} msg/s, NATS {} msg/s: {:.2} x",
                    fmt_rate(p.deliveries_per_s),
                    fmt_rate(n.deliveries_per_s),
                    p.deliveries_per_s / n.deliveries_per_s
                ),
                yes_no(p.deliveries_per_s >= n.deliveries_per_s),
            )),
            None => out.push((
                "private messages: at least NATS's rate".into(),
                format!(
                    "papo {} msg/s, NATS not measured",
                    fmt_rate(p.deliveries_per_s)
                ),
                "-".into(),
            )),
        }
    }
    out.push((
        "file transfer >= 1 GB/s".into(),
        "measured apart, by examples/file_throughput.rs (BENCHMARKS.md, \"File transfer\"): NATS and Redis have no file transfer".into(),
        "see BENCHMARKS.md".into(),
    ));
    let lost: u64 = s
        .iter()
        .filter(|x| x.system == "papo")
        .map(|x| x.lost)
        .sum();
    let failed: usize = s
        .iter()
        .filter(|x| x.system == "papo")
        .map(|x| x.failed_runs)
        .sum();
    out.push((
        "nothing lost (papo), or the loss explained".into(),
        format!("{lost} deliveries lost, {failed} runs with problems"),
        yes_no(lost == 0 && failed == 0),
    ));
    out
}

/// One CSV line per summary.
pub fn csv(s: &[Summary]) -> String {
    let mut out = String::from(
        "system,scenario,label,clients,publishers,runs,failed_runs,deliveries_per_s,messages_per_s,p50_us,p99_us,max_us,server_cpu_s,gen_cpu_s,server_cores,gen_cores,elapsed_s,rss_per_client_bytes,connect_s,idle_s,lost,loadavg_max\n",
    );
    let o = |v: Option<f64>| v.map(|x| format!("{x:.4}")).unwrap_or_default();
    for x in s {
        let _ = writeln!(
            out,
            "{},{},\"{}\",{},{},{},{},{:.0},{:.0},{:.1},{:.1},{:.1},{:.3},{:.3},{:.3},{:.3},{:.4},{},{},{},{},{:.2}",
            x.system,
            x.scenario,
            x.label,
            x.clients,
            x.publishers,
            x.runs,
            x.failed_runs,
            x.deliveries_per_s,
            x.messages_per_s,
            x.p50_us,
            x.p99_us,
            x.max_us,
            x.server_cpu_s,
            x.gen_cpu_s,
            x.server_cores,
            x.gen_cores,
            x.elapsed_s,
            o(x.rss_per_client_bytes),
            o(x.connect_s),
            o(x.idle_s),
            x.lost,
            x.loadavg_max
        );
    }
    out
}

const FONT_PATHS: [&str; 4] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
];

/// Draws deliveries/s (broadcast, P publishers) and p99 latency (paced)
/// against the number of clients, one line per system, into `path` (PNG).
/// Needs a TrueType font (Debian: fonts-dejavu-core).
pub fn plot(s: &[Summary], path: &Path) -> Result<(), String> {
    use plotters::prelude::*;

    let font_file = FONT_PATHS
        .iter()
        .find(|p| Path::new(p).is_file())
        .ok_or("no TrueType font found (install fonts-dejavu-core)")?;
    let bytes = std::fs::read(font_file).map_err(|e| format!("{font_file}: {e}"))?;
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
        .map_err(|_| format!("{font_file}: not a usable font"))?;

    // Series: the broadcast and latency scenarios with the most common
    // publisher count, over several client counts.
    let pick = |kind: &str| -> Option<usize> {
        let mut counts: BTreeMap<usize, usize> = BTreeMap::new();
        for x in s.iter().filter(|x| x.scenario == kind) {
            *counts.entry(x.publishers).or_default() += 1;
        }
        counts.into_iter().max_by_key(|&(_, n)| n).map(|(p, _)| p)
    };
    let systems = ["papo", "nats", "redis"];
    let colors = [
        RGBColor(200, 30, 30),
        RGBColor(30, 90, 200),
        RGBColor(40, 150, 60),
    ];
    let series =
        |kind: &str, p: usize, f: &dyn Fn(&Summary) -> f64| -> Vec<(usize, Vec<(f64, f64)>)> {
            systems
                .iter()
                .enumerate()
                .map(|(i, sys)| {
                    let mut pts: Vec<(f64, f64)> = s
                        .iter()
                        .filter(|x| x.system == *sys && x.scenario == kind && x.publishers == p)
                        .map(|x| (x.clients as f64, f(x)))
                        .filter(|(_, y)| y.is_finite() && *y > 0.0)
                        .collect();
                    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                    (i, pts)
                })
                .filter(|(_, v)| !v.is_empty())
                .collect()
        };

    let root = BitMapBackend::new(path, (1400, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let (left, right) = root.split_horizontally(700);
    // The same drawing for both panels; the y axis is linear for
    // deliveries/s and logarithmic for latency (0.1 ms to seconds).
    macro_rules! panel {
        ($area:expr, $chart:ident, $kind:expr, $data:expr, $p:expr, $title:expr, $ylabel:expr, $yrange:expr, $yfmt:expr) => {{
            let data = $data;
            let xs = data.iter().flat_map(|(_, v)| v.iter().map(|p| p.0));
            let (xmin, xmax) = xs.fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(x), b.max(x)));
            let mut $chart = ChartBuilder::on($area)
                .caption(format!("{}, P={}", $title, $p), ("sans-serif", 20))
                .margin(15)
                .x_label_area_size(45)
                .y_label_area_size(80)
                .build_cartesian_2d((xmin * 0.5..xmax * 2.0).log_scale(), $yrange)
                .map_err(|e| e.to_string())?;
            $chart
                .configure_mesh()
                .x_desc("clients online (log scale)")
                .y_desc($ylabel)
                .x_label_formatter(&|x| format!("{x:.0}"))
                .y_label_formatter(&$yfmt)
                .label_style(("sans-serif", 14))
                .draw()
                .map_err(|e| e.to_string())?;
            for (i, pts) in data {
                let color = colors[i];
                $chart
                    .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
                    .map_err(|e| e.to_string())?
                    .label(systems[i])
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                    });
                $chart
                    .draw_series(
                        pts.iter()
                            .map(|&(x, y)| Circle::new((x, y), 4, color.filled())),
                    )
                    .map_err(|e| e.to_string())?;
            }
            $chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .label_font(("sans-serif", 14))
                .draw()
                .map_err(|e| e.to_string())?;
        }};
    }
    let y_bounds = |data: &[(usize, Vec<(f64, f64)>)]| {
        data.iter()
            .flat_map(|(_, v)| v.iter().map(|p| p.1))
            .fold((f64::MAX, 0.0f64), |(a, b), y| (a.min(y), b.max(y)))
    };
    if let Some(p) = pick("broadcast") {
        let data = series("broadcast", p, &|x: &Summary| x.deliveries_per_s);
        if !data.is_empty() {
            let (_, ymax) = y_bounds(&data);
            panel!(
                &left,
                chart,
                "broadcast",
                data,
                p,
                "deliveries per second (broadcast, as fast as possible)",
                "deliveries/s",
                0.0..(ymax * 1.15).max(1e-9),
                |y: &f64| fmt_rate(*y)
            );
        }
    }
    if let Some(p) = pick("latency") {
        let data = series("latency", p, &|x: &Summary| x.p99_us / 1000.0);
        if !data.is_empty() {
            let (ymin, ymax) = y_bounds(&data);
            panel!(
                &right,
                chart,
                "latency",
                data,
                p,
                "p99 latency at 200 msg/s per sender",
                "p99 latency (ms, log scale)",
                ((ymin * 0.5).max(1e-3)..(ymax * 2.0).max(1e-2)).log_scale(),
                |y: &f64| format!("{y}")
            );
        }
    }
    root.present().map_err(|e| e.to_string())?;
    Ok(())
}
