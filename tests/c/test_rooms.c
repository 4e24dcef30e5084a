/*
 * test_rooms.c - rooms, message ids and history from C (papo.h 1.1):
 *
 *   - papo_client_join() / papo_client_part(), enviar_Msg(client, "#room",
 *     text) to a room, PAPO_EVENT_ROOM with `room`, `message_id`,
 *     `time_ms`; a non-member gets PAPO_ERR_NOT_IN_ROOM and the other
 *     members get nothing; names at their limits (PAPO_ERR_INVALID_ROOM);
 *   - papo_client_rooms() and papo_client_history() (buffer protocol,
 *     order, paging with `before`, a private conversation only for its two
 *     sides) and their _async twins (PAPO_EVENT_REPLY);
 *   - a server with papo_server_options_set_history_path(): stopped and
 *     started again, it keeps history and ids; one whose database cannot
 *     be written reports PAPO_SERVER_EVENT_HISTORY and chats on.
 *
 * Usage: test_rooms <scratch directory>. Run by tests/c_misuse.rs (also
 * under ASan) and `make test-c`. Exits 0 and prints
 * "test_rooms: all N checks passed" when everything held.
 */
#define _POSIX_C_SOURCE 200809L
#include <papo.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static int str_eq(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* The next event of `c` of kind `kind`, skipping others (NULL after 10 s). */
static const papo_event *next_of(papo_client *c, papo_event_kind kind)
{
    const papo_event *ev = NULL;
    int i;
    for (i = 0; i < 1000; i++) {
        if (papo_client_wait_event(c, 10000, &ev) != PAPO_OK) {
            return NULL;
        }
        if (ev->kind == kind) {
            return ev;
        }
    }
    return NULL;
}

/* Lines in a '\n'-separated text ("" has none). */
static int count_lines(const char *text)
{
    int n = 0;
    if (text[0] == '\0') {
        return 0;
    }
    for (n = 1; *text != '\0'; text++) {
        n += *text == '\n';
    }
    return n;
}

static papo_server *start(const char *db, uint16_t *port)
{
    papo_server *srv = NULL;
    papo_server_options *so = papo_server_options_new();
    REQUIRE(so != NULL);
    CHECK_RC(papo_server_options_set_history_path(so, db), PAPO_OK);
    CHECK_RC(papo_server_options_set_oper_password(so, " x"), PAPO_ERR_INVALID_ARGUMENT);
    CHECK_RC(papo_server_options_set_oper_password(so, "chefe"), PAPO_OK);
    CHECK_RC(papo_server_options_set_history_limit(so, 100), PAPO_OK);
    REQUIRE_RC(papo_server_start_with("127.0.0.1", 0, so, &srv), PAPO_OK);
    papo_server_options_free(so);
    REQUIRE_RC(papo_server_port(srv, port), PAPO_OK);
    return srv;
}

