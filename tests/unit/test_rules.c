/* Unit tests for rules.c: the rule language, every parse error message with
 * the offset it points at, and the canonical form (parse → format → parse). */
#include "compat.h"

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#include "rules.h"
#include "util.h"

enum kind { RULE, COND, OUTCOME };

static int parse(enum kind k, const char *text, struct cond **c, enum decision *d,
                 struct rules_error *err)
{
    *c = NULL;
    if (k == RULE)
        return rules_parse_rule(text, c, d, err);
    if (k == COND)
        return rules_parse_condition(text, c, err);
    return rules_parse_outcome(text, d, err);
}

static char *format(const struct cond *c)
{
    struct strbuf sb = STRBUF_INIT;
    cond_format(c, &sb);
    return strbuf_detach(&sb);
}

/* Every message the parser can give, the text that provokes it and the byte
 * the error points at (the caret). */
static const struct {
    enum kind kind;
    const char *text;
    size_t offset;
    const char *message;
} errors[] = {
    { RULE, "c == US -> member", 2, "'==' is not an operator; compare with a single =" },
    { RULE, "c = \"US -> member", 4, "unterminated string: close it with \"" },
    { RULE, "c = 'US -> member", 4, "unterminated string: close it with '" },
    { RULE, "c ! US -> member", 2, "unexpected '!': write != for not-equal, or not before a condition" },
    { RULE, "c = US; -> member", 6, "unexpected character ';'; put values with it in quotes" },
    { RULE, "c = \x01 -> member", 4, "unexpected byte 0x01" },
    { RULE, "c = -> member", 4, "expected a value after '=', found '->'" },
    { RULE, "c starts-with -> member", 14, "expected a value after 'starts-with', found '->'" },
    { RULE, "c = \"\" -> member", 4, "an empty value never matches (AD stores no empty strings); "
                                     "to test for a missing attribute write not has ATTR" },
    { RULE, "c in US -> member", 5, "expected '(' and a list of values after in, found 'US'" },
    { RULE, "c in () -> member", 6, "the list is empty; give at least one of values" },
    { RULE, "c in (US, DE", 5, "the list is not closed: expected ')'" },
    { RULE, "c in (US DE) -> member", 9, "expected ',' or ')' in the list, found 'DE'" },
    { RULE, "c in (US, ) -> member", 10, "expected a value after ',', found ')'" },
    { RULE, "class printer -> exclude", 6, "class must be user, contact or group, not 'printer'" },
    { RULE, "class in (user, robot) -> exclude", 16, "class must be user, contact or group, not 'robot'" },
    { RULE, "class -> exclude", 6, "class needs user, contact or group, found '->'" },
    { RULE, "under OU=US -> member", 6, "under needs a DN in quotes, e.g. under \"OU=US,OU=Contoso,"
                                        "DC=corp,DC=example\"; found 'OU'" },
    { RULE, "memberof Staff -> member", 9, "memberof needs a DN in quotes, e.g. memberof "
                                           "\"CN=SG-Staff,OU=Groups,DC=corp,DC=example\"; found 'Staff'" },
    { RULE, "under \"Contoso\" -> member", 6, "'Contoso' is not a DN; write it in full, e.g. under "
                                               "\"OU=US,OU=Contoso,DC=corp,DC=example\"" },
    { RULE, "\"US\" = c -> member", 0, "expected a condition, found the value '\"US\"'; values come "
                                         "after an attribute and an operator (mail = \"x@y\")" },
    { RULE, "c = US and ) -> member", 11, "expected a condition, found ')'" },
    { COND, "c = US and", 10, "expected a condition, found the end of the line" },
    { RULE, "has -> member", 4, "has needs an attribute name (has mail), found '->'" },
    { RULE, "has 9lives -> member", 4, "has needs an attribute name (has mail), found '9lives'" },
    { RULE, "9lives = x -> member", 0, "expected a condition, found '9lives' (an attribute name "
                                       "starts with a letter and has only letters, digits and -)" },
    { RULE, "department -> member", 11, "'department' is an attribute: compare it with =, !=, in (...), "
                                        "starts-with, ends-with or matches, or test it with has "
                                        "department; found '->'" },
    { COND, "department", 0, "'department' is an attribute: compare it with =, !=, in (...), "
                             "starts-with, ends-with or matches, or test it with has department; "
                             "found the end of the line" },
    { RULE, "sAMAccountName matches '(adm' -> exclude", 23, "bad regular expression: " },
    { RULE, "and c = US -> member", 0, "expected a condition, found the keyword 'and'" },
    { RULE, "(c = US -> member", 0, "this '(' is not closed: expected ')'" },
    { COND, "(c = US", 0, "this '(' is not closed: expected ')'" },
    { RULE, "(c = US c = DE) -> member", 8, "expected ')', 'and' or 'or', found 'c'" },
    { RULE, "c = US -> guest", 10, "'guest' is not an outcome; use member, external-member, "
                                   "external-guest, contact or exclude" },
    { RULE, "c = US ->", 9, "the outcome is missing: member, external-member, external-guest, "
                            "contact or exclude" },
    { RULE, "c = US -> member exclude", 17, "unexpected 'exclude' after the outcome; write one "
                                            "rule per rule = line" },
    { RULE, "", 0, "the rule is empty; write CONDITION -> OUTCOME" },
    { RULE, "   -> member", 3, "the rule has no condition before '->'; write true -> OUTCOME, "
                               "or use default = OUTCOME" },
    { RULE, "c = US mail = x -> member", 7, "expected 'and', 'or' or '-> OUTCOME', found 'mail'" },
    { RULE, "c = US", 6, "expected 'and', 'or' or '-> OUTCOME', found the end of the line" },
    { COND, "  ", 0, "the condition is empty" },
    { COND, "c = US -> member", 7, "a condition has no outcome here; remove '-> ...'" },
    { COND, "c = US c = DE", 7, "expected 'and' or 'or', found 'c'" },
    { OUTCOME, "", 0, "the outcome is missing: member, external-member, external-guest, contact or exclude" },
    { OUTCOME, "members", 0, "'members' is not an outcome; use member, external-member, "
                             "external-guest, contact or exclude" },
    { OUTCOME, "external-guest now", 15, "unexpected 'now' after the outcome; write one rule per rule = line" },
    { RULE, "mail = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' x -> member", 59,
      "expected 'and', 'or' or '-> OUTCOME', found 'x'" },
    { RULE, "c = US -> member , x", 17, "unexpected ',' after the outcome; write one rule per rule = line" },
    { RULE, "c = US -> 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'", 10,
      "''" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...' is not an outcome" },
};

static void every_error_message(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(errors); i++) {
        struct cond *c;
        enum decision d;
        struct rules_error err;
        int rc = parse(errors[i].kind, errors[i].text, &c, &d, &err);
        if (rc != -1)
            fail_msg("'%s' parsed, but should fail with: %s", errors[i].text, errors[i].message);
        assert_null(c);
        if (strncmp(err.message, errors[i].message, strlen(errors[i].message)))
            fail_msg("'%s':\n  want '%s'\n  got  '%s'", errors[i].text, errors[i].message, err.message);
        if (err.offset != errors[i].offset)
            fail_msg("'%s': error at %zu, want %zu (%s)", errors[i].text, err.offset,
                     errors[i].offset, err.message);
    }
}

