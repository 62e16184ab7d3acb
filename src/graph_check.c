/* graph_check.c - `dualsync check` for one tenant: can we get a token, does
 * it carry the application permissions the job needs, may an app invite
 * guests into this tenant, and is the local clock right. */
#include "compat.h"

#include <ctype.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "graph_p.h"
#include "log.h"

/* Application permissions (the token's "roles"), least privileged first,
 * from each API's Graph page (reference §1.3, §1.7, §2.5). */
#define ANY(...) ((const char *const[]){ __VA_ARGS__, NULL })
static const struct need {
    const char *what;
    bool optional;
    const char *const *any;     /* NULL-terminated, as graph_request.permissions */
} needs[] = {
    { "read users", false,
      ANY("User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All") },
    { "invite (convert to external)", false,
      ANY("User.Invite.All", "User.ReadWrite.All", "Directory.ReadWrite.All") },
    /* the list the userType PATCH itself carries (graph_users.c) */
    { "set userType", false, graph_update_user_permissions },
    { "read the organization", false,
      ANY("Organization.Read.All", "Directory.Read.All", "Organization.ReadWrite.All",
          "Directory.ReadWrite.All") },
    { "read the domains", false,
      ANY("Domain.Read.All", "Directory.Read.All", "Domain.ReadWrite.All", "Directory.ReadWrite.All") },
    { "revert (convert back to internal)", true,
      ANY("User-ConvertToInternal.ReadWrite.All", "User.ReadWrite.All") },
    { "read the guest invitation setting", true,
      ANY("Policy.Read.All", "Policy.ReadWrite.Authorization") },
};
#undef ANY
#define NEED_POLICY (ARRAY_SIZE(needs) - 1)

/* A clock more than this far off is NOT READY. The Graph client dates its
 * assertions on the service's clock (graph_auth.c), but Kerberos to AD
 * tolerates 5 minutes, and the audit trail's times come from this clock. */
#define SKEW_LIMIT 300

static bool need_met(char **roles, const struct need *n)
{
    return roles && !graph_roles_lack(roles, n->any);
}

static char *need_text(const struct need *n)
{
    struct strbuf sb = STRBUF_INIT;
    strbuf_addf(&sb, "%s: ", n->what);
    graph_permissions_text(&sb, n->any);
    return strbuf_detach(&sb);
}

static void strv_push(char ***v, size_t *n, char *s)
{
    *v = xrealloc(*v, (*n + 2) * sizeof(**v));
    (*v)[(*n)++] = s;
    (*v)[*n] = NULL;
}

/* Who may invite guests (authorizationPolicy.allowInvitesFrom): app-only
 * invitations fail when invitations are turned off or limited to admins and
 * guest inviters (invitation-post, "Important"; reference §1.3). */
static void check_invites(struct graph *g, struct graph_check_result *res, bool can_read)
{
    static const char blocked_note[] =
        "; a \"blocked for suspicious activity\" hold cannot be read in advance: it shows as a "
        "403 on the first invitation, which stops the tenant";
    if (!can_read) {
        res->invites_allowed = GRAPH_UNKNOWN;
        res->invites_detail = xasprintf("not checked: reading allowInvitesFrom needs Policy.Read.All%s",
                                        blocked_note);
        return;
    }
    struct graph_request r;
    graph_req_get(&r, "/policies/authorizationPolicy?$select=allowInvitesFrom");
    r.may_be_forbidden = true;
    enum graph_status st = graph_call(g, &r);
    const cJSON *obj = r.answer;
    const cJSON *values = cJSON_GetObjectItemCaseSensitive(obj, "value");
    if (cJSON_IsArray(values)) /* the beta shape: a collection of one */
        obj = cJSON_GetArrayItem(values, 0);
    const cJSON *allow = cJSON_GetObjectItemCaseSensitive(obj, "allowInvitesFrom");
    if (st != GRAPH_OK || !cJSON_IsString(allow)) {
        res->invites_allowed = GRAPH_UNKNOWN;
        res->invites_detail = xasprintf("could not read allowInvitesFrom (%s)%s",
                                        r.error ? r.error : "no such property in the answer", blocked_note);
    } else if (!strcmp(allow->valuestring, "everyone") ||
               !strcmp(allow->valuestring, "adminsGuestInvitersAndAllMembers")) {
        res->invites_allowed = GRAPH_YES;
        res->invites_detail = xasprintf("allowInvitesFrom is %s: an application may invite%s",
                                        allow->valuestring, blocked_note);
    } else {
        res->invites_allowed = GRAPH_NO;
        res->invites_detail = xasprintf(
            "allowInvitesFrom is %s: application invitations are refused; set \"Guest invite "
            "restrictions\" (External collaboration settings) to allow member users or anyone",
            allow->valuestring);
    }
    graph_request_release(&r);
}

