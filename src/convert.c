/* convert.c - one tenant's plan executed through Graph (convert.h). */
#include "compat.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <strings.h>
#include <time.h>

#include "adobject.h"
#include "audit.h"
#include "b2b_verdict.h"
#include "cli.h"
#include "config.h"
#include "convert.h"
#include "graph.h"
#include "log.h"
#include "mapstore.h"
#include "objset.h"
#include "planner.h"
#include "platform.h"
#include "policy.h"
#include "testhooks.h"
#include "util.h"
#include "world.h"

/* Requests journaled and sent together: one fsync for the intents of a
 * chunk, and enough of them for $batch and several exchanges in flight. */
#define CHUNK 400
/* Rounds of "the answer was lost: read the user, invite if it did not happen".
 * A round costs a read-back of up to replication_wait only for the users
 * still unknown; with 20 % of answers lost (503s and drops together), 8
 * rounds leave one user in half a million unsettled, 4 left one in 600. */
#define MAX_ROUNDS 8

/* The ids of one Graph call, for the audit trail and messages. */
struct ids {
    char rid[48];                      /* the answer's request-id, "" if none came */
    char crid[40];                     /* the client-request-id sent */
};

struct item {
    enum plan_action_kind kind;
    enum decision decision;
    enum user_type want;
    char *anchor;
    size_t obj;                        /* objset index; SIZE_MAX for a vanished record */
    const char *address;               /* the invitation's address (world's), or NULL */
    char rule[160];
    char reason[256];
    const struct graph_user *cloud;    /* found by immutableId, or NULL */
    bool recheck;                      /* a blocked or pending record checked again */
    bool deferred;                     /* blocked, and its cloud user unchanged: not checked */
    struct ids lost;                   /* the invitation whose answer was lost */
    int home;                          /* the configured tenant that is its home, or -1 */
};

struct ctx {
    const struct world *w;
    const struct tenant_config *tc;
    const struct convert_options *o;
    struct convert_result *res;
    struct mapstore *ms;
    struct audit *audit;
    struct graph *g;
    size_t t;                          /* the tenant's index in the config */
    bool g_kept;                       /* g belongs to o->graphs: not closed here */
    struct graph_stats g_base;         /* its counters before this tenant's work */
    int64_t now;
    bool fatal;                        /* a mapping or audit write failed: stop at once */
    char **verified;                   /* the tenant's verified domains */
    bool looked_up;                    /* the items' cloud users are known */
    bool xt_read;                      /* xt holds this run's cross-tenant verdicts */
    struct convert_b2b_pair *xt;       /* per configured tenant as a home of users here */
};

static const char *str_or(const char *s, const char *dflt)
{
    return s && *s ? s : dflt;
}

/* ------------------------------------------------------------ recording */

/* The record as it should be for item it before any outcome: what the
 * mapping file had, with the object's current facts from AD. */
static struct map_record base_record(struct ctx *c, const struct item *it, char guid[37])
{
    struct map_record r;
    const struct map_record *old = mapstore_find(c->ms, it->anchor);
    if (old) {
        r = *old;
    } else {
        memset(&r, 0, sizeof(r));
        r.anchor = it->anchor;
        r.cloud_id = r.object_guid = r.upn = r.rule = r.invitation_id = r.dn = r.last_error = "";
        r.reason = MAP_REASON_NONE;
        r.state = MAP_STATE_PENDING;
        r.first_change = c->now;
    }
    guid[0] = '\0';
    if (it->obj != SIZE_MAX) {
        const struct objset_entry *e = objset_get(c->w->objs, it->obj);
        ad_guid_to_text(e->guid, guid);
        r.object_guid = guid;
        r.dn = e->dn;
        if (e->upn)
            r.upn = e->upn;
        r.decision = it->decision;
        r.rule = it->rule;
    }
    if (it->cloud && it->cloud->id)
        r.cloud_id = it->cloud->id;
    return r;
}

static bool same(const char *a, const char *b)
{
    return !strcmp(a ? a : "", b ? b : "");
}

/* Put r, keeping the old last_change when nothing that matters changed, so
 * that a run with nothing new writes nothing (mapstore_put of an identical
 * record writes no journal line). Returns true if the record changed. */
static bool put(struct ctx *c, struct map_record *r)
{
    const struct map_record *old = mapstore_find(c->ms, r->anchor);
    bool changed = !old || old->state != r->state || old->decision != r->decision
                   || old->user_type != r->user_type || !same(old->cloud_id, r->cloud_id)
                   || !same(old->object_guid, r->object_guid) || !same(old->upn, r->upn)
                   || !same(old->rule, r->rule) || !same(old->invitation_id, r->invitation_id)
                   || !same(old->dn, r->dn) || !same(old->last_error, r->last_error)
                   || old->reason != r->reason;
    r->last_change = changed || !old ? c->now : old->last_change;
    if (mapstore_put(c->ms, r)) {
        c->fatal = true;
        return false;
    }
    return changed;
}

/* The object's displayName for the audit trail (and so the report): AD's,
 * which the world always keeps (as a rule's attribute or an extra one); for
 * an object no longer in AD, the tenant's synced user's, which Connect copied
 * from AD. NULL when neither is known (a vanished object never synced). */
static const char *display_name(const struct ctx *c, const struct item *it)
{
    const char *ad = it->obj != SIZE_MAX ? world_first_value(c->w, it->obj, "displayName") : NULL;
    if (ad)
        return ad;
    return it->cloud ? str_or(it->cloud->display_name, NULL) : NULL;
}

static struct ids ids_of(const struct graph_request *q)
{
    struct ids ids;
    snprintf(ids.rid, sizeof(ids.rid), "%s", q->request_id);
    snprintf(ids.crid, sizeof(ids.crid), "%s", q->client_request_id);
    return ids;
}

static void audit(struct ctx *c, const struct item *it, const struct map_record *r, const char *action,
                  const char *outcome, const char *user_type_before, const struct ids *ids,
                  const char *error)
{
    if (!c->audit || c->fatal)
        return;
    struct audit_entry e = {
        .run_id = c->o->run_id,
        .tenant = c->tc->name,
        .cloud = cloud_name(c->tc->cloud),
        .anchor = it->anchor,
        .object_guid = r ? r->object_guid : NULL,
        .upn = r ? r->upn : NULL,
        .display_name = display_name(c, it),
        .dn = r ? r->dn : NULL,
        .cloud_id = r && r->cloud_id && *r->cloud_id ? r->cloud_id : NULL,
        .decision = decision_name(it->decision),
        .rule = r ? r->rule : it->rule,
        .action = action,
        .user_type_before = user_type_before,
        .user_type_after = r ? str_or(map_user_type_name(r->user_type), NULL) : NULL,
        .state_before = it->cloud ? it->cloud->external_user_state : NULL,
        .state_after = r ? map_state_name(r->state) : NULL,
        .outcome = outcome,
        .request_id = ids && ids->rid[0] ? ids->rid : NULL,
        .client_request_id = ids && ids->crid[0] ? ids->crid : NULL,
        .invitation_id = r && r->invitation_id && *r->invitation_id ? r->invitation_id : NULL,
        .error = error,
    };
    if (audit_append(c->audit, &e))
        c->fatal = true;
}

/* The record's state and error with the error's reason (mapstore.h: what
 * dualsync acts on, never the text), put and audited when they changed. */
static void settle(struct ctx *c, const struct item *it, enum map_state st, const char *error,
                   enum map_reason reason, const char *action, const char *outcome)
{
    char guid[37];
    struct map_record r = base_record(c, it, guid);
    r.state = st;
    r.last_error = error;
    r.reason = reason;
    if (put(c, &r))
        audit(c, it, &r, action, outcome, NULL, NULL, error);
}

