//! Loopback throughput of one file transfer (BENCHMARKS.md, "File
//! transfer"): a papo server, one sender and N receivers in this process,
//! all on 127.0.0.1; the sender streams a file from disk with
//! `Client::send_file`, each receiver saves its copy in its own download
//! folder. The time runs from `send_file` until every receiver has its copy
//! saved (renamed into place) and the sender has `FileSent`.
//!
//!     cargo run --release --example file_throughput -- [SIZE_MIB [RECEIVERS [ROUNDS]]]
//!
//! Defaults: 1024 MiB, 1 receiver, 3 rounds. Prints one line per round and
//! the best, in MiB/s of file delivered to each receiver (so 3 receivers at
//! 500 MiB/s means 1500 MiB/s leave the server), and the process's peak
//! resident memory (VmHWM) during the rounds.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use papo::{Client, Event, Server, ServerConfig};

fn arg(n: usize, default: u64) -> u64 {
    std::env::args()
        .nth(n)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

fn vm(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace()
        .nth(1)?
        .parse::<u64>()
        .ok()
        .map(|kb| kb * 1024)
}

fn write_file(path: &Path, size: u64) -> std::io::Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut buf = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        for b in buf.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b.copy_from_slice(&x.to_le_bytes()[..b.len()]);
        }
        let n = left.min(buf.len() as u64) as usize;
        f.write_all(&buf[..n])?;
        left -= n as u64;
    }
    f.flush()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let size_mib = arg(1, 1024);
    let receivers = arg(2, 1).max(1) as usize;
    let rounds = arg(3, 3).max(1);
    let size = size_mib * 1024 * 1024;
    let work = tempfile::Builder::new()
        .prefix("papo-file-throughput-")
        .tempdir()?;
    let source = work.path().join("source.bin");
    write_file(&source, size)?;

    let server = Server::start("127.0.0.1", 0, ServerConfig::default())?;
    let sender = Client::connect("127.0.0.1", server.port(), "sender")?;
    let mut clients = Vec::new();
    for k in 0..receivers {
        let c = Client::connect("127.0.0.1", server.port(), &format!("r{k}"))?;
        let dir = work.path().join(format!("r{k}"));
        c.set_download_dir(Some(dir));
        clients.push(c);
    }
    sender.ping()?;
    let _ = std::fs::write("/proc/self/clear_refs", "5"); // reset VmHWM
    let rss_before = vm("VmRSS:").unwrap_or(0);
    println!(
        "file of {size_mib} MiB to {receivers} receiver(s) over 127.0.0.1, {rounds} round(s); \
         server io_threads: default, {} CPU(s)",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let mut best = f64::MAX;
    for round in 1..=rounds {
        let start = Instant::now();
        let id = sender.send_file(None, &source)?;
        let waiters: Vec<_> = clients
            .iter()
            .map(|c| {
                let deadline = Instant::now() + Duration::from_secs(3600);
                loop {
                    match c.next_event(deadline.saturating_duration_since(Instant::now())) {
                        Ok(Event::FileReceived { id: got, path, .. }) if got == id => {
                            break Ok(path)
                        }
                        Ok(Event::FileFailed { reason, .. }) => break Err(reason),
                        Ok(_) => {}
                        Err(e) => break Err(e.to_string()),
                    }
                }
            })
            .collect();
        loop {
            match sender.next_event(Duration::from_secs(3600))? {
                Event::FileSent { id: got, .. } if got == id => break,
                Event::FileSendFailed { reason, .. } => return Err(reason.into()),
                _ => {}
            }
        }
        let secs = start.elapsed().as_secs_f64();
        for w in waiters {
            let path = w?;
            if std::fs::metadata(&path)?.len() != size {
                return Err(format!("{} has the wrong size", path.display()).into());
            }
            std::fs::remove_file(&path)?;
        }
        best = best.min(secs);
        println!(
            "round {round}: {secs:.3} s, {:.0} MiB/s per receiver, {:.0} MiB/s out of the server",
            size_mib as f64 / secs,
            size_mib as f64 * receivers as f64 / secs
        );
    }
    println!(
        "best: {best:.3} s, {:.0} MiB/s per receiver, {:.0} MiB/s out of the server",
        size_mib as f64 / best,
        size_mib as f64 * receivers as f64 / best
    );
    if let (Some(hwm), true) = (vm("VmHWM:"), rss_before > 0) {
        println!(
            "resident memory: {} MiB before, peak {} MiB during (the whole process: server, \
             sender and receivers)",
            rss_before >> 20,
            hwm >> 20
        );
    }
    Ok(())
}