int graph_check(struct graph *g, struct graph_check_result *res)
{
    memset(res, 0, sizeof(*res));
    res->invites_allowed = GRAPH_UNKNOWN;
    const char *token = graph_token(g);
    if (!token) {
        res->proxy = graph_proxy_describe(g);
        const char *why;
        graph_stopped(g, &why);
        res->token_error = xstrdup(why ? why : "no token");
        res->have_skew = graph_clock_skew(g, &res->skew_seconds);
        return -1;
    }
    res->token_ok = true;
    res->proxy = graph_proxy_describe(g);
    res->roles = graph_token_roles(token);
    if (!res->roles) {
        /* Graph tokens are meant to be opaque; ours have always been JWTs */
        res->roles = xcalloc(1, sizeof(*res->roles));
        log_warn("tenant %s: the access token is not a JWT: cannot list its permissions", g->name);
    }
    size_t nm = 0, no = 0;
    for (size_t i = 0; i < ARRAY_SIZE(needs); i++)
        if (!need_met(res->roles, &needs[i])) {
            if (needs[i].optional)
                strv_push(&res->missing_optional, &no, need_text(&needs[i]));
            else
                strv_push(&res->missing, &nm, need_text(&needs[i]));
        }
    check_invites(g, res, need_met(res->roles, &needs[NEED_POLICY]));
    res->have_skew = graph_clock_skew(g, &res->skew_seconds);
    res->ok = res->token_ok && !nm && res->invites_allowed != GRAPH_NO &&
              (!res->have_skew || labs(res->skew_seconds) <= SKEW_LIMIT);
    return res->ok ? 0 : -1;
}

/* One B2B setting (crossTenantAccessPolicyB2BSetting): its usersAndGroups. */
static enum graph_tristate b2b_setting(const cJSON *setting, bool *inherits)
{
    *inherits = !cJSON_IsObject(setting);
    if (*inherits)
        return GRAPH_UNKNOWN;
    const cJSON *ug = cJSON_GetObjectItemCaseSensitive(setting, "usersAndGroups");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(ug, "accessType");
    const cJSON *targets = cJSON_GetObjectItemCaseSensitive(ug, "targets");
    bool all = false;
    const cJSON *t;
    cJSON_ArrayForEach(t, targets) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(t, "target");
        all |= cJSON_IsString(v) && !strcmp(v->valuestring, "AllUsers");
    }
    if (!cJSON_IsString(type) || !all)
        return GRAPH_UNKNOWN;      /* some users or groups only */
    return !strcmp(type->valuestring, "allowed") ? GRAPH_YES
           : !strcmp(type->valuestring, "blocked") ? GRAPH_NO : GRAPH_UNKNOWN;
}

/* GET url; its ids are appended to ids as "what C/R" (client-request-id,
 * request-id): the handles Microsoft support traces a read by. */
static enum graph_status get_json(struct graph *g, const char *url, const char *what, struct strbuf *ids,
                                  cJSON **out)
{
    struct graph_request r;
    graph_req_get(&r, url);
    r.may_be_forbidden = true;     /* without Policy.Read.All: unknown, not a stopped tenant */
    enum graph_status st = graph_call(g, &r);
    strbuf_addf(ids, "%s%s %s/%s", ids->len ? ", " : "", what,
                r.client_request_id[0] ? r.client_request_id : "-", r.request_id[0] ? r.request_id : "-");
    *out = st == GRAPH_OK ? r.answer : NULL;
    if (st == GRAPH_OK)
        r.answer = NULL;
    else
        log_verbose("tenant %s: %s", g->name, r.error ? r.error : graph_status_name(st));
    graph_request_release(&r);
    return st;
}

