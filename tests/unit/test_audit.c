/* Unit tests for audit.c: JSON lines, hostile text, torn last line, read back. */
#include "compat.h"

#include <setjmp.h>
#include <stdarg.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "audit.h"
#include "testplat.h"
#include "util.h"

static char dir[] = "/tmp/dualsync-test-audit-XXXXXX";
static char path[256];

static int setup(void **state)
{
    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/t.audit", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path);
    rmdir(dir);
    return 0;
}

struct seen {
    size_t n;
    char names[4][128];
    char outcome[4][32];
};

static int collect(void *ctx, const cJSON *e, size_t line)
{
    struct seen *s = ctx;
    assert_int_equal(line, s->n + 1);
    const cJSON *dn = cJSON_GetObjectItemCaseSensitive(e, "displayName");
    const cJSON *oc = cJSON_GetObjectItemCaseSensitive(e, "outcome");
    snprintf(s->names[s->n], sizeof(s->names[0]), "%s", cJSON_IsString(dn) ? dn->valuestring : "");
    snprintf(s->outcome[s->n], sizeof(s->outcome[0]), "%s", cJSON_IsString(oc) ? oc->valuestring : "");
    s->n++;
    return 0;
}

static void append_and_read_back(void **state)
{
    (void)state;
    struct audit *a;
    assert_int_equal(audit_open(path, &a), 0);
    struct audit_entry e = { .time = 1795000000, .run_id = "r1", .tenant = "gcch", .cloud = "usgov-high",
                             .display_name = "Zoë \"<script>\"\n\tSmith, Jr.", .action = "convert",
                             .outcome = "done", .request_id = "abc" };
    assert_int_equal(audit_append(a, &e), 0);
    e.display_name = "李雷";
    e.outcome = "blocked";
    e.error = "onPremisesUserPrincipalName is set; change the Connect rule";
    assert_int_equal(audit_append(a, &e), 0);
    assert_int_equal(audit_close(a), 0);

    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    struct seen s = { 0 };
    assert_int_equal(audit_read(path, collect, &s), 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.names[0], "Zoë \"<script>\"\n\tSmith, Jr.");
    assert_string_equal(s.names[1], "李雷");
    assert_string_equal(s.outcome[1], "blocked");

    char t[21];
    audit_time(1795000000, t);
    assert_string_equal(t, "2026-11-18T11:06:40Z");
}

static void torn_line_is_cut_on_open(void **state)
{
    (void)state;
    FILE *f = fopen(path, "a");
    fputs("{\"outcome\":\"do", f);   /* a crash in the middle of a write */
    fclose(f);
    struct seen s = { 0 };
    assert_int_equal(audit_read(path, collect, &s), 0);
    assert_int_equal(s.n, 2);          /* the torn line is not an entry */
    struct audit *a;
    assert_int_equal(audit_open(path, &a), 0);
    struct audit_entry e = { .display_name = "after", .outcome = "done" };
    assert_int_equal(audit_append(a, &e), 0);
    assert_int_equal(audit_close(a), 0);
    memset(&s, 0, sizeof(s));
    assert_int_equal(audit_read(path, collect, &s), 0);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.names[2], "after");
}

static void damaged_line_named(void **state)
{
    (void)state;
    FILE *f = fopen(path, "a");
    fputs("not json\n", f);
    fclose(f);
    struct seen s = { 0 };
    assert_int_equal(audit_read(path, collect, &s), -1);
}

/* audit_read_fields: the hand parser gives what cJSON gives, for what
 * audit_append writes and for JSON it does not write (escapes, spaces,
 * numbers), and refuses what is not an object. */
struct got_fields {
    size_t n;
    char text[8][512];
};

static int fields_of(void *ctx, const struct audit_field *f, size_t n, size_t line)
{
    struct got_fields *g = ctx;
    assert_int_equal(line, g->n + 1);
    struct strbuf sb = STRBUF_INIT;
    for (size_t i = 0; i < n; i++)
        strbuf_addf(&sb, "%s%s=%s", i ? "|" : "", f[i].key, f[i].value);
    snprintf(g->text[g->n++], sizeof(g->text[0]), "%s", strbuf_str(&sb));
    strbuf_release(&sb);
    return 0;
}

