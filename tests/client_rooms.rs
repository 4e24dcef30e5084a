//! Rooms, message ids and history through the library client
//! (`papo::Client`) against a real server on loopback.

use std::time::Duration;

use papo::client::{Event, Reply, RoomMember};
use papo::protocol::HistoryKind;
use papo::{Client, ErrorCode, Server, ServerConfig};

const WAIT: Duration = Duration::from_secs(20);

fn start(cfg: ServerConfig) -> Server {
    Server::start("127.0.0.1", 0, cfg).expect("server")
}

fn connect(server: &Server, nick: &str) -> Client {
    Client::connect("127.0.0.1", server.local_addr().port(), nick).expect("connect")
}

/// The next event that is not about presence (joins and leaves of the
/// chat itself).
fn next(c: &Client) -> Event {
    loop {
        let e = c
            .next_event(WAIT)
            .unwrap_or_else(|e| panic!("{}: no event: {e}", c.nick()));
        if !matches!(e, Event::Joined { .. } | Event::Left { .. }) {
            return e;
        }
    }
}

#[test]
fn rooms_through_the_client() {
    let server = start(ServerConfig {
        io_threads: 2,
        oper_password: Some("chefe".into()),
        ..ServerConfig::default()
    });
    let ana = connect(&server, "ana");
    let bob = connect(&server, "bob");
    let carla = connect(&server, "carla");

    assert_eq!(ana.join("#Sala").expect("join"), "#Sala");
    assert_eq!(
        next(&ana),
        Event::RoomJoined {
            room: "#Sala".into(),
            nick: "ana".into()
        }
    );
    assert_eq!(bob.join("#sala").expect("join"), "#Sala");
    assert!(matches!(next(&bob), Event::RoomJoined { nick, .. } if nick == "bob"));
    assert!(matches!(next(&ana), Event::RoomJoined { nick, .. } if nick == "bob"));

    // Errors found locally and by the server.
    assert_eq!(ana.join("sala").unwrap_err().code(), ErrorCode::InvalidRoom);
    assert_eq!(
        carla.send(Some("#sala"), "oi").unwrap_err().code(),
        ErrorCode::NotInRoom
    );
    assert_eq!(
        bob.set_topic("#sala", "x").unwrap_err().code(),
        ErrorCode::NotOperator
    );
    assert_eq!(
        carla.part("#sala").unwrap_err().code(),
        ErrorCode::NotInRoom
    );

    bob.send(Some("#sala"), "olá, sala").expect("room message");
    match next(&ana) {
        Event::Room {
            room,
            from,
            text,
            id,
            time,
        } => {
            assert_eq!(
                (room.as_str(), from.as_str(), text.as_str()),
                ("#Sala", "bob", "olá, sala")
            );
            assert!(id > 0 && time > 1_700_000_000_000, "{id} {time}");
        }
        other => panic!("{other:?}"),
    }
    ana.set_topic("#sala", "Redes").expect("topic");
    assert!(
        matches!(next(&ana), Event::TopicChanged { text, by, .. } if text == "Redes" && by == "ana")
    );
    assert!(matches!(next(&bob), Event::TopicChanged { text, .. } if text == "Redes"));
    ana.make_operator("#sala", "bob").expect("op");
    assert_eq!(
        bob.who("#sala").expect("who"),
        [
            RoomMember {
                nick: "ana".into(),
                operator: true
            },
            RoomMember {
                nick: "bob".into(),
                operator: true
            }
        ]
    );
    let rooms = carla.rooms().expect("rooms");
    assert_eq!(rooms.len(), 1);
    assert_eq!(
        (
            rooms[0].name.as_str(),
            rooms[0].members,
            rooms[0].topic.as_str()
        ),
        ("#Sala", 2, "Redes")
    );

    carla.join("#sala").expect("join");
    assert!(matches!(next(&carla), Event::RoomJoined { .. }));
    assert!(
        matches!(next(&carla), Event::TopicChanged { by, text, .. } if by == "*" && text == "Redes")
    );
    bob.kick(Some("#sala"), "carla").expect("kick");
    let kicked = loop {
        if let e @ Event::RoomKicked { .. } = next(&carla) {
            break e;
        }
    };
    assert_eq!(
        kicked,
        Event::RoomKicked {
            room: "#Sala".into(),
            by: "bob".into(),
            nick: "carla".into()
        }
    );

    // A server operator.
    assert_eq!(
        carla.kick(None, "bob").unwrap_err().code(),
        ErrorCode::NotOperator
    );
    assert_eq!(
        carla.oper("errada").unwrap_err().code(),
        ErrorCode::NotOperator
    );
    carla.oper("chefe").expect("oper");
    carla.kick(None, "bob").expect("kick bob off the server");
    loop {
        match bob.next_event(WAIT) {
            Ok(Event::Disconnected { code, reason }) => {
                assert_eq!(code, ErrorCode::ConnectionAborted);
                assert!(reason.contains("carla"), "{reason}");
                break;
            }
            Ok(_) => {}
            Err(e) => panic!("{e}"),
        }
    }
    ana.part("#sala").expect("part");
    assert_eq!(carla.rooms().expect("rooms"), []);
}

