//! The rules for nicknames, message text and request labels: what may be
//! typed where, and when two nicknames are the same person.

use crate::error::ErrorCode;

/// Default maximum length of a nickname, in characters (Unicode scalar values).
pub const DEFAULT_MAX_NICK_CHARS: usize = 32;

/// Words that can never be nicknames (compared case-insensitively): the
/// seed's leave commands, so that `quit:hi` can never be mistaken.
pub const RESERVED_NICKS: [&str; 2] = ["quit", "{quit}"];

/// Characters a nickname may not contain, besides whitespace and control
/// characters. `:` separates a private message's destination from its text;
/// `/` starts commands; `*` stands for "no one" in server lines; `,` and `\`
/// are kept free for future lists and escapes.
pub const FORBIDDEN_NICK_CHARS: [char; 5] = [':', '/', '\\', '*', ','];

/// A character a nickname may not start with: `@` starts a request label
/// (PROTOCOL.md, "Labels"), so that `@7 bob:hi` can only mean "label 7,
/// private message to bob".
pub const LABEL_MARK: char = '@';

/// Longest request label, in bytes (PROTOCOL.md, "Labels").
pub const MAX_LABEL_BYTES: usize = 32;

/// Most bytes a label adds in front of a line: `@`, the label, a space.
/// Line limits count the line without them.
pub const LABEL_ROOM: usize = MAX_LABEL_BYTES + 2;

/// The length of the label in front of a raw line (`@<label> `, the space
/// included), or 0 when it has none that fits [`LABEL_ROOM`]. For counting
/// a line against its limit before it is known to be UTF-8.
pub fn label_len(raw: &[u8]) -> usize {
    if raw.first() != Some(&b'@') {
        return 0;
    }
    raw.iter()
        .take(LABEL_ROOM)
        .position(|b| *b == b' ')
        .map_or(0, |space| space + 1)
}

/// Checks a nickname: 1 to `max_chars` characters, none of them whitespace,
/// control or one of [`FORBIDDEN_NICK_CHARS`], not starting with `@`
/// ([`LABEL_MARK`]), and not a reserved word ([`RESERVED_NICKS`]). Every
/// failure is `InvalidNick` (code 06).
pub fn validate_nick(nick: &str, max_chars: usize) -> Result<(), ErrorCode> {
    if nick.is_empty() || nick.starts_with(LABEL_MARK) {
        return Err(ErrorCode::InvalidNick);
    }
    if nick.chars().count() > max_chars {
        return Err(ErrorCode::InvalidNick);
    }
    if nick
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || FORBIDDEN_NICK_CHARS.contains(&c))
    {
        return Err(ErrorCode::InvalidNick);
    }
    let key = nick_key(nick);
    if RESERVED_NICKS.iter().any(|r| *r == key) {
        return Err(ErrorCode::InvalidNick);
    }
    Ok(())
}

/// The key under which a nickname is unique: its Unicode lower case, so that
/// `Ana` and `ana` are the same person (error 01).
pub fn nick_key(nick: &str) -> String {
    nick.to_lowercase()
}

/// Checks message text: no control characters except TAB (so that no CR,
/// NUL or ESC can make a line look as if it came from someone else).
/// Returns `InvalidText`.
pub fn validate_text(text: &str) -> Result<(), ErrorCode> {
    // Fast path (every message passes here): one branch-free pass over the
    // bytes, which the compiler vectorises. For ASCII text a byte is a
    // character, and the ASCII control characters are 0x00-0x1F and 0x7F.
    // Text with any non-ASCII byte takes the per-character check, which
    // also catches the C1 controls U+0080-U+009F.
    let (mut control, mut non_ascii) = (false, false);
    for &b in text.as_bytes() {
        control |= (b < 0x20 && b != b'\t') | (b == 0x7f);
        non_ascii |= b >= 0x80;
    }
    if non_ascii {
        control = text.chars().any(|c| c.is_control() && c != '\t');
    }
    if control {
        return Err(ErrorCode::InvalidText);
    }
    Ok(())
}

/// Whether `label` can be a request label: 1 to [`MAX_LABEL_BYTES`] bytes
/// of ASCII letters, digits, `.`, `_` and `-`.
pub fn is_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= MAX_LABEL_BYTES
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Splits a request label off a line (PROTOCOL.md, "Labels"): a line that
/// starts with `@` and has a space is `@<label> <line>`. Returns the label,
/// if any, and the rest of the line. A line that starts with `@` and has no
/// space has no label (it is read as usual: `@ana` at the nickname prompt is
/// a refused nickname, since nicknames cannot start with `@`). One whose
/// first word is no valid label is 10 `UnknownCommand`.
pub fn split_label(line: &str) -> Result<(Option<&str>, &str), ErrorCode> {
    let Some(rest) = line.strip_prefix(LABEL_MARK) else {
        return Ok((None, line));
    };
    match rest.split_once(' ') {
        None => Ok((None, line)),
        Some((label, line)) if is_label(label) => Ok((Some(label), line)),
        Some(_) => Err(ErrorCode::UnknownCommand),
    }
}

