//! Fuzz harnesses for the wire protocol, shared by the cargo-fuzz targets
//! (`fuzz/fuzz_targets/`, run by `scripts/fuzz.sh`) and the deterministic
//! fuzz smoke test that `cargo test` runs on stable (`tests/fuzz_smoke.rs`).
//!
//! Each harness takes arbitrary bytes, never panics on its own, and panics
//! (an `assert!`) when the code under test breaks a property: that is what
//! the fuzzer looks for. Not part of papo's stable API.
//!
//! - [`frame_decoder`]: [`LineBuffer`] against a
//!   reference model, fed whole, byte by byte and in pseudo-random chunks
//!   (the events must depend only on the bytes).
//! - [`protocol_session`]: one connection's server-side handling: framing,
//!   UTF-8, the nickname prompt ([`validate_nick`]), then every line
//!   through [`parse_command`] and the reply the server encodes for it
//!   ([`encode`]); every reply must be exactly one well-formed line that
//!   [`parse_server_line`] reads back to the same fields, with no control
//!   character but TAB (so no input can forge a line). The whole session
//!   must come out the same however the input is cut. Each input line is
//!   also read as a server line (the client's parser) to look for panics.
//! - [`file_name`]: the name-sanitising function of received files
//!   ([`safe_file_name`], PROTOCOL.md "Saving received files") against
//!   its promises, for any announced name.
//! - [`server_session`]: the real server (`papo::Server`, its I/O threads
//!   and command dispatch) over loopback sockets: one connection per input,
//!   its bytes written in pseudo-random pieces, then a half-close; every
//!   line it and a second, registered client get must be well-formed, none
//!   may claim to come from someone the connection is not, the server must
//!   close the connection, and keep serving the other client.

use super::transfer::MAX_FILE_NAME_BYTES;
use super::{
    encode, nick_key, parse_command, parse_server_line, strip_cr, validate_nick, Command,
    LineBuffer, LineEvent, ServerLine,
};
use super::{numbered_file_name, safe_file_name};
use crate::error::ErrorCode;

mod server;
pub use server::{server_session, MAX_SERVER_INPUT};

/// A pseudo-random sequence of chunk lengths (1..=max) from a seed.
fn chunk_lengths(seed: u64, total: usize, max: usize) -> Vec<usize> {
    let mut x = seed | 1;
    let mut out = Vec::new();
    let mut left = total;
    while left > 0 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let n = (x as usize % max.max(1)) + 1;
        let n = n.min(left);
        out.push(n);
        left -= n;
    }
    out
}

fn cut<'a>(data: &'a [u8], lengths: &[usize]) -> Vec<&'a [u8]> {
    let mut parts = Vec::with_capacity(lengths.len());
    let mut rest = data;
    for &n in lengths {
        let (a, b) = rest.split_at(n.min(rest.len()));
        parts.push(a);
        rest = b;
    }
    if !rest.is_empty() {
        parts.push(rest);
    }
    parts
}

/// An owned framing event, for comparing.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Framed {
    Line(Vec<u8>),
    TooLong,
    Overflow,
}

/// The framing rules written as plainly as possible (see [`LineBuffer`]).
fn frame_oracle(stream: &[u8], max_line: usize, max_discard: usize) -> Vec<Framed> {
    let max_discard = max_discard.max(max_line + 1);
    let mut out = Vec::new();
    let mut rest = stream;
    loop {
        match rest.iter().position(|b| *b == b'\n') {
            Some(j) => {
                let line = rest.get(..j).unwrap_or(&[]);
                if line.len() > max_discard {
                    out.push(Framed::Overflow);
                    return out;
                }
                let cr_at_limit = line.len() == max_line + 1 && line.last() == Some(&b'\r');
                if line.len() <= max_line || cr_at_limit {
                    out.push(Framed::Line(line.to_vec()));
                } else {
                    out.push(Framed::TooLong);
                }
                rest = rest.get(j + 1..).unwrap_or(&[]);
            }
            None => {
                if rest.len() > max_discard {
                    out.push(Framed::Overflow);
                }
                return out;
            }
        }
    }
}

fn frame_with(parts: &[&[u8]], max_line: usize, max_discard: usize) -> Vec<Framed> {
    let mut buf = LineBuffer::new(max_line, max_discard);
    let mut out = Vec::new();
    for p in parts {
        buf.feed(p, |e| {
            out.push(match e {
                LineEvent::Line(l) => Framed::Line(l.to_vec()),
                LineEvent::TooLong => Framed::TooLong,
                LineEvent::Overflow => Framed::Overflow,
            });
            true
        });
        assert!(
            buf.pending() <= max_line + 1,
            "LineBuffer keeps {} bytes for a line limit of {max_line}",
            buf.pending()
        );
    }
    out
}

