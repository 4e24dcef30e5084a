//! Fuzz target `server`: the real server ([`papo::Server`]: its acceptor,
//! I/O threads, inboxes and the sessions they host) over loopback, as
//! opposed to [`super::session`], which hosts the same sessions in memory.
//!
//! Three process-wide servers are started on first use (127.0.0.1, port 0,
//! flood limit and keepalive off, registration timeout 10 minutes) and
//! never stopped,
//! each with a registered control client (nickname `ctl`, a raw socket)
//! that sends nothing but `/ping`. Every input is one fuzzed connection:
//! connect, read `HELLO`, write the input cut into pieces, half-close,
//! read until the server closes too; then the control client's `/ping`
//! barrier (PROTOCOL.md "Client lines") and a look at the server's registry.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use papo::config::Password;
use papo::protocol::{nick_fold, nick_key, PresenceChange, ServerLine};
use papo::{Server, ServerConfig};

use super::{chunk_lengths, cut};
use crate::wire::next_item;

/// The control client's nickname on every server.
const CONTROL_NICK: &str = "ctl";
/// The password of the server that wants one (server 2).
const PASSWORD: &str = "fuzz";
/// Most bytes of one input sent to a server (the rest is ignored): what
/// `scripts/fuzz.sh` lets libFuzzer make (`-max_len=4096`). It keeps what
/// one input can make the server queue for the control client (which reads
/// only at the barrier) far below any queue limit.
pub const MAX_SERVER_INPUT: usize = 4096;
/// Longest the harness waits for a byte (or the end) from a server before
/// it calls the server hung (a panic): far more than a loaded machine
/// needs, less than `scripts/fuzz.sh`'s libFuzzer `-timeout`.
const IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest one connection's whole exchange may take after the input was
/// written.
const TOTAL_TIMEOUT: Duration = Duration::from_secs(20);
/// Written within this long (from the connect to the half-close), the
/// input ends well before the server's 2-second lingering close could run
/// out, so the server has no reason to reset the connection (unless it
/// drops it as a slow consumer). Slower (a very loaded machine), a reset
/// is allowed.
const LINGER_SAFE: Duration = Duration::from_secs(1);
/// Largest write of the input, picked by the low bits of byte 1.
const CHUNK_MAX: [usize; 4] = [1, 7, 64, 4096];

/// The number the servers will give the next accepted `/file`, as far as
/// the harness has seen: transfer numbers count up across the process
/// (PROTOCOL.md "Files"), and only fuzzed connections send `/file`.
static NEXT_FILE_ID: AtomicU64 = AtomicU64::new(1);

/// Replaces each `$` in the input (and the digit `k` after it, if any) by
/// the number the server will most likely give this input's `k`-th
/// accepted `/file` (0 when no digit follows), so that an input can send
/// `/chunk $ 5`, `/fileend $`, `/fileabort $1` for files whose numbers it
/// cannot know. A guess: a refused `/file` does not take a number.
fn with_file_ids(stream: &[u8], first: u64) -> Cow<'_, [u8]> {
    if !stream.contains(&b'$') {
        return Cow::Borrowed(stream);
    }
    let mut out = Vec::with_capacity(stream.len() + 32);
    let mut bytes = stream.iter().copied().peekable();
    while let Some(b) = bytes.next() {
        if b != b'$' {
            out.push(b);
            continue;
        }
        let k = match bytes.peek().copied() {
            Some(d) if d.is_ascii_digit() => {
                bytes.next();
                u64::from(d - b'0')
            }
            _ => 0,
        };
        out.extend_from_slice(first.saturating_add(k).to_string().as_bytes());
    }
    Cow::Owned(out)
}

/// One fuzzed server and its control client.
struct Target {
    server: Server,
    cfg: ServerConfig,
    control: Mutex<Control>,
}

