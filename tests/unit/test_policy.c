/* Unit tests for policy.c: the three example configs of doc/examples over
 * synthetic objects shaped like the lab seed's (tests/lab/seed.py), and the
 * semantics of each predicate. Run from the top of the tree (make unit). */
#include "compat.h"

#include <setjmp.h>
#include <stdarg.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "policy.h"
#include "rules.h"
#include "util.h"

#define BASE "DC=corp,DC=example,DC=test"

/* A synthetic object: attributes as "name=value" strings (repeat a name for
 * several values), the groups it is in at any depth, its DN. */
struct obj {
    enum ad_class cls;
    bool disabled;
    const char *dn;
    const char *attrs[12];
    const char *groups[4];
};

struct subject {
    struct policy_subject s;
    struct policy_values *values;
    const char **strings;
    uint64_t *groups, *ous;
};

static void subject_make(const struct policy *pol, const struct obj *o, struct subject *out)
{
    size_t na = policy_nattrs(pol), words = policy_set_words(pol);
    out->values = xcalloc(na + 1, sizeof(*out->values));
    out->strings = xcalloc(na * 12 + 1, sizeof(*out->strings));
    out->groups = xcalloc(words + 1, sizeof(uint64_t));
    out->ous = xcalloc(words + 1, sizeof(uint64_t));
    size_t used = 0;
    for (size_t a = 0; a < na; a++) {
        const char *name = policy_attr_name(pol, a);
        size_t len = strlen(name);
        out->values[a].vals = &out->strings[used];
        for (size_t k = 0; k < ARRAY_SIZE(o->attrs) && o->attrs[k]; k++)
            if (!strncasecmp(o->attrs[k], name, len) && o->attrs[k][len] == '=') {
                out->strings[used++] = o->attrs[k] + len + 1;
                out->values[a].n++;
            }
    }
    for (size_t k = 0; k < ARRAY_SIZE(o->groups) && o->groups[k]; k++)
        for (size_t g = 0; g < policy_ngroups(pol); g++)
            if (!rules_strcasecmp(policy_group_dn(pol, g), o->groups[k]))
                out->groups[g / 64] |= 1ull << (g % 64);
    policy_ou_bits(pol, o->dn, out->ous);
    out->s.cls = o->cls;
    out->s.disabled = o->disabled;
    out->s.attrs = out->values;
    out->s.groups = out->groups;
    out->s.ous = out->ous;
}

static void subject_free(struct subject *s)
{
    free(s->values);
    free(s->strings);
    free(s->groups);
    free(s->ous);
}

static size_t tenant_index(const struct config *cfg, const char *name)
{
    const struct tenant_config *t = config_tenant(cfg, name);
    assert_non_null(t);
    return (size_t)(t - cfg->tenants);
}

/* Check one object in one tenant: the decision and, if given, a piece of the reason. */
static void want(const struct config *cfg, const struct policy *pol, const struct obj *o,
                 const char *tenant, enum decision d, const char *reason_part)
{
    struct subject s;
    subject_make(pol, o, &s);
    size_t t = tenant_index(cfg, tenant);
    struct policy_result r;
    policy_decide(pol, &s.s, t, &r);
    struct strbuf why = STRBUF_INIT;
    policy_reason(pol, &s.s, t, &r, &why);
    if (r.decision != d)
        fail_msg("%s in %s: %s by rule %d (%s), want %s", o->dn, tenant, decision_name(r.decision),
                 r.rule + 1, strbuf_str(&why), decision_name(d));
    if (reason_part && !strstr(strbuf_str(&why), reason_part))
        fail_msg("%s in %s: reason '%s' lacks '%s'", o->dn, tenant, strbuf_str(&why), reason_part);
    /* policy_decide_all agrees with policy_decide */
    struct policy_result all[CONFIG_MAX_TENANTS];
    policy_decide_all(pol, &s.s, all);
    assert_int_equal(all[t].decision, r.decision);
    assert_int_equal(all[t].rule, r.rule);
    strbuf_release(&why);
    subject_free(&s);
}

static void load_example(const char *path, struct config *cfg, struct policy **pol)
{
    if (config_load(path, cfg))
        fail_msg("%s does not load (run the tests from the top of the tree)", path);
    *pol = policy_compile(cfg);
    assert_non_null(*pol);
}

/* The people of tests/lab/seed.py, as its NAMED_USERS define them. */
#define CONTOSO(c) "OU=" c ",OU=Contoso," BASE
#define DEFENSE(c) "OU=" c ",OU=Contoso Defense," BASE
static const struct obj brian = { AD_CLASS_USER, false, "CN=Brian Carter," DEFENSE("US"),
    { "extensionAttribute1=gcch", "extensionAttribute2=us-person", "c=US",
      "userPrincipalName=brian.carter@fabrikam-defense.example", "extensionAttribute4=Employee" } };
