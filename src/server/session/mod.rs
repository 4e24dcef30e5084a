//! The chat's rules for one connection, as a state machine with no I/O.
//!
//! A [`Session`] is fed what its connection's framing produces (whole
//! lines, over-long lines, payload pieces: [`Frame`]) and timer ticks, and
//! answers through a [`Host`]: it appends replies to the connection's
//! outbound queue, asks the registry to register, rename or forget a
//! nickname, and routes public messages, private messages and file frames
//! to other connections. It owns no socket, starts no thread and reads no
//! clock: time is an argument (the models are rustls's `ConnectionCommon`,
//! quinn-proto's `Connection` and h2's codec, which take bytes and time in
//! and hand effects out). The I/O threads (`worker.rs`) host sessions over
//! real sockets; the fuzz targets and the session tests host them in
//! memory (`tests/session.rs`), so every rule is reachable without a
//! socket.
//!
//! A connection's life is an enum, [`Phase`]: at the nickname prompt
//! (PROTOCOL.md "Registration"), registered (PROTOCOL.md "Client lines"),
//! closed. Each line is parsed once, with the grammar of the phase it
//! arrives in ([`ClientLine::parse_labeled`]).
//!
//! - `prompt.rs`: the nickname prompt: `/pass`, `/presence`, the nickname,
//!   refusals and their count, HTTP and TLS on the plain port;
//! - `chat.rs`: the lines of a registered client;
//! - `transfer.rs`: files and binary messages as their sender's session
//!   sees them, and the flow control that paces a file to its slowest
//!   receiver;
//! - `police.rs`: the flood limit and keepalive;
//! - `rooms.rs`: rooms, `/oper` and `/history` as a member sees them;
//! - `directory/`: the nickname registry (who is online, and where) and
//!   the rooms, a plain data structure the host keeps behind its lock;
//! - `history.rs`: message ids, server time and the history rings;
//! - `host.rs`: the [`Host`] trait, what a session asks of whatever hosts
//!   it, and the [`Peer`] and [`Target`] it names other connections by.

mod chat;
mod directory;
mod history;
mod host;
mod police;
mod prompt;
mod rooms;
mod transfer;

pub use directory::{Change, Directory, RoomCast, RoomChange, RoomSummary, SharedRoom};
pub use history::{
    Conversation, Entry, History, HistorySink, Missed, DEFAULT_HISTORY_REQUEST, MAX_CONVERSATIONS,
    MAX_HISTORY_REQUEST, NODE_TAGS, RESUME_SKEW_IDS,
};
pub use host::{Adopted, Host, Peer, Resumption, Target};
pub(crate) use prompt::constant_time_eq;
pub use transfer::{
    deliver_to, text_instead, Credit, Delivery, Flow, MAX_OPEN_FILES, MAX_PIECE,
    SLOW_RECEIVER_PATIENCE, TOO_SLOW,
};

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::{Password, ServerConfig};
use crate::error::ErrorCode;
use crate::protocol::{
    error_text, is_label, label_len, validate_nick, ClientLine, Frame, HistoryKind, Next,
    ServerLine, Stage, Tag, LABEL_ROOM,
};

use super::ServerEvent;
use police::Meter;
use transfer::Sending;

/// The [`ServerConfig`] fields the rules read that may change while the
/// server runs ([`Rules::with_reloadable`]): each line is checked against
/// the flood limit in force when it arrives, and each refused nickname
/// against the attempts limit in force then. The others shape what was
/// already promised to connected clients (the `HELLO` line's limits) or
/// the threads and sockets, and stay as the server started.
pub const RELOADABLE: [&str; 3] = [
    "flood_lines_per_sec",
    "flood_burst_lines",
    "max_nick_attempts",
];

