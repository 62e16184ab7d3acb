/* Unit tests for the mapping store (mapstore.c, mapstore_format.c): round
 * trips, every refusal with its FILE:LINE, recovery after a crash at every
 * journal step, torn journal lines, intents in doubt, the lock, file modes. */
#include "compat.h"

#include <dirent.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "capture.h"
#include "mapstore.h"
#include "../../src/mapstore_p.h"
#include "util.h"

static const struct mapstore_tenant contoso = {
    "contoso", "0f2c5a4e-1111-2222-3333-444455556666", CLOUD_GLOBAL
};

/* Hostile values: every byte the format escapes, commas and quotes of DNs,
 * non-ASCII, a trailing backslash. */
#define HOSTILE_DN "CN=Doe\\, John \"JD\"\tTab\nNewline\\,OU=Zürich Ångström,DC=corp,DC=example\\"
#define HOSTILE_ERR "graph said:\t403\r\n{\"error\": \"Authorization_RequestDenied\"}\\n not a newline"

/* ---- helpers ----------------------------------------------------------- */

struct fixture {
    char dir[64];
    char path[128];
};

static int setup(void **state)
{
    struct fixture *fx = xcalloc(1, sizeof(*fx));
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/dualsync-test-mapstore-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->path, sizeof(fx->path), "%s/contoso.map", fx->dir);
    *state = fx;
    return 0;
}

static void empty_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
            continue;
        char *p = xasprintf("%s/%s", dir, e->d_name);
        unlink(p);
        free(p);
    }
    closedir(d);
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    empty_dir(fx->dir);
    rmdir(fx->dir);
    free(fx);
    return 0;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct strbuf sb = STRBUF_INIT;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        strbuf_add(&sb, buf, n);
    fclose(f);
    return strbuf_detach(&sb);
}

static void spit(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
}

static bool exists(const char *path)
{
    return access(path, F_OK) == 0;
}

static char *sibling(const struct fixture *fx, const char *suffix)
{
    return xasprintf("%s%s", fx->path, suffix);
}

/* The names in the directory, sorted, one per line. */
static char *listing(const char *dir)
{
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    struct strbuf sb = STRBUF_INIT;
    for (int i = 0; i < n; i++) {
        if (names[i]->d_name[0] != '.') {
            strbuf_addstr(&sb, names[i]->d_name);
            strbuf_addch(&sb, '\n');
        }
        free(names[i]);
    }
    free(names);
    return strbuf_detach(&sb);
}

static struct mapstore *open_rw(const struct fixture *fx)
{
    struct mapstore *ms = NULL;
    assert_int_equal(mapstore_open(fx->path, &contoso, MAPSTORE_CREATE, &ms), 0);
    return ms;
}

static struct map_record record(const char *anchor, enum map_state state)
{
    struct map_record r = {
        .anchor = anchor, .state = state, .decision = DECISION_EXTERNAL_GUEST,
        .user_type = MAP_USER_TYPE_MEMBER, .cloud_id = "7a1c2b3d-0000-4000-8000-00000000000a",
        .object_guid = "3f2504e0-4f89-11d3-9a0c-0305e82c3301", .upn = "alice@corp.example",
        .rule = "non-us-guest", .first_change = 1714564800, .last_change = 1714568400,
        .invitation_id = "", .dn = "CN=Alice,OU=Users,DC=corp,DC=example", .last_error = "",
    };
    return r;
}

static void put(struct mapstore *ms, struct map_record r)
{
    assert_int_equal(mapstore_put(ms, &r), 0);
}

/* Everything a store holds, as text: header, records in order with their open
 * intents. Two stores with the same dump hold the same state. */
static char *dump(const struct mapstore *ms)
{
    struct strbuf sb = STRBUF_INIT;
    const struct map_header *h = mapstore_header(ms);
    strbuf_addf(&sb, "tenant=%s id=%s cloud=%s wm=%s dl=%s n=%zu\n", h->tenant, h->tenant_id,
                cloud_name(h->cloud), h->watermark, h->delta_link, mapstore_count(ms));
    size_t pos = 0;
    const struct map_record *r;
    while ((r = mapstore_next(ms, &pos))) {
        map_record_format(&sb, r, false);
        const struct map_intent *in = mapstore_intent_of(ms, r->anchor);
        if (in)
            strbuf_addf(&sb, "\n  intent %s %s", in->op, in->arg);
        strbuf_addch(&sb, '\n');
    }
    return strbuf_detach(&sb);
}

/* ---- format pieces ----------------------------------------------------- */

static void times(void **state)
{
    (void)state;
    int64_t t;
    assert_int_equal(map_time_parse("2024-05-01T12:00:00Z", 20, &t), 0);
    assert_int_equal(t, 1714564800);
    assert_int_equal(map_time_parse("2024-02-29T23:59:59Z", 20, &t), 0);
    assert_int_equal(t, 1709251199);
    assert_int_equal(map_time_parse("", 0, &t), 0);
    assert_int_equal(t, 0);
    const char *bad[] = { "2023-02-29T00:00:00Z", "2024-13-01T00:00:00Z", "2024-04-31T00:00:00Z",
                          "2024-05-01T24:00:00Z", "2024-05-01 12:00:00Z", "2024-05-01T12:00:00",
                          "1969-12-31T23:59:59Z", "2024-05-01T12:00:60Z", "+024-05-01T12:00:00Z" };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
        assert_int_equal(map_time_parse(bad[i], strlen(bad[i]), &t), -1);
    char buf[MAP_TIME_LEN + 1];
    const int64_t samples[] = { 1, 951782400 /* 2000-02-29 */, 1714564800, 4102444800,
                                MAP_TIME_MAX };
    for (size_t i = 0; i < ARRAY_SIZE(samples); i++) {
        *map_time_format(buf, samples[i]) = '\0';
        assert_int_equal(map_time_parse(buf, strlen(buf), &t), 0);
        assert_int_equal(t, samples[i]);
    }
    *map_time_format(buf, MAP_TIME_MAX) = '\0';
    assert_string_equal(buf, "9999-12-31T23:59:59Z");
    *map_time_format(buf, 0) = '\0';
    assert_string_equal(buf, "");
}

static void escapes(void **state)
{
    (void)state;
    struct strbuf sb = STRBUF_INIT;
    map_escape(&sb, "a\tb\nc\\d\re", 9);
    assert_string_equal(sb.buf, "a\\tb\\nc\\\\d\\re");
    long n = map_unescape(sb.buf, sb.len);
    assert_int_equal(n, 9);
    assert_memory_equal(sb.buf, "a\tb\nc\\d\re", 9);
    char bad1[] = "x\\q", bad2[] = "trailing\\";
    assert_int_equal(map_unescape(bad1, 3), -1);
    assert_int_equal(map_unescape(bad2, 9), -1);
    strbuf_release(&sb);

    /* the word-at-a-time scan: every special at every offset of a long
     * string of ASCII and UTF-8 bytes is found and survives a round trip */
    const char specials[] = "\\\t\n\r";
    for (size_t k = 0; k < 4; k++)
        for (size_t at = 0; at < 40; at++) {
            char s[41];
            for (size_t i = 0; i < 40; i++)
                s[i] = i % 3 ? 'x' : (char)0xc3;
            s[at] = specials[k];
            s[40] = '\0';
            assert_true(map_needs_escape(s, 40));
            struct strbuf e = STRBUF_INIT;
            map_escape(&e, s, 40);
            assert_int_equal(e.len, 41);
            assert_int_equal(map_unescape(e.buf, e.len), 40);
            assert_memory_equal(e.buf, s, 40);
            strbuf_release(&e);
        }
    /* and nothing else is special: other control bytes, DEL, UTF-8 */
    char plain[256];
    size_t np = 0;
    for (int c = 1; c < 256; c++)
        if (c != '\\' && c != '\t' && c != '\n' && c != '\r')
            plain[np++] = (char)c;
    for (size_t off = 0; off < 8; off++)
        assert_false(map_needs_escape(plain + off, np - off));
}

/* ---- round trip -------------------------------------------------------- */

