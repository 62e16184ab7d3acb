#include "compat.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <libgen.h>
#include <signal.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "platform.h"
#include "util.h"

void platform_init(void)
{
    signal(SIGPIPE, SIG_IGN);
}

void platform_args(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
}

const char *platform_config_dir(void)
{
    return "/etc/dualsync";
}

#define CREDENTIAL_PREFIX "credential:"

/* credential:NAME is $CREDENTIALS_DIRECTORY/NAME: systemd puts there what the
 * unit's LoadCredential= names, on a private file system, readable by the
 * service's user only. Returns the path to read (caller frees), or NULL after
 * logging why there is none. */
static char *credential_path(const char *name, const char *what)
{
    const char *dir = getenv("CREDENTIALS_DIRECTORY");
    if (!*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..")) {
        log_error("%s: %s%s is not a credential name (no '/')", what, CREDENTIAL_PREFIX, name);
        return NULL;
    }
    if (!dir || !*dir) {
        log_error("%s: %s%s is a systemd credential, and CREDENTIALS_DIRECTORY is not set; run "
                  "dualsync from its unit (LoadCredential=%s:FILE), or name the file instead",
                  what, CREDENTIAL_PREFIX, name, name);
        return NULL;
    }
    return xasprintf("%s/%s", dir, name);
}

int platform_read_secret_raw(const char *path, const char *what, struct strbuf *out)
{
    if (!strncmp(path, CREDENTIAL_PREFIX, strlen(CREDENTIAL_PREFIX))) {
        char *file = credential_path(path + strlen(CREDENTIAL_PREFIX), what);
        if (!file)
            return -1;
        int rc = platform_read_secret_raw(file, what, out);
        free(file);
        return rc;
    }
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
    return 0;
}

int platform_check_secret_file(const char *path, char *why, size_t size)
{
    /* checked when read: it exists only in the unit's environment */
    if (!strncmp(path, CREDENTIAL_PREFIX, strlen(CREDENTIAL_PREFIX)))
        return 0;
    struct stat st;
    if (stat(path, &st) < 0) {
        if (errno == ENOENT)
            return 0;
        snprintf(why, size, "%s", strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(why, size, "is not a regular file");
        return -1;
    }
    if (st.st_mode & 077) {
        snprintf(why, size, "is readable by group or others (mode %04o); run: chmod 600 %s",
                 (unsigned)(st.st_mode & 07777), path);
        return -1;
    }
    return 0;
}

int platform_protect_secret(const char *secret, size_t len, bool machine, struct strbuf *out)
{
    (void)secret;
    (void)len;
    (void)machine;
    (void)out;
    return log_error("protect-secret: DPAPI is Windows'; on Linux keep the secret in a 0600 file, "
                     "or in a systemd credential (credential:NAME, dualsync.conf(5))");
}

int platform_cert_sign(bool machine, const char *thumbprint, bool *pss, const void *data, size_t len,
                       struct strbuf *sig, struct strbuf *cert)
{
    (void)machine, (void)thumbprint, (void)pss, (void)data, (void)len, (void)sig, (void)cert;
    return log_error("cert_thumbprint names a certificate of the Windows certificate store; on "
                     "Linux give client_cert_file and client_key_file");
}

int platform_system_proxy(const char *url, struct strbuf *proxy, struct strbuf *source)
{
    (void)url, (void)proxy, (void)source;
    return 1;
}

void platform_event_log(enum platform_event type, unsigned id, const char *message)
{
    (void)type, (void)id, (void)message;
}

/* the terminal's settings before echo_off, for echo_restore */
static struct termios stdin_saved;

bool platform_stdin_echo_off(const char *prompt)
{
    if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &stdin_saved) != 0)
        return false;
    fputs(prompt, stderr);
    fflush(stderr);
    struct termios quiet = stdin_saved;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    return true;
}

void platform_stdin_echo_restore(void)
{
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &stdin_saved);
    fputc('\n', stderr);
}

int platform_tls_roots(struct strbuf *out)
{
    (void)out;
    return 1; /* libcurl's CA bundle (OpenSSL) is this machine's trust */
}

void platform_wipe_mem(void *p, size_t len)
{
    if (p)
        explicit_bzero(p, len);
}

double platform_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void platform_sleep(double seconds)
{
    if (!(seconds > 0))
        return;
    struct timespec ts = { (time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9) };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

void platform_wipe(struct strbuf *secret)
{
    if (secret->buf)
        explicit_bzero(secret->buf, secret->alloc);
    strbuf_release(secret);
}

int platform_path_kind(const char *path, enum platform_path_kind *kind)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        if (errno == ENOENT) {
            *kind = PLATFORM_PATH_NONE;
            return 0;
        }
        return log_error("cannot look at %s: %s", path, strerror(errno));
    }
    *kind = S_ISREG(st.st_mode) ? PLATFORM_PATH_FILE
          : S_ISDIR(st.st_mode) ? PLATFORM_PATH_DIR : PLATFORM_PATH_OTHER;
    return 0;
}

