/* Unit tests for planner.c: every decision against every mapping state. */
#include "compat.h"

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#include "planner.h"

/* anchors as the store keeps them: immutableId text */
#define G1 "AQAAAAAAAAAAAAAAAAAAAA=="
#define G2 "AgAAAAAAAAAAAAAAAAAAAA=="
#define G3 "AwAAAAAAAAAAAAAAAAAAAA=="
#define G4 "BAAAAAAAAAAAAAAAAAAAAA=="

/* A record as mapstore hands it out: no NULL strings. */
static struct map_record rec(const char *anchor, enum map_state st, enum map_user_type ut)
{
    struct map_record r = {
        .anchor = anchor, .state = st, .user_type = ut,
        .decision = ut == MAP_USER_TYPE_GUEST ? DECISION_EXTERNAL_GUEST : DECISION_EXTERNAL_MEMBER,
        .cloud_id = "", .object_guid = "00000001-0000-0000-0000-000000000000",
        .upn = "someone@contoso.example", .rule = "dualsync.conf:42", .invitation_id = "",
        .dn = "", .last_error = "",
    };
    return r;
}

/* One object with one record (or none): the action and a piece of its reason. */
static void check(const struct map_record *r, enum ad_class cls, enum decision d,
                  const char *address, enum plan_action_kind want, enum user_type want_type,
                  const char *reason_part)
{
    struct planner *p = planner_new(&r, r ? 1 : 0);
    struct plan_action a;
    planner_object(p, G1, cls, d, address, &a);
    if (a.kind != want)
        fail_msg("%s with %s: %s (%s), want %s", decision_name(d),
                 r ? map_state_name(r->state) : "no record", plan_action_name(a.kind), a.reason,
                 plan_action_name(want));
    assert_int_equal(a.user_type, want_type);
    assert_int_equal(a.decision, d);
    assert_ptr_equal(a.record, r);
    if (!strstr(a.reason, reason_part))
        fail_msg("reason '%s' lacks '%s'", a.reason, reason_part);
    /* the object claimed its record: nothing vanished */
    assert_false(planner_next_vanished(p, &a));
    planner_free(p);
}

#define U AD_CLASS_USER
#define ADDR "someone@contoso.example"

static void no_record(void **state)
{
    (void)state;
    check(NULL, U, DECISION_EXTERNAL_MEMBER, ADDR, PLAN_CONVERT, USER_TYPE_MEMBER, "not converted yet");
    check(NULL, U, DECISION_EXTERNAL_GUEST, ADDR, PLAN_CONVERT, USER_TYPE_GUEST, "external Guest");
    check(NULL, U, DECISION_EXTERNAL_GUEST, NULL, PLAN_BLOCKED, USER_TYPE_GUEST, "no invitation address");
    check(NULL, U, DECISION_MEMBER, NULL, PLAN_NONE, USER_TYPE_NONE, "home tenant");
    check(NULL, U, DECISION_EXCLUDE, NULL, PLAN_NONE, USER_TYPE_NONE, "excluded");
    check(NULL, AD_CLASS_CONTACT, DECISION_CONTACT, NULL, PLAN_NONE, USER_TYPE_NONE, "a contact: Connect syncs it");
    check(NULL, U, DECISION_CONTACT, NULL, PLAN_NONE, USER_TYPE_NONE, "converts users to external users only");
    /* only users convert */
    check(NULL, AD_CLASS_CONTACT, DECISION_EXTERNAL_MEMBER, ADDR, PLAN_NONE, USER_TYPE_MEMBER,
          "only users can become external; this contact");
    check(NULL, AD_CLASS_GROUP, DECISION_EXTERNAL_GUEST, ADDR, PLAN_NONE, USER_TYPE_GUEST, "this group");
}

