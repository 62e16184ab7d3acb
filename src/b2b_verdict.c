/* b2b_verdict.c - the cross-tenant access verdicts kept per resource tenant
 * (b2b_verdict.h). JSON through cJSON: a handful of pairs, read once per
 * plan, written once per check or run. */
#include "compat.h"

#include <cjson/cJSON.h>
#include <strings.h>

#include "b2b_verdict.h"
#include "log.h"
#include "platform.h"
#include "util.h"

#define B2B_MAGIC "dualsync-b2b"
#define B2B_VERSION 1

int b2b_verdict_parse(const char *word, enum b2b_verdict *out)
{
    for (int i = 0; i < B2B_VERDICT_COUNT; i++)
        if (!strcmp(b2b_verdict_name((enum b2b_verdict)i), word)) {
            *out = (enum b2b_verdict)i;
            return 0;
        }
    return -1;
}

char *b2b_verdicts_path(const char *mappings_dir, const char *tenant)
{
    return xasprintf("%s/%s.b2b", mappings_dir, tenant);
}

static void pair_release(struct b2b_pair *p)
{
    free(p->home);
    free(p->home_id);
    free(p->read_by);
    free(p->request_ids);
    free(p->why);
    memset(p, 0, sizeof(*p));
}

void b2b_verdicts_release(struct b2b_verdicts *v)
{
    for (size_t i = 0; i < v->n; i++)
        pair_release(&v->pairs[i]);
    free(v->pairs);
    free(v->tenant);
    free(v->tenant_id);
    memset(v, 0, sizeof(*v));
}

const struct b2b_pair *b2b_verdicts_find(const struct b2b_verdicts *v, const char *home)
{
    for (size_t i = 0; v && home && i < v->n; i++)
        if (!strcmp(v->pairs[i].home, home))
            return &v->pairs[i];
    return NULL;
}

static char *dup_or_empty(const char *s)
{
    return xstrdup(s ? s : "");
}

void b2b_verdicts_set(struct b2b_verdicts *v, const struct b2b_pair *p)
{
    struct b2b_pair *slot = (struct b2b_pair *)b2b_verdicts_find(v, p->home);
    if (slot) {
        pair_release(slot);
    } else {
        v->pairs = xrealloc(v->pairs, (v->n + 1) * sizeof(*v->pairs));
        slot = &v->pairs[v->n++];
    }
    *slot = *p;
    slot->home = dup_or_empty(p->home);
    slot->home_id = dup_or_empty(p->home_id);
    slot->read_by = dup_or_empty(p->read_by);
    slot->request_ids = dup_or_empty(p->request_ids);
    slot->why = dup_or_empty(p->why);
}

char *b2b_verdicts_format(const struct b2b_verdicts *v)
{
    cJSON *root = cJSON_CreateObject();
    json_add_str(root, "format", B2B_MAGIC);
    cJSON_AddNumberToObject(root, "version", B2B_VERSION);
    json_add_str(root, "tenant", v->tenant ? v->tenant : "");
    json_add_str(root, "tenantId", v->tenant_id ? v->tenant_id : "");
    json_add_str(root, "cloud", cloud_name(v->cloud));
    cJSON *pairs = cJSON_AddArrayToObject(root, "homeTenants");
    for (size_t i = 0; i < v->n; i++) {
        const struct b2b_pair *p = &v->pairs[i];
        char when[ISO_TIME_LEN + 1];
        iso_time_format(p->read_at, when);
        cJSON *j = cJSON_CreateObject();
        json_add_str(j, "home", p->home);
        json_add_str(j, "homeTenantId", p->home_id);
        json_add_str(j, "verdict", b2b_verdict_name(p->verdict));
        cJSON *ch = cJSON_AddArrayToObject(j, "change");
        if (p->resource_blocks)
            cJSON_AddItemToArray(ch, json_str_item("resource"));
        if (p->home_blocks)
            cJSON_AddItemToArray(ch, json_str_item("home"));
        json_add_str(j, "readAt", when);
        json_add_str(j, "readBy", p->read_by);
        json_add_str(j, "requestIds", p->request_ids);
        json_add_str(j, "why", p->why);
        cJSON_AddItemToArray(pairs, j);
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    char *out = xasprintf("%s\n", text);
    cJSON_free(text);
    return out;
}

static const char *str_of(const cJSON *o, const char *key)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(s) ? s->valuestring : NULL;
}

