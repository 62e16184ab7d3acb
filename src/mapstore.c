/* mapstore.c - the per-tenant mapping store: records in memory with a hash
 * index, the files (snapshot, journal, lock), recovery and commit.
 *
 * The model is mbsync's sync_state.c: a text snapshot replaced atomically, a
 * journal of every change since, replayed after a crash, and an intent
 * written to disk before every side effect (its TUIDs). Journal entries are
 * full images (or removals), so replaying is simple and deterministic. The
 * snapshot carries a generation and the journal the generation it applies
 * to: a journal one generation behind is the stale one a crash between the
 * rename of a snapshot and the removal of its journal leaves (mbsync tells
 * the two apart by the .new file instead).
 * doc/mapping-format.md has the format and the crash discipline.
 *
 * Memory: the snapshot and the journal are each read into one buffer, split
 * and unescaped in place; loaded records point into those buffers. Strings
 * of records put later are copied into an arena. Nothing is freed before
 * mapstore_close, so every pointer handed out stays valid until then. */
#include "compat.h"

#include <limits.h>
#include <stdarg.h>
#include <strings.h>

#include "log.h"
#include "mapstore_p.h"
#include "platform.h"
#include "testhooks.h"
#include "util.h"

/* Records live in fixed chunks, so that a record's address never changes. */
#define CHUNK_BITS 14
#define CHUNK_SIZE ((size_t)1 << CHUNK_BITS)

struct rec {
    struct map_record r;
    uint32_t intent;          /* 1 + index into ms->intents of the open intent, 0 if none */
    bool dead;                /* removed: skipped, and no longer in the index */
    bool plain;               /* no string needs escaping: written with memcpy */
};

struct intent_entry {
    struct map_intent in;
    size_t rec;               /* the record it belongs to */
};

struct mapstore {
    char *path, *journal_path, *lock_path;
    unsigned flags;
    struct mapstore_tenant expect;
    struct map_header header;

    struct rec **chunks;
    size_t nchunks, nchunks_alloc;
    size_t nrecs;             /* records made, dead ones included */
    size_t live;

    uint64_t *slots;          /* open addressing, linear probing: see SLOT() */
    size_t mask;

    struct intent_entry **intents;
    size_t nintents, intents_alloc;
    struct map_intent *in_doubt;
    size_t nin_doubt, in_doubt_alloc;

    struct arena strings;     /* strings of records put, of intents and headers */
    char **buffers;           /* file texts that records point into */
    size_t nbuffers, buffers_alloc;

    struct platform_lock *lock;
    struct platform_file *journal;   /* open for appending, or NULL */
    bool map_exists;          /* the snapshot is on disk */
    bool journal_exists;      /* a journal is on disk (so the snapshot is behind) */
    uint64_t journal_good;    /* length of its complete lines (a torn tail is cut) */
    bool journal_stale;       /* the journal is the previous snapshot's (see load) */
    unsigned journal_version; /* of the journal read (0: none, or only a torn version line) */
    bool broken;              /* a write failed: refuse every change */
    uint64_t generation;      /* of the snapshot on disk (0: none); its journal carries it */

    /* where the text being parsed comes from, for messages */
    const char *cur_file;
    size_t cur_line;
};

/* ---- test hook: crash after journal step N ---------------------------- */

static long step_limit, steps;
static bool step_env_read;

void mapstore_test_step_limit(long n)
{
    step_limit = n;
    step_env_read = true;
}

long mapstore_test_steps(void)
{
    return steps;
}

/* One durable step is done: a journal line is in the file, or a commit
 * step is complete. The crash test ends the process here, at every N. */
static void step(void)
{
    steps++;
    if (step_limit > 0 && steps >= step_limit) {
        fflush(stderr);
        _Exit(100);   /* no atexit handlers, no stdio flush: like a kill */
    }
}

/* ---- strings --------------------------------------------------------- */

static const char *store_strdup(struct mapstore *ms, const char *s)
{
    if (!s || !*s)
        return "";
    return arena_strndup(&ms->strings, s, strlen(s));
}

static void keep_buffer(struct mapstore *ms, char *buf)
{
    GROW(ms->buffers, ms->buffers_alloc, ms->nbuffers + 1);
    ms->buffers[ms->nbuffers++] = buf;
}

/* ---- records and the index -------------------------------------------- */

static inline struct rec *rec_at(const struct mapstore *ms, size_t i)
{
    return &ms->chunks[i >> CHUNK_BITS][i & (CHUNK_SIZE - 1)];
}

static uint32_t hash_anchor(const char *s, size_t len)
{
    /* 8 bytes at a time, multiply and fold: anchors are ~24 bytes */
    uint64_t h = 0x9e3779b97f4a7c15u ^ len;
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdu;
        h ^= h >> 32;
        s += 8;
        len -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, s, len);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53u;
    h ^= h >> 29;
    return (uint32_t)h ^ (uint32_t)(h >> 32);
}

/* A slot of the index holds the anchor's hash in its high 32 bits and
 * 1 + the record number in its low 32 (0: empty), so that a probe that
 * meets another anchor rarely has to look at its record (a cache miss). */
#define SLOT(hash, recno) (((uint64_t)(hash) << 32) | (uint64_t)((recno) + 1))
#define SLOT_HASH(s) ((uint32_t)((s) >> 32))
#define SLOT_REC(s) ((size_t)((s) & 0xffffffffu) - 1)

/* The slot that holds anchor, or the empty slot where it would go. */
static size_t index_slot(const struct mapstore *ms, const char *anchor, uint32_t hash)
{
    for (size_t i = hash & ms->mask;; i = (i + 1) & ms->mask) {
        uint64_t s = ms->slots[i];
        if (!s)
            return i;
        if (SLOT_HASH(s) == hash && !strcmp(rec_at(ms, SLOT_REC(s))->r.anchor, anchor))
            return i;
    }
}

/* Room for `want` anchors at a load factor of at most 1/2. */
static void index_resize(struct mapstore *ms, size_t want)
{
    size_t cap = 64;
    while (cap < 2 * want)
        cap *= 2;
    if (ms->slots && cap <= ms->mask + 1)
        return;
    uint64_t *old = ms->slots;
    size_t old_cap = old ? ms->mask + 1 : 0;
    ms->slots = xcalloc(cap, sizeof(*ms->slots));
    ms->mask = cap - 1;
    for (size_t i = 0; i < old_cap; i++) {
        if (!old[i])
            continue;
        size_t j = SLOT_HASH(old[i]) & ms->mask;
        while (ms->slots[j])
            j = (j + 1) & ms->mask;
        ms->slots[j] = old[i];
    }
    free(old);
}

