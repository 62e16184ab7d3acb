/* Unit tests for util.c: the ISO-8601 time codec. */
#include "compat.h"

#include <setjmp.h>
#include <stdarg.h>
#include <unistd.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "log.h"
#include "util.h"

static int parse(const char *s, unsigned flags, int64_t *t)
{
    return iso_time_parse(s, strlen(s), flags, t);
}

static void iso_valid(void **state)
{
    (void)state;
    int64_t t;
    assert_int_equal(parse("2026-12-07T05:42:29Z", 0, &t), 0);
    assert_int_equal(t, 1796622149);
    assert_int_equal(parse("1970-01-01T00:00:00Z", 0, &t), 0);
    assert_int_equal(t, 0);
    assert_int_equal(parse("2099-12-31T23:59:59Z", 0, &t), 0);
    assert_int_equal(t, 4102444799);
    assert_int_equal(parse("9999-12-31T23:59:59Z", 0, &t), 0);
    assert_int_equal(t, ISO_TIME_MAX);
    assert_int_equal(parse("2028-02-29T12:00:00Z", 0, &t), 0);
    assert_int_equal(t, 1835438400);
    assert_int_equal(parse("2000-02-29T00:00:00Z", 0, &t), 0);   /* 400-year leap */
    assert_int_equal(t, 951782400);
}

static void iso_invalid(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", "2026-12-07", "2026-12-07T05:42Z", "2026-12-07T05:42:29", "2026-12-07T05:42:29z",
        "2026-12-07t05:42:29Z", "2026-12-07 05:42:29Z", "2026-00-07T05:42:29Z",
        "2026-13-07T05:42:29Z", "2026-12-00T05:42:29Z", "2026-12-32T05:42:29Z",
        "2026-04-31T05:42:29Z", "2027-02-29T00:00:00Z", "2100-02-29T00:00:00Z",
        "2026-12-07T24:00:00Z", "2026-12-07T05:60:29Z", "2026-12-07T05:42:60Z",
        "1969-12-31T23:59:59Z", "26-12-07T05:42:29Z", "+026-12-07T05:42:29Z",
        "2026-12-07T05:42:29.5Z", "2026-12-07T05:42:29Z ", " 2026-12-07T05:42:29Z",
        "2026-12-07T05:42:29+01:00", "2026/12/07T05:42:29Z", "2026-1-07T05:42:29Z",
    };
    int64_t t = 42;
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
        if (parse(bad[i], 0, &t) != -1)
            fail_msg("'%s' was taken as a time", bad[i]);
    assert_int_equal(t, 42);                                   /* untouched */
    /* len is the end, not a NUL: a prefix is not a time */
    assert_int_equal(iso_time_parse("2026-12-07T05:42:29Z", 19, 0, &t), -1);
}

static void iso_fraction(void **state)
{
    (void)state;
    int64_t t;
    assert_int_equal(parse("2026-12-07T05:42:29.1234567Z", ISO_TIME_FRACTION, &t), 0);
    assert_int_equal(t, 1796622149);
    assert_int_equal(parse("2026-12-07T05:42:29,9Z", ISO_TIME_FRACTION, &t), 0);
    assert_int_equal(t, 1796622149);                           /* dropped, not rounded */
    assert_int_equal(parse("2026-12-07T05:42:29Z", ISO_TIME_FRACTION, &t), 0);
    static const char *const bad[] = {
        "2026-12-07T05:42:29.Z", "2026-12-07T05:42:29.1", "2026-12-07T05:42.5Z",
        "2026-12-07T05:42:29.1x Z", "2026-12-07T05:42:29.1+01:00", "2026-12-07",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
        if (parse(bad[i], ISO_TIME_FRACTION, &t) != -1)
            fail_msg("'%s' was taken as a time", bad[i]);
}

static void iso_human(void **state)
{
    (void)state;
    int64_t t;
    const unsigned h = ISO_TIME_HUMAN;
    assert_int_equal(parse("2026-12-07", h, &t), 0);
    assert_int_equal(t, 1796601600);
    assert_int_equal(parse("2026-12-07", h | ISO_TIME_END, &t), 0);
    assert_int_equal(t, 1796601600 + 86399);
    assert_int_equal(parse("2026-12-07 05:42", h | ISO_TIME_END, &t), 0);
    assert_int_equal(t, 1796622120 + 59);
    assert_int_equal(parse("2026-12-07t05:42:29z", h, &t), 0);
    assert_int_equal(t, 1796622149);
    assert_int_equal(parse("2026-12-07T06:42:29+01:00", h, &t), 0);
    assert_int_equal(t, 1796622149);
    assert_int_equal(parse("2026-12-07T00:42:29-0500", h, &t), 0);
    assert_int_equal(t, 1796622149);
    static const char *const bad[] = {
        "2026-12-07Z", "2026-12-07T05", "2026-12-07T05:42:29.5Z", "2027-02-29",
        "2026-12-07T05:42:29+24:00", "1970-01-01T00:30+01:00", "2026-12-07T",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
        if (parse(bad[i], h, &t) != -1)
            fail_msg("'%s' was taken as a time", bad[i]);
}

static void iso_round_trip(void **state)
{
    (void)state;
    char buf[ISO_TIME_LEN + 1];
    int64_t t;
    /* a stride that is no whole number of days or years: the samples fall at
     * every time of day and in every part of the year, 1970 to 9999 */
    for (int64_t s = 0; s <= ISO_TIME_MAX; s += 7919 * 3607) {
        assert_int_equal(iso_time_format(s, buf), ISO_TIME_LEN);
        assert_int_equal(strlen(buf), ISO_TIME_LEN);
        assert_int_equal(parse(buf, 0, &t), 0);
        assert_int_equal(t, s);
    }
    assert_int_equal(iso_time_format(ISO_TIME_MAX, buf), ISO_TIME_LEN);
    assert_string_equal(buf, "9999-12-31T23:59:59Z");
    assert_int_equal(iso_time_format(1835438400, buf), ISO_TIME_LEN);
    assert_string_equal(buf, "2028-02-29T12:00:00Z");
    assert_int_equal(iso_time_format(-1, buf), 0);
    assert_string_equal(buf, "");
    assert_int_equal(iso_time_format(ISO_TIME_MAX + 1, buf), 0);
    assert_string_equal(buf, "");
}

/* What is printed on stderr between capture_start and capture_end. */
static FILE *captured;
static int saved_fd;

static void capture_start(void)
{
    fflush(stderr);
    saved_fd = dup(2);
    captured = tmpfile();
    assert_non_null(captured);
    dup2(fileno(captured), 2);
}

static char *capture_end(void)
{
    fflush(stderr);
    dup2(saved_fd, 2);
    close(saved_fd);
    rewind(captured);
    struct strbuf sb = STRBUF_INIT;
    char buf[512];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), captured)) > 0)
        strbuf_add(&sb, buf, n);
    fclose(captured);
    return strbuf_detach(&sb);
}

