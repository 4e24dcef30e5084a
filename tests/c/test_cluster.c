/*
 * test_cluster.c - clusters from C (papo.h 1.2), what works without a
 * running cluster:
 *
 *   - papo_server_options_set_cluster(): a Redis URL is taken, anything
 *     else (not a URL, another scheme, not UTF-8) refused with
 *     PAPO_ERR_INVALID_ARGUMENT / PAPO_ERR_INVALID_TEXT and
 *     papo_last_error() naming the setting, the options keeping their
 *     previous value; NULL turns it off again, and a server started with
 *     those options is a chat of its own (a client registers and chats);
 *   - papo_server_options_set_cluster_lease_ms(): below 1000 refused;
 *   - the cluster's server lines, sent by a scripted server (a thread of
 *     this program on loopback), as events: PAPO_EVENT_CLUSTER_PARTITIONED,
 *     PAPO_EVENT_LOST with `count`, PAPO_EVENT_RENAMED with `nick` and
 *     `new_nick` (papo_client_nick() then says the new one),
 *     PAPO_EVENT_CLUSTER_HEALED; a ping waiting meanwhile gets its own
 *     answer.
 *
 * Run by tests/c_api.rs and `make test-c`. Exits 0 and prints
 * "test_cluster: all N checks passed" when everything held.
 */
#define _POSIX_C_SOURCE 200809L
#include <papo.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"

static int str_eq(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* ---- the scripted server ------------------------------------------------ */

typedef struct {
    int listener;
    uint16_t port;
    int ok; /* 1 when the client's lines were the expected ones */
    pthread_t thread;
} scripted;

/* Reads one line (without its LF) into buf; 0 at EOF or on an error. */
static int read_line(int fd, char *buf, size_t size)
{
    size_t n = 0;
    char c;
    while (n + 1 < size) {
        ssize_t r = read(fd, &c, 1);
        if (r <= 0) {
            return 0;
        }
        if (c == '\n') {
            break;
        }
        buf[n++] = c;
    }
    buf[n] = '\0';
    return 1;
}

static int write_all(int fd, const char *s)
{
    size_t len = strlen(s);
    while (len > 0) {
        ssize_t w = write(fd, s, len);
        if (w <= 0) {
            return 0;
        }
        s += w;
        len -= (size_t)w;
    }
    return 1;
}

static void *script_run(void *arg)
{
    scripted *s = (scripted *)arg;
    char line[512];
    int fd = accept(s->listener, NULL, NULL);
    if (fd < 0) {
        return NULL;
    }
    s->ok = write_all(fd, "HELLO papo/1 line=4096 nick=32 :Bem-vindo ao papo!\n") &&
            read_line(fd, line, sizeof line) && str_eq(line, "ana") &&
            write_all(fd, "WELCOME ana :oi\nUSERS 2 :ana bob\n") &&
            /* The client's ping waits while the cluster's lines come. */
            read_line(fd, line, sizeof line) && strncmp(line, "/ping", 5) == 0 &&
            write_all(fd, "CLUSTER partitioned :sem contato (cut off)\n"
                          "LOST 3 :mensagens perdidas (messages lost)\n"
                          "RENAMED ana ana_2 :apelido de outro servidor\n"
                          "CLUSTER healed :de volta (back)\n"
                          "PONG :x\n") &&
            read_line(fd, line, sizeof line) && str_eq(line, "quit");
    close(fd);
    return NULL;
}

static void script_start(scripted *s)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    memset(s, 0, sizeof *s);
    s->listener = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(s->listener >= 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = 0;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(s->listener, (struct sockaddr *)&a, sizeof a) == 0);
    REQUIRE(listen(s->listener, 4) == 0);
    REQUIRE(getsockname(s->listener, (struct sockaddr *)&a, &alen) == 0);
    s->port = ntohs(a.sin_port);
    REQUIRE(pthread_create(&s->thread, NULL, script_run, s) == 0);
}

/* ---- the checks --------------------------------------------------------- */

