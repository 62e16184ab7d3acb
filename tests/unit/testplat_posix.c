/* testplat_posix.c - testplat.h on POSIX. */
#include "compat.h"

#include <fcntl.h>
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
