/* decision.h - what the policy decides for one object in one tenant.
 *
 * The five outcomes a rule can give (doc/dualsync.conf.5):
 *   member           this is the object's home tenant: Connect's internal member stays
 *   external-member  convert to an external (B2B) user, userType Member
 *   external-guest   convert to an external (B2B) user, userType Guest
 *   contact          Connect syncs it as a contact; dualsync leaves it alone
 *   exclude          not dualsync's business in this tenant
 * The names are part of the config language, the mapping file and the JSON
 * output: never rename one. */
#ifndef DUALSYNC_DECISION_H
#define DUALSYNC_DECISION_H

#include "compat.h"

enum decision {
    DECISION_MEMBER,
    DECISION_EXTERNAL_MEMBER,
    DECISION_EXTERNAL_GUEST,
    DECISION_CONTACT,
    DECISION_EXCLUDE,
    DECISION_COUNT
};

/* The userType a cloud user has, or should have. */
enum user_type { USER_TYPE_NONE, USER_TYPE_MEMBER, USER_TYPE_GUEST };

/* "member", "external-member", ... (static strings). */
const char *decision_name(enum decision d);
/* The name → 0 and *out, or -1 (case-insensitive). */
int decision_parse(const char *name, enum decision *out);
/* The name of length len (not NUL-terminated) → 0 and *out, or -1. */
int decision_parse_n(const char *name, size_t len, enum decision *out);
/* True for external-member and external-guest. */
bool decision_is_external(enum decision d);
/* The userType an external decision asks for; USER_TYPE_NONE otherwise. */
enum user_type decision_user_type(enum decision d);

/* "Member", "Guest" as Graph spells them; "" for USER_TYPE_NONE. */
const char *user_type_name(enum user_type t);
int user_type_parse(const char *name, enum user_type *out);

#endif