static void external_decisions(void **state)
{
    (void)state;
    struct map_record r;
    r = rec(G1, MAP_STATE_ACCEPTED, MAP_USER_TYPE_MEMBER);
    check(&r, U, DECISION_EXTERNAL_MEMBER, ADDR, PLAN_NONE, USER_TYPE_MEMBER, "already external (accepted)");
    check(&r, U, DECISION_EXTERNAL_GUEST, ADDR, PLAN_SET_USERTYPE, USER_TYPE_GUEST,
          "userType Member; the rule wants Guest");
    /* set-usertype needs no address */
    check(&r, U, DECISION_EXTERNAL_GUEST, NULL, PLAN_SET_USERTYPE, USER_TYPE_GUEST, "wants Guest");
    r = rec(G1, MAP_STATE_INVITED, MAP_USER_TYPE_GUEST);
    check(&r, U, DECISION_EXTERNAL_MEMBER, ADDR, PLAN_SET_USERTYPE, USER_TYPE_MEMBER, "(invited)");
    r = rec(G1, MAP_STATE_INVITED, MAP_USER_TYPE_NONE);
    check(&r, U, DECISION_EXTERNAL_MEMBER, ADDR, PLAN_SET_USERTYPE, USER_TYPE_MEMBER, "userType unknown");
    r = rec(G1, MAP_STATE_PENDING, MAP_USER_TYPE_MEMBER);
    check(&r, U, DECISION_EXTERNAL_MEMBER, ADDR, PLAN_CONVERT, USER_TYPE_MEMBER, "looks the user up");
    r = rec(G1, MAP_STATE_BLOCKED, MAP_USER_TYPE_MEMBER);
    r.last_error = "onPremisesUserPrincipalName is set";
    check(&r, U, DECISION_EXTERNAL_MEMBER, ADDR, PLAN_CONVERT, USER_TYPE_MEMBER,
          "blocked last time (onPremisesUserPrincipalName is set)");
    check(&r, U, DECISION_EXTERNAL_MEMBER, NULL, PLAN_BLOCKED, USER_TYPE_MEMBER, "no invitation address");
    r = rec(G1, MAP_STATE_REVERTED, MAP_USER_TYPE_MEMBER);
    check(&r, U, DECISION_EXTERNAL_GUEST, ADDR, PLAN_CONVERT, USER_TYPE_GUEST, "(412)");
    r = rec(G1, MAP_STATE_GONE, MAP_USER_TYPE_MEMBER);
    check(&r, U, DECISION_EXTERNAL_MEMBER, ADDR, PLAN_CONVERT, USER_TYPE_MEMBER, "back in AD");
}

static void user_type_refused_for_one_user(void **state)
{
    (void)state;
    /* Graph refused this user's userType change: still external, still
     * set-usertype, and the reason says it waits for a change */
    struct map_record r = rec(G1, MAP_STATE_ACCEPTED, MAP_USER_TYPE_MEMBER);
    r.last_error = PLAN_USER_TYPE_BLOCKED "setting userType Guest refused (403 Authorization_RequestDenied)";
    r.reason = MAP_REASON_USER_TYPE_BLOCKED;
    assert_true(planner_user_type_blocked(&r));
    check(&r, U, DECISION_EXTERNAL_GUEST, ADDR, PLAN_SET_USERTYPE, USER_TYPE_GUEST,
          "Graph refused it for this user last time");
    /* a home tenant again: the external user is reverted, not forgotten */
    check(&r, U, DECISION_MEMBER, ADDR, PLAN_REVERT, USER_TYPE_NONE, "external here (accepted)");
    /* a failure to try again, or a record not converted, is not marked */
    r.last_error = "setting userType Guest refused (400 Request_BadRequest)";
    r.reason = MAP_REASON_NONE;
    assert_false(planner_user_type_blocked(&r));
    check(&r, U, DECISION_EXTERNAL_GUEST, ADDR, PLAN_SET_USERTYPE, USER_TYPE_GUEST, "the rule wants Guest");
    r = rec(G1, MAP_STATE_BLOCKED, MAP_USER_TYPE_MEMBER);
    r.last_error = PLAN_USER_TYPE_BLOCKED "x";
    r.reason = MAP_REASON_USER_TYPE_BLOCKED;
    assert_false(planner_user_type_blocked(&r));
    assert_false(planner_user_type_blocked(NULL));
}

