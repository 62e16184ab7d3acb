/* Unit tests for the pure parts of the Graph client: the client assertion
 * (built, then verified with the certificate's public key), Retry-After,
 * backoff, $batch building and matching, paging links, error messages, the
 * token's roles, pacing and request costs, the request builders. */
#include "compat.h"

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>
#include <math.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "../../src/graph_p.h"
#include "graph.h"
#include "util.h"

/* ------------------------------------------------------------------------
 * helpers */

static EVP_PKEY *rsa_key;
static X509 *rsa_cert;

static X509 *self_signed(EVP_PKEY *key)
{
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 42);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    X509_NAME *n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"dualsync-unit", -1, -1, 0);
    X509_set_issuer_name(x, n);
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    return x;
}

static int setup(void **state)
{
    (void)state;
    rsa_key = EVP_RSA_gen(2048);
    if (!rsa_key)
        return -1;
    rsa_cert = self_signed(rsa_key);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    X509_free(rsa_cert);
    EVP_PKEY_free(rsa_key);
    return 0;
}

static char *segment(const char *jwt, int k)
{
    const char *p = jwt;
    for (int i = 0; i < k; i++)
        p = strchr(p, '.') + 1;
    const char *e = strchr(p, '.');
    return e ? xstrndup(p, (size_t)(e - p)) : xstrdup(p);
}

static cJSON *decode_json_segment(const char *jwt, int k)
{
    char *seg = segment(jwt, k);
    size_t len;
    unsigned char *raw = base64url_decode(seg, &len);
    free(seg);
    assert_non_null(raw);
    cJSON *j = cJSON_ParseWithLength((const char *)raw, len);
    free(raw);
    assert_non_null(j);
    return j;
}

static const char *jstr(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    assert_true(cJSON_IsString(v));
    return v->valuestring;
}

static double jnum(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    assert_true(cJSON_IsNumber(v));
    return v->valuedouble;
}

static char *thumb(X509 *cert, const EVP_MD *md)
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dl;
    unsigned char *der = NULL;
    int len = i2d_X509(cert, &der);
    EVP_Digest(der, (size_t)len, d, &dl, md, NULL);
    OPENSSL_free(der);
    return base64url_encode(d, dl);
}

/* Verify the JWS signature with the certificate's public key, as Entra does. */
static bool verify(const char *jwt, X509 *cert, bool pss)
{
    const char *last = strrchr(jwt, '.');
    size_t siglen;
    unsigned char *sig = base64url_decode(last + 1, &siglen);
    assert_non_null(sig);
    EVP_PKEY *pub = X509_get0_pubkey(cert);
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    assert_int_equal(EVP_DigestVerifyInit(m, &pctx, EVP_sha256(), NULL, pub), 1);
    if (pss) {
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
    }
    int ok = EVP_DigestVerify(m, sig, siglen, (const unsigned char *)jwt, (size_t)(last - jwt));
    EVP_MD_CTX_free(m);
    free(sig);
    return ok == 1;
}

static struct graph_jwt jwt_input(enum graph_jwt_alg alg)
{
    struct graph_jwt in = {
        .key = rsa_key, .cert = rsa_cert, .alg = alg,
        .audience = "https://login.microsoftonline.us/7b2d9f40-1e6c-4c83-a5d2-9e0b3c7f6d22/oauth2/v2.0/token",
        .client_id = "6a1e9d42-3c8b-4f57-b0a9-2e4d7f1c8b63",
        .jti = "0b5c2f1e-8a77-4d2c-9e41-5f0a6b3c2d10", .now = 1767225600, .lifetime = 600,
    };
    return in;
}

/* ------------------------------------------------------------------------
 * the client assertion */

static void jwt_ps256_header_claims_and_signature(void **state)
{
    (void)state;
    struct graph_jwt in = jwt_input(GRAPH_JWT_PS256);
    struct strbuf out = STRBUF_INIT;
    assert_int_equal(graph_jwt_build(&in, &out), 0);

    cJSON *h = decode_json_segment(out.buf, 0);
    assert_string_equal(jstr(h, "alg"), "PS256");
    assert_string_equal(jstr(h, "typ"), "JWT");
    char *tp = thumb(rsa_cert, EVP_sha256());
    assert_string_equal(jstr(h, "x5t#S256"), tp);
    assert_null(cJSON_GetObjectItemCaseSensitive(h, "x5t"));
    free(tp);
    cJSON_Delete(h);

    cJSON *c = decode_json_segment(out.buf, 1);
    assert_string_equal(jstr(c, "aud"), in.audience);
    assert_string_equal(jstr(c, "iss"), in.client_id);
    assert_string_equal(jstr(c, "sub"), in.client_id);
    assert_string_equal(jstr(c, "jti"), in.jti);
    assert_true(jnum(c, "nbf") == 1767225600.0);
    assert_true(jnum(c, "iat") == 1767225600.0);
    assert_true(jnum(c, "exp") == 1767225600.0 + 600);
    cJSON_Delete(c);
    /* the times are written as integers, never as 1.76e+09 */
    char *seg = segment(out.buf, 1);
    size_t len;
    char *raw = (char *)base64url_decode(seg, &len);
    assert_non_null(strstr(raw, "\"exp\":1767226200"));
    free(raw);
    free(seg);

    assert_true(verify(out.buf, rsa_cert, true));
    /* PS256 is not PKCS#1 v1.5 */
    assert_false(verify(out.buf, rsa_cert, false));
    /* a tampered claim no longer verifies */
    char *bad = xstrdup(out.buf);
    char *p = strchr(bad, '.') + 3;
    *p = *p == 'A' ? 'B' : 'A';
    assert_false(verify(bad, rsa_cert, true));
    free(bad);
    strbuf_release(&out);
}

static void jwt_rs256_uses_sha1_x5t(void **state)
{
    (void)state;
    struct graph_jwt in = jwt_input(GRAPH_JWT_RS256);
    struct strbuf out = STRBUF_INIT;
    assert_int_equal(graph_jwt_build(&in, &out), 0);
    cJSON *h = decode_json_segment(out.buf, 0);
    assert_string_equal(jstr(h, "alg"), "RS256");
    char *tp = thumb(rsa_cert, EVP_sha1());
    assert_string_equal(jstr(h, "x5t"), tp);
    assert_null(cJSON_GetObjectItemCaseSensitive(h, "x5t#S256"));
    free(tp);
    cJSON_Delete(h);
    assert_true(verify(out.buf, rsa_cert, false));
    strbuf_release(&out);
}

