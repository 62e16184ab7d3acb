/* report.c - gather the report: per tenant, the accounts dualsync converted
 * (current state from the mapping file, history from the audit trail), and
 * the figures; then save it. The formats are in report_{csv,json,html}.c,
 * the run summary in report_text.c.
 *
 * Which accounts (doc/report.md): a record of the mapping file whose decision
 * is external-member or external-guest, or whose state is one that only a
 * conversion leads to (invited, accepted, blocked, reverted); and any object
 * the audit trail names. --since/--until keep those with activity in the
 * period: an audit entry in it, or, for an account the trail says nothing
 * about in the period, a last change in it. The history shown is that of the
 * period. The state shown is always the current one. */
#include "compat.h"

#include <openssl/evp.h>
#include <strings.h>
#include <time.h>

#include "audit.h"
#include "config.h"
#include "log.h"
#include "platform.h"
#include "report_p.h"

/* ------------------------------------------------------------------ words */

static const char *const state_names[REPORT_STATE_COUNT] = {
    "pending", "invited", "accepted", "blocked", "reverted", "gone", "unmapped",
};

const char *report_state_name(unsigned state)
{
    return state < REPORT_STATE_COUNT ? state_names[state] : "?";
}

static const char *const outcome_names[REPORT_OUTCOME_COUNT] = {
    "done", "dry-run", "blocked", "failed", "skipped", "other",
};

const char *report_outcome_name(enum report_outcome o)
{
    return outcome_names[o];
}

static enum report_outcome outcome_of(const char *word)
{
    for (int o = 0; o < REPORT_OUTCOME_OTHER; o++)
        if (!strcmp(word, outcome_names[o]))
            return (enum report_outcome)o;
    return REPORT_OUTCOME_OTHER;
}

int report_parse_states(const char *option, const char *text, unsigned *mask)
{
    unsigned m = 0;
    const char *p = text;
    for (;;) {
        size_t n = strcspn(p, ",");
        char word[32];
        /* trim the blanks of "blocked, invited" */
        while (n && (*p == ' ' || *p == '\t'))
            p++, n--;
        while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        unsigned s = REPORT_STATE_COUNT;
        if (n && n < sizeof(word)) {
            memcpy(word, p, n);
            word[n] = '\0';
            if (!strcasecmp(word, "pending-acceptance"))
                s = MAP_STATE_INVITED;
            for (unsigned k = 0; k < REPORT_STATE_COUNT && s == REPORT_STATE_COUNT; k++)
                if (!strcasecmp(word, state_names[k]))
                    s = k;
        }
        if (s == REPORT_STATE_COUNT)
            return log_error("%s '%s': unknown state '%.*s'; use pending, invited (or pending-acceptance), "
                             "accepted, blocked, reverted, gone or unmapped, several separated by commas",
                             option, text, (int)(n < 64 ? n : 64), p);
        m |= 1u << s;
        p += strcspn(p, ",");
        if (!*p)
            break;
        p++;
    }
    *mask = m;
    return 0;
}

/* ------------------------------------------------------------------ times */


/* The grammar of report_parse_time, silently: 0 and *out, or -1. */
static int parse_iso(const char *s, bool end, int64_t *out)
{
    unsigned flags = ISO_TIME_HUMAN | ISO_TIME_FRACTION | (end ? ISO_TIME_END : 0);
    return iso_time_parse(s, strlen(s), flags, out);
}

int report_parse_time(const char *option, const char *text, bool end_of_day, int64_t *out)
{
    if (parse_iso(text, end_of_day, out))
        return log_error("%s '%s': not a date or time; use YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS] "
                         "(UTC, or with Z or an offset such as +01:00), a real date from 1970 on",
                         option, text);
    return 0;
}

void report_day_text(int64_t day, char out[11])
{
    /* the date part of the day's first second; days before 1970 print "" */
    char t[ISO_TIME_LEN + 1];
    if (!iso_time_format(day * 86400, t)) {
        out[0] = '\0';
        return;
    }
    memcpy(out, t, 10);
    out[10] = '\0';
}

void report_time_text(int64_t t, char out[21])
{
    if (t <= 0 || !iso_time_format(t, out))
        out[0] = '\0';
}

/* ---------------------------------------------------------------- helpers */

