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

/// Asks `/list` until `c` sees exactly `want`.
fn wait_users(c: &mut Raw, want: &[&str]) {
    let deadline = Instant::now() + WAIT;
    loop {
        c.send("/list");
        let users = loop {
            let l = c.line();
            if l.starts_with("USERS ") {
                break users_of(&l);
            }
        };
        if users == want {
            return;
        }
        assert!(Instant::now() < deadline, "{}: {users:?}", c.label);
        std::thread::sleep(Duration::from_millis(50));
    }
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
