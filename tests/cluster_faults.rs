//! A cluster's faults over a real `redis-server` (PROTOCOL.md,
//! "Clusters"): Redis gone for 5 s mid-chat, and two nodes that gave out
//! the same nickname while cut off.

mod common_redis;
mod common_server;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common_redis::Redis;
use common_server::*;
use papo::{Server, ServerConfig};

fn node(redis: &Redis) -> Server {
    start(ServerConfig {
        io_threads: 2,
        cluster: Some(redis.url()),
        cluster_lease: Duration::from_secs(3),
        ..ServerConfig::default()
    })
}

/// Sends `bob:<n>` and returns whether it was answered `SENT` (not
/// `ERROR 02`); the cluster lines met on the way go to `seen`.
fn send_numbered(ana: &mut Raw, n: u32, seen: &mut Vec<String>) -> bool {
    ana.send(&format!("bob:{n}"));
    loop {
        let l = ana.line();
        if l.starts_with("SENT bob") {
            return true;
        }
        if l.starts_with("ERROR 02 bob") {
            return false;
        }
        if l.starts_with("CLUSTER ") || l.starts_with("LOST ") {
            seen.push(l);
        }
    }
}

/// ana's side of the conversation: what was answered `SENT`, what `02`.
#[derive(Default)]
struct Talk {
    n: u32,
    sent: Vec<u32>,
    refused: u32,
    seen: Vec<String>,
}

impl Talk {
    /// Sends the next numbered message; true if it was answered `SENT`.
    fn step(&mut self, ana: &mut Raw) -> bool {
        self.n += 1;
        let ok = send_numbered(ana, self.n, &mut self.seen);
        if ok {
            self.sent.push(self.n);
        } else {
            self.refused += 1;
        }
        std::thread::sleep(Duration::from_millis(5));
        ok
    }
}

#[test]
fn redis_gone_for_five_seconds() {
    let mut redis = Redis::start();
    let a = node(&redis);
    let b = node(&redis);
    let (mut ana, _) = Raw::join(a.local_addr(), "ana");
    let (mut bob, _) = Raw::join(b.local_addr(), "bob");
    wait_users(&mut ana, &["ana", "bob"]);
    wait_users(&mut bob, &["ana", "bob"]);

    let mut t = Talk::default();
    for _ in 0..50 {
        t.step(&mut ana);
    }
    redis.stop();
    let cut = Instant::now();
    while cut.elapsed() < Duration::from_secs(5) {
        t.step(&mut ana);
    }
    redis.start_again();
    let back = Instant::now();
    // Until ana's node has healed and knows bob again, then 50 more.
    loop {
        if t.step(&mut ana) && t.seen.iter().any(|l| l.starts_with("CLUSTER healed")) {
            break;
        }
        assert!(back.elapsed() < WAIT, "never healed: {:?}", t.seen);
    }
    for _ in 0..50 {
        t.step(&mut ana);
    }
    assert!(
        t.seen.iter().any(|l| l.starts_with("CLUSTER partitioned")),
        "{:?}",
        t.seen
    );
    assert!(t.refused > 0, "no message was refused while cut off");
    let sent = t.sent;

    // bob got every message ana was told was sent, once, in order, and
    // was told of the partition and the heal.
    let want: BTreeSet<u32> = sent.iter().copied().collect();
    let mut got = Vec::new();
    let mut told = Vec::new();
    let last = *sent.last().unwrap_or(&0);
    while got.last() != Some(&last) {
        let l = bob.line();
        if let Some(t) = l.strip_prefix("PRIVATE ana :") {
            got.push(t.parse::<u32>().unwrap_or(0));
        } else if l.starts_with("CLUSTER ") || l.starts_with("LOST ") {
            told.push(l);
        }
    }
    assert!(
        got.windows(2).all(|w| w[0] < w[1]),
        "out of order or twice: {got:?}"
    );
    let missing: Vec<&u32> = want.iter().filter(|m| !got.contains(m)).collect();
    assert!(missing.is_empty(), "sent but never delivered: {missing:?}");
    assert!(
        told.iter().any(|l| l.starts_with("CLUSTER partitioned")),
        "{told:?}"
    );
    assert!(
        told.iter().any(|l| l.starts_with("CLUSTER healed")),
        "{told:?}"
    );
}

