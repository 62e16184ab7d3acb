/* bench_mapstore - load and commit a mapping file of N records (DESIGN.md
 * target: 1,000,000 records, <= 1.5 s each, one core).
 *
 *   make bench-mapstore                       N=1000000, 5 rounds
 *   build/bench/bench_mapstore [N] [ROUNDS] [DIR]
 *
 * Builds the file once through the API (N puts and a commit, timed too, for
 * information), then per round: open (lock, read, parse, index), change one
 * record, commit (snapshot to .new, fsync, rename, directory fsync, journal
 * removed), close. Prints every round and the median. DIR (default
 * tests/out/bench-mapstore) must be on a real disk, not tmpfs, or the fsync
 * costs nothing. */
#include "compat.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mapstore.h"
#include "util.h"

static const struct mapstore_tenant tenant = {
    "gcch", "6b1f0c55-7e2d-4c1a-9a51-0d6d3e0b7c11", CLOUD_USGOV_HIGH
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time in the kernel (reading, page faults, writing) */
static double sys(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static uint64_t rng = 0x243f6a8885a308d3u;
static uint64_t next(void)
{
    /* xorshift64*: reproducible figures from run to run */
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545f4914f6cdd1du;
}

static void guid(char out[37])
{
    uint64_t a = next(), b = next();
    snprintf(out, 37, "%08x-%04x-4%03x-%04x-%012llx", (unsigned)(a >> 32), (unsigned)(a >> 16) & 0xffff,
             (unsigned)a & 0xfff, (unsigned)(b >> 48) | 0x8000, (unsigned long long)(b & 0xffffffffffffu));
}

static const char *const first[] = { "Alice", "Bob", "Chloé", "Dmitri", "Erin", "François",
                                     "Grace", "Hiroshi", "Ingrid", "José" };
static const char *const last[] = { "Smith", "Müller", "O'Brien", "Nguyen", "García", "Kowalski",
                                    "Johansson", "Rossi", "Dubois", "Tanaka" };
static const char *const country[] = { "US", "DE", "FR", "GB", "IN" };

/* A realistic record: the sizes of a real tenant's (DN ~75 bytes, three
 * GUIDs, a UPN), 1 in 100 with an error and a DN that needs escaping. */
static void make_record(size_t i, struct map_record *r, char *buf, size_t size)
{
    unsigned char raw[16];
    uint64_t a = next(), b = next();
    memcpy(raw, &a, 8);
    memcpy(raw + 8, &b, 8);
    char *anchor = base64_encode(raw, 16);
    char g1[37], g2[37], g3[37];
    guid(g1);
    guid(g2);
    guid(g3);
    const char *fn = first[i % 10], *ln = last[(i / 10) % 10], *c = country[i % 5];
    bool odd = i % 100 == 7;
    int n = snprintf(buf, size, "%s%c%s%c%s%c%s.%s%zu@corp.example%cCN=%s %s%s %zu,OU=Users,OU=%s,"
                     "OU=Contoso,DC=corp,DC=example%c%s%c%s",
                     anchor, 0, g1, 0, g2, 0, fn, ln, i, 0, ln, odd ? "\\, " : " ", fn, i, c, 0,
                     i % 3 ? g3 : "", 0,
                     odd ? "POST /invitations: 403\tAuthorization_RequestDenied\nretry later" : "");
    (void)n;
    free(anchor);
    char *p = buf;
    r->anchor = p;
    p += strlen(p) + 1;
    r->object_guid = p;
    p += strlen(p) + 1;
    r->cloud_id = p;
    p += strlen(p) + 1;
    r->upn = p;
    p += strlen(p) + 1;
    r->dn = p;
    p += strlen(p) + 1;
    r->invitation_id = p;
    p += strlen(p) + 1;
    r->last_error = p;
    r->reason = MAP_REASON_NONE;
    r->state = i % 3 ? MAP_STATE_INVITED : MAP_STATE_PENDING;
    r->decision = strcmp(c, "US") ? DECISION_EXTERNAL_GUEST : DECISION_EXTERNAL_MEMBER;
    r->user_type = strcmp(c, "US") ? MAP_USER_TYPE_GUEST : MAP_USER_TYPE_MEMBER;
    r->rule = strcmp(c, "US") ? "non-us-guest" : "us-member";
    r->first_change = 1714564800 + (int64_t)i;
    r->last_change = 1714564800 + (int64_t)i + 3600;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    int rounds = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 5;
    const char *dir = argc > 3 ? argv[3] : "tests/out/bench-mapstore";
    if (!n || rounds < 1 || rounds > 100) {
        fprintf(stderr, "usage: bench_mapstore [RECORDS] [ROUNDS] [DIR]\n");
        return 2;
    }
    mkdir("tests/out", 0700);
    mkdir(dir, 0700);
    char *path = xasprintf("%s/gcch.map", dir);
    char *journal = xasprintf("%s.journal", path);
    unlink(path);
    unlink(journal);

    /* build the file through the API */
    struct mapstore *ms;
    if (mapstore_open(path, &tenant, MAPSTORE_CREATE, &ms))
        return 1;
    double t0 = now();
    char buf[1024];
    struct map_record r;
    for (size_t i = 0; i < n; i++) {
        make_record(i, &r, buf, sizeof(buf));
        if (mapstore_put(ms, &r))
            return 1;
    }
    if (mapstore_set_watermark(ms, "usn:3f2504e0-4f89-11d3-9a0c-0305e82c3301:918273") ||
        mapstore_set_delta_link(ms, "https://graph.microsoft.us/v1.0/users/delta?$deltatoken=x"))
        return 1;
    double t1 = now();
    if (mapstore_commit(ms))
        return 1;
    double t2 = now();
    mapstore_close(ms);
    struct stat st;
    stat(path, &st);
    printf("records %zu, file %.1f MB (%.0f bytes/record)\n", n, (double)st.st_size / 1e6,
           (double)st.st_size / (double)n);
    printf("setup: %zu puts (journaled) %.2f s, first commit %.2f s\n", n, t1 - t0, t2 - t1);

    double *load = xcalloc((size_t)rounds, sizeof(double));
    double *commit = xcalloc((size_t)rounds, sizeof(double));
    double *load_cpu = xcalloc((size_t)rounds, sizeof(double));
    double *commit_cpu = xcalloc((size_t)rounds, sizeof(double));
    for (int k = 0; k < rounds; k++) {
        double w0 = now(), c0 = cpu(), s0 = sys();
        if (mapstore_open(path, &tenant, 0, &ms))
            return 1;
        double w1 = now(), c1 = cpu(), s1 = sys();
        if (mapstore_count(ms) != n)
            return 1;
        /* one change, so that commit has something to write */
        struct map_record one = *mapstore_find(ms, mapstore_next(ms, &(size_t){ 0 })->anchor);
        one.last_change += 1;
        if (mapstore_put(ms, &one))
            return 1;
        double w2 = now(), c2 = cpu(), s2 = sys();
        if (mapstore_commit(ms))
            return 1;
        double w3 = now(), c3 = cpu(), s3 = sys();
        mapstore_close(ms);
        load[k] = w1 - w0;
        commit[k] = w3 - w2;
        load_cpu[k] = c1 - c0;
        commit_cpu[k] = c3 - c2;
        printf("round %d: load %.3f s (cpu %.3f, of which kernel %.3f), commit %.3f s (cpu %.3f, "
               "of which kernel %.3f)\n", k + 1, load[k], load_cpu[k], s1 - s0, commit[k],
               commit_cpu[k], s3 - s2);
    }
    qsort(load, (size_t)rounds, sizeof(double), cmp_double);
    qsort(commit, (size_t)rounds, sizeof(double), cmp_double);
    qsort(load_cpu, (size_t)rounds, sizeof(double), cmp_double);
    qsort(commit_cpu, (size_t)rounds, sizeof(double), cmp_double);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("median: load %.3f s (cpu %.3f), commit %.3f s (cpu %.3f); target <= 1.5 s each\n",
           load[rounds / 2], load_cpu[rounds / 2], commit[rounds / 2], commit_cpu[rounds / 2]);
    printf("peak RSS %.0f MB\n", (double)ru.ru_maxrss / 1024);
    unlink(path);
    unlink(journal);
    char *lock = xasprintf("%s.lock", path);
    unlink(lock);
    free(lock);
    free(load);
    free(commit);
    free(load_cpu);
    free(commit_cpu);
    free(path);
    free(journal);
    return 0;
}
