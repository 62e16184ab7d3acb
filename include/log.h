/* log.h - messages to stderr, and the progress meter.
 *
 * Messages are lowercase, name the thing and the remedy, and carry no secret.
 * log_error returns -1 so that callers can write `return log_error(...)`. */
#ifndef DUALSYNC_LOG_H
#define DUALSYNC_LOG_H

#include "compat.h"

enum log_level { LOG_QUIET = -1, LOG_NORMAL = 0, LOG_VERBOSE = 1, LOG_DEBUG = 2 };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);

int log_error(const char *fmt, ...) ATTR_PRINTF(1, 2);
void log_warn(const char *fmt, ...) ATTR_PRINTF(1, 2);
void log_info(const char *fmt, ...) ATTR_PRINTF(1, 2);
void log_verbose(const char *fmt, ...) ATTR_PRINTF(1, 2);
void log_debug(const char *fmt, ...) ATTR_PRINTF(1, 2);
void ATTR_NORETURN die(const char *fmt, ...) ATTR_PRINTF(1, 2);

/* A progress meter on stderr, drawn only when stderr is a terminal and at most
 * every 200 ms; progress_done draws the final line. `total` may be 0 (unknown). */
struct progress;
struct progress *progress_start(const char *what, uint64_t total);
void progress_update(struct progress *p, uint64_t done);
void progress_done(struct progress *p);

#endif
