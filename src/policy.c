/* policy.c - compile the tenants' rules once, then decide per object (policy.h).
 *
 * The hot path is eval(): a switch over compact nodes, ASCII case folding
 * without the locale, values folded at compile time, sorted `in` lists
 * searched by bisection. No allocation and no I/O per decision; the budget is
 * a million objects times three tenants in a second on one core
 * (tests/bench/bench_policy.c). */
#include "compat.h"

#include <regex.h>

#include "config.h"
#include "log.h"
#include "policy.h"
#include "rules.h"
#include "util.h"

#define NONE UINT32_MAX

enum op {
    OP_TRUE, OP_FALSE, OP_AND, OP_OR, OP_NOT, OP_ENABLED, OP_DISABLED, OP_CLASS, OP_UNDER,
    OP_MEMBEROF, OP_HOME, OP_HOMELESS, OP_HAS, OP_EQ, OP_NE, OP_IN, OP_PREFIX, OP_SUFFIX, OP_MATCH,
};

struct pnode {
    uint8_t op;
    uint16_t idx;              /* attribute, group or OU number; class mask */
    uint32_t a, b;             /* AND/OR: children; NOT: a; EQ..SUFFIX: values [a, a + b);
                                * MATCH: regex a; HOME: tenant mask a */
    const struct cond *src;    /* for the reasons */
};

struct pvalue {
    char *folded;              /* ASCII-lowercased */
    uint32_t len;
};

struct ptenant {
    const struct tenant_config *cfg;
    uint32_t home;             /* root of home_when, or NONE */
    uint32_t *rules;           /* root of each rule */
};

struct policy {
    const struct config *cfg;
    struct pnode *nodes;
    size_t nnodes, anodes;
    struct pvalue *values;
    size_t nvalues, avalues;
    regex_t *regexes;          /* one per distinct (pattern, attribute) */
    char **patterns;
    uint16_t *pattern_attrs;
    size_t nregexes, aregexes, apatterns, apattern_attrs;
    uint64_t *masks;
    size_t nmasks, amasks;
    char **attrs;
    size_t nattrs, aattrs;
    char **groups;
    size_t ngroups, agroups;
    char **ous;
    size_t nous, aous;
    size_t words;
    struct ptenant *tenants;
    size_t ntenants;
    uint64_t homed;            /* tenants with a home_when */
    bool failed;
};

static inline unsigned char fold(unsigned char c)
{
    return (unsigned char)(c - 'A') < 26 ? (unsigned char)(c | 0x20) : c;
}

static char *fold_dup(const char *s)
{
    char *f = xstrdup(s);
    for (char *p = f; *p; p++)
        *p = (char)fold((unsigned char)*p);
    return f;
}

/* ---------------------------------------------------------------- compile */

/* The index of name in a case-insensitive set, added if new. */
static size_t intern(char ***set, size_t *n, size_t *alloc, const char *name)
{
    for (size_t i = 0; i < *n; i++)
        if (!rules_strcasecmp((*set)[i], name))
            return i;
    GROW(*set, *alloc, *n + 1);
    (*set)[*n] = xstrdup(name);
    return (*n)++;
}

static uint32_t add_node(struct policy *pol, enum op op, const struct cond *src)
{
    GROW(pol->nodes, pol->anodes, pol->nnodes + 1);
    struct pnode *n = &pol->nodes[pol->nnodes];
    memset(n, 0, sizeof(*n));
    n->op = (uint8_t)op;
    n->src = src;
    return (uint32_t)pol->nnodes++;
}

static int cmp_pvalue(const void *x, const void *y)
{
    return strcmp(((const struct pvalue *)x)->folded, ((const struct pvalue *)y)->folded);
}

