/* Unit tests for the report (report.c and its writers) over the known run of
 * tests/tools/report_fixture.c: the exact bytes of each format, with hostile
 * display names (<script>, a comma and a quote, Zoë Ångström, 李雷, a cell
 * starting with =); the filters; the user's dates and states; the terminal
 * summary of a run; saving; damaged and missing files.
 *
 * The JSON and HTML are compared with tests/unit/report/expected.{json,html}
 * (the fixture's directory written as FIXTURE). After a deliberate change of
 * a format, regenerate them with
 *     REPORT_UPDATE_EXPECTED=1 build/unit/test_report
 * and read the diff: the inline assertions below pin the parts that matter
 * (escaping, quoting, formula neutralising, no external resource) whatever
 * the files say. */
#include "compat.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "../tools/report_fixture.h"
#include "../../src/report_p.h"
#include "audit.h"
#include "config.h"
#include "log.h"
#include "platform.h"
#include "report.h"
#include "testplat.h"
#include "util.h"

static char dir[] = "/tmp/dualsync-test-report-XXXXXX";
static struct config cfg;
#define NOW (FIXTURE_DAY1 + 2 * 86400)   /* 2026-11-18T09:00:00Z */

static int setup(void **state)
{
    (void)state;
    log_set_level(LOG_QUIET);
    assert_non_null(mkdtemp(dir));
    assert_int_equal(report_fixture_small(dir, &cfg), 0);
    return 0;
}

/* Calls fn on each entry of directory d but "." and ".."; the number of
 * entries, or -1 if d cannot be read. In C rather than through system():
 * Windows' cmd.exe has no rm, ls or test. */
static int each_entry(const char *d, void (*fn)(const char *path))
{
    DIR *dh = opendir(d);
    if (!dh)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dh))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        n++;
        if (fn) {
            char *path = xasprintf("%s/%s", d, e->d_name);
            fn(path);
            free(path);
        }
    }
    closedir(dh);
    return n;
}

