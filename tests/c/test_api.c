/*
 * test_api.c - tests the C API of papo (include/papo.h) from C.
 *
 * Built and run by tests/c_api.rs (cargo test --test c_api) and by
 * `make test-c`, as C99 and as C++11, with -Wall -Wextra -Wpedantic -Werror,
 * against the shared and the static library. Exits 0 when every check
 * passed; prints each failed check on stderr.
 *
 * Everything runs in this one process over loopback: a server on a free
 * port (port 0) and clients connecting to it. Every wait has a timeout, so
 * the program never hangs.
 */
#define _POSIX_C_SOURCE 200809L

#include "papo.h"

#ifdef PAPO_TEST_HOOKS
/* A test hook (src/ffi/general.rs) that only a libpapo built with the cargo
 * feature `test-hooks` has; papo.h does not declare it. tests/c_api.rs builds
 * such a library and defines PAPO_TEST_HOOKS; against the release library
 * (make test-c) the panic checks are compiled out. */
#ifdef __cplusplus
extern "C"
#endif
int papo_debug_force_panic(void);
#endif

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h> /* rmdir, write, close, unlink, dup, dup2 */

#include "check.h"

static int str_eq(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

static int starts_with(const char *s, const char *prefix)
{
    return s != NULL && strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Not UTF-8: a lone continuation byte and an invalid lead byte. */
static const char BAD_UTF8[] = "\xff\xfe";

/* Generous: the machine may be loaded. */
#define WAIT_MS 10000

/* Pulls client events until one of `kind` comes (skipping others); 1 if it did. */
static int wait_client_event(papo_client *c, int kind, const papo_event **out)
{
    int i;
    for (i = 0; i < 50; i++) {
        int rc = papo_client_wait_event(c, WAIT_MS, out);
        if (rc != PAPO_OK) {
            fprintf(stderr, "waiting for client event %d: %d (%s)\n", kind, rc,
                    papo_strerror(rc));
            return 0;
        }
        if ((int)(*out)->kind == kind) {
            return 1;
        }
    }
    return 0;
}

/* Pulls server events until one of `kind` comes (skipping others); 1 if it did. */
static int wait_server_event(papo_server *s, int kind, const papo_server_event **out)
{
    int i;
    for (i = 0; i < 50; i++) {
        int rc = papo_server_wait_event(s, WAIT_MS, out);
        if (rc != PAPO_OK) {
            fprintf(stderr, "waiting for server event %d: %d (%s)\n", kind, rc,
                    papo_strerror(rc));
            return 0;
        }
        if ((int)(*out)->kind == kind) {
            return 1;
        }
    }
    return 0;
}

static void test_strerror_and_version(void)
{
    int code;
    CHECK(str_eq(papo_strerror(0), "success"));
    for (code = 1; code <= 20; code++) {
        const char *t = papo_strerror(code);
        CHECK(t != NULL && t[0] != '\0' && !str_eq(t, "unknown error code"));
    }
    CHECK(starts_with(papo_strerror(PAPO_ERR_NICK_IN_USE), "Esse apelido"));
    CHECK(starts_with(papo_strerror(PAPO_ERR_NO_SUCH_USER), "Destino da mensagem privada"));
    CHECK(starts_with(papo_strerror(PAPO_ERR_CONNECTION_ABORTED), "Cancelamento de conex"));
    CHECK(starts_with(papo_strerror(PAPO_ERR_INVALID_SERVER), "Servidor de destino"));
    CHECK(starts_with(papo_strerror(PAPO_ERR_INVALID_ADDRESS), "Endere"));
    CHECK(str_eq(papo_strerror(25), "unknown error code"));
    CHECK(starts_with(papo_strerror(PAPO_ERR_RESUME_REFUSED), "Retomada recusada"));
    CHECK(PAPO_VERSION_IS_COMPATIBLE() == 1);
    CHECK(papo_version_is_compatible(0, 1, 0) == 1);
    CHECK(papo_version_is_compatible(PAPO_VERSION_MAJOR + 1, 0, 0) == 0);
    CHECK(papo_last_error() != NULL);
    CHECK(str_eq(papo_strerror(-1), "unknown error code"));
    CHECK(str_eq(papo_strerror(1000000), "unknown error code"));

    CHECK(str_eq(papo_version(), PAPO_VERSION_STRING));
    {
        char v[32];
        snprintf(v, sizeof v, "%d.%d.%d", PAPO_VERSION_MAJOR, PAPO_VERSION_MINOR,
                 PAPO_VERSION_PATCH);
        CHECK(str_eq(v, PAPO_VERSION_STRING));
    }
    CHECK(PAPO_DEFAULT_PORT == 18000);
    CHECK(PAPO_OK == 0 && PAPO_ERR_BUFFER_TOO_SMALL == 18 && PAPO_ERR_ACCESS_DENIED == 19);
}

/* Options objects: made, set, refused where the library would refuse the
 * value, freed (NULL too). Their defaults are the 0.1 config's, which
 * tests/c/compat/old_program.c checks through papo_*_config_init(). */
static void test_options(void)
{
    papo_server_options *so = papo_server_options_new();
    papo_client_options *co = papo_client_options_new();
    REQUIRE(so != NULL && co != NULL);
    CHECK_RC(papo_server_options_set_max_line_bytes(so, 0), PAPO_ERR_INVALID_ARGUMENT);
    CHECK(strstr(papo_last_error(), "max_line_bytes") != NULL);
    CHECK_RC(papo_server_options_set_max_clients(so, 0), PAPO_ERR_INVALID_ARGUMENT);
    CHECK_RC(papo_server_options_set_registration_timeout_ms(so, 0), PAPO_ERR_INVALID_ARGUMENT);
    CHECK_RC(papo_server_options_set_password(so, " x"), PAPO_ERR_INVALID_ARGUMENT);
    CHECK_RC(papo_server_options_set_password(so, BAD_UTF8), PAPO_ERR_INVALID_TEXT);
    CHECK_RC(papo_server_options_set_max_clients(so, 10), PAPO_OK);
    CHECK_RC(papo_server_options_set_io_threads(so, 1), PAPO_OK);
    CHECK_RC(papo_server_options_set_max_clients(NULL, 10), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(papo_client_options_set_connect_timeout_ms(co, 0), PAPO_ERR_INVALID_ARGUMENT);
    CHECK_RC(papo_client_options_set_reply_timeout_ms(co, 0), PAPO_ERR_INVALID_ARGUMENT);
    CHECK_RC(papo_client_options_set_event_queue_capacity(co, 0), PAPO_ERR_INVALID_ARGUMENT);
    CHECK_RC(papo_client_options_set_presence(co, 0), PAPO_OK);
    CHECK_RC(papo_client_options_set_password(co, NULL), PAPO_OK);
    papo_server_options_free(so);
    papo_client_options_free(co);
    papo_server_options_free(NULL); /* ignored */
    papo_client_options_free(NULL);
}

/* presence = 0 (PROTOCOL.md "Presence"): no JOINED/LEFT/NICK_CHANGED about
 * others, messages as usual. */
static void test_presence_off(void)
{
    papo_server *srv = NULL;
    papo_client *bot = NULL, *ana = NULL;
    papo_client_options *co = papo_client_options_new();
    const papo_event *ev;
    uint16_t port = 0;
    REQUIRE(co != NULL);
    REQUIRE_RC(Conecta_Servidor("127.0.0.1", 0, &srv), PAPO_OK);
    REQUIRE_RC(papo_server_port(srv, &port), PAPO_OK);
    CHECK_RC(papo_client_options_set_presence(co, 0), PAPO_OK);
    REQUIRE_RC(papo_client_connect_with("127.0.0.1", port, "bot", co, &bot), PAPO_OK);
    papo_client_options_free(co);
    REQUIRE_RC(Conecta_cliente("127.0.0.1", port, "ana", &ana), PAPO_OK);
    CHECK_RC(papo_client_set_nick(ana, "Ana2"), PAPO_OK);
    CHECK_RC(enviar_Msg(ana, NULL, "oi bot"), PAPO_OK);
    CHECK_RC(papo_client_ping(ana), PAPO_OK); /* the server has handled it */
    CHECK_RC(papo_client_ping(bot), PAPO_OK); /* and it has reached bot */
    /* The first event is the message: ana's join and rename were not sent. */
    CHECK_RC(papo_client_wait_event(bot, WAIT_MS, &ev), PAPO_OK);
    CHECK(ev->kind == PAPO_EVENT_PUBLIC && str_eq(ev->nick, "Ana2") && str_eq(ev->text, "oi bot"));
    CHECK_RC(papo_client_wait_event(bot, 0, &ev), PAPO_ERR_TIMEOUT);
    CHECK_RC(Desconecta_cliente(ana), PAPO_OK);
    CHECK_RC(Desconecta_cliente(bot), PAPO_OK);
    CHECK_RC(Desconecta_Servidor(srv), PAPO_OK);
}

#include "quiet_panic.h"

static void test_panic_boundary(void)
{
#ifdef PAPO_TEST_HOOKS
    CHECK_RC(force_panic_quietly(), PAPO_ERR_PANIC);
    /* The process lives on and the library still works. */
    CHECK_RC(force_panic_quietly(), PAPO_ERR_PANIC);
    CHECK(str_eq(papo_strerror(0), "success"));
#else
    printf("test_api: panic boundary not checked (no PAPO_TEST_HOOKS: the library has no "
           "test hooks)\n");
#endif
}

/* Every pointer argument of every function, NULL, without handles. */
static void test_null_without_handles(void)
{
    papo_server *s = NULL;
    papo_client *c = NULL;
    const papo_server_event *sev;
    const papo_event *ev;
    uint16_t port = 7;
    size_t n = 7;
    char buf[8];

    CHECK_RC(Conecta_Servidor("127.0.0.1", 0, NULL), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(papo_server_start_with("127.0.0.1", 0, NULL, NULL), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(Conecta_cliente("127.0.0.1", 1, "ana", NULL), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(Conecta_cliente("127.0.0.1", 1, NULL, &c), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(papo_client_connect_with("127.0.0.1", 1, "ana", NULL, NULL), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(papo_client_connect_with("127.0.0.1", 1, NULL, NULL, &c), PAPO_ERR_NULL_ARGUMENT);
    CHECK(c == NULL);
    CHECK_RC(enviar_Msg(NULL, "bob", "oi"), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(enviar_Msg(NULL, NULL, "oi"), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(Desconecta_Servidor(NULL), PAPO_OK);
    CHECK_RC(Desconecta_cliente(NULL), PAPO_OK);

    CHECK_RC(papo_server_port(NULL, &port), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(papo_server_connection_count(NULL, &n), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(papo_server_user_count(NULL, &n), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(papo_server_users(NULL, buf, sizeof buf, &n), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(papo_server_wait_event(NULL, 0, &sev), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(papo_client_wait_event(NULL, 0, &ev), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(papo_client_users(NULL, buf, sizeof buf, &n), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(papo_client_nick(NULL, buf, sizeof buf, &n), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(papo_client_set_nick(NULL, "bob"), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(papo_client_ping(NULL), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(papo_client_set_wakeup(NULL, NULL, NULL), PAPO_ERR_NULL_ARGUMENT);
    CHECK(port == 7 && n == 7 && s == NULL);
}

/* 05, and strings that are not UTF-8, where no connection is needed.
 * ("localhost" was in this list while only IP addresses were accepted; it
 * is a host name now: see test_host_names.) */
static void test_bad_addresses(void)
{
    static const char *bad_ips[] = {"256.1.1.1", "1.2.3",      "not an ip",
                                    "::g",       "999.1.1.1",  "1.2.3.4:80",
                                    "n\xc3\xa3o \xc3\xa9 ip", "[::1", "nada.invalid"};
    papo_server *s = NULL;
    papo_client *c = NULL;
    size_t i;
    for (i = 0; i < sizeof bad_ips / sizeof bad_ips[0]; i++) {
        CHECK_RC(Conecta_Servidor(bad_ips[i], 0, &s), PAPO_ERR_INVALID_ADDRESS);
        CHECK_RC(papo_server_start_with(bad_ips[i], 0, NULL, &s), PAPO_ERR_INVALID_ADDRESS);
        CHECK_RC(Conecta_cliente(bad_ips[i], PAPO_DEFAULT_PORT, "ana", &c),
                 PAPO_ERR_INVALID_ADDRESS);
        CHECK_RC(papo_client_connect_with(bad_ips[i], PAPO_DEFAULT_PORT, "ana", NULL, &c),
                 PAPO_ERR_INVALID_ADDRESS);
    }
    CHECK_RC(Conecta_Servidor(BAD_UTF8, 0, &s), PAPO_ERR_INVALID_TEXT);
    CHECK_RC(papo_server_start_with(BAD_UTF8, 0, NULL, &s), PAPO_ERR_INVALID_TEXT);
    CHECK_RC(Conecta_cliente(BAD_UTF8, 1, "ana", &c), PAPO_ERR_INVALID_TEXT);
    CHECK_RC(papo_client_connect_with(BAD_UTF8, 1, "ana", NULL, &c), PAPO_ERR_INVALID_TEXT);
    CHECK_RC(Conecta_cliente("127.0.0.1", 1, BAD_UTF8, &c), PAPO_ERR_INVALID_NICK);
    CHECK_RC(papo_client_connect_with("127.0.0.1", 1, BAD_UTF8, NULL, &c), PAPO_ERR_INVALID_NICK);
    CHECK(s == NULL && c == NULL);
}

/* The wake-up callback: counts calls and tries to call the API from inside. */
typedef struct wake_state {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int calls;
    int inner_ping_rc;
    int inner_disconnect_rc;
    int inner_next_event_rc;
    papo_client *client;
} wake_state;

static void on_wakeup(void *userdata)
{
    wake_state *w = (wake_state *)userdata;
    pthread_mutex_lock(&w->mu);
    if (w->calls == 0) {
        const papo_event *ev;
        w->inner_ping_rc = papo_client_ping(w->client);
        w->inner_next_event_rc = papo_client_wait_event(w->client, 0, &ev);
        w->inner_disconnect_rc = Desconecta_cliente(w->client);
    }
    w->calls++;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* Waits until the callback has run at least `n` times; 1 if it did. */
static int wait_wakeups(wake_state *w, int n)
{
    struct timespec deadline;
    int ok;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += WAIT_MS / 1000;
    pthread_mutex_lock(&w->mu);
    while (w->calls < n) {
        if (pthread_cond_timedwait(&w->cv, &w->mu, &deadline) != 0) {
            break;
        }
    }
    ok = w->calls >= n;
    pthread_mutex_unlock(&w->mu);
    return ok;
}

/* One address parser for the server and the client: host names such as
 * "localhost" and IPv6 with or without brackets work on both sides. */
static void test_host_names(void)
{
    papo_server *srv = NULL, *srv6 = NULL;
    papo_client *ana = NULL, *bob = NULL;
    const papo_event *ev;
    uint16_t port = 0, dead = 0;
    int rc;

    REQUIRE_RC(papo_server_start_with("localhost", 0, NULL, &srv), PAPO_OK);
    REQUIRE_RC(papo_server_port(srv, &port), PAPO_OK);
    REQUIRE_RC(Conecta_cliente("localhost", port, "ana", &ana), PAPO_OK);
    REQUIRE_RC(papo_client_connect_with("127.0.0.1", port, "bob", NULL, &bob), PAPO_OK);
    CHECK(wait_client_event(ana, PAPO_EVENT_JOINED, &ev) && str_eq(ev->nick, "bob"));
    CHECK_RC(enviar_Msg(bob, "ana", "oi pelo nome"), PAPO_OK);
    CHECK(wait_client_event(ana, PAPO_EVENT_PRIVATE, &ev) && str_eq(ev->text, "oi pelo nome"));
    CHECK_RC(Desconecta_cliente(bob), PAPO_OK);
    CHECK_RC(Desconecta_cliente(ana), PAPO_OK);
    ana = bob = NULL;
    /* A port where nothing listens any more: the address is accepted, so
     * the connection is tried (04), with or without brackets. */
    dead = port;
    CHECK_RC(Desconecta_Servidor(srv), PAPO_OK);
    CHECK_RC(Conecta_cliente("localhost", dead, "ana", &ana), PAPO_ERR_INVALID_SERVER);
    printf("papo_last_error() after connecting to a dead port: %s\n", papo_last_error());
    CHECK(strstr(papo_last_error(), "refused") != NULL);
    CHECK_RC(Conecta_cliente("[::1]", dead, "ana", &ana), PAPO_ERR_INVALID_SERVER);
    CHECK_RC(Conecta_cliente("::1", dead, "ana", &ana), PAPO_ERR_INVALID_SERVER);
    CHECK(ana == NULL);

    rc = papo_server_start_with("[::1]", 0, NULL, &srv6);
    if (rc == PAPO_ERR_INVALID_ADDRESS) {
        printf("test_api: SKIPPED the IPv6 server: this machine has no ::1\n");
        return;
    }
    REQUIRE_RC(rc, PAPO_OK);
    REQUIRE_RC(papo_server_port(srv6, &port), PAPO_OK);
    REQUIRE_RC(Conecta_cliente("[::1]", port, "seis", &ana), PAPO_OK);
    REQUIRE_RC(Conecta_cliente("::1", port, "sete", &bob), PAPO_OK);
    CHECK_RC(enviar_Msg(bob, NULL, "ola v6"), PAPO_OK);
    CHECK(wait_client_event(ana, PAPO_EVENT_PUBLIC, &ev) && str_eq(ev->text, "ola v6"));
    CHECK_RC(Desconecta_cliente(bob), PAPO_OK);
    CHECK_RC(Desconecta_cliente(ana), PAPO_OK);
    CHECK_RC(Desconecta_Servidor(srv6), PAPO_OK);
}

/* The wake-up rule (papo_client_set_wakeup): inside a callback every call
 * that would wait is 17 and does nothing, Desconecta_cliente() of any
 * client is 17; public messages, set_wakeup and the getters work. */
typedef struct rule_state {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, later;
    papo_client *self, *other, *made;
    uint16_t port;
    const char *file;
    int rc_connect, rc_public, rc_private, rc_users, rc_set_nick, rc_ping, rc_bytes,
        rc_file, rc_next0, rc_next_wait, rc_nick, rc_dir, rc_set_dir, rc_free_other,
        rc_free_self, rc_other_ping, rc_set_wakeup;
    char nick[64];
} rule_state;

static void on_wakeup_later(void *userdata)
{
    rule_state *r = (rule_state *)userdata;
    pthread_mutex_lock(&r->mu);
    r->later++;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void on_wakeup_rule(void *userdata)
{
    rule_state *r = (rule_state *)userdata;
    const papo_event *ev;
    char dir[512];
    size_t n = 0;
    pthread_mutex_lock(&r->mu);
    if (!r->done) {
        r->rc_connect = Conecta_cliente("127.0.0.1", r->port, "zeca", &r->made);
        r->rc_public = enviar_Msg(r->self, NULL, "publica de dentro");
        r->rc_private = enviar_Msg(r->self, "bob", "privada de dentro");
        r->rc_users = papo_client_users(r->self, NULL, 0, &n);
        r->rc_set_nick = papo_client_set_nick(r->self, "ana2");
        r->rc_ping = papo_client_ping(r->self);
        r->rc_bytes = papo_client_send_bytes(r->self, NULL, "x", 1);
        r->rc_file = papo_client_send_file(r->self, NULL, r->file, NULL);
        r->rc_next0 = papo_client_wait_event(r->self, 0, &ev);
        r->rc_next_wait = papo_client_wait_event(r->self, 1000, &ev);
        r->rc_nick = papo_client_nick(r->self, r->nick, sizeof r->nick, &n);
        r->rc_dir = papo_client_download_dir(r->self, dir, sizeof dir, &n);
        r->rc_set_dir = r->rc_dir == PAPO_OK ? papo_client_set_download_dir(r->self, dir) : -1;
        r->rc_other_ping = papo_client_ping(r->other);
        r->rc_free_other = Desconecta_cliente(r->other);
        r->rc_free_self = Desconecta_cliente(r->self);
        r->rc_set_wakeup = papo_client_set_wakeup(r->self, on_wakeup_later, r);
        r->done = 1;
        pthread_cond_broadcast(&r->cv);
    }
    pthread_mutex_unlock(&r->mu);
}

static void test_wakeup_rule(void)
{
    papo_server *srv = NULL;
    papo_client *ana = NULL, *bob = NULL;
    const papo_event *ev;
    rule_state r;
    char file[] = "/tmp/papo-c-wake-XXXXXX";
    struct timespec deadline;
    int fd, done, later;

    memset(&r, 0, sizeof r);
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    fd = mkstemp(file);
    REQUIRE_RC(fd >= 0 && write(fd, "conteudo", 8) == 8 ? PAPO_OK : PAPO_ERR_IO, PAPO_OK);
    close(fd);
    REQUIRE_RC(papo_server_start_with("", 0, NULL, &srv), PAPO_OK);
    REQUIRE_RC(papo_server_port(srv, &r.port), PAPO_OK);
    REQUIRE_RC(Conecta_cliente("", r.port, "ana", &ana), PAPO_OK);
    REQUIRE_RC(Conecta_cliente("", r.port, "bob", &bob), PAPO_OK);
    CHECK(wait_client_event(ana, PAPO_EVENT_JOINED, &ev));
    CHECK_RC(papo_client_ping(ana), PAPO_OK); /* past the call for the join */
    r.self = ana;
    r.other = bob;
    r.file = file;
    REQUIRE_RC(papo_client_set_wakeup(ana, on_wakeup_rule, &r), PAPO_OK);
    CHECK_RC(enviar_Msg(bob, NULL, "acorda"), PAPO_OK);

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += WAIT_MS / 1000;
    pthread_mutex_lock(&r.mu);
    while (!r.done && pthread_cond_timedwait(&r.cv, &r.mu, &deadline) == 0) {
    }
    done = r.done;
    pthread_mutex_unlock(&r.mu);
    REQUIRE_RC(done ? PAPO_OK : PAPO_ERR_TIMEOUT, PAPO_OK);

    /* Calls that would wait: 17, nothing done. */
    CHECK_RC(r.rc_connect, PAPO_ERR_INVALID_ARGUMENT);
    CHECK(r.made == NULL);
    CHECK_RC(r.rc_private, PAPO_ERR_INVALID_ARGUMENT);
    CHECK_RC(r.rc_users, PAPO_ERR_INVALID_ARGUMENT);
    CHECK_RC(r.rc_set_nick, PAPO_ERR_INVALID_ARGUMENT);
    CHECK_RC(r.rc_ping, PAPO_ERR_INVALID_ARGUMENT);
    CHECK_RC(r.rc_bytes, PAPO_ERR_INVALID_ARGUMENT);
    CHECK_RC(r.rc_file, PAPO_ERR_INVALID_ARGUMENT);
    CHECK_RC(r.rc_next0, PAPO_ERR_INVALID_ARGUMENT);
    CHECK_RC(r.rc_next_wait, PAPO_ERR_INVALID_ARGUMENT);
    CHECK_RC(r.rc_other_ping, PAPO_ERR_INVALID_ARGUMENT);
    /* Freeing a handle: 17 for any client. */
    CHECK_RC(r.rc_free_other, PAPO_ERR_INVALID_ARGUMENT);
    CHECK_RC(r.rc_free_self, PAPO_ERR_INVALID_ARGUMENT);
    /* Allowed. */
    CHECK_RC(r.rc_public, PAPO_OK);
    CHECK_RC(r.rc_nick, PAPO_OK);
    CHECK(str_eq(r.nick, "ana"));
    CHECK_RC(r.rc_dir, PAPO_OK);
    CHECK_RC(r.rc_set_dir, PAPO_OK);
    CHECK_RC(r.rc_set_wakeup, PAPO_OK);

    /* bob got the public message only, and both are still connected. */
    CHECK(wait_client_event(bob, PAPO_EVENT_PUBLIC, &ev) && str_eq(ev->nick, "ana") &&
          str_eq(ev->text, "publica de dentro"));
    CHECK_RC(papo_client_ping(bob), PAPO_OK);
    CHECK_RC(papo_client_wait_event(bob, 0, &ev), PAPO_ERR_TIMEOUT);
    CHECK(wait_client_event(ana, PAPO_EVENT_PUBLIC, &ev) && str_eq(ev->text, "acorda"));
    /* The callback set from inside runs for the next event. */
    CHECK_RC(enviar_Msg(bob, NULL, "de novo"), PAPO_OK);
    CHECK(wait_client_event(ana, PAPO_EVENT_PUBLIC, &ev) && str_eq(ev->text, "de novo"));
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += WAIT_MS / 1000;
    pthread_mutex_lock(&r.mu);
    while (r.later == 0 && pthread_cond_timedwait(&r.cv, &r.mu, &deadline) == 0) {
    }
    later = r.later;
    pthread_mutex_unlock(&r.mu);
    CHECK(later > 0);
    /* Outside, everything works again. */
    CHECK_RC(enviar_Msg(ana, "bob", "de fora"), PAPO_OK);
    CHECK(wait_client_event(bob, PAPO_EVENT_PRIVATE, &ev) && str_eq(ev->text, "de fora"));
    CHECK_RC(Desconecta_cliente(bob), PAPO_OK);
    CHECK_RC(Desconecta_cliente(ana), PAPO_OK);
    CHECK_RC(Desconecta_Servidor(srv), PAPO_OK);
    unlink(file);
    pthread_cond_destroy(&r.cv);
    pthread_mutex_destroy(&r.mu);
}

static void test_chat(void)
{
    papo_server *srv = NULL;
    papo_client *ana = NULL, *bob = NULL, *dup = NULL;
    const papo_server_event *sev;
    const papo_event *ev;
    uint16_t port = 0;
    size_t n = 0, need = 0;
    char buf[256];
    char small[4];
    uint64_t ana_id;
    uint16_t ana_port;

    /* ---- start the server (seed: Conecta_Servidor) ---- */
    REQUIRE_RC(Conecta_Servidor("127.0.0.1", 0, &srv), PAPO_OK);
    CHECK(srv != NULL);
    REQUIRE_RC(papo_server_port(srv, &port), PAPO_OK);
    CHECK(port != 0);
    CHECK_RC(papo_server_wait_event(srv, 0, &sev), PAPO_ERR_TIMEOUT);
    CHECK_RC(papo_server_user_count(srv, &n), PAPO_OK);
    CHECK(n == 0);
    CHECK_RC(papo_server_users(srv, NULL, 0, &need), PAPO_ERR_BUFFER_TOO_SMALL);
    CHECK(need == 1); /* just the NUL */
    CHECK_RC(papo_server_users(srv, buf, sizeof buf, &need), PAPO_OK);
    CHECK(need == 1 && buf[0] == '\0');

    /* NULL out-params with a live handle. */
    CHECK_RC(papo_server_port(srv, NULL), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(papo_server_connection_count(srv, NULL), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(papo_server_user_count(srv, NULL), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(papo_server_users(srv, buf, sizeof buf, NULL), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(papo_server_users(srv, NULL, 8, &need), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(papo_server_wait_event(srv, 0, NULL), PAPO_ERR_NULL_ARGUMENT);

    /* ---- ana connects (seed: Conecta_cliente) ---- */
    REQUIRE_RC(Conecta_cliente("127.0.0.1", port, "ana", &ana), PAPO_OK);
    CHECK(ana != NULL);
    CHECK(wait_server_event(srv, PAPO_SERVER_EVENT_CONNECTED, &sev));
    CHECK(str_eq(sev->ip, "127.0.0.1"));
    CHECK(sev->port != 0);
    CHECK(sev->nick == NULL && sev->new_nick == NULL && sev->reason == NULL && sev->code == 0);
    ana_id = sev->client_id;
    ana_port = sev->port;
    CHECK(wait_server_event(srv, PAPO_SERVER_EVENT_REGISTERED, &sev));
    CHECK(str_eq(sev->nick, "ana"));
    CHECK(str_eq(sev->ip, "127.0.0.1"));
    CHECK(sev->client_id == ana_id && sev->port == ana_port);

    /* 01: taken, also in another case ("Ana" vs "ana"). */
    CHECK_RC(Conecta_cliente("127.0.0.1", port, "ana", &dup), PAPO_ERR_NICK_IN_USE);
    CHECK_RC(Conecta_cliente("127.0.0.1", port, "Ana", &dup), PAPO_ERR_NICK_IN_USE);
    CHECK_RC(papo_client_connect_with(NULL, port, "ANA", NULL, &dup), PAPO_ERR_NICK_IN_USE);
    printf("papo_last_error() after a nickname in use: %s\n", papo_last_error());
    CHECK(starts_with(papo_last_error(), "nickname \"ANA\" is already in use"));
    CHECK(dup == NULL);
    /* 06: not a valid nickname. */
    CHECK_RC(Conecta_cliente("127.0.0.1", port, "a b", &dup), PAPO_ERR_INVALID_NICK);
    CHECK_RC(Conecta_cliente("127.0.0.1", port, "", &dup), PAPO_ERR_INVALID_NICK);
    CHECK(dup == NULL);

    /* ---- bob connects with an explicit config; ana sees him join ---- */
    {
        papo_client_options *co = papo_client_options_new();
        REQUIRE(co != NULL);
        CHECK_RC(papo_client_options_set_reply_timeout_ms(co, 20000), PAPO_OK);
        REQUIRE_RC(papo_client_connect_with("", port, "bob", co, &bob), PAPO_OK);
        papo_client_options_free(co);
    }
    CHECK(wait_client_event(ana, PAPO_EVENT_JOINED, &ev));
    CHECK(str_eq(ev->nick, "bob") && ev->new_nick == NULL && ev->text == NULL && ev->text_len == 0);
    CHECK(wait_server_event(srv, PAPO_SERVER_EVENT_REGISTERED, &sev));
    CHECK(str_eq(sev->nick, "bob"));

    CHECK_RC(papo_server_user_count(srv, &n), PAPO_OK);
    CHECK(n == 2);
    CHECK_RC(papo_server_connection_count(srv, &n), PAPO_OK);
    CHECK(n >= 2);

    /* ---- the user list and the buffer protocol ---- */
    need = 0;
    CHECK_RC(papo_client_users(ana, NULL, 0, &need), PAPO_ERR_BUFFER_TOO_SMALL);
    CHECK(need == sizeof "ana\nbob"); /* 8: 7 bytes + NUL */
    memset(buf, 'x', sizeof buf);
    n = 0;
    CHECK_RC(papo_client_users(ana, buf, need - 1, &n), PAPO_ERR_BUFFER_TOO_SMALL);
    CHECK(n == need);
    CHECK(buf[0] == 'x'); /* untouched */
    CHECK_RC(papo_client_users(ana, buf, need, &n), PAPO_OK);
    CHECK(n == need);
    CHECK(str_eq(buf, "ana\nbob"));
    CHECK_RC(papo_server_users(srv, small, sizeof small, &n), PAPO_ERR_BUFFER_TOO_SMALL);
    CHECK(n == 8);
    CHECK_RC(papo_server_users(srv, buf, sizeof buf, &n), PAPO_OK);
    CHECK(str_eq(buf, "ana\nbob") && n == 8);
    CHECK_RC(papo_client_users(ana, buf, sizeof buf, NULL), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(papo_client_users(ana, NULL, 8, &n), PAPO_ERR_NULL_ARGUMENT);

    CHECK_RC(papo_client_nick(bob, buf, sizeof buf, &n), PAPO_OK);
    CHECK(str_eq(buf, "bob") && n == 4);
    CHECK_RC(papo_client_nick(bob, small, 3, &n), PAPO_ERR_BUFFER_TOO_SMALL);
    CHECK(n == 4);
    CHECK_RC(papo_client_nick(bob, buf, sizeof buf, NULL), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(papo_client_nick(bob, NULL, 1, &n), PAPO_ERR_NULL_ARGUMENT);

    /* ---- public messages (seed: enviar_Msg with no destination) ---- */
    CHECK_RC(enviar_Msg(ana, NULL, "olá a todos"), PAPO_OK);
    CHECK(wait_client_event(bob, PAPO_EVENT_PUBLIC, &ev));
    CHECK(str_eq(ev->nick, "ana") && str_eq(ev->text, "olá a todos"));
    CHECK(ev->text_len == strlen("olá a todos") && ev->code == 0 && ev->new_nick == NULL);
    CHECK_RC(enviar_Msg(bob, "", "oi ana"), PAPO_OK);
    CHECK(wait_client_event(ana, PAPO_EVENT_PUBLIC, &ev));
    CHECK(str_eq(ev->nick, "bob") && str_eq(ev->text, "oi ana"));

    /* ---- private messages: "Mensagem enviada" (0) or 02 ---- */
    CHECK_RC(enviar_Msg(ana, "bob", "oi bob, tudo bem?"), PAPO_OK);
    CHECK(wait_client_event(bob, PAPO_EVENT_PRIVATE, &ev));
    CHECK(str_eq(ev->nick, "ana") && str_eq(ev->text, "oi bob, tudo bem?"));
    CHECK(ev->text_len == strlen("oi bob, tudo bem?"));
    CHECK_RC(enviar_Msg(ana, "BOB", "case-insensitive"), PAPO_OK);
    CHECK(wait_client_event(bob, PAPO_EVENT_PRIVATE, &ev));
    CHECK(str_eq(ev->text, "case-insensitive"));
    CHECK_RC(enviar_Msg(ana, "ze", "alguém aí?"), PAPO_ERR_NO_SUCH_USER);
    CHECK_RC(enviar_Msg(ana, "zé", "alguém aí?"), PAPO_ERR_NO_SUCH_USER);
    printf("papo_last_error() after a private message to nobody: %s\n", papo_last_error());
    CHECK(starts_with(papo_last_error(), "no user \"zé\" is online"));

    /* Arguments of enviar_Msg. */
    CHECK_RC(enviar_Msg(ana, "bob", NULL), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(enviar_Msg(ana, NULL, NULL), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(enviar_Msg(ana, BAD_UTF8, "oi"), PAPO_ERR_INVALID_NICK);
    CHECK_RC(enviar_Msg(ana, "bob", BAD_UTF8), PAPO_ERR_INVALID_TEXT);
    CHECK_RC(enviar_Msg(ana, NULL, BAD_UTF8), PAPO_ERR_INVALID_TEXT);
    CHECK_RC(enviar_Msg(ana, NULL, ""), PAPO_ERR_EMPTY);
    CHECK_RC(enviar_Msg(ana, NULL, "line\nbreak"), PAPO_ERR_INVALID_TEXT);

    /* ---- nickname change ---- */
    CHECK_RC(papo_client_set_nick(bob, "robert"), PAPO_OK);
    CHECK(wait_client_event(ana, PAPO_EVENT_NICK_CHANGED, &ev));
    CHECK(str_eq(ev->nick, "bob") && str_eq(ev->new_nick, "robert") && ev->text == NULL);
    CHECK(wait_client_event(bob, PAPO_EVENT_NICK_CHANGED, &ev));
    CHECK(str_eq(ev->nick, "bob") && str_eq(ev->new_nick, "robert"));
    CHECK(wait_server_event(srv, PAPO_SERVER_EVENT_NICK_CHANGED, &sev));
    CHECK(str_eq(sev->nick, "bob") && str_eq(sev->new_nick, "robert"));
    CHECK_RC(papo_client_nick(bob, buf, sizeof buf, &n), PAPO_OK);
    CHECK(str_eq(buf, "robert"));
    CHECK_RC(papo_client_set_nick(bob, "ANA"), PAPO_ERR_NICK_IN_USE);
    CHECK_RC(papo_client_set_nick(bob, "no spaces"), PAPO_ERR_INVALID_NICK);
    CHECK_RC(papo_client_set_nick(bob, BAD_UTF8), PAPO_ERR_INVALID_NICK);
    CHECK_RC(papo_client_set_nick(bob, NULL), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(papo_client_nick(bob, buf, sizeof buf, &n), PAPO_OK);
    CHECK(str_eq(buf, "robert"));
    CHECK_RC(enviar_Msg(ana, "bob", "old name"), PAPO_ERR_NO_SUCH_USER);

    /* ---- ping, next_event arguments ---- */
    CHECK_RC(papo_client_ping(ana), PAPO_OK);
    CHECK_RC(papo_client_wait_event(ana, 0, NULL), PAPO_ERR_NULL_ARGUMENT);
    while (papo_client_wait_event(ana, 0, &ev) == PAPO_OK) {
        /* drain */
    }
    CHECK_RC(papo_client_wait_event(ana, 0, &ev), PAPO_ERR_TIMEOUT);
    CHECK_RC(papo_client_wait_event(ana, 50, &ev), PAPO_ERR_TIMEOUT);

    /* ---- the wake-up callback ---- */
    {
        wake_state w;
        memset(&w, 0, sizeof w);
        pthread_mutex_init(&w.mu, NULL);
        pthread_cond_init(&w.cv, NULL);
        w.client = ana;
        w.inner_ping_rc = w.inner_disconnect_rc = w.inner_next_event_rc = -1;
        CHECK_RC(papo_client_set_wakeup(ana, on_wakeup, &w), PAPO_OK);
        CHECK_RC(enviar_Msg(bob, NULL, "acorda"), PAPO_OK);
        CHECK(wait_wakeups(&w, 1));
        pthread_mutex_lock(&w.mu);
        /* Inside the callback the API refuses to run (it would deadlock). */
        CHECK(w.inner_ping_rc == PAPO_ERR_INVALID_ARGUMENT);
        CHECK(w.inner_next_event_rc == PAPO_ERR_INVALID_ARGUMENT);
        CHECK(w.inner_disconnect_rc == PAPO_ERR_INVALID_ARGUMENT);
        pthread_mutex_unlock(&w.mu);
        CHECK(wait_client_event(ana, PAPO_EVENT_PUBLIC, &ev));
        CHECK(str_eq(ev->nick, "robert") && str_eq(ev->text, "acorda"));
        CHECK_RC(papo_client_set_wakeup(ana, NULL, NULL), PAPO_OK);
        pthread_mutex_lock(&w.mu);
        n = (size_t)w.calls;
        pthread_mutex_unlock(&w.mu);
        CHECK_RC(enviar_Msg(bob, NULL, "dorme"), PAPO_OK);
        CHECK(wait_client_event(ana, PAPO_EVENT_PUBLIC, &ev));
        CHECK(str_eq(ev->text, "dorme"));
        pthread_mutex_lock(&w.mu);
        CHECK((size_t)w.calls == n); /* removed: not called again */
        pthread_mutex_unlock(&w.mu);
        pthread_cond_destroy(&w.cv);
        pthread_mutex_destroy(&w.mu);
    }

    /* ---- bob leaves (seed: Desconecta_cliente) ---- */
    CHECK_RC(Desconecta_cliente(bob), PAPO_OK);
    bob = NULL;
    CHECK(wait_client_event(ana, PAPO_EVENT_LEFT, &ev));
    CHECK(str_eq(ev->nick, "robert"));
    for (;;) {
        if (!wait_server_event(srv, PAPO_SERVER_EVENT_DISCONNECTED, &sev)) {
            CHECK(!"no DISCONNECTED server event for robert");
            break;
        }
        if (sev->nick != NULL) {
            break; /* skip the unregistered connections of the 01/06 attempts */
        }
    }
    CHECK(str_eq(sev->nick, "robert") && sev->code == 0 && sev->reason != NULL);
    CHECK(str_eq(sev->ip, "127.0.0.1"));

    /* ---- 03: the server shuts down (seed: Desconecta_Servidor) ---- */
    CHECK_RC(Desconecta_Servidor(srv), PAPO_OK);
    srv = NULL;
    CHECK(wait_client_event(ana, PAPO_EVENT_DISCONNECTED, &ev));
    CHECK(ev->code == PAPO_ERR_CONNECTION_ABORTED);
    CHECK(ev->text != NULL && ev->text_len == strlen(ev->text));
    CHECK_RC(papo_client_wait_event(ana, 1000, &ev), PAPO_ERR_CLOSED);
    CHECK_RC(enviar_Msg(ana, NULL, "alguém?"), PAPO_ERR_CONNECTION_ABORTED);
    CHECK_RC(enviar_Msg(ana, "bob", "alguém?"), PAPO_ERR_CONNECTION_ABORTED);
    CHECK_RC(Desconecta_cliente(ana), PAPO_OK);
    ana = NULL;

    /* ---- 04: nothing listens on that port any more ---- */
    CHECK_RC(Conecta_cliente("127.0.0.1", port, "ana", &dup), PAPO_ERR_INVALID_SERVER);
    CHECK(dup == NULL);
}

/* papo_server_start_with with options: the limits reach the server. */
static void test_server_config(void)
{
    papo_server_options *so = papo_server_options_new();
    papo_server *srv = NULL;
    papo_client *ana = NULL, *bob = NULL;
    uint16_t port = 0;
    REQUIRE(so != NULL);

    /* One TLS file without the other is refused when starting. */
    CHECK_RC(papo_server_options_set_tls_cert_file(so, "/nada/cert.pem"), PAPO_OK);
    CHECK_RC(papo_server_start_with("127.0.0.1", 0, so, &srv), PAPO_ERR_INVALID_ARGUMENT);
    CHECK(srv == NULL);
    CHECK(strstr(papo_last_error(), "tls_key_file") != NULL);
    CHECK_RC(papo_server_options_set_tls_cert_file(so, NULL), PAPO_OK);

    /* NULL options: the defaults. */
    REQUIRE_RC(papo_server_start_with(NULL, 0, NULL, &srv), PAPO_OK);
    CHECK_RC(Desconecta_Servidor(srv), PAPO_OK);
    srv = NULL;

    /* One client at most: the second gets 12. */
    CHECK_RC(papo_server_options_set_max_clients(so, 1), PAPO_OK);
    REQUIRE_RC(papo_server_start_with("127.0.0.1", 0, so, &srv), PAPO_OK);
    papo_server_options_free(so);
    REQUIRE_RC(papo_server_port(srv, &port), PAPO_OK);
    REQUIRE_RC(Conecta_cliente(NULL, port, "ana", &ana), PAPO_OK);
    CHECK_RC(Conecta_cliente(NULL, port, "bob", &bob), PAPO_ERR_SERVER_FULL);
    CHECK(bob == NULL);
    CHECK_RC(Desconecta_cliente(ana), PAPO_OK);
    CHECK_RC(Desconecta_Servidor(srv), PAPO_OK);

    /* Client options: a TLS CA file that cannot be read is refused before
     * connecting. */
    {
        papo_client_options *co = papo_client_options_new();
        REQUIRE(co != NULL);
        ana = NULL;
        CHECK_RC(papo_client_options_set_tls_ca_file(co, "/nada/ca.pem"), PAPO_OK);
        CHECK_RC(papo_client_connect_with(NULL, 1, "ana", co, &ana), PAPO_ERR_IO);
        CHECK(ana == NULL);
        papo_client_options_free(co);
    }
}

/* ---- files and binary messages (papo_client_send_file/send_bytes) ---- */

/* Reads the whole file at `path` into `buf` (at most `cap` bytes); returns
   the bytes read, or (size_t)-1 on error. */
/* Makes a new folder "<$TMPDIR, else /tmp>/<prefix>XXXXXX" (mkdtemp) and
 * writes its path to `out`. Returns 1, or 0 on failure. scripts/test.sh
 * points TMPDIR at a folder that must be empty when the tests end. */
static int make_temp_dir(char *out, size_t cap, const char *prefix)
{
    const char *base = getenv("TMPDIR");
    int n;
    if (base == NULL || base[0] == '\0')
        base = "/tmp";
    n = snprintf(out, cap, "%s/%sXXXXXX", base, prefix);
    return n > 0 && (size_t)n < cap && mkdtemp(out) != NULL;
}

/* Deletes the files in `dir` (it holds no folders), then `dir`. */
static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[4096];
    if (d != NULL) {
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            remove(path);
        }
        closedir(d);
    }
    rmdir(dir);
}

static size_t read_file(const char *path, unsigned char *buf, size_t cap)
{
    size_t n;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return (size_t)-1;
    }
    n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

static void test_files(void)
{
    papo_server_options *so = papo_server_options_new();
    papo_server *srv = NULL;
    papo_client *ana = NULL, *bob = NULL, *carla = NULL;
    const papo_event *ev;
    uint16_t port = 0;
    unsigned char all[256];
    unsigned char big[2000];
    enum { FILE_SIZE = 256 * 1000 };
    unsigned char *content = (unsigned char *)malloc(FILE_SIZE);
    unsigned char *back = (unsigned char *)malloc(FILE_SIZE + 1);
    char src_dir[2048];
    char dl_dir[2048];
    char carla_dir[2048]; /* the copy sent to everyone reaches carla too */
    char src_path[4096];
    char saved[4096];
    char buf[4096];
    size_t need = 0;
    uint64_t file_id = 0;
    int i;
    FILE *f;

    REQUIRE_RC(content != NULL && back != NULL ? PAPO_OK : PAPO_ERR_IO, PAPO_OK);
    for (i = 0; i < 256; i++) {
        all[i] = (unsigned char)i;
    }
    for (i = 0; i < FILE_SIZE; i++) {
        content[i] = (unsigned char)((i * 7 + i / 256) & 0xff);
    }
    memset(big, 0, sizeof big);

    REQUIRE(so != NULL);
    CHECK_RC(papo_server_options_set_max_payload_bytes(so, 1024), PAPO_OK);
    REQUIRE_RC(papo_server_start_with("127.0.0.1", 0, so, &srv), PAPO_OK);
    papo_server_options_free(so);
    REQUIRE_RC(papo_server_port(srv, &port), PAPO_OK);
    REQUIRE_RC(Conecta_cliente(NULL, port, "ana", &ana), PAPO_OK);
    REQUIRE_RC(Conecta_cliente(NULL, port, "bob", &bob), PAPO_OK);
    REQUIRE_RC(Conecta_cliente(NULL, port, "carla", &carla), PAPO_OK);

    /* Every byte value, to everyone and to bob alone. */
    CHECK_RC(papo_client_send_bytes(ana, NULL, all, sizeof all), PAPO_OK);
    CHECK_RC(papo_client_send_bytes(ana, "bob", all, sizeof all), PAPO_OK);
    CHECK_RC(papo_client_send_bytes(ana, "", NULL, 0), PAPO_OK);
    CHECK(wait_client_event(bob, PAPO_EVENT_BYTES, &ev));
    CHECK(str_eq(ev->nick, "ana") && ev->is_private == 0);
    CHECK(ev->data_len == 256 && ev->data != NULL && memcmp(ev->data, all, 256) == 0);
    CHECK(ev->text == NULL && ev->file_name == NULL && ev->path == NULL && ev->file_id == 0);
    CHECK(wait_client_event(bob, PAPO_EVENT_BYTES, &ev));
    CHECK(str_eq(ev->nick, "ana") && ev->is_private == 1);
    CHECK(ev->data_len == 256 && memcmp(ev->data, all, 256) == 0);
    CHECK(wait_client_event(bob, PAPO_EVENT_BYTES, &ev));
    CHECK(ev->data_len == 0 && ev->data == NULL && ev->is_private == 0);
    CHECK(wait_client_event(carla, PAPO_EVENT_BYTES, &ev));
    CHECK(ev->data_len == 256 && memcmp(ev->data, all, 256) == 0 && ev->is_private == 0);
    /* Refusals. */
    CHECK_RC(papo_client_send_bytes(ana, NULL, big, sizeof big), PAPO_ERR_TOO_LONG);
    CHECK_RC(papo_client_send_bytes(ana, "zé", all, 1), PAPO_ERR_NO_SUCH_USER);
    CHECK_RC(papo_client_send_bytes(ana, NULL, NULL, 1), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(papo_client_send_bytes(NULL, NULL, all, 1), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(papo_client_send_bytes(ana, BAD_UTF8, all, 1), PAPO_ERR_INVALID_NICK);

    /* The download folder. */
    CHECK_RC(papo_client_download_dir(bob, NULL, 0, &need), PAPO_ERR_BUFFER_TOO_SMALL);
    CHECK(need > 1);
    CHECK_RC(papo_client_download_dir(bob, buf, sizeof buf, &need), PAPO_OK);
    CHECK(strstr(buf, "papo-downloads") != NULL);
    REQUIRE_RC(make_temp_dir(src_dir, sizeof src_dir, "papo-c-src-")
                       && make_temp_dir(dl_dir, sizeof dl_dir, "papo-c-dl-")
                       && make_temp_dir(carla_dir, sizeof carla_dir, "papo-c-carla-")
                   ? PAPO_OK
                   : PAPO_ERR_IO,
               PAPO_OK);
    CHECK_RC(papo_client_set_download_dir(bob, dl_dir), PAPO_OK);
    CHECK_RC(papo_client_set_download_dir(carla, carla_dir), PAPO_OK);
    CHECK_RC(papo_client_download_dir(bob, buf, sizeof buf, &need), PAPO_OK);
    CHECK(str_eq(buf, dl_dir) && need == strlen(dl_dir) + 1);
    CHECK_RC(papo_client_set_download_dir(bob, ""), PAPO_ERR_INVALID_ARGUMENT);
    CHECK_RC(papo_client_set_download_dir(NULL, dl_dir), PAPO_ERR_NULL_ARGUMENT);

    /* A file of every byte value, to bob alone. */
    snprintf(src_path, sizeof src_path, "%s/dados.bin", src_dir);
    f = fopen(src_path, "wb");
    REQUIRE_RC(f != NULL ? PAPO_OK : PAPO_ERR_IO, PAPO_OK);
    CHECK(fwrite(content, 1, FILE_SIZE, f) == FILE_SIZE);
    fclose(f);
    CHECK_RC(papo_client_send_file(ana, "bob", src_path, &file_id), PAPO_OK);
    CHECK(file_id != 0);
    CHECK(wait_client_event(bob, PAPO_EVENT_FILE_OFFERED, &ev));
    CHECK(ev->file_id == file_id && ev->bytes_total == FILE_SIZE && ev->is_private == 1);
    CHECK(str_eq(ev->nick, "ana") && str_eq(ev->file_name, "dados.bin"));
    CHECK(wait_client_event(bob, PAPO_EVENT_FILE_RECEIVED, &ev));
    CHECK(ev->file_id == file_id && ev->bytes_done == FILE_SIZE && ev->bytes_total == FILE_SIZE);
    CHECK(ev->path != NULL && starts_with(ev->path, dl_dir));
    snprintf(saved, sizeof saved, "%s", ev->path != NULL ? ev->path : "");
    CHECK(read_file(saved, back, FILE_SIZE + 1) == FILE_SIZE);
    CHECK(memcmp(back, content, FILE_SIZE) == 0);
    CHECK(wait_client_event(ana, PAPO_EVENT_FILE_SENT, &ev));
    CHECK(ev->file_id == file_id && ev->bytes_total == FILE_SIZE && str_eq(ev->nick, "bob"));
    CHECK(str_eq(ev->file_name, "dados.bin"));
    /* A NULL out_file_id is allowed; the second copy gets " (1)". */
    CHECK_RC(papo_client_send_file(ana, NULL, src_path, NULL), PAPO_OK);
    CHECK(wait_client_event(bob, PAPO_EVENT_FILE_RECEIVED, &ev));
    CHECK(ev->path != NULL && strstr(ev->path, "dados (1).bin") != NULL);
    if (ev->path != NULL) {
        CHECK(read_file(ev->path, back, FILE_SIZE + 1) == FILE_SIZE);
        CHECK(memcmp(back, content, FILE_SIZE) == 0);
        remove(ev->path);
    }
    /* Refusals. */
    snprintf(buf, sizeof buf, "%s/missing.bin", src_dir);
    CHECK_RC(papo_client_send_file(ana, NULL, buf, NULL), PAPO_ERR_IO);
    CHECK_RC(papo_client_send_file(ana, NULL, src_dir, NULL), PAPO_ERR_INVALID_ARGUMENT);
    CHECK_RC(papo_client_send_file(ana, "zé", src_path, NULL), PAPO_ERR_NO_SUCH_USER);
    CHECK_RC(papo_client_send_file(ana, NULL, NULL, NULL), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(papo_client_send_file(NULL, NULL, src_path, NULL), PAPO_ERR_NULL_ARGUMENT);

    CHECK_RC(Desconecta_cliente(carla), PAPO_OK);
    CHECK_RC(Desconecta_cliente(bob), PAPO_OK);
    CHECK_RC(Desconecta_cliente(ana), PAPO_OK);
    CHECK_RC(Desconecta_Servidor(srv), PAPO_OK);
    remove_dir(dl_dir);
    remove_dir(src_dir);
    remove_dir(carla_dir);
    free(content);
    free(back);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_strerror_and_version();
    test_options();
    test_panic_boundary();
    test_null_without_handles();
    test_bad_addresses();
    test_host_names();
    test_chat();
    test_wakeup_rule();
    test_server_config();
    test_files();
    test_presence_off();
    if (failures != 0) {
        fprintf(stderr, "test_api: %d of %d checks FAILED\n", failures, checks);
        return 1;
    }
    printf("test_api: all %d checks passed (papo %s)\n", checks, papo_version());
    return 0;
}
