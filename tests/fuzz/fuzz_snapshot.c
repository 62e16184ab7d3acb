/* fuzz_snapshot - libFuzzer target for the loader of the copy of AD kept
 * between runs (snapshot_load).
 *
 * Input: one byte that says how the rest becomes the file, then the bytes.
 *   even: the rest followed by its SHA-256, as snapshot_save ends a file.
 *         Without this the checksum refuses nearly every mutation before
 *         the parser sees it, and the parser would go unfuzzed.
 *   odd:  the rest as it is (the magic and the checksum are checked).
 * The file is loaded with a fixed fingerprint. Must never crash, leak or
 * read out of bounds (ASan, UBSan). When it loads: every object is handed
 * on (each string read through), saved again and loaded back, which must
 * give the same objects (snapshot_equal); then a tombstone and a rename are
 * applied to the loaded copy, as a delta would, and it is handed on again.
 *
 * Seeds: with FUZZ_SNAPSHOT_SEEDS=DIR set, LLVMFuzzerInitialize writes
 * valid files made through the API into DIR (tests/fuzz/run-snapshot.sh
 * does this before it fuzzes).
 *
 * Run with tests/fuzz/run-snapshot.sh SECONDS (not part of make check). */
#include "compat.h"

#include <unistd.h>

#include <openssl/evp.h>

#include "log.h"
#include "snapshot.h"
#include "util.h"

#define FINGERPRINT "fuzz-fingerprint"

static char *keep[] = { "sAMAccountName", "userPrincipalName", "mail", "member", "memberOf",
                        "displayName" };

static char file_path[64], resave_path[64];

static void write_file(const char *p, const void *data, size_t len)
{
    unlink(p);
    FILE *f = fopen(p, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f))
        abort();
}

static struct snapshot *snap_new(void)
{
    return snapshot_new(keep, ARRAY_SIZE(keep), FINGERPRINT);
}

/* Read every byte of every string, so that ASan sees a string that runs off
 * the buffer. */
static size_t sink;

static int touch(const struct ad_object *o, void *ctx)
{
    (void)ctx;
    sink += strlen(o->dn) + (o->sid ? strlen(o->sid) : 0) + (o->when_changed ? strlen(o->when_changed) : 0);
    for (size_t i = 0; i < o->nattrs; i++) {
        sink += strlen(o->attrs[i].name);
        for (size_t v = 0; v < o->attrs[i].nvals; v++)
            sink += strlen(o->attrs[i].vals[v]);
    }
    return 0;
}

/* The first object handed on, copied. */
static int first(const struct ad_object *o, void *ctx)
{
    *(struct ad_object **)ctx = ad_object_copy(o);
    return 1;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool raw = data[0] & 1;
    data++;
    size--;
    struct strbuf file = STRBUF_INIT;
    strbuf_add(&file, data, size);
    if (!raw) {
        unsigned char md[32];
        unsigned int len = 0;
        if (EVP_Digest(data, size, md, &len, EVP_sha256(), NULL) != 1)
            abort();
        strbuf_add(&file, md, 32);
    }
    write_file(file_path, file.buf ? file.buf : "", file.len);
    strbuf_release(&file);

    struct snapshot *s = snap_new();
    const char *wm = NULL;
    int rc = snapshot_load(s, file_path, &wm);
    if (rc != 0 && snapshot_count(s) != 0)
        abort();   /* a refused file keeps nothing */
    snapshot_each(s, touch, NULL);
    if (rc == 0) {
        if (!wm)
            abort();
        /* what loads saves and loads back the same */
        if (snapshot_save(s, resave_path, wm))
            abort();
        struct snapshot *back = snap_new();
        const char *wm2 = NULL;
        if (snapshot_load(back, resave_path, &wm2) || strcmp(wm, wm2))
            abort();
        struct strbuf why = STRBUF_INIT;
        if (!snapshot_equal(s, back, &why) || !snapshot_equal(back, s, &why)) {
            fprintf(stderr, "fuzz_snapshot: a loaded file saved and loaded again differs: %s\n", why.buf);
            abort();
        }
        strbuf_release(&why);
        snapshot_free(back);

        /* a delta on the loaded copy: the first object renamed, then deleted */
        struct ad_object *o = NULL;
        snapshot_each(s, first, &o);
        if (o) {
            char *dn = o->dn;
            o->dn = xasprintf("CN=Renamed,%s", dn);
            snapshot_apply(s, o);
            snapshot_each(s, touch, NULL);
            o->deleted = true;
            snapshot_apply(s, o);
            snapshot_each(s, touch, NULL);
            free(dn);
            ad_object_free(o);
        }
    }
    snapshot_free(s);
    return 0;
}

/* ---- seeds ---------------------------------------------------------------- */

