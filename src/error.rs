//! Error codes shared by the wire protocol, the Rust API, the C ABI and the
//! Python bindings.
//!
//! Codes 1 to 5 are the seed's codes 01 to 05 ("Protocolo para bate-papo",
//! seed 000 section 2) and keep their meaning everywhere: on the wire as
//! `ERROR 01 ...`, as the `int` a C function returns, and as a Python
//! exception class. Codes from 6 on are papo's own; codes 6 to 12 and 19
//! also travel on the wire, codes 13 to 18 only exist in the local APIs.
//! `PROTOCOL.md` lists them all.

use std::fmt;
use std::io;

/// One error code. The numeric value (`code as i32`) is the wire code and
/// the C return code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum ErrorCode {
    /// 01, seed 000: "Esse apelido já está em uso" (nickname already in use).
    /// Nicknames are compared case-insensitively.
    NickInUse = 1,
    /// 02, seed 000: "Destino da mensagem privada não existe" (the
    /// destination of a private message is not online).
    NoSuchUser = 2,
    /// 03, seed 000: "Cancelamento de conexão forçado" (connection forcibly
    /// cancelled): the server shut down, dropped a slow consumer, or the
    /// connection was lost.
    ConnectionAborted = 3,
    /// 04, seed 000: "Servidor de destino é inválido": nothing answers at
    /// the address, or what answers is not a papo server.
    InvalidServer = 4,
    /// 05, seed 000: "Endereço IP do servidor é inválido": the address
    /// string is not a valid IP address (or it cannot be bound by a server).
    InvalidAddress = 5,
    /// 06: the nickname is empty, too long, a reserved word, or contains a
    /// forbidden character (`:` `/` `\` `*` `,`, whitespace, control).
    InvalidNick = 6,
    /// 07: a line or message is longer than the server's limit.
    TooLong = 7,
    /// 08: text that is not UTF-8 or contains control characters
    /// (other than TAB).
    InvalidText = 8,
    /// 09: an empty message, or an empty required argument.
    Empty = 9,
    /// 10: a line that is no known command (see `/help`).
    UnknownCommand = 10,
    /// 11: a time limit passed (the server's registration timeout, or a
    /// local wait for a reply or an event).
    Timeout = 11,
    /// 12: the server holds its maximum number of clients (in all or from
    /// this IP address).
    ServerFull = 12,
    /// 13 (local only): a required pointer argument was NULL.
    NullArgument = 13,
    /// 14 (local only): the connection is over and every event has been
    /// delivered; nothing more will come from this handle.
    Closed = 14,
    /// 15 (local only): an operating-system I/O error.
    Io = 15,
    /// 16 (local only): a panic inside the library was caught at the C
    /// boundary; the handle involved should be disconnected.
    Panic = 16,
    /// 17 (local only): an argument is out of range or malformed.
    InvalidArgument = 17,
    /// 18 (local only): the caller's buffer is too small; the size needed
    /// is reported through the function's length out-parameter.
    BufferTooSmall = 18,
    /// 19: the server wants a password (`ServerConfig::password`) and the
    /// client sent none, or a wrong one, before its nickname
    /// (PROTOCOL.md, "Password"); the server then closes the connection.
    AccessDenied = 19,
}

impl ErrorCode {
    /// Every code, in numeric order.
    pub const ALL: [ErrorCode; 19] = [
        ErrorCode::NickInUse,
        ErrorCode::NoSuchUser,
        ErrorCode::ConnectionAborted,
        ErrorCode::InvalidServer,
        ErrorCode::InvalidAddress,
        ErrorCode::InvalidNick,
        ErrorCode::TooLong,
        ErrorCode::InvalidText,
        ErrorCode::Empty,
        ErrorCode::UnknownCommand,
        ErrorCode::Timeout,
        ErrorCode::ServerFull,
        ErrorCode::NullArgument,
        ErrorCode::Closed,
        ErrorCode::Io,
        ErrorCode::Panic,
        ErrorCode::InvalidArgument,
        ErrorCode::BufferTooSmall,
        ErrorCode::AccessDenied,
    ];

    /// The code for a number, or `None` when the number is no code.
    pub fn from_i32(n: i32) -> Option<ErrorCode> {
        ErrorCode::ALL.iter().copied().find(|c| *c as i32 == n)
    }

