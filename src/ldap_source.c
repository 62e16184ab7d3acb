#include "compat.h"

#include <errno.h>
#include <krb5.h>
#include <ldap.h>
#include <sasl/sasl.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "ldap_source.h"
#include "ldap_source_p.h"
#include "log.h"
#include "platform.h"
#include "scope.h"
#include "tls_probe.h"
#include "util.h"

struct ldap_source {
    const struct ldap_config *cfg;
    LDAP *ld;
    bool tls;                   /* the transport is TLS (ldaps:// or StartTLS) */
    char *naming_context;       /* rootDSE defaultNamingContext */
    char *ccache_name;          /* our MEMORY: ccache when binding with a keytab */
    char **attrs;               /* NULL-terminated list requested for live objects */
};

/* Attributes every pull reads; the config may add more. */
static const char *const base_attrs[] = {
    "objectClass", "objectGUID", "mS-DS-ConsistencyGuid", "objectSid", "userAccountControl",
    "uSNChanged", "whenChanged", "isDeleted", "lastKnownParent",
    "cn", "sAMAccountName", "userPrincipalName", "mail", "displayName", "givenName", "sn",
    "c", "co", "countryCode", "company", "department", "title", "telephoneNumber",
    "proxyAddresses", "manager", "employeeID", "member", "memberOf",
    "extensionAttribute1", "extensionAttribute2", "extensionAttribute3", "extensionAttribute4",
    "extensionAttribute5", "extensionAttribute6", "extensionAttribute7", "extensionAttribute8",
    "extensionAttribute9", "extensionAttribute10", "extensionAttribute11",
    "extensionAttribute12", "extensionAttribute13", "extensionAttribute14",
    "extensionAttribute15",
};


/* ---------------------------------------------------------------- errors */

static const char *diag(LDAP *ld)
{
    static char buf[512];
    char *msg = NULL;
    buf[0] = '\0';
    if (ld && ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &msg) == LDAP_OPT_SUCCESS && msg) {
        snprintf(buf, sizeof(buf), "%s", msg);
        ldap_memfree(msg);
    }
    return buf;
}

/* One message per failure: what happened, in whose words, and what to do. */
static int report(struct ldap_source *src, int rc, const char *doing)
{
    const struct ldap_config *cfg = src->cfg;
    const char *d = diag(src->ld);
    const char *uri = cfg->uri;
    if (strstr(d, "certificate verify failed") || strstr(d, "certificate"))
        return log_error("%s: TLS: the server certificate of %s is not trusted (%s); "
                         "set [ldap] ca_file to the CA that issued the domain controller's certificate "
                         "and make sure the host name in uri is in the certificate",
                         doing, uri, d);
    switch (rc) {
    case LDAP_SERVER_DOWN:
    case LDAP_CONNECT_ERROR:
        return log_error("%s: cannot reach %s%s%s; check uri and that the domain controller "
                         "is up and reachable", doing, uri, *d ? ": " : "", d);
    case LDAP_TIMEOUT:
        return log_error("%s: %s did not answer within %d s; check the network or raise "
                         "[ldap] timeout", doing, uri, cfg->timeout);
    case LDAP_INVALID_CREDENTIALS:
        return log_error("%s: the server refused the credentials of %s (%s); check bind_dn "
                         "and the password in %s", doing, cfg->bind_dn ? cfg->bind_dn : "(sasl)", d,
                         cfg->password_file ? cfg->password_file : cfg->password_env ? cfg->password_env : "the keytab");
    case LDAP_STRONG_AUTH_REQUIRED:
    case LDAP_CONFIDENTIALITY_REQUIRED:
        return log_error("%s: %s requires a protected connection (%s); use ldaps:// or "
                         "StartTLS, or bind = gssapi", doing, uri, d);
    case LDAP_NO_SUCH_OBJECT:
        return log_error("%s: the base DN does not exist on %s (%s); check base_dn in the "
                         "[ldap] section", doing, uri, d);
    case LDAP_REFERRAL:
        return log_error("%s: %s does not hold this base DN and referred us elsewhere (%s); "
                         "point uri at a domain controller of that domain, or at a global catalog",
                         doing, uri, d);
    case LDAP_SIZELIMIT_EXCEEDED:
        return log_error("%s: %s hit its size limit (%s); the paged-results control should "
                         "avoid this: lower [ldap] page_size to at most the server's MaxPageSize",
                         doing, uri, d);
    case LDAP_ADMINLIMIT_EXCEEDED:
        return log_error("%s: %s refused the search as too expensive (%s); lower page_size "
                         "or narrow the scope", doing, uri, d);
    case LDAP_FILTER_ERROR:
        return log_error("%s: the LDAP filter is not valid (%s); check [ldap] filter", doing, d);
    case LDAP_INSUFFICIENT_ACCESS:
        return log_error("%s: access denied on %s (%s); the bind account needs read access",
                         doing, uri, d);
    case LDAP_LOCAL_ERROR:
    case LDAP_AUTH_UNKNOWN:
    case LDAP_AUTH_METHOD_NOT_SUPPORTED:
        if (strstr(d, "No Kerberos credentials") || strstr(d, "not found in Kerberos")
            || strstr(d, "No credentials cache") || strstr(d, "expired") || strstr(d, "Ticket"))
            return log_error("%s: no valid Kerberos ticket (%s); run kinit as the service "
                             "account, or set [ldap] keytab and principal", doing, d);
        if (strstr(d, "Server not found") || strstr(d, "Server ldap"))
            return log_error("%s: Kerberos has no service principal for %s (%s); use the "
                             "domain controller's host name in uri", doing, uri, d);
        break;
    default:
        break;
    }
    return log_error("%s: %s: %s%s%s", doing, uri, ldap_err2string(rc), *d ? ": " : "", d);
}