void report_sha256_base64(const char *data, size_t len, char out[45])
{
    unsigned char md[32];
    unsigned mdlen = 0;
    if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
        die("cannot compute a SHA-256 (OpenSSL): check the OpenSSL installation");
    EVP_EncodeBlock((unsigned char *)out, md, 32);
}

/* A string that stays: words that repeat (run ids, actions, outcomes, rules,
 * errors) are kept once, whatever the number of entries. */
struct interner {
    const char **slots;
    size_t mask, used;
};

static uint64_t hash_str(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603u;        /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211u;
    return h;
}

static const char *intern(struct interner *in, struct arena *a, const char *s)
{
    if (!s || !*s)
        return "";
    size_t n = strlen(s);
    if (in->used * 2 >= in->mask) {
        size_t size = in->mask ? (in->mask + 1) * 2 : 256;
        const char **slots = xcalloc(size, sizeof(*slots));
        for (size_t i = 0; in->slots && i <= in->mask; i++)
            if (in->slots[i]) {
                size_t k = hash_str(in->slots[i], strlen(in->slots[i])) & (size - 1);
                while (slots[k])
                    k = (k + 1) & (size - 1);
                slots[k] = in->slots[i];
            }
        free(in->slots);
        in->slots = slots;
        in->mask = size - 1;
    }
    size_t k = hash_str(s, n) & in->mask;
    while (in->slots[k]) {
        if (!strcmp(in->slots[k], s))
            return in->slots[k];
        k = (k + 1) & in->mask;
    }
    in->used++;
    return in->slots[k] = arena_strndup(a, s, n);
}

/* Rows by anchor. */
struct row_index {
    struct report_row **slots;
    size_t mask, used;
};

static struct report_row **row_slot(struct row_index *ix, const char *anchor)
{
    size_t k = hash_str(anchor, strlen(anchor)) & ix->mask;
    while (ix->slots[k] && strcmp(ix->slots[k]->anchor, anchor))
        k = (k + 1) & ix->mask;
    return &ix->slots[k];
}

static void row_index_add(struct row_index *ix, struct report_row *row)
{
    if ((ix->used + 1) * 2 > ix->mask) {
        size_t size = ix->mask ? (ix->mask + 1) * 2 : 1024;
        struct row_index bigger = { xcalloc(size, sizeof(*bigger.slots)), size - 1, ix->used };
        for (size_t i = 0; ix->slots && i <= ix->mask; i++)
            if (ix->slots[i])
                *row_slot(&bigger, ix->slots[i]->anchor) = ix->slots[i];
        free(ix->slots);
        *ix = bigger;
    }
    *row_slot(ix, row->anchor) = row;
    ix->used++;
}

/* ----------------------------------------------------------------- gather */

struct gather {
    struct report *r;
    struct report_tenant *t;
    struct mapstore *ms;
    struct row_index index;
    struct interner words;
    struct report_row **all;        /* every row made, in order */
    size_t nall, alloc_all;
    size_t alloc_actions, alloc_days;
    const char *path;               /* the audit trail, for messages */
};

static bool record_is_conversion(const struct map_record *rec)
{
    return rec->decision == DECISION_EXTERNAL_MEMBER || rec->decision == DECISION_EXTERNAL_GUEST ||
           rec->state == MAP_STATE_INVITED || rec->state == MAP_STATE_ACCEPTED ||
           rec->state == MAP_STATE_BLOCKED || rec->state == MAP_STATE_REVERTED;
}

static struct report_row *new_row(struct gather *g, const char *anchor)
{
    struct report_row *row = arena_calloc(&g->r->arena, 1, sizeof(*row));
    row->anchor = anchor;
    row->decision = row->user_type = row->cloud_id = row->object_guid = row->upn = "";
    row->display_name = row->dn = row->rule = row->invitation_id = row->last_error = "";
    row->external_state = "";
    row_index_add(&g->index, row);
    GROW(g->all, g->alloc_all, g->nall + 1);
    g->all[g->nall++] = row;
    return row;
}

