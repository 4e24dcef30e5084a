// papo's browser client. It speaks the same protocol as nc and the C
// client (PROTOCOL.md) over the server's WebSocket: one text message per
// line, binary messages for payloads. Everything it shows from the network
// goes through textContent, never innerHTML.
//
// Conversations: the public chat ("*"), each room joined ("#" + key) and
// each private conversation ("@" + key), each with its own list of
// messages; only the open one is shown. The page turns on message ids and
// server times (/tags on), shows times in the viewer's local time, fetches
// recent history (/history) for the public chat and each room it joins and
// merges it with live messages by id, and joins its rooms again after a
// reconnect.
"use strict";

(function () {
  const CHUNK = 64 * 1024;              // bytes per /chunk, as papo::Client
  const MAX_BUFFERED = 1024 * 1024;     // WebSocket bytes in flight before pausing a file
  const BACKOFF_MAX = 30000;
  const HISTORY = 50;                   // messages fetched per conversation

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
  const peopleTitle = $("people-title");
  const unreadTop = $("unread-top");
  const usersToggle = $("users-toggle");
  const sidebar = $("sidebar");
  const convList = $("convs");
  const roomForm = $("room-form");
  const roomInput = $("room-input");
  const roomError = $("room-error");
  const roomList = $("room-list");
  const roomsRefresh = $("rooms-refresh");
  const views = $("views");
  const convTitle = $("conv-title");
  const convTopic = $("conv-topic");
  const leaveButton = $("leave-button");
  const rejoinButton = $("rejoin-button");
  const composer = $("composer");
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

  const convs = new Map();  // conversation key -> conversation
  let active = null;        // the conversation shown
  let openOnJoin = "";      // a room the person asked to join: shown once joined
  let roomsSeen = [];       // ROOMINFO lines until ROOMS
  const histories = new Map(); // history target key -> HISTORY lines until HISTEND

  // ---------- small helpers ----------

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function pad(n) {
    return (n < 10 ? "0" : "") + n;
  }

  // A time from the server (UTC milliseconds) in the viewer's local time:
  // HH:MM today, with the date before it otherwise.
  function fmtTime(ms) {
    const d = new Date(ms);
    const now = new Date();
    const hm = pad(d.getHours()) + ":" + pad(d.getMinutes());
    if (d.getFullYear() === now.getFullYear() && d.getMonth() === now.getMonth()
        && d.getDate() === now.getDate()) return hm;
    const opts = { day: "numeric", month: "short" };
    if (d.getFullYear() !== now.getFullYear()) opts.year = "numeric";
    return d.toLocaleDateString([], opts) + " " + hm;
  }

  function timeEl(ms) {
    const t = el("time", "time", fmtTime(ms));
    const d = new Date(ms);
    t.dateTime = d.toISOString();
    t.title = d.toLocaleString();
    t.dataset.ms = String(ms);
    return t;
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

  function isRoom(name) {
    return name.startsWith("#");
  }

  // The "name=value" words after a line's fixed arguments (id=, time=).
  function tagsOf(words) {
    const t = {};
    for (const w of words) {
      const eq = w.indexOf("=");
      if (eq > 0) t[w.slice(0, eq)] = w.slice(eq + 1);
    }
    return t;
  }

  // ---------- conversations ----------

  function convKey(kind, name) {
    return kind === "public" ? "*" : (kind === "room" ? "#" : "@") + key(kind === "room" ? name.slice(1) : name);
  }

  function conv(kind, name) {
    const k = convKey(kind, name);
    let c = convs.get(k);
    if (!c) {
      const list = el("ol", "messages");
      list.dataset.conv = k;
      list.hidden = true;
      views.appendChild(list);
      c = {
        key: k, kind, name, list, unread: 0, ids: new Set(), pendingOwn: [],
        topic: "", members: new Map(), joined: false, historyAsked: false,
        anchor: null,
      };
      convs.set(k, c);
      renderConvs();
    } else if (name && c.name !== name && kind !== "public") {
      c.name = name;      // as the server writes it (the creator's spelling)
      renderConvs();
      if (c === active) renderHead();
    }
    return c;
  }

  function publicConv() {
    return conv("public", "Everyone");
  }

  function convLabel(c) {
    return c.kind === "public" ? "Everyone" : c.name;
  }

  function renderConvs() {
    const order = { public: 0, room: 1, private: 2 };
    const list = Array.from(convs.values()).sort((a, b) =>
      order[a.kind] - order[b.kind]
      || convLabel(a).localeCompare(convLabel(b), undefined, { sensitivity: "base" }));
    convList.replaceChildren();
    let total = 0;
    for (const c of list) {
      const li = el("li", "conv " + c.kind);
      li.dataset.conv = c.key;
      if (c === active) li.classList.add("active");
      if (c.kind === "room" && !c.joined) li.classList.add("parted");
      li.appendChild(el("span", "name", c.kind === "private" ? "@ " + c.name : convLabel(c)));
      if (c.unread > 0) li.appendChild(el("span", "count unread", String(c.unread)));
      li.title = c.kind === "public" ? "The public chat: everyone online"
        : c.kind === "room" ? "Room " + c.name : "Private conversation with " + c.name;
      li.addEventListener("click", () => { show(c); closePanel(); textInput.focus(); });
      convList.appendChild(li);
      total += c.unread;
    }
    unreadTop.textContent = String(total);
    unreadTop.hidden = total === 0;
    document.title = total > 0 ? "(" + total + ") papo" : "papo";
  }

  function renderHead() {
    const c = active;
    if (!c) return;
    convTitle.textContent = c.kind === "private" ? "Private: " + c.name : convLabel(c);
    convTopic.textContent = c.kind === "room" ? c.topic
      : c.kind === "public" ? "Public messages to everyone online" : "Only you and " + c.name + " see this";
    convTopic.classList.toggle("empty", c.kind === "room" && !c.topic);
    if (c.kind === "room" && !c.topic) convTopic.textContent = "No topic";
    leaveButton.hidden = !(c.kind === "room" && c.joined);
    rejoinButton.hidden = !(c.kind === "room" && !c.joined);
    fileButton.disabled = c.kind === "room";
    fileButton.title = c.kind === "room" ? "Files go to everyone or to one person, not to rooms" : "Send a file";
    textInput.placeholder = "Message " + (c.kind === "public" ? "everyone" : c.name) + "…";
  }

  function show(c) {
    if (active) active.list.hidden = true;
    active = c;
    c.list.hidden = false;
    c.unread = 0;
    c.list.scrollTop = c.list.scrollHeight;
    renderHead();
    renderConvs();
    renderPeople();
    if (c.kind === "room" && c.joined) send("/who " + c.name);
    if (c.kind === "private" && !c.historyAsked && registered) askHistory(c);
  }

  function atBottom(list) {
    return list.scrollHeight - list.scrollTop - list.clientHeight < 60;
  }

  function append(c, li) {
    const stick = atBottom(c.list);
    c.list.appendChild(li);
    if (stick || c !== active) c.list.scrollTop = c.list.scrollHeight;
    return li;
  }

  function system(c, text) {
    return append(c || active || publicConv(), el("li", "msg system", text));
  }

  function errorLine(c, text) {
    return append(c || active || publicConv(), el("li", "msg error", text));
  }

  function bump(c) {
    if (c !== active || document.hidden) {
      if (c !== active) c.unread += 1;
      renderConvs();
    }
  }

  // A message li: from, tag, time (server ms, or now for our own), text.
  function msgEl(from, text, opts) {
    const li = el("li", "msg");
    if (opts.mine) li.classList.add("mine");
    if (opts.private) li.classList.add("private");
    if (opts.history) li.classList.add("history");
    if (opts.id !== undefined && opts.id !== null) li.dataset.id = String(opts.id);
    const meta = el("div", "meta");
    meta.appendChild(el("span", "from", from));
    if (opts.private) meta.appendChild(el("span", "tag", opts.mine ? "private to " + opts.to : "private"));
    meta.appendChild(timeEl(opts.time || Date.now()));
    li.appendChild(meta);
    if (text !== null) li.appendChild(el("div", "body", text));
    return li;
  }

  // A live message for conversation c; ids already shown are skipped.
  function message(c, from, text, opts) {
    const id = opts.id;
    if (id !== undefined && id !== null) {
      if (c.ids.has(id)) return null;
      c.ids.add(id);
    }
    const li = append(c, msgEl(from, text, opts));
    if (!opts.mine) bump(c);
    return li;
  }

  // Our own message, shown at once; its id comes with history later.
  function mine(c, text, opts) {
    const li = message(c, nick, text, Object.assign({ mine: true }, opts));
    if (text !== null) c.pendingOwn.push({ text, li });
    return li;
  }

  // ---------- history ----------

  function histConv(target) {
    if (target === "*") return publicConv();
    if (isRoom(target)) return conv("room", target);
    return conv("private", target);
  }

  function askHistory(c) {
    const target = c.kind === "public" ? "*" : c.name;
    c.historyAsked = true;
    // The anchor: the last line shown when history was asked for (the
    // "You joined" notice). Earlier messages go before it, unless a
    // message with a greater id is shown before it.
    c.anchor = c.list.lastElementChild;
    send("/history " + target + " " + HISTORY);
  }

  // The first message shown with an id greater than id, or null.
  function newerThan(c, id) {
    for (const other of c.list.children) {
      if (other.dataset.id && Number(other.dataset.id) > id) return other;
    }
    return null;
  }

  // HISTORY lines of one answer, oldest first: the ones not shown yet go
  // together, in order, before the anchor (or a newer message shown
  // earlier), after a divider that marks them as earlier messages.
  function mergeHistory(target, items) {
    const c = histConv(target);
    let last = null;      // the last element inserted
    for (const h of items) {
      if (c.ids.has(h.id)) continue;
      if (key(h.from) === key(nick)) {
        // Our own message, shown when we sent it: it gets its id now.
        const i = c.pendingOwn.findIndex((p) => p.text === h.text);
        if (i >= 0) {
          const p = c.pendingOwn.splice(i, 1)[0];
          p.li.dataset.id = String(h.id);
          c.ids.add(h.id);
          continue;
        }
      }
      c.ids.add(h.id);
      const priv = h.kind === "private";
      const li = msgEl(h.from, h.kind === "file" ? "file offered: " + h.text
        : h.kind === "bytes" ? "binary message (" + h.text + " bytes)" : h.text, {
        history: true, id: h.id, time: h.time, mine: key(h.from) === key(nick),
        private: priv, to: c.name,
      });
      if (!last) {
        let before = c.anchor && c.anchor.parentNode === c.list ? c.anchor : c.list.firstElementChild;
        const newer = newerThan(c, h.id);
        if (newer && (!before || (newer.compareDocumentPosition(before) & Node.DOCUMENT_POSITION_FOLLOWING))) {
          before = newer;
        }
        const divider = el("li", "msg system divider", "Earlier messages");
        c.list.insertBefore(divider, before);
        c.list.insertBefore(li, before);
      } else {
        c.list.insertBefore(li, last.nextSibling);
      }
      last = li;
    }
    if (last && c === active) c.list.scrollTop = c.list.scrollHeight;
  }

  // ---------- who is online, and who is in the room shown ----------

  function renderPeople() {
    const room = active && active.kind === "room" ? active : null;
    let names;
    if (room) {
      names = Array.from(room.members.values());
      peopleTitle.textContent = "In " + room.name;
    } else {
      names = Array.from(users.values()).map((n) => ({ nick: n, op: false }));
      peopleTitle.textContent = "Online";
    }
    names.sort((a, b) => a.nick.localeCompare(b.nick, undefined, { sensitivity: "base" }));
    usersList.replaceChildren();
    for (const p of names) {
      const n = p.nick;
      const li = el("li", "", n);
      li.dataset.nick = n;
      if (p.op) {
        li.classList.add("op");
        li.appendChild(el("span", "badge", "op"));
      }
      if (key(n) === key(nick)) li.classList.add("self");
      li.title = "Write to " + n + " alone";
      li.addEventListener("click", () => {
        show(conv("private", n));
        closePanel();
        textInput.focus();
      });
      usersList.appendChild(li);
    }
    usersCount.textContent = String(names.length);
  }

  function joined(n) {
    users.set(key(n), n);
  }

  function left(n) {
    users.delete(key(n));
    for (const c of convs.values()) {
      if (c.kind === "room" && c.members.delete(key(n))) system(c, n + " left the chat.");
    }
  }

  function renamed(from, to) {
    users.delete(key(from));
    users.set(key(to), to);
    if (key(from) === key(nick)) {
      nick = to;
      wanted = to;
      meLabel.textContent = nick;
    }
    for (const c of convs.values()) {
      if (c.kind === "room") {
        const m = c.members.get(key(from));
        if (m) {
          c.members.delete(key(from));
          c.members.set(key(to), { nick: to, op: m.op });
          system(c, from + " is now " + to + ".");
        }
      }
    }
    // A private conversation follows the nickname.
    const p = convs.get(convKey("private", from));
    if (p && key(from) !== key(to) && !convs.has(convKey("private", to))) {
      convs.delete(p.key);
      p.key = convKey("private", to);
      p.list.dataset.conv = p.key;
      convs.set(p.key, p);
    }
    if (p) {
      p.name = to;
      system(p, from + " is now " + to + ".");
    }
    renderConvs();
    renderHead();
  }

  // ---------- rooms ----------

  function roomConvIfAny(name) {
    return convs.get(convKey("room", name)) || null;
  }

  function renderRooms(list) {
    roomList.replaceChildren();
    if (list.length === 0) {
      roomList.appendChild(el("li", "hint small", "No rooms yet: create one above."));
      return;
    }
    list.sort((a, b) => a.name.localeCompare(b.name, undefined, { sensitivity: "base" }));
    for (const r of list) {
      const li = el("li", "room");
      li.dataset.room = r.name;
      const info = el("div", "info");
      info.appendChild(el("span", "name", r.name));
      info.appendChild(el("span", "count", String(r.count)));
      li.appendChild(info);
      if (r.topic) li.appendChild(el("div", "topic small", r.topic));
      const c = roomConvIfAny(r.name);
      const b = el("button", "small", c && c.joined ? "Open" : "Join");
      b.type = "button";
      b.addEventListener("click", () => {
        const cc = roomConvIfAny(r.name);
        if (cc && cc.joined) { show(cc); closePanel(); } else joinRoom(r.name);
      });
      li.appendChild(b);
      roomList.appendChild(li);
    }
  }

  function joinRoom(name) {
    openOnJoin = key(name);
    send("/join " + name);
  }

  function roomJoined(room, who) {
    const c = conv("room", room);
    if (key(who) === key(nick)) {
      const first = !c.joined;
      c.joined = true;
      c.members.set(key(nick), { nick, op: false });
      if (first) {
        system(c, "You joined " + c.name + ".");
        askHistory(c);
        send("/who " + c.name);
        send("/rooms");
      }
      if (openOnJoin === key(room)) {
        openOnJoin = "";
        show(c);
        closePanel();
        roomError.hidden = true;
        roomInput.value = "";
      }
      renderConvs();
      if (c === active) renderHead();
    } else {
      if (!c.members.has(key(who))) c.members.set(key(who), { nick: who, op: false });
      system(c, who + " joined " + c.name + ".");
    }
    if (c === active) renderPeople();
  }

  function roomGone(c, text) {
    c.joined = false;
    c.members.clear();
    c.historyAsked = false;
    system(c, text);
    renderConvs();
    if (c === active) { renderHead(); renderPeople(); }
    send("/rooms");
  }

  function roomParted(room, who) {
    const c = roomConvIfAny(room);
    if (!c) return;
    if (key(who) === key(nick)) {
      roomGone(c, "You left " + c.name + ".");
    } else {
      c.members.delete(key(who));
      system(c, who + " left " + c.name + ".");
      if (c === active) renderPeople();
    }
  }

  function roomKicked(room, by, who) {
    const c = roomConvIfAny(room);
    if (!c) return;
    if (key(who) === key(nick)) {
      roomGone(c, by + " put you out of " + c.name + ".");
    } else {
      c.members.delete(key(who));
      system(c, by + " put " + who + " out of " + c.name + ".");
      if (c === active) renderPeople();
    }
  }

  function roomOp(room, by, who) {
    const c = roomConvIfAny(room);
    if (!c) return;
    const m = c.members.get(key(who));
    c.members.set(key(who), { nick: m ? m.nick : who, op: true });
    system(c, by + " made " + who + " an operator of " + c.name + ".");
    if (c === active) renderPeople();
  }

  function roomTopic(room, by, text) {
    const c = conv("room", room);
    c.topic = text;
    if (by === "*") {
      if (text) system(c, "Topic: " + text);
    } else if (text) {
      system(c, by + " set the topic: " + text);
    } else {
      system(c, by + " cleared the topic.");
    }
    if (c === active) renderHead();
  }

  function roomMembers(room, text) {
    const c = roomConvIfAny(room);
    if (!c || !c.joined) return;
    c.members.clear();
    for (const w of text.split(" ")) {
      if (!w) continue;
      const op = w.startsWith("@");
      const n = op ? w.slice(1) : w;
      c.members.set(key(n), { nick: n, op });
    }
    if (c === active) renderPeople();
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
        send("/tags on");
        if (wanted) send(wanted);
        break;
      case "BINARY":
      case "PONG":
      case "PRESENCE":
      case "TAGS":
        break;
      case "HELP":
        system(active, m.text || "");
        break;
      case "WELCOME": {
        const again = nick !== "";
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
        const pub = publicConv();
        if (!active) show(pub);
        system(pub, (again ? "Back online as " : "You joined as ") + nick + ".");
        askHistory(pub);
        // The rooms we were in before the connection ended.
        for (const c of convs.values()) {
          if (c.kind === "room" && c.joined) {
            c.joined = false;
            send("/join " + c.name);
          }
        }
        send("/rooms");
        textInput.focus();
        break;
      }
      case "USERS":
        users = new Map();
        for (const n of (m.text || "").split(" ")) if (n) joined(n);
        renderPeople();
        break;
      case "JOIN":
        if (a[0]) { joined(a[0]); renderPeople(); system(publicConv(), a[0] + " joined."); }
        break;
      case "LEFT":
        if (a[0]) { left(a[0]); renderPeople(); system(publicConv(), a[0] + " left."); }
        break;
      case "NICK":
        if (a[0] && a[1]) { renamed(a[0], a[1]); renderPeople(); system(publicConv(), a[0] + " is now " + a[1] + "."); }
        break;
      case "CHANGES":
        // "JOIN a b, LEFT c, NICK old new": the single lines, in order.
        for (const item of (m.text || "").split(", ")) {
          const w = item.split(" ").filter((x) => x);
          if (w[0] === "JOIN") for (const n of w.slice(1)) { joined(n); system(publicConv(), n + " joined."); }
          else if (w[0] === "LEFT") for (const n of w.slice(1)) { left(n); system(publicConv(), n + " left."); }
          else if (w[0] === "NICK" && w[1] && w[2]) { renamed(w[1], w[2]); system(publicConv(), w[1] + " is now " + w[2] + "."); }
        }
        renderPeople();
        break;
      case "PUBLIC": {
        const t = tagsOf(a.slice(1));
        message(publicConv(), a[0] || "?", m.text || "", { id: numOr(t.id), time: numOr(t.time) });
        break;
      }
      case "PRIVATE": {
        const t = tagsOf(a.slice(1));
        const c = conv("private", a[0] || "?");
        if (!c.historyAsked && registered) askHistory(c);
        message(c, a[0] || "?", m.text || "", { private: true, id: numOr(t.id), time: numOr(t.time) });
        break;
      }
      case "ROOM": {
        if (!a[0] || !a[1]) break;
        const t = tagsOf(a.slice(2));
        message(conv("room", a[0]), a[1], m.text || "", { id: numOr(t.id), time: numOr(t.time) });
        break;
      }
      case "ROOMJOIN":
        if (a[0] && a[1]) roomJoined(a[0], a[1]);
        break;
      case "ROOMPART":
        if (a[0] && a[1]) roomParted(a[0], a[1]);
        break;
      case "ROOMKICK":
        if (a[0] && a[1] && a[2]) roomKicked(a[0], a[1], a[2]);
        break;
      case "ROOMOP":
        if (a[0] && a[1] && a[2]) roomOp(a[0], a[1], a[2]);
        break;
      case "TOPIC":
        if (a[0]) roomTopic(a[0], a[1] || "*", m.text || "");
        break;
      case "MEMBERS":
        if (a[0]) roomMembers(a[0], m.text || "");
        break;
      case "ROOMINFO":
        if (a[0]) roomsSeen.push({ name: a[0], count: Number(a[1] || 0), topic: m.text || "" });
        break;
      case "ROOMS":
        renderRooms(roomsSeen);
        roomsSeen = [];
        break;
      case "HISTORY": {
        // HISTORY <target> <kind> <from> <id> <time> :<text>
        if (a.length < 5) break;
        const k = a[0];
        if (!histories.has(k)) histories.set(k, []);
        histories.get(k).push({ kind: a[1], from: a[2], id: Number(a[3]), time: Number(a[4]), text: m.text || "" });
        break;
      }
      case "HISTEND": {
        const k = a[0] || "";
        const items = histories.get(k) || [];
        histories.delete(k);
        mergeHistory(k, items);
        break;
      }
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
        system(a.includes("private") && a[0] ? conv("private", a[0]) : publicConv(), m.text || "");
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
      // A server that is one node of several (PROTOCOL.md, "Clusters").
      case "CLUSTER":
        if (a[0] === "partitioned") {
          showBanner("This server lost the other servers of the chat: only its own users see you until it is back.");
          system(publicConv(), "Cut off from the other servers of the chat.");
        } else if (a[0] === "healed") {
          showBanner("");
          system(publicConv(), "Back in the whole chat.");
        }
        break;
      case "LOST":
        system(active || publicConv(), (a[0] || "Some") + " message(s) for you were lost between the servers.");
        break;
      case "RENAMED":
        if (a[0] && a[1]) {
          renamed(a[0], a[1]);
          renderPeople();
          system(publicConv(), "Another server's user had “" + a[0] + "” first: you are now " + a[1] + ".");
        }
        break;
      default:
        break;
    }
  }

  function numOr(v) {
    if (v === undefined) return null;
    const n = Number(v);
    return Number.isFinite(n) ? n : null;
  }

  function roomFormError(text) {
    roomError.textContent = text;
    roomError.hidden = false;
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
      errorLine(active, "Connection cancelled by the server (03): " + text);
      return;
    }
    if (code === "02") {
      const c = convs.get(convKey("private", subject)) || active;
      errorLine(c, subject + " is not online (02): the message was not delivered.");
      return;
    }
    if (code === "21") {
      const c = isRoom(subject) ? roomConvIfAny(subject) : null;
      const why = c && c.joined === false
        ? "You are not in " + subject + " (21): join the room first."
        : "There is no room " + subject + ", or you are not in it (21).";
      if (openOnJoin && key(subject) === openOnJoin) openOnJoin = "";
      errorLine(c || active, why);
      return;
    }
    if (code === "22") {
      const c = isRoom(subject) ? roomConvIfAny(subject) : null;
      errorLine(c || active, isRoom(subject)
        ? "Only the operators of " + subject + " can do that (22)."
        : "Not allowed (22): " + text);
      return;
    }
    if (code === "23") {
      const why = "Invalid room name (23): a room is # followed by 1 to 32 characters, without spaces, “:” or “,”.";
      if (openOnJoin) {
        openOnJoin = "";
        roomFormError(why);
      }
      errorLine(active, why);
      return;
    }
    errorLine(active, "Error " + code + ": " + text);
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
    const c = priv ? conv("private", from) : publicConv();
    const li = message(c, from, null, { private: priv });
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
      const c = p.private ? conv("private", p.from) : publicConv();
      const li = message(c, p.from, null, { private: p.private });
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
    const c = active || publicConv();
    if (c.kind === "room") return;      // /file goes to one person or everyone
    const to = c.kind === "private" ? c.name : "";
    const li = message(c, nick, null, { mine: true, private: !!to, to: to });
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
    histories.clear();      // answers cut off by the last connection's end
    roomsSeen = [];
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
      renderPeople();
      for (const c of convs.values()) if (c.kind === "room") c.members.clear();
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
        errorLine(active, "Connection lost.");
      }
      const wait = backoff;
      backoff = Math.min(backoff * 2, BACKOFF_MAX);
      setConn("offline", "offline, retrying in " + Math.round(wait / 1000) + " s");
      reconnectTimer = setTimeout(connect, wait);
    });
  }

  // ---------- the page's controls ----------

  function closePanel() {
    sidebar.classList.remove("open");
    usersToggle.setAttribute("aria-expanded", "false");
  }

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
    const c = active || publicConv();
    if (text.startsWith("/")) {
      send(roomCommand(c, text));       // a command: /nick, /list, /topic ...
    } else if (c.kind === "room") {
      if (!c.joined) {
        errorLine(c, "You are not in " + c.name + ": join the room first.");
        return;
      }
      send(c.name + ":" + text);
      mine(c, text, {});
    } else if (c.kind === "private") {
      send(c.name + ":" + text);
      mine(c, text, { private: true, to: c.name });
    } else {
      send(":" + text);
      mine(c, text, {});
    }
    textInput.value = "";
  });

  // In a room's view, "/topic text", "/who", "/part" and "/op Nick" are
  // about that room: its name is put in.
  function roomCommand(c, text) {
    if (c.kind !== "room") return text;
    const m = /^\/(topic|who|part|op)(?:\s+(.*))?$/i.exec(text);
    if (!m) return text;
    const rest = m[2] || "";
    if (rest.startsWith("#")) return text;
    return "/" + m[1].toLowerCase() + " " + c.name + (rest ? " " + rest : "");
  }

  roomForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    let name = roomInput.value.trim();
    if (!name || !registered) return;
    if (!name.startsWith("#")) name = "#" + name;
    roomError.hidden = true;
    const c = roomConvIfAny(name);
    if (c && c.joined) {
      show(c);
      closePanel();
      roomInput.value = "";
      return;
    }
    joinRoom(name);
  });

  roomsRefresh.addEventListener("click", () => send("/rooms"));

  leaveButton.addEventListener("click", () => {
    if (active && active.kind === "room" && active.joined) send("/part " + active.name);
  });

  rejoinButton.addEventListener("click", () => {
    if (active && active.kind === "room" && !active.joined) joinRoom(active.name);
  });

  fileButton.addEventListener("click", () => {
    if (registered && !(active && active.kind === "room")) fileInput.click();
  });

  fileInput.addEventListener("change", () => {
    for (const f of Array.from(fileInput.files || [])) offerFile(f);
    fileInput.value = "";
  });

  usersToggle.addEventListener("click", () => {
    const open = sidebar.classList.toggle("open");
    usersToggle.setAttribute("aria-expanded", open ? "true" : "false");
    if (open && registered) send("/rooms");
  });

  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && active) { active.unread = 0; renderConvs(); }
  });

  show(publicConv());
  connect();
})();
