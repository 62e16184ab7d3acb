/* graph.c - the transport of the Graph client: one tenant's HTTPS exchanges
 * through libcurl, several in flight (curl multi), $batch envelopes of up to
 * 20 requests, pacing, retries and the tenant's stop state.
 *
 * The retry rules, and why (reference graph-api.md §3, §4):
 *  - 429, and 503/504 with Retry-After on a request safe to repeat: wait
 *    the longest Retry-After (fractional seconds, or an HTTP-date) before
 *    sending anything more to this tenant, then send again. Inside a $batch
 *    each answer is judged alone and only the throttled ones go again.
 *  - a dropped connection, a timeout, another 5xx: exponential backoff with
 *    jitter, but only for requests that are safe to repeat. An invitation
 *    whose answer was lost, or answered 503 or 504 (a gateway may answer so
 *    after the service did the work), may have been carried out: it ends
 *    GRAPH_UNCERTAIN for the caller to read the user back, so that nobody is
 *    invited twice. A connection that failed before the request went out is
 *    always retried. libcurl itself must not resend either: it silently
 *    sends a request again on a fresh connection when a reused one closes
 *    before any answer byte, which for an invitation whose work was done
 *    invites twice (no_silent_resend).
 *  - 401: the token was refused (expired, revoked): fetch a new one, once.
 *  - 403 "invitations are blocked": stop the tenant at once. A 403 that
 *    names the application (a permission missing) or the tenant's guest
 *    settings stops the tenant too; other 403s stop it unless the request
 *    says a 403 may concern its object only (may_be_forbidden) and the
 *    token carries the permission it needs (permissions: Graph's 403 for a
 *    user out of the application's reach reads like the one for a missing
 *    permission, Learn user-update).
 *  - everything else (400, 404, 409, 412): the object's own failure. */
#include "compat.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <openssl/rand.h>

#include "graph_p.h"
#include "log.h"
#include "platform.h"

#define BATCH_MAX 20
#define BODY_CAP ((size_t)64 << 20)
#define USER_AGENT "dualsync/0.1"

/* ------------------------------------------------------------------------
 * Small things */

const char *graph_status_name(enum graph_status st)
{
    switch (st) {
    case GRAPH_OK: return "ok";
    case GRAPH_FAILED: return "failed";
    case GRAPH_UNCERTAIN: return "uncertain";
    case GRAPH_TENANT_STOPPED: return "tenant-stopped";
    case GRAPH_INVITES_BLOCKED: return "invitations-blocked";
    }
    return "?";
}

double graph_now(void)
{
    return platform_monotonic();
}