static const struct obj fiona = { AD_CLASS_USER, false, "CN=Fiona Walsh," DEFENSE("GB"),
    { "extensionAttribute1=gcch", "extensionAttribute2=non-us-person", "c=GB",
      "userPrincipalName=fiona.walsh@fabrikam-defense.example" } };
static const struct obj rajesh = { AD_CLASS_USER, false, "CN=Rajesh Iyer," DEFENSE("US"),
    { "extensionAttribute1=gcch", "extensionAttribute2=non-us-person", "c=US",
      "userPrincipalName=rajesh.iyer@fabrikam-defense.example" } };
static const struct obj megan = { AD_CLASS_USER, false, "CN=Megan Brooks," CONTOSO("GB"),
    { "extensionAttribute1=commercial", "extensionAttribute2=us-person", "c=GB",
      "userPrincipalName=megan.brooks@contoso.example" } };
static const struct obj lukas = { AD_CLASS_USER, false, "CN=Lukas Becker," CONTOSO("DE"),
    { "extensionAttribute1=commercial", "extensionAttribute2=non-us-person", "c=DE",
      "userPrincipalName=lukas.becker@contoso.example", "extensionAttribute4=Employee" } };
static const struct obj alice = { AD_CLASS_USER, false, "CN=Alice Anderson," CONTOSO("US"),
    { "extensionAttribute1=commercial", "extensionAttribute2=us-person", "c=US",
      "userPrincipalName=alice.anderson@contoso.example", "extensionAttribute4=Employee" } };
static const struct obj hugo = { AD_CLASS_USER, false, "CN=Hugo Bonnet," CONTOSO("FR"),
    { "extensionAttribute2=non-us-person", "c=FR", "userPrincipalName=hugo.bonnet@contoso.example" } };
static const struct obj derek = { AD_CLASS_USER, true, "CN=Derek Stone," CONTOSO("US"),
    { "extensionAttribute1=commercial", "extensionAttribute2=us-person", "c=US",
      "userPrincipalName=derek.stone@contoso.example" } };
static const struct obj paula = { AD_CLASS_USER, true, "CN=Paula Grant," DEFENSE("US"),
    { "extensionAttribute1=gcch", "extensionAttribute2=us-person",
      "userPrincipalName=paula.grant@fabrikam-defense.example" } };
static const struct obj stray = { AD_CLASS_USER, false, "CN=Stray,OU=Elsewhere," BASE,
    { "extensionAttribute2=us-person", "userPrincipalName=stray@elsewhere.example" } };
static const struct obj partner = { AD_CLASS_CONTACT, false, "CN=Partner\\, Inc. Liaison,OU=Contacts,OU=Contoso," BASE,
    { "extensionAttribute1=partner", "mail=liaison0@fabrikam.example" } };
static const struct obj group = { AD_CLASS_GROUP, false, "CN=SG-Empty,OU=Groups,OU=Contoso," BASE,
    { "sAMAccountName=sg-empty" } };

