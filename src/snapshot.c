/* snapshot.c - the kept copy of AD between runs (snapshot.h).
 *
 * The file is binary, little-endian, read in one piece and parsed in place:
 *     "dualsync-snapshot 1\n"
 *     str fingerprint, str watermark, u64 count
 *     count × object: u8 class, u8 flags (1 disabled, 2 has mS-DS-ConsistencyGuid,
 *         4 malformed one), objectGUID[16], mS-DS-ConsistencyGuid[16],
 *         u32 userAccountControl, u64 uSNChanged, str DN, str SID, str whenChanged,
 *         u32 attributes × (str name, u32 values × str value)
 *     SHA-256 of everything before it (32 bytes)
 * A str is a u32 length, the bytes and a NUL (so that loaded strings are
 * used where they lie); length 0xffffffff is a missing string, no bytes.
 * The checksum catches a damaged file before any of it is used. */
#include "compat.h"

#include <strings.h>

#include <openssl/evp.h>

#include "log.h"
#include "platform.h"
#include "scope.h"
#include "snapshot.h"
#include "util.h"

#define MAGIC "dualsync-snapshot 1\n"
#define NO_STRING 0xffffffffu
#define SUM_LEN 32

struct kept {
    struct ad_object o;
    bool live;
    bool touched;              /* brought anew by the delta being applied */
};

struct rename {
    const char *from, *to;
};

struct snapshot {
    char **keep;
    enum snapshot_syntax *syntax;   /* of each of keep, from the schema */
    size_t nkeep;
    char *fingerprint;
    struct strbuf file;        /* the loaded file: loaded strings point into it */
    struct arena arena;        /* applied objects */
    struct kept *objs;
    size_t n, alloc, live;
    uint32_t *index;           /* objectGUID → 1 + index into objs; 0: empty slot */
    size_t cap;
};

/* ------------------------------------------------------------ hashing */

static uint64_t hash_guid(const unsigned char g[16])
{
    uint64_t h;
    memcpy(&h, g, sizeof(h));   /* random bits already (RFC 4122 v4) */
    return h * 0x9e3779b97f4a7c15ull;
}

static uint64_t hash_dn(const char *s)
{
    uint64_t h = 1469598103934665603ull;   /* FNV-1a over the ASCII-lowercased DN */
    for (; *s; s++)
        h = (h ^ (unsigned char)(*s >= 'A' && *s <= 'Z' ? *s + 32 : *s)) * 1099511628211ull;
    return h;
}

static size_t slot_of(const struct snapshot *s, const unsigned char guid[16])
{
    size_t j = (size_t)hash_guid(guid) & (s->cap - 1);
    while (s->index[j] && memcmp(s->objs[s->index[j] - 1].o.guid, guid, 16))
        j = (j + 1) & (s->cap - 1);
    return j;
}

static void index_grow(struct snapshot *s)
{
    if ((s->n + 1) * 2 <= s->cap)
        return;
    free(s->index);
    s->cap = s->cap ? s->cap * 2 : 1024;
    while (s->cap < (s->n + 1) * 2)
        s->cap *= 2;
    s->index = xcalloc(s->cap, sizeof(*s->index));
    for (size_t i = 0; i < s->n; i++)
        s->index[slot_of(s, s->objs[i].o.guid)] = (uint32_t)(i + 1);
}

/* DNs, case-insensitive (ASCII), each with a target: the groups kept (to
 * themselves), or what became of the DNs of a delta (the new DN, or NULL). */
struct dnset {
    const char **dn;
    const char **to;
    size_t cap, n;
};

static void dnset_put(struct dnset *d, const char *dn, const char *to)
{
    if ((d->n + 1) * 2 > d->cap) {
        struct dnset old = *d;
        d->cap = d->cap ? d->cap * 2 : 64;
        d->dn = xcalloc(d->cap, sizeof(*d->dn));
        d->to = xcalloc(d->cap, sizeof(*d->to));
        d->n = 0;
        for (size_t i = 0; i < old.cap; i++)
            if (old.dn[i])
                dnset_put(d, old.dn[i], old.to[i]);
        free(old.dn);
        free(old.to);
    }
    size_t j = (size_t)hash_dn(dn) & (d->cap - 1);
    while (d->dn[j] && strcasecmp(d->dn[j], dn))
        j = (j + 1) & (d->cap - 1);
    if (!d->dn[j])
        d->n++;
    d->dn[j] = dn;
    d->to[j] = to;
}

/* Is dn in d? *to (if not NULL) gets its target. */
static bool dnset_find(const struct dnset *d, const char *dn, const char **to)
{
    if (!d->n)
        return false;
    size_t j = (size_t)hash_dn(dn) & (d->cap - 1);
    while (d->dn[j]) {
        if (!strcasecmp(d->dn[j], dn)) {
            if (to)
                *to = d->to[j];
            return true;
        }
        j = (j + 1) & (d->cap - 1);
    }
    return false;
}

static bool dnset_has(const struct dnset *d, const char *dn)
{
    return dnset_find(d, dn, NULL);
}

