/* cmd_run.c - `dualsync convert`, `dualsync run` and `dualsync watch`.
 *
 * convert and run do the same batch: read AD, decide and plan per tenant
 * against its mapping file, and execute the plan through Graph (convert.h);
 * run adds the summary and the report. watch runs one batch at start, then
 * one after each new Connect cycle of any tenant, as Graph's
 * organization.onPremisesLastSyncDateTime shows it (reference §2.6).
 *
 * AD is read through the copy kept in MAPPINGS_DIR/ad.snapshot (snapshot.h):
 * only what changed since the last batch comes over LDAP, and the policy
 * still decides on the whole set, as after a full read. The Graph side
 * follows the changes too: with nothing to do in a tenant, no request is
 * sent. */
#include "compat.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <signal.h>
#include <time.h>

#include "cli.h"
#include "commands.h"
#include "config.h"
#include "convert.h"
#include "graph.h"
#include "ldap_source.h"
#include "log.h"
#include "mapstore.h"
#include "platform.h"
#include "report.h"
#include "util.h"
#include "world.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* The text of the source's watermark, for the mapping files' headers. */
static char *watermark_text(const struct ldap_watermark *wm)
{
    return wm->invocation_id[0] ? ldap_watermark_format(wm) : xstrdup("");
}

/* A dry run's figures as JSON (--report with --dry-run: no audit entry was
 * written, so the report module has nothing to render). */
static int write_report(const char *path, const char *run_id, const struct convert_result *res,
                        size_t n, bool dry_run)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "runId", run_id);
    cJSON_AddBoolToObject(root, "dryRun", dry_run);
    cJSON *ts = cJSON_AddArrayToObject(root, "tenants");
    for (size_t i = 0; i < n; i++) {
        const struct convert_result *r = &res[i];
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "tenant", r->tenant);
        cJSON_AddStringToObject(j, "result", r->status == CONVERT_FATAL ? "stopped"
                                : convert_status_name(r->status));
        cJSON_AddNumberToObject(j, "objects", (double)r->objects);
        cJSON *p = cJSON_AddObjectToObject(j, "planned");
        for (int k = 0; k < PLAN_ACTION_COUNT; k++)
            cJSON_AddNumberToObject(p, plan_action_name((enum plan_action_kind)k), (double)r->planned[k]);
        cJSON_AddNumberToObject(j, "invited", (double)r->invited);
        cJSON_AddNumberToObject(j, "recorded", (double)r->recorded);
        cJSON_AddNumberToObject(j, "userTypeSet", (double)r->user_type_set);
        cJSON_AddNumberToObject(j, "reverted", (double)r->reverted);
        cJSON_AddNumberToObject(j, "gone", (double)r->gone);
        cJSON_AddNumberToObject(j, "blocked", (double)r->blocked);
        cJSON_AddNumberToObject(j, "pending", (double)r->pending);
        cJSON_AddNumberToObject(j, "failed", (double)r->failed);
        cJSON_AddNumberToObject(j, "graphRequests", (double)r->graph_requests);
        cJSON_AddNumberToObject(j, "graphHttpExchanges", (double)r->graph_http);
        cJSON_AddNumberToObject(j, "seconds", r->seconds);
        if (r->why[0])
            cJSON_AddStringToObject(j, "stopped", r->why);
        cJSON_AddItemToArray(ts, j);
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    size_t len = strlen(text);
    text[len] = '\n';
    int rc = platform_write_file_atomic(path, text, len + 1);
    cJSON_free(text);
    if (rc)
        return log_error("--report %s: cannot write it", path);
    return 0;
}