static struct rec *find_rec(const struct mapstore *ms, const char *anchor, size_t *recno)
{
    if (!ms->live)
        return NULL;
    uint64_t s = ms->slots[index_slot(ms, anchor, hash_anchor(anchor, strlen(anchor)))];
    if (!s)
        return NULL;
    if (recno)
        *recno = SLOT_REC(s);
    return rec_at(ms, SLOT_REC(s));
}

/* Call before index_slot when the anchor may be new: a resize would move
 * the slot that index_slot returns. */
static void index_reserve(struct mapstore *ms)
{
    if (2 * (ms->live + 1) > ms->mask + 1)
        index_resize(ms, ms->live + 1);
}

/* A new record at the end, filed in the empty slot that index_slot gave
 * (after index_reserve). */
static struct rec *append_rec(struct mapstore *ms, uint32_t hash, size_t slot)
{
    if (ms->nrecs >= UINT32_MAX - 1)
        die("%s: more than 4 billion records", ms->path);
    if ((ms->nrecs >> CHUNK_BITS) >= ms->nchunks) {
        GROW(ms->chunks, ms->nchunks_alloc, ms->nchunks + 1);
        ms->chunks[ms->nchunks++] = xmalloc(CHUNK_SIZE * sizeof(struct rec));
    }
    size_t n = ms->nrecs++;
    struct rec *r = rec_at(ms, n);
    memset(r, 0, sizeof(*r));
    ms->slots[slot] = SLOT(hash, n);
    ms->live++;
    return r;
}

static void index_delete(struct mapstore *ms, size_t slot)
{
    /* backward-shift deletion keeps linear probing free of tombstones */
    size_t i = slot;
    ms->slots[i] = 0;
    for (size_t j = (i + 1) & ms->mask; ms->slots[j]; j = (j + 1) & ms->mask) {
        size_t home = SLOT_HASH(ms->slots[j]) & ms->mask;
        /* move j back to i unless its home lies cyclically in (i, j] */
        if (((j - home) & ms->mask) >= ((j - i) & ms->mask)) {
            ms->slots[i] = ms->slots[j];
            ms->slots[j] = 0;
            i = j;
        }
    }
}

static bool record_plain(const struct map_record *r)
{
    const char *s[] = { r->anchor, r->cloud_id, r->object_guid, r->upn, r->rule,
                        r->invitation_id, r->dn, r->last_error };
    for (size_t i = 0; i < ARRAY_SIZE(s); i++)
        if (map_needs_escape(s[i], strlen(s[i])))
            return false;
    return true;
}

static bool same_str(const char *a, const char *b)
{
    return !strcmp(a ? a : "", b ? b : "");
}

/* a: a record of the store; b: one passed in (NULL strings mean "") */
static bool same_record(const struct map_record *a, const struct map_record *b)
{
    return a->state == b->state && a->reason == b->reason && a->decision == b->decision &&
           a->user_type == b->user_type &&
           a->first_change == b->first_change && a->last_change == b->last_change &&
           same_str(a->anchor, b->anchor) && same_str(a->cloud_id, b->cloud_id) &&
           same_str(a->object_guid, b->object_guid) && same_str(a->upn, b->upn) &&
           same_str(a->rule, b->rule) && same_str(a->invitation_id, b->invitation_id) &&
           same_str(a->dn, b->dn) && same_str(a->last_error, b->last_error);
}

/* ---- messages ---------------------------------------------------------- */

#define REMEDY_CORRUPT "restore the file from a backup or repair that line (dualsync did not change it)"

static int parse_error(const struct mapstore *ms, const char *fmt, ...) ATTR_PRINTF(2, 3);
static int parse_error(const struct mapstore *ms, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return log_error("%s:%zu: %s", ms->cur_file, ms->cur_line, what);
}

/* The store cannot be trusted to match the disk any more. */
static int broken(struct mapstore *ms)
{
    ms->broken = true;
    return log_error("mapping store %s could not be written; stop the run and fix the disk "
                     "(full? read-only?), then run again: the next run recovers what reached "
                     "the disk", ms->path);
}

/* ---- the journal ------------------------------------------------------- */

/* Its version line: it names the tenant and the generation of the snapshot
 * it applies to. Caller frees. */
static char *journal_head(const struct mapstore *ms)
{
    return xasprintf("%s %d %s %llu\n", JOURNAL_MAGIC, JOURNAL_FORMAT_VERSION,
                     ms->header.tenant_id, (unsigned long long)ms->generation);
}

/* Append one line (with its newline) to the journal; it is in the file,
 * though not yet on disk, when this returns. The journal is created, with its
 * version line, on the first change of a run, and its torn tail (a line a
 * crash cut short) is cut off before anything is appended to it. */
static int journal_append(struct mapstore *ms, const char *line, size_t len)
{
    if (ms->broken)
        return log_error("mapping store %s: refusing a change after a failed write", ms->path);
    if (ms->flags & MAPSTORE_READ_ONLY)
        return 0;
    if (!ms->journal) {
        if (platform_file_open(ms->journal_path, PLATFORM_APPEND, &ms->journal))
            return broken(ms);
        if (ms->journal_good) {
            if (platform_file_truncate(ms->journal, ms->journal_good))
                return broken(ms);
        } else {
            char *head = journal_head(ms);
            int rc = platform_file_truncate(ms->journal, 0) ||
                     platform_file_write(ms->journal, head, strlen(head)) ||
                     /* the journal's name must be on disk before an intent in it
                      * can be relied on: sync the file, then its directory */
                     platform_file_sync(ms->journal) || platform_sync_dir(ms->journal_path);
            ms->journal_good = strlen(head);
            ms->journal_version = JOURNAL_FORMAT_VERSION;
            free(head);
            if (rc)
                return broken(ms);
            ms->journal_exists = true;
            step();
        }
    }
    /* one write per line: a crash leaves at most the last line torn */
    if (platform_file_write(ms->journal, line, len))
        return broken(ms);
    step();
    return 0;
}

static int journal_sync(struct mapstore *ms)
{
    if ((ms->flags & MAPSTORE_READ_ONLY) || !ms->journal)
        return 0;
    if (platform_file_sync(ms->journal))
        return broken(ms);
    return 0;
}

static int journal_record(struct mapstore *ms, const struct map_record *r, bool plain)
{
    if (ms->flags & MAPSTORE_READ_ONLY)
        return 0;
    struct strbuf sb = STRBUF_INIT;
    strbuf_addstr(&sb, "= ");
    map_record_format(&sb, r, plain);
    strbuf_addch(&sb, '\n');
    int rc = journal_append(ms, sb.buf, sb.len);
    strbuf_release(&sb);
    return rc;
}

