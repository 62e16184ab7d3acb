/* cmd_pull.c - `dualsync pull` and the LDAP part of `dualsync check`. */
#include "compat.h"

#include <errno.h>
#include <unistd.h>

#include "adobject.h"
#include "cli.h"
#include "commands.h"
#include "config.h"
#include "ldap_source.h"
#include "log.h"
#include "platform.h"
#include "report.h"
#include "util.h"

/* Counts per container DN: an open-addressing table, since a forest may have
 * thousands of OUs and the summary must not cost O(objects × OUs). */
struct ou_count {
    char *dn;
    uint64_t n[AD_CLASS_COUNT];
};

struct summary {
    uint64_t by_class[AD_CLASS_COUNT];
    uint64_t disabled_users, no_consistency_guid, bad_consistency_guid, deleted, left_scope;
    struct ou_count *ous;
    size_t nous, cap;
};

static uint64_t hash_dn(const char *s)
{
    uint64_t h = 1469598103934665603ull;   /* FNV-1a over the lowercased DN */
    for (; *s; s++)
        h = (h ^ (unsigned char)(*s >= 'A' && *s <= 'Z' ? *s + 32 : *s)) * 1099511628211ull;
    return h;
}

static struct ou_count *ou_slot(struct summary *sm, const char *dn)
{
    if (sm->nous * 2 >= sm->cap) {
        size_t cap = sm->cap ? sm->cap * 2 : 64;
        struct ou_count *t = xcalloc(cap, sizeof(*t));
        for (size_t i = 0; i < sm->cap; i++) {
            if (!sm->ous[i].dn)
                continue;
            size_t j = hash_dn(sm->ous[i].dn) & (cap - 1);
            while (t[j].dn)
                j = (j + 1) & (cap - 1);
            t[j] = sm->ous[i];
        }
        free(sm->ous);
        sm->ous = t;
        sm->cap = cap;
    }
    size_t j = hash_dn(dn) & (sm->cap - 1);
    while (sm->ous[j].dn && strcasecmp(sm->ous[j].dn, dn))
        j = (j + 1) & (sm->cap - 1);
    if (!sm->ous[j].dn) {
        sm->ous[j].dn = xstrdup(dn);
        sm->nous++;
    }
    return &sm->ous[j];
}

struct pull_ctx {
    const struct cli *cli;
    struct summary sm;
    struct progress *progress;
    uint64_t seen;
    struct strbuf line;   /* the ndjson line being built, reused */
    struct strbuf *out;   /* -o FILE: the whole output, written once complete;
                           * NULL: stdout, line by line */
};

/* Written straight into the line buffer with the JSON string writer all of
 * dualsync's JSON shares (report.h): a cJSON tree per object doubled the cost
 * of a pull. */
static void json_key(struct strbuf *sb, const char *key)
{
    strbuf_addch(sb, ',');
    report_json_str(sb, key);
    strbuf_addch(sb, ':');
}

static void json_kv(struct strbuf *sb, const char *key, const char *value)
{
    json_key(sb, key);
    report_json_str(sb, value);
}

static void print_ndjson(struct strbuf *sb, const struct ad_object *o, struct strbuf *out)
{
    char guid[37];
    enum ad_anchor_source src;
    const unsigned char *anchor = ad_object_anchor(o, &src);
    char *immutable_id = ad_immutable_id(anchor);
    ad_guid_to_text(o->guid, guid);
    strbuf_reset(sb);
    strbuf_addstr(sb, "{\"dn\":");
    report_json_str(sb, o->dn);
    json_kv(sb, "class", ad_class_name(o->cls));
    json_kv(sb, "objectGUID", guid);
    json_kv(sb, "immutableId", immutable_id);
    json_kv(sb, "anchorSource", src == AD_ANCHOR_CONSISTENCY_GUID ? "mS-DS-ConsistencyGuid" : "objectGUID");
    if (o->sid)
        json_kv(sb, "objectSid", o->sid);
    strbuf_addf(sb, ",\"disabled\":%s,\"deleted\":%s,\"inScope\":%s,\"uSNChanged\":%llu",
                o->disabled ? "true" : "false", o->deleted ? "true" : "false",
                o->in_scope ? "true" : "false", (unsigned long long)o->usn_changed);
    if (o->when_changed)
        json_kv(sb, "whenChanged", o->when_changed);
    if (o->deleted)
        json_kv(sb, "lastKnownParent", o->parent_dn);
    strbuf_addstr(sb, ",\"attributes\":{");
    for (size_t i = 0; i < o->nattrs; i++) {
        const struct ad_attr *a = &o->attrs[i];
        if (i)
            strbuf_addch(sb, ',');
        report_json_str(sb, a->name);
        strbuf_addch(sb, ':');
        /* one value: a string; several: an array */
        if (a->nvals == 1) {
            report_json_str(sb, a->vals[0]);
            continue;
        }
        strbuf_addch(sb, '[');
        for (size_t j = 0; j < a->nvals; j++) {
            if (j)
                strbuf_addch(sb, ',');
            report_json_str(sb, a->vals[j]);
        }
        strbuf_addch(sb, ']');
    }
    strbuf_addstr(sb, "}}\n");
    if (out)
        strbuf_add(out, sb->buf, sb->len);
    else
        fwrite(sb->buf, 1, sb->len, stdout);
    free(immutable_id);
}

