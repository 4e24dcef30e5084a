/*
 * old_program.c - a program written for papo 0.1, compiled against the 0.1
 * header (tests/c/compat/papo-0.1.h, today's papo.h when 1.0 began, kept
 * verbatim) and linked with the 1.x library. It must run correctly: the
 * 0.1 entry points that filled the caller's structs (papo_*_config_init,
 * papo_server_start, papo_client_connect, papo_*_next_event) are still
 * exported with their 0.1 layouts, and a 1.x library never writes past a
 * 0.1 struct. Each struct the library fills sits between two guard
 * regions that must stay untouched; AddressSanitizer (stack redzones) and
 * Valgrind see any write past it too.
 *
 * What it does, with the 0.1 API only: the config defaults; a server with
 * a config; two clients (one with a config, one with Conecta_cliente);
 * public and private messages, a rename, a binary message and the user
 * list through papo_client_next_event(); the server's events through
 * papo_server_next_event(); the version check a 0.1 program can do
 * (PAPO_VERSION_MAJOR of its header); the teardown. Exits 0 and prints
 * "old_program: all N checks passed" when everything held.
 *
 * Built and run by `make test-c` (plain, ASan and Valgrind targets) and by
 * tests/c_misuse.rs (under ASan + UBSan and under Valgrind).
 */
#include "papo-0.1.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;
static int checks = 0;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        checks++;                                                                    \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                              \
        }                                                                            \
    } while (0)

