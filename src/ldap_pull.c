/* ldap_pull.c - which searches a pull makes, and the scope of what they
 * return (ldap_source.h), over either backend (ldap_source_p.h).
 *
 * A full pull is one paged search per base DN with the scope's filter.
 *
 * A delta pull reads what changed after the watermark's USN, and must say
 * everything a kept copy of the scope needs to stay equal to a full pull:
 *  1. objects in scope that changed (the scope's filter, uSNChanged >= USN+1);
 *  2. tombstones (show-deleted, judged by lastKnownParent), those outside
 *     the scope too (in_scope false): what a kept object names in a DN
 *     value (a manager, a group in memberOf) may have been deleted there;
 *  3. every object of the classes that changed anywhere in the domain but
 *     was not in (1): it is outside the scope now (moved out of the base
 *     DNs, no longer matching the filter, left the scoping group), handed on
 *     with in_scope false, GUID and DN only;
 *  4. changes no USN of an object shows, which make a delta inexact. It then
 *     falls back to a full pull: the DC changed (invocationId), the
 *     watermark is ahead of the DC (a restore), a scoping group changed
 *     (membership is a link on the group, not on the member), or an OU or
 *     container that existed before changed (renaming or moving one moves
 *     every object under it without changing their uSNChanged; any other
 *     change to it costs a full pull too, as no attribute says which).
 * And one such change the caller must judge: a group among cfg->watch_groups
 * (or nested in one) changed but was not read in (1), or a group outside the
 * scope was deleted (it may have been nested in one). Its members learn of
 * it only through memberOf, whose changes do not show in their USN either;
 * stats->watched_group_unread says so. */
#include "compat.h"

#include <strings.h>

#include "config.h"
#include "ldap_source_p.h"
#include "log.h"
#include "scope.h"

/* What a tombstone still carries (MS-ADTS 3.1.1.5.5.1.1). */
const char *const pull_tombstone_attrs[] = {
    "objectClass", "objectGUID", "mS-DS-ConsistencyGuid", "objectSid", "isDeleted",
    "lastKnownParent", "uSNChanged", "whenChanged", "sAMAccountName", "userPrincipalName", NULL,
};

/* Enough to know an object and its class. */
const char *const pull_leaver_attrs[] = { "objectClass", "objectGUID", "uSNChanged",
                                          "lastKnownParent", NULL };

static int cmp_guid(const void *a, const void *b)
{
    return memcmp(a, b, 16);
}

static bool seen(const struct pull *p, const unsigned char guid[16])
{
    return p->nseen && bsearch(guid, p->seen, p->nseen, sizeof(*p->seen), cmp_guid) != NULL;
}

