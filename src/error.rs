//! Error codes shared by the wire protocol, the Rust API, the C ABI and the
//! Python bindings.
//!
//! Codes 1 to 5 are the seed's codes 01 to 05 ("Protocolo para bate-papo",
//! seed 000 section 2) and keep their meaning everywhere: on the wire as
//! `ERROR 01 ...`, as the `int` a C function returns, and as a Python
//! exception class. Codes from 6 on are papo's own; codes 6 to 12, 19 and
//! 21 to 24 also travel on the wire, codes 13 to 18 and 20 only exist in the local APIs.
//! `PROTOCOL.md` lists them all.
//!
//! # One table
//!
//! Every code is one row of the macro `error_table!` below: its number, its Rust
//! variant, its C constant, its text and its documentation. Everything else
//! is made from that row:
//!
//! - here: [`ErrorCode`] with its documentation, [`ErrorCode::ALL`],
//!   [`ErrorCode::from_i32`], [`ErrorCode::name`], [`ErrorCode::c_name`],
//!   [`ErrorCode::text`], [`ErrorCode::c_text`] and [`ErrorCode::doc`];
//! - `crate::ffi::codes`: the Rust constants `PAPO_ERR_*` the C ABI returns;
//! - `include/papo.h`: the `#define PAPO_ERR_*` lines and their comments,
//!   written by `tests/header.rs` from [`ErrorCode::ALL`];
//! - the Python bindings: the `PAPO_ERR_*` constants of `papo/_ffi.py` and
//!   the exception classes of `papo/errors.py` (one per code, docstring from
//!   the row), written into marked blocks of those files by the same test.
//!   Python reads the texts at run time from `papo_strerror`.
//!
//! `cargo test --test header` fails when any generated file is stale;
//! `PAPO_BLESS=1 cargo test --test header` rewrites them.

use std::fmt;
use std::io;

