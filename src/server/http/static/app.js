// papo's browser client. It speaks the same protocol as nc and the C
// client (PROTOCOL.md) over the server's WebSocket: one text message per
// line, binary messages for payloads. Everything it shows from the network
// goes through textContent, never innerHTML.
"use strict";

(function () {
  const CHUNK = 64 * 1024;              // bytes per /chunk, as papo::Client
  const MAX_BUFFERED = 1024 * 1024;     // WebSocket bytes in flight before pausing a file
  const BACKOFF_MAX = 30000;

  const $ = (id) => document.getElementById(id);
  const app = $("app");
  const connState = $("conn-state");
  const banner = $("banner");
  const loginForm = $("login-form");
  const nickInput = $("nick-input");
  const loginError = $("login-error");
  const joinButton = $("join-button");
  const usersList = $("users");
  const usersCount = $("users-count");
  const usersCountTop = $("users-count-top");
  const usersToggle = $("users-toggle");
  const sidebar = $("sidebar");
  const messages = $("messages");
  const composer = $("composer");
  const toSelect = $("to");
  const textInput = $("text-input");
  const fileInput = $("file-input");
  const fileButton = $("file-button");
  const meLabel = $("me");

  let ws = null;
  let helloSeen = false;
  let registered = false;
  let nick = "";            // our nickname once WELCOME came
  let wanted = "";          // the nickname asked for (kept for reconnects)
  let users = new Map();    // lower-case key -> nickname as shown
  let backoff = 1000;
  let reconnectTimer = null;
  let stopped = false;      // the server sent 03: reconnect, but say so
  let payloadFor = null;    // what the next binary message is: {kind, ...}
  const incoming = new Map(); // file id -> {name, size, got, parts, el}
  const outgoing = new Map(); // request label -> file waiting for FILEOK
  let labels = 0;
  const sending = new Map();  // file id -> {file, el, sent}

  // ---------- small helpers ----------

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function timeNow() {
    return new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function atBottom() {
    return messages.scrollHeight - messages.scrollTop - messages.clientHeight < 60;
  }

  function append(li) {
    const stick = atBottom();
    messages.appendChild(li);
    if (stick) messages.scrollTop = messages.scrollHeight;
    return li;
  }

  function system(text) {
    return append(el("li", "msg system", text));
  }

  function errorLine(text) {
    return append(el("li", "msg error", text));
  }

  function message(from, text, opts) {
    const li = el("li", "msg");
    if (opts.mine) li.classList.add("mine");
    if (opts.private) li.classList.add("private");
    const meta = el("div", "meta");
    meta.appendChild(el("span", "from", from));
    if (opts.private) meta.appendChild(el("span", "tag", opts.mine ? "private to " + opts.to : "private"));
    if (opts.room) meta.appendChild(el("span", "tag", opts.room));
    meta.appendChild(el("time", "time", timeNow()));
    li.appendChild(meta);
    if (text !== null) li.appendChild(el("div", "body", text));
    return append(li);
  }

  function setConn(state, text) {
    connState.dataset.state = state;
    connState.textContent = text;
  }

  function showBanner(text) {
    banner.textContent = text;
    banner.hidden = !text;
  }

  function fmtBytes(n) {
    if (n < 1024) return n + " B";
    if (n < 1024 * 1024) return (n / 1024).toFixed(1) + " KiB";
    return (n / 1024 / 1024).toFixed(1) + " MiB";
  }

  function key(name) {
    return name.toLowerCase();
  }

  // ---------- the list of who is online ----------

  function renderUsers() {
    const names = Array.from(users.values()).sort((a, b) =>
      a.localeCompare(b, undefined, { sensitivity: "base" }));
    usersList.replaceChildren();
    const current = toSelect.value;
    const options = [new Option("everyone", "")];
    for (const n of names) {
      const li = el("li", "", n);
      li.dataset.nick = n;
      if (key(n) === key(nick)) li.classList.add("self");
      if (current && key(current) === key(n)) li.classList.add("selected");
      li.title = "Write to " + n + " alone";
      li.addEventListener("click", () => {
        toSelect.value = key(n) === key(toSelect.value) ? "" : n;
        renderUsers();
        sidebar.classList.remove("open");
        usersToggle.setAttribute("aria-expanded", "false");
        textInput.focus();
      });
      usersList.appendChild(li);
      if (key(n) !== key(nick)) options.push(new Option(n, n));
    }
    toSelect.replaceChildren(...options);
    toSelect.value = names.some((n) => key(n) === key(current)) ? current : "";
    usersCount.textContent = String(names.length);
    usersCountTop.textContent = String(names.length);
  }

  function joined(n) {
    users.set(key(n), n);
  }

  function left(n) {
    users.delete(key(n));
  }

  function renamed(from, to) {
    users.delete(key(from));
    users.set(key(to), to);
    if (key(from) === key(nick)) {
      nick = to;
      wanted = to;
      meLabel.textContent = nick;
    }
  }

  // ---------- lines from the server ----------

  // "KEYWORD arg arg :free text" (PROTOCOL.md, "Server lines"), after an
  // optional "@label ". Unknown words and extra arguments are ignored, so
  // lines that grow new fields still read.
  function parse(line) {
    let label = "";
    if (line.startsWith("@")) {
      const sp = line.indexOf(" ");
      label = sp < 0 ? "" : line.slice(1, sp);
      line = sp < 0 ? "" : line.slice(sp + 1);
    }
    let text = null;
    const colon = line.indexOf(" :");
    let head = line;
    if (colon >= 0) {
      text = line.slice(colon + 2);
      head = line.slice(0, colon);
    }
    const words = head.split(" ").filter((w) => w.length > 0);
    return { kind: words[0] || "", args: words.slice(1), text: text, label: label };
  }

  function onLine(line) {
    const m = parse(line);
    const a = m.args;
    switch (m.kind) {
      case "HELLO":
        helloSeen = true;
        setConn("online", "connected");
        send("/binary on");
        if (wanted) send(wanted);
        break;
      case "BINARY":
      case "PONG":
      case "PRESENCE":
      case "HELP":
        if (m.kind === "HELP") system(m.text || "");
        break;
      case "WELCOME":
        registered = true;
        nick = a[0] || wanted;
        wanted = nick;
        backoff = 1000;
        meLabel.textContent = nick;
        app.className = "state-chat";
        loginError.hidden = true;
        joinButton.disabled = false;
        showBanner("");
        stopped = false;
        setConn("online", "online");
        system("You joined as " + nick + ".");
        textInput.focus();
        break;
      case "USERS":
        users = new Map();
        for (const n of (m.text || "").split(" ")) if (n) joined(n);
        renderUsers();
        break;
      case "JOIN":
        if (a[0]) { joined(a[0]); renderUsers(); system(a[0] + " joined."); }
        break;
      case "LEFT":
        if (a[0]) { left(a[0]); renderUsers(); system(a[0] + " left."); }
        break;
      case "NICK":
        if (a[0] && a[1]) { renamed(a[0], a[1]); renderUsers(); system(a[0] + " is now " + a[1] + "."); }
        break;
      case "CHANGES":
        // "JOIN a b, LEFT c, NICK old new": the single lines, in order.
        for (const item of (m.text || "").split(", ")) {
          const w = item.split(" ").filter((x) => x);
          if (w[0] === "JOIN") for (const n of w.slice(1)) { joined(n); system(n + " joined."); }
          else if (w[0] === "LEFT") for (const n of w.slice(1)) { left(n); system(n + " left."); }
          else if (w[0] === "NICK" && w[1] && w[2]) { renamed(w[1], w[2]); system(w[1] + " is now " + w[2] + "."); }
        }
        renderUsers();
        break;
      case "PUBLIC":
        message(a[0] || "?", m.text || "", {});
        break;
      case "PRIVATE":
        message(a[0] || "?", m.text || "", { private: true });
        break;
      case "ROOM":
        // "ROOM #sala nick :text" (PROTOCOL.md, "Rooms").
        message(a[1] || "?", m.text || "", { room: a[0] || "#?" });
        break;
      case "ROOMJOIN":
      case "ROOMPART":
      case "ROOMKICK":
      case "ROOMOP":
        system(m.text || "");           // the server's own sentence
        break;
      case "TOPIC":
        system((a[0] || "") + (m.text ? " topic: " + m.text : ": no topic"));
        break;
      case "MEMBERS":
        system((a[0] || "") + ": " + (m.text || ""));
        break;
      case "SENT":
        break;
      case "PING":
        send("/pong keepalive");
        break;
      case "ERROR":
        if (m.label && outgoing.has(m.label)) {
          // The answer to a /file: refused.
          const f = outgoing.get(m.label);
          outgoing.delete(m.label);
          f.card.status.textContent = "Not sent (" + (a[0] || "") + "): " + (m.text || "");
          break;
        }
        onError(a[0] || "", a[1] || "*", m.text || "");
        break;
      case "FILEOFFER":
      case "BYTESNOTE":
        system(m.text || "");
        break;
      case "BYTES":
        payloadFor = { kind: "bytes", from: a[0] || "?", private: a.includes("private") };
        break;
      case "FILE":
        startIncoming(a[0] || "?", a[1], Number(a[2] || 0), a.slice(3).includes("private"), m.text || "arquivo");
        break;
      case "CHUNK":
        payloadFor = { kind: "chunk", id: a[0] };
        break;
      case "FILEEND":
        endIncoming(a[0], true, "");
        break;
      case "FILEFAIL":
        endIncoming(a[0], false, m.text || "");
        break;
      case "FILEOK":
        startOutgoing(m.label, a[0]);
        break;
      case "FILEACK":
        ackOutgoing(a[0], Number(a[1] || 0));
        break;
      case "FILEDONE":
        endOutgoing(a[0], true, "");
        break;
      case "FILESTOP":
        endOutgoing(a[0], false, m.text || "");
        break;
      default:
        break;
    }
  }

  function onError(code, subject, text) {
    if (!registered) {
      if (code === "01" || code === "06" || code === "08" || code === "07") {
        const why = code === "01"
          ? "The nickname “" + wanted + "” is already in use. Choose another one."
          : "That nickname cannot be used: " + text;
        wanted = "";
        app.className = "state-login";
        loginError.textContent = why;
        loginError.hidden = false;
        joinButton.disabled = false;
        nickInput.focus();
        nickInput.select();
        return;
      }
    }
    if (code === "03") {
      stopped = true;
      showBanner("The server closed the connection (03): " + text + ". Trying to reconnect…");
      errorLine("Connection cancelled by the server (03): " + text);
      return;
    }
    if (code === "02") {
      errorLine(subject + " is not online (02): the message was not delivered.");
      return;
    }
    errorLine("Error " + code + ": " + text);
  }

  // ---------- files and binary messages ----------

  function fileCard(title) {
    const box = el("div", "file");
    box.appendChild(el("span", "name", title));
    const bar = document.createElement("progress");
    bar.max = 1;
    bar.value = 0;
    box.appendChild(bar);
    const status = el("span", "status small", "");
    box.appendChild(status);
    return { box, bar, status };
  }

  function startIncoming(from, id, size, priv, name) {
    const li = message(from, null, { private: priv });
    const card = fileCard(name + " (" + fmtBytes(size) + ")");
    card.bar.max = Math.max(size, 1);
    card.status.textContent = "receiving…";
    li.appendChild(card.box);
    li.classList.add("file-in");
    incoming.set(id, { name, size, got: 0, parts: [], card });
  }

  function onPayload(buf) {
    const p = payloadFor;
    payloadFor = null;
    if (!p) return;
    if (p.kind === "chunk") {
      const f = incoming.get(p.id);
      if (!f) return;
      f.parts.push(buf);
      f.got += buf.byteLength;
      f.card.bar.value = f.got;
      f.card.status.textContent = fmtBytes(f.got) + " of " + fmtBytes(f.size);
    } else if (p.kind === "bytes") {
      const li = message(p.from, null, { private: p.private });
      const card = fileCard("binary message (" + fmtBytes(buf.byteLength) + ")");
      card.bar.max = 1;
      card.bar.value = 1;
      li.appendChild(card.box);
      downloadLink(card, new Blob([buf]), "papo-message.bin");
    }
  }

  function downloadLink(card, blob, name) {
    const a = el("a", "download", "Save " + name);
    a.href = URL.createObjectURL(blob);
    a.download = name;
    a.dataset.size = String(blob.size);
    card.status.replaceChildren(a);
  }

  function endIncoming(id, ok, why) {
    const f = incoming.get(id);
    if (!f) return;
    incoming.delete(id);
    if (ok && f.got === f.size) {
      f.card.bar.value = f.card.bar.max;
      downloadLink(f.card, new Blob(f.parts), f.name);
    } else {
      f.card.status.textContent = "Not received: " + (why || "incomplete");
    }
    f.parts = [];
  }

  function offerFile(file) {
    const to = toSelect.value;
    const li = message(nick, null, { mine: true, private: !!to, to: to });
    const card = fileCard(file.name + " (" + fmtBytes(file.size) + ")");
    card.bar.max = Math.max(file.size, 1);
    card.status.textContent = "waiting for the server…";
    li.appendChild(card.box);
    li.classList.add("file-out");
    // A label (PROTOCOL.md "Labels") ties the server's answer, FILEOK or
    // an ERROR, to this file whatever else arrives in between.
    const label = "f" + (++labels);
    outgoing.set(label, { file, card });
    // The name travels after " :"; control characters cannot be in it.
    const name = file.name.replace(/[\u0000-\u001f\u007f]/g, "_") || "arquivo";
    send("@" + label + " /file " + (to || "*") + " " + file.size + " :" + name);
  }

  function startOutgoing(label, id) {
    const f = outgoing.get(label);
    if (!f) return;
    outgoing.delete(label);
    f.sent = 0;
    f.acked = 0;
    sending.set(id, f);
    f.card.status.textContent = "sending…";
    pump(id, f);
  }

  async function pump(id, f) {
    const sock = ws;
    while (f.sent < f.file.size) {
      if (ws !== sock || !sending.has(id)) return;
      while (sock.bufferedAmount > MAX_BUFFERED) {
        await new Promise((r) => setTimeout(r, 20));
        if (ws !== sock || !sending.has(id)) return;
      }
      const piece = await f.file.slice(f.sent, f.sent + CHUNK).arrayBuffer();
      if (ws !== sock || !sending.has(id)) return;
      sock.send("/chunk " + id + " " + piece.byteLength);
      sock.send(piece);
      f.sent += piece.byteLength;
    }
    sock.send("/fileend " + id);
  }

  function ackOutgoing(id, bytes) {
    const f = sending.get(id);
    if (!f) return;
    f.card.bar.value = bytes;
    f.card.status.textContent = fmtBytes(bytes) + " of " + fmtBytes(f.file.size);
  }

  function endOutgoing(id, ok, why) {
    const f = sending.get(id);
    if (!f) return;
    sending.delete(id);
    if (ok) {
      f.card.bar.value = f.card.bar.max;
      f.card.status.textContent = "Sent.";
    } else {
      f.card.status.textContent = "Stopped: " + why;
    }
  }

  // ---------- the connection ----------

  function send(line) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(line);
  }

  function connect() {
    reconnectTimer = null;
    helloSeen = false;
    registered = false;
    payloadFor = null;
    setConn("connecting", "connecting…");
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const sock = new WebSocket(scheme + location.host + "/ws");
    sock.binaryType = "arraybuffer";
    ws = sock;
    sock.addEventListener("message", (ev) => {
      if (ws !== sock) return;
      if (typeof ev.data === "string") onLine(ev.data);
      else onPayload(ev.data);
    });
    sock.addEventListener("close", () => {
      if (ws !== sock) return;
      ws = null;
      const was = registered;
      registered = false;
      // Who is online is unknown until the next USERS list.
      users = new Map();
      renderUsers();
      setConn("offline", "offline");
      for (const [id, f] of sending) {
        f.card.status.textContent = "Stopped: the connection ended";
        sending.delete(id);
      }
      for (const [id, f] of incoming) {
        f.card.status.textContent = "Not received: the connection ended";
        incoming.delete(id);
      }
      for (const f of outgoing.values()) f.card.status.textContent = "Not sent: the connection ended";
      outgoing.clear();
      if (was && !stopped) {
        showBanner("Connection lost. Reconnecting…");
        errorLine("Connection lost.");
      }
      const wait = backoff;
      backoff = Math.min(backoff * 2, BACKOFF_MAX);
      setConn("offline", "offline, retrying in " + Math.round(wait / 1000) + " s");
      reconnectTimer = setTimeout(connect, wait);
    });
  }

  // ---------- the page's controls ----------

  loginForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const n = nickInput.value.trim();
    if (!n) return;
    wanted = n;
    loginError.hidden = true;
    joinButton.disabled = true;
    if (ws && ws.readyState === WebSocket.OPEN && helloSeen) {
      send(n);
    } else if (!ws) {
      if (reconnectTimer) clearTimeout(reconnectTimer);
      backoff = 1000;
      connect();
    }
  });

  composer.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = textInput.value;
    if (!text.trim() || !registered) return;
    const to = toSelect.value;
    const room = /^(#[^\s:,]+):/.exec(text);
    if (text.startsWith("/")) {
      send(text);                       // a command: /nick, /list, /join #sala ...
    } else if (room) {
      send(text);                       // "#sala:text": to a room joined with /join
      message(nick, text.slice(room[0].length), { mine: true, room: room[1] });
    } else if (to) {
      send(to + ":" + text);
      message(nick, text, { mine: true, private: true, to: to });
    } else {
      send(":" + text);
      message(nick, text, { mine: true });
    }
    textInput.value = "";
  });

  toSelect.addEventListener("change", renderUsers);

  fileButton.addEventListener("click", () => {
    if (registered) fileInput.click();
  });

  fileInput.addEventListener("change", () => {
    for (const f of Array.from(fileInput.files || [])) offerFile(f);
    fileInput.value = "";
  });

  usersToggle.addEventListener("click", () => {
    const open = sidebar.classList.toggle("open");
    usersToggle.setAttribute("aria-expanded", open ? "true" : "false");
  });

  connect();
})();
