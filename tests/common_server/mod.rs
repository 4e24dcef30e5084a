//! Helpers for the server tests: a raw client that speaks the protocol as
//! `nc` would (text lines over a plain `TcpStream`), with a timeout on every
//! read so that no test can hang.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use papo::{Server, ServerConfig, ServerEvent};

/// Longest a test waits for any one line or event. Generous: the box may be
/// loaded; it only bounds a failure.
pub const WAIT: Duration = Duration::from_secs(20);

/// A server on 127.0.0.1, any free port.
pub fn start(cfg: ServerConfig) -> Server {
    match Server::start("127.0.0.1", 0, cfg) {
        Ok(s) => s,
        Err(e) => panic!("server did not start: {e}"),
    }
}

/// Config with `io_threads` threads, the rest default.
pub fn cfg(io_threads: usize) -> ServerConfig {
    ServerConfig {
        io_threads,
        ..ServerConfig::default()
    }
}

static TOKENS: AtomicU64 = AtomicU64::new(1);

/// One raw connection.
pub struct Raw {
    pub stream: TcpStream,
    reader: BufReader<TcpStream>,
    pub label: String,
    /// The single lines of a `CHANGES` line not yet returned (see
    /// [`Raw::try_line`]).
    split: VecDeque<String>,
}

impl Raw {
    /// Connects (without reading anything).
    pub fn connect(addr: SocketAddr) -> Raw {
        let stream = TcpStream::connect_timeout(&addr, WAIT)
            .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
        Raw::from_stream(stream)
    }

    pub fn from_stream(stream: TcpStream) -> Raw {
        stream.set_read_timeout(Some(WAIT)).expect("read timeout");
        stream.set_write_timeout(Some(WAIT)).expect("write timeout");
        let _ = stream.set_nodelay(true);
        let reader = BufReader::new(stream.try_clone().expect("clone stream"));
        let label = format!("{:?}", stream.local_addr().ok());
        Raw {
            stream,
            reader,
            label,
            split: VecDeque::new(),
        }
    }

    /// Connects and reads the `HELLO` line.
    pub fn connect_hello(addr: SocketAddr) -> Raw {
        let mut c = Raw::connect(addr);
        c.expect("HELLO papo/1 ");
        c
    }

    /// Connects, registers `nick` and returns the client with the `USERS`
    /// list it got. Like a person at `nc`, it does not say `/binary on`:
    /// files and binary messages reach it as `FILEOFFER` / `BYTESNOTE`
    /// lines (PROTOCOL.md, "Binary capability").
    pub fn join(addr: SocketAddr, nick: &str) -> (Raw, Vec<String>) {
        Raw::join_with(addr, nick, false)
    }

    /// [`Raw::join`] after `/binary on`: this client reads `FILE`, `CHUNK`
    /// and `BYTES` frames, as a library client does.
    pub fn join_binary(addr: SocketAddr, nick: &str) -> (Raw, Vec<String>) {
        Raw::join_with(addr, nick, true)
    }

    fn join_with(addr: SocketAddr, nick: &str, binary: bool) -> (Raw, Vec<String>) {
        let mut c = Raw::connect_hello(addr);
        c.label = nick.to_string();
        if binary {
            c.send("/binary on");
            c.expect("BINARY on ");
        }
        c.send(nick);
        let w = c.line();
        assert_eq!(
            w.split(' ').take(2).collect::<Vec<_>>(),
            ["WELCOME", nick],
            "{nick}: {w:?}"
        );
        let users = c.expect("USERS ");
        (c, users_of(&users))
    }

    /// Sends one line (LF added).
    pub fn send(&mut self, line: &str) {
        let mut b = line.as_bytes().to_vec();
        b.push(b'\n');
        self.send_raw(&b);
    }

