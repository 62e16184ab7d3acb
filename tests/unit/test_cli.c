/* Unit tests for cli.c: the option table is sorted (cli_parse finds long
 * options with bsearch: an option out of order is silently unknown), every
 * boolean option's --no- form undoes it, and a --no- form of an option that
 * takes a value is refused. */
#include "compat.h"

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#include "capture.h"
#include "cli.h"
#include "util.h"

/* Parse "dualsync COMMAND A [B]" into *out (args freed, pointer cleared, so
 * that two results compare with memcmp). */
static int parse(const char *command, const char *a, const char *b, struct cli *out)
{
    char *argv[] = { "dualsync", (char *)command, (char *)a, (char *)b, NULL };
    int rc = cli_parse(b ? 4 : 3, argv, out);
    free(out->args);
    out->args = NULL;
    return rc;
}

/* The first subcommand that takes an option ("pull" for all). */
static char *first_command(const char *commands)
{
    if (!commands)
        return xstrdup("pull");
    return xstrndup(commands, strcspn(commands, ","));
}

static void table_is_sorted(void **state)
{
    (void)state;
    const char *prev = NULL, *name, *commands;
    bool neg;
    size_t n = 0;
    for (size_t i = 0; cli_option_at(i, &name, &neg, &commands); i++, n++) {
        if (prev && strcmp(prev, name) >= 0)
            fail_msg("option table: --%s comes after --%s (it must stay sorted for bsearch)", name, prev);
        prev = name;
    }
    assert_true(n > 10);
}

static void every_no_form_undoes(void **state)
{
    (void)state;
    const char *name, *commands;
    bool neg;
    size_t bools = 0;
    for (size_t i = 0; cli_option_at(i, &name, &neg, &commands); i++) {
        char *cmd = first_command(commands);
        char *yes = xasprintf("--%s", name), *no = xasprintf("--no-%s", name);
        struct cli on, off, on_off, plain;
        if (!neg) {
            /* an option with a value has no --no- form */
            assert_int_equal(parse(cmd, no, NULL, &off), EXIT_USAGE);
        } else {
            bools++;
            assert_int_equal(parse(cmd, yes, NULL, &on), EXIT_DONE);
            assert_int_equal(parse(cmd, no, NULL, &off), EXIT_DONE);
            assert_int_equal(parse(cmd, yes, no, &on_off), EXIT_DONE);
            assert_int_equal(parse(cmd, "--verbose", NULL, &plain), EXIT_DONE);
            if (!memcmp(&on, &off, sizeof(on)))
                fail_msg("%s and %s give the same settings", yes, no);
            if (memcmp(&off, &on_off, sizeof(off)))
                fail_msg("%s %s differs from %s alone: the last one must win", yes, no, no);
            /* --no-X=value is refused, as --X=value is */
            char *with = xasprintf("%s=1", no);
            assert_int_equal(parse(cmd, with, NULL, &off), EXIT_USAGE);
            free(with);
        }
        free(yes);
        free(no);
        free(cmd);
    }
    assert_true(bools >= 5);
    /* --no- of something unknown is unknown */
    struct cli c;
    assert_int_equal(parse("pull", "--no-such-thing", NULL, &c), EXIT_USAGE);
}

/* An unknown option points at the help of the command it was given to. */
static void unknown_option_names_the_help(void **state)
{
    (void)state;
    struct cli c;
    capture_start();
    int rc = parse("check", "--nonsense", NULL, &c);
    char *err = capture_end();
    assert_int_equal(rc, EXIT_USAGE);
    if (!strstr(err, "unknown option '--nonsense'; see dualsync check --help"))
        fail_msg("got: %s", err);
    free(err);
    char *argv[] = { "dualsync", "--nonsense", NULL };
    capture_start();
    rc = cli_parse(2, argv, &c);
    err = capture_end();
    free(c.args);
    assert_int_equal(rc, EXIT_USAGE);
    if (!strstr(err, "unknown option '--nonsense'; see dualsync --help"))
        fail_msg("got: %s", err);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(table_is_sorted),
        cmocka_unit_test(every_no_form_undoes),
        cmocka_unit_test(unknown_option_names_the_help),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
