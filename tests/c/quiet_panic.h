/* Shared by test_api.c and test_misuse.c (included after their CHECK
 * macro): papo_debug_force_panic() without a panic message in a passing
 * run's output. Only with PAPO_TEST_HOOKS (a libpapo built with the cargo
 * feature test-hooks, which alone has the function). */
#ifndef PAPO_TEST_QUIET_PANIC_H
#define PAPO_TEST_QUIET_PANIC_H
#include <stdio.h>
#include <string.h>
#include <unistd.h> /* dup, dup2, close */

#ifdef PAPO_TEST_HOOKS
/* papo_debug_force_panic() with stderr sent to a temporary file: the
 * library's panic hook prints the deliberate panic's message (and, with
 * RUST_BACKTRACE=1, a backtrace) there instead of into a passing run's
 * output. Checks that what was printed is that message. Returns what the
 * call returned. */
static int force_panic_quietly(void)
{
    FILE *f = tmpfile(); /* already unlinked: nothing is left behind */
    char text[8192];
    size_t n;
    int saved, rc;
    if (f == NULL)
        return papo_debug_force_panic(); /* cannot capture: let it print */
    fflush(stderr);
    saved = dup(2);
    if (saved < 0 || dup2(fileno(f), 2) < 0) {
        fclose(f);
        return papo_debug_force_panic();
    }
    rc = papo_debug_force_panic();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(f);
    n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    CHECK(strstr(text, "papo_debug_force_panic: deliberate panic") != NULL);
    return rc;
}
#endif

#endif