static void round_trip_hostile_text(void **state)
{
    struct fixture *fx = *state;
    struct mapstore *ms = open_rw(fx);
    struct map_record a = record("AAAAAAAAAAAAAAAAAAAAAA==", MAP_STATE_INVITED);
    a.dn = HOSTILE_DN;
    a.last_error = HOSTILE_ERR;
    a.upn = "zoë.ångström@corp.example";
    a.rule = "rule with\ttab";
    a.invitation_id = "inv-1";
    a.reason = MAP_REASON_USER_TYPE_BLOCKED;
    put(ms, a);
    struct map_record b = record("custom-anchor:\\weird\t", MAP_STATE_PENDING);
    b.user_type = MAP_USER_TYPE_NONE;
    b.decision = DECISION_MEMBER;
    b.cloud_id = NULL;                       /* NULL is "" */
    b.first_change = b.last_change = 0;      /* not set */
    put(ms, b);
    assert_int_equal(mapstore_set_watermark(ms, "usn:9f1c-..:123\tx"), 0);
    assert_int_equal(mapstore_set_delta_link(ms, "https://graph.microsoft.com/v1.0/users/delta"
                                             "?$deltatoken=abc%3D%3D"), 0);
    char *before = dump(ms);
    assert_int_equal(mapstore_commit(ms), 0);
    mapstore_close(ms);

    /* one record per line, whatever the values hold */
    char *text = slurp(fx->path);
    size_t lines = 0;
    for (char *p = text; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 1 + 7 + 1 + 2);   /* version, 7 header lines, blank, 2 records */
    assert_non_null(strstr(text, "CN=Doe\\\\, John \"JD\"\\tTab\\nNewline\\\\,OU=Zürich"));
    assert_non_null(strstr(text, "\nRecords 2\n"));

    ms = open_rw(fx);
    char *after = dump(ms);
    assert_string_equal(before, after);
    const struct map_record *r = mapstore_find(ms, "AAAAAAAAAAAAAAAAAAAAAA==");
    assert_non_null(r);
    assert_string_equal(r->dn, HOSTILE_DN);
    assert_string_equal(r->last_error, HOSTILE_ERR);
    assert_string_equal(r->upn, "zoë.ångström@corp.example");
    r = mapstore_find(ms, "custom-anchor:\\weird\t");
    assert_non_null(r);
    assert_string_equal(r->cloud_id, "");
    assert_int_equal(r->first_change, 0);
    assert_string_equal(mapstore_header(ms)->watermark, "usn:9f1c-..:123\tx");

    /* nothing changed: commit writes nothing, the file stays the same inode */
    struct stat st1, st2;
    assert_int_equal(stat(fx->path, &st1), 0);
    struct map_record same = *r;
    assert_int_equal(mapstore_put(ms, &same), 0);
    assert_int_equal(mapstore_commit(ms), 0);
    assert_int_equal(stat(fx->path, &st2), 0);
    assert_int_equal(st1.st_ino, st2.st_ino);
    char *journal = sibling(fx, ".journal");
    assert_false(exists(journal));
    mapstore_close(ms);
    char *text2 = slurp(fx->path);
    assert_string_equal(text, text2);
    free(journal);
    free(text);
    free(text2);
    free(before);
    free(after);
}

static void find_iterate_remove(void **state)
{
    struct fixture *fx = *state;
    struct mapstore *ms = open_rw(fx);
    char anchors[300][16];
    for (int i = 0; i < 300; i++) {
        snprintf(anchors[i], sizeof(anchors[i]), "anchor-%03d", i);
        put(ms, record(anchors[i], MAP_STATE_PENDING));
    }
    assert_int_equal(mapstore_count(ms), 300);
    /* remove every third, mark gone every fifth */
    for (int i = 0; i < 300; i += 3)
        assert_int_equal(mapstore_remove(ms, anchors[i]), 0);
    assert_int_equal(mapstore_remove(ms, anchors[0]), 1);
    for (int i = 1; i < 300; i += 5)
        if (i % 3)
            assert_int_equal(mapstore_mark_gone(ms, anchors[i], 1714600000), 0);
    assert_int_equal(mapstore_mark_gone(ms, "nobody", 1), 1);
    assert_int_equal(mapstore_count(ms), 200);
    for (int i = 0; i < 300; i++) {
        const struct map_record *r = mapstore_find(ms, anchors[i]);
        if (i % 3 == 0) {
            assert_null(r);
            continue;
        }
        assert_non_null(r);
        assert_string_equal(r->anchor, anchors[i]);
        assert_int_equal(r->state, i % 5 == 1 ? MAP_STATE_GONE : MAP_STATE_PENDING);
    }
    /* a removed anchor put again comes back at the end */
    put(ms, record(anchors[0], MAP_STATE_PENDING));
    size_t pos = 0, n = 0;
    const struct map_record *r, *last = NULL;
    while ((r = mapstore_next(ms, &pos))) {
        n++;
        last = r;
    }
    assert_int_equal(n, 201);
    assert_string_equal(last->anchor, anchors[0]);
    char *before = dump(ms);
    assert_int_equal(mapstore_commit(ms), 0);
    mapstore_close(ms);
    ms = open_rw(fx);
    char *after = dump(ms);
    assert_string_equal(before, after);
    mapstore_close(ms);
    free(before);
    free(after);
}

static void pointers_outlive_updates(void **state)
{
    struct fixture *fx = *state;
    struct mapstore *ms = open_rw(fx);
    put(ms, record("A", MAP_STATE_PENDING));
    const struct map_record *r = mapstore_find(ms, "A");
    const char *upn = r->upn;
    struct map_record u = *r;
    u.upn = "new@corp.example";
    u.state = MAP_STATE_INVITED;
    put(ms, u);
    assert_ptr_equal(mapstore_find(ms, "A"), r);      /* same place */
    assert_string_equal(upn, "alice@corp.example");   /* old string still there */
    assert_string_equal(r->upn, "new@corp.example");
    assert_int_equal(mapstore_remove(ms, "A"), 0);
    assert_string_equal(upn, "alice@corp.example");
    mapstore_close(ms);
}

static void invalid_changes_refused(void **state)
{
    struct fixture *fx = *state;
    struct mapstore *ms = open_rw(fx);
    struct map_record r = record("", MAP_STATE_PENDING);
    capture_start();
    int rc1 = mapstore_put(ms, &r);
    r = record("X", (enum map_state)42);
    int rc2 = mapstore_put(ms, &r);
    r = record("X", MAP_STATE_PENDING);
    r.last_change = -5;
    int rc3 = mapstore_put(ms, &r);
    int rc4 = mapstore_intent(ms, "nobody", "invite", "id");
    char *err = capture_end();
    assert_int_equal(rc1, -1);
    assert_int_equal(rc2, -1);
    assert_int_equal(rc3, -1);
    assert_int_equal(rc4, -1);
    assert_non_null(strstr(err, "empty anchor"));
    assert_non_null(strstr(err, "intent for nobody, which has no record; put the record first"));
    assert_int_equal(mapstore_count(ms), 0);
    char *journal = sibling(fx, ".journal");
    assert_false(exists(journal));          /* nothing was written */
    mapstore_close(ms);
    free(journal);
    free(err);
}

/* ---- refusals ---------------------------------------------------------- */

#define HDR1 "dualsync-map 1\nTenant contoso\nTenantId 0f2c5a4e-1111-2222-3333-444455556666\n" \
            "Cloud global\nGeneration 7\n"
#define HDR "dualsync-map 2\nTenant contoso\nTenantId 0f2c5a4e-1111-2222-3333-444455556666\n" \
            "Cloud global\nGeneration 7\n"
#define REC1(anchor, state) anchor "\t" state "\texternal-guest\tGuest\tcid\tguid\tu@x\trule\t" \
            "2024-05-01T12:00:00Z\t2024-05-01T12:00:00Z\t\tCN=x\\\\, y,DC=z\t"
#define REC(anchor, state) REC1(anchor, state) "\tnone\n"

#define NUL_MAP HDR "Records 1\n\n" "A\tpend\0ing\tmember\t\t\t\t\t\t\t\t\t\t\tnone\n"