/// The limits and settings the rules read, taken once from the
/// [`ServerConfig`] (PROTOCOL.md, "Limits"), with durations in nanoseconds
/// of the session clock (see [`Rules::nanos`]).
#[derive(Debug, Clone)]
pub struct Rules {
    /// Longest line, in bytes.
    pub max_line_bytes: usize,
    /// A line of more bytes than this closes the connection.
    pub max_discard_bytes: usize,
    /// Longest nickname, in characters.
    pub max_nick_chars: usize,
    /// Refused lines at the prompt before the connection is closed (0: no
    /// limit).
    pub max_nick_attempts: u32,
    /// Largest binary message, in bytes.
    pub max_payload_bytes: usize,
    /// Largest file, in bytes.
    pub max_file_bytes: u64,
    /// A client's outbound queue limit, in bytes (it sizes the file pieces
    /// and the flow control's marks).
    pub max_queue_bytes: usize,
    /// Time to register.
    pub registration_timeout: Duration,
    /// GCRA emission interval and tolerance in ns; `None`: no flood limit.
    flood: Option<(u64, u64)>,
    flood_burst_lines: u32,
    flood_lines_per_sec: u32,
    /// Keepalive interval and timeout in ns; `None`: keepalive off.
    keepalive: Option<(u64, u64)>,
    /// The server password.
    pub password: Option<Password>,
    /// The server operators' password (`/oper`).
    pub oper_password: Option<Password>,
    /// How long a dropped connection that said `/resume on` is held.
    pub resume_grace: Duration,
    /// The most missed messages a resumed connection is sent.
    pub resume_backlog: usize,
    /// The instant the session clock counts from.
    epoch: Instant,
    /// The clock of the rules' timers, read where no input brings the time:
    /// when receivers give back a transfer's credit (the slow-receiver
    /// rule, [`transfer::SLOW_RECEIVER_PATIENCE`]).
    clock: crate::clock::Clock,
}

