/* graph_pace.c - keep within the service's budget, and wait the right time
 * when it says no (reference graph-api.md §4: identity and access limits,
 * ResourceUnit costs, Retry-After, x-ms-throttle-limit-percentage). */
#include "compat.h"

#include <ctype.h>
#include <math.h>
#include <strings.h>

#include <curl/curl.h>

#include "graph_p.h"

static void bucket_init(struct bucket *b, double now, int limit, double window)
{
    b->capacity = limit;
    b->rate = limit / window;
    /* the service's buckets start full; if another run used them, the first
     * x-ms-throttle-limit-percentage or 429 tells us (pacer_observe) */
    b->tokens = limit;
    b->t = now;
}

static void bucket_refill(struct bucket *b, double now)
{
    if (now > b->t) {
        b->tokens += (now - b->t) * b->rate;
        if (b->tokens > b->capacity)
            b->tokens = b->capacity;
        b->t = now;
    }
}

static double bucket_wait(const struct bucket *b, double cost)
{
    if (cost > b->capacity)
        cost = b->capacity;
    double deficit = cost - b->tokens;
    /* a billionth of a token is rounding, not debt */
    return deficit <= 1e-9 ? 0 : deficit / b->rate;
}

void pacer_init(struct pacer *p, double now, int ru_limit, double ru_window,
                int write_limit, double write_window)
{
    memset(p, 0, sizeof(*p));
    bucket_init(&p->ru, now, ru_limit, ru_window);
    bucket_init(&p->writes, now, write_limit, write_window);
}

double pacer_wait(struct pacer *p, double now, double ru, double writes)
{
    bucket_refill(&p->ru, now);
    bucket_refill(&p->writes, now);
    double w = bucket_wait(&p->ru, ru);
    double ww = writes > 0 ? bucket_wait(&p->writes, writes) : 0;
    if (ww > w)
        w = ww;
    if (p->pause_until > now && p->pause_until - now > w)
        w = p->pause_until - now;
    return w;
}

bool pacer_take(struct pacer *p, double now, double ru, double writes)
{
    if (pacer_wait(p, now, ru, writes) > 0)
        return false;
    p->ru.tokens -= ru;
    p->writes.tokens -= writes;
    p->ru_sent += (uint64_t)ru;
    p->writes_sent += (uint64_t)writes;
    return true;
}

void pacer_throttled(struct pacer *p, double now, double retry_after, bool write)
{
    if (now + retry_after > p->pause_until)
        p->pause_until = now + retry_after;
    struct bucket *b = write ? &p->writes : &p->ru;
    bucket_refill(b, now);
    /* the service's bucket is empty now: the Retry-After it gave is the time
     * it needs to hold one request again, which ours then holds too */
    if (b->tokens > 0)
        b->tokens = 0;
    b->t = now;
}

void pacer_observe(struct pacer *p, double now, double pct, bool write, uint64_t sent_at)
{
    if (!(pct > 0) || pct > 10)
        return;
    struct bucket *b = write ? &p->writes : &p->ru;
    uint64_t sent = write ? p->writes_sent : p->ru_sent;
    bucket_refill(b, now);
    /* what the service had left when it took that request, less what we
     * sent since (still in flight, or taken after it) */
    double left = b->capacity * (1.0 - pct) - (double)(sent - sent_at);
    if (left < b->tokens)
        b->tokens = left;
}

void graph_request_cost(const char *method, const char *url, double *ru, double *writes)
{
    if (strcmp(method, "GET") != 0) {
        *ru = 1;
        *writes = 1;
        return;
    }
    *writes = 0;
    /* find the path and the query in a relative URL or a full nextLink */
    const char *path = url;
    if (str_starts_with(url, "https://")) {
        path = strchr(url + 8, '/');
        if (!path)
            path = "";
        /* skip the version segment */
        const char *v = strchr(path + (*path == '/'), '/');
        path = v ? v : path;
    }
    const char *q = strchr(path, '?');
    size_t plen = q ? (size_t)(q - path) : strlen(path);
    int cost = 1;
    /* "GET users costs 2": counted for everything under /users (the list,
     * one user, delta), the dearer reading of the page */
    if (plen >= 6 && !strncmp(path, "/users", 6) && (plen == 6 || path[6] == '/'))
        cost = 2;
    if (q) {
        if (strstr(q, "$select=") || strstr(q, "%24select="))
            cost -= 1;
        if (strstr(q, "$expand=") || strstr(q, "%24expand="))
            cost += 1;
        const char *top = strstr(q, "$top=");
        if (top) {
            long v = strtol(top + 5, NULL, 10);
            if (v > 0 && v < 20)
                cost -= 1;
        }
    }
    *ru = cost < 1 ? 1 : cost;
}

int graph_parse_retry_after(const char *value, time_t now, double *secs)
{
    if (!value)
        return -1;
    while (isspace((unsigned char)*value))
        value++;
    if (!*value)
        return -1;
    if (isdigit((unsigned char)*value) || *value == '.') {
        char *end;
        double v = strtod(value, &end);
        while (isspace((unsigned char)*end))
            end++;
        if (*end || !isfinite(v) || v < 0)
            return -1;
        *secs = v;
        return 0;
    }
    /* an HTTP-date (IMF-fixdate and the two obsolete forms): curl parses all three */
    time_t t = curl_getdate(value, NULL);
    if (t == (time_t)-1)
        return -1;
    *secs = t > now ? (double)(t - now) : 0;
    return 0;
}

double graph_backoff(int attempt, double base, double cap, double rnd)
{
    if (attempt < 1)
        attempt = 1;
    double d = base;
    for (int i = 1; i < attempt && d < cap; i++)
        d *= 2;
    if (d > cap)
        d = cap;
    if (rnd < 0)
        rnd = 0;
    if (rnd >= 1)
        rnd = 0.999999;
    return d / 2 + d / 2 * rnd;
}
