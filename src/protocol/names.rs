//! The rules for nicknames, message text and request labels: what may be
//! typed where, and when two nicknames are the same person.

use std::borrow::Cow;

use precis_core::profile::{stabilize, Profile, Rules};
use precis_profiles::Nickname;
use unicode_normalization::char::is_combining_mark;

use crate::error::ErrorCode;

/// Default maximum length of a nickname, in characters (Unicode scalar values).
pub const DEFAULT_MAX_NICK_CHARS: usize = 32;

/// Words that can never be nicknames (compared by [`nick_key`], so in any
/// case and any look-alike spelling): the seed's leave commands, so that `quit:hi` can never be mistaken.
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

/// A character a nickname may not start with: `#` starts a room's name
/// (PROTOCOL.md, "Rooms"), so that `#sala:oi` can only mean "to the room".
pub const ROOM_MARK: char = '#';

/// Longest room name, in characters after its `#` (PROTOCOL.md, "Rooms").
pub const MAX_ROOM_CHARS: usize = 32;

/// Checks a room's name: `#` followed by 1 to [`MAX_ROOM_CHARS`]
/// characters (Unicode scalar values) with no whitespace, no control
/// character, no bidi embedding, override or isolate, and neither `:`
/// (it separates a room from a message's text) nor `,` (it separates list
/// items). Every failure is 23 `InvalidRoom`.
pub fn validate_room(room: &str) -> Result<(), ErrorCode> {
    let Some(name) = room.strip_prefix(ROOM_MARK) else {
        return Err(ErrorCode::InvalidRoom);
    };
    let count = name.chars().count();
    if count == 0
        || count > MAX_ROOM_CHARS
        || name.chars().any(|c| {
            c.is_whitespace()
                || c.is_control()
                || c == ':'
                || c == ','
                || BIDI_REORDERING.contains(&c)
        })
    {
        return Err(ErrorCode::InvalidRoom);
    }
    Ok(())
}

/// The key under which a room is unique: its name in lower case (`#Sala`
/// and `#sala` are one room; the name keeps the spelling of its creator).
pub fn room_key(room: &str) -> String {
    room.to_lowercase()
}

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

/// Checks a nickname. Every failure is `InvalidNick` (code 06). A nickname:
///
/// - is 1 to `max_chars` characters (Unicode scalar values, counted as
///   typed);
/// - has no whitespace, no control character and none of
///   [`FORBIDDEN_NICK_CHARS`], does not start with `@` ([`LABEL_MARK`])
///   nor `#` ([`ROOM_MARK`], a room's name),
///   also once its compatibility forms are mapped (a fullwidth `：` is a
///   `:`);
/// - does not start with a combining mark (an accent with nothing to sit
///   on), and has no zero-width joiner or non-joiner;
/// - passes the PRECIS Nickname profile (RFC 8266, on the PRECIS framework
///   of RFC 8264): no default-ignorable code point (zero-width space, word
///   joiner, soft hyphen, byte order mark, U+180E, the Hangul fillers), no
///   bidi control (the marks, embeddings, overrides and isolates), no
///   unassigned code point. The profile's tables are those of Unicode 6.3,
///   the version the IANA PRECIS registry is built on, so a character
///   assigned later (an emoji from 2014 on, a newer script) counts as
///   unassigned;
/// - is not a reserved word ([`RESERVED_NICKS`]) nor a look-alike of one:
///   it is compared by [`nick_key`].
///
/// Why the Nickname profile (RFC 8266) rather than UsernameCaseMapped
/// (RFC 8265): it is the profile made for chat nicknames; it keeps the
/// letters as the user typed them (case mapping is for comparison only,
/// so `WELCOME Ana` stays `Ana`), and its base class (FreeformClass)
/// keeps the symbols, punctuation and emoji (of Unicode 6.3) papo always
/// accepted, where UsernameCaseMapped's IdentifierClass allows letters and
/// digits only beyond ASCII (`ana♥` would be refused). The seed's
/// case-insensitive comparison holds: the profile's comparison form
/// ([`nick_fold`]) is lower-cased. Spoofing is what the confusable skeleton
/// of [`nick_key`] is for; the characters that are invisible or reorder
/// text are refused here by the profile.
pub fn validate_nick(nick: &str, max_chars: usize) -> Result<(), ErrorCode> {
    if nick.is_empty() || nick.chars().count() > max_chars {
        return Err(ErrorCode::InvalidNick);
    }
    let enforced = if is_printable_ascii(nick) {
        // The profile leaves printable ASCII as it is (RFC 8264's ASCII7
        // class is valid; NFKC maps none of it): skip its tables.
        Cow::Borrowed(nick)
    } else {
        Nickname::new()
            .enforce(nick)
            .map_err(|_| ErrorCode::InvalidNick)?
    };
    for name in [nick, &*enforced] {
        if name.starts_with(LABEL_MARK)
            || name.starts_with(ROOM_MARK)
            || name.starts_with(is_combining_mark)
            || name.chars().any(|c| {
                c.is_whitespace()
                    || c.is_control()
                    || FORBIDDEN_NICK_CHARS.contains(&c)
                    || JOIN_CONTROLS.contains(&c)
            })
        {
            return Err(ErrorCode::InvalidNick);
        }
    }
    // Each reserved word is its own key (a test checks it).
    let key = nick_key(nick);
    if RESERVED_NICKS.iter().any(|r| *r == key) {
        return Err(ErrorCode::InvalidNick);
    }
    Ok(())
}

