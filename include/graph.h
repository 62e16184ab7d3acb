/* graph.h - the Microsoft Graph client of one tenant.
 *
 * One struct graph per tenant: its cloud's hosts, its credentials, its token
 * cache, its pacing budget and its stop state. Nothing here knows about rules,
 * decisions or mapping files; the converter builds requests, runs them and
 * records the answers (status, request-id) in its journal and audit log.
 *
 * Calling sequence:
 *   graph_open(&params, &g)            no network yet; copies the parameters
 *   graph_list_synced_users(g, &users) one paged listing with $select
 *   graph_req_invite(&reqs[i], &inv)   build requests ...
 *   graph_run(g, reqs, n, done, ctx)   ... run them: $batch, in flight, paced
 *   graph_request_release(&reqs[i])
 *   graph_close(g)
 *
 * Error handling, by blast radius (STYLE.md): every request ends with an
 * enum graph_status. GRAPH_FAILED concerns that one object (skip and report
 * it); GRAPH_TENANT_STOPPED and GRAPH_INVITES_BLOCKED concern the tenant: the
 * handle is then stopped for good (graph_stopped), nothing more is sent for
 * this tenant and every later call returns the same status at once.
 *
 * Messages never carry a secret: not the client secret, not the assertion,
 * not the access token. log_debug shows method, URL, status and request-id.
 *
 * Reference: ../shared/reference/graph-api.md (§3 batching, §4 throttling,
 * §5 authentication) and the Microsoft pages it cites. */
#ifndef DUALSYNC_GRAPH_H
#define DUALSYNC_GRAPH_H

#include "compat.h"

#include <time.h>

#include "cloud.h"

struct graph;
struct cJSON;

/* How the certificate's client assertion is signed (reference §5.2): the
 * current page documents PS256 with an x5t#S256 header; RS256 with a SHA-1
 * x5t was documented through 2024 and is kept as an option. */
enum graph_jwt_alg { GRAPH_JWT_PS256, GRAPH_JWT_RS256 };

/* Everything a struct graph needs. Strings are copied by graph_open; zero
 * means "the default" for every number. */
struct graph_params {
    const char *name;            /* tenant name in the configuration, for messages */
    enum cloud cloud;            /* picks the login and Graph hosts */
    const char *tenant_id;       /* GUID or a verified domain of the tenant */
    const char *client_id;       /* application (client) id */
    /* Exactly one credential: a client secret file (read each time a token is
     * needed, wiped after), or a certificate and its RSA private key (both
     * PEM; key_file may be NULL when cert_file holds the key too). Secret and
     * key files must not be readable by group or others. */
    const char *secret_file;
    const char *cert_file;
    const char *key_file;
    /* ...or a certificate of the Windows certificate store by its SHA-1
     * thumbprint (40 hex digits), in LocalMachine\My (store_machine) or
     * CurrentUser\My; its key signs where it is kept (platform_cert_sign). */
    const char *cert_thumbprint;
    bool store_machine;
    enum graph_jwt_alg jwt_alg;  /* default PS256 + x5t#S256 */
    const char *ca_file;         /* CA bundle (PEM); NULL: the system's. Verification is always on. */
    /* Tests only: where to connect instead, as curl's --connect-to entries
     * "HOST:PORT:CONNECT-HOST:CONNECT-PORT", separated by commas. TLS still
     * checks the certificate against the real host name. */
    const char *connect_to;
    /* The HTTP proxy: NULL to follow libcurl's environment variables
     * (https_proxy or HTTPS_PROXY, else all_proxy or ALL_PROXY, and
     * no_proxy or NO_PROXY), "none" for no proxy whatever the environment
     * says, or a proxy URL (http://host:port; no credentials) used for
     * every host, no_proxy notwithstanding. */
    const char *proxy;
    int connect_timeout;         /* seconds; default 10 */
    int timeout;                 /* seconds for one HTTP exchange; default 60 */
    int max_tries;               /* sends of one request before giving up; default 8 */
    int max_in_flight;           /* HTTP exchanges at once; default 8 */
    int batch_size;              /* requests per $batch, 1..20 (1: no $batch); default 20 */
    /* The per-app-per-tenant budget (reference §4): ResourceUnits and writes
     * per window. Defaults: 3,500 RU per 10 s (the smallest tenant size: a
     * safe guess) and 3,000 writes per 150 s. The pacer also follows the
     * service's x-ms-throttle-limit-percentage and Retry-After. */
    int ru_limit;
    double ru_window;
    int write_limit;
    double write_window;
    /* Invitations (POST /invitations) per minute, apart from the budget
     * above: Entra blocks a tenant's invitations for "suspicious activity"
     * after bursts (see graph_p.h). 0: the default, 30; negative: no
     * limit. invitation_window: the minute, in seconds (tests run it
     * faster). first_run: the tenant was never invited into by dualsync:
     * the rate starts at a tenth and grows to the full one over 10 windows. */
    int invitations_per_minute;
    double invitation_window;
    bool first_run;
    /* The longest single wait Graph may ask for (Retry-After, seconds);
     * default 300. Asked for more, the tenant stops with the time Graph
     * asked for and when to run again, instead of sleeping for hours. */
    double max_wait;
    double backoff_base;         /* seconds; first backoff after a dropped connection or a 5xx; default 0.5 */
    double backoff_cap;          /* seconds; default 30 */
};

