//! LAN discovery between two network namespaces joined by a veth pair that
//! the test makes (Linux, root: `ip netns`, iproute2): `papo-server`
//! announces itself in one (`_papo._tcp.local.`, mDNS), and
//! `papo::discover` and the C ABI's `papo_discover` find it from the other,
//! with the right address, port and TXT keys. Both processes run inside
//! the namespaces, whose only link is the veth pair, so nothing is sent
//! outside them; the namespaces (and the veth pair with them) are deleted
//! at the end, also when the test fails.
//!
//! The discovering side is this test binary itself, run again inside the
//! second namespace (`ip netns exec`) with `PAPO_DISCOVER_CHILD` set: then
//! `child_discovers_when_run_by_the_test` does the discovery and prints
//! what it found.

use std::ffi::CStr;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::channel;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_papo-server");
const CHILD_ENV: &str = "PAPO_DISCOVER_CHILD";

/// Runs `ip` with `args`, failing the test with its words if it fails.
fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run ip (iproute2; scripts/install-deps.sh): {e}"));
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Two namespaces joined by a veth pair; deleted on drop.
struct Lan {
    a: String,
    b: String,
    servers: Vec<Child>,
    /// The certificate's folder.
    dir: Option<std::path::PathBuf>,
}

impl Drop for Lan {
    fn drop(&mut self) {
        for s in &mut self.servers {
            let _ = s.kill();
            let _ = s.wait();
        }
        if let Some(d) = self.dir.take() {
            let _ = std::fs::remove_dir_all(d);
        }
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// The two namespaces, `10.213.<n>.1/24` (A) and `.2` (B), with a
/// multicast route on each side of the veth pair.
fn lan() -> Lan {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    assert!(
        root,
        "this test makes network namespaces and needs root (CI and scripts/test.sh run as root)"
    );
    let id = std::process::id() % 50_000;
    let lan = Lan {
        a: format!("papo-a-{id}"),
        b: format!("papo-b-{id}"),
        servers: Vec::new(),
        dir: None,
    };
    let (va, vb) = (format!("pva{id}"), format!("pvb{id}"));
    let net = id % 250;
    ip(&["netns", "add", &lan.a]);
    ip(&["netns", "add", &lan.b]);
    ip(&[
        "link", "add", &va, "netns", &lan.a, "type", "veth", "peer", "name", &vb, "netns", &lan.b,
    ]);
    for (ns, dev, host) in [(&lan.a, &va, 1), (&lan.b, &vb, 2)] {
        let addr = format!("10.213.{net}.{host}/24");
        ip(&["-n", ns, "addr", "add", &addr, "dev", dev]);
        ip(&["-n", ns, "link", "set", dev, "multicast", "on"]);
        ip(&["-n", ns, "link", "set", dev, "up"]);
        ip(&["-n", ns, "link", "set", "lo", "up"]);
        // mDNS goes to 224.0.0.251: through the veth, the only way out.
        ip(&["-n", ns, "route", "add", "224.0.0.0/4", "dev", dev]);
    }
    lan
}

#[test]
fn a_server_announced_in_one_namespace_is_found_from_the_other() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return; // the child run does only its own part
    }
    let mut lan = lan();
    let net = std::process::id() % 50_000 % 250;
    let server_ip = format!("10.213.{net}.1");
    let name = format!("papo test {}", std::process::id());
    // TLS and a password, so that their TXT keys are announced too.
    let dir = std::env::temp_dir().join(format!("papo-discover-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    lan.dir = Some(dir.clone());
    let ck = rcgen::generate_simple_self_signed(vec![server_ip.clone()]).expect("rcgen");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, ck.cert.pem()).expect("cert");
    std::fs::write(&key, ck.key_pair.serialize_pem()).expect("key");
    // One server on the address, with TLS and a password so that their TXT
    // keys are announced too; one on every address (0.0.0.0), announced
    // with the machine's addresses.
    let mut tls = Command::new("ip");
    tls.args(["netns", "exec", &lan.a, BIN])
        .args([
            "--address",
            &server_ip,
            "--port",
            "18000",
            "--tls-port",
            "0",
        ])
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .args(["--mdns-name", &name])
        .env("PAPO_PASSWORD", "segredo");
    let log = serve(&mut lan, tls);
    let any_name = format!("{name} any");
    let mut any = Command::new("ip");
    any.args(["netns", "exec", &lan.a, BIN])
        .args(["--address", "0.0.0.0", "--port", "18002"])
        .args(["--mdns-name", &any_name]);
    serve(&mut lan, any);

    let me = std::env::current_exe().expect("current_exe");
    let out = Command::new("ip")
        .args(["netns", "exec", &lan.b])
        .arg(me)
        .args([
            "--exact",
            "child_discovers_when_run_by_the_test",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CHILD_ENV, "1")
        .output()
        .expect("run the discovery in namespace B");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "discovery child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Rust and C each found exactly these two servers, as announced.
    for api in ["rust", "c"] {
        let found: Vec<Vec<&str>> = stdout
            .lines()
            .filter_map(|l| found_line(l, api))
            .map(|l| l.split('|').collect())
            .collect();
        assert_eq!(found.len(), 2, "{api}: {stdout}");
        // Sorted by name: "papo test N" before "papo test N any".
        let (one, any) = (&found[0], &found[1]);
        assert_eq!(one[0], name, "{api}: name");
        assert_eq!(one[1], server_ip, "{api}: address");
        assert_eq!(one[2], "18000", "{api}: port");
        assert_ne!(one[3], "0", "{api}: the TLS port is announced");
        assert_eq!(one[4], env!("CARGO_PKG_VERSION"), "{api}: version");
        assert_eq!(one[5], "1", "{api}: a password is required");
        assert_eq!(one[6], server_ip, "{api}: every address");
        assert_eq!(any[0], any_name, "{api}: name");
        assert_eq!(any[1], server_ip, "{api}: address of 0.0.0.0");
        assert_eq!(any[2], "18002", "{api}: port");
        assert_eq!(any[3], "0", "{api}: no TLS");
        assert_eq!(any[5], "0", "{api}: no password");
        // The veth's IPv4 address (its IPv6 link-local one, unusable
        // without an interface, is left out).
        assert_eq!(any[6], server_ip, "{api}: every address of 0.0.0.0");
    }
    // The TLS port announced is the one the server logged.
    let listening = log.iter().find(|l| l.contains("listening")).cloned();
    let listening = listening.expect("listening line");
    let tls_field = stdout
        .lines()
        .find_map(|l| found_line(l, "rust"))
        .and_then(|l| l.split('|').nth(3))
        .expect("tls port");
    assert!(
        listening.contains(&format!("tls=\"{tls_field}\"")),
        "{listening} / {tls_field}"
    );
}

/// Starts a papo-server (`cmd`, run through `ip netns exec`) and waits
/// until it has announced itself; returns its log so far.
fn serve(lan: &mut Lan, mut cmd: Command) -> Vec<String> {
    let mut server = cmd
        .args(["--log-level", "info"])
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start papo-server in namespace A");
    let stderr = server.stderr.take().expect("stderr");
    lan.servers.push(server);
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut log = Vec::new();
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("papo-server did not announce itself:\n{}", log.join("\n")));
        log.push(line.clone());
        if line.contains("announced on the LAN") {
            assert!(!line.contains("not announced"), "{}", log.join("\n"));
            return log;
        }
    }
}