    /// Sends bytes as they are.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream
            .write_all(bytes)
            .unwrap_or_else(|e| panic!("{}: write: {e}", self.label));
    }

    /// The next line (without LF), `None` at end of stream. Panics on a
    /// timeout or error. A `CHANGES` line (several presence changes the
    /// server gathered in one line, PROTOCOL.md "Presence") is returned as
    /// the single `JOIN`, `LEFT` and `NICK` lines it stands for, one per
    /// call, in order: what a test asserts about presence holds however
    /// the server's ticks fell. [`Raw::raw_line`] sees the line as sent.
    pub fn try_line(&mut self) -> Option<String> {
        if let Some(l) = self.split.pop_front() {
            return Some(l);
        }
        let line = self.try_raw_line()?;
        Some(self.expand(line))
    }

    /// `line`, or the first single line of a `CHANGES` line (the others
    /// wait in `split`).
    fn expand(&mut self, line: String) -> String {
        match papo::protocol::ServerLine::parse(&line) {
            Ok(papo::protocol::ServerLine::Changes(changes)) if !changes.is_empty() => {
                for c in changes {
                    let mut b = Vec::new();
                    c.into_line().encode(&mut b);
                    b.pop();
                    self.split
                        .push_back(String::from_utf8_lossy(&b).into_owned());
                }
                self.split.pop_front().unwrap_or(line)
            }
            _ => line,
        }
    }

    /// The next line exactly as the server sent it (a `CHANGES` line
    /// whole); panics at end of stream.
    pub fn raw_line(&mut self) -> String {
        assert!(
            self.split.is_empty(),
            "{}: CHANGES lines half read",
            self.label
        );
        match self.try_raw_line() {
            Some(l) => l,
            None => panic!("{}: end of stream, expected a line", self.label),
        }
    }

    /// The next line as sent, `None` at end of stream.
    fn try_raw_line(&mut self) -> Option<String> {
        let mut buf = Vec::new();
        match self.reader.read_until(b'\n', &mut buf) {
            Ok(0) => None,
            Ok(_) => {
                if buf.last() == Some(&b'\n') {
                    buf.pop();
                } else {
                    panic!("{}: line without LF at end of stream: {buf:?}", self.label);
                }
                Some(String::from_utf8(buf).expect("server sent UTF-8"))
            }
            Err(e) => panic!("{}: read: {e}", self.label),
        }
    }

    /// The next line; panics at end of stream.
    pub fn line(&mut self) -> String {
        match self.try_line() {
            Some(l) => l,
            None => panic!("{}: end of stream, expected a line", self.label),
        }
    }

    /// The next line, which must start with `prefix`.
    pub fn expect(&mut self, prefix: &str) -> String {
        let l = self.line();
        assert!(
            l.starts_with(prefix),
            "{}: expected {prefix:?}, got {l:?}",
            self.label
        );
        l
    }

    /// Sends `/ping <token>` and returns every line that came before the
    /// matching `PONG`: once it returns, the server has handled everything
    /// this client sent before.
    pub fn sync(&mut self) -> Vec<String> {
        let token = format!("sync{}", TOKENS.fetch_add(1, Ordering::Relaxed));
        self.send(&format!("/ping {token}"));
        let want = format!("PONG :{token}");
        let mut before = Vec::new();
        loop {
            let l = self.line();
            if l == want {
                return before;
            }
            before.push(l);
        }
    }

    /// `sync`, asserting that nothing else came.
    pub fn sync_quiet(&mut self) {
        let extra = self.sync();
        assert!(
            extra.is_empty(),
            "{}: unexpected lines {extra:?}",
            self.label
        );
    }

    /// Reads until end of stream (a reset counts as the end too) and
    /// returns the lines read.
    pub fn read_to_end(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        let deadline = Instant::now() + WAIT;
        loop {
            assert!(
                Instant::now() < deadline,
                "{}: no end of stream",
                self.label
            );
            match self.try_line_or_reset() {
                Some(l) => lines.push(l),
                None => return lines,
            }
        }
    }

    /// As [`Raw::read_to_end`], calling `each` on every line as it comes.
    pub fn read_to_end_with(&mut self, mut each: impl FnMut(&str)) -> Vec<String> {
        let mut lines = Vec::new();
        while let Some(l) = self.try_line_or_reset() {
            each(&l);
            lines.push(l);
        }
        lines
    }

    /// The next line (lossy UTF-8), `None` at end of stream or on a reset;
    /// panics on a timeout. A `CHANGES` line comes as its single lines, as
    /// in [`Raw::try_line`].
    pub fn try_line_or_reset(&mut self) -> Option<String> {
        if let Some(l) = self.split.pop_front() {
            return Some(l);
        }
        let mut buf = Vec::new();
        match self.reader.read_until(b'\n', &mut buf) {
            Ok(0) => None,
            Ok(_) => {
                if buf.last() == Some(&b'\n') {
                    buf.pop();
                }
                let line = String::from_utf8_lossy(&buf).into_owned();
                Some(self.expand(line))
            }
            Err(e) if e.kind() == ErrorKind::ConnectionReset => None,
            Err(e) => panic!("{}: read: {e}", self.label),
        }
    }

    /// Asserts that the server closed the connection with nothing more to say.
    pub fn expect_eof(&mut self) {
        let rest = self.read_to_end();
        assert!(
            rest.is_empty(),
            "{}: expected end, got {rest:?}",
            self.label
        );
    }

    pub fn shutdown_write(&self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }

    /// Reads one raw byte (payload bytes after a `CHUNK`/`BYTES` line);
    /// panics at end of stream or after the read timeout.
    pub fn read_byte(&mut self) -> u8 {
        let mut b = [0u8; 1];
        match self.reader.read_exact(&mut b) {
            Ok(()) => b[0],
            Err(e) => panic!("{}: read a byte: {e}", self.label),
        }
    }

    /// Reads exactly `n` raw bytes (a payload and its LF); `None` at end
    /// of stream or on a reset, panics after the read timeout.
    pub fn read_exact_or_end(&mut self, n: usize) -> Option<Vec<u8>> {
        let mut buf = vec![0u8; n];
        match self.reader.read_exact(&mut buf) {
            Ok(()) => Some(buf),
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset
                ) =>
            {
                None
            }
            Err(e) => panic!("{}: read {n} bytes: {e}", self.label),
        }
    }

    /// Reads raw bytes (for the slow-consumer test).
    pub fn read_some(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.reader.read(buf)
    }
}