static void remove_tree(const char *path)
{
    struct stat st;
    if (stat(path, &st))
        return;
    if (S_ISDIR(st.st_mode)) {
        each_entry(path, remove_tree);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static int teardown(void **state)
{
    (void)state;
    report_fixture_free_config(&cfg);
    remove_tree(dir);
    struct stat st;
    assert_int_not_equal(stat(dir, &st), 0);
    return 0;
}

/* ---- helpers ----------------------------------------------------------- */

enum fmt { CSV, CSV_BOM, JSON, HTML };

static char *render(const struct report_filter *filter, enum fmt f)
{
    struct report_filter flt = *filter;
    if (!flt.now)
        flt.now = NOW;
    struct report *r;
    assert_int_equal(report_gather(&cfg, &flt, &r), 0);
    struct strbuf out = STRBUF_INIT;
    switch (f) {
    case CSV: report_csv(r, false, &out); break;
    case CSV_BOM: report_csv(r, true, &out); break;
    case JSON: report_json(r, &out); break;
    case HTML: report_html(r, &out); break;
    }
    report_free(r);
    return strbuf_detach(&out);
}

/* text with every occurrence of the fixture's directory written FIXTURE */
static char *placeholder(const char *text)
{
    struct strbuf sb = STRBUF_INIT;
    size_t n = strlen(dir);
    for (const char *p = text; *p;) {
        const char *hit = strstr(p, dir);
        if (!hit) {
            strbuf_addstr(&sb, p);
            break;
        }
        strbuf_add(&sb, p, (size_t)(hit - p));
        strbuf_addstr(&sb, "FIXTURE");
        p = hit + n;
    }
    return strbuf_detach(&sb);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct strbuf sb = STRBUF_INIT;
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        strbuf_add(&sb, buf, n);
    fclose(f);
    return strbuf_detach(&sb);
}

/* Compare with tests/unit/report/NAME (or write it when asked). */
static void expect_file(const char *name, const char *got_raw)
{
    char *got = placeholder(got_raw);
    char *path = xasprintf("tests/unit/report/%s", name);
    if (getenv("REPORT_UPDATE_EXPECTED")) {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        fputs(got, f);
        fclose(f);
    }
    char *want = slurp(path);
    if (!want)
        fail_msg("%s is missing: run from the top of the tree (REPORT_UPDATE_EXPECTED=1 writes it)", path);
    if (strcmp(want, got)) {
        /* say where, not 50 KB of both */
        size_t i = 0, line = 1;
        while (want[i] && want[i] == got[i])
            line += want[i++] == '\n';
        fail_msg("%s differs at line %zu:\n want: %.120s\n got:  %.120s", path, line, want + i, got + i);
    }
    free(want);
    free(path);
    free(got);
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* ---- CSV --------------------------------------------------------------- */

#define CSV_HEADER "tenant,cloud,state,externalUserState,decision,userType,displayName,upn,anchor," \
    "objectGUID,cloudId,dn,rule,firstChange,lastChange,convertedAt,invitationId,lastError,lastAction," \
    "lastOutcome,lastActionTime,lastRun,lastRequestId,actionsInPeriod\r\n"

static const char csv_expected[] =
    CSV_HEADER
    "gcch,usgov-high,gone,PendingAcceptance,external-guest,Guest,"
    "\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"pay\"\")\",eve@corp.example,ZXZlLWFuY2hvci0wMDAwMQ==,"
    "2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f,7c8d9e0f-1a2b-4c3d-8e4f-5a6b7c8d9e0f,"
    "\"CN=Eve,OU=Users,OU=DE,OU=Contoso,DC=corp,DC=example\",non-us-guest,2026-11-16T09:00:00Z,"
    "2026-11-17T12:00:00Z,2026-11-16T09:00:07Z,3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f,,forget,done,"
    "2026-11-17T12:00:00Z,r2,,2\r\n"
    "gcch,usgov-high,unmapped,,external-guest,,Ghost User,ghost@corp.example,Z2hvc3QtYW5jaG9yLTAwMQ==,"
    "4e5f6a7b-8c9d-4e0f-8a1b-2c3d4e5f6a7b,,,non-us-guest,2026-11-16T09:00:08Z,2026-11-16T09:00:08Z,,,,"
    "convert,dry-run,2026-11-16T09:00:08Z,r1,,1\r\n"
    "gcch,usgov-high,reverted,PendingAcceptance,member,Member,\"Smith, John \"\"JJ\"\"\","
    "john.smith@corp.example,c21pdGgtYW5jaG9yLTAwMQ==,1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e,"
    "6b7c8d9e-0f1a-4b2c-8d3e-4f5a6b7c8d9e,\"CN=Smith\\, John,OU=Users,OU=US,OU=Contoso,DC=corp,DC=example\","
    "home-by-upn,2026-11-16T09:00:00Z,2026-11-17T11:00:00Z,2026-11-16T09:00:06Z,,,revert,done,"
    "2026-11-17T11:00:00Z,r2,req-0006,2\r\n"
    "gcch,usgov-high,invited,PendingAcceptance,external-member,Member,\xe6\x9d\x8e\xe9\x9b\xb7,"
    "li.lei@corp.example,q1t5V8mZQ0eB6Xw3YkR2sA==,8e1f3c2a-77b0-4c5e-9d6f-1a2b3c4d5e6f,"
    "1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b,\"CN=\xe6\x9d\x8e\xe9\x9b\xb7,OU=Users,OU=CN,OU=Contoso,DC=corp,DC=example\","
    "us-member,2026-11-17T09:00:00Z,2026-11-17T09:00:00Z,2026-11-17T09:00:00Z,"
    "7c6b5a49-3827-4615-a4b3-c2d1e0f9a8b7,,convert,done,2026-11-17T09:00:00Z,r2,req-0004,1\r\n"
    "gcch,usgov-high,blocked,,external-guest,Member,\"<script>alert(\"\"x\"\")</script>\","
    "mallory@corp.example,bWFsbG9yeS1hbmNob3ItMQ==,0a1b2c3d-4e5f-4a6b-9c7d-8e9f0a1b2c3d,"
    "5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d,\"CN=Mallory,OU=Users,OU=FR,OU=Contoso,DC=corp,DC=example\","
    "non-us-guest,2026-11-17T09:00:00Z,2026-11-17T09:00:00Z,,,"
    "onPremisesUserPrincipalName is set; change the Connect rule that writes it,convert,blocked,"
    "2026-11-17T09:00:01Z,r2,,1\r\n"
    "gcch,usgov-high,accepted,Accepted,external-guest,Guest,Zo\xc3\xab \xc3\x85ngstr\xc3\xb6m,"
    "zoe.angstrom@corp.example,4IEl1GPJdUy2p0r8cHYa4w==,d4258ee0-c963-4c75-b6a7-4afc70761ae3,"
    "9c2a4f0e-1d7b-4e8a-b1c3-5f6a7b8c9d0e,"
    "\"CN=\xc3\x85ngstr\xc3\xb6m\\, Zo\xc3\xab,OU=Users,OU=SE,OU=Contoso,DC=corp,DC=example\",non-us-guest,"
    "2026-11-16T09:00:00Z,2026-11-17T10:00:00Z,2026-11-16T09:00:05Z,2b0a1c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d,,"
    "refresh,done,2026-11-17T10:00:00Z,r2,req-0005,2\r\n"
    "commercial,global,accepted,Accepted,external-member,Member,Ana Garc\xc3\xad" "a,"
    "ana.garcia@fabrikam-defense.example,YW5hLWFuY2hvci0wMDAwMQ==,ab1f3c2a-77b0-4c5e-9d6f-1a2b3c4d5e6f,"
    "aa1e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b,"
    "\"CN=Ana Garc\xc3\xad" "a,OU=Users,OU=US,OU=Contoso Defense,DC=corp,DC=example\",gcch-home,"
    "2026-11-16T09:00:00Z,2026-11-17T09:00:00Z,2026-11-16T09:01:00Z,ac6b5a49-3827-4615-a4b3-c2d1e0f9a8b7,,"
    "refresh,done,2026-11-17T09:01:00Z,r2,req-1002,2\r\n"
    "commercial,global,blocked,,external-member,Member,\"Bob Lee, Jr.\",bob.lee@fabrikam-defense.example,"
    "Ym9iLWFuY2hvci0wMDAwMQ==,bb1f3c2a-77b0-4c5e-9d6f-1a2b3c4d5e6f,,"
    "\"CN=Bob Lee,OU=Users,OU=US,OU=Contoso Defense,DC=corp,DC=example\",gcch-home,2026-11-17T09:00:00Z,"
    "2026-11-17T09:00:00Z,,,\"not synced to the tenant yet\twait for the next Entra Connect cycle\",convert,"
    "blocked,2026-11-17T09:01:01Z,r2,,1\r\n";

static void csv_exact(void **state)
{
    (void)state;
    struct report_filter f = { 0 };
    char *csv = render(&f, CSV);
    assert_string_equal(csv, csv_expected);
    free(csv);
    /* --bom: the same bytes after EF BB BF */
    char *bom = render(&f, CSV_BOM);
    assert_memory_equal(bom, "\xef\xbb\xbf", 3);
    assert_string_equal(bom + 3, csv_expected);
    free(bom);
}

/* Every cell that starts with = + - @ TAB or CR gets an apostrophe, and only
 * those; RFC 4180 quoting around it when needed. */
static void csv_formula_cells(void **state)
{
    (void)state;
    char *path = xasprintf("%s/mappings/gcch.audit", dir);
    struct audit *a;
    assert_int_equal(audit_open(path, &a), 0);
    static const char *const names[] = { "+1+1", "-2", "@SUM(A1)", "\tx", "\rx", "a=b", "" };
    static const char *const want[] = { "'+1+1", "'-2", "'@SUM(A1)", "\"'\tx\"", "\"'\rx\"", "a=b", "" };
    char anchor[32];
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        snprintf(anchor, sizeof(anchor), "formula-%zu", i);
        struct audit_entry e = { .time = FIXTURE_DAY1 + 2 * 86400 + (int64_t)i, .run_id = "r3",
                                 .anchor = anchor, .upn = anchor, .display_name = names[i],
                                 .action = "convert", .outcome = "dry-run" };
        assert_int_equal(audit_append(a, &e), 0);
    }
    assert_int_equal(audit_close(a), 0);
    struct report_filter f = { .run_id = "r3" };
    char *csv = render(&f, CSV);
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        char *row = xasprintf("gcch,usgov-high,unmapped,,,,%s,formula-%zu,formula-%zu,", want[i], i, i);
        if (!strstr(csv, row))
            fail_msg("no row %s in\n%s", row, csv);
        free(row);
    }
    free(csv);
    /* put the trail back as the fixture made it */
    report_fixture_free_config(&cfg);
    assert_int_equal(report_fixture_small(dir, &cfg), 0);
    free(path);
}

/* ---- JSON -------------------------------------------------------------- */

static const cJSON *account(const cJSON *doc, const char *tenant, const char *upn)
{
    const cJSON *t, *a;
    cJSON_ArrayForEach(t, cJSON_GetObjectItem(doc, "tenants"))
        if (!strcmp(cJSON_GetObjectItem(t, "tenant")->valuestring, tenant))
            cJSON_ArrayForEach(a, cJSON_GetObjectItem(t, "accounts"))
                if (!strcmp(cJSON_GetObjectItem(a, "upn")->valuestring, upn))
                    return a;
    return NULL;
}

static const char *get(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItem(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void json_exact(void **state)
{
    (void)state;
    struct report_filter f = { 0 };
    char *json = render(&f, JSON);
    expect_file("expected.json", json);
    /* it parses, and gives back every hostile name byte for byte */
    cJSON *doc = cJSON_Parse(json);
    assert_non_null(doc);
    assert_string_equal(get(account(doc, "gcch", "mallory@corp.example"), "displayName"),
                        "<script>alert(\"x\")</script>");
    assert_string_equal(get(account(doc, "gcch", "john.smith@corp.example"), "displayName"),
                        "Smith, John \"JJ\"");
    assert_string_equal(get(account(doc, "gcch", "zoe.angstrom@corp.example"), "displayName"),
                        "Zo\xc3\xab \xc3\x85ngstr\xc3\xb6m");
    assert_string_equal(get(account(doc, "gcch", "li.lei@corp.example"), "displayName"), "\xe6\x9d\x8e\xe9\x9b\xb7");
    /* the raw value: formula neutralising is for spreadsheets only */
    assert_string_equal(get(account(doc, "gcch", "eve@corp.example"), "displayName"),
                        "=HYPERLINK(\"http://evil.example\",\"pay\")");
    assert_string_equal(get(account(doc, "commercial", "bob.lee@fabrikam-defense.example"), "lastError"),
                        "not synced to the tenant yet\twait for the next Entra Connect cycle");
    /* a value the files do not hold is null, and the key is there */
    const cJSON *ghost = account(doc, "gcch", "ghost@corp.example");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(ghost, "cloudId")));
    assert_string_equal(get(ghost, "state"), "unmapped");
    /* the summary */
    const cJSON *gcch = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "tenants"), 0);
    const cJSON *s = cJSON_GetObjectItem(gcch, "summary");
    assert_int_equal(cJSON_GetObjectItem(s, "accounts")->valueint, 6);
    assert_int_equal(cJSON_GetObjectItem(s, "converted")->valueint, 2);
    assert_int_equal(cJSON_GetObjectItem(s, "pendingAcceptance")->valueint, 1);
    assert_int_equal(cJSON_GetObjectItem(s, "accepted")->valueint, 1);
    assert_int_equal(cJSON_GetObjectItem(s, "blocked")->valueint, 1);
    assert_int_equal(cJSON_GetObjectItem(s, "reverted")->valueint, 1);
    assert_int_equal(cJSON_GetObjectItem(s, "gone")->valueint, 1);
    const cJSON *reason = cJSON_GetArrayItem(cJSON_GetObjectItem(s, "blockedByReason"), 0);
    assert_string_equal(get(reason, "reason"), "onPremisesUserPrincipalName is set");
    assert_int_equal(cJSON_GetObjectItem(gcch, "tenantEvents")->valueint, 1);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(gcch, "actions"), "failed")->valueint, 1);
    cJSON_Delete(doc);
    free(json);
}

