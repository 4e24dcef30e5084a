//! The hub's own promises: what it reports does not depend on how it reads
//! the input, and it catches a host-visible broken rule.

use papo::server::session::{Host, Phase};
use papo::ServerConfig;
use papo_testkit::{ConnId, Hub};

/// Everyone reads what waits for them, until nothing moves (a sender paused
/// by flow control is read again).
fn settle(hub: &mut Hub) {
    loop {
        for k in 0..hub.len() {
            hub.take(ConnId(k));
        }
        if !hub.pump() {
            return;
        }
    }
}

/// A conversation of three clients with files, binary messages, labels
/// and a departure mid-file; everyone reads everything after each step.
fn conversation(max_read: usize) -> Vec<Vec<u8>> {
    let mut hub = Hub::new(&ServerConfig {
        max_queue_bytes: 4096,
        ..ServerConfig::default()
    });
    hub.set_max_read(max_read);
    let ana = hub.connect();
    let bob = hub.connect();
    let carol = hub.connect();
    let steps: [(ConnId, &[u8]); 11] = [
        (ana, b"/binary on\n@1 ana\n"),
        (bob, b"/binary on\n/presence off\nbob\n"),
        (carol, b"/binary on\ncarol\n"),
        (ana, b"/file * 3000 :x\n/chunk 1 2000\n"),
        (ana, &[b'a'; 2000]),
        (bob, b"@b /bytes ana 3\nxyz/nick Bob\n:oi\n"),
        (ana, b"/chunk 1 1000\n"),
        (ana, &[b'b'; 1000]),
        (ana, b"/fileend 1\n/file carol 10 :y\n/chunk 2 4\nabcd"),
        (carol, b"/list\nana:hi\n"),
        (bob, b"quit\n"),
    ];
    for (c, bytes) in steps {
        hub.send(c, bytes);
        settle(&mut hub);
    }
    hub.close_input(ana);
    settle(&mut hub);
    (0..hub.len())
        .map(|k| hub.received(ConnId(k)).to_vec())
        .collect()
}

#[test]
fn reads_of_any_size_give_the_same_streams() {
    let whole = conversation(64 * 1024);
    let text = String::from_utf8_lossy(&whole[2]);
    assert!(text.contains("FILEEND 1\n"), "{text}");
    assert!(
        text.ends_with(
            "FILEFAIL 2 :o remetente saiu (the sender left)\nLEFT ana :ana saiu do chat (left)\n"
        ),
        "{text}"
    );
    for n in [1, 7, 100] {
        assert!(conversation(n) == whole, "reads of {n} bytes");
    }
}

#[test]
#[should_panic(expected = "which is not its nickname")]
fn a_line_from_someone_else_is_caught() {
    let mut hub = Hub::new(&ServerConfig::default());
    let ana = hub.join("ana");
    hub.join("bob");
    hub.with_session(ana, |_, cx| {
        cx.host
            .public("bob", "I am bob", papo::protocol::Tag::default())
    });
}

#[test]
#[should_panic(expected = "after its session closed")]
fn a_line_after_the_close_is_caught() {
    let mut hub = Hub::new(&ServerConfig::default());
    let ana = hub.join("ana");
    hub.send(ana, "quit\n");
    assert_eq!(hub.phase(ana), Phase::Closed);
    hub.with_session(ana, |_, cx| cx.host.reply().extend_from_slice(b"PONG\n"));
}
