//! A server whose process runs out of file descriptors: every connection it
//! has no descriptor for is still answered `HELLO` + `ERROR 12` and closed
//! (the acceptor's spare descriptor), the clients already there are still
//! served, and new clients get in again once some leave.
//!
//! The server runs in a child process (this test binary run again, see
//! [`fd_limit_child`]) whose soft `RLIMIT_NOFILE` is lowered to [`LIMIT`]
//! before it starts, so that the test's own clients do not share its limit.
//! The same child shows that `ServerConfig::raise_nofile_limit` is off by
//! default (the soft limit stays at [`LIMIT`] although the hard limit is
//! higher) and raises the soft limit to the hard one when set.

mod common_server;

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use common_server::{users_of, Raw, WAIT};
use papo::{Server, ServerConfig, ServerEvent};

/// The child's limit on open files (soft and hard).
const LIMIT: u64 = 64;
/// Set in the child's environment: run the server half.
const CHILD_ENV: &str = "PAPO_FD_LIMIT_CHILD";
/// How long a refused connection may wait for its `ERROR 12`: "at once",
/// with room for a loaded machine.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);

/// The open-files limit of this process: (soft, hard).
fn nofile_limit() -> (u64, u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct we own.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    assert_eq!(rc, 0, "getrlimit");
    (lim.rlim_cur, lim.rlim_max)
}

/// The server half, run only in the child process the parent test starts
/// (in the ordinary test run it returns at once). It starts a server with
/// the default config but one I/O thread (so `max_clients` is far above
/// its descriptor limit), prints `PORT <port>`, `FREE <descriptors left>`
/// and `LIMIT <soft> <hard>`, answers each `stats` line on stdin with
/// `STATS <accepted> <rejected> <connections> <users> <refused events>`,
/// each `raise` line by starting and stopping a second server with
/// `raise_nofile_limit` and printing `LIMIT <soft> <hard>` again, and stops
/// at the end of stdin.
#[test]
fn fd_limit_child() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let server = match Server::start(
        "127.0.0.1",
        0,
        ServerConfig {
            io_threads: 1,
            registration_timeout: Duration::from_secs(120),
            ..ServerConfig::default()
        },
    ) {
        Ok(s) => s,
        Err(e) => panic!("child: server did not start: {e}"),
    };
    let open = std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count().saturating_sub(1))
        .unwrap_or(0);
    println!("PORT {}", server.port());
    println!("FREE {}", (LIMIT as usize).saturating_sub(open));
    let (soft, hard) = nofile_limit();
    println!("LIMIT {soft} {hard}");
    let mut refused_events = 0u64;
    let mut line = String::new();
    let stdin = std::io::stdin();
    loop {
        line.clear();
        match stdin.lock().read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        while let Some(ev) = server.next_event(Duration::ZERO) {
            if let ServerEvent::Disconnected {
                code: Some(papo::ErrorCode::ServerFull),
                nick: None,
                ..
            } = ev
            {
                refused_events += 1;
            }
        }
        if line.trim() == "raise" {
            let config = ServerConfig {
                io_threads: 1,
                raise_nofile_limit: true,
                ..ServerConfig::default()
            };
            match Server::start("127.0.0.1", 0, config) {
                Ok(s) => s.shutdown(),
                Err(e) => panic!("child: second server: {e}"),
            }
            let (soft, hard) = nofile_limit();
            println!("LIMIT {soft} {hard}");
        }
        if line.trim() == "stats" {
            let s = server.stats();
            println!(
                "STATS {} {} {} {} {}",
                s.accepted, s.rejected, s.connections, s.users, refused_events
            );
        }
    }
    server.shutdown();
}

/// The child process and its stdin/stdout.
struct ChildServer {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    addr: SocketAddr,
    free: usize,
    /// The child's (soft, hard) open-files limit once its server runs.
    limit: (u64, u64),
}