static uint32_t compile_cond(struct policy *pol, const struct cond *c, size_t tenant)
{
    static const enum op ops[] = {
        [COND_TRUE] = OP_TRUE, [COND_FALSE] = OP_FALSE, [COND_AND] = OP_AND, [COND_OR] = OP_OR,
        [COND_NOT] = OP_NOT, [COND_ENABLED] = OP_ENABLED, [COND_DISABLED] = OP_DISABLED,
        [COND_CLASS] = OP_CLASS, [COND_UNDER] = OP_UNDER, [COND_MEMBEROF] = OP_MEMBEROF,
        [COND_HOME] = OP_HOME, [COND_HOMELESS] = OP_HOMELESS, [COND_HAS] = OP_HAS,
        [COND_EQ] = OP_EQ, [COND_NE] = OP_NE, [COND_IN] = OP_IN, [COND_PREFIX] = OP_PREFIX,
        [COND_SUFFIX] = OP_SUFFIX, [COND_MATCH] = OP_MATCH,
    };
    uint32_t id = add_node(pol, ops[c->op], c);
    uint32_t a = 0, b = 0;
    uint16_t idx = 0;
    switch (c->op) {
    case COND_AND:
    case COND_OR:
        a = compile_cond(pol, c->left, tenant);
        b = compile_cond(pol, c->right, tenant);
        break;
    case COND_NOT:
        a = compile_cond(pol, c->left, tenant);
        break;
    case COND_CLASS:
        idx = (uint16_t)c->classes;
        break;
    case COND_UNDER:
    case COND_MEMBEROF: {
        char *dn = ad_dn_canonical(c->name);
        idx = (uint16_t)(c->op == COND_UNDER ? intern(&pol->ous, &pol->nous, &pol->aous, dn)
                                             : intern(&pol->groups, &pol->ngroups, &pol->agroups, dn));
        free(dn);
        break;
    }
    case COND_HOME: {
        uint64_t mask = 0;
        if (!c->nvalues)
            mask = 1ull << tenant;
        for (size_t i = 0; i < c->nvalues; i++) {
            const struct tenant_config *t = config_tenant(pol->cfg, c->values[i]);
            if (t)   /* config_load has refused unknown names */
                mask |= 1ull << (t - pol->cfg->tenants);
        }
        GROW(pol->masks, pol->amasks, pol->nmasks + 1);
        pol->masks[pol->nmasks] = mask;
        a = (uint32_t)pol->nmasks++;
        break;
    }
    case COND_HAS:
        idx = (uint16_t)intern(&pol->attrs, &pol->nattrs, &pol->aattrs, c->name);
        break;
    case COND_EQ:
    case COND_NE:
    case COND_IN:
    case COND_PREFIX:
    case COND_SUFFIX:
        idx = (uint16_t)intern(&pol->attrs, &pol->nattrs, &pol->aattrs, c->name);
        a = (uint32_t)pol->nvalues;
        b = (uint32_t)c->nvalues;
        GROW(pol->values, pol->avalues, pol->nvalues + c->nvalues);
        for (size_t i = 0; i < c->nvalues; i++) {
            struct pvalue *v = &pol->values[pol->nvalues++];
            v->folded = fold_dup(c->values[i]);
            v->len = (uint32_t)strlen(v->folded);
        }
        if (c->op == COND_IN)
            sort_array(pol->values + a, b, sizeof(*pol->values), cmp_pvalue);
        break;
    case COND_MATCH: {
        idx = (uint16_t)intern(&pol->attrs, &pol->nattrs, &pol->aattrs, c->name);
        /* the tenants of a mesh repeat their rules: one regex, and one result
         * per object (struct ectx caches it), for each pattern and attribute */
        size_t k;
        for (k = 0; k < pol->nregexes; k++)
            if (pol->pattern_attrs[k] == idx && !strcmp(pol->patterns[k], c->values[0]))
                break;
        if (k < pol->nregexes) {
            a = (uint32_t)k;
            break;
        }
        GROW(pol->patterns, pol->apatterns, pol->nregexes + 1);
        GROW(pol->pattern_attrs, pol->apattern_attrs, pol->nregexes + 1);
        pol->patterns[pol->nregexes] = xstrdup(c->values[0]);
        pol->pattern_attrs[pol->nregexes] = idx;
        GROW(pol->regexes, pol->aregexes, pol->nregexes + 1);
        /* the parser refused patterns beyond the bounds already; a tree built
         * any other way must not reach regcomp with one either (rules.h) */
        struct rules_error bound;
        if (rules_regex_check(c->values[0], &bound)) {
            log_error("policy: the regular expression '%s': %s", c->values[0], bound.message);
            pol->failed = true;
            regcomp(&pol->regexes[pol->nregexes], "$^", REG_EXTENDED | REG_NOSUB);
        } else if (regcomp(&pol->regexes[pol->nregexes], c->values[0],
                           REG_EXTENDED | REG_ICASE | REG_NOSUB)) {
            log_error("policy: cannot compile the regular expression '%s'", c->values[0]);
            pol->failed = true;
            /* an always-failing stand-in keeps the indices consistent for policy_free */
            regcomp(&pol->regexes[pol->nregexes], "$^", REG_EXTENDED | REG_NOSUB);
        }
        a = (uint32_t)pol->nregexes++;
        break;
    }
    default:
        break;
    }
    /* the node array may have moved while compiling the children */
    struct pnode *n = &pol->nodes[id];
    n->idx = idx;
    n->a = a;
    n->b = b;
    return id;
}

