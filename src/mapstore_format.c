/* mapstore_format.c - the text of the mapping file and journal: the words,
 * the escapes, the times and the record line (doc/mapping-format.md).
 *
 * Speed matters here (a million records load and are written in well under a
 * second each): fields are split and unescaped in place, in the buffer the
 * file was read into, and a record without any byte to escape is written
 * with memcpy. */
#include "compat.h"

#include "mapstore_p.h"
#include "util.h"

/* Graph's spelling of userType; "" is a user whose userType we do not know
 * (or a record that has no cloud user yet) */
static const char *const user_type_words[MAP_USER_TYPE_COUNT] = {
    [MAP_USER_TYPE_NONE] = "",
    [MAP_USER_TYPE_MEMBER] = "Member",
    [MAP_USER_TYPE_GUEST] = "Guest",
};

static const char *const state_words[MAP_STATE_COUNT] = {
    [MAP_STATE_PENDING] = "pending",
    [MAP_STATE_INVITED] = "invited",
    [MAP_STATE_ACCEPTED] = "accepted",
    [MAP_STATE_BLOCKED] = "blocked",
    [MAP_STATE_REVERTED] = "reverted",
    [MAP_STATE_GONE] = "gone",
};

static const char *const reason_words[MAP_REASON_COUNT] = {
    [MAP_REASON_NONE] = "none",
    [MAP_REASON_USER_TYPE_BLOCKED] = "usertype-blocked",
    [MAP_REASON_CROSS_TENANT_BLOCKED] = "cross-tenant-blocked",
};

const char *map_user_type_name(enum map_user_type t)
{
    return (unsigned)t < MAP_USER_TYPE_COUNT ? user_type_words[t] : "?";
}

const char *map_state_name(enum map_state s)
{
    return (unsigned)s < MAP_STATE_COUNT ? state_words[s] : "?";
}

const char *map_reason_name(enum map_reason r)
{
    return (unsigned)r < MAP_REASON_COUNT ? reason_words[r] : "?";
}

static int find_word(const char *const *words, int n, const char *word)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(words[i], word))
            return i;
    return -1;
}

/* The policy's words, exactly as written (decision_parse takes any case) */
int map_decision_parse(const char *word, enum decision *out)
{
    for (int d = 0; d < DECISION_COUNT; d++)
        if (!strcmp(decision_name((enum decision)d), word)) {
            *out = (enum decision)d;
            return 0;
        }
    return -1;
}

int map_user_type_parse(const char *word, enum map_user_type *out)
{
    int i = find_word(user_type_words, MAP_USER_TYPE_COUNT, word);
    if (i < 0)
        return -1;
    *out = (enum map_user_type)i;
    return 0;
}

int map_state_parse(const char *word, enum map_state *out)
{
    int i = find_word(state_words, MAP_STATE_COUNT, word);
    if (i < 0)
        return -1;
    *out = (enum map_state)i;
    return 0;
}

int map_reason_parse(const char *word, enum map_reason *out)
{
    int i = find_word(reason_words, MAP_REASON_COUNT, word);
    if (i < 0)
        return -1;
    *out = (enum map_reason)i;
    return 0;
}

/* Version 1 had no reason field: the planner told the two reasons by how the
 * last error began. These are the texts that release wrote (the userType
 * refusal's prefix, and planner_cross_tenant_text's "home tenant NAME:
 * cross-tenant access ..."), frozen here: the messages may change, what a
 * version 1 file means does not. Whether the record's state makes the reason
 * count is the planner's test, as it was. */
#define V1_USER_TYPE_BLOCKED "userType change blocked: "
#define V1_CROSS_TENANT_START "home tenant "
#define V1_CROSS_TENANT_MARK ": cross-tenant access "

enum map_reason map_reason_of_v1_error(const char *e)
{
    if (!strncmp(e, V1_USER_TYPE_BLOCKED, sizeof(V1_USER_TYPE_BLOCKED) - 1))
        return MAP_REASON_USER_TYPE_BLOCKED;
    if (!strncmp(e, V1_CROSS_TENANT_START, sizeof(V1_CROSS_TENANT_START) - 1) &&
        strstr(e, V1_CROSS_TENANT_MARK))
        return MAP_REASON_CROSS_TENANT_BLOCKED;
    return MAP_REASON_NONE;
}

/* ---- escapes ----------------------------------------------------------- */

/* Fields are separated by tabs and records by newlines, so those two and the
 * escape character itself must be escaped; so is CR, so that no editor or
 * transfer that rewrites line endings can change a value silently. */
