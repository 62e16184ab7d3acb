/* Unit tests for the reader's shared part (ldap_read.c): decoding an entry,
 * ranged retrieval, the range option's parser, the rootDSE and invocationId
 * reads. The backend is a fake (below) that answers as a scripted server:
 * one that splits large values on its own (AD, MaxValRange), one that only
 * answers the ranges it is asked for (Samba 4.17), or one whose answers are
 * malformed. Every malformed answer must end in one clear error, never in a
 * loop: the fake fails the test past a bound of searches. */
#include "compat.h"

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "../../src/ldap_source_p.h"
#include "log.h"

/* ------------------------------------------------------------ the fake backend */

struct fake_attr {
    char *name;
    struct lsrc_val *vals;
    size_t n;
};

struct lsrc_entry {
    const struct fake_attr *attrs;
    size_t n, next;
};

/* What a ranged read is answered with, when scripted: the attribute name
 * and a slice of the members; name NULL: an entry without the attribute;
 * name2: a second attribute with the same values in the same entry. */
struct scripted {
    const char *name;
    size_t from, count;
    const char *name2;
};

#define MAX_SEARCHES 50

static struct {
    char **members;                 /* the big attribute the server holds */
    size_t nmembers;
    uint32_t max_val_range;         /* > 0: split unasked, as AD does; 0: as Samba */
    const struct scripted *script;  /* if set: the answers to ranged reads, in turn */
    size_t nscript, script_i;
    char *asked[MAX_SEARCHES];      /* the attribute each search asked for */
    size_t searches;
    const struct fake_attr *base_entry;   /* the answer to any other base search */
    size_t base_n;
    const char *subtree_dns[4];     /* the answer to a subtree search: these DNs */
} fake;

static struct lsrc_val val(const char *s)
{
    return (struct lsrc_val){ s, strlen(s) };
}

/* An attribute holding members[from, from+count). */
static struct fake_attr slice(const char *name, size_t from, size_t count)
{
    struct fake_attr a = { xstrdup(name), xcalloc(count + 1, sizeof(struct lsrc_val)), count };
    for (size_t i = 0; i < count; i++)
        a.vals[i] = val(fake.members[from + i]);
    return a;
}

static void free_attr(struct fake_attr *a)
{
    free(a->name);
    free(a->vals);
}

int lsrc_connect(const struct ldap_config *cfg, struct lsrc_conn **out)
{
    (void)cfg;
    *out = NULL;
    return 0;
}

void lsrc_disconnect(struct lsrc_conn *conn)
{
    (void)conn;
}

int lsrc_entry_attr(struct lsrc_entry *e, struct lsrc_val *name, const struct lsrc_val **vals,
                    size_t *nvals)
{
    if (e->next >= e->n)
        return 0;
    const struct fake_attr *a = &e->attrs[e->next++];
    *name = val(a->name);
    *vals = a->vals;
    *nvals = a->n;
    return 1;
}

/* A server's answer to "member;range=LO-HI" or "member;range=LO-*". */
static struct fake_attr model_answer(const char *want)
{
    unsigned long lo = 0, hi = ULONG_MAX;
    const char *r = strstr(want, ";range=");
    assert_non_null(r);
    if (sscanf(r, ";range=%lu-%lu", &lo, &hi) != 2)
        assert_int_equal(sscanf(r, ";range=%lu-*", &lo), 1);
    if (fake.max_val_range && hi - lo >= fake.max_val_range)
        hi = lo + fake.max_val_range - 1;
    char name[64];
    size_t n = fake.nmembers;
    if (hi >= n - 1 || lo >= n) {       /* the last chunk ends with '*' */
        snprintf(name, sizeof(name), "member;range=%lu-*", lo);
        return slice(name, lo < n ? lo : n, lo < n ? n - lo : 0);
    }
    snprintf(name, sizeof(name), "member;range=%lu-%lu", lo, hi);
    return slice(name, lo, hi - lo + 1);
}

