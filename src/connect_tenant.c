/* connect_tenant.c - which tenant a Connect export's Entra connector exports
 * to, against the [tenant] section that names the export (connect_config.h).
 * Pure: the caller gives the exports and what Graph said of each tenant.
 *
 * One Connect server exports to one tenant, and each tenant is run by one
 * host (doc/deployment.md, "Topologies"). A connect_config that points at
 * another tenant's export makes check judge the wrong server's rules, and
 * usually means that this host runs the wrong tenant. The export says which
 * tenant only through its Entra connector: the account it signs in with,
 * the UserName connectivity parameter Sync_<server>_<id>@<initial domain>,
 * or its default name "<initial domain> - AAD" (the public exports of
 * microsoft/AADConnectConfigDocumenter, src/SolutionOutput/Data/Contoso,
 * hold these two and no tenant id). With the tenant's verified domains from
 * Graph the domain decides; without them only the initial domain's suffix
 * tells the cloud, and a mismatch is certain only where the suffix belongs
 * to other clouds than the section's. */
#include "compat.h"

#include <ctype.h>
#include <strings.h>

#include "connect_config.h"
#include "util.h"

#define BIT(c) (1u << (c))
#define USGOV (BIT(CLOUD_USGOV_HIGH) | BIT(CLOUD_USGOV_DOD))

/* The initial domain (<name>.<suffix>) a tenant is given, by cloud. */
static const struct suffix {
    const char *suffix;
    const char *label;
    unsigned usual;         /* the clouds whose tenants are given one */
    unsigned may;           /* where one may be met: outside, another tenant's for certain */
} suffixes[] = {
    /* US Government: GCC High and DoD */
    { ".onmicrosoft.us", "US Government", USGOV, USGOV },
    /* operated by 21Vianet (Office 365 operated by 21Vianet: "partner.onmschina.cn") */
    { ".partner.onmschina.cn", "China (21Vianet)", BIT(CLOUD_CHINA), BIT(CLOUD_CHINA) },
    /* the global cloud; that no US Government tenant has one is not
     * something dualsync can vouch for, so there it is a note, not a warning */
    { ".onmicrosoft.com", "global", BIT(CLOUD_GLOBAL), BIT(CLOUD_GLOBAL) | USGOV },
};

static const struct suffix *suffix_of(const char *domain)
{
    for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++)
        if (str_iends_with(domain, suffixes[i].suffix) && strlen(domain) > strlen(suffixes[i].suffix))
            return &suffixes[i];
    return NULL;
}

static const char *usual_suffix(enum cloud c)
{
    for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++)
        if (suffixes[i].usual & BIT(c))
            return suffixes[i].suffix;
    return "?";
}

static bool is_domain(const char *s, size_t n)
{
    bool dot = false;
    if (!n || s[0] == '.' || s[n - 1] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '.')
            dot = true;
        else if (!isalnum(ch) && ch != '-')
            return false;
    }
    return dot;
}

