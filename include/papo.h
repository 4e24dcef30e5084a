/*
 * papo.h - the C API of papo, a TCP chat server and client. Version 1.
 *
 * papo implements the chat of the IFSC document "Protocolo para bate-papo"
 * (seed 000): a server routes public messages (":text", to everyone) and
 * private messages ("Nick:text", to one) between clients with unique
 * nicknames, and tells everyone who joins, leaves or renames. The wire
 * protocol is text lines, so a person with nothing but `nc` can join too
 * (PROTOCOL.md). The seed's proposed API keeps its five names:
 * Conecta_Servidor, Conecta_cliente, enviar_Msg, Desconecta_Servidor and
 * Desconecta_cliente; everything else is papo_*.
 *
 * Linking: pkg-config --cflags --libs papo (or -lpapo); the shared library
 * is libpapo.so.1. Units: times are milliseconds, sizes are bytes,
 * nickname lengths are characters. Each function's comment ends with the
 * version that added it ("Since: 0.1", "Since: 1.0").
 *
 * ---- Compatibility -------------------------------------------------------
 *
 * PAPO_VERSION_MAJOR/MINOR/PATCH/STRING are the version of this header;
 * papo_version() is the version of the library loaded at run time. Check
 * at start that the library serves this header:
 *
 *     if (!PAPO_VERSION_IS_COMPATIBLE()) {
 *         fprintf(stderr, "libpapo %s is too old for this program (built for %s)\n",
 *                 papo_version(), PAPO_VERSION_STRING);
 *         return 1;
 *     }
 *
 * What every 1.x version promises a program built against an older 1.x
 * header: functions are only added, never removed or changed; enum values
 * and error codes are never renumbered (new ones may appear: a switch
 * needs a default); the structs the library hands out (papo_event,
 * papo_server_event) only grow at their end. So never allocate one, copy
 * one by value or take its sizeof: read it through the pointer the library
 * gave, which stays valid until the next *_wait_event() call on that
 * handle or its Desconecta_*(). Settings are options objects
 * (papo_client_options, papo_server_options) changed through setters, so
 * a setting added later has its default without a recompile. Programs
 * built against the 0.1 header keep working: libpapo 1.x still exports
 * the 0.1 entry points that took the caller's structs, with their 0.1
 * layouts.
 *
 * ---- Handles ---------------------------------------------------------------
 *
 * papo_server and papo_client are opaque handles created by
 * Conecta_Servidor()/papo_server_start_with() and
 * Conecta_cliente()/papo_client_connect_with(), freed only by
 * Desconecta_Servidor() and Desconecta_cliente() (which accept NULL). A
 * handle's value is an id the library checks at every call, never a
 * pointer it follows, and ids are never reused: a call on a handle already
 * freed, a handle of the other kind or any made-up value returns
 * PAPO_ERR_CLOSED (a second Desconecta_*() too). It never crashes or frees
 * twice.
 *
 * ---- Threading -------------------------------------------------------------
 *
 * The library runs its own threads (the server's I/O threads, one reader
 * thread per client). Every function may be called from any thread, and
 * functions on the same handle may be called concurrently, also
 * Desconecta_*(): other threads' calls on that handle then return
 * PAPO_ERR_CLOSED, or finish first (Desconecta_*() waits for them, and
 * wakes a thread waiting for an event). The rules that remain:
 * *_wait_event() calls on one handle are serialized and each one ends the
 * previous event's life, so pull events from one thread; and inside a
 * wake-up callback, calls that would wait (connecting, requests that wait
 * for the server's answer, papo_client_wait_event()) and
 * Desconecta_cliente() return PAPO_ERR_INVALID_ARGUMENT
 * (papo_client_set_wakeup() lists them). Different handles are
 * independent. Each function's comment has its own "Thread safety:" line.
 *
 * ---- Events and event-loop integration ---------------------------------
 *
 * The server and the client queue what happens (connections, messages,
 * files, answers, ...) and the caller pulls it with
 * papo_server_wait_event() and papo_client_wait_event(), waiting up to a
 * timeout in milliseconds (as libmpv's mpv_wait_event()). Three ways to
 * wait:
 *
 * - a thread of its own waits with timeout -1; papo_client_wakeup() (or
 *   papo_server_wakeup()) from any other thread ends that wait at once
 *   (PAPO_ERR_TIMEOUT), and Desconecta_*() ends it for good;
 * - an event loop (poll, epoll, GLib, Qt's QSocketNotifier, Tk's
 *   createfilehandler, asyncio's add_reader) watches the descriptor of
 *   papo_client_fd() / papo_server_fd(), readable exactly while events
 *   are queued, and takes them with timeout 0;
 * - papo_client_set_wakeup() calls back on the library's thread.
 *
 * Requests that wait for the server (a private message, the user list, a
 * rename, a ping, a file offer) have *_async twins that return at once
 * and deliver the answer as a PAPO_EVENT_REPLY event carrying the
 * caller's userdata, so one thread can do everything without blocking:
 *
 *     int fd;
 *     const papo_event *ev;
 *     papo_client_fd(client, &fd);
 *     papo_client_send_async(client, "bob", "oi", 42);
 *     for (;;) {
 *         struct pollfd p[2] = {{fd, POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
 *         poll(p, 2, -1);
 *         while (papo_client_wait_event(client, 0, &ev) == PAPO_OK)
 *             handle(ev); // REPLY with userdata 42: ev->code 0 or 02
 *         if (p[1].revents & POLLIN) read_keyboard();
 *     }
 *
 * ---- Fork ------------------------------------------------------------------
 *
 * A child made by fork() has only the thread that forked: the library's
 * threads of the parent's handles are not there. In the child, every call
 * on a handle inherited from the parent returns PAPO_ERR_FORKED at once,
 * touching nothing and never hanging; Desconecta_*() on it also returns
 * PAPO_ERR_FORKED and leaves it alone (the handle's memory stays, it is
 * never freed or joined in the child; the sockets are the parent's, so
 * close nothing by hand). The child may create handles of its own and use
 * them normally; after fork() followed by exec*(), nothing of papo
 * remains.
 *
 * ---- Errors ------------------------------------------------------------------
 *
 * Every fallible function returns an int: 0 (PAPO_OK) is success; 1..5
 * are the seed's error codes 01..05 (PAPO_ERR_NICK_IN_USE ...
 * PAPO_ERR_INVALID_ADDRESS); 6 and up are papo's own. papo_strerror()
 * turns any code into a static text; papo_last_error() gives the detail of
 * the last error on the calling thread (`connection refused by
 * 127.0.0.1:18000`, `nickname "Ana" is already in use`, `argument apelido
 * is NULL`). Out-parameters are written only on success; the one exception
 * is *out_len, which is also set on PAPO_ERR_BUFFER_TOO_SMALL. A required
 * pointer that is NULL gives PAPO_ERR_NULL_ARGUMENT; a string that is not
 * UTF-8 gives PAPO_ERR_INVALID_TEXT (PAPO_ERR_INVALID_NICK for a
 * nickname). A panic inside the library never unwinds into the caller: it
 * comes back as PAPO_ERR_PANIC.
 *
 * ---- Ownership ---------------------------------------------------------------
 *
 * Strings and options passed in are copied or only read during the call;
 * the caller keeps them. Events and their strings belong to the handle
 * (see "Compatibility"). Strings returned by papo_strerror() and
 * papo_version() are static; papo_last_error()'s lives until the thread's
 * next papo call. Options objects belong to the caller, who frees them
 * with papo_*_options_free(). Functions that fill a caller's buffer take
 * (char *buf, size_t buf_len, size_t *out_len) and report in *out_len the
 * bytes needed including the terminating NUL.
 */


#ifndef PAPO_H
#define PAPO_H

/* Generated by cbindgen from src/ffi/ (PAPO_BLESS=1 cargo test --test header). Do not edit. */

#include <stddef.h>
#include <stdint.h>

/** The version of papo this header belongs to (Cargo.toml). */
#define PAPO_VERSION_MAJOR 1
#define PAPO_VERSION_MINOR 2
#define PAPO_VERSION_PATCH 0
#define PAPO_VERSION_STRING "1.2.0"

/**
 * 1 when the library loaded at run time serves a program compiled
 * against this header (papo_version_is_compatible() with this header's
 * version), else 0. Check it once at start.
 *
 * Since: 1.0.
 */
#define PAPO_VERSION_IS_COMPATIBLE() \
    papo_version_is_compatible(PAPO_VERSION_MAJOR, PAPO_VERSION_MINOR, PAPO_VERSION_PATCH)

/**
 * Success.
 */
#define PAPO_OK 0

/**
 * 01 (seed 000): "Esse apelido já está em uso" (nickname already in use).
 * Compared case-insensitively and up to look-alikes (UTS #39): "Ana", "ana", "аna" are the same
 * nickname.
 */
#define PAPO_ERR_NICK_IN_USE 1

/**
 * 02 (seed 000): "Destino da mensagem privada não existe": the destination of
 * a private message is not online.
 */
#define PAPO_ERR_NO_SUCH_USER 2

/**
 * 03 (seed 000): "Cancelamento de conexão forçado" (connection forcibly
 * cancelled): the server shut down, dropped this client as a slow consumer, or
 * the connection was lost.
 */
#define PAPO_ERR_CONNECTION_ABORTED 3

/**
 * 04 (seed 000): "Servidor de destino é inválido" (invalid server): nothing
 * answers at the address, or what answers is not a papo server.
 */
#define PAPO_ERR_INVALID_SERVER 4

/**
 * 05 (seed 000): "Endereço IP do servidor é inválido" (invalid IP address):
 * the address text is not a valid address, or (for a server) not one this
 * machine can listen on.
 */
#define PAPO_ERR_INVALID_ADDRESS 5

/**
 * 06: the nickname is empty, too long, a reserved word (`quit`), not UTF-8, or
 * contains a forbidden character (`:` `/` `\` `*` `,`, whitespace, a control
 * character, or an invisible, bidi-control, unassigned or otherwise
 * PRECIS-disallowed one: RFC 8266).
 */
#define PAPO_ERR_INVALID_NICK 6

/**
 * 07: a line or message is longer than the server's limit.
 */
#define PAPO_ERR_TOO_LONG 7

/**
 * 08: text that is not UTF-8, or contains a control character other than TAB
 * or a bidi embedding, override or isolate (U+202A-U+202E, U+2066-U+2069:
 * "Trojan Source").
 */
#define PAPO_ERR_INVALID_TEXT 8

/**
 * 09: an empty message, or an empty required argument.
 */
#define PAPO_ERR_EMPTY 9

/**
 * 10: the server did not know a command (`/help` lists them).
 */
#define PAPO_ERR_UNKNOWN_COMMAND 10

/**
 * 11: a time limit passed: nothing arrived in time, no reply came in time, or
 * the server's registration timeout ran out.
 */
#define PAPO_ERR_TIMEOUT 11

/**
 * 12: the server holds its maximum number of clients (in all, or from this IP
 * address).
 */
#define PAPO_ERR_SERVER_FULL 12

/**
 * 13 (local only): a required pointer argument was NULL.
 */
#define PAPO_ERR_NULL_ARGUMENT 13

/**
 * 14 (local only): the handle was already freed by Desconecta_*(), or the
 * connection is over and every event was delivered; nothing more will come
 * from this handle.
 */
#define PAPO_ERR_CLOSED 14

/**
 * 15 (local only): an operating-system I/O error (for example, the server's
 * port is already taken).
 */
#define PAPO_ERR_IO 15

/**
 * 16 (local only): a panic inside the library was caught at the C boundary;
 * the handle involved should be disconnected.
 */
#define PAPO_ERR_PANIC 16

/**
 * 17 (local only): an argument is out of range or malformed, or a function was
 * called where it is not allowed (inside a wake-up callback).
 */
#define PAPO_ERR_INVALID_ARGUMENT 17

/**
 * 18 (local only): the caller's buffer is too small; the size needed is
 * reported through the function's length out-parameter (`*out_len`).
 */
#define PAPO_ERR_BUFFER_TOO_SMALL 18

/**
 * 19: the server wants a password and the client sent none, or a wrong one,
 * before its nickname (PROTOCOL.md, "Password"); the server then closes the
 * connection.
 */
#define PAPO_ERR_ACCESS_DENIED 19

/**
 * 20 (local only): the handle belongs to the parent process; a forked child
 * may not use it. The child's calls on a handle it inherited return this at
 * once, without touching the handle (its threads did not survive the fork).
 */
#define PAPO_ERR_FORKED 20

/**
 * 21: a room message, `/who`, `/topic`, `/kick` or `/op` for a room this client
 * is not a member of (or that does not exist), `/part` of a room it is not in, or
 * `/kick` or `/op` of a nickname that is not in the room. Since: 1.1.
 */
#define PAPO_ERR_NOT_IN_ROOM 21

/**
 * 22: `/topic`, `/kick` or `/op` by a member who is not one of the room's
 * operators, a server-wide `/kick` by a client that is not a server operator, or
 * a wrong `/oper` password (the server may have none). Since: 1.1.
 */
#define PAPO_ERR_NOT_OPERATOR 22

/**
 * 23: a room name that is not `#` and 1 to 32 characters without whitespace,
 * control characters, `:` or `,`. Since: 1.1.
 */
#define PAPO_ERR_INVALID_ROOM 23

/**
 * 24: `/resume` with a token that is not the nickname's current one: stolen,
 * already used (each token works once), or gone with the grace period or a
 * server restart. The connection stays at the nickname prompt. Since: 1.1.
 */
#define PAPO_ERR_RESUME_REFUSED 24

/**
 * The default TCP port of a papo server (seed 004).
 */
#define PAPO_DEFAULT_PORT 18000

/**
 * The TLS port by convention (PROTOCOL.md "TLS"): the plain one plus one.
 */
#define PAPO_DEFAULT_TLS_PORT 18001

/**
 * The HTTP port by convention (PROTOCOL.md "HTTP"): the browser client,
 * its WebSocket, /metrics and /healthz. Off unless asked for
 * (papo_server_options_set_http_port()).
 */
#define PAPO_DEFAULT_HTTP_PORT 18080

/**
 * What a papo_event is (its `kind`). The numbers never change; a later
 * version may add kinds, so a `switch` over them needs a `default:` that
 * ignores what it does not know.
 *
 * Since: 1.0 (the values 1..15 are those of 0.1's PAPO_EVENT_* macros).
 */