static enum map_user_type cloud_user_type(const struct graph_user *u)
{
    if (u && u->user_type && !strcmp(u->user_type, "Guest"))
        return MAP_USER_TYPE_GUEST;
    if (u && u->user_type && !strcmp(u->user_type, "Member"))
        return MAP_USER_TYPE_MEMBER;
    return MAP_USER_TYPE_NONE;
}

/* ------------------------------------------------------------ Graph calls */

struct batch {
    struct ctx *c;
    struct item **items;
    struct graph_request *reqs;
    size_t n;
    struct item **again;               /* lost answers, to read back */
    size_t nagain;
    struct item **patch;               /* userType to set after the invitation */
    size_t *npatch;
};

static bool is_external_state(const char *s)
{
    return s && (!strcmp(s, "PendingAcceptance") || !strcmp(s, "Accepted"));
}

/* Into patch when its decision asks for another userType than it has now. */
static void wants_patch(struct item *it, enum map_user_type now, struct item **patch, size_t *npatch)
{
    if (it->want != USER_TYPE_NONE && planner_map_user_type(it->want) != now)
        patch[(*npatch)++] = it;
}

/* The user is external in Graph already: record what Graph says. */
static void record_external(struct ctx *c, struct item *it, const char *ext_state,
                            enum map_user_type ut, const char *invitation_id, const struct ids *ids,
                            const char *action)
{
    char guid[37];
    struct map_record r = base_record(c, it, guid);
    r.state = ext_state && !strcmp(ext_state, "Accepted") ? MAP_STATE_ACCEPTED : MAP_STATE_INVITED;
    r.user_type = ut;
    r.last_error = "";
    r.reason = MAP_REASON_NONE;
    if (invitation_id)
        r.invitation_id = invitation_id;
    const char *before = map_user_type_name(ut);
    if (put(c, &r))
        audit(c, it, &r, action, "done", str_or(before, NULL), ids, NULL);
}

/* A refusal of a write about it (invitation, userType, revert): recorded
 * with Graph's code and message, the remedy and the request ids; counted
 * blocked or failed. A refusal that concerns the whole tenant was already
 * turned into a stop by the Graph client (graph.h): only the record of it
 * is written here. A blocked userType change leaves the user invited or
 * accepted, with the reason MAP_REASON_USER_TYPE_BLOCKED (planner.h); its
 * message starts PLAN_USER_TYPE_BLOCKED, for people. */
static void refused(struct ctx *c, struct item *it, const struct graph_request *q, const char *what,
                    const char *action)
{
    char guid[37];
    struct map_record r = base_record(c, it, guid);
    char msg[1200], remedy[400];
    bool blocked = false;
    bool user_type = !strcmp(action, "set-usertype");
    struct ids ids = ids_of(q);
    if (q->http_status == 0 && q->status != GRAPH_FAILED) {
        /* never sent: the tenant was stopped before it */
        snprintf(msg, sizeof(msg), "%s not sent: %s", what, str_or(q->error, "the tenant was stopped"));
    } else {
        if (user_type)
            convert_user_type_refusal(q->http_status, q->error_code, q->error,
                                      q->status == GRAPH_TENANT_STOPPED || q->status == GRAPH_INVITES_BLOCKED,
                                      c->tc->name, &blocked, remedy, sizeof(remedy));
        else
            convert_refusal(q->http_status, q->error_code, q->error, c->tc->name, &blocked, remedy,
                            sizeof(remedy));
        /* Graph's own message, then the ids once; without an answer the
         * client's error text already names both ids (graph.h) */
        char tail[160] = "";
        if (q->error_message || !q->error)
            snprintf(tail, sizeof(tail), " (request-id %s, client-request-id %s)", str_or(ids.rid, "none"),
                     str_or(ids.crid, "none"));
        snprintf(msg, sizeof(msg), "%s%s refused (%d%s%s): %s; %s%s",
                 blocked && user_type ? PLAN_USER_TYPE_BLOCKED : "", what, q->http_status,
                 q->error_code ? " " : "", q->error_code ? q->error_code : "",
                 q->error_message ? q->error_message : str_or(q->error, "no message"), remedy, tail);
    }
    if (!strcmp(action, "convert"))
        r.state = blocked ? MAP_STATE_BLOCKED : MAP_STATE_PENDING;
    else if (blocked && r.state != MAP_STATE_INVITED && r.state != MAP_STATE_ACCEPTED)
        r.state = MAP_STATE_BLOCKED;
    r.last_error = msg;
    r.reason = blocked && user_type ? MAP_REASON_USER_TYPE_BLOCKED : MAP_REASON_NONE;
    put(c, &r);
    audit(c, it, &r, action, blocked ? "blocked" : "failed", NULL, &ids, msg);
    if (blocked)
        c->res->blocked++;
    else
        c->res->failed++;
}

static void on_invite(void *vctx, size_t i, struct graph_request *q)
{
    struct batch *b = vctx;
    struct ctx *c = b->c;
    struct item *it = b->items[i];
    if (c->fatal)
        return;
    c->res->graph_requests++;
    enum map_user_type ut = cloud_user_type(it->cloud);
    if (q->status == GRAPH_OK) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(q->answer, "id");
        struct ids ids = ids_of(q);
        record_external(c, it, "PendingAcceptance", ut, cJSON_IsString(id) ? id->valuestring : "",
                        &ids, "convert");
        c->res->invited++;
        wants_patch(it, ut, b->patch, b->npatch);
        return;
    }
    if (q->status == GRAPH_UNCERTAIN) {
        /* it may have happened: read the user back before anything else,
         * and keep the ids of the call whose answer was lost (Microsoft
         * support can find it by its client-request-id only) */
        it->lost = ids_of(q);
        b->again[b->nagain++] = it;
        return;
    }
    refused(c, it, q, "invitation", "convert");
}

/* Run reqs (n of them, for items) after their intents are on disk. */
static enum graph_status run_chunk(struct ctx *c, struct batch *b, const char *op)
{
    struct map_intent *in = xcalloc(b->n, sizeof(*in));
    for (size_t i = 0; i < b->n; i++) {
        in[i].anchor = b->items[i]->anchor;
        in[i].op = op;
        in[i].arg = !strcmp(op, "set-user-type") ? user_type_name(b->items[i]->want)
                                                  : b->items[i]->cloud->id;
    }
    /* order is important: the intents reach the disk before the first
     * request leaves, so that a crash in between is never a blind retry */
    int rc = mapstore_intents(c->ms, in, b->n);
    free(in);
    if (rc) {
        c->fatal = true;
        return GRAPH_TENANT_STOPPED;
    }
    return GRAPH_OK;
}

/* Read each user of list back (externalUserState, userType) after its
 * invitation's answer was lost. Invited → recorded as external, from what
 * the read shows, with the lost call's ids, and into *patch when userType
 * must still change; unknown (the read failed) → failed, the intent left
 * open for the next run. Not (yet) invited → read again with back-off until
 * replication_wait has passed: Entra ID is eventually consistent, and a
 * replica may not show an invitation that happened (current-limitations,
 * "Designing for eventual consistency"); only then into *retry, to invite
 * again. */
