//! The names of received files (PROTOCOL.md, "Saving received files"): a
//! name announced by another user reduced to a safe base name, and the
//! numbered alternatives to a taken one. Pure: the client's file code does
//! the writing.

/// The name given to a received file whose announced name has nothing safe
/// left in it ("arquivo" is Portuguese for "file", as in seed 002).
pub const FALLBACK_FILE_NAME: &str = "arquivo";

/// Longest file name [`safe_file_name`] produces, in bytes (most file
/// systems allow 255; the rest leaves room for ` (123)` when the name is
/// taken).
pub const MAX_FILE_NAME_BYTES: usize = 200;

/// True for the characters [`safe_file_name`] replaces with `_`: control
/// characters, the separators and wildcards Windows forbids, and the
/// invisible Unicode direction marks that can make `gpj.exe` look like
/// `exe.jpg`.
fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*' | '/' | '\\')
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Windows device names, which name no file in any folder whatever their
/// extension (`CON`, `con.txt`, `COM1.log` ...).
fn reserved_on_windows(stem: &str) -> bool {
    let s = stem.trim_end_matches([' ', '.']).to_ascii_uppercase();
    match s.as_str() {
        "CON" | "PRN" | "AUX" | "NUL" | "CONIN$" | "CONOUT$" | "CLOCK$" => true,
        _ => {
            // COM0-9 and LPT0-9, and with a superscript digit (COM¹ ...),
            // which Windows reserves too.
            let number = s.strip_prefix("COM").or_else(|| s.strip_prefix("LPT"));
            number.is_some_and(|n| {
                let mut c = n.chars();
                matches!((c.next(), c.next()), (Some(d), None) if d.is_ascii_digit() || "¹²³".contains(d))
            })
        }
    }
}

/// Cuts `s` to at most `max` bytes at a character boundary.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("")
}

/// Reduces a file name announced by another user to a safe base name for
/// the download folder (PROTOCOL.md, "Saving received files"):
///
/// - only the part after the last `/` or `\` is kept, so `../../x`,
///   `/etc/passwd` and `C:\Windows\x.dll` become `x`, `passwd`, `x.dll`;
/// - control characters (NUL, ESC, CR, LF ...), the characters Windows
///   forbids (`< > : " | ? *`, so drive letters `C:` and streams `a:b`
///   too) and Unicode direction marks become `_`;
/// - spaces and dots are trimmed at both ends (so no `.` or `..`, no hidden
///   file, nothing Windows would silently rename);
/// - a Windows device name (`CON`, `nul.txt`, `COM1`, `LPT9.log` ...)
///   gets a `_` in front;
/// - a name over [`MAX_FILE_NAME_BYTES`] is cut, keeping its extension;
/// - nothing left gives [`FALLBACK_FILE_NAME`].
///
/// The result is never empty, never `.` or `..`, holds no separator and no
/// control character, and is at most [`MAX_FILE_NAME_BYTES`] bytes.
pub fn safe_file_name(announced: &str) -> String {
    let base = announced.rsplit(['/', '\\']).next().unwrap_or("");
    let mapped: String = base
        .chars()
        .map(|c| if unsafe_char(c) { '_' } else { c })
        .collect();
    let trimmed = mapped.trim_matches(|c: char| c == '.' || c.is_whitespace());
    // A lone `_` (one control character) says nothing either.
    if trimmed.is_empty() || trimmed == "_" {
        return FALLBACK_FILE_NAME.to_owned();
    }
    // Cut first, then look for a device name: cutting can make one
    // (`CONOUT$ ... LPT ... .x` cut before `LPT` is `CONOUT$.x`; found by
    // the `file_name` fuzz target). A name that starts with `_` is none.
    let mut name = shorten(trimmed.to_owned());
    let stem = name.split('.').next().unwrap_or("");
    if reserved_on_windows(stem) {
        name.insert(0, '_');
        name = shorten(name);
    }
    name
}

/// A name over [`MAX_FILE_NAME_BYTES`] cut to it, keeping its extension
/// (see [`safe_file_name`]).
fn shorten(name: String) -> String {
    if name.len() <= MAX_FILE_NAME_BYTES {
        return name;
    }
    let cut_name = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && ext.len() <= 32 => {
            let room = MAX_FILE_NAME_BYTES - ext.len() - 1;
            format!("{}.{ext}", cut(stem, room).trim_end_matches([' ', '.']))
        }
        _ => cut(&name, MAX_FILE_NAME_BYTES).to_owned(),
    };
    let kept = cut_name.trim_end_matches(|c: char| c == '.' || c.is_whitespace());
    // As before cutting: nothing, or a lone `_`, says nothing.
    if kept.is_empty() || kept == "_" {
        FALLBACK_FILE_NAME.to_owned()
    } else {
        kept.to_owned()
    }
}

