"""Waiting for events the 1.0 way: next_event waits inside the library with
no time slices, close() and wakeup() from another thread end such a wait,
and fileno() is a descriptor that select() sees readable exactly while
events are queued (client and server). Errors carry the library's detail."""

from __future__ import annotations

import os
import select
import threading
import time
from typing import Callable, List, Optional

import pytest

import papo
from conftest import WAIT, drain, free_port

K = papo.EventKind


def readable(fd: int, timeout: float) -> bool:
    ready, _, _ = select.select([fd], [], [], timeout)
    return bool(ready)


def in_thread(target: Callable[[], object]) -> "tuple[threading.Thread, List[object]]":
    """Runs ``target`` on a thread; its result (or exception) lands in the list."""
    out: List[object] = []

    def run() -> None:
        try:
            out.append(target())
        except BaseException as exc:  # checked by the test
            out.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, out


def test_close_from_another_thread_ends_a_wait_without_timeout(connect) -> None:
    ana = connect("ana")
    drain(ana)
    thread, out = in_thread(lambda: ana.next_event())  # no timeout: only close() ends it
    time.sleep(0.2)
    assert thread.is_alive()
    ana.close()
    thread.join(WAIT)
    assert not thread.is_alive()
    assert len(out) == 1 and isinstance(out[0], papo.Closed)


def test_wakeup_ends_a_wait_and_is_kept_for_the_next_one(connect) -> None:
    ana, bob = connect("ana"), connect("bob")
    drain(ana)
    thread, out = in_thread(lambda: ana.next_event())
    time.sleep(0.2)
    assert thread.is_alive()
    ana.wakeup()
    thread.join(WAIT)
    assert not thread.is_alive() and out == [None]
    # with no wait in progress, the next wait returns at once (once)
    ana.wakeup()
    assert ana.next_event() is None
    # and then waits again, for real events
    bob.send("oi")
    event = ana.next_event(timeout=WAIT)
    assert event is not None and (event.kind, event.text) == (K.PUBLIC, "oi")


def test_the_descriptor_is_readable_exactly_while_events_are_queued(connect) -> None:
    ana, bob = connect("ana"), connect("bob")
    fd = ana.fileno()
    assert fd >= 0 and ana.fileno() == fd
    drain(ana)
    assert not readable(fd, 0)
    bob.send("um")
    assert readable(fd, WAIT)
    event = ana.next_event(timeout=0)
    assert event is not None and event.text == "um"
    assert not readable(fd, 0)
    for text in ("dois", "três"):
        bob.send(text)
    bob.ping()
    texts = []
    while len(texts) < 2:
        assert readable(fd, WAIT)
        event = ana.next_event(timeout=0)
        assert event is not None
        texts.append(event.text)
    assert texts == ["dois", "três"]
    assert not readable(fd, 0)
    ana.close()
    # the descriptor was closed with the client
    with pytest.raises(OSError):
        os.fstat(fd)
    with pytest.raises(papo.Closed):
        ana.fileno()


def test_the_servers_descriptor_wakeup_and_close(server) -> None:
    fd = server.fileno()
    while server.next_event(timeout=0) is not None:
        pass
    assert not readable(fd, 0)
    with papo.Client("127.0.0.1", server.port, "ana"):
        assert readable(fd, WAIT)
        kinds = []
        while readable(fd, 1.0) and len(kinds) < 2:
            event = server.next_event(timeout=0)
            assert event is not None
            kinds.append(event.kind)
        assert kinds == [papo.ServerEventKind.CONNECTED, papo.ServerEventKind.REGISTERED]
    thread, out = in_thread(lambda: server.next_event())
    thread.join(WAIT)  # the DISCONNECTED of ana
    assert len(out) == 1 and isinstance(out[0], papo.ServerEvent)
    thread, out = in_thread(lambda: server.next_event())
    time.sleep(0.2)
    server.wakeup()
    thread.join(WAIT)
    assert out == [None]
    thread, out = in_thread(lambda: server.next_event())
    time.sleep(0.2)
    server.close()
    thread.join(WAIT)
    assert len(out) == 1 and isinstance(out[0], papo.Closed)
    with pytest.raises(OSError):
        os.fstat(fd)


def test_errors_carry_the_library_detail(connect, server) -> None:
    connect("Ana")
    with pytest.raises(papo.NickInUse) as taken:
        connect("ana")
    detail = taken.value.detail
    assert detail and "ana" in detail.lower()
    assert str(taken.value) == f"01 {papo.strerror(1)}: {detail}"

    port = free_port()
    with pytest.raises(papo.InvalidServer) as refused:
        papo.Client("127.0.0.1", port, "ana", connect_timeout=2)
    assert refused.value.detail and f"127.0.0.1:{port}" in refused.value.detail

    bob = connect("bob")
    with pytest.raises(papo.NoSuchUser) as missing:
        bob.send("oi", to="ninguém")
    assert missing.value.detail and "ninguém" in missing.value.detail

    # an option the library refuses: it says which
    with pytest.raises(papo.InvalidArgument) as bad:
        papo.Server("127.0.0.1", 0, max_line_bytes=0)
    assert bad.value.detail and "max_line_bytes" in bad.value.detail

    # errors found by the bindings themselves have a detail too
    bob.close()
    with pytest.raises(papo.Closed) as closed:
        bob.send("depois")
    assert closed.value.detail


def test_a_wait_longer_than_int32_milliseconds_is_accepted(connect) -> None:
    ana, bob = connect("ana"), connect("bob")
    drain(ana)
    thread, out = in_thread(lambda: ana.next_event(timeout=40 * 24 * 3600.0))  # 40 days
    bob.send("logo")
    thread.join(WAIT)
    assert not thread.is_alive()
    event: Optional[object] = out[0] if out else None
    assert isinstance(event, papo.Event) and event.text == "logo"


def test_events_still_flow_after_many_wakeups(connect) -> None:
    ana, bob = connect("ana"), connect("bob")
    drain(ana)
    for _ in range(50):
        ana.wakeup()
    assert ana.next_event() is None  # one wakeup kept, not fifty
    bob.send("depois")
    event = ana.next_event(timeout=WAIT)  # a second kept wakeup would make this None
    assert event is not None and (event.kind, event.text) == (K.PUBLIC, "depois")


def test_ctrl_c_interrupts_a_wait_of_the_main_thread(server) -> None:
    """A script blocked in next_event() with no timeout on its main thread
    still gets Ctrl-C's KeyboardInterrupt (and the client still works)."""
    import signal
    import subprocess
    import sys

    from procs import child_env

    code = (
        "import papo, sys\n"
        f"c = papo.Client('127.0.0.1', {server.port}, 'ana')\n"
        "while c.next_event(timeout=0) is not None: pass\n"
        "print('waiting', flush=True)\n"
        "try:\n"
        "    c.next_event()\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted', c.users(), flush=True)\n"
        "c.close()\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code],
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "waiting"
        time.sleep(0.2)  # inside the wait
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=WAIT)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0, err
    assert out.strip() == "interrupted ['ana']"
