/* shim.h - the POSIX calls the unit tests use, for the Windows build only.
 *
 * The Makefile force-includes this header into every unit test when
 * TARGET=windows (and never otherwise), so the tests stay plain POSIX C and
 * carry no #ifdef. What Windows can do is done for real, in Windows' terms:
 * stat() reports the owner-only protection of platform_win32.c as mode 0600
 * and a file that Everyone or Users may read as 0644, and chmod() sets the
 * DACL that way, so the tests of file modes test the DACL. What it cannot do
 * (fork, setrlimit) skips the test through cmocka, which counts it as
 * skipped, never as passed. */
#ifndef DUALSYNC_TEST_WIN32_SHIM_H
#define DUALSYNC_TEST_WIN32_SHIM_H

#include <stdlib.h>
#include <sys/types.h>
#include <sys/stat.h>
#include <dirent.h>
#include <io.h>
#include <process.h>
#include <direct.h>
#include <unistd.h>

char *mkdtemp(char *templ);
int setenv(const char *name, const char *value, int overwrite);
int scandir(const char *dir, struct dirent ***names, int (*filter)(const struct dirent *),
            int (*compare)(const struct dirent **, const struct dirent **));
int alphasort(const struct dirent **a, const struct dirent **b);

/* mode bits from the DACL, the file index as the inode */
int shim_stat(const char *path, struct stat *st);
int shim_chmod(const char *path, int mode);
#define stat(path, st) shim_stat(path, st)
#define chmod(path, mode) shim_chmod(path, mode)

/* mkdir(path, mode): the mode is the DACL the directory inherits */
int shim_mkdir(const char *path, int mode);
#define mkdir(path, mode) shim_mkdir(path, mode)

/* rmdir(path): the path in UTF-8, as platform.h's paths are (msvcrt's
 * _rmdir takes the ANSI code page) */
int shim_rmdir(const char *path);
#define rmdir(path) shim_rmdir(path)

/* no memory streams in msvcrt: the test is skipped there */
#define open_memstream(buf, size) ((void)(buf), (void)(size), shim_skip("open_memstream()", __FILE__, __LINE__), (FILE *)NULL)

/* no fork on Windows: the test is reported as skipped where it forks */
int shim_skip(const char *what, const char *file, int line);
#define fork() shim_skip("fork()", __FILE__, __LINE__)
int shim_waitpid(int pid, int *status, int options);
#define waitpid(pid, status, options) shim_waitpid(pid, status, options)

#endif