double graph_random(struct graph *g)
{
    /* xorshift64*: jitter needs spread, not secrecy */
    uint64_t x = g->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    g->rng = x;
    return (double)((x * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

void graph_stop(struct graph *g, enum graph_status st, const char *fmt, ...)
{
    if (g->stopped)
        return;
    va_list ap;
    va_start(ap, fmt);
    struct strbuf sb = STRBUF_INIT;
    char buf[1024];
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    strbuf_addstr(&sb, buf);
    g->stopped = st;
    g->stop_reason = strbuf_detach(&sb);
    if (st == GRAPH_INVITES_BLOCKED)
        log_error("tenant %s: %s; stopping this tenant: an administrator must ask Microsoft "
                  "support to lift the block before any further invitation", g->name, g->stop_reason);
    else
        log_error("tenant %s: %s; stopping this tenant", g->name, g->stop_reason);
}

enum graph_status graph_stopped(const struct graph *g, const char **why)
{
    if (why)
        *why = g->stop_reason;
    return g->stopped;
}

void graph_get_stats(const struct graph *g, struct graph_stats *st)
{
    *st = g->stats;
}

bool graph_clock_skew(const struct graph *g, long *skew)
{
    if (g->have_skew)
        *skew = g->skew;
    return g->have_skew;
}

time_t graph_server_time(const struct graph *g)
{
    /* an HTTP-date Retry-After is the service's clock: read it against the
     * service's time, not a local clock that may be off */
    return time(NULL) + (g->have_skew ? g->skew : 0);
}

void graph_note_date(struct graph *g, const char *date)
{
    time_t t = curl_getdate(date, NULL);
    if (t == (time_t)-1)
        return;
    g->skew = (long)(t - time(NULL));
    g->have_skew = true;
}

/* "27 h 46 min", "4 min 10 s", "12 s": a wait a person can read. */
static void format_duration(double secs, char *out, size_t cap)
{
    long long s = (long long)ceil(secs);
    if (s >= 3600)
        snprintf(out, cap, "%lld h %lld min", s / 3600, s % 3600 / 60);
    else if (s >= 60)
        snprintf(out, cap, "%lld min %lld s", s / 60, s % 60);
    else
        snprintf(out, cap, "%lld s", s);
}

bool graph_asked_wait(struct graph *g, double secs, const char *what)
{
    if (secs > g->max_wait) {
        char asked[48], when[ISO_TIME_LEN + 1];
        format_duration(secs, asked, sizeof(asked));
        iso_time_format((int64_t)time(NULL) + (int64_t)ceil(secs), when);
        graph_stop(g, GRAPH_TENANT_STOPPED, "%s: Graph asked to wait %.0f s (%s, Retry-After), more "
                   "than max_retry_wait (%.0f s); run again after %s", what, ceil(secs), asked,
                   g->max_wait, when);
        return false;
    }
    double until = graph_now() + secs;
    /* once per pause: the answers of a throttled $batch ask for about the
     * same time, and a line per answer would bury the rest */
    if (secs >= 1 && until > g->announced_until + 1) {
        log_info("tenant %s: waiting %.0f s (Graph asked)", g->name, ceil(secs));
        g->announced_until = until;
    }
    return true;
}

/* ------------------------------------------------------------------------
 * Requests */

void graph_request_release(struct graph_request *r)
{
    free(r->url);
    cJSON_Delete(r->body);
    cJSON_Delete(r->answer);
    free(r->error);
    free(r->error_code);
    free(r->error_message);
    memset(r, 0, sizeof(*r));
}

/* Reset the answer part before (re)sending. */
static void clear_answer(struct graph_request *r)
{
    cJSON_Delete(r->answer);
    free(r->error);
    free(r->error_code);
    free(r->error_message);
    r->answer = NULL;
    r->error = NULL;
    r->error_code = NULL;
    r->error_message = NULL;
    r->status = GRAPH_OK;
    r->http_status = 0;
    r->request_id[0] = '\0';
}

void graph_req_get(struct graph_request *r, const char *url)
{
    memset(r, 0, sizeof(*r));
    r->method = "GET";
    r->url = xstrdup(url);
    r->idempotent = true;
}

/* ------------------------------------------------------------------------
 * libcurl plumbing */

static void copy_value(char *dst, size_t cap, const char *v, size_t len)
{
    while (len && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
        len--;
    if (len >= cap)
        len = cap - 1;
    memcpy(dst, v, len);
    dst[len] = '\0';
}

size_t graph_header_cb(char *buf, size_t size, size_t n, void *ud)
{
    struct http_headers *h = ud;
    size_t len = size * n;
    if (len >= 5 && !strncmp(buf, "HTTP/", 5)) {
        /* a new status line (after a 100 Continue): forget the previous headers */
        memset(h, 0, sizeof(*h));
        return len;
    }
    const char *colon = memchr(buf, ':', len);
    if (!colon)
        return len;
    size_t nl = (size_t)(colon - buf);
    const char *v = colon + 1;
    size_t vl = len - nl - 1;
    while (vl && (*v == ' ' || *v == '\t'))
        v++, vl--;
    static const struct {
        const char *name;
        size_t off, cap;
    } wanted[] = {
#define H(name, field) { name, offsetof(struct http_headers, field), sizeof(((struct http_headers *)0)->field) }
        H("request-id", request_id),
        H("x-ms-request-id", request_id), /* the token endpoint's; Graph sends request-id */
        H("client-request-id", client_request_id),
        H("retry-after", retry_after),
        H("date", date),
        H("content-type", content_type),
        H("x-ms-throttle-limit-percentage", throttle_pct),
        H("x-ms-throttle-scope", throttle_scope),
        H("x-ms-throttle-information", throttle_info),
        H("location", location),
#undef H
    };
    for (size_t i = 0; i < ARRAY_SIZE(wanted); i++)
        if (strlen(wanted[i].name) == nl && !strncasecmp(buf, wanted[i].name, nl))
            copy_value((char *)h + wanted[i].off, wanted[i].cap, v, vl);
    return len;
}

size_t graph_body_cb(char *buf, size_t size, size_t n, void *ud)
{
    struct http_body *b = ud;
    size_t len = size * n;
    if (b->sb.len + len > b->cap) {
        b->overflow = true;
        return 0; /* abort the transfer */
    }
    strbuf_add(&b->sb, buf, len);
    return len;
}

const char *graph_tls_remedy(const struct graph *g)
{
    if (g->ca_file)
        return "check that the CA file it was given holds the CA that issued the service's certificate";
    if (g->roots.len)
        return "the CA that issued the service's certificate must be a trusted root of this machine "
               "(Cert:\\LocalMachine\\Root), and the certificate must name the host";
    return "the CA that issued the service's certificate must be in the system's CA bundle "
           "(ca-certificates), and the certificate must name the host";
}

void graph_easy_setup(struct graph *g, CURL *h)
{
    /* TLS verification stays on (libcurl's default); VERIFYPEER and
     * VERIFYHOST are never touched. Only the CA bundle can be chosen. */
    if (g->ca_file) {
        curl_easy_setopt(h, CURLOPT_CAINFO, g->ca_file);
    } else if (g->roots.len) {
        /* the machine's roots (platform_tls_roots): libcurl checks the
         * chain and the host name itself */
        struct curl_blob blob = { g->roots.buf, g->roots.len, CURL_BLOB_NOCOPY };
        curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
    }
    curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
#else
    curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTPS);
#endif
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    if (g->connect_to)
        curl_easy_setopt(h, CURLOPT_CONNECT_TO, g->connect_to);
    if (g->proxy) {
        /* the key is the whole truth: "" turns the environment's proxy
         * off, and an empty no-proxy list sends every host through it */
        curl_easy_setopt(h, CURLOPT_PROXY, strcmp(g->proxy, "none") ? g->proxy : "");
        curl_easy_setopt(h, CURLOPT_NOPROXY, "");
    }
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, g->connect_timeout);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, g->timeout);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(h, CURLOPT_USERAGENT, USER_AGENT);
}

/* ------------------------------------------------------------------------
 * The proxy, as libcurl picks it */

/* The URL with its credentials masked: http://USER:PASS@proxy:3128 shows
 * as http://, three stars, @proxy:3128. */
static char *proxy_shown(const char *url)
{
    const char *host = strstr(url, "://");
    host = host ? host + 3 : url;
    const char *at = strchr(host, '@');
    const char *slash = strchr(host, '/');
    if (!at || (slash && slash < at))
        return xstrdup(url);
    return xasprintf("%.*s***%s", (int)(host - url), url, at);
}

static const char *env_either(const char *lower, const char *upper)
{
    const char *v = getenv(lower);
    if (!v || !*v)
        v = getenv(upper);
    return v && *v ? v : NULL;
}

/* libcurl's no_proxy: "*", or names separated by commas (or spaces) that
 * match the host itself or a domain it is in; a leading dot is allowed. */
static bool no_proxy_names(const char *list, const char *host)
{
    size_t hl = strlen(host);
    for (const char *t = list; *t;) {
        t += strspn(t, ", ");
        size_t n = strcspn(t, ", ");
        const char *e = t;
        size_t el = n;
        if (el && *e == '.')
            e++, el--;
        if (el == 1 && *e == '*')
            return true;
        if (el && el <= hl && !strncasecmp(host + hl - el, e, el) && (el == hl || host[hl - el - 1] == '.'))
            return true;
        t += n;
    }
    return false;
}

char *graph_proxy_describe(const struct graph *g)
{
    if (g->proxy && !strcmp(g->proxy, "none"))
        return xstrdup("none (proxy = none)");
    if (g->proxy) {
        char *u = proxy_shown(g->proxy);
        char *out = xasprintf("%s (%s)", u, g->proxy_from ? g->proxy_from : "proxy key");
        free(u);
        return out;
    }
    const char *which = "https_proxy";
    const char *url = env_either("https_proxy", "HTTPS_PROXY");
    if (!url) {
        which = "all_proxy";
        url = env_either("all_proxy", "ALL_PROXY");
    }
    if (!url)
        return xstrdup("none");
    const char *np = env_either("no_proxy", "NO_PROXY");
    if (np && no_proxy_names(np, g->graph_host))
        return xasprintf("none (no_proxy names %s)", g->graph_host);
    char *u = proxy_shown(url);
    char *out = xasprintf("%s (%s)", u, which);
    free(u);
    return out;
}

/* ------------------------------------------------------------------------
 * The handle */

static char *dup_or_null(const char *s)
{
    return s && *s ? xstrdup(s) : NULL;
}

int graph_open(const struct graph_params *p, struct graph **out)
{
    const char *name = p->name && *p->name ? p->name : "?";
    if ((unsigned)p->cloud >= CLOUD_COUNT)
        return log_error("tenant %s: unknown cloud", name);
    if (!p->tenant_id || !*p->tenant_id)
        return log_error("tenant %s: tenant_id is missing; give the tenant's id (a GUID)", name);
    if (!p->client_id || !*p->client_id)
        return log_error("tenant %s: client_id is missing; give the app registration's "
                         "application (client) id", name);
    bool secret = p->secret_file && *p->secret_file, cert = p->cert_file && *p->cert_file;
    bool store = p->cert_thumbprint && *p->cert_thumbprint;
    if (secret + cert + store != 1)
        return log_error("tenant %s: give exactly one credential: secret_file, cert_file "
                         "(and key_file), or cert_thumbprint", name);
    if (p->batch_size < 0 || p->batch_size > BATCH_MAX)
        return log_error("tenant %s: batch size %d is out of range 1..%d (Graph takes at most "
                         "20 requests per $batch)", name, p->batch_size, BATCH_MAX);
    for (const char *s = p->tenant_id; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '-' || *s == '.'))
            return log_error("tenant %s: tenant_id '%s' is neither a GUID nor a domain", name, p->tenant_id);

    static bool curl_ready;
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return log_error("libcurl cannot initialize");
        curl_ready = true;
    }
    struct graph *g = xcalloc(1, sizeof(*g));
    g->name = xstrdup(name);
    g->cloud = p->cloud;
    g->tenant_id = xstrdup(p->tenant_id);
    g->client_id = xstrdup(p->client_id);
    g->secret_file = secret ? xstrdup(p->secret_file) : NULL;
    g->cert_file = cert ? xstrdup(p->cert_file) : NULL;
    g->thumbprint = store ? xstrdup(p->cert_thumbprint) : NULL;
    g->store_machine = p->store_machine;
    g->key_file = dup_or_null(p->key_file);
    g->ca_file = dup_or_null(p->ca_file);
    g->jwt_alg = p->jwt_alg;
    for (const char *t = p->connect_to; t && *t;) {
        size_t n = strcspn(t, ", ");
        if (n) {
            char *entry = xstrndup(t, n);
            g->connect_to = curl_slist_append(g->connect_to, entry);
            free(entry);
        }
        t += n + (t[n] != '\0');
    }
    g->proxy = p->proxy && *p->proxy ? xstrdup(p->proxy) : NULL;
    g->connect_timeout = p->connect_timeout > 0 ? p->connect_timeout : 10;
    g->timeout = p->timeout > 0 ? p->timeout : 60;
    g->max_tries = p->max_tries > 0 ? p->max_tries : 8;
    g->max_in_flight = p->max_in_flight > 0 ? p->max_in_flight : 8;
    g->batch_size = p->batch_size > 0 ? p->batch_size : BATCH_MAX;
    g->backoff_base = p->backoff_base > 0 ? p->backoff_base : 0.5;
    g->backoff_cap = p->backoff_cap > 0 ? p->backoff_cap : 30;
    g->max_wait = p->max_wait > 0 ? p->max_wait : 300;
    g->login_host = xstrdup(cloud_login_host(p->cloud));
    g->graph_host = xstrdup(cloud_graph_host(p->cloud));
    g->token_url = xasprintf("https://%s/%s/oauth2/v2.0/token", g->login_host, g->tenant_id);
    g->scope = xasprintf("https://%s/.default", g->graph_host);
    /* no proxy in the config nor in the environment: the system's, where
     * it has one beyond them (Windows: WinHTTP's and Internet Options',
     * PAC included), found for the Graph host and given to libcurl */
    if (!g->proxy && !env_either("https_proxy", "HTTPS_PROXY") && !env_either("all_proxy", "ALL_PROXY")) {
        struct strbuf px = STRBUF_INIT, from = STRBUF_INIT;
        char *url = xasprintf("https://%s/", g->graph_host);
        if (platform_system_proxy(url, &px, &from) == 0) {
            g->proxy = strbuf_detach(&px);
            g->proxy_from = strbuf_detach(&from);
        }
        free(url);
        strbuf_release(&px);
        strbuf_release(&from);
    }
    pacer_init(&g->pacer, p->ru_limit > 0 ? p->ru_limit : 3500,
               p->ru_window > 0 ? p->ru_window : 10, p->write_limit > 0 ? p->write_limit : 3000,
               p->write_window > 0 ? p->write_window : 150);
    double iw = p->invitation_window > 0 ? p->invitation_window : 60;
    pacer_invites_init(&g->pacer, p->invitations_per_minute < 0 ? 0
                       : p->invitations_per_minute > 0 ? p->invitations_per_minute : 30,
                       iw, p->first_run ? 10 * iw : 0);
    if (RAND_bytes((unsigned char *)&g->rng, sizeof(g->rng)) != 1 || !g->rng)
        g->rng = 0x9e3779b97f4a7c15ULL ^ (uint64_t)time(NULL);
    if (!g->ca_file && platform_tls_roots(&g->roots) < 0) {
        graph_close(g);
        return log_error("tenant %s: no trusted root certificates to check %s and %s against",
                         name, g->login_host, g->graph_host);
    }
    g->easy = curl_easy_init();
    g->multi = curl_multi_init();
    if (!g->easy || !g->multi)
        die("libcurl cannot create a handle");
    curl_multi_setopt(g->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)g->max_in_flight);
    curl_multi_setopt(g->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)g->max_in_flight);
    *out = g;
    return 0;
}

