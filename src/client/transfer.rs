//! Files and binary messages on the client side (PROTOCOL.md, "Files and
//! binary payloads").
//!
//! # Sending a file
//!
//! [`super::Client::send_file`] opens the file, sends `/file <to|*> <size>
//! :<name>` and waits for `FILEOK <id>` (or the error that refuses it: 02,
//! 07, 12 ...). Then a thread streams the file from disk in `/chunk` frames
//! of 64 KiB, each written whole under the connection's write lock, so chat
//! lines from other threads go out between two chunks; then `/fileend`.
//! The file is never read whole into memory. The server's flow control
//! (it stops reading while a receiver lags) slows that thread down through
//! TCP. Every sender event (progress from `FILEACK`, `FILEDONE`,
//! `FILESTOP`) comes from the reader thread, like every other event.
//!
//! # Receiving a file
//!
//! On `FILE`, the reader thread creates a temporary file (`.papo-*.part`,
//! created with `O_EXCL`, so never through a symlink) in the download
//! folder and writes each `CHUNK` to it as it arrives. On `FILEEND`, if the
//! byte count is right, it renames the file, without replacing anything,
//! to the announced name reduced by [`safe_file_name`], or `name (1).ext`,
//! `name (2).ext` ... when taken. On `FILEFAIL`, too many or too few bytes,
//! a write error or the connection ending, the temporary file is deleted:
//! no partial file is left (unless the process itself is killed, which
//! leaves a hidden `.papo-*.part`).

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tempfile::NamedTempFile;

use super::files::{Files, Offer, Receiving, Sending};
use super::inner::Inner;
use super::pending::Request;
use super::{Event, Reply};
use crate::error::{Error, ErrorCode, Result};
use crate::protocol::{numbered_file_name, safe_file_name, validate_nick, ClientLine, ServerLine};

/// Bytes of file data per `/chunk` frame the client sends.
pub(crate) const CHUNK_BYTES: usize = 64 * 1024;

/// How many numbered alternatives (`name (1).ext` ...) are tried before a
/// received file is given up.
const MAX_NAME_TRIES: u32 = 10_000;

fn percent(done: u64, total: u64) -> u64 {
    if total == 0 {
        100
    } else {
        ((done as u128 * 100) / total as u128) as u64
    }
}

/// Handles a transfer line from the server (reader thread), with the
/// label of the request it answers: the events to queue, or the line back
/// when it is not about transfers.
pub(crate) fn on_line(
    inner: &Arc<Inner>,
    label: Option<&str>,
    line: ServerLine<String>,
) -> std::result::Result<Vec<Event>, ServerLine<String>> {
    let files = &inner.files;
    Ok(match line {
        ServerLine::FileOk { id } => {
            if let Some(offer) = inner.answer(label, Reply::FileOk(id)) {
                // An asynchronous offer: its reply is queued; stream it now,
                // as `send_file` does after `FILEOK`. A thread that cannot
                // start is reported by the server's FILESTOP.
                let _ = start_streaming(inner, offer, id);
            }
            Vec::new()
        }
        ServerLine::FileAck { id, bytes } => {
            let mut st = files.state.lock();
            let Some(s) = st.sending.get_mut(&id) else {
                return Ok(Vec::new());
            };
            let pct = percent(bytes, s.size);
            if pct <= s.reported || bytes > s.size {
                return Ok(Vec::new());
            }
            s.reported = pct;
            vec![Event::FileSendProgress {
                id,
                to: s.to.clone(),
                name: s.name.clone(),
                bytes_done: bytes,
                bytes_total: s.size,
            }]
        }
        ServerLine::FileDone { id } => match files.state.lock().sending.remove(&id) {
            Some(s) => vec![Event::FileSent {
                id,
                to: s.to,
                name: s.name,
                size: s.size,
            }],
            None => Vec::new(),
        },
        ServerLine::FileStop { id, reason } => match files.state.lock().sending.remove(&id) {
            Some(s) => {
                s.stop.store(true, Ordering::Release);
                let reason = s.local_failure.lock().clone().unwrap_or(reason);
                vec![Event::FileSendFailed {
                    id,
                    to: s.to,
                    name: s.name,
                    reason,
                }]
            }
            None => Vec::new(),
        },
        ServerLine::File {
            from,
            id,
            size,
            private,
            name,
        } => start_receiving(files, &from, id, size, private, &name),
        ServerLine::FileEnd { id } => finish_receiving(files, id),
        ServerLine::FileFail { id, reason } => match files.state.lock().receiving.remove(&id) {
            // Dropping the temporary file deletes it.
            Some(r) => vec![failed(id, r, reason)],
            None => Vec::new(),
        },
        other => return Err(other),
    })
}

