/* graph_auth.c - OAuth 2.0 client credentials for one tenant (reference
 * graph-api.md §5): a client secret, or a certificate's signed JWT client
 * assertion; the access token cached until shortly before it expires.
 *
 * Secrets live as briefly as they can: the secret file and the private key
 * are read each time a token is needed and wiped right after the request;
 * the token itself is wiped when replaced and at graph_close. None of them
 * ever reaches a log line or an error message. */
#include "compat.h"

#include <ctype.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "graph_p.h"
#include "log.h"
#include "platform.h"

#define CLIENT_ASSERTION_TYPE "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
/* exp = nbf + 10 min: the page asks for at most 5-10 minutes */
#define ASSERTION_LIFETIME 600

/* ------------------------------------------------------------------------
 * base64url, GUIDs */

char *base64url_encode(const unsigned char *data, size_t len)
{
    char *s = base64_encode(data, len);
    size_t n = 0;
    for (char *p = s; *p; p++) {
        if (*p == '=')
            break;
        s[n++] = *p == '+' ? '-' : *p == '/' ? '_' : *p;
    }
    s[n] = '\0';
    return s;
}

static int b64url_value(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-' || c == '+')
        return 62;
    if (c == '_' || c == '/')
        return 63;
    return -1;
}

unsigned char *base64url_decode(const char *text, size_t *len)
{
    size_t n = strlen(text);
    while (n && text[n - 1] == '=')
        n--;
    if (n % 4 == 1)
        return NULL;
    unsigned char *out = xmalloc(n * 3 / 4 + 1);
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64url_value((unsigned char)text[i]);
        if (v < 0) {
            free(out);
            return NULL;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    out[o] = '\0';
    *len = o;
    return out;
}

void graph_guid(char out[37])
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof(b)) != 1)
        die("openssl cannot produce random bytes for a GUID");
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
             b[13], b[14], b[15]);
}

/* ------------------------------------------------------------------------
 * The client assertion (reference §5.2,
 * learn.microsoft.com/entra/identity-platform/certificate-credentials) */

/* The thumbprint Entra shows: a hash of the certificate's DER encoding. */
static char *thumbprint(const unsigned char *der, size_t len, const EVP_MD *md)
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dl = 0;
    if (EVP_Digest(der, len, d, &dl, md, NULL) != 1)
        return NULL;
    return base64url_encode(d, dl);
}

static void add_number(cJSON *o, const char *name, long long v)
{
    /* raw, so that a time never turns into 1.7e+09 */
    char buf[32];
    snprintf(buf, sizeof(buf), "%lld", v);
    cJSON_AddRawToObject(o, name, buf);
}

static char *json_b64url(cJSON *o)
{
    char *text = cJSON_PrintUnformatted(o);
    char *enc = base64url_encode((const unsigned char *)text, strlen(text));
    cJSON_free(text);
    return enc;
}

static int openssl_error(const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[256] = "unknown error";
    if (e)
        ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    return log_error("%s: %s", what, buf);
}

