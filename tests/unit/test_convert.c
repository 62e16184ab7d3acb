/* Unit tests for convert_check.c: the Graph-side preconditions of a
 * conversion (reference graph-api.md §1.4) and whom a refusal concerns. */
#include "compat.h"

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#include "convert.h"
#include "graph.h"

static const char *const verified[] = { "contoso.example", "fabrikam.example", NULL };

/* A synced user ready to convert: mail outside the verified domains. */
static struct graph_user ready(void)
{
    struct graph_user u;
    memset(&u, 0, sizeof(u));
    u.id = (char *)"0b1c";
    u.mail = (char *)"megan@partner.example";
    u.user_type = (char *)"Member";
    return u;
}

static const char *why(const struct graph_user *u, const char *address, char *buf, size_t size)
{
    struct convert_target t = { "gcch", u, address, "userPrincipalName", verified };
    return convert_blocked_why(&t, buf, size);
}

static void ready_user_is_not_blocked(void **state)
{
    (void)state;
    struct graph_user u = ready();
    char buf[600];
    assert_null(why(&u, "megan@partner.example", buf, sizeof(buf)));
    /* the address is compared without case, as Graph does */
    assert_null(why(&u, "Megan@Partner.Example", buf, sizeof(buf)));
}

static void on_premises_upn_blocks_first(void **state)
{
    (void)state;
    struct graph_user u = ready();
    u.on_premises_upn = (char *)"megan@corp.example";
    u.mail = NULL;   /* also wrong, but the Connect rule is named first */
    char buf[600];
    const char *w = why(&u, "megan@partner.example", buf, sizeof(buf));
    assert_non_null(w);
    assert_non_null(strstr(w, "onPremisesUserPrincipalName is set (megan@corp.example)"));
    assert_non_null(strstr(w, "change the Connect rule of tenant gcch"));
}

static void no_mail_blocks(void **state)
{
    (void)state;
    struct graph_user u = ready();
    u.mail = NULL;
    char buf[600];
    const char *w = why(&u, "megan@partner.example", buf, sizeof(buf));
    assert_non_null(w);
    assert_non_null(strstr(w, "has no mail; set mail in AD to the invitation address (megan@partner.example)"));
    /* no address from AD either: still a message, never a NULL in printf */
    w = why(&u, NULL, buf, sizeof(buf));
    assert_non_null(strstr(w, "(none)"));
}

static void verified_domain_and_subdomain_block(void **state)
{
    (void)state;
    struct graph_user u = ready();
    char buf[600];
    u.mail = (char *)"megan@contoso.example";
    assert_non_null(strstr(why(&u, "megan@contoso.example", buf, sizeof(buf)),
                           "is in a verified domain of tenant gcch"));
    u.mail = (char *)"megan@eu.Contoso.Example";
    assert_non_null(why(&u, "megan@eu.contoso.example", buf, sizeof(buf)));
    /* a longer name that merely ends the same is not a subdomain */
    u.mail = (char *)"megan@notcontoso.example";
    assert_null(why(&u, "megan@notcontoso.example", buf, sizeof(buf)));
}

static void address_must_equal_mail(void **state)
{
    (void)state;
    struct graph_user u = ready();
    char buf[600];
    const char *w = why(&u, "megan.other@partner.example", buf, sizeof(buf));
    assert_non_null(w);
    assert_non_null(strstr(w, "megan.other@partner.example (userPrincipalName) differs from the cloud "
                              "user's mail megan@partner.example"));
}

static void domain_verified_edges(void **state)
{
    (void)state;
    assert_false(convert_domain_verified(verified, NULL));
    assert_false(convert_domain_verified(verified, "no-at-sign"));
    assert_false(convert_domain_verified(NULL, "a@contoso.example"));
    assert_true(convert_domain_verified(verified, "a@b@fabrikam.example"));
    assert_false(convert_domain_verified(verified, "a@example"));
}

static enum convert_status refusal(int http, const char *code, const char *msg, bool *blocked)
{
    char remedy[400];
    enum convert_status st = convert_refusal(http, code, msg, "gcch", blocked, remedy, sizeof(remedy));
    assert_true(remedy[0] != '\0');
    return st;
}

