"""Ownership of C handles, and the conversions every call needs.

A :class:`_Handle` owns one ``papo_server *`` or ``papo_client *``. Each call
into the library *borrows* it; :meth:`_Handle.close` stops new borrows, waits
until the calls in progress on other threads have returned, then frees the
handle exactly once (``Desconecta_Servidor`` / ``Desconecta_cliente``). So no
thread can use a freed handle, and a handle is never freed twice. Waits for
events are cut into short slices (:data:`SLICE_SECONDS`) so that a thread
blocked in ``next_event`` lets ``close`` in quickly.

Asynchronous exceptions (Ctrl-C's KeyboardInterrupt in the main thread) may
strike between any two Python calls, so the bookkeeping is written to stay
consistent when they do: borrows are counted per thread (a count left behind
by an interrupted call of the closing thread itself cannot block its
``close``), waits poll instead of relying on notifications that could be
lost, and the handle is marked freed and freed inside one locked block with
no Python call in between (the free function is the ctypes function itself),
so an interruption can never cause a double free or a hang.
"""

from __future__ import annotations

import ctypes
import math
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Optional, Type

from . import _ffi
from .errors import Closed, Error, InvalidArgument, check

#: Longest single wait inside the library, in seconds. A thread waiting for an
#: event re-checks between slices whether its object was closed.
SLICE_SECONDS = 0.1

#: How often ``close`` looks again whether other threads' calls have returned.
_CLOSE_POLL_SECONDS = 0.005


class _Handle:
    """One C handle, freed exactly once after the other threads' borrows end."""

    def __init__(self, ptr: Any, free: Callable[[Any], Any], what: str) -> None:
        self._ptr = ptr
        self._free = free  # the ctypes function itself (see the module's docstring)
        self._what = what
        self._lock = threading.Lock()
        self._borrowers: Dict[int, int] = {}  # thread id -> calls in progress
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
        me = threading.get_ident()
        with self._lock:
            if self._closing:
                raise Closed(f"this {self._what} is closed")
            self._borrowers[me] = self._borrowers.get(me, 0) + 1
        try:
            yield self._ptr
        finally:
            with self._lock:
                left = self._borrowers.get(me, 0) - 1
                if left > 0:
                    self._borrowers[me] = left
                else:
                    self._borrowers.pop(me, None)

    def _others_borrowing(self, me: int) -> bool:
        return any(thread != me for thread in self._borrowers)

    def close(self) -> None:
        """Frees the handle once no other thread is inside a call with it.
        Calls after the first (and concurrent ones) return once it is freed.
        Never raises (except an asynchronous KeyboardInterrupt)."""
        me = threading.get_ident()
        while True:
            with self._lock:
                if self._freed:
                    return
                self._closing = True
                if not self._others_borrowing(me):
                    self._freed = True
                    ptr, self._ptr = self._ptr, None
                    self._free(ptr)
                    self.keepalive = []
                    return
            time.sleep(_CLOSE_POLL_SECONDS)


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