long map_unescape(char *s, size_t len)
{
    char *src = memchr(s, '\\', len);
    if (!src) {
        s[len] = '\0';
        return (long)len;
    }
    char *dst = src, *end = s + len;
    while (src < end) {
        if (*src != '\\') {
            *dst++ = *src++;
            continue;
        }
        if (src + 1 >= end)
            return -1;
        switch (src[1]) {
        case '\\': *dst++ = '\\'; break;
        case 't': *dst++ = '\t'; break;
        case 'n': *dst++ = '\n'; break;
        case 'r': *dst++ = '\r'; break;
        default: return -1;
        }
        src += 2;
    }
    *dst = '\0';
    return (long)(dst - s);
}

static inline bool special(unsigned char c)
{
    return c == '\\' || c == '\t' || c == '\n' || c == '\r';
}

/* Eight bytes at a time: a word that may hold a special byte (one below
 * 0x20, or a backslash) is looked at byte by byte; most words are not.
 * The tests are the classic "has a byte less than n / equal to c" ones
 * (exact as yes/no answers). */
#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)
static inline bool word_may_be_special(uint64_t w)
{
    uint64_t below_space = (w - ONES * 0x20) & ~w & HIGHS;
    uint64_t x = w ^ (ONES * '\\');
    uint64_t backslash = (x - ONES) & ~x & HIGHS;
    return (below_space | backslash) != 0;
}

/* The offset of the first special byte of s, or len. */
static size_t first_special(const char *s, size_t len)
{
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        if (word_may_be_special(w))
            for (size_t k = i; k < i + 8; k++)
                if (special((unsigned char)s[k]))
                    return k;
    }
    for (; i < len; i++)
        if (special((unsigned char)s[i]))
            return i;
    return len;
}

bool map_needs_escape(const char *s, size_t len)
{
    return first_special(s, len) < len;
}

char *map_escape_to(char *dst, const char *s, size_t len)
{
    for (;;) {
        size_t run = first_special(s, len);
        memcpy(dst, s, run);
        dst += run;
        if (run == len)
            return dst;
        char c = s[run];
        *dst++ = '\\';
        *dst++ = c == '\t' ? 't' : c == '\n' ? 'n' : c == '\r' ? 'r' : '\\';
        s += run + 1;
        len -= run + 1;
    }
}

void map_escape(struct strbuf *sb, const char *s, size_t len)
{
    strbuf_grow(sb, 2 * len);
    char *end = map_escape_to(sb->buf + sb->len, s, len);
    sb->len = (size_t)(end - sb->buf);
    sb->buf[sb->len] = '\0';
}

/* ---- times ------------------------------------------------------------- */


int map_time_parse(const char *s, size_t len, int64_t *out)
{
    if (len == 0) {
        *out = 0;
        return 0;
    }
    return iso_time_parse(s, len, 0, out);
}

char *map_time_format(char *dst, int64_t t)
{
    if (t <= 0 || t > MAP_TIME_MAX)
        return dst;
    /* iso_time_format ends with a NUL that dst has no room for */
    char buf[ISO_TIME_LEN + 1];
    iso_time_format(t, buf);
    memcpy(dst, buf, ISO_TIME_LEN);
    return dst + ISO_TIME_LEN;
}

/* ---- record line ------------------------------------------------------- */

/* The order of the fields in a line: short words first, free text last, and
 * what a version added after what was there (version 2: the reason), so
 * that whatever reads the fields by their place reads the same ones. */
enum field {
    F_ANCHOR, F_STATE, F_DECISION, F_USER_TYPE, F_CLOUD_ID, F_OBJECT_GUID, F_UPN, F_RULE,
    F_FIRST_CHANGE, F_LAST_CHANGE, F_INVITATION_ID, F_DN, F_LAST_ERROR, F_REASON
};

