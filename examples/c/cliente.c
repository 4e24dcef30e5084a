/*
 * cliente.c - the chat client of "Protocolo para bate-papo" (seed 000,
 * "Manual de uso do lado cliente"), written against papo.h.
 *
 *   cliente [IP [PORTA [APELIDO]]]
 *
 * Asks for what is not given: the server's IP address (blank = 127.0.0.1),
 * the port (blank = 18000) and a nickname. A wrong server prints erro 04, an
 * invalid IP address erro 05 (both exit with status 1); a nickname in use
 * prints erro 01 and asks for another. Once connected it shows who is online,
 * then reads what you type while printing what arrives:
 *
 *   :texto           public message to everyone
 *   Apelido:texto    private message to Apelido ("Mensagem enviada" or erro 02)
 *   /list            who is online          /nick Novo   change your nickname
 *   /sendFile arquivo.ext   send a file to everyone (seed 002), with a progress bar
 *   /help            this help              /clean       clear the screen
 *   /join #sala      join (or create) a room and show its recent history
 *   #sala:texto      message to the room     /part #sala  leave the room
 *   /rooms           the rooms, their member counts and topics
 *   quit, /quit      leave (also end of input, Ctrl-D)
 *
 * Files sent by others are saved in ~/papo-downloads (seed 002: a folder in
 * the user's home), or in the folder named by the PAPO_DOWNLOADS variable.
 *
 * A lost connection (a network cut, a server restart) is taken back by
 * itself: "*** Conexão perdida; reconectando (tentativa n)..." then
 * "*** Reconectado ..." and the chat goes on; the variable
 * PAPO_RECONNECT_ATTEMPTS sets how many attempts before giving up (default
 * 10), after which the program ends with erro 03.
 *
 * One thread, one poll(2) loop: it waits on stdin and on the client's event
 * descriptor (papo_client_fd(), readable while events are queued), so
 * messages show up at once. Requests that wait for the server (a private
 * message, /list, /nick, /sendFile) go out with the *_async functions and
 * their answers come back as PAPO_EVENT_REPLY events in the same loop, so
 * the keyboard never waits for the network.
 *
 * Build: cc -std=c99 -Wall -Wextra -Wpedantic cliente.c $(pkg-config --cflags --libs papo)
 */
#define _POSIX_C_SOURCE 200809L

#include <papo.h>

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- reading lines from stdin with read(2), so that poll(2) sees what is left ---- */

static char in_buf[8192];
static size_t in_len = 0;
static int in_eof = 0;

/* Takes one complete line out of in_buf (without its newline and CR) into
 * out; 1 if there was one. At end of input the rest counts as a line. */
static int take_line(char *out, size_t out_size)
{
    char *nl = (char *)memchr(in_buf, '\n', in_len);
    size_t line_len, used;
    if (nl == NULL && !(in_eof && in_len > 0)) {
        if (in_len == sizeof in_buf) { /* a line too long to keep: drop it */
            in_len = 0;
        }
        return 0;
    }
    line_len = nl != NULL ? (size_t)(nl - in_buf) : in_len;
    used = nl != NULL ? line_len + 1 : line_len;
    if (line_len > 0 && in_buf[line_len - 1] == '\r') {
        line_len--;
    }
    if (line_len >= out_size) {
        line_len = out_size - 1;
    }
    memcpy(out, in_buf, line_len);
    out[line_len] = '\0';
    memmove(in_buf, in_buf + used, in_len - used);
    in_len -= used;
    return 1;
}

/* Reads more of stdin (one read); sets in_eof at end of input. */
static void fill_input(void)
{
    ssize_t n = read(STDIN_FILENO, in_buf + in_len, sizeof in_buf - in_len);
    if (n > 0) {
        in_len += (size_t)n;
    } else if (n == 0 || errno != EINTR) {
        in_eof = 1;
    }
}

/* Removes blanks at both ends, in place (the text moves to the start of s). */
static char *trim(char *s)
{
    size_t start = 0, n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1])) {
        n--;
    }
    while (start < n && isspace((unsigned char)s[start])) {
        start++;
    }
    memmove(s, s + start, n - start);
    s[n - start] = '\0';
    return s;
}

