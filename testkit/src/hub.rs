//! [`Hub`]: the server's sessions hosted in memory, with no socket and no
//! thread, for the session tests and the `session` fuzz target.
//!
//! It is the reference host of the rules, written to the semantics of the
//! I/O threads (`src/server/dispatch.rs`, `worker.rs`), synchronously:
//!
//! - every connection has its [`Session`], its own [`LineBuffer`] (limit
//!   [`Rules::framing_limit`], discard limit `max_discard_bytes`), the
//!   input it was sent and not yet read, and everything it was sent;
//! - the input of a connection is read, like a socket, in reads of at most
//!   [`Session::read_allowance`] bytes (and [`Hub::set_max_read`]); a
//!   session that allows nothing is not read again until its resume
//!   function ([`Host::resumer`]) is called or more input arrives;
//! - replies go to the connection's own stream at once; public messages
//!   to every registered connection but the sender; `JOIN`/`LEFT`/`NICK`
//!   to every registered connection with presence on but the one that
//!   changed, registered before the change; private messages and frames to
//!   the connection named, if it is still registered; frames to
//!   [`Target::All`] to the registered connections older than its `seq`;
//! - a frame a connection sends to itself (a file to oneself) comes after
//!   the replies to the line or payload that sent it (in the worker it
//!   travels through the thread's inbox and comes after the replies to
//!   that read; here the point does not depend on how the input was cut);
//! - file frames charge their transfer's [`Flow`] for as long as the
//!   receiver has not read them: the credits are given back when the test
//!   takes the bytes ([`Hub::take`], [`Hub::lines`], [`Hub::items`]), as the
//!   worker gives them back when the bytes are written to the socket;
//! - time is the test's: [`Hub::advance`] moves the clock and offers every
//!   session a timer tick ([`Session::on_timer`]).
//!
//! Outbound queues are unbounded here: dropping slow consumers, stalled
//! file receivers and lingering closes are the worker's business, not the
//! rules'.
//!
//! On top of hosting, the hub checks what a host can see of the rules and
//! panics when one is broken: every public message, private message,
//! `FILE` and `BYTES` must name its sender's nickname at that moment (no
//! line can claim to come from someone else); nothing is written to a
//! connection after its session closed; a session ends with one
//! `Disconnected` event.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use papo::protocol::{Frame, LineBuffer, Next, ServerLine, Tag};
use papo::server::session::{
    deliver_to, Credit, Cx, Delivery, Directory, Flow, History, Host, Peer, Phase, Resumption,
    RoomCast, Rules, Session, Target,
};
use papo::{ErrorCode, ServerConfig, ServerEvent};

use crate::wire;

/// One connection of a [`Hub`] (its index, in the order of
/// [`Hub::connect`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(pub usize);

impl ConnId {
    /// The connection's id as its session's host reports it
    /// ([`Peer::id`], and the `id` of its server events): index + 1.
    pub fn id(self) -> u64 {
        self.0 as u64 + 1
    }
}

/// What a worker reads from a socket at once (its scratch buffer).
const DEFAULT_MAX_READ: usize = 64 * 1024;

struct Conn {
    session: Option<Session>,
    lines: LineBuffer,
    addr: SocketAddr,
    /// Everything this connection was sent.
    out: Vec<u8>,
    /// Bytes of `out` the test has taken.
    taken: usize,
    /// File credits for bytes of `out` not taken yet: (end offset, credit).
    credits: VecDeque<(usize, Credit)>,
    /// The registry change that registered it (0: not registered).
    reg_seq: u64,
    /// Input sent and not read yet.
    input: VecDeque<u8>,
    /// The peer closed its side after `input`.
    eof: bool,
    /// Not read until resumed (or more input arrives).
    paused: bool,
    /// Calls of the resume function handed out for it.
    resumes: Arc<AtomicU64>,
    /// Resume calls already acted on.
    resumes_seen: u64,
    /// `out.len()` when its session closed (its `Disconnected` event).
    closed_at: Option<usize>,
    /// Frames it sent itself (a file to oneself), not delivered yet:
    /// (bytes, transfer, charged).
    own: Vec<(Vec<u8>, Option<Arc<Flow>>, bool)>,
}

