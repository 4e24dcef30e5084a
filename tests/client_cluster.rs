//! The client and a cluster's server lines (PROTOCOL.md, "Clusters"):
//! `CLUSTER partitioned|healed`, `LOST <n>` and `RENAMED <old> <new>` become
//! events, `RENAMED` changes the client's own nickname (for later `NICK`
//! lines and a reconnection's `/resume`), and none of them is ever taken
//! for the answer to a request. Against a scripted peer on a real loopback
//! socket.

mod common_client;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use common_client::{scripted, WAIT};
use papo::client::ClusterState;
use papo::{Client, ClientConfig, ErrorCode, Event};

fn ev(c: &Client) -> Event {
    c.next_event(WAIT).unwrap()
}

fn no_more_events(c: &Client) {
    assert_eq!(
        c.next_event(Duration::from_millis(50)).unwrap_err().code(),
        ErrorCode::Timeout
    );
}

fn renamed(old: &str, new: &str) -> Event {
    Event::Renamed {
        old: old.into(),
        new: new.into(),
    }
}

#[test]
fn cluster_lines_become_events_and_renamed_changes_the_nick() {
    let (port, peer) = scripted(|mut p| {
        p.register(&["bob"]);
        p.send("CLUSTER partitioned :sem contato com os outros servidores (cut off)");
        p.send("LOST 3 :mensagens perdidas entre servidores (messages lost)");
        p.send("RENAMED ana ana_2 :apelido já era de outro servidor");
        p.send("CLUSTER healed :de volta ao chat inteiro (back in the whole chat)");
        // Unreadable variants are skipped like any other unreadable line.
        p.send("CLUSTER sideways :?");
        p.send("LOST many :?");
        p.send("PUBLIC bob :depois");
        // Another user's NICK line about the old nickname is not this
        // client's any more.
        p.send("NICK ana ana3 :someone else now");
        p.line()
    });
    let c = Client::connect("127.0.0.1", port, "ana").unwrap();
    assert_eq!(c.nick(), "ana");
    assert_eq!(
        ev(&c),
        Event::Cluster {
            state: ClusterState::Partitioned
        }
    );
    assert_eq!(ev(&c), Event::Lost { count: 3 });
    assert_eq!(ev(&c), renamed("ana", "ana_2"));
    // Changed before the event was queued.
    assert_eq!(c.nick(), "ana_2");
    assert_eq!(
        ev(&c),
        Event::Cluster {
            state: ClusterState::Healed
        }
    );
    assert_eq!(
        ev(&c),
        Event::Public {
            from: "bob".into(),
            text: "depois".into(),
            id: 0,
            time: 0
        }
    );
    assert_eq!(
        ev(&c),
        Event::NickChanged {
            old: "ana".into(),
            new: "ana3".into()
        }
    );
    assert_eq!(c.nick(), "ana_2");
    no_more_events(&c);
    drop(c);
    assert_eq!(peer.join().unwrap().as_deref(), Some("quit"));
}

/// Without labels, answers are matched in order: cluster lines arriving
/// while requests wait must leave them waiting for their own answers, and a
/// `/nick` waiting when the server renames this client ends with the `NICK`
/// line that renames the new nickname.
#[test]
fn cluster_lines_are_never_answers_without_labels() {
    let (port, peer) = scripted(|mut p| {
        p.register(&["bob"]);
        let list = p.line().unwrap();
        p.send("CLUSTER partitioned :cut off");
        p.send("LOST 1 :lost");
        p.send("USERS 2 :ana bob");
        let nick = p.line().unwrap();
        p.send("RENAMED ana ana_2 :renamed by the server");
        p.send("CLUSTER healed :back");
        p.send("NICK ana_2 Ana9 :ana_2 agora se chama Ana9");
        let ping = p.line().unwrap();
        p.send("LOST 2 :lost");
        p.send("PONG :x");
        (list, nick, ping, p.line())
    });
    let c = Client::connect("127.0.0.1", port, "ana").unwrap();
    assert_eq!(c.users().unwrap(), ["ana", "bob"]);
    c.change_nick("Ana9").unwrap();
    assert_eq!(c.nick(), "Ana9");
    c.ping().unwrap();
    let expect = [
        Event::Cluster {
            state: ClusterState::Partitioned,
        },
        Event::Lost { count: 1 },
        renamed("ana", "ana_2"),
        Event::Cluster {
            state: ClusterState::Healed,
        },
        Event::NickChanged {
            old: "ana_2".into(),
            new: "Ana9".into(),
        },
        Event::Lost { count: 2 },
    ];
    for e in expect {
        assert_eq!(ev(&c), e);
    }
    no_more_events(&c);
    drop(c);
    let (list, nick, ping, last) = peer.join().unwrap();
    assert_eq!(list, "/list");
    assert_eq!(nick, "/nick Ana9");
    assert!(ping.starts_with("/ping"), "{ping}");
    assert_eq!(last.as_deref(), Some("quit"));
}

