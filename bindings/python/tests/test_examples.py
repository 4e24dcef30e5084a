"""examples/python/servidor.py and cliente.py, run as the seed's manual runs
them, against real sockets and real papo clients."""

from __future__ import annotations

import pytest

import papo
from conftest import WAIT, free_port, wait_event
from procs import Proc, child_env

K = papo.EventKind


@pytest.fixture
def procs():
    started = []

    def start(name: str, *args: str) -> Proc:
        proc = Proc.example(name, *args)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()


def test_servidor_shows_clients_and_stops_on_ctrl_c(procs) -> None:
    servidor = procs("servidor.py", "127.0.0.1", "0")
    port = int(servidor.expect(r"aguardando conexões em 127\.0\.0\.1:(\d+)").group(1))
    ana = papo.Client("127.0.0.1", port, "ana", reconnect=False)
    ip_port = servidor.expect(r"Cliente conectado: (127\.0\.0\.1:\d+)").group(1)
    servidor.expect(rf"{ip_port} entrou no chat como ana")
    bob = papo.Client("127.0.0.1", port, "bob")
    servidor.expect(r"entrou no chat como bob")
    ana.change_nick("Ana2")
    servidor.expect(rf"ana \({ip_port}\) agora se chama Ana2")
    bob.close()
    servidor.expect(r"bob \(127\.0\.0\.1:\d+\) saiu do chat")
    servidor.expect(r"Conexões ativas: 1")
    servidor.interrupt()  # Ctrl-C
    servidor.expect(r"Servidor encerrado")
    assert servidor.wait() == 0, servidor.seen
    assert wait_event(ana, K.DISCONNECTED).code == 3  # the seed's 03
    ana.close()


def test_servidor_asks_for_ip_and_port(procs) -> None:
    servidor = procs("servidor.py")
    servidor.type("")  # blank IP address: 127.0.0.1
    servidor.type("0")  # any free port
    port = int(servidor.expect(r"aguardando conexões em 127\.0\.0\.1:(\d+)").group(1))
    with papo.Client("127.0.0.1", port, "ana") as ana:
        assert ana.users() == ["ana"]
    servidor.interrupt()
    assert servidor.wait() == 0, servidor.seen


def test_servidor_invalid_ip_is_error_05(procs) -> None:
    servidor = procs("servidor.py", "999.1.1.1", "0")
    servidor.expect(r"Erro 05")
    assert servidor.wait() == 1, servidor.seen


def test_cliente_chats_like_the_manual(server, connect, procs) -> None:
    ana = connect("ana")
    cliente = procs("cliente.py", "127.0.0.1", str(server.port), "carla")
    cliente.expect(r"Conexão estabelecida .* como carla")
    cliente.expect(r"Online: ana, carla")
    wait_event(ana, K.JOINED, sender="carla")

    cliente.type(":olá a todos")
    event = wait_event(ana, K.PUBLIC)
    assert (event.sender, event.text) == ("carla", "olá a todos")

    cliente.type("ana:oi ana")
    event = wait_event(ana, K.PRIVATE)
    assert (event.sender, event.text) == ("carla", "oi ana")
    cliente.expect(r"Mensagem enviada")

    cliente.type("zé:alguém aí?")
    cliente.expect(r"Erro 02")

    ana.send("oi carla")
    cliente.expect(r"^ana: oi carla$")
    ana.send("psiu", to="carla")
    cliente.expect(r"Mensagem recebida de: ana: psiu")

    cliente.type("/list")
    cliente.expect(r"Online \(2\): ana, carla")
    cliente.type("/help")
    cliente.expect(r"/nick")
    cliente.type("texto solto")
    cliente.expect(r"Use :texto")

    cliente.type("/nick Carla2")
    event = wait_event(ana, K.NICK_CHANGED)
    assert (event.sender, event.new_nick) == ("carla", "Carla2")
    cliente.expect(r"carla agora se chama Carla2")

    connect("bob")
    cliente.expect(r"\* bob entrou no chat")

    cliente.type("quit")
    assert cliente.wait() == 0, cliente.seen
    wait_event(ana, K.LEFT, sender="Carla2")


