#include "compat.h"

#include <cjson/cJSON.h>

#include "audit.h"
#include "log.h"
#include "platform.h"
#include "util.h"

struct audit {
    char *path;
    struct platform_file *f;
};

void audit_time(time_t t, char out[21])
{
    iso_time_format((int64_t)t, out);
}

char *audit_path_for_mapping(const char *mapping_file)
{
    size_t n = strlen(mapping_file);
    if (n > 4 && !strcmp(mapping_file + n - 4, ".map"))
        n -= 4;
    return xasprintf("%.*s.audit", (int)n, mapping_file);
}

int audit_open(const char *path, struct audit **out)
{
    /* a torn last line (a crash mid-write) was never acknowledged: cut it off,
     * or the next entry would be glued to it */
    struct strbuf old = STRBUF_INIT;
    struct platform_file_id id;
    int exists = platform_file_identity(path, &id);
    if (exists < 0)
        return -1;
    if (exists == 0 && platform_read_file(path, &old, &id))
        return -1;
    struct audit *a = xcalloc(1, sizeof(*a));
    a->path = xstrdup(path);
    if (platform_file_open(path, PLATFORM_APPEND, &a->f)) {
        strbuf_release(&old);
        free(a->path);
        free(a);
        return -1;
    }
    if (old.len && old.buf[old.len - 1] != '\n') {
        size_t keep = old.len;
        while (keep && old.buf[keep - 1] != '\n')
            keep--;
        log_warn("%s: cutting off a torn last line (%zu bytes) left by a crash", path, old.len - keep);
        if (platform_file_truncate(a->f, keep) || platform_file_sync(a->f)) {
            strbuf_release(&old);
            audit_close(a);
            return -1;
        }
    }
    strbuf_release(&old);
    *out = a;
    return 0;
}

static void add(cJSON *o, const char *key, const char *value)
{
    if (value)
        json_add_str(o, key, value);
}

char *audit_format(const struct audit_entry *e)
{
    char when[21];
    audit_time(e->time ? e->time : time(NULL), when);
    cJSON *o = cJSON_CreateObject();
    add(o, "time", when);
    add(o, "run", e->run_id);
    add(o, "tenant", e->tenant);
    add(o, "cloud", e->cloud);
    add(o, "anchor", e->anchor);
    add(o, "objectGUID", e->object_guid);
    add(o, "upn", e->upn);
    add(o, "displayName", e->display_name);
    add(o, "dn", e->dn);
    add(o, "cloudId", e->cloud_id);
    add(o, "decision", e->decision);
    add(o, "rule", e->rule);
    add(o, "action", e->action);
    add(o, "userTypeBefore", e->user_type_before);
    add(o, "userTypeAfter", e->user_type_after);
    add(o, "stateBefore", e->state_before);
    add(o, "stateAfter", e->state_after);
    add(o, "outcome", e->outcome);
    add(o, "requestId", e->request_id);
    add(o, "clientRequestId", e->client_request_id);
    add(o, "invitationId", e->invitation_id);
    add(o, "error", e->error);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text)
        die("out of memory formatting an audit entry");
    size_t len = strlen(text);
    /* room for the newline audit_append adds: it writes the line in one go */
    char *line = xmalloc(len + 2);
    memcpy(line, text, len);
    line[len] = '\0';
    line[len + 1] = '\0';
    cJSON_free(text);
    return line;
}

int audit_append(struct audit *a, const struct audit_entry *e)
{
    char *text = audit_format(e);
    size_t len = strlen(text);
    /* one write per line: a crash leaves at most one torn line, cut at open */
    text[len] = '\n';
    int rc = platform_file_write(a->f, text, len + 1);
    free(text);
    if (rc == 0)
        rc = platform_file_sync(a->f);
    if (rc)
        return log_error("%s: cannot write the audit trail; stopping: no action without a record", a->path);
    return 0;
}

int audit_close(struct audit *a)
{
    if (!a)
        return 0;
    int rc = platform_file_close(a->f);
    free(a->path);
    free(a);
    return rc;
}

/* The whole audit file into text: 0, 1 when there is no file (it reads as
 * empty), or -1 (logged). */
static int read_trail(const char *path, struct strbuf *text)
{
    struct platform_file_id id;
    int exists = platform_file_identity(path, &id);
    if (exists < 0)
        return -1;
    if (exists == 1)
        return 1;
    return platform_read_file(path, text, &id) ? -1 : 0;
}

int audit_read(const char *path, audit_entry_fn *fn, void *ctx)
{
    struct strbuf text = STRBUF_INIT;
    int got = read_trail(path, &text);
    if (got)
        return got < 0 ? -1 : 0;
    int rc = 0;
    size_t line = 0;
    char *p = text.buf, *end = text.buf + text.len;
    while (p < end && !rc) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            break;   /* a torn last line: not acknowledged, not an entry */
        *nl = '\0';
        line++;
        if (nl > p) {
            cJSON *o = cJSON_ParseWithLength(p, (size_t)(nl - p));
            if (!cJSON_IsObject(o))
                rc = log_error("%s:%zu: not an audit entry (a JSON object); the file was edited "
                               "or damaged: restore it from backup", path, line);
            else
                rc = fn(ctx, o, line);
            cJSON_Delete(o);
        }
        p = nl + 1;
    }
    strbuf_release(&text);
    return rc;
}

/* ---- the fast reader --------------------------------------------------- */

