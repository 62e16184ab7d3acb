/* report.h - what dualsync did to which account, per tenant: `dualsync report`
 * and the end of `dualsync run`.
 *
 * A report joins two files per tenant: the current state of each object from
 * the mapping file (mapstore.h, opened MAPSTORE_READ_ONLY: no lock, nothing
 * written, so a report neither fails nor holds up a run that holds the tenant)
 * and its history from the audit trail (audit.h). doc/report.md describes the
 * accounts chosen, the summary figures and the three formats.
 *
 * Calling sequence
 *
 *   report_parse_time / report_parse_states      check the user's words first
 *   report_gather(cfg, &filter, &r)              read every tenant's two files
 *   report_csv / report_json / report_html       render into a strbuf
 *   report_save(path, &buf)                      stdout or an atomic file write
 *   report_free(r)
 *
 * For `dualsync run` (the converter) there are two calls that do all of it:
 * report_print_run_summary() and report_write_run_html(), below.
 *
 * Errors: functions return 0, or -1 after logging a lowercase message that
 * names the file (and line) and the remedy. Nothing is written to the output
 * until everything was read: a report is all or nothing.
 *
 * Memory: report_gather allocates the report; report_free releases it and
 * everything it points into (the mapping stores stay open until then).
 * Renderers append to a strbuf the caller owns. */
#ifndef DUALSYNC_REPORT_H
#define DUALSYNC_REPORT_H

#include "compat.h"

#include "mapstore.h"

struct config;
struct strbuf;
struct report;

/* The states a report knows: the mapping file's (enum map_state, same values)
 * and one more, for an object that the audit trail names but the mapping file
 * does not hold (it was forgotten, or was only seen by a dry run). */
#define REPORT_STATE_UNMAPPED MAP_STATE_COUNT
#define REPORT_STATE_COUNT (MAP_STATE_COUNT + 1)
/* "pending" ... "gone", "unmapped" */
const char *report_state_name(unsigned state);

/* What to report. Zero-initialise, then set what you need. */
struct report_filter {
    const char *tenant;        /* NULL: every tenant of the config; else its name */
    bool has_since, has_until;
    int64_t since, until;      /* UTC seconds, both inclusive, when has_* is set */
    unsigned states;           /* bit (1u << state) per state wanted; 0: every state */
    const char *run_id;        /* NULL: every run; else only this run's audit entries
                                * and the accounts they touched */
    int64_t now;               /* the report's date; 0: $SOURCE_DATE_EPOCH if set
                                * (reproducible output), else the clock */
};

/* A date or time as the user types it, UTC unless it says otherwise:
 *   2026-11-18   2026-11-18T11:06   2026-11-18T11:06:40   (a space for the T is
 *   fine), an optional Z, or an offset +01:00 / -0500.
 * A date alone is the start of that day, or its last second when end_of_day
 * (so that --until 2026-11-18 includes the 18th). Returns 0 and *out (seconds
 * since 1970), or -1 after logging "OPTION 'TEXT': ..." with the forms above;
 * option names the option in the message ("--since"). */
int report_parse_time(const char *option, const char *text, bool end_of_day, int64_t *out);

/* A comma-separated list of state words (report_state_name, case-insensitive,
 * "pending-acceptance" for invited) into a mask for report_filter.states.
 * Returns 0, or -1 after logging the unknown word and the words known. */
int report_parse_states(const char *option, const char *text, unsigned *mask);

/* Read the mapping file and the audit trail of each tenant the filter names
 * (in config order), choose the accounts and work out the figures. The audit
 * trail of a tenant is audit_path_for_mapping(mapping_file) (audit.h). A
 * tenant without a mapping file or audit trail yet reports nothing. Fails
 * (-1, *out untouched) if filter->tenant is not in cfg, or a file cannot be
 * read or is damaged (the message names it, with FILE:LINE where it can). */
int report_gather(const struct config *cfg, const struct report_filter *filter,
                  struct report **out) ATTR_WARN_UNUSED;
void report_free(struct report *r);

/* Renderers: append the whole report to out. Deterministic: the same files,
 * filter and filter->now give the same bytes. Any byte that is not valid
 * UTF-8 is rendered as U+FFFD. */
/* RFC 4180: CRLF line ends, a header row, one row per account; a cell that
 * starts with = + - @ TAB or CR gets a leading apostrophe (formula injection).
 * bom: start with a UTF-8 byte order mark, which Excel needs to read UTF-8. */
void report_csv(const struct report *r, bool bom, struct strbuf *out);
/* One JSON document; its shape is documented in doc/report.md. */
void report_json(const struct report *r, struct strbuf *out);
/* The two string writers every JSON and CSV output of dualsync uses (plan,
 * explain, pull and the report), so that they all escape alike. */
/* Append s as a JSON string (RFC 8259 section 7): quote, backslash and C0
 * controls escaped (\n \r \t, else \u00XX), valid UTF-8 kept, and each byte
 * that is not valid UTF-8 written as U+FFFD, so that the output always parses. */
void report_json_str(struct strbuf *out, const char *s);
/* Append s (NULL: empty) as one CSV cell and then "," or, if last, CRLF.
 * RFC 4180 quoting; a cell holding a control character is quoted too; a cell
 * that starts with = + - @ TAB or CR gets a leading apostrophe (formula
 * injection); a byte that is not valid UTF-8 becomes U+FFFD. */
void report_csv_cell(struct strbuf *out, const char *s, bool last);
/* One self-contained HTML page: no external resource of any kind, and a
 * Content-Security-Policy that forbids fetching one. */
void report_html(const struct report *r, struct strbuf *out);

/* Write content to path atomically (platform_write_file_atomic: mode 0600,
 * the file names accounts), or to stdout when path is NULL or "-", or
 * straight into path when it exists and is not a regular file (a pipe, a
 * device). Returns 0, or -1 after logging. */
int report_save(const char *path, const struct strbuf *content);

/* ---- For `dualsync run` -------------------------------------------------
 *
 * Call these at the end of a run, after the tenant's audit entries were
 * appended (audit_append returns once an entry is on disk) and its store
 * committed; they take no lock, so they also work while the run still holds
 * a store open, and they change nothing. tenant is NULL for every tenant of
 * cfg, or one tenant's name (as with --tenant). run_id is the id the run
 * wrote into its audit entries.
 *
 * report_print_run_summary prints, per tenant, a few lines for the terminal:
 * this run's actions by outcome (done, dry-run, blocked and why, failed,
 * skipped), the tenant's totals afterwards (converted, accepted, pending
 * acceptance, blocked, reverted, gone), and the first objects blocked or
 * failed with their error (at most 5, then the command that lists the rest).
 * At most about 12 lines per tenant; to out (stdout, or stderr when stdout
 * carries JSON).
 *
 * report_write_run_html writes the run's HTML report (report_html over the
 * accounts this run touched, with their history in this run) to path, as
 * report_save does (`run --report FILE`).
 *
 * Both return 0, or -1 after logging (a mapping or audit file unreadable):
 * the run's exit code should then say so; nothing the run did is undone. */
int report_print_run_summary(FILE *out, const struct config *cfg, const char *tenant,
                             const char *run_id);
int report_write_run_html(const char *path, const struct config *cfg, const char *tenant,
                          const char *run_id);

#endif
