"""The ctypes layer: every function of include/papo.h declared, struct
layouts and constants equal to what a real C compiler sees, and where the
library is loaded from (PAPO_LIBRARY, and the message when it is missing)."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest

import papo
from papo import _ffi
from conftest import REPO
from procs import child_env

HEADER = REPO / "include" / "papo.h"
#: The structs the bindings read (through the library's pointers; the
#: options are opaque objects with setters, nothing to mirror).
STRUCTS = {
    "papo_event": _ffi.papo_event,
    "papo_server_event": _ffi.papo_server_event,
}


def header_functions() -> List[str]:
    """The names of the functions the header declares."""
    text = HEADER.read_text(encoding="utf-8")
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    text = text.replace('extern "C" {', " ")
    names = []
    for statement in text.split(";"):
        statement = statement.strip().lstrip("}").strip()
        if not statement or statement.startswith("typedef"):
            continue
        # a struct's or enum's body (a function may return a struct pointer)
        if statement.startswith(("struct", "enum", "union")) and "{" in statement:
            continue
        match = re.match(r"^(?:extern\s+)?[\w\s\*]*?\b(\w+)\s*\(", statement)
        if match:
            names.append(match.group(1))
    return names


def test_every_header_function_is_declared() -> None:
    assert HEADER.is_file(), f"{HEADER} is missing: the tests run from a papo checkout"
    in_header = set(header_functions())
    assert "Conecta_Servidor" in in_header and "papo_client_wait_event" in in_header
    declared = set(_ffi.FUNCTIONS)
    assert in_header - declared == set(), "functions of papo.h without ctypes declarations"
    assert declared - in_header == set(), "declared functions that papo.h does not have"
    for name in _ffi.FUNCTIONS:
        assert getattr(_ffi, name).argtypes is not None, name
    assert _ffi.papo_strerror.restype is ctypes.c_char_p
    assert _ffi.papo_version.restype is ctypes.c_char_p
    assert _ffi.papo_client_options_free.restype is None


def _c_program(tmp_path: Path) -> Dict[str, int]:
    """Compiles and runs a C program that prints sizes, offsets and constants."""
    lines = ["#include <stdio.h>", "#include <stddef.h>", '#include "papo.h"', "int main(void) {"]
    for name, struct in STRUCTS.items():
        lines.append(f'printf("{name} %zu\\n", sizeof({name}));')
        for field, _ in struct._fields_:
            lines.append(f'printf("{name}.{field} %zu\\n", offsetof({name}, {field}));')
    constants = [
        n for n in dir(_ffi) if n.startswith(("PAPO_ERR_", "PAPO_EVENT_", "PAPO_SERVER_EVENT_"))
    ]
    constants += ["PAPO_OK", "PAPO_DEFAULT_PORT"]
    for name in constants:
        lines.append(f'printf("{name} %ld\\n", (long)({name}));')
    lines += ["return 0;", "}"]
    source = tmp_path / "layout.c"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    assert compiler, "no C compiler (cc) found: apt-get install gcc"
    exe = tmp_path / "layout"
    subprocess.run(
        [
            compiler,
            "-std=c99",
            "-Wall",
            "-Werror",
            f"-I{HEADER.parent}",
            str(source),
            "-o",
            str(exe),
        ],
        check=True,
        timeout=120,
    )
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True, timeout=60)
    values = {}
    for line in out.stdout.splitlines():
        key, value = line.split()
        values[key] = int(value)
    return values


def test_structs_and_constants_match_the_c_compiler(tmp_path: Path) -> None:
    assert HEADER.is_file(), f"{HEADER} is missing: the tests run from a papo checkout"
    c = _c_program(tmp_path)
    for name, struct in STRUCTS.items():
        assert ctypes.sizeof(struct) == c[name], name
        for field, _ in struct._fields_:
            assert getattr(struct, field).offset == c[f"{name}.{field}"], f"{name}.{field}"
    for key, value in c.items():
        if key.startswith("PAPO_") and "." not in key:
            assert getattr(_ffi, key) == value, key


def test_the_library_is_the_one_reported() -> None:
    assert Path(papo.LIBRARY_PATH).is_file() or "/" not in papo.LIBRARY_PATH
    assert _ffi.lib._name == papo.LIBRARY_PATH


def _run(code: str, env: Dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=str(cwd),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_papo_library_overrides_where_the_library_comes_from(tmp_path: Path) -> None:
    copy = tmp_path / "libpapo-copy.so"
    shutil.copyfile(papo.LIBRARY_PATH, copy)
    env = child_env(PAPO_LIBRARY=str(copy))
    result = _run(
        "import papo\n"
        "print(papo.LIBRARY_PATH)\n"
        "with papo.Server('127.0.0.1', 0) as s, papo.Client('127.0.0.1', s.port, 'ana') as c:\n"
        "    print(c.users())\n",
        env,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [str(copy), "['ana']"]


def test_a_bad_papo_library_says_what_to_do(tmp_path: Path) -> None:
    env = child_env(PAPO_LIBRARY=str(tmp_path / "nowhere" / "libpapo.so"))
    result = _run("import papo", env, tmp_path)
    assert result.returncode != 0
    assert "ImportError" in result.stderr
    assert "PAPO_LIBRARY" in result.stderr and "nowhere" in result.stderr
    assert "pip install ./bindings/python" in result.stderr


def test_a_library_that_is_not_libpapo_is_refused(tmp_path: Path) -> None:
    libc = ctypes.util.find_library("c")
    assert libc, "no libc found by ctypes.util.find_library"
    env = child_env(PAPO_LIBRARY=libc)
    result = _run("import papo", env, tmp_path)
    assert result.returncode != 0
    assert "ImportError" in result.stderr and "not libpapo" in result.stderr


def test_a_missing_library_says_what_to_do(tmp_path: Path) -> None:
    """The package's Python files alone, with no library anywhere."""
    package = Path(papo.__file__).resolve().parent
    target = tmp_path / "site" / "papo"
    target.mkdir(parents=True)
    for item in package.iterdir():
        if item.suffix == ".py" or item.name == "py.typed":
            shutil.copyfile(item, target / item.name)
    env = {k: v for k, v in os.environ.items() if k != "PAPO_LIBRARY"}
    env["PYTHONPATH"] = str(tmp_path / "site")
    result = _run("import papo; print(papo.__file__, papo.LIBRARY_PATH)", env, tmp_path)
    system_library = ctypes.util.find_library("papo")
    if system_library:  # a `make install`-ed libpapo: the documented last resort
        assert result.returncode == 0, result.stderr
        assert result.stdout.split()[1].endswith(system_library)
        return
    assert result.returncode != 0
    message = result.stderr
    assert "ImportError: papo: cannot find the shared library libpapo" in message
    assert "pip install ./bindings/python" in message
    assert "PAPO_LIBRARY" in message
    assert "make" in message
    assert str(target) in message  # it says where it looked