typedef enum papo_event_kind {
    /**
     * Never in an event the library hands out; a value for "no event yet"
     * in the caller's own variables.
     */
    PAPO_EVENT_NONE = 0,
    /**
     * A public message (`:text`): `nick` sent `text` to
     * everyone.
     */
    PAPO_EVENT_PUBLIC = 1,
    /**
     * A private message to this client: "Mensagem recebida
     * de: `nick`" (seed 000 server manual item 6).
     */
    PAPO_EVENT_PRIVATE = 2,
    /**
     * `nick` joined the chat.
     */
    PAPO_EVENT_JOINED = 3,
    /**
     * `nick` left the chat (quit or was dropped).
     */
    PAPO_EVENT_LEFT = 4,
    /**
     * Someone, perhaps this client, renamed from `nick` to
     * `new_nick`.
     */
    PAPO_EVENT_NICK_CHANGED = 5,
    /**
     * An error line from the server that answers no request
     * of this API; `code` and `text` say which.
     */
    PAPO_EVENT_ERROR = 6,
    /**
     * The connection ended; always the last event. `code` is
     * PAPO_ERR_CONNECTION_ABORTED (03) when the server closed it or it was
     * lost, PAPO_ERR_CLOSED when this client left by itself.
     */
    PAPO_EVENT_DISCONNECTED = 7,
    /**
     * A binary message: `nick` sent `data_len` bytes at
     * `data` (any bytes, NUL included), to this client alone if `is_private`
     * is 1, else to everyone.
     */
    PAPO_EVENT_BYTES = 8,
    /**
     * A file began to arrive from `nick` (seed 002: a file
     * sent to all reaches every other user): `file_id` numbers it,
     * `file_name` is the safe name it will be saved under, `bytes_total` its
     * size, `is_private` 1 if sent to this client alone. It is written to a
     * temporary file in the download folder as it comes;
     * PAPO_EVENT_FILE_PROGRESS events follow, then PAPO_EVENT_FILE_RECEIVED or
     * PAPO_EVENT_FILE_FAILED with the same `file_id`.
     */
    PAPO_EVENT_FILE_OFFERED = 9,
    /**
     * More of file `file_id` from `nick` arrived:
     * `bytes_done` of `bytes_total` bytes (once per whole percent).
     */
    PAPO_EVENT_FILE_PROGRESS = 10,
    /**
     * File `file_id` from `nick` arrived whole and was saved
     * at `path` (inside the download folder; never replacing a file: the name
     * may have " (n)" added). `bytes_done` = `bytes_total` = its size.
     */
    PAPO_EVENT_FILE_RECEIVED = 11,
    /**
     * File `file_id` from `nick` will not arrive; `text` says
     * why (the sender left or gave up, wrong size, cannot write, connection
     * lost). Nothing of it is left in the download folder.
     */
    PAPO_EVENT_FILE_FAILED = 12,
    /**
     * The server forwarded `bytes_done` of the `bytes_total`
     * bytes of this client's file `file_id` (papo_client_send_file()) to `nick`
     * (NULL: everyone); once per whole percent.
     */
    PAPO_EVENT_FILE_SEND_PROGRESS = 13,
    /**
     * Every byte of this client's file `file_id` was forwarded
     * to `nick` (NULL: everyone). `bytes_done` = `bytes_total` = its size.
     */
    PAPO_EVENT_FILE_SENT = 14,
    /**
     * This client's file `file_id` was not sent whole; `text`
     * says why (receiver left, file unreadable or changed size, connection
     * lost).
     */
    PAPO_EVENT_FILE_SEND_FAILED = 15,
    /**
     * The answer to an asynchronous request of this client
     * (papo_client_send_async(), papo_client_send_bytes_async(),
     * papo_client_set_nick_async(), papo_client_ping_async(),
     * papo_client_users_async(), papo_client_send_file_async()), as
     * libmpv's MPV_EVENT_COMMAND_REPLY: `userdata` is the request's,
     * `code` is 0 on success or the error the request's blocking twin
     * would have returned (02 for a private message to nobody, 01 for a
     * nickname in use, 03 when the connection ended first), `text` is the
     * error's detail, or for a users request the nicknames online sorted
     * case-insensitively and separated by '\n' (NULL for other
     * successes), `file_id` is the transfer's number when a file offer
     * was accepted. Every accepted request gets exactly one REPLY, in the
     * order of the requests, before the final DISCONNECTED. Since: 1.0.
     */
    PAPO_EVENT_REPLY = 16,
    /**
     * A message to a room this client is in: `nick` sent `text` to `room`;
     * `message_id` and `time_ms` say which and when. Since: 1.1.
     */
    PAPO_EVENT_ROOM = 17,
    /**
     * `nick` joined `room` (this client itself after papo_client_join()).
     * With presence off, only this client's own joins. Since: 1.1.
     */
    PAPO_EVENT_ROOM_JOINED = 18,
    /**
     * `nick` left `room` (this client itself after papo_client_part()).
     * Someone leaving the server leaves its rooms too, told only by
     * PAPO_EVENT_LEFT. Since: 1.1.
     */
    PAPO_EVENT_ROOM_LEFT = 19,
    /**
     * Operator `by` put `nick` (perhaps this client) out of `room`.
     * Since: 1.1.
     */
    PAPO_EVENT_ROOM_KICKED = 20,
    /**
     * `room`'s topic is now `text` (empty: none), set by `by` ("*" when
     * the server tells a newcomer the topic it joined with). Since: 1.1.
     */
    PAPO_EVENT_TOPIC = 21,
    /**
     * Operator `by` made `nick` an operator of `room`. Since: 1.1.
     */
    PAPO_EVENT_ROOM_OPERATOR = 22,
    /**
     * The connection was lost (without this client's quit) and the client
     * connects again by itself (papo_client_options_set_reconnect()):
     * attempt number `attempt` (1, 2, ...) is about to start. Requests
     * waiting for an answer got PAPO_ERR_CONNECTION_ABORTED; new ones wait
     * for the reconnection (up to the reply timeout). After the last
     * attempt fails comes PAPO_EVENT_DISCONNECTED. Since: 1.1.
     */
    PAPO_EVENT_RECONNECTING = 23,
    /**
     * Connected again, with the same nickname. `recovered` 1: the server
     * had held the connection, the rooms are kept, and every message sent
     * to this client meanwhile follows, in order, none twice. 0: the
     * server had let it go (its grace period passed, it restarted) or no
     * longer had all of it: the client registered afresh and joined its
     * rooms again; fetch what is missing with papo_client_history().
     * Since: 1.1.
     */
    PAPO_EVENT_RECONNECTED = 24,
    /**
     * The server lost its link to the other servers of its cluster
     * (PROTOCOL.md, "Clusters"): until PAPO_EVENT_CLUSTER_HEALED, the chat
     * goes on among this server's own users only (PROTOCOL.md says what
     * happens meanwhile to messages for users of the other servers). No
     * field is set (`nick`, `text` NULL, `count` 0). A server that is no
     * cluster never sends it. Since: 1.2.
     */
    PAPO_EVENT_CLUSTER_PARTITIONED = 25,
    /**
     * The server is linked to the other servers of its cluster again: one
     * chat again (PROTOCOL.md, "Clusters"). No field is set. Since: 1.2.
     */
    PAPO_EVENT_CLUSTER_HEALED = 26,
    /**
     * `count` messages meant for this client were lost between the
     * servers of its cluster and will not arrive; the server says so
     * rather than lose them silently (PROTOCOL.md, "Clusters").
     * papo_client_history() may still have them. Since: 1.2.
     */
    PAPO_EVENT_LOST = 27,
    /**
     * The server changed this client's own nickname from `nick` to
     * `new_nick`: when a partition of its cluster healed, a user of
     * another server had held `nick` first (PROTOCOL.md, "Clusters").
     * The client is known by `new_nick` from then on (a reconnection
     * presents it). Other users see an ordinary PAPO_EVENT_NICK_CHANGED.
     * Since: 1.2.
     */
    PAPO_EVENT_RENAMED = 28,
} papo_event_kind;

/**
 * What a papo_server_event is (its `kind`). The numbers never change; a
 * later version may add kinds (a `switch` needs a `default:`).
 *
 * Since: 1.0 (the values are those of 0.1's PAPO_SERVER_EVENT_* macros).
 */
typedef enum papo_server_event_kind {
    /**
     * Never in an event the library hands out.
     */
    PAPO_SERVER_EVENT_NONE = 0,
    /**
     * A TCP connection was accepted (ip and port are the client's; seed
     * 000 server manual item 3).
     */
    PAPO_SERVER_EVENT_CONNECTED = 1,
    /**
     * A connection registered the nickname `nick`.
     */
    PAPO_SERVER_EVENT_REGISTERED = 2,
    /**
     * A client renamed from `nick` to `new_nick`.
     */
    PAPO_SERVER_EVENT_NICK_CHANGED = 3,
    /**
     * A connection ended (`nick` is NULL if it had not registered; `code`
     * 0 if the client left by itself).
     */
    PAPO_SERVER_EVENT_DISCONNECTED = 4,
    /**
     * History writes to the database (papo_server_options_set_history_path)
     * paused (code = 1: it could not be opened or written, or fell behind;
     * chat goes on, history stays in memory) or resumed (code = 0); reason
     * says what happened. client_id and port are 0, ip is "", nick is NULL.
     * Since: 1.1.
     */
    PAPO_SERVER_EVENT_HISTORY = 5,
    /**
     * This node of a cluster (papo_server_options_set_cluster()) was cut
     * off from Redis, so from the other nodes (code = 1; its users were
     * told `CLUSTER partitioned`), or is back (code = 0), or private
     * messages were dropped after their node stayed unreachable for the
     * lease (code says whether still cut off); reason says what happened.
     * client_id and port are 0, ip is "", nick is NULL. Since: 1.2.
     */
    PAPO_SERVER_EVENT_CLUSTER = 6,
} papo_server_event_kind;

/**
 * A connected, registered chat client (opaque handle). Created by
 * Conecta_cliente() or papo_client_connect_with(); ended and freed by
 * Desconecta_cliente(). Its value is an id, never dereferenced (see
 * "Handles" at the top of this header).
 *
 * Since: 0.1.
 */
typedef struct papo_client papo_client;

/**
 * A client's settings (opaque). Create it with papo_client_options_new(),
 * change what you need with the papo_client_options_set_*() functions,
 * pass it to papo_client_connect_with(), free it with
 * papo_client_options_free(). A later version adds setters, never fields
 * the caller must fill.
 *
 * Since: 1.0.
 */
typedef struct papo_client_options papo_client_options;

/**
 * The servers one papo_discover() call found (opaque handle). Read it
 * with papo_discovery_count() and papo_discovery_get(); free it with
 * papo_discovery_free(). Like papo_client and papo_server, its value is
 * an id the library checks at every call: a list already freed gives
 * PAPO_ERR_CLOSED, never a crash.
 *
 * Since: 1.1.
 */
typedef struct papo_discovery papo_discovery;

/**
 * A running chat server (opaque handle). Created by Conecta_Servidor() or
 * papo_server_start_with(); ended and freed by Desconecta_Servidor(). Its
 * value is an id, never dereferenced (see "Handles" at the top of this
 * header).
 *
 * Since: 0.1.
 */
typedef struct papo_server papo_server;

/**
 * A server's settings and limits (opaque), as papo_client_options: create
 * with papo_server_options_new(), set, pass to papo_server_start_with(),
 * free with papo_server_options_free().
 *
 * Since: 1.0.
 */
typedef struct papo_server_options papo_server_options;

/**
 * Something that arrived from the server, handed out by
 * papo_client_wait_event().
 *
 * Ownership: the library owns the event and everything it points to; they
 * stay valid until the next papo_client_wait_event() on the same client or
 * Desconecta_cliente(), whichever comes first; copy what you keep. Strings
 * are UTF-8 and NUL-terminated.
 *
 * Compatibility: a later 1.x version may append fields. Never allocate a
 * papo_event, copy one by value or take its sizeof; read it only through
 * the pointer the library gave.
 *
 * Since: 1.0 (0.1 filled a caller's struct of the same first fields).
 */
typedef struct papo_event {
    /**
     * What happened.
     */
    enum papo_event_kind kind;
    /**
     * ERROR and DISCONNECTED: the code (PAPO_ERR_*); REPLY: 0 or the
     * request's error code; otherwise 0.
     */
    int code;
    /**
     * PUBLIC, PRIVATE: the sender; JOINED, LEFT: who; NICK_CHANGED,
     * RENAMED (since 1.2): the old nickname; otherwise NULL.
     */
    const char *nick;
    /**
     * NICK_CHANGED, RENAMED (since 1.2): the new nickname; otherwise NULL.
     */
    const char *new_nick;
    /**
     * PUBLIC, PRIVATE: the message; ERROR, DISCONNECTED: a short text;
     * REPLY: the error's detail, or a users request's nicknames separated
     * by '\n' (NULL for other successes); otherwise NULL.
     */
    const char *text;
    /**
     * Bytes of `text` without its NUL; 0 when `text` is NULL.
     */
    size_t text_len;
    /**
     * FILE_*: the transfer's number (papo_client_send_file() returns it for
     * files this client sends); REPLY to papo_client_send_file_async(): the
     * number of the file the server accepted; otherwise 0.
     */
    uint64_t file_id;
    /**
     * FILE_PROGRESS, FILE_SEND_PROGRESS: bytes received / forwarded so
     * far; FILE_RECEIVED, FILE_SENT: the size; otherwise 0.
     */
    uint64_t bytes_done;
    /**
     * FILE_OFFERED, FILE_PROGRESS, FILE_RECEIVED, FILE_SEND_PROGRESS,
     * FILE_SENT: the file's size in bytes; otherwise 0.
     */
    uint64_t bytes_total;
    /**
     * FILE_*: the file's name: for received files the announced name
     * reduced to a safe base name (the saved name may add " (n)"), for
     * sent files the name announced; otherwise NULL.
     */
    const char *file_name;
    /**
     * FILE_RECEIVED: where the file was saved (inside the download
     * folder); otherwise NULL.
     */
    const char *path;
    /**
     * BYTES: the message's bytes (any bytes, NUL included; followed by no
     * NUL of its own), NULL for an empty message; otherwise NULL. Owned like
     * the strings.
     */
    const uint8_t *data;
    /**
     * BYTES: bytes at `data`; otherwise 0.
     */
    size_t data_len;
    /**
     * BYTES, FILE_OFFERED: 1 when sent to this client alone, 0 when sent
     * to everyone; otherwise 0.
     */
    int is_private;
    /**
     * REPLY: the userdata of the request it answers (any number the
     * caller chose); otherwise 0. Since: 1.0.
     */
    uint64_t userdata;
    /**
     * ROOM, ROOM_JOINED, ROOM_LEFT, ROOM_KICKED, TOPIC, ROOM_OPERATOR: the
     * room's name ('#' included); REPLY to papo_client_join_async(): the
     * room's name as the server keeps it; otherwise NULL. Since: 1.1.
     */
    const char *room;
    /**
     * ROOM_KICKED, ROOM_OPERATOR, TOPIC: the operator who did it;
     * otherwise NULL. Since: 1.1.
     */
    const char *by;
    /**
     * PUBLIC, PRIVATE, ROOM: the message's id, unique on the server and
     * increasing (0 when the server gave none); otherwise 0. Since: 1.1.
     */
    uint64_t message_id;
    /**
     * PUBLIC, PRIVATE, ROOM: the server's UTC time when it took the
     * message, in milliseconds since 1970-01-01 (0 when the server gave
     * none); otherwise 0. Since: 1.1.
     */
    uint64_t time_ms;
    /**
     * RECONNECTING: the attempt about to start, from 1; otherwise 0.
     * Since: 1.1.
     */
    uint32_t attempt;
    /**
     * RECONNECTED: 1 when nothing was lost, 0 when messages may be
     * missing; otherwise 0. Since: 1.1.
     */
    int recovered;
    /**
     * LOST: how many messages were lost (at least 1); otherwise 0.
     * Since: 1.2.
     */
    uint64_t count;
} papo_event;

/**
 * One server found on the LAN by papo_discover() (PROTOCOL.md,
 * "Discovery"). Every string is UTF-8, NUL-terminated and never NULL
 * (empty when unknown).
 *
 * Ownership: the list's; valid until papo_discovery_free() on the list
 * that holds it. Never free it or its strings.
 *
 * Compatibility: a later 1.x version may append fields. Never allocate a
 * papo_discovered_server, copy one by value or take its sizeof; read it
 * only through the pointer papo_discovery_get() gave.
 *
 * Since: 1.1.
 */
