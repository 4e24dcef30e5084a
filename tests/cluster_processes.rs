//! A cluster of separate `papo-server` processes over a real
//! `redis-server` (PROTOCOL.md, "Clusters"): 300 clients on 3 nodes with
//! every delivery counted, and a node killed with SIGKILL (its users gone
//! within the lease, the files crossing it ended).

mod common_proxy;
mod common_redis;
mod common_server;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use common_proxy::Proxy;
use common_redis::Redis;
use common_server::*;
use papo::{Client, ClientConfig, Event};

const BIN: &str = env!("CARGO_BIN_EXE_papo-server");

/// The cluster lease of the nodes, in seconds.
const LEASE_SECS: u64 = 3;

/// One `papo-server` process, killed when dropped.
struct NodeProc {
    child: Child,
    addr: std::net::SocketAddr,
    _log: Receiver<String>,
}

impl NodeProc {
    fn start(redis: &Redis) -> NodeProc {
        NodeProc::start_with_lease(redis, LEASE_SECS)
    }

    /// A node with a cluster lease of `lease_secs` seconds.
    fn start_with_lease(redis: &Redis, lease_secs: u64) -> NodeProc {
        let lease = lease_secs.to_string();
        let mut child = Command::new(BIN)
            .args(["--no-mdns", "--no-http", "--port", "0", "--io-threads", "1"])
            .args(["--cluster", &redis.url(), "--cluster-lease-secs", &lease])
            .args(["--max-nick-attempts", "0"])
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start papo-server");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + WAIT;
        let addr = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx
                .recv_timeout(left)
                .expect("papo-server says it is listening");
            if line.contains("papo-server listening") {
                let i = line.find("address=").expect("address= in the line") + 8;
                let a: String = line[i..]
                    .chars()
                    .take_while(|c| !c.is_whitespace())
                    .collect();
                break a.trim_matches('"').parse().expect("an address");
            }
        };
        NodeProc {
            child,
            addr,
            _log: rx,
        }
    }

    /// SIGKILL: no goodbye to Redis or anyone.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for NodeProc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Asks `/list` until `c` sees `n` users.
