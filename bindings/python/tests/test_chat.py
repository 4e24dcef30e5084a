"""The chat through the Python API, against a real server on loopback:
messages, events, the list of users, renames and closing."""

from __future__ import annotations

import threading

import pytest

import papo
from conftest import WAIT, drain, wait_event

K = papo.EventKind


def test_the_issue_snippet_runs() -> None:
    """The snippet of issue 3 and of the README, as written."""
    with papo.Server("127.0.0.1", 0) as server:
        port = server.port
        with (
            papo.Client("127.0.0.1", port, "ana") as ana,
            papo.Client("127.0.0.1", port, "bob") as bob,
        ):
            ana.send("olá a todos")
            ana.send("oi bob", to="bob")
            event = wait_event(bob, K.PUBLIC)
            assert (event.kind, event.sender, event.text) == (K.PUBLIC, "ana", "olá a todos")
            assert event.kind == "public"
            assert ana.users() == ["ana", "bob"]
            bob.ping()  # barrier: what the server queued for bob is now pulled-ready
            rest = list(bob.events(timeout=0.5))
            assert papo.Event(K.PRIVATE, sender="ana", text="oi bob") in rest


def test_public_message_reaches_everyone_else(connect) -> None:
    ana, bob, carla = connect("ana"), connect("bob"), connect("carla")
    ana.send("bom dia")
    for other in (bob, carla):
        event = wait_event(other, K.PUBLIC)
        assert (event.sender, event.text, event.code) == ("ana", "bom dia", 0)
        assert event.new_nick is None
    # the sender does not get its own public message back
    assert [e for e in drain(ana) if e.kind is K.PUBLIC] == []


def test_private_message_reaches_only_its_destination(connect) -> None:
    ana, bob, carla = connect("ana"), connect("bob"), connect("carla")
    ana.send("só para você", to="bob")  # returns once the server said SENT
    event = wait_event(bob, K.PRIVATE)
    assert (event.sender, event.text) == ("ana", "só para você")
    assert [e for e in drain(carla) if e.kind in (K.PRIVATE, K.PUBLIC)] == []
    assert [e for e in drain(ana) if e.kind in (K.PRIVATE, K.PUBLIC)] == []


def test_private_message_to_oneself_is_delivered(connect) -> None:
    ana = connect("ana")
    ana.send("nota", to="ana")
    assert wait_event(ana, K.PRIVATE).text == "nota"


def test_destination_empty_string_means_public(connect) -> None:
    ana, bob = connect("ana"), connect("bob")
    ana.send("para todos", to="")
    assert wait_event(bob, K.PUBLIC).text == "para todos"


def test_text_crosses_as_utf8(connect) -> None:
    ana, bob = connect("ana"), connect("bob")
    text = "ação, coração, 日本語, emoji 🎉, tab\there"
    ana.send(text)
    assert wait_event(bob, K.PUBLIC).text == text
    ana.send(text, to="bob")
    assert wait_event(bob, K.PRIVATE).text == text


def test_unicode_nicknames(connect) -> None:
    zé, bob = connect("zé"), connect("bob")
    assert zé.nick == "zé"
    bob.send("olá zé", to="zé")
    assert wait_event(zé, K.PRIVATE).sender == "bob"
    zé.send("oi")
    assert wait_event(bob, K.PUBLIC).sender == "zé"


def test_joined_and_left_events(connect, server) -> None:
    ana = connect("ana")
    bob = papo.Client("127.0.0.1", server.port, "bob")
    joined = wait_event(ana, K.JOINED, sender="bob")
    assert joined.nick == "bob"
    bob.close()
    left = wait_event(ana, K.LEFT, sender="bob")
    assert left.text is None or isinstance(left.text, str)
    assert ana.users() == ["ana"]


def test_users_sorted_case_insensitively(connect, server) -> None:
    connect("carla"), connect("Bob"), connect("ana")
    dani = connect("dani")
    assert dani.users() == ["ana", "Bob", "carla", "dani"]
    assert server.users() == ["ana", "Bob", "carla", "dani"]
    assert server.user_count == 4
    assert server.connection_count == 4


def test_change_nick(connect) -> None:
    ana, bob = connect("ana"), connect("bob")
    ana.change_nick("Aninha")
    assert ana.nick == "Aninha"
    for client in (ana, bob):  # everyone, the renamed client included
        event = wait_event(client, K.NICK_CHANGED)
        assert (event.sender, event.old_nick, event.new_nick) == ("ana", "ana", "Aninha")
    assert bob.users() == ["Aninha", "bob"]
    bob.send("oi Aninha", to="Aninha")
    assert wait_event(ana, K.PRIVATE).text == "oi Aninha"
    with pytest.raises(papo.NoSuchUser):
        bob.send("oi ana", to="ana")
    ana.send("novo nome")
    assert wait_event(bob, K.PUBLIC).sender == "Aninha"


