"""The server object and its events, and the seed's five functions."""

from __future__ import annotations

import re
import socket
from typing import List

import pytest

import papo
from conftest import REPO, WAIT, drain, wait_event

K = papo.EventKind
S = papo.ServerEventKind


def server_events(server: papo.Server, count: int) -> List[papo.ServerEvent]:
    events = []
    for _ in range(count):
        event = server.next_event(timeout=WAIT)
        assert event is not None, f"only {events} within {WAIT} s"
        events.append(event)
    return events


def test_server_events_follow_a_client(server) -> None:
    assert server.next_event(timeout=0) is None
    ana = papo.Client("127.0.0.1", server.port, "ana")
    connected, registered = server_events(server, 2)
    assert connected.kind is S.CONNECTED and connected.kind == "connected"
    assert connected.ip == "127.0.0.1" and 0 < connected.port < 65536
    assert connected.nick is None and connected.code == 0
    assert registered.kind is S.REGISTERED and registered.nick == "ana"
    assert (registered.client_id, registered.ip, registered.port) == (
        connected.client_id,
        connected.ip,
        connected.port,
    )
    ana.change_nick("Ana2")
    (renamed,) = server_events(server, 1)
    assert renamed.kind is S.NICK_CHANGED
    assert (renamed.nick, renamed.new_nick) == ("ana", "Ana2")
    assert renamed.client_id == connected.client_id
    ana.close()
    (gone,) = server_events(server, 1)
    assert gone.kind is S.DISCONNECTED and gone.nick == "Ana2"
    assert gone.code == 0  # it left by itself
    assert gone.reason
    assert server.next_event(timeout=0.05) is None


def test_each_connection_has_its_own_id(server) -> None:
    clients = [papo.Client("127.0.0.1", server.port, f"u{i}") for i in range(3)]
    events = [e for e in server_events(server, 6) if e.kind is S.REGISTERED]
    assert sorted(e.nick for e in events) == ["u0", "u1", "u2"]
    assert len({e.client_id for e in events}) == 3
    assert len({e.port for e in events}) == 3
    for client in clients:
        client.close()


def test_server_counts_and_users(server, connect) -> None:
    assert (server.connection_count, server.user_count, server.users()) == (0, 0, [])
    ana = connect("ana")
    connect("bob")
    assert server.connection_count == 2 and server.user_count == 2
    assert server.users() == ["ana", "bob"]
    ana.close()
    while True:  # the server learns of the departure on its own threads
        event = server.next_event(timeout=WAIT)
        assert event is not None
        if event.kind is S.DISCONNECTED and event.nick == "ana":
            break
    connect("carla")
    assert server.users() == ["bob", "carla"]
    assert server.connection_count == 2


def test_server_users_with_many_long_nicknames(server) -> None:
    """More than the first buffer holds: the bindings grow it."""
    nicks = sorted((f"{'n' * 28}{i:04d}" for i in range(200)), key=str.casefold)
    clients = [papo.Client("127.0.0.1", server.port, nick) for nick in nicks]
    try:
        assert server.users() == nicks
        assert clients[0].users() == nicks
    finally:
        for client in clients:
            client.close()


def test_server_config_is_applied() -> None:
    with papo.Server(
        "127.0.0.1",
        0,
        max_line_bytes=128,
        max_nick_chars=4,
        max_clients=3,
        max_clients_per_ip=0,
        max_queue_bytes=1 << 20,
        registration_timeout=5.0,
        io_threads=1,
        event_queue_capacity=16,
    ) as server:
        with pytest.raises(papo.InvalidNick):
            papo.Client("127.0.0.1", server.port, "cinco")
        with papo.Client("127.0.0.1", server.port, "quat") as quat:
            with pytest.raises(papo.TooLong):
                quat.send("x" * 129)
            quat.send("x" * 100)


def _ipv6_loopback_works() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


def test_server_on_ipv6_loopback() -> None:
    if not _ipv6_loopback_works():  # e.g. a container without IPv6: a clear error
        with pytest.raises((papo.InvalidAddress, papo.IoError)):
            papo.Server("::1", 0)
        return
    with papo.Server("::1", 0) as server, papo.Client("::1", server.port, "seis") as client:
        assert client.users() == ["seis"]


