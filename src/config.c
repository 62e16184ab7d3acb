#include "compat.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <ini.h>
#include <strings.h>

#include "adobject.h"
#include "config.h"
#include "log.h"
#include "platform.h"
#include "rules.h"
#include "util.h"

/* Where each part of a rule's text came from: a rule may go on over indented
 * continuation lines, and an error at byte `offset` of the joined text must
 * point at the right line and column. */
struct rule_source {
    size_t nsegs;
    struct rule_segment {
        size_t start;          /* offset of this part in the joined text */
        int line;
        size_t col;            /* byte offset of the value in the raw line */
        char *raw;             /* the raw line, for the caret excerpt */
    } *segs;
};

enum tenant_key {
    TK_CA_FILE, TK_CERT_STORE, TK_CERT_THUMBPRINT, TK_CLIENT_CERT_FILE, TK_CLIENT_ID, TK_CLIENT_KEY_FILE, TK_CLIENT_SECRET,
    TK_CLIENT_SECRET_FILE, TK_CLOUD, TK_CONNECT_CONFIG, TK_DEFAULT, TK_HOME_WHEN, TK_INVITATIONS_PER_MINUTE,
    TK_INVITE_ADDRESS_ATTRIBUTE,
    TK_MAPPING_FILE, TK_MAX_CHANGES, TK_MAX_RETRY_WAIT, TK_PROXY, TK_REDIRECT_URL,
    TK_REPLICATION_WAIT, TK_RULE, TK_SEND_INVITATION_MESSAGE, TK_TENANT_ID, TK_TIMEOUT, TK_COUNT
};

/* inih's handler gets no line number, so the reader it calls counts lines
 * for us: when the handler runs, `line` is the line it is looking at. */
struct parse_state {
    FILE *f;
    struct config *cfg;
    int line;
    int errors;
    bool saw_ldap;
    const char *linebuf;       /* inih's line buffer: the value it hands us points into it */
    struct strbuf raw;         /* the current line as read, without its end of line */
    bool too_long;             /* it had more than CONFIG_MAX_LINE bytes */
    /* a line too long for inih's buffer: inih sees a stand-in (stand_in) and
     * the handler takes the value from here: the line's value as a key line,
     * or (indented) the whole line as a continuation, as inih took it */
    bool long_line;
    struct strbuf long_key, long_cont;
    size_t long_key_col, long_cont_col;    /* where they start in raw */
    const struct strbuf *long_value;       /* the one the handler took */
    size_t long_col;
    bool indented;             /* it starts with a blank: inih may take it as a continuation */
    bool key_in_section;       /* a key was seen since the last section header */
    int *base_dn_lines;        /* where each of cfg->ldap.scope.base_dns was set */
    bool in_tenant;            /* inside a [tenant ...] section, even a bad one */
    struct tenant_config *tenant;  /* that tenant, NULL if its header was refused */
    int key_line[TK_COUNT];    /* where each key of the current tenant was set */
    /* a rule or home_when being read; it may go on over continuation lines */
    struct {
        enum tenant_key key;   /* TK_COUNT: nothing pending */
        size_t tenant;
        struct strbuf text;
        struct rule_source *src;
    } pending;
};

static int conf_error(struct parse_state *ps, const char *fmt, ...) ATTR_PRINTF(2, 3);
static void section_start(struct parse_state *ps, const char *header);
static void pending_finish(struct parse_state *ps);

/* One line of the file into ps->raw, without its end of line; false at the
 * end of the file. A line longer than CONFIG_MAX_LINE is read to its end (so
 * that its rest is not taken for a line of its own) but not kept. */
static bool read_line(struct parse_state *ps)
{
    strbuf_reset(&ps->raw);
    ps->too_long = false;
    char chunk[4096];
    size_t total = 0;
    bool any = false;
    while (fgets(chunk, sizeof(chunk), ps->f)) {
        any = true;
        size_t n = strlen(chunk);
        bool eol = n && chunk[n - 1] == '\n';
        total += n - eol;
        if (total > CONFIG_MAX_LINE)
            ps->too_long = true;
        else
            strbuf_add(&ps->raw, chunk, n - eol);
        if (eol)
            break;
    }
    if (ps->raw.len && ps->raw.buf[ps->raw.len - 1] == '\r')
        ps->raw.buf[--ps->raw.len] = '\0';
    return any;
}

/* inih's find_chars_or_comment: the first of `chars`, or the start of a
 * " ;comment", or the end. */
static const char *ini_stop(const char *s, const char *chars)
{
    bool was_space = false;
    for (; *s && !(chars && strchr(chars, *s)) && !(was_space && *s == ';'); s++)
        was_space = isspace((unsigned char)*s);
    return s;
}

/* inih reads into a buffer of INI_MAX_LINE bytes, a compile-time constant
 * (200 in Debian's shared libinih, and in the ini.c the Windows build
 * compiles), and refuses longer lines; DNs of deep OU trees are longer. So a
 * line that does not fit is handed to inih as a short stand-in that inih
 * parses the way it would parse the line: the key and its '=' as written and
 * one letter for the value. inih alone knows whether an indented line
 * continues the key above it (it remembers that key), so both readings are
 * prepared, each cut as inih cuts one, and the handler takes the one inih
 * chose (long_value_for). */
