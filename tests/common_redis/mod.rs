//! A real `redis-server` for the cluster tests (PROTOCOL.md, "Clusters"):
//! started on a free loopback port with no persistence, in a temporary
//! folder, stopped (and the folder deleted) when dropped. `stop` and
//! `start_again` cut and heal it on the same port, for the partition tests.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One `redis-server` process of a test.
pub struct Redis {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

impl Redis {
    /// Starts `redis-server` on a free port of 127.0.0.1 and waits until it
    /// answers `PING`. Panics (failing the test) when it cannot: the test
    /// command installs redis-server (scripts/install-deps.sh).
    pub fn start() -> Redis {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let dir = tempfile::tempdir().expect("a folder for redis-server");
        let mut r = Redis {
            child: None,
            port,
            dir,
        };
        r.start_again();
        r
    }

    /// `redis://127.0.0.1:<port>/`, for `ServerConfig::cluster`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server (SIGKILL: its clients see their connections reset)
    /// and waits for it to end.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port (empty: nothing is saved), waiting
    /// until it answers `PING`.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "redis-server is already running");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let child = Command::new("redis-server")
                .args(["--port", &self.port.to_string()])
                .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                .args(["--protected-mode", "no", "--loglevel", "warning"])
                .arg("--dir")
                .arg(self.dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server runs (scripts/install-deps.sh installs it)");
            self.child = Some(child);
            while Instant::now() < deadline {
                if self.ping() {
                    return;
                }
                if let Some(Ok(Some(_))) = self.child.as_mut().map(|c| c.try_wait()) {
                    // It ended (the port was still in TIME_WAIT or taken):
                    // try again.
                    self.child = None;
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            assert!(Instant::now() < deadline, "redis-server did not start");
            if self.child.is_none() {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }

    /// Whether it answers `PING` with `+PONG`.
    pub fn ping(&self) -> bool {
        self.command(&["PING"])
            .is_some_and(|r| r.starts_with("+PONG"))
    }

    /// Sends one command (RESP) and returns the first reply's bytes as
    /// text, or `None` when the server is unreachable.
    pub fn command(&self, args: &[&str]) -> Option<String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        let mut req = format!("*{}\r\n", args.len());
        for a in args {
            req.push_str(&format!("${}\r\n{}\r\n", a.len(), a));
        }
        s.write_all(req.as_bytes()).ok()?;
        let mut buf = vec![0u8; 65536];
        let n = s.read(&mut buf).ok()?;
        (n > 0).then(|| String::from_utf8_lossy(&buf[..n]).into_owned())
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}