void graph_close(struct graph *g)
{
    if (!g)
        return;
    platform_wipe(&g->token);
    graph_strv_free(g->roles);
    curl_easy_cleanup(g->easy);
    curl_multi_cleanup(g->multi);
    curl_slist_free_all(g->connect_to);
    free(g->proxy);
    free(g->proxy_from);
    free(g->name);
    free(g->tenant_id);
    free(g->client_id);
    free(g->secret_file);
    free(g->thumbprint);
    free(g->cert_file);
    free(g->key_file);
    free(g->ca_file);
    strbuf_release(&g->roots);
    free(g->login_host);
    free(g->graph_host);
    free(g->token_url);
    free(g->scope);
    free(g->stop_reason);
    free(g);
}

/* ------------------------------------------------------------------------
 * The engine: requests in flight */

struct item {
    double not_before;       /* monotonic: backoff after a failure */
    bool auth_retried;
    bool final;
};

struct xfer {
    CURL *easy;
    struct curl_slist *headers;
    char *url;
    char *body;              /* request body text, or NULL */
    struct http_body in;
    struct http_headers hdr;
    char errbuf[CURL_ERROR_SIZE];
    char client_request_id[37];
    size_t idx[BATCH_MAX];
    size_t n;
    bool envelope;           /* a $batch */
    bool writes;             /* carries at least one write */
    double t_sent;           /* when it was sent (monotonic) */
    double taken_ru, taken_w; /* the pacer's running totals before it was sent */
    uint64_t token_gen;      /* the token it carried */
};

