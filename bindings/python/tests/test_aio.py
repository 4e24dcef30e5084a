"""papo.aio for real: asyncio clients of a real server (the library's, on
loopback), sharing one event loop with a plain papo.Client watched through
its descriptor; every message checked, requests answered through the
library's asynchronous requests, cancellation, closing, and the end of the
connection."""

from __future__ import annotations

import asyncio
import select
import threading
from collections import Counter
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List, Tuple, TypeVar

import pytest

import papo
import papo.aio
from conftest import WAIT

K = papo.EventKind
T = TypeVar("T")
CHAT = (K.PUBLIC, K.PRIVATE, K.BYTES)


def run(main: Callable[[], Awaitable[T]]) -> T:
    """Runs ``main()`` in a fresh event loop, failing (not hanging) after a
    generous limit."""

    async def limited() -> T:
        return await asyncio.wait_for(main(), WAIT * 4)

    return asyncio.run(limited())


async def next_of(client: papo.aio.Client, kind: papo.EventKind, **fields: Any) -> papo.Event:
    """The first event of ``kind`` whose attributes equal ``fields`` (the
    ones before it are skipped)."""
    seen: List[papo.Event] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise AssertionError(f"no {kind.value} event with {fields} within {WAIT} s: {seen}")
        event = await client.next_event(timeout=remaining)
        if event is None:
            continue
        if event.kind is kind and all(getattr(event, k) == v for k, v in fields.items()):
            return event
        seen.append(event)


def key(event: papo.Event) -> Tuple[str, str, str]:
    """What a chat event says: kind, sender, text (or the bytes, as text)."""
    body = event.text if event.kind is not K.BYTES else repr(event.data)
    return (event.kind.value, event.sender or "", body or "")


def test_two_aio_clients_and_a_plain_client_chat_in_one_loop(server: papo.Server) -> None:
    """ana and bia (papo.aio) and caio (papo.Client, its descriptor watched by
    the same loop) each send public, private and binary messages; each gets
    exactly what was sent to it, each sender's in its order."""
    rounds = 15

    async def main() -> Dict[str, List[Tuple[str, str, str]]]:
        loop = asyncio.get_running_loop()
        got: Dict[str, List[Tuple[str, str, str]]] = {"ana": [], "bia": [], "caio": []}
        ends: Dict[str, "asyncio.Future[None]"] = {n: loop.create_future() for n in got}
        expected_ends = {"ana": {"bia", "caio"}, "bia": {"ana", "caio"}, "caio": {"ana", "bia"}}
        seen_ends: Dict[str, set] = {n: set() for n in got}

        def record(nick: str, event: papo.Event) -> None:
            if event.kind not in CHAT:
                return
            if event.kind is K.PUBLIC and (event.text or "").startswith("fim"):
                seen_ends[nick].add(event.sender or "")
                if seen_ends[nick] == expected_ends[nick] and not ends[nick].done():
                    ends[nick].set_result(None)
                return
            got[nick].append(key(event))

        async with papo.aio.Client("127.0.0.1", server.port, "ana") as ana, papo.aio.Client(
            "127.0.0.1", server.port, "bia"
        ) as bia:
            with papo.Client("127.0.0.1", server.port, "caio") as caio:

                def caio_readable() -> None:
                    while True:
                        event = caio.next_event(timeout=0)
                        if event is None:
                            return
                        record("caio", event)

                loop.add_reader(caio.fileno(), caio_readable)

                async def listen(nick: str, client: papo.aio.Client) -> None:
                    async for event in client:
                        record(nick, event)
                        if ends[nick].done():
                            return

                listeners = [
                    asyncio.ensure_future(listen("ana", ana)),
                    asyncio.ensure_future(listen("bia", bia)),
                ]
                try:
                    assert await ana.users() == ["ana", "bia", "caio"]
                    assert await bia.users() == ["ana", "bia", "caio"]
                    for i in range(rounds):
                        await ana.send(f"ana público {i}")
                        await ana.send(f"ana para bia {i}", to="bia")
                        await bia.send(f"bia para caio {i}", to="caio")
                        await bia.send_bytes(bytes([0, 10, 13, i]) + b"\xff", to="ana")
                        caio.send(f"caio público {i}")
                        caio.send(f"caio para ana {i}", to="ana")  # blocks one round trip
                    await bia.send("bia público")
                    await ana.send_bytes(b"\x00todos\x00")
                    await ana.send("fim")
                    await bia.send("fim")
                    caio.send("fim")
                    await asyncio.wait_for(asyncio.gather(*ends.values()), WAIT * 2)
                finally:
                    loop.remove_reader(caio.fileno())
                    for listener in listeners:
                        listener.cancel()
                    await asyncio.gather(*listeners, return_exceptions=True)
        return got

    got = run(main)
    # what each one should get, in the order it was sent
    expected: Dict[str, List[Tuple[str, str, str]]] = {"ana": [], "bia": [], "caio": []}
    for i in range(rounds):
        expected["bia"].append(("public", "ana", f"ana público {i}"))
        expected["caio"].append(("public", "ana", f"ana público {i}"))
        expected["bia"].append(("private", "ana", f"ana para bia {i}"))
        expected["caio"].append(("private", "bia", f"bia para caio {i}"))
        expected["ana"].append(("bytes", "bia", repr(bytes([0, 10, 13, i]) + b"\xff")))
        expected["ana"].append(("public", "caio", f"caio público {i}"))
        expected["bia"].append(("public", "caio", f"caio público {i}"))
        expected["ana"].append(("private", "caio", f"caio para ana {i}"))
    for nick in ("ana", "caio"):
        expected[nick].append(("public", "bia", "bia público"))
    for nick in ("bia", "caio"):
        expected[nick].append(("bytes", "ana", repr(b"\x00todos\x00")))
    for nick in ("ana", "bia", "caio"):
        # exactly these, each once (no loss, no duplicate, nothing else) ...
        assert Counter(got[nick]) == Counter(expected[nick]), nick
        # ... and each sender's in the order it sent them
        for sender in ("ana", "bia", "caio"):
            mine = [m for m in got[nick] if m[1] == sender]
            assert mine == [m for m in expected[nick] if m[1] == sender], (nick, sender)


