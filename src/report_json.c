/* report_json.c - the report as one JSON document, for scripts.
 *
 * The shape is a contract (doc/report.md): every key is always there, in the
 * same order; a value the files do not hold is null, never "" or missing;
 * times are UTC strings "2026-11-18T11:06:40Z"; counts are numbers. Written
 * by hand rather than through a cJSON tree: 100k entries would be a million
 * small allocations for nothing. Strings are UTF-8 (RFC 8259), a byte that is
 * not UTF-8 becoming U+FFFD so that the document always parses. */
#include "compat.h"

#include "report_p.h"

struct json {
    struct strbuf *out;
    int depth;
};

static void indent(struct json *j)
{
    static const char spaces[] = "\n                                ";
    int n = 2 * j->depth;
    strbuf_add(j->out, spaces, (size_t)(n < 32 ? n : 32) + 1);
}

/* Written straight into the buffer (one grow for the worst case, six bytes
 * per byte): a report writes millions of them, a pull one per attribute. */
void report_json_str(struct strbuf *out, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t len = strlen(s);
    strbuf_grow(out, 6 * len + 2);
    const unsigned char *p = (const unsigned char *)s;
    char *d = out->buf + out->len;
    *d++ = '"';
    while (*p) {
        if (*p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\') {
            *d++ = (char)*p++;
            continue;
        }
        if (*p >= 0x80) {
            d += utf8_repair_char(d, &p);   /* U+FFFD for a byte that is not UTF-8 */
            continue;
        }
        *d++ = '\\';
        switch (*p) {
        case '"': *d++ = '"'; break;
        case '\\': *d++ = '\\'; break;
        case '\n': *d++ = 'n'; break;
        case '\r': *d++ = 'r'; break;
        case '\t': *d++ = 't'; break;
        default:
            *d++ = 'u';
            *d++ = '0';
            *d++ = '0';
            *d++ = hex[*p >> 4];
            *d++ = hex[*p & 15];
        }
        p++;
    }
    *d++ = '"';
    out->len = (size_t)(d - out->buf);
    out->buf[out->len] = '\0';
}

/* "key": at the next member of an object (keys are ours: plain ASCII) */
static void key(struct json *j, const char *k, bool *first)
{
    if (!*first)
        strbuf_addch(j->out, ',');
    *first = false;
    indent(j);
    strbuf_addch(j->out, '"');
    strbuf_addstr(j->out, k);
    strbuf_add(j->out, "\": ", 3);
}

static void kv_str(struct json *j, const char *k, const char *v, bool *first)
{
    key(j, k, first);
    if (v && *v)
        report_json_str(j->out, v);
    else
        strbuf_addstr(j->out, "null");
}

static void kv_time(struct json *j, const char *k, int64_t t, bool *first)
{
    char text[21];
    report_time_text(t, text);
    kv_str(j, k, text, first);
}

static void kv_num(struct json *j, const char *k, size_t n, bool *first)
{
    char digits[24], *p = digits + sizeof(digits);
    do
        *--p = (char)('0' + n % 10);
    while (n /= 10);
    key(j, k, first);
    strbuf_add(j->out, p, (size_t)(digits + sizeof(digits) - p));
}

static void open_(struct json *j, char c)
{
    strbuf_addch(j->out, c);
    j->depth++;
}

static void close_(struct json *j, char c, bool empty)
{
    j->depth--;
    if (!empty)
        indent(j);
    strbuf_addch(j->out, c);
}

/* an element of an array: a comma before all but the first */
static void element(struct json *j, bool *first)
{
    if (!*first)
        strbuf_addch(j->out, ',');
    *first = false;
    indent(j);
}

static void states(struct json *j, const size_t *s, const struct report_tenant *t)
{
    size_t accounts = 0;
    for (unsigned k = 0; k < REPORT_STATE_COUNT; k++)
        accounts += s[k];
    bool first = true;
    open_(j, '{');
    kv_num(j, "accounts", accounts, &first);
    kv_num(j, "converted", report_converted(s), &first);
    kv_num(j, "pendingAcceptance", s[MAP_STATE_INVITED], &first);
    kv_num(j, "accepted", s[MAP_STATE_ACCEPTED], &first);
    kv_num(j, "blocked", s[MAP_STATE_BLOCKED], &first);
    if (t) {
        key(j, "blockedByReason", &first);
        open_(j, '[');
        bool f2 = true;
        for (size_t i = 0; i < t->nreasons; i++) {
            element(j, &f2);
            bool f3 = true;
            open_(j, '{');
            kv_str(j, "reason", t->reasons[i].reason, &f3);
            kv_num(j, "count", t->reasons[i].count, &f3);
            close_(j, '}', false);
        }
        close_(j, ']', f2);
    }
    kv_num(j, "reverted", s[MAP_STATE_REVERTED], &first);
    kv_num(j, "gone", s[MAP_STATE_GONE], &first);
    kv_num(j, "pending", s[MAP_STATE_PENDING], &first);
    kv_num(j, "unmapped", s[REPORT_STATE_UNMAPPED], &first);
    close_(j, '}', false);
}

static const char *const outcome_keys[REPORT_OUTCOME_COUNT] = {
    "done", "dryRun", "blocked", "failed", "skipped", "other",
};

