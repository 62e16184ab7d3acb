/* b2b_verdict.h - the verdict of cross-tenant access on one pair of tenants
 * for B2B collaboration (convert_b2b_pair, convert.h). */
#ifndef DUALSYNC_B2B_VERDICT_H
#define DUALSYNC_B2B_VERDICT_H

#include "compat.h"

#include "cloud.h"

enum b2b_verdict {
    B2B_ALLOWED,     /* both sides let all users through */
    B2B_PARTLY,      /* some users or groups only, on one side at least */
    B2B_BLOCKED,     /* one side (or both) blocks: its users are not invited */
    B2B_UNKNOWN,     /* a side could not be read, and the other does not block */
    B2B_VERDICT_COUNT
};

/* "allowed", "partly", "blocked", "unknown" (inline: the pure planner uses
 * it without this module's I/O); */
static inline const char *b2b_verdict_name(enum b2b_verdict v)
{
    static const char *const words[B2B_VERDICT_COUNT] = { "allowed", "partly", "blocked", "unknown" };
    return (unsigned)v < B2B_VERDICT_COUNT ? words[v] : "?";
}

#endif
