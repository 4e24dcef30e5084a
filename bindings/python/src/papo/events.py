"""Events: what a :class:`papo.Client` receives and what a :class:`papo.Server`
reports. Both are frozen dataclasses holding Python copies of the library's
strings, so they stay valid forever and may be passed between threads."""

from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass, field
from enum import Enum
from typing import Optional

from . import _ffi
from .errors import Error, error_from_code

__all__ = ["EventKind", "Event", "ServerEventKind", "ServerEvent", "RoomInfo", "HistoryEntry"]


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
    #: A binary message: ``sender`` sent ``data`` (any bytes), to this
    #: client alone if ``private``.
    BYTES = "bytes"
    #: A file began to arrive from ``sender``: ``file_id`` numbers it,
    #: ``file_name`` is the safe name it will be saved under, ``bytes_total``
    #: its size. It is written to the download folder as it comes.
    FILE_OFFERED = "file_offered"
    #: ``bytes_done`` of the ``bytes_total`` bytes of file ``file_id`` arrived
    #: (once per whole percent).
    FILE_PROGRESS = "file_progress"
    #: File ``file_id`` arrived whole and was saved at ``path``.
    FILE_RECEIVED = "file_received"
    #: File ``file_id`` will not arrive (``text`` says why); nothing of it
    #: is left in the download folder.
    FILE_FAILED = "file_failed"
    #: The server forwarded ``bytes_done`` of the ``bytes_total`` bytes of
    #: this client's file ``file_id`` (:meth:`papo.Client.send_file`) to
    #: ``to`` (None: everyone); once per whole percent.
    FILE_SEND_PROGRESS = "file_send_progress"
    #: Every byte of this client's file ``file_id`` was forwarded.
    FILE_SENT = "file_sent"
    #: This client's file ``file_id`` was not sent whole (``text`` says why).
    FILE_SEND_FAILED = "file_send_failed"
    #: The answer to an asynchronous request (C's ``papo_client_*_async``),
    #: numbered ``userdata``: ``code`` 0 or the error (``text`` its detail);
    #: for a user list, ``text`` holds the nicknames separated by "\n"; for
    #: an accepted file, ``file_id`` its number. :class:`papo.aio.Client`
    #: makes such requests and consumes their replies; a plain
    #: :class:`papo.Client` never gets one.
    REPLY = "reply"
    #: A message to a room this client is in: ``sender`` sent ``text`` to
    #: ``room``. Since 1.1.
    ROOM = "room"
    #: ``sender`` joined ``room`` (this client itself after
    #: :meth:`papo.Client.join`). Since 1.1.
    ROOM_JOINED = "room_joined"
    #: ``sender`` left ``room`` (this client itself after
    #: :meth:`papo.Client.part`). Since 1.1.
    ROOM_LEFT = "room_left"
    #: Operator ``by`` put ``sender`` out of ``room``. Since 1.1.
    ROOM_KICKED = "room_kicked"
    #: ``room``'s topic is now ``text`` (empty: none), set by ``by`` ("*"
    #: when told to a newcomer). Since 1.1.
    TOPIC = "topic"
    #: Operator ``by`` made ``sender`` an operator of ``room``. Since 1.1.
    ROOM_OPERATOR = "room_operator"
    #: The connection was lost (without this client's ``close``) and the
    #: client connects again by itself (``papo.Client(reconnect=True)``, the
    #: default): attempt ``attempt`` (1, 2, ...) is about to start. Requests
    #: then waiting got :class:`papo.ConnectionAborted`; new ones wait for the
    #: reconnection (up to the reply timeout). DISCONNECTED comes only after
    #: the last attempt failed. Since 1.1.
    RECONNECTING = "reconnecting"
    #: Connected again, with the same nickname. ``recovered`` True: the
    #: server had held the connection; rooms are kept and every message
    #: sent meanwhile follows, in order, none twice. False: the server had
    #: let it go (its grace period passed, it restarted) or no longer had all
    #: of it; the client registered afresh and joined its rooms again:
    #: fetch what is missing with :meth:`papo.Client.history`. Since 1.1.
    RECONNECTED = "reconnected"
    #: The server lost its link to the other servers of its cluster
    #: (PROTOCOL.md "Clusters"): until CLUSTER_HEALED, the chat goes on
    #: among this server's own users only (PROTOCOL.md says what happens
    #: meanwhile to messages for users of the other servers). A server that
    #: is no cluster never sends it. Since 1.2.
    CLUSTER_PARTITIONED = "cluster_partitioned"
    #: The server is linked to the other servers of its cluster again: one
    #: chat again. Since 1.2.
    CLUSTER_HEALED = "cluster_healed"
    #: ``count`` messages meant for this client were lost between the
    #: servers of its cluster and will not arrive; the server says so rather
    #: than lose them silently.
    #: :meth:`papo.Client.history` may still have them. Since 1.2.
    LOST = "lost"
    #: The server changed this client's own nickname from ``sender`` to
    #: ``new_nick``: when a partition of its cluster healed, a user of
    #: another server had held it first. :attr:`papo.Client.nick` already
    #: says ``new_nick``; other users get an ordinary NICK_CHANGED.
    #: Since 1.2.
    RENAMED = "renamed"


