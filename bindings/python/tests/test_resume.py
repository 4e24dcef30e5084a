"""Reconnection that loses nothing, from Python (PROTOCOL.md, "Resuming a
connection"), through a small fault-injecting TCP proxy on loopback that
cuts the client's connection: messages to it arrive once and in order
across 30 cuts, ``event.attempt`` and ``event.recovered`` say what
happened, a grace period running out gives the others LEFT and the client
``recovered == False``, and ``reconnect=False`` ends at the first cut."""

from __future__ import annotations

import socket
import threading
from typing import List, Tuple

import papo
from conftest import WAIT, wait_event

K = papo.EventKind


class Proxy:
    """Forwards every connection to ``upstream``; :meth:`cut` shuts down
    both sockets of every live connection (bytes in flight are lost);
    while :attr:`refusing`, new connections are closed at once."""

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self.refusing = False
        self._pairs: List[Tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._stopped = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._stopped or self.refusing:
                client.close()
                continue
            try:
                server = socket.create_connection(("127.0.0.1", self.upstream))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._pairs.append((client, server))
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(a: socket.socket, b: socket.socket) -> None:
        try:
            while True:
                data = a.recv(16384)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self) -> None:
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for s in pair:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self._stopped = True
        self._listener.close()
        self.cut()


def reconnecting(port: int, nick: str) -> papo.Client:
    return papo.Client(
        "127.0.0.1",
        port,
        nick,
        reconnect_attempts=100000,
        reconnect_delay=0.002,
        reconnect_max_delay=0.02,
    )


def test_cuts_lose_nothing() -> None:
    cuts, per_round = 30, 10
    with papo.Server("127.0.0.1", 0, history_limit=100000, resume_backlog=100000) as server:
        proxy = Proxy(server.port)
        ana = reconnecting(proxy.port, "ana")
        bob = papo.Client("127.0.0.1", server.port, "bob", reconnect=False)
        try:
            wait_event(ana, K.JOINED, sender="bob")
            got: List[int] = []
            reconnected = 0
            for r in range(cuts):
                for k in range(per_round):
                    bob.send(f"b{r * per_round + k}", to="ana")
                while len(got) < r * per_round + 3:
                    event = wait_event(ana, K.PRIVATE)
                    got.append(int((event.text or "")[1:]))
                proxy.cut()
                while reconnected <= r or len(got) < (r + 1) * per_round:
                    event = ana.next_event(timeout=WAIT)
                    assert event is not None, "no event"
                    if event.kind is K.PRIVATE:
                        assert event.id > 0
                        got.append(int((event.text or "")[1:]))
                    elif event.kind is K.RECONNECTING:
                        assert event.attempt >= 1
                    elif event.kind is K.RECONNECTED:
                        assert event.recovered is True
                        reconnected += 1
                    else:
                        raise AssertionError(f"unexpected {event}")
                ana.send(f"a{r}", to="bob")  # waits for the link, then SENT
            assert got == list(range(cuts * per_round))
            for r in range(cuts):
                assert wait_event(bob, K.PRIVATE).text == f"a{r}"
            assert bob.users() == ["ana", "bob"]
        finally:
            ana.close()
            bob.close()
            proxy.close()


def test_grace_period_running_out() -> None:
    with papo.Server("127.0.0.1", 0, resume_grace=0.3) as server:
        proxy = Proxy(server.port)
        ana = reconnecting(proxy.port, "ana")
        bob = papo.Client("127.0.0.1", server.port, "bob", reconnect=False)
        try:
            ana.join("#sala")
            bob.join("#sala")
            proxy.refusing = True
            proxy.cut()
            wait_event(bob, K.LEFT, sender="ana")
            proxy.refusing = False
            event = wait_event(ana, K.RECONNECTED)
            assert event.recovered is False
            wait_event(ana, K.ROOM_JOINED, room="#sala", sender="ana")
            bob.send("de volta", to="#sala")
            assert wait_event(ana, K.ROOM, room="#sala").text == "de volta"
        finally:
            ana.close()
            bob.close()
            proxy.close()


def test_without_reconnect_a_cut_is_the_end() -> None:
    with papo.Server("127.0.0.1", 0) as server:
        proxy = Proxy(server.port)
        ana = papo.Client("127.0.0.1", proxy.port, "ana", reconnect=False)
        try:
            proxy.cut()
            assert wait_event(ana, K.DISCONNECTED).code == 3
        finally:
            ana.close()
            proxy.close()