/* One batch: pull, plan, convert for the tenants [first, end). */
static int batch(const struct cli *cli, struct config *cfg, size_t first, size_t end, bool summary)
{
    char *run_id = xasprintf("%lld-%ld", (long long)time(NULL), platform_pid());
    int rc;
    struct world w;
    struct ldap_watermark wm;
    memset(&wm, 0, sizeof(wm));
    rc = world_load(&w, cfg, cli->full, !cli->dry_run, cli->progress, &wm);
    if (rc) {
        /* AD could not be read (in full): nothing may be written anywhere */
        world_free(&w);
        free(run_id);
        return rc;
    }
    char *wm_text = watermark_text(&wm);
    struct convert_options o = { cli->dry_run, cli->max_changes, cli->allow_revert, run_id, wm_text,
                                 cli->full };
    struct convert_result *res = xcalloc(end - first, sizeof(*res));
    enum convert_status worst = CONVERT_OK;
    for (size_t t = first; t < end; t++) {
        enum convert_status st = convert_tenant(&w, t, &o, &res[t - first]);
        if (st > worst)
            worst = st;
    }
    /* the engine's statuses become exit codes here only */
    rc = worst == CONVERT_OK ? EXIT_DONE : worst == CONVERT_RECORD ? EXIT_PARTIAL : EXIT_STOPPED;
    if (summary || log_get_level() >= LOG_NORMAL)
        convert_print_summary(stdout, res, end - first, cli->dry_run);
    /* run: the report module's one-screen summary and HTML page, read back
     * from what this run appended to the audit trails (a dry run wrote none:
     * its figures go to a JSON file instead) */
    if (summary && !cli->dry_run && log_get_level() >= LOG_NORMAL) {
        fflush(stdout);
        if (report_print_run_summary(stdout, cfg, cli->tenant, run_id) && rc < EXIT_PARTIAL)
            rc = EXIT_PARTIAL;
    }
    if (cli->report) {
        int r = cli->dry_run ? write_report(cli->report, run_id, res, end - first, true)
                             : report_write_run_html(cli->report, cfg, cli->tenant, run_id);
        if (r && rc < EXIT_PARTIAL)
            rc = EXIT_PARTIAL;
    }
    free(res);
    free(wm_text);
    world_free(&w);
    free(run_id);
    fflush(stdout);
    return rc;
}

static int setup(const struct cli *cli, struct config *cfg, size_t *first, size_t *end)
{
    if (cli->nargs) {
        log_error("%s takes no arguments; see dualsync %s --help", cli->command, cli->command);
        return EXIT_USAGE;
    }
    if (!cfg->ntenants) {
        log_error("%s has no [tenant NAME] section: nothing to convert; see dualsync.conf(5)", cfg->path);
        return EXIT_USAGE;
    }
    if (pick_tenants(cfg, cli->tenant, first, end))
        return EXIT_USAGE;
    if (cli->test_step_limit)
        mapstore_test_step_limit(cli->test_step_limit);
    /* a first run creates the mappings directory (a dry run writes nothing) */
    if (!cli->dry_run && platform_mkdir(cfg->mappings_dir))
        return EXIT_STOPPED;
    return EXIT_DONE;
}

int cmd_convert(const struct cli *cli, struct config *cfg)
{
    size_t first, end;
    int rc = setup(cli, cfg, &first, &end);
    return rc ? rc : batch(cli, cfg, first, end, false);
}

int cmd_run(const struct cli *cli, struct config *cfg)
{
    size_t first, end;
    int rc = setup(cli, cfg, &first, &end);
    return rc ? rc : batch(cli, cfg, first, end, true);
}

/* ------------------------------------------------------------------ watch */

/* The tenant's last Connect cycle (0 if never or unknown). */
static time_t last_sync(const struct tenant_config *tc)
{
    struct graph_params p;
    convert_graph_params(tc, &p);
    struct graph *g;
    if (graph_open(&p, &g))
        return 0;
    struct graph_organization org;
    memset(&org, 0, sizeof(org));
    time_t when = 0;
    if (graph_get_organization(g, &org) == GRAPH_OK)
        when = org.last_sync_time;
    else
        log_warn("tenant %s: cannot read organization.onPremisesLastSyncDateTime; trying again "
                 "at the next poll", tc->name);
    graph_organization_release(&org);
    graph_close(g);
    return when;
}

int cmd_watch(const struct cli *cli, struct config *cfg)
{
    size_t first, end;
    int rc = setup(cli, cfg, &first, &end);
    if (rc)
        return rc;
    int interval = cli->interval ? cli->interval : 60;
    /* a signal only raises the flag: the batch under way finishes (every
     * journal step and commit with it), then watch ends */
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    time_t *seen = xcalloc(end - first, sizeof(*seen));
    for (size_t t = first; t < end; t++)
        seen[t - first] = last_sync(&cfg->tenants[t]);
    log_info("watch: a batch now, then one after each new Connect cycle (polling every %d s)", interval);
    rc = batch(cli, cfg, first, end, true);
    while (!stop_requested) {
        for (double slept = 0; slept < interval && !stop_requested; slept += 0.2)
            platform_sleep(0.2);
        if (stop_requested)
            break;
        bool cycle = false;
        for (size_t t = first; t < end && !stop_requested; t++) {
            time_t now = last_sync(&cfg->tenants[t]);
            if (now > seen[t - first]) {
                log_info("tenant %s: Connect synced at %lld: running a batch", cfg->tenants[t].name,
                         (long long)now);
                seen[t - first] = now;
                cycle = true;
            }
        }
        if (cycle && !stop_requested)
            rc = batch(cli, cfg, first, end, true);
    }
    log_info("watch: stopped by a signal, between batches");
    free(seen);
    return rc;
}
