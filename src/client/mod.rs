//! The chat client: a connection to a papo server with a reader thread and
//! an event queue the caller pulls from.
//!
//! # How it works
//!
//! [`Client::connect`] opens a TCP connection (`TCP_NODELAY` set), checks
//! that the first line is the papo greeting `HELLO papo/1 ...` (else 04),
//! keeps the limits it announces (`line=`, `nick=`), sends the nickname and
//! waits for `WELCOME` and the `USERS` list (PROTOCOL.md, "Registration").
//! Then one reader thread per client owns the read half of the socket.
//!
//! - **Writes** happen on the caller's thread, one whole line per write under
//!   a lock, so lines from several threads never interleave.
//! - **Requests** (a private message, `/list`, `/nick`, `/ping`) wait for
//!   their answer, or, made with the `*_async` methods (as libmpv's
//!   `mpv_command_async`), are answered by an [`Event::Reply`] carrying the
//!   caller's `userdata`, in request order, queued even when the event
//!   queue is full; both kinds go through the same queue of waiting
//!   requests (`pending.rs`). The server answers a client's lines in order, so the
//!   client keeps a FIFO of waiting requests, appended under the write lock
//!   (FIFO order is wire order); the reader thread hands each answer line
//!   (`SENT`, `USERS`, `PONG`, this client's own `NICK`, `ERROR`) to the
//!   oldest one. Requests may be sent from many threads at once.
//! - **Everything else** becomes an [`Event`] in a bounded event queue that
//!   the caller pulls with [`Client::next_event`] (which [`Client::wakeup`]
//!   interrupts), or watches through [`Client::event_fd`], a descriptor
//!   readable exactly while the queue holds events. When the queue is full the
//!   reader thread stops reading the socket until the caller takes events:
//!   nothing is lost, TCP backpressure reaches the server, and a server may
//!   then drop this client as a slow consumer (03). While the reader waits,
//!   answers to requests wait too: a caller that sends requests must also
//!   pull events.
//! - Lines the client cannot read (not UTF-8, unknown keyword, malformed,
//!   over 16 MiB) are skipped; they never end the connection.
//! - **Files and binary messages** ([`Client::send_file`],
//!   [`Client::send_bytes`], PROTOCOL.md "Files and binary payloads"): the
//!   reader thread takes the payload of each `BYTES`/`CHUNK` frame off the
//!   socket as it arrives, writes file chunks straight to a temporary file
//!   in the download folder and renames it when complete; a file being sent
//!   is streamed from disk by its own thread, chunk by chunk under the write
//!   lock. Every event, the sender's progress included, comes from the
//!   reader thread.
//! - Public messages get no answer from the server, so an `ERROR` caused by
//!   one (which local validation makes impossible with a papo server) would
//!   be taken as the answer to the oldest waiting request.

mod connect;
mod event;
mod events;
mod files;
mod inner;
mod lines;
mod pending;
mod reader;
mod reconnect;
mod rooms;
mod transfer;
mod transport;
mod wakeup;

pub use crate::tls::ClientTls;
pub use event::{ClusterState, Event, HistoryEntry, Reply, ReplyError, RoomInfo, RoomMember};
pub use files::{default_download_dir, DEFAULT_DOWNLOAD_DIR_NAME};
pub(crate) use wakeup::check_may_wait;
pub use wakeup::in_wakeup;

use std::sync::Arc;
use std::time::Duration;

use crate::config::ClientConfig;
use crate::error::{Error, ErrorCode, Result};
use crate::protocol::{
    validate_nick, validate_room, validate_text, ClientLine, ServerLine, Tag, ROOM_MARK,
};

use inner::Inner;
use pending::Request;

