//! Fuzz target `session`: the server's real sessions
//! ([`papo::server::session`]) hosted in memory by a [`Hub`], driven by
//! what up to three clients send and by the clock.
//!
//! The script is played twice: each client's bytes handed over whole, and
//! cut into pseudo-random pieces. Both runs must give every connection
//! exactly the same bytes and the server the same events. Every line each
//! connection gets is checked as it arrives (see [`Watcher`]), and at rest
//! (after every step of the script) what the clients were told must agree
//! with the server's registry.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use papo::config::Password;
use papo::protocol::{nick_fold, nick_key, ServerLine, MAX_LABEL_BYTES};
use papo::server::session::Phase;
use papo::{ServerConfig, ServerEvent};

use super::{chunk_lengths, cut};
use crate::hub::{ConnId, Hub};
use crate::wire;

/// The password of the profiles that want one (see [`session`]).
pub const SESSION_PASSWORD: &str = "fuzz";

/// The byte that starts an instruction of the script (see [`session`]).
const ESCAPE: u8 = 0xff;
/// The clients' letters in the script.
const CLIENTS: [u8; 3] = [b'a', b'b', b'c'];
/// Largest piece of the cut run.
const MAX_PIECE: usize = 23;

/// One step of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// Client `k` sends these bytes.
    Send(usize, Vec<u8>),
    /// Client `k` closes its side; its next bytes open a new connection.
    Close(usize),
    /// The clock moves this many seconds and the sessions get a tick.
    Wait(u64),
}

/// Reads a script: bytes go to the current client (`a` at first); `FF a`,
/// `FF b`, `FF c` make another client current, `FF e` closes the current
/// client's connection, `FF t <n>` moves the clock `n` seconds (1 if the
/// input ends there). `FF` followed by anything else is an `FF` byte.
fn script(bytes: &[u8]) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut current = 0usize;
    let mut pending = Vec::new();
    let flush = |pending: &mut Vec<u8>, steps: &mut Vec<Step>, current: usize| {
        if !pending.is_empty() {
            steps.push(Step::Send(current, std::mem::take(pending)));
        }
    };
    let mut i = 0usize;
    while let Some(&b) = bytes.get(i) {
        i += 1;
        let op = bytes.get(i).copied();
        if b != ESCAPE {
            pending.push(b);
            continue;
        }
        match op {
            Some(x) if CLIENTS.contains(&x) => {
                flush(&mut pending, &mut steps, current);
                current = CLIENTS.iter().position(|c| *c == x).unwrap_or(0);
                i += 1;
            }
            Some(b'e') => {
                flush(&mut pending, &mut steps, current);
                steps.push(Step::Close(current));
                i += 1;
            }
            Some(b't') => {
                flush(&mut pending, &mut steps, current);
                let secs = bytes.get(i + 1).map_or(1, |n| u64::from(*n));
                steps.push(Step::Wait(secs));
                i += 2;
            }
            _ => pending.push(b),
        }
    }
    flush(&mut pending, &mut steps, current);
    steps
}

/// The server's settings for an input (see [`session`]).
fn config(a: u8, b: u8) -> ServerConfig {
    let max_line = 16 + 4 * usize::from(b);
    let mut cfg = ServerConfig {
        max_line_bytes: max_line,
        max_discard_bytes: max_line * 4,
        max_nick_chars: 1 + usize::from(a % 40),
        max_nick_attempts: 0,
        flood_lines_per_sec: 0,
        keepalive_interval: Duration::ZERO,
        registration_timeout: Duration::from_secs(30),
        max_payload_bytes: 200,
        max_file_bytes: 1000,
        max_queue_bytes: 512,
        ..ServerConfig::default()
    };
    let profile = a / 40;
    let all = profile >= 5;
    if profile == 1 || all {
        cfg.flood_lines_per_sec = 2;
        cfg.flood_burst_lines = 8;
    }
    if profile == 2 || all {
        cfg.password = Some(Password::from(SESSION_PASSWORD));
    }
    if profile == 3 || all {
        cfg.max_nick_attempts = 3;
    }
    if profile == 4 || all {
        cfg.keepalive_interval = Duration::from_secs(10);
        cfg.keepalive_timeout = Duration::from_secs(5);
    }
    if profile == 6 {
        let d = ServerConfig::default();
        cfg.max_payload_bytes = d.max_payload_bytes;
        cfg.max_file_bytes = d.max_file_bytes;
        cfg.max_queue_bytes = d.max_queue_bytes;
    }
    cfg
}