static void defense_contractor(void **state)
{
    (void)state;
    struct config cfg;
    struct policy *pol;
    load_example("doc/examples/defense-contractor.conf", &cfg, &pol);
    /* every user is a member at home and external in the other tenant */
    want(&cfg, pol, &brian, "gcch", DECISION_MEMBER, "home_when of gcch (extensionAttribute1 is \"gcch\")");
    want(&cfg, pol, &brian, "commercial", DECISION_EXTERNAL_MEMBER, "home_when of gcch");
    want(&cfg, pol, &fiona, "gcch", DECISION_MEMBER, NULL);
    want(&cfg, pol, &fiona, "commercial", DECISION_EXTERNAL_MEMBER, NULL);
    want(&cfg, pol, &megan, "commercial", DECISION_MEMBER, NULL);
    want(&cfg, pol, &lukas, "commercial", DECISION_MEMBER, NULL);
    /* in GCC High the US-person flag decides, not the office */
    want(&cfg, pol, &megan, "gcch", DECISION_EXTERNAL_MEMBER, "extensionAttribute2 is \"us-person\"");
    want(&cfg, pol, &alice, "gcch", DECISION_EXTERNAL_MEMBER, NULL);
    want(&cfg, pol, &lukas, "gcch", DECISION_EXTERNAL_GUEST, "class is user");
    want(&cfg, pol, &rajesh, "gcch", DECISION_MEMBER, NULL);
    want(&cfg, pol, &rajesh, "commercial", DECISION_EXTERNAL_MEMBER, NULL);
    /* no extensionAttribute1: the UPN suffix places him */
    want(&cfg, pol, &hugo, "commercial", DECISION_MEMBER,
         "extensionAttribute1 is not set; userPrincipalName is \"hugo.bonnet@contoso.example\"");
    want(&cfg, pol, &hugo, "gcch", DECISION_EXTERNAL_GUEST, NULL);
    /* disabled: still a member at home, not converted elsewhere */
    want(&cfg, pol, &derek, "commercial", DECISION_MEMBER, NULL);
    want(&cfg, pol, &derek, "gcch", DECISION_EXCLUDE, "the account is disabled");
    want(&cfg, pol, &paula, "commercial", DECISION_EXCLUDE, NULL);
    /* nobody claims it: nowhere */
    want(&cfg, pol, &stray, "commercial", DECISION_EXCLUDE, "no tenant's home_when matches");
    want(&cfg, pol, &stray, "gcch", DECISION_EXCLUDE, NULL);
    want(&cfg, pol, &partner, "commercial", DECISION_CONTACT, "class is contact");
    want(&cfg, pol, &partner, "gcch", DECISION_CONTACT, NULL);
    want(&cfg, pol, &group, "gcch", DECISION_EXCLUDE, "class is group");

    /* the rule behind a result, as written */
    struct subject s;
    subject_make(pol, &megan, &s);
    size_t t = tenant_index(&cfg, "gcch");
    struct policy_result r;
    policy_decide(pol, &s.s, t, &r);
    const struct tenant_rule *rule = policy_rule(pol, t, r.rule);
    assert_string_equal(rule->text, "extensionAttribute2 = us-person -> external-member");
    assert_true(rule->line > 0);
    struct strbuf home = STRBUF_INIT;
    assert_false(policy_is_home(pol, &s.s, t, &home));
    assert_true(policy_is_home(pol, &s.s, tenant_index(&cfg, "commercial"), NULL));
    strbuf_release(&home);
    subject_free(&s);
    policy_free(pol);
    config_free(&cfg);
}

#define GROUPS "OU=Groups,OU=Contoso," BASE
static void mesh(void **state)
{
    (void)state;
    struct config cfg;
    struct policy *pol;
    load_example("doc/examples/mesh-four-subsidiaries.conf", &cfg, &pol);
    assert_int_equal(policy_ntenants(pol), 4);
    const struct obj emp = { AD_CLASS_USER, false, "CN=Anna,OU=DE,OU=Contoso," BASE,
        { "extensionAttribute1=fabrikam", "extensionAttribute4=Employee", "sAMAccountName=anna.mueller" } };
    const struct obj contractor = { AD_CLASS_USER, false, "CN=Carl,OU=US,OU=Contoso," BASE,
        { "extensionAttribute1=northwind", "extensionAttribute4=Contractor", "sAMAccountName=carl" } };
    const struct obj intern = { AD_CLASS_USER, false, "CN=Ivy,OU=US,OU=Contoso," BASE,
        { "userPrincipalName=ivy@TailspinToys.example", "extensionAttribute4=Intern", "sAMAccountName=ivy" } };
    const struct obj svc = { AD_CLASS_USER, false, "CN=svc-backup,OU=US,OU=Contoso," BASE,
        { "extensionAttribute1=contoso", "sAMAccountName=SVC-backup" } };
    const struct obj optout = { AD_CLASS_USER, false, "CN=Olga,OU=SE,OU=Contoso," BASE,
        { "extensionAttribute1=contoso", "extensionAttribute4=Employee", "sAMAccountName=olga" },
        { "CN=SG-Mesh-Opt-Out," GROUPS } };
    const struct obj hr_excluded = { AD_CLASS_USER, false, "CN=Xavier,OU=FR,OU=Contoso," BASE,
        { "extensionAttribute1=contoso", "extensionAttribute13=Excluded", "sAMAccountName=xavier" } };
    const struct obj contact = { AD_CLASS_CONTACT, false, "CN=Partner,OU=Contacts,OU=Contoso," BASE,
        { "extensionAttribute1=partner" } };

    want(&cfg, pol, &emp, "fabrikam", DECISION_MEMBER, NULL);
    want(&cfg, pol, &emp, "contoso", DECISION_EXTERNAL_MEMBER, "no rule matched");
    want(&cfg, pol, &emp, "tailspin", DECISION_EXTERNAL_MEMBER, NULL);
    want(&cfg, pol, &contractor, "northwind", DECISION_MEMBER, NULL);
    want(&cfg, pol, &contractor, "contoso", DECISION_EXTERNAL_GUEST, "extensionAttribute4 is \"Contractor\"");
    /* the UPN suffix matches whatever its case */
    want(&cfg, pol, &intern, "tailspin", DECISION_MEMBER, NULL);
    want(&cfg, pol, &intern, "fabrikam", DECISION_EXCLUDE, "extensionAttribute4 is \"Intern\"");
    /* service accounts stay home (regex, case-insensitive) */
    want(&cfg, pol, &svc, "contoso", DECISION_MEMBER, NULL);
    want(&cfg, pol, &svc, "northwind", DECISION_EXCLUDE, "sAMAccountName is \"SVC-backup\"");
    want(&cfg, pol, &optout, "fabrikam", DECISION_EXCLUDE, "is a member (at any depth) of \"CN=SG-Mesh-Opt-Out");
    want(&cfg, pol, &hr_excluded, "fabrikam", DECISION_EXCLUDE, "extensionAttribute13 is \"Excluded\"");
    want(&cfg, pol, &contact, "contoso", DECISION_EXCLUDE, "class is contact");
    want(&cfg, pol, &stray, "contoso", DECISION_EXCLUDE, "no tenant's home_when matches");
    policy_free(pol);
    config_free(&cfg);
}

