/* planner.c - decisions × mapping records → actions (planner.h). */
#include "compat.h"

#include <stdarg.h>

#include "planner.h"
#include "util.h"

struct planner {
    const struct map_record **index;        /* by anchor, for bisection */
    bool *claimed;                          /* parallel to index */
    size_t n;
    size_t next;                            /* planner_next_vanished's position */
};

const char *plan_action_name(enum plan_action_kind k)
{
    static const char *const names[PLAN_ACTION_COUNT] = {
        "none", "convert", "set-usertype", "revert", "forget", "blocked",
    };
    return (unsigned)k < PLAN_ACTION_COUNT ? names[k] : "unknown";
}

enum map_user_type planner_map_user_type(enum user_type t)
{
    return t == USER_TYPE_MEMBER ? MAP_USER_TYPE_MEMBER
         : t == USER_TYPE_GUEST ? MAP_USER_TYPE_GUEST : MAP_USER_TYPE_NONE;
}

static int cmp_record(const void *a, const void *b)
{
    const struct map_record *x = *(const struct map_record *const *)a;
    const struct map_record *y = *(const struct map_record *const *)b;
    return strcmp(x->anchor, y->anchor);
}

struct planner *planner_new(const struct map_record *const *records, size_t n)
{
    struct planner *p = xcalloc(1, sizeof(*p));
    p->n = n;
    p->index = xmalloc((n ? n : 1) * sizeof(*p->index));
    p->claimed = xcalloc(n ? n : 1, sizeof(*p->claimed));
    for (size_t i = 0; i < n; i++)
        p->index[i] = records[i];
    sort_array(p->index, n, sizeof(*p->index), cmp_record);
    return p;
}

void planner_free(struct planner *p)
{
    if (!p)
        return;
    free(p->index);
    free(p->claimed);
    free(p);
}

static ptrdiff_t find(const struct planner *p, const char *anchor)
{
    size_t lo = 0, hi = p->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int d = strcmp(anchor, p->index[mid]->anchor);
        if (d == 0)
            return (ptrdiff_t)mid;   /* the store keeps one record per anchor */
        if (d < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return -1;
}

static void set(struct plan_action *a, enum plan_action_kind kind, const char *fmt, ...)
    ATTR_PRINTF(3, 4);

static void set(struct plan_action *a, enum plan_action_kind kind, const char *fmt, ...)
{
    a->kind = kind;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->reason, sizeof(a->reason), fmt, ap);
    va_end(ap);
}

static const char *state(const struct map_record *r)
{
    return map_state_name(r->state);
}

static bool is_external(enum map_state s)
{
    return s == MAP_STATE_PENDING || s == MAP_STATE_INVITED || s == MAP_STATE_ACCEPTED;
}

/* The record's reason, never its message: the message may be reworded, a
 * record must keep its meaning (doc/mapping-format.md, "Reasons") */
bool planner_user_type_blocked(const struct map_record *r)
{
    return r && (r->state == MAP_STATE_INVITED || r->state == MAP_STATE_ACCEPTED)
           && r->reason == MAP_REASON_USER_TYPE_BLOCKED;
}

static void convert(struct plan_action *a, const char *address, const char *fmt, ...)
    ATTR_PRINTF(3, 4);

/* A conversion, unless AD already shows it cannot work. */
static void convert(struct plan_action *a, const char *address, const char *fmt, ...)
{
    if (!address) {
        /* graph-api.md §1.4: the invitation names the external address, and
         * user.mail must hold it already; neither can be made up here */
        set(a, PLAN_BLOCKED, "no invitation address in AD (the tenant's invite_address_attribute "
                             "is not set on the user); set it in AD, Connect syncs it as mail");
        return;
    }
    a->kind = PLAN_CONVERT;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->reason, sizeof(a->reason), fmt, ap);
    va_end(ap);
}

void planner_object(struct planner *p, const char *anchor, enum ad_class cls,
                    enum decision d, const char *address, struct plan_action *a)
{
    memset(a, 0, sizeof(*a));
    a->decision = d;
    ptrdiff_t i = find(p, anchor);
    const struct map_record *r = NULL;
    if (i >= 0) {
        r = p->index[i];
        p->claimed[i] = true;
    }
    a->record = r;
    enum user_type want = decision_user_type(d);

    if (decision_is_external(d)) {
        a->user_type = want;
        if (cls != AD_CLASS_USER) {
            set(a, PLAN_NONE, "only users can become external; this %s stays as Connect syncs it",
                ad_class_name(cls));
            return;
        }
        if (!r) {
            convert(a, address, "external %s here and not converted yet", user_type_name(want));
            return;
        }
        switch (r->state) {
        case MAP_STATE_GONE:
            convert(a, address, "back in AD and in scope after it was gone; external %s here",
                user_type_name(want));
            return;
        case MAP_STATE_PENDING:
            convert(a, address, "a conversion was started but its outcome is not recorded; "
                                 "convert looks the user up before inviting again");
            return;
        case MAP_STATE_BLOCKED:
            convert(a, address, "blocked last time (%s); convert checks again if its cloud user changed",
                *r->last_error ? r->last_error : "no reason recorded");
            return;
        case MAP_STATE_REVERTED:
            convert(a, address, "was converted back to internal and is external %s again; "
                                 "Graph may refuse to convert it a second time (412)",
                user_type_name(want));
            return;
        case MAP_STATE_INVITED:
        case MAP_STATE_ACCEPTED:
        case MAP_STATE_COUNT:
            break;
        }
        if (r->user_type != planner_map_user_type(want)) {
            set(a, PLAN_SET_USERTYPE, "already external (%s) with userType %s; the rule wants %s%s",
                state(r), r->user_type == MAP_USER_TYPE_NONE ? "unknown" : map_user_type_name(r->user_type),
                user_type_name(want), planner_user_type_blocked(r)
                                          ? "; Graph refused it for this user last time (see its last "
                                            "error): convert checks again if its cloud user changed"
                                          : "");
            return;
        }
        set(a, PLAN_NONE, "already external (%s), userType %s", state(r), user_type_name(want));
        return;
    }

