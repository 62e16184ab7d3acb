/* Unit tests for the copy of AD kept between runs (snapshot.c): the file's
 * round trip, every refusal to load (missing, another fingerprint, each byte
 * flipped, each length cut, garbage, and malformed files that carry a valid
 * checksum), the delta rules of snapshot_apply (replace, forget, renames and
 * deletions in every DN value: member, memberOf, manager, and a non-linked
 * one), what snapshot_each hands on, and
 * snapshot_equal. Objects are built here, not read from AD. */
#include "compat.h"

#include <setjmp.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/evp.h>

#include "log.h"
#include "scope.h"
#include "snapshot.h"
#include "util.h"

#define OU "OU=Contoso,DC=corp,DC=example"
#define FP "fp-0123456789abcdef"
#define WM "usn:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0:123456"
#define MAGIC "dualsync-snapshot 1\n"

static char *keep[] = { "sAMAccountName", "userPrincipalName", "mail", "member", "memberOf",
                        "displayName", "extensionAttribute1" };

/* ---- helpers ----------------------------------------------------------- */

static char dir[64], path[256], path2[256];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/dualsync-test-snapshot-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/ad.snapshot", dir);
    snprintf(path2, sizeof(path2), "%s/other.snapshot", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path);
    unlink(path2);
    rmdir(dir);
    return 0;
}

static struct snapshot *snap_new(void)
{
    return snapshot_new(keep, ARRAY_SIZE(keep), FP);
}

/* A GUID per id whose first 8 bytes (those snapshot.c hashes) differ. */
static void make_guid(unsigned id, unsigned char g[16])
{
    uint64_t x = 0x9e3779b97f4a7c15ull * (id + 1);
    for (int i = 0; i < 16; i++) {
        g[i] = (unsigned char)(x >> (8 * (i % 8)));
        if (i == 7)
            x = x * 0xbf58476d1ce4e5b9ull + id;
    }
}

static struct ad_object *obj_new(enum ad_class cls, unsigned id, const char *dn)
{
    struct ad_object *o = xcalloc(1, sizeof(*o));
    o->cls = cls;
    o->dn = xstrdup(dn);
    make_guid(id, o->guid);
    o->in_scope = true;
    o->usn_changed = 1000 + id;
    o->when_changed = xstrdup("20261128010530.0Z");
    return o;
}

/* Add attribute name with the values that follow (NULL-terminated). */
static void attr(struct ad_object *o, const char *name, ...)
{
    o->attrs = xrealloc(o->attrs, (o->nattrs + 1) * sizeof(*o->attrs));
    struct ad_attr *a = &o->attrs[o->nattrs++];
    a->name = xstrdup(name);
    a->nvals = 0;
    a->vals = xcalloc(1, sizeof(*a->vals));
    va_list ap;
    va_start(ap, name);
    for (const char *v; (v = va_arg(ap, const char *));) {
        a->vals = xrealloc(a->vals, (a->nvals + 2) * sizeof(*a->vals));
        a->vals[a->nvals++] = xstrdup(v);
    }
    va_end(ap);
}

/* Apply obj, then free it. */
static void apply(struct snapshot *s, struct ad_object *obj)
{
    snapshot_apply(s, obj);
    ad_object_free(obj);
}

/* What snapshot_each hands on, deep-copied, in its order. */
struct seen {
    struct ad_object **o;
    size_t n;
};

static int collect(const struct ad_object *obj, void *ctx)
{
    struct seen *s = ctx;
    s->o = xrealloc(s->o, (s->n + 1) * sizeof(*s->o));
    s->o[s->n++] = ad_object_copy(obj);
    return 0;
}

static struct seen each(const struct snapshot *s)
{
    struct seen seen = { NULL, 0 };
    assert_int_equal(snapshot_each(s, collect, &seen), 0);
    assert_int_equal(seen.n, snapshot_count(s));
    return seen;
}

static void seen_free(struct seen *s)
{
    for (size_t i = 0; i < s->n; i++)
        ad_object_free(s->o[i]);
    free(s->o);
    s->o = NULL;
    s->n = 0;
}

static const struct ad_object *seen_dn(const struct seen *s, const char *dn)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->o[i]->dn, dn))
            return s->o[i];
    fail_msg("%s was not handed on", dn);
    return NULL;
}

/* The values of name in obj must be exactly those that follow, in this
 * order (NULL-terminated; none: the attribute is absent or empty). */
static void expect_values(const struct ad_object *obj, const char *name, ...)
{
    const struct ad_attr *a = ad_object_attr(obj, name);
    size_t n = 0;
    va_list ap;
    va_start(ap, name);
    for (const char *v; (v = va_arg(ap, const char *)); n++) {
        if (!a || n >= a->nvals)
            fail_msg("%s: %s has no value %zu (\"%s\")", obj->dn, name, n, v);
        if (strcmp(a->vals[n], v))
            fail_msg("%s: %s value %zu is \"%s\", not \"%s\"", obj->dn, name, n, a->vals[n], v);
    }
    va_end(ap);
    if (a && a->nvals != n)
        fail_msg("%s: %s has %zu values, not %zu", obj->dn, name, a->nvals, n);
}

static char *slurp(const char *p, size_t *len)
{
    FILE *f = fopen(p, "rb");
    assert_non_null(f);
    struct strbuf sb = STRBUF_INIT;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        strbuf_add(&sb, buf, n);
    fclose(f);
    *len = sb.len;
    return strbuf_detach(&sb);
}

