/* bench_report - a report over many audit entries (target: 100,000 entries
 * in at most 2 s, tests/bench/RESULTS.md).
 *
 *   bench_report [-a ACCOUNTS] [-n ENTRIES] [-r ROUNDS] [DIR]
 *
 * Makes one tenant of ACCOUNTS accounts (default 20,000) and ENTRIES audit
 * entries (default 100,000, over 90 days) in DIR (default
 * tests/out/bench-report) with tests/tools/report_fixture.c, then per round
 * times the phases in process: gather (read the mapping file and the whole
 * audit trail, choose, count, sort) and each renderer. Prints the median and
 * the range of wall and CPU time per phase, and gather + render per format. */
#include "compat.h"

#include <sys/resource.h>
#include <time.h>

#include "../tools/report_fixture.h"
#include "config.h"
#include "report.h"
#include "util.h"

static double wall(void)
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

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

enum phase { P_GATHER, P_CSV, P_JSON, P_HTML, P_COUNT };
static const char *const phase_name[] = { "gather", "csv", "json", "html" };

int main(int argc, char **argv)
{
    uint64_t accounts = 20000, entries = 100000, rounds = 5;
    const char *dir = "tests/out/bench-report";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-a") && i + 1 < argc && !parse_u64(argv[i + 1], &accounts))
            i++;
        else if (!strcmp(argv[i], "-n") && i + 1 < argc && !parse_u64(argv[i + 1], &entries))
            i++;
        else if (!strcmp(argv[i], "-r") && i + 1 < argc && !parse_u64(argv[i + 1], &rounds) && rounds)
            i++;
        else if (argv[i][0] != '-')
            dir = argv[i];
        else {
            fprintf(stderr, "usage: bench_report [-a ACCOUNTS] [-n ENTRIES] [-r ROUNDS] [DIR]\n");
            return 2;
        }
    }
    struct config cfg;
    double t0 = wall();
    if (report_fixture_big(dir, (size_t)accounts, (size_t)entries, &cfg))
        return 1;
    printf("fixture: %llu accounts, %llu audit entries in %s/mappings (made in %.2f s)\n",
           (unsigned long long)accounts, (unsigned long long)entries, dir, wall() - t0);

    double *w[P_COUNT], *c[P_COUNT];
    for (int p = 0; p < P_COUNT; p++) {
        w[p] = xcalloc(rounds, sizeof(double));
        c[p] = xcalloc(rounds, sizeof(double));
    }
    size_t bytes[P_COUNT] = { 0 };
    for (uint64_t r = 0; r < rounds; r++) {
        struct report_filter f = { .now = FIXTURE_DAY1 };
        struct report *rep;
        double ws = wall(), cs = cpu();
        if (report_gather(&cfg, &f, &rep))
            return 1;
        w[P_GATHER][r] = wall() - ws;
        c[P_GATHER][r] = cpu() - cs;
        for (int p = P_CSV; p < P_COUNT; p++) {
            struct strbuf out = STRBUF_INIT;
            ws = wall();
            cs = cpu();
            if (p == P_CSV)
                report_csv(rep, false, &out);
            else if (p == P_JSON)
                report_json(rep, &out);
            else
                report_html(rep, &out);
            w[p][r] = wall() - ws;
            c[p][r] = cpu() - cs;
            bytes[p] = out.len;
            strbuf_release(&out);
        }
        report_free(rep);
    }
    printf("%llu rounds; wall median (min-max), CPU median:\n", (unsigned long long)rounds);
    double gw = 0, gc = 0;
    for (int p = 0; p < P_COUNT; p++) {
        double *sw = xcalloc(rounds, sizeof(double)), *sc = xcalloc(rounds, sizeof(double));
        memcpy(sw, w[p], rounds * sizeof(double));
        memcpy(sc, c[p], rounds * sizeof(double));
        qsort(sw, rounds, sizeof(double), cmp_double);
        qsort(sc, rounds, sizeof(double), cmp_double);
        double mw = sw[rounds / 2], mc = sc[rounds / 2];
        if (p == P_GATHER) {
            gw = mw;
            gc = mc;
            printf("  %-7s %.3f s (%.3f-%.3f)  CPU %.3f s\n", phase_name[p], mw, sw[0], sw[rounds - 1], mc);
        } else {
            printf("  %-7s %.3f s (%.3f-%.3f)  CPU %.3f s  %.1f MB   gather + %s: %.3f s\n", phase_name[p],
                   mw, sw[0], sw[rounds - 1], mc, (double)bytes[p] / 1e6, phase_name[p], gw + mw);
        }
        (void)gc;
        free(sw);
        free(sc);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak RSS %.0f MB\n", (double)ru.ru_maxrss / 1024);
    for (int p = 0; p < P_COUNT; p++) {
        free(w[p]);
        free(c[p]);
    }
    report_fixture_free_config(&cfg);
    return 0;
}