static void refusals_of_the_tenant_stop_it(void **state)
{
    (void)state;
    bool b;
    assert_int_equal(refusal(403, "Forbidden", "Invitations are blocked for this directory due to "
                             "suspicious activity", &b), CONVERT_STOPPED);
    assert_int_equal(refusal(403, "Forbidden", "Guest invitations not allowed for your company. "
                             "Contact your company administrator for more details.", &b), CONVERT_STOPPED);
    assert_int_equal(refusal(403, "Unauthorized", "Insufficient privileges to perform requested "
                             "operation by the application '00000003-0000-0000-c000-000000000000'. "
                             "ControllerName=MSGraphInviteAPI", &b), CONVERT_STOPPED);
    assert_int_equal(refusal(401, "InvalidAuthenticationToken", "Access token has expired.", &b),
                     CONVERT_STOPPED);
    assert_false(b);
}

static void refusals_of_one_user_are_recorded(void **state)
{
    (void)state;
    bool b;
    char remedy[400];
    assert_int_equal(convert_refusal(403, "Authorization_RequestDenied", "Insufficient privileges to "
                                     "complete the operation.", "gcch", &b, remedy, sizeof(remedy)),
                     CONVERT_RECORD);
    assert_true(b);
    assert_non_null(strstr(remedy, "directory role"));
    assert_int_equal(convert_refusal(403, "Forbidden", "The invitation is blocked by the B2B "
                                     "collaboration policy.", "gcch", &b, remedy, sizeof(remedy)),
                     CONVERT_RECORD);
    assert_true(b);
    assert_non_null(strstr(remedy, "Cross-tenant access settings"));
    assert_int_equal(refusal(412, "PreconditionFailed", "converted", &b), CONVERT_RECORD);
    assert_true(b);
    /* "Invalid request input": a failure, tried again, not blocked */
    assert_int_equal(convert_refusal(400, "BadRequest", "User invitation failed. Invalid request input.",
                                     "gcch", &b, remedy, sizeof(remedy)), CONVERT_RECORD);
    assert_false(b);
    assert_non_null(strstr(remedy, "support case"));
    assert_int_equal(refusal(400, NULL, NULL, &b), CONVERT_RECORD);
    assert_false(b);
}

static enum convert_status type_refusal(int http, const char *code, const char *msg, bool stopped, bool *blocked,
                                        char remedy[400])
{
    enum convert_status st = convert_user_type_refusal(http, code, msg, stopped, "gcch", blocked, remedy, 400);
    assert_true(remedy[0] != '\0');
    return st;
}

static void refusals_of_a_user_type_change(void **state)
{
    (void)state;
    bool b;
    char remedy[400];
    /* the Graph client found the permission in the token: the user's */
    assert_int_equal(type_refusal(403, "Authorization_RequestDenied", "Insufficient privileges to complete "
                                  "the operation.", false, &b, remedy), CONVERT_RECORD);
    assert_true(b);
    assert_non_null(strstr(remedy, "administrator role"));
    assert_non_null(strstr(remedy, "--full"));
    assert_int_equal(type_refusal(403, "Forbidden", "no", false, &b, remedy), CONVERT_RECORD);
    assert_true(b);
    /* it did not (the same answer): the tenant's, whatever the wording */
    assert_int_equal(type_refusal(403, "Authorization_RequestDenied", "Insufficient privileges to complete "
                                  "the operation.", true, &b, remedy), CONVERT_STOPPED);
    assert_false(b);
    assert_non_null(strstr(remedy, "not this user"));
    assert_int_equal(type_refusal(401, "InvalidAuthenticationToken", "expired", false, &b, remedy),
                     CONVERT_STOPPED);
    assert_false(b);
    /* a 400 about the object: failed, tried again */
    assert_int_equal(type_refusal(400, "Request_BadRequest", "Unable to update the specified properties for "
                                  "on-premises mastered Directory Sync objects or objects currently undergoing "
                                  "migration.", false, &b, remedy), CONVERT_RECORD);
    assert_false(b);
    assert_non_null(strstr(remedy, "next run tries again"));
    assert_non_null(strstr(remedy, "UserType sync"));
    assert_int_equal(type_refusal(404, NULL, NULL, false, &b, remedy), CONVERT_RECORD);
    assert_false(b);
}