def test_requests_are_answered_through_the_loop(server: papo.Server, tmp_path: Path) -> None:
    payload = bytes(range(256)) * 1000  # 256 kB, several chunks
    source = tmp_path / "dados.bin"
    source.write_bytes(payload)

    async def main() -> None:
        async with papo.aio.Client("127.0.0.1", server.port, "ana") as ana, papo.aio.Client(
            "127.0.0.1", server.port, "bia"
        ) as bia:
            bia.download_dir = str(tmp_path / "recebidos")
            await ana.ping()
            assert await ana.users() == ["ana", "bia"]

            file_id = await ana.send_file(source, to="bia")
            assert file_id > 0
            sent = await next_of(ana, K.FILE_SENT, file_id=file_id)
            assert sent.bytes_total == len(payload)
            received = await next_of(bia, K.FILE_RECEIVED, sender="ana")
            assert received.path is not None
            assert Path(received.path).read_bytes() == payload

            await ana.set_nick("ana2")
            assert ana.nick == "ana2"
            changed = await next_of(bia, K.NICK_CHANGED, sender="ana")
            assert changed.new_nick == "ana2"
            assert await bia.users() == ["ana2", "bia"]

            with pytest.raises(papo.NickInUse) as taken:
                await bia.set_nick("ANA2")
            assert "ANA2" in (taken.value.detail or "") or "ana2" in (taken.value.detail or "")
            assert bia.nick == "bia"
            with pytest.raises(papo.NoSuchUser) as missing:
                await ana.send("alguém?", to="ninguém")
            assert "ninguém" in (missing.value.detail or "")
            assert "ninguém" in str(missing.value)
            # refused before anything is sent: raised by the call itself
            with pytest.raises(papo.InvalidText):
                await ana.send("duas\nlinhas")
            with pytest.raises(papo.IoError):
                await ana.send_file(tmp_path / "não existe")
            # and the client goes on
            await ana.send("ainda aqui", to="bia")
            assert (await next_of(bia, K.PRIVATE)).text == "ainda aqui"

    run(main)