static void read_back(struct ctx *c, struct item **list, size_t n, struct item **retry, size_t *nretry,
                      struct item **patch, size_t *npatch)
{
    struct item **left = xcalloc(n ? n : 1, sizeof(*left));
    memcpy(left, list, n * sizeof(*left));
    double t0 = platform_monotonic(), wait = 0.25;
    double window = c->tc->replication_wait;
    for (int round = 0; n && !c->fatal && graph_stopped(c->g, NULL) == GRAPH_OK; round++) {
        struct graph_request *reqs = xcalloc(n, sizeof(*reqs));
        for (size_t i = 0; i < n; i++) {
            char *url = xasprintf("/users/%s?$select=id,userType,externalUserState", left[i]->cloud->id);
            graph_req_get(&reqs[i], url);
            free(url);
        }
        graph_run(c->g, reqs, n, NULL, NULL);
        size_t m = 0;
        for (size_t i = 0; i < n && !c->fatal; i++) {
            struct item *it = left[i];
            c->res->graph_requests++;
            if (reqs[i].status != GRAPH_OK) {
                c->res->failed++;
                log_warn("tenant %s: %s: the invitation's answer was lost (client-request-id %s) and "
                         "the user could not be read back (%s); the next run settles it", c->tc->name,
                         it->anchor, str_or(it->lost.crid, "none"),
                         str_or(reqs[i].error, graph_status_name(reqs[i].status)));
                continue;
            }
            const cJSON *st = cJSON_GetObjectItemCaseSensitive(reqs[i].answer, "externalUserState");
            const cJSON *ty = cJSON_GetObjectItemCaseSensitive(reqs[i].answer, "userType");
            if (cJSON_IsString(st) && is_external_state(st->valuestring)) {
                struct graph_user now = { 0 };
                now.user_type = cJSON_IsString(ty) ? ty->valuestring : NULL;
                enum map_user_type ut = cloud_user_type(&now);
                /* the invitation id is in the lost answer only: Graph has no
                 * read of an invitation; the audit keeps the call's ids */
                record_external(c, it, st->valuestring, ut, NULL, &it->lost, "convert");
                c->res->invited++;
                wants_patch(it, ut, patch, npatch);
            } else {
                left[m++] = it;
            }
        }
        for (size_t i = 0; i < n; i++)
            graph_request_release(&reqs[i]);
        free(reqs);
        n = m;
        double spent = platform_monotonic() - t0;
        if (!n || spent >= window)
            break;
        if (round == 0)
            log_info("tenant %s: %zu invitation%s whose answer was lost not visible yet; reading "
                     "again for up to %.0f s (replication_wait)", c->tc->name, n, n == 1 ? "" : "s",
                     window);
        if (wait > window - spent)
            wait = window - spent;
        platform_sleep(wait);
        wait *= 2;
    }
    /* those the service never carried out, as far as the replicas can tell */
    memcpy(retry + *nretry, left, n * sizeof(*left));
    *nretry += n;
    free(left);
}

static void invite_all(struct ctx *c, struct item **todo, size_t n, struct item **patch, size_t *npatch)
{
    const struct tenant_config *tc = c->tc;
    struct item **again = xcalloc(n ? n : 1, sizeof(*again));
    struct item **retry = xcalloc(n ? n : 1, sizeof(*retry));
    /* after a stop, lost answers are not sent again: the next run reads them back */
    for (int round = 0; n && round < MAX_ROUNDS && !c->fatal
                        && (round == 0 || graph_stopped(c->g, NULL) == GRAPH_OK); round++) {
        size_t nagain = 0;
        for (size_t off = 0; off < n && !c->fatal; off += CHUNK) {
            size_t k = n - off < CHUNK ? n - off : CHUNK;
            struct batch b = { c, todo + off, xcalloc(k, sizeof(struct graph_request)), k,
                               again, nagain, patch, npatch };
            /* every item needs a record before its intent (mapstore.h) */
            for (size_t i = 0; i < k && !c->fatal; i++) {
                char guid[37];
                struct map_record r = base_record(c, b.items[i], guid);
                if (r.state != MAP_STATE_PENDING) {
                    r.last_error = "";
                    r.reason = MAP_REASON_NONE;
                }
                r.state = MAP_STATE_PENDING;
                put(c, &r);
            }
            if (!c->fatal && run_chunk(c, &b, "invite") == GRAPH_OK) {
                for (size_t i = 0; i < k; i++) {
                    struct graph_invitation inv = {
                        .user_id = b.items[i]->cloud->id,
                        .email = b.items[i]->cloud->mail,
                        .redirect_url = tc->redirect_url,
                        .send_message = tc->send_invitation_message,
                    };
                    graph_req_invite(&b.reqs[i], &inv);
                }
                graph_run(c->g, b.reqs, k, on_invite, &b);
                nagain = b.nagain;
            }
            for (size_t i = 0; i < k; i++)
                graph_request_release(&b.reqs[i]);
            free(b.reqs);
            if (graph_stopped(c->g, NULL) != GRAPH_OK) {
                /* the chunks not started: not sent, left for the next run */
                c->res->failed += n - (off + k);
                break;
            }
        }
        size_t nretry = 0;
        if (nagain && !c->fatal && graph_stopped(c->g, NULL) == GRAPH_OK)
            read_back(c, again, nagain, retry, &nretry, patch, npatch);
        else if (nagain)
            c->res->failed += nagain;   /* stopped: the next run reads them back */
        /* those the service never carried out: invite them again */
        memcpy(todo, retry, nretry * sizeof(*todo));
        n = nretry;
    }
    bool stopped = graph_stopped(c->g, NULL) != GRAPH_OK;
    for (size_t i = 0; i < n; i++) {
        c->res->failed++;
        if (!stopped)
            log_warn("tenant %s: %s: the invitation's outcome stayed unknown after %d rounds; the "
                     "next run settles it", tc->name, todo[i]->anchor, MAX_ROUNDS);
    }
    if (stopped && n)
        log_warn("tenant %s: %zu invitations not sent again after a lost answer: the tenant "
                 "stopped; the next run reads them back first", tc->name, n);
    free(again);
    free(retry);
}

struct simple_batch {
    struct ctx *c;
    struct item **items;
    const char *action;
};

static void on_patch(void *vctx, size_t i, struct graph_request *q)
{
    struct simple_batch *b = vctx;
    struct ctx *c = b->c;
    struct item *it = b->items[i];
    if (c->fatal)
        return;
    c->res->graph_requests++;
    char guid[37];
    struct map_record r = base_record(c, it, guid);
    const char *before = map_user_type_name(r.user_type);
    if (q->status == GRAPH_OK) {
        r.user_type = planner_map_user_type(it->want);
        r.last_error = "";
        r.reason = MAP_REASON_NONE;
        put(c, &r);
        struct ids ids = ids_of(q);
        audit(c, it, &r, b->action, "done", str_or(before, NULL), &ids, NULL);
        c->res->user_type_set++;
        return;
    }
    char what[40];
    snprintf(what, sizeof(what), "setting userType %s", user_type_name(it->want));
    refused(c, it, q, what, b->action);
}

/* One Graph call per item, in chunks: each chunk's intents are journaled
 * first (run_chunk), then build makes each item's request and done records
 * its outcome. intent names the journal op, action the batch in messages. */
