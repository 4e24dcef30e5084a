"""examples/python/gui.py for real: under an X server (a private Xvfb), the
GUI joins a server started here, receives a public and a private message from
another papo client, sends a public and a private one back (typed on the X
keyboard with xdotool, the destination picked in the list), renames itself,
leaves; then a second run picks another nickname after error
01 and shows the server going away. Screenshots of the window are saved as
test artifacts in <repo>/test-artifacts/gui.png and gui-disconnected.png.

Needs: Xvfb (apt-get install xvfb), xdotool (apt-get install xdotool),
tkinter (apt-get install python3-tk, or a Python built with Tk) and Pillow
(pip install pillow). The test is skipped only when no X server can be
started: no Xvfb and no DISPLAY. Any other missing piece fails it, saying
what to install.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

import papo
from conftest import REPO, WAIT, wait_event
from procs import EXAMPLES, Proc, child_env, read_path

pytestmark = pytest.mark.gui

K = papo.EventKind
ARTIFACTS = REPO / "test-artifacts"
GUI_WAIT = 60.0  # starting Tk and importing papo on a loaded machine


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    """A private Xvfb display (or, without Xvfb, the DISPLAY we run in)."""
    xvfb = shutil.which("Xvfb")
    problem = "Xvfb is not installed (apt-get install xvfb)"
    if xvfb:
        read_fd, write_fd = os.pipe()
        log = tempfile.TemporaryFile()
        proc = subprocess.Popen(
            [xvfb, "-displayfd", str(write_fd), "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
            pass_fds=(write_fd,),
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        os.close(write_fd)
        number = b""
        deadline = time.monotonic() + GUI_WAIT
        while not number.endswith(b"\n") and time.monotonic() < deadline:
            ready, _, _ = select.select([read_fd], [], [], 1.0)
            if ready:
                chunk = os.read(read_fd, 64)
                if not chunk:
                    break
                number += chunk
        os.close(read_fd)
        if number.strip():
            try:
                yield ":" + number.decode().strip()
            finally:
                proc.terminate()
                proc.wait(WAIT)
                log.close()
            return
        proc.kill()
        proc.wait(WAIT)
        log.seek(0)
        problem = f"Xvfb did not start: {log.read().decode(errors='replace')[-500:]}"
        log.close()
    if os.environ.get("DISPLAY"):
        yield os.environ["DISPLAY"]
        return
    pytest.skip(f"no X server can be started: {problem}, and DISPLAY is not set")


@pytest.fixture(scope="module")
def tools() -> None:
    """What the test needs besides the X server: fail (not skip) without it."""
    missing = []
    if not shutil.which("xdotool"):
        missing.append("xdotool (apt-get install xdotool)")
    try:
        import tkinter  # noqa: F401
    except ImportError:
        missing.append("tkinter (apt-get install python3-tk)")
    try:
        from PIL import ImageGrab  # noqa: F401
    except ImportError:
        missing.append("Pillow (pip install pillow)")
    if missing:
        pytest.fail("the GUI test needs " + ", ".join(missing))


def xdotool(display: str, *args: str) -> str:
    result = subprocess.run(
        ["xdotool", *args],
        env=dict(os.environ, DISPLAY=display),
        capture_output=True,
        text=True,
        timeout=GUI_WAIT,
    )
    assert result.returncode == 0, f"xdotool {args}: {result.stderr}"
    return result.stdout


def find_window(display: str, title: str, gui: Proc) -> str:
    try:
        out = xdotool(display, "search", "--sync", "--onlyvisible", "--name", title)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"no window named {title!r}; GUI output: {gui.seen}") from None
    return out.split()[0]


def keys(display: str, window: str, *names: str) -> None:
    """Presses keys (xdotool key names) on the X keyboard, into ``window``."""
    xdotool(display, "windowfocus", "--sync", window)
    xdotool(display, "key", "--delay", "80", *names)


def type_line(display: str, window: str, text: str) -> None:
    """Types ``text`` and Return on the X keyboard, into ``window``'s focus."""
    xdotool(display, "windowfocus", "--sync", window)
    xdotool(display, "type", "--delay", "40", "--", text)
    xdotool(display, "key", "Return")


