//! The five functions of the seed's chat API (seed 000 section 4, "API do
//! Chat"), with their original names.

use std::ffi::{c_char, c_int};

use super::boundary;
use super::client::{self, papo_client};
use super::server::{self, papo_server};
use crate::config::{ClientConfig, ServerConfig};

/// Starts a chat server on `ip`:`port` with the default limits (seed 000
/// section 4: "the user gives an IP address and a port on which the server
/// waits for new connections"). The same as papo_server_start_with(ip, port,
/// NULL, out_server).
///
/// Arguments: `ip`: a local address as text: IPv4, IPv6 with or without
/// brackets, or a host name such as "localhost" (as for
/// papo_server_start_with()); NULL or "" means "127.0.0.1" (copied); `port`:
/// TCP port, 0 picks a free one (see papo_server_port()); `out_server`:
/// receives the handle on success, to be freed with Desconecta_Servidor().
///
/// Errors: PAPO_ERR_INVALID_ADDRESS (05: neither an IP address nor a host
/// name, a name that does not resolve within 5 s, or not an address of
/// this machine); PAPO_ERR_IO (port taken); PAPO_ERR_INVALID_TEXT (ip not
/// UTF-8); PAPO_ERR_NULL_ARGUMENT (out_server NULL); PAPO_ERR_PANIC.
///
/// Thread safety: may be called from any thread.
///
/// Since: 0.1.
///
/// # Safety
/// Every pointer is NULL or valid; `ip` is NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn Conecta_Servidor(
    ip: *const c_char,
    port: u16,
    out_server: *mut *mut papo_server,
) -> c_int {
    // SAFETY: forwarded contract.
    boundary(|| unsafe { server::start(ip, port, || Ok(ServerConfig::default()), out_server) })
}

/// Connects to the chat server at `ip`:`port` and registers the nickname
/// `apelido`, with the default settings (seed 000 section 4 and client
/// manual). The same as papo_client_connect_with(ip, port, apelido, NULL,
/// out_client), see it for the arguments, except that it never reconnects
/// by itself (the seed's client: a lost connection ends with
/// PAPO_EVENT_DISCONNECTED, 03; since 1.1 papo_client_connect_with()
/// reconnects, see papo_client_options_set_reconnect()).
///
/// Errors: PAPO_ERR_NICK_IN_USE (01); PAPO_ERR_INVALID_SERVER (04: nothing
/// answers, or not a papo server); PAPO_ERR_INVALID_ADDRESS (05: neither an
/// IP address nor a host name, or the name does not resolve);
/// PAPO_ERR_INVALID_NICK (06); PAPO_ERR_SERVER_FULL (12);
/// PAPO_ERR_CONNECTION_ABORTED (03); PAPO_ERR_INVALID_TEXT (ip not UTF-8);
/// PAPO_ERR_NULL_ARGUMENT (apelido or out_client NULL);
/// PAPO_ERR_INVALID_ARGUMENT (inside a wake-up callback; see
/// papo_client_set_wakeup()); PAPO_ERR_PANIC.
///
/// Thread safety: may be called from any thread, but not inside a wake-up
/// callback; blocks up to 5 s.
///
/// Since: 0.1.
///
/// # Safety
/// Every pointer is NULL or valid; strings are NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn Conecta_cliente(
    ip: *const c_char,
    port: u16,
    apelido: *const c_char,
    out_client: *mut *mut papo_client,
) -> c_int {
    boundary(|| {
        // SAFETY: forwarded contract.
        unsafe {
            client::connect(
                ip,
                port,
                apelido,
                // The seed's client: a lost connection is its end (03),
                // as the seed describes; papo_client_connect_with()
                // reconnects by itself.
                || {
                    Ok(ClientConfig {
                        reconnect: false,
                        ..ClientConfig::default()
                    })
                },
                out_client,
            )
        }
    })
}