static int on_object(const struct ad_object *o, void *vctx)
{
    struct pull_ctx *ctx = vctx;
    struct summary *sm = &ctx->sm;
    ctx->seen++;
    progress_update(ctx->progress, ctx->seen);
    if (ctx->cli->format == FORMAT_NDJSON) {
        print_ndjson(&ctx->line, o, ctx->out);
        if (ferror(stdout))
            return log_error("cannot write to standard output: %s", strerror(errno));
    }
    if (o->deleted && o->in_scope) {
        sm->deleted++;
        return 0;
    }
    if (!o->in_scope) {
        sm->left_scope++;
        return 0;
    }
    sm->by_class[o->cls]++;
    ou_slot(sm, o->parent_dn)->n[o->cls]++;
    if (o->cls == AD_CLASS_USER && o->disabled)
        sm->disabled_users++;
    if (o->cls != AD_CLASS_GROUP && !o->has_consistency_guid)
        sm->no_consistency_guid++;
    if (o->bad_consistency_guid)
        sm->bad_consistency_guid++;
    return 0;
}

static int cmp_ou(const void *a, const void *b)
{
    const struct ou_count *x = a, *y = b;
    return strcasecmp(x->dn, y->dn);
}

static void print_summary(struct summary *sm, const struct ldap_pull_stats *st, struct strbuf *out)
{
    strbuf_addf(out, "pull: %s, %llu objects read in %llu pages (%llu ranged reads)\n",
                st->delta ? "delta" : "full", (unsigned long long)st->objects,
                (unsigned long long)st->pages, (unsigned long long)st->ranged_fetches);
    strbuf_addf(out, "  users     %8llu  (disabled %llu)\n", (unsigned long long)sm->by_class[AD_CLASS_USER],
                (unsigned long long)sm->disabled_users);
    strbuf_addf(out, "  contacts  %8llu\n", (unsigned long long)sm->by_class[AD_CLASS_CONTACT]);
    strbuf_addf(out, "  groups    %8llu\n", (unsigned long long)sm->by_class[AD_CLASS_GROUP]);
    strbuf_addf(out, "  without mS-DS-ConsistencyGuid (anchor from objectGUID): %llu\n",
                (unsigned long long)sm->no_consistency_guid);
    if (sm->bad_consistency_guid)
        strbuf_addf(out, "  with a malformed mS-DS-ConsistencyGuid (not 16 bytes): %llu\n",
                    (unsigned long long)sm->bad_consistency_guid);
    if (st->delta)
        strbuf_addf(out, "  deleted   %8llu\n  changed outside the scope (left it, or never in it) %llu\n", (unsigned long long)sm->deleted,
                    (unsigned long long)sm->left_scope);
    /* compact the table, then sort it by DN for a stable listing */
    size_t n = 0;
    for (size_t i = 0; i < sm->cap; i++)
        if (sm->ous[i].dn)
            sm->ous[n++] = sm->ous[i];
    sort_array(sm->ous, n, sizeof(*sm->ous), cmp_ou);
    if (n)
        strbuf_addf(out, "by container:%*s users contacts   groups\n", 1, "");
    /* the summary is for a terminal: a container's DN comes from AD */
    for (size_t i = 0; i < n; i++) {
        strbuf_addf(out, "  %8llu %8llu %8llu  ", (unsigned long long)sm->ous[i].n[AD_CLASS_USER],
                    (unsigned long long)sm->ous[i].n[AD_CLASS_CONTACT],
                    (unsigned long long)sm->ous[i].n[AD_CLASS_GROUP]);
        term_safe(out, sm->ous[i].dn);
        strbuf_addch(out, '\n');
    }
    sm->nous = n;
    sm->cap = n;
}

