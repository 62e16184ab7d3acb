/* Unit tests for connect_judge.c: scoping clauses, precedence, and each
 * finding, on exports built here (no XML: the judge is pure). */
#include "compat.h"

#include <setjmp.h>
#include <stdarg.h>
#include <strings.h>
#include <cmocka.h>

#include "connect_config.h"
#include "util.h"

#define ENTRA "{b891884f-051e-4a83-95af-2544101c9083}"
#define AD "{7d1c2e3f-4a5b-4c6d-8e9f-a0b1c2d3e4f5}"

/* ------------------------------------------------------------ fake users */

struct fake_user {
    const char *upn, *dn, *ext1, *mail;
    bool disabled, guest, stray_anchor;
};

struct fake {
    const struct fake_user *u;
    size_t n;
};

static int fake_values(void *ctx, size_t i, const char *attr, const char *const **vals, size_t *n)
{
    const struct fake_user *u = &((struct fake *)ctx)->u[i];
    static const char *const none = NULL;
    const char *const *v = !strcasecmp(attr, "extensionAttribute1") ? &u->ext1
                           : !strcasecmp(attr, "userPrincipalName") ? &u->upn
                           : !strcasecmp(attr, "mail") ? &u->mail
                           : !strcasecmp(attr, "adminDescription") ? &none : NULL;
    if (!v)
        return 0;   /* not read */
    *vals = v;
    *n = *v ? 1 : 0;
    return 1;
}
static const char *fake_dn(void *ctx, size_t i) { return ((struct fake *)ctx)->u[i].dn; }
static const char *fake_label(void *ctx, size_t i) { return ((struct fake *)ctx)->u[i].upn; }
static bool fake_disabled(void *ctx, size_t i) { return ((struct fake *)ctx)->u[i].disabled; }
static bool fake_guest(void *ctx, size_t i) { return ((struct fake *)ctx)->u[i].guest; }
static bool fake_stray(void *ctx, size_t i) { return ((struct fake *)ctx)->u[i].stray_anchor; }

static const struct fake_user three[] = {
    { "ann@contoso.example", "CN=Ann,OU=US,OU=Contoso,DC=corp", "commercial", "ann@contoso.example", false, true, true },
    { "bob@contoso.example", "CN=Bob,OU=GB,OU=Contoso,DC=corp", "commercial", "bob@contoso.example", false, false, false },
    { "cy@contoso.example", "CN=Cy,OU=US,OU=Contoso,DC=corp", NULL, NULL, false, true, false },
};

static struct fake fake3 = { three, 3 };

static struct connect_view view(bool known)
{
    static char *bases[] = { "OU=Contoso,DC=corp" };
    struct connect_view v = { .tenant = "gcch", .invite_attribute = "mail", .base_dns = bases, .nbase_dns = 1 };
    v.users = (struct connect_users){ known, fake3.n, &fake3, fake_values, fake_dn, fake_label, fake_disabled,
                                      fake_guest, fake_stray };
    return v;
}

/* ------------------------------------------------------------ an export */

static struct connect_clause clause(const char *attr, const char *op, const char *value)
{
    return (struct connect_clause){ xstrdup(attr), xstrdup(op), value ? xstrdup(value) : NULL };
}

/* An outbound user rule to the Entra connector flowing dest: from src
 * (Direct), or expression, with one scope group of n clauses. */
static struct connect_rule *add_rule(struct connect_export *ex, const char *name, int prec, const char *dest,
                                     const char *src, const char *expression, const char *constant,
                                     struct connect_clause *cl, size_t n)
{
    ex->rules = xrealloc(ex->rules, (ex->nrules + 1) * sizeof(*ex->rules));
    struct connect_rule *r = &ex->rules[ex->nrules++];
    memset(r, 0, sizeof(*r));
    r->file = xstrdup("rule.xml");
    r->name = xstrdup(name);
    r->connector = xstrdup(ENTRA);
    r->target_type = xstrdup("user");
    r->outbound = true;
    r->precedence = prec;
    r->flows = xcalloc(1, sizeof(*r->flows));
    r->nflows = 1;
    r->flows[0].dest = xstrdup(dest);
    if (src) {
        r->flows[0].src = xcalloc(1, sizeof(char *));
        r->flows[0].src[0] = xstrdup(src);
        r->flows[0].nsrc = 1;
    }
    r->flows[0].expression = expression ? xstrdup(expression) : NULL;
    r->flows[0].constant = constant ? xstrdup(constant) : NULL;
    if (n) {
        r->groups = xcalloc(1, sizeof(*r->groups));
        r->ngroups = 1;
        r->groups[0].clauses = xcalloc(n, sizeof(*cl));
        memcpy(r->groups[0].clauses, cl, n * sizeof(*cl));
        r->groups[0].nclauses = n;
    }
    return r;
}