/// Fuzz target `frame`: the line/payload frame decoder ([`LineBuffer`]).
///
/// Input: byte 0 picks the line limit (1..=64), byte 1 the discard limit
/// (the line limit plus 0..=255), bytes 2-3 the seed of the chunk lengths;
/// the rest is the stream. Panics if the decoder disagrees with the
/// reference model, depends on how the stream is cut, or holds more than
/// one line's worth of bytes.
pub fn frame_decoder(data: &[u8]) {
    let (Some(&a), Some(&b), Some(&c), Some(&d)) =
        (data.first(), data.get(1), data.get(2), data.get(3))
    else {
        return;
    };
    let stream = data.get(4..).unwrap_or(&[]);
    let max_line = 1 + usize::from(a % 64);
    let max_discard = max_line + usize::from(b);
    let seed = u64::from(u16::from_le_bytes([c, d]));
    let want = frame_oracle(stream, max_line, max_discard);
    let whole = frame_with(&[stream], max_line, max_discard);
    assert_eq!(whole, want, "whole stream vs the reference model");
    let bytes: Vec<&[u8]> = stream.chunks(1).collect();
    assert_eq!(
        frame_with(&bytes, max_line, max_discard),
        want,
        "byte by byte"
    );
    for max_chunk in [3, 17, 200] {
        let parts = cut(stream, &chunk_lengths(seed, stream.len(), max_chunk));
        assert_eq!(
            frame_with(&parts, max_line, max_discard),
            want,
            "chunks of at most {max_chunk}"
        );
    }
}

/// Checks one encoded reply: whole lines only, each well-formed (UTF-8, no
/// control character but TAB, a keyword the client knows) and read back by
/// [`parse_server_line`].
fn check_reply(out: &[u8]) {
    assert_eq!(out.last(), Some(&b'\n'), "a reply must end with LF");
    let body = out.get(..out.len() - 1).unwrap_or(&[]);
    for line in body.split(|b| *b == b'\n') {
        let text = std::str::from_utf8(line).expect("replies are UTF-8");
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\t'),
            "control character in reply {text:?}"
        );
        if let Err(e) = parse_server_line(text) {
            panic!("the client cannot read the reply {text:?}: {e:?}");
        }
    }
}

fn one_line(out: &[u8]) -> &str {
    let body = out.strip_suffix(b"\n").unwrap_or(out);
    assert!(!body.contains(&b'\n'), "one reply, several lines: {out:?}");
    std::str::from_utf8(body).unwrap_or("")
}

/// What the server does with one session's lines, as a transcript.
fn session(parts: &[&[u8]], max_line: usize, max_nick: usize) -> Vec<u8> {
    let mut buf = LineBuffer::new(max_line, max_line * 4);
    let mut transcript = Vec::new();
    let mut nick: Option<String> = None;
    let mut over = false;
    for p in parts {
        if over {
            break;
        }
        buf.feed(p, |ev| {
            let mut out = Vec::new();
            let keep = match ev {
                LineEvent::Overflow => {
                    encode::error(&mut out, ErrorCode::TooLong, None, Some("endless"));
                    false
                }
                LineEvent::TooLong => {
                    encode::error(&mut out, ErrorCode::TooLong, None, None);
                    true
                }
                LineEvent::Line(raw) => line(strip_cr(raw), &mut nick, max_nick, &mut out),
            };
            if !out.is_empty() {
                check_reply(&out);
            }
            transcript.extend_from_slice(&out);
            if !keep {
                transcript.extend_from_slice(b"<closed>\n");
                over = true;
            }
            keep
        });
    }
    transcript
}

