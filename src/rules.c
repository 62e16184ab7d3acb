/* rules.c - lexer and recursive-descent parser of the rule language (rules.h). */
#include "compat.h"

#include <regex.h>
#include <stdarg.h>

#include "rules.h"
#include "util.h"

/* ------------------------------------------------------------------ lexer */

enum tok_type { T_END, T_WORD, T_STRING, T_LPAREN, T_RPAREN, T_COMMA, T_ARROW, T_EQ, T_NE, T_ERROR };

struct token {
    enum tok_type type;
    size_t offset, len;       /* the token's bytes in the text (quotes included) */
};

enum keyword {
    KW_NONE, KW_AND, KW_OR, KW_NOT, KW_IN, KW_TRUE, KW_FALSE, KW_ENABLED, KW_DISABLED,
    KW_CLASS, KW_UNDER, KW_MEMBEROF, KW_HOME, KW_HOMELESS, KW_HAS, KW_STARTS_WITH,
    KW_ENDS_WITH, KW_MATCHES,
};

static const struct { const char *word; enum keyword kw; } keywords[] = {
    { "and", KW_AND },           { "class", KW_CLASS },       { "disabled", KW_DISABLED },
    { "enabled", KW_ENABLED },   { "ends-with", KW_ENDS_WITH }, { "false", KW_FALSE },
    { "has", KW_HAS },           { "home", KW_HOME },         { "homeless", KW_HOMELESS },
    { "in", KW_IN },             { "matches", KW_MATCHES },   { "memberof", KW_MEMBEROF },
    { "not", KW_NOT },           { "or", KW_OR },             { "starts-with", KW_STARTS_WITH },
    { "true", KW_TRUE },         { "under", KW_UNDER },
};

struct parser {
    const char *text;
    struct token tok;         /* the current token */
    struct rules_error *err;
    bool failed;
    int depth;
};

static const unsigned char fold[256] = {
#define R(a) a, a + 1, a + 2, a + 3, a + 4, a + 5, a + 6, a + 7
#define R16(a) R(a), R(a + 8)
    R16(0), R16(16), R16(32), R16(48),
    /* 'A'..'Z' → 'a'..'z' */
    64, 97, 98, 99, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111,
    112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 91, 92, 93, 94, 95,
    R16(96), R16(112), R16(128), R16(144), R16(160), R16(176), R16(192), R16(208), R16(224),
    R16(240),
#undef R16
#undef R
};

int rules_strcasecmp(const char *a, const char *b)
{
    const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
    while (*x && fold[*x] == fold[*y])
        x++, y++;
    return (int)fold[*x] - (int)fold[*y];
}

static bool ieq_n(const char *a, size_t n, const char *b)
{
    for (size_t i = 0; i < n; i++)
        if (!b[i] || fold[(unsigned char)a[i]] != fold[(unsigned char)b[i]])
            return false;
    return b[n] == '\0';
}

static bool is_word_byte(const char *p)
{
    unsigned char c = (unsigned char)*p;
    if (c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    if (c == '-')
        return p[1] != '>';     /* "US->member": the arrow ends the word */
    return c && strchr("._@+:/*$#&%", c) != NULL;
}

static void error_at(struct parser *p, size_t offset, const char *fmt, ...) ATTR_PRINTF(3, 4);

static void error_at(struct parser *p, size_t offset, const char *fmt, ...)
{
    if (p->failed)
        return;     /* the first error is the one that explains the rest */
    p->failed = true;
    p->err->offset = offset;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err->message, sizeof(p->err->message), fmt, ap);
    va_end(ap);
}

/* How a token reads in a message: its text, shortened, or "the end of the rule". */
static const char *tok_desc(const struct parser *p, const struct token *t, char *buf, size_t size)
{
    if (t->type == T_END)
        return "the end of the line";
    size_t n = t->len > 40 ? 40 : t->len;
    snprintf(buf, size, "'%.*s%s'", (int)n, p->text + t->offset, t->len > n ? "..." : "");
    return buf;
}

