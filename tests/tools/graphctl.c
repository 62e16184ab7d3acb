/* graphctl - a test driver of the Graph client (src/graph*.c), for
 * tests/integration/test_graph.sh and tests/bench/. Not installed.
 *
 *   graphctl [options] token | check | list | delta LINKFILE | org | domains | user ID
 *   graphctl [options] invite FILE      FILE: lines "USER-ID EMAIL"
 *   graphctl [options] set-type FILE TYPE    FILE: lines "USER-ID"
 *   graphctl [options] revert FILE
 *   graphctl [options] get URL
 *
 * Credentials come from files only (--secret-file, --cert-file/--key-file),
 * never from the command line. Per-request results go to stdout as
 *   item INDEX STATUS HTTP TRIES REQUEST-ID ANSWER-ID
 * and a last line "stats ..." with the client's counters. */
#include "compat.h"

#include <getopt.h>

#include <cjson/cJSON.h>

#include "cloud.h"
#include "graph.h"
#include "log.h"
#include "platform.h"
#include "util.h"

static void usage(void)
{
    fputs("usage: graphctl [--cloud C] --tenant-id ID --client-id ID (--secret-file F | --cert-file F "
          "[--key-file F] [--rs256])\n"
          "       [--ca-file F] [--connect-to H:P:H:P] [--batch N] [--in-flight N] [--max-tries N]\n"
          "       [--write-limit N] [--write-window S] [--ru-limit N] [--ru-window S] [--timeout S]\n"
          "       [--backoff S] [--max-wait S] [--invites-per-minute N [--invite-window S] [--first-run]]\n"
          "       [--first-get PATH] [-v|--debug] COMMAND [ARGS]\n"
          "commands: token check list delta org domains user invite set-type revert get\n"
          "          lookup FILE (immutable ids), cycle filter|list FILE (what convert sends for them)\n"
          "--first-get PATH: GET PATH before the command, so that the command's requests\n"
          "                  go out on a connection already used (as in convert)\n",
          stderr);
    exit(2);
}

static int atoi_or_die(const char *s)
{
    int v;
    if (parse_int(s, 1, 1000000, &v))
        die("bad number %s", s);
    return v;
}

static char **read_lines(const char *path, size_t *n)
{
    FILE *f = fopen(path, "r");
    if (!f)
        die("cannot read %s", path);
    char **v = NULL;
    size_t alloc = 0;
    *n = 0;
    char buf[1024];
    while (fgets(buf, sizeof(buf), f)) {
        buf[strcspn(buf, "\r\n")] = '\0';
        if (!buf[0])
            continue;
        GROW(v, alloc, *n + 1);
        v[(*n)++] = xstrdup(buf);
    }
    fclose(f);
    return v;
}

static void print_item(size_t i, const struct graph_request *r)
{
    const char *answer_id = "-";
    const cJSON *iu = cJSON_GetObjectItemCaseSensitive(r->answer, "invitedUser");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(iu, "id");
    if (cJSON_IsString(id))
        answer_id = id->valuestring;
    printf("item %zu %s %d %d %s %s\n", i, graph_status_name(r->status), r->http_status, r->tries,
           r->request_id[0] ? r->request_id : "-", answer_id);
    if (r->error)
        fprintf(stderr, "item %zu: %s\n", i, r->error);
}

static void on_done(void *ctx, size_t i, struct graph_request *r)
{
    (void)ctx;
    print_item(i, r);
    fflush(stdout);
}

static void print_stats(struct graph *g)
{
    struct graph_stats st;
    graph_get_stats(g, &st);
    printf("stats http=%llu requests=%llu throttled=%llu retries=%llu tokens=%llu paced=%.3f\n",
           (unsigned long long)st.http_requests, (unsigned long long)st.requests,
           (unsigned long long)st.throttled, (unsigned long long)st.retries,
           (unsigned long long)st.tokens, st.paced_seconds);
}

static int exit_for(enum graph_status st)
{
    switch (st) {
    case GRAPH_OK: return 0;
    case GRAPH_FAILED: return 1;
    case GRAPH_UNCERTAIN: return 1;
    case GRAPH_TENANT_STOPPED: return 3;
    case GRAPH_INVITES_BLOCKED: return 4;
    }
    return 1;
}