struct run {
    struct graph *g;
    struct graph_request *reqs;
    struct item *items;
    size_t n, remaining;
    /* queue of requests waiting to be sent: a ring of indexes */
    size_t *q;
    size_t qhead, qlen, qcap;
    struct xfer **flight;
    int nflight;
    graph_done_fn *done;
    void *ctx;
};

static void q_push(struct run *run, size_t i, bool front)
{
    if (run->qlen == run->qcap) {
        size_t ncap = run->qcap ? run->qcap * 2 : 64;
        size_t *nq = xmalloc(ncap * sizeof(*nq));
        for (size_t k = 0; k < run->qlen; k++)
            nq[k] = run->q[(run->qhead + k) % run->qcap];
        free(run->q);
        run->q = nq;
        run->qcap = ncap;
        run->qhead = 0;
    }
    if (front) {
        run->qhead = (run->qhead + run->qcap - 1) % run->qcap;
        run->q[run->qhead] = i;
    } else {
        run->q[(run->qhead + run->qlen) % run->qcap] = i;
    }
    run->qlen++;
}

static size_t q_pop(struct run *run)
{
    size_t i = run->q[run->qhead];
    run->qhead = (run->qhead + 1) % run->qcap;
    run->qlen--;
    return i;
}

static void finish(struct run *run, size_t i, enum graph_status st, char *error)
{
    struct graph_request *r = &run->reqs[i];
    r->status = st;
    if (error) {
        free(r->error);
        r->error = error;
    }
    run->items[i].final = true;
    run->remaining--;
    if (run->done)
        run->done(run->ctx, i, r);
}

/* Not sent because the tenant stopped. */
static void finish_unsent(struct run *run, size_t i)
{
    struct graph_request *r = &run->reqs[i];
    r->http_status = 0;
    finish(run, i, run->g->stopped,
           xasprintf("tenant %s: %s %s not sent: %s", run->g->name, r->method, r->url,
                     run->g->stop_reason ? run->g->stop_reason : "tenant stopped"));
}

/* Send again later: after `delay` seconds for this request alone. */
static void requeue(struct run *run, size_t i, double delay)
{
    struct graph *g = run->g;
    struct graph_request *r = &run->reqs[i];
    if (g->stopped) {
        finish_unsent(run, i);
        return;
    }
    if (r->tries >= g->max_tries) {
        /* bounded: a tenant that keeps failing is stopped, not hammered */
        graph_stop(g, GRAPH_TENANT_STOPPED, "%s %s still failing after %d tries: %s", r->method,
                   r->url, r->tries, r->error ? r->error : "no answer");
        finish(run, i, GRAPH_TENANT_STOPPED, NULL);
        return;
    }
    run->items[i].not_before = graph_now() + delay;
    g->stats.retries++;
    q_push(run, i, false);
}

static bool is_abs(const char *url)
{
    return str_starts_with(url, "https://");
}

static char *full_url(struct graph *g, const struct graph_request *r)
{
    if (is_abs(r->url))
        return xstrdup(r->url);
    return xasprintf("https://%s/%s%s", g->graph_host, r->beta ? "beta" : "v1.0", r->url);
}

static void xfer_free(struct xfer *x)
{
    if (!x)
        return;
    if (x->headers) {
        /* one of them carries the access token */
        for (struct curl_slist *s = x->headers; s; s = s->next)
            platform_wipe_mem(s->data, strlen(s->data));
        curl_slist_free_all(x->headers);
    }
    curl_easy_cleanup(x->easy);
    free(x->url);
    free(x->body);
    strbuf_release(&x->in.sb);
    free(x);
}

/* Keep libcurl from sending h's request a second time by itself (see the
 * retry rules above): libcurl 8.16 has an option for it; before that, only
 * a connection never used before is free of the silent resend. */
static void no_silent_resend(CURL *h)
{
#if LIBCURL_VERSION_NUM >= 0x081000
    if (curl_easy_setopt(h, CURLOPT_FORBID_RETRY_ON_REUSE, 1L) == CURLE_OK)
        return;
#endif
    curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
}

