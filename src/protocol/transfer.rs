//! File transfer and binary payloads on the wire (PROTOCOL.md, "Files and
//! binary payloads"): the client commands that carry a byte-counted payload
//! after their line, the server lines that announce one, and the rule that
//! reduces an announced file name to a safe base name.
//!
//! A payload frame is a text line that announces `n`, followed by exactly
//! `n` bytes of anything (NUL, LF, invalid UTF-8), as NATS does with
//! `PUB subject size\r\n<payload>\r\n`. The server ends each payload it
//! sends with one extra LF, which a reader takes for an empty line (the
//! client ignores empty lines, and so does the server, so a client may end
//! its payloads with a LF too, as a person typing into `nc` does).

use crate::error::ErrorCode;

/// The name given to a received file whose announced name has nothing safe
/// left in it ("arquivo" is Portuguese for "file", as in seed 002).
pub const FALLBACK_FILE_NAME: &str = "arquivo";

/// Longest file name [`safe_file_name`] produces, in bytes (most file
/// systems allow 255; the rest leaves room for ` (123)` when the name is
/// taken).
pub const MAX_FILE_NAME_BYTES: usize = 200;

/// A transfer command of a registered client, as the server reads it. Every
/// one of them starts with `/`, so none can be mistaken for a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferCommand<'a> {
    /// `/bytes <to|*> <size>` + LF + `size` bytes: a binary message to `to`
    /// (`None`: everyone else online). The destination is not checked here.
    Bytes {
        /// The destination nickname, or `None` for `*`.
        to: Option<&'a str>,
        /// Payload bytes that follow the line.
        size: u64,
    },
    /// `/file <to|*> <size> :<name>`: offers a file of `size` bytes; the
    /// server answers `FILEOK <id>` with the transfer's number.
    File {
        /// The destination nickname, or `None` for `*` (everyone else).
        to: Option<&'a str>,
        /// The file's size in bytes, announced up front.
        size: u64,
        /// The file's name as the sender wrote it (checked for control
        /// characters; receivers reduce it with [`safe_file_name`]).
        name: &'a str,
    },
    /// `/chunk <id> <n>` + LF + `n` bytes: the next bytes of file `id`.
    Chunk {
        /// The transfer's number, from `FILEOK`.
        id: u64,
        /// Payload bytes that follow the line.
        size: u64,
    },
    /// `/fileend <id>`: every byte of file `id` was sent.
    FileEnd {
        /// The transfer's number.
        id: u64,
    },
    /// `/fileabort <id>`: the sender gives up file `id`.
    FileAbort {
        /// The transfer's number.
        id: u64,
    },
}

impl TransferCommand<'_> {
    /// Payload bytes that follow this command's line (0 for the commands
    /// that carry none).
    pub fn payload_size(&self) -> u64 {
        match self {
            TransferCommand::Bytes { size, .. } | TransferCommand::Chunk { size, .. } => *size,
            _ => 0,
        }
    }
}