def test_host_names_for_the_server_and_the_client() -> None:
    """One address parser in the library: a host name is resolved by the
    system (localhost is in /etc/hosts) on both sides."""
    with papo.Server("localhost", 0) as server:
        with (
            papo.Client("localhost", server.port, "ana") as ana,
            papo.Conecta_cliente("localhost", server.port, "bob") as bob,
        ):
            bob.send("oi pelo nome", to="ana")
            assert wait_event(ana, K.PRIVATE).text == "oi pelo nome"
            assert ana.users() == ["ana", "bob"]
    server = papo.Conecta_Servidor("localhost", 0)
    papo.Desconecta_Servidor(server)


def test_ipv6_in_brackets_for_the_server_and_the_client() -> None:
    if not _ipv6_loopback_works():
        pytest.skip("this machine has no IPv6 loopback (::1)")
    for server_ip in ("[::1]", "::1"):
        with papo.Server(server_ip, 0) as server:
            with (
                papo.Client("[::1]", server.port, "seis") as seis,
                papo.Client("::1", server.port, "sete") as sete,
            ):
                sete.send("olá v6")
                assert wait_event(seis, K.PUBLIC).text == "olá v6"


def test_blank_ip_means_loopback() -> None:
    with papo.Server("", 0) as server:
        assert server.ip == "127.0.0.1"
        with papo.Client("", server.port, "ana") as ana:
            assert ana.users() == ["ana"]


def test_the_seed_five_functions() -> None:
    server = papo.Conecta_Servidor("", 0)
    assert isinstance(server, papo.Server)
    ana = papo.Conecta_cliente("127.0.0.1", server.port, "ana")
    bob = papo.Conecta_cliente("127.0.0.1", server.port, "bob")
    assert isinstance(ana, papo.Client)
    papo.enviar_Msg(ana, None, "olá a todos")
    papo.enviar_Msg(ana, "", "de novo")
    papo.enviar_Msg(ana, "bob", "oi bob")  # returning = "Mensagem enviada"
    texts = [(e.kind, e.text) for e in drain(bob) if e.kind in (K.PUBLIC, K.PRIVATE)]
    assert texts == [(K.PUBLIC, "olá a todos"), (K.PUBLIC, "de novo"), (K.PRIVATE, "oi bob")]
    with pytest.raises(papo.NoSuchUser):
        papo.enviar_Msg(ana, "zé", "alguém?")
    with pytest.raises(papo.NickInUse):
        papo.Conecta_cliente("127.0.0.1", server.port, "ANA")
    with pytest.raises(papo.InvalidAddress):
        papo.Conecta_cliente("300.0.0.1", server.port, "x")
    with pytest.raises(papo.InvalidAddress):
        papo.Conecta_Servidor("300.0.0.1", 0)
    papo.Desconecta_cliente(bob)
    papo.Desconecta_cliente(bob)  # twice is harmless
    wait_event(ana, K.LEFT, sender="bob")
    papo.Desconecta_Servidor(server)
    assert wait_event(ana, K.DISCONNECTED).code == 3
    with pytest.raises(papo.ConnectionAborted):
        papo.enviar_Msg(ana, None, "alguém?")
    papo.Desconecta_Servidor(server)
    papo.Desconecta_cliente(ana)
    with pytest.raises(TypeError):
        papo.enviar_Msg("ana", None, "x")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        papo.Desconecta_Servidor(None)  # type: ignore[arg-type]


def test_seed_server_default_port_is_18000() -> None:
    assert papo.DEFAULT_PORT == 18000
    try:
        server = papo.Conecta_Servidor()
    except papo.IoError:  # something else holds port 18000: that is the error for it
        with pytest.raises(papo.IoError):
            papo.Server("127.0.0.1", 18000)
        return
    with server:
        assert server.port == 18000 and server.ip == "127.0.0.1"


def test_versions_agree() -> None:
    cargo = (REPO / "Cargo.toml").read_text(encoding="utf-8")
    match = re.search(r'^version\s*=\s*"([^"]+)"', cargo, re.MULTILINE)
    assert match is not None
    assert papo.__version__ == match.group(1)
    assert papo.version() == papo.__version__
    pyproject = (REPO / "bindings" / "python" / "pyproject.toml").read_text(encoding="utf-8")
    assert f'version = "{papo.__version__}"' in pyproject
