/* connect_config.h - Entra Connect's own configuration, as the server exports
 * it, judged against what dualsync converts in that server's tenant.
 *
 * `Get-ADSyncServerConfiguration -Path DIR` writes one XML file per object:
 *     DIR/Connectors/Connector_{GUID}.xml                  <ma-data>
 *     DIR/SynchronizationRules/SynchronizationRule_{GUID}.xml  <synchronizationRule>
 *     DIR/GlobalSettings/MV.xml (and others)                <saved-mv-configuration>
 * connect_export_load reads such a folder into plain data (connect_export.c,
 * libxml2; a build without it says so). connect_judge (connect_judge.c) is
 * pure: it looks at that data and at the users dualsync converts, through
 * struct connect_users, and writes findings; connect_judge_tenant
 * (connect_tenant.c, pure too) adds whether the export is that tenant's
 * server at all. Nothing here reads AD or Graph.
 *
 *     struct connect_export ex;
 *     if (connect_export_load(dir, &ex)) ... (errors logged as FILE:LINE: ...)
 *     struct connect_report rep;
 *     connect_judge(&ex, &view, &rep);
 *     connect_report_print(stdout, &rep);
 *     connect_report_free(&rep);
 *     connect_export_free(&ex);
 * The caller owns both structs; the _free functions release what they hold. */
#ifndef DUALSYNC_CONNECT_CONFIG_H
#define DUALSYNC_CONNECT_CONFIG_H

#include "compat.h"

#include "cloud.h"

/* ------------------------------------------------------------ the export */

/* One scoping clause: <scope><csAttribute/><csOperator/><csValue/></scope>. */
struct connect_clause {
    char *attr, *op, *value;
};

/* Clauses of one <conditions> element: all must hold (AND). A rule applies
 * when any of its groups holds (OR); a rule without groups applies to all. */
struct connect_group {
    struct connect_clause *clauses;
    size_t nclauses;
};

/* One attribute flow, <mapping>: Direct (src attributes, no expression),
 * Expression, or Constant (constant set, no src attributes). */
struct connect_flow {
    char *dest;
    char **src;
    size_t nsrc;
    char *expression;       /* NULL: none */
    char *constant;         /* NULL: not a constant flow */
};

struct connect_rule {
    char *file;             /* as read, for messages */
    int line;               /* of <synchronizationRule> */
    char *id, *name, *connector, *source_type, *target_type, *link_type;
    bool outbound;          /* <direction>Outbound */
    bool disabled;
    int precedence;
    struct connect_flow *flows;
    size_t nflows;
    struct connect_group *groups;
    size_t ngroups;
};

struct connect_partition {
    char *name;             /* the partition's DN */
    bool selected;
    char **inclusions, **exclusions;   /* container DNs */
    size_t ninclusions, nexclusions;
    char **classes;         /* <object-classes>; none listed: not filtered */
    size_t nclasses;
};

enum connect_kind { CONNECT_OTHER, CONNECT_AD, CONNECT_ENTRA };

struct connect_connector {
    char *file;
    char *id;               /* lowercase, with braces, as rules name it */
    char *name;
    enum connect_kind kind;
    struct connect_partition *partitions;
    size_t npartitions;
    char **attributes;      /* <attribute-inclusion> */
    size_t nattributes;
    /* Entra: the account the connector signs in to its tenant with, the
     * UserName connectivity parameter (Sync_<server>_<id>@<tenant's initial
     * domain>), and its line in file; NULL, 0: the export has none */
    char *account;
    int account_line;
};

struct connect_setting {
    char *name, *value;
    char *file;
    int line;
};

struct connect_export {
    char *dir;
    char *server;           /* saved-mv-configuration server='...', or NULL */
    struct connect_connector *connectors;
    size_t nconnectors;
    struct connect_rule *rules;
    size_t nrules;
    struct connect_setting *settings;   /* GlobalSettings parameters */
    size_t nsettings;
};

/* Read DIR. Returns 0, or -1 after logging every problem as "FILE:LINE: what;
 * remedy" (a damaged file, one from a configuration version dualsync does not
 * know, a folder that is not such an export). Unknown elements are ignored. */
int connect_export_load(const char *dir, struct connect_export *ex);
/* One file of such a folder as its bytes: DATA, LEN as read from PATH (named
 * in messages) in the folder PART ("Connectors", "SynchronizationRules" or
 * "GlobalSettings"), read as connect_export_load reads it and added to ex
 * (zeroed by the caller). Returns 0, or -1 after logging. For the fuzzer
 * (tests/fuzz/fuzz_connect_export.c). */
int connect_export_read_buffer(struct connect_export *ex, const char *part, const char *path, const char *data,
                               size_t len);
void connect_export_free(struct connect_export *ex);

/* The setting's value, or NULL. */
const struct connect_setting *connect_setting(const struct connect_export *ex, const char *name);

/* ------------------------------------------------------------- the judge */

/* The users dualsync converts in the tenant (external-member or
 * external-guest), as the caller read them from AD. */