/// The events a server line stands for, if it is one of the plain
/// notifications (`PUBLIC`, `PRIVATE`, `ROOM`, `JOIN`, `LEFT`, `NICK` and
/// the room lines), in order, with the message's id and time when the line
/// carried them (0 and 0 when not); a `CHANGES` line (several presence
/// changes at once, PROTOCOL.md "Presence") stands for the `Joined`,
/// `Left` and `NickChanged` events its single lines would have given, so
/// callers never see the difference.
/// The cluster's `CLUSTER`, `LOST` and `RENAMED` lines become their events
/// too (a `RENAMED` during registration; after it, the reader thread also
/// changes the client's own nickname, `reader.rs`).
pub(crate) fn events_tagged(line: ServerLine<String>, tag: Option<Tag>) -> Vec<Event> {
    let Tag { id, time } = tag.unwrap_or_default();
    let one = match line {
        ServerLine::Public { from, text } => Event::Public {
            from,
            text,
            id,
            time,
        },
        ServerLine::Private { from, text } => Event::Private {
            from,
            text,
            id,
            time,
        },
        ServerLine::Room { room, from, text } => Event::Room {
            room,
            from,
            text,
            id,
            time,
        },
        ServerLine::RoomJoin { room, nick } => Event::RoomJoined { room, nick },
        ServerLine::RoomPart { room, nick } => Event::RoomLeft { room, nick },
        ServerLine::RoomKick { room, by, nick } => Event::RoomKicked { room, by, nick },
        ServerLine::RoomOp { room, by, nick } => Event::RoomOperator { room, by, nick },
        ServerLine::Topic { room, by, text } => Event::TopicChanged { room, by, text },
        ServerLine::Join { nick } => Event::Joined { nick },
        ServerLine::Left { nick } => Event::Left { nick },
        ServerLine::Nick { old, new } => Event::NickChanged { old, new },
        ServerLine::Cluster(state) => Event::Cluster { state },
        ServerLine::Lost { count } => Event::Lost { count },
        ServerLine::Renamed { old, new } => Event::Renamed { old, new },
        ServerLine::Changes(changes) => {
            return changes
                .into_iter()
                .flat_map(|c| events_tagged(c.into_line(), None))
                .collect()
        }
        _ => return Vec::new(),
    };
    vec![one]
}

/// A connected, registered chat client. All methods take `&self` and may be
/// called from several threads at once. Dropping it is the same as
/// [`Client::disconnect`].
///
/// Thread safety: `Client` is `Send + Sync`; share it with `Arc<Client>`.
/// Requests from several threads are pipelined on the one connection and
/// each caller gets its own answer.
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("nick", &self.nick())
            .field("connected", &self.is_connected())
            .finish()
    }
}

impl Client {
    /// Connects to the server at `ip`:`port` and registers `nick`, with the
    /// default [`ClientConfig`]. Returns after the server has accepted the
    /// nickname and sent the list of who is online.
    ///
    /// `ip` is an IPv4 address, an IPv6 address with or without brackets,
    /// or a host name such as `localhost`; empty means 127.0.0.1 (seed 000).
    ///
    /// Errors: 05 `InvalidAddress` if `ip` is none of those or the name
    /// does not resolve; 04 `InvalidServer` if nothing answers there in
    /// time or what answers is not a papo server; 01 `NickInUse`; 06
    /// `InvalidNick` (checked locally, then by the server); 12
    /// `ServerFull`; 03 if the connection is lost while registering; 17
    /// `InvalidArgument` inside a wake-up function (see
    /// [`Client::set_wakeup`]). The full list is at [`Client::connect_with`].
    pub fn connect(ip: &str, port: u16, nick: &str) -> Result<Client> {
        Client::connect_with(ip, port, nick, ClientConfig::default())
    }