/* Blocking: prints the prompt and reads one line. 0 on success, -1 at end of input. */
static int ask(const char *prompt, char *out, size_t out_size)
{
    fputs(prompt, stdout);
    fflush(stdout);
    for (;;) {
        if (take_line(out, out_size)) {
            return 0;
        }
        if (in_eof) {
            return -1;
        }
        fill_input();
    }
}

/* ---- what the server sends is shown, never obeyed by the terminal ---- */

/* Text from the network (nicknames, messages, file names, error texts) may
 * hold escape sequences that would clear the screen, retitle the window,
 * move the cursor to draw a fake "ana:" line, or reorder what follows
 * (bidi controls, "Trojan Source"). Every such character is shown as an
 * escape instead: C0 controls but TAB as \xHH, DEL as \x7f, C1 controls and
 * the bidi controls as \uHHHH. Returns a buffer that lives until the 4th
 * next call (so up to four may appear in one printf); "" if out of memory. */
static const char *safe(const char *text)
{
    static char *slots[4];
    static size_t sizes[4];
    static unsigned next = 0;
    const unsigned char *p = (const unsigned char *)(text != NULL ? text : "");
    size_t need = strlen((const char *)p) * 6 + 1, o = 0;
    unsigned slot = next++ % 4;
    char *out;
    if (sizes[slot] < need) {
        char *grown = (char *)realloc(slots[slot], need);
        if (grown == NULL) {
            return "";
        }
        slots[slot] = grown;
        sizes[slot] = need;
    }
    out = slots[slot];
    while (*p != '\0') {
        unsigned cp = 0;
        size_t n = 1;
        if (p[0] == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F) { /* C1: U+0080..U+009F */
            cp = p[1];
            n = 2;
        } else if (p[0] == 0xD8 && p[1] == 0x9C) { /* U+061C arabic letter mark */
            cp = 0x061C;
            n = 2;
        } else if (p[0] == 0xE2 && p[1] == 0x80 &&
                   (p[2] == 0x8E || p[2] == 0x8F || (p[2] >= 0xAA && p[2] <= 0xAE))) {
            cp = 0x2000u + (p[2] - 0x80u); /* U+200E/F, U+202A..U+202E */
            n = 3;
        } else if (p[0] == 0xE2 && p[1] == 0x81 && p[2] >= 0xA6 && p[2] <= 0xA9) {
            cp = 0x2040u + (p[2] - 0x80u); /* U+2066..U+2069 isolates */
            n = 3;
        }
        if (cp != 0) {
            o += (size_t)sprintf(out + o, "\\u%04x", cp);
        } else if ((p[0] < 0x20 && p[0] != '\t') || p[0] == 0x7F) {
            o += (size_t)sprintf(out + o, "\\x%02x", p[0]);
        } else {
            out[o++] = (char)p[0];
        }
        p += n;
    }
    out[o] = '\0';
    return out;
}

static void print_error(int rc)
{
    printf("erro %02d: %s\n", rc, papo_strerror(rc));
}

/* An error told with what the library says about it (papo_last_error()
 * after a failed call, or the text of a PAPO_EVENT_REPLY), which names the
 * nickname, file or address involved; papo_strerror()'s words otherwise. */
static void print_failure(int rc, const char *detail)
{
    if (detail != NULL && detail[0] != '\0') {
        printf("erro %02d: %s\n", rc, safe(detail));
    } else {
        print_error(rc);
    }
}

/* What each asynchronous request was, carried as its userdata and handed
 * back in its PAPO_EVENT_REPLY. */
enum request { REQ_PRIVATE = 1, REQ_LIST, REQ_NICK, REQ_FILE, REQ_JOIN, REQ_PART, REQ_ROOMS,
               REQ_HISTORY };

/* How many messages of a room's history are shown when joining it. */
#define HISTORY_ON_JOIN 20

/* The paths of the /sendFile requests still waiting for the server's
 * answer, oldest first (answers come in request order); at most 16 files
 * of a client are on their way at once, so a ring of 16 holds them. */
static char *file_paths[16];
static unsigned file_head = 0, file_count = 0;

static void file_path_push(const char *path)
{
    if (file_count < 16) {
        file_paths[(file_head + file_count) % 16] = strdup(path);
        file_count++;
    }
}