/* An AD value quoted in an error message reaches the terminal through
 * term_safe: no ESC (CSI, OSC title), no C1 CSI (U+009B, or a raw 0x9B), no
 * bidi override, no line break of its own. Failed before: log.c printed the
 * value's bytes as they were. */
static void log_quotes_ad_values_safely(void **state)
{
    (void)state;
    const char *hostile = "Eve\x1b]0;owned\x07\x1b[2J\xc2\x9b" "31m\x9b\xe2\x80\xae" "fdp.exe\n"
                          "dualsync: fake line\r\t!";
    capture_start();
    log_error("user %s: not converted", hostile);
    char *out = capture_end();
    assert_null(strchr(out, 0x1b));
    assert_null(strstr(out, "\xc2\x9b"));
    assert_null(strchr(out, (char)0x9b));
    assert_null(strstr(out, "\xe2\x80\xae"));
    assert_null(strchr(out, '\r'));
    assert_null(strchr(out, '\t'));
    assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1);     /* one line */
    assert_string_equal(out, "dualsync: error: user Eve\\e]0;owned\\x07\\e[2J\\u009b31m\\x9b\\u202e"
                             "fdp.exe\\ndualsync: fake line\\r\\t!: not converted\n");
    free(out);
    /* a message whose format has a line break keeps its layout */
    capture_start();
    log_error("file:1:2: bad\n    %s\n    \t^", "\tx = 1\x1b");
    out = capture_end();
    assert_string_equal(out, "dualsync: error: file:1:2: bad\n    \tx = 1\\e\n    \t^\n");
    free(out);
    /* UTF-8 names stay as they are */
    capture_start();
    log_error("user %s", "Nguy\xe1\xbb\x85n \xe6\x9d\x8e");
    out = capture_end();
    assert_string_equal(out, "dualsync: error: user Nguy\xe1\xbb\x85n \xe6\x9d\x8e\n");
    free(out);
}

/* The one UTF-8 rule of the machine formats: valid text is kept (and not
 * copied), each byte that does not start a valid sequence is U+FFFD; a
 * cJSON tree built with json_add_str prints as UTF-8 whatever it was given. */
static void utf8_repair(void **state)
{
    (void)state;
    struct strbuf buf = STRBUF_INIT;
    const char *ok = "Zo\xc3\xab \xe6\x9d\x8e\xe9\x9b\xb7 \xf0\x9f\x98\x80 \x1b";
    assert_ptr_equal(utf8_repaired(&buf, ok), ok);
    assert_null(utf8_repaired(&buf, NULL));
    assert_string_equal(utf8_repaired(&buf, "a\xff" "b\xc3"), "a" UTF8_REPLACEMENT "b" UTF8_REPLACEMENT);
    /* overlong, surrogate, beyond U+10FFFF, a lone continuation byte */
    assert_string_equal(utf8_repaired(&buf, "\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80|\x80"),
                        UTF8_REPLACEMENT UTF8_REPLACEMENT "|" UTF8_REPLACEMENT UTF8_REPLACEMENT
                        UTF8_REPLACEMENT "|" UTF8_REPLACEMENT UTF8_REPLACEMENT UTF8_REPLACEMENT
                        UTF8_REPLACEMENT "|" UTF8_REPLACEMENT);
    strbuf_release(&buf);

    cJSON *o = cJSON_CreateObject();
    json_add_str(o, "bad", "x\xfey");
    json_add_str(o, "none", NULL);
    json_add_str(o, "good", ok);
    cJSON_AddItemToObject(o, "item", json_str_item("\x9b"));
    char *text = cJSON_PrintUnformatted(o);
    assert_string_equal(text, "{\"bad\":\"x" UTF8_REPLACEMENT "y\",\"good\":\"Zo\xc3\xab \xe6\x9d\x8e\xe9\x9b\xb7 "
                              "\xf0\x9f\x98\x80 \\u001b\",\"item\":\"" UTF8_REPLACEMENT "\"}");
    cJSON_free(text);
    cJSON_Delete(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(iso_valid),
        cmocka_unit_test(iso_invalid),
        cmocka_unit_test(iso_fraction),
        cmocka_unit_test(iso_human),
        cmocka_unit_test(iso_round_trip),
        cmocka_unit_test(log_quotes_ad_values_safely),
        cmocka_unit_test(utf8_repair),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