int lsrc_search(struct lsrc_conn *conn, const char *base, enum lsrc_scope scope,
                const char *filter, char **attrs, int sizelimit, const char *doing,
                lsrc_entry_fn fn, void *ctx)
{
    (void)conn; (void)filter; (void)doing;
    if (fake.searches >= MAX_SEARCHES)
        fail_msg("more than %d searches: the reader loops", MAX_SEARCHES);
    fake.asked[fake.searches++] = xstrdup(attrs[0] ? attrs[0] : "");
    struct lsrc_val dn = val(base);
    if (scope == LSRC_SUBTREE) {
        int ret = 0;
        for (size_t i = 0; i < ARRAY_SIZE(fake.subtree_dns) && fake.subtree_dns[i] && !ret
                           && (!sizelimit || (int)i < sizelimit); i++) {
            struct lsrc_entry e = { NULL, 0, 0 };
            struct lsrc_val d = val(fake.subtree_dns[i]);
            ret = fn(&d, &e, ctx);
        }
        return ret ? -1 : 0;
    }
    if (!strstr(attrs[0], ";range=")) {
        struct lsrc_entry e = { fake.base_entry, fake.base_n, 0 };
        return fn(&dn, &e, ctx) ? -1 : 0;
    }
    /* an entry with cn too: the reader must pick the ranged attribute out */
    struct lsrc_val cnv = val("Big");
    struct fake_attr all[3] = { { (char *)"cn", &cnv, 1 }, { NULL, NULL, 0 }, { NULL, NULL, 0 } };
    size_t n = 1;
    if (fake.script) {
        assert_true(fake.script_i < fake.nscript);
        const struct scripted *s = &fake.script[fake.script_i++];
        if (s->name)
            all[n++] = slice(s->name, s->from, s->count);
        if (s->name2)
            all[n++] = slice(s->name2, s->from, s->count);
    } else {
        all[n++] = model_answer(attrs[0]);
    }
    struct lsrc_entry e = { all, n, 0 };
    int ret = fn(&dn, &e, ctx) ? -1 : 0;
    for (size_t i = 1; i < n; i++)
        free_attr(&all[i]);
    return ret;
}

int lsrc_paged_search(struct lsrc_conn *conn, const char *base, const char *filter, char **attrs,
                      bool show_deleted, struct ldap_pull_stats *stats, lsrc_entry_fn fn,
                      void *ctx)
{
    (void)conn; (void)base; (void)filter; (void)attrs; (void)show_deleted; (void)stats;
    (void)fn; (void)ctx;
    fail_msg("no paged search in these tests");
    return -1;
}

/* ------------------------------------------------------------ helpers */

static struct ldap_config cfg = { .uri = (char *)"ldaps://dc.test" };
static struct ldap_source src = { .cfg = &cfg };

static int setup(void **state)
{
    (void)state;
    memset(&fake, 0, sizeof(fake));
    return 0;
}

static void capture_restore(void);

static int teardown(void **state)
{
    (void)state;
    capture_restore();   /* a failed check may have left stderr captured */
    for (size_t i = 0; i < fake.searches; i++)
        free(fake.asked[i]);
    for (size_t i = 0; i < fake.nmembers; i++)
        free(fake.members[i]);
    free(fake.members);
    memset(&fake, 0, sizeof(fake));
    setenv("DUALSYNC_TEST_RANGE_SIZE", "", 1);   /* empty: unset */
    return 0;
}

static void make_members(size_t n)
{
    fake.members = xcalloc(n, sizeof(char *));
    fake.nmembers = n;
    for (size_t i = 0; i < n; i++)
        fake.members[i] = xasprintf("CN=User %05zu,OU=Staff,DC=corp,DC=test", i);
}

/* What the callback saw of the one object handed on. */
static struct seen {
    int calls;
    size_t nattrs, nmember;
    bool member_in_order;
    char name[64];
} seen;

static int on_object(const struct ad_object *o, void *ctx)
{
    (void)ctx;
    seen.calls++;
    seen.nattrs = o->nattrs;
    const struct ad_attr *m = ad_object_attr(o, "member");
    seen.nmember = m ? m->nvals : 0;
    seen.member_in_order = m != NULL;
    for (size_t i = 0; m && i < m->nvals; i++)
        if (i >= fake.nmembers || strcmp(m->vals[i], fake.members[i]))
            seen.member_in_order = false;
    snprintf(seen.name, sizeof(seen.name), "%s", m ? m->name : "");
    return 0;
}