static void stand_in(struct parse_state *ps, char *buf, size_t size)
{
    const char *raw = ps->raw.buf;
    size_t lead = strspn(raw, " \t");
    const char *t = raw + lead;
    if (*t == ';' || *t == '#') {
        snprintf(buf, size, ";\n");
        return;
    }
    if (*t == '[' && !ps->indented) {
        /* no section name is this long: inih sees it cut, and says so */
        size_t n = strcspn(t, "]");
        snprintf(buf, size, "%.*s%s\n", (int)(n < size - 4 ? n : size - 4), t,
                 t[n] ? "]" : "");
        return;
    }
    ps->long_line = true;
    /* as a continuation: the whole line, blanks around it dropped (the
     * handler cuts its " ;comment" itself, as for short lines) */
    const char *end = t + strlen(t);
    while (end > t && isspace((unsigned char)end[-1]))
        end--;
    strbuf_reset(&ps->long_cont);
    strbuf_add(&ps->long_cont, t, (size_t)(end - t));
    ps->long_cont_col = lead;
    /* as a key line */
    const char *eq = ini_stop(t, "=:");
    size_t klen = (size_t)(eq - raw);
    if ((*eq != '=' && *eq != ':') || klen + 4 > size) {
        /* no '=' at all, or a key as long as inih's buffer (no key is): as
         * a key line inih sees it cut before any '=' and says syntax error */
        snprintf(buf, size, "%.*s\n", (int)(klen < size - 2 ? klen : size - 2), raw);
        strbuf_reset(&ps->long_key);
        ps->long_key_col = 0;
        return;
    }
    snprintf(buf, size, "%.*s x\n", (int)klen + 1, raw);
    const char *v;
    end = ini_stop(eq + 1, NULL);
    for (v = eq + 1; v < end && isspace((unsigned char)*v); v++)
        ;
    while (end > v && isspace((unsigned char)end[-1]))
        end--;
    strbuf_reset(&ps->long_key);
    strbuf_add(&ps->long_key, v, (size_t)(end - v));
    ps->long_key_col = (size_t)(v - raw);
}

static char *reader(char *buf, int size, void *stream)
{
    struct parse_state *ps = stream;
    if (!read_line(ps))
        return NULL;
    ps->line++;
    ps->linebuf = buf;
    ps->long_line = false;
    const char *raw = strbuf_str(&ps->raw);
    ps->indented = raw[0] == ' ' || raw[0] == '\t';
    const char *t = raw + strspn(raw, " \t");
    /* inih takes an indented line after a key as that key's continuation, even
     * "[...]"; anything else starting with '[' is a section header */
    if (*t == '[' && !(ps->indented && ps->key_in_section))
        section_start(ps, t + 1);
    if (ps->too_long) {
        conf_error(ps, "line longer than %d bytes, the most a line may have; split it: "
                       "base_dn, include_ou, ... take one DN per line, and rules go on over "
                       "indented lines", CONFIG_MAX_LINE);
        snprintf(buf, (size_t)size, "\n");
    } else if (ps->raw.len + 2 <= (size_t)size) {
        snprintf(buf, (size_t)size, "%s\n", raw);
    } else {
        stand_in(ps, buf, (size_t)size);
    }
    return buf;
}

/* For a stand-in line, the value the handler got from inih → the real one.
 * inih hands a continuation the line from its first non-blank, a key line
 * what follows the '='. */
static const char *long_value_for(struct parse_state *ps, const char *value)
{
    bool cont = value == ps->linebuf + strspn(ps->linebuf, " \t");
    ps->long_value = cont ? &ps->long_cont : &ps->long_key;
    ps->long_col = cont ? ps->long_cont_col : ps->long_key_col;
    return strbuf_str(ps->long_value);
}

/* Where `value`, as the handler got it, starts in the raw line. */
static size_t value_col(const struct parse_state *ps, const char *value)
{
    if (ps->long_line)
        return ps->long_col + (size_t)(value - strbuf_str(ps->long_value));
    return (size_t)(value - ps->linebuf);
}

static int conf_error(struct parse_state *ps, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char msg[1024];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_error("%s:%d: %s", ps->cfg->path, ps->line, msg);
    ps->errors++;
    return 1;  /* keep parsing: report every error in one go */
}

static int parse_bool(const char *v, bool *out)
{
    if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "on"))
        *out = true;
    else if (!strcasecmp(v, "no") || !strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "off"))
        *out = false;
    else
        return -1;
    return 0;
}

static void list_add(char ***list, size_t *n, const char *v)
{
    *list = xrealloc(*list, (*n + 1) * sizeof(char *));
    (*list)[(*n)++] = xstrdup(v);
}

/* Split "a, b c" into words (commas and blanks both separate). */
static void words_add(char ***list, size_t *n, const char *v)
{
    const char *sep = ", \t";
    while (*v) {
        v += strspn(v, sep);
        size_t len = strcspn(v, sep);
        if (len) {
            char *w = xstrndup(v, len);
            list_add(list, n, w);
            free(w);
        }
        v += len;
    }
}

static void set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = xstrdup(v);
}

/* The one check of every key that names a secret: a password, a private key,
 * a keytab. Its mode only, at load (exit 2 with the chmod remedy, before
 * anything connects); the commands that need the secret read it later. */
static void set_secret_path(struct parse_state *ps, char **dst, const char *name, const char *v)
{
    char why[512];
    if (platform_check_secret_file(v, why, sizeof(why)))
        conf_error(ps, "%s %s %s", name, v, why);
    set_str(dst, v);
}

static bool is_tenant_section(const char *section)
{
    section += strspn(section, " \t");
    return !strncmp(section, "tenant", 6) && (section[6] == '\0' || section[6] == ' '
                                             || section[6] == '\t' || section[6] == '"');
}

enum ldap_key {
    K_URI, K_STARTTLS, K_CA_FILE, K_BIND, K_BIND_DN, K_PASSWORD_FILE, K_PASSWORD_ENV,
    K_KEYTAB, K_PRINCIPAL, K_CLIENT_CERT, K_CLIENT_KEY, K_INSECURE, K_PAGE_SIZE, K_TIMEOUT,
    K_ATTRIBUTES, K_WATERMARK_FILE, K_BASE_DN, K_INCLUDE_OU, K_EXCLUDE_OU, K_MEMBER_OF,
    K_CLASSES, K_FILTER, K_PASSWORD,
};

/* The [ldap] keys; base_dn, include_ou, exclude_ou and member_of may repeat
 * (a DN holds commas, so one DN per line). */
