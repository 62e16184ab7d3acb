/* capture.c - see capture.h. */
#include "compat.h"

#include <unistd.h>

#include "capture.h"
#include "util.h"

static int saved_stderr = -1;
static FILE *capture_file;

void capture_start(void)
{
    fflush(stderr);
    capture_file = tmpfile();
    saved_stderr = dup(2);
    dup2(fileno(capture_file), 2);
}

char *capture_end(void)
{
    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    struct strbuf sb = STRBUF_INIT;
    char buf[1024];
    size_t n;
    rewind(capture_file);
    while ((n = fread(buf, 1, sizeof(buf), capture_file)) > 0)
        strbuf_add(&sb, buf, n);
    fclose(capture_file);
    return strbuf_detach(&sb);
}