/* stderr into a file while a step runs, so a test can read the error. */
static char cap_dir[64], cap_path[96];
static int cap_saved = -1;

static void capture_begin(void)
{
    snprintf(cap_dir, sizeof(cap_dir), "/tmp/dualsync-test-ldap-read-XXXXXX");
    assert_non_null(mkdtemp(cap_dir));
    snprintf(cap_path, sizeof(cap_path), "%s/stderr", cap_dir);
    fflush(stderr);
    cap_saved = dup(2);
    FILE *f = fopen(cap_path, "w");
    assert_non_null(f);
    dup2(fileno(f), 2);
    fclose(f);
}

static void capture_restore(void)
{
    if (cap_saved < 0)
        return;
    fflush(stderr);
    dup2(cap_saved, 2);
    close(cap_saved);
    cap_saved = -1;
}

static char *capture_end(void)
{
    capture_restore();
    FILE *f = fopen(cap_path, "rb");
    assert_non_null(f);
    char *buf = xcalloc(4096, 1);
    size_t n = fread(buf, 1, 4095, f);
    buf[n] = '\0';
    fclose(f);
    remove(cap_path);
    rmdir(cap_dir);
    return buf;
}

/* Decode a group entry whose member attribute is first (name, first
 * values) through pull_entry; returns its result, *err the error text. */
static int read_group(const char *first_name, size_t first_count, uint32_t step, char **err)
{
    static const unsigned char guid[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
    struct lsrc_val oc[2] = { val("top"), val("group") };
    struct lsrc_val g = { (const char *)guid, 16 };
    struct fake_attr attrs[3] = {
        { (char *)"objectClass", oc, 2 }, { (char *)"objectGUID", &g, 1 },
        slice(first_name, 0, first_count),
    };
    struct lsrc_entry e = { attrs, 3, 0 };
    struct ldap_pull_stats stats = { 0 };
    struct pull p = { .src = &src, .cfg = &cfg, .cb = on_object, .stats = &stats,
                      .phase = PHASE_EXISTING, .range_step = step };
    memset(&seen, 0, sizeof(seen));
    struct lsrc_val dn = val("CN=Big,OU=Groups,DC=corp,DC=test");
    size_t before = fake.searches;
    capture_begin();
    int rc = pull_entry(&dn, &e, &p);
    *err = capture_end();
    assert_int_equal((uint64_t)stats.ranged_fetches, (uint64_t)(fake.searches - before));
    free_attr(&attrs[2]);
    arena_release(&p.arena);
    free(p.attrs);
    return rc;
}

/* ------------------------------------------------------------ the parser */

static void parse_range_forms(void **state)
{
    (void)state;
    size_t base;
    uint32_t lo, hi;
    const char *n;
#define PARSE(s) (n = (s), lread_parse_range(n, strlen(n), &base, &lo, &hi))
    assert_int_equal(PARSE("member"), LREAD_RANGE_NONE);
    assert_int_equal(PARSE("member;binary"), LREAD_RANGE_NONE);
    assert_int_equal(PARSE("member;range=0-1499"), LREAD_RANGE_MORE);
    assert_int_equal(base, 6);
    assert_int_equal(lo, 0);
    assert_int_equal(hi, 1499);
    assert_int_equal(PARSE("member;range=1500-*"), LREAD_RANGE_LAST);
    assert_int_equal(base, 6);
    assert_int_equal(lo, 1500);
    /* options are case-insensitive (RFC 4512); other options may come first or after */
    assert_int_equal(PARSE("Member;RANGE=0-5"), LREAD_RANGE_MORE);
    assert_int_equal(PARSE("member;x-opt;range=3-4"), LREAD_RANGE_MORE);
    assert_int_equal(base, 12);
    assert_int_equal(lo, 3);
    assert_int_equal(PARSE("member;range=3-*;x-opt"), LREAD_RANGE_LAST);
    assert_int_equal(PARSE("member;range=7-7"), LREAD_RANGE_MORE);
    /* only part of the name is looked at */
    assert_int_equal(lread_parse_range("member;range=0-1499", 6, &base, &lo, &hi), LREAD_RANGE_NONE);
    assert_int_equal(lread_parse_range("member;range=0-15", 17, &base, &lo, &hi), LREAD_RANGE_MORE);
    assert_int_equal(hi, 15);
#undef PARSE
}

static void parse_range_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "member;range=5-2",              /* ends before it starts */
        "member;range=",                 /* empty */
        "member;range=5",                /* no dash */
        "member;range=-5",               /* no start */
        "member;range=5-",               /* no end */
        "member;range=a-5", "member;range=0-1x", "member;range=0x1-5",
        "member;range=+1-5", "member;range= 1-5", "member;range=1 -5",
        "member;range=0-**", "member;range=*-5", "member;range=0--1",
        "member;range=0-4294967295",     /* the next chunk would not fit */
        "member;range=4294967296-*",     /* beyond 32 bits */
        "member;range=0-99999999999999999999",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        size_t base = 0;
        uint32_t lo, hi;
        if (lread_parse_range(bad[i], strlen(bad[i]), &base, &lo, &hi) != LREAD_RANGE_BAD)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_int_equal(base, 6);   /* the attribute it belongs to is known */
    }
}