/* Journal a line of an opcode and escaped fields. */
static int journal_fields(struct mapstore *ms, char op, const char *const *fields, size_t n)
{
    if (ms->flags & MAPSTORE_READ_ONLY)
        return 0;
    struct strbuf sb = STRBUF_INIT;
    strbuf_addch(&sb, op);
    strbuf_addch(&sb, ' ');
    for (size_t i = 0; i < n; i++) {
        if (i)
            strbuf_addch(&sb, '\t');
        map_escape(&sb, fields[i], strlen(fields[i]));
    }
    strbuf_addch(&sb, '\n');
    int rc = journal_append(ms, sb.buf, sb.len);
    strbuf_release(&sb);
    return rc;
}

/* ---- changes ----------------------------------------------------------- */

/* A string of the record being replaced (the common case of "copy the
 * record, change a field, put it") is the store's already: no copy. */
static bool owned_by(const char *s, const struct map_record *old)
{
    return old && (s == old->anchor || s == old->cloud_id || s == old->object_guid ||
                   s == old->upn || s == old->rule || s == old->invitation_id || s == old->dn ||
                   s == old->last_error);
}

static const char *keep(struct mapstore *ms, const char *s, const struct map_record *old)
{
    if (!s || !*s)
        return "";
    if (owned_by(s, old))
        return s;
    return store_strdup(ms, s);
}

static int check_record(const struct mapstore *ms, const struct map_record *r)
{
    if (!r->anchor || !*r->anchor)
        return log_error("mapping store %s: record with an empty anchor refused", ms->path);
    if ((unsigned)r->state >= MAP_STATE_COUNT || (unsigned)r->decision >= DECISION_COUNT ||
        (unsigned)r->user_type >= MAP_USER_TYPE_COUNT || (unsigned)r->reason >= MAP_REASON_COUNT)
        return log_error("mapping store %s: record %s: state, reason, decision or userType out "
                         "of range", ms->path, r->anchor);
    if (r->first_change < 0 || r->first_change > MAP_TIME_MAX || r->last_change < 0 ||
        r->last_change > MAP_TIME_MAX)
        return log_error("mapping store %s: record %s: time out of range", ms->path, r->anchor);
    return 0;
}

/* Apply a record image to memory; strings are taken as they are (the caller
 * made them the store's). Closes the anchor's open intent. */
static void apply_record(struct mapstore *ms, const struct map_record *r, bool plain)
{
    uint32_t h = hash_anchor(r->anchor, strlen(r->anchor));
    index_reserve(ms);
    size_t slot = index_slot(ms, r->anchor, h);
    struct rec *rec = ms->slots[slot] ? rec_at(ms, SLOT_REC(ms->slots[slot]))
                                      : append_rec(ms, h, slot);
    rec->r = *r;
    rec->plain = plain;
    rec->intent = 0;
}

int mapstore_put(struct mapstore *ms, const struct map_record *in)
{
    if (check_record(ms, in))
        return -1;
    if (ms->broken)
        return log_error("mapping store %s: refusing a change after a failed write", ms->path);
    struct rec *old = find_rec(ms, in->anchor, NULL);
    const struct map_record *o = old ? &old->r : NULL;
    /* a put that changes nothing writes nothing (and copies nothing): a run
     * that finds everything as it was leaves the file byte-identical */
    if (old && !old->intent && same_record(o, in))
        return 0;
    struct map_record r = *in;
    r.anchor = keep(ms, in->anchor, o);
    r.cloud_id = keep(ms, in->cloud_id, o);
    r.object_guid = keep(ms, in->object_guid, o);
    r.upn = keep(ms, in->upn, o);
    r.rule = keep(ms, in->rule, o);
    r.invitation_id = keep(ms, in->invitation_id, o);
    r.dn = keep(ms, in->dn, o);
    r.last_error = keep(ms, in->last_error, o);
    /* journal first: if the line cannot be written the memory state stays
     * what the disk says */
    bool plain = record_plain(&r);
    if (journal_record(ms, &r, plain))
        return -1;
    apply_record(ms, &r, plain);
    return 0;
}

int mapstore_mark_gone(struct mapstore *ms, const char *anchor, int64_t now)
{
    const struct map_record *old = mapstore_find(ms, anchor);
    if (!old)
        return 1;
    struct map_record r = *old;
    r.state = MAP_STATE_GONE;
    r.last_change = now;
    return mapstore_put(ms, &r);
}

static void apply_remove(struct mapstore *ms, const char *anchor)
{
    if (!ms->live)
        return;
    uint32_t h = hash_anchor(anchor, strlen(anchor));
    size_t i = index_slot(ms, anchor, h);
    if (!ms->slots[i])
        return;
    struct rec *r = rec_at(ms, SLOT_REC(ms->slots[i]));
    r->dead = true;
    r->intent = 0;
    index_delete(ms, i);
    ms->live--;
}

int mapstore_remove(struct mapstore *ms, const char *anchor)
{
    if (!find_rec(ms, anchor, NULL))
        return 1;
    if (journal_fields(ms, '-', &anchor, 1))
        return -1;
    apply_remove(ms, anchor);
    return 0;
}

static void apply_intent(struct mapstore *ms, size_t recno, const char *anchor, const char *op,
                         const char *arg)
{
    struct intent_entry *e = xmalloc(sizeof(*e));
    e->in.anchor = anchor;
    e->in.op = op;
    e->in.arg = arg;
    e->rec = recno;
    GROW(ms->intents, ms->intents_alloc, ms->nintents + 1);
    ms->intents[ms->nintents++] = e;
    rec_at(ms, recno)->intent = (uint32_t)ms->nintents;
}

int mapstore_intents(struct mapstore *ms, const struct map_intent *in, size_t n)
{
    /* check them all before writing any, so that a refusal writes nothing */
    for (size_t i = 0; i < n; i++) {
        if (!in[i].anchor || !find_rec(ms, in[i].anchor, NULL))
            return log_error("mapping store %s: intent for %s, which has no record; put the "
                             "record first", ms->path, in[i].anchor ? in[i].anchor : "(null)");
        if (!in[i].op || !*in[i].op)
            return log_error("mapping store %s: intent for %s without an operation", ms->path,
                             in[i].anchor);
    }
    for (size_t i = 0; i < n; i++) {
        size_t recno;
        struct rec *r = find_rec(ms, in[i].anchor, &recno);
        const char *arg = in[i].arg ? in[i].arg : "";
        const char *f[] = { r->r.anchor, in[i].op, arg };
        if (journal_fields(ms, '!', f, 3))
            return -1;
        apply_intent(ms, recno, r->r.anchor, store_strdup(ms, in[i].op), store_strdup(ms, arg));
    }
    /* the Graph calls may start when this returns: the intents must be on
     * disk first, or a crash after the call would leave no trace of it */
    return journal_sync(ms);
}

