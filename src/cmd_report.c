/* cmd_report.c - `dualsync report`: the converted accounts per tenant as CSV,
 * JSON or HTML (report.h, doc/report.md).
 *
 * Everything the user typed is checked before any file is read, and the
 * whole report is rendered before a byte is written: a bad date, state or
 * tenant, or a damaged file, writes nothing (exit 2, or 3 for a file). */
#include "compat.h"

#include "cli.h"
#include "commands.h"
#include "config.h"
#include "log.h"
#include "report.h"
#include "util.h"

int cmd_report(const struct cli *cli, const struct config *cfg)
{
    if (cli->nargs)
        return log_error("report takes no argument ('%s'); see dualsync report --help", cli->args[0]),
               EXIT_USAGE;
    enum output_format format = cli->format == FORMAT_DEFAULT ? FORMAT_CSV : cli->format;
    if (format != FORMAT_CSV && format != FORMAT_JSON && format != FORMAT_HTML)
        return log_error("report: --format %s is not a report format; use csv, json or html",
                         format_name(format)), EXIT_USAGE;
    if (cli->bom && format != FORMAT_CSV)
        return log_error("report: --bom is for --format csv only"), EXIT_USAGE;

    struct report_filter f = { .tenant = cli->tenant, .run_id = cli->run_id };
    if (cli->since) {
        if (report_parse_time("--since", cli->since, false, &f.since))
            return EXIT_USAGE;
        f.has_since = true;
    }
    if (cli->until) {
        if (report_parse_time("--until", cli->until, true, &f.until))
            return EXIT_USAGE;
        f.has_until = true;
    }
    if (f.has_since && f.has_until && f.since > f.until)
        return log_error("--since %s is after --until %s: nothing can match; swap them", cli->since,
                         cli->until), EXIT_USAGE;
    if (cli->states && report_parse_states("--state", cli->states, &f.states))
        return EXIT_USAGE;
    if (cli->tenant && !config_tenant(cfg, cli->tenant)) {
        struct strbuf names = STRBUF_INIT;
        for (size_t i = 0; i < cfg->ntenants; i++)
            strbuf_addf(&names, "%s%s", i ? ", " : "", cfg->tenants[i].name);
        log_error("--tenant %s: no [tenant %s] in %s (tenants: %s)", cli->tenant, cli->tenant, cfg->path,
                  names.len ? names.buf : "none");
        strbuf_release(&names);
        return EXIT_USAGE;
    }
    if (!cfg->ntenants)
        return log_error("%s has no [tenant NAME] section: nothing to report; see dualsync.conf(5)",
                         cfg->path), EXIT_USAGE;

    struct report *r;
    if (report_gather(cfg, &f, &r))
        return EXIT_STOPPED;
    struct strbuf out = STRBUF_INIT;
    if (format == FORMAT_CSV)
        report_csv(r, cli->bom, &out);
    else if (format == FORMAT_JSON)
        report_json(r, &out);
    else
        report_html(r, &out);
    report_free(r);
    int rc = report_save(cli->output, &out) ? EXIT_STOPPED : EXIT_DONE;
    strbuf_release(&out);
    return rc;
}