static void jwt_signed_by_another_key_fails_verification(void **state)
{
    (void)state;
    EVP_PKEY *other = EVP_RSA_gen(2048);
    X509 *other_cert = self_signed(other);
    struct graph_jwt in = jwt_input(GRAPH_JWT_PS256);
    struct strbuf out = STRBUF_INIT;
    assert_int_equal(graph_jwt_build(&in, &out), 0);
    assert_false(verify(out.buf, other_cert, true));
    strbuf_release(&out);
    X509_free(other_cert);
    EVP_PKEY_free(other);
}

static void jwt_refuses_a_non_rsa_key(void **state)
{
    (void)state;
    EVP_PKEY *ec = EVP_EC_gen("P-256");
    assert_non_null(ec);
    X509 *c = self_signed(ec);
    struct graph_jwt in = jwt_input(GRAPH_JWT_PS256);
    in.key = ec;
    in.cert = c;
    struct strbuf out = STRBUF_INIT;
    assert_int_equal(graph_jwt_build(&in, &out), -1);
    assert_int_equal(out.len, 0);
    strbuf_release(&out);
    X509_free(c);
    EVP_PKEY_free(ec);
}

static void base64url_round_trip(void **state)
{
    (void)state;
    const unsigned char data[] = { 0xfb, 0xff, 0xbf, 0x00, 0x3e, 0x3f };
    for (size_t n = 0; n <= sizeof(data); n++) {
        char *e = base64url_encode(data, n);
        assert_null(strpbrk(e, "+/="));
        size_t len;
        unsigned char *d = base64url_decode(e, &len);
        assert_non_null(d);
        assert_int_equal(len, n);
        assert_memory_equal(d, data, n);
        free(d);
        free(e);
    }
    size_t len;
    assert_null(base64url_decode("a*b", &len));
    assert_null(base64url_decode("abcde", &len)); /* 5 chars cannot be base64 */
    unsigned char *d = base64url_decode("-_8=", &len); /* padding tolerated */
    assert_non_null(d);
    assert_int_equal(len, 2);
    assert_int_equal(d[0], 0xfb);
    assert_int_equal(d[1], 0xff);
    free(d);
}

static void guid_is_version_4(void **state)
{
    (void)state;
    char a[37], b[37];
    graph_guid(a);
    graph_guid(b);
    assert_int_equal(strlen(a), 36);
    assert_int_equal(a[14], '4');
    assert_non_null(strchr("89ab", a[19]));
    assert_int_equal(a[8], '-');
    assert_string_not_equal(a, b);
}

/* ------------------------------------------------------------------------
 * Retry-After and backoff */

