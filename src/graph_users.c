/* graph_users.c - what dualsync reads from and writes to a tenant: the synced
 * users (one paged listing, or /users/delta), the organization's last sync
 * time, the verified domains; and the requests of a conversion: the
 * invitation, the userType change and the beta revert (reference
 * graph-api.md §1, §2). */
#include "compat.h"

#include <ctype.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "graph_p.h"
#include "log.h"

/* Every property the planner looks at, and nothing more: $select makes the
 * listing cheaper (reference §4: -1 RU) and these are returned only on
 * $select anyway (§2.1). */
#define USER_SELECT "id,userPrincipalName,displayName,mail,userType,externalUserState," \
                    "creationType,onPremisesImmutableId,onPremisesUserPrincipalName,"   \
                    "onPremisesLastSyncDateTime,onPremisesSyncEnabled,accountEnabled,identities"

/* ------------------------------------------------------------------------
 * Writes */

/* A path segment: an object id is a GUID, but never trust that in a URL. */
static void add_segment(struct strbuf *sb, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '@')
            strbuf_addch(sb, (char)c);
        else
            strbuf_addf(sb, "%%%02X", c);
    }
}

static char *user_path(const char *user_id, const char *suffix)
{
    struct strbuf sb = STRBUF_INIT;
    strbuf_addstr(&sb, "/users/");
    add_segment(&sb, user_id);
    strbuf_addstr(&sb, suffix);
    return strbuf_detach(&sb);
}

void graph_req_invite(struct graph_request *r, const struct graph_invitation *inv)
{
    memset(r, 0, sizeof(*r));
    r->method = "POST";
    r->url = xstrdup("/invitations");
    /* not idempotent: a lost answer must be checked (externalUserState)
     * before inviting again, or the user gets two invitations */
    r->idempotent = false;
    /* Entra refuses some invitations for one user only (a directory-role
     * holder, a domain or home tenant refused): that is not the tenant's */
    r->may_be_forbidden = true;
    cJSON *b = cJSON_CreateObject();
    json_add_str(b, "invitedUserEmailAddress", inv->email);
    json_add_str(b, "inviteRedirectUrl", inv->redirect_url);
    cJSON_AddBoolToObject(b, "sendInvitationMessage", inv->send_message);
    if (inv->message_language || inv->message_body) {
        cJSON *m = cJSON_AddObjectToObject(b, "invitedUserMessageInfo");
        if (inv->message_language)
            json_add_str(m, "messageLanguage", inv->message_language);
        if (inv->message_body)
            json_add_str(m, "customizedMessageBody", inv->message_body);
    }
    /* always explicit: without it the service tries to create a new guest
     * and answers "the invited user already exists" (reference §1.1) */
    cJSON *u = cJSON_AddObjectToObject(b, "invitedUser");
    json_add_str(u, "id", inv->user_id);
    r->body = b;
}

const char *const graph_update_user_permissions[] = { "User.ReadUpdate.All", "User.ReadWrite.All",
                                                      "Directory.ReadWrite.All", NULL };

void graph_req_set_user_type(struct graph_request *r, const char *user_id, const char *user_type)
{
    memset(r, 0, sizeof(*r));
    r->method = "PATCH";
    r->url = user_path(user_id, "");
    r->idempotent = true; /* setting a value twice does no harm */
    /* Entra refuses the update of one user the application may not touch
     * (403 for a directory-role holder, Learn user-update: an app-only
     * caller needs a higher administrator role) and of one object it will
     * not update (400): that user's, not the tenant's. The same 403 when
     * the permission is missing altogether stops the tenant (permissions). */
    r->may_be_forbidden = true;
    r->permissions = graph_update_user_permissions;
    r->body = cJSON_CreateObject();
    json_add_str(r->body, "userType", user_type);
}