/* The same, inbound from the AD connector into the metaverse person. */
static void add_inbound(struct connect_export *ex, const char *name, int prec, const char *dest, const char *src,
                        const char *expression, struct connect_clause *cl, size_t n)
{
    struct connect_rule *r = add_rule(ex, name, prec, dest, src, expression, NULL, cl, n);
    r->outbound = false;
    free(r->connector);
    r->connector = xstrdup(AD);
    free(r->target_type);
    r->target_type = xstrdup("person");
}

static void add_setting(struct connect_export *ex, const char *name, const char *value)
{
    ex->settings = xrealloc(ex->settings, (ex->nsettings + 1) * sizeof(*ex->settings));
    ex->settings[ex->nsettings++] = (struct connect_setting){ xstrdup(name), xstrdup(value),
                                                               xstrdup("MV.xml"), 7 };
}

/* The Entra and AD connectors, the out-of-box rule that writes
 * onPremisesUserPrincipalName (and mail), the anchor setting. */
static void oob(struct connect_export *ex, const char *exclusion)
{
    memset(ex, 0, sizeof(*ex));
    ex->dir = xstrdup("export");
    ex->connectors = xcalloc(2, sizeof(*ex->connectors));
    ex->nconnectors = 2;
    ex->connectors[0] = (struct connect_connector){ xstrdup("c0.xml"), xstrdup(ENTRA), xstrdup("t - AAD"),
                                                    CONNECT_ENTRA };
    struct connect_connector *ad = &ex->connectors[1];
    *ad = (struct connect_connector){ xstrdup("c1.xml"), xstrdup(AD), xstrdup("corp"), CONNECT_AD };
    ad->partitions = xcalloc(1, sizeof(*ad->partitions));
    ad->npartitions = 1;
    ad->partitions[0].name = xstrdup("DC=corp");
    ad->partitions[0].selected = true;
    ad->partitions[0].inclusions = xcalloc(1, sizeof(char *));
    ad->partitions[0].inclusions[0] = xstrdup("OU=Contoso,DC=corp");
    ad->partitions[0].ninclusions = 1;
    if (exclusion) {
        ad->partitions[0].exclusions = xcalloc(1, sizeof(char *));
        ad->partitions[0].exclusions[0] = xstrdup(exclusion);
        ad->partitions[0].nexclusions = 1;
    }
    struct connect_clause user[] = { clause("sourceObjectType", "EQUAL", "User"),
                                     clause("cloudMastered", "NOTEQUAL", "True") };
    add_rule(ex, "Out to AAD - User Identity", 124, "onPremisesUserPrincipalName",
             "onPremisesUserPrincipalName", NULL, NULL, user, 2);
    struct connect_clause user2[] = { clause("sourceObjectType", "EQUAL", "User") };
    add_rule(ex, "Out to AAD - User Mail", 125, "mail", "mail", NULL, NULL, user2, 1);
    struct connect_clause common[] = { clause("adminDescription", "NOTSTARTSWITH", "User_") };
    add_inbound(ex, "In from AD - User Common", 106, "onPremisesUserPrincipalName", "userPrincipalName", NULL,
                common, 1);
    add_setting(ex, "Microsoft.SynchronizationOption.AnchorAttribute", "mS-DS-ConsistencyGuid");
}

static const struct connect_finding *finding(const struct connect_report *rep, const char *setting)
{
    for (size_t i = 0; i < rep->nfindings; i++)
        if (!strcmp(rep->findings[i].setting, setting))
            return &rep->findings[i];
    fail_msg("no finding '%s'", setting);
    return NULL;
}

static void judge(struct connect_export *ex, bool known, struct connect_report *rep)
{
    struct connect_view v = view(known);
    connect_judge(ex, &v, rep);
}

/* ------------------------------------------------------------ the tests */

