/* Unit tests for config.c: the [ldap] section, and errors as FILE:LINE. */
#include "compat.h"

#include <setjmp.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "platform.h"
#include "rules.h"
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

#define LDAP_OK "[ldap]\nuri = ldaps://dc1\nbase_dn = DC=corp,DC=example\n"
#define TENANT_IDS "tenant_id = 6f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b\n" \
                   "client_id = {0E9D8C7B-6A59-4837-A625-14F3E2D1C0B9}\n"

static void expect(const char *err, const char *want);

/* cert_thumbprint as certlm.msc copies it (spaces, the invisible U+200E in
 * front) or Get-ChildItem shows it; cert_store; the errors */
static void cert_thumbprint_and_store(void **state)
{
    (void)state;
    struct config cfg;
    int rc;
    char *err = load("[ldap]\nuri = ldaps://dc1\nbase_dn = DC=x\n[tenant a]\ncloud = global\n" TENANT_IDS
                     "cert_thumbprint = \xe2\x80\x8e" "45 80 4a 0e 11 42 C9 D0 F5 80 88 69 15 77 95 06 E3 8E D2 CF\n"
                     "cert_store = CurrentUser\ndefault = exclude\n", &cfg, &rc);
    assert_string_equal(err, "");
    assert_int_equal(rc, 0);
    assert_int_equal(cfg.tenants[0].credential, CREDENTIAL_STORE);
    assert_string_equal(cfg.tenants[0].cert_thumbprint, "45804a0e1142c9d0f580886915779506e38ed2cf");
    assert_true(cfg.tenants[0].cert_store_user);
    free(err);
    config_free(&cfg);
    err = load("[ldap]\nuri = ldaps://dc1\nbase_dn = DC=x\n[tenant a]\ncloud = global\n" TENANT_IDS
               "cert_thumbprint = 45804a0e\ncert_store = Machine\n"
               "client_secret_file = /nonexistent/a\ndefault = exclude\n", &cfg, &rc);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err, "cert_thumbprint must be the certificate's SHA-1 thumbprint, 40"));
    assert_non_null(strstr(err, "cert_store must be LocalMachine or CurrentUser, not 'Machine'"));
    free(err);
    config_free(&cfg);
    err = load("[ldap]\nuri = ldaps://dc1\nbase_dn = DC=x\n[tenant a]\ncloud = global\n" TENANT_IDS
               "cert_thumbprint = 45804a0e1142c9d0f580886915779506e38ed2cf\n"
               "client_secret_file = /nonexistent/a\ndefault = exclude\n", &cfg, &rc);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err, "has cert_thumbprint and another credential; keep one"));
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

    /* beyond the documented maximum: refused with file:line, the rest of the
     * line is not taken for a line of its own */
    struct strbuf sb = STRBUF_INIT;
    strbuf_addstr(&sb, "[ldap]\nuri = ldaps://dc1\nbase_dn = DC=x\nfilter = (");
    for (int i = 0; i < CONFIG_MAX_LINE; i++)
        strbuf_addch(&sb, 'a');
    strbuf_addstr(&sb, "=b)\ncolour = blue\n");
    err = load(sb.buf, &cfg, &rc);
    assert_int_equal(rc, -1);
    expect = xasprintf("%s:4: line longer than 65536 bytes", conf_path);
    assert_non_null(strstr(err, expect));
    free(expect);
    expect = xasprintf("%s:5: unknown key 'colour' in [ldap]", conf_path);
    assert_non_null(strstr(err, expect));
    free(expect);
    assert_non_null(strstr(err, "2 errors; nothing was done"));
    free(err);
    strbuf_release(&sb);
    config_free(&cfg);
}

/* Deep OU trees make DNs far longer than inih's 200-byte line buffer
 * (issue 15): a 1,000-character DN works in every DN key and in rules, and
 * errors on a long line still point at the right column. */
