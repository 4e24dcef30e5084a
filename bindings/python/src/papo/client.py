"""The chat client (``papo_client`` in C)."""

from __future__ import annotations

import ctypes
import os
import threading
import time
import weakref
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, Type, Union

from . import _ffi
from ._handle import (
    _Handle,
    _Interrupter,
    check_timeout,
    in_main_thread,
    encode,
    port_arg,
    read_string,
    seconds_to_ms,
    set_options,
    size_arg,
    split_users,
    wait_ms,
    wait_readable,
)
from .errors import (
    Closed,
    ConnectionAborted,
    Error,
    InvalidAddress,
    InvalidArgument,
    InvalidNick,
    InvalidRoom,
    InvalidText,
    check,
    failure,
)
from .events import (
    Event,
    EventKind,
    HistoryEntry,
    RoomInfo,
    _event_from_c,
    _history_from_text,
    _rooms_from_text,
)

__all__ = ["Client"]


#: Set while a wake-up callback runs on this (library) thread: the library
#: cannot free a handle from there (Desconecta_cliente is 17), so closing
#: is deferred instead.
_in_wakeup = threading.local()


def _close_handle(
    handle: _Handle, event_lock: threading.Lock, interrupter: _Interrupter
) -> None:
    """Closes a client's handle, from another thread when this one is inside
    a wake-up callback (where a garbage collection may run a finalizer).

    Before freeing, the wait in progress (if any) is ended with
    ``papo_client_wakeup`` (kept for the next wait if none is in progress
    yet; a main-thread wait through the interrupter's pipe) and the event
    lock is taken, so that no thread is reading the library's event while it
    is freed."""

    def stop_waits() -> threading.Lock:
        ptr = handle.raw()
        if ptr is not None:
            _ffi.papo_client_wakeup(ptr)
        interrupter.poke()
        event_lock.acquire()
        return event_lock

    def close() -> None:
        handle.close(stop_waits)

    if getattr(_in_wakeup, "active", False):
        threading.Thread(target=close, name="papo-close", daemon=True).start()
    else:
        close()


