/*
 * test_poll.c - event-loop integration (papo.h, "Events and event-loop
 * integration"), from C:
 *
 *   - poll() on papo_client_fd() wakes when a message arrives, and the
 *     descriptor is not readable once the queue is drained;
 *   - papo_client_wakeup() from a second thread ends
 *     papo_client_wait_event(c, 3600000, &ev) at once (PAPO_ERR_TIMEOUT);
 *   - the same pair on the server: papo_server_fd() readable when a client
 *     connects, papo_server_wakeup() ends an hour's wait;
 *   - the asynchronous requests answer with PAPO_EVENT_REPLY carrying the
 *     caller's userdata, in order: a private message (0), one to nobody
 *     (02), the user list (in `text`), a ping, a rename, binary data, a
 *     file offer (its number in `file_id`); a local error returns at once
 *     and gets no reply;
 *   - the descriptors are closed with their handles: fcntl(F_GETFD) gives
 *     EBADF right after Desconecta_cliente() / Desconecta_Servidor().
 *
 * Run by `make test-c` (also under ASan and Valgrind) and tests/c_misuse.rs.
 * Exits 0 and prints "test_poll: all N checks passed" when everything held.
 */
#define _POSIX_C_SOURCE 200809L
#include <papo.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
    struct timespec t;
    t.tv_sec = ms / 1000;
    t.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&t, NULL);
}

/* poll() on one descriptor: 1 readable, 0 not within `ms`. */
static int readable(int fd, int ms)
{
    struct pollfd p;
    p.fd = fd;
    p.events = POLLIN;
    p.revents = 0;
    return poll(&p, 1, ms) == 1 && (p.revents & POLLIN) != 0;
}

