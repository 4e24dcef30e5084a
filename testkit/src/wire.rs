//! Reading what a server sends: a byte stream of lines, some of which
//! (`BYTES`, `CHUNK`) are followed by a payload of the size they announce
//! and one LF (PROTOCOL.md, "Payload frames").
//!
//! Every line is checked the way a client must be able to rely on: UTF-8,
//! no control character but TAB (so no text can forge a line or redraw a
//! terminal), and readable by [`ServerLine::parse_labeled`].

use papo::protocol::ServerLine;

/// One item of a server's byte stream, borrowed from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemRef<'a> {
    /// The line as sent (with its label, without its LF).
    pub line: &'a str,
    /// The payload after a `BYTES`/`CHUNK` line (`None` for other lines).
    pub payload: Option<&'a [u8]>,
}

/// One item of a server's byte stream, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The line as sent (with its label, without its LF).
    pub line: String,
    /// The payload after a `BYTES`/`CHUNK` line (`None` for other lines).
    pub payload: Option<Vec<u8>>,
}

/// Checks one line (without its LF) and parses it: `Err` says what is
/// wrong (a control character, or a line [`ServerLine::parse_labeled`]
/// refuses).
pub fn check_line(line: &str) -> Result<(Option<&str>, ServerLine<&str>), String> {
    if line.chars().any(|c| c.is_control() && c != '\t') {
        return Err(format!("a control character in the line {line:?}"));
    }
    ServerLine::parse_labeled(line)
        .map_err(|e| format!("a line the client cannot read: {line:?} ({e})"))
}

/// The item at the start of `buf` and the bytes it takes; `Ok(None)` when
/// `buf` does not hold a whole one yet. Errors: a line that is not UTF-8,
/// fails [`check_line`], or a payload not followed by its LF.
pub fn next_item(buf: &[u8]) -> Result<Option<(ItemRef<'_>, usize)>, String> {
    let Some(end) = buf.iter().position(|b| *b == b'\n') else {
        return Ok(None);
    };
    let raw = buf.get(..end).unwrap_or(&[]);
    let line = std::str::from_utf8(raw).map_err(|_| {
        format!(
            "a line that is not UTF-8: {:?}",
            String::from_utf8_lossy(raw)
        )
    })?;
    let (_, parsed) = check_line(line)?;
    let Some(size) = parsed.payload_size() else {
        let item = ItemRef {
            line,
            payload: None,
        };
        return Ok(Some((item, end + 1)));
    };
    // A payload frame, even of 0 bytes: the payload, then one LF.
    let too_big = || format!("a payload too big for memory: {line:?}");
    let size = usize::try_from(size).map_err(|_| too_big())?;
    let start = end + 1;
    let lf = start.checked_add(size).ok_or_else(too_big)?;
    match buf.get(lf) {
        None => Ok(None),
        Some(b'\n') => {
            let item = ItemRef {
                line,
                payload: Some(buf.get(start..lf).unwrap_or(&[])),
            };
            Ok(Some((item, lf + 1)))
        }
        Some(_) => Err(format!(
            "the {size}-byte payload after {line:?} is not followed by LF: {:?}",
            String::from_utf8_lossy(buf.get(lf..).unwrap_or(&[]))
        )),
    }
}

/// Every whole item at the start of `buf`, and the bytes they take (the
/// rest is an incomplete item).
pub fn items(buf: &[u8]) -> Result<(Vec<Item>, usize), String> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while let Some((item, used)) = next_item(buf.get(at..).unwrap_or(&[]))? {
        out.push(Item {
            line: item.line.to_owned(),
            payload: item.payload.map(<[u8]>::to_vec),
        });
        at += used;
    }
    Ok((out, at))
}

/// `buf` as whole items, or a panic that shows the bytes: for streams the
/// caller knows to be complete (a session's output at rest).
pub fn whole_items(buf: &[u8], who: &str) -> Vec<Item> {
    match items(buf) {
        Ok((items, used)) if used == buf.len() => items,
        Ok((_, used)) => panic!(
            "{who}: the stream ends inside a line or payload: {:?}",
            String::from_utf8_lossy(buf.get(used..).unwrap_or(&[]))
        ),
        Err(e) => panic!(
            "{who} got {e}; the bytes: {:?}",
            String::from_utf8_lossy(buf)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_payloads() {
        let buf = b"PUBLIC ana :oi\nBYTES ana 3 private\na\nb\nCHUNK 1 0\n\n@7 SENT bob :x\nFILE";
        let (got, used) = items(buf).unwrap();
        assert_eq!(used, buf.len() - 4);
        let lines: Vec<&str> = got.iter().map(|i| i.line.as_str()).collect();
        assert_eq!(
            lines,
            [
                "PUBLIC ana :oi",
                "BYTES ana 3 private",
                "CHUNK 1 0",
                "@7 SENT bob :x"
            ]
        );
        assert_eq!(got[1].payload.as_deref(), Some(&b"a\nb"[..]));
        assert_eq!(got[2].payload.as_deref(), Some(&b""[..]));
        assert!(
            items(b"BYTES ana 3\nabcd").is_err(),
            "no LF after the payload"
        );
        assert!(
            items(b"PUBLIC ana :a\x1bb\n").is_err(),
            "a control character"
        );
        assert!(items(b"NOPE\n").is_err(), "an unknown keyword");
        assert!(items(b"\xff\n").is_err(), "not UTF-8");
    }
}
