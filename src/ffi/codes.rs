//! Return codes and other constants of the C ABI. The values are the
//! numbers of [`crate::ErrorCode`] (a unit test checks every one); they are
//! written as literals so that cbindgen can put them into `papo.h`.

use std::ffi::c_int;

/// Success.
pub const PAPO_OK: c_int = 0;
/// 01 (seed 000): "Esse apelido já está em uso": the nickname is taken
/// (compared case-insensitively: "Ana" and "ana" are the same).
pub const PAPO_ERR_NICK_IN_USE: c_int = 1;
/// 02 (seed 000): "Destino da mensagem privada não existe": the destination
/// of a private message is not online.
pub const PAPO_ERR_NO_SUCH_USER: c_int = 2;
/// 03 (seed 000): "Cancelamento de conexão forçado": the server shut down,
/// dropped this client as a slow consumer, or the connection was lost.
pub const PAPO_ERR_CONNECTION_ABORTED: c_int = 3;
/// 04 (seed 000): "Servidor de destino é inválido": nothing answers at the
/// address, or what answers is not a papo server.
pub const PAPO_ERR_INVALID_SERVER: c_int = 4;
/// 05 (seed 000): "Endereço IP do servidor é inválido": the IP address text
/// is not an IPv4/IPv6 address, or (server) not an address of this machine.
pub const PAPO_ERR_INVALID_ADDRESS: c_int = 5;
/// 06: invalid nickname: empty, too long, reserved (`quit`), with a
/// forbidden character (`:` `/` `\` `*` `,`, whitespace, control), or not
/// UTF-8.
pub const PAPO_ERR_INVALID_NICK: c_int = 6;
/// 07: a line or message longer than the server's limit.
pub const PAPO_ERR_TOO_LONG: c_int = 7;
/// 08: text that is not UTF-8 or contains a control character (other than
/// TAB).
pub const PAPO_ERR_INVALID_TEXT: c_int = 8;
/// 09: an empty message or empty required argument.
pub const PAPO_ERR_EMPTY: c_int = 9;
/// 10: the server did not know a command.
pub const PAPO_ERR_UNKNOWN_COMMAND: c_int = 10;
/// 11: a time limit passed (nothing arrived in time, no reply in time, or
/// the server's registration timeout).
pub const PAPO_ERR_TIMEOUT: c_int = 11;
/// 12: the server holds its maximum number of clients (in all or from this
/// IP address).
pub const PAPO_ERR_SERVER_FULL: c_int = 12;
/// 13 (local): a required pointer argument was NULL.
pub const PAPO_ERR_NULL_ARGUMENT: c_int = 13;
/// 14 (local): the connection is over and its last event was delivered.
pub const PAPO_ERR_CLOSED: c_int = 14;
/// 15 (local): an operating-system I/O error (e.g. the port is taken).
pub const PAPO_ERR_IO: c_int = 15;
/// 16 (local): a panic inside the library was caught at the C boundary; the
/// handle involved should be disconnected.
pub const PAPO_ERR_PANIC: c_int = 16;
/// 17 (local): an argument is out of range or malformed, or a function was
/// called where it is not allowed (inside a wake-up callback).
pub const PAPO_ERR_INVALID_ARGUMENT: c_int = 17;
/// 18 (local): the caller's buffer is too small; `*out_len` holds the size
/// needed.
pub const PAPO_ERR_BUFFER_TOO_SMALL: c_int = 18;
/// 19: the server wants a password and none, or a wrong one, was given
/// (papo_client_config.password; PROTOCOL.md "Password"). Added after 0.1's
/// first eighteen codes.
pub const PAPO_ERR_ACCESS_DENIED: c_int = 19;

/// The default TCP port of a papo server (seed 004).
pub const PAPO_DEFAULT_PORT: u16 = 18000;
/// The TLS port by convention (PROTOCOL.md "TLS"): the plain one plus one.
pub const PAPO_DEFAULT_TLS_PORT: u16 = 18001;
