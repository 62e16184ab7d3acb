/* graph_p.h - inside the Graph client: the handle, the pacer, and the pure
 * helpers that tests/unit/test_graph.c exercises directly. Only graph*.c and
 * that test include it. */
#ifndef DUALSYNC_GRAPH_P_H
#define DUALSYNC_GRAPH_P_H

#include "compat.h"

#include <time.h>

#include <curl/curl.h>

#include "graph.h"
#include "util.h"

struct cJSON;

/* ------------------------------------------------------------------------
 * Pacing (graph_pace.c): the per-app-per-tenant budget of reference §4 as
 * two token buckets refilled continuously, the way the service counts. Each
 * request takes its ResourceUnit cost and, if it writes, one write, when it
 * is sent. A 429 empties the bucket it hit, pauses all sending until its
 * Retry-After and halves the bucket, which then grows back to the documented
 * size; x-ms-throttle-limit-percentage lowers our estimate to the service's
 * when the service has seen more use than we counted (another process, or a
 * bucket that did not start full). */
struct bucket {
    double capacity;             /* documented */
    double rate;                 /* documented, per second */
    double scale;                /* 0 < scale <= 1: the part of it the service grants now */
    double last_cut;             /* when scale was last halved */
    double tokens;
    double t;                    /* monotonic seconds of the last refill; < 0: not started */
    /* Learning the service's size (pacer_feedback): what we took since a
     * baseline when its bucket was not full, against how full it says it
     * is. */
    double taken;                /* cost taken since pacer_init */
    double base_t, base_taken;   /* the baseline: when, and `taken` then; base_t < 0: none yet */
    bool learned;                /* scale comes from the service's answers, not from 429s alone */
    double start_t;              /* our first take; < 0: none yet */
    double accepted;             /* cost the service answered 2xx to since */
    double last_probe;           /* when scale was last raised or lowered by an answer */
};

/* Invitations, apart from the documented budget (reference §4 lists no
 * limit for them): Entra's anti-abuse block ("Invitations are blocked for
 * this directory due to suspicious activity", lifted only by Microsoft
 * support) follows "a high volume of invitations in a short period" and
 * "a newly created tenant exhibiting automation behaviour". So at most
 * `limit` invitations per `window`, and on a tenant's first run a ramp: the
 * rate (and the burst) starts at a tenth and grows to the full rate over
 * `ramp` seconds from the first invitation. */
struct invite_pace {
    double limit, window;        /* limit <= 0: off */
    double ramp;                 /* seconds; 0: no ramp */
    double start;                /* monotonic time of the first invitation; < 0: none yet */
    double tokens, t;
};

struct pacer {
    struct bucket ru, writes;
    struct invite_pace invites;
    double pause_until;          /* monotonic seconds: nothing is sent before */
    uint64_t writes_sent;        /* running counts */
    uint64_t ru_sent;
};

void pacer_init(struct pacer *p, int ru_limit, double ru_window, int write_limit, double write_window);
/* An answer came back: the buckets start refilling (once). */
void pacer_answered(struct pacer *p, double now);
/* Take ru ResourceUnits and `writes` writes if both buckets hold them now
 * and no pause is on; true if taken. */
bool pacer_take(struct pacer *p, double now, double ru, double writes);
/* Seconds until pacer_take could succeed for this cost (0: now). A cost
 * larger than a bucket's capacity is clamped to the capacity. */
double pacer_wait(struct pacer *p, double now, double ru, double writes);
/* A throttled answer to a request sent at t_sent: pause until now +
 * retry_after, empty the bucket, and halve it unless it was halved after
 * that request was sent. */
void pacer_throttled(struct pacer *p, double now, double retry_after, bool write, double t_sent);
/* The service said its bucket is `pct` used (1.0 = full use) when it took a
 * request we sent at t_sent; lower our estimate if it is clearly higher. */
void pacer_observe(struct pacer *p, double now, double pct, bool write, double t_sent);

/* Invitation pacing: limit per window (<= 0: off), ramp seconds (0: none). */
void pacer_invites_init(struct pacer *p, double limit, double window, double ramp);
/* How many invitations may go in one request now (>= 1 when pacing is
 * on: the wait is then pacer_invites_wait's), or SIZE_MAX when off. */
size_t pacer_invites_room(struct pacer *p, double now);
/* Seconds until n invitations may be sent (0: now). */
double pacer_invites_wait(struct pacer *p, double now, double n);
/* n invitations were sent now. */
void pacer_invites_take(struct pacer *p, double now, double n);
/* A POST /invitations. */
bool graph_is_invitation(const char *method, const char *url);

/* An answer to a request sent at t_sent, the service having taken
 * `taken` (the bucket's running pacer_take total when that request went)
 * by then: pct its x-ms-throttle-limit-percentage, or < 0 when the answer
 * had none (the service sends it once usage passes 80 %). Learns the
 * bucket's size from it (see graph_pace.c) and then does pacer_observe. */
void pacer_feedback(struct pacer *p, double now, double pct, bool write, double t_sent, double taken);
/* The service answered 2xx to a request of this cost: it took it. */
void pacer_accepted(struct pacer *p, bool write, double cost);