void graph_req_convert_to_internal(struct graph_request *r, const char *user_id)
{
    memset(r, 0, sizeof(*r));
    r->method = "POST";
    r->url = user_path(user_id, "/convertExternalToInternalMemberUser");
    r->beta = true;
    /* a second call fails "already internal": harmless, but report, not repeat */
    r->idempotent = false;
    /* a synced user's UPN and password stay on-premises: an empty body (§1.7 example 3) */
    r->body = cJSON_CreateObject();
}

/* ------------------------------------------------------------------------
 * Users */

static char *str_prop(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? xstrdup(v->valuestring) : NULL;
}

static void user_parse(const cJSON *o, struct graph_user *u)
{
    memset(u, 0, sizeof(*u));
    u->id = str_prop(o, "id");
    u->user_principal_name = str_prop(o, "userPrincipalName");
    u->display_name = str_prop(o, "displayName");
    u->mail = str_prop(o, "mail");
    u->user_type = str_prop(o, "userType");
    u->external_user_state = str_prop(o, "externalUserState");
    u->creation_type = str_prop(o, "creationType");
    u->immutable_id = str_prop(o, "onPremisesImmutableId");
    u->on_premises_upn = str_prop(o, "onPremisesUserPrincipalName");
    u->on_premises_last_sync = str_prop(o, "onPremisesLastSyncDateTime");
    u->sync_enabled = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "onPremisesSyncEnabled"));
    u->account_enabled = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "accountEnabled"));
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(o, "identities");
    const cJSON *id;
    if (cJSON_IsArray(ids))
        cJSON_ArrayForEach(id, ids) {
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(id, "signInType");
            /* after redemption the user's own IdP shows up as "federated" (§1.5) */
            if (cJSON_IsString(t) && !strcmp(t->valuestring, "federated"))
                u->redeemed = true;
        }
    const cJSON *rm = cJSON_GetObjectItemCaseSensitive(o, "@removed");
    if (rm) {
        u->removed = true;
        const cJSON *reason = cJSON_GetObjectItemCaseSensitive(rm, "reason");
        u->removed_for_good = cJSON_IsString(reason) && !strcmp(reason->valuestring, "deleted");
    }
}

static void user_release(struct graph_user *u)
{
    free(u->id);
    free(u->user_principal_name);
    free(u->display_name);
    free(u->mail);
    free(u->user_type);
    free(u->external_user_state);
    free(u->creation_type);
    free(u->immutable_id);
    free(u->on_premises_upn);
    free(u->on_premises_last_sync);
}

void graph_users_release(struct graph_users *u)
{
    for (size_t i = 0; i < u->n; i++)
        user_release(&u->v[i]);
    free(u->v);
    u->v = NULL;
    u->n = u->alloc = 0;
}

static int cmp_immutable(const char *a, const char *b)
{
    if (!a)
        return b ? -1 : 0;
    if (!b)
        return 1;
    return strcmp(a, b);
}

static int cmp_user(const void *a, const void *b)
{
    return cmp_immutable(((const struct graph_user *)a)->immutable_id,
                         ((const struct graph_user *)b)->immutable_id);
}