/* A nest deeper than the limit is refused, not a stack overflow. */
static void deep_nesting(void **state)
{
    (void)state;
    struct strbuf sb = STRBUF_INIT;
    for (int i = 0; i < 10000; i++)
        strbuf_addch(&sb, '(');
    strbuf_addstr(&sb, "true -> member");
    struct cond *c;
    enum decision d;
    struct rules_error err;
    assert_int_equal(rules_parse_rule(sb.buf, &c, &d, &err), -1);
    assert_string_equal(err.message, "the condition nests deeper than 64 levels");
    strbuf_reset(&sb);
    for (int i = 0; i < 10000; i++)
        strbuf_addstr(&sb, "not ");
    strbuf_addstr(&sb, "true -> member");
    assert_int_equal(rules_parse_rule(sb.buf, &c, &d, &err), -1);
    assert_string_equal(err.message, "the condition nests deeper than 64 levels");
    /* 30 levels are fine */
    strbuf_reset(&sb);
    for (int i = 0; i < 30; i++)
        strbuf_addch(&sb, '(');
    strbuf_addstr(&sb, "true");
    for (int i = 0; i < 30; i++)
        strbuf_addch(&sb, ')');
    strbuf_addstr(&sb, " -> member");
    assert_int_equal(rules_parse_rule(sb.buf, &c, &d, &err), 0);
    cond_free(c);
    strbuf_release(&sb);
}

/* A regular expression is bounded before regcomp sees it: glibc and TRE copy
 * what a count repeats, so '(.*){1,32000}' took 23.7 GB (issue 15). Each
 * refusal points at the offending spot of the pattern. */