/// A file announced to a connection and not ended yet.
#[derive(Debug)]
struct OpenFile {
    size: u64,
    received: u64,
    /// Its sender's nickname key, while this connection has been told of
    /// every rename since (presence on all along).
    sender: Option<String>,
}

/// What one connection was told, checked line by line.
#[derive(Debug)]
struct Watcher {
    who: String,
    /// Bytes of an item not complete yet.
    buf: Vec<u8>,
    hello: bool,
    /// Its nickname (`WELCOME`, then its own `NICK` lines).
    me: Option<String>,
    /// `JOIN`/`LEFT`/`NICK` lines about others come (`PRESENCE`).
    presence: bool,
    /// Who is online as it was told (keys), while it can know: from a
    /// `USERS` list received with presence on, then every change.
    online: Option<BTreeSet<String>>,
    files: BTreeMap<u64, OpenFile>,
    /// Every label the client may have sent (a superset: anything that
    /// looks like one after a `@`, payloads included).
    labels: BTreeSet<String>,
    /// What the client sent.
    input: Vec<u8>,
}

impl Watcher {
    fn new(c: ConnId) -> Watcher {
        Watcher {
            who: format!("connection {}", c.0),
            buf: Vec::new(),
            hello: false,
            me: None,
            presence: true,
            online: None,
            files: BTreeMap::new(),
            labels: BTreeSet::new(),
            input: Vec::new(),
        }
    }

    /// The client sends `bytes`: remembers the labels it may have used
    /// (whatever follows a `@` anywhere: a line may start after a payload,
    /// with no LF before it, and a label may be cut between two sends).
    fn note_input(&mut self, bytes: &[u8]) {
        let from = self.input.len().saturating_sub(MAX_LABEL_BYTES + 1);
        self.input.extend_from_slice(bytes);
        let input = self.input.get(from..).unwrap_or(&[]);
        for (k, &b) in input.iter().enumerate() {
            if b != b'@' {
                continue;
            }
            let rest = input.get(k + 1..).unwrap_or(&[]);
            let label: Vec<u8> = rest
                .iter()
                .copied()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
                .take(MAX_LABEL_BYTES)
                .collect();
            self.labels
                .insert(String::from_utf8_lossy(&label).into_owned());
        }
    }

    fn fail(&self, line: &str, why: &str) -> ! {
        panic!("{} got {line:?}: {why}", self.who)
    }

