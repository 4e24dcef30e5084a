/*
 * test_resume.c - reconnection that loses nothing, from C (papo.h 1.1),
 * through a small fault-injecting TCP proxy (a thread of this program)
 * that cuts the client's connection:
 *
 *   - a client made with papo_client_connect_with() reconnects by itself:
 *     PAPO_EVENT_RECONNECTING (attempt 1, 2, ...) then
 *     PAPO_EVENT_RECONNECTED with recovered 1, and every private message
 *     sent to it during 30 cuts arrives once, in order; its own messages
 *     go on after each reconnection;
 *   - the server's grace period running out (the proxy refusing new
 *     connections meanwhile): the others get PAPO_EVENT_LEFT, the client
 *     PAPO_EVENT_RECONNECTED with recovered 0;
 *   - a made-up token is refused with ERROR 24 (PAPO_ERR_RESUME_REFUSED);
 *   - Conecta_cliente() never reconnects: a cut is its end (03).
 *
 * Run by tests/c_misuse.rs (also under ASan) and `make test-c`. Exits 0 and
 * prints "test_resume: all N checks passed" when everything held.
 */
#define _POSIX_C_SOURCE 200809L
#include <papo.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"

/* ---- the proxy ---------------------------------------------------------- */

#define MAX_PAIRS 64

typedef struct {
    int listener;
    uint16_t port, upstream;
    int pairs[MAX_PAIRS][2]; /* client side, server side; -1: free */
    int cut, refusing, stop;
    pthread_mutex_t mu;
    pthread_t thread;
} proxy;

static void close_pair(proxy *p, int i)
{
    shutdown(p->pairs[i][0], SHUT_RDWR);
    shutdown(p->pairs[i][1], SHUT_RDWR);
    close(p->pairs[i][0]);
    close(p->pairs[i][1]);
    p->pairs[i][0] = p->pairs[i][1] = -1;
}

static int connect_local(uint16_t port)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return -1;
    }
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* One thread: accepts, forwards both ways with poll(), cuts on demand. */
static void *proxy_run(void *arg)
{
    proxy *p = (proxy *)arg;
    char buf[16384];
    for (;;) {
        struct pollfd fds[1 + 2 * MAX_PAIRS];
        int who[1 + 2 * MAX_PAIRS][2];
        int n = 0, i, k;
        pthread_mutex_lock(&p->mu);
        if (p->stop) {
            pthread_mutex_unlock(&p->mu);
            break;
        }
        if (p->cut) {
            p->cut = 0;
            for (i = 0; i < MAX_PAIRS; i++) {
                if (p->pairs[i][0] >= 0) {
                    close_pair(p, i);
                }
            }
        }
        fds[n].fd = p->listener;
        fds[n].events = POLLIN;
        n++;
        for (i = 0; i < MAX_PAIRS; i++) {
            for (k = 0; k < 2 && p->pairs[i][0] >= 0; k++) {
                fds[n].fd = p->pairs[i][k];
                fds[n].events = POLLIN;
                who[n][0] = i;
                who[n][1] = k;
                n++;
            }
        }
        pthread_mutex_unlock(&p->mu);
        if (poll(fds, (nfds_t)n, 5) <= 0) {
            continue;
        }
        pthread_mutex_lock(&p->mu);
        if (fds[0].revents & POLLIN) {
            int c = accept(p->listener, NULL, NULL);
            if (c >= 0) {
                int s = p->refusing ? -1 : connect_local(p->upstream);
                int slot = -1;
                for (i = 0; i < MAX_PAIRS && s >= 0; i++) {
                    if (p->pairs[i][0] < 0) {
                        slot = i;
                        break;
                    }
                }
                if (slot < 0) {
                    close(c);
                    if (s >= 0) {
                        close(s);
                    }
                } else {
                    p->pairs[slot][0] = c;
                    p->pairs[slot][1] = s;
                }
            }
        }
        for (i = 1; i < n; i++) {
            int pair = who[i][0], side = who[i][1];
            ssize_t got;
            if (fds[i].revents == 0 || p->pairs[pair][0] < 0 || fds[i].fd != p->pairs[pair][side]) {
                continue;
            }
            got = read(fds[i].fd, buf, sizeof buf);
            if (got <= 0) {
                close_pair(p, pair);
                continue;
            } else {
                ssize_t off = 0;
                int to = p->pairs[pair][1 - side];
                while (off < got) {
                    ssize_t w = write(to, buf + off, (size_t)(got - off));
                    if (w <= 0) {
                        break;
                    }
                    off += w;
                }
                if (off < got) {
                    close_pair(p, pair);
                }
            }
        }
        pthread_mutex_unlock(&p->mu);
    }
    return NULL;
}

