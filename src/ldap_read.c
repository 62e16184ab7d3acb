/* ldap_read.c - what the reader makes of what a server sends, the same over
 * both transports (ldap_source_p.h): an entry decoded into an ad_object,
 * ranged retrieval of large attributes, the rootDSE and invocationId reads,
 * the first entry a filter matches. Everything here sees entries only as
 * neutral bytes through the backend's lsrc_entry_attr. */
#include "compat.h"

#include <stdlib.h>
#include <strings.h>

#include "config.h"
#include "ldap_source_p.h"
#include "log.h"
#include "platform.h"
#include "scope.h"
#include "testhooks.h"

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

char **lread_attr_list(const struct ldap_config *cfg, uint32_t range_step)
{
    size_t n = ARRAY_SIZE(base_attrs) + cfg->nattributes, k = 0;
    char **attrs = xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < ARRAY_SIZE(base_attrs); i++)
        attrs[k++] = range_step && !strcmp(base_attrs[i], "member")
                   ? xasprintf("member;range=0-%lu", (unsigned long)range_step - 1)
                   : xstrdup(base_attrs[i]);
    for (size_t i = 0; i < cfg->nattributes; i++)
        attrs[k++] = xstrdup(cfg->attributes[i]);
    return attrs;
}

void lread_free_attr_list(char **attrs)
{
    for (char **a = attrs; a && *a; a++)
        free(*a);
    free(attrs);
}

/* A test hook (testhooks.h: the test build only): AD splits a large member
 * into ranges of MaxValRange (1500) values on its own; Samba 4.17 never does
 * (ranged_results.c only answers a range the client asks for). Asking for
 * ranges of this many values makes Samba walk every step of the ranged path. */
int lread_range_step(uint32_t *step)
{
    const char *v = testhook(TESTHOOK_RANGE_SIZE);
    int n = 0;
    *step = 0;
    if (!v || !*v)
        return 0;
    if (parse_int(v, 1, 1000000, &n))
        return log_error("DUALSYNC_TEST_RANGE_SIZE=%s: not a number from 1 to 1000000; unset it "
                         "(it is a test hook)", v);
    *step = (uint32_t)n;
    return 0;
}

int lread_password(const struct ldap_config *cfg, struct strbuf *pw)
{
    if (cfg->password_file)
        return platform_read_secret_file(cfg->password_file, "ldap password", pw) ? -1 : 0;
    const char *v = getenv(cfg->password_env);
    if (!v || !*v)
        return log_error("ldap: environment variable %s (password_env) is not set",
                         cfg->password_env);
    strbuf_addstr(pw, v);
    return 0;
}

/* ---------------------------------------------------------------- errors */

/* The resultCodes of RFC 4511 4.1.9 that have a remedy of their own. */
enum {
    RC_SIZE_LIMIT = 4, RC_STRONGER_AUTH = 8, RC_REFERRAL = 10, RC_ADMIN_LIMIT = 11,
    RC_CONFIDENTIALITY = 13, RC_NO_SUCH_OBJECT = 32, RC_INVALID_CREDENTIALS = 49,
    RC_INSUFFICIENT_ACCESS = 50,
};

int lread_report_lost(const struct ldap_config *cfg, const char *doing, unsigned long long entries,
                      const char *text)
{
    return log_error("%s: the connection to %s was lost after %llu objects (%s); nothing was "
                     "written; check the domain controller and rerun", doing, cfg->uri, entries, text);
}

