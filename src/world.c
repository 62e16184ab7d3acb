/* world.c - what plan, explain, convert and run share: AD read (through the
 * copy kept between runs) and decided per tenant (world.h). */
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
#include "platform.h"
#include "rules.h"
#include "snapshot.h"
#include "testhooks.h"
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

/* Compile the rules and build the reader's request: the configured [ldap]
 * section, asking besides for every attribute the rules and the invitations
 * read and watching the groups the rules name. The request is the world's
 * own: the configuration stays as it was loaded (a second world_load, as
 * watch makes, starts from it again). */
static int prepare(struct world *w, const struct config *cfg, char *const *keep_attrs, size_t nkeep_attrs)
{
    memset(w, 0, sizeof(*w));
    w->cfg = cfg;
    /* a shallow copy: the world owns only the two lists it builds */
    w->ldap = cfg->ldap;
    struct ldap_config *l = &w->ldap;
    l->attributes = NULL;
    l->nattributes = 0;
    l->watch_groups = NULL;
    l->nwatch_groups = 0;
    for (size_t i = 0; i < cfg->ldap.nattributes; i++)
        add_unique(&l->attributes, &l->nattributes, cfg->ldap.attributes[i]);
    for (size_t i = 0; i < cfg->ldap.nwatch_groups; i++)
        add_unique(&l->watch_groups, &l->nwatch_groups, cfg->ldap.watch_groups[i]);
    if (!cfg->ntenants) {
        log_error("%s has no [tenant NAME] section: nothing to plan; see dualsync.conf(5)", cfg->path);
        return EXIT_USAGE;
    }
    w->pol = policy_compile(cfg);
    if (!w->pol)
        return EXIT_USAGE;
    for (size_t i = 0; i < policy_nattrs(w->pol); i++)
        add_unique(&l->attributes, &l->nattributes, policy_attr_name(w->pol, i));
    for (size_t t = 0; t < cfg->ntenants; t++) {
        const char *a = cfg->tenants[t].invite_address_attribute;
        add_unique(&l->attributes, &l->nattributes, a);
        if (policy_attr_index(w->pol, a) < 0)
            add_unique(&w->extra, &w->nextra, a);
    }
    /* attributes a caller asks the world to keep (check --connect-config) */
    for (size_t i = 0; i < nkeep_attrs; i++) {
        add_unique(&l->attributes, &l->nattributes, keep_attrs[i]);
        if (policy_attr_index(w->pol, keep_attrs[i]) < 0)
            add_unique(&w->extra, &w->nextra, keep_attrs[i]);
    }
    /* the audit entry and the reports carry displayName as in AD (doc/report.md) */
    add_unique(&l->attributes, &l->nattributes, "displayName");
    if (policy_attr_index(w->pol, "displayName") < 0)
        add_unique(&w->extra, &w->nextra, "displayName");
    for (size_t g = 0; g < policy_ngroups(w->pol); g++)
        add_unique(&l->watch_groups, &l->nwatch_groups, policy_group_dn(w->pol, g));
    if (policy_ngroups(w->pol) && !l->scope.classes[AD_CLASS_GROUP])
        log_warn("the rules use memberof but [ldap] classes leaves groups out: only direct "
                 "membership (each object's memberOf) is known; add group to classes");
    w->objs = objset_new(w->pol, w->extra, w->nextra);
    return EXIT_DONE;
}

static void loaded(struct world *w, uint64_t read)
{
    objset_finish(w->objs);
    log_verbose("read %llu objects; kept %zu in %zu KiB", (unsigned long long)read,
                objset_count(w->objs), objset_bytes(w->objs) / 1024);
}

/* ------------------------------------------------------------ AD kept between runs */

/* What a pull from the kept copy's watermark gathers: while the reader does
 * a delta, copies of the changes (applied only once the delta proves exact);
 * when it does a full pull, every object straight into a new copy. */