/// The flood limit's GCRA emission interval and tolerance in ns (`None`:
/// no limit).
fn flood_limit(cfg: &ServerConfig) -> Option<(u64, u64)> {
    match (cfg.flood_lines_per_sec, cfg.flood_burst_lines) {
        (0, _) => None,
        (rate, burst) => {
            let interval = (1_000_000_000 / u64::from(rate)).max(1);
            let tolerance = interval.saturating_mul(u64::from(burst.max(1)) - 1);
            Some((interval, tolerance))
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Rules {
    /// The rules of `cfg`, with the session clock starting at `epoch`.
    pub fn new(cfg: &ServerConfig, epoch: Instant) -> Rules {
        let flood = flood_limit(cfg);
        let keepalive = (!cfg.keepalive_interval.is_zero()).then(|| {
            (
                nanos(cfg.keepalive_interval),
                nanos(cfg.keepalive_timeout).max(1),
            )
        });
        Rules {
            max_line_bytes: cfg.max_line_bytes,
            max_discard_bytes: cfg
                .max_discard_bytes
                .max(cfg.max_line_bytes.saturating_add(LABEL_ROOM + 1)),
            max_nick_chars: cfg.max_nick_chars,
            max_nick_attempts: cfg.max_nick_attempts,
            max_payload_bytes: cfg.max_payload_bytes,
            max_file_bytes: cfg.max_file_bytes,
            max_queue_bytes: cfg.max_queue_bytes,
            registration_timeout: cfg.registration_timeout,
            flood,
            flood_burst_lines: cfg.flood_burst_lines,
            flood_lines_per_sec: cfg.flood_lines_per_sec,
            keepalive,
            password: cfg.password.clone(),
            oper_password: cfg.oper_password.clone(),
            resume_grace: cfg.resume_grace,
            resume_backlog: cfg.resume_backlog,
            epoch,
            #[cfg(feature = "test-support")]
            clock: cfg.clock.clone(),
            #[cfg(not(feature = "test-support"))]
            clock: crate::clock::Clock::system(),
        }
    }

    /// These rules with the limits that may change while a server runs
    /// ([`RELOADABLE`]) taken from `cfg`; everything else as it is.
    pub fn with_reloadable(&self, cfg: &ServerConfig) -> Rules {
        Rules {
            flood: flood_limit(cfg),
            flood_burst_lines: cfg.flood_burst_lines,
            flood_lines_per_sec: cfg.flood_lines_per_sec,
            max_nick_attempts: cfg.max_nick_attempts,
            ..self.clone()
        }
    }

    /// `now` on the session clock: nanoseconds since the epoch, plus one so
    /// that 0 is never a time.
    pub fn nanos(&self, now: Instant) -> u64 {
        nanos(now.saturating_duration_since(self.epoch)).saturating_add(1)
    }

    /// The instant of a session-clock time.
    pub fn instant(&self, t: u64) -> Instant {
        self.epoch
            .checked_add(Duration::from_nanos(t.saturating_sub(1)))
            .unwrap_or(self.epoch)
    }

    /// The line limit the host's framing applies: `max_line_bytes` plus
    /// room for a label, which the limit does not count (PROTOCOL.md,
    /// "Labels"). Lines between the two are refused by the session.
    pub fn framing_limit(&self) -> usize {
        self.max_line_bytes.saturating_add(LABEL_ROOM)
    }

    /// How often the host should offer keepalive ticks to registered
    /// sessions: a quarter of the shorter of the interval and the timeout
    /// (at least 1 ms), so that a probe goes out, and a dead peer is
    /// dropped, at most a quarter late; `None` without keepalive.
    pub fn keepalive_step(&self) -> Option<Duration> {
        self.keepalive
            .map(|(i, t)| Duration::from_nanos((i.min(t) / 4).max(1_000_000)))
    }

    /// The `HELLO` line this server sends first (PROTOCOL.md,
    /// "Registration"), announcing its limits.
    pub fn hello(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        ServerLine::Hello {
            protocol: crate::protocol::PROTOCOL_NAME,
            max_line_bytes: Some(self.max_line_bytes),
            max_nick_chars: Some(self.max_nick_chars),
            max_payload_bytes: Some(self.max_payload_bytes as u64),
            max_file_bytes: Some(self.max_file_bytes),
            password_required: self.password.is_some(),
            labels: true,
            binary: true,
            tags: true,
            resume: true,
        }
        .encode(&mut out);
        out
    }
}

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// At the nickname prompt.
    Prompt,
    /// Registered: chatting.
    Registered,
    /// Over: its nickname is free and its `Disconnected` event sent.
    Closed,
}

#[derive(Debug)]
enum State {
    Prompt {
        /// Nothing was received yet (a TLS handshake can only be the
        /// first bytes of a connection).
        fresh: bool,
        /// The password was given (or none is needed).
        authed: bool,
        /// Refused lines so far.
        attempts: u32,
        /// When the registration timeout fires (session clock).
        deadline: u64,
        /// The client's settings so far.
        flags: Flags,
    },
    Registered {
        nick: Arc<str>,
        /// As at the prompt, and what it became after. (Kept in the state,
        /// not beside it, where it fits in room the enum has anyway: every
        /// idle connection is a slot of the same size.)
        flags: Flags,
    },
    Closed,
}

/// A connection's settings, at the prompt and after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Flags {
    /// `/presence on|off` (PROTOCOL.md, "Presence"); on by default.
    presence: bool,
    /// `/binary on|off` (PROTOCOL.md, "Binary capability"); off by default.
    binary: bool,
    /// `/tags on|off` (PROTOCOL.md, "Message ids and server time"); off by
    /// default.
    tags: bool,
    /// A server operator (`/oper`, PROTOCOL.md "Rooms").
    oper: bool,
    /// `/resume on|off` (PROTOCOL.md, "Resuming a connection"); off by
    /// default.
    resume: bool,
    /// Its connection dropped and it is held for the grace period.
    held: bool,
}

impl Default for Flags {
    fn default() -> Flags {
        Flags {
            presence: true,
            binary: false,
            tags: false,
            oper: false,
            resume: false,
            held: false,
        }
    }
}

/// The rules' state for one connection. Small (an idle connection costs
/// little): the transfer state is boxed and made only for a client that
/// sends a file or a binary message.
#[derive(Debug)]
pub struct Session {
    state: State,
    meter: Meter,
    sending: Option<Box<Sending>>,
}

/// What a session's input takes besides the input: the rules, the time and
/// the host.
pub struct Cx<'a, H: Host + ?Sized> {
    /// The rules.
    pub rules: &'a Rules,
    /// The time of the input (read once per burst of input).
    pub now: Instant,
    /// The host.
    pub host: &'a mut H,
}

impl Session {
    /// A session for a connection accepted at `now`. The host sends the
    /// `HELLO` line ([`Rules::hello`]) first.
    pub fn new(rules: &Rules, now: Instant) -> Session {
        let t = rules.nanos(now);
        Session {
            state: State::Prompt {
                fresh: true,
                authed: rules.password.is_none(),
                attempts: 0,
                deadline: t.saturating_add(nanos(rules.registration_timeout)),
                flags: Flags::default(),
            },
            meter: Meter::new(t),
            sending: None,
        }
    }

