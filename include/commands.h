/* commands.h - one function per subcommand; each returns an exit_code (cli.h). */
#ifndef DUALSYNC_COMMANDS_H
#define DUALSYNC_COMMANDS_H

struct cli;
struct config;

int cmd_pull(const struct cli *cli, const struct config *cfg);
int cmd_check(const struct cli *cli, const struct config *cfg);
/* check's Connect part (cmd_connect.c): the exports of the tenants picked,
 * from --connect-config or their connect_config; EXIT_DONE when none has one. */
int check_connect(const struct cli *cli, const struct config *cfg);
int cmd_plan(const struct cli *cli, const struct config *cfg);
int cmd_explain(const struct cli *cli, const struct config *cfg);
int cmd_report(const struct cli *cli, const struct config *cfg);
int cmd_convert(const struct cli *cli, const struct config *cfg);
int cmd_run(const struct cli *cli, const struct config *cfg);
int cmd_watch(const struct cli *cli, const struct config *cfg);
/* protect-secret FILE: needs no configuration */
int cmd_protect_secret(const struct cli *cli);

#endif
