/* convert_check.c - what Graph would say about one conversion, decided
 * without Graph (convert.h): the preconditions of reference graph-api.md
 * §1.4 and the scope of a refusal. Pure: no I/O, no allocation. */
#include "compat.h"

#include <strings.h>

#include "convert.h"
#include "graph.h"

static bool contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; hay && *hay; hay++)
        if (!strncasecmp(hay, needle, n))
            return true;
    return false;
}

bool convert_domain_verified(const char *const *verified, const char *mail)
{
    const char *at = mail ? strrchr(mail, '@') : NULL;
    if (!at || !verified)
        return false;
    const char *dom = at + 1;
    size_t n = strlen(dom);
    for (const char *const *d = verified; *d; d++) {
        size_t m = strlen(*d);
        /* subdomains of a verified domain count as verified too (§1.4) */
        if (!strcasecmp(dom, *d) || (n > m && dom[n - m - 1] == '.' && !strcasecmp(dom + n - m, *d)))
            return true;
    }
    return false;
}

const char *convert_blocked_why(const struct convert_target *t, char *buf, size_t size)
{
    const struct graph_user *u = t->cloud;
    if (u->on_premises_upn) {
        /* reference §1.4, §6.6: Graph refuses the conversion of such a user */
        snprintf(buf, size, "onPremisesUserPrincipalName is set (%s); change the Connect rule of "
                 "tenant %s that writes it: scripts/New-DualsyncConnectRule.ps1 on its Connect "
                 "server, then a full sync (check --connect-config names the rules; "
                 "doc/deployment.md)", u->on_premises_upn, t->tenant);
        return buf;
    }
    if (!u->mail) {
        snprintf(buf, size, "the cloud user has no mail; set mail in AD to the invitation address "
                 "(%s), Connect syncs it", t->address ? t->address : "none");
        return buf;
    }
    if (convert_domain_verified(t->verified, u->mail)) {
        snprintf(buf, size, "mail %s is in a verified domain of tenant %s; Graph refuses to make "
                 "it external: give the user an address of its home tenant", u->mail, t->tenant);
        return buf;
    }
    if (!t->address || strcasecmp(u->mail, t->address)) {
        snprintf(buf, size, "the invitation address %s (%s) differs from the cloud user's mail %s; "
                 "make them equal in AD", t->address ? t->address : "(none)",
                 t->address_attribute ? t->address_attribute : "mail", u->mail);
        return buf;
    }
    return NULL;
}

/* the Microsoft cloud settings' names (Learn, cross-cloud-settings) */
static const char *partner_cloud_text(bool other_cloud, const char *endpoint)
{
    if (!other_cloud)
        return "the same cloud";
    return !strcmp(endpoint, "microsoftonline.us") ? "Azure Government, enabled"
           : !strcmp(endpoint, "microsoftonline.com") ? "Azure commercial, enabled"
           : !strcmp(endpoint, "partner.microsoftonline.cn") ? "Azure operated by 21Vianet, enabled"
           : "another cloud, enabled";
}

enum convert_status convert_refusal(int http_status, const char *code, const char *message,
                                    const char *tenant, bool *blocked, char *remedy, size_t size)
{
    *blocked = false;
    code = code ? code : "";
    message = message ? message : "";
    if (http_status == 401 || (http_status == 403 && (contains_ci(message, "invitations are blocked")
                                                      || contains_ci(message, "guest invitations not allowed")
                                                      || contains_ci(message, "by the application")
                                                      || !strcmp(code, "Unauthorized")))) {
        /* the tenant's or the application's: the token refused, invitations
         * blocked or limited to admins, the permission missing ("Insufficient
         * privileges to perform requested operation by the application",
         * code Unauthorized: invitation-post's answer to an app without it) */
        snprintf(remedy, size, "it concerns tenant %s, not this user: check the application's "
                 "permissions and the guest invitation settings (dualsync check)", tenant);
        return CONVERT_STOPPED;
    }
    if (http_status == 403 && contains_ci(code, "Authorization_RequestDenied")) {
        /* a directory-role holder: app-only callers may not act on one
         * (reset-redemption-status; the same holds for the invitation) */
        snprintf(remedy, size, "the user holds a directory role, and an application may not change "
                 "such a user: remove the role, or convert the user by hand as an administrator");
        *blocked = true;
        return CONVERT_RECORD;
    }
    if (http_status == 403) {
        /* the partner's domain on the deny list or missing from the allow
         * list, or cross-tenant access blocking its home tenant: both are
         * checked at the time of invitation (allow-deny-list) */
        snprintf(remedy, size, "tenant %s refuses this user's home organization: allow its domain in "
                 "External collaboration settings (allow/deny list) and B2B collaboration inbound "
                 "from its home tenant in Cross-tenant access settings", tenant);
        *blocked = true;
        return CONVERT_RECORD;
    }
    if (http_status == 412) {
        /* reference §1.6/§1.7: converted back to internal before */
        snprintf(remedy, size, "it was converted back to an internal member before; an administrator "
                 "must delete and re-create the cloud user, or exclude it in tenant %s", tenant);
        *blocked = true;
        return CONVERT_RECORD;
    }
    if (http_status == 400 && contains_ci(message, "invalid request input")) {
        /* reference §7.2 (azure-docs#107086): seen for some synced accounts */
        snprintf(remedy, size, "Graph gives no reason; compare the user with one that converted (mail, "
                 "proxyAddresses, onPremisesUserPrincipalName) and open a Microsoft support case with "
                 "the request ids");
        return CONVERT_RECORD;
    }
    snprintf(remedy, size, "the next run tries again; if it keeps failing, open a Microsoft support "
             "case with the request ids");
    return CONVERT_RECORD;
}