static const struct {
    const char *text;
    size_t len;                /* 0: strlen */
    const char *message;       /* after "contoso.map" */
} bad_maps[] = {
    { "dualsync-map 3\nTenant contoso\n", 0,
      ":1: mapping file format version 3 is not supported (this dualsync reads versions 1 and 2); "
      "use the dualsync release that wrote it, or restore a backup" },
    { "dualsync-map 0\nTenant contoso\n", 0,
      ":1: mapping file format version 0 is not supported (this dualsync reads versions 1 and 2)" },
    { "mbsync state\n", 0, ":1: not a dualsync mapping file" },
    { "", 0, ":1: empty file" },
    { HDR "Colour blue\nRecords 0\n\n", 0, ":6: unknown header key 'Colour'" },
    { HDR "Records 0\nCloud global\n\n", 0, ":7: header key Cloud appears twice (first on line 4)" },
    { HDR "\n", 0, ":6: the header has no Records line" },
    { HDR "Records 1\n", 0, ":7: the header does not end with a blank line" },
    { HDR "Records 1\n\n" "A\tpending\tmember\t\t\t\t\t\t\t\t\t\tnone\n", 0,
      ":8: record has 13 fields, 14 expected" },
    { HDR "Records 1\n\n" "A\tpending\tmember\t\t\t\t\t\t\t\t\t\t\tnone\t\n", 0,
      ":8: record has 15 fields, 14 expected" },
    /* version 1 lines have no reason */
    { HDR1 "Records 1\n\n" "A\tpending\tmember\t\t\t\t\t\t\t\t\t\n", 0,
      ":8: record has 12 fields, 13 expected" },
    { HDR1 "Records 1\n\n" REC("A", "pending"), 0, ":8: record has 14 fields, 13 expected" },
    { HDR1 "Records 1\n\n" "A\tpending\tmember\t\t\t\t\t\t\t\t\tCN=a\\,b\t\n", 0,
      ":8: field 12 has a bad escape" },
    /* a damaged reason: a word the format does not have, none at all, or a
     * version 2 line of a file that says version 1 the other way round */
    { HDR "Records 2\n\n" REC("A", "pending")
      "B\tinvited\texternal-guest\tGuest\t\t\t\t\t\t\t\t\tuserType change blocked: x\tusertype-blockd\n", 0,
      ":9: unknown reason 'usertype-blockd' (none, usertype-blocked or cross-tenant-blocked "
      "expected); restore the file from a backup or repair that line (dualsync did not change it)" },
    { HDR "Records 1\n\n" REC1("A", "blocked") "\t\n", 0,
      ":8: unknown reason '' (none, usertype-blocked or cross-tenant-blocked expected)" },
    { HDR "Records 1\n\n" REC1("A", "blocked") "\tCross-Tenant-Blocked\n", 0,
      ":8: unknown reason 'Cross-Tenant-Blocked'" },
    { HDR "Records 1\n\n" "A\tblocked\tnone\texternal-guest\tGuest\t\t\t\t\t\t\t\t\t\n", 0,
      ":8: unknown decision 'none'" },
    { HDR "Records 1\n\n" REC1("A", "blocked") "\tnone\\t\n", 0,
      ":8: unknown reason 'none\\t'" },   /* control bytes are shown escaped */
    { HDR "Records 2\n\n" REC("A", "pending") REC("B", "done"), 0,
      ":9: unknown state 'done' (pending, invited, accepted, blocked, reverted or gone expected)" },
    { HDR "Records 1\n\n" "A\tpending\tguest\t\t\t\t\t\t\t\t\t\t\tnone\n", 0,
      ":8: unknown decision 'guest'" },
    { HDR "Records 1\n\n" "A\tpending\tmember\tguest\t\t\t\t\t\t\t\t\t\tnone\n", 0,
      ":8: unknown userType 'guest'" },
    { HDR "Records 1\n\n" "A\tpending\tmember\t\t\t\t\t\t2024-02-30T00:00:00Z\t\t\t\t\tnone\n", 0,
      ":8: bad first-change time '2024-02-30T00:00:00Z'" },
    { HDR "Records 1\n\n" "A\tpending\tmember\t\t\t\t\t\t\t2024-05-01\t\t\t\tnone\n", 0,
      ":8: bad last-change time '2024-05-01'" },
    { HDR "Records 3\n\n" REC("A", "pending") REC("B", "pending") REC("A", "invited"), 0,
      ":10: anchor A appears twice (first on line 8)" },
    { HDR "Records 3\n\n" REC("A", "pending") REC("B", "pending"), 0,
      ":6: the header says 3 records, the file holds 2" },
    { HDR "Records 1\n\n" "A\tpending\tmember\t\t\t\t\t\t\t\t\t\t\tnone", 0,
      ":8: the last line has no newline" },
    { HDR "Records 1\n\n" "A\tpending\tmember\t\t\t\t\t\t\t\t\tCN=a\\,b\t\tnone\n", 0,
      ":8: field 12 has a bad escape" },
    { HDR "Records 1\n\n" "\tpending\tmember\t\t\t\t\t\t\t\t\t\t\tnone\n", 0,
      ":8: record has an empty anchor" },
    { "dualsync-map 1\nTenant fabrikam\nTenantId 0f2c5a4e-1111-2222-3333-444455556666\n"
      "Cloud global\nGeneration 1\nRecords 0\n\n", 0,
      ":2: this mapping file belongs to tenant fabrikam (id 0f2c5a4e-1111-2222-3333-444455556666, "
      "cloud global), not to tenant contoso" },
    { "dualsync-map 1\nTenant contoso\nTenantId 11111111-2222-3333-4444-555555555555\n"
      "Cloud global\nGeneration 1\nRecords 0\n\n", 0, ":3: this mapping file belongs to tenant contoso (id "
      "11111111-2222-3333-4444-555555555555" },
    { "dualsync-map 1\nTenant contoso\nTenantId 0f2c5a4e-1111-2222-3333-444455556666\n"
      "Cloud usgov-high\nGeneration 1\nRecords 0\n\n", 0, ":4: this mapping file belongs to tenant contoso (id "
      "0f2c5a4e-1111-2222-3333-444455556666, cloud usgov-high), not to tenant contoso" },
    { HDR "Records 0\r\n\r\n", 0, ":6: carriage return in the file" },
    { NUL_MAP, sizeof(NUL_MAP) - 1, ":8: NUL byte in the file" },
    { HDR "Records x\n\n", 0, ":6: bad record count 'x'" },
    { "dualsync-map 1\nTenant contoso\nTenantId 0f2c5a4e-1111-2222-3333-444455556666\n"
      "Cloud azure\nGeneration 1\nRecords 0\n\n", 0, ":4: unknown cloud 'azure'" },
};

static void refusals_name_file_and_line(void **state)
{
    struct fixture *fx = *state;
    for (size_t i = 0; i < ARRAY_SIZE(bad_maps); i++) {
        size_t len = bad_maps[i].len ? bad_maps[i].len : strlen(bad_maps[i].text);
        spit(fx->path, bad_maps[i].text, len);
        for (int ro = 1; ro >= 0; ro--) {
            struct mapstore *ms = NULL;
            capture_start();
            int rc = mapstore_open(fx->path, &contoso, ro ? MAPSTORE_READ_ONLY : 0, &ms);
            char *err = capture_end();
            char *want = xasprintf("%s%s", fx->path, bad_maps[i].message);
            if (rc != -1 || !strstr(err, want))
                fail_msg("case %zu (%s): rc %d, got: %s\nwanted: %s", i, ro ? "ro" : "rw", rc,
                         err, want);
            assert_null(ms);
            /* the file is untouched and nothing is left beside it */
            char *now = slurp(fx->path);
            assert_memory_equal(now, bad_maps[i].text, len);
            char *ls = listing(fx->dir);
            assert_string_equal(ls, ro ? "contoso.map\n" : "contoso.map\ncontoso.map.lock\n");
            free(ls);
            free(now);
            free(want);
            free(err);
        }
        char *lock = sibling(fx, ".lock");
        unlink(lock);
        free(lock);
    }
    /* words are case-sensitive: the file is dualsync's own */
    assert_int_equal(map_state_parse("Pending", &(enum map_state){ 0 }), -1);
}

static const struct {
    const char *text;
    const char *message;       /* after "contoso.map.journal" */
} bad_journals[] = {
    { "dualsync-journal 9 0f2c5a4e-1111-2222-3333-444455556666 0\n",
      ":1: journal format version 9 is not supported (this dualsync reads versions 1 and 2)" },
    { "dualsync-journal 1 11111111-2222-3333-4444-555555555555 0\n",
      ":1: this journal belongs to tenant id 11111111-2222-3333-4444-555555555555, not "
      "0f2c5a4e-1111-2222-3333-444455556666" },
    { "dualsync-journal 2 0f2c5a4e-1111-2222-3333-444455556666 0\n= " REC("A", "pending")
      "* A\n", ":3: unknown journal operation '*'" },
    { "dualsync-journal 1 0f2c5a4e-1111-2222-3333-444455556666 0\n! A\tinvite\tcid\n",
      ":2: intent for anchor A, which has no record" },
    { "dualsync-journal 1 0f2c5a4e-1111-2222-3333-444455556666 0\n= A\tpending\n",
      ":2: record has 2 fields, 13 expected" },
    { "dualsync-journal 2 0f2c5a4e-1111-2222-3333-444455556666 0\n= A\tpending\n",
      ":2: record has 2 fields, 14 expected" },
    /* a version 1 image in a version 2 journal, and a damaged reason */
    { "dualsync-journal 2 0f2c5a4e-1111-2222-3333-444455556666 0\n"
      "= A\tpending\tmember\t\t\t\t\t\t\t\t\t\t\n", ":2: record has 13 fields, 14 expected" },
    { "dualsync-journal 2 0f2c5a4e-1111-2222-3333-444455556666 0\n"
      "= A\tblocked\tmember\t\t\t\t\t\t\t\t\t\t\tcross-tenant\n",
      ":2: unknown reason 'cross-tenant' (none, usertype-blocked or cross-tenant-blocked expected); "
      "move the journal aside" },
    { "dualsync-journal 1 0f2c5a4e-1111-2222-3333-444455556666 0\nH Colour\tblue\n",
      ":2: unknown header key 'Colour' in the journal" },
    { "dualsync-journal 1 0f2c5a4e-1111-2222-3333-444455556666 0\n=A\n",
      ":2: bad journal line (an operation and a space expected)" },
    { "dualsync-journal 1 0f2c5a4e-1111-2222-3333-444455556666 3\n",
      ":1: this journal continues generation 3 of the mapping file, which is at generation 0" },
    { "dualsync-journal 1 0f2c5a4e-1111-2222-3333-444455556666\n",
      ":1: the version line has no tenant id and generation" },
};

static void journal_refusals(void **state)
{
    struct fixture *fx = *state;
    char *journal = sibling(fx, ".journal");
    for (size_t i = 0; i < ARRAY_SIZE(bad_journals); i++) {
        spit(journal, bad_journals[i].text, strlen(bad_journals[i].text));
        struct mapstore *ms = NULL;
        capture_start();
        int rc = mapstore_open(fx->path, &contoso, MAPSTORE_CREATE, &ms);
        char *err = capture_end();
        char *want = xasprintf("%s%s", journal, bad_journals[i].message);
        if (rc != -1 || !strstr(err, want))
            fail_msg("case %zu: rc %d, got: %s\nwanted: %s", i, rc, err, want);
        char *now = slurp(journal);
        assert_string_equal(now, bad_journals[i].text);
        assert_false(exists(fx->path));
        free(now);
        free(want);
        free(err);
    }
    free(journal);
}

static void missing_file(void **state)
{
    struct fixture *fx = *state;
    struct mapstore *ms = NULL;
    capture_start();
    int rc = mapstore_open(fx->path, &contoso, MAPSTORE_READ_ONLY, &ms);
    char *err = capture_end();
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err, "no mapping file"));
    assert_non_null(strstr(err, "check mapping_dir"));
    free(err);
    /* with CREATE, a new store; closing it unchanged writes nothing */
    assert_int_equal(mapstore_open(fx->path, &contoso, MAPSTORE_CREATE, &ms), 0);
    assert_int_equal(mapstore_count(ms), 0);
    mapstore_close(ms);
    assert_false(exists(fx->path));
    /* committing a new store writes its header */
    ms = open_rw(fx);
    assert_int_equal(mapstore_commit(ms), 0);
    mapstore_close(ms);
    char *text = slurp(fx->path);
    assert_string_equal(text, "dualsync-map 2\nTenant contoso\n"
                              "TenantId 0f2c5a4e-1111-2222-3333-444455556666\nCloud global\n"
                              "Generation 1\nRecords 0\n\n");
    free(text);
}