static void start(struct run *run, struct xfer *x, const char *token)
{
    struct graph *g = run->g;
    const struct graph_request *first = &run->reqs[x->idx[0]];
    for (size_t k = 0; k < x->n; k++) {
        struct graph_request *r = &run->reqs[x->idx[k]];
        clear_answer(r);
        graph_guid(r->client_request_id); /* a fresh one for each send */
        r->tries++;
        g->stats.requests++;
    }
    graph_guid(x->client_request_id);
    if (x->envelope) {
        x->url = xasprintf("https://%s/%s/$batch", g->graph_host, first->beta ? "beta" : "v1.0");
        cJSON *b = graph_batch_body(run->reqs, x->idx, x->n);
        x->body = cJSON_PrintUnformatted(b);
        cJSON_Delete(b);
    } else {
        x->url = full_url(g, first);
        memcpy(x->client_request_id, first->client_request_id, sizeof(x->client_request_id));
        x->body = first->body ? cJSON_PrintUnformatted(first->body) : NULL;
    }
    x->easy = curl_easy_init();
    if (!x->easy)
        die("libcurl cannot create a handle");
    graph_easy_setup(g, x->easy);
    for (size_t k = 0; k < x->n; k++)
        if (!run->reqs[x->idx[k]].idempotent) {
            no_silent_resend(x->easy);
            break;
        }
    struct strbuf auth = STRBUF_INIT;
    strbuf_addf(&auth, "Authorization: Bearer %s", token);
    x->headers = curl_slist_append(NULL, auth.buf);
    platform_wipe(&auth);
    x->headers = curl_slist_append(x->headers, "Accept: application/json");
    char crid[80];
    snprintf(crid, sizeof(crid), "client-request-id: %s", x->client_request_id);
    x->headers = curl_slist_append(x->headers, crid);
    x->headers = curl_slist_append(x->headers, "return-client-request-id: true");
    const char *method = x->envelope ? "POST" : first->method;
    if (x->body) {
        x->headers = curl_slist_append(x->headers, "Content-Type: application/json");
        curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, x->body);
        curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(x->body));
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE, 0L);
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
        curl_easy_setopt(x->easy, CURLOPT_CUSTOMREQUEST, method);
    /* no "Expect: 100-continue" round trip for a $batch body */
    x->headers = curl_slist_append(x->headers, "Expect:");
    curl_easy_setopt(x->easy, CURLOPT_URL, x->url);
    curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->headers);
    curl_easy_setopt(x->easy, CURLOPT_HEADERFUNCTION, graph_header_cb);
    curl_easy_setopt(x->easy, CURLOPT_HEADERDATA, &x->hdr);
    x->in.cap = BODY_CAP;
    curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, graph_body_cb);
    curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, &x->in);
    curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
    curl_multi_add_handle(g->multi, x->easy);
    g->stats.http_requests++;
    run->flight[run->nflight++] = x;
}

/* Form the next group of ready requests and send it if the budget allows.
 * Returns how long to wait before trying again: 0 after sending (try the
 * next group at once), INFINITY when only a completion can help. */
static double dispatch_one(struct run *run)
{
    struct graph *g = run->g;
    if (run->nflight >= g->max_in_flight || !run->qlen || g->stopped)
        return INFINITY;
    double now = graph_now();
    size_t group[BATCH_MAX], skipped[64];
    size_t ng = 0, ns = 0;
    double earliest = INFINITY;
    bool beta = false;
    size_t scan = run->qlen;
    /* invitations are paced apart (graph_p.h): no more in one $batch than
     * the pace allows now */
    size_t inv_room = pacer_invites_room(&g->pacer, now), ninv = 0;
    while (scan-- && ng < (size_t)g->batch_size && ns < ARRAY_SIZE(skipped)) {
        size_t i = q_pop(run);
        struct graph_request *r = &run->reqs[i];
        bool ready = run->items[i].not_before <= now;
        bool inv = graph_is_invitation(r->method, r->url);
        /* a full URL (a nextLink) is never put in a $batch; one $batch per API version */
        bool fits = ng == 0 || (!is_abs(r->url) && !is_abs(run->reqs[group[0]].url) && r->beta == beta);
        if (inv && ninv >= inv_room)
            fits = false;
        if (ready && fits) {
            if (ng == 0)
                beta = r->beta;
            ninv += inv;
            group[ng++] = i;
            if (is_abs(r->url))
                break;
        } else {
            if (!ready && run->items[i].not_before < earliest)
                earliest = run->items[i].not_before;
            skipped[ns++] = i;
        }
    }
    /* put the skipped ones back in front, in their order */
    while (ns)
        q_push(run, skipped[--ns], true);
    if (!ng)
        return earliest == INFINITY ? INFINITY : earliest - now;

    double ru = 0, writes = 0;
    for (size_t k = 0; k < ng; k++) {
        double c_ru, c_w;
        graph_request_cost(run->reqs[group[k]].method, run->reqs[group[k]].url, &c_ru, &c_w);
        ru += c_ru;
        writes += c_w;
    }
    if (writes > 0 && !g->pacer.writes.learned) {
        /* until an answer has told the service's size, at most half the
         * exchanges carry writes: the first x-ms-throttle-limit-percentage
         * comes at 80 % of the service's bucket, and what is on the way
         * then beyond the other 20 % is answered 429 (and deepens its debt) */
        int wflight = 0;
        for (int k = 0; k < run->nflight; k++)
            wflight += run->flight[k]->writes;
        if (wflight >= (g->max_in_flight + 1) / 2) {
            for (size_t k = ng; k-- > 0;)
                q_push(run, group[k], true);
            return INFINITY;
        }
    }
    double wait = fmax(pacer_wait(&g->pacer, now, ru, writes), pacer_invites_wait(&g->pacer, now, (double)ninv));
    const char *token = wait > 0 ? NULL : graph_token(g);
    if (wait > 0 || !token) {
        for (size_t k = ng; k-- > 0;)
            q_push(run, group[k], true);
        if (!token && g->stopped)
            return INFINITY;
        return wait;
    }
    struct xfer *x = xcalloc(1, sizeof(*x));
    x->t_sent = now;
    x->taken_ru = g->pacer.ru.taken;
    x->taken_w = g->pacer.writes.taken;
    pacer_take(&g->pacer, now, ru, writes);
    pacer_invites_take(&g->pacer, now, (double)ninv);
    memcpy(x->idx, group, ng * sizeof(group[0]));
    x->n = ng;
    x->envelope = ng > 1;
    x->writes = writes > 0;
    x->token_gen = g->token_gen;
    start(run, x, token);
    return 0;
}

/* Returns seconds until the next dispatch could happen. */
static double dispatch(struct run *run)
{
    double w;
    while ((w = dispatch_one(run)) == 0)
        ;
    return w;
}

/* x-ms-throttle-limit-percentage of an answer: of one request of x (write
 * says which bucket), or of the envelope (x->writes). */
static void observe_pct(struct run *run, struct xfer *x, bool write, const char *pct)
{
    if (!pct || !*pct)
        return;
    char *end;
    double v = strtod(pct, &end);
    if (end == pct)
        return;
    /* Graph sends 0.8..1.8 (a fraction of the limit); accept a percentage too */
    if (v > 10)
        v /= 100;
    pacer_observe(&run->g->pacer, graph_now(), v, write, x->t_sent);
}

