//! Incremental line framing: bytes in, whole lines out, with a length limit.

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

/// Cuts a byte stream into lines of at most `max_line` bytes (LF excluded).
///
/// What it reports depends only on the bytes, never on how they were cut
/// into `feed` calls (a line sent whole, byte by byte or split anywhere
/// gives the same events; the fuzz targets check this). For a line of `L`
/// bytes before its LF:
///
/// - `L <= max_line` (or `L == max_line + 1` ending in CR, a CRLF line at
///   the limit): [`LineEvent::Line`];
/// - `max_line < L <= max_discard`: [`LineEvent::TooLong`], once its LF
///   has arrived;
/// - `L > max_discard`: [`LineEvent::Overflow`] as soon as byte
///   `max_discard + 1` arrives, LF or not; after it nothing more is
///   reported.
///
/// Whole lines inside one `feed` are handed out without copying; only an
/// incomplete last line is kept (at most `max_line + 1` bytes; an over-long
/// one is only counted), so an idle connection holds no buffer.
#[derive(Debug)]
pub struct LineBuffer {
    partial: Vec<u8>,
    max_line: usize,
    max_discard: usize,
    /// Bytes of the current line seen so far once it is over
    /// `max_line + 1` (its bytes are not kept), or `None`.
    discarding: Option<usize>,
    /// Set after `Overflow`: the stream is no longer read.
    overflowed: bool,
}

impl LineBuffer {
    /// A buffer for lines of at most `max_line` bytes. An over-long line is
    /// skipped (`TooLong`) unless it passes `max_discard` bytes, which
    /// gives `Overflow`. `max_discard` is raised to `max_line + 1` if lower.
    pub fn new(max_line: usize, max_discard: usize) -> LineBuffer {
        LineBuffer {
            partial: Vec::new(),
            max_line,
            max_discard: max_discard.max(max_line.saturating_add(1)),
            discarding: None,
            overflowed: false,
        }
    }

    /// Bytes held for an incomplete line.
    pub fn pending(&self) -> usize {
        self.partial.len()
    }

    /// Feeds bytes; calls `f` for each event in order. `f` returns `false`
    /// to stop early (after a `quit`, say): the rest of `data` is dropped.
    /// `Overflow` is reported once; after it, every `feed` does nothing.
    pub fn feed(&mut self, mut data: &[u8], mut f: impl FnMut(LineEvent<'_>) -> bool) {
        if self.overflowed {
            return;
        }
        while !data.is_empty() {
            // Bytes of the current line before this chunk.
            let so_far = self.discarding.unwrap_or(self.partial.len());
            let Some(i) = memchr(data) else {
                let total = so_far.saturating_add(data.len());
                if total > self.max_discard {
                    self.overflow(&mut f);
                } else if total > self.max_line.saturating_add(1) {
                    self.partial = Vec::new();
                    self.discarding = Some(total);
                } else {
                    self.partial.extend_from_slice(data);
                }
                return;
            };
            let (line_part, rest) = (&data[..i], &data[i + 1..]);
            data = rest;
            let total = so_far.saturating_add(line_part.len());
            if total > self.max_discard {
                self.overflow(&mut f);
                return;
            }
            let keep_going = if self.discarding.take().is_some()
                || total > self.max_line.saturating_add(1)
            {
                self.partial.clear();
                f(LineEvent::TooLong)
            } else if self.partial.is_empty() {
                if line_part.len() > self.max_line && !is_cr_at_limit(line_part, self.max_line) {
                    f(LineEvent::TooLong)
                } else {
                    f(LineEvent::Line(line_part))
                }
            } else {
                let mut line = std::mem::take(&mut self.partial);
                line.extend_from_slice(line_part);
                if line.len() > self.max_line && !is_cr_at_limit(&line, self.max_line) {
                    f(LineEvent::TooLong)
                } else {
                    f(LineEvent::Line(&line))
                }
            };
            if !keep_going {
                return;
            }
        }
    }

    fn overflow(&mut self, f: &mut impl FnMut(LineEvent<'_>) -> bool) {
        self.overflowed = true;
        self.partial = Vec::new();
        self.discarding = None;
        f(LineEvent::Overflow);
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
}