static void dnset_free(struct dnset *d)
{
    free(d->dn);
    free(d->to);
}

/* The DNs of the groups kept. */
static void kept_groups(const struct snapshot *s, struct dnset *groups)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->objs[i].live && s->objs[i].o.cls == AD_CLASS_GROUP)
            dnset_put(groups, s->objs[i].o.dn, s->objs[i].o.dn);
}

/* ------------------------------------------------------------ life */

struct snapshot *snapshot_new(char *const *keep, size_t nkeep, const char *fingerprint)
{
    struct snapshot *s = xcalloc(1, sizeof(*s));
    s->keep = xcalloc(nkeep + 1, sizeof(*s->keep));
    s->syntax = xcalloc(nkeep + 1, sizeof(*s->syntax));
    for (size_t i = 0; i < nkeep; i++)
        s->keep[i] = xstrdup(keep[i]);
    s->nkeep = nkeep;
    s->fingerprint = xstrdup(fingerprint);
    return s;
}

void snapshot_free(struct snapshot *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nkeep; i++)
        free(s->keep[i]);
    free(s->keep);
    free(s->syntax);
    free(s->fingerprint);
    strbuf_release(&s->file);
    arena_release(&s->arena);
    free(s->objs);
    free(s->index);
    free(s);
}

size_t snapshot_count(const struct snapshot *s)
{
    return s->live;
}

static int cmp_names(const void *a, const void *b)
{
    return strcasecmp(*(char *const *)a, *(char *const *)b);
}

void snapshot_fingerprint(const struct scope *sc, char *const *keep, size_t nkeep,
                          struct strbuf *out)
{
    struct strbuf t = STRBUF_INIT;
    strbuf_addstr(&t, MAGIC);
    /* the scope's own words, each list in its order (it decides nothing) */
    struct { const char *what; char **v; size_t n; } lists[] = {
        { "base", sc->base_dns, sc->nbase_dns }, { "include", sc->include_ous, sc->ninclude_ous },
        { "exclude", sc->exclude_ous, sc->nexclude_ous }, { "memberof", sc->member_of, sc->nmember_of },
    };
    for (size_t l = 0; l < ARRAY_SIZE(lists); l++)
        for (size_t i = 0; i < lists[l].n; i++)
            strbuf_addf(&t, "%s\t%s\n", lists[l].what, lists[l].v[i]);
    for (int c = 0; c < AD_CLASS_COUNT; c++)
        strbuf_addf(&t, "class\t%d\t%d\n", c, sc->classes[c]);
    strbuf_addf(&t, "filter\t%s\n", sc->filter ? sc->filter : "");
    char **sorted = xcalloc(nkeep + 1, sizeof(*sorted));
    memcpy(sorted, keep, nkeep * sizeof(*sorted));
    sort_array(sorted, nkeep, sizeof(*sorted), cmp_names);
    for (size_t i = 0; i < nkeep; i++)
        strbuf_addf(&t, "keep\t%s\n", sorted[i]);
    free(sorted);
    unsigned char md[SUM_LEN];
    unsigned int len = 0;
    if (EVP_Digest(t.buf, t.len, md, &len, EVP_sha256(), NULL) != 1)
        die("OpenSSL cannot compute SHA-256");
    strbuf_release(&t);
    for (unsigned int i = 0; i < len; i++)
        strbuf_addf(out, "%02x", md[i]);
}

/* ------------------------------------------------------------ keeping */

static bool kept_attr(const struct snapshot *s, const char *name)
{
    for (size_t i = 0; i < s->nkeep; i++)
        if (!strcasecmp(s->keep[i], name))
            return true;
    return false;
}

static const char *dup_or_null(struct arena *a, const char *v)
{
    return v ? arena_strdup(a, v) : NULL;
}

/* obj into dst, with the kept attributes only, in the arena. */
static void copy_in(struct snapshot *s, struct ad_object *dst, const struct ad_object *obj)
{
    struct arena *a = &s->arena;
    memset(dst, 0, sizeof(*dst));
    dst->cls = obj->cls;
    dst->dn = (char *)dup_or_null(a, obj->dn);
    memcpy(dst->guid, obj->guid, 16);
    dst->has_consistency_guid = obj->has_consistency_guid;
    memcpy(dst->consistency_guid, obj->consistency_guid, 16);
    dst->bad_consistency_guid = obj->bad_consistency_guid;
    dst->sid = (char *)dup_or_null(a, obj->sid);
    dst->uac = obj->uac;
    dst->disabled = obj->disabled;
    dst->in_scope = true;
    dst->usn_changed = obj->usn_changed;
    dst->when_changed = (char *)dup_or_null(a, obj->when_changed);
    size_t n = 0;
    for (size_t i = 0; i < obj->nattrs; i++)
        n += kept_attr(s, obj->attrs[i].name);
    dst->attrs = arena_calloc(a, n ? n : 1, sizeof(*dst->attrs));
    for (size_t i = 0; i < obj->nattrs; i++) {
        const struct ad_attr *src = &obj->attrs[i];
        if (!kept_attr(s, src->name))
            continue;
        struct ad_attr *d = &dst->attrs[dst->nattrs++];
        d->name = arena_strdup(a, src->name);
        d->nvals = src->nvals;
        d->vals = arena_calloc(a, src->nvals ? src->nvals : 1, sizeof(*d->vals));
        for (size_t k = 0; k < src->nvals; k++)
            d->vals[k] = arena_strdup(a, src->vals[k]);
    }
}