/* The oldest waiting path (free it), or NULL. */
static char *file_path_pop(void)
{
    char *path;
    if (file_count == 0) {
        return NULL;
    }
    path = file_paths[file_head];
    file_head = (file_head + 1) % 16;
    file_count--;
    return path;
}

/* Asynchronous requests sent and not answered yet: leaving waits for their
 * answers, so that "Mensagem enviada" or the error of a message typed just
 * before quit (or piped in) is still shown. */
static unsigned pending = 0;

/* ---- the chat ---- */

/* Prints "Online (n): a b c" from nicknames separated by '\n', each shown
 * through safe(). */
static void print_list(const char *names)
{
    size_t count = names[0] != '\0' ? 1 : 0, i;
    char *copy = (char *)malloc(strlen(names) + 1);
    char *name, *rest;
    for (i = 0; names[i] != '\0'; i++) {
        count += names[i] == '\n';
    }
    printf("Online (%lu):", (unsigned long)count);
    if (copy != NULL) {
        strcpy(copy, names);
        for (name = copy; name != NULL; name = rest) {
            rest = strchr(name, '\n');
            if (rest != NULL) {
                *rest++ = '\0';
            }
            printf(" %s", safe(name));
        }
        free(copy);
    }
    putchar('\n');
}

/* The list once, at the start (seed 000 client manual item 3), waiting for
 * it: nothing else is going on yet. Later /list goes out asynchronously. */
static void print_users(papo_client *client)
{
    char stack_buf[512];
    char *buf = stack_buf;
    size_t size = sizeof stack_buf, need = 0;
    int rc;
    for (;;) {
        rc = papo_client_users(client, buf, size, &need);
        if (rc != PAPO_ERR_BUFFER_TOO_SMALL) {
            break;
        }
        if (buf != stack_buf) {
            free(buf);
        }
        buf = (char *)malloc(need);
        size = need;
        if (buf == NULL) {
            printf("sem memória\n");
            return;
        }
    }
    if (rc == PAPO_OK) {
        print_list(buf);
    } else {
        print_failure(rc, papo_last_error());
    }
    if (buf != stack_buf) {
        free(buf);
    }
}

/* ---- progress bars for files (drawn on one line with \r) ---- */

static int bar_open = 0; /* the last line printed is a bar without its newline */

/* Ends an open progress bar line before anything else is printed. */
static void end_bar(void)
{
    if (bar_open) {
        putchar('\n');
        bar_open = 0;
    }
}

static void draw_bar(const char *what, const char *name, uint64_t done, uint64_t total)
{
    enum { WIDTH = 30 };
    char bar[WIDTH + 1];
    unsigned percent = total == 0 ? 100u : (unsigned)((done * 100u) / total);
    size_t filled = (size_t)percent * WIDTH / 100u, i;
    for (i = 0; i < WIDTH; i++) {
        bar[i] = i < filled ? '#' : '-';
    }
    bar[WIDTH] = '\0';
    printf("\r%s %s [%s] %3u%% (%llu/%llu bytes)", what, name != NULL ? name : "", bar,
           percent, (unsigned long long)done, (unsigned long long)total);
    fflush(stdout);
    bar_open = 1;
}

static void print_help(void)
{
    printf(":texto            mensagem pública, para todos\n"
           "Apelido:texto     mensagem privada, para Apelido\n"
           "/list             quem está online\n"
           "/nick NovoNome    trocar de apelido\n"
           "/sendFile arquivo enviar um arquivo para todos\n"
           "/join #sala       entrar numa sala (e ver o que foi dito)\n"
           "#sala:texto       mensagem para a sala\n"
           "/part #sala       sair da sala\n"
           "/rooms            as salas, quantos há em cada uma e seus temas\n"
           "/clean            limpar a tela\n"
           "/help             esta ajuda\n"
           "quit              sair do chat\n");
}

/* Prints the lines of papo_client_history(): id, time, kind, from, text
 * separated by TABs. */