enum convert_status convert_user_type_refusal(int http_status, const char *code, const char *message,
                                              bool tenant_stopped, const char *tenant, bool *blocked,
                                              char *remedy, size_t size)
{
    *blocked = false;
    code = code ? code : "";
    message = message ? message : "";
    if (tenant_stopped || http_status == 401) {
        snprintf(remedy, size, "it concerns tenant %s, not this user: the tenant was stopped (its message "
                 "says why); the next run sends it again", tenant);
        return CONVERT_STOPPED;
    }
    if (http_status == 403 && strcmp(code, "Authorization_RequestDenied")) {
        snprintf(remedy, size, "Graph refuses this application the change of this user: an administrator "
                 "must allow it, or set userType by hand, then run dualsync run --full");
        *blocked = true;
        return CONVERT_RECORD;
    }
    if (http_status == 403) {
        /* with the permission in the token, a 403 is about the user: an
         * app-only caller may update an administrator-role holder only if
         * it holds a higher role itself (Learn, user-update, "Who can
         * perform sensitive actions"; Q&A 1611025: for any property) */
        snprintf(remedy, size, "the user holds an administrator role, and an application may update it "
                 "only if it holds a higher one (Learn, Update user): give the application User "
                 "Administrator (Privileged Authentication Administrator for the highest roles), or "
                 "set userType by hand as one, then run dualsync run --full");
        *blocked = true;
        return CONVERT_RECORD;
    }
    if (http_status == 400 && (contains_ci(message, "undergoing migration")
                               || contains_ci(message, "on-premises mastered"))) {
        /* reference §1.8, §7.2: Graph's refusal of what it holds as
         * mastered elsewhere, or of an object being migrated */
        snprintf(remedy, size, "Graph holds this user's userType as mastered on-premises, or the user is "
                 "being migrated: the next run tries again; if it keeps failing, let the tenant's Connect "
                 "sync userType (its UserType sync) or open a Microsoft support case with the request ids");
        return CONVERT_RECORD;
    }
    snprintf(remedy, size, "the next run tries again; if it keeps failing, open a Microsoft support "
             "case with the request ids");
    return CONVERT_RECORD;
}

const char *convert_status_name(enum convert_status st)
{
    switch (st) {
    case CONVERT_OK: return "done";
    case CONVERT_RECORD: return "partial";
    case CONVERT_STOPPED: return "stopped";
    case CONVERT_FATAL: return "fatal";
    }
    return "?";
}

const char *convert_cloud_endpoint(enum cloud c)
{
    /* allowedCloudEndpoints' names of the Microsoft clouds (Learn,
     * crossTenantAccessPolicy): GCC High and DoD are both Azure Government */
    switch (c) {
    case CLOUD_GLOBAL: return "microsoftonline.com";
    case CLOUD_USGOV_HIGH:
    case CLOUD_USGOV_DOD: return "microsoftonline.us";
    case CLOUD_CHINA: return "partner.microsoftonline.cn";
    case CLOUD_COUNT: break;
    }
    return "?";
}

