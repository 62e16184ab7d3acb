/* cmd_connect.c - the Connect part of `dualsync check`: each tenant's
 * exported Connect configuration (connect_config = DIR, or --connect-config
 * DIR --tenant T) judged against the users dualsync converts there, as AD
 * reads now (through the kept copy: a delta when there is one), or as the
 * copy --ad-snapshot FILE names holds it (no LDAP: on any machine).
 *
 * Reading the export is connect_export.c, judging it connect_judge.c, and
 * whether it is that tenant's server at all connect_tenant.c; this file
 * only fetches AD and decides who is converted, as plan does. */
#include "compat.h"

#include <strings.h>

#include "adobject.h"
#include "cli.h"
#include "commands.h"
#include "config.h"
#include "connect_config.h"
#include "log.h"
#include "objset.h"
#include "policy.h"
#include "rules.h"
#include "util.h"
#include "world.h"

struct converted {
    const struct world *w;
    size_t *idx;            /* objset index of each converted user */
    bool *guest;
    bool *member;           /* per object: a member of this tenant (its home) */
    size_t n;
};

static const struct objset_entry *entry(const struct converted *c, size_t i)
{
    return objset_get(c->w->objs, c->idx[i]);
}

static int values(void *ctx, size_t i, const char *attr, const char *const **vals, size_t *n)
{
    const struct converted *c = ctx;
    const struct policy_values *pv = world_values(c->w, c->idx[i], attr);
    if (pv) {
        *vals = pv->vals;
        *n = pv->n;
        return 1;
    }
    /* what objset keeps of every object besides the rules' attributes */
    const struct objset_entry *e = entry(c, i);
    const char *const *field = !rules_strcasecmp(attr, "userPrincipalName") ? &e->upn
                               : !rules_strcasecmp(attr, "mail") ? &e->mail
                               : !rules_strcasecmp(attr, "sAMAccountName") ? &e->sam
                               : !rules_strcasecmp(attr, "distinguishedName") ? &e->dn : NULL;
    if (!field)
        return 0;
    *vals = field;
    *n = *field ? 1 : 0;
    return 1;
}

static const char *dn(void *ctx, size_t i) { return entry(ctx, i)->dn; }
static bool disabled(void *ctx, size_t i) { return entry(ctx, i)->disabled; }
static bool guest(void *ctx, size_t i) { return ((struct converted *)ctx)->guest[i]; }

static const char *label(void *ctx, size_t i)
{
    const struct objset_entry *e = entry(ctx, i);
    return e->upn ? e->upn : e->sam ? e->sam : e->dn;
}

static bool anchor_not_object_guid(void *ctx, size_t i)
{
    const struct objset_entry *e = entry(ctx, i);
    return e->anchor_from_consistency_guid && memcmp(e->anchor, e->guid, 16) != 0;
}

/* The users tenant t converts: external-member or external-guest. */
static void find_converted(const struct world *w, size_t t, struct converted *c)
{
    size_t n = objset_count(w->objs);
    c->w = w;
    c->idx = xcalloc(n + 1, sizeof(*c->idx));
    c->guest = xcalloc(n + 1, sizeof(*c->guest));
    c->member = xcalloc(n + 1, sizeof(*c->member));
    c->n = 0;
    for (size_t i = 0; i < n; i++) {
        if (objset_get(w->objs, i)->cls != AD_CLASS_USER)
            continue;
        struct policy_subject s;
        struct policy_result res;
        objset_subject(w->objs, i, &s);
        policy_decide(w->pol, &s, t, &res);
        c->member[i] = res.decision == DECISION_MEMBER;
        if (!decision_is_external(res.decision))
            continue;
        c->guest[c->n] = res.decision == DECISION_EXTERNAL_GUEST;
        c->idx[c->n++] = i;
    }
}

/* An attribute the tenant's rules read whose values tell the converted
 * users from the tenant's members (no member has one of theirs; users the
 * tenant excludes do not matter: clearing their onPremisesUserPrincipalName
 * changes nothing dualsync does), for the remedy's script arguments: few
 * values, the first value of each user; converted users without a value are
 * left for another scope group (the check after the rule counts them). */
#define SUGGEST_MAX 8
static const char *suggest(const struct world *w, const struct converted *c, char **vals, size_t *nvals)
{
    size_t n = objset_count(w->objs);
    const char *found = NULL;
    for (size_t k = 0; k < policy_nattrs(w->pol) && !found && c->n; k++) {
        const char *attr = policy_attr_name(w->pol, k);
        *nvals = 0;
        bool ok = true;
        for (size_t i = 0; i < c->n && ok; i++) {
            const char *v = world_first_value(w, c->idx[i], attr);
            size_t j = 0;
            while (v && j < *nvals && strcasecmp(vals[j], v))
                j++;
            if (v && j == *nvals) {
                if (*nvals == SUGGEST_MAX)
                    ok = false;
                else
                    vals[(*nvals)++] = (char *)v;
            }
        }
        for (size_t i = 0; i < n && ok; i++) {
            if (!c->member[i])
                continue;
            const char *v = world_first_value(w, i, attr);
            for (size_t j = 0; v && j < *nvals && ok; j++)
                ok = strcasecmp(vals[j], v) != 0;
        }
        if (ok && *nvals)
            found = attr;
    }
    if (!found)
        *nvals = 0;
    return found;
}