_EVENT_KINDS = {
    _ffi.PAPO_EVENT_PUBLIC: EventKind.PUBLIC,
    _ffi.PAPO_EVENT_PRIVATE: EventKind.PRIVATE,
    _ffi.PAPO_EVENT_JOINED: EventKind.JOINED,
    _ffi.PAPO_EVENT_LEFT: EventKind.LEFT,
    _ffi.PAPO_EVENT_NICK_CHANGED: EventKind.NICK_CHANGED,
    _ffi.PAPO_EVENT_ERROR: EventKind.ERROR,
    _ffi.PAPO_EVENT_DISCONNECTED: EventKind.DISCONNECTED,
    _ffi.PAPO_EVENT_BYTES: EventKind.BYTES,
    _ffi.PAPO_EVENT_FILE_OFFERED: EventKind.FILE_OFFERED,
    _ffi.PAPO_EVENT_FILE_PROGRESS: EventKind.FILE_PROGRESS,
    _ffi.PAPO_EVENT_FILE_RECEIVED: EventKind.FILE_RECEIVED,
    _ffi.PAPO_EVENT_FILE_FAILED: EventKind.FILE_FAILED,
    _ffi.PAPO_EVENT_FILE_SEND_PROGRESS: EventKind.FILE_SEND_PROGRESS,
    _ffi.PAPO_EVENT_FILE_SENT: EventKind.FILE_SENT,
    _ffi.PAPO_EVENT_FILE_SEND_FAILED: EventKind.FILE_SEND_FAILED,
    _ffi.PAPO_EVENT_REPLY: EventKind.REPLY,
    _ffi.PAPO_EVENT_ROOM: EventKind.ROOM,
    _ffi.PAPO_EVENT_ROOM_JOINED: EventKind.ROOM_JOINED,
    _ffi.PAPO_EVENT_ROOM_LEFT: EventKind.ROOM_LEFT,
    _ffi.PAPO_EVENT_ROOM_KICKED: EventKind.ROOM_KICKED,
    _ffi.PAPO_EVENT_TOPIC: EventKind.TOPIC,
    _ffi.PAPO_EVENT_ROOM_OPERATOR: EventKind.ROOM_OPERATOR,
    _ffi.PAPO_EVENT_RECONNECTING: EventKind.RECONNECTING,
    _ffi.PAPO_EVENT_RECONNECTED: EventKind.RECONNECTED,
    _ffi.PAPO_EVENT_CLUSTER_PARTITIONED: EventKind.CLUSTER_PARTITIONED,
    _ffi.PAPO_EVENT_CLUSTER_HEALED: EventKind.CLUSTER_HEALED,
    _ffi.PAPO_EVENT_LOST: EventKind.LOST,
    _ffi.PAPO_EVENT_RENAMED: EventKind.RENAMED,
}

#: The kinds about files this client sends: their nickname is the
#: destination (``to``), not a sender.
_SEND_KINDS = (
    EventKind.FILE_SEND_PROGRESS,
    EventKind.FILE_SENT,
    EventKind.FILE_SEND_FAILED,
)


