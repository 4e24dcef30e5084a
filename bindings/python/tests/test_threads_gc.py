"""Threads and garbage collection: sending from 8 threads at once, and
objects dropped without being closed while the server keeps serving."""

from __future__ import annotations

import gc
import threading
import time
import weakref
from collections import Counter
from typing import List

import pytest

import papo
from conftest import WAIT, wait_event

K = papo.EventKind
THREADS = 8
PER_THREAD = 40


def _send_from_threads(sender: papo.Client, to: "str | None") -> List[str]:
    barrier = threading.Barrier(THREADS)
    errors: List[BaseException] = []

    def work(t: int) -> None:
        try:
            barrier.wait(WAIT)
            for i in range(PER_THREAD):
                sender.send(f"t{t}-m{i}", to=to)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT * 4)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    return [f"t{t}-m{i}" for t in range(THREADS) for i in range(PER_THREAD)]


def _receive(client: papo.Client, kind: papo.EventKind, count: int) -> Counter:
    received: Counter = Counter()
    deadline = time.monotonic() + WAIT * 4
    while sum(received.values()) < count and time.monotonic() < deadline:
        event = client.next_event(timeout=1.0)
        if event is not None and event.kind is kind:
            received[event.text] += 1
    return received


def _assert_each_once(received: Counter, expected: List[str]) -> None:
    assert set(received) == set(expected)
    assert all(n == 1 for n in received.values()), [m for m, n in received.items() if n != 1]
    # per thread, the messages arrive in the order that thread sent them
    # (checked through the counters' insertion order)
    order = list(received)
    for t in range(THREADS):
        mine = [m for m in order if m.startswith(f"t{t}-")]
        assert mine == [f"t{t}-m{i}" for i in range(PER_THREAD)]


def test_public_messages_from_8_threads_arrive_exactly_once(connect) -> None:
    ana, bob = connect("ana"), connect("bob")
    expected = _send_from_threads(ana, None)
    _assert_each_once(_receive(bob, K.PUBLIC, len(expected)), expected)
    ana.ping()
    bob.ping()
    assert [e for e in bob.events(timeout=0.2) if e.kind is K.PUBLIC] == []


def test_private_messages_from_8_threads_arrive_exactly_once(connect) -> None:
    ana, bob = connect("ana"), connect("bob")
    expected = _send_from_threads(ana, "bob")
    _assert_each_once(_receive(bob, K.PRIVATE, len(expected)), expected)


def test_8_threads_on_8_clients_at_once(connect) -> None:
    listener = connect("ouvinte")
    senders = [connect(f"s{t}") for t in range(THREADS)]
    barrier = threading.Barrier(THREADS)
    errors: List[BaseException] = []

    def work(t: int) -> None:
        try:
            barrier.wait(WAIT)
            for i in range(PER_THREAD):
                senders[t].send(f"t{t}-m{i}", to="ouvinte" if i % 2 else None)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT * 4)
    assert errors == []
    received: Counter = Counter()
    deadline = time.monotonic() + WAIT * 4
    total = THREADS * PER_THREAD
    while sum(received.values()) < total and time.monotonic() < deadline:
        event = listener.next_event(timeout=1.0)
        if event is not None and event.kind in (K.PUBLIC, K.PRIVATE):
            assert event.sender == f"s{event.text.split('-')[0][1:]}"
            assert event.kind is (K.PRIVATE if int(event.text.split("m")[-1]) % 2 else K.PUBLIC)
            received[event.text] += 1
    expected = {f"t{t}-m{i}" for t in range(THREADS) for i in range(PER_THREAD)}
    assert set(received) == expected and set(received.values()) == {1}


