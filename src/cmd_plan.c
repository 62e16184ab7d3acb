/* cmd_plan.c - `dualsync plan` and `dualsync explain USER`.
 *
 * Both read AD in full (nested membership needs every group), keep the
 * objects compactly (objset.h), decide per tenant (policy.h) and compare with
 * the tenant's mapping records (planner.h). plan streams its actions as it
 * finds them: with 100k actions nothing is collected first. */
#include "compat.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <time.h>

#include "adobject.h"
#include "b2b_verdict.h"
#include "cli.h"
#include "commands.h"
#include "config.h"
#include "ldap_source.h"
#include "log.h"
#include "mapstore.h"
#include "objset.h"
#include "planner.h"
#include "policy.h"
#include "report.h"
#include "rules.h"
#include "util.h"
#include "world.h"

/* ------------------------------------------------------------------- plan */

struct row {
    const struct tenant_config *tenant;
    const struct plan_action *action;
    const struct objset_entry *entry;      /* NULL for a vanished record */
    const char *rule;                      /* where the decision came from */
    const char *address;                   /* the invitation's address */
    const char *reason;                    /* planner's reason + the values read */
};

static void print_row(enum output_format f, const struct row *r, bool first)
{
    const struct plan_action *a = r->action;
    const struct map_record *rec = a->record;
    char guid[37] = "";
    char *immutable_id = NULL;
    const char *upn = NULL, *sam = NULL, *dn = NULL;
    if (r->entry) {
        ad_guid_to_text(r->entry->guid, guid);
        immutable_id = ad_immutable_id(r->entry->anchor);
        upn = r->entry->upn;
        sam = r->entry->sam;
        dn = r->entry->dn;
    } else if (rec) {
        /* a record whose object is gone: what the mapping file remembers */
        snprintf(guid, sizeof(guid), "%s", rec->object_guid);
        immutable_id = xstrdup(rec->anchor);
        upn = *rec->upn ? rec->upn : NULL;
        dn = *rec->dn ? rec->dn : NULL;
    }
    const char *user_type = user_type_name(a->user_type);
    if (f == FORMAT_CSV) {
        /* the report's cell writer: the same quoting, formula defence and
         * CRLF records as `report --format csv` (report.h) */
        struct strbuf line = STRBUF_INIT;
        report_csv_cell(&line, r->tenant->name, false);
        report_csv_cell(&line, plan_action_name(a->kind), false);
        report_csv_cell(&line, user_type, false);
        report_csv_cell(&line, decision_name(a->decision), false);
        report_csv_cell(&line, r->rule, false);
        report_csv_cell(&line, guid, false);
        report_csv_cell(&line, immutable_id, false);
        report_csv_cell(&line, upn, false);
        report_csv_cell(&line, sam, false);
        report_csv_cell(&line, r->address, false);
        report_csv_cell(&line, dn, false);
        report_csv_cell(&line, r->reason, true);
        fwrite(line.buf, 1, line.len, stdout);
        strbuf_release(&line);
    } else if (f == FORMAT_JSON) {
        cJSON *j = cJSON_CreateObject();
        json_add_str(j, "action", plan_action_name(a->kind));
        if (*user_type)
            json_add_str(j, "userType", user_type);
        json_add_str(j, "decision", decision_name(a->decision));
        json_add_str(j, "rule", r->rule);
        json_add_str(j, "objectGUID", guid);
        json_add_str(j, "immutableId", immutable_id ? immutable_id : "");
        if (upn)
            json_add_str(j, "userPrincipalName", upn);
        if (sam)
            json_add_str(j, "sAMAccountName", sam);
        if (r->address)
            json_add_str(j, "inviteAddress", r->address);
        if (dn)
            json_add_str(j, "dn", dn);
        if (rec)
            json_add_str(j, "state", map_state_name(rec->state));
        json_add_str(j, "reason", r->reason);
        char *text = cJSON_PrintUnformatted(j);
        printf("%s    %s", first ? "" : ",\n", text);
        cJSON_free(text);
        cJSON_Delete(j);
    } else {
        /* the table is for a terminal: AD's values through term_safe */
        struct strbuf who = STRBUF_INIT, rule = STRBUF_INIT, reason = STRBUF_INIT;
        printf("  %-12s %-6s %-40s %s\n      %s\n", plan_action_name(a->kind),
               *user_type ? user_type : "-",
               term_safe_str(&who, upn ? upn : r->address ? r->address : dn ? dn : guid),
               term_safe_str(&rule, r->rule), term_safe_str(&reason, r->reason));
        strbuf_release(&who);
        strbuf_release(&rule);
        strbuf_release(&reason);
    }
    free(immutable_id);
}