/* A record read from the file whose only escapes are a tab, a newline or a
 * CR (no backslash is left once they are undone) is written escaped by the
 * next commit that rewrites the file: else its raw tab would add a field and
 * the next open would refuse the whole file. */
static void loaded_escapes_survive_a_rewrite(void **state)
{
    struct fixture *fx = *state;
    const char *text =
        "dualsync-map 1\nTenant contoso\nTenantId 0f2c5a4e-1111-2222-3333-444455556666\n"
        "Cloud global\nGeneration 1\nRecords 1\n\n"
        "A\tblocked\texternal-guest\t\t\tguid\tu@x\trule\t\t\t\tCN=A,DC=z\t"
        "onPremisesUserPrincipalName is set\\tchange the rule\\r\\nthat writes it\n";
    spit(fx->path, text, strlen(text));
    struct mapstore *ms = open_rw(fx);
    put(ms, record("B", MAP_STATE_PENDING));      /* a change: the commit rewrites A */
    assert_int_equal(mapstore_commit(ms), 0);
    mapstore_close(ms);
    char *now = slurp(fx->path);
    assert_non_null(strstr(now, "\tonPremisesUserPrincipalName is set\\tchange the rule\\r\\nthat "
                                "writes it\tnone\n"));
    ms = open_rw(fx);
    assert_string_equal(mapstore_find(ms, "A")->last_error,
                        "onPremisesUserPrincipalName is set\tchange the rule\r\nthat writes it");
    mapstore_close(ms);
    free(now);
}

/* ---- the reason field, and version 1 ----------------------------------- */

/* What a record's last error means to dualsync is the reason field: a message
 * worded anyhow keeps the reason it was put with, and the wording of old
 * messages means nothing by itself in version 2. */
static void reason_is_a_field(void **state)
{
    struct fixture *fx = *state;
    struct mapstore *ms = open_rw(fx);
    struct map_record a = record("A", MAP_STATE_ACCEPTED);
    a.reason = MAP_REASON_USER_TYPE_BLOCKED;
    a.last_error = "Graph would not change this user's userType (403 Authorization_RequestDenied)";
    put(ms, a);
    struct map_record b = record("B", MAP_STATE_BLOCKED);
    b.reason = MAP_REASON_CROSS_TENANT_BLOCKED;
    b.last_error = "cross-tenant access keeps home tenant gcch out\tchange its outbound settings";
    put(ms, b);
    struct map_record c = record("C", MAP_STATE_INVITED);
    c.last_error = "userType change blocked: the old wording, put with no reason";
    put(ms, c);
    struct map_record d = record("D", MAP_STATE_BLOCKED);
    d.last_error = "home tenant gcch: cross-tenant access BLOCKED, the old wording again";
    put(ms, d);
    assert_int_equal(mapstore_commit(ms), 0);
    mapstore_close(ms);

    char *text = slurp(fx->path);
    assert_non_null(strstr(text, "\nA\taccepted\texternal-guest\tMember\t"));
    assert_non_null(strstr(text, "\tGraph would not change this user's userType (403 "
                                 "Authorization_RequestDenied)\tusertype-blocked\n"));
    assert_non_null(strstr(text, "\tcross-tenant access keeps home tenant gcch out\\tchange its "
                                 "outbound settings\tcross-tenant-blocked\n"));
    assert_non_null(strstr(text, "\tuserType change blocked: the old wording, put with no reason\tnone\n"));
    assert_non_null(strstr(text, "\thome tenant gcch: cross-tenant access BLOCKED, the old wording "
                                 "again\tnone\n"));
    ms = open_rw(fx);
    assert_int_equal(mapstore_find(ms, "A")->reason, MAP_REASON_USER_TYPE_BLOCKED);
    assert_int_equal(mapstore_find(ms, "B")->reason, MAP_REASON_CROSS_TENANT_BLOCKED);
    assert_int_equal(mapstore_find(ms, "C")->reason, MAP_REASON_NONE);
    assert_int_equal(mapstore_find(ms, "D")->reason, MAP_REASON_NONE);
    /* a change of the reason alone is a change: journaled, and read back */
    struct map_record c2 = *mapstore_find(ms, "C");
    c2.reason = MAP_REASON_USER_TYPE_BLOCKED;
    put(ms, c2);
    mapstore_close(ms);                      /* no commit: only in the journal */
    ms = open_rw(fx);
    assert_int_equal(mapstore_find(ms, "C")->reason, MAP_REASON_USER_TYPE_BLOCKED);
    /* a reason out of range is the caller's bug: refused, nothing written */
    struct map_record bad = record("E", MAP_STATE_BLOCKED);
    bad.reason = MAP_REASON_COUNT;
    capture_start();
    int rc = mapstore_put(ms, &bad);
    char *err = capture_end();
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err, "record E: state, reason, decision or userType out of range"));
    assert_null(mapstore_find(ms, "E"));
    mapstore_close(ms);

    /* the words, exactly */
    for (int k = 0; k < MAP_REASON_COUNT; k++) {
        enum map_reason back;
        assert_int_equal(map_reason_parse(map_reason_name((enum map_reason)k), &back), 0);
        assert_int_equal(back, k);
    }
    assert_string_equal(map_reason_name(MAP_REASON_USER_TYPE_BLOCKED), "usertype-blocked");
    assert_string_equal(map_reason_name(MAP_REASON_CROSS_TENANT_BLOCKED), "cross-tenant-blocked");
    assert_int_equal(map_reason_parse("", &(enum map_reason){ 0 }), -1);
    assert_int_equal(map_reason_parse("None", &(enum map_reason){ 0 }), -1);
    free(err);
    free(text);
}

/* Version 1 records, as that release wrote them (its 13 fields, escaped as in
 * the file), and the reason the upgrade must find: version 2 appends it. */
static const struct {
    const char *head, *tail;   /* the line, cut anywhere: fields 1-2 and 3-13 here */
    const char *reason;
} v1_records[] = {
    /* Graph refused this user's userType change: planner_user_type_blocked */
    { "AAAAAAAAAAAAAAAAAAAAAA==\taccepted",
      "external-guest\tMember\t9c2a4f0e-1d7b-4e8a-b1c3-5f6a7b8c9d0e\td4258ee0-c963-4c75-b6a7-4afc70761ae3\t"
      "zo\303\253.\303\245ngstr\303\266m@corp.example\tnon-us-guest\t2024-05-01T12:00:00Z\t2024-05-01T13:00:00Z\t"
      "2b0a1c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d\tCN=Dubois\\\\, Fran\303\247ois,OU=FR,DC=corp,DC=example\t"
      "userType change blocked: setting userType Guest refused (403 Authorization_RequestDenied): "
      "Insufficient privileges\\tcomplete the operation; the user holds an administrator role "
      "(request-id r1, client-request-id c1)", "usertype-blocked" },
    /* kept out by cross-tenant access: planner_cross_tenant_blocked */
    { "q1t5V8mZQ0eB6Xw3YkR2sA==\tblocked",
      "external-member\t\t1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b\t8e1f3c2a-77b0-4c5e-9d6f-1a2b3c4d5e6f\t"
      "alice.smith@corp.example\tus-member\t2024-05-01T12:00:00Z\t2024-05-02T12:00:00Z\t\t"
      "CN=Alice Smith,OU=US,DC=corp,DC=example\thome tenant gcch: cross-tenant access BLOCKED on both "
      "sides: tenant commercial blocks B2B collaboration inbound from gcch\\nand back", "cross-tenant-blocked" },
    /* the same text on a record gone since: the reason goes with the text */
    { "custom:gone-one\tgone",
      "external-member\t\t\tguid-3\tgone@corp.example\tus-member\t2024-05-01T12:00:00Z\t2024-05-03T12:00:00Z\t\t"
      "CN=Gone,DC=corp,DC=example\thome tenant commercial: cross-tenant access BLOCKED on gcch's side",
      "cross-tenant-blocked" },
    /* blocked for another reason, even one that starts the same way */
    { "custom:upn\tblocked",
      "external-guest\t\t\tguid-4\tupn@corp.example\tnon-us-guest\t2024-05-01T12:00:00Z\t2024-05-01T12:00:00Z\t\t"
      "CN=Upn,DC=corp,DC=example\tonPremisesUserPrincipalName is set\\tchange the Connect rule that writes it",
      "none" },
    { "custom:home\tblocked",
      "external-guest\t\t\tguid-5\thome@corp.example\tnon-us-guest\t\t\t\tCN=Home,DC=corp,DC=example\t"
      "home tenant unknown; no cross-tenant verdict", "none" },
    /* a userType failure to try again is not a block */
    { "custom:retry\tinvited",
      "external-guest\tMember\tcid-6\tguid-6\tretry@corp.example\tnon-us-guest\t2024-05-01T12:00:00Z\t"
      "2024-05-01T12:00:00Z\tinv-6\tCN=Retry,DC=corp,DC=example\t"
      "setting userType Guest refused (503 ServiceUnavailable): try later", "none" },
    { "custom:plain\tpending", "member\t\t\t\t\t\t\t\t\t\t", "none" },
};