/// The state every session's host shares: what [`HubHost`] borrows.
struct Core {
    conns: Vec<Conn>,
    directory: Directory,
    events: Vec<ServerEvent>,
    transfers: u64,
    /// Transfer number -> the connection that sent it.
    senders: BTreeMap<u64, usize>,
    stopping: bool,
    /// Message ids and history, as the server's.
    history: History,
    /// Connections a server operator put off the server, with the
    /// operator's nickname: failed once the current input is handled (the
    /// worker does it when its inbox brings the command).
    kicks: Vec<(usize, String)>,
}

/// The server's sessions in memory. See the module documentation.
pub struct Hub {
    rules: Rules,
    now: Instant,
    max_read: usize,
    core: Core,
}

impl Hub {
    /// A hub with the limits of `cfg` (its I/O settings are not used), the
    /// clock at the epoch of the rules.
    pub fn new(cfg: &ServerConfig) -> Hub {
        let now = Instant::now();
        Hub {
            rules: Rules::new(cfg, now),
            now,
            max_read: DEFAULT_MAX_READ,
            core: Core {
                conns: Vec::new(),
                directory: Directory::default(),
                events: Vec::new(),
                transfers: 0,
                senders: BTreeMap::new(),
                stopping: false,
                history: History::new(cfg.history_limit, cfg.history_max_age, 0, None),
                kicks: Vec::new(),
            },
        }
    }

    /// The rules the sessions follow.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// The clock.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Reads of a connection's input take at most `n` bytes (at least 1;
    /// 64 KiB by default, as the worker's).
    pub fn set_max_read(&mut self, n: usize) {
        self.max_read = n.max(1);
    }

    /// A new connection, sent `HELLO` ([`Rules::hello`]).
    pub fn connect(&mut self) -> ConnId {
        let k = self.core.conns.len();
        let port = 40_000u16.wrapping_add(k as u16);
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        self.core.conns.push(Conn {
            session: Some(Session::new(&self.rules, self.now)),
            lines: LineBuffer::new(self.rules.framing_limit(), self.rules.max_discard_bytes),
            addr,
            out: self.rules.hello(),
            taken: 0,
            credits: VecDeque::new(),
            reg_seq: 0,
            input: VecDeque::new(),
            eof: false,
            paused: false,
            resumes: Arc::new(AtomicU64::new(0)),
            resumes_seen: 0,
            closed_at: None,
            own: Vec::new(),
        });
        self.core.events.push(ServerEvent::Connected {
            id: ConnId(k).id(),
            addr,
        });
        ConnId(k)
    }

    /// Connects, sends `/pass <password>` when the rules have a password,
    /// then `/binary on` (as a library client does), then `nick`, and
    /// checks it was welcomed. Returns the connection with nothing left to
    /// take.
    pub fn join(&mut self, nick: &str) -> ConnId {
        self.join_with(nick, true)
    }

    /// [`Hub::join`] without `/binary on`: a person at `nc`, who gets files
    /// and binary messages as `FILEOFFER` / `BYTESNOTE` lines.
    pub fn join_text_only(&mut self, nick: &str) -> ConnId {
        self.join_with(nick, false)
    }

    fn join_with(&mut self, nick: &str, binary: bool) -> ConnId {
        let c = self.connect();
        if let Some(p) = self.rules.password.clone() {
            self.send(c, format!("/pass {}\n", p.as_str()));
        }
        if binary {
            self.send(c, "/binary on\n");
        }
        self.send(c, format!("{nick}\n"));
        let lines = self.lines(c);
        let welcome = format!("WELCOME {nick} :");
        assert!(
            lines.iter().any(|l| l.starts_with(&welcome)),
            "{nick} was not welcomed: {lines:?}"
        );
        c
    }