const struct graph_user *graph_users_find(const struct graph_users *u, const char *immutable_id)
{
    if (!immutable_id)
        return NULL;
    size_t lo = 0, hi = u->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp_immutable(u->v[mid].immutable_id, immutable_id);
        if (c == 0)
            return &u->v[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

void graph_users_add_page(struct graph_users *out, const cJSON *values)
{
    const cJSON *o;
    cJSON_ArrayForEach(o, values) {
        if (!cJSON_IsObject(o))
            continue;
        GROW(out->v, out->alloc, out->n + 1);
        user_parse(o, &out->v[out->n++]);
    }
}

static int collect_users(void *ctx, cJSON *values)
{
    graph_users_add_page(ctx, values);
    return 0;
}

static void log_page_error(struct graph *g, const char *what, const struct graph_page_error *e)
{
    if (e->message[0])
        log_error("%s", e->message);
    else
        log_error("tenant %s: %s failed", g->name, what);
}

/* Sort by immutableId and warn about duplicates (graph_users_find matches one). */
static void users_index(struct graph *g, struct graph_users *out)
{
    sort_array(out->v, out->n, sizeof(*out->v), cmp_user);
    for (size_t i = 1; i < out->n; i++)
        if (out->v[i].immutable_id && !cmp_immutable(out->v[i - 1].immutable_id, out->v[i].immutable_id))
            log_warn("tenant %s: users %s and %s share onPremisesImmutableId %s; only one is "
                     "matched to AD", g->name, out->v[i - 1].id, out->v[i].id, out->v[i].immutable_id);
}

enum graph_status graph_list_synced_users(struct graph *g, struct graph_users *out)
{
    /* onPremisesSyncEnabled eq true is a default (non-advanced) filter
     * (§2.3); $top=999 is the largest page (§2.4) */
    static const char url[] = "/users?$filter=onPremisesSyncEnabled%20eq%20true&$select=" USER_SELECT
                              "&$top=999";
    struct graph_page_error e;
    int rc = graph_get_pages(g, url, collect_users, out, NULL, &e);
    if (rc != GRAPH_OK) {
        if (rc == GRAPH_FAILED)
            log_page_error(g, "listing the synced users", &e);
        graph_users_release(out);
        return (enum graph_status)rc;
    }
    users_index(g, out);
    log_verbose("tenant %s: %zu synced users", g->name, out->n);
    return GRAPH_OK;
}

/* One OData string literal in a URL: quotes doubled inside (OData), then
 * everything but unreserved characters percent-encoded, so that the + / =
 * of base64 survive (reference §2.2 caveats: + would read as a space). */
static void add_literal(struct strbuf *sb, const char *s)
{
    strbuf_addstr(sb, "%27");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\'')
            strbuf_addstr(sb, "%27%27");
        else if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~')
            strbuf_addch(sb, (char)c);
        else
            strbuf_addf(sb, "%%%02X", c);
    }
    strbuf_addstr(sb, "%27");
}

bool graph_lookup_pays(size_t lookups, size_t population)
{
    /* GETs of GRAPH_IN_MAX ids, 20 to a $batch envelope, against the pages
     * of 999 of the full listing, one after the other (each needs the last
     * one's nextLink): the lookup when it takes no more GETs */
    size_t gets = (lookups + GRAPH_IN_MAX - 1) / GRAPH_IN_MAX;
    size_t pages = population / 999 + 1;
    return gets <= pages;
}

char **graph_immutable_id_urls(const char *const *ids, size_t n, size_t per, size_t *nurls)
{
    if (per < 1)
        per = 1;
    size_t k = (n + per - 1) / per;
    char **urls = xcalloc(k + 1, sizeof(*urls));
    for (size_t u = 0; u < k; u++) {
        struct strbuf sb = STRBUF_INIT;
        if (per == 1) {
            /* one value: the plain eq, for a directory that refuses `in` */
            strbuf_addstr(&sb, "/users?$filter=onPremisesImmutableId%20eq%20");
            add_literal(&sb, ids[u]);
        } else {
            strbuf_addstr(&sb, "/users?$filter=onPremisesImmutableId%20in%20(");
            for (size_t i = u * per; i < n && i < (u + 1) * per; i++) {
                if (i > u * per)
                    strbuf_addch(&sb, ',');
                add_literal(&sb, ids[i]);
            }
            strbuf_addch(&sb, ')');
        }
        strbuf_addstr(&sb, "&$select=" USER_SELECT "&$top=999");
        urls[u] = strbuf_detach(&sb);
    }
    *nurls = k;
    return urls;
}

/* One pass of the lookup, `per` ids to a GET. *refused is set when the
 * service answered 400 to a GET (the filter itself refused): nothing is
 * logged then, for the caller to try single values. */