static void regex_limits(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        size_t offset;
        const char *message;
    } refused[] = {
        { "displayName matches '(.*){1,32000}[bc]' -> exclude", 28,
          "the repetition count 32000 is larger than 100" },
        { "displayName matches '(.*){40000}' -> exclude", 26,
          "the repetition count 40000 is larger than 100" },
        { "displayName matches 'a{99999999999999999999,}' -> exclude", 23,
          "the repetition count 99999999999999999999 is larger than 100" },
        /* double quotes: the offset counts the escape's two bytes */
        { "displayName matches \"\\\\(a){200}\" -> exclude", 27,
          "the repetition count 200 is larger than 100" },
        { "mail matches '((a{100}){100})' -> exclude", 23,
          "the counts multiply to 10000 copies" },
        { "mail matches '((((((((((a))))))))))' -> exclude", 22,
          "groups nest deeper than 8 levels" },
        { "mail matches '(a)\\1' -> exclude", 17, "back-references" },
        /* the fuzzer's 17.9 s in regcomp: a count over something that matches nothing */
        { "mail matches '(x?{2,5}[^a]{0,20}){10,}(.+){10,}[q]' -> exclude", 17,
          "'{2,5}' repeats something that can match nothing" },
        { "mail matches '(a*)*' -> exclude", 18, "'*' repeats something that can match nothing" },
        { "mail matches '(a|b?)+' -> exclude", 20, "'+' repeats something that can match nothing" },
        { "mail matches '[(][(]((((((((a))))))))x{1,100}' -> exclude", 14 + 6 + 8 + 1 + 8 + 2,
          "" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(refused); i++) {
        struct cond *c;
        enum decision d;
        struct rules_error err;
        if (!*refused[i].message) {
            /* brackets are not groups, and a count of 100 is allowed */
            if (rules_parse_rule(refused[i].text, &c, &d, &err))
                fail_msg("'%s' refused: %s", refused[i].text, err.message);
            cond_free(c);
            continue;
        }
        if (rules_parse_rule(refused[i].text, &c, &d, &err) != -1)
            fail_msg("'%s' parsed, but should fail with: %s", refused[i].text, refused[i].message);
        if (strncmp(err.message, refused[i].message, strlen(refused[i].message)))
            fail_msg("'%s':\n  want '%s'\n  got  '%s'", refused[i].text, refused[i].message,
                     err.message);
        if (err.offset != refused[i].offset)
            fail_msg("'%s': error at %zu, want %zu", refused[i].text, err.offset, refused[i].offset);
    }

    /* the length: byte 257 is the first one too many */
    struct strbuf sb = STRBUF_INIT;
    strbuf_addstr(&sb, "mail matches '");
    for (int i = 0; i < 257; i++)
        strbuf_addch(&sb, 'a');
    strbuf_addstr(&sb, "' -> exclude");
    struct cond *c;
    enum decision d;
    struct rules_error err;
    assert_int_equal(rules_parse_rule(sb.buf, &c, &d, &err), -1);
    assert_string_equal(err.message, "the regular expression is 257 bytes long, more than 256; "
                                     "match a shorter pattern");
    assert_int_equal(err.offset, 14 + 256);
    strbuf_reset(&sb);
    strbuf_addstr(&sb, "mail matches '");
    for (int i = 0; i < 256; i++)
        strbuf_addch(&sb, 'a');
    strbuf_addstr(&sb, "' -> exclude");
    assert_int_equal(rules_parse_rule(sb.buf, &c, &d, &err), 0);
    cond_free(c);
    strbuf_release(&sb);

    /* what identity admins write stays well inside */
    static const char *const fine[] = {
        "^(svc|adm)[-._][a-z0-9]+$",
        "^[a-z]{2,3}[0-9]{4,6}@(corp|lab)\\.example$",
        "^([a-z0-9-]+\\.)+contoso\\.(com|us)$",
        "^smtp:[^@]+@(fabrikam|contoso)\\.example$",
        "[[:digit:]]{3}-[[:digit:]]{4}",
        "[]a]{1,100}",
    };
    for (size_t i = 0; i < ARRAY_SIZE(fine); i++)
        if (rules_regex_check(fine[i], &err))
            fail_msg("'%s' refused at %zu: %s", fine[i], err.offset, err.message);
}

