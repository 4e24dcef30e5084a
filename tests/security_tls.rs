//! Optional TLS (issue 6, PROTOCOL.md "TLS"): a server with a certificate
//! also listens on its TLS port (by convention 18001; port 0 here), where
//! `papo::Client` with `ClientConfig::tls` connects; plain and TLS users
//! share one chat. Certificates are made in the test (rcgen, self-signed).

mod common_server;

use std::io::Write;
use std::time::Duration;

use common_server::{eventually, start, Raw, WAIT};
use papo::client::ClientTls;
use papo::config::Password;
use papo::server::ServerTls;
use papo::{Client, ClientConfig, ErrorCode, Event, Server, ServerConfig};

struct Cert {
    cert_pem: String,
    key_pem: String,
}

fn self_signed(names: &[&str]) -> Cert {
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let ck = rcgen::generate_simple_self_signed(names).expect("rcgen");
    Cert {
        cert_pem: ck.cert.pem(),
        key_pem: ck.key_pair.serialize_pem(),
    }
}

fn tls_server(cert: &Cert, extra: ServerConfig) -> Server {
    let tls = ServerTls::from_pem(cert.cert_pem.as_bytes(), cert.key_pem.as_bytes())
        .expect("server TLS identity");
    start(ServerConfig {
        tls: Some(tls),
        tls_port: 0,
        ..extra
    })
}

fn tls_client_cfg(ca: &Cert) -> ClientConfig {
    ClientConfig {
        tls: Some(ClientTls::from_ca_pem(ca.cert_pem.as_bytes()).expect("client TLS")),
        connect_timeout: Duration::from_secs(20),
        // The shutdown test wants the end, not a reconnection.
        reconnect: false,
        ..ClientConfig::default()
    }
}

fn ev(c: &Client) -> Event {
    untagged(
        c.next_event(WAIT)
            .unwrap_or_else(|e| panic!("{}: no event: {e}", c.nick())),
    )
}

/// The event without its message id and server time, which the tests of
/// this file do not check (tests/server_rooms.rs and client_rooms.rs do).
fn untagged(e: Event) -> Event {
    match e {
        Event::Public { from, text, .. } => Event::Public {
            from,
            text,
            id: 0,
            time: 0,
        },
        Event::Private { from, text, .. } => Event::Private {
            from,
            text,
            id: 0,
            time: 0,
        },
        other => other,
    }
}

#[test]
fn tls_and_plain_users_share_one_chat() {
    let cert = self_signed(&["127.0.0.1", "localhost"]);
    let server = tls_server(
        &cert,
        ServerConfig {
            io_threads: 2,
            flood_lines_per_sec: 0, // carl sends 2000 lines at once below
            ..ServerConfig::default()
        },
    );
    let tls_port = server.tls_port().expect("a TLS port");
    assert_ne!(tls_port, server.port());
    let ana = Client::connect_with("127.0.0.1", tls_port, "ana", tls_client_cfg(&cert))
        .expect("TLS client");
    let (mut bob, users) = Raw::join(server.local_addr(), "bob"); // plain, as with nc
    assert_eq!(users, ["ana", "bob"]);
    assert_eq!(ev(&ana), Event::Joined { nick: "bob".into() });

    ana.send(None, "olá em segredo").expect("public over TLS");
    assert_eq!(bob.line(), "PUBLIC ana :olá em segredo");
    bob.send("ana:oi, ana");
    bob.expect("SENT ana ");
    assert_eq!(
        ev(&ana),
        Event::Private {
            from: "bob".into(),
            text: "oi, ana".into(),
            id: 0,
            time: 0,
        }
    );
    ana.send(Some("bob"), "privado").expect("private over TLS");
    assert_eq!(bob.line(), "PRIVATE ana :privado");
    assert_eq!(ana.users().expect("/list over TLS"), ["ana", "bob"]);
    ana.change_nick("Ana2").expect("/nick over TLS");
    assert!(bob.line().starts_with("NICK ana Ana2 "));

    // A lot, both ways, so that the socket fills and TLS records are
    // written in pieces.
    let filler = "x".repeat(1500);
    let carl =
        Client::connect_with("127.0.0.1", tls_port, "carl", tls_client_cfg(&cert)).expect("carl");
    loop {
        match ev(&ana) {
            Event::NickChanged { .. } => {}
            Event::Joined { nick } if nick == "carl" => break,
            other => panic!("{other:?}"),
        }
    }
    for k in 0..2000 {
        carl.send(None, &format!("{k} {filler}")).expect("send");
    }
    carl.ping().expect("ping");
    for k in 0..2000 {
        match ev(&ana) {
            Event::Public { from, text, .. } => {
                assert_eq!(from, "carl");
                assert!(text.starts_with(&format!("{k} ")), "{k}");
            }
            other => panic!("{other:?}"),
        }
    }
    bob.expect("JOIN carl ");
    for k in 0..2000 {
        let l = bob.line();
        assert!(l.starts_with(&format!("PUBLIC carl :{k} ")), "{k}: {l:.40}");
    }
    bob.sync();

    // Shutdown reaches TLS clients too: 03, then the end.
    server.shutdown();
    loop {
        match ev(&ana) {
            Event::Disconnected { code, .. } => {
                assert_eq!(code, ErrorCode::ConnectionAborted);
                break;
            }
            Event::Public { .. } | Event::Joined { .. } => {}
            other => panic!("{other:?}"),
        }
    }
    assert!(bob
        .read_to_end()
        .last()
        .is_some_and(|l| l.starts_with("ERROR 03 ")));
    carl.disconnect().expect("carl");
    ana.disconnect().expect("ana");
}

