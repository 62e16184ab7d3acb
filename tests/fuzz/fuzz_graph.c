/* fuzz_graph - libFuzzer target for everything the Graph client reads from
 * the network (and so from whatever answers in the service's place).
 *
 * Input: one byte that picks the parser, then the answer's bytes.
 *   mode 0: an error answer (graph_error_message), the next byte picking
 *           the status and the Content-Type
 *   mode 1: a $batch answer: matched to 20 requests, each item's headers,
 *           status and body read as the engine reads them
 *   mode 2: a page of users (or /users/delta): links and users
 *   mode 3: the token endpoint's 200 answer
 *   mode 4: an access token's roles claim
 *   mode 5: a Retry-After value
 * Must never crash, leak or read out of bounds (ASan, UBSan); every message
 * built must be one printable line.
 *
 * Run with tests/fuzz/run-graph.sh SECONDS (make fuzz-graph; not part of make check). */
#include "compat.h"

#include <cjson/cJSON.h>

#include "../../src/graph_p.h"
#include "graph.h"
#include "util.h"

static void one_line(const char *m)
{
    /* a log line stays one line: control characters were replaced */
    for (const char *p = m; p && *p; p++)
        if (*p == '\n' || *p == '\r')
            __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int mode = data[0] % 6;
    data++, size--;
    char *text = xmalloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';

    switch (mode) {
    case 0: {
        static const char *const types[] = { "application/json", "application/json;odata.metadata=minimal",
                                             "text/html", "", "application/problem+json", NULL };
        int status = 400, t = 0;
        if (size) {
            status = 400 + text[0] % 200;
            t = (unsigned char)text[0] % 6;
        }
        char *code = NULL;
        char *m = graph_error_message(status, types[t], size ? text + 1 : text, size ? size - 1 : 0, &code);
        one_line(m);
        (void)graph_is_invites_blocked(status, m);
        free(m);
        free(code);
        break;
    }
    case 1: {
        cJSON *j = cJSON_ParseWithLength(text, size);
        size_t idx[20];
        const cJSON *items[20];
        for (size_t k = 0; k < 20; k++)
            idx[k] = k * 3;
        if (graph_batch_match(j, idx, 20, items) >= 0) {
            for (size_t k = 0; k < 20; k++) {
                if (!items[k])
                    continue;
                const char *ra = graph_batch_item_header(items[k], "Retry-After");
                double secs;
                (void)graph_parse_retry_after(ra, 0, &secs);
                (void)graph_batch_item_header(items[k], "request-id");
                (void)graph_batch_item_header(items[k], "x-ms-throttle-limit-percentage");
                const cJSON *st = cJSON_GetObjectItemCaseSensitive(items[k], "status");
                int status = cJSON_IsNumber(st) && st->valuedouble >= 100 && st->valuedouble < 600
                                 ? (int)st->valuedouble : 502;
                char *code = NULL;
                char *m = graph_error_from_json(status, cJSON_GetObjectItemCaseSensitive(items[k], "body"), &code);
                one_line(m);
                free(m);
                free(code);
            }
        }
        cJSON_Delete(j);
        break;
    }
    case 2: {
        cJSON *j = cJSON_ParseWithLength(text, size);
        char *next, *delta, *err;
        if (graph_page_links(j, "graph.microsoft.com", &next, &delta, &err) == 0) {
            if (next && !graph_link_ok("graph.microsoft.com", next))
                __builtin_trap();
            free(next);
            free(delta);
        } else {
            one_line(err);
            free(err);
        }
        struct graph_users u = GRAPH_USERS_INIT;
        graph_users_add_page(&u, cJSON_GetObjectItemCaseSensitive(j, "value"));
        for (size_t i = 0; i < u.n; i++)
            if (u.v[i].immutable_id)
                (void)graph_users_find(&u, u.v[i].immutable_id);
        graph_users_release(&u);
        cJSON_Delete(j);
        break;
    }
    case 3: {
        struct strbuf t = STRBUF_INIT;
        double secs;
        if (graph_token_parse(text, size, &t, &secs) == 0 && !(secs > 0))
            __builtin_trap();
        strbuf_release(&t);
        break;
    }
    case 4:
        graph_strv_free(graph_token_roles(text));
        break;
    case 5: {
        double secs;
        if (graph_parse_retry_after(text, 1700000000, &secs) == 0 && !(secs >= 0))
            __builtin_trap();
        break;
    }
    }
    free(text);
    return 0;
}