    if (d == DECISION_MEMBER) {
        if (r && is_external(r->state)) {
            set(a, PLAN_REVERT, "external here (%s) but this is now its home tenant; "
                                "convert --allow-revert makes it internal again", state(r));
            return;
        }
        if (r && r->state == MAP_STATE_BLOCKED) {
            set(a, PLAN_FORGET, "its conversion was blocked and this is now its home tenant");
            return;
        }
        set(a, PLAN_NONE, r && r->state == MAP_STATE_REVERTED
                              ? "internal member again since its revert"
                              : "home tenant: Connect's internal member stays");
        return;
    }

    /* contact or exclude */
    if (r && (is_external(r->state) || r->state == MAP_STATE_BLOCKED)) {
        set(a, PLAN_FORGET, "the rules %s it here now (it was %s); dualsync stops tracking it "
                            "and leaves the cloud user as it is",
            d == DECISION_CONTACT ? "make a contact of" : "exclude", state(r));
        return;
    }
    if (d == DECISION_CONTACT && cls == AD_CLASS_USER)
        set(a, PLAN_NONE, "the rules make a contact of this user here; dualsync converts users "
                          "to external users only, so nothing is done");
    else
        set(a, PLAN_NONE, d == DECISION_CONTACT ? "a contact: Connect syncs it, nothing to convert"
                                                : "excluded in this tenant");
}

bool planner_next_vanished(struct planner *p, struct plan_action *a)
{
    while (p->next < p->n) {
        size_t i = p->next++;
        const struct map_record *r = p->index[i];
        if (p->claimed[i] || r->state == MAP_STATE_GONE)
            continue;
        memset(a, 0, sizeof(*a));
        a->record = r;
        a->decision = r->decision;
        set(a, PLAN_FORGET, "in the mapping (%s) but no longer read from AD: deleted, moved out "
                            "of scope or filtered; the record becomes gone", state(r));
        return true;
    }
    return false;
}

void planner_cross_tenant_text(char *buf, size_t size, const char *home, const char *why)
{
    snprintf(buf, size, "home tenant %s: cross-tenant access %s", home, why);
}

bool planner_cross_tenant_blocked(const struct map_record *r)
{
    return r && r->state == MAP_STATE_BLOCKED && r->reason == MAP_REASON_CROSS_TENANT_BLOCKED;
}

/* "45 s", "12 min", "3 h", "2 d" */
static void age_text(char *buf, size_t size, int64_t secs)
{
    if (secs < 0)
        secs = 0;
    if (secs < 120)
        snprintf(buf, size, "%lld s", (long long)secs);
    else if (secs < 7200)
        snprintf(buf, size, "%lld min", (long long)(secs / 60));
    else if (secs < 172800)
        snprintf(buf, size, "%lld h", (long long)(secs / 3600));
    else
        snprintf(buf, size, "%lld d", (long long)(secs / 86400));
}

bool planner_cross_tenant(struct plan_action *a, const char *home, const struct b2b_pair *v, int64_t now)
{
    if (a->kind != PLAN_CONVERT || !home)
        return false;
    bool was = planner_cross_tenant_blocked(a->record);
    if (!v) {
        /* never read: nothing made up; a block of a run with no file left says so */
        if (was)
            set(a, PLAN_CONVERT, "blocked last time by cross-tenant access with home tenant %s; no verdict "
                "is recorded now ('dualsync check' reads it); the next run reads it again", home);
        return false;
    }
    char when[ISO_TIME_LEN + 1], age[32];
    iso_time_format(v->read_at, when);
    age_text(age, sizeof(age), now - v->read_at);
    if (v->verdict == B2B_BLOCKED) {
        set(a, PLAN_BLOCKED, "home tenant %s: cross-tenant access blocks B2B collaboration (change %s), as "
            "read by %s at %s (%s ago); the next run reads it again", home,
            v->resource_blocks && v->home_blocks ? "both tenants"
            : v->resource_blocks ? "this tenant" : "the home tenant", v->read_by, when, age);
        return true;
    }
    if (was) {
        set(a, PLAN_CONVERT, "blocked last time by cross-tenant access; now %s with home tenant %s, as read "
            "by %s at %s (%s ago): the next run converts it", b2b_verdict_name(v->verdict), home,
            v->read_by, when, age);
        return true;
    }
    return false;
}
