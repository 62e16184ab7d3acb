/* ldap_watermark.c - the delta watermark's text form, "usn:<invocationId>:<usn>"
 * (ldap_source.h): pure functions shared by both AD readers, ldap_source.c
 * (OpenLDAP) and ldap_source_win32.c (wldap32). */
#include "compat.h"

#include "adobject.h"
#include "ldap_source.h"
#include "util.h"

int ldap_watermark_parse(const char *text, struct ldap_watermark *wm)
{
    unsigned char g[16];
    if (!str_starts_with(text, "usn:") || strlen(text) < 4 + 36 + 2 || text[40] != ':')
        return -1;
    char inv[37];
    memcpy(inv, text + 4, 36);
    inv[36] = '\0';
    if (ad_guid_from_text(inv, g) || parse_u64(text + 41, &wm->usn))
        return -1;
    memcpy(wm->invocation_id, inv, sizeof(inv));
    return 0;
}

char *ldap_watermark_format(const struct ldap_watermark *wm)
{
    return xasprintf("usn:%s:%llu", wm->invocation_id, (unsigned long long)wm->usn);
}
