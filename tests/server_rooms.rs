//! Rooms, server operators, message ids and history over real sockets, as
//! a person at `nc` types them (PROTOCOL.md, "Rooms", "Message ids and
//! server time", "History").

mod common_server;

use common_server::*;
use papo::protocol::{ServerLine, Tag};
use papo::ServerConfig;

fn lines_with(lines: &[String], prefix: &str) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l.starts_with(prefix))
        .cloned()
        .collect()
}

#[test]
fn members_only_and_operators() {
    let server = start(cfg(2));
    let addr = server.local_addr();
    let (mut ana, _) = Raw::join(addr, "ana");
    let (mut bob, _) = Raw::join(addr, "bob");
    let (mut carla, _) = Raw::join(addr, "carla");
    ana.sync();
    bob.sync();

    ana.send("/join #Sala");
    ana.expect("ROOMJOIN #Sala ana :");
    bob.send("@1 /join #sala");
    bob.expect("@1 ROOMJOIN #Sala bob :");
    ana.expect("ROOMJOIN #Sala bob :");

    // Members only: carla (not in it) gets an error and nobody hears her.
    carla.send("@2 #sala:oi");
    carla.expect("@2 ERROR 21 #sala :");
    bob.send("@3 #SALA:olá, sala");
    bob.expect("@3 SENT #SALA :");
    assert_eq!(ana.line(), "ROOM #Sala bob :olá, sala");
    carla.sync_quiet();
    ana.sync_quiet();

    // /who, /rooms.
    carla.send("@4 /who #sala");
    carla.expect("@4 MEMBERS #Sala 2 :@ana bob");
    carla.send("@5 /rooms");
    carla.expect("@5 ROOMINFO #Sala 2 :");
    carla.expect("@5 ROOMS 1 :");
    carla.send("/who #nada");
    carla.expect("ERROR 21 #nada :");

    // Operators: bob is none until ana names him.
    bob.send("@6 /topic #sala novo tema");
    bob.expect("@6 ERROR 22 #sala :");
    carla.send("/topic #sala x");
    carla.expect("ERROR 21 #sala :");
    ana.send("@7 /topic #sala Bem-vindos!");
    ana.expect("@7 TOPIC #Sala ana :Bem-vindos!");
    bob.expect("TOPIC #Sala ana :Bem-vindos!");
    ana.send("/op #sala carla");
    ana.expect("ERROR 21 #sala :");
    ana.send("@8 /op #sala bob");
    ana.expect("@8 ROOMOP #Sala ana bob :");
    bob.expect("ROOMOP #Sala ana bob :");
    carla.send("/rooms");
    carla.expect("ROOMINFO #Sala 2 :Bem-vindos!");
    carla.expect("ROOMS 1");

    // A newcomer learns the topic when joining.
    carla.send("/join #sala");
    carla.expect("ROOMJOIN #Sala carla :");
    carla.expect("TOPIC #Sala * :Bem-vindos!");
    ana.expect("ROOMJOIN #Sala carla");
    bob.expect("ROOMJOIN #Sala carla");

    // bob (an operator now) kicks carla: every member and carla are told.
    bob.send("@9 /kick #sala Carla");
    bob.expect("@9 ROOMKICK #Sala bob carla :");
    ana.expect("ROOMKICK #Sala bob carla :");
    carla.expect("ROOMKICK #Sala bob carla :");
    carla.send("#sala:voltei");
    carla.expect("ERROR 21 #sala :");
    carla.send("/kick #sala ana");
    carla.expect("ERROR 21 #sala :");

    // Parting; the last member leaving ends the room.
    bob.send("@10 /part #sala");
    bob.expect("@10 ROOMPART #Sala bob :");
    ana.expect("ROOMPART #Sala bob :");
    bob.send("/part #sala");
    bob.expect("ERROR 21 #sala :");
    ana.send("/part #sala");
    ana.expect("ROOMPART #Sala ana");
    carla.send("/rooms");
    carla.expect("ROOMS 0");
    for c in [&mut ana, &mut bob, &mut carla] {
        c.sync_quiet();
    }
}