/* ---- HTML -------------------------------------------------------------- */

/* The text between a and b (after a), newly allocated. */
static char *between(const char *s, const char *a, const char *b)
{
    const char *p = strstr(s, a);
    assert_non_null(p);
    p += strlen(a);
    const char *q = strstr(p, b);
    assert_non_null(q);
    return xstrndup(p, (size_t)(q - p));
}

static void html_exact(void **state)
{
    (void)state;
    struct report_filter f = { 0 };
    char *html = render(&f, HTML);
    expect_file("expected.html", html);

    /* the charset comes first, so that Zoë and 李雷 are read as UTF-8 */
    assert_true(str_starts_with(html, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"));
    /* every hostile name as text, never as markup */
    assert_non_null(strstr(html, "<td class=\"name\">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;</td>"));
    assert_non_null(strstr(html, "<td class=\"name\">Smith, John &quot;JJ&quot;</td>"));
    assert_non_null(strstr(html, "<td class=\"name\">Zo\xc3\xab \xc3\x85ngstr\xc3\xb6m</td>"));
    assert_non_null(strstr(html, "<td class=\"name\">\xe6\x9d\x8e\xe9\x9b\xb7</td>"));
    assert_non_null(strstr(html, "<td class=\"name\">=HYPERLINK(&quot;http://evil.example&quot;,&quot;pay&quot;)</td>"));
    assert_null(strstr(html, "<script>alert"));
    assert_int_equal(count(html, "<script"), 1);     /* ours, at the end */
    /* eight rows, one per account, and the chart: two days, three bars
     * (16th: gcch 3 + commercial 1; 17th: gcch 1) */
    assert_int_equal(count(html, "<tr data-tenant="), 8);
    assert_int_equal(count(html, "<rect class=\"bar\""), 3);
    assert_non_null(strstr(html, "<title>gcch, day 2026-11-16: 3 conversions</title>"));
    assert_non_null(strstr(html, "<title>commercial, day 2026-11-16: 1 conversion</title>"));
    assert_non_null(strstr(html, "<title>gcch, day 2026-11-17: 1 conversion</title>"));
    /* nothing that a browser would fetch */
    assert_null(strstr(html, " src="));
    assert_null(strstr(html, " href="));
    assert_null(strstr(html, "url("));
    assert_null(strstr(html, "@import"));
    assert_null(strstr(html, "<link"));
    assert_null(strstr(html, "<img"));
    /* and the policy that forbids it allows exactly our style and script */
    char *css = between(html, "<style>", "</style>");
    char *js = between(html, "<script>", "</script>");
    char hc[45], hj[45];
    report_sha256_base64(css, strlen(css), hc);
    report_sha256_base64(js, strlen(js), hj);
    char *csp = xasprintf("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
                          "style-src 'sha256-%s'; script-src 'sha256-%s'; img-src data:; base-uri 'none'; "
                          "form-action 'none'\">", hc, hj);
    assert_non_null(strstr(html, csp));
    free(csp);
    free(css);
    free(js);
    free(html);
}

/* Bytes that are not UTF-8 and control characters: U+FFFD in HTML (and JSON,
 * which escapes controls), never passed through to break the page. */
static void bad_bytes(void **state)
{
    (void)state;
    char *path = xasprintf("%s/mappings/commercial.audit", dir);
    struct audit *a;
    assert_int_equal(audit_open(path, &a), 0);
    struct audit_entry e = { .time = FIXTURE_DAY1 + 3 * 86400, .run_id = "r4", .anchor = "bad-bytes",
                             .upn = "bad@corp.example", .display_name = "bad\xff" "byte\x01" "ctl\xe2\x82",
                             .action = "convert", .outcome = "dry-run" };
    assert_int_equal(audit_append(a, &e), 0);
    assert_int_equal(audit_close(a), 0);
    struct report_filter f = { .run_id = "r4" };
    char *html = render(&f, HTML);
    assert_non_null(strstr(html, "<td class=\"name\">bad\xef\xbf\xbd" "byte\xef\xbf\xbd" "ctl\xef\xbf\xbd\xef\xbf\xbd</td>"));
    free(html);
    char *json = render(&f, JSON);
    assert_non_null(strstr(json, "\"displayName\": \"bad\xef\xbf\xbd" "byte\\u0001ctl\xef\xbf\xbd\xef\xbf\xbd\""));
    cJSON *doc = cJSON_Parse(json);
    assert_non_null(doc);
    cJSON_Delete(doc);
    free(json);
    /* CSV keeps the control as it is, in a quoted cell: a reader that splits
     * unquoted cells at odd bytes still gets one cell (report_csv.c) */
    char *csv = render(&f, CSV);
    assert_non_null(strstr(csv, ",\"bad\xef\xbf\xbd" "byte\x01" "ctl\xef\xbf\xbd\xef\xbf\xbd\",bad@corp.example,"));
    free(csv);
    report_fixture_free_config(&cfg);
    assert_int_equal(report_fixture_small(dir, &cfg), 0);
    free(path);
}

/* The shared string writers alone, as plan, explain and pull use them (those
 * commands are not linked here; tests/integration/test_plan.sh checks
 * them): a byte that is not UTF-8 becomes U+FFFD, so that the JSON parses. */
static void json_string_writer(void **state)
{
    (void)state;
    struct strbuf out = STRBUF_INIT;
    report_json_str(&out, "ok\xff" "q\"b\\\x01\x08\n\x7f\xc3\xa9\xc3(\xe2\x82");
    assert_string_equal(out.buf, "\"ok\xef\xbf\xbd" "q\\\"b\\\\\\u0001\\u0008\\n\x7f\xc3\xa9"
                                 "\xef\xbf\xbd(\xef\xbf\xbd\xef\xbf\xbd\"");
    cJSON *doc = cJSON_Parse(out.buf);
    assert_non_null(doc);
    assert_true(cJSON_IsString(doc));
    assert_non_null(strstr(doc->valuestring, "ok\xef\xbf\xbdq\"b\\"));
    cJSON_Delete(doc);
    strbuf_reset(&out);
    report_json_str(&out, "");
    assert_string_equal(out.buf, "\"\"");
    strbuf_release(&out);
}

static void csv_cell_writer(void **state)
{
    (void)state;
    struct strbuf out = STRBUF_INIT;
    report_csv_cell(&out, "=cmd|' /C calc'!A0", false);
    report_csv_cell(&out, NULL, false);
    report_csv_cell(&out, "a,\"b\"", false);
    report_csv_cell(&out, "\tx\xff", false);
    report_csv_cell(&out, "-1", true);
    assert_string_equal(out.buf, "'=cmd|' /C calc'!A0,,\"a,\"\"b\"\"\",\"'\tx\xef\xbf\xbd\",'-1\r\n");
    strbuf_release(&out);
}

/* An escape sequence in AD's values: kept exact in CSV and JSON (machine
 * formats), quoted in CSV, escaped in JSON. */
static void escape_sequences(void **state)
{
    (void)state;
    char *path = xasprintf("%s/mappings/commercial.audit", dir);
    struct audit *a;
    assert_int_equal(audit_open(path, &a), 0);
    struct audit_entry e = { .time = FIXTURE_DAY1 + 3 * 86400, .run_id = "r5", .anchor = "esc",
                             .upn = "esc\x1b[2J@corp.example", .display_name = "Evil\x1b]0;t\a\xc2\x9b\xe2\x80\xae",
                             .action = "convert", .outcome = "dry-run" };
    assert_int_equal(audit_append(a, &e), 0);
    assert_int_equal(audit_close(a), 0);
    struct report_filter f = { .run_id = "r5" };
    char *csv = render(&f, CSV);
    if (!strstr(csv, ",\"Evil\x1b]0;t\a\xc2\x9b\xe2\x80\xae\",\"esc\x1b[2J@corp.example\","))
        fail_msg("the hostile cells are not kept and quoted in\n%s", csv);
    free(csv);
    char *json = render(&f, JSON);
    assert_non_null(strstr(json, "\"esc\\u001b[2J@corp.example\""));
    free(json);
    report_fixture_free_config(&cfg);
    assert_int_equal(report_fixture_small(dir, &cfg), 0);
    free(path);
}

/* ---- filters ----------------------------------------------------------- */

static size_t rows(const struct report_filter *filter, const char *tenant)
{
    struct report_filter f = *filter;
    f.now = NOW;
    struct report *r;
    assert_int_equal(report_gather(&cfg, &f, &r), 0);
    size_t n = 0;
    for (size_t i = 0; i < r->ntenants; i++)
        if (!tenant || !strcmp(r->tenants[i].name, tenant))
            n += r->tenants[i].nrows;
    report_free(r);
    return n;
}

static void filters(void **state)
{
    (void)state;
    struct report_filter f = { 0 };
    assert_int_equal(rows(&f, NULL), 8);
    /* the home user's record is not a conversion: never a row */
    f.tenant = "GCCH";   /* as config_tenant: case-insensitive */
    assert_int_equal(rows(&f, NULL), 6);
    f = (struct report_filter){ 0 };
    /* activity on the 17th: all but the ghost (a dry run on the 16th) */
    assert_int_equal(report_parse_time("--since", "2026-11-17", false, &f.since), 0);
    f.has_since = true;
    assert_int_equal(rows(&f, "gcch"), 5);
    assert_int_equal(rows(&f, "commercial"), 2);
    /* up to the end of the 16th: run r1's accounts */
    f = (struct report_filter){ 0 };
    assert_int_equal(report_parse_time("--until", "2026-11-16", true, &f.until), 0);
    f.has_until = true;
    assert_int_equal(rows(&f, "gcch"), 4);
    assert_int_equal(rows(&f, "commercial"), 1);
    /* a window that holds nothing */
    assert_int_equal(report_parse_time("--until", "2026-11-15", true, &f.until), 0);
    assert_int_equal(rows(&f, NULL), 0);
    /* states */
    f = (struct report_filter){ 0 };
    assert_int_equal(report_parse_states("--state", "blocked", &f.states), 0);
    assert_int_equal(rows(&f, NULL), 2);
    assert_int_equal(report_parse_states("--state", "Accepted, pending-acceptance", &f.states), 0);
    assert_int_equal(rows(&f, NULL), 3);
    /* one run */
    f = (struct report_filter){ .run_id = "r1" };
    assert_int_equal(rows(&f, "gcch"), 4);
    assert_int_equal(rows(&f, "commercial"), 1);
    f.run_id = "no-such-run";
    assert_int_equal(rows(&f, NULL), 0);

    /* the history is that of the period; the state the current one */
    struct report *r;
    f = (struct report_filter){ .run_id = "r1", .now = NOW };
    assert_int_equal(report_gather(&cfg, &f, &r), 0);
    const struct report_tenant *t = &r->tenants[0];
    assert_int_equal(t->nrows, 4);
    const struct report_row *zoe = t->rows[3];
    assert_string_equal(zoe->upn, "zoe.angstrom@corp.example");
    assert_int_equal(zoe->state, MAP_STATE_ACCEPTED);
    assert_int_equal(zoe->nevents, 1);
    assert_string_equal(zoe->history->action, "convert");
    assert_int_equal(t->totals[MAP_STATE_BLOCKED], 1);   /* the tenant as a whole */
    assert_int_equal(t->states[MAP_STATE_BLOCKED], 0);   /* this run blocked nobody here */
    report_free(r);

    /* an unknown tenant */
    f = (struct report_filter){ .tenant = "nope" };
    assert_int_equal(report_gather(&cfg, &f, &r), -1);
}

static void parse_time(void **state)
{
    (void)state;
    int64_t t;
    assert_int_equal(report_parse_time("--since", "2026-11-16", false, &t), 0);
    assert_int_equal(t, FIXTURE_DAY1 - 9 * 3600);
    assert_int_equal(report_parse_time("--until", "2026-11-16", true, &t), 0);
    assert_int_equal(t, FIXTURE_DAY1 - 9 * 3600 + 86399);
    assert_int_equal(report_parse_time("--since", "2026-11-16T09:00:00Z", false, &t), 0);
    assert_int_equal(t, FIXTURE_DAY1);
    assert_int_equal(report_parse_time("--since", "2026-11-16 09:00", false, &t), 0);
    assert_int_equal(t, FIXTURE_DAY1);
    assert_int_equal(report_parse_time("--until", "2026-11-16T09:00", true, &t), 0);
    assert_int_equal(t, FIXTURE_DAY1 + 59);
    assert_int_equal(report_parse_time("--since", "2026-11-16T10:00:00+01:00", false, &t), 0);
    assert_int_equal(t, FIXTURE_DAY1);
    assert_int_equal(report_parse_time("--since", "2026-11-16T04:00:00-0500", false, &t), 0);
    assert_int_equal(t, FIXTURE_DAY1);
    assert_int_equal(report_parse_time("--since", "2026-11-16T09:00:00.1234567Z", false, &t), 0);
    assert_int_equal(t, FIXTURE_DAY1);
    assert_int_equal(report_parse_time("--since", "2024-02-29", false, &t), 0);
    static const char *const bad[] = {
        "", "yesterday", "2026-13-01", "2026-02-29", "2026-11-31", "2026-11-16T24:00", "2026-11-16T09:60",
        "2026-11-16T09", "2026-11-16Z", "2026-11-16T09:00:00+25:00", "1969-12-31", "26-11-16",
        "2026-11-16T09:00:00 extra", "2026/11/16", "2026-11-16T09:00:00.Z",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
        if (report_parse_time("--since", bad[i], false, &t) != -1)
            fail_msg("'%s' was taken as a date", bad[i]);
}

static void parse_states(void **state)
{
    (void)state;
    unsigned m;
    assert_int_equal(report_parse_states("--state", "blocked", &m), 0);
    assert_int_equal(m, 1u << MAP_STATE_BLOCKED);
    assert_int_equal(report_parse_states("--state", "invited,GONE, unmapped", &m), 0);
    assert_int_equal(m, 1u << MAP_STATE_INVITED | 1u << MAP_STATE_GONE | 1u << REPORT_STATE_UNMAPPED);
    assert_int_equal(report_parse_states("--state", "pending-acceptance", &m), 0);
    assert_int_equal(m, 1u << MAP_STATE_INVITED);
    m = 42;
    assert_int_equal(report_parse_states("--state", "blocked,done", &m), -1);
    assert_int_equal(m, 42);
    assert_int_equal(report_parse_states("--state", "", &m), -1);
    assert_int_equal(report_parse_states("--state", "blocked,", &m), -1);
}

/* ---- the terminal sanitiser (util.h) ----------------------------- */

static void safe_is(const char *in, const char *want)
{
    struct strbuf sb = STRBUF_INIT;
    term_safe(&sb, in);
    if (strcmp(strbuf_str(&sb), want))
        fail_msg("term_safe(\"%s\") gave \"%s\", want \"%s\"", in, strbuf_str(&sb), want);
    strbuf_release(&sb);
}

static void term_safe_values(void **state)
{
    (void)state;
    /* escape sequences start with ESC or the C1 CSI, as either encoding */
    safe_is("a\x1b" "b", "a\\eb");
    safe_is("\x1b]0;title\a", "\\e]0;title\\x07");          /* OSC: retitles the terminal */
    safe_is("\x1b[2J", "\\e[2J");                          /* CSI: clears it */
    safe_is("x\xc2\x9b" "2J", "x\\u009b2J");               /* U+009B, UTF-8 encoded */
    safe_is("x\x9b" "2J", "x\\x9b2J");                     /* the raw byte, not UTF-8 */
    safe_is("\xc2\x80\xc2\x9f\xc2\xa0", "\\u0080\\u009f\xc2\xa0");   /* C1 ends at U+009F */
    /* the other C0 controls and DEL */
    safe_is("tab\there\nnew\rline", "tab\\there\\nnew\\rline");
    safe_is("\x01\x08\x1f\x7f", "\\x01\\x08\\x1f\\x7f");
    /* bidi: overrides, embeddings, isolates, marks; line separators */
    safe_is("gpj.\xe2\x80\xae" "exe", "gpj.\\u202eexe");
    safe_is("\xe2\x80\xaa\xe2\x80\xad\xe2\x81\xa6\xe2\x81\xa9\xe2\x80\x8f\xd8\x9c\xe2\x80\xa8",
            "\\u202a\\u202d\\u2066\\u2069\\u200f\\u061c\\u2028");
    /* invalid UTF-8: stray continuation, truncated, overlong, surrogate, > U+10FFFF */
    safe_is("a\x80z", "a\\x80z");
    safe_is("\xff\xfe", "\\xff\\xfe");
    safe_is("cut\xe2\x82", "cut\\xe2\\x82");
    safe_is("\xc0\xaf", "\\xc0\\xaf");
    safe_is("\xed\xa0\x80", "\\xed\\xa0\\x80");
    safe_is("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80");
    /* what people's names and DNs hold passes unchanged */
    const char *plain[] = {
        "Nguy\xe1\xbb\x85n V\xc4\x83n An", "\xe6\x9d\x8e\xe9\x9b\xb7", "\xe7\x94\xb0\xe4\xb8\xad \xe5\xa4\xaa\xe9\x83\x8e",
        "Zo\xc3\xab \xc3\x85ngstr\xc3\xb6m", "\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d", "\xf0\x9f\x98\x80",
        "CN=Lee\\, Bob,OU=US,DC=corp", "<script>&\"'", "",
    };
    for (size_t i = 0; i < ARRAY_SIZE(plain); i++)
        safe_is(plain[i], plain[i]);
    struct strbuf sb = STRBUF_INIT;
    term_safe(&sb, NULL);
    assert_string_equal(strbuf_str(&sb), "");
    /* cut at a character boundary, never inside one */
    term_safe_cut(&sb, "\xe6\x9d\x8e\xe9\x9b\xb7\xe6\x9d\x8e", 4);
    assert_string_equal(strbuf_str(&sb), "\xe6\x9d\x8e\xe9\x9b\xb7...");
    assert_string_equal(term_safe_str(&sb, "\x1b[31m"), "\\e[31m");
    assert_string_equal(term_safe_str(&sb, "ok"), "ok");
    strbuf_release(&sb);
}

/* ---- the run summary --------------------------------------------------- */

static void run_summary(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    assert_int_equal(report_print_run_summary(f, &cfg, NULL, "r2"), 0);
    fclose(f);
    assert_string_equal(text,
        "tenant gcch (usgov-high), run r2:\n"
        "  this run: 4 done (convert 1, refresh 1, revert 1, forget 1), 1 blocked (convert 1), 1 failed (convert 1)\n"
        "  blocked now: onPremisesUserPrincipalName is set (1)\n"
        "  tenant now: 2 converted (1 accepted, 1 pending acceptance), 1 blocked, 1 reverted, 1 gone, 0 pending\n"
        "  needs attention:\n"
        "    mallory@corp.example: blocked: onPremisesUserPrincipalName is set; change the Connect rule that writes it\n"
        "tenant commercial (global), run r2:\n"
        "  this run: 1 done (refresh 1), 1 blocked (convert 1)\n"
        "  blocked now: not synced to the tenant yet (1)\n"
        "  tenant now: 1 converted (1 accepted, 0 pending acceptance), 1 blocked, 0 reverted, 0 gone, 0 pending\n"
        "  needs attention:\n"
        /* the error's TAB shown as \t, as every control (term_safe) */
        "    bob.lee@fabrikam-defense.example: blocked: not synced to the tenant yet\\twait for the next Entra Connect cycle\n");
    free(text);

    /* the run's HTML report, written atomically */
    char *path = xasprintf("%s/run.html", dir);
    assert_int_equal(report_write_run_html(path, &cfg, "commercial", "r2"), 0);
    char *html = slurp(path);
    assert_non_null(html);
    assert_int_equal(count(html, "<tr data-tenant="), 2);
    assert_non_null(strstr(html, "Run: r2."));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    free(html);
    free(path);
}

/* ---- saving, missing and damaged files ---------------------------------- */

static void save(void **state)
{
    (void)state;
    struct strbuf sb = STRBUF_INIT;
    strbuf_addstr(&sb, "hello\n");
    char *path = xasprintf("%s/out.csv", dir);
    assert_int_equal(report_save(path, &sb), 0);
    char *got = slurp(path);
    assert_string_equal(got, "hello\n");
    free(got);
    /* a device is written into, not replaced */
    const char *null_device = testplat_null_device();
    assert_int_equal(report_save(null_device, &sb), 0);
    /* and is still the device (stat() of "NUL" fails in msvcrt: ask the
     * platform layer, which is what report_save asks) */
    enum platform_path_kind kind;
    assert_int_equal(platform_path_kind(null_device, &kind), 0);
    assert_int_equal(kind, PLATFORM_PATH_OTHER);
    /* a directory is refused */
    assert_int_equal(report_save(dir, &sb), -1);
    strbuf_release(&sb);
    free(path);
}

static void missing_files(void **state)
{
    (void)state;
    /* a tenant that has run nothing yet: an empty report, and no file made */
    char *d = xasprintf("%s/empty", dir);
    assert_int_equal(mkdir(d, 0700), 0);
    struct config c = { .path = "x.conf", .ntenants = 1 };
    struct tenant_config tc = { .name = "fresh", .tenant_id = "11111111-2222-4333-8444-555555555555",
                                .cloud = CLOUD_GLOBAL };
    tc.mapping_file = xasprintf("%s/fresh.map", d);
    c.tenants = &tc;
    struct report_filter f = { .now = NOW };
    struct report *r;
    assert_int_equal(report_gather(&c, &f, &r), 0);
    assert_int_equal(r->tenants[0].nrows, 0);
    struct strbuf out = STRBUF_INIT;
    report_html(r, &out);
    assert_non_null(strstr(out.buf, "No conversions in this period."));
    report_free(r);
    strbuf_release(&out);
    assert_int_equal(each_entry(d, NULL), 0);
    free(tc.mapping_file);
    free(d);
}

static void damaged_audit(void **state)
{
    (void)state;
    char *path = xasprintf("%s/mappings/gcch.audit", dir);
    FILE *f = fopen(path, "a");
    fputs("not json\n", f);
    fclose(f);
    struct report_filter flt = { .now = NOW };
    struct report *r;
    assert_int_equal(report_gather(&cfg, &flt, &r), -1);
    /* an entry without a valid time is damage too */
    report_fixture_free_config(&cfg);
    assert_int_equal(report_fixture_small(dir, &cfg), 0);
    f = fopen(path, "a");
    fputs("{\"time\":\"2026-02-30T00:00:00Z\",\"anchor\":\"x\"}\n", f);
    fclose(f);
    assert_int_equal(report_gather(&cfg, &flt, &r), -1);
    report_fixture_free_config(&cfg);
    /* a torn last line (a crash mid-append) is not an entry: no error */
    assert_int_equal(report_fixture_small(dir, &cfg), 0);
    f = fopen(path, "a");
    fputs("{\"time\":\"2026-11-18T0", f);
    fclose(f);
    assert_int_equal(report_gather(&cfg, &flt, &r), 0);
    report_free(r);
    report_fixture_free_config(&cfg);
    assert_int_equal(report_fixture_small(dir, &cfg), 0);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(csv_exact),
        cmocka_unit_test(csv_formula_cells),
        cmocka_unit_test(json_exact),
        cmocka_unit_test(html_exact),
        cmocka_unit_test(bad_bytes),
        cmocka_unit_test(escape_sequences),
        cmocka_unit_test(json_string_writer),
        cmocka_unit_test(csv_cell_writer),
        cmocka_unit_test(filters),
        cmocka_unit_test(parse_time),
        cmocka_unit_test(parse_states),
        cmocka_unit_test(term_safe_values),
        cmocka_unit_test(run_summary),
        cmocka_unit_test(save),
        cmocka_unit_test(missing_files),
        cmocka_unit_test(damaged_audit),
    };
    return cmocka_run_group_tests_name("report", tests, setup, teardown);
}
