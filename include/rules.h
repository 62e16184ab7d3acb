/* rules.h - the rule language of the [tenant NAME] sections: text → condition tree.
 *
 * Pure: no I/O, no LDAP. The parser stops at the first error and reports its
 * byte offset in the text and a lowercase message; config.c turns the offset
 * into FILE:LINE:COLUMN and prints the line with a caret under the spot.
 *
 * Grammar (doc/dualsync.conf.5 is the user's version of it):
 *
 *   rule       := condition "->" outcome
 *   outcome    := member | external-member | external-guest | contact | exclude
 *   condition  := term { "or" term }
 *   term       := factor { "and" factor }
 *   factor     := "not" factor | "(" condition ")" | predicate
 *   predicate  := true | false | enabled | disabled | homeless
 *               | class CLASS | class in ( CLASS, ... )       user, contact, group
 *               | under DN | memberof DN                       DN: a quoted string
 *               | home | home TENANT | home in ( TENANT, ... )
 *               | has ATTR
 *               | ATTR = VALUE | ATTR != VALUE | ATTR in ( VALUE, ... )
 *               | ATTR starts-with VALUE | ATTR ends-with VALUE | ATTR matches REGEX
 *   VALUE      := "double quoted" (\" and \\ are escapes, any other \ stays)
 *               | 'single quoted' (raw, for regexes and DNs with backslashes)
 *               | bare-word      (letters, digits and . _ @ + : / * $ # & % -)
 *
 * Keywords are case-insensitive and win over attribute names (an attribute
 * that is spelled like one — there is none in AD's schema except memberOf,
 * for which `memberof` is the better test anyway — cannot be compared).
 * Comparisons are ASCII-case-insensitive, as AD compares Directory Strings;
 * regexes are POSIX extended, case-insensitive. A multi-valued attribute
 * matches when any value does; a missing one matches nothing (but != and
 * not: "mail != x" is true when mail is absent). */
#ifndef DUALSYNC_RULES_H
#define DUALSYNC_RULES_H

#include "compat.h"
#include "adobject.h"
#include "decision.h"

struct strbuf;

/* Conditions nest at most this deep, parentheses and not included. */
#define RULES_MAX_DEPTH 64

enum cond_op {
    COND_TRUE, COND_FALSE,
    COND_AND, COND_OR, COND_NOT,
    COND_ENABLED, COND_DISABLED,
    COND_CLASS,       /* classes */
    COND_UNDER,       /* name: an OU or container DN */
    COND_MEMBEROF,    /* name: a group DN; nested membership counts */
    COND_HOME,        /* values: tenant names; none = the tenant the rule is in */
    COND_HOMELESS,    /* no tenant's home_when matches */
    COND_HAS,         /* name: attribute */
    COND_EQ, COND_NE, COND_IN, COND_PREFIX, COND_SUFFIX, COND_MATCH,  /* name, values */
};

/* One node of a condition tree. Every string is owned by the tree; cond_free
 * releases it all. */
struct cond {
    enum cond_op op;
    size_t offset;            /* where it starts in the parsed text */
    struct cond *left;        /* AND, OR, NOT */
    struct cond *right;       /* AND, OR */
    char *name;               /* attribute name or DN, as written */
    char **values;            /* COND_EQ..COND_MATCH: 1 value, COND_IN: n; COND_HOME: tenants */
    size_t nvalues;
    size_t *value_offsets;    /* where each value starts (home TENANT errors point there) */
    unsigned classes;         /* COND_CLASS: bit 1 << enum ad_class */
};

struct rules_error {
    size_t offset;            /* byte offset of the offending token in the text */
    char message[256];
};

/* Parse "condition -> outcome". Returns 0 with *cond (caller frees with
 * cond_free) and *outcome, or -1 with *err filled and *cond NULL. */
int rules_parse_rule(const char *text, struct cond **cond, enum decision *outcome,
                     struct rules_error *err);
/* Parse a condition alone (home_when). Same contract. */
int rules_parse_condition(const char *text, struct cond **cond, struct rules_error *err);
/* Parse an outcome alone (default). Returns 0 or -1 with *err. */
int rules_parse_outcome(const char *text, enum decision *outcome, struct rules_error *err);

/* Bounds on a `matches` pattern, checked before regcomp ever sees it (doc/config.md,
 * "Regular expressions"). glibc and TRE neither backtrack nor bound their
 * input: what costs is a counted repetition, which both compile by copying
 * what it repeats once per count ('(.*){1,32000}' took 23.7 GB), and a
 * back-reference, whose matching is exponential. */
#define RULES_REGEX_MAX_LEN     256   /* bytes of the pattern */
#define RULES_REGEX_MAX_COUNT   100   /* m and n of {m}, {m,}, {m,n} */
#define RULES_REGEX_MAX_GROUPS  8     /* ( ) nested in each other */
#define RULES_REGEX_MAX_COPIES  256   /* atoms once every count is written out */

/* Returns 0 when `pattern` is inside those bounds, else -1 with *err: its
 * offset is the byte of the pattern that crosses one. Does not compile it:
 * syntax errors are regcomp's to report. */
int rules_regex_check(const char *pattern, struct rules_error *err);

void cond_free(struct cond *c);

/* Append the condition in canonical form (parsing it again gives the same
 * tree). Used by explain and by the fuzzer's round-trip check. */
void cond_format(const struct cond *c, struct strbuf *out);

/* Append one predicate alone (an AND/OR/NOT node prints only its operator). */
void cond_format_node(const struct cond *c, struct strbuf *out);

/* Call fn on every node, parents before children; stop when fn returns non-zero
 * and return that value. */
int cond_walk(const struct cond *c, int (*fn)(const struct cond *node, void *ctx), void *ctx);

/* The ASCII-case-insensitive ordering the policy and the parser both use
 * (strcasecmp depends on the locale; AD's comparison does not). */
int rules_strcasecmp(const char *a, const char *b);

#endif