static void parses_the_language(void **state)
{
    (void)state;
    struct cond *c;
    enum decision d;
    struct rules_error err;
    assert_int_equal(rules_parse_rule("extensionAttribute2 = us-person -> external-member", &c, &d, &err), 0);
    assert_int_equal(d, DECISION_EXTERNAL_MEMBER);
    assert_int_equal(c->op, COND_EQ);
    assert_string_equal(c->name, "extensionAttribute2");
    assert_string_equal(c->values[0], "us-person");
    cond_free(c);

    /* precedence: not > and > or; keywords and outcomes are case-insensitive */
    assert_int_equal(rules_parse_rule("a = 1 OR b = 2 And NOT c = 3 -> EXCLUDE", &c, &d, &err), 0);
    assert_int_equal(d, DECISION_EXCLUDE);
    assert_int_equal(c->op, COND_OR);
    assert_int_equal(c->right->op, COND_AND);
    assert_int_equal(c->right->right->op, COND_NOT);
    cond_free(c);

    /* an arrow right after a bare word ends it */
    assert_int_equal(rules_parse_rule("c = US->member", &c, &d, &err), 0);
    assert_string_equal(c->values[0], "US");
    cond_free(c);

    /* quoting: \" and \\ in double quotes, any other backslash stays (DN escapes) */
    assert_int_equal(rules_parse_rule("under \"OU=R\\, D,OU=\\\"Q\\\",DC=x\" -> member", &c, &d, &err), 0);
    assert_string_equal(c->name, "OU=R\\, D,OU=\"Q\",DC=x");
    cond_free(c);
    assert_int_equal(rules_parse_rule("sAMAccountName matches '^adm\\.[a-z]+$' -> exclude", &c, &d, &err), 0);
    assert_string_equal(c->values[0], "^adm\\.[a-z]+$");
    cond_free(c);

    assert_int_equal(rules_parse_rule("class in (user, contacts) and home in (gcch, \"commercial\") "
                                      "-> contact", &c, &d, &err), 0);
    assert_int_equal(c->left->classes, (1u << AD_CLASS_USER) | (1u << AD_CLASS_CONTACT));
    assert_int_equal(c->right->nvalues, 2);
    assert_string_equal(c->right->values[1], "commercial");
    cond_free(c);

    assert_int_equal(rules_parse_condition("home gcch or homeless", &c, &err), 0);
    assert_int_equal(c->left->op, COND_HOME);
    assert_int_equal(c->left->nvalues, 1);
    assert_int_equal(c->left->value_offsets[0], 5);
    assert_int_equal(c->right->op, COND_HOMELESS);
    cond_free(c);

    /* values that look like keywords are values after an operator */
    assert_int_equal(rules_parse_condition("department = and", &c, &err), 0);
    assert_string_equal(c->values[0], "and");
    cond_free(c);

    assert_int_equal(rules_parse_outcome("  external-guest ", &d, &err), 0);
    assert_int_equal(d, DECISION_EXTERNAL_GUEST);
}

/* format(parse(x)) parses back to the same tree: format is a fixpoint. */
static void canonical_form_round_trips(void **state)
{
    (void)state;
    static const char *const rules[] = {
        "true",
        "not (a = 1 or b = 2) and c in (x, \"y z\", 'q\"')",
        "(a = 1 or b = 2) and (c = 3 or d = 4)",
        "a = 1 or (b = 2 or c = 3)",
        "a = 1 and (b = 2 and c = 3)",
        "not not enabled",
        "under \"OU=Research\\, Development & Labs,OU=US,DC=x\" and memberof \"CN=a\\\\b,DC=x\"",
        "home or home gcch or home in (a, b) or homeless",
        "class user or class in (contact, group)",
        "mail ends-with \"@contoso.example\" and upn starts-with adm and x != \"and\"",
        "sAMAccountName matches '^(svc|adm)[-.]\\\\'",
        "has extensionAttribute1 and not has mail and disabled",
        "x = \"a\\\\\"",
    };
    for (size_t i = 0; i < ARRAY_SIZE(rules); i++) {
        struct cond *c, *c2;
        struct rules_error err;
        if (rules_parse_condition(rules[i], &c, &err))
            fail_msg("'%s': %s at %zu", rules[i], err.message, err.offset);
        char *once = format(c);
        if (rules_parse_condition(once, &c2, &err))
            fail_msg("'%s' formatted as '%s': %s at %zu", rules[i], once, err.message, err.offset);
        char *twice = format(c2);
        assert_string_equal(once, twice);
        free(once);
        free(twice);
        cond_free(c);
        cond_free(c2);
    }
    struct cond *c;
    struct rules_error err;
    assert_int_equal(rules_parse_condition("(a=1 or b=2) and not (c in ('x',y))", &c, &err), 0);
    char *f = format(c);
    assert_string_equal(f, "(a = 1 or b = 2) and not c in (x, y)");
    free(f);
    cond_free(c);
}

static void case_folding_is_ascii(void **state)
{
    (void)state;
    assert_int_equal(rules_strcasecmp("Contoso", "cONTOSO"), 0);
    assert_true(rules_strcasecmp("a", "b") < 0);
    /* no locale games with non-ASCII bytes: only A-Z fold */
    assert_true(rules_strcasecmp("\xc3\x84", "\xc3\xa4") != 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_error_message),
        cmocka_unit_test(deep_nesting),
        cmocka_unit_test(regex_limits),
        cmocka_unit_test(parses_the_language),
        cmocka_unit_test(canonical_form_round_trips),
        cmocka_unit_test(case_folding_is_ascii),
    };
    return cmocka_run_group_tests_name("rules", tests, NULL, NULL);
}