/* ------------------------------------------------------------ ranged reads */

/* Walks that end well: every value once, in order, under the name "member",
 * after exactly the reads asked for. */
static const struct walk {
    const char *what;
    size_t members;
    uint32_t max_val_range;     /* the server splits unasked at this many */
    const char *first;          /* the first chunk's name, in the entry */
    size_t first_count;
    uint32_t step;              /* the test hook's range size */
    size_t searches;
    const char *asked_first, *asked_last;
} walks[] = {
    /* AD: member;range=0-1499 unasked, then chunks of MaxValRange to the '*' */
    { "like AD", 3500, 1500, "member;range=0-1499", 1500, 0, 2,
      "member;range=1500-*", "member;range=3000-*" },
    /* Samba: no split unless asked; with the test hook the reader asks for
     * chunks of its own size, and the last one comes back as "N-*" */
    { "asked, like Samba", 250, 0, "member;range=0-99", 100, 100, 2,
      "member;range=100-199", "member;range=200-299" },
    /* one value at a time: the longest walk, still exact */
    { "one value a step", 40, 0, "member;range=0-0", 1, 1, 39,
      "member;range=1-1", "member;range=39-39" },
};

static void ranged_walks(void **state)
{
    for (size_t i = 0; i < ARRAY_SIZE(walks); i++) {
        const struct walk *w = &walks[i];
        make_members(w->members);
        fake.max_val_range = w->max_val_range;
        char *err;
        if (read_group(w->first, w->first_count, w->step, &err) != 0)
            fail_msg("%s: %s", w->what, err);
        assert_string_equal(err, "");
        free(err);
        assert_int_equal(seen.calls, 1);
        assert_int_equal(seen.nmember, w->members);
        assert_true(seen.member_in_order);
        assert_string_equal(seen.name, "member");
        assert_int_equal(fake.searches, w->searches);
        assert_string_equal(fake.asked[0], w->asked_first);
        assert_string_equal(fake.asked[w->searches - 1], w->asked_last);
        teardown(state);
    }
}

/* The whole attribute at once ("0-*", or no range at all): no extra read. */
static void no_walk_when_whole(void **state)
{
    (void)state;
    make_members(10);
    char *err;
    assert_int_equal(read_group("member;range=0-*", 10, 0, &err), 0);
    free(err);
    assert_int_equal(seen.nmember, 10);
    assert_string_equal(seen.name, "member");
    assert_int_equal(read_group("member", 10, 0, &err), 0);
    free(err);
    assert_int_equal(seen.nmember, 10);
    assert_int_equal(fake.searches, 0);
}

/* One malformed or inconsistent answer midway: -1, nothing handed on, an
 * error that names the object and quotes what the server sent, and no
 * loop. The first chunk, in the entry, is member;range=0-1499 of 3,500. */
