//! The HTTP port (PROTOCOL.md "HTTP"): the page with its Content-Security-
//! Policy, `/healthz`, `/metrics` in the Prometheus text format counting
//! what real clients did, the request limits, and the port's absence by
//! default.

mod common_server;
mod common_ws;

use common_server::{start, Raw};
use common_ws::{get, raw_request, Ws};
use papo::ServerConfig;

fn with_http() -> ServerConfig {
    ServerConfig {
        http_port: Some(0),
        io_threads: 2,
        ..ServerConfig::default()
    }
}

#[test]
fn no_http_port_by_default() {
    let server = start(ServerConfig::default());
    assert_eq!(server.http_port(), None);
    assert_eq!(server.stats().http_requests, 0);
}

#[test]
fn the_page_and_its_files_come_with_a_content_security_policy() {
    let server = start(with_http());
    let port = server.http_port().expect("HTTP port");
    let page = get(port, "/");
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let csp = page.header("content-security-policy").expect("CSP");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(csp.contains(&format!("ws://127.0.0.1:{port}")), "{csp}");
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    let html = page.text();
    assert!(html.contains("<script src=\"app.js\""), "{html}");
    assert!(!html.contains("onclick"), "no inline handlers");
    for (path, ctype) in [
        ("/app.js", "text/javascript; charset=utf-8"),
        ("/style.css", "text/css; charset=utf-8"),
        ("/icon.svg", "image/svg+xml"),
    ] {
        let r = get(port, path);
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("content-type"), Some(ctype), "{path}");
        assert!(!r.body.is_empty(), "{path}");
        assert!(r.header("content-security-policy").is_some(), "{path}");
    }
    assert_eq!(get(port, "/nope").status, 404);
    // HEAD: the head alone.
    let head = raw_request(
        port,
        format!("HEAD / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n").as_bytes(),
    );
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
}

