/* fuzz_config - libFuzzer target for the config loader and the rule parser.
 *
 * Each input is tried three ways: as a rule line, as a condition, and as a
 * whole config file (inih + config.c + rules.c); a config that loads is then
 * compiled (policy.c) and decided on a few subjects. Beyond "no crash, no
 * sanitizer report, no leak", it checks one invariant: the canonical form of
 * a condition parses back to the same canonical form (cond_format is a fixpoint).
 *
 * Built by `make fuzz` (clang -fsanitize=fuzzer,address,undefined); run with
 * tests/fuzz/run.sh SECONDS. */
#include "compat.h"

#include <unistd.h>

#include "config.h"
#include "policy.h"
#include "rules.h"
#include "util.h"

static char path[] = "/tmp/dualsync-fuzz-config-XXXXXX";

static void round_trip(const struct cond *c)
{
    struct strbuf once = STRBUF_INIT, twice = STRBUF_INIT;
    cond_format(c, &once);
    struct cond *c2;
    struct rules_error err;
    if (rules_parse_condition(strbuf_str(&once), &c2, &err)) {
        fprintf(stderr, "canonical form does not parse: '%s': %s\n", strbuf_str(&once), err.message);
        abort();
    }
    cond_format(c2, &twice);
    if (strcmp(strbuf_str(&once), strbuf_str(&twice))) {
        fprintf(stderr, "canonical form is not a fixpoint:\n  %s\n  %s\n", strbuf_str(&once),
                strbuf_str(&twice));
        abort();
    }
    cond_free(c2);
    strbuf_release(&once);
    strbuf_release(&twice);
}

static void decide_some(const struct policy *pol)
{
    static const char *const strings[] = { "gcch", "US", "us-person", "a@contoso.example", "" };
    size_t na = policy_nattrs(pol), words = policy_set_words(pol);
    struct policy_values *vals = xcalloc(na + 1, sizeof(*vals));
    uint64_t *bits = xcalloc(words + 1, sizeof(*bits));
    struct policy_result res[CONFIG_MAX_TENANTS];
    for (int k = 0; k < 6; k++) {
        for (size_t a = 0; a < na; a++) {
            vals[a].vals = &strings[(a + (size_t)k) % 4];
            vals[a].n = (uint32_t)((a + (size_t)k) % 3 ? 1 : 0);
        }
        for (size_t w = 0; w < words; w++)
            bits[w] = k & 1 ? ~0ull : 0x5555555555555555ull;
        struct policy_subject s = { (enum ad_class)(k % AD_CLASS_COUNT), k & 2, vals,
                                    k & 4 ? bits : NULL, bits };
        policy_decide_all(pol, &s, res);
        struct strbuf why = STRBUF_INIT;
        for (size_t t = 0; t < policy_ntenants(pol); t++)
            policy_reason(pol, &s, t, &res[t], &why);
        strbuf_release(&why);
    }
    free(vals);
    free(bits);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = xstrndup((const char *)data, size);
    struct cond *c;
    enum decision d;
    struct rules_error err;
    if (rules_parse_rule(text, &c, &d, &err) == 0) {
        round_trip(c);
        cond_free(c);
    } else if (err.offset > size) {
        abort();   /* an error must point inside the text (or just after it) */
    }
    if (rules_parse_condition(text, &c, &err) == 0) {
        round_trip(c);
        cond_free(c);
    }
    free(text);

    static bool made;
    if (!made) {
        int fd = mkstemp(path);
        if (fd < 0)
            abort();
        close(fd);
        made = true;
    }
    FILE *f = fopen(path, "w");
    if (!f)
        abort();
    fwrite(data, 1, size, f);
    fclose(f);
    struct config cfg;
    if (config_load(path, &cfg) == 0) {
        struct policy *pol = policy_compile(&cfg);
        if (!pol)
            abort();   /* config_load accepted it: compiling must work */
        decide_some(pol);
        policy_free(pol);
    }
    config_free(&cfg);
    return 0;
}
