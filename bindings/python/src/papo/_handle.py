"""Ownership of C handles, and the conversions every call needs.

A :class:`_Handle` owns one ``papo_server *`` or ``papo_client *``. Since
the 1.0 ABI these are ids in the library's registry, never dereferenced and
never reused: a call with a handle that ``Desconecta_*`` has freed returns
``PAPO_ERR_CLOSED`` (14), it cannot crash, and ``Desconecta_*`` itself wakes
every wait in progress on the handle, waits until the calls in progress have
returned, and only then frees. So this module needs no bookkeeping of calls
in progress: :meth:`_Handle.close` frees the handle exactly once (under a
lock, with no Python call between marking it freed and freeing it, so that an
asynchronous KeyboardInterrupt cannot cause a double free), and later calls
raise :class:`papo.Closed`.

What the library cannot protect is memory it handed out: the event a wait
returned stays valid only until the next wait on the handle or its
``Desconecta_*``. The owners (:class:`papo.Client`, :class:`papo.Server`)
therefore copy events under their event lock and close only while holding
that lock (:meth:`_Handle.close` takes a ``before_free`` step for that).
"""

from __future__ import annotations

import ctypes
import math
import os
import select
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple, Type

from . import _ffi
from .errors import Closed, Error, InvalidArgument, check


class _Handle:
    """One C handle, freed exactly once."""

    def __init__(self, ptr: Any, free: Callable[[Any], Any], what: str) -> None:
        self._ptr = ptr
        self._free = free  # the ctypes function itself (see the module's docstring)
        self._what = what
        self._lock = threading.Lock()
        self._close_lock = threading.Lock()
        self._closing = False
        #: ctypes objects the library may call or read until the handle is
        #: freed (wake-up callbacks): kept alive here.
        self.keepalive: List[Any] = []

    @property
    def closed(self) -> bool:
        return self._closing

    @property
    def ptr(self) -> Any:
        """The handle for a call. Raises :class:`papo.Closed` once
        :meth:`close` has begun. (A call racing with close gets
        PAPO_ERR_CLOSED from the library instead, which is as safe.)"""
        ptr = self._ptr
        if self._closing or ptr is None:
            raise Closed(f"this {self._what} is closed")
        return ptr

    def raw(self) -> Any:
        """The handle even while closing (for the calls that end waits);
        None once freed."""
        return self._ptr

    def close(self, before_free: Optional[Callable[[], Any]] = None) -> None:
        """Marks the handle closed, runs ``before_free`` (the owner's
        chance to end its waits and take its event lock; it returns that
        lock, acquired, or None; it is released once the handle is freed),
        then frees the handle.
        Calls after the first return once it is freed. Never raises (except
        an asynchronous KeyboardInterrupt)."""
        with self._close_lock:
            self._closing = True
            if self._ptr is None:
                return
            held = before_free() if before_free is not None else None
            try:
                with self._lock:
                    ptr, self._ptr = self._ptr, None
                    self._free(ptr)
                    self.keepalive = []
            finally:
                if held is not None:
                    held.release()


class _Interrupter:
    """Ends a wait of the main thread: a pipe the wait watches beside the
    handle's event descriptor.

    Why: a wait inside the library cannot be interrupted by a signal (Python
    runs signal handlers, Ctrl-C's KeyboardInterrupt included, only between
    bytecodes, never during a C call), and a script's
    ``client.next_event()`` must stay stoppable with Ctrl-C. So the main
    thread waits in ``poll()`` instead (which Python interrupts for
    signals), on the handle's descriptor (readable while events are queued)
    and on this pipe, to which ``wakeup()`` and ``close()`` write. Other
    threads wait inside the library, where ``wakeup()`` and ``close()`` end
    their waits directly.

    The pipe is made on the first main-thread wait and closed only by the
    owner's finalizer (when the object is collected, or at exit), never by
    ``close()``: a main-thread wait that races with ``close()`` must never
    find it closed (or its numbers reused).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fds: Optional[Tuple[int, int]] = None
        self._pending = False  # poked before the pipe existed

    def read_fd(self) -> int:
        with self._lock:
            if self._fds is None:
                read_fd, write_fd = os.pipe()  # close-on-exec (PEP 446)
                os.set_blocking(read_fd, False)
                os.set_blocking(write_fd, False)
                self._fds = (read_fd, write_fd)
                if self._pending:
                    os.write(write_fd, b"!")
            return self._fds[0]

    def poke(self) -> None:
        """Makes a main-thread wait in progress (or the next one) end."""
        with self._lock:
            if self._fds is None:
                self._pending = True
                return
            try:
                os.write(self._fds[1], b"!")
            except BlockingIOError:
                pass  # full: a wake-up is pending anyway

    def drain(self) -> bool:
        """Takes the pending wake-up, if any; True if there was one."""
        with self._lock:
            woken, self._pending = self._pending, False
            if self._fds is None:
                return woken
            try:
                while os.read(self._fds[0], 512):
                    woken = True
            except BlockingIOError:
                pass
            return woken

    def close(self) -> None:
        with self._lock:
            if self._fds is not None:
                os.close(self._fds[0])
                os.close(self._fds[1])
                self._fds = None


def in_main_thread() -> bool:
    """Whether this is the thread where Python runs signal handlers."""
    return threading.current_thread() is threading.main_thread()


def wait_readable(event_fd: int, interrupter: _Interrupter, deadline: Optional[float]) -> str:
    """The main thread's wait (see :class:`_Interrupter`): until
    ``event_fd`` is readable (``"event"``), a wake-up (``"woken"``) or
    ``deadline`` (``"timeout"``). A signal's exception (KeyboardInterrupt)
    propagates. Raises OSError when the descriptor was closed meanwhile (by
    ``close()`` on another thread; the caller checks)."""
    wake_fd = interrupter.read_fd()
    # poll(), not select(): select cannot watch descriptors numbered 1024 or more
    poller = select.poll()
    poller.register(event_fd, select.POLLIN)
    poller.register(wake_fd, select.POLLIN)
    while True:
        if deadline is None:
            ready = poller.poll()
        else:
            remaining = max(0.0, deadline - time.monotonic())
            ready = poller.poll(math.ceil(remaining * 1000))
        for fd, mask in ready:
            if fd == event_fd and mask & select.POLLNVAL:
                raise OSError(9, "the event descriptor was closed")  # EBADF
        fds = {fd for fd, _mask in ready}
        if wake_fd in fds:
            interrupter.drain()
            return "woken"
        if event_fd in fds:
            return "event"
        if deadline is not None and time.monotonic() >= deadline:
            return "timeout"


# ---- argument conversions ---------------------------------------------------


def encode(value: object, what: str, error: Type[Error]) -> bytes:
    """``value`` as NUL-free UTF-8 for a ``const char *`` argument.

    Raises TypeError if it is not a str, and ``error`` if it contains a NUL
    (which C would silently cut at) or a lone surrogate (not encodable as
    UTF-8)."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    if "\0" in value:
        raise error(f"{what} contains a NUL character")
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise error(f"{what} is not encodable as UTF-8 ({exc.reason})") from None