struct kept_ctx {
    struct snapshot **snap;
    const char *fingerprint;
    char **keep;
    size_t nkeep;
    const struct ldap_pull_stats *st;
    struct ad_object **changes;
    size_t nchanges, alloc;
    bool fresh;                 /* *snap was replaced by an empty one */
    struct progress *progress;
    uint64_t seen;
};

static int on_kept(const struct ad_object *obj, void *vctx)
{
    struct kept_ctx *k = vctx;
    progress_update(k->progress, ++k->seen);
    if (k->st->delta) {
        GROW(k->changes, k->alloc, k->nchanges + 1);
        k->changes[k->nchanges++] = ad_object_copy(obj);
        return 0;
    }
    if (!k->fresh) {
        snapshot_free(*k->snap);
        *k->snap = snapshot_new(k->keep, k->nkeep, k->fingerprint);
        k->fresh = true;
    }
    snapshot_apply(*k->snap, obj);
    return 0;
}

static void drop_changes(struct kept_ctx *k)
{
    for (size_t i = 0; i < k->nchanges; i++)
        ad_object_free(k->changes[i]);
    free(k->changes);
    k->changes = NULL;
    k->nchanges = k->alloc = 0;
}

/* The groups ldap_source_groups found. */
struct members {
    struct ad_object **objs;
    size_t n, alloc;
};

static int on_member(const struct ad_object *obj, void *vctx)
{
    struct members *m = vctx;
    GROW(m->objs, m->alloc, m->n + 1);
    m->objs[m->n++] = ad_object_copy(obj);
    return 0;
}

/* After the delta was applied: memberOf of the kept objects for the groups
 * it found changed outside the copy (outside the scope, or of a class the
 * scope leaves out: snapshot_set_member_of). Returns 0, or -1 (logged: AD
 * could not be read). */
static int refresh_member_of(struct ldap_source *src, struct kept_ctx *k)
{
    const char **groups = NULL;
    size_t n = 0, alloc = 0;
    for (size_t i = 0; i < k->nchanges; i++) {
        const struct ad_object *o = k->changes[i];
        if (o->cls == AD_CLASS_GROUP && !o->in_scope && !o->deleted) {
            GROW(groups, alloc, n + 1);
            groups[n++] = o->dn;
        }
    }
    if (!n)
        return 0;
    struct members m = { NULL, 0, 0 };
    log_verbose("AD delta: %zu groups changed outside the copy; reading their members now", n);
    int rc = ldap_source_groups(src, groups, n, on_member, &m);
    if (!rc)
        snapshot_set_member_of(*k->snap, groups, n, (const struct ad_object *const *)m.objs, m.n);
    for (size_t i = 0; i < m.n; i++)
        ad_object_free(m.objs[i]);
    free(m.objs);
    free(groups);
    return rc ? -1 : 0;
}

/* One pull into *snap: from since (NULL: in full). *delta_out: a delta was
 * applied. Returns 0, or -1 (logged: AD could not be read). */