    fn conn(&self, c: ConnId) -> &Conn {
        match self.core.conns.get(c.0) {
            Some(conn) => conn,
            None => panic!("no connection {c:?}"),
        }
    }

    fn conn_mut(&mut self, c: ConnId) -> &mut Conn {
        match self.core.conns.get_mut(c.0) {
            Some(conn) => conn,
            None => panic!("no connection {c:?}"),
        }
    }

    /// Connections made so far.
    pub fn len(&self) -> usize {
        self.core.conns.len()
    }

    /// Whether no connection was made.
    pub fn is_empty(&self) -> bool {
        self.core.conns.is_empty()
    }

    /// The session of connection `c`.
    pub fn session(&self, c: ConnId) -> &Session {
        match &self.conn(c).session {
            Some(s) => s,
            None => panic!("the session of {c:?} is in use"),
        }
    }

    /// Where connection `c` is in its life.
    pub fn phase(&self, c: ConnId) -> Phase {
        self.session(c).phase()
    }

    /// The nickname of connection `c`, once registered.
    pub fn nick(&self, c: ConnId) -> Option<String> {
        self.session(c).nick().map(|n| n.to_string())
    }

    /// The registry.
    pub fn directory(&self) -> &Directory {
        &self.core.directory
    }

    /// The connection that sent file transfer `id`.
    pub fn transfer_sender(&self, id: u64) -> Option<ConnId> {
        self.core.senders.get(&id).map(|k| ConnId(*k))
    }

    /// Input sent to connection `c` and not read yet (a paused sender's).
    pub fn unread_input(&self, c: ConnId) -> usize {
        self.conn(c).input.len()
    }

    /// Whether connection `c` is not being read: its session allowed no
    /// read, and neither its resume function nor new input came since.
    pub fn is_paused(&self, c: ConnId) -> bool {
        self.conn(c).paused
    }

    /// How many times the resume functions of connection `c` were called.
    pub fn resumes(&self, c: ConnId) -> u64 {
        self.conn(c).resumes.load(Ordering::SeqCst)
    }

    /// Bytes sent to connection `c` and not taken yet.
    pub fn unread_output(&self, c: ConnId) -> usize {
        let conn = self.conn(c);
        conn.out.len() - conn.taken
    }

    /// Everything connection `c` was sent since it connected.
    pub fn received(&self, c: ConnId) -> &[u8] {
        &self.conn(c).out
    }

    /// The server events so far (taken).
    pub fn events(&mut self) -> Vec<ServerEvent> {
        std::mem::take(&mut self.core.events)
    }

    /// Bytes sent to connection `c` since the last take: the connection
    /// reads them, which gives the file credits they held back.
    pub fn take(&mut self, c: ConnId) -> Vec<u8> {
        let conn = self.conn_mut(c);
        let new = conn.out.get(conn.taken..).unwrap_or(&[]).to_vec();
        conn.taken = conn.out.len();
        // Dropping the credits may call a resume function, which touches
        // only an atomic counter.
        conn.credits.clear();
        new
    }

    /// The next `n` bytes sent to connection `c` (fewer if fewer wait): the
    /// connection reads part of what waits, which gives back the file
    /// credits of the frames now read whole.
    pub fn take_bytes(&mut self, c: ConnId, n: usize) -> Vec<u8> {
        let conn = self.conn_mut(c);
        let end = conn.taken.saturating_add(n).min(conn.out.len());
        let new = conn.out.get(conn.taken..end).unwrap_or(&[]).to_vec();
        conn.taken = end;
        while conn.credits.front().is_some_and(|(e, _)| *e <= end) {
            conn.credits.pop_front();
        }
        new
    }

    /// What connection `c` was sent since the last take, as items (see
    /// [`Hub::take`]); panics on a malformed stream.
    pub fn items(&mut self, c: ConnId) -> Vec<wire::Item> {
        let bytes = self.take(c);
        wire::whole_items(&bytes, &format!("{c:?}"))
    }