class Client:
    """A chat client connected to a papo server under a nickname (seed 000:
    ``Conecta_cliente``).

    The constructor connects to ``ip``:``port`` and registers ``nick``.
    ``ip`` is an IPv4 address, an IPv6 address with or without brackets
    (``"::1"``, ``"[::1]"``) or a host name such as ``"localhost"``
    (resolved by the system within ``connect_timeout``); "" means
    127.0.0.1 (seed 000). The constructor it returns once the server has accepted the nickname.
    From then on, what arrives (messages, joins, departures, renames) is
    queued by the library's reader thread and pulled with :meth:`next_event`
    or :meth:`events`; no library thread ever runs Python code (unless you
    install a :meth:`set_wakeup` callback). Use it as a context manager, or
    call :meth:`close` (``Desconecta_cliente``): everyone else is then told
    that this client left.

    Keyword arguments (None keeps the library's default):

    - ``connect_timeout``: seconds to connect and register (default 5.0);
      past it the constructor raises :class:`papo.InvalidServer`;
    - ``reply_timeout``: seconds to wait for the server's answer to a
      private message, :meth:`users`, :meth:`change_nick` or :meth:`ping`
      (default 10.0); past it they raise :class:`papo.Timeout`;
    - ``event_queue_capacity``: events kept for :meth:`next_event` (default
      65536). When it is full the library stops reading from the server
      until events are taken, so nothing is lost;
    - ``password``: the server's password, sent as ``/pass <password>``
      before the nickname (PROTOCOL.md "Password");
    - ``tls_ca_file``: a PEM file with the certificate(s) to trust; when
      given, the connection speaks TLS (connect to the server's TLS port,
      by convention 18001; PROTOCOL.md "TLS");
    - ``tls_server_name``: with TLS, the name the server's certificate must
      carry (default: ``ip``);
    - ``presence``: True (default) to get JOINED, LEFT and NICK_CHANGED
      events about other users and the user list at registration; False
      sends ``/presence off`` before the nickname (PROTOCOL.md "Presence"):
      no such events about others, no implicit list (:meth:`users` still
      works). For bots and load generators in rooms of thousands.
    - ``reconnect``: True (default) to connect again by itself when the
      connection is lost without :meth:`close` (a network cut, a server
      restart), with a server that knows resuming: RECONNECTING events
      (``event.attempt``), then RECONNECTED (``event.recovered``: True when
      nothing was lost; False when messages may be missing, see
      :meth:`history`); DISCONNECTED only after the last attempt failed
      (PROTOCOL.md "Resuming a connection"). Since 1.1.
    - ``reconnect_attempts``: attempts in a row before giving up (default
      10); ``reconnect_delay``: seconds before the first (default 0.2),
      doubled each attempt up to ``reconnect_max_delay`` (default 5.0), each
      delay times a random factor between 0.5 and 1. Since 1.1.

    Raises:
        InvalidAddress: (05) ``ip`` is neither an IP address nor a host
            name (``"999.1.1.1"``, ``"1.2.3.4:80"``, ``"não é ip"``: refused
            without any lookup), or the name does not resolve in time.
        InvalidServer: (04) nothing answers there in time, or it is not a
            papo server (with TLS: the handshake failed, or the certificate
            is not trusted or not for ``tls_server_name``).
        NickInUse: (01) the nickname is taken ("Ana" and "ana" are the same).
        InvalidNick: (06) the nickname is empty, too long, ``quit``, or has a
            forbidden character (``:`` ``/`` ``\\`` ``*`` ``,``, whitespace).
        ServerFull: (12) the server holds its maximum number of clients.
        AccessDenied: (19) the server wants a password and got none or a
            wrong one.
        IoError: (15) ``tls_ca_file`` cannot be read.
        ConnectionAborted: (03) the connection was lost while registering.
        InvalidArgument: (17) a port or timeout out of range, or called
            inside a :meth:`set_wakeup` callback (connecting waits).
        TypeError: an argument has the wrong type.

    Thread safety: every method may be called from several threads at once;
    in particular :meth:`send` from many threads. :meth:`next_event` calls
    are served one at a time. :meth:`close` may be called while other
    threads are inside calls: a thread blocked in :meth:`next_event` (or
    waiting for the server's answer) returns at once, raising
    :class:`papo.Closed`, and :meth:`close`
    returns once they are out of the library. A client that is
    garbage-collected without being closed is closed then (and at
    interpreter exit).

    Every error carries the library's detail (``exc.detail``, and in
    ``str(exc)``), e.g. ``nickname "ana" is already in use``.

    Event loops: :meth:`fileno` is a descriptor readable while events are
    queued (``select``, asyncio, Tk's ``createfilehandler``), and
    :meth:`wakeup` ends a blocked :meth:`next_event`; for asyncio,
    :class:`papo.aio.Client` does all of it.
    """

    def __init__(
        self,
        ip: str,
        port: int,
        nick: str,
        *,
        connect_timeout: Optional[float] = None,
        reply_timeout: Optional[float] = None,
        event_queue_capacity: Optional[int] = None,
        password: Optional[str] = None,
        tls_ca_file: Optional[str] = None,
        tls_server_name: Optional[str] = None,
        presence: bool = True,
        reconnect: bool = True,
        reconnect_attempts: Optional[int] = None,
        reconnect_delay: Optional[float] = None,
        reconnect_max_delay: Optional[float] = None,
    ) -> None:
        ip_b = encode(ip, "ip", InvalidAddress)
        port = port_arg(port)
        nick_b = encode(nick, "nickname", InvalidNick)
        values: Dict[str, Any] = {}
        if connect_timeout is not None:
            values["connect_timeout_ms"] = seconds_to_ms(connect_timeout, "connect_timeout")
        if reply_timeout is not None:
            values["reply_timeout_ms"] = seconds_to_ms(reply_timeout, "reply_timeout")
        if event_queue_capacity is not None:
            values["event_queue_capacity"] = size_arg(event_queue_capacity, "event_queue_capacity")
        if password is not None:
            values["password"] = encode(password, "password", InvalidArgument)
        if tls_ca_file is not None:
            values["tls_ca_file"] = encode(tls_ca_file, "tls_ca_file", InvalidArgument)
        if tls_server_name is not None:
            values["tls_server_name"] = encode(tls_server_name, "tls_server_name", InvalidArgument)
        values["presence"] = 1 if presence else 0
        values["reconnect"] = 1 if reconnect else 0
        if reconnect_attempts is not None:
            values["reconnect_attempts"] = size_arg(reconnect_attempts, "reconnect_attempts")
        if reconnect_delay is not None:
            values["reconnect_delay_ms"] = seconds_to_ms(reconnect_delay, "reconnect_delay")
        if reconnect_max_delay is not None:
            values["reconnect_max_delay_ms"] = seconds_to_ms(
                reconnect_max_delay, "reconnect_max_delay"
            )
        options = _ffi.papo_client_options_new()
        if not options:
            raise MemoryError("papo_client_options_new: out of memory")
        try:
            set_options(_ffi.client_options_setters, options, values)
            out = _ffi.ClientPtr()
            rc = _ffi.papo_client_connect_with(ip_b, port, nick_b, options, ctypes.byref(out))
            error = failure(rc, _connect_detail(rc, ip, port, nick))
        finally:
            _ffi.papo_client_options_free(options)  # the connection copied what it needs
        if error is not None:
            raise error
        self._adopt(out, nick)

    @classmethod
    def _from_handle(cls, ptr: Any, nick: str) -> "Client":
        client = cls.__new__(cls)
        client._adopt(ptr, nick)
        return client

    def _adopt(self, ptr: Any, nick: str) -> None:
        self._handle = _Handle(ptr, _ffi.Desconecta_cliente, "client")
        self._event_lock = threading.Lock()
        self._interrupter = _Interrupter()
        self._finalizer = weakref.finalize(
            self, _close_handle, self._handle, self._event_lock, self._interrupter
        )
        # not detached by close(): the pipe outlives a wait racing with close()
        weakref.finalize(self, self._interrupter.close)
        self._event_ptr = ctypes.POINTER(_ffi.papo_event)()
        self._last_nick = nick
        self._finished = False  # the DISCONNECTED event was delivered
        self._fd: Optional[int] = None

    @contextmanager
    def _call(self) -> Iterator[Any]:
        """The handle for a call that waits for the server. The library
        answers such a call that :meth:`close` on another thread cut short
        with 03 (the connection it waited on is gone); it was this client's
        own closing, so it is raised as :class:`papo.Closed`."""
        try:
            yield self._handle.ptr
        except ConnectionAborted as exc:
            if self._handle.closed:
                raise Closed(f"the client was closed during the call ({exc.detail})") from None
            raise

    # ---- sending ----

    def send(self, text: str, to: Optional[str] = None) -> None:
        """Sends ``text`` to everyone (``to`` None or "": a public message,
        ``:text``), to the user ``to`` alone (a private message,
        ``to:text``), or to the members of the room ``to`` ("#sala", one
        this client joined: ``#sala:text``); seed 000 ``enviar_Msg(Destino,
        mensagem)``.

        A public message returns once written to the connection. A private
        or room message waits for the server's answer: returning is the
        seed's "Mensagem enviada" (message sent).

        Raises:
            NoSuchUser: (02) ``to`` is not online.
            NotInRoom: (21) ``to`` is a room this client is not in.
            InvalidRoom: (23) ``to`` starts with "#" but cannot be a room.
            ConnectionAborted: (03) the connection is lost.
            TooLong: (07) over the server's line limit (4096 bytes).
            InvalidText: (08) control characters other than TAB (line breaks
                included), or a NUL.
            Empty: (09) empty text.
            InvalidNick: (06) ``to`` cannot be a nickname.
            Timeout: (11) no answer within the reply timeout.
            Closed: (14) this client is closed.

        Thread safety: may be called from several threads at once.
        """
        text_b = encode(text, "text", InvalidText)
        to_b = None if to is None or to == "" else encode(to, "destination", InvalidNick)
        with self._call() as p:
            rc = _ffi.enviar_Msg(p, to_b, text_b)
            check(rc, to if rc == _ffi.PAPO_ERR_NO_SUCH_USER else None)

    def send_bytes(
        self, data: Union[bytes, bytearray, memoryview], to: Optional[str] = None
    ) -> None:
        """Sends ``data``, any bytes (NUL, line breaks, binary data), as one
        binary message to everyone else (``to`` None or "") or to the user
        ``to`` alone (PROTOCOL.md "Files and binary payloads"). Receivers get
        a BYTES event whose ``data`` is exactly these bytes. Returns once the
        server has taken the whole message.

        Raises:
            NoSuchUser: (02) ``to`` is not online.
            TooLong: (07) over the server's ``max_payload_bytes`` (256 KiB
                by default); nothing is delivered.
            InvalidNick: (06) ``to`` cannot be a nickname.
            ConnectionAborted: (03), Timeout: (11), Closed: (14).
            TypeError: ``data`` is not bytes-like.

        Thread safety: may be called from several threads at once.
        """
        if isinstance(data, str) or not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data must be bytes-like, not {type(data).__name__}")
        payload = bytes(data)
        to_b = None if to is None or to == "" else encode(to, "destination", InvalidNick)
        with self._call() as p:
            rc = _ffi.papo_client_send_bytes(p, to_b, payload, len(payload))
            check(rc, to if rc == _ffi.PAPO_ERR_NO_SUCH_USER else None)

    def send_file(self, path: Union[str, "os.PathLike[str]"], to: Optional[str] = None) -> int:
        """Sends the file at ``path`` to everyone else (``to`` None or "";
        seed 002's ``/sendFile``) or to the user ``to`` alone, and returns
        the transfer's number (the ``file_id`` of its events).

        Returns once the server has accepted the file; a library thread then
        streams it from disk, 64 KiB at a time (never read whole into
        memory), while this client keeps working. Progress and the outcome
        arrive as events: FILE_SEND_PROGRESS, then FILE_SENT or
        FILE_SEND_FAILED. Receivers get FILE_OFFERED, FILE_PROGRESS, then
        FILE_RECEIVED with the path it was saved at.

        Raises:
            IoError: (15) the file cannot be opened.
            InvalidArgument: (17) not a regular file.
            NoSuchUser: (02) ``to`` is not online.
            TooLong: (07) larger than the server's ``max_file_bytes`` (4 GiB
                by default): refused before anything is sent.
            ServerFull: (12) 16 files of this client are on their way already.
            InvalidNick: (06), ConnectionAborted: (03), Timeout: (11),
            Closed: (14).
        """
        path_b = os.fsencode(path)
        if b"\0" in path_b:
            raise InvalidText("path contains a NUL character")
        to_b = None if to is None or to == "" else encode(to, "destination", InvalidNick)
        file_id = ctypes.c_uint64(0)
        with self._call() as p:
            rc = _ffi.papo_client_send_file(p, to_b, path_b, ctypes.byref(file_id))
            check(rc, to if rc == _ffi.PAPO_ERR_NO_SUCH_USER else os.fsdecode(path_b))
        return int(file_id.value)

    @property
    def download_dir(self) -> str:
        """The folder where received files are saved: ``~/papo-downloads``
        by default (seed 002), created when a file arrives. Assign a path
        (str or os.PathLike) to change it, None to go back to the default;
        files already arriving keep their folder. Raises
        :class:`papo.Closed` after :meth:`close`."""
        return read_string(_ffi.papo_client_download_dir, self._handle.ptr, 256)

    @download_dir.setter
    def download_dir(self, path: Optional[Union[str, "os.PathLike[str]"]]) -> None:
        path_b = None if path is None else os.fsencode(path)
        if path_b is not None and b"\0" in path_b:
            raise InvalidText("path contains a NUL character")
        rc = _ffi.papo_client_set_download_dir(self._handle.ptr, path_b)
        check(rc)

    # ---- rooms and history (since 1.1) ----

    def join(self, room: str) -> None:
        """Joins ``room`` ("#" and 1 to 32 characters without spaces, ":"
        or ","), creating it (with this client as its operator) if nobody
        is in it (``/join``, PROTOCOL.md "Rooms"). A ROOM_JOINED event for
        this client follows, and TOPIC if the room has one; its messages
        come as ROOM events; send to it with ``send(text, to=room)``; what
        was said before: :meth:`history`.

        Raises :class:`papo.InvalidRoom` (23), :class:`papo.ConnectionAborted`,
        :class:`papo.Timeout`, :class:`papo.Closed`.

        Thread safety: may be called from several threads at once."""
        room_b = encode(room, "room", InvalidRoom)
        with self._call() as p:
            check(_ffi.papo_client_join(p, room_b))

    def part(self, room: str) -> None:
        """Leaves ``room`` (``/part``); a ROOM_LEFT event for this client
        follows. Raises :class:`papo.NotInRoom` (21), :class:`papo.InvalidRoom`
        (23), :class:`papo.ConnectionAborted`, :class:`papo.Timeout`,
        :class:`papo.Closed`."""
        room_b = encode(room, "room", InvalidRoom)
        with self._call() as p:
            check(_ffi.papo_client_part(p, room_b))

    def rooms(self) -> List[RoomInfo]:
        """Every room on the server, with its member count and topic, fresh
        from the server (``/rooms``). Raises :class:`papo.ConnectionAborted`,
        :class:`papo.Timeout`, :class:`papo.Closed`."""
        with self._call() as p:
            return _rooms_from_text(read_string(_ffi.papo_client_rooms, p, 4096))

    def history(
        self, target: str, n: Optional[int] = None, before: Optional[int] = None
    ) -> List[HistoryEntry]:
        """Messages from history (``/history``, PROTOCOL.md "History"), oldest
        first: ``target`` is "#room" (a room this client is in), "*" (the
        public messages) or a nickname (this client's own private
        conversation with it: nobody can read another pair's). At most
        ``n`` messages (None: the server's default, 50; it caps at 500),
        with an id below ``before`` when given (to page back, pass the
        oldest :attr:`HistoryEntry.id` of the previous answer).

        Raises :class:`papo.NotInRoom` (21), :class:`papo.InvalidRoom` (23),
        :class:`papo.InvalidNick` (06), :class:`papo.InvalidArgument` (a
        negative ``n`` or ``before``), :class:`papo.ConnectionAborted`,
        :class:`papo.Timeout`, :class:`papo.Closed`."""
        target_b = encode(target, "target", InvalidNick)
        count = 0 if n is None else n
        after = 0 if before is None else before
        if count < 0 or count > 2**31 - 1 or after < 0 or after >= 2**64:
            raise InvalidArgument(f"history: n={n!r}, before={before!r} out of range")

        def call(p: Any, buf: Any, size: int, out_len: Any) -> int:
            return int(_ffi.papo_client_history(p, target_b, count, after, buf, size, out_len))

        with self._call() as p:
            return _history_from_text(read_string(call, p, 8192))

    def users(self) -> List[str]:
        """The nicknames online, fresh from the server (``/list``), sorted
        case-insensitively. Raises :class:`papo.ConnectionAborted`,
        :class:`papo.Timeout`, :class:`papo.Closed`."""
        with self._call() as p:
            return split_users(read_string(_ffi.papo_client_users, p, 4096))

    @property
    def nick(self) -> str:
        """This client's current nickname (it changes with
        :meth:`change_nick`, and when the server renames this client: a
        RENAMED event). After :meth:`close`, the last one it had."""
        try:
            self._last_nick = read_string(_ffi.papo_client_nick, self._handle.ptr, 128)
        except Closed:
            pass
        return self._last_nick

    def change_nick(self, new_nick: str) -> None:
        """Changes this client's nickname (``/nick new_nick``, seed 002).
        Returns once the server has accepted it; everyone, this client
        included, then gets a NICK_CHANGED event.

        Raises :class:`papo.NickInUse` (01), :class:`papo.InvalidNick` (06),
        :class:`papo.ConnectionAborted`, :class:`papo.Timeout`,
        :class:`papo.Closed`; the old nickname stays on error."""
        nick_b = encode(new_nick, "nickname", InvalidNick)
        with self._call() as p:
            rc = _ffi.papo_client_set_nick(p, nick_b)
            check(rc, new_nick)
        self._last_nick = new_nick

    def ping(self) -> None:
        """A no-op round trip (``/ping``): when it returns, the server has
        processed everything this client sent before it. Raises
        :class:`papo.ConnectionAborted`, :class:`papo.Timeout`,
        :class:`papo.Closed`."""
        with self._call() as p:
            check(_ffi.papo_client_ping(p))

    # ---- receiving ----

    def next_event(self, timeout: Optional[float] = None) -> Optional[Event]:
        """The next event, waiting up to ``timeout`` seconds for one (None:
        until one comes; 0: do not wait). Returns None if none came in time,
        or at once when :meth:`wakeup` was called (during the wait, or before
        it since the last wait).

        The wait happens with no polling: it ends the moment an event is
        queued, and :meth:`close` from another thread ends it at once (the
        waiting call then raises :class:`papo.Closed`). On other threads it
        is the library's own wait (``papo_client_wait_event``); on the main
        thread it is a ``poll()`` on :meth:`fileno` (and a private pipe that
        :meth:`wakeup` and :meth:`close` write to), because only there do
        signals arrive, and Python cannot raise Ctrl-C's KeyboardInterrupt
        inside a C call: the main thread's wait stays interruptible.

        When the connection ends (the server closed, or the connection was
        lost) the last event is a DISCONNECTED event (``code`` 3); every call
        after it raises :class:`papo.Closed`, as does every call after
        :meth:`close`. Raises :class:`papo.InvalidArgument` for a negative
        timeout.

        Thread safety: calls from several threads are served one at a time
        (each event goes to exactly one caller).
        """
        timeout = check_timeout(timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        main = timeout != 0 and in_main_thread()
        while True:
            ms, capped = (0, False) if main else wait_ms(deadline)
            rc, event, error = self._wait(ms)
            if rc == _ffi.PAPO_OK:
                if event is not None:  # else a kind these bindings do not know
                    return event
                continue
            if rc != _ffi.PAPO_ERR_TIMEOUT:
                assert error is not None
                raise error
            if self._handle.closed:  # woken by close() on another thread
                raise Closed("this client was closed while waiting for an event")
            if not main:
                if capped:  # a wait longer than the C API's int32 milliseconds
                    continue
                self._interrupter.drain()  # the wakeup() that ended it, if any
                return None
            if deadline is not None and time.monotonic() >= deadline:
                return None
            try:
                outcome = wait_readable(self.fileno(), self._interrupter, deadline)
            except OSError:
                if self._handle.closed:
                    raise Closed("this client was closed while waiting for an event") from None
                raise
            if outcome == "event":
                continue
            if self._handle.closed:
                raise Closed("this client was closed while waiting for an event")
            return None

    def _wait(self, ms: int) -> Tuple[int, Optional[Event], Optional[Error]]:
        """One ``papo_client_wait_event``: its code, the event copied (OK),
        or the exception (other codes but TIMEOUT)."""
        # Under the lock: the event lives until the next wait or the free,
        # and close() frees only while holding this lock.
        with self._event_lock:
            if self._finished:
                raise Closed("the connection ended; every event has been delivered")
            rc = _ffi.papo_client_wait_event(self._handle.ptr, ms, ctypes.byref(self._event_ptr))
            if rc != _ffi.PAPO_OK:
                error = failure(rc) if rc != _ffi.PAPO_ERR_TIMEOUT else None
                if rc == _ffi.PAPO_ERR_CLOSED:
                    self._finished = True
                    error = Closed("the connection ended; every event has been delivered")
                return rc, None, error
            event = _event_from_c(self._event_ptr.contents)
            if event is not None:
                if event.kind is EventKind.DISCONNECTED:
                    self._finished = True
                elif event.kind is EventKind.NICK_CHANGED and event.sender == self._last_nick:
                    self._last_nick = event.new_nick or self._last_nick
                elif event.kind is EventKind.RENAMED:
                    # The server renamed this client (a cluster's partition
                    # healed): always about this client.
                    self._last_nick = event.new_nick or self._last_nick
            return rc, event, None

    def _poll_event(self) -> Optional[Event]:
        """An event already queued, or None (never waits; skips kinds these
        bindings do not know). For :mod:`papo.aio`, which wants REPLY events
        too."""
        while True:
            rc, event, error = self._wait(0)
            if rc == _ffi.PAPO_OK:
                if event is None:
                    continue
                return event
            if rc == _ffi.PAPO_ERR_TIMEOUT:
                return None
            assert error is not None
            raise error

    def wakeup(self) -> None:
        """Makes a :meth:`next_event` blocked on another thread return None
        at once (``papo_client_wakeup``); if none is waiting, the next
        :meth:`next_event` returns None at once instead (one wakeup is kept,
        not counted). For a thread that waits with no timeout and must look
        at something else now and then. May be called from any thread, and
        inside a :meth:`set_wakeup` callback. Raises :class:`papo.Closed`
        after :meth:`close`."""
        check(_ffi.papo_client_wakeup(self._handle.ptr))
        self._interrupter.poke()

    def fileno(self) -> int:
        """The client's event descriptor (``papo_client_fd``): readable
        exactly while at least one event is queued for :meth:`next_event`
        (level-triggered), for ``select``/``poll``/``selectors``, asyncio's
        ``loop.add_reader``, Tk's ``createfilehandler``, GLib or Qt. Reading
        from it is the library's business: wait for readability, then call
        :meth:`next_event` with ``timeout=0`` until it returns None.

        The descriptor belongs to the client: never close it; :meth:`close`
        closes it (stop watching it before that). It is made on the first
        call (a client never asked pays for no descriptor) and the same
        number is returned after. Raises :class:`papo.IoError` (15) if no
        descriptor can be made (the process is out of them), and
        :class:`papo.Closed` after :meth:`close`.

        Thread safety: may be called from any thread."""
        if self._fd is None:
            fd = ctypes.c_int(-1)
            check(_ffi.papo_client_fd(self._handle.ptr, ctypes.byref(fd)))
            self._fd = int(fd.value)
        if self._handle.closed:
            raise Closed("this client is closed")
        return self._fd

    # ---- asynchronous requests (used by papo.aio) ----

    def _send_async(self, text: str, to: Optional[str], userdata: int) -> None:
        text_b = encode(text, "text", InvalidText)
        to_b = _destination(to)
        check(_ffi.papo_client_send_async(self._handle.ptr, to_b, text_b, userdata))

    def _send_bytes_async(
        self, data: Union[bytes, bytearray, memoryview], to: Optional[str], userdata: int
    ) -> None:
        if isinstance(data, str) or not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data must be bytes-like, not {type(data).__name__}")
        payload = bytes(data)
        to_b = _destination(to)
        rc = _ffi.papo_client_send_bytes_async(
            self._handle.ptr, to_b, payload, len(payload), userdata
        )
        check(rc)

    def _send_file_async(
        self, path: Union[str, "os.PathLike[str]"], to: Optional[str], userdata: int
    ) -> None:
        path_b = os.fsencode(path)
        if b"\0" in path_b:
            raise InvalidText("path contains a NUL character")
        to_b = _destination(to)
        rc = _ffi.papo_client_send_file_async(self._handle.ptr, to_b, path_b, userdata)
        check(rc, os.fsdecode(path_b))

    def _set_nick_async(self, new_nick: str, userdata: int) -> None:
        nick_b = encode(new_nick, "nickname", InvalidNick)
        check(_ffi.papo_client_set_nick_async(self._handle.ptr, nick_b, userdata), new_nick)

    def _ping_async(self, userdata: int) -> None:
        check(_ffi.papo_client_ping_async(self._handle.ptr, userdata))

    def _users_async(self, userdata: int) -> None:
        check(_ffi.papo_client_users_async(self._handle.ptr, userdata))

    def events(self, timeout: float = 0.5) -> Iterator[Event]:
        """Iterates over the events as they arrive, and stops when none has
        arrived for ``timeout`` seconds, after the DISCONNECTED event, or when
        the client is closed. Thread safety as :meth:`next_event`."""
        check_timeout(timeout)
        while True:
            try:
                event = self.next_event(timeout)
            except Closed:
                return
            if event is None:
                return
            yield event
            if event.kind is EventKind.DISCONNECTED:
                return

    def set_wakeup(self, callback: Optional[Callable[[], None]]) -> None:
        """Installs (or with None removes) a function called each time an
        event is queued, so that an event loop knows when to call
        :meth:`next_event` (like ``mpv_set_wakeup_callback``).

        The callback runs on the library's reader thread, not on yours: it
        must return quickly and must not touch a GUI toolkit; hand over
        instead (``loop.call_soon_threadsafe``, ``queue.put``, writing to a
        pipe). Inside it (of this client or any other), every call that
        would wait raises :class:`papo.InvalidArgument` (17) and does
        nothing: connecting a :class:`Client`, a private :meth:`send`,
        :meth:`users`, :meth:`change_nick`, :meth:`ping`, :meth:`send_file`,
        :meth:`send_bytes` and :meth:`next_event`; a public :meth:`send`,
        :attr:`nick`, :attr:`download_dir` and :meth:`set_wakeup` work there
        (the library's rule, ``papo_client_set_wakeup``), and :meth:`close`
        is handed to another thread (a handle cannot be freed inside a
        callback). An exception in it is printed and ignored. It is never called after
        :meth:`close` returns; it may still run once while a call that
        replaces or removes it is in progress. A call is a hint, not a
        count: an event queued at the very moment the callback is installed
        may call it although that event was already pulled. The callback (and whatever it
        refers to) is kept alive until the client is closed. Pulling with a
        timeout needs no callback; this is for event loops that must not
        block.
        """
        if callback is None:
            cfunc = _ffi.WAKEUP_CALLBACK()  # a NULL function pointer
        else:
            if not callable(callback):
                raise TypeError("callback must be callable or None")

            def trampoline(_userdata: Any) -> None:
                _in_wakeup.active = True
                try:
                    callback()
                finally:
                    _in_wakeup.active = False

            cfunc = _ffi.WAKEUP_CALLBACK(trampoline)
        p = self._handle.ptr
        if callback is not None:
            # kept until the handle is freed: the reader thread may be
            # about to call an old callback while a new one is installed
            self._handle.keepalive.append(cfunc)
        rc = _ffi.papo_client_set_wakeup(p, cfunc, None)
        check(rc)

    # ---- closing ----

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has been called."""
        return self._handle.closed

    def close(self) -> None:
        """Leaves the chat (``Desconecta_cliente``): sends ``quit``, closes the
        connection and frees the library's client; everyone else gets a LEFT
        event. Waits for calls in progress on other threads to return first.
        Calling it again does nothing. Never raises.

        Called from inside a :meth:`set_wakeup` callback (where the library
        cannot free the handle), it only starts the closing on another
        thread and returns at once."""
        _close_handle(self._handle, self._event_lock, self._interrupter)  # idempotent
        self._finalizer.detach()

    def __enter__(self) -> "Client":
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<papo.Client {self._last_nick!r} {state}>"


def _destination(to: Optional[str]) -> Optional[bytes]:
    """A message's destination for C: NULL for everyone (None or "")."""
    return None if to is None or to == "" else encode(to, "destination", InvalidNick)


def _connect_detail(rc: int, ip: str, port: int, nick: str) -> Optional[str]:
    if rc in (_ffi.PAPO_ERR_NICK_IN_USE, _ffi.PAPO_ERR_INVALID_NICK):
        return nick
    if rc in (_ffi.PAPO_ERR_INVALID_ADDRESS,):
        return ip
    if rc in (_ffi.PAPO_ERR_INVALID_SERVER, _ffi.PAPO_ERR_CONNECTION_ABORTED):
        return f"{ip or '127.0.0.1'} port {port}"
    return None