int mapstore_intent(struct mapstore *ms, const char *anchor, const char *op, const char *arg)
{
    struct map_intent in = { anchor, op, arg };
    return mapstore_intents(ms, &in, 1);
}

const struct map_intent *mapstore_intent_of(const struct mapstore *ms, const char *anchor)
{
    const struct rec *r = find_rec(ms, anchor, NULL);
    return r && r->intent ? &ms->intents[r->intent - 1]->in : NULL;
}

size_t mapstore_in_doubt(const struct mapstore *ms, const struct map_intent **list)
{
    *list = ms->in_doubt;
    return ms->nin_doubt;
}

/* Required keys first (through H_RECORDS). */
enum header_key {
    H_TENANT, H_TENANT_ID, H_CLOUD, H_GENERATION, H_RECORDS, H_WATERMARK, H_DELTA_LINK, H_COUNT
};
static const char *const header_keys[H_COUNT] = {
    [H_TENANT] = "Tenant", [H_TENANT_ID] = "TenantId", [H_CLOUD] = "Cloud",
    [H_GENERATION] = "Generation", [H_RECORDS] = "Records", [H_WATERMARK] = "Watermark",
    [H_DELTA_LINK] = "DeltaLink",
};

static int set_header(struct mapstore *ms, enum header_key key, const char *value)
{
    if (ms->broken)
        return log_error("mapping store %s: refusing a change after a failed write", ms->path);
    const char **field = key == H_WATERMARK ? &ms->header.watermark : &ms->header.delta_link;
    if (!value)
        value = "";
    if (!strcmp(*field, value))
        return 0;
    const char *f[] = { header_keys[key], value };
    if (journal_fields(ms, 'H', f, 2))
        return -1;
    *field = store_strdup(ms, value);
    return 0;
}

int mapstore_set_watermark(struct mapstore *ms, const char *watermark)
{
    return set_header(ms, H_WATERMARK, watermark);
}

int mapstore_set_delta_link(struct mapstore *ms, const char *link)
{
    return set_header(ms, H_DELTA_LINK, link);
}

/* ---- reading ----------------------------------------------------------- */

const struct map_header *mapstore_header(const struct mapstore *ms) { return &ms->header; }
const char *mapstore_path(const struct mapstore *ms) { return ms->path; }
size_t mapstore_count(const struct mapstore *ms) { return ms->live; }

const struct map_record *mapstore_find(const struct mapstore *ms, const char *anchor)
{
    const struct rec *r = find_rec(ms, anchor, NULL);
    return r ? &r->r : NULL;
}

const struct map_record *mapstore_next(const struct mapstore *ms, size_t *pos)
{
    while (*pos < ms->nrecs) {
        const struct rec *r = rec_at(ms, (*pos)++);
        if (!r->dead)
            return &r->r;
    }
    return NULL;
}

/* ---- parsing the files ------------------------------------------------- */

static size_t line_of(const char *buf, const char *at)
{
    size_t n = 1;
    for (const char *p = buf; p < at; p++)
        n += *p == '\n';
    return n;
}

/* Bytes that no file written by dualsync holds: a NUL (it would cut a value
 * short) and a raw CR (the file went through a CRLF conversion). */
static int check_bytes(struct mapstore *ms, const char *buf, size_t len)
{
    const char *p = memchr(buf, '\0', len);
    if (p) {
        ms->cur_line = line_of(buf, p);
        return parse_error(ms, "NUL byte in the file; " REMEDY_CORRUPT);
    }
    p = memchr(buf, '\r', len);
    if (p) {
        ms->cur_line = line_of(buf, p);
        return parse_error(ms, "carriage return in the file (converted to CRLF line endings?); "
                           "convert it back (dos2unix) or restore it from a backup");
    }
    return 0;
}

/* "<magic> <version>[ <rest>]" on the first line, version in [oldest,
 * newest] → 0, *version and *rest (NUL-terminated). */
static int parse_version_line(struct mapstore *ms, char *line, const char *magic, unsigned oldest,
                              unsigned newest, const char *what, unsigned *version, char **rest)
{
    size_t ml = strlen(magic);
    if (strncmp(line, magic, ml) || line[ml] != ' ')
        return parse_error(ms, "not a dualsync %s (the first line should start with '%s %u'); "
                           "check the path, or restore the file from a backup", what, magic,
                           newest);
    char *v = line + ml + 1;
    char *sp = strchr(v, ' ');
    if (sp)
        *sp = '\0';
    uint64_t n;
    if (parse_u64(v, &n))
        return parse_error(ms, "bad %s version '%.20s'; " REMEDY_CORRUPT, what, v);
    if (n < oldest || n > newest) {
        char reads[64];
        if (oldest == newest)
            snprintf(reads, sizeof(reads), "version %u", newest);
        else
            snprintf(reads, sizeof(reads), "versions %u %s %u", oldest,
                     newest == oldest + 1 ? "and" : "to", newest);
        return parse_error(ms, "%s format version %llu is not supported (this dualsync reads "
                           "%s); use the dualsync release that wrote it, or restore a backup",
                           what, (unsigned long long)n, reads);
    }
    *version = (unsigned)n;
    *rest = sp ? sp + 1 : NULL;
    return 0;
}

/* lines: of the Tenant, TenantId and Cloud header lines */
static int check_tenant(struct mapstore *ms, const char *file_tenant, const char *file_id,
                        enum cloud file_cloud, const size_t lines[3])
{
    const struct mapstore_tenant *t = &ms->expect;
    size_t line = strcmp(file_tenant, t->name) ? lines[0]
                : strcasecmp(file_id, t->id) ? lines[1]
                : file_cloud != t->cloud ? lines[2] : 0;
    if (line)
        return log_error("%s:%zu: this mapping file belongs to tenant %s (id %s, cloud %s), not to "
                         "tenant %s (id %s, cloud %s); it must not be used for this tenant: "
                         "check mapping_dir and the tenant's name, id and cloud in the "
                         "configuration (the file was not changed)", ms->cur_file, line,
                         file_tenant, file_id,
                         cloud_name(file_cloud), t->name, t->id, cloud_name(t->cloud));
    return 0;
}

