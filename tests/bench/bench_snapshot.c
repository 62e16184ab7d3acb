/* bench_snapshot - the copy of AD kept between runs (snapshot.c), with N
 * synthetic users shaped like the lab seed's and 200 groups.
 *
 *   make bench-snapshot                        N=100000, 5 rounds
 *   build/bench/bench_snapshot [USERS] [ROUNDS] [DIR]
 *
 * The objects are built once (not timed): users with 15 attributes as
 * tests/lab/seed.py writes them (sAMAccountName, userPrincipalName, mail,
 * memberOf with 3 values, c, co, company, department, title,
 * extensionAttribute1..3, givenName, sn, displayName), a SID, whenChanged,
 * mS-DS-ConsistencyGuid on 9 in 10, 8 % disabled; 200 groups whose member
 * values are the users naming them, 20 of them nested in another. Then per
 * round:
 *   apply all   snapshot_apply of every object into a new copy (a full read)
 *   save        snapshot_save to DIR/ad.snapshot (atomic: fsync, rename)
 *   load        snapshot_load of that file into a new copy
 *   each        snapshot_each over the loaded copy, a callback reading
 *               every object's DN and values (what objset_add does)
 *   re-save     snapshot_save of the loaded copy
 *   delta       on the loaded copy: 100 users changed (a new title), then
 *               10 renamed (moved to another OU), then 10 deleted, each
 *               applied as one delta (snapshot_apply_delta) and timed apart:
 *               renames and deletions cost one pass over the member and
 *               memberOf values of every kept object, whatever their number
 * Prints every round, then the medians (wall; CPU of the process beside)
 * as a Markdown table. DIR (default tests/out/bench-snapshot) should be on
 * a real disk, not tmpfs, or the fsync costs nothing. */
#include "compat.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "adobject.h"
#include "snapshot.h"
#include "util.h"

#define BASE "DC=corp,DC=example"
#define NGROUPS 200
#define NCHANGED 100
#define NRENAMED 10
#define NDELETED 10

static char *keep[] = { "sAMAccountName", "userPrincipalName", "mail", "member", "memberOf", "c", "co",
                        "company", "department", "title", "extensionAttribute1",
                        "extensionAttribute2", "extensionAttribute3", "givenName", "sn",
                        "displayName" };