/// What follows `FOUND <api> ` in a line of the child's output (the test
/// harness may print its own words before it on the same line).
fn found_line<'a>(line: &'a str, api: &str) -> Option<&'a str> {
    let mark = format!("FOUND {api} ");
    line.find(&mark).map(|i| &line[i + mark.len()..])
}

/// Only in the child run (see the module documentation): discovers with
/// the Rust API and then with the C ABI, printing one `FOUND` line per
/// server: `name|address|port|tls port (0: none)|version|password
/// (0/1)|every address, comma-separated`.
#[test]
fn child_discovers_when_run_by_the_test() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let found = papo::discover(Duration::from_secs(3)).expect("papo::discover");
    for s in &found {
        println!(
            "FOUND rust {}|{}|{}|{}|{}|{}|{}",
            s.name,
            s.addresses[0],
            s.port,
            s.tls_port.unwrap_or(0),
            s.version.as_deref().unwrap_or(""),
            u8::from(s.password_required),
            s.addresses
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        );
    }
    use papo::ffi::discover::*;
    let mut list: *mut papo_discovery = std::ptr::null_mut();
    // SAFETY: valid out-pointers; the list is freed below, and the
    // server pointers are read before that.
    unsafe {
        assert_eq!(papo_discover(3000, &mut list), 0, "papo_discover");
        let mut n = 0usize;
        assert_eq!(papo_discovery_count(list, &mut n), 0);
        for i in 0..n {
            let mut s: *const papo_discovered_server = std::ptr::null();
            assert_eq!(papo_discovery_get(list, i, &mut s), 0);
            let s = &*s;
            let text = |p| CStr::from_ptr(p).to_string_lossy().into_owned();
            println!(
                "FOUND c {}|{}|{}|{}|{}|{}|{}",
                text(s.name),
                text(s.address),
                s.port,
                s.tls_port,
                text(s.version),
                s.password_required,
                text(s.addresses).replace('\n', ",")
            );
        }
        let mut s: *const papo_discovered_server = std::ptr::null();
        assert_ne!(papo_discovery_get(list, n, &mut s), 0, "past the end");
        assert_eq!(papo_discovery_free(list), 0);
        assert_ne!(papo_discovery_free(list), 0, "a second free is refused");
    }
}