static char *v1_map(const char *generation)
{
    struct strbuf sb = STRBUF_INIT;
    strbuf_addf(&sb, "dualsync-map 1\nTenant contoso\nTenantId 0f2c5a4e-1111-2222-3333-444455556666\n"
                "Cloud global\nGeneration %s\nRecords %zu\nWatermark usn:5d3c1e2f:918273\\tx\n"
                "DeltaLink https://graph.microsoft.com/v1.0/users/delta?$deltatoken=Ab3\n\n",
                generation, ARRAY_SIZE(v1_records));
    for (size_t i = 0; i < ARRAY_SIZE(v1_records); i++)
        strbuf_addf(&sb, "%s\t%s\n", v1_records[i].head, v1_records[i].tail);
    return strbuf_detach(&sb);
}

/* A version 1 file reads with the reasons its texts meant, and one commit
 * writes it again as version 2 with nothing lost: the expected text is the
 * version 1 text with the reason put in each line, field for field. */
static void version_1_file_is_upgraded(void **state)
{
    struct fixture *fx = *state;
    char *v1 = v1_map("7");
    spit(fx->path, v1, strlen(v1));
    struct strbuf want = STRBUF_INIT;
    strbuf_addf(&want, "dualsync-map 2\nTenant contoso\nTenantId 0f2c5a4e-1111-2222-3333-444455556666\n"
                "Cloud global\nGeneration 8\nRecords %zu\nWatermark usn:5d3c1e2f:918273\\tx\n"
                "DeltaLink https://graph.microsoft.com/v1.0/users/delta?$deltatoken=Ab3\n\n",
                ARRAY_SIZE(v1_records));
    for (size_t i = 0; i < ARRAY_SIZE(v1_records); i++)
        strbuf_addf(&want, "%s\t%s\t%s\n", v1_records[i].head, v1_records[i].tail, v1_records[i].reason);

    /* read-only: the reasons are there, the file is left as it is */
    struct mapstore *ms = NULL;
    assert_int_equal(mapstore_open(fx->path, &contoso, MAPSTORE_READ_ONLY, &ms), 0);
    assert_int_equal(mapstore_header(ms)->version, 1);
    size_t pos = 0, i = 0;
    const struct map_record *r;
    while ((r = mapstore_next(ms, &pos)))
        assert_string_equal(map_reason_name(r->reason), v1_records[i++].reason);
    assert_int_equal(i, ARRAY_SIZE(v1_records));
    char *ro_dump = dump(ms);
    assert_int_equal(mapstore_commit(ms), 0);
    mapstore_close(ms);
    char *now = slurp(fx->path);
    assert_string_equal(now, v1);
    free(now);

    /* writable, nothing changed: the commit writes version 2 all the same */
    ms = open_rw(fx);
    char *before = dump(ms);
    assert_string_equal(before, ro_dump);
    const struct map_record *a = mapstore_find(ms, "AAAAAAAAAAAAAAAAAAAAAA==");
    assert_int_equal(a->reason, MAP_REASON_USER_TYPE_BLOCKED);
    assert_string_equal(a->upn, "zoë.ångström@corp.example");
    assert_string_equal(a->dn, "CN=Dubois\\, François,OU=FR,DC=corp,DC=example");
    assert_non_null(strstr(a->last_error, "Insufficient privileges\tcomplete"));
    assert_int_equal(a->first_change, 1714564800);
    assert_string_equal(mapstore_header(ms)->watermark, "usn:5d3c1e2f:918273\tx");
    assert_int_equal(mapstore_commit(ms), 0);
    assert_int_equal(mapstore_header(ms)->version, 2);
    mapstore_close(ms);
    now = slurp(fx->path);
    assert_string_equal(now, want.buf);
    char *ls = listing(fx->dir);
    assert_string_equal(ls, "contoso.map\ncontoso.map.lock\n");

    /* read back: the same state; and once version 2, a commit of nothing
     * writes nothing */
    struct stat st1, st2;
    assert_int_equal(stat(fx->path, &st1), 0);
    ms = open_rw(fx);
    assert_int_equal(mapstore_header(ms)->version, 2);
    char *after = dump(ms);
    assert_string_equal(before, after);
    assert_int_equal(mapstore_commit(ms), 0);
    mapstore_close(ms);
    assert_int_equal(stat(fx->path, &st2), 0);
    assert_int_equal(st1.st_ino, st2.st_ino);

    /* a version 1 file with a version 2 journal beside it (this release
     * changed it, and stopped before its commit) reads as one */
    spit(fx->path, v1, strlen(v1));
    ms = open_rw(fx);
    struct map_record e = record("custom:new", MAP_STATE_BLOCKED);
    e.reason = MAP_REASON_CROSS_TENANT_BLOCKED;
    put(ms, e);
    mapstore_close(ms);
    ms = open_rw(fx);
    assert_int_equal(mapstore_find(ms, "custom:new")->reason, MAP_REASON_CROSS_TENANT_BLOCKED);
    assert_int_equal(mapstore_find(ms, "q1t5V8mZQ0eB6Xw3YkR2sA==")->reason,
                     MAP_REASON_CROSS_TENANT_BLOCKED);
    mapstore_close(ms);

    free(after);
    free(ls);
    free(now);
    free(before);
    free(ro_dump);
    strbuf_release(&want);
    free(v1);
}

/* A journal of version 1 (the release before stopped without its commit, and
 * this one takes over): replayed with its reasons, folded into a version 2
 * snapshot at once so that no version 2 line is appended to it, its open
 * intent kept and in doubt. */
static void version_1_journal_is_folded(void **state)
{
    struct fixture *fx = *state;
    char *v1 = v1_map("7");
    spit(fx->path, v1, strlen(v1));
    char *journal = sibling(fx, ".journal");
    const char *jtext =
        "dualsync-journal 1 0f2c5a4e-1111-2222-3333-444455556666 7\n"
        "= custom:retry\tinvited\texternal-guest\tMember\tcid-6\tguid-6\tretry@corp.example\t"
        "non-us-guest\t2024-05-01T12:00:00Z\t2024-05-04T12:00:00Z\tinv-6\tCN=Retry,DC=corp,DC=example\t"
        "userType change blocked: setting userType Guest refused (403 Authorization_RequestDenied)\n"
        "! custom:plain\tinvite\tcid-7\n"
        "= custom:upn\tblocked\texternal-guest\t\t\tguid-4\tupn@corp.example\tnon-us-guest\t"
        "2024-05-01T12:00:00Z\t2024-05-04T12:00:00Z\t\tCN=Upn,DC=corp,DC=example\t"
        "home tenant gcch: cross-tenant access BLOCKED on gcch's side\n"
        "= custom:torn\tpend";
    spit(journal, jtext, strlen(jtext));

    /* read-only: replayed, nothing written */
    struct mapstore *ms = NULL;
    capture_start();
    assert_int_equal(mapstore_open(fx->path, &contoso, MAPSTORE_READ_ONLY, &ms), 0);
    free(capture_end());
    assert_int_equal(mapstore_find(ms, "custom:retry")->reason, MAP_REASON_USER_TYPE_BLOCKED);
    assert_int_equal(mapstore_find(ms, "custom:upn")->reason, MAP_REASON_CROSS_TENANT_BLOCKED);
    char *ro = dump(ms);
    mapstore_close(ms);
    char *jnow = slurp(journal);
    assert_string_equal(jnow, jtext);
    free(jnow);

    /* the fold is a commit: a crash after each of its steps (snapshot
     * written, renamed, journal replaced) leaves files that the next open
     * reads as the same state, the intent still in doubt, in version 2 */
    for (long n = 1; n <= 4; n++) {
        spit(fx->path, v1, strlen(v1));
        spit(journal, jtext, strlen(jtext));
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            struct mapstore *c;
            capture_start();
            mapstore_test_step_limit(mapstore_test_steps() + n);
            _exit(mapstore_open(fx->path, &contoso, 0, &c) ? 1 : 0);
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        /* three steps: the fourth is never reached */
        if (!WIFEXITED(status) || WEXITSTATUS(status) != (n <= 3 ? 100 : 0))
            fail_msg("step %ld: the open ended with status %d", n, status);
        struct mapstore *got = NULL;
        capture_start();
        int rc = mapstore_open(fx->path, &contoso, 0, &got);
        char *err = capture_end();
        if (rc)
            fail_msg("step %ld: reopen failed: %s", n, err);
        char *have = dump(got);
        assert_string_equal(ro, have);
        const struct map_intent *d;
        assert_int_equal(mapstore_in_doubt(got, &d), 1);
        assert_string_equal(d[0].anchor, "custom:plain");
        mapstore_close(got);
        char *m = slurp(fx->path), *j = slurp(journal);
        assert_int_equal(strncmp(m, "dualsync-map 2\n", 15), 0);
        assert_int_equal(strncmp(j, "dualsync-journal 2 ", 19), 0);
        free(j);
        free(m);
        free(have);
        free(err);
    }
    spit(fx->path, v1, strlen(v1));
    spit(journal, jtext, strlen(jtext));

    capture_start();
    ms = open_rw(fx);
    free(capture_end());
    char *rw = dump(ms);
    assert_string_equal(ro, rw);
    const struct map_intent *doubt;
    assert_int_equal(mapstore_in_doubt(ms, &doubt), 1);
    assert_string_equal(doubt[0].anchor, "custom:plain");
    assert_string_equal(doubt[0].arg, "cid-7");
    assert_null(mapstore_find(ms, "custom:torn"));
    /* on disk already: version 2, the journal down to the open intent */
    char *map_now = slurp(fx->path);
    assert_int_equal(strncmp(map_now, "dualsync-map 2\n", 15), 0);
    assert_non_null(strstr(map_now, "\nGeneration 8\n"));
    assert_non_null(strstr(map_now, "\ncustom:retry\tinvited\texternal-guest\t"));
    assert_non_null(strstr(map_now, "userType change blocked: setting userType Guest refused (403 "
                                    "Authorization_RequestDenied)\tusertype-blocked\n"));
    assert_non_null(strstr(map_now, "\ncustom:upn\tblocked\texternal-guest\t"));
    assert_non_null(strstr(map_now, "\thome tenant gcch: cross-tenant access BLOCKED on gcch's "
                                    "side\tcross-tenant-blocked\n"));
    jnow = slurp(journal);
    assert_string_equal(jnow, "dualsync-journal 2 0f2c5a4e-1111-2222-3333-444455556666 8\n"
                              "! custom:plain\tinvite\tcid-7\n");
    free(jnow);
    /* what comes next is appended in version 2 */
    struct map_record p = *mapstore_find(ms, "custom:plain");
    p.state = MAP_STATE_INVITED;
    put(ms, p);
    mapstore_close(ms);
    jnow = slurp(journal);
    assert_non_null(strstr(jnow, "\n= custom:plain\tinvited\tmember\t"));
    assert_non_null(strstr(jnow, "\tnone\n"));
    ms = open_rw(fx);
    assert_int_equal(mapstore_in_doubt(ms, &doubt), 0);
    assert_int_equal(mapstore_find(ms, "custom:plain")->state, MAP_STATE_INVITED);
    assert_int_equal(mapstore_find(ms, "custom:retry")->reason, MAP_REASON_USER_TYPE_BLOCKED);
    mapstore_close(ms);

    free(jnow);
    free(map_now);
    free(rw);
    free(ro);
    free(journal);
    free(v1);
}