/// The table of error codes: the one definition every list of codes is made
/// from (see the module documentation).
///
/// `error_table!(consumer)` calls the macro `consumer!` with every row, in
/// numeric order. A row is
///
/// ```text
/// /// Documentation: the Rust doc of the variant and of the C constant,
/// /// the comment in papo.h and the Python docstring.
/// 1 NickInUse PAPO_ERR_NICK_IN_USE c"Text of papo_strerror and of ERROR lines";
/// ```
///
/// so a consumer matches
/// `$( $(#[doc = $doc:literal])* $num:literal $variant:ident $c_name:ident $text:literal; )*`.
///
/// Rules for a new row: the next number (codes are dense, from 1); a C name
/// that starts with `PAPO_ERR_` (checked when compiling); a text that is
/// UTF-8 with no control characters (it goes on the wire in `ERROR` lines);
/// documentation without Rust links (it is read in C and Python as well)
/// and without `*/`. Codes never change number or name once released.
macro_rules! error_table {
    ($consumer:ident) => {
        $consumer! {
            /// 01 (seed 000): "Esse apelido já está em uso" (nickname already in use).
            /// Compared case-insensitively and up to look-alikes (UTS #39): "Ana", "ana", "аna" are the same
            /// nickname.
            1 NickInUse PAPO_ERR_NICK_IN_USE
                c"Esse apelido já está em uso (nickname already in use)";
            /// 02 (seed 000): "Destino da mensagem privada não existe": the destination of
            /// a private message is not online.
            2 NoSuchUser PAPO_ERR_NO_SUCH_USER
                c"Destino da mensagem privada não existe (no such user online)";
            /// 03 (seed 000): "Cancelamento de conexão forçado" (connection forcibly
            /// cancelled): the server shut down, dropped this client as a slow consumer, or
            /// the connection was lost.
            3 ConnectionAborted PAPO_ERR_CONNECTION_ABORTED
                c"Cancelamento de conexão forçado (connection forcibly cancelled)";
            /// 04 (seed 000): "Servidor de destino é inválido" (invalid server): nothing
            /// answers at the address, or what answers is not a papo server.
            4 InvalidServer PAPO_ERR_INVALID_SERVER
                c"Servidor de destino é inválido (invalid server)";
            /// 05 (seed 000): "Endereço IP do servidor é inválido" (invalid IP address):
            /// the address text is not a valid address, or (for a server) not one this
            /// machine can listen on.
            5 InvalidAddress PAPO_ERR_INVALID_ADDRESS
                c"Endereço IP do servidor é inválido (invalid IP address)";
            /// 06: the nickname is empty, too long, a reserved word (`quit`), not UTF-8, or
            /// contains a forbidden character (`:` `/` `\` `*` `,`, whitespace, a control
            /// character, or an invisible, bidi-control, unassigned or otherwise
            /// PRECIS-disallowed one: RFC 8266).
            6 InvalidNick PAPO_ERR_INVALID_NICK
                c"Apelido inválido (invalid nickname)";
            /// 07: a line or message is longer than the server's limit.
            7 TooLong PAPO_ERR_TOO_LONG
                c"Linha longa demais (line or message too long)";
            /// 08: text that is not UTF-8, or contains a control character other than TAB
            /// or a bidi embedding, override or isolate (U+202A-U+202E, U+2066-U+2069:
            /// "Trojan Source").
            8 InvalidText PAPO_ERR_INVALID_TEXT
                c"Texto inválido (not UTF-8, or contains control characters)";
            /// 09: an empty message, or an empty required argument.
            9 Empty PAPO_ERR_EMPTY
                c"Mensagem vazia (empty message or argument)";
            /// 10: the server did not know a command (`/help` lists them).
            10 UnknownCommand PAPO_ERR_UNKNOWN_COMMAND
                c"Comando desconhecido (unknown command; :text to all, Nick:text to one, /help)";
            /// 11: a time limit passed: nothing arrived in time, no reply came in time, or
            /// the server's registration timeout ran out.
            11 Timeout PAPO_ERR_TIMEOUT
                c"Tempo esgotado (timed out)";
            /// 12: the server holds its maximum number of clients (in all, or from this IP
            /// address).
            12 ServerFull PAPO_ERR_SERVER_FULL
                c"Servidor cheio (server full)";
            /// 13 (local only): a required pointer argument was NULL.
            13 NullArgument PAPO_ERR_NULL_ARGUMENT
                c"NULL argument";
            /// 14 (local only): the handle was already freed by Desconecta_*(), or the
            /// connection is over and every event was delivered; nothing more will come
            /// from this handle.
            14 Closed PAPO_ERR_CLOSED
                c"connection closed; no more events";
            /// 15 (local only): an operating-system I/O error (for example, the server's
            /// port is already taken).
            15 Io PAPO_ERR_IO
                c"I/O error";
            /// 16 (local only): a panic inside the library was caught at the C boundary;
            /// the handle involved should be disconnected.
            16 Panic PAPO_ERR_PANIC
                c"internal panic caught at the C boundary";
            /// 17 (local only): an argument is out of range or malformed, or a function was
            /// called where it is not allowed (inside a wake-up callback).
            17 InvalidArgument PAPO_ERR_INVALID_ARGUMENT
                c"invalid argument";
            /// 18 (local only): the caller's buffer is too small; the size needed is
            /// reported through the function's length out-parameter (`*out_len`).
            18 BufferTooSmall PAPO_ERR_BUFFER_TOO_SMALL
                c"buffer too small";
            /// 19: the server wants a password and the client sent none, or a wrong one,
            /// before its nickname (PROTOCOL.md, "Password"); the server then closes the
            /// connection.
            19 AccessDenied PAPO_ERR_ACCESS_DENIED
                c"Acesso negado (wrong or missing password)";
            /// 20 (local only): the handle belongs to the parent process; a forked child
            /// may not use it. The child's calls on a handle it inherited return this at
            /// once, without touching the handle (its threads did not survive the fork).
            20 Forked PAPO_ERR_FORKED
                c"handle inherited across fork(); only the parent process may use it";
            /// 21: a room message, `/who`, `/topic`, `/kick` or `/op` for a room this client
            /// is not a member of (or that does not exist), `/part` of a room it is not in, or
            /// `/kick` or `/op` of a nickname that is not in the room. Since: 1.1.
            21 NotInRoom PAPO_ERR_NOT_IN_ROOM
                c"Você não está nessa sala (not a member of that room)";
            /// 22: `/topic`, `/kick` or `/op` by a member who is not one of the room's
            /// operators, a server-wide `/kick` by a client that is not a server operator, or
            /// a wrong `/oper` password (the server may have none). Since: 1.1.
            22 NotOperator PAPO_ERR_NOT_OPERATOR
                c"Apenas operadores podem fazer isso (operators only)";
            /// 23: a room name that is not `#` and 1 to 32 characters without whitespace,
            /// control characters, `:` or `,`. Since: 1.1.
            23 InvalidRoom PAPO_ERR_INVALID_ROOM
                c"Nome de sala inválido (invalid room name)";
            /// 24: `/resume` with a token that is not the nickname's current one: stolen,
            /// already used (each token works once), or gone with the grace period or a
            /// server restart. The connection stays at the nickname prompt. Since: 1.1.
            24 ResumeRefused PAPO_ERR_RESUME_REFUSED
                c"Retomada recusada (resume refused: unknown or used token)";
        }
    };
}
pub(crate) use error_table;