int lread_report(const struct ldap_config *cfg, int result, const char *doing, const char *text,
                 const char *d)
{
    const char *uri = cfg->uri;
    switch (result) {
    case LREAD_ERR_UNREACHABLE:
        return log_error("%s: cannot reach %s%s%s; check uri and that the domain controller "
                         "is up and reachable", doing, uri, *d ? ": " : "", d);
    case LREAD_ERR_TIMEOUT:
        return log_error("%s: %s did not answer within %d s; check the network or raise "
                         "[ldap] timeout", doing, uri, cfg->timeout);
    case LREAD_ERR_FILTER:
        return log_error("%s: the LDAP filter is not valid (%s); check [ldap] filter", doing, d);
    case RC_INVALID_CREDENTIALS:
        return log_error("%s: the server refused the credentials of %s (%s); check bind_dn "
                         "and the password in %s", doing, cfg->bind_dn ? cfg->bind_dn : "(sasl)", d,
                         cfg->password_file ? cfg->password_file : cfg->password_env ? cfg->password_env : "the keytab");
    case RC_STRONGER_AUTH:
    case RC_CONFIDENTIALITY:
        return log_error("%s: %s requires a protected connection (%s); use ldaps:// or "
                         "StartTLS, or bind = gssapi", doing, uri, d);
    case RC_NO_SUCH_OBJECT:
        return log_error("%s: the base DN does not exist on %s (%s); check base_dn in the "
                         "[ldap] section", doing, uri, d);
    case RC_REFERRAL:
        return log_error("%s: %s does not hold this base DN and referred us elsewhere (%s); "
                         "point uri at a domain controller of that domain, or at a global catalog",
                         doing, uri, d);
    case RC_SIZE_LIMIT:
        return log_error("%s: %s hit its size limit (%s); the paged-results control should "
                         "avoid this: lower [ldap] page_size to at most the server's MaxPageSize",
                         doing, uri, d);
    case RC_ADMIN_LIMIT:
        return log_error("%s: %s refused the search as too expensive (%s); lower page_size "
                         "or narrow the scope", doing, uri, d);
    case RC_INSUFFICIENT_ACCESS:
        return log_error("%s: access denied on %s (%s); the bind account needs read access",
                         doing, uri, d);
    default:
        return log_error("%s: %s: %s%s%s", doing, uri, text, *d ? ": " : "", d);
    }
}

/* Is the host of URI this very machine: localhost, 127.0.0.0/8 or [::1]?
 * Other spellings of loopback are treated as remote: refusing is safe. */
static bool uri_is_loopback(const char *uri)
{
    const char *h = strstr(uri, "://");
    if (!h)
        return false;
    h += 3;
    char host[64];
    size_t n;
    if (*h == '[') {
        n = strcspn(++h, "]");
        if (h[n] != ']')
            return false;
    } else {
        n = strcspn(h, ":/");
    }
    if (n == 0 || n >= sizeof(host))
        return false;
    memcpy(host, h, n);
    host[n] = '\0';
    if (strcasecmp(host, "localhost") == 0 || strcmp(host, "::1") == 0)
        return true;
    unsigned part[4];
    char end;
    if (sscanf(host, "%3u.%3u.%3u.%3u%c", &part[0], &part[1], &part[2], &part[3], &end) != 4
        || strspn(host, "0123456789.") != n)
        return false;
    return part[0] == 127 && part[1] < 256 && part[2] < 256 && part[3] < 256;
}

int lread_refuse_cleartext(const struct ldap_config *cfg, bool tls)
{
    if (tls || cfg->bind != LDAP_BIND_SIMPLE)
        return 0;
    if (!cfg->insecure_lab_cleartext)
        return log_error("refusing a simple bind over cleartext %s: it would send the password "
                         "unprotected; use ldaps:// or starttls = yes (insecure_lab_cleartext "
                         "exists for throw-away labs only)", cfg->uri);
    if (!uri_is_loopback(cfg->uri))
        return log_error("refusing a simple bind over cleartext %s: insecure_lab_cleartext is "
                         "honoured only for a lab on this machine's loopback (localhost, "
                         "127.0.0.0/8, [::1]); use ldaps:// or starttls = yes", cfg->uri);
    return 0;
}

/* ---------------------------------------------------------------- source */

int ldap_source_open(const struct ldap_config *cfg, struct ldap_source **out)
{
    struct lsrc_conn *conn;
    if (lsrc_connect(cfg, &conn))
        return -1;
    struct ldap_source *src = xcalloc(1, sizeof(*src));
    src->cfg = cfg;
    src->conn = conn;
    *out = src;
    return 0;
}

void ldap_source_close(struct ldap_source *src)
{
    if (!src)
        return;
    lsrc_disconnect(src->conn);
    free(src->naming_context);
    free(src);
}

/* ---------------------------------------------------------------- ranges */

/* Digits only, no sign, within uint32_t. */
static bool parse_index(const char *s, const char *end, uint32_t *out)
{
    uint64_t v = 0;
    if (s == end)
        return false;
    for (; s < end; s++) {
        if (*s < '0' || *s > '9')
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > UINT32_MAX)
            return false;
    }
    *out = (uint32_t)v;
    return true;
}