def test_change_nick_to_a_taken_nick_keeps_the_old_one(connect) -> None:
    ana, connect_bob = connect("ana"), connect("bob")
    with pytest.raises(papo.NickInUse) as info:
        ana.change_nick("BOB")  # case-insensitive, as at registration
    assert info.value.code == 1
    assert ana.nick == "ana"
    with pytest.raises(papo.InvalidNick):
        ana.change_nick("com espaço")
    assert ana.nick == "ana"
    assert connect_bob.users() == ["ana", "bob"]


def test_the_old_nick_is_free_after_a_rename(connect) -> None:
    ana = connect("ana")
    ana.change_nick("ana2")
    other = connect("ana")
    assert other.nick == "ana"


def test_ping_is_a_round_trip(connect) -> None:
    ana, bob = connect("ana"), connect("bob")
    for i in range(5):
        ana.send(f"m{i}")
    ana.ping()  # the server has processed the five messages: bob has them queued
    bob.ping()
    texts = [e.text for e in drain(bob) if e.kind is K.PUBLIC]
    assert texts == [f"m{i}" for i in range(5)]


def test_next_event_timeouts(connect) -> None:
    ana = connect("ana")
    drain(ana)
    assert ana.next_event(timeout=0) is None
    assert ana.next_event(timeout=0.05) is None
    with pytest.raises(papo.InvalidArgument):
        ana.next_event(timeout=-1)
    with pytest.raises(ValueError):  # InvalidArgument is also a ValueError
        ana.next_event(timeout=float("nan"))
    assert list(ana.events(timeout=0.05)) == []


def test_events_iterator_yields_in_order(connect) -> None:
    ana, bob = connect("ana"), connect("bob")
    drain(bob)
    for i in range(10):
        ana.send(str(i))
    ana.ping()  # the server has handled all ten
    bob.ping()  # and bob's client has queued them
    texts = [e.text for e in bob.events(timeout=0.5) if e.kind is K.PUBLIC]
    assert texts == [str(i) for i in range(10)]


def test_event_is_a_frozen_dataclass() -> None:
    event = papo.Event(K.PUBLIC, sender="ana", text="oi")
    with pytest.raises(AttributeError):
        event.text = "outro"  # type: ignore[misc]
    assert event == papo.Event(K.PUBLIC, "ana", "oi")
    assert {K(value) for value in ("public", "private", "joined", "left")} <= set(K)
    assert [k.value for k in K] == [
        "public",
        "private",
        "joined",
        "left",
        "nick_changed",
        "error",
        "disconnected",
        # files and binary messages (test_files.py)
        "bytes",
        "file_offered",
        "file_progress",
        "file_received",
        "file_failed",
        "file_send_progress",
        "file_sent",
        "file_send_failed",
        # the answer to an asynchronous request (papo.aio consumes them)
        "reply",
        # rooms (test_rooms.py), since 1.1
        "room",
        "room_joined",
        "room_left",
        "room_kicked",
        "topic",
        "room_operator",
        # reconnecting by itself (test_resume.py), since 1.1
        "reconnecting",
        "reconnected",
        # a cluster of servers (test_cluster.py), since 1.2
        "cluster_partitioned",
        "cluster_healed",
        "lost",
        "renamed",
    ]


def test_closing_twice_and_using_after_close(server) -> None:
    client = papo.Client("127.0.0.1", server.port, "ana")
    client.close()
    client.close()
    assert client.closed
    assert client.nick == "ana"  # the last nickname it had
    for call in (
        lambda: client.send("x"),
        lambda: client.send("x", to="ana"),
        client.users,
        client.ping,
        lambda: client.change_nick("b"),
        lambda: client.next_event(0),
        lambda: client.set_wakeup(None),
    ):
        with pytest.raises(papo.Closed):
            call()
    assert list(client.events(0.1)) == []
    assert "closed" in repr(client)

    other = papo.Server("127.0.0.1", 0)
    port = other.port
    other.close()
    other.close()
    assert other.closed and other.port == port
    with pytest.raises(papo.Closed):
        other.users()
    with pytest.raises(papo.Closed):
        _ = other.connection_count
    with pytest.raises(papo.Closed):
        other.next_event(0)


def test_context_managers_close(server) -> None:
    with papo.Client("127.0.0.1", server.port, "ana") as ana:
        assert not ana.closed
    assert ana.closed
    with papo.Server("127.0.0.1", 0) as srv:
        assert not srv.closed
    assert srv.closed


def test_close_wakes_a_thread_blocked_in_next_event(connect) -> None:
    ana = connect("ana")
    drain(ana)
    outcome = []

    def wait_forever() -> None:
        try:
            outcome.append(ana.next_event(timeout=None))
        except papo.Closed as exc:
            outcome.append(exc)

    thread = threading.Thread(target=wait_forever)
    thread.start()
    ana.close()
    thread.join(WAIT)
    assert not thread.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], papo.Closed)


