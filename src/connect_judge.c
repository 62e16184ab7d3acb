/* connect_judge.c - Entra Connect's exported configuration judged against
 * what dualsync converts in its tenant (connect_config.h). Pure: no files,
 * no LDAP, no Graph; the users come through struct connect_users.
 *
 * What Connect does, as far as the judge needs it:
 *  - Outbound rules of an attribute are taken in precedence order (lowest
 *    number first); the first rule whose scope holds and that gives a value
 *    decides it. A flow of NULL or IgnoreThisFlow gives nothing (the next
 *    rule may); AuthoritativeNull gives "no value" and stops the rules after
 *    it (Microsoft Learn, "Entra Connect sync: Understanding Declarative
 *    Provisioning Expressions", and "... Declarative Provisioning",
 *    precedence and merging).
 *  - A scope is OR over its groups (<conditions>), AND within a group.
 *  - The scopes read metaverse attributes. The out-of-box inbound rules
 *    flow an AD attribute into the metaverse attribute of the same name
 *    (mostly Trim([x])), and compute sourceObjectType, accountEnabled,
 *    cloudMastered and cloudFiltered; the judge computes those four as they
 *    do for an ordinary user account and reads every other attribute from
 *    AD under its own name. Anything else it cannot tell, and says so. */
#include "compat.h"

#include <strings.h>

#include "adobject.h"
#include "connect_config.h"
#include "util.h"

static const char ONPREM_UPN[] = "onPremisesUserPrincipalName";

/* ------------------------------------------------------------ the export */

const struct connect_setting *connect_setting(const struct connect_export *ex, const char *name)
{
    for (size_t i = 0; i < ex->nsettings; i++)
        if (!strcasecmp(ex->settings[i].name, name))
            return &ex->settings[i];
    return NULL;
}