@dataclass(frozen=True)
class Event:
    """Something that arrived at a :class:`papo.Client`.

    Attributes:
        kind: which event (:class:`EventKind`).
        sender: the nickname concerned: who sent the message (PUBLIC,
            PRIVATE, BYTES) or the file (FILE_OFFERED, FILE_PROGRESS,
            FILE_RECEIVED, FILE_FAILED), who joined or left (JOINED, LEFT),
            the old nickname (NICK_CHANGED, RENAMED); None otherwise.
        text: the message (PUBLIC, PRIVATE), the server's or library's text
            (ERROR, DISCONNECTED), or why a file failed (FILE_FAILED,
            FILE_SEND_FAILED); None otherwise.
        new_nick: the new nickname (NICK_CHANGED, RENAMED); None otherwise.
        code: the error code (ERROR, DISCONNECTED; see :mod:`papo.errors`); 0
            otherwise.
        data: BYTES: the message's bytes, exactly as sent; None otherwise.
        private: BYTES, FILE_OFFERED: sent to this client alone (else to
            everyone).
        to: FILE_SEND_*: the destination of this client's file (None:
            everyone); None otherwise.
        file_id: FILE_*: the transfer's number (what
            :meth:`papo.Client.send_file` returned, for files this client
            sends); 0 otherwise.
        file_name: FILE_*: the file's name (for received files the announced
            name reduced to a safe base name); None otherwise.
        bytes_done: FILE_PROGRESS, FILE_SEND_PROGRESS: bytes so far;
            FILE_RECEIVED, FILE_SENT: the size; 0 otherwise.
        bytes_total: the file's size in bytes (FILE_* except the failures);
            0 otherwise.
        path: FILE_RECEIVED: where the file was saved (inside the download
            folder); None otherwise.
        userdata: REPLY: the number of the request answered; 0 otherwise.
        room: ROOM and the ROOM_*, TOPIC kinds: the room's name ("#"
            included); None otherwise. Since 1.1.
        by: ROOM_KICKED, ROOM_OPERATOR, TOPIC: the operator who did it;
            None otherwise. Since 1.1.
        id: PUBLIC, PRIVATE, ROOM: the message's id, unique on the server
            and increasing (0 when the server gave none); 0 otherwise.
            Since 1.1.
        time: PUBLIC, PRIVATE, ROOM: the server's UTC time when it took the
            message, in milliseconds since 1970-01-01 (0 when the server
            gave none); 0 otherwise. Since 1.1.
        attempt: RECONNECTING: the attempt about to start, from 1; 0
            otherwise. Since 1.1.
        recovered: RECONNECTED: nothing was lost (else messages may be
            missing); False otherwise. Since 1.1.
        count: LOST: how many messages were lost (at least 1); 0
            otherwise. Since 1.2.

    Two events are equal when everything but ``id`` and ``time`` is.
    """

    kind: EventKind
    sender: Optional[str] = None
    text: Optional[str] = None
    new_nick: Optional[str] = None
    code: int = 0
    data: Optional[bytes] = None
    private: bool = False
    to: Optional[str] = None
    file_id: int = 0
    file_name: Optional[str] = None
    bytes_done: int = 0
    bytes_total: int = 0
    path: Optional[str] = None
    userdata: int = 0
    room: Optional[str] = None
    by: Optional[str] = None
    # Not compared: an event written out by hand (``papo.Event(K.PUBLIC,
    # sender="ana", text="oi")``, as programs written before 1.1 do) still
    # equals the one that arrived.
    id: int = field(default=0, compare=False)
    time: int = field(default=0, compare=False)
    attempt: int = 0
    recovered: bool = False
    count: int = 0

    @property
    def fraction(self) -> Optional[float]:
        """FILE_PROGRESS, FILE_SEND_PROGRESS, FILE_RECEIVED, FILE_SENT:
        ``bytes_done / bytes_total`` (1.0 for an empty file), for a progress
        bar; None for the other kinds."""
        if self.kind not in (
            EventKind.FILE_PROGRESS,
            EventKind.FILE_SEND_PROGRESS,
            EventKind.FILE_RECEIVED,
            EventKind.FILE_SENT,
        ):
            return None
        return 1.0 if self.bytes_total == 0 else self.bytes_done / self.bytes_total

    @property
    def nick(self) -> Optional[str]:
        """The same as :attr:`sender` (reads better for JOINED and LEFT)."""
        return self.sender

    @property
    def old_nick(self) -> Optional[str]:
        """For NICK_CHANGED and RENAMED, the nickname before the change;
        None otherwise."""
        if self.kind in (EventKind.NICK_CHANGED, EventKind.RENAMED):
            return self.sender
        return None

    @property
    def error(self) -> Optional[Error]:
        """For ERROR, DISCONNECTED and REPLY with a nonzero code, the matching
        exception (not raised), e.g. :class:`papo.ConnectionAborted`; None
        otherwise."""
        if self.kind in (EventKind.ERROR, EventKind.DISCONNECTED, EventKind.REPLY) and self.code:
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
    #: History writes to the database (``history_path``) paused (``code``
    #: 1: it could not be opened or written, or fell behind; chat goes on,
    #: history stays in memory) or resumed (``code`` 0); ``reason`` says
    #: what happened; ``client_id`` and ``port`` are 0, ``ip`` is "".
    #: Since 1.1.
    HISTORY = "history"
    #: This node of a cluster (``cluster=``) was cut off from Redis, so
    #: from the other nodes (``code`` 1; its users were told ``CLUSTER
    #: partitioned``), or is back (``code`` 0), or private messages were
    #: dropped after their node stayed unreachable for the lease (``code``
    #: says whether still cut off); ``reason`` says what happened;
    #: ``client_id`` and ``port`` are 0, ``ip`` is "". Since 1.2.
    CLUSTER = "cluster"


