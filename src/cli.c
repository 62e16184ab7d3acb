#include "compat.h"

#include <strings.h>

#include "cli.h"
#include "log.h"
#include "testhooks.h"
#include "util.h"

enum arg_type { ARG_NONE, ARG_BOOL, ARG_STRING };

enum opt_id {
    O_AD_SNAPSHOT, O_SCOPE, O_ALLOW_REVERT, O_BOM, O_CONFIG, O_CONNECT_CONFIG, O_DEBUG, O_DRY_RUN,
    O_FORMAT, O_FULL, O_HELP, O_INTERVAL,
    O_MAX_CHANGES, O_OUTPUT, O_PROGRESS, O_QUIET, O_REPORT, O_RUN, O_SINCE, O_STATE, O_TENANT,
    O_TEST_STEP_LIMIT, O_UNTIL, O_VERBOSE, O_WATERMARK_FILE,
};

struct opt {
    const char *name;      /* long name; the table MUST stay sorted by it (bsearch) */
    char letter;
    enum arg_type type;    /* ARG_BOOL options also take a --no- form */
    enum opt_id id;
    const char *commands;  /* subcommands that take it; NULL: all */
    const char *help;
};

static const struct opt opts[] = {
    { "ad-snapshot", 0, ARG_STRING, O_AD_SNAPSHOT, "check,plan,explain,convert,run",
      "read AD from FILE, the copy another dualsync with this scope kept (its mappings_dir/ad.snapshot), "
      "instead of over LDAP" },
    { "allow-revert", 0, ARG_BOOL, O_ALLOW_REVERT, "convert,run,watch",
      "make users whose home tenant this became internal members again (beta API)" },
    { "bom", 0, ARG_BOOL, O_BOM, "report", "csv: start with a UTF-8 byte order mark, for Excel (default no)" },
    { "config", 'c', ARG_STRING, O_CONFIG, NULL, "configuration file (default dualsync.conf)" },
    { "connect-config", 0, ARG_STRING, O_CONNECT_CONFIG, "check",
      "judge the folder Get-ADSyncServerConfiguration wrote on the tenant's Connect server "
      "(one tenant: --tenant), and only that" },
    { "debug", 0, ARG_NONE, O_DEBUG, NULL, "print debug messages" },
    { "dry-run", 'n', ARG_BOOL, O_DRY_RUN, "convert,run,watch",
      "read AD and Graph, say what would be done, write nothing anywhere" },
    { "format", 'f', ARG_STRING, O_FORMAT, "pull,plan,explain,report",
      "output: pull: summary (default) or ndjson; plan: table (default), json or csv; "
      "explain: text (default) or json; report: csv (default), json or html" },
    { "full", 0, ARG_BOOL, O_FULL, "pull,plan,explain,convert,run,watch",
      "read AD in full, ignoring the delta watermark (pull) or the kept copy of AD" },
    { "help", 'h', ARG_NONE, O_HELP, NULL, "show this help" },
    { "interval", 0, ARG_STRING, O_INTERVAL, "watch",
      "seconds between two looks at each tenant's last Connect cycle (default 60)" },
    { "max-changes", 0, ARG_STRING, O_MAX_CHANGES, "convert,run,watch",
      "confirm up to N changes per tenant in this run (overrides max_changes)" },
    { "output", 'o', ARG_STRING, O_OUTPUT, "pull,report",
      "write to this file (atomically, only once complete) instead of stdout" },
    { "progress", 0, ARG_BOOL, O_PROGRESS, NULL, "progress meter on a terminal (default on)" },
    { "quiet", 'q', ARG_NONE, O_QUIET, NULL, "print errors only" },
    { "report", 0, ARG_STRING, O_REPORT, "run", "also write the run's HTML report to FILE (with --dry-run: its figures as JSON)" },
    { "run", 0, ARG_STRING, O_RUN, "report", "only what this run did (its id, as in the audit trail)" },
    { "scope", 0, ARG_STRING, O_SCOPE, "protect-secret",
      "machine (default: any account of this machine may decrypt; the file's ACL guards it) or "
      "user (only the account that runs this command)" },
    { "since", 0, ARG_STRING, O_SINCE, "report",
      "accounts with activity from this date or time on (YYYY-MM-DD[THH:MM[:SS]], UTC)" },
    { "state", 0, ARG_STRING, O_STATE, "report",
      "only accounts in these states (pending, invited, accepted, blocked, reverted, gone, unmapped; "
      "comma-separated)" },
    { "tenant", 't', ARG_STRING, O_TENANT, "check,plan,explain,report,convert,run,watch", "only this tenant" },
    /* hidden: the crash test's "end the process after journal step N" (isync's -Ts) */
    { "test-step-limit", 0, ARG_STRING, O_TEST_STEP_LIMIT, "convert,run", NULL },
    { "until", 0, ARG_STRING, O_UNTIL, "report",
      "accounts with activity up to this date (the whole day) or time, UTC" },
    { "verbose", 'v', ARG_NONE, O_VERBOSE, NULL, "say more" },
    { "watermark-file", 0, ARG_STRING, O_WATERMARK_FILE, "pull",
      "delta watermark file (default [ldap] watermark_file)" },
};