#[test]
fn untrusted_or_mismatched_certificates_are_refused() {
    let cert = self_signed(&["127.0.0.1"]);
    let server = tls_server(&cert, ServerConfig::default());
    let tls_port = server.tls_port().expect("TLS port");
    // Trusting another certificate: 04.
    let other = self_signed(&["127.0.0.1"]);
    let e = Client::connect_with("127.0.0.1", tls_port, "eve", tls_client_cfg(&other))
        .expect_err("untrusted");
    assert_eq!(e.code(), ErrorCode::InvalidServer, "{e}");
    // The right certificate, checked against the wrong name: 04.
    let mut cfg = tls_client_cfg(&cert);
    cfg.tls = cfg
        .tls
        .map(|t| t.with_server_name("example.com").expect("name"));
    let e = Client::connect_with("127.0.0.1", tls_port, "eve", cfg).expect_err("wrong name");
    assert_eq!(e.code(), ErrorCode::InvalidServer, "{e}");
    // A certificate for a name, checked against that name: fine.
    let named = self_signed(&["papo.example"]);
    let server2 = tls_server(&named, ServerConfig::default());
    let mut cfg = tls_client_cfg(&named);
    cfg.tls = cfg
        .tls
        .map(|t| t.with_server_name("papo.example").expect("name"));
    let c = Client::connect_with("127.0.0.1", server2.tls_port().expect("port"), "ok", cfg)
        .expect("named certificate");
    c.disconnect().expect("disconnect");
    assert_eq!(server.user_count(), 0);
}

/// Connecting by host name, the certificate is checked against that name
/// by default (as any TLS client does), not against the IP address.
#[test]
fn a_host_name_is_the_default_tls_name() {
    let for_name = self_signed(&["localhost"]);
    let server = tls_server(&for_name, ServerConfig::default());
    let port = server.tls_port().expect("TLS port");
    let c = Client::connect_with("localhost", port, "ana", tls_client_cfg(&for_name))
        .expect("a certificate for localhost, reached as localhost");
    c.disconnect().expect("disconnect");
    // The same certificate reached by IP address: no IP in it, 04.
    let e = Client::connect_with("127.0.0.1", port, "eve", tls_client_cfg(&for_name))
        .expect_err("no IP address in the certificate");
    assert_eq!(e.code(), ErrorCode::InvalidServer, "{e}");
    // A certificate for the IP address only, reached by name: 04.
    let for_ip = self_signed(&["127.0.0.1"]);
    let server2 = tls_server(&for_ip, ServerConfig::default());
    let e = Client::connect_with(
        "localhost",
        server2.tls_port().expect("TLS port"),
        "eve",
        tls_client_cfg(&for_ip),
    )
    .expect_err("no name in the certificate");
    assert_eq!(e.code(), ErrorCode::InvalidServer, "{e}");
}

