"""Shared fixtures: a real papo server on a free loopback port, clients that
are closed after each test, and waiting for events with generous limits (no
test may hang; no test asserts how fast anything is)."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any, Callable, Iterator, List

import pytest

import papo

#: The repository root (tests live in <root>/bindings/python/tests).
REPO = Path(__file__).resolve().parents[3]
#: A limit for every wait, so that a broken library fails a test, never hangs it.
WAIT = 15.0


def wait_event(
    client: papo.Client,
    kind: papo.EventKind,
    timeout: float = WAIT,
    **fields: Any,
) -> papo.Event:
    """The first event of ``kind`` whose attributes equal ``fields``; the
    events before it are skipped. Fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    seen: List[papo.Event] = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(
                f"no {kind.value} event with {fields} within {timeout} s; saw {seen}"
            )
        event = client.next_event(timeout=remaining)
        if event is None:
            continue
        if event.kind is kind and all(getattr(event, k) == v for k, v in fields.items()):
            return event
        seen.append(event)


def drain(client: papo.Client) -> List[papo.Event]:
    """Every event already queued: a ping first makes sure that everything the
    server sent to this client before now has been queued."""
    client.ping()
    events = []
    while True:
        event = client.next_event(timeout=0)
        if event is None:
            return events
        events.append(event)


@pytest.fixture
def server() -> Iterator[papo.Server]:
    with papo.Server("127.0.0.1", 0) as srv:
        yield srv


@pytest.fixture
def connect(server: papo.Server) -> Iterator[Callable[..., papo.Client]]:
    """connect("ana") -> a client of ``server``, closed after the test."""
    clients: List[papo.Client] = []

    def make(nick: str, **kwargs: Any) -> papo.Client:
        # These tests check what a lost connection looks like without
        # reconnecting (test_resume.py has the reconnecting client).
        kwargs.setdefault("reconnect", False)
        client = papo.Client("127.0.0.1", server.port, nick, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def free_port() -> int:
    """A loopback port with nothing listening on it (just released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