/* libldap says only "Can't contact LDAP server" when the TLS handshake fails;
 * probe once more with OpenSSL to tell an unreachable host from an untrusted
 * certificate, and say which. */
static int report_connect(struct ldap_source *src, int rc, const char *doing, bool starttls)
{
    const struct ldap_config *cfg = src->cfg;
    LDAPURLDesc *lud = NULL;
    if (!src->tls || ldap_url_parse(cfg->uri, &lud) != LDAP_URL_SUCCESS || !lud->lud_host)
        return ldap_free_urldesc(lud), report(src, rc, doing);
    int port = lud->lud_port ? lud->lud_port : starttls ? 389 : 636;
    struct strbuf why = STRBUF_INIT;
    enum tls_probe_result r = tls_probe(lud->lud_host, port, starttls, cfg->ca_file, cfg->timeout, &why);
    int ret;
    switch (r) {
    case TLS_PROBE_UNTRUSTED:
        ret = log_error("%s: TLS: the server certificate of %s is not trusted (%s); set [ldap] "
                        "ca_file to the CA that issued the domain controller's certificate (now %s) "
                        "and use a host name that the certificate names", doing, cfg->uri,
                        why.buf, cfg->ca_file ? cfg->ca_file : "the system store");
        break;
    case TLS_PROBE_UNREACHABLE:
        ret = log_error("%s: cannot reach %s (%s); check uri and that the domain controller is "
                        "up and reachable", doing, cfg->uri, why.buf);
        break;
    case TLS_PROBE_HANDSHAKE:
        ret = log_error("%s: no TLS connection to %s (%s); check that the port speaks %s", doing,
                        cfg->uri, why.buf, starttls ? "LDAP with StartTLS" : "LDAPS");
        break;
    default:
        ret = report(src, rc, doing);
    }
    strbuf_release(&why);
    ldap_free_urldesc(lud);
    return ret;
}

/* ------------------------------------------------------------- kerberos */

/* Get a TGT from the keytab into a private in-memory credential cache, so a
 * service needs no kinit cron job and no ticket file on disk. */