static const struct { const char *name; enum ldap_key key; } ldap_keys[] = {
    { "attributes", K_ATTRIBUTES },     { "base_dn", K_BASE_DN },
    { "bind", K_BIND },                 { "bind_dn", K_BIND_DN },
    { "ca_file", K_CA_FILE },           { "classes", K_CLASSES },
    { "client_cert", K_CLIENT_CERT },   { "client_key", K_CLIENT_KEY },
    { "exclude_ou", K_EXCLUDE_OU },     { "filter", K_FILTER },
    { "include_ou", K_INCLUDE_OU },     { "insecure_lab_cleartext", K_INSECURE },
    { "keytab", K_KEYTAB },             { "member_of", K_MEMBER_OF },
    { "page_size", K_PAGE_SIZE },       { "password", K_PASSWORD },
    { "password_env", K_PASSWORD_ENV }, { "password_file", K_PASSWORD_FILE },
    { "principal", K_PRINCIPAL },       { "starttls", K_STARTTLS },
    { "timeout", K_TIMEOUT },           { "uri", K_URI },
    { "watermark_file", K_WATERMARK_FILE },
};

/* Two base DNs where one holds the other (or both are one) would read the
 * same objects twice. DNs compare as AD compares them: RDN by RDN, ignoring
 * case and the blanks people type after commas (ad_dn_canonical). */
static bool base_dn_overlaps(struct parse_state *ps, const char *v)
{
    const struct scope *s = &ps->cfg->ldap.scope;
    char *dn = ad_dn_canonical(v);
    bool overlap = false;
    for (size_t i = 0; i < s->nbase_dns && !overlap; i++) {
        char *other = ad_dn_canonical(s->base_dns[i]);
        bool inside = ad_dn_within(dn, other), holds = ad_dn_within(other, dn);
        int line = ps->base_dn_lines[i];
        if (inside && holds)
            conf_error(ps, "base_dn %s is the same as the base_dn of line %d; objects would be "
                           "read twice: remove one", v, line);
        else if (inside)
            conf_error(ps, "base_dn %s lies inside the base_dn of line %d (%s); objects would be "
                           "read twice: remove it (include_ou narrows a base DN)", v, line,
                       s->base_dns[i]);
        else if (holds)
            conf_error(ps, "base_dn %s holds the base_dn of line %d (%s); objects would be read "
                           "twice: remove that one (include_ou narrows a base DN)", v, line,
                       s->base_dns[i]);
        overlap = inside || holds;
        free(other);
    }
    free(dn);
    return overlap;
}

static int ldap_key(struct parse_state *ps, const char *name, const char *v)
{
    struct ldap_config *l = &ps->cfg->ldap;
    struct scope *s = &l->scope;
    size_t i;
    for (i = 0; i < ARRAY_SIZE(ldap_keys); i++)
        if (!strcmp(ldap_keys[i].name, name))
            break;
    if (i == ARRAY_SIZE(ldap_keys))
        return conf_error(ps, "unknown key '%s' in [ldap]", name);
    bool b;
    switch (ldap_keys[i].key) {
    case K_URI:
        if (strncasecmp(v, "ldaps://", 8) && strncasecmp(v, "ldap://", 7))
            return conf_error(ps, "uri must start with ldaps:// or ldap://, not '%s'", v);
        set_str(&l->uri, v);
        break;
    case K_STARTTLS:
    case K_INSECURE:
        if (parse_bool(v, &b))
            return conf_error(ps, "%s must be yes or no, not '%s'", name, v);
        if (ldap_keys[i].key == K_STARTTLS)
            l->starttls = b;
        else
            l->insecure_lab_cleartext = b;
        break;
    case K_CA_FILE: set_str(&l->ca_file, v); break;
    case K_BIND:
        if (!strcasecmp(v, "gssapi") || !strcasecmp(v, "kerberos"))
            l->bind = LDAP_BIND_GSSAPI;
        else if (!strcasecmp(v, "external"))
            l->bind = LDAP_BIND_EXTERNAL;
        else if (!strcasecmp(v, "simple"))
            l->bind = LDAP_BIND_SIMPLE;
        else
            return conf_error(ps, "bind must be gssapi, external or simple, not '%s'", v);
        break;
    case K_BIND_DN: set_str(&l->bind_dn, v); break;
    case K_PASSWORD:
        return conf_error(ps, "a password is never written in the config file; "
                              "put it in a 0600 file and set password_file, or use password_env");
    case K_PASSWORD_FILE: set_secret_path(ps, &l->password_file, name, v); break;
    case K_PASSWORD_ENV: set_str(&l->password_env, v); break;
    case K_KEYTAB: set_secret_path(ps, &l->keytab, name, v); break;
    case K_PRINCIPAL: set_str(&l->principal, v); break;
    case K_CLIENT_CERT: set_str(&l->client_cert, v); break;
    case K_CLIENT_KEY: set_secret_path(ps, &l->client_key, name, v); break;
    case K_PAGE_SIZE:
        if (parse_int(v, 1, 100000, &l->page_size))
            return conf_error(ps, "page_size must be a number from 1 to 100000, not '%s'", v);
        break;
    case K_TIMEOUT:
        if (parse_int(v, 1, 3600, &l->timeout))
            return conf_error(ps, "timeout must be seconds from 1 to 3600, not '%s'", v);
        break;
    case K_ATTRIBUTES: words_add(&l->attributes, &l->nattributes, v); break;
    case K_WATERMARK_FILE: set_str(&l->watermark_file, v); break;
    case K_BASE_DN:
        if (base_dn_overlaps(ps, v))
            return 1;
        ps->base_dn_lines = xrealloc(ps->base_dn_lines, (s->nbase_dns + 1) * sizeof(int));
        ps->base_dn_lines[s->nbase_dns] = ps->line;
        list_add(&s->base_dns, &s->nbase_dns, v);
        break;
    case K_INCLUDE_OU: list_add(&s->include_ous, &s->ninclude_ous, v); break;
    case K_EXCLUDE_OU: list_add(&s->exclude_ous, &s->nexclude_ous, v); break;
    case K_MEMBER_OF: list_add(&s->member_of, &s->nmember_of, v); break;
    case K_CLASSES: {
        char **w = NULL;
        size_t n = 0;
        words_add(&w, &n, v);
        memset(s->classes, 0, sizeof(s->classes));
        for (size_t j = 0; j < n; j++) {
            if (!strcasecmp(w[j], "user") || !strcasecmp(w[j], "users"))
                s->classes[AD_CLASS_USER] = true;
            else if (!strcasecmp(w[j], "contact") || !strcasecmp(w[j], "contacts"))
                s->classes[AD_CLASS_CONTACT] = true;
            else if (!strcasecmp(w[j], "group") || !strcasecmp(w[j], "groups"))
                s->classes[AD_CLASS_GROUP] = true;
            else
                conf_error(ps, "classes: unknown class '%s' (use user, contact, group)", w[j]);
            free(w[j]);
        }
        free(w);
        break;
    }
    case K_FILTER: {
        int depth = 0;
        for (const char *p = v; *p; p++) {
            if (*p == '(')
                depth++;
            else if (*p == ')' && --depth < 0)
                break;
        }
        if (depth != 0)
            return conf_error(ps, "filter has unbalanced parentheses: %s", v);
        set_str(&s->filter, v);
        break;
    }
    }
    return 1;
}