/* Linked attributes (MS-ADTS 3.1.1.1.6) a rule may read. AD removes a
 * value of one when its target is deleted; any other DN value (secretary,
 * seeAlso: no linkID) then names the target's tombstone. Both follow a
 * rename or a move. Neither changes the referring object's uSNChanged.
 * Samba 4.17 does the same (seen with ldapsearch before and after). The
 * schema says which attributes are DN-valued and linked (world.c reads it
 * for the kept ones: snapshot_set_syntax); when it could not be read, the
 * linked attributes of users, contacts and groups are known by name. */
static bool linked_attr(const char *name)
{
    static const char *const linked[] = { "member", "memberOf", "manager", "directReports",
                                          "managedBy", "managedObjects" };
    for (size_t i = 0; i < ARRAY_SIZE(linked); i++)
        if (!strcasecmp(name, linked[i]))
            return true;
    return false;
}

void snapshot_set_syntax(struct snapshot *s, const char *name, enum snapshot_syntax syntax)
{
    for (size_t i = 0; i < s->nkeep; i++)
        if (!strcasecmp(s->keep[i], name))
            s->syntax[i] = syntax;
}

static bool schema_says(const struct snapshot *s, const char *name, enum snapshot_syntax syntax)
{
    for (size_t i = 0; i < s->nkeep; i++)
        if (!strcasecmp(s->keep[i], name))
            return s->syntax[i] == syntax;
    return false;
}

/* An attribute's syntax: the schema's, or else linked_attr's guess (and a
 * value equal to a moved DN is taken for a DN: SNAPSHOT_DN). */
static enum snapshot_syntax syntax_of(const struct snapshot *s, const char *name)
{
    for (size_t i = 0; i < s->nkeep; i++)
        if (!strcasecmp(s->keep[i], name) && s->syntax[i] != SNAPSHOT_SYNTAX_UNKNOWN)
            return s->syntax[i];
    return linked_attr(name) ? SNAPSHOT_DN_LINKED : SNAPSHOT_DN;
}

/* The DN a deleted object had: its tombstone's RDN without the
 * "\0ADEL:<objectGUID>" AD appends (MS-ADTS 3.1.1.5.5.1.2), under its
 * lastKnownParent. NULL when the tombstone's DN is not of that form. */
static const char *tombstone_old_dn(struct arena *a, const struct ad_object *o)
{
    if (!o->dn || !o->parent_dn || !*o->parent_dn)
        return NULL;
    const char *end = ad_dn_parent(o->dn), *mark = strstr(o->dn, "\\0ADEL:");
    if (!mark)
        mark = strstr(o->dn, "\\0aDEL:");
    if (!mark || !*end || mark >= end)
        return NULL;
    struct strbuf b = STRBUF_INIT;
    strbuf_add(&b, o->dn, (size_t)(mark - o->dn));
    strbuf_addch(&b, ',');
    strbuf_addstr(&b, o->parent_dn);
    const char *dn = arena_strdup(a, b.buf);
    strbuf_release(&b);
    return dn;
}

/* What became of the DNs a delta names: renamed maps an old DN to the new
 * one, deleted to the tombstone's DN; by_guid maps the objectGUID (text)
 * of each object of the delta not kept before to its DN now, for values
 * that name its tombstone (below). */
struct moves {
    struct dnset renamed, deleted, by_guid;
};

/* The objectGUID text in a tombstone's DN ("CN=x\0ADEL:<guid>,CN=Deleted
 * Objects,..."), or NULL. */
static const char *tombstone_guid(const char *dn, char out[37])
{
    const char *mark = strstr(dn, "\\0ADEL:");
    if (!mark)
        mark = strstr(dn, "\\0aDEL:");
    if (!mark || strlen(mark + 7) < 36)
        return NULL;
    memcpy(out, mark + 7, 36);
    out[36] = '\0';
    return out;
}

/* In the values of every kept object the delta did not bring anew, put what
 * became of each DN the delta moved or deleted (see linked_attr), in the
 * attributes of DN syntax. Without the schema, any kept attribute's value
 * equal to such a DN is taken for a DN value: a text value that spells an
 * object's full DN is not expected. Objects the delta brought
 * have these values as of now already. One pass, only when something moved
 * or was deleted. */