static const struct bad_walk {
    struct scripted answers[2];
    size_t n;
    const char *want;
} bad_walks[] = {
    { { { "member;range=1500-1499", 1500, 10, NULL } }, 1,
      "\"member;range=1500-1499\", whose range option is malformed" },
    { { { "member;range=5-2", 1500, 10, NULL } }, 1,
      "\"member;range=5-2\", whose range option is malformed" },
    { { { "member;range=1500-abc", 1500, 10, NULL } }, 1, "whose range option is malformed" },
    /* "0-*" mid-walk: it would repeat 1,500 values */
    { { { "member;range=0-*", 0, 3500, NULL } }, 1,
      "asked for the values of member from 1500 on, the server answered \"member;range=0-*\"" },
    /* the same chunk again: it would never end */
    { { { "member;range=1500-2999", 1500, 1500, NULL }, { "member;range=1500-2999", 1500, 1500, NULL } },
      2, "from 3000 on, the server answered \"member;range=1500-2999\"" },
    { { { "member;range=1500-2999", 1500, 1500, "member;range=3000-*" } }, 1,
      "two ranges of member in one answer (the second \"member;range=3000-*\")" },
    /* no member at all, or a plain one: no answer to a ranged read */
    { { { NULL, 0, 0, NULL } }, 1, "ended the ranged read of member" },
    { { { "member", 0, 3500, NULL } }, 1, "without a final range" },
};

static void walk_bad_answers(void **state)
{
    for (size_t i = 0; i < ARRAY_SIZE(bad_walks); i++) {
        const struct bad_walk *b = &bad_walks[i];
        make_members(3500);
        fake.script = b->answers;
        fake.nscript = b->n;
        char *err;
        assert_int_equal(read_group("member;range=0-1499", 1500, 0, &err), -1);
        assert_int_equal(seen.calls, 0);
        if (!strstr(err, b->want) || !strstr(err, "CN=Big,OU=Groups,DC=corp,DC=test"))
            fail_msg("case %zu: want \"%s\" naming the group, got: %s", i, b->want, err);
        free(err);
        assert_true(fake.searches <= b->n);
        teardown(state);
    }
}

/* The first chunk, in the entry itself, is checked the same way. */
static void first_chunk_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = { "member;range=5-2", "member;range=0-", "member;range=x-*" };
    make_members(100);
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        char *err;
        assert_int_equal(read_group(bad[i], 10, 0, &err), -1);
        assert_non_null(strstr(err, "whose range option is malformed"));
        free(err);
        assert_int_equal(seen.calls, 0);
    }
    char *err;
    assert_int_equal(read_group("member;range=10-19", 10, 0, &err), -1);
    assert_non_null(strstr(err, "where the values start at 0"));
    free(err);
    assert_int_equal(fake.searches, 0);
}

/* ------------------------------------------------------------ small reads */

static void attr_list_and_hook(void **state)
{
    (void)state;
    char *extra[] = { (char *)"department", (char *)"info" };
    struct ldap_config c = { .attributes = extra, .nattributes = 2 };
    char **a = lread_attr_list(&c, 0), **b = lread_attr_list(&c, 100);
    bool plain = false, ranged = false, info = false;
    for (size_t i = 0; a[i]; i++) {
        plain |= !strcmp(a[i], "member");
        info |= !strcmp(a[i], "info");
        assert_null(strstr(a[i], ";range="));
    }
    for (size_t i = 0; b[i]; i++) {
        ranged |= !strcmp(b[i], "member;range=0-99");
        assert_string_not_equal(b[i], "member");
    }
    assert_true(plain && ranged && info);
    lread_free_attr_list(a);
    lread_free_attr_list(b);

    uint32_t step = 7;
    assert_int_equal(lread_range_step(&step), 0);
    assert_int_equal(step, 0);
    setenv("DUALSYNC_TEST_RANGE_SIZE", "250", 1);
    assert_int_equal(lread_range_step(&step), 0);
    assert_int_equal(step, 250);
    static const char *const bad[] = { "0", "-3", "12x", "1000001" };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        setenv("DUALSYNC_TEST_RANGE_SIZE", bad[i], 1);
        capture_begin();
        assert_int_equal(lread_range_step(&step), -1);
        char *err = capture_end();
        assert_non_null(strstr(err, "DUALSYNC_TEST_RANGE_SIZE"));
        free(err);
    }
}