static void run_simple(struct ctx *c, struct item **list, size_t n, const char *intent,
                       const char *action, void (*build)(struct graph_request *, const struct item *),
                       graph_done_fn *done)
{
    for (size_t off = 0; off < n && !c->fatal; off += CHUNK) {
        size_t k = n - off < CHUNK ? n - off : CHUNK;
        struct batch b = { c, list + off, NULL, k, NULL, 0, NULL, NULL };
        if (run_chunk(c, &b, intent) != GRAPH_OK)
            return;
        struct graph_request *reqs = xcalloc(k, sizeof(*reqs));
        for (size_t i = 0; i < k; i++)
            build(&reqs[i], list[off + i]);
        struct simple_batch sb = { c, list + off, action };
        graph_run(c->g, reqs, k, done, &sb);
        for (size_t i = 0; i < k; i++)
            graph_request_release(&reqs[i]);
        free(reqs);
        if (graph_stopped(c->g, NULL) != GRAPH_OK)
            return;
    }
}

static void build_patch(struct graph_request *r, const struct item *it)
{
    graph_req_set_user_type(r, it->cloud->id, user_type_name(it->want));
}

static void on_revert(void *vctx, size_t i, struct graph_request *q)
{
    struct simple_batch *b = vctx;
    struct ctx *c = b->c;
    struct item *it = b->items[i];
    if (c->fatal)
        return;
    c->res->graph_requests++;
    char guid[37];
    struct map_record r = base_record(c, it, guid);
    if (q->status == GRAPH_OK) {
        r.state = MAP_STATE_REVERTED;
        r.last_error = "";
        r.reason = MAP_REASON_NONE;
        put(c, &r);
        struct ids ids = ids_of(q);
        audit(c, it, &r, "revert", "done", NULL, &ids, NULL);
        c->res->reverted++;
        return;
    }
    if (q->status == GRAPH_UNCERTAIN) {
        /* left open: the next run reads externalUserState and settles it */
        log_warn("tenant %s: %s: the revert's answer was lost (client-request-id %s); the next run "
                 "reads the user and settles it", c->tc->name, it->anchor, q->client_request_id);
        c->res->failed++;
        return;
    }
    refused(c, it, q, "revert", "revert");
}

static void build_revert(struct graph_request *r, const struct item *it)
{
    graph_req_convert_to_internal(r, it->cloud->id);
}

/* ------------------------------------------------------------ the tenant */

void convert_graph_params(const struct tenant_config *tc, struct graph_params *p)
{
    memset(p, 0, sizeof(*p));
    p->name = tc->name;
    p->cloud = tc->cloud;
    p->tenant_id = tc->tenant_id;
    p->client_id = tc->client_id;
    p->secret_file = tc->credential == CREDENTIAL_SECRET ? tc->client_secret_file : NULL;
    p->cert_file = tc->credential == CREDENTIAL_CERTIFICATE ? tc->client_cert_file : NULL;
    p->key_file = tc->credential == CREDENTIAL_CERTIFICATE ? tc->client_key_file : NULL;
    p->cert_thumbprint = tc->credential == CREDENTIAL_STORE ? tc->cert_thumbprint : NULL;
    p->store_machine = !tc->cert_store_user;
    p->max_wait = tc->max_retry_wait;
    p->timeout = tc->timeout;
    p->invitations_per_minute = tc->invitations_per_minute > 0 ? tc->invitations_per_minute : -1;
    p->proxy = tc->proxy;
    /* test hooks (testhooks.h; tests/graphsim): the simulator's CA and
     * address, and its time scale (it runs the throttling windows faster) */
    p->ca_file = tc->ca_file ? tc->ca_file : testhook(TESTHOOK_GRAPH_CA_FILE);
    p->connect_to = testhook(TESTHOOK_GRAPH_CONNECT_TO);
    const char *scale = testhook(TESTHOOK_GRAPH_TIME_SCALE);
    if (scale && atof(scale) > 0) {
        p->ru_window = 10 * atof(scale);
        p->write_window = 150 * atof(scale);
        p->invitation_window = 60 * atof(scale);
        p->backoff_base = 0.5 * atof(scale) > 0.01 ? 0.5 * atof(scale) : 0.01;
    }
}

bool convert_credentials_here(const struct tenant_config *tc, char *why, size_t size)
{
    const char *files[2] = { NULL, NULL }, *keys[2] = { "client_secret_file", "client_key_file" };
    if (tc->credential == CREDENTIAL_SECRET)
        files[0] = tc->client_secret_file;
    if (tc->credential == CREDENTIAL_CERTIFICATE) {
        files[0] = tc->client_cert_file;
        files[1] = tc->client_key_file;
        keys[0] = "client_cert_file";
    }
    for (int i = 0; i < 2; i++) {
        struct platform_file_id id;
        if (files[i] && platform_file_identity(files[i], &id) != 0) {
            snprintf(why, size, "its %s %s is not on this host", keys[i], files[i]);
            return false;
        }
    }
    return true;
}

static int open_graph(struct ctx *c)
{
    struct graph **kept = c->o->graphs ? &c->o->graphs[c->t] : NULL;
    if (kept && *kept) {
        c->g = *kept;
    } else {
        struct graph_params p;
        convert_graph_params(c->tc, &p);
        /* the tenant's first run: nobody was ever invited into it by us,
         * so the invitations start slowly (graph_params.first_run) */
        p.first_run = true;
        size_t pos = 0;
        const struct map_record *r;
        while (p.first_run && c->ms && (r = mapstore_next(c->ms, &pos)))
            if (r->state == MAP_STATE_INVITED || r->state == MAP_STATE_ACCEPTED)
                p.first_run = false;
        if (graph_open(&p, &c->g))
            return -1;
        if (kept)
            *kept = c->g;
    }
    c->g_kept = kept != NULL;
    graph_get_stats(c->g, &c->g_base);
    return 0;
}

static void stop(struct convert_result *res, const char *fmt, ...) ATTR_PRINTF(2, 3);

static void stop(struct convert_result *res, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->why, sizeof(res->why), fmt, ap);
    va_end(ap);
    if (res->status < CONVERT_STOPPED)
        res->status = CONVERT_STOPPED;
    log_error("%s", res->why);
}

/* Collect the tenant's actions. Returns their array (*n of them). */
static struct item *collect(struct ctx *c, size_t t, size_t *nout)
{
    const struct world *w = c->w;
    struct planner *p = planner_for(c->ms);
    size_t n = 0, alloc = 0;
    struct item *items = NULL;
    size_t count = objset_count(w->objs);
    for (size_t i = 0; i < count; i++) {
        struct policy_subject s;
        struct policy_result res;
        struct plan_action a;
        const char *address;
        char *anchor = world_plan_object(w, p, i, t, &s, &res, &a, &address);
        c->res->planned[a.kind]++;
        if (a.kind == PLAN_NONE) {
            free(anchor);
            continue;
        }
        GROW(items, alloc, n + 1);
        struct item *it = &items[n++];
        memset(it, 0, sizeof(*it));
        it->kind = a.kind;
        it->decision = a.decision;
        it->want = a.user_type;
        it->anchor = anchor;
        it->obj = i;
        it->address = address;
        it->recheck = a.record && (a.record->state == MAP_STATE_BLOCKED
                                   || a.record->state == MAP_STATE_PENDING
                                   || (a.kind == PLAN_SET_USERTYPE && planner_user_type_blocked(a.record)));
        /* its home among the configured tenants, for cross-tenant access */
        it->home = -1;
        for (size_t h = 0; a.kind == PLAN_CONVERT && h < w->cfg->ntenants && it->home < 0; h++)
            if (h != t && policy_is_home(w->pol, &s, h, NULL))
                it->home = (int)h;
        rule_where(w, t, res.rule, it->rule, sizeof(it->rule));
        snprintf(it->reason, sizeof(it->reason), "%s", a.reason);
    }
    c->res->objects = count;
    struct plan_action a;
    while (planner_next_vanished(p, &a)) {
        c->res->planned[a.kind]++;
        GROW(items, alloc, n + 1);
        struct item *it = &items[n++];
        memset(it, 0, sizeof(*it));
        it->kind = a.kind;
        it->decision = a.decision;
        it->anchor = xstrdup(a.record->anchor);
        it->obj = SIZE_MAX;
        it->home = -1;
        snprintf(it->rule, sizeof(it->rule), "%s", a.record->rule);
        snprintf(it->reason, sizeof(it->reason), "%s", a.reason);
    }
    planner_free(p);
    *nout = n;
    return items;
}

