/* cmd_check.c - `dualsync check`: the configuration, the LDAP connection and
 * bind, and per tenant what Graph says: token, permissions, guest invitations
 * allowed, clock skew, and B2B collaboration with each other tenant by its
 * cross-tenant access policy. Reads only; writes nothing. */
#include "compat.h"

#include "cli.h"
#include "commands.h"
#include "config.h"
#include "convert.h"
#include "graph.h"
#include "ldap_source.h"
#include "log.h"
#include "util.h"

static void strv_add(char ***v, size_t *n, char *s)
{
    *v = xrealloc(*v, (*n + 2) * sizeof(**v));
    (*v)[(*n)++] = s;
    (*v)[*n] = NULL;
}

/* B2B collaboration with each other tenant of the config, both ways, by
 * this tenant's cross-tenant access policy: the users dualsync invites
 * here are at home there (inbound), and this tenant's users are invited
 * there (outbound). Each pair needs both sides (cross-cloud-settings). */
static void check_b2b(struct graph *g, const struct config *cfg, const struct tenant_config *tc,
                      struct graph_check_result *res)
{
    if (!res->token_ok || cfg->ntenants < 2)
        return;
    struct graph_b2b_policy pol;
    size_t n = 0;
    if (graph_b2b_policy(g, &pol) != GRAPH_OK) {
        strv_add(&res->b2b, &n, xstrdup("unknown: reading the cross-tenant access policy needs "
                                        "Policy.Read.All; without it a blocked partner shows as a "
                                        "refused invitation per user"));
        graph_b2b_policy_release(&pol);
        return;
    }
    struct convert_b2b_side self = { tc->name, tc->tenant_id, tc->cloud };
    for (size_t i = 0; i < cfg->ntenants; i++) {
        const struct tenant_config *o = &cfg->tenants[i];
        if (o == tc)
            continue;
        struct convert_b2b_side other = { o->name, o->tenant_id, o->cloud };
        for (int inbound = 1; inbound >= 0; inbound--) {
            char why[600];
            if (convert_b2b_allowed(&pol, &self, &other, inbound, why, sizeof(why)) == GRAPH_NO)
                res->b2b_blocked = true;
            strv_add(&res->b2b, &n, xasprintf("%s %s: %s", inbound ? "from" : "to", o->name, why));
        }
    }
    graph_b2b_policy_release(&pol);
}

/* The tenant's verified domains, for the tenant check of its Connect export
 * (connect_tenant.c): which tenant that server exports to. */
static void read_domains(struct graph *g, const struct graph_check_result *res, struct check_domains *d)
{
    if (!res->token_ok) {
        d->why = xstrdup("no token: see the tenant's check above");
        return;
    }
    enum graph_status st = graph_verified_domains(g, &d->domains, &d->n);
    if (st != GRAPH_OK)
        d->why = xasprintf("listing its domains failed (%s): Domain.Read.All granted?", graph_status_name(st));
}

static int check_tenant(const struct config *cfg, const struct tenant_config *tc, struct check_domains *d)
{
    struct graph_params p;
    convert_graph_params(tc, &p);
    struct graph *g;
    if (graph_open(&p, &g)) {
        d->why = xstrdup("Graph could not be opened: see above");
        return EXIT_STOPPED;
    }
    struct graph_check_result res;
    int rc = graph_check(g, &res);
    check_b2b(g, cfg, tc, &res);
    if (tc->connect_config)
        read_domains(g, &res, d);
    if (res.b2b_blocked)
        rc = -1;
    graph_check_print(stdout, tc->name, &res);
    graph_check_release(&res);
    graph_close(g);
    return rc ? EXIT_STOPPED : EXIT_DONE;
}

int cmd_check(const struct cli *cli, const struct config *cfg)
{
    printf("config %s: ok\n", cfg->path);
    if (cli->connect_config)      /* that export only (cmd_connect.c) */
        return check_connect(cli, cfg, NULL);
    int rc = EXIT_DONE;
    struct ldap_source *src;
    if (ldap_source_open(&cfg->ldap, &src)) {
        rc = EXIT_STOPPED;
    } else {
        printf("ldap %s: connected, certificate verified where TLS is used, bound\n", cfg->ldap.uri);
        ldap_source_close(src);
    }
    struct check_domains *known = xcalloc(cfg->ntenants + 1, sizeof(*known));
    bool found = !cli->tenant;
    for (size_t t = 0; t < cfg->ntenants; t++) {
        const struct tenant_config *tc = &cfg->tenants[t];
        if (cli->tenant && strcmp(cli->tenant, tc->name))
            continue;
        found = true;
        int trc = check_tenant(cfg, tc, &known[t]);
        if (trc > rc)
            rc = trc;
    }
    if (!found) {
        log_error("--tenant %s: no [tenant %s] in %s", cli->tenant, cli->tenant, cfg->path);
        rc = EXIT_USAGE;
    } else {
        int crc = check_connect(cli, cfg, known);   /* the tenants' connect_config exports */
        if (crc > rc)
            rc = crc;
    }
    for (size_t t = 0; t < cfg->ntenants; t++) {
        graph_strv_free(known[t].domains);
        free(known[t].why);
    }
    free(known);
    return rc;
}