static struct report_row *row_of_record(struct gather *g, const struct map_record *rec)
{
    struct report_row *row = new_row(g, rec->anchor);
    row->has_record = true;
    row->state = rec->state;
    row->decision = decision_name(rec->decision);
    row->user_type = map_user_type_name(rec->user_type);
    row->cloud_id = rec->cloud_id;
    row->object_guid = rec->object_guid;
    row->upn = rec->upn;
    row->dn = rec->dn;
    row->rule = rec->rule;
    row->invitation_id = rec->invitation_id;
    row->last_error = rec->last_error;
    row->first_change = rec->first_change;
    row->last_change = rec->last_change;
    return row;
}

/* The fields of one audit entry (audit.h), NULL when absent. */
enum entry_field {
    F_TIME, F_RUN, F_ANCHOR, F_GUID, F_UPN, F_NAME, F_DN, F_CLOUD_ID, F_DECISION, F_RULE,
    F_ACTION, F_UT_BEFORE, F_UT_AFTER, F_ST_BEFORE, F_ST_AFTER, F_OUTCOME, F_REQUEST, F_INVITATION,
    F_ERROR, F_COUNT
};
static const char *const entry_keys[F_COUNT] = {
    "time", "run", "anchor", "objectGUID", "upn", "displayName", "dn", "cloudId", "decision", "rule",
    "action", "userTypeBefore", "userTypeAfter", "stateBefore", "stateAfter", "outcome", "requestId",
    "invitationId", "error",
};

static void entry_fields(const struct audit_field *fields, size_t n, const char *f[F_COUNT])
{
    memset(f, 0, F_COUNT * sizeof(*f));
    /* audit_append writes the keys in this order: try the one after the last
     * match first, so that a line costs about one strcmp per member */
    int hint = 0;
    for (size_t i = 0; i < n; i++) {
        int k = hint;
        for (int tries = 0; tries < F_COUNT; tries++, k = (k + 1) % F_COUNT)
            if (!strcmp(fields[i].key, entry_keys[k]))
                break;
        if (strcmp(fields[i].key, entry_keys[k]))
            continue;   /* a key of a later dualsync: not ours to show */
        f[k] = fields[i].value;
        hint = (k + 1) % F_COUNT;
    }
}

static bool in_period(const struct report_filter *f, int64_t t)
{
    return (!f->has_since || t >= f->since) && (!f->has_until || t <= f->until);
}

static bool state_wanted(const struct report_filter *f, unsigned state)
{
    return !f->states || (f->states & (1u << state));
}

/* Keep s in the row's field if it says something new (the latest value wins). */
static void update(struct gather *g, const char **field, const char *s)
{
    if (s && *s && strcmp(*field, s))
        *field = intern(&g->words, &g->r->arena, s);
}

static void count_action(struct gather *g, const char *action, enum report_outcome o)
{
    struct report_tenant *t = g->t;
    t->outcomes[o]++;
    size_t i = 0;
    while (i < t->nactions && strcmp(t->actions[i].action, action))
        i++;
    if (i == t->nactions) {
        GROW(t->actions, g->alloc_actions, i + 1);
        memset(&t->actions[i], 0, sizeof(t->actions[i]));
        t->actions[i].action = action;
        t->nactions++;
    }
    t->actions[i].count[o]++;
}

static void count_conversion(struct gather *g, int64_t time)
{
    struct report_tenant *t = g->t;
    int64_t day = time / 86400;
    /* the trail is in time order, so this is nearly always the last day */
    if (t->ndays && t->days[t->ndays - 1].day == day) {
        t->days[t->ndays - 1].count++;
        return;
    }
    GROW(t->days, g->alloc_days, t->ndays + 1);
    t->days[t->ndays++] = (struct report_day){ day, 1 };
}