enum lread_range lread_parse_range(const char *name, size_t len, size_t *base_len,
                                   uint32_t *lo, uint32_t *hi)
{
    const char *end = name + len, *r = NULL;
    /* most names have no option at all; options are case-insensitive (RFC 4512) */
    for (const char *s = memchr(name, ';', len); s && !r;
         s = s + 1 < end ? memchr(s + 1, ';', (size_t)(end - s - 1)) : NULL)
        if ((size_t)(end - s) >= 7 && !strncasecmp(s, ";range=", 7))
            r = s;
    if (!r)
        return LREAD_RANGE_NONE;
    *base_len = (size_t)(r - name);
    const char *v = r + 7;
    const char *opt_end = memchr(v, ';', (size_t)(end - v));
    if (!opt_end)
        opt_end = end;
    const char *dash = memchr(v, '-', (size_t)(opt_end - v));
    if (!dash || !parse_index(v, dash, lo))
        return LREAD_RANGE_BAD;
    if (opt_end - dash == 2 && dash[1] == '*') {
        *hi = *lo;
        return LREAD_RANGE_LAST;
    }
    /* hi + 1 is where the next chunk starts: it must fit too */
    if (!parse_index(dash + 1, opt_end, hi) || *hi < *lo || *hi == UINT32_MAX)
        return LREAD_RANGE_BAD;
    return LREAD_RANGE_MORE;
}

/* A text value as a C string in the arena. LDAP values are counted (RFC
 * 4511's OCTET STRING), and a Unicode string in AD can hold U+0000: Samba
 * 4.17 stores and returns "Ab\0cd" for displayName, description, mail,
 * userPrincipalName alike. Everything after the reader (policy, plan, the
 * kept copy, every output) takes C strings, where that NUL would cut the
 * value without a word: "Ab" would be matched by the rules, used as an
 * invitation address and written to the audit trail as if it were AD's. So each NUL
 * becomes U+FFFD, the mark every output of dualsync already gives a byte it
 * cannot carry (util.h), the rest of the value is kept, and *nul counts
 * them so that the caller warns. doc/report.md says why. */
static char *text_value(struct arena *ar, const struct lsrc_val *v, size_t *nul)
{
    const char *z = memchr(v->data, '\0', v->len);
    if (!z)
        return arena_strndup(ar, v->data, v->len);   /* the common case: one memchr more */
    size_t k = 0;
    for (const char *q = z; q; q = memchr(q + 1, '\0', (size_t)(v->data + v->len - q - 1)))
        k++;
    char *out = arena_alloc(ar, v->len + 2 * k + 1), *d = out;
    for (size_t i = 0; i < v->len; i++) {
        if (v->data[i]) {
            *d++ = v->data[i];
        } else {
            memcpy(d, UTF8_REPLACEMENT, 3);
            d += 3;
        }
    }
    *d = '\0';
    *nul += k;
    return out;
}

static void warn_nul(const char *dn, const char *what)
{
    log_warn("%s: %s: a value holds a NUL byte (U+0000), which no text in AD should; read "
             "with U+FFFD in its place, the rest of the value kept; correct the value in AD",
             dn, what);
}

/* Append values to an attribute of the object dn; the vals array is
 * rebuilt in the arena. */
static void attr_add_values(struct arena *ar, const char *dn, struct ad_attr *a,
                            const struct lsrc_val *v, size_t n)
{
    char **vals = arena_alloc(ar, (a->nvals + n + 1) * sizeof(char *));
    if (a->nvals)
        memcpy(vals, a->vals, a->nvals * sizeof(char *));
    size_t nul = 0;
    for (size_t i = 0; i < n; i++)
        vals[a->nvals + i] = text_value(ar, &v[i], &nul);
    a->nvals += n;
    vals[a->nvals] = NULL;
    a->vals = vals;
    if (nul)
        warn_nul(dn, a->name);
}

static int bad_range(const struct pull *p, const char *dn, const struct lsrc_val *name)
{
    return log_error("%s: %s: the server sent the attribute \"%.*s\", whose range option is "
                     "malformed (range=LOW-HIGH with LOW <= HIGH, or range=LOW-*: MS-ADTS "
                     "3.1.1.3.1.3.3); nothing was written; this server's ranged retrieval "
                     "cannot be used", p->cfg->uri, dn, (int)name->len, name->data);
}