static void single_resource_tenant(void **state)
{
    (void)state;
    struct config cfg;
    struct policy *pol;
    load_example("doc/examples/single-resource-tenant.conf", &cfg, &pol);
    const struct obj badge = { AD_CLASS_USER, false, "CN=Bea,OU=IN,OU=Contoso," BASE,
        { "extensionAttribute1=commercial" }, { "CN=SG-All-Staff-Badge-Access," GROUPS } };
    const struct obj nobadge = { AD_CLASS_USER, false, "CN=Ned,OU=IN,OU=Contoso," BASE,
        { "extensionAttribute1=commercial" } };
    want(&cfg, pol, &lukas, "resource", DECISION_EXTERNAL_MEMBER, "extensionAttribute4 is \"Employee\"");
    want(&cfg, pol, &brian, "resource", DECISION_EXCLUDE, "is under \"OU=Contoso Defense," BASE "\"");
    want(&cfg, pol, &derek, "resource", DECISION_EXCLUDE, "the account is disabled");
    want(&cfg, pol, &badge, "resource", DECISION_EXTERNAL_MEMBER, "is a member (at any depth) of");
    want(&cfg, pol, &nobadge, "resource", DECISION_EXCLUDE, "no rule matched");
    want(&cfg, pol, &partner, "resource", DECISION_CONTACT, NULL);
    want(&cfg, pol, &group, "resource", DECISION_EXCLUDE, NULL);
    const struct obj contractor = { AD_CLASS_USER, false, "CN=C,OU=US,OU=Contoso," BASE,
        { "extensionAttribute4=contractor" } };
    want(&cfg, pol, &contractor, "resource", DECISION_EXTERNAL_GUEST, NULL);
    policy_free(pol);
    config_free(&cfg);
}

/* ------------------------------------------------- predicates one by one */

static char conf_path[] = "/tmp/dualsync-test-policy-XXXXXX";

static void load_rules(const char *rules, struct config *cfg, struct policy **pol)
{
    int fd = mkstemp(conf_path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "[ldap]\nuri = ldaps://dc1\nbase_dn = " BASE "\n"
               "[tenant a]\ncloud = global\n"
               "tenant_id = 6f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b\n"
               "client_id = 6f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b\n"
               "client_secret_file = /nonexistent\n"
               "home_when = extensionAttribute1 = a\n%s\n"
               "[tenant b]\ncloud = global\n"
               "tenant_id = 6f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4c\n"
               "client_id = 6f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4c\n"
               "client_secret_file = /nonexistent\n"
               "home_when = extensionAttribute1 = b\n"
               "default = exclude\n", rules);
    fclose(f);
    if (config_load(conf_path, cfg))
        fail_msg("rules do not load:\n%s", rules);
    unlink(conf_path);
    memcpy(conf_path + strlen(conf_path) - 6, "XXXXXX", 6);
    *pol = policy_compile(cfg);
    assert_non_null(*pol);
}

