"""The browser chat client in a real browser (Debian's chromium, driven by
Selenium through /usr/bin/chromedriver; nothing downloads a browser).

A papo.Server with its HTTP port; two browser users (ana, bia), an nc user
(a raw socket, nico) and the C client (examples/c/cliente.c, compiled here
against the same library; carla) chat in public and in private; bia first
asks for a taken nickname, sees the 01 message and retries; a file sent
from ana's page arrives intact (sha256) in carla's download folder; the
server stopping shows 03 in the pages. A second test covers rooms: an nc
user talks in #sala before a browser user joins it (history with the
server's times), room messages both ways, a browser user outside the room
seeing none of them, topics, room errors, unread counts, a phone joining
from the room list and leaving, and the room joined again after a
reconnect. A third shows a message three days old with its date.
Screenshots go to test-artifacts/ (desktop and a phone's size,
375 px wide).

Run by scripts/test.sh (step "Browser"), with pytest from the test venv.
"""

from __future__ import annotations

import hashlib
import os
import queue
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import List, Optional

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

import papo

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
WAIT = 20.0
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


# ---------------------------------------------------------------- helpers


class Nc:
    """A person at nc: a raw socket, lines in and out."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self.buf = b""

    def send(self, line: str) -> None:
        self.sock.sendall(line.encode("utf-8") + b"\n")

    def line(self) -> str:
        while b"\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise AssertionError("nc: the server closed the connection")
            self.buf += data
        line, _, self.buf = self.buf.partition(b"\n")
        return line.decode("utf-8", "replace")

    def expect(self, prefix: str) -> str:
        """The first line starting with ``prefix`` (others are skipped)."""
        deadline = time.monotonic() + WAIT
        seen = []
        while time.monotonic() < deadline:
            line = self.line()
            if line.startswith(prefix):
                return line
            seen.append(line)
        raise AssertionError(f"nc: no {prefix!r} line; saw {seen}")

    def close(self) -> None:
        self.sock.close()


class CClient:
    """examples/c/cliente.c as a process: lines typed, output waited for."""

    def __init__(self, exe: Path, port: int, nick: str, downloads: Path, home: Path) -> None:
        env = dict(os.environ, PAPO_DOWNLOADS=str(downloads), HOME=str(home))
        self.proc = subprocess.Popen(
            [str(exe), "127.0.0.1", str(port), nick],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
            env=env,
        )
        self.lines: "queue.Queue[Optional[str]]" = queue.Queue()
        self.seen: List[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            # The progress bar redraws with \r: keep what came last.
            self.lines.put(line.rstrip("\n").split("\r")[-1])
        self.lines.put(None)

    def type(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def expect(self, text: str) -> str:
        deadline = time.monotonic() + WAIT
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"cliente: no line with {text!r}; saw {self.seen[-30:]}")
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"cliente ended; saw {self.seen[-30:]}")
            self.seen.append(line)
            if text in line:
                return line

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.type("quit")
                self.proc.wait(timeout=WAIT)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


def build_cliente(out: Path) -> Path:
    """Compiles examples/c/cliente.c with the project's strict flags against
    the library this Python process loaded (copied beside it under its
    SONAME)."""
    libdir = out / "lib"
    libdir.mkdir()
    lib = Path(papo.LIBRARY_PATH)
    shutil.copy(lib, libdir / "libpapo.so")
    shutil.copy(lib, libdir / "libpapo.so.1")
    exe = out / "cliente"
    subprocess.run(
        [
            "cc",
            "-std=c99",
            "-Wall",
            "-Wextra",
            "-Wpedantic",
            "-Werror",
            f"-I{REPO / 'include'}",
            str(REPO / "examples" / "c" / "cliente.c"),
            "-o",
            str(exe),
            f"-L{libdir}",
            "-lpapo",
            "-pthread",
            f"-Wl,-rpath,{libdir}",
        ],
        check=True,
    )
    return exe


def browser(profile: Path, width: int, height: int) -> WebDriver:
    """A headless Chromium with a new empty profile, as root may run it."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        f"--window-size={width},{height}",
    ):
        options.add_argument(flag)
    # Chromium and chromedriver keep their files (crash reports, caches)
    # in the profile's folder and a HOME of their own, deleted with it.
    home = profile / "home"
    home.mkdir(parents=True, exist_ok=True)
    service = Service(executable_path=CHROMEDRIVER, env=dict(os.environ, HOME=str(home)))
    driver = webdriver.Chrome(options=options, service=service)
    if width < 500:
        # A headless window is at least 500 px wide: a phone's viewport is
        # emulated instead (what the page's media queries see).
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": True},
        )
    return driver


