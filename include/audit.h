/* audit.h - the append-only audit trail of one tenant (mappings/<tenant>.audit).
 *
 * One JSON object per line (JSON Lines), one line per action attempted and its
 * outcome: what auditors ask for — who, in which tenant, when, by which rule,
 * with what result, and the Graph request-id that Microsoft support can trace.
 * Never a secret: entries hold identities, decisions and Graph's own error text.
 *
 * Crash discipline: each line is written with one write() and fsynced before
 * audit_append returns, so an acknowledged entry survives a crash or a power
 * cut. A crash in the middle of a write leaves a torn last line; audit_open
 * cuts it off (it was never acknowledged) before appending.
 *
 * Calling sequence:  audit_open → audit_append ... → audit_close. */
#ifndef DUALSYNC_AUDIT_H
#define DUALSYNC_AUDIT_H

#include <time.h>

#include "compat.h"

struct audit;
struct cJSON;

/* Any field may be NULL (then it is left out of the line). */
struct audit_entry {
    time_t time;                 /* 0: now */
    const char *run_id;          /* one id per dualsync run */
    const char *tenant, *cloud;
    const char *anchor;          /* immutableId */
    const char *object_guid, *upn, *display_name, *dn, *cloud_id;
    const char *decision, *rule;
    const char *action;          /* convert, set-usertype, revert, forget, recover, ... */
    const char *user_type_before, *user_type_after;
    const char *state_before, *state_after;   /* externalUserState */
    const char *outcome;         /* done, blocked, failed, skipped, dry-run */
    const char *request_id;      /* Graph's request-id of the call that decided it */
    const char *client_request_id;  /* the client-request-id dualsync sent with that call: Microsoft
                                       support's handle on it, the only one when the answer was lost */
    const char *invitation_id;
    const char *error;           /* what went wrong and the remedy */
};

/* Open (create, mode 0600) the audit file for appending. */
int audit_open(const char *path, struct audit **out);
/* Append one entry; returns 0 once it is on stable storage, or -1 (logged).
 * A failed audit write is fatal for the run: never act without a record. */
int audit_append(struct audit *a, const struct audit_entry *e);
int audit_close(struct audit *a);

/* The line audit_append writes for e, without its newline (the buffer has a
 * byte to spare for one); the caller frees it. For tools that make large
 * fixtures (a benchmark's 100k entries) without an fsync per entry. */
char *audit_format(const struct audit_entry *e);

/* Read every entry of path in order. fn gets the parsed object (valid during
 * the call) and its line number; a line that is not a JSON object is reported
 * as FILE:LINE and the read fails. A missing file reads as empty. */
typedef int audit_entry_fn(void *ctx, const struct cJSON *entry, size_t line);
int audit_read(const char *path, audit_entry_fn *fn, void *ctx);

/* The same, faster, for reading large trails (a report over 100k entries):
 * each entry as its members whose values are strings (the only kind
 * audit_append writes), unescaped, in file order; members of another type
 * are left out. key and value are valid during the call. A line is parsed by
 * hand when it is a flat object of strings, and through cJSON otherwise; a
 * line that is not a JSON object fails the read as audit_read does. */
struct audit_field {
    const char *key, *value;
};
typedef int audit_fields_fn(void *ctx, const struct audit_field *fields, size_t n, size_t line);
int audit_read_fields(const char *path, audit_fields_fn *fn, void *ctx);

/* The audit trail that goes with a mapping file: "mappings/gcch.map" →
 * "mappings/gcch.audit" (a path not ending in ".map" gets ".audit" added).
 * The converter writes there and the report reads there. Caller frees. */
char *audit_path_for_mapping(const char *mapping_file);

/* "2026-11-28T01:05:30Z" into out (21 bytes). */
void audit_time(time_t t, char out[21]);

#endif