/* Outcome of one request, by blast radius. */
enum graph_status {
    GRAPH_OK = 0,
    GRAPH_FAILED,           /* the service refused this request (400, 404, 409, 412, ...): skip this object */
    GRAPH_UNCERTAIN,        /* a request that is not safe to repeat (POST /invitations) may or may not
                               have been carried out: the connection was lost after sending it, or a
                               500/502/503/504 came back. Read the object back before sending it again. */
    GRAPH_TENANT_STOPPED,   /* the tenant cannot be worked with: no token, refused authorization, TLS,
                               still failing after max_tries. Requests not sent carry http_status 0. */
    GRAPH_INVITES_BLOCKED,  /* 403 "invitations are blocked for this directory": stop this tenant at
                               once, never retry; an administrator must have Microsoft lift the block */
};

const char *graph_status_name(enum graph_status st);

/* One Graph request and, after graph_run, its answer. Build it with a
 * graph_req_* function (or fill the first block by hand); release it with
 * graph_request_release, which frees every pointer below. */
struct graph_request {
    /* --- the request --- */
    const char *method;          /* "GET", "POST", "PATCH", "DELETE" (a static string) */
    char *url;                   /* "/users/..." relative to the version root, or a full
                                    https URL on the tenant's Graph host (a nextLink) */
    bool beta;                   /* /beta instead of /v1.0 */
    struct cJSON *body;          /* JSON body or NULL */
    bool idempotent;             /* safe to send again when the answer was lost */
    bool may_be_forbidden;       /* a 403 fails this request only (an optional read, a
                                    refusal about one user), instead of stopping the tenant,
                                    unless it names the application or "invitations are
                                    blocked" */
    const char *const *permissions; /* NULL, or the application permissions any one of which
                                    allows the request (a static NULL-terminated list): a 403
                                    while the token carries none of them (or its roles cannot
                                    be read) concerns the application, and stops the tenant
                                    even with may_be_forbidden. Graph answers the same 403 for
                                    a missing permission and for an object the permission does
                                    not reach (PATCH of a directory-role holder): only the
                                    token tells them apart. */
    /* --- the answer (graph_run fills these) --- */
    enum graph_status status;
    int http_status;             /* 0: no answer (not sent, or the connection failed) */
    int tries;                   /* how many times it was sent */
    /* The two ids Microsoft support traces a request by (the innerError of
     * learn.microsoft.com/graph/errors): put both in every audit entry and
     * message about this request. For a request inside a $batch they are
     * the item's: its own client-request-id header, and the item's
     * request-id or, if it has none, the envelope's. */
    char request_id[48];         /* the response's request-id, "" if no answer came */
    char client_request_id[40];  /* the GUID sent as client-request-id with the last try, "" if never sent */
    struct cJSON *answer;        /* parsed JSON answer, or NULL (204, or not JSON) */
    char *error;                 /* a clear message when status != GRAPH_OK, else NULL; it
                                  * names the tenant, the request and both ids */
    char *error_code;            /* the Graph error code (e.g. "Request_BadRequest"), or NULL */
    char *error_message;         /* Graph's own message of an error answer, without the
                                  * status, code, request or ids that error adds; or NULL */
};

void graph_request_release(struct graph_request *r);

/* Builders: each fills *r from scratch (it must not hold anything yet). */
/* GET of a relative URL (already percent-encoded) or of a full nextLink. */
void graph_req_get(struct graph_request *r, const char *url);

/* POST /invitations converting an existing (synced) user to an external
 * user (reference §1.1): invitedUser.id is always serialized explicitly, so
 * that the service never creates a new guest instead. */