def wait_for(driver: WebDriver, what: str, cond) -> object:  # type: ignore[no-untyped-def]
    try:
        return WebDriverWait(driver, WAIT, poll_frequency=0.05).until(lambda d: cond(d))
    except Exception as e:
        raise AssertionError(f"{what}: {e!r}\npage text:\n{page_text(driver)}") from e


def page_text(driver: WebDriver) -> str:
    try:
        return str(driver.find_element(By.TAG_NAME, "body").text)
    except Exception as e:  # noqa: BLE001 - a diagnostic only
        return f"(no page text: {e!r})"


def messages(driver: WebDriver) -> List[str]:
    """The messages of the conversation shown."""
    return [
        m.text for m in driver.find_elements(By.CSS_SELECTOR, "#views ol.messages:not([hidden]) li")
    ]


def all_text(driver: WebDriver) -> str:
    """Every conversation's messages, shown or not."""
    return str(driver.execute_script("return document.getElementById('views').textContent"))


def wait_message(driver: WebDriver, *parts: str) -> None:
    wait_for(
        driver,
        f"a message with {parts}",
        lambda d: any(all(p in m for p in parts) for m in messages(d)),
    )


def online(driver: WebDriver) -> List[str]:
    return [u.text for u in driver.find_elements(By.CSS_SELECTOR, "#users li")]


def join(driver: WebDriver, url: str, nick: str) -> None:
    driver.get(url)
    field = driver.find_element(By.ID, "nick-input")
    field.clear()
    field.send_keys(nick)
    driver.find_element(By.ID, "join-button").click()


def panel_open(driver: WebDriver) -> bool:
    """On a phone the sidebar is a panel: opens it (and waits until it has
    slid in). False on a wide screen, where it is always there."""
    toggle = driver.find_element(By.ID, "users-toggle")
    if not toggle.is_displayed():
        return False
    if "open" not in (driver.find_element(By.ID, "sidebar").get_attribute("class") or ""):
        toggle.click()
    wait_for(
        driver,
        "the panel slid in",
        lambda d: d.execute_script(
            "return document.getElementById('sidebar').getBoundingClientRect().left"
        )
        == 0,
    )
    return True


def in_sidebar(driver: WebDriver, css: str):  # type: ignore[no-untyped-def]
    """The element ``css`` of the sidebar, the panel opened first on a phone."""
    panel_open(driver)
    return wait_for(
        driver,
        f"{css} in the sidebar",
        lambda d: (d.find_elements(By.CSS_SELECTOR, css) or [None])[0],
    )


def open_conv(driver: WebDriver, conv: str) -> None:
    """Shows conversation ``conv`` ("*", "#room", "@nick", lower case)."""
    in_sidebar(driver, f'#convs li[data-conv="{conv}"]').click()
    wait_for(
        driver,
        f"conversation {conv} shown",
        lambda d: d.find_elements(
            By.CSS_SELECTOR, f'#views ol.messages[data-conv="{conv}"]:not([hidden])'
        )
        and not d.find_element(By.ID, "sidebar").get_attribute("class").count("open"),
    )


def write_to(driver: WebDriver, nick: str) -> None:
    """Opens the private conversation with ``nick`` from the list of people."""
    in_sidebar(driver, f'#users li[data-nick="{nick}"]').click()
    conv = "@" + nick.lower()
    wait_for(
        driver,
        f"conversation {conv} shown",
        lambda d: d.find_elements(
            By.CSS_SELECTOR, f'#views ol.messages[data-conv="{conv}"]:not([hidden])'
        ),
    )


def say(driver: WebDriver, text: str) -> None:
    """Sends ``text`` in the conversation shown."""
    box = driver.find_element(By.ID, "text-input")
    box.clear()
    box.send_keys(text)
    driver.find_element(By.ID, "send-button").click()


# ---------------------------------------------------------------- the test


