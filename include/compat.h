/* compat.h - first include of every dualsync .c file.
 *
 * Feature macros and the list of banned calls (after git's banned.h): a banned
 * call becomes a compile error, so an unbounded copy or an unchecked number
 * parse cannot slip in. Use the snprintf/strbuf/parse_* helpers in util.h. */
#ifndef DUALSYNC_COMPAT_H
#define DUALSYNC_COMPAT_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#ifndef _FILE_OFFSET_BITS
#define _FILE_OFFSET_BITS 64
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BANNED(func) sorry_##func##_is_a_banned_function

#undef strcpy
#define strcpy(x, y) BANNED(strcpy)
#undef strcat
#define strcat(x, y) BANNED(strcat)
#undef sprintf
#define sprintf(...) BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf)
#undef atoi
#define atoi(x) BANNED(atoi)
#undef atol
#define atol(x) BANNED(atol)
#undef gets
#define gets(x) BANNED(gets)

#if defined(__GNUC__) && defined(__MINGW_PRINTF_FORMAT)
/* MinGW's C99 stdio (__USE_MINGW_ANSI_STDIO): check formats as GNU ones,
 * not as msvcrt's, which knows no %zu */
#define ATTR_PRINTF(f, a) __attribute__((format(__MINGW_PRINTF_FORMAT, f, a)))
#elif defined(__GNUC__)
#define ATTR_PRINTF(f, a) __attribute__((format(printf, f, a)))
#endif
#if defined(__GNUC__)
#define ATTR_NORETURN __attribute__((noreturn))
/* the caller must look at the result (a status that must not be dropped) */
#define ATTR_WARN_UNUSED __attribute__((warn_unused_result))
#else
#define ATTR_PRINTF(f, a)
#define ATTR_NORETURN
#define ATTR_WARN_UNUSED
#endif

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Replacements for what some C libraries lack, switched on by the build
 * (git's NO_* knobs): the Makefile sets them per target, never by OS name. */
#ifdef NO_MEMRCHR
static inline void *compat_memrchr(const void *s, int c, size_t n)
{
    const unsigned char *p = (const unsigned char *)s + n;
    while (n--)
        if (*--p == (unsigned char)c)
            return (void *)p;
    return NULL;
}
#define memrchr compat_memrchr
#endif

#endif