static int on_entry(void *ctx, const struct audit_field *fields, size_t n, size_t line)
{
    struct gather *g = ctx;
    const struct report_filter *flt = &g->r->filter;
    const char *f[F_COUNT];
    entry_fields(fields, n, f);
    int64_t time;
    if (!f[F_TIME] || parse_iso(f[F_TIME], false, &time))
        return log_error("%s:%zu: audit entry without a valid time (UTC as 2026-11-18T11:06:40Z); "
                         "the file was edited or damaged: restore it from a backup",
                         g->path, line);
    bool ours = in_period(flt, time) && (!flt->run_id || (f[F_RUN] && !strcmp(f[F_RUN], flt->run_id)));
    const char *action = f[F_ACTION] ? f[F_ACTION] : "";
    const char *outcome = f[F_OUTCOME] ? f[F_OUTCOME] : "";
    enum report_outcome o = outcome_of(outcome);
    bool converted = !strcmp(action, "convert") && o == REPORT_OUTCOME_DONE;

    if (!f[F_ANCHOR] || !*f[F_ANCHOR]) {
        /* about the tenant, not one object (e.g. Graph refused all invitations) */
        if (ours && !flt->states) {
            g->t->tenant_events++;
            count_action(g, intern(&g->words, &g->r->arena, action), o);
        }
        return 0;
    }
    struct report_row **slot = g->index.slots ? row_slot(&g->index, f[F_ANCHOR]) : NULL;
    struct report_row *row = slot ? *slot : NULL;
    if (!row) {
        const struct map_record *rec = mapstore_find(g->ms, f[F_ANCHOR]);
        if (rec) {
            row = row_of_record(g, rec);
        } else {
            row = new_row(g, arena_strdup(&g->r->arena, f[F_ANCHOR]));
            row->state = REPORT_STATE_UNMAPPED;
        }
    }
    /* what the trail knows and the mapping file does not: the latest wins */
    update(g, &row->display_name, f[F_NAME]);
    update(g, &row->external_state, f[F_ST_AFTER]);
    if (!row->has_record) {
        update(g, &row->upn, f[F_UPN]);
        update(g, &row->dn, f[F_DN]);
        update(g, &row->object_guid, f[F_GUID]);
        update(g, &row->cloud_id, f[F_CLOUD_ID]);
        update(g, &row->decision, f[F_DECISION]);
        update(g, &row->rule, f[F_RULE]);
        update(g, &row->user_type, f[F_UT_AFTER]);
        update(g, &row->invitation_id, f[F_INVITATION]);
        if (!row->first_change)
            row->first_change = time;
        row->last_change = time;
        if (f[F_ERROR] || o == REPORT_OUTCOME_DONE)
            row->last_error = f[F_ERROR] ? intern(&g->words, &g->r->arena, f[F_ERROR]) : "";
    }
    if (converted && !row->converted_at)
        row->converted_at = time;
    if (!ours || !state_wanted(flt, row->state))
        return 0;

    struct arena *a = &g->r->arena;
    struct report_event *ev = arena_alloc(a, sizeof(*ev));
    ev->time = time;
    ev->run = intern(&g->words, a, f[F_RUN]);
    ev->action = intern(&g->words, a, action);
    ev->outcome = intern(&g->words, a, outcome);
    ev->decision = intern(&g->words, a, f[F_DECISION]);
    ev->rule = intern(&g->words, a, f[F_RULE]);
    ev->user_type_before = intern(&g->words, a, f[F_UT_BEFORE]);
    ev->user_type_after = intern(&g->words, a, f[F_UT_AFTER]);
    ev->state_before = intern(&g->words, a, f[F_ST_BEFORE]);
    ev->state_after = intern(&g->words, a, f[F_ST_AFTER]);
    ev->error = intern(&g->words, a, f[F_ERROR]);
    /* unique per entry: copied, not interned */
    ev->request_id = f[F_REQUEST] && *f[F_REQUEST] ? arena_strdup(a, f[F_REQUEST]) : "";
    ev->invitation_id = f[F_INVITATION] && *f[F_INVITATION] ? arena_strdup(a, f[F_INVITATION]) : "";
    ev->next = NULL;
    if (row->history_tail)
        row->history_tail->next = ev;
    else
        row->history = ev;
    row->history_tail = ev;
    row->nevents++;
    row->in_period = true;
    count_action(g, ev->action, o);
    if (converted)
        count_conversion(g, time);
    return 0;
}

/* The reason of a blocked account: its last error up to the remedy, which
 * follows a tab, "; " or a newline (doc/report.md asks the converter to
 * write errors that way, with no account name in the reason). */
static const char *reason_of(struct gather *g, const char *error)
{
    size_t n = strcspn(error, "\t\n");
    const char *semi = strstr(error, "; ");
    if (semi && (size_t)(semi - error) < n)
        n = (size_t)(semi - error);
    while (n && error[n - 1] == ' ')
        n--;
    if (!n)
        return "(no reason recorded)";
    char *tmp = xstrndup(error, n);
    const char *r = intern(&g->words, &g->r->arena, tmp);
    free(tmp);
    return r;
}

