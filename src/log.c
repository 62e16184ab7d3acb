#include "compat.h"

#include <stdarg.h>
#include <unistd.h>

#include "log.h"
#include "platform.h"
#include "util.h"

static enum log_level level = LOG_NORMAL;

void log_set_level(enum log_level l) { level = l; }
enum log_level log_get_level(void) { return level; }

/* Messages quote what AD, Graph and files hold (DNs, UPNs, displayNames,
 * error texts): each goes to the terminal through term_safe (util.h), so
 * that no value can send the terminal an escape sequence, hide a line or
 * reorder it. Line breaks and tabs are kept only in a message whose format
 * has a line break (a config error: the line as written, and a caret
 * aligned under it with the same tabs); elsewhere they show as \n and \t. */
static void add_safe(struct strbuf *sb, const char *msg, bool keep_layout)
{
    for (;;) {
        size_t n = keep_layout ? strcspn(msg, "\n\t") : strlen(msg);
        char *part = xstrndup(msg, n);
        term_safe(sb, part);
        free(part);
        if (!msg[n])
            return;
        strbuf_addch(sb, msg[n]);
        msg += n + 1;
    }
}

static void emit(const char *prefix, const char *fmt, va_list ap)
{
    /* one fputs per message so that lines from two runs never interleave mid-line */
    struct strbuf sb = STRBUF_INIT;
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    char *msg = xmalloc(n > 0 ? (size_t)n + 1 : 1);
    msg[0] = '\0';
    if (n > 0)
        vsnprintf(msg, (size_t)n + 1, fmt, ap);
    strbuf_addstr(&sb, "dualsync: ");
    strbuf_addstr(&sb, prefix);
    add_safe(&sb, msg, strchr(fmt, '\n') != NULL);
    strbuf_addch(&sb, '\n');
    fputs(sb.buf, stderr);
    strbuf_release(&sb);
    free(msg);
}

#define EMIT_IF(min, prefix)            \
    do {                                \
        if (level < (min))              \
            return;                     \
        va_list ap;                     \
        va_start(ap, fmt);              \
        emit(prefix, fmt, ap);          \
        va_end(ap);                     \
    } while (0)

int log_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit("error: ", fmt, ap);
    va_end(ap);
    return -1;
}

void log_warn(const char *fmt, ...) { EMIT_IF(LOG_NORMAL, "warning: "); }
void log_info(const char *fmt, ...) { EMIT_IF(LOG_NORMAL, ""); }
void log_verbose(const char *fmt, ...) { EMIT_IF(LOG_VERBOSE, ""); }
void log_debug(const char *fmt, ...) { EMIT_IF(LOG_DEBUG, "debug: "); }

void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit("fatal: ", fmt, ap);
    va_end(ap);
    exit(2);
}

struct progress {
    char *what;
    uint64_t total, done;
    double last; /* platform_monotonic() of the last draw */
    bool drawn;
};

static bool stderr_is_tty(void)
{
    return isatty(STDERR_FILENO) && level >= LOG_NORMAL;
}

struct progress *progress_start(const char *what, uint64_t total)
{
    if (!stderr_is_tty())
        return NULL;
    struct progress *p = xcalloc(1, sizeof(*p));
    p->what = xstrdup(what);
    p->total = total;
    return p;
}

static void draw(struct progress *p)
{
    if (p->total)
        fprintf(stderr, "\r%s: %llu/%llu (%u%%)", p->what, (unsigned long long)p->done,
                (unsigned long long)p->total, (unsigned)(p->done * 100 / p->total));
    else
        fprintf(stderr, "\r%s: %llu", p->what, (unsigned long long)p->done);
    p->drawn = true;
}

void progress_update(struct progress *p, uint64_t done)
{
    if (!p)
        return;
    p->done = done;
    double now = platform_monotonic();
    if (now - p->last < 0.2)
        return;
    p->last = now;
    draw(p);
}

void progress_done(struct progress *p)
{
    if (!p)
        return;
    draw(p);
    fputc('\n', stderr);
    free(p->what);
    free(p);
}