/// The three servers (byte 0 of an input picks one, modulo 3):
///
/// 0. the default limits, two I/O threads (the fuzzed connection and the
///    control client sit on different threads for every other input);
/// 1. small limits (64-byte lines, 8-character nicknames, 100-byte binary
///    messages, 300-byte files, a 16 KiB queue, no limit on nickname
///    attempts), one I/O thread;
/// 2. a password (`fuzz`: a nickname before `/pass fuzz` is refused and
///    closed), three nickname attempts, 512-byte lines, two I/O threads.
fn configs() -> [ServerConfig; 3] {
    let base = ServerConfig {
        flood_lines_per_sec: 0,
        registration_timeout: Duration::from_secs(600),
        // The control client may sit idle between fuzzing sessions.
        keepalive_interval: Duration::ZERO,
        event_queue_capacity: 64,
        io_threads: 2,
        ..ServerConfig::default()
    };
    [
        base.clone(),
        ServerConfig {
            max_line_bytes: 64,
            max_discard_bytes: 200,
            max_nick_chars: 8,
            max_payload_bytes: 100,
            max_file_bytes: 300,
            max_queue_bytes: 16 * 1024,
            max_nick_attempts: 0,
            io_threads: 1,
            ..base.clone()
        },
        ServerConfig {
            password: Some(Password::from(PASSWORD)),
            max_nick_attempts: 3,
            max_line_bytes: 512,
            max_nick_chars: 16,
            ..base
        },
    ]
}

/// The lock, also after an input panicked while holding it (the smoke
/// test then fails anyway; the fuzzer stops at the first panic).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn targets() -> &'static [Target] {
    static TARGETS: OnceLock<Vec<Target>> = OnceLock::new();
    TARGETS.get_or_init(|| {
        configs()
            .into_iter()
            .enumerate()
            .map(|(k, cfg)| {
                let server = Server::start("127.0.0.1", 0, cfg.clone())
                    .unwrap_or_else(|e| panic!("fuzz harness: server {k} does not start: {e}"));
                let control = Control::register(server.local_addr(), cfg.password.is_some());
                Target {
                    server,
                    cfg,
                    control: Mutex::new(control),
                }
            })
            .collect()
    })
}

// ---- reading what a server sends ----------------------------------------

/// A server line read back (its label, if any, dropped).
fn parse(line: &str) -> Result<ServerLine<&str>, String> {
    ServerLine::parse_labeled(line)
        .map(|(_, l)| l)
        .map_err(|e| e.to_string())
}

/// How reading a connection ended.
#[derive(Debug)]
enum End {
    /// The server closed it (FIN).
    Eof,
    /// The server reset it, or reading failed otherwise.
    Reset,
    /// Nothing came for [`IDLE_TIMEOUT`], or it went on past
    /// [`TOTAL_TIMEOUT`].
    Timeout,
}

/// Reads `stream` until the server closes it, a reset, or a timeout.
fn read_to_end(mut stream: &TcpStream) -> (Vec<u8>, End) {
    let deadline = Instant::now() + TOTAL_TIMEOUT;
    let mut got = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (got, End::Timeout);
        }
        if stream
            .set_read_timeout(Some(left.min(IDLE_TIMEOUT)))
            .is_err()
        {
            return (got, End::Reset);
        }
        match stream.read(&mut buf) {
            Ok(0) => return (got, End::Eof),
            Ok(n) => got.extend_from_slice(buf.get(..n).unwrap_or(&[])),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return (got, End::Timeout)
            }
            Err(_) => return (got, End::Reset),
        }
    }
}

/// A connection read item by item (the control client's).
struct Reader {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Reader {
    fn connect(addr: SocketAddr) -> io::Result<Reader> {
        let stream = TcpStream::connect_timeout(&addr, IDLE_TIMEOUT)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(IDLE_TIMEOUT))?;
        stream.set_write_timeout(Some(IDLE_TIMEOUT))?;
        Ok(Reader {
            stream,
            buf: Vec::new(),
        })
    }