static void spit(const char *p, const void *data, size_t len)
{
    /* a new file rather than a truncated one: ext4 flushes a file truncated
     * and rewritten on close (auto_da_alloc), which thousands of loads feel */
    unlink(p);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static size_t occurrences(const char *buf, size_t len, const char *needle)
{
    size_t n = 0, nl = strlen(needle);
    for (size_t i = 0; i + nl <= len; i++)
        n += !memcmp(buf + i, needle, nl);
    return n;
}

/* Load p into a new snapshot: its return code; *out the snapshot. */
static int load(const char *p, const char *fingerprint, struct snapshot **out, const char **wm)
{
    *out = snapshot_new(keep, ARRAY_SIZE(keep), fingerprint);
    const char *w = wm ? *wm : NULL;
    int rc = snapshot_load(*out, p, &w);
    if (wm)
        *wm = w;
    return rc;
}

static int count_cb(const struct ad_object *obj, void *ctx)
{
    (void)obj;
    ++*(size_t *)ctx;
    return 0;
}

/* The load of p must fail with nothing kept, and leave a snapshot that
 * works. */
static void expect_refused(const char *p, const char *what)
{
    struct snapshot *s;
    const char *wm = "untouched";
    int rc = load(p, FP, &s, &wm);
    if (rc != 1)
        fail_msg("%s: snapshot_load returned %d, not 1", what, rc);
    if (snapshot_count(s) != 0)
        fail_msg("%s: %zu objects kept after a refused load", what, snapshot_count(s));
    size_t n = 0;
    assert_int_equal(snapshot_each(s, count_cb, &n), 0);
    if (n)
        fail_msg("%s: snapshot_each handed on %zu objects", what, n);
    assert_string_equal(wm, "untouched");
    /* still usable: a full read goes into it */
    apply(s, obj_new(AD_CLASS_USER, 77, "CN=After,OU=Users," OU));
    assert_int_equal(snapshot_count(s), 1);
    snapshot_free(s);
}

/* ---- a small directory ------------------------------------------------- */

#define ALICE_DN "CN=Zoë Ångström\\, Jr.,OU=Zürich,OU=Users," OU
#define BOB_DN "CN=Bob,OU=Users," OU
#define CAROL_DN "CN=Carol,OU=Contacts," OU
#define TEAM_DN "CN=Team,OU=Groups," OU
#define ALL_DN "CN=Everyone,OU=Groups," OU
#define OUTSIDE_DN "CN=Outside Group,OU=Elsewhere,DC=corp,DC=example"
#define FAR_DN "CN=Far Member,OU=Elsewhere,DC=corp,DC=example"

static struct ad_object *alice(void)
{
    struct ad_object *o = obj_new(AD_CLASS_USER, 1, ALICE_DN);
    o->disabled = true;
    o->uac = 0x202;
    o->has_consistency_guid = true;
    for (int i = 0; i < 16; i++)
        o->consistency_guid[i] = (unsigned char)(0xa0 + i);
    o->sid = xstrdup("S-1-5-21-3623811015-3361044348-30300820-1104");
    o->usn_changed = 123456789012ull;
    attr(o, "sAMAccountName", "zoe.angstrom", NULL);
    attr(o, "userPrincipalName", "zoë@corp.example", NULL);
    attr(o, "mail", "zoe@corp.example", NULL);
    attr(o, "displayName", "Zoë Ångström 日本語 \"Z\"\t,", NULL);
    attr(o, "memberOf", OUTSIDE_DN, TEAM_DN, "CN=Another Outside,OU=Elsewhere,DC=corp,DC=example",
         NULL);
    attr(o, "telephoneNumber", "+41 44 000 00 00", NULL);   /* not kept */
    attr(o, "extensionAttribute1", "", NULL);
    return o;
}

static struct ad_object *bob(void)
{
    struct ad_object *o = obj_new(AD_CLASS_USER, 2, BOB_DN);
    o->uac = 0x200;
    o->sid = xstrdup("S-1-5-21-3623811015-3361044348-30300820-1105");
    attr(o, "sAMAccountName", "bob", NULL);
    attr(o, "MAIL", "bob@corp.example", NULL);   /* kept whatever the case */
    attr(o, "memberOf", TEAM_DN, ALL_DN, NULL);
    return o;
}

static struct ad_object *carol(void)
{
    struct ad_object *o = obj_new(AD_CLASS_CONTACT, 3, CAROL_DN);
    o->bad_consistency_guid = true;   /* no SID: a contact */
    free(o->when_changed);
    o->when_changed = NULL;
    attr(o, "mail", "carol@partner.example", NULL);
    attr(o, "proxyAddresses", "SMTP:carol@partner.example", NULL);   /* not kept */
    return o;
}

static struct ad_object *team(void)
{
    struct ad_object *o = obj_new(AD_CLASS_GROUP, 4, TEAM_DN);
    o->sid = xstrdup("S-1-5-21-3623811015-3361044348-30300820-2001");
    attr(o, "sAMAccountName", "team", NULL);
    attr(o, "member", ALICE_DN, BOB_DN, FAR_DN, NULL);
    attr(o, "memberOf", ALL_DN, NULL);
    return o;
}

static struct ad_object *everyone(void)
{
    struct ad_object *o = obj_new(AD_CLASS_GROUP, 5, ALL_DN);
    attr(o, "member", BOB_DN, TEAM_DN, NULL);
    return o;
}

static struct snapshot *directory(void)
{
    struct snapshot *s = snap_new();
    apply(s, alice());
    apply(s, bob());
    apply(s, carol());
    apply(s, team());
    apply(s, everyone());
    assert_int_equal(snapshot_count(s), 5);
    return s;
}

/* ---- save and load ----------------------------------------------------- */

static void round_trip(void **state)
{
    (void)state;
    struct snapshot *s = directory();
    assert_int_equal(snapshot_save(s, path, WM), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    struct snapshot *back;
    const char *wm = NULL;
    assert_int_equal(load(path, FP, &back, &wm), 0);
    assert_string_equal(wm, WM);
    assert_int_equal(snapshot_count(back), 5);
    struct strbuf why = STRBUF_INIT;
    if (!snapshot_equal(s, back, &why))
        fail_msg("not equal after a round trip: %s", why.buf);
    if (!snapshot_equal(back, s, &why))
        fail_msg("not equal after a round trip: %s", why.buf);
    assert_int_equal(why.len, 0);

    /* the fields themselves, as a full read hands them on */
    struct seen seen = each(back);
    assert_int_equal(seen.n, 5);
    const struct ad_object *a = seen_dn(&seen, ALICE_DN);
    struct ad_object *want = alice();
    assert_int_equal(a->cls, AD_CLASS_USER);
    assert_true(a->disabled);
    assert_true(a->has_consistency_guid);
    assert_false(a->bad_consistency_guid);
    assert_memory_equal(a->guid, want->guid, 16);
    assert_memory_equal(a->consistency_guid, want->consistency_guid, 16);
    assert_int_equal(a->uac, 0x202);
    assert_true(a->usn_changed == 123456789012ull);
    assert_string_equal(a->sid, want->sid);
    assert_string_equal(a->when_changed, "20261128010530.0Z");
    assert_true(a->in_scope);
    assert_false(a->deleted);
    expect_values(a, "sAMAccountName", "zoe.angstrom", NULL);
    expect_values(a, "userPrincipalName", "zoë@corp.example", NULL);
    expect_values(a, "displayName", "Zoë Ångström 日本語 \"Z\"\t,", NULL);
    expect_values(a, "extensionAttribute1", "", NULL);
    /* Team is kept: its member values say it; the groups not kept stay */
    expect_values(a, "memberOf", OUTSIDE_DN, "CN=Another Outside,OU=Elsewhere,DC=corp,DC=example",
                  NULL);
    assert_null(ad_object_attr(a, "telephoneNumber"));
    ad_object_free(want);

    const struct ad_object *b = seen_dn(&seen, BOB_DN);
    assert_false(b->disabled);
    assert_false(b->has_consistency_guid);
    expect_values(b, "mail", "bob@corp.example", NULL);
    const struct ad_object *c = seen_dn(&seen, CAROL_DN);
    assert_int_equal(c->cls, AD_CLASS_CONTACT);
    assert_null(c->sid);
    assert_null(c->when_changed);
    assert_true(c->bad_consistency_guid);
    assert_false(c->has_consistency_guid);
    expect_values(c, "mail", "carol@partner.example", NULL);
    assert_null(ad_object_attr(c, "proxyAddresses"));
    const struct ad_object *t = seen_dn(&seen, TEAM_DN);
    assert_int_equal(t->cls, AD_CLASS_GROUP);
    expect_values(t, "member", ALICE_DN, BOB_DN, FAR_DN, NULL);
    expect_values(t, "memberOf", NULL);
    seen_free(&seen);

    /* the applied and the loaded copy hand on the same, in the same order */
    struct seen x = each(s), y = each(back);
    for (size_t i = 0; i < x.n; i++) {
        assert_string_equal(x.o[i]->dn, y.o[i]->dn);
        assert_int_equal(x.o[i]->nattrs, y.o[i]->nattrs);
        for (size_t k = 0; k < x.o[i]->nattrs; k++) {
            assert_string_equal(x.o[i]->attrs[k].name, y.o[i]->attrs[k].name);
            assert_int_equal(x.o[i]->attrs[k].nvals, y.o[i]->attrs[k].nvals);
            for (size_t v = 0; v < x.o[i]->attrs[k].nvals; v++)
                assert_string_equal(x.o[i]->attrs[k].vals[v], y.o[i]->attrs[k].vals[v]);
        }
    }
    seen_free(&x);
    seen_free(&y);

    /* a loaded copy saved again is the same file */
    assert_int_equal(snapshot_save(back, path2, WM), 0);
    size_t l1, l2;
    char *f1 = slurp(path, &l1), *f2 = slurp(path2, &l2);
    assert_int_equal(l1, l2);
    assert_memory_equal(f1, f2, l1);
    free(f1);
    free(f2);
    strbuf_release(&why);
    snapshot_free(back);
    snapshot_free(s);
}

static void round_trip_empty(void **state)
{
    (void)state;
    struct snapshot *s = snap_new();
    assert_int_equal(snapshot_save(s, path, WM), 0);
    struct snapshot *back;
    const char *wm = NULL;
    assert_int_equal(load(path, FP, &back, &wm), 0);
    assert_string_equal(wm, WM);
    assert_int_equal(snapshot_count(back), 0);
    struct strbuf why = STRBUF_INIT;
    assert_true(snapshot_equal(s, back, &why));
    strbuf_release(&why);
    snapshot_free(back);
    snapshot_free(s);
}

static void load_missing_and_other_fingerprint(void **state)
{
    (void)state;
    struct snapshot *s;
    assert_int_equal(load(path, FP, &s, NULL), 1);
    assert_int_equal(snapshot_count(s), 0);
    snapshot_free(s);

    s = directory();
    assert_int_equal(snapshot_save(s, path, WM), 0);
    snapshot_free(s);
    assert_int_equal(load(path, "fp-another-scope", &s, NULL), 1);
    assert_int_equal(snapshot_count(s), 0);
    snapshot_free(s);
    /* and it is still good for its own */
    assert_int_equal(load(path, FP, &s, NULL), 0);
    assert_int_equal(snapshot_count(s), 5);
    snapshot_free(s);
}

static void load_every_byte_flipped(void **state)
{
    (void)state;
    struct snapshot *s = snap_new();
    apply(s, alice());
    apply(s, carol());
    apply(s, team());
    assert_int_equal(snapshot_save(s, path, WM), 0);
    snapshot_free(s);
    size_t len;
    char *good = slurp(path, &len);
    char *bad = xmalloc(len);
    log_set_level(LOG_QUIET);   /* one warning per damaged file */
    static const unsigned char masks[] = { 0x01, 0x80, 0xff };
    for (size_t i = 0; i < len; i++) {
        for (size_t m = 0; m < ARRAY_SIZE(masks); m++) {
            memcpy(bad, good, len);
            bad[i] ^= (char)masks[m];
            spit(path2, bad, len);
            char what[64];
            snprintf(what, sizeof(what), "byte %zu of %zu ^ 0x%02x", i, len, masks[m]);
            expect_refused(path2, what);
        }
    }
    log_set_level(LOG_NORMAL);
    free(bad);
    free(good);
}

static void load_truncated_and_extended(void **state)
{
    (void)state;
    struct snapshot *s = directory();
    assert_int_equal(snapshot_save(s, path, WM), 0);
    snapshot_free(s);
    size_t len;
    char *good = slurp(path, &len);
    log_set_level(LOG_QUIET);
    for (size_t cut = 0; cut < len; cut++) {
        spit(path2, good, cut);
        char what[64];
        snprintf(what, sizeof(what), "cut to %zu of %zu bytes", cut, len);
        expect_refused(path2, what);
    }
    char *longer = xmalloc(len + 1);
    memcpy(longer, good, len);
    longer[len] = '\n';
    spit(path2, longer, len + 1);
    expect_refused(path2, "a byte after the checksum");
    log_set_level(LOG_NORMAL);
    free(longer);
    free(good);
}

static void load_garbage(void **state)
{
    (void)state;
    log_set_level(LOG_QUIET);
    spit(path2, "", 0);
    expect_refused(path2, "an empty file");
    spit(path2, "not a snapshot\n", 15);
    expect_refused(path2, "text");
    spit(path2, MAGIC, strlen(MAGIC));
    expect_refused(path2, "the magic line alone");
    /* pseudo-random bytes, with and without the magic line in front */
    uint64_t x = 0x243f6a8885a308d3u;
    for (size_t len = 1; len < 4096; len = len * 3 + 1) {
        for (int magic = 0; magic < 2; magic++) {
            char *buf = xmalloc(len + sizeof(MAGIC));
            size_t off = magic ? strlen(MAGIC) : 0;
            memcpy(buf, MAGIC, off);
            for (size_t i = 0; i < len; i++) {
                x ^= x >> 12;
                x ^= x << 25;
                x ^= x >> 27;
                buf[off + i] = (char)((x * 0x2545f4914f6cdd1du) >> 56);
            }
            spit(path2, buf, off + len);
            char what[64];
            snprintf(what, sizeof(what), "%zu random bytes%s", len, magic ? " after the magic" : "");
            expect_refused(path2, what);
            free(buf);
        }
    }
    log_set_level(LOG_NORMAL);
}

/* Files written here in the format of snapshot.c with a valid checksum, so
 * that the checks behind the checksum are reached. */
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
        put_u32(b, 0xffffffffu);
        return;
    }
    put_u32(b, (uint32_t)strlen(v));
    strbuf_add(b, v, strlen(v) + 1);
}