/* One chunk of a ranged read: the entry of a base search for "attr;range=N-..." */
struct range_read {
    struct pull *p;
    const char *dn;
    struct ad_attr *a;
    uint32_t asked;     /* the first index asked for */
    uint32_t next;      /* after the chunk: the next index, or 0 when it was the last */
    bool got;
};

static int on_range_entry(const struct lsrc_val *dn, struct lsrc_entry *e, void *ctx)
{
    struct range_read *r = ctx;
    size_t alen = strlen(r->a->name);
    struct lsrc_val name;
    const struct lsrc_val *vals;
    size_t n;
    int rc;
    (void)dn;
    while ((rc = lsrc_entry_attr(e, &name, &vals, &n)) == 1) {
        size_t blen = 0;
        uint32_t lo, hi;
        enum lread_range k = lread_parse_range(name.data, name.len, &blen, &lo, &hi);
        if (k == LREAD_RANGE_NONE || blen != alen || strncasecmp(name.data, r->a->name, alen))
            continue;
        if (k == LREAD_RANGE_BAD)
            return bad_range(r->p, r->dn, &name);
        if (r->got)
            return log_error("%s: %s: the server sent two ranges of %s in one answer (the "
                             "second \"%.*s\"); nothing was written; this server's ranged "
                             "retrieval cannot be used", r->p->cfg->uri, r->dn, r->a->name,
                             (int)name.len, name.data);
        /* the chunk must start where we asked: an answer from elsewhere
         * (a restart at 0, the same chunk again) would repeat values or
         * never end */
        if (lo != r->asked)
            return log_error("%s: %s: asked for the values of %s from %lu on, the server "
                             "answered \"%.*s\"; nothing was written; rerun, and if it "
                             "persists this server's ranged retrieval cannot be used",
                             r->p->cfg->uri, r->dn, r->a->name, (unsigned long)r->asked,
                             (int)name.len, name.data);
        attr_add_values(&r->p->arena, r->dn, r->a, vals, n);
        r->got = true;
        r->next = k == LREAD_RANGE_LAST ? 0 : hi + 1;
    }
    return rc < 0 ? -1 : 0;
}

/* Fetch the rest of a ranged attribute with base searches "attr;range=N-*"
 * (or N-<N+step-1> under the test hook) until the server marks the last
 * chunk with '*' (MS-ADTS 3.1.1.3.1.3.3). Every chunk starts where the last
 * one ended, so each step moves forward and the walk ends. */
static int fetch_range(struct pull *p, const char *dn, struct ad_attr *a, uint32_t next)
{
    while (next > 0) {
        char *want = p->range_step && next <= UINT32_MAX - p->range_step
                   ? xasprintf("%s;range=%lu-%lu", a->name, (unsigned long)next,
                               (unsigned long)(next + p->range_step - 1))
                   : xasprintf("%s;range=%lu-*", a->name, (unsigned long)next);
        char *attrs[] = { want, NULL };
        struct range_read r = { .p = p, .dn = dn, .a = a, .asked = next };
        log_debug("ranged read %s of %s", want, dn);
        int rc = lsrc_search(p->src->conn, dn, LSRC_BASE, "(objectClass=*)", attrs, 0,
                             "ranged read of a large attribute", on_range_entry, &r);
        free(want);
        p->stats->ranged_fetches++;
        if (rc)
            return -1;
        if (!r.got)
            return log_error("%s: the server ended the ranged read of %s on %s at %lu values "
                             "without a final range; the object changed during the read, rerun",
                             p->cfg->uri, a->name, dn, (unsigned long)next);
        next = r.next;
    }
    return 0;
}

/* ---------------------------------------------------------------- entries */

static bool name_is(const struct lsrc_val *name, const char *want)
{
    return name->len == strlen(want) && !strncasecmp(name->data, want, name->len);
}

static bool copy_guid(const struct lsrc_val *v, size_t n, unsigned char out[16])
{
    if (!n || v[0].len != 16)
        return false;
    memcpy(out, v[0].data, 16);
    return true;
}

/* A small decimal value (userAccountControl, uSNChanged) → text for the parsers. */
static void value_text(const struct lsrc_val *v, size_t n, char *buf, size_t size)
{
    snprintf(buf, size, "%.*s", n ? (int)v[0].len : 0, n ? v[0].data : "");
}