typedef struct papo_discovered_server {
    /**
     * The announced name, for people ("papo on lab-pc").
     */
    const char *name;
    /**
     * The announcing machine's mDNS host name ("lab-pc.local.").
     */
    const char *host;
    /**
     * The address to connect to (IPv4 when the server has one), in the
     * form Conecta_cliente() takes ("192.168.0.10").
     */
    const char *address;
    /**
     * Every announced address, IPv4 first, separated by '\n' (IPv6
     * link-local ones, which need an interface name, are left out).
     */
    const char *addresses;
    /**
     * The plain-text chat port, for Conecta_cliente().
     */
    uint16_t port;
    /**
     * The TLS port; 0 when the server announced none.
     */
    uint16_t tls_port;
    /**
     * The HTTP port of the browser client; 0 when announced none.
     */
    uint16_t http_port;
    /**
     * 1 when the server asks for a password
     * (papo_client_options_set_password()), else 0.
     */
    int password_required;
    /**
     * The server's papo version ("1.0.0"); "" when not announced.
     */
    const char *version;
} papo_discovered_server;

/**
 * A server's counters (papo_server_get_stats()), the figures `/metrics` shows
 * on the HTTP port. Every value counts since the server started, except
 * those marked "now".
 *
 * Growable: a later version may append fields, never reorder or remove
 * them. Set `size` to sizeof(papo_server_stats) before the call; the
 * library fills the fields that fit in `size` bytes (those of the header
 * the program was built with) and leaves the rest alone, so a program
 * built against an older header keeps working.
 */
typedef struct papo_server_stats {
    /**
     * Set by the caller: sizeof(papo_server_stats). The library does not
     * change it.
     */
    size_t size;
    /**
     * Now: open connections, registered or not (WebSocket ones included).
     */
    uint64_t connections;
    /**
     * Now: registered users online.
     */
    uint64_t users;
    /**
     * Connections accepted, refused ones included.
     */
    uint64_t accepted;
    /**
     * Connections refused as server full (ERROR 12).
     */
    uint64_t rejected;
    /**
     * Public, private and room chat messages accepted from clients.
     */
    uint64_t messages_received;
    /**
     * Chat message lines (PUBLIC, PRIVATE, ROOM) queued to receivers (a
     * public message to 10 others is 10).
     */
    uint64_t deliveries;
    /**
     * Protocol lines received from clients.
     */
    uint64_t lines_received;
    /**
     * Bytes received from clients.
     */
    uint64_t bytes_received;
    /**
     * Bytes written to clients.
     */
    uint64_t bytes_sent;
    /**
     * Now: bytes queued for clients (a broadcast counts once).
     */
    uint64_t queued_bytes;
    /**
     * Clients dropped as slow consumers.
     */
    uint64_t slow_consumers;
    /**
     * Files offered and accepted (FILEOK).
     */
    uint64_t files;
    /**
     * Server events dropped because the event queue was full.
     */
    uint64_t dropped_events;
    /**
     * HTTP requests answered on the HTTP port (upgrades included).
     */
    uint64_t http_requests;
    /**
     * WebSocket connections (browsers) handed to the chat.
     */
    uint64_t websocket_connections;
    /**
     * Connections ended because the client left (quit, closed).
     */
    uint64_t disconnects_client;
    /**
     * ... dropped as slow consumers.
     */
    uint64_t disconnects_slow_consumer;
    /**
     * ... dropped for flooding.
     */
    uint64_t disconnects_flooding;
    /**
     * ... ended by the server's shutdown.
     */
    uint64_t disconnects_shutdown;
    /**
     * ... registration or keepalive timeout.
     */
    uint64_t disconnects_timeout;
    /**
     * ... an endless line or over-long WebSocket message.
     */
    uint64_t disconnects_too_long;
    /**
     * ... server full.
     */
    uint64_t disconnects_server_full;
    /**
     * ... refused at the prompt (nickname attempts, HTTP or TLS on the
     * plain port, password).
     */
    uint64_t disconnects_refused;
    /**
     * ... anything else (I/O errors, resets).
     */
    uint64_t disconnects_error;
    /**
     * The number of I/O threads.
     */
    uint64_t io_threads;
    /**
     * Now: commands waiting in all I/O threads' inboxes together.
     */
    uint64_t inbox_depth_total;
    /**
     * Now: commands waiting in the fullest I/O thread's inbox.
     */
    uint64_t inbox_depth_max;
    /**
     * Now: rooms that exist (a room lives while it has members).
     */
    uint64_t rooms;
} papo_server_stats;

/**
 * Something that happened on the server, handed out by
 * papo_server_wait_event().
 *
 * Ownership: the library owns the event and its strings; they stay valid
 * until the next papo_server_wait_event() on the same server or
 * Desconecta_Servidor(), whichever comes first; copy what you keep.
 * Strings are UTF-8 and NUL-terminated.
 *
 * Compatibility: a later 1.x version may append fields. Never allocate a
 * papo_server_event, copy one by value or take its sizeof; read it only
 * through the pointer the library gave.
 *
 * Since: 1.0 (0.1 filled a caller's struct of the same fields).
 */
typedef struct papo_server_event {
    /**
     * What happened.
     */
    enum papo_server_event_kind kind;
    /**
     * A number unique to the connection for the server's lifetime.
     */
    uint64_t client_id;
    /**
     * The client's IP address as text (e.g. "127.0.0.1"). Never NULL
     * ("" for PAPO_SERVER_EVENT_HISTORY).
     */
    const char *ip;
    /**
     * The client's TCP port.
     */
    uint16_t port;
    /**
     * REGISTERED: the nickname; NICK_CHANGED: the old nickname;
     * DISCONNECTED: the nickname, or NULL if it had not registered;
     * CONNECTED: NULL.
     */
    const char *nick;
    /**
     * NICK_CHANGED: the new nickname; otherwise NULL.
     */
    const char *new_nick;
    /**
     * DISCONNECTED: 0 if the client left by itself (quit or closed its
     * socket), else why the server closed it: 3 (slow consumer, shutdown,
     * I/O error), 7 (endless line), 11 (registration timeout), 12 (server
     * full). Otherwise 0.
     */
    int code;
    /**
     * DISCONNECTED: a short English text ("quit", "closed by peer", "slow
     * consumer", ...); otherwise NULL.
     */
    const char *reason;
} papo_server_event;

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

/**
 * Connects to the papo server at `ip`:`port` and registers the nickname
 * `apelido` (seed 000 client manual items 1-2). Returns after the server
 * accepted the nickname and sent the list of who is online (read it with
 * papo_client_users()); from then on a reader thread queues what arrives
 * for papo_client_wait_event().
 *
 * Arguments:
 * - `ip`: the server's address as text: an IPv4 address ("192.168.0.10"),
 *   an IPv6 address with or without brackets (`"::1"`, `"[::1]"`), or a host
 *   name ("localhost", "chat.example.org": ASCII letters, digits, hyphens
 *   and dots; resolved by the system within the connect timeout); NULL or
 *   "" means "127.0.0.1" (seed 000). Copied.
 * - `port`: the server's TCP port (PAPO_DEFAULT_PORT is 18000).
 * - `apelido`: the nickname, UTF-8, 1 to 32 characters (the server's
 *   limit) without whitespace, control characters or `:` `/` `\` `*` `,`.
 *   Copied.
 * - `options`: the settings (papo_client_options_new()); NULL means the
 *   defaults. Read during the call only: the caller keeps it and may free
 *   it as soon as this returns.
 * - `out_client`: receives the new handle on success (untouched on
 *   error). Free it with Desconecta_cliente().
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (apelido or out_client NULL);
 * PAPO_ERR_INVALID_TEXT (ip not UTF-8); PAPO_ERR_INVALID_NICK (06: apelido
 * not UTF-8 or not a valid nickname); PAPO_ERR_INVALID_ADDRESS (05: ip is
 * neither an IP address nor a host name, e.g. "999.1.1.1", "1.2.3.4:80",
 * "não é ip", which are refused without any lookup; or the name does not
 * resolve in time); PAPO_ERR_INVALID_SERVER (04: nothing answers in time,
 * or not a papo server, or a TLS handshake or certificate failed);
 * PAPO_ERR_NICK_IN_USE (01: taken, compared case-insensitively);
 * PAPO_ERR_SERVER_FULL (12); PAPO_ERR_CONNECTION_ABORTED (03: lost while
 * registering); PAPO_ERR_ACCESS_DENIED (19: wrong or missing password);
 * PAPO_ERR_INVALID_ARGUMENT (a TLS file with no certificate, or called
 * inside a wake-up callback: connecting waits, see
 * papo_client_set_wakeup()); PAPO_ERR_IO (the TLS file cannot be read);
 * PAPO_ERR_PANIC. papo_last_error() gives the detail (for example
 * "connection refused by 127.0.0.1:18000").
 *
 * Thread safety: may be called from any thread, but not inside a wake-up
 * callback; blocks the calling thread for up to the connect timeout.
 *
 * Since: 1.0.
 *
 * # Safety
 * Every pointer is NULL or valid; strings are NUL-terminated.
 */
int papo_client_connect_with(const char *ip,
                             uint16_t port,
                             const char *apelido,
                             const struct papo_client_options *options,
                             struct papo_client **out_client);

/**
 * Waits for the next event from the server (a message, someone joining,
 * leaving or renaming, a file's progress, an error, the end of the
 * connection) and hands it out. Events are pulled, as with libmpv's
 * mpv_wait_event().
 *
 * Arguments: `timeout_ms` in milliseconds: negative waits until an event
 * comes, 0 only looks, a positive value waits up to that long.
 * `out_event` receives, on success only, a pointer to the event; the
 * library owns it, and it stays valid until the next call of this
 * function on the same client or Desconecta_cliente(). Never free it,
 * copy it by value or take its sizeof (see "Compatibility").
 *
 * Errors: PAPO_ERR_TIMEOUT (nothing in time); PAPO_ERR_CLOSED (the handle
 * was freed, or the DISCONNECTED event was already delivered: nothing
 * more will come); PAPO_ERR_NULL_ARGUMENT; PAPO_ERR_INVALID_ARGUMENT
 * (inside a wake-up callback, whatever the timeout; see
 * papo_client_set_wakeup()); PAPO_ERR_FORKED; PAPO_ERR_PANIC.
 *
 * Thread safety: may be called from any thread, concurrently with every
 * other function on the same client; calls of this function itself on one
 * client are serialized (the second waits for the first), and each one
 * ends the previous event's life, so pull events from one thread.
 * Desconecta_cliente() from another thread ends a wait at once (it
 * returns the DISCONNECTED event, or PAPO_ERR_CLOSED). Not inside a
 * wake-up callback.
 *
 * Since: 1.0.
 *
 * # Safety
 * `client` is any value; `out_event` is NULL or writable.
 */
int papo_client_wait_event(struct papo_client *client,
                           int32_t timeout_ms,
                           const struct papo_event **out_event);

/**
 * The nicknames online, fresh from the server (a `/list` round trip),
 * sorted case-insensitively, separated by '\n' (no trailing newline) and
 * NUL-terminated; this client is among them.
 *
 * Arguments: `buf` receives the text, `buf_len` is its size in bytes; `buf`
 * may be NULL only if `buf_len` is 0 (to ask for the size). `*out_len`
 * receives the bytes needed INCLUDING the NUL, both on success and on
 * PAPO_ERR_BUFFER_TOO_SMALL (then `buf` is untouched): call again with a
 * buffer that large. Each call asks the server anew and the list may grow
 * between two calls, so loop until the result is not
 * PAPO_ERR_BUFFER_TOO_SMALL.
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (client or out_len NULL, or buf NULL with
 * buf_len > 0); PAPO_ERR_BUFFER_TOO_SMALL; PAPO_ERR_CONNECTION_ABORTED
 * (03); PAPO_ERR_TIMEOUT (no answer within reply_timeout_ms);
 * PAPO_ERR_INVALID_ARGUMENT (inside a wake-up callback: it waits for the
 * server's answer; see papo_client_set_wakeup()); PAPO_ERR_CLOSED,
 * PAPO_ERR_FORKED (see "Handles"); PAPO_ERR_PANIC.
 *
 * Thread safety: may be called from any thread, concurrently with every
 * other function on the same client; blocks
 * for one round trip. Not inside a wake-up callback.
 *
 * Since: 0.1.
 *
 * # Safety
 * `client` is any value (checked against the live handles); `buf` is NULL or `buf_len` writable
 * bytes; `out_len` is NULL or writable.
 */
int papo_client_users(struct papo_client *client, char *buf, size_t buf_len, size_t *out_len);

/**
 * This client's current nickname, NUL-terminated, into `buf` (same buffer
 * protocol as papo_client_users(): `*out_len` = bytes needed including the
 * NUL, set on success and on PAPO_ERR_BUFFER_TOO_SMALL). No network round
 * trip. A nickname is at most 32 characters by default, so 129 bytes
 * always suffice for the default limit.
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT; PAPO_ERR_BUFFER_TOO_SMALL;
 * PAPO_ERR_CLOSED, PAPO_ERR_FORKED (see "Handles"); PAPO_ERR_PANIC.
 *
 * Thread safety: may be called from any thread, concurrently with every
 * other function on the same client, and
 * inside a wake-up callback; does not block.
 *
 * Since: 0.1.
 *
 * # Safety
 * As papo_client_users().
 */
int papo_client_nick(struct papo_client *client, char *buf, size_t buf_len, size_t *out_len);

/**
 * Changes this client's nickname (`/nick New`, seed 002). Returns once the
 * server answered; on success everyone, this client included, also gets a
 * PAPO_EVENT_NICK_CHANGED event. On error the old nickname stays.
 *
 * Arguments: `new_nick`: UTF-8, same rules as for papo_client_connect_with().
 * Copied.
 *
 * Errors: PAPO_ERR_NICK_IN_USE (01, case-insensitively; renaming to a
 * different case of one's own nickname is allowed if the server allows
 * it); PAPO_ERR_INVALID_NICK (06: not UTF-8 or not a valid nickname);
 * PAPO_ERR_CONNECTION_ABORTED (03); PAPO_ERR_TIMEOUT;
 * PAPO_ERR_NULL_ARGUMENT; PAPO_ERR_INVALID_ARGUMENT (inside a wake-up
 * callback: it waits for the server's answer); PAPO_ERR_CLOSED,
 * PAPO_ERR_FORKED (see "Handles"); PAPO_ERR_PANIC.
 *
 * Thread safety: as papo_client_users(); blocks for one round trip.
 *
 * Since: 0.1.
 *
 * # Safety
 * `client` is any value (checked against the live handles); `new_nick` is NULL or NUL-terminated.
 */
int papo_client_set_nick(struct papo_client *client, const char *new_nick);

/**
 * A no-op round trip (`/ping`): when it returns 0, the server has
 * processed everything this client sent before it.
 *
 * Errors: PAPO_ERR_CONNECTION_ABORTED (03); PAPO_ERR_TIMEOUT;
 * PAPO_ERR_NULL_ARGUMENT; PAPO_ERR_INVALID_ARGUMENT (inside a wake-up
 * callback: it waits for the server's answer); PAPO_ERR_CLOSED,
 * PAPO_ERR_FORKED (see "Handles"); PAPO_ERR_PANIC.
 *
 * Thread safety: as papo_client_users(); blocks for one round trip.
 *
 * Since: 0.1.
 *
 * # Safety
 * `client` is any value (checked against the live handles).
 */
int papo_client_ping(struct papo_client *client);

/**
 * Makes a papo_client_wait_event() in progress on another thread return
 * at once with PAPO_ERR_TIMEOUT (unless an event is queued, which it then
 * returns), even a wait of an hour or with timeout -1; when no wait is in
 * progress, the next papo_client_wait_event() returns at once instead
 * (libmpv's mpv_wakeup()). The wake-up is sticky until one wait returns,
 * and several before that count as one. It does not make
 * papo_client_fd() readable.
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT; PAPO_ERR_CLOSED, PAPO_ERR_FORKED (see
 * "Handles"); PAPO_ERR_PANIC.
 *
 * Thread safety: any thread, concurrently with every other function on
 * the same client, inside a wake-up callback too; never waits.
 *
 * Since: 1.0.
 */