static const struct convert_b2b_side com = { "commercial", "3f1c6e2a-8d4b-4a7e-9c15-2b6d8e0f4a11", CLOUD_GLOBAL };
static const struct convert_b2b_side gcch = { "gcch", "7b2d9f40-1e6c-4c83-a5d2-9e0b3c7f6d22", CLOUD_USGOV_HIGH };
static const struct convert_b2b_side other = { "other", "0a0a0a0a-0000-4000-8000-000000000001", CLOUD_GLOBAL };

static void b2b_service_defaults(void **state)
{
    (void)state;
    char *clouds[] = { NULL };
    struct graph_b2b_policy p = { clouds, GRAPH_YES, GRAPH_YES, NULL, 0 };
    char why[600];
    /* the same cloud: the default allows everyone */
    assert_int_equal(convert_b2b_allowed(&p, &com, &other, true, why, sizeof(why)), GRAPH_YES);
    assert_non_null(strstr(why, "the same cloud, the default settings"));
    /* another cloud: blocked until enabled and the partner added (cross-cloud-settings) */
    assert_int_equal(convert_b2b_allowed(&p, &com, &gcch, true, why, sizeof(why)), GRAPH_NO);
    assert_non_null(strstr(why, "BLOCKED: tenant gcch (microsoftonline.us) is in another Microsoft cloud; "
                                "in tenant commercial, Cross-tenant access settings, enable it in Microsoft "
                                "cloud settings, then add tenant id 7b2d9f40"));
    /* enabled but not added */
    char *us[] = { (char *)"microsoftonline.us", NULL };
    p.clouds = us;
    assert_int_equal(convert_b2b_allowed(&p, &com, &gcch, false, why, sizeof(why)), GRAPH_NO);
    assert_non_null(strstr(why, "Cross-tenant access settings, add tenant id"));
}

static void b2b_partner_entries(void **state)
{
    (void)state;
    char *us[] = { (char *)"microsoftonline.us", NULL };
    struct graph_b2b_partner part = { (char *)"7b2d9f40-1e6c-4c83-a5d2-9e0b3c7f6d22", true, true,
                                      GRAPH_UNKNOWN, GRAPH_UNKNOWN };
    struct graph_b2b_policy p = { us, GRAPH_YES, GRAPH_NO, &part, 1 };
    char why[600];
    /* added, and inheriting: the default decides, each way */
    assert_int_equal(convert_b2b_allowed(&p, &com, &gcch, true, why, sizeof(why)), GRAPH_YES);
    assert_non_null(strstr(why, "Azure Government, enabled"));
    assert_int_equal(convert_b2b_allowed(&p, &com, &gcch, false, why, sizeof(why)), GRAPH_NO);
    assert_non_null(strstr(why, "blocks B2B collaboration outbound to gcch (the default settings)"));
    /* the entry's own setting wins over the default */
    part.inherits_inbound = false;
    part.inbound = GRAPH_NO;
    assert_int_equal(convert_b2b_allowed(&p, &com, &gcch, true, why, sizeof(why)), GRAPH_NO);
    assert_non_null(strstr(why, "(its organizational settings)"));
    part.inbound = GRAPH_UNKNOWN;
    assert_int_equal(convert_b2b_allowed(&p, &com, &gcch, true, why, sizeof(why)), GRAPH_UNKNOWN);
    assert_non_null(strstr(why, "some users or groups only"));
    /* tenant ids compare without case */
    part.tenant_id = (char *)"7B2D9F40-1E6C-4C83-A5D2-9E0B3C7F6D22";
    part.inbound = GRAPH_YES;
    assert_int_equal(convert_b2b_allowed(&p, &com, &gcch, true, why, sizeof(why)), GRAPH_YES);
    assert_string_equal(convert_cloud_endpoint(CLOUD_USGOV_DOD), "microsoftonline.us");
    assert_string_equal(convert_cloud_endpoint(CLOUD_CHINA), "partner.microsoftonline.cn");
}

