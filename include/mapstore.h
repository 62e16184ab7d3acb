/* mapstore.h - the per-tenant mapping file: what dualsync did to which object.
 *
 * One store per tenant, mappings/<tenant>.map, with three files beside it:
 * <tenant>.map.journal (changes since the last commit, written before they
 * matter), <tenant>.map.tmp-<random> (the next snapshot, while it is being
 * written: platform_atomic_open) and <tenant>.map.lock (keeps two runs off one tenant). doc/mapping-format.md
 * describes the files; the model is mbsync's sync_state.c.
 *
 * Calling sequence
 *
 *   mapstore_open()            lock, load the file, replay the journal
 *   mapstore_in_doubt()        Graph calls that may or may not have happened
 *   mapstore_find/_next()      read records
 *   mapstore_put/_mark_gone/_remove, mapstore_set_watermark/_delta_link
 *                              change records; each change is journaled
 *   mapstore_intent()          BEFORE a Graph call with a side effect; then
 *   mapstore_put()             the record with the outcome of that call
 *   mapstore_commit()          fold the journal into a new snapshot
 *   mapstore_close()           release the lock and free everything
 *
 * Crash safety: a change is in the journal when the call returns (in the OS,
 * so it survives the process being killed); an intent is also on disk (it
 * survives a power cut) before mapstore_intent returns. After a crash at any
 * point the next mapstore_open gets every change back, and mapstore_in_doubt
 * lists each anchor whose last intent has no recorded outcome: the caller must
 * read that user's state in Graph instead of doing the call again.
 *
 * Error handling
 *
 * Functions return 0 on success and -1 after logging a message that names the
 * file (and line) and the remedy. The blast radius:
 *  - mapstore_open failing means this tenant's store is unusable (corrupt,
 *    another tenant's, locked by another run, unreadable): stop this tenant.
 *    The files are left exactly as they were.
 *  - a change refused because the record is invalid (empty anchor, value out
 *    of range) is a bug in the caller; the store is unchanged and usable.
 *  - a failed journal or snapshot write is fatal: the store turns broken,
 *    every later change, intent and commit fails, so that no Graph call can be
 *    journaled and made after it. Stop the run; the next run recovers from
 *    what reached the disk.
 *
 * Memory
 *
 * The store owns every record and every string it hands out. A pointer from
 * mapstore_find, mapstore_next, mapstore_header, mapstore_in_doubt or
 * mapstore_intent_of (and every string a record points to) stays valid and
 * unchanged until mapstore_close, even after the record is put again or
 * removed: a put gives the record new strings and leaves the old ones alone.
 * A record's struct may be overwritten in place by a later put of its anchor;
 * copy the struct if the old values are needed. Strings passed in are copied;
 * strings that already belong to this store are reused, not copied, so
 * `r = *mapstore_find(..); r.state = ..; mapstore_put(.., &r)` is cheap.
 *
 * Not thread-safe: one thread uses one store. */
#ifndef DUALSYNC_MAPSTORE_H
#define DUALSYNC_MAPSTORE_H

#include "compat.h"
#include "decision.h"

#include "cloud.h"

/* What the policy decided for the object in this tenant. The words are those
 * of the config language and of the policy's enum decision (decision.h), in
 * the same order: member, external-member, external-guest, contact, exclude. */
/* The cloud user's userType as last seen or set: "", "Member", "Guest". */
enum map_user_type {
    MAP_USER_TYPE_NONE,
    MAP_USER_TYPE_MEMBER,
    MAP_USER_TYPE_GUEST,
    MAP_USER_TYPE_COUNT
};

/* Where the object stands in this tenant. */
enum map_state {
    MAP_STATE_PENDING,    /* decided, nothing done yet (or not synced yet) */
    MAP_STATE_INVITED,    /* converted to external: invitation created */
    MAP_STATE_ACCEPTED,   /* the invitation was redeemed */
    MAP_STATE_BLOCKED,    /* a precondition fails; last_error says which */
    MAP_STATE_REVERTED,   /* converted back to an internal member */
    MAP_STATE_GONE,       /* the object left AD or the scope */
    MAP_STATE_COUNT
};

/* Why the record's last error holds the object back, when dualsync must act
 * on it. It goes with the last error: whoever writes a last error writes its
 * reason, and the message text is for people only, never read back (a
 * message can be reworded; a record must keep its meaning). */