static bool needs_graph(const struct item *it, const struct convert_options *o)
{
    return !it->deferred && (it->kind == PLAN_CONVERT || it->kind == PLAN_SET_USERTYPE
                             || (it->kind == PLAN_REVERT && o->allow_revert));
}

static int cmp_strp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_strp_nocase(const void *a, const void *b)
{
    return strcasecmp(*(char *const *)a, *(char *const *)b);
}

/* Blocked records are checked again only when their cloud user changed
 * since the last run: what unblocks one (Connect exporting mail, a rule
 * that stops writing onPremisesUserPrincipalName, the user's first sync)
 * changes the user, and Graph's /users/delta from the link kept in the
 * mapping header lists those users, in requests that follow the changes
 * rather than the population. Marks the others deferred. *new_link: the
 * link to keep once the tenant is done, or NULL (nothing changed: the old
 * one serves; unused for 7 days, Graph lets it expire, and the next round
 * reads every user once). Every blocked record is
 * checked when the tenant has no link yet (one is taken from now), when
 * the link expired (the round was a full one), when delta fails (logged),
 * and with --full (check_all): the remedy for what changes no user, such as
 * a domain verified. */
/* The record of it if it is a blocked one that convert would check again:
 * a blocked conversion, or a userType change refused for this user. */
static const struct map_record *blocked_recheck(struct ctx *c, const struct item *it)
{
    const struct map_record *r = it->recheck && (it->kind == PLAN_CONVERT || it->kind == PLAN_SET_USERTYPE)
                                 ? mapstore_find(c->ms, it->anchor) : NULL;
    if (!r)
        return NULL;
    return (it->kind == PLAN_CONVERT ? r->state == MAP_STATE_BLOCKED : planner_user_type_blocked(r)) ? r : NULL;
}

static void defer_unchanged(struct ctx *c, struct item *items, size_t n, bool check_all,
                            char **new_link)
{
    size_t blocked = 0;
    for (size_t i = 0; i < n; i++)
        blocked += blocked_recheck(c, &items[i]) != NULL;
    const char *link = mapstore_header(c->ms)->delta_link;
    struct graph_users changes = GRAPH_USERS_INIT;
    bool full = true;
    /* watching only what can unblock: the users a run converts do not show */
    enum graph_status st = link[0] ? graph_users_delta(c->g, link, GRAPH_SELECT_BLOCKERS, &changes,
                                                       new_link, &full)
                                   : graph_users_delta_latest(c->g, GRAPH_SELECT_BLOCKERS, new_link);
    if (st != GRAPH_OK) {
        log_warn("tenant %s: the users changed since the last run are unknown (/users/delta: %s): "
                 "checking every blocked user again", c->tc->name, graph_status_name(st));
        graph_users_release(&changes);
        return;
    }
    if (!full && !changes.n) {
        /* nothing changed: the link kept gives the same, and the mapping
         * file stays as it is (a second run right after writes nothing) */
        free(*new_link);
        *new_link = NULL;
    }
    if (check_all || full || !blocked) {
        if (blocked)
            log_verbose("tenant %s: checking all %zu blocked users again%s", c->tc->name, blocked,
                        check_all ? " (--full)" : "");
        graph_users_release(&changes);
        return;
    }
    /* the changed users, by onPremisesImmutableId and by id */
    char **ids = xcalloc(changes.n + 1, sizeof(*ids)), **anchors = xcalloc(changes.n + 1, sizeof(*anchors));
    size_t nids = 0, nanchors = 0;
    for (size_t i = 0; i < changes.n; i++) {
        if (changes.v[i].id)
            ids[nids++] = changes.v[i].id;
        if (changes.v[i].immutable_id)
            anchors[nanchors++] = changes.v[i].immutable_id;
    }
    sort_array(ids, nids, sizeof(*ids), cmp_strp_nocase);
    sort_array(anchors, nanchors, sizeof(*anchors), cmp_strp);
    size_t deferred = 0;
    for (size_t i = 0; i < n; i++) {
        struct item *it = &items[i];
        const struct map_record *r = blocked_recheck(c, it);
        if (!r)
            continue;
        const char *key = it->anchor, *cid = r->cloud_id;
        bool changed = (nanchors && bsearch(&key, anchors, nanchors, sizeof(*anchors), cmp_strp))
                       || (cid && *cid && nids && bsearch(&cid, ids, nids, sizeof(*ids), cmp_strp_nocase));
        if (!changed) {
            it->deferred = true;
            deferred++;
        }
    }
    log_verbose("tenant %s: %zu users changed in Graph since the last run; %zu of %zu blocked users "
                "checked again", c->tc->name, changes.n, blocked - deferred, blocked);
    free(ids);
    free(anchors);
    graph_users_release(&changes);
}

/* Lookup or listing: graph_lookup_pays, or a test's choice
 * (DUALSYNC_TEST_USER_LOOKUP=list|filter). */
static bool use_lookup(size_t lookups, size_t population)
{
    const char *force = testhook(TESTHOOK_USER_LOOKUP);
    if (force && !strcmp(force, "list"))
        return false;
    if (force && !strcmp(force, "filter"))
        return true;
    return graph_lookup_pays(lookups, population);
}

/* The cloud users of the items that need Graph: looked up by immutableId
 * when they are few next to the population (a delta cycle), else the one
 * listing of every synced user. Either way *users holds the same users for
 * those items. */
static enum graph_status find_cloud_users(struct ctx *c, struct item *items, size_t n,
                                          struct graph_users *users)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += needs_graph(&items[i], c->o);
    /* the population: what AD holds, or the mapping file knows, whichever is more */
    size_t population = objset_count(c->w->objs);
    if (mapstore_count(c->ms) > population)
        population = mapstore_count(c->ms);
    if (!use_lookup(k, population))
        return graph_list_synced_users(c->g, users);
    const char **ids = xcalloc(k ? k : 1, sizeof(*ids));
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (needs_graph(&items[i], c->o))
            ids[m++] = items[i].anchor;
    log_verbose("tenant %s: %zu users to look up among about %zu: by onPremisesImmutableId",
                c->tc->name, k, population);
    enum graph_status st = graph_find_users_by_immutable_ids(c->g, ids, m, users);
    free(ids);
    return st;
}

/* ------------------------------------------------------------ cross-tenant access */

/* A policy read through the handle of tenant h: this tenant's own, watch's
 * kept one, or one opened for the read (the home side of a pair: dualsync
 * holds every configured tenant's credentials). NULL with why in unread. */