/// One line; returns whether the session goes on.
fn line(raw: &[u8], nick: &mut Option<String>, max_nick: usize, out: &mut Vec<u8>) -> bool {
    let Ok(text) = std::str::from_utf8(raw) else {
        encode::error(out, ErrorCode::InvalidText, None, Some("not UTF-8"));
        return true;
    };
    // The client's parser must survive anything, too.
    let _ = parse_server_line(text);
    let Some(me) = nick.clone() else {
        let wanted = text.trim();
        if wanted.eq_ignore_ascii_case("/quit") {
            return false;
        }
        match validate_nick(wanted, max_nick) {
            Err(code) => encode::error(out, code, None, None),
            Ok(()) => {
                assert!(!wanted.is_empty() && wanted.chars().count() <= max_nick);
                encode::welcome(out, wanted);
                let at = out.len();
                encode::users(out, &[wanted]);
                match parse_server_line(one_line(out.get(at..).unwrap_or(&[]))) {
                    Ok(ServerLine::Users(list)) => assert_eq!(list, [wanted]),
                    other => panic!("USERS for {wanted:?} reads back as {other:?}"),
                }
                *nick = Some(wanted.to_string());
            }
        }
        return true;
    };
    match parse_command(text) {
        Ok(Command::Public(t)) => {
            encode::public(out, &me, t);
            match parse_server_line(one_line(out)) {
                Ok(ServerLine::Public { from, text }) => {
                    assert_eq!((from, text), (me.as_str(), t), "PUBLIC round trip")
                }
                other => panic!("PUBLIC reads back as {other:?}"),
            }
        }
        Ok(Command::Private { to, text: t }) => {
            if validate_nick(to, max_nick).is_err() {
                encode::error(out, ErrorCode::NoSuchUser, None, None);
            } else {
                encode::private(out, &me, t);
                match parse_server_line(one_line(out)) {
                    Ok(ServerLine::Private { from, text }) => {
                        assert_eq!((from, text), (me.as_str(), t), "PRIVATE round trip")
                    }
                    other => panic!("PRIVATE reads back as {other:?}"),
                }
                let at = out.len();
                encode::sent(out, to);
                match parse_server_line(one_line(out.get(at..).unwrap_or(&[]))) {
                    Ok(ServerLine::Sent { to: back }) => assert_eq!(back, to),
                    other => panic!("SENT reads back as {other:?}"),
                }
            }
        }
        Ok(Command::Quit) => return false,
        Ok(Command::List) => encode::users(out, &[me.as_str()]),
        Ok(Command::Nick(new)) => match validate_nick(new, max_nick) {
            Err(code) => encode::error(out, code, None, None),
            Ok(()) => {
                encode::nick(out, &me, new);
                match parse_server_line(one_line(out)) {
                    Ok(ServerLine::Nick { old, new: back }) => {
                        assert_eq!((old, back), (me.as_str(), new), "NICK round trip")
                    }
                    other => panic!("NICK reads back as {other:?}"),
                }
                assert_eq!(nick_key(new), new.to_lowercase());
                *nick = Some(new.to_string());
            }
        },
        Ok(Command::Ping(token)) => {
            encode::pong(out, token);
            match parse_server_line(one_line(out)) {
                Ok(ServerLine::Pong(back)) => assert_eq!(back, token, "PONG round trip"),
                other => panic!("PONG reads back as {other:?}"),
            }
        }
        Ok(Command::Help) => encode::help(out),
        Ok(Command::Presence(on)) => {
            encode::presence(out, on);
            match parse_server_line(one_line(out)) {
                Ok(ServerLine::Presence(back)) => assert_eq!(back, on, "PRESENCE round trip"),
                other => panic!("PRESENCE reads back as {other:?}"),
            }
        }
        Ok(Command::Pong) | Ok(Command::Nothing) => {}
        Err(code) => {
            encode::error(out, code, None, None);
            match parse_server_line(one_line(out)) {
                Ok(ServerLine::Error { code: back, .. }) => assert_eq!(back, Some(code)),
                other => panic!("ERROR reads back as {other:?}"),
            }
        }
    }
    true
}

/// Fuzz target `protocol`: the protocol parser and command dispatch, fed
/// in random chunks.
///
/// Input: byte 0 picks the nickname limit (1..=40), byte 1 the line limit
/// (16..=1036 bytes), bytes 2-3 the seed of the chunk lengths; the rest is
/// what one client sends. Panics if a reply is not one well-formed line
/// read back to the same fields, or if the session's transcript depends on
/// how the input is cut.
pub fn protocol_session(data: &[u8]) {
    let (Some(&a), Some(&b), Some(&c), Some(&d)) =
        (data.first(), data.get(1), data.get(2), data.get(3))
    else {
        return;
    };
    let stream = data.get(4..).unwrap_or(&[]);
    let max_nick = 1 + usize::from(a % 40);
    let max_line = 16 + 4 * usize::from(b);
    let seed = u64::from(u16::from_le_bytes([c, d]));
    let whole = session(&[stream], max_line, max_nick);
    let parts = cut(stream, &chunk_lengths(seed, stream.len(), 23));
    let chunked = session(&parts, max_line, max_nick);
    assert_eq!(
        String::from_utf8_lossy(&chunked),
        String::from_utf8_lossy(&whole),
        "the session depends on how its bytes are cut"
    );
}

