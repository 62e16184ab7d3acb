/* cmd_check.c - `dualsync check`: the configuration, the LDAP connection and
 * bind, and per tenant what Graph says: token, permissions, guest invitations
 * allowed, clock skew. Reads only; writes nothing. */
#include "compat.h"

#include "cli.h"
#include "commands.h"
#include "config.h"
#include "convert.h"
#include "graph.h"
#include "ldap_source.h"
#include "log.h"

static int check_tenant(const struct tenant_config *tc)
{
    struct graph_params p;
    convert_graph_params(tc, &p);
    struct graph *g;
    if (graph_open(&p, &g))
        return EXIT_STOPPED;
    struct graph_check_result res;
    int rc = graph_check(g, &res);
    graph_check_print(stdout, tc->name, &res);
    graph_check_release(&res);
    graph_close(g);
    return rc ? EXIT_STOPPED : EXIT_DONE;
}

int cmd_check(const struct cli *cli, struct config *cfg)
{
    printf("config %s: ok\n", cfg->path);
    if (cli->connect_config)      /* that export only (cmd_connect.c) */
        return check_connect(cli, cfg);
    int rc = EXIT_DONE;
    struct ldap_source *src;
    if (ldap_source_open(&cfg->ldap, &src)) {
        rc = EXIT_STOPPED;
    } else {
        printf("ldap %s: connected, certificate verified where TLS is used, bound\n", cfg->ldap.uri);
        ldap_source_close(src);
    }
    bool found = !cli->tenant;
    for (size_t t = 0; t < cfg->ntenants; t++) {
        const struct tenant_config *tc = &cfg->tenants[t];
        if (cli->tenant && strcmp(cli->tenant, tc->name))
            continue;
        found = true;
        int trc = check_tenant(tc);
        if (trc > rc)
            rc = trc;
    }
    if (!found) {
        log_error("--tenant %s: no [tenant %s] in %s", cli->tenant, cli->tenant, cfg->path);
        return EXIT_USAGE;
    }
    int crc = check_connect(cli, cfg);   /* the tenants' connect_config exports */
    return crc > rc ? crc : rc;
}
