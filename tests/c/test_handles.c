/*
 * test_handles.c - handles that cannot crash, and fork (papo.h, "Handles"
 * and "Fork"), as a C programmer would get them wrong:
 *
 *   - use after free: every kind of call on a client and a server handle
 *     after Desconecta_*() returns PAPO_ERR_CLOSED, with a detail;
 *   - double free: a second Desconecta_*() is PAPO_ERR_CLOSED;
 *   - wrong type: a server handle given as a client (and back) is
 *     PAPO_ERR_CLOSED and touches neither;
 *   - garbage: made-up pointer values are PAPO_ERR_CLOSED;
 *   - Desconecta_cliente() while another thread waits for an event on the
 *     same handle: the wait ends (DISCONNECTED or CLOSED), nothing crashes;
 *   - fork: the child's calls on the handles it inherited return
 *     PAPO_ERR_FORKED at once and never hang (alarm() kills a hung child),
 *     Desconecta_*() there too; the child may make and use handles of its
 *     own; the child reports through its exit status (_exit), and the
 *     parent's handles keep working afterwards.
 *
 * Run by `make test-c` (also under ASan and Valgrind: make test-c-asan,
 * test-c-valgrind) and tests/c_misuse.rs. Exits 0 and prints
 * "test_handles: all N checks passed" when everything held.
 */
#define _POSIX_C_SOURCE 200809L
#include <papo.h>

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

/* Every client call that takes a handle, on `c`, must return `want`. */
static void every_client_call(papo_client *c, int want)
{
    char buf[64];
    size_t n = 7;
    uint64_t id = 7;
    const papo_event *ev = NULL;
    static const char data[3] = {1, 2, 3};
    CHECK_RC(enviar_Msg(c, NULL, "oi"), want);
    CHECK_RC(enviar_Msg(c, "ana", "oi"), want);
    CHECK_RC(papo_client_wait_event(c, 0, &ev), want);
    CHECK_RC(papo_client_wait_event(c, 100, &ev), want);
    CHECK_RC(papo_client_users(c, buf, sizeof buf, &n), want);
    CHECK_RC(papo_client_nick(c, buf, sizeof buf, &n), want);
    CHECK_RC(papo_client_set_nick(c, "outro"), want);
    CHECK_RC(papo_client_ping(c), want);
    CHECK_RC(papo_client_set_wakeup(c, NULL, NULL), want);
    CHECK_RC(papo_client_send_bytes(c, NULL, data, sizeof data), want);
    CHECK_RC(papo_client_send_file(c, NULL, "/etc/hostname", &id), want);
    CHECK_RC(papo_client_set_download_dir(c, "/tmp"), want);
    CHECK_RC(papo_client_download_dir(c, buf, sizeof buf, &n), want);
    CHECK(ev == NULL && n == 7 && id == 7);
}

/* Every server call that takes a handle, on `s`, must return `want`. */
static void every_server_call(papo_server *s, int want)
{
    uint16_t port = 7;
    size_t n = 7;
    char buf[64];
    const papo_server_event *ev = NULL;
    CHECK_RC(papo_server_port(s, &port), want);
    CHECK_RC(papo_server_tls_port(s, &port), want);
    CHECK_RC(papo_server_connection_count(s, &n), want);
    CHECK_RC(papo_server_user_count(s, &n), want);
    CHECK_RC(papo_server_users(s, buf, sizeof buf, &n), want);
    CHECK_RC(papo_server_wait_event(s, 0, &ev), want);
    CHECK(ev == NULL && port == 7 && n == 7);
}

struct waiter {
    papo_client *client;
    int rc;
    int kind;
};

static void *wait_an_hour(void *arg)
{
    struct waiter *w = (struct waiter *)arg;
    const papo_event *ev = NULL;
    w->rc = papo_client_wait_event(w->client, 3600 * 1000, &ev);
    /* Not read: the event is invalid once Desconecta_cliente() returns,
     * which the other thread may already have done (papo.h, "Threading");
     * only whether the wait ended, and how, is checked. */
    w->kind = ev != NULL ? 1 : 0;
    return NULL;
}

