/* cmd_check.c - `dualsync check`: the configuration, the LDAP connection and
 * bind, and per tenant what Graph says: token, permissions, guest invitations
 * allowed, clock skew, and B2B collaboration with each other tenant by its
 * cross-tenant access policy, and those of the other tenants for the other
 * side of each pair. Changes nothing in AD or the tenants; it keeps the
 * cross-tenant verdicts for `plan` (<mappings_dir>/<tenant>.b2b). */
#include "compat.h"

#include <time.h>

#include "b2b_verdict.h"
#include "cli.h"
#include "commands.h"
#include "config.h"
#include "convert.h"
#include "graph.h"
#include "ldap_source.h"
#include "log.h"
#include "platform.h"
#include "util.h"

static void strv_add(char ***v, size_t *n, char *s)
{
    *v = xrealloc(*v, (*n + 2) * sizeof(**v));
    (*v)[(*n)++] = s;
    (*v)[*n] = NULL;
}

/* Each configured tenant's cross-tenant access policy, read once per check:
 * a pair needs both of its tenants' policies (convert_b2b_pair). */
struct policies {
    bool tried[CONFIG_MAX_TENANTS];
    bool ok[CONFIG_MAX_TENANTS];
    struct graph_b2b_policy pol[CONFIG_MAX_TENANTS];
    char unread[CONFIG_MAX_TENANTS][200];
};

/* Tenant i's policy, read through g (its own handle) or a handle opened for
 * the read; NULL with the reason in P->unread[i]. */
static const struct graph_b2b_policy *policy_of(struct policies *P, const struct config *cfg, size_t i,
                                                struct graph *g)
{
    if (!P->tried[i]) {
        P->tried[i] = true;
        struct graph *own = NULL;
        bool here = g || convert_credentials_here(&cfg->tenants[i], P->unread[i], sizeof(P->unread[i]));
        if (!g && here) {
            struct graph_params p;
            convert_graph_params(&cfg->tenants[i], &p);
            if (graph_open(&p, &own) == 0)
                g = own;
        }
        const char *why = NULL;
        if (!here) {
            /* P->unread[i] says which file is missing */
        } else if (!g) {
            snprintf(P->unread[i], sizeof(P->unread[i]), "its Graph client cannot be set up");
        } else if (graph_b2b_policy(g, &P->pol[i]) != GRAPH_OK) {
            if (graph_stopped(g, &why) != GRAPH_OK)
                snprintf(P->unread[i], sizeof(P->unread[i]), "%s", why ? why : "the tenant stopped");
            else
                snprintf(P->unread[i], sizeof(P->unread[i]), "reading the cross-tenant access policy "
                         "needs Policy.Read.All in tenant %s", cfg->tenants[i].name);
        } else {
            P->ok[i] = true;
        }
        graph_close(own);
    }
    return P->ok[i] ? &P->pol[i] : NULL;
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

/* B2B collaboration with each other tenant of the config, both ways: "from
 * X" are X's users invited here (this tenant's inbound, X's outbound), "to
 * X" this tenant's users invited there (this tenant's outbound, X's
 * inbound). Each pair needs both sides (cross-tenant-access-overview,
 * cross-cloud-settings), so the other tenant's policy is read too. The
 * verdicts for this tenant's home tenants are kept for `plan`
 * (b2b_verdict.h). */
static void check_b2b(struct graph *g, const struct config *cfg, size_t t, struct policies *P,
                      struct graph_check_result *res)
{
    const struct tenant_config *tc = &cfg->tenants[t];
    if (!res->token_ok || cfg->ntenants < 2)
        return;
    size_t n = 0;
    const struct graph_b2b_policy *mine = policy_of(P, cfg, t, g);
    if (!mine)
        strv_add(&res->b2b, &n, xasprintf("this tenant's side unknown: %s; without it a blocked partner "
                                          "shows as a refused invitation per user", P->unread[t]));
    struct b2b_verdicts v = { xstrdup(tc->name), xstrdup(tc->tenant_id), tc->cloud, NULL, 0 };
    int64_t now = (int64_t)time(NULL);
    struct convert_b2b_side self = { tc->name, tc->tenant_id, tc->cloud };
    for (size_t i = 0; i < cfg->ntenants; i++) {
        if (i == t)
            continue;
        const struct tenant_config *o = &cfg->tenants[i];
        struct convert_b2b_side other = { o->name, o->tenant_id, o->cloud };
        const struct graph_b2b_policy *theirs = policy_of(P, cfg, i, NULL);
        struct convert_b2b_pair in, out;
        convert_b2b_pair(mine, P->unread[t], theirs, P->unread[i], &self, &other, &in);
        convert_b2b_pair(theirs, P->unread[i], mine, P->unread[t], &other, &self, &out);
        res->b2b_blocked |= in.verdict == B2B_BLOCKED || out.verdict == B2B_BLOCKED;
        strv_add(&res->b2b, &n, xasprintf("from %s: %s", o->name, in.why));
        strv_add(&res->b2b, &n, xasprintf("to %s: %s", o->name, out.why));
        struct strbuf ids = STRBUF_INIT;
        strbuf_addf(&ids, "%s: %s; %s: %s", tc->name, mine && mine->request_ids ? mine->request_ids : "not read",
                    o->name, theirs && theirs->request_ids ? theirs->request_ids : "not read");
        struct b2b_pair pr = { (char *)o->name, (char *)o->tenant_id, in.verdict, in.resource_blocks,
                               in.home_blocks, now, (char *)"check", ids.buf, in.why };
        b2b_verdicts_set(&v, &pr);
        strbuf_release(&ids);
    }
    /* what plan shows until the next check or run: a failure to keep it
     * changes nothing of what check found. Only where a run made the
     * mappings directory: check creates no state before the first run */
    char *path = b2b_verdicts_path(cfg->mappings_dir, tc->name);
    struct platform_file_id dir;
    if (platform_file_identity(cfg->mappings_dir, &dir) == 0)
        b2b_verdicts_save(path, &v);
    free(path);
    b2b_verdicts_release(&v);
}

static int check_tenant(const struct config *cfg, size_t t, struct policies *P, struct check_domains *d)
{
    const struct tenant_config *tc = &cfg->tenants[t];
    struct graph_params p;
    convert_graph_params(tc, &p);
    struct graph *g;
    if (graph_open(&p, &g)) {
        d->why = xstrdup("Graph could not be opened: see above");
        return EXIT_STOPPED;
    }
    struct graph_check_result res;
    int rc = graph_check(g, &res);
    check_b2b(g, cfg, t, P, &res);
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
    struct policies *policies = xcalloc(1, sizeof(*policies));
    for (size_t t = 0; t < cfg->ntenants; t++) {
        const struct tenant_config *tc = &cfg->tenants[t];
        if (cli->tenant && strcmp(cli->tenant, tc->name))
            continue;
        found = true;
        int trc = check_tenant(cfg, t, policies, &known[t]);
        if (trc > rc)
            rc = trc;
    }
    for (size_t t = 0; t < cfg->ntenants; t++)
        graph_b2b_policy_release(&policies->pol[t]);
    free(policies);
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
