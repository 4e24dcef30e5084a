//! The state one client's caller threads and its reader thread share.

use std::cell::RefCell;
use std::io::{self, Write};
use std::net::Shutdown;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::{JoinHandle, ThreadId};
use std::time::Duration;

use parking_lot::{Condvar, Mutex, ReentrantMutex};

use super::events::EventQueue;
use super::files::Files;
use super::files::Offer;
use super::pending::{aborted, Pending, Request};
use super::transport::Transport;
use super::wakeup::{self, Running};
use super::Reply;
use crate::config::ClientConfig;
use crate::error::{Error, ErrorCode, Result};
use crate::protocol::ClientLine;

/// A write that failed: the error for the caller and the reason the
/// connection is broken with.
struct WriteFailed {
    error: Error,
    reason: String,
}

/// The nickname a request line is about, for its error's detail.
fn subject_of<'a>(line: &ClientLine<'a>) -> Option<&'a str> {
    match *line {
        ClientLine::Private { to, .. } => Some(to),
        ClientLine::Nick(nick) => Some(nick),
        ClientLine::Bytes { to, .. } | ClientLine::File { to, .. } => to,
        _ => None,
    }
}

/// The connection and whether it is usable.
struct Link {
    stream: Arc<Transport>,
    /// False while the client reconnects (`reconnect.rs`): writers wait.
    up: bool,
    /// The client gave up reconnecting or disconnected: nobody waits.
    gone: bool,
}

/// How many recent message ids a client remembers, to skip a message that
/// a resume sends again ([`ResumeState::note`]).
const SEEN_IDS: usize = 1024;

/// What a reconnection needs (PROTOCOL.md, "Resuming a connection"): the
/// resume token, which ids were seen, and the rooms to join again.
#[derive(Debug, Default)]
pub(crate) struct ResumeState {
    /// The current token (`TOKEN`, then each `RESUMED`'s).
    pub(crate) token: Option<String>,
    /// The server's last id when the token was issued.
    base: u64,
    /// The ids of the last [`SEEN_IDS`] messages, oldest first, and as a set.
    recent: std::collections::VecDeque<u64>,
    seen: std::collections::HashSet<u64>,
    /// The highest id pushed out of `recent`.
    floor: u64,
    /// The rooms this client is in (by its own `ROOMJOIN`, `ROOMPART`,
    /// `ROOMKICK` lines).
    pub(crate) rooms: std::collections::BTreeSet<String>,
}

impl ResumeState {
    /// A `TOKEN` line: the token and the server's last id then.
    pub(crate) fn token(&mut self, token: String, last_id: u64) {
        self.token = Some(token);
        self.base = self.base.max(last_id);
    }

    /// A message with id `id` arrived: false if it was seen already (a
    /// resume sent it again), which the caller then skips.
    pub(crate) fn note(&mut self, id: u64) -> bool {
        if id == 0 {
            return true; // not tagged
        }
        if !self.seen.insert(id) {
            return false;
        }
        self.recent.push_back(id);
        while self.recent.len() > SEEN_IDS {
            if let Some(old) = self.recent.pop_front() {
                self.seen.remove(&old);
                self.floor = self.floor.max(old);
            }
        }
        true
    }

    /// The `since` of a `/resume`: every message with a higher id that is
    /// not in `recent` is missing. Messages from different senders may
    /// arrive a little out of id order, so not the highest id seen: the
    /// token's id, or the highest id forgotten from `recent`.
    pub(crate) fn since(&self) -> u64 {
        self.base.max(self.floor)
    }
}

/// A wake-up function (see `Client::set_wakeup`).
pub(crate) type Wakeup = Arc<dyn Fn() + Send + Sync>;