    /// [`Client::connect`] with explicit settings.
    ///
    /// In order: 17 `InvalidArgument` when called inside a wake-up function
    /// (connecting waits; see [`Client::set_wakeup`]) or when
    /// [`ClientConfig::validate`] refuses `config` (a timeout or the queue
    /// capacity of 0, an empty password or one with control characters);
    /// `ip` is parsed (an IPv4 address, an IPv6 address with or without
    /// brackets, or a host name such as `localhost`; empty means 127.0.0.1,
    /// seed 000) or 05, without any lookup for text that cannot be an
    /// address or a name (spaces, a port inside it, `999.1.1.1`); the
    /// nickname's characters are checked locally (06: empty, whitespace,
    /// control characters, `: / \ * ,`, or `quit`/`{quit}`); a host name is
    /// resolved by the system (`/etc/hosts`, DNS), 05 if it does not
    /// resolve within `config.connect_timeout`; the TCP connection is opened
    /// to the first of its addresses that takes it, within what is left of
    /// `config.connect_timeout` (refused, unreachable or timed out: 04); the
    /// first line must be `HELLO papo/1 ...` (anything else, non-UTF-8
    /// bytes, silence until the timeout or a close: 04; `ERROR 12` instead
    /// of `HELLO`: 12); the nickname's length is checked against the
    /// server's announced `nick=` limit (06); then the server's answer:
    /// `ERROR 01` -> 01, `ERROR 06` -> 06, `ERROR 12` -> 12, `ERROR 03` or
    /// the connection closing -> 03, no `WELCOME` and `USERS` within
    /// `config.connect_timeout` (counted from the start) -> 04; with
    /// `config.password` set, `/pass <password>` goes before the nickname,
    /// and a server that wants a password and gets none or a wrong one
    /// answers `ERROR 19` -> 19 `AccessDenied` (PROTOCOL.md "Password").
    /// 15 `Io` if the reader thread (or the thread that resolves a name)
    /// cannot be started.
    ///
    /// With `config.tls`, the server's certificate is checked against the
    /// host name given, or the IP address (unless
    /// [`ClientTls::with_server_name`] says otherwise).
    pub fn connect_with(ip: &str, port: u16, nick: &str, config: ClientConfig) -> Result<Client> {
        check_may_wait("connecting")?;
        let reg = connect::register(ip, port, nick, &config, None)?;
        let io_err = |e| Error::io(ErrorCode::Io, "socket setup", e);
        reg.stream
            .set_write_timeout(Some(config.reply_timeout))
            .map_err(io_err)?;
        let inner = Arc::new(Inner::new(
            config,
            (ip.to_owned(), port),
            reg.stream,
            reg.resumable,
            reg.nick,
            reg.max_line_bytes,
            reg.max_nick_chars,
            reg.labels,
            reg.users,
        ));
        let for_thread = Arc::clone(&inner);
        let (reader, early) = (reg.reader, reg.early_events);
        let handle = std::thread::Builder::new()
            .name("papo-client-reader".to_owned())
            .spawn(move || reader::run(for_thread, reader, early))
            .map_err(|e| Error::io(ErrorCode::Io, "cannot start the reader thread", e))?;
        *inner.reader_handle.lock() = Some(handle);
        Ok(Client { inner })
    }

    /// This client's current nickname.
    pub fn nick(&self) -> String {
        self.inner.nick.lock().clone()
    }

    /// The `USERS` list the server sent when this client registered
    /// (everyone online then, this client included, sorted
    /// case-insensitively: seed 000 client manual item 3). For a fresh list
    /// use [`Client::users`]. Empty when the client connected with
    /// [`ClientConfig::presence`] false (the server sends no list then).
    pub fn initial_users(&self) -> Vec<String> {
        self.inner.initial_users.clone()
    }

    /// The longest line the server accepts, in bytes without the LF, as
    /// announced in its `HELLO` (4096 if it announced none). A public
    /// message's text may be one byte shorter (`:text`), a private one
    /// `to.len() + 1` bytes shorter (`to:text`).
    pub fn max_line_bytes(&self) -> usize {
        self.inner.max_line_bytes
    }

    /// The longest nickname the server accepts, in characters, as announced
    /// in its `HELLO` (32 if it announced none).
    pub fn max_nick_chars(&self) -> usize {
        self.inner.max_nick_chars
    }

    /// Sends `text` to `to`, or to everyone when `to` is `None` or empty
    /// (seed 000 section 4, `enviar_Msg(Destino, mensagem)`). A private
    /// message waits for the server's answer: `Ok` is "Mensagem enviada".
    /// A public message returns once written to the socket.
    ///
    /// Errors: 02 `NoSuchUser`; 03 `ConnectionAborted` once the connection
    /// is lost; 07 `TooLong` over the server's line limit; 08 `InvalidText`
    /// for control characters; 09 `Empty`; 06 `InvalidNick` for a
    /// destination that cannot be a nickname; 11 `Timeout` if no answer
    /// comes within the reply timeout; 17 `InvalidArgument` for a private
    /// message inside a wake-up function (it would wait for the answer; a
    /// public one may be sent there; see [`Client::set_wakeup`]).
    ///
    /// 06, 07, 08 and 09 are found locally and nothing is sent. The text is
    /// sent verbatim (TAB is allowed; LF, CR and other control characters
    /// are 08). The line, `:text` or `to:text`, may be at most
    /// [`Client::max_line_bytes`] bytes. A write the server does not take
    /// within the reply timeout also gives 11, and ends the connection (a
    /// half-written line cannot be taken back).
    pub fn send(&self, to: Option<&str>, text: &str) -> Result<()> {
        match self.message_line(to, text)? {
            line @ ClientLine::Public(_) => self.inner.send(&line, &[], None, false).map(|_| ()),
            line => match self.inner.send(&line, &[], Some(Request::Sent), false)? {
                Some(Reply::Sent) => Ok(()),
                other => Err(unexpected(other)),
            },
        }
    }

