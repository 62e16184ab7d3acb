/* report-fixture - write the report's test fixture for the integration test
 * and the benchmark (report_fixture.h):
 *
 *   report-fixture DIR                          the known small run
 *   report-fixture --big ACCOUNTS ENTRIES DIR   one tenant, many entries */
#include "compat.h"

#include "report_fixture.h"
#include "util.h"

int main(int argc, char **argv)
{
    if (argc == 2)
        return report_fixture_small(argv[1], NULL) ? 1 : 0;
    uint64_t accounts, entries;
    if (argc == 5 && !strcmp(argv[1], "--big") && !parse_u64(argv[2], &accounts) &&
        !parse_u64(argv[3], &entries) && accounts > 0)
        return report_fixture_big(argv[4], (size_t)accounts, (size_t)entries, NULL) ? 1 : 0;
    fprintf(stderr, "usage: report-fixture DIR | report-fixture --big ACCOUNTS ENTRIES DIR\n");
    return 2;
}