static void print_counts(enum output_format f, const struct tenant_config *t,
                         const struct plan_counts *c, uint64_t objects)
{
    uint64_t changes = c->actions[PLAN_CONVERT] + c->actions[PLAN_SET_USERTYPE]
                       + c->actions[PLAN_REVERT] + c->actions[PLAN_FORGET];
    bool over = changes > (uint64_t)t->max_changes;
    if (f == FORMAT_JSON) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "objects", (double)objects);
        cJSON *d = cJSON_AddObjectToObject(j, "decisions");
        for (int k = 0; k < DECISION_COUNT; k++)
            cJSON_AddNumberToObject(d, decision_name((enum decision)k), (double)c->decisions[k]);
        cJSON *a = cJSON_AddObjectToObject(j, "actions");
        for (int k = 0; k < PLAN_ACTION_COUNT; k++)
            cJSON_AddNumberToObject(a, plan_action_name((enum plan_action_kind)k), (double)c->actions[k]);
        cJSON_AddNumberToObject(j, "changes", (double)changes);
        cJSON_AddNumberToObject(j, "maxChanges", t->max_changes);
        cJSON_AddBoolToObject(j, "overMaxChanges", over);
        char *text = cJSON_PrintUnformatted(j);
        printf("\n  ], \"counts\": %s}", text);
        cJSON_free(text);
        cJSON_Delete(j);
        return;
    }
    FILE *out = f == FORMAT_CSV ? stderr : stdout;
    if (f == FORMAT_CSV && log_get_level() < LOG_NORMAL)
        return;
    fprintf(out, "%stenant %s: %llu objects\n", f == FORMAT_CSV ? "" : "  ", t->name,
            (unsigned long long)objects);
    fprintf(out, "  decisions:");
    for (int k = 0; k < DECISION_COUNT; k++)
        fprintf(out, " %s %llu%s", decision_name((enum decision)k),
                (unsigned long long)c->decisions[k], k + 1 < DECISION_COUNT ? "," : "\n");
    fprintf(out, "  actions:  ");
    for (int k = 0; k < PLAN_ACTION_COUNT; k++)
        fprintf(out, " %s %llu%s", plan_action_name((enum plan_action_kind)k),
                (unsigned long long)c->actions[k], k + 1 < PLAN_ACTION_COUNT ? "," : "\n");
    if (over)
        fprintf(out, "  %llu changes exceed max_changes %d: convert will refuse them unless "
                     "confirmed with --max-changes %llu\n", (unsigned long long)changes,
                t->max_changes, (unsigned long long)changes);
}

/* The tenant's mapping store, read-only (plan writes nothing and takes no
 * lock, so it neither fails nor blocks because a run holds the tenant); a
 * tenant without a mapping file yet has an empty one. NULL after logging
 * why if the file cannot be used. */
static struct mapstore *open_mapping(const struct tenant_config *tc)
{
    struct mapstore_tenant who = { tc->name, tc->tenant_id, tc->cloud };
    struct mapstore *ms;
    if (mapstore_open(tc->mapping_file, &who, MAPSTORE_READ_ONLY | MAPSTORE_CREATE, &ms))
        return NULL;
    return ms;
}


