/* connect_export.c - read the folder Get-ADSyncServerConfiguration writes,
 * with libxml2 (connect_config.h). Only this file knows XML; the judging is
 * in connect_judge.c.
 *
 * The format is what the Connect server writes, as the public exports in
 * microsoft/AADConnectConfigDocumenter (src/SolutionOutput/Data/Contoso) show
 * it: <ma-data> per connector, <synchronizationRule> per rule, and the
 * metaverse's <saved-mv-configuration> whose <parameter-values> are the
 * global settings. Elements dualsync does not use are skipped, so a newer
 * export with more of them still reads; a root element or a format-version
 * dualsync does not know is refused, with the file and line. */
#include "compat.h"

#include <limits.h>
#include <stdarg.h>
#include <libxml/parser.h>
#include <libxml/SAX2.h>
#include <libxml/tree.h>
#include <strings.h>

#include "connect_config.h"
#include "log.h"
#include "platform.h"
#include "util.h"

/* The only format-version Connect has written, in <ma-data> and <mv-data>. */
#define FORMAT_VERSION "1"

struct reader {
    const char *dir;
    struct connect_export *ex;
    int errors;
};

static bool named(const xmlNode *n, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, name);
}

static const xmlNode *child(const xmlNode *n, const char *name)
{
    for (const xmlNode *c = n ? n->children : NULL; c; c = c->next)
        if (named(c, name))
            return c;
    return NULL;
}

/* The trimmed text of n, or NULL when n is NULL or empty. Caller frees. */
static char *text(const xmlNode *n)
{
    if (!n)
        return NULL;
    xmlChar *t = xmlNodeGetContent(n);
    if (!t)
        return NULL;
    const char *s = (const char *)t;
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    size_t len = strlen(s);
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r' || s[len - 1] == '\n'))
        len--;
    char *out = len ? xstrndup(s, len) : NULL;
    xmlFree(t);
    return out;
}

static char *child_text(const xmlNode *n, const char *name)
{
    return text(child(n, name));
}

