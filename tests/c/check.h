/*
 * check.h - the checks of papo's C tests (test_api.c, test_handles.c,
 * test_poll.c): each counts itself, a failed CHECK is reported and counted,
 * a failed REQUIRE ends the program with status 2. A failed return code is
 * reported with papo_strerror() and papo_last_error().
 */
#ifndef PAPO_TEST_CHECK_H
#define PAPO_TEST_CHECK_H

#include <papo.h>

#include <stdio.h>
#include <stdlib.h>

static int failures = 0;
static int checks = 0;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        checks++;                                                                    \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                              \
        }                                                                            \
    } while (0)

#define CHECK_RC(expr, want)                                                        \
    do {                                                                            \
        int rc_ = (expr);                                                           \
        checks++;                                                                   \
        if (rc_ != (want)) {                                                        \
            fprintf(stderr, "%s:%d: %s returned %d (%s: %s), expected %d (%s)\n",   \
                    __FILE__, __LINE__, #expr, rc_, papo_strerror(rc_),              \
                    papo_last_error(), (int)(want), papo_strerror(want));           \
            failures++;                                                             \
        }                                                                           \
    } while (0)

/* A check the rest of the program depends on: stop at once if it fails. */
#define REQUIRE_RC(expr, want)                                                      \
    do {                                                                            \
        int rc_ = (expr);                                                           \
        checks++;                                                                   \
        if (rc_ != (want)) {                                                        \
            fprintf(stderr, "%s:%d: %s returned %d (%s), expected %d; giving up\n", \
                    __FILE__, __LINE__, #expr, rc_, papo_strerror(rc_), (int)(want)); \
            exit(2);                                                                \
        }                                                                           \
    } while (0)

/* A condition the rest of the program depends on: stop at once if false. */
#define REQUIRE(cond)                                                                       \
    do {                                                                                    \
        checks++;                                                                           \
        if (!(cond)) {                                                                      \
            fprintf(stderr, "%s:%d: REQUIRE failed: %s; giving up\n", __FILE__, __LINE__, \
                    #cond);                                                                 \
            exit(2);                                                                        \
        }                                                                                   \
    } while (0)

#endif /* PAPO_TEST_CHECK_H */