    /// What connection `c` was sent since the last take, one string per
    /// line, and a payload as one more string (lossy UTF-8) after its
    /// `BYTES`/`CHUNK` line (see [`Hub::take`]).
    pub fn lines(&mut self, c: ConnId) -> Vec<String> {
        let mut out = Vec::new();
        for item in self.items(c) {
            out.push(item.line);
            if let Some(p) = item.payload {
                out.push(String::from_utf8_lossy(&p).into_owned());
            }
        }
        out
    }

    /// Connection `c` sends `bytes`: they are read (as far as its session
    /// allows) and handled at once, and everything this causes happens
    /// (see [`Hub::pump`]).
    pub fn send(&mut self, c: ConnId, bytes: impl AsRef<[u8]>) {
        let conn = self.conn_mut(c);
        assert!(!conn.eof, "{c:?} sends after closing its side");
        conn.input.extend(bytes.as_ref());
        // New bytes make a socket readable: the worker looks again.
        conn.paused = false;
        self.pump();
    }

    /// The peer of connection `c` closes its side: once its input is read,
    /// its session is closed as "closed by peer".
    pub fn close_input(&mut self, c: ConnId) {
        let conn = self.conn_mut(c);
        conn.eof = true;
        conn.paused = false;
        self.pump();
    }

    /// Reads every connection that may be read until none can be: returns
    /// whether anything was read.
    pub fn pump(&mut self) -> bool {
        let mut any = false;
        loop {
            let mut moved = false;
            for k in 0..self.core.conns.len() {
                moved |= self.read_conn(k);
            }
            if !moved {
                return any;
            }
            any = true;
        }
    }

    /// Reads connection `k` as the worker's read loop does.
    fn read_conn(&mut self, k: usize) -> bool {
        let Some(conn) = self.core.conns.get_mut(k) else {
            return false;
        };
        if conn.closed_at.is_some() {
            conn.input.clear();
            return false;
        }
        if conn.input.is_empty() && !conn.eof {
            return false;
        }
        if conn.paused {
            let resumes = conn.resumes.load(Ordering::SeqCst);
            if resumes == conn.resumes_seen {
                return false;
            }
            conn.resumes_seen = resumes;
            conn.paused = false;
        }
        let mut moved = false;
        loop {
            let Some(conn) = self.core.conns.get_mut(k) else {
                return moved;
            };
            if conn.closed_at.is_some() {
                conn.input.clear();
                return moved;
            }
            let Some(limit) = conn.session.as_ref().and_then(Session::read_allowance) else {
                conn.paused = true;
                return moved;
            };
            if conn.input.is_empty() {
                if conn.eof {
                    self.with_session(ConnId(k), |s, cx| s.close(None, "closed by peer", cx));
                    return true;
                }
                return moved;
            }
            let n = limit.min(self.max_read).min(conn.input.len()).max(1);
            let data: Vec<u8> = conn.input.drain(..n).collect();
            self.feed(k, &data);
            moved = true;
        }
    }