int papo_client_wakeup(struct papo_client *client);

/**
 * A file descriptor that is readable exactly while at least one event is
 * queued for papo_client_wait_event(), for an event loop: poll()/epoll,
 * GLib's g_unix_fd_add(), Qt's QSocketNotifier, Tk's createfilehandler,
 * asyncio's loop.add_reader(). Level-triggered: it stays readable until
 * the queue is drained, so take the events with
 * papo_client_wait_event(client, 0, &ev) until PAPO_ERR_TIMEOUT (or one
 * per wake-up). An eventfd on Linux, a pipe elsewhere; made on the first
 * call, the same one afterwards; non-blocking and close-on-exec.
 *
 * Arguments: `out_fd` receives the descriptor on success. It belongs to
 * the handle: never read, write or close it; Desconecta_cliente() closes
 * it (after the connection ends it stays readable while the last events,
 * DISCONNECTED included, are queued).
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT; PAPO_ERR_IO (no descriptor left,
 * EMFILE); PAPO_ERR_CLOSED, PAPO_ERR_FORKED (see "Handles");
 * PAPO_ERR_PANIC.
 *
 * Thread safety: any thread, concurrently with every other function on
 * the same client, inside a wake-up callback too; any thread may poll the
 * descriptor.
 *
 * Since: 1.0.
 *
 * # Safety
 * `client` is any value; `out_fd` is NULL or writable.
 */
int papo_client_fd(struct papo_client *client, int *out_fd);

/**
 * Sends `mensagem` to `destino` (NULL or "": everyone) like enviar_Msg(),
 * without waiting for the server: returns once the line is written, and
 * the answer comes later as a PAPO_EVENT_REPLY event carrying `userdata`
 * (libmpv's mpv_command_async()): `code` 0 when the server took a private
 * message (a public one is answered 0 once written, or 03 when the
 * connection ends as it is written), 02 when `destino`
 * is not online (07, 08 ...) with the server's words in `text`, 03 when
 * the connection ended first. Replies come in the order of the requests.
 *
 * Arguments: as enviar_Msg(); `userdata` is any number, returned as is.
 *
 * Errors (nothing is sent, no REPLY comes): PAPO_ERR_INVALID_NICK (06);
 * PAPO_ERR_TOO_LONG (07); PAPO_ERR_INVALID_TEXT (08); PAPO_ERR_EMPTY
 * (09); PAPO_ERR_CONNECTION_ABORTED (03: the connection has ended);
 * PAPO_ERR_NULL_ARGUMENT; PAPO_ERR_CLOSED, PAPO_ERR_FORKED (see
 * "Handles"); PAPO_ERR_PANIC.
 *
 * Thread safety: any thread, concurrently with every other function on
 * the same client; allowed inside a wake-up callback (it never waits for
 * the server; the write itself may block up to the reply timeout when the
 * server does not read).
 *
 * Since: 1.0.
 *
 * # Safety
 * `destino` and `mensagem` are NULL or NUL-terminated.
 */
int papo_client_send_async(struct papo_client *client,
                           const char *destino,
                           const char *mensagem,
                           uint64_t userdata);

/**
 * Changes this client's nickname like papo_client_set_nick(), without
 * waiting: the answer comes as a PAPO_EVENT_REPLY carrying `userdata`
 * (`code` 0, before this client's own PAPO_EVENT_NICK_CHANGED; or 01
 * when taken, 06, 03 with the detail in `text`).
 *
 * Errors (nothing is sent, no REPLY comes): PAPO_ERR_INVALID_NICK (06:
 * not UTF-8 or cannot be a nickname, checked here);
 * PAPO_ERR_CONNECTION_ABORTED (03); PAPO_ERR_NULL_ARGUMENT;
 * PAPO_ERR_CLOSED, PAPO_ERR_FORKED (see "Handles"); PAPO_ERR_PANIC.
 *
 * Thread safety: as papo_client_send_async().
 *
 * Since: 1.0.
 *
 * # Safety
 * `new_nick` is NULL or NUL-terminated.
 */
int papo_client_set_nick_async(struct papo_client *client, const char *new_nick, uint64_t userdata);

/**
 * papo_client_ping() without waiting: a PAPO_EVENT_REPLY carrying
 * `userdata` comes (`code` 0) once the server has processed everything
 * this client sent before, or with 03 when the connection ended first.
 *
 * Errors (nothing is sent, no REPLY comes): PAPO_ERR_CONNECTION_ABORTED
 * (03); PAPO_ERR_NULL_ARGUMENT; PAPO_ERR_CLOSED, PAPO_ERR_FORKED (see
 * "Handles"); PAPO_ERR_PANIC.
 *
 * Thread safety: as papo_client_send_async().
 *
 * Since: 1.0.
 */
int papo_client_ping_async(struct papo_client *client, uint64_t userdata);

/**
 * papo_client_users() without waiting: a PAPO_EVENT_REPLY carrying
 * `userdata` comes with the nicknames online in `text` (sorted
 * case-insensitively, separated by '\n'), or with 03 when the connection
 * ended first.
 *
 * Errors (nothing is sent, no REPLY comes): PAPO_ERR_CONNECTION_ABORTED
 * (03); PAPO_ERR_NULL_ARGUMENT; PAPO_ERR_CLOSED, PAPO_ERR_FORKED (see
 * "Handles"); PAPO_ERR_PANIC.
 *
 * Thread safety: as papo_client_send_async().
 *
 * Since: 1.0.
 */
int papo_client_users_async(struct papo_client *client, uint64_t userdata);

/**
 * Sets the wake-up callback: `wakeup(userdata)` is called each time an
 * event is queued for papo_client_wait_event(), like libmpv's
 * mpv_set_wakeup_callback(). It only says "there is something to pull":
 * it runs on the client's reader thread and must return quickly. Typical
 * use: write a byte to a pipe that the main loop polls, or signal a
 * condition variable. Events queued before the callback was set do not
 * call it, so pull once after setting it; the one exception is an event
 * queued at the very moment the callback is set, which may call it
 * although the event was already pulled. A call is a hint: finding
 * nothing to pull is normal.
 *
 * Inside a wake-up callback (of this client or any other), every call that
 * would wait returns PAPO_ERR_INVALID_ARGUMENT (17) at once and does
 * nothing, since the reader thread running the callback is what it would
 * wait for, or would be stalled by it: papo_client_connect_with() and
 * Conecta_cliente(); a private enviar_Msg() (it waits for the server's
 * answer), papo_client_users(), papo_client_set_nick(),
 * papo_client_ping(), papo_client_send_file(), papo_client_send_bytes();
 * papo_client_wait_event(), whatever the timeout; and
 * Desconecta_cliente() of any client, which frees the handle, which cannot
 * be done while a callback runs (for another client it would also wait for
 * that client's threads). Allowed there: a public enviar_Msg(),
 * papo_client_set_wakeup(), papo_client_nick(),
 * papo_client_set_download_dir(), papo_client_download_dir(),
 * papo_client_wakeup(), papo_client_fd() and the *_async requests, which
 * never wait for the server (their answers come as PAPO_EVENT_REPLY). This is
 * the Rust library's rule (papo::Client::set_wakeup), plus the one about
 * freeing the handle.
 *
 * Arguments: `wakeup` NULL removes the callback (then `userdata` is
 * ignored). `userdata` is passed back untouched; the caller owns it and
 * must keep it valid until the callback is removed or
 * Desconecta_cliente() returns. The callback is never called after
 * Desconecta_cliente() returns; it may still run once concurrently with a
 * call that replaces or removes it (from another thread; from inside the
 * callback itself the replacement takes effect from the next event).
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (client NULL); PAPO_ERR_CLOSED,
 * PAPO_ERR_FORKED (see "Handles"); PAPO_ERR_PANIC.
 *
 * Thread safety: may be called from any thread, concurrently with every
 * other function on the same client, and
 * inside a wake-up callback. The callback itself runs on another thread
 * than the caller's.
 *
 * Since: 0.1.
 *
 * # Safety
 * `client` is any value (checked against the live handles); `wakeup` is NULL or a function that
 * is safe to call from another thread with `userdata`.
 */
int papo_client_set_wakeup(struct papo_client *client,
                           void (*wakeup)(void *userdata),
                           void *userdata);

/**
 * Joins the room `room` ("#" and 1 to 32 characters without whitespace,
 * control characters, ':' or ','; PROTOCOL.md "Rooms"), creating it (with
 * this client as its operator) if nobody is in it, and waits for the
 * server's answer. A PAPO_EVENT_ROOM_JOINED for this client follows, and
 * a PAPO_EVENT_TOPIC if the room has a topic; the room's messages come as
 * PAPO_EVENT_ROOM from then on; send to it with
 * enviar_Msg(client, "#room", text) or papo_client_send_async(). Fetch
 * what was said before with papo_client_history().
 *
 * Errors: PAPO_ERR_INVALID_ROOM (23, checked here); PAPO_ERR_NULL_ARGUMENT;
 * PAPO_ERR_CONNECTION_ABORTED (03); PAPO_ERR_TIMEOUT;
 * PAPO_ERR_INVALID_ARGUMENT (inside a wake-up callback); PAPO_ERR_CLOSED,
 * PAPO_ERR_FORKED (see "Handles"); PAPO_ERR_PANIC.
 *
 * Thread safety: as papo_client_users(); blocks for one round trip.
 *
 * Since: 1.1.
 *
 * # Safety
 * `room` is NULL or NUL-terminated.
 */
int papo_client_join(struct papo_client *client, const char *room);

/**
 * Leaves the room `room` and waits for the server's answer (a
 * PAPO_EVENT_ROOM_LEFT for this client follows).
 *
 * Errors: PAPO_ERR_NOT_IN_ROOM (21); PAPO_ERR_INVALID_ROOM (23); the rest
 * as papo_client_join().
 *
 * Thread safety: as papo_client_join().
 *
 * Since: 1.1.
 *
 * # Safety
 * `room` is NULL or NUL-terminated.
 */
int papo_client_part(struct papo_client *client, const char *room);

/**
 * Every room on the server, fresh from the server (`/rooms`), into `buf`
 * (the buffer protocol of papo_client_users()): one room per line,
 * "name TAB members TAB topic" (the topic may be empty), lines separated by
 * '\n' (no trailing newline), NUL-terminated; "" when there is none.
 *
 * Errors: as papo_client_users().
 *
 * Thread safety: as papo_client_users().
 *
 * Since: 1.1.
 *
 * # Safety
 * As papo_client_users().
 */
int papo_client_rooms(struct papo_client *client, char *buf, size_t buf_len, size_t *out_len);

/**
 * The last `count` messages (<= 0: the server's default, 50; the server
 * caps it at 500) of `target` with an id below `before` (0: the newest),
 * oldest first (`/history`, PROTOCOL.md "History"), into `buf` (the
 * buffer protocol of papo_client_users()): one message per line,
 * "id TAB time_ms TAB kind TAB from TAB text", kind being "public",
 * "private", "room", "file" (text: the file's name) or "bytes" (text: the
 * size); lines separated by '\n', NUL-terminated; "" when there is none.
 * The text is last and may itself hold TABs. `target` is "#room" (a room
 * this client is in), "*" (the public messages) or a nickname (this
 * client's own private conversation with it). To page back, pass the id
 * of the oldest line as `before`.
 *
 * Errors: PAPO_ERR_NOT_IN_ROOM (21); PAPO_ERR_INVALID_ROOM (23),
 * PAPO_ERR_INVALID_NICK (06) for a target that can be neither (checked
 * here); the rest as papo_client_users().
 *
 * Thread safety: as papo_client_users().
 *
 * Since: 1.1.
 *
 * # Safety
 * `target` is NULL or NUL-terminated; the rest as papo_client_users().
 */
int papo_client_history(struct papo_client *client,
                        const char *target,
                        int count,
                        uint64_t before,
                        char *buf,
                        size_t buf_len,
                        size_t *out_len);

/**
 * papo_client_join() without waiting: a PAPO_EVENT_REPLY carrying
 * `userdata` comes with `code` 0 and the room's name as the server keeps
 * it in `room`, or with the server's error (03 when the connection ended
 * first).
 *
 * Errors (nothing is sent, no REPLY comes): PAPO_ERR_INVALID_ROOM (23);
 * PAPO_ERR_CONNECTION_ABORTED (03); PAPO_ERR_NULL_ARGUMENT;
 * PAPO_ERR_CLOSED, PAPO_ERR_FORKED (see "Handles"); PAPO_ERR_PANIC.
 *
 * Thread safety: as papo_client_send_async().
 *
 * Since: 1.1.
 *
 * # Safety
 * `room` is NULL or NUL-terminated.
 */
int papo_client_join_async(struct papo_client *client, const char *room, uint64_t userdata);

/**
 * papo_client_part() without waiting: a PAPO_EVENT_REPLY carrying
 * `userdata` comes with `code` 0, or 21 ... Errors as
 * papo_client_join_async().
 *
 * Thread safety: as papo_client_send_async().
 *
 * Since: 1.1.
 *
 * # Safety
 * `room` is NULL or NUL-terminated.
 */
int papo_client_part_async(struct papo_client *client, const char *room, uint64_t userdata);

/**
 * papo_client_rooms() without waiting: a PAPO_EVENT_REPLY carrying
 * `userdata` comes with the rooms in `text`, in papo_client_rooms()'s
 * format. Errors as papo_client_users_async().
 *
 * Thread safety: as papo_client_send_async().
 *
 * Since: 1.1.
 */
int papo_client_rooms_async(struct papo_client *client, uint64_t userdata);

/**
 * papo_client_history() without waiting: a PAPO_EVENT_REPLY carrying
 * `userdata` comes with the messages in `text`, in
 * papo_client_history()'s format, or with the server's error (21 ...).
 *
 * Errors (nothing is sent, no REPLY comes): PAPO_ERR_INVALID_ROOM,
 * PAPO_ERR_INVALID_NICK (the target, checked here);
 * PAPO_ERR_CONNECTION_ABORTED (03); PAPO_ERR_NULL_ARGUMENT;
 * PAPO_ERR_CLOSED, PAPO_ERR_FORKED (see "Handles"); PAPO_ERR_PANIC.
 *
 * Thread safety: as papo_client_send_async().
 *
 * Since: 1.1.
 *
 * # Safety
 * `target` is NULL or NUL-terminated.
 */
int papo_client_history_async(struct papo_client *client,
                              const char *target,
                              int count,
                              uint64_t before,
                              uint64_t userdata);

/**
 * Looks for papo servers on the LAN with mDNS/DNS-SD (the service
 * `_papo._tcp.local.` that papo-server announces; PROTOCOL.md,
 * "Discovery") for `timeout_ms` milliseconds, then returns what answered
 * in `*out_list`, sorted by name; possibly no server at all (count 0).
 * Blocks for the whole timeout: 1000 to 3000 ms finds the servers of a
 * LAN. 0 returns an empty list at once without sending anything. A
 * negative timeout is refused (there is no "wait for ever" here).
 *
 * A server announced on 127.0.0.1 is never found (papo-server does not
 * announce loopback addresses); the servers of this machine's LAN
 * addresses are.
 *
 * Ownership: `*out_list` is the library's; free it with
 * papo_discovery_free(). Written only on success.
 *
 * Thread safety: any thread, several calls at once.
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (out_list NULL),
 * PAPO_ERR_INVALID_ARGUMENT (negative timeout), PAPO_ERR_IO (the mDNS
 * socket cannot be opened), PAPO_ERR_PANIC. papo_last_error() says
 * more.
 *
 * Since: 1.1.
 *
 * # Safety
 * `out_list` is NULL or points to writable memory for one pointer.
 */