int pull_deliver(struct pull *p, int cls)
{
    struct ad_object *o = &p->obj;
    const struct scope *scope = &p->cfg->scope;
    if (p->phase == PHASE_EXISTING || p->phase == PHASE_SCHEMA)
        return p->cb(o, p->ctx) ? -1 : 0;   /* any class: a DN that is there, a schema entry */
    /* the pull reads these itself (scope_others_filter leaves them out; a
     * live objectClass=user of another sAMAccountType, a trust account, is
     * read by no other search) */
    if (p->phase == PHASE_OTHERS && cls >= 0 && scope->classes[cls]
        && (cls != AD_CLASS_USER || p->obj.deleted))
        return 0;
    if (cls < 0 && p->phase != PHASE_OTHERS)
        return 0;    /* e.g. a computer that matched a custom filter */
    if (!p->has_guid) {
        log_warn("%s: no objectGUID; skipped (check the bind account can read it)", o->dn);
        return 0;
    }
    o->cls = cls < 0 ? AD_CLASS_COUNT : (enum ad_class)cls;
    if (!o->deleted && o->parent_dn) {
        /* a live object keeps the lastKnownParent of its deletion once
         * reanimated: its container is where it lives now */
        o->restored = true;
        o->parent_dn = NULL;
    }
    if (!o->parent_dn)
        o->parent_dn = arena_strndup(&p->arena, ad_dn_parent(o->dn), strlen(ad_dn_parent(o->dn)));
    switch (p->phase) {
    case PHASE_SCOPE:
        /* OU scope: a live object by its DN */
        o->in_scope = scope_contains_dn(scope, o->dn);
        if (!o->in_scope && !p->delta) {
            p->stats->skipped++;
            return 0;
        }
        if (p->delta) {
            GROW(p->seen, p->seen_alloc, p->nseen + 1);
            memcpy(p->seen[p->nseen++], o->guid, 16);
        }
        break;
    case PHASE_TOMBSTONES:
        /* a tombstone by where it used to live */
        o->in_scope = scope_contains_dn(scope, o->parent_dn);
        if (!o->in_scope && o->cls == AD_CLASS_GROUP && p->cfg->nwatch_groups
            && !p->stats->watched_group_unread) {
            /* it may have been nested in a group of the rules: its members
             * left that group with no trace in the delta */
            log_verbose("a group outside the scope was deleted (last in %s)", o->parent_dn);
            p->stats->watched_group_unread = true;
        }
        /* one outside the scope is handed on too (in_scope false): a kept
         * object may name it in a DN value (its manager, a group in its
         * memberOf), and AD drops or changes that value without changing
         * the kept object's uSNChanged */
        if (o->in_scope)
            p->stats->deleted++;
        else
            p->stats->out_of_scope++;
        break;
    case PHASE_WATCHED:
        if (!seen(p, o->guid) && !p->stats->watched_group_unread) {
            log_verbose("%s changed but is outside the scope: the memberships through it "
                        "are known only from memberOf", o->dn);
            p->stats->watched_group_unread = true;
        }
        return 0;
    case PHASE_OTHERS:
        o->in_scope = false;
        p->stats->out_of_scope++;
        break;
    case PHASE_EXISTING:
    case PHASE_SCHEMA:
        return 0;   /* handed on above */
    case PHASE_LEAVERS:
        if (seen(p, o->guid))
            return 0;
        o->in_scope = false;
        p->stats->out_of_scope++;
        break;
    }
    p->stats->objects++;
    return p->cb(o, p->ctx) ? -1 : 0;
}

/* "(&(objectClass=group)(uSNChanged>=N)(|(distinguishedName=G)(memberOf:chain:=G)...))":
 * the groups among dns, or nested in one of them, changed after since. */
static char *groups_changed_filter(char *const *dns, size_t n, uint64_t since)
{
    struct strbuf f = STRBUF_INIT;
    strbuf_addf(&f, "(&(objectClass=group)(uSNChanged>=%llu)", (unsigned long long)since + 1);
    if (n > 1)
        strbuf_addstr(&f, "(|");
    for (size_t i = 0; i < n; i++) {
        /* LDAP_MATCHING_RULE_IN_CHAIN (MS-ADTS 3.1.1.3.4.4.3) walks nested groups */
        strbuf_addstr(&f, "(|(distinguishedName=");
        ldap_filter_escape(&f, dns[i], strlen(dns[i]));
        strbuf_addstr(&f, ")(memberOf:1.2.840.113556.1.4.1941:=");
        ldap_filter_escape(&f, dns[i], strlen(dns[i]));
        strbuf_addstr(&f, "))");
    }
    if (n > 1)
        strbuf_addch(&f, ')');
    strbuf_addch(&f, ')');
    return strbuf_detach(&f);
}

/* Reasons of (4) above: NULL when a delta from since is exact, else why not
 * (a static text or *why_dn names the object). -1 when a search failed. */
static int delta_inexact(struct pull *p, const struct ldap_watermark *since,
                         const struct ldap_watermark *now, const char **why, char **why_dn)
{
    const struct scope *s = &p->cfg->scope;
    *why = NULL;
    *why_dn = NULL;
    if (strcasecmp(since->invocation_id, now->invocation_id) != 0) {
        log_info("the domain controller changed (invocationId %s, was %s): doing a full pull",
                 now->invocation_id, since->invocation_id);
        *why = "dc";
        return 0;
    }
    if (since->usn > now->usn) {
        log_info("the watermark (USN %llu) is ahead of the domain controller (USN %llu), "
                 "restored from backup?: doing a full pull", (unsigned long long)since->usn,
                 (unsigned long long)now->usn);
        *why = "restore";
        return 0;
    }
    if (s->nmember_of) {
        char *f = groups_changed_filter(s->member_of, s->nmember_of, since->usn);
        int rc = lread_find_one(p->src, f, "check the scoping groups for changes", why_dn);
        free(f);
        if (rc)
            return -1;
        if (*why_dn) {
            log_info("a scoping group changed since the last pull (%s): doing a full pull", *why_dn);
            *why = "scoping group";
            return 0;
        }
    }
    /* an OU created since holds only objects moved or added since: those
     * changed, so the delta has them (with their DN as of now) */
    char f[200];
    snprintf(f, sizeof(f), "(&(|(objectClass=organizationalUnit)(objectClass=container))"
             "(uSNChanged>=%llu)(!(uSNCreated>=%llu)))", (unsigned long long)since->usn + 1,
             (unsigned long long)since->usn + 1);
    if (lread_find_one(p->src, f, "check the OUs for changes", why_dn))
        return -1;
    if (*why_dn) {
        log_info("%s changed since the last pull (a rename or move would move the objects "
                 "under it without changing them): doing a full pull", *why_dn);
        *why = "container";
    }
    return 0;
}