static void lower(char *s)
{
    for (; s && *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
}

static void push(char ***list, size_t *n, char *s)
{
    if (!s)
        return;
    *list = xrealloc(*list, (*n + 1) * sizeof(**list));
    (*list)[(*n)++] = s;
}

static int fail(struct reader *r, const char *file, const xmlNode *n, const char *fmt, ...) ATTR_PRINTF(4, 5);

static int fail(struct reader *r, const char *file, const xmlNode *n, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_error("%s:%ld: %s", file, n ? (long)xmlGetLineNo(n) : 0L, msg);
    r->errors++;
    return -1;
}

/* What one parse saw, in its context's _private. */
struct parse_state {
    int doctype_line;       /* a <!DOCTYPE> began here; 0: none */
    char first[256];        /* libxml2's first error, and its line */
    int first_line;
};

/* Connect never writes a <!DOCTYPE>. Whatever one declares is refused as it
 * starts, before its subset is read: an external DTD or entity would name a
 * file or a URL to read, and internal entities can make a small file
 * gigabytes of text (each reference is expanded again wherever a text is
 * read, so libxml2's limits on the parse do not bound it). */
static void refuse_doctype(void *vctx, const xmlChar *name, const xmlChar *public_id, const xmlChar *system_id)
{
    (void)name, (void)public_id, (void)system_id;
    xmlParserCtxt *ctx = vctx;
    struct parse_state *st = ctx->_private;
    if (!st->doctype_line)
        st->doctype_line = xmlSAX2GetLineNumber(ctx);
    xmlStopParser(ctx);
}

/* Every libxml2 error comes here rather than to stderr (some, such as an
 * over-long text, it would print with the offending line of the file, as
 * it is); the first one is what the message names. */
static void keep_first_error(void *vctx, xmlError *e)
{
    xmlParserCtxt *ctx = vctx;
    struct parse_state *st = ctx && ctx->_private ? ctx->_private : NULL;
    if (!st || !e || st->first[0] || e->level < XML_ERR_ERROR)
        return;
    snprintf(st->first, sizeof(st->first), "%s", e->message ? e->message : "not XML");
    size_t len = strlen(st->first);
    while (len && st->first[len - 1] == '\n')
        st->first[--len] = '\0';
    st->first_line = e->line;
}

/* Parse path, or DATA, LEN as read from it when DATA is not NULL (the
 * fuzzer, tests); NULL after logging what was wrong with its line. */
static xmlDoc *parse(struct reader *r, const char *path, const char *data, size_t len)
{
    xmlParserCtxt *ctx = xmlNewParserCtxt();
    if (!ctx)
        abort();
    struct parse_state st = { 0 };
    ctx->_private = &st;
    ctx->sax->internalSubset = refuse_doctype;
    ctx->sax->serror = keep_first_error;
    /* no network, no entity substitution, no DTD loading: the file is data */
    const int options = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING;
    xmlDoc *doc;
    if (!data)
        doc = xmlCtxtReadFile(ctx, path, NULL, options);
    else if (len <= INT_MAX)
        doc = xmlCtxtReadMemory(ctx, data, (int)len, path, NULL, options);
    else
        doc = NULL, snprintf(st.first, sizeof(st.first), "larger than 2 GB");
    if (st.doctype_line) {
        xmlFreeDoc(doc);
        doc = NULL;
        log_error("%s:%d: a <!DOCTYPE>, which Connect's export never has: dualsync reads no DTD and no "
                  "entity; export the configuration again (Get-ADSyncServerConfiguration -Path DIR)",
                  path, st.doctype_line);
        r->errors++;
    } else if (!doc) {
        const xmlError *e = xmlCtxtGetLastError(ctx);
        if (!st.first[0] && e && e->message)
            keep_first_error(ctx, (xmlError *)e);
        log_error("%s:%d: damaged export file: %s; export the configuration again "
                  "(Get-ADSyncServerConfiguration -Path DIR)", path, st.first[0] ? st.first_line : 0,
                  st.first[0] ? st.first : "not XML");
        r->errors++;
    }
    xmlFreeParserCtxt(ctx);
    return doc;
}

static int check_format(struct reader *r, const char *path, const xmlNode *root)
{
    const xmlNode *fv = child(root, "format-version");
    char *v = text(fv);
    int rc = 0;
    if (v && strcmp(v, FORMAT_VERSION))
        rc = fail(r, path, fv, "format-version %s is not one dualsync knows (1): an export from a "
                  "newer Connect; tell the dualsync maintainers, with this file", v);
    free(v);
    return rc;
}

/* --------------------------------------------------------------- rules */

static void read_scope(const xmlNode *criteria, struct connect_rule *rule)
{
    for (const xmlNode *c = criteria ? criteria->children : NULL; c; c = c->next) {
        if (!named(c, "conditions"))
            continue;
        struct connect_group g = { 0 };
        for (const xmlNode *s = c->children; s; s = s->next) {
            if (!named(s, "scope"))
                continue;
            g.clauses = xrealloc(g.clauses, (g.nclauses + 1) * sizeof(*g.clauses));
            struct connect_clause *cl = &g.clauses[g.nclauses++];
            cl->attr = child_text(s, "csAttribute");
            cl->op = child_text(s, "csOperator");
            cl->value = child_text(s, "csValue");
            if (!cl->attr)
                cl->attr = xstrdup("");
            if (!cl->op)
                cl->op = xstrdup("");
        }
        rule->groups = xrealloc(rule->groups, (rule->ngroups + 1) * sizeof(*rule->groups));
        rule->groups[rule->ngroups++] = g;
    }
}

static void read_flows(const xmlNode *mappings, struct connect_rule *rule)
{
    for (const xmlNode *m = mappings ? mappings->children : NULL; m; m = m->next) {
        if (!named(m, "mapping"))
            continue;
        struct connect_flow f = { 0 };
        f.dest = child_text(m, "dest");
        f.expression = child_text(m, "expression");
        const xmlNode *src = child(m, "src");
        bool attrs = false;
        for (const xmlNode *a = src ? src->children : NULL; a; a = a->next)
            if (named(a, "attr")) {
                push(&f.src, &f.nsrc, text(a));
                attrs = true;
            }
        /* <src>True</src>: a constant (the documenter's "Constant" flow type) */
        if (src && !attrs && !f.expression)
            f.constant = text(src);
        if (!f.dest)
            f.dest = xstrdup("");
        rule->flows = xrealloc(rule->flows, (rule->nflows + 1) * sizeof(*rule->flows));
        rule->flows[rule->nflows++] = f;
    }
}

static void read_rule(struct reader *r, const char *path, const char *data, size_t len)
{
    xmlDoc *doc = parse(r, path, data, len);
    if (!doc)
        return;
    const xmlNode *root = xmlDocGetRootElement(doc);
    if (!named(root, "synchronizationRule")) {
        fail(r, path, root, "not a synchronization rule (root element <%s>); export the configuration "
             "again", root ? (const char *)root->name : "none");
        xmlFreeDoc(doc);
        return;
    }
    struct connect_rule rule = { 0 };
    rule.file = xstrdup(path);
    rule.line = (int)xmlGetLineNo(root);
    rule.id = child_text(root, "id");
    lower(rule.id);
    rule.name = child_text(root, "name");
    rule.connector = child_text(root, "connector");
    lower(rule.connector);
    rule.source_type = child_text(root, "sourceObjectType");
    rule.target_type = child_text(root, "targetObjectType");
    rule.link_type = child_text(root, "linkType");
    char *dir = child_text(root, "direction");
    rule.outbound = dir && !strcasecmp(dir, "Outbound");
    char *dis = child_text(root, "disabled");
    rule.disabled = dis && !strcasecmp(dis, "True");
    const xmlNode *pn = child(root, "precedence");
    char *prec = text(pn);
    if (!rule.name || !rule.connector || !dir || !prec || parse_int(prec, 0, 1000000000, &rule.precedence))
        fail(r, path, pn ? pn : root, "a synchronization rule without a name, direction, connector or "
             "a numeric precedence; export the configuration again");
    if (dir && strcasecmp(dir, "Outbound") && strcasecmp(dir, "Inbound"))
        fail(r, path, child(root, "direction"), "direction '%s' is neither Inbound nor Outbound", dir);
    free(dir);
    free(dis);
    free(prec);
    if (!rule.name)
        rule.name = xstrdup("(unnamed)");
    if (!rule.connector)
        rule.connector = xstrdup("");
    read_flows(child(root, "attribute-mappings"), &rule);
    read_scope(child(root, "synchronizationCriteria"), &rule);
    struct connect_export *ex = r->ex;
    ex->rules = xrealloc(ex->rules, (ex->nrules + 1) * sizeof(*ex->rules));
    ex->rules[ex->nrules++] = rule;
    xmlFreeDoc(doc);
}

/* ---------------------------------------------------------- connectors */

static void read_list(const xmlNode *parent, const char *name, char ***list, size_t *n)
{
    for (const xmlNode *c = parent ? parent->children : NULL; c; c = c->next)
        if (named(c, name))
            push(list, n, text(c));
}

static void read_partitions(const xmlNode *data, struct connect_connector *c)
{
    for (const xmlNode *p = data ? data->children : NULL; p; p = p->next) {
        if (!named(p, "partition"))
            continue;
        struct connect_partition part = { 0 };
        part.name = child_text(p, "name");
        char *sel = child_text(p, "selected");
        part.selected = sel && !strcmp(sel, "1");
        free(sel);
        const xmlNode *filter = child(p, "filter");
        const xmlNode *containers = child(filter, "containers");
        read_list(child(containers, "inclusions"), "inclusion", &part.inclusions, &part.ninclusions);
        read_list(child(containers, "exclusions"), "exclusion", &part.exclusions, &part.nexclusions);
        read_list(child(filter, "object-classes"), "object-class", &part.classes, &part.nclasses);
        if (!part.name)
            part.name = xstrdup("");
        c->partitions = xrealloc(c->partitions, (c->npartitions + 1) * sizeof(*c->partitions));
        c->partitions[c->npartitions++] = part;
    }
}

/* The Entra connector's account: <MAConfig><parameter-values><parameter
 * name="UserName">, the tenant it exports to (connect_tenant.c). The
 * <parameter-definitions> beside it name the parameter without a value. */
static void read_account(const xmlNode *maconfig, struct connect_connector *c)
{
    for (const xmlNode *p = child(child(maconfig, "parameter-values"), "parameter"); p; p = p->next) {
        if (!named(p, "parameter"))
            continue;
        xmlChar *name = xmlGetProp(p, (const xmlChar *)"name");
        bool user = name && !strcasecmp((const char *)name, "UserName");
        xmlFree(name);
        if (user && !c->account) {
            c->account = text(p);
            c->account_line = c->account ? (int)xmlGetLineNo(p) : 0;
        }
    }
}

static void read_connector(struct reader *r, const char *path, const char *data, size_t len)
{
    xmlDoc *doc = parse(r, path, data, len);
    if (!doc)
        return;
    const xmlNode *root = xmlDocGetRootElement(doc);
    if (!named(root, "ma-data")) {
        fail(r, path, root, "not a connector (root element <%s>); export the configuration again",
             root ? (const char *)root->name : "none");
        xmlFreeDoc(doc);
        return;
    }
    if (check_format(r, path, root)) {
        xmlFreeDoc(doc);
        return;
    }
    struct connect_connector c = { 0 };
    c.file = xstrdup(path);
    c.id = child_text(root, "id");
    lower(c.id);
    c.name = child_text(root, "name");
    char *cat = child_text(root, "category");
    char *sub = child_text(root, "subtype");
    /* the AD connector is of category AD; the Entra one is an extensible
     * connector whose subtype names (Windows) Azure Active Directory */
    if (cat && !strcasecmp(cat, "AD"))
        c.kind = CONNECT_AD;
    else if (sub && (strstr(sub, "Azure Active Directory") || strstr(sub, "Entra")))
        c.kind = CONNECT_ENTRA;
    free(cat);
    free(sub);
    if (!c.id || !c.name)
        fail(r, path, root, "a connector without an id or a name; export the configuration again");
    if (!c.id)
        c.id = xstrdup("");
    if (!c.name)
        c.name = xstrdup("(unnamed)");
    if (c.kind == CONNECT_ENTRA)
        read_account(child(child(root, "private-configuration"), "MAConfig"), &c);
    read_partitions(child(root, "ma-partition-data"), &c);
    read_list(child(root, "attribute-inclusion"), "attribute", &c.attributes, &c.nattributes);
    struct connect_export *ex = r->ex;
    ex->connectors = xrealloc(ex->connectors, (ex->nconnectors + 1) * sizeof(*ex->connectors));
    ex->connectors[ex->nconnectors++] = c;
    xmlFreeDoc(doc);
}

/* ------------------------------------------------------- global settings */

static void read_parameters(struct reader *r, const char *path, const xmlNode *pv)
{
    struct connect_export *ex = r->ex;
    for (const xmlNode *p = pv ? pv->children : NULL; p; p = p->next) {
        if (!named(p, "parameter"))
            continue;
        xmlChar *name = xmlGetProp(p, (const xmlChar *)"name");
        if (!name)
            continue;
        ex->settings = xrealloc(ex->settings, (ex->nsettings + 1) * sizeof(*ex->settings));
        struct connect_setting *s = &ex->settings[ex->nsettings++];
        s->name = xstrdup((const char *)name);
        s->value = text(p);
        s->file = xstrdup(path);
        s->line = (int)xmlGetLineNo(p);
        xmlFree(name);
    }
}

/* Connect 1.x and 2.x: dualsync knows what their rules and settings mean. */
static void check_server_version(struct reader *r)
{
    const struct connect_setting *v = connect_setting(r->ex, "Microsoft.Synchronize.ServerConfigurationVersion");
    if (!v || !v->value)
        return;
    int major = 0;
    char buf[16];
    snprintf(buf, sizeof(buf), "%.*s", (int)strcspn(v->value, "."), v->value);
    if (parse_int(buf, 0, 1000, &major) || major < 1 || major > 2) {
        log_error("%s:%d: Connect server configuration version %s is not one dualsync knows (1.x, 2.x); "
                  "dualsync cannot tell what its rules mean: tell the dualsync maintainers, with this export",
                  v->file, v->line, v->value);
        r->errors++;
    }
}

static void read_settings(struct reader *r, const char *path, const char *data, size_t len)
{
    xmlDoc *doc = parse(r, path, data, len);
    if (!doc)
        return;
    const xmlNode *root = xmlDocGetRootElement(doc);
    if (named(root, "saved-mv-configuration")) {
        xmlChar *server = xmlGetProp(root, (const xmlChar *)"server");
        if (server && !r->ex->server)
            r->ex->server = xstrdup((const char *)server);
        xmlFree(server);
        const xmlNode *mv = child(root, "mv-data");
        if (!check_format(r, path, mv))
            read_parameters(r, path, child(mv, "parameter-values"));
    }
    /* other files in GlobalSettings (newer servers add some) are tolerated */
    xmlFreeDoc(doc);
}

/* ------------------------------------------------------------ the folder */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The .xml files of DIR/sub, sorted (the order of messages and of equal
 * precedences must not depend on the file system). -1 if there is no such
 * folder. The platform lists it: on Windows a folder name outside the ANSI
 * code page (a path under a user's profile) is read whole. */
static int list_xml(const char *dir, const char *sub, char ***files, size_t *n)
{
    char *path = xasprintf("%s/%s", dir, sub);
    char **names;
    size_t count;
    *files = NULL;
    *n = 0;
    if (platform_list_dir(path, &names, &count)) {
        free(path);
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        size_t len = strlen(names[i]);
        if (len > 4 && !strcasecmp(names[i] + len - 4, ".xml"))
            push(files, n, xasprintf("%s/%s", path, names[i]));
        free(names[i]);
    }
    free(names);
    free(path);
    if (*n)
        qsort(*files, *n, sizeof(**files), cmp_str);
    return 0;
}

static void free_list(char **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

/* The folders of an export, and the reader of a file in each. */
static const struct {
    const char *sub;
    void (*read)(struct reader *, const char *path, const char *data, size_t len);
    bool required;
} parts[] = {
    { "Connectors", read_connector, true },
    { "SynchronizationRules", read_rule, true },
    { "GlobalSettings", read_settings, false },
};

int connect_export_read_buffer(struct connect_export *ex, const char *part, const char *path, const char *data,
                               size_t len)
{
    struct reader r = { ex->dir, ex, 0 };
    xmlInitParser();
    for (size_t p = 0; p < ARRAY_SIZE(parts); p++)
        if (!strcmp(parts[p].sub, part)) {
            parts[p].read(&r, path, data, len);
            return r.errors ? -1 : 0;
        }
    return log_error("%s: not a folder of an export (Connectors, SynchronizationRules, GlobalSettings)", part);
}

int connect_export_load(const char *dir, struct connect_export *ex)
{
    memset(ex, 0, sizeof(*ex));
    ex->dir = xstrdup(dir);
    struct reader r = { dir, ex, 0 };
    xmlInitParser();
    for (size_t p = 0; p < ARRAY_SIZE(parts); p++) {
        char **files;
        size_t n;
        if (list_xml(dir, parts[p].sub, &files, &n)) {
            if (parts[p].required && !r.errors) {   /* one message for a folder that is no export */
                log_error("%s: no %s folder: not a folder Get-ADSyncServerConfiguration wrote; on the "
                          "Connect server run Get-ADSyncServerConfiguration -Path DIR and give dualsync DIR",
                          dir, parts[p].sub);
            }
            r.errors += parts[p].required;
            continue;
        }
        for (size_t i = 0; i < n; i++)
            parts[p].read(&r, files[i], NULL, 0);
        free_list(files, n);
    }
    check_server_version(&r);
    if (!r.errors && !ex->nrules)
        log_error("%s: no synchronization rules in SynchronizationRules/: not a whole export; export the "
                  "configuration again", dir), r.errors++;
    return r.errors ? -1 : 0;
}
