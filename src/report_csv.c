/* report_csv.c - the report as CSV for spreadsheets: one row per account.
 *
 * RFC 4180: fields separated by commas, records by CRLF, a field holding a
 * comma, a double quote, CR or LF is enclosed in double quotes and its quotes
 * doubled. UTF-8; Excel reads UTF-8 only after a byte order mark (--bom).
 *
 * Formula injection (OWASP "CSV Injection"): a spreadsheet runs a cell that
 * starts with = + - @ as a formula, and TAB or CR can hide such a start. Such
 * a cell is written with a leading apostrophe, which Excel and LibreOffice
 * take as "text as typed" and do not show in the cell; the raw value is in
 * the JSON format. A display name is chosen by whoever can edit AD, so this
 * is not theoretical.
 *
 * Control characters (ESC, TAB, other C0, DEL) stay as they are, the exact
 * value as in AD: CSV is a machine format, and the terminal's sanitiser
 * (term_safe) would change what a script compares. A cell holding one is
 * quoted, so that a reader that splits unquoted cells at odd bytes still
 * reads one cell. */
#include "compat.h"

#include "report_p.h"

/* The columns, in order (doc/report.md). */
static const char *const columns[] = {
    "tenant", "cloud", "state", "externalUserState", "decision", "userType", "displayName", "upn",
    "anchor", "objectGUID", "cloudId", "dn", "rule", "firstChange", "lastChange", "convertedAt",
    "invitationId", "lastError", "lastAction", "lastOutcome", "lastActionTime", "lastRun",
    "lastRequestId", "actionsInPeriod",
};

void report_csv_cell(struct strbuf *out, const char *s, bool last)
{
    s = s ? s : "";
    const unsigned char *p = (const unsigned char *)s;
    bool formula = *p == '=' || *p == '+' || *p == '-' || *p == '@' || *p == '\t' || *p == '\r';
    bool quote = false;
    for (const unsigned char *q = p; *q && !quote; q++)
        quote = *q == ',' || *q == '"' || *q < 0x20 || *q == 0x7f;
    if (quote)
        strbuf_addch(out, '"');
    if (formula)
        strbuf_addch(out, '\'');
    while (*p) {
        const unsigned char *span = p;
        while (*p && *p < 0x80 && *p != '"')
            p++;
        strbuf_add(out, span, (size_t)(p - span));
        if (*p == '"') {
            strbuf_addstr(out, "\"\"");
            p++;
            continue;
        }
        if (!*p)
            break;
        strbuf_add_repaired_char(out, &p);   /* U+FFFD if not UTF-8 */
    }
    if (quote)
        strbuf_addch(out, '"');
    strbuf_addstr(out, last ? "\r\n" : ",");
}

static void time_cell(struct strbuf *out, int64_t t)
{
    char text[21];
    report_time_text(t, text);
    report_csv_cell(out, text, false);
}

void report_csv(const struct report *r, bool bom, struct strbuf *out)
{
    if (bom)
        strbuf_addstr(out, "\xef\xbb\xbf");
    for (size_t i = 0; i < ARRAY_SIZE(columns); i++)
        report_csv_cell(out, columns[i], i + 1 == ARRAY_SIZE(columns));
    for (size_t ti = 0; ti < r->ntenants; ti++) {
        const struct report_tenant *t = &r->tenants[ti];
        for (size_t i = 0; i < t->nrows; i++) {
            const struct report_row *row = t->rows[i];
            const struct report_event *last = row->history_tail;
            report_csv_cell(out, t->name, false);
            report_csv_cell(out, t->cloud, false);
            report_csv_cell(out, report_state_name(row->state), false);
            report_csv_cell(out, row->external_state, false);
            report_csv_cell(out, row->decision, false);
            report_csv_cell(out, row->user_type, false);
            report_csv_cell(out, row->display_name, false);
            report_csv_cell(out, row->upn, false);
            report_csv_cell(out, row->anchor, false);
            report_csv_cell(out, row->object_guid, false);
            report_csv_cell(out, row->cloud_id, false);
            report_csv_cell(out, row->dn, false);
            report_csv_cell(out, row->rule, false);
            time_cell(out, row->first_change);
            time_cell(out, row->last_change);
            time_cell(out, row->converted_at);
            report_csv_cell(out, row->invitation_id, false);
            report_csv_cell(out, row->last_error, false);
            report_csv_cell(out, last ? last->action : "", false);
            report_csv_cell(out, last ? last->outcome : "", false);
            time_cell(out, last ? last->time : 0);
            report_csv_cell(out, last ? last->run : "", false);
            report_csv_cell(out, last ? last->request_id : "", false);
            strbuf_addf(out, "%zu\r\n", row->nevents);
        }
    }
}
