"""papo's exceptions: one class per error code of the library.

Codes 1 to 5 are the seed's codes 01 to 05 ("Protocolo para bate-papo",
seed 000 section 2) and mean the same on the wire (``ERROR 01 ...``), as C
return codes (``PAPO_ERR_*`` in ``include/papo.h``) and here. Codes 6 to 12
are papo's own and also travel on the wire; 13 to 18 only exist in the local
APIs; 19 (a wrong or missing server password) travels on the wire too. ``PROTOCOL.md`` lists them all.

Every exception is a :class:`Error`, with ``.code`` (the number),
``.strerror`` (the library's text for the code, from ``papo_strerror``) and
``.detail`` (what exactly went wrong, or None). :func:`error_class` maps a
code to its class.

``str(error)`` looks like ``"01 Esse apelido já está em uso (nickname already
in use): ana"``.
"""

from __future__ import annotations

from typing import Dict, Optional, Type

from . import _ffi

__all__ = [
    "Error",
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
        detail: what exactly went wrong (a nickname, an address, ...), or None.

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


class NickInUse(Error):
    """01: the nickname is already in use (compared case-insensitively, so
    "Ana" and "ana" are the same nickname). Raised by connecting and by
    renaming; try another nickname."""

    code = _ffi.PAPO_ERR_NICK_IN_USE


class NoSuchUser(Error):
    """02: the destination of a private message is not online."""

    code = _ffi.PAPO_ERR_NO_SUCH_USER


class ConnectionAborted(Error):
    """03: the connection was forcibly cancelled: the server shut down, dropped
    this client as a slow consumer, or the connection was lost."""

    code = _ffi.PAPO_ERR_CONNECTION_ABORTED


class InvalidServer(Error):
    """04: nothing answers at the server's address in time, or what answers is
    not a papo server."""

    code = _ffi.PAPO_ERR_INVALID_SERVER


class InvalidAddress(Error):
    """05: the IP address is not a valid IP address (client and server), or is
    not an address of this machine (server)."""

    code = _ffi.PAPO_ERR_INVALID_ADDRESS


class InvalidNick(Error):
    """06: the nickname is empty, too long, a reserved word (``quit``), or
    contains a forbidden character (``:`` ``/`` ``\\`` ``*`` ``,``, whitespace,
    control characters, NUL)."""

    code = _ffi.PAPO_ERR_INVALID_NICK


class TooLong(Error):
    """07: a message is longer than the server's line limit (4096 bytes by
    default)."""

    code = _ffi.PAPO_ERR_TOO_LONG


class InvalidText(Error):
    """08: text that is not valid UTF-8 or contains control characters other
    than TAB (a NUL, a line break, ESC, ...)."""

    code = _ffi.PAPO_ERR_INVALID_TEXT


class Empty(Error):
    """09: an empty message or an empty required argument."""

    code = _ffi.PAPO_ERR_EMPTY


class UnknownCommand(Error):
    """10: the server did not recognise a line as a command."""

    code = _ffi.PAPO_ERR_UNKNOWN_COMMAND


class Timeout(Error):
    """11: a time limit passed: the server's answer did not come within the
    client's reply timeout, or the server's registration timeout ran out."""

    code = _ffi.PAPO_ERR_TIMEOUT


class ServerFull(Error):
    """12: the server holds its maximum number of clients (in all, or from
    this IP address)."""

    code = _ffi.PAPO_ERR_SERVER_FULL


class NullArgument(Error):
    """13: a required pointer was NULL in the C API (a bug in these bindings if
    it ever reaches Python)."""

    code = _ffi.PAPO_ERR_NULL_ARGUMENT


class Closed(Error):
    """14: the object is closed, or the connection is over and every event has
    been delivered: nothing more will come from it."""

    code = _ffi.PAPO_ERR_CLOSED


class IoError(Error):
    """15: an operating-system I/O error (for example, the server's port is
    already taken)."""

    code = _ffi.PAPO_ERR_IO


class Panic(Error):
    """16: a panic inside the library was caught at the C boundary; close the
    object involved."""

    code = _ffi.PAPO_ERR_PANIC


class InvalidArgument(Error, ValueError):
    """17: an argument is out of range or malformed (a port outside 0-65535, a
    negative timeout, ...). Also a :class:`ValueError`."""

    code = _ffi.PAPO_ERR_INVALID_ARGUMENT


class BufferTooSmall(Error):
    """18: a buffer given to the C API was too small (the bindings retry with a
    bigger one, so this should never reach Python)."""

    code = _ffi.PAPO_ERR_BUFFER_TOO_SMALL


class AccessDenied(Error):
    """19: the server wants a password and none, or a wrong one, was given
    (``papo.Client(..., password=...)``); the server closed the connection."""

    code = _ffi.PAPO_ERR_ACCESS_DENIED


_CLASSES: Dict[int, Type[Error]] = {
    cls.code: cls
    for cls in (
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
    )
}


def error_class(code: int) -> Type[Error]:
    """The exception class for an error code: :class:`NickInUse` for 1, ...,
    :class:`BufferTooSmall` for 18, :class:`AccessDenied` for 19, and
    :class:`Error` itself for any other
    number."""
    return _CLASSES.get(code, Error)


def error_from_code(code: int, detail: Optional[str] = None) -> Error:
    """An exception instance for an error code (see :func:`error_class`)."""
    cls = error_class(code)
    if cls is Error:
        return Error(detail, code=code)
    return cls(detail)


def check(rc: int, detail: Optional[str] = None) -> None:
    """Raises the exception for a C return code; does nothing for 0."""
    if rc != _ffi.PAPO_OK:
        raise error_from_code(rc, detail)
