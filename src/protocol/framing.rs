//! Incremental framing: bytes in, whole lines and byte-counted payloads
//! out, with a length limit on lines.

/// What [`LineBuffer::feed`] reports.
#[derive(Debug, PartialEq, Eq)]
pub enum LineEvent<'a> {
    /// One whole line, without its LF (a trailing CR is kept: see
    /// [`super::strip_cr`]). It may not be UTF-8; the caller checks.
    Line(&'a [u8]),
    /// A line went over the limit. Its bytes are thrown away up to the next
    /// LF, and reading goes on after it: the connection stays usable.
    TooLong,
    /// More than the discard limit arrived with no LF at all: the peer is
    /// not speaking the protocol, and the caller should disconnect it.
    Overflow,
}

/// What [`LineBuffer::feed_frames`] reports: the events of
/// [`LineEvent`], plus the pieces of a payload.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// One whole line, without its LF (a trailing CR is kept).
    Line(&'a [u8]),
    /// A line went over the limit and was skipped (see [`LineEvent::TooLong`]).
    TooLong,
    /// The discard limit passed with no LF (see [`LineEvent::Overflow`]).
    Overflow,
    /// The next piece of the payload the handler asked for with
    /// [`Next::Payload`]: arbitrary bytes, never empty. The pieces of one
    /// payload add up to its size.
    Payload(&'a [u8]),
    /// The payload asked for is complete (reported once, after its last
    /// piece, or right after the line for a payload of 0 bytes).
    PayloadEnd,
}

/// What the handler of [`LineBuffer::feed_frames`] wants next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Go on reading.
    Continue,
    /// Stop: the rest of the bytes given to this call are dropped.
    Stop,
    /// Answering a [`Frame::Line`]: the next `n` bytes of the stream are a
    /// payload (PROTOCOL.md, "Payload frames"), not lines.
    Payload(u64),
}

/// Cuts a byte stream into lines of at most `max_line` bytes (LF excluded).
///
/// What it reports depends only on the bytes, never on how they were cut
/// into `feed` calls (a line sent whole, byte by byte or split anywhere
/// gives the same events; the fuzz targets check this). For a line of `L`
/// bytes before its LF:
///
/// - `L <= max_line` (or `L == max_line + 1` ending in CR, a CRLF line at
///   the limit): a line;
/// - `max_line < L <= max_discard`: `TooLong`, once its LF has arrived;
/// - `L > max_discard`: `Overflow` as soon as byte `max_discard + 1`
///   arrives, LF or not; after it nothing more is reported.
///
/// Whole lines inside one `feed` are handed out without copying; only an
/// incomplete last line is kept (at most `max_line + 1` bytes; an over-long
/// one is only counted), so an idle connection holds no buffer.
#[derive(Debug)]
pub struct LineBuffer {
    partial: Vec<u8>,
    // u32, not usize: a line limit past 4 GiB means no limit, and every
    // connection holds one of these (PROTOCOL.md's limits are far below).
    max_line: u32,
    max_discard: u32,
    /// Bytes of the current line seen so far once it is over
    /// `max_line + 1` (its bytes are not kept), or 0 (such a count is
    /// never 0).
    discarding: usize,
    /// Set after `Overflow`: the stream is no longer read.
    overflowed: bool,
    /// Payload bytes still to come (0: reading lines).
    payload_left: u64,
    /// The payload is complete and its `PayloadEnd` not yet reported.
    end_pending: bool,
}

impl LineBuffer {
    /// A buffer for lines of at most `max_line` bytes. An over-long line is
    /// skipped (`TooLong`) unless it passes `max_discard` bytes, which
    /// gives `Overflow`. `max_discard` is raised to `max_line + 1` if lower.
    /// Limits past 4 GiB (`u32::MAX` bytes) are taken as 4 GiB.
    pub fn new(max_line: usize, max_discard: usize) -> LineBuffer {
        let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        let max_discard = max_discard.max(max_line.saturating_add(1));
        LineBuffer {
            partial: Vec::new(),
            max_line: clamp(max_line),
            max_discard: clamp(max_discard),
            discarding: 0,
            overflowed: false,
            payload_left: 0,
            end_pending: false,
        }
    }

    /// The line limit, in bytes.
    fn max_line(&self) -> usize {
        self.max_line as usize
    }