static bool read_policy(struct ctx *c, size_t h, struct graph_b2b_policy *pol, char *unread, size_t size)
{
    struct graph *g = h == c->t ? c->g : c->o->graphs ? c->o->graphs[h] : NULL, *own = NULL;
    const struct tenant_config *tc = &c->w->cfg->tenants[h];
    memset(pol, 0, sizeof(*pol));      /* released by the caller whatever happens */
    if (!g) {
        struct graph_params p;
        convert_graph_params(tc, &p);
        if (!convert_credentials_here(tc, unread, size))
            return false;
        if (graph_open(&p, &own)) {
            snprintf(unread, size, "its Graph client cannot be set up");
            return false;
        }
        g = own;
    }
    bool ok = graph_b2b_policy(g, pol) == GRAPH_OK;
    const char *why = NULL;
    if (!ok && g != c->g && graph_stopped(g, &why) != GRAPH_OK)
        snprintf(unread, size, "%s", why ? why : "the tenant stopped");
    else if (!ok)
        snprintf(unread, size, "reading the cross-tenant access policy needs Policy.Read.All in tenant %s",
                 tc->name);
    graph_close(own);
    return ok;
}

/* Cross-tenant access for the users to convert here, read on every run that
 * has any (three GETs per side: a stale verdict would block users the
 * settings let in now, or let a block be found only by refused invitations
 * and guests who can never sign in). Both sides of each pair: this tenant
 * inbound, the home tenant outbound (convert_b2b_pair). The verdicts go to
 * the tenant's .b2b file for `plan` (not in a dry run: it writes nothing). */
static void read_cross_tenant(struct ctx *c, const struct item *items, size_t n)
{
    const struct config *cfg = c->w->cfg;
    bool want[CONFIG_MAX_TENANTS] = { false }, any = false;
    /* those to invite, and the records blocked by it before (to let in or
     * to keep with this run's reason); not the others left deferred, so a
     * run with nothing to do reads nothing */
    for (size_t i = 0; i < n; i++)
        if (items[i].kind == PLAN_CONVERT && items[i].home >= 0
            && (!items[i].deferred || planner_cross_tenant_blocked(mapstore_find(c->ms, items[i].anchor))))
            any = want[items[i].home] = true;
    if (!any)
        return;
    struct graph_b2b_policy mine, theirs;
    char mine_unread[200] = "", theirs_unread[200];
    bool mine_ok = read_policy(c, c->t, &mine, mine_unread, sizeof(mine_unread));
    if (graph_stopped(c->g, NULL) != GRAPH_OK) {
        graph_b2b_policy_release(&mine);
        return;
    }
    struct b2b_verdicts v;
    char *path = b2b_verdicts_path(cfg->mappings_dir, c->tc->name);
    if (c->o->dry_run || b2b_verdicts_load(path, c->tc->name, c->tc->tenant_id, &v) < 0)
        memset(&v, 0, sizeof(v));
    if (!v.tenant) {
        v.tenant = xstrdup(c->tc->name);
        v.tenant_id = xstrdup(c->tc->tenant_id);
    }
    v.cloud = c->tc->cloud;
    c->xt = xcalloc(cfg->ntenants, sizeof(*c->xt));
    struct convert_b2b_side self = { c->tc->name, c->tc->tenant_id, c->tc->cloud };
    for (size_t h = 0; h < cfg->ntenants; h++) {
        if (!want[h])
            continue;
        const struct tenant_config *o = &cfg->tenants[h];
        struct convert_b2b_side other = { o->name, o->tenant_id, o->cloud };
        bool ok = read_policy(c, h, &theirs, theirs_unread, sizeof(theirs_unread));
        struct convert_b2b_pair *x = &c->xt[h];
        convert_b2b_pair(mine_ok ? &mine : NULL, mine_unread, ok ? &theirs : NULL, theirs_unread, &self,
                         &other, x);
        if (x->verdict == B2B_BLOCKED)
            log_warn("tenant %s: home tenant %s: cross-tenant access %s: its users are not invited",
                     c->tc->name, o->name, x->why);
        else if (x->verdict == B2B_UNKNOWN)
            log_verbose("tenant %s: home tenant %s: cross-tenant access %s: each invitation tells",
                        c->tc->name, o->name, x->why);
        struct strbuf ids = STRBUF_INIT;
        strbuf_addf(&ids, "%s: %s; %s: %s", c->tc->name, mine_ok && mine.request_ids ? mine.request_ids
                    : "not read", o->name, ok && theirs.request_ids ? theirs.request_ids : "not read");
        struct b2b_pair pr = { (char *)o->name, (char *)o->tenant_id, x->verdict, x->resource_blocks,
                               x->home_blocks, c->now, (char *)"run", ids.buf, x->why };
        b2b_verdicts_set(&v, &pr);
        strbuf_release(&ids);
        graph_b2b_policy_release(&theirs);
    }
    c->xt_read = true;
    if (!c->o->dry_run)
        b2b_verdicts_save(path, &v);   /* plan's view only: a failure is logged, the run goes on */
    free(path);
    b2b_verdicts_release(&v);
    graph_b2b_policy_release(&mine);
}

/* The records blocked by cross-tenant access before and not looked up again
 * (their cloud user did not change): let in now, they are checked again (a
 * policy changes no user, so /users/delta would never list them); still
 * kept out, they get this run's reason (the side to change may differ). */
static void recheck_cross_tenant(struct ctx *c, struct item *items, size_t n)
{
    char msg[1800];
    for (size_t i = 0; c->xt_read && i < n && !c->fatal; i++) {
        struct item *it = &items[i];
        if (!it->deferred || it->home < 0 || !planner_cross_tenant_blocked(mapstore_find(c->ms, it->anchor)))
            continue;
        if (c->xt[it->home].verdict != B2B_BLOCKED) {
            it->deferred = false;
        } else {
            planner_cross_tenant_text(msg, sizeof(msg), c->w->cfg->tenants[it->home].name, c->xt[it->home].why);
            settle(c, it, MAP_STATE_BLOCKED, msg, MAP_REASON_CROSS_TENANT_BLOCKED, "convert", "blocked");
        }
    }
}

/* ------------------------------------------------------------ the phases */

/* The circuit breaker (like Connect's 500-deletes guard, reference §6.3):
 * true when the tenant must not be touched. Rechecks of records already
 * blocked or pending do not count: they were counted when first planned. */
static bool phase_breaker(struct ctx *c, const struct item *items, size_t n)
{
    struct convert_result *res = c->res;
    long limit = c->o->max_changes > 0 ? c->o->max_changes : c->tc->max_changes;
    for (size_t i = 0; i < n; i++)
        if (items[i].kind != PLAN_BLOCKED && !items[i].recheck)
            res->changes++;
    if (res->changes <= (uint64_t)limit)
        return false;
    stop(res, "tenant %s: %llu changes planned (%llu convert, %llu set-usertype, %llu revert, "
         "%llu forget), more than max_changes %ld: nothing was done in this tenant; review them "
         "with 'dualsync plan --tenant %s', then confirm with --max-changes %llu",
         c->tc->name, (unsigned long long)res->changes, (unsigned long long)res->planned[PLAN_CONVERT],
         (unsigned long long)res->planned[PLAN_SET_USERTYPE],
         (unsigned long long)res->planned[PLAN_REVERT], (unsigned long long)res->planned[PLAN_FORGET],
         limit, c->tc->name, (unsigned long long)res->changes);
    return true;
}

/* What needs no Graph: the records of objects gone, what AD already
 * blocks, and reverts not allowed. */