static enum graph_status lookup_pass(struct graph *g, const char *const *ids, size_t n, size_t per,
                                     struct graph_users *out, size_t *nreq, bool *refused)
{
    size_t k;
    char **urls = graph_immutable_id_urls(ids, n, per, &k);
    struct graph_request *reqs = xcalloc(k ? k : 1, sizeof(*reqs));
    for (size_t i = 0; i < k; i++) {
        graph_req_get(&reqs[i], urls[i]);
        free(urls[i]);
    }
    free(urls);
    *nreq = k;
    *refused = false;
    /* one GET per `per` ids, sent together in $batch envelopes */
    enum graph_status st = k ? graph_run(g, reqs, k, NULL, NULL) : GRAPH_OK;
    for (size_t i = 0; i < k && st == GRAPH_OK; i++) {
        if (reqs[i].status != GRAPH_OK) {
            st = reqs[i].status;
            if (st == GRAPH_FAILED && reqs[i].http_status == 400 && per > 1) {
                *refused = true;
                log_info("tenant %s: the directory refuses a lookup by onPremisesImmutableId in (...) "
                         "(%s); looking each user up alone (eq)", g->name,
                         reqs[i].error ? reqs[i].error : "400");
            } else {
                log_error("tenant %s: looking synced users up by onPremisesImmutableId failed: %s",
                          g->name, reqs[i].error ? reqs[i].error : graph_status_name(st));
            }
            break;
        }
        const cJSON *values = cJSON_GetObjectItemCaseSensitive(reqs[i].answer, "value");
        if (!cJSON_IsArray(values)) {
            log_error("tenant %s: a lookup by onPremisesImmutableId returned no \"value\"", g->name);
            st = GRAPH_FAILED;
            break;
        }
        graph_users_add_page(out, values);
        /* at most `per` users on a page of up to 999: never paged, but follow if so */
        const cJSON *next = cJSON_GetObjectItemCaseSensitive(reqs[i].answer, "@odata.nextLink");
        if (cJSON_IsString(next) && !graph_link_ok(g->graph_host, next->valuestring)) {
            log_error("tenant %s: a lookup's nextLink does not point to https://%s/; refused",
                      g->name, g->graph_host);
            st = GRAPH_FAILED;
        } else if (cJSON_IsString(next)) {
            struct graph_page_error e;
            int rc = graph_get_pages(g, next->valuestring, collect_users, out, NULL, &e);
            if (rc != GRAPH_OK) {
                if (rc == GRAPH_FAILED)
                    log_page_error(g, "looking synced users up", &e);
                st = (enum graph_status)rc;
            }
        }
    }
    for (size_t i = 0; i < k; i++)
        graph_request_release(&reqs[i]);
    free(reqs);
    if (st != GRAPH_OK)
        graph_users_release(out);
    return st;
}

enum graph_status graph_find_users_by_immutable_ids(struct graph *g, const char *const *ids, size_t n,
                                                    struct graph_users *out)
{
    size_t k;
    bool refused;
    enum graph_status st = lookup_pass(g, ids, n, GRAPH_IN_MAX, out, &k, &refused);
    if (refused) {
        /* `in` works wherever eq does (reference §2.3), but a directory
         * that says otherwise still answers eq: one GET per user */
        st = lookup_pass(g, ids, n, 1, out, &k, &refused);
    }
    if (st != GRAPH_OK)
        return st;
    /* the same set as the listing's: synced users only (onPremisesSyncEnabled eq true
     * would be one more filter clause than `in` may use) */
    size_t w = 0;
    for (size_t i = 0; i < out->n; i++) {
        if (out->v[i].sync_enabled)
            out->v[w++] = out->v[i];
        else
            user_release(&out->v[i]);
    }
    out->n = w;
    users_index(g, out);
    log_verbose("tenant %s: %zu of %zu synced users found by onPremisesImmutableId in %zu lookups",
                g->name, out->n, n, k);
    return GRAPH_OK;
}