int mapstore_load_map_text(struct mapstore *ms, char *buf, size_t len)
{
    keep_buffer(ms, buf);
    ms->cur_file = ms->path;
    ms->cur_line = 0;
    if (check_bytes(ms, buf, len))
        return -1;
    char *p = buf, *end = buf + len;
    ms->cur_line = 1;
    char *nl = memchr(p, '\n', len);
    if (!nl)
        return parse_error(ms, "%s; the file is truncated or not a mapping file: restore it "
                           "from a backup", len ? "no complete first line" : "empty file");
    *nl = '\0';
    char *rest;
    unsigned version;
    if (parse_version_line(ms, p, MAP_MAGIC, MAP_FORMAT_OLDEST, MAP_FORMAT_VERSION,
                           "mapping file", &version, &rest))
        return -1;
    if (rest)
        return parse_error(ms, "unexpected text after the version; " REMEDY_CORRUPT);
    p = nl + 1;

    /* header: "Key value" lines up to a blank line */
    const char *val[H_COUNT] = { 0 };
    size_t line_of_key[H_COUNT] = { 0 };
    for (;;) {
        ms->cur_line++;
        nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            return parse_error(ms, "the header does not end with a blank line; the file is "
                               "truncated: restore it from a backup");
        *nl = '\0';
        if (p == nl) {
            p = nl + 1;
            break;
        }
        char *sp = strchr(p, ' ');
        if (sp)
            *sp = '\0';
        int k;
        for (k = 0; k < H_COUNT && strcmp(p, header_keys[k]); k++)
            ;
        if (k == H_COUNT)
            return parse_error(ms, "unknown header key '%.40s' (written by a newer dualsync, or "
                               "edited?); " REMEDY_CORRUPT, p);
        if (val[k])
            return parse_error(ms, "header key %s appears twice (first on line %zu); "
                               REMEDY_CORRUPT, p, line_of_key[k]);
        if (!sp)
            return parse_error(ms, "header key %s without a value; " REMEDY_CORRUPT, p);
        long vl = map_unescape(sp + 1, (size_t)(nl - sp - 1));
        if (vl < 0)
            return parse_error(ms, "header %s has a bad escape; " REMEDY_CORRUPT, p);
        val[k] = sp + 1;
        line_of_key[k] = ms->cur_line;
        p = nl + 1;
    }
    for (int k = H_TENANT; k <= H_RECORDS; k++)
        if (!val[k])
            return parse_error(ms, "the header has no %s line; " REMEDY_CORRUPT, header_keys[k]);
    enum cloud cloud;
    if (cloud_parse(val[H_CLOUD], &cloud)) {
        ms->cur_line = line_of_key[H_CLOUD];
        return parse_error(ms, "unknown cloud '%.40s' (global, usgov-high, usgov-dod or china "
                           "expected); " REMEDY_CORRUPT, val[H_CLOUD]);
    }
    if (parse_u64(val[H_GENERATION], &ms->generation) || !ms->generation) {
        ms->cur_line = line_of_key[H_GENERATION];
        return parse_error(ms, "bad generation '%.40s'; " REMEDY_CORRUPT, val[H_GENERATION]);
    }
    uint64_t nrecords;
    if (parse_u64(val[H_RECORDS], &nrecords)) {
        ms->cur_line = line_of_key[H_RECORDS];
        return parse_error(ms, "bad record count '%.40s'; " REMEDY_CORRUPT, val[H_RECORDS]);
    }
    if (check_tenant(ms, val[H_TENANT], val[H_TENANT_ID], cloud, line_of_key))
        return -1;
    ms->header.watermark = val[H_WATERMARK] ? val[H_WATERMARK] : "";
    ms->header.delta_link = val[H_DELTA_LINK] ? val[H_DELTA_LINK] : "";

    /* size the index once; the count is not trusted beyond what the file
     * could hold (a record line is at least 26 bytes) */
    size_t cap = (size_t)(end - p) / 26 + 1;
    index_resize(ms, nrecords < cap ? (size_t)nrecords : cap);

    char why[256];
    size_t first_line = ms->cur_line + 1;   /* record i is on line first_line + i */
    while (p < end) {
        ms->cur_line++;
        nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            return parse_error(ms, "the last line has no newline; the file is truncated: "
                               "restore it from a backup");
        size_t ll = (size_t)(nl - p);
        /* a line without a backslash has nothing that needs escaping; asked
         * before the fields are unescaped in place, which takes the
         * backslashes of \t, \n and \r away */
        bool plain = !memchr(p, '\\', ll);
        struct map_record r;
        if (map_record_parse(p, ll, !plain, version, &r, why, sizeof(why)))
            return parse_error(ms, "%s; " REMEDY_CORRUPT, why);
        uint32_t h = hash_anchor(r.anchor, strlen(r.anchor));
        index_reserve(ms);
        size_t slot = index_slot(ms, r.anchor, h);
        if (ms->slots[slot])
            return parse_error(ms, "anchor %.60s appears twice (first on line %zu); "
                               REMEDY_CORRUPT, r.anchor, first_line + SLOT_REC(ms->slots[slot]));
        struct rec *rec = append_rec(ms, h, slot);
        rec->r = r;
        rec->plain = plain;
        p = nl + 1;
    }
    if (ms->nrecs != nrecords) {
        ms->cur_line = line_of_key[H_RECORDS];
        return parse_error(ms, "the header says %llu records, the file holds %zu; the file is "
                           "truncated or was edited: restore it from a backup",
                           (unsigned long long)nrecords, ms->nrecs);
    }
    ms->map_exists = true;
    /* an older version is written again in the current one at the next
     * commit, even one with nothing else to write (mapstore_commit) */
    ms->header.version = version;
    if (version != MAP_FORMAT_VERSION)
        log_verbose("%s: mapping file format version %u; a run writes it again in version %d",
                    ms->path, version, MAP_FORMAT_VERSION);
    return 0;
}

/* Split a journal line's fields (after "<op> ") in place: exactly n, else -1. */
static int journal_split(char *s, size_t len, char **f, size_t n)
{
    char *end = s + len;
    for (size_t i = 0; i < n; i++) {
        char *tab = i + 1 < n ? memchr(s, '\t', (size_t)(end - s)) : NULL;
        char *fe = tab ? tab : end;
        if (i + 1 < n && !tab)
            return -1;
        if (i + 1 == n && memchr(s, '\t', (size_t)(end - s)))
            return -1;
        if (map_unescape(s, (size_t)(fe - s)) < 0)
            return -1;
        f[i] = s;
        s = fe + 1;
    }
    return 0;
}

