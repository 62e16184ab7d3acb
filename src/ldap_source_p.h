/* ldap_source_p.h - what the two LDAP backends (ldap_source.c on OpenLDAP,
 * ldap_source_win32.c on wldap32) share with the pull orchestration in
 * ldap_pull.c. Private to those three files.
 *
 * A backend connects, binds, runs searches and decodes entries into p->obj;
 * ldap_pull.c decides which searches a pull makes (full or delta), judges
 * each decoded object's scope and hands it to the caller's callback. */
#ifndef DUALSYNC_LDAP_SOURCE_P_H
#define DUALSYNC_LDAP_SOURCE_P_H

#include "compat.h"
#include "adobject.h"
#include "ldap_source.h"
#include "util.h"

struct ldap_config;

/* Which search of a pull an entry comes from. */
enum pull_phase {
    PHASE_SCOPE,        /* objects in scope (all of them, or those changed since) */
    PHASE_TOMBSTONES,   /* delta: objects deleted since */
    PHASE_LEAVERS,      /* delta: objects changed since anywhere in the domain, GUIDs
                         * only: those PHASE_SCOPE did not return have left the scope */
    PHASE_WATCHED,      /* delta: groups of cfg->watch_groups changed since: were they read? */
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
};

/* Attributes of tombstones and of the leavers search. */
extern const char *const pull_tombstone_attrs[];
extern const char *const pull_leaver_attrs[];

/* The backend's part. Each logs its failures once and returns -1. */
/* rootDSE: the DC's dsServiceName (*dsa, caller frees) and
 * highestCommittedUSN; also learns the naming context. */
int lsrc_read_root_dse(struct ldap_source *src, char **dsa, uint64_t *usn);
/* The invocationId of the DC's NTDS settings object dsa, as GUID text. */
int lsrc_read_invocation_id(struct ldap_source *src, const char *dsa, char out[37]);
const struct ldap_config *lsrc_config(const struct ldap_source *src);
const char *lsrc_naming_context(const struct ldap_source *src);
char **lsrc_attrs(const struct ldap_source *src);
/* A paged subtree search over base: each entry decoded into p->obj, then
 * pull_deliver(p, class). */
int lsrc_paged_search(struct pull *p, const char *base, const char *filter, char **attrs,
                      bool show_deleted);
/* Does any entry of the naming context match filter? *dn gets the first
 * one's DN (caller frees), or NULL. doing: for the error message. */
int lsrc_find_one(struct ldap_source *src, const char *filter, const char *doing, char **dn);

/* The common part, after the backend decoded an entry into p->obj: judge its
 * scope and hand it to the callback. cls: scope_classify's answer. Returns 0,
 * or -1 to stop the pull. */
int pull_deliver(struct pull *p, int cls);

#endif
