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
 *            a panic forced inside the library (16; the process lives on).
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

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
static int wait_event(papo_client *c, int kind, papo_event *out)
{
    int i;
    for (i = 0; i < 200; i++) {
        int rc = papo_client_next_event(c, 100, out);
        if (rc == PAPO_OK && out->kind == kind)
            return 1;
        if (rc != PAPO_OK && rc != PAPO_ERR_TIMEOUT)
            return 0;
    }
    return 0;
}

/* ------------------------------------------------------------------ misuse */

static void null_arguments_with_live_handles(papo_server *s, papo_client *c)
{
    papo_server_config scfg;
    papo_client_config ccfg;
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
    CHECK_RC(papo_server_next_event(s, 0, NULL), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(papo_client_next_event(c, 0, NULL), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(papo_client_users(c, buf, sizeof buf, NULL), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(papo_client_users(c, NULL, sizeof buf, &n), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(papo_client_nick(c, buf, sizeof buf, NULL), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(papo_client_nick(c, NULL, sizeof buf, &n), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(papo_client_set_nick(c, NULL), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(enviar_Msg(c, "bob", NULL), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(enviar_Msg(c, NULL, NULL), PAPO_ERR_NULL_ARGUMENT);
    CHECK(n == 7);

    papo_server_config_init(&scfg);
    papo_client_config_init(&ccfg);
    papo_server_config_init(NULL);
    papo_client_config_init(NULL);
    CHECK_RC(papo_server_start("127.0.0.1", 0, &scfg, NULL), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(Conecta_Servidor("127.0.0.1", 0, NULL), PAPO_ERR_NULL_ARGUMENT);
    REQUIRE_RC(papo_server_port(s, &port), PAPO_OK);
    CHECK_RC(papo_client_connect("127.0.0.1", port, "zeca", &ccfg, NULL), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(papo_client_connect("127.0.0.1", port, NULL, &ccfg, &c2), PAPO_ERR_NULL_ARGUMENT);
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
    int rc_next_event; /* what papo_client_next_event() returned inside */
    int returned;      /* set once Desconecta_cliente() returned outside */
    int after;         /* callbacks after that: must stay 0 */
} wake_state;

static void on_wakeup(void *userdata)
{
    wake_state *w = (wake_state *)userdata;
    papo_event ev;
    pthread_mutex_lock(&w->lock);
    w->calls++;
    if (w->returned)
        w->after++;
    if (w->rc_inside == -1) {
        w->rc_inside = Desconecta_cliente(w->client);
        w->rc_next_event = papo_client_next_event(w->client, 0, &ev);
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
    papo_event ev;
    char buf[64];
    size_t n = 0;
    int rc;

    CHECK_RC(Desconecta_Servidor(s), PAPO_OK);
    CHECK(wait_event(c, PAPO_EVENT_DISCONNECTED, &ev));
    CHECK(ev.code == PAPO_ERR_CONNECTION_ABORTED);
    CHECK_RC(papo_client_next_event(c, 0, &ev), PAPO_ERR_CLOSED);
    CHECK_RC(papo_client_next_event(c, 50, &ev), PAPO_ERR_CLOSED);
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
    papo_server_config sc;
    papo_client_config cc;
    papo_server *s = NULL;
    papo_client *a = NULL, *b = NULL, *x = NULL;
    papo_event ev;
    uint16_t port = 0, tport = 7;
    const char *cert = getenv("PAPO_TEST_CERT");
    const char *key = getenv("PAPO_TEST_KEY");
    int i, got = 0;

    papo_server_config_init(&sc);
    CHECK(sc.password == NULL && sc.tls_cert_file == NULL && sc.tls_key_file == NULL);
    CHECK(sc.tls_port == PAPO_DEFAULT_TLS_PORT);
    sc.password = BAD_UTF8;
    CHECK_RC(papo_server_start("127.0.0.1", 0, &sc, &s), PAPO_ERR_INVALID_TEXT);
    sc.password = "";
    CHECK_RC(papo_server_start("127.0.0.1", 0, &sc, &s), PAPO_ERR_INVALID_ARGUMENT);
    sc.password = "segredo";
    sc.tls_cert_file = "/nonexistent/papo-cert.pem"; /* without its key */
    CHECK_RC(papo_server_start("127.0.0.1", 0, &sc, &s), PAPO_ERR_INVALID_ARGUMENT);
    sc.tls_key_file = "/nonexistent/papo-key.pem";
    CHECK_RC(papo_server_start("127.0.0.1", 0, &sc, &s), PAPO_ERR_IO);
    sc.tls_cert_file = cert;
    sc.tls_key_file = cert != NULL ? key : NULL;
    sc.tls_port = 0;
    REQUIRE_RC(papo_server_start("127.0.0.1", 0, &sc, &s), PAPO_OK);
    REQUIRE_RC(papo_server_port(s, &port), PAPO_OK);
    CHECK_RC(papo_server_tls_port(s, &tport), PAPO_OK);
    CHECK(cert != NULL ? (tport != 0 && tport != port) : tport == 0);
    CHECK_RC(papo_server_tls_port(s, NULL), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(papo_server_tls_port(NULL, &tport), PAPO_ERR_NULL_ARGUMENT);

    papo_client_config_init(&cc);
    CHECK(cc.password == NULL && cc.tls_ca_file == NULL && cc.tls_server_name == NULL);
    CHECK_RC(papo_client_connect("127.0.0.1", port, "ana", &cc, &a), PAPO_ERR_ACCESS_DENIED);
    cc.password = "errada";
    CHECK_RC(papo_client_connect("127.0.0.1", port, "ana", &cc, &a), PAPO_ERR_ACCESS_DENIED);
    cc.password = BAD_UTF8;
    CHECK_RC(papo_client_connect("127.0.0.1", port, "ana", &cc, &a), PAPO_ERR_INVALID_TEXT);
    cc.password = "segredo";
    REQUIRE_RC(papo_client_connect("127.0.0.1", port, "ana", &cc, &a), PAPO_OK);
    cc.tls_ca_file = "/nonexistent/papo-ca.pem";
    CHECK_RC(papo_client_connect("127.0.0.1", port, "bob", &cc, &x), PAPO_ERR_IO);
    if (cert != NULL) {
        cc.tls_ca_file = cert;
        cc.tls_server_name = "example.com"; /* not the certificate's name */
        CHECK_RC(papo_client_connect("127.0.0.1", tport, "bob", &cc, &x), PAPO_ERR_INVALID_SERVER);
        cc.tls_server_name = "not a name!";
        CHECK_RC(papo_client_connect("127.0.0.1", tport, "bob", &cc, &x), PAPO_ERR_INVALID_ARGUMENT);
        cc.tls_server_name = NULL;
        REQUIRE_RC(papo_client_connect("127.0.0.1", tport, "bob", &cc, &b), PAPO_OK);
        CHECK_RC(enviar_Msg(b, NULL, "cifrado"), PAPO_OK);
        CHECK_RC(enviar_Msg(b, "ana", "so para ti"), PAPO_OK);
        for (i = 0; i < 200 && got < 2; i++) {
            int rc = papo_client_next_event(a, 100, &ev);
            if (rc == PAPO_OK && ev.kind == PAPO_EVENT_PUBLIC && strcmp(ev.text, "cifrado") == 0)
                got++;
            if (rc == PAPO_OK && ev.kind == PAPO_EVENT_PRIVATE && strcmp(ev.text, "so para ti") == 0)
                got++;
        }
        CHECK(got == 2);
        CHECK_RC(Desconecta_cliente(b), PAPO_OK);
    }
    CHECK(x == NULL);
    CHECK_RC(Desconecta_cliente(a), PAPO_OK);
    CHECK_RC(Desconecta_Servidor(s), PAPO_OK);
}

static int run_misuse(void)
{
    papo_server *s = NULL;
    papo_client *ana = NULL, *bob = NULL;
    uint16_t port = 0;
    int i;

    /* A panic inside the library comes back as 16, and everything goes on. */
    for (i = 0; i < 3; i++)
        CHECK_RC(papo_debug_force_panic(), PAPO_ERR_PANIC);

    REQUIRE_RC(Conecta_Servidor("127.0.0.1", 0, &s), PAPO_OK);
    REQUIRE_RC(papo_server_port(s, &port), PAPO_OK);
    REQUIRE_RC(Conecta_cliente("127.0.0.1", port, "ana", &ana), PAPO_OK);
    REQUIRE_RC(Conecta_cliente("127.0.0.1", port, "bob", &bob), PAPO_OK);

    null_arguments_with_live_handles(s, ana);
    bad_strings(s, ana);
    disconnect_from_the_wakeup_callback(port, bob);
    CHECK_RC(papo_debug_force_panic(), PAPO_ERR_PANIC);
    CHECK_RC(papo_client_ping(ana), PAPO_OK); /* still works after a panic */
    CHECK_RC(Desconecta_cliente(bob), PAPO_OK);
    calls_after_the_server_is_gone(s, ana);
    password_and_tls();
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
    papo_event ev;
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
                rc = papo_client_next_event(c, 0, &ev);
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
    papo_server_event ev;
    size_t count;
    for (;;) {
        int stop;
        pthread_mutex_lock(&stop_lock);
        stop = server_events_stop;
        pthread_mutex_unlock(&stop_lock);
        if (stop)
            break;
        (void)papo_server_next_event(s, 10, &ev);
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
