/* testhooks.h - the hooks the tests steer dualsync with, in one place.
 *
 * The shipped dualsync has none: testhook() returns NULL for every hook,
 * whatever the environment says, and --test-step-limit is refused. The test
 * build, dualsync-test (`make test-bin`: the same objects, but testhooks.c
 * compiled with -DDUALSYNC_TEST_HOOKS), reads each hook from the environment
 * variable named in the table of testhooks.c, which says what each one does.
 * The integration tests, the crash sweep and the demo run dualsync-test.
 *
 * A hook must never be the only way to do something an administrator needs:
 * that is a configuration key (dualsync.conf(5)). */
#ifndef DUALSYNC_TESTHOOKS_H
#define DUALSYNC_TESTHOOKS_H

#include "compat.h"

enum testhook {
    TESTHOOK_GRAPH_CA_FILE,
    TESTHOOK_GRAPH_CONNECT_TO,
    TESTHOOK_GRAPH_TIME_SCALE,
    TESTHOOK_USER_LOOKUP,
    TESTHOOK_STEP_LIMIT,
    TESTHOOK_STEP_COUNT,
    TESTHOOK_KEPT_VERIFY,
    TESTHOOK_RANGE_SIZE,
    TESTHOOK_COUNT
};

/* True in the test build. */
bool testhooks_enabled(void);

/* The hook's value (an empty value counts as unset), or NULL: always NULL
 * in the shipped build. Owned by the environment. */
const char *testhook(enum testhook h);

/* The name of the hook's environment variable, and what it does. */
const char *testhook_name(enum testhook h);
const char *testhook_what(enum testhook h);

/* Test build, DUALSYNC_TEST_STEP_COUNT=FILE: write the number of journal
 * steps this process made to FILE, so that the crash sweep knows how many
 * there are to crash after. A no-op otherwise. */
void testhook_note_steps(long steps);

#endif