pub(crate) struct Inner {
    pub(crate) config: ClientConfig,
    /// The server's announced line limit (`HELLO ... line=`), in bytes.
    pub(crate) max_line_bytes: usize,
    /// The server's announced nickname limit (`HELLO ... nick=`), in characters.
    pub(crate) max_nick_chars: usize,
    /// The nickname the server knows this client by; the reader thread
    /// updates it on this client's own `NICK` line.
    pub(crate) nick: Mutex<String>,
    /// The `USERS` list received while registering.
    pub(crate) initial_users: Vec<String>,
    /// The connection (plain or TLS), shared with the reader thread (`Read`
    /// and `Write` work on `&Transport`); one file descriptor per client.
    /// Replaced when the client reconnects ([`Inner::link_up`]).
    link: Mutex<Link>,
    /// Signalled when the link comes back up (or never will).
    link_cv: Condvar,
    /// Where the server is, to reconnect: the address as given and the port.
    pub(crate) server: (String, u16),
    /// What a reconnection needs (`reconnect.rs`).
    pub(crate) resume: Mutex<ResumeState>,
    /// The client reconnects by itself when the connection is lost:
    /// `ClientConfig::reconnect` and a server that knows resuming
    /// (`HELLO ... resume=1`).
    pub(crate) reconnects: bool,
    /// Held while a line is written, so that every line goes out whole.
    write_lock: Mutex<()>,
    pub(crate) pending: Pending,
    pub(crate) events: EventQueue,
    connected: AtomicBool,
    /// Why the connection was broken from this side (a failed write), for
    /// the final `Disconnected` event.
    pub(crate) broken_reason: Mutex<Option<String>>,
    /// Held while the wake-up function runs, so that `set_wakeup` from
    /// another thread waits for a running call; re-entrant so that the
    /// function itself may call `set_wakeup` or `disconnect`.
    wakeup: ReentrantMutex<RefCell<Option<Wakeup>>>,
    pub(crate) reader_id: OnceLock<ThreadId>,
    pub(crate) reader_handle: Mutex<Option<JoinHandle<()>>>,
    reader_done: Mutex<bool>,
    reader_done_cv: Condvar,
    disconnecting: AtomicBool,
    /// A wake-up was asked for and the function has not run since (see
    /// [`Inner::wake`]).
    wake_requested: AtomicBool,
    ping_seq: AtomicU64,
    /// Files being sent and received, and the download folder.
    pub(crate) files: Files,
}

/// How long one write of a file chunk may block: the server stops reading
/// a sender while a receiver lags, for up to its `file_stall_timeout`
/// (30 s by default), so chunks get more time than the reply timeout.
const FILE_WRITE_TIMEOUT: Duration = Duration::from_secs(120);

