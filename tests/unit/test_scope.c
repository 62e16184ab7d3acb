/* Unit tests for scope.c: RFC 4515 escaping, the filters, OU containment. */
#include "compat.h"

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#include "scope.h"
#include "util.h"

static char *escape(const char *v, size_t len)
{
    struct strbuf sb = STRBUF_INIT;
    ldap_filter_escape(&sb, v, len);
    return strbuf_detach(&sb);
}

static void escapes_rfc4515_specials(void **state)
{
    (void)state;
    char *e = escape("a*b(c)d\\e", 9);
    assert_string_equal(e, "a\\2ab\\28c\\29d\\5ce");
    free(e);
    e = escape("nul\0x", 5);
    assert_string_equal(e, "nul\\00x");
    free(e);
    /* UTF-8 passes unchanged (RFC 4515 allows it as a valid UTF-8 string) */
    e = escape("Zoë Ångström", strlen("Zoë Ångström"));
    assert_string_equal(e, "Zoë Ångström");
    free(e);
}

static void escaped_dn_cannot_break_the_filter(void **state)
{
    (void)state;
    struct scope s = { 0 };
    s.classes[AD_CLASS_USER] = true;
    char *groups[] = { "CN=Sales (EU)\\, all*,OU=G,DC=corp" };
    s.member_of = groups;
    s.nmember_of = 1;
    char *f = scope_filter(&s, 0);
    assert_string_equal(f, "(&(sAMAccountType=805306368)"
                           "(memberOf:1.2.840.113556.1.4.1941:=CN=Sales \\28EU\\29\\5c, all\\2a,OU=G,DC=corp))");
    free(f);
}

static void filter_combines_classes_usn_and_extra(void **state)
{
    (void)state;
    struct scope s = { 0 };
    s.classes[AD_CLASS_USER] = s.classes[AD_CLASS_CONTACT] = s.classes[AD_CLASS_GROUP] = true;
    s.filter = "(department=*)";
    char *f = scope_filter(&s, 41);
    assert_string_equal(f, "(&(|(sAMAccountType=805306368)(objectClass=contact)(objectClass=group))"
                           "(uSNChanged>=42)(department=*))");
    free(f);
    s.filter = "company=Contoso";
    s.classes[AD_CLASS_GROUP] = s.classes[AD_CLASS_CONTACT] = false;
    f = scope_filter(&s, 0);
    assert_string_equal(f, "(&(sAMAccountType=805306368)(company=Contoso))");
    free(f);
}

static void delta_filter_leaves_out_group_clause(void **state)
{
    (void)state;
    struct scope s = { 0 };
    s.classes[AD_CLASS_USER] = true;
    char *groups[] = { "CN=G,DC=corp" };
    s.member_of = groups;
    s.nmember_of = 1;
    char *f = scope_filter(&s, 7);
    assert_string_equal(f, "(&(sAMAccountType=805306368)(uSNChanged>=8))");
    free(f);
    f = scope_deleted_filter(&s, 7);
    assert_string_equal(f, "(&(isDeleted=TRUE)(&(objectClass=user)(!(objectClass=computer)))(uSNChanged>=8))");
    free(f);
}

/* what a delta reads besides the scope's classes: everything else changed */
static void others_filter_is_the_complement(void **state)
{
    (void)state;
    struct scope s = { 0 };
    s.classes[AD_CLASS_USER] = true;
    char *f = scope_others_filter(&s, 7);
    assert_string_equal(f, "(&(uSNChanged>=8)(!(|(sAMAccountType=805306368)"
                           "(&(isDeleted=TRUE)(objectClass=user)(!(objectClass=computer))))))");
    free(f);
    s.classes[AD_CLASS_USER] = false;
    s.classes[AD_CLASS_GROUP] = true;
    f = scope_others_filter(&s, 7);
    assert_string_equal(f, "(&(uSNChanged>=8)(!(|(objectClass=group))))");
    free(f);
}

static void classify(void **state)
{
    (void)state;
    char *user[] = { "top", "person", "organizationalPerson", "user" };
    char *computer[] = { "top", "person", "organizationalPerson", "user", "computer" };
    char *contact[] = { "top", "person", "organizationalPerson", "contact" };
    char *group[] = { "top", "group" };
    char *ou[] = { "top", "organizationalUnit" };
    assert_int_equal(scope_classify(user, 4), AD_CLASS_USER);
    assert_int_equal(scope_classify(computer, 5), -1);
    assert_int_equal(scope_classify(contact, 4), AD_CLASS_CONTACT);
    assert_int_equal(scope_classify(group, 2), AD_CLASS_GROUP);
    assert_int_equal(scope_classify(ou, 2), -1);
}

static void contains_dn(void **state)
{
    (void)state;
    struct scope s = { 0 };
    char *bases[] = { "DC=corp,DC=example" };
    char *inc[] = { "OU=Contoso,DC=corp,DC=example", "OU=Defense,DC=corp,DC=example" };
    char *exc[] = { "OU=Service,OU=Contoso,DC=corp,DC=example" };
    s.base_dns = bases;
    s.nbase_dns = 1;
    assert_true(scope_contains_dn(&s, "CN=a,OU=X,DC=corp,DC=example"));
    assert_false(scope_contains_dn(&s, "CN=a,DC=other,DC=example"));
    s.include_ous = inc;
    s.ninclude_ous = 2;
    s.exclude_ous = exc;
    s.nexclude_ous = 1;
    assert_true(scope_contains_dn(&s, "CN=a,OU=US,OU=Contoso,DC=corp,DC=example"));
    assert_true(scope_contains_dn(&s, "CN=a,OU=Defense,DC=corp,DC=example"));
    assert_false(scope_contains_dn(&s, "CN=a,OU=X,DC=corp,DC=example"));
    assert_false(scope_contains_dn(&s, "CN=svc,OU=Service,OU=Contoso,DC=corp,DC=example"));
    assert_false(scope_contains_dn(&s, "CN=a,OU=NotContoso,DC=corp,DC=example"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(escapes_rfc4515_specials),
        cmocka_unit_test(escaped_dn_cannot_break_the_filter),
        cmocka_unit_test(filter_combines_classes_usn_and_extra),
        cmocka_unit_test(delta_filter_leaves_out_group_clause),
        cmocka_unit_test(others_filter_is_the_complement),
        cmocka_unit_test(classify),
        cmocka_unit_test(contains_dn),
    };
    return cmocka_run_group_tests_name("scope", tests, NULL, NULL);
}
