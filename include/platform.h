/* platform.h - everything that differs between POSIX and Windows.
 *
 * No other file may use #ifdef _WIN32; platform_posix.c and platform_win32.c
 * implement this contract. Functions return 0 on success and -1 after logging
 * an error that names the path and the remedy. */
#ifndef DUALSYNC_PLATFORM_H
#define DUALSYNC_PLATFORM_H

#include "compat.h"

struct strbuf;

/* Process set-up at start. On POSIX: ignore SIGPIPE, so that a peer closing a
 * socket (libldap writes without MSG_NOSIGNAL) or a closed output pipe is an
 * error we report, not a silent death. */
void platform_init(void);

/* Read a secret (password, client secret) from a file into out, without its
 * trailing newline. Refuses, as ssh does for keys, a file that group or others
 * can read, and says how to fix it. `what` names the secret in messages. */
int platform_read_secret_file(const char *path, const char *what, struct strbuf *out);

/* Overwrite and free a secret held in memory. */
void platform_wipe(struct strbuf *secret);

/* Write data to path atomically: a new file beside it (mode 0600), fsync,
 * rename over path, fsync the directory. On failure path is untouched. */
int platform_write_file_atomic(const char *path, const void *data, size_t len);

/* True if the stream is a terminal. */
bool platform_isatty(FILE *f);

#endif