static int general_key(struct parse_state *ps, const char *name, const char *v)
{
    if (!strcmp(name, "mappings_dir"))
        set_str(&ps->cfg->mappings_dir, v);
    else
        return conf_error(ps, "unknown key '%s' in [dualsync]", name);
    return 1;
}

/* ------------------------------------------------------------ [tenant NAME] */

static void rule_source_free(struct rule_source *src)
{
    if (!src)
        return;
    for (size_t i = 0; i < src->nsegs; i++)
        free(src->segs[i].raw);
    free(src->segs);
    free(src);
}

static void tenant_rule_clear(struct tenant_rule *r)
{
    cond_free(r->cond);
    free(r->text);
    rule_source_free(r->src);
    memset(r, 0, sizeof(*r));
}

static void tenant_free(struct tenant_config *t)
{
    free(t->name);
    free(t->tenant_id);
    free(t->client_id);
    free(t->client_secret_file);
    free(t->client_cert_file);
    free(t->client_key_file);
    free(t->cert_thumbprint);
    free(t->mapping_file);
    free(t->connect_config);
    free(t->redirect_url);
    free(t->proxy);
    free(t->ca_file);
    free(t->invite_address_attribute);
    tenant_rule_clear(&t->home_when);
    for (size_t i = 0; i < t->nrules; i++)
        tenant_rule_clear(&t->rules[i]);
    free(t->rules);
    tenant_rule_clear(&t->default_rule);
}

/* "FILE:LINE:COLUMN: message", then the line and a caret under the column.
 * The column counts characters (UTF-8 continuation bytes add nothing) so that
 * the caret lines up in a terminal; tabs are copied to keep the alignment. */
static void rule_error(struct parse_state *ps, const struct rule_source *src, size_t offset,
                       const char *fmt, ...) ATTR_PRINTF(4, 5);

static void rule_error(struct parse_state *ps, const struct rule_source *src, size_t offset,
                       const char *fmt, ...)
{
    const struct rule_segment *seg = &src->segs[0];
    for (size_t i = 1; i < src->nsegs; i++)
        if (src->segs[i].start <= offset)
            seg = &src->segs[i];
    size_t pos = seg->col + (offset - seg->start);
    size_t rawlen = strlen(seg->raw);
    if (pos > rawlen)
        pos = rawlen;
    struct strbuf caret = STRBUF_INIT;
    int col = 1;
    for (size_t i = 0; i < pos; i++) {
        unsigned char c = (unsigned char)seg->raw[i];
        if ((c & 0xc0) == 0x80)
            continue;
        strbuf_addch(&caret, c == '\t' ? '\t' : ' ');
        col++;
    }
    strbuf_addch(&caret, '^');
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_error("%s:%d:%d: %s\n    %s\n    %s", ps->cfg->path, seg->line, col, msg, seg->raw,
              caret.buf);
    strbuf_release(&caret);
    ps->errors++;
}

static const struct { const char *name; enum tenant_key key; } tenant_keys[] = {
    { "ca_file", TK_CA_FILE },
    { "cert_store", TK_CERT_STORE },
    { "cert_thumbprint", TK_CERT_THUMBPRINT },
    { "client_cert_file", TK_CLIENT_CERT_FILE },
    { "client_id", TK_CLIENT_ID },
    { "client_key_file", TK_CLIENT_KEY_FILE },
    { "client_secret", TK_CLIENT_SECRET },
    { "client_secret_file", TK_CLIENT_SECRET_FILE },
    { "cloud", TK_CLOUD },
    { "connect_config", TK_CONNECT_CONFIG },
    { "default", TK_DEFAULT },
    { "home_when", TK_HOME_WHEN },
    { "invitations_per_minute", TK_INVITATIONS_PER_MINUTE },
    { "invite_address_attribute", TK_INVITE_ADDRESS_ATTRIBUTE },
    { "mapping_file", TK_MAPPING_FILE },
    { "max_changes", TK_MAX_CHANGES },
    { "max_retry_wait", TK_MAX_RETRY_WAIT },
    { "proxy", TK_PROXY },
    { "redirect_url", TK_REDIRECT_URL },
    { "replication_wait", TK_REPLICATION_WAIT },
    { "rule", TK_RULE },
    { "send_invitation_message", TK_SEND_INVITATION_MESSAGE },
    { "tenant_id", TK_TENANT_ID },
    { "timeout", TK_TIMEOUT },
};

static bool valid_tenant_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')
              || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
            return false;
    return true;
}