static int pull_kept(struct ldap_source *src, struct kept_ctx *k, const struct ldap_watermark *since,
                     struct ldap_watermark *next, bool *delta_out)
{
    struct ldap_pull_stats st;
    k->st = &st;
    k->fresh = false;
    int rc = ldap_source_pull(src, since, on_kept, k, next, &st);
    *delta_out = false;
    /* what the kept objects name outside the scope's classes (a contact as
     * manager when classes = user, a group in memberOf when it leaves groups
     * out, a computer in seeAlso) is in no search of the pull */
    if (!rc && st.delta)
        rc = ldap_source_pull_others(src, since, on_kept, k);
    if (rc) {
        drop_changes(k);
        return -1;
    }
    if (st.delta && st.watched_group_unread) {
        log_info("a group the rules name changed outside the scope (its members' memberOf "
                 "changed with no trace in the delta): reading AD in full");
        drop_changes(k);
        return pull_kept(src, k, NULL, next, delta_out);
    }
    if (st.delta) {
        /* a rename or move outside the scope brings no old DN: are the DNs
         * the copy names outside itself all still there? */
        const char **names;
        size_t nnames = snapshot_outside_names(*k->snap, (const struct ad_object *const *)k->changes,
                                               k->nchanges, &names);
        char *gone = NULL;
        if (nnames)
            log_verbose("AD delta: an object never in the copy changed; looking up the %zu DNs "
                        "the copy names outside itself", nnames);
        rc = nnames ? ldap_source_first_missing(src, names, nnames, &gone) : 0;
        free(names);
        if (rc) {
            drop_changes(k);
            return -1;
        }
        if (gone) {
            log_info("%s, named in the kept copy of AD, is not there any more (renamed or moved "
                     "outside the scope, where a delta does not say from where): reading AD in full",
                     gone);
            free(gone);
            drop_changes(k);
            return pull_kept(src, k, NULL, next, delta_out);
        }
        const char *restored = snapshot_restored_named(*k->snap, (const struct ad_object *const *)k->changes,
                                                       k->nchanges);
        if (restored) {
            log_info("%s was deleted and reanimated: AD dropped the links to it (member, manager, "
                     "...) when it was deleted, the reanimation brings none back, and a delta does "
                     "not show when that was: reading AD in full", restored);
            drop_changes(k);
            return pull_kept(src, k, NULL, next, delta_out);
        }
        snapshot_apply_delta(*k->snap, (const struct ad_object *const *)k->changes, k->nchanges);
        if (refresh_member_of(src, k)) {
            drop_changes(k);
            return -1;
        }
        log_verbose("AD delta: %zu changed objects (%llu deleted, %llu outside the scope, %zu of "
                    "other classes) applied to the kept copy", k->nchanges,
                    (unsigned long long)st.deleted, (unsigned long long)st.out_of_scope,
                    k->nchanges - (size_t)st.objects);
        drop_changes(k);
        *delta_out = true;
    } else if (!k->fresh) {
        /* a full pull that found nothing */
        snapshot_free(*k->snap);
        *k->snap = snapshot_new(k->keep, k->nkeep, k->fingerprint);
    }
    return 0;
}

static int feed(const struct ad_object *obj, void *vctx)
{
    objset_add(vctx, obj);
    return 0;
}

/* Test hook (DUALSYNC_TEST_KEPT_VERIFY): after a delta, read AD in full as
 * well and compare: the kept copy must equal it. */
static int verify_kept(struct ldap_source *src, const struct kept_ctx *k, const struct snapshot *snap)
{
    struct snapshot *full = snapshot_new(k->keep, k->nkeep, k->fingerprint);
    struct kept_ctx f = { &full, k->fingerprint, k->keep, k->nkeep };
    struct ldap_watermark next;
    bool delta;
    int rc = pull_kept(src, &f, NULL, &next, &delta);
    struct strbuf why = STRBUF_INIT;
    if (!rc && !snapshot_equal(snap, full, &why))
        rc = log_error("DUALSYNC_TEST_KEPT_VERIFY: the kept copy of AD differs from a full read: %s",
                       why.buf);
    else if (!rc)
        log_info("DUALSYNC_TEST_KEPT_VERIFY: the kept copy of AD equals a full read (%zu objects)",
                 snapshot_count(full));
    strbuf_release(&why);
    snapshot_free(full);
    return rc;
}

/* Which kept attributes hold DNs, and which of those are links, as the
 * DC's schema says: a delta makes their values follow renames and
 * deletions (snapshot_apply_delta). Without it no delta is exact: a DN
 * attribute not known as one (secretary, seeAlso, one of the site's own)
 * would keep the old DN of what it names, a link not known as one would
 * keep a deleted target. Returns NULL, or why the schema cannot be used
 * (the caller then reads AD in full). */
