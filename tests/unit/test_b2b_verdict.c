/* Unit tests for b2b_verdict.c: the text of <tenant>.b2b, both ways. */
#include "compat.h"

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#include "b2b_verdict.h"
#include "util.h"

static void round_trip(void **state)
{
    (void)state;
    struct b2b_verdicts v = { (char *)"commercial", (char *)"3f1c6e2a-8d4b-4a7e-9c15-2b6d8e0f4a11", CLOUD_GLOBAL,
                              NULL, 0 };
    struct b2b_verdicts w;
    memset(&w, 0, sizeof(w));
    w.tenant = xstrdup(v.tenant);
    w.tenant_id = xstrdup(v.tenant_id);
    struct b2b_pair p = { (char *)"gcch", (char *)"7b2d9f40-1e6c-4c83-a5d2-9e0b3c7f6d22", B2B_BLOCKED, true, true,
                          1765000000, (char *)"run", (char *)"commercial: policy a/b", (char *)"BLOCKED \"x\"\n" };
    b2b_verdicts_set(&w, &p);
    p.verdict = B2B_ALLOWED;            /* set again: replaced, not added */
    p.resource_blocks = false;
    b2b_verdicts_set(&w, &p);
    assert_int_equal(w.n, 1);
    char *text = b2b_verdicts_format(&w);
    assert_non_null(strstr(text, "\"format\":\t\"dualsync-b2b\""));
    struct b2b_verdicts r;
    char err[200];
    assert_int_equal(b2b_verdicts_parse(text, &r, err, sizeof(err)), 0);
    const struct b2b_pair *q = b2b_verdicts_find(&r, "gcch");
    assert_non_null(q);
    assert_int_equal(q->verdict, B2B_ALLOWED);
    assert_false(q->resource_blocks);
    assert_true(q->home_blocks);
    assert_int_equal(q->read_at, 1765000000);
    assert_string_equal(q->why, "BLOCKED \"x\"\n");
    assert_string_equal(q->read_by, "run");
    assert_null(b2b_verdicts_find(&r, "other"));
    free(text);
    b2b_verdicts_release(&r);
    b2b_verdicts_release(&w);
    (void)v;
}

static void refusals(void **state)
{
    (void)state;
    struct b2b_verdicts r;
    char err[200];
    assert_int_equal(b2b_verdicts_parse("not json", &r, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not a dualsync cross-tenant verdict file"));
    assert_int_equal(b2b_verdicts_parse("{\"format\": \"dualsync-b2b\", \"version\": 2}", &r, err,
                                        sizeof(err)), -1);
    assert_non_null(strstr(err, "version 2, this dualsync reads version 1"));
    assert_int_equal(b2b_verdicts_parse("{\"format\": \"dualsync-b2b\", \"version\": 1, \"tenant\": \"t\", "
                                        "\"tenantId\": \"i\", \"cloud\": \"global\", \"homeTenants\": "
                                        "[{\"home\": \"h\", \"verdict\": \"maybe\"}]}", &r, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "home tenant entry 1"));
    assert_int_equal(r.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
