/* graph_pace.c - keep within the service's budget, and wait the right time
 * when it says no (reference graph-api.md §4: identity and access limits,
 * ResourceUnit costs, Retry-After, x-ms-throttle-limit-percentage). */
#include "compat.h"

#include <ctype.h>
#include <math.h>
#include <strings.h>

#include <curl/curl.h>

#include "graph_p.h"

/* x-ms-throttle-limit-percentage comes with one decimal ("0.9") */
#define PCT_QUANTUM 0.1

/* Adapting to a service that allows less than documented (other apps share
 * the tenant's write limit, or the service is under load): the bucket is
 * scaled down by half at a 429 (once per round: answers to requests sent
 * before the cut say nothing new), and grows back, doubling per window
 * without a 429, up to the documented size. TCP's congestion control, with
 * the documented budget as the ceiling. */
#define SCALE_MIN (1.0 / 256)

static void bucket_init(struct bucket *b, int limit, double window)
{
    memset(b, 0, sizeof(*b));
    b->base_t = -1;
    b->capacity = limit;
    b->rate = limit / window;
    b->scale = 1;
    b->last_cut = -1;
    /* the service's buckets start full; if another run used them, the first
     * x-ms-throttle-limit-percentage or 429 tells us (pacer_observe) */
    b->tokens = limit;
    /* the refill starts with the first answer (pacer_answered): the
     * service's clock starts when our first request reaches it, and
     * counting from graph_open or from our first send would grant us a
     * refill the service never did */
    b->t = -1;
    b->start_t = -1;
}

static double cap_of(const struct bucket *b) { return b->capacity * b->scale; }
static double rate_of(const struct bucket *b) { return b->rate * b->scale; }

static void bucket_refill(struct bucket *b, double now)
{
    if (b->t < 0)
        return;
    if (now > b->t) {
        double dt = now - b->t;
        b->tokens += dt * rate_of(b);
        if (b->scale < 1 && !b->learned) {
            b->scale *= exp2(dt * b->rate / b->capacity);
            if (b->scale > 1)
                b->scale = 1;
        }
        if (b->tokens >= cap_of(b)) {
            b->tokens = cap_of(b);
            /* full (as far as we know): the service's refill may stop
             * here, so what we take from now on is counted afresh */
            b->base_t = now;
            b->base_taken = b->taken;
        }
        b->t = now;
    }
}

static double bucket_wait(const struct bucket *b, double cost)
{
    if (cost > cap_of(b))
        cost = cap_of(b);
    double deficit = cost - b->tokens;
    /* a billionth of a token is rounding, not debt */
    return deficit <= 1e-9 ? 0 : deficit / rate_of(b);
}

void pacer_init(struct pacer *p, int ru_limit, double ru_window, int write_limit, double write_window)
{
    memset(p, 0, sizeof(*p));
    bucket_init(&p->ru, ru_limit, ru_window);
    bucket_init(&p->writes, write_limit, write_window);
}

void pacer_answered(struct pacer *p, double now)
{
    if (p->ru.t < 0)
        p->ru.t = now;
    if (p->writes.t < 0)
        p->writes.t = now;
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
    p->ru.taken += ru;
    p->writes.taken += writes;
    if (p->ru.base_t < 0)
        p->ru.base_t = now;
    if (writes > 0 && p->writes.base_t < 0)
        p->writes.base_t = now;
    if (p->ru.start_t < 0)
        p->ru.start_t = now;
    if (writes > 0 && p->writes.start_t < 0)
        p->writes.start_t = now;
    p->ru_sent += (uint64_t)ru;
    p->writes_sent += (uint64_t)writes;
    return true;
}

void pacer_throttled(struct pacer *p, double now, double retry_after, bool write, double t_sent)
{
    if (now + retry_after > p->pause_until)
        p->pause_until = now + retry_after;
    struct bucket *b = write ? &p->writes : &p->ru;
    bucket_refill(b, now);
    if (b->t < 0)
        b->t = now;
    if (t_sent >= b->last_cut) {
        /* a learned size is close: a tenth less, and learn afresh from
         * here (the limit may have dropped: another app took its share) */
        b->scale /= b->learned ? 1 / 0.9 : 2;
        if (b->scale < SCALE_MIN)
            b->scale = SCALE_MIN;
        b->last_cut = now;
    }
    /* the service's bucket is empty now: the Retry-After it gave is the time
     * it needs to hold one request again, which ours then holds too */
    if (b->tokens > 0)
        b->tokens = 0;
}

