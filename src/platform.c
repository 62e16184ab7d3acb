/* platform.c - the parts of platform.h that are the same on every OS, built
 * on the OS-specific primitives of platform_posix.c and platform_win32.c:
 * the atomic replacement of a file (see platform.h for the contract), and
 * reading a secret from a file or standard input. */
#include "compat.h"

#include <openssl/rand.h>

#include "log.h"
#include "platform.h"
#include "util.h"

/* what comes between the target's name and the random part */
#define TEMP_INFIX ".tmp-"

struct platform_atomic {
    struct platform_file *f;
    char *path, *tmp;
};

static void atomic_free(struct platform_atomic *a)
{
    free(a->path);
    free(a->tmp);
    free(a);
}

int platform_atomic_open(const char *path, struct platform_atomic **out)
{
    /* 48 random bits: a name nobody can guess and plant a link at, and no
     * collision with another writer of the same directory */
    unsigned char rnd[6];
    if (RAND_bytes(rnd, sizeof(rnd)) != 1)
        return log_error("cannot write %s: no random bytes for a temporary name", path);
    struct platform_atomic *a = xcalloc(1, sizeof(*a));
    a->path = xstrdup(path);
    a->tmp = xasprintf("%s" TEMP_INFIX "%02x%02x%02x%02x%02x%02x", path, rnd[0], rnd[1], rnd[2],
                       rnd[3], rnd[4], rnd[5]);
    /* CREATE_NEW: never an existing file, never through a link */
    if (platform_file_open(a->tmp, PLATFORM_CREATE_NEW, &a->f)) {
        atomic_free(a);
        return -1;
    }
    *out = a;
    return 0;
}

int platform_atomic_write(struct platform_atomic *a, const void *data, size_t len)
{
    return platform_file_write(a->f, data, len);
}

struct platform_file *platform_atomic_file(struct platform_atomic *a)
{
    return a->f;
}

void platform_atomic_abort(struct platform_atomic *a)
{
    if (!a)
        return;
    (void)platform_file_close(a->f);
    (void)platform_remove(a->tmp);
    atomic_free(a);
}

int platform_atomic_commit(struct platform_atomic *a)
{
    /* 1. the data on disk before the rename can make it the file: else a
     * power cut could leave the new name on an empty file */
    int rc = platform_file_sync(a->f);
    /* some file systems report a failed write only at close */
    rc = platform_file_close(a->f) || rc;
    a->f = NULL;
    /* 2. the atomic step: a reader sees the old file or the new one */
    rc = rc || platform_replace(a->tmp, a->path);
    if (rc) {
        (void)platform_remove(a->tmp);
        log_error("cannot write %s; it keeps its previous contents", a->path);
        atomic_free(a);
        return -1;
    }
    /* 3. the rename itself durable: a caller that goes on (the mapping store
     * removes its journal next) must not see it undone by a power cut */
    rc = platform_sync_dir(a->path);
    atomic_free(a);
    return rc ? -1 : 0;
}

int platform_atomic_sweep(const char *path)
{
    char *prefix = xasprintf("%s" TEMP_INFIX, path);
    int rc = platform_remove_prefixed(prefix);
    free(prefix);
    return rc;
}

int platform_write_file_atomic(const char *path, const void *data, size_t len)
{
    struct platform_atomic *a;
    if (platform_atomic_open(path, &a))
        return -1;
    if (platform_atomic_write(a, data, len)) {
        platform_atomic_abort(a);
        return -1;
    }
    return platform_atomic_commit(a);
}

/* a secret ends at its last character: the line end of a file written by an
 * editor or on Windows is not part of it */
static void trim_line_end(struct strbuf *s)
{
    while (s->len && (s->buf[s->len - 1] == '\n' || s->buf[s->len - 1] == '\r'))
        s->buf[--s->len] = '\0';
}

int platform_read_secret_file(const char *path, const char *what, struct strbuf *out)
{
    if (platform_read_secret_raw(path, what, out))
        return -1;
    trim_line_end(out);
    if (!out->len) {
        platform_wipe(out);
        return log_error("%s file %s is empty", what, path);
    }
    return 0;
}

int platform_read_secret_stdin(const char *prompt, struct strbuf *out)
{
    bool quiet = platform_stdin_echo_off(prompt);
    int c;
    while ((c = getchar()) != EOF && c != '\n')
        strbuf_addch(out, (char)c);
    if (quiet)
        platform_stdin_echo_restore();
    trim_line_end(out);   /* a line typed on Windows, or a file written there */
    if (!out->len)
        return log_error("no secret on standard input");
    return 0;
}
