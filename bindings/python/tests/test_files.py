"""Files and binary messages through the Python bindings, against a real
server on loopback: every byte value arrives intact, files are saved in the
download folder, and the limits are refused up front."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Callable

import pytest

import papo
from conftest import WAIT, wait_event

EVERY_BYTE = bytes(range(256))


def test_binary_messages_carry_every_byte_value(connect: Callable[..., papo.Client]) -> None:
    ana, bob, carla = connect("ana"), connect("bob"), connect("carla")
    ana.send_bytes(EVERY_BYTE)
    ana.send_bytes(bytearray(EVERY_BYTE[::-1]), to="bob")
    ana.send_bytes(memoryview(b""), to="")
    for client in (bob, carla):
        event = wait_event(client, papo.EventKind.BYTES)
        assert event.sender == "ana"
        assert event.data == EVERY_BYTE
        assert event.private is False
        assert event.text is None and event.file_id == 0
    event = wait_event(bob, papo.EventKind.BYTES)
    assert event.data == EVERY_BYTE[::-1] and event.private is True
    event = wait_event(bob, papo.EventKind.BYTES)
    assert event.data == b"" and event.private is False


def test_binary_message_errors(connect: Callable[..., papo.Client]) -> None:
    ana = connect("ana")
    with pytest.raises(papo.NoSuchUser):
        ana.send_bytes(b"x", to="nobody")
    with pytest.raises(papo.InvalidNick):
        ana.send_bytes(b"x", to="a b")
    with pytest.raises(TypeError):
        ana.send_bytes("text is not bytes")  # type: ignore[arg-type]
    with pytest.raises(papo.TooLong):
        ana.send_bytes(bytes(256 * 1024 + 1))
    ana.ping()  # still connected


def test_a_file_reaches_everyone_with_progress(
    connect: Callable[..., papo.Client], tmp_path: Path
) -> None:
    source = tmp_path / "src" / "fotos de férias.bin"
    source.parent.mkdir()
    content = EVERY_BYTE * 4096 + b"tail"  # 1 MiB and a bit
    source.write_bytes(content)
    ana, bob, carla = connect("ana"), connect("bob"), connect("carla")
    for client in (bob, carla):
        client.download_dir = tmp_path / client.nick
        assert client.download_dir == str(tmp_path / client.nick)

    file_id = ana.send_file(source)
    assert file_id > 0
    for client in (bob, carla):
        offered = wait_event(client, papo.EventKind.FILE_OFFERED)
        assert offered.file_id == file_id
        assert offered.sender == "ana"
        assert offered.file_name == "fotos de férias.bin"
        assert offered.bytes_total == len(content)
        assert offered.private is False
        received = wait_event(client, papo.EventKind.FILE_RECEIVED, timeout=WAIT * 4)
        assert received.file_id == file_id
        assert received.path == str(tmp_path / client.nick / "fotos de férias.bin")
        assert received.fraction == 1.0
        assert (
            hashlib.sha256(Path(received.path).read_bytes()).digest()
            == hashlib.sha256(content).digest()
        )
        assert sorted(os.listdir(tmp_path / client.nick)) == ["fotos de férias.bin"]
    progress = []
    while True:
        event = ana.next_event(timeout=WAIT)
        assert event is not None, "no FILE_SENT"
        if event.kind is papo.EventKind.FILE_SEND_PROGRESS:
            assert event.to is None and event.sender is None
            progress.append(event.fraction)
        elif event.kind is papo.EventKind.FILE_SENT:
            assert event.file_id == file_id
            assert event.bytes_total == len(content)
            assert event.file_name == "fotos de férias.bin"
            break
    assert progress and progress == sorted(progress) and progress[-1] == 1.0


def test_a_private_file_and_the_download_folder(
    connect: Callable[..., papo.Client], tmp_path: Path
) -> None:
    ana, bob = connect("ana"), connect("bob")
    assert bob.download_dir.endswith("papo-downloads")
    bob.download_dir = str(tmp_path / "new" / "folder")  # created when a file arrives
    (tmp_path / "x.txt").write_bytes(b"\0\n\r\xff")
    (tmp_path / "new").mkdir()
    file_id = ana.send_file(str(tmp_path / "x.txt"), to="bob")
    event = wait_event(bob, papo.EventKind.FILE_RECEIVED)
    assert event.file_id == file_id
    assert Path(event.path).read_bytes() == b"\0\n\r\xff"
    sent = wait_event(ana, papo.EventKind.FILE_SENT)
    assert sent.to == "bob" and sent.file_id == file_id
    bob.download_dir = None
    assert bob.download_dir.endswith("papo-downloads")


def test_file_errors(tmp_path: Path) -> None:
    with papo.Server("127.0.0.1", 0, max_file_bytes=10, max_payload_bytes=4) as server:
        with papo.Client("127.0.0.1", server.port, "ana") as ana:
            big = tmp_path / "big.bin"
            big.write_bytes(b"x" * 11)
            with pytest.raises(papo.TooLong):
                ana.send_file(big)
            with pytest.raises(papo.TooLong):
                ana.send_bytes(b"12345")
            with pytest.raises(papo.IoError):
                ana.send_file(tmp_path / "missing.bin")
            with pytest.raises(papo.InvalidArgument):
                ana.send_file(tmp_path)
            small = tmp_path / "small.bin"
            small.write_bytes(b"ok")
            with pytest.raises(papo.NoSuchUser):
                ana.send_file(small, to="nobody")
            ana.ping()
