/* ldap_source_win32.c - ldap_source.h on Windows' own LDAP client, wldap32.
 *
 * The same contract and the same algorithm as ldap_source.c (OpenLDAP): the
 * watermark read first, a full or delta paged search per base DN, ranged
 * retrieval, tombstones through the show-deleted control. What differs is
 * Windows' part of the job:
 *   - TLS is Schannel: ldaps:// through ldap_sslinit, StartTLS through
 *     ldap_start_tls_s; the server certificate goes through our callback
 *     (LDAP_OPT_SERVER_CERTIFICATE), which builds its chain with
 *     CertGetCertificateChain against ca_file alone when one is configured
 *     (an exclusive-root chain engine) or against Windows' store otherwise,
 *     and checks the host name with the SSL chain policy.
 *   - bind = gssapi is LDAP_AUTH_NEGOTIATE: SSPI's Kerberos with the logon of
 *     the account that runs dualsync (a user, a service account, a gMSA); no
 *     keytab. Without TLS it asks for signing and sealing, as minssf=56 does.
 *   - bind = external (a client certificate) is not offered here.
 * Strings go to the "A" functions as UTF-8: the manifest makes UTF-8 the
 * process code page (dualsync.exe.manifest). Values are read as raw bytes
 * (ldap_get_values_len), as on POSIX. */
#include "compat.h"

#include <windows.h>
#include <wincrypt.h>
#include <winldap.h>
#include <winber.h>
#include <io.h>
#include <strings.h>

#include "config.h"
#include "ldap_source.h"
#include "ldap_source_p.h"
#include "log.h"
#include "platform.h"
#include "scope.h"
#include "util.h"

/* MS-ADTS 3.1.1.3.4.1.14 (LDAP_SERVER_SHOW_DELETED_OID) and RFC 2696 */
#define SHOW_DELETED_OID "1.2.840.113556.1.4.417"

struct ldap_source {
    const struct ldap_config *cfg;
    LDAP *ld;
    char *host;                 /* from uri, for the certificate's name check */
    ULONG port;
    bool tls;                   /* the transport is TLS (ldaps:// or StartTLS) */
    char *naming_context;       /* rootDSE defaultNamingContext */
    char **attrs;               /* NULL-terminated list requested for live objects */
    HCERTSTORE ca_store;        /* ca_file's certificates, or NULL: Windows' store */
    HCERTCHAINENGINE engine;    /* trusts ca_store alone, or NULL */
    char tls_why[256];          /* why the certificate callback refused, or "" */
};

/* Attributes every pull reads; the config may add more (as ldap_source.c). */
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
    if (ld && ldap_get_option(ld, LDAP_OPT_SERVER_ERROR, &msg) == LDAP_SUCCESS && msg) {
        snprintf(buf, sizeof(buf), "%s", msg);
        ldap_memfreeA(msg);
    }
    return buf;
}

static const char *err_text(ULONG rc)
{
    const char *s = ldap_err2stringA(rc);
    return s ? s : "unknown error";
}

/* One message per failure: what happened, in whose words, and what to do.
 * The texts are ldap_source.c's, so the remedies read the same on both
 * platforms; Kerberos is Windows' logon here, not a ticket cache. */
static int report(struct ldap_source *src, ULONG rc, const char *doing)
{
    const struct ldap_config *cfg = src->cfg;
    const char *d = diag(src->ld);
    const char *uri = cfg->uri;
    if (src->tls_why[0])
        return log_error("%s: TLS: the server certificate of %s is not trusted (%s); set [ldap] "
                         "ca_file to the CA that issued the domain controller's certificate (now %s) "
                         "and use a host name that the certificate names", doing, uri, src->tls_why,
                         cfg->ca_file ? cfg->ca_file : "the Windows certificate store");
    switch (rc) {
    case LDAP_SERVER_DOWN:
    case LDAP_CONNECT_ERROR:
        return log_error("%s: cannot reach %s%s%s; check uri and that the domain controller "
                         "is up and reachable", doing, uri, *d ? ": " : "", d);
    case LDAP_TIMEOUT:
        return log_error("%s: %s did not answer within %d s; check the network or raise "
                         "[ldap] timeout", doing, uri, cfg->timeout);
    case LDAP_INVALID_CREDENTIALS:
        if (cfg->bind == LDAP_BIND_GSSAPI)
            return log_error("%s: %s refused the Windows logon of the account running dualsync (%s); "
                             "run it as a domain account (or gMSA) that may read the directory",
                             doing, uri, d);
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
    case LDAP_ADMIN_LIMIT_EXCEEDED:
        return log_error("%s: %s refused the search as too expensive (%s); lower page_size "
                         "or narrow the scope", doing, uri, d);
    case LDAP_FILTER_ERROR:
        return log_error("%s: the LDAP filter is not valid (%s); check [ldap] filter", doing, d);
    case LDAP_INSUFFICIENT_RIGHTS:
        return log_error("%s: access denied on %s (%s); the bind account needs read access",
                         doing, uri, d);
    case LDAP_LOCAL_ERROR:
    case LDAP_AUTH_UNKNOWN:
    case LDAP_AUTH_METHOD_NOT_SUPPORTED:
        if (cfg->bind == LDAP_BIND_GSSAPI)
            return log_error("%s: Windows could not get a Kerberos ticket for %s (%s: %s); run "
                             "dualsync as a domain account (or gMSA), use the domain controller's "
                             "host name in uri (its service principal ldap/HOST), and check the "
                             "clock", doing, uri, err_text(rc), *d ? d : "no detail");
        break;
    default:
        break;
    }
    return log_error("%s: %s: %s%s%s", doing, uri, err_text(rc), *d ? ": " : "", d);
}

