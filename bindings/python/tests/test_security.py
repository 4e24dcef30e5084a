"""Issue 6 from Python: the server password, TLS (a certificate made with
the openssl command in a temporary directory) and the new limits (flood,
keepalive, nickname attempts), through the ctypes bindings."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Tuple

import pytest

import papo
from conftest import wait_event

K = papo.EventKind


def make_cert(directory: Path) -> Tuple[str, str]:
    """A self-signed certificate for 127.0.0.1: (cert.pem, key.pem)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec",
            "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "30",
            "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
            "-addext", "basicConstraints=critical,CA:FALSE",
            "-addext", "extendedKeyUsage=serverAuth",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return str(cert), str(key)


def test_password() -> None:
    with papo.Server("127.0.0.1", 0, password="abre-te sésamo") as server:
        with papo.Client("127.0.0.1", server.port, "ana", password="abre-te sésamo") as ana:
            assert ana.users() == ["ana"]
            with pytest.raises(papo.AccessDenied) as info:
                papo.Client("127.0.0.1", server.port, "bob")
            assert info.value.code == 19
            with pytest.raises(papo.AccessDenied):
                papo.Client("127.0.0.1", server.port, "bob", password="errada")
            assert server.users() == ["ana"]
    with pytest.raises(papo.InvalidArgument):
        papo.Server("127.0.0.1", 0, password="")
    with pytest.raises(papo.InvalidArgument):
        papo.Server("127.0.0.1", 0, password="a\0b")


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_tls_and_plain_share_one_chat(tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path)
    with papo.Server(
        "127.0.0.1", 0, tls_cert_file=cert, tls_key_file=key, tls_port=0
    ) as server:
        assert server.tls_port is not None and server.tls_port != server.port
        with (
            papo.Client("127.0.0.1", server.tls_port, "ana", tls_ca_file=cert) as ana,
            papo.Client("127.0.0.1", server.port, "bob") as bob,
        ):
            ana.send("em segredo")
            event = wait_event(bob, K.PUBLIC)
            assert (event.sender, event.text) == ("ana", "em segredo")
            bob.send("oi", to="ana")
            event = wait_event(ana, K.PRIVATE)
            assert (event.sender, event.text) == ("bob", "oi")
            with pytest.raises(papo.InvalidServer):
                papo.Client(
                    "127.0.0.1", server.tls_port, "eve",
                    tls_ca_file=cert, tls_server_name="example.com",
                )
        with pytest.raises(papo.IoError):
            papo.Client("127.0.0.1", server.tls_port, "eve", tls_ca_file=str(tmp_path / "no.pem"))
    with papo.Server("127.0.0.1", 0) as plain:
        assert plain.tls_port is None
    with pytest.raises(papo.InvalidArgument):
        papo.Server("127.0.0.1", 0, tls_cert_file=cert)  # without its key


def test_flood_limit_and_other_limits() -> None:
    with papo.Server(
        "127.0.0.1",
        0,
        flood_lines_per_sec=1,
        flood_burst_lines=3,
        keepalive_interval=0,
        keepalive_timeout=1.5,
        max_nick_attempts=2,
    ) as server:
        # A flooder dropped would come back: this one does not reconnect.
        with papo.Client("127.0.0.1", server.port, "flood", reconnect=False) as flood:
            # nickname + 2 lines = the burst; the next line floods.
            for k in range(10):
                try:
                    flood.send(f"linha {k}")
                except papo.Error:
                    break
            event = wait_event(flood, K.DISCONNECTED)
            assert event.code == 3 and "flooding" in (event.text or "")
    for bad in (
        {"flood_lines_per_sec": -1},
        {"flood_burst_lines": 2**32},
        {"keepalive_interval": -1.0},
    ):
        with pytest.raises(papo.InvalidArgument):
            papo.Server("127.0.0.1", 0, **bad)
