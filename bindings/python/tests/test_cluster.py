"""Clusters (PROTOCOL.md "Clusters") through the bindings: ``papo.Server``'s
``cluster`` and ``cluster_lease`` settings, and the cluster's server lines
(``CLUSTER``, ``LOST``, ``RENAMED``) as events, sent by a scripted server on
loopback (a thread of the test)."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Iterator, List, Optional

import pytest

import papo
from conftest import WAIT, free_port

K = papo.EventKind


class Scripted:
    """A fake papo server: accepts one connection, registers the client, then
    plays ``lines`` once the client's first line after registering (a ping)
    came; records every line the client sent."""

    def __init__(self, lines: List[str]) -> None:
        self.lines = lines
        self.received: List[str] = []
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.port = self.listener.getsockname()[1]
        self.error: Optional[BaseException] = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            conn, _ = self.listener.accept()
            with conn:
                conn.settimeout(WAIT)
                reader = conn.makefile("rb")
                conn.sendall(b"HELLO papo/1 line=4096 nick=32 :Bem-vindo ao papo!\n")
                nick = reader.readline().decode().rstrip("\n")
                self.received.append(nick)
                conn.sendall(f"WELCOME {nick} :oi\nUSERS 2 :{nick} bob\n".encode())
                ping = reader.readline().decode().rstrip("\n")
                self.received.append(ping)
                conn.sendall("".join(line + "\n" for line in self.lines).encode())
                conn.sendall(b"PONG :x\n")
                while True:
                    line = reader.readline()
                    if not line:
                        break
                    self.received.append(line.decode().rstrip("\n"))
        except BaseException as exc:  # reported by join()
            self.error = exc

    def join(self) -> None:
        self.thread.join(WAIT)
        self.listener.close()
        assert not self.thread.is_alive(), "the scripted server did not finish"
        if self.error is not None:
            raise self.error


def test_cluster_lines_become_events() -> None:
    script = Scripted(
        [
            "CLUSTER partitioned :sem contato com os outros servidores (cut off)",
            "LOST 3 :mensagens perdidas entre servidores (messages lost)",
            "RENAMED ana ana_2 :apelido já era de outro servidor",
            "CLUSTER healed :de volta ao chat inteiro (back)",
        ]
    )
    with papo.Client("127.0.0.1", script.port, "ana", reconnect=False) as ana:
        # The lines come while the ping waits: none of them answers it.
        ana.ping()
        events = [ana.next_event(timeout=WAIT) for _ in range(4)]
        assert ana.next_event(timeout=0.05) is None
        assert ana.nick == "ana_2"
    script.join()
    assert script.received[:2] == ["ana", script.received[1]]
    assert script.received[1].startswith("/ping")
    assert script.received[-1] == "quit"

    partitioned, lost, renamed, healed = events
    assert partitioned == papo.Event(K.CLUSTER_PARTITIONED)
    assert partitioned is not None and partitioned.kind.value == "cluster_partitioned"
    assert lost == papo.Event(K.LOST, count=3)
    assert renamed == papo.Event(K.RENAMED, sender="ana", new_nick="ana_2")
    assert renamed is not None
    assert renamed.old_nick == "ana" and renamed.count == 0
    assert healed == papo.Event(K.CLUSTER_HEALED)
    assert K.LOST.value == "lost" and K.RENAMED.value == "renamed"
    assert K.CLUSTER_HEALED.value == "cluster_healed"


def test_server_cluster_settings_are_checked() -> None:
    with pytest.raises(papo.InvalidArgument) as info:
        papo.Server("127.0.0.1", 0, cluster="não é uma url")
    assert "cluster" in str(info.value)
    with pytest.raises(papo.InvalidArgument):
        papo.Server("127.0.0.1", 0, cluster="http://127.0.0.1:6379/")
    with pytest.raises(papo.InvalidArgument):
        papo.Server("127.0.0.1", 0, cluster="redis://\0")
    with pytest.raises(TypeError):
        papo.Server("127.0.0.1", 0, cluster=b"redis://127.0.0.1/")  # type: ignore[arg-type]
    with pytest.raises(papo.InvalidArgument) as info:
        papo.Server("127.0.0.1", 0, cluster_lease=0.5)
    assert "cluster_lease" in str(info.value)
    with pytest.raises(papo.InvalidArgument):
        papo.Server("127.0.0.1", 0, cluster_lease=-1)
    with pytest.raises(TypeError):
        papo.Server("127.0.0.1", 0, cluster_lease="10")  # type: ignore[arg-type]
    # Off (the default) with a lease given: a chat of its own.
    with papo.Server("127.0.0.1", 0, cluster=None, cluster_lease=2.5) as srv:
        with papo.Client("127.0.0.1", srv.port, "ana") as ana:
            assert ana.users() == ["ana"]


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A real redis-server on a free loopback port (scripts/install-deps.sh
    installs it), stopped after the test."""
    port = free_port()
    proc = subprocess.Popen(
        [
            "redis-server",
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--protected-mode", "no",
            "--loglevel", "warning",
            "--dir", str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        # Ready once it answers PING.
        for _ in range(200):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            assert proc.poll() is None, "redis-server exited"
            threading.Event().wait(0.05)
        else:
            raise AssertionError("redis-server did not answer")
        yield f"redis://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        proc.wait(WAIT)
        if proc.stderr is not None:
            proc.stderr.close()


def test_server_with_cluster_on_chats(redis_url: str) -> None:
    """A server started with a cluster URL (a real Redis) and a lease: one
    node of a cluster, and its own users chat as usual."""
    with papo.Server("127.0.0.1", 0, cluster=redis_url, cluster_lease=2.0) as srv:
        with papo.Client("127.0.0.1", srv.port, "ana") as ana, papo.Client(
            "127.0.0.1", srv.port, "bob"
        ) as bob:
            ana.send("oi, bob", to="bob")
            while True:
                event = bob.next_event(timeout=WAIT)
                assert event is not None, "no private message"
                if event.kind is K.PRIVATE:
                    assert event.sender == "ana" and event.text == "oi, bob"
                    break


def test_two_servers_are_one_chat(redis_url: str) -> None:
    """Two servers of one cluster (a real Redis): ana on one and bob on the
    other see each other, a private message crosses, a nickname is unique
    across both, and each server counts the other node."""
    with papo.Server("127.0.0.1", 0, cluster=redis_url) as a, papo.Server(
        "127.0.0.1", 0, cluster=redis_url
    ) as b:
        with papo.Client("127.0.0.1", a.port, "ana") as ana, papo.Client(
            "127.0.0.1", b.port, "bob"
        ) as bob:
            deadline = time.monotonic() + WAIT
            while bob.users() != ["ana", "bob"]:
                assert time.monotonic() < deadline, bob.users()
                time.sleep(0.05)
            ana.send("oi, bob", to="bob")
            while True:
                event = bob.next_event(timeout=WAIT)
                assert event is not None, "no private message"
                if event.kind is K.PRIVATE:
                    assert event.sender == "ana" and event.text == "oi, bob"
                    break
            with pytest.raises(papo.NickInUse):
                papo.Client("127.0.0.1", b.port, "ana")
            stats = a.stats()
            assert stats.cluster_nodes == 1
            assert stats.cluster_partitioned == 0
            assert stats.cluster_published > 0 and stats.cluster_received > 0