static void put_head(struct strbuf *b, const char *wm, uint64_t count)
{
    strbuf_addstr(b, MAGIC);
    put_str(b, FP);
    put_str(b, wm);
    put_u64(b, count);
}

/* An object with one attribute of one value. */
static void put_object(struct strbuf *b, unsigned char cls, unsigned id, const char *dn, const char *value)
{
    unsigned char head[2] = { cls, 0 }, g[16], cg[16] = { 0 };
    make_guid(id, g);
    strbuf_add(b, head, 2);
    strbuf_add(b, g, 16);
    strbuf_add(b, cg, 16);
    put_u32(b, 0x200);
    put_u64(b, 4242);
    put_str(b, dn);
    put_str(b, NULL);
    put_str(b, "20261128010530.0Z");
    put_u32(b, 1);
    put_str(b, "mail");
    put_u32(b, 1);
    put_str(b, value);
}

static void seal_and_write(struct strbuf *b, const char *p)
{
    unsigned char md[32];
    unsigned int len = 0;
    assert_int_equal(EVP_Digest(b->buf, b->len, md, &len, EVP_sha256(), NULL), 1);
    assert_int_equal(len, 32);
    strbuf_add(b, md, 32);
    spit(p, b->buf, b->len);
    strbuf_release(b);
}

static void load_malformed_with_valid_checksum(void **state)
{
    (void)state;
    struct strbuf b = STRBUF_INIT;
    struct snapshot *s;
    const char *wm = NULL;

    /* the writer here matches snapshot.c: two objects load */
    put_head(&b, WM, 2);
    put_object(&b, AD_CLASS_USER, 1, "CN=A," OU, "a@corp.example");
    put_object(&b, AD_CLASS_CONTACT, 2, "CN=B," OU, "b@corp.example");
    seal_and_write(&b, path2);
    assert_int_equal(load(path2, FP, &s, &wm), 0);
    assert_int_equal(snapshot_count(s), 2);
    assert_string_equal(wm, WM);
    snapshot_free(s);

    log_set_level(LOG_QUIET);
    put_head(&b, WM, 3);   /* one object more than there is */
    put_object(&b, AD_CLASS_USER, 1, "CN=A," OU, "a");
    put_object(&b, AD_CLASS_USER, 2, "CN=B," OU, "b");
    seal_and_write(&b, path2);
    expect_refused(path2, "a count above the objects");

    put_head(&b, WM, 1);   /* one object fewer */
    put_object(&b, AD_CLASS_USER, 1, "CN=A," OU, "a");
    put_object(&b, AD_CLASS_USER, 2, "CN=B," OU, "b");
    seal_and_write(&b, path2);
    expect_refused(path2, "bytes after the last object");

    put_head(&b, WM, UINT64_MAX);   /* a count no memory could hold */
    put_object(&b, AD_CLASS_USER, 1, "CN=A," OU, "a");
    seal_and_write(&b, path2);
    expect_refused(path2, "a huge count");

    put_head(&b, WM, 2);   /* one objectGUID twice */
    put_object(&b, AD_CLASS_USER, 1, "CN=A," OU, "a");
    put_object(&b, AD_CLASS_USER, 1, "CN=B," OU, "b");
    seal_and_write(&b, path2);
    expect_refused(path2, "a GUID twice");

    put_head(&b, WM, 1);   /* a class that does not exist */
    put_object(&b, AD_CLASS_COUNT, 1, "CN=A," OU, "a");
    seal_and_write(&b, path2);
    expect_refused(path2, "class 3");

    put_head(&b, WM, 1);   /* no DN */
    put_object(&b, AD_CLASS_USER, 1, NULL, "a");
    seal_and_write(&b, path2);
    expect_refused(path2, "no DN");

    put_head(&b, NULL, 0);   /* no watermark */
    seal_and_write(&b, path2);
    expect_refused(path2, "no watermark");

    put_head(&b, WM, 1);   /* a missing value */
    put_object(&b, AD_CLASS_USER, 1, "CN=A," OU, NULL);
    seal_and_write(&b, path2);
    expect_refused(path2, "a NULL value");

    /* a string without its NUL, and one with a NUL inside */
    put_head(&b, WM, 1);
    put_object(&b, AD_CLASS_USER, 1, "CN=A," OU, "abc");
    b.buf[b.len - 1] = 'x';
    seal_and_write(&b, path2);
    expect_refused(path2, "a string without its NUL");
    put_head(&b, WM, 1);
    put_object(&b, AD_CLASS_USER, 1, "CN=A," OU, "abc");
    b.buf[b.len - 3] = '\0';
    seal_and_write(&b, path2);
    expect_refused(path2, "a NUL inside a string");

    /* a length that runs past the end */
    put_head(&b, WM, 1);
    put_object(&b, AD_CLASS_USER, 1, "CN=A," OU, "abc");
    b.buf[b.len - 8] = (char)0xf0;
    seal_and_write(&b, path2);
    expect_refused(path2, "a value longer than the file");

    /* attribute and value counts beyond the file */
    put_head(&b, WM, 1);
    put_object(&b, AD_CLASS_USER, 1, "CN=A," OU, "abc");
    size_t nv_at = b.len - 4 - 4 - 4;   /* value's length, value count, before them */
    b.buf[nv_at + 3] = 0x7f;
    seal_and_write(&b, path2);
    expect_refused(path2, "a value count beyond the file");
    put_head(&b, WM, 1);
    put_object(&b, AD_CLASS_USER, 1, "CN=A," OU, "abc");
    size_t na_at = b.len - (4 + 4) - (4 + 5) - 4 - 4;   /* value, count, name "mail", nattrs */
    b.buf[na_at + 3] = 0x7f;
    seal_and_write(&b, path2);
    expect_refused(path2, "an attribute count beyond the file");
    log_set_level(LOG_NORMAL);
}

/* ---- apply -------------------------------------------------------------- */

static void apply_replaces_by_guid(void **state)
{
    (void)state;
    struct snapshot *s = directory();
    struct ad_object *b = bob();
    free(b->attrs[1].vals[0]);
    b->attrs[1].vals[0] = xstrdup("robert@corp.example");
    b->usn_changed = 99999;
    b->disabled = true;
    apply(s, b);
    assert_int_equal(snapshot_count(s), 5);
    struct seen seen = each(s);
    const struct ad_object *o = seen_dn(&seen, BOB_DN);
    expect_values(o, "mail", "robert@corp.example", NULL);
    assert_true(o->usn_changed == 99999);
    assert_true(o->disabled);
    seen_free(&seen);
    snapshot_free(s);
}