static const struct {
    const char *name;
    const char *summary;
} commands[] = {
    { "check", "check the configuration and the LDAP connection and bind" },
    { "pull", "read the scoped objects from AD DS: a summary, or one JSON object per line" },
    { "plan", "decide per tenant and list the actions a conversion would take, with reasons" },
    { "explain", "explain USER: for every tenant, the rule that decides, what it read, the outcome" },
    { "report", "the converted accounts per tenant: state, history, figures; as CSV, JSON or HTML" },
    { "convert", "execute the plan: convert users to external users through Microsoft Graph" },
    { "run", "one batch after a Connect cycle: pull, plan and convert, then a summary" },
    { "watch", "wait for each tenant's next Connect cycle, then run; until SIGTERM" },
    { "protect-secret", "FILE: write the secret read on standard input to FILE, "
      "protected with DPAPI (Windows)" },
    { "help", "show help for a command" },
    { "version", "show the version" },
};

static int cmp_opt(const void *key, const void *elem)
{
    return strcmp(key, ((const struct opt *)elem)->name);
}

static bool takes(const struct opt *o, const char *command)
{
    if (!o->commands)
        return true;
    size_t n = strlen(command);
    for (const char *p = o->commands; (p = strstr(p, command)); p += n)
        if ((p == o->commands || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
            return true;
    return false;
}

static const char *known_command(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
        if (!strcmp(commands[i].name, name))
            return commands[i].name;
    return NULL;
}

const char *format_name(enum output_format f)
{
    static const char *const names[] = { "default", "summary", "ndjson", "json", "table", "csv", "text",
                                         "html" };
    return names[f];
}

static int set_option(struct cli *cli, const struct opt *o, bool negated, const char *arg)
{
    switch (o->id) {
    case O_CONFIG: cli->config_path = arg; break;
    case O_CONNECT_CONFIG: cli->connect_config = arg; break;
    case O_DEBUG: cli->verbosity = 2; break;
    case O_VERBOSE: cli->verbosity = cli->verbosity < 1 ? 1 : cli->verbosity; break;
    case O_QUIET: cli->verbosity = -1; break;
    case O_HELP: cli->help = true; break;
    case O_FULL: cli->full = !negated; break;
    case O_AD_SNAPSHOT: cli->ad_snapshot = arg; break;
    case O_SCOPE:
        if (strcmp(arg, "machine") && strcmp(arg, "user"))
            return log_error("--scope: machine or user, not '%s'", arg), EXIT_USAGE;
        cli->user_scope = !strcmp(arg, "user");
        break;
    case O_PROGRESS: cli->progress = !negated; break;
    case O_TENANT: cli->tenant = arg; break;
    case O_WATERMARK_FILE: cli->watermark_file = arg; break;
    case O_BOM: cli->bom = !negated; break;
    case O_OUTPUT: cli->output = arg; break;
    case O_RUN: cli->run_id = arg; break;
    case O_SINCE: cli->since = arg; break;
    case O_UNTIL: cli->until = arg; break;
    case O_STATE: cli->states = arg; break;
    case O_ALLOW_REVERT: cli->allow_revert = !negated; break;
    case O_DRY_RUN: cli->dry_run = !negated; break;
    case O_REPORT: cli->report = arg; break;
    case O_INTERVAL:
        if (parse_int(arg, 1, 86400, &cli->interval))
            return log_error("--interval: seconds from 1 to 86400, not '%s'", arg), EXIT_USAGE;
        break;
    case O_MAX_CHANGES:
        if (parse_int(arg, 0, 100000000, &cli->max_changes))
            return log_error("--max-changes: a number of changes, not '%s'", arg), EXIT_USAGE;
        break;
    case O_TEST_STEP_LIMIT:
        if (!testhooks_enabled())
            return log_error("--test-step-limit is a test hook: only the test build "
                             "(dualsync-test) has it"), EXIT_USAGE;
        if (parse_int(arg, 1, 1000000000, &cli->test_step_limit))
            return log_error("--test-step-limit: a positive number, not '%s'", arg), EXIT_USAGE;
        break;
    case O_FORMAT: {
        enum output_format f;
        for (f = FORMAT_SUMMARY; f <= FORMAT_HTML; f++)
            if (!strcasecmp(arg, format_name(f)))
                break;
        if (f > FORMAT_HTML)
            return log_error("--format: unknown format '%s'", arg), EXIT_USAGE;
        cli->format = f;
        break;
    }
    }
    return EXIT_DONE;
}

int cli_parse(int argc, char **argv, struct cli *cli)
{
    memset(cli, 0, sizeof(*cli));
    cli->progress = true;
    cli->args = calloc((size_t)argc + 1, sizeof(char *));
    if (!cli->args)
        abort();
    bool only_args = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_args || a[0] != '-' || a[1] == '\0') {
            if (!cli->command) {
                cli->command = known_command(a);
                if (!cli->command) {
                    log_error("unknown command '%s'; see dualsync --help", a);
                    return EXIT_USAGE;
                }
            } else {
                cli->args[cli->nargs++] = argv[i];
            }
            continue;
        }
        if (!strcmp(a, "--")) {
            only_args = true;
            continue;
        }
        const struct opt *o = NULL;
        bool negated = false;
        const char *inline_arg = NULL;
        char name[64];
        if (a[1] == '-') {
            snprintf(name, sizeof(name), "%s", a + 2);
            char *eq = strchr(name, '=');
            if (eq) {
                *eq = '\0';
                inline_arg = a + 2 + (eq - name) + 1;
            }
            o = bsearch(name, opts, ARRAY_SIZE(opts), sizeof(opts[0]), cmp_opt);
            if (!o && !strncmp(name, "no-", 3)) {
                o = bsearch(name + 3, opts, ARRAY_SIZE(opts), sizeof(opts[0]), cmp_opt);
                if (o && o->type != ARG_BOOL)
                    o = NULL;
                negated = o != NULL;
            }
        } else if (a[2] == '\0') {
            for (size_t k = 0; k < ARRAY_SIZE(opts); k++)
                if (opts[k].letter == a[1])
                    o = &opts[k];
        }
        if (!o) {
            log_error("unknown option '%s'; see dualsync %s%s--help", a, cli->command ? cli->command : "",
                      cli->command ? " " : "");
            return EXIT_USAGE;
        }
        if (cli->command && !takes(o, cli->command)) {
            log_error("option --%s does not apply to '%s'", o->name, cli->command);
            return EXIT_USAGE;
        }
        const char *arg = NULL;
        if (o->type == ARG_STRING) {
            if (inline_arg)
                arg = inline_arg;
            else if (i + 1 < argc)
                arg = argv[++i];
            else {
                log_error("option --%s needs a value", o->name);
                return EXIT_USAGE;
            }
        } else if (inline_arg) {
            log_error("option --%s takes no value", o->name);
            return EXIT_USAGE;
        }
        int rc = set_option(cli, o, negated, arg);
        if (rc)
            return rc;
    }
    return EXIT_DONE;
}