/// Reads a decimal number of at most 20 digits (no sign, no spaces).
pub fn parse_number(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn destination(word: &str) -> Option<&str> {
    if word == "*" {
        None
    } else {
        Some(word)
    }
}

/// Reads a client line if it is a transfer command (`/bytes`, `/file`,
/// `/chunk`, `/fileend`, `/fileabort`, any case); `None` for every other
/// line, which [`super::parse_command`] reads.
///
/// Errors: 10 `UnknownCommand` for missing or malformed arguments (a size
/// or number that is not a plain decimal number, extra words); for `/file`
/// also 09 `Empty` when the name is missing or blank and 08 `InvalidText`
/// when it holds a control character. When `/bytes` or `/chunk` cannot be
/// read, the size of its payload is unknown, so whatever follows is read as
/// lines.
pub fn parse_transfer_command(line: &str) -> Option<Result<TransferCommand<'_>, ErrorCode>> {
    let rest = line.trim_start().strip_prefix('/')?;
    let (head, trailing) = match rest.split_once(" :") {
        Some((h, t)) => (h, Some(t)),
        None => (rest, None),
    };
    let mut words = head.split_whitespace();
    let name = words.next()?.to_ascii_lowercase();
    if !matches!(
        name.as_str(),
        "bytes" | "file" | "chunk" | "fileend" | "fileabort"
    ) {
        return None;
    }
    let args: Vec<&str> = words.collect();
    let bad = Err(ErrorCode::UnknownCommand);
    let number = |i: usize| args.get(i).and_then(|w| parse_number(w));
    Some(match (name.as_str(), args.len()) {
        ("bytes", 2) if trailing.is_none() => match number(1) {
            Some(size) => args
                .first()
                .map(|to| TransferCommand::Bytes {
                    to: destination(to),
                    size,
                })
                .ok_or(ErrorCode::UnknownCommand),
            None => bad,
        },
        ("file", 2) => {
            let (Some(to), Some(size)) = (args.first(), number(1)) else {
                return Some(bad);
            };
            let Some(name) = trailing.filter(|n| !n.trim().is_empty()) else {
                return Some(Err(ErrorCode::Empty));
            };
            if name.chars().any(char::is_control) {
                return Some(Err(ErrorCode::InvalidText));
            }
            Ok(TransferCommand::File {
                to: destination(to),
                size,
                name,
            })
        }
        ("chunk", 2) if trailing.is_none() => match (number(0), number(1)) {
            (Some(id), Some(size)) => Ok(TransferCommand::Chunk { id, size }),
            _ => bad,
        },
        ("fileend", 1) if trailing.is_none() => match number(0) {
            Some(id) => Ok(TransferCommand::FileEnd { id }),
            None => bad,
        },
        ("fileabort", 1) => match number(0) {
            Some(id) => Ok(TransferCommand::FileAbort { id }),
            None => bad,
        },
        _ => bad,
    })
}

/// The payload size announced by a server line (`CHUNK <id> <n>` or
/// `BYTES <from> <n> ...`), if it is one of those: a reader must take the
/// next `n` bytes as payload (then one LF).
pub fn server_payload_size(line: &str) -> Option<u64> {
    let mut words = line.split(' ');
    match words.next()? {
        "CHUNK" => {
            words.next()?;
            parse_number(words.next()?)
        }
        "BYTES" => {
            words.next()?;
            parse_number(words.next()?)
        }
        _ => None,
    }
}

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

/// Encoders for the server's transfer lines (PROTOCOL.md, "Files and binary
/// payloads"). Each appends one whole line, LF included; the ones that
/// announce a payload are followed by the payload and one LF, which the
/// caller appends.
pub mod encode {
    fn push(out: &mut Vec<u8>, parts: &[&str]) {
        for p in parts {
            out.extend_from_slice(p.as_bytes());
        }
        out.push(b'\n');
    }

    /// `FILEOK <id> :...`: the file was accepted; send its chunks.
    pub fn file_ok(out: &mut Vec<u8>, id: u64) {
        push(
            out,
            &[
                "FILEOK ",
                &id.to_string(),
                " :Arquivo aceito, envie os blocos (file accepted, send the chunks)",
            ],
        );
    }

    /// `FILEACK <id> <bytes>`: the server has taken (and forwarded) `bytes`
    /// bytes of file `id` so far.
    pub fn file_ack(out: &mut Vec<u8>, id: u64, bytes: u64) {
        push(out, &["FILEACK ", &id.to_string(), " ", &bytes.to_string()]);
    }

    /// `FILEDONE <id> :...`: every byte of file `id` was forwarded.
    pub fn file_done(out: &mut Vec<u8>, id: u64) {
        push(
            out,
            &[
                "FILEDONE ",
                &id.to_string(),
                " :Arquivo enviado (file sent)",
            ],
        );
    }

    /// `FILESTOP <id> :<reason>`: the server stopped file `id`; later
    /// chunks of it are thrown away.
    pub fn file_stop(out: &mut Vec<u8>, id: u64, reason: &str) {
        push(out, &["FILESTOP ", &id.to_string(), " :", reason]);
    }

    /// `FILE <from> <id> <size> [private] :<name>`: a file is coming.
    pub fn file(out: &mut Vec<u8>, from: &str, id: u64, size: u64, private: bool, name: &str) {
        push(
            out,
            &[
                "FILE ",
                from,
                " ",
                &id.to_string(),
                " ",
                &size.to_string(),
                if private { " private :" } else { " :" },
                name,
            ],
        );
    }