static void next(struct parser *p)
{
    const char *s = p->text;
    size_t i = p->tok.offset + p->tok.len;
    while (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')
        i++;
    struct token t = { T_END, i, 0 };
    char c = s[i];
    if (!c) {
        p->tok = t;
        return;
    }
    if (c == '(' || c == ')' || c == ',') {
        t.type = c == '(' ? T_LPAREN : c == ')' ? T_RPAREN : T_COMMA;
        t.len = 1;
    } else if (c == '-' && s[i + 1] == '>') {
        t.type = T_ARROW;
        t.len = 2;
    } else if (c == '=' && s[i + 1] == '=') {
        t.type = T_ERROR;
        error_at(p, i, "'==' is not an operator; compare with a single =");
    } else if (c == '=') {
        t.type = T_EQ;
        t.len = 1;
    } else if (c == '!' && s[i + 1] == '=') {
        t.type = T_NE;
        t.len = 2;
    } else if (c == '"' || c == '\'') {
        size_t j = i + 1;
        while (s[j] && s[j] != c) {
            if (c == '"' && s[j] == '\\' && (s[j + 1] == '"' || s[j + 1] == '\\'))
                j++;
            j++;
        }
        if (!s[j]) {
            t.type = T_ERROR;
            error_at(p, i, "unterminated string: close it with %c", c);
        } else {
            t.type = T_STRING;
            t.len = j + 1 - i;
        }
    } else if (is_word_byte(s + i)) {
        size_t j = i;
        while (is_word_byte(s + j))
            j++;
        t.type = T_WORD;
        t.len = j - i;
    } else {
        t.type = T_ERROR;
        if (c == '!')
            error_at(p, i, "unexpected '!': write != for not-equal, or not before a condition");
        else if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7f)
            error_at(p, i, "unexpected character '%c'; put values with it in quotes", c);
        else
            error_at(p, i, "unexpected byte 0x%02x", (unsigned char)c);
    }
    p->tok = t;
}

static enum keyword keyword_of(const struct parser *p, const struct token *t)
{
    if (t->type != T_WORD)
        return KW_NONE;
    for (size_t i = 0; i < ARRAY_SIZE(keywords); i++)
        if (ieq_n(p->text + t->offset, t->len, keywords[i].word))
            return keywords[i].kw;
    return KW_NONE;
}

/* The value of a WORD or STRING token, unquoted; caller frees. */
static char *tok_value(const struct parser *p, const struct token *t)
{
    const char *s = p->text + t->offset;
    if (t->type == T_WORD)
        return xstrndup(s, t->len);
    char q = s[0];
    struct strbuf sb = STRBUF_INIT;
    for (size_t i = 1; i + 1 < t->len; i++) {
        if (q == '"' && s[i] == '\\' && (s[i + 1] == '"' || s[i + 1] == '\\') && i + 2 < t->len)
            i++;
        strbuf_addch(&sb, s[i]);
    }
    if (!sb.buf)
        return xstrdup("");
    return strbuf_detach(&sb);
}

/* ------------------------------------------------------ regex bounds */

static int regex_refuse(struct rules_error *err, size_t offset, const char *fmt, ...)
    ATTR_PRINTF(3, 4);

static int regex_refuse(struct rules_error *err, size_t offset, const char *fmt, ...)
{
    err->offset = offset;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return -1;
}

/* The end of the bracket expression that opens at s[i] (POSIX: a ']' right
 * after '[' or '[^' is a member; [:class:], [=x=] and [.x.] hold their own
 * ']'). An unterminated one ends the pattern: regcomp will say so. */
static size_t bracket_end(const char *s, size_t i)
{
    i++;
    if (s[i] == '^')
        i++;
    if (s[i] == ']')
        i++;
    while (s[i] && s[i] != ']') {
        if (s[i] == '[' && (s[i + 1] == ':' || s[i + 1] == '=' || s[i + 1] == '.')) {
            char close = s[i + 1];
            const char *e = s + i + 2;
            while (*e && !(e[0] == close && e[1] == ']'))
                e++;
            if (!*e)
                return strlen(s);
            i = (size_t)(e - s) + 2;
            continue;
        }
        i++;
    }
    return s[i] ? i + 1 : i;
}

/* What one ( ) level has seen so far. Sizes count atoms once every count is
 * written out; "nullable" is whether it can match the empty string. */
struct regex_level {
    size_t size;            /* of the whole level */
    size_t last;            /* of its last atom (0: none yet, after '(' or '|') */
    bool last_nullable;     /* that atom can match nothing */
    bool before_nullable;   /* this branch up to that atom can */
    bool branch_nullable;   /* this branch so far can */
    bool alt_nullable;      /* an earlier branch (before a '|') can */
};

static void regex_atom(struct regex_level *l, size_t size, bool nullable)
{
    l->size += size;
    l->last = size;
    l->last_nullable = nullable;
    l->before_nullable = l->branch_nullable;
    l->branch_nullable = l->branch_nullable && nullable;
}

