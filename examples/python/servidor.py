#!/usr/bin/env python3
"""servidor.py: the chat server of seed 000's manual ("Manual de uso do lado
servidor"), on the papo package.

    python3 servidor.py                    # asks for the IP address and the port
    python3 servidor.py 127.0.0.1 18000    # or takes them as arguments

A blank IP address means 127.0.0.1 and a blank port 18000; an invalid IP
address is error 05 and the program ends (manual item 2). It shows the IP
address and port of each client that connects (item 3), each nickname
registered and changed, each departure (item 7) and the number of active
connections (seed 004). Ctrl-C stops it cleanly: every client still connected
gets error 03.

Needs the papo package: pip install ./bindings/python (from the repository root).
"""

from __future__ import annotations

import argparse
import signal
import sys
from typing import List, Optional

import papo


def ask(prompt: str) -> str:
    """One answer from the keyboard ("" at end of input)."""
    try:
        return input(prompt).strip()
    except EOFError:
        return ""


def parse_port(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise ValueError(text)
    return port


def describe(event: papo.ServerEvent, server: papo.Server) -> List[str]:
    """The lines to print for one server event."""
    who = f"{event.ip}:{event.port}"
    kind = papo.ServerEventKind
    if event.kind is kind.CONNECTED:
        lines = [f"Cliente conectado: {who} (conexão #{event.client_id}); pedindo um apelido"]
    elif event.kind is kind.REGISTERED:
        lines = [f"{who} entrou no chat como {event.nick}"]
    elif event.kind is kind.NICK_CHANGED:
        lines = [f"{event.nick} ({who}) agora se chama {event.new_nick}"]
    else:
        name = event.nick if event.nick is not None else "(sem apelido)"
        why = event.reason or ""
        if event.code:
            why = f"erro {event.code:02d} {papo.strerror(event.code)}" + (
                f" ({why})" if why else ""
            )
        lines = [f"{name} ({who}) saiu do chat: {why}" if why else f"{name} ({who}) saiu do chat"]
    if event.kind in (kind.CONNECTED, kind.DISCONNECTED):
        try:
            lines.append(f"Conexões ativas: {server.connection_count}")
        except papo.Closed:
            pass
    return lines


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        description="papo chat server (seed 000's servidor.py). "
        "Missing arguments are asked for; blank answers take the defaults."
    )
    parser.add_argument("ip", nargs="?", help="IP address to listen on (blank: 127.0.0.1)")
    parser.add_argument(
        "port", nargs="?", help=f"TCP port (blank: {papo.DEFAULT_PORT}; 0: any free port)"
    )
    args = parser.parse_args(argv)

    ip = args.ip if args.ip is not None else ask("Endereço IP do servidor (em branco: 127.0.0.1): ")
    port_text = (
        args.port
        if args.port is not None
        else ask(f"Porta de escuta (em branco: {papo.DEFAULT_PORT}): ")
    )
    try:
        port = parse_port(port_text) if port_text else papo.DEFAULT_PORT
    except ValueError:
        print(f"Porta inválida: {port_text!r} (use um número de 0 a 65535)", file=sys.stderr)
        return 2

    try:
        # Conecta_Servidor(ip, port) with two settings a server program wants
        # and the library leaves off, since they change the whole process: room
        # for as many clients as the system allows (the soft limit on open files
        # raised to the hard one), and the heap memory of a burst handed back to
        # the system once the server is idle.
        server = papo.Server(ip or "127.0.0.1", port, raise_nofile_limit=True, trim_heap=True)
    except papo.InvalidAddress as exc:
        print(f"Erro {exc.code:02d}: {exc.strerror}. Reinicie o servidor com outro endereço.")
        return 1
    except papo.Error as exc:
        print(f"Erro {exc.code:02d}: {exc}")
        return 1

    try:
        print(
            f"Servidor papo aguardando conexões em {server.ip}:{server.port} "
            "(Ctrl-C para encerrar)",
            flush=True,
        )
        while True:
            event = server.next_event(timeout=None)
            if event is None:
                continue
            for line in describe(event, server):
                print(line, flush=True)
    except KeyboardInterrupt:
        print("\nEncerrando: os clientes conectados recebem o erro 03...", flush=True)
    finally:
        papo.Desconecta_Servidor(server)
    print("Servidor encerrado.", flush=True)
    return 0


if __name__ == "__main__":
    # Ctrl-C stops the server even when it was started as a background job of a
    # non-interactive shell, where SIGINT starts out ignored and Python would
    # keep it so (the C example installs its handler with sigaction alike).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # Ctrl-C at a question, before the server started
        sys.exit(130)