bool cli_option_at(size_t i, const char **name, bool *negatable, const char **takers)
{
    if (i >= ARRAY_SIZE(opts))
        return false;
    *name = opts[i].name;
    *negatable = opts[i].type == ARG_BOOL;
    *takers = opts[i].commands;
    return true;
}

void cli_usage(FILE *out, const char *command)
{
    if (!command) {
        fputs("usage: dualsync [-c FILE] COMMAND [OPTIONS]\n\ncommands:\n", out);
        for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
            fprintf(out, "  %-14s %s\n", commands[i].name, commands[i].summary);
        fputs("\n'dualsync COMMAND --help' shows the options of a command.\n"
              "exit codes: 0 done, 1 some objects blocked or failed, 2 usage or configuration\n"
              "error (nothing done), 3 the source or a tenant failed and was stopped.\n", out);
        return;
    }
    for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
        if (!strcmp(commands[i].name, command))
            fprintf(out, "usage: dualsync [-c FILE] %s [OPTIONS]\n%s\n\noptions:\n", command,
                    commands[i].summary);
    for (size_t i = 0; i < ARRAY_SIZE(opts); i++) {
        const struct opt *o = &opts[i];
        if (!takes(o, command) || !o->help)
            continue;
        char flag[64], letter[8] = "    ";
        if (o->letter)
            snprintf(letter, sizeof(letter), "-%c, ", o->letter);
        snprintf(flag, sizeof(flag), "%s--%s%s%s", letter, o->type == ARG_BOOL ? "[no-]" : "",
                 o->name, o->type == ARG_STRING ? " X" : "");
        fprintf(out, "  %-30s %s\n", flag, o->help);
    }
}
