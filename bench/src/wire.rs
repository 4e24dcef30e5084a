//! The three wire protocols as the load generator needs them: encoders for
//! what a client sends, and incremental parsers that turn what a server sends
//! into [`Item`]s (a delivery, an acknowledgement, a PONG, ...).
//!
//! - papo: text lines of PROTOCOL.md (`PUBLIC from :text`, `PRIVATE from
//!   :text`, `SENT to :...`, `PONG`, `WELCOME`, `JOIN`, `ERROR`, ...).
//! - NATS: the client protocol (<https://docs.nats.io/reference/reference-protocols/nats-protocol>):
//!   `MSG <subject> <sid> [reply-to] <#bytes>\r\n<payload>\r\n`, `PING`,
//!   `PONG`, `+OK`, `-ERR`, `INFO`.
//! - Redis: RESP3 (`HELLO 3`), where pub/sub messages are push frames
//!   `>3 message <channel> <payload>` and a subscribed connection may still
//!   PUBLISH and PING.
//!
//! Every payload the generator sends starts with a 28-byte header of hex
//! digits: send time (16, nanoseconds since the run's epoch), publisher id
//! (4) and sequence number (8); the rest is `x` up to the payload size.

use memchr::memchr;

use crate::servers::System;

/// Bytes of the payload header (timestamp, publisher id, sequence number).
pub const PAYLOAD_HEADER: usize = 28;