static void use_after_free_and_friends(void)
{
    papo_server *srv = NULL;
    papo_client *ana = NULL, *bob = NULL;
    uint16_t port = 0;
    size_t i;
    pthread_t t;
    struct waiter w;
    /* Made-up values: small numbers, an odd address, all bits set. */
    void *const garbage[] = {(void *)(uintptr_t)0x1234, (void *)(uintptr_t)0xdeadbeef,
                             (void *)(uintptr_t)0x7ffe00001001ULL, (void *)~(uintptr_t)0};

    REQUIRE_RC(Conecta_Servidor("127.0.0.1", 0, &srv), PAPO_OK);
    REQUIRE_RC(papo_server_port(srv, &port), PAPO_OK);
    REQUIRE_RC(Conecta_cliente("127.0.0.1", port, "ana", &ana), PAPO_OK);
    REQUIRE_RC(Conecta_cliente("127.0.0.1", port, "bob", &bob), PAPO_OK);

    /* Wrong type: a server handle given as a client, and back. */
    every_client_call((papo_client *)(void *)srv, PAPO_ERR_CLOSED);
    CHECK(strstr(papo_last_error(), "not a live client handle") != NULL);
    every_server_call((papo_server *)(void *)ana, PAPO_ERR_CLOSED);
    CHECK_RC(Desconecta_cliente((papo_client *)(void *)srv), PAPO_ERR_CLOSED);
    CHECK_RC(Desconecta_Servidor((papo_server *)(void *)ana), PAPO_ERR_CLOSED);

    /* Garbage values. */
    for (i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
        every_client_call((papo_client *)garbage[i], PAPO_ERR_CLOSED);
        every_server_call((papo_server *)garbage[i], PAPO_ERR_CLOSED);
        CHECK_RC(Desconecta_cliente((papo_client *)garbage[i]), PAPO_ERR_CLOSED);
        CHECK_RC(Desconecta_Servidor((papo_server *)garbage[i]), PAPO_ERR_CLOSED);
    }

    /* Still alive after all that. */
    CHECK_RC(enviar_Msg(ana, "bob", "oi bob"), PAPO_OK);
    CHECK_RC(papo_server_port(srv, &port), PAPO_OK);

    /* Desconecta_cliente while another thread waits on the same handle:
     * the wait ends, with the DISCONNECTED event or PAPO_ERR_CLOSED. */
    memset(&w, 0, sizeof w);
    w.client = bob;
    w.rc = -1;
    /* Drain bob's queue first so that the thread really waits. */
    {
        const papo_event *ev;
        CHECK_RC(papo_client_ping(bob), PAPO_OK);
        while (papo_client_wait_event(bob, 0, &ev) == PAPO_OK) {
        }
    }
    REQUIRE_RC(pthread_create(&t, NULL, wait_an_hour, &w), 0);
    {
        struct timespec pause = {0, 200 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    CHECK_RC(Desconecta_cliente(bob), PAPO_OK);
    pthread_join(t, NULL);
    CHECK((w.rc == PAPO_OK && w.kind == 1) || w.rc == PAPO_ERR_CLOSED);

    /* Use after free and double free. */
    every_client_call(bob, PAPO_ERR_CLOSED);
    CHECK(strstr(papo_last_error(), "Desconecta_cliente") != NULL);
    CHECK_RC(Desconecta_cliente(bob), PAPO_ERR_CLOSED);
    CHECK_RC(Desconecta_cliente(ana), PAPO_OK);
    every_client_call(ana, PAPO_ERR_CLOSED);
    CHECK_RC(Desconecta_cliente(ana), PAPO_ERR_CLOSED);
    CHECK_RC(Desconecta_Servidor(srv), PAPO_OK);
    every_server_call(srv, PAPO_ERR_CLOSED);
    CHECK_RC(Desconecta_Servidor(srv), PAPO_ERR_CLOSED);
    CHECK_RC(Desconecta_Servidor(NULL), PAPO_OK);
    CHECK_RC(Desconecta_cliente(NULL), PAPO_OK);
}

/* The child's part of the fork test; returns its failures (exit status). */
static int child(papo_server *srv, papo_client *ana)
{
    papo_server *mine = NULL;
    papo_client *me = NULL, *me2 = NULL;
    uint16_t port = 0;
    const papo_event *ev = NULL;

    failures = 0;
    alarm(60); /* a hang is a failure (SIGALRM ends the child) */
    every_client_call(ana, PAPO_ERR_FORKED);
    CHECK(strstr(papo_last_error(), "parent process") != NULL);
    every_server_call(srv, PAPO_ERR_FORKED);
    CHECK_RC(Desconecta_cliente(ana), PAPO_ERR_FORKED);
    CHECK_RC(Desconecta_Servidor(srv), PAPO_ERR_FORKED);
    /* Left alone, not forgotten: still FORKED, not CLOSED. */
    CHECK_RC(papo_client_ping(ana), PAPO_ERR_FORKED);

    /* Handles of its own work. */
    if (Conecta_Servidor("127.0.0.1", 0, &mine) != PAPO_OK) {
        fprintf(stderr, "child: Conecta_Servidor: %s\n", papo_last_error());
        return 100;
    }
    CHECK_RC(papo_server_port(mine, &port), PAPO_OK);
    CHECK_RC(Conecta_cliente("127.0.0.1", port, "filho", &me), PAPO_OK);
    CHECK_RC(Conecta_cliente("127.0.0.1", port, "filha", &me2), PAPO_OK);
    CHECK_RC(enviar_Msg(me2, "filho", "oi"), PAPO_OK);
    do {
        CHECK_RC(papo_client_wait_event(me, 10000, &ev), PAPO_OK);
    } while (ev != NULL && ev->kind != PAPO_EVENT_PRIVATE && failures == 0);
    CHECK(ev != NULL && strcmp(ev->text, "oi") == 0);
    CHECK_RC(Desconecta_cliente(me), PAPO_OK);
    CHECK_RC(Desconecta_cliente(me2), PAPO_OK);
    CHECK_RC(Desconecta_Servidor(mine), PAPO_OK);
    return failures > 99 ? 99 : failures;
}

static void fork_child_gets_forked(void)
{
    papo_server *srv = NULL;
    papo_client *ana = NULL;
    uint16_t port = 0;
    pid_t pid;
    int status = 0;

    REQUIRE_RC(Conecta_Servidor("127.0.0.1", 0, &srv), PAPO_OK);
    REQUIRE_RC(papo_server_port(srv, &port), PAPO_OK);
    REQUIRE_RC(Conecta_cliente("127.0.0.1", port, "ana", &ana), PAPO_OK);
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        int rc = child(srv, ana);
        fflush(NULL);
        _exit(rc);
    }
    REQUIRE_RC(pid > 0, 1);
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    if (WIFEXITED(status)) {
        CHECK(WEXITSTATUS(status) == 0);
        if (WEXITSTATUS(status) != 0) {
            fprintf(stderr, "the child failed %d checks\n", WEXITSTATUS(status));
        }
    } else if (WIFSIGNALED(status)) {
        fprintf(stderr, "the child was killed by signal %d (SIGALRM = hung)\n",
                WTERMSIG(status));
    }
    /* The parent's handles are untouched by the child. */
    CHECK_RC(papo_client_ping(ana), PAPO_OK);
    CHECK_RC(enviar_Msg(ana, NULL, "ainda aqui"), PAPO_OK);
    CHECK_RC(Desconecta_cliente(ana), PAPO_OK);
    CHECK_RC(Desconecta_Servidor(srv), PAPO_OK);
}

int main(int argc, char **argv)
{
    const char *only = argc > 1 ? argv[1] : "all";
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (strcmp(only, "all") == 0 || strcmp(only, "handles") == 0) {
        use_after_free_and_friends();
    }
    if (strcmp(only, "all") == 0 || strcmp(only, "fork") == 0) {
        fork_child_gets_forked();
    }
    if (failures != 0) {
        fprintf(stderr, "test_handles: %d of %d checks failed\n", failures, checks);
        return 1;
    }
    printf("test_handles: all %d checks passed\n", checks);
    return 0;
}