static void predicates(void **state)
{
    (void)state;
    struct config cfg;
    struct policy *pol;
    load_rules("rule = mail ends-with \"@Contoso.example\" and c in (US, ca, \"DE\") -> external-member\n"
               "rule = proxyAddresses starts-with smtp: and department != Sales -> external-guest\n"
               "rule = home b or (title matches '^(vp|chief) ' and enabled) -> contact\n"
               "rule = homeless and class in (user, group) and under \"OU=X, " BASE "\" -> member\n"
               "rule = has employeeID -> exclude\n"
               "default = member\n", &cfg, &pol);
    /* multi-valued: any value; case-insensitive; sorted `in` */
    const struct obj o1 = { AD_CLASS_USER, false, "CN=1,OU=X," BASE,
        { "mail=x@CONTOSO.EXAMPLE", "c=CA" } };
    want(&cfg, pol, &o1, "a", DECISION_EXTERNAL_MEMBER, "mail is \"x@CONTOSO.EXAMPLE\"; c is \"CA\"");
    const struct obj o2 = { AD_CLASS_USER, false, "CN=2,OU=X," BASE,
        { "mail=x@contoso.example", "c=FR", "proxyAddresses=X500:/o=ex", "proxyAddresses=SMTP:x@y" } };
    /* != is true when the attribute is missing */
    want(&cfg, pol, &o2, "a", DECISION_EXTERNAL_GUEST, "department is not set");
    const struct obj o3 = { AD_CLASS_USER, false, "CN=3,OU=X," BASE,
        { "proxyAddresses=smtp:x@y", "department=sales", "title=VP Sales" } };
    want(&cfg, pol, &o3, "a", DECISION_CONTACT, "title is \"VP Sales\"");
    const struct obj o4 = { AD_CLASS_USER, true, "CN=4,OU=X," BASE, { "title=VP Sales" } };
    want(&cfg, pol, &o4, "a", DECISION_MEMBER, "is under \"OU=X," BASE "\"");
    const struct obj o5 = { AD_CLASS_CONTACT, false, "CN=5,OU=X," BASE, { "extensionAttribute1=b" } };
    want(&cfg, pol, &o5, "a", DECISION_CONTACT, "home_when of b (extensionAttribute1 is \"b\")");
    const struct obj o6 = { AD_CLASS_CONTACT, false, "CN=6,OU=Y," BASE, { "employeeID=E1" } };
    want(&cfg, pol, &o6, "a", DECISION_EXCLUDE, "employeeID is \"E1\"");
    const struct obj o7 = { AD_CLASS_CONTACT, false, "CN=7,OU=Y," BASE, { "c=US" } };
    want(&cfg, pol, &o7, "a", DECISION_MEMBER, "no rule matched");
    /* under is RDN-wise: OU=XY is not under OU=X */
    const struct obj o8 = { AD_CLASS_USER, false, "CN=8,OU=XY," BASE, { "c=US" } };
    want(&cfg, pol, &o8, "a", DECISION_MEMBER, "no rule matched");

    /* the trace: every rule up to the deciding one, with what it read */
    struct subject s;
    subject_make(pol, &o3, &s);
    struct strbuf all = STRBUF_INIT;
    void on_rule(int rule, bool matched, const char *reads, void *ctx);
    policy_trace(pol, &s.s, 0, on_rule, &all);
    assert_string_equal(all.buf,
        "1 no: mail ends-with @Contoso.example: no (mail is not set)\n"
        "2 no: proxyAddresses starts-with smtp:: yes (proxyAddresses is \"smtp:x@y\"); "
        "department != Sales: no (department is \"sales\")\n"
        "3 yes: home b: no (no tenant's home_when matches); title matches \"^(vp|chief) \": yes "
        "(title is \"VP Sales\"); enabled: yes (the account is enabled)\n");
    strbuf_release(&all);
    subject_free(&s);
    policy_free(pol);
    config_free(&cfg);
}

/* A condition tree that did not come through the parser meets the same regex
 * bounds before regcomp ('(.*){1,32000}' took 23.7 GB there, issue 15; this
 * one is cheap to compile, so only the bounds can refuse it). */
static void regex_bounds_before_regcomp(void **state)
{
    (void)state;
    struct config cfg;
    struct policy *pol;
    load_rules("rule = title matches '^vp' -> member", &cfg, &pol);
    policy_free(pol);
    struct cond *c = cfg.tenants[0].rules[0].cond;
    assert_int_equal(c->op, COND_MATCH);
    free(c->values[0]);
    c->values[0] = xstrdup("^x{1,101}$");
    assert_null(policy_compile(&cfg));
    config_free(&cfg);
}

void on_rule(int rule, bool matched, const char *reads, void *ctx)
{
    strbuf_addf(ctx, "%d %s: %s\n", rule + 1, matched ? "yes" : "no", reads);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defense_contractor),
        cmocka_unit_test(mesh),
        cmocka_unit_test(single_resource_tenant),
        cmocka_unit_test(predicates),
        cmocka_unit_test(regex_bounds_before_regcomp),
    };
    return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