struct connect_users {
    bool known;             /* false: AD was not read; findings say so, counts are absent */
    size_t n;
    void *ctx;
    /* The values of AD attribute attr of user i: 1 and *vals, *nvals (may be
     * 0: no value); 0 when the caller did not read attr. */
    int (*values)(void *ctx, size_t i, const char *attr, const char *const **vals, size_t *nvals);
    const char *(*dn)(void *ctx, size_t i);
    const char *(*label)(void *ctx, size_t i);       /* userPrincipalName, for examples */
    bool (*disabled)(void *ctx, size_t i);
    bool (*guest)(void *ctx, size_t i);              /* external-guest (else external-member) */
    /* dualsync's anchor is mS-DS-ConsistencyGuid and it differs from objectGUID */
    bool (*anchor_not_object_guid)(void *ctx, size_t i);
};

/* What dualsync does in the tenant, besides its users. */
struct connect_view {
    const char *tenant;
    const char *ad_source;            /* the kept copy of AD the users come from; NULL: LDAP */
    const char *invite_attribute;     /* the tenant's invite_address_attribute */
    char *const *base_dns;            /* dualsync's [ldap] base_dn values */
    size_t nbase_dns;
    const char *suggest_attribute;    /* an AD attribute whose values tell the converted */
    char *const *suggest_values;      /* users apart (for the remedy), or NULL */
    size_t nsuggest_values;
    struct connect_users users;
};

enum connect_severity {
    CONNECT_OK,             /* checked, nothing in the way */
    CONNECT_NOTE,           /* worth knowing; does not stop conversion */
    CONNECT_WARNING,        /* likely wrong (another tenant's server): does not change the exit code */
    CONNECT_BLOCKED,        /* conversion is stopped or undone for some users */
};

struct connect_finding {
    enum connect_severity severity;
    char *setting;          /* the rule or setting, as Connect names it */
    char *text;             /* what was found, with counts */
    char *why;              /* why it matters to dualsync; NULL for OK */
    char *remedy;           /* what to do; NULL for OK */
};

struct connect_report {
    char *summary;          /* server, version, connectors judged */
    struct connect_finding *findings;
    size_t nfindings;
    size_t blocked;         /* findings with CONNECT_BLOCKED */
    size_t warned;          /* findings with CONNECT_WARNING */
    bool counted;           /* the users were known (AD read) */
};

/* Judge ex for the tenant of view. Pure: no I/O. */
void connect_judge(const struct connect_export *ex, const struct connect_view *view,
                   struct connect_report *out);
void connect_report_print(FILE *out, const char *tenant, const struct connect_report *rep);
void connect_report_free(struct connect_report *rep);
/* Append a finding; rep takes text, why and remedy (malloc'ed, or NULL). */
void connect_report_add(struct connect_report *rep, enum connect_severity sev, const char *setting,
                        char *text, char *why, char *remedy);

/* The AD attributes the export's scoping filters read on the Entra side that
 * AD carries under the same name (the caller reads them so that the judge
 * can evaluate the scopes): appended to *names (xstrdup'ed) unless present. */
void connect_scope_attributes(const struct connect_export *ex, char ***names, size_t *n);

/* One scoping clause against a user: 1 holds, 0 does not, -1 cannot tell
 * (an attribute the caller did not read, an operator dualsync does not
 * evaluate). Exposed for the unit tests. */
int connect_clause_eval(const struct connect_clause *c, const struct connect_users *u, size_t i);

/* ------------------------------------------------------------ the tenant */

/* Which tenant the export's Entra connector exports to (connect_tenant.c,
 * pure). The export names it by one thing: the domain of the connector's
 * account (Connect makes Sync_<server>_<id>@<the tenant's initial domain>)
 * or, failing that, of its default name "<domain> - AAD". It carries no
 * tenant id. The domain, lowercase (caller frees), and in *from "UserName"
 * or "name"; NULL when neither gives one. */
char *connect_entra_domain(const struct connect_connector *c, const char **from);

/* What the caller knows of one [tenant] section. */
struct connect_tenant_side {
    const char *tenant;                 /* [tenant NAME] */
    enum cloud cloud;
    const char *dir;                    /* its export (connect_config), NULL: none */
    const struct connect_export *ex;    /* that export as read, NULL: not read */
    char *const *domains;               /* its verified domains, lowercase, as Graph lists them; */
    size_t ndomains;                    /* NULL: not read, and domains_why says why */
    const char *domains_why;
};

/* Whether sides[self]'s export is that tenant's Connect server, appended to
 * rep: WARNING when its Entra connector's domain is not one of the tenant's
 * verified domains (without them: when it is a domain of another cloud),
 * when it has several Entra connectors, or when another side's export has
 * the same connector account; ok or note when it matches or cannot be told.
 * Warnings do not count as blocked. Pure. */
void connect_judge_tenant(const struct connect_tenant_side *sides, size_t nsides, size_t self,
                          struct connect_report *rep);

#endif