enum graph_status graph_b2b_policy(struct graph *g, struct graph_b2b_policy *out)
{
    memset(out, 0, sizeof(*out));
    out->clouds = xcalloc(1, sizeof(*out->clouds));
    out->default_inbound = out->default_outbound = GRAPH_UNKNOWN;
    cJSON *base = NULL, *def = NULL;
    struct strbuf ids = STRBUF_INIT;
    enum graph_status st = get_json(g, "/policies/crossTenantAccessPolicy", "policy", &ids, &base);
    if (st == GRAPH_OK)
        st = get_json(g, "/policies/crossTenantAccessPolicy/default", "default", &ids, &def);
    if (st != GRAPH_OK) {
        out->request_ids = strbuf_detach(&ids);
        cJSON_Delete(base);
        return st;
    }
    size_t n = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(base, "allowedCloudEndpoints"))
        if (cJSON_IsString(c)) {
            out->clouds = xrealloc(out->clouds, (n + 2) * sizeof(*out->clouds));
            out->clouds[n++] = xstrdup(c->valuestring);
            out->clouds[n] = NULL;
        }
    bool inh;
    out->default_inbound = b2b_setting(cJSON_GetObjectItemCaseSensitive(def, "b2bCollaborationInbound"), &inh);
    out->default_outbound = b2b_setting(cJSON_GetObjectItemCaseSensitive(def, "b2bCollaborationOutbound"), &inh);
    cJSON_Delete(base);
    cJSON_Delete(def);
    cJSON *page = NULL;
    /* a tenant has few partners: one page; a nextLink would be followed by graph_get_pages,
     * but partners is not documented as paged */
    st = get_json(g, "/policies/crossTenantAccessPolicy/partners", "partners", &ids, &page);
    out->request_ids = strbuf_detach(&ids);
    if (st != GRAPH_OK)
        return st;
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(page, "value")) {
        const cJSON *tid = cJSON_GetObjectItemCaseSensitive(e, "tenantId");
        if (!cJSON_IsString(tid))
            continue;
        out->partners = xrealloc(out->partners, (out->npartners + 1) * sizeof(*out->partners));
        struct graph_b2b_partner *p = &out->partners[out->npartners++];
        p->tenant_id = xstrdup(tid->valuestring);
        for (char *q = p->tenant_id; *q; q++)
            *q = (char)tolower((unsigned char)*q);
        p->inbound = b2b_setting(cJSON_GetObjectItemCaseSensitive(e, "b2bCollaborationInbound"),
                                 &p->inherits_inbound);
        p->outbound = b2b_setting(cJSON_GetObjectItemCaseSensitive(e, "b2bCollaborationOutbound"),
                                  &p->inherits_outbound);
    }
    cJSON_Delete(page);
    return GRAPH_OK;
}

void graph_b2b_policy_release(struct graph_b2b_policy *p)
{
    graph_strv_free(p->clouds);
    for (size_t i = 0; i < p->npartners; i++)
        free(p->partners[i].tenant_id);
    free(p->partners);
    free(p->request_ids);
    memset(p, 0, sizeof(*p));
}

static void print_list(FILE *out, const char *label, char **v)
{
    for (char **p = v; p && *p; p++)
        fprintf(out, "  %-14s %s\n", p == v ? label : "", *p);
}

void graph_check_print(FILE *out, const char *tenant, const struct graph_check_result *res)
{
    fprintf(out, "tenant %s:\n", tenant);
    if (res->proxy)
        fprintf(out, "  %-14s %s\n", "proxy", res->proxy);
    if (!res->token_ok) {
        fprintf(out, "  %-14s FAILED: %s\n", "token", res->token_error);
    } else {
        fprintf(out, "  %-14s ok\n", "token");
        struct strbuf sb = STRBUF_INIT;
        for (char **r = res->roles; r && *r; r++)
            strbuf_addf(&sb, "%s%s", r == res->roles ? "" : ", ", *r);
        fprintf(out, "  %-14s %s\n", "permissions", sb.len ? sb.buf : "(none: grant application "
                "permissions and admin consent)");
        strbuf_release(&sb);
        if (res->missing)
            print_list(out, "MISSING", res->missing);
        if (res->missing_optional)
            print_list(out, "optional", res->missing_optional);
        fprintf(out, "  %-14s %s: %s\n", "invitations",
                res->invites_allowed == GRAPH_YES ? "allowed"
                : res->invites_allowed == GRAPH_NO ? "REFUSED" : "unknown",
                res->invites_detail ? res->invites_detail : "");
    }
    if (res->have_skew) {
        long s = res->skew_seconds;
        fprintf(out, "  %-14s %+ld s%s\n", "clock skew", s,
                labs(s) > SKEW_LIMIT ? ": TOO LARGE; dualsync dates its Graph assertions on the "
                                       "service's clock, but Kerberos to AD allows 5 minutes and the "
                                       "audit trail's times would be wrong: set the clock right (NTP)"
                : labs(s) >= 60 ? ": set the clock right (NTP)" : "");
    } else {
        fprintf(out, "  %-14s unknown (no answer from the service)\n", "clock skew");
    }
    for (char **b = res->b2b; b && *b; b++)
        fprintf(out, "  %-14s %s\n", b == res->b2b ? "b2b" : "", *b);
    fprintf(out, "  %-14s %s\n", "result", res->ok && !res->b2b_blocked ? "ok" : "NOT READY");
}

void graph_check_release(struct graph_check_result *res)
{
    free(res->token_error);
    graph_strv_free(res->roles);
    graph_strv_free(res->missing);
    graph_strv_free(res->missing_optional);
    free(res->invites_detail);
    free(res->proxy);
    graph_strv_free(res->b2b);
    memset(res, 0, sizeof(*res));
}
