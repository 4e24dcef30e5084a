"""Ownership of C handles, and the conversions every call needs.

A :class:`_Handle` owns one ``papo_server *`` or ``papo_client *``. Each call
into the library *borrows* it; :meth:`_Handle.close` stops new borrows, waits
until the calls in progress have returned, then frees the handle exactly once
(``Desconecta_Servidor`` / ``Desconecta_cliente``). So no thread can ever use
a freed handle, whatever the threads do, and a handle is never freed twice.
Waits for events are cut into short slices (:data:`SLICE_SECONDS`) so that a
thread blocked in ``next_event`` lets ``close`` in quickly.
"""

from __future__ import annotations

import ctypes
import math
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator, List, Optional, Type

from . import _ffi
from .errors import Closed, Error, InvalidArgument, check

#: Longest single wait inside the library, in seconds. A thread waiting for an
#: event re-checks between slices whether its object was closed.
SLICE_SECONDS = 0.1


class _Handle:
    """One C handle, freed exactly once after every borrow has ended."""

    def __init__(self, ptr: Any, free: Callable[[Any], int], what: str) -> None:
        self._ptr = ptr
        self._free = free
        self._what = what
        self._cond = threading.Condition(threading.Lock())
        self._borrowers = 0
        self._closing = False
        self._freed = False
        #: ctypes objects the library may call or read until the handle is
        #: freed (wake-up callbacks): kept alive here.
        self.keepalive: List[Any] = []

    @property
    def closed(self) -> bool:
        return self._closing

    @contextmanager
    def borrow(self) -> Iterator[Any]:
        """The pointer, valid for the duration of the ``with`` block. Raises
        :class:`papo.Closed` if the handle is closed or closing."""
        with self._cond:
            if self._closing:
                raise Closed(f"this {self._what} is closed")
            self._borrowers += 1
        try:
            yield self._ptr
        finally:
            with self._cond:
                self._borrowers -= 1
                if self._borrowers == 0:
                    self._cond.notify_all()

    def close(self) -> None:
        """Frees the handle once every borrow has ended; later and concurrent
        calls wait for that and return. Never raises."""
        with self._cond:
            if self._closing:
                while not self._freed:
                    self._cond.wait()
                return
            self._closing = True
            while self._borrowers:
                self._cond.wait()
        try:
            self._free(self._ptr)
        finally:
            with self._cond:
                self._freed = True
                self._ptr = None
                self.keepalive.clear()
                self._cond.notify_all()


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