    /// The numeric value, as on the wire (without its leading zero) and in C.
    pub fn as_i32(self) -> i32 {
        self as i32
    }

    /// The stable symbolic name, as in `papo.h` without the `PAPO_ERR_`
    /// prefix (e.g. `"NICK_IN_USE"`).
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::NickInUse => "NICK_IN_USE",
            ErrorCode::NoSuchUser => "NO_SUCH_USER",
            ErrorCode::ConnectionAborted => "CONNECTION_ABORTED",
            ErrorCode::InvalidServer => "INVALID_SERVER",
            ErrorCode::InvalidAddress => "INVALID_ADDRESS",
            ErrorCode::InvalidNick => "INVALID_NICK",
            ErrorCode::TooLong => "TOO_LONG",
            ErrorCode::InvalidText => "INVALID_TEXT",
            ErrorCode::Empty => "EMPTY",
            ErrorCode::UnknownCommand => "UNKNOWN_COMMAND",
            ErrorCode::Timeout => "TIMEOUT",
            ErrorCode::ServerFull => "SERVER_FULL",
            ErrorCode::NullArgument => "NULL_ARGUMENT",
            ErrorCode::Closed => "CLOSED",
            ErrorCode::Io => "IO",
            ErrorCode::Panic => "PANIC",
            ErrorCode::InvalidArgument => "INVALID_ARGUMENT",
            ErrorCode::BufferTooSmall => "BUFFER_TOO_SMALL",
            ErrorCode::AccessDenied => "ACCESS_DENIED",
        }
    }

    /// The human text: the seed's Portuguese words for 01-05 with an
    /// English gloss, and a short English text for the others. This is the
    /// text of `ERROR` lines on the wire and of `papo_strerror`.
    pub fn text(self) -> &'static str {
        // Every text is a UTF-8 literal; the fallback can never be taken.
        self.c_text().to_str().unwrap_or("unknown error")
    }

    /// The same text as a NUL-terminated static string, for `papo_strerror`
    /// (the one table both are read from).
    pub fn c_text(self) -> &'static std::ffi::CStr {
        match self {
            ErrorCode::NickInUse => c"Esse apelido já está em uso (nickname already in use)",
            ErrorCode::NoSuchUser => {
                c"Destino da mensagem privada não existe (no such user online)"
            }
            ErrorCode::ConnectionAborted => {
                c"Cancelamento de conexão forçado (connection forcibly cancelled)"
            }
            ErrorCode::InvalidServer => c"Servidor de destino é inválido (invalid server)",
            ErrorCode::InvalidAddress => c"Endereço IP do servidor é inválido (invalid IP address)",
            ErrorCode::InvalidNick => c"Apelido inválido (invalid nickname)",
            ErrorCode::TooLong => c"Linha longa demais (line or message too long)",
            ErrorCode::InvalidText => c"Texto inválido (not UTF-8, or contains control characters)",
            ErrorCode::Empty => c"Mensagem vazia (empty message or argument)",
            ErrorCode::UnknownCommand => {
                c"Comando desconhecido (unknown command; :text to all, Nick:text to one, /help)"
            }
            ErrorCode::Timeout => c"Tempo esgotado (timed out)",
            ErrorCode::ServerFull => c"Servidor cheio (server full)",
            ErrorCode::NullArgument => c"NULL argument",
            ErrorCode::Closed => c"connection closed; no more events",
            ErrorCode::Io => c"I/O error",
            ErrorCode::Panic => c"internal panic caught at the C boundary",
            ErrorCode::InvalidArgument => c"invalid argument",
            ErrorCode::BufferTooSmall => c"buffer too small",
            ErrorCode::AccessDenied => c"Acesso negado (wrong or missing password)",
        }
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
        assert_eq!(ErrorCode::from_i32(20), None);
    }

    #[test]
    fn display_shows_two_digit_code() {
        assert!(ErrorCode::NickInUse.to_string().starts_with("01 "));
        let e = Error::new(ErrorCode::NoSuchUser, "bob is not online");
        assert!(e.to_string().starts_with("02 "));
        assert!(e.to_string().ends_with("bob is not online"));
    }
}
