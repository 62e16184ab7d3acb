/* bench_policy - decisions per second of the policy, on one core, no LDAP.
 *
 *     bench_policy [-n OBJECTS] [-r ROUNDS] CONFIG...
 *
 * For each config: compile its rules, build OBJECTS synthetic objects shaped
 * like the lab seed's (tests/lab/seed.py: Contoso 75 %, Contoso Defense 25 %,
 * seven countries, 3 % without extensionAttribute1, 8 % disabled, 5 %
 * contacts, 2 % groups, a few nested groups), then time policy_decide_all over
 * all of them, ROUNDS times; print the best and the median round (wall
 * time) and the median CPU time of the process as a Markdown table row. Each object owns its values (in an arena, like
 * objset.c), so the memory traffic is that of a real run.
 * The target (DESIGN.md): 1,000,000 objects × 3 tenants in ≤ 1 s. */
#include "compat.h"

#include <time.h>

#include "config.h"
#include "policy.h"
#include "rules.h"
#include "util.h"

#define BASE "DC=corp,DC=example,DC=test"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next_random(void)
{
    /* xorshift64*: deterministic, so that every run decides the same objects */
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 2685821657736338717ull;
}

static unsigned pct(void)
{
    return (unsigned)(next_random() % 100);
}

static double now(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct synth {
    struct arena arena;
    struct policy_subject *subjects;
    size_t n;
};

/* The value of attribute `name` for a synthetic person, or NULL. */
static const char *value_for(const char *name, bool defense, const char *c, bool us_person,
                             bool has_ext1, unsigned etype, size_t i, char *buf, size_t size)
{
    if (!rules_strcasecmp(name, "extensionAttribute1"))
        return has_ext1 ? (defense ? "gcch" : "commercial") : NULL;
    if (!rules_strcasecmp(name, "extensionAttribute2"))
        return us_person ? "us-person" : "non-us-person";
    if (!rules_strcasecmp(name, "extensionAttribute4"))
        return etype < 85 ? "Employee" : etype < 97 ? "Contractor" : "Intern";
    if (!rules_strcasecmp(name, "extensionAttribute13"))
        return i % 33 == 0 ? "Excluded" : "InScope";
    if (!rules_strcasecmp(name, "c"))
        return c;
    if (!rules_strcasecmp(name, "userPrincipalName") || !rules_strcasecmp(name, "mail")) {
        snprintf(buf, size, "user%zu@%s", i, defense ? "fabrikam-defense.example" : "contoso.example");
        return buf;
    }
    if (!rules_strcasecmp(name, "sAMAccountName")) {
        snprintf(buf, size, i % 500 == 0 ? "svc-job%zu" : "user%zu", i);
        return buf;
    }
    return NULL;
}

static void synth_build(struct synth *sy, const struct policy *pol, size_t n)
{
    static const char *const contoso_c[] = { "US", "US", "US", "US", "DE", "DE", "GB", "GB",
                                             "IN", "IN", "IN", "FR", "SE", "CN" };
    static const char *const defense_c[] = { "US", "US", "US", "US", "GB" };
    size_t na = policy_nattrs(pol), words = policy_set_words(pol);
    sy->n = n;
    sy->subjects = xcalloc(n, sizeof(*sy->subjects));
    /* OU bits depend on the container only: compute them once per container */
    const char *containers[] = {
        "OU=US,OU=Contoso," BASE, "OU=DE,OU=Contoso," BASE, "OU=GB,OU=Contoso," BASE,
        "OU=Disabled Users,OU=Contoso," BASE, "OU=US,OU=Contoso Defense," BASE,
        "OU=GB,OU=Contoso Defense," BASE, "OU=Contacts,OU=Contoso," BASE,
        "OU=Groups,OU=Contoso," BASE,
    };
    uint64_t *ou_bits[ARRAY_SIZE(containers)];
    for (size_t k = 0; k < ARRAY_SIZE(containers); k++) {
        ou_bits[k] = arena_calloc(&sy->arena, words + 1, sizeof(uint64_t));
        char *dn = xasprintf("CN=x,%s", containers[k]);
        policy_ou_bits(pol, dn, ou_bits[k]);
        free(dn);
    }
    char buf[96];
    for (size_t i = 0; i < n; i++) {
        struct policy_subject *s = &sy->subjects[i];
        unsigned kind = pct();
        bool defense = pct() < 25;
        s->cls = kind < 93 ? AD_CLASS_USER : kind < 98 ? AD_CLASS_CONTACT : AD_CLASS_GROUP;
        s->disabled = s->cls == AD_CLASS_USER && pct() < 8;
        const char *c = defense ? defense_c[next_random() % ARRAY_SIZE(defense_c)]
                                : contoso_c[next_random() % ARRAY_SIZE(contoso_c)];
        bool us_person = (strcmp(c, "US") == 0) != (pct() < 4);
        bool has_ext1 = pct() >= 3;
        unsigned etype = pct();
        struct policy_values *vals = arena_calloc(&sy->arena, na + 1, sizeof(*vals));
        for (size_t a = 0; a < na; a++) {
            const char *v = s->cls == AD_CLASS_GROUP ? NULL
                            : value_for(policy_attr_name(pol, a), defense, c, us_person, has_ext1,
                                        etype, i, buf, sizeof(buf));
            if (s->cls == AD_CLASS_CONTACT && !rules_strcasecmp(policy_attr_name(pol, a),
                                                                "extensionAttribute1"))
                v = "partner";
            if (!v)
                continue;
            const char **one = arena_alloc(&sy->arena, sizeof(*one));
            one[0] = arena_strdup(&sy->arena, v);
            vals[a].vals = one;
            vals[a].n = 1;
        }
        s->attrs = vals;
        if (words && pct() < 60) {
            uint64_t *g = arena_calloc(&sy->arena, words, sizeof(uint64_t));
            for (size_t b = 0; b < policy_ngroups(pol); b++)
                if (pct() < 50)
                    g[b / 64] |= 1ull << (b % 64);
            s->groups = g;
        }
        size_t ck = s->cls == AD_CLASS_CONTACT ? 6 : s->cls == AD_CLASS_GROUP ? 7
                    : defense ? (strcmp(c, "US") ? 5 : 4)
                    : s->disabled && pct() < 50 ? 3 : strcmp(c, "US") == 0 ? 0 : strcmp(c, "DE") == 0 ? 1 : 2;
        s->ous = ou_bits[ck];
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    size_t n = 1000000;
    int rounds = 5;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "-n") && i + 1 < argc) {
            uint64_t v;
            if (parse_u64(argv[++i], &v) || v == 0)
                return fprintf(stderr, "bench_policy: -n needs a positive number\n"), 2;
            n = (size_t)v;
        } else if (!strcmp(argv[i], "-r") && i + 1 < argc) {
            if (parse_int(argv[++i], 1, 1000, &rounds))
                return fprintf(stderr, "bench_policy: -r needs 1..1000\n"), 2;
        } else {
            return fprintf(stderr, "usage: bench_policy [-n OBJECTS] [-r ROUNDS] CONFIG...\n"), 2;
        }
    }
    if (i == argc)
        return fprintf(stderr, "usage: bench_policy [-n OBJECTS] [-r ROUNDS] CONFIG...\n"), 2;
    printf("| config | tenants | rules | objects | best round | median | median CPU | ns/decision (best) | decisions/s (best) |\n");
    printf("|---|---|---|---|---|---|---|---|---|\n");
    int rc = 0;
    for (; i < argc; i++) {
        struct config cfg;
        if (config_load(argv[i], &cfg)) {
            rc = 1;
            continue;
        }
        struct policy *pol = policy_compile(&cfg);
        if (!pol) {
            config_free(&cfg);
            rc = 1;
            continue;
        }
        size_t nt = policy_ntenants(pol), nrules = 0;
        for (size_t t = 0; t < nt; t++)
            nrules += cfg.tenants[t].nrules;
        struct synth sy = { { 0 }, NULL, 0 };
        synth_build(&sy, pol, n);
        struct policy_result res[CONFIG_MAX_TENANTS];
        uint64_t counts[DECISION_COUNT] = { 0 };
        double *times = xcalloc((size_t)rounds, sizeof(*times));
        double *cpu = xcalloc((size_t)rounds, sizeof(*cpu));
        for (int r = 0; r < rounds; r++) {
            double t0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID);
            for (size_t k = 0; k < n; k++) {
                policy_decide_all(pol, &sy.subjects[k], res);
                /* use every result, so that nothing can be optimized away */
                for (size_t t = 0; t < nt; t++)
                    counts[res[t].decision]++;
            }
            times[r] = now(CLOCK_MONOTONIC) - t0;
            cpu[r] = now(CLOCK_PROCESS_CPUTIME_ID) - c0;
        }
        qsort(times, (size_t)rounds, sizeof(*times), cmp_double);
        qsort(cpu, (size_t)rounds, sizeof(*cpu), cmp_double);
        double best = times[0], median = times[rounds / 2], cpu_median = cpu[rounds / 2];
        const char *name = strrchr(argv[i], '/') ? strrchr(argv[i], '/') + 1 : argv[i];
        printf("| %s | %zu | %zu | %zu | %.3f s | %.3f s | %.3f s | %.1f | %.2f M |\n", name, nt,
               nrules, n, best, median, cpu_median, best * 1e9 / ((double)n * (double)nt),
               (double)n * (double)nt / best / 1e6);
        fprintf(stderr, "%s: per round:", name);
        for (int d = 0; d < DECISION_COUNT; d++)
            fprintf(stderr, " %s %llu", decision_name((enum decision)d),
                    (unsigned long long)(counts[d] / (uint64_t)rounds));
        fputc('\n', stderr);
        free(times);
        free(cpu);
        free(sy.subjects);
        arena_release(&sy.arena);
        policy_free(pol);
        config_free(&cfg);
    }
    return rc;
}