    /// The next item (its line, its payload), waiting at most
    /// [`IDLE_TIMEOUT`] for each read. Panics on a malformed item, the
    /// end of the connection or a timeout: `who` says whose.
    fn next(&mut self, who: &str) -> (String, Vec<u8>) {
        loop {
            match next_item(&self.buf) {
                Err(e) => panic!(
                    "{who} got {e}; the bytes: {:?}",
                    String::from_utf8_lossy(self.buf.get(..600).unwrap_or(&self.buf))
                ),
                Ok(Some((item, used))) => {
                    let payload = item.payload.unwrap_or(&[]).to_vec();
                    let out = (item.line.to_string(), payload);
                    self.buf.drain(..used);
                    return out;
                }
                Ok(None) => {}
            }
            let mut chunk = [0u8; 16 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => panic!(
                    "{who}: the server closed the connection (unread: {:?})",
                    String::from_utf8_lossy(&self.buf)
                ),
                Ok(n) => self.buf.extend_from_slice(chunk.get(..n).unwrap_or(&[])),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => panic!(
                    "{who}: no whole line from the server within {IDLE_TIMEOUT:?} ({e}; unread: {:?})",
                    String::from_utf8_lossy(&self.buf)
                ),
            }
        }
    }

    fn send(&mut self, who: &str, line: &str) {
        if let Err(e) = self.stream.write_all(line.as_bytes()) {
            panic!("{who}: cannot send {line:?}: {e}");
        }
    }
}

// ---- the control client -------------------------------------------------

/// A file announced to the control client and not yet ended.
struct OpenFile {
    sender: String,
    size: u64,
    received: u64,
}

/// The control client: a registered user that sends only `/ping`, and
/// checks what reaches it from the fuzzed connections against what it was
/// told of who is online.
struct Control {
    conn: Reader,
    /// Who is online as this client was told (`JOIN`, `LEFT`, `NICK`),
    /// by [`nick_key`].
    online: BTreeSet<String>,
    /// Files announced to it (`FILE`) and not yet ended, by number.
    files: HashMap<u64, OpenFile>,
    pings: u64,
}

impl Control {
    fn register(addr: SocketAddr, password: bool) -> Control {
        const WHO: &str = "the control client";
        let mut conn = Reader::connect(addr)
            .unwrap_or_else(|e| panic!("fuzz harness: cannot connect to {addr}: {e}"));
        let (hello, _) = conn.next(WHO);
        assert!(hello.starts_with("HELLO papo/1 "), "{WHO} got {hello:?}");
        if password {
            conn.send(WHO, &format!("/pass {PASSWORD}\n"));
            let (pass, _) = conn.next(WHO);
            assert!(pass.starts_with("PASS "), "{WHO} got {pass:?}");
        }
        // It reads payload frames, as a library client does.
        conn.send(WHO, "/binary on\n");
        let (binary, _) = conn.next(WHO);
        assert!(binary.starts_with("BINARY on "), "{WHO} got {binary:?}");
        conn.send(WHO, &format!("{CONTROL_NICK}\n"));
        let (welcome, _) = conn.next(WHO);
        assert!(
            welcome.starts_with(&format!("WELCOME {CONTROL_NICK} ")),
            "{WHO} got {welcome:?}"
        );
        let (users, _) = conn.next(WHO);
        assert_eq!(users, format!("USERS 1 :{CONTROL_NICK}"), "{WHO}");
        Control {
            conn,
            online: BTreeSet::from([nick_key(CONTROL_NICK)]),
            files: HashMap::new(),
            pings: 0,
        }
    }

    /// `/ping`, and everything that came before its `PONG`, checked.
    fn barrier(&mut self) {
        const WHO: &str = "the control client";
        self.pings += 1;
        let token = format!("b{}", self.pings);
        self.conn.send(WHO, &format!("/ping {token}\n"));
        loop {
            let (line, payload) = self.conn.next(WHO);
            if self.seen(&line, payload.len() as u64, &token) {
                return;
            }
        }
    }

