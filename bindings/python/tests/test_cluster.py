"""Clusters (PROTOCOL.md "Clusters") through the bindings: ``papo.Server``'s
``cluster`` and ``cluster_lease`` settings, the cluster's server lines
(``CLUSTER``, ``LOST``, ``RENAMED``) as events, sent by a scripted server on
loopback (a thread of the test), and a client that resumes on another node
of the cluster ("Resuming on another node")."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Iterator, List, Optional

import pytest

import papo
from conftest import WAIT, drain, free_port, wait_event
from test_resume import Proxy

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


def test_resume_on_another_node(redis_url: str) -> None:
    """ana's connection to server A is cut and her client comes back through
    the same address, now leading to server B of the same cluster: she
    resumes there (``recovered`` True) with her room, gets what bob said to
    her and to the room while she was away exactly once, and bob, on B all
    along, never sees her leave or join."""
    with papo.Server("127.0.0.1", 0, cluster=redis_url) as a, papo.Server(
        "127.0.0.1", 0, cluster=redis_url
    ) as b:
        proxy = Proxy(a.port)
        clients: List[papo.Client] = []
        try:
            # bob first, so that he sees ana arrive and join the room before
            # the cut: any JOINED or ROOM_JOINED of hers after it is news.
            bob = papo.Client("127.0.0.1", b.port, "bob", reconnect=False)
            clients.append(bob)
            bob.join("#sala")
            ana = papo.Client(
                "127.0.0.1",
                proxy.port,
                "ana",
                reconnect_attempts=100000,
                reconnect_delay=0.002,
                reconnect_max_delay=0.02,
            )
            clients.append(ana)
            wait_event(bob, K.JOINED, sender="ana")
            ana.join("#sala")
            wait_event(bob, K.ROOM_JOINED, room="#sala", sender="ana")
            # Both nodes know both members: a room message crosses.
            bob.send("antes", to="#sala")
            wait_event(ana, K.ROOM, room="#sala", sender="bob", text="antes")
            drain(ana)
            drain(bob)
            bob_events: List[papo.Event] = []

            # New connections go to B, and none gets through until bob has
            # spoken: ana is certainly away while he does.
            proxy.refusing = True
            proxy.upstream = b.port
            proxy.cut()
            bob.send("oi, ana", to="ana")  # returns once the server took it
            bob.send("oi, sala", to="#sala")
            proxy.refusing = False

            got: List[papo.Event] = []
            reconnected: List[papo.Event] = []
            while not reconnected:
                event = ana.next_event(timeout=WAIT)
                assert event is not None, f"no RECONNECTED; saw {got}"
                if event.kind is K.RECONNECTED:
                    reconnected.append(event)
                else:
                    got.append(event)
            assert reconnected[0].recovered is True, reconnected
            # Back on B, still in the room: she speaks there and bob hears
            # it, then says something after which nothing of before can come.
            ana.send("voltei", to="#sala")
            while True:
                event = bob.next_event(timeout=WAIT)
                assert event is not None, f"ana's message did not come; saw {bob_events}"
                bob_events.append(event)
                if event.kind is K.ROOM and event.text == "voltei":
                    break
            bob.send("depois", to="#sala")
            while True:
                event = ana.next_event(timeout=WAIT)
                assert event is not None, f"bob's last message did not come; saw {got}"
                got.append(event)
                if event.kind is K.ROOM and event.text == "depois":
                    break
            got += drain(ana)
            bob_events += drain(bob)

            privates = [(e.sender, e.text) for e in got if e.kind is K.PRIVATE]
            rooms = [(e.room, e.sender, e.text) for e in got if e.kind is K.ROOM]
            assert privates == [("bob", "oi, ana")], got
            assert rooms == [
                ("#sala", "bob", "oi, sala"),
                ("#sala", "bob", "depois"),
            ], got
            # Nothing else came: no error, no LOST, no room to join again.
            others = [e for e in got if e.kind not in (K.PRIVATE, K.ROOM, K.RECONNECTING)]
            assert others == [], got
            seen_of_ana = [
                e
                for e in bob_events
                if e.sender == "ana"
                and e.kind in (K.LEFT, K.JOINED, K.ROOM_LEFT, K.ROOM_JOINED)
            ]
            assert seen_of_ana == [], bob_events
            assert bob.users() == ["ana", "bob"]
        finally:
            for client in clients:
                client.close()
            proxy.close()