@pytest.mark.parametrize("name", ["Conecta_Servidor", "papo_client_wait_event", "papo_strerror"])
def test_declarations_are_typed(name: str) -> None:
    func = getattr(_ffi, name)
    assert func.argtypes  # never the default "anything goes"


def _test_hooks_library() -> Path:
    """A libpapo built with the cargo feature ``test-hooks``, the only kind that
    has ``papo_debug_force_panic``: the file ``PAPO_TEST_HOOKS_LIBRARY`` names,
    or the one ``cargo build --lib --features test-hooks`` makes in
    ``<target>/test-hooks/debug`` (where ``cargo test --test c_api`` builds it
    too, so it is usually fresh already)."""
    named = os.environ.get("PAPO_TEST_HOOKS_LIBRARY")
    if named:
        return Path(named)
    cargo = os.environ.get("CARGO") or shutil.which("cargo")
    assert cargo, "cargo is needed to build libpapo with the test-hooks feature"
    target = Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target")
    if not target.is_absolute():
        target = Path.cwd() / target
    target = target / "test-hooks"
    env = dict(os.environ, CARGO_TARGET_DIR=str(target))
    built = subprocess.run(
        [cargo, "build", "--lib", "--features", "test-hooks", "--message-format=short"],
        cwd=str(REPO),
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    return target / "debug" / "libpapo.so"


def test_a_panic_in_the_library_is_an_exception_not_a_crash(tmp_path: Path) -> None:
    # A test hook, never part of the C API.
    assert "papo_debug_force_panic" not in header_functions()
    assert "papo_debug_force_panic" not in _ffi.FUNCTIONS
    library = _test_hooks_library()
    result = _run(
        "import papo\n"
        "from papo import _ffi\n"
        "from papo.errors import check\n"
        "assert _ffi.papo_debug_force_panic is not None, papo.LIBRARY_PATH\n"
        "for _ in range(2):\n"
        "    try:\n"
        "        check(_ffi.papo_debug_force_panic())\n"
        "    except papo.Panic as error:\n"
        "        print('caught', error.code)\n"
        "# the process and the library live on\n"
        "with papo.Server('127.0.0.1', 0) as server:\n"
        "    with papo.Client('127.0.0.1', server.port, 'ana') as ana:\n"
        "        print(ana.users())\n",
        child_env(PAPO_LIBRARY=str(library), RUST_BACKTRACE="0"),
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["caught 16", "caught 16", "['ana']"]
    assert "deliberate panic" in result.stderr  # it did panic, inside the library


def test_text_from_the_library_is_decoded_without_crashing() -> None:
    """Invalid UTF-8 (which the library never sends) becomes U+FFFD."""
    from papo.events import _event_from_c, _server_event_from_c

    text = ctypes.create_string_buffer(b"ol\xe1 \xff\xfe")
    nick = ctypes.create_string_buffer(b"an\xe1")
    raw = _ffi.papo_event(
        kind=_ffi.PAPO_EVENT_PRIVATE,
        code=0,
        nick=ctypes.cast(nick, ctypes.c_char_p),
        new_nick=None,
        text=ctypes.cast(text, ctypes.c_void_p),
        text_len=6,
    )
    event = _event_from_c(raw)
    assert event == papo.Event(papo.EventKind.PRIVATE, "an\ufffd", "ol\ufffd \ufffd\ufffd")
    raw.kind = 99  # a kind from a newer library: skipped, not a crash
    assert _event_from_c(raw) is None
    server_raw = _ffi.papo_server_event(
        kind=_ffi.PAPO_SERVER_EVENT_DISCONNECTED,
        client_id=7,
        ip=b"127.0.0.1",
        port=5,
        nick=b"\xff",
        new_nick=None,
        code=3,
        reason=b"slow \xfe",
    )
    server_event = _server_event_from_c(server_raw)
    assert server_event is not None
    assert (server_event.nick, server_event.reason, server_event.code) == (
        "\ufffd",
        "slow \ufffd",
        3,
    )
