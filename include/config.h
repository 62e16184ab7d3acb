/* config.h - the INI configuration file (the format of sssd.conf and smb.conf).
 *
 * config_load parses the whole file, reports every problem as "FILE:LINE: ...",
 * and fails if there was any: nothing runs on a half-understood config.
 * Rule errors also name the column and show the line with a caret under the spot.
 * Secrets are never in the file itself, only paths to 0600 files or the names
 * of environment variables; a secret file that group or others can read is
 * refused here already (its mode only: secrets are read by the commands that
 * need them). The caller owns the struct; config_free releases it.
 *
 * Sections: [dualsync], [ldap], and one [tenant NAME] per Entra tenant with its
 * cloud, app credentials, invitation settings and ordered rules (rules.h).
 * Only `rule` and `home_when` may go on over several lines: an indented line
 * continues the key above it. */
#ifndef DUALSYNC_CONFIG_H
#define DUALSYNC_CONFIG_H

#include "compat.h"
#include "cloud.h"
#include "decision.h"
#include "scope.h"

struct cond;
struct rule_source;

enum ldap_bind { LDAP_BIND_GSSAPI, LDAP_BIND_EXTERNAL, LDAP_BIND_SIMPLE };

struct ldap_config {
    char *uri;                 /* ldaps://host[:port] or ldap://host[:port] */
    bool starttls;             /* for ldap://: StartTLS before binding (default yes) */
    char *ca_file;             /* CA bundle that must verify the server certificate */
    enum ldap_bind bind;
    char *bind_dn;             /* simple bind: DN or UPN */
    char *password_file;       /* simple bind: 0600 file holding the password */
    char *password_env;        /* ...or the name of an environment variable */
    char *keytab;              /* GSSAPI: client keytab (else the credential cache) */
    char *principal;           /* GSSAPI with keytab: the principal to use */
    char *client_cert, *client_key;   /* EXTERNAL: TLS client certificate and key */
    bool insecure_lab_cleartext;      /* lab only: allow a simple bind without TLS */
    int page_size;             /* paged-results page size (AD caps it at 1000) */
    int timeout;               /* seconds for connect and for each operation */
    char **attributes;         /* extra attributes to read, beyond the built-in set */
    size_t nattributes;
    char *watermark_file;      /* where `pull` keeps its delta watermark, or NULL */
    char **watch_groups;       /* groups whose changes a delta must notice (ldap_source.h): */
    size_t nwatch_groups;      /* never set by config_load; world.c's request names them */
    const char *snapshot_in;   /* not from the file: --ad-snapshot FILE, set by main.c before
                                * any command sees the config (world.c); borrowed */
    struct scope scope;
};

/* One rule of a tenant (rule = CONDITION -> OUTCOME), its home_when (a
 * condition, no outcome) or its default (an outcome, no condition). */
struct tenant_rule {
    struct cond *cond;         /* the parsed condition (rules.h); NULL for a default */
    enum decision outcome;
    char *text;                /* as written; continuation lines joined by one space */
    int line;                  /* where it starts in the config file; 0: not written */
    struct rule_source *src;   /* private to config.c: where each part of text came from */
};

enum credential { CREDENTIAL_NONE, CREDENTIAL_SECRET, CREDENTIAL_CERTIFICATE, CREDENTIAL_STORE };

/* Tenants are numbered in file order; the policy and the planner use the same
 * index. At most CONFIG_MAX_TENANTS (the policy keeps one bit per tenant). */
#define CONFIG_MAX_TENANTS 64

struct tenant_config {
    char *name;                /* [tenant NAME]: letters, digits, '-', '_' */
    int line;                  /* of the section header */
    enum cloud cloud;
    char *tenant_id;           /* canonical lowercase GUID text */
    char *client_id;           /* the app registration's client id, same form */
    enum credential credential;
    char *client_secret_file;  /* CREDENTIAL_SECRET: 0600 file holding the secret */
    char *client_cert_file;    /* CREDENTIAL_CERTIFICATE: the certificate (PEM) ... */
    char *client_key_file;     /* ... and its 0600 private key */
    char *cert_thumbprint;     /* CREDENTIAL_STORE: SHA-1 thumbprint, 40 lowercase hex digits, */
    bool cert_store_user;      /* of a certificate in LocalMachine\My (or CurrentUser\My) */
    char *mapping_file;        /* default <mappings_dir>/NAME.map */
    char *redirect_url;        /* inviteRedirectUrl; default My Apps of the tenant's cloud */
    char *ca_file;             /* CA bundle for login and Graph TLS (a TLS-inspecting
                                * proxy's CA); NULL: the system store */
    bool send_invitation_message;      /* default no */
    char *invite_address_attribute;    /* AD attribute whose value is invited; default mail */
    int max_changes;           /* per run; default 500 */
    char *connect_config;      /* the folder Get-ADSyncServerConfiguration wrote, or NULL */
    int max_retry_wait;        /* seconds: the longest Retry-After obeyed; default 300 */
    int replication_wait;      /* seconds a lost answer's read-back waits for Graph's replicas; default 30 */
    int timeout;               /* seconds for one HTTP exchange with Graph; default 60 */
    int invitations_per_minute;        /* default 30; 0: no limit (graph.h) */
    char *proxy;               /* NULL: the environment's (https_proxy...), "none", or a URL */
    struct tenant_rule home_when;      /* cond NULL: not set */
    struct tenant_rule *rules;
    size_t nrules;
    struct tenant_rule default_rule;   /* line 0: not written, the outcome is exclude */
};

struct config {
    char *path;
    char *mappings_dir;        /* default "mappings" */
    struct ldap_config ldap;
    struct tenant_config *tenants;
    size_t ntenants;
};

/* The longest line the file may have, in bytes: room for any DN AD can hold
 * (a deep OU tree, escapes) many times over, and a bound on what one line
 * of a hostile file can make us allocate. A longer line is an error. */
#define CONFIG_MAX_LINE 65536

/* The tenant by name (case-insensitive), or NULL. */
struct tenant_config *config_tenant(const struct config *cfg, const char *name);

/* Returns 0, or -1 after printing every error found. */
int config_load(const char *path, struct config *cfg);
void config_free(struct config *cfg);

#endif