/* Both engines compile a counted repetition by copying what it repeats (x{m,n}
 * into n copies, x+ into two), so the measure of what regcomp builds is the
 * number of atoms once every count is written out. And glibc's closure
 * computation is exponential when a repetition repeats something that can
 * match nothing: '(x?{2,5}){10,}' takes 4 s in regcomp, each further count
 * four times more. Neither means anything a plain pattern cannot say. */
int rules_regex_check(const char *pattern, struct rules_error *err)
{
    const char *s = pattern;
    size_t len = strlen(s);
    if (len > RULES_REGEX_MAX_LEN)
        return regex_refuse(err, RULES_REGEX_MAX_LEN, "the regular expression is %zu bytes long, "
                            "more than %d; match a shorter pattern", len, RULES_REGEX_MAX_LEN);
    struct regex_level level[RULES_REGEX_MAX_GROUPS + 1];
    int depth = 0;
    level[0] = (struct regex_level){ .branch_nullable = true };
    size_t i = 0;
    while (s[i]) {
        struct regex_level *l = &level[depth];
        size_t at = i, factor = 0;
        bool optional = false;      /* the repetition may match zero times */
        switch (s[i]) {
        case '(':
            if (depth == RULES_REGEX_MAX_GROUPS)
                return regex_refuse(err, at, "groups nest deeper than %d levels in the regular "
                                    "expression", RULES_REGEX_MAX_GROUPS);
            level[++depth] = (struct regex_level){ .branch_nullable = true };
            i++;
            continue;
        case ')':
            if (depth) {
                bool nullable = l->alt_nullable || l->branch_nullable;
                size_t inner = l->size;
                depth--;
                regex_atom(&level[depth], inner ? inner : 1, nullable);
                i++;
                continue;
            }
            regex_atom(l, 1, false);    /* unmatched: an ordinary character to glibc */
            i++;
            continue;
        case '|':
            l->alt_nullable = l->alt_nullable || l->branch_nullable;
            l->branch_nullable = true;
            l->last = 0;
            i++;
            continue;
        case '^': case '$':
            regex_atom(l, 1, true);
            i++;
            continue;
        case '*': case '?':
            factor = 1;                 /* one copy, looped or skipped */
            optional = true;
            i++;
            break;
        case '+':
            factor = 2;                 /* x+ is compiled as xx* */
            i++;
            break;
        case '{': {
            /* {m}, {m,}, {m,n} (and glibc's {,n}); anything else is regcomp's to judge */
            size_t j = i + 1, m = 0, n = 0, m_at = j, n_at = j;
            bool has_m = false, has_n = false, comma = false;
            for (; s[j] >= '0' && s[j] <= '9'; j++, has_m = true)
                m = m > RULES_REGEX_MAX_COUNT ? m : m * 10 + (size_t)(s[j] - '0');
            if (s[j] == ',') {
                comma = true;
                n_at = ++j;
                for (; s[j] >= '0' && s[j] <= '9'; j++, has_n = true)
                    n = n > RULES_REGEX_MAX_COUNT ? n : n * 10 + (size_t)(s[j] - '0');
            }
            if (s[j] != '}' || (!has_m && !has_n)) {
                regex_atom(l, 1, false);
                i++;
                continue;
            }
            if (m > RULES_REGEX_MAX_COUNT || n > RULES_REGEX_MAX_COUNT) {
                size_t num = m > RULES_REGEX_MAX_COUNT ? m_at : n_at;
                return regex_refuse(err, num, "the repetition count %.*s is larger than %d (the "
                                    "regex engine makes a copy of what it repeats for each count); "
                                    "write + or * for an open-ended number",
                                    (int)strspn(s + num, "0123456789"), s + num,
                                    RULES_REGEX_MAX_COUNT);
            }
            factor = has_n ? n : comma ? m + 1 : m;
            if (!factor)
                factor = 1;
            optional = m == 0;
            i = j + 1;
            break;
        }
        case '[':
            i = bracket_end(s, i);
            regex_atom(l, 1, false);
            continue;
        case '\\':
            if (s[i + 1] >= '1' && s[i + 1] <= '9')
                return regex_refuse(err, at, "back-references (\\1 to \\9) are not allowed in a "
                                    "regular expression: matching them can take exponential time");
            /* glibc's \b \B \< \> \` \' match a position, not a character */
            regex_atom(l, 1, s[i + 1] && strchr("bB<>`'", s[i + 1]));
            i += s[i + 1] ? 2 : 1;
            continue;
        default:
            regex_atom(l, 1, false);
            i++;
            continue;
        }
        /* a repetition; with nothing before it regcomp reports the error */
        if (!l->last)
            continue;
        if (l->last_nullable)
            return regex_refuse(err, at, "'%.*s' repeats something that can match nothing (like "
                                "(a*)* or (x?){2,5}), which costs regcomp exponential time; "
                                "repeat what must match at least one character",
                                (int)(i - at), s + at);
        l->size += l->last * (factor - 1);
        l->last *= factor;
        if (optional) {
            l->last_nullable = true;
            l->branch_nullable = l->before_nullable;
        }
        /* the outer levels' sizes are multiplied by their own counts later:
         * the sum only grows from here */
        size_t total = 0;
        for (int d = 0; d <= depth; d++)
            total += level[d].size;
        if (total > RULES_REGEX_MAX_COPIES)
            return regex_refuse(err, at, "the counts multiply to %zu copies of the pattern's "
                                "parts, more than %d; lower the counts or nest fewer of them",
                                total, RULES_REGEX_MAX_COPIES);
    }
    return 0;
}

