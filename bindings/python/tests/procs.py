"""Running the example programs as real processes: their output is read by a
thread into a queue, and every wait has a limit."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional

import papo
from conftest import REPO, WAIT

EXAMPLES = REPO / "examples" / "python"


def child_env(**extra: str) -> Dict[str, str]:
    """The environment for a child Python: this one, finding the same papo
    package (also when it comes from PYTHONPATH rather than an install)."""
    env = dict(os.environ)
    package_parent = str(Path(papo.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(
        [package_parent] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    )
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONIOENCODING"] = "utf-8"
    env.update(extra)
    return env


class Proc:
    """A child process whose stdout+stderr lines can be waited for."""

    def __init__(self, args: List[str], env: Optional[Dict[str, str]] = None) -> None:
        self.args = args
        self.popen = subprocess.Popen(
            args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
            env=env or child_env(),
            cwd=str(REPO),
        )
        self.lines: "queue.Queue[Optional[str]]" = queue.Queue()
        self.seen: List[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @classmethod
    def example(cls, name: str, *args: str, env: Optional[Dict[str, str]] = None) -> "Proc":
        return cls([sys.executable, str(EXAMPLES / name), *args], env=env)

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def expect(self, pattern: str, timeout: float = WAIT) -> "re.Match[str]":
        """The first new output line matching ``pattern``."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                line = self.lines.get(timeout=max(remaining, 0.01))
            except queue.Empty:
                if remaining <= 0:
                    raise AssertionError(
                        f"{pattern!r} not printed within {timeout} s; output: {self.seen}"
                    ) from None
                continue
            if line is None:
                self.lines.put(None)
                raise AssertionError(f"{pattern!r} never printed; the output ended: {self.seen}")
            self.seen.append(line)
            match = re.search(pattern, line)
            if match:
                return match

    def type(self, line: str) -> None:
        assert self.popen.stdin is not None
        self.popen.stdin.write(line + "\n")
        self.popen.stdin.flush()

    def close_stdin(self) -> None:
        assert self.popen.stdin is not None
        self.popen.stdin.close()

    def interrupt(self) -> None:
        self.popen.send_signal(signal.SIGINT)

    def wait(self, timeout: float = WAIT) -> int:
        code = self.popen.wait(timeout)
        self._reader.join(timeout)
        while True:  # keep what was printed last, for the assertions' messages
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                self.seen.append(line)
        return code

    def stop(self) -> None:
        """Ends the process if it still runs (test clean-up)."""
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(WAIT)
        for stream in (self.popen.stdin, self.popen.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass


def read_path(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""
