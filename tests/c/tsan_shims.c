/*
 * tsan_shims.c - for scripts/sanitizers.sh --tsan-rust only.
 *
 * A libpapo built by nightly Rust with -Zsanitizer=thread calls
 * __tsan_memcpy/__tsan_memmove/__tsan_memset (LLVM's instrumentation),
 * which GCC's older libtsan does not export. These forward to the libc
 * functions, which libtsan intercepts and checks. Linked into the test
 * program with -rdynamic so that libpapo.so finds them.
 */
#include <stddef.h>
#include <string.h>

void *__tsan_memcpy(void *dst, const void *src, size_t n);
void *__tsan_memmove(void *dst, const void *src, size_t n);
void *__tsan_memset(void *dst, int c, size_t n);

void *__tsan_memcpy(void *dst, const void *src, size_t n)
{
    return memcpy(dst, src, n);
}

void *__tsan_memmove(void *dst, const void *src, size_t n)
{
    return memmove(dst, src, n);
}

void *__tsan_memset(void *dst, int c, size_t n)
{
    return memset(dst, c, n);
}
