#include "compat.h"

#include "arena.h"
#include "util.h"

#define BLOCK_SIZE (256 * 1024)
#define ALIGN 8

struct arena_block {
    struct arena_block *next;
    size_t size;
    _Alignas(16) unsigned char data[];  /* aligned for any scalar */
};

/* n bytes at a multiple of align (a power of two) in the newest block. */
static void *take(struct arena *a, size_t n, size_t align)
{
    size_t at = a->blocks ? (a->used + align - 1) & ~(align - 1) : 0;
    if (!a->blocks || at + n > a->blocks->size) {
        size_t size = n > BLOCK_SIZE ? n : BLOCK_SIZE;
        struct arena_block *b = xmalloc(sizeof(*b) + size);
        b->size = size;
        a->total += n;
        if (a->blocks && size > BLOCK_SIZE) {
            /* an outsize request gets a block of its own, linked behind the
             * current one, which keeps being filled */
            b->next = a->blocks->next;
            a->blocks->next = b;
            return b->data;
        }
        b->next = a->blocks;
        a->blocks = b;
        a->used = n;
        return b->data;
    }
    a->used = at + n;
    a->total += n;
    return a->blocks->data + at;
}

void *arena_alloc(struct arena *a, size_t n)
{
    return take(a, n ? n : 1, ALIGN);
}

void *arena_calloc(struct arena *a, size_t nmemb, size_t size)
{
    if (size && nmemb > SIZE_MAX / size)
        abort();
    void *p = arena_alloc(a, nmemb * size);
    memset(p, 0, nmemb * size);
    return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
    char *p = take(a, n + 1, 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
    return arena_strndup(a, s, strlen(s));
}

void arena_release(struct arena *a)
{
    struct arena_block *b = a->blocks;
    while (b) {
        struct arena_block *next = b->next;
        free(b);
        b = next;
    }
    a->blocks = NULL;
    a->used = a->total = 0;
}