/* The record's reason field says what its last error means, never the
 * text: a message reworded by a later release (or one written by an older
 * release and read with the reason its wording had then) keeps its
 * meaning, and the old wording alone means nothing. */
static void reason_not_text(void **state)
{
    (void)state;
    struct map_record r = rec(G1, MAP_STATE_INVITED, MAP_USER_TYPE_MEMBER);
    r.reason = MAP_REASON_USER_TYPE_BLOCKED;
    r.last_error = "Graph would not change this user's userType (403 Authorization_RequestDenied)";
    assert_true(planner_user_type_blocked(&r));
    check(&r, U, DECISION_EXTERNAL_GUEST, ADDR, PLAN_SET_USERTYPE, USER_TYPE_GUEST,
          "Graph refused it for this user last time");
    r.last_error = "";
    assert_true(planner_user_type_blocked(&r));
    r.reason = MAP_REASON_NONE;
    r.last_error = PLAN_USER_TYPE_BLOCKED "setting userType Guest refused (403 Authorization_RequestDenied)";
    assert_false(planner_user_type_blocked(&r));
    check(&r, U, DECISION_EXTERNAL_GUEST, ADDR, PLAN_SET_USERTYPE, USER_TYPE_GUEST, "the rule wants Guest");
    /* the other reason is not this one */
    r.reason = MAP_REASON_CROSS_TENANT_BLOCKED;
    assert_false(planner_user_type_blocked(&r));

    struct map_record b = rec(G1, MAP_STATE_BLOCKED, MAP_USER_TYPE_MEMBER);
    b.reason = MAP_REASON_CROSS_TENANT_BLOCKED;
    b.last_error = "cross-tenant access keeps home tenant gcch out; change its outbound settings";
    assert_true(planner_cross_tenant_blocked(&b));
    struct plan_action a = { .kind = PLAN_CONVERT, .record = &b };
    assert_false(planner_cross_tenant(&a, "gcch", NULL, 0));
    assert_non_null(strstr(a.reason, "blocked last time by cross-tenant access with home tenant gcch"));
    char old[200];
    planner_cross_tenant_text(old, sizeof(old), "gcch", "BLOCKED on both sides: ...");
    b.reason = MAP_REASON_NONE;
    b.last_error = old;
    assert_false(planner_cross_tenant_blocked(&b));
    b.reason = MAP_REASON_USER_TYPE_BLOCKED;
    assert_false(planner_cross_tenant_blocked(&b));
    /* the state still counts: a record gone keeps its reason, and means nothing by it */
    b.reason = MAP_REASON_CROSS_TENANT_BLOCKED;
    b.state = MAP_STATE_GONE;
    assert_false(planner_cross_tenant_blocked(&b));
    assert_false(planner_cross_tenant_blocked(NULL));
}

static void member_decisions(void **state)
{
    (void)state;
    struct map_record r;
    enum map_state ext[] = { MAP_STATE_PENDING, MAP_STATE_INVITED, MAP_STATE_ACCEPTED };
    for (size_t i = 0; i < ARRAY_SIZE(ext); i++) {
        r = rec(G1, ext[i], MAP_USER_TYPE_GUEST);
        check(&r, U, DECISION_MEMBER, ADDR, PLAN_REVERT, USER_TYPE_NONE, "--allow-revert");
    }
    r = rec(G1, MAP_STATE_BLOCKED, MAP_USER_TYPE_GUEST);
    check(&r, U, DECISION_MEMBER, ADDR, PLAN_FORGET, USER_TYPE_NONE, "was blocked");
    r = rec(G1, MAP_STATE_REVERTED, MAP_USER_TYPE_GUEST);
    check(&r, U, DECISION_MEMBER, ADDR, PLAN_NONE, USER_TYPE_NONE, "since its revert");
    r = rec(G1, MAP_STATE_GONE, MAP_USER_TYPE_GUEST);
    check(&r, U, DECISION_MEMBER, ADDR, PLAN_NONE, USER_TYPE_NONE, "home tenant");
}