#[test]
fn presence_off_hears_only_its_own_membership_changes() {
    let server = start(cfg(2));
    let addr = server.local_addr();
    let (mut ana, _) = Raw::join(addr, "ana");
    let (mut quiet, _) = Raw::join(addr, "quiet");
    let (mut bob, _) = Raw::join(addr, "bob");
    quiet.sync();
    ana.sync();
    quiet.send("/presence off");
    quiet.expect("PRESENCE off");
    ana.send("/join #s");
    ana.expect("ROOMJOIN #s ana");
    quiet.send("/join #s");
    quiet.expect("ROOMJOIN #s quiet");
    ana.expect("ROOMJOIN #s quiet");
    bob.sync();
    bob.send("/join #s");
    bob.expect("ROOMJOIN #s bob");
    ana.expect("ROOMJOIN #s bob");
    bob.send("#s:oi");
    bob.expect("SENT #s");
    ana.expect("ROOM #s bob :oi");
    quiet.expect("ROOM #s bob :oi");
    ana.send("/topic #s t");
    ana.expect("TOPIC #s ana :t");
    // Topic changes reach everyone; joins and parts of others do not.
    quiet.expect("TOPIC #s ana :t");
    bob.expect("TOPIC #s ana :t");
    bob.send("/part #s");
    bob.expect("ROOMPART #s bob");
    ana.expect("ROOMPART #s bob");
    ana.send("/kick #s quiet");
    ana.expect("ROOMKICK #s ana quiet");
    quiet.expect("ROOMKICK #s ana quiet");
    quiet.sync_quiet();
    ana.sync_quiet();
}

#[test]
fn room_and_nick_names_at_their_limits() {
    let server = start(cfg(1));
    let addr = server.local_addr();
    let (mut ana, _) = Raw::join(addr, "ana");
    let longest = format!("#{}", "é".repeat(32));
    ana.send(&format!("/join {longest}"));
    ana.expect(&format!("ROOMJOIN {longest} ana"));
    for bad in [
        format!("#{}", "a".repeat(33)),
        "#".to_owned(),
        "sala".to_owned(),
        "#a,b".to_owned(),
    ] {
        ana.send(&format!("@x /join {bad}"));
        ana.expect("@x ERROR 23 * :");
    }
    ana.send("#a:b:c");
    ana.expect("ERROR 21 #a :");
    ana.send("#a b:c");
    ana.expect("ERROR 10");
    // Nicknames can no longer start with `#`.
    let mut c = Raw::connect_hello(addr);
    c.send("#ana");
    c.expect("ERROR 06 * :");
    c.send("a#na");
    c.expect("WELCOME a#na ");
    c.expect("USERS 2");
    c.send("/nick #x");
    c.expect("ERROR 06");
    ana.sync();
}

#[test]
fn a_server_operator_puts_users_off_the_server() {
    let server = start(ServerConfig {
        io_threads: 2,
        oper_password: Some("chefe".into()),
        ..ServerConfig::default()
    });
    let addr = server.local_addr();
    let (mut ana, _) = Raw::join(addr, "ana");
    let (mut bob, _) = Raw::join(addr, "bob");
    ana.sync();
    ana.send("/kick bob");
    ana.expect("ERROR 22 * :");
    ana.send("/oper errada");
    ana.expect("ERROR 22 * :");
    ana.send("@1 /oper chefe");
    ana.expect("@1 OPER :");
    ana.send("/kick zé");
    ana.expect("ERROR 02 zé");
    ana.send("@2 /kick BOB");
    ana.expect("@2 SENT BOB");
    let rest = bob.read_to_end();
    assert!(
        rest.iter()
            .any(|l| l.starts_with("ERROR 03 * :") && l.contains("ana")),
        "{rest:?}"
    );
    ana.expect("LEFT bob");
    // Without an operator password nobody becomes one.
    let server2 = start(cfg(1));
    let (mut x, _) = Raw::join(server2.local_addr(), "x");
    x.send("/oper chefe");
    x.expect("ERROR 22");
}

fn tag_of(line: &str) -> Tag {
    match Tag::of_line(line) {
        Some(t) => t,
        None => panic!("no tag in {line:?}"),
    }
}

