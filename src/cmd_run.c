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

#include "batch.h"
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
#include "testhooks.h"
#include "util.h"
#include "world.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* The exit code of a batch (cli.h): the engine's statuses mapped here only. */
static int exit_of(enum convert_status st)
{
    switch (st) {
    case CONVERT_OK: return EXIT_DONE;
    case CONVERT_RECORD: return EXIT_PARTIAL;
    case CONVERT_STOPPED:
    case CONVERT_FATAL: return EXIT_STOPPED;
    }
    return EXIT_STOPPED;
}

/* One batch: pull, plan, convert for the tenants [first, end). */
static int batch(const struct cli *cli, const struct config *cfg, size_t first, size_t end, bool summary,
                 struct graph **graphs)
{
    struct strbuf event = STRBUF_INIT;
    struct batch_options bo = { cli->dry_run, cli->full, cli->progress, cli->max_changes,
                                cli->allow_revert, summary, cli->tenant, cli->report, graphs,
                                cli->dry_run ? NULL : &event };
    int load_rc = 0;
    enum convert_status st = batch_run(&bo, cfg, first, end, &load_rc);
    testhook_note_steps(mapstore_test_steps());
    int rc = load_rc ? load_rc : exit_of(st);
    /* the Application event log (Windows), as Connect logs its cycles:
     * event 1100 + the exit code (doc/deployment.md) */
    if (!cli->dry_run) {
        if (load_rc)
            strbuf_addstr(&event, "AD could not be read: nothing was written (see the task's output)\n");
        char *msg = xasprintf("dualsync %s%s%s: exit %d\n%s", cli->command, cli->tenant ? " --tenant " : "",
                              cli->tenant ? cli->tenant : "", rc, event.buf ? event.buf : "");
        platform_event_log(rc == EXIT_DONE ? PLATFORM_EVENT_INFO
                           : rc == EXIT_PARTIAL ? PLATFORM_EVENT_WARNING : PLATFORM_EVENT_ERROR,
                           1100u + (unsigned)rc, msg);
        free(msg);
    }
    strbuf_release(&event);
    return rc;
}

static int setup(const struct cli *cli, const struct config *cfg, size_t *first, size_t *end)
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

int cmd_convert(const struct cli *cli, const struct config *cfg)
{
    size_t first, end;
    int rc = setup(cli, cfg, &first, &end);
    return rc ? rc : batch(cli, cfg, first, end, false, NULL);
}

int cmd_run(const struct cli *cli, const struct config *cfg)
{
    size_t first, end;
    int rc = setup(cli, cfg, &first, &end);
    return rc ? rc : batch(cli, cfg, first, end, true, NULL);
}

/* ------------------------------------------------------------------ watch */

/* The tenant's last Connect cycle (0 if never or unknown), through its
 * handle *gp, which watch keeps from poll to poll and lends to the batches:
 * one token serves them all until it nears its expiry (graph_token), where
 * a handle per poll asked for a token a minute, 1,440 a day per tenant. A
 * handle a batch left stopped (a refusal, a long Retry-After) is replaced:
 * the stop concerned that batch, and the next poll starts afresh. */
static time_t last_sync(const struct tenant_config *tc, struct graph **gp)
{
    if (*gp && graph_stopped(*gp, NULL) != GRAPH_OK) {
        graph_close(*gp);
        *gp = NULL;
    }
    if (!*gp) {
        struct graph_params p;
        convert_graph_params(tc, &p);
        if (graph_open(&p, gp))
            return 0;
    }
    struct graph_organization org;
    memset(&org, 0, sizeof(org));
    time_t when = 0;
    if (graph_get_organization(*gp, &org) == GRAPH_OK)
        when = org.last_sync_time;
    else
        log_warn("tenant %s: cannot read organization.onPremisesLastSyncDateTime; trying again "
                 "at the next poll", tc->name);
    graph_organization_release(&org);
    return when;
}

int cmd_watch(const struct cli *cli, const struct config *cfg)
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
    struct graph **graphs = xcalloc(cfg->ntenants, sizeof(*graphs));   /* by tenant index */
    for (size_t t = first; t < end; t++)
        seen[t - first] = last_sync(&cfg->tenants[t], &graphs[t]);
    log_info("watch: a batch now, then one after each new Connect cycle (polling every %d s)", interval);
    rc = batch(cli, cfg, first, end, true, graphs);
    while (!stop_requested) {
        for (double slept = 0; slept < interval && !stop_requested; slept += 0.2)
            platform_sleep(0.2);
        if (stop_requested)
            break;
        bool cycle = false;
        for (size_t t = first; t < end && !stop_requested; t++) {
            time_t now = last_sync(&cfg->tenants[t], &graphs[t]);
            if (now > seen[t - first]) {
                log_info("tenant %s: Connect synced at %lld: running a batch", cfg->tenants[t].name,
                         (long long)now);
                seen[t - first] = now;
                cycle = true;
            }
        }
        if (cycle && !stop_requested)
            rc = batch(cli, cfg, first, end, true, graphs);
    }
    log_info("watch: stopped by a signal, between batches");
    for (size_t t = 0; t < cfg->ntenants; t++)
        graph_close(graphs[t]);
    free(graphs);
    free(seen);
    return rc;
}
