"""The five functions of seed 000's chat API ("Protocolo para bate-papo",
IFSC São José, section 4 "API do Chat"), with the seed's own names, for
people following that document. They call the C functions of the same names
and return or take the same objects as the rest of the package:
:class:`papo.Server` and :class:`papo.Client`.
"""

from __future__ import annotations

import ctypes
from typing import Optional

from . import _ffi
from ._handle import encode, port_arg
from .client import Client, _connect_detail
from .errors import InvalidAddress, InvalidNick, check
from .server import Server, _start_detail

__all__ = [
    "Conecta_Servidor",
    "Conecta_cliente",
    "enviar_Msg",
    "Desconecta_Servidor",
    "Desconecta_cliente",
]


def Conecta_Servidor(ip: str = "", port: int = _ffi.PAPO_DEFAULT_PORT) -> Server:
    """Starts a chat server listening on ``ip``:``port`` with the default
    limits; ``ip`` is an IP address (IPv6 with or without brackets) or a
    host name such as "localhost", "" means 127.0.0.1 (seed 000 server
    manual item 2), port 0 picks any free port. Returns a running
    :class:`papo.Server`.

    Raises :class:`papo.InvalidAddress` (05) for an address that is
    invalid, does not resolve or is not of this machine, :class:`papo.IoError` (15) if the port is
    taken."""
    ip_b = encode(ip, "ip", InvalidAddress)
    port = port_arg(port)
    out = _ffi.ServerPtr()
    rc = _ffi.Conecta_Servidor(ip_b, port, ctypes.byref(out))
    check(rc, _start_detail(rc, ip, port))
    return Server._from_handle(out, ip or "127.0.0.1")


def Conecta_cliente(ip: str, port: int, apelido: str) -> Client:
    """Connects to the server at ``ip``:``port`` (an IP address or a host
    name such as "localhost"; "" means 127.0.0.1) and
    registers the nickname ``apelido``, with the default timeouts. Returns a
    connected :class:`papo.Client`.

    Raises :class:`papo.InvalidServer` (04), :class:`papo.InvalidAddress`
    (05), :class:`papo.NickInUse` (01), :class:`papo.InvalidNick` (06),
    :class:`papo.ServerFull` (12)."""
    ip_b = encode(ip, "ip", InvalidAddress)
    port = port_arg(port)
    nick_b = encode(apelido, "nickname", InvalidNick)
    out = _ffi.ClientPtr()
    rc = _ffi.Conecta_cliente(ip_b, port, nick_b, ctypes.byref(out))
    check(rc, _connect_detail(rc, ip, port, apelido))
    return Client._from_handle(out, apelido)


def enviar_Msg(client: Client, destino: Optional[str], mensagem: str) -> None:
    """Sends ``mensagem`` from ``client`` to ``destino``, or to everyone when
    ``destino`` is None or "" (seed 000: ``Conecta_cliente.enviar_Msg(Destino,
    mensagem)``). Returning from a private message is the seed's "Mensagem
    enviada". Same as ``client.send(mensagem, to=destino)``; raises what
    :meth:`papo.Client.send` raises, :class:`papo.NoSuchUser` (02) first of
    all. Thread safety: may be called from several threads at once."""
    if not isinstance(client, Client):
        raise TypeError(f"client must be a papo.Client, not {type(client).__name__}")
    client.send(mensagem, to=destino)


def Desconecta_Servidor(server: Server) -> None:
    """Stops ``server`` (every client still connected gets error 03). The
    same as ``server.close()``: calling it twice does nothing."""
    if not isinstance(server, Server):
        raise TypeError(f"server must be a papo.Server, not {type(server).__name__}")
    server.close()


def Desconecta_cliente(client: Client) -> None:
    """Disconnects ``client`` (everyone else is told it left). The same as
    ``client.close()``: calling it twice does nothing."""
    if not isinstance(client, Client):
        raise TypeError(f"client must be a papo.Client, not {type(client).__name__}")
    client.close()