static const char *set_syntax(struct ldap_source *src, struct snapshot *snap, char **keep, size_t nkeep)
{
    enum ldap_attr_kind *kinds = xcalloc(nkeep + 1, sizeof(*kinds));
    const char *why = NULL;
    if (ldap_source_dn_syntax(src, keep, nkeep, kinds))
        why = "cannot read the schema";
    /* member and memberOf are always kept, and linked in every AD schema:
     * a bind account that may not list CN=Schema finds no entry at all */
    for (size_t i = 0; i < nkeep && !why; i++)
        if ((!rules_strcasecmp(keep[i], "member") || !rules_strcasecmp(keep[i], "memberOf"))
            && kinds[i] != LDAP_ATTR_DN_LINKED)
            why = "the schema does not show member and memberOf as linked DN attributes (may the "
                  "bind account read CN=Schema?)";
    if (!why) {
        struct strbuf dns = STRBUF_INIT;
        for (size_t i = 0; i < nkeep; i++) {
            snapshot_set_syntax(snap, keep[i], kinds[i] == LDAP_ATTR_DN_LINKED ? SNAPSHOT_DN_LINKED
                                : kinds[i] == LDAP_ATTR_DN ? SNAPSHOT_DN : SNAPSHOT_NOT_DN);
            if (kinds[i] == LDAP_ATTR_DN || kinds[i] == LDAP_ATTR_DN_LINKED)
                strbuf_addf(&dns, "%s%s%s", dns.len ? ", " : "", keep[i],
                            kinds[i] == LDAP_ATTR_DN_LINKED ? " (linked)" : "");
        }
        log_verbose("the schema: the kept attributes of DN syntax are %s",
                    dns.len ? dns.buf : "none");
        strbuf_release(&dns);
    }
    free(kinds);
    return why;
}

/* --ad-snapshot FILE: AD as another dualsync kept it, instead of LDAP. The
 * file must have been kept for this scope and these attributes (its
 * fingerprint): anything else could decide on objects read differently. It
 * is read only; its watermark becomes this run's (the data are as of then). */
static int load_given(struct world *w, struct snapshot *snap, const char *path,
                      struct ldap_watermark *next_out)
{
    const char *wm_text = NULL;
    struct ldap_watermark wm;
    if (snapshot_load(snap, path, &wm_text) != 0 || ldap_watermark_parse(wm_text, &wm))
        return log_error("--ad-snapshot %s: no copy of AD kept for this configuration's scope and "
                         "attributes (missing, damaged, or made with another [ldap] section or other "
                         "rules); give the mappings_dir/ad.snapshot that dualsync run kept with the "
                         "same configuration", path);
    log_verbose("AD: the copy kept in %s; %zu objects in scope", path, snapshot_count(snap));
    snapshot_each(snap, feed, w->objs);
    if (next_out)
        *next_out = wm;
    loaded(w, snapshot_count(snap));
    return 0;
}

int world_load(struct world *w, const struct config *cfg, bool full, bool save, bool progress,
               struct ldap_watermark *next_out)
{
    return world_load_keeping(w, cfg, NULL, 0, full, save, progress, next_out);
}

