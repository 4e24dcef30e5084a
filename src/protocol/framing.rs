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
/// Whole lines inside one `feed` are handed out without copying; only an
/// incomplete last line is kept, so an idle connection holds no buffer.
#[derive(Debug)]
pub struct LineBuffer {
    partial: Vec<u8>,
    max_line: usize,
    max_discard: usize,
    /// Bytes thrown away since the line went over the limit, or `None`.
    discarding: Option<usize>,
    /// Set after `Overflow`: the stream is no longer read.
    overflowed: bool,
}

impl LineBuffer {
    /// A buffer for lines of at most `max_line` bytes. An over-long line is
    /// skipped (`TooLong`) unless `max_discard` bytes pass with no LF, which
    /// gives `Overflow`.
    pub fn new(max_line: usize, max_discard: usize) -> LineBuffer {
        LineBuffer {
            partial: Vec::new(),
            max_line,
            max_discard: max_discard.max(max_line),
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
            if let Some(discarded) = self.discarding {
                match memchr(data) {
                    Some(i) => {
                        self.discarding = None;
                        data = &data[i + 1..];
                        if !f(LineEvent::TooLong) {
                            return;
                        }
                    }
                    None => {
                        let total = discarded.saturating_add(data.len());
                        if total > self.max_discard {
                            self.overflowed = true;
                            f(LineEvent::Overflow);
                            return;
                        }
                        self.discarding = Some(total);
                        return;
                    }
                }
                continue;
            }
            match memchr(data) {
                Some(i) => {
                    let (line_part, rest) = (&data[..i], &data[i + 1..]);
                    data = rest;
                    let keep_going = if self.partial.is_empty() {
                        if line_part.len() > self.max_line
                            && !is_cr_at_limit(line_part, self.max_line)
                        {
                            f(LineEvent::TooLong)
                        } else {
                            f(LineEvent::Line(line_part))
                        }
                    } else {
                        let total = self.partial.len() + line_part.len();
                        let mut line = std::mem::take(&mut self.partial);
                        if total > self.max_line + 1 {
                            f(LineEvent::TooLong)
                        } else {
                            line.extend_from_slice(line_part);
                            if line.len() > self.max_line && !is_cr_at_limit(&line, self.max_line) {
                                f(LineEvent::TooLong)
                            } else {
                                f(LineEvent::Line(&line))
                            }
                        }
                    };
                    if !keep_going {
                        return;
                    }
                }
                None => {
                    // Allow one extra byte for a CR that may precede the LF.
                    if self.partial.len() + data.len() > self.max_line + 1 {
                        let discarded = self.partial.len() + data.len();
                        self.partial = Vec::new();
                        if discarded > self.max_discard {
                            self.overflowed = true;
                            f(LineEvent::Overflow);
                            return;
                        }
                        self.discarding = Some(discarded);
                    } else {
                        self.partial.extend_from_slice(data);
                    }
                    return;
                }
            }
        }
    }
}

/// A line of `max + 1` bytes whose last byte is CR is a line of `max` bytes
/// sent with CRLF.
fn is_cr_at_limit(line: &[u8], max: usize) -> bool {
    line.len() == max + 1 && line.last() == Some(&b'\r')
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