/// Reads lines until one starts with `prefix` and returns it (presence
/// lines, and other nodes' lines in a cluster, may come first).
pub fn until(c: &mut Raw, prefix: &str) -> String {
    loop {
        let l = c.line();
        if l.starts_with(prefix) {
            return l;
        }
    }
}

/// Asks `/list` until `c` sees exactly `want` (sorted as `USERS` sorts),
/// reading past other lines: what another node of a cluster says takes a
/// moment to arrive.
pub fn wait_users(c: &mut Raw, want: &[&str]) {
    let deadline = Instant::now() + WAIT;
    loop {
        c.send("/list");
        let users = loop {
            let l = c.line();
            if l.starts_with("USERS ") {
                break users_of(&l);
            }
        };
        if users == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{}: users {users:?}, want {want:?}",
            c.label
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The nicknames of a `USERS <n> :a b c` line.
pub fn users_of(line: &str) -> Vec<String> {
    let (head, list) = line.split_once(" :").unwrap_or((line, ""));
    let n: usize = head
        .strip_prefix("USERS ")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a USERS line: {line:?}"));
    let nicks: Vec<String> = list
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    assert_eq!(nicks.len(), n, "{line:?}");
    nicks
}

/// Waits for the first event matching `pred`, skipping others; panics after
/// [`WAIT`].
pub fn wait_event(server: &Server, what: &str, pred: impl Fn(&ServerEvent) -> bool) -> ServerEvent {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no event: {what}");
        if let Some(ev) = server.next_event(left) {
            if pred(&ev) {
                return ev;
            }
        }
    }
}

/// Polls `f` until it returns true; panics after [`WAIT`]. For counters that
/// settle shortly after an observable event.
pub fn eventually(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !f() {
        assert!(Instant::now() < deadline, "never true: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}
