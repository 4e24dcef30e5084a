"""Finding papo servers on the LAN: :func:`discover` (``papo_discover``).

``papo-server`` announces itself with mDNS/DNS-SD as ``_papo._tcp.local.``
(PROTOCOL.md, "Discovery"); this asks the LAN who answers, so that nobody
has to type an IP address. A server listening on 127.0.0.1 is not announced
(nobody else could reach it): start it with ``--address 0.0.0.0`` (or the
machine's LAN address) to be found.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import List, Optional, Tuple

from . import _ffi
from .errors import check


@dataclass(frozen=True)
class DiscoveredServer:
    """One server found on the LAN.

    Connect with ``papo.Client(server.address, server.port, nick)`` (add
    ``password=...`` when :attr:`password_required`)."""

    #: The announced name, for people ("papo on lab-pc").
    name: str
    #: The announcing machine's mDNS host name ("lab-pc.local.").
    host: str
    #: The address to connect to (IPv4 when the server has one).
    address: str
    #: Every announced address, IPv4 first (IPv6 link-local ones left out).
    addresses: Tuple[str, ...]
    #: The plain-text chat port.
    port: int
    #: The TLS port, or None when the server announced none.
    tls_port: Optional[int]
    #: The HTTP port of the browser client, or None.
    http_port: Optional[int]
    #: The server's papo version ("1.0.0"), or None when not announced.
    version: Optional[str]
    #: Whether the server asks for a password before the nickname.
    password_required: bool


def _text(raw: Optional[bytes]) -> str:
    return raw.decode("utf-8", "replace") if raw is not None else ""


def discover(timeout: float = 2.0) -> List[DiscoveredServer]:
    """The papo servers that answer on the LAN within ``timeout`` seconds,
    sorted by name; possibly an empty list. Blocks for the whole
    ``timeout`` (1 to 3 s finds the servers of a LAN); the GIL is released
    meanwhile, so call it from a worker thread in a GUI. A timeout of 0
    returns an empty list at once without sending anything.

    Raises :class:`papo.InvalidArgument` for a negative timeout and
    :class:`papo.IoError` when the mDNS socket cannot be opened."""
    if timeout < 0:
        timeout_ms = -1  # the library refuses it with its own words
    else:
        timeout_ms = min(int(timeout * 1000), 2**31 - 1)
    handle = _ffi.DiscoveryPtr()
    check(_ffi.papo_discover(timeout_ms, ctypes.byref(handle)))
    try:
        count = ctypes.c_size_t(0)
        check(_ffi.papo_discovery_count(handle, ctypes.byref(count)))
        found = []
        for i in range(count.value):
            ptr = ctypes.POINTER(_ffi.papo_discovered_server)()
            check(_ffi.papo_discovery_get(handle, i, ctypes.byref(ptr)))
            s = ptr.contents
            addresses = tuple(a for a in _text(s.addresses).split("\n") if a)
            found.append(
                DiscoveredServer(
                    name=_text(s.name),
                    host=_text(s.host),
                    address=_text(s.address),
                    addresses=addresses,
                    port=int(s.port),
                    tls_port=int(s.tls_port) or None,
                    http_port=int(s.http_port) or None,
                    version=_text(s.version) or None,
                    password_required=bool(s.password_required),
                )
            )
        return found
    finally:
        _ffi.papo_discovery_free(handle)