bool platform_isatty(FILE *f)
{
    return isatty(fileno(f));
}

/* ---- Files that must survive a crash --------------------------------- */

int platform_read_file(const char *path, struct strbuf *out, struct platform_file_id *id)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 1;
        return log_error("cannot open %s: %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int saved = errno;
        close(fd);
        return log_error("cannot read %s: %s", path, strerror(saved));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return log_error("cannot read %s: not a regular file", path);
    }
    if (id) {
        id->volume = (uint64_t)st.st_dev;
        id->index = (uint64_t)st.st_ino;
    }
    /* one read of the size fstat gave; a file that grows meanwhile (a journal
     * a live writer appends to) is read on to its end */
    size_t want = (size_t)st.st_size + 1;
    strbuf_reset(out);
    for (;;) {
        strbuf_grow(out, want);
        ssize_t n = read(fd, out->buf + out->len, out->alloc - out->len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int saved = errno;
            close(fd);
            return log_error("cannot read %s: %s", path, strerror(saved));
        }
        if (n == 0)
            break;
        out->len += (size_t)n;
        want = 65536;
    }
    out->buf[out->len] = '\0';
    close(fd);
    return 0;
}

int platform_file_identity(const char *path, struct platform_file_id *id)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        if (errno == ENOENT)
            return 1;
        return log_error("cannot stat %s: %s", path, strerror(errno));
    }
    id->volume = (uint64_t)st.st_dev;
    id->index = (uint64_t)st.st_ino;
    return 0;
}

struct platform_file {
    int fd;
    char *path;
};

int platform_file_open(const char *path, enum platform_open_mode mode, struct platform_file **out)
{
    /* O_NOFOLLOW: a link planted at path is refused, never written through;
     * O_EXCL: a new file is new, whatever was there is left alone */
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW;
    flags |= mode == PLATFORM_APPEND ? O_APPEND : O_EXCL;
    int fd = open(path, flags, 0600);
    if (fd < 0)
        return log_error("cannot open %s for writing: %s", path, strerror(errno));
    /* an existing file restored from a backup may be wider than 0600: the
     * mapping store holds account names, keep it to its owner */
    struct stat st;
    if (fstat(fd, &st) == 0 && (st.st_mode & 077) && fchmod(fd, 0600) < 0)
        log_warn("%s is readable by group or others and chmod failed: %s; run: chmod 600 %s",
                 path, strerror(errno), path);
    struct platform_file *f = xmalloc(sizeof(*f));
    f->fd = fd;
    f->path = xstrdup(path);
    *out = f;
    return 0;
}

int platform_file_write(struct platform_file *f, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t n = write(f->fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return log_error("cannot write %s: %s", f->path, strerror(errno));
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int platform_file_sync(struct platform_file *f)
{
    /* fsync, not fdatasync: a journal that grew needs its new size on disk */
    if (fsync(f->fd) < 0)
        return log_error("cannot flush %s to disk: %s", f->path, strerror(errno));
    return 0;
}

int platform_file_truncate(struct platform_file *f, uint64_t size)
{
    if (ftruncate(f->fd, (off_t)size) < 0)
        return log_error("cannot truncate %s: %s", f->path, strerror(errno));
    return 0;
}

int platform_file_close(struct platform_file *f)
{
    if (!f)
        return 0;
    int rc = 0;
    if (close(f->fd) < 0)
        rc = log_error("cannot close %s: %s", f->path, strerror(errno));
    free(f->path);
    free(f);
    return rc;
}

int platform_replace(const char *from, const char *to)
{
    if (rename(from, to) == 0)
        return 0;
    if (errno == EISDIR)
        return log_error("cannot rename %s to %s: %s is a directory; move it out of the way",
                         from, to, to);
    return log_error("cannot rename %s to %s: %s", from, to, strerror(errno));
}

int platform_sync_dir(const char *path)
{
    char *copy = xstrdup(path);
    const char *dir = dirname(copy);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        int saved = errno;
        log_error("cannot open directory %s: %s", dir, strerror(saved));
        free(copy);
        return -1;
    }
    int rc = 0;
    /* some file systems cannot fsync a directory (EINVAL): nothing to wait for */
    if (fsync(fd) < 0 && errno != EINVAL)
        rc = log_error("cannot flush directory %s to disk: %s", dir, strerror(errno));
    close(fd);
    free(copy);
    return rc;
}

int platform_remove(const char *path)
{
    if (unlink(path) < 0 && errno != ENOENT)
        return log_error("cannot remove %s: %s", path, strerror(errno));
    return 0;
}

int platform_list_dir(const char *dir, char ***names, size_t *n)
{
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT || errno == ENOTDIR)
            return 1;
        return log_error("cannot read directory %s: %s", dir, strerror(errno));
    }
    struct dirent *e;
    errno = 0;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            *names = xrealloc(*names, (*n + 1) * sizeof(**names));
            (*names)[(*n)++] = xstrdup(e->d_name);
        }
        errno = 0;
    }
    int err = errno;
    closedir(d);
    if (err) {
        for (size_t i = 0; i < *n; i++)
            free((*names)[i]);
        free(*names);
        *names = NULL;
        *n = 0;
        return log_error("cannot read directory %s: %s", dir, strerror(err));
    }
    return 0;
}

