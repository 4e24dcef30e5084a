"""Rooms, message ids and server time, and history through the Python API,
against real servers on loopback (PROTOCOL.md "Rooms", "Message ids and
server time", "History")."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import papo
from conftest import WAIT, wait_event

K = papo.EventKind


def test_rooms_members_only(connect) -> None:
    ana, bob, carla = connect("ana"), connect("bob"), connect("carla")
    ana.join("#Sala")
    bob.join("#sala")
    event = wait_event(ana, K.ROOM_JOINED, sender="bob")
    assert event.room == "#Sala"
    with pytest.raises(papo.NotInRoom):
        carla.send("oi", to="#sala")
    with pytest.raises(papo.InvalidRoom):
        carla.join("sala")
    with pytest.raises(papo.InvalidRoom):
        carla.join("#" + "x" * 33)
    carla.join("#" + "x" * 32)
    bob.send("olá, sala", to="#sala")
    event = wait_event(ana, K.ROOM)
    assert (event.room, event.sender, event.text) == ("#Sala", "bob", "olá, sala")
    assert event.id > 0 and event.time > 1_700_000_000_000
    # carla, not a member, got nothing of it: her next message is ana's.
    ana.send("só para ti", to="carla")
    event = wait_event(carla, K.PRIVATE)
    assert event.text == "só para ti" and event.id > 0
    rooms = {r.name: r for r in carla.rooms()}
    assert rooms["#Sala"] == papo.RoomInfo(name="#Sala", members=2, topic="")
    with pytest.raises(papo.NotInRoom):
        carla.part("#sala")
    bob.part("#sala")
    wait_event(ana, K.ROOM_LEFT, sender="bob", room="#Sala")


def test_ids_increase_and_times_are_the_servers(connect) -> None:
    ana, bob = connect("ana"), connect("bob")
    before = int(time.time() * 1000)
    for i in range(5):
        ana.send(f"m{i}")
    ids = []
    for i in range(5):
        event = wait_event(bob, K.PUBLIC, text=f"m{i}")
        ids.append(event.id)
        assert before - 5000 <= event.time <= int(time.time() * 1000) + 5000
    assert ids == sorted(ids) and len(set(ids)) == 5


def test_history_order_paging_and_privacy(connect) -> None:
    ana, bob, carla = connect("ana"), connect("bob"), connect("carla")
    for i in range(8):
        ana.send(f"p{i}")
    ana.send("segredo", to="bob")
    bob.ping()
    everything = bob.history("*")
    assert [e.text for e in everything] == [f"p{i}" for i in range(8)]
    assert all(e.kind == "public" and e.sender == "ana" for e in everything)
    assert [e.id for e in everything] == sorted(e.id for e in everything)
    assert bob.history("*", n=3) == everything[5:]
    assert bob.history("*", n=2, before=everything[4].id) == everything[2:4]
    assert bob.history("*", before=everything[0].id) == []
    mine = bob.history("ana")
    assert [(e.kind, e.sender, e.text) for e in mine] == [("private", "ana", "segredo")]
    assert ana.history("BOB") == mine
    assert carla.history("ana") == []
    with pytest.raises(papo.NotInRoom):
        carla.history("#nada")
    with pytest.raises(papo.InvalidArgument):
        carla.history("*", n=-1)


def test_history_survives_a_restart_with_a_database(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    with papo.Server("127.0.0.1", 0, history_path=db) as server:
        with (
            papo.Client("127.0.0.1", server.port, "ana") as ana,
            papo.Client("127.0.0.1", server.port, "bob") as bob,
        ):
            ana.join("#db")
            for i in range(4):
                ana.send(f"sala {i}", to="#db")
            ana.send("público")
            wait_event(bob, K.PUBLIC, text="público")
            before = ana.history("#db")
            assert [e.text for e in before] == [f"sala {i}" for i in range(4)]
    with papo.Server("127.0.0.1", 0, history_path=str(db)) as server:
        with (
            papo.Client("127.0.0.1", server.port, "ana") as ana,
            papo.Client("127.0.0.1", server.port, "bob") as bob,
        ):
            ana.join("#db")
            assert ana.history("#db") == before
            ana.send("depois")
            event = wait_event(bob, K.PUBLIC, text="depois")
            assert event.id > max(e.id for e in before)


def test_a_database_that_cannot_be_written_is_reported(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        db = "/proc/papo-no-such-dir/history.db"  # root may write anywhere else
    else:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        db = str(ro / "history.db")
    with papo.Server("127.0.0.1", 0, history_path=db) as server:
        deadline = time.monotonic() + WAIT
        event = None
        while time.monotonic() < deadline:
            event = server.next_event(timeout=1.0)
            if event is not None and event.kind is papo.ServerEventKind.HISTORY:
                break
        assert event is not None and event.kind is papo.ServerEventKind.HISTORY
        assert event.code == 1 and event.reason is not None and "history.db" in event.reason
        with (
            papo.Client("127.0.0.1", server.port, "ana") as ana,
            papo.Client("127.0.0.1", server.port, "bob") as bob,
        ):
            ana.send("ainda aqui")
            wait_event(bob, K.PUBLIC, text="ainda aqui")
            assert [e.text for e in bob.history("*")] == ["ainda aqui"]
