/* objset.h - the pulled objects, held compactly for plan and explain: pure, no LDAP.
 *
 * `plan` needs every object in memory at once (nested group membership is
 * only known after the last group was read), so it keeps what the rules and
 * the output need and nothing else: class, disabled, objectGUID, the anchor,
 * DN, sAMAccountName, userPrincipalName, mail, and the values of the
 * attributes the policy reads plus a few extra ones the caller names (the
 * invitation's address attribute). Strings live in one arena.
 *
 * Calling sequence:
 *     struct objset *s = objset_new(pol, extra, nextra);   pol must outlive s
 *     objset_add(s, obj);          from the reader's callback (obj is copied)
 *     objset_finish(s);            once: nested groups and OU bits
 *     objset_subject(s, i, &subject); policy_decide(...)   for i < objset_count(s)
 *     objset_free(s);
 *
 * Attributes the reader decodes instead of passing on as text can still be
 * named in rules: distinguishedName, objectGUID (text form), objectSid,
 * userAccountControl (decimal), whenChanged. */
#ifndef DUALSYNC_OBJSET_H
#define DUALSYNC_OBJSET_H

#include "compat.h"
#include "adobject.h"
#include "policy.h"

struct strbuf;
struct objset;

struct objset_entry {
    enum ad_class cls;
    bool disabled;
    bool anchor_from_consistency_guid;
    unsigned char guid[16];           /* objectGUID */
    unsigned char anchor[16];         /* what Connect exports as the sourceAnchor */
    const char *dn;
    const char *sam;                  /* NULL when not set (contacts have none) */
    const char *upn;
    const char *mail;
    struct policy_values *attrs;      /* policy_nattrs(pol) + nextra entries */
    const uint64_t *groups;           /* set by objset_finish */
    const uint64_t *ous;
    uint32_t node;                    /* in the membership graph */
};

/* extra: attribute names kept beyond the policy's (copied). */
struct objset *objset_new(const struct policy *pol, char *const *extra, size_t nextra);
void objset_free(struct objset *s);

/* Keep a copy of obj, and its memberships (a group's member values, an
 * object's memberOf). Tombstones and objects out of scope are ignored. */
void objset_add(struct objset *s, const struct ad_object *obj);

/* Resolve nested membership for the policy's groups and the OU bits. Call once
 * after the last objset_add. Logs a warning for each group the rules name that
 * was not seen in AD (a typo, or outside the scope). */
void objset_finish(struct objset *s);

size_t objset_count(const struct objset *s);
const struct objset_entry *objset_get(const struct objset *s, size_t i);
/* The policy's view of entry i. */
void objset_subject(const struct objset *s, size_t i, struct policy_subject *out);
/* Extra attribute k (as passed to objset_new) of entry i. */
const struct policy_values *objset_extra(const struct objset *s, size_t i, size_t k);

/* Entries matching who: objectGUID text, a DN, a userPrincipalName or mail
 * (anything with '@'), else a sAMAccountName; all case-insensitive. Stores up
 * to max indices in found and returns how many matched in total. */
size_t objset_find(const struct objset *s, const char *who, size_t *found, size_t max);

/* How entry i is a member of the policy's group g: "A > B > C" appended to out. */
bool objset_group_path(const struct objset *s, size_t i, size_t g, struct strbuf *out);

/* Bytes held, for a memory figure in verbose output. */
size_t objset_bytes(const struct objset *s);

#endif
