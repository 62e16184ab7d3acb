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
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
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
        cJSON_AddStringToObject(o, key, value);
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

int audit_read(const char *path, audit_entry_fn *fn, void *ctx)
{
    struct strbuf text = STRBUF_INIT;
    struct platform_file_id id;
    int exists = platform_file_identity(path, &id);
    if (exists < 0)
        return -1;
    if (exists == 1)
        return 0;
    if (platform_read_file(path, &text, &id))
        return -1;
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