static int run_requests(struct graph *g, struct graph_request *reqs, size_t n)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    enum graph_status st = graph_run(g, reqs, n, on_done, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    size_t ok = 0;
    int worst = 0;
    for (size_t i = 0; i < n; i++) {
        if (reqs[i].status == GRAPH_OK)
            ok++;
        else if (exit_for(reqs[i].status) > worst)
            worst = exit_for(reqs[i].status);
        graph_request_release(&reqs[i]);
    }
    printf("done %zu/%zu ok in %.3f s (%.1f/s)\n", ok, n, secs, secs > 0 ? (double)n / secs : 0.0);
    print_stats(g);
    return st != GRAPH_OK ? exit_for(st) : worst;
}

int main(int argc, char **argv)
{
    /* no invitation pacing unless asked (--invites-per-minute): the
     * driver measures the client against the budget */
    struct graph_params p = { .cloud = CLOUD_GLOBAL, .name = "test", .invitations_per_minute = -1 };
    const char *first_get = NULL;
    enum { O_CLOUD = 256, O_TENANT, O_CLIENT, O_SECRET, O_CERT, O_KEY, O_RS256, O_CA, O_CONNECT,
           O_BATCH, O_FLIGHT, O_TRIES, O_WL, O_WW, O_RL, O_RW, O_TIMEOUT, O_BACKOFF, O_DEBUG, O_NAME, O_FIRST, O_MAXWAIT, O_IPM, O_IWIN, O_FIRSTRUN };
    static const struct option longopts[] = {
        { "cloud", required_argument, NULL, O_CLOUD },
        { "tenant-id", required_argument, NULL, O_TENANT },
        { "client-id", required_argument, NULL, O_CLIENT },
        { "secret-file", required_argument, NULL, O_SECRET },
        { "cert-file", required_argument, NULL, O_CERT },
        { "key-file", required_argument, NULL, O_KEY },
        { "rs256", no_argument, NULL, O_RS256 },
        { "ca-file", required_argument, NULL, O_CA },
        { "connect-to", required_argument, NULL, O_CONNECT },
        { "batch", required_argument, NULL, O_BATCH },
        { "in-flight", required_argument, NULL, O_FLIGHT },
        { "max-tries", required_argument, NULL, O_TRIES },
        { "write-limit", required_argument, NULL, O_WL },
        { "write-window", required_argument, NULL, O_WW },
        { "ru-limit", required_argument, NULL, O_RL },
        { "ru-window", required_argument, NULL, O_RW },
        { "timeout", required_argument, NULL, O_TIMEOUT },
        { "backoff", required_argument, NULL, O_BACKOFF },
        { "max-wait", required_argument, NULL, O_MAXWAIT },
        { "invites-per-minute", required_argument, NULL, O_IPM },
        { "invite-window", required_argument, NULL, O_IWIN },
        { "first-run", no_argument, NULL, O_FIRSTRUN },
        { "name", required_argument, NULL, O_NAME },
        { "first-get", required_argument, NULL, O_FIRST },
        { "debug", no_argument, NULL, O_DEBUG },
        { "verbose", no_argument, NULL, 'v' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "v", longopts, NULL)) != -1) {
        int v = 0;
        switch (c) {
        case O_CLOUD:
            if (cloud_parse(optarg, &p.cloud))
                die("unknown cloud %s", optarg);
            break;
        case O_TENANT: p.tenant_id = optarg; break;
        case O_CLIENT: p.client_id = optarg; break;
        case O_SECRET: p.secret_file = optarg; break;
        case O_CERT: p.cert_file = optarg; break;
        case O_KEY: p.key_file = optarg; break;
        case O_RS256: p.jwt_alg = GRAPH_JWT_RS256; break;
        case O_CA: p.ca_file = optarg; break;
        case O_CONNECT: p.connect_to = optarg; break;
        case O_NAME: p.name = optarg; break;
        case O_FIRST: first_get = optarg; break;
        case O_BATCH: case O_FLIGHT: case O_TRIES: case O_WL: case O_RL: case O_TIMEOUT:
            if (parse_int(optarg, 0, 1000000, &v))
                die("bad number %s", optarg);
            if (c == O_BATCH) p.batch_size = v;
            else if (c == O_FLIGHT) p.max_in_flight = v;
            else if (c == O_TRIES) p.max_tries = v;
            else if (c == O_WL) p.write_limit = v;
            else if (c == O_RL) p.ru_limit = v;
            else p.timeout = v;
            break;
        case O_WW: p.write_window = strtod(optarg, NULL); break;
        case O_RW: p.ru_window = strtod(optarg, NULL); break;
        case O_BACKOFF: p.backoff_base = strtod(optarg, NULL); break;
        case O_MAXWAIT: p.max_wait = strtod(optarg, NULL); break;
        case O_IPM: p.invitations_per_minute = atoi_or_die(optarg); break;
        case O_IWIN: p.invitation_window = strtod(optarg, NULL); break;
        case O_FIRSTRUN: p.first_run = true; break;
        case O_DEBUG: log_set_level(LOG_DEBUG); break;
        case 'v': log_set_level(LOG_VERBOSE); break;
        default: usage();
        }
    }
    if (optind >= argc)
        usage();
    const char *cmd = argv[optind++];
    struct graph *g;
    if (graph_open(&p, &g))
        return 2;
    int rc = 0;
    if (first_get) {
        struct graph_request r;
        graph_req_get(&r, first_get);
        enum graph_status fs = graph_call(g, &r);
        graph_request_release(&r);
        if (fs != GRAPH_OK)
            die("--first-get %s: %s", first_get, graph_status_name(fs));
    }
    if (!strcmp(cmd, "token")) {
        rc = exit_for(graph_authenticate(g));
        if (!rc)
            printf("token ok\n");
    } else if (!strcmp(cmd, "check")) {
        struct graph_check_result res;
        rc = graph_check(g, &res) ? 1 : 0;
        graph_check_print(stdout, p.name, &res);
        graph_check_release(&res);
    } else if (!strcmp(cmd, "list")) {
        struct graph_users u = GRAPH_USERS_INIT;
        enum graph_status st = graph_list_synced_users(g, &u);
        rc = exit_for(st);
        if (!rc) {
            printf("users %zu\n", u.n);
            for (size_t i = 0; i < u.n; i++)
                printf("user %s %s %s %s\n", u.v[i].immutable_id ? u.v[i].immutable_id : "-", u.v[i].id,
                       u.v[i].external_user_state ? u.v[i].external_user_state : "-",
                       u.v[i].user_type ? u.v[i].user_type : "-");
            /* the index works: look every user up again */
            for (size_t i = 0; i < u.n; i++)
                if (u.v[i].immutable_id && graph_users_find(&u, u.v[i].immutable_id) != &u.v[i])
                    die("graph_users_find lost %s", u.v[i].immutable_id);
        }
        graph_users_release(&u);
        print_stats(g);
    } else if (!strcmp(cmd, "delta")) {
        if (optind >= argc)
            usage();
        const char *linkfile = argv[optind];
        char *link = NULL;
        FILE *f = fopen(linkfile, "r");
        if (f) {
            char buf[4096];
            if (fgets(buf, sizeof(buf), f)) {
                buf[strcspn(buf, "\r\n")] = '\0';
                if (buf[0])
                    link = xstrdup(buf);
            }
            fclose(f);
        }
        struct graph_users ch = GRAPH_USERS_INIT;
        char *next = NULL;
        bool full = false;
        enum graph_status st = graph_users_delta(g, link, NULL, &ch, &next, &full);
        rc = exit_for(st);
        if (!rc) {
            size_t removed = 0;
            for (size_t i = 0; i < ch.n; i++)
                removed += ch.v[i].removed;
            printf("delta full=%d changes=%zu removed=%zu\n", full, ch.n, removed);
            f = fopen(linkfile, "w");
            if (!f)
                die("cannot write %s", linkfile);
            fprintf(f, "%s\n", next);
            fclose(f);
        }
        free(next);
        free(link);
        graph_users_release(&ch);
    } else if (!strcmp(cmd, "lookup") || !strcmp(cmd, "cycle")) {
        /* lookup FILE: graph_find_users_by_immutable_ids for the ids in FILE.
         * cycle filter|list FILE: the Graph side of convert for a delta whose
         * objects have those immutable ids, every one a conversion: find the
         * users (by filter, or by the full listing), read the verified
         * domains, invite those found (tests/bench/bench_delta.sh). */
        bool cycle = !strcmp(cmd, "cycle");
        if (optind + (cycle ? 1 : 0) >= argc)
            usage();
        bool by_list = cycle && !strcmp(argv[optind], "list");
        if (cycle && !by_list && strcmp(argv[optind], "filter"))
            usage();
        double t0 = platform_monotonic();
        size_t n;
        char **ids = read_lines(argv[optind + (cycle ? 1 : 0)], &n);
        struct graph_users u = GRAPH_USERS_INIT;
        enum graph_status st = by_list ? graph_list_synced_users(g, &u)
                                       : graph_find_users_by_immutable_ids(g, (const char *const *)ids, n, &u);
        rc = exit_for(st);
        size_t found = 0;
        struct graph_request *reqs = xcalloc(n ? n : 1, sizeof(*reqs));
        for (size_t i = 0; !rc && i < n; i++) {
            const struct graph_user *x = graph_users_find(&u, ids[i]);
            if (!x)
                continue;
            if (!cycle)
                printf("user %s %s %s\n", x->immutable_id, x->id, x->mail ? x->mail : "-");
            struct graph_invitation inv = {
                .user_id = x->id, .email = x->mail ? x->mail : "",
                .redirect_url = "https://myapps.microsoft.com", .send_message = false,
            };
            graph_req_invite(&reqs[found++], &inv);
        }
        printf("found %zu of %zu\n", found, n);
        if (!rc && cycle) {
            char **d;
            size_t nd;
            rc = exit_for(graph_verified_domains(g, &d, &nd));
            graph_strv_free(d);
            if (!rc) {
                graph_run(g, reqs, found, NULL, NULL);
                size_t ok = 0;
                for (size_t i = 0; i < found; i++)
                    ok += reqs[i].status == GRAPH_OK;
                printf("invited %zu\n", ok);
                rc = ok == found ? 0 : 1;
            }
        }
        for (size_t i = 0; i < found; i++)
            graph_request_release(&reqs[i]);
        free(reqs);
        for (size_t i = 0; i < n; i++)
            free(ids[i]);
        free(ids);
        graph_users_release(&u);
        printf("seconds %.3f\n", platform_monotonic() - t0);
        print_stats(g);
    } else if (!strcmp(cmd, "user")) {
        if (optind >= argc)
            usage();
        struct graph_user u;
        rc = exit_for(graph_get_user(g, argv[optind], &u));
        if (!rc)
            printf("user %s %s %s %s redeemed=%d\n", u.id, u.external_user_state ? u.external_user_state : "-",
                   u.user_type ? u.user_type : "-", u.immutable_id ? u.immutable_id : "-", u.redeemed);
        graph_user_release(&u);
    } else if (!strcmp(cmd, "org")) {
        struct graph_organization o;
        rc = exit_for(graph_get_organization(g, &o));
        if (!rc)
            printf("org %s sync=%d last=%s time=%lld\n", o.id, o.sync_enabled, o.last_sync ? o.last_sync : "-",
                   (long long)o.last_sync_time);
        graph_organization_release(&o);
    } else if (!strcmp(cmd, "domains")) {
        char **d;
        size_t n;
        rc = exit_for(graph_verified_domains(g, &d, &n));
        for (size_t i = 0; !rc && i < n; i++)
            printf("domain %s\n", d[i]);
        graph_strv_free(d);
    } else if (!strcmp(cmd, "get")) {
        if (optind >= argc)
            usage();
        struct graph_request r;
        graph_req_get(&r, argv[optind]);
        rc = exit_for(graph_call(g, &r));
        print_item(0, &r);
        if (r.answer) {
            char *s = cJSON_PrintUnformatted(r.answer);
            printf("answer %s\n", s);
            cJSON_free(s);
        }
        graph_request_release(&r);
    } else if (!strcmp(cmd, "invite") || !strcmp(cmd, "set-type") || !strcmp(cmd, "revert")) {
        if (optind >= argc || (!strcmp(cmd, "set-type") && optind + 1 >= argc))
            usage();
        size_t n;
        char **lines = read_lines(argv[optind], &n);
        struct graph_request *reqs = xcalloc(n ? n : 1, sizeof(*reqs));
        for (size_t i = 0; i < n; i++) {
            char *sp = strchr(lines[i], ' ');
            if (sp)
                *sp++ = '\0';
            if (!strcmp(cmd, "invite")) {
                struct graph_invitation inv = {
                    .user_id = lines[i], .email = sp ? sp : "",
                    .redirect_url = "https://myapps.microsoft.com", .send_message = false,
                };
                graph_req_invite(&reqs[i], &inv);
            } else if (!strcmp(cmd, "set-type")) {
                graph_req_set_user_type(&reqs[i], lines[i], argv[optind + 1]);
            } else {
                graph_req_convert_to_internal(&reqs[i], lines[i]);
            }
            free(lines[i]);
        }
        free(lines);
        rc = run_requests(g, reqs, n);
        free(reqs);
    } else {
        usage();
    }
    const char *why;
    enum graph_status st = graph_stopped(g, &why);
    if (st)
        printf("stopped %s: %s\n", graph_status_name(st), why);
    graph_close(g);
    return rc;
}