def test_cliente_asks_again_when_the_nickname_is_taken(server, connect, procs) -> None:
    ana = connect("ana")
    cliente = procs("cliente.py", "127.0.0.1", str(server.port), "ANA")
    cliente.expect(r"Erro 01")
    cliente.type("dani")
    cliente.expect(r"Conexão estabelecida .* como dani")
    wait_event(ana, K.JOINED, sender="dani")
    cliente.close_stdin()  # end of input leaves, like quit
    assert cliente.wait() == 0, cliente.seen
    wait_event(ana, K.LEFT, sender="dani")


def test_cliente_asks_for_everything(server, connect, procs) -> None:
    ana = connect("ana")
    cliente = procs("cliente.py")
    cliente.type("127.0.0.1")
    cliente.type(str(server.port))
    cliente.type("eva")
    cliente.expect(r"Conexão estabelecida .* como eva")
    cliente.type(":oi")
    assert wait_event(ana, K.PUBLIC).sender == "eva"
    cliente.type("{quit}")
    assert cliente.wait() == 0, cliente.seen


def test_cliente_wrong_server_is_error_04(procs) -> None:
    cliente = procs("cliente.py", "127.0.0.1", str(free_port()), "ana")
    cliente.expect(r"Erro 04")
    assert cliente.wait(WAIT) == 1, cliente.seen


def test_cliente_invalid_ip_is_error_05(procs) -> None:
    cliente = procs("cliente.py", "1.2.3.4.5", "18000", "ana")
    cliente.expect(r"Erro 05")
    assert cliente.wait() == 1, cliente.seen


def test_cliente_when_the_server_goes_away(procs) -> None:
    server = papo.Server("127.0.0.1", 0)
    # Two reconnection attempts, then the end.
    cliente = Proc.example(
        "cliente.py",
        "127.0.0.1",
        str(server.port),
        "ana",
        env=child_env(PAPO_RECONNECT_ATTEMPTS="2"),
    )
    cliente.expect(r"Conexão estabelecida")
    server.close()
    cliente.expect(r"reconectando \(tentativa 1\)")
    cliente.expect(r"reconectando \(tentativa 2\)")
    cliente.expect(r"Conexão encerrada\. Erro 03")
    assert cliente.wait() == 1, cliente.seen


def test_cliente_sends_and_receives_files(server, connect, procs, tmp_path) -> None:
    """Seed 002's /sendFile in cliente.py: a file from it reaches a papo
    client whole; a file to it is saved in its --downloads folder, with a
    progress bar on the way."""
    ana = connect("ana")
    ana.download_dir = tmp_path / "ana"
    downloads = tmp_path / "carla"
    cliente = procs(
        "cliente.py", "127.0.0.1", str(server.port), "carla", "--downloads", str(downloads)
    )
    cliente.expect(rf"Arquivos recebidos vão para {downloads}")
    cliente.expect(r"Online: ana, carla")
    wait_event(ana, K.JOINED, sender="carla")

    # a file to cliente.py
    incoming = tmp_path / "para carla.bin"
    content = bytes(range(256)) * 8192  # 2 MiB, every byte value
    incoming.write_bytes(content)
    ana.send_file(incoming)
    cliente.expect(r"Recebendo arquivo para carla\.bin de ana \(2097152 bytes\)")
    saved = cliente.expect(r"Arquivo recebido de ana: (.*)$").group(1)
    assert any("[" + "#" * 30 + "] 100%" in line for line in cliente.seen), cliente.seen
    assert saved == str(downloads / "para carla.bin")
    assert (downloads / "para carla.bin").read_bytes() == content

    # a file from cliente.py (to everyone)
    outgoing = tmp_path / "de carla.txt"
    outgoing.write_bytes(b"linha 1\nlinha 2\n\0fim")
    cliente.type(f"/sendFile {outgoing}")
    cliente.expect(r"Enviando .* para todos")
    event = wait_event(ana, K.FILE_RECEIVED, sender="carla")
    assert event.file_name == "de carla.txt"
    assert open(event.path, "rb").read() == b"linha 1\nlinha 2\n\0fim"
    cliente.expect(r"Arquivo enviado: de carla\.txt \(20 bytes\)")
    cliente.type(f"/sendFile {tmp_path / 'nada.bin'}")
    cliente.expect(r"Erro 15")

    # a binary message
    ana.send_bytes(b"\0\1\2", to="carla")
    cliente.expect(r"ana enviou 3 bytes binários \(privado\)")
    cliente.type("quit")
    assert cliente.wait() == 0, cliente.seen