    /// One read's bytes through the framing to the session, as the worker's
    /// `feed`.
    fn feed(&mut self, k: usize, data: &[u8]) {
        let Some(conn) = self.core.conns.get_mut(k) else {
            return;
        };
        let mut lines = std::mem::replace(&mut conn.lines, LineBuffer::new(0, 0));
        self.run_session(ConnId(k), false, |session, cx| {
            if !session.on_bytes(data, cx) {
                return;
            }
            lines.feed_frames(data, |frame: Frame<'_>| {
                let in_payload = matches!(frame, Frame::Payload(_));
                let next = session.on_frame(frame, cx);
                if !in_payload && !matches!(next, Next::Payload(_)) {
                    cx.host.flush_own(session);
                }
                next
            });
        });
        let mid_payload = lines.payload_left() > 0;
        if let Some(conn) = self.core.conns.get_mut(k) {
            conn.lines = lines;
        }
        if !mid_payload {
            self.run_session(ConnId(k), true, |_, _| ());
        }
    }

    /// Moves the clock by `d` and offers every session a timer tick.
    pub fn advance(&mut self, d: Duration) {
        self.now += d;
        self.tick();
    }

    /// Offers every session a timer tick at the current time (the worker
    /// ticks registered sessions every [`Rules::keepalive_step`], and
    /// those at the prompt at their deadline; a tick at any other time
    /// changes nothing). Closed sessions are ticked too: they must stay
    /// silent.
    pub fn tick(&mut self) {
        for k in 0..self.core.conns.len() {
            self.with_session(ConnId(k), |s, cx| s.on_timer(cx));
        }
        self.pump();
    }

    /// The server shuts down: every session still open is failed with
    /// `ERROR 03` (no `LEFT` lines, no `FILEFAIL`s), as the worker does.
    pub fn shutdown(&mut self) {
        self.core.stopping = true;
        for k in 0..self.core.conns.len() {
            self.with_session(ConnId(k), |s, cx| {
                if s.phase() != Phase::Closed {
                    s.fail(
                        ErrorCode::ConnectionAborted,
                        Some("server shutting down"),
                        "server shutting down",
                        cx,
                    );
                }
            });
        }
    }

    /// Runs `f` on the session of connection `c` with the hub as its host,
    /// then delivers the frames it sent itself and checks that nothing was
    /// written to it after its session closed. (The rules' inputs the hub
    /// does not make itself: the worker's closes, `fail` for a slow
    /// consumer, ...)
    pub fn with_session<R>(
        &mut self,
        c: ConnId,
        f: impl FnOnce(&mut Session, &mut Cx<'_, HubHost<'_>>) -> R,
    ) -> R {
        self.run_session(c, true, f)
    }

    /// [`Hub::with_session`]; `own` says whether the frames the connection
    /// sent itself are delivered at the end (not in the middle of a
    /// payload: they come after the line or payload that sent them).
    fn run_session<R>(
        &mut self,
        c: ConnId,
        own: bool,
        f: impl FnOnce(&mut Session, &mut Cx<'_, HubHost<'_>>) -> R,
    ) -> R {
        let conn = self.conn_mut(c);
        let Some(mut session) = conn.session.take() else {
            panic!("the session of {c:?} is in use");
        };
        let closed_before = conn.closed_at;
        let mut host = HubHost {
            core: &mut self.core,
            me: c.0,
        };
        let mut cx = Cx {
            rules: &self.rules,
            now: self.now,
            host: &mut host,
        };
        let r = f(&mut session, &mut cx);
        if own {
            host.flush_own(&session);
        }
        let conn = self.conn_mut(c);
        if session.phase() == Phase::Closed && conn.closed_at.is_none() {
            panic!("{c:?}: its session closed without a Disconnected event");
        }
        if let Some(at) = conn.closed_at {
            assert_eq!(
                conn.out.len(),
                at,
                "{c:?} was sent {:?} after its session closed",
                String::from_utf8_lossy(conn.out.get(at..).unwrap_or(&[]))
            );
        }
        if closed_before.is_some() {
            assert_eq!(
                session.phase(),
                Phase::Closed,
                "{c:?}: a closed session came back"
            );
        }
        conn.session = Some(session);
        self.process_kicks();
        r
    }

    /// Fails the sessions a server operator put off the server.
    fn process_kicks(&mut self) {
        for (k, by) in std::mem::take(&mut self.core.kicks) {
            let detail = format!("put off the server by the operator {by}");
            self.run_session(ConnId(k), true, |s, cx| {
                s.fail(
                    ErrorCode::ConnectionAborted,
                    Some(&detail),
                    "kicked by a server operator",
                    cx,
                )
            });
        }
    }
}

/// The host of one session of a [`Hub`] while it handles one input.
pub struct HubHost<'a> {
    core: &'a mut Core,
    me: usize,
}