    /// The discard limit, in bytes.
    fn max_discard(&self) -> usize {
        self.max_discard as usize
    }

    /// Bytes held for an incomplete line.
    pub fn pending(&self) -> usize {
        self.partial.len()
    }

    /// Feeds bytes; calls `f` for each event in order. `f` returns `false`
    /// to stop early (after a `quit`, say): the rest of `data` is dropped.
    /// `Overflow` is reported once; after it, every `feed` does nothing.
    ///
    /// This is [`LineBuffer::feed_frames`] for a stream that has no payload
    /// frames: every byte belongs to a line.
    pub fn feed(&mut self, data: &[u8], mut f: impl FnMut(LineEvent<'_>) -> bool) {
        let next = |keep: bool| if keep { Next::Continue } else { Next::Stop };
        self.feed_frames(data, |frame| match frame {
            Frame::Line(l) => next(f(LineEvent::Line(l))),
            Frame::TooLong => next(f(LineEvent::TooLong)),
            Frame::Overflow => next(f(LineEvent::Overflow)),
            // Only a handler returning `Next::Payload` starts a payload,
            // and the one above never does.
            Frame::Payload(_) | Frame::PayloadEnd => Next::Continue,
        });
    }

    /// Bytes of the current payload not received yet (0 when reading lines).
    pub fn payload_left(&self) -> u64 {
        self.payload_left
    }

    /// Feeds bytes that hold lines and byte-counted payloads (PROTOCOL.md,
    /// "Payload frames"); calls `f` for each [`Frame`] in order.
    ///
    /// When `f` answers a [`Frame::Line`] with [`Next::Payload`]`(n)`, the
    /// next `n` bytes of the stream, whatever they are (LF, NUL, invalid
    /// UTF-8), are payload: they come as one or more [`Frame::Payload`]
    /// pieces (borrowed from `data`, never copied; as many pieces as the
    /// stream was split into by the reads) followed by one
    /// [`Frame::PayloadEnd`] (at once when `n` is 0). Then lines again.
    /// `Next::Payload` answering any other frame means `Next::Continue`.
    ///
    /// `Next::Stop` drops the rest of `data` (a payload's count is kept: a
    /// later `feed_frames` goes on with the same payload, and a
    /// `PayloadEnd` not yet reported comes first). `Overflow` is reported
    /// once; after it, every call does nothing. The buffer holds at most one
    /// incomplete line (`max_line + 1` bytes), never payload bytes.
    pub fn feed_frames(&mut self, mut data: &[u8], mut f: impl FnMut(Frame<'_>) -> Next) {
        if self.overflowed {
            return;
        }
        loop {
            if self.end_pending {
                self.end_pending = false;
                if let Next::Stop = f(Frame::PayloadEnd) {
                    return;
                }
            }
            if self.payload_left > 0 {
                if data.is_empty() {
                    return;
                }
                let take = usize::try_from(self.payload_left)
                    .unwrap_or(usize::MAX)
                    .min(data.len());
                let (piece, rest) = data.split_at(take);
                data = rest;
                self.payload_left -= take as u64;
                self.end_pending = self.payload_left == 0;
                if let Next::Stop = f(Frame::Payload(piece)) {
                    return;
                }
                continue;
            }
            if data.is_empty() {
                return;
            }
            // Bytes of the current line before this chunk. What is reported
            // depends only on the bytes, never on how they were cut.
            let so_far = if self.discarding > 0 {
                self.discarding
            } else {
                self.partial.len()
            };
            let Some(i) = memchr(data) else {
                let total = so_far.saturating_add(data.len());
                if total > self.max_discard() {
                    self.overflow(&mut f);
                } else if total > self.max_line().saturating_add(1) {
                    // Over the limit (one extra byte allowed for a CR before
                    // the LF): only counted from now on.
                    self.partial = Vec::new();
                    self.discarding = total;
                } else {
                    self.partial.extend_from_slice(data);
                }
                return;
            };
            let (line_part, rest) = data.split_at(i);
            data = rest.get(1..).unwrap_or(&[]);
            let total = so_far.saturating_add(line_part.len());
            if total > self.max_discard() {
                self.overflow(&mut f);
                return;
            }
            let next = if std::mem::take(&mut self.discarding) > 0
                || total > self.max_line().saturating_add(1)
            {
                self.partial = Vec::new();
                not_line(f(Frame::TooLong))
            } else if self.partial.is_empty() {
                if line_part.len() > self.max_line() && !is_cr_at_limit(line_part, self.max_line())
                {
                    not_line(f(Frame::TooLong))
                } else {
                    f(Frame::Line(line_part))
                }
            } else {
                let mut line = std::mem::take(&mut self.partial);
                line.extend_from_slice(line_part);
                if line.len() > self.max_line() && !is_cr_at_limit(&line, self.max_line()) {
                    not_line(f(Frame::TooLong))
                } else {
                    f(Frame::Line(&line))
                }
            };
            match next {
                Next::Stop => return,
                Next::Payload(0) => self.end_pending = true,
                Next::Payload(n) => self.payload_left = n,
                Next::Continue => {}
            }
        }
    }

    fn overflow(&mut self, f: &mut impl FnMut(Frame<'_>) -> Next) {
        self.overflowed = true;
        self.partial = Vec::new();
        self.discarding = 0;
        f(Frame::Overflow);
    }
}

/// The answer to a frame other than `Line`: a payload cannot follow it, so
/// `Payload` means `Continue`.
fn not_line(n: Next) -> Next {
    match n {
        Next::Payload(_) => Next::Continue,
        other => other,
    }
}

/// A line of `max + 1` bytes whose last byte is CR is a line of `max` bytes
/// sent with CRLF.
fn is_cr_at_limit(line: &[u8], max: usize) -> bool {
    line.len() == max.saturating_add(1) && line.last() == Some(&b'\r')
}

fn memchr(data: &[u8]) -> Option<usize> {
    data.iter().position(|b| *b == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(buf: &mut LineBuffer, chunks: &[&[u8]]) -> Vec<String> {
        let mut out = Vec::new();
        for c in chunks {
            buf.feed(c, |e| {
                out.push(match e {
                    LineEvent::Line(l) => format!("L:{}", String::from_utf8_lossy(l)),
                    LineEvent::TooLong => "TOOLONG".into(),
                    LineEvent::Overflow => "OVERFLOW".into(),
                });
                true
            });
        }
        out
    }

    #[test]
    fn whole_split_and_bytewise_are_the_same() {
        let input = b"ana\n:hello world\nbob:hi\r\n\n";
        let expect = run(&mut LineBuffer::new(64, 1024), &[input]);
        assert_eq!(expect, vec!["L:ana", "L::hello world", "L:bob:hi\r", "L:"]);
        for cut in 0..input.len() {
            let got = run(
                &mut LineBuffer::new(64, 1024),
                &[&input[..cut], &input[cut..]],
            );
            assert_eq!(got, expect, "cut at {cut}");
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(run(&mut LineBuffer::new(64, 1024), &bytes), expect);
    }

    #[test]
    fn limit_exact_and_one_over() {
        let at = [b'a'; 8];
        let mut b = LineBuffer::new(8, 100);
        let mut input = at.to_vec();
        input.push(b'\n');
        input.extend_from_slice(&[b'b'; 9]);
        input.extend_from_slice(b"\nok\n");
        assert_eq!(
            run(&mut b, &[&input]),
            vec!["L:aaaaaaaa", "TOOLONG", "L:ok"]
        );
        // The same, byte by byte.
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(
            run(&mut LineBuffer::new(8, 100), &bytes),
            vec!["L:aaaaaaaa", "TOOLONG", "L:ok"]
        );
        // CRLF at the limit is fine.
        assert_eq!(
            run(&mut LineBuffer::new(8, 100), &[b"aaaaaaaa\r\n"]),
            vec!["L:aaaaaaaa\r"]
        );
    }

    #[test]
    fn overflow_without_newline() {
        let mut b = LineBuffer::new(8, 64);
        let big = vec![b'x'; 1 << 20];
        let out = run(&mut b, &[&big]);
        assert_eq!(out, vec!["OVERFLOW"]);
        let mut b = LineBuffer::new(8, 64);
        let chunks: Vec<&[u8]> = big.chunks(7).take(20).collect();
        assert_eq!(run(&mut b, &chunks), vec!["OVERFLOW"]);
        assert!(b.pending() <= 9);
    }

    /// Found while writing the fuzz oracle: a line longer than the discard
    /// limit gave `TooLong` when its LF came in the same read and
    /// `Overflow` when it did not. Now it is `Overflow` however it is cut.
    #[test]
    fn regression_overflow_does_not_depend_on_cuts() {
        let mut input = vec![b'x'; 100];
        input.extend_from_slice(b"\nok\n");
        let whole = run(&mut LineBuffer::new(8, 64), &[&input]);
        assert_eq!(whole, vec!["OVERFLOW"]);
        for cut in 0..input.len() {
            let got = run(&mut LineBuffer::new(8, 64), &[&input[..cut], &input[cut..]]);
            assert_eq!(got, whole, "cut at {cut}");
        }
        // Exactly at the discard limit is still only too long.
        let mut input = vec![b'x'; 64];
        input.extend_from_slice(b"\nok\n");
        assert_eq!(
            run(&mut LineBuffer::new(8, 64), &[&input]),
            vec!["TOOLONG", "L:ok"]
        );
    }

    #[test]
    fn stop_early() {
        let mut b = LineBuffer::new(64, 64);
        let mut n = 0;
        b.feed(b"a\nb\nc\n", |_| {
            n += 1;
            n < 2
        });
        assert_eq!(n, 2);
    }

    /// Runs `feed_frames` over `chunks`; a line `P <n>` announces a payload
    /// of `n` bytes. Adjacent payload pieces are merged, so that the result
    /// does not depend on how the stream was split.
    fn run_frames(buf: &mut LineBuffer, chunks: &[&[u8]]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut payload: Option<Vec<u8>> = None;
        for c in chunks {
            buf.feed_frames(c, |fr| match fr {
                Frame::Line(l) => {
                    out.push(format!("L:{}", String::from_utf8_lossy(l)));
                    match std::str::from_utf8(l)
                        .ok()
                        .and_then(|t| t.strip_prefix("P "))
                        .and_then(|n| n.parse::<u64>().ok())
                    {
                        Some(n) => {
                            payload = Some(Vec::new());
                            Next::Payload(n)
                        }
                        None => Next::Continue,
                    }
                }
                Frame::TooLong => {
                    out.push("TOOLONG".into());
                    Next::Continue
                }
                Frame::Overflow => {
                    out.push("OVERFLOW".into());
                    Next::Continue
                }
                Frame::Payload(p) => {
                    assert!(!p.is_empty(), "empty payload piece");
                    payload
                        .as_mut()
                        .expect("payload piece outside a payload")
                        .extend_from_slice(p);
                    Next::Continue
                }
                Frame::PayloadEnd => {
                    let p = payload.take().expect("PayloadEnd outside a payload");
                    out.push(format!("P:{p:?}"));
                    Next::Continue
                }
            });
        }
        out
    }

    fn mixed_stream() -> Vec<u8> {
        let mut s = Vec::new();
        s.extend_from_slice(b"ana\nP 5\nab\ncd");
        s.extend_from_slice(b"\nP 0\nP 3\n\x00\xff\n");
        s.extend_from_slice(b"\n:hello\r\nP 256\n");
        s.extend((0..=255u8).collect::<Vec<u8>>());
        s.extend_from_slice(b"P 2\n\n\nlast\n");
        s
    }

    fn mixed_expect() -> Vec<String> {
        vec![
            "L:ana".to_string(),
            "L:P 5".into(),
            format!("P:{:?}", b"ab\ncd".to_vec()),
            "L:".into(),
            "L:P 0".into(),
            "P:[]".into(),
            "L:P 3".into(),
            format!("P:{:?}", b"\x00\xff\n".to_vec()),
            "L:".into(),
            "L::hello\r".into(),
            "L:P 256".into(),
            format!("P:{:?}", (0..=255u8).collect::<Vec<u8>>()),
            "L:P 2".into(),
            format!("P:{:?}", b"\n\n".to_vec()),
            "L:last".into(),
        ]
    }

    #[test]
    fn payloads_at_every_split_position() {
        let input = mixed_stream();
        let expect = mixed_expect();
        assert_eq!(
            run_frames(&mut LineBuffer::new(64, 1024), &[&input]),
            expect
        );
        for cut in 0..=input.len() {
            let (a, b) = input.split_at(cut);
            let got = run_frames(&mut LineBuffer::new(64, 1024), &[a, b]);
            assert_eq!(got, expect, "cut at {cut}");
        }
        for i in 0..=input.len() {
            for j in i..=input.len() {
                let got = run_frames(
                    &mut LineBuffer::new(64, 1024),
                    &[&input[..i], &input[i..j], &input[j..]],
                );
                assert_eq!(got, expect, "cuts at {i} and {j}");
            }
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(run_frames(&mut LineBuffer::new(64, 1024), &bytes), expect);
    }

    #[test]
    fn payload_ignores_line_limits_and_is_never_buffered() {
        let mut input = b"P 10000\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 10_000));
        input.extend_from_slice(b"ok\n");
        let mut b = LineBuffer::new(8, 16);
        let mut pieces = 0;
        for c in input.chunks(333) {
            b.feed_frames(c, |fr| match fr {
                Frame::Line(l) if l == b"P 10000" => Next::Payload(10_000),
                Frame::Payload(_) => {
                    pieces += 1;
                    Next::Continue
                }
                _ => Next::Continue,
            });
            assert_eq!(b.pending(), 0, "payload bytes are never kept");
        }
        assert!(pieces >= 30);
        assert_eq!(
            run_frames(&mut LineBuffer::new(8, 16), &[&input]),
            vec![
                "L:P 10000".to_string(),
                format!("P:{:?}", vec![b'x'; 10_000]),
                "L:ok".into()
            ]
        );
    }

    #[test]
    fn a_payload_may_follow_a_line_that_was_split() {
        let got = run_frames(&mut LineBuffer::new(64, 64), &[b"P", b" 2\nz", b"z\n"]);
        assert_eq!(
            got,
            vec![
                "L:P 2".to_string(),
                format!("P:{:?}", b"zz".to_vec()),
                "L:".into()
            ]
        );
    }

    #[test]
    fn stop_inside_a_payload_resumes_with_the_next_feed() {
        let mut b = LineBuffer::new(64, 64);
        let mut seen: Vec<String> = Vec::new();
        let mut record = |b: &mut LineBuffer, data: &[u8], stop_on_piece: bool| {
            b.feed_frames(data, |fr| match fr {
                Frame::Line(l) => {
                    seen.push(format!("L:{}", String::from_utf8_lossy(l)));
                    if l == b"P 4" {
                        Next::Payload(4)
                    } else {
                        Next::Continue
                    }
                }
                Frame::Payload(p) => {
                    seen.push(format!("p:{}", String::from_utf8_lossy(p)));
                    if stop_on_piece {
                        Next::Stop
                    } else {
                        Next::Continue
                    }
                }
                Frame::PayloadEnd => {
                    seen.push("E".into());
                    Next::Continue
                }
                _ => Next::Continue,
            });
        };
        // Stop after the first piece: the rest of this call's bytes are
        // dropped (the caller stopped reading), the count is kept.
        record(&mut b, b"P 4\nab", true);
        assert_eq!(b.payload_left(), 2);
        record(&mut b, b"cd", true);
        // The payload is complete, its end was not reported yet: it comes
        // first, even with no new bytes.
        assert_eq!(b.payload_left(), 0);
        record(&mut b, b"", false);
        record(&mut b, b"x\n", false);
        assert_eq!(seen, ["L:P 4", "p:ab", "p:cd", "E", "L:x"]);
    }

    #[test]
    fn payload_answering_other_frames_means_continue() {
        let mut b = LineBuffer::new(4, 64);
        let mut out = Vec::new();
        b.feed_frames(b"toolong\nab\n", |fr| {
            out.push(format!("{fr:?}"));
            Next::Payload(3)
        });
        // TooLong answered with Payload: lines go on; "ab" is a line, and
        // answering it with Payload(3) makes the next 3 bytes payload.
        b.feed_frames(b"xyz", |fr| {
            out.push(format!("{fr:?}"));
            Next::Continue
        });
        assert_eq!(
            out,
            [
                "TooLong",
                "Line([97, 98])",
                "Payload([120, 121, 122])",
                "PayloadEnd"
            ]
        );
    }

    #[test]
    fn plain_feed_is_unchanged_by_payload_support() {
        // `feed` never starts a payload: "P 3" is a line like any other.
        let mut b = LineBuffer::new(64, 64);
        assert_eq!(run(&mut b, &[b"P 3\nabc\n"]), vec!["L:P 3", "L:abc"]);
    }
}