static void long_lines(void **state)
{
    (void)state;
    struct strbuf dn = STRBUF_INIT;
    for (int i = 0; dn.len < 1000; i++)
        strbuf_addf(&dn, "OU=Department %03d of the Research Division,", i);
    strbuf_addstr(&dn, "DC=corp,DC=example");
    const char *d = dn.buf;
    struct strbuf text = STRBUF_INIT;
    strbuf_addf(&text, "[ldap]\nuri = ldaps://dc1\n"
                "base_dn = %s   ; a comment after a long value\n"     /* 3 */
                "include_ou = OU=x,%s\n"
                "exclude_ou = OU=y,%s\n"
                "member_of = CN=SG,%s\n"
                "filter = (&(department=%s)(!(description=%s)))\n"
                "[tenant a]\ncloud = global\n"                     /* 8 */
                "tenant_id = 6f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b\n"
                "client_id = 0e9d8c7b-6a59-4837-a625-14f3e2d1c0b9\n"
                "client_secret_file = /nonexistent/a\n"
                "rule = memberof \"CN=SG,%s\" -> external-guest\n"  /* 13 */
                "rule = under \"OU=z,%s\"\n"                        /* 14 */
                "    or memberof \"CN=SG2,%s\" ; why\n"
                "    -> exclude\n",
                d, d, d, d, d, d, d, d, d);
    struct config cfg;
    int rc;
    char *err = load(text.buf, &cfg, &rc);
    assert_string_equal(err, "");
    assert_int_equal(rc, 0);
    struct scope *s = &cfg.ldap.scope;
    assert_int_equal(s->nbase_dns, 1);
    assert_string_equal(s->base_dns[0], d);
    char *want = xasprintf("OU=x,%s", d);
    assert_string_equal(s->include_ous[0], want);
    free(want);
    want = xasprintf("OU=y,%s", d);
    assert_string_equal(s->exclude_ous[0], want);
    free(want);
    want = xasprintf("CN=SG,%s", d);
    assert_string_equal(s->member_of[0], want);
    assert_int_equal(cfg.tenants[0].nrules, 2);
    assert_string_equal(cfg.tenants[0].rules[0].cond->name, want);
    free(want);
    assert_int_equal(cfg.tenants[0].rules[1].line, 14);
    want = xasprintf("CN=SG2,%s", d);
    assert_string_equal(cfg.tenants[0].rules[1].cond->right->name, want);
    free(want);
    free(err);
    config_free(&cfg);

    /* around inih's buffer size (200 bytes in Debian's libinih): every
     * length reads the same */
    for (size_t n = 150; n < 300; n++) {
        strbuf_reset(&text);
        strbuf_addstr(&text, "[ldap]\nuri = ldaps://dc1\nbase_dn = DC=");
        for (size_t i = 0; i < n; i++)
            strbuf_addch(&text, (char)('a' + i % 26));
        strbuf_addstr(&text, "\t\nexclude_ou = OU=x:y,DC=corp\n");
        err = load(text.buf, &cfg, &rc);
        assert_string_equal(err, "");
        assert_int_equal(strlen(cfg.ldap.scope.base_dns[0]), n + 3);
        assert_string_equal(cfg.ldap.scope.exclude_ous[0], "OU=x:y,DC=corp");
        free(err);
        config_free(&cfg);
    }

    /* a rule error after a long DN: the column (of the '->' after x) counts
     * from the line's start */
    strbuf_reset(&text);
    strbuf_addf(&text, LDAP_OK "[tenant a]\ncloud = global\n" TENANT_IDS
                "client_secret_file = /nonexistent/a\n"
                "rule = memberof \"%s\" and x -> member\n", d);   /* 9 */
    err = load(text.buf, &cfg, &rc);
    assert_int_equal(rc, -1);
    char *at = xasprintf("9:%zu: 'x' is an attribute", strlen("rule = memberof \"\" and x ") + dn.len + 1);
    expect(err, at);
    free(at);
    free(err);
    config_free(&cfg);
    strbuf_release(&text);
    strbuf_release(&dn);
}