/* ---- crash at every journal step --------------------------------------- */

enum op_kind { OP_PUT, OP_GONE, OP_REMOVE, OP_INTENTS, OP_WATERMARK, OP_DELTA, OP_COMMIT };
struct op {
    enum op_kind kind;
    const char *anchor;
    enum map_state state;
    const char *text;                    /* upn, or header value */
    const char *intents[3];              /* OP_INTENTS: anchors, each "invite <anchor>-cid" */
};

static const struct op script[] = {
    { OP_PUT, "A", MAP_STATE_PENDING, "a@corp.example" },
    { OP_PUT, "B", MAP_STATE_PENDING, "b@corp.example" },
    { OP_WATERMARK, .text = "usn:guid:100" },
    { OP_PUT, "C", MAP_STATE_PENDING, "c\tx@corp.example" },
    { OP_COMMIT },
    { OP_PUT, "A", MAP_STATE_PENDING, "a2@corp.example" },
    { OP_INTENTS, .intents = { "A" } },
    { OP_PUT, "A", MAP_STATE_INVITED, "a2@corp.example" },
    { OP_INTENTS, .intents = { "B", "C", "A" } },
    { OP_PUT, "B", MAP_STATE_INVITED, "b@corp.example" },
    { OP_PUT, "D", MAP_STATE_BLOCKED, "d@corp.example" },
    { OP_GONE, "D" },
    { OP_REMOVE, "B" },
    { OP_DELTA, .text = "https://graph.microsoft.com/v1.0/users/delta?$deltatoken=1" },
    { OP_COMMIT },                       /* C and A still open: carried over */
    { OP_PUT, "E", MAP_STATE_PENDING, "e@corp.example" },
    { OP_INTENTS, .intents = { "E" } },
    { OP_COMMIT },
    { OP_PUT, "C", MAP_STATE_ACCEPTED, "c\tx@corp.example" },
    { OP_PUT, "A", MAP_STATE_ACCEPTED, "a2@corp.example" },
    { OP_WATERMARK, .text = "usn:guid:200" },
    { OP_COMMIT },
    { OP_PUT, "B", MAP_STATE_PENDING, "b-again@corp.example" },
};

/* Apply op; with `only` > 0, only the first `only` intents of an OP_INTENTS
 * (the model of a crash in the middle of a batch). 0 or -1. */
static int apply_op(struct mapstore *ms, const struct op *op, size_t only)
{
    struct map_record r;
    switch (op->kind) {
    case OP_PUT:
        r = record(op->anchor, op->state);
        r.upn = op->text;
        r.dn = HOSTILE_DN;
        /* the reason is recovered with the rest of the image */
        r.reason = op->state == MAP_STATE_BLOCKED ? MAP_REASON_CROSS_TENANT_BLOCKED
                 : op->state == MAP_STATE_ACCEPTED ? MAP_REASON_USER_TYPE_BLOCKED : MAP_REASON_NONE;
        return mapstore_put(ms, &r);
    case OP_GONE:
        return mapstore_mark_gone(ms, op->anchor, 1714600000);
    case OP_REMOVE:
        return mapstore_remove(ms, op->anchor);
    case OP_INTENTS: {
        struct map_intent in[3];
        char args[3][32];
        size_t n = 0;
        for (; n < 3 && op->intents[n]; n++) {
            snprintf(args[n], sizeof(args[n]), "%s-cid", op->intents[n]);
            in[n] = (struct map_intent){ op->intents[n], "invite", args[n] };
        }
        return mapstore_intents(ms, in, only ? only : n);
    }
    case OP_WATERMARK:
        return mapstore_set_watermark(ms, op->text);
    case OP_DELTA:
        return mapstore_set_delta_link(ms, op->text);
    case OP_COMMIT:
        return mapstore_commit(ms);
    }
    return -1;
}

static void crash_at_every_step(void **state)
{
    struct fixture *fx = *state;
    enum { NOPS = ARRAY_SIZE(script) };

    /* a run without crash: how many steps each op takes */
    long after[NOPS];
    struct mapstore *ms = open_rw(fx);
    long base = mapstore_test_steps();
    for (size_t i = 0; i < NOPS; i++) {
        assert_int_equal(apply_op(ms, &script[i], 0), 0);
        after[i] = mapstore_test_steps() - base;
    }
    mapstore_close(ms);
    long total = after[NOPS - 1];
    assert_true(total > 30);
    print_message("crash test: %ld journal steps, a crash after each\n", total);

    for (long n = 1; n <= total; n++) {
        empty_dir(fx->dir);
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            /* the child runs the script until the n-th step ends it; no
             * cmocka asserts here (they would unwind into the parent's run) */
            mapstore_test_step_limit(mapstore_test_steps() + n);
            struct mapstore *c;
            if (mapstore_open(fx->path, &contoso, MAPSTORE_CREATE, &c))
                _exit(1);
            for (size_t i = 0; i < NOPS; i++)
                if (apply_op(c, &script[i], 0))
                    _exit(2);
            _exit(0);
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 100)
            fail_msg("step %ld: child ended with status %d, not the crash exit 100", n, status);

        /* the model: the ops whose steps are all done, and the first intents
         * of a batch the crash cut short (each intent is one step) */
        struct mapstore *model = NULL;
        char *nowhere = xasprintf("%s/model/contoso.map", fx->dir);
        assert_int_equal(mapstore_open(nowhere, &contoso, MAPSTORE_READ_ONLY | MAPSTORE_CREATE,
                                       &model), 0);
        for (size_t i = 0; i < NOPS; i++) {
            if (after[i] <= n) {
                assert_int_equal(apply_op(model, &script[i], 0), 0);
                continue;
            }
            if (script[i].kind == OP_INTENTS) {
                /* one step per intent line, the last steps of the op (a first
                 * step may create the journal) */
                long count = 0;
                while (count < 3 && script[i].intents[count])
                    count++;
                long lines = n - (after[i] - count);
                if (lines > 0)
                    assert_int_equal(apply_op(model, &script[i], (size_t)lines), 0);
            }
            break;
        }
        char *want = dump(model);

        /* recovery: what the crashed run left must read back as the model */
        capture_start();
        struct mapstore *got = NULL;
        int rc = mapstore_open(fx->path, &contoso, MAPSTORE_CREATE, &got);
        char *err = capture_end();
        if (rc)
            fail_msg("step %ld: reopen failed: %s", n, err);
        char *have = dump(got);
        if (strcmp(want, have))
            fail_msg("step %ld: recovered state differs\nwant:\n%s\nhave:\n%s", n, want, have);
        /* in doubt: exactly the model's open intents, in journal order */
        const struct map_intent *doubt;
        size_t nd = mapstore_in_doubt(got, &doubt);
        size_t pos = 0, open = 0;
        const struct map_record *r;
        while ((r = mapstore_next(model, &pos)))
            open += mapstore_intent_of(model, r->anchor) != NULL;
        assert_int_equal(nd, open);
        for (size_t i = 0; i < nd; i++) {
            const struct map_intent *m = mapstore_intent_of(model, doubt[i].anchor);
            assert_non_null(m);
            assert_string_equal(m->op, doubt[i].op);
            assert_string_equal(m->arg, doubt[i].arg);
        }
        /* the temporary file a crash left mid-commit is gone after a
         * writable open: only the store's own files remain */
        char *ls_open = listing(fx->dir);
        if (strstr(ls_open, ".tmp-"))
            fail_msg("step %ld: a temporary file survived a writable open:\n%s", n, ls_open);
        free(ls_open);

        /* the rerun commits: the same state again, and a clean directory */
        assert_int_equal(mapstore_commit(got), 0);
        mapstore_close(got);
        got = NULL;
        assert_int_equal(mapstore_open(fx->path, &contoso, 0, &got), 0);
        char *again = dump(got);
        assert_string_equal(want, again);
        mapstore_close(got);
        char *ls = listing(fx->dir);
        assert_string_equal(ls, open ? "contoso.map\ncontoso.map.journal\ncontoso.map.lock\n"
                                     : "contoso.map\ncontoso.map.lock\n");
        free(ls);
        free(again);
        free(have);
        free(err);
        free(want);
        mapstore_close(model);
        free(nowhere);
    }
}

