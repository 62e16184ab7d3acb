/* mapstore_p.h - inside the mapping store: shared by mapstore.c (the store,
 * its journal and commit) and mapstore_format.c (the text of the files), and
 * by the unit test and the fuzzer. Nothing else includes it. */
#ifndef DUALSYNC_MAPSTORE_P_H
#define DUALSYNC_MAPSTORE_P_H

#include "compat.h"

#include "mapstore.h"
#include "util.h"

struct strbuf;

/* The versions written, and the oldest still read. Version 2 added the
 * reason field (doc/mapping-format.md, "Version 1"); a version 1 file or
 * journal is read with the reason derived from its last error, and the
 * next commit writes it again as version 2. */
#define MAP_FORMAT_VERSION 2
#define MAP_FORMAT_OLDEST 1
#define MAP_MAGIC "dualsync-map"
#define JOURNAL_FORMAT_VERSION 2
#define JOURNAL_FORMAT_OLDEST 1
#define JOURNAL_MAGIC "dualsync-journal"
#define MAP_FIELDS 14
#define MAP_FIELDS_V1 13

/* ---- mapstore_format.c: words, escapes, times, record lines ------------ */

/* Unescape a field in place (\\ \t \n \r); returns its new length, or -1 on
 * a bad or truncated escape. s[len] is set to NUL. */
long map_unescape(char *s, size_t len);
/* True if s holds a byte that must be escaped. */
bool map_needs_escape(const char *s, size_t len);
/* Append s escaped. */
void map_escape(struct strbuf *sb, const char *s, size_t len);
/* Append s escaped at dst (room for 2 * len bytes); returns the end. */
char *map_escape_to(char *dst, const char *s, size_t len);

/* "2024-05-01T12:00:00Z" (exactly 20 bytes, a real date and time) → 0 and
 * seconds since 1970; "" → 0 and 0 (not set). -1 if malformed. */
int map_time_parse(const char *s, size_t len, int64_t *out);
/* Write t as "YYYY-MM-DDTHH:MM:SSZ" at dst (room for MAP_TIME_LEN); t is 0
 * (nothing written, returns dst) or in [1970, 9999]. Returns the end. */
#define MAP_TIME_LEN ISO_TIME_LEN
#define MAP_TIME_MAX ISO_TIME_MAX
char *map_time_format(char *dst, int64_t t);

/* Parse one record line in place, of a mapping file or a journal of the
 * given format version (the two share the record line and its versions):
 * MAP_FIELDS (version 1: MAP_FIELDS_V1) tab-separated fields at
 * line[0..len), line[len] being the newline (or NUL). Fields are
 * NUL-terminated and unescaped in place and out points into the line.
 * has_escape: the line holds a backslash (the caller knows, from one memchr).
 * A version 1 line has no reason field: it is derived from the last error as
 * version 1 meant it (map_reason_of_v1_error). Returns 0, or -1 with a
 * message "what is wrong" in why (no file or line: the caller adds them). */
int map_record_parse(char *line, size_t len, bool has_escape, unsigned version,
                     struct map_record *out, char *why, size_t whysize);

/* The reason a version 1 file meant by a record's last error: the texts that
 * release wrote, kept here as they were whatever the messages say today. */
enum map_reason map_reason_of_v1_error(const char *last_error);

/* Append the MAP_FIELDS fields of rec (the current version), tab-separated,
 * escaped, without a newline.
 * plain: the caller knows that no string needs escaping (copied as is). */
void map_record_format(struct strbuf *sb, const struct map_record *rec, bool plain);

/* ---- mapstore.c: for the unit test and the fuzzer ---------------------- */

/* A store in memory only, as if path did not exist: no lock, no file. */
struct mapstore *mapstore_new_in_memory(const char *path, const struct mapstore_tenant *tenant);
/* Parse a mapping file / journal text into an empty store; buf[len] must be
 * NUL and the store takes buf (frees it at close). Returns 0 or -1 after
 * logging FILE:LINE. On -1 the store must only be closed. */
int mapstore_load_map_text(struct mapstore *ms, char *buf, size_t len);
int mapstore_load_journal_text(struct mapstore *ms, char *buf, size_t len);

#endif
