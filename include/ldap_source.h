/* ldap_source.h - read users, contacts and groups from AD DS over LDAP.
 *
 * Calling sequence:
 *     struct ldap_source *src;
 *     if (ldap_source_open(&cfg->ldap, &src))      connect, verify TLS, bind
 *         fail;
 *     ldap_source_pull(src, since, cb, ctx, &next); stream every object to cb
 *     ldap_source_close(src);
 *
 * Transport: ldaps://, or ldap:// with StartTLS; the server certificate is
 * always verified (ca_file or the system store) and there is no fallback to an
 * unverified or cleartext connection. GSSAPI over plain ldap:// is allowed
 * because SASL then signs and seals (AD's usual mode); a simple bind without
 * TLS only with the lab-only insecure_lab_cleartext switch.
 *
 * Reading: the paged-results control (RFC 2696, AD caps pages at 1000),
 * ranged retrieval of large multi-valued attributes (MS-ADTS 3.1.1.3.1.3.3,
 * "member;range=0-1499"), a delta by uSNChanged watermark, and tombstones via
 * the show-deleted control (MS-ADTS 3.1.1.3.4.1.14) so that removals are seen.
 *
 * Errors: every failure is logged once with its cause and a remedy, and the
 * function returns -1; callers must then write nothing. */
#ifndef DUALSYNC_LDAP_SOURCE_H
#define DUALSYNC_LDAP_SOURCE_H

#include "compat.h"
#include "adobject.h"

struct ldap_config;
struct ldap_source;

/* Where a delta pull starts: the DC's invocationId (a USN only means something
 * on the DC that issued it) and its highestCommittedUSN before the last pull.
 * Text form: "usn:<invocationId>:<usn>". */
struct ldap_watermark {
    char invocation_id[37];
    uint64_t usn;
};
int ldap_watermark_parse(const char *text, struct ldap_watermark *wm);
char *ldap_watermark_format(const struct ldap_watermark *wm);   /* caller frees */

struct ldap_pull_stats {
    uint64_t objects;         /* handed to the callback */
    uint64_t skipped;         /* read but outside the OU scope (full pull) */
    uint64_t deleted;         /* tombstones (delta) */
    uint64_t out_of_scope;    /* delta: changed, outside the scope now (left it, or never in it) */
    uint64_t pages;
    uint64_t ranged_fetches;  /* extra searches for "attr;range=" values */
    bool delta;               /* false: a full pull was made */
    bool watched_group_unread; /* delta: a group of cfg->watch_groups (or nested in one)
                                * changed and lies outside the scope, or a group outside
                                * the scope was deleted: memberships through it changed
                                * without a trace in the members' uSNChanged */
};


/* cfg must outlive the source. Returns 0 and *out, or -1 (logged). */
int ldap_source_open(const struct ldap_config *cfg, struct ldap_source **out);

/* since == NULL: a full pull of every object in scope. Otherwise only objects
 * changed after since: those in scope; tombstones of objects that were (deleted
 * true), and of the scope's classes elsewhere in the domain (deleted true,
 * in_scope false: a kept object may name one in a DN value); and every other
 * object of the classes changed anywhere in the domain (in_scope false, GUID
 * and DN only: it left the scope, or never was in it).
 * A full pull is made instead, and said so in stats->delta, when a delta
 * cannot be exact: the DC changed, a scoping group changed, an OU or container
 * changed (ldap_pull.c). next receives the watermark for the next delta. */
int ldap_source_pull(struct ldap_source *src, const struct ldap_watermark *since,
                     ad_object_cb cb, void *ctx, struct ldap_watermark *next,
                     struct ldap_pull_stats *stats);

/* After a delta pull from since: every object of the naming context changed
 * after since that is of none of the scope's classes (a contact or a group
 * when [ldap] classes leaves it out, a computer, ...), live or deleted (the
 * show-deleted control), handed to cb with in_scope false and its
 * objectGUID, DN, deleted, restored and parent_dn (a tombstone's
 * lastKnownParent) only. A kept object may name one in a DN value, which AD
 * changes without raising the kept object's uSNChanged. cls is its class,
 * or AD_CLASS_COUNT for none of user, contact and group. One paged search.
 * Returns 0, or -1 (logged). */
int ldap_source_pull_others(struct ldap_source *src, const struct ldap_watermark *since,
                            ad_object_cb cb, void *ctx);

/* Is each of the n DNs an object in the naming context? *missing gets the
 * first one that is not (caller frees), or NULL when all are. DNs outside
 * the naming context are not looked at. One search per 64 DNs. Returns 0,
 * or -1 (logged). */
int ldap_source_first_missing(struct ldap_source *src, const char *const *dns, size_t n,
                              char **missing);

/* The n groups (DNs) as they are now, wherever they lie in the naming
 * context, each handed to cb with its objectGUID, DN and member values
 * (ranged retrieval as a pull makes it); one that is not there (deleted
 * since) is not handed on. One search per 64 groups, by distinguishedName.
 * Returns 0, or -1 (logged). */
int ldap_source_groups(struct ldap_source *src, const char *const *groups, size_t n,
                       ad_object_cb cb, void *ctx);

/* What the schema says of each of the n attributes (lDAPDisplayName, any
 * case): kinds[i] gets LDAP_ATTR_DN for a DN (attributeSyntax 2.5.5.1),
 * LDAP_ATTR_DN_LINKED for one with a linkID (AD drops its values when their
 * target is deleted), LDAP_ATTR_NOT_DN otherwise. One search of the schema
 * partition (CN=Schema under the configuration partition that holds the
 * DC's dsServiceName). Returns 0, or -1 (logged; kinds untouched). */
enum ldap_attr_kind { LDAP_ATTR_UNKNOWN, LDAP_ATTR_NOT_DN, LDAP_ATTR_DN, LDAP_ATTR_DN_LINKED };
int ldap_source_dn_syntax(struct ldap_source *src, char *const *names, size_t n,
                          enum ldap_attr_kind *kinds);

/* Unbinds and frees; NULL is fine. */
void ldap_source_close(struct ldap_source *src);

#endif