#[test]
fn ids_and_times_for_clients_that_ask() {
    let server = start(cfg(2));
    let addr = server.local_addr();
    let (mut ana, _) = Raw::join(addr, "ana");
    let (mut bob, _) = Raw::join(addr, "bob");
    let mut tagged = Raw::connect_hello(addr);
    tagged.send("/tags on");
    tagged.expect("TAGS on :");
    tagged.send("carla");
    tagged.expect("WELCOME carla");
    ana.sync();
    bob.sync();
    for c in [&mut ana, &mut bob, &mut tagged] {
        c.send("/join #t");
        c.sync();
    }
    for c in [&mut ana, &mut bob, &mut tagged] {
        c.sync();
    }
    let before = papo::server::unix_time_ms();
    ana.send(":um");
    ana.send("carla:dois");
    ana.expect("SENT carla");
    ana.send("#t:três");
    ana.expect("SENT #t");
    // nc users keep clean lines.
    assert_eq!(bob.line(), "PUBLIC ana :um");
    assert_eq!(bob.line(), "ROOM #t ana :três");
    let got: Vec<String> = (0..3).map(|_| tagged.line()).collect();
    let tags: Vec<Tag> = got.iter().map(|l| tag_of(l)).collect();
    assert!(got[0].starts_with("PUBLIC ana id="), "{got:?}");
    assert!(got[1].starts_with("PRIVATE ana id="), "{got:?}");
    assert!(got[2].starts_with("ROOM #t ana id="), "{got:?}");
    assert!(tags.windows(2).all(|w| w[0].id < w[1].id), "{tags:?}");
    let after = papo::server::unix_time_ms();
    assert!(
        tags.iter().all(|t| t.time >= before && t.time <= after),
        "{tags:?}"
    );
    // The parser reads a tagged line as the plain one.
    assert_eq!(
        ServerLine::parse(&got[0]),
        Ok(ServerLine::Public {
            from: "ana",
            text: "um"
        })
    );
    tagged.send("/tags off");
    tagged.expect("TAGS off");
    ana.send(":quatro");
    ana.sync();
    tagged.expect("PUBLIC ana :quatro");
}

/// Parses `HISTORY <target> <kind> <from> <id> <time> :<text>` lines up to
/// `HISTEND`: (kind, from, id, text).
fn history(c: &mut Raw, request: &str) -> Vec<(String, String, u64, String)> {
    c.send(request);
    let mut out = Vec::new();
    loop {
        let l = c.line();
        match ServerLine::parse(&l) {
            Ok(ServerLine::History {
                kind,
                from,
                id,
                text,
                ..
            }) => out.push((
                kind.as_str().to_owned(),
                from.to_owned(),
                id,
                text.to_owned(),
            )),
            Ok(ServerLine::HistoryEnd { count, .. }) => {
                assert_eq!(count as usize, out.len(), "{l}");
                return out;
            }
            _ => panic!("{request}: unexpected {l:?}"),
        }
    }
}

#[test]
fn history_order_paging_and_privacy() {
    let server = start(cfg(2));
    let addr = server.local_addr();
    let (mut ana, _) = Raw::join(addr, "ana");
    let (mut bob, _) = Raw::join(addr, "bob");
    let (mut carla, _) = Raw::join(addr, "carla");
    ana.sync();
    bob.sync();
    for i in 0..10 {
        ana.send(&format!(":p{i}"));
    }
    ana.send("bob:segredo");
    ana.expect("SENT bob");
    ana.send("/join #h");
    ana.expect("ROOMJOIN #h ana");
    ana.send("#h:na sala");
    ana.expect("SENT #h");
    ana.send("/file * 3 :notas.txt");
    let ok = ana.expect("FILEOK ");
    let id = ok.split(' ').nth(1).unwrap_or("0").to_owned();
    ana.send(&format!("/fileabort {id}"));
    ana.expect("FILESTOP");
    ana.sync();
    bob.sync();
    carla.sync();

    let all = history(&mut bob, "/history *");
    let texts: Vec<&str> = all.iter().map(|e| e.3.as_str()).collect();
    assert_eq!(
        &texts[..10],
        ["p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9"]
    );
    assert_eq!(all[10].0, "file");
    assert_eq!(all[10].3, "notas.txt");
    assert!(all.windows(2).all(|w| w[0].2 < w[1].2));
    let last3 = history(&mut bob, "/history * 3");
    assert_eq!(last3, all[8..].to_vec());
    let page = history(&mut bob, &format!("/history * 4 before={}", all[5].2));
    assert_eq!(page, all[1..5].to_vec());
    let first = history(&mut bob, &format!("/history * before={}", all[0].2));
    assert!(first.is_empty());

    // Private: each side sees its own conversation; nobody else's.
    let mine = history(&mut bob, "/history ANA");
    assert_eq!(mine.len(), 1);
    assert_eq!((mine[0].1.as_str(), mine[0].3.as_str()), ("ana", "segredo"));
    assert_eq!(history(&mut ana, "/history bob"), mine);
    assert!(history(&mut carla, "/history ana").is_empty());
    assert!(history(&mut carla, "/history bob").is_empty());

    // A room's history is for its members.
    carla.send("/history #h");
    carla.expect("ERROR 21 #h");
    carla.send("/join #h");
    carla.expect("ROOMJOIN #h carla");
    let room = history(&mut carla, "/history #H 10");
    assert_eq!(room.len(), 1);
    assert_eq!(room[0].0, "room");
    assert_eq!(room[0].3, "na sala");
    assert!(room[0].2 > all[9].2 && room[0].2 < all[10].2);
    for bad in ["/history", "/history * x"] {
        carla.send(bad);
        carla.expect("ERROR ");
    }
}

