/* testhooks.c - the table of test hooks (testhooks.h). Compiled twice: into
 * the shipped dualsync, where every hook is off, and with
 * -DDUALSYNC_TEST_HOOKS into dualsync-test, where each reads its variable. */
#include "compat.h"

#include "testhooks.h"

static const struct {
    const char *name;
    const char *what;
} hooks[TESTHOOK_COUNT] = {
    [TESTHOOK_GRAPH_CA_FILE] = {
        "DUALSYNC_GRAPH_CA_FILE",
        "a CA bundle Graph's and the login host's TLS certificates must chain to, instead of the "
        "system store (the simulator's test CA; tests/graphsim); [tenant] ca_file, when set, "
        "comes first: that is the administrator's way (a TLS-inspecting proxy)" },
    [TESTHOOK_GRAPH_CONNECT_TO] = {
        "DUALSYNC_GRAPH_CONNECT_TO",
        "HOST:PORT:ADDR:PORT[,...]: connect to ADDR:PORT whenever a URL names HOST:PORT "
        "(curl's CURLOPT_CONNECT_TO): sends login and Graph to the simulator on loopback" },
    [TESTHOOK_GRAPH_TIME_SCALE] = {
        "DUALSYNC_GRAPH_TIME_SCALE",
        "a factor (> 0) on Graph's throttling windows and the backoff base, for a simulator that "
        "runs them faster than Graph" },
    [TESTHOOK_USER_LOOKUP] = {
        "DUALSYNC_TEST_USER_LOOKUP",
        "'filter' or 'list': force one way of reading the cloud users (a lookup by immutableId, "
        "or the listing of all synced users) instead of the cheaper one" },
    [TESTHOOK_STEP_LIMIT] = {
        "DUALSYNC_TEST_STEP_LIMIT",
        "N: end the process with exit 100 after the N-th journal step of the mapping store, as a "
        "crash would (like the option --test-step-limit N)" },
    [TESTHOOK_STEP_COUNT] = {
        "DUALSYNC_TEST_STEP_COUNT",
        "FILE: after convert or run, write the number of journal steps the process made to FILE "
        "(the crash sweep checks it tried each one)" },
    [TESTHOOK_KEPT_VERIFY] = {
        "DUALSYNC_TEST_KEPT_VERIFY",
        "any value: after each delta, read AD in full as well and stop if the kept copy differs" },
    [TESTHOOK_RANGE_SIZE] = {
        "DUALSYNC_TEST_RANGE_SIZE",
        "N (1 to 1000000): ask the domain controller for member in ranges of N values "
        "(member;range=0-(N-1)), which Samba never splits on its own as AD does at 1500" },
};

bool testhooks_enabled(void)
{
#ifdef DUALSYNC_TEST_HOOKS
    return true;
#else
    return false;
#endif
}

const char *testhook(enum testhook h)
{
    if (!testhooks_enabled() || (unsigned)h >= TESTHOOK_COUNT)
        return NULL;
    const char *v = getenv(hooks[h].name);
    return v && *v ? v : NULL;
}

const char *testhook_name(enum testhook h)
{
    return (unsigned)h < TESTHOOK_COUNT ? hooks[h].name : "?";
}

const char *testhook_what(enum testhook h)
{
    return (unsigned)h < TESTHOOK_COUNT ? hooks[h].what : "?";
}

void testhook_note_steps(long steps)
{
    const char *path = testhook(TESTHOOK_STEP_COUNT);
    if (!path)
        return;
    FILE *f = fopen(path, "w");
    if (!f)
        return;
    fprintf(f, "%ld\n", steps);
    fclose(f);
}