static int plan_tenant(const struct world *w, size_t t, enum output_format f, bool first_tenant)
{
    const struct tenant_config *tc = &w->cfg->tenants[t];
    struct plan_counts counts;
    memset(&counts, 0, sizeof(counts));
    struct mapstore *ms = open_mapping(tc);
    if (!ms) {
        log_error("tenant %s: cannot read its mapping file %s; this tenant is not planned",
                  tc->name, tc->mapping_file);
        return -1;
    }
    struct planner *p = planner_for(ms);
    struct strbuf reason = STRBUF_INIT, line = STRBUF_INIT;
    char where[512];
    bool first = true;
    /* what check or run last read of cross-tenant access; none: nothing
     * said of it (a damaged file is named, and left out) */
    struct b2b_verdicts xt;
    char *xt_path = b2b_verdicts_path(w->cfg->mappings_dir, tc->name);
    if (b2b_verdicts_load(xt_path, tc->name, tc->tenant_id, &xt) < 0)
        memset(&xt, 0, sizeof(xt));
    free(xt_path);
    int64_t now = (int64_t)time(NULL);

    if (f == FORMAT_JSON) {
        /* tenant names are [A-Za-z0-9_-], ids are GUIDs: nothing to escape */
        printf("%s  {\"tenant\": \"%s\", \"cloud\": \"%s\", \"tenantId\": \"%s\", \"actions\": [\n",
               first_tenant ? "" : ",\n", tc->name, cloud_name(tc->cloud), tc->tenant_id);
    }
    else if (f != FORMAT_CSV)
        printf("%stenant %s (%s, %s)\n  %-12s %-6s %-40s %s\n      %s\n",
               first_tenant ? "" : "\n", tc->name, cloud_name(tc->cloud), tc->tenant_id,
               "ACTION", "TYPE", "USER", "DECIDED BY", "WHY");

    size_t n = objset_count(w->objs);
    for (size_t i = 0; i < n; i++) {
        struct policy_subject s;
        struct policy_result res;
        struct plan_action a;
        const char *address;
        free(world_plan_object(w, p, i, t, &s, &res, &a, &address));
        const struct objset_entry *e = objset_get(w->objs, i);
        /* its home among the configured tenants, and what cross-tenant
         * access said of it (run reads it again before any invitation) */
        const char *home = NULL;
        for (size_t h = 0; a.kind == PLAN_CONVERT && h < w->cfg->ntenants && !home; h++)
            if (h != t && policy_is_home(w->pol, &s, h, NULL))
                home = w->cfg->tenants[h].name;
        const struct b2b_pair *v = b2b_verdicts_find(&xt, home);
        bool xt_used = planner_cross_tenant(&a, home, v, now);
        counts.decisions[res.decision]++;
        counts.actions[a.kind]++;
        if (a.kind == PLAN_NONE)
            continue;
        strbuf_reset(&reason);
        policy_reason(w->pol, &s, t, &res, &reason);
        strbuf_reset(&line);
        strbuf_addf(&line, "%s; %s", a.reason, reason.buf);
        if (xt_used)
            strbuf_addf(&line, "; cross-tenant access %s (request ids %s)", v->why, v->request_ids);
        rule_where(w, t, res.rule, where, sizeof(where));
        struct row r = { tc, &a, e, where, address, line.buf };
        print_row(f, &r, first);
        first = false;
    }
    struct plan_action a;
    while (planner_next_vanished(p, &a)) {
        counts.actions[a.kind]++;
        struct row r = { tc, &a, NULL, a.record->rule, NULL, a.reason };
        print_row(f, &r, first);
        first = false;
    }
    print_counts(f, tc, &counts, n);
    strbuf_release(&reason);
    strbuf_release(&line);
    planner_free(p);
    mapstore_close(ms);
    b2b_verdicts_release(&xt);
    return 0;
}