static void apply_forgets_tombstones_and_leavers(void **state)
{
    (void)state;
    struct snapshot *s = directory();
    struct ad_object *t = bob();
    t->deleted = true;
    apply(s, t);
    assert_int_equal(snapshot_count(s), 4);
    struct ad_object *l = carol();
    l->in_scope = false;
    apply(s, l);
    assert_int_equal(snapshot_count(s), 3);
    /* again, and one never kept: nothing happens */
    t = bob();
    t->deleted = true;
    apply(s, t);
    t = obj_new(AD_CLASS_USER, 99, "CN=Stranger," OU);
    t->deleted = true;
    apply(s, t);
    t = obj_new(AD_CLASS_USER, 98, "CN=Passer-by," OU);
    t->in_scope = false;
    apply(s, t);
    assert_int_equal(snapshot_count(s), 3);
    struct seen seen = each(s);
    for (size_t i = 0; i < seen.n; i++)
        if (!strcmp(seen.o[i]->dn, BOB_DN) || !strcmp(seen.o[i]->dn, CAROL_DN))
            fail_msg("%s is still handed on", seen.o[i]->dn);
    seen_free(&seen);

    /* both come back (a user restored from the recycle bin, a contact
     * moved back), with their values of now */
    struct ad_object *b = bob();
    attr(b, "extensionAttribute1", "restored", NULL);
    apply(s, b);
    apply(s, carol());
    assert_int_equal(snapshot_count(s), 5);
    seen = each(s);
    expect_values(seen_dn(&seen, BOB_DN), "extensionAttribute1", "restored", NULL);
    seen_dn(&seen, CAROL_DN);
    seen_free(&seen);

    /* saved and loaded, the forgotten are not in the file */
    t = carol();
    t->deleted = true;
    apply(s, t);
    assert_int_equal(snapshot_save(s, path, WM), 0);
    size_t len;
    char *f = slurp(path, &len);
    assert_int_equal(occurrences(f, len, CAROL_DN), 0);
    free(f);
    struct snapshot *back;
    assert_int_equal(load(path, FP, &back, NULL), 0);
    assert_int_equal(snapshot_count(back), 4);
    struct strbuf why = STRBUF_INIT;
    if (!snapshot_equal(s, back, &why))
        fail_msg("%s", why.buf);
    strbuf_release(&why);
    snapshot_free(back);
    snapshot_free(s);
}

static void apply_rename_rewrites_member_and_memberof(void **state)
{
    (void)state;
    struct snapshot *s = directory();
    /* a second group names Alice in another (ASCII) case: DNs compare
     * case-insensitively */
    struct ad_object *g = obj_new(AD_CLASS_GROUP, 6, "CN=Mixed,OU=Groups," OU);
    attr(g, "member", FAR_DN, "cn=Zoë Ångström\\, JR.,ou=Zürich,OU=USERS," OU, NULL);
    apply(s, g);

    /* Alice moves to another OU: same objectGUID, new DN */
    const char *moved = "CN=Zoë Ångström\\, Jr.,OU=Basel,OU=Users," OU;
    struct ad_object *a = alice();
    free(a->dn);
    a->dn = xstrdup(moved);
    apply(s, a);
    assert_int_equal(snapshot_count(s), 6);
    struct seen seen = each(s);
    expect_values(seen_dn(&seen, TEAM_DN), "member", moved, BOB_DN, FAR_DN, NULL);
    expect_values(seen_dn(&seen, "CN=Mixed,OU=Groups," OU), "member", FAR_DN, moved, NULL);
    seen_dn(&seen, moved);
    seen_free(&seen);

    /* Team is renamed: Everyone's member and Alice's and Bob's memberOf
     * follow. memberOf values naming a kept group are not handed on, so
     * look in the file, then make Team leave the scope to see them. */
    const char *renamed = "CN=Team Renamed,OU=Groups," OU;
    struct ad_object *t = team();
    free(t->dn);
    t->dn = xstrdup(renamed);
    apply(s, t);
    seen = each(s);
    expect_values(seen_dn(&seen, ALL_DN), "member", BOB_DN, renamed, NULL);
    seen_free(&seen);
    assert_int_equal(snapshot_save(s, path, WM), 0);
    size_t len;
    char *f = slurp(path, &len);
    assert_int_equal(occurrences(f, len, TEAM_DN), 0);
    /* its own DN, Everyone's member, Alice's and Bob's memberOf */
    assert_int_equal(occurrences(f, len, renamed), 4);
    free(f);
    t = team();
    free(t->dn);
    t->dn = xstrdup(renamed);
    t->in_scope = false;
    apply(s, t);
    seen = each(s);
    expect_values(seen_dn(&seen, moved), "memberOf", OUTSIDE_DN, renamed,
                  "CN=Another Outside,OU=Elsewhere,DC=corp,DC=example", NULL);
    expect_values(seen_dn(&seen, BOB_DN), "memberOf", renamed, NULL);
    /* Everyone is kept, and Team left the scope with no change to its links */
    expect_values(seen_dn(&seen, ALL_DN), "member", BOB_DN, renamed, NULL);
    seen_free(&seen);
    snapshot_free(s);
}

static void apply_deletion_drops_links_leaving_keeps_them(void **state)
{
    (void)state;
    struct snapshot *s = directory();
    /* Alice deleted: AD drops her from Team's member (without changing Team) */
    struct ad_object *a = alice();
    a->deleted = true;
    apply(s, a);
    /* Bob left the scope (a filter no longer matches): still in Team and Everyone */
    struct ad_object *b = bob();
    b->in_scope = false;
    apply(s, b);
    assert_int_equal(snapshot_count(s), 3);
    struct seen seen = each(s);
    expect_values(seen_dn(&seen, TEAM_DN), "member", BOB_DN, FAR_DN, NULL);
    expect_values(seen_dn(&seen, ALL_DN), "member", BOB_DN, TEAM_DN, NULL);
    seen_free(&seen);

    /* Everyone deleted: gone from Team's memberOf, which is handed on
     * (Everyone is no longer kept) */
    struct ad_object *e = everyone();
    e->deleted = true;
    apply(s, e);
    seen = each(s);
    expect_values(seen_dn(&seen, TEAM_DN), "memberOf", NULL);
    seen_free(&seen);

    /* Team leaves the scope too: Carol alone is left */
    struct ad_object *t = team();
    t->in_scope = false;
    apply(s, t);
    assert_int_equal(snapshot_count(s), 1);
    snapshot_free(s);

    /* a group that left the scope stays in its members' memberOf (now handed on) */
    s = directory();
    t = team();
    t->in_scope = false;
    apply(s, t);
    seen = each(s);
    expect_values(seen_dn(&seen, ALICE_DN), "memberOf", OUTSIDE_DN, TEAM_DN,
                  "CN=Another Outside,OU=Elsewhere,DC=corp,DC=example", NULL);
    expect_values(seen_dn(&seen, BOB_DN), "memberOf", TEAM_DN, NULL);
    seen_free(&seen);
    snapshot_free(s);
}

/* ---- DN values of every kept attribute follow their targets ------------- */

#define BOSS_DN "CN=Boss,OU=Users," OU
#define FARBOSS_DN "CN=Far Boss,OU=Elsewhere,DC=corp,DC=example"
#define TOMB(rdn, g) rdn "\\0ADEL:" g ",CN=Deleted Objects,DC=corp,DC=example"

static char *keep_dn[] = { "sAMAccountName", "member", "memberOf", "manager", "secretary", "description" };

/* Boss (id 20) manages r1 and r2 (ids 21, 22) and is their secretary too;
 * Far Boss, outside the scope (never kept), manages r3 (id 23) and is in
 * r3's secretary. */
static struct snapshot *managed(void)
{
    struct snapshot *s = snapshot_new(keep_dn, ARRAY_SIZE(keep_dn), FP);
    apply(s, obj_new(AD_CLASS_USER, 20, BOSS_DN));
    static const char *const reports[] = { "CN=r1,OU=Users," OU, "CN=r2,OU=Users," OU };
    for (unsigned i = 0; i < 2; i++) {
        struct ad_object *r = obj_new(AD_CLASS_USER, 21 + i, reports[i]);
        attr(r, "manager", BOSS_DN, NULL);
        attr(r, "secretary", BOSS_DN, FAR_DN, NULL);
        apply(s, r);
    }
    struct ad_object *r3 = obj_new(AD_CLASS_USER, 23, "CN=r3,OU=Users," OU);
    attr(r3, "manager", FARBOSS_DN, NULL);
    attr(r3, "secretary", FARBOSS_DN, NULL);
    attr(r3, "memberOf", OUTSIDE_DN, NULL);
    apply(s, r3);
    return s;
}

static void delta1(struct snapshot *s, struct ad_object *o)
{
    const struct ad_object *objs[] = { o };
    snapshot_apply_delta(s, objs, 1);
    ad_object_free(o);
}

/* A deleted manager: AD removes the value of a linked attribute (manager,
 * member, memberOf) without raising the reports' uSNChanged, and shows a
 * non-linked DN value (secretary) as the tombstone's DN. Seen in Samba 4.17:
 * ldapsearch before and after the delete. */