static void print_history(const char *text)
{
    const char *line = text;
    if (text[0] == '\0') {
        printf("(nada foi dito ainda)\n");
        return;
    }
    while (line != NULL && line[0] != '\0') {
        const char *end = strchr(line, '\n');
        int len = end != NULL ? (int)(end - line) : (int)strlen(line);
        const char *field = line;
        const char *from = NULL, *body = NULL;
        int i;
        /* Skip id, time and kind; the sender and text follow. */
        for (i = 0; i < 4 && field != NULL; i++) {
            field = (const char *)memchr(field, '\t', (size_t)(len - (field - line)));
            if (field != NULL) {
                field++;
                if (i == 2) {
                    from = field;
                } else if (i == 3) {
                    body = field;
                }
            }
        }
        if (from != NULL && body != NULL) {
            printf("  %.*s: %.*s\n", (int)(body - from - 1), from, (int)(len - (body - line)), body);
        }
        line = end != NULL ? end + 1 : NULL;
    }
}

/* Prints the lines of papo_client_rooms(): name, members, topic. */
static void print_rooms(const char *text)
{
    const char *line = text;
    if (text[0] == '\0') {
        printf("Nenhuma sala\n");
        return;
    }
    while (line != NULL && line[0] != '\0') {
        const char *end = strchr(line, '\n');
        int len = end != NULL ? (int)(end - line) : (int)strlen(line);
        printf("Sala: %.*s\n", len, line);
        line = end != NULL ? end + 1 : NULL;
    }
}

static void sent_async(int rc);

