/* Unit tests for connect_tenant.c: which tenant an export's Entra connector
 * exports to, against the [tenant] sections, on exports built here (no
 * XML: the judge is pure). */
#include "compat.h"

#include <setjmp.h>
#include <stdarg.h>
#include <strings.h>
#include <cmocka.h>

#include "connect_config.h"
#include "util.h"

/* An export with one Entra connector per account given ("" for a
 * connector without a UserName; then its name is name_for) and an AD one. */
static void make(struct connect_export *ex, const char *dir, const char *const *accounts, size_t n,
                 const char *name_for)
{
    memset(ex, 0, sizeof(*ex));
    ex->dir = xstrdup(dir);
    ex->connectors = xcalloc(n + 1, sizeof(*ex->connectors));
    struct connect_connector *ad = &ex->connectors[ex->nconnectors++];
    ad->kind = CONNECT_AD;
    ad->file = xasprintf("%s/Connectors/Connector_{ad}.xml", dir);
    ad->id = xstrdup("{ad}");
    ad->name = xstrdup("corp.example.test");
    for (size_t i = 0; i < n; i++) {
        struct connect_connector *c = &ex->connectors[ex->nconnectors++];
        c->kind = CONNECT_ENTRA;
        c->file = xasprintf("%s/Connectors/Connector_{e%zu}.xml", dir, i);
        c->id = xasprintf("{e%zu}", i);
        if (*accounts[i]) {
            c->account = xstrdup(accounts[i]);
            c->account_line = 16;
            const char *at = strchr(accounts[i], '@');
            c->name = xasprintf("%s - AAD", at ? at + 1 : "x");
        } else {
            c->name = xstrdup(name_for);
        }
    }
}

static char *const GCCH_DOMAINS[] = { "contosodefense.onmicrosoft.us", "contoso-defense.example", NULL };
static char *const COM_DOMAINS[] = { "contosocorp.onmicrosoft.com", "contoso.example", NULL };

static const struct connect_finding *find(const struct connect_report *rep, enum connect_severity sev,
                                          const char *part)
{
    for (size_t i = 0; i < rep->nfindings; i++)
        if (rep->findings[i].severity == sev && strstr(rep->findings[i].text, part))
            return &rep->findings[i];
    for (size_t i = 0; i < rep->nfindings; i++)
        print_message("finding %d: %s\n", rep->findings[i].severity, rep->findings[i].text);
    fail_msg("no finding of severity %d with '%s'", sev, part);
    return NULL;
}

/* sides[0] gcch (usgov-high), sides[1] commercial (global) */
static void two_sides(struct connect_tenant_side *s, const struct connect_export *gcch,
                      const struct connect_export *com, bool graph)
{
    memset(s, 0, 2 * sizeof(*s));
    s[0] = (struct connect_tenant_side){ "gcch", CLOUD_USGOV_HIGH, gcch ? gcch->dir : NULL, gcch,
                                         graph ? GCCH_DOMAINS : NULL, graph ? 2 : 0,
                                         graph ? NULL : "Graph is not asked with --connect-config" };
    s[1] = (struct connect_tenant_side){ "commercial", CLOUD_GLOBAL, com ? com->dir : NULL, com,
                                         graph ? COM_DOMAINS : NULL, graph ? 2 : 0,
                                         graph ? NULL : "Graph is not asked with --connect-config" };
}

static void judge(const struct connect_tenant_side *s, size_t self, struct connect_report *rep)
{
    memset(rep, 0, sizeof(*rep));
    connect_judge_tenant(s, 2, self, rep);
}

static void its_own_tenant_by_graph(void **state)
{
    (void)state;
    const char *acc[] = { "Sync_CONNECT-GCCH_1@ContosoDefense.onmicrosoft.us" };
    struct connect_export ex;
    make(&ex, "gcch-export", acc, 1, NULL);
    struct connect_tenant_side s[2];
    two_sides(s, &ex, NULL, true);
    struct connect_report rep;
    judge(s, 0, &rep);
    assert_int_equal(rep.nfindings, 1);
    find(&rep, CONNECT_OK, "exports to contosodefense.onmicrosoft.us (its UserName), a verified domain of "
                           "gcch (Graph)");
    assert_int_equal(rep.warned, 0);
    connect_report_free(&rep);
    connect_export_free(&ex);
}