static void tenant_section(void **state)
{
    (void)state;
    struct config cfg;
    int rc;
    char *err = load("[dualsync]\nmappings_dir = /var/lib/ds\n" LDAP_OK
                     "[tenant commercial]\n"
                     "cloud = global\n" TENANT_IDS
                     "client_cert_file = /nonexistent/c.crt\n"
                     "client_key_file = /nonexistent/c.key\n"
                     "home_when = extensionAttribute1 = commercial\n"
                     "rule = class contact -> contact\n"
                     "rule = home -> member\n"
                     "rule = extensionAttribute2 = us-person\n"          /* 15 */
                     "    and c in (US, CA)   ; a comment\n"
                     "\n"
                     "    -> external-member\n"
                     "default = external-guest\n"
                     "[tenant \"gcch\"]\n"                                 /* 20 */
                     "cloud = usgov-high\n" TENANT_IDS
                     "client_secret_file = /nonexistent/gcch.secret\n"
                     "mapping_file = /srv/gcch.map\n"
                     "connect_config = /srv/connect-gcch\n"
                     "invite_address_attribute = userPrincipalName\n"
                     "send_invitation_message = yes\n"
                     "max_changes = 20\n"
                     "home_when = extensionAttribute1 = gcch\n"
                     "rule = home -> member\n"
                     "rule = home commercial -> external-guest\n"
                     "ca_file = /etc/ssl/proxy-ca.pem\n",
                     &cfg, &rc);
    assert_string_equal(err, "");
    assert_int_equal(rc, 0);
    assert_int_equal(cfg.ntenants, 2);
    /* the CA of a TLS-inspecting proxy, for login and Graph */
    assert_null(cfg.tenants[0].ca_file);
    assert_string_equal(cfg.tenants[1].ca_file, "/etc/ssl/proxy-ca.pem");
    struct tenant_config *t = &cfg.tenants[0];
    assert_string_equal(t->name, "commercial");
    assert_int_equal(t->line, 6);
    assert_int_equal(t->cloud, CLOUD_GLOBAL);
    assert_string_equal(t->client_id, "0e9d8c7b-6a59-4837-a625-14f3e2d1c0b9");
    assert_int_equal(t->credential, CREDENTIAL_CERTIFICATE);
    assert_string_equal(t->mapping_file, "/var/lib/ds/commercial.map");
    assert_null(t->connect_config);
    assert_string_equal(t->redirect_url,
                        "https://myapps.microsoft.com/?tenantid=6f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b");
    assert_false(t->send_invitation_message);
    assert_string_equal(t->invite_address_attribute, "mail");
    assert_int_equal(t->max_changes, 500);
    assert_int_equal(t->nrules, 3);
    assert_int_equal(t->rules[2].line, 15);
    assert_string_equal(t->rules[2].text,
                        "extensionAttribute2 = us-person and c in (US, CA) -> external-member");
    assert_int_equal(t->rules[2].outcome, DECISION_EXTERNAL_MEMBER);
    assert_int_equal(t->default_rule.outcome, DECISION_EXTERNAL_GUEST);
    assert_int_equal(t->default_rule.line, 19);
    t = config_tenant(&cfg, "GCCH");
    assert_non_null(t);
    assert_int_equal(t->cloud, CLOUD_USGOV_HIGH);
    assert_int_equal(t->credential, CREDENTIAL_SECRET);
    assert_string_equal(t->mapping_file, "/srv/gcch.map");
    assert_string_equal(t->connect_config, "/srv/connect-gcch");
    assert_string_equal(t->redirect_url,
                        "https://myapps.microsoft.us/?tenantid=6f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b");
    assert_string_equal(t->invite_address_attribute, "userPrincipalName");
    assert_true(t->send_invitation_message);
    assert_int_equal(t->max_changes, 20);
    assert_int_equal(t->default_rule.line, 0);
    assert_int_equal(t->default_rule.outcome, DECISION_EXCLUDE);
    free(err);
    config_free(&cfg);
}

static void expect(const char *err, const char *want)
{
    char *full = xasprintf("%s:%s", conf_path, want);
    if (!strstr(err, full))
        fail_msg("missing '%s' in:\n%s", full, err);
    free(full);
}