static void root_dse_and_invocation_id(void **state)
{
    (void)state;
    struct lsrc_val nc = val("DC=corp,DC=test"), dsa = val("CN=NTDS Settings,CN=DC1,CN=Configuration,DC=corp,DC=test");
    struct lsrc_val usn = val("4711");
    struct fake_attr dse[3] = {
        { (char *)"dsServiceName", &dsa, 1 }, { (char *)"defaultNamingContext", &nc, 1 },
        { (char *)"highestCommittedUSN", &usn, 1 },
    };
    fake.base_entry = dse;
    fake.base_n = 3;
    char *d = NULL;
    uint64_t u = 0;
    struct ldap_source s = { .cfg = &cfg };
    assert_int_equal(lread_root_dse(&s, &d, &u), 0);
    assert_string_equal(d, "CN=NTDS Settings,CN=DC1,CN=Configuration,DC=corp,DC=test");
    assert_string_equal(s.naming_context, "DC=corp,DC=test");
    assert_true(u == 4711);
    free(d);

    fake.base_n = 2;   /* no highestCommittedUSN: not AD */
    capture_begin();
    assert_int_equal(lread_root_dse(&s, &d, &u), -1);
    char *err = capture_end();
    assert_non_null(strstr(err, "does not look like an Active Directory domain controller"));
    free(err);

    /* invocationId: 16 raw bytes, a NUL among them */
    static const char raw[16] = { 0x10, 0, 0x32, 0x54, 0x76, (char)0x98, (char)0xba, (char)0xdc,
                                  (char)0xfe, 1, 2, 3, 4, 5, 6, 7 };
    struct lsrc_val id = { raw, 16 };
    struct fake_attr inv = { (char *)"invocationId", &id, 1 };
    fake.base_entry = &inv;
    fake.base_n = 1;
    char out[37];
    assert_int_equal(lread_invocation_id(&s, "CN=NTDS Settings", out), 0);
    assert_string_equal(out, "54320010-9876-dcba-fe01-020304050607");
    id.len = 15;
    capture_begin();
    assert_int_equal(lread_invocation_id(&s, "CN=NTDS Settings", out), -1);
    err = capture_end();
    assert_non_null(strstr(err, "no invocationId on CN=NTDS Settings"));
    free(err);
    free(s.naming_context);
}

/* insecure_lab_cleartext lets a simple bind go without TLS only to this very
 * machine (a lab); to any other host the password would cross a network. */
static void cleartext_only_to_loopback(void **state)
{
    (void)state;
    struct ldap_config c = { .bind = LDAP_BIND_SIMPLE, .insecure_lab_cleartext = false };
    c.uri = "ldap://127.0.0.1:3890";
    capture_begin();
    assert_int_equal(lread_refuse_cleartext(&c, false), -1);    /* not asked for */
    char *err = capture_end();
    assert_non_null(strstr(err, "refusing a simple bind over cleartext"));
    free(err);
    assert_int_equal(lread_refuse_cleartext(&c, true), 0);      /* TLS: always fine */
    c.insecure_lab_cleartext = true;
    const char *lab[] = { "ldap://127.0.0.1:3890", "ldap://127.8.9.10", "ldap://[::1]:389",
                          "ldap://localhost:389", "LDAP://LOCALHOST/" };
    for (size_t i = 0; i < sizeof(lab) / sizeof(lab[0]); i++) {
        c.uri = (char *)lab[i];
        assert_int_equal(lread_refuse_cleartext(&c, false), 0);
    }
    const char *far[] = { "ldap://dc1.corp.example", "ldap://10.0.0.5:389", "ldap://127.0.0.1.evil.example",
                          "ldap://localhost.corp.example", "ldap://[::2]:389", "ldap://", "ldap://1270.0.0.1" };
    for (size_t i = 0; i < sizeof(far) / sizeof(far[0]); i++) {
        c.uri = (char *)far[i];
        capture_begin();
        assert_int_equal(lread_refuse_cleartext(&c, false), -1);
        err = capture_end();
        assert_non_null(strstr(err, "loopback"));
        free(err);
    }
}

