/* ldap_source_p.h - the reader's inside: one reader (ldap_read.c,
 * ldap_pull.c) over two transports, OpenLDAP (ldap_source.c) and wldap32
 * (ldap_source_win32.c). Private to those four files and their unit test.
 *
 * A backend is a connection: it connects, checks TLS, binds, runs searches
 * and hands each entry to a callback as neutral bytes (struct lsrc_val), so
 * that everything read from an entry (decoding, ranged retrieval, the
 * rootDSE) is written once, in ldap_read.c. ldap_pull.c decides which
 * searches a pull makes (full or delta) and judges each object's scope. */
#ifndef DUALSYNC_LDAP_SOURCE_P_H
#define DUALSYNC_LDAP_SOURCE_P_H

#include "compat.h"
#include "adobject.h"
#include "ldap_source.h"
#include "util.h"

struct ldap_config;

/* ------------------------------------------------------------ the backend */

/* One value, or an attribute name, as the server sent it: bytes, not
 * NUL-terminated. */
struct lsrc_val {
    const char *data;
    size_t len;
};

struct lsrc_conn;    /* the backend's connection */
struct lsrc_entry;   /* an entry of a search answer, as the backend holds it */

/* Connect to cfg->uri, verify TLS, bind. cfg must outlive the connection.
 * Returns 0 and *out, or -1 (logged). */
int lsrc_connect(const struct ldap_config *cfg, struct lsrc_conn **out);
/* Unbinds and frees; NULL is fine. */
void lsrc_disconnect(struct lsrc_conn *conn);

/* The next attribute of e: returns 1 with *name and its nvals values in
 * *vals (valid until the next call), 0 after the last one, -1 when the
 * entry cannot be decoded (logged). */
int lsrc_entry_attr(struct lsrc_entry *e, struct lsrc_val *name, const struct lsrc_val **vals,
                    size_t *nvals);

/* Called with each entry of a search, its DN first (valid during the call).
 * Returns 0 to go on, or -1 to stop the search (which then returns -1). */
typedef int (*lsrc_entry_fn)(const struct lsrc_val *dn, struct lsrc_entry *e, void *ctx);

enum lsrc_scope { LSRC_BASE, LSRC_SUBTREE };

/* One search without paging, for small answers: at most sizelimit entries
 * (0: no limit; a server that had more is not an error), each to fn.
 * Continuation references are not followed. doing names the search in an
 * error message. Returns 0, or -1 (logged, or fn stopped). */
int lsrc_search(struct lsrc_conn *conn, const char *base, enum lsrc_scope scope,
                const char *filter, char **attrs, int sizelimit, const char *doing,
                lsrc_entry_fn fn, void *ctx);

/* A subtree search in pages (RFC 2696, cfg->page_size; AD caps a page at
 * MaxPageSize), with the show-deleted control (MS-ADTS 3.1.1.3.4.1.14) if
 * asked; each entry to fn as it arrives. Counts stats->pages; a connection
 * lost midway is reported with stats->objects. Returns 0, or -1. */
int lsrc_paged_search(struct lsrc_conn *conn, const char *base, const char *filter, char **attrs,
                      bool show_deleted, struct ldap_pull_stats *stats, lsrc_entry_fn fn,
                      void *ctx);

/* ------------------------------------------------------------ the reader */

struct ldap_source {
    const struct ldap_config *cfg;
    struct lsrc_conn *conn;
    char *naming_context;       /* rootDSE defaultNamingContext, once read */
};

/* Which search of a pull an entry comes from. */
enum pull_phase {
    PHASE_SCOPE,        /* objects in scope (all of them, or those changed since) */
    PHASE_TOMBSTONES,   /* delta: objects deleted since */
    PHASE_LEAVERS,      /* delta: objects changed since anywhere in the domain, GUIDs
                         * only: those PHASE_SCOPE did not return have left the scope */
    PHASE_WATCHED,      /* delta: groups of cfg->watch_groups changed since: were they read? */
    PHASE_OTHERS,       /* ldap_source_pull_others: changed objects of other classes */
    PHASE_EXISTING,     /* ldap_source_first_missing: any entry, its DN to the callback */
    PHASE_SCHEMA,       /* ldap_source_dn_syntax: attributeSchema entries to the callback */
};