/// `"PAPO_ERR_NICK_IN_USE"` -> `"NICK_IN_USE"`, at compile time: a row whose
/// C name lacks the prefix does not compile.
const fn without_c_prefix(c_name: &'static str) -> &'static str {
    const PREFIX: &[u8] = b"PAPO_ERR_";
    let bytes = c_name.as_bytes();
    assert!(
        bytes.len() > PREFIX.len(),
        "an error's C name is PAPO_ERR_<NAME>"
    );
    let mut i = 0;
    while i < PREFIX.len() {
        assert!(
            bytes[i] == PREFIX[i],
            "an error's C name is PAPO_ERR_<NAME>"
        );
        i += 1;
    }
    let (_, rest) = bytes.split_at(PREFIX.len());
    match std::str::from_utf8(rest) {
        Ok(name) => name,
        Err(_) => panic!("an error's C name is ASCII"),
    }
}

/// Makes [`ErrorCode`] and its tables from the rows of `error_table!`.
macro_rules! define_error_code {
    ($( $(#[doc = $doc:literal])* $num:literal $variant:ident $c_name:ident $text:literal; )*) => {
        /// One error code. The numeric value (`code as i32`) is the wire
        /// code and the C return code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(i32)]
        pub enum ErrorCode {
            $( $(#[doc = $doc])* $variant = $num, )*
        }

        impl ErrorCode {
            /// Every code, in numeric order (1, 2, ... with no gap).
            pub const ALL: [ErrorCode; [$($num),*].len()] = [$(ErrorCode::$variant),*];

            /// The code for a number, or `None` when the number is no code.
            pub fn from_i32(n: i32) -> Option<ErrorCode> {
                match n {
                    $( $num => Some(ErrorCode::$variant), )*
                    _ => None,
                }
            }

            /// The name of the C constant, e.g. `"PAPO_ERR_NICK_IN_USE"` (`include/papo.h`,
            /// and the Python bindings' `_ffi`).
            pub fn c_name(self) -> &'static str {
                match self {
                    $( ErrorCode::$variant => stringify!($c_name), )*
                }
            }

            /// The stable symbolic name, as in `papo.h` without the `PAPO_ERR_` prefix
            /// (e.g. `"NICK_IN_USE"`).
            pub fn name(self) -> &'static str {
                match self {
                    $( ErrorCode::$variant => const { without_c_prefix(stringify!($c_name)) }, )*
                }
            }

            /// The human text as a NUL-terminated static string, for `papo_strerror`: the
            /// seed's Portuguese words for 01-05 with an English gloss, and a short text
            /// for the others. The same text as [`ErrorCode::text`].
            pub fn c_text(self) -> &'static std::ffi::CStr {
                match self {
                    $( ErrorCode::$variant => $text, )*
                }
            }

            /// The code's documentation, one string per line: the text of the variant's doc
            /// comment, which is also the comment of its constant in `papo.h` and the
            /// docstring of its Python exception.
            pub fn doc(self) -> String {
                let lines: &[&str] = match self {
                    $( ErrorCode::$variant => &[$($doc),*], )*
                };
                // `/// text` is the attribute `#[doc = " text"]`.
                let lines: Vec<&str> =
                    lines.iter().map(|l| l.strip_prefix(' ').unwrap_or(l)).collect();
                lines.join("\n")
            }
        }
    };
}

error_table!(define_error_code);

impl ErrorCode {
    /// The numeric value, as on the wire (without its leading zero) and in C.
    pub fn as_i32(self) -> i32 {
        self as i32
    }

    /// The human text: the seed's Portuguese words for 01-05 with an
    /// English gloss, and a short English text for the others. This is the
    /// text of `ERROR` lines on the wire and of `papo_strerror`.
    pub fn text(self) -> &'static str {
        // Every text is a UTF-8 literal (the unit tests check each one); the
        // fallback can never be taken.
        self.c_text().to_str().unwrap_or("unknown error")
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02} {}", *self as i32, self.text())
    }
}

