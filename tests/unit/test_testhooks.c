/* Unit tests for testhooks.c, built twice: build/unit/test_testhooks links
 * the object the shipped dualsync links (every hook off, whatever the
 * environment says), test_testhooks-on the test build's (each hook read from
 * its variable). The table names each hook once, with what it does. */
#include "compat.h"

#include <setjmp.h>
#include <stdarg.h>
#include <unistd.h>
#include <cmocka.h>

#include "testhooks.h"
#include "util.h"

static char dir[] = "/tmp/dualsync-test-testhooks-XXXXXX";

static void the_table(void **state)
{
    (void)state;
    for (int h = 0; h < TESTHOOK_COUNT; h++) {
        const char *name = testhook_name((enum testhook)h);
        assert_true(!strncmp(name, "DUALSYNC_", 9));
        assert_true(strlen(testhook_what((enum testhook)h)) > 20);
        for (int k = 0; k < h; k++)
            assert_string_not_equal(name, testhook_name((enum testhook)k));
    }
}

/* Every hook set in the environment: the test build sees each value, the
 * shipped build none; only the test build writes the step count. */
static void hooks_only_in_the_test_build(void **state)
{
    (void)state;
    char *count = xasprintf("%s/steps", dir);
    for (int h = 0; h < TESTHOOK_COUNT; h++)
        setenv(testhook_name((enum testhook)h), h == TESTHOOK_STEP_COUNT ? count : "1", 1);
    for (int h = 0; h < TESTHOOK_COUNT; h++) {
        const char *v = testhook((enum testhook)h);
        if (testhooks_enabled())
            assert_string_equal(v, h == TESTHOOK_STEP_COUNT ? count : "1");
        else
            assert_null(v);
    }
    testhook_note_steps(42);
    FILE *f = fopen(count, "r");
    if (testhooks_enabled()) {
        long n = 0;
        assert_non_null(f);
        assert_int_equal(fscanf(f, "%ld", &n), 1);
        assert_int_equal(n, 42);
        fclose(f);
        unlink(count);
    } else {
        assert_null(f);
    }
    /* an empty value is no value */
    setenv(testhook_name(TESTHOOK_KEPT_VERIFY), "", 1);
    assert_null(testhook(TESTHOOK_KEPT_VERIFY));
    for (int h = 0; h < TESTHOOK_COUNT; h++)
        setenv(testhook_name((enum testhook)h), "", 1);   /* empty: unset */
    free(count);
}

int main(void)
{
    assert_non_null(mkdtemp(dir));
    print_message("the %s build's hooks\n", testhooks_enabled() ? "test" : "shipped");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_table),
        cmocka_unit_test(hooks_only_in_the_test_build),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    rmdir(dir);
    return rc;
}