    /// Where the connection is in its life.
    pub fn phase(&self) -> Phase {
        match self.state {
            State::Prompt { .. } => Phase::Prompt,
            State::Registered { .. } => Phase::Registered,
            State::Closed => Phase::Closed,
        }
    }

    /// The nickname, once registered.
    pub fn nick(&self) -> Option<&Arc<str>> {
        match &self.state {
            State::Registered { nick, .. } => Some(nick),
            _ => None,
        }
    }

    /// Whether this connection gets `JOIN`/`LEFT`/`NICK` lines about others
    /// now: registered, with presence on.
    pub fn hears_presence(&self) -> bool {
        matches!(self.state, State::Registered { flags, .. } if flags.presence)
    }

    /// The connection's settings (`None` once closed).
    fn flags(&self) -> Option<Flags> {
        match self.state {
            State::Prompt { flags, .. } | State::Registered { flags, .. } => Some(flags),
            State::Closed => None,
        }
    }

    /// The connection's settings, to change them.
    fn flags_mut(&mut self) -> Option<&mut Flags> {
        match &mut self.state {
            State::Prompt { flags, .. } | State::Registered { flags, .. } => Some(flags),
            State::Closed => None,
        }
    }

    /// Whether presence is on (PROTOCOL.md, "Presence").
    fn presence(&self) -> bool {
        self.flags().is_some_and(|f| f.presence)
    }

    /// Whether this client said it accepts binary frames (`/binary on`,
    /// PROTOCOL.md "Binary capability"). A host delivering a file's or a
    /// binary message's frames to a client that did not gives it
    /// [`text_instead`]'s line instead ([`deliver_to`]).
    pub fn accepts_binary(&self) -> bool {
        self.flags().is_some_and(|f| f.binary)
    }

    /// Whether this client asked for message ids and times (`/tags on`,
    /// PROTOCOL.md "Message ids and server time"): a host delivering a
    /// message gives it the tagged line.
    pub fn wants_tags(&self) -> bool {
        self.flags().is_some_and(|f| f.tags)
    }

    /// Whether this client gets a room's membership change about
    /// connection `about` (PROTOCOL.md, "Rooms"): always when it is about
    /// itself, else with presence on.
    pub fn hears_room_change(&self, about: u64, me: u64) -> bool {
        about == me || self.presence()
    }

    /// `/binary on|off`.
    fn set_binary(&mut self, on: bool) {
        if let Some(f) = self.flags_mut() {
            f.binary = on;
        }
    }

    /// `/presence on|off`.
    fn set_presence(&mut self, on: bool) {
        if let Some(f) = self.flags_mut() {
            f.presence = on;
        }
    }

    /// `/tags on|off`.
    fn set_tags(&mut self, on: bool) {
        if let Some(f) = self.flags_mut() {
            f.tags = on;
        }
    }

    /// `/resume on|off`.
    fn set_resume(&mut self, on: bool) {
        if let Some(f) = self.flags_mut() {
            f.resume = on;
        }
    }

    /// Whether this client said `/resume on` (PROTOCOL.md, "Resuming a
    /// connection").
    pub fn wants_resume(&self) -> bool {
        self.flags().is_some_and(|f| f.resume)
    }

    /// Whether the connection dropped and the session is held for the
    /// grace period ([`Session::on_dropped`]): the host neither reads nor
    /// writes it, and throws away what is routed to it.
    pub fn is_held(&self) -> bool {
        self.flags().is_some_and(|f| f.held)
    }

    /// The connection dropped without a `quit` (closed by the peer, reset,
    /// an I/O error; or no answer to keepalive, see [`Session::on_timer`]). A registered client that said `/resume on` is held
    /// for `resume_grace` (unless it is 0 or the server is stopping):
    /// nickname, rooms and token stay, nobody is told `LEFT` (its open
    /// files fail for their receivers, `FILEFAIL`), and the host
    /// calls [`Session::on_grace_over`] when the grace period has passed.
    /// Returns whether it is held; if not, the host closes the session as
    /// usual.
    pub fn on_dropped<H: Host + ?Sized>(&mut self, cx: &mut Cx<'_, H>) -> bool {
        let stopping = cx.host.stopping();
        let grace = !cx.rules.resume_grace.is_zero();
        match &mut self.state {
            State::Registered { flags, .. } if flags.resume && grace && !stopping => {
                flags.held = true;
            }
            _ => return false,
        }
        // Its files fail for their receivers now: a transfer does not
        // survive its connection (the client fails its side too).
        if let Some(s) = self.sending.take() {
            s.sender_left(cx);
        }
        true
    }

