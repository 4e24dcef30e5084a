"""papo.discover() (papo_discover) and the GUI's "Procurar servidores na
rede": a papo-server announced in one network namespace is found from
another, the two joined only by a veth pair this test makes, so no packet
leaves them (Linux, root, iproute2: CI and scripts/test.sh run as root). The
namespaces go at the end, also when the test fails. The server is the
crate's papo-server program, built with cargo (already built by the Rust
tests in scripts/test.sh). The GUI runs inside the namespace too, on the
private Xvfb display of test_gui.py (X's socket is a file, reachable from
any network namespace); a screenshot of its list is saved as
test-artifacts/gui-find-servers.png."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest

import papo
from conftest import REPO, WAIT
from procs import EXAMPLES, Proc, child_env
from test_gui import display, find_window, keys, screenshot, tools, type_line, wait_transcript

# The GUI's fixtures, used here too (pytest finds them by name).
__all__ = ["display", "tools"]


def test_a_negative_timeout_is_refused_before_anything_is_sent() -> None:
    with pytest.raises(papo.InvalidArgument) as info:
        papo.discover(timeout=-1)
    assert "timeout" in info.value.detail


def test_a_zero_timeout_sends_nothing_and_finds_nothing() -> None:
    assert papo.discover(timeout=0) == []


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=WAIT)


def _papo_server() -> Path:
    """The papo-server binary of this checkout, built if needed."""
    subprocess.run(
        ["cargo", "build", "--quiet", "--bin", "papo-server"],
        cwd=str(REPO),
        check=True,
        timeout=1800,
    )
    target = Path(os.environ.get("CARGO_TARGET_DIR", str(REPO / "target")))
    return target / "debug" / "papo-server"


@pytest.fixture
def lan() -> Iterator[Tuple[str, str, str]]:
    """(namespace A, namespace B, A's address): 10.214.<n>.1 and .2 on a
    veth pair, with the multicast route through it on both sides."""
    assert os.geteuid() == 0, "this test makes network namespaces and needs root"
    n = os.getpid() % 250
    a, b = f"papo-pa-{os.getpid()}", f"papo-pb-{os.getpid()}"
    va, vb = f"ppa{os.getpid() % 50000}", f"ppb{os.getpid() % 50000}"
    made: List[str] = []
    try:
        for ns in (a, b):
            _ip("netns", "add", ns)
            made.append(ns)
        _ip("link", "add", va, "netns", a, "type", "veth", "peer", "name", vb, "netns", b)
        for ns, dev, host in ((a, va, 1), (b, vb, 2)):
            _ip("-n", ns, "addr", "add", f"10.214.{n}.{host}/24", "dev", dev)
            _ip("-n", ns, "link", "set", dev, "multicast", "on")
            _ip("-n", ns, "link", "set", dev, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("-n", ns, "route", "add", "224.0.0.0/4", "dev", dev)
        yield a, b, f"10.214.{n}.1"
    finally:
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=WAIT)


def _announce(ns: str, address: str) -> "subprocess.Popen[str]":
    """papo-server in namespace ``ns`` on ``address``:18000, once announced."""
    env = {k: v for k, v in os.environ.items() if k not in ("RUST_LOG", "PAPO_PASSWORD")}
    server = subprocess.Popen(
        ["ip", "netns", "exec", ns, str(_papo_server()), "--address", address, "--port",
         "18000", "--mdns-name", "papo da turma"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert server.stderr is not None
    log = []
    for line in server.stderr:
        log.append(line)
        if "not announced" in line:
            break
        if "announced on the LAN" in line:
            return server
    server.kill()
    server.wait(timeout=WAIT)
    raise AssertionError("papo-server did not announce itself:\n" + "".join(log))


def _stop(server: "subprocess.Popen[str]") -> None:
    server.terminate()
    server.wait(timeout=WAIT)


def test_a_server_announced_on_the_lan_is_found(lan: Tuple[str, str, str]) -> None:
    ns_a, ns_b, address = lan
    server = _announce(ns_a, address)
    try:
        child = (
            "import json, papo\n"
            "found = papo.discover(timeout=3.0)\n"
            "print(json.dumps([[s.name, s.address, s.port, s.tls_port, s.version,"
            " s.password_required, list(s.addresses)] for s in found]))\n"
        )
        out = subprocess.run(
            ["ip", "netns", "exec", ns_b, sys.executable, "-c", child],
            env=child_env(PAPO_LIBRARY=papo.LIBRARY_PATH),
            capture_output=True,
            text=True,
            timeout=WAIT,
            check=True,
        )
        found = json.loads(out.stdout)
        assert found == [
            ["papo da turma", address, 18000, None, papo.version(), False, [address]]
        ], out.stdout
    finally:
        _stop(server)


@pytest.mark.gui
def test_the_gui_lists_the_servers_on_the_lan_and_joins_one(
    lan: Tuple[str, str, str], display: str, tools: None, tmp_path: Path
) -> None:
    """Nobody types an address: Alt+P lists the server, the first one found
    is picked, the person types a nickname and is in."""
    ns_a, ns_b, address = lan
    server = _announce(ns_a, address)
    transcript = tmp_path / "transcript.txt"
    gui = Proc(
        ["ip", "netns", "exec", ns_b, sys.executable, str(EXAMPLES / "gui.py"),
         "--transcript", str(transcript)],
        env=child_env(DISPLAY=display, PAPO_LIBRARY=papo.LIBRARY_PATH),
    )
    try:
        window = find_window(display, "papo - conectar", gui)
        keys(display, window, "alt+p")
        wait_transcript(transcript, rf"^found\tpapo da turma\t{re.escape(address)}:18000$", gui)
        screenshot(display, window, "gui-find-servers.png")
        type_line(display, window, "ana")
        wait_transcript(transcript, r"^users\tana$", gui)
    finally:
        gui.stop()
        _stop(server)