/* The required keys of the tenant whose section just ended. */
static void section_end(struct parse_state *ps)
{
    struct tenant_config *t = ps->tenant;
    ps->tenant = NULL;
    if (!t)
        return;
    const char *f = ps->cfg->path;
    int *kl = ps->key_line;
    if (!kl[TK_CLOUD])
        log_error("%s:%d: [tenant %s] needs cloud (global, usgov-high, usgov-dod or china)", f,
                  t->line, t->name), ps->errors++;
    if (!kl[TK_TENANT_ID])
        log_error("%s:%d: [tenant %s] needs tenant_id (the tenant's GUID: Entra admin center, "
                  "Overview, Tenant ID)", f, t->line, t->name), ps->errors++;
    if (!kl[TK_CLIENT_ID])
        log_error("%s:%d: [tenant %s] needs client_id (the application (client) ID of the app "
                  "registration dualsync signs in as)", f, t->line, t->name), ps->errors++;
    if (kl[TK_CERT_THUMBPRINT] && (kl[TK_CLIENT_SECRET_FILE] || kl[TK_CLIENT_CERT_FILE] || kl[TK_CLIENT_KEY_FILE]))
        log_error("%s:%d: [tenant %s] has cert_thumbprint and another credential; keep one", f,
                  kl[TK_CERT_THUMBPRINT], t->name), ps->errors++;
    else if (kl[TK_CERT_STORE] && !kl[TK_CERT_THUMBPRINT])
        log_error("%s:%d: [tenant %s] cert_store needs cert_thumbprint (the certificate's "
                  "thumbprint in that store)", f, kl[TK_CERT_STORE], t->name), ps->errors++;
    else if (kl[TK_CERT_THUMBPRINT])
        ;
    else if (kl[TK_CLIENT_SECRET_FILE] && (kl[TK_CLIENT_CERT_FILE] || kl[TK_CLIENT_KEY_FILE]))
        log_error("%s:%d: [tenant %s] has both a client secret and a certificate; keep one: "
                  "client_secret_file, or client_cert_file and client_key_file", f, t->line,
                  t->name), ps->errors++;
    else if (kl[TK_CLIENT_CERT_FILE] != 0 && !kl[TK_CLIENT_KEY_FILE])
        log_error("%s:%d: [tenant %s] client_cert_file needs client_key_file (the certificate's "
                  "private key)", f, t->line, t->name), ps->errors++;
    else if (kl[TK_CLIENT_KEY_FILE] && !kl[TK_CLIENT_CERT_FILE])
        log_error("%s:%d: [tenant %s] client_key_file needs client_cert_file", f, t->line,
                  t->name), ps->errors++;
    else if (!kl[TK_CLIENT_SECRET_FILE] && !kl[TK_CLIENT_CERT_FILE])
        log_error("%s:%d: [tenant %s] needs a credential: client_secret_file, "
                  "client_cert_file and client_key_file, or cert_thumbprint (Windows)", f, t->line,
                  t->name), ps->errors++;
    t->credential = kl[TK_CERT_THUMBPRINT] ? CREDENTIAL_STORE
                  : kl[TK_CLIENT_SECRET_FILE] ? CREDENTIAL_SECRET
                  : kl[TK_CLIENT_CERT_FILE] ? CREDENTIAL_CERTIFICATE : CREDENTIAL_NONE;
    /* a rule that failed to parse has been reported already: no second error */
    if (!t->nrules && !t->default_rule.line && !kl[TK_RULE] && !kl[TK_DEFAULT])
        log_error("%s:%d: [tenant %s] has no rule and no default: it would exclude everything; "
                  "add rule = CONDITION -> OUTCOME lines or default = OUTCOME", f, t->line,
                  t->name), ps->errors++;
}

/* A section header; `header` is what follows its '['. Tenants are created
 * here, in file order, so that a [tenant] without keys is still seen. */
static void section_start(struct parse_state *ps, const char *header)
{
    pending_finish(ps);
    section_end(ps);
    ps->key_in_section = false;
    ps->in_tenant = false;
    memset(ps->key_line, 0, sizeof(ps->key_line));
    size_t len = strcspn(header, "]");
    if (header[len] != ']')
        return;     /* inih reports it */
    char *sec = xstrndup(header, len);
    if (!is_tenant_section(sec)) {
        free(sec);
        return;
    }
    ps->in_tenant = true;
    char *name = sec + strspn(sec, " \t") + 6;
    name += strspn(name, " \t");
    size_t n = strlen(name);
    while (n && (name[n - 1] == ' ' || name[n - 1] == '\t'))
        name[--n] = '\0';
    if (n >= 2 && name[0] == '"' && name[n - 1] == '"') {
        name[n - 1] = '\0';
        name++;
    }
    const struct tenant_config *dup = NULL;
    struct config *cfg = ps->cfg;
    if (!*name)
        conf_error(ps, "a tenant section needs a name: [tenant NAME]");
    else if (!valid_tenant_name(name))
        conf_error(ps, "tenant name '%s' may only have letters, digits, '-' and '_' (it names "
                       "the mapping file)", name);
    else if ((dup = config_tenant(cfg, name)))
        conf_error(ps, "[tenant %s] is defined twice; the first is at line %d", name, dup->line);
    else if (cfg->ntenants == CONFIG_MAX_TENANTS)
        conf_error(ps, "more than %d tenants; split them over several config files",
                   CONFIG_MAX_TENANTS);
    else {
        cfg->tenants = xrealloc(cfg->tenants, (cfg->ntenants + 1) * sizeof(*cfg->tenants));
        struct tenant_config *t = &cfg->tenants[cfg->ntenants++];
        memset(t, 0, sizeof(*t));
        t->name = xstrdup(name);
        t->line = ps->line;
        t->max_changes = 500;
        t->max_retry_wait = 300;
        t->replication_wait = 30;
        t->timeout = 60;
        t->invitations_per_minute = 30;
        t->invite_address_attribute = xstrdup("mail");
        t->default_rule.outcome = DECISION_EXCLUDE;
        ps->tenant = t;
    }
    free(sec);
}

/* Begin a rule, home_when or default: it is parsed once its last continuation
 * line has been read (pending_finish). */
/* value points into inih's line buffer (for the column); text is what to add. */
static void pending_add(struct parse_state *ps, const char *value, const char *text_part)
{
    struct rule_source *src = ps->pending.src;
    struct strbuf *text = &ps->pending.text;
    if (text->len)
        strbuf_addch(text, ' ');
    src->segs = xrealloc(src->segs, (src->nsegs + 1) * sizeof(*src->segs));
    struct rule_segment *seg = &src->segs[src->nsegs++];
    seg->start = text->len;
    seg->line = ps->line;
    seg->col = value_col(ps, value);
    seg->raw = xstrdup(strbuf_str(&ps->raw));
    strbuf_addstr(text, text_part);
}