#define REMEDY_JOURNAL "move the journal aside to go on from the last commit, and check the " \
                       "anchors of its '!' lines in the tenant by hand"

int mapstore_load_journal_text(struct mapstore *ms, char *buf, size_t len)
{
    keep_buffer(ms, buf);
    ms->cur_file = ms->journal_path;
    ms->cur_line = 0;
    /* a crash in the middle of a write leaves the last line without its
     * newline: that change never happened (its call returned no success),
     * so it is dropped, and cut off before the next append */
    char *last_nl = len ? memrchr(buf, '\n', len) : NULL;
    size_t good = last_nl ? (size_t)(last_nl - buf) + 1 : 0;
    if (good < len) {
        ms->cur_line = line_of(buf, buf + good);
        /* a reader sees the torn line of a live writer all the time */
        void (*say)(const char *, ...) = ms->flags & MAPSTORE_READ_ONLY ? log_verbose : log_warn;
        say("%s:%zu: ignoring an incomplete last line (the run that wrote it stopped in the "
            "middle of it)", ms->journal_path, ms->cur_line);
    }
    ms->journal_good = good;
    ms->journal_exists = true;
    if (check_bytes(ms, buf, good))
        return -1;
    if (!good)
        return 0;   /* only a torn version line: nothing was journaled */
    char *p = buf, *end = buf + good;
    char *nl = memchr(p, '\n', good);
    *nl = '\0';
    ms->cur_line = 1;
    char *rest;
    unsigned version;
    if (parse_version_line(ms, p, JOURNAL_MAGIC, JOURNAL_FORMAT_OLDEST, JOURNAL_FORMAT_VERSION,
                           "journal", &version, &rest))
        return -1;
    /* "<tenant id> <generation of the snapshot it applies to>" */
    char *id = rest, *gen = rest ? strchr(rest, ' ') : NULL;
    uint64_t generation;
    if (gen)
        *gen++ = '\0';
    if (!gen || parse_u64(gen, &generation))
        return parse_error(ms, "the version line has no tenant id and generation; "
                           REMEDY_JOURNAL);
    if (strcasecmp(id, ms->expect.id))
        return parse_error(ms, "this journal belongs to tenant id %s, not %s; it must not be "
                           "used for this tenant: check mapping_dir (the file was not changed)",
                           id, ms->expect.id);
    /* The journal of the snapshot on disk is replayed. The journal of the
     * snapshot before it is what a crash between the two last steps of a
     * commit leaves: the snapshot holds all of it already, only its open
     * intents are still news. Any other pairing (a file restored from a
     * backup beside a newer journal) cannot be trusted. */
    bool stale;
    if (generation == ms->generation)
        stale = false;
    else if (ms->map_exists && generation + 1 == ms->generation)
        stale = true;
    else
        return parse_error(ms, "this journal continues generation %llu of the mapping file, "
                           "which is at generation %llu (was one of them restored from a "
                           "backup?); " REMEDY_JOURNAL, (unsigned long long)generation,
                           (unsigned long long)ms->generation);
    ms->journal_stale = stale;
    ms->journal_version = version;
    p = nl + 1;

    size_t first_intent = ms->nintents;
    char why[256];
    while (p < end) {
        ms->cur_line++;
        nl = memchr(p, '\n', (size_t)(end - p));
        size_t ll = (size_t)(nl - p);
        char *f[3];
        if (ll < 2 || p[1] != ' ')
            return parse_error(ms, "bad journal line (an operation and a space expected); "
                               REMEDY_JOURNAL);
        char *body = p + 2;
        size_t bl = ll - 2;
        struct rec *r;
        size_t recno;
        switch (p[0]) {
        case '=': {
            struct map_record img;
            bool plain = !memchr(body, '\\', bl);
            if (map_record_parse(body, bl, !plain, version, &img, why, sizeof(why)))
                return parse_error(ms, "%s; " REMEDY_JOURNAL, why);
            if (!stale)
                apply_record(ms, &img, plain);
            else if ((r = find_rec(ms, img.anchor, NULL)))
                r->intent = 0;       /* the snapshot has it; the intent has its outcome */
            break;
        }
        case '!':
            if (journal_split(body, bl, f, 3) || !*f[0] || !*f[1])
                return parse_error(ms, "bad intent line; " REMEDY_JOURNAL);
            r = find_rec(ms, f[0], &recno);
            if (r)
                apply_intent(ms, recno, r->r.anchor, f[1], f[2]);
            else if (!stale)
                return parse_error(ms, "intent for anchor %.60s, which has no record; "
                                   REMEDY_JOURNAL, f[0]);
            /* stale, and not in the snapshot: removed later in this journal */
            break;
        case '-':
            if (journal_split(body, bl, f, 1) || !*f[0])
                return parse_error(ms, "bad removal line; " REMEDY_JOURNAL);
            if (!stale)
                apply_remove(ms, f[0]);
            else if ((r = find_rec(ms, f[0], NULL)))
                r->intent = 0;
            break;
        case 'H':
            if (journal_split(body, bl, f, 2))
                return parse_error(ms, "bad header line; " REMEDY_JOURNAL);
            if (!strcmp(f[0], header_keys[H_WATERMARK]))
                ms->header.watermark = stale ? ms->header.watermark : f[1];
            else if (!strcmp(f[0], header_keys[H_DELTA_LINK]))
                ms->header.delta_link = stale ? ms->header.delta_link : f[1];
            else
                return parse_error(ms, "unknown header key '%.40s' in the journal (written by "
                                   "a newer dualsync?); " REMEDY_JOURNAL, f[0]);
            break;
        default:
            return parse_error(ms, "unknown journal operation '%c' (written by a newer "
                               "dualsync?); " REMEDY_JOURNAL, p[0]);
        }
        p = nl + 1;
    }

    /* in doubt: the intents whose anchor got no image or removal after them */
    for (size_t i = first_intent; i < ms->nintents; i++) {
        const struct intent_entry *e = ms->intents[i];
        const struct rec *r = rec_at(ms, e->rec);
        if (!r->dead && r->intent == i + 1) {
            GROW(ms->in_doubt, ms->in_doubt_alloc, ms->nin_doubt + 1);
            ms->in_doubt[ms->nin_doubt++] = e->in;
        }
    }
    return 0;
}

/* ---- open and close ---------------------------------------------------- */

