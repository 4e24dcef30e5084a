"""papo: a TCP chat server and client, from Python.

Python bindings (ctypes) for libpapo, the chat of the IFSC document
"Protocolo para bate-papo": public (``:text``) and private (``Nick:text``)
messages between clients with unique nicknames, the list of who is online,
nickname changes, and the seed's error codes 01-05 as exceptions.

    import papo
    with papo.Server("127.0.0.1", 0) as server:            # 0 = any free port
        with papo.Client("127.0.0.1", server.port, "ana") as ana, \\
             papo.Client("127.0.0.1", server.port, "bob") as bob:
            ana.send("olá a todos")                         # public
            ana.send("oi bob", to="bob")                    # private
            event = bob.next_event(timeout=2.0)             # papo.Event or None
            print(event.kind, event.sender, event.text)     # EventKind.PUBLIC ana olá a todos

Everything here is safe to use from several threads. Times are in seconds.
For asyncio there is :class:`papo.aio.Client` (awaitable sends, ``async for``
over events, no threads of its own); for other event loops, a client's
:meth:`~papo.Client.fileno` is readable while events are queued.
Errors are :class:`papo.Error` subclasses, one per code (:mod:`papo.errors`).
The seed's five function names are here too: :func:`Conecta_Servidor`,
:func:`Conecta_cliente`, :func:`enviar_Msg`, :func:`Desconecta_Servidor`,
:func:`Desconecta_cliente`.

The shared library is the one ``pip install`` built into the package, or the
file named by the environment variable ``PAPO_LIBRARY``; see
:mod:`papo._ffi` for the full search order. If none is found, importing papo
raises ImportError with what to do.
"""

from __future__ import annotations

from . import _ffi, errors
from . import aio
from .client import Client
from .discover import DiscoveredServer, discover
from .errors import *  # Error, a class per error code, error_class, error_from_code, strerror
from .events import Event, EventKind, HistoryEntry, RoomInfo, ServerEvent, ServerEventKind
from .seed import (
    Conecta_cliente,
    Conecta_Servidor,
    Desconecta_cliente,
    Desconecta_Servidor,
    enviar_Msg,
)
from .server import Server, ServerStats

#: The version of this package (the same as libpapo's and Cargo.toml's).
__version__ = "1.2.0"

#: The default TCP port, 18000 (seed 004).
DEFAULT_PORT: int = _ffi.PAPO_DEFAULT_PORT

#: The path of the shared library these bindings loaded.
LIBRARY_PATH: str = _ffi.library_path


def version() -> str:
    """The version of the loaded libpapo (``papo_version``), e.g. "1.0.0"."""
    raw = _ffi.papo_version()
    return raw.decode("utf-8", "replace") if raw is not None else ""


__all__ = [
    "__version__",
    "version",
    "DEFAULT_PORT",
    "LIBRARY_PATH",
    "Server",
    "ServerStats",
    "Client",
    "discover",
    "DiscoveredServer",
    "aio",
    "Event",
    "EventKind",
    "ServerEvent",
    "ServerEventKind",
    "RoomInfo",
    "HistoryEntry",
    *errors.__all__,
    "Conecta_Servidor",
    "Conecta_cliente",
    "enviar_Msg",
    "Desconecta_Servidor",
    "Desconecta_cliente",
]