static void follow_moves(struct snapshot *s, const struct moves *m)
{
    for (size_t i = 0; i < s->n; i++) {
        if (!s->objs[i].live || s->objs[i].touched)
            continue;
        struct ad_object *o = &s->objs[i].o;
        for (size_t k = 0; k < o->nattrs; k++) {
            struct ad_attr *at = &o->attrs[k];
            enum snapshot_syntax syntax = syntax_of(s, at->name);
            if (syntax == SNAPSHOT_NOT_DN)
                continue;
            bool linked = syntax == SNAPSHOT_DN_LINKED;
            size_t w = 0;
            for (size_t v = 0; v < at->nvals; v++) {
                const char *to;
                char guid[37];
                if (dnset_find(&m->renamed, at->vals[v], &to)) {
                    at->vals[w++] = (char *)to;
                } else if (dnset_find(&m->deleted, at->vals[v], &to)) {
                    if (!linked)
                        at->vals[w++] = (char *)to;
                } else if (!linked && m->by_guid.n && tombstone_guid(at->vals[v], guid)
                           && dnset_find(&m->by_guid, guid, &to)) {
                    /* a value without a link names the object, whatever its
                     * DN: its tombstone's, and its own again once reanimated */
                    at->vals[w++] = (char *)to;
                } else {
                    at->vals[w++] = at->vals[v];
                }
            }
            at->nvals = w;
        }
    }
}

static struct kept *find(struct snapshot *s, const unsigned char guid[16], size_t *slot)
{
    index_grow(s);
    *slot = slot_of(s, guid);
    return s->index[*slot] ? &s->objs[s->index[*slot] - 1] : NULL;
}

static void apply_one(struct snapshot *s, const struct ad_object *obj)
{
    size_t j;
    struct kept *k = find(s, obj->guid, &j);
    if (obj->deleted || !obj->in_scope) {
        if (k && k->live) {
            k->live = false;
            s->live--;
        }
        /* where it is now, so that a later move is followed; a deleted
         * one's DN may go to another object */
        if (k)
            k->o.dn = obj->deleted ? NULL : arena_strdup(&s->arena, obj->dn);
        return;
    }
    if (!k) {
        GROW(s->objs, s->alloc, s->n + 1);
        k = &s->objs[s->n++];
        memset(k, 0, sizeof(*k));
        s->index[j] = (uint32_t)s->n;
    }
    if (!k->live)
        s->live++;
    copy_in(s, &k->o, obj);
    k->live = true;
}

void snapshot_apply_delta(struct snapshot *s, const struct ad_object *const *objs, size_t n)
{
    struct moves m = { { 0 }, { 0 }, { 0 } };
    for (size_t i = 0; i < n; i++) {
        const struct ad_object *o = objs[i];
        size_t j;
        struct kept *k = find(s, o->guid, &j);
        if (k)
            k->touched = true;
        if ((!k || !k->live) && o->restored && !o->deleted) {
            /* a tombstone's DN in a value may name it (see follow_moves):
             * only an object that was deleted and is alive again, which
             * keeps lastKnownParent for good (ad_object.restored). Not
             * every object the copy did not keep: each object of a full
             * read is one, and a pass over the copy for each made a full
             * read of 10,200 objects take 150 s */
            char *guid = arena_alloc(&s->arena, 37);
            ad_guid_to_text(o->guid, guid);
            dnset_put(&m.by_guid, guid, arena_strdup(&s->arena, o->dn));
        }
        /* the DN it had: as kept (live, or where it went when it left the
         * scope), or, for a tombstone never kept, rebuilt from the tombstone */
        const char *old = k ? k->o.dn : o->deleted ? tombstone_old_dn(&s->arena, o) : NULL;
        if (!old)
            continue;   /* never kept and not deleted: see snapshot.h */
        if (o->deleted)
            dnset_put(&m.deleted, old, arena_strdup(&s->arena, o->dn));
        else if (strcmp(old, o->dn))
            dnset_put(&m.renamed, old, arena_strdup(&s->arena, o->dn));
    }
    if (m.renamed.n || m.deleted.n || m.by_guid.n)
        follow_moves(s, &m);
    dnset_free(&m.renamed);
    dnset_free(&m.deleted);
    dnset_free(&m.by_guid);
    for (size_t i = 0; i < n; i++)
        apply_one(s, objs[i]);
    for (size_t i = 0; i < n; i++) {
        size_t j;
        struct kept *k = find(s, objs[i]->guid, &j);
        if (k)
            k->touched = false;
    }
}

static struct ad_attr *attr_named(struct ad_object *o, const char *name)
{
    for (size_t i = 0; i < o->nattrs; i++)
        if (!strcasecmp(o->attrs[i].name, name))
            return &o->attrs[i];
    return NULL;
}

/* Append value to o's memberOf (made if it has none), in the arena. */
static void add_member_of(struct snapshot *s, struct ad_object *o, const char *value)
{
    struct ad_attr *mo = attr_named(o, "memberOf");
    if (!mo) {
        struct ad_attr *attrs = arena_calloc(&s->arena, o->nattrs + 1, sizeof(*attrs));
        memcpy(attrs, o->attrs, o->nattrs * sizeof(*attrs));
        o->attrs = attrs;
        mo = &o->attrs[o->nattrs++];
        mo->name = arena_strdup(&s->arena, "memberOf");
    }
    char **vals = arena_calloc(&s->arena, mo->nvals + 1, sizeof(*vals));
    if (mo->nvals)
        memcpy(vals, mo->vals, mo->nvals * sizeof(*vals));
    vals[mo->nvals++] = arena_strdup(&s->arena, value);
    mo->vals = vals;
}