struct graph_invitation {
    const char *user_id;          /* object id of the user to convert */
    const char *email;            /* invitedUserEmailAddress; must equal the user's mail */
    const char *redirect_url;     /* inviteRedirectUrl */
    bool send_message;            /* sendInvitationMessage */
    const char *message_language; /* invitedUserMessageInfo.messageLanguage, or NULL */
    const char *message_body;     /* invitedUserMessageInfo.customizedMessageBody, or NULL */
};
void graph_req_invite(struct graph_request *r, const struct graph_invitation *inv);

/* PATCH /users/{id} {"userType": "Member"|"Guest"} (reference §1.8). */
void graph_req_set_user_type(struct graph_request *r, const char *user_id, const char *user_type);

/* beta POST /users/{id}/convertExternalToInternalMemberUser with an empty
 * body, as for a synced user (reference §1.7). */
void graph_req_convert_to_internal(struct graph_request *r, const char *user_id);

/* ------------------------------------------------------------------------
 * The handle */

/* Check and copy the parameters. Returns 0, or -1 after logging what is
 * wrong (nothing is allocated then). No network access. */
int graph_open(const struct graph_params *p, struct graph **out);
void graph_close(struct graph *g);

/* GRAPH_OK, or the status that stopped this tenant; *why (may be NULL)
 * points to the message, valid until graph_close. */
enum graph_status graph_stopped(const struct graph *g, const char **why);

/* Obtain (or reuse) an access token. GRAPH_OK, or GRAPH_TENANT_STOPPED after
 * logging why (the AADSTS code and its remedy). */
enum graph_status graph_authenticate(struct graph *g);

/* The proxy the tenant's requests go through and why, for check and for
 * messages: "http://proxy:3128 (proxy key)", "http://proxy:3128
 * (https_proxy)", "none (no_proxy names graph.microsoft.com)", "none".
 * Credentials in a proxy URL are shown as "***". Caller frees. */
char *graph_proxy_describe(const struct graph *g);

/* Counters since graph_open, for reports and the benchmark. */
struct graph_stats {
    uint64_t http_requests;      /* HTTP exchanges with Graph (a $batch counts once) */
    uint64_t requests;           /* Graph requests sent, inside $batch or not, retries included */
    uint64_t throttled;          /* answers 429 (or 503/504 with Retry-After) */
    uint64_t retries;            /* requests sent again */
    uint64_t tokens;             /* tokens obtained */
    double paced_seconds;        /* time slept for the budget or a backoff with nothing in flight */
};
void graph_get_stats(const struct graph *g, struct graph_stats *st);

/* Server time minus local time in seconds, from the last HTTP Date header;
 * false if no answer was seen yet. */
bool graph_clock_skew(const struct graph *g, long *skew);

/* ------------------------------------------------------------------------
 * Running requests */

/* Called once per request as soon as it is final (in completion order), so
 * that the caller can journal each outcome at once. `index` is its place in
 * the array given to graph_run. */
typedef void graph_done_fn(void *ctx, size_t index, struct graph_request *r);

/* Run n independent requests: grouped into $batch calls of up to batch_size
 * (requests of one API version together), up to max_in_flight HTTP exchanges
 * at once, paced within the budget. Throttled requests (429, 503, 504; inside
 * a $batch too) are sent again after the longest Retry-After; a dropped
 * connection or another 5xx is retried with exponential backoff and jitter if
 * the request is idempotent, otherwise it ends GRAPH_UNCERTAIN.
 *
 * Every request ends with its status and answer filled in, and `done` (may be
 * NULL) is called for each. Returns GRAPH_OK when each request got a final
 * answer (which may be GRAPH_FAILED), or the tenant-level status when the
 * tenant was stopped: requests already sent are still awaited and recorded,
 * those not sent end with that status and http_status 0. */
enum graph_status graph_run(struct graph *g, struct graph_request *reqs, size_t n,
                            graph_done_fn *done, void *ctx);

/* One request, sent alone (no $batch). Returns r->status. */
enum graph_status graph_call(struct graph *g, struct graph_request *r);

/* Follow a collection through its @odata.nextLink pages, starting at the
 * relative URL `first`. `page` is called with each page's "value" array (not
 * owned by the callee); a non-zero return stops the walk and is returned.
 * nextLinks pointing to another host than the tenant's Graph host are
 * refused (the token must go nowhere else). If the last page carries an
 * @odata.deltaLink, *delta_link (may be NULL) receives a copy (caller frees).
 * On failure the request's status is returned (nothing is logged for a
 * GRAPH_FAILED page: the caller decides) and *failed (may be NULL) receives
 * the HTTP status, the Graph error code and the message. */