void pacer_observe(struct pacer *p, double now, double pct, bool write, double t_sent)
{
    if (!(pct > 0) || pct > 10)
        return;
    struct bucket *b = write ? &p->writes : &p->ru;
    bucket_refill(b, now);
    /* The most the service can hold now: what it had left when it took
     * that request, refilled since we sent it. The header is coarse (one
     * decimal), so read it as the lowest usage it can stand for. Requests
     * we sent after that one are not subtracted: over several connections
     * the service may have taken them before it, and counting them twice
     * would starve us. So this only corrects an estimate that is clearly
     * too high (another process, a bucket that did not start full); a 429
     * covers the rest. */
    double used = pct - PCT_QUANTUM / 2;
    double most = cap_of(b) * (1.0 - used) + (now - t_sent) * rate_of(b);
    if (most < b->tokens)
        b->tokens = most;
}

/* Learning the service's size. Its bucket holds C*s and refills at R*s per
 * second (C, R documented; s unknown, 1 when the documentation is right).
 * Since a baseline at which it held anything at all, the service took
 * `taken` from us and refilled at most R*s*dt, so its usage u now obeys
 * u*C*s >= taken - R*s*dt, that is  s >= taken / (u*C + R*dt). The header
 * gives u to one decimal (read at its highest: shown + 0.05), its absence
 * says u <= 0.8. Every answer thus gives a lower bound of s, which nears s
 * itself the longer the service's bucket is kept in use (the error is the
 * header's rounding, over a denominator that grows with dt). The first
 * header replaces the documented size by that bound; after it the bound
 * only raises the size, and a 429 lowers it by a tenth. The bound is tight
 * only while the service's bucket is kept in use, so once per round trip
 * an answer without the header (a fifth of the bucket unused) raises the
 * size by up to a quarter per window, and one at 100 % or more brings it
 * back towards the bound. Graph's own
 * guidance (learn.microsoft.com/graph/throttling): follow Retry-After and
 * x-ms-throttle-limit-percentage rather than fixed rates. */
void pacer_accepted(struct pacer *p, bool write, double cost)
{
    (write ? &p->writes : &p->ru)->accepted += cost;
}

void pacer_feedback(struct pacer *p, double now, double pct, bool write, double t_sent, double taken)
{
    struct bucket *b = write ? &p->writes : &p->ru;
    if (pct > 10 || pct != pct)
        return;
    bucket_refill(b, now);
    bool header = pct > 0;
    if (b->base_t >= 0 && t_sent >= b->base_t && taken > b->base_taken) {
        double u_hi = header ? pct + PCT_QUANTUM / 2 : 0.8;
        double dt = now - b->base_t;
        double lb = (taken - b->base_taken) / (u_hi * b->capacity + b->rate * dt);
        /* A second bound, from what the service took: since our first
         * request it answered 2xx to `accepted`, which its bucket held
         * (C*s) or refilled (at most R*s per second) in that time. The
         * baseline above moves whenever our estimate reads full, which
         * the documented size (larger than the service's) does all the
         * time: a header just after such a move gave a bound near 0 and
         * held the writes at 1/256 of the documented pace for seconds
         * (bench_graph.sh: 2.3 s without a request at 1.5 s windows). */
        if (b->start_t >= 0 && now > b->start_t) {
            double lb_ok = b->accepted / (b->capacity + b->rate * (now - b->start_t));
            if (lb_ok > lb)
                lb = lb_ok;
        }
        if (lb > 1)
            lb = 1;
        if (header && !b->learned) {
            b->learned = true;
            b->scale = lb > SCALE_MIN ? lb : SCALE_MIN;
            b->last_probe = now;
            if (b->tokens > cap_of(b))
                b->tokens = cap_of(b);
        } else if (b->learned && lb > b->scale) {
            b->scale = lb;
        }
    }
    if (b->learned && t_sent >= b->last_probe) {
        /* once per round trip: a fifth of the bucket left unused says the
         * service can take more than we send (the bound above only follows
         * a bucket kept in use); an empty one says we send more than it
         * refills: back to the bound, a little at a time */
        double window = b->capacity / b->rate;
        if (!header) {
            b->scale *= 1 + 0.25 * fmin(1, (now - b->last_probe) / window);
            if (b->scale > 1)
                b->scale = 1;
            b->last_probe = now;
        } else if (pct >= 1.0 && b->base_t >= 0) {
            b->scale = fmax(b->scale * 0.97, fmin(b->scale, (taken - b->base_taken) /
                                                 ((pct + PCT_QUANTUM / 2) * b->capacity + b->rate * (now - b->base_t))));
            b->last_probe = now;
        }
    }
    if (header) {
        /* what it held then, refilled since, less what we sent after that
         * request (it has those in hand or on the way): the first header
         * comes at 80 % with a round trip of requests still going out */
        double used = pct - PCT_QUANTUM / 2;
        double most = cap_of(b) * (1.0 - used) + (now - t_sent) * rate_of(b) - (b->taken - taken);
        if (most < b->tokens)
            b->tokens = most;
    } else if (b->learned) {
        /* no header: the service has a fifth of its bucket or more; spend
         * it, or our estimate, lower than the truth, would hold us below
         * the service's pace for good */
        double least = cap_of(b) * 0.2 + (now - t_sent) * rate_of(b) - (b->taken - taken);
        if (least > b->tokens)
            b->tokens = least < cap_of(b) ? least : cap_of(b);
    }
}