#define MAX_FIELDS 64

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static char *put_utf8(char *d, unsigned cp)
{
    if (cp < 0x80) {
        *d++ = (char)cp;
    } else if (cp < 0x800) {
        *d++ = (char)(0xc0 | cp >> 6);
        *d++ = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        *d++ = (char)(0xe0 | cp >> 12);
        *d++ = (char)(0x80 | (cp >> 6 & 0x3f));
        *d++ = (char)(0x80 | (cp & 0x3f));
    } else {
        *d++ = (char)(0xf0 | cp >> 18);
        *d++ = (char)(0x80 | (cp >> 12 & 0x3f));
        *d++ = (char)(0x80 | (cp >> 6 & 0x3f));
        *d++ = (char)(0x80 | (cp & 0x3f));
    }
    return d;
}

/* A JSON string (RFC 8259 section 7) at *pp, just after its opening quote,
 * unescaped in place: the text never grows (\uXXXX is 6 bytes, its UTF-8 at
 * most 3; a surrogate pair 12 and 4). Returns the start, NUL-terminated, and
 * moves *pp past the closing quote; NULL if it is not a valid string. */
static char *json_string(char **pp, const char *end)
{
    char *p = *pp, *start = p, *d = p;
    while (p < end && *p != '"') {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20)
            return NULL;
        if (c != '\\') {
            *d++ = *p++;
            continue;
        }
        if (end - p < 2)
            return NULL;
        char e = p[1];
        p += 2;
        switch (e) {
        case '"': *d++ = '"'; break;
        case '\\': *d++ = '\\'; break;
        case '/': *d++ = '/'; break;
        case 'b': *d++ = '\b'; break;
        case 'f': *d++ = '\f'; break;
        case 'n': *d++ = '\n'; break;
        case 'r': *d++ = '\r'; break;
        case 't': *d++ = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (end - p < 4 || hex4(p, &cp))
                return NULL;
            p += 4;
            if (cp >= 0xd800 && cp <= 0xdbff && end - p >= 6 && p[0] == '\\' && p[1] == 'u' &&
                !hex4(p + 2, &lo) && lo >= 0xdc00 && lo <= 0xdfff) {
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                p += 6;
            } else if (cp >= 0xd800 && cp <= 0xdfff) {
                cp = 0xfffd;   /* a lone surrogate: no character */
            }
            d = put_utf8(d, cp ? cp : 0xfffd);   /* NUL would cut the string */
            break;
        }
        default:
            return NULL;
        }
    }
    if (p >= end)
        return NULL;
    *d = '\0';
    *pp = p + 1;
    return start;
}

static char *skip_ws(char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
        p++;
    return p;
}

/* A flat object of string members at line[0..end): 0 and the fields, or -1
 * (anything else: the caller asks cJSON). Unescapes in place. */
static int flat_object(char *p, char *end, struct audit_field *f, size_t *n)
{
    *n = 0;
    p = skip_ws(p, end);
    if (p >= end || *p++ != '{')
        return -1;
    p = skip_ws(p, end);
    if (p < end && *p == '}')
        return skip_ws(p + 1, end) == end ? 0 : -1;
    for (;;) {
        if (p >= end || *p++ != '"' || *n == MAX_FIELDS)
            return -1;
        char *key = json_string(&p, end);
        if (!key)
            return -1;
        p = skip_ws(p, end);
        if (p >= end || *p++ != ':')
            return -1;
        p = skip_ws(p, end);
        if (p >= end || *p++ != '"')
            return -1;
        char *value = json_string(&p, end);
        if (!value)
            return -1;
        f[*n].key = key;
        f[*n].value = value;
        (*n)++;
        p = skip_ws(p, end);
        if (p < end && *p == ',') {
            p = skip_ws(p + 1, end);
            continue;
        }
        if (p < end && *p == '}')
            return skip_ws(p + 1, end) == end ? 0 : -1;
        return -1;
    }
}

int audit_read_fields(const char *path, audit_fields_fn *fn, void *ctx)
{
    struct strbuf text = STRBUF_INIT;
    int got = read_trail(path, &text);
    if (got)
        return got < 0 ? -1 : 0;
    int rc = 0;
    size_t line = 0;
    struct audit_field fields[MAX_FIELDS];
    struct strbuf scratch = STRBUF_INIT;
    char *p = text.buf, *end = text.buf + text.len;
    while (p < end && !rc) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            break;   /* a torn last line: not acknowledged, not an entry */
        line++;
        size_t n, len = (size_t)(nl - p);
        if (len) {
            /* the hand parser unescapes in place: give it a copy, so that
             * the line is intact for cJSON if it gives up */
            strbuf_reset(&scratch);
            strbuf_add(&scratch, p, len);
        }
        if (!len) {
            /* an empty line: nothing */
        } else if (flat_object(scratch.buf, scratch.buf + len, fields, &n) == 0) {
            rc = fn(ctx, fields, n, line);
        } else {
            /* not what audit_append writes, but maybe still JSON: ask cJSON */
            cJSON *o = cJSON_ParseWithLength(p, len);
            if (!cJSON_IsObject(o)) {
                rc = log_error("%s:%zu: not an audit entry (a JSON object); the file was edited "
                               "or damaged: restore it from backup", path, line);
            } else {
                n = 0;
                for (const cJSON *c = o->child; c && n < MAX_FIELDS; c = c->next)
                    if (cJSON_IsString(c) && c->string)
                        fields[n++] = (struct audit_field){ c->string, c->valuestring };
                rc = fn(ctx, fields, n, line);
            }
            cJSON_Delete(o);
        }
        p = nl + 1;
    }
    strbuf_release(&scratch);
    strbuf_release(&text);
    return rc;
}
