/* util.h - memory, strings and number parsing shared by every module.
 *
 * Out of memory is not an error we can recover from: every x* allocator aborts
 * with a message instead of returning NULL, so callers never check. */
#ifndef DUALSYNC_UTIL_H
#define DUALSYNC_UTIL_H

#include "compat.h"

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Formatted allocation; the caller frees the result. */
char *xasprintf(const char *fmt, ...) ATTR_PRINTF(1, 2);

/* Grow *items (of elem_size) so that index `need - 1` fits; *alloc tracks capacity. */
void grow_array(void **items, size_t *alloc, size_t need, size_t elem_size);
#define GROW(arr, alloc, need) grow_array((void **)&(arr), &(alloc), (need), sizeof(*(arr)))

/* qsort that takes an empty array as it may come (NULL, 0): C leaves
 * qsort(NULL, 0, ...) undefined. */
void sort_array(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *));

/* A growable NUL-terminated byte buffer. Zero-initialise (STRBUF_INIT) before
 * use; strbuf_release frees it; strbuf_detach hands the string to the caller. */
struct strbuf {
    char *buf;
    size_t len;
    size_t alloc;
};
#define STRBUF_INIT { NULL, 0, 0 }
void strbuf_grow(struct strbuf *sb, size_t extra);
void strbuf_add(struct strbuf *sb, const void *data, size_t len);
void strbuf_addstr(struct strbuf *sb, const char *s);
void strbuf_addch(struct strbuf *sb, char c);
void strbuf_addf(struct strbuf *sb, const char *fmt, ...) ATTR_PRINTF(2, 3);
void strbuf_reset(struct strbuf *sb);
char *strbuf_detach(struct strbuf *sb);
void strbuf_release(struct strbuf *sb);
/* The buffer's text, "" when nothing was added yet (never NULL). */
const char *strbuf_str(const struct strbuf *sb);

/* Strict decimal parsing: the whole string must be a number in range.
 * Return 0 on success, -1 otherwise (out untouched). */
int parse_u64(const char *s, uint64_t *out);
int parse_int(const char *s, int min, int max, int *out);

bool str_ieq(const char *a, const char *b);
bool str_starts_with(const char *s, const char *prefix);
/* Case-insensitive (ASCII) suffix test, as DN and domain comparisons need. */
bool str_iends_with(const char *s, const char *suffix);

/* A region allocator for data that dies together (e.g. one LDAP entry): no
 * free per string; arena_reset makes all of it reusable at once and keeps the
 * memory. Pointers stay valid until the next reset or release. Zero-initialise
 * it. Strings are packed without alignment padding (plan keeps hundreds of
 * thousands of short ones); arena_alloc/arena_calloc memory is aligned for any type. */
struct arena_block;
struct arena {
    struct arena_block *head;
    size_t total;              /* bytes handed out since the last reset */
};
void *arena_alloc(struct arena *a, size_t n);
void *arena_calloc(struct arena *a, size_t nmemb, size_t size);
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_strdup(struct arena *a, const char *s);
void arena_reset(struct arena *a);
void arena_release(struct arena *a);

/* Days since 1970-01-01 of a proleptic Gregorian date, and back (Howard
 * Hinnant's algorithms): no timegm/gmtime, which are not portable (timegm) or
 * depend on the TZ database, and cost far more than the rest of a mapping
 * record or a report line. */
int64_t days_from_civil(int64_t y, unsigned m, unsigned d);
void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);

/* The one codec of UTC ISO-8601 times (RFC 3339 profile), used by the mapping
 * file, the audit file, reports, plan output and Graph's DateTimeOffset.
 *
 * iso_time_parse reads s[0..len) whole (no leading or trailing text) and, on
 * success, stores seconds since 1970-01-01T00:00:00Z in *out and returns 0;
 * otherwise it returns -1 and leaves *out alone. With flags 0 the grammar is
 * exactly
 *     YYYY-MM-DDTHH:MM:SSZ        (ISO_TIME_LEN bytes, 'T' and 'Z' upper case)
 * with a 4-digit year from 1970, month 01-12, a day that exists in that month
 * (29 February only in leap years), hour 00-23, minute 00-59, second 00-59
 * (no leap second). Flags widen it:
 *   ISO_TIME_FRACTION  a fraction after the seconds, '.' or ',' and at least
 *                      one digit (Graph writes 2026-12-07T05:42:29.1234567Z);
 *                      it is dropped, not rounded.
 *   ISO_TIME_HUMAN     what a person types on a command line: a date alone
 *                      (YYYY-MM-DD, 00:00:00 of that day); 'T', 't' or one
 *                      space before the time; seconds optional (HH:MM); the
 *                      zone optional (UTC), 'Z', 'z', or an offset +HH:MM,
 *                      -HH:MM, +HHMM, -HHMM (HH 00-23, MM 00-59), which is
 *                      subtracted. A zone needs a time ("2026-11-16Z" is not).
 *   ISO_TIME_END       with ISO_TIME_HUMAN: a date alone means 23:59:59 of
 *                      that day and HH:MM means HH:MM:59, so an "until" bound
 *                      takes in the whole day or minute.
 * Whatever the flags, the result lies in [0, ISO_TIME_MAX]: an offset that
 * takes it out is refused. */