/* What the service's bucket says about request k of x (pacer_feedback):
 * its x-ms-throttle-limit-percentage (NULL: none; then only a 2xx, which
 * the service surely counted, tells anything). */
static void feedback(struct run *run, struct xfer *x, size_t k, int status, const char *pct)
{
    if (status >= 200 && status < 300) {
        double c_ru, c_w;
        graph_request_cost(run->reqs[x->idx[k]].method, run->reqs[x->idx[k]].url, &c_ru, &c_w);
        bool w = strcmp(run->reqs[x->idx[k]].method, "GET") != 0;
        pacer_accepted(&run->g->pacer, w, w ? c_w : c_ru);
    }
    double v = -1;
    if (pct && *pct) {
        char *end;
        v = strtod(pct, &end);
        if (end == pct)
            return;
        if (v > 10)
            v /= 100;
    } else if (status < 200 || status >= 300) {
        return;
    }
    /* the running total up to and including request k: the service took
     * the requests of x in order */
    double ru = x->taken_ru, w = x->taken_w;
    for (size_t j = 0; j <= k; j++) {
        double c_ru, c_w;
        graph_request_cost(run->reqs[x->idx[j]].method, run->reqs[x->idx[j]].url, &c_ru, &c_w);
        ru += c_ru;
        w += c_w;
    }
    bool write = strcmp(run->reqs[x->idx[k]].method, "GET") != 0;
    pacer_feedback(&run->g->pacer, graph_now(), v, write, x->t_sent, write ? w : ru);
}

/* An error about request r, with the two handles Microsoft support can
 * trace it by: the client-request-id we sent and the request-id Graph gave
 * ("none" when no answer came back). */
static char *describe(struct graph *g, const struct graph_request *r, const char *msg)
{
    return xasprintf("tenant %s: %s %s: %s (client-request-id %s, request-id %s)", g->name, r->method,
                     r->url, msg, r->client_request_id[0] ? r->client_request_id : "none",
                     r->request_id[0] ? r->request_id : "none");
}

/* One answer for request i: from a single exchange, or one item of a $batch.
 * headers: a lookup function over the answer's headers. */
struct answer {
    int status;
    const char *retry_after;
    const char *request_id;
    const char *pct;
    const char *content_type;
    const cJSON *json;       /* parsed body, or NULL */
    const char *text;        /* raw body if not parsed (single exchange) */
    size_t text_len;
};

static void on_answer(struct run *run, struct xfer *x, size_t i, const struct answer *a)
{
    struct graph *g = run->g;
    struct graph_request *r = &run->reqs[i];
    r->http_status = a->status;
    if (a->request_id && *a->request_id)
        snprintf(r->request_id, sizeof(r->request_id), "%s", a->request_id);
    if (a->status >= 200 && a->status < 300) {
        if (a->json)
            r->answer = cJSON_Duplicate(a->json, true);
        else if (a->text && a->text_len) {
            r->answer = cJSON_ParseWithLength(a->text, a->text_len);
            if (!r->answer) {
                /* the service did the work, but the answer cannot be read */
                r->error = describe(g, r, "the answer is not valid JSON (a proxy in between?)");
                finish(run, i, r->idempotent ? GRAPH_FAILED : GRAPH_UNCERTAIN, NULL);
                return;
            }
        }
        finish(run, i, GRAPH_OK, NULL);
        return;
    }
    char *code = NULL;
    char *msg = a->json ? graph_error_from_json(a->status, a->json, &code)
                        : graph_error_message(a->status, a->content_type, a->text, a->text_len, &code);
    r->error = describe(g, r, msg);
    r->error_code = code;
    /* graph_error_from_json and graph_error_message write "STATUS[ CODE]: MESSAGE" */
    const char *own = strstr(msg, ": ");
    r->error_message = xstrdup(own ? own + 2 : msg);
    double ra = -1;
    if (a->retry_after && graph_parse_retry_after(a->retry_after, graph_server_time(g), &ra) < 0)
        ra = -1;

    char *what = xasprintf("%s %s", r->method, r->url);
    if (a->status == 503 && !r->idempotent) {
        /* a 503 can come from a gateway after the service did the work (as
         * a 504 can): sending an invitation again could invite twice, so the
         * caller reads the user back. The tenant still waits as asked. */
        double wait = ra >= 0 ? ra : graph_backoff(r->tries, g->backoff_base, g->backoff_cap, graph_random(g));
        g->stats.throttled++;
        if (ra < 0 || graph_asked_wait(g, ra, what))
            pacer_throttled(&g->pacer, graph_now(), wait, true, x->t_sent);
        finish(run, i, GRAPH_UNCERTAIN, NULL);
    } else if (ra >= 0 && a->status != 424 && r->tries < g->max_tries &&
               (a->status == 429 || a->status == 503 || (a->status == 504 && r->idempotent)) &&
               !graph_asked_wait(g, ra, what)) {
        /* asked to wait longer than the cap: the tenant is stopped */
        finish(run, i, GRAPH_TENANT_STOPPED, NULL);
    } else if (a->status == 429 || a->status == 503 || (a->status == 504 && ra >= 0 && r->idempotent) ||
               a->status == 424) {
        /* throttled, or not carried out: send again after Retry-After (the
         * longest of a $batch, as every answer pauses the whole tenant) */
        double wait = ra >= 0 ? ra : graph_backoff(r->tries, g->backoff_base, g->backoff_cap, graph_random(g));
        if (a->status != 424) {
            g->stats.throttled++;
            pacer_throttled(&g->pacer, graph_now(), wait, strcmp(r->method, "GET") != 0, x->t_sent);
        }
        log_verbose("%s; sending again in %.3f s", r->error, wait);
        requeue(run, i, a->status == 424 ? wait : 0);
    } else if (a->status == 401) {
        /* drop the token this request carried, not one fetched since by
         * another answer's 401 */
        if (x->token_gen == g->token_gen)
            graph_token_drop(g);
        if (!run->items[i].auth_retried) {
            run->items[i].auth_retried = true;
            requeue(run, i, 0);
        } else {
            graph_stop(g, GRAPH_TENANT_STOPPED, "Graph refuses a fresh token: %s", msg);
            finish(run, i, GRAPH_TENANT_STOPPED, NULL);
        }
    } else if (a->status == 403 && r->may_be_forbidden && !graph_is_invites_blocked(a->status, msg)
               && !graph_refuses_app(code, msg) && !graph_roles_lack(g->roles, r->permissions)) {
        /* about this object only (a directory-role holder, a partner domain
         * refused): the caller records it, the tenant goes on */
        finish(run, i, GRAPH_FAILED, NULL);
    } else if (a->status == 403) {
        if (graph_is_invites_blocked(a->status, msg)) {
            graph_stop(g, GRAPH_INVITES_BLOCKED, "%s %s: %s", r->method, r->url, msg);
            finish(run, i, GRAPH_INVITES_BLOCKED, NULL);
        } else if (graph_roles_lack(g->roles, r->permissions)) {
            /* Graph's 403 for the permission missing is the one it gives
             * for an object out of its reach: the token says which */
            struct strbuf need = STRBUF_INIT;
            graph_permissions_text(&need, r->permissions);
            graph_stop(g, GRAPH_TENANT_STOPPED, "%s %s: %s; the application's token %s %s: grant it as an "
                       "application permission with admin consent (dualsync check lists what is missing)",
                       r->method, r->url, msg, g->roles ? "does not carry" : "cannot be read for", need.buf);
            strbuf_release(&need);
            finish(run, i, GRAPH_TENANT_STOPPED, NULL);
        } else {
            graph_stop(g, GRAPH_TENANT_STOPPED, "%s %s: %s; check the application permissions "
                       "(dualsync check) and the tenant's guest invitation settings", r->method, r->url, msg);
            finish(run, i, GRAPH_TENANT_STOPPED, NULL);
        }
    } else if (a->status >= 500) {
        if (r->idempotent) {
            double wait = ra >= 0 ? ra : graph_backoff(r->tries, g->backoff_base, g->backoff_cap, graph_random(g));
            if (ra >= 0 && r->tries < g->max_tries && !graph_asked_wait(g, ra, what)) {
                finish(run, i, GRAPH_TENANT_STOPPED, NULL);
            } else {
                log_verbose("%s; sending again in %.3f s", r->error, wait);
                requeue(run, i, wait);
            }
        } else {
            finish(run, i, GRAPH_UNCERTAIN, NULL);
        }
    } else {
        finish(run, i, GRAPH_FAILED, NULL);
    }
    free(what);
    free(msg);
}

