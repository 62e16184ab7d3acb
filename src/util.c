#include "compat.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "util.h"

static void ATTR_NORETURN out_of_memory(size_t n)
{
    fprintf(stderr, "dualsync: fatal: out of memory allocating %zu bytes\n", n);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        out_of_memory(n);
    return p;
}

void *xcalloc(size_t nmemb, size_t size)
{
    void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
    if (!p)
        out_of_memory(nmemb * size);
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        out_of_memory(n);
    return q;
}

char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *xasprintf(const char *fmt, ...)
{
    struct strbuf sb = STRBUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        out_of_memory(0);
    strbuf_grow(&sb, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(sb.buf, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb.len = (size_t)n;
    return strbuf_detach(&sb);
}

void sort_array(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    if (n > 1)
        qsort(base, n, size, cmp);
}

void grow_array(void **items, size_t *alloc, size_t need, size_t elem_size)
{
    if (need <= *alloc)
        return;
    size_t n = *alloc ? *alloc : 8;
    while (n < need)
        n *= 2;
    if (n > SIZE_MAX / elem_size)
        out_of_memory(SIZE_MAX);
    *items = xrealloc(*items, n * elem_size);
    *alloc = n;
}

void strbuf_grow(struct strbuf *sb, size_t extra)
{
    if (sb->len + extra + 1 <= sb->alloc)
        return;
    size_t n = sb->alloc ? sb->alloc : 64;
    while (n < sb->len + extra + 1)
        n *= 2;
    sb->buf = xrealloc(sb->buf, n);
    sb->alloc = n;
}

void strbuf_add(struct strbuf *sb, const void *data, size_t len)
{
    strbuf_grow(sb, len);
    memcpy(sb->buf + sb->len, data, len);
    sb->len += len;
    sb->buf[sb->len] = '\0';
}

void strbuf_addstr(struct strbuf *sb, const char *s)
{
    strbuf_add(sb, s, strlen(s));
}

void strbuf_addch(struct strbuf *sb, char c)
{
    strbuf_add(sb, &c, 1);
}

void strbuf_addf(struct strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    strbuf_grow(sb, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb->len += (size_t)n;
}

void strbuf_reset(struct strbuf *sb)
{
    sb->len = 0;
    if (sb->buf)
        sb->buf[0] = '\0';
}

char *strbuf_detach(struct strbuf *sb)
{
    char *s = sb->buf ? sb->buf : xstrdup("");
    sb->buf = NULL;
    sb->len = sb->alloc = 0;
    return s;
}

void strbuf_release(struct strbuf *sb)
{
    free(sb->buf);
    sb->buf = NULL;
    sb->len = sb->alloc = 0;
}

const char *strbuf_str(const struct strbuf *sb)
{
    return sb->buf ? sb->buf : "";
}

int parse_u64(const char *s, uint64_t *out)
{
    if (!s || !isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

int parse_int(const char *s, int min, int max, int *out)
{
    if (!s || !*s)
        return -1;
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = (int)v;
    return 0;
}

bool str_ieq(const char *a, const char *b)
{
    return strcasecmp(a, b) == 0;
}

bool str_starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool str_iends_with(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && strcasecmp(s + ls - lx, suffix) == 0;
}

char *base64_encode(const unsigned char *data, size_t len)
{
    /* OpenSSL's encoder: standard alphabet with '=' padding, no line breaks */
    char *out = xmalloc((len + 2) / 3 * 4 + 1);
    EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    return out;
}

struct arena_block {
    struct arena_block *next;
    size_t size, used;
    max_align_t data[];
};

/* n bytes at a multiple of align (a power of two) in the newest block */
static void *arena_take(struct arena *a, size_t n, size_t align)
{
    struct arena_block *b = a->head;
    size_t at = b ? (b->used + align - 1) & ~(align - 1) : 0;
    if (!b || at > b->size || b->size - at < n) {
        size_t size = n > 65536 ? n : 65536;
        b = xmalloc(sizeof(*b) + size);
        b->size = size;
        b->used = 0;
        b->next = a->head;
        a->head = b;
        at = 0;
    }
    b->used = at + n;
    a->total += n;
    return (char *)b->data + at;
}

void *arena_alloc(struct arena *a, size_t n)
{
    return arena_take(a, n ? n : 1, sizeof(max_align_t));
}

void *arena_calloc(struct arena *a, size_t nmemb, size_t size)
{
    if (size && nmemb > SIZE_MAX / size)
        abort();
    void *p = arena_alloc(a, nmemb * size);
    memset(p, 0, nmemb * size);
    return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
    char *p = arena_take(a, n + 1, 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
    return arena_strndup(a, s, strlen(s));
}

void arena_reset(struct arena *a)
{
    if (!a->head)
        return;
    /* keep the newest block (the largest need seen lately), free the rest */
    struct arena_block *keep = a->head, *b = keep->next;
    while (b) {
        struct arena_block *next = b->next;
        free(b);
        b = next;
    }
    keep->next = NULL;
    keep->used = 0;
    a->total = 0;
}

void arena_release(struct arena *a)
{
    arena_reset(a);
    free(a->head);
    a->head = NULL;
}

int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* ---- ISO-8601 times ---------------------------------------------------- */

/* n decimal digits at s → *out; -1 if any is not a digit (a NUL is not). */
static int digits(const char *s, const char *end, int n, unsigned *out)
{
    if (end - s < n)
        return -1;
    unsigned v = 0;
    for (int i = 0; i < n; i++) {
        unsigned c = (unsigned char)s[i] - '0';
        if (c > 9)
            return -1;
        v = v * 10 + c;
    }
    *out = v;
    return 0;
}

static bool valid_date(unsigned y, unsigned mo, unsigned d)
{
    static const unsigned char mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return y >= 1970 && mo >= 1 && mo <= 12 && d >= 1 && d <= mdays[mo - 1] &&
           !(mo == 2 && d == 29 && !leap);
}

int iso_time_parse(const char *s, size_t len, unsigned flags, int64_t *out)
{
    const char *end = s + len, *p = s;
    bool human = flags & ISO_TIME_HUMAN;
    unsigned y, mo, d, h = 0, mi = 0, sec = 0;
    if (digits(p, end, 4, &y) || end - p < 10 || p[4] != '-' || digits(p + 5, end, 2, &mo) ||
        p[7] != '-' || digits(p + 8, end, 2, &d) || !valid_date(y, mo, d))
        return -1;
    p += 10;
    int precision = 0;                  /* 0 day, 1 minute, 2 second */
    int64_t offset = 0;
    if (p == end && !human)
        return -1;
    if (p < end) {
        if (!(*p == 'T' || (human && (*p == 't' || *p == ' '))))
            return -1;
        p++;
        if (digits(p, end, 2, &h) || p + 2 >= end || p[2] != ':' || digits(p + 3, end, 2, &mi))
            return -1;
        p += 5;
        precision = 1;
        if (p < end && *p == ':') {
            if (digits(p + 1, end, 2, &sec))
                return -1;
            p += 3;
            precision = 2;
            if ((flags & ISO_TIME_FRACTION) && p < end && (*p == '.' || *p == ',')) {
                p++;
                if (p == end || *p < '0' || *p > '9')
                    return -1;
                while (p < end && *p >= '0' && *p <= '9')
                    p++;
            }
        } else if (!human) {
            return -1;
        }
        if (h > 23 || mi > 59 || sec > 59)
            return -1;
        if (p < end && (*p == 'Z' || (human && *p == 'z'))) {
            p++;
        } else if (human && p < end && (*p == '+' || *p == '-')) {
            unsigned oh, om;
            int sign = *p == '-' ? -1 : 1;
            p++;
            if (digits(p, end, 2, &oh))
                return -1;
            p += 2;
            if (p < end && *p == ':')
                p++;
            if (digits(p, end, 2, &om) || oh > 23 || om > 59)
                return -1;
            p += 2;
            offset = sign * (int64_t)(oh * 3600 + om * 60);
        } else if (!human) {
            return -1;              /* 'Z' is required */
        }
    }
    if (p != end)
        return -1;
    if (flags & ISO_TIME_END) {
        if (precision == 0)
            h = 23, mi = 59, sec = 59;
        else if (precision == 1)
            sec = 59;
    }
    int64_t t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset;
    if (t < 0 || t > ISO_TIME_MAX)
        return -1;
    *out = t;
    return 0;
}

static char *put2(char *p, unsigned v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
    return p + 2;
}

size_t iso_time_format(int64_t t, char out[ISO_TIME_LEN + 1])
{
    if (t < 0 || t > ISO_TIME_MAX) {
        out[0] = '\0';
        return 0;
    }
    int64_t y;
    unsigned m, d;
    civil_from_days(t / 86400, &y, &m, &d);
    unsigned secs = (unsigned)(t % 86400);
    char *p = put2(out, (unsigned)(y / 100));
    p = put2(p, (unsigned)(y % 100));
    *p++ = '-';
    p = put2(p, m);
    *p++ = '-';
    p = put2(p, d);
    *p++ = 'T';
    p = put2(p, secs / 3600);
    *p++ = ':';
    p = put2(p, secs / 60 % 60);
    *p++ = ':';
    p = put2(p, secs % 60);
    *p++ = 'Z';
    *p = '\0';
    return ISO_TIME_LEN;
}

/* ---- UTF-8 and the terminal ---------------------------------------- */

size_t utf8_len(const unsigned char *s)
{
    unsigned c = s[0];
    if (c < 0x80)
        return c ? 1 : 0;
    if (c >= 0xc2 && c <= 0xdf)
        return (s[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        /* no overlong forms (E0 80..9F) and no surrogates (ED A0..BF) */
        unsigned lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
        return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        unsigned lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
        return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 && (s[3] & 0xc0) == 0x80 ? 4 : 0;
    }
    return 0;
}

/* The code point of the n-byte UTF-8 sequence at s, which utf8_len has
 * found valid. */
static unsigned code_point(const unsigned char *s, size_t n)
{
    switch (n) {
    case 1: return s[0];
    case 2: return (s[0] & 0x1fu) << 6 | (s[1] & 0x3fu);
    case 3: return (s[0] & 0x0fu) << 12 | (s[1] & 0x3fu) << 6 | (s[2] & 0x3fu);
    default: return (s[0] & 0x07u) << 18 | (s[1] & 0x3fu) << 12 | (s[2] & 0x3fu) << 6 | (s[3] & 0x3fu);
    }
}

/* A code point that steers the terminal or the order of what it shows
 * (util.h has the list). */
static bool steers(unsigned cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e)
           || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200e || cp == 0x200f || cp == 0x061c
           || cp == 0x2028 || cp == 0x2029;
}

void term_safe_cut(struct strbuf *out, const char *s, size_t max)
{
    if (!s)
        return;
    const unsigned char *p = (const unsigned char *)s, *start = p;
    while (*p) {
        if ((size_t)(p - start) >= max) {
            strbuf_addstr(out, "...");
            return;
        }
        size_t n = utf8_len(p);
        if (!n) {
            strbuf_addf(out, "\\x%02x", *p++);
            continue;
        }
        unsigned cp = code_point(p, n);
        if (!steers(cp))
            strbuf_add(out, p, n);
        else if (cp == '\t' || cp == '\n' || cp == '\r' || cp == 0x1b)
            strbuf_addstr(out, cp == '\t' ? "\\t" : cp == '\n' ? "\\n" : cp == '\r' ? "\\r" : "\\e");
        else if (cp < 0x80)
            strbuf_addf(out, "\\x%02x", cp);
        else
            strbuf_addf(out, "\\u%04x", cp);
        p += n;
    }
}

void term_safe(struct strbuf *out, const char *s)
{
    term_safe_cut(out, s, SIZE_MAX);
}

const char *term_safe_str(struct strbuf *buf, const char *s)
{
    strbuf_reset(buf);
    term_safe(buf, s);
    return strbuf_str(buf);
}


/* ---- UTF-8 in machine formats ------------------------------------------ */

size_t utf8_repair_char(char *d, const unsigned char **s)
{
    size_t n = utf8_len(*s);
    if (!n) {
        memcpy(d, UTF8_REPLACEMENT, 3);
        (*s)++;
        return 3;
    }
    memcpy(d, *s, n);
    *s += n;
    return n;
}

void strbuf_add_repaired_char(struct strbuf *sb, const unsigned char **s)
{
    strbuf_grow(sb, 4);
    sb->len += utf8_repair_char(sb->buf + sb->len, s);
    sb->buf[sb->len] = '\0';
}

const char *utf8_repaired(struct strbuf *buf, const char *s)
{
    if (!s)
        return s;
    const unsigned char *p = (const unsigned char *)s;
    for (size_t n; *p && (n = utf8_len(p)); p += n)
        ;
    if (!*p)
        return s;       /* valid: the common case costs no copy */
    strbuf_reset(buf);
    strbuf_add(buf, s, (size_t)((const char *)p - s));
    while (*p)
        strbuf_add_repaired_char(buf, &p);
    return buf->buf;
}

cJSON *json_str_item(const char *s)
{
    struct strbuf buf = STRBUF_INIT;
    cJSON *item = cJSON_CreateString(utf8_repaired(&buf, s));
    strbuf_release(&buf);
    if (!item)
        out_of_memory(strlen(s));
    return item;
}

void json_add_str(cJSON *object, const char *key, const char *s)
{
    if (s)
        cJSON_AddItemToObject(object, key, json_str_item(s));
}