/// While Redis is gone, each node gives out `zeca` (A first). When Redis
/// is back, the later claimant (B's) is renamed and told `RENAMED`; both
/// nodes list both users under their names.
#[test]
fn later_claimant_renamed_after_a_partition() {
    let mut redis = Redis::start();
    let a = node(&redis);
    let b = node(&redis);
    let (mut ana, _) = Raw::join(a.local_addr(), "ana");
    let (mut bob, _) = Raw::join(b.local_addr(), "bob");
    wait_users(&mut ana, &["ana", "bob"]);
    redis.stop();
    // Both nodes know they are cut off.
    for c in [&mut ana, &mut bob] {
        loop {
            if c.line().starts_with("CLUSTER partitioned") {
                break;
            }
        }
    }
    let (mut first, _) = Raw::join(a.local_addr(), "zeca");
    std::thread::sleep(Duration::from_millis(50));
    let (mut later, _) = Raw::join(b.local_addr(), "zeca");
    redis.start_again();
    let renamed = loop {
        let l = later.line();
        if l.starts_with("RENAMED ") {
            break l;
        }
    };
    assert!(renamed.starts_with("RENAMED zeca zeca2 "), "{renamed}");
    wait_users(&mut first, &["ana", "bob", "zeca", "zeca2"]);
    wait_users(&mut later, &["ana", "bob", "zeca", "zeca2"]);
    // The renamed user goes on under its new name.
    later.send("zeca:oi, sou o outro");
    let got = loop {
        let l = first.line();
        if l.starts_with("PRIVATE ") {
            break l;
        }
    };
    assert_eq!(got, "PRIVATE zeca2 :oi, sou o outro");
}

/// Publishes a data message as a node `node` would (PROTOCOL.md,
/// "Clusters": `<node> <seq> PUB <from> :<text>` on `papo:all`).
fn publish_as(redis: &Redis, node: &str, seq: u64, text: &str) {
    let body = format!("{node} {seq} PUB fulano :{text}");
    let r = redis.command(&["PUBLISH", "papo:all", &body]);
    assert!(r.is_some_and(|r| r.starts_with(':')), "PUBLISH answered");
}

/// Reads `c`'s lines until `done` returns true for one, and returns the
/// public texts and the sum of the `LOST` counts seen before it.
fn publics_and_lost(c: &mut Raw, done: impl Fn(&str) -> bool) -> (Vec<String>, u64) {
    let (mut texts, mut lost) = (Vec::new(), 0);
    loop {
        let l = c.line();
        if done(&l) {
            return (texts, lost);
        }
        if let Some(t) = l.strip_prefix("PUBLIC fulano :") {
            texts.push(t.to_owned());
        } else if let Some(n) = l.strip_prefix("LOST ") {
            lost += n
                .split(' ')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
        }
    }
}