    /// Checks one line the control client got; true for its `PONG`.
    fn seen(&mut self, line: &str, payload: u64, token: &str) -> bool {
        let parsed = match parse(line) {
            Ok(p) => p,
            Err(e) => panic!("the control client got {line:?}: {e}"),
        };
        let online = |set: &BTreeSet<String>, nick: &str| set.contains(&nick_key(nick));
        match parsed {
            ServerLine::Pong(Some(t)) if t == token => return true,
            ServerLine::Ping(_) => {} // keepalive: its /ping answers it
            ServerLine::Changes(list) => {
                // Several presence changes in one line (PROTOCOL.md,
                // "Presence"): each checked as its single line.
                for one in single_lines(list) {
                    self.seen(&one, 0, token);
                }
            }
            ServerLine::Join { nick } => assert!(
                self.online.insert(nick_key(nick)),
                "the control client got {line:?} for someone it was told is online"
            ),
            ServerLine::Left { nick } => {
                assert!(
                    self.online.remove(&nick_key(nick)),
                    "the control client got {line:?} for someone it was not told of"
                );
                let key = nick_key(nick);
                if let Some((id, _)) = self.files.iter().find(|(_, f)| f.sender == key) {
                    panic!("the control client got {line:?} before FILEEND/FILEFAIL {id} (PROTOCOL.md: FILEFAIL comes before the sender's LEFT)");
                }
            }
            ServerLine::Nick { old, new } => {
                assert!(
                    self.online.remove(&nick_key(old)),
                    "the control client got {line:?} for someone it was not told of"
                );
                assert!(
                    self.online.insert(nick_key(new)),
                    "the control client got {line:?}: the new nickname is someone else's"
                );
                let (old, new) = (nick_key(old), nick_key(new));
                for f in self.files.values_mut().filter(|f| f.sender == old) {
                    f.sender = new.clone();
                }
            }
            ServerLine::Public { from, .. }
            | ServerLine::Private { from, .. }
            | ServerLine::Bytes { from, .. } => assert!(
                online(&self.online, from),
                "the control client got {line:?} from someone it was not told is online"
            ),
            ServerLine::File { from, id, size, .. } => {
                assert!(
                    online(&self.online, from),
                    "the control client got {line:?} from someone it was not told is online"
                );
                let file = OpenFile {
                    sender: nick_key(from),
                    size,
                    received: 0,
                };
                assert!(
                    self.files.insert(id, file).is_none(),
                    "the control client got {line:?}: file {id} was already open"
                );
            }
            ServerLine::Chunk { id, .. } => {
                let Some(f) = self.files.get_mut(&id) else {
                    panic!("the control client got {line:?} for no open file");
                };
                f.received += payload;
                assert!(
                    f.received <= f.size,
                    "the control client got {} bytes of the {}-byte file {id}",
                    f.received,
                    f.size
                );
            }
            ServerLine::FileEnd { id } => {
                let Some(f) = self.files.remove(&id) else {
                    panic!("the control client got {line:?} for no open file");
                };
                assert_eq!(
                    f.received, f.size,
                    "the control client got {line:?} after {} of {} bytes",
                    f.received, f.size
                );
            }
            ServerLine::FileFail { id, .. } => assert!(
                self.files.remove(&id).is_some(),
                "the control client got {line:?} for no open file"
            ),
            _ => panic!("the control client, which sends only /ping, got {line:?}"),
        }
        false
    }
}

// ---- the fuzzed connection ----------------------------------------------

/// What the fuzzed connection was told of itself, to check that nothing it
/// gets claims to come from anyone but itself or the control client.
#[derive(Default)]
struct Own {
    /// Its nickname now (`WELCOME`, then its own `NICK` lines).
    nick: Option<String>,
    /// Every nickname it had, by [`nick_key`].
    had: BTreeSet<String>,
    /// The highest file number it was given (`FILEOK`).
    last_file: Option<u64>,
}

