#include "compat.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "platform.h"
#include "util.h"

void platform_init(void)
{
    signal(SIGPIPE, SIG_IGN);
}

int platform_read_secret_file(const char *path, const char *what, struct strbuf *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return log_error("%s file %s: %s", what, path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return log_error("%s file %s: not a regular file", what, path);
    }
    if (st.st_mode & 077) {
        close(fd);
        return log_error("%s file %s is readable by group or others (mode %04o); "
                         "run: chmod 600 %s", what, path, (unsigned)(st.st_mode & 07777), path);
    }
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        strbuf_add(out, buf, (size_t)n);
    int saved = errno;
    memset(buf, 0, sizeof(buf));
    close(fd);
    if (n < 0) {
        platform_wipe(out);
        return log_error("%s file %s: %s", what, path, strerror(saved));
    }
    while (out->len && (out->buf[out->len - 1] == '\n' || out->buf[out->len - 1] == '\r'))
        out->buf[--out->len] = '\0';
    if (!out->len) {
        platform_wipe(out);
        return log_error("%s file %s is empty", what, path);
    }
    return 0;
}

void platform_wipe(struct strbuf *secret)
{
    if (secret->buf)
        explicit_bzero(secret->buf, secret->alloc);
    strbuf_release(secret);
}

int platform_write_file_atomic(const char *path, const void *data, size_t len)
{
    char *tmp = xasprintf("%s.new", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        log_error("cannot create %s: %s", tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    const char *p = data;
    size_t left = len;
    while (left) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto fail;
        p += n;
        left -= (size_t)n;
    }
    /* the data must be on disk before the rename makes it the current file */
    if (fsync(fd) < 0)
        goto fail;
    if (close(fd) < 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) < 0)
        goto fail;
    /* and the rename itself must survive a power cut */
    char *dircopy = xstrdup(path);
    int dfd = open(dirname(dircopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dircopy);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    free(tmp);
    return 0;
fail:;
    int saved = errno;
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    log_error("cannot write %s: %s", path, strerror(saved));
    free(tmp);
    return -1;
}

bool platform_isatty(FILE *f)
{
    return isatty(fileno(f));
}
