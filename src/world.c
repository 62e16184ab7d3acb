/* world.c - what plan, explain, convert and run share: AD read in full and
 * decided per tenant (world.h). */
#include "compat.h"

#include "adobject.h"
#include "cli.h"
#include "config.h"
#include "ldap_source.h"
#include "log.h"
#include "mapstore.h"
#include "objset.h"
#include "planner.h"
#include "policy.h"
#include "rules.h"
#include "util.h"
#include "world.h"


static void add_unique(char ***list, size_t *n, const char *name)
{
    for (size_t i = 0; i < *n; i++)
        if (!rules_strcasecmp((*list)[i], name))
            return;
    *list = xrealloc(*list, (*n + 1) * sizeof(**list));
    (*list)[(*n)++] = xstrdup(name);
}

struct pull_ctx {
    struct objset *objs;
    struct progress *progress;
    uint64_t seen;
};

static int on_object(const struct ad_object *obj, void *vctx)
{
    struct pull_ctx *ctx = vctx;
    objset_add(ctx->objs, obj);
    progress_update(ctx->progress, ++ctx->seen);
    return 0;
}

/* Compile the rules, make sure the reader asks for every attribute they read,
 * pull everything and resolve memberships. */
int world_load(struct world *w, struct config *cfg, bool progress, struct ldap_watermark *next_out)
{
    memset(w, 0, sizeof(*w));
    w->cfg = cfg;
    if (!cfg->ntenants) {
        log_error("%s has no [tenant NAME] section: nothing to plan; see dualsync.conf(5)", cfg->path);
        return EXIT_USAGE;
    }
    w->pol = policy_compile(cfg);
    if (!w->pol)
        return EXIT_USAGE;
    struct ldap_config *l = &cfg->ldap;
    for (size_t i = 0; i < policy_nattrs(w->pol); i++)
        add_unique(&l->attributes, &l->nattributes, policy_attr_name(w->pol, i));
    for (size_t t = 0; t < cfg->ntenants; t++) {
        const char *a = cfg->tenants[t].invite_address_attribute;
        add_unique(&l->attributes, &l->nattributes, a);
        if (policy_attr_index(w->pol, a) < 0)
            add_unique(&w->extra, &w->nextra, a);
    }
    if (policy_ngroups(w->pol) && !l->scope.classes[AD_CLASS_GROUP])
        log_warn("the rules use memberof but [ldap] classes leaves groups out: only direct "
                 "membership (each object's memberOf) is known; add group to classes");
    w->objs = objset_new(w->pol, w->extra, w->nextra);

    struct ldap_source *src;
    if (ldap_source_open(l, &src))
        return EXIT_STOPPED;
    struct pull_ctx ctx = { w->objs, progress ? progress_start("reading AD", 0) : NULL, 0 };
    struct ldap_watermark next;
    struct ldap_pull_stats st;
    int rc = ldap_source_pull(src, NULL, on_object, &ctx, &next, &st);
    progress_done(ctx.progress);
    ldap_source_close(src);
    if (rc)
        return EXIT_STOPPED;
    if (next_out)
        *next_out = next;
    objset_finish(w->objs);
    log_verbose("read %llu objects; kept %zu in %zu KiB", (unsigned long long)st.objects,
                objset_count(w->objs), objset_bytes(w->objs) / 1024);
    return EXIT_DONE;
}

void world_free(struct world *w)
{
    objset_free(w->objs);
    policy_free(w->pol);
    for (size_t i = 0; i < w->nextra; i++)
        free(w->extra[i]);
    free(w->extra);
}

/* The tenants to work on: all, or the one --tenant names. */
int pick_tenants(const struct config *cfg, const char *name, size_t *first, size_t *end)
{
    *first = 0;
    *end = cfg->ntenants;
    if (!name)
        return 0;
    const struct tenant_config *t = config_tenant(cfg, name);
    if (!t) {
        struct strbuf names = STRBUF_INIT;
        for (size_t i = 0; i < cfg->ntenants; i++)
            strbuf_addf(&names, "%s%s", i ? ", " : "", cfg->tenants[i].name);
        log_error("--tenant %s: no [tenant %s] in %s (tenants: %s)", name, name, cfg->path,
                  strbuf_str(&names));
        strbuf_release(&names);
        return -1;
    }
    *first = (size_t)(t - cfg->tenants);
    *end = *first + 1;
    return 0;
}

char *world_plan_object(const struct world *w, struct planner *p, size_t i, size_t t,
                        struct policy_subject *s, struct policy_result *res,
                        struct plan_action *a, const char **address)
{
    objset_subject(w->objs, i, s);
    policy_decide(w->pol, s, t, res);
    const struct objset_entry *e = objset_get(w->objs, i);
    *address = invite_address(w, i, t);
    char *anchor = ad_immutable_id(e->anchor);
    planner_object(p, anchor, e->cls, res->decision, *address, a);
    return anchor;
}

/* The invitation's address for entry i in tenant t, or NULL. */
const char *invite_address(const struct world *w, size_t i, size_t t)
{
    const char *attr = w->cfg->tenants[t].invite_address_attribute;
    int k = policy_attr_index(w->pol, attr);
    const struct policy_values *pv;
    if (k >= 0) {
        pv = &objset_get(w->objs, i)->attrs[k];
    } else {
        size_t x = 0;
        while (x < w->nextra && rules_strcasecmp(w->extra[x], attr))
            x++;
        pv = objset_extra(w->objs, i, x);
    }
    return pv->n ? pv->vals[0] : NULL;
}

/* "dualsync.conf:42" for a rule, "default" (or "default, dualsync.conf:50"). */
void rule_where(const struct world *w, size_t t, int rule, char *buf, size_t size)
{
    const struct tenant_rule *r = policy_rule(w->pol, t, rule);
    if (rule < 0)
        snprintf(buf, size, r->line ? "default (%s:%d)" : "default", w->cfg->path, r->line);
    else
        snprintf(buf, size, "rule %d (%s:%d)", rule + 1, w->cfg->path, r->line);
}


/* The planner over the store's records (borrowed: close the store after). */
struct planner *planner_for(const struct mapstore *ms)
{
    size_t n = mapstore_count(ms), pos = 0, k = 0;
    const struct map_record **records = xcalloc(n ? n : 1, sizeof(*records));
    const struct map_record *r;
    while ((r = mapstore_next(ms, &pos)) && k < n)
        records[k++] = r;
    struct planner *p = planner_new(records, k);
    free(records);
    return p;
}