static int cmp_reason(const void *a, const void *b)
{
    const struct report_reason *x = a, *y = b;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    return strcmp(x->reason, y->reason);
}

static int cmp_day(const void *a, const void *b)
{
    const struct report_day *x = a, *y = b;
    return (x->day > y->day) - (x->day < y->day);
}

static int cmp_row(const void *a, const void *b)
{
    const struct report_row *x = *(const struct report_row *const *)a;
    const struct report_row *y = *(const struct report_row *const *)b;
    int c = strcasecmp(x->upn, y->upn);
    if (!c)
        c = strcmp(x->upn, y->upn);
    return c ? c : strcmp(x->anchor, y->anchor);
}

/* Choose the rows and work out the figures, once the two files are read. */
static void finish_tenant(struct gather *g)
{
    struct report_tenant *t = g->t;
    const struct report_filter *flt = &g->r->filter;
    bool period = flt->has_since || flt->has_until;
    t->rows = xcalloc(g->nall ? g->nall : 1, sizeof(*t->rows));
    size_t alloc_reasons = 0;
    for (size_t i = 0; i < g->nall; i++) {
        struct report_row *row = g->all[i];
        t->totals[row->state]++;
        if (!state_wanted(flt, row->state))
            continue;
        bool chosen = flt->run_id ? row->in_period
                    : !period || row->in_period ||
                      (!row->nevents && row->last_change && in_period(flt, row->last_change));
        if (!chosen)
            continue;
        t->rows[t->nrows++] = row;
        t->states[row->state]++;
        if (row->state != MAP_STATE_BLOCKED)
            continue;
        const char *reason = reason_of(g, row->last_error);
        size_t k = 0;
        while (k < t->nreasons && t->reasons[k].reason != reason)   /* interned */
            k++;
        if (k == t->nreasons) {
            GROW(t->reasons, alloc_reasons, k + 1);
            t->reasons[t->nreasons++] = (struct report_reason){ reason, 0 };
        }
        t->reasons[k].count++;
    }
    sort_array(t->rows, t->nrows, sizeof(*t->rows), cmp_row);
    if (t->nreasons)
        sort_array(t->reasons, t->nreasons, sizeof(*t->reasons), cmp_reason);
    /* merge the days (the trail is in time order, but a clock step back or
     * two runs' entries interleaved could break runs of one day) */
    if (t->ndays) {
        sort_array(t->days, t->ndays, sizeof(*t->days), cmp_day);
        size_t k = 0;
        for (size_t i = 1; i < t->ndays; i++) {
            if (t->days[i].day == t->days[k].day)
                t->days[k].count += t->days[i].count;
            else
                t->days[++k] = t->days[i];
        }
        t->ndays = k + 1;
    }
}

static int gather_tenant(struct report *r, const struct tenant_config *tc, struct report_tenant *t,
                         struct mapstore **store)
{
    struct arena *a = &r->arena;
    t->name = arena_strdup(a, tc->name);
    t->tenant_id = arena_strdup(a, tc->tenant_id ? tc->tenant_id : "");
    t->cloud = cloud_name(tc->cloud);
    t->mapping_file = arena_strdup(a, tc->mapping_file);
    char *audit = audit_path_for_mapping(tc->mapping_file);
    t->audit_file = arena_strdup(a, audit);
    free(audit);

    /* read-only: no lock, nothing written (see mapstore.h); a tenant that
     * has no mapping file yet has nothing to report from it */
    struct mapstore_tenant who = { tc->name, tc->tenant_id, tc->cloud };
    if (mapstore_open(tc->mapping_file, &who, MAPSTORE_READ_ONLY | MAPSTORE_CREATE, store))
        return log_error("tenant %s: cannot report on it; repair its mapping file, or leave it out "
                         "with --tenant", tc->name);
    struct gather g = { .r = r, .t = t, .ms = *store, .path = t->audit_file };
    size_t pos = 0;
    const struct map_record *rec;
    while ((rec = mapstore_next(*store, &pos)))
        if (record_is_conversion(rec))
            row_of_record(&g, rec);
    int rc = audit_read_fields(t->audit_file, on_entry, &g);
    if (rc == 0)
        finish_tenant(&g);
    else
        log_error("tenant %s: cannot report on it; repair its audit trail, or leave it out with --tenant",
                  tc->name);
    free(g.index.slots);
    free(g.words.slots);
    free(g.all);
    return rc;
}