/// Whether `s` is only printable ASCII, U+0021-U+007E (no space): the
/// common case, for which the PRECIS profile changes nothing but the case.
fn is_printable_ascii(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_graphic())
}

/// ZERO WIDTH NON-JOINER and ZERO WIDTH JOINER: default-ignorable code
/// points that PRECIS allows in some contexts (after a virama, between
/// joining letters). papo refuses them in nicknames like every other
/// invisible character, so that a name with one cannot pass for the same
/// name without it.
const JOIN_CONTROLS: [char; 2] = ['\u{200C}', '\u{200D}'];

/// The case-insensitive form of a nickname: the comparison form of the
/// PRECIS Nickname profile (RFC 8266 section 2.4: the profile's preparation,
/// its space mapping, Unicode toLowerCase, NFKC, repeated until stable), so
/// `Ana`, `ANA` and fullwidth `ａｎａ` all give `ana`. The server sorts
/// `USERS` by it. For a string that is no valid nickname (which the server
/// never stores) it falls back to the plain Unicode lower case.
pub fn nick_fold(nick: &str) -> String {
    if is_printable_ascii(nick) {
        // What the profile gives for printable ASCII (a test checks it).
        return nick.to_ascii_lowercase();
    }
    profile_fold(nick).map_or_else(|_| nick.to_lowercase(), Cow::into_owned)
}

/// RFC 8266 section 2.4, through the crate's rules: the comparison form.
fn profile_fold(nick: &str) -> Result<Cow<'_, str>, precis_core::Error> {
    let p = Nickname::new();
    stabilize(nick, |s| {
        let s = p.prepare(s)?;
        let s = p.additional_mapping_rule(s)?;
        let s = p.case_mapping_rule(s)?;
        p.normalization_rule(s)
    })
}

