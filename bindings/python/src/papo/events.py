"""Events: what a :class:`papo.Client` receives and what a :class:`papo.Server`
reports. Both are frozen dataclasses holding Python copies of the library's
strings, so they stay valid forever and may be passed between threads."""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from enum import Enum
from typing import Optional

from . import _ffi
from .errors import Error, error_from_code

__all__ = ["EventKind", "Event", "ServerEventKind", "ServerEvent"]


class EventKind(str, Enum):
    """What kind of client event. The values are strings (``EventKind.PUBLIC
    == "public"``), so events can be logged or sent as JSON as they are."""

    #: A public message (``:text``) from ``sender`` to everyone.
    PUBLIC = "public"
    #: A private message to this client ("Mensagem recebida de: sender").
    PRIVATE = "private"
    #: ``sender`` joined the chat (registered a nickname).
    JOINED = "joined"
    #: ``sender`` left the chat (quit, closed the connection, or was dropped).
    LEFT = "left"
    #: ``sender`` (perhaps this client itself) renamed to ``new_nick``.
    NICK_CHANGED = "nick_changed"
    #: An error line from the server that answers no call of this client
    #: (``code`` and ``text`` say what).
    ERROR = "error"
    #: The connection ended (``code`` 3 when the server closed it or it was
    #: lost). Always the last event of a client.
    DISCONNECTED = "disconnected"


_EVENT_KINDS = {
    _ffi.PAPO_EVENT_PUBLIC: EventKind.PUBLIC,
    _ffi.PAPO_EVENT_PRIVATE: EventKind.PRIVATE,
    _ffi.PAPO_EVENT_JOINED: EventKind.JOINED,
    _ffi.PAPO_EVENT_LEFT: EventKind.LEFT,
    _ffi.PAPO_EVENT_NICK_CHANGED: EventKind.NICK_CHANGED,
    _ffi.PAPO_EVENT_ERROR: EventKind.ERROR,
    _ffi.PAPO_EVENT_DISCONNECTED: EventKind.DISCONNECTED,
}


@dataclass(frozen=True)
class Event:
    """Something that arrived at a :class:`papo.Client`.

    Attributes:
        kind: which event (:class:`EventKind`).
        sender: the nickname concerned: who sent the message (PUBLIC,
            PRIVATE), who joined or left (JOINED, LEFT), the old nickname
            (NICK_CHANGED); None for ERROR and DISCONNECTED.
        text: the message (PUBLIC, PRIVATE), or the server's or library's text
            (ERROR, DISCONNECTED); None otherwise.
        new_nick: the new nickname (NICK_CHANGED); None otherwise.
        code: the error code (ERROR, DISCONNECTED; see :mod:`papo.errors`); 0
            otherwise.
    """

    kind: EventKind
    sender: Optional[str] = None
    text: Optional[str] = None
    new_nick: Optional[str] = None
    code: int = 0

    @property
    def nick(self) -> Optional[str]:
        """The same as :attr:`sender` (reads better for JOINED and LEFT)."""
        return self.sender

    @property
    def old_nick(self) -> Optional[str]:
        """For NICK_CHANGED, the nickname before the change; None otherwise."""
        return self.sender if self.kind is EventKind.NICK_CHANGED else None

    @property
    def error(self) -> Optional[Error]:
        """For ERROR and DISCONNECTED with a nonzero code, the matching
        exception (not raised), e.g. :class:`papo.ConnectionAborted`; None
        otherwise."""
        if self.kind in (EventKind.ERROR, EventKind.DISCONNECTED) and self.code:
            return error_from_code(self.code, self.text)
        return None


class ServerEventKind(str, Enum):
    """What kind of server event; the values are strings."""

    #: A TCP connection was accepted from ``ip``:``port`` (seed 000 server
    #: manual item 3: the server shows each client's IP address and port).
    CONNECTED = "connected"
    #: The connection registered the nickname ``nick``.
    REGISTERED = "registered"
    #: The client renamed from ``nick`` to ``new_nick``.
    NICK_CHANGED = "nick_changed"
    #: The connection ended; ``code`` is 0 if the client left by itself.
    DISCONNECTED = "disconnected"


_SERVER_EVENT_KINDS = {
    _ffi.PAPO_SERVER_EVENT_CONNECTED: ServerEventKind.CONNECTED,
    _ffi.PAPO_SERVER_EVENT_REGISTERED: ServerEventKind.REGISTERED,
    _ffi.PAPO_SERVER_EVENT_NICK_CHANGED: ServerEventKind.NICK_CHANGED,
    _ffi.PAPO_SERVER_EVENT_DISCONNECTED: ServerEventKind.DISCONNECTED,
}


@dataclass(frozen=True)
class ServerEvent:
    """Something that happened on a :class:`papo.Server`.

    Attributes:
        kind: which event (:class:`ServerEventKind`).
        client_id: a number unique to the connection for the server's lifetime.
        ip: the client's IP address, as text.
        port: the client's TCP port.
        nick: REGISTERED: the nickname; NICK_CHANGED: the old nickname;
            DISCONNECTED: the nickname, or None if it never registered;
            CONNECTED: None.
        new_nick: NICK_CHANGED: the new nickname; None otherwise.
        code: DISCONNECTED: 0 if the client left by itself (quit or closed its
            socket), otherwise why the server closed it (3 slow consumer or
            shutdown, 7 endless line, 11 registration timeout, 12 server
            full); 0 for the other kinds.
        reason: DISCONNECTED: a short English text ("quit", "closed by peer",
            ...); None otherwise.
    """

    kind: ServerEventKind
    client_id: int
    ip: str
    port: int
    nick: Optional[str] = None
    new_nick: Optional[str] = None
    code: int = 0
    reason: Optional[str] = None


def _text(raw: Optional[bytes]) -> Optional[str]:
    return None if raw is None else raw.decode("utf-8", "replace")


def _event_from_c(ev: _ffi.papo_event) -> Optional[Event]:
    """Copies a papo_event (None for a kind these bindings do not know)."""
    kind = _EVENT_KINDS.get(ev.kind)
    if kind is None:
        return None
    text: Optional[str] = None
    if ev.text:
        text = ctypes.string_at(ev.text, ev.text_len).decode("utf-8", "replace")
    return Event(
        kind=kind,
        sender=_text(ev.nick),
        text=text,
        new_nick=_text(ev.new_nick),
        code=int(ev.code),
    )


def _server_event_from_c(ev: _ffi.papo_server_event) -> Optional[ServerEvent]:
    """Copies a papo_server_event (None for a kind these bindings do not know)."""
    kind = _SERVER_EVENT_KINDS.get(ev.kind)
    if kind is None:
        return None
    return ServerEvent(
        kind=kind,
        client_id=int(ev.client_id),
        ip=_text(ev.ip) or "",
        port=int(ev.port),
        nick=_text(ev.nick),
        new_nick=_text(ev.new_nick),
        code=int(ev.code),
        reason=_text(ev.reason),
    )
