//! Names nobody can fake (issue 14), over a real loopback socket: each fake
//! `ana` tried from outside is sent, byte for byte, by a raw connection
//! while the real `ana` is online, and the server's answer is checked:
//! `ERROR 06 *` (invalid: an invisible, reordering, unassigned character,
//! a lone combining mark, a reserved word in disguise) or `ERROR 01 <name>`
//! (taken: a look-alike of `ana`, same `papo::protocol::nick_key`). Names
//! in other scripts still register, and message text refuses the bidi
//! controls of "Trojan Source" (`ERROR 08`) but carries any script.

mod common_server;

use common_server::{start, Raw};
use papo::ServerConfig;

/// The server's line for a refused nickname (06).
fn is_invalid(l: &str) -> bool {
    l.starts_with("ERROR 06 * :")
}

/// The server's line for a taken nickname (01) named `nick`.
fn is_taken(l: &str, nick: &str) -> bool {
    l.starts_with(&format!("ERROR 01 {nick} :"))
}

#[test]
fn fake_names_are_refused_or_taken_and_real_ones_register() {
    let server = start(ServerConfig {
        io_threads: 1,
        // Every fake is tried on one connection.
        max_nick_attempts: 100,
        ..ServerConfig::default()
    });
    let addr = server.local_addr();
    let (mut ana, _) = Raw::join(addr, "ana");
    let mut fake = Raw::connect_hello(addr);

    // Issue 14's list, in its order: refused (06) ...
    let invalid = [
        ("zero-width space after", "ana\u{200B}"),
        ("word joiner after", "ana\u{2060}"),
        ("Mongolian vowel separator after", "ana\u{180E}"),
        ("Hangul filler after", "ana\u{3164}"),
        ("soft hyphen inside", "a\u{AD}na"),
        ("byte order mark before", "\u{FEFF}ana"),
        ("right-to-left override before", "\u{202E}ana"),
        ("lone combining mark", "\u{301}"),
        ("combining mark before", "\u{301}ana"),
        ("quit + zero-width space", "quit\u{200B}"),
        ("unassigned code point", "ana\u{378}"),
    ];
    for (what, nick) in invalid {
        fake.send(nick);
        let l = fake.line();
        assert!(is_invalid(&l), "{what} ({nick:?}): {l:?}");
    }
    // ... or taken (01): a Cyrillic а for the Latin a; fullwidth ａ, which
    // the PRECIS profile maps to a.
    for (what, nick) in [
        ("Cyrillic а for a", "\u{430}na"),
        ("fullwidth ａ", "\u{FF41}na"),
        ("all fullwidth", "\u{FF41}\u{FF4E}\u{FF41}"),
    ] {
        fake.send(nick);
        let l = fake.line();
        assert!(is_taken(&l, nick), "{what} ({nick:?}): {l:?}");
    }
    // Nobody registered: ana heard of no one.
    ana.sync_quiet();
    assert_eq!(server.connection_count(), 2);

    // A different name registers on the same connection.
    fake.send("ama");
    fake.expect("WELCOME ama ");
    fake.expect("USERS 2 :ama ana");
    ana.expect("JOIN ama ");

    // Names in other scripts register, each announced to ana as written.
    let mut others = Vec::new();
    for nick in ["José", "Ærøskøbing", "山田", "Ольга"] {
        let (c, _) = Raw::join(addr, nick);
        let l = ana.line();
        assert!(l.starts_with(&format!("JOIN {nick} :")), "{nick}: {l:?}");
        others.push(c);
    }

    let joins = fake.sync();
    assert_eq!(joins.len(), 4, "{joins:?}");
    assert!(joins.iter().all(|l| l.starts_with("JOIN ")), "{joins:?}");

    // Message text: any script goes through; a bidi override or isolate is
    // refused (08) and nobody receives it.
    fake.send(":مرحبا שלום 山田 Ольга");
    assert_eq!(ana.line(), "PUBLIC ama :مرحبا שלום 山田 Ольга");
    for text in [
        "ana:access \u{202E}gnp.exe",
        ":/* \u{2067}} if (admin) {\u{2069} */",
    ] {
        fake.send(text);
        let l = fake.line();
        assert!(l.starts_with("ERROR 08 "), "{text:?}: {l:?}");
    }
    ana.sync_quiet();
    for mut c in others {
        c.sync();
    }
}
