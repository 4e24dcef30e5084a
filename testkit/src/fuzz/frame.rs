//! Fuzz target `frame`: the framing ([`LineBuffer::feed_frames`]) against
//! a reference model written as plainly as possible.

use papo::protocol::{Frame, LineBuffer, Next};

use super::{chunk_lengths, cut};

/// An owned framing event, for comparing. Adjacent payload pieces are
/// merged (how many pieces a payload comes in depends on the reads).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Framed {
    Line(Vec<u8>),
    TooLong,
    Overflow,
    Payload(Vec<u8>),
    PayloadEnd,
}

/// The payload a line asks for in this harness: a line `#<n>` (1 to 4
/// decimal digits, nothing else) is answered [`Next::Payload`]`(n)`.
fn payload_request(line: &[u8]) -> Option<u64> {
    let digits = line.strip_prefix(b"#")?;
    if digits.is_empty() || digits.len() > 4 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// The framing rules (see [`LineBuffer`]), with this harness's payload
/// requests.
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
                rest = rest.get(j + 1..).unwrap_or(&[]);
                let cr_at_limit = line.len() == max_line + 1 && line.last() == Some(&b'\r');
                if line.len() > max_line && !cr_at_limit {
                    out.push(Framed::TooLong);
                    continue;
                }
                out.push(Framed::Line(line.to_vec()));
                let Some(n) = payload_request(line) else {
                    continue;
                };
                let n = usize::try_from(n).unwrap_or(usize::MAX);
                let (payload, after) = rest.split_at(n.min(rest.len()));
                if !payload.is_empty() {
                    out.push(Framed::Payload(payload.to_vec()));
                }
                if payload.len() < n {
                    return out; // the stream ends inside the payload
                }
                out.push(Framed::PayloadEnd);
                rest = after;
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
    let mut out: Vec<Framed> = Vec::new();
    for p in parts {
        buf.feed_frames(p, |frame| {
            let mut next = Next::Continue;
            match frame {
                Frame::Line(l) => {
                    if let Some(n) = payload_request(l) {
                        next = Next::Payload(n);
                    }
                    out.push(Framed::Line(l.to_vec()));
                }
                Frame::TooLong => out.push(Framed::TooLong),
                Frame::Overflow => out.push(Framed::Overflow),
                Frame::Payload(piece) => {
                    assert!(!piece.is_empty(), "an empty payload piece");
                    match out.last_mut() {
                        Some(Framed::Payload(p)) => p.extend_from_slice(piece),
                        _ => out.push(Framed::Payload(piece.to_vec())),
                    }
                }
                Frame::PayloadEnd => out.push(Framed::PayloadEnd),
            }
            next
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
/// the rest is the stream, in which a line `#<n>` (1 to 4 digits) is
/// followed by a payload of `n` bytes. Panics if the decoder disagrees
/// with the reference model, depends on how the stream is cut (whole,
/// byte by byte, pseudo-random pieces), reports an empty payload piece, or
/// holds more than one line's worth of bytes.
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