/// What a saved file's name must never hold or be (a path separator, a
/// control or Windows-forbidden character, `.`/`..`, nothing, too long).
fn check_safe_name(name: &str, announced: &str, max: usize) {
    let show = || format!("{announced:?} -> {name:?}");
    assert!(!name.is_empty(), "empty name: {}", show());
    assert!(name != "." && name != "..", "dot name: {}", show());
    assert!(name.len() <= max, "{} bytes: {}", name.len(), show());
    assert!(
        !name.chars().any(|c| c.is_control()
            || matches!(c, '/' | '\\' | '<' | '>' | ':' | '"' | '|' | '?' | '*')
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')),
        "unsafe character: {}",
        show()
    );
    // Joined to a folder it stays one component inside that folder.
    let dir = std::path::Path::new("/downloads");
    let joined = dir.join(name);
    assert_eq!(joined.parent(), Some(dir), "escapes the folder: {}", show());
    assert_eq!(
        joined.file_name().and_then(|n| n.to_str()),
        Some(name),
        "not one path component: {}",
        show()
    );
}

/// Fuzz target `file_name`: [`safe_file_name`] (and the numbered
/// alternatives of [`numbered_file_name`]) on any announced name: the
/// input bytes as UTF-8 (invalid sequences replaced, as a client receiving
/// the `FILE` line would never even see them).
///
/// Panics if the result is empty, `.` or `..`, longer than
/// `MAX_FILE_NAME_BYTES`, holds a path separator, a control character, a
/// character Windows forbids or a direction mark, does not stay one
/// component inside the download folder, is a Windows device name, starts
/// or ends with a space or a dot, or changes when sanitised again.
pub fn file_name(data: &[u8]) {
    let announced = String::from_utf8_lossy(data);
    let name = safe_file_name(&announced);
    check_safe_name(&name, &announced, MAX_FILE_NAME_BYTES);
    assert!(
        !name.starts_with(|c: char| c == '.' || c.is_whitespace())
            && !name.ends_with(|c: char| c == '.' || c.is_whitespace()),
        "dot or space at an end: {announced:?} -> {name:?}"
    );
    // As Windows sees it: trailing spaces and dots dropped (ASCII only).
    let stem = name.split('.').next().unwrap_or("").to_ascii_uppercase();
    let stem = stem.trim_end_matches([' ', '.']);
    let numbered = |prefix: &str| {
        stem.strip_prefix(prefix).is_some_and(|n| {
            let mut c = n.chars();
            matches!((c.next(), c.next()), (Some(d), None) if d.is_ascii_digit() || "¹²³".contains(d))
        })
    };
    let device = ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "CLOCK$"].contains(&stem)
        || numbered("COM")
        || numbered("LPT");
    assert!(!device, "a Windows device name: {announced:?} -> {name:?}");
    assert_eq!(
        safe_file_name(&name),
        name,
        "not stable when sanitised again ({announced:?})"
    );
    for n in 1..3 {
        // " (n)" adds a few bytes: the alternatives may pass the limit by
        // that much, no more, and are as safe otherwise.
        let alt = numbered_file_name(&name, n);
        check_safe_name(&alt, &announced, MAX_FILE_NAME_BYTES + 8);
        assert_ne!(alt, name);
    }
}

#[cfg(test)]
mod regressions {
    /// Found by the `file_name` fuzz target: a long name whose stem only
    /// became a Windows device name (`CONOUT$`) when it was cut to
    /// `MAX_FILE_NAME_BYTES` kept no `_` in front.
    #[test]
    fn a_device_name_made_by_cutting_gets_its_underscore() {
        let mut announced = String::from("CONOUT$");
        announced.push_str(&" ".repeat(232));
        announced.push_str("LPT");
        announced.push_str(&" ".repeat(64));
        announced.push_str(". *   * \u{fffd}");
        let name = super::safe_file_name(&announced);
        assert!(name.starts_with("_CONOUT$."), "{name:?}");
        super::file_name(announced.as_bytes());
    }

    /// Found by the `file_name` fuzz target: a long name that was nothing
    /// but one forbidden character and spaces came out as a lone `_`
    /// (which a short one never does), so sanitising it again changed it.
    #[test]
    fn a_lone_underscore_left_by_cutting_is_the_fallback() {
        let announced = format!("*{}\u{fffd}", " ".repeat(218));
        assert_eq!(
            super::safe_file_name(&announced),
            super::super::transfer::FALLBACK_FILE_NAME
        );
        super::file_name(announced.as_bytes());
    }

    /// Windows also reserves COM¹-³ and LPT¹-³ (superscript digits); a
    /// Unicode space after `NUL` is no device name (Windows drops only
    /// ASCII spaces and dots).
    #[test]
    fn superscript_device_names_and_unicode_spaces() {
        assert_eq!(super::safe_file_name("COM¹.txt"), "_COM¹.txt");
        assert_eq!(super::safe_file_name("lpt³"), "_lpt³");
        assert_eq!(super::safe_file_name("NUL\u{2000}.x"), "NUL\u{2000}.x");
        super::file_name("COM².log".as_bytes());
    }
}
