//! The papo wire protocol: pure parsing and encoding, no I/O.
//!
//! Line-based UTF-8 text over TCP, one line per message, ended by LF (a CR
//! before the LF is dropped). A person can speak it with `nc`, using the
//! vocabulary of seed 000 section 2: `:text` to everyone, `Nick:text` to
//! one person, `quit` to leave. `PROTOCOL.md` is the full description; this
//! module is its executable form, shared by the server and the client:
//!
//! - [`ClientLine`]: every line a client sends, parsed (by the grammar of
//!   the connection's [`Stage`]) and encoded in one place;
//! - [`ServerLine`]: every line a server sends, parsed and encoded in one
//!   place;
//! - [`LineBuffer`]: framing, bytes in, lines and byte-counted payloads out;
//! - the rules for nicknames, text and labels ([`validate_nick`],
//!   [`validate_text`], [`split_label`]) and for the names of received
//!   files ([`safe_file_name`]).
//!
//! Nothing here uses the server, the client or the C ABI.

mod client_line;
mod file_name;
mod framing;
mod names;
mod server_line;

pub use client_line::{ClientLine, Labeled, Stage};
pub use file_name::{numbered_file_name, safe_file_name, FALLBACK_FILE_NAME, MAX_FILE_NAME_BYTES};
pub use framing::{Frame, LineBuffer, LineEvent, Next};
pub use names::{
    is_label, is_quit_word, label_len, nick_fold, nick_key, parse_number, room_key, split_label,
    strip_cr, validate_nick, validate_room, validate_text, BIDI_REORDERING, DEFAULT_MAX_NICK_CHARS,
    FORBIDDEN_NICK_CHARS, LABEL_MARK, LABEL_ROOM, MAX_LABEL_BYTES, MAX_ROOM_CHARS, RESERVED_NICKS,
    ROOM_MARK,
};
pub use server_line::{
    error_text, ClusterState, HistoryKind, LineParseError, PresenceChange, ServerLine, Tag,
    HELP_LINES, PAYLOAD_END, PROTOCOL_NAME,
};

/// The default TCP port (seed 004: "PORTA: 18000").
pub const DEFAULT_PORT: u16 = 18000;

/// The TLS port by convention (PROTOCOL.md "TLS"): the plain port plus one.
pub const DEFAULT_TLS_PORT: u16 = 18001;

/// Default maximum length of one line, in bytes, without its LF.
pub const DEFAULT_MAX_LINE_BYTES: usize = 4096;
