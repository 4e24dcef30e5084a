"""Every error code as an exception: the seed's 01-05 for real against a
server, papo's own codes where the API can produce them, and the mapping."""

from __future__ import annotations

import pickle
import socket
import threading

import pytest

import papo
from conftest import WAIT, free_port, wait_event

K = papo.EventKind

CLASSES = {
    1: papo.NickInUse,
    2: papo.NoSuchUser,
    3: papo.ConnectionAborted,
    4: papo.InvalidServer,
    5: papo.InvalidAddress,
    6: papo.InvalidNick,
    7: papo.TooLong,
    8: papo.InvalidText,
    9: papo.Empty,
    10: papo.UnknownCommand,
    11: papo.Timeout,
    12: papo.ServerFull,
    13: papo.NullArgument,
    14: papo.Closed,
    15: papo.IoError,
    16: papo.Panic,
    17: papo.InvalidArgument,
    18: papo.BufferTooSmall,
    19: papo.AccessDenied,
    21: papo.NotInRoom,
    22: papo.NotOperator,
    23: papo.InvalidRoom,
}


def test_one_class_per_code() -> None:
    for code, cls in CLASSES.items():
        assert papo.error_class(code) is cls
        assert cls.code == code
        assert issubclass(cls, papo.Error) and issubclass(cls, Exception)
        error = papo.error_from_code(code, "detalhe")
        assert type(error) is cls
        assert error.code == code and error.detail == "detalhe"
        assert error.strerror == papo.strerror(code)
        assert error.strerror not in ("", "unknown error code")
        assert str(error) == f"{code:02d} {error.strerror}: detalhe"
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is cls and copy.code == code and copy.detail == "detalhe"
    assert len(set(CLASSES.values())) == 22


def test_unknown_codes_map_to_the_base_class() -> None:
    for code in (0, 25, 99, -1):
        assert papo.error_class(code) is papo.Error
    error = papo.error_from_code(99)
    assert type(error) is papo.Error and error.code == 99
    assert error.strerror == "unknown error code"
    assert papo.strerror(0) == "success"
    assert papo.strerror(2**40) == "unknown error code"


def test_the_seed_texts_come_from_the_library() -> None:
    assert "apelido" in papo.strerror(1)
    assert "privada" in papo.strerror(2)
    assert "conexão" in papo.strerror(3).lower()
    assert "Servidor" in papo.strerror(4)
    assert "IP" in papo.strerror(5)
    assert str(papo.NickInUse("ana")).startswith("01 Esse apelido já está em uso")


def test_nick_in_use_is_case_insensitive(connect) -> None:
    connect("Ana")
    for taken in ("Ana", "ana", "ANA"):
        with pytest.raises(papo.NickInUse) as info:
            connect(taken)
        assert info.value.code == 1
        # the library's detail names the nickname refused
        assert info.value.detail is not None and taken in info.value.detail
    assert connect("Ana2").nick == "Ana2"


def test_invalid_nicknames(connect) -> None:
    for bad in ("", "com espaço", "a:b", "a/b", "quit", "x" * 33, "a\nb", "nul\0nick"):
        with pytest.raises(papo.InvalidNick):
            connect(bad)
    with pytest.raises(TypeError):
        connect(None)


def test_no_such_user(connect) -> None:
    ana = connect("ana")
    with pytest.raises(papo.NoSuchUser) as info:
        ana.send("oi", to="ninguém")
    assert info.value.code == 2
    assert info.value.detail is not None and "ninguém" in info.value.detail
    bob = connect("bob")
    bob.close()
    wait_event(ana, K.LEFT, sender="bob")
    with pytest.raises(papo.NoSuchUser):
        ana.send("ainda aí?", to="bob")


def test_connection_aborted_after_the_server_closes() -> None:
    server = papo.Server("127.0.0.1", 0)
    ana = papo.Client("127.0.0.1", server.port, "ana", reconnect=False)
    server.close()
    event = wait_event(ana, K.DISCONNECTED)
    assert event.code == 3
    assert isinstance(event.error, papo.ConnectionAborted)
    with pytest.raises(papo.ConnectionAborted):
        ana.send("alguém?")
    with pytest.raises(papo.ConnectionAborted):
        ana.send("alguém?", to="bob")
    with pytest.raises(papo.ConnectionAborted):
        ana.users()
    # after the DISCONNECTED event nothing more can come
    with pytest.raises(papo.Closed):
        ana.next_event(timeout=0)
    ana.close()
    ana.close()


def test_a_thread_waiting_for_events_sees_the_server_go() -> None:
    server = papo.Server("127.0.0.1", 0)
    ana = papo.Client("127.0.0.1", server.port, "ana", reconnect=False)
    got = []
    thread = threading.Thread(target=lambda: got.extend(ana.events(timeout=WAIT)))
    thread.start()
    server.close()
    thread.join(WAIT + 5)
    assert not thread.is_alive()
    assert got and got[-1].kind is K.DISCONNECTED and got[-1].code == 3
    ana.close()