static void read_fields(void **state)
{
    (void)state;
    unlink(path);
    struct audit *a;
    assert_int_equal(audit_open(path, &a), 0);
    struct audit_entry e = { .time = 1795000000, .run_id = "r1",
                             .display_name = "Zo\xc3\xab \"<script>\"\n\tSmith\\, Jr. \x01 \xf0\x9f\x98\x80",
                             .outcome = "done" };
    assert_int_equal(audit_append(a, &e), 0);
    assert_int_equal(audit_close(a), 0);
    FILE *f = fopen(path, "a");
    /* JSON that audit_append does not write, but that is an entry */
    fputs(" { \"outcome\" : \"a\\u00e9\\ud83d\\ude00\\/\\b\\f\\r\" , \"n\": 5, \"x\": null } \n", f);
    fputs("{\"lone\":\"\\ud800x\",\"nul\":\"a\\u0000b\"}\n", f);
    fputs("{}\n", f);
    fclose(f);
    struct got_fields g = { 0 };
    assert_int_equal(audit_read_fields(path, fields_of, &g), 0);
    assert_int_equal(g.n, 4);
    assert_string_equal(g.text[0], "time=2026-11-18T11:06:40Z|run=r1|displayName=Zo\xc3\xab \"<script>\"\n\tSmith\\, "
                                   "Jr. \x01 \xf0\x9f\x98\x80|outcome=done");
    assert_string_equal(g.text[1], "outcome=a\xc3\xa9\xf0\x9f\x98\x80/\b\f\r");   /* via cJSON: a number */
    assert_string_equal(g.text[2], "lone=\xef\xbf\xbdx|nul=a\xef\xbf\xbd" "b");
    assert_string_equal(g.text[3], "");

    f = fopen(path, "a");
    fputs("[\"not an object\"]\n", f);
    fclose(f);
    memset(&g, 0, sizeof(g));
    assert_int_equal(audit_read_fields(path, fields_of, &g), -1);
    assert_int_equal(g.n, 4);
}

static int count_fields(void *ctx, const struct audit_field *f, size_t n, size_t line)
{
    (void)line;
    for (size_t i = 0; i < n; i++)
        *(size_t *)ctx += strlen(f[i].key) + strlen(f[i].value);
    return 0;
}

/* Damaged lines of every kind: the hand parser and the fallback read them or
 * refuse them, and never read out of bounds (run under make SANITIZE=1). */
static void read_fields_survives_damage(void **state)
{
    (void)state;
    static const char good[] = "{\"time\":\"2026-11-18T11:06:40Z\",\"displayName\":\"Zo\\u00eb \\\"x\\\" \\ud83d\\ude00\","
                               "\"error\":\"a\\tb\\\\c\"}";
    uint64_t rng = 42;
    /* thousands of refusals: their messages are not the point here */
    fflush(stderr);
    int saved = dup(2), devnull = open(testplat_null_device(), O_WRONLY);
    assert_true(saved >= 0 && devnull >= 0);
    dup2(devnull, 2);
    for (int round = 0; round < 3000; round++) {
        char line[sizeof(good) + 8];
        size_t len = sizeof(good) - 1;
        memcpy(line, good, len);
        int edits = 1 + round % 4;
        for (int k = 0; k < edits; k++) {
            rng = rng * 6364136223846793005u + 1442695040888963407u;
            size_t at = (size_t)(rng >> 33) % len;
            static const char pick[] = "\"\\{}:,u0dD \x01\xff";
            line[at] = (rng >> 20) % 3 ? pick[(rng >> 40) % (sizeof(pick) - 1)] : (char)(rng >> 48);
            if (line[at] == '\n' || line[at] == '\0')
                line[at] = '"';
            if ((rng >> 12) % 7 == 0)
                len = at + 1;   /* cut short, mid-escape or mid-string */
        }
        FILE *f = fopen(path, "wb");
        fwrite(line, 1, len, f);
        fputc('\n', f);
        fclose(f);
        size_t total = 0;
        int rc = audit_read_fields(path, count_fields, &total);
        assert_true(rc == 0 || rc == -1);
    }
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(devnull);
    unlink(path);
}

/* An AD value is bytes: a displayName that is not UTF-8 (a tool that wrote
 * Latin-1, a cut multibyte character) must still give an audit line that is
 * JSON, which RFC 8259 section 8.1 asks to be UTF-8: each stray byte becomes
 * U+FFFD, as in every JSON dualsync writes (util.h, utf8_repair_char), and a
 * valid name is kept to the byte. */
static void invalid_utf8_becomes_fffd(void **state)
{
    (void)state;
    struct audit_entry e = { .time = 1795000000, .run_id = "r1",
                             .display_name = "Bad \xff\xfe name \xc3 Zo\xc3\xab \xed\xa0\x80!",
                             .upn = "bad\x9b@contoso.example", .error = "graph said \xe2\x82",
                             .outcome = "done" };
    char *line = audit_format(&e);
    assert_string_equal(line, "{\"time\":\"2026-11-18T11:06:40Z\",\"run\":\"r1\","
                              "\"upn\":\"bad\xef\xbf\xbd@contoso.example\","
                              "\"displayName\":\"Bad \xef\xbf\xbd\xef\xbf\xbd name \xef\xbf\xbd Zo\xc3\xab "
                              "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd!\",\"outcome\":\"done\","
                              "\"error\":\"graph said \xef\xbf\xbd\xef\xbf\xbd\"}");
    cJSON *j = cJSON_Parse(line);
    assert_non_null(j);
    cJSON_Delete(j);
    free(line);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(append_and_read_back),
        cmocka_unit_test(torn_line_is_cut_on_open),
        cmocka_unit_test(damaged_line_named),
        cmocka_unit_test(read_fields),
        cmocka_unit_test(read_fields_survives_damage),
        cmocka_unit_test(invalid_utf8_becomes_fffd),
    };
    return cmocka_run_group_tests_name("audit", tests, setup, teardown);
}