static void exclude_and_contact_decisions(void **state)
{
    (void)state;
    struct map_record r = rec(G1, MAP_STATE_ACCEPTED, MAP_USER_TYPE_GUEST);
    check(&r, U, DECISION_EXCLUDE, ADDR, PLAN_FORGET, USER_TYPE_NONE,
          "the rules exclude it here now (it was accepted)");
    check(&r, U, DECISION_CONTACT, ADDR, PLAN_FORGET, USER_TYPE_NONE, "make a contact of");
    r = rec(G1, MAP_STATE_BLOCKED, MAP_USER_TYPE_GUEST);
    check(&r, U, DECISION_EXCLUDE, ADDR, PLAN_FORGET, USER_TYPE_NONE, "(it was blocked)");
    r = rec(G1, MAP_STATE_REVERTED, MAP_USER_TYPE_GUEST);
    check(&r, U, DECISION_EXCLUDE, ADDR, PLAN_NONE, USER_TYPE_NONE, "excluded");
}

/* Records no object claims: forget, unless already gone; order-independent. */
static void vanished_records(void **state)
{
    (void)state;
    struct map_record recs[4] = {
        rec(G4, MAP_STATE_ACCEPTED, MAP_USER_TYPE_GUEST),
        rec(G2, MAP_STATE_GONE, MAP_USER_TYPE_GUEST),
        rec(G3, MAP_STATE_BLOCKED, MAP_USER_TYPE_MEMBER),
        rec(G1, MAP_STATE_INVITED, MAP_USER_TYPE_MEMBER),
    };
    const struct map_record *ptrs[4] = { &recs[0], &recs[1], &recs[2], &recs[3] };
    struct planner *p = planner_new(ptrs, 4);
    struct plan_action a;
    planner_object(p, G1, U, DECISION_EXTERNAL_MEMBER, ADDR, &a);
    assert_int_equal(a.kind, PLAN_NONE);
    assert_ptr_equal(a.record, &recs[3]);
    size_t n = 0;
    const struct map_record *seen[4];
    while (planner_next_vanished(p, &a)) {
        assert_int_equal(a.kind, PLAN_FORGET);
        assert_non_null(strstr(a.reason, "no longer read from AD"));
        assert_int_equal(a.decision, a.record->decision);
        seen[n++] = a.record;
    }
    assert_int_equal(n, 2);
    /* by GUID: G3 then G4 */
    assert_ptr_equal(seen[0], &recs[2]);
    assert_ptr_equal(seen[1], &recs[0]);
    planner_free(p);
    /* an empty mapping (the store is not there yet) */
    p = planner_new(NULL, 0);
    planner_object(p, G2, U, DECISION_EXTERNAL_GUEST, ADDR, &a);
    assert_int_equal(a.kind, PLAN_CONVERT);
    assert_null(a.record);
    assert_false(planner_next_vanished(p, &a));
    planner_free(p);
}

static void names(void **state)
{
    (void)state;
    static const char *const want[] = { "none", "convert", "set-usertype", "revert", "forget", "blocked" };
    for (int k = 0; k < PLAN_ACTION_COUNT; k++)
        assert_string_equal(plan_action_name((enum plan_action_kind)k), want[k]);
    /* the policy's words are the mapping file's (which takes them exactly) */
    for (int d = 0; d < DECISION_COUNT; d++) {
        enum decision back;
        assert_int_equal(decision_parse(decision_name((enum decision)d), &back), 0);
        assert_int_equal(back, d);
        assert_int_equal(map_decision_parse(decision_name((enum decision)d), &back), 0);
        assert_int_equal(back, d);
    }
    enum decision any;
    assert_int_equal(map_decision_parse("Member", &any), -1);
    assert_string_equal(map_user_type_name(planner_map_user_type(USER_TYPE_GUEST)), "Guest");
    assert_string_equal(map_user_type_name(planner_map_user_type(USER_TYPE_MEMBER)), "Member");
    assert_string_equal(map_user_type_name(planner_map_user_type(USER_TYPE_NONE)), "");
}

