"""The browser chat client in a real browser (Debian's chromium, driven by
Selenium through /usr/bin/chromedriver; nothing downloads a browser).

A papo.Server with its HTTP port; two browser users (ana, bia), an nc user
(a raw socket, nico) and the C client (examples/c/cliente.c, compiled here
against the same library; carla) chat in public and in private; bia first
asks for a taken nickname, sees the 01 message and retries; bia joins a
room with /join and talks in it with nico; a file sent
from ana's page arrives intact (sha256) in carla's download folder; the
server stopping shows 03 in the pages. Screenshots go to test-artifacts/
(one at a phone's size, 375 px wide).

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
from selenium.webdriver.support.ui import Select, WebDriverWait

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
    return [m.text for m in driver.find_elements(By.CSS_SELECTOR, "#messages li")]


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


def say(driver: WebDriver, text: str, to: str = "") -> None:
    Select(driver.find_element(By.ID, "to")).select_by_value(to)
    box = driver.find_element(By.ID, "text-input")
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
        assert not bia.find_elements(By.CSS_SELECTOR, "#messages b")
        # Public: nc and the C client -> browsers.
        nico.send(":oi do nc")
        wait_message(ana, "nico", "oi do nc")
        wait_message(bia, "nico", "oi do nc")
        carla.type(":oi do cliente C")
        wait_message(ana, "carla", "oi do cliente C")
        wait_message(bia, "carla", "oi do cliente C")

        # Private, every way round.
        say(ana, "segredo para nico", to="nico")
        nico.expect("PRIVATE ana :segredo para nico")
        nico.send("bia:psiu, bia")
        nico.expect("SENT bia ")
        wait_message(bia, "nico", "private", "psiu, bia")
        carla.type("ana:oi ana, é a carla")
        carla.expect("Mensagem enviada")
        wait_message(ana, "carla", "private", "oi ana, é a carla")
        say(bia, "só para carla", to="carla")
        carla.expect("Mensagem recebida de: bia: só para carla")
        for m in messages(ana):
            assert "só para carla" not in m and "psiu, bia" not in m

        # Rooms through the browser's WebSocket: bia types /join, talks to
        # the room with "#sala:text"; ana, not in it, sees none of it.
        say(bia, "/join #sala")
        wait_message(bia, "bia entrou na sala #sala")
        nico.send("/join #sala")
        nico.expect("ROOMJOIN #sala nico ")
        wait_message(bia, "nico entrou na sala #sala")
        nico.send("#sala:oi, sala")
        nico.expect("SENT #sala")
        wait_message(bia, "nico", "#sala", "oi, sala")
        say(bia, "#sala:oi do navegador")
        nico.expect("ROOM #sala bia :oi do navegador")
        for m in messages(ana):
            assert "oi, sala" not in m and "oi do navegador" not in m

        # A file from ana's page to everyone: intact in carla's folder.
        data = os.urandom(300 * 1024 + 123)
        src = tmp / "relatório final.bin"
        src.write_bytes(data)
        Select(ana.find_element(By.ID, "to")).select_by_value("")  # to everyone
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
            lambda d: d.find_elements(By.CSS_SELECTOR, "#messages a.download"),
        )
        link = bia.find_element(By.CSS_SELECTOR, "#messages a.download")
        assert link.get_attribute("href").startswith("blob:")  # type: ignore[union-attr]
        assert link.get_attribute("data-size") == str(len(data))

        ana.save_screenshot(str(ARTIFACTS / "browser-chat-desktop.png"))
        bia.save_screenshot(str(ARTIFACTS / "browser-chat-phone.png"))
        bia.find_element(By.ID, "users-toggle").click()
        wait_for(bia, "the users panel open", lambda d: "open" in d.find_element(By.ID, "sidebar").get_attribute("class"))
        time.sleep(0.3)  # the panel slides in
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