static int kinit_keytab(struct ldap_source *src)
{
    const struct ldap_config *cfg = src->cfg;
    krb5_context ctx;
    krb5_keytab kt = NULL;
    krb5_principal princ = NULL;
    krb5_ccache cc = NULL;
    krb5_creds creds;
    krb5_get_init_creds_opt *opt = NULL;
    int ret = -1;
    memset(&creds, 0, sizeof(creds));
    if (krb5_init_context(&ctx))
        return log_error("kerberos: cannot initialise the library; check KRB5_CONFIG");
    krb5_error_code kerr;
    const char *step = "parse principal";
    if ((kerr = krb5_parse_name(ctx, cfg->principal, &princ)))
        goto out;
    step = "open keytab";
    if ((kerr = krb5_kt_resolve(ctx, cfg->keytab, &kt)))
        goto out;
    step = "get a ticket with the keytab";
    if ((kerr = krb5_get_init_creds_opt_alloc(ctx, &opt)))
        goto out;
    if ((kerr = krb5_get_init_creds_keytab(ctx, &creds, princ, kt, 0, NULL, opt)))
        goto out;
    free(src->ccache_name);
    src->ccache_name = xasprintf("MEMORY:dualsync-%ld", (long)getpid());
    step = "store the ticket";
    if ((kerr = krb5_cc_resolve(ctx, src->ccache_name, &cc)))
        goto out;
    if ((kerr = krb5_cc_initialize(ctx, cc, princ)) || (kerr = krb5_cc_store_cred(ctx, cc, &creds)))
        goto out;
    /* the GSSAPI SASL plugin finds the ticket through the default ccache */
    setenv("KRB5CCNAME", src->ccache_name, 1);
    ret = 0;
out:
    if (ret) {
        const char *m = krb5_get_error_message(ctx, kerr);
        log_error("kerberos: cannot %s for %s from keytab %s: %s; check keytab, principal "
                  "and KRB5_CONFIG", step, cfg->principal, cfg->keytab, m);
        krb5_free_error_message(ctx, m);
    }
    krb5_free_cred_contents(ctx, &creds);
    if (opt)
        krb5_get_init_creds_opt_free(ctx, opt);
    if (cc && ret == 0)
        krb5_cc_close(ctx, cc);   /* a MEMORY ccache lives on while the process does */
    else if (cc)
        krb5_cc_destroy(ctx, cc);
    if (kt)
        krb5_kt_close(ctx, kt);
    if (princ)
        krb5_free_principal(ctx, princ);
    krb5_free_context(ctx);
    return ret;
}

static int sasl_interact(LDAP *ld, unsigned flags, void *defaults, void *in)
{
    (void)ld; (void)flags; (void)defaults;
    /* GSSAPI and EXTERNAL need no answers; give the default (empty) to any prompt */
    for (sasl_interact_t *i = in; i->id != SASL_CB_LIST_END; i++) {
        i->result = i->defresult ? i->defresult : "";
        i->len = (unsigned)strlen(i->result);
    }
    return LDAP_SUCCESS;
}

/* ------------------------------------------------------------ connecting */

static int set_opt(struct ldap_source *src, int opt, const void *val, const char *what)
{
    int rc = ldap_set_option(src->ld, opt, val);
    if (rc != LDAP_OPT_SUCCESS)
        return log_error("ldap: cannot set %s: %s", what, ldap_err2string(rc));
    return 0;
}

static int configure_tls(struct ldap_source *src)
{
    const struct ldap_config *cfg = src->cfg;
    /* Always demand a valid certificate, whatever ldap.conf or LDAPTLS_REQCERT say. */
    int hard = LDAP_OPT_X_TLS_HARD, tls12 = LDAP_OPT_X_TLS_PROTOCOL_TLS1_2, zero = 0;
    if (set_opt(src, LDAP_OPT_X_TLS_REQUIRE_CERT, &hard, "TLS require_cert")
        || set_opt(src, LDAP_OPT_X_TLS_PROTOCOL_MIN, &tls12, "TLS minimum protocol"))
        return -1;
    if (cfg->ca_file) {
        if (access(cfg->ca_file, R_OK) != 0)
            return log_error("ldap: ca_file %s: %s", cfg->ca_file, strerror(errno));
        if (set_opt(src, LDAP_OPT_X_TLS_CACERTFILE, cfg->ca_file, "ca_file"))
            return -1;
    }
    if (cfg->bind == LDAP_BIND_EXTERNAL) {
        if (set_opt(src, LDAP_OPT_X_TLS_CERTFILE, cfg->client_cert, "client_cert")
            || set_opt(src, LDAP_OPT_X_TLS_KEYFILE, cfg->client_key, "client_key"))
            return -1;
    }
    /* per-handle TLS settings take effect only in a new context */
    return set_opt(src, LDAP_OPT_X_TLS_NEWCTX, &zero, "TLS context");
}