static void find_one(void **state)
{
    (void)state;
    struct ldap_source s = { .cfg = &cfg, .naming_context = (char *)"DC=corp,DC=test" };
    char *dn = (char *)"x";
    assert_int_equal(lread_find_one(&s, "(objectClass=*)", "test", &dn), 0);
    assert_null(dn);
    fake.subtree_dns[0] = "OU=First,DC=corp,DC=test";
    fake.subtree_dns[1] = "OU=Second,DC=corp,DC=test";
    assert_int_equal(lread_find_one(&s, "(objectClass=*)", "test", &dn), 0);
    assert_string_equal(dn, "OU=First,DC=corp,DC=test");
    free(dn);
}

/* ------------------------------------------------------------ NUL in a value */

static char nul_seen[3][64];

static int on_nul_object(const struct ad_object *o, void *ctx)
{
    (void)ctx;
    const struct ad_attr *d = ad_object_attr(o, "description");
    snprintf(nul_seen[0], sizeof(nul_seen[0]), "%s", ad_object_get(o, "displayName"));
    snprintf(nul_seen[1], sizeof(nul_seen[1]), "%s", d && d->nvals > 1 ? d->vals[1] : "?");
    snprintf(nul_seen[2], sizeof(nul_seen[2]), "%s", ad_object_get(o, "title"));
    return 0;
}

/* LDAP values are counted (RFC 4511 berval) and AD keeps a U+0000 inside a
 * text value (Samba 4.17 stores and returns it): the reader must not cut
 * the value at it, as a C string would, nor drop it silently. It reads
 * U+FFFD in its place and warns, naming the object and the attribute. */
static void nul_in_a_value(void **state)
{
    (void)state;
    static const unsigned char guid[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
    struct lsrc_val oc[2] = { val("top"), val("user") };
    struct lsrc_val g = { (const char *)guid, 16 };
    struct lsrc_val name = { "Ab\0cd\0", 6 };
    struct lsrc_val desc[2] = { val("plain"), { "\0\0x", 3 } };
    struct lsrc_val title = val("Engineer");
    struct fake_attr attrs[] = {
        { (char *)"objectClass", oc, 2 }, { (char *)"objectGUID", &g, 1 },
        { (char *)"displayName", &name, 1 }, { (char *)"description", desc, 2 },
        { (char *)"title", &title, 1 },
    };
    struct lsrc_entry e = { attrs, ARRAY_SIZE(attrs), 0 };
    struct ldap_pull_stats stats = { 0 };
    struct pull p = { .src = &src, .cfg = &cfg, .cb = on_nul_object, .stats = &stats,
                      .phase = PHASE_EXISTING };
    struct lsrc_val dn = val("CN=Nul Byte,OU=Staff,DC=corp,DC=test");
    capture_begin();
    assert_int_equal(pull_entry(&dn, &e, &p), 0);
    char *err = capture_end();
    assert_string_equal(nul_seen[0], "Ab\xef\xbf\xbd" "cd\xef\xbf\xbd");
    assert_string_equal(nul_seen[1], "\xef\xbf\xbd\xef\xbf\xbdx");
    assert_string_equal(nul_seen[2], "Engineer");
    assert_non_null(strstr(err, "warning: CN=Nul Byte,OU=Staff,DC=corp,DC=test: displayName: "
                                "a value holds a NUL byte (U+0000)"));
    assert_non_null(strstr(err, "warning: CN=Nul Byte,OU=Staff,DC=corp,DC=test: description: "));
    assert_null(strstr(err, "title"));
    free(err);
    arena_release(&p.arena);
    free(p.attrs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(parse_range_forms, setup, teardown),
        cmocka_unit_test_setup_teardown(parse_range_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(ranged_walks, setup, teardown),
        cmocka_unit_test_setup_teardown(no_walk_when_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(walk_bad_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(first_chunk_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(attr_list_and_hook, setup, teardown),
        cmocka_unit_test_setup_teardown(root_dse_and_invocation_id, setup, teardown),
        cmocka_unit_test_setup_teardown(find_one, setup, teardown),
        cmocka_unit_test_setup_teardown(nul_in_a_value, setup, teardown),
        cmocka_unit_test_setup_teardown(cleartext_only_to_loopback, setup, teardown),
    };
    return cmocka_run_group_tests_name("ldap_read", tests, NULL, NULL);
}
