#!/usr/bin/env python3
"""cliente.py: the chat client of seed 000's manual ("Manual de uso do lado
cliente"), on the papo package.

    python3 cliente.py                          # asks for IP, port and nickname
    python3 cliente.py 127.0.0.1 18000 ana      # or takes them as arguments

A wrong server is error 04, an invalid IP address error 05 (manual item 2); a
nickname already in use (01) or invalid (06) is asked for again. Once
connected it shows who is online (item 3), then reads lines from the keyboard
while it prints what arrives:

    :texto          a public message, to everyone online
    Apelido:texto   a private message to Apelido ("Mensagem enviada", or error 02)
    /list           who is online          /nick Novo    change nickname
    /sendFile arquivo.ext   send a file to everyone (seed 002), with a progress bar
    /help           these commands         /clean        clear the screen
    /join #sala     join (or create) a room and show its recent history
    #sala:texto     a message to the room  /part #sala   leave the room
    /rooms          the rooms, their member counts and topics
    quit            leave (also {quit}, /quit, or end of input)

Files sent by others are saved in ~/papo-downloads (seed 002: a folder in the
user's home), or in the folder given with --downloads (or PAPO_DOWNLOADS).

A thread reads the keyboard and sends; the main thread waits for the events
(on the client's descriptor, no timer) and prints them. What the server sends
is shown, never obeyed: control characters, escape sequences and bidi
controls in nicknames and messages are printed escaped, so a server cannot
clear the screen, retitle the window or draw a fake line. Needs the papo
package: pip install ./bindings/python (from the repository root).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import threading
from typing import List, Optional

import papo

HELP = """Comandos:
  :texto          mensagem pública, para todos
  Apelido:texto   mensagem privada para Apelido
  /list           quem está online
  /nick Novo      trocar de apelido
  /sendFile arq   enviar um arquivo para todos
  /join #sala     entrar numa sala (e ver o que foi dito)
  #sala:texto     mensagem para a sala
  /part #sala     sair da sala
  /rooms          as salas, quantos há em cada uma e seus temas
  /clean          limpar a tela
  /help           esta ajuda
  quit            sair (também {quit} ou /quit)"""

QUIT_WORDS = {"quit", "{quit}", "/quit"}

#: How many messages of a room's history are shown when joining it.
HISTORY_ON_JOIN = 20

# C0 controls but TAB, DEL, C1 controls, and the bidi controls that reorder
# what follows (U+061C, U+200E/F, U+202A-U+202E, U+2066-U+2069).
_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def shown(text: Optional[str]) -> str:
    """Text from the network as it may reach the terminal: each control
    character escaped (``\\x1b``, ``\\u009b``, ``\\u202e``), so that a server,
    or anyone on the path of a plain-text connection, cannot drive the
    terminal (escape sequences, OSC titles, cursor moves, Trojan Source)."""

    def escape(m: "re.Match[str]") -> str:
        code = ord(m.group())
        return f"\\x{code:02x}" if code < 0x80 else f"\\u{code:04x}"

    return _UNSAFE.sub(escape, text or "")


_print_lock = threading.Lock()
#: True while the last thing printed is a progress bar without its newline.
_bar_open = False


def say(text: str) -> None:
    """Prints a line; both threads print, one line at a time."""
    global _bar_open
    with _print_lock:
        if _bar_open:
            print(flush=True)
            _bar_open = False
        print(text, flush=True)


def progress_bar(what: str, event: papo.Event, width: int = 30) -> None:
    """Draws a progress bar for a file on one line, redrawn in place (\\r)."""
    global _bar_open
    fraction = event.fraction or 0.0
    filled = int(fraction * width)
    bar = "#" * filled + "-" * (width - filled)
    with _print_lock:
        sys.stdout.write(
            f"\r{what} {shown(event.file_name)} [{bar}] {int(fraction * 100):3d}% "
            f"({event.bytes_done}/{event.bytes_total} bytes)"
        )
        sys.stdout.flush()
        _bar_open = True


def ask(prompt: str) -> Optional[str]:
    """One answer from the keyboard, or None at end of input."""
    try:
        return input(prompt).strip()
    except EOFError:
        return None


def error_text(exc: papo.Error) -> str:
    text = f"Erro {exc.code:02d}: {exc.strerror}"
    return f"{text} ({shown(exc.detail)})" if exc.detail else text


def describe(event: papo.Event) -> str:
    """How one event is shown."""
    kind = papo.EventKind
    # Every text from the network goes through shown().
    if event.kind is kind.PUBLIC:
        return f"{shown(event.sender)}: {shown(event.text)}"
    if event.kind is kind.PRIVATE:
        return f"Mensagem recebida de: {shown(event.sender)}: {shown(event.text)}"
    if event.kind is kind.JOINED:
        return f"* {shown(event.sender)} entrou no chat"
    if event.kind is kind.LEFT:
        return f"* {shown(event.sender)} saiu do chat"
    if event.kind is kind.NICK_CHANGED:
        return f"* {shown(event.sender)} agora se chama {shown(event.new_nick)}"
    if event.kind is kind.ROOM:
        return f"[{shown(event.room)}] {shown(event.sender)}: {shown(event.text)}"
    if event.kind is kind.ROOM_JOINED:
        return f"* {shown(event.sender)} entrou em {shown(event.room)}"
    if event.kind is kind.ROOM_LEFT:
        return f"* {shown(event.sender)} saiu de {shown(event.room)}"
    if event.kind is kind.ROOM_KICKED:
        room, by = shown(event.room), shown(event.by)
        return f"* {by} tirou {shown(event.sender)} de {room}"
    if event.kind is kind.ROOM_OPERATOR:
        room, by = shown(event.room), shown(event.by)
        return f"* {by} fez de {shown(event.sender)} operador de {room}"
    if event.kind is kind.RECONNECTING:
        return (
            f"*** Conexão perdida; reconectando (tentativa {event.attempt})... "
            "(connection lost; reconnecting)"
        )
    if event.kind is kind.RECONNECTED:
        if event.recovered:
            return "*** Reconectado; nada se perdeu (reconnected)"
        return (
            "*** Reconectado; mensagens podem ter se perdido: veja /history "
            "(reconnected; messages may be missing)"
        )
    if event.kind is kind.CLUSTER_PARTITIONED:
        return (
            "*** Sem contato com os outros servidores: por ora só os usuários deste "
            "servidor recebem suas mensagens (cut off from the other servers)"
        )
    if event.kind is kind.CLUSTER_HEALED:
        return "*** De volta ao chat inteiro (back in the whole chat)"
    if event.kind is kind.LOST:
        return (
            f"*** {event.count} mensagem(ns) para você se perdeu(perderam) entre servidores "
            "(messages lost between servers)"
        )
    if event.kind is kind.RENAMED:
        return (
            f"*** O servidor mudou seu apelido de {shown(event.sender)} para "
            f"{shown(event.new_nick)}: outro servidor já o usava (the server renamed you)"
        )
    if event.kind is kind.TOPIC:
        return f"* tema de {shown(event.room)}: {shown(event.text)}"
    if event.kind is kind.ERROR:
        return f"Erro {event.code:02d}: {shown(event.text)}"
    if event.kind is kind.BYTES:
        private = " (privado)" if event.private else ""
        return f"{shown(event.sender)} enviou {len(event.data or b'')} bytes binários{private}"
    if event.kind is kind.FILE_OFFERED:
        return (
            f"Recebendo arquivo {shown(event.file_name)} de {shown(event.sender)} "
            f"({event.bytes_total} bytes)"
        )
    if event.kind is kind.FILE_RECEIVED:
        return f"Arquivo recebido de {shown(event.sender)}: {shown(event.path)}"
    if event.kind is kind.FILE_FAILED:
        name, sender = shown(event.file_name), shown(event.sender)
        return f"Arquivo {name} de {sender} falhou: {shown(event.text)}"
    if event.kind is kind.FILE_SENT:
        return f"Arquivo enviado: {shown(event.file_name)} ({event.bytes_total} bytes)"
    if event.kind is kind.FILE_SEND_FAILED:
        return f"Envio de {shown(event.file_name)} falhou: {shown(event.text)}"
    return f"Conexão encerrada. Erro {event.code:02d}: {papo.strerror(event.code)}"


def handle_line(client: papo.Client, line: str) -> bool:
    """Acts on one line typed by the user; returns False to leave."""
    line = line.rstrip("\r\n")
    command = line.strip()
    if not command:
        return True
    if command in QUIT_WORDS:
        return False
    try:
        if command == "/help":
            say(HELP)
        elif command == "/list":
            users = client.users()
            say(f"Online ({len(users)}): " + ", ".join(map(shown, users)))
        elif command == "/clean":
            if sys.stdout.isatty():
                say("\033[2J\033[H")
        elif command.split(" ", 1)[0] in ("/sendFile", "/sendfile"):
            # seed 002: "/sendFile arquivo.ext": every other user receives it
            path = command.split(" ", 1)[1].strip() if " " in command else ""
            if not path:
                say("Uso: /sendFile arquivo.ext")
            else:
                file_id = client.send_file(os.path.expanduser(path))
                say(f"Enviando {path} para todos (transferência {file_id})")
        elif command == "/nick" or command.startswith("/nick "):
            new = command[len("/nick") :].strip()
            if not new:
                say("Uso: /nick NovoApelido")
            else:
                client.change_nick(new)  # the NICK_CHANGED event tells the rest
        elif command.startswith("/join "):
            room = command[len("/join ") :].strip()
            client.join(room)
            entries = client.history(room, n=HISTORY_ON_JOIN)
            say(f"Histórico de {shown(room)}:" if entries else f"{shown(room)}: nada dito ainda")
            for e in entries:
                say(f"  {shown(e.sender)}: {shown(e.text)}")
        elif command.startswith("/part "):
            client.part(command[len("/part ") :].strip())
        elif command == "/rooms":
            rooms = client.rooms()
            if not rooms:
                say("Nenhuma sala")
            for r in rooms:
                topic = f": {shown(r.topic)}" if r.topic else ""
                say(f"Sala {shown(r.name)} ({r.members}){topic}")
        elif command.startswith("/"):
            say(f"Comando desconhecido: {command} (digite /help)")
        elif ":" in line:
            to, text = line.split(":", 1)
            to = to.strip()
            if to:
                papo.enviar_Msg(client, to, text)
                say(f"Mensagem enviada para {to}")
            else:
                papo.enviar_Msg(client, None, text)
        else:
            say("Use :texto para todos, Apelido:texto para um, /help para ajuda")
    except papo.Closed:
        return False
    except papo.Error as exc:
        say(error_text(exc))
    return True


def keyboard(client: papo.Client, done: threading.Event) -> None:
    """The keyboard thread: reads lines until quit or end of input, then
    wakes the main thread's wait for events."""
    try:
        for line in sys.stdin:
            if not handle_line(client, line):
                break
    finally:
        done.set()
        try:
            client.wakeup()
        except papo.Error:
            pass  # already closed