static void delta_manager_deleted(void **state)
{
    (void)state;
    struct snapshot *s = managed();
    struct ad_object *b = obj_new(AD_CLASS_USER, 20, TOMB("CN=Boss", "0b0b0b0b-0000-4000-8000-000000000020"));
    b->deleted = true;
    b->parent_dn = xstrdup("OU=Users," OU);
    delta1(s, b);
    assert_int_equal(snapshot_count(s), 3);
    struct seen seen = each(s);
    expect_values(seen_dn(&seen, "CN=r1,OU=Users," OU), "manager", NULL);
    expect_values(seen_dn(&seen, "CN=r2,OU=Users," OU), "manager", NULL);
    expect_values(seen_dn(&seen, "CN=r1,OU=Users," OU), "secretary",
                  TOMB("CN=Boss", "0b0b0b0b-0000-4000-8000-000000000020"), FAR_DN, NULL);
    expect_values(seen_dn(&seen, "CN=r3,OU=Users," OU), "manager", FARBOSS_DN, NULL);
    seen_free(&seen);
    snapshot_free(s);
}

/* A manager outside the scope, never kept, deleted: its old DN is the
 * tombstone's RDN without "\0ADEL:<guid>" under lastKnownParent. The same for
 * a group outside the scope in memberOf. */
static void delta_unkept_deleted(void **state)
{
    (void)state;
    struct snapshot *s = managed();
    struct ad_object *b = obj_new(AD_CLASS_USER, 30, TOMB("CN=Far Boss", "0b0b0b0b-0000-4000-8000-000000000030"));
    b->deleted = true;
    b->in_scope = false;
    b->parent_dn = xstrdup("OU=Elsewhere,DC=corp,DC=example");
    struct ad_object *g = obj_new(AD_CLASS_GROUP, 31, TOMB("CN=Outside Group", "0b0b0b0b-0000-4000-8000-000000000031"));
    g->deleted = true;
    g->in_scope = false;
    g->parent_dn = xstrdup("OU=Elsewhere,DC=corp,DC=example");
    const struct ad_object *objs[] = { b, g };
    snapshot_apply_delta(s, objs, 2);
    ad_object_free(b);
    ad_object_free(g);
    assert_int_equal(snapshot_count(s), 4);
    struct seen seen = each(s);
    const struct ad_object *r3 = seen_dn(&seen, "CN=r3,OU=Users," OU);
    expect_values(r3, "manager", NULL);
    expect_values(r3, "memberOf", NULL);
    expect_values(r3, "secretary", TOMB("CN=Far Boss", "0b0b0b0b-0000-4000-8000-000000000030"), NULL);
    expect_values(seen_dn(&seen, "CN=r1,OU=Users," OU), "manager", BOSS_DN, NULL);
    seen_free(&seen);
    snapshot_free(s);
}

/* A manager renamed, then moved out of the scope: every DN value naming it
 * (manager, secretary) takes its new DN, as AD shows it. */
static void delta_manager_renamed_and_moved(void **state)
{
    (void)state;
    struct snapshot *s = managed();
    const char *renamed = "CN=Boss (new),OU=Users," OU, *moved = "CN=Boss (new),OU=Elsewhere,DC=corp,DC=example";
    delta1(s, obj_new(AD_CLASS_USER, 20, renamed));
    struct seen seen = each(s);
    expect_values(seen_dn(&seen, "CN=r1,OU=Users," OU), "manager", renamed, NULL);
    expect_values(seen_dn(&seen, "CN=r2,OU=Users," OU), "secretary", renamed, FAR_DN, NULL);
    seen_free(&seen);
    struct ad_object *b = obj_new(AD_CLASS_USER, 20, moved);
    b->in_scope = false;
    delta1(s, b);
    assert_int_equal(snapshot_count(s), 3);
    seen = each(s);
    expect_values(seen_dn(&seen, "CN=r2,OU=Users," OU), "manager", moved, NULL);
    seen_free(&seen);
    /* and deleted out there: not kept, but its last DN is known */
    b = obj_new(AD_CLASS_USER, 20, TOMB("CN=Boss (new)", "0b0b0b0b-0000-4000-8000-000000000020"));
    b->deleted = true;
    b->in_scope = false;
    b->parent_dn = xstrdup("OU=Elsewhere,DC=corp,DC=example");
    delta1(s, b);
    seen = each(s);
    expect_values(seen_dn(&seen, "CN=r2,OU=Users," OU), "manager", NULL);
    seen_free(&seen);
    snapshot_free(s);
}

/* A tombstone whose DN lacks AD's mark says nothing of its old DN: nothing
 * is rewritten (rather than a guess). */
static void delta_tombstone_without_mark(void **state)
{
    (void)state;
    struct snapshot *s = managed();
    struct ad_object *b = obj_new(AD_CLASS_USER, 30, "CN=Far Boss,CN=Deleted Objects,DC=corp,DC=example");
    b->deleted = true;
    b->in_scope = false;
    b->parent_dn = xstrdup("OU=Elsewhere,DC=corp,DC=example");
    delta1(s, b);
    struct seen seen = each(s);
    expect_values(seen_dn(&seen, "CN=r3,OU=Users," OU), "manager", FARBOSS_DN, NULL);
    seen_free(&seen);
    snapshot_free(s);
}

/* With the schema's word: a text attribute that spells a DN is left alone,
 * and a DN attribute is linked only if the schema says so. Without it, the
 * same text is taken for a DN (the documented guess). */
static void delta_follows_schema(void **state)
{
    (void)state;
    for (int with_schema = 0; with_schema < 2; with_schema++) {
        struct snapshot *s = snapshot_new(keep_dn, ARRAY_SIZE(keep_dn), FP);
        if (with_schema) {
            snapshot_set_syntax(s, "description", SNAPSHOT_NOT_DN);
            snapshot_set_syntax(s, "secretary", SNAPSHOT_DN_LINKED);   /* as if it were */
        }
        apply(s, obj_new(AD_CLASS_USER, 20, BOSS_DN));
        struct ad_object *r = obj_new(AD_CLASS_USER, 21, "CN=r1,OU=Users," OU);
        attr(r, "description", BOSS_DN, NULL);
        attr(r, "secretary", BOSS_DN, NULL);
        apply(s, r);
        delta1(s, obj_new(AD_CLASS_USER, 20, "CN=Boss2,OU=Users," OU));
        struct seen seen = each(s);
        const struct ad_object *r1 = seen_dn(&seen, "CN=r1,OU=Users," OU);
        expect_values(r1, "description", with_schema ? BOSS_DN : "CN=Boss2,OU=Users," OU, NULL);
        expect_values(r1, "secretary", "CN=Boss2,OU=Users," OU, NULL);
        seen_free(&seen);
        struct ad_object *b = obj_new(AD_CLASS_USER, 20, TOMB("CN=Boss2", "0b0b0b0b-0000-4000-8000-000000000020"));
        b->deleted = true;
        b->parent_dn = xstrdup("OU=Users," OU);
        delta1(s, b);
        seen = each(s);
        r1 = seen_dn(&seen, "CN=r1,OU=Users," OU);
        if (with_schema)
            expect_values(r1, "secretary", NULL);
        else
            expect_values(r1, "secretary", TOMB("CN=Boss2", "0b0b0b0b-0000-4000-8000-000000000020"), NULL);
        seen_free(&seen);
        snapshot_free(s);
    }
}

/* A deleted object reanimated (MS-ADTS 3.1.1.5.3.7.3; Samba 4.17 keeps its
 * objectGUID): a value without a link that named its tombstone names it
 * again at its new DN, found by the objectGUID in the tombstone's DN; also
 * after the copy went through its file, and for one never kept (Far Boss). */
static void delta_reanimated_by_guid(void **state)
{
    (void)state;
    struct snapshot *s = managed();
    char guid[37], far[37], tomb[256], fartomb[256];
    unsigned char g[16];
    make_guid(20, g);
    ad_guid_to_text(g, guid);
    make_guid(30, g);
    ad_guid_to_text(g, far);
    snprintf(tomb, sizeof(tomb), "CN=Boss\\0ADEL:%s,CN=Deleted Objects,DC=corp,DC=example", guid);
    snprintf(fartomb, sizeof(fartomb), "CN=Far Boss\\0ADEL:%s,CN=Deleted Objects,DC=corp,DC=example", far);
    struct ad_object *b = obj_new(AD_CLASS_USER, 20, tomb);
    b->deleted = true;
    b->parent_dn = xstrdup("OU=Users," OU);
    struct ad_object *fb = obj_new(AD_CLASS_USER, 30, fartomb);
    fb->deleted = true;
    fb->in_scope = false;
    fb->parent_dn = xstrdup("OU=Elsewhere,DC=corp,DC=example");
    const struct ad_object *del[] = { b, fb };
    snapshot_apply_delta(s, del, 2);
    ad_object_free(b);
    ad_object_free(fb);
    assert_int_equal(snapshot_save(s, path, WM), 0);
    snapshot_free(s);
    s = snapshot_new(keep_dn, ARRAY_SIZE(keep_dn), FP);
    const char *wm;
    assert_int_equal(snapshot_load(s, path, &wm), 0);
    struct seen seen = each(s);
    expect_values(seen_dn(&seen, "CN=r1,OU=Users," OU), "secretary", tomb, FAR_DN, NULL);
    expect_values(seen_dn(&seen, "CN=r3,OU=Users," OU), "secretary", fartomb, NULL);
    seen_free(&seen);

    /* both back, elsewhere, Far Boss still outside the scope */
    struct ad_object *back = obj_new(AD_CLASS_USER, 20, "CN=Boss Back,OU=Users," OU);
    back->restored = true;
    struct ad_object *farback = obj_new(AD_CLASS_USER, 30, "CN=Far Boss,OU=Back,DC=corp,DC=example");
    farback->restored = true;
    farback->in_scope = false;
    const struct ad_object *again[] = { back, farback };
    snapshot_apply_delta(s, again, 2);
    ad_object_free(back);
    ad_object_free(farback);
    seen = each(s);
    expect_values(seen_dn(&seen, "CN=r1,OU=Users," OU), "secretary", "CN=Boss Back,OU=Users," OU, FAR_DN, NULL);
    expect_values(seen_dn(&seen, "CN=r2,OU=Users," OU), "secretary", "CN=Boss Back,OU=Users," OU, FAR_DN, NULL);
    expect_values(seen_dn(&seen, "CN=r3,OU=Users," OU), "secretary", "CN=Far Boss,OU=Back,DC=corp,DC=example", NULL);
    expect_values(seen_dn(&seen, "CN=r1,OU=Users," OU), "manager", NULL);
    seen_free(&seen);
    snapshot_free(s);
}