/* ------------------------------------------------------- certificates */

/* The callback has no context argument: it finds its source by handle. One
 * source is open at a time in dualsync; a few slots keep this honest. */
static struct ldap_source *open_sources[4];

static struct ldap_source *source_of(LDAP *ld)
{
    for (size_t i = 0; i < ARRAY_SIZE(open_sources); i++)
        if (open_sources[i] && open_sources[i]->ld == ld)
            return open_sources[i];
    return NULL;
}

static void track(struct ldap_source *src, bool on)
{
    for (size_t i = 0; i < ARRAY_SIZE(open_sources); i++) {
        if (on && !open_sources[i]) {
            open_sources[i] = src;
            return;
        }
        if (!on && open_sources[i] == src)
            open_sources[i] = NULL;
    }
}

static void chain_error(DWORD status, char *buf, size_t size)
{
    const char *what =
        status & CERT_TRUST_IS_UNTRUSTED_ROOT ? "issued by a CA that is not trusted" :
        status & CERT_TRUST_IS_PARTIAL_CHAIN ? "no chain to a trusted CA" :
        status & CERT_TRUST_IS_NOT_TIME_VALID ? "expired or not yet valid" :
        status & CERT_TRUST_IS_REVOKED ? "revoked" :
        status & CERT_TRUST_IS_NOT_SIGNATURE_VALID ? "bad signature" :
        status & CERT_TRUST_IS_NOT_VALID_FOR_USAGE ? "not for server authentication" : "chain not valid";
    snprintf(buf, size, "%s (chain status 0x%lx)", what, (unsigned long)status);
}

/* Verify the server certificate as OpenLDAP's TLS_HARD does: a chain to
 * ca_file (alone) or to Windows' roots, and the host name of uri in the
 * certificate. wldap32 passes a pointer to the certificate context, which the
 * callback must free (Microsoft's VERIFYSERVERCERT page); mingw-w64's
 * prototype says PCCERT_CONTEXT, hence the cast where it is installed. */
