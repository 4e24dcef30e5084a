"""The chat server (``papo_server`` in C)."""

from __future__ import annotations

import ctypes
import dataclasses
import os
import threading
import time
import weakref
from types import TracebackType
from typing import Any, Dict, List, Optional, Sequence, Type, Union

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
from .errors import Closed, InvalidAddress, InvalidArgument, check, failure
from .events import ServerEvent, _server_event_from_c

__all__ = ["Server"]


class Server:
    """A running papo chat server (seed 000: ``Conecta_Servidor``).

    The server listens on ``ip``:``port`` and serves every client on the
    library's own I/O threads; the constructor returns once the socket
    listens, and nothing in Python has to run for the server to serve. Use it
    as a context manager, or call :meth:`close` (``Desconecta_Servidor``):
    every client still connected is then sent error 03 and disconnected.

    ``ip`` may be IPv4 or IPv6; "" means 127.0.0.1 (seed 000 server manual
    item 2). ``port`` 0 picks any free port (read it back from :attr:`port`).
    The keyword arguments change the server's limits (PROTOCOL.md "Limits");
    None keeps the library's default:

    - ``max_line_bytes``: longest client line, in bytes (default 4096);
    - ``max_discard_bytes``: a line longer than this many bytes, line end
      or not, drops the connection with error 07; shorter over-long lines
      are only skipped (default 65536);
    - ``max_nick_chars``: longest nickname, in characters (default 32);
    - ``max_clients``: most connections at once (default 16384);
    - ``max_clients_per_ip``: most connections from one IP address (default
      0, no limit);
    - ``max_queue_bytes``: bytes that may wait for one client (its share of
      broadcasts included) before it is dropped as a slow consumer (default
      64 MiB);
    - ``max_total_queue_bytes``: bytes that may wait for all clients
      together, a broadcast queued to many counting once; past it the
      clients holding the most are dropped first as slow consumers
      (default 1 GiB);
    - ``registration_timeout``: seconds a connection has to choose a nickname
      (default 30.0);
    - ``io_threads``: I/O threads (default 0: one per core, at most 4);
    - ``event_queue_capacity``: server events kept for :meth:`next_event`
      (default 65536; further events are dropped);
    - ``max_file_bytes``: largest file a client may send, refused up front
      (default 4 GiB);
    - ``max_payload_bytes``: largest binary message (default 256 KiB);
    - ``file_stall_timeout``: seconds a receiver may take nothing while file
      data waits for it before it is dropped as a slow consumer (default
      30.0);
    - ``flood_lines_per_sec``, ``flood_burst_lines``: the flood limit: a
      client may send ``flood_burst_lines`` lines at once (default 1000),
      then ``flood_lines_per_sec`` per second (default 100; 0: no limit);
      a client over it gets error 03 and is disconnected;
    - ``keepalive_interval``: seconds of silence after which a client is
      sent ``PING :keepalive`` (default 120.0; 0: keepalive off);
    - ``keepalive_timeout``: seconds of further silence after which it is
      dropped with error 11 (default 60.0);
    - ``max_nick_attempts``: refused lines at the nickname prompt after
      which the connection is closed (default 10; 0: no limit);
    - ``password``: clients must send ``/pass <password>`` before their
      nickname; a wrong or missing one gets error 19 and a close (default
      None: no password; PROTOCOL.md "Password");
    - ``tls_cert_file``, ``tls_key_file``: PEM files with the server's
      certificate (chain) and private key; with both, the server also
      listens for TLS on ``tls_port`` (default 18001; 0 picks a free port,
      see :attr:`tls_port`), sharing one chat with the plain port
      (PROTOCOL.md "TLS").
    - ``http_port``: also listen for HTTP on this port (same IP address):
      the browser chat client at ``/``, its WebSocket at ``/ws`` (the same
      chat and limits as the plain port), Prometheus metrics at
      ``/metrics`` and ``/healthz`` (PROTOCOL.md "HTTP"). By convention
      18080; 0 picks a free port (see :attr:`http_port`). Default None: no
      HTTP port.
    - ``http_allowed_origins``: origins (``"https://chat.example.org"``)
      whose pages may open the WebSocket besides the port's own page; any
      other ``Origin`` gets 403 (default: none).
    - ``resume_grace``: seconds the server holds the nickname, rooms and
      messages of a client whose connection dropped without a quit, for it
      to come back (:class:`papo.Client` does by itself); meanwhile nobody
      sees it leave and private messages to it are accepted (default 60.0;
      0: nothing held; PROTOCOL.md "Resuming a connection"). Since 1.1.
    - ``resume_backlog``: the most missed messages a client coming back is
      sent; past it it is told messages were lost (default 1000). Since 1.1.
    - ``cluster``: several servers as one chat (PROTOCOL.md "Clusters"):
      the URL of the Redis (or Valkey) server every server of the chat uses,
      ``"redis://host:port/"`` (also ``"redis://host:port/db"``, and
      ``"unix:///path"`` for a Unix socket). Users of every server started
      with the same URL see one chat: one user list, the same public chat
      and rooms, private messages between servers, nicknames unique across
      all of them. A string that is not a Redis URL raises
      :class:`papo.InvalidArgument`. Default None: a chat of its own.
      Since 1.2.
    - ``cluster_lease``: seconds a server's claim on its users' nicknames
      lasts without being renewed: a server that stops without a goodbye
      (a crash, a lost network) has its users gone from the other servers,
      and their nicknames free, within it. From 1.0 to 3600.0 (default 10.0);
      every server of one chat should have the same value. Since 1.2.

    Two settings change the whole process, not just this server, so they
    are off unless asked for; a server program should turn both on
    (``examples/python/servidor.py`` does):

    - ``raise_nofile_limit``: True raises the process's soft limit on open
      files (``RLIMIT_NOFILE``, what ``ulimit -n`` shows) to its hard limit
      when the server starts. Each client takes one file descriptor, and the
      usual soft limit (1024) stops a server near 1,000 clients. The limit
      is never lowered again; a failure to raise it is ignored. Whatever the
      limit, a client the process has no descriptor left for is answered
      error 12 (server full) and closed. Unix only. Default False.
    - ``trim_heap``: True lets the server's I/O threads call glibc's
      ``malloc_trim(0)`` when they fall idle after writing 4 MiB or more,
      handing the heap memory freed since back to the system (after 10,000
      clients join, idle clients then cost about 1 KB each instead of
      10 KB). It acts on the process's whole heap, Python's included.
      Linux with glibc only. Default False.

    Raises:
        InvalidAddress: (05) ``ip`` is neither an IP address nor a host
            name, the name does not resolve within 5 s, or it is not an
            address of this machine.
        IoError: (15) the port is taken, or the threads cannot start.
        InvalidArgument: (17) a limit is out of range (also a ValueError).
        TypeError: an argument has the wrong type.

    Thread safety: every method may be called from any thread at once.
    :meth:`close` may be called while other threads are inside calls: a
    thread blocked in :meth:`next_event` returns at once, raising
    :class:`papo.Closed`, and :meth:`close` returns once they are out of the
    library. Errors carry the library's detail (``exc.detail``). A server that is garbage-collected without being
    closed is closed then (and at interpreter exit).
    """

    def __init__(
        self,
        ip: str = "127.0.0.1",
        port: int = 0,
        *,
        max_line_bytes: Optional[int] = None,
        max_discard_bytes: Optional[int] = None,
        max_nick_chars: Optional[int] = None,
        max_clients: Optional[int] = None,
        max_clients_per_ip: Optional[int] = None,
        max_queue_bytes: Optional[int] = None,
        max_total_queue_bytes: Optional[int] = None,
        registration_timeout: Optional[float] = None,
        io_threads: Optional[int] = None,
        event_queue_capacity: Optional[int] = None,
        max_file_bytes: Optional[int] = None,
        max_payload_bytes: Optional[int] = None,
        file_stall_timeout: Optional[float] = None,
        flood_lines_per_sec: Optional[int] = None,
        flood_burst_lines: Optional[int] = None,
        keepalive_interval: Optional[float] = None,
        keepalive_timeout: Optional[float] = None,
        max_nick_attempts: Optional[int] = None,
        password: Optional[str] = None,
        tls_cert_file: Optional[str] = None,
        tls_key_file: Optional[str] = None,
        tls_port: Optional[int] = None,
        http_port: Optional[int] = None,
        http_allowed_origins: Sequence[str] = (),
        raise_nofile_limit: bool = False,
        trim_heap: bool = False,
        oper_password: Optional[str] = None,
        history_path: Optional[Union[str, "os.PathLike[str]"]] = None,
        history_limit: Optional[int] = None,
        resume_grace: Optional[float] = None,
        resume_backlog: Optional[int] = None,
        cluster: Optional[str] = None,
        cluster_lease: Optional[float] = None,
    ) -> None:
        ip_b = encode(ip, "ip", InvalidAddress)
        port = port_arg(port)
        values: Dict[str, Any] = {}
        sizes = {
            "max_line_bytes": max_line_bytes,
            "max_discard_bytes": max_discard_bytes,
            "max_nick_chars": max_nick_chars,
            "max_clients": max_clients,
            "max_clients_per_ip": max_clients_per_ip,
            "max_queue_bytes": max_queue_bytes,
            "max_total_queue_bytes": max_total_queue_bytes,
            "event_queue_capacity": event_queue_capacity,
            "max_payload_bytes": max_payload_bytes,
        }
        for name, value in sizes.items():
            if value is not None:
                values[name] = size_arg(value, name)
        if io_threads is not None:
            values["io_threads"] = min(size_arg(io_threads, "io_threads"), 2**32 - 1)
        if max_file_bytes is not None:
            if isinstance(max_file_bytes, bool) or not isinstance(max_file_bytes, int):
                raise TypeError(
                    f"max_file_bytes must be an int, not {type(max_file_bytes).__name__}"
                )
            if not 0 <= max_file_bytes < 2**64:
                raise InvalidArgument(f"max_file_bytes {max_file_bytes} is out of range")
            values["max_file_bytes"] = max_file_bytes
        if file_stall_timeout is not None:
            values["file_stall_timeout_ms"] = seconds_to_ms(
                file_stall_timeout, "file_stall_timeout"
            )
        if registration_timeout is not None:
            values["registration_timeout_ms"] = seconds_to_ms(
                registration_timeout, "registration_timeout"
            )
        counts32 = {
            "flood_lines_per_sec": flood_lines_per_sec,
            "flood_burst_lines": flood_burst_lines,
            "max_nick_attempts": max_nick_attempts,
        }
        for name, value in counts32.items():
            if value is not None:
                value = size_arg(value, name)
                if value > 2**32 - 1:
                    raise InvalidArgument(f"{name} {value} is out of range")
                values[name] = value
        if keepalive_interval is not None:
            values["keepalive_interval_ms"] = seconds_to_ms(
                keepalive_interval, "keepalive_interval"
            )
        if keepalive_timeout is not None:
            values["keepalive_timeout_ms"] = seconds_to_ms(keepalive_timeout, "keepalive_timeout")
        if password is not None:
            values["password"] = encode(password, "password", InvalidArgument)
        if tls_cert_file is not None:
            values["tls_cert_file"] = encode(tls_cert_file, "tls_cert_file", InvalidArgument)
        if tls_key_file is not None:
            values["tls_key_file"] = encode(tls_key_file, "tls_key_file", InvalidArgument)
        if tls_port is not None:
            values["tls_port"] = port_arg(tls_port)
        if oper_password is not None:
            values["oper_password"] = encode(oper_password, "oper_password", InvalidArgument)
        if history_path is not None:
            values["history_path"] = encode(os.fspath(history_path), "history_path", InvalidArgument)
        if history_limit is not None:
            values["history_limit"] = size_arg(history_limit, "history_limit")
        if resume_grace is not None:
            values["resume_grace_ms"] = seconds_to_ms(resume_grace, "resume_grace")
        if resume_backlog is not None:
            values["resume_backlog"] = size_arg(resume_backlog, "resume_backlog")
        if cluster is not None:
            values["cluster"] = encode(cluster, "cluster", InvalidArgument)
        if cluster_lease is not None:
            values["cluster_lease_ms"] = seconds_to_ms(
                cluster_lease, "cluster_lease", maximum=2**64 - 1
            )
        if http_port is not None:
            values["http_port"] = port_arg(http_port)
        if isinstance(http_allowed_origins, (str, bytes)):
            raise TypeError("http_allowed_origins must be a sequence of str, not one str")
        origins = [
            encode(o, "http_allowed_origins", InvalidArgument) for o in http_allowed_origins
        ]
        switches = {"raise_nofile_limit": raise_nofile_limit, "trim_heap": trim_heap}
        for name, value in switches.items():
            if not isinstance(value, bool):
                raise TypeError(f"{name} must be a bool, not {type(value).__name__}")
            if value:
                values[name] = 1
        options = _ffi.papo_server_options_new()
        if not options:
            raise MemoryError("papo_server_options_new: out of memory")
        try:
            set_options(_ffi.server_options_setters, options, values)
            for origin in origins:
                check(_ffi.papo_server_options_add_http_origin(options, origin))
            out = _ffi.ServerPtr()
            rc = _ffi.papo_server_start_with(ip_b, port, options, ctypes.byref(out))
            error = failure(rc, _start_detail(rc, ip, port))
        finally:
            _ffi.papo_server_options_free(options)  # the server copied what it needs
        if error is not None:
            raise error
        self._adopt(out, ip or "127.0.0.1")

    @classmethod
    def _from_handle(cls, ptr: Any, ip: str) -> "Server":
        server = cls.__new__(cls)
        server._adopt(ptr, ip)
        return server

    def _adopt(self, ptr: Any, ip: str) -> None:
        self._handle = _Handle(ptr, _ffi.Desconecta_Servidor, "server")
        self._event_lock = threading.Lock()
        self._interrupter = _Interrupter()
        self._finalizer = weakref.finalize(
            self, _close_server, self._handle, self._event_lock, self._interrupter
        )
        # not detached by close(): the pipe outlives a wait racing with close()
        weakref.finalize(self, self._interrupter.close)
        self._event_ptr = ctypes.POINTER(_ffi.papo_server_event)()
        self._fd: Optional[int] = None
        self._ip = ip
        port = ctypes.c_uint16(0)
        tls_port = ctypes.c_uint16(0)
        check(_ffi.papo_server_port(self._handle.ptr, ctypes.byref(port)))
        check(_ffi.papo_server_tls_port(self._handle.ptr, ctypes.byref(tls_port)))
        http_port = ctypes.c_uint16(0)
        check(_ffi.papo_server_http_port(self._handle.ptr, ctypes.byref(http_port)))
        self._port = int(port.value)
        self._tls_port: Optional[int] = int(tls_port.value) or None
        self._http_port: Optional[int] = int(http_port.value) or None

    # ---- properties ----

    @property
    def ip(self) -> str:
        """The IP address the server was asked to listen on."""
        return self._ip

    @property
    def port(self) -> int:
        """The TCP port the server listens on (the real one when started on
        port 0). Still readable after :meth:`close`."""
        return self._port

    @property
    def tls_port(self) -> Optional[int]:
        """The TLS port (the real one when ``tls_port=0``), or None when the
        server has no TLS. Still readable after :meth:`close`."""
        return self._tls_port

    @property
    def http_port(self) -> Optional[int]:
        """The HTTP port (the real one when ``http_port=0``), or None when
        the server has none. Open ``http://<ip>:<http_port>/`` in a browser
        to chat. Still readable after :meth:`close`."""
        return self._http_port

    def stats(self) -> ServerStats:
        """The server's counters (``papo_server_get_stats``), the figures
        ``/metrics`` shows: a :class:`papo.ServerStats`. Cheap (a few atomic
        reads per I/O thread); may be called from any thread. Raises
        :class:`papo.Closed` after :meth:`close`."""
        raw = _ffi.papo_server_stats()
        raw.size = ctypes.sizeof(raw)
        check(_ffi.papo_server_get_stats(self._handle.ptr, ctypes.byref(raw)))
        values = {f.name: int(getattr(raw, f.name)) for f in dataclasses.fields(ServerStats)}
        return ServerStats(**values)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has been called."""
        return self._handle.closed

    @property
    def connection_count(self) -> int:
        """Active connections, registered or not (seed 004 prints this
        number). Raises :class:`papo.Closed` after :meth:`close`."""
        count = ctypes.c_size_t(0)
        check(_ffi.papo_server_connection_count(self._handle.ptr, ctypes.byref(count)))
        return int(count.value)

    @property
    def user_count(self) -> int:
        """Registered users online. Raises :class:`papo.Closed` after
        :meth:`close`."""
        count = ctypes.c_size_t(0)
        check(_ffi.papo_server_user_count(self._handle.ptr, ctypes.byref(count)))
        return int(count.value)

    def users(self) -> List[str]:
        """The nicknames online, sorted case-insensitively. Raises
        :class:`papo.Closed` after :meth:`close`."""
        return split_users(read_string(_ffi.papo_server_users, self._handle.ptr, 4096))

    # ---- events ----

    def next_event(self, timeout: Optional[float] = None) -> Optional[ServerEvent]:
        """The next server event (a client connected, registered, renamed or
        disconnected), waiting up to ``timeout`` seconds for one (None: wait
        until one comes; 0: do not wait). Returns None if none came in time,
        or at once when :meth:`wakeup` was called (during the wait, or before
        it since the last wait). The wait involves no polling, and
        :meth:`close` from another thread ends it at once. It is the
        library's (``papo_server_wait_event``) except on the main thread,
        which waits in ``poll()`` on :meth:`fileno` so that Ctrl-C's
        KeyboardInterrupt still comes (Python cannot raise it inside a C
        call; see :meth:`papo.Client.next_event`).

        Raises :class:`papo.Closed` once the server is closed (also in a
        call that was waiting then), and :class:`papo.InvalidArgument` for a
        negative timeout. Calls from several threads are served one at a
        time (each event goes to one caller).
        """
        timeout = check_timeout(timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        main = timeout != 0 and in_main_thread()
        while True:
            ms, capped = (0, False) if main else wait_ms(deadline)
            # Under the lock: the event lives until the next wait or the
            # free, and close() frees only while holding this lock.
            with self._event_lock:
                rc = _ffi.papo_server_wait_event(
                    self._handle.ptr, ms, ctypes.byref(self._event_ptr)
                )
                if rc == _ffi.PAPO_OK:
                    event = _server_event_from_c(self._event_ptr.contents)
                    if event is not None:  # else a kind these bindings do not know
                        return event
                    continue
                error = failure(rc)
            if rc != _ffi.PAPO_ERR_TIMEOUT:
                assert error is not None
                raise error
            if self._handle.closed:
                raise Closed("this server was closed while waiting for an event")
            if not main:
                if capped:
                    continue
                self._interrupter.drain()  # the wakeup() that ended it, if any
                return None
            if deadline is not None and time.monotonic() >= deadline:
                return None
            try:
                outcome = wait_readable(self.fileno(), self._interrupter, deadline)
            except OSError:
                if self._handle.closed:
                    raise Closed("this server was closed while waiting for an event") from None
                raise
            if outcome == "event":
                continue
            if self._handle.closed:
                raise Closed("this server was closed while waiting for an event")
            return None

    def wakeup(self) -> None:
        """Makes a :meth:`next_event` blocked on another thread return None
        at once (``papo_server_wakeup``); if none is waiting, the next one
        returns None at once instead. May be called from any thread. Raises
        :class:`papo.Closed` after :meth:`close`."""
        check(_ffi.papo_server_wakeup(self._handle.ptr))
        self._interrupter.poke()

    def fileno(self) -> int:
        """The server's event descriptor (``papo_server_fd``): readable
        exactly while at least one server event is queued for
        :meth:`next_event` (level-triggered), for ``select``/``poll``,
        asyncio's ``loop.add_reader`` or a GUI toolkit. Never close it:
        :meth:`close` does (stop watching it before that). Raises
        :class:`papo.IoError` (15) if no descriptor can be made,
        :class:`papo.Closed` after :meth:`close`. Thread safety: any thread."""
        if self._fd is None:
            fd = ctypes.c_int(-1)
            check(_ffi.papo_server_fd(self._handle.ptr, ctypes.byref(fd)))
            self._fd = int(fd.value)
        if self._handle.closed:
            raise Closed("this server is closed")
        return self._fd

    # ---- closing ----

    def close(self) -> None:
        """Stops the server (``Desconecta_Servidor``): every client is sent
        error 03 and disconnected, the I/O threads end and the port is
        released before this returns. Calling it again does nothing. Never
        raises."""
        _close_server(self._handle, self._event_lock, self._interrupter)
        self._finalizer.detach()

    def __enter__(self) -> "Server":
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "running"
        return f"<papo.Server {self._ip} port {self._port} {state}>"


@dataclasses.dataclass(frozen=True)
class ServerStats:
    """A server's counters (:meth:`Server.stats`, C ``papo_server_stats``),
    the figures ``/metrics`` shows. Every value counts since the server
    started, except those marked "now".

    Attributes:
        connections: now: open connections, registered or not.
        users: now: registered users online.
        accepted: connections accepted, refused ones included.
        rejected: connections refused as server full (error 12).
        messages_received: public, private and room chat messages accepted.
        deliveries: chat message lines (public, private, room) queued to
            receivers (a public message to 10 others is 10).
        lines_received: protocol lines received from clients.
        bytes_received: bytes received from clients.
        bytes_sent: bytes written to clients.
        queued_bytes: now: bytes queued for clients (a broadcast once).
        slow_consumers: clients dropped as slow consumers.
        files: files offered and accepted (FILEOK).
        dropped_events: server events dropped (event queue full).
        http_requests: HTTP requests answered on the HTTP port.
        websocket_connections: WebSocket (browser) connections.
        disconnects_client: connections ended by the client (quit, close).
        disconnects_slow_consumer: ... dropped as slow consumers.
        disconnects_flooding: ... dropped for flooding.
        disconnects_shutdown: ... ended by the server's shutdown.
        disconnects_timeout: ... registration or keepalive timeout.
        disconnects_too_long: ... an endless line or too long a message.
        disconnects_server_full: ... server full.
        disconnects_refused: ... refused at the nickname prompt.
        disconnects_error: ... anything else (I/O errors, resets).
        io_threads: the number of I/O threads.
        inbox_depth_total: now: commands waiting in all I/O threads' inboxes.
        inbox_depth_max: now: commands waiting in the fullest inbox.
        rooms: now: rooms that exist (a room lives while it has members).
    """

    connections: int
    users: int
    accepted: int
    rejected: int
    messages_received: int
    deliveries: int
    lines_received: int
    bytes_received: int
    bytes_sent: int
    queued_bytes: int
    slow_consumers: int
    files: int
    dropped_events: int
    http_requests: int
    websocket_connections: int
    disconnects_client: int
    disconnects_slow_consumer: int
    disconnects_flooding: int
    disconnects_shutdown: int
    disconnects_timeout: int
    disconnects_too_long: int
    disconnects_server_full: int
    disconnects_refused: int
    disconnects_error: int
    io_threads: int
    inbox_depth_total: int
    inbox_depth_max: int
    rooms: int


def _close_server(
    handle: _Handle, event_lock: threading.Lock, interrupter: _Interrupter
) -> None:
    """Frees the server's handle once no thread reads its event: a wait in
    progress is ended by ``papo_server_wakeup`` (kept for the next wait if
    none is in progress yet; a main-thread wait through the interrupter's
    pipe), then the event lock is taken."""

    def stop_waits() -> threading.Lock:
        ptr = handle.raw()
        if ptr is not None:
            _ffi.papo_server_wakeup(ptr)
        interrupter.poke()
        event_lock.acquire()
        return event_lock

    handle.close(stop_waits)


def _start_detail(rc: int, ip: str, port: int) -> Optional[str]:
    if rc == _ffi.PAPO_ERR_INVALID_ADDRESS:
        return ip
    if rc == _ffi.PAPO_ERR_IO:
        return f"{ip or '127.0.0.1'} port {port}"
    return None