/* A reanimated object the copy links to: AD dropped those links when it was
 * deleted, and no delta says when that was. Named unless every object that
 * links to it comes with the delta, or it was never deleted. */
static void delta_restored_named(void **state)
{
    (void)state;
    struct snapshot *s = managed();
    struct ad_object *b = obj_new(AD_CLASS_USER, 20, BOSS_DN);
    const struct ad_object *one[] = { b };
    assert_null(snapshot_restored_named(s, one, 1));   /* changed, never deleted */
    b->restored = true;
    const char *hit = snapshot_restored_named(s, one, 1);
    assert_non_null(hit);
    assert_string_equal(hit, BOSS_DN);
    /* reanimated elsewhere: the copy names its old DN */
    free(b->dn);
    b->dn = xstrdup("CN=Boss,OU=Back," OU);
    hit = snapshot_restored_named(s, one, 1);
    assert_non_null(hit);
    assert_string_equal(hit, "CN=Boss,OU=Back," OU);
    /* r1 and r2, its reports, come with the delta (their values are now) */
    struct ad_object *r1 = obj_new(AD_CLASS_USER, 21, "CN=r1,OU=Users," OU);
    struct ad_object *r2 = obj_new(AD_CLASS_USER, 22, "CN=r2,OU=Users," OU);
    const struct ad_object *all[] = { r1, b, r2 };
    assert_null(snapshot_restored_named(s, all, 3));
    /* Far Boss, never kept, reanimated where it was: r3 links to it */
    struct ad_object *fb = obj_new(AD_CLASS_USER, 30, FARBOSS_DN);
    fb->restored = true;
    fb->in_scope = false;
    const struct ad_object *far[] = { fb };
    hit = snapshot_restored_named(s, far, 1);
    assert_non_null(hit);
    assert_string_equal(hit, FARBOSS_DN);
    ad_object_free(b);
    ad_object_free(r1);
    ad_object_free(r2);
    ad_object_free(fb);
    snapshot_free(s);
}

static bool names_has(const char **dns, size_t n, const char *dn)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(dns[i], dn))
            return true;
    return false;
}

/* What a delta cannot tell: an object never kept, renamed outside the scope.
 * The DNs to look up are those the copy names in linked attributes and
 * knows nothing of; none when every object of the delta is known. */
static void outside_names(void **state)
{
    (void)state;
    struct snapshot *s = managed();
    const char **dns;
    /* a kept object changed, a tombstone never kept: nothing to look up */
    struct ad_object *r1 = obj_new(AD_CLASS_USER, 21, "CN=r1,OU=Users," OU);
    struct ad_object *t = obj_new(AD_CLASS_USER, 40, TOMB("CN=Gone", "0b0b0b0b-0000-4000-8000-000000000040"));
    t->deleted = true;
    t->in_scope = false;
    t->parent_dn = xstrdup("OU=Elsewhere,DC=corp,DC=example");
    const struct ad_object *objs[] = { r1, t, NULL };
    assert_int_equal(snapshot_outside_names(s, objs, 2, &dns), 0);
    assert_null(dns);
    /* one never kept changed outside the scope: Far Boss (manager) and the
     * group in memberOf; not secretary (not linked), not the kept Boss */
    struct ad_object *far = obj_new(AD_CLASS_USER, 41, "CN=Someone,OU=Elsewhere,DC=corp,DC=example");
    far->in_scope = false;
    objs[2] = far;
    size_t n = snapshot_outside_names(s, objs, 3, &dns);
    assert_int_equal(n, 2);
    assert_true(names_has(dns, n, FARBOSS_DN));
    assert_true(names_has(dns, n, OUTSIDE_DN));
    free(dns);
    /* the delta gives Far Boss's DN as of now (a change to it, not a rename) */
    free(far->dn);
    far->dn = xstrdup(FARBOSS_DN);
    n = snapshot_outside_names(s, objs, 3, &dns);
    assert_int_equal(n, 1);
    assert_true(names_has(dns, n, OUTSIDE_DN));
    free(dns);
    /* secretary, of DN syntax as the schema says: Far Member (r1's) too */
    snapshot_set_syntax(s, "secretary", SNAPSHOT_DN);
    n = snapshot_outside_names(s, objs, 3, &dns);
    assert_int_equal(n, 2);
    assert_true(names_has(dns, n, FAR_DN));
    free(dns);
    ad_object_free(r1);
    ad_object_free(t);
    ad_object_free(far);
    snapshot_free(s);
}

/* A delta applied in the order ldap_pull hands it on must leave what a full
 * read gives: the full read is built here as its own snapshot. */
static void expect_full_read(const struct snapshot *kept, const struct snapshot *full)
{
    struct strbuf why = STRBUF_INIT;
    if (!snapshot_equal(kept, full, &why))
        fail_msg("the kept copy differs from a full read: %s", why.buf);
    strbuf_release(&why);
}

/* A user deleted and another created at the same DN, added to Team, within
 * one delta. The pull hands on the changed live objects first (the new
 * user, Team with its member values of now), then the tombstone: applied
 * one by one, the tombstone would take the new user's DN out of Team again. */
static void delta_recreated_at_same_dn(void **state)
{
    (void)state;
    struct snapshot *s = directory();
    struct ad_object *fresh = obj_new(AD_CLASS_USER, 50, ALICE_DN);
    attr(fresh, "memberOf", TEAM_DN, NULL);
    struct ad_object *t = team();   /* AD: the old Alice's link gone, the new one's added */
    struct ad_object *gone = alice();
    gone->deleted = true;
    /* in the order the pull hands them on: live objects, then tombstones */
    const struct ad_object *delta[] = { fresh, t, gone };
    snapshot_apply_delta(s, delta, 3);
    ad_object_free(gone);

    struct snapshot *full = snap_new();
    snapshot_apply(full, fresh);
    apply(full, bob());
    apply(full, carol());
    snapshot_apply(full, t);
    apply(full, everyone());
    expect_full_read(s, full);
    ad_object_free(fresh);
    ad_object_free(t);
    snapshot_free(full);
    snapshot_free(s);
}

/* A user renamed, and another created at its old DN and added to Team,
 * within one delta. Applied one by one with Team first, the rename would
 * rewrite Team's current value for the new user into the renamed one's DN:
 * the new user in no group, the renamed one twice. */
static void delta_rename_then_new_at_old_dn(void **state)
{
    (void)state;
    const char *moved = "CN=Zoë Ångström\\, Jr.,OU=Basel,OU=Users," OU;
    struct snapshot *s = directory();
    struct ad_object *t = obj_new(AD_CLASS_GROUP, 4, TEAM_DN);
    t->sid = xstrdup("S-1-5-21-3623811015-3361044348-30300820-2001");
    attr(t, "sAMAccountName", "team", NULL);
    attr(t, "member", ALICE_DN, BOB_DN, FAR_DN, moved, NULL);
    attr(t, "memberOf", ALL_DN, NULL);
    struct ad_object *fresh = obj_new(AD_CLASS_USER, 50, ALICE_DN);
    attr(fresh, "memberOf", TEAM_DN, NULL);
    struct ad_object *a = alice();
    free(a->dn);
    a->dn = xstrdup(moved);
    const struct ad_object *delta[] = { t, fresh, a };
    snapshot_apply_delta(s, delta, 3);

    struct snapshot *full = snap_new();
    snapshot_apply(full, a);
    apply(full, bob());
    apply(full, carol());
    snapshot_apply(full, t);
    apply(full, everyone());
    snapshot_apply(full, fresh);
    expect_full_read(s, full);
    ad_object_free(a);
    ad_object_free(fresh);
    ad_object_free(t);
    snapshot_free(full);
    snapshot_free(s);
}

/* A member of Team moved out of the base DNs, then back elsewhere. The pull
 * hands it on with in_scope false and its DN of now; Team's member value
 * follows the move in AD (a link), and must in the kept copy too, or the
 * user, back in scope, would be in no group. */