impl Inner {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        config: ClientConfig,
        server: (String, u16),
        stream: Arc<Transport>,
        resumable: bool,
        nick: String,
        max_line_bytes: usize,
        max_nick_chars: usize,
        labels: bool,
        initial_users: Vec<String>,
    ) -> Inner {
        let capacity = config.event_queue_capacity;
        let reconnects = resumable && config.reconnect;
        Inner {
            config,
            max_line_bytes,
            max_nick_chars,
            nick: Mutex::new(nick),
            initial_users,
            link: Mutex::new(Link {
                stream,
                up: true,
                gone: false,
            }),
            link_cv: Condvar::new(),
            server,
            resume: Mutex::new(ResumeState::default()),
            reconnects,
            write_lock: Mutex::new(()),
            pending: Pending::new(labels),
            events: EventQueue::new(capacity),
            connected: AtomicBool::new(true),
            broken_reason: Mutex::new(None),
            wakeup: ReentrantMutex::new(RefCell::new(None)),
            reader_id: OnceLock::new(),
            reader_handle: Mutex::new(None),
            reader_done: Mutex::new(false),
            reader_done_cv: Condvar::new(),
            disconnecting: AtomicBool::new(false),
            wake_requested: AtomicBool::new(false),
            ping_seq: AtomicU64::new(0),
            files: Files::default(),
        }
    }

    /// The current connection.
    fn stream(&self) -> Arc<Transport> {
        Arc::clone(&self.link.lock().stream)
    }

    /// The connection to write to: waits (up to the reply timeout) while
    /// the client reconnects, except on the reader thread or inside a
    /// wake-up function (the reader is the one reconnecting). 03 when it
    /// does not come back in time.
    fn usable_stream(&self) -> Result<Arc<Transport>> {
        let mut link = self.link.lock();
        if !link.up && !link.gone && !self.on_reader_thread() && !wakeup::in_wakeup() {
            let deadline = std::time::Instant::now() + self.config.reply_timeout;
            while !link.up && !link.gone {
                if self.link_cv.wait_until(&mut link, deadline).timed_out() {
                    break;
                }
            }
        }
        if link.up {
            Ok(Arc::clone(&link.stream))
        } else {
            Err(aborted("reconnecting to the server"))
        }
    }

    /// The connection was lost and the client reconnects (`reconnect.rs`):
    /// waiting requests get 03, writers wait, the old socket is closed.
    pub(crate) fn link_down(&self, reason: &str) {
        if self.pending.close(reason, &self.events) {
            self.wake();
        }
        let mut link = self.link.lock();
        link.up = false;
        let _ = link.stream.shutdown(Shutdown::Both);
    }

    /// A new connection (registered or resumed) replaces the old one.
    pub(crate) fn link_up(&self, stream: Arc<Transport>) {
        self.pending.reopen();
        *self.broken_reason.lock() = None;
        let mut link = self.link.lock();
        link.stream = stream;
        link.up = true;
        self.link_cv.notify_all();
    }

    /// The client gave up reconnecting (or disconnected): writers stop
    /// waiting.
    pub(crate) fn link_gone(&self) {
        let mut link = self.link.lock();
        link.gone = true;
        self.link_cv.notify_all();
    }

    /// Whether `nick` is this client's nickname (any spelling).
    pub(crate) fn is_me(&self, nick: &str) -> bool {
        crate::protocol::nick_key(nick) == crate::protocol::nick_key(&self.nick.lock())
    }

    /// Whether this client is disconnecting itself.
    pub(crate) fn is_disconnecting(&self) -> bool {
        self.disconnecting.load(Ordering::Acquire)
    }

    pub(crate) fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }

    pub(crate) fn next_ping_token(&self) -> u64 {
        self.ping_seq.fetch_add(1, Ordering::Relaxed)
    }

    /// Sends one line (encoded here, with its label when the server
    /// echoes labels) and `payload` right after it, under the write lock,
    /// so that nothing else gets between them and lines from several
    /// threads never interleave. With a request, queues it under the same
    /// lock (so the queue order is the wire order) and waits for its answer
    /// after releasing the lock. With `file_chunk`, the write may block up
    /// to [`FILE_WRITE_TIMEOUT`] instead of the reply timeout.
    ///
    /// Errors: 17 for a request from the wake-up function (only the reader
    /// thread running it could read the answer); 03 once the connection
    /// has ended; 11 when the server does not take the line in time, or
    /// does not answer in time; 03 when the write fails (the connection is
    /// then broken: a half-written line cannot be taken back).
    pub(crate) fn send(
        &self,
        line: &ClientLine<'_>,
        payload: &[u8],
        request: Option<Request>,
        file_chunk: bool,
    ) -> Result<Option<Reply>> {
        if request.is_some() {
            wakeup::check_may_wait("a request that waits for the server's answer")?;
        }
        let (ticket, written) = self.transmit(line, payload, file_chunk, || match request {
            Some(r) => {
                let (t, l) = self.pending.push(r, subject_of(line))?;
                Ok((Some(t), l))
            }
            None => {
                if !self.is_connected() || self.pending.is_closed() {
                    return Err(aborted("the connection has ended"));
                }
                Ok((None, None))
            }
        })?;
        if let Err(failed) = written {
            self.break_connection(&failed.reason);
            return Err(failed.error);
        }
        match ticket {
            Some(t) => t.wait(self.config.reply_timeout).map(Some),
            None => Ok(None),
        }
    }

    /// Sends a request whose answer comes as an [`Event::Reply`] with
    /// `userdata` (see `Client::send_async`), and returns once it is
    /// written. `Request::Public` is answered here, once written. Errors
    /// only when the request cannot be queued (03 once the connection has
    /// ended); a failed write is the request's reply (11 or 03) and breaks
    /// the connection.
    pub(crate) fn send_async(
        &self,
        line: &ClientLine<'_>,
        payload: &[u8],
        request: Request,
        userdata: u64,
        offer: Option<Offer>,
    ) -> Result<()> {
        let (seq, written) = self.transmit(line, payload, false, || {
            if !self.is_connected() {
                return Err(aborted("the connection has ended"));
            }
            self.pending
                .push_async(request, subject_of(line), userdata, offer)
        })?;
        let queued = match written {
            Ok(()) if request == Request::Public => {
                self.pending.resolve(seq, Ok(Reply::Sent), &self.events)
            }
            Ok(()) => false,
            Err(failed) => {
                // This request's reply is the write's error; the others
                // get 03 from `break_connection`.
                let queued = self.pending.resolve(seq, Err(failed.error), &self.events);
                self.break_connection(&failed.reason);
                queued
            }
        };
        if queued {
            self.wake();
        }
        Ok(())
    }

    /// Writes `line` (with the label `register` gives) and `payload` under
    /// the write lock; `register` runs under that lock first, so that a
    /// request is queued in wire order. Returns what `register` returned
    /// and the outcome of the write (a failed write is left to the caller,
    /// which breaks the connection).
    fn transmit<T>(
        &self,
        line: &ClientLine<'_>,
        payload: &[u8],
        file_chunk: bool,
        register: impl FnOnce() -> Result<(T, Option<String>)>,
    ) -> Result<(T, std::result::Result<(), WriteFailed>)> {
        let w = self.write_lock.lock();
        let stream = self.usable_stream()?;
        let (registered, label) = register()?;
        let mut bytes = Vec::with_capacity(64);
        line.encode_labeled(label.as_deref(), &mut bytes);
        let timeout = if file_chunk {
            FILE_WRITE_TIMEOUT.max(self.config.reply_timeout)
        } else {
            self.config.reply_timeout
        };
        if file_chunk {
            let _ = stream.set_write_timeout(Some(timeout));
        }
        let mut result = (&*stream).write_all(&bytes);
        if result.is_ok() && !payload.is_empty() {
            result = (&*stream).write_all(payload);
        }
        if file_chunk {
            let _ = stream.set_write_timeout(Some(self.config.reply_timeout));
        }
        drop(w);
        let written = result.map_err(|e| {
            let timed_out = matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            );
            let reason = if timed_out {
                format!(
                    "the server did not take a line within {} ms",
                    timeout.as_millis()
                )
            } else {
                format!("writing to the server failed: {e}")
            };
            let code = if timed_out {
                ErrorCode::Timeout
            } else {
                ErrorCode::ConnectionAborted
            };
            WriteFailed {
                error: Error::io(code, reason.clone(), e),
                reason,
            }
        });
        Ok((registered, written))
    }

    /// Hands an answer line to the request it answers (see
    /// `Pending::answer`), waking the wake-up function when that queued a
    /// reply event. Returns the file of an asynchronous offer that `FILEOK`
    /// answered, to be streamed now.
    pub(crate) fn answer(&self, label: Option<&str>, reply: Reply) -> Option<Offer> {
        let answered = self.pending.answer(label, reply, &self.events);
        if answered.queued {
            self.wake();
        }
        answered.offer
    }

    /// Hands an `ERROR` line to the request it answers, if any (see
    /// `Pending::fail`); false when it answers none (it is an event then).
    pub(crate) fn fail(&self, label: Option<&str>, error: Error) -> bool {
        let answered = self.pending.fail(label, error, &self.events);
        if answered.queued {
            self.wake();
        }
        answered.matched
    }

    /// Ends the connection from this side after a failure: waiting requests
    /// get 03, and the reader thread sees EOF and queues `Disconnected`.
    /// (A half-written line leaves the stream unusable.)
    pub(crate) fn break_connection(&self, reason: &str) {
        {
            let mut r = self.broken_reason.lock();
            if r.is_none() {
                *r = Some(reason.to_owned());
            }
        }
        if !self.reconnects {
            self.connected.store(false, Ordering::Release);
        }
        if self.pending.close(reason, &self.events) {
            self.wake();
        }
        let _ = self.stream().shutdown(Shutdown::Both);
    }

    /// Called by the reader thread when it ends, whatever the cause.
    pub(crate) fn connection_ended(&self, detail: &str) {
        self.connected.store(false, Ordering::Release);
        self.link_gone();
        if self.pending.close(detail, &self.events) {
            self.wake();
        }
        // During `disconnect`, the socket is `disconnect`'s to close, after
        // its `quit` line.
        if !self.disconnecting.load(Ordering::Acquire) {
            let _ = self.stream().shutdown(Shutdown::Both);
        }
    }

    /// Calls the wake-up function, if any, on the calling (reader) thread,
    /// marked as such for the rule of `wakeup.rs`. A panic inside it is
    /// caught and ignored: it must not kill the reader.
    ///
    /// Usually called by the reader thread; also by a caller's thread when
    /// its asynchronous request was answered there (a public message once
    /// written, a failed write). Calls never nest and never wait for each
    /// other: a wake-up asked for while the function runs (on this thread,
    /// from inside the function, or on another thread) is a flag, and the
    /// thread running the function calls it again once it returns. So a
    /// function that makes asynchronous requests neither recurses nor
    /// deadlocks against another client's function doing the same.
    pub(crate) fn wake(&self) {
        self.wake_requested.store(true, Ordering::SeqCst);
        if self.wakeup.is_owned_by_current_thread() {
            // A call running on this thread (further up the stack, perhaps
            // under another client's function) sees the flag when it
            // returns.
            return;
        }
        self.run_requested_wakeups();
    }

    /// Calls the wake-up function while a wake-up is requested, unless
    /// another thread is running it (that thread then sees the request).
    fn run_requested_wakeups(&self) {
        while self.wake_requested.load(Ordering::SeqCst) {
            let Some(guard) = self.wakeup.try_lock() else {
                // Another thread holds it: it runs the function (and checks
                // the flag after releasing) or is `set_wakeup`, which
                // checks the flag after releasing too.
                return;
            };
            while self.wake_requested.swap(false, Ordering::SeqCst) {
                let f = guard.borrow().clone();
                if let Some(f) = f {
                    let _running = Running::enter(self.id());
                    let _ = catch_unwind(AssertUnwindSafe(|| f()));
                }
            }
            drop(guard);
        }
    }

    /// This client's identity for the wake-up rule: its address, stable
    /// for its lifetime (it lives in an `Arc`).
    pub(crate) fn id(&self) -> *const () {
        (self as *const Inner).cast()
    }

    pub(crate) fn set_wakeup(&self, f: Option<Wakeup>) {
        let guard = self.wakeup.lock();
        let old = guard.replace(f);
        drop(guard);
        drop(old);
        // A wake-up asked for while this held the lock was left to it.
        if !self.wakeup.is_owned_by_current_thread() {
            self.run_requested_wakeups();
        }
    }

    pub(crate) fn on_reader_thread(&self) -> bool {
        self.reader_id.get() == Some(&std::thread::current().id())
    }

    /// The reader thread's last act.
    pub(crate) fn mark_reader_done(&self) {
        let mut done = self.reader_done.lock();
        *done = true;
        self.reader_done_cv.notify_all();
    }

    /// See `Client::disconnect`, which refuses to call this from inside
    /// another client's wake-up function; `Drop` calls it from anywhere.
    ///
    /// Inside a wake-up function (this client's own, or another's when a
    /// `Client` is dropped there) nothing is waited for: the connection is
    /// closed and the wake-up function removed, and the reader thread and
    /// any file-sending thread end on their own (the reader cannot join
    /// itself, and waiting there is what the rule forbids).
    pub(crate) fn disconnect(&self) {
        let first = !self.disconnecting.swap(true, Ordering::AcqRel);
        if first {
            self.connected.store(false, Ordering::Release);
            // Requests still waiting get 03 (asynchronous ones as replies,
            // queued before the final event). Our own Disconnected event
            // comes next, so that the reader thread, seeing EOF after the
            // shutdown below, adds nothing.
            self.pending.close("this client disconnected", &self.events);
            self.events
                .push_final(ErrorCode::Closed, "disconnected by this client".to_owned());
            // `quit` is a courtesy: closing the socket means the same to the
            // server. Do not wait long for a writer stuck on a full socket.
            self.link_gone();
            let stream = self.stream();
            if let Some(_w) = self.write_lock.try_lock_for(Duration::from_millis(500)) {
                let _ = stream.set_write_timeout(Some(Duration::from_millis(500)));
                let mut quit = Vec::new();
                ClientLine::Quit.encode(&mut quit);
                let _ = (&*stream).write_all(&quit);
            }
            let _ = stream.shutdown(Shutdown::Both);
        }
        if wakeup::in_wakeup() || self.on_reader_thread() {
            // (On the reader thread outside a wake-up call: a `Client` owned
            // by the wake-up function dropped with it.) The queue has ended,
            // so the reader thread queues nothing more and calls no wake-up
            // function after removing it here. A running function was cloned
            // out, so this drops only the stored reference.
            self.set_wakeup(None);
            return;
        }
        let handle = self.reader_handle.lock().take();
        if let Some(h) = handle {
            let _ = h.join();
        }
        let mut done = self.reader_done.lock();
        while !*done {
            self.reader_done_cv.wait(&mut done);
        }
        drop(done);
        // File-sending threads: the socket is shut down, so one blocked on
        // a chunk fails at once.
        self.files.join_senders();
        // Free the wake-up function (it may own things, even this client).
        self.set_wakeup(None);
    }
}