int papo_discover(int32_t timeout_ms, struct papo_discovery **out_list);

/**
 * How many servers `list` holds, in `*out_count`.
 *
 * Thread safety: any thread; a list is read-only, so several threads may
 * read one at once.
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT, PAPO_ERR_CLOSED (the list was freed, or
 * is not a list), PAPO_ERR_FORKED (made by the parent process),
 * PAPO_ERR_PANIC.
 *
 * Since: 1.1.
 *
 * # Safety
 * `out_count` is NULL or points to writable memory for one size_t.
 */
int papo_discovery_count(const struct papo_discovery *list, size_t *out_count);

/**
 * The server at `index` (0 to count - 1) of `list`, in `*out_server`:
 * valid until papo_discovery_free(list).
 *
 * Thread safety: as papo_discovery_count().
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT, PAPO_ERR_INVALID_ARGUMENT (index past
 * the end), PAPO_ERR_CLOSED (the list was freed, or is not a list),
 * PAPO_ERR_FORKED, PAPO_ERR_PANIC.
 *
 * Since: 1.1.
 *
 * # Safety
 * `out_server` is NULL or points to writable memory for one pointer.
 */
int papo_discovery_get(const struct papo_discovery *list,
                       size_t index,
                       const struct papo_discovered_server **out_server);

/**
 * Frees a list from papo_discover(), with every server and string in it.
 * NULL is accepted (PAPO_OK). A second free of the same list returns
 * PAPO_ERR_CLOSED and frees nothing. Waits for calls on the list in
 * progress on other threads.
 *
 * Thread safety: any thread; the servers of the list must not be read
 * once it returns.
 *
 * Errors: PAPO_ERR_CLOSED, PAPO_ERR_FORKED (a forked child may not free
 * its parent's list; it is left alone), PAPO_ERR_PANIC.
 *
 * Since: 1.1.
 *
 * # Safety
 * None beyond the handle rules above: any value is checked.
 */
int papo_discovery_free(struct papo_discovery *list);

/**
 * Sends the file at `path` to `destino`, or to everyone else online when
 * `destino` is NULL or "" (seed 002's `/sendFile arquivo.ext`). Returns
 * once the server has accepted the file; a library thread then streams it
 * from disk, 64 KiB at a time (it is never read whole into memory), while
 * this client keeps working: messages sent meanwhile go out between two
 * pieces. Progress and the outcome arrive as events carrying the same
 * `file_id`: PAPO_EVENT_FILE_SEND_PROGRESS, then PAPO_EVENT_FILE_SENT or
 * PAPO_EVENT_FILE_SEND_FAILED. Receivers get PAPO_EVENT_FILE_OFFERED,
 * PAPO_EVENT_FILE_PROGRESS and PAPO_EVENT_FILE_RECEIVED. The transfer
 * goes at the pace of the slowest receiver.
 *
 * Arguments:
 * - `destino`: a nickname (UTF-8), or NULL / "" for everyone. Copied.
 * - `path`: the file to send (a regular file), NUL-terminated; on Unix any
 *   bytes, elsewhere UTF-8. The name announced is its last component
 *   reduced to a safe name; the size is its size now. Copied.
 * - `out_file_id`: receives the transfer's number on success (the
 *   `file_id` of its events); may be NULL.
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (client or path NULL);
 * PAPO_ERR_INVALID_NICK (06: destino not UTF-8 or not a possible
 * nickname); PAPO_ERR_IO (15: the file cannot be opened);
 * PAPO_ERR_INVALID_ARGUMENT (17: not a regular file, or inside a wake-up
 * callback: it waits for the server's answer; see
 * papo_client_set_wakeup()); PAPO_ERR_NO_SUCH_USER (02); PAPO_ERR_TOO_LONG (07: larger
 * than the server's max_file_bytes, 4 GiB by default, refused up front);
 * PAPO_ERR_SERVER_FULL (12: 16 files of this client are open already);
 * PAPO_ERR_CONNECTION_ABORTED (03); PAPO_ERR_TIMEOUT (no answer within
 * reply_timeout_ms); PAPO_ERR_CLOSED, PAPO_ERR_FORKED (see "Handles");
 * PAPO_ERR_PANIC.
 *
 * Thread safety: may be called from any thread, concurrently with every
 * other function on the same client; blocks
 * for one round trip. Not inside a wake-up callback.
 *
 * Since: 0.1.
 *
 * # Safety
 * `client` is any value (checked against the live handles); `destino` and `path` are NULL or
 * NUL-terminated; `out_file_id` is NULL or writable.
 */
int papo_client_send_file(struct papo_client *client,
                          const char *destino,
                          const char *path,
                          uint64_t *out_file_id);

/**
 * Sends `len` bytes at `data`, any bytes (NUL, line feeds, binary data),
 * as one binary message to `destino`, or to everyone else online when
 * `destino` is NULL or "" (PROTOCOL.md, "Files and binary payloads").
 * Receivers get a PAPO_EVENT_BYTES event with exactly these bytes. Returns
 * once the server has taken the whole message.
 *
 * Arguments: `destino` as for papo_client_send_file(); `data` may be NULL
 * only when `len` is 0; `len` in bytes, at most the server's
 * max_payload_bytes (256 KiB by default). Both are copied.
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (client NULL, or data NULL with len > 0);
 * PAPO_ERR_INVALID_NICK (06); PAPO_ERR_NO_SUCH_USER (02);
 * PAPO_ERR_TOO_LONG (07: over max_payload_bytes; nothing is delivered);
 * PAPO_ERR_CONNECTION_ABORTED (03); PAPO_ERR_TIMEOUT;
 * PAPO_ERR_INVALID_ARGUMENT (inside a wake-up callback: it waits for the
 * server's answer); PAPO_ERR_CLOSED, PAPO_ERR_FORKED (see "Handles");
 * PAPO_ERR_PANIC.
 *
 * Thread safety: as papo_client_send_file(); blocks for one round trip.
 *
 * Since: 0.1.
 *
 * # Safety
 * `client` is any value (checked against the live handles); `destino` is NULL or NUL-terminated;
 * `data` is NULL or points to `len` readable bytes.
 */
int papo_client_send_bytes(struct papo_client *client,
                           const char *destino,
                           const void *data,
                           size_t len);

/**
 * papo_client_send_file() without waiting for the server's answer. The
 * file is opened and checked here (errors below); then the offer is sent
 * and this returns. The answer comes as a PAPO_EVENT_REPLY carrying
 * `userdata`: `code` 0 and the transfer's number in `file_id` when the
 * server accepted the file, which is then streamed exactly as with
 * papo_client_send_file() (its PAPO_EVENT_FILE_SEND_* events follow the
 * reply); or the error that refused it (02, 07, 12, 03 ...) with the
 * detail in `text`.
 *
 * Arguments: as papo_client_send_file(); `userdata` is any number,
 * returned as is.
 *
 * Errors (nothing is sent, no REPLY comes): PAPO_ERR_NULL_ARGUMENT
 * (client or path NULL); PAPO_ERR_INVALID_NICK (06); PAPO_ERR_IO (15: the
 * file cannot be opened); PAPO_ERR_INVALID_ARGUMENT (17: not a regular
 * file); PAPO_ERR_TOO_LONG (07: the offer line would be too long);
 * PAPO_ERR_CONNECTION_ABORTED (03); PAPO_ERR_CLOSED, PAPO_ERR_FORKED (see
 * "Handles"); PAPO_ERR_PANIC.
 *
 * Thread safety: any thread, concurrently with every other function on
 * the same client; allowed inside a wake-up callback (it never waits for
 * the server).
 *
 * Since: 1.0.
 *
 * # Safety
 * `destino` and `path` are NULL or NUL-terminated.
 */
int papo_client_send_file_async(struct papo_client *client,
                                const char *destino,
                                const char *path,
                                uint64_t userdata);

/**
 * papo_client_send_bytes() without waiting: returns once the message is
 * written; a PAPO_EVENT_REPLY carrying `userdata` comes with `code` 0 once
 * the server took the whole message, or 02, 07 ... with the server's words
 * in `text`, or 03 when the connection ended first.
 *
 * Arguments: as papo_client_send_bytes(); `userdata` is any number,
 * returned as is.
 *
 * Errors (nothing is sent, no REPLY comes): PAPO_ERR_NULL_ARGUMENT
 * (client NULL, or data NULL with len > 0); PAPO_ERR_INVALID_NICK (06);
 * PAPO_ERR_CONNECTION_ABORTED (03); PAPO_ERR_CLOSED, PAPO_ERR_FORKED (see
 * "Handles"); PAPO_ERR_PANIC.
 *
 * Thread safety: as papo_client_send_file_async().
 *
 * Since: 1.0.
 *
 * # Safety
 * `destino` is NULL or NUL-terminated; `data` is NULL or points to `len`
 * readable bytes.
 */
int papo_client_send_bytes_async(struct papo_client *client,
                                 const char *destino,
                                 const void *data,
                                 size_t len,
                                 uint64_t userdata);

/**
 * Sets the folder where this client saves received files; NULL goes back
 * to the default, `$HOME/papo-downloads` (seed 002 creates a folder in the
 * user's home). The folder (and its parents) is created when a file
 * arrives; if it cannot be, that file fails (PAPO_EVENT_FILE_FAILED).
 * Files that already began keep their folder.
 *
 * Arguments: `path`: NUL-terminated; on Unix any bytes, elsewhere UTF-8.
 * Copied.
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (client NULL); PAPO_ERR_INVALID_TEXT
 * (path not UTF-8, off Unix); PAPO_ERR_INVALID_ARGUMENT (path "");
 * PAPO_ERR_CLOSED, PAPO_ERR_FORKED (see "Handles"); PAPO_ERR_PANIC.
 *
 * Thread safety: may be called from any thread, concurrently with every
 * other function on the same client, and
 * inside a wake-up callback; does not block.
 *
 * Since: 0.1.
 *
 * # Safety
 * `client` is any value (checked against the live handles); `path` is NULL or NUL-terminated.
 */
int papo_client_set_download_dir(struct papo_client *client, const char *path);

/**
 * The folder where this client saves received files (see
 * papo_client_set_download_dir()), NUL-terminated, into `buf` (same buffer
 * protocol as papo_client_users(): `*out_len` = bytes needed including the
 * NUL, set on success and on PAPO_ERR_BUFFER_TOO_SMALL). A path that is
 * not UTF-8 is given with U+FFFD in place of the bad bytes.
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT; PAPO_ERR_BUFFER_TOO_SMALL;
 * PAPO_ERR_CLOSED, PAPO_ERR_FORKED (see "Handles"); PAPO_ERR_PANIC.
 *
 * Thread safety: as papo_client_set_download_dir(); does not block.
 *
 * Since: 0.1.
 *
 * # Safety
 * `client` is any value (checked against the live handles); `buf` is NULL or `buf_len` writable
 * bytes; `out_len` is NULL or writable.
 */
int papo_client_download_dir(struct papo_client *client,
                             char *buf,
                             size_t buf_len,
                             size_t *out_len);

/**
 * The text of a return code: `"success"` for 0, the seed's Portuguese
 * words (with an English gloss) for 1..5, a short text for papo's own
 * codes (6 and up), and `"unknown error code"` for any other number.
 *
 * Ownership: the string is static (UTF-8, NUL-terminated); never free it.
 * Never returns NULL.
 *
 * Thread safety: may be called from any thread at any time.
 *
 * Since: 0.1.
 */
const char *papo_strerror(int code);

/**
 * The library's version, e.g. `"1.0.0"`. PAPO_VERSION_STRING is the
 * version of the header the program was compiled with, which may differ
 * from the library loaded at run time (see papo_version_is_compatible()).
 *
 * Ownership: static; never free it. Never returns NULL.
 *
 * Thread safety: may be called from any thread at any time.
 *
 * Since: 0.1.
 */
const char *papo_version(void);

/**
 * Whether this library serves a program compiled against the header of
 * version `major`.`minor`.`patch`: 1 when it has the same major version
 * and a (minor, patch) at least the program's (a 1.x library has every
 * function and field of the 1.y headers for y <= x), and for every 0.1.x
 * (the 0.1 entry points are kept for programs built against that header);
 * otherwise 0. PAPO_VERSION_IS_COMPATIBLE() calls it with the version of
 * the header being compiled; a program checks it once at start and stops
 * with a clear message when it is 0.
 *
 * Returns: 1 or 0; never fails.
 *
 * Thread safety: may be called from any thread at any time.
 *
 * Since: 1.0.
 */
int papo_version_is_compatible(uint32_t major, uint32_t minor, uint32_t patch);

/**
 * The detail of the last error a papo function returned on the calling
 * thread: what exactly went wrong, in English, e.g. "connection refused
 * by 127.0.0.1:18000", "nickname \"Ana\" is already in use" or "argument
 * apelido is NULL". The code says what kind of error it was
 * (papo_strerror()); this says which. "" when no papo function has
 * returned an error on this thread yet. A successful call does not change
 * it.
 *
 * Ownership: the library's (UTF-8, NUL-terminated); never free it. It
 * stays valid until the next papo call on the same thread; copy what you
 * keep. Never returns NULL.
 *
 * Thread safety: per thread; may be called from any thread at any time,
 * inside a wake-up callback too.
 *
 * Since: 1.0.
 */
const char *papo_last_error(void);

/**
 * A new options object holding the default settings (each setter names
 * its default). Free it with papo_client_options_free().
 *
 * Returns: the object, or NULL only when memory ran out (or on a panic).
 *
 * Thread safety: may be called from any thread.
 *
 * Since: 1.0.
 */
struct papo_client_options *papo_client_options_new(void);

/**
 * Frees an options object. NULL is ignored. Handles made with it are not
 * affected (they copied what they needed).
 *
 * Thread safety: no other thread may use `options` during or after the
 * call.
 *
 * Since: 1.0.
 *
 * # Safety
 * `options` is NULL or from papo_client_options_new() and not freed yet.
 */
void papo_client_options_free(struct papo_client_options *options);

/**
 * Milliseconds allowed to resolve a host name, open the TCP connection
 * and receive the server's greeting and user list; past it the
 * connection fails with PAPO_ERR_INVALID_SERVER (04), or
 * PAPO_ERR_INVALID_ADDRESS (05) if the name was still not resolved.
 * Must be > 0. Default 5000.
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
 * (a value the client refuses; the options keep their previous value);
 * PAPO_ERR_PANIC.
 *
 * Thread safety: an options object is not shared: no other thread may use
 * `options` during the call.
 *
 * Since: 1.0.
 *
 * # Safety
 * `options` is NULL or from papo_client_options_new() and not freed.
 */
int papo_client_options_set_connect_timeout_ms(struct papo_client_options *options, uint32_t value);

/**
 * Milliseconds to wait for the server's answer to a request (a private
 * message, the user list, a nickname change, a ping); past it the call
 * fails with PAPO_ERR_TIMEOUT. Must be > 0. Default 10000.
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
 * (a value the client refuses; the options keep their previous value);
 * PAPO_ERR_PANIC.
 *
 * Thread safety: an options object is not shared: no other thread may use
 * `options` during the call.
 *
 * Since: 1.0.
 *
 * # Safety
 * `options` is NULL or from papo_client_options_new() and not freed.
 */
int papo_client_options_set_reply_timeout_ms(struct papo_client_options *options, uint32_t value);

