/* Unit tests for config.c: the [ldap] section, and errors as FILE:LINE. */
#include "compat.h"

#include <setjmp.h>
#include <stdarg.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "util.h"

static char conf_path[] = "/tmp/dualsync-test-config-XXXXXX";
static char err_path[] = "/tmp/dualsync-test-stderr-XXXXXX";

static void write_conf(const char *text)
{
    FILE *f = fopen(conf_path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Load the config with stderr captured; returns what was printed. */
static char *load(const char *text, struct config *cfg, int *rc)
{
    write_conf(text);
    fflush(stderr);
    int saved = dup(2);
    FILE *ef = fopen(err_path, "w+");
    dup2(fileno(ef), 2);
    *rc = config_load(conf_path, cfg);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    struct strbuf sb = STRBUF_INIT;
    char buf[512];
    rewind(ef);
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), ef)) > 0)
        strbuf_add(&sb, buf, n);
    fclose(ef);
    return strbuf_detach(&sb);
}

static int setup(void **state)
{
    (void)state;
    int fd = mkstemp(conf_path);
    close(fd);
    fd = mkstemp(err_path);
    close(fd);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(conf_path);
    unlink(err_path);
    return 0;
}

static void full_ldap_section(void **state)
{
    (void)state;
    struct config cfg;
    int rc;
    char *err = load("; comment\n"
                     "[dualsync]\nmappings_dir = /var/lib/dualsync\n"
                     "[ldap]\n"
                     "uri = ldaps://dc1.corp.example:636\n"
                     "ca_file = /etc/ssl/corp-ca.pem\n"
                     "bind = simple\n"
                     "bind_dn = svc@CORP.EXAMPLE\n"
                     "password_file = /etc/dualsync/ldap.pw\n"
                     "base_dn = OU=Contoso,DC=corp,DC=example\n"
                     "base_dn = OU=Defense\\, Inc,DC=corp,DC=example\n"
                     "exclude_ou = OU=Service,OU=Contoso,DC=corp,DC=example\n"
                     "classes = user, contact\n"
                     "filter = (!(extensionAttribute15=nosync))\n"
                     "page_size = 500\n"
                     "attributes = employeeType, division\n",
                     &cfg, &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(err, "");
    assert_string_equal(cfg.mappings_dir, "/var/lib/dualsync");
    assert_string_equal(cfg.ldap.uri, "ldaps://dc1.corp.example:636");
    assert_int_equal(cfg.ldap.bind, LDAP_BIND_SIMPLE);
    assert_int_equal(cfg.ldap.scope.nbase_dns, 2);
    assert_string_equal(cfg.ldap.scope.base_dns[1], "OU=Defense\\, Inc,DC=corp,DC=example");
    assert_int_equal(cfg.ldap.scope.nexclude_ous, 1);
    assert_true(cfg.ldap.scope.classes[AD_CLASS_USER]);
    assert_true(cfg.ldap.scope.classes[AD_CLASS_CONTACT]);
    assert_false(cfg.ldap.scope.classes[AD_CLASS_GROUP]);
    assert_int_equal(cfg.ldap.page_size, 500);
    assert_int_equal(cfg.ldap.nattributes, 2);
    assert_string_equal(cfg.ldap.attributes[1], "division");
    assert_true(cfg.ldap.starttls);
    free(err);
    config_free(&cfg);
}

static void defaults(void **state)
{
    (void)state;
    struct config cfg;
    int rc;
    char *err = load("[ldap]\nuri = ldap://dc1\nbase_dn = DC=corp\n", &cfg, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(cfg.ldap.bind, LDAP_BIND_GSSAPI);
    assert_int_equal(cfg.ldap.page_size, 1000);
    assert_int_equal(cfg.ldap.timeout, 30);
    assert_true(cfg.ldap.scope.classes[AD_CLASS_GROUP]);
    assert_string_equal(cfg.mappings_dir, "mappings");
    free(err);
    config_free(&cfg);
}

/* Every error names the file and line and is reported; nothing half-loaded runs. */
static void errors_name_file_and_line(void **state)
{
    (void)state;
    struct config cfg;
    int rc;
    char *err = load("[ldap]\n"
                     "uri = http://dc1\n"                 /* 2 */
                     "bind = ntlm\n"                      /* 3 */
                     "page_size = many\n"                 /* 4 */
                     "password = hunter2\n"               /* 5 */
                     "colour = blue\n"                    /* 6 */
                     "filter = (&(a=b)\n"                 /* 7 */
                     "classes = user, printer\n"          /* 8 */
                     "[mystery]\nx = 1\n",                /* 10 */
                     &cfg, &rc);
    assert_int_equal(rc, -1);
    struct { int line; const char *text; } want[] = {
        { 2, "uri must start with ldaps:// or ldap://, not 'http://dc1'" },
        { 3, "bind must be gssapi, external or simple, not 'ntlm'" },
        { 4, "page_size must be a number from 1 to 100000, not 'many'" },
        { 5, "a password is never written in the config file" },
        { 6, "unknown key 'colour' in [ldap]" },
        { 7, "filter has unbalanced parentheses" },
        { 8, "classes: unknown class 'printer'" },
        { 10, "unknown section [mystery]" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
        char *expect = xasprintf("%s:%d: %s", conf_path, want[i].line, want[i].text);
        if (!strstr(err, expect))
            fail_msg("missing '%s' in:\n%s", expect, err);
        free(expect);
    }
    assert_non_null(strstr(err, "8 errors; nothing was done"));
    /* the secret itself is never echoed */
    assert_null(strstr(err, "hunter2"));
    free(err);
    config_free(&cfg);
}

static void missing_pieces(void **state)
{
    (void)state;
    struct config cfg;
    int rc;
    char *err = load("[ldap]\nuri = ldaps://dc1\n", &cfg, &rc);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err, "base_dn is missing"));
    free(err);
    config_free(&cfg);
    err = load("[ldap]\nuri = ldaps://dc1\nbase_dn = DC=x\nbind = simple\nbind_dn = a\n", &cfg, &rc);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err, "needs password_file or password_env"));
    free(err);
    config_free(&cfg);
    err = load("[ldap]\nuri = ldaps://dc1\nbase_dn = DC=x\nkeytab = /k\n", &cfg, &rc);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err, "keytab needs principal"));
    free(err);
    config_free(&cfg);
    err = load("", &cfg, &rc);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err, "no [ldap] section"));
    free(err);
    config_free(&cfg);
}

