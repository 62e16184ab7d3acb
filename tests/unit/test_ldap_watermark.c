/* Unit tests for the delta watermark's text form (ldap_watermark.c), which
 * both AD readers and `dualsync pull` share. */
#include "compat.h"

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#include "ldap_source.h"

static void round_trip(void **state)
{
    (void)state;
    struct ldap_watermark wm;
    assert_int_equal(ldap_watermark_parse("usn:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0:123456789012", &wm), 0);
    assert_string_equal(wm.invocation_id, "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0");
    assert_true(wm.usn == 123456789012u);
    char *text = ldap_watermark_format(&wm);
    assert_string_equal(text, "usn:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0:123456789012");
    free(text);
}

static void refusals(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", "usn:", "usn:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", "usn:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0:",
        "usn:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0:12x", "usn:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1fz:1",
        "usn:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0;1", "USN:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0:1",
        "usn:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0:-1",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        struct ldap_watermark wm;
        if (ldap_watermark_parse(bad[i], &wm) == 0)
            fail_msg("accepted \"%s\"", bad[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(refusals),
    };
    return cmocka_run_group_tests_name("ldap_watermark", tests, NULL, NULL);
}
