/* objset.c - compact copies of the pulled objects (objset.h). */
#include "compat.h"

#include "adobject.h"
#include "groups.h"
#include "log.h"
#include "objset.h"
#include "rules.h"
#include "util.h"

/* Attributes the reader decodes rather than passing on as text. */
enum source { SRC_ATTR, SRC_DN, SRC_GUID, SRC_SID, SRC_UAC, SRC_WHEN_CHANGED };

struct objset {
    const struct policy *pol;
    size_t nattrs;                 /* policy attributes, then the extra ones */
    char **names;
    enum source *sources;
    struct arena arena;
    struct objset_entry *entries;
    size_t n, alloc;
    struct groups *groups;
    uint64_t *ou_bits;             /* n × words, after objset_finish */
    size_t words;
    bool finished;
};

static enum source source_of(const char *name)
{
    static const struct { const char *name; enum source src; } decoded[] = {
        { "distinguishedName", SRC_DN }, { "objectGUID", SRC_GUID }, { "objectSid", SRC_SID },
        { "userAccountControl", SRC_UAC }, { "whenChanged", SRC_WHEN_CHANGED },
    };
    for (size_t i = 0; i < ARRAY_SIZE(decoded); i++)
        if (!rules_strcasecmp(name, decoded[i].name))
            return decoded[i].src;
    return SRC_ATTR;
}

struct objset *objset_new(const struct policy *pol, char *const *extra, size_t nextra)
{
    struct objset *s = xcalloc(1, sizeof(*s));
    s->pol = pol;
    size_t np = policy_nattrs(pol);
    s->nattrs = np + nextra;
    s->names = xcalloc(s->nattrs + 1, sizeof(*s->names));
    s->sources = xcalloc(s->nattrs + 1, sizeof(*s->sources));
    for (size_t i = 0; i < s->nattrs; i++) {
        s->names[i] = xstrdup(i < np ? policy_attr_name(pol, i) : extra[i - np]);
        s->sources[i] = source_of(s->names[i]);
    }
    s->groups = groups_new();
    s->words = policy_set_words(pol);
    return s;
}

void objset_free(struct objset *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nattrs; i++)
        free(s->names[i]);
    free(s->names);
    free(s->sources);
    arena_release(&s->arena);
    free(s->entries);
    groups_free(s->groups);
    free(s->ou_bits);
    free(s);
}

static const char *keep(struct objset *s, const char *v)
{
    return v ? arena_strdup(&s->arena, v) : NULL;
}

static void set_one(struct objset *s, struct policy_values *pv, const char *v)
{
    if (!v)
        return;
    const char **vals = arena_alloc(&s->arena, sizeof(*vals));
    vals[0] = arena_strdup(&s->arena, v);
    pv->vals = vals;
    pv->n = 1;
}

void objset_add(struct objset *s, const struct ad_object *obj)
{
    /* a tombstone has lost its links already; an object a delta saw leave the
     * scope is not decided on */
    if (obj->deleted || !obj->in_scope)
        return;
    if (obj->cls == AD_CLASS_GROUP) {
        const struct ad_attr *m = ad_object_attr(obj, "member");
        for (size_t i = 0; m && i < m->nvals; i++)
            groups_add_member(s->groups, obj->dn, m->vals[i]);
    }
    const struct ad_attr *mo = ad_object_attr(obj, "memberOf");
    for (size_t i = 0; mo && i < mo->nvals; i++)
        groups_add_member(s->groups, mo->vals[i], obj->dn);

    GROW(s->entries, s->alloc, s->n + 1);
    struct objset_entry *e = &s->entries[s->n++];
    memset(e, 0, sizeof(*e));
    e->cls = obj->cls;
    e->disabled = obj->disabled;
    memcpy(e->guid, obj->guid, 16);
    enum ad_anchor_source src;
    memcpy(e->anchor, ad_object_anchor(obj, &src), 16);
    e->anchor_from_consistency_guid = src == AD_ANCHOR_CONSISTENCY_GUID;
    e->dn = keep(s, obj->dn);
    e->sam = keep(s, ad_object_get(obj, "sAMAccountName"));
    e->upn = keep(s, ad_object_get(obj, "userPrincipalName"));
    e->mail = keep(s, ad_object_get(obj, "mail"));
    e->node = groups_node(s->groups, obj->dn);
    e->attrs = arena_calloc(&s->arena, s->nattrs ? s->nattrs : 1, sizeof(*e->attrs));
    for (size_t k = 0; k < s->nattrs; k++) {
        struct policy_values *pv = &e->attrs[k];
        char text[37];
        switch (s->sources[k]) {
        case SRC_DN: {
            /* not &e->dn: entries move when the array grows */
            const char **vals = arena_alloc(&s->arena, sizeof(*vals));
            vals[0] = e->dn;
            pv->vals = vals;
            pv->n = 1;
            break;
        }
        case SRC_GUID:
            ad_guid_to_text(obj->guid, text);
            set_one(s, pv, text);
            break;
        case SRC_SID: set_one(s, pv, obj->sid); break;
        case SRC_UAC:
            if (obj->cls == AD_CLASS_USER) {
                snprintf(text, sizeof(text), "%u", (unsigned)obj->uac);
                set_one(s, pv, text);
            }
            break;
        case SRC_WHEN_CHANGED: set_one(s, pv, obj->when_changed); break;
        case SRC_ATTR: {
            const struct ad_attr *a = ad_object_attr(obj, s->names[k]);
            if (!a || !a->nvals)
                break;
            const char **vals = arena_alloc(&s->arena, a->nvals * sizeof(*vals));
            for (size_t j = 0; j < a->nvals; j++)
                vals[j] = arena_strdup(&s->arena, a->vals[j]);
            pv->vals = vals;
            pv->n = (uint32_t)a->nvals;
            break;
        }
        }
    }
}