def test_wakeup_callback_signals_queued_events(connect) -> None:
    ana, bob = connect("ana"), connect("bob")
    drain(bob)
    woken = threading.Event()
    callers = set()

    def wakeup() -> None:
        callers.add(threading.get_ident())
        woken.set()

    bob.set_wakeup(wakeup)
    ana.send("acorda")
    assert woken.wait(WAIT)
    assert threading.get_ident() not in callers  # it ran on the library's thread
    assert wait_event(bob, K.PUBLIC).text == "acorda"
    bob.set_wakeup(None)
    woken.clear()
    ana.send("de novo")
    assert wait_event(bob, K.PUBLIC).text == "de novo"
    assert not woken.is_set()
    with pytest.raises(TypeError):
        bob.set_wakeup(42)  # type: ignore[arg-type]


def test_repr_and_properties(server, connect) -> None:
    ana = connect("ana")
    assert "ana" in repr(ana) and "open" in repr(ana)
    assert str(server.port) in repr(server)
    assert server.ip == "127.0.0.1"
    assert 0 < server.port < 65536


def test_close_from_inside_the_wakeup_callback_is_deferred(connect, server) -> None:
    """The library refuses calls from its wake-up callback; close() there
    hands the work to another thread instead of failing or deadlocking."""
    ana = connect("ana")
    bob = papo.Client("127.0.0.1", server.port, "bob")
    inside: list = []

    def wakeup() -> None:
        try:
            bob.users()
        except papo.Error as exc:
            inside.append(exc)
        bob.close()

    bob.set_wakeup(wakeup)
    ana.send("acorda, bob")
    wait_event(ana, K.LEFT, sender="bob")
    assert bob.closed
    assert inside and isinstance(inside[0], papo.InvalidArgument)


def test_inside_the_wakeup_callback_only_what_waits_is_refused(connect, server) -> None:
    """The library's rule (papo_client_set_wakeup): inside a callback, calls
    that would wait raise InvalidArgument and do nothing; a public send, the
    nickname, the download folder and set_wakeup work."""
    ana = connect("ana")
    bob = connect("bob")
    drain(ana)
    results: dict = {}
    done = threading.Event()
    later = threading.Event()

    def attempt(name, call) -> None:
        try:
            results[name] = call()
        except papo.Error as exc:
            results[name] = exc

    def wakeup() -> None:
        if done.is_set():
            return
        attempt("connect", lambda: papo.Client("127.0.0.1", server.port, "zeca"))
        attempt("private", lambda: bob.send("x", to="ana"))
        attempt("users", bob.users)
        attempt("ping", bob.ping)
        attempt("change_nick", lambda: bob.change_nick("bob2"))
        attempt("send_bytes", lambda: bob.send_bytes(b"x"))
        attempt("next_event", lambda: bob.next_event(timeout=0))
        attempt("public", lambda: bob.send("de dentro"))
        attempt("nick", lambda: bob.nick)
        attempt("download_dir", lambda: bob.download_dir)
        attempt("set_wakeup", lambda: bob.set_wakeup(later.set))
        done.set()

    bob.set_wakeup(wakeup)
    ana.send("acorda")
    assert done.wait(WAIT)
    for name in ("connect", "private", "users", "ping", "change_nick", "send_bytes", "next_event"):
        assert isinstance(results[name], papo.InvalidArgument), (name, results[name])
    assert results["public"] is None
    assert results["nick"] == "bob"
    assert isinstance(results["download_dir"], str) and results["download_dir"]
    assert results["set_wakeup"] is None
    assert wait_event(ana, K.PUBLIC).text == "de dentro"
    assert bob.nick == "bob"
    ana.send("de novo")
    assert later.wait(WAIT)  # the callback set from inside took over
    assert wait_event(bob, K.PUBLIC, text="de novo").sender == "ana"
    assert server.users() == ["ana", "bob"]  # "zeca" never connected


def test_presence_off_gets_messages_but_no_presence_events(connect, server) -> None:
    """``presence=False`` (PROTOCOL.md "Presence"): no JOINED/LEFT/NICK_CHANGED
    about others, but messages and users() as usual."""
    bot = connect("bot", presence=False)
    ana = connect("ana")
    bob = papo.Client("127.0.0.1", server.port, "bob")
    ana.change_nick("Ana2")
    bob.close()
    wait_event(ana, K.LEFT, sender="bob")  # everything bob did has happened
    ana.send("oi bot")
    ana.ping()  # the server has handled ana's message
    bot.ping()  # barrier: what happened before (joins, rename, leave, message) has reached bot
    seen = list(bot.events(timeout=0.2))
    assert [(e.kind, e.sender, e.text) for e in seen] == [(K.PUBLIC, "Ana2", "oi bot")], seen
    assert bot.users() == ["Ana2", "bot"]
