/* b2b_verdict.h - what cross-tenant access said last, per resource tenant:
 * `<mappings_dir>/<tenant>.b2b`.
 *
 * For each other configured tenant that is a user's home, `check` and `run`
 * record whether B2B collaboration from it into this tenant was allowed
 * (this tenant's inbound side and the home tenant's outbound side, with the
 * Microsoft cloud settings of both across clouds), which side must change,
 * why, when it was read, by which command, and the request ids of the reads.
 * `plan` reads no Graph: it marks from this file the users a run would block,
 * and says how old the verdict is. doc/convert.md, "Cross-tenant access".
 *
 * The file is JSON, versioned ("format": "dualsync-b2b", "version": 1),
 * replaced atomically (platform_write_file_atomic), mode 0600. The structs
 * own their strings; release with b2b_verdicts_release. */
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
 * it without this module's I/O); b2b_verdict_parse: 0 or -1. */
static inline const char *b2b_verdict_name(enum b2b_verdict v)
{
    static const char *const words[B2B_VERDICT_COUNT] = { "allowed", "partly", "blocked", "unknown" };
    return (unsigned)v < B2B_VERDICT_COUNT ? words[v] : "?";
}
int b2b_verdict_parse(const char *word, enum b2b_verdict *out);

/* Users at home in `home` invited into the file's tenant. */
struct b2b_pair {
    char *home;                  /* the home tenant's name in the config */
    char *home_id;               /* its tenant id */
    enum b2b_verdict verdict;
    bool resource_blocks;        /* this tenant's settings must change */
    bool home_blocks;            /* the home tenant's settings must change */
    int64_t read_at;             /* when the policies were read (seconds since 1970) */
    char *read_by;               /* "check" or "run" */
    char *request_ids;           /* the reads' ids, for Microsoft support */
    char *why;                   /* each side's verdict and what to change */
};

struct b2b_verdicts {
    char *tenant, *tenant_id;    /* the resource tenant */
    enum cloud cloud;
    struct b2b_pair *pairs;
    size_t n;
};

/* "<mappings_dir>/<tenant>.b2b"; the caller frees it. */
char *b2b_verdicts_path(const char *mappings_dir, const char *tenant);

/* Read path into *out (emptied first). 0; 1 when there is no such file (out
 * empty); -1 after logging the file, what is wrong and the remedy (a file of
 * another tenant, another version, not JSON): out is empty then. */
int b2b_verdicts_load(const char *path, const char *tenant, const char *tenant_id, struct b2b_verdicts *out);

/* Replace path with v, atomically. 0, or -1 after logging why. */
int b2b_verdicts_save(const char *path, const struct b2b_verdicts *v);

/* The text of the file (for b2b_verdicts_save and the unit test); the caller
 * frees it. b2b_verdicts_parse: the reverse, 0 or -1 with why in err. */
char *b2b_verdicts_format(const struct b2b_verdicts *v);
int b2b_verdicts_parse(const char *text, struct b2b_verdicts *out, char *err, size_t errsize);

/* The pair of home tenant `home` (by name), or NULL. */
const struct b2b_pair *b2b_verdicts_find(const struct b2b_verdicts *v, const char *home);

/* Set (replace or add) the pair of p->home, copying its strings. */
void b2b_verdicts_set(struct b2b_verdicts *v, const struct b2b_pair *p);

void b2b_verdicts_release(struct b2b_verdicts *v);

#endif
