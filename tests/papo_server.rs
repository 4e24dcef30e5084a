//! The `papo-server` program, run as a real process (the binary cargo
//! built, `CARGO_BIN_EXE_papo-server`) on loopback ports it picks itself
//! (`--port 0`, read back from its log): clients chat through it, its log
//! names each client's address and nickname, SIGTERM gives every client
//! `ERROR 03` and exits 0, flags override the config file, SIGHUP reloads
//! the file, and each kind of bad configuration stops it at start with one
//! line naming the key or file and exit code 2.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use papo::{Client, ClientConfig, ErrorCode, Event};

mod common_redis;
mod common_ws;

const BIN: &str = env!("CARGO_BIN_EXE_papo-server");
const WAIT: Duration = Duration::from_secs(20);

/// A running papo-server, killed if the test ends without stopping it.
struct Proc {
    child: Child,
    /// Every line of its standard error (the log) so far.
    log: Arc<Mutex<Vec<String>>>,
    lines: Receiver<String>,
    port: u16,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A temporary folder deleted at the end of the test.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("papo-server-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
    fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).expect("write file");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn command(args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args)
        .env_remove("RUST_LOG")
        .env_remove("PAPO_PASSWORD")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

/// Starts the program (without its mDNS announcement) and waits for its
/// "listening" line.
fn start(args: &[&str]) -> Proc {
    let mut all = vec!["--no-mdns"];
    all.extend_from_slice(args);
    start_announcing(&all)
}

/// Starts the program as it is by default (mDNS on) and waits for its
/// "listening" line.
fn start_announcing(args: &[&str]) -> Proc {
    let mut all = vec!["--port", "0", "--http-port", "0", "--io-threads", "1"];
    all.extend_from_slice(args);
    let mut child = command(&all).spawn().expect("start papo-server");
    let stderr = child.stderr.take().expect("stderr");
    let log = Arc::new(Mutex::new(Vec::new()));
    let (tx, lines) = channel();
    {
        let log = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                log.lock().expect("log").push(line.clone());
                let _ = tx.send(line);
            }
        });
    }
    let mut p = Proc {
        child,
        log,
        lines,
        port: 0,
    };
    let line = p.wait_line(|l| l.contains("papo-server listening"));
    let addr = field(&line, "address").expect("address= in the listening line");
    p.port = addr
        .rsplit(':')
        .next()
        .and_then(|x| x.parse().ok())
        .expect("port");
    p
}

/// The value of `name=value` (or JSON `"name":"value"`) in a log line.
fn field(line: &str, name: &str) -> Option<String> {
    let text = format!("{name}=");
    if let Some(i) = line.find(&text) {
        let rest = &line[i + text.len()..];
        let v: String = rest.chars().take_while(|c| !c.is_whitespace()).collect();
        return Some(v.trim_matches('"').to_owned());
    }
    let json = format!("\"{name}\":\"");
    let i = line.find(&json)?;
    let rest = &line[i + json.len()..];
    Some(rest.chars().take_while(|&c| c != '"').collect())
}

impl Proc {
    /// The next log line matching `pred` (earlier ones are skipped).
    fn wait_line(&mut self, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if pred(&l) => return l,
                Ok(_) => {}
                Err(_) => panic!(
                    "no such log line within {WAIT:?}; log so far:\n{}",
                    self.log.lock().expect("log").join("\n")
                ),
            }
        }
    }

    fn signal(&self, sig: i32) {
        let pid = i32::try_from(self.child.id()).expect("pid");
        // SAFETY: kill has no memory preconditions; the pid is our child's.
        assert_eq!(unsafe { libc::kill(pid, sig) }, 0, "kill");
    }

    /// Waits for the process to end.
    fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                return s;
            }
            assert!(Instant::now() < deadline, "papo-server did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A person at `nc`: a raw TCP connection, read line by line.
struct Nc {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Nc {
    fn connect(port: u16) -> Nc {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(WAIT)).expect("timeout");
        Nc {
            reader: BufReader::new(s.try_clone().expect("clone")),
            writer: s,
        }
    }
    fn line(&mut self) -> String {
        let mut l = String::new();
        self.reader.read_line(&mut l).expect("read a line");
        l.trim_end().to_owned()
    }
    fn send(&mut self, l: &str) {
        self.writer
            .write_all(format!("{l}\n").as_bytes())
            .expect("write");
    }
    /// Lines until one starts with `prefix`.
    fn until(&mut self, prefix: &str) -> String {
        loop {
            let l = self.line();
            assert!(!l.is_empty(), "connection ended before {prefix}");
            if l.starts_with(prefix) {
                return l;
            }
        }
    }
}

fn next(c: &Client, pred: impl Fn(&Event) -> bool) -> Event {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ev = c.next_event(left).expect("an event");
        if pred(&ev) {
            return ev;
        }
    }
}