/// Waits until `bob`'s node is subscribed: a message of another node
/// (id `00000000000000aa`, text `pronto`) reaches bob. What was published
/// before a node subscribed was never its to miss.
fn wait_subscribed(redis: &Redis, bob: &mut Raw) {
    let deadline = Instant::now() + WAIT;
    let mut k = 0;
    loop {
        k += 1;
        publish_as(redis, "00000000000000aa", k, "pronto");
        bob.send("/ping pronto");
        let (t, _) = publics_and_lost(bob, |l| l.starts_with("PONG :pronto"));
        if !t.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "never subscribed");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends `/ping fim` to `bob` and reads up to its answer, adding what
/// came to `texts` and `lost`; true if `fim` came (now or before).
fn bob_saw_last(bob: &mut Raw, fim: &str, texts: &mut Vec<String>, lost: &mut u64) -> bool {
    if texts.last().is_some_and(|t| t == fim) {
        return true;
    }
    bob.send("/ping fim");
    let (t, l) = publics_and_lost(bob, |l| l.starts_with("PONG :fim"));
    texts.extend(t.into_iter().filter(|t| t != "pronto"));
    *lost += l;
    texts.last().is_some_and(|t| t == fim)
}

/// Another node's messages 2 to 4 never came: the users here are told
/// `LOST 3` (a gap in that node's numbers on the channel), and a message
/// sent again (its number already seen) is delivered once.
#[test]
fn a_gap_in_a_nodes_numbers_is_told() {
    let redis = Redis::start();
    let b = node(&redis);
    let (mut bob, _) = Raw::join(b.local_addr(), "bob");
    wait_subscribed(&redis, &mut bob);
    publish_as(&redis, "0123456789abcdef", 1, "um");
    publish_as(&redis, "0123456789abcdef", 5, "cinco");
    publish_as(&redis, "0123456789abcdef", 5, "cinco de novo");
    publish_as(&redis, "0123456789abcdef", 6, "seis");
    let (texts, lost) = publics_and_lost(&mut bob, |l| l == "PUBLIC fulano :seis");
    // A warm-up message may come late (after its ping's answer).
    let texts: Vec<String> = texts.into_iter().filter(|t| t != "pronto").collect();
    assert_eq!(texts, ["um", "cinco"]);
    assert_eq!(lost, 3);
    assert_eq!(b.stats().cluster.lost, 3);
}

/// Redis cuts this node's subscription (`CLIENT KILL TYPE pubsub`, as it
/// does to a slow consumer) at least three times while another node
/// publishes bursts of 100 messages: every message is either delivered or counted
/// in a `LOST` line; none goes missing silently.
#[test]
fn a_cut_subscription_loses_nothing_silently() {
    let redis = Redis::start();
    let b = node(&redis);
    let (mut bob, _) = Raw::join(b.local_addr(), "bob");
    wait_subscribed(&redis, &mut bob);
    let node = "fedcba9876543210";
    let mut seq = 0u64;
    let burst = |seq: &mut u64| {
        let cmds: Vec<Vec<String>> = (0..100)
            .map(|_| {
                *seq += 1;
                let body = format!("{node} {} PUB fulano :{}", *seq, *seq);
                vec!["PUBLISH".to_owned(), "papo:all".to_owned(), body]
            })
            .collect();
        assert!(redis.pipeline(&cmds).is_some(), "PUBLISH burst answered");
    };
    burst(&mut seq);
    // Cut and publish until a cut has cost something (usually the first:
    // the burst reaches Redis before the node has subscribed again).
    for round in 0..20 {
        if round >= 3 && b.stats().cluster.lost > 0 {
            break;
        }
        let killed = redis.pipeline(&[vec![
            "CLIENT".to_owned(),
            "KILL".to_owned(),
            "TYPE".to_owned(),
            "pubsub".to_owned(),
        ]]);
        assert!(killed.is_some(), "CLIENT KILL answered");
        burst(&mut seq);
    }
    // Then "fim<n>" messages until the last one sent arrives (the node
    // is subscribed again): every gap before it has been counted by then.
    let deadline = Instant::now() + WAIT;
    let (mut texts, mut lost) = (Vec::new(), 0);
    loop {
        seq += 1;
        let fim = format!("fim{seq}");
        publish_as(&redis, node, seq, &fim);
        if bob_saw_last(&mut bob, &fim, &mut texts, &mut lost) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} delivered, {lost} lost",
            texts.len()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let numbered: Vec<u64> = texts.iter().filter_map(|t| t.parse().ok()).collect();
    assert!(
        numbered.windows(2).all(|w| w[0] < w[1]),
        "order: {numbered:?}"
    );
    assert_eq!(
        texts.len() as u64 + lost,
        seq,
        "every message delivered or told lost: {} delivered, {lost} lost",
        texts.len()
    );
    assert!(lost > 0, "no cut lost anything: the test did not test");
    assert_eq!(b.stats().cluster.lost, lost);
}

/// A node started while Redis is down serves its own users (and says so in
/// a server event), and joins the cluster once Redis answers.
#[test]
fn a_node_started_without_redis_joins_later() {
    let mut redis = Redis::start();
    redis.stop();
    let a = node(&redis);
    let (mut ana, _) = Raw::join(a.local_addr(), "ana");
    let (mut carla, _) = Raw::join(a.local_addr(), "carla");
    ana.send("carla:só nós dois");
    assert_eq!(carla.expect("PRIVATE "), "PRIVATE ana :só nós dois");
    let event = loop {
        match a.next_event(WAIT) {
            Some(papo::ServerEvent::Cluster {
                partitioned,
                message,
            }) => break (partitioned, message),
            Some(_) => {}
            None => panic!("no cluster event"),
        }
    };
    assert!(event.0, "{event:?}");
    assert!(a.stats().cluster.partitioned);

    redis.start_again();
    let b = node(&redis);
    let (mut bob, _) = Raw::join(b.local_addr(), "bob");
    loop {
        if ana.line().starts_with("CLUSTER healed") {
            break;
        }
    }
    wait_users(&mut bob, &["ana", "bob", "carla"]);
    wait_users(&mut ana, &["ana", "bob", "carla"]);
    // ana's nickname was claimed once Redis answered: nobody else gets it.
    let mut dup = Raw::connect_hello(b.local_addr());
    dup.send("ana");
    assert!(dup.line().starts_with("ERROR 01 ana"));
}