/* ---- torn lines, intents in doubt, read-only --------------------------- */

static void torn_last_journal_line(void **state)
{
    struct fixture *fx = *state;
    struct mapstore *ms = open_rw(fx);
    put(ms, record("A", MAP_STATE_PENDING));
    assert_int_equal(mapstore_commit(ms), 0);
    put(ms, record("X", MAP_STATE_PENDING));
    mapstore_close(ms);                      /* no commit: X is only in the journal */

    char *journal = sibling(fx, ".journal");
    char *text = slurp(journal);
    /* a crash in the middle of the next line: half a record, no newline */
    char *torn = xasprintf("%s= Y\tinvited\texternal-gu", text);
    spit(journal, torn, strlen(torn));

    /* read-only: X is there, Y is not, and nothing is written */
    char *ls_before = listing(fx->dir);
    assert_int_equal(mapstore_open(fx->path, &contoso, MAPSTORE_READ_ONLY, &ms), 0);
    assert_non_null(mapstore_find(ms, "X"));
    assert_null(mapstore_find(ms, "Y"));
    put(ms, record("Z", MAP_STATE_PENDING));           /* in memory only */
    assert_int_equal(mapstore_commit(ms), 0);
    mapstore_close(ms);
    char *ls_after = listing(fx->dir);
    assert_string_equal(ls_before, ls_after);
    char *still = slurp(journal);
    assert_string_equal(still, torn);

    /* writable: the torn tail is cut before the next line is appended */
    capture_start();
    int rc = mapstore_open(fx->path, &contoso, 0, &ms);
    char *err = capture_end();
    assert_int_equal(rc, 0);
    char *want = xasprintf("%s:3: ignoring an incomplete last line", journal);
    assert_non_null(strstr(err, want));
    put(ms, record("W", MAP_STATE_PENDING));
    mapstore_close(ms);
    char *fixed = slurp(journal);
    assert_int_equal(strncmp(fixed, text, strlen(text)), 0);
    assert_int_equal(strncmp(fixed + strlen(text), "= W\t", 4), 0);
    assert_null(strstr(fixed, "external-gu\t"));
    ms = open_rw(fx);
    assert_non_null(mapstore_find(ms, "A"));
    assert_non_null(mapstore_find(ms, "X"));
    assert_non_null(mapstore_find(ms, "W"));
    assert_null(mapstore_find(ms, "Y"));
    assert_null(mapstore_find(ms, "Z"));
    mapstore_close(ms);

    /* a journal torn inside its version line holds nothing */
    spit(journal, "dualsync-jour", 13);
    capture_start();
    rc = mapstore_open(fx->path, &contoso, 0, &ms);
    free(capture_end());
    assert_int_equal(rc, 0);
    assert_non_null(mapstore_find(ms, "A"));
    assert_null(mapstore_find(ms, "X"));
    put(ms, record("V", MAP_STATE_PENDING));
    mapstore_close(ms);
    ms = open_rw(fx);
    assert_non_null(mapstore_find(ms, "V"));
    mapstore_close(ms);

    free(fixed);
    free(want);
    free(err);
    free(still);
    free(ls_before);
    free(ls_after);
    free(torn);
    free(text);
    free(journal);
}

static void intents_in_doubt(void **state)
{
    struct fixture *fx = *state;
    struct mapstore *ms = open_rw(fx);
    put(ms, record("A", MAP_STATE_PENDING));
    put(ms, record("B", MAP_STATE_PENDING));
    put(ms, record("C", MAP_STATE_PENDING));
    struct map_intent batch[] = { { "A", "invite", "cid-a" }, { "B", "invite", "cid-b" },
                                  { "C", "set-user-type", "Guest" } };
    assert_int_equal(mapstore_intents(ms, batch, 3), 0);
    assert_non_null(mapstore_intent_of(ms, "A"));
    put(ms, record("A", MAP_STATE_INVITED));           /* the outcome of A's call */
    assert_null(mapstore_intent_of(ms, "A"));
    assert_int_equal(mapstore_remove(ms, "C"), 0);     /* a removal closes C's */
    mapstore_close(ms);                                /* crash-like: no commit */

    ms = open_rw(fx);
    const struct map_intent *doubt;
    assert_int_equal(mapstore_in_doubt(ms, &doubt), 1);
    assert_string_equal(doubt[0].anchor, "B");
    assert_string_equal(doubt[0].op, "invite");
    assert_string_equal(doubt[0].arg, "cid-b");
    assert_int_equal(mapstore_find(ms, "A")->state, MAP_STATE_INVITED);
    /* a commit keeps the open intent: the journal holds it alone */
    assert_int_equal(mapstore_commit(ms), 0);
    mapstore_close(ms);
    char *journal = sibling(fx, ".journal");
    char *text = slurp(journal);
    assert_string_equal(text, "dualsync-journal 2 0f2c5a4e-1111-2222-3333-444455556666 1\n"
                              "! B\tinvite\tcid-b\n");
    ms = open_rw(fx);
    assert_int_equal(mapstore_in_doubt(ms, &doubt), 1);
    assert_string_equal(doubt[0].anchor, "B");
    /* Graph says B was invited: record it, commit, and the journal goes */
    put(ms, record("B", MAP_STATE_INVITED));
    assert_int_equal(mapstore_commit(ms), 0);
    mapstore_close(ms);
    assert_false(exists(journal));
    ms = open_rw(fx);
    assert_int_equal(mapstore_in_doubt(ms, &doubt), 0);
    assert_int_equal(mapstore_find(ms, "B")->state, MAP_STATE_INVITED);
    mapstore_close(ms);
    free(text);
    free(journal);
}

static void intents_are_on_disk_before_return(void **state)
{
    struct fixture *fx = *state;
    struct mapstore *ms = open_rw(fx);
    put(ms, record("A", MAP_STATE_PENDING));
    assert_int_equal(mapstore_intent(ms, "A", "invite", "cid"), 0);
    /* what a process killed right now would leave: read it from the file */
    struct mapstore *ro = NULL;
    assert_int_equal(mapstore_open(fx->path, &contoso, MAPSTORE_READ_ONLY, &ro), 0);
    const struct map_intent *doubt;
    assert_int_equal(mapstore_in_doubt(ro, &doubt), 1);
    assert_string_equal(doubt[0].anchor, "A");
    mapstore_close(ro);
    mapstore_close(ms);
}

static void read_only_writes_nothing(void **state)
{
    struct fixture *fx = *state;
    struct mapstore *ms = open_rw(fx);
    put(ms, record("A", MAP_STATE_PENDING));
    assert_int_equal(mapstore_commit(ms), 0);
    put(ms, record("B", MAP_STATE_PENDING));
    mapstore_close(ms);
    char *lock = sibling(fx, ".lock");
    unlink(lock);
    char *newp = sibling(fx, ".tmp-0123456789ab");
    spit(newp, "stale", 5);                  /* a commit a crash cut short */
    char *ls = listing(fx->dir);
    char *map_before = slurp(fx->path);
    struct stat st1, st2;
    assert_int_equal(stat(fx->path, &st1), 0);

    assert_int_equal(mapstore_open(fx->path, &contoso, MAPSTORE_READ_ONLY, &ms), 0);
    assert_int_equal(mapstore_count(ms), 2);
    put(ms, record("C", MAP_STATE_PENDING));
    assert_int_equal(mapstore_intent(ms, "C", "invite", "x"), 0);
    assert_int_equal(mapstore_set_watermark(ms, "usn:x:1"), 0);
    assert_int_equal(mapstore_remove(ms, "A"), 0);
    assert_int_equal(mapstore_commit(ms), 0);
    assert_int_equal(mapstore_count(ms), 2);
    mapstore_close(ms);

    char *ls2 = listing(fx->dir);
    assert_string_equal(ls, ls2);            /* no lock, no journal, temp left alone */
    char *map_after = slurp(fx->path);
    assert_string_equal(map_before, map_after);
    assert_int_equal(stat(fx->path, &st2), 0);
    assert_int_equal(st1.st_mtime, st2.st_mtime);
    assert_int_equal(st1.st_ino, st2.st_ino);

    /* a writable open drops the stale temporary file */
    ms = open_rw(fx);
    assert_false(exists(newp));
    assert_int_equal(mapstore_count(ms), 2);
    mapstore_close(ms);
    free(ls);
    free(ls2);
    free(map_before);
    free(map_after);
    free(newp);
    free(lock);
}

/* ---- lock, modes, commit leftovers ------------------------------------- */