def test_browsers_nc_and_c_client_chat(tmp_path: Path) -> None:
    tmp = tmp_path
    ARTIFACTS.mkdir(exist_ok=True)
    exe = build_cliente(tmp)
    downloads = tmp / "downloads"
    downloads.mkdir()
    server = papo.Server("127.0.0.1", 0, http_port=0, io_threads=2)
    drivers: List[WebDriver] = []
    nico: Optional[Nc] = None
    carla: Optional[CClient] = None
    try:
        assert server.http_port is not None
        url = f"http://127.0.0.1:{server.http_port}/"

        nico = Nc(server.port)
        assert nico.line().startswith("HELLO papo/1 ")
        nico.send("nico")
        nico.expect("WELCOME nico ")

        carla = CClient(exe, server.port, "carla", downloads, tmp)
        carla.expect("Conectado a")
        nico.expect("JOIN carla ")

        ana = browser(tmp / "ana", 1280, 860)
        drivers.append(ana)
        bia = browser(tmp / "bia", 375, 740)
        drivers.append(bia)

        join(ana, url, "ana")
        wait_for(ana, "ana in the chat", lambda d: "ana" in d.find_element(By.ID, "me").text)
        nico.expect("JOIN ana ")
        carla.expect("ana entrou")

        # A taken nickname: 01 shows as a clear message; retry works.
        join(bia, url, "NICO")
        err = wait_for(
            bia,
            "the 01 message",
            lambda d: d.find_element(By.ID, "login-error").is_displayed()
            and d.find_element(By.ID, "login-error"),
        )
        assert "already in use" in err.text, err.text  # type: ignore[attr-defined]
        assert bia.execute_script("return window.innerWidth") == 375
        bia.save_screenshot(str(ARTIFACTS / "browser-nick-taken-phone.png"))
        field = bia.find_element(By.ID, "nick-input")
        field.clear()
        field.send_keys("bia")
        bia.find_element(By.ID, "join-button").click()
        wait_for(bia, "bia in the chat", lambda d: "bia" in d.find_element(By.ID, "me").text)
        nico.expect("JOIN bia ")

        # Who is online, kept live from presence lines.
        wait_for(ana, "four online", lambda d: sorted(online(d)) == ["ana", "bia", "carla", "nico"])

        # Public: browser -> everyone.
        say(ana, "olá de <b>ana</b> & cia")
        nico.expect("PUBLIC ana :olá de <b>ana</b> & cia")
        carla.expect("ana: olá de <b>ana</b> & cia")
        wait_message(bia, "ana", "olá de <b>ana</b> & cia")  # shown as text, not HTML
        assert not bia.find_elements(By.CSS_SELECTOR, "#views b")
        # Public: nc and the C client -> browsers.
        nico.send(":oi do nc")
        wait_message(ana, "nico", "oi do nc")
        wait_message(bia, "nico", "oi do nc")
        carla.type(":oi do cliente C")
        wait_message(ana, "carla", "oi do cliente C")
        wait_message(bia, "carla", "oi do cliente C")

        # Private, every way round.
        write_to(ana, "nico")
        say(ana, "segredo para nico")
        nico.expect("PRIVATE ana :segredo para nico")
        nico.send("bia:psiu, bia")
        nico.expect("SENT bia ")
        open_conv(bia, "@nico")
        wait_message(bia, "nico", "private", "psiu, bia")
        carla.type("ana:oi ana, é a carla")
        carla.expect("Mensagem enviada")
        open_conv(ana, "@carla")
        wait_message(ana, "carla", "private", "oi ana, é a carla")
        write_to(bia, "carla")
        say(bia, "só para carla")
        carla.expect("Mensagem recebida de: bia: só para carla")
        assert "só para carla" not in all_text(ana) and "psiu, bia" not in all_text(ana)
        # Back to the public chat, where the private messages are not.
        open_conv(ana, "*")
        open_conv(bia, "*")
        assert not any("psiu, bia" in m for m in messages(bia))

        # A file from ana's page to everyone: intact in carla's folder.
        data = os.urandom(300 * 1024 + 123)
        src = tmp / "relatório final.bin"
        src.write_bytes(data)
        picker = ana.find_element(By.ID, "file-input")
        ana.execute_script("arguments[0].hidden = false;", picker)
        picker.send_keys(str(src))
        ana.execute_script("arguments[0].hidden = true;", picker)
        line = carla.expect("Arquivo recebido de ana:")
        saved = Path(line.split("Arquivo recebido de ana:", 1)[1].strip())
        assert saved.parent == downloads, saved
        assert hashlib.sha256(saved.read_bytes()).hexdigest() == hashlib.sha256(data).hexdigest()
        nico.expect("FILEOFFER ana ")  # nc has no /binary on: one line instead
        wait_for(ana, "the sender's progress done", lambda d: "Sent." in page_text(d))
        wait_for(
            bia,
            "bia's download link",
            lambda d: d.find_elements(By.CSS_SELECTOR, "#views a.download"),
        )
        link = bia.find_element(By.CSS_SELECTOR, "#views a.download")
        assert link.get_attribute("href").startswith("blob:")  # type: ignore[union-attr]
        assert link.get_attribute("data-size") == str(len(data))

        ana.save_screenshot(str(ARTIFACTS / "browser-chat-desktop.png"))
        bia.save_screenshot(str(ARTIFACTS / "browser-chat-phone.png"))
        assert panel_open(bia)
        bia.save_screenshot(str(ARTIFACTS / "browser-users-phone.png"))
        bia.find_element(By.ID, "users-toggle").click()

        # The server stops: 03 in the pages.
        server.close()
        for d in (ana, bia):
            wait_for(
                d,
                "the 03 banner",
                lambda d: d.find_element(By.ID, "banner").is_displayed()
                and "(03)" in d.find_element(By.ID, "banner").text,
            )
        ana.save_screenshot(str(ARTIFACTS / "browser-server-stopped.png"))
    finally:
        for d in drivers:
            d.quit()
        if carla is not None:
            carla.close()
        if nico is not None:
            nico.close()
        server.close()