static BOOLEAN __cdecl verify_server_cert(LDAP *ld, PCCERT_CONTEXT *pcert)
{
    struct ldap_source *src = source_of(ld);
    PCCERT_CONTEXT cert = pcert ? *pcert : NULL;
    BOOLEAN ok = FALSE;
    if (!src || !cert) {
        if (src)
            snprintf(src->tls_why, sizeof(src->tls_why), "no certificate from the server");
        goto out;
    }
    CERT_CHAIN_PARA para;
    memset(&para, 0, sizeof(para));
    para.cbSize = sizeof(para);
    LPSTR usage[] = { (LPSTR)szOID_PKIX_KP_SERVER_AUTH };
    para.RequestedUsage.dwType = USAGE_MATCH_TYPE_AND;
    para.RequestedUsage.Usage.cUsageIdentifier = 1;
    para.RequestedUsage.Usage.rgpszUsageIdentifier = usage;
    PCCERT_CHAIN_CONTEXT chain = NULL;
    if (!CertGetCertificateChain(src->engine, cert, NULL, cert->hCertStore, &para, 0, NULL, &chain)) {
        snprintf(src->tls_why, sizeof(src->tls_why), "cannot build the chain (error %lu)",
                 (unsigned long)GetLastError());
        goto out;
    }
    /* the name check and the chain verdict in one: the SSL policy */
    int wn = MultiByteToWideChar(CP_UTF8, 0, src->host, -1, NULL, 0);
    wchar_t *whost = xcalloc(wn > 0 ? (size_t)wn : 1, sizeof(*whost));
    if (wn > 0)
        MultiByteToWideChar(CP_UTF8, 0, src->host, -1, whost, wn);
    SSL_EXTRA_CERT_CHAIN_POLICY_PARA ssl;
    memset(&ssl, 0, sizeof(ssl));
    ssl.cbSize = sizeof(ssl);
    ssl.dwAuthType = AUTHTYPE_SERVER;
    ssl.pwszServerName = whost;
    CERT_CHAIN_POLICY_PARA pp;
    memset(&pp, 0, sizeof(pp));
    pp.cbSize = sizeof(pp);
    pp.pvExtraPolicyPara = &ssl;
    CERT_CHAIN_POLICY_STATUS ps;
    memset(&ps, 0, sizeof(ps));
    ps.cbSize = sizeof(ps);
    if (!CertVerifyCertificateChainPolicy(CERT_CHAIN_POLICY_SSL, chain, &pp, &ps))
        snprintf(src->tls_why, sizeof(src->tls_why), "cannot apply the SSL policy (error %lu)",
                 (unsigned long)GetLastError());
    else if ((DWORD)ps.dwError == (DWORD)CERT_E_CN_NO_MATCH)
        snprintf(src->tls_why, sizeof(src->tls_why), "the certificate does not name %s", src->host);
    else if (ps.dwError)
        chain_error(chain->TrustStatus.dwErrorStatus ? chain->TrustStatus.dwErrorStatus : ps.dwError,
                    src->tls_why, sizeof(src->tls_why));
    else
        ok = TRUE;
    free(whost);
    CertFreeCertificateChain(chain);
out:
    if (cert)
        CertFreeCertificateContext(cert);
    return ok;
}

/* ca_file (PEM, one or more certificates) into a memory store and a chain
 * engine that trusts those roots and nothing else, as LDAP_OPT_X_TLS_CACERTFILE
 * does on POSIX. */
static int load_ca_file(struct ldap_source *src)
{
    const char *path = src->cfg->ca_file;
    struct strbuf pem = STRBUF_INIT;
    int rc = platform_read_file(path, &pem, NULL);
    if (rc) {
        strbuf_release(&pem);
        return rc > 0 ? log_error("ldap: ca_file %s: no such file; check the path", path) : -1;
    }
    src->ca_store = CertOpenStore(CERT_STORE_PROV_MEMORY, 0, 0, 0, NULL);
    if (!src->ca_store) {
        strbuf_release(&pem);
        return log_error("ldap: cannot create a certificate store (error %lu)", (unsigned long)GetLastError());
    }
    size_t added = 0;
    const char *p = pem.buf;
    static const char begin[] = "-----BEGIN CERTIFICATE-----", end[] = "-----END CERTIFICATE-----";
    while ((p = strstr(p, begin))) {
        const char *e = strstr(p, end);
        if (!e)
            break;
        e += sizeof(end) - 1;
        DWORD len = 0;
        if (CryptStringToBinaryA(p, (DWORD)(e - p), CRYPT_STRING_BASE64HEADER, NULL, &len, NULL, NULL)) {
            BYTE *der = xmalloc(len);
            if (CryptStringToBinaryA(p, (DWORD)(e - p), CRYPT_STRING_BASE64HEADER, der, &len, NULL, NULL)
                && CertAddEncodedCertificateToStore(src->ca_store, X509_ASN_ENCODING, der, len,
                                                    CERT_STORE_ADD_ALWAYS, NULL))
                added++;
            free(der);
        }
        p = e;
    }
    strbuf_release(&pem);
    if (!added)
        return log_error("ldap: ca_file %s holds no PEM certificate; give the CA certificate "
                         "in PEM form (-----BEGIN CERTIFICATE-----)", path);
    CERT_CHAIN_ENGINE_CONFIG ec;
    memset(&ec, 0, sizeof(ec));
    /* the Windows 7 layout (up to hExclusiveTrustedPeople): Windows 8 added
     * dwExclusiveFlags, and Wine accepts only the older sizes */
    ec.cbSize = offsetof(CERT_CHAIN_ENGINE_CONFIG, hExclusiveTrustedPeople) + sizeof(HCERTSTORE);
    ec.hExclusiveRoot = src->ca_store;
    if (!CertCreateCertificateChainEngine(&ec, &src->engine))
        return log_error("ldap: cannot use ca_file %s as the only trusted root (error %lu)", path,
                         (unsigned long)GetLastError());
    return 0;
}

/* ------------------------------------------------------------ connecting */

