#include "compat.h"

#include <errno.h>
#include <stdarg.h>
#include <ini.h>
#include <strings.h>

#include "config.h"
#include "log.h"
#include "util.h"

/* inih's handler gets no line number, so the reader it calls counts lines
 * for us: when the handler runs, `line` is the line it is looking at. */
struct parse_state {
    FILE *f;
    struct config *cfg;
    int line;
    int errors;
    bool saw_ldap;
};

static int conf_error(struct parse_state *ps, const char *fmt, ...) ATTR_PRINTF(2, 3);

static char *reader(char *buf, int size, void *stream)
{
    struct parse_state *ps = stream;
    char *r = fgets(buf, size, ps->f);
    if (!r)
        return NULL;
    ps->line++;
    size_t len = strlen(buf);
    if (len && buf[len - 1] != '\n' && !feof(ps->f)) {
        /* inih reads at most size-1 characters a line: say so rather than
         * silently treating the rest as a line of its own */
        int c;
        while ((c = fgetc(ps->f)) != EOF && c != '\n')
            ;
        conf_error(ps, "line longer than %d characters; put list values (base_dn, "
                       "include_ou, ...) one per line", size - 2);
        buf[0] = '\0';
    }
    return r;
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
    case K_PASSWORD_FILE: set_str(&l->password_file, v); break;
    case K_PASSWORD_ENV: set_str(&l->password_env, v); break;
    case K_KEYTAB: set_str(&l->keytab, v); break;
    case K_PRINCIPAL: set_str(&l->principal, v); break;
    case K_CLIENT_CERT: set_str(&l->client_cert, v); break;
    case K_CLIENT_KEY: set_str(&l->client_key, v); break;
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
    case K_BASE_DN: list_add(&s->base_dns, &s->nbase_dns, v); break;
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

static int handler(void *user, const char *section, const char *name, const char *value)
{
    struct parse_state *ps = user;
    if (!name)  /* a section header on its own */
        return 1;
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
    ps.f = fopen(path, "r");
    if (!ps.f)
        return log_error("cannot read config %s: %s", path, strerror(errno));
    int rc = ini_parse_stream(reader, &ps, handler, &ps);
    fclose(ps.f);
    if (rc > 0 && !ps.errors) {
        ps.line = rc;
        conf_error(&ps, "syntax error (expected [section], key = value, or a ; comment)");
    }
    if (rc < 0)
        return log_error("cannot parse config %s", path);
    if (ps.errors)
        return log_error("%s: %d error%s; nothing was done", path, ps.errors, ps.errors > 1 ? "s" : "");
    return validate(&ps);
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
    scope_clear(&l->scope);
    memset(cfg, 0, sizeof(*cfg));
}