/**
 * Most events kept for papo_client_wait_event(); when the queue is full
 * the client stops reading from the socket until events are taken, so
 * nothing is lost (the server may then drop this client as a slow
 * consumer, 03). Must be > 0. Default 65536.
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
 * (a value the client refuses; the options keep their previous value);
 * PAPO_ERR_PANIC.
 *
 * Thread safety: an options object is not shared: no other thread may use
 * `options` during the call.
 *
 * Since: 1.0.
 *
 * # Safety
 * `options` is NULL or from papo_client_options_new() and not freed.
 */
int papo_client_options_set_event_queue_capacity(struct papo_client_options *options, size_t value);

/**
 * The server's password (PROTOCOL.md "Password"), UTF-8,
 * NUL-terminated, sent as `/pass <password>` before the nickname; a
 * server that wants one and gets a wrong one makes the connection fail
 * with PAPO_ERR_ACCESS_DENIED (19). NULL = none (the default). Copied.
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_TEXT (value not UTF-8); PAPO_ERR_INVALID_ARGUMENT
 * (a value the client refuses; the options keep their previous value);
 * PAPO_ERR_PANIC.
 *
 * Thread safety: an options object is not shared: no other thread may use
 * `options` during the call.
 *
 * Since: 1.0.
 *
 * # Safety
 * `options` is NULL or from papo_client_options_new() and not freed; `value` is NULL or NUL-terminated.
 */
int papo_client_options_set_password(struct papo_client_options *options,
                                     const char *value);

/**
 * Path of a PEM file with the certificate(s) to trust (the server's
 * own if self-signed, or its authority): when not NULL the connection
 * speaks TLS (PROTOCOL.md "TLS"; connect to the TLS port, by
 * convention 18001). A failed handshake or an untrusted certificate is
 * PAPO_ERR_INVALID_SERVER (04). NULL = plain text (the default).
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_TEXT (value not UTF-8); PAPO_ERR_INVALID_ARGUMENT
 * (a value the client refuses; the options keep their previous value);
 * PAPO_ERR_PANIC.
 *
 * Thread safety: an options object is not shared: no other thread may use
 * `options` during the call.
 *
 * Since: 1.0.
 *
 * # Safety
 * `options` is NULL or from papo_client_options_new() and not freed; `value` is NULL or NUL-terminated.
 */
int papo_client_options_set_tls_ca_file(struct papo_client_options *options,
                                        const char *value);

/**
 * With TLS, the name (DNS name or IP address) the server's certificate
 * must carry; NULL = the `ip` argument of papo_client_connect_with(), host
 * name or IP address (the default).
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_TEXT (value not UTF-8); PAPO_ERR_INVALID_ARGUMENT
 * (a value the client refuses; the options keep their previous value);
 * PAPO_ERR_PANIC.
 *
 * Thread safety: an options object is not shared: no other thread may use
 * `options` during the call.
 *
 * Since: 1.0.
 *
 * # Safety
 * `options` is NULL or from papo_client_options_new() and not freed; `value` is NULL or NUL-terminated.
 */
int papo_client_options_set_tls_server_name(struct papo_client_options *options,
                                            const char *value);

/**
 * Presence notices (PROTOCOL.md "Presence"): nonzero (the default, 1)
 * receives PAPO_EVENT_JOINED, PAPO_EVENT_LEFT and PAPO_EVENT_NICK_CHANGED
 * for other users and the user list at registration. 0 sends
 * `/presence off` before the nickname: no presence events about others
 * and no implicit list (papo_client_users() still works), which is
 * what a bot or a load generator in a room of thousands wants: each
 * join would otherwise cost every client a line (O(n^2) in all).
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
 * (a value the client refuses; the options keep their previous value);
 * PAPO_ERR_PANIC.
 *
 * Thread safety: an options object is not shared: no other thread may use
 * `options` during the call.
 *
 * Since: 1.0.
 *
 * # Safety
 * `options` is NULL or from papo_client_options_new() and not freed.
 */
int papo_client_options_set_presence(struct papo_client_options *options, int value);

/**
 * Reconnecting by itself (PROTOCOL.md "Resuming a connection"): nonzero
 * (the default) makes a client whose connection is lost without its quit
 * (a network cut, a server restart) connect again with backoff, take its
 * nickname, rooms and missed messages back, and report
 * PAPO_EVENT_RECONNECTING and PAPO_EVENT_RECONNECTED; PAPO_EVENT_DISCONNECTED
 * comes only after the last attempt failed. Only with a server that says
 * `resume=1` in its HELLO. 0: a lost connection ends at once (as with
 * Conecta_cliente(), which never reconnects).
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_PANIC.
 *
 * Thread safety: an options object is not shared: no other thread may use
 * `options` during the call.
 *
 * Since: 1.1.
 *
 * # Safety
 * `options` is NULL or from papo_client_options_new() and not freed.
 */
int papo_client_options_set_reconnect(struct papo_client_options *options, int value);

/**
 * Reconnecting: attempts in a row before giving up (then
 * PAPO_EVENT_DISCONNECTED). Must be > 0. Default 10.
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
 * (0; the options keep their previous value); PAPO_ERR_PANIC.
 *
 * Thread safety: an options object is not shared: no other thread may use
 * `options` during the call.
 *
 * Since: 1.1.
 *
 * # Safety
 * `options` is NULL or from papo_client_options_new() and not freed.
 */
int papo_client_options_set_reconnect_attempts(struct papo_client_options *options, uint32_t value);

/**
 * Reconnecting: milliseconds before the first attempt; each further
 * attempt waits twice as long, up to the maximum delay, every delay
 * multiplied by a random factor between 0.5 and 1. Default 200.
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
 * (above the maximum delay; the options keep their previous value);
 * PAPO_ERR_PANIC.
 *
 * Thread safety: an options object is not shared: no other thread may use
 * `options` during the call.
 *
 * Since: 1.1.
 *
 * # Safety
 * `options` is NULL or from papo_client_options_new() and not freed.
 */
int papo_client_options_set_reconnect_delay_ms(struct papo_client_options *options, uint32_t value);

/**
 * Reconnecting: the longest delay between two attempts, in milliseconds.
 * Default 5000.
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
 * (below the first delay; the options keep their previous value);
 * PAPO_ERR_PANIC.
 *
 * Thread safety: an options object is not shared: no other thread may use
 * `options` during the call.
 *
 * Since: 1.1.
 *
 * # Safety
 * `options` is NULL or from papo_client_options_new() and not freed.
 */
int papo_client_options_set_reconnect_max_delay_ms(struct papo_client_options *options,
                                                   uint32_t value);

/**
 * A new options object holding the default limits (each setter names
 * its default). Free it with papo_server_options_free().
 *
 * Returns: the object, or NULL only when memory ran out (or on a panic).
 *
 * Thread safety: may be called from any thread.
 *
 * Since: 1.0.
 */
struct papo_server_options *papo_server_options_new(void);

/**
 * Frees an options object. NULL is ignored. Handles made with it are not
 * affected (they copied what they needed).
 *
 * Thread safety: no other thread may use `options` during or after the
 * call.
 *
 * Since: 1.0.
 *
 * # Safety
 * `options` is NULL or from papo_server_options_new() and not freed yet.
 */
void papo_server_options_free(struct papo_server_options *options);

/**
 * Longest line a client may send, in bytes, without its line feed; a
 * longer one gets ERROR 07 and is skipped. Default 4096.
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
 * (a value the server refuses; the options keep their previous value);
 * PAPO_ERR_PANIC.
 *
 * Thread safety: an options object is not shared: no other thread may use
 * `options` during the call.
 *
 * Since: 1.0.
 *
 * # Safety
 * `options` is NULL or from papo_server_options_new() and not freed.
 */
int papo_server_options_set_max_line_bytes(struct papo_server_options *options, size_t value);

/**
 * A line longer than this many bytes (whether its line feed has come
 * or not) closes the connection with ERROR 07: someone sending a
 * never-ending line. Lines between max_line_bytes and this are only
 * skipped. Default 65536 (never less than max_line_bytes + 35: room
 * for a line at the limit, its CR and a request label).
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
 * (a value the server refuses; the options keep their previous value);
 * PAPO_ERR_PANIC.
 *
 * Thread safety: an options object is not shared: no other thread may use
 * `options` during the call.
 *
 * Since: 1.0.
 *
 * # Safety
 * `options` is NULL or from papo_server_options_new() and not freed.
 */
int papo_server_options_set_max_discard_bytes(struct papo_server_options *options, size_t value);

/**
 * Longest nickname, in characters (not bytes). Default 32.
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
 * (a value the server refuses; the options keep their previous value);
 * PAPO_ERR_PANIC.
 *
 * Thread safety: an options object is not shared: no other thread may use
 * `options` during the call.
 *
 * Since: 1.0.
 *
 * # Safety
 * `options` is NULL or from papo_server_options_new() and not freed.
 */
int papo_server_options_set_max_nick_chars(struct papo_server_options *options, size_t value);

/**
 * Most connections at once, registered or not; one more gets ERROR 12
 * and is closed. Default 16384. Each also takes a file descriptor: one
 * the process has no descriptor left for gets ERROR 12 too (see
 * raise_nofile_limit).
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
 * (a value the server refuses; the options keep their previous value);
 * PAPO_ERR_PANIC.
 *
 * Thread safety: an options object is not shared: no other thread may use
 * `options` during the call.
 *
 * Since: 1.0.
 *
 * # Safety
 * `options` is NULL or from papo_server_options_new() and not freed.
 */
int papo_server_options_set_max_clients(struct papo_server_options *options, size_t value);

/**
 * Most connections at once from one IP address; 0 = no limit.
 * Default 0.
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
 * (a value the server refuses; the options keep their previous value);
 * PAPO_ERR_PANIC.
 *
 * Thread safety: an options object is not shared: no other thread may use
 * `options` during the call.
 *
 * Since: 1.0.
 *
 * # Safety
 * `options` is NULL or from papo_server_options_new() and not freed.
 */
int papo_server_options_set_max_clients_per_ip(struct papo_server_options *options, size_t value);

/**
 * Bytes that may wait in one client's outbound queue; a client over it
 * is a slow consumer and is disconnected with ERROR 03. Default 67108864
 * (64 MiB): a broadcast queued to many clients is held once, so a reader
 * a few MiB behind during a burst is not a slow consumer; see also
 * papo_server_options_set_max_total_queue_bytes().
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
 * (a value the server refuses; the options keep their previous value);
 * PAPO_ERR_PANIC.
 *
 * Thread safety: an options object is not shared: no other thread may use
 * `options` during the call.
 *
 * Since: 1.0.
 *
 * # Safety
 * `options` is NULL or from papo_server_options_new() and not freed.
 */
int papo_server_options_set_max_queue_bytes(struct papo_server_options *options, size_t value);

/**
 * Bytes that may wait in all clients' outbound queues together, a
 * broadcast queued to many clients counting once. Past it, the clients
 * holding the most bytes are dropped first, as slow consumers (ERROR 03),
 * until the server is back under it; the others stay. 0 is refused.
 * Default 1073741824 (1 GiB, a fixed figure so that a server behaves the
 * same on every machine; set what the machine can spare).
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
 * (a value the server refuses; the options keep their previous value);
 * PAPO_ERR_PANIC.
 *
 * Thread safety: an options object is not shared: no other thread may use
 * `options` during the call.
 *
 * Since: 1.0.
 *
 * # Safety
 * `options` is NULL or from papo_server_options_new() and not freed.
 */
int papo_server_options_set_max_total_queue_bytes(struct papo_server_options *options,
                                                  size_t value);

/**
 * Milliseconds a new connection has to register a nickname; then
 * ERROR 11 and close. Default 30000.
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
 * (a value the server refuses; the options keep their previous value);
 * PAPO_ERR_PANIC.
 *
 * Thread safety: an options object is not shared: no other thread may use
 * `options` during the call.
 *
 * Since: 1.0.
 *
 * # Safety
 * `options` is NULL or from papo_server_options_new() and not freed.
 */
int papo_server_options_set_registration_timeout_ms(struct papo_server_options *options,
                                                    uint32_t value);

/**
 * Number of I/O threads (one event loop each); 0 = one per CPU core, at
 * most 4. Default 0.
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
 * (a value the server refuses; the options keep their previous value);
 * PAPO_ERR_PANIC.
 *
 * Thread safety: an options object is not shared: no other thread may use
 * `options` during the call.
 *
 * Since: 1.0.
 *
 * # Safety
 * `options` is NULL or from papo_server_options_new() and not freed.
 */
int papo_server_options_set_io_threads(struct papo_server_options *options, uint32_t value);

/**
 * Most server events kept for papo_server_wait_event(); further ones
 * are dropped while the queue is full. Default 65536.
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
 * (a value the server refuses; the options keep their previous value);
 * PAPO_ERR_PANIC.
 *
 * Thread safety: an options object is not shared: no other thread may use
 * `options` during the call.
 *
 * Since: 1.0.
 *
 * # Safety
 * `options` is NULL or from papo_server_options_new() and not freed.
 */
int papo_server_options_set_event_queue_capacity(struct papo_server_options *options, size_t value);

/**
 * Largest file a client may send, in bytes; a larger one is refused
 * when announced (ERROR 07). The server never holds a file whole: it
 * forwards it in pieces of at most 64 KiB. Default 4294967296 (4 GiB).
 * (Added in 0.1 with file transfer; PROTOCOL.md "Files and binary
 * payloads".)
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
 * (a value the server refuses; the options keep their previous value);
 * PAPO_ERR_PANIC.
 *
 * Thread safety: an options object is not shared: no other thread may use
 * `options` during the call.
 *
 * Since: 1.0.
 *
 * # Safety
 * `options` is NULL or from papo_server_options_new() and not freed.
 */
int papo_server_options_set_max_file_bytes(struct papo_server_options *options, uint64_t value);

/**
 * Largest binary message (papo_client_send_bytes()), in bytes; a larger
 * one gets ERROR 07 and is skipped. Keep it well below max_queue_bytes.
 * Default 262144 (256 KiB).
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
 * (a value the server refuses; the options keep their previous value);
 * PAPO_ERR_PANIC.
 *
 * Thread safety: an options object is not shared: no other thread may use
 * `options` during the call.
 *
 * Since: 1.0.
 *
 * # Safety
 * `options` is NULL or from papo_server_options_new() and not freed.
 */
int papo_server_options_set_max_payload_bytes(struct papo_server_options *options, size_t value);

/**
 * Milliseconds a receiver may take no byte while file data waits for
 * it; then it is disconnected as a slow consumer (ERROR 03). Must be
 * > 0. Default 30000.
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
 * (a value the server refuses; the options keep their previous value);
 * PAPO_ERR_PANIC.
 *
 * Thread safety: an options object is not shared: no other thread may use
 * `options` during the call.
 *
 * Since: 1.0.
 *
 * # Safety
 * `options` is NULL or from papo_server_options_new() and not freed.
 */
int papo_server_options_set_file_stall_timeout_ms(struct papo_server_options *options,
                                                  uint32_t value);

/**
 * Flood limit (since 0.1, issue 6): lines per second a client may send
 * for ever after a burst of flood_burst_lines; a client over it is sent
 * ERROR 03 ("flooding") and disconnected. 0 = no limit. Default 100.
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
 * (a value the server refuses; the options keep their previous value);
 * PAPO_ERR_PANIC.
 *
 * Thread safety: an options object is not shared: no other thread may use
 * `options` during the call.
 *
 * Since: 1.0.
 *
 * # Safety
 * `options` is NULL or from papo_server_options_new() and not freed.
 */
int papo_server_options_set_flood_lines_per_sec(struct papo_server_options *options,
                                                uint32_t value);

