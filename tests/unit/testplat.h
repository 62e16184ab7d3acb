/* testplat.h - what a unit test needs from the OS beyond platform.h, one
 * implementation per platform (testplat_posix.c, win32/shim.c), so that the
 * tests themselves carry no #ifdef. */
#ifndef DUALSYNC_TESTPLAT_H
#define DUALSYNC_TESTPLAT_H

/* Store value as the OS credential NAME that platform_read_secret_file reads
 * as "credential:NAME": POSIX, a 0600 file NAME in dir, which becomes
 * $CREDENTIALS_DIRECTORY (as systemd's LoadCredential= does); Windows, a
 * generic credential in the Credential Manager (dir unused). 0 or -1. */
int testplat_store_credential(const char *name, const char *value, const char *dir);

/* Run a command line of plain words (no quoting, no shell syntax) and wait;
 * its exit code, or -1. */
int testplat_run(const char *cmdline);

/* NULL if a changed mode or DACL reads back as set; else why not. Wine
 * (8.0) turns any DACL set on an existing file into unix mode 0775, which
 * reads back as readable by Everyone. */
const char *testplat_cannot_narrow(void);

/* The null device: "/dev/null" on POSIX, "NUL" on Windows (a path that
 * names a device there whatever the directory). */
const char *testplat_null_device(void);

/* Make a symbolic link at linkpath that points to target (a file). NULL,
 * or why the OS or this account cannot. */
const char *testplat_symlink(const char *target, const char *linkpath);

/* Make a write that takes a file of this process past bytes fail (POSIX:
 * RLIMIT_FSIZE, with SIGXFSZ ignored, so write() returns EFBIG); bytes < 0
 * lifts the limit again. NULL, or why the OS has no such limit. */
const char *testplat_limit_file_size(long bytes);

#endif