def test_events_pulled_by_several_threads_go_to_exactly_one(connect) -> None:
    ana, bob = connect("ana"), connect("bob")
    bob.ping()
    while bob.next_event(timeout=0) is not None:
        pass
    got: List[str] = []
    lock = threading.Lock()
    total = 200
    deadline = time.monotonic() + WAIT * 2

    def pull() -> None:
        while time.monotonic() < deadline:
            with lock:
                if len(got) >= total:
                    return
            event = bob.next_event(timeout=0.2)
            if event is not None and event.kind is K.PUBLIC:
                with lock:
                    got.append(event.text or "")

    pullers = [threading.Thread(target=pull) for _ in range(4)]
    for thread in pullers:
        thread.start()
    for i in range(total):
        ana.send(f"m{i}")
    for thread in pullers:
        thread.join(WAIT * 3)
    assert sorted(got) == sorted(f"m{i}" for i in range(total))
    assert bob.next_event(timeout=0.2) is None  # nothing left over, nothing twice


def test_client_garbage_collected_while_the_server_runs(server, connect) -> None:
    bob = connect("bob")
    ana = papo.Client("127.0.0.1", server.port, "ana")
    wait_event(bob, K.JOINED, sender="ana")
    ref = weakref.ref(ana)
    del ana
    gc.collect()
    assert ref() is None
    wait_event(bob, K.LEFT, sender="ana")  # it was disconnected, cleanly
    # the server still serves, and the nickname is free again
    again = connect("ana")
    again.send("voltei")
    assert wait_event(bob, K.PUBLIC).text == "voltei"


def test_client_in_a_reference_cycle_is_collected(server, connect) -> None:
    bob = connect("bob")
    ana = papo.Client("127.0.0.1", server.port, "ana")
    ana.cycle = ana  # type: ignore[attr-defined]
    wait_event(bob, K.JOINED, sender="ana")
    del ana
    gc.collect()
    wait_event(bob, K.LEFT, sender="ana")
    assert server.users() == ["bob"]


def test_many_clients_dropped_at_once(server, connect) -> None:
    watcher = connect("vigia")
    crowd = [papo.Client("127.0.0.1", server.port, f"c{i}") for i in range(20)]
    assert server.user_count == 21
    del crowd
    gc.collect()
    left = set()
    while len(left) < 20:
        left.add(wait_event(watcher, K.LEFT).sender)
    assert server.users() == ["vigia"]
    assert watcher.users() == ["vigia"]


def test_server_garbage_collected_with_clients_connected() -> None:
    server = papo.Server("127.0.0.1", 0)
    port = server.port
    ana = papo.Client("127.0.0.1", port, "ana", reconnect=False)
    del server
    gc.collect()
    event = wait_event(ana, K.DISCONNECTED)
    assert event.code == 3
    ana.close()
    with pytest.raises(papo.InvalidServer):
        papo.Client("127.0.0.1", port, "bob", connect_timeout=2)  # the port was released


def test_client_outliving_its_server_object() -> None:
    """Dropping every reference in any order never crashes."""
    server = papo.Server("127.0.0.1", 0)
    clients = [
        papo.Client("127.0.0.1", server.port, f"n{i}", reconnect=False) for i in range(3)
    ]
    server.close()
    del server
    gc.collect()
    for client in clients:
        assert wait_event(client, K.DISCONNECTED).code == 3
    del clients
    gc.collect()


def test_close_from_another_thread_during_calls(connect) -> None:
    ana, bob = connect("ana"), connect("bob")
    started = threading.Event()
    outcomes: List[BaseException] = []

    def busy() -> None:
        deadline = time.monotonic() + WAIT * 2
        try:
            while time.monotonic() < deadline:
                ana.ping()  # a round trip: often in progress when close() comes
                started.set()
        except papo.Closed as exc:
            outcomes.append(exc)

    thread = threading.Thread(target=busy)
    thread.start()
    assert started.wait(WAIT)
    ana.close()  # waits for the call in progress, then frees the client
    thread.join(WAIT * 3)
    assert not thread.is_alive()
    assert len(outcomes) == 1 and isinstance(outcomes[0], papo.Closed)
    wait_event(bob, K.LEFT, sender="ana")
