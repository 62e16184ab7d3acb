/* Unit tests for connect_export.c: the folders of tests/fixtures/connect (in
 * the format Get-ADSyncServerConfiguration writes) read into plain data, and
 * the refusals: a damaged file, an unknown version, a folder that is not an
 * export. Run from the top of the tree, as `make unit` does. */
#include "compat.h"

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <libxml/parser.h>
#ifndef _WIN32
#include <sys/resource.h>
#endif

#include "capture.h"
#include "connect_config.h"
#include "platform.h"
#include "util.h"

#define FX "tests/fixtures/connect/"

static const struct connect_rule *rule(const struct connect_export *ex, const char *name)
{
    for (size_t i = 0; i < ex->nrules; i++)
        if (!strcmp(ex->rules[i].name, name))
            return &ex->rules[i];
    fail_msg("no rule '%s'", name);
    return NULL;
}

static const struct connect_flow *flow(const struct connect_rule *r, const char *dest)
{
    for (size_t i = 0; i < r->nflows; i++)
        if (!strcmp(r->flows[i].dest, dest))
            return &r->flows[i];
    fail_msg("rule '%s' has no flow to %s", r->name, dest);
    return NULL;
}

static void reads_the_out_of_box_export(void **state)
{
    (void)state;
    struct connect_export ex;
    assert_int_equal(connect_export_load(FX "out-of-box", &ex), 0);
    assert_string_equal(ex.server, "CONNECT-GCCH");
    assert_int_equal(ex.nconnectors, 2);
    assert_int_equal(ex.nrules, 12);
    size_t ad = 0, entra = 0;
    for (size_t i = 0; i < ex.nconnectors; i++) {
        const struct connect_connector *c = &ex.connectors[i];
        if (c->kind == CONNECT_AD) {
            ad++;
            assert_string_equal(c->id, "{7d1c2e3f-4a5b-4c6d-8e9f-a0b1c2d3e4f5}");   /* lowered */
            assert_int_equal(c->npartitions, 1);
            assert_true(c->partitions[0].selected);
            assert_string_equal(c->partitions[0].name, "DC=corp,DC=example,DC=test");
            assert_int_equal(c->partitions[0].ninclusions, 2);
            assert_string_equal(c->partitions[0].exclusions[0], "DC=corp,DC=example,DC=test");
            assert_true(c->nattributes > 5);
        } else if (c->kind == CONNECT_ENTRA) {
            entra++;
            assert_string_equal(c->name, "fabrikamdefense.onmicrosoft.us - AAD");
            /* the UserName of <parameter-values>, not the definition beside it */
            assert_non_null(c->account);
            assert_string_equal(c->account, "Sync_CONNECT-GCCH_5c2d9e1a7b30@fabrikamdefense.onmicrosoft.us");
            assert_int_equal(c->account_line, 16);
        } else {
            fail_msg("connector %s of no kind", c->name);
        }
        if (c->kind != CONNECT_ENTRA)
            assert_null(c->account);    /* the AD connector's forest-login-user is not it */
    }
    assert_int_equal(ad, 1);
    assert_int_equal(entra, 1);

    const struct connect_rule *r = rule(&ex, "Out to AAD - User Identity");
    assert_true(r->outbound);
    assert_false(r->disabled);
    assert_int_equal(r->precedence, 124);
    assert_string_equal(r->connector, "{b891884f-051e-4a83-95af-2544101c9083}");
    assert_int_equal(r->ngroups, 1);
    assert_int_equal(r->groups[0].nclauses, 2);
    assert_string_equal(r->groups[0].clauses[1].attr, "cloudMastered");
    assert_string_equal(r->groups[0].clauses[1].op, "NOTEQUAL");
    assert_string_equal(r->groups[0].clauses[1].value, "True");
    const struct connect_flow *f = flow(r, "onPremisesUserPrincipalName");
    assert_int_equal(f->nsrc, 1);
    assert_string_equal(f->src[0], "onPremisesUserPrincipalName");
    assert_null(f->expression);
    assert_null(f->constant);

    /* <src>True</src>: a constant; an <expression>; an empty <csValue /> */
    r = rule(&ex, "In from AD - User AccountEnabled");
    assert_false(r->outbound);
    assert_string_equal(flow(r, "accountEnabled")->constant, "True");
    assert_non_null(strstr(flow(r, "sourceAnchor")->expression, "ConvertToBase64([mS-DS-ConsistencyGuid])"));
    r = rule(&ex, "Out to AAD - User Join");
    assert_null(r->groups[0].clauses[3].value);    /* sourceAnchor ISNOTNULL */

    const struct connect_setting *s = connect_setting(&ex, "Microsoft.SynchronizationOption.AnchorAttribute");
    assert_non_null(s);
    assert_string_equal(s->value, "mS-DS-ConsistencyGuid");
    assert_int_equal(s->line, 19);
    assert_non_null(strstr(s->file, "GlobalSettings/MV.xml"));
    connect_export_free(&ex);
}