def test_invalid_server_nothing_listening() -> None:
    port = free_port()
    with pytest.raises(papo.InvalidServer) as info:
        papo.Client("127.0.0.1", port, "ana", connect_timeout=5)
    assert info.value.code == 4


def test_invalid_server_not_a_papo_server() -> None:
    """Something answers, but not with papo's HELLO line."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]

    def answer() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")
            conn.settimeout(WAIT)
            try:
                conn.recv(100)
            except OSError:
                pass

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        with pytest.raises(papo.InvalidServer):
            papo.Client("127.0.0.1", port, "ana", connect_timeout=5)
    finally:
        listener.close()
        thread.join(WAIT)


def test_invalid_address() -> None:
    for bad in ("999.1.1.1", "not an ip", "127.0.0.1:80", "nul\0ip", "1.2.3.4:80", "não é ip"):
        with pytest.raises(papo.InvalidAddress) as info:
            papo.Client(bad, 18000, "ana")
        assert info.value.code == 5
        with pytest.raises(papo.InvalidAddress):
            papo.Server(bad, 0)
    with pytest.raises(papo.InvalidAddress):
        papo.Server("192.0.2.1", 0)  # TEST-NET-1: not an address of this machine


def test_port_taken_is_an_io_error(server) -> None:
    with pytest.raises(papo.IoError) as info:
        papo.Server("127.0.0.1", server.port)
    assert info.value.code == 15


def test_text_errors(connect) -> None:
    ana, bob = connect("ana"), connect("bob")
    with pytest.raises(papo.Empty):
        ana.send("")
    with pytest.raises(papo.Empty):
        ana.send("", to="bob")
    for bad in ("duas\nlinhas", "cr\rlf", "esc\x1b[2J", "nul\0"):
        with pytest.raises(papo.InvalidText):
            ana.send(bad)
    with pytest.raises(papo.InvalidText):
        ana.send("\udc80 lone surrogate")
    with pytest.raises(papo.InvalidNick):
        ana.send("oi", to="não é apelido")
    with pytest.raises(TypeError):
        ana.send(b"bytes")  # type: ignore[arg-type]
    # nothing of it reached bob, and the connection still works
    ana.send("ok")
    assert wait_event(bob, K.PUBLIC).text == "ok"


def test_too_long() -> None:
    with papo.Server("127.0.0.1", 0, max_line_bytes=64) as server:
        with (
            papo.Client("127.0.0.1", server.port, "ana") as ana,
            papo.Client("127.0.0.1", server.port, "bob") as bob,
        ):
            with pytest.raises(papo.TooLong):
                ana.send("x" * 200)
            with pytest.raises(papo.TooLong):
                ana.send("x" * 200, to="bob")
            ana.send("curta")
            assert wait_event(bob, K.PUBLIC).text == "curta"


def test_server_full() -> None:
    with papo.Server("127.0.0.1", 0, max_clients=1) as server:
        with papo.Client("127.0.0.1", server.port, "ana"):
            with pytest.raises(papo.ServerFull) as info:
                papo.Client("127.0.0.1", server.port, "bob")
            assert info.value.code == 12


def test_registration_timeout_is_reported_by_the_server() -> None:
    with papo.Server("127.0.0.1", 0, registration_timeout=0.3) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT) as sock:
            sock.recv(4096)  # HELLO, then say nothing
            event = None
            for _ in range(50):
                event = server.next_event(timeout=WAIT)
                if event is not None and event.kind is papo.ServerEventKind.DISCONNECTED:
                    break
            assert event is not None and event.kind is papo.ServerEventKind.DISCONNECTED
            assert event.code == papo.Timeout.code
            assert event.nick is None


def test_invalid_arguments() -> None:
    with pytest.raises(papo.InvalidArgument):
        papo.Client("127.0.0.1", 70000, "ana")
    with pytest.raises(papo.InvalidArgument):
        papo.Server("127.0.0.1", -1)
    with pytest.raises(TypeError):
        papo.Server("127.0.0.1", "18000")  # type: ignore[arg-type]
    with pytest.raises(papo.InvalidArgument):
        papo.Client("127.0.0.1", 1, "ana", connect_timeout=-1)
    with pytest.raises(papo.InvalidArgument):
        papo.Server("127.0.0.1", 0, max_clients=-5)
    with pytest.raises(TypeError):
        papo.Server("127.0.0.1", 0, max_clients=2.5)  # type: ignore[arg-type]


def test_max_total_queue_bytes() -> None:
    """The server-wide queue budget: 0 is refused (17), a value starts."""
    with pytest.raises(papo.InvalidArgument):
        papo.Server("127.0.0.1", 0, max_total_queue_bytes=0)
    with papo.Server("127.0.0.1", 0, max_total_queue_bytes=1 << 20) as server:
        assert server.port > 0