/* Rule errors name line and column and show the line with a caret. */
static void rule_errors_with_caret(void **state)
{
    (void)state;
    struct config cfg;
    int rc;
    char *err = load(LDAP_OK
                     "[tenant a]\ncloud = global\n" TENANT_IDS          /* 4 */
                     "client_secret_file = /nonexistent/a\n"
                     "rule = c = US -> guest\n"                         /* 9 */
                     "rule = extensionAttribute2 = us-person and\n"    /* 10 */
                     "\tc in (US, CA -> external-member\n"             /* 11 */
                     "rule = co = 'Österreich' and x -> member\n"      /* 12 */
                     "home_when = home\n"                              /* 13 */
                     "rule = home b -> member\n"                       /* 14 */
                     "rule = home nobody -> member\n"                  /* 15 */
                     "default = nothing\n",                            /* 16 */
                     &cfg, &rc);
    assert_int_equal(rc, -1);
    expect(err, "9:18: 'guest' is not an outcome; use member, external-member, external-guest, "
                "contact or exclude\n    rule = c = US -> guest\n                     ^\n");
    /* a continuation line: its own line number, the tab kept for the caret */
    expect(err, "11:15: expected ',' or ')' in the list, found '->'\n"
                "    \tc in (US, CA -> external-member\n    \t             ^\n");
    /* columns count characters, not bytes */
    expect(err, "12:32: 'x' is an attribute");
    expect(err, "13:13: home_when cannot use home or homeless: it is what defines them");
    expect(err, "14:13: home b: there is no [tenant b] (tenants: a)");
    expect(err, "15:13: home nobody: there is no [tenant nobody] (tenants: a)");
    expect(err, "16:11: 'nothing' is not an outcome");
    free(err);
    config_free(&cfg);

    err = load(LDAP_OK
               "[tenant a]\ncloud = global\n" TENANT_IDS "client_secret_file = /nonexistent/a\n"
               "rule = home -> member\n"                                  /* 9 */
               "[tenant b]\ncloud = global\n" TENANT_IDS "client_secret_file = /nonexistent/b\n"
               "rule = home a -> member\n"                                /* 15 */
               "rule = c = US and homeless -> exclude\n",                 /* 16 */
               &cfg, &rc);
    assert_int_equal(rc, -1);
    expect(err, "9:8: home: [tenant a] has no home_when, so nobody's home is known there; add "
                "e.g. home_when = extensionAttribute1 = a");
    expect(err, "15:13: home a: [tenant a] has no home_when");
    expect(err, "16:19: homeless: no tenant has home_when, so everything would be homeless");
    free(err);
    config_free(&cfg);
}

/* A regex beyond the documented bounds is refused at load, at its spot. */
static void regex_refused_at_its_column(void **state)
{
    (void)state;
    struct config cfg;
    int rc;
    char *err = load(LDAP_OK
                     "[tenant a]\ncloud = global\n" TENANT_IDS         /* 4 */
                     "client_secret_file = /nonexistent/a\n"
                     "rule = displayName matches '(.*){1,32000}[bc]' -> exclude\n",   /* 9 */
                     &cfg, &rc);
    assert_int_equal(rc, -1);
    expect(err, "9:36: the repetition count 32000 is larger than 100");
    free(err);
    config_free(&cfg);
}