static void reads_the_scripts_rule(void **state)
{
    (void)state;
    struct connect_export ex;
    assert_int_equal(connect_export_load(FX "with-rule", &ex), 0);
    const struct connect_rule *r = rule(&ex, "In from AD - User dualsync no onPremisesUserPrincipalName");
    assert_false(r->outbound);
    assert_int_equal(r->precedence, 90);
    assert_int_equal(r->ngroups, 2);
    assert_int_equal(r->groups[1].nclauses, 2);
    assert_string_equal(r->groups[1].clauses[0].op, "ISNULL");
    assert_string_equal(flow(r, "onPremisesUserPrincipalName")->expression, "AuthoritativeNull");
    connect_export_free(&ex);
}

/* Which tenant each Entra connector exports to, as the export says it. */
static void reads_each_entra_account(void **state)
{
    (void)state;
    struct connect_export ex;
    assert_int_equal(connect_export_load(FX "two-entra", &ex), 0);
    size_t n = 0;
    for (size_t i = 0; i < ex.nconnectors; i++) {
        const struct connect_connector *c = &ex.connectors[i];
        if (c->kind != CONNECT_ENTRA)
            continue;
        const char *from = NULL;
        char *d = connect_entra_domain(c, &from);
        assert_string_equal(from, "UserName");
        /* sorted by file name: {3a6e...} (commercial) before {b891...} */
        assert_string_equal(d, n++ ? "fabrikamdefense.onmicrosoft.us" : "contosocorp.onmicrosoft.com");
        free(d);
    }
    assert_int_equal(n, 2);
    connect_export_free(&ex);
}

static void refuses_what_it_cannot_read(void **state)
{
    (void)state;
    struct connect_export ex;
    /* a file cut short (libxml2 names the line), a version it does not know,
     * a folder that is not an export */
    assert_int_equal(connect_export_load(FX "damaged", &ex), -1);
    connect_export_free(&ex);
    assert_int_equal(connect_export_load(FX "unknown-version", &ex), -1);
    connect_export_free(&ex);
    assert_int_equal(connect_export_load("tests/unit", &ex), -1);
    connect_export_free(&ex);
    assert_int_equal(connect_export_load(FX "no-such-folder", &ex), -1);
    connect_export_free(&ex);
}

/* ------------------------------------------------------ hostile exports */

/* The export is admin-supplied, maybe copied from another server: a file
 * in it must not make dualsync read other files, reach the network, or
 * spend unbounded time or memory. Each case is one rule file in a folder
 * of its own, read through connect_export_load. */

/* Every load libxml2 asks for other than the file itself (a DTD, an
 * external entity, on disk or on the network) is counted here. */
static xmlExternalEntityLoader default_loader;
static int external_loads;

static xmlParserInputPtr counting_loader(const char *url, const char *id, xmlParserCtxtPtr ctxt)
{
    if (ctxt && ctxt->inputNr > 0)
        external_loads++;
    return default_loader(url, id, ctxt);
}

struct hostile {
    char dir[64];
    char *rules, *file, *secret, *dtd;
};

static void hostile_make(struct hostile *h)
{
    snprintf(h->dir, sizeof(h->dir), "%s", "/tmp/dualsync-connect-XXXXXX");
    assert_non_null(mkdtemp(h->dir));
    char *connectors = xasprintf("%s/Connectors", h->dir);
    h->rules = xasprintf("%s/SynchronizationRules", h->dir);
    assert_int_equal(mkdir(connectors, 0700), 0);
    assert_int_equal(mkdir(h->rules, 0700), 0);
    free(connectors);
    h->file = xasprintf("%s/evil.xml", h->rules);
    /* what a reader that followed the references would show */
    h->secret = xasprintf("%s/secret.txt", h->dir);
    h->dtd = xasprintf("%s/ext.dtd", h->dir);
    FILE *f = fopen(h->secret, "w");
    assert_non_null(f);
    fputs("root:SECRET-MARKER:0:0\n", f);
    fclose(f);
    f = fopen(h->dtd, "w");
    assert_non_null(f);
    fputs("<!ENTITY e \"DTD-MARKER\">\n", f);
    fclose(f);
}

static void hostile_remove(struct hostile *h)
{
    unlink(h->file);
    unlink(h->secret);
    unlink(h->dtd);
    rmdir(h->rules);
    char *connectors = xasprintf("%s/Connectors", h->dir);
    rmdir(connectors);
    free(connectors);
    rmdir(h->dir);
    free(h->rules);
    free(h->file);
    free(h->secret);
    free(h->dtd);
}