#[test]
fn clients_chat_the_log_names_them_and_sigterm_gives_everyone_03() {
    let mut p = start(&["--log-level", "info"]);
    let mut ana = Nc::connect(p.port);
    let ana_addr = ana.writer.local_addr().expect("local addr");
    assert!(ana.line().starts_with("HELLO papo/1 "));
    ana.send("ana");
    assert!(ana.until("WELCOME").starts_with("WELCOME ana "));
    // A client that does not reconnect: SIGTERM is its end (03).
    let no_reconnect = papo::ClientConfig {
        reconnect: false,
        ..papo::ClientConfig::default()
    };
    let bob = Client::connect_with("127.0.0.1", p.port, "bob", no_reconnect).expect("bob connects");
    ana.until("JOIN bob");
    ana.send(":oi bob");
    let ev = next(&bob, |e| matches!(e, Event::Public { .. }));
    let Event::Public { from, text, .. } = ev else {
        panic!("not public: {ev:?}");
    };
    assert_eq!((from.as_str(), text.as_str()), ("ana", "oi bob"));
    bob.send(Some("ana"), "oi ana")
        .expect("private to ana: SENT");
    assert_eq!(ana.until("PRIVATE"), "PRIVATE bob :oi ana");

    // The log: ana's connection and registration with her IP and port.
    let peer = ana_addr.to_string();
    let connected = p.wait_line(|l| l.contains("connected") && l.contains(&peer));
    assert_eq!(field(&connected, "peer").as_deref(), Some(peer.as_str()));
    let registered = p.wait_line(|l| l.contains("registered") && l.contains(&peer));
    assert_eq!(field(&registered, "nick").as_deref(), Some("ana"));
    ana.send("/nick anna");
    ana.until("NICK ana anna");
    let renamed = p.wait_line(|l| l.contains("nick changed"));
    assert_eq!(field(&renamed, "new").as_deref(), Some("anna"));

    p.signal(libc::SIGTERM);
    let last = ana.until("ERROR 03");
    assert!(last.contains("shutting down"), "{last}");
    match next(&bob, |e| matches!(e, Event::Disconnected { .. })) {
        Event::Disconnected { code, .. } => assert_eq!(code, ErrorCode::ConnectionAborted),
        other => unreachable!("{other:?}"),
    }
    let status = p.wait_exit();
    assert_eq!(status.code(), Some(0), "exit status {status:?}");
    let log = p.log.lock().expect("log").join("\n");
    assert!(log.contains("shutting down"), "{log}");
    assert!(log.contains("papo-server stopped"), "{log}");
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn sigint_stops_cleanly_too_and_json_logs_are_one_object_per_line() {
    let mut p = start(&["--log-format", "json"]);
    let mut ana = Nc::connect(p.port);
    ana.line();
    ana.send("ana");
    ana.until("WELCOME");
    let registered = p.wait_line(|l| l.contains("registered"));
    assert!(
        registered.starts_with('{') && registered.ends_with('}'),
        "{registered}"
    );
    assert_eq!(field(&registered, "nick").as_deref(), Some("ana"));
    p.signal(libc::SIGINT);
    ana.until("ERROR 03");
    assert_eq!(p.wait_exit().code(), Some(0));
}

#[test]
fn a_server_on_loopback_is_not_announced_on_the_lan() {
    // The default address, 127.0.0.1, with mDNS on: nothing is announced
    // (nobody else could connect), and the log says why.
    let mut p = start_announcing(&[]);
    let line = p.wait_line(|l| l.contains("announced"));
    assert!(line.contains("not announced on the LAN"), "{line}");
    assert!(line.contains("loopback"), "{line}");
    p.signal(libc::SIGTERM);
    assert_eq!(p.wait_exit().code(), Some(0));
}

#[test]
fn flags_override_the_config_file() {
    let dir = TempDir::new("override");
    // The file's port (1) would fail; the flag's 0 wins. The file's line
    // limit applies; its nickname limit is overridden by the flag.
    let cfg = dir.file(
        "papo.toml",
        "port = 1\n[limits]\nmax_line_bytes = 1000\nmax_nick_chars = 5\n",
    );
    let cfg = cfg.to_str().expect("utf-8 path");
    let mut p = start(&["--config", cfg, "--max-nick-chars", "7"]);
    let mut nc = Nc::connect(p.port);
    let hello = nc.line();
    assert!(hello.contains(" line=1000 "), "{hello}");
    assert!(hello.contains(" nick=7 "), "{hello}");
    p.signal(libc::SIGTERM);
    assert_eq!(p.wait_exit().code(), Some(0));
}

#[test]
fn sighup_reloads_the_file_and_names_what_needs_a_restart() {
    let dir = TempDir::new("reload");
    let cfg = dir.file("papo.toml", "[limits]\nmax_clients = 100\n");
    let cfg_s = cfg.to_str().expect("utf-8 path").to_owned();
    let mut p = start(&["--config", &cfg_s]);
    // A limit the running server changes (max_clients), one it announced
    // in HELLO and keeps (max_line_bytes), and the log level.
    std::fs::write(
        &cfg,
        "[limits]\nmax_clients = 1\nmax_line_bytes = 1000\n[log]\nlevel = \"debug\"\n",
    )
    .expect("rewrite");
    p.signal(libc::SIGHUP);
    let applied = p.wait_line(|l| l.contains("SIGHUP: applied"));
    assert!(applied.contains("log.level"), "{applied}");
    assert!(applied.contains("limits.max_clients"), "{applied}");
    let restart = p.wait_line(|l| l.contains("next restart"));
    assert!(restart.contains("limits.max_line_bytes"), "{restart}");
    assert!(!restart.contains("limits.max_clients"), "{restart}");
    // In force: one client is admitted with the old line limit, a second
    // is refused as the server is full.
    let mut ana = Nc::connect(p.port);
    let hello = ana.line();
    assert!(hello.contains(" line=4096 "), "{hello}");
    let mut bob = Nc::connect(p.port);
    bob.line();
    assert!(bob.line().starts_with("ERROR 12 "));
    // A broken file changes nothing and stops nothing.
    std::fs::write(&cfg, "[limits]\nmax_clients = \"x\"\n").expect("rewrite");
    p.signal(libc::SIGHUP);
    let refused = p.wait_line(|l| l.contains("not reloaded"));
    assert!(refused.contains("limits.max_clients"), "{refused}");
    // Still serving.
    ana.send("ana");
    assert!(ana.until("WELCOME").starts_with("WELCOME ana "));
    p.signal(libc::SIGTERM);
    assert_eq!(p.wait_exit().code(), Some(0));
}

/// Runs the program with `args`, expecting it to refuse its configuration:
/// exit code 2, one line on standard error, containing each of `expect`.
fn refused(args: &[&str], expect: &[&str]) {
    // Off the default HTTP port (18080), which another test or program
    // may hold, unless the case is about it.
    let mut all = args.to_vec();
    if !args.iter().any(|a| a.contains("http")) {
        all.extend_from_slice(&["--http-port", "0"]);
    }
    let out = command(&all)
        .stderr(Stdio::piped())
        .output()
        .expect("run papo-server");
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(lines.len(), 1, "{args:?}: not one line:\n{err}");
    assert!(!err.contains("panicked"), "{err}");
    for e in expect {
        assert!(lines[0].contains(e), "{args:?}: {:?} lacks {e:?}", lines[0]);
    }
}

#[test]
fn bad_configuration_stops_at_start_with_one_line_and_exit_2() {
    let dir = TempDir::new("bad");
    let path = |p: &Path| p.to_str().expect("utf-8 path").to_owned();
    // An unknown key: the file, its line and the key.
    let f = path(&dir.file("unknown.toml", "port = 0\n[limits]\nmax_clints = 5\n"));
    refused(
        &["--config", &f, "--no-mdns"],
        &["unknown.toml:3", "max_clints"],
    );
    // A value of the wrong type.
    let f = path(&dir.file("type.toml", "[limits]\nmax_clients = \"many\"\n"));
    refused(
        &["--config", &f, "--no-mdns"],
        &["type.toml:2", "limits.max_clients"],
    );
    // Not TOML at all.
    let f = path(&dir.file("syntax.toml", "port = = 3\n"));
    refused(&["--config", &f, "--no-mdns"], &["syntax.toml:1"]);
    // A config file that does not exist.
    let missing = path(&dir.0.join("missing.toml"));
    refused(&["--config", &missing], &["missing.toml"]);
    // A value the library's validation refuses, from a flag and a file.
    refused(
        &["--port", "0", "--max-clients", "0"],
        &["limits.max_clients", "--max-clients"],
    );
    let f = path(&dir.file("zero.toml", "[limits]\nregistration_timeout_secs = 0\n"));
    refused(
        &["--config", &f, "--port", "0"],
        &["limits.registration_timeout_secs"],
    );
    // A bad flag value.
    refused(&["--port", "eighteen"], &["--port"]);
    // Certificates: missing, unreadable as PEM, one without the other.
    let nocert = path(&dir.0.join("nocert.pem"));
    let key = path(&dir.file("key.pem", "not a key\n"));
    refused(
        &["--port", "0", "--tls-cert", &nocert, "--tls-key", &key],
        &["tls.cert", "nocert.pem"],
    );
    let garbage = path(&dir.file("garbage.pem", "not a certificate\n"));
    refused(
        &["--port", "0", "--tls-cert", &garbage, "--tls-key", &key],
        &["garbage.pem"],
    );
    refused(&["--port", "0", "--tls-cert", &garbage], &["tls.key"]);
    // A port that is taken.
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port().to_string();
    refused(&["--port", &port, "--no-mdns"], &["port", &port, "in use"]);
    refused(
        &["--port", "0", "--http-port", &port, "--no-mdns"],
        &["http.port", "--http-port", &port, "in use"],
    );
    // An origin that is none.
    refused(
        &["--port", "0", "--http-allowed-origin", "example.org"],
        &[
            "http.allowed_origins",
            "--http-allowed-origin",
            "example.org",
        ],
    );
    // An address that is not this machine's.
    refused(
        &["--address", "192.0.2.1", "--port", "0", "--no-mdns"],
        &["address", "192.0.2.1"],
    );
    // A log level that is no filter.
    refused(&["--port", "0", "--log-level", "loud=!!"], &["log.level"]);
}

#[test]
fn tls_listens_on_its_own_port_with_the_given_certificate() {
    let dir = TempDir::new("tls");
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).expect("rcgen");
    let cert = dir.file("cert.pem", &ck.cert.pem());
    let key = dir.file("key.pem", &ck.key_pair.serialize_pem());
    let mut p = start(&[
        "--tls-cert",
        cert.to_str().expect("utf-8"),
        "--tls-key",
        key.to_str().expect("utf-8"),
        "--tls-port",
        "0",
    ]);
    let listening = p
        .log
        .lock()
        .expect("log")
        .iter()
        .find(|l| l.contains("listening"))
        .cloned()
        .expect("listening line");
    let tls_port: u16 = field(&listening, "tls")
        .and_then(|v| v.parse().ok())
        .expect("tls=<port> in the listening line");
    let config = ClientConfig {
        tls: Some(papo::client::ClientTls::from_ca_pem(ck.cert.pem().as_bytes()).expect("CA")),
        ..ClientConfig::default()
    };
    let carla = Client::connect_with("127.0.0.1", tls_port, "carla", config).expect("TLS client");
    let registered = p.wait_line(|l| l.contains("registered"));
    assert_eq!(field(&registered, "nick").as_deref(), Some("carla"));
    drop(carla);
    p.signal(libc::SIGTERM);
    assert_eq!(p.wait_exit().code(), Some(0));
}

