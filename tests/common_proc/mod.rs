//! What the process uses, read from Linux's /proc: threads, file
//! descriptors, resident memory, and the CPU time of papo's own threads.
//! For the hostile-input and fault tests (issue 6).
#![allow(dead_code)]

use std::fs;
use std::net::TcpStream;

/// Threads of this process (`/proc/self/task`).
pub fn thread_count() -> usize {
    fs::read_dir("/proc/self/task")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Open file descriptors of this process (`/proc/self/fd`, minus the one
/// used to list it).
pub fn fd_count() -> usize {
    fs::read_dir("/proc/self/fd")
        .map(|d| d.count().saturating_sub(1))
        .unwrap_or(0)
}

/// Names of this process's threads whose name starts with `prefix`.
pub fn threads_named(prefix: &str) -> Vec<String> {
    let mut names = Vec::new();
    if let Ok(dir) = fs::read_dir("/proc/self/task") {
        for t in dir.flatten() {
            if let Ok(comm) = fs::read_to_string(t.path().join("comm")) {
                let comm = comm.trim_end().to_string();
                if comm.starts_with(prefix) {
                    names.push(comm);
                }
            }
        }
    }
    names
}

/// Resident memory of this process, in KiB (`VmRSS` of /proc/self/status).
pub fn rss_kib() -> u64 {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// CPU time (user + system, in clock ticks, usually 1/100 s) used so far
/// by this process's threads whose name starts with `prefix` (papo names
/// its server threads `papo-io-N` and `papo-accept`).
pub fn cpu_ticks(prefix: &str) -> u64 {
    let mut total = 0u64;
    let Ok(dir) = fs::read_dir("/proc/self/task") else {
        return 0;
    };
    for t in dir.flatten() {
        let Ok(stat) = fs::read_to_string(t.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid ... : comm may hold spaces, so cut at the
        // last ')'. utime and stime are fields 14 and 15.
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let comm = stat
            .get(..close)
            .and_then(|s| s.split_once('('))
            .map(|(_, c)| c)
            .unwrap_or("");
        if !comm.starts_with(prefix) {
            continue;
        }
        let fields: Vec<&str> = stat
            .get(close + 1..)
            .unwrap_or("")
            .split_whitespace()
            .collect();
        let num = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0)
        };
        total += num(11) + num(12);
    }
    total
}

/// Sets a socket's receive buffer (`SO_RCVBUF`), before it fills.
pub fn set_rcvbuf(stream: &TcpStream, bytes: libc::c_int) {
    use std::os::fd::AsRawFd;
    // SAFETY: setsockopt on a descriptor we own, with a pointer to a local.
    let r = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            &bytes as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0, "setsockopt SO_RCVBUF");
}

/// Makes the coming close of `stream` a reset (RST): `SO_LINGER` 0.
pub fn set_reset_on_close(stream: &TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt on a descriptor we own, reading a local struct.
    let r = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &linger as *const libc::linger as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0, "setsockopt SO_LINGER");
}

/// Deterministic pseudo-random bytes (xorshift64*).
pub fn random_bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed.max(1);
    (0..n)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect()
}
