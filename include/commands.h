/* commands.h - one function per subcommand; each returns an exit_code (cli.h). */
#ifndef DUALSYNC_COMMANDS_H
#define DUALSYNC_COMMANDS_H

#include <stddef.h>

struct cli;
struct config;

int cmd_pull(const struct cli *cli, const struct config *cfg);
int cmd_check(const struct cli *cli, const struct config *cfg);
/* What check read from Graph of each tenant with a connect_config, indexed
 * as cfg->tenants: its verified domains (NULL-terminated, lowercase), or
 * why not (why). */
struct check_domains {
    char **domains;
    size_t n;
    char *why;
};
/* check's Connect part (cmd_connect.c): the exports of the tenants picked,
 * from --connect-config or their connect_config, each also compared with
 * its tenant's domains (known: NULL when Graph was not asked); EXIT_DONE
 * when none has one. */
int check_connect(const struct cli *cli, const struct config *cfg, const struct check_domains *known);
int cmd_plan(const struct cli *cli, const struct config *cfg);
int cmd_explain(const struct cli *cli, const struct config *cfg);
int cmd_report(const struct cli *cli, const struct config *cfg);
int cmd_convert(const struct cli *cli, const struct config *cfg);
int cmd_run(const struct cli *cli, const struct config *cfg);
int cmd_watch(const struct cli *cli, const struct config *cfg);
/* protect-secret FILE: needs no configuration */
int cmd_protect_secret(const struct cli *cli);

#endif