int platform_remove_prefixed(const char *prefix)
{
    char *copy = xstrdup(prefix), *copy2 = xstrdup(prefix);
    const char *dir = dirname(copy), *start = basename(copy2);
    size_t n = strlen(start);
    int rc = 0;
    DIR *d = opendir(dir);
    if (!d) {
        rc = log_error("cannot read directory %s: %s", dir, strerror(errno));
        goto out;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, start, n))
            continue;
        /* unlinkat removes a link itself, never what it points to */
        if (unlinkat(dirfd(d), e->d_name, 0) < 0 && errno != ENOENT)
            rc = log_error("cannot remove %s/%s: %s", dir, e->d_name, strerror(errno));
    }
    closedir(d);
out:
    free(copy);
    free(copy2);
    return rc;
}

/* Classic fcntl locks belong to a process, not to a descriptor: a second
 * lock of the same file by this process would succeed, and closing any
 * descriptor of the file (reading the lock file to see the pid) drops every
 * lock the process holds on it. Open file description locks (Linux 3.15,
 * F_OFD_SETLK) belong to the open file instead and have neither flaw; they
 * are used where the system has them. Either way this process remembers what
 * it holds, and refuses a second lock without opening the file again. */
#ifdef F_OFD_SETLK
#define LOCK_SET F_OFD_SETLK
#define LOCK_GET F_OFD_GETLK
#else
#define LOCK_SET F_SETLK
#define LOCK_GET F_GETLK
#endif
struct platform_lock {
    int fd;
    dev_t dev;
    ino_t ino;
    pid_t pid;                  /* a forked child does not inherit the lock */
    struct platform_lock *next;
};
static struct platform_lock *held_locks;

static long lock_holder(int fd)
{
    /* an OFD lock has no pid (l_pid is -1): the holder wrote it in the file */
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    if (fcntl(fd, LOCK_GET, &fl) == 0 && fl.l_type != F_UNLCK && fl.l_pid > 0)
        return (long)fl.l_pid;
    /* the holder let go meanwhile, or the OS cannot tell: the pid it wrote */
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    uint64_t pid;
    buf[strcspn(buf, "\n")] = '\0';
    return parse_u64(buf, &pid) == 0 && pid <= LONG_MAX ? (long)pid : 0;
}

int platform_lock_acquire(const char *path, struct platform_lock **out, long *holder)
{
    struct stat st;
    if (stat(path, &st) == 0)
        for (struct platform_lock *l = held_locks; l; l = l->next)
            if (l->pid == getpid() && l->dev == st.st_dev && l->ino == st.st_ino) {
                *holder = (long)getpid();
                return 1;
            }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return log_error("cannot open lock file %s: %s", path, strerror(errno));
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    if (fcntl(fd, LOCK_SET, &fl) < 0) {
        int saved = errno;
        if (saved == EACCES || saved == EAGAIN) {
            *holder = lock_holder(fd);
            close(fd);
            return 1;
        }
        close(fd);
        return log_error("cannot lock %s: %s", path, strerror(saved));
    }
    if (fstat(fd, &st) < 0) {
        int saved = errno;
        close(fd);
        return log_error("cannot stat lock file %s: %s", path, strerror(saved));
    }
    if (st.st_mode & 077)
        (void)fchmod(fd, 0600);
    /* the pid is for people (and for systems whose locks do not name their
     * holder); the lock itself is the fcntl record lock */
    char pid[32];
    int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
        int saved = errno;
        close(fd);
        return log_error("cannot write lock file %s: %s", path, strerror(saved));
    }
    struct platform_lock *l = xmalloc(sizeof(*l));
    l->fd = fd;
    l->dev = st.st_dev;
    l->ino = st.st_ino;
    l->pid = getpid();
    l->next = held_locks;
    held_locks = l;
    *out = l;
    return 0;
}

void platform_lock_release(struct platform_lock *lock)
{
    if (!lock)
        return;
    for (struct platform_lock **p = &held_locks; *p; p = &(*p)->next)
        if (*p == lock) {
            *p = lock->next;
            break;
        }
    /* leave the pid in the file: clearing it would race with the next holder;
     * closing the descriptor releases the lock */
    close(lock->fd);
    free(lock);
}

long platform_pid(void)
{
    return (long)getpid();
}

int platform_mkdir(const char *path)
{
    if (mkdir(path, 0700) == 0 || errno == EEXIST)
        return 0;
    return log_error("cannot create directory %s: %s", path, strerror(errno));
}
