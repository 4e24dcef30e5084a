//! `papo-bench nonreaders`: issue 14's case of clients that never read.
//!
//! One sender writes public messages open loop (at a fixed rate, whatever
//! the server does, within the flood limit), N clients registered and never
//! reading, H honest clients reading everything and sending `/ping` every
//! 100 ms. Reported: the honest clients' `/ping` round trip (p50, p99,
//! max), the server's peak resident memory (VmRSS sampled every 50 ms, and
//! VmHWM), its CPU time, and how many clients it dropped (as seen by the
//! clients: `ERROR 03` or end of stream).
//!
//! Plain blocking sockets and a thread per honest client: the measured
//! figure is the server's latency, far above what these threads add.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::servers::{PapoOptions, ServerProcess, System};
use crate::sys;

/// What to run.
pub struct Params {
    pub non_readers: usize,
    pub honest: usize,
    pub rate: f64,
    pub bytes: usize,
    pub duration: f64,
    /// `SO_RCVBUF` of the non-readers' sockets, bytes, set before they
    /// connect (`None`: the kernel's default, autotuned).
    pub rcvbuf: Option<usize>,
}

/// What was measured.
#[derive(Serialize)]
pub struct Outcome {
    pub non_readers: usize,
    pub honest: usize,
    pub rate: f64,
    pub bytes: usize,
    pub duration_s: f64,
    pub rcvbuf: Option<usize>,
    pub sent: u64,
    pub pings: usize,
    pub ping_p50_ms: f64,
    pub ping_p99_ms: f64,
    pub ping_max_ms: f64,
    pub rss_peak_mib: f64,
    pub vm_hwm_mib: f64,
    pub server_cpu_s: f64,
    pub honest_dropped: u64,
    pub non_readers_dropped: u64,
    pub loadavg_start: [f64; 3],
}

/// Connects, with `SO_RCVBUF` set before the handshake when `rcvbuf` is
/// given (set after it, the window already advertised would stay).
fn connect(addr: SocketAddr, rcvbuf: Option<usize>) -> Result<TcpStream, String> {
    let Some(size) = rcvbuf else {
        return TcpStream::connect(addr).map_err(|e| format!("connect: {e}"));
    };
    let sock = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )
    .map_err(|e| format!("socket: {e}"))?;
    sock.set_recv_buffer_size(size)
        .map_err(|e| format!("SO_RCVBUF: {e}"))?;
    sock.connect(&addr.into())
        .map_err(|e| format!("connect: {e}"))?;
    Ok(sock.into())
}

fn register(
    addr: SocketAddr,
    nick: &str,
    rcvbuf: Option<usize>,
) -> Result<(TcpStream, BufReader<TcpStream>), String> {
    let s = connect(addr, rcvbuf)?;
    let _ = s.set_nodelay(true);
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .map_err(|e| e.to_string())?;
    let mut r = BufReader::new(s.try_clone().map_err(|e| e.to_string())?);
    let mut w = s.try_clone().map_err(|e| e.to_string())?;
    w.write_all(format!("{nick}\n").as_bytes())
        .map_err(|e| e.to_string())?;
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
            return Err(format!("{nick}: closed while registering"));
        }
        if line.starts_with("USERS ") {
            return Ok((s, r));
        }
        if line.starts_with("ERROR ") {
            return Err(format!("{nick}: {}", line.trim_end()));
        }
    }
}

/// Whether a socket the client never read from was closed by the server
/// (a dropped slow consumer): a non-blocking peek sees the end or a reset
/// behind whatever is still unread only once it is all read, so this reads
/// (and throws away) what is there.
fn was_dropped(s: &TcpStream) -> bool {
    use std::io::Read;
    if s.set_nonblocking(true).is_err() {
        return false;
    }
    let mut buf = vec![0u8; 1 << 16];
    let mut s = s;
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
            Err(_) => return true,
        }
    }
}