static int64_t report_now(const struct report_filter *f)
{
    if (f->now)
        return f->now;
    /* reproducible-builds.org: a fixed date makes the output byte-identical */
    const char *sde = getenv("SOURCE_DATE_EPOCH");
    uint64_t v;
    if (sde && !parse_u64(sde, &v) && v <= (uint64_t)ISO_TIME_MAX)
        return (int64_t)v;
    return (int64_t)time(NULL);
}

int report_gather(const struct config *cfg, const struct report_filter *filter, struct report **out)
{
    const struct tenant_config *only = NULL;
    if (filter->tenant) {
        for (size_t i = 0; i < cfg->ntenants && !only; i++)
            if (str_ieq(cfg->tenants[i].name, filter->tenant))
                only = &cfg->tenants[i];
        if (!only) {
            struct strbuf names = STRBUF_INIT;
            for (size_t i = 0; i < cfg->ntenants; i++)
                strbuf_addf(&names, "%s%s", i ? ", " : "", cfg->tenants[i].name);
            log_error("--tenant %s: no [tenant %s] in %s (tenants: %s)", filter->tenant, filter->tenant,
                      cfg->path ? cfg->path : "the configuration", names.len ? names.buf : "none");
            strbuf_release(&names);
            return -1;
        }
    }
    struct report *r = xcalloc(1, sizeof(*r));
    r->filter = *filter;
    if (filter->tenant)
        r->filter.tenant = arena_strdup(&r->arena, only->name);
    if (filter->run_id)
        r->filter.run_id = arena_strdup(&r->arena, filter->run_id);
    r->generated = report_now(filter);
    size_t n = only ? 1 : cfg->ntenants;
    r->tenants = xcalloc(n ? n : 1, sizeof(*r->tenants));
    r->stores = xcalloc(n ? n : 1, sizeof(*r->stores));
    for (size_t i = 0; i < n; i++) {
        const struct tenant_config *tc = only ? only : &cfg->tenants[i];
        r->ntenants = i + 1;
        if (gather_tenant(r, tc, &r->tenants[i], &r->stores[i])) {
            report_free(r);
            return -1;
        }
    }
    *out = r;
    return 0;
}

void report_free(struct report *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->ntenants; i++) {
        struct report_tenant *t = &r->tenants[i];
        free(t->rows);
        free(t->reasons);
        free(t->actions);
        free(t->days);
        mapstore_close(r->stores[i]);
    }
    free(r->tenants);
    free(r->stores);
    arena_release(&r->arena);
    free(r);
}

/* ------------------------------------------------------------------- save */

int report_save(const char *path, const struct strbuf *content)
{
    const char *data = strbuf_str(content);
    if (!path || !strcmp(path, "-")) {
        if (fwrite(data, 1, content->len, stdout) != content->len || fflush(stdout))
            return log_error("cannot write the report to standard output (closed pipe or full disk?)");
        return 0;
    }
    enum platform_path_kind kind;
    if (platform_path_kind(path, &kind))
        return -1;
    if (kind == PLATFORM_PATH_DIR)
        return log_error("-o %s: is a directory; name a file in it", path);
    if (kind == PLATFORM_PATH_OTHER) {
        /* a pipe or a device cannot be replaced, only written into */
        FILE *f = fopen(path, "wb");
        if (!f)
            return log_error("cannot open %s for writing", path);
        size_t n = fwrite(data, 1, content->len, f);
        if (fclose(f) || n != content->len)
            return log_error("cannot write %s", path);
        return 0;
    }
    /* a regular file: a reader (or a crash) sees the old report or the new
     * one, never half of one */
    return platform_write_file_atomic(path, data, content->len);
}

/* ---------------------------------------------------------- run's report */

int report_write_run_html(const char *path, const struct config *cfg, const char *tenant,
                          const char *run_id)
{
    struct report_filter f = { .tenant = tenant, .run_id = run_id };
    struct report *r;
    if (report_gather(cfg, &f, &r))
        return -1;
    struct strbuf out = STRBUF_INIT;
    report_html(r, &out);
    report_free(r);
    int rc = report_save(path, &out);
    strbuf_release(&out);
    return rc;
}