/* Delta, (3): changed objects of the classes anywhere in the domain that
 * (1) did not return, and (4b): watched groups changed but not read. */
static int leavers(struct pull *p, uint64_t from)
{
    const struct ldap_config *cfg = p->cfg;
    sort_array(p->seen, p->nseen, sizeof(*p->seen), cmp_guid);
    struct scope classes_only = { .classes = { 0 } };
    memcpy(classes_only.classes, cfg->scope.classes, sizeof(classes_only.classes));
    char *filter = scope_filter(&classes_only, from);
    p->phase = PHASE_LEAVERS;
    int ret = lsrc_paged_search(p->src->conn, p->src->naming_context, filter,
                                (char **)pull_leaver_attrs, false, p->stats, pull_entry, p);
    free(filter);
    if (ret || !cfg->nwatch_groups)
        return ret;
    /* a group of the rules that changed is exact only if (1) read it */
    filter = groups_changed_filter(cfg->watch_groups, cfg->nwatch_groups, from);
    p->phase = PHASE_WATCHED;
    ret = lsrc_paged_search(p->src->conn, p->src->naming_context, filter,
                            (char **)pull_leaver_attrs, false, p->stats, pull_entry, p);
    free(filter);
    return ret;
}

/* The DC's watermark: highestCommittedUSN and the invocationId it belongs to. */
static int read_watermark(struct ldap_source *src, struct ldap_watermark *wm)
{
    char *dsa = NULL;
    if (lread_root_dse(src, &dsa, &wm->usn))
        return -1;
    int rc = lread_invocation_id(src, dsa, wm->invocation_id);
    free(dsa);
    return rc;
}

int ldap_source_pull(struct ldap_source *src, const struct ldap_watermark *since,
                     ad_object_cb cb, void *ctx, struct ldap_watermark *next,
                     struct ldap_pull_stats *stats)
{
    const struct ldap_config *cfg = src->cfg;
    const struct scope *s = &cfg->scope;
    struct pull p = { .src = src, .cfg = cfg, .cb = cb, .ctx = ctx, .stats = stats };
    memset(stats, 0, sizeof(*stats));
    if (lread_range_step(&p.range_step))
        return -1;

    /* Read the watermark first: whatever changes while we read has a higher USN
     * and is read again next time, so nothing falls between two pulls. */
    struct ldap_watermark wm;
    if (read_watermark(src, &wm))
        return -1;
    p.delta = since != NULL;
    if (p.delta) {
        const char *why;
        char *why_dn;
        if (delta_inexact(&p, since, &wm, &why, &why_dn))
            return -1;
        free(why_dn);
        p.delta = why == NULL;
    }
    stats->delta = p.delta;
    uint64_t from = p.delta ? since->usn : 0;

    int ret = 0;
    char *filter = scope_filter(s, from);
    char **attrs = lread_attr_list(cfg, p.range_step);
    p.phase = PHASE_SCOPE;
    for (size_t i = 0; i < s->nbase_dns && !ret; i++)
        ret = lsrc_paged_search(src->conn, s->base_dns[i], filter, attrs, false, stats,
                                pull_entry, &p);
    lread_free_attr_list(attrs);
    free(filter);
    if (!ret && p.delta) {
        /* tombstones live in CN=Deleted Objects of the naming context, not under
         * the base DNs: search the whole context and judge by lastKnownParent */
        filter = scope_deleted_filter(s, from);
        p.phase = PHASE_TOMBSTONES;
        ret = lsrc_paged_search(src->conn, src->naming_context, filter,
                                (char **)pull_tombstone_attrs, true, stats, pull_entry, &p);
        free(filter);
    }
    if (!ret && p.delta)
        ret = leavers(&p, from);
    arena_release(&p.arena);
    free(p.attrs);
    free(p.seen);
    if (ret)
        return -1;
    *next = wm;
    return 0;
}