/// 200 clients in 20 rooms of 10, each sending 5 messages to its room:
/// every member gets every message of the 9 others, and nobody outside
/// the room gets any.
#[test]
fn two_hundred_clients_in_twenty_rooms() {
    const ROOMS: usize = 20;
    const PER_ROOM: usize = 10;
    const EACH: usize = 5;
    let server = start(cfg(4));
    let addr = server.local_addr();
    let mut clients: Vec<(usize, Raw)> = Vec::new();
    for i in 0..ROOMS * PER_ROOM {
        let mut c = Raw::connect_hello(addr);
        c.send("/presence off");
        c.send(&format!("u{i}"));
        c.expect("PRESENCE off");
        c.expect(&format!("WELCOME u{i}"));
        let room = i % ROOMS;
        c.send(&format!("/join #r{room}"));
        c.expect(&format!("ROOMJOIN #r{room} u{i}"));
        clients.push((room, c));
    }
    let mut got: Vec<Vec<String>> = vec![Vec::new(); clients.len()];
    for (i, (room, c)) in clients.iter_mut().enumerate() {
        for k in 0..EACH {
            c.send(&format!("#r{room}:{i} {k}"));
        }
    }
    for (i, (_, c)) in clients.iter_mut().enumerate() {
        let mut sent = 0;
        while sent < EACH {
            let l = c.line();
            if l.starts_with("SENT ") {
                sent += 1;
            } else {
                got[i].push(l);
            }
        }
    }
    for (i, (_, c)) in clients.iter_mut().enumerate() {
        got[i].extend(c.sync());
    }
    let mut total = 0;
    for (i, lines) in got.iter().enumerate() {
        let room = i % ROOMS;
        let rooms = lines_with(lines, "ROOM ");
        assert_eq!(rooms.len(), lines.len(), "u{i}: {lines:?}");
        assert_eq!(rooms.len(), (PER_ROOM - 1) * EACH, "u{i}");
        for l in &rooms {
            assert!(l.starts_with(&format!("ROOM #r{room} u")), "u{i}: {l}");
            let from: usize = l
                .split(' ')
                .nth(2)
                .and_then(|n| n.strip_prefix('u'))
                .and_then(|n| n.parse().ok())
                .unwrap_or(usize::MAX);
            assert_eq!(from % ROOMS, room, "u{i}: {l}");
            assert_ne!(from, i);
        }
        // Each sender's messages arrive in order.
        for from in (0..ROOMS * PER_ROOM).filter(|f| f % ROOMS == room && *f != i) {
            let ks: Vec<String> = rooms
                .iter()
                .filter(|l| l.starts_with(&format!("ROOM #r{room} u{from} :")))
                .map(|l| l.rsplit(' ').next().unwrap_or("").to_owned())
                .collect();
            let want: Vec<String> = (0..EACH).map(|k| k.to_string()).collect();
            assert_eq!(ks, want, "u{i} from u{from}");
        }
        total += rooms.len();
    }
    assert_eq!(total, ROOMS * PER_ROOM * (PER_ROOM - 1) * EACH);
}