int world_load_keeping(struct world *w, const struct config *cfg, char *const *keep_attrs,
                       size_t nkeep_attrs, bool full, bool save, bool progress,
                       struct ldap_watermark *next_out)
{
    int rc = prepare(w, cfg, keep_attrs, nkeep_attrs);
    if (rc)
        return rc;
    char *path = xasprintf("%s/ad.snapshot", cfg->mappings_dir);
    const struct ldap_config *l = &w->ldap;
    /* what objset reads of an object, and what the rules and invitations name */
    char **keep = NULL;
    size_t nkeep = 0;
    static const char *const always[] = { "sAMAccountName", "userPrincipalName", "mail", "member",
                                          "memberOf" };
    for (size_t i = 0; i < ARRAY_SIZE(always); i++)
        add_unique(&keep, &nkeep, always[i]);
    for (size_t i = 0; i < l->nattributes; i++)
        add_unique(&keep, &nkeep, l->attributes[i]);
    struct strbuf fp = STRBUF_INIT;
    snapshot_fingerprint(&l->scope, keep, nkeep, &fp);
    struct snapshot *snap = snapshot_new(keep, nkeep, fp.buf);
    struct ldap_watermark since;
    bool have = false;
    if (l->snapshot_in) {
        rc = load_given(w, snap, l->snapshot_in, next_out);
        goto done;
    }
    if (!full) {
        const char *wm_text = NULL;
        have = snapshot_load(snap, path, &wm_text) == 0 && !ldap_watermark_parse(wm_text, &since);
        if (!have) {
            snapshot_free(snap);
            snap = snapshot_new(keep, nkeep, fp.buf);
        }
    }
    struct ldap_source *src = NULL;
    struct kept_ctx k = { &snap, fp.buf, keep, nkeep, NULL, NULL, 0, 0, false,
                          progress ? progress_start(have ? "reading AD changes" : "reading AD", 0) : NULL,
                          0 };
    struct ldap_watermark next;
    bool delta = false;
    rc = ldap_source_open(l, &src) ? -1 : 0;
    const char *no_schema = !rc && have ? set_syntax(src, snap, keep, nkeep) : NULL;
    if (no_schema) {
        log_info("%s: which kept attributes hold DNs, and follow a rename or deletion of what "
                 "they name, is unknown, so a delta could leave them stale: reading AD in full; "
                 "give the bind account read access to CN=Schema of the configuration partition",
                 no_schema);
        have = false;
    }
    if (!rc)
        rc = pull_kept(src, &k, have ? &since : NULL, &next, &delta);
    progress_done(k.progress);
    if (!rc && delta && testhook(TESTHOOK_KEPT_VERIFY))
        rc = verify_kept(src, &k, snap);
    ldap_source_close(src);
    if (!rc) {
        log_verbose("AD: %s; %zu objects in scope", delta ? "the kept copy and a delta" : "read in full",
                    snapshot_count(snap));
        snapshot_each(snap, feed, w->objs);
        /* a delta that found nothing leaves the copy as it is: the older
         * watermark gives the same (empty) delta next time */
        if (save && (!delta || k.seen)) {
            char *text = ldap_watermark_format(&next);
            /* a cache: when it cannot be written, the old one (an older
             * watermark) still gives an exact delta next time */
            if (platform_mkdir(cfg->mappings_dir) == 0)
                snapshot_save(snap, path, text);
            free(text);
        }
        if (next_out)
            *next_out = next;
        loaded(w, k.seen);
    }
done:
    snapshot_free(snap);
    strbuf_release(&fp);
    for (size_t i = 0; i < nkeep; i++)
        free(keep[i]);
    free(keep);
    free(path);
    return rc ? EXIT_STOPPED : EXIT_DONE;
}

static void free_list(char **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

void world_free(struct world *w)
{
    free_list(w->ldap.attributes, w->ldap.nattributes);
    free_list(w->ldap.watch_groups, w->ldap.nwatch_groups);
    w->ldap.attributes = w->ldap.watch_groups = NULL;
    w->ldap.nattributes = w->ldap.nwatch_groups = 0;
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

const struct policy_values *world_values(const struct world *w, size_t i, const char *attr)
{
    int k = policy_attr_index(w->pol, attr);
    if (k >= 0)
        return &objset_get(w->objs, i)->attrs[k];
    size_t x = 0;
    while (x < w->nextra && rules_strcasecmp(w->extra[x], attr))
        x++;
    return x == w->nextra ? NULL : objset_extra(w->objs, i, x);
}

const char *world_first_value(const struct world *w, size_t i, const char *attr)
{
    const struct policy_values *pv = world_values(w, i, attr);
    return pv && pv->n ? pv->vals[0] : NULL;
}

/* The invitation's address for entry i in tenant t, or NULL. */
const char *invite_address(const struct world *w, size_t i, size_t t)
{
    return world_first_value(w, i, w->cfg->tenants[t].invite_address_attribute);
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