static void proxy_start(proxy *p, uint16_t upstream)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int i;
    memset(p, 0, sizeof *p);
    for (i = 0; i < MAX_PAIRS; i++) {
        p->pairs[i][0] = p->pairs[i][1] = -1;
    }
    p->upstream = upstream;
    p->listener = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(p->listener >= 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(p->listener, (struct sockaddr *)&a, sizeof a) == 0);
    REQUIRE(listen(p->listener, 16) == 0);
    REQUIRE(getsockname(p->listener, (struct sockaddr *)&a, &len) == 0);
    p->port = ntohs(a.sin_port);
    pthread_mutex_init(&p->mu, NULL);
    REQUIRE(pthread_create(&p->thread, NULL, proxy_run, p) == 0);
}

static void proxy_set(proxy *p, int *flag, int value)
{
    pthread_mutex_lock(&p->mu);
    *flag = value;
    pthread_mutex_unlock(&p->mu);
}

static void proxy_stop(proxy *p)
{
    int i;
    proxy_set(p, &p->stop, 1);
    pthread_join(p->thread, NULL);
    for (i = 0; i < MAX_PAIRS; i++) {
        if (p->pairs[i][0] >= 0) {
            close_pair(p, i);
        }
    }
    close(p->listener);
    pthread_mutex_destroy(&p->mu);
}

/* ---- helpers ------------------------------------------------------------ */