/* No answer for request i although the exchange went through: send it
 * again if that is safe, else the caller must find out. */
static void lost(struct run *run, size_t i, const char *msg)
{
    struct graph *g = run->g;
    struct graph_request *r = &run->reqs[i];
    free(r->error);
    r->error = describe(g, r, msg);
    if (r->idempotent)
        requeue(run, i, graph_backoff(r->tries, g->backoff_base, g->backoff_cap, graph_random(g)));
    else
        finish(run, i, GRAPH_UNCERTAIN, NULL);
}

/* The exchange failed without an HTTP answer. */
static void on_transport_error(struct run *run, struct xfer *x, CURLcode cc)
{
    struct graph *g = run->g;
    long sent = 0;          /* CURLINFO_REQUEST_SIZE is a long (32 bits on Windows) */
    curl_easy_getinfo(x->easy, CURLINFO_REQUEST_SIZE, &sent);
    /* never written to the wire: nothing can have been carried out */
    bool unsent = sent == 0 || cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST;
    bool tls = cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE ||
               cc == CURLE_SSL_CERTPROBLEM;
    const char *what = x->in.overflow ? "the answer is larger than 64 MiB" : curl_easy_strerror(cc);
    char *msg = xasprintf("%s%s%s", what, x->errbuf[0] ? ": " : "", x->errbuf);
    if (tls)
        graph_stop(g, GRAPH_TENANT_STOPPED, "TLS with %s failed: %s; %s", g->graph_host, msg,
                   graph_tls_remedy(g));
    for (size_t k = 0; k < x->n; k++) {
        size_t i = x->idx[k];
        struct graph_request *r = &run->reqs[i];
        free(r->error);
        r->error = describe(g, r, msg);
        if (tls) {
            finish(run, i, GRAPH_TENANT_STOPPED, NULL);
        } else if (unsent || r->idempotent) {
            double wait = graph_backoff(r->tries, g->backoff_base, g->backoff_cap, graph_random(g));
            log_verbose("%s; sending again in %.3f s", r->error, wait);
            requeue(run, i, wait);
        } else {
            finish(run, i, GRAPH_UNCERTAIN, NULL);
        }
    }
    free(msg);
}

static void on_done(struct run *run, struct xfer *x, CURLcode cc)
{
    struct graph *g = run->g;
    long status = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    if (x->hdr.date[0])
        graph_note_date(g, x->hdr.date);
    const struct graph_request *first = &run->reqs[x->idx[0]];
    if (x->envelope)
        log_debug("tenant %s: POST %s (%zu requests) -> %ld request-id %s", g->name, x->url, x->n,
                  status, x->hdr.request_id[0] ? x->hdr.request_id : "-");
    else
        log_debug("tenant %s: %s %s -> %ld request-id %s", g->name, first->method, x->url, status,
                  x->hdr.request_id[0] ? x->hdr.request_id : "-");
    if (cc != CURLE_OK || status == 0) {
        on_transport_error(run, x, cc != CURLE_OK ? cc : CURLE_GOT_NOTHING);
        return;
    }
    pacer_answered(&g->pacer, graph_now());
    if (x->envelope)   /* a single request's is its own: feedback() */
        observe_pct(run, x, x->writes, x->hdr.throttle_pct);
    struct answer env = {
        .status = (int)status, .retry_after = x->hdr.retry_after[0] ? x->hdr.retry_after : NULL,
        .request_id = x->hdr.request_id, .content_type = x->hdr.content_type,
        .text = x->in.sb.buf, .text_len = x->in.sb.len,
    };
    if (!x->envelope) {
        feedback(run, x, 0, (int)status, x->hdr.throttle_pct);
        on_answer(run, x, x->idx[0], &env);
        return;
    }
    cJSON *j = NULL;
    if (status == 200 || status == 424)
        j = cJSON_ParseWithLength(x->in.sb.buf ? x->in.sb.buf : "", x->in.sb.len);
    const cJSON *items[BATCH_MAX];
    int matched = j ? graph_batch_match(j, x->idx, x->n, items) : -1;
    if (matched < 0) {
        /* no per-request answers: the envelope's status is every request's
         * (a 424 or 429 envelope, a 401, a proxy's 502 page) */
        for (size_t k = 0; k < x->n; k++) {
            if (status == 200)
                lost(run, x->idx[k], "the $batch answer has no \"responses\" array");
            else
                on_answer(run, x, x->idx[k], &env);
        }
        cJSON_Delete(j);
        return;
    }
    for (size_t k = 0; k < x->n; k++) {
        size_t i = x->idx[k];
        if (!items[k]) {
            /* the service left this one out: treat it as a lost answer */
            lost(run, i, "the $batch answer has no response for this request");
            continue;
        }
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(items[k], "status");
        /* a status that is no HTTP status is a broken answer (502), and
         * converting 4e29 to int would be undefined */
        bool st_ok = cJSON_IsNumber(st) && st->valuedouble >= 100 && st->valuedouble < 600;
        const char *rid = graph_batch_item_header(items[k], "request-id");
        const char *pct = graph_batch_item_header(items[k], "x-ms-throttle-limit-percentage");
        struct answer a = {
            .status = st_ok ? (int)st->valuedouble : 502,
            .retry_after = graph_batch_item_header(items[k], "Retry-After"),
            .request_id = rid && *rid ? rid : x->hdr.request_id,
            .content_type = graph_batch_item_header(items[k], "Content-Type"),
            .json = cJSON_GetObjectItemCaseSensitive(items[k], "body"),
        };
        feedback(run, x, k, a.status, pct);
        log_debug("tenant %s:   %s %s -> %d request-id %s", g->name, run->reqs[i].method,
                  run->reqs[i].url, a.status, a.request_id[0] ? a.request_id : "-");
        on_answer(run, x, i, &a);
    }
    cJSON_Delete(j);
}

