//! What the benchmark reads from the operating system: CPU time and resident
//! memory of a process (from `/proc/<pid>/stat` and `/proc/<pid>/status`),
//! the load average, the machine's description, and the open-file limit.

use std::fs;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};

/// CPU time (user + system, all threads) used so far by process `pid`, in
/// seconds: the sum of the first field (nanoseconds on a CPU) of
/// `/proc/<pid>/task/*/schedstat`, or, where the kernel has no schedstat,
/// fields 14 and 15 of `/proc/<pid>/stat` (clock ticks, usually 10 ms).
/// Threads that have already exited are not in the schedstat sum: take
/// differences over intervals in which the threads live on (servers keep
/// theirs). `None` if the process is gone.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    if let Some(ns) = schedstat_ns(pid) {
        return Some(ns as f64 / 1e9);
    }
    stat_cpu_seconds(pid)
}

/// CPU time used so far by each group of threads of process `pid`, in
/// seconds, read as [`cpu_seconds`] reads it: threads are grouped by name
/// (`/proc/<pid>/task/<tid>/comm`) with a trailing `-<digits>` taken off,
/// so `papo-io-0` and `papo-io-1` count as `papo-io`; the main thread is
/// under the program's name. Empty if the process is gone or the kernel
/// has no schedstat.
pub fn thread_cpu_seconds(pid: u32) -> std::collections::BTreeMap<String, f64> {
    let mut out = std::collections::BTreeMap::new();
    let Ok(dir) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for entry in dir.flatten() {
        let (Ok(comm), Ok(stat)) = (
            fs::read_to_string(entry.path().join("comm")),
            fs::read_to_string(entry.path().join("schedstat")),
        ) else {
            continue;
        };
        let Some(ns) = stat
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
        else {
            continue;
        };
        let comm = comm.trim();
        let group = match comm.rsplit_once('-') {
            Some((head, tail)) if !tail.is_empty() && tail.bytes().all(|b| b.is_ascii_digit()) => {
                head
            }
            _ => comm,
        };
        *out.entry(group.to_string()).or_insert(0.0) += ns as f64 / 1e9;
    }
    out
}

fn schedstat_ns(pid: u32) -> Option<u64> {
    let mut total = 0u64;
    let mut any = false;
    for entry in fs::read_dir(format!("/proc/{pid}/task")).ok()?.flatten() {
        let s = fs::read_to_string(entry.path().join("schedstat")).ok()?;
        total += s.split_whitespace().next()?.parse::<u64>().ok()?;
        any = true;
    }
    any.then_some(total)
}

fn stat_cpu_seconds(pid: u32) -> Option<f64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces:
    // count fields from after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state), so field n is fields[n - 3].
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / clock_ticks())
}

/// CPU time of this process (the load generator), in seconds, as
/// [`cpu_seconds`] gives it for others.
pub fn self_cpu_seconds() -> f64 {
    cpu_seconds(std::process::id()).unwrap_or(0.0)
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf only reads a configuration value.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// Resident memory of process `pid` (`VmRSS` in `/proc/<pid>/status`), in
/// kilobytes (KiB). `None` if the process is gone.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Peak resident memory of process `pid` (`VmHWM` in
/// `/proc/<pid>/status`), in KiB. `None` if the process is gone.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The 1-, 5- and 15-minute load averages from `/proc/loadavg`.
pub fn loadavg() -> [f64; 3] {
    let s = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut it = s.split_whitespace().map(|v| v.parse().unwrap_or(-1.0));
    [
        it.next().unwrap_or(-1.0),
        it.next().unwrap_or(-1.0),
        it.next().unwrap_or(-1.0),
    ]
}

/// The machine: cores, CPU model, memory and kernel, for BENCHMARKS.md.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Machine {
    /// Online CPUs (what `nproc` prints).
    pub nproc: usize,
    /// `model name` from `/proc/cpuinfo`.
    pub cpu_model: String,
    /// `MemTotal` from `/proc/meminfo`, in MiB.
    pub mem_mib: u64,
    /// Kernel release (`uname -r`).
    pub kernel: String,
}

/// Describes this machine.
pub fn machine() -> Machine {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let meminfo = fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kib: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_string();
    Machine {
        nproc: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        cpu_model,
        mem_mib: mem_kib / 1024,
        kernel,
    }
}

/// Raises this process's soft limit on open files to its hard limit (10,000
/// connections need 10,000 descriptors; child servers inherit the limit).
/// Returns the new soft limit.
pub fn raise_nofile_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit write/read the struct we own.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 0;
        }
        if lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
    lim.rlim_cur
}

/// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0 and
/// released), for servers that need a port number on their command line.
pub fn free_port() -> std::io::Result<u16> {
    let l = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
    Ok(l.local_addr()?.port())
}

/// Sends `sig` to process `pid`.
pub fn signal(pid: u32, sig: i32) {
    // SAFETY: kill has no memory effects; a stale pid only yields ESRCH.
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}
