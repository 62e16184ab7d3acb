/* snapshot.h - AD as dualsync last read it, kept between runs, so that a run
 * reads only what changed since (a USN delta) instead of the whole scope.
 *
 * The policy decides on the whole object set (nested membership is known
 * only once every group is read; an object that was not read is gone), so a
 * delta cannot feed it alone; applied to the kept set, it gives what a full
 * read would. The file is a cache: a missing, damaged, or stale one (another
 * scope or other attributes in the configuration) costs one full read, never
 * a wrong decision. It holds names and addresses: written 0600, like the
 * mapping files.
 *
 * Calling sequence:
 *     struct snapshot *s = snapshot_new(keep, nkeep, fingerprint);
 *     rc = snapshot_load(s, path, &watermark_text);   0 loaded, 1 none usable
 *     snapshot_apply_delta(s, objs, n);               the objects of a delta
 *     snapshot_each(s, cb, ctx);                      every object, as a full read
 *     snapshot_save(s, path, watermark_text);
 *     snapshot_free(s);
 * Loaded strings point into the file's buffer and applied ones into an
 * arena: an object handed to cb lives until snapshot_free. */
#ifndef DUALSYNC_SNAPSHOT_H
#define DUALSYNC_SNAPSHOT_H

#include "compat.h"
#include "adobject.h"

struct snapshot;
struct strbuf;

/* keep: the attributes kept of each object (besides the decoded fields:
 * class, DN, GUIDs, SID, userAccountControl, uSNChanged, whenChanged), as
 * the reader spells them, case-insensitive. fingerprint: what the kept copy
 * depends on (snapshot_fingerprint); a file made for another is not used. */
struct snapshot *snapshot_new(char *const *keep, size_t nkeep, const char *fingerprint);
void snapshot_free(struct snapshot *s);

/* What the schema says of a kept attribute (name as in keep): set before a
 * delta is applied, so that its DN values follow their targets exactly.
 * Without it, the linked attributes of users, contacts and groups are
 * known by name (member, memberOf, manager, directReports, managedBy,
 * managedObjects) and any other value equal to a moved DN is taken for a
 * DN value. */
enum snapshot_syntax {
    SNAPSHOT_SYNTAX_UNKNOWN,
    SNAPSHOT_NOT_DN,
    SNAPSHOT_DN,            /* attributeSyntax 2.5.5.1 */
    SNAPSHOT_DN_LINKED,     /* and a linkID */
};
void snapshot_set_syntax(struct snapshot *s, const char *name, enum snapshot_syntax syntax);

/* The fingerprint of a scope and an attribute list (SHA-256 over both, with
 * the format's version), appended to out as hex. */
struct scope;
void snapshot_fingerprint(const struct scope *scope, char *const *keep, size_t nkeep,
                          struct strbuf *out);

/* Read path into the empty s. Returns 0 and *watermark (owned by s), or 1
 * when there is nothing usable: no file, an unreadable one (logged), another
 * fingerprint, or a damaged one (said at verbose level, or as a warning when
 * damaged). */
int snapshot_load(struct snapshot *s, const char *path, const char **watermark);

/* The objects of one delta, together: each kept (added, or replacing the
 * one with its objectGUID) or forgotten when it is a tombstone or outside
 * the scope. In the values of the kept objects the delta did not bring, AD's
 * changes that leave the referring object's uSNChanged alone are made: a
 * renamed or moved object's new DN replaces its old one in every attribute;
 * a deleted object's DN is dropped from the linked attributes (member,
 * memberOf, manager, managedBy, ...) and replaced by its tombstone's DN in
 * the other DN-valued ones (snapshot_set_syntax). The old DN is the kept one, or, for a tombstone of an object
 * never kept (a manager outside the scope), its RDN under lastKnownParent.
 * An object never kept that was renamed or moved outside the scope brings
 * no old DN: a value naming it is left as it was (snapshot_outside_names
 * says when that may matter). (Applied one by one, a delta would undo its
 * own current values: a DN freed by a deletion or a rename and taken by a
 * new object.) */
void snapshot_apply_delta(struct snapshot *s, const struct ad_object *const *objs, size_t n);

/* Before objs is applied: when it brings an object that was never kept and
 * is no tombstone (changed outside the scope, or come into it), that object
 * may have been renamed or moved from a DN the kept objects name, which the
 * delta does not tell. Then *dns gets the DNs named in linked attributes
 * (member, memberOf, manager, ...), and in other DN attributes the schema
 * named (snapshot_set_syntax; tombstones left out), that are neither a kept
 * object's nor one the delta gives: if each is still in AD, the delta is
 * exact. Returns their
 * number (0: nothing to check, *dns NULL). The caller frees *dns; its
 * strings belong to s and live until s changes. */
size_t snapshot_outside_names(const struct snapshot *s, const struct ad_object *const *objs,
                              size_t n, const char ***dns);
/* After a delta: memberOf as AD has it for the ngroups groups (DNs) the
 * delta found changed outside the copy. A membership is a link on the
 * group: adding or removing one leaves the member's uSNChanged alone, so
 * the delta brings no kept member, and memberOf values naming a group of
 * the copy (not used while it is kept, snapshot_each) surface once it
 * leaves. now: those groups as AD has them now (ldap_source_groups), with
 * their DN and member values; one deleted since is missing. Every kept
 * object loses its memberOf values naming one of the groups, then each
 * kept object a group of now names in member (by DN) gains that group's
 * DN: memberOf is member's back link. */
void snapshot_set_member_of(struct snapshot *s, const char *const *groups, size_t ngroups,
                            const struct ad_object *const *now, size_t nnow);

/* Before objs is applied: the DN now of the first object of the delta that
 * was deleted and reanimated once (ad_object.restored) and that a kept
 * object the delta does not bring names in a linked attribute (by its kept
 * DN or its DN now); NULL when there is none. AD drops an object's links
 * when it is deleted (a reanimation brings none back) and leaves the
 * referring objects' uSNChanged alone; whether that happened since the
 * copy was made no delta tells: such a delta is not exact. The string
 * belongs to objs. */
const char *snapshot_restored_named(const struct snapshot *s, const struct ad_object *const *objs,
                                    size_t n);

/* One object: a delta of one (each object of a full read into an empty copy). */
void snapshot_apply(struct snapshot *s, const struct ad_object *obj);

/* Objects kept. */
size_t snapshot_count(const struct snapshot *s);

/* Each kept object to cb, in a stable order, as a full read hands them on.
 * memberOf values naming a group that is itself kept are left out: that
 * group's member values say the same and are current, while an object's
 * memberOf may be older (a membership is a link on the group; changing it
 * leaves the member's uSNChanged alone). Stops at cb's first non-zero and
 * returns it. */
int snapshot_each(const struct snapshot *s, ad_object_cb cb, void *ctx);

/* Do a and b keep the same objects with the same values (multi-valued
 * attributes compared as sets)? If not, the first difference goes to why. */
bool snapshot_equal(const struct snapshot *a, const struct snapshot *b, struct strbuf *why);

/* Write every kept object and watermark to path atomically (0600). */
int snapshot_save(const struct snapshot *s, const char *path, const char *watermark);

#endif