static struct mapstore *alloc_store(const char *path, const struct mapstore_tenant *t,
                                    unsigned flags)
{
    struct mapstore *ms = xcalloc(1, sizeof(*ms));
    ms->path = xstrdup(path);
    ms->journal_path = xasprintf("%s.journal", path);
    ms->lock_path = xasprintf("%s.lock", path);
    ms->flags = flags;
    ms->expect.name = store_strdup(ms, t->name);
    ms->expect.id = store_strdup(ms, t->id);
    ms->expect.cloud = t->cloud;
    ms->header.version = MAP_FORMAT_VERSION;
    ms->header.tenant = ms->expect.name;
    ms->header.tenant_id = ms->expect.id;
    ms->header.cloud = t->cloud;
    ms->header.watermark = "";
    ms->header.delta_link = "";
    index_resize(ms, 0);
    return ms;
}

struct mapstore *mapstore_new_in_memory(const char *path, const struct mapstore_tenant *tenant)
{
    return alloc_store(path, tenant, MAPSTORE_READ_ONLY | MAPSTORE_CREATE);
}

static void free_contents(struct mapstore *ms)
{
    for (size_t i = 0; i < ms->nchunks; i++)
        free(ms->chunks[i]);
    free(ms->chunks);
    free(ms->slots);
    for (size_t i = 0; i < ms->nintents; i++)
        free(ms->intents[i]);
    free(ms->intents);
    free(ms->in_doubt);
    for (size_t i = 0; i < ms->nbuffers; i++)
        free(ms->buffers[i]);
    free(ms->buffers);
}

void mapstore_close(struct mapstore *ms)
{
    if (!ms)
        return;
    if (platform_file_close(ms->journal))
        ms->broken = true;
    platform_lock_release(ms->lock);
    free_contents(ms);
    arena_release(&ms->strings);
    free(ms->path);
    free(ms->journal_path);
    free(ms->lock_path);
    free(ms);
}

/* Read the snapshot and the journal. Returns 0 (a missing file leaves its
 * buffer NULL), or -1. */
struct texts {
    char *map, *journal;
    size_t map_len, journal_len;
    struct platform_file_id map_id;
};

static int read_texts(const struct mapstore *ms, struct texts *t)
{
    memset(t, 0, sizeof(*t));
    struct strbuf sb = STRBUF_INIT;
    int rc = platform_read_file(ms->path, &sb, &t->map_id);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        t->map_len = sb.len;
        t->map = strbuf_detach(&sb);
    }
    rc = platform_read_file(ms->journal_path, &sb, NULL);
    if (rc < 0) {
        free(t->map);
        return -1;
    }
    if (rc == 0) {
        t->journal_len = sb.len;
        t->journal = strbuf_detach(&sb);
    }
    return 0;
}

/* Parse what read_texts read into ms (empty); ms takes the buffers. */
static int load_texts(struct mapstore *ms, struct texts *t)
{
    char *journal = t->journal;
    t->journal = NULL;
    if (t->map) {
        char *map = t->map;
        t->map = NULL;
        if (mapstore_load_map_text(ms, map, t->map_len)) {
            free(journal);
            return -1;
        }
    }
    if (journal && mapstore_load_journal_text(ms, journal, t->journal_len))
        return -1;
    if (!ms->map_exists && !ms->journal_exists && !(ms->flags & MAPSTORE_CREATE))
        return log_error("no mapping file %s; check mapping_dir in the configuration (a "
                         "tenant's first run creates it)", ms->path);
    return 0;
}

static int replace_journal(struct mapstore *ms);

int mapstore_open(const char *path, const struct mapstore_tenant *tenant, unsigned flags,
                  struct mapstore **out)
{
    if (!step_env_read) {
        step_env_read = true;
        const char *e = testhook(TESTHOOK_STEP_LIMIT);
        uint64_t n;
        if (e && *e && parse_u64(e, &n) == 0 && n <= LONG_MAX)
            step_limit = (long)n;
    }
    if (!tenant || !tenant->name || !*tenant->name || !tenant->id || !*tenant->id)
        return log_error("mapping store %s: tenant name and id are required", path);
    for (const char *c = tenant->id; *c; c++)
        if ((unsigned char)*c <= ' ')
            return log_error("mapping store %s: tenant id '%s' has a blank or control "
                             "character; fix the tenant id in the configuration", path,
                             tenant->id);
    struct mapstore *ms = alloc_store(path, tenant, flags);
    struct texts t;

    if (!(flags & MAPSTORE_READ_ONLY)) {
        /* lock before reading anything, so that what we read cannot change
         * under us */
        long holder = 0;
        int rc = platform_lock_acquire(ms->lock_path, &ms->lock, &holder);
        if (rc) {
            if (rc > 0 && holder)
                log_error("tenant %s is in use by another dualsync run (pid %ld holds the lock "
                          "%s); wait for it to finish, or stop it", tenant->name, holder,
                          ms->lock_path);
            else if (rc > 0)
                log_error("tenant %s is in use by another dualsync run (it holds the lock %s); "
                          "wait for it to finish, or stop it", tenant->name, ms->lock_path);
            else
                log_error("tenant %s: cannot lock its mapping store; check that the directory "
                          "of %s exists and that this user may write in it", tenant->name,
                          ms->lock_path);
            mapstore_close(ms);
            return -1;
        }
        if (read_texts(ms, &t) || load_texts(ms, &t)) {
            mapstore_close(ms);
            return -1;
        }
        /* Finish what a crash interrupted: a temporary file of an atomic
         * write is an unfinished snapshot or journal (the old ones are
         * complete without it; we hold the lock, so it is no other run's); a
         * stale journal is the last step of a commit, not yet done. */
        if (platform_atomic_sweep(ms->path) || platform_atomic_sweep(ms->journal_path) ||
            (ms->journal_stale && replace_journal(ms))) {
            mapstore_close(ms);
            return -1;
        }
        /* A journal of an older format version (a run of the release before
         * stopped, and this one took over) must not get lines of this
         * version appended: fold it into a snapshot of this version now, a
         * commit like any other (its open intents are kept, and stay in
         * doubt). */
        if (ms->journal_version && ms->journal_version != JOURNAL_FORMAT_VERSION &&
            mapstore_commit(ms)) {
            mapstore_close(ms);
            return -1;
        }
        *out = ms;
        return 0;
    }