static void delta_member_moved_out_and_back(void **state)
{
    (void)state;
    const char *out = "CN=Bob,OU=Elsewhere,DC=corp,DC=example";
    const char *back = "CN=Bob,OU=Sales," OU;
    struct snapshot *s = directory();
    struct ad_object *b = bob();
    free(b->dn);
    b->dn = xstrdup(out);
    b->in_scope = false;
    apply(s, b);
    struct seen seen = each(s);
    expect_values(seen_dn(&seen, TEAM_DN), "member", ALICE_DN, out, FAR_DN, NULL);
    seen_free(&seen);

    b = bob();
    free(b->dn);
    b->dn = xstrdup(back);
    apply(s, b);
    seen = each(s);
    expect_values(seen_dn(&seen, TEAM_DN), "member", ALICE_DN, back, FAR_DN, NULL);
    expect_values(seen_dn(&seen, ALL_DN), "member", back, TEAM_DN, NULL);
    seen_free(&seen);
    snapshot_free(s);
}

/* ---- each --------------------------------------------------------------- */

static int stop_at_third(const struct ad_object *obj, void *ctx)
{
    (void)obj;
    return ++*(int *)ctx == 3 ? 42 : 0;
}

static void each_leaves_out_memberof_of_kept_groups(void **state)
{
    (void)state;
    struct snapshot *s = snap_new();
    struct ad_object *u = obj_new(AD_CLASS_USER, 10, "CN=U," OU);
    /* kept groups named in another case, groups not kept, in this order */
    attr(u, "memberOf", "CN=Not Kept 1," OU, "cn=kept a," OU, "CN=Not Kept 2," OU, "CN=Kept B," OU,
         "CN=Not Kept 3," OU, NULL);
    apply(s, u);
    apply(s, obj_new(AD_CLASS_GROUP, 11, "CN=Kept A," OU));
    apply(s, obj_new(AD_CLASS_GROUP, 12, "CN=Kept B," OU));
    /* a user of that DN is no group: its DN is not left out */
    struct ad_object *v = obj_new(AD_CLASS_USER, 13, "CN=V," OU);
    attr(v, "memberOf", "CN=U," OU, "CN=Kept B," OU, NULL);
    apply(s, v);

    for (int round = 0; round < 2; round++) {
        struct seen seen = each(s);
        assert_int_equal(seen.n, 4);
        assert_string_equal(seen.o[0]->dn, "CN=U," OU);
        assert_string_equal(seen.o[1]->dn, "CN=Kept A," OU);
        assert_string_equal(seen.o[2]->dn, "CN=Kept B," OU);
        assert_string_equal(seen.o[3]->dn, "CN=V," OU);
        expect_values(seen.o[0], "memberOf", "CN=Not Kept 1," OU, "CN=Not Kept 2," OU,
                      "CN=Not Kept 3," OU, NULL);
        expect_values(seen.o[3], "memberOf", "CN=U," OU, NULL);
        seen_free(&seen);
    }
    /* the view did not change what is kept: the values are all in the file */
    assert_int_equal(snapshot_save(s, path, WM), 0);
    size_t len;
    char *f = slurp(path, &len);
    assert_int_equal(occurrences(f, len, "cn=kept a," OU), 1);
    assert_int_equal(occurrences(f, len, "CN=Kept B," OU), 3);
    free(f);

    /* Kept B leaves: its DN is handed on again */
    struct ad_object *g = obj_new(AD_CLASS_GROUP, 12, "CN=Kept B," OU);
    g->in_scope = false;
    apply(s, g);
    struct seen seen = each(s);
    expect_values(seen.o[0], "memberOf", "CN=Not Kept 1," OU, "CN=Not Kept 2," OU, "CN=Kept B," OU,
                  "CN=Not Kept 3," OU, NULL);
    seen_free(&seen);

    int n = 0;
    assert_int_equal(snapshot_each(s, stop_at_third, &n), 42);
    assert_int_equal(n, 3);
    snapshot_free(s);
}

/* snapshot_set_member_of: for the groups named, memberOf as the groups'
 * member values say now; the other values of memberOf stay, in any case */
static void set_member_of(void **state)
{
    (void)state;
    struct snapshot *s = snap_new();
    struct ad_object *u = obj_new(AD_CLASS_USER, 20, "CN=U," OU);
    attr(u, "memberOf", "CN=Left," OU, "CN=Other," OU, NULL);
    apply(s, u);
    struct ad_object *v = obj_new(AD_CLASS_USER, 21, "CN=V," OU);   /* no memberOf yet */
    attr(v, "mail", "v@example.test", NULL);
    apply(s, v);
    struct ad_object *w = obj_new(AD_CLASS_USER, 22, "CN=W," OU);
    attr(w, "memberOf", "cn=left," OU, NULL);
    apply(s, w);

    /* AD now: V is a member of Left and Joined; U and W of none of them;
     * X is no object of the copy; Gone was deleted since */
    struct ad_object *left = obj_new(AD_CLASS_GROUP, 30, "CN=Left," OU);
    attr(left, "member", "cn=v," OU, "CN=X," OU, NULL);
    struct ad_object *joined = obj_new(AD_CLASS_GROUP, 31, "CN=Joined," OU);
    attr(joined, "member", "CN=V," OU, NULL);
    const struct ad_object *now[] = { left, joined };
    const char *groups[] = { "CN=Left," OU, "CN=Joined," OU, "CN=Gone," OU };
    snapshot_set_member_of(s, groups, 3, now, 2);
    ad_object_free(left);
    ad_object_free(joined);

    struct seen seen = each(s);
    assert_int_equal(seen.n, 3);
    expect_values(seen_dn(&seen, "CN=U," OU), "memberOf", "CN=Other," OU, NULL);
    expect_values(seen_dn(&seen, "CN=V," OU), "memberOf", "CN=Left," OU, "CN=Joined," OU, NULL);
    expect_values(seen_dn(&seen, "CN=V," OU), "mail", "v@example.test", NULL);
    expect_values(seen_dn(&seen, "CN=W," OU), "memberOf", NULL);
    seen_free(&seen);
    /* and so in the file */
    assert_int_equal(snapshot_save(s, path, WM), 0);
    struct snapshot *t = snap_new();
    const char *wm;
    assert_int_equal(snapshot_load(t, path, &wm), 0);
    struct strbuf why = STRBUF_INIT;
    assert_true(snapshot_equal(s, t, &why));
    strbuf_release(&why);
    snapshot_free(t);
    snapshot_free(s);
}

static void each_order_is_stable(void **state)
{
    (void)state;
    struct snapshot *s = snap_new();
    char dn[64];
    for (unsigned i = 0; i < 3000; i++) {   /* enough to grow the index a few times */
        snprintf(dn, sizeof(dn), "CN=User %u," OU, i);
        apply(s, obj_new(AD_CLASS_USER, 100 + i, dn));
    }
    /* replaced, removed and re-added: each keeps its place */
    snprintf(dn, sizeof(dn), "CN=User %u," OU, 17u);
    struct ad_object *o = obj_new(AD_CLASS_USER, 117, dn);
    attr(o, "mail", "new@corp.example", NULL);
    apply(s, o);
    snprintf(dn, sizeof(dn), "CN=User %u," OU, 5u);
    o = obj_new(AD_CLASS_USER, 105, dn);
    o->deleted = true;
    apply(s, o);
    apply(s, obj_new(AD_CLASS_USER, 105, dn));
    snprintf(dn, sizeof(dn), "CN=User %u," OU, 9u);
    o = obj_new(AD_CLASS_USER, 109, dn);
    o->deleted = true;
    apply(s, o);
    assert_int_equal(snapshot_count(s), 2999);

    struct seen a = each(s), b = each(s);
    assert_int_equal(a.n, 2999);
    for (size_t i = 0, want = 0; i < a.n; i++, want++) {
        if (want == 9)
            want++;
        snprintf(dn, sizeof(dn), "CN=User %zu," OU, want);
        assert_string_equal(a.o[i]->dn, dn);
        assert_string_equal(b.o[i]->dn, dn);
    }
    /* the loaded copy in the same order */
    assert_int_equal(snapshot_save(s, path, WM), 0);
    struct snapshot *back;
    assert_int_equal(load(path, FP, &back, NULL), 0);
    struct seen c = each(back);
    assert_int_equal(c.n, a.n);
    for (size_t i = 0; i < a.n; i++)
        assert_string_equal(a.o[i]->dn, c.o[i]->dn);
    seen_free(&a);
    seen_free(&b);
    seen_free(&c);
    snapshot_free(back);
    snapshot_free(s);
}

/* ---- equal -------------------------------------------------------------- */

static void expect_differ(const struct snapshot *a, const struct snapshot *b, const char *words)
{
    struct strbuf why = STRBUF_INIT;
    if (snapshot_equal(a, b, &why))
        fail_msg("equal, though %s", words);
    if (!strstr(why.buf, words))
        fail_msg("why = \"%s\", which does not say \"%s\"", why.buf, words);
    strbuf_release(&why);
}

