"""The C API of libpapo, declared for ctypes (a mirror of ``include/papo.h``).

This module finds and loads the shared library, then declares the argument
and result types of every function of the C API contract, its structs, its
constants and the wake-up callback type. It does no error checking of its
own: every fallible function returns an ``int`` code (``PAPO_OK``, 0, is
success; any other is a ``PAPO_ERR_*`` code) that the public modules turn
into exceptions (:func:`papo.errors.check`). The ``PAPO_OK`` and
``PAPO_ERR_*`` constants are generated from the library's table of error
codes (``src/error.rs``) into the marked block below. Nothing here is public
API; use :mod:`papo`.

Where the library is loaded from, first match wins:

1. the file named by the environment variable ``PAPO_LIBRARY`` (and only
   that file: if it cannot be loaded, importing papo fails);
2. the library that ``pip install`` built into this package
   (``papo/libpapo<EXT_SUFFIX>``, e.g. ``libpapo.cpython-311-x86_64-linux-gnu.so``,
   or ``papo/libpapo.so``);
3. when this package is imported from a source checkout
   (``bindings/python/src``): ``build/lib/libpapo.so``, ``build/libpapo.so``,
   ``target/release/libpapo.so``, ``target/debug/libpapo.so`` of that checkout;
4. ``ctypes.util.find_library("papo")`` (a ``make install``-ed library).

Every call goes through ctypes' ``CDLL``, which releases the GIL while the C
function runs, so a blocking call (waiting for an event or for the server's
answer) does not stop other Python threads. Events are pulled
(``papo_client_wait_event``, which hands out a pointer to an event the
library owns), so no library thread calls into Python unless the caller
installs a wake-up callback.

The 1.0 ABI is used throughout: options objects filled with setters (no
config struct is mirrored here, so a newer library with more options cannot
be overrun), library-owned events, ``papo_last_error`` for the detail of
every error, and handles that are ids (a call on a freed handle returns
``PAPO_ERR_CLOSED`` instead of crashing).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_char_p,
    c_int,
    c_int32,
    c_size_t,
    c_uint16,
    c_uint32,
    c_uint64,
    c_void_p,
)
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path
from typing import Any, List, Optional, Tuple

#: The environment variable that names the shared library to load.
ENV_VAR = "PAPO_LIBRARY"

# ---- constants (papo.h) ----------------------------------------------------

# BEGIN error codes: generated from src/error.rs by tests/header.rs; do not edit.
PAPO_OK = 0
PAPO_ERR_NICK_IN_USE = 1
PAPO_ERR_NO_SUCH_USER = 2
PAPO_ERR_CONNECTION_ABORTED = 3
PAPO_ERR_INVALID_SERVER = 4
PAPO_ERR_INVALID_ADDRESS = 5
PAPO_ERR_INVALID_NICK = 6
PAPO_ERR_TOO_LONG = 7
PAPO_ERR_INVALID_TEXT = 8
PAPO_ERR_EMPTY = 9
PAPO_ERR_UNKNOWN_COMMAND = 10
PAPO_ERR_TIMEOUT = 11
PAPO_ERR_SERVER_FULL = 12
PAPO_ERR_NULL_ARGUMENT = 13
PAPO_ERR_CLOSED = 14
PAPO_ERR_IO = 15
PAPO_ERR_PANIC = 16
PAPO_ERR_INVALID_ARGUMENT = 17
PAPO_ERR_BUFFER_TOO_SMALL = 18
PAPO_ERR_ACCESS_DENIED = 19
PAPO_ERR_FORKED = 20
PAPO_ERR_NOT_IN_ROOM = 21
PAPO_ERR_NOT_OPERATOR = 22
PAPO_ERR_INVALID_ROOM = 23
PAPO_ERR_RESUME_REFUSED = 24
# END error codes
PAPO_DEFAULT_PORT = 18000

PAPO_SERVER_EVENT_CONNECTED = 1
PAPO_SERVER_EVENT_REGISTERED = 2
PAPO_SERVER_EVENT_NICK_CHANGED = 3
PAPO_SERVER_EVENT_DISCONNECTED = 4
# history writes to the database paused (code 1) or resumed (code 0), since 1.1
PAPO_SERVER_EVENT_HISTORY = 5
PAPO_SERVER_EVENT_CLUSTER = 6  # since 1.2

PAPO_EVENT_PUBLIC = 1
PAPO_EVENT_PRIVATE = 2
PAPO_EVENT_JOINED = 3
PAPO_EVENT_LEFT = 4
PAPO_EVENT_NICK_CHANGED = 5
PAPO_EVENT_ERROR = 6
PAPO_EVENT_DISCONNECTED = 7
# files and binary messages (PROTOCOL.md "Files and binary payloads")
PAPO_EVENT_BYTES = 8
PAPO_EVENT_FILE_OFFERED = 9
PAPO_EVENT_FILE_PROGRESS = 10
PAPO_EVENT_FILE_RECEIVED = 11
PAPO_EVENT_FILE_FAILED = 12
PAPO_EVENT_FILE_SEND_PROGRESS = 13
PAPO_EVENT_FILE_SENT = 14
PAPO_EVENT_FILE_SEND_FAILED = 15
# the answer to an asynchronous request (papo_client_*_async), since 1.0
PAPO_EVENT_REPLY = 16
# rooms (PROTOCOL.md "Rooms"), since 1.1
PAPO_EVENT_ROOM = 17
PAPO_EVENT_ROOM_JOINED = 18
PAPO_EVENT_ROOM_LEFT = 19
PAPO_EVENT_ROOM_KICKED = 20
PAPO_EVENT_TOPIC = 21
PAPO_EVENT_ROOM_OPERATOR = 22
# reconnecting by itself (PROTOCOL.md "Resuming a connection"), since 1.1
PAPO_EVENT_RECONNECTING = 23
PAPO_EVENT_RECONNECTED = 24
# a cluster of servers (PROTOCOL.md "Clusters"), since 1.2
PAPO_EVENT_CLUSTER_PARTITIONED = 25
PAPO_EVENT_CLUSTER_HEALED = 26
PAPO_EVENT_LOST = 27
PAPO_EVENT_RENAMED = 28

# ---- types -----------------------------------------------------------------


class papo_server(Structure):
    """Opaque server handle (``papo_server``); only pointers to it exist."""


class papo_client(Structure):
    """Opaque client handle (``papo_client``); only pointers to it exist."""


ServerPtr = POINTER(papo_server)
ClientPtr = POINTER(papo_client)


class papo_client_options(Structure):
    """Opaque ``papo_client_options`` (made by ``papo_client_options_new``,
    filled with its setters); only pointers to it exist."""


class papo_server_options(Structure):
    """Opaque ``papo_server_options``; only pointers to it exist."""


ClientOptionsPtr = POINTER(papo_client_options)
ServerOptionsPtr = POINTER(papo_server_options)


class papo_event(Structure):
    """``papo_event``: one client event, owned by the library and only ever
    read through the pointer ``papo_client_wait_event`` gives (a newer
    library may append fields, so this mirror may be shorter than the real
    struct; it is never allocated here). The pointer and its strings stay
    valid until the next ``papo_client_wait_event`` on the same client or
    ``Desconecta_cliente``: copy them at once. ``text`` is declared
    ``c_void_p`` (it is ``const char *``) so that it is read with its length
    ``text_len`` rather than up to a NUL."""

    _fields_ = [
        ("kind", c_int),
        ("code", c_int),
        ("nick", c_char_p),
        ("new_nick", c_char_p),
        ("text", c_void_p),
        ("text_len", c_size_t),
        # Added with file transfer (kinds 8-15); 0 / NULL for kinds 1-7.
        ("file_id", c_uint64),
        ("bytes_done", c_uint64),
        ("bytes_total", c_uint64),
        ("file_name", c_char_p),
        ("path", c_char_p),
        ("data", c_void_p),
        ("data_len", c_size_t),
        ("is_private", c_int),
        # Since 1.0: REPLY's request number (the userdata of the *_async call).
        ("userdata", c_uint64),
        # Since 1.1: rooms and message ids; NULL / 0 for the other kinds.
        ("room", c_char_p),
        ("by", c_char_p),
        ("message_id", c_uint64),
        ("time_ms", c_uint64),
        # Since 1.1: RECONNECTING's attempt, RECONNECTED's recovered.
        ("attempt", c_uint32),
        ("recovered", c_int),
        # Since 1.2: LOST's count; 0 for the other kinds.
        ("count", c_uint64),
    ]


class papo_server_event(Structure):
    """``papo_server_event``: one server event, owned by the library and
    read through the pointer ``papo_server_wait_event`` gives; valid until the
    next ``papo_server_wait_event`` on the same server or
    ``Desconecta_Servidor``: copy its strings at once."""

    _fields_ = [
        ("kind", c_int),
        ("client_id", c_uint64),
        ("ip", c_char_p),
        ("port", c_uint16),
        ("nick", c_char_p),
        ("new_nick", c_char_p),
        ("code", c_int),
        ("reason", c_char_p),
    ]


class papo_discovery(Structure):
    """Opaque ``papo_discovery``: the list ``papo_discover`` returns (since
    1.1); only pointers to it exist."""


DiscoveryPtr = POINTER(papo_discovery)


class papo_discovered_server(Structure):
    """``papo_discovered_server`` (since 1.1): one server of a discovery
    list, owned by the list and read through the pointer
    ``papo_discovery_get`` gives, valid until ``papo_discovery_free``. A
    newer library may append fields; this mirror is never allocated here."""

    _fields_ = [
        ("name", c_char_p),
        ("host", c_char_p),
        ("address", c_char_p),
        ("addresses", c_char_p),
        ("port", c_uint16),
        ("tls_port", c_uint16),
        ("http_port", c_uint16),
        ("password_required", c_int),
        ("version", c_char_p),
    ]


#: ``void (*wakeup)(void *userdata)``, called on the client's reader thread.
WAKEUP_CALLBACK = CFUNCTYPE(None, c_void_p)

# ---- finding the library ---------------------------------------------------

_PACKAGE_DIR = Path(__file__).resolve().parent


def _library_names() -> List[str]:
    names = ["libpapo" + suffix for suffix in EXTENSION_SUFFIXES]
    names += ["libpapo.so", "libpapo.dylib", "papo.dll"]
    return list(dict.fromkeys(names))  # without duplicates, in order


def _checkout_root() -> Optional[Path]:
    """The repository root when this file is ``<root>/bindings/python/src/papo/_ffi.py``."""
    try:
        root = _PACKAGE_DIR.parents[3]
    except IndexError:
        return None
    if (root / "Cargo.toml").is_file() and (root / "bindings" / "python").is_dir():
        return root
    return None


def candidate_paths() -> List[Path]:
    """Where the library is looked for when ``PAPO_LIBRARY`` is not set, in order."""
    paths = [_PACKAGE_DIR / name for name in _library_names()]
    root = _checkout_root()
    if root is not None:
        for sub in ("build/lib", "build", "target/release", "target/debug"):
            paths.append(root / sub / "libpapo.so")
    return paths


def _missing_library_message(tried: List[str]) -> str:
    lines = [
        "papo: cannot find the shared library libpapo.",
        "Looked in:",
        *("  " + place for place in tried),
        "To fix it, do one of:",
        "  - install the package with its library: pip install ./bindings/python "
        "(from the papo repository root; needs cargo), or",
        "  - build the library with `make` (or `cargo build --release`) in the papo repository, or",
        "  - set PAPO_LIBRARY to the full path of a libpapo.so, e.g. "
        "PAPO_LIBRARY=/path/to/papo/target/release/libpapo.so",
    ]
    return "\n".join(lines)


def load_library() -> Tuple[ctypes.CDLL, str]:
    """Loads libpapo; returns the library and the path it came from.

    Raises ImportError with a message that says what to do when no library
    can be loaded.
    """
    override = os.environ.get(ENV_VAR)
    if override:
        try:
            return ctypes.CDLL(override), override
        except OSError as exc:
            raise ImportError(
                f"papo: {ENV_VAR}={override!r} could not be loaded ({exc}). "
                f"Point {ENV_VAR} at a libpapo.so built by `make` or "
                "`cargo build --release` in the papo repository, or unset it to use the "
                "library installed by `pip install ./bindings/python`."
            ) from exc
    tried: List[str] = []
    errors: List[str] = []
    for path in candidate_paths():
        tried.append(str(path))
        if path.is_file():
            try:
                return ctypes.CDLL(str(path)), str(path)
            except OSError as exc:  # a broken or foreign file: say so, try the next one
                errors.append(f"{path}: {exc}")
    found = ctypes.util.find_library("papo")
    tried.append("the system library path (ctypes.util.find_library('papo'))")
    if found:
        try:
            return ctypes.CDLL(found), found
        except OSError as exc:
            errors.append(f"{found}: {exc}")
    message = _missing_library_message(tried)
    if errors:
        message += "\nFiles found but not loadable: " + "; ".join(errors)
    raise ImportError(message)


lib, library_path = load_library()

# ---- declarations ----------------------------------------------------------

#: Every function of the C API contract, declared below (tests compare this
#: with the functions in include/papo.h).
FUNCTIONS: List[str] = []


def _declare(name: str, restype: Any, *argtypes: Any, contract: bool = True) -> Any:
    try:
        func = getattr(lib, name)
    except AttributeError as exc:
        raise ImportError(
            f"papo: the library {library_path} has no function {name}: it is not libpapo, or "
            "it is older than these bindings. Rebuild it (pip install ./bindings/python, or "
            f"`make`), or point {ENV_VAR} at a current libpapo.so."
        ) from exc
    func.restype = restype
    func.argtypes = list(argtypes)
    if contract:
        FUNCTIONS.append(name)
    return func


_size_p = POINTER(c_size_t)

papo_strerror = _declare("papo_strerror", c_char_p, c_int)
papo_version = _declare("papo_version", c_char_p)
papo_last_error = _declare("papo_last_error", c_char_p)
papo_version_is_compatible = _declare(
    "papo_version_is_compatible", c_int, c_uint32, c_uint32, c_uint32
)


def _declare_optional(name: str, restype: Any, *argtypes: Any) -> Any:
    """A function outside the contract (papo.h does not declare it, and it is
    not in :data:`FUNCTIONS`): None when the library lacks it."""
    if not hasattr(lib, name):
        return None
    return _declare(name, restype, *argtypes, contract=False)


#: TEST ONLY (not in the contract): panics inside the library's panic
#: boundary and returns PAPO_ERR_PANIC; proves no panic unwinds into Python.
#: Only a library built with the cargo feature ``test-hooks`` has it (never a
#: release or ``pip install``-ed one): None otherwise.
papo_debug_force_panic = _declare_optional("papo_debug_force_panic", c_int)

def last_error() -> str:
    """``papo_last_error()``: the detail of the last papo call on this thread
    that returned an error ("" if none). Read it right after the failing
    call: the next papo call on the thread may replace it."""
    raw = papo_last_error()
    return raw.decode("utf-8", "replace") if raw is not None else ""


# the seed's five (seed 000 section 4)
Conecta_Servidor = _declare("Conecta_Servidor", c_int, c_char_p, c_uint16, POINTER(ServerPtr))
Conecta_cliente = _declare(
    "Conecta_cliente", c_int, c_char_p, c_uint16, c_char_p, POINTER(ClientPtr)
)
enviar_Msg = _declare("enviar_Msg", c_int, ClientPtr, c_char_p, c_char_p)
Desconecta_Servidor = _declare("Desconecta_Servidor", c_int, ServerPtr)
Desconecta_cliente = _declare("Desconecta_cliente", c_int, ClientPtr)

_i32_p = POINTER(c_int)

# server options (one setter per limit; see papo.h)
papo_server_options_new = _declare("papo_server_options_new", ServerOptionsPtr)
papo_server_options_free = _declare("papo_server_options_free", None, ServerOptionsPtr)
#: name -> the C type of its value, for papo_server_options_set_<name>
SERVER_OPTIONS = {
    "max_line_bytes": c_size_t,
    "max_discard_bytes": c_size_t,
    "max_nick_chars": c_size_t,
    "max_clients": c_size_t,
    "max_clients_per_ip": c_size_t,
    "max_queue_bytes": c_size_t,
    "max_total_queue_bytes": c_size_t,
    "registration_timeout_ms": c_uint32,
    "io_threads": c_uint32,
    "event_queue_capacity": c_size_t,
    "max_file_bytes": c_uint64,
    "max_payload_bytes": c_size_t,
    "file_stall_timeout_ms": c_uint32,
    "flood_lines_per_sec": c_uint32,
    "flood_burst_lines": c_uint32,
    "keepalive_interval_ms": c_uint32,
    "keepalive_timeout_ms": c_uint32,
    "max_nick_attempts": c_uint32,
    "password": c_char_p,
    "tls_cert_file": c_char_p,
    "tls_key_file": c_char_p,
    "tls_port": c_uint16,
    "http_port": c_int32,
    "raise_nofile_limit": c_int,
    "trim_heap": c_int,
    # since 1.1
    "oper_password": c_char_p,
    "history_path": c_char_p,
    "history_limit": c_size_t,
    "resume_grace_ms": c_uint32,
    "resume_backlog": c_size_t,
    # since 1.2
    "cluster": c_char_p,
    "cluster_lease_ms": c_uint64,
}
#: name -> papo_server_options_set_<name>
server_options_setters = {
    name: _declare(f"papo_server_options_set_{name}", c_int, ServerOptionsPtr, ctype)
    for name, ctype in SERVER_OPTIONS.items()
}
globals().update(
    {f"papo_server_options_set_{name}": func for name, func in server_options_setters.items()}
)

# server
papo_server_start_with = _declare(
    "papo_server_start_with",
    c_int,
    c_char_p,
    c_uint16,
    ServerOptionsPtr,
    POINTER(ServerPtr),
)
papo_server_port = _declare("papo_server_port", c_int, ServerPtr, POINTER(c_uint16))
papo_server_tls_port = _declare("papo_server_tls_port", c_int, ServerPtr, POINTER(c_uint16))
papo_server_http_port = _declare("papo_server_http_port", c_int, ServerPtr, POINTER(c_uint16))
papo_server_options_add_http_origin = _declare(
    "papo_server_options_add_http_origin", c_int, ServerOptionsPtr, c_char_p
)


class papo_server_stats(Structure):
    """``papo_server_stats``: the server's counters, filled by
    ``papo_server_get_stats`` up to ``size`` bytes (since 1.1)."""

    _fields_ = [("size", c_size_t)] + [
        (name, c_uint64)
        for name in (
            "connections",
            "users",
            "accepted",
            "rejected",
            "messages_received",
            "deliveries",
            "lines_received",
            "bytes_received",
            "bytes_sent",
            "queued_bytes",
            "slow_consumers",
            "files",
            "dropped_events",
            "http_requests",
            "websocket_connections",
            "disconnects_client",
            "disconnects_slow_consumer",
            "disconnects_flooding",
            "disconnects_shutdown",
            "disconnects_timeout",
            "disconnects_too_long",
            "disconnects_server_full",
            "disconnects_refused",
            "disconnects_error",
            "io_threads",
            "inbox_depth_total",
            "inbox_depth_max",
            "rooms",
            # since 1.2: clusters
            "cluster_partitioned",
            "cluster_nodes",
            "cluster_published",
            "cluster_received",
            "cluster_lost",
        )
    ]


papo_server_get_stats = _declare(
    "papo_server_get_stats", c_int, ServerPtr, POINTER(papo_server_stats)
)
papo_server_connection_count = _declare("papo_server_connection_count", c_int, ServerPtr, _size_p)
papo_server_user_count = _declare("papo_server_user_count", c_int, ServerPtr, _size_p)
papo_server_users = _declare("papo_server_users", c_int, ServerPtr, c_void_p, c_size_t, _size_p)
papo_server_wait_event = _declare(
    "papo_server_wait_event",
    c_int,
    ServerPtr,
    c_int32,
    POINTER(POINTER(papo_server_event)),
)
papo_server_wakeup = _declare("papo_server_wakeup", c_int, ServerPtr)
papo_server_fd = _declare("papo_server_fd", c_int, ServerPtr, _i32_p)

# client options
papo_client_options_new = _declare("papo_client_options_new", ClientOptionsPtr)
papo_client_options_free = _declare("papo_client_options_free", None, ClientOptionsPtr)
#: name -> the C type of its value, for papo_client_options_set_<name>
CLIENT_OPTIONS = {
    "connect_timeout_ms": c_uint32,
    "reply_timeout_ms": c_uint32,
    "event_queue_capacity": c_size_t,
    "password": c_char_p,
    "tls_ca_file": c_char_p,
    "tls_server_name": c_char_p,
    "presence": c_int,
    # since 1.1
    "reconnect": c_int,
    "reconnect_attempts": c_uint32,
    "reconnect_delay_ms": c_uint32,
    "reconnect_max_delay_ms": c_uint32,
}
#: name -> papo_client_options_set_<name>
client_options_setters = {
    name: _declare(f"papo_client_options_set_{name}", c_int, ClientOptionsPtr, ctype)
    for name, ctype in CLIENT_OPTIONS.items()
}
globals().update(
    {f"papo_client_options_set_{name}": func for name, func in client_options_setters.items()}
)

# client
papo_client_connect_with = _declare(
    "papo_client_connect_with",
    c_int,
    c_char_p,
    c_uint16,
    c_char_p,
    ClientOptionsPtr,
    POINTER(ClientPtr),
)
papo_client_wait_event = _declare(
    "papo_client_wait_event", c_int, ClientPtr, c_int32, POINTER(POINTER(papo_event))
)
papo_client_wakeup = _declare("papo_client_wakeup", c_int, ClientPtr)
papo_client_fd = _declare("papo_client_fd", c_int, ClientPtr, _i32_p)
papo_client_users = _declare("papo_client_users", c_int, ClientPtr, c_void_p, c_size_t, _size_p)
papo_client_nick = _declare("papo_client_nick", c_int, ClientPtr, c_void_p, c_size_t, _size_p)
papo_client_set_nick = _declare("papo_client_set_nick", c_int, ClientPtr, c_char_p)
papo_client_ping = _declare("papo_client_ping", c_int, ClientPtr)
papo_client_set_wakeup = _declare(
    "papo_client_set_wakeup", c_int, ClientPtr, WAKEUP_CALLBACK, c_void_p
)

# rooms and history (since 1.1)
papo_client_join = _declare("papo_client_join", c_int, ClientPtr, c_char_p)
papo_client_part = _declare("papo_client_part", c_int, ClientPtr, c_char_p)
papo_client_rooms = _declare("papo_client_rooms", c_int, ClientPtr, c_void_p, c_size_t, _size_p)
papo_client_history = _declare(
    "papo_client_history",
    c_int,
    ClientPtr,
    c_char_p,
    c_int,
    c_uint64,
    c_void_p,
    c_size_t,
    _size_p,
)
papo_client_join_async = _declare("papo_client_join_async", c_int, ClientPtr, c_char_p, c_uint64)
papo_client_part_async = _declare("papo_client_part_async", c_int, ClientPtr, c_char_p, c_uint64)
papo_client_rooms_async = _declare("papo_client_rooms_async", c_int, ClientPtr, c_uint64)
papo_client_history_async = _declare(
    "papo_client_history_async", c_int, ClientPtr, c_char_p, c_int, c_uint64, c_uint64
)

# files and binary messages
papo_client_send_file = _declare(
    "papo_client_send_file", c_int, ClientPtr, c_char_p, c_char_p, POINTER(c_uint64)
)
papo_client_send_bytes = _declare(
    "papo_client_send_bytes", c_int, ClientPtr, c_char_p, c_char_p, c_size_t
)
papo_client_set_download_dir = _declare("papo_client_set_download_dir", c_int, ClientPtr, c_char_p)
papo_client_download_dir = _declare(
    "papo_client_download_dir", c_int, ClientPtr, c_void_p, c_size_t, _size_p
)

# asynchronous requests: each returns once the request is written; the
# answer comes as a PAPO_EVENT_REPLY event carrying the userdata
papo_client_send_async = _declare(
    "papo_client_send_async", c_int, ClientPtr, c_char_p, c_char_p, c_uint64
)
papo_client_send_bytes_async = _declare(
    "papo_client_send_bytes_async", c_int, ClientPtr, c_char_p, c_char_p, c_size_t, c_uint64
)
papo_client_set_nick_async = _declare(
    "papo_client_set_nick_async", c_int, ClientPtr, c_char_p, c_uint64
)
papo_client_ping_async = _declare("papo_client_ping_async", c_int, ClientPtr, c_uint64)
papo_client_users_async = _declare("papo_client_users_async", c_int, ClientPtr, c_uint64)
papo_client_send_file_async = _declare(
    "papo_client_send_file_async", c_int, ClientPtr, c_char_p, c_char_p, c_uint64
)

# LAN discovery (since 1.1): a library-owned list, freed by papo_discovery_free
papo_discover = _declare("papo_discover", c_int, c_int32, POINTER(DiscoveryPtr))
papo_discovery_count = _declare("papo_discovery_count", c_int, DiscoveryPtr, _size_p)
papo_discovery_get = _declare(
    "papo_discovery_get", c_int, DiscoveryPtr, c_size_t, POINTER(POINTER(papo_discovered_server))
)
papo_discovery_free = _declare("papo_discovery_free", c_int, DiscoveryPtr)