int cmd_plan(const struct cli *cli, const struct config *cfg)
{
    enum output_format f = cli->format == FORMAT_DEFAULT ? FORMAT_TABLE : cli->format;
    if (f != FORMAT_TABLE && f != FORMAT_JSON && f != FORMAT_CSV) {
        log_error("plan: --format must be table, json or csv");
        return EXIT_USAGE;
    }
    size_t first, end;
    if (pick_tenants(cfg, cli->tenant, &first, &end))
        return EXIT_USAGE;
    struct world w;
    int rc = world_load(&w, cfg, cli->full, false, cli->progress, NULL);
    if (rc) {
        world_free(&w);
        return rc;
    }
    if (f == FORMAT_JSON) {
        struct strbuf path = STRBUF_INIT;
        report_json_str(&path, cfg->path);   /* a file name need not be UTF-8 */
        printf("{\"config\": %s, \"tenants\": [\n", path.buf);
        strbuf_release(&path);
    }
    if (f == FORMAT_CSV)
        fputs("tenant,action,userType,decision,rule,objectGUID,immutableId,userPrincipalName,"
              "sAMAccountName,inviteAddress,dn,reason\r\n", stdout);
    /* a tenant whose mapping file is unusable is left out; the others go on */
    bool stopped = false, first_out = true;
    for (size_t t = first; t < end; t++) {
        if (plan_tenant(&w, t, f, first_out))
            stopped = true;
        else
            first_out = false;
    }
    if (f == FORMAT_JSON)
        printf("\n]}\n");
    world_free(&w);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        log_error("cannot write to standard output: %s", strerror(errno));
        return EXIT_STOPPED;
    }
    return stopped ? EXIT_STOPPED : EXIT_DONE;
}

/* ---------------------------------------------------------------- explain */

struct trace_ctx {
    const struct world *w;
    size_t tenant;
    bool json;
    cJSON *list;
};

static void on_trace(int rule, bool matched, const char *reads, void *vctx)
{
    struct trace_ctx *c = vctx;
    const struct tenant_rule *r = policy_rule(c->w->pol, c->tenant, rule);
    if (c->json) {
        cJSON *j = cJSON_CreateObject();
        if (rule >= 0)
            cJSON_AddNumberToObject(j, "rule", rule + 1);
        else
            json_add_str(j, "rule", "default");
        if (r->line)
            cJSON_AddNumberToObject(j, "line", r->line);
        json_add_str(j, "text", r->text ? r->text : decision_name(r->outcome));
        cJSON_AddBoolToObject(j, "matched", matched);
        json_add_str(j, "reads", reads);
        cJSON_AddItemToArray(c->list, j);
        return;
    }
    if (rule < 0) {
        printf("  default%s%s: %s\n", r->line ? " at line " : " (built in)", "",
               decision_name(r->outcome));
        return;
    }
    struct strbuf safe = STRBUF_INIT;
    printf("  rule %d, line %d: %s\n      %s: %s\n", rule + 1, r->line, r->text,
           matched ? "matches" : "no", term_safe_str(&safe, reads));
    strbuf_release(&safe);
}