static struct ad_object *obj(enum ad_class cls, unsigned id, const char *dn)
{
    struct ad_object *o = xcalloc(1, sizeof(*o));
    o->cls = cls;
    o->dn = xstrdup(dn);
    uint64_t x = 0x9e3779b97f4a7c15ull * (id + 1);
    memcpy(o->guid, &x, 8);
    x *= 0xbf58476d1ce4e5b9ull;
    memcpy(o->guid + 8, &x, 8);
    o->in_scope = true;
    o->usn_changed = 4000 + id;
    o->when_changed = xstrdup("20261128010530.0Z");
    return o;
}

static void attr(struct ad_object *o, const char *name, const char *v1, const char *v2)
{
    o->attrs = xrealloc(o->attrs, (o->nattrs + 1) * sizeof(*o->attrs));
    struct ad_attr *a = &o->attrs[o->nattrs++];
    a->name = xstrdup(name);
    a->vals = xcalloc(3, sizeof(*a->vals));
    a->nvals = 0;
    if (v1)
        a->vals[a->nvals++] = xstrdup(v1);
    if (v2)
        a->vals[a->nvals++] = xstrdup(v2);
}

static void put(struct snapshot *s, struct ad_object *o)
{
    snapshot_apply(s, o);
    ad_object_free(o);
}

/* Save s, then write it as a seed: the mode byte and the file without its
 * checksum (even), or the whole file (odd). */
static void seed(const struct snapshot *s, const char *dir, const char *name, bool raw)
{
    if (snapshot_save(s, resave_path, "usn:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0:123456"))
        abort();
    FILE *f = fopen(resave_path, "rb");
    if (!f)
        abort();
    struct strbuf sb = STRBUF_INIT;
    strbuf_addch(&sb, raw ? 1 : 0);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        strbuf_add(&sb, buf, n);
    fclose(f);
    if (!raw)
        sb.len -= 32;
    char *p = xasprintf("%s/%s", dir, name);
    write_file(p, sb.buf, sb.len);
    free(p);
    strbuf_release(&sb);
}

static void write_seeds(const char *dir)
{
#define OU "OU=Contoso,DC=corp,DC=example"
    struct snapshot *s = snap_new();
    seed(s, dir, "empty", false);

    struct ad_object *o = obj(AD_CLASS_USER, 1, "CN=Zoë Ångström\\, Jr.,OU=Zürich," OU);
    o->sid = xstrdup("S-1-5-21-3623811015-3361044348-30300820-1104");
    o->uac = 0x202;
    o->disabled = true;
    o->has_consistency_guid = true;
    memset(o->consistency_guid, 0xa5, 16);
    attr(o, "sAMAccountName", "zoe", NULL);
    attr(o, "userPrincipalName", "zoë@corp.example", NULL);
    attr(o, "mail", "zoe@corp.example", NULL);
    attr(o, "displayName", "Zoë Ångström 日本語", NULL);
    attr(o, "memberOf", "CN=Team," OU, "CN=Outside,DC=corp,DC=example");
    put(s, o);
    seed(s, dir, "one-user", false);

    o = obj(AD_CLASS_CONTACT, 2, "CN=Carol," OU);
    o->bad_consistency_guid = true;
    free(o->when_changed);
    o->when_changed = NULL;
    attr(o, "mail", "carol@partner.example", NULL);
    put(s, o);
    o = obj(AD_CLASS_GROUP, 3, "CN=Team," OU);
    attr(o, "member", "CN=Zoë Ångström\\, Jr.,OU=Zürich," OU, "CN=Bob," OU);
    attr(o, "memberOf", "CN=All," OU, NULL);
    put(s, o);
    o = obj(AD_CLASS_GROUP, 4, "CN=All," OU);
    attr(o, "member", "CN=Team," OU, NULL);
    attr(o, "displayName", NULL, NULL);   /* no values */
    put(s, o);
    o = obj(AD_CLASS_USER, 5, "CN=Bob," OU);
    attr(o, "memberOf", "CN=Team," OU, NULL);
    put(s, o);
    seed(s, dir, "directory", false);
    seed(s, dir, "directory-raw", true);
    snapshot_free(s);
#undef OU
}

static void remove_files(void)
{
    unlink(file_path);
    unlink(resave_path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_set_level(LOG_QUIET);
    snprintf(file_path, sizeof(file_path), "/tmp/fuzz-snapshot-%ld.in", (long)getpid());
    snprintf(resave_path, sizeof(resave_path), "/tmp/fuzz-snapshot-%ld.out", (long)getpid());
    atexit(remove_files);
    const char *dir = getenv("FUZZ_SNAPSHOT_SEEDS");
    if (dir)
        write_seeds(dir);
    return 0;
}