static void another_tenant_by_graph(void **state)
{
    (void)state;
    /* the same cloud: only Graph's domains tell it is not gcch's */
    const char *acc[] = { "Sync_CONNECT-GCCH_5c@fabrikamdefense.onmicrosoft.us" };
    struct connect_export ex;
    make(&ex, "with-rule", acc, 1, NULL);
    struct connect_tenant_side s[2];
    two_sides(s, &ex, NULL, true);
    struct connect_report rep;
    judge(s, 0, &rep);
    const struct connect_finding *f = find(&rep, CONNECT_WARNING,
        "the Entra connector 'fabrikamdefense.onmicrosoft.us - AAD' (with-rule/Connectors/Connector_{e0}.xml:16, "
        "UserName Sync_CONNECT-GCCH_5c@fabrikamdefense.onmicrosoft.us) exports to fabrikamdefense.onmicrosoft.us "
        "(its UserName), which is not a verified domain of gcch (Graph lists contosodefense.onmicrosoft.us, "
        "contoso-defense.example)");
    assert_non_null(strstr(f->remedy, "point connect_config of [tenant gcch] at the export of gcch's own"));
    assert_non_null(strstr(f->remedy, "one Connect server, and one dualsync, per tenant"));
    assert_int_equal(rep.warned, 1);
    assert_int_equal(rep.blocked, 0);      /* a warning, not a blocked finding */
    connect_report_free(&rep);
    connect_export_free(&ex);
}

static void the_other_sections_tenant(void **state)
{
    (void)state;
    /* gcch's domains unread (no token), commercial's read: it is commercial's */
    const char *acc[] = { "Sync_CONNECT-COM_8e@contosocorp.onmicrosoft.com" };
    struct connect_export ex;
    make(&ex, "commercial-export", acc, 1, NULL);
    struct connect_tenant_side s[2];
    two_sides(s, &ex, NULL, true);
    s[0].domains = NULL;
    s[0].domains_why = "no token";
    struct connect_report rep;
    judge(s, 0, &rep);
    find(&rep, CONNECT_WARNING, "gcch's verified domains were not read (no token); it is a verified domain "
                                "of [tenant commercial]");
    connect_report_free(&rep);
    connect_export_free(&ex);
}