/* Prints the queued events. Returns 1 when the connection has ended. */
static int show_events(papo_client *client, int *exit_status)
{
    const papo_event *ev;
    int rc;
    while ((rc = papo_client_wait_event(client, 0, &ev)) == PAPO_OK) {
        if (ev->kind != PAPO_EVENT_FILE_PROGRESS && ev->kind != PAPO_EVENT_FILE_SEND_PROGRESS) {
            end_bar();
        }
        switch (ev->kind) {
        case PAPO_EVENT_PUBLIC:
            printf("%s: %s\n", safe(ev->nick), safe(ev->text));
            break;
        case PAPO_EVENT_PRIVATE:
            printf("Mensagem recebida de: %s: %s\n", safe(ev->nick), safe(ev->text));
            break;
        case PAPO_EVENT_JOINED:
            printf("*** %s entrou\n", safe(ev->nick));
            break;
        case PAPO_EVENT_LEFT:
            printf("*** %s saiu\n", safe(ev->nick));
            break;
        case PAPO_EVENT_NICK_CHANGED:
            printf("*** %s agora é %s\n", safe(ev->nick), safe(ev->new_nick));
            break;
        case PAPO_EVENT_ROOM:
            printf("[%s] %s: %s\n", safe(ev->room), safe(ev->nick), safe(ev->text));
            break;
        case PAPO_EVENT_ROOM_JOINED:
            printf("*** %s entrou em %s\n", safe(ev->nick), safe(ev->room));
            break;
        case PAPO_EVENT_ROOM_LEFT:
            printf("*** %s saiu de %s\n", safe(ev->nick), safe(ev->room));
            break;
        case PAPO_EVENT_ROOM_KICKED:
            printf("*** %s tirou %s de %s\n", safe(ev->by), safe(ev->nick), safe(ev->room));
            break;
        case PAPO_EVENT_ROOM_OPERATOR:
            printf("*** %s fez de %s operador de %s\n", safe(ev->by), safe(ev->nick),
                   safe(ev->room));
            break;
        case PAPO_EVENT_TOPIC:
            printf("*** tema de %s: %s\n", safe(ev->room), safe(ev->text));
            break;
        case PAPO_EVENT_ERROR:
            printf("erro %02d: %s\n", ev->code, safe(ev->text));
            break;
        case PAPO_EVENT_BYTES:
            printf("%s enviou %lu bytes binários%s\n", safe(ev->nick),
                   (unsigned long)ev->data_len, ev->is_private ? " (privado)" : "");
            break;
        case PAPO_EVENT_FILE_OFFERED:
            printf("Recebendo arquivo %s de %s (%llu bytes)\n", safe(ev->file_name),
                   safe(ev->nick), (unsigned long long)ev->bytes_total);
            break;
        case PAPO_EVENT_FILE_PROGRESS:
            draw_bar("Recebendo", safe(ev->file_name), ev->bytes_done, ev->bytes_total);
            break;
        case PAPO_EVENT_FILE_RECEIVED:
            printf("Arquivo recebido de %s: %s\n", safe(ev->nick), safe(ev->path));
            break;
        case PAPO_EVENT_FILE_FAILED:
            printf("Arquivo %s de %s falhou: %s\n", safe(ev->file_name), safe(ev->nick),
                   safe(ev->text));
            break;
        case PAPO_EVENT_FILE_SEND_PROGRESS:
            draw_bar("Enviando", safe(ev->file_name), ev->bytes_done, ev->bytes_total);
            break;
        case PAPO_EVENT_FILE_SENT:
            printf("Arquivo enviado: %s (%llu bytes)\n", safe(ev->file_name),
                   (unsigned long long)ev->bytes_total);
            break;
        case PAPO_EVENT_FILE_SEND_FAILED:
            printf("Envio de %s falhou: %s\n", safe(ev->file_name), safe(ev->text));
            break;
        case PAPO_EVENT_REPLY:
            pending -= pending > 0;
            if (ev->userdata == REQ_FILE) {
                char *path = file_path_pop();
                if (ev->code == PAPO_OK) {
                    printf("Enviando %s para todos (transferência %llu)\n", safe(path),
                           (unsigned long long)ev->file_id);
                } else {
                    printf("Não foi possível enviar %s: ", safe(path));
                    print_failure(ev->code, ev->text);
                }
                free(path);
            } else if (ev->code != PAPO_OK) {
                print_failure(ev->code, ev->text);
            } else if (ev->userdata == REQ_PRIVATE) {
                printf("Mensagem enviada\n");
            } else if (ev->userdata == REQ_LIST) {
                print_list(ev->text != NULL ? ev->text : "");
            } else if (ev->userdata == REQ_JOIN && ev->room != NULL) {
                /* Joined: show what was said there before. */
                printf("Histórico de %s:\n", ev->room);
                sent_async(papo_client_history_async(client, ev->room, HISTORY_ON_JOIN, 0,
                                                     REQ_HISTORY));
            } else if (ev->userdata == REQ_HISTORY) {
                print_history(ev->text != NULL ? ev->text : "");
            } else if (ev->userdata == REQ_ROOMS) {
                print_rooms(ev->text != NULL ? ev->text : "");
            } /* REQ_NICK, REQ_PART: the NICK_CHANGED / ROOM_LEFT line says it */
            break;
        case PAPO_EVENT_RECONNECTING:
            printf("*** Conexão perdida; reconectando (tentativa %u)... "
                   "(connection lost; reconnecting)\n",
                   (unsigned)ev->attempt);
            break;
        case PAPO_EVENT_RECONNECTED:
            if (ev->recovered) {
                printf("*** Reconectado; nada se perdeu (reconnected)\n");
            } else {
                printf("*** Reconectado; mensagens podem ter se perdido: veja /history "
                       "(reconnected; messages may be missing)\n");
            }
            break;
        case PAPO_EVENT_CLUSTER_PARTITIONED:
            printf("*** Sem contato com os outros servidores: por ora só os usuários deste "
                   "servidor recebem suas mensagens (cut off from the other servers)\n");
            break;
        case PAPO_EVENT_CLUSTER_HEALED:
            printf("*** De volta ao chat inteiro (back in the whole chat)\n");
            break;
        case PAPO_EVENT_LOST:
            printf("*** %llu mensagem(ns) para você se perdeu(perderam) entre servidores "
                   "(messages lost between servers)\n",
                   (unsigned long long)ev->count);
            break;
        case PAPO_EVENT_RENAMED:
            printf("*** O servidor mudou seu apelido de %s para %s: outro servidor já o usava "
                   "(the server renamed you)\n",
                   safe(ev->nick), safe(ev->new_nick));
            break;
        case PAPO_EVENT_DISCONNECTED:
            print_error(ev->code);
            *exit_status = ev->code == PAPO_ERR_CONNECTION_ABORTED ? 1 : 0;
            return 1;
        default:
            break;
        }
    }
    return rc == PAPO_ERR_CLOSED;
}

/* Counts a request that went out; prints why one did not. */
static void sent_async(int rc)
{
    if (rc == PAPO_OK) {
        pending++;
    } else {
        print_failure(rc, papo_last_error());
    }
}