    /// `CHUNK <id> <n>`: `n` bytes of file `id` follow (then one LF).
    pub fn chunk(out: &mut Vec<u8>, id: u64, n: u64) {
        push(out, &["CHUNK ", &id.to_string(), " ", &n.to_string()]);
    }

    /// `FILEEND <id>`: file `id` is complete.
    pub fn file_end(out: &mut Vec<u8>, id: u64) {
        push(out, &["FILEEND ", &id.to_string()]);
    }

    /// `FILEFAIL <id> :<reason>`: file `id` will not be completed; throw
    /// away what arrived of it.
    pub fn file_fail(out: &mut Vec<u8>, id: u64, reason: &str) {
        push(out, &["FILEFAIL ", &id.to_string(), " :", reason]);
    }

    /// `BYTES <from> <n> [private]`: a binary message of `n` bytes follows
    /// (then one LF).
    pub fn bytes(out: &mut Vec<u8>, from: &str, n: u64, private: bool) {
        push(
            out,
            &[
                "BYTES ",
                from,
                " ",
                &n.to_string(),
                if private { " private" } else { "" },
            ],
        );
    }

    /// The `HELP` text of the transfer commands.
    pub const HELP_LINES: [&str; 4] = [
        "/bytes Apelido|* N   N bytes binários seguem a linha (N binary bytes follow the line)",
        "/file Apelido|* N :nome   oferece um arquivo de N bytes; resposta FILEOK id (offer a file)",
        "/chunk id N          N bytes do arquivo id seguem a linha (N bytes of file id follow)",
        "/fileend id, /fileabort id   fim do arquivo, ou desistir (file complete, or give up)",
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands() {
        use TransferCommand::*;
        let p = parse_transfer_command;
        assert_eq!(p("/bytes * 12"), Some(Ok(Bytes { to: None, size: 12 })));
        assert_eq!(
            p("/BYTES bob 0"),
            Some(Ok(Bytes {
                to: Some("bob"),
                size: 0
            }))
        );
        assert_eq!(
            p("/file * 1024 :minha foto.png"),
            Some(Ok(File {
                to: None,
                size: 1024,
                name: "minha foto.png"
            }))
        );
        assert_eq!(
            p("/file bob 5 :../../a:b"),
            Some(Ok(File {
                to: Some("bob"),
                size: 5,
                name: "../../a:b"
            }))
        );
        assert_eq!(p("/chunk 7 65536"), Some(Ok(Chunk { id: 7, size: 65536 })));
        assert_eq!(p("/fileend 7"), Some(Ok(FileEnd { id: 7 })));
        assert_eq!(p("/fileabort 7"), Some(Ok(FileAbort { id: 7 })));
        assert_eq!(p("/fileabort 7 :tchau"), Some(Ok(FileAbort { id: 7 })));
        assert_eq!(Chunk { id: 1, size: 9 }.payload_size(), 9);
        assert_eq!(FileEnd { id: 1 }.payload_size(), 0);
        // Not transfer commands.
        for other in [
            "/list",
            "/nick x",
            ":text",
            "bob:/bytes * 3",
            "/filer 1",
            "",
        ] {
            assert_eq!(p(other), None, "{other:?}");
        }
        // Malformed.
        for bad in [
            "/bytes",
            "/bytes *",
            "/bytes * -1",
            "/bytes * +1",
            "/bytes * 0x10",
            "/bytes * 1 2",
            "/bytes * 123456789012345678901",
            "/bytes * 99999999999999999999",
            "/chunk 1",
            "/chunk x 1",
            "/fileend",
            "/fileend 1 2",
            "/file * x :a",
        ] {
            assert_eq!(p(bad), Some(Err(ErrorCode::UnknownCommand)), "{bad:?}");
        }
        assert_eq!(p("/file * 3"), Some(Err(ErrorCode::Empty)));
        assert_eq!(p("/file * 3 :  "), Some(Err(ErrorCode::Empty)));
        assert_eq!(
            p("/file * 3 :a\u{1b}[2Jb"),
            Some(Err(ErrorCode::InvalidText))
        );
        assert_eq!(p("/file * 3 :a\0b"), Some(Err(ErrorCode::InvalidText)));
    }

    #[test]
    fn payload_headers_from_the_server() {
        assert_eq!(server_payload_size("CHUNK 3 65536"), Some(65536));
        assert_eq!(server_payload_size("BYTES ana 0"), Some(0));
        assert_eq!(server_payload_size("BYTES ana 17 private"), Some(17));
        assert_eq!(server_payload_size("PUBLIC ana :CHUNK 3 4"), None);
        assert_eq!(server_payload_size("CHUNK 3"), None);
        assert_eq!(server_payload_size("CHUNK 3 x"), None);
        assert_eq!(server_payload_size("FILE ana 3 4 :x"), None);
    }

    #[test]
    fn encoders() {
        let mut b = Vec::new();
        encode::file(&mut b, "ana", 3, 10, false, "a b.txt");
        encode::file(&mut b, "ana", 4, 0, true, "x");
        encode::chunk(&mut b, 3, 10);
        encode::bytes(&mut b, "ana", 5, true);
        encode::bytes(&mut b, "ana", 5, false);
        encode::file_end(&mut b, 3);
        encode::file_fail(&mut b, 3, "o remetente saiu (sender left)");
        encode::file_ack(&mut b, 3, 65536);
        encode::file_stop(&mut b, 3, "why");
        let text = String::from_utf8(b).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "FILE ana 3 10 :a b.txt");
        assert_eq!(lines[1], "FILE ana 4 0 private :x");
        assert_eq!(lines[2], "CHUNK 3 10");
        assert_eq!(lines[3], "BYTES ana 5 private");
        assert_eq!(lines[4], "BYTES ana 5");
        assert_eq!(lines[5], "FILEEND 3");
        assert_eq!(lines[6], "FILEFAIL 3 :o remetente saiu (sender left)");
        assert_eq!(lines[7], "FILEACK 3 65536");
        assert_eq!(lines[8], "FILESTOP 3 :why");
        let mut ok = Vec::new();
        encode::file_ok(&mut ok, 42);
        encode::file_done(&mut ok, 42);
        let ok = String::from_utf8(ok).unwrap();
        assert!(ok.starts_with("FILEOK 42 :"));
        assert!(ok.contains("\nFILEDONE 42 :"));
    }