    /// Bytes the connection received.
    fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        let buf = std::mem::take(&mut self.buf);
        let (items, used) = match wire::items(&buf) {
            Ok(x) => x,
            Err(e) => panic!(
                "{} got {e}; the stream: {:?}",
                self.who,
                String::from_utf8_lossy(&buf)
            ),
        };
        for item in &items {
            let payload = item.payload.as_ref().map_or(0, |p| p.len() as u64);
            self.seen(&item.line, payload);
        }
        self.buf = buf.get(used..).unwrap_or(&[]).to_vec();
    }

    fn registered(&self, line: &str) -> &str {
        match &self.me {
            Some(me) => me,
            None => self.fail(line, "a line for registered users before WELCOME"),
        }
    }

    fn check_online(&self, line: &str, nick: &str) {
        if let Some(online) = &self.online {
            if !online.contains(&nick_key(nick)) {
                self.fail(line, "from someone it was not told is online");
            }
        }
    }

    /// One line (and the size of its payload).
    fn seen(&mut self, line: &str, payload: u64) {
        let (label, parsed) = match wire::check_line(line) {
            Ok(x) => x,
            Err(e) => panic!("{}: {e}", self.who),
        };
        if !self.hello {
            if !matches!(parsed, ServerLine::Hello { .. }) || label.is_some() {
                self.fail(line, "the first line is not HELLO");
            }
            self.hello = true;
            return;
        }
        if let Some(l) = label {
            if !self.labels.contains(l) {
                self.fail(line, "a label the client never sent");
            }
            let delivery = matches!(
                parsed,
                ServerLine::Hello { .. }
                    | ServerLine::Public { .. }
                    | ServerLine::Private { .. }
                    | ServerLine::Join { .. }
                    | ServerLine::Left { .. }
                    | ServerLine::Changes(_)
                    | ServerLine::Ping(_)
                    | ServerLine::File { .. }
                    | ServerLine::Chunk { .. }
                    | ServerLine::FileEnd { .. }
                    | ServerLine::FileFail { .. }
                    | ServerLine::Bytes { .. }
                    | ServerLine::FileOffer { .. }
                    | ServerLine::BytesNote { .. }
                    | ServerLine::FileAck { .. }
                    | ServerLine::Room { .. }
            );
            if delivery {
                self.fail(line, "a labeled line that answers no request");
            }
        }
        match parsed {
            ServerLine::Hello { .. } => self.fail(line, "a second HELLO"),
            ServerLine::Welcome { nick } => {
                if self.me.is_some() {
                    self.fail(line, "a second WELCOME");
                }
                self.me = Some(nick.to_owned());
            }
            ServerLine::Users(list) => {
                let me = nick_key(self.registered(line));
                // Sorted case-insensitively (by `nick_fold`), each person
                // (`nick_key`) once.
                let keys: Vec<String> = list.iter().map(|n| nick_key(n)).collect();
                let folds: Vec<String> = list.iter().map(|n| nick_fold(n)).collect();
                let people: BTreeSet<&String> = keys.iter().collect();
                if !folds.windows(2).all(|w| w[0] < w[1]) || people.len() != keys.len() {
                    self.fail(
                        line,
                        "USERS not sorted case-insensitively, or a nickname twice",
                    );
                }
                if !keys.contains(&me) {
                    self.fail(line, "USERS without the connection itself");
                }
                if self.presence {
                    self.online = Some(keys.into_iter().collect());
                }
            }
            ServerLine::Presence(on) => {
                if !on {
                    self.online = None;
                    for f in self.files.values_mut() {
                        f.sender = None;
                    }
                }
                self.presence = on;
            }
            ServerLine::Join { nick } => {
                self.registered(line);
                if !self.presence {
                    self.fail(line, "a JOIN with presence off");
                }
                if let Some(online) = &mut self.online {
                    if !online.insert(nick_key(nick)) {
                        self.fail(line, "a JOIN for someone it was told is online");
                    }
                }
            }
            ServerLine::Left { nick } => {
                self.registered(line);
                if !self.presence {
                    self.fail(line, "a LEFT with presence off");
                }
                let key = nick_key(nick);
                if let Some(online) = &mut self.online {
                    if !online.remove(&key) {
                        self.fail(line, "a LEFT for someone it was not told is online");
                    }
                }
                if let Some((id, _)) = self
                    .files
                    .iter()
                    .find(|(_, f)| f.sender.as_deref() == Some(&key))
                {
                    let why = format!("the sender's LEFT before FILEEND/FILEFAIL {id}");
                    self.fail(line, &why);
                }
            }
            ServerLine::Nick { old, new } => {
                let me = self.registered(line).to_owned();
                let (old_key, new_key) = (nick_key(old), nick_key(new));
                if old_key == nick_key(&me) {
                    if old != me {
                        self.fail(line, "its own NICK with another spelling of its old name");
                    }
                    self.me = Some(new.to_owned());
                } else {
                    if !self.presence {
                        self.fail(line, "another user's NICK with presence off");
                    }
                    if label.is_some() {
                        self.fail(line, "another user's NICK, labeled");
                    }
                }
                if let Some(online) = &mut self.online {
                    if !online.remove(&old_key) {
                        self.fail(line, "a NICK for someone it was not told is online");
                    }
                    if !online.insert(new_key.clone()) {
                        self.fail(line, "a NICK to a nickname someone else has");
                    }
                }
                for f in self.files.values_mut() {
                    if f.sender.as_deref() == Some(&old_key) {
                        f.sender = Some(new_key.clone());
                    }
                }
            }
            ServerLine::Changes(list) => {
                // Several changes gathered in one line (PROTOCOL.md,
                // "Presence"): each is checked as its single line.
                for change in list {
                    let mut one = Vec::new();
                    change.into_line().encode(&mut one);
                    let one = String::from_utf8_lossy(&one);
                    self.seen(one.trim_end_matches('\n'), 0);
                }
            }
            ServerLine::Public { from, .. }
            | ServerLine::Private { from, .. }
            | ServerLine::Bytes { from, .. }
            | ServerLine::BytesNote { from, .. }
            | ServerLine::FileOffer { from, .. } => {
                // A FILEOFFER (no `/binary on`) opens no file: none of its
                // frames follow.
                self.registered(line);
                self.check_online(line, from);
            }
            ServerLine::File { from, id, size, .. } => {
                self.registered(line);
                self.check_online(line, from);
                let file = OpenFile {
                    size,
                    received: 0,
                    sender: self.online.as_ref().map(|_| nick_key(from)),
                };
                if self.files.insert(id, file).is_some() {
                    self.fail(line, "a FILE whose number is open already");
                }
            }
            ServerLine::Chunk { id, .. } => {
                let Some(f) = self.files.get_mut(&id) else {
                    self.fail(line, "a CHUNK of no open file");
                };
                f.received += payload;
                if f.received > f.size {
                    self.fail(line, "more bytes than the FILE line announced");
                }
            }
            ServerLine::FileEnd { id } => match self.files.remove(&id) {
                Some(f) if f.received == f.size => {}
                Some(_) => self.fail(line, "FILEEND before every byte came"),
                None => self.fail(line, "FILEEND of no open file"),
            },
            ServerLine::FileFail { id, .. } => {
                if self.files.remove(&id).is_none() {
                    self.fail(line, "FILEFAIL of no open file");
                }
            }
            ServerLine::PassAccepted => {
                if self.me.is_some() {
                    self.fail(line, "PASS after registration");
                }
            }
            ServerLine::Sent { .. }
            | ServerLine::Pong(_)
            | ServerLine::Ping(_)
            | ServerLine::Help(_)
            | ServerLine::FileOk { .. }
            | ServerLine::FileAck { .. }
            | ServerLine::FileDone { .. }
            | ServerLine::FileStop { .. } => {
                self.registered(line);
            }
            ServerLine::Room { .. }
            | ServerLine::RoomJoin { .. }
            | ServerLine::RoomPart { .. }
            | ServerLine::RoomKick { .. }
            | ServerLine::RoomOp { .. }
            | ServerLine::Topic { .. }
            | ServerLine::Members { .. }
            | ServerLine::RoomInfo { .. }
            | ServerLine::RoomsEnd { .. }
            | ServerLine::Oper
            | ServerLine::History { .. }
            | ServerLine::HistoryEnd { .. }
            | ServerLine::Token { .. }
            | ServerLine::Resumed { .. } => {
                self.registered(line);
            }
            ServerLine::Binary(_)
            | ServerLine::Tags(_)
            | ServerLine::ResumeCap(_)
            | ServerLine::Error { .. } => {}
            ServerLine::Cluster(_) | ServerLine::Lost { .. } | ServerLine::Renamed { .. } => {
                self.fail(line, "a cluster line from a server in no cluster")
            }
        }
    }
}

