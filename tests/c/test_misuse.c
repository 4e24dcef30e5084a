/*
 * test_misuse.c - the C API of papo under misuse (issue 6).
 *
 * One program, three modes (argv[1]):
 *
 *   misuse   NULL for every pointer argument (with live handles too),
 *            Desconecta_*(NULL) twice, Desconecta_cliente() refused inside
 *            the wake-up callback then done from outside (no deadlock, no
 *            callback after it returns), calls after the server is gone,
 *            invalid UTF-8 and over-long strings in every string argument,
 *            a panic forced inside the library (16; the process lives on),
 *            the password and TLS settings, and Desconecta_Servidor() while
 *            clients are mid-send and mid-transfer (every client gets 03,
 *            nothing acknowledged is lost, every library thread ends).
 *            Each gives its error code. Built with AddressSanitizer +
 *            UndefinedBehaviorSanitizer (leaks found by LeakSanitizer at
 *            exit), and run again under Valgrind memcheck.
 *   threads  8 threads sending, polling, pinging and disconnecting /
 *            reconnecting on 4 shared client handles (the API's rule, "not
 *            while another thread uses the handle", is kept with one
 *            pthread rwlock per handle), plus one thread pulling server
 *            events. Built with ThreadSanitizer.
 *   exit     starts a server and clients, keeps a thread sending, and
 *            returns from main while every library thread still runs: the
 *            process must exit with status 0 (run 100 times by
 *            scripts/sanitizers.sh).
 *
 * Built and run by tests/c_misuse.rs (a quick version, in `cargo test`) and
 * scripts/sanitizers.sh (the full version). The environment variable
 * PAPO_MISUSE_ITERATIONS sets the per-thread iterations of "threads".
 * Exits 0 when every check passed; prints each failed check on stderr. An
 * alarm ends the program if anything hangs (a deadlock is a failure).
 */
#define _POSIX_C_SOURCE 200809L

#include "papo.h"

#ifdef PAPO_TEST_HOOKS
/* A test hook (src/ffi/general.rs) that only a libpapo built with the cargo
 * feature `test-hooks` has; papo.h does not declare it. tests/c_misuse.rs and
 * scripts/sanitizers.sh build such a library and define PAPO_TEST_HOOKS;
 * without it (a release library) the panic checks are compiled out. */
#ifdef __cplusplus
extern "C"
#endif
int papo_debug_force_panic(void);
#endif

#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

static int failures = 0;
static int checks = 0;
static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        pthread_mutex_lock(&report_lock);                                            \
        checks++;                                                                    \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                              \
        }                                                                            \
        pthread_mutex_unlock(&report_lock);                                          \
    } while (0)

#define CHECK_RC(expr, want)                                                         \
    do {                                                                             \
        int rc_ = (expr);                                                            \
        pthread_mutex_lock(&report_lock);                                            \
        checks++;                                                                    \
        if (rc_ != (want)) {                                                         \
            fprintf(stderr, "%s:%d: %s returned %d (%s), expected %d (%s)\n",        \
                    __FILE__, __LINE__, #expr, rc_, papo_strerror(rc_), (int)(want), \
                    papo_strerror(want));                                            \
            failures++;                                                              \
        }                                                                            \
        pthread_mutex_unlock(&report_lock);                                          \
    } while (0)

#define REQUIRE_RC(expr, want)                                                         \
    do {                                                                               \
        int rc_ = (expr);                                                              \
        if (rc_ != (want)) {                                                           \
            fprintf(stderr, "%s:%d: %s returned %d (%s), expected %d; giving up\n",    \
                    __FILE__, __LINE__, #expr, rc_, papo_strerror(rc_), (int)(want));  \
            exit(2);                                                                   \
        }                                                                              \
    } while (0)

static const char BAD_UTF8[] = "\xc3\x28";           /* a broken two-byte sequence */
static const char BAD_UTF8_NICK[] = "ana\xff";       /* valid prefix, invalid byte */

static void sleep_ms(long ms)
{
    struct timespec t;
    t.tv_sec = ms / 1000;
    t.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&t, NULL);
}

