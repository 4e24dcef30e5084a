"""papo's exceptions: one class per error code of the library.

Codes 1 to 5 are the seed's codes 01 to 05 ("Protocolo para bate-papo",
seed 000 section 2) and mean the same on the wire (``ERROR 01 ...``), as C
return codes (``PAPO_ERR_*`` in ``include/papo.h``) and here. Codes from 6
on are papo's own: 6 to 12 and 19 also travel on the wire, 13 to 18 only
exist in the local APIs. ``PROTOCOL.md`` lists them all.

Every exception is a :class:`Error`, with ``.code`` (the number),
``.strerror`` (the library's text for the code, from ``papo_strerror``) and
``.detail`` (what exactly went wrong, or None: for an error returned by the
library, the detail it gave through ``papo_last_error``). :func:`error_class`
maps a code to its class.

``str(error)`` looks like ``'01 Esse apelido já está em uso (nickname already
in use): nickname "ana" is already in use'``.

The classes (their names, codes and docstrings) are generated from the
library's one table of error codes (``src/error.rs``) into the marked block
below, which ``cargo test --test header`` checks; the texts come from the
loaded library at run time.
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple, Type

from . import _ffi

#: The public names; the generated block below adds one exception class per
#: error code.
__all__ = [
    "Error",
    "error_class",
    "error_from_code",
    "strerror",
]


def strerror(code: int) -> str:
    """The library's text for an error code (``papo_strerror``): the seed's
    Portuguese words with an English gloss for 1-5, a short English text for
    the others, ``"success"`` for 0 and ``"unknown error code"`` for any other
    number. Thread safety: may be called from any thread."""
    if not isinstance(code, int) or not -(2**31) <= code < 2**31:
        return "unknown error code"
    text = _ffi.papo_strerror(code)
    return text.decode("utf-8", "replace") if text is not None else "unknown error code"


class Error(Exception):
    """Base class of every papo error.

    Attributes:
        code: the error code (1-5 are the seed's 01-05; see PROTOCOL.md).
        strerror: the library's text for the code (``papo_strerror``).
        detail: what exactly went wrong, or None: for errors from the
            library its own text (``papo_last_error``), e.g. ``connection
            refused by 127.0.0.1:18000`` or ``nickname "Ana" is already in
            use``; for errors found by the bindings, theirs.

    ``Error(detail)`` on a subclass uses the subclass's code; ``Error(detail,
    code=n)`` builds a base-class error with any code. Prefer
    :func:`error_from_code`, which picks the right subclass.
    """

    #: The error code of this class (0 for the base class, which takes its
    #: code as an argument).
    code: int = 0

    def __init__(self, detail: Optional[str] = None, *, code: Optional[int] = None) -> None:
        if code is not None:
            self.code = code
        self.detail = detail
        self.strerror = strerror(self.code)
        super().__init__(detail)

    def __str__(self) -> str:
        text = f"{self.code:02d} {self.strerror}"
        if self.detail:
            text += f": {self.detail}"
        return text

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (error_from_code, (self.code, self.detail))


# BEGIN error codes: generated from src/error.rs by tests/header.rs; do not edit.
class NickInUse(Error):
    """01 (seed 000): "Esse apelido já está em uso" (nickname already in use).
    Compared case-insensitively and up to look-alikes (UTS #39): "Ana", "ana", "аna" are the same
    nickname."""

    code = _ffi.PAPO_ERR_NICK_IN_USE


class NoSuchUser(Error):
    """02 (seed 000): "Destino da mensagem privada não existe": the destination of
    a private message is not online."""

    code = _ffi.PAPO_ERR_NO_SUCH_USER


class ConnectionAborted(Error):
    """03 (seed 000): "Cancelamento de conexão forçado" (connection forcibly
    cancelled): the server shut down, dropped this client as a slow consumer, or
    the connection was lost."""

    code = _ffi.PAPO_ERR_CONNECTION_ABORTED


class InvalidServer(Error):
    """04 (seed 000): "Servidor de destino é inválido" (invalid server): nothing
    answers at the address, or what answers is not a papo server."""

    code = _ffi.PAPO_ERR_INVALID_SERVER


class InvalidAddress(Error):
    """05 (seed 000): "Endereço IP do servidor é inválido" (invalid IP address):
    the address text is not a valid address, or (for a server) not one this
    machine can listen on."""

    code = _ffi.PAPO_ERR_INVALID_ADDRESS


class InvalidNick(Error):
    """06: the nickname is empty, too long, a reserved word (`quit`), not UTF-8, or
    contains a forbidden character (`:` `/` `\\` `*` `,`, whitespace, a control
    character, or an invisible, bidi-control, unassigned or otherwise
    PRECIS-disallowed one: RFC 8266)."""

    code = _ffi.PAPO_ERR_INVALID_NICK


class TooLong(Error):
    """07: a line or message is longer than the server's limit."""

    code = _ffi.PAPO_ERR_TOO_LONG


class InvalidText(Error):
    """08: text that is not UTF-8, or contains a control character other than TAB
    or a bidi embedding, override or isolate (U+202A-U+202E, U+2066-U+2069:
    "Trojan Source")."""

    code = _ffi.PAPO_ERR_INVALID_TEXT


class Empty(Error):
    """09: an empty message, or an empty required argument."""

    code = _ffi.PAPO_ERR_EMPTY


class UnknownCommand(Error):
    """10: the server did not know a command (`/help` lists them)."""

    code = _ffi.PAPO_ERR_UNKNOWN_COMMAND


class Timeout(Error):
    """11: a time limit passed: nothing arrived in time, no reply came in time, or
    the server's registration timeout ran out."""

    code = _ffi.PAPO_ERR_TIMEOUT


class ServerFull(Error):
    """12: the server holds its maximum number of clients (in all, or from this IP
    address)."""

    code = _ffi.PAPO_ERR_SERVER_FULL


class NullArgument(Error):
    """13 (local only): a required pointer argument was NULL.

    The bindings never pass NULL: seeing it is a bug in them."""

    code = _ffi.PAPO_ERR_NULL_ARGUMENT


class Closed(Error):
    """14 (local only): the handle was already freed by Desconecta_*(), or the
    connection is over and every event was delivered; nothing more will come
    from this handle.

    Also raised when a closed object is used."""

    code = _ffi.PAPO_ERR_CLOSED


class IoError(Error):
    """15 (local only): an operating-system I/O error (for example, the server's
    port is already taken)."""

    code = _ffi.PAPO_ERR_IO


class Panic(Error):
    """16 (local only): a panic inside the library was caught at the C boundary;
    the handle involved should be disconnected."""

    code = _ffi.PAPO_ERR_PANIC


class InvalidArgument(Error, ValueError):
    """17 (local only): an argument is out of range or malformed, or a function was
    called where it is not allowed (inside a wake-up callback).

    Also a :class:`ValueError`."""

    code = _ffi.PAPO_ERR_INVALID_ARGUMENT


class BufferTooSmall(Error):
    """18 (local only): the caller's buffer is too small; the size needed is
    reported through the function's length out-parameter (`*out_len`).

    The bindings retry with a bigger buffer, so it should never reach Python."""

    code = _ffi.PAPO_ERR_BUFFER_TOO_SMALL


class AccessDenied(Error):
    """19: the server wants a password and the client sent none, or a wrong one,
    before its nickname (PROTOCOL.md, "Password"); the server then closes the
    connection."""

    code = _ffi.PAPO_ERR_ACCESS_DENIED


class Forked(Error):
    """20 (local only): the handle belongs to the parent process; a forked child
    may not use it. The child's calls on a handle it inherited return this at
    once, without touching the handle (its threads did not survive the fork)."""

    code = _ffi.PAPO_ERR_FORKED


class NotInRoom(Error):
    """21: a room message, `/who`, `/topic`, `/kick` or `/op` for a room this client
    is not a member of (or that does not exist), `/part` of a room it is not in, or
    `/kick` or `/op` of a nickname that is not in the room. Since: 1.1."""

    code = _ffi.PAPO_ERR_NOT_IN_ROOM


class NotOperator(Error):
    """22: `/topic`, `/kick` or `/op` by a member who is not one of the room's
    operators, a server-wide `/kick` by a client that is not a server operator, or
    a wrong `/oper` password (the server may have none). Since: 1.1."""

    code = _ffi.PAPO_ERR_NOT_OPERATOR


class InvalidRoom(Error):
    """23: a room name that is not `#` and 1 to 32 characters without whitespace,
    control characters, `:` or `,`. Since: 1.1."""

    code = _ffi.PAPO_ERR_INVALID_ROOM


class ResumeRefused(Error):
    """24: `/resume` with a token that is not the nickname's current one: stolen,
    already used (each token works once), or gone with the grace period or a
    server restart. The connection stays at the nickname prompt. Since: 1.1."""

    code = _ffi.PAPO_ERR_RESUME_REFUSED


#: The exception class of every error code, in numeric order.
_CODE_CLASSES: Tuple[Type[Error], ...] = (
    NickInUse,
    NoSuchUser,
    ConnectionAborted,
    InvalidServer,
    InvalidAddress,
    InvalidNick,
    TooLong,
    InvalidText,
    Empty,
    UnknownCommand,
    Timeout,
    ServerFull,
    NullArgument,
    Closed,
    IoError,
    Panic,
    InvalidArgument,
    BufferTooSmall,
    AccessDenied,
    Forked,
    NotInRoom,
    NotOperator,
    InvalidRoom,
    ResumeRefused,
)
__all__ += [
    "NickInUse",
    "NoSuchUser",
    "ConnectionAborted",
    "InvalidServer",
    "InvalidAddress",
    "InvalidNick",
    "TooLong",
    "InvalidText",
    "Empty",
    "UnknownCommand",
    "Timeout",
    "ServerFull",
    "NullArgument",
    "Closed",
    "IoError",
    "Panic",
    "InvalidArgument",
    "BufferTooSmall",
    "AccessDenied",
    "Forked",
    "NotInRoom",
    "NotOperator",
    "InvalidRoom",
    "ResumeRefused",
]
# END error codes

#: The exception class of each error code.
_CLASSES: Dict[int, Type[Error]] = {cls.code: cls for cls in _CODE_CLASSES}


def error_class(code: int) -> Type[Error]:
    """The exception class for an error code: the one whose ``code`` it is
    (:class:`NickInUse` for 1, ...), and :class:`Error` itself for any number
    that is no error code."""
    return _CLASSES.get(code, Error)


def error_from_code(code: int, detail: Optional[str] = None) -> Error:
    """An exception instance for an error code (see :func:`error_class`)."""
    cls = error_class(code)
    if cls is Error:
        return Error(detail, code=code)
    return cls(detail)


def failure(rc: int, fallback: Optional[str] = None) -> Optional[Error]:
    """The exception for a C return code (None for 0), with the library's
    detail (``papo_last_error``), or ``fallback`` when the library gave none.
    Call it right after the failing call, before any other papo call on this
    thread: the detail is the last failing call's."""
    if rc == _ffi.PAPO_OK:
        return None
    return error_from_code(rc, _ffi.last_error() or fallback)


def check(rc: int, fallback: Optional[str] = None) -> None:
    """Raises the exception for a C return code (see :func:`failure`);
    does nothing for 0."""
    error = failure(rc, fallback)
    if error is not None:
        raise error