/// The `n`th alternative to a taken name: `foto (1).png`, `foto (2).png`
/// ... (`n` 0 is the name itself). The extension is the part after the last
/// dot, unless that dot starts the name.
pub fn numbered_file_name(name: &str, n: u32) -> String {
    if n == 0 {
        return name.to_owned();
    }
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => format!("{stem} ({n}).{ext}"),
        _ => format!("{name} ({n})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_safe(name: &str) {
        assert!(!name.is_empty());
        assert!(name != "." && name != "..");
        assert!(!name.contains('/') && !name.contains('\\'), "{name:?}");
        assert!(!name.chars().any(char::is_control), "{name:?}");
        assert!(!name.starts_with('.') && !name.ends_with('.'), "{name:?}");
        assert!(!name.contains(':'), "{name:?}");
        assert!(name.len() <= MAX_FILE_NAME_BYTES, "{} bytes", name.len());
    }

    #[test]
    fn safe_names() {
        let cases: &[(&str, &str)] = &[
            ("foto.png", "foto.png"),
            ("minha foto (1).png", "minha foto (1).png"),
            ("relatório.pdf", "relatório.pdf"),
            ("../../etc/passwd", "passwd"),
            ("..", FALLBACK_FILE_NAME),
            (".", FALLBACK_FILE_NAME),
            ("...", FALLBACK_FILE_NAME),
            ("", FALLBACK_FILE_NAME),
            ("   ", FALLBACK_FILE_NAME),
            ("/", FALLBACK_FILE_NAME),
            ("dir/", FALLBACK_FILE_NAME),
            ("/etc/shadow", "shadow"),
            ("..\\..\\Windows\\system32\\evil.dll", "evil.dll"),
            ("C:\\Users\\x\\a.txt", "a.txt"),
            ("C:a.txt", "C_a.txt"),
            ("file.txt:stream", "file.txt_stream"),
            ("a\0b.txt", "a_b.txt"),
            ("\0", FALLBACK_FILE_NAME),
            ("a\u{1b}[31mred", "a_[31mred"),
            ("line\nbreak", "line_break"),
            ("CON", "_CON"),
            ("con.txt", "_con.txt"),
            ("nul", "_nul"),
            ("Com1.log", "_Com1.log"),
            ("lpt9", "_lpt9"),
            ("COM10", "COM10"),
            ("console.txt", "console.txt"),
            (".bashrc", "bashrc"),
            ("trailing. . ", "trailing"),
            ("a<b>c|d?e*f\"g", "a_b_c_d_e_f_g"),
            ("gpj\u{202e}exe.scr", "gpj_exe.scr"),
        ];
        for (input, want) in cases {
            let got = safe_file_name(input);
            assert_eq!(&got, want, "{input:?}");
            assert_safe(&got);
        }
    }

    #[test]
    fn long_names_keep_their_extension() {
        let long = format!("{}.tar.gz", "a".repeat(1000));
        let got = safe_file_name(&long);
        assert_eq!(got.len(), MAX_FILE_NAME_BYTES);
        assert!(got.ends_with("a.gz"), "{got}");
        assert_safe(&got);
        // Multi-byte characters are never cut in half.
        let long = format!("{}.txt", "é".repeat(300));
        let got = safe_file_name(&long);
        assert!(got.ends_with(".txt") && got.len() <= MAX_FILE_NAME_BYTES);
        assert_safe(&got);
        // No extension worth keeping.
        let long = "b".repeat(500);
        assert_eq!(safe_file_name(&long).len(), MAX_FILE_NAME_BYTES);
        let long = format!("x.{}", "e".repeat(400));
        assert_safe(&safe_file_name(&long));
    }

    #[test]
    fn every_short_hostile_name_is_safe() {
        // Every name of up to 3 characters from an alphabet of troublemakers.
        let alphabet = [
            '.', '/', '\\', ':', '\0', '\n', ' ', 'a', 'C', '*', '\u{202e}',
        ];
        let mut names = vec![String::new()];
        for _ in 0..3 {
            let mut next = Vec::new();
            for n in &names {
                for c in alphabet {
                    let mut m = n.clone();
                    m.push(c);
                    next.push(m);
                }
            }
            names.extend(next);
        }
        for n in names {
            assert_safe(&safe_file_name(&n));
        }
    }

    #[test]
    fn numbered_names() {
        assert_eq!(numbered_file_name("foto.png", 0), "foto.png");
        assert_eq!(numbered_file_name("foto.png", 1), "foto (1).png");
        assert_eq!(numbered_file_name("a.tar.gz", 2), "a.tar (2).gz");
        assert_eq!(numbered_file_name("README", 3), "README (3)");
        assert_eq!(numbered_file_name("_x", 1), "_x (1)");
    }
}
