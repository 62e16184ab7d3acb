/* ldap_source.c - the reader's transport on OpenLDAP's libldap, with Cyrus
 * SASL and MIT Kerberos (ldap_source_p.h): connect, verify TLS, bind, and
 * the search primitives. What an entry means is ldap_read.c's. */
#include "compat.h"

#include <errno.h>
#include <krb5.h>
#include <ldap.h>
#include <sasl/sasl.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "ldap_source_p.h"
#include "log.h"
#include "platform.h"
#include "tls_probe.h"
#include "util.h"

struct lsrc_conn {
    const struct ldap_config *cfg;
    LDAP *ld;
    bool tls;                   /* the transport is TLS (ldaps:// or StartTLS) */
    char *ccache_name;          /* our MEMORY: ccache when binding with a keytab */
    unsigned long long entries; /* delivered by paged searches: a break after them is a loss */
};

/* An entry being read: its BER, walked once (ldap_get_attribute_ber), and
 * the current attribute's values in both forms. */
struct lsrc_entry {
    struct lsrc_conn *conn;
    LDAPMessage *msg;
    BerElement *ber;
    struct berval *vals;        /* the current attribute's, ours to free */
    struct lsrc_val *out;       /* the same as lsrc_val; kept across entries */
    size_t out_alloc;
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

/* One message per failure (lread_report); TLS and Kerberos in OpenLDAP's
 * and MIT's words. */
static int report(struct lsrc_conn *src, int rc, const char *doing)
{
    const struct ldap_config *cfg = src->cfg;
    const char *d = diag(src->ld);
    const char *uri = cfg->uri;
    if (strstr(d, "certificate verify failed") || strstr(d, "certificate"))
        return log_error("%s: TLS: the server certificate of %s is not trusted (%s); "
                         "set [ldap] ca_file to the CA that issued the domain controller's certificate "
                         "and make sure the host name in uri is in the certificate",
                         doing, uri, d);
    if (rc == LDAP_SERVER_DOWN && src->entries)
        return lread_report_lost(cfg, doing, src->entries, ldap_err2string(rc));
    switch (rc) {
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
    int result = rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR ? LREAD_ERR_UNREACHABLE
               : rc == LDAP_TIMEOUT ? LREAD_ERR_TIMEOUT
               : rc == LDAP_FILTER_ERROR ? LREAD_ERR_FILTER : rc;
    return lread_report(cfg, result, doing, ldap_err2string(rc), d);
}

/* libldap says only "Can't contact LDAP server" when the TLS handshake fails;
 * probe once more with OpenSSL to tell an unreachable host from an untrusted
 * certificate, and say which. */
static int report_connect(struct lsrc_conn *src, int rc, const char *doing, bool starttls)
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
static int kinit_keytab(struct lsrc_conn *src)
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

static int set_opt(struct lsrc_conn *src, int opt, const void *val, const char *what)
{
    int rc = ldap_set_option(src->ld, opt, val);
    if (rc != LDAP_OPT_SUCCESS)
        return log_error("ldap: cannot set %s: %s", what, ldap_err2string(rc));
    return 0;
}

static int configure_tls(struct lsrc_conn *src)
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

static int bind(struct lsrc_conn *src)
{
    const struct ldap_config *cfg = src->cfg;
    int rc;
    if (cfg->bind == LDAP_BIND_SIMPLE) {
        struct strbuf pw = STRBUF_INIT;
        if (lread_password(cfg, &pw)) {
            platform_wipe(&pw);
            return -1;
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

int lsrc_connect(const struct ldap_config *cfg, struct lsrc_conn **out)
{
    struct lsrc_conn *src = xcalloc(1, sizeof(*src));
    src->cfg = cfg;
    bool ldaps = strncasecmp(cfg->uri, "ldaps://", 8) == 0;
    src->tls = ldaps || cfg->starttls;
    if (lread_refuse_cleartext(cfg, src->tls))
        goto fail;
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
        ldap_unbind_ext_s(src->ld, NULL, NULL);
    free(src->ccache_name);
    free(src);
}

/* ---------------------------------------------------------------- entries */

int lsrc_entry_attr(struct lsrc_entry *e, struct lsrc_val *name, const struct lsrc_val **vals,
                    size_t *nvals)
{
    ber_memfree(e->vals);
    e->vals = NULL;
    struct berval bname, *bv = NULL;
    if (ldap_get_attribute_ber(e->conn->ld, e->msg, e->ber, &bname, &bv) != LDAP_SUCCESS) {
        ber_memfree(bv);
        return report(e->conn, LDAP_DECODING_ERROR, "read an entry");
    }
    if (!bname.bv_val)
        return 0;
    e->vals = bv;
    size_t n = 0;
    while (bv && bv[n].bv_val)
        n++;
    GROW(e->out, e->out_alloc, n + 1);
    for (size_t i = 0; i < n; i++)
        e->out[i] = (struct lsrc_val){ bv[i].bv_val, bv[i].bv_len };
    *name = (struct lsrc_val){ bname.bv_val, bname.bv_len };
    *vals = e->out;
    *nvals = n;
    return 1;
}

/* Hand one entry to fn. One pass over the entry's BER: asking libldap for
 * each attribute by name would rescan the entry every time. */
static int deliver(struct lsrc_entry *e, LDAPMessage *msg, lsrc_entry_fn fn, void *ctx)
{
    struct berval dn;
    e->msg = msg;
    e->ber = NULL;
    if (ldap_get_dn_ber(e->conn->ld, msg, &e->ber, &dn) != LDAP_SUCCESS) {
        ber_free(e->ber, 0);
        return report(e->conn, LDAP_DECODING_ERROR, "read an entry");
    }
    struct lsrc_val dnv = { dn.bv_val, dn.bv_len };
    int ret = fn(&dnv, e, ctx) ? -1 : 0;
    ber_memfree(e->vals);
    e->vals = NULL;
    ber_free(e->ber, 0);
    e->ber = NULL;
    return ret;
}

int lsrc_search(struct lsrc_conn *src, const char *base, enum lsrc_scope scope,
                const char *filter, char **attrs, int sizelimit, const char *doing,
                lsrc_entry_fn fn, void *ctx)
{
    LDAPMessage *res = NULL;
    struct timeval tv = { src->cfg->timeout, 0 };
    int rc = ldap_search_ext_s(src->ld, base, scope == LSRC_BASE ? LDAP_SCOPE_BASE : LDAP_SCOPE_SUBTREE,
                               filter, attrs, 0, NULL, NULL, &tv, sizelimit, &res);
    if (rc != LDAP_SUCCESS && !(sizelimit && rc == LDAP_SIZELIMIT_EXCEEDED)) {
        ldap_msgfree(res);
        return report(src, rc, doing);
    }
    struct lsrc_entry e = { .conn = src };
    int ret = 0;
    for (LDAPMessage *m = ldap_first_entry(src->ld, res); m && !ret; m = ldap_next_entry(src->ld, m))
        ret = deliver(&e, m, fn, ctx);
    free(e.out);
    ldap_msgfree(res);
    return ret;
}

/* One paged search over base; entries stream to fn as they arrive. */
int lsrc_paged_search(struct lsrc_conn *src, const char *base, const char *filter, char **attrs,
                      bool show_deleted, struct ldap_pull_stats *stats, lsrc_entry_fn fn,
                      void *ctx)
{
    LDAP *ld = src->ld;
    const struct ldap_config *cfg = src->cfg;
    struct berval cookie = { 0, NULL };
    struct lsrc_entry e = { .conn = src };
    int ret = 0;
    log_debug("search base=%s filter=%s", base, filter);
    do {
        LDAPControl *page = NULL, *ctrls[3] = { NULL, NULL, NULL };
        LDAPControl show = { LDAP_CONTROL_X_SHOW_DELETED, { 0, NULL }, 1 };
        int rc = ldap_create_page_control(ld, (ber_int_t)cfg->page_size, &cookie, 1, &page);
        if (rc != LDAP_SUCCESS) {
            ret = report(src, rc, "create the paged-results control");
            break;
        }
        ctrls[0] = page;
        if (show_deleted)
            ctrls[1] = &show;
        int msgid;
        rc = ldap_search_ext(ld, base, LDAP_SCOPE_SUBTREE, filter, attrs, 0, ctrls, NULL,
                             NULL, 0, &msgid);
        ldap_control_free(page);
        if (rc != LDAP_SUCCESS) {
            ret = report(src, rc, "search");
            break;
        }
        stats->pages++;
        bool done = false;
        while (!done) {
            LDAPMessage *msg = NULL;
            struct timeval tv = { cfg->timeout, 0 };
            rc = ldap_result(ld, msgid, LDAP_MSG_ONE, &tv, &msg);
            if (rc == 0) {
                ldap_abandon_ext(ld, msgid, NULL, NULL);
                ret = report(src, LDAP_TIMEOUT, "search");
                break;
            }
            if (rc < 0) {
                int err = LDAP_SERVER_DOWN;
                ldap_get_option(ld, LDAP_OPT_RESULT_CODE, &err);
                ret = lread_report_lost(cfg, "search", src->entries, ldap_err2string(err));
                break;
            }
            switch (ldap_msgtype(msg)) {
            case LDAP_RES_SEARCH_ENTRY:
                src->entries++;
                if (deliver(&e, msg, fn, ctx))
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
                    ret = report(src, err, "search");
                } else {
                    LDAPControl *pr = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, sctrls, NULL);
                    ber_int_t estimate;
                    if (pr && ldap_parse_pageresponse_control(ld, pr, &estimate, &cookie) != LDAP_SUCCESS)
                        ret = report(src, LDAP_DECODING_ERROR, "read the paged-results cookie");
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
    free(e.out);
    return ret;
}