/// Sends `mensagem` to `destino` (seed 000 section 4,
/// `Conecta_cliente.enviar_Msg(Destino, mensagem)`).
///
/// Arguments:
/// - `destino`: NULL or "" sends a public message to everyone else online
///   (`:mensagem`); otherwise the nickname of the one receiver of a private
///   message (`Destino:mensagem`), who sees "Mensagem recebida de: " and your nickname.
/// - `mensagem`: UTF-8 text without control characters (TAB allowed), not
///   empty, at most the server's line limit (4096 bytes by default, counting
///   the destination and the ':').
///
/// Both are copied. A private message returns once the server confirmed
/// delivery (0 is the seed's "Mensagem enviada") or refused it (02); a
/// public one returns once written to the socket.
///
/// Errors: PAPO_ERR_NO_SUCH_USER (02: destino is not online);
/// PAPO_ERR_CONNECTION_ABORTED (03: the connection was lost or the server
/// shut down); PAPO_ERR_INVALID_NICK (06: destino not UTF-8 or cannot be a
/// nickname); PAPO_ERR_TOO_LONG (07); PAPO_ERR_INVALID_TEXT (08: not UTF-8
/// or a control character); PAPO_ERR_EMPTY (09); PAPO_ERR_TIMEOUT (no
/// answer within reply_timeout_ms); PAPO_ERR_NULL_ARGUMENT (client or
/// mensagem NULL); PAPO_ERR_INVALID_ARGUMENT (a private message inside a
/// wake-up callback: it waits for the server's answer; see
/// papo_client_set_wakeup()); PAPO_ERR_CLOSED, PAPO_ERR_FORKED (see
/// "Handles"); PAPO_ERR_PANIC.
///
/// Thread safety: may be called from any thread, concurrently with every
/// other function on the same client. Inside a
/// wake-up callback only public messages may be sent.
///
/// Since: 0.1.
///
/// # Safety
/// Every pointer is NULL or valid; strings are NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn enviar_Msg(
    client: *mut papo_client,
    destino: *const c_char,
    mensagem: *const c_char,
) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { client::send(client, destino, mensagem) }
}

/// Stops the server and frees its handle (seed 000 section 4): every client
/// is sent error 03 ("Cancelamento de conexão forçado") and closed, the I/O
/// threads end and the port is released before this returns. In order: the
/// handle stops being live (calls that begin afterwards, on any thread,
/// return PAPO_ERR_CLOSED), the server stops (a papo_server_wait_event() in
/// progress returns at once with PAPO_ERR_CLOSED), calls still in progress
/// on other threads are waited for, and the handle is freed. The last
/// papo_server_event becomes invalid. NULL is a no-op.
///
/// Returns: 0; PAPO_ERR_CLOSED (the handle was already freed, or is not a
/// server handle: nothing is done, nothing crashes); PAPO_ERR_FORKED (in a
/// forked child, on a handle of the parent: nothing is done, the handle is
/// left alone and never freed in the child); PAPO_ERR_PANIC.
///
/// Thread safety: may be called from any thread, also while other threads
/// use the same handle (they get PAPO_ERR_CLOSED or finish first).
///
/// Since: 0.1 (1.0: a freed or foreign handle is PAPO_ERR_CLOSED instead of
/// undefined behaviour).
#[no_mangle]
pub extern "C" fn Desconecta_Servidor(server: *mut papo_server) -> c_int {
    server::destroy(server)
}

/// Leaves the chat and frees the client handle (seed 000 section 4): sends
/// `quit`, closes the connection and ends the reader thread and every
/// file-sending thread before it returns (no library thread of this client
/// outlives the handle); everyone else gets a PAPO_EVENT_LEFT event. In
/// order: the handle stops being live (calls that begin afterwards, on any
/// thread, return PAPO_ERR_CLOSED), the connection ends (requests waiting
/// on other threads return 03, a papo_client_wait_event() in progress gets
/// the DISCONNECTED event), calls still in progress are waited for, and the
/// handle is freed. The wake-up callback is never called after this
/// returns. The last papo_event becomes invalid. NULL is a no-op.
///
/// Returns: 0; PAPO_ERR_CLOSED (already freed, or not a client handle:
/// nothing is done, nothing crashes); PAPO_ERR_INVALID_ARGUMENT (called
/// inside a wake-up callback, of this client or any other: the handle
/// cannot be freed there, see papo_client_set_wakeup(); nothing was done,
/// call it again from another thread); PAPO_ERR_FORKED (in a forked child,
/// on a handle of the parent: nothing is done, the handle is left alone and
/// never freed in the child); PAPO_ERR_PANIC.
///
/// Thread safety: may be called from any thread, also while other threads
/// use the same handle, but not inside a wake-up callback.
///
/// Since: 0.1 (1.0: a freed or foreign handle is PAPO_ERR_CLOSED instead of
/// undefined behaviour).
#[no_mangle]
pub extern "C" fn Desconecta_cliente(client: *mut papo_client) -> c_int {
    client::destroy(client)
}
