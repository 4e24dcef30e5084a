"""The server's two process-wide settings, ``raise_nofile_limit`` and
``trim_heap``: off unless asked for, on in the example server. Each check
runs in a child process whose soft limit on open files is lowered first, so
that this process's limits are left alone."""

from __future__ import annotations

import resource
import signal
import subprocess
import sys
import textwrap
import threading
from typing import Tuple

import pytest

import papo
from conftest import WAIT
from procs import EXAMPLES, child_env

#: The soft limit on open files the children start with (below the hard one).
LOW = 64


def _lower_soft_limit() -> None:
    """In the child, before it runs: a soft limit below the hard one."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(LOW, hard), hard))


def _hard_limit() -> int:
    return resource.getrlimit(resource.RLIMIT_NOFILE)[1]


def test_raise_nofile_limit_is_off_by_default_and_raises_when_set() -> None:
    script = textwrap.dedent(
        """
        import resource
        import papo

        def soft():
            return resource.getrlimit(resource.RLIMIT_NOFILE)[0]

        with papo.Server("127.0.0.1", 0) as server:
            print("default", soft())
        with papo.Server("127.0.0.1", 0, trim_heap=True) as server:
            with papo.Client("127.0.0.1", server.port, "ana") as ana:
                ana.send("x" * 1000)
                ana.ping()
            print("trim_heap", soft())
        with papo.Server("127.0.0.1", 0, raise_nofile_limit=True) as server:
            print("raised", soft())
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        env=child_env(),
        preexec_fn=_lower_soft_limit,
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=True,
    ).stdout.split()
    low = min(LOW, _hard_limit())
    assert out == ["default", str(low), "trim_heap", str(low), "raised", str(_hard_limit())]


@pytest.mark.parametrize("name", ["raise_nofile_limit", "trim_heap"])
def test_process_settings_take_only_a_bool(name: str) -> None:
    for wrong in (1, "yes", None):
        with pytest.raises(TypeError, match=name):
            papo.Server("127.0.0.1", 0, **{name: wrong})


def _open_files_limit(pid: int) -> Tuple[int, int]:
    with open(f"/proc/{pid}/limits", encoding="ascii") as f:
        for line in f:
            if line.startswith("Max open files"):
                soft, hard = line.split()[3:5]
                return int(soft), int(hard)
    raise AssertionError(f"no open-files line in /proc/{pid}/limits")


def test_example_server_raises_its_open_files_limit() -> None:
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "servidor.py"), "127.0.0.1", "0"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=child_env(),
        preexec_fn=_lower_soft_limit,
    )
    # No wait without a limit: a server that never prints is killed.
    watchdog = threading.Timer(WAIT, proc.kill)
    watchdog.start()
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "aguardando conexões" in line, line
        soft, hard = _open_files_limit(proc.pid)
        assert soft == hard == _hard_limit()
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=WAIT)
        assert "Servidor encerrado." in rest
        assert proc.returncode == 0
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
