/* report_fixture.h - mapping files and audit trails for the report's tests
 * and benchmark, made through the real APIs (mapstore_put/_commit and the
 * audit module's line format), as the converter would leave them.
 *
 * report_fixture_small: the known run the unit and integration tests assert
 * on, in DIR/mappings/: tenant gcch (usgov-high) and tenant commercial
 * (global); hostile display names (<script>, a comma and a quote, Zoë
 * Ångström, 李雷, a cell starting with =), every state, an object only the
 * audit trail knows, an entry about the tenant itself, two runs on two days.
 *
 * report_fixture_big: one tenant "bench" with `accounts` accounts and
 * `entries` audit entries spread over 90 days (the benchmark).
 *
 * Both also write DIR/dualsync.conf naming the tenants, for the binary, and
 * fill *cfg (if not NULL) with the same tenants for in-process use; free it
 * with report_fixture_free_config. Return 0, or -1 after printing why. */
#ifndef DUALSYNC_REPORT_FIXTURE_H
#define DUALSYNC_REPORT_FIXTURE_H

#include "compat.h"

struct config;

/* The fixture's times: run r1 on the 16th, run r2 on the 17th. */
#define FIXTURE_DAY1 INT64_C(1794819600)   /* 2026-11-16T09:00:00Z */

int report_fixture_small(const char *dir, struct config *cfg);
int report_fixture_big(const char *dir, size_t accounts, size_t entries, struct config *cfg);
void report_fixture_free_config(struct config *cfg);

#endif