    /// The line of a text message after the local checks of
    /// [`Client::send`] (06, 07, 08, 09).
    fn message_line<'a>(&self, to: Option<&'a str>, text: &'a str) -> Result<ClientLine<'a>> {
        if text.is_empty() {
            return Err(Error::new(ErrorCode::Empty, "the message is empty"));
        }
        validate_text(text).map_err(|code| {
            Error::new(
                code,
                "the message contains a control character (only TAB is allowed) or a bidi override, embedding or isolate",
            )
        })?;
        let to = to.filter(|t| !t.is_empty());
        match to {
            Some(room) if room.starts_with(ROOM_MARK) => validate_room(room)
                .map_err(|code| Error::new(code, format!("{room:?} cannot be a room's name")))?,
            Some(to) => validate_nick(to, self.inner.max_nick_chars)
                .map_err(|code| Error::new(code, format!("{to:?} cannot be a nickname")))?,
            None => {}
        }
        // The line limit counts the line without a label (PROTOCOL.md,
        // "Labels"): `:text` or `to:text`.
        let len = text.len() + 1 + to.map_or(0, str::len);
        if len > self.inner.max_line_bytes {
            return Err(Error::new(
                ErrorCode::TooLong,
                format!(
                    "the line would be {len} bytes; the server takes at most {}",
                    self.inner.max_line_bytes
                ),
            ));
        }
        Ok(match to {
            None => ClientLine::Public(text),
            Some(room) if room.starts_with(ROOM_MARK) => ClientLine::Room { room, text },
            Some(to) => ClientLine::Private { to, text },
        })
    }

    /// Sends a request and waits for its answer.
    fn request(&self, line: &ClientLine<'_>, request: Request) -> Result<Reply> {
        match self.inner.send(line, &[], Some(request), false)? {
            Some(reply) => Ok(reply),
            None => Err(unexpected(None)),
        }
    }

    /// The nicknames online, fresh from the server (`/list`), sorted
    /// case-insensitively. Errors: 03, 11; 17 inside a wake-up function.
    pub fn users(&self) -> Result<Vec<String>> {
        match self
            .inner
            .send(&ClientLine::List, &[], Some(Request::List), false)?
        {
            Some(Reply::Users(nicks)) => Ok(nicks),
            other => Err(unexpected(other)),
        }
    }