impl Own {
    fn may_speak(&self, nick: &str) -> bool {
        let key = nick_key(nick);
        key == nick_key(CONTROL_NICK) || self.had.contains(&key)
    }

    /// Checks one line the fuzzed connection got.
    fn seen(&mut self, line: &str) {
        let Ok(parsed) = parse(line) else {
            return; // next_item already refused it
        };
        let stranger = |what: &str| -> ! {
            panic!("the fuzzed connection got {line:?}: {what} is neither itself nor the control client")
        };
        match parsed {
            ServerLine::Hello { .. } => panic!("a second HELLO: {line:?}"),
            ServerLine::Welcome { nick } => {
                assert!(self.nick.is_none(), "a second WELCOME: {line:?}");
                self.had.insert(nick_key(nick));
                self.nick = Some(nick.to_string());
            }
            ServerLine::Nick { old, new } => {
                let mine = self.nick.as_deref().is_some_and(|n| n == old);
                if mine {
                    self.had.insert(nick_key(new));
                    self.nick = Some(new.to_string());
                } else if !self.may_speak(old) || !self.may_speak(new) {
                    stranger("the renamed user");
                }
            }
            ServerLine::Public { from, .. }
            | ServerLine::Private { from, .. }
            | ServerLine::Bytes { from, .. }
            | ServerLine::File { from, .. }
                if !self.may_speak(from) =>
            {
                stranger("the sender")
            }
            ServerLine::Join { nick } if !self.may_speak(nick) => stranger("the newcomer"),
            ServerLine::Changes(list) => {
                for one in single_lines(list) {
                    self.seen(&one);
                }
            }
            ServerLine::FileOk { id } => {
                self.last_file = self.last_file.max(Some(id));
            }
            ServerLine::Users(list) => {
                let Some(me) = &self.nick else {
                    panic!("USERS before WELCOME: {line:?}");
                };
                // Only the control client and this connection are online
                // (the previous input's connection was gone before this
                // one was opened), sorted case-insensitively.
                let keys: Vec<String> = list.iter().map(|n| nick_key(n)).collect();
                let mut want = [CONTROL_NICK, me.as_str()];
                want.sort_by_key(|n| nick_fold(n));
                let want: Vec<String> = want.iter().map(|n| nick_key(n)).collect();
                assert_eq!(keys, want, "the fuzzed connection got {line:?}");
            }
            _ => {}
        }
    }
}

/// The single `JOIN`, `LEFT` and `NICK` lines (without LF) a `CHANGES`
/// line stands for, in order.
fn single_lines(list: Vec<PresenceChange<&str>>) -> Vec<String> {
    list.into_iter()
        .map(|c| {
            let mut b = Vec::new();
            c.into_line().encode(&mut b);
            b.pop();
            String::from_utf8_lossy(&b).into_owned()
        })
        .collect()
}

/// Checks the `HELLO` line against the server's config.
fn check_hello(line: &str, cfg: &ServerConfig) {
    match parse(line) {
        Ok(ServerLine::Hello {
            protocol,
            max_line_bytes,
            max_nick_chars,
            max_payload_bytes,
            max_file_bytes,
            password_required,
            labels,
            binary,
            tags,
            resume,
        }) => {
            assert!(tags && resume, "{line:?}");
            assert_eq!(protocol, "papo/1", "{line:?}");
            assert_eq!(max_line_bytes, Some(cfg.max_line_bytes), "{line:?}");
            assert_eq!(max_nick_chars, Some(cfg.max_nick_chars), "{line:?}");
            assert_eq!(
                max_payload_bytes,
                Some(cfg.max_payload_bytes as u64),
                "{line:?}"
            );
            assert_eq!(max_file_bytes, Some(cfg.max_file_bytes), "{line:?}");
            assert_eq!(password_required, cfg.password.is_some(), "{line:?}");
            assert!(labels, "{line:?}");
            assert!(binary, "{line:?}");
        }
        other => panic!("the first line is not HELLO: {line:?} ({other:?})"),
    }
}

