/* planner.h - the policy's decisions against a tenant's mapping records → actions.
 *
 * Pure: no I/O. The records are the mapping store's (mapstore.h, struct
 * map_record, keyed by the anchor: the immutableId text); the caller reads
 * them and lends them to the planner. One planner per tenant and run:
 *     struct planner *p = planner_new(records, n);     borrows records until planner_free
 *     for each object read from AD:
 *         planner_object(p, immutable_id, cls, decision, address, &action);
 *     while (planner_next_vanished(p, &action))        records no object claimed
 *         ...
 *     planner_free(p);
 * Actions are handed back one at a time, so a caller can stream 100k of them
 * without holding the set.
 *
 * What each action means for `convert`:
 *   convert       invite the synced user (POST /invitations with invitedUser.id),
 *                 then PATCH userType if it differs from user_type
 *   set-usertype  already external: PATCH userType to user_type
 *   revert        external but now in its home tenant: make it internal again
 *                 (beta convertExternalToInternalMemberUser; only with --allow-revert)
 *   forget        stop tracking (record → gone); the cloud user is left as it is
 *   blocked       it should be converted, but what AD holds already shows that it
 *                 cannot be: no invitation address (the reason says what to fix)
 *   none          nothing to do */
#ifndef DUALSYNC_PLANNER_H
#define DUALSYNC_PLANNER_H

#include "compat.h"
#include "adobject.h"
#include "b2b_verdict.h"
#include "decision.h"
#include "mapstore.h"

enum plan_action_kind {
    PLAN_NONE, PLAN_CONVERT, PLAN_SET_USERTYPE, PLAN_REVERT, PLAN_FORGET, PLAN_BLOCKED,
    PLAN_ACTION_COUNT
};

struct plan_action {
    enum plan_action_kind kind;
    enum decision decision;        /* the policy's; for a vanished record, the recorded one */
    enum user_type user_type;      /* convert, set-usertype: the userType wanted */
    const struct map_record *record;   /* the object's record, or NULL */
    char reason[256];              /* why, in words, lowercase */
};

/* Per tenant: how many objects got each decision, and how many of each action. */
struct plan_counts {
    uint64_t decisions[DECISION_COUNT];
    uint64_t actions[PLAN_ACTION_COUNT];
};

/* "none", "convert", "set-usertype", "revert", "forget", "blocked". */
const char *plan_action_name(enum plan_action_kind k);

/* A converted user whose userType change Graph refused for that user alone
 * (an administrator-role holder, convert.h): the record stays invited or
 * accepted, with the reason MAP_REASON_USER_TYPE_BLOCKED; its last_error
 * starts with PLAN_USER_TYPE_BLOCKED, for people only (the test is the
 * reason, never the text). convert leaves such a change alone until the
 * cloud user changes or --full, as it does a blocked record. */
#define PLAN_USER_TYPE_BLOCKED "userType change blocked: "
bool planner_user_type_blocked(const struct map_record *r);

/* The policy's userTypes as the mapping file keeps them. */
enum map_user_type planner_map_user_type(enum user_type t);

struct planner;
/* records: n pointers (the array is copied, the records are borrowed). */
struct planner *planner_new(const struct map_record *const *records, size_t n);
void planner_free(struct planner *p);

/* The action for one object, found by its anchor (the immutableId text, as
 * ad_immutable_id gives it) given the policy's decision and the address an
 * invitation would name (the value of the tenant's invite_address_attribute,
 * NULL when AD has none). Marks its record, if any, as claimed. */
void planner_object(struct planner *p, const char *anchor, enum ad_class cls,
                    enum decision decision, const char *invite_address, struct plan_action *out);

/* After the last object: the next record that no object claimed (the object
 * was deleted or left the scope), in anchor order. Records already gone give
 * no action. Returns false when there are no more. */
bool planner_next_vanished(struct planner *p, struct plan_action *out);

/* Cross-tenant access (b2b_verdict.h). A record that a run blocked because
 * cross-tenant access kept the user's home tenant out is blocked with the
 * reason MAP_REASON_CROSS_TENANT_BLOCKED, which planner_cross_tenant_blocked
 * tests; its last error, for people, is planner_cross_tenant_text's "home
 * tenant NAME: cross-tenant access WHY". */
bool planner_cross_tenant_blocked(const struct map_record *r);
void planner_cross_tenant_text(char *buf, size_t size, const char *home, const char *why);

/* The verdict recorded for the object's home tenant (or NULL when none was
 * ever read; home NULL when its home is no configured tenant), applied to
 * a's action as `plan` shows it: a convert whose home is blocked becomes
 * blocked, saying who read it and how long ago (now: seconds since 1970);
 * a record blocked by cross-tenant access before whose verdict no longer
 * blocks stays a convert that says so. Returns true when the verdict was
 * used (the caller adds its why and request ids). Pure. */
bool planner_cross_tenant(struct plan_action *a, const char *home, const struct b2b_pair *v, int64_t now);

#endif