static void pending_start(struct parse_state *ps, enum tenant_key key, const char *value)
{
    ps->pending.key = key;
    ps->pending.tenant = (size_t)(ps->tenant - ps->cfg->tenants);
    strbuf_reset(&ps->pending.text);
    ps->pending.src = xcalloc(1, sizeof(*ps->pending.src));
    pending_add(ps, value, value);
}

static void pending_finish(struct parse_state *ps)
{
    enum tenant_key key = ps->pending.key;
    if (key == TK_COUNT)
        return;
    ps->pending.key = TK_COUNT;
    struct tenant_config *t = &ps->cfg->tenants[ps->pending.tenant];
    struct tenant_rule r = { .text = xstrdup(strbuf_str(&ps->pending.text)),
                             .line = ps->pending.src->segs[0].line, .src = ps->pending.src };
    ps->pending.src = NULL;
    struct rules_error err;
    int rc;
    if (key == TK_RULE)
        rc = rules_parse_rule(r.text, &r.cond, &r.outcome, &err);
    else if (key == TK_HOME_WHEN)
        rc = rules_parse_condition(r.text, &r.cond, &err);
    else
        rc = rules_parse_outcome(r.text, &r.outcome, &err);
    if (rc) {
        rule_error(ps, r.src, err.offset, "%s", err.message);
        tenant_rule_clear(&r);
        return;
    }
    if (key == TK_RULE) {
        t->rules = xrealloc(t->rules, (t->nrules + 1) * sizeof(*t->rules));
        t->rules[t->nrules++] = r;
    } else if (key == TK_HOME_WHEN) {
        t->home_when = r;
    } else {
        t->default_rule = r;
    }
}

static void set_guid(struct parse_state *ps, char **dst, const char *name, const char *v,
                     const char *what)
{
    unsigned char g[16];
    char text[37];
    if (ad_guid_from_text(v, g)) {
        conf_error(ps, "%s must be a GUID (%s), not '%s'", name, what, v);
        return;
    }
    ad_guid_to_text(g, text);
    set_str(dst, text);
}

