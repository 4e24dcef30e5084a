/*
 * servidor.c - the chat server of "Protocolo para bate-papo" (seed 000,
 * "Manual de uso do lado servidor"), written against papo.h.
 *
 *   servidor [IP [PORTA]]
 *
 * Without arguments it asks for the IP address (blank = 127.0.0.1) and the
 * port (blank = 18000, seed 004) on stdin. An invalid IP address prints
 * erro 05 and exits with status 1. Then it shows every client that
 * connects (IP and port), registers, renames or leaves, and the number of
 * active connections (seed 004). It stops on Ctrl-C (SIGINT), SIGTERM,
 * "quit" or end of input on stdin; clients then get erro 03.
 *
 * Anyone can join with examples/c/cliente.c, or with `nc IP PORTA`.
 *
 * Build: cc -std=c99 -Wall -Wextra -Wpedantic servidor.c $(pkg-config --cflags --libs papo)
 */
#define _POSIX_C_SOURCE 200809L

#include <papo.h>

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static volatile sig_atomic_t stop_requested = 0;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* ---- reading lines from stdin with read(2), so that poll(2) sees what is left ---- */

static char in_buf[4096];
static size_t in_len = 0;
static int in_eof = 0;

/* Takes one complete line out of in_buf (without its newline, CR or
 * surrounding blanks) into out; 1 if there was one. At end of input the
 * rest counts as a line. */
static int take_line(char *out, size_t out_size)
{
    char *nl = (char *)memchr(in_buf, '\n', in_len);
    size_t line_len, used, start = 0;
    if (nl == NULL && !(in_eof && in_len > 0)) {
        if (in_len == sizeof in_buf) { /* a line too long to keep: drop it */
            in_len = 0;
        }
        return 0;
    }
    line_len = nl != NULL ? (size_t)(nl - in_buf) : in_len;
    used = nl != NULL ? line_len + 1 : line_len;
    while (line_len > 0 && isspace((unsigned char)in_buf[line_len - 1])) {
        line_len--;
    }
    while (start < line_len && isspace((unsigned char)in_buf[start])) {
        start++;
    }
    if (line_len - start >= out_size) {
        line_len = start + out_size - 1;
    }
    memcpy(out, in_buf + start, line_len - start);
    out[line_len - start] = '\0';
    memmove(in_buf, in_buf + used, in_len - used);
    in_len -= used;
    return 1;
}

/* Reads more of stdin (one read). Returns 0 on data, -1 at end of input or
 * on an error other than EINTR. */
static int fill_input(void)
{
    ssize_t n = read(STDIN_FILENO, in_buf + in_len, sizeof in_buf - in_len);
    if (n > 0) {
        in_len += (size_t)n;
        return 0;
    }
    if (n < 0 && errno == EINTR) {
        return 0;
    }
    in_eof = 1;
    return -1;
}

/* Blocking: prints the prompt and reads one line. 0 on success, -1 at end
 * of input or when a signal asked to stop. */
static int ask(const char *prompt, char *out, size_t out_size)
{
    fputs(prompt, stdout);
    fflush(stdout);
    for (;;) {
        if (take_line(out, out_size)) {
            return 0;
        }
        if (in_eof || stop_requested) {
            return -1;
        }
        fill_input();
    }
}

/* ---- the server ---- */

static void print_connections(papo_server *server)
{
    size_t n = 0;
    if (papo_server_connection_count(server, &n) == PAPO_OK) {
        printf("Conexões ativas: %lu\n", (unsigned long)n);
    }
}

static void print_event(papo_server *server, const papo_server_event *ev)
{
    switch (ev->kind) {
    case PAPO_SERVER_EVENT_CONNECTED:
        printf("Cliente conectado: %s:%u\n", ev->ip, (unsigned)ev->port);
        print_connections(server);
        break;
    case PAPO_SERVER_EVENT_REGISTERED:
        printf("Apelido registrado: %s (%s:%u)\n", ev->nick, ev->ip, (unsigned)ev->port);
        break;
    case PAPO_SERVER_EVENT_NICK_CHANGED:
        printf("%s agora é %s (%s:%u)\n", ev->nick, ev->new_nick, ev->ip, (unsigned)ev->port);
        break;
    case PAPO_SERVER_EVENT_DISCONNECTED:
        printf("Cliente desconectado: %s (%s:%u): %s\n", ev->nick != NULL ? ev->nick : "(sem apelido)",
               ev->ip, (unsigned)ev->port, ev->reason != NULL ? ev->reason : "");
        if (ev->code != 0) {
            printf("  erro %02d: %s\n", ev->code, papo_strerror(ev->code));
        }
        print_connections(server);
        break;
    default:
        break;
    }
}