fn failed(id: u64, r: Receiving, reason: String) -> Event {
    Event::FileFailed {
        id,
        from: r.from,
        name: r.name,
        reason,
    }
}

fn start_receiving(
    files: &Files,
    from: &str,
    id: u64,
    size: u64,
    private: bool,
    announced: &str,
) -> Vec<Event> {
    let name = safe_file_name(announced);
    let dir = files.download_dir();
    let offered = Event::FileOffered {
        id,
        from: from.to_owned(),
        name: name.clone(),
        size,
        private,
    };
    let created = std::fs::create_dir_all(&dir).and_then(|()| {
        let mut builder = tempfile::Builder::new();
        builder.prefix(".papo-").suffix(".part");
        // A received file gets the mode of any downloaded file: 0666 less
        // the user's umask (tempfile's own default is 0600).
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
        builder.tempfile_in(&dir)
    });
    let file = match created {
        Ok(f) => f,
        Err(e) => {
            return vec![
                offered,
                Event::FileFailed {
                    id,
                    from: from.to_owned(),
                    name,
                    reason: format!("cannot write in {}: {e}", dir.display()),
                },
            ]
        }
    };
    let mut st = files.state.lock();
    let old = st.receiving.insert(
        id,
        Receiving {
            from: from.to_owned(),
            name,
            size,
            done: 0,
            reported: 0,
            dir,
            file,
        },
    );
    drop(st);
    let mut events = Vec::new();
    if let Some(old) = old {
        // A server reusing a number: the first one cannot be completed.
        events.push(failed(id, old, "the server reused its number".to_owned()));
    }
    events.push(offered);
    events
}

/// A payload frame from the server (reader thread), its header already
/// parsed: a `CHUNK` of a file being received, or a `BYTES` message.
pub(crate) fn on_frame(inner: &Inner, line: ServerLine<String>, payload: Vec<u8>) -> Vec<Event> {
    match line {
        ServerLine::Chunk { id, .. } => on_chunk(inner, id, &payload),
        ServerLine::Bytes { from, private, .. } => vec![Event::Bytes {
            from,
            data: payload,
            private,
        }],
        _ => Vec::new(),
    }
}

/// A `CHUNK` frame (reader thread): appends its bytes to the file.
fn on_chunk(inner: &Inner, id: u64, data: &[u8]) -> Vec<Event> {
    let mut st = inner.files.state.lock();
    let Some(r) = st.receiving.get_mut(&id) else {
        return Vec::new();
    };
    let len = data.len() as u64;
    if r.done.saturating_add(len) > r.size {
        let reason = format!("more bytes than the {} announced", r.size);
        return st
            .receiving
            .remove(&id)
            .map(|r| vec![failed(id, r, reason)])
            .unwrap_or_default();
    }
    if let Err(e) = r.file.write_all(data) {
        let reason = format!("cannot write the file: {e}");
        return st
            .receiving
            .remove(&id)
            .map(|r| vec![failed(id, r, reason)])
            .unwrap_or_default();
    }
    r.done += len;
    let pct = percent(r.done, r.size);
    if len == 0 || pct <= r.reported {
        return Vec::new();
    }
    r.reported = pct;
    vec![Event::FileProgress {
        id,
        from: r.from.clone(),
        name: r.name.clone(),
        bytes_done: r.done,
        bytes_total: r.size,
    }]
}

fn finish_receiving(files: &Files, id: u64) -> Vec<Event> {
    let Some(r) = files.state.lock().receiving.remove(&id) else {
        return Vec::new();
    };
    if r.done != r.size {
        let reason = format!("only {} of the {} bytes announced", r.done, r.size);
        return vec![failed(id, r, reason)];
    }
    let Receiving {
        from,
        name,
        size,
        dir,
        mut file,
        ..
    } = r;
    if let Err(e) = file.flush() {
        return vec![Event::FileFailed {
            id,
            from,
            name,
            reason: format!("cannot write the file: {e}"),
        }];
    }
    match persist_unique(file, &dir, &name) {
        Ok(path) => vec![Event::FileReceived {
            id,
            from,
            name,
            path,
            size,
        }],
        Err(reason) => vec![Event::FileFailed {
            id,
            from,
            name,
            reason,
        }],
    }
}