/// Writes the pieces of the input; stops early (no panic) when the server
/// has closed or reset the connection.
fn write_input(mut stream: &TcpStream, parts: &[&[u8]]) {
    for p in parts {
        match stream.write_all(p) {
            Ok(()) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                panic!("the server took none of the input for {IDLE_TIMEOUT:?}")
            }
            // Closed or reset: it stopped reading (HTTP, TLS, an endless
            // line, a wrong password, ...); what it said is still read.
            Err(_) => return,
        }
    }
}

/// One fuzzed connection to `t`: returns when the server has closed it.
fn fuzz_connection(t: &Target, parts: &[&[u8]], late_reader: bool) {
    let mut conn = Reader::connect(t.server.local_addr())
        .unwrap_or_else(|e| panic!("fuzz harness: cannot connect: {e}"));
    let (hello, _) = conn.next("the fuzzed connection");
    check_hello(&hello, &t.cfg);
    let Reader { stream, buf: early } = conn;
    let slow_before = t.server.stats().slow_consumers;
    let started = Instant::now();
    let mut writing = Duration::ZERO;
    let (rest, end) = std::thread::scope(|s| {
        let reader = (!late_reader).then(|| s.spawn(|| read_to_end(&stream)));
        write_input(&stream, parts);
        // Half-close: the server sees the end of the input, answers what
        // it still has to, and must then close its side.
        let _ = stream.shutdown(Shutdown::Write);
        writing = started.elapsed();
        match reader {
            Some(h) => h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
            None => read_to_end(&stream),
        }
    });
    let mut got = early;
    got.extend_from_slice(&rest);
    if let End::Timeout = end {
        panic!(
            "the server did not close the connection after the half-close \
             (nothing for {IDLE_TIMEOUT:?}, or more than {TOTAL_TIMEOUT:?}); it sent {} bytes, ending {:?}",
            got.len(),
            String::from_utf8_lossy(got.get(got.len().saturating_sub(300)..).unwrap_or(&[]))
        );
    }
    // The server resets a connection (rather than close it) only when it
    // drops a slow consumer, or when the peer has not closed its side 2 s
    // after the session ended (a lingering close, PROTOCOL.md "Limits").
    // Otherwise a reset may destroy the last lines it sent.
    if let End::Reset = end {
        let slow = t.server.stats().slow_consumers > slow_before;
        assert!(
            slow || writing > LINGER_SAFE,
            "the server reset the connection instead of closing it after the half-close \
             (no slow consumer; the input was written in {writing:?}); it sent {} bytes, ending {:?}",
            got.len(),
            String::from_utf8_lossy(got.get(got.len().saturating_sub(300)..).unwrap_or(&[]))
        );
    }
    let mut own = Own::default();
    let mut at = 0usize;
    loop {
        match next_item(got.get(at..).unwrap_or(&[])) {
            Err(e) => panic!("the fuzzed connection got {e}"),
            Ok(None) => break,
            Ok(Some((item, used))) => {
                own.seen(item.line);
                at += used;
            }
        }
    }
    if let Some(id) = own.last_file {
        NEXT_FILE_ID.fetch_max(id.saturating_add(1), Ordering::Relaxed);
    }
    // A clean close comes after whole lines and frames; a reset may cut
    // anywhere (and drop what the kernel held).
    if let End::Eof = end {
        assert_eq!(
            at,
            got.len(),
            "the server closed the connection in the middle of a line or payload: {:?}",
            String::from_utf8_lossy(got.get(at..).unwrap_or(&[]))
        );
    }
}