static void clauses(void **state)
{
    (void)state;
    struct connect_users u = view(true).users;
    struct connect_clause c;
#define EVAL(A, O, V, USER, WANT) \
    c = clause(A, O, V); \
    assert_int_equal(connect_clause_eval(&c, &u, USER), WANT); \
    free(c.attr), free(c.op), free(c.value)
    EVAL("extensionAttribute1", "EQUAL", "COMMERCIAL", 0, 1);      /* case-insensitive */
    EVAL("extensionAttribute1", "EQUAL", "gcch", 0, 0);
    EVAL("extensionAttribute1", "NOTEQUAL", "gcch", 2, 1);         /* absent: not equal */
    EVAL("extensionAttribute1", "ISNULL", NULL, 2, 1);
    EVAL("extensionAttribute1", "ISNOTNULL", NULL, 2, 0);
    EVAL("userPrincipalName", "ENDSWITH", "@contoso.example", 1, 1);
    EVAL("onPremisesUserPrincipalName", "STARTSWITH", "bob@", 1, 1); /* from AD's userPrincipalName */
    EVAL("department", "NOTSTARTSWITH", "Sales", 0, -1);           /* not read: cannot tell */
    EVAL("adminDescription", "NOTSTARTSWITH", "User_", 0, 1);      /* read, absent: holds */
    EVAL("extensionAttribute1", "NOTSTARTSWITH", "User_", 2, 1);   /* absent: holds */
    EVAL("sourceObjectType", "EQUAL", "User", 0, 1);               /* computed as Connect does */
    EVAL("cloudMastered", "NOTEQUAL", "True", 0, 1);
    EVAL("accountEnabled", "EQUAL", "True", 0, 1);
    EVAL("extensionAttribute1", "ISMEMBEROF", "CN=G", 0, -1);      /* not evaluated */
    EVAL("extensionAttribute1", "ISIN", "commercial", 0, 1);       /* the multi-valued EQUAL */
    EVAL("extensionAttribute1", "ISNOTIN", "commercial", 0, 0);
    u.known = false;   /* without AD: the out-of-box exclusions let an ordinary user through */
    EVAL("isCriticalSystemObject", "NOTEQUAL", "TRUE", 0, 1);
    EVAL("extensionAttribute1", "EQUAL", "commercial", 0, -1);
#undef EVAL
}

static void out_of_box_blocks_every_user(void **state)
{
    (void)state;
    struct connect_export ex;
    oob(&ex, NULL);
    struct connect_report rep;
    judge(&ex, true, &rep);
    const struct connect_finding *f = finding(&rep, "onPremisesUserPrincipalName");
    assert_int_equal(f->severity, CONNECT_BLOCKED);
    assert_non_null(strstr(f->text, "Connect writes it for 3 and leaves it empty for 0"));
    assert_non_null(f->remedy);
    assert_non_null(strstr(f->remedy, "New-DualsyncConnectRule.ps1"));
    assert_true(rep.blocked >= 1);
    connect_report_free(&rep);
    /* without AD: the rule's scope holds for any synced user: still blocked */
    judge(&ex, false, &rep);
    assert_int_equal(finding(&rep, "onPremisesUserPrincipalName")->severity, CONNECT_BLOCKED);
    connect_report_free(&rep);
    /* no inbound rule fills the metaverse value (as in Connect 1.1.130's
     * export): the outbound rules are taken to have one to send */
    ex.rules[2].disabled = true;
    judge(&ex, true, &rep);
    f = finding(&rep, "onPremisesUserPrincipalName");
    assert_int_equal(f->severity, CONNECT_BLOCKED);
    assert_non_null(strstr(f->text, "writes it for 3"));
    assert_non_null(strstr(f->text, "no inbound rule of the export fills the metaverse value"));
    connect_report_free(&rep);
    connect_export_free(&ex);
}