impl HubHost<'_> {
    fn peer(&self, k: usize) -> Peer {
        Peer {
            thread: 0,
            slot: k,
            id: k as u64 + 1,
        }
    }

    fn me_conn(&mut self) -> &mut Conn {
        match self.core.conns.get_mut(self.me) {
            Some(c) => c,
            None => panic!("the hub lost connection {}", self.me),
        }
    }

    /// Panics unless `from` is this connection's nickname now.
    fn check_from(&self, from: &str, what: &str) {
        let me = self.peer(self.me);
        let mine = self.core.directory.lookup(from) == Some(me)
            && self.core.directory.nicks().any(|n| n == from);
        assert!(
            mine,
            "connection {:?} sent {what} claiming to come from {from:?}, which is not its nickname",
            ConnId(self.me)
        );
    }

    /// Registered connections other than this one, as (index, conn).
    fn others(&mut self) -> impl Iterator<Item = (usize, &mut Conn)> {
        let me = self.me;
        self.core
            .conns
            .iter_mut()
            .enumerate()
            .filter(move |(k, _)| *k != me)
    }

    /// Delivers a registry change to everyone with presence on registered
    /// before it, except the one it is about.
    fn publish(&mut self, seq: u64, line: &[u8], except: u64) {
        if line.is_empty() {
            return;
        }
        for (k, c) in self.others() {
            let listens = c.session.as_ref().is_some_and(Session::hears_presence);
            if listens && c.reg_seq < seq && k as u64 + 1 != except {
                c.out.extend_from_slice(line);
            }
        }
    }

    /// The frames this connection sent itself, now that the line or
    /// payload that sent them is handled: delivered if it is still
    /// registered (they charge their transfer from then on; in the worker
    /// from the moment they were sent).
    fn flush_own(&mut self, session: &Session) {
        let own = std::mem::take(&mut self.me_conn().own);
        let id = self.me as u64 + 1;
        for (bytes, flow, charged) in own {
            if session.phase() == Phase::Registered {
                deliver(
                    self.me_conn(),
                    Some(session),
                    id,
                    &bytes,
                    flow.as_ref(),
                    charged,
                );
            } else if let Some(f) = &flow {
                f.receiver_gone();
            }
        }
    }
}

/// Appends what receiver `c` (connection id `id`, its session `session`)
/// gets of a frame: the worker's rule, [`deliver_to`]; file data charges
/// the transfer until the test takes it.
fn deliver(
    c: &mut Conn,
    session: Option<&Session>,
    id: u64,
    bytes: &[u8],
    flow: Option<&Arc<Flow>>,
    charged: bool,
) {
    let delivery = match session.or(c.session.as_ref()) {
        Some(s) => deliver_to(s, id, bytes, flow),
        None => Delivery::Frame,
    };
    match delivery {
        Delivery::Frame => {
            c.out.extend_from_slice(bytes);
            if let (Some(f), true) = (flow, charged) {
                let end = c.out.len();
                c.credits
                    .push_back((end, f.charge_to(bytes.len() as u64, id)));
            }
        }
        Delivery::Line(line) => c.out.extend_from_slice(&line),
        Delivery::Nothing => {}
    }
}

fn wants_tags(c: &Conn) -> bool {
    c.session.as_ref().is_some_and(Session::wants_tags)
}

fn registered(c: &Conn) -> bool {
    c.session
        .as_ref()
        .is_some_and(|s| s.phase() == Phase::Registered)
}

