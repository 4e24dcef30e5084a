#!/usr/bin/env python3
"""gui.py: a desktop chat client for papo, with tkinter (Python's standard
library). It is the kind of interface seed 000's chat API was meant for
("criar uma interface para o chat").

    python3 gui.py                                         # asks in a connect form
    python3 gui.py --host 127.0.0.1 --port 18000 --nick ana  # connects at once

- A connect form (IP, port, nickname). A nickname already in use (01) or
  invalid (06), a wrong server (04) or address (05) is shown in the form,
  which stays open to try again. "Procurar servidores na rede" (Alt+P)
  lists the papo servers announced on the LAN (papo.discover(), mDNS);
  picking one fills in its address and port, so nobody types an IP.
- The message pane tells public messages, private messages (purple,
  "[privado]"), your own messages (blue), arrivals and departures (grey) and
  errors (red) apart.
- The list of who is online follows joins, departures and renames. Pick a
  user in it to send them private messages; pick "(todos)" to talk to
  everyone again.
- The entry line sends with Return. It also takes /nick Novo, /list,
  /sendFile arquivo, /clean, /help and /quit; the "Apelido..." button changes
  the nickname too.
- "Enviar arquivo..." picks a file and sends it to whoever is picked in the
  list (everyone, seed 002's /sendFile, or one user). Files on their way, in
  and out, each get a progress bar under the messages. Received files are
  saved in ~/papo-downloads (seed 002), or the folder given with --downloads.
- If the server goes away, the pane and the status bar say so, and
  "Conectar..." opens the form again.

Threads: Tk is touched only by Tk's own thread, and nothing polls. The
client's descriptor (``client.fileno()``, readable while events are queued)
is watched by Tk's loop with ``createfilehandler``; when it turns readable
the events are taken with ``next_event(timeout=0)``. The calls that wait for
the server (connecting, private messages, /list, /nick) run on one worker
thread; each result, when ready, writes a byte to a pipe that Tk's loop
watches the same way, and is handled there.

``--transcript FILE`` appends every line shown in the pane, and every error
shown in the connect form, to FILE (a chat log, "<kind>\\t<line>" per line,
kind being public, private, mine, system, error, form, found for each
server the LAN search lists ("<name>\t<address>:<port>"), users for the
list of who is online each time it changes, file for file transfers, or progress
for each move of a progress bar, "<file id> <in|out> <percent>"); the tests
read it.

Needs the papo package (pip install ./bindings/python) and tkinter (Debian:
apt-get install python3-tk).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import sys
import threading
import tkinter as tk
from tkinter import filedialog, simpledialog, ttk
from typing import Any, Callable, Dict, List, Optional, TextIO, Tuple

import papo

#: Events handled per call of the descriptor's handler at most, so that the
#: window stays responsive under a flood (the descriptor stays readable, so
#: Tk calls the handler again for the rest).
MAX_EVENTS_PER_CALL = 200
EVERYONE = "(todos)"
#: How many messages of a room's history are shown when joining it.
HISTORY_ON_JOIN = 20

HELP = (
    "Escreva e tecle Enter para enviar a quem está escolhido na lista "
    "((todos) = mensagem pública; Ctrl+L vai à lista, setas escolhem). "
    "Comandos: /nick Novo, /list, /sendFile arquivo, /clean, /help, /quit; "
    "salas: /join #sala (mostra o que foi dito), #sala:texto, /part #sala, /rooms. "
    "Enviar arquivo... manda um arquivo a quem está escolhido."
)
#: Seconds the LAN search ("Procurar servidores na rede") listens for answers.
DISCOVER_SECONDS = 2.0
#: Seconds a finished transfer's progress bar stays before it is removed.
DONE_BAR_MS = 8000


class ChatApp:
    """The chat window. Create it on a Tk root and run ``root.mainloop()``.

    ``host``, ``port`` and ``nick`` prefill the connect form; when all three
    are given it connects at once. ``transcript`` is an open text file that
    gets every line shown in the message pane.
    """

    def __init__(
        self,
        root: tk.Tk,
        *,
        host: Optional[str] = None,
        port: Optional[int] = None,
        nick: Optional[str] = None,
        transcript: Optional[TextIO] = None,
        downloads: Optional[str] = None,
    ) -> None:
        self.root = root
        self.transcript = transcript
        self.downloads = downloads
        #: progress bars of files on their way: (file id, "in"/"out") -> (row, bar, label)
        self.bars: Dict[Tuple[int, str], Tuple[ttk.Frame, ttk.Progressbar, ttk.Label]] = {}
        self.client: Optional[papo.Client] = None
        #: the descriptor of ``client`` watched by Tk (None: none watched)
        self.watched_fd: Optional[int] = None
        self.worker = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        self.pending: List[Tuple["concurrent.futures.Future[Any]", Callable[[Any], None]]] = []
        # The worker's "a result is ready" signal: a byte in a pipe that Tk watches.
        self.done_r, self.done_w = os.pipe()
        os.set_blocking(self.done_r, False)
        os.set_blocking(self.done_w, False)
        self.done_lock = threading.Lock()  # the pipe is closed only under it
        root.tk.createfilehandler(self.done_r, tk.READABLE, self.on_results)
        self.users: List[str] = []
        self.destination: Optional[str] = None  # None: everyone
        self.host = host or "127.0.0.1"
        self.port = port if port is not None else papo.DEFAULT_PORT
        self.nick = nick or ""
        self.closing = False

        root.title("papo")
        root.geometry("760x480")
        root.minsize(480, 320)
        root.protocol("WM_DELETE_WINDOW", self.quit)
        self.form: Optional[ttk.Frame] = None
        self.chat: Optional[ttk.Frame] = None
        self.show_form()
        if host and port is not None and nick:
            self.connect()

    # ---- the connect form ----

    def show_form(self, message: str = "") -> None:
        if self.chat is not None:
            self.chat.destroy()
            self.chat = None
        if self.form is not None:
            self.form.destroy()
        self.root.title("papo - conectar")
        form = ttk.Frame(self.root, padding=24)
        form.pack(expand=True)
        ttk.Label(form, text="Conectar a um servidor papo", font=("TkDefaultFont", 14)).grid(
            row=0, column=0, columnspan=2, pady=(0, 12)
        )
        self.host_var = tk.StringVar(value=self.host)
        self.port_var = tk.StringVar(value=str(self.port))
        self.nick_var = tk.StringVar(value=self.nick)
        fields = (
            ("IP do servidor", self.host_var),
            ("Porta", self.port_var),
            ("Apelido", self.nick_var),
        )
        entries = []
        for row, (label, var) in enumerate(fields, start=1):
            ttk.Label(form, text=label).grid(row=row, column=0, sticky="e", padx=6, pady=4)
            entry = ttk.Entry(form, textvariable=var, width=28)
            entry.grid(row=row, column=1, sticky="we", pady=4)
            entry.bind("<Return>", lambda _e: self.connect())
            entries.append(entry)
        self.nick_entry = entries[2]
        self.connect_button = ttk.Button(form, text="Conectar", command=self.connect)
        self.connect_button.grid(row=4, column=0, columnspan=2, pady=(12, 4))
        self.form_status = tk.Label(
            form, text=message, fg="#b00020", wraplength=380, justify="left"
        )
        self.form_status.grid(row=5, column=0, columnspan=2)
        # The LAN search: servers announced with mDNS (papo-server does).
        self.find_button = ttk.Button(
            form, text="Procurar servidores na rede", command=self.find_servers, underline=0
        )
        self.find_button.grid(row=6, column=0, columnspan=2, pady=(12, 4))
        self.server_list = tk.Listbox(form, height=4, width=46, exportselection=False)
        self.server_list.grid(row=7, column=0, columnspan=2, sticky="we")
        self.server_list.bind("<<ListboxSelect>>", self.pick_server)
        self.server_list.bind("<Double-Button-1>", lambda _e: self.connect())
        self.root.bind("<Alt-p>", lambda _e: self.find_servers())
        self.found: List[papo.DiscoveredServer] = []
        self.form = form
        (self.nick_entry if self.host_var.get() else entries[0]).focus_set()

    def connect(self) -> None:
        if self.form is None or self.client is not None:
            return
        host = self.host_var.get().strip() or "127.0.0.1"
        nick = self.nick_var.get().strip()
        try:
            port = int(self.port_var.get().strip() or papo.DEFAULT_PORT)
            if not 0 < port <= 65535:
                raise ValueError
        except ValueError:
            self.form_error("Porta inválida: use um número de 1 a 65535.")
            return
        if not nick:
            self.form_error("Escolha um apelido.")
            self.nick_entry.focus_set()
            return
        self.host, self.port, self.nick = host, port, nick
        self.connect_button.state(["disabled"])
        self.form_status.config(text=f"Conectando a {host}:{port}...", fg="#444444")
        # Reconnects by itself (since 1.1); PAPO_RECONNECT_ATTEMPTS bounds
        # the attempts (default 10).
        attempts = os.environ.get("PAPO_RECONNECT_ATTEMPTS")
        self.run(
            lambda: papo.Client(
                host, port, nick, reconnect_attempts=int(attempts) if attempts else None
            ),
            self.connected,
        )

    def connected(self, result: Any) -> None:
        if self.form is None:  # the window is closing
            if isinstance(result, papo.Client):
                result.close()
            return
        self.connect_button.state(["!disabled"])
        if isinstance(result, papo.Client):
            self.client = result
            if self.downloads:
                result.download_dir = self.downloads
            self.show_chat()
            self.watch(result)
            return
        if isinstance(result, papo.NickInUse):
            message = f"O apelido '{self.nick}' já está em uso (erro 01). Escolha outro."
        elif isinstance(result, papo.InvalidNick):
            message = (
                f"Apelido inválido (erro 06): '{self.nick}'. Sem espaços nem : / \\ * , "
                "e com no máximo 32 caracteres."
            )
        elif isinstance(result, papo.InvalidServer):
            message = f"Nenhum servidor papo em {self.host}:{self.port} (erro 04)."
        elif isinstance(result, papo.InvalidAddress):
            message = f"Endereço IP inválido: '{self.host}' (erro 05)."
        elif isinstance(result, papo.Error):
            message = f"Erro {result.code:02d}: {result.strerror}"
        else:
            message = f"Erro: {result}"
        self.form_error(message)
        if isinstance(result, (papo.NickInUse, papo.InvalidNick)):
            self.nick_entry.focus_set()
            self.nick_entry.icursor("end")
            self.nick_entry.select_range(0, "end")  # typing replaces it

    def find_servers(self) -> None:
        """Asks the LAN for papo servers, on the worker thread."""
        if self.form is None or self.client is not None:
            return
        self.find_button.state(["disabled"])
        self.form_status.config(text="Procurando servidores na rede...", fg="#444444")
        self.run(lambda: papo.discover(DISCOVER_SECONDS), self.servers_found)

    def servers_found(self, result: Any) -> None:
        if self.form is None:
            return
        self.find_button.state(["!disabled"])
        if not isinstance(result, list):
            self.form_error(f"Não foi possível procurar servidores: {result}")
            return
        self.found = result
        self.server_list.delete(0, "end")
        for server in result:
            extra = " (pede senha)" if server.password_required else ""
            self.server_list.insert(
                "end", f"{server.name} - {server.address}:{server.port}{extra}"
            )
            self.log("found", f"{server.name}\t{server.address}:{server.port}")
        if not result:
            self.form_status.config(
                text="Nenhum servidor papo respondeu na rede. Um servidor em 127.0.0.1 "
                "não é anunciado: inicie-o com --address 0.0.0.0.",
                fg="#444444",
            )
            self.log("form", "no server found")
            return
        self.form_status.config(
            text=f"{len(result)} servidor(es) encontrado(s): escolha um e digite seu apelido.",
            fg="#444444",
        )
        self.server_list.selection_set(0)
        self.pick_server()

    def pick_server(self, _event: Any = None) -> None:
        """The server picked in the list goes into the IP and port fields."""
        picked = self.server_list.curselection()
        if self.form is None or not picked or picked[0] >= len(self.found):
            return
        server = self.found[picked[0]]
        self.host_var.set(server.address)
        self.port_var.set(str(server.port))
        self.nick_entry.focus_set()

    def form_error(self, message: str) -> None:
        self.form_status.config(text=message, fg="#b00020")
        self.log("form", message)

    # ---- the chat ----

    def show_chat(self) -> None:
        assert self.client is not None
        if self.form is not None:
            self.form.destroy()
            self.form = None
        chat = ttk.Frame(self.root, padding=6)
        chat.pack(fill="both", expand=True)
        chat.columnconfigure(0, weight=1)
        chat.rowconfigure(1, weight=1)

        top = ttk.Frame(chat)
        top.grid(row=0, column=0, columnspan=2, sticky="we", pady=(0, 4))
        self.title_label = ttk.Label(top, font=("TkDefaultFont", 11, "bold"))
        self.title_label.pack(side="left")
        ttk.Button(top, text="Sair", command=self.quit).pack(side="right")
        ttk.Button(top, text="Limpar", command=self.clear).pack(side="right", padx=4)
        self.nick_button = ttk.Button(top, text="Apelido...", command=self.ask_nick)
        self.nick_button.pack(side="right")
        self.reconnect_button = ttk.Button(top, text="Conectar...", command=self.reconnect)

        pane = ttk.Frame(chat)
        pane.grid(row=1, column=0, sticky="nsew")
        pane.rowconfigure(0, weight=1)
        pane.columnconfigure(0, weight=1)
        self.text = tk.Text(
            pane, wrap="word", state="disabled", width=60, height=20, font="TkDefaultFont"
        )
        scroll = ttk.Scrollbar(pane, orient="vertical", command=self.text.yview)
        self.text.configure(yscrollcommand=scroll.set)
        self.text.grid(row=0, column=0, sticky="nsew")
        scroll.grid(row=0, column=1, sticky="ns")
        self.text.tag_configure("public", foreground="#000000")
        self.text.tag_configure("private", foreground="#7b1fa2")
        self.text.tag_configure("mine", foreground="#1565c0")
        self.text.tag_configure("system", foreground="#757575")
        self.text.tag_configure("error", foreground="#b00020")
        self.text.tag_configure("file", foreground="#00695c")
        self.text.tag_configure("who", font=("TkDefaultFont", 10, "bold"))

        side = ttk.Frame(chat)
        side.grid(row=1, column=1, sticky="ns", padx=(6, 0))
        ttk.Label(side, text="Online").pack(anchor="w")
        self.user_list = tk.Listbox(side, width=20, exportselection=False, activestyle="none")
        self.user_list.pack(fill="y", expand=True)
        self.user_list.bind("<<ListboxSelect>>", self.pick_user)
        self.user_list.bind("<Return>", lambda _e: self.entry.focus_set())
        self.user_list.bind("<ButtonRelease-1>", lambda _e: self.entry.focus_set(), add="+")
        self.root.bind("<Control-l>", lambda _e: self.focus_users())

        bottom = ttk.Frame(chat)
        bottom.grid(row=2, column=0, columnspan=2, sticky="we", pady=(6, 0))
        bottom.columnconfigure(1, weight=1)
        self.to_label = ttk.Label(bottom, width=22)
        self.to_label.grid(row=0, column=0, sticky="w")
        self.entry = ttk.Entry(bottom)
        self.entry.grid(row=0, column=1, sticky="we", padx=4)
        self.entry.bind("<Return>", lambda _e: self.submit())
        self.send_button = ttk.Button(bottom, text="Enviar", command=self.submit)
        self.send_button.grid(row=0, column=2)
        self.file_button = ttk.Button(bottom, text="Enviar arquivo...", command=self.pick_file)
        self.file_button.grid(row=0, column=3, padx=(4, 0))
        # one row per file on its way (a label and a progress bar)
        self.transfers = ttk.Frame(chat)
        self.transfers.grid(row=3, column=0, columnspan=2, sticky="we")
        self.transfers.columnconfigure(1, weight=1)
        self.bars = {}
        self.status = tk.Label(chat, anchor="w", fg="#2e7d32")
        self.status.grid(row=4, column=0, columnspan=2, sticky="we")
        self.chat = chat

        self.destination = None
        self.refresh_title()
        self.set_users([])
        self.set_status(f"Conectado a {self.host}:{self.port} como {self.nick}.")
        self.show("system", f"Conectado como {self.nick}. {HELP}")
        self.show("system", f"Arquivos recebidos vão para {self.client.download_dir}")
        client = self.client
        self.run(client.users, self.got_users)
        self.entry.focus_set()

    def refresh_title(self) -> None:
        title = f"papo - {self.nick} @ {self.host}:{self.port}"
        self.root.title(title)
        self.title_label.config(text=title)
        self.to_label.config(
            text="Para: todos"
            if self.destination is None
            else f"Para: {self.destination} (privado)"
        )

    def set_status(self, text: str, error: bool = False) -> None:
        self.status.config(text=text, fg="#b00020" if error else "#2e7d32")

    def show(self, kind: str, line: str, who: Optional[str] = None) -> None:
        """Appends a line to the pane (``who`` in bold at its start)."""
        self.text.configure(state="normal")
        if who:
            self.text.insert("end", who, (kind, "who"))
        self.text.insert("end", line + "\n", (kind,))
        self.text.configure(state="disabled")
        self.text.see("end")
        self.log(kind, f"{who or ''}{line}")

    def log(self, kind: str, line: str) -> None:
        """Appends a line to the transcript file, if there is one."""
        if self.transcript is not None:
            self.transcript.write(f"{kind}\t{line}\n")
            self.transcript.flush()

    def clear(self) -> None:
        self.text.configure(state="normal")
        self.text.delete("1.0", "end")
        self.text.configure(state="disabled")

    # ---- the list of who is online ----

    def set_users(self, users: List[str]) -> None:
        users = sorted(set(users), key=str.casefold)
        if users != self.users:
            self.log("users", ", ".join(users))
        self.users = users
        self.user_list.delete(0, "end")
        self.user_list.insert("end", EVERYONE)
        for nick in self.users:
            self.user_list.insert("end", nick + ("  (você)" if nick == self.nick else ""))
        target = 0
        if self.destination is not None:
            if self.destination in self.users:
                target = self.users.index(self.destination) + 1
            else:
                self.destination = None
                self.refresh_title()
        self.user_list.selection_clear(0, "end")
        self.user_list.selection_set(target)

    def got_users(self, result: Any) -> None:
        if self.client is None:  # disconnected meanwhile: the list is stale
            return
        if isinstance(result, papo.Error):
            self.set_status(f"Não foi possível obter a lista: erro {result.code:02d}", error=True)
        elif isinstance(result, list):
            self.set_users(result)

    def focus_users(self) -> None:
        """Ctrl+L: the keyboard goes to the list (arrows pick, Return goes back)."""
        if self.chat is None:
            return
        selection = self.user_list.curselection()
        self.user_list.activate(selection[0] if selection else 0)
        self.user_list.focus_set()

    def pick_user(self, _event: Any = None) -> None:
        """A user picked in the list (by mouse or arrows) is the destination."""
        selection = self.user_list.curselection()
        if not selection or selection[0] == 0:
            self.destination = None
        else:
            self.destination = self.users[selection[0] - 1]
        self.refresh_title()

    # ---- sending ----

    def submit(self) -> None:
        if self.client is None:
            return
        line = self.entry.get()
        command = line.strip()
        if not command:
            return
        self.entry.delete(0, "end")
        client = self.client
        if command in ("/quit", "quit", "{quit}"):
            self.quit()
        elif command == "/help":
            self.show("system", HELP)
        elif command == "/clean":
            self.clear()
        elif command == "/list":
            self.run(client.users, self.listed)
        elif command == "/nick" or command.startswith("/nick "):
            self.change_nick(command[len("/nick") :].strip())
        elif command.split(" ", 1)[0] in ("/sendFile", "/sendfile"):
            path = command.split(" ", 1)[1].strip() if " " in command else ""
            if path:
                self.send_file(os.path.expanduser(path))
            else:
                self.show("error", "Uso: /sendFile arquivo")
        elif command.startswith("/join "):
            room = command[len("/join ") :].strip()

            def join() -> List[papo.HistoryEntry]:
                client.join(room)
                entries: List[papo.HistoryEntry] = client.history(room, n=HISTORY_ON_JOIN)
                return entries

            self.run(join, lambda r: self.joined(r, room))
        elif command.startswith("/part "):
            room = command[len("/part ") :].strip()
            self.run(lambda: client.part(room), self.room_done)
        elif command == "/rooms":
            self.run(client.rooms, self.rooms_listed)
        elif command.startswith("/"):
            self.show("error", f"Comando desconhecido: {command}. {HELP}")
        elif command.startswith("#") and ":" in command:
            room, text = command.split(":", 1)
            room = room.strip()
            self.run(lambda: client.send(text, to=room), lambda r: self.sent(r, text, room))
        else:
            to = self.destination
            self.run(lambda: client.send(line, to=to), lambda r: self.sent(r, line, to))

    def joined(self, result: Any, room: str) -> None:
        """After /join: the room's recent history (PROTOCOL.md "History")."""
        if isinstance(result, papo.Error):
            self.show("error", f"Erro {result.code:02d}: {result.strerror}")
        elif isinstance(result, BaseException):
            self.show("error", f"Erro: {result}")
        elif isinstance(result, list):
            if not result:
                self.show("system", f"{room}: nada foi dito ainda")
            else:
                self.show("system", f"Histórico de {room}:")
            for entry in result:
                self.show("public", f" [{room}]: {entry.text}", who=entry.sender)

    def room_done(self, result: Any) -> None:
        if isinstance(result, papo.Error):
            self.show("error", f"Erro {result.code:02d}: {result.strerror}")
        elif isinstance(result, BaseException):
            self.show("error", f"Erro: {result}")

    def rooms_listed(self, result: Any) -> None:
        if isinstance(result, list):
            if not result:
                self.show("system", "Nenhuma sala")
            for r in result:
                topic = f": {r.topic}" if r.topic else ""
                self.show("system", f"Sala {r.name} ({r.members}){topic}")
        else:
            self.room_done(result)

    def sent(self, result: Any, text: str, to: Optional[str]) -> None:
        if isinstance(result, papo.NoSuchUser):
            self.show("error", f"Erro 02: {to} não está online; a mensagem não foi entregue.")
            self.set_status(f"{to} não está mais online (erro 02).", error=True)
        elif isinstance(result, papo.Error):
            self.show("error", f"Erro {result.code:02d}: {result.strerror}")
        elif isinstance(result, BaseException):
            self.show("error", f"Erro: {result}")
        elif to is None:
            self.show("mine", f": {text}", who=self.nick)
        elif to.startswith("#"):
            self.show("mine", f" [{to}]: {text}", who=self.nick)
        else:
            self.show("mine", f" -> {to} (privado): {text}  [Mensagem enviada]", who=self.nick)

    # ---- files ----

    def pick_file(self) -> None:
        """The "Enviar arquivo..." button: a file dialog, then send_file."""
        if self.client is None:
            return
        path = filedialog.askopenfilename(parent=self.root, title="Enviar arquivo")
        if path:
            self.send_file(path)

    def send_file(self, path: str) -> None:
        """Sends a file to the destination picked in the list (everyone
        when it is "(todos)"); the library streams it in the background."""
        if self.client is None:
            return
        client, to = self.client, self.destination
        name = os.path.basename(path)
        self.run(lambda: client.send_file(path, to=to), lambda r: self.file_started(r, name, to))

    def file_started(self, result: Any, name: str, to: Optional[str]) -> None:
        if isinstance(result, papo.Error):
            self.show(
                "error",
                f"Não foi possível enviar {name}: erro {result.code:02d}: {result.strerror}",
            )
        elif isinstance(result, BaseException):
            self.show("error", f"Não foi possível enviar {name}: {result}")
        else:
            who = "todos" if to is None else to
            self.show("file", f"Enviando {name} para {who} (transferência {result})")

    def progress(self, event: papo.Event, direction: str) -> None:
        """Creates or moves the progress bar of a file on its way."""
        key = (event.file_id, direction)
        if key not in self.bars:
            row = ttk.Frame(self.transfers)
            row.pack(fill="x", pady=1)
            verb = "Recebendo" if direction == "in" else "Enviando"
            peer = event.sender if direction == "in" else (event.to or "todos")
            label = ttk.Label(row, text=f"{verb} {event.file_name} ({peer})", width=36)
            label.pack(side="left")
            bar = ttk.Progressbar(row, orient="horizontal", mode="determinate", maximum=100)
            bar.pack(side="left", fill="x", expand=True, padx=4)
            self.bars[key] = (row, bar, label)
        _row, bar, _label = self.bars[key]
        percent = int((event.fraction or 0.0) * 100)
        bar["value"] = percent
        self.log("progress", f"{event.file_id} {direction} {percent}")

    def finish_bar(self, event: papo.Event, direction: str, text: str) -> None:
        """A transfer ended: its bar says how, then goes away."""
        key = (event.file_id, direction)
        if key not in self.bars:
            self.progress(event, direction)
        row, bar, label = self.bars[key]
        if event.kind in (papo.EventKind.FILE_RECEIVED, papo.EventKind.FILE_SENT):
            bar["value"] = 100
        label.config(text=text)

        def remove() -> None:
            if self.bars.get(key, (None,))[0] is row:
                del self.bars[key]
            row.destroy()

        self.root.after(DONE_BAR_MS, remove)

    def listed(self, result: Any) -> None:
        self.got_users(result)
        if isinstance(result, list):
            self.show("system", f"Online ({len(result)}): " + ", ".join(result))

    def ask_nick(self) -> None:
        if self.client is None:
            return
        new = simpledialog.askstring("Trocar apelido", "Novo apelido:", parent=self.root)
        if new:
            self.change_nick(new.strip())

    def change_nick(self, new: str) -> None:
        if not new:
            self.show("error", "Uso: /nick NovoApelido")
            return
        if self.client is None:
            return
        client = self.client
        self.run(lambda: client.change_nick(new), lambda r: self.nick_done(r, new))

    def nick_done(self, result: Any, new: str) -> None:
        if isinstance(result, papo.NickInUse):
            self.show("error", f"Erro 01: o apelido '{new}' já está em uso.")
            self.set_status(
                f"O apelido '{new}' já está em uso; você continua como {self.nick}.", True
            )
        elif isinstance(result, papo.InvalidNick):
            self.show("error", f"Erro 06: '{new}' não é um apelido válido.")
        elif isinstance(result, papo.Error):
            self.show("error", f"Erro {result.code:02d}: {result.strerror}")
        # on success, the NICK_CHANGED event updates everything

    # ---- events ----

    def handle(self, event: papo.Event) -> None:
        kind = papo.EventKind
        if event.kind is kind.PUBLIC:
            self.show("public", f": {event.text}", who=event.sender)
        elif event.kind is kind.PRIVATE:
            self.show("private", f" -> você: {event.text}", who=f"[privado] {event.sender}")
        elif event.kind is kind.JOINED:
            self.show("system", f"* {event.sender} entrou no chat")
            if event.sender:
                self.set_users(self.users + [event.sender])
        elif event.kind is kind.LEFT:
            self.show("system", f"* {event.sender} saiu do chat")
            self.set_users([u for u in self.users if u != event.sender])
        elif event.kind is kind.NICK_CHANGED:
            old, new = event.sender or "", event.new_nick or ""
            self.show("system", f"* {old} agora se chama {new}")
            if old == self.nick:
                self.nick = new
                self.set_status(f"Agora você se chama {new}.")
            if self.destination == old:
                self.destination = new
            self.set_users([new if u == old else u for u in self.users])
            self.refresh_title()
        elif event.kind is kind.ROOM:
            self.show("public", f" [{event.room}]: {event.text}", who=event.sender)
        elif event.kind is kind.ROOM_JOINED:
            self.show("system", f"* {event.sender} entrou em {event.room}")
        elif event.kind is kind.ROOM_LEFT:
            self.show("system", f"* {event.sender} saiu de {event.room}")
        elif event.kind is kind.ROOM_KICKED:
            self.show("system", f"* {event.by} tirou {event.sender} de {event.room}")
        elif event.kind is kind.ROOM_OPERATOR:
            self.show("system", f"* {event.by} fez de {event.sender} operador de {event.room}")
        elif event.kind is kind.TOPIC:
            self.show("system", f"* tema de {event.room}: {event.text}")
        elif event.kind is kind.ERROR:
            self.show("error", f"Erro {event.code:02d}: {event.text}")
        elif event.kind is kind.BYTES:
            size = len(event.data or b"")
            self.show("system", f"* {event.sender} enviou {size} bytes binários")
        elif event.kind is kind.FILE_OFFERED:
            self.show(
                "file",
                f"Recebendo {event.file_name} de {event.sender} ({event.bytes_total} bytes)",
            )
            self.progress(event, "in")
        elif event.kind is kind.FILE_PROGRESS:
            self.progress(event, "in")
        elif event.kind is kind.FILE_RECEIVED:
            self.show("file", f"Arquivo recebido de {event.sender}: {event.path}")
            self.finish_bar(event, "in", f"Recebido: {event.file_name}")
        elif event.kind is kind.FILE_FAILED:
            self.show("error", f"Arquivo {event.file_name} de {event.sender} falhou: {event.text}")
            self.finish_bar(event, "in", f"Falhou: {event.file_name}")
        elif event.kind is kind.FILE_SEND_PROGRESS:
            self.progress(event, "out")
        elif event.kind is kind.FILE_SENT:
            self.show("file", f"Arquivo enviado: {event.file_name} ({event.bytes_total} bytes)")
            self.finish_bar(event, "out", f"Enviado: {event.file_name}")
        elif event.kind is kind.FILE_SEND_FAILED:
            self.show("error", f"Envio de {event.file_name} falhou: {event.text}")
            self.finish_bar(event, "out", f"Falhou: {event.file_name}")
        elif event.kind is kind.RECONNECTING:
            # The library reconnects by itself; the window carries on.
            if event.attempt == 1:
                self.show("system", "* Conexão perdida; reconectando...")
            self.set_status(f"reconnecting... (reconectando, tentativa {event.attempt})", True)
        elif event.kind is kind.RECONNECTED:
            if event.recovered:
                self.show("system", "* Reconectado; nada se perdeu.")
            else:
                self.show(
                    "system",
                    "* Reconectado; mensagens podem ter se perdido (veja o histórico).",
                )
            self.set_status(f"Conectado a {self.host}:{self.port} como {self.nick}.")
        elif event.kind is kind.CLUSTER_PARTITIONED:
            self.show(
                "error",
                "* Sem contato com os outros servidores: por ora só os usuários deste "
                "servidor recebem suas mensagens (cut off from the other servers).",
            )
            self.set_status("cut off (sem contato com os outros servidores)", True)
        elif event.kind is kind.CLUSTER_HEALED:
            self.show("system", "* De volta ao chat inteiro (back in the whole chat).")
            self.set_status(f"Conectado a {self.host}:{self.port} como {self.nick}.")
        elif event.kind is kind.LOST:
            self.show(
                "error",
                f"* {event.count} mensagem(ns) para você se perdeu(perderam) entre "
                "servidores (messages lost between servers).",
            )
        elif event.kind is kind.RENAMED:
            old, new = event.sender or "", event.new_nick or ""
            self.show(
                "error",
                f"* O servidor mudou seu apelido de {old} para {new}: outro servidor já "
                "o usava (the server renamed you).",
            )
            self.nick = new
            self.set_status(f"Agora você se chama {new}.", True)
            self.set_users([new if u == old else u for u in self.users])
            self.refresh_title()
        elif event.kind is kind.DISCONNECTED:
            self.lost(event)

    def lost(self, event: papo.Event) -> None:
        text = f"Erro {event.code:02d}: {papo.strerror(event.code)}"
        self.show("error", f"Conexão com o servidor encerrada. {text}")
        self.set_status(
            f"Servidor desconectado ({text}). Use Conectar... para tentar de novo.", True
        )
        if self.client is not None:
            client = self.client
            self.client = None
            self.unwatch()  # before the descriptor is closed with the client
            self.worker.submit(client.close)
        self.entry.state(["disabled"])
        self.send_button.state(["disabled"])
        self.file_button.state(["disabled"])
        self.nick_button.pack_forget()
        self.reconnect_button.pack(side="right", padx=4)
        self.set_users([])

    def reconnect(self) -> None:
        self.show_form()

    # ---- the loop ----

    def run(self, func: Callable[[], Any], done: Callable[[Any], None]) -> None:
        """Runs ``func`` on the worker thread; ``done`` gets its result (or
        the exception it raised) later, on Tk's thread."""
        future = self.worker.submit(func)
        self.pending.append((future, done))
        future.add_done_callback(self.signal_done)

    def signal_done(self, _future: "concurrent.futures.Future[Any]") -> None:
        """On the worker's thread: wakes Tk's loop (never touches Tk)."""
        with self.done_lock:
            if self.done_w < 0:  # the window is gone
                return
            try:
                os.write(self.done_w, b"!")
            except BlockingIOError:
                pass  # the pipe is full: a wake-up is pending anyway

    def on_results(self, _fd: int, _mask: int) -> None:
        """Tk's handler for the pipe: the worker's finished calls."""
        try:
            while os.read(self.done_r, 512):
                pass
        except BlockingIOError:
            pass
        if self.closing:
            return
        still = []
        for future, done in self.pending:
            if future.done():
                exc = future.exception()
                done(exc if exc is not None else future.result())
            else:
                still.append((future, done))
        self.pending = still

    def watch(self, client: papo.Client) -> None:
        """Tk's loop watches the client's descriptor from now on."""
        self.unwatch()
        fd = client.fileno()
        self.root.tk.createfilehandler(fd, tk.READABLE, self.on_events)
        self.watched_fd = fd

    def unwatch(self) -> None:
        if self.watched_fd is not None:
            self.root.tk.deletefilehandler(self.watched_fd)
            self.watched_fd = None

    def on_events(self, _fd: int, _mask: int) -> None:
        """Tk's handler for the client's descriptor: the queued events."""
        for _ in range(MAX_EVENTS_PER_CALL):
            client = self.client
            if client is None or self.closing:
                break
            try:
                event = client.next_event(timeout=0)
            except papo.Closed:
                self.unwatch()  # nothing more will come
                break
            if event is None:
                break
            self.handle(event)

    def quit(self) -> None:
        if self.closing:
            return
        self.closing = True
        self.unwatch()
        if self.client is not None:
            self.client.close()  # others are told we left
            self.client = None
        self.worker.shutdown(wait=False)
        self.root.tk.deletefilehandler(self.done_r)
        self.root.destroy()
        # The worker may still be finishing a call: its signal, under the
        # lock, then sees the pipe closed and writes nothing.
        with self.done_lock:
            os.close(self.done_r)
            os.close(self.done_w)
            self.done_w = -1


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="papo desktop chat client (tkinter)")
    parser.add_argument("--host", help="server IP address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help=f"server port (default {papo.DEFAULT_PORT})")
    parser.add_argument("--nick", help="nickname; with --host and --port, connects at once")
    parser.add_argument(
        "--transcript", metavar="FILE", help="append every line shown in the pane to FILE"
    )
    parser.add_argument(
        "--downloads",
        metavar="DIR",
        default=os.environ.get("PAPO_DOWNLOADS") or None,
        help="folder for received files (default: $PAPO_DOWNLOADS, else ~/papo-downloads)",
    )
    args = parser.parse_args(argv)
    transcript = open(args.transcript, "a", encoding="utf-8") if args.transcript else None
    try:
        root = tk.Tk()
        ChatApp(
            root,
            host=args.host,
            port=args.port,
            nick=args.nick,
            transcript=transcript,
            downloads=args.downloads,
        )
        root.mainloop()
    finally:
        if transcript is not None:
            transcript.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
