//! Starting and stopping the servers under test, each as its own process on
//! 127.0.0.1 so that its CPU time and memory can be read from `/proc`
//! apart from the load generator's.
//!
//! - papo: this same binary, `papo-bench serve` (a `papo::Server` started
//!   from the library, default configuration);
//! - NATS: Debian's `nats-server` (2.9), default configuration;
//! - Redis: Debian's `redis-server` (7.0), persistence off, `maxclients`
//!   raised so 10,000 clients fit, its working folder a temporary one
//!   (removed when it stops); everything else default (including the
//!   pub/sub output-buffer limit that disconnects slow consumers). The same
//!   process is the engine of a papo cluster (`crate::cluster`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use crate::sys;

/// The systems the load generator speaks.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum System {
    /// The papo server (`papo::Server`), text lines of PROTOCOL.md.
    Papo,
    /// nats-server, NATS text protocol (CONNECT/SUB/PUB/MSG/PING/PONG).
    Nats,
    /// redis-server, RESP3 pub/sub (HELLO 3, SUBSCRIBE, PUBLISH).
    Redis,
}

impl System {
    /// Lower-case name, as on the command line and in the results.
    pub fn name(self) -> &'static str {
        match self {
            System::Papo => "papo",
            System::Nats => "nats",
            System::Redis => "redis",
        }
    }

    /// Whether this system's server program can be found.
    pub fn available(self) -> bool {
        match self {
            System::Papo => true,
            System::Nats => find_program("nats-server").is_some(),
            System::Redis => find_program("redis-server").is_some(),
        }
    }
}

/// Looks a program up in `PATH` and in the sbin directories (Debian puts
/// nats-server in /usr/sbin, which is not on every user's PATH).
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// A server process under test; stopped (and waited for) when dropped.
pub struct ServerProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its process id, for `/proc`.
    pub pid: u32,
    /// redis-server's working folder, removed after the process has ended
    /// (the `Drop` impl stops the process before the fields drop).
    _scratch: Option<tempfile::TempDir>,
}

/// Options for the papo server process.
#[derive(Debug, Clone, Default)]
pub struct PapoOptions {
    /// `ServerConfig::io_threads` (0 = the library's default).
    pub io_threads: usize,
    /// `ServerConfig::history_path`: history written to this SQLite file
    /// (None: history in memory only, the default).
    pub history_path: Option<std::path::PathBuf>,
    /// `ServerConfig::cluster`: a `redis://` URL; the server joins the chat
    /// of every node using that Redis (None: a server alone, the default).
    pub cluster: Option<String>,
}

impl ServerProcess {
    /// Starts a fresh server of `system` on a free loopback port and waits
    /// until it accepts connections.
    pub fn start(system: System, papo: &PapoOptions) -> Result<ServerProcess, String> {
        match system {
            System::Papo => start_papo(papo),
            System::Nats => {
                let port = sys::free_port().map_err(|e| format!("no free port: {e}"))?;
                let prog = find_program("nats-server").ok_or("nats-server not installed")?;
                let mut cmd = Command::new(prog);
                cmd.args(["-a", "127.0.0.1", "-p", &port.to_string()]);
                start_external(system, cmd, port)
            }
            System::Redis => {
                let port = sys::free_port().map_err(|e| format!("no free port: {e}"))?;
                let prog = find_program("redis-server").ok_or("redis-server not installed")?;
                let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
                let mut cmd = Command::new(prog);
                cmd.args([
                    "--port",
                    &port.to_string(),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--protected-mode",
                    "no",
                    "--daemonize",
                    "no",
                    "--maxclients",
                    "19000",
                    "--loglevel",
                    "warning",
                    "--dir",
                ]);
                cmd.arg(dir.path());
                let mut proc = start_external(system, cmd, port)?;
                proc._scratch = Some(dir);
                Ok(proc)
            }
        }
    }

    /// Stops the server: papo by closing its stdin (it then calls
    /// `Server::shutdown`), the others with SIGTERM; SIGKILL after 5 s.
    pub fn stop(mut self) {
        self.stop_inner();
    }

    fn stop_inner(&mut self) {
        if let Some(stdin) = self.stdin.take() {
            drop(stdin);
        } else {
            sys::signal(self.pid, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) if Instant::now() >= deadline => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }

    /// Ends the server at once with SIGKILL, as a crash would (no
    /// shutdown: the kernel closes its sockets, Redis drops its
    /// subscriptions), and waits until it has exited.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// CPU seconds used so far by the server process.
    pub fn cpu_seconds(&self) -> f64 {
        sys::cpu_seconds(self.pid).unwrap_or(f64::NAN)
    }

    /// Resident memory of the server process, in KiB.
    pub fn rss_kib(&self) -> u64 {
        sys::rss_kib(self.pid).unwrap_or(0)
    }

    /// Peak resident memory of the server process so far, in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        sys::peak_rss_kib(self.pid).unwrap_or(0)
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.stop_inner();
        }
    }
}

fn start_papo(opts: &PapoOptions) -> Result<ServerProcess, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find papo-bench: {e}"))?;
    let mut cmd = Command::new(exe);
    cmd.args([
        "serve",
        "--port",
        "0",
        "--io-threads",
        &opts.io_threads.to_string(),
    ]);
    if let Some(path) = &opts.history_path {
        cmd.arg("--history-path").arg(path);
    }
    if let Some(url) = &opts.cluster {
        cmd.arg("--cluster").arg(url);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start papo-bench serve: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut line = String::new();
    // `serve` prints "LISTENING <addr>" once the socket listens.
    let n = BufReader::new(stdout)
        .read_line(&mut line)
        .map_err(|e| format!("papo-bench serve: {e}"))?;
    let addr = line
        .trim()
        .strip_prefix("LISTENING ")
        .and_then(|a| a.parse::<SocketAddr>().ok());
    let Some(addr) = addr else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(format!(
            "papo-bench serve did not start (said {:?}, {n} bytes)",
            line.trim()
        ));
    };
    let pid = child.id();
    let stdin = child.stdin.take();
    Ok(ServerProcess {
        child,
        stdin,
        addr,
        pid,
        _scratch: None,
    })
}

fn start_external(system: System, mut cmd: Command, port: u16) -> Result<ServerProcess, String> {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", system.name()))?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let pid = child.id();
    let mut proc = ServerProcess {
        child,
        stdin: None,
        addr,
        pid,
        _scratch: None,
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if !proc.alive() {
            return Err(format!(
                "{} exited at start (port {port} taken?)",
                system.name()
            ));
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(proc);
        }
        if Instant::now() >= deadline {
            return Err(format!("{} does not listen on {addr}", system.name()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends one command to the Redis server at `addr` (RESP2 on a fresh
/// connection, 5 s timeout) and returns its reply when it is a bulk string
/// (`INFO` answers one), else `None`: unreachable, an error reply, or
/// another type.
pub fn redis_bulk(addr: SocketAddr, args: &[&str]) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    s.write_all(req.as_bytes()).ok()?;
    let mut r = BufReader::new(s);
    let mut head = String::new();
    r.read_line(&mut head).ok()?;
    let len: usize = head.trim_end().strip_prefix('$')?.parse().ok()?;
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).ok()?;
    String::from_utf8(body).ok()
}