void snapshot_set_member_of(struct snapshot *s, const char *const *groups, size_t ngroups,
                            const struct ad_object *const *now, size_t nnow)
{
    struct dnset gone = { 0 }, kept = { 0 };
    for (size_t i = 0; i < ngroups; i++)
        dnset_put(&gone, groups[i], groups[i]);
    for (size_t i = 0; i < s->n; i++) {
        if (!s->objs[i].live)
            continue;
        /* each kept object by its DN (the target: the kept entry itself),
         * for the member values */
        dnset_put(&kept, s->objs[i].o.dn, (const char *)&s->objs[i]);
        struct ad_attr *mo = attr_named(&s->objs[i].o, "memberOf");
        size_t w = 0;
        for (size_t v = 0; mo && gone.n && v < mo->nvals; v++)
            if (!dnset_has(&gone, mo->vals[v]))
                mo->vals[w++] = mo->vals[v];
        if (mo && gone.n)
            mo->nvals = w;
    }
    dnset_free(&gone);
    /* the memberships as AD has them: memberOf is member's back link */
    for (size_t i = 0; i < nnow; i++) {
        const struct ad_attr *m = ad_object_attr(now[i], "member");
        for (size_t v = 0; m && v < m->nvals; v++) {
            const char *k;
            if (dnset_find(&kept, m->vals[v], &k))
                add_member_of(s, &((struct kept *)k)->o, now[i]->dn);
        }
    }
    dnset_free(&kept);
}

static const struct kept *lookup(const struct snapshot *s, const unsigned char guid[16])
{
    if (!s->cap)
        return NULL;
    size_t j = slot_of(s, guid);
    return s->index[j] ? &s->objs[s->index[j] - 1] : NULL;
}

const char *snapshot_restored_named(const struct snapshot *s, const struct ad_object *const *objs,
                                    size_t n)
{
    size_t i = 0;
    while (i < n && !(objs[i]->restored && !objs[i]->deleted))
        i++;
    if (i == n)
        return NULL;
    /* the DNs a restored object of the delta had in the copy and has now,
     * and the objects the delta brings (their values are as of now) */
    struct dnset dns = { 0 }, brought = { 0 };
    struct arena a = { 0 };
    for (i = 0; i < n; i++) {
        char *guid = arena_alloc(&a, 37);
        ad_guid_to_text(objs[i]->guid, guid);
        dnset_put(&brought, guid, guid);
        if (!objs[i]->restored || objs[i]->deleted)
            continue;
        dnset_put(&dns, objs[i]->dn, objs[i]->dn);
        const struct kept *k = lookup(s, objs[i]->guid);
        if (k && k->o.dn)
            dnset_put(&dns, k->o.dn, objs[i]->dn);
    }
    const char *hit = NULL;
    for (i = 0; i < s->n && !hit; i++) {
        if (!s->objs[i].live)
            continue;
        const struct ad_object *o = &s->objs[i].o;
        char guid[37];
        ad_guid_to_text(o->guid, guid);
        if (dnset_has(&brought, guid))
            continue;
        for (size_t k = 0; k < o->nattrs && !hit; k++) {
            if (syntax_of(s, o->attrs[k].name) != SNAPSHOT_DN_LINKED)
                continue;
            for (size_t v = 0; v < o->attrs[k].nvals && !hit; v++)
                dnset_find(&dns, o->attrs[k].vals[v], &hit);
        }
    }
    dnset_free(&dns);
    dnset_free(&brought);
    arena_release(&a);
    return hit;
}