def wait_transcript(
    path: Path, pattern: str, gui: Proc, timeout: float = GUI_WAIT, count: int = 1
) -> str:
    """Waits until ``count`` lines of the GUI's transcript match ``pattern``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        matches = [line for line in read_path(path).splitlines() if re.search(pattern, line)]
        if len(matches) >= count:
            return matches[-1]
        if gui.popen.poll() is not None:
            gui.wait()
            raise AssertionError(f"the GUI ended before {pattern!r}; output: {gui.seen}")
        time.sleep(0.1)
    raise AssertionError(
        f"{pattern!r} not in the transcript within {timeout} s: {read_path(path)!r}; "
        f"GUI output: {gui.seen}"
    )


def screenshot(display: str, window: str, name: str) -> Path:
    from PIL import ImageGrab

    geometry: Dict[str, int] = {}
    for line in xdotool(display, "getwindowgeometry", "--shell", window).splitlines():
        key, _, value = line.partition("=")
        if key in ("X", "Y", "WIDTH", "HEIGHT"):
            geometry[key] = int(value)
    x, y, w, h = geometry["X"], geometry["Y"], geometry["WIDTH"], geometry["HEIGHT"]
    image = ImageGrab.grab(bbox=(x, y, x + w, y + h), xdisplay=display)
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    image.save(path)
    assert image.size == (w, h)
    colors = image.getcolors(maxcolors=1 << 16)
    assert colors is None or len(colors) > 8, "the screenshot is (nearly) blank"
    return path


def start_gui(display: str, port: int, nick: str, transcript: Path, *extra: str) -> Proc:
    args = [
        sys.executable,
        str(EXAMPLES / "gui.py"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--nick",
        nick,
        "--transcript",
        str(transcript),
        *extra,
    ]
    # Two reconnection attempts when the server goes, then the error.
    return Proc(args, env=child_env(DISPLAY=display, PAPO_RECONNECT_ATTEMPTS="2"))


@pytest.fixture
def guis() -> Iterator[List[Proc]]:
    started: List[Proc] = []
    yield started
    for proc in started:
        proc.stop()


def test_gui_chats_for_real(display: str, tools: None, guis: List[Proc], tmp_path: Path) -> None:
    server = papo.Server("127.0.0.1", 0)
    ana = papo.Client("127.0.0.1", server.port, "ana")
    try:
        # ---- run 1: chat, reply, rename, leave ----
        transcript = tmp_path / "gui1.txt"
        gui = start_gui(display, server.port, "gui", transcript)
        guis.append(gui)
        wait_event(ana, K.JOINED, timeout=GUI_WAIT, sender="gui")
        window = find_window(display, r"^papo - gui @", gui)
        wait_transcript(transcript, r"^system\tConectado como gui", gui)

        ana.send("olá, GUI!")
        ana.send("isto é só para você", to="gui")  # returns once delivered
        wait_transcript(transcript, r"^public\tana: olá, GUI!$", gui)
        wait_transcript(transcript, r"^private\t\[privado\] ana -> você: isto é só para você$", gui)

        reply = "oi ana, aqui fala a GUI"
        type_line(display, window, reply)
        event = wait_event(ana, K.PUBLIC, timeout=GUI_WAIT)
        assert (event.sender, event.text) == ("gui", reply)
        wait_transcript(transcript, rf"^mine\tgui: {reply}$", gui)
        assert server.users() == ["ana", "gui"]
        wait_transcript(transcript, r"^users\tana, gui$", gui)

        # the list of who is online follows joins and departures
        carla = papo.Client("127.0.0.1", server.port, "carla")
        wait_transcript(transcript, r"^users\tana, carla, gui$", gui)
        carla.close()
        wait_transcript(transcript, r"^system\t\* carla saiu do chat$", gui)
        wait_transcript(transcript, r"^users\tana, gui$", gui, count=2)

        # a private message: pick ana in the list (Ctrl+L, Down), back to the entry (Return)
        keys(display, window, "ctrl+l", "Down", "Return")
        type_line(display, window, "só entre nós")
        event = wait_event(ana, K.PRIVATE, timeout=GUI_WAIT)
        assert (event.sender, event.text) == ("gui", "só entre nós")
        wait_transcript(transcript, r"^mine\tgui -> ana \(privado\): só entre nós", gui)

        shot = screenshot(display, window, "gui.png")
        assert shot.stat().st_size > 0

        type_line(display, window, "/nick gui2")
        event = wait_event(ana, K.NICK_CHANGED, timeout=GUI_WAIT)
        assert (event.sender, event.new_nick) == ("gui", "gui2")
        wait_transcript(transcript, r"^system\t\* gui agora se chama gui2$", gui)
        wait_transcript(transcript, r"^users\tana, gui2$", gui)
        find_window(display, r"^papo - gui2 @", gui)

        type_line(display, window, "/quit")
        assert gui.wait(GUI_WAIT) == 0, gui.seen
        wait_event(ana, K.LEFT, timeout=GUI_WAIT, sender="gui2")

        # ---- run 2: nickname taken, pick another; then the server goes ----
        transcript = tmp_path / "gui2.txt"
        gui = start_gui(display, server.port, "ANA", transcript)
        guis.append(gui)
        wait_transcript(transcript, r"^form\tO apelido 'ANA' já está em uso \(erro 01\)", gui)
        window = find_window(display, r"^papo - conectar", gui)
        type_line(display, window, "gui3")  # the nickname field has the focus, all selected
        wait_event(ana, K.JOINED, timeout=GUI_WAIT, sender="gui3")
        find_window(display, r"^papo - gui3 @", gui)
        ana.send("tchau", to="gui3")
        wait_transcript(transcript, r"^private\t\[privado\] ana -> você: tchau$", gui)

        server.close()
        # It tries to reconnect ("reconnecting..." in the status), then
        # gives up.
        wait_transcript(transcript, r"^system\t\* Conexão perdida; reconectando\.\.\.$", gui)
        wait_transcript(transcript, r"^error\tConexão com o servidor encerrada\. Erro 03", gui)
        screenshot(display, window, "gui-disconnected.png")
        assert gui.popen.poll() is None  # still up, showing the error
    finally:
        ana.close()
        server.close()


def build_c_cliente(tmp_path: Path) -> Path:
    """examples/c/cliente.c, compiled with the strict flags against the
    library these bindings loaded (linked through a libpapo.so.1 link to it)."""
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    assert compiler, "no C compiler (cc) found: apt-get install gcc"
    libdir = tmp_path / "lib"
    libdir.mkdir()
    library = Path(papo.LIBRARY_PATH).resolve()
    for name in ("libpapo.so", "libpapo.so.1"):
        (libdir / name).symlink_to(library)
    exe = tmp_path / "cliente"
    subprocess.run(
        [
            compiler,
            "-std=c99",
            "-Wall",
            "-Wextra",
            "-Wpedantic",
            "-Werror",
            f"-I{REPO / 'include'}",
            str(REPO / "examples" / "c" / "cliente.c"),
            f"-L{libdir}",
            "-lpapo",
            f"-Wl,-rpath,{libdir}",
            "-o",
            str(exe),
        ],
        check=True,
        timeout=120,
    )
    return exe


def test_a_file_from_the_c_client_reaches_python_and_the_gui(
    display: str, tools: None, guis: List[Proc], tmp_path: Path
) -> None:
    """The issue's "done when": a user sends a file with /sendFile from the C
    client to two others, one on the Python terminal client and one on the
    GUI; each gets an identical copy, with a progress bar on the way. Then
    the GUI sends one back with its "Enviar arquivo..." button."""
    import hashlib

    cliente_c = build_c_cliente(tmp_path)
    source = tmp_path / "apresentação.bin"
    content = os.urandom(3 * 1024 * 1024 + 11)
    source.write_bytes(content)
    digest = hashlib.sha256(content).hexdigest()
    server = papo.Server("127.0.0.1", 0)
    procs: List[Proc] = []
    try:
        transcript = tmp_path / "gui.txt"
        gui_dl, py_dl, c_dl = tmp_path / "gui-dl", tmp_path / "py-dl", tmp_path / "c-dl"
        gui = start_gui(display, server.port, "gui", transcript, "--downloads", str(gui_dl))
        guis.append(gui)
        wait_transcript(transcript, rf"^system\tArquivos recebidos vão para {gui_dl}$", gui)
        window = find_window(display, r"^papo - gui @", gui)

        py = Proc.example(
            "cliente.py", "127.0.0.1", str(server.port), "py", "--downloads", str(py_dl)
        )
        procs.append(py)
        py.expect(r"Online: gui, py")
        c = Proc(
            [str(cliente_c), "127.0.0.1", str(server.port), "ana"],
            env=dict(os.environ, PAPO_DOWNLOADS=str(c_dl)),
        )
        procs.append(c)
        c.expect(r"Online \(3\): ana gui py")
        wait_transcript(transcript, r"^users\tana, gui, py$", gui)

        # ---- C -> Python terminal + GUI ----
        c.type(f"/sendFile {source}")
        c.expect(r"Enviando .* para todos")
        saved_py = py.expect(r"Arquivo recebido de ana: (.*)$", timeout=GUI_WAIT).group(1)
        bars = [line for line in py.seen if "Recebendo apresentação.bin [" in line]
        assert bars and "100%" in bars[-1], py.seen
        line = wait_transcript(transcript, r"^file\tArquivo recebido de ana: ", gui)
        saved_gui = line.split("Arquivo recebido de ana: ", 1)[1]
        progress = [
            int(line.split()[-1])
            for line in read_path(transcript).splitlines()
            if line.startswith("progress\t") and line.split()[-2] == "in"
        ]
        assert progress and progress == sorted(progress) and progress[-1] == 100, progress
        screenshot(display, window, "gui-file.png")
        c.expect(r"Arquivo enviado: apresentação\.bin \(3145739 bytes\)", timeout=GUI_WAIT)
        assert Path(saved_py) == py_dl / "apresentação.bin"
        assert Path(saved_gui) == gui_dl / "apresentação.bin"
        for path in (saved_py, saved_gui):
            assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == digest, path

        # ---- the GUI's "Enviar arquivo..." button: a file dialog ----
        reply = tmp_path / "resposta.txt"
        reply.write_bytes(b"obrigado!\n" * 1000)
        # from the entry: Tab to "Enviar", Tab to "Enviar arquivo...", press it
        keys(display, window, "Tab", "Tab", "space")
        dialog = find_window(display, r"^Enviar arquivo$", gui)
        xdotool(display, "windowfocus", "--sync", dialog)
        # Tk's open dialog starts with its file name field focused
        type_line(display, dialog, str(reply))
        wait_transcript(transcript, r"^file\tEnviando resposta\.txt para todos", gui)
        saved = c.expect(r"Arquivo recebido de gui: (.*)$", timeout=GUI_WAIT).group(1)
        assert Path(saved).read_bytes() == reply.read_bytes()
        saved = py.expect(r"Arquivo recebido de gui: (.*)$", timeout=GUI_WAIT).group(1)
        assert Path(saved).read_bytes() == reply.read_bytes()
        wait_transcript(transcript, r"^file\tArquivo enviado: resposta\.txt \(10000 bytes\)", gui)

        c.type("quit")
        py.type("quit")
        assert c.wait() == 0, c.seen
        assert py.wait() == 0, py.seen
    finally:
        for proc in procs:
            proc.stop()
        server.close()


def test_the_gui_reacts_to_descriptors_and_never_polls() -> None:
    """gui.py takes events when the client's descriptor turns readable (Tk's
    createfilehandler on client.fileno()), and worker results through a
    pipe watched the same way: its only timer removes a finished progress
    bar. (test_gui_chats_for_real shows the events do arrive that way: there
    is no other way in.)"""
    import ast

    tree = ast.parse((EXAMPLES / "gui.py").read_text(encoding="utf-8"))
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)]

    def called(name: str) -> List[ast.Call]:
        return [c for c in calls if isinstance(c.func, ast.Attribute) and c.func.attr == name]

    handlers = called("createfilehandler")
    watched = {ast.unparse(c.args[0]) for c in handlers}
    assert watched == {"fd", "self.done_r"}, watched
    assert "client.fileno()" in {
        ast.unparse(n.value) for n in ast.walk(tree) if isinstance(n, ast.Assign)
    }
    assert all(ast.unparse(c.args[1]) == "tk.READABLE" for c in handlers)
    timers = called("after")
    assert [ast.unparse(c.args[0]) for c in timers] == ["DONE_BAR_MS"]
    assert not called("after_idle")


def test_gui_joins_a_room_and_shows_its_history(
    display: str, tools: None, guis: List[Proc], tmp_path: Path
) -> None:
    """/join #sala shows what was said there; #sala:texto talks to it; the
    room's messages show with the room's name (issue 11)."""
    with papo.Server("127.0.0.1", 0) as server, papo.Client(
        "127.0.0.1", server.port, "ana"
    ) as ana:
        ana.join("#sala")
        ana.send("bom dia, sala", to="#sala")
        transcript = tmp_path / "gui-room.txt"
        gui = start_gui(display, server.port, "gui", transcript)
        guis.append(gui)
        window = find_window(display, r"^papo - gui @", gui)
        wait_transcript(transcript, r"^system\tConectado como gui", gui)
        type_line(display, window, "/join #sala")
        wait_transcript(transcript, r"^system\tHistórico de #sala:$", gui)
        wait_transcript(transcript, r"^public\tana \[#sala\]: bom dia, sala$", gui)
        wait_event(ana, K.ROOM_JOINED, timeout=GUI_WAIT, sender="gui")
        type_line(display, window, "#sala:oi, ana")
        event = wait_event(ana, K.ROOM, timeout=GUI_WAIT)
        assert (event.room, event.sender, event.text) == ("#sala", "gui", "oi, ana")
        ana.send("até logo", to="#sala")
        wait_transcript(transcript, r"^public\tana \[#sala\]: até logo$", gui)
        type_line(display, window, "/quit")
        assert gui.wait(GUI_WAIT) == 0, gui.seen


def test_gui_shows_the_cluster_events(
    display: str, tools: None, guis: List[Proc], tmp_path: Path
) -> None:
    """The cluster's events (since 1.2), from a scripted server: a line each
    in the pane; RENAMED also renames the window."""
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    script_done = threading.Event()

    def fake_server() -> None:
        conn, _ = listener.accept()
        with conn, conn.makefile("rwb", buffering=0) as f:

            def send(line: str) -> None:
                f.write(line.encode() + b"\n")

            send("HELLO papo/1 line=4096 nick=32 :Bem-vindo ao papo!")
            nick = f.readline().decode().strip()
            send(f"WELCOME {nick} :Bem-vindo, {nick}!")
            send(f"USERS 2 :bob {nick}")
            send("CLUSTER partitioned :cut off")
            send("LOST 2 :lost")
            send(f"RENAMED {nick} {nick}_2 :renamed")
            send("CLUSTER healed :back")
            # Answer what the GUI asks until it quits.
            while True:
                line = f.readline().decode().strip()
                if not line or line == "quit":
                    break
                if line.endswith("/list"):
                    send(f"USERS 2 :bob {nick}_2")
                elif "/ping" in line:
                    send("PONG :x")
        script_done.set()

    server = threading.Thread(target=fake_server, daemon=True)
    server.start()
    try:
        transcript = tmp_path / "gui-cluster.txt"
        gui = start_gui(display, port, "gui", transcript)
        guis.append(gui)
        wait_transcript(
            transcript, r"^error\t\* Sem contato com os outros servidores.*\(cut off", gui
        )
        wait_transcript(
            transcript, r"^error\t\* 2 mensagem\(ns\) .*\(messages lost between servers\)", gui
        )
        wait_transcript(
            transcript, r"^error\t\* O servidor mudou seu apelido de gui para gui_2", gui
        )
        wait_transcript(transcript, r"^system\t\* De volta ao chat inteiro", gui)
        window = find_window(display, r"^papo - gui_2 @", gui)
        type_line(display, window, "/quit")
        assert gui.wait(GUI_WAIT) == 0, gui.seen
        assert script_done.wait(WAIT)
    finally:
        listener.close()