void objset_finish(struct objset *s)
{
    if (s->finished)
        return;
    s->finished = true;
    const struct policy *pol = s->pol;
    size_t ng = policy_ngroups(pol);
    char **watched = xcalloc(ng + 1, sizeof(*watched));
    for (size_t g = 0; g < ng; g++)
        watched[g] = (char *)policy_group_dn(pol, g);
    groups_resolve(s->groups, watched, ng);
    for (size_t g = 0; g < ng; g++)
        if (!groups_seen(s->groups, g))
            log_warn("memberof \"%s\": no such group was read from AD and no object names it "
                     "in memberOf; check the DN in the rule and that the group is in scope",
                     watched[g]);
    free(watched);
    /* groups_words(g) may be smaller than the policy's words (fewer groups than
     * OUs): the policy reads only the bits it has, so the pointer is enough */
    for (size_t i = 0; i < s->n; i++)
        s->entries[i].groups = groups_bits(s->groups, s->entries[i].node);
    if (!s->words || !policy_nous(pol))
        return;
    s->ou_bits = xcalloc(s->n * s->words + 1, sizeof(*s->ou_bits));
    /* objects of one container come together in LDAP order more often than
     * not: reuse the last container's answer */
    const char *last_parent = NULL;
    const uint64_t *last_bits = NULL;
    for (size_t i = 0; i < s->n; i++) {
        struct objset_entry *e = &s->entries[i];
        uint64_t *bits = &s->ou_bits[i * s->words];
        const char *parent = ad_dn_parent(e->dn);
        if (last_parent && !rules_strcasecmp(parent, last_parent)) {
            memcpy(bits, last_bits, s->words * sizeof(*bits));
        } else {
            policy_ou_bits(pol, e->dn, bits);
            last_parent = parent;
            last_bits = bits;
        }
        e->ous = bits;
    }
}

size_t objset_count(const struct objset *s)
{
    return s->n;
}

const struct objset_entry *objset_get(const struct objset *s, size_t i)
{
    return &s->entries[i];
}

void objset_subject(const struct objset *s, size_t i, struct policy_subject *out)
{
    const struct objset_entry *e = &s->entries[i];
    out->cls = e->cls;
    out->disabled = e->disabled;
    out->attrs = e->attrs;
    out->groups = e->groups;
    out->ous = e->ous;
}

const struct policy_values *objset_extra(const struct objset *s, size_t i, size_t k)
{
    return &s->entries[i].attrs[policy_nattrs(s->pol) + k];
}

size_t objset_find(const struct objset *s, const char *who, size_t *found, size_t max)
{
    unsigned char guid[16];
    bool by_guid = ad_guid_from_text(who, guid) == 0;
    bool by_dn = !by_guid && strchr(who, '=') != NULL;
    char *dn = by_dn ? ad_dn_canonical(who) : NULL;
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++) {
        const struct objset_entry *e = &s->entries[i];
        bool hit;
        if (by_guid)
            hit = !memcmp(e->guid, guid, 16);
        else if (by_dn)
            hit = !rules_strcasecmp(e->dn, dn);
        else if (strchr(who, '@'))
            hit = (e->upn && !rules_strcasecmp(e->upn, who))
                  || (e->mail && !rules_strcasecmp(e->mail, who));
        else
            hit = e->sam && !rules_strcasecmp(e->sam, who);
        if (hit) {
            if (n < max)
                found[n] = i;
            n++;
        }
    }
    free(dn);
    return n;
}

bool objset_group_path(const struct objset *s, size_t i, size_t g, struct strbuf *out)
{
    return groups_path(s->groups, g, s->entries[i].node, out);
}

size_t objset_bytes(const struct objset *s)
{
    return s->arena.total + s->alloc * sizeof(*s->entries) + s->n * s->words * sizeof(uint64_t);
}