# ---------------------------------------------------------------- rooms


def history_of(nc: Nc, room: str) -> List[List[str]]:
    """``/history room`` asked by nc: [kind, from, id, time, text] per line."""
    nc.send(f"/history {room} 50")
    rows = []
    while True:
        line = nc.expect("HIST")
        if line.startswith("HISTEND "):
            return rows
        head, _, text = line.partition(" :")
        w = head.split(" ")
        assert w[0] == "HISTORY" and w[1] == room, line
        rows.append([w[2], w[3], w[4], w[5], text])


def local_hhmm(driver: WebDriver, ms: int) -> str:
    """HH:MM of a server time in the browser's own time zone."""
    return str(
        driver.execute_script(
            "const d = new Date(arguments[0]);"
            "return String(d.getHours()).padStart(2, '0') + ':'"
            " + String(d.getMinutes()).padStart(2, '0');",
            ms,
        )
    )


def conv_unread(driver: WebDriver, conv: str) -> str:
    found = driver.find_elements(By.CSS_SELECTOR, f'#convs li[data-conv="{conv}"] .unread')
    return str(found[0].get_attribute("textContent")) if found else ""


def head_text(driver: WebDriver, id_: str) -> str:
    return str(driver.find_element(By.ID, id_).get_attribute("textContent"))


