/* fuzz_mapstore - libFuzzer target for the mapping store's parsers.
 *
 * Input: one byte that picks what to parse, then the text.
 *   mode 0: a mapping file
 *   mode 1: a journal (no mapping file)
 *   mode 2: a mapping file and a journal, split where the next two bytes say
 * Must never crash, leak or read out of bounds (ASan, UBSan). Beyond that,
 * every record the parser accepts must survive a round trip through the
 * writer: format it (in the current version), parse it back, and get the
 * same values, the reason included (for a version 1 input, the one derived
 * from its last error).
 *
 * Run with tests/fuzz/run-mapstore.sh SECONDS (not part of make check). */
#include "compat.h"

#include "mapstore.h"
#include "../../src/mapstore_p.h"
#include "util.h"

static const struct mapstore_tenant tenant = {
    "contoso", "0f2c5a4e-1111-2222-3333-444455556666", CLOUD_GLOBAL
};

static char *copy(const uint8_t *data, size_t len)
{
    char *p = xmalloc(len + 1);
    memcpy(p, data, len);
    p[len] = '\0';
    return p;
}

static bool same(const struct map_record *a, const struct map_record *b)
{
    return a->state == b->state && a->reason == b->reason && a->decision == b->decision &&
           a->user_type == b->user_type &&
           a->first_change == b->first_change && a->last_change == b->last_change &&
           !strcmp(a->anchor, b->anchor) && !strcmp(a->cloud_id, b->cloud_id) &&
           !strcmp(a->object_guid, b->object_guid) && !strcmp(a->upn, b->upn) &&
           !strcmp(a->rule, b->rule) && !strcmp(a->invitation_id, b->invitation_id) &&
           !strcmp(a->dn, b->dn) && !strcmp(a->last_error, b->last_error);
}

static void round_trip(const struct mapstore *ms)
{
    size_t pos = 0;
    const struct map_record *r;
    char why[256];
    while ((r = mapstore_next(ms, &pos))) {
        struct strbuf sb = STRBUF_INIT;
        map_record_format(&sb, r, false);
        struct map_record back;
        if ((unsigned)r->reason >= MAP_REASON_COUNT ||
            map_record_parse(sb.buf, sb.len, memchr(sb.buf, '\\', sb.len) != NULL,
                             MAP_FORMAT_VERSION, &back, why, sizeof(why)) ||
            !same(r, &back))
            abort();
        strbuf_release(&sb);
    }
    const struct map_intent *doubt;
    size_t n = mapstore_in_doubt(ms, &doubt);
    for (size_t i = 0; i < n; i++)
        if (!mapstore_find(ms, doubt[i].anchor) || !mapstore_intent_of(ms, doubt[i].anchor))
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int mode = data[0] % 3;
    data++;
    size--;
    struct mapstore *ms = mapstore_new_in_memory("fuzz.map", &tenant);
    int rc = 0;
    if (mode == 0) {
        rc = mapstore_load_map_text(ms, copy(data, size), size);
    } else if (mode == 1) {
        rc = mapstore_load_journal_text(ms, copy(data, size), size);
    } else {
        if (size < 2) {
            mapstore_close(ms);
            return 0;
        }
        size_t split = ((size_t)data[0] << 8 | data[1]) % (size - 1);
        data += 2;
        size -= 2;
        rc = mapstore_load_map_text(ms, copy(data, split), split);
        if (!rc)
            rc = mapstore_load_journal_text(ms, copy(data + split, size - split), size - split);
    }
    if (!rc)
        round_trip(ms);
    mapstore_close(ms);
    return 0;
}