def test_cliente_shows_control_characters_escaped(procs) -> None:
    """A server (or anyone on the path of a plain-text connection) cannot
    drive cliente.py's terminal (issue 14): escape sequences, C1 controls
    and bidi overrides in nicknames and messages are printed escaped."""
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    script_done = threading.Event()

    def fake_server() -> None:
        conn, _ = listener.accept()
        with conn, conn.makefile("rwb", buffering=0) as f:

            def send(line: str) -> None:
                f.write(line.encode() + b"\n")

            send("HELLO papo/1 line=4096 nick=32 :Bem-vindo ao papo!")
            nick = f.readline().decode().strip()
            send(f"WELCOME {nick} :Bem-vindo, {nick}!")
            send(f"USERS 2 :bob {nick}")
            assert f.readline().decode().strip() == "/list"
            send(f"USERS 2 :bob {nick}")
            send("PUBLIC bob :antes\x1b[2J\x1b]0;dono\x07depois")
            send("JOIN e\x1b[31mvil :entrou")
            send("PRIVATE bob :\u202eexe.txt")
            send("PUBLIC bob :c1\u009b31m e del\x7f")
            send("PUBLIC bob :fim")
            f.readline()  # quit, or the end of the connection
        script_done.set()

    server = threading.Thread(target=fake_server, daemon=True)
    server.start()
    try:
        cliente = procs("cliente.py", "127.0.0.1", str(port), "ana")
        cliente.expect(r"Online: bob, ana")
        cliente.expect(r"^bob: antes")
        expected = [
            "bob: antes\\x1b[2J\\x1b]0;dono\\x07depois",
            "* e\\x1b[31mvil entrou no chat",
            "Mensagem recebida de: bob: \\u202eexe.txt",
            "bob: c1\\u009b31m e del\\x7f",
        ]
        cliente.expect(r"^bob: fim$")
        shown_lines = [line for line in cliente.seen if line in expected]
        assert shown_lines == expected, cliente.seen
        cliente.type("quit")
        assert cliente.wait() == 0, cliente.seen
        for line in cliente.seen:
            assert not any(c in line for c in "\x1b\x07\x7f\u009b\u202e"), line
        assert script_done.wait(WAIT)
    finally:
        listener.close()


def test_cliente_shows_the_cluster_events(procs) -> None:
    """The cluster's events (since 1.2) in cliente.py: one line each, in
    Portuguese with English in parentheses, nicknames escaped."""
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    script_done = threading.Event()

    def fake_server() -> None:
        conn, _ = listener.accept()
        with conn, conn.makefile("rwb", buffering=0) as f:

            def send(line: str) -> None:
                f.write(line.encode() + b"\n")

            send("HELLO papo/1 line=4096 nick=32 :Bem-vindo ao papo!")
            nick = f.readline().decode().strip()
            send(f"WELCOME {nick} :Bem-vindo, {nick}!")
            send(f"USERS 2 :bob {nick}")
            assert f.readline().decode().strip() == "/list"
            send(f"USERS 2 :bob {nick}")
            send("CLUSTER partitioned :cut off")
            send("LOST 4 :lost")
            send(f"RENAMED {nick} a\x1b[2Jna :renamed")
            send("CLUSTER healed :back")
            send("PUBLIC bob :fim")
            f.readline()  # quit, or the end of the connection
        script_done.set()

    server = threading.Thread(target=fake_server, daemon=True)
    server.start()
    try:
        cliente = procs("cliente.py", "127.0.0.1", str(port), "ana")
        cliente.expect(r"Online: bob, ana")
        cliente.expect(r"^bob: fim$")
        expected = [
            "*** Sem contato com os outros servidores: por ora só os usuários deste "
            "servidor recebem suas mensagens (cut off from the other servers)",
            "*** 4 mensagem(ns) para você se perdeu(perderam) entre servidores "
            "(messages lost between servers)",
            "*** O servidor mudou seu apelido de ana para a\\x1b[2Jna: outro servidor já "
            "o usava (the server renamed you)",
            "*** De volta ao chat inteiro (back in the whole chat)",
        ]
        shown_lines = [line for line in cliente.seen if line in expected]
        assert shown_lines == expected, cliente.seen
        cliente.type("quit")
        assert cliente.wait() == 0, cliente.seen
        for line in cliente.seen:
            assert "\x1b" not in line, line
        assert script_done.wait(WAIT)
    finally:
        listener.close()
