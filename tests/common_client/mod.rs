//! Helpers for the client tests: a scripted peer on a real loopback socket.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::Duration;

/// Generous bound for every wait in a test (never a timed assertion).
pub const WAIT: Duration = Duration::from_secs(20);

/// The `HELLO` line of a papo server with default limits.
pub const HELLO: &str = "HELLO papo/1 line=4096 nick=32 :Bem-vindo ao papo!";

/// The server side of one accepted connection, driven by the test.
pub struct Peer {
    pub stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Peer {
    fn new(stream: TcpStream) -> Peer {
        stream.set_read_timeout(Some(WAIT)).unwrap();
        stream.set_write_timeout(Some(WAIT)).unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        Peer { stream, reader }
    }

    /// Sends one line (LF added).
    pub fn send(&mut self, line: &str) {
        self.send_raw(format!("{line}\n").as_bytes());
    }

    /// Sends bytes as they are.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// The next line the client sent, without its LF; `None` at EOF.
    /// Panics if nothing comes within [`WAIT`].
    pub fn line(&mut self) -> Option<String> {
        let mut s = String::new();
        match self.reader.read_line(&mut s) {
            Ok(0) => None,
            Ok(_) => Some(s.trim_end_matches('\n').to_owned()),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => None,
            Err(e) => panic!("reading from the client: {e}"),
        }
    }

    /// Reads the client's nickname line and welcomes it with a user list.
    pub fn register(&mut self, users: &[&str]) -> String {
        self.send(HELLO);
        let nick = self.line().expect("nickname line");
        self.send(&format!("WELCOME {nick} :Bem-vindo, {nick}!"));
        let mut all: Vec<String> = users.iter().map(|s| s.to_string()).collect();
        all.push(nick.clone());
        all.sort_by_key(|n| n.to_lowercase());
        self.send(&format!("USERS {} :{}", all.len(), all.join(" ")));
        nick
    }
}

/// A listener on 127.0.0.1:0 whose first connection is handed to `script`
/// on a thread. Returns the port and the thread (join it to see the
/// script's assertions).
pub fn scripted<T, F>(script: F) -> (u16, JoinHandle<T>)
where
    F: FnOnce(Peer) -> T + Send + 'static,
    T: Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        script(Peer::new(stream))
    });
    (port, handle)
}

/// A port on 127.0.0.1 where nothing listens (bound, then released).
pub fn dead_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}
