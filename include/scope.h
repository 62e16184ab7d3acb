/* scope.h - which AD objects dualsync reads: pure code, no LDAP.
 *
 * The scope is checked twice: as much as possible on the server (the LDAP
 * filter built here) and again on each object (OU containment, which no LDAP
 * filter can express, and tombstones, whose DN has moved to Deleted Objects). */
#ifndef DUALSYNC_SCOPE_H
#define DUALSYNC_SCOPE_H

#include "compat.h"
#include "adobject.h"

struct strbuf;

struct scope {
    char **base_dns;      size_t nbase_dns;
    char **include_ous;   size_t ninclude_ous;  /* empty: everything under the bases */
    char **exclude_ous;   size_t nexclude_ous;
    char **member_of;     size_t nmember_of;    /* group DNs; nested membership counts */
    bool classes[AD_CLASS_COUNT];
    char *filter;         /* extra LDAP filter from the config, or NULL */
};

/* Append value to out escaped per RFC 4515 §3: '*', '(', ')', '\\' and NUL become
 * \2a \28 \29 \5c \00, so that a value can never change the filter's structure. */
void ldap_filter_escape(struct strbuf *out, const char *value, size_t len);

/* The LDAP filter for live objects in scope. With since_usn > 0 only objects
 * changed after that USN, and without the group-membership clause (a delta must
 * also see objects that left a group, to report them out of scope). Caller frees. */
char *scope_filter(const struct scope *s, uint64_t since_usn);
/* The filter for tombstones (isDeleted) changed after since_usn, under showDeleted. */
char *scope_deleted_filter(const struct scope *s, uint64_t since_usn);

/* The filter for every object changed after since_usn, live or a
 * tombstone, that is of none of the scope's classes (a contact or a group
 * when classes leaves it out, a computer, an OU). Caller frees. */
char *scope_others_filter(const struct scope *s, uint64_t since_usn);

/* The class of an entry from its objectClass values, or -1 when not one we read
 * (computers are users in AD's schema and are excluded here). */
int scope_classify(char *const *object_classes, size_t n);

/* True if the object lies in the configured OUs: under one of the bases, under
 * one of include_ous if any, under none of exclude_ous. A tombstone is judged by
 * its parent_dn (lastKnownParent). */
bool scope_contains_dn(const struct scope *s, const char *dn);

void scope_clear(struct scope *s);

#endif