static int str_eq(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* Takes every queued event of `c`, without waiting. */
static void drain(papo_client *c)
{
    const papo_event *ev;
    while (papo_client_wait_event(c, 0, &ev) == PAPO_OK) {
    }
}

struct waker {
    papo_client *client;
    papo_server *server;
};

static void *wake_later(void *arg)
{
    struct waker *w = (struct waker *)arg;
    sleep_ms(300);
    if (w->client != NULL) {
        CHECK_RC(papo_client_wakeup(w->client), PAPO_OK);
    }
    if (w->server != NULL) {
        CHECK_RC(papo_server_wakeup(w->server), PAPO_OK);
    }
    return NULL;
}

/* The next REPLY of `c` (other events skipped), waiting in poll() on its
 * descriptor as an event loop would. NULL if none came in 20 s. */
static const papo_event *next_reply(papo_client *c, int fd)
{
    const papo_event *ev;
    double deadline = now_s() + 20;
    while (now_s() < deadline) {
        if (!readable(fd, 1000)) {
            continue;
        }
        while (papo_client_wait_event(c, 0, &ev) == PAPO_OK) {
            if (ev->kind == PAPO_EVENT_REPLY) {
                return ev;
            }
        }
    }
    return NULL;
}

static int make_file(char *path, size_t cap)
{
    const char *base = getenv("TMPDIR");
    FILE *f;
    int fd;
    snprintf(path, cap, "%s/papo-poll-XXXXXX", base != NULL && base[0] != '\0' ? base : "/tmp");
    fd = mkstemp(path);
    if (fd < 0) {
        return 0;
    }
    f = fdopen(fd, "wb");
    if (f == NULL) {
        close(fd);
        return 0;
    }
    fputs("conteudo do arquivo\n", f);
    fclose(f);
    return 1;
}

int main(void)
{
    papo_server *srv = NULL;
    papo_client *ana = NULL, *bob = NULL;
    papo_client_options *co = papo_client_options_new();
    uint16_t port = 0;
    int afd = -1, bfd = -1, sfd = -1, again = -1;
    const papo_event *ev = NULL;
    const papo_server_event *sev = NULL;
    pthread_t t;
    struct waker w;
    double started;
    char file[512];
    static const unsigned char bytes[4] = {0, 1, 2, 3};

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (co == NULL) {
        return 2;
    }
    REQUIRE_RC(Conecta_Servidor("127.0.0.1", 0, &srv), PAPO_OK);
    REQUIRE_RC(papo_server_port(srv, &port), PAPO_OK);
    REQUIRE_RC(papo_server_fd(srv, &sfd), PAPO_OK);
    CHECK(sfd >= 0);
    CHECK_RC(papo_server_fd(srv, &again), PAPO_OK);
    CHECK(again == sfd); /* the same descriptor every time */
    CHECK_RC(papo_server_fd(srv, NULL), PAPO_ERR_NULL_ARGUMENT);

    /* The server's descriptor: readable when a client connects. */
    CHECK(!readable(sfd, 0));
    CHECK_RC(papo_client_options_set_presence(co, 0), PAPO_OK); /* bob: no JOINED noise */
    REQUIRE_RC(papo_client_connect_with("127.0.0.1", port, "bob", co, &bob), PAPO_OK);
    papo_client_options_free(co);
    CHECK(readable(sfd, 10000));
    while (papo_server_wait_event(srv, 0, &sev) == PAPO_OK) {
    }
    CHECK(!readable(sfd, 0));

    /* The client's descriptor: not readable while nothing is queued,
     * readable when a message arrives, not again once drained. */
    REQUIRE_RC(papo_client_fd(bob, &bfd), PAPO_OK);
    CHECK(bfd >= 0 && bfd != sfd);
    drain(bob);
    CHECK(!readable(bfd, 0));
    REQUIRE_RC(Conecta_cliente("127.0.0.1", port, "ana", &ana), PAPO_OK);
    REQUIRE_RC(papo_client_fd(ana, &afd), PAPO_OK);
    CHECK_RC(enviar_Msg(ana, "bob", "acorda"), PAPO_OK);
    started = now_s();
    CHECK(readable(bfd, 10000));
    CHECK(now_s() - started < 10);
    CHECK_RC(papo_client_wait_event(bob, 0, &ev), PAPO_OK);
    CHECK(ev != NULL && ev->kind == PAPO_EVENT_PRIVATE && str_eq(ev->text, "acorda"));
    CHECK(!readable(bfd, 0));

    /* papo_client_wakeup from another thread ends an hour's wait. */
    w.client = bob;
    w.server = NULL;
    started = now_s();
    REQUIRE_RC(pthread_create(&t, NULL, wake_later, &w), 0);
    CHECK_RC(papo_client_wait_event(bob, 3600000, &ev), PAPO_ERR_TIMEOUT);
    CHECK(now_s() - started < 30);
    pthread_join(t, NULL);
    /* Sticky: a wakeup with nobody waiting ends the next wait at once. */
    CHECK_RC(papo_client_wakeup(bob), PAPO_OK);
    started = now_s();
    CHECK_RC(papo_client_wait_event(bob, -1, &ev), PAPO_ERR_TIMEOUT);
    CHECK(now_s() - started < 30);

    /* The same on the server. */
    w.client = NULL;
    w.server = srv;
    started = now_s();
    REQUIRE_RC(pthread_create(&t, NULL, wake_later, &w), 0);
    while (papo_server_wait_event(srv, 0, &sev) == PAPO_OK) {
    }
    CHECK_RC(papo_server_wait_event(srv, 3600000, &sev), PAPO_ERR_TIMEOUT);
    CHECK(now_s() - started < 30);
    pthread_join(t, NULL);

    /* Asynchronous requests: answers as REPLY events, in order. */
    drain(ana);
    CHECK_RC(papo_client_send_async(ana, "bob", "oi bob", 1), PAPO_OK);
    CHECK_RC(papo_client_send_async(ana, "ze", "alguem?", 2), PAPO_OK);
    CHECK_RC(papo_client_users_async(ana, 3), PAPO_OK);
    CHECK_RC(papo_client_ping_async(ana, 4), PAPO_OK);
    CHECK_RC(papo_client_set_nick_async(ana, "ana2", 5), PAPO_OK);
    CHECK_RC(papo_client_send_bytes_async(ana, "bob", bytes, sizeof bytes, 6), PAPO_OK);
    CHECK_RC(papo_client_send_async(ana, NULL, "a todos", UINT64_MAX), PAPO_OK);
    ev = next_reply(ana, afd);
    CHECK(ev != NULL && ev->userdata == 1 && ev->code == 0);
    ev = next_reply(ana, afd);
    CHECK(ev != NULL && ev->userdata == 2 && ev->code == PAPO_ERR_NO_SUCH_USER);
    CHECK(ev != NULL && ev->text != NULL && ev->text[0] != '\0');
    ev = next_reply(ana, afd);
    CHECK(ev != NULL && ev->userdata == 3 && ev->code == 0 && str_eq(ev->text, "ana\nbob"));
    ev = next_reply(ana, afd);
    CHECK(ev != NULL && ev->userdata == 4 && ev->code == 0);
    ev = next_reply(ana, afd);
    CHECK(ev != NULL && ev->userdata == 5 && ev->code == 0);
    ev = next_reply(ana, afd);
    CHECK(ev != NULL && ev->userdata == 6 && ev->code == 0);
    ev = next_reply(ana, afd);
    CHECK(ev != NULL && ev->userdata == UINT64_MAX && ev->code == 0);
    /* A rename to a taken nickname: REPLY with 01. */
    CHECK_RC(papo_client_set_nick_async(ana, "bob", 7), PAPO_OK);
    ev = next_reply(ana, afd);
    CHECK(ev != NULL && ev->userdata == 7 && ev->code == PAPO_ERR_NICK_IN_USE);
    /* A file offer: its number comes in file_id. */
    if (make_file(file, sizeof file)) {
        CHECK_RC(papo_client_set_download_dir(bob, "/nonexistent/papo-downloads"), PAPO_OK);
        CHECK_RC(papo_client_send_file_async(ana, "bob", file, 8), PAPO_OK);
        ev = next_reply(ana, afd);
        CHECK(ev != NULL && ev->userdata == 8 && ev->code == 0 && ev->file_id != 0);
        unlink(file);
    } else {
        CHECK(!"cannot make a temporary file");
    }
    /* Local errors: at once, no REPLY. */
    CHECK_RC(papo_client_send_async(ana, "bob", "", 9), PAPO_ERR_EMPTY);
    CHECK_RC(papo_client_set_nick_async(ana, "nome com espaço", 9), PAPO_ERR_INVALID_NICK);
    CHECK_RC(papo_client_send_file_async(ana, NULL, "/nonexistent/arquivo", 9), PAPO_ERR_IO);
    CHECK_RC(papo_client_send_bytes_async(ana, NULL, NULL, 3, 9), PAPO_ERR_NULL_ARGUMENT);
    CHECK_RC(papo_client_ping_async(ana, 10), PAPO_OK);
    ev = next_reply(ana, afd);
    CHECK(ev != NULL && ev->userdata == 10); /* not 9 */

    /* The descriptors are closed with their handles. */
    CHECK_RC(Desconecta_cliente(bob), PAPO_OK);
    errno = 0;
    CHECK(fcntl(bfd, F_GETFD) == -1 && errno == EBADF);
    CHECK_RC(papo_client_fd(bob, &again), PAPO_ERR_CLOSED);
    CHECK_RC(papo_client_wakeup(bob), PAPO_ERR_CLOSED);
    CHECK_RC(papo_client_ping_async(bob, 1), PAPO_ERR_CLOSED);
    CHECK_RC(Desconecta_cliente(ana), PAPO_OK);
    errno = 0;
    CHECK(fcntl(afd, F_GETFD) == -1 && errno == EBADF);
    CHECK_RC(Desconecta_Servidor(srv), PAPO_OK);
    errno = 0;
    CHECK(fcntl(sfd, F_GETFD) == -1 && errno == EBADF);
    CHECK_RC(papo_server_fd(srv, &again), PAPO_ERR_CLOSED);
    CHECK_RC(papo_server_wakeup(srv), PAPO_ERR_CLOSED);

    if (failures != 0) {
        fprintf(stderr, "test_poll: %d of %d checks failed\n", failures, checks);
        return 1;
    }
    printf("test_poll: all %d checks passed\n", checks);
    return 0;
}
