//! Helpers for the HTTP port's tests: plain HTTP requests over a
//! `TcpStream`, and a blocking WebSocket client (tungstenite) that speaks
//! the chat as a browser page does (one text message per line, binary
//! messages for payloads).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use tungstenite::client::IntoClientRequest;
use tungstenite::{Message, WebSocket};

pub const WAIT: Duration = Duration::from_secs(20);

/// One HTTP response: status, headers (names lower-cased), body.
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == &name.to_ascii_lowercase())
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends `request` as it is and reads the answer to the end (every answer
/// of the port closes its connection).
pub fn raw_request(port: u16, request: &[u8]) -> Response {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to the HTTP port");
    s.set_read_timeout(Some(WAIT)).expect("timeout");
    s.write_all(request).expect("write the request");
    let mut all = Vec::new();
    s.read_to_end(&mut all).expect("read the answer");
    parse(&all)
}

/// `GET path` with a `Host` header.
pub fn get(port: u16, path: &str) -> Response {
    raw_request(
        port,
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n").as_bytes(),
    )
}

fn parse(all: &[u8]) -> Response {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut r = httparse::Response::new(&mut headers);
    let n = match r.parse(all) {
        Ok(httparse::Status::Complete(n)) => n,
        other => panic!(
            "not an HTTP response: {other:?} {:?}",
            String::from_utf8_lossy(all)
        ),
    };
    Response {
        status: r.code.unwrap_or(0),
        headers: r
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_ascii_lowercase(),
                    String::from_utf8_lossy(h.value).into_owned(),
                )
            })
            .collect(),
        body: all.get(n..).unwrap_or(&[]).to_vec(),
    }
}

/// A WebSocket client of the chat.
pub struct Ws {
    pub ws: WebSocket<TcpStream>,
    pub label: String,
}

/// Opens `/ws` with `Origin: origin` (none when `None`), over `stream`
/// when given (a socket set up by the test), else a new connection.
pub fn open(
    port: u16,
    origin: Option<&str>,
    stream: Option<TcpStream>,
) -> Result<Ws, tungstenite::Error> {
    let url = format!("ws://127.0.0.1:{port}/ws");
    let mut req = url.into_client_request()?;
    if let Some(o) = origin {
        req.headers_mut()
            .insert("Origin", o.parse().expect("header value"));
    }
    let stream = match stream {
        Some(s) => s,
        None => TcpStream::connect(("127.0.0.1", port)).expect("connect"),
    };
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    let (ws, _resp) = tungstenite::client(req, stream).map_err(|e| match e {
        tungstenite::HandshakeError::Failure(e) => e,
        tungstenite::HandshakeError::Interrupted(_) => {
            tungstenite::Error::Io(std::io::ErrorKind::WouldBlock.into())
        }
    })?;
    Ok(Ws {
        ws,
        label: String::from("ws"),
    })
}

impl Ws {
    /// Opens `/ws` from the page's own origin and reads `HELLO`.
    pub fn connect(port: u16) -> Ws {
        let origin = format!("http://127.0.0.1:{port}");
        let mut w = open(port, Some(&origin), None).expect("WebSocket handshake");
        let hello = w.line();
        assert!(hello.starts_with("HELLO papo/1 "), "{hello:?}");
        w
    }

    /// Connects, optionally says `/binary on`, registers `nick`; returns
    /// the client and its `USERS` line.
    pub fn join(port: u16, nick: &str, binary: bool) -> (Ws, String) {
        let mut w = Ws::connect(port);
        w.label = nick.to_owned();
        if binary {
            w.send("/binary on");
            w.expect("BINARY on");
        }
        w.send(nick);
        w.expect(&format!("WELCOME {nick} "));
        let users = w.expect("USERS ");
        (w, users)
    }

    pub fn send(&mut self, line: &str) {
        self.ws
            .send(Message::text(line.to_owned()))
            .unwrap_or_else(|e| panic!("{}: send: {e}", self.label));
    }

    pub fn send_binary(&mut self, data: &[u8]) {
        self.ws
            .send(Message::binary(data.to_vec()))
            .unwrap_or_else(|e| panic!("{}: send: {e}", self.label));
    }

    /// The next text or binary message (pings and pongs skipped); `None`
    /// once the connection is closed.
    pub fn next(&mut self) -> Option<Message> {
        loop {
            match self.ws.read() {
                Ok(m @ (Message::Text(_) | Message::Binary(_))) => return Some(m),
                Ok(Message::Close(_)) => {}
                Ok(_) => {}
                Err(tungstenite::Error::ConnectionClosed)
                | Err(tungstenite::Error::AlreadyClosed) => return None,
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::UnexpectedEof
                    ) =>
                {
                    return None
                }
                Err(tungstenite::Error::Protocol(_)) => return None,
                Err(e) => panic!("{}: read: {e}", self.label),
            }
        }
    }

    /// The next text message, which must be one.
    pub fn line(&mut self) -> String {
        match self.next() {
            Some(Message::Text(t)) => t.as_str().to_owned(),
            other => panic!("{}: expected a text message, got {other:?}", self.label),
        }
    }

    pub fn expect(&mut self, prefix: &str) -> String {
        let l = self.line();
        assert!(
            l.starts_with(prefix),
            "{}: expected {prefix:?}, got {l:?}",
            self.label
        );
        l
    }

    /// `/ping` and the lines before its `PONG`.
    pub fn sync(&mut self) -> Vec<String> {
        self.send("/ping wsync");
        let mut before = Vec::new();
        loop {
            let l = self.line();
            if l == "PONG :wsync" {
                return before;
            }
            before.push(l);
        }
    }
}