int main(int argc, char **argv)
{
    papo_server *srv = NULL;
    papo_client *ana = NULL, *bob = NULL, *carla = NULL;
    uint16_t port = 0;
    const papo_event *ev = NULL;
    const papo_server_event *sev = NULL;
    char db[1024], bad_db[1024], buf[8192], longest[64];
    size_t len = 0;
    uint64_t first_id = 0, last_id = 0, third_id = 0;
    int i, found;

    setvbuf(stdout, NULL, _IOLBF, 0);
    REQUIRE(argc == 2);
    snprintf(db, sizeof db, "%s/history.db", argv[1]);
    snprintf(bad_db, sizeof bad_db, "%s/no-such-dir/history.db", argv[1]);

    srv = start(db, &port);
    REQUIRE_RC(Conecta_cliente("127.0.0.1", port, "ana", &ana), PAPO_OK);
    REQUIRE_RC(Conecta_cliente("127.0.0.1", port, "bob", &bob), PAPO_OK);
    REQUIRE_RC(Conecta_cliente("127.0.0.1", port, "carla", &carla), PAPO_OK);

    /* Rooms. */
    CHECK_RC(papo_client_join(ana, "sala"), PAPO_ERR_INVALID_ROOM);
    CHECK_RC(papo_client_join(ana, "#a b"), PAPO_ERR_INVALID_ROOM);
    CHECK_RC(papo_client_join(ana, NULL), PAPO_ERR_NULL_ARGUMENT);
    memset(longest, 'x', 33);
    longest[0] = '#';
    longest[33] = '\0';
    CHECK_RC(papo_client_join(ana, longest), PAPO_OK); /* '#' and 32 characters */
    ev = next_of(ana, PAPO_EVENT_ROOM_JOINED);
    CHECK(ev != NULL && str_eq(ev->room, longest));
    CHECK_RC(papo_client_join(ana, "#Sala"), PAPO_OK);
    CHECK_RC(papo_client_join(bob, "#sala"), PAPO_OK);
    ev = next_of(ana, PAPO_EVENT_ROOM_JOINED);
    CHECK(ev != NULL && str_eq(ev->room, "#Sala") && str_eq(ev->nick, "ana"));
    ev = next_of(ana, PAPO_EVENT_ROOM_JOINED);
    CHECK(ev != NULL && str_eq(ev->room, "#Sala") && str_eq(ev->nick, "bob"));
    CHECK_RC(enviar_Msg(carla, "#sala", "não sou membro"), PAPO_ERR_NOT_IN_ROOM);
    CHECK_RC(enviar_Msg(bob, "#sala", "olá, sala"), PAPO_OK);
    ev = next_of(ana, PAPO_EVENT_ROOM);
    CHECK(ev != NULL && str_eq(ev->room, "#Sala") && str_eq(ev->nick, "bob") &&
          str_eq(ev->text, "olá, sala") && ev->message_id > 0 &&
          ev->time_ms > 1700000000000ULL);
    /* carla got nothing of the room: her next message event is ana's. */
    CHECK_RC(enviar_Msg(ana, "carla", "só para ti"), PAPO_OK);
    ev = next_of(carla, PAPO_EVENT_PRIVATE);
    CHECK(ev != NULL && str_eq(ev->text, "só para ti") && ev->message_id > 0);
    CHECK_RC(papo_client_wait_event(carla, 0, &ev), PAPO_ERR_TIMEOUT);

    CHECK_RC(papo_client_rooms(carla, NULL, 0, &len), PAPO_ERR_BUFFER_TOO_SMALL);
    CHECK_RC(papo_client_rooms(carla, buf, sizeof buf, &len), PAPO_OK);
    CHECK(count_lines(buf) == 2 && strstr(buf, "#Sala\t2\t") != NULL);
    CHECK_RC(papo_client_part(carla, "#sala"), PAPO_ERR_NOT_IN_ROOM);
    CHECK_RC(papo_client_part(ana, longest), PAPO_OK);

    /* History: ten public messages, oldest first, paged with `before`. */
    for (i = 0; i < 10; i++) {
        char text[16];
        snprintf(text, sizeof text, "p%d", i);
        CHECK_RC(enviar_Msg(ana, NULL, text), PAPO_OK);
    }
    for (i = 0; i < 10; i++) {
        ev = next_of(bob, PAPO_EVENT_PUBLIC);
        CHECK(ev != NULL && ev->message_id > last_id);
        if (ev != NULL) {
            if (i == 0) {
                first_id = ev->message_id;
            }
            if (i == 3) {
                third_id = ev->message_id;
            }
            last_id = ev->message_id;
        }
    }
    CHECK_RC(papo_client_history(bob, "*", 0, 0, buf, sizeof buf, &len), PAPO_OK);
    CHECK(count_lines(buf) == 10 && strstr(buf, "\tpublic\tana\tp0\n") != NULL);
    CHECK(strncmp(buf + strlen(buf) - 3, "\tp9", 3) == 0);
    CHECK_RC(papo_client_history(bob, "*", 2, third_id, buf, sizeof buf, &len), PAPO_OK);
    CHECK(count_lines(buf) == 2 && strstr(buf, "\tp1\n") != NULL && strstr(buf, "\tp2") != NULL);
    CHECK_RC(papo_client_history(bob, "*", 5, first_id, buf, sizeof buf, &len), PAPO_OK);
    CHECK(buf[0] == '\0');
    /* Private history: carla's with ana, never bob's. */
    CHECK_RC(papo_client_history(bob, "ana", 0, 0, buf, sizeof buf, &len), PAPO_OK);
    CHECK(buf[0] == '\0');
    CHECK_RC(papo_client_history(carla, "ana", 0, 0, buf, sizeof buf, &len), PAPO_OK);
    CHECK(count_lines(buf) == 1 && strstr(buf, "\tprivate\tana\tsó para ti") != NULL);
    CHECK_RC(papo_client_history(carla, "#sala", 0, 0, buf, sizeof buf, &len),
             PAPO_ERR_NOT_IN_ROOM);
    CHECK_RC(papo_client_history(carla, "#a b", 0, 0, buf, sizeof buf, &len),
             PAPO_ERR_INVALID_ROOM);

    /* The asynchronous twins, answered in order. */
    CHECK_RC(papo_client_join_async(carla, "#outra", 1), PAPO_OK);
    CHECK_RC(papo_client_rooms_async(carla, 2), PAPO_OK);
    CHECK_RC(papo_client_history_async(carla, "#outra", 10, 0, 3), PAPO_OK);
    CHECK_RC(papo_client_part_async(carla, "#outra", 4), PAPO_OK);
    CHECK_RC(papo_client_part_async(carla, "#outra", 5), PAPO_OK);
    CHECK_RC(papo_client_join_async(carla, "x", 6), PAPO_ERR_INVALID_ROOM);
    ev = next_of(carla, PAPO_EVENT_REPLY);
    CHECK(ev != NULL && ev->userdata == 1 && ev->code == 0 && str_eq(ev->room, "#outra"));
    ev = next_of(carla, PAPO_EVENT_REPLY);
    CHECK(ev != NULL && ev->userdata == 2 && ev->code == 0 && strstr(ev->text, "#outra\t1\t"));
    ev = next_of(carla, PAPO_EVENT_REPLY);
    CHECK(ev != NULL && ev->userdata == 3 && ev->code == 0 && str_eq(ev->text, ""));
    ev = next_of(carla, PAPO_EVENT_REPLY);
    CHECK(ev != NULL && ev->userdata == 4 && ev->code == 0);
    ev = next_of(carla, PAPO_EVENT_REPLY);
    CHECK(ev != NULL && ev->userdata == 5 && ev->code == PAPO_ERR_NOT_IN_ROOM);

    /* A restart keeps history and ids. */
    Desconecta_cliente(ana);
    Desconecta_cliente(bob);
    Desconecta_cliente(carla);
    CHECK_RC(Desconecta_Servidor(srv), PAPO_OK);
    srv = start(db, &port);
    REQUIRE_RC(Conecta_cliente("127.0.0.1", port, "bob", &bob), PAPO_OK);
    REQUIRE_RC(Conecta_cliente("127.0.0.1", port, "ana", &ana), PAPO_OK);
    CHECK_RC(papo_client_history(bob, "*", 0, 0, buf, sizeof buf, &len), PAPO_OK);
    CHECK(count_lines(buf) == 10 && strstr(buf, "\tp0\n") != NULL);
    CHECK_RC(enviar_Msg(ana, NULL, "depois"), PAPO_OK);
    ev = next_of(bob, PAPO_EVENT_PUBLIC);
    CHECK(ev != NULL && str_eq(ev->text, "depois") && ev->message_id > last_id);
    Desconecta_cliente(ana);
    Desconecta_cliente(bob);
    CHECK_RC(Desconecta_Servidor(srv), PAPO_OK);

    /* A database that cannot be written: reported, and chat goes on. */
    srv = start(bad_db, &port);
    found = 0;
    while (!found && papo_server_wait_event(srv, 10000, &sev) == PAPO_OK) {
        if (sev->kind == PAPO_SERVER_EVENT_HISTORY) {
            found = 1;
            CHECK(sev->code == 1 && strstr(sev->reason, "history.db") != NULL);
            CHECK(str_eq(sev->ip, "") && sev->nick == NULL);
        }
    }
    CHECK(found);
    REQUIRE_RC(Conecta_cliente("127.0.0.1", port, "bob", &bob), PAPO_OK);
    REQUIRE_RC(Conecta_cliente("127.0.0.1", port, "ana", &ana), PAPO_OK);
    CHECK_RC(enviar_Msg(ana, NULL, "ainda aqui"), PAPO_OK);
    ev = next_of(bob, PAPO_EVENT_PUBLIC);
    CHECK(ev != NULL && str_eq(ev->text, "ainda aqui"));
    CHECK_RC(papo_client_history(bob, "*", 0, 0, buf, sizeof buf, &len), PAPO_OK);
    CHECK(count_lines(buf) == 1);
    Desconecta_cliente(ana);
    Desconecta_cliente(bob);
    CHECK_RC(Desconecta_Servidor(srv), PAPO_OK);

    if (failures > 0) {
        fprintf(stderr, "test_rooms: %d of %d checks failed\n", failures, checks);
        return 1;
    }
    printf("test_rooms: all %d checks passed\n", checks);
    return 0;
}