struct pull {
    struct ldap_source *src;
    const struct ldap_config *cfg;
    ad_object_cb cb;
    void *ctx;
    struct ldap_pull_stats *stats;
    bool delta;
    enum pull_phase phase;
    unsigned char (*seen)[16];  /* delta: GUIDs handed on in PHASE_SCOPE, sorted later */
    size_t nseen, seen_alloc;
    struct ad_object obj;       /* reused for every entry; its strings live in arena */
    struct arena arena;         /* reset for every entry: no malloc/free per value */
    struct ad_attr *attrs;      /* obj.attrs, capacity kept across entries */
    size_t attrs_alloc;
    bool has_guid;              /* this entry had a 16-byte objectGUID */
    uint32_t range_step;        /* > 0: ask for ranges of this many values (a test hook,
                                 * DUALSYNC_TEST_RANGE_SIZE); 0: as the server splits */
};

/* Attributes of tombstones and of the leavers search. */
extern const char *const pull_tombstone_attrs[];
extern const char *const pull_leaver_attrs[];

/* ldap_read.c */

/* What a pull asks for of a live object: the attributes every pull reads and
 * cfg->attributes; with range_step, "member;range=0-<step-1>". NULL-
 * terminated, free with lread_free_attr_list. */
char **lread_attr_list(const struct ldap_config *cfg, uint32_t range_step);
void lread_free_attr_list(char **attrs);
/* DUALSYNC_TEST_RANGE_SIZE (1 to 1000000), or 0 when unset; -1 when it is
 * not a number in that range (logged). */
int lread_range_step(uint32_t *step);

/* An attribute description's range option (MS-ADTS 3.1.1.3.1.3.3):
 * "member;range=0-1499" is base "member", lo 0, hi 1499; "member;range=1500-*"
 * is the last chunk (LREAD_RANGE_LAST). */
enum lread_range { LREAD_RANGE_NONE, LREAD_RANGE_MORE, LREAD_RANGE_LAST, LREAD_RANGE_BAD };
enum lread_range lread_parse_range(const char *name, size_t len, size_t *base_len,
                                 uint32_t *lo, uint32_t *hi);

/* An lsrc_entry_fn for a pull's searches (ctx: struct pull): decode the
 * entry into p->obj, fetch the rest of ranged attributes, pull_deliver. */
int pull_entry(const struct lsrc_val *dn, struct lsrc_entry *e, void *ctx);

/* rootDSE: the DC's dsServiceName (*dsa, caller frees) and
 * highestCommittedUSN; also learns src->naming_context. */
int lread_root_dse(struct ldap_source *src, char **dsa, uint64_t *usn);
/* The invocationId of the DC's NTDS settings object dsa, as GUID text. */
int lread_invocation_id(struct ldap_source *src, const char *dsa, char out[37]);
/* Does any entry of the naming context match filter? *dn gets the first
 * one's DN (caller frees), or NULL. doing: for the error message. */
int lread_find_one(struct ldap_source *src, const char *filter, const char *doing, char **dn);
/* What the client library found, for lread_report; beyond every RFC 4511
 * resultCode, and apart from the libraries' own codes (OpenLDAP's are
 * negative, wldap32's from 0x51 on). */
enum {
    LREAD_ERR_UNREACHABLE = 0x10001,   /* server down, cannot connect */
    LREAD_ERR_TIMEOUT,
    LREAD_ERR_FILTER,                  /* the filter does not parse */
};
/* One message per failure: what happened, in whose words, and what to do,
 * the same on both platforms. result: an RFC 4511 resultCode (the same
 * number in both libraries) or an LREAD_ERR_; text: the library's words for
 * it; diag: the server's diagnostic message, or "". Returns -1. */
int lread_report(const struct ldap_config *cfg, int result, const char *doing, const char *text,
                 const char *diag);
/* The connection broke after it had delivered entries of a paged search:
 * not "cannot reach", whichever request met the break (the next page, or a
 * ranged read between two entries). entries: delivered so far. Returns -1. */
int lread_report_lost(const struct ldap_config *cfg, const char *doing, unsigned long long entries,
                      const char *text);
/* Refuse a connection that would send a password in clear (logged, -1). */
int lread_refuse_cleartext(const struct ldap_config *cfg, bool tls);
/* A simple bind's password, from cfg->password_file or cfg->password_env.
 * Returns 0, or -1 (logged). The caller wipes it (platform_wipe). */
int lread_password(const struct ldap_config *cfg, struct strbuf *pw);

/* ldap_pull.c */

/* After pull_entry decoded an entry into p->obj: judge its scope and hand it
 * to the callback. cls: scope_classify's answer. Returns 0, or -1 to stop. */
int pull_deliver(struct pull *p, int cls);

#endif