struct policy *policy_compile(const struct config *cfg)
{
    struct policy *pol = xcalloc(1, sizeof(*pol));
    pol->cfg = cfg;
    pol->ntenants = cfg->ntenants;
    pol->tenants = xcalloc(cfg->ntenants ? cfg->ntenants : 1, sizeof(*pol->tenants));
    for (size_t t = 0; t < cfg->ntenants; t++) {
        const struct tenant_config *tc = &cfg->tenants[t];
        struct ptenant *pt = &pol->tenants[t];
        pt->cfg = tc;
        pt->home = tc->home_when.cond ? compile_cond(pol, tc->home_when.cond, t) : NONE;
        if (tc->home_when.cond)
            pol->homed |= 1ull << t;
        pt->rules = xcalloc(tc->nrules ? tc->nrules : 1, sizeof(*pt->rules));
        for (size_t r = 0; r < tc->nrules; r++)
            pt->rules[r] = compile_cond(pol, tc->rules[r].cond, t);
    }
    size_t bits = pol->ngroups > pol->nous ? pol->ngroups : pol->nous;
    pol->words = (bits + 63) / 64;
    if (pol->nattrs > UINT16_MAX || bits > UINT16_MAX) {
        log_error("policy: the rules name more than %d attributes, groups or OUs", UINT16_MAX);
        pol->failed = true;
    }
    if (pol->failed) {
        policy_free(pol);
        return NULL;
    }
    return pol;
}

void policy_free(struct policy *pol)
{
    if (!pol)
        return;
    for (size_t i = 0; i < pol->nvalues; i++)
        free(pol->values[i].folded);
    free(pol->values);
    for (size_t i = 0; i < pol->nregexes; i++) {
        regfree(&pol->regexes[i]);
        free(pol->patterns[i]);
    }
    free(pol->regexes);
    free(pol->patterns);
    free(pol->pattern_attrs);
    for (size_t i = 0; i < pol->nattrs; i++)
        free(pol->attrs[i]);
    free(pol->attrs);
    for (size_t i = 0; i < pol->ngroups; i++)
        free(pol->groups[i]);
    free(pol->groups);
    for (size_t i = 0; i < pol->nous; i++)
        free(pol->ous[i]);
    free(pol->ous);
    for (size_t t = 0; t < pol->ntenants; t++)
        free(pol->tenants[t].rules);
    free(pol->tenants);
    free(pol->masks);
    free(pol->nodes);
    free(pol);
}

size_t policy_ntenants(const struct policy *pol) { return pol->ntenants; }
size_t policy_nattrs(const struct policy *pol) { return pol->nattrs; }
const char *policy_attr_name(const struct policy *pol, size_t i) { return pol->attrs[i]; }
size_t policy_ngroups(const struct policy *pol) { return pol->ngroups; }
const char *policy_group_dn(const struct policy *pol, size_t g) { return pol->groups[g]; }
size_t policy_nous(const struct policy *pol) { return pol->nous; }
const char *policy_ou_dn(const struct policy *pol, size_t o) { return pol->ous[o]; }
size_t policy_set_words(const struct policy *pol) { return pol->words; }

