/* fuzz_connect_export - libFuzzer target for the reader of Entra Connect's
 * exported configuration (src/connect_export.c, libxml2): the folder
 * Get-ADSyncServerConfiguration writes, which the admin gives dualsync and
 * which may come from another server.
 *
 * Each input is one XML file's bytes, read as a file of each of the three
 * folders (Connectors, SynchronizationRules, GlobalSettings) through
 * connect_export_read_buffer, the reader's per-file path; what was read is
 * then walked as the judge walks it (the Entra connector's domain, the AD
 * attributes the rules scope on). Beyond "no crash, no sanitizer report, no
 * leak", it checks what the reader promises: every field the judge uses
 * without a NULL test is set, and no text read is larger than a few times
 * the input (a DOCTYPE, and with it any entity, is refused; an encoding
 * may widen a byte to at most 4 in UTF-8).
 *
 * libxml2 is Debian's, not instrumented: coverage is that of the reader.
 * Run with tests/fuzz/run-connect.sh SECONDS (make fuzz-connect; not part
 * of make check). */
#include "compat.h"

#include "connect_config.h"
#include "util.h"

static size_t limit;

static void bounded(const char *s)
{
    if (s && strlen(s) > limit)
        __builtin_trap();   /* more text than the input can hold: an expansion */
}

static void required(const char *s)
{
    if (!s)
        __builtin_trap();
    bounded(s);
}

static void walk(const struct connect_export *ex)
{
    for (size_t i = 0; i < ex->nrules; i++) {
        const struct connect_rule *r = &ex->rules[i];
        required(r->file);
        required(r->name);
        required(r->connector);
        bounded(r->id);
        bounded(r->source_type);
        bounded(r->target_type);
        bounded(r->link_type);
        if (r->line < 0 || r->precedence < 0)
            __builtin_trap();
        for (size_t f = 0; f < r->nflows; f++) {
            required(r->flows[f].dest);
            bounded(r->flows[f].expression);
            bounded(r->flows[f].constant);
            for (size_t k = 0; k < r->flows[f].nsrc; k++)
                required(r->flows[f].src[k]);
        }
        for (size_t g = 0; g < r->ngroups; g++)
            for (size_t c = 0; c < r->groups[g].nclauses; c++) {
                required(r->groups[g].clauses[c].attr);
                required(r->groups[g].clauses[c].op);
                bounded(r->groups[g].clauses[c].value);
            }
    }
    for (size_t i = 0; i < ex->nconnectors; i++) {
        const struct connect_connector *c = &ex->connectors[i];
        required(c->file);
        required(c->id);
        required(c->name);
        bounded(c->account);
        for (size_t p = 0; p < c->npartitions; p++) {
            required(c->partitions[p].name);
            for (size_t k = 0; k < c->partitions[p].ninclusions; k++)
                required(c->partitions[p].inclusions[k]);
            for (size_t k = 0; k < c->partitions[p].nexclusions; k++)
                required(c->partitions[p].exclusions[k]);
            for (size_t k = 0; k < c->partitions[p].nclasses; k++)
                required(c->partitions[p].classes[k]);
        }
        for (size_t k = 0; k < c->nattributes; k++)
            required(c->attributes[k]);
        const char *from = NULL;
        char *domain = connect_entra_domain(c, &from);
        bounded(domain);
        if (domain && !from)
            __builtin_trap();
        free(domain);
    }
    for (size_t i = 0; i < ex->nsettings; i++) {
        required(ex->settings[i].name);
        required(ex->settings[i].file);
        bounded(ex->settings[i].value);
    }
    bounded(ex->server);
    char **names = NULL;
    size_t n = 0;
    connect_scope_attributes(ex, &names, &n);
    for (size_t i = 0; i < n; i++) {
        required(names[i]);
        free(names[i]);
    }
    free(names);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const parts[][2] = {
        { "Connectors", "Connectors/Connector_{7d1c2e3f-4a5b-4c6d-8e9f-a0b1c2d3e4f5}.xml" },
        { "SynchronizationRules", "SynchronizationRules/SynchronizationRule_{0a1f95e3-265a-44fc-ad7c-80e267b05c06}.xml" },
        { "GlobalSettings", "GlobalSettings/MV.xml" },
    };
    limit = 4 * size + 64;
    for (size_t p = 0; p < ARRAY_SIZE(parts); p++) {
        struct connect_export ex = { 0 };
        connect_export_read_buffer(&ex, parts[p][0], parts[p][1], (const char *)data, size);
        walk(&ex);
        connect_export_free(&ex);
    }
    return 0;
}