/// Gives the temporary file its final name in `dir`: `name`, or the first
/// free `name (n).ext`. Never replaces anything (a name taken by a file, a
/// folder or a symlink, even a dangling one, counts as taken).
fn persist_unique(
    mut file: NamedTempFile,
    dir: &Path,
    name: &str,
) -> std::result::Result<PathBuf, String> {
    for n in 0..MAX_NAME_TRIES {
        let path = dir.join(numbered_file_name(name, n));
        match file.persist_noclobber(&path) {
            Ok(_) => return Ok(path),
            Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => file = e.file,
            Err(e) => return Err(format!("cannot save {}: {}", path.display(), e.error)),
        }
    }
    Err(format!(
        "no free name for {name} in {} after {MAX_NAME_TRIES} tries",
        dir.display()
    ))
}

/// The connection ended (reader thread): every file still coming or going
/// fails; received parts are deleted.
pub(crate) fn connection_ended(inner: &Inner, reason: &str) -> Vec<Event> {
    let mut st = inner.files.state.lock();
    let mut events = Vec::new();
    let mut receiving: Vec<(u64, Receiving)> = st.receiving.drain().collect();
    receiving.sort_by_key(|(id, _)| *id);
    for (id, r) in receiving {
        events.push(failed(id, r, reason.to_owned()));
    }
    let mut sending: Vec<(u64, Sending)> = st.sending.drain().collect();
    sending.sort_by_key(|(id, _)| *id);
    for (id, s) in sending {
        s.stop.store(true, Ordering::Release);
        events.push(Event::FileSendFailed {
            id,
            to: s.to,
            name: s.name,
            reason: reason.to_owned(),
        });
    }
    events
}

/// The name a file is announced under: its own name (lossily converted to
/// UTF-8) reduced by [`safe_file_name`].
fn announced_name(path: &Path) -> String {
    let raw = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    safe_file_name(&raw)
}

/// Checks a file offer locally (see [`super::Client::send_file`] for the
/// errors) and opens the file: the offer and its `/file` line.
fn prepare_offer(inner: &Inner, to: Option<&str>, path: &Path) -> Result<Offer> {
    let to = to.filter(|t| !t.is_empty());
    if let Some(to) = to {
        validate_nick(to, inner.max_nick_chars)
            .map_err(|code| Error::new(code, format!("{to:?} cannot be a nickname")))?;
    }
    let file = File::open(path)
        .map_err(|e| Error::io(ErrorCode::Io, format!("cannot open {}", path.display()), e))?;
    let meta = file
        .metadata()
        .map_err(|e| Error::io(ErrorCode::Io, format!("cannot read {}", path.display()), e))?;
    if !meta.is_file() {
        return Err(Error::new(
            ErrorCode::InvalidArgument,
            format!("{} is not a regular file", path.display()),
        ));
    }
    let offer = Offer {
        file,
        to: to.map(str::to_owned),
        name: announced_name(path),
        size: meta.len(),
    };
    let len = offer_line_len(&offer);
    if len > inner.max_line_bytes {
        return Err(Error::new(
            ErrorCode::TooLong,
            format!(
                "the /file line would be {len} bytes; the server takes at most {}",
                inner.max_line_bytes
            ),
        ));
    }
    Ok(offer)
}

/// The `/file` line of an offer.
fn offer_line(offer: &Offer) -> ClientLine<'_> {
    ClientLine::File {
        to: offer.to.as_deref(),
        size: offer.size,
        name: &offer.name,
    }
}

/// The length of the `/file` line without its LF (and without a label).
fn offer_line_len(offer: &Offer) -> usize {
    let mut line = Vec::new();
    offer_line(offer).encode(&mut line);
    line.len().saturating_sub(1)
}

/// See [`super::Client::send_file`].
pub(crate) fn send_file(inner: &Arc<Inner>, to: Option<&str>, path: &Path) -> Result<u64> {
    let offer = prepare_offer(inner, to, path)?;
    let id = match inner.send(&offer_line(&offer), &[], Some(Request::FileOffer), false)? {
        Some(Reply::FileOk(id)) => id,
        other => {
            return Err(Error::new(
                ErrorCode::InvalidServer,
                format!("unexpected answer from the server: {other:?}"),
            ))
        }
    };
    start_streaming(inner, offer, id)?;
    Ok(id)
}

/// See [`super::Client::send_file_async`]: the offer goes out now; its
/// `FILEOK` starts the streaming on the reader thread ([`on_line`]).
pub(crate) fn send_file_async(
    inner: &Inner,
    to: Option<&str>,
    path: &Path,
    userdata: u64,
) -> Result<()> {
    let offer = prepare_offer(inner, to, path)?;
    // The line borrows the offer, which moves into the pending request.
    let to = offer.to.clone();
    let name = offer.name.clone();
    let line = ClientLine::File {
        to: to.as_deref(),
        size: offer.size,
        name: &name,
    };
    inner.send_async(&line, &[], Request::FileOffer, userdata, Some(offer))
}