#define ISO_TIME_LEN 20
#define ISO_TIME_MAX INT64_C(253402300799) /* 9999-12-31T23:59:59Z */
enum {
    ISO_TIME_FRACTION = 1u << 0,
    ISO_TIME_HUMAN = 1u << 1,
    ISO_TIME_END = 1u << 2,
};
int iso_time_parse(const char *s, size_t len, unsigned flags, int64_t *out);

/* Write t as "YYYY-MM-DDTHH:MM:SSZ" and a NUL at out, returning ISO_TIME_LEN;
 * a t outside [0, ISO_TIME_MAX] writes "" and returns 0. No gmtime/strftime:
 * the same digits on every platform and in every TZ. */
size_t iso_time_format(int64_t t, char out[ISO_TIME_LEN + 1]);

/* Standard base64 (RFC 4648, with padding) of len bytes; caller frees. */
char *base64_encode(const unsigned char *data, size_t len);

/* ---- Text from AD or Graph made safe for a terminal ----------------------
 *
 * Whoever can edit a user in AD chooses the bytes of its displayName, UPN and
 * DN; printed raw, ESC and the C1 CSI (U+009B, or the raw byte 0x9B that some
 * terminals take as well) start escape sequences that retitle the terminal,
 * clear it or hide lines, and the bidi overrides reorder what the
 * administrator reads. Every human-readable output that carries directory
 * data (plan's table, explain, pull's summary, run's summary, error messages)
 * passes each such value through term_safe, the one sanitiser; the machine
 * formats (JSON, CSV, NDJSON) keep the bytes and escape them for the format.
 *
 * What is replaced, visibly, so that an administrator sees that something is
 * there (ECMA-48 section 5 for C0 and C1; Unicode UAX #9 for the bidi
 * controls):
 *   TAB LF CR ESC                  \t \n \r \e
 *   other C0 (U+0001-U+001F), DEL  \xNN
 *   C1 encoded (U+0080-U+009F)     \u00NN
 *   bidi embeddings, overrides, isolates and marks (U+202A-U+202E,
 *   U+2066-U+2069, U+200E, U+200F, U+061C), line and paragraph separators
 *   (U+2028, U+2029)               \uNNNN
 *   a byte that is not UTF-8 (a raw 0x80-0x9F among them)   \xNN
 * Everything else, any other UTF-8 (Nguyễn, 李雷), is kept as it is.
 * A backslash is kept too: DNs hold escaped characters (CN=Lee\, Bob) that an
 * administrator copies back into `dualsync explain`, so "\e" in the output may
 * also be a backslash and an e in AD; the JSON output tells them apart. */

/* The length of the valid UTF-8 sequence at s (1-4), or 0 if s does not
 * start one (a stray, overlong or surrogate byte sequence, a truncation, or
 * the NUL at the end). The one UTF-8 check of utf8_repair_char and of
 * term_safe. */
size_t utf8_len(const unsigned char *s);

/* Appends s (NULL: nothing) to out, made safe as above. */
void term_safe(struct strbuf *out, const char *s);

/* The same, cut at a character boundary after about max bytes of s with
 * "..." (for one-line summaries). */
void term_safe_cut(struct strbuf *out, const char *s, size_t max);

/* For printf: empties buf, puts s made safe in it and returns buf's text
 * (valid until buf changes; the caller releases buf). */
const char *term_safe_str(struct strbuf *buf, const char *s);

/* ---- Every JSON, CSV and HTML output valid UTF-8 -------------------------
 *
 * One rule, wherever dualsync writes a machine format: a valid UTF-8
 * sequence is kept as it is, and each byte that does not start one (a
 * Latin-1 byte from an old tool, a cut multibyte character, a surrogate) is
 * written as U+FFFD. RFC 8259 section 8.1 asks JSON exchanged between
 * systems to be UTF-8: a strict reader (Python's json, Graph) refuses
 * anything else, so one raw byte would make a whole audit line or request
 * unreadable. Replacing rather than dropping keeps a visible mark where the
 * byte was. */
#define UTF8_REPLACEMENT "\xef\xbf\xbd"    /* U+FFFD, 3 bytes */

/* Copies the character at *s (not the NUL at the end) to d by the rule
 * above: at most 4 bytes, which the caller has room for. Advances *s past
 * what it read and returns the number of bytes written. The writers call it
 * for each byte >= 0x80, in their own loops that escape the rest. */
size_t utf8_repair_char(char *d, const unsigned char **s);
/* The same, appended to sb. */
void strbuf_add_repaired_char(struct strbuf *sb, const unsigned char **s);

/* s itself when it is all valid UTF-8 (or NULL); otherwise buf, emptied,
 * holding s by the rule above, and its text returned (valid until buf
 * changes; the caller releases buf). */
const char *utf8_repaired(struct strbuf *buf, const char *s);

/* The one way a string from outside (AD, Graph, the config, a file name)
 * enters a cJSON tree: s made valid UTF-8 by utf8_repaired, then a cJSON
 * string (which escapes it). cJSON itself passes any byte through.
 * json_add_str adds nothing when s is NULL. */
struct cJSON;
struct cJSON *json_str_item(const char *s);
void json_add_str(struct cJSON *object, const char *key, const char *s);

#endif