def test_rooms_history_topics_and_privacy(tmp_path: Path) -> None:
    """An nc user talks in #sala before a browser user joins it: the page
    shows that history with the server's times, then live room messages
    both ways without duplicates; a browser user outside the room sees none
    of it; topics, errors, unread counts, the room list on a phone, leaving,
    and rejoining the room after the connection was lost."""
    ARTIFACTS.mkdir(exist_ok=True)
    server = papo.Server("127.0.0.1", 0, http_port=0, io_threads=2, oper_password="segredo")
    drivers: List[WebDriver] = []
    nico: Optional[Nc] = None
    try:
        assert server.http_port is not None
        url = f"http://127.0.0.1:{server.http_port}/"

        nico = Nc(server.port)
        assert nico.line().startswith("HELLO papo/1 ")
        nico.send("nico")
        nico.expect("WELCOME nico ")
        nico.send("/join #sala")
        nico.expect("ROOMJOIN #sala nico ")
        nico.send("#sala:bom dia <i>sala</i>")
        nico.expect("SENT #sala ")
        nico.send("#sala:segunda & última antes")
        nico.expect("SENT #sala ")
        nico.send("/topic #sala Redes <b>&</b> cia")
        nico.expect("TOPIC #sala nico :Redes <b>&</b> cia")
        before = history_of(nico, "#sala")
        assert [r[4] for r in before] == ["bom dia <i>sala</i>", "segunda & última antes"], before

        ana = browser(tmp_path / "ana", 1280, 860)
        drivers.append(ana)
        bia = browser(tmp_path / "bia", 375, 740)
        drivers.append(bia)
        join(ana, url, "ana")
        wait_for(ana, "ana in the chat", lambda d: "ana" in d.find_element(By.ID, "me").text)
        nico.expect("JOIN ana ")
        join(bia, url, "bia")
        wait_for(bia, "bia in the chat", lambda d: "bia" in d.find_element(By.ID, "me").text)
        nico.expect("JOIN bia ")

        # The room list shows #sala with its members and topic.
        wait_for(
            ana,
            "#sala in the room list",
            lambda d: any(
                "#sala" in li.text and "Redes <b>&</b> cia" in li.text and "1" in li.text
                for li in d.find_elements(By.CSS_SELECTOR, "#room-list li.room")
            ),
        )

        # Errors for room commands: an invalid name, shown by the form.
        box = ana.find_element(By.ID, "room-input")
        box.send_keys("#a:b")
        ana.find_element(By.ID, "room-button").click()
        wait_for(
            ana,
            "the invalid-room message",
            lambda d: d.find_element(By.ID, "room-error").is_displayed()
            and "Invalid room name (23)" in d.find_element(By.ID, "room-error").text,
        )

        # ana joins #sala from the text box: its history, with times.
        box.clear()
        box.send_keys("#sala")
        ana.find_element(By.ID, "room-button").click()
        nico.expect("ROOMJOIN #sala ana ")
        wait_for(ana, "#sala shown", lambda d: head_text(d, "conv-title") == "#sala")
        wait_for(ana, "the topic in the header", lambda d: head_text(d, "conv-topic") == "Redes <b>&</b> cia")
        wait_message(ana, "nico", "bom dia <i>sala</i>")
        wait_message(ana, "nico", "segunda & última antes")
        assert not ana.find_elements(By.CSS_SELECTOR, "#views i, #views b, #conv-topic b")
        view = '#views ol[data-conv="#sala"]'
        for kind, who, id_, ms, text in before:
            li = ana.find_element(By.CSS_SELECTOR, f'{view} li[data-id="{id_}"]')
            assert "history" in (li.get_attribute("class") or ""), li.get_attribute("class")
            assert text in li.text and who in li.text
            t = li.find_element(By.CSS_SELECTOR, "time")
            assert t.get_attribute("data-ms") == ms
            # Today's message: HH:MM in the browser's local time.
            assert t.text == local_hhmm(ana, int(ms)), (t.text, ms)
        divider = ana.find_elements(By.CSS_SELECTOR, f"{view} li.divider")
        assert [d.get_attribute("textContent") for d in divider] == ["Earlier messages"]
        # In order, marked as earlier messages, before the notice of the join.
        lines = [
            str(li.get_attribute("textContent"))
            for li in ana.find_elements(By.CSS_SELECTOR, f"{view} li")
        ]
        first = next(i for i, t in enumerate(lines) if "bom dia" in t)
        second = next(i for i, t in enumerate(lines) if "segunda & última" in t)
        joined_at = lines.index("You joined #sala.")
        assert lines[first - 1] == "Earlier messages" and first < second < joined_at, lines

        # Live room messages both ways, each shown once.
        nico.send("#sala:ao vivo, ana")
        nico.expect("SENT #sala ")
        wait_message(ana, "nico", "ao vivo, ana")
        say(ana, "oi nico, é a ana <script>")
        nico.expect("ROOM #sala ana :oi nico, é a ana <script>")
        wait_message(ana, "ana", "oi nico, é a ana <script>")
        # A history answer asked again merges by id: no duplicates.
        say(ana, "/history #sala 50")
        nico.send("#sala:depois do histórico")
        wait_message(ana, "nico", "depois do histórico")
        for text in ("bom dia", "segunda & última", "ao vivo, ana", "oi nico, é a ana"):
            assert sum(text in m for m in messages(ana)) == 1, (text, messages(ana))
        # The message nico sent live carries its server time as well.
        live = [r for r in history_of(nico, "#sala") if r[4] == "ao vivo, ana"]
        assert len(live) == 1
        t = ana.find_element(By.CSS_SELECTOR, f'{view} li[data-id="{live[0][2]}"] time')
        assert t.get_attribute("data-ms") == live[0][3]

        # bia is not in #sala: nothing of it reaches her page. nico's public
        # line after the room lines is a barrier (his lines go out in order).
        nico.send(":público depois da sala")
        wait_message(bia, "nico", "público depois da sala")
        bia_text = all_text(bia)
        for text in ("ao vivo", "oi nico", "depois do histórico", "bom dia"):
            assert text not in bia_text, text
        assert not bia.find_elements(By.CSS_SELECTOR, '#convs li[data-conv="#sala"]')

        # A topic change shows in the header and in the room.
        nico.send("/topic #sala Novo assunto")
        nico.expect("TOPIC #sala nico :Novo assunto")
        wait_for(ana, "the new topic", lambda d: head_text(d, "conv-topic") == "Novo assunto")
        wait_message(ana, "nico set the topic: Novo assunto")
        # Not an operator: a clear message.
        say(ana, "/topic #sala meu assunto")
        wait_message(ana, "Only the operators of #sala can do that (22)")
        # Made an operator, ana sets the topic the short way, in the room.
        nico.send("/op #sala ana")
        nico.expect("ROOMOP #sala nico ana ")
        wait_message(ana, "nico made ana an operator of #sala")
        say(ana, "/topic Assunto da <em>ana</em>")
        nico.expect("TOPIC #sala ana :Assunto da <em>ana</em>")
        wait_for(ana, "ana's topic", lambda d: head_text(d, "conv-topic") == "Assunto da <em>ana</em>")
        nico.send("/topic #sala Novo assunto")
        nico.expect("TOPIC #sala nico :Novo assunto")
        # Members of the room shown, operators marked.
        wait_for(
            ana,
            "the members of #sala",
            lambda d: head_text(d, "people-title") == "In #sala"
            and sorted(
                (li.get_attribute("data-nick"), "op" in (li.get_attribute("class") or ""))
                for li in d.find_elements(By.CSS_SELECTOR, "#users li")
            )
            == [("ana", True), ("nico", True)],
        )
        ana.save_screenshot(str(ARTIFACTS / "browser-room-desktop.png"))

        # Unread count while another conversation is shown.
        open_conv(ana, "*")
        nico.send("#sala:enquanto você olhava outra conversa")
        nico.expect("SENT #sala ")
        wait_for(ana, "1 unread in #sala", lambda d: conv_unread(d, "#sala") == "1")
        open_conv(ana, "#sala")
        wait_for(ana, "no unread in #sala", lambda d: conv_unread(d, "#sala") == "")
        wait_message(ana, "enquanto você olhava")

        # bia, on a phone, joins from the room list and sees the history.
        join_button = in_sidebar(bia, '#room-list li[data-room="#sala"] button')
        wait_for(bia, "the room list up to date", lambda d: "2" in d.find_element(By.CSS_SELECTOR, '#room-list li[data-room="#sala"]').text)
        join_button = bia.find_element(By.CSS_SELECTOR, '#room-list li[data-room="#sala"] button')
        join_button.click()
        nico.expect("ROOMJOIN #sala bia ")
        wait_for(bia, "#sala shown", lambda d: head_text(d, "conv-title") == "#sala")
        wait_message(bia, "ana", "oi nico, é a ana <script>")
        wait_message(bia, "nico", "enquanto você olhava")
        wait_message(ana, "bia joined #sala")
        assert bia.execute_script("return window.innerWidth") == 375
        bia.save_screenshot(str(ARTIFACTS / "browser-room-phone.png"))
        panel_open(bia)
        bia.save_screenshot(str(ARTIFACTS / "browser-rooms-panel-phone.png"))
        bia.find_element(By.ID, "users-toggle").click()
        wait_for(bia, "the panel closed", lambda d: "open" not in (d.find_element(By.ID, "sidebar").get_attribute("class") or ""))
        # ... and leaves it.
        bia.find_element(By.ID, "leave-button").click()
        nico.expect("ROOMPART #sala bia ")
        wait_message(bia, "You left #sala")
        wait_message(ana, "bia left #sala")
        say(bia, "ainda estou aqui?")
        wait_message(bia, "You are not in #sala")

        # ana's connection is lost: the page reconnects and joins #sala again.
        nico.send("/oper segredo")
        nico.expect("OPER ")
        nico.send("/kick ana")
        nico.expect("LEFT ana ")
        nico.expect("JOIN ana ")
        nico.expect("ROOMJOIN #sala ana ")
        wait_for(ana, "back online", lambda d: "Back online as ana" in all_text(d))
        nico.send("#sala:de volta?")
        nico.expect("SENT #sala ")
        wait_message(ana, "nico", "de volta?")
        for text in ("bom dia", "ao vivo, ana", "enquanto você olhava"):
            assert sum(text in m for m in messages(ana)) == 1, (text, messages(ana))

        # A room that does not exist: the server's 21, said plainly.
        say(bia, "/who #nenhuma")
        wait_message(bia, "There is no room #nenhuma, or you are not in it (21)")
        # Put out of the room by its operator: said in the room, which
        # offers to join again.
        nico.send("/kick #sala ana")
        nico.expect("ROOMKICK #sala nico ana ")
        wait_message(ana, "nico put you out of #sala")
        wait_for(ana, "the Join button", lambda d: d.find_element(By.ID, "rejoin-button").is_displayed())
        assert not ana.find_element(By.ID, "leave-button").is_displayed()
        ana.find_element(By.ID, "rejoin-button").click()
        nico.expect("ROOMJOIN #sala ana ")
        wait_for(ana, "the Leave button", lambda d: d.find_element(By.ID, "leave-button").is_displayed())
    finally:
        for d in drivers:
            d.quit()
        if nico is not None:
            nico.close()
        server.close()