impl Host for HubHost<'_> {
    fn reply(&mut self) -> &mut Vec<u8> {
        &mut self.me_conn().out
    }

    fn me(&self) -> Peer {
        self.peer(self.me)
    }

    fn addr(&self) -> SocketAddr {
        match self.core.conns.get(self.me) {
            Some(c) => c.addr,
            None => SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }

    fn stopping(&self) -> bool {
        self.core.stopping
    }

    fn register(
        &mut self,
        nick: &str,
        users: bool,
        label: Option<&str>,
    ) -> Result<Arc<str>, ErrorCode> {
        let me = self.peer(self.me);
        let Core {
            conns, directory, ..
        } = &mut *self.core;
        let Some(conn) = conns.get_mut(self.me) else {
            return Err(ErrorCode::ConnectionAborted);
        };
        let (stored, change) = directory.register(nick, me, label, &mut conn.out, users)?;
        conn.reg_seq = change.seq;
        self.publish(change.seq, &change.line, change.except);
        Ok(stored)
    }

    fn rename(&mut self, old: &str, new: &str) -> Result<Arc<str>, ErrorCode> {
        let me = self.peer(self.me);
        let (stored, change) = self.core.directory.rename(old, new, me)?;
        self.publish(change.seq, &change.line, change.except);
        Ok(stored)
    }

    fn leave(&mut self, nick: &str, announce: bool) {
        let me = self.peer(self.me);
        if let Some(change) = self.core.directory.remove(nick, me, announce) {
            self.publish(change.seq, &change.line, change.except);
        }
    }

    fn lookup(&mut self, nick: &str) -> Option<Peer> {
        self.core.directory.lookup(nick)
    }

    fn users(&mut self, label: Option<&str>) {
        let Core {
            conns, directory, ..
        } = &mut *self.core;
        if let Some(conn) = conns.get_mut(self.me) {
            directory.users(label, &mut conn.out);
        }
    }

    fn everyone(&mut self) -> Target {
        Target::All {
            seq: self.core.directory.seq() + 1,
            except: self.peer(self.me).id,
        }
    }

    fn public(&mut self, from: &str, text: &str, tag: Tag) {
        self.check_from(from, "a public message");
        let line = ServerLine::Public { from, text };
        for (_, c) in self.others() {
            if registered(c) {
                let tagged = wants_tags(c).then_some(tag);
                line.encode_tagged(None, tagged, &mut c.out);
            }
        }
    }

    fn private(&mut self, to: Peer, from: &str, text: &str, tag: Tag) {
        self.check_from(from, "a private message");
        let line = ServerLine::Private { from, text };
        match self.core.conns.get_mut(to.slot) {
            Some(c) if to.id == to.slot as u64 + 1 && registered(c) => {
                let tagged = wants_tags(c).then_some(tag);
                line.encode_tagged(None, tagged, &mut c.out);
            }
            _ => {}
        }
    }

    fn history(&self) -> &History {
        &self.core.history
    }

    fn unix_ms(&mut self) -> u64 {
        papo::server::unix_time_ms()
    }

    fn directory(&mut self, f: &mut dyn FnMut(&Directory)) {
        f(&self.core.directory);
    }

    fn directory_mut(&mut self, f: &mut dyn FnMut(&mut Directory)) {
        f(&mut self.core.directory);
    }

    fn room_cast(&mut self, cast: RoomCast, tagged: Option<Vec<u8>>) {
        for p in &cast.to {
            let Some(c) = self.core.conns.get_mut(p.slot) else {
                continue;
            };
            if p.id != p.slot as u64 + 1 || !registered(c) {
                continue;
            }
            let hears = c
                .session
                .as_ref()
                .is_some_and(|s| cast.about.is_none_or(|a| s.hears_room_change(a, p.id)));
            if !hears {
                continue;
            }
            match &tagged {
                Some(t) if wants_tags(c) => c.out.extend_from_slice(t),
                _ => c.out.extend_from_slice(&cast.line),
            }
        }
    }

    fn room_message(
        &mut self,
        room: &str,
        from: &str,
        text: &str,
        tag: Tag,
    ) -> Result<Arc<str>, ErrorCode> {
        self.check_from(from, "a room message");
        let me = self.peer(self.me);
        let (name, members) = self.core.directory.room_snapshot(room, me.id)?;
        let line = ServerLine::Room {
            room: &*name,
            from,
            text,
        };
        let mut plain = Vec::new();
        line.encode(&mut plain);
        let mut tagged = Vec::new();
        line.encode_tagged(None, Some(tag), &mut tagged);
        let to = members.into_iter().filter(|p| *p != me).collect();
        self.room_cast(
            RoomCast {
                line: plain,
                to,
                about: None,
            },
            Some(tagged),
        );
        Ok(name)
    }

    fn kick_user(&mut self, to: Peer, by: &str) {
        self.core.kicks.push((to.slot, by.to_owned()));
    }

    fn frame(&mut self, to: Target, bytes: Vec<u8>, flow: Option<&Arc<Flow>>, charged: bool) {
        let head = bytes.split(|b| *b == b'\n').next().unwrap_or(&[]);
        let head = std::str::from_utf8(head).unwrap_or("");
        match ServerLine::parse(head) {
            Ok(ServerLine::File { from, id, .. }) => {
                self.check_from(from, "a FILE line");
                self.core.senders.insert(id, self.me);
            }
            Ok(ServerLine::Bytes { from, .. }) => self.check_from(from, "a BYTES frame"),
            Ok(_) => {}
            Err(e) => panic!("a frame that does not start with a server line: {head:?} ({e})"),
        }
        match to {
            Target::All { seq, except } => {
                for (k, c) in self.others() {
                    if registered(c) && c.reg_seq < seq && k as u64 + 1 != except {
                        deliver(c, None, k as u64 + 1, &bytes, flow, charged);
                    }
                }
            }
            Target::One(p) if p == self.peer(self.me) => {
                // Through the worker's inbox: after the replies to the
                // line or payload that sent it.
                self.me_conn().own.push((bytes, flow.cloned(), charged));
            }
            Target::One(p) => match self.core.conns.get_mut(p.slot) {
                Some(c) if p.id == p.slot as u64 + 1 && registered(c) => {
                    deliver(c, None, p.id, &bytes, flow, charged);
                }
                _ => {
                    if let Some(f) = flow {
                        f.receiver_gone();
                    }
                }
            },
        }
    }

    fn reply_frame(&mut self, frame: &[u8]) {
        self.me_conn().out.extend_from_slice(frame);
    }

    fn transfer_id(&mut self) -> u64 {
        self.core.transfers += 1;
        self.core.transfers
    }

    fn resumer(&mut self) -> Arc<dyn Fn() + Send + Sync> {
        let resumes = Arc::clone(&self.me_conn().resumes);
        Arc::new(move || {
            resumes.fetch_add(1, Ordering::SeqCst);
        })
    }

    fn event(&mut self, event: ServerEvent) {
        let me = self.me;
        let id = self.peer(me).id;
        match &event {
            ServerEvent::Disconnected { id: got, .. } => {
                assert_eq!(*got, id, "a Disconnected event with another id");
                let conn = self.me_conn();
                assert!(
                    conn.closed_at.is_none(),
                    "a second Disconnected event for {:?}",
                    ConnId(me)
                );
                conn.closed_at = Some(conn.out.len());
            }
            ServerEvent::Registered { id: got, .. } | ServerEvent::NickChanged { id: got, .. } => {
                assert_eq!(*got, id, "an event with another connection's id")
            }
            ServerEvent::Connected { .. } => {
                panic!("a session reported Connected (the host does)")
            }
            ServerEvent::History { .. } => {
                panic!("a session reported History (the database's writer does)")
            }
            ServerEvent::Cluster { .. } => {
                panic!("a session reported Cluster (the cluster threads do)")
            }
        }
        self.core.events.push(event);
    }

    /// A token made from the connection's id: the hub is for rules, not
    /// secrets (the real host draws 128 random bits).
    fn issue_token(&mut self, _nick: &str, _tags: bool) -> Option<String> {
        Some(format!("{:032x}", self.peer(self.me).id))
    }

    fn drop_token(&mut self, _nick: &str) {}

    /// The hub has no sockets to move from one connection to another:
    /// every `/resume` is refused (the loopback tests cover resuming).
    fn resume(
        &mut self,
        _nick: &str,
        _token: &str,
        _since: Option<u64>,
        _label: Option<&str>,
    ) -> Result<Resumption, ErrorCode> {
        Err(ErrorCode::ResumeRefused)
    }

    fn resume_pending(&mut self) -> bool {
        false
    }
}