static double now(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng = 0x243f6a8885a308d3u;
static uint64_t next_random(void)
{
    /* xorshift64*: the same objects from run to run */
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545f4914f6cdd1du;
}

static void random_guid(unsigned char g[16])
{
    uint64_t a = next_random(), b = next_random();
    memcpy(g, &a, 8);
    memcpy(g + 8, &b, 8);
    g[7] = (unsigned char)((g[7] & 0x0f) | 0x40);   /* version 4, as AD's are */
}

static const char *const given[] = { "Alice", "Bob", "Chloé", "Dmitri", "Erin", "François", "Grace",
                                     "Hiroshi", "Ingrid", "José", "Zoë", "Łukasz" };
static const char *const surname[] = { "Smith", "Müller", "O'Brien", "Nguyen", "García", "Kowalski",
                                       "Johansson", "Rossi", "Dubois", "Tanaka", "Ångström" };
static const struct { const char *c, *co; } countries[] = {
    { "US", "United States" }, { "US", "United States" }, { "US", "United States" },
    { "DE", "Germany" }, { "GB", "United Kingdom" }, { "FR", "France" }, { "IN", "India" },
};
static const char *const departments[] = { "Engineering", "Sales", "Marketing", "Finance",
                                           "Human Resources", "Legal", "Programs", "Security" };
static const char *const titles[] = { "Engineer", "Senior Engineer", "Manager", "Director",
                                      "Analyst", "Specialist", "Consultant", "Administrator" };

struct synth {
    struct arena arena;
    struct ad_object *objs;     /* users, then groups */
    size_t n, nusers;
};

static struct ad_attr *add_attr(struct synth *sy, struct ad_object *o, const char *name, size_t nvals)
{
    struct ad_attr *a = &o->attrs[o->nattrs++];
    a->name = (char *)name;
    a->nvals = nvals;
    a->vals = arena_calloc(&sy->arena, nvals ? nvals : 1, sizeof(*a->vals));
    return a;
}

static void add1(struct synth *sy, struct ad_object *o, const char *name, const char *value)
{
    add_attr(sy, o, name, 1)->vals[0] = arena_strdup(&sy->arena, value);
}

static char *group_dn(struct synth *sy, size_t g)
{
    char buf[160];
    snprintf(buf, sizeof(buf), "CN=SG-%s-%03zu,OU=Groups,OU=Contoso,%s",
             departments[g % ARRAY_SIZE(departments)], g, BASE);
    return arena_strdup(&sy->arena, buf);
}

static void synth_build(struct synth *sy, size_t nusers)
{
    sy->nusers = nusers;
    sy->n = nusers + NGROUPS;
    sy->objs = xcalloc(sy->n, sizeof(*sy->objs));
    char *gdn[NGROUPS];
    for (size_t g = 0; g < NGROUPS; g++)
        gdn[g] = group_dn(sy, g);
    /* each user in 3 distinct groups; the groups' member values follow */
    size_t (*in)[3] = xcalloc(nusers ? nusers : 1, sizeof(*in));
    size_t nmembers[NGROUPS] = { 0 };
    char buf[256];
    for (size_t i = 0; i < nusers; i++) {
        struct ad_object *o = &sy->objs[i];
        const char *gv = given[next_random() % ARRAY_SIZE(given)];
        const char *sn = surname[next_random() % ARRAY_SIZE(surname)];
        size_t ci = next_random() % ARRAY_SIZE(countries);
        bool defense = next_random() % 4 == 0;
        const char *company = defense ? "Contoso Defense" : "Contoso";
        o->cls = AD_CLASS_USER;
        snprintf(buf, sizeof(buf), "CN=%s %s %zu,OU=%s,OU=Users,OU=%s,%s", gv, sn, i, countries[ci].c,
                 company, BASE);
        o->dn = arena_strdup(&sy->arena, buf);
        random_guid(o->guid);
        o->has_consistency_guid = next_random() % 10 != 0;
        if (o->has_consistency_guid)
            memcpy(o->consistency_guid, o->guid, 16);
        snprintf(buf, sizeof(buf), "S-1-5-21-3623811015-3361044348-30300820-%zu", 1100 + i);
        o->sid = arena_strdup(&sy->arena, buf);
        o->disabled = next_random() % 100 < 8;
        o->uac = o->disabled ? 0x202 : 0x200;
        o->in_scope = true;
        o->usn_changed = 20000 + i;
        o->when_changed = arena_strdup(&sy->arena, "20261128010530.0Z");
        o->attrs = arena_calloc(&sy->arena, 15, sizeof(*o->attrs));
        const char *domain = defense ? "fabrikam-defense.example" : "contoso.example";
        snprintf(buf, sizeof(buf), "u%06zu", i);
        add1(sy, o, "sAMAccountName", buf);
        snprintf(buf, sizeof(buf), "u%06zu@%s", i, domain);
        add1(sy, o, "userPrincipalName", buf);
        snprintf(buf, sizeof(buf), "%s.%s%zu@%s", gv, sn, i, domain);
        add1(sy, o, "mail", buf);
        struct ad_attr *mo = add_attr(sy, o, "memberOf", 3);
        for (int k = 0; k < 3; k++) {
            size_t g;
            do
                g = next_random() % NGROUPS;
            while ((k > 0 && g == in[i][0]) || (k > 1 && g == in[i][1]));
            in[i][k] = g;
            nmembers[g]++;
            mo->vals[k] = gdn[g];
        }
        add1(sy, o, "c", countries[ci].c);
        add1(sy, o, "co", countries[ci].co);
        add1(sy, o, "company", company);
        add1(sy, o, "department", departments[next_random() % ARRAY_SIZE(departments)]);
        add1(sy, o, "title", titles[next_random() % ARRAY_SIZE(titles)]);
        add1(sy, o, "extensionAttribute1", defense ? "gcch" : "commercial");
        add1(sy, o, "extensionAttribute2", next_random() % 10 < 7 ? "us-person" : "non-us-person");
        snprintf(buf, sizeof(buf), "CC-%04u", (unsigned)(next_random() % 10000));
        add1(sy, o, "extensionAttribute3", buf);
        add1(sy, o, "givenName", gv);
        add1(sy, o, "sn", sn);
        snprintf(buf, sizeof(buf), "%s %s", gv, sn);
        add1(sy, o, "displayName", buf);
    }
    /* the groups: members, and the first 20 nested in groups 100..119 */
    size_t fill[NGROUPS] = { 0 };
    for (size_t g = 0; g < NGROUPS; g++) {
        struct ad_object *o = &sy->objs[nusers + g];
        o->cls = AD_CLASS_GROUP;
        o->dn = gdn[g];
        random_guid(o->guid);
        snprintf(buf, sizeof(buf), "S-1-5-21-3623811015-3361044348-30300820-%zu", 900000 + g);
        o->sid = arena_strdup(&sy->arena, buf);
        o->in_scope = true;
        o->usn_changed = 10000 + g;
        o->when_changed = arena_strdup(&sy->arena, "20261127230000.0Z");
        o->attrs = arena_calloc(&sy->arena, 3, sizeof(*o->attrs));
        snprintf(buf, sizeof(buf), "sg-%03zu", g);
        add1(sy, o, "sAMAccountName", buf);
        bool outer = g >= 100 && g < 120, inner = g < 20;
        add_attr(sy, o, "member", nmembers[g] + outer);
        if (outer)
            o->attrs[1].vals[fill[g]++] = gdn[g - 100];
        if (inner)
            add_attr(sy, o, "memberOf", 1)->vals[0] = gdn[g + 100];
    }
    for (size_t i = 0; i < nusers; i++)
        for (int k = 0; k < 3; k++) {
            struct ad_object *g = &sy->objs[nusers + in[i][k]];
            g->attrs[1].vals[fill[in[i][k]]++] = sy->objs[i].dn;
        }
    free(in);
}

/* The delta: copies of users, changed (not timed to build). */
static struct ad_object *delta_objects(struct synth *sy, size_t *n)
{
    size_t total = NCHANGED + NRENAMED + NDELETED;
    struct ad_object *d = xcalloc(total, sizeof(*d));
    char buf[256];
    for (size_t k = 0; k < total; k++) {
        size_t i = (size_t)(next_random() % sy->nusers);
        for (size_t j = 0; j < k; j++)   /* distinct users */
            if (!memcmp(d[j].guid, sy->objs[i].guid, 16)) {
                i = (i + 1) % sy->nusers;
                j = (size_t)-1;
            }
        d[k] = sy->objs[i];
        d[k].usn_changed += 1000000;
        d[k].attrs = arena_calloc(&sy->arena, d[k].nattrs, sizeof(*d[k].attrs));
        memcpy(d[k].attrs, sy->objs[i].attrs, d[k].nattrs * sizeof(*d[k].attrs));
        if (k < NCHANGED) {
            struct ad_attr *t = (struct ad_attr *)ad_object_attr(&d[k], "title");
            t->vals = arena_calloc(&sy->arena, 1, sizeof(*t->vals));
            t->vals[0] = "Principal Engineer";
        } else if (k < NCHANGED + NRENAMED) {
            snprintf(buf, sizeof(buf), "CN=Moved %zu,OU=Transfers,OU=Users,OU=Contoso,%s", i, BASE);
            d[k].dn = arena_strdup(&sy->arena, buf);
        } else {
            d[k].deleted = true;
        }
    }
    *n = total;
    return d;
}

static size_t touched;

static int touch(const struct ad_object *o, void *ctx)
{
    (void)ctx;
    size_t n = strlen(o->dn) + o->guid[0];
    for (size_t i = 0; i < o->nattrs; i++)
        for (size_t v = 0; v < o->attrs[i].nvals; v++)
            n += (unsigned char)o->attrs[i].vals[v][0];
    touched += n;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

enum { APPLY, SAVE, LOAD, EACH, RESAVE, MODIFIED, RENAMED, DELETED, NSTEPS };
static const char *const step_name[] = { "apply all", "save", "load", "each", "re-save",
                                         "delta: 100 changed", "10 renamed", "10 deleted" };

int main(int argc, char **argv)
{
    size_t nusers = argc > 1 ? strtoull(argv[1], NULL, 10) : 100000;
    int rounds = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 5;
    const char *dir = argc > 3 ? argv[3] : "tests/out/bench-snapshot";
    if (nusers < NCHANGED + NRENAMED + NDELETED || rounds < 1 || rounds > 100) {
        fprintf(stderr, "usage: bench_snapshot [USERS >= 120] [ROUNDS] [DIR]\n");
        return 2;
    }
    mkdir("tests/out", 0700);
    mkdir(dir, 0700);
    char *path = xasprintf("%s/ad.snapshot", dir);
    const char *wm = "usn:3f2504e0-4f89-11d3-9a0c-0305e82c3301:918273";
    const char *fp = "bench";

    struct synth sy = { 0 };
    double b0 = now(CLOCK_MONOTONIC);
    synth_build(&sy, nusers);
    size_t ndelta;
    struct ad_object *delta = delta_objects(&sy, &ndelta);
    const struct ad_object **dp = xcalloc(ndelta, sizeof(*dp));
    for (size_t i = 0; i < ndelta; i++)
        dp[i] = &delta[i];
    size_t values = 0;
    for (size_t i = 0; i < sy.n; i++)
        for (size_t k = 0; k < sy.objs[i].nattrs; k++)
            values += sy.objs[i].attrs[k].nvals;
    printf("objects %zu (%zu users, %d groups), %zu values; built in %.2f s (not timed)\n", sy.n,
           sy.nusers, NGROUPS, values, now(CLOCK_MONOTONIC) - b0);

    double wall[NSTEPS][100], cpu[NSTEPS][100];
    off_t file_size = 0;
    for (int r = 0; r < rounds; r++) {
        double w[NSTEPS + 1], c[NSTEPS + 1];
        int k = 0;
#define MARK() (w[k] = now(CLOCK_MONOTONIC), c[k] = now(CLOCK_PROCESS_CPUTIME_ID), k++)
        MARK();
        struct snapshot *a = snapshot_new(keep, ARRAY_SIZE(keep), fp);
        for (size_t i = 0; i < sy.n; i++)
            snapshot_apply(a, &sy.objs[i]);
        MARK();
        if (snapshot_save(a, path, wm))
            return 1;
        MARK();
        struct snapshot *b = snapshot_new(keep, ARRAY_SIZE(keep), fp);
        const char *loaded_wm = NULL;
        if (snapshot_load(b, path, &loaded_wm) || snapshot_count(b) != sy.n)
            return 1;
        MARK();
        touched = 0;
        snapshot_each(b, touch, NULL);
        MARK();
        if (snapshot_save(b, path, wm))
            return 1;
        MARK();
        /* each part as one delta, as world.c applies what a pull found */
        snapshot_apply_delta(b, dp, NCHANGED);
        MARK();
        snapshot_apply_delta(b, dp + NCHANGED, NRENAMED);
        MARK();
        snapshot_apply_delta(b, dp + NCHANGED + NRENAMED, ndelta - NCHANGED - NRENAMED);
        MARK();
#undef MARK
        if (snapshot_count(b) != sy.n - NDELETED)
            return 1;
        struct stat st;
        stat(path, &st);
        file_size = st.st_size;
        printf("round %d:", r + 1);
        for (int s = 0; s < NSTEPS; s++) {
            wall[s][r] = w[s + 1] - w[s];
            cpu[s][r] = c[s + 1] - c[s];
            printf(" %s %.3f s (cpu %.3f)%s", step_name[s], wall[s][r], cpu[s][r], s + 1 < NSTEPS ? "," : "\n");
        }
        snapshot_free(a);
        snapshot_free(b);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("\nfile %.1f MB (%.0f bytes/object), peak RSS %.0f MB; median of %d rounds, wall (CPU):\n\n",
           (double)file_size / 1e6, (double)file_size / (double)sy.n, (double)ru.ru_maxrss / 1024, rounds);
    printf("| objects | file |");
    for (int s = 0; s < NSTEPS; s++)
        printf(" %s |", step_name[s]);
    printf("\n|---|---|");
    for (int s = 0; s < NSTEPS; s++)
        printf("---|");
    printf("\n| %zu | %.1f MB |", sy.n, (double)file_size / 1e6);
    for (int s = 0; s < NSTEPS; s++) {
        qsort(wall[s], (size_t)rounds, sizeof(double), cmp_double);
        qsort(cpu[s], (size_t)rounds, sizeof(double), cmp_double);
        printf(" %.3f s (%.3f) |", wall[s][rounds / 2], cpu[s][rounds / 2]);
    }
    printf("\n");
    unlink(path);
    free(dp);
    free(delta);
    free(sy.objs);
    arena_release(&sy.arena);
    free(path);
    return 0;
}