size_t snapshot_outside_names(const struct snapshot *s, const struct ad_object *const *objs,
                              size_t n, const char ***dns)
{
    *dns = NULL;
    size_t i = 0;
    while (i < n && (objs[i]->deleted || lookup(s, objs[i]->guid)))
        i++;
    if (i == n)
        return 0;   /* every object the delta brings has a known old DN */
    /* the DNs that are known: every object kept (or followed out of the
     * scope), every DN of the delta as of now, and the old DN of its
     * tombstones */
    struct dnset known = { 0 }, named = { 0 };
    struct arena a = { 0 };
    for (i = 0; i < s->n; i++)
        if (s->objs[i].o.dn)
            dnset_put(&known, s->objs[i].o.dn, NULL);
    for (i = 0; i < n; i++) {
        const char *old = objs[i]->deleted ? tombstone_old_dn(&a, objs[i]) : objs[i]->dn;
        if (old)
            dnset_put(&known, old, NULL);
    }
    for (i = 0; i < s->n; i++) {
        if (!s->objs[i].live)
            continue;
        const struct ad_object *o = &s->objs[i].o;
        for (size_t k = 0; k < o->nattrs; k++) {
            const struct ad_attr *at = &o->attrs[k];
            /* a DN attribute without a link only when the schema says it is
             * one (else any text would be looked up), and not the
             * tombstones it may name (not found without show-deleted) */
            enum snapshot_syntax syntax = syntax_of(s, at->name);
            bool plain = syntax == SNAPSHOT_DN && schema_says(s, at->name, SNAPSHOT_DN);
            if (syntax != SNAPSHOT_DN_LINKED && !plain)
                continue;
            for (size_t v = 0; v < at->nvals; v++)
                if (!dnset_has(&known, at->vals[v])
                    && !(plain && strstr(at->vals[v], "\\0ADEL:")))
                    dnset_put(&named, at->vals[v], NULL);
        }
    }
    size_t count = 0;
    if (named.n) {
        *dns = xcalloc(named.n, sizeof(**dns));
        for (i = 0; i < named.cap; i++)
            if (named.dn[i])
                (*dns)[count++] = named.dn[i];
    }
    dnset_free(&known);
    dnset_free(&named);
    arena_release(&a);
    return count;
}

void snapshot_apply(struct snapshot *s, const struct ad_object *obj)
{
    snapshot_apply_delta(s, &obj, 1);
}

/* ------------------------------------------------------------ handing on */

int snapshot_each(const struct snapshot *s, ad_object_cb cb, void *ctx)
{
    struct dnset groups = { 0 };
    kept_groups(s, &groups);
    struct ad_attr *attrs = NULL;
    char **vals = NULL;
    size_t attrs_alloc = 0, vals_alloc = 0;
    int rc = 0;
    for (size_t i = 0; i < s->n && !rc; i++) {
        if (!s->objs[i].live)
            continue;
        const struct ad_object *o = &s->objs[i].o;
        const struct ad_attr *mo = ad_object_attr(o, "memberOf");
        size_t drop = 0;
        for (size_t v = 0; mo && v < mo->nvals; v++)
            drop += dnset_has(&groups, mo->vals[v]);
        if (!drop) {
            rc = cb(o, ctx);
            continue;
        }
        /* a view of o without those memberOf values */
        struct ad_object view = *o;
        GROW(attrs, attrs_alloc, o->nattrs);
        GROW(vals, vals_alloc, mo->nvals);
        memcpy(attrs, o->attrs, o->nattrs * sizeof(*attrs));
        view.attrs = attrs;
        struct ad_attr *vm = &attrs[mo - o->attrs];
        vm->nvals = 0;
        for (size_t v = 0; v < mo->nvals; v++)
            if (!dnset_has(&groups, mo->vals[v]))
                vals[vm->nvals++] = mo->vals[v];
        vm->vals = vals;
        rc = cb(&view, ctx);
    }
    free(attrs);
    free(vals);
    dnset_free(&groups);
    return rc;
}

/* ------------------------------------------------------------ comparing */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The values of a, sorted; without those in skip (NULL: none). */
static char **sorted_values(const struct ad_attr *a, const struct dnset *skip, size_t *n)
{
    char **v = xcalloc(a->nvals + 1, sizeof(*v));
    *n = 0;
    for (size_t i = 0; i < a->nvals; i++)
        if (!skip || !dnset_has(skip, a->vals[i]))
            v[(*n)++] = a->vals[i];
    sort_array(v, *n, sizeof(*v), cmp_str);
    return v;
}

/* memberOf values naming a kept group are compared as snapshot_each hands
 * them on: left out */
static bool same_values(const struct ad_attr *x, const struct ad_attr *y, const struct dnset *groups)
{
    const struct dnset *skip = strcasecmp(x->name, "memberOf") ? NULL : groups;
    size_t nu, nv;
    char **u = sorted_values(x, skip, &nu), **v = sorted_values(y, skip, &nv);
    bool same = nu == nv;
    for (size_t i = 0; i < nu && same; i++)
        same = !strcmp(u[i], v[i]);
    free(u);
    free(v);
    return same;
}

static bool same_str(const char *x, const char *y)
{
    return x == y || (x && y && !strcmp(x, y));
}

/* Is every attribute of x in y with the same values? */
static const char *attrs_within(const struct ad_object *x, const struct ad_object *y,
                                const struct dnset *groups)
{
    static const struct ad_attr none = { (char *)"", 0, NULL };
    for (size_t i = 0; i < x->nattrs; i++) {
        const struct ad_attr *b = ad_object_attr(y, x->attrs[i].name);
        if (!same_values(&x->attrs[i], b ? b : &none, groups))
            return x->attrs[i].name;
    }
    return NULL;
}