static void explain_one(const struct world *w, size_t i, size_t first, size_t end, bool json)
{
    const struct objset_entry *e = objset_get(w->objs, i);
    struct policy_subject s;
    objset_subject(w->objs, i, &s);
    char guid[37];
    ad_guid_to_text(e->guid, guid);
    char *immutable_id = ad_immutable_id(e->anchor);
    const char *anchor_src = e->anchor_from_consistency_guid ? "mS-DS-ConsistencyGuid" : "objectGUID";
    cJSON *root = NULL, *tenants = NULL;
    struct strbuf s1 = STRBUF_INIT, s2 = STRBUF_INIT, s3 = STRBUF_INIT;
    if (json) {
        root = cJSON_CreateObject();
        json_add_str(root, "dn", e->dn);
        json_add_str(root, "class", ad_class_name(e->cls));
        cJSON_AddBoolToObject(root, "disabled", e->disabled);
        json_add_str(root, "objectGUID", guid);
        json_add_str(root, "immutableId", immutable_id);
        json_add_str(root, "anchorSource", anchor_src);
        if (e->upn)
            json_add_str(root, "userPrincipalName", e->upn);
        if (e->sam)
            json_add_str(root, "sAMAccountName", e->sam);
        if (e->mail)
            json_add_str(root, "mail", e->mail);
        tenants = cJSON_AddArrayToObject(root, "tenants");
    } else {
        /* text is for a terminal: every value from AD through term_safe */
        printf("%s\n", term_safe_str(&s1, e->dn));
        printf("  %s, %s; objectGUID %s; immutableId %s (from %s)\n", ad_class_name(e->cls),
               e->disabled ? "disabled" : "enabled", guid, immutable_id, anchor_src);
        printf("  userPrincipalName %s; sAMAccountName %s; mail %s\n",
               term_safe_str(&s1, e->upn ? e->upn : "-"), term_safe_str(&s2, e->sam ? e->sam : "-"),
               term_safe_str(&s3, e->mail ? e->mail : "-"));
        for (size_t k = 0; k < policy_nattrs(w->pol); k++) {
            const struct policy_values *pv = &e->attrs[k];
            printf("  %s:", policy_attr_name(w->pol, k));
            if (!pv->n)
                printf(" (not set)");
            for (uint32_t v = 0; v < pv->n && v < 5; v++)
                printf(" \"%s\"", term_safe_str(&s1, pv->vals[v]));
            if (pv->n > 5)
                printf(" and %u more", (unsigned)pv->n - 5);
            putchar('\n');
        }
        struct strbuf path = STRBUF_INIT;
        for (size_t g = 0; g < policy_ngroups(w->pol); g++) {
            strbuf_reset(&path);
            if (objset_group_path(w->objs, i, g, &path))
                printf("  member of %s (via %s)\n", term_safe_str(&s1, policy_group_dn(w->pol, g)),
                       term_safe_str(&s2, path.buf));
        }
        strbuf_release(&path);
    }
    free(immutable_id);

    char *anchor = ad_immutable_id(e->anchor);
    for (size_t t = first; t < end; t++) {
        const struct tenant_config *tc = &w->cfg->tenants[t];
        struct mapstore *ms = open_mapping(tc);
        struct planner *p = ms ? planner_for(ms) : planner_new(NULL, 0);
        struct strbuf home = STRBUF_INIT;
        bool is_home = policy_is_home(w->pol, &s, t, &home);
        struct policy_result res;
        policy_decide(w->pol, &s, t, &res);
        struct plan_action a;
        const char *address = invite_address(w, i, t);
        planner_object(p, anchor, e->cls, res.decision, address, &a);
        /* as plan shows it: the cross-tenant verdict check or run kept */
        const char *xt_home = NULL;
        for (size_t h = 0; a.kind == PLAN_CONVERT && h < w->cfg->ntenants && !xt_home; h++)
            if (h != t && policy_is_home(w->pol, &s, h, NULL))
                xt_home = w->cfg->tenants[h].name;
        struct b2b_verdicts xt;
        char *xt_path = b2b_verdicts_path(w->cfg->mappings_dir, tc->name);
        if (!xt_home || b2b_verdicts_load(xt_path, tc->name, tc->tenant_id, &xt) < 0)
            memset(&xt, 0, sizeof(xt));
        free(xt_path);
        const struct b2b_pair *xv = b2b_verdicts_find(&xt, xt_home);
        bool xt_used = planner_cross_tenant(&a, xt_home, xv, (int64_t)time(NULL));
        if (!ms)
            snprintf(a.reason + strlen(a.reason), sizeof(a.reason) - strlen(a.reason),
                     " (the mapping file could not be read: planned as if empty)");
        struct trace_ctx tc_ctx = { w, t, json, NULL };
        char where[512];
        rule_where(w, t, res.rule, where, sizeof(where));
        if (json) {
            cJSON *j = cJSON_CreateObject();
            json_add_str(j, "tenant", tc->name);
            json_add_str(j, "cloud", cloud_name(tc->cloud));
            cJSON_AddBoolToObject(j, "home", is_home);
            if (tc->home_when.cond)
                json_add_str(j, "homeWhen", strbuf_str(&home));
            tc_ctx.list = cJSON_AddArrayToObject(j, "trace");
            policy_trace(w->pol, &s, t, on_trace, &tc_ctx);
            json_add_str(j, "decision", decision_name(res.decision));
            if (decision_is_external(res.decision))
                json_add_str(j, "userType", user_type_name(decision_user_type(res.decision)));
            json_add_str(j, "rule", where);
            json_add_str(j, "action", plan_action_name(a.kind));
            json_add_str(j, "reason", a.reason);
            if (xt_used)
                json_add_str(j, "crossTenantAccess", xv->why);
            if (a.record)
                json_add_str(j, "mappingState", map_state_name(a.record->state));
            if (address)
                json_add_str(j, "inviteAddress", address);
            cJSON_AddItemToArray(tenants, j);
        } else {
            printf("\ntenant %s (%s)\n", tc->name, cloud_name(tc->cloud));
            if (tc->home_when.cond)
                printf("  home here: %s (home_when, line %d: %s)\n", is_home ? "yes" : "no",
                       tc->home_when.line, term_safe_str(&s1, strbuf_str(&home)));
            policy_trace(w->pol, &s, t, on_trace, &tc_ctx);
            printf("  => %s", decision_name(res.decision));
            if (decision_is_external(res.decision))
                printf(" (userType %s)", user_type_name(decision_user_type(res.decision)));
            printf(" by %s\n  action: %s: %s\n", term_safe_str(&s1, where), plan_action_name(a.kind),
                   term_safe_str(&s2, a.reason));
            if (xt_used)
                printf("  cross-tenant access: %s (request ids %s)\n", term_safe_str(&s1, xv->why),
                       term_safe_str(&s2, xv->request_ids));
            if (decision_is_external(res.decision))
                printf("  invitation address (%s): %s\n", tc->invite_address_attribute,
                       term_safe_str(&s1, address ? address : "(not set)"));
        }
        if (a.record && !json) {
            char when[ISO_TIME_LEN + 1] = "-";
            if (a.record->last_change)
                iso_time_format(a.record->last_change, when);
            printf("  mapping file: %s (last change %s), userType %s\n",
                   map_state_name(a.record->state), when,
                   *map_user_type_name(a.record->user_type) ? map_user_type_name(a.record->user_type) : "-");
        }
        strbuf_release(&home);
        b2b_verdicts_release(&xt);
        planner_free(p);
        mapstore_close(ms);
    }
    free(anchor);
    strbuf_release(&s1);
    strbuf_release(&s2);
    strbuf_release(&s3);
    if (json) {
        char *text = cJSON_Print(root);
        puts(text);
        cJSON_free(text);
        cJSON_Delete(root);
    }
}