    /// The grace period of a held session has passed: it ends (everyone
    /// gets `LEFT`, its token is void), unless a `/resume` spent its token
    /// and the socket is on its way (then it waits for it). Returns whether
    /// the session ended.
    pub fn on_grace_over<H: Host + ?Sized>(&mut self, cx: &mut Cx<'_, H>) -> bool {
        if !self.is_held() || cx.host.resume_pending() {
            return false;
        }
        if let Some(f) = self.flags_mut() {
            f.held = false;
        }
        self.close(
            Some(ErrorCode::ConnectionAborted),
            "resume grace period over",
            cx,
        );
        true
    }

    /// A new connection presented this session's token (`/resume`, see
    /// [`Host::resume`]) and its socket is now this session's: answers
    /// `RESUMED <nick> <new token> <1|0>` (labeled as the `/resume` was),
    /// then the messages with an id above `since` it would have received
    /// (from history, in id order, tagged if it said `/tags on`; at most
    /// `resume_backlog`). `1` says nothing is missing; `0` that history no
    /// longer held all of it, or that there was no `since`.
    pub fn on_resumed<H: Host + ?Sized>(
        &mut self,
        since: Option<u64>,
        label: Option<&str>,
        cx: &mut Cx<'_, H>,
    ) {
        let State::Registered { nick, flags } = &mut self.state else {
            return;
        };
        flags.held = false;
        // Heard from again: keepalive counts from now.
        self.meter.heard(cx.rules.nanos(cx.now));
        let (nick, tags) = (Arc::clone(nick), flags.tags);
        let token = cx.host.issue_token(&nick, tags).unwrap_or_default();
        let me = cx.host.me().id;
        let mut rooms = Vec::new();
        cx.host.directory(&mut |d| rooms = d.rooms_of(me));
        let keys: Vec<String> = rooms.iter().map(|(k, _)| k.clone()).collect();
        let missed = match since {
            Some(since) => cx.host.history().missed(
                &crate::protocol::nick_key(&nick),
                &keys,
                since,
                cx.rules.resume_backlog,
            ),
            None => Missed::default(),
        };
        send_resumed(label, &nick, &token, &missed, &rooms, tags, cx.host.reply());
    }

    /// `/resume` on this node of a user of another node of the cluster,
    /// taken by the host ([`Resumption::Here`]): this prompt's session is
    /// that user's now, with its settings from the prompt (and `/tags on`
    /// if it had said so there) and `/resume on`. Answers as
    /// [`Session::on_resumed`] does, from the cluster's shared history.
    pub(super) fn resumed_here<H: Host + ?Sized>(
        &mut self,
        label: Option<&str>,
        adopted: Adopted,
        cx: &mut Cx<'_, H>,
    ) {
        let mut flags = self.flags().unwrap_or_default();
        flags.resume = true;
        flags.held = false;
        flags.tags |= adopted.tags;
        self.state = State::Registered {
            nick: Arc::clone(&adopted.nick),
            flags,
        };
        self.meter.heard(cx.rules.nanos(cx.now));
        let token = cx
            .host
            .issue_token(&adopted.nick, flags.tags)
            .unwrap_or_default();
        send_resumed(
            label,
            &adopted.nick,
            &token,
            &adopted.missed,
            &adopted.rooms,
            flags.tags,
            cx.host.reply(),
        );
        let (id, addr) = (cx.host.me().id, cx.host.addr());
        cx.host.event(ServerEvent::Registered {
            id,
            addr,
            nick: adopted.nick.to_string(),
        });
    }

    /// When the registration timeout fires, while at the prompt.
    pub fn registration_deadline(&self, rules: &Rules) -> Option<Instant> {
        match self.state {
            State::Prompt { deadline, .. } => Some(rules.instant(deadline)),
            _ => None,
        }
    }

    /// How many bytes the host may read from the socket now (PROTOCOL.md,
    /// "Flow control"): `None` while one of this client's files waits for
    /// a slow receiver (the host reads again when the function from
    /// [`Host::resumer`] is called), a piece while files are open (so that
    /// one read forwards about a piece), else no limit.
    pub fn read_allowance(&self) -> Option<usize> {
        match &self.sending {
            Some(s) => s.read_allowance(),
            None => Some(usize::MAX),
        }
    }

