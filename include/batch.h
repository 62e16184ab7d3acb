/* batch.h - one batch of convert, run and watch: read AD, then plan and
 * execute each tenant's plan (convert.h), then the summary and the report.
 *
 * The tenants' outcomes stay in the engine's vocabulary (enum
 * convert_status); the commands (cmd_run.c) turn them into exit codes. */
#ifndef DUALSYNC_BATCH_H
#define DUALSYNC_BATCH_H

#include "compat.h"

#include "convert.h"

struct config;

struct batch_options {
    bool dry_run;
    bool full;                 /* read AD in full, check every blocked user again */
    bool progress;
    long max_changes;
    bool allow_revert;
    bool summary;              /* run: the report module's summary after the table */
    const char *tenant;        /* --tenant, or NULL: for the report */
    const char *report;        /* --report FILE, or NULL */
    struct graph **graphs;     /* watch's handles kept across batches (convert_options.graphs) */
    struct strbuf *event;      /* if not NULL: one line per tenant, for the event log */
};

/* One batch over the tenants [first, end) of cfg. Returns the worst status
 * of the tenants (a failed report makes it at least CONVERT_RECORD). When AD
 * cannot be read nothing is written and *load_rc (may be NULL) gets
 * world_load's exit code; otherwise it gets 0. After a CONVERT_FATAL tenant
 * the later tenants are not started. */
enum convert_status batch_run(const struct batch_options *bo, const struct config *cfg, size_t first,
                              size_t end, int *load_rc);

#endif
