//! Return codes and other constants of the C ABI.
//!
//! The `PAPO_ERR_*` constants are made from the one table of error codes in
//! `src/error.rs` (`error_table!`): same names, numbers and documentation as
//! [`crate::ErrorCode`]. cbindgen does not expand macros, so `papo.h` gets
//! `PAPO_OK` and the `PAPO_ERR_*` lines from `tests/header.rs`, which writes
//! them from [`crate::ErrorCode::ALL`] (cbindgen.toml excludes `PAPO_OK`
//! here so that it is not written twice).

use std::ffi::c_int;

use crate::error::ErrorCode;

/// Success.
pub const PAPO_OK: c_int = 0;

/// One `pub const PAPO_ERR_<NAME>: c_int` per row of the error table, with
/// the row's documentation.
macro_rules! c_error_constants {
    ($( $(#[doc = $doc:literal])* $num:literal $variant:ident $c_name:ident $text:literal; )*) => {
        $( $(#[doc = $doc])* pub const $c_name: c_int = ErrorCode::$variant as c_int; )*
    };
}

crate::error::error_table!(c_error_constants);

/// The default TCP port of a papo server (seed 004).
pub const PAPO_DEFAULT_PORT: u16 = 18000;
/// The TLS port by convention (PROTOCOL.md "TLS"): the plain one plus one.
pub const PAPO_DEFAULT_TLS_PORT: u16 = 18001;
/// The HTTP port by convention (PROTOCOL.md "HTTP"): the browser client,
/// its WebSocket, /metrics and /healthz. Off unless asked for
/// (papo_server_options_set_http_port()).
pub const PAPO_DEFAULT_HTTP_PORT: u16 = 18080;