int graph_jwt_build(const struct graph_jwt *in, struct strbuf *out)
{
    if (in->key && EVP_PKEY_get_base_id(in->key) != EVP_PKEY_RSA)
        return log_error("the private key is not an RSA key: Entra signs client assertions with "
                         "RSA only; register an RSA certificate");
    bool ps = in->alg == GRAPH_JWT_PS256;
    /* the certificate's DER: from the PEM file, or from the store, where
     * the key stays (platform_cert_sign without data only looks it up) */
    struct strbuf der = STRBUF_INIT;
    if (in->key) {
        unsigned char *d = NULL;
        int dl = i2d_X509(in->cert, &d);
        if (dl > 0)
            strbuf_add(&der, d, (size_t)dl);
        OPENSSL_free(d);
    } else if (platform_cert_sign(in->store_machine, in->thumbprint, &ps, NULL, 0, NULL, &der)) {
        return -1;
    }
    char *tp = der.len ? thumbprint((const unsigned char *)der.buf, der.len, ps ? EVP_sha256() : EVP_sha1()) : NULL;
    strbuf_release(&der);
    if (!tp)
        return openssl_error("cannot compute the certificate thumbprint");

    cJSON *h = cJSON_CreateObject();
    json_add_str(h, "alg", ps ? "PS256" : "RS256");
    json_add_str(h, "typ", "JWT");
    json_add_str(h, ps ? "x5t#S256" : "x5t", tp);
    free(tp);
    cJSON *c = cJSON_CreateObject();
    json_add_str(c, "aud", in->audience);
    add_number(c, "exp", (long long)in->now + in->lifetime);
    json_add_str(c, "iss", in->client_id);
    json_add_str(c, "jti", in->jti);
    add_number(c, "nbf", (long long)in->now);
    json_add_str(c, "sub", in->client_id);
    add_number(c, "iat", (long long)in->now);
    char *hs = json_b64url(h), *cs = json_b64url(c);
    cJSON_Delete(h);
    cJSON_Delete(c);

    struct strbuf input = STRBUF_INIT;
    strbuf_addf(&input, "%s.%s", hs, cs);
    free(hs);
    free(cs);

    int rc = -1;
    unsigned char *sig = NULL;
    size_t siglen = 0;
    EVP_PKEY_CTX *pctx = NULL;
    EVP_MD_CTX *mctx = NULL;
    if (!in->key) {
        /* the certificate store's key signs where it is kept */
        struct strbuf s = STRBUF_INIT, unused = STRBUF_INIT;
        if (platform_cert_sign(in->store_machine, in->thumbprint, &ps, input.buf, input.len, &s, &unused) == 0) {
            char *ss = base64url_encode((const unsigned char *)s.buf, s.len);
            strbuf_addf(out, "%s.%s", input.buf, ss);
            free(ss);
            rc = 0;
        }
        strbuf_release(&s);
        strbuf_release(&unused);
        goto out;
    }
    mctx = EVP_MD_CTX_new();
    if (!mctx || EVP_DigestSignInit(mctx, &pctx, EVP_sha256(), NULL, in->key) != 1) {
        openssl_error("cannot sign the client assertion");
        goto out;
    }
    if (ps && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
               /* RFC 7518 §3.5: the salt is as long as the SHA-256 hash; MGF1 uses SHA-256 too */
               EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
               EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) != 1)) {
        openssl_error("cannot set up PSS padding for the client assertion");
        goto out;
    }
    if (EVP_DigestSign(mctx, NULL, &siglen, (const unsigned char *)input.buf, input.len) != 1) {
        openssl_error("cannot sign the client assertion");
        goto out;
    }
    sig = xmalloc(siglen);
    if (EVP_DigestSign(mctx, sig, &siglen, (const unsigned char *)input.buf, input.len) != 1) {
        openssl_error("cannot sign the client assertion");
        goto out;
    }
    char *ss = base64url_encode(sig, siglen);
    strbuf_addf(out, "%s.%s", input.buf, ss);
    free(ss);
    rc = 0;
out:
    free(sig);
    EVP_MD_CTX_free(mctx);
    strbuf_release(&input);
    return rc;
}