def connect(ip: str, port: int, nick: Optional[str]) -> Optional[papo.Client]:
    """Connects, asking for another nickname while it is taken or invalid."""
    while True:
        if not nick:
            nick = ask("Apelido: ")
            if nick is None:
                return None
            if not nick:
                continue
        try:
            # The seed's Conecta_cliente, as a papo.Client that (since 1.1)
            # takes a lost connection back by itself; PAPO_RECONNECT_ATTEMPTS
            # says how many attempts before giving up (default 10).
            attempts = os.environ.get("PAPO_RECONNECT_ATTEMPTS")
            return papo.Client(
                ip,
                port,
                nick,
                reconnect_attempts=int(attempts) if attempts else None,
            )
        except (papo.NickInUse, papo.InvalidNick) as exc:
            say(error_text(exc) + ". Escolha outro apelido.")
            nick = None


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        description="papo chat client (seed 000's cliente.py). Missing arguments are asked for."
    )
    parser.add_argument("ip", nargs="?", help="server IP address (blank: 127.0.0.1)")
    parser.add_argument("port", nargs="?", help=f"server port (blank: {papo.DEFAULT_PORT})")
    parser.add_argument("apelido", nargs="?", help="your nickname")
    parser.add_argument(
        "--downloads",
        default=os.environ.get("PAPO_DOWNLOADS") or None,
        help="folder for received files (default: $PAPO_DOWNLOADS, else ~/papo-downloads)",
    )
    args = parser.parse_args(argv)

    ip = args.ip if args.ip is not None else (ask("IP do servidor (em branco: 127.0.0.1): ") or "")
    port_text = args.port
    if port_text is None:
        port_text = ask(f"Porta do servidor (em branco: {papo.DEFAULT_PORT}): ") or ""
    try:
        port = int(port_text) if port_text else papo.DEFAULT_PORT
        if not 0 < port <= 65535:
            raise ValueError(port_text)
    except ValueError:
        say(f"Porta inválida: {port_text!r} (use um número de 1 a 65535)")
        return 2

    try:
        client = connect(ip or "127.0.0.1", port, args.apelido)
    except papo.Error as exc:  # 04 invalid server, 05 invalid address, 12 full, ...
        say(error_text(exc))
        return 1
    if client is None:
        return 0

    done = threading.Event()
    status = 0
    try:
        say(f"Conexão estabelecida com {ip or '127.0.0.1'}:{port} como {client.nick}.")
        if args.downloads:
            client.download_dir = args.downloads
        say(f"Arquivos recebidos vão para {client.download_dir}")
        try:
            say("Online: " + ", ".join(map(shown, client.users())))
        except papo.Error as exc:
            say(error_text(exc))
        say("Digite /help para ver os comandos.")
        threading.Thread(target=keyboard, args=(client, done), daemon=True).start()
        while not done.is_set():
            try:
                # No timeout: an event, or the keyboard thread's wakeup().
                event = client.next_event()
            except papo.Closed:
                break
            if event is None:
                continue
            if event.kind is papo.EventKind.FILE_PROGRESS:
                progress_bar("Recebendo", event)
                continue
            if event.kind is papo.EventKind.FILE_SEND_PROGRESS:
                progress_bar("Enviando", event)
                continue
            say(describe(event))
            if event.kind is papo.EventKind.DISCONNECTED:
                status = 1
                break
    except KeyboardInterrupt:
        pass
    finally:
        papo.Desconecta_cliente(client)
    say("Você saiu do chat.")
    return status


if __name__ == "__main__":
    # Ctrl-C stops the client even when it was started as a background job of a
    # non-interactive shell, where SIGINT starts out ignored and Python would
    # keep it so (the C example installs its handler with sigaction alike).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # Ctrl-C at a question, before connecting
        sys.exit(130)