static void tenant_errors(void **state)
{
    (void)state;
    struct config cfg;
    int rc;
    char secret[] = "/tmp/dualsync-test-secret-XXXXXX";
    int fd = mkstemp(secret);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "s3cret\n", 7), 7);
    close(fd);
    assert_int_equal(chmod(secret, 0644), 0);
    struct strbuf text = STRBUF_INIT;
    strbuf_addf(&text, LDAP_OK
                "[tenant a]\n"                                           /* 4 */
                "cloud = azure\n"                                        /* 5 */
                "tenant_id = contoso.onmicrosoft.com\n"                  /* 6 */
                "client_id = 0e9d8c7b-6a59-4837-a625-14f3e2d1c0b9\n"
                "client_secret = hunter2\n"                              /* 8 */
                "client_secret_file = %s\n"                              /* 9 */
                "redirect_url = http://myapps\n"                         /* 10 */
                "send_invitation_message = perhaps\n"                    /* 11 */
                "max_changes = lots\n"                                   /* 12 */
                "invite_address_attribute = e-mail address\n"            /* 13 */
                "colour = blue\n"                                        /* 14 */
                "client_id = 0e9d8c7b-6a59-4837-a625-14f3e2d1c0b9\n"     /* 15 */
                "rule = true -> exclude\n"
                "[tenant a]\n"                                           /* 17 */
                "cloud = global\n"
                "[tenant]\n"                                             /* 19 */
                "[tenant bad/name]\n"                                    /* 20 */
                "[tenant b]\n"                                           /* 21 */
                "client_cert_file = /x.crt\n"
                "  cloud = global\n"                                     /* 23 */
                "[tenant c]\n"                                           /* 24 */
                "cloud = china\n" TENANT_IDS
                "client_cert_file = /x.crt\nclient_key_file = /x.key\n"
                "client_secret_file = /x.secret\n"
                "mapping_file = mappings/a.map\n"
                "rule = true -> exclude\n",
                secret);
    char *err = load(text.buf, &cfg, &rc);
    assert_int_equal(rc, -1);
    expect(err, "5: cloud must be global, usgov-high, usgov-dod or china, not 'azure'");
    expect(err, "6: tenant_id must be a GUID (Entra admin center, Overview, Tenant ID), not "
                "'contoso.onmicrosoft.com'");
    expect(err, "8: a client secret is never written in the config file; put it in a 0600 file "
                "and set client_secret_file");
    /* the reason and the remedy are the platform's (mode and chmod, or the
     * DACL and icacls: test_platform.c): the file is named and refused */
    char *mode = xasprintf("9: client_secret_file %s is readable by ", secret);
    expect(err, mode);
    assert_non_null(strstr(strstr(err, mode), "; run: "));
    free(mode);
    expect(err, "10: redirect_url must be an https:// URL, not 'http://myapps'");
    expect(err, "11: send_invitation_message must be yes or no, not 'perhaps'");
    expect(err, "12: max_changes must be a number from 0 to 10000000, not 'lots'");
    expect(err, "13: invite_address_attribute must be an AD attribute name");
    expect(err, "14: unknown key 'colour' in [tenant a]");
    expect(err, "15: client_id is set twice in [tenant a]; the first is at line 7");
    expect(err, "17: [tenant a] is defined twice; the first is at line 4");
    expect(err, "19: a tenant section needs a name: [tenant NAME]");
    expect(err, "20: tenant name 'bad/name' may only have letters, digits, '-' and '_'");
    expect(err, "23: this indented line would continue 'client_cert_file' above it; only rule and "
                "home_when go on over several lines: remove the indentation");
    expect(err, "21: [tenant b] needs cloud");
    expect(err, "21: [tenant b] needs tenant_id");
    expect(err, "21: [tenant b] needs client_id");
    expect(err, "21: [tenant b] client_cert_file needs client_key_file");
    expect(err, "21: [tenant b] has no rule and no default");
    expect(err, "24: [tenant c] has both a client secret and a certificate");
    expect(err, "24: [tenant c] cloud = china needs redirect_url");
    expect(err, "24: [tenant a] and [tenant c] share the mapping file mappings/a.map");
    assert_null(strstr(err, "hunter2"));
    assert_null(strstr(err, "s3cret"));
    free(err);
    config_free(&cfg);
    unlink(secret);
    strbuf_release(&text);
}

/* Every key that names a secret (a password, a private key, a keytab) is
 * refused at load when group or others can read the file, the way
 * client_secret_file always was: exit 2 before anything connects. */
/* A config whose every secret key names the file secret. */
static void secrets_conf(struct strbuf *text, const char *secret)
{
    strbuf_reset(text);
    strbuf_addf(text, "[ldap]\nuri = ldaps://dc1\nbase_dn = DC=corp,DC=example\n"
                "bind = simple\nbind_dn = svc@CORP.EXAMPLE\n"
                "password_file = %s\n"                                /* 6 */
                "keytab = %s\nprincipal = svc@CORP.EXAMPLE\n"         /* 7 */
                "client_cert = /x.crt\nclient_key = %s\n"             /* 10 */
                "[tenant a]\ncloud = global\n" TENANT_IDS            /* 11 */
                "client_cert_file = /x.crt\nclient_key_file = %s\n"   /* 16 */
                "rule = true -> exclude\n"
                "[tenant b]\ncloud = global\n" TENANT_IDS            /* 18 */
                "client_secret_file = %s\n"                           /* 22 */
                "rule = true -> exclude\n",
                secret, secret, secret, secret, secret);
}

