/* testplat_posix.c - testplat.h on POSIX. */
#include "compat.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testplat.h"

int testplat_store_credential(const char *name, const char *value, const char *dir)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, value, strlen(value));
    close(fd);
    if (n != (ssize_t)strlen(value))
        return -1;
    return setenv("CREDENTIALS_DIRECTORY", dir, 1);
}

int testplat_run(const char *cmdline)
{
    fflush(NULL);
    int status = system(cmdline);
    return status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

const char *testplat_cannot_narrow(void)
{
    return NULL;
}

const char *testplat_null_device(void)
{
    return "/dev/null";
}

const char *testplat_symlink(const char *target, const char *linkpath)
{
    return symlink(target, linkpath) == 0 ? NULL : strerror(errno);
}

const char *testplat_limit_file_size(long bytes)
{
    static struct rlimit saved;
    static int have_saved;
    if (!have_saved) {
        if (getrlimit(RLIMIT_FSIZE, &saved) < 0)
            return strerror(errno);
        have_saved = 1;
    }
    struct rlimit rl = saved;
    if (bytes >= 0)
        rl.rlim_cur = (rlim_t)bytes;
    signal(SIGXFSZ, bytes >= 0 ? SIG_IGN : SIG_DFL);
    return setrlimit(RLIMIT_FSIZE, &rl) == 0 ? NULL : strerror(errno);
}