static char *repeat(char c, size_t n)
{
    char *s = (char *)malloc(n + 1);
    if (s == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* Waits up to 20 s for an event of `kind` on `c` (others are skipped). */
static int wait_event(papo_client *c, int kind, const papo_event **out)
{
    int i;
    for (i = 0; i < 200; i++) {
        int rc = papo_client_wait_event(c, 100, out);
        if (rc == PAPO_OK && (int)(*out)->kind == kind)
            return 1;
        if (rc != PAPO_OK && rc != PAPO_ERR_TIMEOUT)
            return 0;
    }
    return 0;
}

/* ------------------------------------------------------------------ misuse */

static void null_arguments_with_live_handles(papo_server *s, papo_client *c)
{
    papo_server_options *so = papo_server_options_new();
    papo_client_options *co = papo_client_options_new();
    papo_client *c2 = NULL;
    papo_server *s2 = NULL;
    char buf[256];
    size_t n = 7;
    uint16_t port = 0;

    CHECK_RC(papo_server_port(s, NULL), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(papo_server_connection_count(s, NULL), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(papo_server_user_count(s, NULL), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(papo_server_users(s, buf, sizeof buf, NULL), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(papo_server_users(s, NULL, sizeof buf, &n), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(papo_server_wait_event(s, 0, NULL), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(papo_client_wait_event(c, 0, NULL), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(papo_client_users(c, buf, sizeof buf, NULL), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(papo_client_users(c, NULL, sizeof buf, &n), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(papo_client_nick(c, buf, sizeof buf, NULL), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(papo_client_nick(c, NULL, sizeof buf, &n), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(papo_client_set_nick(c, NULL), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(enviar_Msg(c, "bob", NULL), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(enviar_Msg(c, NULL, NULL), PAPO_ERR_NULL_ARGUMENT);
    CHECK(n == 7);

    REQUIRE_RC(so != NULL && co != NULL, 1);
    papo_server_options_free(NULL);
    papo_client_options_free(NULL);
    CHECK_RC(papo_server_options_set_max_clients(NULL, 1), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(papo_client_options_set_presence(NULL, 1), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(papo_server_start_with("127.0.0.1", 0, so, NULL), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(Conecta_Servidor("127.0.0.1", 0, NULL), PAPO_ERR_NULL_ARGUMENT);
    REQUIRE_RC(papo_server_port(s, &port), PAPO_OK);
    CHECK_RC(papo_client_connect_with("127.0.0.1", port, "zeca", co, NULL), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(papo_client_connect_with("127.0.0.1", port, NULL, co, &c2), PAPO_ERR_NULL_ARGUMENT);
    CHECK(strcmp(papo_last_error(), "argument apelido is NULL") == 0);
    papo_server_options_free(so);
    papo_client_options_free(co);
    CHECK_RC(Conecta_cliente("127.0.0.1", port, "zeca", NULL), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(Conecta_cliente("127.0.0.1", port, NULL, &c2), PAPO_ERR_NULL_ARGUMENT);
    CHECK(c2 == NULL && s2 == NULL);

    /* Where NULL is allowed, it means what the header says. */
    CHECK_RC(papo_client_set_wakeup(c, NULL, NULL), PAPO_OK); /* removes */
    n = 0;
    CHECK_RC(papo_client_nick(c, NULL, 0, &n), PAPO_ERR_BUFFER_TOO_SMALL);
    CHECK(n == strlen("ana") + 1);
    CHECK_RC(papo_client_nick(c, buf, 2, &n), PAPO_ERR_BUFFER_TOO_SMALL);
    CHECK(n == strlen("ana") + 1);
    CHECK_RC(Desconecta_Servidor(NULL), PAPO_OK);
    CHECK_RC(Desconecta_Servidor(NULL), PAPO_OK);
    CHECK_RC(Desconecta_cliente(NULL), PAPO_OK);
    CHECK_RC(Desconecta_cliente(NULL), PAPO_OK);
}

static void bad_strings(papo_server *s, papo_client *c)
{
    papo_server *s2 = NULL;
    papo_client *c2 = NULL;
    uint16_t port = 0;
    char *huge = repeat('x', 1 << 20);       /* 1 MiB */
    char *long_nick = repeat('n', 1000);
    char *long_ip = repeat('1', 10000);
    char *limit = repeat('y', 4095);         /* ':' + 4095 = the 4096-byte limit */

    REQUIRE_RC(papo_server_port(s, &port), PAPO_OK);
    /* Invalid UTF-8 in every string argument. */
    CHECK_RC(Conecta_Servidor(BAD_UTF8, 0, &s2), PAPO_ERR_INVALID_TEXT);
    CHECK_RC(Conecta_cliente(BAD_UTF8, port, "zeca", &c2), PAPO_ERR_INVALID_TEXT);
    CHECK_RC(Conecta_cliente("127.0.0.1", port, BAD_UTF8_NICK, &c2), PAPO_ERR_INVALID_NICK);
    CHECK_RC(enviar_Msg(c, BAD_UTF8, "oi"), PAPO_ERR_INVALID_NICK);
    CHECK_RC(enviar_Msg(c, "bob", BAD_UTF8), PAPO_ERR_INVALID_TEXT);
    CHECK_RC(enviar_Msg(c, NULL, BAD_UTF8), PAPO_ERR_INVALID_TEXT);
    CHECK_RC(papo_client_set_nick(c, BAD_UTF8_NICK), PAPO_ERR_INVALID_NICK);
    /* Over-long strings. */
    CHECK_RC(enviar_Msg(c, NULL, huge), PAPO_ERR_TOO_LONG);
    CHECK_RC(enviar_Msg(c, "bob", huge), PAPO_ERR_TOO_LONG);
    CHECK_RC(enviar_Msg(c, NULL, limit), PAPO_OK); /* exactly at the limit works */
    CHECK_RC(Conecta_cliente("127.0.0.1", port, long_nick, &c2), PAPO_ERR_INVALID_NICK);
    CHECK_RC(papo_client_set_nick(c, long_nick), PAPO_ERR_INVALID_NICK);
    CHECK_RC(enviar_Msg(c, long_nick, "oi"), PAPO_ERR_INVALID_NICK);
    CHECK_RC(Conecta_Servidor(long_ip, 0, &s2), PAPO_ERR_INVALID_ADDRESS);
    CHECK_RC(Conecta_cliente(long_ip, port, "zeca", &c2), PAPO_ERR_INVALID_ADDRESS);
    /* Text that could forge a line, empty text, bad nicknames. */
    CHECK_RC(enviar_Msg(c, NULL, "oi\nPUBLIC bob :falso"), PAPO_ERR_INVALID_TEXT);
    CHECK_RC(enviar_Msg(c, NULL, "oi\rPUBLIC bob :falso"), PAPO_ERR_INVALID_TEXT);
    CHECK_RC(enviar_Msg(c, "bob", "a\x1b[2Kb"), PAPO_ERR_INVALID_TEXT);
    CHECK_RC(enviar_Msg(c, NULL, ""), PAPO_ERR_EMPTY);
    CHECK_RC(enviar_Msg(c, "a:b", "oi"), PAPO_ERR_INVALID_NICK);
    CHECK_RC(papo_client_set_nick(c, "quit"), PAPO_ERR_INVALID_NICK);
    CHECK_RC(papo_client_set_nick(c, ""), PAPO_ERR_INVALID_NICK);
    CHECK(s2 == NULL && c2 == NULL);
    /* The handle still works after all that. */
    CHECK_RC(papo_client_ping(c), PAPO_OK);
    free(huge);
    free(long_nick);
    free(long_ip);
    free(limit);
}

typedef struct {
    pthread_mutex_t lock;
    papo_client *client;
    int calls;
    int rc_inside;     /* what Desconecta_cliente() returned inside; -1 before */
    int rc_next_event; /* what papo_client_wait_event() returned inside */
    int returned;      /* set once Desconecta_cliente() returned outside */
    int after;         /* callbacks after that: must stay 0 */
} wake_state;

static void on_wakeup(void *userdata)
{
    wake_state *w = (wake_state *)userdata;
    const papo_event *ev;
    pthread_mutex_lock(&w->lock);
    w->calls++;
    if (w->returned)
        w->after++;
    if (w->rc_inside == -1) {
        w->rc_inside = Desconecta_cliente(w->client);
        w->rc_next_event = papo_client_wait_event(w->client, 0, &ev);
    }
    pthread_mutex_unlock(&w->lock);
}

static void disconnect_from_the_wakeup_callback(uint16_t port, papo_client *talker)
{
    wake_state w;
    papo_client *c = NULL;
    int i, rc_inside = -1, after, calls;

    memset(&w, 0, sizeof w);
    pthread_mutex_init(&w.lock, NULL);
    w.rc_inside = -1;
    REQUIRE_RC(Conecta_cliente("127.0.0.1", port, "callback", &c), PAPO_OK);
    w.client = c;
    REQUIRE_RC(papo_client_set_wakeup(c, on_wakeup, &w), PAPO_OK);
    REQUIRE_RC(enviar_Msg(talker, NULL, "acorda"), PAPO_OK);
    for (i = 0; i < 2000 && rc_inside == -1; i++) {
        sleep_ms(10);
        pthread_mutex_lock(&w.lock);
        rc_inside = w.rc_inside;
        pthread_mutex_unlock(&w.lock);
    }
    /* Refused inside the callback, without deadlock; so is every other call. */
    CHECK_RC(rc_inside, PAPO_ERR_INVALID_ARGUMENT);
    CHECK_RC(w.rc_next_event, PAPO_ERR_INVALID_ARGUMENT);
    /* From outside it works (the callback may be running meanwhile). */
    CHECK_RC(Desconecta_cliente(c), PAPO_OK);
    pthread_mutex_lock(&w.lock);
    w.returned = 1;
    calls = w.calls;
    pthread_mutex_unlock(&w.lock);
    CHECK(calls >= 1);
    /* Nothing calls it any more, however much goes on. */
    for (i = 0; i < 20; i++)
        CHECK_RC(enviar_Msg(talker, NULL, "ainda ai?"), PAPO_OK);
    CHECK_RC(papo_client_ping(talker), PAPO_OK);
    sleep_ms(100);
    pthread_mutex_lock(&w.lock);
    after = w.after;
    pthread_mutex_unlock(&w.lock);
    CHECK(after == 0);
    pthread_mutex_destroy(&w.lock);
}

static void calls_after_the_server_is_gone(papo_server *s, papo_client *c)
{
    const papo_event *ev;
    char buf[64];
    size_t n = 0;
    int rc;

    CHECK_RC(Desconecta_Servidor(s), PAPO_OK);
    CHECK(wait_event(c, PAPO_EVENT_DISCONNECTED, &ev));
    CHECK(ev->code == PAPO_ERR_CONNECTION_ABORTED);
    CHECK_RC(papo_client_wait_event(c, 0, &ev), PAPO_ERR_CLOSED);
    CHECK_RC(papo_client_wait_event(c, 50, &ev), PAPO_ERR_CLOSED);
    rc = enviar_Msg(c, NULL, "alguem?");
    CHECK(rc == PAPO_ERR_CONNECTION_ABORTED || rc == PAPO_ERR_CLOSED);
    rc = enviar_Msg(c, "bob", "alguem?");
    CHECK(rc == PAPO_ERR_CONNECTION_ABORTED || rc == PAPO_ERR_CLOSED);
    rc = papo_client_ping(c);
    CHECK(rc == PAPO_ERR_CONNECTION_ABORTED || rc == PAPO_ERR_CLOSED);
    rc = papo_client_set_nick(c, "outro");
    CHECK(rc == PAPO_ERR_CONNECTION_ABORTED || rc == PAPO_ERR_CLOSED);
    rc = papo_client_users(c, buf, sizeof buf, &n);
    CHECK(rc == PAPO_ERR_CONNECTION_ABORTED || rc == PAPO_ERR_CLOSED);
    CHECK_RC(papo_client_nick(c, buf, sizeof buf, &n), PAPO_OK); /* local, still known */
    CHECK(strcmp(buf, "ana") == 0);
    CHECK_RC(papo_client_set_wakeup(c, NULL, NULL), PAPO_OK);
    CHECK_RC(Desconecta_cliente(c), PAPO_OK);
}

/* The password and TLS settings (PROTOCOL.md "Password", "TLS"). TLS needs
 * a certificate: PAPO_TEST_CERT and PAPO_TEST_KEY name PEM files for
 * 127.0.0.1 (tests/c_misuse.rs makes them with rcgen, scripts/sanitizers.sh
 * with openssl); without them only the plain half runs. */
static void password_and_tls(void)
{
    papo_server_options *so = papo_server_options_new();
    papo_client_options *co = papo_client_options_new();
    papo_server *s = NULL;
    papo_client *a = NULL, *b = NULL, *x = NULL;
    const papo_event *ev;
    uint16_t port = 0, tport = 7;
    const char *cert = getenv("PAPO_TEST_CERT");
    const char *key = getenv("PAPO_TEST_KEY");
    int i, got = 0;

    REQUIRE_RC(so != NULL && co != NULL, 1);
    /* A setter refuses what the server would refuse; the options keep
     * their previous value. */
    CHECK_RC(papo_server_options_set_password(so, BAD_UTF8), PAPO_ERR_INVALID_TEXT);
    CHECK_RC(papo_server_options_set_password(so, ""), PAPO_ERR_INVALID_ARGUMENT);
    CHECK_RC(papo_server_options_set_password(so, "segredo"), PAPO_OK);
    /* without its key */
    CHECK_RC(papo_server_options_set_tls_cert_file(so, "/nonexistent/papo-cert.pem"), PAPO_OK);
    CHECK_RC(papo_server_start_with("127.0.0.1", 0, so, &s), PAPO_ERR_INVALID_ARGUMENT);
    CHECK_RC(papo_server_options_set_tls_key_file(so, "/nonexistent/papo-key.pem"), PAPO_OK);
    CHECK_RC(papo_server_start_with("127.0.0.1", 0, so, &s), PAPO_ERR_IO);
    CHECK_RC(papo_server_options_set_tls_cert_file(so, cert), PAPO_OK);
    CHECK_RC(papo_server_options_set_tls_key_file(so, cert != NULL ? key : NULL), PAPO_OK);
    CHECK_RC(papo_server_options_set_tls_port(so, 0), PAPO_OK);
    /* The HTTP port (1.1): -1 off, 0 any free port, else that port. */
    CHECK_RC(papo_server_options_set_http_port(so, -2), PAPO_ERR_INVALID_ARGUMENT);
    CHECK_RC(papo_server_options_set_http_port(so, 65536), PAPO_ERR_INVALID_ARGUMENT);
    CHECK_RC(papo_server_options_set_http_port(NULL, 0), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(papo_server_options_set_http_port(so, 0), PAPO_OK);
    CHECK_RC(papo_server_options_add_http_origin(so, "ftp://x"), PAPO_ERR_INVALID_ARGUMENT);
    CHECK_RC(papo_server_options_add_http_origin(so, NULL), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(papo_server_options_add_http_origin(so, BAD_UTF8), PAPO_ERR_INVALID_TEXT);
    CHECK_RC(papo_server_options_add_http_origin(so, "https://chat.example.org"), PAPO_OK);
    REQUIRE_RC(papo_server_start_with("127.0.0.1", 0, so, &s), PAPO_OK);
    papo_server_options_free(so);
    REQUIRE_RC(papo_server_port(s, &port), PAPO_OK);
    CHECK_RC(papo_server_tls_port(s, &tport), PAPO_OK);
    CHECK(cert != NULL ? (tport != 0 && tport != port) : tport == 0);
    CHECK_RC(papo_server_tls_port(s, NULL), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(papo_server_tls_port(NULL, &tport), PAPO_ERR_NULL_ARGUMENT);
    {
        uint16_t hport = 0;
        papo_server_stats st;
        CHECK_RC(papo_server_http_port(s, &hport), PAPO_OK);
        CHECK(hport != 0 && hport != port);
        CHECK_RC(papo_server_http_port(s, NULL), PAPO_ERR_NULL_ARGUMENT);
        memset(&st, 0xff, sizeof st);
        st.size = 0; /* not set: refused */
        CHECK_RC(papo_server_get_stats(s, &st), PAPO_ERR_INVALID_ARGUMENT);
        CHECK_RC(papo_server_get_stats(s, NULL), PAPO_ERR_NULL_ARGUMENT);
        CHECK_RC(papo_server_get_stats(NULL, &st), PAPO_ERR_NULL_ARGUMENT);
        /* An older, shorter struct: only what fits is written. */
        memset(&st, 0xff, sizeof st);
        st.size = offsetof(papo_server_stats, users);
        CHECK_RC(papo_server_get_stats(s, &st), PAPO_OK);
        CHECK(st.connections == 0 && st.users == UINT64_MAX);
        st.size = sizeof st;
        CHECK_RC(papo_server_get_stats(s, &st), PAPO_OK);
        CHECK(st.size == sizeof st && st.users == 0 && st.io_threads >= 1);
        CHECK(st.disconnects_client == 0 && st.inbox_depth_max <= st.inbox_depth_total);
    }

    CHECK_RC(papo_client_connect_with("127.0.0.1", port, "ana", co, &a), PAPO_ERR_ACCESS_DENIED);
    CHECK_RC(papo_client_options_set_password(co, "errada"), PAPO_OK);
    CHECK_RC(papo_client_connect_with("127.0.0.1", port, "ana", co, &a), PAPO_ERR_ACCESS_DENIED);
    CHECK_RC(papo_client_options_set_password(co, BAD_UTF8), PAPO_ERR_INVALID_TEXT);
    CHECK_RC(papo_client_options_set_password(co, "segredo"), PAPO_OK);
    REQUIRE_RC(papo_client_connect_with("127.0.0.1", port, "ana", co, &a), PAPO_OK);
    CHECK_RC(papo_client_options_set_tls_ca_file(co, "/nonexistent/papo-ca.pem"), PAPO_OK);
    CHECK_RC(papo_client_connect_with("127.0.0.1", port, "bob", co, &x), PAPO_ERR_IO);
    if (cert != NULL) {
        CHECK_RC(papo_client_options_set_tls_ca_file(co, cert), PAPO_OK);
        /* not the certificate's name */
        CHECK_RC(papo_client_options_set_tls_server_name(co, "example.com"), PAPO_OK);
        CHECK_RC(papo_client_connect_with("127.0.0.1", tport, "bob", co, &x), PAPO_ERR_INVALID_SERVER);
        CHECK_RC(papo_client_options_set_tls_server_name(co, "not a name!"), PAPO_OK);
        CHECK_RC(papo_client_connect_with("127.0.0.1", tport, "bob", co, &x),
                 PAPO_ERR_INVALID_ARGUMENT);
        CHECK_RC(papo_client_options_set_tls_server_name(co, NULL), PAPO_OK);
        REQUIRE_RC(papo_client_connect_with("127.0.0.1", tport, "bob", co, &b), PAPO_OK);
        CHECK_RC(enviar_Msg(b, NULL, "cifrado"), PAPO_OK);
        CHECK_RC(enviar_Msg(b, "ana", "so para ti"), PAPO_OK);
        for (i = 0; i < 200 && got < 2; i++) {
            int rc = papo_client_wait_event(a, 100, &ev);
            if (rc == PAPO_OK && ev->kind == PAPO_EVENT_PUBLIC && strcmp(ev->text, "cifrado") == 0)
                got++;
            if (rc == PAPO_OK && ev->kind == PAPO_EVENT_PRIVATE && strcmp(ev->text, "so para ti") == 0)
                got++;
        }
        CHECK(got == 2);
        CHECK_RC(Desconecta_cliente(b), PAPO_OK);
    }
    papo_client_options_free(co);
    CHECK(x == NULL);
    CHECK_RC(Desconecta_cliente(a), PAPO_OK);
    CHECK_RC(Desconecta_Servidor(s), PAPO_OK);
}

/* --------------------------------------------- shutdown mid-send (misuse) */

/*
 * Desconecta_Servidor() while clients are in the middle of sending and of a
 * file transfer (issue 6; tests/faults_shutdown.rs is the same through
 * papo::Server::shutdown). Three chat clients each run two sender threads,
 * one per peer, looping enviar_Msg(peer, "<k>") with k = 0, 1, 2 ...: a
 * private message that returns PAPO_OK was acknowledged by the server
 * (SENT). Every client has a thread pulling its events. A fourth client,
 * "tx", sends a file to a fifth, "rx", whose application does not pull
 * events until the server is gone (an event queue of one event, so its
 * reader thread stops reading): the server's flow control then holds the
 * transfer in the middle, so the shutdown lands during it. The file is
 * sparse (it costs no disk) and 128 MiB, far more than the kernel (socket
 * buffers: a few MiB by default, tcp_rmem/tcp_wmem) and the server (half of
 * max_queue_bytes) hold for a receiver that does not read, so it does not
 * finish first; were it to, its completion is a documented outcome too.
 * Then:
 *
 * - every sender's last call fails with 03 (enviar_Msg documents no other
 *   code for a connection the server ended);
 * - every acknowledged k reached its receiver, in order, before the
 *   receiver's PAPO_EVENT_DISCONNECTED (nothing acknowledged is lost); at
 *   most the one unacknowledged last message came too;
 * - every client's PAPO_EVENT_DISCONNECTED has code 03;
 * - the file ends with one documented outcome on each side (sender:
 *   FILE_SEND_FAILED or FILE_SENT; receiver: FILE_FAILED or
 *   FILE_RECEIVED), before DISCONNECTED, and no partial file is left;
 * - further calls give 03 (requests) and 14 (events); Desconecta_cliente()
 *   gives 0 on each;
 * - the process's thread count (/proc/self/task) returns to what it was
 *   before the server started: every library thread ended.
 */

#define SD_CHAT 3             /* chat clients; each sends to the other two */
#define SD_SENDERS (SD_CHAT * (SD_CHAT - 1))
#define SD_PULLERS (SD_CHAT + 2) /* + tx and rx */
#define SD_TX SD_CHAT
#define SD_RX (SD_CHAT + 1)
#define SD_ACKED_FIRST 300    /* acknowledged private messages before the shutdown */
#define SD_FILE_BYTES (128L * 1024 * 1024) /* sparse */
#define SD_WAIT_MS 60000L     /* only against hanging */

static const char *const SD_NICKS[SD_PULLERS] = {"ana", "bia", "caio", "tx", "rx"};

typedef struct {
    int *v;
    size_t len, cap;
} sd_ints;

static void sd_push(sd_ints *a, int k)
{
    if (a->len == a->cap) {
        size_t cap = a->cap == 0 ? 256 : a->cap * 2;
        int *v = (int *)realloc(a->v, cap * sizeof *v);
        if (v == NULL) {
            fprintf(stderr, "out of memory\n");
            exit(2);
        }
        a->v = v;
        a->cap = cap;
    }
    a->v[a->len++] = k;
}

/* Gives up (exit 2) with errno's text when the test's own setup fails. */
static void sd_require(int ok, const char *what)
{
    if (!ok) {
        perror(what);
        exit(2);
    }
}

static char *sd_strdup(const char *s)
{
    char *d;
    if (s == NULL)
        return NULL;
    d = (char *)malloc(strlen(s) + 1);
    if (d == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    strcpy(d, s);
    return d;
}

/* One sender thread: private messages from SD_NICKS[from] to SD_NICKS[to]. */
typedef struct {
    papo_client *c;
    int from, to;
    sd_ints acked; /* the k answered PAPO_OK, in order */
    int last_rc;   /* what the call that ended the loop returned */
} sd_sender;

/* One client's event puller. Strings are copied out of each event: they
 * are valid only until the next papo_client_wait_event() on the client. */
typedef struct {
    papo_client *c;
    int index;               /* into SD_NICKS */
    int gated;               /* rx: pulls nothing until the server is gone */
    sd_ints got[SD_CHAT];    /* private texts (numbers) per chat sender */
    int unexpected;          /* a private message that is not ours, an ERROR event */
    int disconnected, disconnect_code, end_rc;
    /* files: the sender's side (tx) and the receiver's (rx) */
    int offered, progress_bad, outcomes, outcome_kind, outcome_code;
    uint64_t outcome_id, offered_id, offered_total, last_done;
    char *outcome_text, *outcome_path;
} sd_puller;

static pthread_mutex_t sd_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sd_cond = PTHREAD_COND_INITIALIZER;
static long sd_acked_total;  /* acknowledged private messages so far */
static long sd_send_progress; /* tx's FILE_SEND_PROGRESS events so far */
static long sd_rx_wakeups;    /* events queued for rx (its wake-up callback) */
static int sd_server_gone;    /* Desconecta_Servidor() returned */

static long sd_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long)t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

/* Threads of this process: the entries of /proc/self/task; -1 if unknown. */
static int sd_thread_count(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int n = 0;
    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static void *sd_nothing(void *arg)
{
    return arg;
}

static void sd_rx_wakeup(void *userdata)
{
    (void)userdata;
    pthread_mutex_lock(&sd_lock);
    sd_rx_wakeups++;
    pthread_mutex_unlock(&sd_lock);
}

static void *sd_send(void *arg)
{
    sd_sender *s = (sd_sender *)arg;
    char text[32];
    int k;
    for (k = 0;; k++) {
        int rc;
        snprintf(text, sizeof text, "%d", k);
        rc = enviar_Msg(s->c, SD_NICKS[s->to], text);
        if (rc != PAPO_OK) {
            s->last_rc = rc;
            return NULL;
        }
        sd_push(&s->acked, k);
        pthread_mutex_lock(&sd_lock);
        sd_acked_total++;
        pthread_mutex_unlock(&sd_lock);
    }
}

static int sd_chat_index(const char *nick)
{
    int i;
    for (i = 0; nick != NULL && i < SD_CHAT; i++)
        if (strcmp(nick, SD_NICKS[i]) == 0)
            return i;
    return -1;
}

static void sd_file_outcome(sd_puller *p, const papo_event *ev)
{
    p->outcomes++;
    p->outcome_kind = ev->kind;
    p->outcome_code = ev->code;
    p->outcome_id = ev->file_id;
    free(p->outcome_text);
    free(p->outcome_path);
    p->outcome_text = sd_strdup(ev->text);
    p->outcome_path = sd_strdup(ev->path);
    if (ev->kind == PAPO_EVENT_FILE_SENT || ev->kind == PAPO_EVENT_FILE_RECEIVED)
        if (ev->bytes_done != (uint64_t)SD_FILE_BYTES || ev->bytes_total != (uint64_t)SD_FILE_BYTES)
            p->progress_bad++;
}

static void *sd_pull(void *arg)
{
    sd_puller *p = (sd_puller *)arg;
    const papo_event *ev;
    long give_up = -1; /* once the server is gone: a deadline for DISCONNECTED */

    if (p->gated) {
        pthread_mutex_lock(&sd_lock);
        while (!sd_server_gone)
            pthread_cond_wait(&sd_cond, &sd_lock);
        pthread_mutex_unlock(&sd_lock);
    }
    while (!p->disconnected) {
        int rc = papo_client_wait_event(p->c, 100, &ev);
        if (rc == PAPO_ERR_TIMEOUT) {
            pthread_mutex_lock(&sd_lock);
            if (sd_server_gone && give_up < 0)
                give_up = sd_now_ms() + SD_WAIT_MS;
            pthread_mutex_unlock(&sd_lock);
            if (give_up >= 0 && sd_now_ms() > give_up) {
                p->end_rc = rc;
                return NULL; /* no DISCONNECTED: reported by the checks */
            }
            continue;
        }
        if (rc != PAPO_OK) {
            p->end_rc = rc; /* e.g. 14 without a DISCONNECTED first */
            return NULL;
        }
        switch (ev->kind) {
        case PAPO_EVENT_PRIVATE: {
            int from = sd_chat_index(ev->nick);
            char *end = NULL;
            long k = ev->text != NULL ? strtol(ev->text, &end, 10) : -1;
            if (from < 0 || end == NULL || *end != '\0' || k < 0 || k > 1000000000L)
                p->unexpected++;
            else
                sd_push(&p->got[from], (int)k);
            break;
        }
        case PAPO_EVENT_ERROR:
        case PAPO_EVENT_PUBLIC:
        case PAPO_EVENT_BYTES:
            p->unexpected++;
            break;
        case PAPO_EVENT_FILE_SEND_PROGRESS:
        case PAPO_EVENT_FILE_PROGRESS:
            if (ev->bytes_done < p->last_done || ev->bytes_done > ev->bytes_total
                || ev->bytes_total != (uint64_t)SD_FILE_BYTES)
                p->progress_bad++;
            p->last_done = ev->bytes_done;
            if (ev->kind == PAPO_EVENT_FILE_SEND_PROGRESS) {
                pthread_mutex_lock(&sd_lock);
                sd_send_progress++;
                pthread_mutex_unlock(&sd_lock);
            }
            break;
        case PAPO_EVENT_FILE_OFFERED:
            p->offered++;
            p->offered_id = ev->file_id;
            p->offered_total = ev->bytes_total;
            break;
        case PAPO_EVENT_FILE_SENT:
        case PAPO_EVENT_FILE_SEND_FAILED:
        case PAPO_EVENT_FILE_RECEIVED:
        case PAPO_EVENT_FILE_FAILED:
            sd_file_outcome(p, ev);
            break;
        case PAPO_EVENT_DISCONNECTED:
            p->disconnected = 1;
            p->disconnect_code = ev->code;
            break;
        default: /* JOINED, LEFT, NICK_CHANGED: presence, not ours to check */
            break;
        }
    }
    return NULL;
}

/* Removes what is left in `dir` (reporting each entry), then `dir`.
 * Returns the number of entries that were left (+1 if `dir` stays). */
static int sd_remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[4096];
    int left = 0;
    if (d == NULL)
        return 0;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        fprintf(stderr, "left in %s: %s\n", dir, e->d_name);
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        (void)unlink(path);
        left++;
    }
    closedir(d);
    if (rmdir(dir) != 0) {
        perror(dir);
        left++;
    }
    return left;
}

static void shutdown_mid_send_and_mid_transfer(void)
{
    papo_server_options *sc = papo_server_options_new();
    papo_client_options *rc_cfg = papo_client_options_new();
    papo_server *s = NULL;
    papo_client *clients[SD_PULLERS];
    sd_sender senders[SD_SENDERS];
    sd_puller pullers[SD_PULLERS];
    pthread_t send_t[SD_SENDERS], pull_t[SD_PULLERS];
    char tmp[2048], file[2048 + 16], down[2048 + 16];
    const char *tmp_base = getenv("TMPDIR");
    const papo_event *ev;
    uint64_t file_id = 0;
    uint16_t port = 0;
    long deadline, acked_total = 0, send_progress = 0, rx_wakeups = 0;
    int i, j, n, fd, left, baseline, threads = -1, waited_ms = 0;

    memset(clients, 0, sizeof clients);
    memset(senders, 0, sizeof senders);
    memset(pullers, 0, sizeof pullers);

    /* The file: sparse, so it costs no disk; its bytes read as zeros. In
     * $TMPDIR (scripts/test.sh checks that the tests leave it empty). */
    if (tmp_base == NULL || tmp_base[0] == '\0')
        tmp_base = "/tmp";
    n = snprintf(tmp, sizeof tmp, "%s/papo-misuse-XXXXXX", tmp_base);
    sd_require(n > 0 && (size_t)n < sizeof tmp, "TMPDIR too long");
    sd_require(mkdtemp(tmp) != NULL, "mkdtemp");
    snprintf(file, sizeof file, "%s/grande.bin", tmp);
    snprintf(down, sizeof down, "%s/down", tmp);
    fd = open(file, O_WRONLY | O_CREAT | O_EXCL, 0600);
    sd_require(fd >= 0, file);
    sd_require(ftruncate(fd, (off_t)SD_FILE_BYTES) == 0, "ftruncate");
    sd_require(close(fd) == 0, "close");
    sd_require(mkdir(down, 0700) == 0, down);

    /* Before the server and every client: the threads of this process.
     * One thread started and joined first, so that a helper thread which a
     * sanitizer's runtime starts at the first pthread_create (TSan's) is
     * in both counts. */
    pthread_create(&send_t[0], NULL, sd_nothing, NULL);
    pthread_join(send_t[0], NULL);
    baseline = sd_thread_count();
    CHECK(baseline > 0);

    REQUIRE_RC(sc != NULL && rc_cfg != NULL, 1);
    /* deliveries cross I/O threads */
    CHECK_RC(papo_server_options_set_io_threads(sc, 3), PAPO_OK);
    /* the senders go as fast as they can */
    CHECK_RC(papo_server_options_set_flood_lines_per_sec(sc, 0), PAPO_OK);
    /* rx stalls until the shutdown, not 30 s */
    CHECK_RC(papo_server_options_set_file_stall_timeout_ms(sc, 600000), PAPO_OK);
    REQUIRE_RC(papo_server_start_with("127.0.0.1", 0, sc, &s), PAPO_OK);
    papo_server_options_free(sc);
    REQUIRE_RC(papo_server_port(s, &port), PAPO_OK);
    for (i = 0; i < SD_RX; i++)
        REQUIRE_RC(Conecta_cliente("127.0.0.1", port, SD_NICKS[i], &clients[i]), PAPO_OK);
    /* full at once: its reader stops reading */
    CHECK_RC(papo_client_options_set_event_queue_capacity(rc_cfg, 1), PAPO_OK);
    /* only the file's events */
    CHECK_RC(papo_client_options_set_presence(rc_cfg, 0), PAPO_OK);
    REQUIRE_RC(papo_client_connect_with("127.0.0.1", port, SD_NICKS[SD_RX], rc_cfg,
                                        &clients[SD_RX]),
               PAPO_OK);
    papo_client_options_free(rc_cfg);
    REQUIRE_RC(papo_client_set_download_dir(clients[SD_RX], down), PAPO_OK);
    REQUIRE_RC(papo_client_set_wakeup(clients[SD_RX], sd_rx_wakeup, NULL), PAPO_OK);

    for (i = 0; i < SD_PULLERS; i++) {
        pullers[i].c = clients[i];
        pullers[i].index = i;
        pullers[i].gated = i == SD_RX;
        pthread_create(&pull_t[i], NULL, sd_pull, &pullers[i]);
    }
    REQUIRE_RC(papo_client_send_file(clients[SD_TX], SD_NICKS[SD_RX], file, &file_id), PAPO_OK);
    for (i = 0, n = 0; i < SD_CHAT; i++)
        for (j = 0; j < SD_CHAT; j++)
            if (i != j) {
                senders[n].c = clients[i];
                senders[n].from = i;
                senders[n].to = j;
                pthread_create(&send_t[n], NULL, sd_send, &senders[n]);
                n++;
            }

    /* Until a few hundred private messages were acknowledged, the file is
     * under way (tx heard of forwarded bytes) and rx holds its offer. */
    deadline = sd_now_ms() + SD_WAIT_MS;
    for (;;) {
        pthread_mutex_lock(&sd_lock);
        acked_total = sd_acked_total;
        send_progress = sd_send_progress;
        rx_wakeups = sd_rx_wakeups;
        pthread_mutex_unlock(&sd_lock);
        if ((acked_total >= SD_ACKED_FIRST && send_progress > 0 && rx_wakeups > 0)
            || sd_now_ms() > deadline)
            break;
        sleep_ms(5);
    }
    CHECK(acked_total >= SD_ACKED_FIRST);
    CHECK(send_progress > 0);
    CHECK(rx_wakeups > 0);

    CHECK_RC(Desconecta_Servidor(s), PAPO_OK);
    pthread_mutex_lock(&sd_lock);
    sd_server_gone = 1;
    pthread_cond_broadcast(&sd_cond);
    pthread_mutex_unlock(&sd_lock);

    for (i = 0; i < SD_SENDERS; i++)
        pthread_join(send_t[i], NULL);
    for (i = 0; i < SD_PULLERS; i++)
        pthread_join(pull_t[i], NULL);

    /* Every sender ended on 03. */
    for (i = 0; i < SD_SENDERS; i++)
        CHECK_RC(senders[i].last_rc, PAPO_ERR_CONNECTION_ABORTED);
    /* Every client saw DISCONNECTED with 03, last, and nothing foreign. */
    for (i = 0; i < SD_PULLERS; i++) {
        sd_puller *p = &pullers[i];
        if (!p->disconnected || p->disconnect_code != PAPO_ERR_CONNECTION_ABORTED)
            fprintf(stderr, "%s: disconnected %d, code %d, next_event ended with %d\n",
                    SD_NICKS[i], p->disconnected, p->disconnect_code, p->end_rc);
        CHECK(p->disconnected);
        CHECK_RC(p->disconnect_code, PAPO_ERR_CONNECTION_ABORTED);
        CHECK(p->unexpected == 0);
        CHECK(p->progress_bad == 0);
    }
    /* Nothing acknowledged was lost: receiver `to` got 0, 1, 2 ... from
     * `from`, in order, at least every acknowledged k and at most the one
     * the failed call had sent. */
    for (i = 0; i < SD_SENDERS; i++) {
        const sd_ints *acked = &senders[i].acked;
        const sd_ints *got = &pullers[senders[i].to].got[senders[i].from];
        size_t m, bad = 0;
        for (m = 0; m < got->len; m++)
            if (got->v[m] != (int)m)
                bad++;
        if (bad > 0 || got->len < acked->len || got->len > acked->len + 1)
            fprintf(stderr, "%s -> %s: acknowledged %lu, received %lu (%lu not in place)\n",
                    SD_NICKS[senders[i].from], SD_NICKS[senders[i].to],
                    (unsigned long)acked->len, (unsigned long)got->len, (unsigned long)bad);
        CHECK(bad == 0);
        CHECK(got->len >= acked->len);
        CHECK(got->len <= acked->len + 1);
    }
    /* The file: one documented outcome on each side. The sender's:
     * FILE_SEND_FAILED (the connection ended mid-transfer) or FILE_SENT. */
    {
        sd_puller *tx = &pullers[SD_TX], *rx = &pullers[SD_RX];
        CHECK(tx->outcomes == 1);
        CHECK(tx->outcome_id == file_id);
        CHECK(tx->outcome_code == 0); /* FILE_* events carry no code */
        CHECK(tx->outcome_kind == PAPO_EVENT_FILE_SEND_FAILED
              || tx->outcome_kind == PAPO_EVENT_FILE_SENT);
        if (tx->outcome_kind == PAPO_EVENT_FILE_SEND_FAILED)
            CHECK(tx->outcome_text != NULL && tx->outcome_text[0] != '\0');
        /* The receiver's: it held the offer, then FILE_FAILED (nothing left
         * in the download folder) or FILE_RECEIVED (saved there). */
        CHECK(rx->offered == 1);
        CHECK(rx->offered_id == file_id);
        CHECK(rx->offered_total == (uint64_t)SD_FILE_BYTES);
        CHECK(rx->outcomes == 1);
        CHECK(rx->outcome_id == file_id);
        CHECK(rx->outcome_code == 0);
        CHECK(rx->outcome_kind == PAPO_EVENT_FILE_FAILED
              || rx->outcome_kind == PAPO_EVENT_FILE_RECEIVED);
        if (rx->outcome_kind == PAPO_EVENT_FILE_RECEIVED) {
            CHECK(rx->outcome_path != NULL
                  && strncmp(rx->outcome_path, down, strlen(down)) == 0);
            CHECK(rx->outcome_path != NULL && unlink(rx->outcome_path) == 0);
        }
    }

    {
        size_t acked = 0, got = 0;
        for (i = 0; i < SD_SENDERS; i++) {
            acked += senders[i].acked.len;
            got += pullers[senders[i].to].got[senders[i].from].len;
        }
        printf("shutdown mid-send: private messages %lu acknowledged, %lu received; file: "
               "%lu of %ld bytes forwarded, tx %s (%s), rx %s\n",
               (unsigned long)acked, (unsigned long)got, (unsigned long)pullers[SD_TX].last_done,
               SD_FILE_BYTES,
               pullers[SD_TX].outcome_kind == PAPO_EVENT_FILE_SENT ? "FILE_SENT"
                                                                  : "FILE_SEND_FAILED",
               pullers[SD_TX].outcome_text != NULL ? pullers[SD_TX].outcome_text : "",
               pullers[SD_RX].outcome_kind == PAPO_EVENT_FILE_RECEIVED ? "FILE_RECEIVED"
                                                                      : "FILE_FAILED");
    }

    /* After the end: requests give 03, events 14, and each handle frees. */
    for (i = 0; i < SD_PULLERS; i++) {
        papo_client *c = clients[i];
        CHECK_RC(papo_client_wait_event(c, 0, &ev), PAPO_ERR_CLOSED);
        CHECK_RC(papo_client_wait_event(c, 20, &ev), PAPO_ERR_CLOSED);
        CHECK_RC(enviar_Msg(c, SD_NICKS[(i + 1) % SD_PULLERS], "depois"),
                 PAPO_ERR_CONNECTION_ABORTED);
        CHECK_RC(papo_client_ping(c), PAPO_ERR_CONNECTION_ABORTED);
    }
    CHECK_RC(papo_client_send_file(clients[SD_TX], SD_NICKS[SD_RX], file, NULL),
             PAPO_ERR_CONNECTION_ABORTED);
    for (i = 0; i < SD_PULLERS; i++)
        CHECK_RC(Desconecta_cliente(clients[i]), PAPO_OK);

    /* Every library thread ended (they are joined, so this should hold at
     * once; the wait is only for a slow kernel). */
    for (waited_ms = 0; waited_ms <= 20000; waited_ms += 10) {
        threads = sd_thread_count();
        if (threads == baseline)
            break;
        sleep_ms(10);
    }
    if (threads != baseline)
        fprintf(stderr, "threads: %d before the server, %d after everything ended\n",
                baseline, threads);
    else if (waited_ms > 0)
        fprintf(stderr, "note: the thread count came back %d ms after Desconecta_cliente\n",
                waited_ms);
    CHECK(threads == baseline);

    /* No partial file left by the receiver; the temporary folder goes. */
    left = sd_remove_dir(down);
    CHECK(left == 0);
    CHECK(unlink(file) == 0);
    CHECK(rmdir(tmp) == 0);

    for (i = 0; i < SD_SENDERS; i++)
        free(senders[i].acked.v);
    for (i = 0; i < SD_PULLERS; i++) {
        for (j = 0; j < SD_CHAT; j++)
            free(pullers[i].got[j].v);
        free(pullers[i].outcome_text);
        free(pullers[i].outcome_path);
    }
}

#include "quiet_panic.h"

static int run_misuse(void)
{
    papo_server *s = NULL;
    papo_client *ana = NULL, *bob = NULL;
    uint16_t port = 0;

#ifdef PAPO_TEST_HOOKS
    /* A panic inside the library comes back as 16, and everything goes on. */
    for (int i = 0; i < 3; i++)
        CHECK_RC(force_panic_quietly(), PAPO_ERR_PANIC);
#else
    printf("test_misuse: panic boundary not checked (no PAPO_TEST_HOOKS)\n");
#endif

    REQUIRE_RC(Conecta_Servidor("127.0.0.1", 0, &s), PAPO_OK);
    REQUIRE_RC(papo_server_port(s, &port), PAPO_OK);
    REQUIRE_RC(Conecta_cliente("127.0.0.1", port, "ana", &ana), PAPO_OK);
    REQUIRE_RC(Conecta_cliente("127.0.0.1", port, "bob", &bob), PAPO_OK);

    null_arguments_with_live_handles(s, ana);
    bad_strings(s, ana);
    disconnect_from_the_wakeup_callback(port, bob);
#ifdef PAPO_TEST_HOOKS
    CHECK_RC(force_panic_quietly(), PAPO_ERR_PANIC);
#endif
    CHECK_RC(papo_client_ping(ana), PAPO_OK); /* still works after a panic */
    CHECK_RC(Desconecta_cliente(bob), PAPO_OK);
    calls_after_the_server_is_gone(s, ana);
    password_and_tls();
    shutdown_mid_send_and_mid_transfer();
    return 0;
}

/* ----------------------------------------------------------------- threads */

#define THREADS 8
#define SHARED 4

static papo_client *shared_clients[SHARED];
static pthread_rwlock_t shared_locks[SHARED];
static uint16_t shared_port;
static int iterations = 200;
static pthread_mutex_t nick_lock = PTHREAD_MUTEX_INITIALIZER;
static int nick_counter = 0;
static pthread_mutex_t wake_lock = PTHREAD_MUTEX_INITIALIZER;
static long wakeups = 0;
static volatile int server_events_stop = 0;
static pthread_mutex_t stop_lock = PTHREAD_MUTEX_INITIALIZER;

static void count_wakeup(void *userdata)
{
    (void)userdata;
    pthread_mutex_lock(&wake_lock);
    wakeups++;
    pthread_mutex_unlock(&wake_lock);
}

static papo_client *connect_fresh(void)
{
    char nick[32];
    papo_client *c = NULL;
    int n;
    pthread_mutex_lock(&nick_lock);
    n = nick_counter++;
    pthread_mutex_unlock(&nick_lock);
    snprintf(nick, sizeof nick, "u%d", n);
    REQUIRE_RC(Conecta_cliente("127.0.0.1", shared_port, nick, &c), PAPO_OK);
    REQUIRE_RC(papo_client_set_wakeup(c, count_wakeup, NULL), PAPO_OK);
    return c;
}

static void *worker(void *arg)
{
    unsigned seed = (unsigned)(size_t)arg * 7919u + 1u;
    const papo_event *ev;
    char buf[4096];
    size_t n;
    int it;

    for (it = 0; it < iterations; it++) {
        int k = (int)(rand_r(&seed) % SHARED);
        int op = (int)(rand_r(&seed) % 20);
        if (op == 0) {
            /* Disconnect and replace the shared handle, alone on it. */
            pthread_rwlock_wrlock(&shared_locks[k]);
            CHECK_RC(Desconecta_cliente(shared_clients[k]), PAPO_OK);
            shared_clients[k] = connect_fresh();
            pthread_rwlock_unlock(&shared_locks[k]);
            continue;
        }
        pthread_rwlock_rdlock(&shared_locks[k]);
        {
            papo_client *c = shared_clients[k];
            int rc;
            switch (op % 5) {
            case 0:
                CHECK_RC(enviar_Msg(c, NULL, "ola a todos"), PAPO_OK);
                break;
            case 1:
                rc = enviar_Msg(c, "u0", "oi u0");
                CHECK(rc == PAPO_OK || rc == PAPO_ERR_NO_SUCH_USER);
                break;
            case 2:
                /* Polled from several threads at once: only `kind` is read
                 * (the strings belong to whichever call came last). */
                rc = papo_client_wait_event(c, 0, &ev);
                CHECK(rc == PAPO_OK || rc == PAPO_ERR_TIMEOUT);
                break;
            case 3:
                CHECK_RC(papo_client_ping(c), PAPO_OK);
                break;
            default:
                rc = papo_client_users(c, buf, sizeof buf, &n);
                CHECK(rc == PAPO_OK || rc == PAPO_ERR_BUFFER_TOO_SMALL);
                break;
            }
        }
        pthread_rwlock_unlock(&shared_locks[k]);
    }
    return NULL;
}

static void *server_events(void *arg)
{
    papo_server *s = (papo_server *)arg;
    const papo_server_event *ev;
    size_t count;
    for (;;) {
        int stop;
        pthread_mutex_lock(&stop_lock);
        stop = server_events_stop;
        pthread_mutex_unlock(&stop_lock);
        if (stop)
            break;
        (void)papo_server_wait_event(s, 10, &ev);
        CHECK_RC(papo_server_connection_count(s, &count), PAPO_OK);
    }
    return NULL;
}

static int run_threads(void)
{
    papo_server *s = NULL;
    pthread_t t[THREADS], ev_thread;
    const char *env = getenv("PAPO_MISUSE_ITERATIONS");
    int i;

    if (env != NULL && atoi(env) > 0)
        iterations = atoi(env);
    REQUIRE_RC(Conecta_Servidor("127.0.0.1", 0, &s), PAPO_OK);
    REQUIRE_RC(papo_server_port(s, &shared_port), PAPO_OK);
    for (i = 0; i < SHARED; i++) {
        pthread_rwlock_init(&shared_locks[i], NULL);
        shared_clients[i] = connect_fresh();
    }
    pthread_create(&ev_thread, NULL, server_events, s);
    for (i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, worker, (void *)(size_t)i);
    for (i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    pthread_mutex_lock(&stop_lock);
    server_events_stop = 1;
    pthread_mutex_unlock(&stop_lock);
    pthread_join(ev_thread, NULL);
    for (i = 0; i < SHARED; i++) {
        CHECK_RC(Desconecta_cliente(shared_clients[i]), PAPO_OK);
        pthread_rwlock_destroy(&shared_locks[i]);
    }
    CHECK_RC(Desconecta_Servidor(s), PAPO_OK);
    pthread_mutex_lock(&wake_lock);
    CHECK(wakeups > 0);
    pthread_mutex_unlock(&wake_lock);
    return 0;
}

/* -------------------------------------------------------------------- exit */

static void *chatter(void *arg)
{
    papo_client *c = (papo_client *)arg;
    for (;;)
        (void)enviar_Msg(c, NULL, "falando ate o fim");
    return NULL;
}

static void nothing(void *userdata)
{
    (void)userdata;
}

static int run_exit(void)
{
    papo_server *s = NULL;
    papo_client *a = NULL, *b = NULL, *c = NULL;
    uint16_t port = 0;
    pthread_t t;

    REQUIRE_RC(Conecta_Servidor("127.0.0.1", 0, &s), PAPO_OK);
    REQUIRE_RC(papo_server_port(s, &port), PAPO_OK);
    REQUIRE_RC(Conecta_cliente("127.0.0.1", port, "a", &a), PAPO_OK);
    REQUIRE_RC(Conecta_cliente("127.0.0.1", port, "b", &b), PAPO_OK);
    REQUIRE_RC(Conecta_cliente("127.0.0.1", port, "c", &c), PAPO_OK);
    REQUIRE_RC(papo_client_set_wakeup(b, nothing, NULL), PAPO_OK);
    pthread_create(&t, NULL, chatter, a);
    pthread_detach(t);
    sleep_ms(5);
    /* Return while the server's threads, three reader threads and the
     * chatter run: exit() must not crash. */
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "misuse";
    int rc;

    alarm(120); /* a deadlock ends the program (SIGALRM) instead of hanging */
    if (strcmp(mode, "misuse") == 0)
        rc = run_misuse();
    else if (strcmp(mode, "threads") == 0)
        rc = run_threads();
    else if (strcmp(mode, "exit") == 0)
        return run_exit();
    else {
        fprintf(stderr, "usage: %s [misuse|threads|exit]\n", argv[0]);
        return 2;
    }
    if (failures > 0) {
        fprintf(stderr, "test_misuse %s: %d of %d checks FAILED\n", mode, failures, checks);
        return 1;
    }
    printf("test_misuse %s: all %d checks passed\n", mode, checks);
    return rc;
}