static void reap(struct run *run)
{
    struct graph *g = run->g;
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(g->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct xfer *x = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        CURLcode cc = m->data.result;
        curl_multi_remove_handle(g->multi, m->easy_handle);
        for (int k = 0; k < run->nflight; k++)
            if (run->flight[k] == x) {
                run->flight[k] = run->flight[--run->nflight];
                break;
            }
        on_done(run, x, cc);
        xfer_free(x);
    }
}

enum graph_status graph_run(struct graph *g, struct graph_request *reqs, size_t n,
                            graph_done_fn *done, void *ctx)
{
    struct run run = { .g = g, .reqs = reqs, .n = n, .remaining = n, .done = done, .ctx = ctx };
    run.items = xcalloc(n ? n : 1, sizeof(*run.items));
    run.flight = xcalloc((size_t)g->max_in_flight, sizeof(*run.flight));
    for (size_t i = 0; i < n; i++) {
        reqs[i].tries = 0;
        clear_answer(&reqs[i]);
        q_push(&run, i, false);
    }
    while (run.remaining) {
        double wait = dispatch(&run);
        if (g->stopped)
            while (run.qlen)
                finish_unsent(&run, q_pop(&run));
        if (!run.nflight) {
            if (!run.remaining)
                break;
            if (wait == INFINITY) {
                /* nothing in flight and nothing can be sent: only a stopped
                 * tenant gets here; anything else is a bug, which must not
                 * pass for success */
                if (!g->stopped)
                    graph_stop(g, GRAPH_TENANT_STOPPED, "internal error: requests left that cannot be sent");
                while (run.qlen)
                    finish_unsent(&run, q_pop(&run));
                break;
            }
            g->stats.paced_seconds += wait;
            platform_sleep(wait);
            continue;
        }
        int running = 0;
        curl_multi_perform(g->multi, &running);
        reap(&run);
        if (!run.nflight)
            continue;
        int timeout_ms = wait == INFINITY ? 1000 : (int)ceil(wait * 1000);
        if (timeout_ms > 1000)
            timeout_ms = 1000;
        if (timeout_ms > 0)
            curl_multi_poll(g->multi, NULL, 0, timeout_ms, NULL);
        curl_multi_perform(g->multi, &running);
        reap(&run);
    }
    free(run.items);
    free(run.flight);
    free(run.q);
    return g->stopped;
}

enum graph_status graph_call(struct graph *g, struct graph_request *r)
{
    if (g->stopped) {
        clear_answer(r);
        r->status = g->stopped;
        r->error = xasprintf("tenant %s: %s %s not sent: %s", g->name, r->method, r->url, g->stop_reason);
        return r->status;
    }
    graph_run(g, r, 1, NULL, NULL);
    return r->status;
}

int graph_get_pages(struct graph *g, const char *first, graph_page_fn *page, void *ctx,
                    char **delta_link, struct graph_page_error *failed)
{
    if (delta_link)
        *delta_link = NULL;
    if (failed)
        memset(failed, 0, sizeof(*failed));
    char *url = xstrdup(first);
    int rc = 0;
    while (url) {
        struct graph_request r;
        graph_req_get(&r, url);
        free(url);
        url = NULL;
        enum graph_status st = graph_call(g, &r);
        if (st != GRAPH_OK) {
            if (failed) {
                failed->http_status = r.http_status;
                snprintf(failed->code, sizeof(failed->code), "%s", r.error_code ? r.error_code : "");
                snprintf(failed->message, sizeof(failed->message), "%s", r.error ? r.error : "");
            }
            graph_request_release(&r);
            return st;
        }
        const cJSON *values = cJSON_GetObjectItemCaseSensitive(r.answer, "value");
        if (!cJSON_IsArray(values)) {
            if (failed)
                snprintf(failed->message, sizeof(failed->message),
                         "tenant %s: GET %s: the answer has no \"value\" array", g->name, r.url);
            graph_request_release(&r);
            return GRAPH_FAILED;
        }
        if (page && (rc = page(ctx, (cJSON *)values)) != 0) {
            graph_request_release(&r);
            return rc;
        }
        char *next, *delta, *err;
        if (graph_page_links(r.answer, g->graph_host, &next, &delta, &err)) {
            if (failed)
                snprintf(failed->message, sizeof(failed->message), "tenant %s: GET %s: %s", g->name,
                         r.url, err);
            free(err);
            graph_request_release(&r);
            return GRAPH_FAILED;
        }
        graph_request_release(&r);
        if (delta && delta_link)
            *delta_link = delta;
        else
            free(delta);
        url = next;
    }
    return GRAPH_OK;
}