/* a pair needs both sides: the resource's inbound, the home's outbound */
static void b2b_pair_both_sides(void **state)
{
    (void)state;
    char *us[] = { (char *)"microsoftonline.us", NULL }, *com_cloud[] = { (char *)"microsoftonline.com", NULL };
    struct graph_b2b_partner to_gcch = { (char *)"7b2d9f40-1e6c-4c83-a5d2-9e0b3c7f6d22", true, true,
                                         GRAPH_UNKNOWN, GRAPH_UNKNOWN };
    struct graph_b2b_partner to_com = { (char *)"3f1c6e2a-8d4b-4a7e-9c15-2b6d8e0f4a11", true, false,
                                        GRAPH_UNKNOWN, GRAPH_NO };
    struct graph_b2b_policy res = { us, GRAPH_YES, GRAPH_YES, &to_gcch, 1 };
    struct graph_b2b_policy home = { com_cloud, GRAPH_YES, GRAPH_YES, &to_com, 1 };
    struct convert_b2b_pair p;
    /* commercial lets gcch in; gcch's entry for commercial blocks going out */
    convert_b2b_pair(&res, NULL, &home, NULL, &com, &gcch, &p);
    assert_int_equal(p.verdict, B2B_BLOCKED);
    assert_false(p.resource_blocks);
    assert_true(p.home_blocks);
    assert_non_null(strstr(p.why, "BLOCKED on gcch's side (the home tenant): tenant gcch blocks B2B "
                                  "collaboration outbound to commercial (its organizational settings)"));
    assert_non_null(strstr(p.why, "allowed: tenant commercial, B2B collaboration inbound from gcch"));
    /* both sides block: both named */
    res.clouds = (char *[]){ NULL };
    convert_b2b_pair(&res, NULL, &home, NULL, &com, &gcch, &p);
    assert_true(p.resource_blocks && p.home_blocks);
    assert_non_null(strstr(p.why, "BLOCKED on both sides: commercial's (this tenant): tenant gcch "
                                  "(microsoftonline.us) is in another Microsoft cloud"));
    /* both allow */
    res.clouds = us;
    to_com.inherits_outbound = true;
    convert_b2b_pair(&res, NULL, &home, NULL, &com, &gcch, &p);
    assert_int_equal(p.verdict, B2B_ALLOWED);
    assert_false(p.resource_blocks || p.home_blocks);
    assert_non_null(strstr(p.why, "allowed: tenant commercial, B2B collaboration inbound from gcch (Azure "
                                  "Government, enabled, the default settings); tenant gcch, B2B collaboration "
                                  "outbound to commercial (Azure commercial, enabled, the default settings)"));
    /* the home's policy not read: no verdict is made up for it */
    convert_b2b_pair(&res, NULL, NULL, "no Policy.Read.All", &com, &gcch, &p);
    assert_int_equal(p.verdict, B2B_UNKNOWN);
    assert_non_null(strstr(p.why, "tenant gcch's side not read (no Policy.Read.All)"));
    /* ... but this side's block stands */
    res.clouds = (char *[]){ NULL };
    convert_b2b_pair(&res, NULL, NULL, "no token", &com, &gcch, &p);
    assert_int_equal(p.verdict, B2B_BLOCKED);
    assert_true(p.resource_blocks && !p.home_blocks);
    /* some users only, on one side: partly */
    res.clouds = us;
    to_com.inherits_outbound = false;
    to_com.outbound = GRAPH_UNKNOWN;
    convert_b2b_pair(&res, NULL, &home, NULL, &com, &gcch, &p);
    assert_int_equal(p.verdict, B2B_PARTLY);
}

static void status_names(void **state)
{
    (void)state;
    assert_string_equal(convert_status_name(CONVERT_OK), "done");
    assert_string_equal(convert_status_name(CONVERT_RECORD), "partial");
    assert_string_equal(convert_status_name(CONVERT_STOPPED), "stopped");
    assert_string_equal(convert_status_name(CONVERT_FATAL), "fatal");
    /* ordered by blast radius: a tenant's status is the worst of its parts */
    assert_true(CONVERT_OK < CONVERT_RECORD && CONVERT_RECORD < CONVERT_STOPPED
                && CONVERT_STOPPED < CONVERT_FATAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ready_user_is_not_blocked),
        cmocka_unit_test(on_premises_upn_blocks_first),
        cmocka_unit_test(no_mail_blocks),
        cmocka_unit_test(verified_domain_and_subdomain_block),
        cmocka_unit_test(address_must_equal_mail),
        cmocka_unit_test(domain_verified_edges),
        cmocka_unit_test(refusals_of_the_tenant_stop_it),
        cmocka_unit_test(refusals_of_one_user_are_recorded),
        cmocka_unit_test(refusals_of_a_user_type_change),
        cmocka_unit_test(b2b_service_defaults),
        cmocka_unit_test(b2b_partner_entries),
        cmocka_unit_test(b2b_pair_both_sides),
        cmocka_unit_test(status_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