/**
 * Lines a client may send at once before flood_lines_per_sec applies
 * (0 is taken as 1). Default 1000.
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
 * (a value the server refuses; the options keep their previous value);
 * PAPO_ERR_PANIC.
 *
 * Thread safety: an options object is not shared: no other thread may use
 * `options` during the call.
 *
 * Since: 1.0.
 *
 * # Safety
 * `options` is NULL or from papo_server_options_new() and not freed.
 */
int papo_server_options_set_flood_burst_lines(struct papo_server_options *options, uint32_t value);

/**
 * Milliseconds of silence after which a registered client is sent
 * "PING :keepalive" (any line answers; papo clients answer by
 * themselves). 0 = no keepalive. Default 120000.
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
 * (a value the server refuses; the options keep their previous value);
 * PAPO_ERR_PANIC.
 *
 * Thread safety: an options object is not shared: no other thread may use
 * `options` during the call.
 *
 * Since: 1.0.
 *
 * # Safety
 * `options` is NULL or from papo_server_options_new() and not freed.
 */
int papo_server_options_set_keepalive_interval_ms(struct papo_server_options *options,
                                                  uint32_t value);

/**
 * Milliseconds of further silence after a PING after which the client
 * is dropped with ERROR 11. Default 60000.
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
 * (a value the server refuses; the options keep their previous value);
 * PAPO_ERR_PANIC.
 *
 * Thread safety: an options object is not shared: no other thread may use
 * `options` during the call.
 *
 * Since: 1.0.
 *
 * # Safety
 * `options` is NULL or from papo_server_options_new() and not freed.
 */
int papo_server_options_set_keepalive_timeout_ms(struct papo_server_options *options,
                                                 uint32_t value);

/**
 * Refused lines at the nickname prompt after which the connection is
 * closed. 0 = no limit. Default 10.
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
 * (a value the server refuses; the options keep their previous value);
 * PAPO_ERR_PANIC.
 *
 * Thread safety: an options object is not shared: no other thread may use
 * `options` during the call.
 *
 * Since: 1.0.
 *
 * # Safety
 * `options` is NULL or from papo_server_options_new() and not freed.
 */
int papo_server_options_set_max_nick_attempts(struct papo_server_options *options, uint32_t value);

/**
 * The server password (PROTOCOL.md "Password"), UTF-8, NUL-terminated:
 * clients must send `/pass <password>` before their nickname; a wrong
 * or missing one gets ERROR 19 (PAPO_ERR_ACCESS_DENIED) and a close.
 * Not empty, no control characters, no spaces at either end. NULL = no
 * password (the default). Copied.
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_TEXT (value not UTF-8); PAPO_ERR_INVALID_ARGUMENT
 * (a value the server refuses; the options keep their previous value);
 * PAPO_ERR_PANIC.
 *
 * Thread safety: an options object is not shared: no other thread may use
 * `options` during the call.
 *
 * Since: 1.0.
 *
 * # Safety
 * `options` is NULL or from papo_server_options_new() and not freed; `value` is NULL or NUL-terminated.
 */
int papo_server_options_set_password(struct papo_server_options *options,
                                     const char *value);

/**
 * Path of a PEM file with the server's TLS certificate (then any
 * intermediates). With tls_key_file, the server also listens for TLS
 * on tls_port (PROTOCOL.md "TLS"). NULL = no TLS (the default). Read by papo_server_start_with().
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_TEXT (value not UTF-8); PAPO_ERR_INVALID_ARGUMENT
 * (a value the server refuses; the options keep their previous value);
 * PAPO_ERR_PANIC.
 *
 * Thread safety: an options object is not shared: no other thread may use
 * `options` during the call.
 *
 * Since: 1.0.
 *
 * # Safety
 * `options` is NULL or from papo_server_options_new() and not freed; `value` is NULL or NUL-terminated.
 */
int papo_server_options_set_tls_cert_file(struct papo_server_options *options,
                                          const char *value);

/**
 * Path of a PEM file with the private key of tls_cert_file. NULL = no
 * TLS (the default).
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_TEXT (value not UTF-8); PAPO_ERR_INVALID_ARGUMENT
 * (a value the server refuses; the options keep their previous value);
 * PAPO_ERR_PANIC.
 *
 * Thread safety: an options object is not shared: no other thread may use
 * `options` during the call.
 *
 * Since: 1.0.
 *
 * # Safety
 * `options` is NULL or from papo_server_options_new() and not freed; `value` is NULL or NUL-terminated.
 */
int papo_server_options_set_tls_key_file(struct papo_server_options *options,
                                         const char *value);

/**
 * The TLS port, used only with tls_cert_file/tls_key_file: by
 * convention 18001 (PAPO_DEFAULT_TLS_PORT), the default; 0 picks a
 * free port (see papo_server_tls_port()).
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
 * (a value the server refuses; the options keep their previous value);
 * PAPO_ERR_PANIC.
 *
 * Thread safety: an options object is not shared: no other thread may use
 * `options` during the call.
 *
 * Since: 1.0.
 *
 * # Safety
 * `options` is NULL or from papo_server_options_new() and not freed.
 */
int papo_server_options_set_tls_port(struct papo_server_options *options, uint16_t value);

/**
 * The HTTP port (PROTOCOL.md "HTTP"), on the server's IP address: the
 * browser chat client at `/`, its WebSocket at `/ws` (the same chat as the
 * plain port, with the same limits), Prometheus metrics at `/metrics` and
 * `/healthz`. `port` -1 = no HTTP port (the default); 0 = any free port
 * (see papo_server_http_port()); 1-65535 = that port (by convention 18080,
 * PAPO_DEFAULT_HTTP_PORT).
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
 * (`port` below -1 or above 65535; the options keep their previous
 * value); PAPO_ERR_PANIC.
 *
 * Thread safety: an options object is not shared: no other thread may use
 * `options` during the call.
 *
 * Since: 1.1.
 *
 * # Safety
 * `options` is NULL or from papo_server_options_new() and not freed.
 */
int papo_server_options_set_http_port(struct papo_server_options *options, int32_t port);

/**
 * Adds an origin (`scheme://host[:port]`, as a browser sends it in its
 * `Origin` header, e.g. `https://chat.example.org`) whose pages may open
 * the HTTP port's WebSocket besides the port's own page. Any other origin
 * gets `403 Forbidden` (PROTOCOL.md "WebSocket"). None by default.
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (options or origin NULL);
 * PAPO_ERR_INVALID_TEXT (not UTF-8); PAPO_ERR_INVALID_ARGUMENT (not
 * `http://...` or `https://...`, or with spaces; the options keep their
 * previous value); PAPO_ERR_PANIC.
 *
 * Thread safety: an options object is not shared: no other thread may use
 * `options` during the call.
 *
 * Since: 1.1.
 *
 * # Safety
 * `options` is NULL or from papo_server_options_new() and not freed; `origin` is NULL or
 * NUL-terminated.
 */
int papo_server_options_add_http_origin(struct papo_server_options *options, const char *origin);

/**
 * Process-wide, 0 = off (the default), nonzero = on: papo_server_start_with()
 * raises the process's soft limit on open files (RLIMIT_NOFILE, what
 * `ulimit -n` shows) to its hard limit. Each client is one file
 * descriptor and the usual soft limit, 1024, stops a server near 1,000
 * clients. Off by default because the limit belongs to the whole
 * process, not to the library; a server program turns it on
 * (examples/c/servidor.c does). Never lowered again; a failure is
 * ignored. Whatever the limit, a client the process has no descriptor
 * left for gets ERROR 12 and is closed. Unix only.
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
 * (a value the server refuses; the options keep their previous value);
 * PAPO_ERR_PANIC.
 *
 * Thread safety: an options object is not shared: no other thread may use
 * `options` during the call.
 *
 * Since: 1.0.
 *
 * # Safety
 * `options` is NULL or from papo_server_options_new() and not freed.
 */
int papo_server_options_set_raise_nofile_limit(struct papo_server_options *options, int value);

/**
 * Process-wide, 0 = off (the default), nonzero = on: an I/O thread that
 * has written 4 MiB or more calls glibc's malloc_trim(0) at its next
 * idle moment (200 ms without events), handing the heap memory freed
 * since back to the system. Without it, what a burst queued (10,000
 * clients joining) stays in the process as free heap: about 10 KB per
 * idle client instead of 1 KB. Off by default because malloc_trim acts
 * on the whole process's heap; a server program turns it on. Linux with
 * glibc only; elsewhere it does nothing.
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
 * (a value the server refuses; the options keep their previous value);
 * PAPO_ERR_PANIC.
 *
 * Thread safety: an options object is not shared: no other thread may use
 * `options` during the call.
 *
 * Since: 1.0.
 *
 * # Safety
 * `options` is NULL or from papo_server_options_new() and not freed.
 */
int papo_server_options_set_trim_heap(struct papo_server_options *options, int value);

/**
 * The server operators' password (PROTOCOL.md "Rooms"), UTF-8,
 * NUL-terminated: a client that sends `/oper <password>` becomes a server
 * operator and may put anyone off the server (`/kick Nick`). Not empty, no
 * control characters, no spaces at either end. NULL = nobody can become
 * one (the default). Copied.
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_TEXT
 * (value not UTF-8); PAPO_ERR_INVALID_ARGUMENT (a value the server
 * refuses; the options keep their previous value); PAPO_ERR_PANIC.
 *
 * Thread safety: an options object is not shared: no other thread may use
 * `options` during the call.
 *
 * Since: 1.1.
 *
 * # Safety
 * `options` is NULL or from papo_server_options_new() and not freed; `value` is NULL or NUL-terminated.
 */
int papo_server_options_set_oper_password(struct papo_server_options *options,
                                          const char *value);

/**
 * The path of an SQLite database for the chat's history (PROTOCOL.md
 * "History"), UTF-8, NUL-terminated: created if missing; history and
 * message ids then survive a restart of the server. When it cannot be
 * opened or written, the server still starts and chats, keeps history in
 * memory and reports a PAPO_SERVER_EVENT_HISTORY. NULL = history in memory
 * only (the default). Copied; opened by papo_server_start_with().
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_TEXT
 * (value not UTF-8); PAPO_ERR_PANIC.
 *
 * Thread safety: an options object is not shared: no other thread may use
 * `options` during the call.
 *
 * Since: 1.1.
 *
 * # Safety
 * `options` is NULL or from papo_server_options_new() and not freed; `value` is NULL or NUL-terminated.
 */
int papo_server_options_set_history_path(struct papo_server_options *options,
                                         const char *value);

/**
 * The most messages the history keeps per room, for the public chat and
 * per private conversation (default 1000; 0 keeps no history).
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_PANIC.
 *
 * Thread safety: an options object is not shared: no other thread may use
 * `options` during the call.
 *
 * Since: 1.1.
 *
 * # Safety
 * `options` is NULL or from papo_server_options_new() and not freed.
 */
int papo_server_options_set_history_limit(struct papo_server_options *options, size_t value);

/**
 * Resuming (PROTOCOL.md "Resuming a connection"): milliseconds the server
 * holds the nickname, rooms and messages of a client that asked for it
 * (the library's clients do) after its connection dropped without a quit;
 * meanwhile nobody sees it leave and private messages to it are accepted.
 * 0: nothing is held. Default 60000.
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_PANIC.
 *
 * Thread safety: an options object is not shared: no other thread may use
 * `options` during the call.
 *
 * Since: 1.1.
 *
 * # Safety
 * `options` is NULL or from papo_server_options_new() and not freed.
 */
int papo_server_options_set_resume_grace_ms(struct papo_server_options *options, uint32_t value);

/**
 * Resuming: the most missed messages a resumed client is sent (its
 * backlog); past it the client is told that messages were lost. Default
 * 1000.
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_PANIC.
 *
 * Thread safety: an options object is not shared: no other thread may use
 * `options` during the call.
 *
 * Since: 1.1.
 *
 * # Safety
 * `options` is NULL or from papo_server_options_new() and not freed.
 */
int papo_server_options_set_resume_backlog(struct papo_server_options *options, size_t value);

/**
 * Several servers as one chat (PROTOCOL.md "Clusters"): the URL of the
 * Redis (or Valkey) server every node of the chat uses, UTF-8,
 * NUL-terminated: `redis://host:port/` (also `redis://host:port/db`, and
 * `unix:///path` for a Unix socket). Users of every
 * server started with the same URL then see one chat: one user list, the
 * same public chat and rooms, private messages between servers, nicknames
 * unique across all of them. NULL = off, this server is a chat of its own
 * (the default). Copied; the URL's form is checked here, the Redis server
 * is reached by papo_server_start_with().
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_TEXT
 * (value not UTF-8); PAPO_ERR_INVALID_ARGUMENT (not a Redis URL; the
 * options keep their previous value; papo_last_error() says why);
 * PAPO_ERR_PANIC.
 *
 * Thread safety: an options object is not shared: no other thread may use
 * `options` during the call.
 *
 * Since: 1.2.
 *
 * # Safety
 * `options` is NULL or from papo_server_options_new() and not freed; `url` is NULL or NUL-terminated.
 */
int papo_server_options_set_cluster(struct papo_server_options *options,
                                    const char *url);

/**
 * Clusters (PROTOCOL.md "Clusters"): milliseconds a server's claim on its
 * users' nicknames lasts without being renewed (it renews every third of
 * it). When a server stops without a goodbye (a crash, `kill -9`, a lost
 * network), its users are gone from the other servers, and their
 * nicknames free, within this time. From 1000 to 3600000 (1 hour);
 * default 10000. Only
 * used with papo_server_options_set_cluster(); every server of one chat
 * should have the same value.
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (options NULL); PAPO_ERR_INVALID_ARGUMENT
 * (below 1000 or above 3600000; the options keep their previous value);
 * PAPO_ERR_PANIC.
 *
 * Thread safety: an options object is not shared: no other thread may use
 * `options` during the call.
 *
 * Since: 1.2.
 *
 * # Safety
 * `options` is NULL or from papo_server_options_new() and not freed.
 */
int papo_server_options_set_cluster_lease_ms(struct papo_server_options *options, uint64_t ms);

/**
 * Starts a chat server on `ip`:`port` with the default limits (seed 000
 * section 4: "the user gives an IP address and a port on which the server
 * waits for new connections"). The same as papo_server_start_with(ip, port,
 * NULL, out_server).
 *
 * Arguments: `ip`: a local address as text: IPv4, IPv6 with or without
 * brackets, or a host name such as "localhost" (as for
 * papo_server_start_with()); NULL or "" means "127.0.0.1" (copied); `port`:
 * TCP port, 0 picks a free one (see papo_server_port()); `out_server`:
 * receives the handle on success, to be freed with Desconecta_Servidor().
 *
 * Errors: PAPO_ERR_INVALID_ADDRESS (05: neither an IP address nor a host
 * name, a name that does not resolve within 5 s, or not an address of
 * this machine); PAPO_ERR_IO (port taken); PAPO_ERR_INVALID_TEXT (ip not
 * UTF-8); PAPO_ERR_NULL_ARGUMENT (out_server NULL); PAPO_ERR_PANIC.
 *
 * Thread safety: may be called from any thread.
 *
 * Since: 0.1.
 *
 * # Safety
 * Every pointer is NULL or valid; `ip` is NUL-terminated.
 */
int Conecta_Servidor(const char *ip, uint16_t port, struct papo_server **out_server);