#[test]
fn ids_times_and_history_through_the_client() {
    let server = start(ServerConfig {
        io_threads: 2,
        ..ServerConfig::default()
    });
    let ana = connect(&server, "ana");
    let bob = connect(&server, "bob");
    for i in 0..6 {
        ana.send(None, &format!("p{i}")).expect("public");
    }
    ana.send(Some("bob"), "segredo").expect("private");
    let mut last = 0;
    for i in 0..6 {
        match next(&bob) {
            Event::Public { text, id, time, .. } => {
                assert_eq!(text, format!("p{i}"));
                assert!(id > last && time > 0);
                last = id;
            }
            other => panic!("{other:?}"),
        }
    }
    match next(&bob) {
        Event::Private { id, .. } => assert!(id > last),
        other => panic!("{other:?}"),
    }
    let all = bob.history("*", None, None).expect("history");
    assert_eq!(all.len(), 6);
    assert!(all
        .iter()
        .all(|e| e.kind == HistoryKind::Public && e.from == "ana"));
    let texts: Vec<&str> = all.iter().map(|e| e.text.as_str()).collect();
    assert_eq!(texts, ["p0", "p1", "p2", "p3", "p4", "p5"]);
    let page = bob.history("*", Some(2), Some(all[4].id)).expect("page");
    assert_eq!(page, all[2..4].to_vec());
    let private = bob.history("ana", None, None).expect("private");
    assert_eq!(private.len(), 1);
    assert_eq!(private[0].kind, HistoryKind::Private);
    assert_eq!(
        bob.history("#nada", None, None).unwrap_err().code(),
        ErrorCode::NotInRoom
    );

    // The asynchronous twins.
    ana.join_async("#a", 1).expect("join_async");
    ana.rooms_async(2).expect("rooms_async");
    ana.history_async("#a", Some(5), None, 3)
        .expect("history_async");
    ana.part_async("#a", 4).expect("part_async");
    ana.part_async("#a", 5).expect("part_async again");
    let mut replies = Vec::new();
    while replies.len() < 5 {
        if let Event::Reply { userdata, outcome } = next(&ana) {
            replies.push((userdata, outcome));
        }
    }
    assert_eq!(replies[0], (1, Ok(Reply::Joined("#a".into()))));
    assert!(matches!(&replies[1], (2, Ok(Reply::Rooms(r))) if r.len() == 1));
    assert_eq!(replies[2], (3, Ok(Reply::History(vec![]))));
    assert_eq!(replies[3], (4, Ok(Reply::Parted)));
    assert!(matches!(&replies[4], (5, Err(e)) if e.code == ErrorCode::NotInRoom));
}
