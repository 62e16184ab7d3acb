/* world.h - AD read, held compactly and decided per tenant: what plan,
 * explain, convert and run share.
 *
 *     struct world w;
 *     rc = world_load(&w, cfg, full, save, progress, &watermark);   (an exit code)
 *     ... objset_subject / policy_decide / planner_object per tenant ...
 *     world_free(&w);                                     also after a failed load
 *
 * The world borrows cfg (which must outlive it) and leaves it unchanged: its
 * own LDAP request (w->ldap) is cfg->ldap plus the attributes the rules and
 * the invitation addresses read and the groups the rules name. */
#ifndef DUALSYNC_WORLD_H
#define DUALSYNC_WORLD_H

#include "compat.h"

#include "config.h"

struct ldap_watermark;
struct mapstore;
struct objset;
struct planner;
struct policy;

struct world {
    const struct config *cfg;
    struct ldap_config ldap;   /* the reader's request: cfg->ldap's settings, own lists */
    struct policy *pol;
    struct objset *objs;
    char **extra;              /* invitation address attributes the policy does not read */
    size_t nextra;
};

/* Compile the rules and read every object in scope, through the copy of AD
 * kept in MAPPINGS_DIR/ad.snapshot (snapshot.h): only what changed since it
 * was written is read (a USN delta), unless full, the copy is missing or
 * unusable, or the delta cannot be exact (ldap_source.h); then AD is read in
 * full. save: write the copy back (convert and run; not plan, explain or a
 * dry run). next (may be NULL) gets the source's watermark after the read.
 * Returns EXIT_DONE, EXIT_USAGE (no tenant, bad rules) or EXIT_STOPPED (AD
 * could not be read: nothing may be written then). */
int world_load(struct world *w, const struct config *cfg, bool full, bool save, bool progress,
               struct ldap_watermark *next);
/* The same, keeping besides the n attributes keep names (check
 * --connect-config: what Connect's scoping filters read); borrowed. */
int world_load_keeping(struct world *w, const struct config *cfg, char *const *keep, size_t n,
                       bool full, bool save, bool progress, struct ldap_watermark *next);
void world_free(struct world *w);

/* The tenants to work on: all, or the one --tenant names ([*first, *end)).
 * -1 after logging an unknown name. */
int pick_tenants(const struct config *cfg, const char *name, size_t *first, size_t *end);

/* The first value of attribute attr of object i, as the world keeps it (an
 * attribute a rule reads, or one it keeps besides: each tenant's
 * invite_address_attribute, displayName), or NULL when it has none or the
 * world does not keep attr. Owned by the world. */
const char *world_first_value(const struct world *w, size_t i, const char *attr);
/* Every value of attr of object i, as above: NULL when the world does not
 * keep attr. Owned by the world. */
struct policy_values;
const struct policy_values *world_values(const struct world *w, size_t i, const char *attr);

/* The invitation's address for object i in tenant t (the value of the
 * tenant's invite_address_attribute), or NULL. Owned by the world. */
const char *invite_address(const struct world *w, size_t i, size_t t);

/* Decide object i for tenant t and plan it against the tenant's records: fills
 * s (the policy's view of the object), res, a and *address (invite_address).
 * Returns the object's immutableId text, which the caller frees. */
struct plan_action;
struct policy_result;
struct policy_subject;
char *world_plan_object(const struct world *w, struct planner *p, size_t i, size_t t,
                        struct policy_subject *s, struct policy_result *res,
                        struct plan_action *a, const char **address);

/* Where the decision came from: "rule 6 (FILE:52)", "default". */
void rule_where(const struct world *w, size_t t, int rule, char *buf, size_t size);

/* A planner over the store's records (borrowed: free the planner before
 * closing the store). */
struct planner *planner_for(const struct mapstore *ms);

#endif
