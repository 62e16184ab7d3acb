/* ldap_source_win32.c - the reader's transport on Windows' own LDAP client,
 * wldap32 (ldap_source_p.h): connect, verify TLS, bind, and the search
 * primitives, as ldap_source.c does on OpenLDAP; what an entry means is
 * ldap_read.c's. What differs is Windows' part of the job:
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
#include "util.h"

/* MS-ADTS 3.1.1.3.4.1.14 (LDAP_SERVER_SHOW_DELETED_OID) and RFC 2696 */
#define SHOW_DELETED_OID "1.2.840.113556.1.4.417"

struct lsrc_conn {
    const struct ldap_config *cfg;
    LDAP *ld;
    char *host;                 /* from uri, for the certificate's name check */
    ULONG port;
    bool tls;                   /* the transport is TLS (ldaps:// or StartTLS) */
    HCERTSTORE ca_store;        /* ca_file's certificates, or NULL: Windows' store */
    HCERTCHAINENGINE engine;    /* trusts ca_store alone, or NULL */
    char tls_why[256];          /* why the certificate callback refused, or "" */
    unsigned long long entries; /* delivered by paged searches: a break after them is a loss */
};

/* An entry being read, attribute by attribute (ldap_first/next_attribute),
 * and the current attribute's values in both forms. */
