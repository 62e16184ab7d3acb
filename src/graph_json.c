/* graph_json.c - the JSON shapes of Graph: error answers, paging links, and
 * the $batch envelope (reference graph-api.md §3, learn.microsoft.com/graph/
 * errors, /graph/paging, /graph/json-batching). */
#include "compat.h"

#include <ctype.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "graph_p.h"

/* Copy s into sb, control characters as spaces, at most max bytes: service
 * messages can hold newlines, and a log line must stay one line. */
static void add_clean(struct strbuf *sb, const char *s, size_t max)
{
    size_t n = 0;
    for (; *s && n < max; s++, n++)
        strbuf_addch(sb, iscntrl((unsigned char)*s) ? ' ' : *s);
    if (*s)
        strbuf_addstr(sb, "...");
}

/* Case-insensitive (ASCII) substring test; strcasestr is not portable. */
static bool contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (!strncasecmp(hay, needle, n))
            return true;
    return false;
}

static bool is_json_type(const char *ct)
{
    if (!ct || !*ct)
        return true; /* no Content-Type: try to parse anyway */
    return !strncasecmp(ct, "application/json", 16) || contains_ci(ct, "+json");
}

char *graph_error_message(int http_status, const char *content_type,
                          const char *body, size_t len, char **code)
{
    struct strbuf sb = STRBUF_INIT;
    if (code)
        *code = NULL;
    strbuf_addf(&sb, "%d", http_status);
    if (!body || !len) {
        strbuf_addstr(&sb, " with an empty answer");
        return strbuf_detach(&sb);
    }
    if (!is_json_type(content_type)) {
        strbuf_addstr(&sb, ": the answer is not JSON (");
        add_clean(&sb, content_type, 60);
        strbuf_addf(&sb, ", %zu bytes): a proxy or gateway between here and the service may have "
                    "answered; check the network path", len);
        return strbuf_detach(&sb);
    }
    cJSON *j = cJSON_ParseWithLength(body, len);
    if (!j) {
        strbuf_addf(&sb, ": the answer is malformed or truncated JSON (%zu bytes)", len);
        return strbuf_detach(&sb);
    }
    strbuf_release(&sb);
    char *msg = graph_error_from_json(http_status, j, code);
    cJSON_Delete(j);
    return msg;
}

char *graph_error_from_json(int http_status, const cJSON *j, char **code)
{
    struct strbuf sb = STRBUF_INIT;
    if (code)
        *code = NULL;
    strbuf_addf(&sb, "%d", http_status);
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(j, "error");
    if (cJSON_IsObject(err)) {
        /* Graph: {"error":{"code","message","innerError":{...}}} */
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(err, "code");
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(err, "message");
        if (cJSON_IsString(c)) {
            strbuf_addch(&sb, ' ');
            add_clean(&sb, c->valuestring, 64);
            if (code)
                *code = xstrdup(c->valuestring);
        }
        strbuf_addstr(&sb, ": ");
        add_clean(&sb, cJSON_IsString(m) && *m->valuestring ? m->valuestring : "(no message)", 400);
    } else if (cJSON_IsString(err)) {
        /* identity platform: {"error","error_description":"AADSTS...: text Trace ID: ..."} */
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "error_description");
        const cJSON *codes = cJSON_GetObjectItemCaseSensitive(j, "error_codes");
        strbuf_addch(&sb, ' ');
        add_clean(&sb, err->valuestring, 64);
        if (cJSON_IsString(d)) {
            /* the trace and correlation ids and the timestamp only add noise */
            char *desc = xstrdup(d->valuestring);
            char *cut = strstr(desc, " Trace ID:");
            if (cut)
                *cut = '\0';
            strbuf_addstr(&sb, ": ");
            add_clean(&sb, desc, 400);
            free(desc);
        }
        if (code) {
            const cJSON *first = cJSON_IsArray(codes) ? cJSON_GetArrayItem(codes, 0) : NULL;
            if (cJSON_IsNumber(first) && first->valuedouble >= 0 && first->valuedouble < 1e9)
                *code = xasprintf("AADSTS%ld", (long)first->valuedouble);
            else
                *code = xstrdup(err->valuestring);
        }
    } else if (j) {
        strbuf_addstr(&sb, ": the answer is JSON but not a Graph error");
    } else {
        strbuf_addstr(&sb, " with an empty answer");
    }
    return strbuf_detach(&sb);
}