/// The error of every fallible papo operation: a code and a detail saying
/// what exactly went wrong.
#[derive(Debug, thiserror::Error)]
#[error("{code}: {detail}")]
pub struct Error {
    code: ErrorCode,
    detail: String,
    #[source]
    source: Option<io::Error>,
}

impl Error {
    /// An error with a code and a detail text.
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Error {
        Error {
            code,
            detail: detail.into(),
            source: None,
        }
    }

    /// An error caused by an I/O error.
    pub fn io(code: ErrorCode, detail: impl Into<String>, source: io::Error) -> Error {
        Error {
            code,
            detail: detail.into(),
            source: Some(source),
        }
    }

    /// The code (1-5 are the seed's 01-05).
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// What exactly went wrong, in English.
    pub fn detail(&self) -> &str {
        &self.detail
    }
}

/// `Result` with papo's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_dense() {
        for (i, c) in ErrorCode::ALL.iter().enumerate() {
            assert_eq!(c.as_i32(), i as i32 + 1);
            assert_eq!(ErrorCode::from_i32(c.as_i32()), Some(*c));
            assert_eq!(c.c_text().to_str().unwrap(), c.text());
        }
        assert_eq!(ErrorCode::from_i32(0), None);
        assert_eq!(ErrorCode::from_i32(ErrorCode::ALL.len() as i32 + 1), None);
    }

    /// The names are part of the C ABI (`PAPO_ERR_*`) and of the Python API;
    /// they never change once released.
    #[test]
    fn names_are_the_released_ones() {
        let names: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(
            names,
            [
                "NICK_IN_USE",
                "NO_SUCH_USER",
                "CONNECTION_ABORTED",
                "INVALID_SERVER",
                "INVALID_ADDRESS",
                "INVALID_NICK",
                "TOO_LONG",
                "INVALID_TEXT",
                "EMPTY",
                "UNKNOWN_COMMAND",
                "TIMEOUT",
                "SERVER_FULL",
                "NULL_ARGUMENT",
                "CLOSED",
                "IO",
                "PANIC",
                "INVALID_ARGUMENT",
                "BUFFER_TOO_SMALL",
                "ACCESS_DENIED",
                "FORKED",
                "NOT_IN_ROOM",
                "NOT_OPERATOR",
                "INVALID_ROOM",
                "RESUME_REFUSED",
            ]
        );
        for c in ErrorCode::ALL {
            assert_eq!(c.c_name(), format!("PAPO_ERR_{}", c.name()));
        }
    }

    /// What every row must hold: its text goes on the wire in an `ERROR`
    /// line, its documentation into C comments and Python docstrings.
    #[test]
    fn every_row_has_a_wire_safe_text_and_a_portable_doc() {
        for c in ErrorCode::ALL {
            let text = c.text();
            assert!(!text.is_empty(), "{c:?}");
            assert!(!text.chars().any(char::is_control), "{c:?}: {text:?}");
            let doc = c.doc();
            assert!(
                doc.starts_with(&format!("{:02}", c.as_i32())),
                "{c:?}: the doc starts with the two-digit code: {doc:?}"
            );
            assert!(
                !doc.contains("*/") && !doc.contains("\"\"\""),
                "{c:?}: {doc:?}"
            );
            assert!(
                !doc.contains("](") && !doc.contains("[`"),
                "{c:?}: no Rust links"
            );
            assert!(!doc.lines().any(|l| l.starts_with(' ')), "{c:?}: {doc:?}");
        }
        assert!(ErrorCode::InvalidNick.doc().contains("`\\`"));
        let doc = ErrorCode::NickInUse.doc();
        assert!(
            doc.lines().count() == 3 && doc.ends_with("\nnickname."),
            "{doc:?}"
        );
    }

    #[test]
    fn display_shows_two_digit_code() {
        assert!(ErrorCode::NickInUse.to_string().starts_with("01 "));
        let e = Error::new(ErrorCode::NoSuchUser, "bob is not online");
        assert!(e.to_string().starts_with("02 "));
        assert!(e.to_string().ends_with("bob is not online"));
    }
}