enum graph_status graph_get_user(struct graph *g, const char *user_id, struct graph_user *out)
{
    memset(out, 0, sizeof(*out));
    char *path = user_path(user_id, "?$select=" USER_SELECT);
    struct graph_request r;
    graph_req_get(&r, path);
    free(path);
    enum graph_status st = graph_call(g, &r);
    if (st == GRAPH_OK && cJSON_IsObject(r.answer))
        user_parse(r.answer, out);
    else if (st == GRAPH_OK)
        st = GRAPH_FAILED;
    else if (st == GRAPH_FAILED && r.error)
        log_verbose("%s", r.error);
    graph_request_release(&r);
    return st;
}

void graph_user_release(struct graph_user *u)
{
    user_release(u);
    memset(u, 0, sizeof(*u));
}

/* The answers that mean "this delta link is no good any more: start over"
 * (learn.microsoft.com/graph/delta-query-overview: 410 Gone; tokens of
 * directory objects expire after 7 days with syncStateNotFound and kin). */
static bool needs_resync(const struct graph_page_error *e)
{
    static const char *const codes[] = {
        "syncStateNotFound", "syncStateInvalid", "resyncRequired", "resyncApplicationRequired",
        "resyncChangesApplyDifferences", "resyncChangesUploadDifferences", "invalidDeltaToken",
        "Request_ExpiredDeltaToken", "Request_InvalidDeltaToken",
    };
    if (e->http_status == 410)
        return true;
    if (e->http_status < 400 || e->http_status >= 500)
        return false;
    for (size_t i = 0; i < ARRAY_SIZE(codes); i++)
        if (!strcasecmp(e->code, codes[i]))
            return true;
    return false;
}

static enum graph_status users_delta(struct graph *g, const char *delta_link, const char *first,
                                     struct graph_users *changes, char **new_link, bool *full)
{
    *new_link = NULL;
    *full = delta_link == NULL;
    if (delta_link && !graph_link_ok(g->graph_host, delta_link)) {
        log_warn("tenant %s: the stored delta link does not point to https://%s/; starting a "
                 "full round", g->name, g->graph_host);
        delta_link = NULL;
        *full = true;
    }
    struct graph_page_error e;
    int rc = graph_get_pages(g, delta_link ? delta_link : first, collect_users, changes, new_link, &e);
    if (rc == GRAPH_FAILED && delta_link && needs_resync(&e)) {
        log_info("tenant %s: the delta link is no longer valid (%d %s); reading all users again",
                 g->name, e.http_status, e.code[0] ? e.code : "Gone");
        graph_users_release(changes);
        *full = true;
        rc = graph_get_pages(g, first, collect_users, changes, new_link, &e);
    }
    if (rc != GRAPH_OK) {
        if (rc == GRAPH_FAILED)
            log_page_error(g, "reading /users/delta", &e);
        graph_users_release(changes);
        free(*new_link);
        *new_link = NULL;
        return (enum graph_status)rc;
    }
    if (!*new_link) {
        graph_users_release(changes);
        log_error("tenant %s: /users/delta ended without an @odata.deltaLink", g->name);
        return GRAPH_FAILED;
    }
    return GRAPH_OK;
}

enum graph_status graph_users_delta(struct graph *g, const char *delta_link, const char *select,
                                    struct graph_users *changes, char **new_link, bool *full)
{
    char *first = xasprintf("/users/delta?$select=%s", select ? select : USER_SELECT);
    enum graph_status st = users_delta(g, delta_link, first, changes, new_link, full);
    free(first);
    return st;
}