/* Decode one attribute of the entry into p->obj. Returns 0, or -1 to stop. */
static int decode_attr(struct pull *p, const struct lsrc_val *name, const struct lsrc_val *v,
                       size_t n, int *cls)
{
    struct ad_object *o = &p->obj;
    char num[32];
    if (name_is(name, "objectClass")) {
        char *oc[32];
        size_t k = 0;
        for (size_t i = 0; i < n && k < ARRAY_SIZE(oc); i++)
            oc[k++] = arena_strndup(&p->arena, v[i].data, v[i].len);
        *cls = scope_classify(oc, k);
    } else if (name_is(name, "objectGUID")) {
        p->has_guid = copy_guid(v, n, o->guid);
    } else if (name_is(name, "mS-DS-ConsistencyGuid")) {
        o->has_consistency_guid = copy_guid(v, n, o->consistency_guid);
        o->bad_consistency_guid = !o->has_consistency_guid && n;
    } else if (name_is(name, "objectSid")) {
        struct strbuf sb = STRBUF_INIT;
        if (n && ad_sid_to_text((const unsigned char *)v[0].data, v[0].len, &sb) == 0)
            o->sid = arena_strndup(&p->arena, sb.buf, sb.len);
        strbuf_release(&sb);
    } else if (name_is(name, "userAccountControl")) {
        int uac;
        value_text(v, n, num, sizeof(num));
        /* AD sends the 32-bit flags as a signed decimal */
        if (parse_int(num, INT32_MIN, INT32_MAX, &uac) == 0) {
            o->uac = (uint32_t)uac;
            o->disabled = (o->uac & AD_UAC_ACCOUNTDISABLE) != 0;
        }
    } else if (name_is(name, "uSNChanged")) {
        value_text(v, n, num, sizeof(num));
        parse_u64(num, &o->usn_changed);
    } else if (name_is(name, "whenChanged")) {
        if (n)
            o->when_changed = arena_strndup(&p->arena, v[0].data, v[0].len);
    } else if (name_is(name, "isDeleted")) {
        o->deleted = n && v[0].len == 4 && !strncasecmp(v[0].data, "TRUE", 4);
    } else if (name_is(name, "lastKnownParent")) {
        size_t nul = 0;
        if (n)
            o->parent_dn = text_value(&p->arena, &v[0], &nul);
        if (nul)
            warn_nul(o->dn, "lastKnownParent");
    } else {
        size_t blen = 0;
        uint32_t lo, hi;
        enum lread_range k = lread_parse_range(name->data, name->len, &blen, &lo, &hi);
        if (k == LREAD_RANGE_BAD)
            return bad_range(p, o->dn, name);
        /* the first chunk of a large attribute starts at 0, asked or not */
        if (k != LREAD_RANGE_NONE && lo != 0)
            return log_error("%s: %s: the server sent \"%.*s\" where the values start at 0; "
                             "nothing was written; rerun, and if it persists this server's "
                             "ranged retrieval cannot be used", p->cfg->uri, o->dn,
                             (int)name->len, name->data);
        /* an entry names each attribute once, so no lookup: append */
        GROW(p->attrs, p->attrs_alloc, o->nattrs + 1);
        o->attrs = p->attrs;
        struct ad_attr *a = &o->attrs[o->nattrs++];
        a->name = arena_strndup(&p->arena, name->data, k != LREAD_RANGE_NONE ? blen : name->len);
        a->nvals = 0;
        a->vals = NULL;
        attr_add_values(&p->arena, o->dn, a, v, n);
        if (k == LREAD_RANGE_MORE && fetch_range(p, o->dn, a, hi + 1))
            return -1;
    }
    return 0;
}

int pull_entry(const struct lsrc_val *dn, struct lsrc_entry *e, void *ctx)
{
    struct pull *p = ctx;
    struct ad_object *o = &p->obj;
    arena_reset(&p->arena);
    memset(o, 0, sizeof(*o));
    o->attrs = p->attrs;
    p->has_guid = false;
    /* RFC 4514 escapes a NUL in a DN as \00, so only a broken server sends
     * one raw: the same rule, should it happen */
    size_t nul = 0;
    o->dn = text_value(&p->arena, dn, &nul);
    if (nul)
        warn_nul(o->dn, "its DN");

    int cls = -1, rc;
    struct lsrc_val name;
    const struct lsrc_val *vals;
    size_t n;
    while ((rc = lsrc_entry_attr(e, &name, &vals, &n)) == 1)
        if (decode_attr(p, &name, vals, n, &cls))
            return -1;
    if (rc < 0)
        return -1;
    return pull_deliver(p, cls);
}

