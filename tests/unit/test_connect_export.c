/* Unit tests for connect_export.c: the folders of tests/fixtures/connect (in
 * the format Get-ADSyncServerConfiguration writes) read into plain data, and
 * the refusals: a damaged file, an unknown version, a folder that is not an
 * export. Run from the top of the tree, as `make unit` does. */
#include "compat.h"

#include <setjmp.h>
#include <stdarg.h>
#include <strings.h>
#include <cmocka.h>

#include "connect_config.h"
#include "util.h"

#define FX "tests/fixtures/connect/"

static const struct connect_rule *rule(const struct connect_export *ex, const char *name)
{
    for (size_t i = 0; i < ex->nrules; i++)
        if (!strcmp(ex->rules[i].name, name))
            return &ex->rules[i];
    fail_msg("no rule '%s'", name);
    return NULL;
}

static const struct connect_flow *flow(const struct connect_rule *r, const char *dest)
{
    for (size_t i = 0; i < r->nflows; i++)
        if (!strcmp(r->flows[i].dest, dest))
            return &r->flows[i];
    fail_msg("rule '%s' has no flow to %s", r->name, dest);
    return NULL;
}

static void reads_the_out_of_box_export(void **state)
{
    (void)state;
    struct connect_export ex;
    assert_int_equal(connect_export_load(FX "out-of-box", &ex), 0);
    assert_string_equal(ex.server, "CONNECT-GCCH");
    assert_int_equal(ex.nconnectors, 2);
    assert_int_equal(ex.nrules, 12);
    size_t ad = 0, entra = 0;
    for (size_t i = 0; i < ex.nconnectors; i++) {
        const struct connect_connector *c = &ex.connectors[i];
        if (c->kind == CONNECT_AD) {
            ad++;
            assert_string_equal(c->id, "{7d1c2e3f-4a5b-4c6d-8e9f-a0b1c2d3e4f5}");   /* lowered */
            assert_int_equal(c->npartitions, 1);
            assert_true(c->partitions[0].selected);
            assert_string_equal(c->partitions[0].name, "DC=corp,DC=example,DC=test");
            assert_int_equal(c->partitions[0].ninclusions, 2);
            assert_string_equal(c->partitions[0].exclusions[0], "DC=corp,DC=example,DC=test");
            assert_true(c->nattributes > 5);
        } else if (c->kind == CONNECT_ENTRA) {
            entra++;
            assert_string_equal(c->name, "fabrikamdefense.onmicrosoft.us - AAD");
            /* the UserName of <parameter-values>, not the definition beside it */
            assert_non_null(c->account);
            assert_string_equal(c->account, "Sync_CONNECT-GCCH_5c2d9e1a7b30@fabrikamdefense.onmicrosoft.us");
            assert_int_equal(c->account_line, 16);
        } else {
            fail_msg("connector %s of no kind", c->name);
        }
        if (c->kind != CONNECT_ENTRA)
            assert_null(c->account);    /* the AD connector's forest-login-user is not it */
    }
    assert_int_equal(ad, 1);
    assert_int_equal(entra, 1);

    const struct connect_rule *r = rule(&ex, "Out to AAD - User Identity");
    assert_true(r->outbound);
    assert_false(r->disabled);
    assert_int_equal(r->precedence, 124);
    assert_string_equal(r->connector, "{b891884f-051e-4a83-95af-2544101c9083}");
    assert_int_equal(r->ngroups, 1);
    assert_int_equal(r->groups[0].nclauses, 2);
    assert_string_equal(r->groups[0].clauses[1].attr, "cloudMastered");
    assert_string_equal(r->groups[0].clauses[1].op, "NOTEQUAL");
    assert_string_equal(r->groups[0].clauses[1].value, "True");
    const struct connect_flow *f = flow(r, "onPremisesUserPrincipalName");
    assert_int_equal(f->nsrc, 1);
    assert_string_equal(f->src[0], "onPremisesUserPrincipalName");
    assert_null(f->expression);
    assert_null(f->constant);

    /* <src>True</src>: a constant; an <expression>; an empty <csValue /> */
    r = rule(&ex, "In from AD - User AccountEnabled");
    assert_false(r->outbound);
    assert_string_equal(flow(r, "accountEnabled")->constant, "True");
    assert_non_null(strstr(flow(r, "sourceAnchor")->expression, "ConvertToBase64([mS-DS-ConsistencyGuid])"));
    r = rule(&ex, "Out to AAD - User Join");
    assert_null(r->groups[0].clauses[3].value);    /* sourceAnchor ISNOTNULL */

    const struct connect_setting *s = connect_setting(&ex, "Microsoft.SynchronizationOption.AnchorAttribute");
    assert_non_null(s);
    assert_string_equal(s->value, "mS-DS-ConsistencyGuid");
    assert_int_equal(s->line, 19);
    assert_non_null(strstr(s->file, "GlobalSettings/MV.xml"));
    connect_export_free(&ex);
}

static void reads_the_scripts_rule(void **state)
{
    (void)state;
    struct connect_export ex;
    assert_int_equal(connect_export_load(FX "with-rule", &ex), 0);
    const struct connect_rule *r = rule(&ex, "In from AD - User dualsync no onPremisesUserPrincipalName");
    assert_false(r->outbound);
    assert_int_equal(r->precedence, 90);
    assert_int_equal(r->ngroups, 2);
    assert_int_equal(r->groups[1].nclauses, 2);
    assert_string_equal(r->groups[1].clauses[0].op, "ISNULL");
    assert_string_equal(flow(r, "onPremisesUserPrincipalName")->expression, "AuthoritativeNull");
    connect_export_free(&ex);
}

/* Which tenant each Entra connector exports to, as the export says it. */
static void reads_each_entra_account(void **state)
{
    (void)state;
    struct connect_export ex;
    assert_int_equal(connect_export_load(FX "two-entra", &ex), 0);
    size_t n = 0;
    for (size_t i = 0; i < ex.nconnectors; i++) {
        const struct connect_connector *c = &ex.connectors[i];
        if (c->kind != CONNECT_ENTRA)
            continue;
        const char *from = NULL;
        char *d = connect_entra_domain(c, &from);
        assert_string_equal(from, "UserName");
        /* sorted by file name: {3a6e...} (commercial) before {b891...} */
        assert_string_equal(d, n++ ? "fabrikamdefense.onmicrosoft.us" : "contosocorp.onmicrosoft.com");
        free(d);
    }
    assert_int_equal(n, 2);
    connect_export_free(&ex);
}

static void refuses_what_it_cannot_read(void **state)
{
    (void)state;
    struct connect_export ex;
    /* a file cut short (libxml2 names the line), a version it does not know,
     * a folder that is not an export */
    assert_int_equal(connect_export_load(FX "damaged", &ex), -1);
    connect_export_free(&ex);
    assert_int_equal(connect_export_load(FX "unknown-version", &ex), -1);
    connect_export_free(&ex);
    assert_int_equal(connect_export_load("tests/unit", &ex), -1);
    connect_export_free(&ex);
    assert_int_equal(connect_export_load(FX "no-such-folder", &ex), -1);
    connect_export_free(&ex);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_the_out_of_box_export),
        cmocka_unit_test(reads_the_scripts_rule),
        cmocka_unit_test(reads_each_entra_account),
        cmocka_unit_test(refuses_what_it_cannot_read),
    };
    return cmocka_run_group_tests_name("connect_export", tests, NULL, NULL);
}