/// Everything the connections received and the server's events: what
/// must not depend on how the input is cut.
#[derive(Debug, PartialEq, Eq)]
struct Transcript {
    streams: Vec<Vec<u8>>,
    events: Vec<ServerEvent>,
}

/// Takes what every connection was sent (checking it) and reads what can
/// be read, until nothing moves: the clients read everything, so a sender
/// paused by flow control is resumed.
fn settle(hub: &mut Hub, watchers: &mut [Watcher]) {
    loop {
        let mut moved = false;
        for (k, w) in watchers.iter_mut().enumerate() {
            let bytes = hub.take(ConnId(k));
            if !bytes.is_empty() {
                moved = true;
                w.feed(&bytes);
            }
        }
        moved |= hub.pump();
        if !moved {
            return;
        }
    }
}

/// At rest: what each open connection was told agrees with the server.
fn check_at_rest(hub: &Hub, watchers: &[Watcher]) {
    let keys: BTreeSet<String> = hub.directory().nicks().map(nick_key).collect();
    for (k, w) in watchers.iter().enumerate() {
        let c = ConnId(k);
        assert!(
            w.buf.is_empty(),
            "{} holds part of an item at rest: {:?}",
            w.who,
            String::from_utf8_lossy(&w.buf)
        );
        if hub.phase(c) == Phase::Closed {
            continue;
        }
        assert!(
            hub.unread_input(c) == 0,
            "{} is not read at rest (paused: {})",
            w.who,
            hub.is_paused(c)
        );
        assert_eq!(
            w.me,
            hub.nick(c),
            "{}: the nickname it was told vs its session's",
            w.who
        );
        if let Some(online) = &w.online {
            assert_eq!(
                online, &keys,
                "{}: who it was told is online vs the registry",
                w.who
            );
        }
        for id in w.files.keys() {
            let sender = hub.transfer_sender(*id);
            let open = sender.is_some_and(|s| hub.phase(s) == Phase::Registered);
            assert!(
                open,
                "{}: file {id} is still open, but its sender ({sender:?}) is gone",
                w.who
            );
        }
    }
}

