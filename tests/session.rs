//! The chat's rules (`papo::server::session`) tested directly: sessions
//! hosted in memory by `papo_testkit::Hub`, no socket, no thread, and the
//! clock moved by the test. Every line is asserted exactly where the
//! protocol (PROTOCOL.md) defines it; error texts are the codes' own
//! (`ErrorCode::text`) plus the detail the rule adds.

use std::time::Duration;

use papo::config::Password;
use papo::protocol::{HELP_LINES, MAX_LABEL_BYTES};
use papo::server::session::{Phase, MAX_OPEN_FILES, SLOW_RECEIVER_PATIENCE, TOO_SLOW};
use papo::server::Clock;
use papo::{ErrorCode, ServerConfig, ServerEvent};
use papo_testkit::{ConnId, Hub};

// ---- the lines, as PROTOCOL.md writes them --------------------------------

fn welcome(n: &str) -> String {
    format!(
        "WELCOME {n} :Bem-vindo, {n}! :texto para todos, Apelido:texto para um, /help, quit para sair"
    )
}

fn users(nicks: &[&str]) -> String {
    format!("USERS {} :{}", nicks.len(), nicks.join(" "))
}

fn join(n: &str) -> String {
    format!("JOIN {n} :{n} entrou no chat (joined)")
}

fn left(n: &str) -> String {
    format!("LEFT {n} :{n} saiu do chat (left)")
}

fn nick(old: &str, new: &str) -> String {
    format!("NICK {old} {new} :{old} agora se chama {new} (renamed)")
}

fn sent(to: &str) -> String {
    format!("SENT {to} :Mensagem enviada (message sent)")
}

fn file_ok(id: u64) -> String {
    format!("FILEOK {id} :Arquivo aceito, envie os blocos (file accepted, send the chunks)")
}

fn file_done(id: u64) -> String {
    format!("FILEDONE {id} :Arquivo enviado (file sent)")
}

/// `ERROR <code> <subject|*> :<text>[: <detail>]`.
fn error(code: ErrorCode, subject: Option<&str>, detail: Option<&str>) -> String {
    let mut l = format!(
        "ERROR {:02} {} :{}",
        code.as_i32(),
        subject.unwrap_or("*"),
        code.text()
    );
    if let Some(d) = detail {
        l.push_str(": ");
        l.push_str(d);
    }
    l
}

fn labeled(label: &str, line: &str) -> String {
    format!("@{label} {line}")
}

const PRESENCE_ON: &str =
    "PRESENCE on :avisos de entrada e saída ligados (join/left/nick notices on)";
const PRESENCE_OFF: &str =
    "PRESENCE off :avisos de entrada e saída desligados (join/left/nick notices off)";
const PASS: &str = "PASS :Senha aceita; digite seu apelido (password accepted; type your nickname)";
const NO_TRANSFER: &str = "nenhuma transferência aberta (no open transfer)";

/// Every test starts from the defaults, with the flood limit and keepalive
/// off unless it is about them.
fn base() -> ServerConfig {
    ServerConfig {
        flood_lines_per_sec: 0,
        keepalive_interval: Duration::ZERO,
        ..ServerConfig::default()
    }
}

/// The `Disconnected` event of connection `c` among `events`: (code,
/// reason, nickname).
fn disconnected(
    events: &[ServerEvent],
    c: ConnId,
) -> Option<(Option<ErrorCode>, String, Option<String>)> {
    events.iter().find_map(|e| match e {
        ServerEvent::Disconnected {
            id,
            code,
            reason,
            nick,
            ..
        } if *id == c.id() => Some((*code, reason.clone(), nick.clone())),
        _ => None,
    })
}

/// A connection with `HELLO` already taken.
fn connect(hub: &mut Hub) -> ConnId {
    let c = hub.connect();
    let hello = hub.lines(c);
    assert_eq!(hello.len(), 1, "{hello:?}");
    assert!(hello[0].starts_with("HELLO papo/1 "), "{hello:?}");
    c
}

// ---- registration ----------------------------------------------------------

#[test]
fn hello_announces_the_limits_and_labels() {
    let mut hub = Hub::new(&ServerConfig {
        max_line_bytes: 100,
        max_nick_chars: 9,
        max_payload_bytes: 200,
        max_file_bytes: 300,
        ..base()
    });
    let c = hub.connect();
    assert_eq!(
        hub.lines(c),
        [
            "HELLO papo/1 line=100 nick=9 bytes=200 file=300 labels=1 binary=1 tags=1 resume=1 \
          :Bem-vindo ao papo! Digite seu apelido (type your nickname):"
        ]
    );
}

