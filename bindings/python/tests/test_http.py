"""The HTTP port from Python (``papo.Server(http_port=...)``) and
``server.stats()``: the page and /healthz answer, /metrics and stats()
count what a real client did."""

from __future__ import annotations

import urllib.request

import pytest

import papo

from conftest import wait_event


def fetch(port: int, path: str) -> tuple[int, str, str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=20) as r:
        return r.status, r.headers.get("Content-Type", ""), r.read().decode("utf-8")


def test_no_http_port_by_default() -> None:
    with papo.Server("127.0.0.1", 0) as server:
        assert server.http_port is None
        assert server.stats().http_requests == 0


def test_http_port_serves_the_page_health_and_metrics() -> None:
    with papo.Server("127.0.0.1", 0, http_port=0, io_threads=2) as server:
        port = server.http_port
        assert port is not None and port != server.port
        status, ctype, page = fetch(port, "/")
        assert status == 200 and ctype.startswith("text/html")
        assert "app.js" in page
        assert fetch(port, "/healthz")[2] == "ok\n"
        with papo.Client("127.0.0.1", server.port, "ana") as ana, papo.Client(
            "127.0.0.1", server.port, "bob"
        ) as bob:
            ana.send("olá")
            ana.send("oi bob", to="bob")
            wait_event(bob, papo.EventKind.PRIVATE, text="oi bob")
            stats = server.stats()
            assert isinstance(stats, papo.ServerStats)
            assert stats.users == 2 and stats.connections == 2
            assert stats.messages_received == 2
            assert stats.deliveries == 2
            assert stats.io_threads == 2
            assert stats.http_requests >= 2
            assert stats.rooms == 0
            ana.join("#sala")
            assert server.stats().rooms == 1
            metrics = fetch(port, "/metrics")[2]
            assert "papo_messages_received_total 2\n" in metrics
            assert "papo_users 2\n" in metrics
            assert "papo_rooms 1\n" in metrics
    with pytest.raises(papo.Closed):
        server.stats()


def test_http_options_are_checked() -> None:
    with pytest.raises(TypeError):
        papo.Server("127.0.0.1", 0, http_port=0, http_allowed_origins="https://x")
    with pytest.raises(papo.InvalidArgument):
        papo.Server("127.0.0.1", 0, http_port=0, http_allowed_origins=["ftp://x"])
    with papo.Server(
        "127.0.0.1", 0, http_port=0, http_allowed_origins=["https://chat.example.org"]
    ) as server:
        assert server.http_port