bool snapshot_equal(const struct snapshot *a, const struct snapshot *b, struct strbuf *why)
{
    if (a->live != b->live) {
        strbuf_addf(why, "%zu objects against %zu", a->live, b->live);
        return false;
    }
    struct dnset groups = { 0 };
    kept_groups(a, &groups);
    for (size_t i = 0; i < a->n; i++) {
        if (!a->objs[i].live)
            continue;
        const struct ad_object *x = &a->objs[i].o;
        size_t j = b->cap ? slot_of(b, x->guid) : 0;
        const struct kept *k = b->cap && b->index[j] ? &b->objs[b->index[j] - 1] : NULL;
        if (!k || !k->live) {
            strbuf_addf(why, "%s is kept only in the first", x->dn);
            dnset_free(&groups);
            return false;
        }
        const struct ad_object *y = &k->o;
        const char *what = NULL;
        if (x->cls != y->cls || x->disabled != y->disabled || x->uac != y->uac)
            what = "class or userAccountControl";
        else if (x->has_consistency_guid != y->has_consistency_guid
                 || x->bad_consistency_guid != y->bad_consistency_guid
                 || memcmp(x->consistency_guid, y->consistency_guid, 16))
            what = "mS-DS-ConsistencyGuid";
        else if (!same_str(x->dn, y->dn))
            what = "the DN";
        else if (!same_str(x->sid, y->sid))
            what = "objectSid";
        else if (x->usn_changed != y->usn_changed || !same_str(x->when_changed, y->when_changed))
            what = "uSNChanged or whenChanged";
        else if (!(what = attrs_within(x, y, &groups)))
            what = attrs_within(y, x, &groups);
        if (what) {
            strbuf_addf(why, "%s: %s differs", x->dn, what);
            dnset_free(&groups);
            return false;
        }
    }
    dnset_free(&groups);
    return true;
}

/* ------------------------------------------------------------ the file */