/* Handles one typed line. Returns 1 when the user wants to leave. */
static int handle_line(papo_client *client, char *line)
{
    char *colon;
    int rc;
    if (line[0] == '\0') {
        return 0;
    }
    if (strcmp(line, "quit") == 0 || strcmp(line, "{quit}") == 0 || strcmp(line, "/quit") == 0) {
        return 1;
    }
    if (line[0] == '/') {
        if (strcmp(line, "/list") == 0) {
            sent_async(papo_client_users_async(client, REQ_LIST));
        } else if (strcmp(line, "/help") == 0) {
            print_help();
        } else if (strcmp(line, "/clean") == 0) {
            printf("\033[H\033[2J");
            fflush(stdout);
        } else if ((strncmp(line, "/sendFile", 9) == 0 || strncmp(line, "/sendfile", 9) == 0) &&
                   (line[9] == ' ' || line[9] == '\0')) {
            /* Seed 002: "/sendFile arquivo.ext": every other user receives it.
             * The file is opened now (a missing one is erro 15 at once); the
             * server's acceptance comes as a PAPO_EVENT_REPLY. */
            char *path = trim(line + 9);
            if (path[0] == '\0') {
                printf("Uso: /sendFile arquivo.ext\n");
                return 0;
            }
            rc = papo_client_send_file_async(client, NULL, path, REQ_FILE);
            if (rc != PAPO_OK) {
                printf("Não foi possível enviar %s: ", path);
            } else {
                file_path_push(path);
            }
            sent_async(rc);
        } else if (strncmp(line, "/nick", 5) == 0 && (line[5] == ' ' || line[5] == '\0')) {
            sent_async(papo_client_set_nick_async(client, trim(line + 5), REQ_NICK));
        } else if (strncmp(line, "/join ", 6) == 0) {
            sent_async(papo_client_join_async(client, trim(line + 6), REQ_JOIN));
        } else if (strncmp(line, "/part ", 6) == 0) {
            sent_async(papo_client_part_async(client, trim(line + 6), REQ_PART));
        } else if (strcmp(line, "/rooms") == 0) {
            sent_async(papo_client_rooms_async(client, REQ_ROOMS));
        } else {
            printf("Comando desconhecido: %s (/help)\n", line);
        }
        return 0;
    }
    colon = strchr(line, ':');
    if (colon == NULL) {
        printf("Use :texto para todos ou Apelido:texto para um (/help)\n");
        return 0;
    }
    *colon = '\0';
    if (line[0] == '\0') {
        /* Seed 000: ":mensagem" is public; enviar_Msg() does not wait. */
        rc = enviar_Msg(client, NULL, colon + 1);
        if (rc != PAPO_OK) {
            print_failure(rc, papo_last_error());
        }
    } else {
        /* Seed 000: "Destino:mensagem" is private. enviar_Msg() would wait
         * for the server's answer; its asynchronous twin returns at once and
         * the answer ("Mensagem enviada" or erro 02) comes as an event. */
        sent_async(papo_client_send_async(client, trim(line), colon + 1, REQ_PRIVATE));
    }
    return 0;
}