static int set_opt(struct ldap_source *src, int opt, const void *val, const char *what)
{
    ULONG rc = ldap_set_option(src->ld, opt, val);
    if (rc != LDAP_SUCCESS)
        return log_error("ldap: cannot set %s: %s", what, err_text(rc));
    return 0;
}

/* "ldaps://host[:port][/]" → host and port; the default port of the scheme. */
static int parse_uri(struct ldap_source *src, bool ldaps)
{
    const char *uri = src->cfg->uri;
    const char *h = strstr(uri, "://");
    if (!h)
        return -1;
    h += 3;
    const char *end = h + strcspn(h, "/?");
    const char *colon = NULL;
    if (*h == '[') {            /* an IPv6 literal */
        const char *rb = memchr(h, ']', (size_t)(end - h));
        if (!rb)
            return -1;
        src->host = xstrndup(h + 1, (size_t)(rb - h - 1));
        colon = rb[1] == ':' ? rb + 1 : NULL;
    } else {
        colon = memchr(h, ':', (size_t)(end - h));
        src->host = xstrndup(h, (size_t)((colon ? colon : end) - h));
    }
    int port = ldaps ? 636 : 389;
    if (colon) {
        char num[8];
        snprintf(num, sizeof(num), "%.*s", (int)(end - colon - 1), colon + 1);
        if (parse_int(num, 1, 65535, &port))
            return -1;
    }
    src->port = (ULONG)port;
    return *src->host ? 0 : -1;
}

static int bind_account(struct ldap_source *src)
{
    const struct ldap_config *cfg = src->cfg;
    ULONG rc;
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
        rc = ldap_simple_bind_sA(src->ld, cfg->bind_dn, pw.buf);
        platform_wipe(&pw);
        if (rc != LDAP_SUCCESS)
            return report(src, rc, "simple bind");
        return 0;
    }
    /* bind = gssapi: Negotiate (Kerberos) through SSPI with the logon of the
     * account running dualsync. Over TLS, AD refuses a second layer of
     * sign/seal; without TLS we insist on it, as minssf=56 does on POSIX. */
    if (!src->tls && (set_opt(src, LDAP_OPT_SIGN, LDAP_OPT_ON, "LDAP signing")
                      || set_opt(src, LDAP_OPT_ENCRYPT, LDAP_OPT_ON, "LDAP sealing")))
        return -1;
    rc = ldap_bind_sA(src->ld, NULL, NULL, LDAP_AUTH_NEGOTIATE);
    if (rc != LDAP_SUCCESS)
        return report(src, rc, "kerberos (Negotiate) bind");
    return 0;
}

static char *first_value(LDAP *ld, LDAPMessage *e, const char *attr)
{
    struct berval **v = ldap_get_values_lenA(ld, e, (PCHAR)attr);
    char *s = v && v[0] ? xstrndup(v[0]->bv_val, v[0]->bv_len) : NULL;
    if (v)
        ldap_value_free_len(v);
    return s;
}

static ULONG search_s(struct ldap_source *src, const char *base, ULONG scope, const char *filter,
                      char **attrs, ULONG sizelimit, LDAPMessage **res)
{
    struct l_timeval tv = { src->cfg->timeout, 0 };
    *res = NULL;
    return ldap_search_ext_sA(src->ld, (PCHAR)base, scope, (PCHAR)filter, attrs, 0, NULL, NULL,
                              &tv, sizelimit, res);
}