/// Fuzz target `server`: the real server's command dispatch over loopback,
/// fed in random chunks.
///
/// Input: byte 0 picks one of three servers (modulo 3: default limits;
/// small limits; a password, see below), byte 1 the largest write (low
/// two bits: 1, 7, 64 or 4096 bytes) and whether the connection is read
/// while the input is written (bit 7 clear) or only after it (bit 7 set:
/// the server must queue what it answers, and may drop the connection as
/// a slow consumer), bytes 2-3 the seed of the write lengths; the rest
/// (at most [`MAX_SERVER_INPUT`] bytes) is what one client sends, where
/// `$` and `$k` (`k` a digit) stand for the number of this connection's
/// first and `k`-th file (see `with_file_ids`: the server numbers files,
/// and an input cannot know the numbers).
///
/// The servers are process-wide (started once, never stopped; flood limit
/// off): server 0 has the default limits and two I/O threads; server 1
/// 64-byte lines, 8-character nicknames, 100-byte binary messages,
/// 300-byte files, a 16 KiB outbound queue, unlimited nickname attempts
/// and one I/O thread; server 2 wants the password `fuzz` (`/pass fuzz`),
/// allows three nickname attempts and 512-byte lines. Each has a
/// registered control client `ctl` that sends nothing but `/ping`.
///
/// Each input: connect, read `HELLO`, write the input in pieces, shut the
/// write side (half-close), read until the server closes; then the control
/// client's `/ping` barrier. Panics (a finding) if:
/// - `HELLO` does not announce the server's limits and labels;
/// - the server does not close the connection within 10 s of the
///   half-close (or sends for more than 20 s);
/// - any line the fuzzed connection or the control client gets is not
///   UTF-8, holds a control character other than TAB, is refused by
///   [`ServerLine::parse_labeled`], or a `BYTES`/`CHUNK` payload is not
///   followed by its LF; or a clean close cuts a line or a payload;
/// - the fuzzed connection gets a `PUBLIC`, `PRIVATE`, `BYTES`, `FILE`,
///   `JOIN` or `NICK` line naming anyone but the control client and the
///   nicknames it registered itself (no input can make a line look like
///   it came from someone else), a second `WELCOME`, or a `USERS` list
///   other than itself and `ctl`;
/// - the control client gets anything but `JOIN`/`LEFT`/`NICK` lines that
///   fit together, messages and files from users it was told are online,
///   file frames that fit their `FILE` line's size and end before their
///   sender's `LEFT`, and its `PONG`;
/// - after the barrier, the control client has not been told that the
///   fuzzed connection left (it must be the only one online, with no file
///   open), or the server counts another user or connection.
///
/// The same input may be cut differently by TCP from run to run (the
/// server reads what has arrived), so a finding may need a few runs to
/// reproduce; the checks hold whatever the cut.
pub fn server_session(data: &[u8]) {
    let (Some(&a), Some(&b), Some(&c), Some(&d)) =
        (data.first(), data.get(1), data.get(2), data.get(3))
    else {
        return;
    };
    let stream = data.get(4..).unwrap_or(&[]);
    let stream = stream.get(..MAX_SERVER_INPUT).unwrap_or(stream);
    let Some(t) = targets().get(usize::from(a % 3)) else {
        return;
    };
    let max_chunk = CHUNK_MAX.get(usize::from(b & 3)).copied().unwrap_or(1);
    let late_reader = b & 0x80 != 0;
    let seed = u64::from(u16::from_le_bytes([c, d]));
    let stream = with_file_ids(stream, NEXT_FILE_ID.load(Ordering::Relaxed));
    let parts = cut(&stream, &chunk_lengths(seed, stream.len(), max_chunk));

    // One input at a time per server: the checks assume that only the
    // control client and this connection are online.
    let mut control = lock(&t.control);
    fuzz_connection(t, &parts, late_reader);
    control.barrier();
    assert_eq!(
        control.online,
        BTreeSet::from([nick_key(CONTROL_NICK)]),
        "after the barrier the control client should know of itself alone"
    );
    assert!(
        control.files.is_empty(),
        "files still open for the control client after the barrier"
    );
    assert_eq!(t.server.users(), [CONTROL_NICK], "users after the input");
    assert_eq!(
        t.server.connection_count(),
        1,
        "connections after the input"
    );
}