static void clearing_rule_by_precedence(void **state)
{
    (void)state;
    struct connect_export ex;
    oob(&ex, NULL);
    /* the script's rule: inbound, AuthoritativeNull into the metaverse;
     * NULL before it gives nothing, and the next rule still decides */
    struct connect_clause any[] = { clause("userPrincipalName", "ISNOTNULL", NULL) };
    add_inbound(&ex, "gives nothing", 80, "onPremisesUserPrincipalName", NULL, "NULL", any, 1);
    struct connect_clause c[] = { clause("extensionAttribute1", "EQUAL", "commercial") };
    add_inbound(&ex, "dualsync", 90, "onPremisesUserPrincipalName", NULL, "AuthoritativeNull", c, 1);
    struct connect_report rep;
    judge(&ex, true, &rep);
    const struct connect_finding *f = finding(&rep, "onPremisesUserPrincipalName");
    /* Cy has no extensionAttribute1: the out-of-box rules still write it */
    assert_int_equal(f->severity, CONNECT_BLOCKED);
    assert_non_null(strstr(f->text, "writes it for 1 and leaves it empty for 2"));
    assert_non_null(strstr(f->text, "cy@contoso.example"));
    assert_non_null(strstr(f->text, "'dualsync' (precedence 90, scope: extensionAttribute1 EQUAL commercial): "
                                    "covers 2, decides it for 2"));
    connect_report_free(&rep);
    /* without AD the clearing rule's scope cannot be told: a note, not a block */
    judge(&ex, false, &rep);
    assert_int_equal(finding(&rep, "onPremisesUserPrincipalName")->severity, CONNECT_NOTE);
    connect_report_free(&rep);
    connect_export_free(&ex);

    /* a rule with a higher precedence number comes too late */
    oob(&ex, NULL);
    struct connect_clause late[] = { clause("userPrincipalName", "ISNOTNULL", NULL) };
    add_inbound(&ex, "too late", 200, "onPremisesUserPrincipalName", NULL, "AuthoritativeNull", late, 1);
    judge(&ex, true, &rep);
    assert_int_equal(finding(&rep, "onPremisesUserPrincipalName")->severity, CONNECT_BLOCKED);
    connect_report_free(&rep);
    connect_export_free(&ex);

    /* every converted user covered: ready */
    oob(&ex, NULL);
    struct connect_clause all[] = { clause("userPrincipalName", "ENDSWITH", "@contoso.example") };
    add_inbound(&ex, "dualsync", 90, "onPremisesUserPrincipalName", NULL, "AuthoritativeNull", all, 1);
    judge(&ex, true, &rep);
    assert_int_equal(finding(&rep, "onPremisesUserPrincipalName")->severity, CONNECT_OK);
    assert_int_equal(rep.blocked, 0);
    connect_report_free(&rep);
    connect_export_free(&ex);

    /* an outbound AuthoritativeNull clears it too, with a note on its record */
    oob(&ex, NULL);
    struct connect_clause out[] = { clause("sourceObjectType", "EQUAL", "User") };
    add_rule(&ex, "outbound null", 91, "onPremisesUserPrincipalName", NULL, "AuthoritativeNull", NULL, out, 1);
    judge(&ex, true, &rep);
    assert_int_equal(finding(&rep, "onPremisesUserPrincipalName")->severity, CONNECT_OK);
    assert_int_equal(finding(&rep, "outbound null")->severity, CONNECT_NOTE);
    connect_report_free(&rep);
    connect_export_free(&ex);

    /* a scope on an attribute not read: cannot tell, taken as writing */
    oob(&ex, NULL);
    struct connect_clause unread[] = { clause("department", "EQUAL", "Sales") };
    add_inbound(&ex, "unread", 90, "onPremisesUserPrincipalName", NULL, "AuthoritativeNull", unread, 1);
    judge(&ex, true, &rep);
    f = finding(&rep, "onPremisesUserPrincipalName");
    assert_int_equal(f->severity, CONNECT_BLOCKED);
    assert_non_null(strstr(f->text, "cannot be told for 3"));
    connect_report_free(&rep);
    connect_export_free(&ex);
}

static void user_type_flow(void **state)
{
    (void)state;
    struct connect_export ex;
    oob(&ex, NULL);
    struct connect_report rep;
    judge(&ex, true, &rep);
    assert_int_equal(finding(&rep, "userType")->severity, CONNECT_OK);
    connect_report_free(&rep);
    /* a constant Guest: Bob is to be an external member */
    struct connect_clause user[] = { clause("sourceObjectType", "EQUAL", "User") };
    add_rule(&ex, "Out to AAD - User UserType", 96, "userType", NULL, NULL, "Guest", user, 1);
    judge(&ex, true, &rep);
    const struct connect_finding *f = finding(&rep, "userType");
    assert_int_equal(f->severity, CONNECT_BLOCKED);
    assert_non_null(strstr(f->text, "for 1 of the 3"));
    assert_non_null(strstr(f->text, "bob@contoso.example"));
    connect_report_free(&rep);
    connect_export_free(&ex);
}