enum map_reason {
    MAP_REASON_NONE,                 /* nothing dualsync acts on (any other error, or none) */
    MAP_REASON_USER_TYPE_BLOCKED,    /* invited or accepted: Graph refused the userType change
                                        for this user alone (planner_user_type_blocked) */
    MAP_REASON_CROSS_TENANT_BLOCKED, /* blocked: cross-tenant access keeps the user's home
                                        tenant out (planner_cross_tenant_blocked) */
    MAP_REASON_COUNT
};

/* The words of the file format ("external-guest", "Guest", "invited"): static
 * strings. The parse functions return 0 and *out, or -1 for an unknown word
 * (case-sensitive: the file is written by dualsync). */
const char *map_user_type_name(enum map_user_type t);
const char *map_state_name(enum map_state s);
const char *map_reason_name(enum map_reason r);
int map_decision_parse(const char *word, enum decision *out);
int map_user_type_parse(const char *word, enum map_user_type *out);
int map_state_parse(const char *word, enum map_state *out);
int map_reason_parse(const char *word, enum map_reason *out);

/* One object in one tenant. Plain data: strings are never NULL in records the
 * store returns ("" when empty); a NULL passed to mapstore_put means "".
 * Times are UTC seconds since 1970 (written as 2024-05-01T12:00:00Z); 0 means
 * "not set". Any string may hold any bytes but NUL (tabs, newlines,
 * backslashes and non-ASCII are escaped in the file). */
struct map_record {
    const char *anchor;        /* key: the immutableId (base64 of the 16 anchor bytes) or a custom anchor */
    enum map_state state;
    enum decision decision;
    enum map_user_type user_type;
    const char *cloud_id;      /* the user's object id in the tenant, "" if not found yet */
    const char *object_guid;   /* AD objectGUID as text */
    const char *upn;
    const char *rule;          /* id of the rule that decided */
    int64_t first_change;
    int64_t last_change;
    const char *invitation_id;
    const char *dn;
    const char *last_error;
    enum map_reason reason;    /* what last_error means to dualsync (0: none); last, so
                                  that an initializer without it says none */
};

/* The file's header. */
struct map_header {
    unsigned version;          /* format version of the file read (an older one is
                                  rewritten in the current version at the next commit),
                                  or the current one for a new store */
    const char *tenant;        /* the tenant's name in the configuration */
    const char *tenant_id;
    enum cloud cloud;
    const char *watermark;     /* the source's delta position, opaque ("usn:<guid>:<n>"), "" if none */
    const char *delta_link;    /* Graph /users/delta link, "" if none */
};

/* A Graph call about to be made for one anchor: op is a word of the caller's
 * ("invite", "set-user-type", "revert"), arg what the call needs to be found
 * again (the cloud object id, the userType asked for). */
struct map_intent {
    const char *anchor;
    const char *op;
    const char *arg;
};

/* Who the store must belong to. A file or journal of another tenant, tenant
 * id or cloud is refused: it must never be used for this one. */
struct mapstore_tenant {
    const char *name;
    const char *id;
    enum cloud cloud;
};

enum mapstore_flags {
    /* plan, report, --dry-run: take no lock (see mapstore_open), remove,
     * create and write nothing, ever. Changes are allowed and kept in memory
     * only (so a dry run can go through the motions); commit writes nothing. */
    MAPSTORE_READ_ONLY = 1 << 0,
    /* a missing mapping file is a new, empty store (a tenant's first run);
     * without it a missing file is an error. */
    MAPSTORE_CREATE = 1 << 1,
};

struct mapstore;

/* Open the store at path (".../<tenant>.map") for tenant.
 *
 * For writing (no MAPSTORE_READ_ONLY): take the lock on path.lock without
 * waiting (held by another run: an error naming the lock file and its pid),
 * load the file, replay the journal (a torn last line, from a crash in the
 * middle of a write, is dropped), and finish what a crash interrupted (a
 * temporary file of an atomic write is removed, the last step of a commit is
 * done). A journal of an older format version (doc/mapping-format.md,
 * "Version 1") is folded into a snapshot of the current one at once, by a
 * commit, so that nothing is appended to it.
 *
 * MAPSTORE_READ_ONLY takes no lock: a plan or report must not fail, nor stop
 * a run, because a run holds the tenant. The snapshot is always replaced
 * atomically, and the reader checks that the file it read was still the
 * current one after it read the journal (else it reads again), so it sees
 * the state of a moment of the run, never a mix.
 *
 * Returns 0 and *out (free with mapstore_close), or -1 (*out untouched). */
int mapstore_open(const char *path, const struct mapstore_tenant *tenant, unsigned flags,
                  struct mapstore **out) ATTR_WARN_UNUSED;

/* Commit and close are separate: close without commit keeps the journal,
 * which the next open replays (nothing is lost). NULL is a no-op. */
