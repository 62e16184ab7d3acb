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