static void ou_filter_misses_users(void **state)
{
    (void)state;
    struct connect_export ex;
    oob(&ex, "OU=GB,OU=Contoso,DC=corp");
    struct connect_report rep;
    judge(&ex, true, &rep);
    const struct connect_finding *f = finding(&rep, "AD connector partitions and containers");
    assert_int_equal(f->severity, CONNECT_BLOCKED);
    assert_non_null(strstr(f->text, "exports 2 of the 3"));
    assert_non_null(strstr(f->text, "CN=Bob,OU=GB"));
    connect_report_free(&rep);
    connect_export_free(&ex);
    oob(&ex, NULL);
    judge(&ex, true, &rep);
    assert_int_equal(finding(&rep, "AD connector partitions and containers")->severity, CONNECT_OK);
    connect_report_free(&rep);
    connect_export_free(&ex);
}

static void anchor(void **state)
{
    (void)state;
    struct connect_export ex;
    oob(&ex, NULL);
    struct connect_report rep;
    judge(&ex, true, &rep);
    assert_int_equal(finding(&rep, "source anchor")->severity, CONNECT_OK);
    connect_report_free(&rep);
    free(ex.settings[0].value);
    ex.settings[0].value = xstrdup("objectGUID");
    judge(&ex, true, &rep);
    const struct connect_finding *f = finding(&rep, "source anchor");
    assert_int_equal(f->severity, CONNECT_BLOCKED);
    assert_non_null(strstr(f->text, "1 of the 3"));
    assert_non_null(strstr(f->text, "ann@contoso.example"));
    connect_report_free(&rep);
    free(ex.settings[0].value);
    ex.settings[0].value = xstrdup("employeeID");
    judge(&ex, true, &rep);
    assert_int_equal(finding(&rep, "source anchor")->severity, CONNECT_BLOCKED);
    connect_report_free(&rep);
    connect_export_free(&ex);
}

static void mail_and_server(void **state)
{
    (void)state;
    struct connect_export ex;
    oob(&ex, NULL);
    struct connect_report rep;
    judge(&ex, true, &rep);
    assert_int_equal(finding(&rep, "mail")->severity, CONNECT_OK);
    assert_int_equal(finding(&rep, "mail (in AD)")->severity, CONNECT_NOTE);   /* Cy has none */
    connect_report_free(&rep);
    /* the mail rule disabled: mail no longer reaches Entra */
    ex.rules[1].disabled = true;
    add_setting(&ex, "Microsoft.Synchronize.StagingMode", "True");
    judge(&ex, true, &rep);
    assert_int_equal(finding(&rep, "mail")->severity, CONNECT_BLOCKED);
    assert_int_equal(finding(&rep, "staging mode")->severity, CONNECT_BLOCKED);
    connect_report_free(&rep);
    connect_export_free(&ex);
}

static void scope_attributes(void **state)
{
    (void)state;
    struct connect_export ex;
    oob(&ex, NULL);
    struct connect_clause c[] = { clause("extensionAttribute1", "EQUAL", "commercial"),
                                  clause("onPremisesUserPrincipalName", "ISNOTNULL", NULL) };
    add_rule(&ex, "dualsync", 90, "onPremisesUserPrincipalName", NULL, "AuthoritativeNull", NULL, c, 2);
    char **names = NULL;
    size_t n = 0;
    connect_scope_attributes(&ex, &names, &n);
    /* computed ones (sourceObjectType, cloudMastered) are not read from AD;
     * the inbound rules' scopes are AD's own attributes */
    assert_int_equal(n, 3);
    assert_string_equal(names[0], "adminDescription");
    assert_string_equal(names[1], "extensionAttribute1");
    assert_string_equal(names[2], "userPrincipalName");
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    connect_export_free(&ex);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(clauses),
        cmocka_unit_test(out_of_box_blocks_every_user),
        cmocka_unit_test(clearing_rule_by_precedence),
        cmocka_unit_test(user_type_flow),
        cmocka_unit_test(ou_filter_misses_users),
        cmocka_unit_test(anchor),
        cmocka_unit_test(mail_and_server),
        cmocka_unit_test(scope_attributes),
    };
    return cmocka_run_group_tests_name("connect_judge", tests, NULL, NULL);
}