/* Never ask for a passphrase on the terminal: a daemon has nobody to type it. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return 0;
}

static int load_certificate(struct graph *g, X509 **cert, EVP_PKEY **key)
{
    *cert = NULL;
    *key = NULL;
    BIO *b = BIO_new_file(g->cert_file, "r");
    if (!b)
        return openssl_error(g->cert_file);
    *cert = PEM_read_bio_X509(b, NULL, no_passphrase, NULL);
    BIO_free(b);
    if (!*cert) {
        ERR_clear_error();
        return log_error("tenant %s: certificate file %s holds no PEM certificate; give the "
                         "certificate registered on the app registration", g->name, g->cert_file);
    }
    if (X509_cmp_current_time(X509_get0_notAfter(*cert)) < 0) {
        X509_free(*cert);
        *cert = NULL;
        return log_error("tenant %s: the certificate in %s has expired; create a new one and "
                         "register it on the app registration", g->name, g->cert_file);
    }
    const char *kf = g->key_file ? g->key_file : g->cert_file;
    struct strbuf pem = STRBUF_INIT;
    if (platform_read_secret_file(kf, "private key", &pem)) {
        X509_free(*cert);
        *cert = NULL;
        return -1;
    }
    strbuf_addch(&pem, '\n');
    b = BIO_new_mem_buf(pem.buf, (int)pem.len);
    *key = b ? PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL) : NULL;
    BIO_free(b);
    platform_wipe(&pem);
    if (!*key) {
        ERR_clear_error();
        X509_free(*cert);
        *cert = NULL;
        return log_error("tenant %s: private key file %s holds no unencrypted PEM private key; "
                         "store the key unencrypted (mode 600)", g->name, kf);
    }
    if (X509_check_private_key(*cert, *key) != 1) {
        ERR_clear_error();
        X509_free(*cert);
        EVP_PKEY_free(*key);
        *cert = NULL;
        *key = NULL;
        return log_error("tenant %s: the private key in %s does not belong to the certificate in "
                         "%s", g->name, kf, g->cert_file);
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Token errors → remedy */

static const struct {
    long code;
    const char *remedy;
} aadsts[] = {
    { 50027, "the client assertion is malformed; this is a bug in dualsync, please report it" },
    { 50059, "give the tenant's id (a GUID) or a verified domain as tenant_id, not common" },
    { 53003, "a Conditional Access policy blocks the application; exclude its service principal" },
    { 70011, "the scope is refused; this is a bug in dualsync, please report it" },
    { 90002, "no such tenant in this cloud: check tenant_id and the tenant's cloud" },
    { 90014, "a field is missing in the token request; this is a bug in dualsync, please report it" },
    { 500011, "Microsoft Graph has no service principal in this tenant: check that the tenant is in "
              "the configured cloud and that the app was consented there" },
    { 700016, "the application is not known in this tenant: check client_id and tenant_id, and "
              "grant admin consent for the app in this tenant" },
    { 700021, "the client assertion names another application: check client_id" },
    { 700023, "the assertion's audience does not match the tenant's token URL: check tenant_id and "
              "the cloud" },
    { 700024, "the client assertion is outside its valid time: the local clock is wrong; set it "
              "right (NTP)" },
    { 700025, "the application is registered as a public client: turn off \"Allow public client "
              "flows\" in its registration" },
    { 700027, "the certificate is not registered on the app (or its signature does not match): "
              "upload the certificate in cert_file under Certificates & secrets" },
    { 900382, "the tenant lives in another Microsoft cloud: set the tenant's cloud in the "
              "configuration" },
    { 900023, "tenant_id is neither a GUID nor a domain of a tenant: check it" },
    { 1002012, "the scope is refused; this is a bug in dualsync, please report it" },
    { 5002723, "the client assertion carries no certificate thumbprint; this is a bug in dualsync" },
    { 5002738, "the signature algorithm is refused: use jwt_alg ps256 (or rs256)" },
    { 7000112, "the application is disabled in this tenant: enable its service principal" },
    { 7000215, "the client secret is wrong: put the secret's Value (not its ID) in the secret file, "
               "or create a new secret under Certificates & secrets" },
    { 7000218, "no credential was sent; give secret_file or cert_file" },
    { 7000222, "the client secret has expired: create a new secret under Certificates & secrets "
               "and put it in the secret file" },
};

const char *graph_aadsts_remedy(long code)
{
    for (size_t i = 0; i < ARRAY_SIZE(aadsts); i++)
        if (aadsts[i].code == code)
            return aadsts[i].remedy;
    return NULL;
}

