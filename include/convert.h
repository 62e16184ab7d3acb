/* convert.h - execute one tenant's plan through Microsoft Graph.
 *
 * For each action the planner gives (planner.h) against the tenant's mapping
 * records, convert finds the synced cloud user by onPremisesImmutableId,
 * checks the preconditions of reference graph-api.md §1.4 and either records
 * why it is blocked (with the remedy) or makes the change:
 *   convert       POST /invitations with invitedUser.id, then PATCH userType
 *                 where the decision asks for one the user does not have
 *   set-usertype  PATCH userType
 *   revert        beta convertExternalToInternalMemberUser (allow_revert only)
 *   forget        the record becomes gone; Graph is not touched
 *
 * Crash safety (mapstore.h): before each Graph call with a side effect, its
 * intent is journaled and fsynced; its outcome is put as soon as its answer
 * is in. A conversion whose outcome is unknown (crash, lost answer) is never
 * sent again blind: the user's externalUserState in Graph says whether the
 * invitation happened (§1.6).
 *
 * Idempotent: with nothing new in AD or Graph, a second run writes nothing
 * (no Graph write, no mapping change, no audit entry), and it opens no Graph
 * connection at all when nothing needs checking.
 *
 * Circuit breaker: more planned changes in the tenant than its max_changes
 * (or options->max_changes) and nothing at all is done in it. Rechecks of
 * records already blocked or pending do not count: they were counted when
 * they were first planned. */
#ifndef DUALSYNC_CONVERT_H
#define DUALSYNC_CONVERT_H

#include "compat.h"

#include "planner.h"

struct world;

struct convert_options {
    bool dry_run;              /* write nothing anywhere; Graph is only read */
    long max_changes;          /* > 0: replaces the tenant's max_changes for this run */
    bool allow_revert;         /* external → internal member (beta API) */
    const char *run_id;        /* for the audit trail */
    const char *watermark;     /* the source's position after this run's pull, for the header */
    bool check_all;            /* check every blocked user again, changed in Graph or not (--full) */
};

/* What happened in one tenant, for the run's summary and report. */
struct convert_result {
    const char *tenant;        /* the config's name (borrowed) */
    int exit_code;             /* EXIT_DONE, EXIT_PARTIAL or EXIT_STOPPED (cli.h) */
    uint64_t objects;          /* objects decided */
    uint64_t planned[PLAN_ACTION_COUNT];
    uint64_t changes;          /* what the circuit breaker counted */
    uint64_t invited;          /* invitations sent and accepted by Graph */
    uint64_t recorded;         /* already external in Graph: only recorded */
    uint64_t user_type_set;    /* PATCH userType done */
    uint64_t reverted;
    uint64_t gone;
    uint64_t blocked;          /* a precondition fails (the mapping file says which) */
    uint64_t pending;          /* not synced to the tenant yet */
    uint64_t failed;           /* Graph refused or the outcome is still unknown */
    uint64_t skipped;          /* reverts without allow_revert, dry-run changes */
    uint64_t recovered;        /* intents of an interrupted run settled from Graph */
    uint64_t graph_requests;   /* Graph requests (inside $batch or not) */
    uint64_t graph_http;       /* HTTP exchanges with Graph */
    double seconds;
    char why[512];             /* when stopped: why, with the remedy */
};

/* Plan and execute tenant t of w->cfg. Fills *res (always). Returns
 * res->exit_code. A fatal mapping-store write failure returns EXIT_STOPPED
 * with the store left for the next run to recover. */
int convert_tenant(const struct world *w, size_t t, const struct convert_options *o,
                   struct convert_result *res);

/* The Graph client's parameters for tenant tc (graph.h; strings borrowed
 * from tc). Test-only environment: DUALSYNC_GRAPH_CA_FILE and
 * DUALSYNC_GRAPH_CONNECT_TO reach the simulator, DUALSYNC_GRAPH_TIME_SCALE
 * tells the pacer that its throttling windows run faster. */
struct graph_params;
struct tenant_config;
void convert_graph_params(const struct tenant_config *tc, struct graph_params *p);

/* One line per tenant (and a total) on out: what was done. */
void convert_print_summary(FILE *out, const struct convert_result *res, size_t n, bool dry_run);

#endif