int policy_attr_index(const struct policy *pol, const char *name)
{
    for (size_t i = 0; i < pol->nattrs; i++)
        if (!rules_strcasecmp(pol->attrs[i], name))
            return (int)i;
    return -1;
}

void policy_ou_bits(const struct policy *pol, const char *dn, uint64_t *bits)
{
    for (size_t o = 0; o < pol->nous; o++)
        if (ad_dn_within(dn, pol->ous[o]))
            bits[o / 64] |= 1ull << (o % 64);
}

const struct tenant_rule *policy_rule(const struct policy *pol, size_t tenant, int rule)
{
    const struct tenant_config *t = pol->tenants[tenant].cfg;
    return rule < 0 ? &t->default_rule : &t->rules[rule];
}

/* ----------------------------------------------------------------- decide */

struct ectx {
    const struct policy *pol;
    const struct policy_subject *s;
    uint64_t home_known, home_val;     /* home_when results, per tenant */
    uint64_t match_known, match_val;   /* regex results, for the first 64 regexes */
    struct strbuf *reads;      /* NULL on the fast path */
    bool verbose;              /* reads: each predicate with its result (explain) */
};

static bool eval(struct ectx *c, uint32_t id);

static bool is_home(struct ectx *c, size_t t)
{
    uint64_t bit = 1ull << t;
    if (!(c->home_known & bit)) {
        uint32_t root = c->pol->tenants[t].home;
        /* the home test's own reads are not what the rule read: keep them out */
        struct strbuf *saved = c->reads;
        c->reads = NULL;
        if (root != NONE && eval(c, root))
            c->home_val |= bit;
        c->reads = saved;
        c->home_known |= bit;
    }
    return (c->home_val & bit) != 0;
}

static bool value_eq(const char *v, const struct pvalue *want)
{
    const unsigned char *x = (const unsigned char *)v, *y = (const unsigned char *)want->folded;
    while (*y && fold(*x) == *y)
        x++, y++;
    return *x == '\0' && *y == '\0';
}

static bool value_prefix(const char *v, const struct pvalue *want)
{
    const unsigned char *x = (const unsigned char *)v, *y = (const unsigned char *)want->folded;
    while (*y && fold(*x) == *y)
        x++, y++;
    return *y == '\0';
}

static bool value_suffix(const char *v, const struct pvalue *want)
{
    size_t n = strlen(v);
    if (n < want->len)
        return false;
    return value_eq(v + n - want->len, want);
}

/* Bisection over a sorted, folded list. */
static bool value_in(const char *v, const struct pvalue *list, uint32_t n)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const unsigned char *x = (const unsigned char *)v;
        const unsigned char *y = (const unsigned char *)list[mid].folded;
        while (*y && fold(*x) == *y)
            x++, y++;
        int d = (int)fold(*x) - (int)*y;
        if (d == 0)
            return true;
        if (d < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return false;
}

static bool regex_test(struct ectx *c, const struct pnode *n)
{
    uint64_t bit = n->a < 64 ? 1ull << n->a : 0;
    if (c->match_known & bit)
        return (c->match_val & bit) != 0;
    const struct policy_values *pv = &c->s->attrs[n->idx];
    const regex_t *re = &c->pol->regexes[n->a];
    bool r = false;
    for (uint32_t i = 0; i < pv->n && !r; i++)
        r = regexec(re, pv->vals[i], 0, NULL, 0) == 0;
    c->match_known |= bit;
    if (r)
        c->match_val |= bit;
    return r;
}

static bool attr_test(struct ectx *c, const struct pnode *n)
{
    const struct policy_values *pv = &c->s->attrs[n->idx];
    if (n->op == OP_MATCH)
        return regex_test(c, n);
    const struct pvalue *vals = c->pol->values + n->a;
    for (uint32_t i = 0; i < pv->n; i++) {
        const char *v = pv->vals[i];
        switch (n->op) {
        case OP_IN:
            if (value_in(v, vals, n->b))
                return true;
            break;
        case OP_PREFIX:
            if (value_prefix(v, vals))
                return true;
            break;
        case OP_SUFFIX:
            if (value_suffix(v, vals))
                return true;
            break;
        default:    /* OP_EQ, OP_NE */
            if (value_eq(v, vals))
                return true;
            break;
        }
    }
    return false;
}