    /* Read-only: no lock. A commit replaces the snapshot before it replaces
     * or removes the journal, so if the snapshot is still the current file
     * after the journal was read, the two were a pair (a stale journal is
     * recognised by its generation). Otherwise a commit came in between:
     * read again. Only then parse: a mismatched pair is no error. */
    for (int attempt = 0;; attempt++) {
        if (read_texts(ms, &t)) {
            mapstore_close(ms);
            return -1;
        }
        struct platform_file_id now;
        int rc = platform_file_identity(ms->path, &now);
        if (rc < 0) {
            free(t.map);
            free(t.journal);
            mapstore_close(ms);
            return -1;
        }
        bool same = t.map ? rc == 0 && now.volume == t.map_id.volume && now.index == t.map_id.index
                          : rc == 1;
        if (same)
            break;
        free(t.map);
        free(t.journal);
        if (attempt == 20) {
            log_error("%s keeps changing while it is read; try again", path);
            mapstore_close(ms);
            return -1;
        }
    }
    if (load_texts(ms, &t)) {
        mapstore_close(ms);
        return -1;
    }
    *out = ms;
    return 0;
}

/* ---- commit ------------------------------------------------------------ */

static void header_line(struct strbuf *sb, const char *key, const char *value)
{
    strbuf_addstr(sb, key);
    strbuf_addch(sb, ' ');
    map_escape(sb, value, strlen(value));
    strbuf_addch(sb, '\n');
}

/* Write the snapshot to f through one large buffer. */
static int write_snapshot(struct mapstore *ms, struct platform_file *f, uint64_t generation)
{
    enum { FLUSH_AT = 4 << 20 };
    struct strbuf sb = STRBUF_INIT;
    strbuf_grow(&sb, FLUSH_AT + 65536);
    strbuf_addf(&sb, "%s %d\n", MAP_MAGIC, MAP_FORMAT_VERSION);
    header_line(&sb, header_keys[H_TENANT], ms->header.tenant);
    header_line(&sb, header_keys[H_TENANT_ID], ms->header.tenant_id);
    header_line(&sb, header_keys[H_CLOUD], cloud_name(ms->header.cloud));
    strbuf_addf(&sb, "%s %llu\n", header_keys[H_GENERATION], (unsigned long long)generation);
    strbuf_addf(&sb, "%s %zu\n", header_keys[H_RECORDS], ms->live);
    if (*ms->header.watermark)
        header_line(&sb, header_keys[H_WATERMARK], ms->header.watermark);
    if (*ms->header.delta_link)
        header_line(&sb, header_keys[H_DELTA_LINK], ms->header.delta_link);
    strbuf_addch(&sb, '\n');
    int rc = 0;
    for (size_t i = 0; i < ms->nrecs && !rc; i++) {
        const struct rec *r = rec_at(ms, i);
        if (r->dead)
            continue;
        map_record_format(&sb, &r->r, r->plain);
        strbuf_addch(&sb, '\n');
        if (sb.len >= FLUSH_AT) {
            rc = platform_file_write(f, sb.buf, sb.len);
            strbuf_reset(&sb);
        }
    }
    if (!rc && sb.len)
        rc = platform_file_write(f, sb.buf, sb.len);
    strbuf_release(&sb);
    return rc;
}

/* Replace the journal, which the snapshot on disk holds entirely, by one
 * that holds only the intents still open (they must outlive it: each is a
 * Graph call whose outcome nobody knows), or remove it if there are none.
 * The last step of a commit, and of the recovery of a commit a crash cut
 * short. */
static int replace_journal(struct mapstore *ms)
{
    if (platform_file_close(ms->journal)) {
        ms->journal = NULL;
        return broken(ms);
    }
    ms->journal = NULL;
    struct strbuf sb = STRBUF_INIT;
    char *head = journal_head(ms);
    strbuf_addstr(&sb, head);
    free(head);
    size_t n = 0;
    for (size_t i = 0; i < ms->nintents; i++) {
        const struct intent_entry *e = ms->intents[i];
        const struct rec *r = rec_at(ms, e->rec);
        if (r->dead || r->intent != i + 1)
            continue;
        const char *f[] = { e->in.anchor, e->in.op, e->in.arg };
        strbuf_addstr(&sb, "! ");
        for (size_t k = 0; k < ARRAY_SIZE(f); k++) {
            if (k)
                strbuf_addch(&sb, '\t');
            map_escape(&sb, f[k], strlen(f[k]));
        }
        strbuf_addch(&sb, '\n');
        n++;
    }
    int rc = 0;
    if (n) {
        /* written beside it, on disk, then put in its place atomically: a
         * crash leaves the old journal (stale: its intents are found again)
         * or the new one, never a half-written one */
        rc = platform_write_file_atomic(ms->journal_path, sb.buf, sb.len);
        ms->journal_exists = true;
        ms->journal_good = sb.len;
    } else {
        /* no need to sync the directory after the removal: a journal that
         * comes back is stale (its generation says so) and is only read
         * for its open intents, of which it has none */
        rc = platform_remove(ms->journal_path);
        ms->journal_exists = false;
        ms->journal_good = 0;
    }
    strbuf_release(&sb);
    ms->journal_stale = false;
    ms->journal_version = n ? JOURNAL_FORMAT_VERSION : 0;
    if (rc)
        return broken(ms);
    step();
    return 0;
}

int mapstore_commit(struct mapstore *ms)
{
    if (ms->flags & MAPSTORE_READ_ONLY) {
        log_debug("%s: read-only, not written", ms->path);
        return 0;
    }
    if (ms->broken)
        return log_error("mapping store %s: not committed after a failed write", ms->path);
    /* every change of this run is in the journal: no journal, no change;
     * but a file of an older format version is written again all the same,
     * so that a run upgrades it (doc/mapping-format.md, "Version 1") */
    if (ms->map_exists && !ms->journal_exists && ms->header.version == MAP_FORMAT_VERSION)
        return 0;

    /* 1. the whole state to a temporary file beside the snapshot, and on
     * disk (a crash here leaves it behind: the next writable open sweeps it) */
    struct platform_atomic *a;
    if (platform_atomic_open(ms->path, &a))
        return broken(ms);
    if (write_snapshot(ms, platform_atomic_file(a), ms->generation + 1) ||
        platform_file_sync(platform_atomic_file(a))) {
        platform_atomic_abort(a);
        return broken(ms);
    }
    step();

    /* 2. atomic replace, and the new name on disk BEFORE the journal goes
     * (else a power cut could bring back the old snapshot without the
     * journal that completes it): a crash leaves the old snapshot with its
     * journal, or the new one with a journal one generation behind (stale) */
    if (platform_atomic_commit(a))
        return broken(ms);
    ms->map_exists = true;
    ms->generation++;
    ms->header.version = MAP_FORMAT_VERSION;
    step();

    /* 4. the journal is stale now: keep only its open intents */
    return replace_journal(ms);
}
