//! Helpers for the file-transfer tests: a raw connection that reads both
//! lines and payload bytes (as a hand-written client would), with a timeout
//! on every read so that no test can hang, plus memory readings from /proc.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Longest a test waits for any one line or event. Generous: the box may be
/// loaded; it only bounds a failure.
pub const WAIT: Duration = Duration::from_secs(30);

/// One raw connection speaking the wire protocol by hand.
pub struct Wire {
    pub stream: TcpStream,
    reader: BufReader<TcpStream>,
    pub label: String,
    /// The start of a line that `try_line` did not get whole.
    pending: Vec<u8>,
}

impl Wire {
    /// Connects, says it accepts binary frames (`/binary on`, as a library
    /// client does: PROTOCOL.md "Binary capability") and registers `nick`;
    /// returns after `USERS`.
    pub fn join(addr: SocketAddr, nick: &str) -> Wire {
        let stream = TcpStream::connect_timeout(&addr, WAIT).expect("connect");
        stream.set_read_timeout(Some(WAIT)).expect("timeout");
        stream.set_write_timeout(Some(WAIT)).expect("timeout");
        let _ = stream.set_nodelay(true);
        let reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut w = Wire {
            stream,
            reader,
            label: nick.to_string(),
            pending: Vec::new(),
        };
        w.expect("HELLO papo/1 ");
        w.send("/binary on");
        w.expect("BINARY on ");
        w.send(nick);
        w.expect(&format!("WELCOME {nick} "));
        w.expect("USERS ");
        w
    }

    pub fn send(&mut self, line: &str) {
        self.send_raw(format!("{line}\n").as_bytes());
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream
            .write_all(bytes)
            .unwrap_or_else(|e| panic!("{}: write: {e}", self.label));
    }

    /// The next line (LF removed); panics at end of stream or timeout.
    pub fn line(&mut self) -> String {
        let mut buf = std::mem::take(&mut self.pending);
        match self.reader.read_until(b'\n', &mut buf) {
            Ok(0) => panic!("{}: end of stream, expected a line", self.label),
            Ok(_) => {
                assert_eq!(buf.pop(), Some(b'\n'), "{}: no LF", self.label);
                String::from_utf8(buf).expect("UTF-8 line")
            }
            Err(e) => panic!("{}: read: {e}", self.label),
        }
    }

    /// The next line if one comes within `wait` (LF removed), `None`
    /// otherwise (what came of it is kept for the next read); panics at
    /// end of stream.
    pub fn try_line(&mut self, wait: Duration) -> Option<String> {
        self.stream.set_read_timeout(Some(wait)).expect("timeout");
        let mut buf = std::mem::take(&mut self.pending);
        let got = self.reader.read_until(b'\n', &mut buf);
        self.stream.set_read_timeout(Some(WAIT)).expect("timeout");
        match got {
            Ok(0) => panic!("{}: end of stream, expected a line", self.label),
            Ok(_) if buf.last() == Some(&b'\n') => {
                buf.pop();
                Some(String::from_utf8(buf).expect("UTF-8 line"))
            }
            Ok(_) => panic!("{}: end of stream inside a line", self.label),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                self.pending = buf;
                None
            }
            Err(e) => panic!("{}: read: {e}", self.label),
        }
    }

    /// The next line, which must start with `prefix`.
    pub fn expect(&mut self, prefix: &str) -> String {
        let l = self.line();
        assert!(
            l.starts_with(prefix),
            "{}: expected {prefix:?}, got {l:?}",
            self.label
        );
        l
    }

    /// Exactly `n` payload bytes, then the LF that ends a server payload.
    pub fn payload(&mut self, n: usize) -> Vec<u8> {
        let mut buf = vec![0u8; n];
        self.reader
            .read_exact(&mut buf)
            .unwrap_or_else(|e| panic!("{}: payload: {e}", self.label));
        let mut lf = [0u8; 1];
        self.reader.read_exact(&mut lf).expect("LF after payload");
        assert_eq!(lf[0], b'\n', "{}: payload not followed by LF", self.label);
        buf
    }

    /// Sends `/ping <token>` and returns the lines before its `PONG`.
    pub fn sync(&mut self, token: &str) -> Vec<String> {
        self.send(&format!("/ping {token}"));
        let want = format!("PONG :{token}");
        let mut before = Vec::new();
        loop {
            let l = self.line();
            if l == want {
                return before;
            }
            before.push(l);
        }
    }

    /// Reads until end of stream (or reset) and returns the raw bytes.
    pub fn read_to_end(&mut self) -> Vec<u8> {
        let mut all = Vec::new();
        let deadline = Instant::now() + WAIT;
        let mut buf = [0u8; 65536];
        loop {
            assert!(
                Instant::now() < deadline,
                "{}: no end of stream",
                self.label
            );
            match self.reader.read(&mut buf) {
                Ok(0) => return all,
                Ok(n) => all.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return all,
                Err(e) => panic!("{}: read: {e}", self.label),
            }
        }
    }

    /// Closes the socket at once with a reset, as the kernel does for a
    /// process that was killed with data unread.
    pub fn kill(self) {
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            let linger = libc::linger {
                l_onoff: 1,
                l_linger: 0,
            };
            // SAFETY: setsockopt on a descriptor owned by `self.stream`,
            // alive here, reading a struct on this stack frame.
            unsafe {
                libc::setsockopt(
                    self.stream.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_LINGER,
                    &linger as *const libc::linger as *const libc::c_void,
                    std::mem::size_of::<libc::linger>() as libc::socklen_t,
                );
            }
        }
        let _ = self.stream.shutdown(Shutdown::Read);
        drop(self);
    }
}

/// `VmRSS` (resident memory now) and `VmHWM` (its peak) of this process,
/// in bytes, from /proc/self/status. `None` off Linux.
pub fn rss() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// Resets the process's `VmHWM` to its current `VmRSS` (Linux 4.0+:
/// writing 5 to /proc/self/clear_refs). Returns false when not possible.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}