int b2b_verdicts_parse(const char *text, struct b2b_verdicts *out, char *err, size_t errsize)
{
    memset(out, 0, sizeof(*out));
    cJSON *root = cJSON_Parse(text);
    const char *magic = str_of(root, "format");
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "version");
    const cJSON *pairs = cJSON_GetObjectItemCaseSensitive(root, "homeTenants");
    int rc = -1;
    if (!root || !magic || strcmp(magic, B2B_MAGIC)) {
        snprintf(err, errsize, "not a dualsync cross-tenant verdict file (no \"format\": \"%s\")", B2B_MAGIC);
        goto out;
    }
    if (!cJSON_IsNumber(ver) || ver->valuedouble != B2B_VERSION) {
        snprintf(err, errsize, "version %g, this dualsync reads version %d", cJSON_IsNumber(ver) ? ver->valuedouble
                 : -1.0, B2B_VERSION);
        goto out;
    }
    const char *tenant = str_of(root, "tenant"), *tid = str_of(root, "tenantId"), *cl = str_of(root, "cloud");
    if (!tenant || !tid || !cl || cloud_parse(cl, &out->cloud) || !cJSON_IsArray(pairs)) {
        snprintf(err, errsize, "tenant, tenantId, cloud or homeTenants missing or wrong");
        goto out;
    }
    out->tenant = xstrdup(tenant);
    out->tenant_id = xstrdup(tid);
    const cJSON *j;
    int k = 0;
    cJSON_ArrayForEach(j, pairs) {
        k++;
        struct b2b_pair p;
        memset(&p, 0, sizeof(p));
        const char *when = str_of(j, "readAt"), *verdict = str_of(j, "verdict");
        p.home = (char *)str_of(j, "home");
        p.home_id = (char *)str_of(j, "homeTenantId");
        p.read_by = (char *)str_of(j, "readBy");
        p.request_ids = (char *)str_of(j, "requestIds");
        p.why = (char *)str_of(j, "why");
        if (!p.home || !p.home_id || !p.read_by || !p.request_ids || !p.why || !when || !verdict
            || b2b_verdict_parse(verdict, &p.verdict)
            || iso_time_parse(when, strlen(when), 0, &p.read_at)) {
            snprintf(err, errsize, "home tenant entry %d: a field is missing or wrong", k);
            b2b_verdicts_release(out);
            goto out;
        }
        const cJSON *c;
        cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(j, "change")) {
            if (cJSON_IsString(c) && !strcmp(c->valuestring, "resource"))
                p.resource_blocks = true;
            if (cJSON_IsString(c) && !strcmp(c->valuestring, "home"))
                p.home_blocks = true;
        }
        b2b_verdicts_set(out, &p);
    }
    rc = 0;
out:
    cJSON_Delete(root);
    return rc;
}

int b2b_verdicts_load(const char *path, const char *tenant, const char *tenant_id, struct b2b_verdicts *out)
{
    memset(out, 0, sizeof(*out));
    struct strbuf text = STRBUF_INIT;
    int rc = platform_read_file(path, &text, NULL);
    if (rc) {
        strbuf_release(&text);
        return rc > 0 ? 1 : log_error("%s: cannot read it; remove it, and 'dualsync check' writes it again",
                                      path);
    }
    char err[200];
    if (b2b_verdicts_parse(text.buf, out, err, sizeof(err))) {
        strbuf_release(&text);
        return log_error("%s: %s; remove it, and 'dualsync check' writes it again", path, err);
    }
    strbuf_release(&text);
    if (strcmp(out->tenant, tenant) || strcasecmp(out->tenant_id, tenant_id)) {
        log_error("%s: it is tenant %s's (%s), not tenant %s's (%s); remove it, and 'dualsync check' "
                  "writes it again", path, out->tenant, out->tenant_id, tenant, tenant_id);
        b2b_verdicts_release(out);
        return -1;
    }
    return 0;
}

int b2b_verdicts_save(const char *path, const struct b2b_verdicts *v)
{
    char *text = b2b_verdicts_format(v);
    int rc = platform_write_file_atomic(path, text, strlen(text));
    free(text);
    if (rc)
        return log_error("%s: cannot write the cross-tenant access verdicts", path);
    return 0;
}