char *connect_entra_domain(const struct connect_connector *c, const char **from)
{
    static const char tail[] = " - AAD";
    const char *at = c->account ? strrchr(c->account, '@') : NULL;
    char *d = NULL;
    if (at && is_domain(at + 1, strlen(at + 1))) {
        d = xstrdup(at + 1);
        *from = "UserName";
    } else if (c->name) {
        size_t n = strlen(c->name), t = sizeof(tail) - 1;
        if (n > t && !strcasecmp(c->name + n - t, tail) && is_domain(c->name, n - t)) {
            d = xstrndup(c->name, n - t);
            *from = "name";
        }
    }
    for (char *p = d; p && *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return d;
}

static bool has_domain(const struct connect_tenant_side *s, const char *domain)
{
    for (size_t i = 0; s->domains && i < s->ndomains; i++)
        if (!strcasecmp(s->domains[i], domain))
            return true;
    return false;
}

/* "the Entra connector 'NAME' (FILE:LINE, UserName ACCOUNT)" */
static void describe(struct strbuf *sb, const struct connect_connector *c)
{
    strbuf_addf(sb, "the Entra connector '%s' (%s", c->name, c->file);
    if (c->account)
        strbuf_addf(sb, ":%d, UserName %s", c->account_line, c->account);
    strbuf_addstr(sb, ")");
}

static char *why_other(const char *tenant)
{
    return xasprintf("then this is not %s's Connect server: the findings above judge another tenant's "
                     "rules, and a dualsync run beside that server for %s would follow the wrong "
                     "tenant's cycles", tenant, tenant);
}

static char *remedy_own(const char *tenant)
{
    return xasprintf("point connect_config of [tenant %s] at the export of %s's own Connect server "
                     "(Get-ADSyncServerConfiguration on the server whose Entra connector signs in to "
                     "%s); one Connect server, and one dualsync, per tenant (doc/deployment.md, "
                     "Topologies)", tenant, tenant, tenant);
}

static void judge_connector(const struct connect_tenant_side *sides, size_t nsides, size_t self,
                            const struct connect_connector *c, struct connect_report *rep)
{
    const struct connect_tenant_side *me = &sides[self];
    const char *from = NULL;
    char *dom = connect_entra_domain(c, &from);
    struct strbuf text = STRBUF_INIT;
    describe(&text, c);
    if (!dom) {
        strbuf_addstr(&text, " does not say which tenant it exports to: it has no UserName parameter and "
                      "its name is not \"<domain> - AAD\"");
        connect_report_add(rep, CONNECT_NOTE, "tenant", strbuf_detach(&text),
                           xstrdup("dualsync cannot tell whether this is the server of this tenant"),
                           xasprintf("make sure connect_config of [tenant %s] is the export of %s's own "
                                     "Connect server", me->tenant, me->tenant));
        return;
    }
    strbuf_addf(&text, " exports to %s (its %s)", dom, from);
    const struct connect_tenant_side *owner = NULL;     /* another section Graph gives it to */
    for (size_t j = 0; j < nsides && !owner; j++)
        if (j != self && has_domain(&sides[j], dom))
            owner = &sides[j];
    if (has_domain(me, dom)) {
        strbuf_addf(&text, ", a verified domain of %s (Graph)", me->tenant);
        connect_report_add(rep, CONNECT_OK, "tenant", strbuf_detach(&text), NULL, NULL);
    } else if (me->domains || owner) {
        if (me->domains) {
            strbuf_addf(&text, ", which is not a verified domain of %s (Graph lists ", me->tenant);
            for (size_t i = 0; i < me->ndomains && i < 6; i++)
                strbuf_addf(&text, "%s%s", i ? ", " : "", me->domains[i]);
            strbuf_addstr(&text, me->ndomains > 6 ? ", ...)" : me->ndomains ? ")" : "none)");
        } else {
            strbuf_addf(&text, "; %s's verified domains were not read (%s)", me->tenant,
                        me->domains_why ? me->domains_why : "not asked");
        }
        if (owner)
            strbuf_addf(&text, "; it is a verified domain of [tenant %s]", owner->tenant);
        connect_report_add(rep, CONNECT_WARNING, "tenant", strbuf_detach(&text), why_other(me->tenant),
                           remedy_own(me->tenant));
    } else {
        /* the configuration alone: the initial domain's cloud */
        const struct suffix *sf = suffix_of(dom);
        const char *why = me->domains_why ? me->domains_why : "not asked";
        const char *cloud = cloud_name(me->cloud);
        if (sf && !(sf->may & BIT(me->cloud))) {
            strbuf_addf(&text, ", an initial domain of the %s cloud (*%s), but [tenant %s] is in %s "
                        "(cloud = %s; its verified domains were not read: %s)", sf->label, sf->suffix,
                        me->tenant, cloud, cloud, why);
            connect_report_add(rep, CONNECT_WARNING, "tenant", strbuf_detach(&text), why_other(me->tenant),
                               remedy_own(me->tenant));
        } else {
            if (sf && (sf->usual & BIT(me->cloud)))
                strbuf_addf(&text, "; %s's cloud (%s) gives such initial domains (*%s), but whether it is "
                            "%s's own only its verified domains can tell, and they were not read (%s)",
                            me->tenant, cloud, sf->suffix, me->tenant, why);
            else if (sf)
                strbuf_addf(&text, "; %s tenants (%s) are normally given *%s, not *%s: only %s's "
                            "verified domains can tell, and they were not read (%s)", cloud, me->tenant,
                            usual_suffix(me->cloud), sf->suffix, me->tenant, why);
            else
                strbuf_addf(&text, ", not an initial domain (*.onmicrosoft.*): only %s's verified domains "
                            "can tell whose it is, and they were not read (%s)", me->tenant, why);
            connect_report_add(rep, CONNECT_NOTE, "tenant", strbuf_detach(&text), NULL,
                               xasprintf("run dualsync check without --connect-config, with connect_config "
                                         "in [tenant %s], where %s's Graph answers: it compares with "
                                         "%s's verified domains (Domain.Read.All)", me->tenant, me->tenant,
                                         me->tenant));
        }
    }
    free(dom);
}

/* Two sections whose exports have the same Entra connector: by its
 * account, or by its domain when an account is missing. */
static void judge_shared(const struct connect_tenant_side *sides, size_t nsides, size_t self,
                         struct connect_report *rep)
{
    const struct connect_tenant_side *me = &sides[self];
    for (size_t j = 0; j < nsides; j++) {
        const struct connect_tenant_side *o = &sides[j];
        if (j == self || !o->ex)
            continue;
        char *same = NULL;
        for (size_t a = 0; a < me->ex->nconnectors && !same; a++) {
            const struct connect_connector *ca = &me->ex->connectors[a];
            for (size_t b = 0; b < o->ex->nconnectors && !same && ca->kind == CONNECT_ENTRA; b++) {
                const struct connect_connector *cb = &o->ex->connectors[b];
                if (cb->kind != CONNECT_ENTRA)
                    continue;
                if (ca->account && cb->account) {
                    if (!strcasecmp(ca->account, cb->account))
                        same = xasprintf("the same Entra connector account, %s", ca->account);
                    continue;
                }
                const char *f1, *f2;
                char *d1 = connect_entra_domain(ca, &f1), *d2 = connect_entra_domain(cb, &f2);
                if (d1 && d2 && !strcmp(d1, d2))
                    same = xasprintf("an Entra connector for the same tenant domain, %s", d1);
                free(d1);
                free(d2);
            }
        }
        if (!same)
            continue;
        connect_report_add(rep, CONNECT_WARNING, "tenant",
                           xasprintf("the export of [tenant %s] (%s) has %s", o->tenant, o->dir ? o->dir : "?",
                                     same),
                           xasprintf("one connector exports to one tenant: %s and %s cannot both be "
                                     "exported by it, so at most one of the two sections names its own "
                                     "Connect server", me->tenant, o->tenant),
                           xasprintf("give each [tenant] section the export of its own Connect server "
                                     "(connect_config); one Connect server, and one dualsync, per tenant "
                                     "(doc/deployment.md, Topologies)"));
        free(same);
    }
}

void connect_judge_tenant(const struct connect_tenant_side *sides, size_t nsides, size_t self,
                          struct connect_report *rep)
{
    const struct connect_tenant_side *me = &sides[self];
    const struct connect_export *ex = me->ex;
    if (!ex)
        return;
    size_t nentra = 0;
    struct strbuf list = STRBUF_INIT;
    for (size_t c = 0; c < ex->nconnectors; c++) {
        const struct connect_connector *con = &ex->connectors[c];
        if (con->kind != CONNECT_ENTRA)
            continue;
        const char *from;
        char *dom = connect_entra_domain(con, &from);
        strbuf_addf(&list, "%s'%s' (%s, %s)", nentra++ ? ", " : "", con->name, dom ? dom : "domain not named",
                    con->file);
        free(dom);
    }
    /* none: connect_judge already says the export has no Entra connector */
    if (nentra > 1)
        connect_report_add(rep, CONNECT_WARNING, "tenant",
                           xasprintf("the export has %zu Entra connectors: %s", nentra, list.buf),
                           xasprintf("a Connect server exports to one tenant through one Entra connector; "
                                     "dualsync cannot tell which of these is %s's, and judges each",
                                     me->tenant),
                           xasprintf("give [tenant %s] the export of the Connect server that exports to %s "
                                     "alone: one Connect server per tenant (doc/deployment.md, Topologies)",
                                     me->tenant, me->tenant));
    strbuf_release(&list);
    for (size_t c = 0; c < ex->nconnectors; c++)
        if (ex->connectors[c].kind == CONNECT_ENTRA)
            judge_connector(sides, nsides, self, &ex->connectors[c], rep);
    judge_shared(sides, nsides, self, rep);
}