def port_arg(port: object) -> int:
    """A TCP port for a ``uint16_t`` argument; raises TypeError or
    :class:`papo.InvalidArgument` (ctypes would silently wrap 70000 to 4464)."""
    if isinstance(port, bool) or not isinstance(port, int):
        raise TypeError(f"port must be an int, not {type(port).__name__}")
    if not 0 <= port <= 65535:
        raise InvalidArgument(f"port {port} is outside 0-65535")
    return port


def seconds_to_ms(seconds: object, what: str, maximum: int = 2**32 - 1) -> int:
    """A duration in seconds (int or float, >= 0) as whole milliseconds,
    rounded up so that a tiny positive timeout never becomes 0 ("poll")."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError(f"{what} must be a number of seconds, not {type(seconds).__name__}")
    if math.isnan(seconds) or seconds < 0:
        raise InvalidArgument(f"{what} must be >= 0 seconds, not {seconds}")
    ms = math.ceil(seconds * 1000)
    if ms > maximum:
        raise InvalidArgument(f"{what} of {seconds} s is too long (at most {maximum} ms)")
    return int(ms)


def size_arg(value: object, what: str) -> int:
    """A count for a ``size_t`` or ``uint32_t`` field: an int >= 0."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    if value < 0 or value >= 2 ** (8 * ctypes.sizeof(ctypes.c_size_t)):
        raise InvalidArgument(f"{what} {value} is out of range")
    return value


def check_timeout(timeout: Optional[float], what: str = "timeout") -> Optional[float]:
    """Validates an optional wait in seconds (None = forever)."""
    if timeout is None:
        return None
    seconds_to_ms(timeout, what, maximum=2**62)
    return float(timeout)


#: The longest wait one C call takes (``int32_t`` milliseconds, about 24.8
#: days); longer waits are made of several.
MAX_WAIT_MS = 2**31 - 1


def wait_ms(deadline: Optional[float]) -> Tuple[int, bool]:
    """The ``timeout_ms`` for one wait until ``deadline`` (``time.monotonic``
    seconds; None: forever, -1 in C), and whether it was cut to
    :data:`MAX_WAIT_MS` (then a timeout is not the end of the wait)."""
    if deadline is None:
        return -1, False
    remaining = max(0.0, deadline - time.monotonic())
    ms = math.ceil(remaining * 1000)
    if ms > MAX_WAIT_MS:
        return MAX_WAIT_MS, True
    return int(ms), False


def set_options(setters: Dict[str, Any], options: Any, values: Dict[str, Any]) -> None:
    """Calls ``setters[name](options, value)`` for each value (already
    checked for type); raises the library's exception (with its detail, e.g.
    InvalidArgument for a limit out of range) for the first it refuses."""
    for name, value in values.items():
        check(setters[name](options, value))


def read_string(func: Callable[..., int], ptr: Any, initial: int) -> str:
    """Calls a ``(handle, char *buf, size_t buf_len, size_t *out_len)``
    function, growing the buffer on PAPO_ERR_BUFFER_TOO_SMALL, and returns
    the text decoded as UTF-8 (invalid bytes replaced)."""
    size = max(16, initial)
    out_len = ctypes.c_size_t(0)
    for _ in range(8):
        buf = ctypes.create_string_buffer(size)
        rc = func(ptr, buf, size, ctypes.byref(out_len))
        if rc == _ffi.PAPO_ERR_BUFFER_TOO_SMALL:
            size = max(size * 2, out_len.value + 64)
            continue
        check(rc)
        n = min(max(out_len.value - 1, 0), size - 1)
        return buf.raw[:n].split(b"\0", 1)[0].decode("utf-8", "replace")
    raise Error("the text kept growing faster than the buffer", code=_ffi.PAPO_ERR_BUFFER_TOO_SMALL)


def split_users(text: str) -> List[str]:
    """The nicknames of a '\\n'-separated list (empty list for "")."""
    return [nick for nick in text.split("\n") if nick]
