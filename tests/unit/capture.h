/* capture.h - what a unit test's calls print on stderr, to check a message
 * (the same on POSIX and, through the shim's dup/dup2, on Windows). */
#ifndef DUALSYNC_CAPTURE_H
#define DUALSYNC_CAPTURE_H

/* From here on stderr goes to a temporary file... */
void capture_start(void);
/* ...until here: stderr is back, and what was printed is returned (the
 * caller frees it). */
char *capture_end(void);

#endif