    /// Bytes arrived (before they are framed): the client was heard from
    /// (keepalive). A TLS
    /// handshake on the plain port (the connection's first byte is 0x16,
    /// a control character no nickname starts with) is answered `ERROR 08`
    /// and closed: returns false then, and the host reads no further. Only
    /// the first byte counts, so that what happens depends on the bytes
    /// alone, never on how the reads cut them; a 0x16 later at the prompt
    /// is part of a refused nickname.
    pub fn on_bytes<H: Host + ?Sized>(&mut self, data: &[u8], cx: &mut Cx<'_, H>) -> bool {
        self.meter.heard(cx.rules.nanos(cx.now));
        let State::Prompt { fresh, .. } = &mut self.state else {
            return true;
        };
        let first = *fresh;
        if !data.is_empty() {
            *fresh = false;
        }
        if first && data.first() == Some(&0x16) {
            self.fail(
                ErrorCode::InvalidText,
                Some("a TLS handshake on the plain-text port (see PROTOCOL.md, TLS)"),
                "TLS on the plain port",
                cx,
            );
            return false;
        }
        true
    }

    /// One framing event. Returns what the framing should do next: go on,
    /// read `n` bytes of payload, or stop (the session is over).
    pub fn on_frame<H: Host + ?Sized>(&mut self, frame: Frame<'_>, cx: &mut Cx<'_, H>) -> Next {
        let next = match frame {
            Frame::Line(raw) => self.on_line(raw, cx),
            // Past the framing's limit: the line's label was not kept.
            Frame::TooLong => self.too_long(None, cx),
            Frame::Overflow => {
                let detail = format!(
                    "over {} bytes with no line end; closing",
                    cx.rules.max_discard_bytes
                );
                self.fail(ErrorCode::TooLong, Some(&detail), "endless line", cx);
                Next::Stop
            }
            Frame::Payload(data) => {
                if let Some(s) = self.sending.as_deref_mut() {
                    s.on_payload(data, cx);
                }
                Next::Continue
            }
            Frame::PayloadEnd => {
                if let Some(s) = self.sending.as_deref_mut() {
                    s.on_payload_end(cx);
                }
                Next::Continue
            }
        };
        if self.phase() == Phase::Closed {
            Next::Stop
        } else {
            next
        }
    }

    /// A line over `max_line_bytes` (skipped; the session goes on), with
    /// the request label it came with when that could be read.
    fn too_long<H: Host + ?Sized>(&mut self, label: Option<&str>, cx: &mut Cx<'_, H>) -> Next {
        if self.flooding(cx) {
            return Next::Stop;
        }
        let detail = format!("over {} bytes; line skipped", cx.rules.max_line_bytes);
        match self.state {
            State::Prompt { .. } => {
                self.refuse(ErrorCode::TooLong, label, None, Some(&detail), None, cx)
            }
            _ => reply_error(cx, label, ErrorCode::TooLong, None, Some(&detail)),
        }
        Next::Continue
    }

    /// A whole line (without its LF; a CR before it is removed here). The
    /// host's framing lets lines through that are up to a label longer
    /// than the limit ([`Rules::framing_limit`]); the limit itself counts
    /// the line without its label, and is checked here. The errors a
    /// line's bytes cause (too long, not UTF-8) carry its label, like every
    /// other answer (PROTOCOL.md, "Labels").
    fn on_line<H: Host + ?Sized>(&mut self, raw: &[u8], cx: &mut Cx<'_, H>) -> Next {
        let stage = match self.state {
            State::Prompt { .. } => Stage::Prompt,
            State::Registered { .. } => Stage::Chat,
            State::Closed => return Next::Stop,
        };
        let raw = crate::protocol::strip_cr(raw);
        if raw.len() - label_len(raw) > cx.rules.max_line_bytes {
            return self.too_long(raw_label(raw), cx);
        }
        let Ok(text) = std::str::from_utf8(raw) else {
            if self.flooding(cx) {
                return Next::Stop;
            }
            let label = raw_label(raw);
            match stage {
                Stage::Prompt => self.refuse(
                    ErrorCode::InvalidText,
                    label,
                    None,
                    Some("not UTF-8"),
                    None,
                    cx,
                ),
                Stage::Chat => {
                    reply_error(cx, label, ErrorCode::InvalidText, None, Some("not UTF-8"))
                }
            }
            return Next::Continue;
        };
        let parsed = ClientLine::parse_labeled(text, stage);
        // Every line counts against the flood limit except a file's
        // chunks, which the transfer's flow control paces instead.
        if !matches!(parsed.line, Ok(ClientLine::Chunk { .. })) && self.flooding(cx) {
            return Next::Stop;
        }
        match stage {
            Stage::Prompt => {
                self.prompt_line(parsed.label, parsed.line, cx);
                Next::Continue
            }
            Stage::Chat => self.chat_line(parsed.label, parsed.line, cx),
        }
    }