int map_record_parse(char *line, size_t len, bool has_escape, unsigned version,
                     struct map_record *out, char *why, size_t whysize)
{
    /* version 1 ends before the reason */
    const size_t nfields = version == 1 ? MAP_FIELDS_V1 : MAP_FIELDS;
    char *f[MAP_FIELDS];
    size_t flen[MAP_FIELDS];
    char *p = line, *end = line + len;
    size_t n = 0;
    for (;;) {
        char *tab = memchr(p, '\t', (size_t)(end - p));
        char *fe = tab ? tab : end;
        if (n < nfields) {
            f[n] = p;
            flen[n] = (size_t)(fe - p);
        }
        n++;
        if (!tab)
            break;
        p = tab + 1;
    }
    if (n != nfields) {
        snprintf(why, whysize, "record has %zu field%s, %zu expected", n, n == 1 ? "" : "s",
                 nfields);
        return -1;
    }
    for (size_t i = 0; i < nfields; i++) {
        if (has_escape) {
            long l = map_unescape(f[i], flen[i]);
            if (l < 0) {
                snprintf(why, whysize, "field %zu has a bad escape (only \\\\, \\t, \\n and \\r are "
                         "allowed)", i + 1);
                return -1;
            }
            flen[i] = (size_t)l;
        } else {
            f[i][flen[i]] = '\0';
        }
    }
    if (!flen[F_ANCHOR]) {
        snprintf(why, whysize, "record has an empty anchor");
        return -1;
    }
    if (map_state_parse(f[F_STATE], &out->state)) {
        snprintf(why, whysize, "unknown state '%.40s' (pending, invited, accepted, blocked, "
                 "reverted or gone expected)", f[F_STATE]);
        return -1;
    }
    if (map_decision_parse(f[F_DECISION], &out->decision)) {
        snprintf(why, whysize, "unknown decision '%.40s' (member, external-member, "
                 "external-guest, contact or exclude expected)", f[F_DECISION]);
        return -1;
    }
    if (map_user_type_parse(f[F_USER_TYPE], &out->user_type)) {
        snprintf(why, whysize, "unknown userType '%.40s' (Member, Guest or empty expected)",
                 f[F_USER_TYPE]);
        return -1;
    }
    if (map_time_parse(f[F_FIRST_CHANGE], flen[F_FIRST_CHANGE], &out->first_change) ||
        map_time_parse(f[F_LAST_CHANGE], flen[F_LAST_CHANGE], &out->last_change)) {
        bool first = map_time_parse(f[F_FIRST_CHANGE], flen[F_FIRST_CHANGE], &out->first_change);
        snprintf(why, whysize, "bad %s time '%.40s' (UTC as 2024-05-01T12:00:00Z, or empty, "
                 "expected)", first ? "first-change" : "last-change",
                 f[first ? F_FIRST_CHANGE : F_LAST_CHANGE]);
        return -1;
    }
    if (nfields == MAP_FIELDS && map_reason_parse(f[F_REASON], &out->reason)) {
        snprintf(why, whysize, "unknown reason '%.40s' (none, usertype-blocked or "
                 "cross-tenant-blocked expected)", f[F_REASON]);
        return -1;
    }
    out->anchor = f[F_ANCHOR];
    out->cloud_id = f[F_CLOUD_ID];
    out->object_guid = f[F_OBJECT_GUID];
    out->upn = f[F_UPN];
    out->rule = f[F_RULE];
    out->invitation_id = f[F_INVITATION_ID];
    out->dn = f[F_DN];
    out->last_error = f[F_LAST_ERROR];
    if (nfields != MAP_FIELDS)
        out->reason = map_reason_of_v1_error(out->last_error);
    return 0;
}

void map_record_format(struct strbuf *sb, const struct map_record *r, bool plain)
{
    const char *s[] = { r->anchor, r->cloud_id, r->object_guid, r->upn, r->rule,
                        r->invitation_id, r->dn, r->last_error };
    size_t l[ARRAY_SIZE(s)], total = 0;
    for (size_t i = 0; i < ARRAY_SIZE(s); i++)
        total += l[i] = strlen(s[i]);
    /* escaping at most doubles a string; words, times and tabs fit in 128 */
    strbuf_grow(sb, 2 * total + 128);
    char *p = sb->buf + sb->len;
    const char *w;
#define STR(i) (plain ? (memcpy(p, s[i], l[i]), p += l[i]) : (p = map_escape_to(p, s[i], l[i])))
#define WORD(x) (w = (x), memcpy(p, w, strlen(w)), p += strlen(w))
    STR(0);
    *p++ = '\t';
    WORD(map_state_name(r->state));
    *p++ = '\t';
    WORD(decision_name(r->decision));
    *p++ = '\t';
    WORD(map_user_type_name(r->user_type));
    *p++ = '\t';
    STR(1);
    *p++ = '\t';
    STR(2);
    *p++ = '\t';
    STR(3);
    *p++ = '\t';
    STR(4);
    *p++ = '\t';
    p = map_time_format(p, r->first_change);
    *p++ = '\t';
    p = map_time_format(p, r->last_change);
    *p++ = '\t';
    STR(5);
    *p++ = '\t';
    STR(6);
    *p++ = '\t';
    STR(7);
    *p++ = '\t';
    WORD(map_reason_name(r->reason));
#undef STR
#undef WORD
    sb->len = (size_t)(p - sb->buf);
    sb->buf[sb->len] = '\0';
}
