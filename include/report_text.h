/* report_text.h - text from AD or Graph made safe for a terminal.
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
#ifndef DUALSYNC_REPORT_TEXT_H
#define DUALSYNC_REPORT_TEXT_H

#include "util.h"

/* Appends s (NULL: nothing) to out, made safe as above. */
void term_safe(struct strbuf *out, const char *s);

/* The same, cut at a character boundary after about max bytes of s with
 * "..." (for one-line summaries). */
void term_safe_cut(struct strbuf *out, const char *s, size_t max);

/* For printf: empties buf, puts s made safe in it and returns buf's text
 * (valid until buf changes; the caller releases buf). */
const char *term_safe_str(struct strbuf *buf, const char *s);

#endif