int cmd_explain(const struct cli *cli, const struct config *cfg)
{
    bool json = cli->format == FORMAT_JSON;
    if (cli->format != FORMAT_DEFAULT && cli->format != FORMAT_TEXT && !json) {
        log_error("explain: --format must be text or json");
        return EXIT_USAGE;
    }
    if (cli->nargs != 1) {
        log_error("explain needs one user: a sAMAccountName, userPrincipalName, mail, DN or "
                  "objectGUID; e.g. dualsync explain alice@contoso.example");
        return EXIT_USAGE;
    }
    size_t first, end;
    if (pick_tenants(cfg, cli->tenant, &first, &end))
        return EXIT_USAGE;
    struct world w;
    int rc = world_load(&w, cfg, cli->full, false, cli->progress, NULL);
    if (rc) {
        world_free(&w);
        return rc;
    }
    const char *name = cli->args[0];
    size_t found[10];
    size_t n = objset_find(w.objs, name, found, ARRAY_SIZE(found));
    if (n == 0) {
        struct strbuf safe = STRBUF_INIT;
        log_error("explain: nothing in scope matches '%s' (looked at %s); check the name, or "
                  "that the object is under [ldap] base_dn and in scope", term_safe_str(&safe, name),
                  strchr(name, '@') ? "userPrincipalName and mail"
                  : strchr(name, '=') ? "DNs" : "sAMAccountName and objectGUID");
        strbuf_release(&safe);
        rc = EXIT_USAGE;
    } else if (n > 1) {
        /* the DNs come from AD, the name from whoever typed it: both through term_safe */
        struct strbuf list = STRBUF_INIT, safe = STRBUF_INIT;
        for (size_t k = 0; k < n && k < ARRAY_SIZE(found); k++) {
            strbuf_addstr(&list, "\n    ");
            term_safe(&list, objset_get(w.objs, found[k])->dn);
        }
        log_error("explain: %zu objects match '%s'; name one by its DN or objectGUID:%s", n,
                  term_safe_str(&safe, name), list.buf);
        strbuf_release(&list);
        strbuf_release(&safe);
        rc = EXIT_USAGE;
    } else {
        explain_one(&w, found[0], first, end, json);
    }
    world_free(&w);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        log_error("cannot write to standard output: %s", strerror(errno));
        return EXIT_STOPPED;
    }
    return rc;
}