/* plan's reading of the recorded cross-tenant verdict (b2b_verdict.h) */
static void cross_tenant_verdicts(void **state)
{
    (void)state;
    struct b2b_pair v = { (char *)"gcch", (char *)"7b2d9f40-1e6c-4c83-a5d2-9e0b3c7f6d22", B2B_BLOCKED, false, true,
                          1000000, (char *)"check", (char *)"ids", (char *)"BLOCKED on gcch's side" };
    struct plan_action a = { .kind = PLAN_CONVERT };
    /* a home blocked: the conversion is blocked, with who read it and when */
    assert_true(planner_cross_tenant(&a, "gcch", &v, 1000000 + 7200));
    assert_int_equal(a.kind, PLAN_BLOCKED);
    assert_string_equal(a.reason, "home tenant gcch: cross-tenant access blocks B2B collaboration (change the home "
                                  "tenant), as read by check at 1970-01-12T13:46:40Z (2 h ago); the next run reads "
                                  "it again");
    /* no home among the tenants, or another action: nothing to say */
    a.kind = PLAN_CONVERT;
    assert_false(planner_cross_tenant(&a, NULL, &v, 0));
    a.kind = PLAN_SET_USERTYPE;
    assert_false(planner_cross_tenant(&a, "gcch", &v, 0));
    assert_int_equal(a.kind, PLAN_SET_USERTYPE);
    /* never read: no verdict made up */
    struct map_record r = rec(G1, MAP_STATE_BLOCKED, MAP_USER_TYPE_MEMBER);
    struct plan_action b = { .kind = PLAN_CONVERT, .record = NULL };
    snprintf(b.reason, sizeof(b.reason), "external Member here");
    assert_false(planner_cross_tenant(&b, "gcch", NULL, 0));
    assert_int_equal(b.kind, PLAN_CONVERT);
    assert_string_equal(b.reason, "external Member here");
    /* blocked by it before, and now let in: a convert that says so */
    char err[200];
    planner_cross_tenant_text(err, sizeof(err), "gcch", "BLOCKED on both sides: ...");
    assert_string_equal(err, "home tenant gcch: cross-tenant access BLOCKED on both sides: ...");
    r.last_error = err;
    r.reason = MAP_REASON_CROSS_TENANT_BLOCKED;
    assert_true(planner_cross_tenant_blocked(&r));
    b.record = &r;
    v.verdict = B2B_ALLOWED;
    assert_true(planner_cross_tenant(&b, "gcch", &v, 1000000 + 30));
    assert_int_equal(b.kind, PLAN_CONVERT);
    assert_non_null(strstr(b.reason, "now allowed with home tenant gcch, as read by check at "
                                     "1970-01-12T13:46:40Z (30 s ago): the next run converts it"));
    /* ... and with no verdict left: says none is recorded */
    assert_false(planner_cross_tenant(&b, "gcch", NULL, 0));
    assert_non_null(strstr(b.reason, "no verdict is recorded now"));
    /* a block for another reason is not cross-tenant access's */
    r.last_error = "the cloud user has no mail";
    r.reason = MAP_REASON_NONE;
    assert_false(planner_cross_tenant_blocked(&r));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(no_record),
        cmocka_unit_test(external_decisions),
        cmocka_unit_test(user_type_refused_for_one_user),
        cmocka_unit_test(reason_not_text),
        cmocka_unit_test(member_decisions),
        cmocka_unit_test(exclude_and_contact_decisions),
        cmocka_unit_test(vanished_records),
        cmocka_unit_test(names),
        cmocka_unit_test(cross_tenant_verdicts),
    };
    return cmocka_run_group_tests_name("planner", tests, NULL, NULL);
}