static void every_secret_file_checked_at_load(void **state)
{
    (void)state;
    struct config cfg;
    int rc;
    char secret[] = "/tmp/dualsync-test-secret-XXXXXX";
    int fd = mkstemp(secret);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "s3cret\n", 7), 7);
    close(fd);
    assert_int_equal(chmod(secret, 0640), 0);
    struct strbuf text = STRBUF_INIT;
    secrets_conf(&text, secret);
    char *err = load(text.buf, &cfg, &rc);
    assert_int_equal(rc, -1);
    static const struct { int line; const char *key; } want[] = {
        { 6, "password_file" }, { 7, "keytab" }, { 10, "client_key" },
        { 16, "client_key_file" }, { 22, "client_secret_file" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
        /* the reason and remedy are the platform's (test_platform.c) */
        char *line = xasprintf("%d: %s %s is readable by ", want[i].line, want[i].key, secret);
        expect(err, line);
        assert_non_null(strstr(strstr(err, line), "; run: "));
        free(line);
    }
    assert_non_null(strstr(err, "5 errors; nothing was done"));
    assert_null(strstr(err, "s3cret"));
    free(err);
    config_free(&cfg);

    /* a file only its owner can read is fine everywhere. A new file written
     * by the platform layer, owner-only on both, not a chmod of the old one:
     * Wine cannot narrow an existing file's access (testplat.h) */
    char fine[] = "/tmp/dualsync-test-secret-XXXXXX";
    fd = mkstemp(fine);
    assert_true(fd >= 0);
    close(fd);
    unlink(fine);
    assert_int_equal(platform_write_file_atomic(fine, "s3cret\n", 7), 0);
    secrets_conf(&text, fine);
    err = load(text.buf, &cfg, &rc);
    assert_string_equal(err, "");
    assert_int_equal(rc, 0);
    free(err);
    config_free(&cfg);
    unlink(secret);
    unlink(fine);
    strbuf_release(&text);
}

/* base_dn values that overlap would read the same objects twice (issue 12):
 * the same DN again, or one inside another, as AD compares DNs: case
 * and blanks after commas do not matter. */
static void overlapping_base_dns(void **state)
{
    (void)state;
    struct config cfg;
    int rc;
    char *err = load("[ldap]\nuri = ldaps://dc1\n"
                     "base_dn = OU=Contoso,DC=corp,DC=example\n"             /* 3 */
                     "base_dn = ou=contoso, dc=CORP, dc=example\n"           /* 4 */
                     "base_dn = OU=Sales,OU=Contoso,DC=corp,DC=example\n"    /* 5 */
                     "base_dn = OU=Defense,DC=corp,DC=example\n"             /* 6 */
                     "base_dn = OU=Contoso Defense,DC=corp,DC=example\n"     /* 7 */
                     "base_dn = OU=Fabrikam\\,Contoso,DC=corp,DC=example\n", /* 8 */
                     &cfg, &rc);
    assert_int_equal(rc, -1);
    expect(err, "4: base_dn ou=contoso, dc=CORP, dc=example is the same as the base_dn of "
                "line 3; objects would be read twice: remove one");
    expect(err, "5: base_dn OU=Sales,OU=Contoso,DC=corp,DC=example lies inside the base_dn "
                "of line 3 (OU=Contoso,DC=corp,DC=example); objects would be read twice: "
                "remove it (include_ou narrows a base DN)");
    /* a sibling whose name merely ends the same, or an escaped comma, is no overlap */
    assert_null(strstr(err, ":6: "));
    assert_null(strstr(err, ":7: "));
    assert_null(strstr(err, ":8: "));
    assert_non_null(strstr(err, "2 errors; nothing was done"));
    free(err);
    config_free(&cfg);

    err = load("[ldap]\nuri = ldaps://dc1\n"
               "base_dn = OU=Sales, OU=Contoso, DC=corp, DC=example\n"       /* 3 */
               "base_dn = DC=Corp,DC=Example\n",                              /* 4 */
               &cfg, &rc);
    assert_int_equal(rc, -1);
    expect(err, "4: base_dn DC=Corp,DC=Example holds the base_dn of line 3 "
                "(OU=Sales, OU=Contoso, DC=corp, DC=example); objects would be read twice: "
                "remove that one (include_ou narrows a base DN)");
    free(err);
    config_free(&cfg);

    err = load("[ldap]\nuri = ldaps://dc1\n"
               "base_dn = OU=Contoso,DC=corp,DC=example\n"
               "base_dn = OU=Contoso Defense,DC=corp,DC=example\n"
               "base_dn = OU=Fabrikam\\,Contoso,DC=corp,DC=example\n", &cfg, &rc);
    assert_string_equal(err, "");
    assert_int_equal(rc, 0);
    free(err);
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
        cmocka_unit_test(long_lines),
        cmocka_unit_test(tenant_section),
        cmocka_unit_test(rule_errors_with_caret),
        cmocka_unit_test(tenant_errors),
        cmocka_unit_test(regex_refused_at_its_column),
        cmocka_unit_test(every_secret_file_checked_at_load),
        cmocka_unit_test(overlapping_base_dns),
        cmocka_unit_test(cert_thumbprint_and_store),
    };
    return cmocka_run_group_tests_name("config", tests, setup, teardown);
}
