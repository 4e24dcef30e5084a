//! A level-triggered readiness descriptor for an event queue: readable
//! exactly while the queue holds at least one event, for `poll`/`epoll`,
//! GLib, Qt's `QSocketNotifier`, Tk's `createfilehandler` or asyncio's
//! `add_reader` (the client's and the server's `event_fd`).
//!
//! Linux (and Android) use an `eventfd` whose counter is nonzero exactly
//! while the queue is non-empty; other Unix systems a pipe with exactly one
//! byte in it while the queue is non-empty. Either way one descriptor is
//! handed out (the pipe's read end) and the owner only has to say when the
//! queue becomes non-empty ([`Readiness::set`]) and empty
//! ([`Readiness::clear`]), under the queue's own lock so that the
//! descriptor never disagrees with the queue a reader then pulls from.
//! Both descriptors are non-blocking and close-on-exec.
//!
//! A reader of the descriptor must never read from it: reading would make
//! it unreadable while events are still queued. Pulling the events is what
//! clears it.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// One readiness descriptor (see the module documentation). Not
/// thread-safe on its own: the owner calls `set` and `clear` under its
/// queue's lock.
#[derive(Debug)]
pub(crate) struct Readiness {
    /// The descriptor handed out (the eventfd, or the pipe's read end).
    read: OwnedFd,
    /// The pipe's write end (`None` for an eventfd, which is both).
    #[cfg_attr(any(target_os = "linux", target_os = "android"), allow(dead_code))]
    write: Option<OwnedFd>,
    /// Whether the descriptor is readable now: `set` and `clear` only
    /// touch the descriptor on a change, so a burst of events costs one
    /// system call.
    readable: bool,
}

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

impl Readiness {
    /// A new descriptor, not readable. Errors: the system's (`EMFILE`
    /// when the process has no descriptor left, `ENFILE`, `ENOMEM`).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub(crate) fn new() -> io::Result<Readiness> {
        // SAFETY: eventfd takes no pointers; a non-negative result is a new
        // descriptor that nothing else owns.
        let fd = cvt(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) })?;
        Ok(Readiness {
            // SAFETY: `fd` was just created and is owned by nobody else.
            read: unsafe { OwnedFd::from_raw_fd(fd) },
            write: None,
            readable: false,
        })
    }

    /// A new descriptor, not readable (a pipe; see [`Readiness::new`] on
    /// Linux for the errors).
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    pub(crate) fn new() -> io::Result<Readiness> {
        Readiness::new_pipe()
    }

    /// The pipe form, used where there is no eventfd (and by the tests on
    /// Linux). `pipe` then `fcntl` rather than `pipe2`, which macOS lacks.
    #[cfg_attr(any(target_os = "linux", target_os = "android"), allow(dead_code))]
    pub(crate) fn new_pipe() -> io::Result<Readiness> {
        let mut fds: [libc::c_int; 2] = [-1, -1];
        // SAFETY: `fds` is a valid array of two ints for pipe to fill.
        cvt(unsafe { libc::pipe(fds.as_mut_ptr()) })?;
        // SAFETY: both were just created by pipe and are owned by nobody else.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        for fd in [read.as_raw_fd(), write.as_raw_fd()] {
            // SAFETY: fcntl on descriptors this function owns.
            unsafe {
                cvt(libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC))?;
                let flags = cvt(libc::fcntl(fd, libc::F_GETFL))?;
                cvt(libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK))?;
            }
        }
        Ok(Readiness {
            read,
            write: Some(write),
            readable: false,
        })
    }

    /// The descriptor to poll for readability. It stays open until this
    /// `Readiness` is dropped.
    pub(crate) fn fd(&self) -> RawFd {
        self.read.as_raw_fd()
    }

    /// Makes the descriptor readable (the queue became non-empty). A
    /// failure cannot happen with the counter or pipe kept at 0 or 1; it
    /// is ignored (a waiter still wakes through the queue's condition
    /// variable).
    pub(crate) fn set(&mut self) {
        if self.readable {
            return;
        }
        let one: u64 = 1;
        let (fd, buf, len): (RawFd, *const libc::c_void, usize) = match &self.write {
            Some(w) => (w.as_raw_fd(), (&one as *const u64).cast(), 1),
            None => (self.read.as_raw_fd(), (&one as *const u64).cast(), 8),
        };
        // SAFETY: `buf` points to `len` (1 or 8) readable bytes of `one`.
        let n = unsafe { libc::write(fd, buf, len) };
        self.readable = n > 0;
    }

    /// Makes the descriptor unreadable (the queue became empty).
    pub(crate) fn clear(&mut self) {
        if !self.readable {
            return;
        }
        let mut buf = [0u8; 8];
        // An eventfd read takes the whole 8-byte counter; a pipe read the
        // one byte in it.
        let len = if self.write.is_some() { 1 } else { 8 };
        // SAFETY: `buf` has room for `len` (at most 8) bytes.
        let _ = unsafe { libc::read(self.read.as_raw_fd(), buf.as_mut_ptr().cast(), len) };
        self.readable = false;
    }

    /// `set` or `clear`, as the queue is non-empty or not.
    pub(crate) fn update(&mut self, non_empty: bool) {
        if non_empty {
            self.set();
        } else {
            self.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `fd` polls readable right now.
    fn readable(fd: RawFd) -> bool {
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut p, 1, 0) };
        n == 1 && p.revents & libc::POLLIN != 0
    }

    fn check(mut r: Readiness) {
        let fd = r.fd();
        assert!(!readable(fd));
        r.set();
        r.set();
        assert!(readable(fd));
        r.clear();
        assert!(!readable(fd), "one clear undoes any number of sets");
        r.clear();
        assert!(!readable(fd));
        r.update(true);
        assert!(readable(fd));
        // SAFETY: F_GETFD on a descriptor we hold.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        assert!(flags & libc::FD_CLOEXEC != 0);
    }

    #[test]
    fn the_default_form_is_level_triggered() {
        check(Readiness::new().unwrap());
    }

    #[test]
    fn the_pipe_form_is_level_triggered() {
        check(Readiness::new_pipe().unwrap());
    }
}
