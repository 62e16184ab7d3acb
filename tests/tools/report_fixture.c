/* report_fixture.c - see report_fixture.h. */
#include "compat.h"

#include <errno.h>
#include <sys/stat.h>

#include "audit.h"
#include "cloud.h"
#include "config.h"
#include "mapstore.h"
#include "report_fixture.h"
#include "util.h"

#define H 3600
#define D1 FIXTURE_DAY1                 /* run r1: 2026-11-16 */
#define D2 (FIXTURE_DAY1 + 24 * H)      /* run r2: 2026-11-17 */

struct fixture_tenant {
    const char *name, *id;
    enum cloud cloud;
};

static const struct fixture_tenant small_tenants[] = {
    { "gcch", "6b1f0c55-7e2d-4c1a-9a51-0d6d3e0b7c11", CLOUD_USGOV_HIGH },
    { "commercial", "0c7a1e2b-3d4f-4a5b-8c6d-7e8f9a0b1c2d", CLOUD_GLOBAL },
};

static int mkdir_p(const char *path)
{
    if (mkdir(path, 0700) && errno != EEXIST) {
        fprintf(stderr, "fixture: cannot create %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

static void fill_config(struct config *cfg, const char *dir, const struct fixture_tenant *t, size_t n)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->path = xasprintf("%s/dualsync.conf", dir);
    cfg->mappings_dir = xasprintf("%s/mappings", dir);
    cfg->tenants = xcalloc(n, sizeof(*cfg->tenants));
    cfg->ntenants = n;
    for (size_t i = 0; i < n; i++) {
        cfg->tenants[i].name = xstrdup(t[i].name);
        cfg->tenants[i].tenant_id = xstrdup(t[i].id);
        cfg->tenants[i].cloud = t[i].cloud;
        cfg->tenants[i].mapping_file = xasprintf("%s/mappings/%s.map", dir, t[i].name);
    }
}

void report_fixture_free_config(struct config *cfg)
{
    for (size_t i = 0; i < cfg->ntenants; i++) {
        free(cfg->tenants[i].name);
        free(cfg->tenants[i].tenant_id);
        free(cfg->tenants[i].mapping_file);
    }
    free(cfg->tenants);
    free(cfg->path);
    free(cfg->mappings_dir);
    memset(cfg, 0, sizeof(*cfg));
}

/* A config file the binary loads: the tenants and enough [ldap] to pass. */
static int write_config(const char *dir, const struct fixture_tenant *t, size_t n)
{
    struct strbuf sb = STRBUF_INIT;
    strbuf_addf(&sb, "; made by tests/tools/report_fixture.c\n[dualsync]\nmappings_dir = %s/mappings\n"
                     "[ldap]\nuri = ldaps://dc1.corp.example.test\nbind = gssapi\n"
                     "base_dn = DC=corp,DC=example\n", dir);
    for (size_t i = 0; i < n; i++)
        strbuf_addf(&sb, "\n[tenant %s]\ncloud = %s\ntenant_id = %s\n"
                         "client_id = 3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f\n"
                         "client_secret_file = %s/%s.secret\n"
                         "rule = class user -> external-guest\n",
                    t[i].name, cloud_name(t[i].cloud), t[i].id, dir, t[i].name);
    char *path = xasprintf("%s/dualsync.conf", dir);
    FILE *f = fopen(path, "w");
    int rc = f && fwrite(sb.buf, 1, sb.len, f) == sb.len ? 0 : -1;
    if (f && fclose(f))
        rc = -1;
    if (rc)
        fprintf(stderr, "fixture: cannot write %s\n", path);
    free(path);
    strbuf_release(&sb);
    return rc;
}

/* ---------------------------------------------------------------- small */

struct obj {
    struct map_record rec;
    const char *display_name;
};

/* One tenant's mapping file. */
static int write_map(const char *dir, const struct fixture_tenant *t, const struct obj *objs, size_t n)
{
    char *path = xasprintf("%s/mappings/%s.map", dir, t->name);
    struct mapstore_tenant who = { t->name, t->id, t->cloud };
    struct mapstore *ms;
    int rc = mapstore_open(path, &who, MAPSTORE_CREATE, &ms);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = mapstore_put(ms, &objs[i].rec);
    if (rc == 0)
        rc = mapstore_commit(ms);
    if (rc == 0)
        mapstore_close(ms);
    free(path);
    return rc;
}

/* One tenant's audit trail, through audit_append as the converter does. */
static int write_audit(const char *dir, const struct fixture_tenant *t, struct audit_entry *e, size_t n)
{
    char *path = xasprintf("%s/mappings/%s.audit", dir, t->name);
    struct audit *a;
    int rc = audit_open(path, &a);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        e[i].tenant = t->name;
        e[i].cloud = cloud_name(t->cloud);
        rc = audit_append(a, &e[i]);
    }
    if (audit_close(a))
        rc = -1;
    free(path);
    return rc;
}

#define ZOE "4IEl1GPJdUy2p0r8cHYa4w=="
#define LI "q1t5V8mZQ0eB6Xw3YkR2sA=="
#define MAL "bWFsbG9yeS1hbmNob3ItMQ=="
#define JJ "c21pdGgtYW5jaG9yLTAwMQ=="
#define EVE "ZXZlLWFuY2hvci0wMDAwMQ=="
#define HOME "aG9tZS1hbmNob3ItMDAwMQ=="
#define GHOST "Z2hvc3QtYW5jaG9yLTAwMQ=="
#define ANA "YW5hLWFuY2hvci0wMDAwMQ=="
#define BOB "Ym9iLWFuY2hvci0wMDAwMQ=="

#define UPN_BLOCKED "onPremisesUserPrincipalName is set; change the Connect rule that writes it"

int report_fixture_small(const char *dir, struct config *cfg)
{
    char *maps = xasprintf("%s/mappings", dir);
    int rc = mkdir_p(dir) || mkdir_p(maps) ? -1 : 0;
    free(maps);
    if (rc)
        return -1;
    /* start from nothing: audit trails are appended to */
    for (size_t i = 0; i < ARRAY_SIZE(small_tenants); i++)
        for (size_t k = 0; k < 3; k++) {
            static const char *const ext[] = { "map", "map.journal", "audit" };
            char *f = xasprintf("%s/mappings/%s.%s", dir, small_tenants[i].name, ext[k]);
            remove(f);
            free(f);
        }
    const struct fixture_tenant *gcch = &small_tenants[0], *com = &small_tenants[1];
    const struct obj g[] = {
        { { ZOE, MAP_STATE_ACCEPTED, DECISION_EXTERNAL_GUEST, MAP_USER_TYPE_GUEST,
            "9c2a4f0e-1d7b-4e8a-b1c3-5f6a7b8c9d0e", "d4258ee0-c963-4c75-b6a7-4afc70761ae3",
            "zoe.angstrom@corp.example", "non-us-guest", D1, D2 + H,
            "2b0a1c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
            "CN=\xc3\x85ngstr\xc3\xb6m\\, Zo\xc3\xab,OU=Users,OU=SE,OU=Contoso,DC=corp,DC=example", "" }, NULL },
        { { LI, MAP_STATE_INVITED, DECISION_EXTERNAL_MEMBER, MAP_USER_TYPE_MEMBER,
            "1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b", "8e1f3c2a-77b0-4c5e-9d6f-1a2b3c4d5e6f",
            "li.lei@corp.example", "us-member", D2, D2,
            "7c6b5a49-3827-4615-a4b3-c2d1e0f9a8b7",
            "CN=\xe6\x9d\x8e\xe9\x9b\xb7,OU=Users,OU=CN,OU=Contoso,DC=corp,DC=example", "" }, NULL },
        { { MAL, MAP_STATE_BLOCKED, DECISION_EXTERNAL_GUEST, MAP_USER_TYPE_MEMBER,
            "5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d", "0a1b2c3d-4e5f-4a6b-9c7d-8e9f0a1b2c3d",
            "mallory@corp.example", "non-us-guest", D2, D2, "",
            "CN=Mallory,OU=Users,OU=FR,OU=Contoso,DC=corp,DC=example", UPN_BLOCKED }, NULL },
        { { JJ, MAP_STATE_REVERTED, DECISION_MEMBER, MAP_USER_TYPE_MEMBER,
            "6b7c8d9e-0f1a-4b2c-8d3e-4f5a6b7c8d9e", "1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e",
            "john.smith@corp.example", "home-by-upn", D1, D2 + 2 * H, "",
            "CN=Smith\\, John,OU=Users,OU=US,OU=Contoso,DC=corp,DC=example", "" }, NULL },
        { { EVE, MAP_STATE_GONE, DECISION_EXTERNAL_GUEST, MAP_USER_TYPE_GUEST,
            "7c8d9e0f-1a2b-4c3d-8e4f-5a6b7c8d9e0f", "2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f",
            "eve@corp.example", "non-us-guest", D1, D2 + 3 * H,
            "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f",
            "CN=Eve,OU=Users,OU=DE,OU=Contoso,DC=corp,DC=example", "" }, NULL },
        /* at home in gcch: not a conversion, not reported */
        { { HOME, MAP_STATE_PENDING, DECISION_MEMBER, MAP_USER_TYPE_MEMBER,
            "8d9e0f1a-2b3c-4d4e-8f5a-6b7c8d9e0f1a", "3d4e5f6a-7b8c-4d9e-8f0a-1b2c3d4e5f6a",
            "home.user@fabrikam-defense.example", "home", D1, D1, "",
            "CN=Home User,OU=Users,OU=US,OU=Contoso Defense,DC=corp,DC=example", "" }, NULL },
    };
    struct audit_entry ga[] = {
        { .time = D1 + 5, .run_id = "r1", .anchor = ZOE, .object_guid = g[0].rec.object_guid,
          .upn = g[0].rec.upn, .display_name = "Zo\xc3\xab \xc3\x85ngstr\xc3\xb6m", .dn = g[0].rec.dn,
          .cloud_id = g[0].rec.cloud_id, .decision = "external-guest", .rule = "non-us-guest",
          .action = "convert", .user_type_before = "Member", .user_type_after = "Guest",
          .state_after = "PendingAcceptance", .outcome = "done", .request_id = "req-0001",
          .invitation_id = g[0].rec.invitation_id },
        { .time = D1 + 6, .run_id = "r1", .anchor = JJ, .upn = g[3].rec.upn,
          .display_name = "Smith, John \"JJ\"", .decision = "external-member", .rule = "us-member",
          .action = "convert", .user_type_before = "Member", .user_type_after = "Member",
          .state_after = "PendingAcceptance", .outcome = "done", .request_id = "req-0002" },
        { .time = D1 + 7, .run_id = "r1", .anchor = EVE, .upn = g[4].rec.upn,
          .display_name = "=HYPERLINK(\"http://evil.example\",\"pay\")", .decision = "external-guest",
          .rule = "non-us-guest", .action = "convert", .user_type_before = "Member",
          .user_type_after = "Guest", .state_after = "PendingAcceptance", .outcome = "done",
          .request_id = "req-0003", .invitation_id = g[4].rec.invitation_id },
        { .time = D1 + 8, .run_id = "r1", .anchor = GHOST, .object_guid = "4e5f6a7b-8c9d-4e0f-8a1b-2c3d4e5f6a7b",
          .upn = "ghost@corp.example", .display_name = "Ghost User", .decision = "external-guest",
          .rule = "non-us-guest", .action = "convert", .outcome = "dry-run" },
        { .time = D2, .run_id = "r2", .anchor = LI, .upn = g[1].rec.upn,
          .display_name = "\xe6\x9d\x8e\xe9\x9b\xb7", .decision = "external-member", .rule = "us-member",
          .action = "convert", .user_type_before = "Member", .user_type_after = "Member",
          .state_after = "PendingAcceptance", .outcome = "done", .request_id = "req-0004",
          .invitation_id = g[1].rec.invitation_id },
        { .time = D2 + 1, .run_id = "r2", .anchor = MAL, .upn = g[2].rec.upn,
          .display_name = "<script>alert(\"x\")</script>", .decision = "external-guest",
          .rule = "non-us-guest", .action = "convert", .outcome = "blocked", .error = UPN_BLOCKED },
        { .time = D2 + H, .run_id = "r2", .anchor = ZOE, .display_name = "Zo\xc3\xab \xc3\x85ngstr\xc3\xb6m",
          .action = "refresh", .state_before = "PendingAcceptance", .state_after = "Accepted",
          .outcome = "done", .request_id = "req-0005" },
        { .time = D2 + 2 * H, .run_id = "r2", .anchor = JJ, .display_name = "Smith, John \"JJ\"",
          .decision = "member", .rule = "home-by-upn", .action = "revert", .user_type_before = "Member",
          .user_type_after = "Member", .state_before = "PendingAcceptance", .outcome = "done",
          .request_id = "req-0006" },
        { .time = D2 + 3 * H, .run_id = "r2", .anchor = EVE,
          .display_name = "=HYPERLINK(\"http://evil.example\",\"pay\")", .action = "forget",
          .outcome = "done" },
        /* about the tenant: no object */
        { .time = D2 + 4 * H, .run_id = "r2", .action = "convert", .outcome = "failed",
          .error = "Graph answered 403: invitations are blocked in this tenant; allow them in "
                   "External collaboration settings" },
    };
    const struct obj c[] = {
        { { ANA, MAP_STATE_ACCEPTED, DECISION_EXTERNAL_MEMBER, MAP_USER_TYPE_MEMBER,
            "aa1e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b", "ab1f3c2a-77b0-4c5e-9d6f-1a2b3c4d5e6f",
            "ana.garcia@fabrikam-defense.example", "gcch-home", D1, D2, "ac6b5a49-3827-4615-a4b3-c2d1e0f9a8b7",
            "CN=Ana Garc\xc3\xad" "a,OU=Users,OU=US,OU=Contoso Defense,DC=corp,DC=example", "" }, NULL },
        { { BOB, MAP_STATE_BLOCKED, DECISION_EXTERNAL_MEMBER, MAP_USER_TYPE_MEMBER,
            "", "bb1f3c2a-77b0-4c5e-9d6f-1a2b3c4d5e6f",
            "bob.lee@fabrikam-defense.example", "gcch-home", D2, D2, "",
            "CN=Bob Lee,OU=Users,OU=US,OU=Contoso Defense,DC=corp,DC=example",
            "not synced to the tenant yet\twait for the next Entra Connect cycle" }, NULL },
    };
    struct audit_entry ca[] = {
        { .time = D1 + 60, .run_id = "r1", .anchor = ANA, .upn = c[0].rec.upn,
          .display_name = "Ana Garc\xc3\xad" "a", .decision = "external-member", .rule = "gcch-home",
          .action = "convert", .user_type_before = "Member", .user_type_after = "Member",
          .state_after = "PendingAcceptance", .outcome = "done", .request_id = "req-1001" },
        { .time = D2 + 60, .run_id = "r2", .anchor = ANA, .display_name = "Ana Garc\xc3\xad" "a",
          .action = "refresh", .state_before = "PendingAcceptance", .state_after = "Accepted",
          .outcome = "done", .request_id = "req-1002" },
        { .time = D2 + 61, .run_id = "r2", .anchor = BOB, .upn = c[1].rec.upn, .display_name = "Bob Lee, Jr.",
          .decision = "external-member", .rule = "gcch-home", .action = "convert", .outcome = "blocked",
          .error = "not synced to the tenant yet\twait for the next Entra Connect cycle" },
    };
    if (write_map(dir, gcch, g, ARRAY_SIZE(g)) || write_audit(dir, gcch, ga, ARRAY_SIZE(ga)) ||
        write_map(dir, com, c, ARRAY_SIZE(c)) || write_audit(dir, com, ca, ARRAY_SIZE(ca)) ||
        write_config(dir, small_tenants, ARRAY_SIZE(small_tenants)))
        return -1;
    if (cfg)
        fill_config(cfg, dir, small_tenants, ARRAY_SIZE(small_tenants));
    return 0;
}

/* ------------------------------------------------------------------ big */

/* A small deterministic generator (xorshift64*), so that every run of the
 * benchmark reads the same files. */
static uint64_t rng = 88172645463325252u;
static uint64_t next_rand(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 2685821657736338717u;
}

int report_fixture_big(const char *dir, size_t accounts, size_t entries, struct config *cfg)
{
    static const struct fixture_tenant bench[] = {
        { "bench", "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", CLOUD_GLOBAL },
    };
    static const char *const first[] = { "Zo\xc3\xab", "Fran\xc3\xa7ois", "Ana", "John", "\xe6\x9d\x8e",
                                          "Bj\xc3\xb6rn", "Aoife", "Mar\xc3\xad" "a" };
    static const char *const last[] = { "\xc3\x85ngstr\xc3\xb6m", "Dubois", "Garc\xc3\xad" "a", "Smith",
                                        "\xe9\x9b\xb7", "M\xc3\xbcller", "O'Brien", "Nowak" };
    static const char *const rules[] = { "non-us-guest", "us-member", "contractor-guest" };
    char *maps = xasprintf("%s/mappings", dir);
    int rc = mkdir_p(dir) || mkdir_p(maps) ? -1 : 0;
    free(maps);
    if (rc)
        return -1;
    rng = 88172645463325252u;
    char *path = xasprintf("%s/mappings/bench.map", dir);
    char *apath = xasprintf("%s/mappings/bench.audit", dir);
    remove(path);
    remove(apath);
    struct mapstore_tenant who = { bench[0].name, bench[0].id, bench[0].cloud };
    struct mapstore *ms;
    if (mapstore_open(path, &who, MAPSTORE_CREATE, &ms)) {
        free(path);
        free(apath);
        return -1;
    }
    char **anchor = xcalloc(accounts, sizeof(*anchor));
    char **upn = xcalloc(accounts, sizeof(*upn));
    char **name = xcalloc(accounts, sizeof(*name));
    int64_t start = FIXTURE_DAY1 - 90 * 86400;
    for (size_t i = 0; i < accounts && rc == 0; i++) {
        unsigned char raw[16];
        for (int k = 0; k < 16; k += 8) {
            uint64_t v = next_rand();
            memcpy(raw + k, &v, 8);
        }
        anchor[i] = base64_encode(raw, 16);
        const char *f = first[next_rand() % ARRAY_SIZE(first)], *l = last[next_rand() % ARRAY_SIZE(last)];
        name[i] = xasprintf("%s %s", f, l);
        upn[i] = xasprintf("user%06zu@corp.example", i);
        uint64_t roll = next_rand() % 100;
        enum map_state st = roll < 55 ? MAP_STATE_ACCEPTED : roll < 80 ? MAP_STATE_INVITED
                          : roll < 88 ? MAP_STATE_BLOCKED : roll < 92 ? MAP_STATE_REVERTED
                          : roll < 96 ? MAP_STATE_GONE : MAP_STATE_PENDING;
        char *dn = xasprintf("CN=%s,OU=Users,OU=Site%zu,OU=Contoso,DC=corp,DC=example", name[i], i % 40);
        char *cid = xasprintf("%08zx-1d7b-4e8a-b1c3-%012zx", i, i * 7919);
        char *guid = xasprintf("%08zx-c963-4c75-b6a7-%012zx", i, i * 104729);
        char *inv = st == MAP_STATE_ACCEPTED || st == MAP_STATE_INVITED ? xasprintf("%08zx-4e5f-4a6b-8c7d-9e0f1a2b3c4d", i) : NULL;
        struct map_record rec = {
            anchor[i], st, st == MAP_STATE_REVERTED ? DECISION_MEMBER : DECISION_EXTERNAL_GUEST,
            MAP_USER_TYPE_GUEST, cid, guid, upn[i], rules[i % ARRAY_SIZE(rules)],
            start + (int64_t)(i * 90 * 86400 / accounts), start + (int64_t)(i * 90 * 86400 / accounts) + 600,
            inv ? inv : "", dn,
            st == MAP_STATE_BLOCKED ? (i % 2 ? UPN_BLOCKED : "not synced to the tenant yet; wait for the next Entra Connect cycle") : "",
        };
        rc = mapstore_put(ms, &rec);
        free(dn);
        free(cid);
        free(guid);
        free(inv);
    }
    if (rc == 0)
        rc = mapstore_commit(ms);
    mapstore_close(ms);

    /* the audit trail, in time order: written in one go (audit_append's
     * fsync per entry would make the set-up take minutes, not the report) */
    FILE *f = rc ? NULL : fopen(apath, "w");
    if (!rc && !f) {
        fprintf(stderr, "fixture: cannot create %s\n", apath);
        rc = -1;
    }
    static const char *const actions[] = { "convert", "refresh", "set-usertype", "convert" };
    static const char *const outcomes[] = { "done", "done", "done", "blocked", "done", "failed" };
    for (size_t e = 0; e < entries && rc == 0; e++) {
        size_t i = e % accounts;
        char req[64], run[32];
        snprintf(req, sizeof(req), "%08zx-aaaa-4bbb-8ccc-%012zx", e, e * 31);
        int64_t t = start + (int64_t)(e * 90 * 86400 / entries);
        snprintf(run, sizeof(run), "run-%lld", (long long)(t / 3600));
        const char *outcome = outcomes[next_rand() % ARRAY_SIZE(outcomes)];
        struct audit_entry ae = {
            .time = t, .run_id = run, .tenant = "bench", .cloud = "global", .anchor = anchor[i],
            .upn = upn[i], .display_name = name[i], .decision = "external-guest",
            .rule = rules[i % ARRAY_SIZE(rules)], .action = actions[(e / accounts) % ARRAY_SIZE(actions)],
            .user_type_before = "Member", .user_type_after = "Guest", .state_after = "PendingAcceptance",
            .outcome = outcome, .request_id = req,
            .error = strcmp(outcome, "done") ? UPN_BLOCKED : NULL,
        };
        char *line = audit_format(&ae);
        fputs(line, f);
        fputc('\n', f);
        free(line);
    }
    if (f && fclose(f))
        rc = -1;
    for (size_t i = 0; i < accounts; i++) {
        free(anchor[i]);
        free(upn[i]);
        free(name[i]);
    }
    free(anchor);
    free(upn);
    free(name);
    free(path);
    free(apath);
    if (rc == 0)
        rc = write_config(dir, bench, 1);
    if (rc == 0 && cfg)
        fill_config(cfg, dir, bench, 1);
    return rc;
}