/// Starts the thread that streams file `id` once the server accepted it
/// (`FILEOK`). Error 15 `Io` when the thread cannot start (the server is
/// then told to stop the transfer, and its `FILESTOP` ends it with that
/// reason).
pub(crate) fn start_streaming(inner: &Arc<Inner>, offer: Offer, id: u64) -> Result<()> {
    let Offer {
        file,
        to,
        name,
        size,
    } = offer;
    let stop = Arc::new(AtomicBool::new(false));
    let local_failure = Arc::new(Mutex::new(None));
    inner.files.state.lock().sending.insert(
        id,
        Sending {
            to,
            name,
            size,
            reported: 0,
            stop: Arc::clone(&stop),
            local_failure: Arc::clone(&local_failure),
        },
    );
    let for_thread = Arc::clone(inner);
    let spawned = std::thread::Builder::new()
        .name("papo-file-send".to_owned())
        .spawn(move || stream_file(&for_thread, file, id, size, &stop, &local_failure));
    match spawned {
        Ok(handle) => {
            let mut st = inner.files.state.lock();
            st.threads.retain(|t| !t.is_finished());
            st.threads.push(handle);
            Ok(())
        }
        Err(e) => {
            // Tell the server; its FILESTOP ends the entry with this reason.
            if let Some(s) = inner.files.state.lock().sending.get(&id) {
                *s.local_failure.lock() = Some(format!("cannot start a thread: {e}"));
            }
            let _ = inner.send(&ClientLine::FileAbort { id }, &[], None, false);
            Err(Error::io(
                ErrorCode::Io,
                "cannot start the sending thread",
                e,
            ))
        }
    }
}

/// The body of the sending thread: the file's bytes in `/chunk` frames,
/// then `/fileend` (or `/fileabort` when reading fails).
fn stream_file(
    inner: &Inner,
    mut file: File,
    id: u64,
    size: u64,
    stop: &AtomicBool,
    local_failure: &Mutex<Option<String>>,
) {
    let mut buf = vec![0u8; CHUNK_BYTES];
    let mut sent = 0u64;
    let give_up = |reason: String| {
        *local_failure.lock() = Some(reason);
        let _ = inner.send(&ClientLine::FileAbort { id }, &[], None, false);
    };
    while sent < size {
        if stop.load(Ordering::Acquire) || !inner.is_connected() {
            return;
        }
        let want = usize::try_from(size - sent)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let Some(space) = buf.get_mut(..want) else {
            return;
        };
        let n = match file.read(space) {
            Ok(0) => {
                give_up(format!(
                    "the file got shorter while it was sent ({sent} of {size} bytes)"
                ));
                return;
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                give_up(format!("cannot read the file: {e}"));
                return;
            }
        };
        let data = buf.get(..n).unwrap_or(&[]);
        let chunk = ClientLine::Chunk { id, size: n as u64 };
        if inner.send(&chunk, data, None, true).is_err() {
            // The connection is broken; the reader thread reports it.
            return;
        }
        sent += n as u64;
    }
    let _ = inner.send(&ClientLine::FileEnd { id }, &[], None, true);
}

/// Checks a binary message's destination (06 for one that cannot be a
/// nickname) and makes its `/bytes` line.
fn bytes_line<'a>(inner: &Inner, to: Option<&'a str>, data: &[u8]) -> Result<ClientLine<'a>> {
    let to = to.filter(|t| !t.is_empty());
    if let Some(to) = to {
        validate_nick(to, inner.max_nick_chars)
            .map_err(|code| Error::new(code, format!("{to:?} cannot be a nickname")))?;
    }
    Ok(ClientLine::Bytes {
        to,
        size: data.len() as u64,
    })
}

/// See [`super::Client::send_bytes`].
pub(crate) fn send_bytes(inner: &Inner, to: Option<&str>, data: &[u8]) -> Result<()> {
    let line = bytes_line(inner, to, data)?;
    match inner.send(&line, data, Some(Request::Sent), false)? {
        Some(Reply::Sent) => Ok(()),
        other => Err(Error::new(
            ErrorCode::InvalidServer,
            format!("unexpected answer from the server: {other:?}"),
        )),
    }
}

/// See [`super::Client::send_bytes_async`].
pub(crate) fn send_bytes_async(
    inner: &Inner,
    to: Option<&str>,
    data: &[u8],
    userdata: u64,
) -> Result<()> {
    let line = bytes_line(inner, to, data)?;
    inner.send_async(&line, data, Request::Sent, userdata, None)
}