int check_connect(const struct cli *cli, const struct config *cfg, const struct check_domains *graph)
{
    size_t first, end;
    if (pick_tenants(cfg, cli->tenant, &first, &end))
        return EXIT_USAGE;
    if (cli->connect_config && end - first != 1) {
        log_error("--connect-config %s: the export of one tenant's Connect server; say which tenant with "
                  "--tenant", cli->connect_config);
        return EXIT_USAGE;
    }
    int rc = EXIT_DONE;
    struct connect_export *ex = xcalloc(cfg->ntenants + 1, sizeof(*ex));
    bool *loaded = xcalloc(cfg->ntenants + 1, sizeof(*loaded));
    size_t nloaded = 0;
    char **keep = NULL;         /* what the scoping filters read: the world keeps it too */
    size_t nkeep = 0;
    for (size_t t = first; t < end; t++) {
        const char *dir = cli->connect_config ? cli->connect_config : cfg->tenants[t].connect_config;
        if (!dir)
            continue;
        if (connect_export_load(dir, &ex[t])) {
            log_error("tenant %s: the Connect export %s cannot be judged", cfg->tenants[t].name, dir);
            rc = EXIT_USAGE;
            continue;
        }
        loaded[t] = true;
        nloaded++;
        /* a given copy of AD holds what it holds: a scope on another
         * attribute is then "cannot tell", not a refused copy */
        if (!cfg->ldap.snapshot_in)
            connect_scope_attributes(&ex[t], &keep, &nkeep);
    }
    /* which tenant each export is for: against the others and Graph's domains */
    struct connect_tenant_side *sides = xcalloc(cfg->ntenants + 1, sizeof(*sides));
    for (size_t t = 0; t < cfg->ntenants; t++) {
        struct connect_tenant_side *sd = &sides[t];
        sd->tenant = cfg->tenants[t].name;
        sd->cloud = cfg->tenants[t].cloud;
        sd->dir = t >= first && t < end && cli->connect_config ? cli->connect_config : cfg->tenants[t].connect_config;
        sd->ex = loaded[t] ? &ex[t] : NULL;
        if (graph && graph[t].domains) {
            sd->domains = graph[t].domains;
            sd->ndomains = graph[t].n;
        }
        sd->domains_why = !graph ? "Graph is not asked with --connect-config"
                          : graph[t].why ? graph[t].why : "not asked";
    }
    if (nloaded) {
        struct world w;
        int wrc = world_load_keeping(&w, cfg, keep, nkeep, false, false, cli->progress, NULL);
        bool known = wrc == EXIT_DONE;
        if (!known) {
            log_error("AD could not be read: the Connect findings below count no users");
            if (wrc > rc)
                rc = wrc;
        }
        for (size_t t = first; t < end; t++) {
            if (!loaded[t])
                continue;
            const struct tenant_config *tc = &cfg->tenants[t];
            struct converted c = { 0 };
            char *vals[SUGGEST_MAX];
            size_t nvals = 0;
            const char *attr = NULL;
            if (known) {
                find_converted(&w, t, &c);
                attr = suggest(&w, &c, vals, &nvals);
            }
            struct connect_view v = {
                .tenant = tc->name,
                .ad_source = cfg->ldap.snapshot_in,
                .invite_attribute = tc->invite_address_attribute,
                .base_dns = cfg->ldap.scope.base_dns,
                .nbase_dns = cfg->ldap.scope.nbase_dns,
                .suggest_attribute = attr,
                .suggest_values = vals,
                .nsuggest_values = nvals,
                .users = { known, c.n, &c, values, dn, label, disabled, guest, anchor_not_object_guid },
            };
            struct connect_report rep;
            connect_judge(&ex[t], &v, &rep);
            connect_judge_tenant(sides, cfg->ntenants, t, &rep);
            connect_report_print(stdout, tc->name, &rep);
            if (rep.blocked && rc < EXIT_PARTIAL)
                rc = EXIT_PARTIAL;
            connect_report_free(&rep);
            free(c.idx);
            free(c.guest);
            free(c.member);
        }
        world_free(&w);
    }
    for (size_t t = 0; t < cfg->ntenants; t++)
        connect_export_free(&ex[t]);   /* also a half-read one */
    for (size_t i = 0; i < nkeep; i++)
        free(keep[i]);
    free(keep);
    free(sides);
    free(ex);
    free(loaded);
    return rc;
}
