/* batch.c - one batch: pull, plan and convert per tenant, summary, report
 * (batch.h). Moved out of cmd_run.c, which keeps the commands and their
 * exit codes. */
#include "compat.h"

#include <cjson/cJSON.h>
#include <time.h>

#include "batch.h"
#include "config.h"
#include "convert.h"
#include "ldap_source.h"
#include "log.h"
#include "platform.h"
#include "report.h"
#include "util.h"
#include "world.h"

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
    json_add_str(root, "runId", run_id);
    cJSON_AddBoolToObject(root, "dryRun", dry_run);
    cJSON *ts = cJSON_AddArrayToObject(root, "tenants");
    for (size_t i = 0; i < n; i++) {
        const struct convert_result *r = &res[i];
        cJSON *j = cJSON_CreateObject();
        json_add_str(j, "tenant", r->tenant);
        json_add_str(j, "result", r->status == CONVERT_FATAL ? "stopped"
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
            json_add_str(j, "stopped", r->why);
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

enum convert_status batch_run(const struct batch_options *bo, const struct config *cfg, size_t first,
                              size_t end, int *load_rc)
{
    if (load_rc)
        *load_rc = 0;
    char *run_id = xasprintf("%lld-%ld", (long long)time(NULL), platform_pid());
    struct world w;
    struct ldap_watermark wm;
    memset(&wm, 0, sizeof(wm));
    int rc = world_load(&w, cfg, bo->full, !bo->dry_run, bo->progress, &wm);
    if (rc) {
        /* AD could not be read (in full): nothing may be written anywhere */
        world_free(&w);
        free(run_id);
        if (load_rc)
            *load_rc = rc;
        return CONVERT_STOPPED;
    }
    char *wm_text = watermark_text(&wm);
    struct convert_options o = { bo->dry_run, bo->max_changes, bo->allow_revert, run_id, wm_text,
                                 bo->full, bo->graphs };
    struct convert_result *res = xcalloc(end - first, sizeof(*res));
    enum convert_status worst = CONVERT_OK;
    for (size_t t = first; t < end; t++) {
        struct convert_result *r = &res[t - first];
        if (worst == CONVERT_FATAL) {
            /* a mapping file or audit trail could not be written: the disk
             * or the directory is at fault, so nothing more is tried */
            r->tenant = cfg->tenants[t].name;
            r->status = CONVERT_STOPPED;
            snprintf(r->why, sizeof(r->why), "tenant %s: not started: a write of an earlier "
                     "tenant's mapping file or audit trail failed", r->tenant);
            log_error("%s", r->why);
            continue;
        }
        enum convert_status st = convert_tenant(&w, t, &o, r);
        if (st > worst)
            worst = st;
    }
    if (bo->summary || log_get_level() >= LOG_NORMAL)
        convert_print_summary(stdout, res, end - first, bo->dry_run);
    for (size_t i = 0; bo->event && i < end - first; i++) {
        const struct convert_result *r = &res[i];
        static const char *const status[] = { "done", "done, with objects blocked, pending or failed",
                                              "stopped", "stopped (a write failed)" };
        strbuf_addf(bo->event, "tenant %s: %s; %llu objects, %llu invited, %llu recorded, "
                    "%llu userType set, %llu reverted, %llu gone, %llu blocked, %llu pending, "
                    "%llu failed; %llu Graph requests in %.1f s%s%s\n", r->tenant,
                    status[r->status], (unsigned long long)r->objects, (unsigned long long)r->invited,
                    (unsigned long long)r->recorded, (unsigned long long)r->user_type_set,
                    (unsigned long long)r->reverted, (unsigned long long)r->gone,
                    (unsigned long long)r->blocked, (unsigned long long)r->pending,
                    (unsigned long long)r->failed, (unsigned long long)r->graph_requests, r->seconds,
                    r->why[0] ? ": " : "", r->why);
    }
    /* run: the report module's one-screen summary and HTML page, read back
     * from what this run appended to the audit trails (a dry run wrote none:
     * its figures go to a JSON file instead) */
    if (bo->summary && !bo->dry_run && log_get_level() >= LOG_NORMAL) {
        fflush(stdout);
        if (report_print_run_summary(stdout, cfg, bo->tenant, run_id) && worst < CONVERT_RECORD)
            worst = CONVERT_RECORD;
    }
    if (bo->report) {
        int r = bo->dry_run ? write_report(bo->report, run_id, res, end - first, true)
                            : report_write_run_html(bo->report, cfg, bo->tenant, run_id);
        if (r && worst < CONVERT_RECORD)
            worst = CONVERT_RECORD;
    }
    free(res);
    free(wm_text);
    world_free(&w);
    free(run_id);
    fflush(stdout);
    return worst;
}