static void put_u32(struct strbuf *b, uint32_t v)
{
    unsigned char x[4] = { (unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                           (unsigned char)(v >> 24) };
    strbuf_add(b, x, 4);
}

static void put_u64(struct strbuf *b, uint64_t v)
{
    put_u32(b, (uint32_t)v);
    put_u32(b, (uint32_t)(v >> 32));
}

static void put_str(struct strbuf *b, const char *v)
{
    if (!v) {
        put_u32(b, NO_STRING);
        return;
    }
    size_t len = strlen(v);
    put_u32(b, (uint32_t)len);
    strbuf_add(b, v, len + 1);
}

int snapshot_save(const struct snapshot *s, const char *path, const char *watermark)
{
    struct strbuf b = STRBUF_INIT;
    strbuf_addstr(&b, MAGIC);
    put_str(&b, s->fingerprint);
    put_str(&b, watermark ? watermark : "");
    put_u64(&b, s->live);
    for (size_t i = 0; i < s->n; i++) {
        if (!s->objs[i].live)
            continue;
        const struct ad_object *o = &s->objs[i].o;
        unsigned char head[2] = { (unsigned char)o->cls,
                                  (unsigned char)((o->disabled ? 1 : 0) | (o->has_consistency_guid ? 2 : 0)
                                                  | (o->bad_consistency_guid ? 4 : 0)) };
        strbuf_add(&b, head, 2);
        strbuf_add(&b, o->guid, 16);
        strbuf_add(&b, o->consistency_guid, 16);
        put_u32(&b, o->uac);
        put_u64(&b, o->usn_changed);
        put_str(&b, o->dn);
        put_str(&b, o->sid);
        put_str(&b, o->when_changed);
        put_u32(&b, (uint32_t)o->nattrs);
        for (size_t k = 0; k < o->nattrs; k++) {
            put_str(&b, o->attrs[k].name);
            put_u32(&b, (uint32_t)o->attrs[k].nvals);
            for (size_t v = 0; v < o->attrs[k].nvals; v++)
                put_str(&b, o->attrs[k].vals[v]);
        }
    }
    unsigned char md[SUM_LEN];
    unsigned int len = 0;
    if (EVP_Digest(b.buf, b.len, md, &len, EVP_sha256(), NULL) != 1)
        die("OpenSSL cannot compute SHA-256");
    strbuf_add(&b, md, SUM_LEN);
    int rc = platform_write_file_atomic(path, b.buf, b.len);
    strbuf_release(&b);
    if (rc)
        return log_error("cannot write the kept copy of AD %s; the next run reads AD in full", path);
    return 0;
}

/* A cursor over the loaded file; any read past its end sets bad. */
struct cur {
    char *p, *end;
    bool bad;
};

static bool need(struct cur *c, size_t n)
{
    if (c->bad || (size_t)(c->end - c->p) < n)
        c->bad = true;
    return !c->bad;
}

static uint32_t get_u32(struct cur *c)
{
    if (!need(c, 4))
        return 0;
    const unsigned char *x = (const unsigned char *)c->p;
    c->p += 4;
    return (uint32_t)x[0] | (uint32_t)x[1] << 8 | (uint32_t)x[2] << 16 | (uint32_t)x[3] << 24;
}

static uint64_t get_u64(struct cur *c)
{
    uint64_t lo = get_u32(c);
    return lo | (uint64_t)get_u32(c) << 32;
}

static char *get_str(struct cur *c)
{
    uint32_t len = get_u32(c);
    if (len == NO_STRING || !need(c, (size_t)len + 1))
        return NULL;
    char *v = c->p;
    if (v[len] != '\0' || memchr(v, '\0', len)) {
        c->bad = true;
        return NULL;
    }
    c->p += (size_t)len + 1;
    return v;
}

static const void *get_bytes(struct cur *c, size_t n)
{
    if (!need(c, n))
        return NULL;
    const void *v = c->p;
    c->p += n;
    return v;
}

static int damaged(struct snapshot *s, const char *path, const struct cur *c, const char *what)
{
    log_warn("the kept copy of AD %s is damaged (%s at byte %zu); reading AD in full instead, "
             "which replaces it", path, what, (size_t)(c->p - s->file.buf));
    strbuf_reset(&s->file);
    arena_release(&s->arena);
    s->n = s->live = 0;
    if (s->index)
        memset(s->index, 0, s->cap * sizeof(*s->index));
    return 1;
}

int snapshot_load(struct snapshot *s, const char *path, const char **watermark)
{
    /* unreadable (logged) or missing: a full read makes a new one */
    if (platform_read_file(path, &s->file, NULL))
        return 1;
    struct cur c = { s->file.buf, s->file.buf + s->file.len, false };
    size_t ml = strlen(MAGIC);
    if (s->file.len < ml + SUM_LEN || memcmp(s->file.buf, MAGIC, ml))
        return damaged(s, path, &c, "not a dualsync snapshot of this version");
    unsigned char md[SUM_LEN];
    unsigned int len = 0;
    if (EVP_Digest(s->file.buf, s->file.len - SUM_LEN, md, &len, EVP_sha256(), NULL) != 1)
        die("OpenSSL cannot compute SHA-256");
    c.end -= SUM_LEN;
    if (memcmp(md, c.end, SUM_LEN))
        return damaged(s, path, &c, "its checksum does not match");
    c.p += ml;
    const char *fp = get_str(&c);
    const char *wm = get_str(&c);
    uint64_t count = get_u64(&c);
    if (c.bad || !fp || !wm)
        return damaged(s, path, &c, "a bad header");
    if (strcmp(fp, s->fingerprint)) {
        log_verbose("the kept copy of AD %s was made for another scope or other attributes: "
                    "reading AD in full", path);
        strbuf_reset(&s->file);
        return 1;
    }
    /* every object takes at least 63 bytes: a count beyond that is damage */
    if (count > (uint64_t)(c.end - c.p) / 63)
        return damaged(s, path, &c, "an object count larger than the file");
    s->objs = xcalloc(count ? count : 1, sizeof(*s->objs));
    s->alloc = count ? count : 1;
    for (uint64_t i = 0; i < count && !c.bad; i++) {
        struct ad_object *o = &s->objs[s->n].o;
        const unsigned char *head = get_bytes(&c, 2);
        const void *guid = get_bytes(&c, 16), *cg = get_bytes(&c, 16);
        if (c.bad)
            break;
        if (head[0] >= AD_CLASS_COUNT) {
            c.bad = true;
            break;
        }
        o->cls = (enum ad_class)head[0];
        o->disabled = head[1] & 1;
        o->has_consistency_guid = (head[1] & 2) != 0;
        o->bad_consistency_guid = (head[1] & 4) != 0;
        memcpy(o->guid, guid, 16);
        memcpy(o->consistency_guid, cg, 16);
        o->uac = get_u32(&c);
        o->usn_changed = get_u64(&c);
        o->dn = get_str(&c);
        o->sid = get_str(&c);
        o->when_changed = get_str(&c);
        o->in_scope = true;
        uint32_t na = get_u32(&c);
        if (c.bad || !o->dn || na > (size_t)(c.end - c.p) / 9) {
            c.bad = true;
            break;
        }
        o->attrs = arena_calloc(&s->arena, na ? na : 1, sizeof(*o->attrs));
        for (uint32_t k = 0; k < na && !c.bad; k++) {
            struct ad_attr *a = &o->attrs[o->nattrs++];
            a->name = get_str(&c);
            uint32_t nv = get_u32(&c);
            if (c.bad || !a->name || nv > (size_t)(c.end - c.p) / 5) {
                c.bad = true;
                break;
            }
            a->vals = arena_calloc(&s->arena, nv ? nv : 1, sizeof(*a->vals));
            for (uint32_t v = 0; v < nv && !c.bad; v++)
                if (!(a->vals[a->nvals++] = get_str(&c)))
                    c.bad = true;
        }
        if (c.bad)
            break;
        index_grow(s);
        size_t j = slot_of(s, o->guid);
        if (s->index[j]) {
            c.bad = true;   /* one objectGUID twice */
            break;
        }
        s->objs[s->n].live = true;
        s->index[j] = (uint32_t)++s->n;
    }
    if (c.bad || c.p != c.end)
        return damaged(s, path, &c, c.bad ? "a malformed object" : "bytes after the last object");
    s->live = s->n;
    *watermark = wm;
    return 0;
}