#[test]
fn leaving_the_server_leaves_its_rooms() {
    let server = start(cfg(1));
    let addr = server.local_addr();
    let (mut ana, _) = Raw::join(addr, "ana");
    let (mut bob, _) = Raw::join(addr, "bob");
    ana.sync();
    ana.send("/join #x");
    ana.expect("ROOMJOIN #x ana");
    bob.send("/join #x");
    bob.expect("ROOMJOIN #x bob");
    bob.send("/join #y");
    bob.expect("ROOMJOIN #y bob");
    ana.expect("ROOMJOIN #x bob");
    bob.send("quit");
    bob.read_to_end();
    ana.expect("LEFT bob");
    ana.send("/who #x");
    ana.expect("MEMBERS #x 1 :@ana");
    ana.send("/rooms");
    ana.expect("ROOMINFO #x 1");
    ana.expect("ROOMS 1");
}

fn db_server(path: &std::path::Path) -> papo::Server {
    start(ServerConfig {
        io_threads: 2,
        history_path: Some(path.to_path_buf()),
        ..ServerConfig::default()
    })
}

#[test]
fn a_restart_with_a_database_keeps_history_and_ids() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("history.db");
    let before = {
        let server = db_server(&path);
        let addr = server.local_addr();
        let (mut ana, _) = Raw::join(addr, "ana");
        let (mut bob, _) = Raw::join(addr, "bob");
        ana.sync();
        ana.send("/join #db");
        ana.expect("ROOMJOIN #db ana");
        for i in 0..5 {
            ana.send(&format!(":pub {i}"));
            ana.send(&format!("#db:sala {i}"));
            ana.expect("SENT #db");
        }
        ana.send("bob:só nós");
        ana.expect("SENT bob");
        // Bob reads what was sent to him, so that no line of it comes in
        // the middle of the history reply.
        for i in 0..5 {
            bob.expect(&format!("PUBLIC ana :pub {i}"));
        }
        bob.expect("PRIVATE ana :só nós");
        let all = history(&mut bob, "/history *");
        assert_eq!(all.len(), 5);
        server.shutdown();
        all
    };
    let server = db_server(&path);
    let addr = server.local_addr();
    let (mut ana, _) = Raw::join(addr, "ana");
    let (mut bob, _) = Raw::join(addr, "bob");
    ana.sync();
    assert_eq!(history(&mut bob, "/history *"), before);
    let private = history(&mut bob, "/history ana");
    assert_eq!(private.len(), 1);
    assert_eq!(private[0].3, "só nós");
    ana.send("/join #db");
    ana.expect("ROOMJOIN #db ana");
    let room = history(&mut ana, "/history #db 3");
    let texts: Vec<&str> = room.iter().map(|e| e.3.as_str()).collect();
    assert_eq!(texts, ["sala 2", "sala 3", "sala 4"]);
    // Ids keep increasing across the restart.
    ana.send(":depois");
    // Once bob has the message, ana's session has recorded it (the record
    // is made before the message leaves the sender's thread), and no line
    // of it can come in the middle of the history reply.
    bob.expect("PUBLIC ana :depois");
    let after = history(&mut bob, "/history * 1");
    assert_eq!(after[0].3, "depois");
    assert!(after[0].2 > private[0].2, "{after:?} vs {private:?}");
    assert!(private[0].2 > before[4].2);
}

#[test]
fn a_database_that_cannot_be_written_is_reported_and_chat_goes_on() {
    let dir = tempfile::tempdir().expect("temp dir");
    // A directory nobody may write to; root may write anywhere on a
    // normal file system, so it gets a path under /proc instead, where no
    // file can be made.
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let path = if root {
        std::path::PathBuf::from("/proc/papo-no-such-dir/history.db")
    } else {
        use std::os::unix::fs::PermissionsExt;
        let ro = dir.path().join("ro");
        std::fs::create_dir(&ro).expect("mkdir");
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).expect("chmod");
        ro.join("history.db")
    };
    let server = db_server(&path);
    let ev = wait_event(&server, "history paused", |e| {
        matches!(e, papo::ServerEvent::History { .. })
    });
    match ev {
        papo::ServerEvent::History { paused, message } => {
            assert!(paused);
            assert!(message.contains("history.db"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let addr = server.local_addr();
    let (mut ana, _) = Raw::join(addr, "ana");
    let (mut bob, _) = Raw::join(addr, "bob");
    ana.sync();
    for i in 0..50 {
        ana.send(&format!(":m{i}"));
    }
    ana.sync();
    for i in 0..50 {
        bob.expect(&format!("PUBLIC ana :m{i}"));
    }
    // History is still kept, in memory.
    assert_eq!(history(&mut bob, "/history * 100").len(), 50);
}