/* ResourceUnit cost of a request (reference §4 "Costs"): GET /users 2, any
 * other GET 1, $select -1, $expand +1, $top < 20 -1, at least 1; writes
 * cost 1 RU and 1 write. */
void graph_request_cost(const char *method, const char *url, double *ru, double *writes);

/* Retry-After (RFC 9110 §10.2.3): delay-seconds, fractional as Graph sends
 * them ("2.128"), or an HTTP-date. Returns 0 and *secs (>= 0), or -1 if the
 * value is neither. `now` is the local time for HTTP-dates. */
int graph_parse_retry_after(const char *value, time_t now, double *secs);

/* Exponential backoff with jitter for the attempt-th retry (1-based): a
 * delay d = min(cap, base * 2^(attempt-1)); the result lies in [d/2, d]
 * ("equal jitter"), placed by rnd in [0,1). */
double graph_backoff(int attempt, double base, double cap, double rnd);

/* ------------------------------------------------------------------------
 * JSON (graph_json.c) */

/* The same from an answer already parsed (a $batch item's body). */
char *graph_error_from_json(int http_status, const struct cJSON *j, char **code);

/* A clear message from an error answer: the Graph error JSON
 * {"error":{"code","message"}}, an identity-platform error
 * {"error","error_description","error_codes"}, or a body that is not JSON
 * at all (a proxy's HTML page). Caller frees; *code (may be NULL) receives
 * the error code or NULL (caller frees). */
char *graph_error_message(int http_status, const char *content_type,
                          const char *body, size_t len, char **code);

/* True if the 403 answer is the "invitations are blocked" hard stop
 * (reference §4: "Invitations are blocked for this directory due to
 * suspicious activity"). */
bool graph_is_invites_blocked(int http_status, const char *message);

/* True if a 403 answer refuses the application or the tenant's settings
 * rather than one object: the permission missing (invitation-post answers
 * code "Unauthorized", "Insufficient privileges to perform requested
 * operation by the application ..."), or guest invitations not allowed. */
bool graph_refuses_app(const char *code, const char *message);

/* True if roles (a token's, NULL when unknown) hold none of the
 * NULL-terminated list any (graph_request.permissions); false for a NULL
 * list. Unknown roles count as lacking: a 403 then stops the tenant, the
 * safe side. */
bool graph_roles_lack(char *const *roles, const char *const *any);
/* Append any as "A or B or C". */
void graph_permissions_text(struct strbuf *sb, const char *const *any);
/* Update user's application permissions, least privileged first (Learn,
 * user-update; reference §1.8): what the userType PATCH asks, and what
 * `dualsync check` names for "set userType". */
extern const char *const graph_update_user_permissions[];

/* True if url is an https URL on exactly this host (the tenant's Graph
 * host), so that following it cannot send the token elsewhere. */
bool graph_link_ok(const char *graph_host, const char *url);

/* Read @odata.nextLink and @odata.deltaLink from a page. Returns 0, or -1
 * with *err (caller frees) when a link points elsewhere. Out strings are
 * copies (caller frees) or NULL. */
int graph_page_links(const struct cJSON *page, const char *graph_host,
                     char **next, char **delta, char **err);

/* $batch (reference §3). The body {"requests":[...]} for reqs[idx[0..n-1]],
 * ids being the decimal indexes; each request's client_request_id (if set)
 * goes in its headers. Caller deletes. */
struct cJSON *graph_batch_body(const struct graph_request *reqs, const size_t *idx, size_t n);
/* Match a $batch answer to the requests by id, whatever the order: out[k]
 * receives the response object of idx[k] (owned by `answer`) or NULL when
 * the answer has none. Duplicate or unknown ids are ignored. Returns the
 * number matched, or -1 when `answer` has no "responses" array. */
int graph_batch_match(const struct cJSON *answer, const size_t *idx, size_t n, const struct cJSON **out);
/* A header of a $batch response item (case-insensitive), or NULL. */
const char *graph_batch_item_header(const struct cJSON *item, const char *name);

/* Append the users of one page ("value" array; a delta page's "@removed"
 * entries included) to out, unsorted. Non-objects are skipped. */
void graph_users_add_page(struct graph_users *out, const struct cJSON *values);

/* ------------------------------------------------------------------------
 * Authentication (graph_auth.c) */

/* base64url without padding (RFC 7515 §2); caller frees. */
char *base64url_encode(const unsigned char *data, size_t len);
/* Decode base64url (padding optional). Returns a NUL-terminated buffer
 * (caller frees) and *len, or NULL if the text is not base64url. */
unsigned char *base64url_decode(const char *text, size_t *len);

struct graph_jwt {
    struct evp_pkey_st *key;     /* RSA private key, or NULL: ... */
    struct x509_st *cert;        /* the certificate registered on the app */
    const char *thumbprint;      /* ... the certificate of the Windows store with this */
    bool store_machine;          /* SHA-1 thumbprint, in LocalMachine (else CurrentUser) */
    enum graph_jwt_alg alg;
    const char *audience;        /* the cloud's token URL for the tenant */
    const char *client_id;       /* iss and sub */
    const char *jti;             /* a fresh GUID */
    time_t now;                  /* nbf and iat */
    int lifetime;                /* seconds until exp */
};
/* Build and sign the client assertion (reference §5.2) into out. Returns 0,
 * or -1 after logging. */