static void phase_settle_local(struct ctx *c, struct item *items, size_t n)
{
    struct convert_result *res = c->res;
    for (size_t i = 0; i < n && !c->fatal; i++) {
        struct item *it = &items[i];
        if (it->kind == PLAN_FORGET) {
            const struct map_record *r = mapstore_find(c->ms, it->anchor);
            if (r && r->state != MAP_STATE_GONE) {
                struct map_record g = *r;
                g.state = MAP_STATE_GONE;
                g.last_change = c->now;
                if (mapstore_put(c->ms, &g))
                    c->fatal = true;
                audit(c, it, &g, "forget", c->o->dry_run ? "dry-run" : "done", NULL, NULL, it->reason);
                res->gone++;
            }
        } else if (it->kind == PLAN_BLOCKED) {
            settle(c, it, MAP_STATE_BLOCKED, it->reason, MAP_REASON_NONE, "convert", "blocked");
            res->blocked++;
        } else if (it->kind == PLAN_REVERT && !c->o->allow_revert) {
            const struct map_record *r = mapstore_find(c->ms, it->anchor);
            log_warn("tenant %s: %s is external here but this is now its home tenant; not reverted: "
                     "run with --allow-revert to make it an internal member again", c->tc->name,
                     str_or(r ? r->upn : NULL, it->anchor));
            res->skipped++;
        }
    }
}

/* The cloud users of the items that need Graph, and the tenant's verified
 * domains. Marks the blocked records whose cloud user did not change as
 * deferred first (defer_unchanged). Returns CONVERT_OK, or CONVERT_STOPPED
 * after saying why; *users is filled only then. */
static enum convert_status phase_look_up(struct ctx *c, struct item *items, size_t n, size_t ndoubt,
                                         struct graph_users *users, char **delta_link)
{
    struct convert_result *res = c->res;
    const struct tenant_config *tc = c->tc;
    bool need_graph = false;
    for (size_t i = 0; i < n; i++)
        need_graph |= needs_graph(&items[i], c->o);
    if (!need_graph && !ndoubt)
        return CONVERT_OK;
    if (open_graph(c)) {
        stop(res, "tenant %s: the Graph client cannot be set up; nothing sent", tc->name);
        return CONVERT_STOPPED;
    }
    defer_unchanged(c, items, n, c->o->check_all, delta_link);
    read_cross_tenant(c, items, n);
    recheck_cross_tenant(c, items, n);
    need_graph = false;
    for (size_t i = 0; i < n; i++) {
        need_graph |= needs_graph(&items[i], c->o);
        res->blocked += items[i].deferred;
    }
    if ((!need_graph && !ndoubt) || graph_stopped(c->g, NULL) != GRAPH_OK)
        return CONVERT_OK;
    enum graph_status gs = find_cloud_users(c, items, n, users);
    if (gs != GRAPH_OK) {
        const char *why = NULL;
        graph_stopped(c->g, &why);
        stop(res, "tenant %s: cannot list its synced users (%s)%s%s; nothing done in this tenant",
             tc->name, graph_status_name(gs), why ? ": " : "", why ? why : "");
        return CONVERT_STOPPED;
    }
    size_t nv = 0;
    if (res->planned[PLAN_CONVERT] && graph_verified_domains(c->g, &c->verified, &nv) != GRAPH_OK) {
        stop(res, "tenant %s: cannot read its verified domains (Domain.Read.All); nothing done "
             "in this tenant", tc->name);
        return CONVERT_STOPPED;
    }
    res->graph_requests += 1 + (c->verified ? 1 : 0);
    c->looked_up = true;
    return CONVERT_OK;
}

/* The work lists of phase_execute. */
struct work {
    struct item **invite, **patch, **revert;
    size_t ninvite, npatch, nrevert;
};

/* Sort one item that needs Graph by what its cloud user says: recorded at
 * once (it is as planned already), blocked, pending, or into w's lists. */
static void triage(struct ctx *c, struct item *it, const struct graph_users *users, struct work *w)
{
    struct convert_result *res = c->res;
    const struct tenant_config *tc = c->tc;
    it->cloud = graph_users_find(users, it->anchor);
    bool in_doubt = mapstore_intent_of(c->ms, it->anchor) != NULL;
    if (in_doubt)
        res->recovered++;
    if (!it->cloud) {
        char msg[300];
        snprintf(msg, sizeof(msg), "not synced to tenant %s yet (no user with "
                 "onPremisesImmutableId %s); the run after Connect's next cycle converts it",
                 tc->name, it->anchor);
        if (it->kind == PLAN_CONVERT) {
            settle(c, it, MAP_STATE_PENDING, msg, MAP_REASON_NONE, "convert", "pending");
            res->pending++;
        } else {
            log_warn("tenant %s: %s", tc->name, msg);
            res->failed++;
        }
        return;
    }
    enum map_user_type ut = cloud_user_type(it->cloud);
    const char *ext = it->cloud->external_user_state;
    if (it->kind == PLAN_CONVERT) {
        if (is_external_state(ext)) {
            /* invited already (by an interrupted run, or by hand): record it */
            record_external(c, it, ext, ut, NULL, NULL, in_doubt ? "recover" : "convert");
            res->recorded++;
            if (it->want != USER_TYPE_NONE && planner_map_user_type(it->want) != ut)
                w->patch[w->npatch++] = it;
            return;
        }
        char why[600];
        struct convert_target t = { tc->name, it->cloud, it->address, tc->invite_address_attribute,
                                    (const char *const *)c->verified };
        if (convert_blocked_why(&t, why, sizeof(why))) {
            settle(c, it, MAP_STATE_BLOCKED, why, MAP_REASON_NONE, "convert", "blocked");
            res->blocked++;
            return;
        }
        w->invite[w->ninvite++] = it;
    } else if (it->kind == PLAN_SET_USERTYPE) {
        if (planner_map_user_type(it->want) == ut) {
            /* as planned already (set by hand, say): recorded, and a refusal
             * of the change recorded before is no longer the user's state */
            char guid[37];
            struct map_record r = base_record(c, it, guid);
            r.user_type = ut;
            r.last_error = "";
            r.reason = MAP_REASON_NONE;
            if (put(c, &r))
                audit(c, it, &r, in_doubt ? "recover" : "set-usertype", "done", NULL, NULL, NULL);
            res->recorded++;
        } else {
            w->patch[w->npatch++] = it;
        }
    } else if (it->kind == PLAN_REVERT) {
        if (!is_external_state(ext)) {
            settle(c, it, MAP_STATE_REVERTED, "", MAP_REASON_NONE, in_doubt ? "recover" : "revert", "done");
            res->recorded++;
        } else {
            w->revert[w->nrevert++] = it;
        }
    }
}

/* Users whose home tenant cross-tenant access keeps out (read_cross_tenant):
 * blocked with what to change and on which side, before any invitation;
 * they leave w's list. A policy that cannot be read leaves the invitations
 * to Graph's answer. */
static void check_b2b(struct ctx *c, struct work *w)
{
    if (!c->xt_read)
        return;
    const struct config *cfg = c->w->cfg;
    char msg[1800];
    size_t k = 0;
    for (size_t i = 0; i < w->ninvite; i++) {
        struct item *it = w->invite[i];
        if (it->home >= 0 && c->xt[it->home].verdict == B2B_BLOCKED) {
            planner_cross_tenant_text(msg, sizeof(msg), cfg->tenants[it->home].name, c->xt[it->home].why);
            settle(c, it, MAP_STATE_BLOCKED, msg, MAP_REASON_CROSS_TENANT_BLOCKED, "convert", "blocked");
            c->res->blocked++;
        } else {
            w->invite[k++] = it;
        }
    }
    w->ninvite = k;
}