/// The browser client, `/metrics` and the "how to join" text: a person
/// who starts the program is told, on standard output, the URL, the `nc`
/// and C client commands with the real ports, and each one works.
#[test]
fn it_serves_the_browser_client_and_metrics_and_says_how_to_join() {
    let mut child = command(&["--no-mdns", "--port", "0", "--http-port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start papo-server");
    let stdout = child.stdout.take().expect("stdout");
    let mut p = Proc {
        child,
        log: Arc::new(Mutex::new(Vec::new())),
        lines: channel().1,
        port: 0,
    };
    let mut text = String::new();
    let mut reader = BufReader::new(stdout);
    while !text.contains("Ctrl-C") {
        let mut line = String::new();
        let n = reader.read_line(&mut line).expect("read stdout");
        assert!(n > 0, "standard output ended early:\n{text}");
        text += &line;
    }
    // "from a browser:      http://127.0.0.1:PORT/"
    let url = text
        .split_whitespace()
        .find(|w| w.starts_with("http://") && w.ends_with('/'))
        .unwrap_or_else(|| panic!("no browser URL in:\n{text}"));
    let http: u16 = url
        .trim_start_matches("http://127.0.0.1:")
        .trim_end_matches('/')
        .parse()
        .unwrap_or_else(|_| panic!("URL {url} is not on 127.0.0.1"));
    // "with nc:             nc 127.0.0.1 PORT"
    let nc_line = text
        .lines()
        .find(|l| l.contains(" nc 127.0.0.1 "))
        .unwrap_or_else(|| panic!("no nc command in:\n{text}"));
    p.port = nc_line
        .split_whitespace()
        .skip_while(|w| *w != "127.0.0.1")
        .nth(1)
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no port in {nc_line:?}"));
    assert!(
        text.contains(&format!("build/bin/cliente 127.0.0.1 {} ", p.port)),
        "{text}"
    );

    let page = common_ws::get(http, "/");
    assert_eq!(page.status, 200);
    assert!(page.text().contains("<html"), "{}", page.text());
    // A client of the chat port shows in the metrics of the HTTP port:
    // both are one server.
    let mut nc = Nc::connect(p.port);
    nc.line();
    nc.send("ana");
    nc.until("WELCOME");
    let metrics = common_ws::get(http, "/metrics");
    assert_eq!(metrics.status, 200);
    let body = metrics.text();
    let users = body
        .lines()
        .find(|l| l.starts_with("papo_users "))
        .unwrap_or_else(|| panic!("no papo_users in:\n{body}"));
    assert_eq!(users, "papo_users 1", "{body}");
    p.signal(libc::SIGTERM);
    assert_eq!(p.wait_exit().code(), Some(0));
}

#[test]
fn oper_password_and_history_database_from_the_flags() {
    let dir = TempDir::new("history");
    let db = dir.0.join("history.db");
    let db_arg = db.to_str().expect("utf-8");
    let args = ["--oper-password", "chefe", "--history-path", db_arg];
    let mut p = start(&args);
    let mut ana = Nc::connect(p.port);
    ana.until("HELLO papo/1 ");
    ana.send("ana");
    ana.until("WELCOME ana ");
    ana.send("/oper errada");
    ana.until("ERROR 22 ");
    ana.send("/oper chefe");
    ana.until("OPER ");
    ana.send(":guardado no disco");
    ana.send("/history *");
    assert!(ana.until("HISTORY * ").ends_with(":guardado no disco"));
    p.signal(libc::SIGTERM);
    assert_eq!(p.wait_exit().code(), Some(0));
    // A new server on the same database has the history.
    let mut p = start(&args);
    let mut bob = Nc::connect(p.port);
    bob.until("HELLO papo/1 ");
    bob.send("bob");
    bob.until("WELCOME bob ");
    bob.send("/history *");
    assert!(bob.until("HISTORY * ").ends_with(":guardado no disco"));
    p.signal(libc::SIGTERM);
    assert_eq!(p.wait_exit().code(), Some(0));
}

/// Clusters (PROTOCOL.md "Clusters"): `--cluster` and `[cluster] url`,
/// `--cluster-lease-secs` and `[cluster] lease_secs`. A value the library
/// refuses stops the program with one line naming the key and flag (exit
/// 2); a URL of a real `redis-server` is shown on standard output (its
/// password hidden) and in the log; a reload that changes a `[cluster]`
/// key names it as needing a restart.
#[test]
fn cluster_flags_and_keys() {
    let dir = TempDir::new("cluster");
    let path = |p: &Path| p.to_str().expect("utf-8 path").to_owned();
    refused(
        &["--port", "0", "--no-mdns", "--cluster", "not a url"],
        &["cluster.url", "--cluster", "not a url"],
    );
    refused(
        &[
            "--port",
            "0",
            "--no-mdns",
            "--cluster",
            "http://127.0.0.1:6379/",
        ],
        &["cluster.url", "--cluster"],
    );
    let f = path(&dir.file("url.toml", "[cluster]\nurl = \"redis//x\"\n"));
    refused(
        &["--config", &f, "--port", "0", "--no-mdns"],
        &["cluster.url", "redis//x"],
    );
    let f = path(&dir.file("type.toml", "[cluster]\nlease_secs = \"ten\"\n"));
    refused(
        &["--config", &f, "--port", "0", "--no-mdns"],
        &["type.toml:2", "cluster.lease_secs"],
    );
    refused(
        &["--port", "0", "--no-mdns", "--cluster-lease-secs", "0"],
        &["cluster.lease_secs", "--cluster-lease-secs", "at least 1 s"],
    );

    // A real Redis: the "how to join" text says which cluster.
    let redis = common_redis::Redis::start();
    let url = format!("redis://:secreta@127.0.0.1:{}/", redis.port());
    let mut child = command(&[
        "--no-mdns",
        "--port",
        "0",
        "--http-port",
        "0",
        "--cluster",
        &url,
        "--cluster-lease-secs",
        "3",
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .expect("start papo-server");
    let stdout = child.stdout.take().expect("stdout");
    let mut p = Proc {
        child,
        log: Arc::new(Mutex::new(Vec::new())),
        lines: channel().1,
        port: 0,
    };
    let mut text = String::new();
    let mut reader = BufReader::new(stdout);
    while !text.contains("Ctrl-C") {
        let mut line = String::new();
        let n = reader.read_line(&mut line).expect("read stdout");
        assert!(n > 0, "standard output ended early:\n{text}");
        text += &line;
    }
    let shown = format!(
        "cluster:             redis://:***@127.0.0.1:{}/",
        redis.port()
    );
    assert!(text.contains(&shown), "{text}");
    assert!(!text.contains("secreta"), "{text}");
    p.signal(libc::SIGTERM);
    assert_eq!(p.wait_exit().code(), Some(0));

    // Off at start; a reload that turns it on (or changes the lease) needs
    // a restart, and says so by key.
    let cfg = dir.file("papo.toml", "[cluster]\nlease_secs = 10\n");
    let cfg_s = path(&cfg);
    let mut p = start(&["--config", &cfg_s]);
    let listening = p
        .log
        .lock()
        .expect("log")
        .iter()
        .find(|l| l.contains("papo-server listening"))
        .cloned()
        .expect("the listening line");
    assert_eq!(
        field(&listening, "cluster").as_deref(),
        Some("off"),
        "{listening}"
    );
    std::fs::write(
        &cfg,
        format!("[cluster]\nurl = \"{}\"\nlease_secs = 5\n", redis.url()),
    )
    .expect("rewrite");
    p.signal(libc::SIGHUP);
    let restart = p.wait_line(|l| l.contains("next restart"));
    assert!(restart.contains("cluster.url"), "{restart}");
    assert!(restart.contains("cluster.lease_secs"), "{restart}");
    p.signal(libc::SIGTERM);
    assert_eq!(p.wait_exit().code(), Some(0));
}