static void actions(struct json *j, const struct report_tenant *t)
{
    bool first = true;
    open_(j, '{');
    for (int o = 0; o < REPORT_OUTCOME_COUNT; o++)
        kv_num(j, outcome_keys[o], t->outcomes[o], &first);
    key(j, "byAction", &first);
    open_(j, '[');
    bool f2 = true;
    for (size_t i = 0; i < t->nactions; i++) {
        element(j, &f2);
        bool f3 = true;
        open_(j, '{');
        kv_str(j, "action", t->actions[i].action, &f3);
        for (int o = 0; o < REPORT_OUTCOME_COUNT; o++)
            kv_num(j, outcome_keys[o], t->actions[i].count[o], &f3);
        close_(j, '}', false);
    }
    close_(j, ']', f2);
    close_(j, '}', false);
}

static void event(struct json *j, const struct report_event *e)
{
    bool first = true;
    open_(j, '{');
    kv_time(j, "time", e->time, &first);
    kv_str(j, "run", e->run, &first);
    kv_str(j, "action", e->action, &first);
    kv_str(j, "outcome", e->outcome, &first);
    kv_str(j, "decision", e->decision, &first);
    kv_str(j, "rule", e->rule, &first);
    kv_str(j, "userTypeBefore", e->user_type_before, &first);
    kv_str(j, "userTypeAfter", e->user_type_after, &first);
    kv_str(j, "stateBefore", e->state_before, &first);
    kv_str(j, "stateAfter", e->state_after, &first);
    kv_str(j, "requestId", e->request_id, &first);
    kv_str(j, "invitationId", e->invitation_id, &first);
    kv_str(j, "error", e->error, &first);
    close_(j, '}', false);
}

static void account(struct json *j, const struct report_row *row)
{
    bool first = true;
    open_(j, '{');
    kv_str(j, "anchor", row->anchor, &first);
    kv_str(j, "state", report_state_name(row->state), &first);
    kv_str(j, "externalUserState", row->external_state, &first);
    kv_str(j, "decision", row->decision, &first);
    kv_str(j, "userType", row->user_type, &first);
    kv_str(j, "displayName", row->display_name, &first);
    kv_str(j, "upn", row->upn, &first);
    kv_str(j, "objectGUID", row->object_guid, &first);
    kv_str(j, "cloudId", row->cloud_id, &first);
    kv_str(j, "dn", row->dn, &first);
    kv_str(j, "rule", row->rule, &first);
    kv_time(j, "firstChange", row->first_change, &first);
    kv_time(j, "lastChange", row->last_change, &first);
    kv_time(j, "convertedAt", row->converted_at, &first);
    kv_str(j, "invitationId", row->invitation_id, &first);
    kv_str(j, "lastError", row->last_error, &first);
    key(j, "history", &first);
    open_(j, '[');
    bool f2 = true;
    for (const struct report_event *e = row->history; e; e = e->next) {
        element(j, &f2);
        event(j, e);
    }
    close_(j, ']', f2);
    close_(j, '}', false);
}

static void tenant(struct json *j, const struct report_tenant *t)
{
    bool first = true;
    open_(j, '{');
    kv_str(j, "tenant", t->name, &first);
    kv_str(j, "tenantId", t->tenant_id, &first);
    kv_str(j, "cloud", t->cloud, &first);
    kv_str(j, "mappingFile", t->mapping_file, &first);
    kv_str(j, "auditFile", t->audit_file, &first);
    key(j, "summary", &first);
    states(j, t->states, t);
    key(j, "totals", &first);
    states(j, t->totals, NULL);
    key(j, "actions", &first);
    actions(j, t);
    kv_num(j, "tenantEvents", t->tenant_events, &first);
    key(j, "conversionsByDay", &first);
    open_(j, '[');
    bool f2 = true;
    for (size_t i = 0; i < t->ndays; i++) {
        char day[11];
        report_day_text(t->days[i].day, day);
        element(j, &f2);
        bool f3 = true;
        open_(j, '{');
        kv_str(j, "date", day, &f3);
        kv_num(j, "count", t->days[i].count, &f3);
        close_(j, '}', false);
    }
    close_(j, ']', f2);
    key(j, "accounts", &first);
    open_(j, '[');
    f2 = true;
    for (size_t i = 0; i < t->nrows; i++) {
        element(j, &f2);
        account(j, t->rows[i]);
    }
    close_(j, ']', f2);
    close_(j, '}', false);
}

void report_json(const struct report *r, struct strbuf *out)
{
    struct json j = { out, 0 };
    const struct report_filter *f = &r->filter;
    bool first = true;
    open_(&j, '{');
    kv_str(&j, "report", "dualsync", &first);
    kv_num(&j, "version", 1, &first);
    kv_time(&j, "generated", r->generated, &first);
    key(&j, "filter", &first);
    bool f2 = true;
    open_(&j, '{');
    kv_str(&j, "tenant", f->tenant, &f2);
    kv_time(&j, "since", f->has_since ? f->since : 0, &f2);
    kv_time(&j, "until", f->has_until ? f->until : 0, &f2);
    key(&j, "states", &f2);
    if (!f->states) {
        strbuf_addstr(out, "null");
    } else {
        bool f3 = true;
        open_(&j, '[');
        for (unsigned s = 0; s < REPORT_STATE_COUNT; s++)
            if (f->states & (1u << s)) {
                element(&j, &f3);
                report_json_str(out, report_state_name(s));
            }
        close_(&j, ']', false);
    }
    kv_str(&j, "run", f->run_id, &f2);
    close_(&j, '}', false);
    key(&j, "tenants", &first);
    open_(&j, '[');
    f2 = true;
    for (size_t i = 0; i < r->ntenants; i++) {
        element(&j, &f2);
        tenant(&j, &r->tenants[i]);
    }
    close_(&j, ']', f2);
    close_(&j, '}', false);
    strbuf_addch(out, '\n');
}