def test_cancelling_a_pending_receive_leaves_the_client_usable(server: papo.Server) -> None:
    async def main() -> None:
        async with papo.aio.Client("127.0.0.1", server.port, "ana") as ana, papo.aio.Client(
            "127.0.0.1", server.port, "bia"
        ) as bia:
            await next_of(ana, K.JOINED, sender="bia")
            # cancelled while nothing has come
            waiting = asyncio.ensure_future(ana.next_event())
            await asyncio.sleep(0.05)
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
            assert await ana.next_event(timeout=0.05) is None  # a timeout is not an error
            # cancelled just before, or just after, the loop sees its event
            # arrive (the waiter already woken, the task not yet resumed): the
            # event is not lost, the next call gets it
            caio = papo.Client("127.0.0.1", server.port, "caio")  # sends without the loop
            await next_of(ana, K.JOINED, sender="caio")
            for i in range(6):
                waiting = asyncio.ensure_future(ana.next_event())
                await asyncio.sleep(0)  # it waits
                caio.send(f"m{i}")  # returns once written: the loop does not run
                # block the loop until the event is queued in the library, so
                # that the loop sees it in its next iteration
                assert select.select([ana.fileno()], [], [], WAIT)[0]
                for _ in range(i % 3):
                    await asyncio.sleep(0)
                waiting.cancel()
                try:
                    event = await waiting
                except asyncio.CancelledError:
                    event = await ana.next_event(timeout=WAIT)
                assert event is not None and (event.kind, event.text) == (K.PUBLIC, f"m{i}")
            caio.close()
            await next_of(ana, K.LEFT, sender="caio")
            # asyncio.wait_for's timeout cancels too
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(ana.next_event(), 0.05)
            await bia.send("depois")
            assert (await next_of(ana, K.PUBLIC)).text == "depois"

    run(main)


def test_cancelling_a_pending_request_leaves_the_client_usable(server: papo.Server) -> None:
    async def main() -> None:
        async with papo.aio.Client("127.0.0.1", server.port, "ana") as ana, papo.aio.Client(
            "127.0.0.1", server.port, "bia"
        ) as bia:
            for _ in range(3):
                pending = asyncio.ensure_future(ana.users())
                await asyncio.sleep(0)  # the request is on its way
                pending.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await pending
            # a cancelled private message was sent all the same: only its answer is dropped
            pending = asyncio.ensure_future(ana.send("cancelada mas enviada", to="bia"))
            await asyncio.sleep(0)
            pending.cancel()
            with pytest.raises(asyncio.CancelledError):
                await pending
            assert (await next_of(bia, K.PRIVATE)).text == "cancelada mas enviada"
            # the late answers were dropped; new requests get their own
            assert await ana.users() == ["ana", "bia"]
            await ana.ping()
            await ana.send("de novo", to="bia")
            assert (await next_of(bia, K.PRIVATE)).text == "de novo"

    run(main)


def test_closing_ends_what_waits_and_the_loop_goes_on(server: papo.Server) -> None:
    async def main() -> None:
        ana = papo.aio.Client("127.0.0.1", server.port, "ana")
        async with papo.aio.Client("127.0.0.1", server.port, "bia") as bia:
            await next_of(ana, K.JOINED, sender="bia")
            receiving = asyncio.ensure_future(ana.next_event())
            await asyncio.sleep(0.05)
            ana.close()
            with pytest.raises(papo.Closed):
                await receiving
            with pytest.raises(papo.Closed):
                await ana.send("depois de fechar")
            with pytest.raises(papo.Closed):
                await ana.next_event(timeout=0)
            assert [e async for e in ana] == []
            ana.close()  # again: nothing
            await next_of(bia, K.LEFT, sender="ana")
            assert await bia.users() == ["bia"]

    run(main)


def test_the_end_of_the_connection_ends_the_iteration() -> None:
    async def main() -> List[papo.Event]:
        server = papo.Server("127.0.0.1", 0)
        async with papo.aio.Client("127.0.0.1", server.port, "ana") as ana:
            await ana.ping()
            events: List[papo.Event] = []
            closer = threading.Timer(0.2, server.close)
            closer.start()
            async for event in ana:  # ends after DISCONNECTED
                events.append(event)
            closer.join(WAIT)
            with pytest.raises(papo.Closed):
                await ana.next_event(timeout=0)
            with pytest.raises((papo.ConnectionAborted, papo.Closed)):
                await ana.users()
        return events

    events = run(main)
    assert events and events[-1].kind is K.DISCONNECTED and events[-1].code == 3
    assert all(e.kind is not K.REPLY for e in events)


def test_a_client_belongs_to_one_loop(server: papo.Server) -> None:
    async def first() -> papo.aio.Client:
        client = papo.aio.Client("127.0.0.1", server.port, "ana")
        await client.ping()
        return client

    client = run(first)
    try:

        async def second() -> None:
            with pytest.raises(RuntimeError, match="another event loop"):
                await client.ping()

        run(second)
    finally:
        client.close()


def test_connect_errors_carry_the_library_detail(server: papo.Server) -> None:
    async def main() -> None:
        async with papo.aio.Client("127.0.0.1", server.port, "Ana"):
            with pytest.raises(papo.NickInUse) as info:
                papo.aio.Client("127.0.0.1", server.port, "ana")
            assert info.value.detail and "ana" in info.value.detail.lower()
            assert info.value.detail in str(info.value)

    run(main)