int ldap_source_pull_others(struct ldap_source *src, const struct ldap_watermark *since,
                            ad_object_cb cb, void *ctx)
{
    struct ldap_pull_stats stats = { 0 };
    struct pull p = { .src = src, .cfg = src->cfg, .cb = cb, .ctx = ctx, .stats = &stats,
                      .delta = true, .phase = PHASE_OTHERS };
    /* what a kept value needs of its target: the DN now, and for a
     * tombstone the DN it had (its RDN under lastKnownParent) */
    static const char *const attrs[] = { "objectClass", "objectGUID", "uSNChanged", "isDeleted",
                                         "lastKnownParent", NULL };
    char *filter = scope_others_filter(&src->cfg->scope, since->usn);
    int ret = src->naming_context ? 0 : log_error("%s: no naming context read before the delta",
                                                  src->cfg->uri);
    if (!ret)
        ret = lsrc_paged_search(src->conn, src->naming_context, filter, (char **)attrs, true,
                                &stats, pull_entry, &p);
    free(filter);
    arena_release(&p.arena);
    free(p.attrs);
    return ret ? -1 : 0;
}

/* ldap_source_first_missing: the DNs asked for, sorted, and which were found. */
struct existing {
    const char **dn;
    bool *found;
    size_t n;
};

static int cmp_dn(const void *a, const void *b)
{
    return strcasecmp(*(const char *const *)a, *(const char *const *)b);
}

static int on_existing(const struct ad_object *obj, void *vctx)
{
    struct existing *x = vctx;
    const char **hit = bsearch(&obj->dn, x->dn, x->n, sizeof(*x->dn), cmp_dn);
    if (hit)
        x->found[hit - x->dn] = true;
    return 0;
}

int ldap_source_first_missing(struct ldap_source *src, const char *const *dns, size_t n,
                              char **missing)
{
    const char *nc = src->naming_context;
    struct existing x = { xcalloc(n + 1, sizeof(*x.dn)), xcalloc(n + 1, sizeof(*x.found)), 0 };
    for (size_t i = 0; i < n; i++)
        if (ad_dn_within(dns[i], nc))
            x.dn[x.n++] = dns[i];
    sort_array(x.dn, x.n, sizeof(*x.dn), cmp_dn);
    struct ldap_pull_stats stats = { 0 };
    struct pull p = { .src = src, .cfg = src->cfg, .cb = on_existing, .ctx = &x,
                      .stats = &stats, .phase = PHASE_EXISTING };
    char *attrs[] = { "1.1", NULL };   /* RFC 4511: no attributes, the DN is enough */
    int ret = 0;
    /* a few dozen DNs to a search: a filter of a few kilobytes, one round trip */
    for (size_t i = 0; i < x.n && !ret; i += 64) {
        struct strbuf f = STRBUF_INIT;
        strbuf_addstr(&f, "(|");
        for (size_t j = i; j < x.n && j < i + 64; j++) {
            strbuf_addstr(&f, "(distinguishedName=");
            ldap_filter_escape(&f, x.dn[j], strlen(x.dn[j]));
            strbuf_addch(&f, ')');
        }
        strbuf_addch(&f, ')');
        ret = lsrc_paged_search(src->conn, nc, f.buf, attrs, false, &stats, pull_entry, &p);
        strbuf_release(&f);
    }
    *missing = NULL;
    for (size_t i = 0; i < x.n && !ret && !*missing; i++)
        if (!x.found[i])
            *missing = xstrdup(x.dn[i]);
    arena_release(&p.arena);
    free(p.attrs);
    free(x.dn);
    free(x.found);
    return ret ? -1 : 0;
}