/// The key under which a nickname is unique: two nicknames with the same
/// key are the same person (error 01 when one is online and the other
/// registers; a private message to either reaches whoever is online). It
/// is the UTS #39 confusable skeleton (the way Ergo, the IRC server, keeps
/// look-alikes apart) of the case-insensitive form [`nick_fold`], lower
/// cased once more (a skeleton maps `0` to `O`). So:
///
/// - `Ana` and `ana` are the same (the seed's case-insensitive nicknames);
/// - `аna` with a Cyrillic `а`, `ana` in fullwidth letters, `ana0` and
///   `anaO`, `rn` and `m` are the same as their Latin look-alikes;
/// - `ana` and `ama` stay different, as do names that only share letters
///   that look different (`José`, `Jose`).
///
/// Because the case is folded before the skeleton, a look-alike that exists
/// only between an upper-case letter and another lower-case letter (`I`
/// and `l`) is not caught: the seed's rule that `Ian` and `ian` are the
/// same comes first, and one key cannot have both.
///
/// Every comparison of nicknames in papo (the server's directory, the
/// client following its own renames) goes through this function.
///
/// The skeleton costs a few microseconds (normalization and the
/// confusables table), and every private message needs two keys (its
/// conversation's), so each thread remembers the last keys it computed:
/// up to 1,024 nicknames of at most 64 bytes, forgotten all at once when
/// full (a client writing to ever new
/// names only makes its own thread compute as before).
pub fn nick_key(nick: &str) -> String {
    if nick.len() > KEY_CACHE_NICK_BYTES {
        return compute_nick_key(nick);
    }
    let hit = KEYS.with(|c| c.borrow().get(nick).map(|k| String::from(&**k)));
    if let Some(key) = hit {
        return key;
    }
    let key = compute_nick_key(nick);
    KEYS.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= KEY_CACHE_MAX {
            c.clear();
        }
        c.insert(Box::from(nick), Box::from(key.as_str()));
    });
    key
}

/// Most nicknames whose keys one thread remembers ([`nick_key`]).
const KEY_CACHE_MAX: usize = 1024;
/// Longest nickname, in bytes, whose key is remembered.
const KEY_CACHE_NICK_BYTES: usize = 64;

