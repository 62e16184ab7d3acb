/* main.c - only dispatches: parse the command line, load the config, run the command. */
#include "compat.h"

#include <locale.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "config.h"
#include "log.h"
#include "platform.h"

#ifndef DUALSYNC_VERSION
#define DUALSYNC_VERSION "0.1.0"
#endif

static const char *default_config(void)
{
    static char path[512];
    if (access("dualsync.conf", F_OK) == 0)
        return "dualsync.conf";
    snprintf(path, sizeof(path), "%s/dualsync.conf", platform_config_dir());
    return path;
}

int main(int argc, char **argv)
{
    setlocale(LC_CTYPE, "");
    platform_init();
    platform_args(&argc, &argv);
    struct cli cli;
    int rc = cli_parse(argc, argv, &cli);
    if (rc)
        goto out;
    log_set_level((enum log_level)cli.verbosity);
    if (!cli.command || !strcmp(cli.command, "help")) {
        cli_usage(stdout, cli.nargs ? cli.args[0] : NULL);
        goto out;
    }
    if (cli.help) {
        cli_usage(stdout, cli.command);
        goto out;
    }
    if (!strcmp(cli.command, "version")) {
        printf("dualsync %s\n", DUALSYNC_VERSION);
        goto out;
    }
    if (!strcmp(cli.command, "protect-secret")) {
        rc = cmd_protect_secret(&cli);
        goto out;
    }
    struct config cfg;
    if (config_load(cli.config_path ? cli.config_path : default_config(), &cfg)) {
        config_free(&cfg);
        rc = EXIT_USAGE;
        goto out;
    }
    cfg.ldap.snapshot_in = cli.ad_snapshot;
    if (!strcmp(cli.command, "pull"))
        rc = cmd_pull(&cli, &cfg);
    else if (!strcmp(cli.command, "check"))
        rc = cmd_check(&cli, &cfg);
    else if (!strcmp(cli.command, "plan"))
        rc = cmd_plan(&cli, &cfg);
    else if (!strcmp(cli.command, "explain"))
        rc = cmd_explain(&cli, &cfg);
    else if (!strcmp(cli.command, "report"))
        rc = cmd_report(&cli, &cfg);
    else if (!strcmp(cli.command, "convert"))
        rc = cmd_convert(&cli, &cfg);
    else if (!strcmp(cli.command, "run"))
        rc = cmd_run(&cli, &cfg);
    else if (!strcmp(cli.command, "watch"))
        rc = cmd_watch(&cli, &cfg);
    config_free(&cfg);
out:
    free(cli.args);
    return rc;
}
