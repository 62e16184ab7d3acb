/* convert.h - execute one tenant's plan through Microsoft Graph.
 *
 * For each action the planner gives (planner.h) against the tenant's mapping
 * records, convert finds the synced cloud user by onPremisesImmutableId,
 * checks the preconditions of reference graph-api.md §1.4 and either records
 * why it is blocked (with the remedy) or makes the change:
 *   convert       POST /invitations with invitedUser.id, then PATCH userType
 *                 where the decision asks for one the user does not have
 *   set-usertype  PATCH userType
 *   revert        beta convertExternalToInternalMemberUser (allow_revert only)
 *   forget        the record becomes gone; Graph is not touched
 *
 * Crash safety (mapstore.h): before each Graph call with a side effect, its
 * intent is journaled and fsynced; its outcome is put as soon as its answer
 * is in. A conversion whose outcome is unknown (crash, lost answer) is never
 * sent again blind: the user's externalUserState in Graph says whether the
 * invitation happened (§1.6).
 *
 * Idempotent: with nothing new in AD or Graph, a second run writes nothing
 * (no Graph write, no mapping change, no audit entry), and it opens no Graph
 * connection at all when nothing needs checking.
 *
 * Circuit breaker: more planned changes in the tenant than its max_changes
 * (or options->max_changes) and nothing at all is done in it. Rechecks of
 * records already blocked or pending do not count: they were counted when
 * they were first planned. */
#ifndef DUALSYNC_CONVERT_H
#define DUALSYNC_CONVERT_H

#include "compat.h"

#include "b2b_verdict.h"
#include "cloud.h"
#include "graph.h"
#include "planner.h"

struct world;
struct graph_user;

/* The engine's outcomes, by blast radius (STYLE.md, as isync scopes them);
 * only cmd_*.c turn them into exit codes (cli.h). Ordered: a tenant's status
 * is the worst of what happened in it. */
enum convert_status {
    CONVERT_OK = 0,     /* the tenant matches the plan */
    CONVERT_RECORD,     /* some records are blocked, pending or failed: each is recorded with
                           why and the remedy; the rest of the tenant was done */
    CONVERT_STOPPED,    /* the tenant could not be worked with (its Graph, its token, its mapping
                           file, the circuit breaker): what was not sent is left for the next run */
    CONVERT_FATAL,      /* a write of a mapping file or audit trail failed: stop everything */
};
const char *convert_status_name(enum convert_status st);   /* "done", "partial", "stopped", "fatal" */

struct convert_options {
    bool dry_run;              /* write nothing anywhere; Graph is only read */
    long max_changes;          /* > 0: replaces the tenant's max_changes for this run */
    bool allow_revert;         /* external → internal member (beta API) */
    const char *run_id;        /* for the audit trail */
    const char *watermark;     /* the source's position after this run's pull, for the header */
    bool check_all;            /* check every blocked user again, changed in Graph or not (--full) */
    /* watch: one Graph handle per tenant of the config (by index) kept
     * across batches, so that its token and connections serve every poll
     * and batch; a NULL entry is opened and left there, and the caller
     * closes them. NULL: each tenant opens and closes its own. */
    struct graph **graphs;
};

/* What happened in one tenant, for the run's summary and report. */
struct convert_result {
    const char *tenant;        /* the config's name (borrowed) */
    enum convert_status status;
    uint64_t objects;          /* objects decided */
    uint64_t planned[PLAN_ACTION_COUNT];
    uint64_t changes;          /* what the circuit breaker counted */
    uint64_t invited;          /* invitations sent and accepted by Graph */
    uint64_t recorded;         /* already external in Graph: only recorded */
    uint64_t user_type_set;    /* PATCH userType done */
    uint64_t reverted;
    uint64_t gone;
    uint64_t blocked;          /* a precondition fails (the mapping file says which) */
    uint64_t pending;          /* not synced to the tenant yet */
    uint64_t failed;           /* Graph refused or the outcome is still unknown */
    uint64_t skipped;          /* reverts without allow_revert, dry-run changes */
    uint64_t recovered;        /* intents of an interrupted run settled from Graph */
    uint64_t graph_requests;   /* Graph requests (inside $batch or not) */
    uint64_t graph_http;       /* HTTP exchanges with Graph */
    double seconds;
    char why[1024];            /* when stopped: why, with the remedy, and what was written */
};

/* Plan and execute tenant t of w->cfg. Fills *res (always). Returns
 * res->status. A failed mapping-store write returns CONVERT_FATAL with the
 * store left for the next run to recover. */
enum convert_status convert_tenant(const struct world *w, size_t t, const struct convert_options *o,
                   struct convert_result *res);

/* The Graph client's parameters for tenant tc (graph.h; strings borrowed
 * from tc). Test-only environment: DUALSYNC_GRAPH_CA_FILE and
 * DUALSYNC_GRAPH_CONNECT_TO reach the simulator, DUALSYNC_GRAPH_TIME_SCALE
 * tells the pacer that its throttling windows run faster. */