static int str_eq(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* The next event of `c` of kind `kind`, skipping others (NULL after 20 s
 * without one). */
static const papo_event *next_of(papo_client *c, papo_event_kind kind)
{
    const papo_event *ev = NULL;
    int i;
    for (i = 0; i < 100000; i++) {
        if (papo_client_wait_event(c, 20000, &ev) != PAPO_OK) {
            return NULL;
        }
        if (ev->kind == kind) {
            return ev;
        }
    }
    return NULL;
}

static papo_server *start(uint32_t grace_ms, uint16_t *port)
{
    papo_server *srv = NULL;
    papo_server_options *so = papo_server_options_new();
    REQUIRE(so != NULL);
    CHECK_RC(papo_server_options_set_resume_grace_ms(so, grace_ms), PAPO_OK);
    CHECK_RC(papo_server_options_set_resume_backlog(so, 100000), PAPO_OK);
    CHECK_RC(papo_server_options_set_history_limit(so, 100000), PAPO_OK);
    REQUIRE_RC(papo_server_start_with("127.0.0.1", 0, so, &srv), PAPO_OK);
    papo_server_options_free(so);
    REQUIRE_RC(papo_server_port(srv, port), PAPO_OK);
    return srv;
}

static papo_client *reconnecting(uint16_t port, const char *nick)
{
    papo_client *c = NULL;
    papo_client_options *o = papo_client_options_new();
    REQUIRE(o != NULL);
    CHECK_RC(papo_client_options_set_reconnect(o, 1), PAPO_OK);
    CHECK_RC(papo_client_options_set_reconnect_attempts(o, 0), PAPO_ERR_INVALID_ARGUMENT);
    CHECK_RC(papo_client_options_set_reconnect_attempts(o, 100000), PAPO_OK);
    CHECK_RC(papo_client_options_set_reconnect_delay_ms(o, 2), PAPO_OK);
    CHECK_RC(papo_client_options_set_reconnect_max_delay_ms(o, 1), PAPO_ERR_INVALID_ARGUMENT);
    CHECK_RC(papo_client_options_set_reconnect_max_delay_ms(o, 20), PAPO_OK);
    REQUIRE_RC(papo_client_connect_with("127.0.0.1", port, nick, o, &c), PAPO_OK);
    papo_client_options_free(o);
    return c;
}

/* A raw connection's next line (without LF) into `out`; 0 at the end. */
static int raw_line(int fd, char *out, size_t cap)
{
    size_t n = 0;
    while (n + 1 < cap) {
        char ch;
        if (read(fd, &ch, 1) != 1) {
            return 0;
        }
        if (ch == '\n') {
            break;
        }
        out[n++] = ch;
    }
    out[n] = '\0';
    return 1;
}

/* ---- the scenarios ------------------------------------------------------ */

#define CUTS 30
#define PER_ROUND 10

static void cuts_lose_nothing(void)
{
    uint16_t port = 0;
    papo_server *srv = start(60000, &port);
    proxy px;
    papo_client *ana, *bob = NULL;
    const papo_event *ev;
    char text[32];
    int round, k, got = 0, reconnected = 0, in_order = 1, bob_got = 0;

    proxy_start(&px, port);
    ana = reconnecting(px.port, "ana");
    REQUIRE_RC(Conecta_cliente("127.0.0.1", port, "bob", &bob), PAPO_OK);
    ev = next_of(ana, PAPO_EVENT_JOINED);
    CHECK(ev != NULL && str_eq(ev->nick, "bob"));
    for (round = 0; round < CUTS; round++) {
        for (k = 0; k < PER_ROUND; k++) {
            snprintf(text, sizeof text, "b%d", round * PER_ROUND + k);
            CHECK_RC(enviar_Msg(bob, "ana", text), PAPO_OK);
        }
        /* Cut once ana has some of the round. */
        while (got < round * PER_ROUND + 3) {
            ev = next_of(ana, PAPO_EVENT_PRIVATE);
            REQUIRE(ev != NULL);
            snprintf(text, sizeof text, "b%d", got);
            in_order &= str_eq(ev->text, text) && ev->message_id > 0;
            got++;
        }
        proxy_set(&px, &px.cut, 1);
        /* The rest of the round, the reconnection's events among them. */
        while (reconnected <= round || got < (round + 1) * PER_ROUND) {
            REQUIRE_RC(papo_client_wait_event(ana, 20000, &ev), PAPO_OK);
            if (ev->kind == PAPO_EVENT_PRIVATE) {
                snprintf(text, sizeof text, "b%d", got);
                in_order &= str_eq(ev->text, text);
                got++;
            } else if (ev->kind == PAPO_EVENT_RECONNECTING) {
                CHECK(ev->attempt >= 1);
            } else if (ev->kind == PAPO_EVENT_RECONNECTED) {
                CHECK(ev->recovered == 1);
                reconnected++;
            } else {
                CHECK(ev->kind == PAPO_EVENT_PRIVATE); /* nothing else */
            }
        }
        /* ana talks after each reconnection: it waits for the link. */
        snprintf(text, sizeof text, "a%d", round);
        CHECK_RC(enviar_Msg(ana, "bob", text), PAPO_OK);
    }
    CHECK(in_order);
    CHECK(got == CUTS * PER_ROUND);
    CHECK(reconnected == CUTS);
    for (round = 0; round < CUTS; round++) {
        ev = next_of(bob, PAPO_EVENT_PRIVATE);
        REQUIRE(ev != NULL);
        snprintf(text, sizeof text, "a%d", round);
        bob_got += str_eq(ev->text, text);
    }
    CHECK(bob_got == CUTS);
    Desconecta_cliente(ana);
    Desconecta_cliente(bob);
    proxy_stop(&px);
    CHECK_RC(Desconecta_Servidor(srv), PAPO_OK);
}

static void grace_running_out(void)
{
    uint16_t port = 0;
    papo_server *srv = start(300, &port);
    proxy px;
    papo_client *ana, *bob = NULL;
    const papo_event *ev;

    proxy_start(&px, port);
    ana = reconnecting(px.port, "ana");
    REQUIRE_RC(Conecta_cliente("127.0.0.1", port, "bob", &bob), PAPO_OK);
    proxy_set(&px, &px.refusing, 1);
    proxy_set(&px, &px.cut, 1);
    ev = next_of(bob, PAPO_EVENT_LEFT);
    CHECK(ev != NULL && str_eq(ev->nick, "ana"));
    proxy_set(&px, &px.refusing, 0);
    ev = next_of(ana, PAPO_EVENT_RECONNECTED);
    CHECK(ev != NULL && ev->recovered == 0);
    ev = next_of(bob, PAPO_EVENT_JOINED);
    CHECK(ev != NULL && str_eq(ev->nick, "ana"));
    CHECK_RC(enviar_Msg(bob, "ana", "de volta"), PAPO_OK);
    ev = next_of(ana, PAPO_EVENT_PRIVATE);
    CHECK(ev != NULL && str_eq(ev->text, "de volta"));
    Desconecta_cliente(ana);
    Desconecta_cliente(bob);
    proxy_stop(&px);
    CHECK_RC(Desconecta_Servidor(srv), PAPO_OK);
}

static void stolen_token_refused_and_seed_client_ends(void)
{
    uint16_t port = 0;
    papo_server *srv = start(60000, &port);
    proxy px;
    papo_client *ana = NULL;
    const papo_event *ev;
    char line[512];
    const char *steal = "/resume ana 0123456789abcdef0123456789abcdef 0\n";
    int fd;

    proxy_start(&px, port);
    REQUIRE_RC(Conecta_cliente("127.0.0.1", px.port, "ana", &ana), PAPO_OK);
    fd = connect_local(port);
    REQUIRE(fd >= 0);
    CHECK(raw_line(fd, line, sizeof line) && strncmp(line, "HELLO papo/1 ", 13) == 0);
    CHECK(strstr(line, " resume=1") != NULL);
    CHECK(write(fd, steal, strlen(steal)) == (ssize_t)strlen(steal));
    CHECK(raw_line(fd, line, sizeof line) && strncmp(line, "ERROR 24 ana ", 13) == 0);
    close(fd);
    CHECK(papo_strerror(PAPO_ERR_RESUME_REFUSED) != NULL);

    /* The seed's client does not reconnect: a cut is its end. */
    proxy_set(&px, &px.cut, 1);
    ev = next_of(ana, PAPO_EVENT_DISCONNECTED);
    CHECK(ev != NULL && ev->code == PAPO_ERR_CONNECTION_ABORTED);
    Desconecta_cliente(ana);
    proxy_stop(&px);
    CHECK_RC(Desconecta_Servidor(srv), PAPO_OK);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    cuts_lose_nothing();
    grace_running_out();
    stolen_token_refused_and_seed_client_ends();
    if (failures > 0) {
        fprintf(stderr, "test_resume: %d of %d checks failed\n", failures, checks);
        return 1;
    }
    printf("test_resume: all %d checks passed\n", checks);
    return 0;
}