/* Invite, then set userType (of those just invited too), then revert. */
static void phase_execute(struct ctx *c, struct item *items, size_t n, const struct graph_users *users)
{
    struct convert_result *res = c->res;
    struct work w = { xcalloc(n + 1, sizeof(struct item *)), xcalloc(n + 1, sizeof(struct item *)),
                      xcalloc(n + 1, sizeof(struct item *)), 0, 0, 0 };
    for (size_t i = 0; i < n && !c->fatal; i++)
        if (needs_graph(&items[i], c->o))
            triage(c, &items[i], users, &w);
    if (!c->fatal)
        check_b2b(c, &w);
    if (c->o->dry_run) {
        res->skipped += w.ninvite + w.npatch + w.nrevert;
        log_info("tenant %s: dry run: would invite %zu, set userType of %zu (after the "
                 "invitations: more), revert %zu", c->tc->name, w.ninvite, w.npatch, w.nrevert);
    } else {
        invite_all(c, w.invite, w.ninvite, w.patch, &w.npatch);
        if (!c->fatal && graph_stopped(c->g, NULL) == GRAPH_OK)
            run_simple(c, w.patch, w.npatch, "set-user-type", "set-usertype", build_patch, on_patch);
        if (!c->fatal && graph_stopped(c->g, NULL) == GRAPH_OK)
            run_simple(c, w.revert, w.nrevert, "revert", "revert", build_revert, on_revert);
    }
    free(w.invite);
    free(w.patch);
    free(w.revert);
}

/* Graph's stop state and figures into the result, the watermark and delta
 * link kept for a tenant not stopped, the commit, and the final status. */
static void phase_finish(struct ctx *c, const char *delta_link)
{
    struct convert_result *res = c->res;
    const struct tenant_config *tc = c->tc;
    const struct convert_options *o = c->o;
    if (c->g && res->status != CONVERT_STOPPED) {
        const char *why = NULL;
        enum graph_status st = graph_stopped(c->g, &why);
        if (st != GRAPH_OK)
            stop(res, "tenant %s: stopped (%s): %s; written before the stop: %llu invitations, "
                 "%llu userType changes, %llu reverts (in the mapping file and audit trail); the "
                 "rest was not sent, the next run does it", tc->name, graph_status_name(st),
                 why ? why : "no reason given", (unsigned long long)res->invited,
                 (unsigned long long)res->user_type_set, (unsigned long long)res->reverted);
    }
    if (c->g) {
        struct graph_stats gst;
        graph_get_stats(c->g, &gst);
        res->graph_requests = gst.requests - c->g_base.requests;
        res->graph_http = gst.http_requests - c->g_base.http_requests;
    }
    /* the watermark says "AD as of here is done": only for a tenant not stopped */
    if (!c->fatal && res->status != CONVERT_STOPPED && o->watermark
        && strcmp(mapstore_header(c->ms)->watermark, o->watermark)
        && mapstore_set_watermark(c->ms, o->watermark))
        c->fatal = true;
    /* and Graph's delta link "the users as of here are checked": likewise */
    if (!c->fatal && res->status != CONVERT_STOPPED && !o->dry_run && delta_link
        && mapstore_set_delta_link(c->ms, delta_link))
        c->fatal = true;
    if (c->fatal) {
        stop(res, "tenant %s: a write of its mapping file or audit trail failed; stopped: the next "
             "run recovers from what reached the disk", tc->name);
        res->status = CONVERT_FATAL;
    } else if (!o->dry_run && mapstore_commit(c->ms)) {
        stop(res, "tenant %s: the mapping file could not be committed; the next run recovers from "
             "its journal", tc->name);
        res->status = CONVERT_FATAL;
    }
    if (res->status == CONVERT_OK && (res->blocked || res->failed || (res->skipped && !o->dry_run)))
        res->status = CONVERT_RECORD;
    if (c->audit && audit_close(c->audit) && res->status < CONVERT_STOPPED) {
        stop(res, "tenant %s: the audit trail could not be closed", tc->name);
        res->status = CONVERT_FATAL;
    }
    c->audit = NULL;
}

enum convert_status convert_tenant(const struct world *w, size_t t, const struct convert_options *o,
                                   struct convert_result *res)
{
    const struct tenant_config *tc = &w->cfg->tenants[t];
    memset(res, 0, sizeof(*res));
    res->tenant = tc->name;
    double t0 = platform_monotonic();
    struct ctx c = { .w = w, .tc = tc, .o = o, .res = res, .t = t, .now = (int64_t)time(NULL) };
    char *delta_link = NULL;   /* Graph's, to keep once the tenant is done */

    struct mapstore_tenant who = { tc->name, tc->tenant_id, tc->cloud };
    unsigned flags = MAPSTORE_CREATE | (o->dry_run ? MAPSTORE_READ_ONLY : 0);
    if (mapstore_open(tc->mapping_file, &who, flags, &c.ms)) {
        stop(res, "tenant %s: its mapping file %s cannot be used; nothing done in this tenant",
             tc->name, tc->mapping_file);
        res->seconds = platform_monotonic() - t0;
        return res->status;
    }
    const struct map_intent *doubt;
    size_t ndoubt = mapstore_in_doubt(c.ms, &doubt);
    if (ndoubt)
        log_info("tenant %s: %zu Graph call%s of an interrupted run may or may not have happened; "
                 "reading the users in Graph instead of calling again", tc->name, ndoubt,
                 ndoubt == 1 ? "" : "s");

    size_t n;
    struct item *items = collect(&c, t, &n);
    struct graph_users users = GRAPH_USERS_INIT;
    if (phase_breaker(&c, items, n))
        goto finish;
    if (!o->dry_run) {
        char *path = xasprintf("%s/%s.audit", w->cfg->mappings_dir, tc->name);
        int rc = audit_open(path, &c.audit);
        free(path);
        if (rc) {
            stop(res, "tenant %s: cannot open its audit trail; nothing done in this tenant", tc->name);
            goto finish;
        }
    }
    phase_settle_local(&c, items, n);
    if (!c.fatal && phase_look_up(&c, items, n, ndoubt, &users, &delta_link) == CONVERT_OK
        && c.looked_up && !c.fatal)
        phase_execute(&c, items, n, &users);
finish:
    phase_finish(&c, delta_link);
    free(delta_link);
    graph_users_release(&users);
    graph_strv_free(c.verified);
    free(c.xt);
    if (!c.g_kept)
        graph_close(c.g);
    mapstore_close(c.ms);
    for (size_t i = 0; i < n; i++)
        free(items[i].anchor);
    free(items);
    res->seconds = platform_monotonic() - t0;
    return res->status;
}

void convert_print_summary(FILE *out, const struct convert_result *res, size_t n, bool dry_run)
{
    fprintf(out, "%s%-12s %7s %7s %7s %7s %7s %7s %7s %7s %7s %8s %s\n", dry_run ? "dry run: " : "",
            "TENANT", "OBJECTS", "INVITED", "RECORD", "TYPE", "REVERT", "GONE", "BLOCKED", "PENDING",
            "FAILED", "REQUESTS", "RESULT");
    for (size_t i = 0; i < n; i++) {
        const struct convert_result *r = &res[i];
        fprintf(out, "%s%-12s %7llu %7llu %7llu %7llu %7llu %7llu %7llu %7llu %7llu %8llu %s\n",
                dry_run ? "         " : "", r->tenant, (unsigned long long)r->objects,
                (unsigned long long)r->invited, (unsigned long long)r->recorded,
                (unsigned long long)r->user_type_set, (unsigned long long)r->reverted,
                (unsigned long long)r->gone, (unsigned long long)r->blocked,
                (unsigned long long)r->pending, (unsigned long long)r->failed,
                (unsigned long long)r->graph_requests,
                r->status == CONVERT_FATAL ? "stopped" : convert_status_name(r->status));
    }
}