/* Should end of input on stdin stop the server? Not when stdin is /dev/null
 * (a character device that is no terminal), as for a background job. */
static int stdin_can_stop(void)
{
    struct stat st;
    if (fstat(STDIN_FILENO, &st) != 0) {
        return 0;
    }
    return isatty(STDIN_FILENO) || !S_ISCHR(st.st_mode);
}

int main(int argc, char **argv)
{
    char ip[256] = "";
    char port_text[32] = "";
    long port_value = PAPO_DEFAULT_PORT;
    char *end = NULL;
    papo_server *server = NULL;
    papo_server_options *options;
    uint16_t port = 0;
    int rc, watch_stdin;
    struct sigaction sa;

    setvbuf(stdout, NULL, _IOLBF, 0);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    if (argc > 3) {
        fprintf(stderr, "uso: %s [IP [PORTA]]\n", argv[0]);
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
    if (ip[0] == '\0') {
        snprintf(ip, sizeof ip, "127.0.0.1");
    }
    if (port_text[0] != '\0') {
        errno = 0;
        port_value = strtol(port_text, &end, 10);
        if (errno != 0 || *end != '\0' || port_value < 0 || port_value > 65535) {
            fprintf(stderr, "Porta inválida: %s (use 0 a 65535)\n", port_text);
            return 1;
        }
    }

    /* Seed 000 section 4: Conecta_Servidor(IP, porta), which starts a
     * server with the default limits. A server program also wants the two
     * settings that change the whole process, which the library leaves off
     * by default: room for as many clients as the system allows (the soft
     * limit on open files raised to the hard one) and the heap memory of a
     * burst handed back to the system once idle. papo_server_start_with()
     * is Conecta_Servidor() with options. */
    if (!PAPO_VERSION_IS_COMPATIBLE()) {
        fprintf(stderr, "libpapo %s não serve este programa (feito para %s)\n", papo_version(),
                PAPO_VERSION_STRING);
        return 1;
    }
    options = papo_server_options_new();
    if (options == NULL) {
        fprintf(stderr, "sem memória\n");
        return 1;
    }
    papo_server_options_set_raise_nofile_limit(options, 1);
    papo_server_options_set_trim_heap(options, 1);
    rc = papo_server_start_with(ip, (uint16_t)port_value, options, &server);
    papo_server_options_free(options);
    if (rc != PAPO_OK) {
        printf("erro %02d: %s (%s)\n", rc, papo_strerror(rc), papo_last_error());
        return 1;
    }
    papo_server_port(server, &port);
    printf("Servidor ouvindo em %s:%u\n", ip, (unsigned)port);
    printf("(Ctrl-C ou quit para encerrar)\n");

    watch_stdin = stdin_can_stop();
    while (!stop_requested) {
        const papo_server_event *ev;
        char line[256];
        /* Wait a little for an event, then look at stdin and the flag. */
        rc = papo_server_wait_event(server, 200, &ev);
        if (rc == PAPO_OK) {
            print_event(server, ev);
            continue;
        }
        if (rc != PAPO_ERR_TIMEOUT) {
            printf("erro %02d: %s\n", rc, papo_strerror(rc));
            break;
        }
        if (watch_stdin) {
            struct pollfd p;
            p.fd = STDIN_FILENO;
            p.events = POLLIN;
            p.revents = 0;
            if (poll(&p, 1, 0) > 0) {
                fill_input();
            }
            while (take_line(line, sizeof line)) {
                if (strcmp(line, "quit") == 0 || strcmp(line, "{quit}") == 0 ||
                    strcmp(line, "/quit") == 0) {
                    stop_requested = 1;
                }
            }
            if (in_eof) {
                stop_requested = 1;
            }
        }
    }

    /* Seed 000 section 4: Desconecta_Servidor(); every client gets erro 03. */
    printf("Encerrando o servidor...\n");
    Desconecta_Servidor(server);
    printf("Servidor encerrado.\n");
    return 0;
}