/// Each connection's events: `Connected`, then `Registered` at most once,
/// `NickChanged` only after it, and `Disconnected` last and once.
fn check_events(events: &[ServerEvent], conns: usize) {
    for k in 0..conns {
        let id = ConnId(k).id();
        let mine: Vec<&ServerEvent> = events
            .iter()
            .filter(|e| match e {
                ServerEvent::Connected { id: i, .. }
                | ServerEvent::Registered { id: i, .. }
                | ServerEvent::NickChanged { id: i, .. }
                | ServerEvent::Disconnected { id: i, .. } => *i == id,
                ServerEvent::History { .. } | ServerEvent::Cluster { .. } => false,
            })
            .collect();
        let ok = match mine.as_slice() {
            [ServerEvent::Connected { .. }, middle @ .., ServerEvent::Disconnected { .. }] => {
                match middle {
                    [] => true,
                    [ServerEvent::Registered { .. }, rest @ ..] => rest
                        .iter()
                        .all(|e| matches!(e, ServerEvent::NickChanged { .. })),
                    _ => false,
                }
            }
            _ => false,
        };
        assert!(ok, "the events of connection {k}: {mine:?}");
    }
}

/// Plays a script; `seed` cuts each client's bytes into pieces.
fn play(cfg: &ServerConfig, steps: &[Step], seed: Option<u64>) -> Transcript {
    let mut hub = Hub::new(cfg);
    let mut current: [Option<ConnId>; 3] = [None; 3];
    let mut watchers: Vec<Watcher> = Vec::new();
    for (n, step) in steps.iter().enumerate() {
        match step {
            Step::Send(who, bytes) => {
                let Some(slot) = current.get_mut(*who) else {
                    continue;
                };
                let c = match *slot {
                    Some(c) => c,
                    None => {
                        let c = hub.connect();
                        watchers.push(Watcher::new(c));
                        *slot = Some(c);
                        c
                    }
                };
                if let Some(w) = watchers.get_mut(c.0) {
                    w.note_input(bytes);
                }
                match seed {
                    None => hub.send(c, bytes),
                    Some(s) => {
                        let s = s.wrapping_add((n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
                        for part in cut(bytes, &chunk_lengths(s, bytes.len(), MAX_PIECE)) {
                            hub.send(c, part);
                        }
                    }
                }
            }
            Step::Close(who) => {
                if let Some(c) = current.get_mut(*who).and_then(Option::take) {
                    hub.close_input(c);
                }
            }
            Step::Wait(secs) => hub.advance(Duration::from_secs(*secs)),
        }
        settle(&mut hub, &mut watchers);
        check_at_rest(&hub, &watchers);
        // A connection the server closed is replaced at its next bytes.
        for slot in &mut current {
            if slot.is_some_and(|c| hub.phase(c) == Phase::Closed) {
                *slot = None;
            }
        }
    }
    for k in 0..hub.len() {
        hub.close_input(ConnId(k));
    }
    settle(&mut hub, &mut watchers);
    check_at_rest(&hub, &watchers);
    for k in 0..hub.len() {
        assert_eq!(
            hub.phase(ConnId(k)),
            Phase::Closed,
            "connection {k} is still open after its peer closed"
        );
    }
    assert!(
        hub.directory().is_empty(),
        "nicknames left in the registry: {:?}",
        hub.directory().nicks().collect::<Vec<_>>()
    );
    let events = hub.events();
    check_events(&events, hub.len());
    Transcript {
        streams: (0..hub.len())
            .map(|k| hub.received(ConnId(k)).to_vec())
            .collect(),
        events,
    }
}

/// Fuzz target `session`: the server's sessions, hosted in memory.
///
/// Input: byte 0 picks the nickname limit (`1 + a % 40` characters) and a
/// profile (`a / 40`): 0 plain (no flood limit, no keepalive, no
/// password, no limit on nickname attempts); 1 a flood limit of 8 lines
/// at once and 2 per second; 2 the password [`SESSION_PASSWORD`]; 3 three
/// nickname attempts; 4 keepalive (a probe after 10 s of silence, closed
/// 5 s later); 5 all of these; 6 all of these with the default payload,
/// file and queue limits. The other profiles allow binary messages of 200
/// bytes, files of 1000 bytes and queues of 512 bytes (so flow control
/// pauses a sender after 256 bytes in flight). Byte 1 picks the line limit
/// (`16 + 4 * b` bytes, the discard limit four times that), bytes 2-3 the
/// seed of the cut run. The rest is a script: bytes that client `a`
/// sends, where `FF 62` (`FF b`) and `FF 63` switch to clients `b` and
/// `c` and `FF 61` back to `a`, `FF 65` (`e`) closes the current client's
/// side (its next bytes open a new connection, as do bytes for a client
/// the server closed), and `FF 74 n` (`t`) moves the clock `n` seconds
/// (timeouts, keepalive, the flood limit's refill). Transfer numbers start
/// at 1, so a script can send `/chunk 1 5`. (The harness of the old
/// `protocol` target read one client's bytes after the same four bytes:
/// its inputs are inputs of this one, in profile 0.)
///
/// Panics (a finding) if:
/// - a line a connection gets is not UTF-8, holds a control character
///   other than TAB, is refused by [`ServerLine::parse_labeled`], or a
///   `BYTES`/`CHUNK` payload is not followed by its LF;
/// - a public message, private message, `FILE` or `BYTES` names anyone
///   but its sender's nickname at that moment (checked by the [`Hub`]),
///   or comes from someone the receiver was not told is online;
/// - anything is written to a connection after its session closed, or a
///   session ends without exactly one `Disconnected` event;
/// - the first line is not `HELLO`, a second `HELLO` or `WELCOME` comes,
///   a registered user's line comes before `WELCOME`, a `JOIN`/`LEFT`/
///   `NICK` about someone else comes with presence off, or they do not fit
///   the `USERS` list and one another (at rest, what a connection with
///   presence on was told must be the registry);
/// - a labeled line answers no request of that client, or is a delivery;
/// - file frames do not fit their `FILE` line, a file's `FILEFAIL` comes
///   after its sender's `LEFT`, or a file stays open for a receiver after
///   its sender is gone;
/// - a connection's nickname as it was told differs from its session's;
/// - once every client has closed, a session is still open or a nickname
///   is still registered;
/// - the two runs, whole and cut, differ in any byte or event.
pub fn session(data: &[u8]) {
    let (Some(&a), Some(&b), Some(&c), Some(&d)) =
        (data.first(), data.get(1), data.get(2), data.get(3))
    else {
        return;
    };
    let cfg = config(a, b);
    let steps = script(data.get(4..).unwrap_or(&[]));
    let seed = u64::from(u16::from_le_bytes([c, d]));
    let whole = play(&cfg, &steps, None);
    let pieces = play(&cfg, &steps, Some(seed));
    if whole == pieces {
        return;
    }
    for (k, (w, p)) in whole.streams.iter().zip(&pieces.streams).enumerate() {
        assert_eq!(
            String::from_utf8_lossy(p),
            String::from_utf8_lossy(w),
            "connection {k}: what it got depends on how the input is cut"
        );
    }
    assert_eq!(
        pieces.events, whole.events,
        "the server's events depend on how the input is cut"
    );
    panic!("the transcripts differ: {whole:?} vs {pieces:?}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts() {
        assert_eq!(
            script(b"ana\n\xffbbob\n\xfft\x1e\xffe\xff\xfe\xffa:x"),
            [
                Step::Send(0, b"ana\n".to_vec()),
                Step::Send(1, b"bob\n".to_vec()),
                Step::Wait(30),
                Step::Close(1),
                Step::Send(1, b"\xff\xfe".to_vec()),
                Step::Send(0, b":x".to_vec()),
            ]
        );
        assert_eq!(script(b"\xfft"), [Step::Wait(1)]);
        assert_eq!(script(b"x\xff"), [Step::Send(0, b"x\xff".to_vec())]);
    }
}