static void summary_free(struct summary *sm)
{
    for (size_t i = 0; i < sm->cap; i++)
        free(sm->ous[i].dn);
    free(sm->ous);
}

/* The watermark file holds one line, "usn:<invocationId>:<usn>". */
static int load_watermark(const char *path, struct ldap_watermark *wm, bool *have)
{
    *have = false;
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT)
            return 0;
        return log_error("watermark file %s: %s", path, strerror(errno));
    }
    char line[128] = "";
    bool ok = fgets(line, sizeof(line), f) != NULL;
    fclose(f);
    line[strcspn(line, "\r\n")] = '\0';
    if (!ok || ldap_watermark_parse(line, wm))
        return log_error("%s:1: not a dualsync watermark (want usn:<invocationId>:<usn>); "
                         "remove the file or run pull --full", path);
    *have = true;
    return 0;
}

int cmd_pull(const struct cli *cli, const struct config *cfg)
{
    if (cli->format != FORMAT_DEFAULT && cli->format != FORMAT_SUMMARY && cli->format != FORMAT_NDJSON) {
        log_error("pull: --format must be summary or ndjson");
        return EXIT_USAGE;
    }
    const char *wm_path = cli->watermark_file ? cli->watermark_file : cfg->ldap.watermark_file;
    struct ldap_watermark since, next;
    bool have_since = false;
    if (wm_path && !cli->full && load_watermark(wm_path, &since, &have_since))
        return EXIT_USAGE;

    /* -o FILE: where it is, before AD is read */
    enum platform_path_kind kind = PLATFORM_PATH_NONE;
    if (cli->output && strcmp(cli->output, "-")) {
        if (platform_path_kind(cli->output, &kind))
            return EXIT_USAGE;
        if (kind == PLATFORM_PATH_DIR) {
            log_error("-o %s: is a directory; name a file in it", cli->output);
            return EXIT_USAGE;
        }
    }
    struct ldap_source *src;
    if (ldap_source_open(&cfg->ldap, &src))
        return EXIT_STOPPED;
    struct strbuf out = STRBUF_INIT;
    struct pull_ctx ctx = { .cli = cli };
    if (cli->output && strcmp(cli->output, "-"))
        ctx.out = &out;
    if (cli->progress)
        ctx.progress = progress_start("reading AD", 0);
    struct ldap_pull_stats st;
    int rc = ldap_source_pull(src, have_since ? &since : NULL, on_object, &ctx, &next, &st);
    progress_done(ctx.progress);
    strbuf_release(&ctx.line);
    ldap_source_close(src);
    /* the summary, like the objects of -o FILE, is held in out */
    if (!rc && cli->format != FORMAT_NDJSON)
        print_summary(&ctx.sm, &st, &out);
    summary_free(&ctx.sm);
    /* stdout gets the objects as they come: only exit status 0 says it is
     * complete. -o FILE gets them only when the pull is, through the report's
     * writer: a regular file is replaced atomically (on any error before, the
     * old one is untouched, or there is none); a pipe or a device can only
     * be written into. */
    if (!rc && ctx.out)
        rc = report_save(cli->output, &out);
    else if (!rc)
        fwrite(out.buf, 1, out.len, stdout);
    strbuf_release(&out);
    if (fflush(stdout) != 0)
        rc = log_error("cannot write to standard output: %s", strerror(errno));
    if (rc)
        return EXIT_STOPPED;
    /* only a complete pull moves the watermark: a failed one must be redone */
    if (wm_path) {
        char *text = ldap_watermark_format(&next);
        char *line = xasprintf("%s\n", text);
        int w = platform_write_file_atomic(wm_path, line, strlen(line));
        log_verbose("watermark %s saved to %s", text, wm_path);
        free(line);
        free(text);
        if (w)
            return EXIT_STOPPED;
    }
    return EXIT_DONE;
}