static void free_list(char **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

void connect_export_free(struct connect_export *ex)
{
    for (size_t i = 0; i < ex->nrules; i++) {
        struct connect_rule *r = &ex->rules[i];
        free(r->file);
        free(r->id);
        free(r->name);
        free(r->connector);
        free(r->source_type);
        free(r->target_type);
        free(r->link_type);
        for (size_t f = 0; f < r->nflows; f++) {
            free(r->flows[f].dest);
            free_list(r->flows[f].src, r->flows[f].nsrc);
            free(r->flows[f].expression);
            free(r->flows[f].constant);
        }
        free(r->flows);
        for (size_t g = 0; g < r->ngroups; g++) {
            for (size_t c = 0; c < r->groups[g].nclauses; c++) {
                free(r->groups[g].clauses[c].attr);
                free(r->groups[g].clauses[c].op);
                free(r->groups[g].clauses[c].value);
            }
            free(r->groups[g].clauses);
        }
        free(r->groups);
    }
    free(ex->rules);
    for (size_t i = 0; i < ex->nconnectors; i++) {
        struct connect_connector *c = &ex->connectors[i];
        free(c->file);
        free(c->id);
        free(c->name);
        free(c->account);
        for (size_t p = 0; p < c->npartitions; p++) {
            free(c->partitions[p].name);
            free_list(c->partitions[p].inclusions, c->partitions[p].ninclusions);
            free_list(c->partitions[p].exclusions, c->partitions[p].nexclusions);
            free_list(c->partitions[p].classes, c->partitions[p].nclasses);
        }
        free(c->partitions);
        free_list(c->attributes, c->nattributes);
    }
    free(ex->connectors);
    for (size_t i = 0; i < ex->nsettings; i++) {
        free(ex->settings[i].name);
        free(ex->settings[i].value);
        free(ex->settings[i].file);
    }
    free(ex->settings);
    free(ex->dir);
    free(ex->server);
    memset(ex, 0, sizeof(*ex));
}

/* -------------------------------------------------------------- scopes */

/* Metaverse attributes the default inbound rules compute rather than copy. */
static const char *const derived[] = { "sourceObjectType", "accountEnabled", "cloudMastered",
                                       "cloudFiltered", "sourceAnchor" };

static bool is_derived(const char *attr)
{
    for (size_t i = 0; i < ARRAY_SIZE(derived); i++)
        if (!strcasecmp(derived[i], attr))
            return true;
    return false;
}

/* The AD attribute behind a metaverse attribute the judge reads from AD. */
static const char *ad_name(const char *mv)
{
    if (!strcasecmp(mv, ONPREM_UPN))
        return "userPrincipalName";
    return mv;
}

static const char *const s_user[] = { "User" };
static const char *const s_true[] = { "True" };
static const char *const s_false[] = { "False" };
static const char *const s_anchor[] = { "(the anchor)" };

/* The values of metaverse attribute attr for user i: 1 known, 0 not. */
static int mv_values(const char *attr, const struct connect_users *u, size_t i, const char *const **vals,
                     size_t *n)
{
    *vals = NULL;
    *n = 0;
    if (!strcasecmp(attr, "sourceObjectType")) {
        *vals = s_user, *n = 1;
        return 1;
    }
    if (!strcasecmp(attr, "cloudMastered") || !strcasecmp(attr, "cloudFiltered"))
        return 1;
    if (!strcasecmp(attr, "sourceAnchor")) {
        *vals = s_anchor, *n = 1;
        return 1;
    }
    if (!u->known || !u->values)
        return 0;
    if (!strcasecmp(attr, "accountEnabled")) {
        *vals = u->disabled && u->disabled(u->ctx, i) ? s_false : s_true;
        *n = 1;
        return 1;
    }
    return u->values(u->ctx, i, ad_name(attr), vals, n);
}

static bool num(const char *s, long long *out)
{
    if (!s || !*s)
        return false;
    char *end;
    long long v = strtoll(s, &end, 0);
    if (*end)
        return false;
    *out = v;
    return true;
}

/* strcasestr is a GNU extension (MinGW has none) */
static bool contains_ci(const char *s, const char *part)
{
    size_t n = strlen(part);
    for (; *s; s++)
        if (!strncasecmp(s, part, n))
            return true;
    return n == 0;
}

static bool ends_with_ci(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcasecmp(s + a - b, suffix);
}

/* One value against one operator (positive form): 1, 0, -1. */
static int value_op(const char *op, const char *v, const char *want)
{
    long long a, b;
    if (!strcasecmp(op, "EQUAL"))
        return !strcasecmp(v, want);
    if (!strcasecmp(op, "CONTAINS"))
        return contains_ci(v, want);
    if (!strcasecmp(op, "STARTSWITH"))
        return !strncasecmp(v, want, strlen(want));
    if (!strcasecmp(op, "ENDSWITH"))
        return ends_with_ci(v, want);
    if (!strcasecmp(op, "ISBITSET"))
        return num(v, &a) && num(want, &b) ? (a & b) == b : -1;
    if (!num(v, &a) || !num(want, &b))
        return -1;
    if (!strcasecmp(op, "LESSTHAN"))
        return a < b;
    if (!strcasecmp(op, "LESSTHAN_OR_EQUAL"))
        return a <= b;
    if (!strcasecmp(op, "GREATERTHAN"))
        return a > b;
    if (!strcasecmp(op, "GREATERTHAN_OR_EQUAL"))
        return a >= b;
    return -1;
}

static bool negated_op(const char *op)
{
    static const char *const negs[] = { "NOTEQUAL", "NOTCONTAINS", "NOTSTARTSWITH", "NOTENDSWITH",
                                        "ISBITNOTSET", "ISNOTBITSET", "ISNOTIN" };
    for (size_t k = 0; k < ARRAY_SIZE(negs); k++)
        if (!strcasecmp(op, negs[k]))
            return true;
    return false;
}

int connect_clause_eval(const struct connect_clause *c, const struct connect_users *u, size_t i)
{
    const char *const *vals;
    size_t n;
    if (!mv_values(c->attr, u, i, &vals, &n))
        /* without AD, the out-of-box exclusions (isCriticalSystemObject
         * NOTEQUAL TRUE, adminDescription NOTSTARTSWITH User_, ...) are
         * taken to let an ordinary user account through */
        return !u->known && negated_op(c->op) ? 1 : -1;
    const char *op = c->op, *want = c->value ? c->value : "";
    if (!strcasecmp(op, "ISNULL"))
        return n == 0;
    if (!strcasecmp(op, "ISNOTNULL"))
        return n > 0;
    /* the negated operators: NOTEQUAL, NOTCONTAINS, NOTSTARTSWITH,
     * NOTENDSWITH, ISBITNOTSET hold on an absent attribute */
    const char *pos = op;
    bool negated = false;
    /* ISIN and ISNOTIN are the multi-valued EQUAL and NOTEQUAL; Microsoft
     * Learn spells ISNOTBITSET what exports spell ISBITNOTSET */
    static const struct { const char *neg, *pos; } negs[] = {
        { "NOTEQUAL", "EQUAL" }, { "NOTCONTAINS", "CONTAINS" }, { "NOTSTARTSWITH", "STARTSWITH" },
        { "NOTENDSWITH", "ENDSWITH" }, { "ISBITNOTSET", "ISBITSET" }, { "ISNOTBITSET", "ISBITSET" },
        { "ISNOTIN", "EQUAL" }, { "ISIN", "EQUAL" },
    };
    for (size_t k = 0; k < ARRAY_SIZE(negs); k++)
        if (!strcasecmp(op, negs[k].neg))
            pos = negs[k].pos, negated = strcasecmp(op, "ISIN") != 0;
    int any = 0;
    for (size_t k = 0; k < n && any != 1; k++) {
        int r = value_op(pos, vals[k], want);
        if (r < 0)
            return -1;
        any |= r;
    }
    if (n == 0 && value_op(pos, "", want) < 0 && strcasecmp(pos, "EQUAL") && strcasecmp(pos, "CONTAINS")
        && strcasecmp(pos, "STARTSWITH") && strcasecmp(pos, "ENDSWITH") && strcasecmp(pos, "ISBITSET"))
        return -1;   /* an operator the judge does not know (ISMEMBEROF, ...) */
    return negated ? !any : any;
}

/* 1 the rule's scope holds for user i, 0 not, -1 cannot tell. */
static int rule_applies(const struct connect_rule *r, const struct connect_users *u, size_t i)
{
    if (!r->ngroups)
        return 1;
    int result = 0;
    for (size_t g = 0; g < r->ngroups; g++) {
        int all = 1;
        for (size_t c = 0; c < r->groups[g].nclauses && all != 0; c++) {
            int v = connect_clause_eval(&r->groups[g].clauses[c], u, i);
            if (v == 0)
                all = 0;
            else if (v < 0)
                all = -1;
        }
        if (all == 1)
            return 1;
        if (all < 0)
            result = -1;
    }
    return result;
}

static void scope_text(const struct connect_rule *r, struct strbuf *out)
{
    if (!r->ngroups) {
        strbuf_addstr(out, "every object");
        return;
    }
    for (size_t g = 0; g < r->ngroups; g++) {
        strbuf_addstr(out, g ? " OR " : "");
        if (r->ngroups > 1)
            strbuf_addch(out, '(');
        for (size_t c = 0; c < r->groups[g].nclauses; c++) {
            const struct connect_clause *cl = &r->groups[g].clauses[c];
            strbuf_addf(out, "%s%s %s%s%s", c ? " AND " : "", cl->attr, cl->op, cl->value ? " " : "",
                        cl->value ? cl->value : "");
        }
        if (r->ngroups > 1)
            strbuf_addch(out, ')');
    }
}

void connect_scope_attributes(const struct connect_export *ex, char ***names, size_t *n)
{
    for (size_t r = 0; r < ex->nrules; r++) {
        const struct connect_rule *rule = &ex->rules[r];
        if (rule->disabled)
            continue;
        for (size_t g = 0; g < rule->ngroups; g++)
            for (size_t c = 0; c < rule->groups[g].nclauses; c++) {
                const char *a = rule->groups[g].clauses[c].attr;
                if (!*a || is_derived(a))
                    continue;
                a = ad_name(a);
                bool have = false;
                for (size_t k = 0; k < *n && !have; k++)
                    have = !strcasecmp((*names)[k], a);
                if (!have) {
                    *names = xrealloc(*names, (*n + 1) * sizeof(**names));
                    (*names)[(*n)++] = xstrdup(a);
                }
            }
    }
}

/* ------------------------------------------------------------ findings */

static void add(struct connect_report *rep, enum connect_severity sev, const char *setting, char *text,
                char *why, char *remedy)
{
    rep->findings = xrealloc(rep->findings, (rep->nfindings + 1) * sizeof(*rep->findings));
    rep->findings[rep->nfindings++] = (struct connect_finding){ sev, xstrdup(setting), text, why, remedy };
    if (sev == CONNECT_BLOCKED)
        rep->blocked++;
    if (sev == CONNECT_WARNING)
        rep->warned++;
}

void connect_report_add(struct connect_report *rep, enum connect_severity sev, const char *setting, char *text,
                        char *why, char *remedy)
{
    add(rep, sev, setting, text, why, remedy);
}

static bool is_user_rule(const struct connect_rule *r, const struct connect_connector *c)
{
    return !r->disabled && !strcmp(r->connector, c->id) && r->target_type
           && !strcasecmp(r->target_type, "user");
}

static const struct connect_flow *flow_to(const struct connect_rule *r, const char *dest)
{
    for (size_t f = 0; f < r->nflows; f++)
        if (!strcasecmp(r->flows[f].dest, dest))
            return &r->flows[f];
    return NULL;
}

enum flow_effect { GIVES_NOTHING, CLEARS, WRITES };

static enum flow_effect effect(const struct connect_flow *f)
{
    if (f->expression) {
        if (!strcasecmp(f->expression, "AuthoritativeNull"))
            return CLEARS;
        if (!strcasecmp(f->expression, "NULL") || !strcasecmp(f->expression, "IgnoreThisFlow"))
            return GIVES_NOTHING;
    }
    return WRITES;
}

/* Rules in the order Connect applies them: lowest precedence first, equal
 * ones by name (so the order is never the file system's). An insertion sort:
 * stable, and the lists are a few dozen rules. */
static void sort_by_precedence(const struct connect_rule **v, size_t n)
{
    for (size_t a = 1; a < n; a++)
        for (size_t b = a; b > 0; b--) {
            const struct connect_rule *x = v[b - 1], *y = v[b];
            if (x->precedence < y->precedence
                || (x->precedence == y->precedence && strcmp(x->name, y->name) <= 0))
                break;
            v[b - 1] = y, v[b] = x;
        }
}

/* The outbound rules to connector c that flow dest to users, lowest
 * precedence first (equal ones by name, so the order is the file system's
 * never). Caller frees. */
static size_t flows_to(const struct connect_export *ex, const struct connect_connector *c, const char *dest,
                       const struct connect_rule ***out)
{
    size_t n = 0;
    *out = xcalloc(ex->nrules + 1, sizeof(**out));
    for (size_t r = 0; r < ex->nrules; r++)
        if (ex->rules[r].outbound && is_user_rule(&ex->rules[r], c) && flow_to(&ex->rules[r], dest))
            (*out)[n++] = &ex->rules[r];
    sort_by_precedence(*out, n);
    return n;
}

/* Per rule of a flows_to list: the users whose scope it covers, those it
 * may cover, and those for whom it decides the attribute. */
struct rule_tally {
    size_t covers, maybe, decides;
};

/* For every user: which rule decides dest. Fills tally (nrules entries) and
 * the users the attribute ends up written for (writes), not given (none),
 * cleared, or cannot be told (unknown). first_*: a user of each, for
 * examples (SIZE_MAX: none). */
struct outcome {
    size_t writes, cleared, none, unknown;
    size_t first_writes, first_unknown;
};

/* A Direct flow of metaverse attribute attr (no expression, no constant). */
static bool direct_from(const struct connect_flow *f, const char *attr)
{
    return f && !f->expression && !f->constant && f->nsrc == 1 && !strcasecmp(f->src[0], attr);
}

/* mv (may be NULL): per user, whether the metaverse holds
 * onPremisesUserPrincipalName (1), not (0: a Direct flow of it gives
 * nothing), or cannot be told (-1). */
static void decide(const struct connect_rule **rules, size_t nrules, const char *dest,
                   const struct connect_users *u, size_t nusers, struct rule_tally *tally,
                   struct outcome *o, bool (*counts)(const struct connect_users *, size_t, const char *),
                   const char *arg, const int *mv)
{
    memset(o, 0, sizeof(*o));
    o->first_writes = o->first_unknown = SIZE_MAX;
    for (size_t i = 0; i < nusers; i++) {
        bool decided = false;
        for (size_t k = 0; k < nrules; k++) {
            int a = rule_applies(rules[k], u, i);
            if (a == 1)
                tally[k].covers++;
            else if (a < 0)
                tally[k].maybe++;
            if (decided || a == 0)
                continue;
            const struct connect_flow *f = flow_to(rules[k], dest);
            enum flow_effect e = effect(f);
            bool value_unknown = false;
            if (e == WRITES && mv && direct_from(f, ONPREM_UPN)) {
                if (mv[i] == 0)
                    e = GIVES_NOTHING;
                value_unknown = mv[i] < 0;
            }
            if (e == GIVES_NOTHING)
                continue;   /* applies or not, it gives nothing: the next rule may */
            decided = true;
            tally[k].decides++;
            if (a < 0 || value_unknown) {
                o->unknown++;
                if (o->first_unknown == SIZE_MAX)
                    o->first_unknown = i;
            } else if (e == CLEARS) {
                o->cleared++;
            } else if (!counts || counts(u, i, arg)) {
                o->writes++;
                if (o->first_writes == SIZE_MAX)
                    o->first_writes = i;
            } else {
                o->none++;
            }
        }
        if (!decided)
            o->none++;
    }
}

static void rules_flow(struct strbuf *out, size_t n, const struct connect_connector *c)
{
    strbuf_addf(out, "%zu enabled outbound rule%s to '%s' flow%s it", n, n == 1 ? "" : "s", c->name,
                n == 1 ? "s" : "");
}

static const char *label(const struct connect_users *u, size_t i)
{
    const char *l = u->label ? u->label(u->ctx, i) : NULL;
    return l ? l : "(a user)";
}

/* No AD read: one "user" that only has what every synced user has. */
static int no_values(void *ctx, size_t i, const char *attr, const char *const **vals, size_t *n)
{
    (void)ctx, (void)i, (void)attr, (void)vals, (void)n;
    return 0;
}

static void rules_text(const struct connect_rule **rules, size_t n, const struct rule_tally *t, bool known,
                       struct strbuf *out)
{
    for (size_t k = 0; k < n; k++) {
        strbuf_addf(out, "\n      '%s' (precedence %d, scope: ", rules[k]->name, rules[k]->precedence);
        scope_text(rules[k], out);
        strbuf_addstr(out, ")");
        if (known) {
            strbuf_addf(out, ": covers %zu", t[k].covers);
            if (t[k].maybe)
                strbuf_addf(out, " (and may cover %zu)", t[k].maybe);
            strbuf_addf(out, ", decides it for %zu", t[k].decides);
        }
    }
}

/* The -Attribute/-Value arguments of scripts/New-DualsyncConnectRule.ps1 the
 * caller found in dualsync's rules, or placeholders. */
static void script_args(const struct connect_view *v, struct strbuf *out)
{
    if (v->suggest_attribute && v->nsuggest_values) {
        strbuf_addstr(out, "-ScopeGroup ");
        for (size_t k = 0; k < v->nsuggest_values; k++)
            strbuf_addf(out, "%s'%s EQUAL %s'", k ? "," : "", v->suggest_attribute, v->suggest_values[k]);
        strbuf_addf(out, " (%s tells the users dualsync converts here from this tenant's members; add a "
                    "group for any it misses)", v->suggest_attribute);
    } else {
        strbuf_addstr(out, "-ScopeGroup 'ATTRIBUTE EQUAL VALUE'[,...] (the AD attribute and values that mark "
                           "the users dualsync converts here)");
    }
}

static bool is_ad_connector(const struct connect_export *ex, const char *id)
{
    for (size_t c = 0; c < ex->nconnectors; c++)
        if (ex->connectors[c].kind == CONNECT_AD && !strcmp(ex->connectors[c].id, id))
            return true;
    return false;
}

/* The enabled inbound rules from an AD connector into the metaverse person
 * that flow dest, lowest precedence first. Caller frees. */
static size_t flows_from_ad(const struct connect_export *ex, const char *dest, const struct connect_rule ***out)
{
    size_t n = 0;
    *out = xcalloc(ex->nrules + 1, sizeof(**out));
    for (size_t r = 0; r < ex->nrules; r++) {
        const struct connect_rule *x = &ex->rules[r];
        if (!x->outbound && !x->disabled && is_ad_connector(ex, x->connector) && x->target_type
            && !strcasecmp(x->target_type, "person") && flow_to(x, dest))
            (*out)[n++] = x;
    }
    sort_by_precedence(*out, n);
    return n;
}

static void judge_onprem_upn(const struct connect_export *ex, const struct connect_connector *entra,
                             const struct connect_view *v, const struct connect_users *u, size_t nusers,
                             struct connect_report *rep)
{
    /* the metaverse side first: which inbound rule gives each user the
     * value the outbound rules copy (the out-of-box one copies AD's
     * userPrincipalName; the script's gives AuthoritativeNull) */
    const struct connect_rule **in;
    size_t nin = flows_from_ad(ex, ONPREM_UPN, &in);
    struct rule_tally *tin = xcalloc(nin + 1, sizeof(*tin));
    struct outcome oin;
    decide(in, nin, ONPREM_UPN, u, nusers, tin, &oin, NULL, NULL, NULL);
    int *mv = xcalloc(nusers + 1, sizeof(*mv));
    for (size_t i = 0; i < nusers; i++) {
        mv[i] = 0;
        for (size_t k = 0; k < nin; k++) {
            int a = rule_applies(in[k], u, i);
            enum flow_effect e = effect(flow_to(in[k], ONPREM_UPN));
            if (a == 0 || e == GIVES_NOTHING)
                continue;
            mv[i] = a < 0 ? -1 : e == CLEARS ? 0 : 1;
            break;
        }
    }
    const struct connect_rule **rules;
    size_t n = flows_to(ex, entra, ONPREM_UPN, &rules);
    struct rule_tally *t = xcalloc(n + 1, sizeof(*t));
    struct outcome o;
    /* no inbound rule of the export fills it (Connect 1.1.130 has none
     * from AD): where the value comes from is not in the export, so the
     * outbound rules are taken to have one to send */
    decide(rules, n, ONPREM_UPN, u, nusers, t, &o, NULL, NULL, nin ? mv : NULL);
    size_t cleared = nusers - o.writes - o.unknown;   /* no value reaches Entra: Connect removes it */
    struct strbuf text = STRBUF_INIT, remedy = STRBUF_INIT;
    bool known = v->users.known;
    enum connect_severity sev;
    rules_flow(&text, n, entra);
    if (known) {
        strbuf_addf(&text, "; of the %zu users dualsync converts in %s, Connect writes it for %zu and "
                    "leaves it empty for %zu", nusers, v->tenant, o.writes, cleared);
        if (o.unknown)
            strbuf_addf(&text, ", and cannot be told for %zu (a scope dualsync cannot evaluate: taken as "
                        "writing it)", o.unknown);
        if (o.writes)
            strbuf_addf(&text, "; e.g. %s", label(u, o.first_writes));
        else if (o.unknown)
            strbuf_addf(&text, "; e.g. %s", label(u, o.first_unknown));
        sev = o.writes || o.unknown ? CONNECT_BLOCKED : CONNECT_OK;
    } else {
        strbuf_addstr(&text, " (AD was not read: no counts)");
        sev = o.writes ? CONNECT_BLOCKED : o.unknown ? CONNECT_NOTE : CONNECT_OK;
        if (o.writes)
            strbuf_addstr(&text, "; the first that applies writes it for every ordinary synced user");
        else if (o.unknown)
            strbuf_addstr(&text, "; whether it stays empty for the users dualsync converts depends on "
                                 "their AD values: read AD, or give --ad-snapshot");
    }
    rules_text(rules, n, t, known, &text);
    if (nin) {
        strbuf_addstr(&text, "\n      the metaverse value comes from:");
        rules_text(in, nin, tin, known, &text);
    } else {
        strbuf_addstr(&text, "\n      no inbound rule of the export fills the metaverse value: taken as "
                             "filled");
    }
    char *why = NULL, *rem = NULL;
    if (sev != CONNECT_OK) {
        why = xstrdup("Entra refuses to convert a synced user whose cloud object has "
                      "onPremisesUserPrincipalName (Microsoft Learn, \"Invite internal users to B2B "
                      "collaboration\"): these users stay blocked");
        strbuf_addstr(&remedy, "on this Connect server run scripts/New-DualsyncConnectRule.ps1 ");
        script_args(v, &remedy);
        strbuf_addstr(&remedy, " (it adds an inbound rule that gives those users AuthoritativeNull for "
                               "onPremisesUserPrincipalName, before the out-of-box rules; Connect then "
                               "removes the value from Entra at the next cycle), then export the "
                               "configuration again and run this check on it (doc/deployment.md)");
        rem = strbuf_detach(&remedy);
    }
    add(rep, sev, ONPREM_UPN, strbuf_detach(&text), why, rem);
    /* an outbound AuthoritativeNull: what a community report says did not
     * reach Entra (graph-api.md 1.4, Q&A 1094072) */
    for (size_t k = 0; k < n; k++)
        if (effect(flow_to(rules[k], ONPREM_UPN)) == CLEARS && t[k].decides)
            add(rep, CONNECT_NOTE, rules[k]->name,
                xasprintf("an outbound rule (precedence %d) that flows AuthoritativeNull to "
                          "onPremisesUserPrincipalName, deciding it for %zu users", rules[k]->precedence,
                          t[k].decides),
                xstrdup("an administrator reported that such an outbound null showed in the connector "
                        "space but never reached Entra (Microsoft Q&A 1094072); Microsoft documents the "
                        "inbound AuthoritativeNull for overriding an attribute (\"Fix default rules\", "
                        "Overriding value of existing attribute)"),
                xstrdup("after a sync cycle, confirm with Graph that onPremisesUserPrincipalName is empty "
                        "for these users; or use scripts/New-DualsyncConnectRule.ps1, which adds the "
                        "inbound rule"));
    strbuf_release(&remedy);
    free(t);
    free(rules);
    free(tin);
    free(in);
    free(mv);
}

/* Users whose wanted userType differs from constant arg. */
static bool type_differs(const struct connect_users *u, size_t i, const char *constant)
{
    if (!constant)
        return true;
    bool guest = u->guest && u->guest(u->ctx, i);
    return strcasecmp(constant, guest ? "Guest" : "Member") != 0;
}

static void judge_user_type(const struct connect_export *ex, const struct connect_connector *entra,
                            const struct connect_view *v, const struct connect_users *u, size_t nusers,
                            struct connect_report *rep)
{
    const struct connect_rule **rules;
    size_t n = flows_to(ex, entra, "userType", &rules);
    if (!n) {
        add(rep, CONNECT_OK, "userType",
            xasprintf("no enabled outbound rule to '%s' flows it: Connect leaves the userType dualsync sets "
                      "alone", entra->name), NULL, NULL);
        free(rules);
        return;
    }
    struct strbuf text = STRBUF_INIT;
    enum connect_severity sev = CONNECT_BLOCKED;
    /* one constant for every rule: then only users wanting the other type lose */
    const char *constant = NULL;
    bool all_constant = true;
    for (size_t k = 0; k < n; k++) {
        const struct connect_flow *f = flow_to(rules[k], "userType");
        if (!f->constant || (constant && strcasecmp(constant, f->constant)))
            all_constant = false;
        constant = f->constant;
    }
    struct rule_tally *t = xcalloc(n + 1, sizeof(*t));
    struct outcome o;
    decide(rules, n, "userType", u, nusers, t, &o, type_differs, all_constant ? constant : NULL, NULL);
    if (v->users.known) {
        rules_flow(&text, n, entra);
        strbuf_addf(&text, "; at every cycle Connect writes userType over the one dualsync sets for %zu of "
                    "the %zu users dualsync converts in %s", o.writes + o.unknown, nusers, v->tenant);
        if (o.writes)
            strbuf_addf(&text, " (e.g. %s)", label(u, o.first_writes));
        if (!o.writes && !o.unknown)
            sev = CONNECT_OK;
    } else {
        rules_flow(&text, n, entra);
        strbuf_addstr(&text, " (AD was not read: no counts)");
    }
    rules_text(rules, n, t, v->users.known, &text);
    /* where the metaverse userType comes from */
    for (size_t r = 0; r < ex->nrules; r++) {
        const struct connect_rule *in = &ex->rules[r];
        const struct connect_flow *f = in->outbound || in->disabled ? NULL : flow_to(in, "userType");
        if (f)
            strbuf_addf(&text, "\n      fed by inbound rule '%s' (precedence %d): %s", in->name, in->precedence,
                        f->expression ? f->expression : f->constant ? f->constant
                        : f->nsrc ? f->src[0] : "?");
    }
    add(rep, sev, "userType", strbuf_detach(&text),
        sev == CONNECT_OK ? NULL
        : xstrdup("dualsync sets userType (Guest or Member) after the conversion; a flowing userType undoes it "
                  "at the next cycle, and external guests become members again (or the reverse)"),
        sev == CONNECT_OK ? NULL
        : xstrdup("leave the users dualsync converts out of the userType rule's scope (a scoping clause on the "
                  "attribute the dualsync rules read), or make its inbound rule give the userType dualsync "
                  "sets, or turn UserType synchronization off on this server"));
    free(t);
    free(rules);
}

/* The deepest inclusion or exclusion at or above dn: 1 included, 0 excluded. */
static int container_rule(const struct connect_partition *p, const char *dn, const char **by)
{
    size_t best = 0;
    int verdict = p->ninclusions ? 0 : 1;
    *by = NULL;
    for (size_t k = 0; k < p->ninclusions; k++)
        if (ad_dn_within(dn, p->inclusions[k]) && strlen(p->inclusions[k]) >= best)
            best = strlen(p->inclusions[k]), verdict = 1, *by = p->inclusions[k];
    for (size_t k = 0; k < p->nexclusions; k++)
        if (ad_dn_within(dn, p->exclusions[k]) && strlen(p->exclusions[k]) > best)
            best = strlen(p->exclusions[k]), verdict = 0, *by = p->exclusions[k];
    return verdict;
}

static bool has_class(const struct connect_partition *p, const char *cls)
{
    if (!p->nclasses)
        return true;
    for (size_t k = 0; k < p->nclasses; k++)
        if (!strcasecmp(p->classes[k], cls))
            return true;
    return false;
}

/* Whether connector c exports dn; *why names the setting that leaves it out. */
static bool exports(const struct connect_connector *c, const char *dn, const char **why)
{
    *why = "no selected partition holds it";
    for (size_t p = 0; p < c->npartitions; p++) {
        const struct connect_partition *part = &c->partitions[p];
        if (!part->selected || !ad_dn_within(dn, part->name))
            continue;
        const char *by;
        if (!has_class(part, "user")) {
            *why = "the partition's object classes leave out user";
            return false;
        }
        if (container_rule(part, dn, &by))
            return true;
        *why = by ? by : "no container inclusion holds it";
        return false;
    }
    return false;
}

static void judge_partitions(const struct connect_export *ex, const struct connect_view *v,
                             const struct connect_users *u, size_t nusers, struct connect_report *rep)
{
    const struct connect_connector *ad = NULL;
    size_t nad = 0;
    for (size_t c = 0; c < ex->nconnectors; c++)
        if (ex->connectors[c].kind == CONNECT_AD)
            ad = &ex->connectors[c], nad++;
    if (!ad) {
        add(rep, CONNECT_BLOCKED, "AD connector", xstrdup("the export has no Active Directory connector"),
            xstrdup("without one Connect exports no AD user to this tenant"),
            xstrdup("give dualsync the export of the Connect server that syncs this AD forest"));
        return;
    }
    struct strbuf text = STRBUF_INIT;
    for (size_t c = 0; c < ex->nconnectors; c++) {
        const struct connect_connector *con = &ex->connectors[c];
        if (con->kind != CONNECT_AD)
            continue;
        for (size_t p = 0; p < con->npartitions; p++) {
            const struct connect_partition *part = &con->partitions[p];
            strbuf_addf(&text, "\n      '%s' partition %s: %s", con->name, part->name,
                        part->selected ? "selected" : "not selected");
            for (size_t k = 0; k < part->ninclusions; k++)
                strbuf_addf(&text, "; includes %s", part->inclusions[k]);
            for (size_t k = 0; k < part->nexclusions; k++)
                strbuf_addf(&text, "; excludes %s", part->exclusions[k]);
        }
    }
    /* what dualsync reads that no AD connector exports, on the DNs alone */
    struct strbuf bases = STRBUF_INIT;
    for (size_t b = 0; b < v->nbase_dns; b++) {
        bool out = true;
        const char *why = "";
        for (size_t c = 0; c < ex->nconnectors && out; c++)
            if (ex->connectors[c].kind == CONNECT_AD)
                out = !exports(&ex->connectors[c], v->base_dns[b], &why);
        if (out)
            strbuf_addf(&bases, "%s%s (%s)", bases.len ? ", " : "", v->base_dns[b], why);
        for (size_t c = 0; c < ex->nconnectors; c++)
            for (size_t p = 0; p < ex->connectors[c].npartitions; p++) {
                const struct connect_partition *part = &ex->connectors[c].partitions[p];
                for (size_t k = 0; k < part->nexclusions && ex->connectors[c].kind == CONNECT_AD; k++)
                    if (ad_dn_within(part->exclusions[k], v->base_dns[b])
                        && strcasecmp(part->exclusions[k], v->base_dns[b]))
                        strbuf_addf(&bases, "%s%s (excluded inside dualsync's base %s)", bases.len ? ", " : "",
                                    part->exclusions[k], v->base_dns[b]);
            }
    }
    enum connect_severity sev = CONNECT_OK;
    struct strbuf head = STRBUF_INIT;
    if (u->known) {
        size_t missed = 0, first = SIZE_MAX;
        const char *first_why = NULL;
        for (size_t i = 0; i < nusers; i++) {
            const char *dn = u->dn ? u->dn(u->ctx, i) : NULL;
            bool in = false;
            const char *why = "no selected partition holds it";
            for (size_t c = 0; c < ex->nconnectors && !in && dn; c++)
                if (ex->connectors[c].kind == CONNECT_AD)
                    in = exports(&ex->connectors[c], dn, &why);
            if (!in) {
                if (!missed++)
                    first = i, first_why = why;
            }
        }
        strbuf_addf(&head, "Connect exports %zu of the %zu users dualsync converts in %s", nusers - missed,
                    nusers, v->tenant);
        if (missed) {
            strbuf_addf(&head, "; it never exports %zu (e.g. %s: %s)", missed, u->dn(u->ctx, first), first_why);
            sev = CONNECT_BLOCKED;
        }
    } else {
        strbuf_addstr(&head, "AD was not read: no counts");
        if (bases.len)
            sev = CONNECT_NOTE;
    }
    if (bases.len)
        strbuf_addf(&head, "; of dualsync's scope Connect leaves out: %s", bases.buf);
    if (text.len)
        strbuf_add(&head, text.buf, text.len);
    add(rep, sev, "AD connector partitions and containers", strbuf_detach(&head),
        sev == CONNECT_OK ? NULL
        : xstrdup("a user Connect does not export never reaches the tenant: dualsync finds no cloud user "
                  "and keeps it pending"),
        sev == CONNECT_OK ? NULL
        : xstrdup("in the Connect wizard (Customize synchronization options, Domain and OU filtering) "
                  "include those OUs, or narrow dualsync's [ldap] base_dn and exclude_ou to what Connect "
                  "exports"));
    strbuf_release(&bases);
    strbuf_release(&text);
    (void)nad;
}

static void judge_anchor(const struct connect_export *ex, const struct connect_view *v,
                         const struct connect_users *u, size_t nusers, struct connect_report *rep)
{
    const struct connect_setting *s = connect_setting(ex, "Microsoft.SynchronizationOption.AnchorAttribute");
    const char *anchor = s ? s->value : NULL;
    char *where = NULL;
    if (s) {
        where = xasprintf("Microsoft.SynchronizationOption.AnchorAttribute (%s:%d)", s->file, s->line);
    } else {
        /* older exports: the inbound rule that computes sourceAnchor */
        for (size_t r = 0; r < ex->nrules && !anchor; r++) {
            const struct connect_rule *in = &ex->rules[r];
            const struct connect_flow *f = in->outbound || in->disabled ? NULL : flow_to(in, "sourceAnchor");
            for (size_t k = 0; f && k < f->nsrc; k++)
                if (!strcasecmp(f->src[k], "mS-DS-ConsistencyGuid") || !strcasecmp(f->src[k], "objectGUID"))
                    anchor = f->src[k];
            if (anchor)
                where = xasprintf("inbound rule '%s' (%s:%d)", in->name, in->file, in->line);
        }
    }
    if (!anchor) {
        add(rep, CONNECT_NOTE, "source anchor",
            xstrdup("the export names no source anchor (no AnchorAttribute setting, no inbound sourceAnchor "
                    "flow from mS-DS-ConsistencyGuid or objectGUID)"),
            xstrdup("dualsync finds a cloud user by onPremisesImmutableId, computed from mS-DS-ConsistencyGuid "
                    "(else objectGUID) as Connect does by default"),
            xstrdup("check the source anchor in the Connect wizard (View current configuration)"));
        return;
    }
    if (!strcasecmp(anchor, "mS-DS-ConsistencyGuid")) {
        add(rep, CONNECT_OK, "source anchor",
            xasprintf("mS-DS-ConsistencyGuid (%s): dualsync computes onPremisesImmutableId the same way", where),
            NULL, NULL);
    } else if (!strcasecmp(anchor, "objectGUID")) {
        size_t bad = 0, first = SIZE_MAX;
        for (size_t i = 0; u->known && i < nusers; i++)
            if (u->anchor_not_object_guid && u->anchor_not_object_guid(u->ctx, i) && !bad++)
                first = i;
        char *text = u->known
            ? xasprintf("objectGUID (%s); dualsync takes mS-DS-ConsistencyGuid where it is set: %zu of the %zu "
                        "users dualsync converts in %s have one that differs from objectGUID%s%s", where, bad,
                        nusers, v->tenant, bad ? ", e.g. " : "", bad ? label(u, first) : "")
            : xasprintf("objectGUID (%s); dualsync takes mS-DS-ConsistencyGuid where it is set (AD was not "
                        "read: no counts)", where);
        enum connect_severity sev = bad ? CONNECT_BLOCKED : u->known ? CONNECT_OK : CONNECT_NOTE;
        add(rep, sev, "source anchor", text,
            sev == CONNECT_OK ? NULL
            : xstrdup("for a user whose mS-DS-ConsistencyGuid differs from objectGUID, dualsync looks for an "
                      "onPremisesImmutableId Connect never wrote: it never finds the cloud user"),
            sev == CONNECT_OK ? NULL
            : xstrdup("clear mS-DS-ConsistencyGuid on those users (Connect anchored on objectGUID does not use "
                      "it), or move Connect to the mS-DS-ConsistencyGuid anchor (Microsoft Learn, \"Entra "
                      "Connect: Design concepts\", using ms-DS-ConsistencyGuid as sourceAnchor)"));
    } else {
        add(rep, CONNECT_BLOCKED, "source anchor",
            xasprintf("%s (%s): a custom source anchor", anchor, where),
            xstrdup("dualsync computes onPremisesImmutableId from mS-DS-ConsistencyGuid or objectGUID; with "
                    "another anchor it finds no cloud user"),
            xstrdup("dualsync cannot serve this tenant until it knows this anchor; tell its maintainers"));
    }
    free(where);
}

static bool has_attribute(const struct connect_connector *c, const char *attr)
{
    if (!c->nattributes)
        return true;    /* no list: not filtered */
    for (size_t k = 0; k < c->nattributes; k++)
        if (!strcasecmp(c->attributes[k], attr))
            return true;
    return false;
}

static void judge_mail(const struct connect_export *ex, const struct connect_connector *entra,
                       const struct connect_view *v, const struct connect_users *u, size_t nusers,
                       struct connect_report *rep)
{
    struct strbuf text = STRBUF_INIT;
    enum connect_severity sev = CONNECT_OK;
    const char *missing = NULL;
    for (size_t c = 0; c < ex->nconnectors; c++)
        if (ex->connectors[c].kind == CONNECT_AD && !has_attribute(&ex->connectors[c], "mail"))
            missing = ex->connectors[c].name;
    if (!has_attribute(entra, "mail"))
        missing = entra->name;
    const struct connect_rule **rules;
    size_t n = flows_to(ex, entra, "mail", &rules);
    struct rule_tally *t = xcalloc(n + 1, sizeof(*t));
    struct outcome o;
    decide(rules, n, "mail", u, nusers, t, &o, NULL, NULL, NULL);
    if (missing) {
        strbuf_addf(&text, "connector '%s' does not include the attribute mail", missing);
        sev = CONNECT_BLOCKED;
    } else if (!n) {
        strbuf_addf(&text, "no enabled outbound rule to '%s' flows mail", entra->name);
        sev = CONNECT_BLOCKED;
    } else if (u->known) {
        strbuf_addf(&text, "reaches '%s' for %zu of the %zu users dualsync converts in %s", entra->name,
                    o.writes, nusers, v->tenant);
        if (o.writes + o.unknown < nusers)
            sev = CONNECT_BLOCKED;
    } else {
        rules_flow(&text, n, entra);
        sev = o.writes ? CONNECT_OK : CONNECT_NOTE;
    }
    rules_text(rules, n, t, u->known, &text);
    /* invited by another attribute: the cloud mail must still be that address */
    if (sev == CONNECT_OK && v->invite_attribute && strcasecmp(v->invite_attribute, "mail") && u->known) {
        size_t differ = 0, first = SIZE_MAX;
        for (size_t i = 0; i < nusers; i++) {
            const char *const *a, *const *b;
            size_t na, nb;
            if (u->values(u->ctx, i, "mail", &a, &na) && u->values(u->ctx, i, v->invite_attribute, &b, &nb)
                && na && nb && strcasecmp(a[0], b[0]) && !differ++)
                first = i;
        }
        strbuf_addf(&text, "\n      [tenant %s] invites the value of %s: it differs from mail for %zu of them%s%s",
                    v->tenant, v->invite_attribute, differ, differ ? ", e.g. " : "",
                    differ ? label(u, first) : "");
        if (differ)
            sev = CONNECT_BLOCKED;
    }
    add(rep, sev, "mail", strbuf_detach(&text),
        sev == CONNECT_OK ? NULL
        : xstrdup("the invitation goes to the cloud user's mail, which only Connect can set for a synced "
                  "user: without it the user stays blocked on \"no mail\""),
        sev == CONNECT_OK ? NULL
        : xstrdup("make mail flow to the Entra connector for these users (the out-of-box rules 'Out to AAD - "
                  "User Identity' and 'In from AD - User Common' do), and include mail in both connectors' "
                  "attributes"));
    free(t);
    free(rules);
    /* AD's side of it: a user without mail has nothing for Connect to send */
    size_t nomail = 0, first = SIZE_MAX;
    for (size_t i = 0; u->known && i < nusers; i++) {
        const char *const *a;
        size_t na;
        if (u->values(u->ctx, i, "mail", &a, &na) && !na && !nomail++)
            first = i;
    }
    if (nomail)
        add(rep, CONNECT_NOTE, "mail (in AD)",
            xasprintf("%zu of the users dualsync converts in %s have no mail in AD, e.g. %s: Connect has "
                      "nothing to export for them", nomail, v->tenant, label(u, first)),
            xstrdup("the invitation needs the cloud user's mail; dualsync reports these users blocked on "
                    "\"no mail\" until AD has it"),
            xstrdup("set mail in AD for them (Connect then exports it at the next cycle)"));
}

static void judge_server(const struct connect_export *ex, struct connect_report *rep)
{
    const struct connect_setting *s = connect_setting(ex, "Microsoft.Synchronize.StagingMode");
    if (s && s->value && !strcasecmp(s->value, "True"))
        add(rep, CONNECT_BLOCKED, "staging mode",
            xasprintf("this server is in staging mode (%s:%d)", s->file, s->line),
            xstrdup("a staging server exports nothing: its rules are not what the tenant gets"),
            xstrdup("judge the export of the active Connect server of this tenant, or take this one out of "
                    "staging mode"));
    else if (s)
        add(rep, CONNECT_OK, "staging mode", xasprintf("off (%s:%d)", s->file, s->line), NULL, NULL);
    const struct connect_setting *on = connect_setting(ex, "Microsoft.OptionalFeature.ExportDeletionThreshold");
    const struct connect_setting *val =
        connect_setting(ex, "Microsoft.OptionalFeature.ExportDeletionThresholdValue");
    if (on && on->value && !strcasecmp(on->value, "False"))
        add(rep, CONNECT_NOTE, "export deletion threshold",
            xasprintf("disabled (%s:%d)", on->file, on->line),
            xstrdup("without it an OU filter change or a renamed OU deletes synced users, converted ones "
                    "included, in one export"),
            xstrdup("Enable-ADSyncExportDeletionThreshold -DeletionThreshold 500 -AADUserName ADMIN"));
    else if (on)
        add(rep, CONNECT_OK, "export deletion threshold",
            xasprintf("enabled, %s deletions per export (%s:%d)", val && val->value ? val->value : "500",
                      on->file, on->line), NULL, NULL);
}

void connect_judge(const struct connect_export *ex, const struct connect_view *v, struct connect_report *out)
{
    memset(out, 0, sizeof(*out));
    struct connect_users generic = { false, 1, NULL, no_values, NULL, NULL, NULL, NULL, NULL };
    const struct connect_users *u = v->users.known ? &v->users : &generic;
    size_t nusers = v->users.known ? v->users.n : 1;
    const struct connect_setting *ver = connect_setting(ex, "Microsoft.Synchronize.ServerConfigurationVersion");
    struct strbuf sum = STRBUF_INIT;
    strbuf_addf(&sum, "%s: server %s, configuration %s", ex->dir, ex->server ? ex->server : "(not named)",
                ver && ver->value ? ver->value : "(version not in the export)");
    size_t nentra = 0;
    for (size_t c = 0; c < ex->nconnectors; c++)
        if (ex->connectors[c].kind == CONNECT_ENTRA)
            nentra++;
    if (v->users.known)
        strbuf_addf(&sum, "; %zu users dualsync converts in %s (AD %s%s)", v->users.n, v->tenant,
                    v->ad_source ? "as the copy kept in " : "as read now", v->ad_source ? v->ad_source : "");
    else
        strbuf_addstr(&sum, "; AD was not read: the judge cannot count users");
    out->summary = strbuf_detach(&sum);
    out->counted = v->users.known;
    judge_server(ex, out);
    if (!nentra)
        add(out, CONNECT_BLOCKED, "Entra connector", xstrdup("the export has no Entra ID connector"),
            xstrdup("then this server exports nothing to any tenant"),
            xstrdup("give dualsync the export of this tenant's own Connect server"));
    for (size_t c = 0; c < ex->nconnectors; c++) {
        const struct connect_connector *entra = &ex->connectors[c];
        if (entra->kind != CONNECT_ENTRA)
            continue;
        judge_onprem_upn(ex, entra, v, u, nusers, out);
        judge_user_type(ex, entra, v, u, nusers, out);
        judge_mail(ex, entra, v, u, nusers, out);
    }
    judge_partitions(ex, v, u, nusers, out);
    judge_anchor(ex, v, u, nusers, out);
}

void connect_report_print(FILE *f, const char *tenant, const struct connect_report *rep)
{
    static const char *const sev[] = { "ok", "note", "WARNING", "BLOCKED" };
    fprintf(f, "connect %s: %s\n", tenant, rep->summary);
    for (size_t i = 0; i < rep->nfindings; i++) {
        const struct connect_finding *x = &rep->findings[i];
        fprintf(f, "  %-7s %s: %s\n", sev[x->severity], x->setting, x->text);
        if (x->why)
            fprintf(f, "          why: %s\n", x->why);
        if (x->remedy)
            fprintf(f, "          remedy: %s\n", x->remedy);
    }
    if (rep->blocked)
        fprintf(f, "connect %s: blocked: %zu finding%s stop%s conversion\n", tenant, rep->blocked,
                rep->blocked == 1 ? "" : "s", rep->blocked == 1 ? "s" : "");
    else if (!rep->counted)
        fprintf(f, "connect %s: nothing in the export blocks conversion by itself; only AD's values can "
                "show that the scopes cover the right users\n", tenant);
    else
        fprintf(f, "connect %s: ready for dualsync\n", tenant);
    if (rep->warned)    /* a warning does not change the exit code: said, not counted */
        fprintf(f, "connect %s: %zu warning%s above\n", tenant, rep->warned, rep->warned == 1 ? "" : "s");
}

void connect_report_free(struct connect_report *rep)
{
    for (size_t i = 0; i < rep->nfindings; i++) {
        free(rep->findings[i].setting);
        free(rep->findings[i].text);
        free(rep->findings[i].why);
        free(rep->findings[i].remedy);
    }
    free(rep->findings);
    free(rep->summary);
    memset(rep, 0, sizeof(*rep));
}