/// With labels, a cluster line carrying a waiting request's label (a
/// confused server) answers nothing: the request still gets its own answer.
#[test]
fn cluster_lines_with_a_label_answer_nothing() {
    let (port, peer) = scripted(|mut p| {
        p.send("HELLO papo/1 line=4096 nick=32 labels=1 :Bem-vindo ao papo!");
        let nick = p.line().expect("nickname");
        p.send(&format!("WELCOME {nick} :oi"));
        p.send(&format!("USERS 2 :{nick} bob"));
        let ping = p.line().unwrap();
        let label = ping.split(' ').next().unwrap().to_owned();
        p.send(&format!("{label} LOST 4 :lost"));
        p.send(&format!("{label} CLUSTER partitioned :cut off"));
        p.send(&format!("{label} RENAMED ana ana_2 :renamed"));
        p.send(&format!("{label} PONG :x"));
        let nick_line = p.line().unwrap();
        let label = nick_line.split(' ').next().unwrap().to_owned();
        p.send(&format!("{label} NICK ana_2 Ana5 :renamed"));
        (ping, nick_line, p.line())
    });
    let c = Arc::new(Client::connect("127.0.0.1", port, "ana").unwrap());
    c.ping().unwrap();
    assert_eq!(c.nick(), "ana_2");
    c.change_nick("Ana5").unwrap();
    assert_eq!(c.nick(), "Ana5");
    assert_eq!(ev(&c), Event::Lost { count: 4 });
    assert_eq!(
        ev(&c),
        Event::Cluster {
            state: ClusterState::Partitioned
        }
    );
    assert_eq!(ev(&c), renamed("ana", "ana_2"));
    assert_eq!(
        ev(&c),
        Event::NickChanged {
            old: "ana_2".into(),
            new: "Ana5".into()
        }
    );
    no_more_events(&c);
    drop(c);
    let (ping, nick_line, last) = peer.join().unwrap();
    assert!(ping.starts_with('@') && ping.contains("/ping"), "{ping}");
    assert!(nick_line.ends_with("/nick Ana5"), "{nick_line}");
    assert_eq!(last.as_deref(), Some("quit"));
}

/// Lines that come while registering: a `CLUSTER` line before `WELCOME`,
/// a `RENAMED` between `WELCOME` and `USERS`: their events come first, and
/// the client starts with the new nickname.
#[test]
fn cluster_lines_while_registering() {
    let (port, peer) = scripted(|mut p| {
        p.send(common_client::HELLO);
        let nick = p.line().expect("nickname");
        p.send("CLUSTER partitioned :cut off");
        p.send(&format!("WELCOME {nick} :oi"));
        p.send(&format!("RENAMED {nick} {nick}_2 :renamed"));
        p.send("LOST 7 :lost");
        p.send(&format!("USERS 2 :{nick}_2 bob"));
        p.line()
    });
    let c = Client::connect("127.0.0.1", port, "ana").unwrap();
    assert_eq!(c.nick(), "ana_2");
    assert_eq!(c.initial_users(), ["ana_2", "bob"]);
    assert_eq!(
        ev(&c),
        Event::Cluster {
            state: ClusterState::Partitioned
        }
    );
    assert_eq!(ev(&c), renamed("ana", "ana_2"));
    assert_eq!(ev(&c), Event::Lost { count: 7 });
    no_more_events(&c);
    drop(c);
    assert_eq!(peer.join().unwrap().as_deref(), Some("quit"));
}

/// After `RENAMED`, a reconnection presents the new nickname with its
/// resume token (PROTOCOL.md, "Resuming a connection").
#[test]
fn a_reconnection_presents_the_new_nickname() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let hello = "HELLO papo/1 line=4096 nick=32 resume=1 :Bem-vindo ao papo!\n";
        // First connection: register, hand out a token, rename, cut.
        let (s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        let mut w = s.try_clone().unwrap();
        let mut r = BufReader::new(s);
        w.write_all(hello.as_bytes()).unwrap();
        let mut first = Vec::new();
        loop {
            let mut l = String::new();
            r.read_line(&mut l).unwrap();
            let l = l.trim_end().to_owned();
            let done = !l.starts_with('/');
            first.push(l);
            if done {
                break;
            }
        }
        w.write_all(
            b"WELCOME ana :oi\nUSERS 2 :ana bob\nTOKEN tok1 0 :keep it\n\
              RENAMED ana ana_2 :renamed\n",
        )
        .unwrap();
        // Cut once the client took the rename (it says so with a ping).
        let mut l = String::new();
        r.read_line(&mut l).unwrap();
        let ping = l.trim_end().to_owned();
        drop((w, r));
        // Second connection: the client presents its token.
        let (s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        let mut w = s.try_clone().unwrap();
        let mut r = BufReader::new(s);
        w.write_all(hello.as_bytes()).unwrap();
        let mut second = Vec::new();
        loop {
            let mut l = String::new();
            r.read_line(&mut l).unwrap();
            let l = l.trim_end().to_owned();
            let done = l.starts_with("/resume ") && l != "/resume on";
            second.push(l);
            if done {
                break;
            }
        }
        w.write_all(b"RESUMED ana_2 tok2 1 :resumed\n").unwrap();
        let mut l = String::new();
        r.read_line(&mut l).unwrap();
        (first, ping, second, l.trim_end().to_owned())
    });
    let config = ClientConfig {
        reconnect: true,
        reconnect_delay: Duration::from_millis(10),
        reconnect_max_delay: Duration::from_millis(20),
        ..ClientConfig::default()
    };
    let c = Client::connect_with("127.0.0.1", port, "ana", config).unwrap();
    assert_eq!(ev(&c), renamed("ana", "ana_2"));
    // No answer comes: the server cuts the connection instead.
    assert!(c.ping().is_err());
    loop {
        match ev(&c) {
            Event::Reconnecting { .. } => {}
            Event::Reconnected { recovered } => {
                assert!(recovered);
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(c.nick(), "ana_2");
    drop(c);
    let (first, ping, second, last) = server.join().unwrap();
    assert_eq!(first.last().map(String::as_str), Some("ana"), "{first:?}");
    assert!(ping.starts_with("/ping"), "{ping}");
    assert_eq!(
        second.last().map(String::as_str),
        Some("/resume ana_2 tok1 0"),
        "{second:?}"
    );
    assert_eq!(last, "quit");
}