static void setters(void)
{
    papo_server_options *so = papo_server_options_new();
    papo_server *srv = NULL;
    papo_client *ana = NULL, *bob = NULL;
    const papo_event *ev = NULL;
    uint16_t port = 0;
    REQUIRE(so != NULL);

    CHECK_RC(papo_server_options_set_cluster(so, "redis://127.0.0.1:6379/"), PAPO_OK);
    CHECK_RC(papo_server_options_set_cluster(so, "redis://127.0.0.1:6379/2"), PAPO_OK);
    CHECK_RC(papo_server_options_set_cluster(so, "unix:///run/redis/redis.sock"), PAPO_OK);
    CHECK_RC(papo_server_options_set_cluster(so, "não é url"), PAPO_ERR_INVALID_ARGUMENT);
    CHECK(strstr(papo_last_error(), "cluster") != NULL);
    CHECK_RC(papo_server_options_set_cluster(so, "http://127.0.0.1:6379/"),
             PAPO_ERR_INVALID_ARGUMENT);
    CHECK(strstr(papo_last_error(), "cluster") != NULL);
    CHECK_RC(papo_server_options_set_cluster(so, "\xff\xfe"), PAPO_ERR_INVALID_TEXT);
    CHECK_RC(papo_server_options_set_cluster(NULL, "redis://127.0.0.1/"),
             PAPO_ERR_NULL_ARGUMENT);

    CHECK_RC(papo_server_options_set_cluster_lease_ms(so, 0), PAPO_ERR_INVALID_ARGUMENT);
    CHECK_RC(papo_server_options_set_cluster_lease_ms(so, 999), PAPO_ERR_INVALID_ARGUMENT);
    CHECK(strstr(papo_last_error(), "cluster_lease") != NULL);
    CHECK_RC(papo_server_options_set_cluster_lease_ms(so, 1000), PAPO_OK);
    CHECK_RC(papo_server_options_set_cluster_lease_ms(so, 10000), PAPO_OK);
    CHECK_RC(papo_server_options_set_cluster_lease_ms(NULL, 10000), PAPO_ERR_NULL_ARGUMENT);

    /* Off again: a chat of its own, whatever runs (or not) at the URLs above. */
    CHECK_RC(papo_server_options_set_cluster(so, NULL), PAPO_OK);
    REQUIRE_RC(papo_server_start_with("127.0.0.1", 0, so, &srv), PAPO_OK);
    papo_server_options_free(so);
    REQUIRE_RC(papo_server_port(srv, &port), PAPO_OK);
    REQUIRE_RC(Conecta_cliente("127.0.0.1", port, "ana", &ana), PAPO_OK);
    REQUIRE_RC(Conecta_cliente("127.0.0.1", port, "bob", &bob), PAPO_OK);
    CHECK_RC(enviar_Msg(ana, "bob", "oi, bob"), PAPO_OK);
    for (;;) {
        int rc = papo_client_wait_event(bob, 20000, &ev);
        CHECK_RC(rc, PAPO_OK);
        if (rc != PAPO_OK) {
            break;
        }
        /* Not a cluster: none of its events. */
        CHECK(ev->kind != PAPO_EVENT_CLUSTER_PARTITIONED && ev->kind != PAPO_EVENT_LOST);
        if (ev->kind == PAPO_EVENT_PRIVATE) {
            CHECK(str_eq(ev->nick, "ana") && str_eq(ev->text, "oi, bob"));
            break;
        }
    }
    Desconecta_cliente(ana);
    Desconecta_cliente(bob);
    CHECK_RC(Desconecta_Servidor(srv), PAPO_OK);
}

static void events(void)
{
    scripted s;
    papo_client *ana = NULL;
    const papo_event *ev = NULL;
    char nick[64];
    size_t len = 0;

    script_start(&s);
    REQUIRE_RC(Conecta_cliente("127.0.0.1", s.port, "ana", &ana), PAPO_OK);
    /* The lines come while the ping waits: none of them answers it. */
    CHECK_RC(papo_client_ping(ana), PAPO_OK);

    REQUIRE_RC(papo_client_wait_event(ana, 20000, &ev), PAPO_OK);
    CHECK(ev->kind == PAPO_EVENT_CLUSTER_PARTITIONED);
    CHECK(ev->nick == NULL && ev->text == NULL && ev->count == 0 && ev->code == 0);

    REQUIRE_RC(papo_client_wait_event(ana, 20000, &ev), PAPO_OK);
    CHECK(ev->kind == PAPO_EVENT_LOST);
    CHECK(ev->count == 3 && ev->nick == NULL && ev->text == NULL);

    REQUIRE_RC(papo_client_wait_event(ana, 20000, &ev), PAPO_OK);
    CHECK(ev->kind == PAPO_EVENT_RENAMED);
    CHECK(str_eq(ev->nick, "ana") && str_eq(ev->new_nick, "ana_2") && ev->count == 0);
    CHECK_RC(papo_client_nick(ana, nick, sizeof nick, &len), PAPO_OK);
    CHECK(str_eq(nick, "ana_2") && len == 6); /* the NUL included */

    REQUIRE_RC(papo_client_wait_event(ana, 20000, &ev), PAPO_OK);
    CHECK(ev->kind == PAPO_EVENT_CLUSTER_HEALED);
    CHECK(ev->nick == NULL && ev->count == 0);

    CHECK_RC(papo_client_wait_event(ana, 50, &ev), PAPO_ERR_TIMEOUT);
    CHECK_RC(Desconecta_cliente(ana), PAPO_OK);
    pthread_join(s.thread, NULL);
    close(s.listener);
    CHECK(s.ok);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    setters();
    events();
    if (failures > 0) {
        fprintf(stderr, "test_cluster: %d of %d checks failed\n", failures, checks);
        return 1;
    }
    printf("test_cluster: all %d checks passed\n", checks);
    return 0;
}
