/* cli.h - the command line: one sorted table of options for every subcommand.
 *
 * cli_parse fills struct cli from argv (nothing is allocated: strings point
 * into argv). Secrets are never accepted on the command line. */
#ifndef DUALSYNC_CLI_H
#define DUALSYNC_CLI_H

#include "compat.h"

/* Stable exit codes (documented in README.md and dualsync(1)). */
enum exit_code {
    EXIT_DONE = 0,      /* everything done */
    EXIT_PARTIAL = 1,   /* done, but some objects were blocked or failed */
    EXIT_USAGE = 2,     /* bad command line or configuration: nothing was done */
    EXIT_STOPPED = 3,   /* the source or a tenant failed and was stopped: nothing written for it */
};

enum output_format {
    FORMAT_DEFAULT, FORMAT_SUMMARY, FORMAT_NDJSON, FORMAT_JSON, FORMAT_TABLE, FORMAT_CSV, FORMAT_TEXT,
    FORMAT_HTML
};

struct cli {
    const char *command;        /* "pull", "check", ... */
    const char *config_path;
    int verbosity;              /* -1 quiet, 0 normal, 1 verbose, 2 debug */
    enum output_format format;
    bool full;                  /* ignore the delta watermark */
    bool progress;              /* progress meter on a terminal (default yes) */
    bool help;
    const char *watermark_file;
    const char *ad_snapshot;    /* --ad-snapshot FILE: AD from a kept copy, not LDAP */
    const char *tenant;
    const char *connect_config; /* check: a Connect export folder to judge */
    /* report */
    const char *since, *until;  /* as typed: report_parse_time checks them */
    const char *states;         /* --state: a comma-separated list, checked by report_parse_states */
    const char *run_id;         /* --run */
    const char *output;         /* -o FILE; NULL: stdout */
    bool bom;                   /* CSV: UTF-8 byte order mark for Excel */
    bool dry_run;               /* convert, run, watch: write nothing anywhere */
    bool allow_revert;
    int max_changes;            /* > 0: confirms that many changes per tenant */
    int interval;               /* watch: seconds between polls; 0: the default */
    int test_step_limit;        /* hidden: exit 100 after this journal step (crash test) */
    const char *report;         /* run: report file */
    bool user_scope;            /* protect-secret --scope user (default machine) */
    char **args;                /* positional arguments after the command */
    int nargs;
};

/* Returns EXIT_DONE, or EXIT_USAGE after printing what is wrong. */
int cli_parse(int argc, char **argv, struct cli *cli);
void cli_usage(FILE *out, const char *command);
const char *format_name(enum output_format f);

/* The option table, for its unit test: the i-th option's long name, whether
 * it has a --no- form, and the subcommands that take it (NULL: all);
 * false past the end. */
bool cli_option_at(size_t i, const char **name, bool *negatable, const char **commands);

#endif