int ldap_source_groups(struct ldap_source *src, const char *const *groups, size_t n,
                       ad_object_cb cb, void *ctx)
{
    struct ldap_pull_stats stats = { 0 };
    struct pull p = { .src = src, .cfg = src->cfg, .cb = cb, .ctx = ctx, .stats = &stats,
                      .phase = PHASE_EXISTING };
    if (lread_range_step(&p.range_step))
        return -1;
    /* member as a pull asks for it: whole, or in ranges under the test hook */
    char *member = p.range_step ? xasprintf("member;range=0-%lu", (unsigned long)p.range_step - 1)
                                : xstrdup("member");
    char *attrs[] = { "objectGUID", member, NULL };
    int ret = 0;
    /* by distinguishedName, 64 to a search as ldap_source_first_missing:
     * the groups' own member values, not a filter on every object's
     * memberOf (which Samba 4.17 evaluates over the whole base: 3.4 s for
     * 64 groups among 2,000 users) */
    for (size_t i = 0; i < n && !ret; i += 64) {
        struct strbuf f = STRBUF_INIT;
        strbuf_addstr(&f, "(&(objectClass=group)(|");
        for (size_t j = i; j < n && j < i + 64; j++) {
            strbuf_addstr(&f, "(distinguishedName=");
            ldap_filter_escape(&f, groups[j], strlen(groups[j]));
            strbuf_addch(&f, ')');
        }
        strbuf_addstr(&f, "))");
        ret = lsrc_paged_search(src->conn, src->naming_context, f.buf, attrs, false, &stats,
                                pull_entry, &p);
        strbuf_release(&f);
    }
    free(member);
    arena_release(&p.arena);
    free(p.attrs);
    return ret ? -1 : 0;
}

/* ldap_source_dn_syntax: the names asked for and what the schema says. */
struct syntaxes {
    char *const *names;
    size_t n;
    enum ldap_attr_kind *kinds;
};

static int on_attribute_schema(const struct ad_object *obj, void *vctx)
{
    struct syntaxes *x = vctx;
    const char *name = ad_object_get(obj, "lDAPDisplayName");
    const char *syntax = ad_object_get(obj, "attributeSyntax");
    if (!name || !syntax)
        return 0;
    for (size_t i = 0; i < x->n; i++)
        if (!strcasecmp(x->names[i], name))
            x->kinds[i] = strcmp(syntax, "2.5.5.1") ? LDAP_ATTR_NOT_DN
                        : ad_object_get(obj, "linkID") ? LDAP_ATTR_DN_LINKED : LDAP_ATTR_DN;
    return 0;
}

int ldap_source_dn_syntax(struct ldap_source *src, char *const *names, size_t n,
                          enum ldap_attr_kind *kinds)
{
    /* the schema partition is CN=Schema in the configuration partition,
     * which holds the DC's own object (dsServiceName): a rootDSE read, no
     * schemaNamingContext needed from the backends */
    char *dsa = NULL;
    uint64_t usn;
    if (lread_root_dse(src, &dsa, &usn))
        return -1;
    const char *conf = NULL;
    for (const char *c = dsa; *c && !conf; c++)
        if ((c == dsa || c[-1] == ',') && !strncasecmp(c, "CN=Configuration,", 17))
            conf = c;
    if (!conf) {
        int rc = log_error("%s: the DC's dsServiceName %s lies in no CN=Configuration: "
                           "cannot find the schema", src->cfg->uri, dsa);
        free(dsa);
        return rc;
    }
    char *base = xasprintf("CN=Schema,%s", conf);
    free(dsa);
    struct strbuf f = STRBUF_INIT;
    strbuf_addstr(&f, "(&(objectClass=attributeSchema)(|");
    for (size_t i = 0; i < n; i++) {
        strbuf_addstr(&f, "(lDAPDisplayName=");
        ldap_filter_escape(&f, names[i], strlen(names[i]));
        strbuf_addch(&f, ')');
    }
    strbuf_addstr(&f, "))");
    enum ldap_attr_kind *found = xcalloc(n + 1, sizeof(*found));
    struct syntaxes x = { names, n, found };
    struct ldap_pull_stats stats = { 0 };
    struct pull p = { .src = src, .cfg = src->cfg, .cb = on_attribute_schema, .ctx = &x,
                      .stats = &stats, .phase = PHASE_SCHEMA };
    char *attrs[] = { "lDAPDisplayName", "attributeSyntax", "linkID", NULL };
    int ret = n ? lsrc_paged_search(src->conn, base, f.buf, attrs, false, &stats, pull_entry, &p) : 0;
    strbuf_release(&f);
    free(base);
    arena_release(&p.arena);
    free(p.attrs);
    if (!ret)
        for (size_t i = 0; i < n; i++)
            kinds[i] = found[i] ? found[i] : LDAP_ATTR_NOT_DN;   /* not in the schema: no DN */
    free(found);
    return ret ? -1 : 0;
}
