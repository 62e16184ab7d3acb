/* cloud.h - the Microsoft clouds a tenant can live in, and their hosts
 * (reference: learn.microsoft.com/graph/deployments; graph-api.md §5.3).
 * A token from one cloud is never valid in another. */
#ifndef DUALSYNC_CLOUD_H
#define DUALSYNC_CLOUD_H

#include "compat.h"

enum cloud { CLOUD_GLOBAL, CLOUD_USGOV_HIGH, CLOUD_USGOV_DOD, CLOUD_CHINA, CLOUD_COUNT };

/* "global", "usgov-high", "usgov-dod", "china" → 0 and *out; -1 if unknown. */
int cloud_parse(const char *name, enum cloud *out);
const char *cloud_name(enum cloud c);
const char *cloud_login_host(enum cloud c);   /* e.g. login.microsoftonline.us */
const char *cloud_graph_host(enum cloud c);   /* e.g. graph.microsoft.us */

#endif