    /// Changes this client's nickname (`/nick`). Errors: 01 `NickInUse`,
    /// 06 `InvalidNick`, 03, 11; 17 inside a wake-up function.
    ///
    /// The new name is checked locally first (06, against the server's
    /// announced `nick=` limit). On success [`Client::nick`] already returns
    /// the new name, and a [`Event::NickChanged`] for this client is queued
    /// like everyone else's.
    pub fn change_nick(&self, new_nick: &str) -> Result<()> {
        validate_nick(new_nick, self.inner.max_nick_chars)
            .map_err(|code| Error::new(code, format!("{new_nick:?} cannot be a nickname")))?;
        match self
            .inner
            .send(&ClientLine::Nick(new_nick), &[], Some(Request::Nick), false)?
        {
            Some(Reply::Nick) => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// A no-op round trip (`/ping`): when it returns, the server has
    /// processed everything this client sent before. Errors: 03, 11; 17
    /// inside a wake-up function.
    pub fn ping(&self) -> Result<()> {
        let token = self.inner.next_ping_token().to_string();
        match self.inner.send(
            &ClientLine::Ping(Some(&token)),
            &[],
            Some(Request::Ping),
            false,
        )? {
            Some(Reply::Pong) => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// The next event, waiting up to `timeout`. Errors: 11 `Timeout` when
    /// nothing came in time, or when [`Client::wakeup`] interrupted the
    /// wait; 14 `Closed` once the `Disconnected` event has
    /// been taken and nothing more can come; 17 `InvalidArgument` inside a
    /// wake-up function, whatever the timeout (see [`Client::set_wakeup`]).
    ///
    /// `Duration::ZERO` only looks; `Duration::MAX` waits without limit.
    /// After `Disconnected` was taken, `Closed` comes at once, without
    /// waiting. Taking an event makes room for the reader thread if the
    /// queue was full.
    pub fn next_event(&self, timeout: Duration) -> Result<Event> {
        check_may_wait("next_event")?;
        self.inner.events.pop(timeout)
    }

    /// Makes a [`Client::next_event`] wait in progress on another thread
    /// return at once with 11 `Timeout` (unless an event is queued, which
    /// it then returns); when no wait is in progress, the next
    /// `next_event` call returns at once instead. The wake-up is sticky
    /// until one `next_event` call returns, whatever it returns, and
    /// several wake-ups before that count as one. This is libmpv's
    /// `mpv_wakeup`: a way for another thread (a GUI's, a signal handler's
    /// helper, a shutdown path) to get a thread blocked in `next_event`
    /// back, even from a wait of an hour or `Duration::MAX`.
    ///
    /// It does not make [`Client::event_fd`] readable (that one tells only
    /// whether events are queued). Never fails, never waits; safe from any
    /// thread, inside a wake-up function too, and after the connection has
    /// ended.
    pub fn wakeup(&self) {
        self.inner.events.wakeup();
    }

    /// A file descriptor that is readable exactly while at least one event
    /// is queued for [`Client::next_event`], for event loops that watch
    /// descriptors: `poll`/`epoll`, GLib's `g_unix_fd_add`, Qt's
    /// `QSocketNotifier`, Tk's `createfilehandler`, asyncio's
    /// `loop.add_reader`. It is level-triggered: it stays readable until
    /// the queue is drained, so a loop may take one event per wake-up or
    /// all of them. Pull the events with `next_event(Duration::ZERO)`;
    /// never read from, write to or close the descriptor (reading would
    /// make it lie).
    ///
    /// On Linux it is an `eventfd` whose counter is nonzero exactly while
    /// events are queued; on other Unix systems the read end of a pipe
    /// holding one byte while events are queued. It is made on the first
    /// call (a client that never asks has none) and later calls return the
    /// same descriptor; it is non-blocking and close-on-exec, kept in step
    /// with the queue under the queue's own lock, and closed when this
    /// `Client` is dropped (not by [`Client::disconnect`]: after the
    /// connection ends, it is readable while the events that remain,
    /// the final [`Event::Disconnected`] included, are queued).
    ///
    /// Thread safety: any thread may call it and poll the descriptor.
    ///
    /// Errors: 15 `Io` when the descriptor cannot be made (the process has
    /// no descriptor left: `EMFILE`).
    #[cfg(unix)]
    pub fn event_fd(&self) -> Result<std::os::fd::BorrowedFd<'_>> {
        let fd = self.inner.events.fd().map_err(|e| {
            Error::io(
                ErrorCode::Io,
                format!("cannot make the event descriptor: {e}"),
                e,
            )
        })?;
        // SAFETY: the descriptor stays open until `close_fd`, which only
        // `Drop for Client` calls, so not while this borrow of `self` lives.
        Ok(unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) })
    }

    /// Sends `text` to `to`, or to everyone when `to` is `None` or empty,
    /// without waiting for the server: the answer comes later as an
    /// [`Event::Reply`] with `userdata` (libmpv's `mpv_command_async`).
    /// Returns once the line is written.
    ///
    /// The reply's outcome is what [`Client::send`] would return: for a
    /// private message `Ok(`[`Reply::Sent`]`)` once the server says `SENT`,
    /// or 02 `NoSuchUser` (07, 08 ...) with the server's text; for a public
    /// message (the server answers nothing) `Ok(Reply::Sent)`, queued as
    /// soon as the line is written, or 03 when the connection ends while it
    /// is being written (a line written just before the end may or may not
    /// have reached the server: TCP does not say). A write the server does
    /// not take within the reply timeout gives the reply 11 `Timeout` (or
    /// 03 when the write fails otherwise) and ends the connection. Replies
    /// come in the order of the requests; see [`Event::Reply`] for the
    /// guarantees.
    ///
    /// Errors (nothing is sent, no reply comes): the local checks of
    /// [`Client::send`] (06, 07, 08, 09); 03 `ConnectionAborted` once the
    /// connection has ended. No timeout applies to the answer: a request
    /// waits until the server answers it or the connection ends (reply 03).
    ///
    /// Thread safety: any thread; also allowed inside a wake-up function
    /// (see [`Client::set_wakeup`]), as nothing waits for the server. The
    /// write itself may block up to the reply timeout when the server does
    /// not read.
    pub fn send_async(&self, to: Option<&str>, text: &str, userdata: u64) -> Result<()> {
        let line = self.message_line(to, text)?;
        let request = match line {
            ClientLine::Public(_) => Request::Public,
            _ => Request::Sent,
        };
        self.inner.send_async(&line, &[], request, userdata, None)
    }

    /// [`Client::send_bytes`] without waiting: the answer comes as an
    /// [`Event::Reply`] with `userdata` (`Ok(`[`Reply::Sent`]`)` once the
    /// server took the whole message, or 02, 07 ... with the server's
    /// text). Errors (nothing sent, no reply): 06 `InvalidNick` for a
    /// destination that cannot be a nickname; 03 once the connection has
    /// ended. The rest as [`Client::send_async`].
    pub fn send_bytes_async(&self, to: Option<&str>, data: &[u8], userdata: u64) -> Result<()> {
        transfer::send_bytes_async(&self.inner, to, data, userdata)
    }

    /// [`Client::change_nick`] without waiting: the answer comes as an
    /// [`Event::Reply`] with `userdata` (`Ok(`[`Reply::Nick`]`)`, with
    /// [`Client::nick`] already the new name, or 01 `NickInUse`, 06 with
    /// the server's text). The reply comes before this client's own
    /// [`Event::NickChanged`]. Errors (nothing sent, no reply): 06
    /// `InvalidNick` for a name that cannot be a nickname (checked
    /// locally against the server's limit); 03 once the connection has
    /// ended. The rest as [`Client::send_async`].
    pub fn change_nick_async(&self, new_nick: &str, userdata: u64) -> Result<()> {
        validate_nick(new_nick, self.inner.max_nick_chars)
            .map_err(|code| Error::new(code, format!("{new_nick:?} cannot be a nickname")))?;
        self.inner.send_async(
            &ClientLine::Nick(new_nick),
            &[],
            Request::Nick,
            userdata,
            None,
        )
    }

    /// [`Client::ping`] without waiting: the answer comes as an
    /// [`Event::Reply`] with `userdata` (`Ok(`[`Reply::Pong`]`)` once the
    /// server has processed everything this client sent before). Errors
    /// (nothing sent, no reply): 03 once the connection has ended. The
    /// rest as [`Client::send_async`].
    pub fn ping_async(&self, userdata: u64) -> Result<()> {
        let token = self.inner.next_ping_token().to_string();
        self.inner.send_async(
            &ClientLine::Ping(Some(&token)),
            &[],
            Request::Ping,
            userdata,
            None,
        )
    }

    /// [`Client::users`] without waiting: the answer comes as an
    /// [`Event::Reply`] with `userdata` (`Ok(`[`Reply::Users`]`)`, the
    /// nicknames online sorted case-insensitively). Errors (nothing sent,
    /// no reply): 03 once the connection has ended. The rest as
    /// [`Client::send_async`].
    pub fn users_async(&self, userdata: u64) -> Result<()> {
        self.inner
            .send_async(&ClientLine::List, &[], Request::List, userdata, None)
    }

    /// [`Client::send_file`] without waiting for the server's answer. The
    /// file is opened and checked here, synchronously (15 `Io` if it
    /// cannot be opened or read, 17 `InvalidArgument` if it is not a
    /// regular file, 06 for a destination that cannot be a nickname, 07
    /// when the `/file` line would be too long, 03 once the connection has
    /// ended: nothing is sent and no reply comes). Then the offer is sent
    /// and this returns; the server's answer comes as an [`Event::Reply`]
    /// with `userdata`: `Ok(`[`Reply::FileOk`]`(id))` when the server
    /// accepted the file, which is then streamed exactly as with
    /// [`Client::send_file`] (the [`Event::FileSendProgress`],
    /// [`Event::FileSent`] or [`Event::FileSendFailed`] events with that
    /// `id` follow the reply), or the error that refused it (02, 07, 12
    /// ...). The rest as [`Client::send_async`].
    pub fn send_file_async(
        &self,
        to: Option<&str>,
        path: impl AsRef<std::path::Path>,
        userdata: u64,
    ) -> Result<()> {
        transfer::send_file_async(&self.inner, to, path.as_ref(), userdata)
    }

    /// Sets (or with `None` removes) a function called each time an event
    /// is queued, from the client's reader thread. It is a wake-up ("there
    /// is something to pull"), as with `mpv_set_wakeup_callback`: it must
    /// return quickly and pull nothing itself. It is never called after
    /// [`Client::disconnect`] returns, nor for the final
    /// [`Event::Disconnected`]. A call is a hint, not a count: an event
    /// queued at the very moment the function is installed may call it
    /// although that event was already pulled, and several events may
    /// share one call.
    ///
    /// A reply queued on a caller's thread rather than by the reader (that
    /// of a public [`Client::send_async`], answered once written, or of an
    /// asynchronous request whose write failed) calls it on that caller's
    /// thread. Calls never overlap and never nest: a wake-up due while the
    /// function runs (on another thread, or from inside the function itself
    /// making an asynchronous request) makes the thread running it call it
    /// once more after it returns.
    ///
    /// Inside the function (of this client or any other), every call that
    /// would wait fails at once with 17 `InvalidArgument` and does nothing,
    /// because the reader thread running it is what such a call would wait
    /// for, or would be stalled by it: connecting ([`Client::connect`],
    /// [`Client::connect_with`]); requests that wait for the server's
    /// answer (a private [`Client::send`], [`Client::users`],
    /// [`Client::change_nick`], [`Client::ping`], [`Client::send_file`],
    /// [`Client::send_bytes`]); [`Client::next_event`], whatever the
    /// timeout; and [`Client::disconnect`] of another client (it would wait
    /// for that client's threads). Allowed: a public `send`, the
    /// asynchronous requests ([`Client::send_async`] and the other
    /// `*_async`, which wait for no answer), `set_wakeup`, [`Client::wakeup`],
    /// the getters and setters that do not ask the server (`nick`,
    /// `download_dir`, `set_download_dir`, ...), and `disconnect` of this
    /// client, which then does not wait for its reader thread (see there).
    /// [`in_wakeup`] tells whether the calling thread is inside a wake-up
    /// function.
    ///
    /// When `set_wakeup` returns (called from another thread), the previous
    /// function is neither running nor called again. A panic inside it is
    /// caught and ignored. A function that owns this `Client` (an
    /// `Arc<Client>` moved into it) keeps it alive: remove it or disconnect
    /// explicitly.
    pub fn set_wakeup(&self, wakeup: Option<Arc<dyn Fn() + Send + Sync>>) {
        self.inner.set_wakeup(wakeup);
    }

    /// Sends the file at `path` to `to`, or to everyone else online when
    /// `to` is `None` or empty (seed 002's `/sendFile`: "todos os outros
    /// conectados ao servidor recebem o arquivo"). PROTOCOL.md, "Files and
    /// binary payloads".
    ///
    /// Returns the transfer's number once the server has accepted the file
    /// (`FILEOK`); the file is then streamed from disk, 64 KiB at a time,
    /// by a background thread (it is never read whole into memory), while
    /// this client keeps chatting: lines sent meanwhile go out between two
    /// chunks. Progress and the outcome come as events with that number:
    /// [`Event::FileSendProgress`], then [`Event::FileSent`] or
    /// [`Event::FileSendFailed`]. The transfer goes at the pace of the
    /// slowest receiver (the server holds the sender back); a chunk write
    /// may block for up to 120 s (other writes of this client wait meanwhile).
    ///
    /// The name announced is the file's own name reduced to a safe base
    /// name; the size is its size now (sending fails if it shrinks; bytes
    /// added later are not sent).
    ///
    /// Errors: 15 `Io` if the file cannot be opened or read; 17
    /// `InvalidArgument` if it is not a regular file, or inside a wake-up
    /// function (see [`Client::set_wakeup`]); 06 `InvalidNick` for a destination that cannot
    /// be a nickname (local); 02 `NoSuchUser`; 07 `TooLong` when the file is
    /// larger than the server's `max_file_bytes` (refused up front); 12
    /// `ServerFull` when this client has 16 files open already; 03, 11.
    pub fn send_file(&self, to: Option<&str>, path: impl AsRef<std::path::Path>) -> Result<u64> {
        check_may_wait("send_file")?;
        transfer::send_file(&self.inner, to, path.as_ref())
    }

    /// Sends `data`, any bytes (NUL, LF, invalid UTF-8 ...), as one binary
    /// message to `to`, or to everyone else online when `to` is `None` or
    /// empty (PROTOCOL.md, "Files and binary payloads"). Receivers get an
    /// [`Event::Bytes`]. Returns once the server has taken the whole
    /// message (`SENT`), so a returned call was delivered to a user online
    /// (private) or to everyone online (public).
    ///
    /// Errors: 06 `InvalidNick` for a destination that cannot be a nickname
    /// (local); 02 `NoSuchUser`; 07 `TooLong` over the server's
    /// `max_payload_bytes` (256 KiB by default); 17 `InvalidArgument` inside
    /// a wake-up function (see [`Client::set_wakeup`]); 03, 11.
    pub fn send_bytes(&self, to: Option<&str>, data: &[u8]) -> Result<()> {
        transfer::send_bytes(&self.inner, to, data)
    }

    /// The folder where received files are saved: the one given to
    /// [`Client::set_download_dir`], else [`default_download_dir`]
    /// (`~/papo-downloads`, seed 002). It is created when a file arrives.
    pub fn download_dir(&self) -> std::path::PathBuf {
        self.inner.files.download_dir()
    }

    /// Sets the folder where received files are saved (`None`: back to the
    /// default, `~/papo-downloads`). Files that began to arrive before keep
    /// the folder they started in. The folder is created (with its parents)
    /// when a file arrives; if it cannot be, the file fails
    /// ([`Event::FileFailed`]).
    pub fn set_download_dir(&self, dir: Option<std::path::PathBuf>) {
        self.inner.files.set_download_dir(dir);
    }

    /// True until the connection has ended.
    pub fn is_connected(&self) -> bool {
        self.inner.is_connected()
    }

    /// Leaves the chat: sends `quit`, closes the socket and waits for the
    /// reader thread and any file-sending thread to end (a file still
    /// being sent fails). Others are told this client left. Calling it
    /// again does nothing.
    ///
    /// Errors: 17 `InvalidArgument` when called inside the wake-up function
    /// of another client (it would wait for this client's threads; see
    /// [`Client::set_wakeup`]); nothing is done then. No other: a lost
    /// connection is already closed.
    ///
    /// Requests waiting in other threads return 03; later ones return 03.
    /// A [`Event::Disconnected`] with code `Closed` is queued after the
    /// events already received (unless the connection had already ended),
    /// so [`Client::next_event`] still returns those, then `Closed`.
    ///
    /// Called from inside this client's own wake-up function (that is, on
    /// its reader thread), it does not wait for the reader thread, which
    /// cannot wait for itself: the thread ends as soon as the function
    /// returns, and the function is not called again. Called from several
    /// threads at once, every call returns once the reader thread has ended
    /// (except a call from the wake-up function).
    ///
    /// Dropping a `Client` disconnects it the same way; dropped inside any
    /// wake-up function, it closes the connection without waiting for the
    /// threads, which end on their own.
    pub fn disconnect(&self) -> Result<()> {
        if !wakeup::running_for(self.inner.id()) {
            check_may_wait("disconnect of another client")?;
        }
        self.inner.disconnect();
        Ok(())
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.inner.disconnect();
        // The descriptor goes with the handle (see `event_fd`), even when
        // the reader thread outlives it (dropped inside a wake-up function).
        #[cfg(unix)]
        self.inner.events.close_fd();
    }
}

fn unexpected(reply: Option<Reply>) -> Error {
    // The reader thread only hands a request the answer of its own kind.
    Error::new(
        ErrorCode::InvalidServer,
        format!("unexpected answer from the server: {reply:?}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Client>();
        check::<Event>();
    }
}