#[test]
fn registration_welcome_users_and_join() {
    let mut hub = Hub::new(&base());
    let ana = connect(&mut hub);
    hub.send(ana, "ana\n");
    assert_eq!(hub.lines(ana), [welcome("ana"), users(&["ana"])]);
    assert_eq!(hub.phase(ana), Phase::Registered);
    let zed = connect(&mut hub);
    hub.send(zed, "  Zed \r\n");
    assert_eq!(hub.lines(zed), [welcome("Zed"), users(&["ana", "Zed"])]);
    assert_eq!(hub.lines(ana), [join("Zed")]);
    // Sorted case-insensitively.
    let bob = connect(&mut hub);
    hub.send(bob, "Bob\n");
    assert_eq!(
        hub.lines(bob),
        [welcome("Bob"), users(&["ana", "Bob", "Zed"])]
    );
    let events = hub.events();
    let registered: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            ServerEvent::Registered { nick, .. } => Some(nick.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(registered, ["ana", "Zed", "Bob"]);
}

/// PROTOCOL.md "Registration" 4: 30 s by default, counted from the
/// connection.
#[test]
fn registration_timeout() {
    let mut hub = Hub::new(&base());
    let bob = hub.join("bob");
    let early = connect(&mut hub);
    hub.advance(Duration::from_secs(10));
    let late = connect(&mut hub);
    hub.advance(Duration::from_secs(19));
    assert!(hub.lines(early).is_empty());
    assert_eq!(hub.phase(early), Phase::Prompt);
    hub.advance(Duration::from_secs(1));
    let timeout = error(
        ErrorCode::Timeout,
        None,
        Some("no nickname within 30000 ms"),
    );
    assert_eq!(hub.lines(early), std::slice::from_ref(&timeout));
    assert_eq!(hub.phase(early), Phase::Closed);
    assert_eq!(hub.phase(late), Phase::Prompt, "10 s younger");
    hub.advance(Duration::from_millis(9_999));
    assert_eq!(hub.phase(late), Phase::Prompt);
    hub.advance(Duration::from_millis(1));
    assert_eq!(hub.lines(late), [timeout]);
    assert_eq!(
        hub.phase(bob),
        Phase::Registered,
        "not for registered users"
    );
    assert!(hub.lines(bob).is_empty(), "nobody registered, nobody left");
    let events = hub.events();
    assert_eq!(
        disconnected(&events, early),
        Some((
            Some(ErrorCode::Timeout),
            "registration timeout".to_owned(),
            None
        ))
    );
}

/// PROTOCOL.md "Registration" 5 and "Limits": every refused line at the
/// prompt is an attempt; the `max_nick_attempts`-th is answered and closed.
#[test]
fn nickname_refusals_and_max_nick_attempts() {
    let mut hub = Hub::new(&ServerConfig {
        max_nick_attempts: 4,
        max_nick_chars: 8,
        ..base()
    });
    let ana = hub.join("Ana");
    let c = connect(&mut hub);
    // What is answered but is no attempt: a bad /presence, a bad label.
    hub.send(c, "/presence maybe\n@ bob\n@no!label bob\n");
    let e10 = error(ErrorCode::UnknownCommand, None, None);
    assert_eq!(hub.lines(c), [e10.clone(), e10.clone(), e10]);
    // Attempts: invalid, taken (case-insensitively), not UTF-8.
    hub.send(c, "a:b\nquit\n");
    let e06 = error(ErrorCode::InvalidNick, None, None);
    assert_eq!(hub.lines(c), [e06.clone(), e06.clone()]);
    hub.send(c, "ANA\n");
    assert_eq!(
        hub.lines(c),
        [error(ErrorCode::NickInUse, Some("ANA"), None)]
    );
    hub.send(c, b"\xff\xfe\n");
    assert_eq!(
        hub.lines(c),
        [error(
            ErrorCode::InvalidText,
            None,
            Some("4 failed nickname attempts; closing")
        )]
    );
    assert_eq!(hub.phase(c), Phase::Closed);
    let events = hub.events();
    assert_eq!(
        disconnected(&events, c),
        Some((
            Some(ErrorCode::InvalidText),
            "too many nickname attempts".to_owned(),
            None
        ))
    );
    assert!(hub.lines(ana).is_empty());

    // Every way a nickname can be invalid; the limit counts characters.
    let d = connect(&mut hub);
    for bad in [
        "",
        "a b",
        "a/b",
        "a\\b",
        "a*b",
        "a,b",
        "@ab",
        "{QUIT}",
        "abcdefghi",
    ] {
        let mut hub = Hub::new(&ServerConfig {
            max_nick_attempts: 0,
            max_nick_chars: 8,
            ..base()
        });
        let c = connect(&mut hub);
        hub.send(c, format!("{bad}\n"));
        // `@ab` has no space: no label, a nickname that starts with `@`.
        assert_eq!(
            hub.lines(c),
            [error(ErrorCode::InvalidNick, None, None)],
            "{bad:?}"
        );
    }
    hub.send(d, "ééééééé\n");
    assert_eq!(
        hub.lines(d),
        [welcome("ééééééé"), users(&["Ana", "ééééééé"])]
    );
}

#[test]
fn unlimited_nick_attempts() {
    let mut hub = Hub::new(&ServerConfig {
        max_nick_attempts: 0,
        ..base()
    });
    let c = connect(&mut hub);
    hub.send(c, "a:b\n".repeat(200));
    assert_eq!(hub.lines(c).len(), 200);
    assert_eq!(hub.phase(c), Phase::Prompt);
    hub.send(c, "ana\n");
    assert_eq!(hub.lines(c), [welcome("ana"), users(&["ana"])]);
}

/// PROTOCOL.md "Password": `PASS` when right (or when none is needed),
/// `ERROR 19` and closed when missing or wrong.
#[test]
fn password() {
    let cfg = ServerConfig {
        password: Some(Password::from("segredo")),
        ..base()
    };
    let mut hub = Hub::new(&cfg);
    let ana = hub.join("ana");

    // A nickname first.
    let c = hub.connect();
    let hello = hub.lines(c);
    assert!(
        hello[0].contains(" pass=required labels=1 binary=1 tags=1 resume=1 :"),
        "{hello:?}"
    );
    hub.send(c, "bob\n");
    assert_eq!(
        hub.lines(c),
        [error(
            ErrorCode::AccessDenied,
            None,
            Some("password required: send /pass <password> before your nickname")
        )]
    );
    assert_eq!(hub.phase(c), Phase::Closed);
    // A wrong one, also with the right one as a prefix.
    for wrong in ["/pass errado", "/pass segredo2", "/pass segred", "/pass"] {
        let c = connect(&mut hub);
        hub.send(c, format!("{wrong}\nbob\n"));
        assert_eq!(
            hub.lines(c),
            [error(ErrorCode::AccessDenied, None, Some("wrong password"))],
            "{wrong:?}"
        );
        assert_eq!(hub.phase(c), Phase::Closed);
        let events = hub.events();
        assert_eq!(
            disconnected(&events, c),
            Some((
                Some(ErrorCode::AccessDenied),
                "wrong password".to_owned(),
                None
            ))
        );
    }
    // The command word in any case, spaces around the password ignored,
    // and /presence may come first.
    let c = connect(&mut hub);
    hub.send(c, "/presence off\n/PASS   segredo  \nbob\n");
    assert_eq!(
        hub.lines(c),
        [PRESENCE_OFF.to_owned(), PASS.to_owned(), welcome("bob")]
    );
    // After registration /pass is no command.
    hub.send(c, "/pass segredo\n");
    assert_eq!(hub.lines(c), [error(ErrorCode::UnknownCommand, None, None)]);
    assert_eq!(hub.lines(ana), [join("bob")]);

    // A server with no password answers /pass all the same.
    let mut open = Hub::new(&base());
    let c = connect(&mut open);
    open.send(c, "/pass anything\nana\n");
    assert_eq!(
        open.lines(c),
        [PASS.to_owned(), welcome("ana"), users(&["ana"])]
    );
}

/// HTTP and TLS at the prompt are closed at once (PROTOCOL.md
/// "Registration" 5).
#[test]
fn http_and_tls_at_the_prompt() {
    let mut hub = Hub::new(&base());
    let http = connect(&mut hub);
    hub.send(http, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(
        hub.lines(http),
        [error(
            ErrorCode::UnknownCommand,
            None,
            Some("an HTTP request; this is a papo chat server (PROTOCOL.md)")
        )]
    );
    assert_eq!(hub.phase(http), Phase::Closed);

    let tls = connect(&mut hub);
    hub.send(tls, b"\x16\x03\x01\x00\x05hello\n");
    assert_eq!(
        hub.lines(tls),
        [error(
            ErrorCode::InvalidText,
            None,
            Some("a TLS handshake on the plain-text port (see PROTOCOL.md, TLS)")
        )]
    );
    assert_eq!(hub.phase(tls), Phase::Closed);
    let events = hub.events();
    assert_eq!(
        disconnected(&events, http).map(|d| (d.0, d.1)),
        Some((Some(ErrorCode::UnknownCommand), "HTTP request".to_owned()))
    );
    assert_eq!(
        disconnected(&events, tls).map(|d| (d.0, d.1)),
        Some((
            Some(ErrorCode::InvalidText),
            "TLS on the plain port".to_owned()
        ))
    );

    // Only the connection's first byte tells a TLS handshake: later, 0x16
    // is a control character in a refused nickname, however the reads
    // cut the bytes (found by the session fuzz target).
    for whole in [true, false] {
        let c = connect(&mut hub);
        if whole {
            hub.send(c, b"/presence on\n\x16\x03\x01\n");
        } else {
            hub.send(c, b"/presence on\n");
            hub.send(c, b"\x16\x03\x01\n");
        }
        assert_eq!(
            hub.lines(c),
            [
                PRESENCE_ON.to_owned(),
                error(ErrorCode::InvalidNick, None, None)
            ]
        );
        assert_eq!(hub.phase(c), Phase::Prompt);
    }

    // After registration an HTTP line is just no command.
    let ana = hub.join("ana");
    hub.send(ana, "GET / HTTP/1.1\n");
    assert_eq!(
        hub.lines(ana),
        [error(ErrorCode::UnknownCommand, None, None)]
    );
    assert_eq!(hub.phase(ana), Phase::Registered);
}

/// PROTOCOL.md "Registration" 2 (issue 14, "Names nobody can fake"): a
/// look-alike of a name online is taken (01), an invisible or reordering
/// character makes a name invalid (06), and look-alikes are the same
/// person for private messages and `/nick` too.
#[test]
fn look_alike_nicknames_are_taken_and_invisible_ones_invalid() {
    let mut hub = Hub::new(&base());
    let ana = hub.join("ana");
    let c = connect(&mut hub);
    // A Cyrillic а, fullwidth ａ: the same person as `ana`.
    for fake in ["\u{430}na", "\u{FF41}na", "ANA"] {
        hub.send(c, format!("{fake}\n").as_bytes());
        assert_eq!(
            hub.lines(c),
            [error(ErrorCode::NickInUse, Some(fake), None)],
            "{fake:?}"
        );
    }
    // Invisible, reordering or reserved: invalid.
    for bad in ["ana\u{200B}", "\u{202E}ana", "a\u{AD}na", "quit\u{200B}"] {
        hub.send(c, format!("{bad}\n").as_bytes());
        assert_eq!(
            hub.lines(c),
            [error(ErrorCode::InvalidNick, None, None)],
            "{bad:?}"
        );
    }
    // A different real name is not confused with `ana`.
    hub.send(c, "ama\n");
    assert_eq!(hub.lines(c)[0], welcome("ama"));
    assert_eq!(hub.lines(ana), [join("ama")]);
    // A message to the look-alike reaches the one online; `/nick` to a
    // look-alike of someone else is taken, to one of one's own name is a
    // rename.
    hub.send(c, "\u{430}na:oi\n/nick \u{430}na\n/nick \u{430}ma\n");
    assert_eq!(
        hub.lines(c),
        [
            sent("\u{430}na"),
            error(ErrorCode::NickInUse, Some("\u{430}na"), None),
            nick("ama", "\u{430}ma"),
        ]
    );
    assert_eq!(
        hub.lines(ana),
        ["PRIVATE ama :oi".to_owned(), nick("ama", "\u{430}ma")]
    );
    // `USERS` stays sorted case-insensitively by the names as written,
    // not by their skeletons (that of `аma` is `arna`, which would come
    // before `Zoe`).
    for n in ["Zoe", "anb"] {
        let z = hub.join(n);
        hub.lines(z);
    }
    hub.lines(ana);
    hub.send(ana, "/list\n");
    assert_eq!(hub.lines(ana), [users(&["ana", "anb", "Zoe", "\u{430}ma"])]);
}

// ---- time: keepalive and the flood limit ------------------------------------

/// PROTOCOL.md "Keepalive": `PING :keepalive` after `keepalive_interval`
/// of silence, `ERROR 11` and `LEFT` after `keepalive_timeout` more; any
/// byte clears the probe.
#[test]
fn keepalive() {
    let mut hub = Hub::new(&ServerConfig {
        keepalive_interval: Duration::from_secs(60),
        keepalive_timeout: Duration::from_secs(20),
        ..base()
    });
    let ana = hub.join("ana");
    let bob = hub.join("bob");
    let carol = hub.join("carol");
    hub.lines(ana);
    hub.lines(bob);
    hub.advance(Duration::from_secs(30));
    hub.send(bob, "\n"); // an empty line: heard from at 30 s
    hub.advance(Duration::from_millis(29_999));
    for c in [ana, bob, carol] {
        assert!(hub.lines(c).is_empty());
    }
    hub.advance(Duration::from_millis(1)); // 60 s
    assert_eq!(hub.lines(ana), ["PING :keepalive"]);
    assert_eq!(hub.lines(carol), ["PING :keepalive"]);
    assert!(hub.lines(bob).is_empty());
    // One probe, not one per tick.
    hub.advance(Duration::from_secs(5)); // 65 s
    assert!(hub.lines(ana).is_empty());
    // Any byte answers it, even half a line.
    hub.send(carol, "/pi");
    hub.advance(Duration::from_millis(14_999)); // 79.999 s
    assert!(hub.lines(ana).is_empty());
    assert_eq!(hub.phase(ana), Phase::Registered);
    hub.advance(Duration::from_millis(1)); // 80 s
    assert_eq!(
        hub.lines(ana),
        [error(
            ErrorCode::Timeout,
            None,
            Some("no answer to keepalive within 20000 ms")
        )]
    );
    assert_eq!(hub.phase(ana), Phase::Closed);
    assert_eq!(hub.lines(bob), [left("ana")]);
    assert_eq!(hub.lines(carol), [left("ana")]);
    let events = hub.events();
    assert_eq!(
        disconnected(&events, ana),
        Some((
            Some(ErrorCode::Timeout),
            "keepalive timeout".to_owned(),
            Some("ana".to_owned())
        ))
    );
    // bob, heard at 30 s, is probed at 90 s; carol, heard at 65 s, at 125 s.
    hub.advance(Duration::from_secs(10)); // 90 s
    assert_eq!(hub.lines(bob), ["PING :keepalive"]);
    assert!(hub.lines(carol).is_empty());
    hub.send(bob, "/pong keepalive\n");
    assert!(hub.lines(bob).is_empty(), "/pong is not answered");
    hub.advance(Duration::from_millis(34_999)); // 124.999 s
    assert!(hub.lines(carol).is_empty());
    hub.advance(Duration::from_millis(1)); // 125 s
    assert_eq!(hub.lines(carol), ["PING :keepalive"]);
    // The half line is still a line once it ends.
    hub.send(carol, "ng\n");
    assert_eq!(hub.lines(carol), ["PONG"]);
}

/// A connection at the prompt is not probed (the registration timeout
/// covers it), and keepalive 0 is off.
#[test]
fn keepalive_only_for_registered_users_and_off_at_zero() {
    let mut hub = Hub::new(&ServerConfig {
        keepalive_interval: Duration::from_secs(60),
        keepalive_timeout: Duration::from_secs(20),
        registration_timeout: Duration::from_secs(3600),
        ..base()
    });
    let c = connect(&mut hub);
    hub.advance(Duration::from_secs(600));
    assert!(hub.lines(c).is_empty());
    assert_eq!(hub.phase(c), Phase::Prompt);

    let mut off = Hub::new(&base());
    let ana = off.join("ana");
    off.advance(Duration::from_secs(100_000));
    assert!(off.lines(ana).is_empty());
    assert_eq!(off.phase(ana), Phase::Registered);
}

/// PROTOCOL.md "Flood limit": exactly `flood_burst_lines` at once, then
/// `flood_lines_per_sec`; the line over it gets `ERROR 03`, the rest is
/// not read, and everyone else gets `LEFT`.
#[test]
fn flood_limit() {
    let mut hub = Hub::new(&ServerConfig {
        flood_lines_per_sec: 10,
        flood_burst_lines: 5,
        ..base()
    });
    let bob = hub.join("bob");
    let flood = error(
        ErrorCode::ConnectionAborted,
        None,
        Some("flooding: more than 5 lines at once or 10 lines per second"),
    );

    // The nickname is the first of the burst: four more, then one too many;
    // what follows it is not read.
    let ana = connect(&mut hub);
    hub.send(ana, "ana\n/ping 2\n/ping 3\n\n/ping 5\n/ping 6\n/ping 7\n");
    assert_eq!(
        hub.lines(ana),
        [
            welcome("ana"),
            users(&["ana", "bob"]),
            "PONG :2".to_owned(),
            "PONG :3".to_owned(),
            "PONG :5".to_owned(),
            flood.clone(),
        ]
    );
    assert_eq!(hub.phase(ana), Phase::Closed);
    assert_eq!(hub.lines(bob), [join("ana"), left("ana")]);
    let events = hub.events();
    assert_eq!(
        disconnected(&events, ana).map(|d| (d.0, d.1)),
        Some((Some(ErrorCode::ConnectionAborted), "flooding".to_owned()))
    );

    // Then the rate: one line per 100 ms, not two.
    let carol = connect(&mut hub);
    hub.send(carol, "carol\n/ping\n/ping\n/ping\n/ping\n");
    assert_eq!(hub.lines(carol).len(), 6);
    for _ in 0..3 {
        hub.advance(Duration::from_millis(100));
        hub.send(carol, "/ping\n");
        assert_eq!(hub.lines(carol), ["PONG"]);
    }
    hub.advance(Duration::from_millis(99));
    hub.send(carol, "/ping\n");
    assert_eq!(hub.lines(carol), std::slice::from_ref(&flood));

    // After a pause the whole burst is back, and no more.
    let dan = connect(&mut hub);
    hub.send(dan, "dan\n/ping\n/ping\n/ping\n/ping\n");
    hub.lines(dan);
    hub.advance(Duration::from_secs(60));
    hub.send(dan, "/ping\n".repeat(5));
    assert_eq!(hub.lines(dan), ["PONG"; 5]);
    hub.send(dan, "/ping\n");
    assert_eq!(hub.lines(dan), std::slice::from_ref(&flood));

    // Every line counts, refused ones at the prompt and lines over the
    // length limit too.
    let eve = connect(&mut hub);
    hub.send(eve, "a:b\na:b\na:b\na:b\na:b\n");
    assert_eq!(hub.lines(eve).len(), 5);
    hub.send(eve, "x".repeat(5000) + "\n");
    assert_eq!(hub.lines(eve), std::slice::from_ref(&flood));

    // A file's chunks do not count: the transfer's flow control paces them.
    let fay = connect(&mut hub);
    hub.send(fay, "fay\n/file bob 30 :x\n");
    assert_eq!(hub.lines(fay)[2], file_ok(1));
    hub.lines(bob);
    hub.send(fay, "/chunk 1 1\nx".repeat(30));
    assert_eq!(hub.lines(fay).len(), 30, "one FILEACK each");
    assert_eq!(hub.phase(fay), Phase::Registered);
    hub.send(fay, "/fileend 1\n/ping\n/ping\n/ping\n");
    assert_eq!(
        hub.lines(fay),
        [file_done(1), "PONG".to_owned(), "PONG".to_owned(), flood]
    );
}

// ---- lines and limits --------------------------------------------------------

#[test]
fn line_limits() {
    let mut hub = Hub::new(&ServerConfig {
        max_line_bytes: 20,
        max_discard_bytes: 100,
        ..base()
    });
    let ana = hub.join("ana");
    let bob = hub.join("bob");
    hub.lines(ana);
    // 20 bytes is a line; CRLF at the limit too.
    hub.send(ana, format!(":{}\n:{}\r\n", "x".repeat(19), "y".repeat(19)));
    assert_eq!(
        hub.lines(bob),
        [
            format!("PUBLIC ana :{}", "x".repeat(19)),
            format!("PUBLIC ana :{}", "y".repeat(19))
        ]
    );
    // 21 is skipped, and the connection goes on.
    hub.send(ana, format!(":{}\n/ping\n", "z".repeat(20)));
    assert_eq!(
        hub.lines(ana),
        [
            error(
                ErrorCode::TooLong,
                None,
                Some("over 20 bytes; line skipped")
            ),
            "PONG".to_owned()
        ]
    );
    assert!(hub.lines(bob).is_empty());
    // Past the discard limit with no LF: closed.
    hub.send(ana, "w".repeat(101));
    assert_eq!(
        hub.lines(ana),
        [error(
            ErrorCode::TooLong,
            None,
            Some("over 100 bytes with no line end; closing")
        )]
    );
    assert_eq!(hub.phase(ana), Phase::Closed);
    assert_eq!(hub.lines(bob), [left("ana")]);
    let events = hub.events();
    assert_eq!(
        disconnected(&events, ana).map(|d| (d.0, d.1)),
        Some((Some(ErrorCode::TooLong), "endless line".to_owned()))
    );
}

#[test]
fn chat_lines_and_their_answers() {
    let mut hub = Hub::new(&base());
    let ana = hub.join("ana");
    let bob = hub.join("bob");
    hub.lines(ana);
    hub.send(ana, "\n   \n/pong x\n");
    assert!(hub.lines(ana).is_empty(), "ignored");
    hub.send(ana, "/ping\n/PING tok en\n/help\n/list\n");
    let mut want = vec!["PONG".to_owned(), "PONG :tok en".to_owned()];
    want.extend(HELP_LINES.iter().map(|l| format!("HELP :{l}")));
    want.push(users(&["ana", "bob"]));
    assert_eq!(hub.lines(ana), want);
    // Public messages: everyone else, the text verbatim after the first ':'.
    hub.send(ana, ":olá a todos: sim\n: \n");
    assert!(hub.lines(ana).is_empty());
    assert_eq!(
        hub.lines(bob),
        ["PUBLIC ana :olá a todos: sim", "PUBLIC ana : "]
    );
    let e = |code| error(code, None, None);
    hub.send(
        ana,
        ":\nbob:\n:a\x1bb\nhello\nhello there: x\n/bogus\n/nick\n",
    );
    assert_eq!(
        hub.lines(ana),
        [
            e(ErrorCode::Empty),
            e(ErrorCode::Empty),
            e(ErrorCode::InvalidText),
            e(ErrorCode::UnknownCommand),
            e(ErrorCode::UnknownCommand),
            e(ErrorCode::UnknownCommand),
            e(ErrorCode::Empty),
        ]
    );
    hub.send(ana, b":\xff\n");
    assert_eq!(
        hub.lines(ana),
        [error(ErrorCode::InvalidText, None, Some("not UTF-8"))]
    );
    assert!(hub.lines(bob).is_empty());
}

#[test]
fn quit_and_closing() {
    let mut hub = Hub::new(&base());
    let ana = hub.join("ana");
    for word in ["quit", "{QUIT}", "/Quit"] {
        let c = hub.join("bob");
        hub.send(c, format!("{word}\n:never read\n"));
        assert!(hub.lines(c).is_empty());
        assert_eq!(hub.phase(c), Phase::Closed);
        assert_eq!(hub.lines(ana), [join("bob"), left("bob")]);
        let events = hub.events();
        assert_eq!(
            disconnected(&events, c),
            Some((None, "quit".to_owned(), Some("bob".to_owned())))
        );
    }
    // Closing the socket is the same.
    let c = hub.join("bob");
    hub.close_input(c);
    assert_eq!(hub.phase(c), Phase::Closed);
    assert_eq!(hub.lines(ana), [join("bob"), left("bob")]);
    let events = hub.events();
    assert_eq!(
        disconnected(&events, c),
        Some((None, "closed by peer".to_owned(), Some("bob".to_owned())))
    );
    // At the prompt: /quit leaves, quit is a refused nickname; nobody is
    // told.
    let c = connect(&mut hub);
    hub.send(c, "quit\n/quit\n");
    assert_eq!(hub.lines(c), [error(ErrorCode::InvalidNick, None, None)]);
    assert_eq!(hub.phase(c), Phase::Closed);
    assert!(hub.lines(ana).is_empty());
}

/// The worker's shutdown: `ERROR 03` to everyone, no `LEFT`, no
/// `FILEFAIL`.
#[test]
fn shutdown() {
    let mut hub = Hub::new(&base());
    let ana = hub.join("ana");
    let bob = hub.join("bob");
    let waiting = connect(&mut hub);
    hub.send(ana, "/file bob 10 :x\n");
    hub.lines(ana);
    hub.lines(bob);
    hub.shutdown();
    let bye = error(
        ErrorCode::ConnectionAborted,
        None,
        Some("server shutting down"),
    );
    for c in [ana, bob, waiting] {
        assert_eq!(hub.lines(c), std::slice::from_ref(&bye));
        assert_eq!(hub.phase(c), Phase::Closed);
    }
}

// ---- presence -----------------------------------------------------------------

/// PROTOCOL.md "Presence": who gets `JOIN`/`LEFT`/`NICK`, and the `USERS`
/// snapshot that the changes after it continue with no gap or duplicate.
#[test]
fn presence_on_and_off() {
    let mut hub = Hub::new(&base());
    let ana = hub.join("ana");
    let bob = hub.join("bob");
    assert_eq!(hub.lines(ana), [join("bob")]);

    // carol turns presence off at the prompt: WELCOME with no USERS.
    let carol = connect(&mut hub);
    hub.send(carol, "/presence maybe\n/presence off\ncarol\n");
    assert_eq!(
        hub.lines(carol),
        [
            error(ErrorCode::UnknownCommand, None, None),
            PRESENCE_OFF.to_owned(),
            welcome("carol")
        ]
    );
    assert_eq!(hub.lines(ana), [join("carol")]);
    assert_eq!(hub.lines(bob), [join("carol")]);

    // ana leaves: bob is told, carol is not.
    hub.send(ana, "quit\n");
    assert_eq!(hub.lines(bob), [left("ana")]);
    assert!(hub.lines(carol).is_empty());

    // dave's list is the registry at its registration; what follows it is
    // exactly the changes after it.
    let dave = connect(&mut hub);
    hub.send(dave, "dave\n");
    assert_eq!(
        hub.lines(dave),
        [welcome("dave"), users(&["bob", "carol", "dave"])]
    );
    assert_eq!(hub.lines(bob), [join("dave")]);
    hub.send(bob, "/nick Bob2\n");
    assert_eq!(hub.lines(bob), [nick("bob", "Bob2")], "its own NICK");
    assert_eq!(hub.lines(dave), [nick("bob", "Bob2")]);
    assert!(hub.lines(carol).is_empty());
    // carol's own rename is answered even with presence off.
    hub.send(carol, "/nick Carol\n");
    assert_eq!(hub.lines(carol), [nick("carol", "Carol")]);
    assert_eq!(hub.lines(dave), [nick("carol", "Carol")]);

    // Presence back on: changes from then on, nothing replayed; /list for
    // who is online now.
    hub.send(carol, "/presence ON\n/list\n");
    assert_eq!(
        hub.lines(carol),
        [PRESENCE_ON.to_owned(), users(&["Bob2", "Carol", "dave"])]
    );
    let eve = hub.join("eve");
    assert_eq!(hub.lines(carol), [join("eve")]);
    // dave turns it off after registering.
    hub.send(dave, "/presence off\n");
    assert_eq!(hub.lines(dave), [join("eve"), PRESENCE_OFF.to_owned()]);
    hub.send(eve, "quit\n");
    assert!(hub.lines(dave).is_empty());
    assert_eq!(hub.lines(carol), [left("eve")]);
    // Messages still come with presence off.
    hub.send(bob, ":oi\n");
    assert_eq!(hub.lines(dave), ["PUBLIC Bob2 :oi"]);
    assert_eq!(hub.lines(carol), ["PUBLIC Bob2 :oi"]);
}

// ---- private messages and /nick -------------------------------------------------

#[test]
fn private_messages() {
    let mut hub = Hub::new(&ServerConfig {
        max_nick_chars: 8,
        ..base()
    });
    let ana = hub.join("ana");
    let bob = hub.join("bob");
    let carol = hub.join("carol");
    hub.lines(ana);
    hub.lines(bob);
    hub.send(ana, "bob:oi bob\n BOB : e aí\n");
    assert_eq!(hub.lines(ana), [sent("bob"), sent("BOB")]);
    assert_eq!(
        hub.lines(bob),
        ["PRIVATE ana :oi bob", "PRIVATE ana : e aí"]
    );
    assert!(hub.lines(carol).is_empty());
    // Nobody has the name: its subject; it cannot be a name: '*'.
    hub.send(ana, "zé:oi\nx*y:oi\nabcdefghi:oi\n");
    assert_eq!(
        hub.lines(ana),
        [
            error(ErrorCode::NoSuchUser, Some("zé"), None),
            error(ErrorCode::NoSuchUser, None, None),
            error(ErrorCode::NoSuchUser, None, None),
        ]
    );
    // To oneself: delivered like any other.
    hub.send(ana, "Ana:eu mesma\n");
    assert_eq!(
        hub.lines(ana),
        ["PRIVATE ana :eu mesma".to_owned(), sent("Ana")]
    );
    // A receiver that left.
    hub.send(bob, "quit\n");
    hub.lines(ana);
    hub.send(ana, "bob:ainda?\n");
    assert_eq!(
        hub.lines(ana),
        [error(ErrorCode::NoSuchUser, Some("bob"), None)]
    );
}

#[test]
fn nick_changes() {
    let mut hub = Hub::new(&ServerConfig {
        max_nick_chars: 8,
        ..base()
    });
    let ana = hub.join("ana");
    let bob = hub.join("bob");
    let quiet = connect(&mut hub);
    hub.send(quiet, "/presence off\nquiet\n");
    hub.lines(quiet);
    hub.lines(ana);
    hub.lines(bob);
    hub.send(ana, "/nick Ana2\n");
    assert_eq!(hub.lines(ana), [nick("ana", "Ana2")]);
    assert_eq!(hub.lines(bob), [nick("ana", "Ana2")]);
    assert!(hub.lines(quiet).is_empty());
    assert_eq!(hub.nick(ana).as_deref(), Some("Ana2"));
    // Taken (case-insensitively): 01 with the name; invalid: 06 *; the old
    // name stays.
    hub.send(ana, "/nick BOB\n/nick a:b\n/nick abcdefghi\n");
    assert_eq!(
        hub.lines(ana),
        [
            error(ErrorCode::NickInUse, Some("BOB"), None),
            error(ErrorCode::InvalidNick, None, None),
            error(ErrorCode::InvalidNick, None, None),
        ]
    );
    // Its own name in another case is no conflict.
    hub.send(ana, "/nick ANA2\n");
    assert_eq!(hub.lines(ana), [nick("Ana2", "ANA2")]);
    assert_eq!(hub.lines(bob), [nick("Ana2", "ANA2")]);
    // Messages follow the new name; the old one is free.
    hub.send(bob, "ana:x\nana2:y\n:z\n");
    assert_eq!(
        hub.lines(bob),
        [
            error(ErrorCode::NoSuchUser, Some("ana"), None),
            sent("ana2")
        ]
    );
    assert_eq!(hub.lines(ana), ["PRIVATE bob :y", "PUBLIC bob :z"]);
    let again = hub.join("ana");
    assert_eq!(hub.lines(bob), [join("ana")]);
    let events = hub.events();
    let renames: Vec<(String, String)> = events
        .iter()
        .filter_map(|e| match e {
            ServerEvent::NickChanged { old, new, .. } => Some((old.clone(), new.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        renames,
        [
            ("ana".to_owned(), "Ana2".to_owned()),
            ("Ana2".to_owned(), "ANA2".to_owned())
        ]
    );
    assert_eq!(hub.phase(again), Phase::Registered);
}

// ---- labels -------------------------------------------------------------------

/// PROTOCOL.md "Labels": every line that answers a labeled request carries
/// its label, errors included; deliveries to others never do.
#[test]
fn labels() {
    let mut hub = Hub::new(&ServerConfig {
        password: Some(Password::from("pw")),
        max_line_bytes: 40,
        ..base()
    });
    let bob = hub.join("bob");
    let ana = connect(&mut hub);
    hub.send(
        ana,
        format!("@p1 /pass pw\n@n1 a:b\n@t1 {}\n@n2 ana\n", "x".repeat(41)),
    );
    assert_eq!(
        hub.lines(ana),
        [
            labeled("p1", PASS),
            labeled("n1", &error(ErrorCode::InvalidNick, None, None)),
            labeled(
                "t1",
                &error(
                    ErrorCode::TooLong,
                    None,
                    Some("over 40 bytes; line skipped")
                )
            ),
            labeled("n2", &welcome("ana")),
            labeled("n2", &users(&["ana", "bob"])),
        ]
    );
    assert_eq!(hub.lines(bob), [join("ana")], "a delivery: no label");

    hub.send(
        ana,
        "@1 /ping x\n@2 /list\n@3 bob:oi\n@4 :hello\n@5 zz:oi\n@6 /bogus\n",
    );
    assert_eq!(
        hub.lines(ana),
        [
            labeled("1", "PONG :x"),
            labeled("2", &users(&["ana", "bob"])),
            labeled("3", &sent("bob")),
            labeled("5", &error(ErrorCode::NoSuchUser, Some("zz"), None)),
            labeled("6", &error(ErrorCode::UnknownCommand, None, None)),
        ]
    );
    assert_eq!(hub.lines(bob), ["PRIVATE ana :oi", "PUBLIC ana :hello"]);
    hub.send(ana, "@h /help\n");
    let help: Vec<String> = HELP_LINES
        .iter()
        .map(|l| labeled("h", &format!("HELP :{l}")))
        .collect();
    assert_eq!(hub.lines(ana), help);
    hub.send(ana, "@n /nick ana2\n@p /presence off\n@q /presence on\n");
    assert_eq!(
        hub.lines(ana),
        [
            labeled("n", &nick("ana", "ana2")),
            labeled("p", PRESENCE_OFF),
            labeled("q", PRESENCE_ON),
        ]
    );
    assert_eq!(hub.lines(bob), [nick("ana", "ana2")]);

    // Binary messages and files: the answers labeled, FILEACK (sent on its
    // own) not.
    hub.send(
        ana,
        "@b /bytes bob 2\nhi@f /file bob 3 :x\n@c /chunk 1 3\nabc@e /fileend 1\n",
    );
    assert_eq!(
        hub.lines(ana),
        [
            labeled("b", &sent("bob")),
            labeled("f", &file_ok(1)),
            "FILEACK 1 3".to_owned(),
            labeled("e", &file_done(1)),
        ]
    );
    assert_eq!(
        hub.lines(bob),
        [
            "BYTES ana2 2 private",
            "hi",
            "FILE ana2 1 3 private :x",
            "CHUNK 1 3",
            "abc",
            "FILEEND 1"
        ]
    );
    hub.send(ana, "@s /chunk 7 1\nx@t /fileabort 7\n");
    assert_eq!(
        hub.lines(ana),
        [
            labeled("s", &format!("FILESTOP 7 :{NO_TRANSFER}")),
            labeled("t", &format!("FILESTOP 7 :{NO_TRANSFER}")),
        ]
    );

    // The label does not count against the line limit (40 bytes here).
    let long = format!("@{} :{}\n", "L".repeat(MAX_LABEL_BYTES), "x".repeat(39));
    hub.send(ana, &long);
    assert!(hub.lines(ana).is_empty());
    assert_eq!(hub.lines(bob), [format!("PUBLIC ana2 :{}", "x".repeat(39))]);
    // Errors the line's bytes cause carry its label too, when it can be
    // read: a line over the limit by less than a label's room, or one that
    // is not UTF-8.
    hub.send(ana, format!("@big :{}\n", "x".repeat(40)));
    hub.send(ana, b"@bad :\xff\n");
    assert_eq!(
        hub.lines(ana),
        [
            labeled(
                "big",
                &error(
                    ErrorCode::TooLong,
                    None,
                    Some("over 40 bytes; line skipped")
                )
            ),
            labeled(
                "bad",
                &error(ErrorCode::InvalidText, None, Some("not UTF-8"))
            ),
        ]
    );
    // Past the framing's limit (the line limit plus a label's room) the
    // label is not kept: that error cannot carry it.
    hub.send(ana, format!("@t2 :{}\n", "x".repeat(100)));
    assert_eq!(
        hub.lines(ana),
        [error(
            ErrorCode::TooLong,
            None,
            Some("over 40 bytes; line skipped")
        )]
    );
    // A malformed label is no label: the line is refused, unlabeled (`@x`,
    // with no space, is read as a line, and is no command).
    let too_long_label = "L".repeat(MAX_LABEL_BYTES + 1);
    hub.send(
        ana,
        format!("@ /ping\n@a!b /ping\n@{too_long_label} /ping\n@x\n"),
    );
    assert_eq!(
        hub.lines(ana),
        vec![error(ErrorCode::UnknownCommand, None, None); 4]
    );
}

// ---- files and binary messages ------------------------------------------------

#[test]
fn binary_messages() {
    let mut hub = Hub::new(&ServerConfig {
        max_payload_bytes: 200,
        ..base()
    });
    let ana = hub.join("ana");
    let bob = hub.join("bob");
    let carol = hub.join("carol");
    hub.lines(ana);
    hub.lines(bob);
    // Any bytes, LF and NUL included; the LF typed after them is an empty
    // line.
    hub.send(ana, "/bytes bob 5\nol\n\0!\n");
    assert_eq!(hub.lines(ana), [sent("bob")]);
    let items = hub.items(bob);
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].line, "BYTES ana 5 private");
    assert_eq!(items[0].payload.as_deref(), Some(&b"ol\n\0!"[..]));
    assert!(hub.lines(carol).is_empty());
    // To everyone else.
    hub.send(ana, "/bytes * 3\nxyz");
    assert_eq!(hub.lines(ana), [sent("*")]);
    assert_eq!(hub.lines(bob), ["BYTES ana 3", "xyz"]);
    assert_eq!(hub.lines(carol), ["BYTES ana 3", "xyz"]);
    // To oneself, and of 0 bytes.
    hub.send(ana, "/bytes ana 2\nhi/bytes bob 0\n");
    assert_eq!(
        hub.lines(ana),
        [
            "BYTES ana 2 private".to_owned(),
            "hi".to_owned(),
            sent("ana"),
            sent("bob")
        ]
    );
    assert_eq!(hub.lines(bob), ["BYTES ana 0 private", ""]);
    // Refused: the payload is skipped and the connection goes on.
    hub.send(
        ana,
        format!("/bytes bob 201\n{}/bytes zé 3\nabc/ping\n", "q".repeat(201)),
    );
    assert_eq!(
        hub.lines(ana),
        [
            error(
                ErrorCode::TooLong,
                None,
                Some("binary message of 201 bytes, over the limit of 200 bytes; its bytes are skipped")
            ),
            error(ErrorCode::NoSuchUser, Some("zé"), None),
            "PONG".to_owned()
        ]
    );
    assert!(hub.lines(bob).is_empty());
    hub.send(ana, "/bytes bob x\n/bytes bob 1 2\n/bytes\n");
    assert_eq!(
        hub.lines(ana),
        vec![error(ErrorCode::UnknownCommand, None, None); 3]
    );
}

/// PROTOCOL.md "Files", the example: `FILEOK`, `FILEACK` per piece,
/// `FILEDONE`; receivers `FILE`, `CHUNK`s, `FILEEND`.
#[test]
fn a_file_to_one_and_to_everyone() {
    let mut hub = Hub::new(&base());
    let ana = hub.join("ana");
    let bob = hub.join("bob");
    let carol = connect(&mut hub);
    hub.send(carol, "/binary on\n/presence off\ncarol\n");
    hub.lines(carol);
    hub.lines(ana);
    hub.lines(bob);

    hub.send(ana, "/file bob 11 :notas.txt\n");
    assert_eq!(hub.lines(ana), [file_ok(1)]);
    assert_eq!(hub.lines(bob), ["FILE ana 1 11 private :notas.txt"]);
    hub.send(ana, "/chunk 1 6\nprimei\n/chunk 1 5\nra!!\n\n");
    assert_eq!(hub.lines(ana), ["FILEACK 1 6", "FILEACK 1 11"]);
    hub.send(ana, "/fileend 1\n");
    assert_eq!(hub.lines(ana), [file_done(1)]);
    assert_eq!(
        hub.lines(bob),
        ["CHUNK 1 6", "primei", "CHUNK 1 5", "ra!!\n", "FILEEND 1"]
    );
    assert!(hub.lines(carol).is_empty());

    // To everyone online when FILEOK is sent (presence off or not); a
    // newcomer gets none of it.
    hub.send(ana, "/file * 4 :todos.txt\n");
    assert_eq!(hub.lines(ana), [file_ok(2)]);
    let dave = hub.join("dave");
    assert_eq!(hub.lines(ana), [join("dave")]);
    hub.send(ana, "/chunk 2 4\nabcd/fileend 2\n");
    assert_eq!(hub.lines(ana), ["FILEACK 2 4".to_owned(), file_done(2)]);
    for c in [bob, carol] {
        let mut lines = hub.lines(c);
        lines.retain(|l| !l.starts_with("JOIN "));
        assert_eq!(
            lines,
            ["FILE ana 2 4 :todos.txt", "CHUNK 2 4", "abcd", "FILEEND 2"]
        );
    }
    assert!(hub.lines(dave).is_empty());

    // To oneself: delivered like any other, after the answers to the line
    // or payload that sent it.
    hub.send(ana, "/file ana 3 :eu.txt\n/chunk 3 3\nxyz/fileend 3\n");
    assert_eq!(
        hub.lines(ana),
        [
            file_ok(3),
            "FILE ana 3 3 private :eu.txt".to_owned(),
            "FILEACK 3 3".to_owned(),
            "CHUNK 3 3".to_owned(),
            "xyz".to_owned(),
            file_done(3),
            "FILEEND 3".to_owned(),
        ]
    );
}

/// Chunks are forwarded in pieces of at most an eighth of
/// `max_queue_bytes` (64 KiB at most), each acknowledged.
#[test]
fn chunks_are_forwarded_in_pieces() {
    let mut hub = Hub::new(&ServerConfig {
        max_queue_bytes: 8 * 1024,
        ..base()
    });
    let ana = hub.join("ana");
    let bob = hub.join("bob");
    hub.lines(ana);
    hub.send(ana, "/file bob 2600 :x\n");
    hub.lines(ana);
    hub.lines(bob);
    let data: Vec<u8> = (0..2500u32).map(|i| (i % 251) as u8).collect();
    hub.send(ana, b"/chunk 1 2500\n");
    hub.send(ana, &data);
    assert_eq!(
        hub.lines(ana),
        ["FILEACK 1 1024", "FILEACK 1 2048", "FILEACK 1 2500"]
    );
    let items = hub.items(bob);
    let heads: Vec<&str> = items.iter().map(|i| i.line.as_str()).collect();
    assert_eq!(heads, ["CHUNK 1 1024", "CHUNK 1 1024", "CHUNK 1 452"]);
    let got: Vec<u8> = items
        .iter()
        .flat_map(|i| i.payload.clone().unwrap_or_default())
        .collect();
    assert_eq!(got, data);
    // A small chunk goes out at its end.
    hub.send(ana, "/chunk 1 100\n");
    hub.send(ana, &data[..60]);
    assert!(hub.lines(bob).is_empty(), "a piece waits for its end");
    hub.send(ana, &data[60..100]);
    assert_eq!(hub.lines(ana), ["FILEACK 1 2600"]);
    assert_eq!(hub.items(bob).len(), 1);
}

#[test]
fn files_refused_stopped_and_failed() {
    let mut hub = Hub::new(&ServerConfig {
        max_file_bytes: 1000,
        ..base()
    });
    let ana = hub.join("ana");
    let bob = hub.join("bob");
    hub.lines(ana);
    // Refused: too big, nobody, empty name, a control character, malformed.
    hub.send(
        ana,
        "/file bob 1001 :x\n/file zé 1 :x\n/file bob 1 :\n/file bob 1 : \n/file bob 1 :a\x01b\n/file bob x :n\n/file bob 1\n",
    );
    assert_eq!(
        hub.lines(ana),
        [
            error(
                ErrorCode::TooLong,
                None,
                Some("file of 1001 bytes, over the limit of 1000 bytes")
            ),
            error(ErrorCode::NoSuchUser, Some("zé"), None),
            error(ErrorCode::Empty, None, None),
            error(ErrorCode::Empty, None, None),
            error(ErrorCode::InvalidText, None, None),
            error(ErrorCode::UnknownCommand, None, None),
            error(ErrorCode::Empty, None, None),
        ]
    );
    // No open transfer: FILESTOP, the bytes skipped.
    hub.send(ana, "/chunk 9 3\nabc/fileend 9\n/fileabort 9\n/ping\n");
    let stop9 = format!("FILESTOP 9 :{NO_TRANSFER}");
    assert_eq!(
        hub.lines(ana),
        [stop9.clone(), stop9.clone(), stop9, "PONG".to_owned()]
    );
    assert!(hub.lines(bob).is_empty());

    // More bytes than announced: refused before they are forwarded.
    hub.send(ana, "/file bob 5 :x\n/chunk 1 3\nabc/chunk 1 3\ndef/ping\n");
    assert_eq!(
        hub.lines(ana),
        [
            file_ok(1),
            "FILEACK 1 3".to_owned(),
            "FILESTOP 1 :more bytes than announced".to_owned(),
            "PONG".to_owned()
        ]
    );
    assert_eq!(
        hub.lines(bob),
        [
            "FILE ana 1 5 private :x",
            "CHUNK 1 3",
            "abc",
            "FILEFAIL 1 :o arquivo passou do tamanho anunciado (more bytes than announced)"
        ]
    );
    // Fewer.
    hub.send(ana, "/file bob 5 :x\n/chunk 2 3\nabc/fileend 2\n");
    let short = "o arquivo terminou antes do tamanho anunciado (3 of 5 bytes)";
    assert_eq!(
        hub.lines(ana),
        [
            file_ok(2),
            "FILEACK 2 3".to_owned(),
            format!("FILESTOP 2 :{short}")
        ]
    );
    assert_eq!(hub.lines(bob)[3..], [format!("FILEFAIL 2 :{short}")]);
    // Given up.
    hub.send(ana, "/file bob 5 :x\n/fileabort 3\n");
    assert_eq!(
        hub.lines(ana),
        [file_ok(3), "FILESTOP 3 :cancelled".to_owned()]
    );
    assert_eq!(
        hub.lines(bob),
        [
            "FILE ana 3 5 private :x",
            "FILEFAIL 3 :o remetente desistiu (cancelled by the sender)"
        ]
    );
    // At most 16 open at once.
    for _ in 0..MAX_OPEN_FILES {
        hub.send(ana, "/file bob 1 :x\n");
    }
    assert_eq!(hub.lines(ana).len(), MAX_OPEN_FILES);
    hub.send(ana, "/file bob 1 :x\n");
    assert_eq!(
        hub.lines(ana),
        [error(
            ErrorCode::ServerFull,
            None,
            Some("16 file transfers open already")
        )]
    );
}

/// PROTOCOL.md "Files": a sender that leaves mid-file (even mid-chunk):
/// every receiver gets `FILEFAIL` before its `LEFT`.
#[test]
fn sender_leaving_mid_file() {
    let mut hub = Hub::new(&base());
    let ana = hub.join("ana");
    let bob = hub.join("bob");
    let carol = hub.join("carol");
    hub.lines(ana);
    hub.lines(bob);
    hub.send(ana, "/file * 10 :x\n/file bob 10 :y\n/chunk 1 10\nabc");
    hub.lines(bob);
    hub.lines(carol);
    hub.close_input(ana);
    let fail = |id: u64| format!("FILEFAIL {id} :o remetente saiu (the sender left)");
    assert_eq!(hub.lines(bob), [fail(1), fail(2), left("ana")]);
    assert_eq!(hub.lines(carol), [fail(1), left("ana")]);
}

/// The one receiver of a private file leaves: the frame that finds nobody
/// marks the transfer, and the sender's chunk after it gets `FILESTOP`.
#[test]
fn receiver_leaving_a_private_file() {
    let mut hub = Hub::new(&base());
    let ana = hub.join("ana");
    let bob = hub.join("bob");
    hub.send(ana, "/file bob 10 :x\n");
    hub.lines(ana);
    hub.send(bob, "quit\n");
    assert_eq!(hub.lines(ana), [left("bob")]);
    hub.send(ana, "/chunk 1 2\nab/chunk 1 2\ncd/chunk 1 2\nef");
    assert_eq!(
        hub.lines(ana),
        [
            "FILEACK 1 2",
            "FILESTOP 1 :o destinatário saiu (the receiver left)",
            "FILESTOP 1 :nenhuma transferência aberta (no open transfer)"
        ]
    );
}

/// PROTOCOL.md "Flow control": the sender is not read while its file's
/// frames not yet read by a receiver pass half of `max_queue_bytes`, and is
/// read again, through the resume function, when they fall to a quarter.
#[test]
fn flow_control_pauses_and_resumes_the_sender() {
    let mut hub = Hub::new(&ServerConfig {
        max_queue_bytes: 8 * 1024, // high-water 4096, low-water 2048, pieces of 1024
        ..base()
    });
    let ana = hub.join("ana");
    let bob = hub.join("bob");
    let carol = hub.join("carol");
    hub.lines(ana);
    hub.lines(bob);
    hub.lines(carol);
    hub.send(ana, "/file * 20000 :big\n");
    assert_eq!(hub.lines(ana), [file_ok(1)]);
    hub.lines(bob);
    hub.lines(carol);
    assert_eq!(
        hub.session(ana).read_allowance(),
        Some(1024),
        "a piece per read"
    );
    let data = vec![b'd'; 20_000];
    hub.send(ana, b"/chunk 1 20000\n");
    hub.send(ana, &data);
    // Each piece is a 1038-byte frame (`CHUNK 1 1024`, the bytes, LF) for
    // each of the two receivers, who read nothing: after two pieces the
    // count (4152) is over 4096, and ana is not read any more.
    let frame = 1038;
    let acks = hub.lines(ana);
    assert_eq!(acks, ["FILEACK 1 1024", "FILEACK 1 2048"]);
    assert!(hub.is_paused(ana));
    assert_eq!(hub.session(ana).read_allowance(), None);
    assert_eq!(hub.unread_input(ana), 20_000 - 2048);
    assert_eq!(hub.resumes(ana), 0);
    // More input does not change that.
    hub.send(ana, b"");
    assert!(hub.is_paused(ana));
    // Other clients are read as usual meanwhile.
    hub.send(carol, ":still here\n");
    assert_eq!(hub.lines(ana), ["PUBLIC carol :still here"]);
    // carol reads everything: bob's 2 frames (2076) are still over the
    // low-water mark (2048): no resume.
    hub.take(carol);
    assert_eq!(hub.resumes(ana), 0);
    assert!(!hub.pump(), "ana stays paused");
    // bob reads one frame: 1038 <= 2048, the resume function is called
    // and ana is read again, until the mark is passed again.
    assert_eq!(hub.take_bytes(bob, frame).len(), frame);
    assert_eq!(hub.resumes(ana), 1);
    assert!(hub.pump());
    assert_eq!(hub.lines(ana), ["FILEACK 1 3072", "FILEACK 1 4096"]);
    assert!(hub.is_paused(ana));
    // Reading everything as it comes lets the whole file through.
    let mut acked = 0;
    for _ in 0..100 {
        hub.take(bob);
        hub.take(carol);
        hub.pump();
        if let Some(last) = hub.lines(ana).last() {
            acked = last
                .strip_prefix("FILEACK 1 ")
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(acked);
        }
        if hub.unread_input(ana) == 0 {
            break;
        }
    }
    assert_eq!(acked, 20_000);
    hub.send(ana, "/fileend 1\n");
    assert_eq!(hub.lines(ana), [file_done(1)]);
}

/// A receiver that leaves gives its share back when its queue goes (here:
/// when what was queued for it is taken).
#[test]
fn flow_control_a_receiver_leaving_releases_the_sender() {
    let mut hub = Hub::new(&ServerConfig {
        max_queue_bytes: 8 * 1024,
        ..base()
    });
    let ana = hub.join("ana");
    let bob = hub.join("bob");
    hub.lines(ana);
    hub.send(ana, "/file bob 10000 :big\n");
    let chunk = [b"/chunk 1 1000\n".as_slice(), &[b'z'; 1000]].concat();
    hub.send(ana, chunk.repeat(10));
    assert!(hub.is_paused(ana));
    hub.close_input(bob);
    assert_eq!(hub.phase(bob), Phase::Closed);
    assert!(hub.is_paused(ana));
    hub.take(bob);
    assert_eq!(hub.resumes(ana), 1);
    hub.pump();
    assert_eq!(hub.unread_input(ana), 0);
    let lines = hub.lines(ana);
    assert!(lines.contains(&left("bob")), "{lines:?}");
    assert!(
        lines.contains(&"FILESTOP 1 :o destinatário saiu (the receiver left)".to_owned()),
        "{lines:?}"
    );
}

// ---- binary capability and slow receivers (PROTOCOL.md) --------------------

/// A client that did not say `/binary on` (a person at `nc`) gets one
/// readable line for a file or a binary message, never its bytes; the
/// sender of a private file to it is stopped at its next chunk.
#[test]
fn clients_without_binary_get_lines_instead_of_bytes() {
    let mut hub = Hub::new(&base());
    let ana = hub.join("ana");
    let bob = hub.join("bob");
    let nc = connect(&mut hub);
    hub.send(nc, "/binary off\n/binary on\n/binary off\nzé\n");
    let lines = hub.lines(nc);
    assert_eq!(
        &lines[..3],
        [
            "BINARY off :arquivos e bytes chegam como avisos (files and bytes come as notices)",
            "BINARY on :quadros binários aceitos (binary frames accepted)",
            "BINARY off :arquivos e bytes chegam como avisos (files and bytes come as notices)",
        ]
    );
    assert!(lines[3].starts_with("WELCOME zé "), "{lines:?}");
    hub.lines(ana);
    hub.lines(bob);

    // A file to everyone: bob gets its frames, zé one line.
    hub.send(
        ana,
        "/file * 5 :foto.png\n/chunk 1 5\n\x00\x01\x1b[J/fileend 1\n",
    );
    assert_eq!(
        hub.lines(ana),
        [file_ok(1), "FILEACK 1 5".to_owned(), file_done(1)]
    );
    assert_eq!(
        hub.lines(nc),
        [
            "FILEOFFER ana 1 5 :ana oferece um arquivo de 5 bytes; receba-o com um cliente papo \
          (offers a file; needs a papo client): foto.png"
        ]
    );
    let got = hub.take(bob);
    assert!(got.starts_with(b"FILE ana 1 5 :foto.png\nCHUNK 1 5\n\x00\x01\x1b[J\nFILEEND 1\n"));

    // A binary message to everyone and to zé alone.
    hub.send(ana, "/bytes * 3\n\x07\x07\x07/bytes zé 2\n\x1b\x1b");
    assert_eq!(hub.lines(ana), [sent("*"), sent("zé")]);
    assert_eq!(
        hub.lines(nc),
        [
            "BYTESNOTE ana 3 :ana enviou uma mensagem binária de 3 bytes; leia-a com um cliente \
             papo (sent a binary message; needs a papo client)",
            "BYTESNOTE ana 2 private :ana enviou uma mensagem binária de 2 bytes; leia-a com um \
             cliente papo (sent a binary message; needs a papo client)",
        ]
    );
    assert_eq!(hub.take(bob), b"BYTES ana 3\n\x07\x07\x07\n");

    // A private file to zé: one line; ana's next chunk is stopped.
    hub.send(ana, "/file zé 4 :x.bin\n");
    assert_eq!(hub.lines(ana), [file_ok(2)]);
    assert_eq!(
        hub.lines(nc),
        ["FILEOFFER ana 2 4 private :ana oferece um arquivo de 4 bytes; receba-o com um cliente \
          papo (offers a file; needs a papo client): x.bin"]
    );
    hub.send(ana, "/chunk 2 4\nabcd");
    assert_eq!(
        hub.lines(ana),
        [
            "FILESTOP 2 :o destinatário não aceita arquivos: precisa de um cliente papo \
          (the receiver does not accept binary frames)"
        ]
    );
    assert!(hub.lines(nc).is_empty());
    // Chat is unchanged, and /binary on mid-chat gives frames from then on.
    hub.send(nc, "/binary on\n:oi\n");
    assert_eq!(
        hub.lines(nc),
        ["BINARY on :quadros binários aceitos (binary frames accepted)"]
    );
    assert_eq!(hub.lines(ana), ["PUBLIC zé :oi"]);
    hub.send(ana, "/bytes zé 1\nz");
    assert_eq!(hub.take(nc), b"BYTES ana 1 private\nz\n");
}

/// PROTOCOL.md "Slow receivers": a receiver that holds a public file back
/// for `SLOW_RECEIVER_PATIENCE` while another waits is taken off it
/// (`FILEFAIL`), the others go on; with simulated time.
#[test]
fn a_receiver_far_behind_is_taken_off_a_public_file() {
    let clock = Clock::manual();
    let mut hub = Hub::new(&ServerConfig {
        max_queue_bytes: 8 * 1024, // high-water 4096, low-water 2048, pieces of 1024
        clock: clock.clone(),
        ..base()
    });
    let ana = hub.join("ana");
    let bob = hub.join("bob");
    let carol = hub.join("carol");
    hub.lines(ana);
    hub.lines(bob);
    hub.send(ana, "/file * 20000 :big\n");
    assert_eq!(hub.lines(ana), [file_ok(1)]);
    hub.lines(bob);
    hub.lines(carol);
    hub.send(ana, b"/chunk 1 20000\n");
    hub.send(ana, vec![b'd'; 20_000]);
    // carol reads nothing; bob reads all there is: ana is held by carol.
    for _ in 0..5 {
        hub.take(bob);
        hub.pump();
    }
    assert!(hub.is_paused(ana));
    assert!(hub.lines(ana).len() >= 2);
    // Short of the patience, nothing changes when the timers tick.
    clock.advance(SLOW_RECEIVER_PATIENCE - Duration::from_secs(1));
    hub.advance(Duration::from_secs(1));
    hub.pump();
    assert!(hub.is_paused(ana));
    assert!(hub.unread_output(carol) > 0);
    // Past it, carol is taken off at the next tick; ana goes on.
    clock.advance(Duration::from_secs(2));
    hub.advance(Duration::from_secs(1));
    let mut acks = Vec::new();
    for _ in 0..100 {
        hub.pump();
        hub.take(bob);
        acks.extend(hub.lines(ana));
        if acks.iter().any(|l| l == "FILEACK 1 20000") {
            break;
        }
    }
    assert!(acks.iter().any(|l| l == "FILEACK 1 20000"), "{acks:?}");
    hub.send(ana, "/fileend 1\n:fim\n");
    assert_eq!(hub.lines(ana), [file_done(1)]);
    let bob_got = hub.take(bob);
    assert!(
        bob_got.ends_with(b"FILEEND 1\nPUBLIC ana :fim\n"),
        "{:?}",
        String::from_utf8_lossy(&bob_got[bob_got.len().saturating_sub(60)..])
    );
    // carol gets what was queued for her, then FILEFAIL, then the chat.
    let carol_got = String::from_utf8_lossy(&hub.take(carol)).into_owned();
    let tail: Vec<&str> = carol_got.lines().rev().take(2).collect();
    assert_eq!(
        tail,
        ["PUBLIC ana :fim", &format!("FILEFAIL 1 :{TOO_SLOW}")[..],]
    );
    assert!(!carol_got.contains("FILEEND"));
    assert_eq!(hub.phase(carol), Phase::Registered);
}

/// "Slow receivers": a receiver is far behind only the others still there;
/// the last one left is paced, never taken off.
#[test]
fn the_last_receiver_of_a_public_file_is_never_taken_off() {
    let clock = Clock::manual();
    let mut hub = Hub::new(&ServerConfig {
        max_queue_bytes: 8 * 1024,
        clock: clock.clone(),
        ..base()
    });
    let ana = hub.join("ana");
    let bob = hub.join("bob");
    let carol = hub.join("carol");
    hub.lines(ana);
    hub.lines(bob);
    hub.send(ana, "/file * 20000 :big\n");
    assert_eq!(hub.lines(ana), [file_ok(1)]);
    hub.lines(bob);
    hub.lines(carol);
    hub.send(ana, b"/chunk 1 20000\n");
    hub.send(ana, vec![b'd'; 20_000]);
    for _ in 0..5 {
        hub.take(bob);
        hub.pump();
    }
    assert!(hub.is_paused(ana));
    // bob leaves; carol reads everything once, so ana goes on, and only
    // carol is sent what follows.
    hub.send(bob, "quit\n");
    hub.take(carol);
    hub.pump();
    assert!(hub.is_paused(ana));
    hub.lines(ana);
    clock.advance(SLOW_RECEIVER_PATIENCE * 3);
    hub.advance(Duration::from_secs(1));
    hub.pump();
    assert!(hub.is_paused(ana), "paced by carol, not taken off");
    let got = String::from_utf8_lossy(&hub.take(carol)).into_owned();
    assert!(!got.contains("FILEFAIL"), "{got}");
    assert_eq!(hub.phase(carol), Phase::Registered);
}

// ---- rooms, ids and history (PROTOCOL.md "Rooms", "History") ---------------

#[test]
fn rooms_tags_and_history_in_memory() {
    let mut hub = Hub::new(&ServerConfig {
        oper_password: Some(Password::from("chefe")),
        ..ServerConfig::default()
    });
    let ana = hub.join("ana");
    let bob = hub.join("bob");
    let carla = hub.join("carla");
    for c in [ana, bob, carla] {
        hub.lines(c);
    }
    hub.send(ana, "/join #s\n");
    hub.send(bob, "/tags on\n/join #s\n");
    assert_eq!(
        hub.lines(ana),
        [
            "ROOMJOIN #s ana :ana entrou na sala #s (joined the room)",
            "ROOMJOIN #s bob :bob entrou na sala #s (joined the room)"
        ]
    );
    hub.lines(bob);
    hub.send(ana, "#s:oi\n");
    hub.send(carla, "#s:eu?\n");
    assert_eq!(hub.lines(ana), [sent("#s")]);
    let got = hub.lines(bob);
    assert_eq!(got.len(), 1);
    assert!(got[0].starts_with("ROOM #s ana id="), "{got:?}");
    assert!(got[0].ends_with(" :oi"), "{got:?}");
    assert_eq!(
        hub.lines(carla),
        [format!("ERROR 21 #s :{}", ErrorCode::NotInRoom.text())]
    );
    hub.send(ana, "@h /history #s\n");
    let h = hub.lines(ana);
    assert_eq!(h.len(), 2, "{h:?}");
    assert!(h[0].starts_with("@h HISTORY #s room ana "), "{h:?}");
    assert!(h[1].starts_with("@h HISTEND #s 1 :"), "{h:?}");
    // A server operator puts bob off the server.
    hub.send(carla, "/oper chefe\n/kick bob\n");
    assert_eq!(hub.lines(carla)[2], left("bob"));
    assert_eq!(hub.phase(bob), Phase::Closed);
    hub.send(ana, "/who #s\n");
    assert_eq!(
        hub.lines(ana),
        [left("bob"), "MEMBERS #s 1 :@ana".to_owned()]
    );
}

// ---- resuming (PROTOCOL.md "Resuming a connection") -------------------------

/// `/resume on` at the prompt gives a token after the registration's lines
/// (and at once, when said later); `/resume off` says so; nc users who
/// never asked get no TOKEN; `/resume nick token` is a prompt line only,
/// and a refused one counts as a nickname attempt (the in-memory hub has no
/// sockets to move, so it refuses every token: the loopback tests cover a
/// resume that works).
#[test]
fn resume_capability_token_and_refusals() {
    let mut hub = Hub::new(&ServerConfig {
        max_nick_attempts: 2,
        ..base()
    });
    let ana = connect(&mut hub);
    hub.send(ana, "/resume on\n@1 ana\n");
    let lines = hub.lines(ana);
    assert!(lines[0].starts_with("RESUME on :"), "{lines:?}");
    assert!(lines[1].starts_with("@1 WELCOME ana "), "{lines:?}");
    assert!(lines[2].starts_with("@1 USERS 1 "), "{lines:?}");
    assert!(lines[3].starts_with("@1 TOKEN "), "{lines:?}");
    assert_eq!(lines.len(), 4, "{lines:?}");
    hub.send(ana, "/resume off\n/resume ana x\n");
    let lines = hub.lines(ana);
    assert!(lines[0].starts_with("RESUME off :"), "{lines:?}");
    assert!(lines[1].starts_with("ERROR 10 "), "{lines:?}");

    let bob = connect(&mut hub);
    hub.send(bob, "bob\n/resume on\n");
    let lines = hub.lines(bob);
    assert!(lines.iter().any(|l| l.starts_with("TOKEN ")), "{lines:?}");
    let nc = connect(&mut hub);
    hub.send(nc, "carla\n");
    assert!(!hub.lines(nc).iter().any(|l| l.contains("TOKEN")));

    let thief = connect(&mut hub);
    hub.send(thief, "/resume ana 00000000000000000000000000000000 3\n");
    let lines = hub.lines(thief);
    assert!(lines[0].starts_with("ERROR 24 ana :"), "{lines:?}");
    hub.send(thief, "/resume ana 00000000000000000000000000000000\n");
    let lines = hub.lines(thief);
    assert!(lines[0].starts_with("ERROR 24 ana :"), "{lines:?}");
    assert_eq!(hub.phase(thief), Phase::Closed, "the second refusal closes");
}