fn wait_count(c: &mut Raw, n: usize) {
    let deadline = Instant::now() + WAIT;
    loop {
        c.send("/list");
        let users = loop {
            let l = c.line();
            if l.starts_with("USERS ") {
                break users_of(&l);
            }
        };
        if users.len() == n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{}: {} users, want {n}",
            c.label,
            users.len()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What one client received: per sender, the numbers of its messages in
/// the order they came, by kind.
#[derive(Default)]
struct Got {
    public: HashMap<String, Vec<u32>>,
    private: HashMap<String, Vec<u32>>,
    room: HashMap<String, Vec<u32>>,
}

impl Got {
    fn total(&self) -> usize {
        [&self.public, &self.private, &self.room]
            .iter()
            .map(|m| m.values().map(Vec::len).sum::<usize>())
            .sum()
    }
}

/// 300 clients, 100 on each of 3 node processes; 10 rooms of 30 members
/// spread over the nodes. Each client sends 3 rounds of: one public
/// message, one private message to a client of another node, one message
/// to its room. Every client gets every message meant for it exactly
/// once, and each sender's messages in the order sent.
#[test]
fn three_processes_three_hundred_clients() {
    const N: usize = 300;
    const ROUNDS: u32 = 3;
    let redis = Redis::start();
    let nodes: Vec<NodeProc> = (0..3).map(|_| NodeProc::start(&redis)).collect();
    let nick = |i: usize| format!("c{i:03}");
    let room = |i: usize| format!("#sala{}", i % 10);
    let mut clients: Vec<Raw> = (0..N)
        .map(|i| {
            let (mut c, _) = Raw::join(nodes[i % 3].addr, &nick(i));
            c.send("/presence off");
            c.send(&format!("/join {}", room(i)));
            c
        })
        .collect();
    // Everyone sees everyone on every node before anything is sent, and
    // every room has its 30 members everywhere.
    for c in clients.iter_mut().take(3) {
        wait_count(c, N);
    }
    for (i, c) in clients.iter_mut().enumerate().take(30) {
        let deadline = Instant::now() + WAIT;
        loop {
            c.send(&format!("/who {}", room(i)));
            let who = loop {
                let l = c.line();
                if l.starts_with("MEMBERS ") {
                    break l;
                }
            };
            if who.split(' ').nth(2) == Some("30") {
                break;
            }
            assert!(Instant::now() < deadline, "{}: {who}", c.label);
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    // The private partner of i: on the next node.
    let partner = |i: usize| (i + 1) % N;
    for k in 1..=ROUNDS {
        for (i, c) in clients.iter_mut().enumerate() {
            c.send(&format!(":p {k}"));
            c.send(&format!("{}:q {k}", nick(partner(i))));
            c.send(&format!("{}:r {k}", room(i)));
        }
    }
    let want_public = (N - 1) * ROUNDS as usize;
    let want_room = 29 * ROUNDS as usize;
    let want_private = ROUNDS as usize;
    for (i, c) in clients.iter_mut().enumerate() {
        let mut got = Got::default();
        let want = want_public + want_room + want_private;
        while got.total() < want {
            let l = c.line();
            let (kind, rest) = match l.split_once(' ') {
                Some(x) => x,
                None => continue,
            };
            let (map, rest) = match kind {
                "PUBLIC" => (&mut got.public, rest),
                "PRIVATE" => (&mut got.private, rest),
                "ROOM" => (&mut got.room, rest.split_once(' ').map_or("", |x| x.1)),
                _ => continue,
            };
            let Some((from, text)) = rest.split_once(" :") else {
                continue;
            };
            let n: u32 = text
                .split(' ')
                .nth(1)
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("{}: {l:?}", c.label));
            map.entry(from.to_owned()).or_default().push(n);
        }
        // Nothing more than that, once the server has handled a ping.
        let extra: Vec<String> = c
            .sync()
            .into_iter()
            .filter(|l| {
                l.starts_with("PUBLIC ") || l.starts_with("PRIVATE ") || l.starts_with("ROOM ")
            })
            .collect();
        assert!(extra.is_empty(), "{}: more than sent: {extra:?}", c.label);
        let all: Vec<u32> = (1..=ROUNDS).collect();
        assert_eq!(got.public.len(), N - 1, "{}: public senders", c.label);
        for (from, ns) in &got.public {
            assert_eq!(ns, &all, "{}: public from {from}", c.label);
        }
        let from = nick((i + N - 1) % N);
        assert_eq!(got.private.get(&from), Some(&all), "{}: private", c.label);
        assert_eq!(got.room.len(), 29, "{}: room senders", c.label);
        for (from, ns) in &got.room {
            assert_eq!(ns, &all, "{}: room from {from}", c.label);
        }
    }
}

/// A node killed with SIGKILL: its users leave everywhere (within the
/// lease), the others go on chatting, and a library client of the killed
/// node, behind a load balancer (a proxy on loopback that sends new
/// connections to a live node), resumes on another node with its token
/// (kept in Redis): `recovered`, back in its room, every message sent to
/// it while it was away delivered exactly once.
#[test]
fn a_killed_node_leaves_within_the_lease() {
    let redis = Redis::start();
    let mut a = NodeProc::start(&redis);
    let b = NodeProc::start(&redis);
    let c = NodeProc::start(&redis);
    let balancer = Proxy::start(a.addr);
    let dora = Client::connect_with(
        "127.0.0.1",
        balancer.port(),
        "dora",
        ClientConfig {
            reconnect_delay: Duration::from_millis(200),
            reconnect_max_delay: Duration::from_millis(500),
            reconnect_attempts: 100,
            ..ClientConfig::default()
        },
    )
    .expect("dora joins node A through the balancer");
    dora.join("#sala").expect("dora joins #sala");
    let (mut bob, _) = Raw::join(b.addr, "bob");
    let (mut carla, _) = Raw::join(c.addr, "carla");
    carla.send("/join #sala");
    wait_count(&mut bob, 3);
    wait_count(&mut carla, 3);
    // carla is in #sala on every node before anything is sent to it.
    let deadline = Instant::now() + WAIT;
    loop {
        carla.send("/who #sala");
        let who = until(&mut carla, "MEMBERS ");
        if who.starts_with("MEMBERS #sala 2 ") {
            break;
        }
        assert!(Instant::now() < deadline, "carla: {who}");
        std::thread::sleep(Duration::from_millis(100));
    }

    // From now on the balancer sends new connections to node B, but
    // refuses them until the messages below are sent: dora comes back
    // after them, and after her node was declared dead.
    balancer.set_upstream(b.addr);
    balancer.refuse(true);
    a.kill();
    let killed = Instant::now();
    // While she is away, before anyone has noticed (A is declared dead two
    // thirds of the lease after its last heartbeat, at least a third of
    // the lease from now; these are the first lines after the kill): a
    // private (SENT, as to anyone online), a room message, a public.
    bob.send("@p dora:ainda aí?");
    let l = until(&mut bob, "@p ");
    assert!(l.starts_with("@p SENT dora"), "bob: {l}");
    carla.send("@r #sala:alguém na sala?");
    let l = until(&mut carla, "@r ");
    assert!(l.starts_with("@r SENT #sala"), "carla: {l}");
    carla.send(":para todos");
    for x in [&mut bob, &mut carla] {
        loop {
            let l = x.line();
            assert!(!l.starts_with("LEFT ") || l.starts_with("LEFT dora"), "{l}");
            if l.starts_with("LEFT dora") {
                break;
            }
        }
    }
    let gone = killed.elapsed();
    // The lease is the promise (PROTOCOL.md, "Nicknames across nodes"):
    // two thirds of it without a heartbeat, checked every 100 ms; the
    // bound leaves room for a loaded machine.
    assert!(
        gone < Duration::from_secs(LEASE_SECS + 2),
        "LEFT after {gone:?}"
    );
    // The others go on.
    bob.send(":ainda aqui");
    let l = loop {
        let l = carla.line();
        if l.starts_with("PUBLIC ") {
            break l;
        }
    };
    assert_eq!(l, "PUBLIC bob :ainda aqui");
    // dora's client comes back on node B and resumes there with her token
    // (node A is gone; the token is in Redis): recovered.
    balancer.refuse(false);
    let deadline = Instant::now() + WAIT;
    loop {
        match dora.next_event(WAIT) {
            Ok(Event::Reconnected { recovered }) => {
                assert!(recovered, "dora resumed on node B without recovering");
                break;
            }
            Ok(Event::Private { .. } | Event::Room { .. } | Event::Public { .. }) => {
                // She had seen none before the kill.
                panic!("dora: a message before Reconnected");
            }
            Ok(_) => {}
            Err(e) => panic!("dora: {e}"),
        }
        assert!(Instant::now() < deadline, "dora never reconnected");
    }
    // Declared dead before she came back: the others see her join again
    // (nobody else leaves).
    for x in [&mut bob, &mut carla] {
        loop {
            let l = x.line();
            assert!(!l.starts_with("LEFT "), "{}: {l}", x.label);
            if l.starts_with("JOIN dora") {
                break;
            }
        }
    }
    // What she missed, each exactly once, then live messages: a marker
    // from bob after her return (one sender's messages keep their order).
    bob.send("@m dora:marca");
    let l = until(&mut bob, "@m ");
    assert!(l.starts_with("@m SENT dora"), "bob: {l}");
    let mut private = 0;
    let mut room = 0;
    let mut public = 0;
    let mut later_public = 0;
    loop {
        match dora.next_event(WAIT) {
            Ok(Event::Private { from, text, .. }) if text == "marca" => {
                assert_eq!(from, "bob");
                break;
            }
            Ok(Event::Private { from, text, .. }) => {
                assert_eq!((from.as_str(), text.as_str()), ("bob", "ainda aí?"));
                private += 1;
            }
            Ok(Event::Room {
                room: r,
                from,
                text,
                ..
            }) => {
                assert_eq!(
                    (r.as_str(), from.as_str(), text.as_str()),
                    ("#sala", "carla", "alguém na sala?")
                );
                room += 1;
            }
            Ok(Event::Public { from, text, .. }) => {
                // bob's public came after her LEFT: it is in the public
                // history above her `since`, so her backlog may hold it;
                // once at most.
                if text == "ainda aqui" {
                    assert_eq!(from, "bob");
                    later_public += 1;
                    continue;
                }
                assert_eq!((from.as_str(), text.as_str()), ("carla", "para todos"));
                public += 1;
            }
            Ok(_) => {}
            Err(e) => panic!(
                "dora: {e}, waiting for bob's marker (private, room, public so far: {:?})",
                (private, room, public)
            ),
        }
    }
    assert_eq!(private, 1, "dora: bob's private");
    assert_eq!(room, 1, "dora: carla's room message");
    assert_eq!(public, 1, "dora: carla's public");
    assert!(
        later_public <= 1,
        "dora: bob's later public {later_public} times"
    );
    // Back in #sala, on every node, and reachable by name.
    for x in [&mut bob, &mut carla] {
        let deadline = Instant::now() + WAIT;
        loop {
            x.send("/who #sala");
            let who = until(x, "MEMBERS ");
            let (_, list) = who.split_once(" :").unwrap_or((&who, ""));
            let mut names: Vec<&str> = list.split(' ').map(|n| n.trim_start_matches('@')).collect();
            names.sort_unstable();
            if who.starts_with("MEMBERS #sala 2 ") && names == ["carla", "dora"] {
                break;
            }
            assert!(Instant::now() < deadline, "{}: {who}", x.label);
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    dora.send(Some("carla"), "voltei").expect("send");
    let l = loop {
        let l = carla.line();
        if l.starts_with("PRIVATE ") {
            break l;
        }
    };
    assert_eq!(l, "PRIVATE dora :voltei");
    carla.send("#sala:bem-vinda de volta");
    loop {
        match dora.next_event(WAIT) {
            Ok(Event::Room {
                room, from, text, ..
            }) => {
                assert_eq!(
                    (room.as_str(), from.as_str(), text.as_str()),
                    ("#sala", "carla", "bem-vinda de volta")
                );
                break;
            }
            Ok(_) => {}
            Err(e) => panic!("dora: {e}"),
        }
    }
}

/// Whether `l` tells a presence or membership change of `nick`.
fn about(l: &str, nick: &str) -> bool {
    let w: Vec<&str> = l.split(' ').collect();
    match w.first().copied() {
        Some("LEFT" | "JOIN") => w.get(1) == Some(&nick),
        Some("ROOMJOIN" | "ROOMPART" | "ROOMKICK") => w[1..].contains(&nick),
        _ => false,
    }
}

/// A node killed with SIGKILL whose user resumes on another node before
/// the node is declared dead (a long lease here): nobody sees the user
/// leave or come back, then or when the dead node's other users leave;
/// the user recovers every message sent to it meanwhile exactly once (a
/// private message to the dead node is held by its sender's node and
/// rerouted, and is in the history too: the client skips the second);
/// its room and rank stay.
#[test]
fn a_killed_nodes_user_resumes_before_the_node_is_declared_dead() {
    // Declared dead two thirds of the lease after its last heartbeat
    // (sent every third): at least 6 s after the kill, far more than the
    // client's reconnection below takes.
    const LONG_LEASE: u64 = 18;
    let redis = Redis::start();
    let mut a = NodeProc::start_with_lease(&redis, LONG_LEASE);
    let b = NodeProc::start_with_lease(&redis, LONG_LEASE);
    let c = NodeProc::start_with_lease(&redis, LONG_LEASE);
    let balancer = Proxy::start(a.addr);
    let dora = Client::connect_with(
        "127.0.0.1",
        balancer.port(),
        "dora",
        ClientConfig {
            reconnect_delay: Duration::from_millis(200),
            reconnect_max_delay: Duration::from_millis(500),
            reconnect_attempts: 100,
            ..ClientConfig::default()
        },
    )
    .expect("dora joins node A through the balancer");
    dora.join("#sala").expect("dora joins #sala");
    // eve, on A too, without resume: her LEFT shows when A is declared
    // dead.
    let (_eve, _) = Raw::join(a.addr, "eve");
    let (mut bob, _) = Raw::join(b.addr, "bob");
    let (mut carla, _) = Raw::join(c.addr, "carla");
    carla.send("/join #sala");
    wait_count(&mut bob, 4);
    wait_count(&mut carla, 4);
    let deadline = Instant::now() + WAIT;
    loop {
        carla.send("/who #sala");
        let who = until(&mut carla, "MEMBERS ");
        if who.starts_with("MEMBERS #sala 2 ") {
            break;
        }
        assert!(Instant::now() < deadline, "carla: {who}");
        std::thread::sleep(Duration::from_millis(100));
    }

    balancer.set_upstream(b.addr);
    balancer.refuse(true);
    a.kill();
    // While she is away: a private (to a node that no longer answers:
    // SENT, held by bob's node), a room message, a public.
    bob.send("@p dora:ainda aí?");
    let l = until(&mut bob, "@p ");
    assert!(l.starts_with("@p SENT dora"), "bob: {l}");
    carla.send("@r #sala:alguém na sala?");
    let l = until(&mut carla, "@r ");
    assert!(l.starts_with("@r SENT #sala"), "carla: {l}");
    carla.send(":para todos");
    balancer.refuse(false);
    loop {
        match dora.next_event(WAIT) {
            Ok(Event::Reconnected { recovered }) => {
                assert!(recovered, "dora resumed on node B without recovering");
                break;
            }
            Ok(Event::Private { .. } | Event::Room { .. } | Event::Public { .. }) => {
                panic!("dora: a message before Reconnected");
            }
            Ok(_) => {}
            Err(e) => panic!("dora: {e}"),
        }
    }
    bob.send("@m dora:marca");
    let l = until(&mut bob, "@m ");
    assert!(l.starts_with("@m SENT dora"), "bob: {l}");
    let (mut private, mut room, mut public) = (0, 0, 0);
    loop {
        match dora.next_event(WAIT) {
            Ok(Event::Private { from, text, .. }) if text == "marca" => {
                assert_eq!(from, "bob");
                break;
            }
            Ok(Event::Private { from, text, .. }) => {
                assert_eq!((from.as_str(), text.as_str()), ("bob", "ainda aí?"));
                private += 1;
            }
            Ok(Event::Room {
                room: r,
                from,
                text,
                ..
            }) => {
                assert_eq!(
                    (r.as_str(), from.as_str(), text.as_str()),
                    ("#sala", "carla", "alguém na sala?")
                );
                room += 1;
            }
            Ok(Event::Public { from, text, .. }) => {
                assert_eq!((from.as_str(), text.as_str()), ("carla", "para todos"));
                public += 1;
            }
            Ok(_) => {}
            Err(e) => panic!(
                "dora: {e}, waiting for bob's marker (private, room, public so far: {:?})",
                (private, room, public)
            ),
        }
    }
    assert_eq!(
        (private, room, public),
        (1, 1, 1),
        "dora: (private, room, public) received"
    );
    // A is declared dead (eve leaves everywhere); dora, on B now, does
    // not, and never did.
    for x in [&mut bob, &mut carla] {
        loop {
            let l = x.line();
            assert!(!about(&l, "dora"), "{}: {l}", x.label);
            if l.starts_with("LEFT ") {
                assert!(l.starts_with("LEFT eve"), "{}: {l}", x.label);
                break;
            }
        }
    }
    for x in [&mut bob, &mut carla] {
        for l in x.sync() {
            assert!(!about(&l, "dora"), "{}: {l}", x.label);
        }
        wait_count(x, 3);
        // Still in #sala, still its operator (its creator).
        x.send("/who #sala");
        let who = until(x, "MEMBERS ");
        assert!(
            who == "MEMBERS #sala 2 :carla @dora" || who == "MEMBERS #sala 2 :@dora carla",
            "{}: {who}",
            x.label
        );
    }
    // And reachable, both ways.
    carla.send("@q dora:ainda bem");
    let l = until(&mut carla, "@q ");
    assert!(l.starts_with("@q SENT dora"), "carla: {l}");
    loop {
        match dora.next_event(WAIT) {
            Ok(Event::Private { from, text, .. }) => {
                assert_eq!((from.as_str(), text.as_str()), ("carla", "ainda bem"));
                break;
            }
            Ok(Event::Left { nick }) => assert_eq!(nick, "eve"),
            Ok(_) => {}
            Err(e) => panic!("dora: {e}"),
        }
    }
    dora.send(Some("bob"), "oi bob").expect("send");
    assert_eq!(until(&mut bob, "PRIVATE "), "PRIVATE dora :oi bob");
}

/// A killed node's user whose nickname someone else took once the node's
/// claim lapsed: her token is no good any more, on any node (`ERROR 24`),
/// and the new holder keeps the name undisturbed.
#[test]
fn a_token_is_void_once_another_user_holds_the_nickname() {
    let redis = Redis::start();
    let mut a = NodeProc::start(&redis);
    let b = NodeProc::start(&redis);
    let c = NodeProc::start(&redis);
    let mut ana = Raw::connect_hello(a.addr);
    ana.label = "ana".to_owned();
    ana.send("/resume on");
    ana.expect("RESUME on ");
    ana.send("ana");
    ana.expect("WELCOME ana ");
    ana.expect("USERS ");
    let line = ana.expect("TOKEN ");
    let Ok(papo::protocol::ServerLine::Token { token, last_id }) =
        papo::protocol::ServerLine::parse(&line)
    else {
        panic!("not a TOKEN line: {line:?}");
    };
    let token = token.to_owned();
    let (mut bob, _) = Raw::join(b.addr, "bob");
    wait_count(&mut bob, 2);

    a.kill();
    until(&mut bob, "LEFT ana");
    // Her claim lapses within the lease: then a new user gets the name.
    let mut eve = Raw::connect_hello(c.addr);
    eve.label = "eve".to_owned();
    let deadline = Instant::now() + WAIT;
    loop {
        eve.send("ana");
        let l = eve.line();
        if l.starts_with("WELCOME ana ") {
            break;
        }
        assert!(l.starts_with("ERROR 01 ana"), "eve: {l}");
        assert!(Instant::now() < deadline, "the claim never lapsed");
        std::thread::sleep(Duration::from_millis(100));
    }
    eve.expect("USERS ");
    until(&mut bob, "JOIN ana");
    for addr in [b.addr, c.addr] {
        let mut x = Raw::connect_hello(addr);
        x.send(&format!("/resume ana {token} {last_id}"));
        let l = x.line();
        assert!(l.starts_with("ERROR 24 ana "), "resume on {addr}: {l}");
    }
    // The new holder is untouched: still reachable, nobody saw a change.
    bob.send("@1 ana:és tu?");
    let l = until(&mut bob, "@1 ");
    assert!(l.starts_with("@1 SENT ana"), "bob: {l}");
    assert_eq!(until(&mut eve, "PRIVATE "), "PRIVATE bob :és tu?");
    for l in bob.sync() {
        assert!(!about(&l, "ana"), "bob: {l}");
    }
    wait_count(&mut bob, 2);
}

/// Sends `/rooms` until its `ROOMINFO` lines are `want`.
fn wait_rooms(c: &mut Raw, want: &[&str]) {
    let deadline = Instant::now() + WAIT;
    loop {
        c.send("/rooms");
        let mut info = Vec::new();
        loop {
            let l = c.line();
            if l.starts_with("ROOMINFO ") {
                info.push(l);
            } else if l.starts_with("ROOMS ") {
                break;
            }
        }
        if info == want {
            return;
        }
        assert!(Instant::now() < deadline, "{}: rooms {info:?}", c.label);
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A node killed with SIGKILL says nothing to Redis: its room members
/// stop counting once its liveness key lapses (the lease) and the others'
/// keepers take them out, so its rooms are gone from `/rooms` or counted
/// without them, and a room only it had is new again for the next joiner
/// (who is its operator).
#[test]
fn a_killed_node_leaves_its_rooms() {
    let redis = Redis::start();
    let mut a = NodeProc::start(&redis);
    let b = NodeProc::start(&redis);
    let c = NodeProc::start(&redis);
    let (mut ana, _) = Raw::join(a.addr, "ana");
    let (mut bob, _) = Raw::join(b.addr, "bob");
    let (mut carla, _) = Raw::join(c.addr, "carla");
    wait_count(&mut bob, 3);
    wait_count(&mut carla, 3);
    ana.send("/join #r");
    until(&mut ana, "ROOMJOIN #r ana");
    ana.send("/join #so-a");
    until(&mut ana, "ROOMJOIN #so-a ana");
    bob.send("/join #r");
    until(&mut bob, "ROOMJOIN #r bob");
    wait_rooms(&mut carla, &["ROOMINFO #r 2 :", "ROOMINFO #so-a 1 :"]);

    a.kill();
    until(&mut bob, "LEFT ana");
    wait_rooms(&mut carla, &["ROOMINFO #r 1 :"]);
    bob.send("/who #r");
    assert_eq!(until(&mut bob, "MEMBERS "), "MEMBERS #r 1 :bob");
    carla.send("/join #so-a");
    until(&mut carla, "ROOMJOIN #so-a carla");
    carla.send("/who #so-a");
    assert_eq!(until(&mut carla, "MEMBERS "), "MEMBERS #so-a 1 :@carla");
    // Nothing of ana's is left in Redis once collected.
    let deadline = Instant::now() + WAIT;
    loop {
        let r = redis
            .command(&["HGETALL", "papo:roominfo:#r"])
            .unwrap_or_default();
        if !r.contains("ana") {
            break;
        }
        assert!(Instant::now() < deadline, "ana still in #r: {r:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_killed_node_ends_the_files_crossing_it() {
    let redis = Redis::start();
    let a = NodeProc::start(&redis);
    let mut b = NodeProc::start(&redis);
    let (mut ana, _) = Raw::join_binary(a.addr, "ana");
    let (mut dani, _) = Raw::join_binary(a.addr, "dani");
    let (_bob, _) = Raw::join_binary(b.addr, "bob");
    let (mut carla, _) = Raw::join_binary(b.addr, "carla");
    wait_count(&mut ana, 4);
    wait_count(&mut carla, 4);

    // ana (node A) sends bob (node B) a large file; bob does not read, so
    // the transfer is held in flight.
    let size = 64 * 1024 * 1024usize;
    ana.send(&format!("/file bob {size} :grande.bin"));
    let l = loop {
        let l = ana.line();
        if !l.starts_with("JOIN ") {
            break l;
        }
    };
    let id: u64 = l
        .strip_prefix("FILEOK ")
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("ana: {l}"));
    let sender = {
        use std::io::Write;
        let mut s = ana.stream.try_clone().expect("clone");
        std::thread::spawn(move || {
            let block = vec![7u8; 64 * 1024];
            for _ in 0..size / block.len() {
                let head = format!("/chunk {id} {}\n", block.len());
                if s.write_all(head.as_bytes()).is_err() || s.write_all(&block).is_err() {
                    return;
                }
            }
        })
    };
    loop {
        if ana.line().starts_with(&format!("FILEACK {id} ")) {
            break;
        }
    }
    // carla (node B) sends dani (node A) a file, and dani gets its start.
    carla.send("/file dani 1000 :pequeno.txt");
    let l = loop {
        let l = carla.line();
        if !l.starts_with("JOIN ") {
            break l;
        }
    };
    assert!(l.starts_with("FILEOK "), "carla: {l}");
    let header = loop {
        let l = dani.line();
        if l.starts_with("FILE ") {
            break l;
        }
    };
    let dani_id: u64 = header
        .split(' ')
        .nth(2)
        .and_then(|n| n.parse().ok())
        .expect("an id");
    assert_eq!(
        header,
        format!("FILE carla {dani_id} 1000 private :pequeno.txt")
    );

    // Node B dies with no goodbye: within the lease ana's transfer stops
    // (FILESTOP, on her next chunk) and dani's fails (FILEFAIL).
    b.kill();
    let stop = loop {
        let l = ana.line();
        if l.starts_with("FILEACK ") || l.starts_with("LEFT ") {
            continue;
        }
        break l;
    };
    assert!(stop.starts_with(&format!("FILESTOP {id} ")), "ana: {stop}");
    let fail = loop {
        let l = dani.line();
        if l.starts_with("LEFT ") || l.starts_with("JOIN ") {
            continue;
        }
        break l;
    };
    assert!(
        fail.starts_with(&format!("FILEFAIL {dani_id} :o remetente saiu")),
        "dani: {fail}"
    );
    // ana's node goes on: the rest of her chunks are skipped, not held.
    sender.join().expect("sender");
    assert!(ana
        .sync()
        .iter()
        .all(|l| l.starts_with("FILESTOP ") || l.starts_with("LEFT ")));
}