static void retry_after_seconds_fractional_and_dates(void **state)
{
    (void)state;
    double s;
    assert_int_equal(graph_parse_retry_after("2.128", 0, &s), 0);
    assert_true(fabs(s - 2.128) < 1e-9);
    assert_int_equal(graph_parse_retry_after("0", 0, &s), 0);
    assert_true(s == 0);
    assert_int_equal(graph_parse_retry_after(" 120 ", 0, &s), 0);
    assert_true(s == 120);
    assert_int_equal(graph_parse_retry_after(".5", 0, &s), 0);
    assert_true(s == 0.5);
    time_t date = curl_getdate("Wed, 21 Oct 2015 07:28:00 GMT", NULL);
    assert_int_equal(graph_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", date - 10, &s), 0);
    assert_true(s == 10);
    /* the obsolete RFC 850 form too; a date in the past means now */
    assert_int_equal(graph_parse_retry_after("Wednesday, 21-Oct-15 07:28:00 GMT", date + 5, &s), 0);
    assert_true(s == 0);
    assert_int_equal(graph_parse_retry_after("-1", 0, &s), -1);
    assert_int_equal(graph_parse_retry_after("soon", 0, &s), -1);
    assert_int_equal(graph_parse_retry_after("5 s", 0, &s), -1);
    assert_int_equal(graph_parse_retry_after("", 0, &s), -1);
    assert_int_equal(graph_parse_retry_after(NULL, 0, &s), -1);
}

static void backoff_grows_with_jitter_within_bounds(void **state)
{
    (void)state;
    double base = 0.5, cap = 30;
    double prev_hi = 0;
    for (int a = 1; a <= 12; a++) {
        double d = fmin(cap, base * pow(2, a - 1));
        double lo = graph_backoff(a, base, cap, 0.0);
        double hi = graph_backoff(a, base, cap, 0.999999);
        double mid = graph_backoff(a, base, cap, 0.5);
        assert_true(fabs(lo - d / 2) < 1e-9);
        assert_true(hi <= d + 1e-9 && hi > d * 0.99);
        assert_true(mid > lo && mid < hi);
        assert_true(hi >= prev_hi - 1e-9);
        prev_hi = hi;
    }
    /* capped, never more than cap, never zero */
    assert_true(graph_backoff(40, base, cap, 0.999) <= cap);
    assert_true(graph_backoff(1, base, cap, 0.0) > 0);
    /* out-of-range inputs clamp */
    assert_true(graph_backoff(0, base, cap, -1) == base / 2);
    assert_true(graph_backoff(1, base, cap, 7) <= base);
}

/* ------------------------------------------------------------------------
 * $batch */

static void batch_body_has_ids_headers_and_bodies(void **state)
{
    (void)state;
    struct graph_request reqs[3];
    struct graph_invitation inv = { .user_id = "u-1", .email = "a@partner.example",
                                    .redirect_url = "https://myapps.microsoft.com" };
    graph_req_get(&reqs[0], "/organization");
    graph_req_invite(&reqs[1], &inv);
    graph_req_set_user_type(&reqs[2], "u-2", "Guest");
    snprintf(reqs[1].client_request_id, sizeof(reqs[1].client_request_id), "%s",
             "11111111-2222-4333-8444-555555555555");
    size_t idx[] = { 2, 1 };
    cJSON *b = graph_batch_body(reqs, idx, 2);
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(b, "requests");
    assert_int_equal(cJSON_GetArraySize(arr), 2);
    const cJSON *r0 = cJSON_GetArrayItem(arr, 0), *r1 = cJSON_GetArrayItem(arr, 1);
    assert_string_equal(jstr(r0, "id"), "2");
    assert_string_equal(jstr(r0, "method"), "PATCH");
    assert_string_equal(jstr(r0, "url"), "/users/u-2");
    assert_string_equal(jstr(r1, "id"), "1");
    assert_string_equal(jstr(r1, "url"), "/invitations");
    const cJSON *h1 = cJSON_GetObjectItemCaseSensitive(r1, "headers");
    assert_string_equal(jstr(h1, "Content-Type"), "application/json");
    assert_string_equal(jstr(h1, "client-request-id"), "11111111-2222-4333-8444-555555555555");
    const cJSON *body = cJSON_GetObjectItemCaseSensitive(r1, "body");
    assert_string_equal(jstr(cJSON_GetObjectItemCaseSensitive(body, "invitedUser"), "id"), "u-1");
    cJSON_Delete(b);
    for (int i = 0; i < 3; i++)
        graph_request_release(&reqs[i]);
}

static void batch_answers_matched_by_id_whatever_the_order(void **state)
{
    (void)state;
    size_t idx[] = { 40, 41, 42, 43, 44 };
    /* shuffled, with an unknown id, a duplicate and one missing (43) */
    const char *answer =
        "{\"responses\":["
        "{\"id\":\"44\",\"status\":201,\"body\":{\"n\":44}},"
        "{\"id\":\"7\",\"status\":200},"
        "{\"id\":\"41\",\"status\":429,\"headers\":{\"retry-after\":\"2.5\",\"Content-Type\":\"application/json\"}},"
        "{\"id\":\"40\",\"status\":201,\"body\":{\"n\":40}},"
        "{\"id\":\"42\",\"status\":403},"
        "{\"id\":\"40\",\"status\":500},"
        "{\"status\":200}"
        "]}";
    cJSON *j = cJSON_Parse(answer);
    const cJSON *out[5];
    assert_int_equal(graph_batch_match(j, idx, 5, out), 4);
    assert_int_equal((int)jnum(out[0], "status"), 201);
    assert_int_equal((int)jnum(cJSON_GetObjectItemCaseSensitive(out[0], "body"), "n"), 40);
    assert_int_equal((int)jnum(out[1], "status"), 429);
    assert_int_equal((int)jnum(out[2], "status"), 403);
    assert_null(out[3]);
    assert_int_equal((int)jnum(cJSON_GetObjectItemCaseSensitive(out[4], "body"), "n"), 44);
    /* item headers are looked up whatever their case */
    assert_string_equal(graph_batch_item_header(out[1], "Retry-After"), "2.5");
    assert_string_equal(graph_batch_item_header(out[1], "content-type"), "application/json");
    assert_null(graph_batch_item_header(out[0], "Retry-After"));
    cJSON_Delete(j);

    /* every permutation of a small batch matches the same way */
    size_t idx3[] = { 0, 1, 2 };
    const int perms[6][3] = { { 0, 1, 2 }, { 0, 2, 1 }, { 1, 0, 2 }, { 1, 2, 0 }, { 2, 0, 1 }, { 2, 1, 0 } };
    for (int p = 0; p < 6; p++) {
        cJSON *a = cJSON_CreateObject();
        cJSON *arr = cJSON_AddArrayToObject(a, "responses");
        for (int k = 0; k < 3; k++) {
            cJSON *it = cJSON_CreateObject();
            char id[4];
            snprintf(id, sizeof(id), "%d", perms[p][k]);
            cJSON_AddStringToObject(it, "id", id);
            cJSON_AddNumberToObject(it, "status", 200 + perms[p][k]);
            cJSON_AddItemToArray(arr, it);
        }
        const cJSON *o[3];
        assert_int_equal(graph_batch_match(a, idx3, 3, o), 3);
        for (int k = 0; k < 3; k++)
            assert_int_equal((int)jnum(o[k], "status"), 200 + k);
        cJSON_Delete(a);
    }

    /* a 424 or error envelope without responses */
    cJSON *e = cJSON_Parse("{\"error\":{\"code\":\"x\"}}");
    assert_int_equal(graph_batch_match(e, idx, 5, out), -1);
    cJSON_Delete(e);
}

/* ------------------------------------------------------------------------
 * paging */

static void next_links_only_to_the_tenant_graph_host(void **state)
{
    (void)state;
    const char *h = "graph.microsoft.us";
    assert_true(graph_link_ok(h, "https://graph.microsoft.us/v1.0/users?$skiptoken=X"));
    assert_true(graph_link_ok(h, "https://GRAPH.microsoft.us/v1.0/users"));
    assert_false(graph_link_ok(h, "http://graph.microsoft.us/v1.0/users"));
    assert_false(graph_link_ok(h, "https://graph.microsoft.com/v1.0/users"));
    assert_false(graph_link_ok(h, "https://graph.microsoft.us.evil.example/v1.0/users"));
    assert_false(graph_link_ok(h, "https://graph.microsoft.us@evil.example/v1.0/users"));
    assert_false(graph_link_ok(h, "https://graph.microsoft.us:8443/v1.0/users"));
    assert_false(graph_link_ok(h, "/v1.0/users"));
    assert_false(graph_link_ok(h, NULL));

    char *next, *delta, *err;
    cJSON *p = cJSON_Parse("{\"value\":[],\"@odata.nextLink\":\"https://graph.microsoft.us/v1.0/users?$skiptoken=AB\"}");
    assert_int_equal(graph_page_links(p, h, &next, &delta, &err), 0);
    assert_string_equal(next, "https://graph.microsoft.us/v1.0/users?$skiptoken=AB");
    assert_null(delta);
    free(next);
    cJSON_Delete(p);

    p = cJSON_Parse("{\"value\":[],\"@odata.deltaLink\":\"https://graph.microsoft.us/v1.0/users/delta?$deltatoken=Z\"}");
    assert_int_equal(graph_page_links(p, h, &next, &delta, &err), 0);
    assert_null(next);
    assert_string_equal(delta, "https://graph.microsoft.us/v1.0/users/delta?$deltatoken=Z");
    free(delta);
    cJSON_Delete(p);

    p = cJSON_Parse("{\"value\":[]}");
    assert_int_equal(graph_page_links(p, h, &next, &delta, &err), 0);
    assert_null(next);
    assert_null(delta);
    cJSON_Delete(p);

    p = cJSON_Parse("{\"value\":[],\"@odata.nextLink\":\"https://attacker.example/v1.0/users\"}");
    assert_int_equal(graph_page_links(p, h, &next, &delta, &err), -1);
    assert_null(next);
    assert_non_null(strstr(err, "refusing to follow"));
    free(err);
    cJSON_Delete(p);
}

/* ------------------------------------------------------------------------
 * error answers */

static void error_json_to_clear_messages(void **state)
{
    (void)state;
    char *code;
    const char *graph = "{\"error\":{\"code\":\"Request_BadRequest\",\"message\":\"Property 'x' does\\nnot exist\","
                        "\"innerError\":{\"request-id\":\"r\"}}}";
    char *m = graph_error_message(400, "application/json;odata.metadata=minimal", graph, strlen(graph), &code);
    assert_string_equal(m, "400 Request_BadRequest: Property 'x' does not exist");
    assert_string_equal(code, "Request_BadRequest");
    free(m);
    free(code);

    const char *aad = "{\"error\":\"invalid_client\",\"error_description\":\"AADSTS7000215: Invalid client secret "
                      "provided. Trace ID: abc Correlation ID: def Timestamp: 2025-01-01\",\"error_codes\":[7000215]}";
    m = graph_error_message(401, "application/json; charset=utf-8", aad, strlen(aad), &code);
    assert_string_equal(m, "401 invalid_client: AADSTS7000215: Invalid client secret provided.");
    assert_string_equal(code, "AADSTS7000215");
    assert_non_null(graph_aadsts_remedy(7000215));
    assert_non_null(strstr(graph_aadsts_remedy(700027), "certificate"));
    assert_null(graph_aadsts_remedy(1));
    free(m);
    free(code);

    const char *html = "<html><body>502 Bad Gateway</body></html>";
    m = graph_error_message(502, "text/html", html, strlen(html), &code);
    assert_non_null(strstr(m, "not JSON (text/html"));
    assert_non_null(strstr(m, "proxy"));
    assert_null(code);
    free(m);

    const char *cut = "{\"error\":{\"code\":\"Forb";
    m = graph_error_message(403, "application/json", cut, strlen(cut), &code);
    assert_non_null(strstr(m, "malformed or truncated JSON"));
    free(m);

    m = graph_error_message(503, "application/json", "", 0, &code);
    assert_string_equal(m, "503 with an empty answer");
    free(m);

    m = graph_error_message(500, NULL, "[1,2]", 5, NULL);
    assert_non_null(strstr(m, "not a Graph error"));
    free(m);

    assert_true(graph_is_invites_blocked(403, "403 Forbidden: Invitations are blocked for this directory due "
                                              "to suspicious activity"));
    assert_false(graph_is_invites_blocked(400, "Invitations are blocked"));
    assert_false(graph_is_invites_blocked(403, "Insufficient privileges to complete the operation."));
}

/* ------------------------------------------------------------------------
 * roles */

static char *fake_token(const char *claims)
{
    char *h = base64url_encode((const unsigned char *)"{\"alg\":\"RS256\",\"typ\":\"JWT\"}", 27);
    char *c = base64url_encode((const unsigned char *)claims, strlen(claims));
    char *t = xasprintf("%s.%s.c2lnbmF0dXJl", h, c);
    free(h);
    free(c);
    return t;
}

static void roles_decoded_from_the_token_payload(void **state)
{
    (void)state;
    char *t = fake_token("{\"aud\":\"https://graph.microsoft.com\",\"roles\":[\"User.Invite.All\",\"User.ReadWrite.All\"]}");
    char **r = graph_token_roles(t);
    assert_non_null(r);
    assert_string_equal(r[0], "User.Invite.All");
    assert_string_equal(r[1], "User.ReadWrite.All");
    assert_null(r[2]);
    graph_strv_free(r);
    free(t);

    t = fake_token("{\"aud\":\"x\"}");
    r = graph_token_roles(t);
    assert_non_null(r);
    assert_null(r[0]);
    graph_strv_free(r);
    free(t);

    assert_null(graph_token_roles("opaque-token"));
    assert_null(graph_token_roles("a.%%%.c"));
    t = fake_token("not json");
    assert_null(graph_token_roles(t));
    free(t);
}

static void a_permission_missing_from_the_token(void **state)
{
    (void)state;
    static const char *const update[] = { "User.ReadWrite.All", "Directory.ReadWrite.All", NULL };
    char *with[] = { "User.Invite.All", "directory.readwrite.all", NULL };
    char *without[] = { "User.Invite.All", "User.Read.All", NULL };
    char *none[] = { NULL };
    assert_false(graph_roles_lack(with, update));
    assert_true(graph_roles_lack(without, update));
    assert_true(graph_roles_lack(none, update));
    /* roles unknown (not a JWT): lacking, so that a 403 stops the tenant */
    assert_true(graph_roles_lack(NULL, update));
    /* a request that names no permission never lacks one */
    assert_false(graph_roles_lack(without, NULL));
    assert_false(graph_roles_lack(NULL, NULL));
    /* the userType change names them, and may fail for its user alone */
    struct graph_request r;
    graph_req_set_user_type(&r, "u-1", "Guest");
    assert_true(r.may_be_forbidden);
    assert_false(graph_roles_lack(with, r.permissions));
    assert_true(graph_roles_lack(without, r.permissions));
    graph_request_release(&r);
}

static void token_answer_parsed(void **state)
{
    (void)state;
    struct strbuf t = STRBUF_INIT;
    double secs = 0;
    const char *ok = "{\"token_type\":\"Bearer\",\"expires_in\":3599,\"ext_expires_in\":3599,\"access_token\":\"eyJ0.eyJ1.c2ln\"}";
    assert_int_equal(graph_token_parse(ok, strlen(ok), &t, &secs), 0);
    assert_string_equal(t.buf, "eyJ0.eyJ1.c2ln");
    assert_true(secs == 3599);
    strbuf_release(&t);
    const char *str = "{\"token_type\":\"Bearer\",\"expires_in\":\"3600\",\"access_token\":\"x\"}";
    assert_int_equal(graph_token_parse(str, strlen(str), &t, &secs), 0);
    assert_true(secs == 3600);
    strbuf_release(&t);
    const char *bad[] = {
        "{\"token_type\":\"Bearer\",\"access_token\":\"x\"}",                     /* no lifetime */
        "{\"token_type\":\"Bearer\",\"expires_in\":0,\"access_token\":\"x\"}",   /* dead on arrival */
        "{\"token_type\":\"Bearer\",\"expires_in\":60,\"access_token\":\"\"}",
        "{\"token_type\":\"pop\",\"expires_in\":60,\"access_token\":\"x\"}",     /* not a bearer token */
        "{\"token_type\":\"Bearer\",\"expires_in\":60,\"access_token\":7}",
        "<html>proxy login</html>",
        "{\"token_type\":\"Bearer\",\"expires_in\":60,\"access_tok",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        assert_int_equal(graph_token_parse(bad[i], strlen(bad[i]), &t, &secs), -1);
        assert_int_equal(t.len, 0);
    }
    strbuf_release(&t);
}

static void users_parsed_from_a_page(void **state)
{
    (void)state;
    cJSON *page = cJSON_Parse(
        "[{\"id\":\"a\",\"userPrincipalName\":\"zo\u00eb@corp.example\",\"mail\":\"zoe@partner.example\","
        "\"userType\":\"Member\",\"externalUserState\":\"Accepted\",\"onPremisesImmutableId\":\"MyIRAFVEd2aImaq7zN3u/w==\","
        "\"onPremisesUserPrincipalName\":null,\"onPremisesSyncEnabled\":true,\"accountEnabled\":false,"
        "\"identities\":[{\"signInType\":\"userPrincipalName\"},{\"signInType\":\"federated\",\"issuer\":\"ExternalAzureAD\"}]},"
        " 42, \"x\", null,"
        "{\"id\":\"b\",\"@removed\":{\"reason\":\"deleted\"}},"
        "{\"id\":\"c\",\"@removed\":{\"reason\":\"changed\"},\"userType\":7,\"identities\":\"no\"}]");
    struct graph_users u = GRAPH_USERS_INIT;
    graph_users_add_page(&u, page);
    cJSON_Delete(page);
    assert_int_equal(u.n, 3);
    assert_string_equal(u.v[0].user_principal_name, "zo\u00eb@corp.example");
    assert_string_equal(u.v[0].immutable_id, "MyIRAFVEd2aImaq7zN3u/w==");
    assert_null(u.v[0].on_premises_upn);
    assert_true(u.v[0].sync_enabled);
    assert_false(u.v[0].account_enabled);
    assert_true(u.v[0].redeemed);
    assert_false(u.v[0].removed);
    assert_true(u.v[1].removed && u.v[1].removed_for_good);
    assert_true(u.v[2].removed && !u.v[2].removed_for_good);
    assert_null(u.v[2].user_type); /* a number where a string belongs: treated as absent */
    assert_false(u.v[2].redeemed);
    graph_users_release(&u);
}

/* ------------------------------------------------------------------------
 * pacing */

static void costs_follow_the_documented_table(void **state)
{
    (void)state;
    double ru, w;
    graph_request_cost("GET", "/users?$select=id&$top=999", &ru, &w);
    assert_true(ru == 1 && w == 0);
    graph_request_cost("GET", "/users", &ru, &w);
    assert_true(ru == 2 && w == 0);
    graph_request_cost("GET", "/users/abc", &ru, &w);
    assert_true(ru == 2);
    graph_request_cost("GET", "https://graph.microsoft.com/v1.0/users?%24select=id&%24skiptoken=x", &ru, &w);
    assert_true(ru == 1);
    graph_request_cost("GET", "/users/delta?$select=id", &ru, &w);
    assert_true(ru == 1);
    graph_request_cost("GET", "/organization", &ru, &w);
    assert_true(ru == 1);
    graph_request_cost("GET", "/users?$expand=manager", &ru, &w);
    assert_true(ru == 3);
    graph_request_cost("GET", "/users?$top=5", &ru, &w);
    assert_true(ru == 1);
    graph_request_cost("GET", "/usersfoo", &ru, &w);
    assert_true(ru == 1);
    graph_request_cost("POST", "/invitations", &ru, &w);
    assert_true(ru == 1 && w == 1);
    graph_request_cost("PATCH", "/users/x", &ru, &w);
    assert_true(ru == 1 && w == 1);
}

static void pacer_learns_the_service_size(void **state)
{
    (void)state;
    struct pacer p;
    /* documented: 1,000 writes per 10 s; the service grants a tenth */
    pacer_init(&p, 3500, 10, 1000, 10);
    pacer_answered(&p, 0);
    for (int i = 0; i < 80; i++)
        assert_true(pacer_take(&p, 0, 1, 1));
    /* an answer without the header: below 80 %, nothing learnt yet */
    pacer_feedback(&p, 0.1, -1, true, 0, 40);
    assert_false(p.writes.learned);
    assert_true(p.writes.scale == 1);
    /* the 80th write at "0.8": 80 taken, at most 0.85 * 1000 * s held, at
     * most 100 * s * 0.1 refilled: s >= 80 / 860, a lower bound of 0.1 */
    pacer_feedback(&p, 0.1, 0.8, true, 0, 80);
    assert_true(p.writes.learned);
    assert_true(fabs(p.writes.scale - 80.0 / 860) < 1e-9);
    /* what it holds: a quarter of ~93, refilled for 0.1 s */
    assert_true(p.writes.tokens < 0.25 * 1000 * p.writes.scale + 1.0 + 1e-9);
    /* later answers raise the bound towards 0.1, never above it */
    for (int t = 1; t <= 100; t++) {      /* one write each 0.1 s: the service's pace */
        double now = 0.1 * t + 0.1;
        p.writes.tokens = 1;               /* (whatever our bucket says) */
        assert_true(pacer_take(&p, now, 1, 1));
        pacer_feedback(&p, now, 0.8, true, now, p.writes.taken);
    }
    assert_true(p.writes.scale > 0.095 && p.writes.scale <= 0.1 + 1e-9);
    /* a 429 after learning costs a tenth, not half */
    double sc = p.writes.scale;
    pacer_throttled(&p, 20, 0.1, true, 20);
    assert_true(fabs(p.writes.scale - 0.9 * sc) < 1e-9);
}

static void pacer_learns_from_what_the_service_took(void **state)
{
    (void)state;
    struct pacer p;
    /* documented: 1,000 writes per 10 s; the service grants a tenth */
    pacer_init(&p, 3500, 10, 1000, 10);
    pacer_answered(&p, 0);
    for (int i = 0; i < 80; i++) {
        assert_true(pacer_take(&p, 0, 1, 1));
        pacer_accepted(&p, true, 1);
    }
    /* a second later our (documented) bucket reads full again: the
     * baseline moves there, and 20 more writes go */
    for (int i = 0; i < 20; i++)
        assert_true(pacer_take(&p, 1.0, 1, 1));
    assert_true(p.writes.base_t == 1.0);
    /* the first header, for the first of those: from the baseline alone
     * the bound is 1 / 855; the 80 the service took in 1.05 s say at
     * least 80 / (1000 + 100 * 1.05) of the documented size, and the
     * truth (0.1) is above both */
    pacer_feedback(&p, 1.05, 0.8, true, 1.0, 81);
    assert_true(p.writes.learned);
    assert_true(fabs(p.writes.scale - 80.0 / 1105) < 1e-9);
    assert_true(p.writes.scale <= 0.1);
}

static void pacer_paces_invitations(void **state)
{
    (void)state;
    struct pacer p;
    assert_true(graph_is_invitation("POST", "/invitations"));
    assert_false(graph_is_invitation("GET", "/invitations"));
    assert_false(graph_is_invitation("POST", "/invitationsX"));
    /* off: no limit */
    pacer_init(&p, 3500, 10, 3000, 150);
    assert_true(pacer_invites_room(&p, 0) == SIZE_MAX);
    assert_true(pacer_invites_wait(&p, 0, 1000) == 0);
    /* 30 a minute: a burst of 30, then one each 2 s */
    pacer_invites_init(&p, 30, 60, 0);
    assert_true(pacer_invites_room(&p, 0) == 30);
    pacer_invites_take(&p, 0, 30);
    assert_true(pacer_invites_room(&p, 0) == 1);
    assert_true(fabs(pacer_invites_wait(&p, 0, 1) - 2.0) < 1e-9);
    assert_true(pacer_invites_wait(&p, 2.0, 1) < 1e-9);
    /* a first run: a burst of 3, at a tenth of the rate (one each 20 s),
     * and the full rate 600 s after the first invitation */
    pacer_invites_init(&p, 30, 60, 600);
    assert_true(pacer_invites_room(&p, 0) == 3);
    pacer_invites_take(&p, 0, 3);
    assert_true(fabs(pacer_invites_wait(&p, 0, 1) - 20.0) < 1e-9);
    pacer_invites_take(&p, 600, 1);
    assert_true(pacer_invites_room(&p, 2000) == 30);
}

static void pacer_keeps_within_the_budget(void **state)
{
    (void)state;
    struct pacer p;
    pacer_init(&p, 3500, 10, 10, 1.0); /* 10 writes per second */
    /* the bucket starts full, its refill with the first answer: ten writes
     * now, not eleven, however long we wait for that answer */
    for (int i = 0; i < 10; i++)
        assert_true(pacer_take(&p, 99.0, 1, 1));
    assert_false(pacer_take(&p, 100.0, 1, 1));
    pacer_answered(&p, 100.0);
    pacer_answered(&p, 100.05); /* only the first answer starts it */
    assert_false(pacer_take(&p, 100.0, 1, 1));
    assert_true(fabs(pacer_wait(&p, 100.0, 1, 1) - 0.1) < 1e-9);
    /* reads do not wait for writes */
    assert_true(pacer_wait(&p, 100.0, 1, 0) == 0);
    /* refilled continuously */
    assert_true(pacer_take(&p, 100.1, 1, 1));
    /* a batch larger than the bucket waits for the whole bucket, not forever */
    assert_true(fabs(pacer_wait(&p, 100.1, 20, 20) - 1.0) < 1e-9);

    /* a 429 pauses everything for its Retry-After */
    pacer_init(&p, 3500, 10, 3000, 150);
    pacer_answered(&p, 0);
    pacer_throttled(&p, 0, 2.128, true, 0);
    assert_true(fabs(pacer_wait(&p, 0, 1, 0) - 2.128) < 1e-9);
    assert_false(pacer_take(&p, 2.0, 1, 0));
    assert_true(pacer_take(&p, 2.2, 1, 1));

    /* ... halves the bucket, once per round, and the bucket grows back */
    pacer_init(&p, 3500, 10, 100, 1.0);
    pacer_answered(&p, 0);
    assert_true(pacer_take(&p, 0, 1, 1));
    pacer_throttled(&p, 0.1, 0.01, true, 0.0);
    assert_true(p.writes.scale == 0.5);
    pacer_throttled(&p, 0.1, 0.01, true, 0.0);  /* sent before the cut: no news */
    assert_true(p.writes.scale == 0.5);
    pacer_throttled(&p, 0.1, 0.01, true, 0.1);  /* sent after it: halve again */
    assert_true(p.writes.scale == 0.25);
    /* a quarter of the bucket, refilled at a quarter of the rate */
    assert_true(fabs(pacer_wait(&p, 0.1, 1, 1) - 1 / 25.0) < 1e-9);
    pacer_wait(&p, 1.1, 0, 0);                  /* one window later: doubled */
    assert_true(fabs(p.writes.scale - 0.5) < 1e-9);
    pacer_wait(&p, 10, 0, 0);                   /* and never above the documented size */
    assert_true(p.writes.scale == 1);
    assert_true(p.writes.tokens <= 100);

    /* the service says 90 % used (one decimal: at least 85 %) when it took
     * a request we just sent: at most 15 left, whatever we believed */
    pacer_init(&p, 3500, 10, 100, 1.0);
    pacer_answered(&p, 0);
    assert_true(pacer_take(&p, 0, 10, 10));
    pacer_observe(&p, 0, 0.9, true, 0);
    assert_true(fabs(p.writes.tokens - 15) < 1e-9);
    /* refilled since that request was sent: 2 s later the bucket is full again */
    pacer_init(&p, 3500, 10, 100, 1.0);
    pacer_answered(&p, 0);
    assert_true(pacer_take(&p, 0, 10, 10));
    pacer_observe(&p, 2.0, 0.9, true, 0);
    assert_true(fabs(p.writes.tokens - 100) < 1e-9);
    /* a right estimate is left alone: we had 0 after the batch, the service
     * says "1.0" (95..100 % used) */
    pacer_init(&p, 3500, 10, 100, 1.0);
    pacer_answered(&p, 0);
    assert_true(pacer_take(&p, 0, 100, 100));
    pacer_observe(&p, 0.1, 1.0, true, 0);
    assert_true(fabs(p.writes.tokens - 10) < 1e-9);
    /* nonsense is ignored */
    pacer_observe(&p, 0.1, -1, true, 0);
    pacer_observe(&p, 0.1, NAN, true, 0);
    assert_true(fabs(p.writes.tokens - 10) < 1e-9);
}

/* ------------------------------------------------------------------------
 * request builders */

static void invitation_always_names_the_user(void **state)
{
    (void)state;
    struct graph_request r;
    struct graph_invitation inv = { .user_id = "8e0f4a11-3f1c-4a7e-9c15-2b6d8e0f4a11",
                                    .email = "alice@partner.example",
                                    .redirect_url = "https://myapps.microsoft.com/?tenantid=x" };
    graph_req_invite(&r, &inv);
    assert_string_equal(r.method, "POST");
    assert_string_equal(r.url, "/invitations");
    assert_false(r.idempotent);
    char *s = cJSON_PrintUnformatted(r.body);
    /* sendInvitationMessage and invitedUser.id are always written out */
    assert_non_null(strstr(s, "\"sendInvitationMessage\":false"));
    assert_non_null(strstr(s, "\"invitedUser\":{\"id\":\"8e0f4a11-3f1c-4a7e-9c15-2b6d8e0f4a11\"}"));
    assert_non_null(strstr(s, "\"invitedUserEmailAddress\":\"alice@partner.example\""));
    assert_non_null(strstr(s, "\"inviteRedirectUrl\":\"https://myapps.microsoft.com/?tenantid=x\""));
    assert_null(strstr(s, "invitedUserMessageInfo"));
    cJSON_free(s);
    graph_request_release(&r);

    inv.send_message = true;
    inv.message_language = "fr-FR";
    graph_req_invite(&r, &inv);
    s = cJSON_PrintUnformatted(r.body);
    assert_non_null(strstr(s, "\"sendInvitationMessage\":true"));
    assert_non_null(strstr(s, "\"invitedUserMessageInfo\":{\"messageLanguage\":\"fr-FR\"}"));
    cJSON_free(s);
    graph_request_release(&r);
}

/* An address read from AD that is not UTF-8 is sent as JSON that is:
 * each stray byte U+FFFD (util.h), never the raw byte Graph would refuse. */
static void request_bodies_are_utf8(void **state)
{
    (void)state;
    struct graph_request r;
    struct graph_invitation inv = { .user_id = "id\xff", .email = "al\xe9@partner.example",
                                    .redirect_url = "https://myapps.microsoft.com/",
                                    .message_body = "Hello Zo\xc3\xab \xc3" };
    graph_req_invite(&r, &inv);
    char *s = cJSON_PrintUnformatted(r.body);
    assert_string_equal(s, "{\"invitedUserEmailAddress\":\"al\xef\xbf\xbd@partner.example\","
                           "\"inviteRedirectUrl\":\"https://myapps.microsoft.com/\","
                           "\"sendInvitationMessage\":false,\"invitedUserMessageInfo\":"
                           "{\"customizedMessageBody\":\"Hello Zo\xc3\xab \xef\xbf\xbd\"},"
                           "\"invitedUser\":{\"id\":\"id\xef\xbf\xbd\"}}");
    cJSON_free(s);
    graph_request_release(&r);
}

static void user_type_and_revert_requests(void **state)
{
    (void)state;
    struct graph_request r;
    graph_req_set_user_type(&r, "a/b c", "Guest");
    assert_string_equal(r.method, "PATCH");
    assert_string_equal(r.url, "/users/a%2Fb%20c");
    assert_true(r.idempotent);
    assert_false(r.beta);
    char *s = cJSON_PrintUnformatted(r.body);
    assert_string_equal(s, "{\"userType\":\"Guest\"}");
    cJSON_free(s);
    graph_request_release(&r);

    graph_req_convert_to_internal(&r, "id-1");
    assert_string_equal(r.url, "/users/id-1/convertExternalToInternalMemberUser");
    assert_true(r.beta);
    assert_false(r.idempotent);
    s = cJSON_PrintUnformatted(r.body);
    assert_string_equal(s, "{}");
    cJSON_free(s);
    graph_request_release(&r);
}

static void users_found_by_immutable_id(void **state)
{
    (void)state;
    struct graph_user v[4] = {
        { .id = "0", .immutable_id = NULL },
        { .id = "1", .immutable_id = "AAAA" },
        { .id = "2", .immutable_id = "MyIRAFVEd2aImaq7zN3u/w==" },
        { .id = "3", .immutable_id = "zzz" },
    };
    struct graph_users u = { v, 4, 4 };
    assert_string_equal(graph_users_find(&u, "MyIRAFVEd2aImaq7zN3u/w==")->id, "2");
    assert_string_equal(graph_users_find(&u, "AAAA")->id, "1");
    assert_string_equal(graph_users_find(&u, "zzz")->id, "3");
    assert_null(graph_users_find(&u, "ABEiM0RVZneImaq7zN3u/w=="));
    assert_null(graph_users_find(&u, NULL));
}

static void immutable_id_lookup_urls_chunked_and_encoded(void **state)
{
    (void)state;
    /* 31 ids: 15 + 15 + 1, each literal quoted, base64's + / = percent-encoded */
    const char *ids[31];
    char buf[31][32];
    for (int i = 0; i < 31; i++) {
        snprintf(buf[i], sizeof(buf[i]), "id%02d+/=", i);
        ids[i] = buf[i];
    }
    ids[0] = "MyIRAFVEd2aImaq7zN3u/w==";
    ids[30] = "o'brien";
    size_t k;
    char **urls = graph_immutable_id_urls(ids, 31, GRAPH_IN_MAX, &k);
    assert_int_equal(k, 3);
    assert_null(urls[3]);
    assert_true(!strncmp(urls[0], "/users?$filter=onPremisesImmutableId%20in%20(%27MyIRAFVEd2aImaq7zN3u%2Fw%3D%3D%27,"
                                  "%27id01%2B%2F%3D%27,", 95));
    assert_non_null(strstr(urls[0], ",%27id14%2B%2F%3D%27)&$select="));
    assert_null(strstr(urls[0], "id15"));
    assert_true(!strncmp(urls[1], "/users?$filter=onPremisesImmutableId%20in%20(%27id15%2B%2F%3D%27,", 65));
    /* an OData quote inside the literal is doubled (reference §2.2) */
    assert_true(!strncmp(urls[2], "/users?$filter=onPremisesImmutableId%20in%20(%27o%27%27brien%27)&$select=id,", 75));
    assert_non_null(strstr(urls[2], "onPremisesImmutableId,onPremisesUserPrincipalName,"));
    assert_non_null(strstr(urls[2], "&$top=999"));
    for (size_t i = 0; i < k; i++) {
        /* no raw + / = ' or space left in the filter part */
        const char *f = urls[i] + strlen("/users?"), *end = strstr(f, "&$select=");
        assert_non_null(end);
        for (const char *c = f + strlen("$filter="); c < end; c++)
            assert_null(strchr("+/=' ", *c));
        /* at most 15 values: commas between them */
        size_t commas = 0;
        for (const char *c = f; c < end; c++)
            commas += *c == ',';
        assert_true(commas < GRAPH_IN_MAX);
        free(urls[i]);
    }
    free(urls);
    /* exactly 15, 16, none */
    urls = graph_immutable_id_urls(ids, 15, GRAPH_IN_MAX, &k);
    assert_int_equal(k, 1);
    free(urls[0]);
    free(urls);
    urls = graph_immutable_id_urls(ids, 16, GRAPH_IN_MAX, &k);
    assert_int_equal(k, 2);
    assert_non_null(strstr(urls[1], "(%27id15%2B%2F%3D%27)"));
    free(urls[0]);
    free(urls[1]);
    free(urls);
    urls = graph_immutable_id_urls(ids, 0, GRAPH_IN_MAX, &k);
    assert_int_equal(k, 0);
    assert_null(urls[0]);
    free(urls);
}

static void lookup_chosen_only_when_it_takes_fewer_requests(void **state)
{
    (void)state;
    /* 100 changes: 7 GETs (one $batch), against 101 pages at 100,000 or 11 at 10,000 */
    assert_true(graph_lookup_pays(100, 100000));
    assert_true(graph_lookup_pays(100, 10000));
    assert_true(graph_lookup_pays(10, 40));          /* 1 GET either way */
    assert_false(graph_lookup_pays(100, 1000));      /* 7 GETs against 2 pages */
    assert_false(graph_lookup_pays(20000, 100000));  /* a first run: the listing */
    assert_true(graph_lookup_pays(0, 0));
}

static void open_refuses_bad_parameters(void **state)
{
    (void)state;
    struct graph *g;
    struct graph_params p = { .name = "t", .tenant_id = "x", .client_id = "y" };
    assert_int_equal(graph_open(&p, &g), -1); /* no credential */
    p.secret_file = "s";
    p.cert_file = "c";
    assert_int_equal(graph_open(&p, &g), -1); /* two */
    p.cert_file = NULL;
    p.batch_size = 21;
    assert_int_equal(graph_open(&p, &g), -1); /* Graph takes 20 */
    p.batch_size = 0;
    p.tenant_id = "a/../b";
    assert_int_equal(graph_open(&p, &g), -1);
    p.tenant_id = "contoso.example";
    assert_int_equal(graph_open(&p, &g), 0);
    assert_int_equal(graph_stopped(g, NULL), GRAPH_OK);
    long skew;
    assert_false(graph_clock_skew(g, &skew));
    graph_close(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(jwt_ps256_header_claims_and_signature),
        cmocka_unit_test(jwt_rs256_uses_sha1_x5t),
        cmocka_unit_test(jwt_signed_by_another_key_fails_verification),
        cmocka_unit_test(jwt_refuses_a_non_rsa_key),
        cmocka_unit_test(base64url_round_trip),
        cmocka_unit_test(guid_is_version_4),
        cmocka_unit_test(retry_after_seconds_fractional_and_dates),
        cmocka_unit_test(backoff_grows_with_jitter_within_bounds),
        cmocka_unit_test(batch_body_has_ids_headers_and_bodies),
        cmocka_unit_test(batch_answers_matched_by_id_whatever_the_order),
        cmocka_unit_test(next_links_only_to_the_tenant_graph_host),
        cmocka_unit_test(error_json_to_clear_messages),
        cmocka_unit_test(roles_decoded_from_the_token_payload),
        cmocka_unit_test(a_permission_missing_from_the_token),
        cmocka_unit_test(token_answer_parsed),
        cmocka_unit_test(users_parsed_from_a_page),
        cmocka_unit_test(costs_follow_the_documented_table),
        cmocka_unit_test(pacer_keeps_within_the_budget),
        cmocka_unit_test(pacer_paces_invitations),
        cmocka_unit_test(pacer_learns_the_service_size),
        cmocka_unit_test(pacer_learns_from_what_the_service_took),
        cmocka_unit_test(invitation_always_names_the_user),
        cmocka_unit_test(user_type_and_revert_requests),
        cmocka_unit_test(request_bodies_are_utf8),
        cmocka_unit_test(users_found_by_immutable_id),
        cmocka_unit_test(immutable_id_lookup_urls_chunked_and_encoded),
        cmocka_unit_test(lookup_chosen_only_when_it_takes_fewer_requests),
        cmocka_unit_test(open_refuses_bad_parameters),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