static void lock_conflict_names_pid(void **state)
{
    struct fixture *fx = *state;
    struct mapstore *ms = open_rw(fx);
    char *lock = sibling(fx, ".lock");
    long me = (long)getpid();
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct mapstore *c = NULL;
        capture_start();
        int rc = mapstore_open(fx->path, &contoso, MAPSTORE_CREATE, &c);
        char *err = capture_end();
        char *want = xasprintf("tenant contoso is in use by another dualsync run (pid %ld holds "
                               "the lock %s); wait for it to finish", me, lock);
        if (rc != -1 || c)
            _exit(1);
        if (!strstr(err, want)) {
            fprintf(stderr, "got: %s\nwanted: %s\n", err, want);
            _exit(2);
        }
        /* a read-only open is not held off */
        if (mapstore_open(fx->path, &contoso, MAPSTORE_READ_ONLY | MAPSTORE_CREATE, &c))
            _exit(3);
        mapstore_close(c);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);

    /* a second open in this process is refused too (fcntl locks would not) */
    struct mapstore *twice = NULL;
    capture_start();
    int rc = mapstore_open(fx->path, &contoso, MAPSTORE_CREATE, &twice);
    char *err = capture_end();
    assert_int_equal(rc, -1);
    char *want = xasprintf("(pid %ld holds the lock %s)", me, lock);
    assert_non_null(strstr(err, want));
    /* the refused open did not drop the lock we hold */
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        struct mapstore *c = NULL;
        capture_start();
        int crc = mapstore_open(fx->path, &contoso, MAPSTORE_CREATE, &c);
        free(capture_end());
        _exit(crc == -1 ? 0 : 1);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(WEXITSTATUS(status), 0);

    /* released on close; and by the kernel when a holder dies */
    mapstore_close(ms);
    ms = open_rw(fx);
    mapstore_close(ms);
    pid = fork();
    if (pid == 0) {
        struct mapstore *c = NULL;
        if (mapstore_open(fx->path, &contoso, MAPSTORE_CREATE, &c))
            _exit(1);
        _Exit(100);                          /* dies holding it */
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(WEXITSTATUS(status), 100);
    ms = open_rw(fx);
    mapstore_close(ms);
    free(want);
    free(err);
    free(lock);
}

static void files_are_0600(void **state)
{
    struct fixture *fx = *state;
    mode_t old = umask(0);
    struct mapstore *ms = open_rw(fx);
    put(ms, record("A", MAP_STATE_PENDING));
    assert_int_equal(mapstore_commit(ms), 0);
    put(ms, record("B", MAP_STATE_PENDING));
    assert_int_equal(mapstore_intent(ms, "B", "invite", "b"), 0);
    const char *suffixes[] = { "", ".journal", ".lock" };
    for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++) {
        char *p = sibling(fx, suffixes[i]);
        struct stat st;
        assert_int_equal(stat(p, &st), 0);
        if ((st.st_mode & 07777) != 0600)
            fail_msg("%s has mode %04o", p, (unsigned)(st.st_mode & 07777));
        free(p);
    }
    assert_int_equal(mapstore_commit(ms), 0);   /* intents-only journal, and the map */
    mapstore_close(ms);
    for (size_t i = 0; i < 2; i++) {
        char *p = sibling(fx, suffixes[i]);
        struct stat st;
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        free(p);
    }
    /* a file restored from a backup with a wider mode is narrowed on write */
    assert_int_equal(chmod(fx->path, 0644), 0);
    ms = open_rw(fx);
    put(ms, record("B", MAP_STATE_INVITED));
    assert_int_equal(mapstore_commit(ms), 0);
    mapstore_close(ms);
    struct stat st;
    assert_int_equal(stat(fx->path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    umask(old);
}

static void commit_leaves_nothing_behind(void **state)
{
    struct fixture *fx = *state;
    struct mapstore *ms = open_rw(fx);
    for (int i = 0; i < 50; i++) {
        char a[16];
        snprintf(a, sizeof(a), "a%d", i);
        put(ms, record(a, MAP_STATE_PENDING));
    }
    assert_int_equal(mapstore_commit(ms), 0);
    char *ls = listing(fx->dir);
    assert_string_equal(ls, "contoso.map\ncontoso.map.lock\n");
    free(ls);
    /* changes after a commit start a new journal, and a second commit folds it */
    put(ms, record("a1", MAP_STATE_INVITED));
    ls = listing(fx->dir);
    assert_string_equal(ls, "contoso.map\ncontoso.map.journal\ncontoso.map.lock\n");
    free(ls);
    assert_int_equal(mapstore_commit(ms), 0);
    mapstore_close(ms);
    ls = listing(fx->dir);
    assert_string_equal(ls, "contoso.map\ncontoso.map.lock\n");
    free(ls);
    ms = open_rw(fx);
    assert_int_equal(mapstore_find(ms, "a1")->state, MAP_STATE_INVITED);
    assert_int_equal(mapstore_count(ms), 50);
    mapstore_close(ms);
}

/* A write that fails (here: the file size limit, as a full disk would) breaks
 * the store: no later change, intent or commit gets through, so no Graph
 * call can be journaled after it; the next open recovers the complete lines. */
static void failed_write_is_fatal(void **state)
{
    struct fixture *fx = *state;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = { 4096, 4096 };
        if (setrlimit(RLIMIT_FSIZE, &rl))
            _exit(200);
        struct mapstore *ms;
        if (mapstore_open(fx->path, &contoso, MAPSTORE_CREATE, &ms))
            _exit(201);
        int ok = 0;
        char anchor[32];
        capture_start();
        for (; ok < 1000; ok++) {
            snprintf(anchor, sizeof(anchor), "anchor-%04d", ok);
            struct map_record r = record(anchor, MAP_STATE_PENDING);
            if (mapstore_put(ms, &r))
                break;
        }
        int intent = mapstore_intent(ms, "anchor-0000", "invite", "cid");
        int commit = mapstore_commit(ms);
        struct map_record r = record("late", MAP_STATE_PENDING);
        int late = mapstore_put(ms, &r);
        char *err = capture_end();
        if (ok == 1000 || intent != -1 || commit != -1 || late != -1)
            _exit(202);
        if (!strstr(err, "could not be written; stop the run") ||
            !strstr(err, "refusing a change after a failed write"))
            _exit(203);
        _exit(ok);          /* how many puts got through */
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    int ok = WEXITSTATUS(status);
    if (ok == 0 || ok >= 200)
        fail_msg("child failed with %d", ok);
    /* what reached the file is recovered: every put that returned 0 */
    struct mapstore *ms;
    capture_start();
    int rc = mapstore_open(fx->path, &contoso, MAPSTORE_CREATE, &ms);
    free(capture_end());
    assert_int_equal(rc, 0);
    assert_int_equal(mapstore_count(ms), (size_t)ok);
    assert_null(mapstore_intent_of(ms, "anchor-0000"));
    mapstore_close(ms);
}

static const char *self;

/* Run by a fresh process image (the first open of a process reads the
 * variable): open, then put; returns the exit code it did not crash with. */
static int env_child(const char *dir)
{
    char *path = xasprintf("%s/contoso.map", dir);
    struct mapstore *ms;
    if (mapstore_open(path, &contoso, MAPSTORE_CREATE, &ms))
        return 1;
    struct map_record r = record("A", MAP_STATE_PENDING);
    if (mapstore_put(ms, &r))                /* step 1: journal created; step 2: the line */
        return 2;
    return 3;
}

static void step_limit_from_environment(void **state)
{
    struct fixture *fx = *state;
    /* the crash test of the binary relies on this name and exit code */
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        setenv("DUALSYNC_TEST_STEP_LIMIT", "2", 1);
        execl(self, self, "--env-child", fx->dir, (char *)NULL);
        _exit(4);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(WEXITSTATUS(status), 100);
    /* the line of step 2 is in the journal */
    struct mapstore *ms = open_rw(fx);
    assert_non_null(mapstore_find(ms, "A"));
    mapstore_close(ms);
}

int main(int argc, char **argv)
{
    self = argv[0];
    if (argc == 3 && !strcmp(argv[1], "--env-child"))
        return env_child(argv[2]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(times),
        cmocka_unit_test(escapes),
        cmocka_unit_test_setup_teardown(round_trip_hostile_text, setup, teardown),
        cmocka_unit_test_setup_teardown(find_iterate_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(pointers_outlive_updates, setup, teardown),
        cmocka_unit_test_setup_teardown(invalid_changes_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(refusals_name_file_and_line, setup, teardown),
        cmocka_unit_test_setup_teardown(journal_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(missing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(loaded_escapes_survive_a_rewrite, setup, teardown),
        cmocka_unit_test_setup_teardown(reason_is_a_field, setup, teardown),
        cmocka_unit_test_setup_teardown(version_1_file_is_upgraded, setup, teardown),
        cmocka_unit_test_setup_teardown(version_1_journal_is_folded, setup, teardown),
        cmocka_unit_test_setup_teardown(crash_at_every_step, setup, teardown),
        cmocka_unit_test_setup_teardown(torn_last_journal_line, setup, teardown),
        cmocka_unit_test_setup_teardown(intents_in_doubt, setup, teardown),
        cmocka_unit_test_setup_teardown(intents_are_on_disk_before_return, setup, teardown),
        cmocka_unit_test_setup_teardown(read_only_writes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(lock_conflict_names_pid, setup, teardown),
        cmocka_unit_test_setup_teardown(files_are_0600, setup, teardown),
        cmocka_unit_test_setup_teardown(failed_write_is_fatal, setup, teardown),
        cmocka_unit_test_setup_teardown(commit_leaves_nothing_behind, setup, teardown),
        cmocka_unit_test_setup_teardown(step_limit_from_environment, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
