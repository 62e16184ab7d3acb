/* Unit tests for world.c: the configuration is the same after world_load as
 * it was loaded. world_load builds its own LDAP request (the attributes the
 * rules read, the groups they name) from it; before, it appended them to
 * cfg->ldap.attributes and cfg->ldap.watch_groups. AD is not reached: the
 * LDAP URI names a closed loopback port, so the load stops after the request
 * is built, which is all this test looks at. */
#include "compat.h"

#include <setjmp.h>
#include <stdarg.h>
#include <strings.h>
#include <unistd.h>
#include <cmocka.h>

#include "cli.h"
#include "config.h"
#include "util.h"
#include "world.h"

static char dir[] = "/tmp/dualsync-test-world-XXXXXX";

/* The config's LDAP lists, as text, to compare before and after. */
static char *lists(const struct config *cfg)
{
    struct strbuf sb = STRBUF_INIT;
    strbuf_addf(&sb, "attributes %zu:", cfg->ldap.nattributes);
    for (size_t i = 0; i < cfg->ldap.nattributes; i++)
        strbuf_addf(&sb, " %s", cfg->ldap.attributes[i]);
    strbuf_addf(&sb, "; watch_groups %zu:", cfg->ldap.nwatch_groups);
    for (size_t i = 0; i < cfg->ldap.nwatch_groups; i++)
        strbuf_addf(&sb, " %s", cfg->ldap.watch_groups[i]);
    return strbuf_detach(&sb);
}

static void load_leaves_the_config_alone(void **state)
{
    (void)state;
    char *conf = xasprintf("%s/dualsync.conf", dir);
    char *text = xasprintf(
        "[dualsync]\nmappings_dir = %s/mappings\n"
        "[ldap]\nuri = ldap://127.0.0.1:1\nbind = simple\nbind_dn = svc@corp.example.test\n"
        "password_env = DUALSYNC_TEST_WORLD_PW\ninsecure_lab_cleartext = yes\ntimeout = 2\n"
        "base_dn = DC=corp,DC=example,DC=test\nattributes = department\n"
        "[tenant resource]\ncloud = global\n"
        "tenant_id = 7d2e5f80-1a2b-4c3d-8e4f-5a6b7c8d9e0f\n"
        "client_id = 3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f\n"
        "client_secret_file = %s/resource.secret\n"
        "rule = extensionAttribute4 = Employee -> external-member\n"
        "rule = memberof \"CN=SG-Staff,OU=Groups,DC=corp,DC=example,DC=test\" -> external-guest\n"
        "default = exclude\n", dir, dir);
    FILE *f = fopen(conf, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    setenv("DUALSYNC_TEST_WORLD_PW", "not-a-secret", 1);

    struct config cfg;
    assert_int_equal(config_load(conf, &cfg), 0);
    char *before = lists(&cfg);
    for (int round = 0; round < 2; round++) {      /* watch loads again and again */
        struct world w;
        int rc = world_load(&w, &cfg, true, false, false, NULL);
        assert_int_equal(rc, EXIT_STOPPED);        /* nobody listens on port 1 */
        /* the world's own request has what the rules read */
        bool has_ea4 = false, has_dn = false;
        for (size_t i = 0; i < w.ldap.nattributes; i++) {
            has_ea4 |= !strcasecmp(w.ldap.attributes[i], "extensionAttribute4");
            has_dn |= !strcasecmp(w.ldap.attributes[i], "displayName");
        }
        assert_true(has_ea4 && has_dn);
        assert_int_equal(w.ldap.nwatch_groups, 1);
        world_free(&w);
        char *after = lists(&cfg);
        assert_string_equal(before, after);
        free(after);
    }
    free(before);
    config_free(&cfg);
    unlink(conf);
    free(conf);
    free(text);
}

int main(void)
{
    assert_non_null(mkdtemp(dir));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(load_leaves_the_config_alone),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    rmdir(dir);
    return rc;
}