#[test]
fn healthz_says_ok_while_serving_and_the_port_closes_with_the_server() {
    let server = start(with_http());
    let port = server.http_port().expect("HTTP port");
    let r = get(port, "/healthz");
    assert_eq!((r.status, r.text().as_str()), (200, "ok\n"));
    server.shutdown();
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

/// The value of one sample of `/metrics`.
fn sample(scrape: &prometheus_parse::Scrape, name: &str, label: Option<(&str, &str)>) -> f64 {
    let s = scrape
        .samples
        .iter()
        .find(|s| s.metric == name && label.is_none_or(|(k, v)| s.labels.get(k) == Some(v)))
        .unwrap_or_else(|| panic!("no sample {name} {label:?}"));
    match s.value {
        prometheus_parse::Value::Counter(v)
        | prometheus_parse::Value::Gauge(v)
        | prometheus_parse::Value::Untyped(v) => v,
        ref other => panic!("{name}: {other:?}"),
    }
}

fn scrape(port: u16) -> prometheus_parse::Scrape {
    let r = get(port, "/metrics");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = r.text();
    for line in text.lines() {
        assert!(
            line.starts_with('#') || line.starts_with("papo_"),
            "{line:?}"
        );
    }
    prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
        .unwrap_or_else(|e| panic!("not Prometheus text: {e}\n{text}"))
}

#[test]
fn metrics_count_what_real_clients_did() {
    let server = start(with_http());
    let port = server.http_port().expect("HTTP port");
    let addr = server.local_addr();
    let before = scrape(port);
    assert_eq!(sample(&before, "papo_users", None), 0.0);
    assert_eq!(sample(&before, "papo_messages_received_total", None), 0.0);
    let (mut ana, _) = Raw::join(addr, "ana");
    let (mut bob, _) = Raw::join(addr, "bob");
    let (mut web, _) = Ws::join(port, "web", false);
    ana.expect("JOIN bob ");
    ana.expect("JOIN web ");
    for i in 0..5 {
        ana.send(&format!(":public {i}"));
    }
    ana.send("bob:private");
    ana.expect("SENT bob ");
    web.send(":from the browser");
    web.sync();
    ana.sync();
    bob.sync();
    let m = scrape(port);
    assert_eq!(sample(&m, "papo_connections", None), 3.0);
    assert_eq!(sample(&m, "papo_users", None), 3.0);
    assert_eq!(sample(&m, "papo_messages_received_total", None), 7.0);
    // 5 public messages to 2 others, 1 private, 1 public to 2 others.
    assert_eq!(sample(&m, "papo_deliveries_total", None), 13.0);
    assert!(sample(&m, "papo_received_bytes_total", None) > 60.0);
    assert!(sample(&m, "papo_sent_bytes_total", None) > 100.0);
    assert_eq!(sample(&m, "papo_websocket_connections_total", None), 1.0);
    assert!(sample(&m, "papo_http_requests_total", None) >= 2.0);
    assert_eq!(
        sample(
            &m,
            "papo_disconnects_total",
            Some(("reason", "slow_consumer"))
        ),
        0.0
    );
    assert!(sample(&m, "papo_io_thread_inbox_depth", Some(("thread", "1"))) >= 0.0);
    // A client that leaves is counted by reason.
    bob.send("quit");
    bob.expect_eof();
    ana.expect("LEFT bob ");
    common_server::eventually("bob's disconnect counted", || {
        server
            .stats()
            .disconnects_for(papo::server::DisconnectReason::Client)
            == 1
    });
    let m = scrape(port);
    assert_eq!(
        sample(&m, "papo_disconnects_total", Some(("reason", "client"))),
        1.0
    );
    assert_eq!(sample(&m, "papo_users", None), 2.0);
    assert_eq!(sample(&m, "papo_rooms", None), 0.0);
    // Rooms: the browser user and ana in #sala; the browser's room message
    // is one more message and one more delivery (to ana).
    // (The browser may still have lines from before, LEFT bob among them.)
    let web_until = |web: &mut Ws, prefix: &str| while !web.line().starts_with(prefix) {};
    web.send("/join #sala");
    web_until(&mut web, "ROOMJOIN #sala web");
    ana.send("/join #sala");
    ana.expect("ROOMJOIN #sala ana");
    web_until(&mut web, "ROOMJOIN #sala ana");
    web.send("#sala:oi da web");
    web_until(&mut web, "SENT #sala");
    ana.expect("ROOM #sala web :oi da web");
    let m = scrape(port);
    assert_eq!(sample(&m, "papo_rooms", None), 1.0);
    assert_eq!(sample(&m, "papo_messages_received_total", None), 8.0);
    assert_eq!(sample(&m, "papo_deliveries_total", None), 14.0);
    assert_eq!(server.stats().rooms, 1);
    drop(web);
}

#[test]
fn request_limits() {
    let server = start(with_http());
    let port = server.http_port().expect("HTTP port");
    // A head over 8 KiB.
    let big = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(9000)
    );
    assert_eq!(raw_request(port, big.as_bytes()).status, 431);
    // Too many headers.
    let mut many = String::from("GET / HTTP/1.1\r\n");
    for i in 0..60 {
        many.push_str(&format!("X-{i}: y\r\n"));
    }
    many.push_str("\r\n");
    assert_eq!(raw_request(port, many.as_bytes()).status, 431);
    // Not GET.
    let post = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n";
    assert_eq!(raw_request(port, post).status, 405);
    // Not HTTP.
    assert_eq!(
        raw_request(port, b"\x16\x03\x01garbage\r\n\r\n").status,
        400
    );
    // `/ws` without an upgrade.
    assert_eq!(get(port, "/ws").status, 426);
    // A client that ends its side right after the request is answered.
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(common_ws::WAIT)).expect("timeout");
    std::io::Write::write_all(&mut s, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").expect("write");
    s.shutdown(std::net::Shutdown::Write).expect("half-close");
    let mut got = String::new();
    std::io::Read::read_to_string(&mut s, &mut got).expect("read");
    assert!(
        got.starts_with("HTTP/1.1 200 OK\r\n") && got.ends_with("ok\n"),
        "{got:?}"
    );
    // Still serving.
    assert_eq!(get(port, "/healthz").status, 200);
}
