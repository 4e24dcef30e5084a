//! Rooms as one thing across the nodes of a cluster, over a real
//! `redis-server` (PROTOCOL.md, "Clusters", "Rooms across nodes"): one set
//! of operators (the creator anywhere, those named by `/op` on any node),
//! topics, kicks of a member of another node, `/rooms` listing every room
//! of the cluster, a server operator's `/kick` of another node's user, and
//! two nodes creating one room at once (exactly one creator).

mod common_redis;
mod common_server;

use std::time::{Duration, Instant};

use common_redis::Redis;
use common_server::*;
use papo::{Server, ServerConfig};

/// A node of the cluster at `redis`.
fn node(redis: &Redis) -> Server {
    start(ServerConfig {
        io_threads: 2,
        cluster: Some(redis.url()),
        cluster_lease: Duration::from_secs(3),
        oper_password: Some("chefe".into()),
        ..ServerConfig::default()
    })
}

/// Sends `cmd` until its answer line (the first starting with `answer`)
/// is `want`: what another node said takes a moment to arrive.
fn wait_answer(c: &mut Raw, cmd: &str, answer: &str, want: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        c.send(cmd);
        let got = until(c, answer);
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{}: {cmd}: {got:?}, want {want:?}",
            c.label
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `/rooms` as (ROOMINFO lines, ROOMS line).
fn rooms(c: &mut Raw) -> (Vec<String>, String) {
    c.send("/rooms");
    let mut info = Vec::new();
    loop {
        let l = c.line();
        if l.starts_with("ROOMINFO ") {
            info.push(l);
        } else if l.starts_with("ROOMS ") {
            return (info, l);
        }
    }
}

/// `MEMBERS #room n :` followed by `nicks`.
fn members(room: &str, nicks: &str) -> String {
    format!("MEMBERS {room} {} :{nicks}", nicks.split(' ').count())
}

fn wait_all_users(clients: &mut [&mut Raw], n: usize) {
    for c in clients.iter_mut() {
        let deadline = Instant::now() + WAIT;
        loop {
            c.send("/list");
            let l = until(c, "USERS ");
            if users_of(&l).len() == n {
                break;
            }
            assert!(Instant::now() < deadline, "{}: {l}", c.label);
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn operators_topics_and_kicks_across_three_nodes() {
    let redis = Redis::start();
    let a = node(&redis);
    let b = node(&redis);
    let c = node(&redis);
    let (mut ana, _) = Raw::join(a.local_addr(), "ana");
    let (mut bob, _) = Raw::join(b.local_addr(), "bob");
    let (mut carla, _) = Raw::join(c.local_addr(), "carla");
    let (mut dave, _) = Raw::join(c.local_addr(), "dave");
    wait_all_users(&mut [&mut ana, &mut bob, &mut carla, &mut dave], 4);

    // ana creates the room on A; bob, first on B, is no operator.
    ana.send("/join #Sala");
    until(&mut ana, "ROOMJOIN #Sala ana :");
    bob.send("/join #sala");
    until(&mut bob, "ROOMJOIN #Sala bob :");
    wait_answer(
        &mut bob,
        "/who #sala",
        "MEMBERS ",
        &members("#Sala", "@ana bob"),
    );
    bob.send("/topic #sala meu tema");
    until(&mut bob, "ERROR 22 #sala :");
    bob.send("/op #sala bob");
    until(&mut bob, "ERROR 22 #sala :");
    wait_answer(
        &mut ana,
        "/who #sala",
        "MEMBERS ",
        &members("#Sala", "@ana bob"),
    );

    // The creator's topic reaches B; a member joining on C later gets it
    // with its ROOMJOIN answer.
    ana.send("@1 /topic #sala Bem-vindos!");
    until(&mut ana, "@1 TOPIC #Sala ana :Bem-vindos!");
    assert_eq!(until(&mut bob, "TOPIC "), "TOPIC #Sala ana :Bem-vindos!");
    carla.send("/join #SALA");
    until(&mut carla, "ROOMJOIN #Sala carla :");
    carla.expect("TOPIC #Sala * :Bem-vindos!");
    until(&mut ana, "ROOMJOIN #Sala carla");
    until(&mut bob, "ROOMJOIN #Sala carla");
    wait_answer(
        &mut carla,
        "/who #sala",
        "MEMBERS ",
        &members("#Sala", "@ana bob carla"),
    );

    // An operator on A names bob (B): ROOMOP on every node, and bob is an
    // operator everywhere.
    ana.send("@2 /op #sala bob");
    until(&mut ana, "@2 ROOMOP #Sala ana bob :");
    assert!(until(&mut bob, "ROOMOP ").starts_with("ROOMOP #Sala ana bob :"));
    assert!(until(&mut carla, "ROOMOP ").starts_with("ROOMOP #Sala ana bob :"));
    for c in [&mut ana, &mut bob, &mut carla] {
        wait_answer(
            c,
            "/who #sala",
            "MEMBERS ",
            &members("#Sala", "@ana @bob carla"),
        );
    }

    // bob's topic (on B) reaches A and C.
    bob.send("@3 /topic #sala Trabalho de redes");
    until(&mut bob, "@3 TOPIC #Sala bob :Trabalho de redes");
    assert_eq!(
        until(&mut ana, "TOPIC "),
        "TOPIC #Sala bob :Trabalho de redes"
    );
    assert_eq!(
        until(&mut carla, "TOPIC "),
        "TOPIC #Sala bob :Trabalho de redes"
    );

    // A second room, only on C; /rooms anywhere lists every room, with its
    // members on every node and its topic.
    dave.send("/join #outra");
    until(&mut dave, "ROOMJOIN #outra dave");
    let (info, end) = rooms(&mut ana);
    assert_eq!(
        info,
        ["ROOMINFO #outra 1 :", "ROOMINFO #Sala 3 :Trabalho de redes"]
    );
    assert!(end.starts_with("ROOMS 2 "), "{end}");

    // bob (B) kicks carla (C): everyone is told, C puts her out.
    bob.send("@4 /kick #sala Carla");
    until(&mut bob, "@4 ROOMKICK #Sala bob carla :");
    assert!(until(&mut carla, "ROOMKICK ").starts_with("ROOMKICK #Sala bob carla :"));
    assert!(until(&mut ana, "ROOMKICK ").starts_with("ROOMKICK #Sala bob carla :"));
    carla.send("#sala:voltei?");
    until(&mut carla, "ERROR 21 #sala :");
    let (info, _) = rooms(&mut dave);
    assert_eq!(
        info,
        ["ROOMINFO #outra 1 :", "ROOMINFO #Sala 2 :Trabalho de redes"]
    );
    for c in [&mut ana, &mut bob] {
        wait_answer(c, "/who #sala", "MEMBERS ", &members("#Sala", "@ana @bob"));
    }
    // She may come back (a kick is no ban), as no operator.
    carla.send("/join #sala");
    until(&mut carla, "ROOMJOIN #Sala carla :");
    carla.expect("TOPIC #Sala * :Trabalho de redes");
    wait_answer(
        &mut carla,
        "/who #sala",
        "MEMBERS ",
        &members("#Sala", "@ana @bob carla"),
    );

    // Everyone leaves (by /part, or by leaving the server): the room is
    // gone everywhere.
    ana.send("/part #sala");
    until(&mut ana, "ROOMPART #Sala ana");
    bob.send("/quit");
    until(&mut carla, "LEFT bob");
    carla.send("/part #sala");
    until(&mut carla, "ROOMPART #Sala carla");
    let (info, end) = rooms(&mut ana);
    assert_eq!(info, ["ROOMINFO #outra 1 :"]);
    assert!(end.starts_with("ROOMS 1 "), "{end}");
    // Created again, by someone else: a new room, its creator its operator.
    carla.send("/join #sala");
    until(&mut carla, "ROOMJOIN #sala carla :");
    carla.send("/who #sala");
    assert_eq!(until(&mut carla, "MEMBERS "), members("#sala", "@carla"));
}

#[test]
fn server_operator_kicks_a_user_of_another_node() {
    let redis = Redis::start();
    let a = node(&redis);
    let b = node(&redis);
    let (mut ana, _) = Raw::join(a.local_addr(), "ana");
    let (mut bob, _) = Raw::join(b.local_addr(), "bob");
    let (mut carla, _) = Raw::join(b.local_addr(), "carla");
    wait_all_users(&mut [&mut ana, &mut bob, &mut carla], 3);
    ana.send("/kick bob");
    until(&mut ana, "ERROR 22 * :");
    ana.send("/oper chefe");
    until(&mut ana, "OPER ");
    ana.send("@1 /kick bob");
    until(&mut ana, "@1 SENT bob");
    let err = until(&mut bob, "ERROR ");
    assert!(err.starts_with("ERROR 03 * :"), "{err}");
    assert!(err.contains("ana"), "{err}");
    bob.read_to_end();
    until(&mut ana, "LEFT bob");
    until(&mut carla, "LEFT bob");
    // Nobody by that name any more: 02.
    ana.send("/kick bob");
    until(&mut ana, "ERROR 02 bob");
}

/// Two nodes create one room at once, 20 times: each time exactly one of
/// the two joiners is the operator, and both nodes agree which.
#[test]
fn two_nodes_create_one_room_at_once() {
    let redis = Redis::start();
    let a = node(&redis);
    let b = node(&redis);
    let (mut ana, _) = Raw::join(a.local_addr(), "ana");
    let (mut bob, _) = Raw::join(b.local_addr(), "bob");
    wait_all_users(&mut [&mut ana, &mut bob], 2);
    for round in 0..20 {
        let room = format!("#corrida{round}");
        ana.send(&format!("/join {room}"));
        bob.send(&format!("/join {room}"));
        until(&mut ana, &format!("ROOMJOIN {room} ana"));
        until(&mut bob, &format!("ROOMJOIN {room} bob"));
        // Both see both members; the operator marks must agree.
        let mut seen = Vec::new();
        for c in [&mut ana, &mut bob] {
            let deadline = Instant::now() + WAIT;
            loop {
                c.send(&format!("/who {room}"));
                let l = until(c, "MEMBERS ");
                if l.starts_with(&format!("MEMBERS {room} 2 :")) {
                    seen.push(l);
                    break;
                }
                assert!(Instant::now() < deadline, "round {round}: {l}");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let one = [members(&room, "@ana bob"), members(&room, "ana @bob")];
        assert!(one.contains(&seen[0]), "round {round}: {seen:?}");
        assert_eq!(seen[0], seen[1], "round {round}: the nodes disagree");
        let (info, _) = rooms(&mut ana);
        assert_eq!(info, [format!("ROOMINFO {room} 2 :")], "round {round}");
        ana.send(&format!("/part {room}"));
        until(&mut ana, &format!("ROOMPART {room} ana"));
        bob.send(&format!("/part {room}"));
        until(&mut bob, &format!("ROOMPART {room} bob"));
    }
    let (info, end) = rooms(&mut bob);
    assert!(info.is_empty(), "{info:?}");
    assert!(end.starts_with("ROOMS 0 "), "{end}");
}

/// A node that stops: its members leave its rooms in Redis at once (it
/// says it is no longer alive), so `/rooms` elsewhere no longer counts
/// them.
#[test]
fn a_stopped_node_leaves_its_rooms() {
    let redis = Redis::start();
    let a = node(&redis);
    let b = node(&redis);
    let (mut ana, _) = Raw::join(a.local_addr(), "ana");
    let (mut bob, _) = Raw::join(b.local_addr(), "bob");
    wait_all_users(&mut [&mut ana, &mut bob], 2);
    ana.send("/join #s");
    until(&mut ana, "ROOMJOIN #s ana");
    bob.send("/join #s");
    until(&mut bob, "ROOMJOIN #s bob");
    bob.send("/join #so-b");
    until(&mut bob, "ROOMJOIN #so-b bob");
    let (info, _) = rooms(&mut ana);
    assert_eq!(info, ["ROOMINFO #s 2 :", "ROOMINFO #so-b 1 :"]);
    drop(b);
    let deadline = Instant::now() + WAIT;
    loop {
        let (info, _) = rooms(&mut ana);
        if info == ["ROOMINFO #s 1 :"] {
            break;
        }
        assert!(Instant::now() < deadline, "{info:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `/who` of a room without members on the asking node answers from the
/// cluster; an operator who changes nickname stays one on every node.
#[test]
fn who_from_anywhere_and_operators_keep_their_rank_when_renamed() {
    let redis = Redis::start();
    let a = node(&redis);
    let b = node(&redis);
    let (mut ana, _) = Raw::join(a.local_addr(), "ana");
    let (mut bob, _) = Raw::join(b.local_addr(), "bob");
    let (mut dave, _) = Raw::join(b.local_addr(), "dave");
    wait_all_users(&mut [&mut ana, &mut bob, &mut dave], 3);
    ana.send("/join #r");
    until(&mut ana, "ROOMJOIN #r ana");
    // B has no member of #r: its answer comes from Redis.
    dave.send("@1 /who #R");
    until(&mut dave, "@1 MEMBERS #r 1 :@ana");
    dave.send("/who #nenhuma");
    until(&mut dave, "ERROR 21 #nenhuma");

    ana.send("/nick ana2");
    until(&mut ana, "NICK ana ana2");
    bob.send("/join #r");
    until(&mut bob, "ROOMJOIN #r bob");
    wait_answer(&mut bob, "/who #r", "MEMBERS ", &members("#r", "@ana2 bob"));
    dave.send("/who #r");
    assert_eq!(until(&mut dave, "MEMBERS "), members("#r", "@ana2 bob"));
    // A knows bob is in the room before ana names him.
    until(&mut ana, "ROOMJOIN #r bob");
    ana.send("/op #r bob");
    until(&mut ana, "ROOMOP #r ana2 bob");
    until(&mut bob, "ROOMOP #r ana2 bob");
    // bob, renamed, stays an operator on both nodes.
    bob.send("/nick bob2");
    until(&mut bob, "NICK bob bob2");
    wait_answer(
        &mut ana,
        "/who #r",
        "MEMBERS ",
        &members("#r", "@ana2 @bob2"),
    );
    dave.send("/who #r");
    assert_eq!(until(&mut dave, "MEMBERS "), members("#r", "@ana2 @bob2"));
    bob.send("@2 /topic #r depois do nome novo");
    until(&mut bob, "@2 TOPIC #r bob2 :depois do nome novo");
    assert_eq!(
        until(&mut ana, "TOPIC "),
        "TOPIC #r bob2 :depois do nome novo"
    );
}

/// Redis restarts empty: when the nodes heal, they write their rooms
/// again (members, operators, topic), so `/rooms` and `/who` show them as
/// before and the operators still operate.
#[test]
fn rooms_come_back_after_redis_restarts_empty() {
    let mut redis = Redis::start();
    let a = node(&redis);
    let b = node(&redis);
    let (mut ana, _) = Raw::join(a.local_addr(), "ana");
    let (mut bob, _) = Raw::join(b.local_addr(), "bob");
    wait_all_users(&mut [&mut ana, &mut bob], 2);
    ana.send("/join #r");
    until(&mut ana, "ROOMJOIN #r ana");
    ana.send("/topic #r tema");
    until(&mut ana, "TOPIC #r ana :tema");
    bob.send("/join #r");
    until(&mut bob, "ROOMJOIN #r bob");
    bob.expect("TOPIC #r * :tema");
    wait_answer(&mut bob, "/who #r", "MEMBERS ", &members("#r", "@ana bob"));

    redis.stop();
    until(&mut ana, "CLUSTER partitioned");
    until(&mut bob, "CLUSTER partitioned");
    redis.start_again();
    until(&mut ana, "CLUSTER healed");
    until(&mut bob, "CLUSTER healed");
    let deadline = Instant::now() + WAIT;
    loop {
        let (info, _) = rooms(&mut bob);
        if info == ["ROOMINFO #r 2 :tema"] {
            break;
        }
        assert!(Instant::now() < deadline, "{info:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    for c in [&mut ana, &mut bob] {
        wait_answer(c, "/who #r", "MEMBERS ", &members("#r", "@ana bob"));
    }
    bob.send("/topic #r x");
    until(&mut bob, "ERROR 22 #r");
    ana.send("/topic #r de volta");
    until(&mut ana, "TOPIC #r ana :de volta");
    assert_eq!(until(&mut bob, "TOPIC "), "TOPIC #r ana :de volta");
}

/// Two operators on two nodes set a room's topic at once, 20 times: a
/// member on a third node ends each round with the topic Redis kept (an
/// older topic arriving late is not shown over a newer one), and so does
/// `/rooms`.
#[test]
fn two_topics_at_once_end_the_same_everywhere() {
    let redis = Redis::start();
    let a = node(&redis);
    let b = node(&redis);
    let c = node(&redis);
    let (mut ana, _) = Raw::join(a.local_addr(), "ana");
    let (mut bob, _) = Raw::join(b.local_addr(), "bob");
    let (mut carla, _) = Raw::join(c.local_addr(), "carla");
    let (mut dave, _) = Raw::join(a.local_addr(), "dave");
    wait_all_users(&mut [&mut ana, &mut bob, &mut carla, &mut dave], 4);
    ana.send("/join #t");
    until(&mut ana, "ROOMJOIN #t ana");
    bob.send("/join #t");
    until(&mut bob, "ROOMJOIN #t bob");
    carla.send("/join #t");
    until(&mut carla, "ROOMJOIN #t carla");
    dave.send("/join #t");
    until(&mut dave, "ROOMJOIN #t dave");
    for x in [&mut ana, &mut bob, &mut carla, &mut dave] {
        wait_answer(
            x,
            "/who #t",
            "MEMBERS ",
            &members("#t", "@ana bob carla dave"),
        );
    }
    ana.send("/op #t bob");
    until(&mut ana, "ROOMOP #t ana bob");
    wait_answer(
        &mut bob,
        "/who #t",
        "MEMBERS ",
        &members("#t", "@ana @bob carla dave"),
    );
    for round in 0..20 {
        ana.send(&format!("/topic #t de ana {round}"));
        bob.send(&format!("/topic #t de bob {round}"));
        until(&mut ana, &format!("TOPIC #t ana :de ana {round}"));
        until(&mut bob, &format!("TOPIC #t bob :de bob {round}"));
        // Each operator's room message comes after its topic on the
        // room's channel: once carla has both, she has every topic line
        // of the round that she is to get.
        ana.send(&format!("#t:fim {round}"));
        bob.send(&format!("#t:fim {round}"));
        // carla (C) hears both topics from one subscriber, in Redis's
        // order for each node, the older dropped if it comes late: her last
        // TOPIC is the one kept. dave (A, beside ana) hears ana's from his
        // own node and bob's from B: the two lines may come in either
        // order (as two senders' messages do), so only what they are is
        // checked.
        let mut last = None;
        for x in [&mut carla, &mut dave] {
            let mut ends = 0;
            while ends < 2 {
                let l = x.line();
                if let Some(t) = l.strip_prefix("TOPIC #t ") {
                    assert!(
                        t == format!("ana :de ana {round}") || t == format!("bob :de bob {round}"),
                        "round {round}: {}: {l}",
                        x.label
                    );
                    if x.label == "carla" {
                        last = Some(t.to_owned());
                    }
                } else if l.starts_with("ROOM #t ") && l.ends_with(&format!(":fim {round}")) {
                    ends += 1;
                }
            }
        }
        let (info, _) = rooms(&mut carla);
        let kept = info[0]
            .strip_prefix("ROOMINFO #t 4 :")
            .unwrap_or_else(|| panic!("round {round}: {info:?}"))
            .to_owned();
        let last = last.unwrap_or_else(|| panic!("round {round}: carla: no TOPIC"));
        let (by, text) = last.split_once(" :").unwrap_or(("", ""));
        assert_eq!(text, kept, "round {round}: carla's last TOPIC {last:?}");
        assert!(text.starts_with(&format!("de {by} ")), "{last}");
        // A member joining now, on any node, gets the topic kept.
        dave.send("/part #t");
        until(&mut dave, "ROOMPART #t dave");
        dave.send("/join #t");
        until(&mut dave, "ROOMJOIN #t dave");
        assert_eq!(dave.line(), format!("TOPIC #t * :{kept}"), "round {round}");
    }
}