bool graph_is_invites_blocked(int http_status, const char *message)
{
    return http_status == 403 && message && contains_ci(message, "invitations are blocked");
}

bool graph_refuses_app(const char *code, const char *message)
{
    return (code && !strcmp(code, "Unauthorized"))
           || (message && (contains_ci(message, "by the application")
                           || contains_ci(message, "guest invitations not allowed")));
}

bool graph_roles_lack(char *const *roles, const char *const *any)
{
    if (!any)
        return false;
    for (char *const *r = roles; r && *r; r++)
        for (const char *const *a = any; *a; a++)
            if (!strcasecmp(*r, *a))
                return false;
    return true;
}

void graph_permissions_text(struct strbuf *sb, const char *const *any)
{
    for (const char *const *p = any; p && *p; p++)
        strbuf_addf(sb, "%s%s", p == any ? "" : " or ", *p);
}

bool graph_link_ok(const char *graph_host, const char *url)
{
    static const char scheme[] = "https://";
    if (!url || strncasecmp(url, scheme, sizeof(scheme) - 1))
        return false;
    const char *h = url + sizeof(scheme) - 1;
    size_t hl = strlen(graph_host);
    if (strncasecmp(h, graph_host, hl))
        return false;
    /* exactly that host: not graph.microsoft.com.evil.example, no userinfo, no port */
    return h[hl] == '/';
}

int graph_page_links(const cJSON *page, const char *graph_host, char **next, char **delta, char **err)
{
    *next = *delta = *err = NULL;
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(page, "@odata.nextLink");
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(page, "@odata.deltaLink");
    if (cJSON_IsString(n)) {
        if (!graph_link_ok(graph_host, n->valuestring)) {
            *err = xasprintf("@odata.nextLink does not point to https://%s/: refusing to follow it", graph_host);
            return -1;
        }
        *next = xstrdup(n->valuestring);
    }
    if (cJSON_IsString(d)) {
        if (!graph_link_ok(graph_host, d->valuestring)) {
            free(*next);
            *next = NULL;
            *err = xasprintf("@odata.deltaLink does not point to https://%s/: refusing to store it", graph_host);
            return -1;
        }
        *delta = xstrdup(d->valuestring);
    }
    return 0;
}

cJSON *graph_batch_body(const struct graph_request *reqs, const size_t *idx, size_t n)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(root, "requests");
    for (size_t k = 0; k < n; k++) {
        const struct graph_request *r = &reqs[idx[k]];
        cJSON *item = cJSON_CreateObject();
        char id[24];
        snprintf(id, sizeof(id), "%zu", idx[k]);
        json_add_str(item, "id", id);
        json_add_str(item, "method", r->method);
        json_add_str(item, "url", r->url);
        cJSON *h = cJSON_AddObjectToObject(item, "headers");
        if (r->client_request_id[0])
            json_add_str(h, "client-request-id", r->client_request_id);
        if (r->body) {
            /* a body needs its Content-Type in the item's headers (json-batching) */
            json_add_str(h, "Content-Type", "application/json");
            cJSON_AddItemToObject(item, "body", cJSON_Duplicate(r->body, true));
        }
        cJSON_AddItemToArray(arr, item);
    }
    return root;
}

int graph_batch_match(const cJSON *answer, const size_t *idx, size_t n, const cJSON **out)
{
    for (size_t k = 0; k < n; k++)
        out[k] = NULL;
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(answer, "responses");
    if (!cJSON_IsArray(arr))
        return -1;
    int matched = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, arr) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(item, "id");
        if (!cJSON_IsString(id) || !*id->valuestring)
            continue;
        uint64_t v;
        if (parse_u64(id->valuestring, &v))
            continue;
        for (size_t k = 0; k < n; k++)
            if (idx[k] == v) {
                if (!out[k]) { /* the first answer for an id wins */
                    out[k] = item;
                    matched++;
                }
                break;
            }
    }
    return matched;
}

const char *graph_batch_item_header(const cJSON *item, const char *name)
{
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(item, "headers");
    if (!cJSON_IsObject(h))
        return NULL;
    const cJSON *v;
    cJSON_ArrayForEach(v, h) {
        if (v->string && !strcasecmp(v->string, name)) {
            if (cJSON_IsString(v))
                return v->valuestring;
            return NULL;
        }
    }
    return NULL;
}