struct graph_page_error {
    int http_status;
    char code[64];
    char message[512];
};
typedef int graph_page_fn(void *ctx, struct cJSON *values);
int graph_get_pages(struct graph *g, const char *first, graph_page_fn *page, void *ctx,
                    char **delta_link, struct graph_page_error *failed);

/* ------------------------------------------------------------------------
 * Reads */

/* A user as dualsync needs it. All strings are owned by the containing
 * struct graph_users; NULL when the property is null. */
struct graph_user {
    char *id;
    char *user_principal_name;
    char *display_name;
    char *mail;
    char *user_type;                  /* "Member" or "Guest" */
    char *external_user_state;        /* NULL, "PendingAcceptance" or "Accepted" */
    char *creation_type;
    char *immutable_id;               /* onPremisesImmutableId: base64 of the 16 anchor bytes */
    char *on_premises_upn;            /* onPremisesUserPrincipalName: set blocks conversion */
    char *on_premises_last_sync;      /* ISO 8601 */
    bool sync_enabled;                /* onPremisesSyncEnabled == true */
    bool account_enabled;
    bool redeemed;                    /* identities[] holds a signInType "federated" entry */
    bool removed;                     /* delta only: "@removed" */
    bool removed_for_good;            /* delta only: reason "deleted" (not restorable) */
};

/* Users sorted by immutable_id (users without one sort first), for
 * graph_users_find. */
struct graph_users {
    struct graph_user *v;
    size_t n, alloc;
};
#define GRAPH_USERS_INIT { NULL, 0, 0 }
void graph_users_release(struct graph_users *u);
/* The user with this onPremisesImmutableId, or NULL. O(log n). */
const struct graph_user *graph_users_find(const struct graph_users *u, const char *immutable_id);

/* Every synced user of the tenant (onPremisesSyncEnabled eq true) in one
 * paged listing with $select and $top=999: never a GET per user. Fills *out
 * (which must be empty) sorted by onPremisesImmutableId. Returns GRAPH_OK or
 * the status of the request that failed. */
enum graph_status graph_list_synced_users(struct graph *g, struct graph_users *out);

/* The same users for a few immutable ids only: GET /users?$filter=
 * onPremisesImmutableId in ('a','b',...) with GRAPH_IN_MAX values each (the
 * directory's limit on `in` values; a default, non-advanced filter, reference
 * §2.3), sent together in $batch envelopes: ceil(n / 15) requests instead of a
 * listing of the whole population. Only users with onPremisesSyncEnabled
 * true are kept, as in the listing. Fills *out (must be empty) sorted by
 * onPremisesImmutableId; ids not found are simply absent. Returns GRAPH_OK or
 * the status of the request that failed (then *out is empty). */
#define GRAPH_IN_MAX 15
enum graph_status graph_find_users_by_immutable_ids(struct graph *g, const char *const *ids, size_t n,
                                                    struct graph_users *out);
/* Whether looking `lookups` users up that way takes no more GETs than the
 * listing of a tenant of about `population` synced users (999 a page). */
bool graph_lookup_pays(size_t lookups, size_t population);
/* The relative URLs of that lookup, per values to a URL (the OData literals
 * with quotes doubled, percent-encoded so that base64's + / = survive).
 * Returns a NULL-terminated array (caller frees each and the array); *nurls
 * receives ceil(n / per). */
char **graph_immutable_id_urls(const char *const *ids, size_t n, size_t per, size_t *nurls);

/* /users/delta. delta_link: the link stored from the previous round, or NULL
 * for a first (full) round; select: the properties of a first round (NULL:
 * those graph_user holds; a stored link keeps the select it was made with). Fills *changes (must be empty; unsorted: entries
 * in the order received, "@removed" ones with removed set), and *new_link
 * (caller frees) with the link to store for the next round. *full is set when
 * the round was a full one: no link given, or the service answered 410 Gone
 * or said the link expired (delta links live 7 days), so that *changes holds
 * the whole state and the caller must treat users it does not see as gone. */
enum graph_status graph_users_delta(struct graph *g, const char *delta_link, const char *select,
                                    struct graph_users *changes, char **new_link, bool *full);

/* A delta link from now, without reading any user ($deltatoken=latest): the
 * next graph_users_delta from it gives the changes made after this call.
 * select (NULL: the properties graph_user holds) is what the link watches:
 * changes to other properties do not show (reference §2.5). */