    #[test]
    fn server_lines_parse() {
        use crate::protocol::{parse_server_line, ServerLine};
        let mut b = Vec::new();
        encode::file_ok(&mut b, 42);
        encode::file_ack(&mut b, 42, 1 << 40);
        encode::file_done(&mut b, 42);
        encode::file_stop(&mut b, 42, "o destinatário saiu: bob");
        encode::file(&mut b, "ana", 42, 7, true, " a : b ");
        encode::file(&mut b, "ana", 43, 7, false, "x");
        encode::chunk(&mut b, 42, 7);
        encode::file_end(&mut b, 42);
        encode::file_fail(&mut b, 42, "");
        encode::bytes(&mut b, "ana", 3, true);
        encode::bytes(&mut b, "ana", 3, false);
        let text = String::from_utf8(b).unwrap();
        let got: Vec<ServerLine> = text
            .lines()
            .map(|l| parse_server_line(l).unwrap())
            .collect();
        assert_eq!(
            got,
            vec![
                ServerLine::FileOk { id: 42 },
                ServerLine::FileAck {
                    id: 42,
                    bytes: 1 << 40
                },
                ServerLine::FileDone { id: 42 },
                ServerLine::FileStop {
                    id: 42,
                    reason: "o destinatário saiu: bob"
                },
                ServerLine::File {
                    from: "ana",
                    id: 42,
                    size: 7,
                    private: true,
                    name: " a : b "
                },
                ServerLine::File {
                    from: "ana",
                    id: 43,
                    size: 7,
                    private: false,
                    name: "x"
                },
                ServerLine::Chunk { id: 42, size: 7 },
                ServerLine::FileEnd { id: 42 },
                ServerLine::FileFail { id: 42, reason: "" },
                ServerLine::Bytes {
                    from: "ana",
                    size: 3,
                    private: true
                },
                ServerLine::Bytes {
                    from: "ana",
                    size: 3,
                    private: false
                },
            ]
        );
        for bad in [
            "FILEOK",
            "FILEOK x",
            "CHUNK 1",
            "CHUNK 1 -2",
            "FILE ana 1 2",
            "BYTES ana",
        ] {
            assert!(parse_server_line(bad).is_err(), "{bad:?}");
        }
    }

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
