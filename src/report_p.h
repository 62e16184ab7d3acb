/* report_p.h - the gathered report, shared by report.c and its three writers
 * (report_csv.c, report_json.c, report_html.c). Plain data, read-only for the
 * writers; every string is non-NULL ("" when unknown) and lives as long as the
 * report (in its arena or its open mapping stores). */
#ifndef DUALSYNC_REPORT_P_H
#define DUALSYNC_REPORT_P_H

#include "compat.h"

#include "report.h"
#include "util.h"

/* The outcome words of audit.h, counted per tenant; anything else is OTHER. */
enum report_outcome {
    REPORT_OUTCOME_DONE,
    REPORT_OUTCOME_DRY_RUN,
    REPORT_OUTCOME_BLOCKED,
    REPORT_OUTCOME_FAILED,
    REPORT_OUTCOME_SKIPPED,
    REPORT_OUTCOME_OTHER,
    REPORT_OUTCOME_COUNT
};
const char *report_outcome_name(enum report_outcome o);   /* "done", "dry-run", ..., "other" */

/* One audit entry of the period (and run, if one was asked for). */
struct report_event {
    int64_t time;
    const char *run, *action, *outcome;
    const char *decision, *rule;
    const char *user_type_before, *user_type_after;
    const char *state_before, *state_after;      /* externalUserState */
    const char *request_id, *invitation_id, *error;
    struct report_event *next;                   /* the next one of the same account */
};

/* One account of one tenant. */
struct report_row {
    unsigned state;                 /* enum map_state or REPORT_STATE_UNMAPPED */
    const char *anchor, *decision, *user_type, *cloud_id, *object_guid, *upn, *display_name, *dn;
    const char *rule, *invitation_id, *last_error;
    const char *external_state;     /* externalUserState after the latest action that told it */
    int64_t first_change, last_change;   /* from the mapping file; 0: not set */
    int64_t converted_at;           /* first convert action done (audit trail); 0: none seen */
    struct report_event *history, *history_tail;   /* in the period, file order */
    size_t nevents;
    /* internal to report.c while gathering */
    bool in_period, has_record;
};

/* Blocked accounts of one reason (the part of last_error before its remedy). */
struct report_reason {
    const char *reason;
    size_t count;
};

/* Actions of the period by word and outcome ("convert" done: 12). */
struct report_action_count {
    const char *action;
    size_t count[REPORT_OUTCOME_COUNT];
};

/* Conversions done on one day (days since 1970-01-01, UTC). */
struct report_day {
    int64_t day;
    size_t count;
};

struct report_tenant {
    const char *name, *tenant_id, *cloud, *mapping_file, *audit_file;
    struct report_row **rows;       /* the accounts reported, by UPN then anchor */
    size_t nrows;
    /* summary of the rows reported */
    size_t states[REPORT_STATE_COUNT];
    struct report_reason *reasons;  /* of the blocked rows, most frequent first */
    size_t nreasons;
    size_t outcomes[REPORT_OUTCOME_COUNT];   /* audit entries of the period */
    struct report_action_count *actions;     /* by action word, in order of first use */
    size_t nactions;
    struct report_day *days;        /* convert actions done in the period, by day, ascending */
    size_t ndays;
    size_t tenant_events;           /* entries of the period that name no object */
    /* the whole tenant, whatever the filter: accounts by state */
    size_t totals[REPORT_STATE_COUNT];
};

struct report {
    struct report_filter filter;    /* strings point into the arena */
    int64_t generated;              /* the report's date */
    struct report_tenant *tenants;
    size_t ntenants;
    struct mapstore **stores;       /* open read-only until report_free */
    struct arena arena;
};

/* "converted" in every summary: accounts that are external now. */
static inline size_t report_converted(const size_t *states)
{
    return states[MAP_STATE_INVITED] + states[MAP_STATE_ACCEPTED];
}

/* ---- helpers for the writers (report.c) ---- */

/* "2026-11-18T11:06:40Z" (out: 21 bytes); "" for 0. */
void report_time_text(int64_t t, char out[21]);
/* "2026-11-18" for a day number (out: 11 bytes). */
void report_day_text(int64_t day, char out[11]);
/* The SHA-256 of data as base64 (for the HTML page's Content-Security-Policy). */
void report_sha256_base64(const char *data, size_t len, char out[45]);

#endif