#[test]
fn wrong_protocol_on_either_port_is_closed() {
    let cert = self_signed(&["127.0.0.1"]);
    let server = tls_server(&cert, ServerConfig::default());
    let tls_port = server.tls_port().expect("TLS port");
    let (mut ana, _) = Raw::join(server.local_addr(), "ana");
    // Plain text to the TLS port: the server waits for a TLS ClientHello,
    // the client for HELLO: no HELLO within the (short) connect timeout,
    // 04 for the library.
    let e = Client::connect_with(
        "127.0.0.1",
        tls_port,
        "plain",
        ClientConfig {
            connect_timeout: Duration::from_millis(500),
            ..ClientConfig::default()
        },
    )
    .expect_err("plain to TLS");
    assert_eq!(e.code(), ErrorCode::InvalidServer, "{e}");
    // nc typing to the TLS port: closed.
    let mut raw = std::net::TcpStream::connect(("127.0.0.1", tls_port)).expect("connect");
    raw.set_read_timeout(Some(WAIT)).expect("timeout");
    let _ = raw.write_all(b"mallory\n");
    let mut c = Raw::from_stream(raw);
    let _ = c.read_to_end();
    // TLS to the plain port: the server says ERROR 08 (TLS on the plain
    // port) and closes; the library reports 04.
    let e = Client::connect_with("127.0.0.1", server.port(), "tls", tls_client_cfg(&cert))
        .expect_err("TLS to plain");
    assert_eq!(e.code(), ErrorCode::InvalidServer, "{e}");
    eventually("only ana", || server.connection_count() == 1);
    ana.sync_quiet();
}

#[test]
fn password_over_tls() {
    let cert = self_signed(&["127.0.0.1"]);
    let server = tls_server(
        &cert,
        ServerConfig {
            password: Some(Password::from("segredo")),
            ..ServerConfig::default()
        },
    );
    let port = server.tls_port().expect("TLS port");
    let mut cfg = tls_client_cfg(&cert);
    cfg.password = Some(Password::from("segredo"));
    let ana = Client::connect_with("127.0.0.1", port, "ana", cfg).expect("TLS + password");
    let e = Client::connect_with("127.0.0.1", port, "eve", tls_client_cfg(&cert))
        .expect_err("no password");
    assert_eq!(e.code(), ErrorCode::AccessDenied);
    ana.ping().expect("ping");
    ana.disconnect().expect("disconnect");
}

#[test]
fn identities_from_pem_files_and_bad_pem() {
    let cert = self_signed(&["127.0.0.1"]);
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("security_tls");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&c, &cert.cert_pem).expect("write");
    std::fs::write(&k, &cert.key_pem).expect("write");
    ServerTls::from_pem_files(&c, &k).expect("from files");
    ClientTls::from_ca_pem_file(&c).expect("CA from file");
    let e = ServerTls::from_pem_files(dir.join("missing.pem"), &k).expect_err("missing");
    assert_eq!(e.code(), ErrorCode::Io);
    // Endless or huge files are read only up to the limit (issue 14: a
    // certificate path naming /dev/zero grew the process to 2.1 GB).
    let big = dir.join("big.pem");
    std::fs::write(
        &big,
        vec![b'A'; papo::config::MAX_PEM_FILE_BYTES as usize + 1],
    )
    .expect("write");
    for endless in [std::path::Path::new("/dev/zero"), &big] {
        let e = ServerTls::from_pem_files(endless, &k).expect_err("endless cert");
        assert_eq!(e.code(), ErrorCode::InvalidArgument, "{e}");
        let e = ServerTls::from_pem_files(&c, endless).expect_err("endless key");
        assert_eq!(e.code(), ErrorCode::InvalidArgument, "{e}");
        let e = ClientTls::from_ca_pem_file(endless).expect_err("endless CA");
        assert_eq!(e.code(), ErrorCode::InvalidArgument, "{e}");
    }
    std::fs::remove_file(&big).expect("rm");
    for (cp, kp) in [
        ("not pem", cert.key_pem.as_str()),
        (cert.cert_pem.as_str(), "not pem"),
        (cert.key_pem.as_str(), cert.key_pem.as_str()),
    ] {
        let e = ServerTls::from_pem(cp.as_bytes(), kp.as_bytes()).expect_err("bad PEM");
        assert_eq!(e.code(), ErrorCode::InvalidArgument, "{e}");
    }
    // A key that belongs to another certificate.
    let other = self_signed(&["127.0.0.1"]);
    let e = ServerTls::from_pem(cert.cert_pem.as_bytes(), other.key_pem.as_bytes())
        .expect_err("mismatch");
    assert_eq!(e.code(), ErrorCode::InvalidArgument, "{e}");
    let e = ClientTls::from_ca_pem(b"nothing").expect_err("no CA");
    assert_eq!(e.code(), ErrorCode::InvalidArgument);
    let e = ClientTls::from_ca_pem(cert.cert_pem.as_bytes())
        .expect("CA")
        .with_server_name("not a name!")
        .expect_err("bad name");
    assert_eq!(e.code(), ErrorCode::InvalidArgument);
}
