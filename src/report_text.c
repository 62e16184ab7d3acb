/* report_text.c - the few lines per tenant that `dualsync run` ends with.
 *
 * One screen: what this run did (by outcome and action), why objects were
 * blocked, where the tenant stands now, and the first few objects that need
 * a person, with the command that lists them all. Text from AD and Graph is
 * printed through term_safe (util.h), the one sanitiser of terminal output. */
#include "compat.h"

#include "log.h"
#include "report_p.h"

#define SHOW_OBJECTS 5
#define MAX_TEXT 160   /* bytes of an error shown on one line */

static void tenant_summary(struct strbuf *out, const struct report *r, const struct report_tenant *t)
{
    strbuf_addstr(out, "tenant ");
    term_safe_cut(out, t->name, 64);
    strbuf_addf(out, " (%s), run ", t->cloud);
    term_safe_cut(out, r->filter.run_id, 64);
    strbuf_addstr(out, ":\n  this run:");
    bool any = false;
    for (int o = 0; o < REPORT_OUTCOME_COUNT; o++) {
        if (!t->outcomes[o])
            continue;
        strbuf_addf(out, "%s %zu %s (", any ? "," : "", t->outcomes[o],
                    report_outcome_name((enum report_outcome)o));
        bool first = true;
        for (size_t i = 0; i < t->nactions; i++) {
            size_t c = t->actions[i].count[o];
            if (!c)
                continue;
            strbuf_addstr(out, first ? "" : ", ");
            term_safe_cut(out, *t->actions[i].action ? t->actions[i].action : "(no action)", 32);
            strbuf_addf(out, " %zu", c);
            first = false;
        }
        strbuf_addch(out, ')');
        any = true;
    }
    strbuf_addstr(out, any ? "\n" : " nothing to do\n");
    if (t->nreasons) {
        strbuf_addstr(out, "  blocked now:");
        for (size_t i = 0; i < t->nreasons && i < 3; i++) {
            strbuf_addstr(out, i ? "; " : " ");
            term_safe_cut(out, t->reasons[i].reason, 80);
            strbuf_addf(out, " (%zu)", t->reasons[i].count);
        }
        if (t->nreasons > 3)
            strbuf_addf(out, "; %zu other reasons", t->nreasons - 3);
        strbuf_addch(out, '\n');
    }
    const size_t *s = t->totals;
    strbuf_addf(out, "  tenant now: %zu converted (%zu accepted, %zu pending acceptance), %zu blocked, "
                     "%zu reverted, %zu gone, %zu pending\n",
                report_converted(s), s[MAP_STATE_ACCEPTED], s[MAP_STATE_INVITED], s[MAP_STATE_BLOCKED],
                s[MAP_STATE_REVERTED], s[MAP_STATE_GONE], s[MAP_STATE_PENDING]);

    /* the objects that need a person: their last action in this run was
     * blocked or failed */
    size_t shown = 0, more = 0;
    for (size_t i = 0; i < t->nrows; i++) {
        const struct report_event *e = t->rows[i]->history_tail;
        if (!e || (strcmp(e->outcome, "blocked") && strcmp(e->outcome, "failed")))
            continue;
        if (shown == SHOW_OBJECTS) {
            more++;
            continue;
        }
        const struct report_row *row = t->rows[i];
        if (!shown)
            strbuf_addstr(out, "  needs attention:\n");
        strbuf_addstr(out, "    ");
        term_safe_cut(out, *row->upn ? row->upn : *row->display_name ? row->display_name : row->anchor, 80);
        strbuf_addf(out, ": %s: ", e->outcome);
        term_safe_cut(out, *e->error ? e->error : *row->last_error ? row->last_error : "(no error recorded)", MAX_TEXT);
        strbuf_addch(out, '\n');
        shown++;
    }
    if (more) {
        strbuf_addf(out, "    and %zu more: dualsync report --tenant ", more);
        term_safe_cut(out, t->name, 64);
        strbuf_addstr(out, " --run ");
        term_safe_cut(out, r->filter.run_id, 64);
        strbuf_addstr(out, " lists them all\n");
    }
}

int report_print_run_summary(FILE *out, const struct config *cfg, const char *tenant, const char *run_id)
{
    if (!run_id || !*run_id)
        return log_error("report_print_run_summary: no run id (a bug in the caller)");
    struct report_filter f = { .tenant = tenant, .run_id = run_id };
    struct report *r;
    if (report_gather(cfg, &f, &r))
        return -1;
    struct strbuf text = STRBUF_INIT;
    for (size_t i = 0; i < r->ntenants; i++)
        tenant_summary(&text, r, &r->tenants[i]);
    report_free(r);
    int rc = 0;
    if (fwrite(strbuf_str(&text), 1, text.len, out) != text.len || fflush(out))
        rc = log_error("cannot write the run summary (closed pipe or full disk?)");
    strbuf_release(&text);
    return rc;
}
