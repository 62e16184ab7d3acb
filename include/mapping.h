/* mapping.h - one record of a tenant's mapping file, in memory: plain data, no I/O.
 *
 * The mapping store (mapstore.h, a later module) reads and writes
 * mappings/<tenant>.map and owns the records and every string in them; the
 * planner only reads them. A record exists for each object dualsync has
 * decided to make external in that tenant, from the first plan that
 * converted it until long after it left AD (state gone), for the audit.
 *
 * Keys: object_guid is the AD identity (never changes, survives renames and
 * moves); anchor is what Entra Connect exported as the sourceAnchor (the
 * cloud user's onPremisesImmutableId is its base64), which is how the cloud
 * user is found. */
#ifndef DUALSYNC_MAPPING_H
#define DUALSYNC_MAPPING_H

#include "compat.h"
#include "decision.h"

enum mapping_state {
    MAPPING_PENDING,   /* a conversion is in flight: journaled, outcome not known yet */
    MAPPING_INVITED,   /* POST /invitations succeeded; externalUserState PendingAcceptance */
    MAPPING_ACCEPTED,  /* the user redeemed the invitation: externalUserState Accepted */
    MAPPING_BLOCKED,   /* a precondition failed; last_error names it and the remedy */
    MAPPING_REVERTED,  /* converted back to an internal member (beta convertExternalToInternalMemberUser) */
    MAPPING_GONE,      /* left AD or the scope; kept for the audit trail */
    MAPPING_STATE_COUNT
};

struct mapping_record {
    unsigned char anchor[16];      /* sourceAnchor bytes (mS-DS-ConsistencyGuid or objectGUID) */
    unsigned char object_guid[16]; /* AD objectGUID, wire order (adobject.h) */
    char *dn;                      /* DN when last seen (informative: DNs change) */
    char *cloud_id;                /* the Entra user's object id, NULL until found */
    char *upn;                     /* userPrincipalName when last seen */
    enum decision decision;        /* the decision that was acted on */
    enum user_type user_type;      /* the userType dualsync set (or found) in the tenant */
    enum mapping_state state;
    char *rule;                    /* "FILE:LINE" of the rule that decided */
    int64_t first_change;          /* Unix seconds (UTC) of the first action; 0: none */
    int64_t last_change;           /* ... and of the latest */
    char *invitation_id;           /* the invitation's id from Graph, NULL before */
    char *last_error;              /* the latest failure in words, NULL if none */
};

/* "pending", "invited", "accepted", "blocked", "reverted", "gone": the names in
 * the mapping file and in reports; never rename one. */
const char *mapping_state_name(enum mapping_state s);
int mapping_state_parse(const char *name, enum mapping_state *out);

/* True for the states in which the cloud user is (or is becoming) external. */
bool mapping_state_is_external(enum mapping_state s);

#endif