char **graph_token_roles(const char *token)
{
    const char *p1 = strchr(token, '.');
    const char *p2 = p1 ? strchr(p1 + 1, '.') : NULL;
    if (!p1 || !p2)
        return NULL;
    char *seg = xstrndup(p1 + 1, (size_t)(p2 - p1 - 1));
    size_t len;
    unsigned char *json = base64url_decode(seg, &len);
    free(seg);
    if (!json)
        return NULL;
    cJSON *claims = cJSON_ParseWithLength((const char *)json, len);
    free(json);
    if (!cJSON_IsObject(claims)) {
        cJSON_Delete(claims);
        return NULL;
    }
    const cJSON *roles = cJSON_GetObjectItemCaseSensitive(claims, "roles");
    size_t n = cJSON_IsArray(roles) ? (size_t)cJSON_GetArraySize(roles) : 0;
    char **v = xcalloc(n + 1, sizeof(*v));
    size_t k = 0;
    const cJSON *r;
    if (n)
        cJSON_ArrayForEach(r, roles)
            if (cJSON_IsString(r))
                v[k++] = xstrdup(r->valuestring);
    cJSON_Delete(claims);
    return v;
}

/* ------------------------------------------------------------------------
 * Obtaining the token */

static void form_add(struct strbuf *form, CURL *h, const char *name, const char *value)
{
    char *esc = curl_easy_escape(h, value, 0);
    if (!esc)
        die("out of memory escaping a form field");
    if (form->len)
        strbuf_addch(form, '&');
    strbuf_addf(form, "%s=%s", name, esc);
    /* the value may be the secret or the assertion */
    platform_wipe_mem(esc, strlen(esc));
    curl_free(esc);
}

/* The form body of the token request, with the credential. */
static int token_form(struct graph *g, struct strbuf *form)
{
    form_add(form, g->easy, "client_id", g->client_id);
    form_add(form, g->easy, "scope", g->scope);
    form_add(form, g->easy, "grant_type", "client_credentials");
    if (g->secret_file) {
        struct strbuf secret = STRBUF_INIT;
        if (platform_read_secret_file(g->secret_file, "client secret", &secret))
            return -1;
        form_add(form, g->easy, "client_secret", secret.buf);
        platform_wipe(&secret);
        return 0;
    }
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    if (!g->thumbprint && load_certificate(g, &cert, &key))
        return -1;
    char jti[37];
    graph_guid(jti);
    struct graph_jwt jwt = {
        .key = key, .cert = cert, .thumbprint = g->thumbprint, .store_machine = g->store_machine,
        .alg = g->jwt_alg, .audience = g->token_url,
        /* the service judges nbf and exp on its own clock: a host whose
         * clock is off would otherwise be refused (AADSTS700024) */
        .client_id = g->client_id, .jti = jti, .now = graph_server_time(g), .lifetime = ASSERTION_LIFETIME,
    };
    struct strbuf assertion = STRBUF_INIT;
    int rc = graph_jwt_build(&jwt, &assertion);
    EVP_PKEY_free(key);
    X509_free(cert);
    if (rc) {
        platform_wipe(&assertion);
        return -1;
    }
    form_add(form, g->easy, "client_assertion_type", CLIENT_ASSERTION_TYPE);
    form_add(form, g->easy, "client_assertion", assertion.buf);
    platform_wipe(&assertion);
    return 0;
}

int graph_token_parse(const char *body, size_t len, struct strbuf *token, double *expires_in)
{
    cJSON *j = cJSON_ParseWithLength(body, len);
    const cJSON *tok = cJSON_GetObjectItemCaseSensitive(j, "access_token");
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(j, "expires_in");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(j, "token_type");
    double secs = -1;
    if (cJSON_IsNumber(exp))
        secs = exp->valuedouble;
    else if (cJSON_IsString(exp)) /* the v1 endpoint sent it as a string */
        secs = strtod(exp->valuestring, NULL);
    int rc = -1;
    if (cJSON_IsString(tok) && *tok->valuestring && secs > 0 && secs < 1e9 &&
        (!type || (cJSON_IsString(type) && !strcasecmp(type->valuestring, "Bearer")))) {
        strbuf_addstr(token, tok->valuestring);
        *expires_in = secs;
        rc = 0;
    }
    if (cJSON_IsString(tok))
        platform_wipe_mem(tok->valuestring, strlen(tok->valuestring));
    cJSON_Delete(j);
    return rc;
}