/* ----------------------------------------------------------------- parser */

static struct cond *node(enum cond_op op, size_t offset)
{
    struct cond *c = xcalloc(1, sizeof(*c));
    c->op = op;
    c->offset = offset;
    return c;
}

/* Where byte i of the value whose token starts at `at` is in the text (the
 * inverse of tok_value, which drops the quotes and the \\ of \" and \\\\). */
static size_t value_byte_offset(const struct parser *p, size_t at, size_t i)
{
    const char *s = p->text + at;
    if (s[0] != '"' && s[0] != '\'')
        return at + i;
    size_t j = 1;
    for (size_t k = 0; k < i && s[j]; k++, j++)
        if (s[0] == '"' && s[j] == '\\' && (s[j + 1] == '"' || s[j + 1] == '\\'))
            j++;
    return at + j;
}

static void add_value(struct cond *c, char *v, size_t offset)
{
    c->values = xrealloc(c->values, (c->nvalues + 1) * sizeof(*c->values));
    c->value_offsets = xrealloc(c->value_offsets, (c->nvalues + 1) * sizeof(*c->value_offsets));
    c->values[c->nvalues] = v;
    c->value_offsets[c->nvalues++] = offset;
}

/* An LDAP attribute description (RFC 4512 §1.4: a letter, then letters, digits, '-'). */
static bool is_attr_name(const char *s, size_t n)
{
    if (!n || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')
              || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    return true;
}

static struct cond *parse_condition(struct parser *p);

/* A value after an operator: a quoted string or a bare word, never empty. */
static char *parse_value(struct parser *p, const char *after)
{
    char buf[64];
    if (p->tok.type != T_WORD && p->tok.type != T_STRING) {
        error_at(p, p->tok.offset, "expected a value after %s, found %s", after,
                 tok_desc(p, &p->tok, buf, sizeof(buf)));
        return NULL;
    }
    char *v = tok_value(p, &p->tok);
    if (!*v) {
        error_at(p, p->tok.offset, "an empty value never matches (AD stores no empty "
                                   "strings); to test for a missing attribute write not has ATTR");
        free(v);
        return NULL;
    }
    next(p);
    return v;
}

/* "( v, v, ... )" after `in`; each item through item(). */
static bool parse_list(struct parser *p, struct cond *c, const char *what)
{
    char buf[64];
    if (p->tok.type != T_LPAREN) {
        error_at(p, p->tok.offset, "expected '(' and a list of %s after in, found %s", what,
                 tok_desc(p, &p->tok, buf, sizeof(buf)));
        return false;
    }
    size_t open = p->tok.offset;
    next(p);
    if (p->tok.type == T_RPAREN) {
        error_at(p, p->tok.offset, "the list is empty; give at least one of %s", what);
        return false;
    }
    for (;;) {
        size_t at = p->tok.offset;
        char *v = parse_value(p, c->nvalues ? "','" : "'('");
        if (!v)
            return false;
        add_value(c, v, at);
        if (p->tok.type == T_COMMA) {
            next(p);
            continue;
        }
        if (p->tok.type == T_RPAREN) {
            next(p);
            return true;
        }
        error_at(p, p->tok.type == T_END ? open : p->tok.offset,
                 p->tok.type == T_END ? "the list is not closed: expected ')'"
                                      : "expected ',' or ')' in the list, found %s",
                 tok_desc(p, &p->tok, buf, sizeof(buf)));
        return false;
    }
}

static bool parse_class_name(struct parser *p, struct cond *c, const char *name, size_t at)
{
    if (!rules_strcasecmp(name, "user") || !rules_strcasecmp(name, "users"))
        c->classes |= 1u << AD_CLASS_USER;
    else if (!rules_strcasecmp(name, "contact") || !rules_strcasecmp(name, "contacts"))
        c->classes |= 1u << AD_CLASS_CONTACT;
    else if (!rules_strcasecmp(name, "group") || !rules_strcasecmp(name, "groups"))
        c->classes |= 1u << AD_CLASS_GROUP;
    else {
        error_at(p, at, "class must be user, contact or group, not '%s'", name);
        return false;
    }
    return true;
}

/* A DN after under / memberof: quoted, with at least one "type=value". */
static char *parse_dn(struct parser *p, const char *kw, const char *example)
{
    char buf[64];
    if (p->tok.type != T_STRING) {
        error_at(p, p->tok.offset, "%s needs a DN in quotes, e.g. %s \"%s\"; found %s", kw, kw,
                 example, tok_desc(p, &p->tok, buf, sizeof(buf)));
        return NULL;
    }
    size_t at = p->tok.offset;
    char *dn = parse_value(p, kw);
    if (dn && !strchr(dn, '=')) {
        error_at(p, at, "'%s' is not a DN; write it in full, e.g. %s \"%s\"", dn, kw, example);
        free(dn);
        return NULL;
    }
    return dn;
}

static struct cond *parse_predicate(struct parser *p)
{
    char buf[64];
    struct token t = p->tok;
    enum keyword kw = keyword_of(p, &t);
    struct cond *c = NULL;

    if (t.type != T_WORD) {
        error_at(p, t.offset, t.type == T_STRING
                                  ? "expected a condition, found the value %s; values come after an "
                                    "attribute and an operator (mail = \"x@y\")"
                                  : "expected a condition, found %s",
                 tok_desc(p, &t, buf, sizeof(buf)));
        return NULL;
    }
    next(p);
    switch (kw) {
    case KW_TRUE: return node(COND_TRUE, t.offset);
    case KW_FALSE: return node(COND_FALSE, t.offset);
    case KW_ENABLED: return node(COND_ENABLED, t.offset);
    case KW_DISABLED: return node(COND_DISABLED, t.offset);
    case KW_HOMELESS: return node(COND_HOMELESS, t.offset);
    case KW_CLASS:
        c = node(COND_CLASS, t.offset);
        if (keyword_of(p, &p->tok) == KW_IN) {
            next(p);
            if (!parse_list(p, c, "user, contact, group"))
                break;
            for (size_t i = 0; i < c->nvalues; i++)
                if (!parse_class_name(p, c, c->values[i], c->value_offsets[i]))
                    break;
        } else if (p->tok.type == T_WORD) {
            char *v = tok_value(p, &p->tok);
            parse_class_name(p, c, v, p->tok.offset);
            free(v);
            next(p);
        } else {
            error_at(p, p->tok.offset, "class needs user, contact or group, found %s",
                     tok_desc(p, &p->tok, buf, sizeof(buf)));
        }
        break;
    case KW_UNDER:
        c = node(COND_UNDER, t.offset);
        c->name = parse_dn(p, "under", "OU=US,OU=Contoso,DC=corp,DC=example");
        break;
    case KW_MEMBEROF:
        c = node(COND_MEMBEROF, t.offset);
        c->name = parse_dn(p, "memberof", "CN=SG-Staff,OU=Groups,DC=corp,DC=example");
        break;
    case KW_HOME:
        c = node(COND_HOME, t.offset);
        if (keyword_of(p, &p->tok) == KW_IN) {
            next(p);
            parse_list(p, c, "tenant names");
        } else if (p->tok.type == T_STRING
                   || (p->tok.type == T_WORD && keyword_of(p, &p->tok) == KW_NONE)) {
            size_t at = p->tok.offset;
            char *v = parse_value(p, "home");
            if (v)
                add_value(c, v, at);
        }
        break;
    case KW_HAS:
        c = node(COND_HAS, t.offset);
        if (p->tok.type != T_WORD || keyword_of(p, &p->tok) != KW_NONE
            || !is_attr_name(p->text + p->tok.offset, p->tok.len)) {
            error_at(p, p->tok.offset, "has needs an attribute name (has mail), found %s",
                     tok_desc(p, &p->tok, buf, sizeof(buf)));
            break;
        }
        c->name = tok_value(p, &p->tok);
        next(p);
        break;
    case KW_NONE: {
        if (!is_attr_name(p->text + t.offset, t.len)) {
            error_at(p, t.offset, "expected a condition, found '%.*s' (an attribute name starts "
                                  "with a letter and has only letters, digits and -)",
                     (int)(t.len > 40 ? 40 : t.len), p->text + t.offset);
            return NULL;
        }
        enum keyword op = keyword_of(p, &p->tok);
        enum cond_op cop;
        if (p->tok.type == T_EQ)
            cop = COND_EQ;
        else if (p->tok.type == T_NE)
            cop = COND_NE;
        else if (op == KW_IN)
            cop = COND_IN;
        else if (op == KW_STARTS_WITH)
            cop = COND_PREFIX;
        else if (op == KW_ENDS_WITH)
            cop = COND_SUFFIX;
        else if (op == KW_MATCHES)
            cop = COND_MATCH;
        else {
            error_at(p, p->tok.type == T_END ? t.offset : p->tok.offset,
                     "'%.*s' is an attribute: compare it with =, !=, in (...), starts-with, "
                     "ends-with or matches, or test it with has %.*s; found %s",
                     (int)t.len, p->text + t.offset, (int)t.len, p->text + t.offset,
                     tok_desc(p, &p->tok, buf, sizeof(buf)));
            return NULL;
        }
        c = node(cop, t.offset);
        c->name = xstrndup(p->text + t.offset, t.len);
        char opname[16];
        snprintf(opname, sizeof(opname), "'%.*s'", (int)(p->tok.len < 12 ? p->tok.len : 12),
                 p->text + p->tok.offset);
        next(p);
        if (cop == COND_IN) {
            parse_list(p, c, "values");
            break;
        }
        size_t at = p->tok.offset;
        char *v = parse_value(p, opname);
        if (!v)
            break;
        add_value(c, v, at);
        if (cop == COND_MATCH) {
            struct rules_error bound;
            if (rules_regex_check(v, &bound)) {
                error_at(p, value_byte_offset(p, at, bound.offset), "%s", bound.message);
                break;
            }
            regex_t re;
            int rc = regcomp(&re, v, REG_EXTENDED | REG_ICASE | REG_NOSUB);
            if (rc) {
                char why[128];
                regerror(rc, &re, why, sizeof(why));
                error_at(p, at, "bad regular expression: %s (POSIX extended syntax; "
                                "single quotes keep backslashes as written)", why);
            } else {
                regfree(&re);
            }
        }
        break;
    }
    default:
        error_at(p, t.offset, "expected a condition, found the keyword '%.*s'", (int)t.len,
                 p->text + t.offset);
        return NULL;
    }
    return c;
}

static struct cond *parse_factor(struct parser *p)
{
    char buf[64];
    if (++p->depth > RULES_MAX_DEPTH) {
        error_at(p, p->tok.offset, "the condition nests deeper than %d levels", RULES_MAX_DEPTH);
        return NULL;
    }
    struct cond *c;
    if (keyword_of(p, &p->tok) == KW_NOT) {
        c = node(COND_NOT, p->tok.offset);
        next(p);
        c->left = parse_factor(p);
    } else if (p->tok.type == T_LPAREN) {
        size_t open = p->tok.offset;
        next(p);
        c = parse_condition(p);
        if (p->tok.type == T_RPAREN)
            next(p);
        else if (p->tok.type == T_END || p->tok.type == T_ARROW)
            error_at(p, open, "this '(' is not closed: expected ')'%s",
                     p->tok.type == T_ARROW ? " before '->'" : "");
        else
            error_at(p, p->tok.offset, "expected ')', 'and' or 'or', found %s",
                     tok_desc(p, &p->tok, buf, sizeof(buf)));
    } else {
        c = parse_predicate(p);
    }
    p->depth--;
    return c;
}

static struct cond *parse_binary(struct parser *p, enum keyword kw, enum cond_op op)
{
    struct cond *left = kw == KW_AND ? parse_factor(p) : parse_binary(p, KW_AND, COND_AND);
    while (!p->failed && keyword_of(p, &p->tok) == kw) {
        struct cond *c = node(op, left ? left->offset : p->tok.offset);
        next(p);
        c->left = left;
        c->right = kw == KW_AND ? parse_factor(p) : parse_binary(p, KW_AND, COND_AND);
        left = c;
    }
    return left;
}

static struct cond *parse_condition(struct parser *p)
{
    if (++p->depth > RULES_MAX_DEPTH) {
        error_at(p, p->tok.offset, "the condition nests deeper than %d levels", RULES_MAX_DEPTH);
        return NULL;
    }
    struct cond *c = parse_binary(p, KW_OR, COND_OR);
    p->depth--;
    return c;
}

static void start(struct parser *p, const char *text, struct rules_error *err)
{
    memset(p, 0, sizeof(*p));
    p->text = text;
    p->err = err;
    err->offset = 0;
    err->message[0] = '\0';
    next(p);
}

static int parse_outcome_tok(struct parser *p, enum decision *outcome)
{
    char buf[64];
    if (p->tok.type == T_END) {
        error_at(p, p->tok.offset, "the outcome is missing: member, external-member, "
                                   "external-guest, contact or exclude");
        return -1;
    }
    if (p->tok.type != T_WORD
        || decision_parse_n(p->text + p->tok.offset, p->tok.len, outcome)) {
        error_at(p, p->tok.offset, "%s is not an outcome; use member, external-member, "
                                   "external-guest, contact or exclude",
                 tok_desc(p, &p->tok, buf, sizeof(buf)));
        return -1;
    }
    next(p);
    if (p->tok.type != T_END) {
        error_at(p, p->tok.offset, "unexpected %s after the outcome; write one rule per rule = line",
                 tok_desc(p, &p->tok, buf, sizeof(buf)));
        return -1;
    }
    return 0;
}

int rules_parse_rule(const char *text, struct cond **cond, enum decision *outcome,
                     struct rules_error *err)
{
    struct parser p;
    char buf[64];
    start(&p, text, err);
    *cond = NULL;
    if (p.tok.type == T_END) {
        error_at(&p, 0, "the rule is empty; write CONDITION -> OUTCOME");
        return -1;
    }
    if (p.tok.type == T_ARROW) {
        error_at(&p, p.tok.offset, "the rule has no condition before '->'; write true -> OUTCOME, "
                                   "or use default = OUTCOME");
        return -1;
    }
    struct cond *c = parse_condition(&p);
    if (!p.failed && p.tok.type != T_ARROW)
        error_at(&p, p.tok.offset, "expected 'and', 'or' or '-> OUTCOME', found %s",
                 tok_desc(&p, &p.tok, buf, sizeof(buf)));
    if (!p.failed) {
        next(&p);
        parse_outcome_tok(&p, outcome);
    }
    if (p.failed) {
        cond_free(c);
        return -1;
    }
    *cond = c;
    return 0;
}

int rules_parse_condition(const char *text, struct cond **cond, struct rules_error *err)
{
    struct parser p;
    char buf[64];
    start(&p, text, err);
    *cond = NULL;
    if (p.tok.type == T_END) {
        error_at(&p, 0, "the condition is empty");
        return -1;
    }
    struct cond *c = parse_condition(&p);
    if (!p.failed && p.tok.type == T_ARROW)
        error_at(&p, p.tok.offset, "a condition has no outcome here; remove '-> ...'");
    else if (!p.failed && p.tok.type != T_END)
        error_at(&p, p.tok.offset, "expected 'and' or 'or', found %s",
                 tok_desc(&p, &p.tok, buf, sizeof(buf)));
    if (p.failed) {
        cond_free(c);
        return -1;
    }
    *cond = c;
    return 0;
}

int rules_parse_outcome(const char *text, enum decision *outcome, struct rules_error *err)
{
    struct parser p;
    start(&p, text, err);
    return parse_outcome_tok(&p, outcome);
}

void cond_free(struct cond *c)
{
    if (!c)
        return;
    cond_free(c->left);
    cond_free(c->right);
    free(c->name);
    for (size_t i = 0; i < c->nvalues; i++)
        free(c->values[i]);
    free(c->values);
    free(c->value_offsets);
    free(c);
}

int cond_walk(const struct cond *c, int (*fn)(const struct cond *node, void *ctx), void *ctx)
{
    if (!c)
        return 0;
    int rc = fn(c, ctx);
    if (!rc)
        rc = cond_walk(c->left, fn, ctx);
    if (!rc)
        rc = cond_walk(c->right, fn, ctx);
    return rc;
}

/* ------------------------------------------------------------- formatting */

static void add_quoted(struct strbuf *out, const char *v)
{
    strbuf_addch(out, '"');
    for (const char *s = v; *s; s++) {
        /* only \" and \\ are escapes when read back (rules.h); escape exactly those,
         * and a backslash at the end, which would otherwise swallow the quote */
        if (*s == '"' || (*s == '\\' && (s[1] == '"' || s[1] == '\\' || s[1] == '\0')))
            strbuf_addch(out, '\\');
        strbuf_addch(out, *s);
    }
    strbuf_addch(out, '"');
}

static void add_value_text(struct strbuf *out, const char *v)
{
    bool bare = *v != '\0';
    for (const char *s = v; *s && bare; s++)
        bare = is_word_byte(s);
    if (bare) {
        /* a bare keyword would read back as that keyword where a name is expected */
        for (size_t i = 0; i < ARRAY_SIZE(keywords) && bare; i++)
            bare = rules_strcasecmp(v, keywords[i].word) != 0;
    }
    if (bare)
        strbuf_addstr(out, v);
    else
        add_quoted(out, v);
}

static void add_list(struct strbuf *out, char *const *values, size_t n)
{
    strbuf_addch(out, '(');
    for (size_t i = 0; i < n; i++) {
        if (i)
            strbuf_addstr(out, ", ");
        add_value_text(out, values[i]);
    }
    strbuf_addch(out, ')');
}

void cond_format_node(const struct cond *c, struct strbuf *out)
{
    static const char *const classes[] = { "user", "contact", "group" };
    switch (c->op) {
    case COND_TRUE: strbuf_addstr(out, "true"); break;
    case COND_FALSE: strbuf_addstr(out, "false"); break;
    case COND_AND: strbuf_addstr(out, "and"); break;
    case COND_OR: strbuf_addstr(out, "or"); break;
    case COND_NOT: strbuf_addstr(out, "not"); break;
    case COND_ENABLED: strbuf_addstr(out, "enabled"); break;
    case COND_DISABLED: strbuf_addstr(out, "disabled"); break;
    case COND_HOMELESS: strbuf_addstr(out, "homeless"); break;
    case COND_CLASS: {
        int n = 0;
        for (int k = 0; k < AD_CLASS_COUNT; k++)
            n += (c->classes >> k) & 1;
        strbuf_addstr(out, n == 1 ? "class " : "class in (");
        for (int k = 0, i = 0; k < AD_CLASS_COUNT; k++)
            if (c->classes >> k & 1)
                strbuf_addf(out, "%s%s", i++ ? ", " : "", classes[k]);
        if (n != 1)
            strbuf_addch(out, ')');
        break;
    }
    case COND_UNDER:
    case COND_MEMBEROF:
        strbuf_addstr(out, c->op == COND_UNDER ? "under " : "memberof ");
        add_quoted(out, c->name);
        break;
    case COND_HOME:
        strbuf_addstr(out, "home");
        if (c->nvalues == 1) {
            strbuf_addch(out, ' ');
            add_value_text(out, c->values[0]);
        } else if (c->nvalues > 1) {
            strbuf_addstr(out, " in ");
            add_list(out, c->values, c->nvalues);
        }
        break;
    case COND_HAS: strbuf_addf(out, "has %s", c->name); break;
    case COND_IN:
        strbuf_addf(out, "%s in ", c->name);
        add_list(out, c->values, c->nvalues);
        break;
    case COND_EQ:
    case COND_NE:
    case COND_PREFIX:
    case COND_SUFFIX:
    case COND_MATCH: {
        static const char *const ops[] = { " = ", " != ", "", " starts-with ", " ends-with ", " matches " };
        strbuf_addstr(out, c->name);
        strbuf_addstr(out, ops[c->op - COND_EQ]);
        add_value_text(out, c->values[0]);
        break;
    }
    }
}

void cond_format(const struct cond *c, struct strbuf *out)
{
    if (!c)
        return;
    switch (c->op) {
    case COND_AND:
    case COND_OR: {
        /* an OR under an AND needs its parentheses back; the left operand of the
         * same operator does not (the parser builds left-deep trees) */
        bool lp = c->op == COND_AND && c->left->op == COND_OR;
        bool rp = c->right->op == COND_OR || (c->op == COND_AND && c->right->op == COND_AND);
        if (lp)
            strbuf_addch(out, '(');
        cond_format(c->left, out);
        strbuf_addstr(out, lp ? ")" : "");
        strbuf_addstr(out, c->op == COND_AND ? " and " : " or ");
        if (rp)
            strbuf_addch(out, '(');
        cond_format(c->right, out);
        if (rp)
            strbuf_addch(out, ')');
        break;
    }
    case COND_NOT: {
        bool paren = c->left->op == COND_AND || c->left->op == COND_OR;
        strbuf_addstr(out, paren ? "not (" : "not ");
        cond_format(c->left, out);
        if (paren)
            strbuf_addch(out, ')');
        break;
    }
    default:
        cond_format_node(c, out);
    }
}