struct lsrc_entry {
    struct lsrc_conn *conn;
    LDAPMessage *msg;
    BerElement *ber;
    bool started;
    char *name;                 /* the current attribute's, ours to free */
    struct berval **vals;       /* likewise */
    struct lsrc_val *out;       /* the same as lsrc_val; kept across entries */
    size_t out_alloc;
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

/* One message per failure (lread_report), so the remedies read the same on
 * both platforms; TLS is our certificate callback's verdict, Kerberos is
 * Windows' logon here, not a ticket cache. */
static int report(struct lsrc_conn *src, ULONG rc, const char *doing)
{
    const struct ldap_config *cfg = src->cfg;
    const char *d = diag(src->ld);
    const char *uri = cfg->uri;
    if (src->tls_why[0])
        return log_error("%s: TLS: the server certificate of %s is not trusted (%s); set [ldap] "
                         "ca_file to the CA that issued the domain controller's certificate (now %s) "
                         "and use a host name that the certificate names", doing, uri, src->tls_why,
                         cfg->ca_file ? cfg->ca_file : "the Windows certificate store");
    if (rc == LDAP_SERVER_DOWN && src->entries)
        return lread_report_lost(cfg, doing, src->entries, err_text(rc));
    switch (rc) {
    case LDAP_INVALID_CREDENTIALS:
        if (cfg->bind == LDAP_BIND_GSSAPI)
            return log_error("%s: %s refused the Windows logon of the account running dualsync (%s); "
                             "run it as a domain account (or gMSA) that may read the directory",
                             doing, uri, d);
        break;
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
    int result = rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR ? LREAD_ERR_UNREACHABLE
               : rc == LDAP_TIMEOUT ? LREAD_ERR_TIMEOUT
               : rc == LDAP_FILTER_ERROR ? LREAD_ERR_FILTER : (int)rc;
    return lread_report(cfg, result, doing, err_text(rc), d);
}

/* ------------------------------------------------------- certificates */

/* The callback has no context argument: it finds its source by handle. One
 * source is open at a time in dualsync; a few slots keep this honest. */
static struct lsrc_conn *open_sources[4];

static struct lsrc_conn *source_of(LDAP *ld)
{
    for (size_t i = 0; i < ARRAY_SIZE(open_sources); i++)
        if (open_sources[i] && open_sources[i]->ld == ld)
            return open_sources[i];
    return NULL;
}

static void track(struct lsrc_conn *src, bool on)
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
    struct lsrc_conn *src = source_of(ld);
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
static int load_ca_file(struct lsrc_conn *src)
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

static int set_opt(struct lsrc_conn *src, int opt, const void *val, const char *what)
{
    ULONG rc = ldap_set_option(src->ld, opt, val);
    if (rc != LDAP_SUCCESS)
        return log_error("ldap: cannot set %s: %s", what, err_text(rc));
    return 0;
}

/* "ldaps://host[:port][/]" → host and port; the default port of the scheme. */
static int parse_uri(struct lsrc_conn *src, bool ldaps)
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

static int bind_account(struct lsrc_conn *src)
{
    const struct ldap_config *cfg = src->cfg;
    ULONG rc;
    if (cfg->bind == LDAP_BIND_SIMPLE) {
        struct strbuf pw = STRBUF_INIT;
        if (lread_password(cfg, &pw)) {
            platform_wipe(&pw);
            return -1;
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

static ULONG search_s(struct lsrc_conn *src, const char *base, ULONG scope, const char *filter,
                      char **attrs, ULONG sizelimit, LDAPMessage **res)
{
    struct l_timeval tv = { src->cfg->timeout, 0 };
    *res = NULL;
    return ldap_search_ext_sA(src->ld, (PCHAR)base, scope, (PCHAR)filter, attrs, 0, NULL, NULL,
                              &tv, sizelimit, res);
}

int lsrc_connect(const struct ldap_config *cfg, struct lsrc_conn **out)
{
    struct lsrc_conn *src = xcalloc(1, sizeof(*src));
    src->cfg = cfg;
    track(src, true);
    bool ldaps = strncasecmp(cfg->uri, "ldaps://", 8) == 0;
    src->tls = ldaps || cfg->starttls;
    if (lread_refuse_cleartext(cfg, src->tls))
        goto fail;
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
    *out = src;
    return 0;
fail:
    lsrc_disconnect(src);
    return -1;
}

void lsrc_disconnect(struct lsrc_conn *src)
{
    if (!src)
        return;
    if (src->ld)
        ldap_unbind_s(src->ld);
    track(src, false);
    free(src->host);
    if (src->engine)
        CertFreeCertificateChainEngine(src->engine);
    if (src->ca_store)
        CertCloseStore(src->ca_store, 0);
    free(src);
}

/* ---------------------------------------------------------------- entries */

/* Free what the entry holds of its current attribute. */
static void entry_drop_attr(struct lsrc_entry *e)
{
    if (e->vals)
        ldap_value_free_len(e->vals);
    e->vals = NULL;
    if (e->name)
        ldap_memfreeA(e->name);
    e->name = NULL;
}

int lsrc_entry_attr(struct lsrc_entry *e, struct lsrc_val *name, const struct lsrc_val **vals,
                    size_t *nvals)
{
    LDAP *ld = e->conn->ld;
    entry_drop_attr(e);
    e->name = e->started ? ldap_next_attributeA(ld, e->msg, e->ber)
                         : ldap_first_attributeA(ld, e->msg, &e->ber);
    e->started = true;
    if (!e->name)
        return 0;
    e->vals = ldap_get_values_lenA(ld, e->msg, e->name);
    size_t n = 0;
    while (e->vals && e->vals[n])
        n++;
    GROW(e->out, e->out_alloc, n + 1);
    for (size_t i = 0; i < n; i++)
        e->out[i] = (struct lsrc_val){ e->vals[i]->bv_val, e->vals[i]->bv_len };
    *name = (struct lsrc_val){ e->name, strlen(e->name) };
    *vals = e->out;
    *nvals = n;
    return 1;
}

/* Hand one entry to fn. */
static int deliver(struct lsrc_entry *e, LDAPMessage *msg, lsrc_entry_fn fn, void *ctx)
{
    char *dn = ldap_get_dnA(e->conn->ld, msg);
    if (!dn)
        return report(e->conn, LdapGetLastError(), "read an entry");
    e->msg = msg;
    e->ber = NULL;
    e->started = false;
    struct lsrc_val dnv = { dn, strlen(dn) };
    int ret = fn(&dnv, e, ctx) ? -1 : 0;
    entry_drop_attr(e);
    if (e->ber)
        ber_free(e->ber, 0);
    e->ber = NULL;
    ldap_memfreeA(dn);
    return ret;
}

int lsrc_search(struct lsrc_conn *src, const char *base, enum lsrc_scope scope,
                const char *filter, char **attrs, int sizelimit, const char *doing,
                lsrc_entry_fn fn, void *ctx)
{
    LDAPMessage *res;
    ULONG rc = search_s(src, base, scope == LSRC_BASE ? LDAP_SCOPE_BASE : LDAP_SCOPE_SUBTREE,
                        filter, attrs, (ULONG)sizelimit, &res);
    if (rc != LDAP_SUCCESS && !(sizelimit && rc == LDAP_SIZELIMIT_EXCEEDED)) {
        if (res)
            ldap_msgfree(res);
        return report(src, rc, doing);
    }
    struct lsrc_entry e = { .conn = src };
    int ret = 0;
    for (LDAPMessage *m = res ? ldap_first_entry(src->ld, res) : NULL; m && !ret;
         m = ldap_next_entry(src->ld, m))
        ret = deliver(&e, m, fn, ctx);
    free(e.out);
    if (res)
        ldap_msgfree(res);
    return ret;
}

/* The end of a paged search that failed: say why, with the matched DN or the
 * referral the server sent, as ldap_source.c does. */
static int search_failed(struct lsrc_conn *src, const char *base, ULONG rc, LDAPMessage *res)
{
    const struct ldap_config *cfg = src->cfg;
    ULONG err = rc;
    char *matched = NULL, *text = NULL, **refs = NULL;
    if (res)
        ldap_parse_resultA(src->ld, res, &err, &matched, &text, &refs, NULL, FALSE);
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
    } else
        ret = report(src, err, "search");
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
 * entries of each page to fn. wldap32's own page API
 * (ldap_search_init_page) would do the same, but Wine has only a stub of it. */
int lsrc_paged_search(struct lsrc_conn *src, const char *base, const char *filter, char **attrs,
                      bool show_deleted, struct ldap_pull_stats *stats, lsrc_entry_fn fn,
                      void *ctx)
{
    LDAP *ld = src->ld;
    const struct ldap_config *cfg = src->cfg;
    struct lsrc_entry e = { .conn = src };
    LDAPControlA show = { (PCHAR)SHOW_DELETED_OID, { 0, NULL }, TRUE };
    struct berval empty = { 0, NULL }, *cookie = NULL;
    int ret = 0;
    log_debug("search base=%s filter=%s", base, filter);
    do {
        LDAPControlA *page = NULL;
        ULONG rc = ldap_create_page_controlA(ld, (ULONG)cfg->page_size, cookie ? cookie : &empty,
                                             TRUE, &page);
        if (rc != LDAP_SUCCESS) {
            ret = report(src, rc, "create the paged-results control");
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
            ret = search_failed(src, base, rc, res);
            if (res)
                ldap_msgfree(res);
            break;
        }
        stats->pages++;
        /* continuation references (e.g. to the Configuration partition) point
         * outside the domain we read: not ours to follow; entries only */
        for (LDAPMessage *m = ldap_first_entry(ld, res); m && !ret; m = ldap_next_entry(ld, m)) {
            src->entries++;
            ret = deliver(&e, m, fn, ctx);
        }
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
                ret = report(src, rc, "read the paged-results cookie");
            if (rctrls)
                ldap_controls_freeA(rctrls);
        }
        ldap_msgfree(res);
    } while (!ret && cookie && cookie->bv_len > 0);
    if (cookie)
        ber_bvfree(cookie);
    free(e.out);
    return ret;
}