    /// The flood limit (PROTOCOL.md, "Flood limit"): false for a line within
    /// it; for a line over it, `ERROR 03` and the session ends.
    fn flooding<H: Host + ?Sized>(&mut self, cx: &mut Cx<'_, H>) -> bool {
        let Some((interval, tolerance)) = cx.rules.flood else {
            return false;
        };
        if self
            .meter
            .allow_line(cx.rules.nanos(cx.now), interval, tolerance)
        {
            return false;
        }
        let detail = format!(
            "flooding: more than {} lines at once or {} lines per second",
            cx.rules.flood_burst_lines.max(1),
            cx.rules.flood_lines_per_sec
        );
        self.fail(ErrorCode::ConnectionAborted, Some(&detail), "flooding", cx);
        true
    }

    /// Timers: the registration timeout at the prompt, keepalive once
    /// registered (PROTOCOL.md, "Keepalive"), and the slow-receiver rule
    /// for this client's open files ([`Flow::cut_laggards`]). The host calls it when
    /// [`Session::registration_deadline`] passes and, for registered
    /// sessions, every [`Rules::keepalive_step`].
    pub fn on_timer<H: Host + ?Sized>(&mut self, cx: &mut Cx<'_, H>) {
        let now = cx.rules.nanos(cx.now);
        match self.state {
            State::Prompt { deadline, .. } if now >= deadline => {
                let ms = cx.rules.registration_timeout.as_millis();
                let detail = format!("no nickname within {ms} ms");
                self.fail(
                    ErrorCode::Timeout,
                    Some(&detail),
                    "registration timeout",
                    cx,
                );
            }
            State::Registered { .. } => {
                // The slow-receiver rule, for a sender held back while no
                // receiver gives back credit (one that stopped reading).
                if let Some(s) = &self.sending {
                    s.check_laggards();
                }
                let Some((interval, timeout)) = cx.rules.keepalive else {
                    return;
                };
                match self.meter.idle(now, interval, timeout) {
                    police::Idle::Fine => {}
                    police::Idle::Probe => {
                        ServerLine::Ping(Some(police::PROBE_TOKEN)).encode(cx.host.reply())
                    }
                    // A peer that vanished (a laptop asleep, a NAT that
                    // forgot it) and said `/resume on` is held like a
                    // dropped one: the host sees `is_held` and lets go of
                    // the socket.
                    police::Idle::Dead if self.on_dropped(cx) => {}
                    police::Idle::Dead => {
                        let ms = Duration::from_nanos(timeout).as_millis();
                        let detail = format!("no answer to keepalive within {ms} ms");
                        self.fail(ErrorCode::Timeout, Some(&detail), "keepalive timeout", cx);
                    }
                }
            }
            _ => {}
        }
    }

    /// Ends the session with an error the client is told about: appends
    /// `ERROR <code> * :<text>[: detail]` to the reply, then closes with
    /// `code` and `reason` (see [`Session::close`]). The host uses it for
    /// the server's shutdown (03); the rules use it for every limit that
    /// closes a connection.
    pub fn fail<H: Host + ?Sized>(
        &mut self,
        code: ErrorCode,
        detail: Option<&str>,
        reason: &str,
        cx: &mut Cx<'_, H>,
    ) {
        if self.phase() == Phase::Closed {
            return;
        }
        reply_error(cx, None, code, None, detail);
        self.close(Some(code), reason, cx);
    }

