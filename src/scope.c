#include "compat.h"

#include <strings.h>

#include "scope.h"
#include "util.h"

void ldap_filter_escape(struct strbuf *out, const char *value, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)value[i];
        if (c == '*' || c == '(' || c == ')' || c == '\\' || c == '\0')
            strbuf_addf(out, "\\%02x", c);
        else
            strbuf_addch(out, (char)c);
    }
}

/* sAMAccountType 805306368 (SAM_USER_OBJECT) is a normal user account: it leaves
 * out computers, trusts and the like, which are objectClass=user too. */
static const char *const class_filter[AD_CLASS_COUNT] = {
    [AD_CLASS_USER] = "(sAMAccountType=805306368)",
    [AD_CLASS_CONTACT] = "(objectClass=contact)",
    [AD_CLASS_GROUP] = "(objectClass=group)",
};

static void add_classes(struct strbuf *f, const struct scope *s, bool tombstones)
{
    int n = 0;
    for (int c = 0; c < AD_CLASS_COUNT; c++)
        n += s->classes[c];
    if (n > 1)
        strbuf_addstr(f, "(|");
    for (int c = 0; c < AD_CLASS_COUNT; c++) {
        if (!s->classes[c])
            continue;
        /* a tombstone keeps objectClass but not necessarily sAMAccountType */
        if (tombstones && c == AD_CLASS_USER)
            strbuf_addstr(f, "(&(objectClass=user)(!(objectClass=computer)))");
        else
            strbuf_addstr(f, class_filter[c]);
    }
    if (n > 1)
        strbuf_addch(f, ')');
}

static void add_usn(struct strbuf *f, uint64_t since_usn)
{
    /* LDAP has no '>', so "changed after N" is uSNChanged >= N+1 */
    if (since_usn)
        strbuf_addf(f, "(uSNChanged>=%llu)", (unsigned long long)since_usn + 1);
}

char *scope_filter(const struct scope *s, uint64_t since_usn)
{
    struct strbuf f = STRBUF_INIT;
    strbuf_addstr(&f, "(&");
    add_classes(&f, s, false);
    add_usn(&f, since_usn);
    if (s->nmember_of && !since_usn) {
        /* LDAP_MATCHING_RULE_IN_CHAIN (MS-ADTS 3.1.1.3.4.4.3) walks nested groups */
        if (s->nmember_of > 1)
            strbuf_addstr(&f, "(|");
        for (size_t i = 0; i < s->nmember_of; i++) {
            strbuf_addstr(&f, "(memberOf:1.2.840.113556.1.4.1941:=");
            ldap_filter_escape(&f, s->member_of[i], strlen(s->member_of[i]));
            strbuf_addch(&f, ')');
        }
        if (s->nmember_of > 1)
            strbuf_addch(&f, ')');
    }
    if (s->filter && *s->filter) {
        if (s->filter[0] == '(')
            strbuf_addstr(&f, s->filter);
        else
            strbuf_addf(&f, "(%s)", s->filter);
    }
    strbuf_addch(&f, ')');
    return strbuf_detach(&f);
}

char *scope_deleted_filter(const struct scope *s, uint64_t since_usn)
{
    struct strbuf f = STRBUF_INIT;
    strbuf_addstr(&f, "(&(isDeleted=TRUE)");
    add_classes(&f, s, true);
    add_usn(&f, since_usn);
    strbuf_addch(&f, ')');
    return strbuf_detach(&f);
}

char *scope_others_filter(const struct scope *s, uint64_t since_usn)
{
    struct strbuf f = STRBUF_INIT;
    strbuf_addstr(&f, "(&");
    add_usn(&f, since_usn);
    /* the complement of what the pull reads: live objects of the classes'
     * filters (a user account by its sAMAccountType: a trust account is
     * objectClass=user too, and no pull reads it), tombstones of the
     * classes' objectClass */
    strbuf_addstr(&f, "(!(|");
    for (int c = 0; c < AD_CLASS_COUNT; c++) {
        if (!s->classes[c])
            continue;
        strbuf_addstr(&f, class_filter[c]);
        if (c == AD_CLASS_USER)
            strbuf_addstr(&f, "(&(isDeleted=TRUE)(objectClass=user)(!(objectClass=computer)))");
    }
    strbuf_addstr(&f, "))");
    strbuf_addch(&f, ')');
    return strbuf_detach(&f);
}

int scope_classify(char *const *oc, size_t n)
{
    bool user = false, computer = false, contact = false, group = false;
    for (size_t i = 0; i < n; i++) {
        if (strcasecmp(oc[i], "user") == 0)
            user = true;
        else if (strcasecmp(oc[i], "computer") == 0)
            computer = true;
        else if (strcasecmp(oc[i], "contact") == 0)
            contact = true;
        else if (strcasecmp(oc[i], "group") == 0)
            group = true;
    }
    if (user && !computer)
        return AD_CLASS_USER;
    if (contact)
        return AD_CLASS_CONTACT;
    if (group)
        return AD_CLASS_GROUP;
    return -1;
}

static bool within_any(const char *dn, char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (ad_dn_within(dn, list[i]))
            return true;
    return false;
}

bool scope_contains_dn(const struct scope *s, const char *dn)
{
    if (s->nbase_dns && !within_any(dn, s->base_dns, s->nbase_dns))
        return false;
    if (s->ninclude_ous && !within_any(dn, s->include_ous, s->ninclude_ous))
        return false;
    return !within_any(dn, s->exclude_ous, s->nexclude_ous);
}

static void free_list(char **l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(l[i]);
    free(l);
}

void scope_clear(struct scope *s)
{
    free_list(s->base_dns, s->nbase_dns);
    free_list(s->include_ous, s->ninclude_ous);
    free_list(s->exclude_ous, s->nexclude_ous);
    free_list(s->member_of, s->nmember_of);
    free(s->filter);
    memset(s, 0, sizeof(*s));
}