static int bind(struct ldap_source *src)
{
    const struct ldap_config *cfg = src->cfg;
    int rc;
    if (cfg->bind == LDAP_BIND_SIMPLE) {
        struct strbuf pw = STRBUF_INIT;
        if (cfg->password_file) {
            if (platform_read_secret_file(cfg->password_file, "ldap password", &pw))
                return -1;
        } else {
            const char *v = getenv(cfg->password_env);
            if (!v || !*v)
                return log_error("ldap: environment variable %s (password_env) is not set",
                                 cfg->password_env);
            strbuf_addstr(&pw, v);
        }
        struct berval cred = { pw.len, pw.buf };
        rc = ldap_sasl_bind_s(src->ld, cfg->bind_dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
        platform_wipe(&pw);
        if (rc != LDAP_SUCCESS)
            return report(src, rc, "simple bind");
        return 0;
    }
    const char *mech = cfg->bind == LDAP_BIND_GSSAPI ? "GSSAPI" : "EXTERNAL";
    if (cfg->bind == LDAP_BIND_GSSAPI) {
        if (cfg->keytab && kinit_keytab(src))
            return -1;
        /* Over TLS, AD (and Samba's allow_sasl_over_tls) refuse a second layer of
         * SASL sign/seal; without TLS we insist on it (56 = integrity + privacy). */
        const char *secprops = src->tls ? "maxssf=0" : "minssf=56";
        if (set_opt(src, LDAP_OPT_X_SASL_SECPROPS, secprops, "SASL security properties"))
            return -1;
    }
    rc = ldap_sasl_interactive_bind_s(src->ld, NULL, mech, NULL, NULL, LDAP_SASL_QUIET,
                                      sasl_interact, NULL);
    if (rc != LDAP_SUCCESS)
        return report(src, rc, cfg->bind == LDAP_BIND_GSSAPI ? "kerberos (GSSAPI) bind" : "SASL EXTERNAL bind");
    return 0;
}

static char *first_value(LDAP *ld, LDAPMessage *e, const char *attr)
{
    struct berval **v = ldap_get_values_len(ld, e, attr);
    char *s = v && v[0] ? xstrndup(v[0]->bv_val, v[0]->bv_len) : NULL;
    ldap_value_free_len(v);
    return s;
}

int lsrc_read_root_dse(struct ldap_source *src, char **dsa, uint64_t *usn)
{
    char *attrs[] = { "defaultNamingContext", "dsServiceName", "highestCommittedUSN", NULL };
    LDAPMessage *res = NULL;
    struct timeval tv = { src->cfg->timeout, 0 };
    int rc = ldap_search_ext_s(src->ld, "", LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0,
                               NULL, NULL, &tv, 0, &res);
    if (rc != LDAP_SUCCESS) {
        ldap_msgfree(res);
        return report(src, rc, "read rootDSE");
    }
    LDAPMessage *e = ldap_first_entry(src->ld, res);
    char *nc = e ? first_value(src->ld, e, "defaultNamingContext") : NULL;
    char *svc = e ? first_value(src->ld, e, "dsServiceName") : NULL;
    char *u = e ? first_value(src->ld, e, "highestCommittedUSN") : NULL;
    ldap_msgfree(res);
    int ret = 0;
    if (!nc || !svc || !u || parse_u64(u, usn)) {
        ret = log_error("%s does not look like an Active Directory domain controller "
                        "(rootDSE lacks defaultNamingContext, dsServiceName or highestCommittedUSN)",
                        src->cfg->uri);
    } else {
        free(src->naming_context);
        src->naming_context = nc;
        nc = NULL;
        *dsa = svc;
        svc = NULL;
    }
    free(nc);
    free(svc);
    free(u);
    return ret;
}

int ldap_source_open(const struct ldap_config *cfg, struct ldap_source **out)
{
    struct ldap_source *src = xcalloc(1, sizeof(*src));
    src->cfg = cfg;
    bool ldaps = strncasecmp(cfg->uri, "ldaps://", 8) == 0;
    src->tls = ldaps || cfg->starttls;
    if (!src->tls && cfg->bind == LDAP_BIND_SIMPLE && !cfg->insecure_lab_cleartext) {
        log_error("refusing a simple bind over cleartext %s: it would send the password "
                  "unprotected; use ldaps:// or starttls = yes (insecure_lab_cleartext exists "
                  "for throw-away labs only)", cfg->uri);
        goto fail;
    }
    if (!src->tls && cfg->bind == LDAP_BIND_EXTERNAL) {
        log_error("SASL EXTERNAL needs TLS (a client certificate); use ldaps:// or starttls = yes");
        goto fail;
    }
    int rc = ldap_initialize(&src->ld, cfg->uri);
    if (rc != LDAP_SUCCESS) {
        log_error("ldap: bad uri %s: %s", cfg->uri, ldap_err2string(rc));
        goto fail;
    }
    int v3 = LDAP_VERSION3;
    struct timeval tv = { cfg->timeout, 0 };
    if (set_opt(src, LDAP_OPT_PROTOCOL_VERSION, &v3, "protocol version")
        /* we report referrals instead of chasing them with our credentials */
        || set_opt(src, LDAP_OPT_REFERRALS, LDAP_OPT_OFF, "referrals")
        || set_opt(src, LDAP_OPT_NETWORK_TIMEOUT, &tv, "network timeout")
        || set_opt(src, LDAP_OPT_TIMEOUT, &tv, "timeout"))
        goto fail;
    if (src->tls && configure_tls(src))
        goto fail;
    rc = ldap_connect(src->ld);
    if (rc != LDAP_SUCCESS) {
        report_connect(src, rc, "connect", false);
        goto fail;
    }
    if (!ldaps && cfg->starttls) {
        rc = ldap_start_tls_s(src->ld, NULL, NULL);
        if (rc != LDAP_SUCCESS) {
            report_connect(src, rc, "StartTLS", true);
            goto fail;
        }
    }
    if (bind(src))
        goto fail;

    size_t n = ARRAY_SIZE(base_attrs) + cfg->nattributes;
    src->attrs = xcalloc(n + 1, sizeof(char *));
    size_t k = 0;
    for (size_t i = 0; i < ARRAY_SIZE(base_attrs); i++)
        src->attrs[k++] = xstrdup(base_attrs[i]);
    for (size_t i = 0; i < cfg->nattributes; i++)
        src->attrs[k++] = xstrdup(cfg->attributes[i]);
    *out = src;
    return 0;
fail:
    ldap_source_close(src);
    return -1;
}

void ldap_source_close(struct ldap_source *src)
{
    if (!src)
        return;
    if (src->ld)
        ldap_unbind_ext_s(src->ld, NULL, NULL);
    if (src->attrs)
        for (char **a = src->attrs; *a; a++)
            free(*a);
    free(src->attrs);
    free(src->naming_context);
    free(src->ccache_name);
    free(src);
}

/* ------------------------------------------------------------ invocationId */

/* The invocationId of the DC we talk to: a USN watermark is only valid on it. */
int lsrc_read_invocation_id(struct ldap_source *src, const char *dsa, char out[37])
{
    char *attrs[] = { "invocationId", NULL };
    LDAPMessage *res = NULL;
    struct timeval tv = { src->cfg->timeout, 0 };
    int rc = ldap_search_ext_s(src->ld, dsa, LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0,
                               NULL, NULL, &tv, 0, &res);
    if (rc != LDAP_SUCCESS) {
        ldap_msgfree(res);
        return report(src, rc, "read the DC's invocationId");
    }
    LDAPMessage *e = ldap_first_entry(src->ld, res);
    struct berval **v = e ? ldap_get_values_len(src->ld, e, "invocationId") : NULL;
    int ret = 0;
    if (v && v[0] && v[0]->bv_len == 16)
        ad_guid_to_text((const unsigned char *)v[0]->bv_val, out);
    else
        ret = log_error("%s: no invocationId on %s; cannot keep a delta watermark", src->cfg->uri, dsa);
    ldap_value_free_len(v);
    ldap_msgfree(res);
    return ret;
}

/* ---------------------------------------------------------------- entries */


/* "member;range=0-1499" → base "member", returns the first index after the
 * range or 0 when the range ends with '*'; -1 when the name has no range. */
static long parse_range(const char *name, size_t len, size_t *base_len)
{
    /* most names have no option at all: look for ';' before the full match */
    const char *r = memchr(name, ';', len) ? memmem(name, len, ";range=", 7) : NULL;
    if (!r)
        return -1;
    *base_len = (size_t)(r - name);
    const char *dash = memchr(r + 7, '-', len - (size_t)(r + 7 - name));
    if (!dash)
        return -1;
    if (dash[1] == '*')
        return 0;
    uint64_t hi;
    char num[24];
    snprintf(num, sizeof(num), "%.*s", (int)(len - (size_t)(dash + 1 - name)), dash + 1);
    if (parse_u64(num, &hi))
        return -1;
    return (long)hi + 1;
}

/* Append values to an attribute; the vals array is rebuilt in the arena. */
static void attr_add_values(struct arena *ar, struct ad_attr *a, const struct berval *v)
{
    size_t n = 0;
    while (v && v[n].bv_val)
        n++;
    char **vals = arena_alloc(ar, (a->nvals + n + 1) * sizeof(char *));
    if (a->nvals)
        memcpy(vals, a->vals, a->nvals * sizeof(char *));
    for (size_t i = 0; i < n; i++)
        vals[a->nvals + i] = arena_strndup(ar, v[i].bv_val, v[i].bv_len);
    a->nvals += n;
    vals[a->nvals] = NULL;
    a->vals = vals;
}

/* Fetch the rest of a ranged attribute with base searches "attr;range=N-*"
 * until the server marks the last chunk with '*'. */
static int fetch_range(struct pull *p, const char *dn, struct ad_attr *a, long next)
{
    LDAP *ld = p->src->ld;
    while (next > 0) {
        char *want = xasprintf("%s;range=%ld-*", a->name, next);
        char *attrs[] = { want, NULL };
        LDAPMessage *res = NULL;
        struct timeval tv = { p->src->cfg->timeout, 0 };
        int rc = ldap_search_ext_s(ld, dn, LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0,
                                   NULL, NULL, &tv, 0, &res);
        free(want);
        p->stats->ranged_fetches++;
        if (rc != LDAP_SUCCESS) {
            ldap_msgfree(res);
            return report(p->src, rc, "ranged read of a large attribute");
        }
        LDAPMessage *e = ldap_first_entry(ld, res);
        BerElement *ber = NULL;
        long after = 0;
        bool got = false;
        for (char *name = e ? ldap_first_attribute(ld, e, &ber) : NULL; name;
             name = ldap_next_attribute(ld, e, ber)) {
            size_t blen;
            long r = parse_range(name, strlen(name), &blen);
            if (r >= 0 && blen == strlen(a->name) && !strncasecmp(name, a->name, blen)) {
                struct berval **v = ldap_get_values_len(ld, e, name);
                size_t n = ldap_count_values_len(v);
                struct berval *flat = xcalloc(n + 1, sizeof(*flat));
                for (size_t i = 0; i < n; i++)
                    flat[i] = *v[i];
                attr_add_values(&p->arena, a, flat);
                free(flat);
                ldap_value_free_len(v);
                after = r;
                got = true;
            }
            ldap_memfree(name);
        }
        ber_free(ber, 0);
        ldap_msgfree(res);
        if (!got)
            return log_error("%s: the server ended the ranged read of %s on %s at %ld values "
                             "without a final range; the object changed during the read, rerun",
                             p->src->cfg->uri, a->name, dn, next);
        next = after;
    }
    return 0;
}

static bool name_is(const struct berval *name, const char *want)
{
    return name->bv_len == strlen(want) && !strncasecmp(name->bv_val, want, name->bv_len);
}

static bool copy_guid(const struct berval *v, unsigned char out[16])
{
    if (!v || !v[0].bv_val || v[0].bv_len != 16)
        return false;
    memcpy(out, v[0].bv_val, 16);
    return true;
}

/* A small decimal value (userAccountControl, uSNChanged) → text for the parsers. */
static void value_text(const struct berval *v, char *buf, size_t size)
{
    snprintf(buf, size, "%.*s", v && v[0].bv_val ? (int)v[0].bv_len : 0, v && v[0].bv_val ? v[0].bv_val : "");
}

/* Decode one attribute of the entry into p->obj. Returns 0, or -1 to stop. */
static int decode_attr(struct pull *p, const struct berval *name, const struct berval *v, int *cls)
{
    struct ad_object *o = &p->obj;
    char num[32];
    if (name_is(name, "objectClass")) {
        char *oc[32];
        size_t n = 0;
        for (size_t i = 0; v && v[i].bv_val && n < ARRAY_SIZE(oc); i++)
            oc[n++] = arena_strndup(&p->arena, v[i].bv_val, v[i].bv_len);
        *cls = scope_classify(oc, n);
    } else if (name_is(name, "objectGUID")) {
        p->has_guid = copy_guid(v, o->guid);
    } else if (name_is(name, "mS-DS-ConsistencyGuid")) {
        o->has_consistency_guid = copy_guid(v, o->consistency_guid);
        o->bad_consistency_guid = !o->has_consistency_guid && v && v[0].bv_val;
    } else if (name_is(name, "objectSid")) {
        struct strbuf sb = STRBUF_INIT;
        if (v && v[0].bv_val && ad_sid_to_text((unsigned char *)v[0].bv_val, v[0].bv_len, &sb) == 0)
            o->sid = arena_strndup(&p->arena, sb.buf, sb.len);
        strbuf_release(&sb);
    } else if (name_is(name, "userAccountControl")) {
        int uac;
        value_text(v, num, sizeof(num));
        /* AD sends the 32-bit flags as a signed decimal */
        if (parse_int(num, INT32_MIN, INT32_MAX, &uac) == 0) {
            o->uac = (uint32_t)uac;
            o->disabled = (o->uac & AD_UAC_ACCOUNTDISABLE) != 0;
        }
    } else if (name_is(name, "uSNChanged")) {
        value_text(v, num, sizeof(num));
        parse_u64(num, &o->usn_changed);
    } else if (name_is(name, "whenChanged")) {
        if (v && v[0].bv_val)
            o->when_changed = arena_strndup(&p->arena, v[0].bv_val, v[0].bv_len);
    } else if (name_is(name, "isDeleted")) {
        o->deleted = v && v[0].bv_val && v[0].bv_len == 4 && !strncasecmp(v[0].bv_val, "TRUE", 4);
    } else if (name_is(name, "lastKnownParent")) {
        if (v && v[0].bv_val)
            o->parent_dn = arena_strndup(&p->arena, v[0].bv_val, v[0].bv_len);
    } else {
        /* an entry names each attribute once, so no lookup: append */
        size_t blen;
        long next = parse_range(name->bv_val, name->bv_len, &blen);
        GROW(p->attrs, p->attrs_alloc, o->nattrs + 1);
        o->attrs = p->attrs;
        struct ad_attr *a = &o->attrs[o->nattrs++];
        a->name = arena_strndup(&p->arena, name->bv_val, next >= 0 ? blen : name->bv_len);
        a->nvals = 0;
        a->vals = NULL;
        attr_add_values(&p->arena, a, v);
        if (next > 0 && fetch_range(p, o->dn, a, next))
            return -1;
    }
    return 0;
}

/* Decode one entry into p->obj and hand it on. Returns 0, or -1 to stop.
 * One pass over the entry's BER (ldap_get_attribute_ber): asking libldap for
 * each attribute by name would rescan the entry every time. */
static int handle_entry(struct pull *p, LDAPMessage *e)
{
    LDAP *ld = p->src->ld;
    struct ad_object *o = &p->obj;
    arena_reset(&p->arena);
    memset(o, 0, sizeof(*o));
    o->attrs = p->attrs;
    p->has_guid = false;

    BerElement *ber = NULL;
    struct berval dn;
    if (ldap_get_dn_ber(ld, e, &ber, &dn) != LDAP_SUCCESS) {
        ber_free(ber, 0);
        return report(p->src, LDAP_DECODING_ERROR, "read an entry");
    }
    o->dn = arena_strndup(&p->arena, dn.bv_val, dn.bv_len);
    int cls = -1, ret = 0;
    struct berval name, *vals;
    while (ldap_get_attribute_ber(ld, e, ber, &name, &vals) == LDAP_SUCCESS && name.bv_val) {
        ret = decode_attr(p, &name, vals, &cls);
        ber_memfree(vals);
        if (ret)
            break;
    }
    ber_free(ber, 0);
    if (ret)
        return ret;
    return pull_deliver(p, cls);
}

/* One paged search over base; entries stream to handle_entry as they arrive. */
int lsrc_paged_search(struct pull *p, const char *base, const char *filter, char **attrs,
                      bool show_deleted)
{
    LDAP *ld = p->src->ld;
    const struct ldap_config *cfg = p->src->cfg;
    struct berval cookie = { 0, NULL };
    int ret = 0;
    log_debug("search base=%s filter=%s", base, filter);
    do {
        LDAPControl *page = NULL, *ctrls[3] = { NULL, NULL, NULL };
        LDAPControl show = { LDAP_CONTROL_X_SHOW_DELETED, { 0, NULL }, 1 };
        int rc = ldap_create_page_control(ld, (ber_int_t)cfg->page_size, &cookie, 1, &page);
        if (rc != LDAP_SUCCESS)
            return report(p->src, rc, "create the paged-results control");
        ctrls[0] = page;
        if (show_deleted)
            ctrls[1] = &show;
        int msgid;
        rc = ldap_search_ext(ld, base, LDAP_SCOPE_SUBTREE, filter, attrs, 0, ctrls, NULL,
                             NULL, 0, &msgid);
        ldap_control_free(page);
        if (rc != LDAP_SUCCESS) {
            ret = report(p->src, rc, "search");
            break;
        }
        p->stats->pages++;
        bool done = false;
        while (!done) {
            LDAPMessage *msg = NULL;
            struct timeval tv = { cfg->timeout, 0 };
            rc = ldap_result(ld, msgid, LDAP_MSG_ONE, &tv, &msg);
            if (rc == 0) {
                ldap_abandon_ext(ld, msgid, NULL, NULL);
                ret = report(p->src, LDAP_TIMEOUT, "search");
                break;
            }
            if (rc < 0) {
                int err = LDAP_SERVER_DOWN;
                ldap_get_option(ld, LDAP_OPT_RESULT_CODE, &err);
                ret = log_error("search: the connection to %s was lost after %llu objects (%s); "
                                "nothing was written; check the domain controller and rerun",
                                cfg->uri, (unsigned long long)p->stats->objects,
                                ldap_err2string(err));
                break;
            }
            switch (ldap_msgtype(msg)) {
            case LDAP_RES_SEARCH_ENTRY:
                if (handle_entry(p, msg))
                    ret = -1;
                break;
            case LDAP_RES_SEARCH_REFERENCE:
                /* continuation references (e.g. to the Configuration partition)
                 * point outside the domain we read: not ours to follow */
                break;
            case LDAP_RES_SEARCH_RESULT: {
                int err = LDAP_SUCCESS;
                char *matched = NULL, *text = NULL, **refs = NULL;
                LDAPControl **sctrls = NULL;
                rc = ldap_parse_result(ld, msg, &err, &matched, &text, &refs, &sctrls, 0);
                if (rc != LDAP_SUCCESS)
                    err = rc;
                free(cookie.bv_val);
                cookie.bv_val = NULL;
                cookie.bv_len = 0;
                if (err == LDAP_REFERRAL) {
                    ret = log_error("search %s: %s does not hold this base DN and referred us to "
                                    "%s; point uri at a domain controller of that domain, or at "
                                    "a global catalog", base, cfg->uri, refs && refs[0] ? refs[0] : "?");
                } else if (err == LDAP_NO_SUCH_OBJECT) {
                    bool near = matched && *matched;
                    ret = log_error("search: base DN %s does not exist on %s%s%s%s; check base_dn "
                                    "in the [ldap] section", base, cfg->uri,
                                    near ? " (nearest existing entry: " : "",
                                    near ? matched : "", near ? ")" : "");
                } else if (err != LDAP_SUCCESS) {
                    ldap_set_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, text);
                    ret = report(p->src, err, "search");
                } else {
                    LDAPControl *pr = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, sctrls, NULL);
                    ber_int_t estimate;
                    if (pr && ldap_parse_pageresponse_control(ld, pr, &estimate, &cookie) != LDAP_SUCCESS)
                        ret = report(p->src, LDAP_DECODING_ERROR, "read the paged-results cookie");
                }
                ldap_memfree(matched);
                ldap_memfree(text);
                ldap_memvfree((void **)refs);
                ldap_controls_free(sctrls);
                done = true;
                break;
            }
            default:
                break;
            }
            ldap_msgfree(msg);
            if (ret) {
                if (!done)
                    ldap_abandon_ext(ld, msgid, NULL, NULL);
                break;
            }
        }
        if (ret)
            break;
    } while (cookie.bv_len > 0);
    free(cookie.bv_val);
    return ret;
}