static void syntax_error_and_long_line(void **state)
{
    (void)state;
    struct config cfg;
    int rc;
    char *err = load("[ldap]\nuri = ldaps://dc1\nbase_dn = DC=x\nthis line has no equals sign\n", &cfg, &rc);
    assert_int_equal(rc, -1);
    char *expect = xasprintf("%s:4: syntax error", conf_path);
    assert_non_null(strstr(err, expect));
    free(expect);
    free(err);
    config_free(&cfg);

    struct strbuf sb = STRBUF_INIT;
    strbuf_addstr(&sb, "[ldap]\nuri = ldaps://dc1\nbase_dn = DC=x\nfilter = (");
    for (int i = 0; i < 300; i++)
        strbuf_addch(&sb, 'a');
    strbuf_addstr(&sb, "=b)\n");
    err = load(sb.buf, &cfg, &rc);
    assert_int_equal(rc, -1);
    expect = xasprintf("%s:4: line longer than", conf_path);
    assert_non_null(strstr(err, expect));
    free(expect);
    free(err);
    strbuf_release(&sb);
    config_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_ldap_section),
        cmocka_unit_test(defaults),
        cmocka_unit_test(errors_name_file_and_line),
        cmocka_unit_test(missing_pieces),
        cmocka_unit_test(syntax_error_and_long_line),
    };
    return cmocka_run_group_tests_name("config", tests, setup, teardown);
}