static bool bit_set(const uint64_t *set, uint16_t i)
{
    return set && (set[i / 64] >> (i % 64) & 1);
}

static void note(struct ectx *c, const struct pnode *n, bool result);

static bool eval(struct ectx *c, uint32_t id)
{
    const struct pnode *n = &c->pol->nodes[id];
    const struct policy_subject *s = c->s;
    bool r;
    switch (n->op) {
    case OP_TRUE: r = true; break;
    case OP_FALSE: r = false; break;
    case OP_AND: return eval(c, n->a) && eval(c, n->b);
    case OP_OR: return eval(c, n->a) || eval(c, n->b);
    case OP_NOT: return !eval(c, n->a);
    case OP_ENABLED: r = !s->disabled; break;
    case OP_DISABLED: r = s->disabled; break;
    case OP_CLASS: r = (n->idx >> s->cls) & 1; break;
    case OP_UNDER: r = bit_set(s->ous, n->idx); break;
    case OP_MEMBEROF: r = bit_set(s->groups, n->idx); break;
    case OP_HOME: {
        uint64_t mask = c->pol->masks[n->a];
        r = false;
        for (size_t t = 0; mask && !r; t++, mask >>= 1)
            r = (mask & 1) && is_home(c, t);
        break;
    }
    case OP_HOMELESS: {
        uint64_t mask = c->pol->homed;
        r = true;
        for (size_t t = 0; mask && r; t++, mask >>= 1)
            r = !((mask & 1) && is_home(c, t));
        break;
    }
    case OP_HAS: r = s->attrs[n->idx].n > 0; break;
    case OP_NE: r = !attr_test(c, n); break;
    default: r = attr_test(c, n); break;
    }
    if (c->reads)
        note(c, n, r);
    return r;
}

void policy_decide(const struct policy *pol, const struct policy_subject *s, size_t tenant,
                   struct policy_result *out)
{
    struct ectx c = { .pol = pol, .s = s };
    const struct ptenant *pt = &pol->tenants[tenant];
    size_t nrules = pt->cfg->nrules;
    for (size_t r = 0; r < nrules; r++)
        if (eval(&c, pt->rules[r])) {
            out->decision = pt->cfg->rules[r].outcome;
            out->rule = (int)r;
            return;
        }
    out->decision = pt->cfg->default_rule.outcome;
    out->rule = -1;
}

void policy_decide_all(const struct policy *pol, const struct policy_subject *s,
                       struct policy_result *out)
{
    struct ectx c = { .pol = pol, .s = s };
    for (size_t t = 0; t < pol->ntenants; t++) {
        const struct ptenant *pt = &pol->tenants[t];
        size_t nrules = pt->cfg->nrules, r;
        for (r = 0; r < nrules; r++)
            if (eval(&c, pt->rules[r]))
                break;
        if (r < nrules) {
            out[t].decision = pt->cfg->rules[r].outcome;
            out[t].rule = (int)r;
        } else {
            out[t].decision = pt->cfg->default_rule.outcome;
            out[t].rule = -1;
        }
    }
}

/* ---------------------------------------------------------------- reasons */

static void add_values(struct strbuf *out, const char *name, const struct policy_values *pv)
{
    if (!pv->n) {
        strbuf_addf(out, "%s is not set", name);
        return;
    }
    strbuf_addf(out, "%s is ", name);
    uint32_t shown = pv->n > 3 ? 2 : pv->n;
    for (uint32_t i = 0; i < shown; i++)
        strbuf_addf(out, "%s\"%s\"", i ? ", " : "", pv->vals[i]);
    if (shown < pv->n)
        strbuf_addf(out, " and %u more", (unsigned)(pv->n - shown));
}