/* Without Graph: only a domain of another cloud is certain. */
static void the_config_alone(void **state)
{
    (void)state;
    static const struct {
        const char *account;
        enum cloud cloud;
        enum connect_severity sev;
        const char *says;
    } cases[] = {
        { "S@fabrikamdefense.onmicrosoft.us", CLOUD_GLOBAL, CONNECT_WARNING,
          "an initial domain of the US Government cloud (*.onmicrosoft.us), but [tenant t] is in global" },
        { "S@fabrikamdefense.onmicrosoft.us", CLOUD_USGOV_HIGH, CONNECT_NOTE,
          "t's cloud (usgov-high) gives such initial domains (*.onmicrosoft.us), but whether it is t's own "
          "only its verified domains can tell, and they were not read (not asked)" },
        { "S@contosocorp.onmicrosoft.com", CLOUD_CHINA, CONNECT_WARNING,
          "an initial domain of the global cloud (*.onmicrosoft.com), but [tenant t] is in china" },
        { "S@contosocorp.onmicrosoft.com", CLOUD_USGOV_DOD, CONNECT_NOTE,
          "usgov-dod tenants (t) are normally given *.onmicrosoft.us, not *.onmicrosoft.com" },
        { "S@contoso.partner.onmschina.cn", CLOUD_USGOV_HIGH, CONNECT_WARNING,
          "an initial domain of the China (21Vianet) cloud" },
        { "S@corp.example", CLOUD_GLOBAL, CONNECT_NOTE, "corp.example (its UserName), not an initial domain" },
        { "S@onmicrosoft.us", CLOUD_GLOBAL, CONNECT_NOTE, "not an initial domain" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        const char *acc[] = { cases[i].account };
        struct connect_export ex;
        make(&ex, "x", acc, 1, NULL);
        struct connect_tenant_side s = { "t", cases[i].cloud, "x", &ex, NULL, 0, NULL };
        struct connect_report rep = { 0 };
        connect_judge_tenant(&s, 1, 0, &rep);
        assert_int_equal(rep.nfindings, 1);
        find(&rep, cases[i].sev, cases[i].says);
        connect_report_free(&rep);
        connect_export_free(&ex);
    }
}

static void the_domain_from_the_name(void **state)
{
    (void)state;
    const char *acc[] = { "" };
    struct connect_export ex;
    make(&ex, "x", acc, 1, "ContosoCorp.onmicrosoft.com - AAD");
    const char *from = NULL;
    char *d = connect_entra_domain(&ex.connectors[1], &from);
    assert_string_equal(d, "contosocorp.onmicrosoft.com");
    assert_string_equal(from, "name");
    free(d);
    connect_export_free(&ex);

    /* neither an account nor the default name: said, not guessed */
    make(&ex, "x", acc, 1, "Entra");
    assert_null(connect_entra_domain(&ex.connectors[1], &from));
    struct connect_tenant_side s = { "t", CLOUD_GLOBAL, "x", &ex, COM_DOMAINS, 2, NULL };
    struct connect_report rep = { 0 };
    connect_judge_tenant(&s, 1, 0, &rep);
    find(&rep, CONNECT_NOTE, "does not say which tenant it exports to: it has no UserName parameter");
    assert_int_equal(rep.warned, 0);
    connect_report_free(&rep);
    connect_export_free(&ex);
}

static void several_entra_connectors(void **state)
{
    (void)state;
    const char *acc[] = { "S1@contosodefense.onmicrosoft.us", "S2@contosocorp.onmicrosoft.com" };
    struct connect_export ex;
    make(&ex, "two", acc, 2, NULL);
    struct connect_tenant_side s[2];
    two_sides(s, &ex, NULL, true);
    struct connect_report rep;
    judge(s, 0, &rep);
    find(&rep, CONNECT_WARNING, "the export has 2 Entra connectors: 'contosodefense.onmicrosoft.us - AAD' "
                                "(contosodefense.onmicrosoft.us, two/Connectors/Connector_{e0}.xml), "
                                "'contosocorp.onmicrosoft.com - AAD' (contosocorp.onmicrosoft.com, "
                                "two/Connectors/Connector_{e1}.xml)");
    /* and each judged: gcch's is ok, commercial's is not gcch's */
    find(&rep, CONNECT_OK, "a verified domain of gcch");
    find(&rep, CONNECT_WARNING, "it is a verified domain of [tenant commercial]");
    assert_int_equal(rep.warned, 2);
    connect_report_free(&rep);
    connect_export_free(&ex);
}

static void two_sections_one_connector(void **state)
{
    (void)state;
    const char *a1[] = { "Sync_CONNECT-COM_8e@contosocorp.onmicrosoft.com" };
    const char *a2[] = { "SYNC_CONNECT-COM_8E@contosocorp.onmicrosoft.com" };
    struct connect_export e1, e2;
    make(&e1, "exports/com", a1, 1, NULL);
    make(&e2, "exports/com-copy", a2, 1, NULL);
    struct connect_tenant_side s[2];
    two_sides(s, &e2, &e1, false);
    struct connect_report rep;
    judge(s, 1, &rep);     /* commercial: its own cloud, but gcch's export has its connector */
    const struct connect_finding *f = find(&rep, CONNECT_WARNING,
        "the export of [tenant gcch] (exports/com-copy) has the same Entra connector account, "
        "Sync_CONNECT-COM_8e@contosocorp.onmicrosoft.com");     /* its own, matched without case */
    assert_non_null(strstr(f->why, "commercial and gcch cannot both be exported by it"));
    assert_int_equal(rep.warned, 1);
    connect_report_free(&rep);
    judge(s, 0, &rep);     /* gcch: the shared connector, and a domain of the global cloud */
    find(&rep, CONNECT_WARNING, "the export of [tenant commercial] (exports/com) has the same Entra connector");
    assert_int_equal(rep.warned, 1);    /* *.onmicrosoft.com in usgov-high: a note, not certain */
    connect_report_free(&rep);
    connect_export_free(&e2);

    /* without an account on one side, the domain decides */
    const char *a3[] = { "" };
    make(&e2, "exports/renamed", a3, 1, "contosocorp.onmicrosoft.com - AAD");
    two_sides(s, &e2, &e1, false);
    judge(s, 1, &rep);
    find(&rep, CONNECT_WARNING, "has an Entra connector for the same tenant domain, contosocorp.onmicrosoft.com");
    connect_report_free(&rep);
    connect_export_free(&e2);

    /* two servers of two tenants: nothing shared */
    const char *a4[] = { "Sync_CONNECT-GCCH_5c@contosodefense.onmicrosoft.us" };
    make(&e2, "exports/gcch", a4, 1, NULL);
    two_sides(s, &e2, &e1, false);
    judge(s, 1, &rep);
    assert_int_equal(rep.warned, 0);
    connect_report_free(&rep);
    connect_export_free(&e2);
    connect_export_free(&e1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(its_own_tenant_by_graph),
        cmocka_unit_test(another_tenant_by_graph),
        cmocka_unit_test(the_other_sections_tenant),
        cmocka_unit_test(the_config_alone),
        cmocka_unit_test(the_domain_from_the_name),
        cmocka_unit_test(several_entra_connectors),
        cmocka_unit_test(two_sections_one_connector),
    };
    return cmocka_run_group_tests_name("connect_tenant", tests, NULL, NULL);
}