enum graph_status graph_users_delta_latest(struct graph *g, const char *select, char **new_link);

/* The properties whose changes can unblock a conversion (a mail exported, an
 * onPremisesUserPrincipalName cleared); an invitation changes none of them,
 * so a delta on these does not list the users a run converted. */
#define GRAPH_SELECT_BLOCKERS "id,onPremisesImmutableId,mail,onPremisesUserPrincipalName"

/* One user by object id, with the same properties: to find out what became
 * of a GRAPH_UNCERTAIN invitation (externalUserState PendingAcceptance or
 * Accepted: it went through) before sending it again. GRAPH_FAILED with
 * http 404 when there is no such user (logged at verbose level only).
 * Release *out with graph_user_release. */
enum graph_status graph_get_user(struct graph *g, const char *user_id, struct graph_user *out);
void graph_user_release(struct graph_user *u);

/* /organization: whether Connect syncs the tenant and when it last did. */
struct graph_organization {
    char *id;
    char *display_name;
    bool sync_enabled;
    char *last_sync;             /* onPremisesLastSyncDateTime (ISO 8601), NULL if never */
    time_t last_sync_time;       /* the same as a time, 0 if never */
};
enum graph_status graph_get_organization(struct graph *g, struct graph_organization *out);
void graph_organization_release(struct graph_organization *o);

/* The tenant's verified domains (lowercase), from /domains. *domains is a
 * NULL-terminated array the caller frees with graph_strv_free. */
enum graph_status graph_verified_domains(struct graph *g, char ***domains, size_t *n);
void graph_strv_free(char **v);

/* ------------------------------------------------------------------------
 * dualsync check */

enum graph_tristate { GRAPH_NO, GRAPH_YES, GRAPH_UNKNOWN };

/* The tenant's cross-tenant access policy as far as B2B collaboration goes
 * (GET /policies/crossTenantAccessPolicy, /default, /partners; Policy.Read.All).
 * A setting is GRAPH_YES when usersAndGroups allows AllUsers, GRAPH_NO when
 * it blocks AllUsers, GRAPH_UNKNOWN when it names some users or groups only;
 * a partner's inherits_* says its setting is null (the default applies). */
struct graph_b2b_partner {
    char *tenant_id;                 /* lowercase */
    bool inherits_inbound, inherits_outbound;
    enum graph_tristate inbound, outbound;
};
struct graph_b2b_policy {
    char **clouds;                   /* allowedCloudEndpoints, NULL-terminated, maybe empty */
    enum graph_tristate default_inbound, default_outbound;
    struct graph_b2b_partner *partners;
    size_t npartners;
    char *request_ids;               /* "policy C/R, default C/R, partners C/R": each read's
                                        client-request-id and request-id, as far as it got */
};
/* GRAPH_OK, or the status of the read that failed (GRAPH_FAILED with a 403
 * without Policy.Read.All: the tenant is not stopped). Release with
 * graph_b2b_policy_release (also after a failure). */
enum graph_status graph_b2b_policy(struct graph *g, struct graph_b2b_policy *out);
void graph_b2b_policy_release(struct graph_b2b_policy *p);

struct graph_check_result {
    bool token_ok;
    char *token_error;           /* why not, with the remedy */
    char **roles;                /* the token's application permissions (roles claim), NULL-terminated */
    char **missing;              /* needed permissions the token lacks, as "what: Perm.One or Perm.Two" */
    char **missing_optional;     /* the same for optional features (revert, reading the invite setting) */
    enum graph_tristate invites_allowed;
    char *invites_detail;        /* what was checked and found */
    bool have_skew;
    long skew_seconds;           /* server minus local */
    char *proxy;                 /* the proxy used and where that came from (graph_proxy_describe) */
    char **b2b;                  /* one line per partner tenant and direction (set by the caller,
                                    who knows the other tenants), NULL-terminated, or NULL */
    bool b2b_blocked;            /* one of them is blocked: not ready */
    bool ok;                     /* token, permissions and invitation setting fine, skew small */
};

/* Obtain a token, decode its roles, read the tenant's guest-invitation
 * setting (GET /policies/authorizationPolicy, allowInvitesFrom; it needs
 * Policy.Read.All, else "unknown") and measure the clock skew. Returns 0 when
 * everything is fine, -1 otherwise (the result says what). Release with
 * graph_check_release. */
int graph_check(struct graph *g, struct graph_check_result *res);
void graph_check_print(FILE *out, const char *tenant, const struct graph_check_result *res);
void graph_check_release(struct graph_check_result *res);

#endif