/* ---------------------------------------------------------------- for ldap_pull.c */

const struct ldap_config *lsrc_config(const struct ldap_source *src)
{
    return src->cfg;
}

const char *lsrc_naming_context(const struct ldap_source *src)
{
    return src->naming_context;
}

char **lsrc_attrs(const struct ldap_source *src)
{
    return src->attrs;
}

int lsrc_find_one(struct ldap_source *src, const char *filter, const char *doing, char **dn)
{
    char *attrs[] = { "1.1", NULL };   /* RFC 4511: no attributes, just the DNs */
    LDAPMessage *res = NULL;
    struct timeval tv = { src->cfg->timeout, 0 };
    *dn = NULL;
    log_debug("search base=%s filter=%s (one)", src->naming_context, filter);
    int rc = ldap_search_ext_s(src->ld, src->naming_context, LDAP_SCOPE_SUBTREE, filter, attrs, 0,
                               NULL, NULL, &tv, 1, &res);
    if (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED) {
        ldap_msgfree(res);
        return report(src, rc, doing);
    }
    LDAPMessage *e = ldap_first_entry(src->ld, res);
    if (e) {
        char *d = ldap_get_dn(src->ld, e);
        *dn = xstrdup(d ? d : "?");
        ldap_memfree(d);
    }
    ldap_msgfree(res);
    return 0;
}