/**
 * Connects to the chat server at `ip`:`port` and registers the nickname
 * `apelido`, with the default settings (seed 000 section 4 and client
 * manual). The same as papo_client_connect_with(ip, port, apelido, NULL,
 * out_client), see it for the arguments, except that it never reconnects
 * by itself (the seed's client: a lost connection ends with
 * PAPO_EVENT_DISCONNECTED, 03; since 1.1 papo_client_connect_with()
 * reconnects, see papo_client_options_set_reconnect()).
 *
 * Errors: PAPO_ERR_NICK_IN_USE (01); PAPO_ERR_INVALID_SERVER (04: nothing
 * answers, or not a papo server); PAPO_ERR_INVALID_ADDRESS (05: neither an
 * IP address nor a host name, or the name does not resolve);
 * PAPO_ERR_INVALID_NICK (06); PAPO_ERR_SERVER_FULL (12);
 * PAPO_ERR_CONNECTION_ABORTED (03); PAPO_ERR_INVALID_TEXT (ip not UTF-8);
 * PAPO_ERR_NULL_ARGUMENT (apelido or out_client NULL);
 * PAPO_ERR_INVALID_ARGUMENT (inside a wake-up callback; see
 * papo_client_set_wakeup()); PAPO_ERR_PANIC.
 *
 * Thread safety: may be called from any thread, but not inside a wake-up
 * callback; blocks up to 5 s.
 *
 * Since: 0.1.
 *
 * # Safety
 * Every pointer is NULL or valid; strings are NUL-terminated.
 */
int Conecta_cliente(const char *ip,
                    uint16_t port,
                    const char *apelido,
                    struct papo_client **out_client);

/**
 * Sends `mensagem` to `destino` (seed 000 section 4,
 * `Conecta_cliente.enviar_Msg(Destino, mensagem)`).
 *
 * Arguments:
 * - `destino`: NULL or "" sends a public message to everyone else online
 *   (`:mensagem`); otherwise the nickname of the one receiver of a private
 *   message (`Destino:mensagem`), who sees "Mensagem recebida de: " and your nickname.
 * - `mensagem`: UTF-8 text without control characters (TAB allowed), not
 *   empty, at most the server's line limit (4096 bytes by default, counting
 *   the destination and the ':').
 *
 * Both are copied. A private message returns once the server confirmed
 * delivery (0 is the seed's "Mensagem enviada") or refused it (02); a
 * public one returns once written to the socket.
 *
 * Errors: PAPO_ERR_NO_SUCH_USER (02: destino is not online);
 * PAPO_ERR_CONNECTION_ABORTED (03: the connection was lost or the server
 * shut down); PAPO_ERR_INVALID_NICK (06: destino not UTF-8 or cannot be a
 * nickname); PAPO_ERR_TOO_LONG (07); PAPO_ERR_INVALID_TEXT (08: not UTF-8
 * or a control character); PAPO_ERR_EMPTY (09); PAPO_ERR_TIMEOUT (no
 * answer within reply_timeout_ms); PAPO_ERR_NULL_ARGUMENT (client or
 * mensagem NULL); PAPO_ERR_INVALID_ARGUMENT (a private message inside a
 * wake-up callback: it waits for the server's answer; see
 * papo_client_set_wakeup()); PAPO_ERR_CLOSED, PAPO_ERR_FORKED (see
 * "Handles"); PAPO_ERR_PANIC.
 *
 * Thread safety: may be called from any thread, concurrently with every
 * other function on the same client. Inside a
 * wake-up callback only public messages may be sent.
 *
 * Since: 0.1.
 *
 * # Safety
 * Every pointer is NULL or valid; strings are NUL-terminated.
 */
int enviar_Msg(struct papo_client *client, const char *destino, const char *mensagem);

/**
 * Stops the server and frees its handle (seed 000 section 4): every client
 * is sent error 03 ("Cancelamento de conexão forçado") and closed, the I/O
 * threads end and the port is released before this returns. In order: the
 * handle stops being live (calls that begin afterwards, on any thread,
 * return PAPO_ERR_CLOSED), the server stops (a papo_server_wait_event() in
 * progress returns at once with PAPO_ERR_CLOSED), calls still in progress
 * on other threads are waited for, and the handle is freed. The last
 * papo_server_event becomes invalid. NULL is a no-op.
 *
 * Returns: 0; PAPO_ERR_CLOSED (the handle was already freed, or is not a
 * server handle: nothing is done, nothing crashes); PAPO_ERR_FORKED (in a
 * forked child, on a handle of the parent: nothing is done, the handle is
 * left alone and never freed in the child); PAPO_ERR_PANIC.
 *
 * Thread safety: may be called from any thread, also while other threads
 * use the same handle (they get PAPO_ERR_CLOSED or finish first).
 *
 * Since: 0.1 (1.0: a freed or foreign handle is PAPO_ERR_CLOSED instead of
 * undefined behaviour).
 */
int Desconecta_Servidor(struct papo_server *server);

/**
 * Leaves the chat and frees the client handle (seed 000 section 4): sends
 * `quit`, closes the connection and ends the reader thread and every
 * file-sending thread before it returns (no library thread of this client
 * outlives the handle); everyone else gets a PAPO_EVENT_LEFT event. In
 * order: the handle stops being live (calls that begin afterwards, on any
 * thread, return PAPO_ERR_CLOSED), the connection ends (requests waiting
 * on other threads return 03, a papo_client_wait_event() in progress gets
 * the DISCONNECTED event), calls still in progress are waited for, and the
 * handle is freed. The wake-up callback is never called after this
 * returns. The last papo_event becomes invalid. NULL is a no-op.
 *
 * Returns: 0; PAPO_ERR_CLOSED (already freed, or not a client handle:
 * nothing is done, nothing crashes); PAPO_ERR_INVALID_ARGUMENT (called
 * inside a wake-up callback, of this client or any other: the handle
 * cannot be freed there, see papo_client_set_wakeup(); nothing was done,
 * call it again from another thread); PAPO_ERR_FORKED (in a forked child,
 * on a handle of the parent: nothing is done, the handle is left alone and
 * never freed in the child); PAPO_ERR_PANIC.
 *
 * Thread safety: may be called from any thread, also while other threads
 * use the same handle, but not inside a wake-up callback.
 *
 * Since: 0.1 (1.0: a freed or foreign handle is PAPO_ERR_CLOSED instead of
 * undefined behaviour).
 */
int Desconecta_cliente(struct papo_client *client);

/**
 * Starts a chat server listening on `ip`:`port` with the given options
 * (seed 000 server manual item 2). Returns once the socket listens; clients
 * are served on background I/O threads, so the caller's thread is free.
 *
 * Arguments:
 * - `ip`: the local address to listen on, as text: an IPv4 address, an
 *   IPv6 address with or without brackets (`"::1"`, `"[::1]"`), or a host name
 *   such as "localhost" (resolved by the system within 5 s; the server
 *   listens on the first of its addresses where it can); NULL or "" means
 *   "127.0.0.1" (seed 000). Copied; the caller keeps ownership.
 * - `port`: the TCP port; 0 picks a free port (see papo_server_port()).
 * - `options`: the limits (papo_server_options_new()); NULL means the
 *   defaults. Read during the call only; the caller keeps it.
 * - `out_server`: receives the new handle on success (untouched on
 *   error). Free it with Desconecta_Servidor().
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (out_server NULL); PAPO_ERR_INVALID_TEXT
 * (ip not UTF-8); PAPO_ERR_INVALID_ADDRESS (05: ip is neither an IP
 * address nor a host name, e.g. "999.1.1.1", "1.2.3.4:80", "não é ip",
 * refused without any lookup; a name that does not resolve within 5 s; or
 * not an address of this machine); PAPO_ERR_IO (port taken, no permission,
 * threads could not start, or a TLS file cannot be read);
 * PAPO_ERR_INVALID_ARGUMENT (only one of the two TLS files, or a TLS file
 * that holds no usable certificate or key); PAPO_ERR_PANIC.
 * papo_last_error() gives the detail.
 *
 * Thread safety: may be called from any thread.
 *
 * Since: 1.0.
 *
 * # Safety
 * Every pointer is NULL or valid; `ip` is NUL-terminated.
 */
int papo_server_start_with(const char *ip,
                           uint16_t port,
                           const struct papo_server_options *options,
                           struct papo_server **out_server);

/**
 * The TCP port the server listens on (the real one when it was started on
 * port 0).
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT; PAPO_ERR_CLOSED, PAPO_ERR_FORKED (see
 * "Handles"); PAPO_ERR_PANIC.
 *
 * Thread safety: may be called from any thread, concurrently with any
 * other function on the same server.
 *
 * Since: 0.1.
 *
 * # Safety
 * `server` is any value (checked against the live handles); `out_port` is NULL or writable.
 */
int papo_server_port(const struct papo_server *server, uint16_t *out_port);

/**
 * The TLS port the server listens on (the real one when tls_port was 0),
 * or 0 when the server has no TLS (PROTOCOL.md "TLS").
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT; PAPO_ERR_CLOSED, PAPO_ERR_FORKED (see
 * "Handles"); PAPO_ERR_PANIC.
 *
 * Thread safety: as papo_server_port().
 *
 * Since: 0.1.
 *
 * # Safety
 * `server` is any value (checked against the live handles); `out_port` is NULL or writable.
 */
int papo_server_tls_port(const struct papo_server *server, uint16_t *out_port);

/**
 * The HTTP port (the real one when it was asked for as 0), or 0 when the
 * server has none (PROTOCOL.md "HTTP"; papo_server_options_set_http_port()).
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT; PAPO_ERR_CLOSED, PAPO_ERR_FORKED (see
 * "Handles"); PAPO_ERR_PANIC.
 *
 * Thread safety: as papo_server_port().
 *
 * Since: 1.1.
 *
 * # Safety
 * `server` is any value (checked against the live handles); `out_port` is NULL or writable.
 */
int papo_server_http_port(const struct papo_server *server, uint16_t *out_port);

/**
 * Fills `*out` with the server's counters (see papo_server_stats): set
 * `out->size = sizeof(papo_server_stats)` first. Cheap: a few atomic reads
 * per I/O thread.
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (server or out NULL);
 * PAPO_ERR_INVALID_ARGUMENT (`out->size` too small to hold even the first
 * counter: it was not set); PAPO_ERR_CLOSED, PAPO_ERR_FORKED (see
 * "Handles"); PAPO_ERR_PANIC.
 *
 * Thread safety: as papo_server_port().
 *
 * Since: 1.1.
 *
 * # Safety
 * `server` is any value (checked against the live handles); `out` is NULL or points to
 * `out->size` writable bytes.
 */
int papo_server_get_stats(const struct papo_server *server, struct papo_server_stats *out);

/**
 * The number of active connections, registered or not (seed 004: "the
 * server prints the number of active connections").
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT; PAPO_ERR_CLOSED, PAPO_ERR_FORKED (see
 * "Handles"); PAPO_ERR_PANIC.
 *
 * Thread safety: as papo_server_port().
 *
 * Since: 0.1.
 *
 * # Safety
 * `server` is any value (checked against the live handles); `out_count` is NULL or writable.
 */
int papo_server_connection_count(const struct papo_server *server, size_t *out_count);

/**
 * The number of registered users online.
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT; PAPO_ERR_CLOSED, PAPO_ERR_FORKED (see
 * "Handles"); PAPO_ERR_PANIC.
 *
 * Thread safety: as papo_server_port().
 *
 * Since: 0.1.
 *
 * # Safety
 * `server` is any value (checked against the live handles); `out_count` is NULL or writable.
 */
int papo_server_user_count(const struct papo_server *server, size_t *out_count);

/**
 * The nicknames online, sorted case-insensitively, separated by '\n' (no
 * trailing newline) and NUL-terminated; "" (just the NUL) when nobody is
 * online.
 *
 * Arguments: `buf` receives the text, `buf_len` is its size in bytes; `buf`
 * may be NULL only if `buf_len` is 0 (to ask for the size). `*out_len`
 * receives the bytes needed INCLUDING the NUL, both on success and on
 * PAPO_ERR_BUFFER_TOO_SMALL (then `buf` is untouched): call again with a
 * buffer that large. The list may grow between two calls; loop until 0.
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT (server or out_len NULL, or buf NULL with
 * buf_len > 0); PAPO_ERR_BUFFER_TOO_SMALL; PAPO_ERR_CLOSED,
 * PAPO_ERR_FORKED (see "Handles"); PAPO_ERR_PANIC.
 *
 * Thread safety: as papo_server_port().
 *
 * Since: 0.1.
 *
 * # Safety
 * `server` is any value (checked against the live handles); `buf` is NULL or `buf_len` writable
 * bytes; `out_len` is NULL or writable.
 */
int papo_server_users(const struct papo_server *server, char *buf, size_t buf_len, size_t *out_len);

/**
 * Makes a papo_server_wait_event() in progress on another thread return
 * at once with PAPO_ERR_TIMEOUT (unless an event is queued), even one
 * with timeout -1; when no wait is in progress, the next one returns at
 * once instead (libmpv's mpv_wakeup()). Sticky until one wait returns;
 * several count as one. It does not make papo_server_fd() readable.
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT; PAPO_ERR_CLOSED, PAPO_ERR_FORKED (see
 * "Handles"); PAPO_ERR_PANIC.
 *
 * Thread safety: any thread, concurrently with every other function on
 * the same server; never waits.
 *
 * Since: 1.0.
 */
int papo_server_wakeup(struct papo_server *server);

/**
 * A file descriptor that is readable exactly while at least one event is
 * queued for papo_server_wait_event(), for poll()/epoll, GLib, Qt, Tk or
 * asyncio (as papo_client_fd()). Level-triggered; take the events with
 * papo_server_wait_event(server, 0, &ev). Made on the first call, the
 * same one afterwards; non-blocking and close-on-exec. Events dropped
 * because the queue was full never make it readable.
 *
 * Arguments: `out_fd` receives the descriptor on success. It belongs to
 * the handle: never read, write or close it; Desconecta_Servidor()
 * closes it.
 *
 * Errors: PAPO_ERR_NULL_ARGUMENT; PAPO_ERR_IO (no descriptor left,
 * EMFILE); PAPO_ERR_CLOSED, PAPO_ERR_FORKED (see "Handles");
 * PAPO_ERR_PANIC.
 *
 * Thread safety: any thread, concurrently with every other function on
 * the same server; any thread may poll the descriptor.
 *
 * Since: 1.0.
 *
 * # Safety
 * `server` is any value; `out_fd` is NULL or writable.
 */
int papo_server_fd(struct papo_server *server, int *out_fd);

/**
 * Waits for the next server event (a client connected, registered,
 * renamed or disconnected) and hands it out. Events are queued on the
 * server's threads and pulled here, as with libmpv's mpv_wait_event(); no
 * library code runs on the caller's behalf.
 *
 * Arguments: `timeout_ms` in milliseconds: negative waits until an event
 * comes, 0 only looks, a positive value waits up to that long.
 * `out_event` receives, on success only, a pointer to the event; the
 * library owns it, and it stays valid until the next call of this
 * function on the same server or Desconecta_Servidor(). Never free it,
 * copy it by value or take its sizeof (see "Compatibility").
 *
 * Errors: PAPO_ERR_TIMEOUT (no event in time); PAPO_ERR_CLOSED (the
 * handle was freed, or Desconecta_Servidor() stopped the server during the
 * wait); PAPO_ERR_NULL_ARGUMENT; PAPO_ERR_FORKED; PAPO_ERR_PANIC.
 *
 * Thread safety: may be called from any thread, concurrently with every
 * other function on the same server; calls of this function itself on one
 * server are serialized (the second waits for the first), and each one
 * ends the previous event's life, so pull events from one thread.
 * Desconecta_Servidor() from another thread ends a wait at once.
 *
 * Since: 1.0.
 *
 * # Safety
 * `server` is any value; `out_event` is NULL or writable.
 */
int papo_server_wait_event(struct papo_server *server,
                           int32_t timeout_ms,
                           const struct papo_server_event **out_event);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* PAPO_H */