static void write_file(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

#define RULE_REST "<direction>Outbound</direction><connector>{b891884f-051e-4a83-95af-2544101c9083}</connector>" \
                  "<precedence>5</precedence></synchronizationRule>\n"

static long peak_rss_kb(void)
{
#ifndef _WIN32
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
#else
    return 0;
#endif
}

/* How long and how much memory a refusal may take: far above what one
 * takes (0.2 s and 58 MB at most here, also under load) and far below what
 * the expansions took before 6b0b06f (10 s and 2 GB). Not checked under
 * ASan (make SANITIZE=1): its quarantine keeps freed memory, and it slows
 * libxml2 past a second on the 12 MB values. */
#ifdef __SANITIZE_ADDRESS__
#define REFUSAL_SECONDS 1e9
#define REFUSAL_KB LONG_MAX
#else
#define REFUSAL_SECONDS 5.0
#define REFUSAL_KB (256L * 1024)
#endif

/* Load h's folder with TEXT as its one rule file: -1, within the bounds
 * above, with one message naming the file and LINE, and nothing of the
 * referenced files or of the text itself on stderr. Returns the messages. */
static char *load_refused(struct hostile *h, const char *text, size_t len, int line)
{
    write_file(h->file, text, len);
    struct connect_export ex;
    external_loads = 0;
    long rss = peak_rss_kb();
    double t0 = platform_monotonic();
    capture_start();
    int rc = connect_export_load(h->dir, &ex);
    char *out = capture_end();
    double took = platform_monotonic() - t0;
    for (size_t i = 0; i < ex.nrules; i++) {
        assert_null(strstr(ex.rules[i].name, "MARKER"));
        assert_true(strlen(ex.rules[i].name) < 1000);
    }
    connect_export_free(&ex);
    print_message("    %.3f s, peak RSS +%ld kB: %s", took, peak_rss_kb() - rss, out);
    assert_int_equal(rc, -1);
    assert_int_equal(external_loads, 0);
    assert_true(took < REFUSAL_SECONDS);
    assert_true(peak_rss_kb() - rss < REFUSAL_KB);
    char *where = xasprintf("%s:%d: ", h->file, line);
    assert_non_null(strstr(out, where));
    free(where);
    assert_null(strstr(out, "MARKER"));
    assert_null(strchr(out, '\033'));
    assert_true(strlen(out) < 1000);
    for (const char *l = out; *l; l = strchr(l, '\n') + 1) {   /* only dualsync's own lines */
        assert_true(!strncmp(l, "dualsync: ", 10));
        assert_non_null(strchr(l, '\n'));
    }
    return out;
}

/* External entities, an external DTD, parameter entities, on disk and on
 * the network: nothing is loaded, and the DOCTYPE that declares them is
 * refused (Connect never writes one). */
static void refuses_a_doctype_and_loads_nothing_it_names(void **state)
{
    (void)state;
    struct hostile h;
    hostile_make(&h);
    default_loader = xmlGetExternalEntityLoader();
    xmlSetExternalEntityLoader(counting_loader);
    char *cases[] = {
        xasprintf("<?xml version=\"1.0\"?>\n<!DOCTYPE synchronizationRule [<!ENTITY e SYSTEM \"file://%s\">]>\n"
                  "<synchronizationRule><name>x&e;y</name>" RULE_REST, h.secret),
        xasprintf("<?xml version=\"1.0\"?>\n<!DOCTYPE synchronizationRule [<!ENTITY e SYSTEM \"%s\">]>\n"
                  "<synchronizationRule><name>x&e;y</name>" RULE_REST, h.secret),
        xasprintf("<?xml version=\"1.0\"?>\n<!DOCTYPE synchronizationRule SYSTEM \"file://%s\">\n"
                  "<synchronizationRule><name>x&e;y</name>" RULE_REST, h.dtd),
        xasprintf("<?xml version=\"1.0\"?>\n<!DOCTYPE synchronizationRule [<!ENTITY %% p SYSTEM \"%s\"> %%p;]>\n"
                  "<synchronizationRule><name>x&e;y</name>" RULE_REST, h.dtd),
        /* the network: XML_PARSE_NONET, and no load is even tried */
        xasprintf("<?xml version=\"1.0\"?>\n<!DOCTYPE synchronizationRule [<!ENTITY e SYSTEM \"http://127.0.0.1:9/e\">]>\n"
                  "<synchronizationRule><name>x&e;y</name>" RULE_REST),
        xasprintf("<?xml version=\"1.0\"?>\n<!DOCTYPE synchronizationRule PUBLIC \"-//x//y\" \"http://127.0.0.1:9/x.dtd\">\n"
                  "<synchronizationRule><name>xy</name>" RULE_REST),
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char *out = load_refused(&h, cases[i], strlen(cases[i]), 2);
        assert_non_null(strstr(out, "DOCTYPE"));
        free(out);
        free(cases[i]);
    }
    xmlSetExternalEntityLoader(default_loader);
    hostile_remove(&h);
}

/* The quadratic blowup (one 10 kB entity referenced 10,000 times: 100 MB
 * from a 40 kB file, expanded each time a text is read; the reader took it
 * as a rule name) and "billion laughs" (nested entities). */
static void refuses_entity_expansion_quickly(void **state)
{
    (void)state;
    struct hostile h;
    hostile_make(&h);
    struct strbuf sb = STRBUF_INIT;
    strbuf_addstr(&sb, "<?xml version=\"1.0\"?>\n<!DOCTYPE synchronizationRule [<!ENTITY a \"");
    for (int i = 0; i < 10000; i++)
        strbuf_addch(&sb, 'A');
    strbuf_addstr(&sb, "\">]>\n<synchronizationRule><name>");
    for (int i = 0; i < 10000; i++)
        strbuf_addstr(&sb, "&a;");
    strbuf_addstr(&sb, "</name>" RULE_REST);
    free(load_refused(&h, strbuf_str(&sb), sb.len, 2));
    strbuf_release(&sb);
    strbuf_addstr(&sb, "<?xml version=\"1.0\"?>\n<!DOCTYPE synchronizationRule [\n<!ENTITY l0 \"lollollollol\">\n");
    for (int i = 1; i < 10; i++) {
        strbuf_addf(&sb, "<!ENTITY l%d \"", i);
        for (int j = 0; j < 10; j++)
            strbuf_addf(&sb, "&l%d;", i - 1);
        strbuf_addstr(&sb, "\">\n");
    }
    strbuf_addstr(&sb, "]>\n<synchronizationRule><name>&l9;</name>" RULE_REST);
    free(load_refused(&h, strbuf_str(&sb), sb.len, 2));
    strbuf_release(&sb);

    hostile_remove(&h);
}

/* 100,000 nested elements: libxml2's depth limit (256), not the stack. */
static void refuses_deep_nesting(void **state)
{
    (void)state;
    struct hostile h;
    hostile_make(&h);
    struct strbuf sb = STRBUF_INIT;
    strbuf_addstr(&sb, "<synchronizationRule><name>n</name>\n");
    for (int i = 0; i < 100000; i++)
        strbuf_addstr(&sb, "<a>");
    for (int i = 0; i < 100000; i++)
        strbuf_addstr(&sb, "</a>");
    strbuf_addstr(&sb, RULE_REST);
    char *out = load_refused(&h, strbuf_str(&sb), sb.len, 2);
    assert_non_null(strstr(out, "depth"));
    free(out);
    strbuf_release(&sb);
    hostile_remove(&h);
}

/* An attribute value and a text of 12 MB, over libxml2's 10 MB limit, of
 * plain letters and with escape sequences in them: refused, and none of it
 * echoed to the terminal (libxml2 prints the line of some errors itself). */
static void refuses_huge_values_without_echoing_them(void **state)
{
    (void)state;
    struct hostile h;
    hostile_make(&h);
    static const char *const open[] = { "<synchronizationRule>\n<name x=\"", "<synchronizationRule>\n<name>" };
    static const char *const close[] = { "\">n</name>" RULE_REST, "</name>" RULE_REST };
    static const char *const fill[] = { "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                                        "\033]0;owned\007\033[2J AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" };
    for (size_t k = 0; k < 4; k++) {
        struct strbuf sb = STRBUF_INIT;
        strbuf_addstr(&sb, open[k % 2]);
        for (int i = 0; i < 12 * 1024 * 1024 / 64; i++)
            strbuf_addstr(&sb, fill[k / 2]);
        strbuf_addstr(&sb, close[k % 2]);
        char *out = load_refused(&h, strbuf_str(&sb), sb.len, 2);
        if (k < 2)   /* the limit, not what libxml2 found after it */
            assert_non_null(strstr(out, k ? "huge text node" : "AttValue length too long"));
        free(out);
        strbuf_release(&sb);
    }
    hostile_remove(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_the_out_of_box_export),
        cmocka_unit_test(reads_the_scripts_rule),
        cmocka_unit_test(reads_each_entra_account),
        cmocka_unit_test(refuses_what_it_cannot_read),
        cmocka_unit_test(refuses_a_doctype_and_loads_nothing_it_names),
        cmocka_unit_test(refuses_entity_expansion_quickly),
        cmocka_unit_test(refuses_deep_nesting),
        cmocka_unit_test(refuses_huge_values_without_echoing_them),
    };
    return cmocka_run_group_tests_name("connect_export", tests, NULL, NULL);
}