static void equal_detects_differences(void **state)
{
    (void)state;
    struct snapshot *a = directory();
    struct strbuf why = STRBUF_INIT;

    /* the same objects in another order, multi-valued attributes in another order */
    struct snapshot *b = snap_new();
    apply(b, everyone());
    struct ad_object *t = team();
    char *v0 = t->attrs[1].vals[0];
    t->attrs[1].vals[0] = t->attrs[1].vals[2];
    t->attrs[1].vals[2] = v0;
    apply(b, t);
    apply(b, carol());
    struct ad_object *al = alice();
    for (size_t k = 0; k < al->nattrs; k++)
        if (!strcmp(al->attrs[k].name, "memberOf")) {
            v0 = al->attrs[k].vals[0];
            al->attrs[k].vals[0] = al->attrs[k].vals[2];
            al->attrs[k].vals[2] = v0;
        }
    apply(b, al);
    apply(b, bob());
    if (!snapshot_equal(a, b, &why) || !snapshot_equal(b, a, &why))
        fail_msg("%s", why.buf);
    assert_true(snapshot_equal(a, a, &why));
    snapshot_free(b);

    /* a differing value */
    b = directory();
    struct ad_object *x = bob();
    free(x->attrs[1].vals[0]);
    x->attrs[1].vals[0] = xstrdup("bob2@corp.example");
    apply(b, x);
    expect_differ(a, b, BOB_DN ": MAIL differs");
    expect_differ(b, a, BOB_DN ": MAIL differs");
    snapshot_free(b);

    /* a value more, in a multi-valued attribute */
    b = directory();
    x = obj_new(AD_CLASS_GROUP, 4, TEAM_DN);
    x->sid = xstrdup("S-1-5-21-3623811015-3361044348-30300820-2001");
    attr(x, "sAMAccountName", "team", NULL);
    attr(x, "member", ALICE_DN, BOB_DN, FAR_DN, "CN=Extra," OU, NULL);
    attr(x, "memberOf", ALL_DN, NULL);
    apply(b, x);
    expect_differ(a, b, TEAM_DN ": member differs");
    snapshot_free(b);

    /* an attribute present in one only */
    b = directory();
    x = carol();
    attr(x, "displayName", "Carol", NULL);
    apply(b, x);
    expect_differ(a, b, CAROL_DN ": displayName differs");
    expect_differ(b, a, CAROL_DN ": displayName differs");
    snapshot_free(b);

    /* memberOf naming a kept group is compared as each hands it on */
    b = directory();
    x = bob();
    free(x->attrs[2].vals[1]);
    x->attrs[2].vals[1] = xstrdup(TEAM_DN);   /* Team twice, Everyone not named */
    apply(b, x);
    assert_true(snapshot_equal(a, b, &why));
    snapshot_free(b);

    /* the scalar fields */
    static const char *const what[] = { "class or userAccountControl", "class or userAccountControl",
                                        "mS-DS-ConsistencyGuid", "mS-DS-ConsistencyGuid", "objectSid",
                                        "objectSid", "uSNChanged or whenChanged",
                                        "uSNChanged or whenChanged", "class or userAccountControl" };
    for (int c = 0; c < (int)ARRAY_SIZE(what); c++) {
        b = directory();
        x = bob();
        switch (c) {
        case 0: x->uac = 0x202; break;
        case 1: x->disabled = true; break;
        case 2: x->consistency_guid[15] = 1; break;
        case 3: x->has_consistency_guid = true; break;
        case 4: free(x->sid); x->sid = NULL; break;
        case 5: x->sid[strlen(x->sid) - 1] = '9'; break;
        case 6: x->usn_changed++; break;
        case 7: free(x->when_changed); x->when_changed = xstrdup("20261128010531.0Z"); break;
        case 8: x->cls = AD_CLASS_CONTACT; break;
        }
        apply(b, x);
        char words[160];
        snprintf(words, sizeof(words), "%s: %s differs", BOB_DN, what[c]);
        expect_differ(a, b, words);
        snapshot_free(b);
    }

    /* a DN */
    b = directory();
    x = carol();
    free(x->dn);
    x->dn = xstrdup("CN=Carol,OU=Moved," OU);
    apply(b, x);
    expect_differ(a, b, CAROL_DN ": the DN differs");
    snapshot_free(b);

    /* an object missing, another in its place (same count) */
    b = directory();
    x = carol();
    x->deleted = true;
    apply(b, x);
    apply(b, obj_new(AD_CLASS_CONTACT, 33, CAROL_DN));
    expect_differ(a, b, CAROL_DN " is kept only in the first");
    snapshot_free(b);

    /* a differing count */
    b = directory();
    apply(b, obj_new(AD_CLASS_USER, 34, "CN=Dave," OU));
    expect_differ(a, b, "5 objects against 6");
    expect_differ(b, a, "6 objects against 5");
    snapshot_free(b);
    b = snap_new();
    expect_differ(a, b, "5 objects against 0");
    snapshot_free(b);

    strbuf_release(&why);
    snapshot_free(a);
}

/* ---- fingerprint -------------------------------------------------------- */

static void fingerprint(void **state)
{
    (void)state;
    char *bases[] = { OU, "OU=Contoso Defense,DC=corp,DC=example" };
    char *excl[] = { "OU=Service Accounts," OU };
    struct scope sc = { .base_dns = bases, .nbase_dns = 2, .exclude_ous = excl, .nexclude_ous = 1,
                        .classes = { true, true, true } };
    struct strbuf a = STRBUF_INIT, b = STRBUF_INIT;
    snapshot_fingerprint(&sc, keep, ARRAY_SIZE(keep), &a);
    assert_int_equal(a.len, 64);
    assert_int_equal(strspn(a.buf, "0123456789abcdef"), 64);
    /* the attributes in another order: the same */
    char *rev[ARRAY_SIZE(keep)];
    for (size_t i = 0; i < ARRAY_SIZE(keep); i++)
        rev[i] = keep[ARRAY_SIZE(keep) - 1 - i];
    snapshot_fingerprint(&sc, rev, ARRAY_SIZE(rev), &b);
    assert_string_equal(a.buf, b.buf);
    /* one attribute fewer, another filter, another class set, another base: not */
    strbuf_reset(&b);
    snapshot_fingerprint(&sc, keep, ARRAY_SIZE(keep) - 1, &b);
    assert_string_not_equal(a.buf, b.buf);
    strbuf_reset(&b);
    sc.filter = "(!(extensionAttribute15=nosync))";
    snapshot_fingerprint(&sc, keep, ARRAY_SIZE(keep), &b);
    assert_string_not_equal(a.buf, b.buf);
    sc.filter = NULL;
    strbuf_reset(&b);
    sc.classes[AD_CLASS_CONTACT] = false;
    snapshot_fingerprint(&sc, keep, ARRAY_SIZE(keep), &b);
    assert_string_not_equal(a.buf, b.buf);
    sc.classes[AD_CLASS_CONTACT] = true;
    strbuf_reset(&b);
    sc.nbase_dns = 1;
    snapshot_fingerprint(&sc, keep, ARRAY_SIZE(keep), &b);
    assert_string_not_equal(a.buf, b.buf);
    strbuf_release(&a);
    strbuf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(set_member_of, setup, teardown),
        cmocka_unit_test_setup_teardown(delta_reanimated_by_guid, setup, teardown),
        cmocka_unit_test(delta_restored_named),
        cmocka_unit_test_setup_teardown(round_trip_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(load_missing_and_other_fingerprint, setup, teardown),
        cmocka_unit_test_setup_teardown(load_every_byte_flipped, setup, teardown),
        cmocka_unit_test_setup_teardown(load_truncated_and_extended, setup, teardown),
        cmocka_unit_test_setup_teardown(load_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(load_malformed_with_valid_checksum, setup, teardown),
        cmocka_unit_test(apply_replaces_by_guid),
        cmocka_unit_test_setup_teardown(apply_forgets_tombstones_and_leavers, setup, teardown),
        cmocka_unit_test_setup_teardown(apply_rename_rewrites_member_and_memberof, setup, teardown),
        cmocka_unit_test(apply_deletion_drops_links_leaving_keeps_them),
        cmocka_unit_test(delta_manager_deleted),
        cmocka_unit_test(delta_unkept_deleted),
        cmocka_unit_test(delta_manager_renamed_and_moved),
        cmocka_unit_test(delta_tombstone_without_mark),
        cmocka_unit_test(delta_follows_schema),
        cmocka_unit_test(outside_names),
        cmocka_unit_test(delta_recreated_at_same_dn),
        cmocka_unit_test(delta_rename_then_new_at_old_dn),
        cmocka_unit_test(delta_member_moved_out_and_back),
        cmocka_unit_test_setup_teardown(each_leaves_out_memberof_of_kept_groups, setup, teardown),
        cmocka_unit_test_setup_teardown(each_order_is_stable, setup, teardown),
        cmocka_unit_test(equal_detects_differences),
        cmocka_unit_test(fingerprint),
    };
    return cmocka_run_group_tests_name("snapshot", tests, NULL, NULL);
}