/// One thing a server sent, as the generator counts it.
#[derive(Debug, PartialEq, Eq)]
pub enum Item<'a> {
    /// A message delivered to this connection; the slice is its payload.
    Delivery(&'a [u8]),
    /// An acknowledgement of a publish: papo `SENT`, the integer reply to a
    /// Redis PUBLISH.
    Ack,
    /// Answer to our ping: papo `PONG`, NATS `PONG`, Redis `PONG`.
    Pong,
    /// papo `WELCOME`: the nickname was accepted.
    Welcome,
    /// papo `JOIN` notices: 1 for a `JOIN` line, the number of joins a
    /// `CHANGES` line lists (several presence changes in one line,
    /// PROTOCOL.md "Presence").
    Joins(u64),
    /// A server PING (NATS) that must be answered with PONG.
    Ping,
    /// Something expected and ignored: greetings, user lists, INFO, +OK,
    /// subscribe confirmations, the HELLO map, LEFT, NICK.
    Notice,
    /// An error reported by the server (papo `ERROR ..`, NATS `-ERR`, RESP
    /// error); the slice is the whole line.
    Error(&'a [u8]),
    /// papo `CLUSTER partitioned|healed` or `RENAMED old new` (PROTOCOL.md,
    /// "Clusters"): the chat of several nodes was cut, healed, or renamed
    /// a client; the slice is the whole line.
    Cluster(&'a [u8]),
    /// papo `LOST <n>`: the server says n messages meant for this client
    /// were lost between the nodes; the line with it.
    Lost(u64, &'a [u8]),
    /// A line or frame the generator does not expect.
    Unexpected(&'a [u8]),
}

/// Parses as many complete items as `buf` holds, calling `f` for each, and
/// returns how many bytes were consumed (the rest is an incomplete item to
/// keep for the next read). An `Err` means the stream is corrupt.
pub fn parse(system: System, buf: &[u8], f: &mut impl FnMut(Item<'_>)) -> Result<usize, String> {
    match system {
        System::Papo => Ok(parse_papo(buf, f)),
        System::Nats => parse_nats(buf, f),
        System::Redis => parse_redis(buf, f),
    }
}

fn parse_papo(buf: &[u8], f: &mut impl FnMut(Item<'_>)) -> usize {
    let mut pos = 0;
    while let Some(nl) = memchr(b'\n', &buf[pos..]) {
        let mut line = &buf[pos..pos + nl];
        pos += nl + 1;
        if let [rest @ .., b'\r'] = line {
            line = rest;
        }
        f(classify_papo(line));
    }
    pos
}

fn classify_papo(line: &[u8]) -> Item<'_> {
    let text_after_colon = |from: usize| -> Option<&[u8]> {
        let tail = line.get(from..)?;
        memchr(b':', tail).map(|i| &tail[i + 1..])
    };
    if line.starts_with(b"PUBLIC ") {
        return match text_after_colon(7) {
            Some(p) => Item::Delivery(p),
            None => Item::Unexpected(line),
        };
    }
    if line.starts_with(b"PRIVATE ") {
        return match text_after_colon(8) {
            Some(p) => Item::Delivery(p),
            None => Item::Unexpected(line),
        };
    }
    // `ROOM <#room> <from> :text` (a room's name and a nickname hold no `:`).
    if line.starts_with(b"ROOM ") {
        return match text_after_colon(5) {
            Some(p) => Item::Delivery(p),
            None => Item::Unexpected(line),
        };
    }
    if line.starts_with(b"SENT ") {
        return Item::Ack;
    }
    if line.starts_with(b"JOIN ") {
        return Item::Joins(1);
    }
    if let Some(rest) = line.strip_prefix(b"CHANGES ") {
        return match changes_joins(rest) {
            Some(n) => Item::Joins(n),
            None => Item::Unexpected(line),
        };
    }
    if line == b"PONG" || line.starts_with(b"PONG ") {
        return Item::Pong;
    }
    if line.starts_with(b"WELCOME ") {
        return Item::Welcome;
    }
    if line.starts_with(b"ERROR ") {
        return Item::Error(line);
    }
    if line.starts_with(b"CLUSTER ") || line.starts_with(b"RENAMED ") {
        return Item::Cluster(line);
    }
    if let Some(rest) = line.strip_prefix(b"LOST ") {
        let n = rest
            .split(|&b| b == b' ')
            .next()
            .and_then(|w| std::str::from_utf8(w).ok())
            .and_then(|w| w.parse().ok());
        return match n {
            Some(n) => Item::Lost(n, line),
            None => Item::Unexpected(line),
        };
    }
    for kw in [
        &b"HELLO "[..],
        b"USERS ",
        b"LEFT ",
        b"NICK ",
        b"HELP ",
        b"PRESENCE ",
        b"ROOMJOIN ",
        b"ROOMPART ",
        b"TOPIC ",
    ] {
        if line.starts_with(kw) {
            return Item::Notice;
        }
    }
    Item::Unexpected(line)
}

/// The joins a `CHANGES <n> :JOIN a b, LEFT c, NICK d e, ...` line lists
/// (`rest` is what follows `CHANGES `): the names of its `JOIN` items.
fn changes_joins(rest: &[u8]) -> Option<u64> {
    let colon = memchr(b':', rest)?;
    let mut joins = 0u64;
    for item in rest[colon + 1..].split(|&b| b == b',') {
        let mut words = item.split(|&b| b == b' ').filter(|w| !w.is_empty());
        if words.next() == Some(&b"JOIN"[..]) {
            joins += words.count() as u64;
        }
    }
    Some(joins)
}

fn parse_nats(buf: &[u8], f: &mut impl FnMut(Item<'_>)) -> Result<usize, String> {
    let mut pos = 0;
    while let Some(nl) = memchr(b'\n', &buf[pos..]) {
        let mut line = &buf[pos..pos + nl];
        let after = pos + nl + 1;
        if let [rest @ .., b'\r'] = line {
            line = rest;
        }
        if line.starts_with(b"MSG ") {
            // The last field is the payload size in bytes.
            let len_field = line.rsplit(|&b| b == b' ').next().unwrap_or(b"");
            let len = parse_usize(len_field)
                .ok_or_else(|| format!("NATS: bad MSG line {:?}", String::from_utf8_lossy(line)))?;
            let end = after + len;
            if end + 2 > buf.len() {
                break; // payload not complete yet
            }
            if &buf[end..end + 2] != b"\r\n" {
                return Err("NATS: payload not followed by CRLF".into());
            }
            f(Item::Delivery(&buf[after..end]));
            pos = end + 2;
            continue;
        }
        pos = after;
        f(match line {
            b"PING" => Item::Ping,
            b"PONG" => Item::Pong,
            b"+OK" => Item::Notice,
            l if l.starts_with(b"INFO ") => Item::Notice,
            l if l.starts_with(b"-ERR") => Item::Error(l),
            l => Item::Unexpected(l),
        });
    }
    Ok(pos)
}

fn parse_usize(s: &[u8]) -> Option<usize> {
    if s.is_empty() || s.len() > 18 {
        return None;
    }
    let mut n = 0usize;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + (b - b'0') as usize;
    }
    Some(n)
}

fn parse_isize(s: &[u8]) -> Option<isize> {
    match s {
        [b'-', rest @ ..] => parse_usize(rest).map(|n| -(n as isize)),
        _ => parse_usize(s).map(|n| n as isize),
    }
}

/// The line at `pos` without its type byte and CRLF, and where the next
/// frame starts; `None` if the line is not complete.
fn resp_line(buf: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    let nl = memchr(b'\n', buf.get(pos..)?)?;
    let mut line = &buf[pos + 1..pos + nl];
    if let [rest @ .., b'\r'] = line {
        line = rest;
    }
    Some((line, pos + nl + 1))
}

/// End of the RESP3 frame starting at `pos`: `Ok(None)` if incomplete.
fn resp_skip(buf: &[u8], pos: usize, depth: u32) -> Result<Option<usize>, String> {
    if depth > 16 {
        return Err("RESP: frames nested too deep".into());
    }
    let Some(&t) = buf.get(pos) else {
        return Ok(None);
    };
    let Some((line, next)) = resp_line(buf, pos) else {
        return Ok(None);
    };
    match t {
        b'+' | b'-' | b':' | b'_' | b'#' | b',' | b'(' => Ok(Some(next)),
        b'$' | b'=' | b'!' => {
            let n = parse_isize(line).ok_or("RESP: bad bulk length")?;
            if n < 0 {
                return Ok(Some(next));
            }
            let end = next + n as usize + 2;
            Ok((end <= buf.len()).then_some(end))
        }
        b'*' | b'>' | b'~' | b'%' | b'|' => {
            let n = parse_isize(line).ok_or("RESP: bad aggregate length")?;
            let n = if n < 0 { 0 } else { n as usize };
            let n = if t == b'%' || t == b'|' { 2 * n } else { n };
            let mut p = next;
            for _ in 0..n {
                match resp_skip(buf, p, depth + 1)? {
                    Some(e) => p = e,
                    None => return Ok(None),
                }
            }
            if t == b'|' {
                // An attribute is followed by the frame it describes.
                return resp_skip(buf, p, depth + 1);
            }
            Ok(Some(p))
        }
        _ => Err(format!("RESP: unknown frame type {:?}", t as char)),
    }
}

/// The bulk string at `pos` (known to be complete) and where it ends.
fn resp_bulk(buf: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    if buf.get(pos) != Some(&b'$') {
        return None;
    }
    let (line, next) = resp_line(buf, pos)?;
    let n = parse_usize(line)?;
    Some((buf.get(next..next + n)?, next + n + 2))
}

fn parse_redis(buf: &[u8], f: &mut impl FnMut(Item<'_>)) -> Result<usize, String> {
    let mut pos = 0;
    while pos < buf.len() {
        let Some(end) = resp_skip(buf, pos, 0)? else {
            break;
        };
        let frame = &buf[pos..end];
        let item = match buf[pos] {
            b'>' | b'*' => {
                let first = resp_line(buf, pos).and_then(|(_, next)| resp_bulk(buf, next));
                match first {
                    Some((kind, next)) if kind.eq_ignore_ascii_case(b"message") => {
                        match resp_bulk(buf, next).and_then(|(_, n2)| resp_bulk(buf, n2)) {
                            Some((payload, _)) => Item::Delivery(payload),
                            None => Item::Unexpected(frame),
                        }
                    }
                    Some((kind, _)) if kind.eq_ignore_ascii_case(b"pong") => Item::Pong,
                    Some(_) => Item::Notice,
                    None => Item::Unexpected(frame),
                }
            }
            b'+' if frame.starts_with(b"+PONG") => Item::Pong,
            b'+' | b'%' => Item::Notice,
            b':' => Item::Ack,
            b'-' | b'!' => Item::Error(frame),
            _ => Item::Unexpected(frame),
        };
        f(item);
        pos = end;
    }
    Ok(pos)
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn put_hex(out: &mut Vec<u8>, v: u64, digits: u32) {
    for i in (0..digits).rev() {
        out.push(HEX[((v >> (i * 4)) & 0xf) as usize]);
    }
}

/// Appends a payload of exactly `len` bytes (at least [`PAYLOAD_HEADER`]):
/// send time `ts_ns`, publisher `pub_id`, sequence `seq`, then `x`s.
pub fn put_payload(out: &mut Vec<u8>, ts_ns: u64, pub_id: u32, seq: u32, len: usize) {
    let start = out.len();
    put_hex(out, ts_ns, 16);
    put_hex(out, pub_id as u64, 4);
    put_hex(out, seq as u64, 8);
    out.resize(start + len.max(PAYLOAD_HEADER), b'x');
}

/// Value of each byte as a hex digit, or 0xff.
const HEX_VALUE: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

fn hex_value(s: &[u8]) -> Option<u64> {
    let mut v = 0u64;
    let mut bad = 0u8;
    for &b in s {
        let d = HEX_VALUE[b as usize];
        bad |= d;
        v = (v << 4) | (d & 0xf) as u64;
    }
    // Any invalid digit has its high bits set.
    (bad & 0xf0 == 0).then_some(v)
}

/// Reads a payload written by [`put_payload`]: (send time in ns, publisher
/// id, sequence number). `None` if it is not one of ours.
pub fn read_payload(p: &[u8]) -> Option<(u64, u32, u32)> {
    if p.len() < PAYLOAD_HEADER {
        return None;
    }
    Some((
        hex_value(&p[0..16])?,
        hex_value(&p[16..20])? as u32,
        hex_value(&p[20..28])? as u32,
    ))
}

/// What a client sends, per system.
pub mod enc {
    use super::*;

    fn bulk(out: &mut Vec<u8>, s: &[u8]) {
        out.push(b'$');
        out.extend_from_slice(s.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(s);
        out.extend_from_slice(b"\r\n");
    }

    fn command(out: &mut Vec<u8>, args: &[&[u8]]) {
        out.push(b'*');
        out.extend_from_slice(args.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
        for a in args {
            bulk(out, a);
        }
    }

    /// The opening a client sends right after connecting, `inbox` being
    /// the subject/channel it subscribes to (NATS, Redis) or its nickname
    /// (papo). Subscribing is skipped for `None` (a publisher-only Redis
    /// connection). Ends with a ping (NATS, Redis) whose PONG tells that
    /// everything before it was processed; papo answers `WELCOME`.
    pub fn opening(system: System, out: &mut Vec<u8>, nick: &str, inbox: Option<&str>) {
        match system {
            System::Papo => {
                out.extend_from_slice(nick.as_bytes());
                out.push(b'\n');
                // A room to receive in (PROTOCOL.md "Rooms").
                if let Some(room) = inbox.filter(|i| i.starts_with('#')) {
                    out.extend_from_slice(b"/join ");
                    out.extend_from_slice(room.as_bytes());
                    out.push(b'\n');
                }
            }
            System::Nats => {
                // echo:false: a publisher does not receive its own messages,
                // like a papo client does not get its own broadcast.
                out.extend_from_slice(
                    br#"CONNECT {"verbose":false,"pedantic":false,"echo":false,"protocol":1,"name":"papo-bench","lang":"rust","version":"0.1.0"}"#,
                );
                out.extend_from_slice(b"\r\n");
                if let Some(subject) = inbox {
                    out.extend_from_slice(b"SUB ");
                    out.extend_from_slice(subject.as_bytes());
                    out.extend_from_slice(b" 1\r\n");
                }
                out.extend_from_slice(b"PING\r\n");
            }
            System::Redis => {
                command(out, &[b"HELLO", b"3"]);
                if let Some(channel) = inbox {
                    command(out, &[b"SUBSCRIBE", channel.as_bytes()]);
                }
                command(out, &[b"PING"]);
            }
        }
    }

    /// A ping whose answer is [`Item::Pong`].
    pub fn ping(system: System, out: &mut Vec<u8>) {
        match system {
            System::Papo => out.extend_from_slice(b"/ping\n"),
            System::Nats => out.extend_from_slice(b"PING\r\n"),
            System::Redis => command(out, &[b"PING"]),
        }
    }

    /// The answer to a server's PING (NATS only).
    pub fn pong(out: &mut Vec<u8>) {
        out.extend_from_slice(b"PONG\r\n");
    }

    /// Starts a message to `to` (papo: `None` = public, `Some(nick)` =
    /// private; NATS/Redis: the subject/channel); the caller then appends
    /// the payload with [`put_payload`] and calls [`publish_end`].
    pub fn publish_start(system: System, out: &mut Vec<u8>, to: Option<&str>, payload_len: usize) {
        match system {
            System::Papo => {
                if let Some(nick) = to {
                    out.extend_from_slice(nick.as_bytes());
                }
                out.push(b':');
            }
            System::Nats => {
                out.extend_from_slice(b"PUB ");
                out.extend_from_slice(to.unwrap_or("bench.all").as_bytes());
                out.push(b' ');
                out.extend_from_slice(payload_len.to_string().as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            System::Redis => {
                let channel = to.unwrap_or("bench.all").as_bytes();
                out.extend_from_slice(b"*3\r\n$7\r\nPUBLISH\r\n");
                bulk(out, channel);
                out.push(b'$');
                out.extend_from_slice(payload_len.to_string().as_bytes());
                out.extend_from_slice(b"\r\n");
            }
        }
    }

    /// Ends a message started with [`publish_start`].
    pub fn publish_end(system: System, out: &mut Vec<u8>) {
        match system {
            System::Papo => out.push(b'\n'),
            System::Nats | System::Redis => out.extend_from_slice(b"\r\n"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(system: System, buf: &[u8]) -> (Vec<String>, usize) {
        let mut v = Vec::new();
        let n = parse(system, buf, &mut |i| v.push(format!("{i:?}"))).unwrap();
        (v, n)
    }

    #[test]
    fn payload_round_trip() {
        let mut out = Vec::new();
        put_payload(&mut out, 0x1234_5678_9abc, 7, 42, 64);
        assert_eq!(out.len(), 64);
        assert_eq!(read_payload(&out), Some((0x1234_5678_9abc, 7, 42)));
        assert_eq!(read_payload(b"xyz"), None);
    }

    #[test]
    fn papo_lines() {
        let buf = b"HELLO papo/1 line=4096 nick=32 :hi\nWELCOME a :x\nPUBLIC b :abc\r\nSENT b :ok\nPONG\nJOIN c :x\nCHANGES 4 :JOIN d e, LEFT d, JOIN f\nPRIV";
        let (v, n) = items(System::Papo, buf);
        assert_eq!(&buf[n..], b"PRIV");
        assert_eq!(
            v,
            [
                "Notice",
                "Welcome",
                "Delivery([97, 98, 99])",
                "Ack",
                "Pong",
                "Joins(1)",
                "Joins(3)"
            ]
        );
    }

    #[test]
    fn papo_cluster_lines() {
        let buf = b"CLUSTER partitioned :x\nLOST 12 :lost\nRENAMED a a2 :y\nLOST x :z\n";
        let (v, n) = items(System::Papo, buf);
        assert_eq!(n, buf.len());
        let kinds: Vec<&str> = v
            .iter()
            .map(|s| s.split('(').next().unwrap_or(""))
            .collect();
        assert_eq!(kinds, ["Cluster", "Lost", "Cluster", "Unexpected"]);
        assert!(v[1].starts_with("Lost(12,"));
    }

    #[test]
    fn nats_frames() {
        let buf = b"INFO {}\r\nMSG a 1 3\r\nabc\r\nPING\r\nMSG a 1 r 2\r\nde\r\nMSG a 1 5\r\nab";
        let (v, n) = items(System::Nats, buf);
        assert_eq!(
            v,
            [
                "Notice",
                "Delivery([97, 98, 99])",
                "Ping",
                "Delivery([100, 101])"
            ]
        );
        assert_eq!(&buf[n..], b"MSG a 1 5\r\nab");
    }

    #[test]
    fn redis_frames() {
        let buf = b"%1\r\n$6\r\nserver\r\n$5\r\nredis\r\n>3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n+PONG\r\n>3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$3\r\nabc\r\n:5\r\n>3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$3\r\nab";
        let (v, n) = items(System::Redis, buf);
        assert_eq!(
            v,
            ["Notice", "Notice", "Pong", "Delivery([97, 98, 99])", "Ack"]
        );
        assert!(buf[n..].starts_with(b">3\r\n$7\r\nmessage"));
    }
}