struct graph_params;
struct tenant_config;
void convert_graph_params(const struct tenant_config *tc, struct graph_params *p);

/* Whether tc's credential files are on this host (a certificate store
 * entry is taken to be): the other side of a B2B pair is read with the
 * other tenant's credentials, which a host that runs one tenant only may
 * not hold. false with why ("secret_file X is not on this host"). */
bool convert_credentials_here(const struct tenant_config *tc, char *why, size_t size);

/* One line per tenant (and a total) on out: what was done. */
void convert_print_summary(FILE *out, const struct convert_result *res, size_t n, bool dry_run);

/* ------------------------------------------------------------------------
 * The Graph side of a conversion, decided without Graph (convert_check.c:
 * pure, tested alone in tests/unit/test_convert.c). */

/* What is known of one user to invite into a tenant. Borrowed pointers. */
struct convert_target {
    const char *tenant;                 /* the tenant's name, for messages */
    const struct graph_user *cloud;     /* the synced cloud user (graph.h) */
    const char *address;                /* the invitation address from AD, or NULL */
    const char *address_attribute;      /* the AD attribute it came from, for messages */
    const char *const *verified;        /* the tenant's verified domains, NULL-terminated, or NULL */
};

/* Why Graph would refuse to convert t->cloud (reference graph-api.md §1.4),
 * with the remedy, written to buf; NULL when nothing stands in the way. */
const char *convert_blocked_why(const struct convert_target *t, char *buf, size_t size);

/* Whether mail's domain is one of verified or below one of them. */
bool convert_domain_verified(const char *const *verified, const char *mail);

/* Whom a refusal of a write about one user concerns, from Graph's answer:
 * CONVERT_STOPPED for the tenant or the application (token refused,
 * invitations blocked or not allowed, the permission missing), else
 * CONVERT_RECORD, with *blocked set when only a change by an administrator
 * can let it through (a directory role, the domain or home tenant refused,
 * converted back before) rather than a failure worth trying again. The
 * remedy goes to remedy. */
enum convert_status convert_refusal(int http_status, const char *code, const char *message,
                                    const char *tenant, bool *blocked, char *remedy, size_t size);

/* The same for a refused userType change (PATCH /users/{id}). tenant_stopped:
 * the Graph client judged the answer the tenant's or the application's and
 * stopped the tenant (a 403 with the permission missing from the token looks
 * like one about the user: graph_request.permissions). Otherwise a 403 is
 * about this user (an administrator-role holder: *blocked), a 400 or another
 * refusal a failure the next run tries again. */
enum convert_status convert_user_type_refusal(int http_status, const char *code, const char *message,
                                              bool tenant_stopped, const char *tenant, bool *blocked,
                                              char *remedy, size_t size);

/* B2B collaboration between two tenants by one side's cross-tenant access
 * policy (graph.h): `inbound` into self from partner, or outbound from self
 * to partner. Another Microsoft cloud needs its endpoint in
 * allowedCloudEndpoints and an entry for the partner (Learn,
 * cross-cloud-settings); then the entry's setting, or the default's where
 * the entry has none. GRAPH_YES, GRAPH_NO (why holds "BLOCKED: ..." with
 * what to change), or GRAPH_UNKNOWN (some users or groups only). */
struct convert_b2b_side {
    const char *name;                   /* the tenant's name in the config */
    const char *tenant_id;
    enum cloud cloud;
};
struct graph_b2b_policy;
enum graph_tristate convert_b2b_allowed(const struct graph_b2b_policy *p, const struct convert_b2b_side *self,
                                        const struct convert_b2b_side *partner, bool inbound, char *why,
                                        size_t size);

/* B2B collaboration for one pair: users at home in `home` invited into
 * `resource`. Both sides must let them through (Learn, cross-tenant-access-
 * overview: "Outbound access settings control whether your users can
 * access resources in an external organization"): the resource tenant
 * inbound from home, the home tenant outbound to resource, each with its
 * Microsoft cloud settings across clouds. A policy not read is NULL, with
 * the reason in *_unread. The home side's refusal does not stop the
 * invitation: the guest meets it at sign-in (AADSTS500212) and stays
 * PendingAcceptance, so it must be read beforehand (tests/graphsim/README.md). */
struct convert_b2b_pair {
    enum b2b_verdict verdict;
    bool resource_blocks, home_blocks;  /* which side must change */
    char why[1600];                     /* "BLOCKED on gcch's side (the home tenant): ...", ... */
};
void convert_b2b_pair(const struct graph_b2b_policy *resource_pol, const char *resource_unread,
                      const struct graph_b2b_policy *home_pol, const char *home_unread,
                      const struct convert_b2b_side *resource, const struct convert_b2b_side *home,
                      struct convert_b2b_pair *out);

/* allowedCloudEndpoints' name of a cloud: microsoftonline.com, .us, partner.microsoftonline.cn */
const char *convert_cloud_endpoint(enum cloud c);

#endif