int lsrc_read_root_dse(struct ldap_source *src, char **dsa, uint64_t *usn)
{
    char *attrs[] = { "defaultNamingContext", "dsServiceName", "highestCommittedUSN", NULL };
    LDAPMessage *res;
    ULONG rc = search_s(src, "", LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0, &res);
    if (rc != LDAP_SUCCESS) {
        if (res)
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
    track(src, true);
    bool ldaps = strncasecmp(cfg->uri, "ldaps://", 8) == 0;
    src->tls = ldaps || cfg->starttls;
    if (!src->tls && cfg->bind == LDAP_BIND_SIMPLE && !cfg->insecure_lab_cleartext) {
        log_error("refusing a simple bind over cleartext %s: it would send the password "
                  "unprotected; use ldaps:// or starttls = yes (insecure_lab_cleartext exists "
                  "for throw-away labs only)", cfg->uri);
        goto fail;
    }
    if (cfg->bind == LDAP_BIND_EXTERNAL) {
        log_error("bind = external (a TLS client certificate) is not supported by the Windows "
                  "build; use bind = gssapi (the Kerberos logon of the account running dualsync) "
                  "or a simple bind over TLS");
        goto fail;
    }
    if (cfg->bind == LDAP_BIND_GSSAPI && (cfg->keytab || cfg->principal)) {
        log_error("[ldap] keytab and principal are not used on Windows: bind = gssapi takes the "
                  "Kerberos logon of the account running dualsync; remove them and run dualsync "
                  "as that account (a gMSA needs no password)");
        goto fail;
    }
    if ((!ldaps && strncasecmp(cfg->uri, "ldap://", 7) != 0) || parse_uri(src, ldaps)) {
        log_error("ldap: bad uri %s; use ldaps://HOST[:PORT] or ldap://HOST[:PORT]", cfg->uri);
        goto fail;
    }
    if (src->tls && cfg->ca_file && load_ca_file(src))
        goto fail;
    src->ld = ldap_sslinitA(src->host, src->port, ldaps ? 1 : 0);
    if (!src->ld) {
        log_error("ldap: bad uri %s: %s", cfg->uri, err_text(LdapGetLastError()));
        goto fail;
    }
    ULONG v3 = LDAP_VERSION3, limit = (ULONG)cfg->timeout;
    if (set_opt(src, LDAP_OPT_PROTOCOL_VERSION, &v3, "protocol version")
        /* we report referrals instead of chasing them with our credentials */
        || set_opt(src, LDAP_OPT_REFERRALS, LDAP_OPT_OFF, "referrals")
        || set_opt(src, LDAP_OPT_TIMELIMIT, &limit, "time limit"))
        goto fail;
    /* uri names one domain controller: no DNS SRV lookup of a domain of that
     * name. Windows has it; Wine's wldap32 (on OpenLDAP, which never looks
     * up SRV records) does not, and needs none. */
    if (ldap_set_option(src->ld, LDAP_OPT_AREC_EXCLUSIVE, LDAP_OPT_ON) != LDAP_SUCCESS)
        log_debug("ldap: LDAP_OPT_AREC_EXCLUSIVE not supported here; %s is used as given", src->host);
    if (src->tls) {
        /* Always our verification: Windows' wldap32 takes the callback.
         * A client that does not (Wine's wldap32) is refused: Wine's was
         * seen to accept a certificate from an untrusted CA, and the
         * header's promise is no unverified connection. */
        VERIFYSERVERCERT *cb = (VERIFYSERVERCERT *)(void *)verify_server_cert;
        ULONG rc = ldap_set_option(src->ld, LDAP_OPT_SERVER_CERTIFICATE, (void *)cb);
        if (rc != LDAP_SUCCESS) {
            log_error("ldap: this LDAP client cannot check the server certificate of %s "
                      "(LDAP_OPT_SERVER_CERTIFICATE: %s; Wine's wldap32?); run dualsync on "
                      "Windows itself, or the Linux build", cfg->uri, err_text(rc));
            goto fail;
        }
        /* ldap_sslinit(..., 1) already asked for TLS; Wine refuses to set it
         * again, Windows takes it */
        if (ldaps && ldap_set_option(src->ld, LDAP_OPT_SSL, LDAP_OPT_ON) != LDAP_SUCCESS)
            log_debug("ldap: LDAP_OPT_SSL not settable here; ldap_sslinit asked for TLS");
    }
    struct l_timeval tv = { cfg->timeout, 0 };
    ULONG rc = ldap_connect(src->ld, &tv);
    if (rc != LDAP_SUCCESS) {
        report(src, rc, "connect");
        goto fail;
    }
    if (!ldaps && cfg->starttls) {
        ULONG server_rc = 0;
        LDAPMessage *res = NULL;
        rc = ldap_start_tls_sA(src->ld, &server_rc, &res, NULL, NULL);
        if (res)
            ldap_msgfree(res);
        if (rc != LDAP_SUCCESS) {
            report(src, rc == LDAP_OTHER && server_rc ? server_rc : rc, "StartTLS");
            goto fail;
        }
    }
    if (bind_account(src))
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
        ldap_unbind_s(src->ld);
    track(src, false);
    if (src->attrs)
        for (char **a = src->attrs; *a; a++)
            free(*a);
    free(src->attrs);
    free(src->naming_context);
    free(src->host);
    if (src->engine)
        CertFreeCertificateChainEngine(src->engine);
    if (src->ca_store)
        CertCloseStore(src->ca_store, 0);
    free(src);
}

/* ------------------------------------------------------------ invocationId */

/* The invocationId of the DC we talk to: a USN watermark is only valid on it. */
int lsrc_read_invocation_id(struct ldap_source *src, const char *dsa, char out[37])
{
    char *attrs[] = { "invocationId", NULL };
    LDAPMessage *res;
    ULONG rc = search_s(src, dsa, LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0, &res);
    if (rc != LDAP_SUCCESS) {
        if (res)
            ldap_msgfree(res);
        return report(src, rc, "read the DC's invocationId");
    }
    LDAPMessage *e = ldap_first_entry(src->ld, res);
    struct berval **v = e ? ldap_get_values_lenA(src->ld, e, "invocationId") : NULL;
    int ret = 0;
    if (v && v[0] && v[0]->bv_len == 16)
        ad_guid_to_text((const unsigned char *)v[0]->bv_val, out);
    else
        ret = log_error("%s: no invocationId on %s; cannot keep a delta watermark", src->cfg->uri, dsa);
    if (v)
        ldap_value_free_len(v);
    ldap_msgfree(res);
    return ret;
}

/* ---------------------------------------------------------------- entries */


/* "member;range=0-1499" → base "member", returns the first index after the
 * range or 0 when the range ends with '*'; -1 when the name has no range. */
static long parse_range(const char *name, size_t *base_len)
{
    const char *r = NULL;
    for (const char *s = strchr(name, ';'); s; s = strchr(s + 1, ';'))
        if (!strncasecmp(s, ";range=", 7)) {
            r = s;
            break;
        }
    if (!r)
        return -1;
    *base_len = (size_t)(r - name);
    const char *dash = strchr(r + 7, '-');
    if (!dash)
        return -1;
    if (dash[1] == '*')
        return 0;
    uint64_t hi;
    if (parse_u64(dash + 1, &hi))
        return -1;
    return (long)hi + 1;
}

/* Append values to an attribute; the vals array is rebuilt in the arena. */
static void attr_add_values(struct arena *ar, struct ad_attr *a, struct berval **v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    char **vals = arena_alloc(ar, (a->nvals + n + 1) * sizeof(char *));
    if (a->nvals)
        memcpy(vals, a->vals, a->nvals * sizeof(char *));
    for (size_t i = 0; i < n; i++)
        vals[a->nvals + i] = arena_strndup(ar, v[i]->bv_val, v[i]->bv_len);
    a->nvals += n;
    vals[a->nvals] = NULL;
    a->vals = vals;
}

/* Fetch the rest of a ranged attribute with base searches "attr;range=N-*"
 * until the server marks the last chunk with '*' (MS-ADTS 3.1.1.3.1.3.3). */
static int fetch_range(struct pull *p, const char *dn, struct ad_attr *a, long next)
{
    LDAP *ld = p->src->ld;
    while (next > 0) {
        char *want = xasprintf("%s;range=%ld-*", a->name, next);
        char *attrs[] = { want, NULL };
        LDAPMessage *res;
        ULONG rc = search_s(p->src, dn, LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0, &res);
        free(want);
        p->stats->ranged_fetches++;
        if (rc != LDAP_SUCCESS) {
            if (res)
                ldap_msgfree(res);
            return report(p->src, rc, "ranged read of a large attribute");
        }
        LDAPMessage *e = ldap_first_entry(ld, res);
        BerElement *ber = NULL;
        long after = 0;
        bool got = false;
        for (char *name = e ? ldap_first_attributeA(ld, e, &ber) : NULL; name;
             name = ldap_next_attributeA(ld, e, ber)) {
            size_t blen;
            long r = parse_range(name, &blen);
            if (r >= 0 && blen == strlen(a->name) && !strncasecmp(name, a->name, blen)) {
                struct berval **v = ldap_get_values_lenA(ld, e, name);
                attr_add_values(&p->arena, a, v);
                if (v)
                    ldap_value_free_len(v);
                after = r;
                got = true;
            }
            ldap_memfreeA(name);
        }
        if (ber)
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

static bool copy_guid(struct berval **v, unsigned char out[16])
{
    if (!v || !v[0] || v[0]->bv_len != 16)
        return false;
    memcpy(out, v[0]->bv_val, 16);
    return true;
}

/* A small decimal value (userAccountControl, uSNChanged) → text for the parsers. */
static void value_text(struct berval **v, char *buf, size_t size)
{
    snprintf(buf, size, "%.*s", v && v[0] ? (int)v[0]->bv_len : 0, v && v[0] ? v[0]->bv_val : "");
}

/* Decode one attribute of the entry into p->obj. Returns 0, or -1 to stop. */
static int decode_attr(struct pull *p, const char *name, struct berval **v, int *cls)
{
    struct ad_object *o = &p->obj;
    char num[32];
    if (!strcasecmp(name, "objectClass")) {
        char *oc[32];
        size_t n = 0;
        for (size_t i = 0; v && v[i] && n < ARRAY_SIZE(oc); i++)
            oc[n++] = arena_strndup(&p->arena, v[i]->bv_val, v[i]->bv_len);
        *cls = scope_classify(oc, n);
    } else if (!strcasecmp(name, "objectGUID")) {
        p->has_guid = copy_guid(v, o->guid);
    } else if (!strcasecmp(name, "mS-DS-ConsistencyGuid")) {
        o->has_consistency_guid = copy_guid(v, o->consistency_guid);
        o->bad_consistency_guid = !o->has_consistency_guid && v && v[0];
    } else if (!strcasecmp(name, "objectSid")) {
        struct strbuf sb = STRBUF_INIT;
        if (v && v[0] && ad_sid_to_text((unsigned char *)v[0]->bv_val, v[0]->bv_len, &sb) == 0)
            o->sid = arena_strndup(&p->arena, sb.buf, sb.len);
        strbuf_release(&sb);
    } else if (!strcasecmp(name, "userAccountControl")) {
        int uac;
        value_text(v, num, sizeof(num));
        /* AD sends the 32-bit flags as a signed decimal */
        if (parse_int(num, INT32_MIN, INT32_MAX, &uac) == 0) {
            o->uac = (uint32_t)uac;
            o->disabled = (o->uac & AD_UAC_ACCOUNTDISABLE) != 0;
        }
    } else if (!strcasecmp(name, "uSNChanged")) {
        value_text(v, num, sizeof(num));
        parse_u64(num, &o->usn_changed);
    } else if (!strcasecmp(name, "whenChanged")) {
        if (v && v[0])
            o->when_changed = arena_strndup(&p->arena, v[0]->bv_val, v[0]->bv_len);
    } else if (!strcasecmp(name, "isDeleted")) {
        o->deleted = v && v[0] && v[0]->bv_len == 4 && !strncasecmp(v[0]->bv_val, "TRUE", 4);
    } else if (!strcasecmp(name, "lastKnownParent")) {
        if (v && v[0])
            o->parent_dn = arena_strndup(&p->arena, v[0]->bv_val, v[0]->bv_len);
    } else {
        /* an entry names each attribute once, so no lookup: append */
        size_t blen;
        long next = parse_range(name, &blen);
        GROW(p->attrs, p->attrs_alloc, o->nattrs + 1);
        o->attrs = p->attrs;
        struct ad_attr *a = &o->attrs[o->nattrs++];
        a->name = arena_strndup(&p->arena, name, next >= 0 ? blen : strlen(name));
        a->nvals = 0;
        a->vals = NULL;
        attr_add_values(&p->arena, a, v);
        if (next > 0 && fetch_range(p, o->dn, a, next))
            return -1;
    }
    return 0;
}

/* Decode one entry into p->obj and hand it on. Returns 0, or -1 to stop. */
static int handle_entry(struct pull *p, LDAPMessage *e)
{
    LDAP *ld = p->src->ld;
    struct ad_object *o = &p->obj;
    arena_reset(&p->arena);
    memset(o, 0, sizeof(*o));
    o->attrs = p->attrs;
    p->has_guid = false;

    char *dn = ldap_get_dnA(ld, e);
    if (!dn)
        return report(p->src, LdapGetLastError(), "read an entry");
    o->dn = arena_strdup(&p->arena, dn);
    ldap_memfreeA(dn);
    int cls = -1, ret = 0;
    BerElement *ber = NULL;
    for (char *name = ldap_first_attributeA(ld, e, &ber); name && !ret;
         name = ldap_next_attributeA(ld, e, ber)) {
        struct berval **vals = ldap_get_values_lenA(ld, e, name);
        ret = decode_attr(p, name, vals, &cls);
        if (vals)
            ldap_value_free_len(vals);
        ldap_memfreeA(name);
    }
    if (ber)
        ber_free(ber, 0);
    if (ret)
        return ret;
    return pull_deliver(p, cls);
}

/* The end of a paged search that failed: say why, with the matched DN or the
 * referral the server sent, as ldap_source.c does. */
static int search_failed(struct pull *p, const char *base, ULONG rc, LDAPMessage *res)
{
    const struct ldap_config *cfg = p->src->cfg;
    ULONG err = rc;
    char *matched = NULL, *text = NULL, **refs = NULL;
    if (res)
        ldap_parse_resultA(p->src->ld, res, &err, &matched, &text, &refs, NULL, FALSE);
    if (err == LDAP_SUCCESS)
        err = rc;
    int ret;
    if (err == LDAP_REFERRAL)
        ret = log_error("search %s: %s does not hold this base DN and referred us to "
                        "%s; point uri at a domain controller of that domain, or at "
                        "a global catalog", base, cfg->uri, refs && refs[0] ? refs[0] : "?");
    else if (err == LDAP_NO_SUCH_OBJECT) {
        bool nearest = matched && *matched;
        ret = log_error("search: base DN %s does not exist on %s%s%s%s; check base_dn "
                        "in the [ldap] section", base, cfg->uri,
                        nearest ? " (nearest existing entry: " : "", nearest ? matched : "", nearest ? ")" : "");
    } else if (err == LDAP_SERVER_DOWN && p->stats->objects)
        ret = log_error("search: the connection to %s was lost after %llu objects (%s); "
                        "nothing was written; check the domain controller and rerun",
                        cfg->uri, (unsigned long long)p->stats->objects, err_text(err));
    else
        ret = report(p->src, err, "search");
    if (matched)
        ldap_memfreeA(matched);
    if (text)
        ldap_memfreeA(text);
    if (refs)
        ldap_value_freeA(refs);
    return ret;
}

/* One paged search over base: the paged-results control by hand (RFC 2696;
 * AD caps a page at MaxPageSize, 1000), one synchronous search per page, the
 * entries of each page to handle_entry. wldap32's own page API
 * (ldap_search_init_page) would do the same, but Wine has only a stub of it. */
int lsrc_paged_search(struct pull *p, const char *base, const char *filter, char **attrs,
                      bool show_deleted)
{
    LDAP *ld = p->src->ld;
    const struct ldap_config *cfg = p->src->cfg;
    LDAPControlA show = { (PCHAR)SHOW_DELETED_OID, { 0, NULL }, TRUE };
    struct berval empty = { 0, NULL }, *cookie = NULL;
    int ret = 0;
    log_debug("search base=%s filter=%s", base, filter);
    do {
        LDAPControlA *page = NULL;
        ULONG rc = ldap_create_page_controlA(ld, (ULONG)cfg->page_size, cookie ? cookie : &empty,
                                             TRUE, &page);
        if (rc != LDAP_SUCCESS) {
            ret = report(p->src, rc, "create the paged-results control");
            break;
        }
        LDAPControlA *sctrls[] = { page, show_deleted ? &show : NULL, NULL };
        struct l_timeval tv = { cfg->timeout, 0 };
        LDAPMessage *res = NULL;
        rc = ldap_search_ext_sA(ld, (PCHAR)base, LDAP_SCOPE_SUBTREE, (PCHAR)filter, attrs, 0,
                                sctrls, NULL, &tv, 0, &res);
        ldap_control_freeA(page);
        if (cookie)
            ber_bvfree(cookie);
        cookie = NULL;
        if (rc != LDAP_SUCCESS) {
            ret = search_failed(p, base, rc, res);
            if (res)
                ldap_msgfree(res);
            break;
        }
        p->stats->pages++;
        /* continuation references (e.g. to the Configuration partition) point
         * outside the domain we read: not ours to follow; entries only */
        for (LDAPMessage *e = ldap_first_entry(ld, res); e && !ret; e = ldap_next_entry(ld, e))
            if (handle_entry(p, e))
                ret = -1;
        if (!ret) {
            ULONG err = LDAP_SUCCESS;
            LDAPControlA **rctrls = NULL;
            rc = ldap_parse_resultA(ld, res, &err, NULL, NULL, NULL, &rctrls, FALSE);
            ULONG total;
            /* no page control in the answer: the server sent everything */
            if (rc == LDAP_SUCCESS && rctrls
                && ldap_parse_page_controlA(ld, rctrls, &total, &cookie) != LDAP_SUCCESS)
                cookie = NULL;
            if (rc != LDAP_SUCCESS)
                ret = report(p->src, rc, "read the paged-results cookie");
            if (rctrls)
                ldap_controls_freeA(rctrls);
        }
        ldap_msgfree(res);
    } while (!ret && cookie && cookie->bv_len > 0);
    if (cookie)
        ber_bvfree(cookie);
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
    LDAPMessage *res;
    *dn = NULL;
    log_debug("search base=%s filter=%s (one)", src->naming_context, filter);
    ULONG rc = search_s(src, src->naming_context, LDAP_SCOPE_SUBTREE, filter, attrs, 1, &res);
    if (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED) {
        if (res)
            ldap_msgfree(res);
        return report(src, rc, doing);
    }
    LDAPMessage *e = res ? ldap_first_entry(src->ld, res) : NULL;
    if (e) {
        char *d = ldap_get_dnA(src->ld, e);
        *dn = xstrdup(d ? d : "?");
        if (d)
            ldap_memfreeA(d);
    }
    if (res)
        ldap_msgfree(res);
    return 0;
}
