/* arena.h - many small allocations that live and die together.
 *
 * plan keeps a copy of every pulled object (DNs, names, attribute values):
 * hundreds of thousands of small strings freed at once. An arena hands them
 * out of large blocks: no per-string malloc header, no per-string free.
 * Pointers stay valid until arena_release; out of memory aborts (xmalloc). */
#ifndef DUALSYNC_ARENA_H
#define DUALSYNC_ARENA_H

#include "compat.h"

struct arena_block;

struct arena {
    struct arena_block *blocks;
    size_t used;               /* bytes used in the newest block */
    size_t total;              /* bytes handed out, for memory reports */
};
#define ARENA_INIT { NULL, 0, 0 }

/* n bytes, aligned for any scalar; n == 0 gives a valid unique pointer. */
void *arena_alloc(struct arena *a, size_t n);
/* Zeroed. */
void *arena_calloc(struct arena *a, size_t nmemb, size_t size);
char *arena_strdup(struct arena *a, const char *s);
char *arena_strndup(struct arena *a, const char *s, size_t n);
/* Frees every block; the arena can be used again. */
void arena_release(struct arena *a);

#endif