enum graph_status graph_users_delta_latest(struct graph *g, const char *select, char **new_link)
{
    /* "sync from now": no users, only the link (reference §2.5) */
    char *latest = xasprintf("/users/delta?$deltatoken=latest&$select=%s", select ? select : USER_SELECT);
    struct graph_users none = GRAPH_USERS_INIT;
    struct graph_page_error e;
    *new_link = NULL;
    int rc = graph_get_pages(g, latest, collect_users, &none, new_link, &e);
    free(latest);
    graph_users_release(&none);
    if (rc == GRAPH_FAILED)
        log_page_error(g, "reading /users/delta?$deltatoken=latest", &e);
    if (rc == GRAPH_OK && !*new_link) {
        log_error("tenant %s: /users/delta?$deltatoken=latest gave no @odata.deltaLink", g->name);
        rc = GRAPH_FAILED;
    }
    if (rc != GRAPH_OK) {
        free(*new_link);
        *new_link = NULL;
    }
    return (enum graph_status)rc;
}

/* ------------------------------------------------------------------------
 * Organization and domains */

/* Graph's Edm.DateTimeOffset comes as UTC with 'Z', with or without a
 * fraction of a second; 0 (unknown) when absent or not in that form. */
static time_t parse_iso8601(const char *s)
{
    int64_t t;
    if (!s || iso_time_parse(s, strlen(s), ISO_TIME_FRACTION, &t))
        return 0;
    return (time_t)t;
}

enum graph_status graph_get_organization(struct graph *g, struct graph_organization *out)
{
    memset(out, 0, sizeof(*out));
    struct graph_request r;
    graph_req_get(&r, "/organization?$select=id,displayName,onPremisesSyncEnabled,onPremisesLastSyncDateTime");
    enum graph_status st = graph_call(g, &r);
    if (st != GRAPH_OK) {
        if (st == GRAPH_FAILED)
            log_error("%s", r.error);
        graph_request_release(&r);
        return st;
    }
    const cJSON *v = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r.answer, "value"), 0);
    if (!cJSON_IsObject(v)) {
        log_error("tenant %s: GET /organization returned no organization", g->name);
        graph_request_release(&r);
        return GRAPH_FAILED;
    }
    out->id = str_prop(v, "id");
    out->display_name = str_prop(v, "displayName");
    out->sync_enabled = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v, "onPremisesSyncEnabled"));
    out->last_sync = str_prop(v, "onPremisesLastSyncDateTime");
    out->last_sync_time = parse_iso8601(out->last_sync);
    graph_request_release(&r);
    return GRAPH_OK;
}

void graph_organization_release(struct graph_organization *o)
{
    free(o->id);
    free(o->display_name);
    free(o->last_sync);
    memset(o, 0, sizeof(*o));
}

struct strv {
    char **v;
    size_t n, alloc;
};

static int collect_domains(void *ctx, cJSON *values)
{
    struct strv *sv = ctx;
    const cJSON *o;
    cJSON_ArrayForEach(o, values) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
        if (!cJSON_IsString(id) || !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "isVerified")))
            continue;
        GROW(sv->v, sv->alloc, sv->n + 2);
        char *d = xstrdup(id->valuestring);
        for (char *p = d; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        sv->v[sv->n++] = d;
        sv->v[sv->n] = NULL;
    }
    return 0;
}

void graph_strv_free(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

enum graph_status graph_verified_domains(struct graph *g, char ***domains, size_t *n)
{
    struct strv sv = { NULL, 0, 0 };
    struct graph_page_error e;
    int rc = graph_get_pages(g, "/domains?$select=id,isVerified", collect_domains, &sv, NULL, &e);
    if (rc != GRAPH_OK) {
        if (rc == GRAPH_FAILED)
            log_page_error(g, "reading the domains", &e);
        if (sv.v)
            sv.v[sv.n] = NULL;
        graph_strv_free(sv.v);
        *domains = NULL;
        *n = 0;
        return (enum graph_status)rc;
    }
    if (!sv.v)
        sv.v = xcalloc(1, sizeof(*sv.v));
    *domains = sv.v;
    *n = sv.n;
    return GRAPH_OK;
}