/// Appends `@<label> ` when `label` is given: the prefix of a labeled line,
/// in either direction (PROTOCOL.md, "Labels"); [`split_label`] reads it.
pub fn push_label(out: &mut Vec<u8>, label: Option<&str>) {
    if let Some(l) = label {
        out.push(LABEL_MARK as u8);
        out.extend_from_slice(l.as_bytes());
        out.push(b' ');
    }
}

/// Removes one trailing CR (so that `nc -C` and telnet's CRLF work).
pub fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// True for the seed's leave words: `quit`, `{quit}` (seed 000) and `/quit`
/// (seed 002), compared case-insensitively.
pub fn is_quit_word(s: &str) -> bool {
    let s = s.trim();
    s.eq_ignore_ascii_case("quit")
        || s.eq_ignore_ascii_case("{quit}")
        || s.eq_ignore_ascii_case("/quit")
}

/// Reads a decimal number of at most 20 digits (no sign, no spaces).
pub fn parse_number(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_text_fast_path_agrees_with_char_check() {
        let slow = |t: &str| !t.chars().any(|c| c.is_control() && c != '\t');
        let mut cases: Vec<String> = vec![
            String::new(),
            "olá a todos".into(),
            "tab\there".into(),
            "x".repeat(100),
            "caf\u{e9} \u{1F600}".into(),
        ];
        for bad in [
            '\0', '\r', '\n', '\u{1b}', '\u{7f}', '\u{80}', '\u{9f}', '\u{85}',
        ] {
            for at in [0, 5, 63] {
                let mut t: String = "a".repeat(64);
                t.insert(at, bad);
                cases.push(t);
            }
        }
        // Non-ASCII but no control: U+00A0 (right after the C1 block).
        cases.push("a\u{a0}b".into());
        for t in &cases {
            assert_eq!(validate_text(t).is_ok(), slow(t), "{t:?}");
        }
    }

    #[test]
    fn nicks() {
        assert!(validate_nick("ana", 32).is_ok());
        assert!(validate_nick("João_99", 32).is_ok());
        assert!(validate_nick("a@b", 32).is_ok());
        for bad in [
            "", "a b", "a:b", "a/b", "a\\b", "a\0b", "a\x1bb", "*", "quit", "QUIT", "{quit}",
            "a,b", "@ana",
        ] {
            assert_eq!(
                validate_nick(bad, 32),
                Err(ErrorCode::InvalidNick),
                "{bad:?}"
            );
        }
        assert_eq!(
            validate_nick(&"x".repeat(33), 32),
            Err(ErrorCode::InvalidNick)
        );
        assert!(validate_nick(&"é".repeat(32), 32).is_ok());
        assert_eq!(nick_key("Ana"), nick_key("ana"));
    }

    #[test]
    fn labels() {
        assert_eq!(split_label(":oi"), Ok((None, ":oi")));
        assert_eq!(split_label("@7 :oi"), Ok((Some("7"), ":oi")));
        assert_eq!(
            split_label("@a-b_c.9 /list"),
            Ok((Some("a-b_c.9"), "/list"))
        );
        assert_eq!(split_label("@7  bob:x"), Ok((Some("7"), " bob:x")));
        for bad in ["@ :x", "@a!b :x", &format!("@{} :x", "a".repeat(33))] {
            assert_eq!(split_label(bad), Err(ErrorCode::UnknownCommand), "{bad:?}");
        }
        // No space: no label; the line is read as usual.
        for none in ["@", "@7", "@7:x", "@ana"] {
            assert_eq!(split_label(none), Ok((None, none)), "{none:?}");
        }
        assert!(is_label(&"a".repeat(MAX_LABEL_BYTES)));
        assert_eq!(label_len(b"@7 :oi"), 3);
        assert_eq!(label_len(b":oi"), 0);
        let longest = format!("@{} /list", "a".repeat(MAX_LABEL_BYTES));
        assert_eq!(label_len(longest.as_bytes()), LABEL_ROOM);
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_number("0"), Some(0));
        assert_eq!(parse_number("18446744073709551615"), Some(u64::MAX));
        for bad in [
            "",
            "-1",
            "+1",
            "0x1",
            "1 ",
            "18446744073709551616",
            "123456789012345678901",
        ] {
            assert_eq!(parse_number(bad), None, "{bad:?}");
        }
    }
}