static void observe(struct ectx *c, const struct pnode *n, bool r, struct strbuf *out)
{
    const struct policy *pol = c->pol;
    switch (n->op) {
    case OP_TRUE:
    case OP_FALSE: strbuf_addstr(out, "always"); break;
    case OP_ENABLED:
    case OP_DISABLED:
        strbuf_addstr(out, c->s->disabled ? "the account is disabled" : "the account is enabled");
        break;
    case OP_CLASS: strbuf_addf(out, "class is %s", ad_class_name(c->s->cls)); break;
    case OP_UNDER:
        strbuf_addf(out, "%s \"%s\"", r ? "is under" : "is not under", pol->ous[n->idx]);
        break;
    case OP_MEMBEROF:
        strbuf_addf(out, "%s \"%s\"", r ? "is a member (at any depth) of" : "is not a member of",
                    pol->groups[n->idx]);
        break;
    case OP_HOME:
    case OP_HOMELESS: {
        uint64_t home = 0;
        for (size_t t = 0; t < pol->ntenants; t++)
            if (is_home(c, t))
                home |= 1ull << t;
        if (!home) {
            strbuf_addstr(out, "no tenant's home_when matches");
            break;
        }
        strbuf_addstr(out, "home_when of ");
        int k = 0;
        for (size_t t = 0; t < pol->ntenants; t++)
            if (home >> t & 1) {
                strbuf_addf(out, "%s%s (", k++ ? ", " : "", pol->tenants[t].cfg->name);
                struct ectx sub = { .pol = pol, .s = c->s, .reads = out };
                eval(&sub, pol->tenants[t].home);
                strbuf_addch(out, ')');
            }
        strbuf_addstr(out, " matches");
        break;
    }
    default:
        add_values(out, pol->attrs[n->idx], &c->s->attrs[n->idx]);
        break;
    }
}

static void drop_tail(struct strbuf *sb, size_t len)
{
    sb->len = len;
    sb->buf[len] = '\0';
}

static void note(struct ectx *c, const struct pnode *n, bool r)
{
    struct strbuf *out = c->reads;
    /* home's own reads nest inside the parentheses that observe() opens */
    if (out->len && out->buf[out->len - 1] != '(')
        strbuf_addstr(out, "; ");
    struct ectx oc = *c;
    oc.reads = NULL;
    if (c->verbose) {
        cond_format_node(n->src, out);
        strbuf_addstr(out, r ? ": yes (" : ": no (");
        observe(&oc, n, r, out);
        strbuf_addch(out, ')');
    } else {
        /* "not has x and x = y" reads x twice: say it once */
        struct strbuf obs = STRBUF_INIT;
        observe(&oc, n, r, &obs);
        if (!strstr(strbuf_str(out), strbuf_str(&obs)))
            strbuf_addstr(out, strbuf_str(&obs));
        else if (out->len >= 2 && !strcmp(out->buf + out->len - 2, "; "))
            drop_tail(out, out->len - 2);
        strbuf_release(&obs);
    }
}

void policy_reason(const struct policy *pol, const struct policy_subject *s, size_t tenant,
                   const struct policy_result *r, struct strbuf *out)
{
    if (r->rule < 0) {
        strbuf_addstr(out, "no rule matched");
        return;
    }
    struct ectx c = { .pol = pol, .s = s, .reads = out };
    eval(&c, pol->tenants[tenant].rules[r->rule]);
}

void policy_trace(const struct policy *pol, const struct policy_subject *s, size_t tenant,
                  policy_trace_fn fn, void *ctx)
{
    const struct ptenant *pt = &pol->tenants[tenant];
    struct strbuf reads = STRBUF_INIT;
    for (size_t r = 0; r < pt->cfg->nrules; r++) {
        strbuf_reset(&reads);
        struct ectx c = { .pol = pol, .s = s, .reads = &reads, .verbose = true };
        bool m = eval(&c, pt->rules[r]);
        fn((int)r, m, strbuf_str(&reads), ctx);
        if (m) {
            strbuf_release(&reads);
            return;
        }
    }
    fn(-1, true, "no rule matched", ctx);
    strbuf_release(&reads);
}

bool policy_is_home(const struct policy *pol, const struct policy_subject *s, size_t tenant,
                    struct strbuf *reads)
{
    const struct ptenant *pt = &pol->tenants[tenant];
    if (pt->home == NONE)
        return false;
    struct ectx c = { .pol = pol, .s = s, .reads = reads };
    return eval(&c, pt->home);
}