    /// Ends the session: this client's open files fail for their receivers
    /// (`FILEFAIL`, before its `LEFT`), its nickname is freed and everyone
    /// else told `LEFT` (not during a shutdown), and the server event
    /// `Disconnected` goes out with `code` (`None`: the client left by
    /// itself) and `reason`. Lines queued before still go out; the host
    /// then closes the socket once they are written. Does nothing on a
    /// closed session.
    pub fn close<H: Host + ?Sized>(
        &mut self,
        code: Option<ErrorCode>,
        reason: &str,
        cx: &mut Cx<'_, H>,
    ) {
        let state = std::mem::replace(&mut self.state, State::Closed);
        let nick = match state {
            State::Closed => {
                self.state = State::Closed;
                return;
            }
            State::Prompt { .. } => None,
            State::Registered { nick, .. } => Some(nick),
        };
        if let Some(s) = self.sending.take() {
            if !cx.host.stopping() {
                s.sender_left(cx);
            }
        }
        if let Some(n) = &nick {
            cx.host.drop_token(n);
            let announce = !cx.host.stopping();
            cx.host.leave(n, announce);
        }
        let (id, addr) = (cx.host.me().id, cx.host.addr());
        cx.host.event(ServerEvent::Disconnected {
            id,
            addr,
            nick: nick.map(|n| n.to_string()),
            code,
            reason: reason.to_owned(),
        });
    }
}

/// A new message id and the server's time (the host's clock).
fn stamp<H: Host + ?Sized>(cx: &mut Cx<'_, H>) -> Tag {
    let time = cx.host.unix_ms();
    cx.host.history().stamp(time)
}

/// The request label in front of a raw line (`@<label> `), when it is a
/// valid one: the rest of the line may be too long or not UTF-8.
fn raw_label(raw: &[u8]) -> Option<&str> {
    let end = label_len(raw).checked_sub(1)?;
    let label = std::str::from_utf8(raw.get(1..end)?).ok()?;
    is_label(label).then_some(label)
}

/// Where the destination `to` of a private message, binary message or file
/// is online; `None` after answering `ERROR 02 <to>` (`ERROR 02 *` when `to`
/// cannot even be a nickname). The one place of that rule.
fn locate<H: Host + ?Sized>(label: Option<&str>, to: &str, cx: &mut Cx<'_, H>) -> Option<Peer> {
    let found = cx.host.lookup(to);
    if found.is_none() {
        let subject = validate_nick(to, cx.rules.max_nick_chars).ok().map(|()| to);
        reply_error(cx, label, ErrorCode::NoSuchUser, subject, None);
    }
    found
}

/// Appends `ERROR <code> <subject|*> :<text>[: detail]`, labeled.
fn reply_error<H: Host + ?Sized>(
    cx: &mut Cx<'_, H>,
    label: Option<&str>,
    code: ErrorCode,
    subject: Option<&str>,
    detail: Option<&str>,
) {
    let text;
    let text_ref = match detail {
        None => code.text(),
        Some(_) => {
            text = error_text(code, detail);
            &text
        }
    };
    ServerLine::Error {
        code: code.as_i32().unsigned_abs(),
        subject,
        text: text_ref,
    }
    .encode_labeled(label, cx.host.reply());
}

/// `RESUMED <nick> <token> <1|0>` (labeled), then the messages `missed`
/// (PROTOCOL.md, "Resuming a connection"), room messages named as in
/// `rooms` ((key, name)), tagged with `tags`.
fn send_resumed(
    label: Option<&str>,
    nick: &str,
    token: &str,
    missed: &Missed,
    rooms: &[(String, Arc<str>)],
    tags: bool,
    out: &mut Vec<u8>,
) {
    ServerLine::Resumed {
        nick,
        token,
        recovered: missed.complete,
    }
    .encode_labeled(label, out);
    for (c, e) in &missed.entries {
        let tag = tags.then_some(e.tag);
        let (from, text) = (&*e.from, &*e.text);
        let line = match (c, e.kind) {
            (Conversation::Room(key), _) => {
                let room = rooms
                    .iter()
                    .find(|(k, _)| k == key)
                    .map_or(key.as_str(), |(_, n)| &**n);
                ServerLine::Room { room, from, text }
            }
            (_, HistoryKind::Private) => ServerLine::Private { from, text },
            _ => ServerLine::Public { from, text },
        };
        line.encode_tagged(None, tag, out);
    }
}
