#include "compat.h"

#include <ctype.h>
#include <strings.h>

#include "adobject.h"
#include "util.h"

const char *ad_class_name(enum ad_class cls)
{
    switch (cls) {
    case AD_CLASS_USER: return "user";
    case AD_CLASS_CONTACT: return "contact";
    case AD_CLASS_GROUP: return "group";
    default: return "unknown";
    }
}

const struct ad_attr *ad_object_attr(const struct ad_object *obj, const char *name)
{
    for (size_t i = 0; i < obj->nattrs; i++)
        if (strcasecmp(obj->attrs[i].name, name) == 0)
            return &obj->attrs[i];
    return NULL;
}

const char *ad_object_get(const struct ad_object *obj, const char *name)
{
    const struct ad_attr *a = ad_object_attr(obj, name);
    return a && a->nvals ? a->vals[0] : NULL;
}

const unsigned char *ad_object_anchor(const struct ad_object *obj, enum ad_anchor_source *src)
{
    if (obj->has_consistency_guid) {
        if (src)
            *src = AD_ANCHOR_CONSISTENCY_GUID;
        return obj->consistency_guid;
    }
    if (src)
        *src = AD_ANCHOR_OBJECT_GUID;
    return obj->guid;
}

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

struct ad_object *ad_object_copy(const struct ad_object *obj)
{
    struct ad_object *c = xmalloc(sizeof(*c));
    *c = *obj;
    c->dn = dup_or_null(obj->dn);
    c->parent_dn = dup_or_null(obj->parent_dn);
    c->sid = dup_or_null(obj->sid);
    c->when_changed = dup_or_null(obj->when_changed);
    c->attrs = obj->nattrs ? xcalloc(obj->nattrs, sizeof(*c->attrs)) : NULL;
    for (size_t i = 0; i < obj->nattrs; i++) {
        const struct ad_attr *a = &obj->attrs[i];
        c->attrs[i].name = xstrdup(a->name);
        c->attrs[i].nvals = a->nvals;
        c->attrs[i].vals = xcalloc(a->nvals + 1, sizeof(char *));
        for (size_t j = 0; j < a->nvals; j++)
            c->attrs[i].vals[j] = xstrdup(a->vals[j]);
    }
    return c;
}

void ad_object_clear(struct ad_object *obj)
{
    free(obj->dn);
    free(obj->parent_dn);
    free(obj->sid);
    free(obj->when_changed);
    for (size_t i = 0; i < obj->nattrs; i++) {
        for (size_t j = 0; j < obj->attrs[i].nvals; j++)
            free(obj->attrs[i].vals[j]);
        free(obj->attrs[i].vals);
        free(obj->attrs[i].name);
    }
    free(obj->attrs);
    memset(obj, 0, sizeof(*obj));
}

void ad_object_free(struct ad_object *obj)
{
    if (!obj)
        return;
    ad_object_clear(obj);
    free(obj);
}

void ad_guid_to_text(const unsigned char g[16], char out[37])
{
    /* Data1, Data2 and Data3 are little-endian on the wire; Data4 is a byte array */
    snprintf(out, 37,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6],
             g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int ad_guid_from_text(const char *text, unsigned char guid[16])
{
    /* position of each text byte in wire order (see ad_guid_to_text) */
    static const int wire[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15 };
    size_t len = strlen(text);
    if (len == 38 && text[0] == '{' && text[37] == '}') {
        text++;
        len = 36;
    }
    if (len != 36 || text[8] != '-' || text[13] != '-' || text[18] != '-' || text[23] != '-')
        return -1;
    unsigned char bytes[16];
    int n = 0;
    for (size_t i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            continue;
        int hi = hexval((unsigned char)text[i]), lo = hexval((unsigned char)text[i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        bytes[n++] = (unsigned char)(hi << 4 | lo);
        i++;
    }
    for (int i = 0; i < 16; i++)
        guid[wire[i]] = bytes[i];
    return 0;
}

char *ad_immutable_id(const unsigned char guid[16])
{
    return base64_encode(guid, 16);
}

int ad_sid_to_text(const unsigned char *sid, size_t len, struct strbuf *out)
{
    /* MS-DTYP 2.4.2.2: Revision(1) SubAuthorityCount(1) IdentifierAuthority(6, big-endian)
     * SubAuthority[count] (4 each, little-endian) */
    if (len < 8 || sid[0] != 1 || sid[1] > 15 || len != 8 + 4 * (size_t)sid[1])
        return -1;
    uint64_t auth = 0;
    for (int i = 2; i < 8; i++)
        auth = auth << 8 | sid[i];
    strbuf_addf(out, "S-%u-%llu", sid[0], (unsigned long long)auth);
    for (unsigned i = 0; i < sid[1]; i++) {
        const unsigned char *p = sid + 8 + 4 * i;
        uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        strbuf_addf(out, "-%u", v);
    }
    return 0;
}

const char *ad_dn_parent(const char *dn)
{
    /* RFC 4514: a comma preceded by a backslash is part of the value */
    for (const char *p = dn; *p; p++) {
        if (*p == '\\' && p[1])
            p++;
        else if (*p == ',')
            return p + 1 + strspn(p + 1, " ");
    }
    return "";
}

char *ad_dn_canonical(const char *dn)
{
    struct strbuf sb = STRBUF_INIT;
    const char *p = dn + strspn(dn, " ");
    while (*p) {
        if (*p == '\\' && p[1]) {
            strbuf_add(&sb, p, 2);      /* "\\ " is an escaped, significant blank */
            p += 2;
        } else if (*p == ',' || *p == '+' || *p == '=') {
            while (sb.len && sb.buf[sb.len - 1] == ' '
                   && !(sb.len >= 2 && sb.buf[sb.len - 2] == '\\'))
                sb.buf[--sb.len] = '\0';
            strbuf_addch(&sb, *p++);
            p += strspn(p, " ");
        } else {
            strbuf_addch(&sb, *p++);
        }
    }
    while (sb.len && sb.buf[sb.len - 1] == ' ' && !(sb.len >= 2 && sb.buf[sb.len - 2] == '\\'))
        sb.buf[--sb.len] = '\0';
    return strbuf_detach(&sb);
}

bool ad_dn_within(const char *dn, const char *ancestor)
{
    size_t ld = strlen(dn), la = strlen(ancestor);
    if (la == 0)
        return true;
    if (ld < la || strcasecmp(dn + ld - la, ancestor) != 0)
        return false;
    if (ld == la)
        return true;
    /* the match must start right after an unescaped RDN separator */
    for (const char *p = dn; *p; p = ad_dn_parent(p))
        if (p == dn + ld - la)
            return true;
    return false;
}