_SERVER_EVENT_KINDS = {
    _ffi.PAPO_SERVER_EVENT_CONNECTED: ServerEventKind.CONNECTED,
    _ffi.PAPO_SERVER_EVENT_REGISTERED: ServerEventKind.REGISTERED,
    _ffi.PAPO_SERVER_EVENT_NICK_CHANGED: ServerEventKind.NICK_CHANGED,
    _ffi.PAPO_SERVER_EVENT_DISCONNECTED: ServerEventKind.DISCONNECTED,
    _ffi.PAPO_SERVER_EVENT_HISTORY: ServerEventKind.HISTORY,
    _ffi.PAPO_SERVER_EVENT_CLUSTER: ServerEventKind.CLUSTER,
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


@dataclass(frozen=True)
class RoomInfo:
    """One room, as :meth:`papo.Client.rooms` lists it. Since 1.1.

    Attributes:
        name: the room's name, "#" included (its creator's spelling).
        members: how many members it has.
        topic: its topic ("" when none).
    """

    name: str
    members: int
    topic: str


@dataclass(frozen=True)
class HistoryEntry:
    """One message from history (:meth:`papo.Client.history`). Since 1.1.

    Attributes:
        id: the message's id, unique on the server and increasing (pass the
            oldest one as ``before`` to page further back).
        time: the server's UTC time when it was sent, in milliseconds since
            1970-01-01.
        kind: "public", "private", "room", "file" (a file offered: ``text``
            is its name) or "bytes" (a binary message: ``text`` is its size).
        sender: who sent it (the nickname then).
        text: the text.
    """

    id: int
    time: int
    kind: str
    sender: str
    text: str


def _rooms_from_text(text: str) -> "list[RoomInfo]":
    """papo_client_rooms()'s lines: ``name TAB members TAB topic``."""
    rooms = []
    for line in text.split("\n"):
        if not line:
            continue
        name, members, topic = (line.split("\t", 2) + ["", ""])[:3]
        rooms.append(RoomInfo(name=name, members=int(members or 0), topic=topic))
    return rooms


def _history_from_text(text: str) -> "list[HistoryEntry]":
    """papo_client_history()'s lines: ``id TAB time TAB kind TAB from TAB
    text`` (the text last: it may hold TABs)."""
    entries = []
    for line in text.split("\n"):
        if not line:
            continue
        parts = line.split("\t", 4)
        if len(parts) != 5:
            continue
        entries.append(
            HistoryEntry(
                id=int(parts[0]),
                time=int(parts[1]),
                kind=parts[2],
                sender=parts[3],
                text=parts[4],
            )
        )
    return entries


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
    data: Optional[bytes] = None
    if kind is EventKind.BYTES:
        data = ctypes.string_at(ev.data, ev.data_len) if ev.data_len else b""
    nick = _text(ev.nick)
    sending = kind in _SEND_KINDS
    return Event(
        kind=kind,
        sender=None if sending else nick,
        text=text,
        new_nick=_text(ev.new_nick),
        code=int(ev.code),
        data=data,
        private=bool(ev.is_private),
        to=nick if sending else None,
        file_id=int(ev.file_id),
        file_name=_text(ev.file_name),
        bytes_done=int(ev.bytes_done),
        bytes_total=int(ev.bytes_total),
        # the path's own bytes, as the file system knows them
        path=None if ev.path is None else os.fsdecode(ev.path),
        userdata=int(ev.userdata) if kind is EventKind.REPLY else 0,
        room=_text(ev.room),
        by=_text(ev.by),
        id=int(ev.message_id),
        time=int(ev.time_ms),
        attempt=int(ev.attempt),
        recovered=bool(ev.recovered),
        count=int(ev.count),
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