int main(int argc, char **argv)
{
    char ip[256] = "", port_text[32] = "", nick[256] = "", line[8192];
    long port_value = PAPO_DEFAULT_PORT;
    char *end = NULL;
    papo_client *client = NULL;
    papo_client_options *options = NULL;
    int rc, exit_status = 0, done = 0, events_fd = -1;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 4) {
        fprintf(stderr, "uso: %s [IP [PORTA [APELIDO]]]\n", argv[0]);
        return 2;
    }
    if (argc > 1) {
        snprintf(ip, sizeof ip, "%s", argv[1]);
    } else if (ask("Endereço IP do servidor (em branco = 127.0.0.1): ", ip, sizeof ip) != 0) {
        return 1;
    }
    if (argc > 2) {
        snprintf(port_text, sizeof port_text, "%s", argv[2]);
    } else if (ask("Porta (em branco = 18000): ", port_text, sizeof port_text) != 0) {
        return 1;
    }
    if (argc > 3) {
        snprintf(nick, sizeof nick, "%s", argv[3]);
    } else if (ask("Apelido: ", nick, sizeof nick) != 0) {
        return 1;
    }
    trim(ip);
    trim(nick);
    if (ip[0] == '\0') {
        snprintf(ip, sizeof ip, "127.0.0.1");
    }
    if (trim(port_text)[0] != '\0') {
        errno = 0;
        port_value = strtol(port_text, &end, 10);
        if (errno != 0 || *end != '\0' || port_value < 1 || port_value > 65535) {
            fprintf(stderr, "Porta inválida: %s (use 1 a 65535)\n", port_text);
            return 1;
        }
    }

    /* Seed 000 section 4: Conecta_cliente(IP, porta), with a nickname;
     * through papo_client_connect_with() with the default options, which
     * (since 1.1) reconnect by itself when the connection is lost. */
    options = papo_client_options_new();
    if (options == NULL) {
        fprintf(stderr, "sem memória (out of memory)\n");
        return 1;
    }
    if (getenv("PAPO_RECONNECT_ATTEMPTS") != NULL) {
        long attempts = strtol(getenv("PAPO_RECONNECT_ATTEMPTS"), &end, 10);
        if (*end != '\0' || attempts < 1 ||
            papo_client_options_set_reconnect_attempts(options, (uint32_t)attempts) != PAPO_OK) {
            fprintf(stderr, "PAPO_RECONNECT_ATTEMPTS inválido (use 1 ou mais)\n");
            papo_client_options_free(options);
            return 1;
        }
    }
    for (;;) {
        rc = papo_client_connect_with(ip, (uint16_t)port_value, nick, options, &client);
        if (rc == PAPO_OK) {
            break;
        }
        print_failure(rc, papo_last_error());
        if (rc != PAPO_ERR_NICK_IN_USE && rc != PAPO_ERR_INVALID_NICK) {
            papo_client_options_free(options);
            return 1; /* 04, 05, ...: restart the program with other values */
        }
        if (ask("Escolha outro apelido: ", nick, sizeof nick) != 0) {
            papo_client_options_free(options);
            return 1;
        }
        trim(nick);
    }
    papo_client_options_free(options);
    printf("Conectado a %s:%ld como %s\n", ip, port_value, nick);
    if (getenv("PAPO_DOWNLOADS") != NULL && getenv("PAPO_DOWNLOADS")[0] != '\0') {
        papo_client_set_download_dir(client, getenv("PAPO_DOWNLOADS"));
    }
    {
        char dir[1024];
        size_t need = 0;
        if (papo_client_download_dir(client, dir, sizeof dir, &need) == PAPO_OK) {
            printf("Arquivos recebidos vão para %s\n", dir);
        }
    }
    print_users(client); /* seed 000 client manual item 3 */
    printf("Digite :texto para todos, Apelido:texto para um, /help para ajuda, quit para sair.\n");

    if (papo_client_fd(client, &events_fd) != PAPO_OK) {
        print_failure(PAPO_ERR_IO, papo_last_error());
        Desconecta_cliente(client);
        return 1;
    }

    /* The one loop: the keyboard and the chat's events, nothing else. */
    while (!done) {
        struct pollfd fds[2];
        if (show_events(client, &exit_status)) {
            break;
        }
        fds[0].fd = STDIN_FILENO;
        fds[0].events = POLLIN;
        fds[0].revents = 0;
        fds[1].fd = events_fd; /* readable while events are queued */
        fds[1].events = POLLIN;
        fds[1].revents = 0;
        if (poll(fds, 2, -1) < 0 && errno != EINTR) {
            perror("poll");
            break;
        }
        if (!in_eof && (fds[0].revents & (POLLIN | POLLHUP))) {
            fill_input();
        }
        while (!done && take_line(line, sizeof line)) {
            done = handle_line(client, line);
            if (show_events(client, &exit_status)) {
                done = 2;
            }
        }
        if (in_eof && !done) {
            done = 1; /* end of input: leave like quit */
        }
    }
    /* Leaving: the answers still due are shown first (at most one reply
     * timeout, 10 s by default, for a server that went silent). */
    while (done == 1 && pending > 0) {
        struct pollfd fd;
        fd.fd = events_fd;
        fd.events = POLLIN;
        fd.revents = 0;
        if (poll(&fd, 1, 10000) <= 0 || show_events(client, &exit_status)) {
            break;
        }
    }

    /* Seed 000 section 4: Desconecta_cliente(); the others see us leave. It
     * also closes events_fd. */
    Desconecta_cliente(client);
    if (done == 1) {
        printf("Até logo!\n");
    }
    return exit_status;
}