pub fn run(p: &Params) -> Result<Outcome, String> {
    let loadavg_start = sys::loadavg();
    let server = ServerProcess::start(System::Papo, &PapoOptions::default())?;
    let addr = server.addr;
    let pid = server.pid;
    let mut idle = Vec::with_capacity(p.non_readers);
    for k in 0..p.non_readers {
        let (s, _r) = register(addr, &format!("nr{k}"), p.rcvbuf)?;
        idle.push(s); // never read again
    }
    let stop = Arc::new(AtomicBool::new(false));
    let rtts: Arc<Mutex<Vec<u64>>> = Arc::default();
    let honest_dropped = Arc::new(AtomicU64::new(0));
    let mut threads = Vec::new();
    for h in 0..p.honest {
        let (s, r) = register(addr, &format!("honest{h}"), None)?;
        let (stop, rtts, dropped) = (
            Arc::clone(&stop),
            Arc::clone(&rtts),
            Arc::clone(&honest_dropped),
        );
        threads.push(thread::spawn(move || {
            let mut w = s;
            let mut r = r;
            let mut line = String::new();
            let mut k = 0u64;
            while !stop.load(Ordering::Relaxed) {
                k += 1;
                let token = format!("t{k}");
                let t0 = Instant::now();
                if w.write_all(format!("/ping {token}\n").as_bytes()).is_err() {
                    dropped.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                let want = format!("PONG :{token}");
                loop {
                    line.clear();
                    match r.read_line(&mut line) {
                        Ok(0) | Err(_) => {
                            dropped.fetch_add(1, Ordering::Relaxed);
                            return;
                        }
                        Ok(_) => {}
                    }
                    if line.trim_end() == want {
                        break;
                    }
                    if line.starts_with("ERROR ") {
                        dropped.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                }
                let us = u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX);
                if let Ok(mut v) = rtts.lock() {
                    v.push(us);
                }
                thread::sleep(Duration::from_millis(100));
            }
        }));
    }
    // The sender: open loop at `rate`, its own lines drained by a thread.
    let (s, mut r) = register(addr, "sender", None)?;
    let drain_stop = Arc::clone(&stop);
    let drainer = thread::spawn(move || {
        let mut line = String::new();
        while !drain_stop.load(Ordering::Relaxed) {
            line.clear();
            if r.read_line(&mut line).map_or(true, |n| n == 0) {
                return;
            }
        }
    });
    let filler = "x".repeat(p.bytes.saturating_sub(12).max(1));
    let cpu0 = server.cpu_seconds();
    let start = Instant::now();
    let mut rss_peak = 0u64;
    let mut next_sample = start;
    let mut sent = 0u64;
    let mut w = s;
    let period = Duration::from_secs_f64(1.0 / p.rate.max(0.001));
    let end = start + Duration::from_secs_f64(p.duration);
    while Instant::now() < end {
        let due = start + period.mul_f64(sent as f64);
        let now = Instant::now();
        if now >= due {
            let msg = format!(":{sent} {filler}\n");
            if w.write_all(msg.as_bytes()).is_err() {
                break;
            }
            sent += 1;
        }
        if now >= next_sample {
            rss_peak = rss_peak.max(sys::rss_kib(pid).unwrap_or(0));
            next_sample = now + Duration::from_millis(50);
        }
        let wake = (start + period.mul_f64(sent as f64)).min(next_sample);
        if let Some(d) = wake.checked_duration_since(Instant::now()) {
            thread::sleep(d);
        }
    }
    // Let the honest clients see the end of the burst's effect.
    let settle = Instant::now() + Duration::from_secs(2);
    while Instant::now() < settle {
        rss_peak = rss_peak.max(sys::rss_kib(pid).unwrap_or(0));
        thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::Relaxed);
    let cpu = server.cpu_seconds() - cpu0;
    let hwm = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .unwrap_or(0);
    let non_readers_dropped = idle.iter().filter(|s| was_dropped(s)).count() as u64;
    for t in threads {
        let _ = t.join();
    }
    let _ = w.shutdown(std::net::Shutdown::Both);
    let _ = drainer.join();
    drop(idle);
    server.stop();
    let mut v = rtts.lock().map(|v| v.clone()).unwrap_or_default();
    v.sort_unstable();
    let pct = |q: f64| -> f64 {
        if v.is_empty() {
            return f64::NAN;
        }
        let i = ((v.len() as f64 - 1.0) * q).round() as usize;
        v.get(i).copied().unwrap_or(0) as f64 / 1000.0
    };
    Ok(Outcome {
        non_readers: p.non_readers,
        honest: p.honest,
        rate: p.rate,
        bytes: p.bytes,
        duration_s: p.duration,
        rcvbuf: p.rcvbuf,
        sent,
        pings: v.len(),
        ping_p50_ms: pct(0.5),
        ping_p99_ms: pct(0.99),
        ping_max_ms: pct(1.0),
        rss_peak_mib: rss_peak as f64 / 1024.0,
        vm_hwm_mib: hwm as f64 / 1024.0,
        server_cpu_s: cpu,
        honest_dropped: honest_dropped.load(Ordering::Relaxed),
        non_readers_dropped,
        loadavg_start,
    })
}