thread_local! {
    /// Nickname -> [`nick_key`], for this thread.
    static KEYS: std::cell::RefCell<std::collections::HashMap<Box<str>, Box<str>>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// [`nick_key`] without the cache.
fn compute_nick_key(nick: &str) -> String {
    let fold = nick_fold(nick);
    let skeleton: String = unicode_security::skeleton(&fold).collect();
    skeleton.to_lowercase()
}

/// Bidi controls that reorder what follows them until a matching
/// terminator or the end of the paragraph: the embeddings LRE, RLE, the
/// terminator PDF, the overrides LRO, RLO (U+202A-U+202E) and the isolates
/// LRI, RLI, FSI, PDI (U+2066-U+2069). The "Trojan Source" attack
/// (CVE-2021-42574) hides text with them; [`validate_text`] refuses them.
/// The marks LRM, RLM and ALM (U+200E, U+200F, U+061C) act as one strong
/// letter and reorder nothing, so text may carry them.
pub const BIDI_REORDERING: [char; 9] = [
    '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}', '\u{2068}',
    '\u{2069}',
];

/// Checks message text: no control characters except TAB (so that no CR,
/// NUL or ESC can make a line look as if it came from someone else), and
/// no bidi embedding, override or isolate ([`BIDI_REORDERING`]: text in any
/// script is fine, but not the controls that make a line display in an
/// order other than the one it is read in). Returns `InvalidText`.
pub fn validate_text(text: &str) -> Result<(), ErrorCode> {
    // Fast path (every message passes here): one branch-free pass over the
    // bytes, which the compiler vectorises. For ASCII text a byte is a
    // character, and the ASCII control characters are 0x00-0x1F and 0x7F.
    // Text with any non-ASCII byte takes the per-character check, which
    // also catches the C1 controls U+0080-U+009F and the bidi controls.
    let (mut control, mut non_ascii) = (false, false);
    for &b in text.as_bytes() {
        control |= (b < 0x20 && b != b'\t') | (b == 0x7f);
        non_ascii |= b >= 0x80;
    }
    if non_ascii {
        control = text
            .chars()
            .any(|c| (c.is_control() && c != '\t') || BIDI_REORDERING.contains(&c));
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
            "a,b", "@ana", "#ana", "#",
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

    /// The fake names of issue 14 ("Names nobody can fake"), each tried
    /// while `ana` is online: refused (06), or the same key as `ana` (01).
    #[test]
    fn fake_names_are_refused_or_taken() {
        let ana = nick_key("ana");
        let refused = [
            ("zero-width space", "ana\u{200B}"),
            ("word joiner", "ana\u{2060}"),
            ("Mongolian vowel separator", "ana\u{180E}"),
            ("Hangul filler", "ana\u{3164}"),
            ("Hangul filler alone", "\u{3164}"),
            ("soft hyphen inside", "a\u{AD}na"),
            ("BOM before", "\u{FEFF}ana"),
            ("right-to-left override before", "\u{202E}ana"),
            ("right-to-left isolate", "\u{2067}ana\u{2069}"),
            ("left-to-right mark", "ana\u{200E}"),
            ("Arabic letter mark", "\u{61C}ana"),
            ("lone combining mark", "\u{301}"),
            ("combining mark before", "\u{301}ana"),
            ("zero-width joiner", "an\u{200D}a"),
            ("zero-width non-joiner", "an\u{200C}a"),
            ("quit + zero-width space", "quit\u{200B}"),
            ("QUIT + word joiner", "QUIT\u{2060}"),
            ("quit with Cyrillic і", "qu\u{456}t"),
            ("fullwidth quit", "\u{FF51}\u{FF55}\u{FF49}\u{FF54}"),
            ("unassigned", "ana\u{378}"),
            ("private use", "ana\u{E000}"),
            ("noncharacter", "ana\u{FFFF}"),
            ("fullwidth colon", "a\u{FF1A}b"),
            ("fullwidth solidus", "a\u{FF0F}b"),
            ("fullwidth commercial at", "\u{FF20}ana"),
            ("ideographic space", "a\u{3000}b"),
            ("no-break space", "a\u{A0}b"),
        ];
        for (what, nick) in refused {
            assert_eq!(
                validate_nick(nick, 32),
                Err(ErrorCode::InvalidNick),
                "{what}: {nick:?}"
            );
        }
        // Valid names of their own, but the same person as `ana`.
        let taken = [
            ("Cyrillic а for a", "\u{430}na"),
            ("Cyrillic а twice", "\u{430}n\u{430}"),
            ("fullwidth ａ (mapped to a)", "\u{FF41}na"),
            ("fullwidth ａｎａ", "\u{FF41}\u{FF4E}\u{FF41}"),
            ("upper case", "ANA"),
            ("mixed case", "aNa"),
        ];
        for (what, nick) in taken {
            assert_eq!(validate_nick(nick, 32), Ok(()), "{what}: {nick:?}");
            assert_eq!(nick_key(nick), ana, "{what}: {nick:?}");
        }
        // Look-alikes among ASCII: `rn` and `m`, `0` and `O`.
        assert_eq!(nick_key("ama"), nick_key("arna"));
        assert_eq!(nick_key("ana0"), nick_key("anaO"));
        assert_eq!(nick_key("ana0"), nick_key("ANAo"));
    }

    #[test]
    fn real_names_in_any_script_are_kept_apart() {
        for nick in [
            "José",
            "Jose\u{301}", // the same, decomposed
            "Ærøskøbing",
            "山田",
            "Ольга",
            "Σωκράτης",
            "محمد",
            "דוד",
            "अनुष्का",
            "ana♥",
            "ana😀",
            "João_99",
        ] {
            assert_eq!(validate_nick(nick, 32), Ok(()), "{nick:?}");
        }
        assert_eq!(nick_key("José"), nick_key("Jose\u{301}"));
        assert_eq!(nick_key("JOSÉ"), nick_key("josé"));
        assert_eq!(nick_key("Ольга"), nick_key("ОЛЬГА"));
        for (a, b) in [
            ("ana", "ama"),
            ("ana", "anna"),
            ("José", "Jose"),
            ("Ольга", "Olga"),
            ("山田", "田山"),
            ("bob", "bod"),
        ] {
            assert_ne!(nick_key(a), nick_key(b), "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn reserved_words_are_their_own_keys() {
        for r in RESERVED_NICKS {
            assert_eq!(nick_key(r), r);
        }
    }

    /// The printable-ASCII shortcut gives what the PRECIS profile gives.
    #[test]
    fn ascii_shortcut_agrees_with_the_profile() {
        let all: String = (0x21u8..=0x7e).map(char::from).collect();
        let mut cases = vec![all.clone(), "Ana".into(), "QUIT".into(), "{Quit}".into()];
        cases.extend(all.chars().map(|c| format!("A{c}z")));
        let p = Nickname::new();
        for s in &cases {
            assert!(is_printable_ascii(s));
            assert_eq!(p.enforce(s.as_str()).as_deref(), Ok(s.as_str()), "{s:?}");
            assert_eq!(
                profile_fold(s).as_deref(),
                Ok(nick_fold(s).as_str()),
                "{s:?}"
            );
        }
    }

    #[test]
    fn fold_is_case_insensitive_and_maps_width() {
        assert_eq!(nick_fold("Ana"), "ana");
        assert_eq!(nick_fold("\u{FF21}na"), "ana");
        assert_eq!(nick_fold("ÆRØ"), "ærø");
    }

    #[test]
    fn text_refuses_bidi_reordering_only() {
        for c in BIDI_REORDERING {
            for t in [
                format!("{c}abc"),
                format!("x = 1 {c}// ok"),
                format!("abc{c}"),
            ] {
                assert_eq!(validate_text(&t), Err(ErrorCode::InvalidText), "{t:?}");
            }
        }
        for ok in [
            "مرحبا بالعالم",
            "שלום עולם and hello",
            "a\u{200E}b\u{200F}c\u{61C}",
            "a\u{200B}b",
            "日本語のテキスト",
        ] {
            assert_eq!(validate_text(ok), Ok(()), "{ok:?}");
        }
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
    fn rooms() {
        let longest = format!("#{}", "é".repeat(MAX_ROOM_CHARS));
        for ok in [
            "#a",
            "#sala",
            "#Sala-2",
            "#日本",
            "##",
            "#a@b",
            longest.as_str(),
        ] {
            assert_eq!(validate_room(ok), Ok(()), "{ok:?}");
        }
        let too_long = format!("#{}", "a".repeat(MAX_ROOM_CHARS + 1));
        for bad in [
            "",
            "#",
            "sala",
            "# a",
            "#a b",
            "#a:b",
            "#a,b",
            "#a\tb",
            "#a\u{1b}",
            "#\u{202E}x",
            too_long.as_str(),
        ] {
            assert_eq!(validate_room(bad), Err(ErrorCode::InvalidRoom), "{bad:?}");
        }
        assert_eq!(room_key("#Sala"), room_key("#sala"));
        assert!(validate_nick("a#b", 32).is_ok());
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

#[cfg(test)]
mod key_cache_tests {
    use super::*;

    /// The cache gives what the computation gives, for the same nickname
    /// asked again, past the cache's size, and for names too long to keep.
    #[test]
    fn cached_keys_are_the_computed_ones() {
        let long = "a".repeat(KEY_CACHE_NICK_BYTES + 1);
        let names: Vec<String> = (0..KEY_CACHE_MAX + 10)
            .map(|i| format!("Ana{i}"))
            .chain(["ΑΝΑ".to_owned(), "аnа".to_owned(), "rn".to_owned(), long])
            .collect();
        for _ in 0..2 {
            for n in &names {
                assert_eq!(nick_key(n), compute_nick_key(n), "{n}");
            }
        }
        assert_eq!(nick_key("rn"), nick_key("m"));
    }
}
