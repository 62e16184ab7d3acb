/* config.h - the INI configuration file (the format of sssd.conf and smb.conf).
 *
 * config_load parses the whole file, reports every problem as "FILE:LINE: ...",
 * and fails if there was any: nothing runs on a half-understood config.
 * Secrets are never in the file itself, only paths to 0600 files or the names
 * of environment variables. The caller owns the struct; config_free releases it. */
#ifndef DUALSYNC_CONFIG_H
#define DUALSYNC_CONFIG_H

#include "compat.h"
#include "scope.h"

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
    struct scope scope;
};

struct config {
    char *path;
    char *mappings_dir;        /* default "mappings" */
    struct ldap_config ldap;
};

/* Returns 0, or -1 after printing every error found. */
int config_load(const char *path, struct config *cfg);
void config_free(struct config *cfg);

#endif