void mapstore_close(struct mapstore *ms);

const struct map_header *mapstore_header(const struct mapstore *ms);
const char *mapstore_path(const struct mapstore *ms);
/* Number of records. */
size_t mapstore_count(const struct mapstore *ms);

/* The record of anchor, or NULL. O(1). */
const struct map_record *mapstore_find(const struct mapstore *ms, const char *anchor);

/* Iterate in file order (records new in this run at the end):
 *   size_t pos = 0; const struct map_record *r;
 *   while ((r = mapstore_next(ms, &pos))) ...
 * Changing the store while iterating is allowed: a put of an existing anchor
 * keeps its place; new records show up at the end. */
const struct map_record *mapstore_next(const struct mapstore *ms, size_t *pos);

/* Insert or replace the record of rec->anchor and journal its full image.
 * If the anchor has an open intent, this record is that intent's outcome and
 * closes it. A put that changes nothing (and closes no intent) writes
 * nothing. Returns 0, or -1: invalid record (store unchanged) or a failed
 * journal write (fatal, see above). */
int mapstore_put(struct mapstore *ms, const struct map_record *rec) ATTR_WARN_UNUSED;

/* Set the anchor's state to gone and its last change to now (UTC seconds):
 * the object left AD or the scope; the record stays, for the audit trail.
 * Returns 0, 1 if there is no such record, or -1 (failed write, fatal). */
int mapstore_mark_gone(struct mapstore *ms, const char *anchor, int64_t now) ATTR_WARN_UNUSED;

/* Forget the anchor altogether (closes its open intent). Returns 0, 1 if there
 * is no such record, or -1 (failed write, fatal). */
int mapstore_remove(struct mapstore *ms, const char *anchor) ATTR_WARN_UNUSED;

/* Journal and fsync intents, in this order, before making the Graph calls
 * they announce: when this returns 0 they are on disk. One call for a $batch
 * costs one fsync. Each anchor must have a record (put it, state pending,
 * first); an anchor's new intent replaces its open one. Returns 0, or -1:
 * unknown anchor or empty op (nothing written), or a failed write (fatal). */
int mapstore_intents(struct mapstore *ms, const struct map_intent *intents, size_t n) ATTR_WARN_UNUSED;
/* One intent: mapstore_intents(ms, &(struct map_intent){anchor, op, arg}, 1). */
int mapstore_intent(struct mapstore *ms, const char *anchor, const char *op, const char *arg) ATTR_WARN_UNUSED;

/* The open intent of anchor (no outcome recorded yet), or NULL. */
const struct map_intent *mapstore_intent_of(const struct mapstore *ms, const char *anchor);

/* The intents that were open when the store was opened (recovered from the
 * journal of a run that crashed or stopped): *list gets an array of them in
 * journal order, owned by the store. Returns their number. For each, read the
 * user's state in Graph and put the record with what it shows. */
size_t mapstore_in_doubt(const struct mapstore *ms, const struct map_intent **list);

/* Header changes, journaled like records (value NULL means ""). */
int mapstore_set_watermark(struct mapstore *ms, const char *watermark) ATTR_WARN_UNUSED;
int mapstore_set_delta_link(struct mapstore *ms, const char *link) ATTR_WARN_UNUSED;

/* Write the whole state to a new snapshot and make it the mapping file:
 * a temporary file, fsync, atomic replace, fsync of the directory
 * (platform_atomic_commit), then the journal
 * goes (or, if intents are still open, is replaced by one that holds only
 * them, so that they survive the commit). A new store's first commit writes
 * the file even if empty (it records the tenant), and a file of an older
 * format version is written again in the current one even if nothing
 * changed. Does nothing when the file exists in the current version and
 * nothing changed since it was written (it stays byte-identical), or when
 * the store is read-only. Returns 0, or -1 (fatal: the files on disk
 * are still a consistent pair, the next open recovers). */
int mapstore_commit(struct mapstore *ms) ATTR_WARN_UNUSED;

/* Test hook, as isync's -Ts: after the n-th journal step of this process
 * (each journal line written, and each step of a commit: snapshot written,
 * renamed and its directory synced, journal replaced or removed), end the
 * process at once with _exit(100), as a crash would. 0 turns it off. In the
 * test build the hook DUALSYNC_TEST_STEP_LIMIT=n does the same for the
 * binary (testhooks.h); it is read by the first mapstore_open of the
 * process. */
void mapstore_test_step_limit(long n);
/* Journal steps made so far by this process. */
long mapstore_test_steps(void);

#endif