/* ---------------------------------------------------------------- small reads */

/* The first value of each of n attributes of one entry (raw bytes). */
struct first_values {
    const char *const *names;
    struct strbuf *out;
    bool *found;
    size_t n;
};

static int on_first_values(const struct lsrc_val *dn, struct lsrc_entry *e, void *ctx)
{
    struct first_values *f = ctx;
    struct lsrc_val name;
    const struct lsrc_val *vals;
    size_t n;
    int rc;
    (void)dn;
    while ((rc = lsrc_entry_attr(e, &name, &vals, &n)) == 1)
        for (size_t i = 0; i < f->n; i++)
            if (n && !f->found[i] && name_is(&name, f->names[i])) {
                strbuf_add(&f->out[i], vals[0].data, vals[0].len);
                f->found[i] = true;
            }
    return rc < 0 ? -1 : 0;
}

/* Base search of dn for the attributes names[0..n-1]; out[i] gets the first
 * value of each (found[i] says whether it had one). */
static int read_first_values(struct ldap_source *src, const char *dn, const char *const *names,
                             size_t n, struct strbuf *out, bool *found, const char *doing)
{
    char *attrs[8] = { NULL };
    for (size_t i = 0; i < n && i + 1 < ARRAY_SIZE(attrs); i++)
        attrs[i] = (char *)names[i];
    struct first_values f = { names, out, found, n };
    return lsrc_search(src->conn, dn, LSRC_BASE, "(objectClass=*)", attrs, 0, doing,
                       on_first_values, &f);
}

int lread_root_dse(struct ldap_source *src, char **dsa, uint64_t *usn)
{
    static const char *const names[] = { "defaultNamingContext", "dsServiceName",
                                         "highestCommittedUSN" };
    struct strbuf v[3] = { STRBUF_INIT, STRBUF_INIT, STRBUF_INIT };
    bool found[3] = { false, false, false };
    int ret = read_first_values(src, "", names, 3, v, found, "read rootDSE");
    if (!ret && (!found[0] || !found[1] || !found[2] || parse_u64(strbuf_str(&v[2]), usn)))
        ret = log_error("%s does not look like an Active Directory domain controller "
                        "(rootDSE lacks defaultNamingContext, dsServiceName or highestCommittedUSN)",
                        src->cfg->uri);
    if (!ret) {
        free(src->naming_context);
        src->naming_context = strbuf_detach(&v[0]);
        *dsa = strbuf_detach(&v[1]);
    }
    for (size_t i = 0; i < 3; i++)
        strbuf_release(&v[i]);
    return ret;
}

/* The invocationId of the DC we talk to: a USN watermark is only valid on it. */
int lread_invocation_id(struct ldap_source *src, const char *dsa, char out[37])
{
    static const char *const names[] = { "invocationId" };
    struct strbuf v = STRBUF_INIT;
    bool found = false;
    int ret = read_first_values(src, dsa, names, 1, &v, &found, "read the DC's invocationId");
    if (!ret && found && v.len == 16)
        ad_guid_to_text((const unsigned char *)v.buf, out);
    else if (!ret)
        ret = log_error("%s: no invocationId on %s; cannot keep a delta watermark", src->cfg->uri, dsa);
    strbuf_release(&v);
    return ret;
}

static int on_first_dn(const struct lsrc_val *dn, struct lsrc_entry *e, void *ctx)
{
    char **out = ctx;
    (void)e;
    if (!*out)
        *out = xstrndup(dn->data, dn->len);
    return 0;
}

int lread_find_one(struct ldap_source *src, const char *filter, const char *doing, char **dn)
{
    char *attrs[] = { "1.1", NULL };   /* RFC 4511: no attributes, just the DNs */
    *dn = NULL;
    log_debug("search base=%s filter=%s (one)", src->naming_context, filter);
    if (lsrc_search(src->conn, src->naming_context, LSRC_SUBTREE, filter, attrs, 1, doing,
                    on_first_dn, dn)) {
        free(*dn);
        *dn = NULL;
        return -1;
    }
    return 0;
}