/* ------------------------------------------------------------------------
 * Invitations */

void pacer_invites_init(struct pacer *p, double limit, double window, double ramp)
{
    struct invite_pace *v = &p->invites;
    v->limit = window > 0 ? limit : 0;
    v->window = window;
    v->ramp = ramp > 0 ? ramp : 0;
    v->start = -1;
    v->t = -1;
    /* the burst a first run starts with is a tenth of the full one */
    v->tokens = v->ramp > 0 ? fmax(1, v->limit / 10) : v->limit;
}

/* The part of the full rate granted at `now`. */
static double invites_factor(const struct invite_pace *v, double now)
{
    if (v->ramp <= 0)
        return 1;
    if (v->start < 0)
        return 0.1;
    return fmin(1, 0.1 + 0.9 * (now - v->start) / v->ramp);
}

static double invites_cap(const struct invite_pace *v, double now)
{
    return fmax(1, v->limit * invites_factor(v, now));
}

static void invites_refill(struct invite_pace *v, double now)
{
    if (v->t < 0 || now <= v->t)
        return;
    /* the factor at the middle of the interval: the ramp is linear */
    double f = invites_factor(v, (v->t + now) / 2);
    v->tokens = fmin(invites_cap(v, now), v->tokens + (now - v->t) * v->limit / v->window * f);
    v->t = now;
}

size_t pacer_invites_room(struct pacer *p, double now)
{
    struct invite_pace *v = &p->invites;
    if (v->limit <= 0)
        return SIZE_MAX;
    invites_refill(v, now);
    return v->tokens >= 2 ? (size_t)v->tokens : 1;
}

double pacer_invites_wait(struct pacer *p, double now, double n)
{
    struct invite_pace *v = &p->invites;
    if (v->limit <= 0 || n <= 0)
        return 0;
    invites_refill(v, now);
    double cost = fmin(n, invites_cap(v, now));
    double deficit = cost - v->tokens;
    return deficit <= 1e-9 ? 0 : deficit / (v->limit / v->window * invites_factor(v, now));
}

void pacer_invites_take(struct pacer *p, double now, double n)
{
    struct invite_pace *v = &p->invites;
    if (v->limit <= 0 || n <= 0)
        return;
    if (v->start < 0)
        v->start = now;
    if (v->t < 0)
        v->t = now;
    invites_refill(v, now);
    v->tokens -= n;
}

bool graph_is_invitation(const char *method, const char *url)
{
    return !strcmp(method, "POST") && !strncmp(url, "/invitations", 12) &&
           (url[12] == '\0' || url[12] == '?');
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