#define REQUIRE_RC(expr, want)                                                        \
    do {                                                                              \
        int rc_ = (expr);                                                             \
        checks++;                                                                     \
        if (rc_ != (want)) {                                                          \
            fprintf(stderr, "%s:%d: %s returned %d (%s), expected %d; giving up\n",   \
                    __FILE__, __LINE__, #expr, rc_, papo_strerror(rc_), (int)(want)); \
            exit(2);                                                                  \
        }                                                                             \
    } while (0)

#define GUARD_BYTES 64
#define GUARD_BYTE 0x5A

/* A struct of the 0.1 layout between two guard regions. */
#define GUARDED(type, name)                 \
    struct {                                \
        unsigned char before[GUARD_BYTES];  \
        type value;                         \
        unsigned char after[GUARD_BYTES];   \
    } name

static int guard_intact(const unsigned char *g)
{
    int i;
    for (i = 0; i < GUARD_BYTES; i++) {
        if (g[i] != GUARD_BYTE) {
            return 0;
        }
    }
    return 1;
}

#define GUARD_INIT(g) memset(&(g), GUARD_BYTE, sizeof(g))
#define GUARD_OK(g) (guard_intact((g).before) && guard_intact((g).after))

static int str_eq(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* Pulls client events until one of `kind` comes; 1 if it did. */
static int wait_client(papo_client *c, int kind, papo_event *out)
{
    int i;
    for (i = 0; i < 50; i++) {
        if (papo_client_next_event(c, 10000, out) != PAPO_OK) {
            return 0;
        }
        if (out->kind == kind) {
            return 1;
        }
    }
    return 0;
}

static int wait_server(papo_server *s, int kind, papo_server_event *out)
{
    int i;
    for (i = 0; i < 50; i++) {
        if (papo_server_next_event(s, 10000, out) != PAPO_OK) {
            return 0;
        }
        if (out->kind == kind) {
            return 1;
        }
    }
    return 0;
}

int main(void)
{
    GUARDED(papo_server_config, sc);
    GUARDED(papo_client_config, cc);
    GUARDED(papo_event, ev);
    GUARDED(papo_server_event, sev);
    papo_server *srv = NULL;
    papo_client *ana = NULL, *bob = NULL;
    uint16_t port = 0;
    char buf[256];
    size_t n = 0;
    static const unsigned char bytes[5] = {0, 1, 2, 0xff, '\n'};

    /* The version check a 0.1 program can make: same major version. */
    CHECK(PAPO_VERSION_MAJOR == 0 && PAPO_VERSION_MINOR == 1);
    CHECK(papo_version() != NULL && papo_version()[0] != '\0');

    /* Config defaults, written into the 0.1-sized structs only. */
    GUARD_INIT(sc);
    GUARD_INIT(cc);
    papo_server_config_init(&sc.value);
    papo_client_config_init(&cc.value);
    papo_server_config_init(NULL);
    papo_client_config_init(NULL);
    CHECK(GUARD_OK(sc) && GUARD_OK(cc));
    CHECK(sc.value.max_line_bytes == 4096);
    CHECK(sc.value.max_discard_bytes == 65536);
    CHECK(sc.value.max_nick_chars == 32);
    CHECK(sc.value.max_clients == 16384);
    CHECK(sc.value.max_clients_per_ip == 0);
    CHECK(sc.value.max_queue_bytes == 1048576);
    CHECK(sc.value.registration_timeout_ms == 30000);
    CHECK(sc.value.io_threads == 0);
    CHECK(sc.value.event_queue_capacity == 65536);
    CHECK(sc.value.max_file_bytes == 4294967296ULL);
    CHECK(sc.value.max_payload_bytes == 262144);
    CHECK(sc.value.file_stall_timeout_ms == 30000);
    CHECK(sc.value.password == NULL && sc.value.tls_cert_file == NULL);
    CHECK(sc.value.tls_port == PAPO_DEFAULT_TLS_PORT);
    CHECK(sc.value.raise_nofile_limit == 0 && sc.value.trim_heap == 0);
    CHECK(cc.value.connect_timeout_ms == 5000);
    CHECK(cc.value.reply_timeout_ms == 10000);
    CHECK(cc.value.event_queue_capacity == 65536);
    CHECK(cc.value.password == NULL && cc.value.tls_ca_file == NULL);
    CHECK(cc.value.presence == 1);

    /* A config the 0.1 library refused is still refused. */
    sc.value.max_line_bytes = 0;
    CHECK(papo_server_start("127.0.0.1", 0, &sc.value, &srv) == PAPO_ERR_INVALID_ARGUMENT);
    CHECK(srv == NULL);

    /* A server with a config: a password. */
    papo_server_config_init(&sc.value);
    sc.value.password = "segredo";
    sc.value.max_clients = 8;
    REQUIRE_RC(papo_server_start("127.0.0.1", 0, &sc.value, &srv), PAPO_OK);
    REQUIRE_RC(papo_server_port(srv, &port), PAPO_OK);
    CHECK(port != 0);

    /* Without the password: refused; with it: in. */
    CHECK(Conecta_cliente("127.0.0.1", port, "ana", &ana) == PAPO_ERR_ACCESS_DENIED);
    cc.value.password = "segredo";
    cc.value.reply_timeout_ms = 20000;
    REQUIRE_RC(papo_client_connect("127.0.0.1", port, "ana", &cc.value, &ana), PAPO_OK);
    REQUIRE_RC(papo_client_connect("127.0.0.1", port, "bob", &cc.value, &bob), PAPO_OK);
    CHECK(GUARD_OK(sc) && GUARD_OK(cc));

    /* Server events, into the 0.1-sized struct. */
    GUARD_INIT(sev);
    CHECK(wait_server(srv, PAPO_SERVER_EVENT_REGISTERED, &sev.value));
    CHECK(str_eq(sev.value.nick, "ana") && str_eq(sev.value.ip, "127.0.0.1"));
    CHECK(wait_server(srv, PAPO_SERVER_EVENT_REGISTERED, &sev.value));
    CHECK(str_eq(sev.value.nick, "bob"));
    CHECK(GUARD_OK(sev));

    /* Client events, into the 0.1-sized struct. */
    GUARD_INIT(ev);
    CHECK(wait_client(ana, PAPO_EVENT_JOINED, &ev.value));
    CHECK(str_eq(ev.value.nick, "bob"));
    CHECK(enviar_Msg(bob, NULL, "ola a todos") == PAPO_OK);
    CHECK(wait_client(ana, PAPO_EVENT_PUBLIC, &ev.value));
    CHECK(str_eq(ev.value.nick, "bob") && str_eq(ev.value.text, "ola a todos"));
    CHECK(ev.value.text_len == strlen("ola a todos"));
    CHECK(enviar_Msg(bob, "ana", "so para ti") == PAPO_OK);
    CHECK(wait_client(ana, PAPO_EVENT_PRIVATE, &ev.value));
    CHECK(str_eq(ev.value.text, "so para ti"));
    CHECK(enviar_Msg(bob, "ze", "alguem?") == PAPO_ERR_NO_SUCH_USER);
    CHECK(papo_client_send_bytes(bob, "ana", bytes, sizeof bytes) == PAPO_OK);
    CHECK(wait_client(ana, PAPO_EVENT_BYTES, &ev.value));
    CHECK(ev.value.data_len == sizeof bytes && ev.value.is_private == 1);
    CHECK(ev.value.data != NULL && memcmp(ev.value.data, bytes, sizeof bytes) == 0);
    CHECK(papo_client_set_nick(bob, "roberto") == PAPO_OK);
    CHECK(wait_client(ana, PAPO_EVENT_NICK_CHANGED, &ev.value));
    CHECK(str_eq(ev.value.nick, "bob") && str_eq(ev.value.new_nick, "roberto"));
    CHECK(papo_client_users(ana, buf, sizeof buf, &n) == PAPO_OK);
    CHECK(str_eq(buf, "ana\nroberto") && n == sizeof "ana\nroberto");
    CHECK(papo_client_ping(ana) == PAPO_OK);
    CHECK(papo_client_next_event(ana, 0, &ev.value) == PAPO_ERR_TIMEOUT);
    CHECK(GUARD_OK(ev));

    /* bob leaves; the server stops; ana's connection ends with 03. */
    CHECK(Desconecta_cliente(bob) == PAPO_OK);
    CHECK(wait_client(ana, PAPO_EVENT_LEFT, &ev.value));
    CHECK(str_eq(ev.value.nick, "roberto"));
    CHECK(wait_server(srv, PAPO_SERVER_EVENT_DISCONNECTED, &sev.value));
    CHECK(str_eq(sev.value.nick, "roberto"));
    CHECK(Desconecta_Servidor(srv) == PAPO_OK);
    CHECK(wait_client(ana, PAPO_EVENT_DISCONNECTED, &ev.value));
    CHECK(ev.value.code == PAPO_ERR_CONNECTION_ABORTED);
    CHECK(papo_client_next_event(ana, 0, &ev.value) == PAPO_ERR_CLOSED);
    CHECK(Desconecta_cliente(ana) == PAPO_OK);
    CHECK(GUARD_OK(ev) && GUARD_OK(sev));

    if (failures != 0) {
        fprintf(stderr, "old_program: %d of %d checks failed\n", failures, checks);
        return 1;
    }
    printf("old_program: all %d checks passed (header %s, library %s)\n", checks,
           PAPO_VERSION_STRING, papo_version());
    return 0;
}