impl ChildServer {
    fn start() -> ChildServer {
        let exe = std::env::current_exe().expect("test binary path");
        // The hard limit stays (at least LIMIT): the soft one is what
        // counts, and raise_nofile_limit has room to raise it.
        let hard = nofile_limit().1.max(LIMIT);
        let mut cmd = Command::new(exe);
        cmd.args([
            "fd_limit_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
        // SAFETY: the closure runs in the forked child before exec and only
        // calls setrlimit, which is async-signal-safe.
        unsafe {
            cmd.pre_exec(move || {
                let lim = libc::rlimit {
                    rlim_cur: LIMIT as libc::rlim_t,
                    rlim_max: hard as libc::rlim_t,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn().expect("start the child server");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("child stdout"));
        let mut c = ChildServer {
            child,
            stdin,
            stdout,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            free: 0,
            limit: (0, 0),
        };
        let port: u16 = c.value("PORT ").parse().expect("port");
        c.addr.set_port(port);
        c.free = c.value("FREE ").parse().expect("free descriptors");
        c.limit = c.read_limit();
        c
    }

    fn read_limit(&mut self) -> (u64, u64) {
        let v = self.value("LIMIT ");
        let (soft, hard) = v.split_once(' ').expect("two numbers");
        (
            soft.parse().expect("soft limit"),
            hard.parse().expect("hard limit"),
        )
    }

    /// Has the child start a second server with `raise_nofile_limit`; its
    /// limit afterwards.
    fn raise(&mut self) -> (u64, u64) {
        let stdin = self.stdin.as_mut().expect("child stdin");
        stdin.write_all(b"raise\n").expect("ask the child");
        stdin.flush().expect("ask the child");
        self.read_limit()
    }

    /// What follows `prefix` on the next stdout line holding it (other
    /// lines, libtest's own, are skipped).
    fn value(&mut self, prefix: &str) -> String {
        let mut line = String::new();
        loop {
            line.clear();
            let n = self.stdout.read_line(&mut line).expect("child stdout");
            assert!(n > 0, "the child server ended before printing {prefix:?}");
            // libtest prints "test fd_limit_child ... " before the test's
            // first line, without a line feed.
            if let Some(at) = line.find(prefix) {
                return line[at + prefix.len()..].trim_end().to_string();
            }
        }
    }

    /// accepted, rejected, connections, users, refused events.
    fn stats(&mut self) -> [u64; 5] {
        let stdin = self.stdin.as_mut().expect("child stdin");
        stdin.write_all(b"stats\n").expect("ask the child");
        stdin.flush().expect("ask the child");
        let v = self.value("STATS ");
        let nums: Vec<u64> = v.split(' ').map(|n| n.parse().expect("a number")).collect();
        nums.try_into().expect("five numbers")
    }

    fn stop(mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + WAIT;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    assert!(status.success(), "child server: {status}");
                    return;
                }
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    panic!("the child server did not stop");
                }
            }
        }
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        // Only after a failed assertion: never leave the child behind.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One line read a byte at a time (so that nothing after it is taken from
/// the socket), without its LF; `Ok(None)` at the end of the stream.
fn read_line(stream: &TcpStream) -> std::io::Result<Option<String>> {
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    loop {
        match (&*stream).read(&mut b)? {
            0 if line.is_empty() => return Ok(None),
            0 => panic!("a line without LF: {:?}", String::from_utf8_lossy(&line)),
            _ if b[0] == b'\n' => return Ok(Some(String::from_utf8_lossy(&line).into_owned())),
            _ => line.push(b[0]),
        }
    }
}

/// Connects and reads `HELLO`, within [`ANSWER_WITHIN`].
fn connect_hello(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect_timeout(&addr, WAIT).expect("connect");
    stream
        .set_read_timeout(Some(ANSWER_WITHIN))
        .expect("read timeout");
    match read_line(&stream) {
        Ok(Some(l)) => assert!(l.starts_with("HELLO papo/1 "), "{l:?}"),
        other => panic!("no HELLO within {ANSWER_WITHIN:?}: {other:?}"),
    }
    stream
}

/// After `HELLO`: the refusal, `ERROR 12 ...`, then the end of the stream
/// (or a reset, if the client had sent something the server did not read).
fn expect_refusal(stream: &TcpStream, first: Option<String>) {
    let first = match first {
        Some(l) => l,
        None => match read_line(stream) {
            Ok(Some(l)) => l,
            other => panic!("no ERROR 12 within {ANSWER_WITHIN:?}: {other:?}"),
        },
    };
    assert!(first.starts_with("ERROR 12 * :Servidor cheio"), "{first:?}");
    match read_line(stream) {
        Ok(None) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        other => panic!("not closed after ERROR 12: {other:?}"),
    }
}

/// A new client that never sends anything must be refused at once.
fn refused_without_a_word(addr: SocketAddr) {
    let t = Instant::now();
    let stream = connect_hello(addr);
    expect_refusal(&stream, None);
    assert!(
        t.elapsed() < ANSWER_WITHIN,
        "answered after {:?}",
        t.elapsed()
    );
}

/// Connects and registers `nick`: the registered client, or `None` if the
/// server refused the connection (checked: `ERROR 12`, then closed).
fn try_join(addr: SocketAddr, nick: &str) -> Option<Raw> {
    let stream = connect_hello(addr);
    // A refused connection may be closed already: the write may fail.
    let _ = (&stream).write_all(format!("{nick}\n").as_bytes());
    let first = match read_line(&stream) {
        Ok(Some(l)) => l,
        other => panic!("{nick}: no answer within {ANSWER_WITHIN:?}: {other:?}"),
    };
    if first.starts_with("ERROR ") {
        expect_refusal(&stream, Some(first));
        return None;
    }
    assert!(first.starts_with(&format!("WELCOME {nick} ")), "{first:?}");
    match read_line(&stream) {
        Ok(Some(l)) => assert!(l.starts_with("USERS "), "{l:?}"),
        other => panic!("{nick}: no USERS: {other:?}"),
    }
    let mut c = Raw::from_stream(stream);
    c.label = nick.to_string();
    Some(c)
}

#[test]
fn connections_past_the_descriptor_limit_get_error_12() {
    let mut server = ChildServer::start();
    let addr = server.addr;
    // A server with the default config left the process's limit alone.
    assert_eq!(server.limit.0, LIMIT, "limit {:?}", server.limit);

    // Register clients until the child has no descriptor left: the first
    // refused one marks the limit.
    let mut users = Vec::new();
    let mut refused = 0u64;
    while let Some(u) = try_join(addr, &format!("u{}", users.len())) {
        users.push(u);
        assert!(users.len() <= LIMIT as usize, "no refusal past the limit");
    }
    refused += 1;
    assert!(
        users.len() + 3 >= server.free,
        "refused after {} clients; the child had {} descriptors left",
        users.len(),
        server.free
    );

    // Every further connection is answered at once and closed, without
    // having to send anything.
    for _ in 0..20 {
        refused_without_a_word(addr);
        refused += 1;
    }
    let [accepted, rejected, connections, online, refused_events] = server.stats();
    println!(
        "{} clients registered under {LIMIT} descriptors; {refused} refused with ERROR 12",
        users.len()
    );
    assert_eq!(rejected, refused);
    assert_eq!(accepted, users.len() as u64 + refused);
    assert_eq!(connections, users.len() as u64);
    assert_eq!(online, users.len() as u64);
    // (The Disconnected events of the refused may trail the stats by a
    // moment: only their count may not exceed them.)
    assert!(refused_events <= refused, "{refused_events} > {refused}");

    // The registered clients are still served.
    users[0].send(":still here");
    users[0].sync(); // handled: the others' /ping now comes after it
    for u in users.iter_mut().skip(1).take(3) {
        let lines = u.sync();
        assert!(
            lines.iter().any(|l| l == "PUBLIC u0 :still here"),
            "{}: {lines:?}",
            u.label
        );
    }
    users[0].send("/list");
    let list = users[0].expect("USERS ");
    assert_eq!(users_of(&list).len(), users.len(), "{list:?}");

    // Some leave: new clients get in again.
    for mut u in users.drain(..4) {
        u.send("quit");
        let _ = u.read_to_end();
    }
    let deadline = Instant::now() + WAIT;
    let mut again = Vec::new();
    while again.len() < 3 {
        assert!(
            Instant::now() < deadline,
            "no new client got in after clients left"
        );
        match try_join(addr, &format!("again{}", again.len())) {
            Some(c) => again.push(c),
            None => {
                // The server closes the leavers' sockets a moment after
                // their quit.
                refused += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
    let lines = again[0].sync();
    assert!(lines.iter().all(|l| l.starts_with("JOIN ")), "{lines:?}");
    let [_, rejected, ..] = server.stats();
    assert_eq!(rejected, refused);
    drop(again);
    drop(users);

    // raise_nofile_limit: a server started with it raises the soft limit
    // to the hard one.
    let (soft, hard) = server.raise();
    assert_eq!(hard, server.limit.1);
    assert_eq!(soft, hard, "soft limit not raised");
    server.stop();
}