/* Take a 200 answer's token. */
static int token_accept(struct graph *g, const char *body, size_t len)
{
    struct strbuf tok = STRBUF_INIT;
    double secs;
    if (graph_token_parse(body, len, &tok, &secs)) {
        platform_wipe(&tok);
        return -1;
    }
    platform_wipe(&g->token);
    g->token = tok; /* moved: nothing to wipe twice */
    /* what the token allows: a 403 is the application's when it lacks the
     * request's permission (graph_request.permissions) */
    graph_strv_free(g->roles);
    g->roles = graph_token_roles(g->token.buf);
    /* renew shortly before it expires: 5 minutes early, or half the
     * lifetime for a short-lived token, so a request never carries a token
     * that dies on the way */
    double margin = secs > 600 ? 300 : secs / 2;
    g->token_expires = graph_now() + secs - margin;
    g->token_gen++;
    g->stats.tokens++;
    return 0;
}

enum graph_status graph_token_fetch(struct graph *g)
{
    if (g->stopped)
        return g->stopped;
    struct strbuf form = STRBUF_INIT;
    if (token_form(g, &form)) {
        platform_wipe(&form);
        graph_stop(g, GRAPH_TENANT_STOPPED, "no token: the credential could not be read (see above)");
        return g->stopped;
    }
    enum graph_status st = GRAPH_TENANT_STOPPED;
    char *why = NULL;
    bool skew_retried = false;
    for (int attempt = 1;; attempt++) {
        struct http_body body = { STRBUF_INIT, 1 << 20, false };
        struct http_headers hdr;
        char errbuf[CURL_ERROR_SIZE] = "";
        memset(&hdr, 0, sizeof(hdr));
        curl_easy_reset(g->easy);
        graph_easy_setup(g, g->easy);
        curl_easy_setopt(g->easy, CURLOPT_URL, g->token_url);
        curl_easy_setopt(g->easy, CURLOPT_POST, 1L);
        /* not COPYPOSTFIELDS: the form holds the secret and is wiped below */
        curl_easy_setopt(g->easy, CURLOPT_POSTFIELDS, form.buf);
        curl_easy_setopt(g->easy, CURLOPT_POSTFIELDSIZE, (long)form.len);
        curl_easy_setopt(g->easy, CURLOPT_HEADERFUNCTION, graph_header_cb);
        curl_easy_setopt(g->easy, CURLOPT_HEADERDATA, &hdr);
        curl_easy_setopt(g->easy, CURLOPT_WRITEFUNCTION, graph_body_cb);
        curl_easy_setopt(g->easy, CURLOPT_WRITEDATA, &body);
        curl_easy_setopt(g->easy, CURLOPT_ERRORBUFFER, errbuf);
        struct curl_slist *h = curl_slist_append(NULL, "Accept: application/json");
        h = curl_slist_append(h, "Content-Type: application/x-www-form-urlencoded");
        /* MS-OAPX 2.2.1: the identity platform logs a failure under the
         * client-request-id sent; support asks for it and the x-ms-request-id */
        char crid[37], crid_h[64];
        graph_guid(crid);
        snprintf(crid_h, sizeof(crid_h), "client-request-id: %s", crid);
        h = curl_slist_append(h, crid_h);
        h = curl_slist_append(h, "return-client-request-id: true");
        curl_easy_setopt(g->easy, CURLOPT_HTTPHEADER, h);
        CURLcode cc = curl_easy_perform(g->easy);
        curl_easy_setopt(g->easy, CURLOPT_POSTFIELDS, NULL);
        curl_easy_setopt(g->easy, CURLOPT_HTTPHEADER, NULL);
        curl_slist_free_all(h);
        long status = 0;
        curl_easy_getinfo(g->easy, CURLINFO_RESPONSE_CODE, &status);
        log_debug("tenant %s: POST %s -> %ld request-id %s", g->name, g->token_url, status,
                  hdr.request_id[0] ? hdr.request_id : "-");
        if (hdr.date[0])
            graph_note_date(g, hdr.date);
        double wait = -1;
        free(why);
        why = NULL;
        if (cc != CURLE_OK) {
            bool tls = cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE ||
                       cc == CURLE_SSL_CERTPROBLEM;
            why = xasprintf("no token from %s: %s%s%s (client-request-id %s)", g->login_host,
                            curl_easy_strerror(cc), errbuf[0] ? ": " : "", errbuf, crid);
            if (tls) {
                char *w = xasprintf("%s; %s", why, graph_tls_remedy(g));
                free(why);
                why = w;
            } else {
                wait = graph_backoff(attempt, g->backoff_base, g->backoff_cap, graph_random(g));
            }
        } else if (status == 200 && !body.overflow) {
            if (token_accept(g, body.sb.buf ? body.sb.buf : "", body.sb.len) == 0) {
                st = GRAPH_OK;
            } else {
                why = xasprintf("the token endpoint %s answered 200 without a usable access_token: "
                                "a proxy in between? (client-request-id %s)", g->login_host, crid);
            }
        } else {
            char *code = NULL;
            char *msg = graph_error_message((int)status, hdr.content_type, body.sb.buf, body.sb.len, &code);
            const char *remedy = code && !strncmp(code, "AADSTS", 6) ? graph_aadsts_remedy(strtol(code + 6, NULL, 10)) : NULL;
            size_t ml = strlen(msg);
            while (ml && (msg[ml - 1] == '.' || msg[ml - 1] == ' '))
                msg[--ml] = '\0';
            why = xasprintf("token request refused: %s%s%s (client-request-id %s, request-id %s)", msg,
                            remedy ? "; " : "", remedy ? remedy : "", crid,
                            hdr.request_id[0] ? hdr.request_id : "none");
            free(msg);
            /* an assertion outside its time window, made before any answer
             * told us the service's clock: this answer's Date did, so make
             * the assertion again on the service's time, once */
            bool late = code && !strcmp(code, "AADSTS700024") && g->cert_file && !skew_retried;
            free(code);
            if (late && g->have_skew && labs(g->skew) > 60) {
                skew_retried = true;
                log_info("tenant %s: the local clock is %+ld s off the service's; signing the client "
                         "assertion on the service's time (set the clock right: NTP)", g->name, g->skew);
                platform_wipe(&form);
                platform_wipe(&body.sb);
                if (token_form(g, &form)) {
                    platform_wipe(&form);
                    break;
                }
                continue;
            }
            if (status == 429 || status >= 500) {
                double ra;
                if (graph_parse_retry_after(hdr.retry_after[0] ? hdr.retry_after : NULL, graph_server_time(g), &ra) < 0)
                    wait = graph_backoff(attempt, g->backoff_base, g->backoff_cap, graph_random(g));
                else if (attempt < g->max_tries && !graph_asked_wait(g, ra, "the token request"))
                    wait = -1; /* longer than max_retry_wait: the tenant is stopped */
                else
                    wait = ra;
            }
        }
        platform_wipe(&body.sb);
        if (st == GRAPH_OK || wait < 0 || attempt >= g->max_tries)
            break;
        log_verbose("tenant %s: %s; trying again in %.1f s", g->name, why, wait);
        g->stats.retries++;
        platform_sleep(wait);
    }
    platform_wipe(&form);
    if (st != GRAPH_OK)
        graph_stop(g, GRAPH_TENANT_STOPPED, "%s", why ? why : "no token");
    free(why);
    return g->stopped ? g->stopped : st;
}

const char *graph_token(struct graph *g)
{
    if (g->stopped)
        return NULL;
    if (!g->token.len || graph_now() >= g->token_expires) {
        if (graph_token_fetch(g) != GRAPH_OK)
            return NULL;
    }
    return g->token.buf;
}

void graph_token_drop(struct graph *g)
{
    platform_wipe(&g->token);
    g->token_expires = 0;
}

enum graph_status graph_authenticate(struct graph *g)
{
    return graph_token(g) ? GRAPH_OK : g->stopped;
}