enum graph_tristate convert_b2b_allowed(const struct graph_b2b_policy *p, const struct convert_b2b_side *self,
                                        const struct convert_b2b_side *partner, bool inbound, char *why,
                                        size_t size)
{
    const char *dir = inbound ? "inbound" : "outbound";
    const char *in_out = inbound ? "Inbound access" : "Outbound access";
    const struct graph_b2b_partner *entry = NULL;
    for (size_t i = 0; i < p->npartners && !entry; i++)
        if (!strcasecmp(p->partners[i].tenant_id, partner->tenant_id))
            entry = &p->partners[i];
    const char *pend = convert_cloud_endpoint(partner->cloud);
    bool other_cloud = strcmp(pend, convert_cloud_endpoint(self->cloud)) != 0;
    if (other_cloud) {
        /* cross-cloud-settings: once another cloud is enabled, B2B with its
         * tenants is blocked until each is added to Organizational settings */
        bool enabled = false;
        for (char **c = p->clouds; c && *c && !enabled; c++)
            enabled = !strcasecmp(*c, pend);
        if (!enabled || !entry) {
            snprintf(why, size, "BLOCKED: tenant %s (%s) is in another Microsoft cloud; in tenant %s, "
                     "Cross-tenant access settings, %s%s%s tenant id %s under Organizational settings",
                     partner->name, pend, self->name,
                     enabled ? "" : "enable it in Microsoft cloud settings",
                     enabled || entry ? "" : ", then ",
                     entry ? "" : "add", partner->tenant_id);
            return GRAPH_NO;
        }
    }
    bool inherits = entry ? (inbound ? entry->inherits_inbound : entry->inherits_outbound) : true;
    enum graph_tristate v = inherits ? (inbound ? p->default_inbound : p->default_outbound)
                                     : (inbound ? entry->inbound : entry->outbound);
    const char *from = inherits ? "the default settings" : "its organizational settings";
    if (v == GRAPH_NO) {
        snprintf(why, size, "BLOCKED: tenant %s blocks B2B collaboration %s %s %s (%s); allow it "
                 "for all users in %s, B2B collaboration, of %s", self->name, dir,
                 inbound ? "from" : "to", partner->name, from, in_out,
                 inherits ? "the default settings or an entry for that tenant" : "that tenant's entry");
        return GRAPH_NO;
    }
    if (v == GRAPH_UNKNOWN) {
        snprintf(why, size, "partly: tenant %s allows B2B collaboration %s %s %s for some users or "
                 "groups only (%s); invitations of the others are refused", self->name, dir,
                 inbound ? "from" : "to", partner->name, from);
        return GRAPH_UNKNOWN;
    }
    snprintf(why, size, "allowed: tenant %s, B2B collaboration %s %s %s (%s, %s)", self->name, dir,
             inbound ? "from" : "to", partner->name, partner_cloud_text(other_cloud, pend), from);
    return GRAPH_YES;
}

/* why without its leading verdict word ("BLOCKED: ", "allowed: ", "partly: ") */
static const char *side_text(const char *why)
{
    const char *colon = strstr(why, ": ");
    return colon ? colon + 2 : why;
}

void convert_b2b_pair(const struct graph_b2b_policy *resource_pol, const char *resource_unread,
                      const struct graph_b2b_policy *home_pol, const char *home_unread,
                      const struct convert_b2b_side *resource, const struct convert_b2b_side *home,
                      struct convert_b2b_pair *out)
{
    char rw[600], hw[600];
    enum graph_tristate r = GRAPH_UNKNOWN, h = GRAPH_UNKNOWN;
    if (resource_pol)
        r = convert_b2b_allowed(resource_pol, resource, home, true, rw, sizeof(rw));
    else
        snprintf(rw, sizeof(rw), "unknown: tenant %s's side not read (%s)", resource->name,
                 resource_unread ? resource_unread : "no reason given");
    if (home_pol)
        h = convert_b2b_allowed(home_pol, home, resource, false, hw, sizeof(hw));
    else
        snprintf(hw, sizeof(hw), "unknown: tenant %s's side not read (%s)", home->name,
                 home_unread ? home_unread : "no reason given");
    memset(out, 0, sizeof(*out));
    out->resource_blocks = resource_pol && r == GRAPH_NO;
    out->home_blocks = home_pol && h == GRAPH_NO;
    if (out->resource_blocks && out->home_blocks) {
        out->verdict = B2B_BLOCKED;
        snprintf(out->why, sizeof(out->why), "BLOCKED on both sides: %s's (this tenant): %s; %s's (the home "
                 "tenant): %s", resource->name, side_text(rw), home->name, side_text(hw));
    } else if (out->resource_blocks || out->home_blocks) {
        out->verdict = B2B_BLOCKED;
        const char *other = out->resource_blocks ? hw : rw;
        snprintf(out->why, sizeof(out->why), "BLOCKED on %s's side (%s): %s; %s", out->resource_blocks
                 ? resource->name : home->name, out->resource_blocks ? "this tenant" : "the home tenant",
                 side_text(out->resource_blocks ? rw : hw), other);
    } else {
        /* neither blocks: partly, or a side unknown, or allowed */
        out->verdict = (resource_pol && r == GRAPH_UNKNOWN) || (home_pol && h == GRAPH_UNKNOWN) ? B2B_PARTLY
                       : !resource_pol || !home_pol ? B2B_UNKNOWN : B2B_ALLOWED;
        snprintf(out->why, sizeof(out->why), "%s: %s; %s", b2b_verdict_name(out->verdict), side_text(rw),
                 side_text(hw));
    }
}