int graph_jwt_build(const struct graph_jwt *in, struct strbuf *out);

/* The "roles" claim of an access token (its payload, base64url JSON), as a
 * NULL-terminated array (caller frees with graph_strv_free); NULL when the
 * token is not a JWT. A token without roles gives an empty array. */
char **graph_token_roles(const char *token);

/* The token endpoint's 200 answer: access_token (appended to *token, a
 * secret: wipe it) and expires_in (seconds, a number or a string). Returns
 * 0, or -1 if the answer is not a usable Bearer token. */
int graph_token_parse(const char *body, size_t len, struct strbuf *token, double *expires_in);

/* What to do about an AADSTS error code of the token endpoint, or NULL. */
const char *graph_aadsts_remedy(long code);

/* A random version-4 GUID, lowercase, in out[37]. */
void graph_guid(char out[37]);

/* ------------------------------------------------------------------------
 * The handle */

struct http_headers {
    char request_id[48];
    char client_request_id[48];
    char retry_after[64];
    char date[64];
    char content_type[128];
    char throttle_pct[32];
    char throttle_scope[160];
    char throttle_info[64];
    char location[512];
};

/* A response body being received, with a cap so that a runaway answer
 * cannot eat the memory. */
struct http_body {
    struct strbuf sb;
    size_t cap;
    bool overflow;
};

struct graph {
    char *name;
    enum cloud cloud;
    char *tenant_id, *client_id, *secret_file, *cert_file, *key_file, *ca_file;
    char *thumbprint;            /* a certificate of the Windows store, or NULL */
    bool store_machine;          /* its store: LocalMachine (else CurrentUser) */
    struct strbuf roots;         /* PEM of the machine's trusted roots, or empty
                                  * (platform_tls_roots) when ca_file is set or
                                  * libcurl's own default is the machine's trust */
    enum graph_jwt_alg jwt_alg;
    struct curl_slist *connect_to;
    char *proxy;                 /* graph_params.proxy, or the system's */
    char *proxy_from;            /* where the system's came from, or NULL: the proxy key */
    long connect_timeout, timeout;
    int max_tries, max_in_flight, batch_size;
    double backoff_base, backoff_cap;
    double max_wait;             /* the cap on one Retry-After */
    double announced_until;      /* monotonic end of the last wait shown to the user */
    char *login_host, *graph_host;
    char *token_url;             /* https://<login>/<tenant>/oauth2/v2.0/token */
    char *scope;                 /* https://<graph host>/.default */

    CURL *easy;                  /* for single exchanges (token, pages) */
    CURLM *multi;

    struct strbuf token;         /* the access token (a secret: wiped) */
    char **roles;                /* its application permissions (graph_token_roles), NULL if unknown */
    uint64_t token_gen;          /* counts tokens obtained: which one a request carried */
    double token_expires;        /* monotonic seconds after which it is renewed */

    struct pacer pacer;
    uint64_t rng;                /* xorshift state for jitter */

    enum graph_status stopped;
    char *stop_reason;

    bool have_skew;
    long skew;

    struct graph_stats stats;
};

/* What to do when the service's certificate was refused: which trust
 * anchors were used (ca_file, the Windows store, the system's bundle). */
const char *graph_tls_remedy(const struct graph *g);

/* Graph asked (Retry-After) to send nothing for `secs` seconds because of
 * `what` (a request, for messages). Shows "waiting N s (Graph asked)" at
 * the default verbosity for a wait of a second or more not shown yet.
 * Returns false after stopping the tenant when secs is more than
 * max_wait: the message says how long Graph asked for and when to run
 * again. */
bool graph_asked_wait(struct graph *g, double secs, const char *what);
/* Monotonic seconds. */
double graph_now(void);
/* Stop the tenant (sticky); the first reason is kept. Logs it. */
void graph_stop(struct graph *g, enum graph_status st, const char *fmt, ...) ATTR_PRINTF(3, 4);
/* Set up an easy handle with the tenant's TLS, timeouts and connect-to. */
void graph_easy_setup(struct graph *g, CURL *h);
/* Header callback target. */
size_t graph_header_cb(char *buf, size_t size, size_t n, void *ud);
size_t graph_body_cb(char *buf, size_t size, size_t n, void *ud);
/* The service's time now, from the last Date header (local time if none). */
time_t graph_server_time(const struct graph *g);
/* Record the server's Date header for graph_clock_skew. */
void graph_note_date(struct graph *g, const char *date);
/* Read the certificate and key of the handle; used by graph_auth.c. */
enum graph_status graph_token_fetch(struct graph *g);
/* A valid token, fetching one if needed. NULL after graph_stop. */
const char *graph_token(struct graph *g);
/* Forget the cached token (the service said it is no longer valid). */
void graph_token_drop(struct graph *g);
/* A uniform random number in [0,1). */
double graph_random(struct graph *g);

#endif