static int tenant_key(struct parse_state *ps, const char *name, const char *v)
{
    struct tenant_config *t = ps->tenant;
    if (!t)
        return 1;   /* its header was refused: do not pile errors on it */
    size_t i;
    for (i = 0; i < ARRAY_SIZE(tenant_keys); i++)
        if (!strcmp(tenant_keys[i].name, name))
            break;
    if (i == ARRAY_SIZE(tenant_keys))
        return conf_error(ps, "unknown key '%s' in [tenant %s]", name, t->name);
    enum tenant_key k = tenant_keys[i].key;
    if (k != TK_RULE && ps->key_line[k])
        return conf_error(ps, "%s is set twice in [tenant %s]; the first is at line %d", name,
                          t->name, ps->key_line[k]);
    ps->key_line[k] = ps->line;
    bool b;
    switch (k) {
    case TK_CLOUD:
        if (cloud_parse(v, &t->cloud))
            return conf_error(ps, "cloud must be global, usgov-high, usgov-dod or china, not '%s'", v);
        break;
    case TK_TENANT_ID:
        set_guid(ps, &t->tenant_id, name, v, "Entra admin center, Overview, Tenant ID");
        break;
    case TK_CLIENT_ID:
        set_guid(ps, &t->client_id, name, v, "the app registration's Application (client) ID");
        break;
    case TK_CLIENT_SECRET:
        return conf_error(ps, "a client secret is never written in the config file; put it in a "
                              "0600 file and set client_secret_file");
    case TK_CLIENT_SECRET_FILE: set_secret_path(ps, &t->client_secret_file, name, v); break;
    case TK_CLIENT_KEY_FILE: set_secret_path(ps, &t->client_key_file, name, v); break;
    case TK_CLIENT_CERT_FILE: set_str(&t->client_cert_file, v); break;
    case TK_CERT_THUMBPRINT: {
        /* as certlm.msc or Get-ChildItem Cert:\ show it: hex digits, maybe
         * with spaces or colons, and the invisible left-to-right mark
         * (U+200E) that the certificate dialog puts in front when copied */
        char hex[41];
        size_t n = 0;
        bool ok = true;
        for (const unsigned char *p = (const unsigned char *)v; *p && ok; p++) {
            if (*p == ' ' || *p == ':')
                continue;
            if (p[0] == 0xe2 && p[1] == 0x80 && p[2] == 0x8e) {
                p += 2;
                continue;
            }
            ok = isxdigit(*p) && n < 40;
            if (ok)
                hex[n++] = (char)tolower(*p);
        }
        if (!ok || n != 40)
            return conf_error(ps, "cert_thumbprint must be the certificate's SHA-1 thumbprint, 40 "
                                  "hexadecimal digits (Get-ChildItem Cert:\\LocalMachine\\My), not '%s'", v);
        hex[n] = '\0';
        set_str(&t->cert_thumbprint, hex);
        break;
    }
    case TK_CERT_STORE:
        if (!strcasecmp(v, "LocalMachine"))
            t->cert_store_user = false;
        else if (!strcasecmp(v, "CurrentUser"))
            t->cert_store_user = true;
        else
            return conf_error(ps, "cert_store must be LocalMachine or CurrentUser, not '%s'", v);
        break;
    case TK_CA_FILE: set_str(&t->ca_file, v); break;
    case TK_MAPPING_FILE: set_str(&t->mapping_file, v); break;
    case TK_CONNECT_CONFIG: set_str(&t->connect_config, v); break;
    case TK_REDIRECT_URL:
        if (strncasecmp(v, "https://", 8))
            return conf_error(ps, "redirect_url must be an https:// URL, not '%s'", v);
        set_str(&t->redirect_url, v);
        break;
    case TK_SEND_INVITATION_MESSAGE:
        if (parse_bool(v, &b))
            return conf_error(ps, "%s must be yes or no, not '%s'", name, v);
        t->send_invitation_message = b;
        break;
    case TK_INVITE_ADDRESS_ATTRIBUTE: {
        bool ok = (*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z');
        for (const char *p = v; *p && ok; p++)
            ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')
                 || *p == '-';
        if (!ok)
            return conf_error(ps, "invite_address_attribute must be an AD attribute name "
                                  "(mail, userPrincipalName, ...), not '%s'", v);
        set_str(&t->invite_address_attribute, v);
        break;
    }
    case TK_MAX_CHANGES:
        if (parse_int(v, 0, 10000000, &t->max_changes))
            return conf_error(ps, "max_changes must be a number from 0 to 10000000, not '%s'", v);
        break;
    case TK_PROXY: {
        if (!strcmp(v, "none")) {
            set_str(&t->proxy, v);
            break;
        }
        if (strchr(v, '@'))   /* never echo what may hold a password */
            return conf_error(ps, "proxy: credentials are never written in the config file; let the "
                                  "proxy admit this host, or give the proxy in https_proxy");
        const char *rest = NULL;
        static const char *const schemes[] = { "http://", "https://", "socks5://", "socks5h://", "socks4://" };
        for (size_t s = 0; s < ARRAY_SIZE(schemes) && !rest; s++)
            if (!strncasecmp(v, schemes[s], strlen(schemes[s])))
                rest = v + strlen(schemes[s]);
        if (!rest || !*rest || strchr(rest, ' '))
            return conf_error(ps, "proxy must be none or a URL such as http://proxy.example:3128, not '%s'", v);
        set_str(&t->proxy, v);
        break;
    }
    case TK_INVITATIONS_PER_MINUTE:
        if (parse_int(v, 0, 100000, &t->invitations_per_minute))
            return conf_error(ps, "invitations_per_minute must be a number from 0 (no limit) to 100000, "
                                  "not '%s'", v);
        break;
    case TK_TIMEOUT:
        if (parse_int(v, 1, 3600, &t->timeout))
            return conf_error(ps, "timeout must be seconds from 1 to 3600, not '%s'", v);
        break;
    case TK_MAX_RETRY_WAIT:
        if (parse_int(v, 1, 86400, &t->max_retry_wait))
            return conf_error(ps, "max_retry_wait must be seconds from 1 to 86400, not '%s'", v);
        break;
    case TK_REPLICATION_WAIT:
        if (parse_int(v, 0, 3600, &t->replication_wait))
            return conf_error(ps, "replication_wait must be a number of seconds from 0 to 3600, not '%s'", v);
        break;
    case TK_RULE:
    case TK_HOME_WHEN:
    case TK_DEFAULT:
        pending_start(ps, k, v);
        break;
    case TK_COUNT:
        break;
    }
    return 1;
}

/* The first home or homeless in a condition, or NULL. */
static const struct cond *find_home(const struct cond *c)
{
    if (!c)
        return NULL;
    if (c->op == COND_HOME || c->op == COND_HOMELESS)
        return c;
    const struct cond *l = find_home(c->left);
    return l ? l : find_home(c->right);
}

struct home_check {
    struct parse_state *ps;
    const struct tenant_config *tenant;
    const struct tenant_rule *rule;
};

static int check_home_refs(const struct cond *c, void *vctx)
{
    struct home_check *hc = vctx;
    struct config *cfg = hc->ps->cfg;
    if (c->op == COND_HOMELESS) {
        bool any = false;
        for (size_t k = 0; k < cfg->ntenants; k++)
            any = any || cfg->tenants[k].home_when.cond != NULL;
        if (!any)
            rule_error(hc->ps, hc->rule->src, c->offset,
                       "homeless: no tenant has home_when, so everything would be homeless; "
                       "add home_when to the tenants whose users you can recognise");
        return 0;
    }
    if (c->op != COND_HOME)
        return 0;
    if (!c->nvalues && !hc->tenant->home_when.cond)
        rule_error(hc->ps, hc->rule->src, c->offset,
                   "home: [tenant %s] has no home_when, so nobody's home is known there; add "
                   "e.g. home_when = extensionAttribute1 = %s", hc->tenant->name, hc->tenant->name);
    for (size_t i = 0; i < c->nvalues; i++) {
        const struct tenant_config *o = config_tenant(cfg, c->values[i]);
        if (!o) {
            struct strbuf names = STRBUF_INIT;
            for (size_t k = 0; k < cfg->ntenants; k++)
                strbuf_addf(&names, "%s%s", k ? ", " : "", cfg->tenants[k].name);
            rule_error(hc->ps, hc->rule->src, c->value_offsets[i],
                       "home %s: there is no [tenant %s] (tenants: %s)", c->values[i], c->values[i],
                       strbuf_str(&names));
            strbuf_release(&names);
        } else if (!o->home_when.cond) {
            rule_error(hc->ps, hc->rule->src, c->value_offsets[i],
                       "home %s: [tenant %s] has no home_when, so nobody's home is known there",
                       c->values[i], o->name);
        }
    }
    return 0;
}

/* Checks that need every tenant: home references, and the defaults that
 * depend on [dualsync] (which may come after the tenants). */
static void tenants_finish(struct parse_state *ps)
{
    struct config *cfg = ps->cfg;
    for (size_t i = 0; i < cfg->ntenants; i++) {
        struct tenant_config *t = &cfg->tenants[i];
        const struct cond *bad = find_home(t->home_when.cond);
        if (bad)
            rule_error(ps, t->home_when.src, bad->offset,
                       "home_when cannot use home or homeless: it is what defines them");
        for (size_t r = 0; r < t->nrules; r++) {
            struct home_check hc = { ps, t, &t->rules[r] };
            cond_walk(t->rules[r].cond, check_home_refs, &hc);
        }
        if (!t->mapping_file)
            t->mapping_file = xasprintf("%s/%s.map", cfg->mappings_dir, t->name);
        if (!t->redirect_url && t->tenant_id) {
            /* where the user lands after redeeming: My Apps of the tenant's own cloud */
            if (t->cloud == CLOUD_GLOBAL)
                t->redirect_url = xasprintf("https://myapps.microsoft.com/?tenantid=%s", t->tenant_id);
            else if (t->cloud == CLOUD_USGOV_HIGH || t->cloud == CLOUD_USGOV_DOD)
                t->redirect_url = xasprintf("https://myapps.microsoft.us/?tenantid=%s", t->tenant_id);
            else
                log_error("%s:%d: [tenant %s] cloud = china needs redirect_url (there is no "
                          "default for 21Vianet)", cfg->path, t->line, t->name), ps->errors++;
        }
        for (size_t j = 0; j < i; j++)
            if (!strcmp(cfg->tenants[j].mapping_file, t->mapping_file))
                log_error("%s:%d: [tenant %s] and [tenant %s] share the mapping file %s; give "
                          "each its own mapping_file", cfg->path, t->line, cfg->tenants[j].name,
                          t->name, t->mapping_file), ps->errors++;
    }
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
    struct parse_state *ps = user;
    if (!name)  /* a section header on its own */
        return 1;
    /* A continuation line: inih hands us the key above it again, with the whole
     * stripped line as the value (a key line's value starts after its '='). */
    if (ps->long_line)
        value = long_value_for(ps, value);
    size_t lead = strspn(strbuf_str(&ps->raw), " \t");
    if (ps->indented && value_col(ps, value) == lead) {
        if (ps->pending.key != TK_COUNT) {
            /* inih strips " ;comment" from key lines but not from continuations */
            char *v = xstrdup(value);
            for (char *c = v; *c; c++)
                if (*c == ';' && c > v && (c[-1] == ' ' || c[-1] == '\t')) {
                    *c = '\0';
                    break;
                }
            size_t n = strlen(v);
            while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
                v[--n] = '\0';
            pending_add(ps, value, v);
            free(v);
            return 1;
        }
        return conf_error(ps, "this indented line would continue '%s' above it; only rule and "
                              "home_when go on over several lines: remove the indentation", name);
    }
    pending_finish(ps);
    ps->key_in_section = true;
    if (is_tenant_section(section))
        return tenant_key(ps, name, value);
    if (!strcmp(section, "ldap")) {
        ps->saw_ldap = true;
        return ldap_key(ps, name, value);
    }
    if (!strcmp(section, "dualsync"))
        return general_key(ps, name, value);
    if (!*section)
        return conf_error(ps, "key '%s' outside any section", name);
    return conf_error(ps, "unknown section [%s]", section);
}

static int validate(struct parse_state *ps)
{
    struct ldap_config *l = &ps->cfg->ldap;
    const char *f = ps->cfg->path;
    if (!ps->saw_ldap)
        return log_error("%s: no [ldap] section; see dualsync.conf(5)", f);
    if (!l->uri)
        return log_error("%s: [ldap] uri is missing", f);
    if (!l->scope.nbase_dns)
        return log_error("%s: [ldap] base_dn is missing (one line per base DN)", f);
    if (l->bind == LDAP_BIND_SIMPLE && !l->bind_dn)
        return log_error("%s: [ldap] bind = simple needs bind_dn", f);
    if (l->bind == LDAP_BIND_SIMPLE && !l->password_file && !l->password_env)
        return log_error("%s: [ldap] bind = simple needs password_file or password_env", f);
    if (l->bind == LDAP_BIND_EXTERNAL && (!l->client_cert || !l->client_key))
        return log_error("%s: [ldap] bind = external needs client_cert and client_key", f);
    if (l->keytab && !l->principal)
        return log_error("%s: [ldap] keytab needs principal (e.g. svc-dualsync@CORP.EXAMPLE)", f);
    return 0;
}

int config_load(const char *path, struct config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->path = xstrdup(path);
    cfg->mappings_dir = xstrdup("mappings");
    struct ldap_config *l = &cfg->ldap;
    l->bind = LDAP_BIND_GSSAPI;
    l->starttls = true;
    l->page_size = 1000;
    l->timeout = 30;
    for (int c = 0; c < AD_CLASS_COUNT; c++)
        l->scope.classes[c] = true;

    struct parse_state ps = { .cfg = cfg };
    ps.pending.key = TK_COUNT;
    ps.f = fopen(path, "r");
    if (!ps.f)
        return log_error("cannot read config %s: %s", path, strerror(errno));
    int rc = ini_parse_stream(reader, &ps, handler, &ps);
    fclose(ps.f);
    pending_finish(&ps);
    section_end(&ps);
    if (rc >= 0)
        tenants_finish(&ps);
    strbuf_release(&ps.pending.text);
    strbuf_release(&ps.raw);
    free(ps.base_dn_lines);
    strbuf_release(&ps.long_key);
    strbuf_release(&ps.long_cont);
    if (rc > 0) {   /* inih returns the line of its first syntax error: report it too */
        ps.line = rc;
        conf_error(&ps, "syntax error (expected [section], key = value, or a ; comment)");
    }
    if (rc < 0)
        return log_error("cannot parse config %s", path);
    if (ps.errors)
        return log_error("%s: %d error%s; nothing was done", path, ps.errors, ps.errors > 1 ? "s" : "");
    return validate(&ps);
}

struct tenant_config *config_tenant(const struct config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->ntenants; i++)
        if (!strcasecmp(cfg->tenants[i].name, name))
            return &cfg->tenants[i];
    return NULL;
}

void config_free(struct config *cfg)
{
    struct ldap_config *l = &cfg->ldap;
    free(cfg->path);
    free(cfg->mappings_dir);
    free(l->uri);
    free(l->ca_file);
    free(l->bind_dn);
    free(l->password_file);
    free(l->password_env);
    free(l->keytab);
    free(l->principal);
    free(l->client_cert);
    free(l->client_key);
    free(l->watermark_file);
    for (size_t i = 0; i < l->nattributes; i++)
        free(l->attributes[i]);
    free(l->attributes);
    for (size_t i = 0; i < l->nwatch_groups; i++)
        free(l->watch_groups[i]);
    free(l->watch_groups);
    scope_clear(&l->scope);
    for (size_t i = 0; i < cfg->ntenants; i++)
        tenant_free(&cfg->tenants[i]);
    free(cfg->tenants);
    memset(cfg, 0, sizeof(*cfg));
}
