//! Several servers as one chat over a real `redis-server` (PROTOCOL.md,
//! "Clusters"), with the nodes in this process: presence, public, private
//! and room messages, nickname uniqueness and departures across nodes, as
//! a person at `nc` sees them.

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
        // The race below refuses one connection's nickname up to 100 times.
        max_nick_attempts: 0,
        ..ServerConfig::default()
    })
}

/// Asks `/who room` until `c`'s node lists exactly `want` (as `MEMBERS`
/// writes it, operators with `@`).
fn wait_members(c: &mut Raw, room: &str, want: &str) {
    wait_members_any(c, room, &[want]);
}

/// [`wait_members`] with any of `wants`.
fn wait_members_any(c: &mut Raw, room: &str, wants: &[&str]) {
    let deadline = Instant::now() + WAIT;
    loop {
        c.send(&format!("/who {room}"));
        let l = until(c, "MEMBERS ");
        let (_, members) = l.split_once(" :").unwrap_or(("", ""));
        if wants.contains(&members) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{}: {l}, want {wants:?}",
            c.label
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn two_nodes_are_one_chat() {
    let redis = Redis::start();
    let a = node(&redis);
    let b = node(&redis);
    let (mut ana, _) = Raw::join(a.local_addr(), "ana");
    let (mut bob, _) = Raw::join(b.local_addr(), "bob");
    wait_users(&mut ana, &["ana", "bob"]);
    wait_users(&mut bob, &["ana", "bob"]);

    // Public, both ways.
    ana.send(":olá de A");
    assert_eq!(until(&mut bob, "PUBLIC "), "PUBLIC ana :olá de A");
    bob.send(":oi de B");
    assert_eq!(until(&mut ana, "PUBLIC "), "PUBLIC bob :oi de B");

    // Private: SENT to the sender, the message to the receiver.
    ana.send("bob:segredo");
    assert!(until(&mut ana, "SENT ").starts_with("SENT bob"));
    assert_eq!(until(&mut bob, "PRIVATE "), "PRIVATE ana :segredo");
    // 02 for a nickname online nowhere.
    ana.send("ninguem:oi");
    assert!(until(&mut ana, "ERROR ").starts_with("ERROR 02 ninguem"));

    // A nickname is unique across nodes, up to case.
    let mut dup = Raw::connect_hello(b.local_addr());
    dup.send("ANA");
    assert!(dup.line().starts_with("ERROR 01 ANA"));

    // A nick change reaches the other node.
    ana.send("/nick ana2");
    until(&mut ana, "NICK ana ana2");
    until(&mut bob, "NICK ana ana2");
    // ...and the old name is free everywhere at once.
    dup.send("ana");
    assert!(dup.line().starts_with("WELCOME ana"));
    wait_users(&mut bob, &["ana", "ana2", "bob"]);

    // Rooms: members on both nodes get each other's messages.
    ana.send("/join #sala");
    until(&mut ana, "ROOMJOIN #sala ana2");
    bob.send("/join #sala");
    until(&mut bob, "ROOMJOIN #sala bob");
    // ana2 sees bob join (ROOMJOIN from the other node), and bob's node
    // learns she is there.
    until(&mut ana, "ROOMJOIN #sala bob");
    wait_members(&mut bob, "#sala", "@ana2 bob");
    bob.send("#sala:oi sala");
    assert_eq!(until(&mut ana, "ROOM "), "ROOM #sala bob :oi sala");
    ana.send("#sala:oi bob");
    assert_eq!(until(&mut bob, "ROOM "), "ROOM #sala ana2 :oi bob");
    // dup (ana, on B) is no member: it got none of it.
    dup.send("/who #sala");
    let who = until(&mut dup, "MEMBERS ");
    assert!(who.contains("ana2") && who.contains("bob"), "{who}");

    // The node's counters (ServerStats::cluster, /metrics).
    let st = a.stats().cluster;
    assert!(!st.partitioned);
    assert_eq!(st.nodes, 1);
    assert!(st.published > 0 && st.received > 0, "{st:?}");
    assert_eq!(st.lost, 0);
    // A departure: LEFT everywhere, the name free at once.
    ana.send("/quit");
    until(&mut bob, "LEFT ana2");
    let mut again = Raw::connect_hello(b.local_addr());
    again.send("ana2");
    assert!(again.line().starts_with("WELCOME ana2"));
}

/// 50 connections spread over 3 nodes send the same nickname at once, 100
/// times (a new nickname each round): exactly one gets `WELCOME`, every
/// other `ERROR 01`. The winner leaves and a new connection takes its place.
#[test]
fn one_winner_per_nickname_race() {
    let redis = Redis::start();
    let nodes: Vec<Server> = (0..3).map(|_| node(&redis)).collect();
    let mut pool: Vec<Raw> = (0..50)
        .map(|i| Raw::connect_hello(nodes[i % 3].local_addr()))
        .collect();
    for round in 0..100 {
        let nick = format!("corrida{round}");
        // Every connection's line leaves before any answer is read.
        for c in pool.iter_mut() {
            c.send(&nick);
        }
        let mut winners = Vec::new();
        for (i, c) in pool.iter_mut().enumerate() {
            let l = c.line();
            if l.starts_with(&format!("WELCOME {nick}")) {
                winners.push(i);
                c.expect("USERS ");
            } else {
                assert!(
                    l.starts_with(&format!("ERROR 01 {nick}")),
                    "round {round}: {l:?}"
                );
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: winners {winners:?}");
        let w = winners[0];
        pool[w].send("/quit");
        pool[w] = Raw::connect_hello(nodes[w % 3].local_addr());
    }
}

/// Binary messages cross nodes, to one user and to everyone (a client
/// without `/binary on` gets the `BYTESNOTE` line); a file to another
/// node's user is refused with 02 (files do not cross nodes).
#[test]
fn binary_messages_cross_nodes() {
    let redis = Redis::start();
    let a = node(&redis);
    let b = node(&redis);
    let (mut ana, _) = Raw::join_binary(a.local_addr(), "ana");
    let (mut bob, _) = Raw::join_binary(b.local_addr(), "bob");
    let (mut carla, _) = Raw::join(b.local_addr(), "carla");
    wait_users(&mut ana, &["ana", "bob", "carla"]);

    ana.send("/bytes bob 5");
    ana.send_raw(b"12345\n");
    until(&mut ana, "SENT bob");
    assert_eq!(until(&mut bob, "BYTES "), "BYTES ana 5 private");
    assert_eq!(bob.line(), "12345");

    ana.send("/bytes * 3");
    ana.send_raw(b"abc\n");
    until(&mut ana, "SENT *");
    assert_eq!(until(&mut bob, "BYTES "), "BYTES ana 3");
    assert_eq!(bob.line(), "abc");
    assert!(until(&mut carla, "BYTESNOTE ").starts_with("BYTESNOTE ana 3 "));

    // Files cross too (tests/cluster_files.rs has the rest), with the
    // receiving node's number for the transfer.
    ana.send("/file bob 3 :a.txt");
    let ok = until(&mut ana, "FILEOK ");
    let id: u64 = ok
        .split(' ')
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("id");
    ana.send(&format!("/chunk {id} 3"));
    ana.send_raw(b"xyz\n");
    ana.send(&format!("/fileend {id}"));
    assert_eq!(until(&mut ana, "FILEACK "), format!("FILEACK {id} 3"));
    assert!(until(&mut ana, "FILEDONE ").starts_with(&format!("FILEDONE {id} ")));
    let header = until(&mut bob, "FILE ");
    let bob_id: u64 = header
        .split(' ')
        .nth(2)
        .and_then(|n| n.parse().ok())
        .expect("id");
    assert_eq!(header, format!("FILE ana {bob_id} 3 private :a.txt"));
    assert_eq!(bob.line(), format!("CHUNK {bob_id} 3"));
    assert_eq!(bob.line(), "xyz");
    assert_eq!(bob.line(), format!("FILEEND {bob_id}"));

    // carla (no `/binary on`) is offered a file as a line, and its sender
    // on the other node is stopped, as on one server.
    ana.send("/file carla 1000 :b.txt");
    let ok = until(&mut ana, "FILEOK ");
    let id: u64 = ok
        .split(' ')
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("id");
    assert!(until(&mut carla, "FILEOFFER ").starts_with("FILEOFFER ana "));
    let stop = loop {
        ana.send(&format!("/chunk {id} 1"));
        ana.send_raw(b"x");
        let l = ana.line();
        if !l.starts_with("FILEACK ") {
            break l;
        }
    };
    assert!(
        stop.starts_with(&format!("FILESTOP {id} ")) && stop.contains("binary frames"),
        "{stop}"
    );
}

/// The `id=` word of a tagged line.
fn id_of(line: &str) -> u64 {
    line.split(' ')
        .find_map(|w| w.strip_prefix("id="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no id in {line:?}"))
}

/// `/history target` on `c`: its `HISTORY` lines, up to `HISTEND`.
fn history(c: &mut Raw, target: &str) -> Vec<String> {
    c.send(&format!("/history {target}"));
    let mut out = Vec::new();
    loop {
        let l = c.line();
        if l.starts_with("HISTEND ") {
            return out;
        }
        if l.starts_with("HISTORY ") {
            out.push(l);
        }
    }
}

/// Message ids are cluster-wide (PROTOCOL.md, "Clusters"): a message has
/// the same id on every node that delivers it, in its live line and in
/// each node's `/history`; ids of two nodes differ in their node tag and
/// stay exact as JavaScript numbers.
#[test]
fn message_ids_are_the_same_on_every_node() {
    let redis = Redis::start();
    let a = node(&redis);
    let b = node(&redis);
    let (mut ana, _) = Raw::join(a.local_addr(), "ana");
    let (mut carla, _) = Raw::join(a.local_addr(), "carla");
    let (mut bob, _) = Raw::join(b.local_addr(), "bob");
    wait_users(&mut bob, &["ana", "bob", "carla"]);
    wait_users(&mut ana, &["ana", "bob", "carla"]);
    for c in [&mut ana, &mut carla, &mut bob] {
        c.send("/tags on");
        until(c, "TAGS on");
    }

    // Public from A: the same id on A (carla) and on B (bob).
    ana.send(":olá");
    let on_a = until(&mut carla, "PUBLIC ");
    let on_b = until(&mut bob, "PUBLIC ");
    assert_eq!(on_a, on_b);
    let from_a = id_of(&on_a);
    // Public from B.
    bob.send(":oi");
    let on_a = until(&mut ana, "PUBLIC ");
    let from_b = id_of(&on_a);
    assert_eq!(on_a, until(&mut carla, "PUBLIC "));
    assert_ne!(from_a % 32, from_b % 32, "two nodes, one tag");
    assert!(from_a < 1 << 53 && from_b < 1 << 53);

    // Private across: the receiver's id is the sender's history's.
    ana.send("bob:segredo");
    until(&mut ana, "SENT bob");
    let private = id_of(&until(&mut bob, "PRIVATE "));

    // A room with members on both nodes.
    for c in [&mut ana, &mut bob] {
        c.send("/join #sala");
    }
    for c in [&mut ana, &mut bob] {
        let ops = ["@ana bob", "@bob ana", "ana @bob", "@ana @bob"];
        wait_members_any(c, "#sala", &ops);
    }
    bob.send("#sala:bom dia");
    let room = id_of(&until(&mut ana, "ROOM "));

    // Each node's history holds the same messages with the same ids.
    let public_a = history(&mut carla, "*");
    let public_b = history(&mut bob, "*");
    assert_eq!(public_a, public_b);
    let ids: Vec<u64> = public_a
        .iter()
        .map(|l| {
            l.split(' ')
                .nth(4)
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        })
        .collect();
    // In id order: by time, then node tag (two nodes' messages of one
    // millisecond may come in either order).
    let mut want = [from_a, from_b];
    want.sort_unstable();
    assert_eq!(ids, want);
    let pa = history(&mut ana, "bob");
    let pb = history(&mut bob, "ana");
    assert_eq!(pa.len(), 1);
    assert_eq!(
        pa[0].replace("HISTORY bob ", ""),
        pb[0].replace("HISTORY ana ", "")
    );
    assert!(pa[0].contains(&format!(" {private} ")), "{pa:?}");
    let ra = history(&mut ana, "#sala");
    assert_eq!(ra, history(&mut bob, "#sala"));
    assert!(ra[0].contains(&format!(" {room} ")), "{ra:?}");
}

/// The ids of `HISTORY` lines, and their texts.
fn ids_texts(lines: &[String]) -> Vec<(u64, String)> {
    lines
        .iter()
        .map(|l| {
            let id = l
                .split(' ')
                .nth(4)
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let text = l.split_once(" :").map_or("", |(_, t)| t).to_owned();
            (id, text)
        })
        .collect()
}

/// History is shared (PROTOCOL.md, "Clusters"): a node started after the
/// messages were sent answers `/history` with them, public, room and
/// private, with the ids their sender's node gave them, and pages by
/// `before=` through them.
#[test]
fn history_is_shared_by_every_node() {
    let redis = Redis::start();
    let a = node(&redis);
    let (mut ana, _) = Raw::join(a.local_addr(), "ana");
    let (mut carla, _) = Raw::join(a.local_addr(), "carla");
    wait_users(&mut ana, &["ana", "carla"]);
    carla.send("/tags on");
    until(&mut carla, "TAGS on");
    let mut public = Vec::new();
    for text in ["um", "dois", "três"] {
        ana.send(&format!(":{text}"));
        let l = until(&mut carla, "PUBLIC ");
        public.push((id_of(&l), text.to_owned()));
    }
    ana.send("carla:segredo");
    until(&mut ana, "SENT carla");
    let private = id_of(&until(&mut carla, "PRIVATE "));
    ana.send("/join #sala");
    until(&mut ana, "ROOMJOIN #sala ana");
    carla.send("/join #sala");
    until(&mut ana, "ROOMJOIN #sala carla");
    ana.send("#sala:bom dia");
    let room = id_of(&until(&mut carla, "ROOM "));

    // A node that did not exist then.
    let b = node(&redis);
    let (mut bob, _) = Raw::join(b.local_addr(), "bob");
    wait_users(&mut bob, &["ana", "bob", "carla"]);
    // Once this reaches bob, A's publisher has sent everything before it.
    ana.send(":marca");
    until(&mut bob, "PUBLIC ana :marca");
    let got = ids_texts(&history(&mut bob, "*"));
    assert_eq!(&got[..3], &public[..], "{got:?}");
    assert_eq!(got[3].1, "marca");
    // Paging back by id.
    let page = ids_texts(&history(&mut bob, &format!("* 1 before={}", public[2].0)));
    assert_eq!(page, [public[1].clone()]);
    // A room joined later.
    bob.send("/join #sala");
    until(&mut bob, "ROOMJOIN #sala bob");
    assert_eq!(
        ids_texts(&history(&mut bob, "#sala")),
        [(room, "bom dia".to_owned())]
    );
    // carla comes back on B: her conversation with ana is there.
    carla.send("/quit");
    until(&mut bob, "LEFT carla");
    let (mut carla, _) = Raw::join(b.local_addr(), "carla");
    assert_eq!(
        ids_texts(&history(&mut carla, "ana")),
        [(private, "segredo".to_owned())]
    );
}

/// A history stream's key that Redis refuses to append to (here a string,
/// as an operator's mistake or another program would leave it): that
/// message is not in the shared history, but nothing else stalls: the
/// message and the ones after it are delivered across nodes, and the other
/// conversations' history is kept.
#[test]
fn a_bad_history_key_stalls_nothing() {
    let redis = Redis::start();
    let a = node(&redis);
    let b = node(&redis);
    let (mut ana, _) = Raw::join(a.local_addr(), "ana");
    let (mut bob, _) = Raw::join(b.local_addr(), "bob");
    // Each node knows the other's user (a private to bob needs it).
    wait_users(&mut bob, &["ana", "bob"]);
    wait_users(&mut ana, &["ana", "bob"]);
    let set = redis.command(&["SET", "papo:h:*", "not a stream"]);
    assert!(
        set.as_deref().is_some_and(|r| r.starts_with("+OK")),
        "{set:?}"
    );
    for text in ["um", "dois", "três"] {
        ana.send(&format!(":{text}"));
        assert_eq!(until(&mut bob, "PUBLIC "), format!("PUBLIC ana :{text}"));
    }
    ana.send("bob:ainda aqui");
    until(&mut ana, "SENT bob");
    assert_eq!(until(&mut bob, "PRIVATE "), "PRIVATE ana :ainda aqui");
    let private = ids_texts(&history(&mut bob, "ana"));
    assert_eq!(private.len(), 1, "{private:?}");
    assert_eq!(private[0].1, "ainda aqui");
    let kept = redis.command(&["GET", "papo:h:*"]);
    assert!(
        kept.as_deref().is_some_and(|r| r.contains("not a stream")),
        "{kept:?}"
    );
}