def test_older_messages_show_their_date(tmp_path: Path) -> None:
    """A public message three days old (in the server's history database
    before it starts) shows with its date; today's with HH:MM alone."""
    import sqlite3

    db = tmp_path / "history.sqlite"
    now_ms = int(time.time() * 1000)
    old_ms = now_ms - 3 * 24 * 3600 * 1000
    conn = sqlite3.connect(db)
    with conn:
        conn.execute(
            "CREATE TABLE messages (id INTEGER PRIMARY KEY, conversation TEXT NOT NULL,"
            " kind TEXT NOT NULL, sender TEXT NOT NULL, time INTEGER NOT NULL, text TEXT NOT NULL)"
        )
        conn.execute(
            "INSERT INTO messages VALUES (7, '*', 'public', 'velho', ?, 'de três dias atrás')",
            (old_ms,),
        )
    conn.close()
    server = papo.Server("127.0.0.1", 0, http_port=0, history_path=str(db))
    drivers: List[WebDriver] = []
    nico: Optional[Nc] = None
    try:
        assert server.http_port is not None
        nico = Nc(server.port)
        assert nico.line().startswith("HELLO papo/1 ")
        nico.send("nico")
        nico.expect("WELCOME nico ")
        nico.send(":de hoje")
        nico.send("/ping")
        nico.expect("PONG")
        ana = browser(tmp_path / "ana", 1024, 700)
        drivers.append(ana)
        join(ana, f"http://127.0.0.1:{server.http_port}/", "ana")
        wait_message(ana, "velho", "de três dias atrás")
        wait_message(ana, "nico", "de hoje")
        old = ana.find_element(By.CSS_SELECTOR, '#views li[data-id="7"] time')
        assert old.get_attribute("data-ms") == str(old_ms)
        hhmm = local_hhmm(ana, old_ms)
        day = str(ana.execute_script("return new Date(arguments[0]).getDate()", old_ms))
        assert old.text != hhmm and old.text.endswith(" " + hhmm) and day in old.text, old.text
        today = [
            li.find_element(By.CSS_SELECTOR, "time")
            for li in ana.find_elements(By.CSS_SELECTOR, "#views li.msg")
            if "de hoje" in li.text
        ]
        assert len(today) == 1
        ms = int(today[0].get_attribute("data-ms") or 0)
        assert today[0].text == local_hhmm(ana, ms), today[0].text
    finally:
        for d in drivers:
            d.quit()
        if nico is not None:
            nico.close()
        server.close()
