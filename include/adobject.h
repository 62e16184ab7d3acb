/* adobject.h - one object read from AD DS, and the decoders for AD's binary values.
 *
 * The reader fills a struct ad_object per entry and hands it to a callback; the
 * object and every string in it belong to the reader and live until the callback
 * returns (copy what you keep: ad_object_copy). Policy code reads objects through
 * ad_object_get/ad_object_attr only, never through LDAP. */
#ifndef DUALSYNC_ADOBJECT_H
#define DUALSYNC_ADOBJECT_H

#include "compat.h"

struct strbuf;

enum ad_class { AD_CLASS_USER, AD_CLASS_CONTACT, AD_CLASS_GROUP, AD_CLASS_COUNT };

/* Where the cloud anchor (immutableId) comes from, as Entra Connect chooses it:
 * mS-DS-ConsistencyGuid when set (16 bytes), else objectGUID. */
enum ad_anchor_source { AD_ANCHOR_CONSISTENCY_GUID, AD_ANCHOR_OBJECT_GUID };

#define AD_UAC_ACCOUNTDISABLE 0x0002u

struct ad_attr {
    char *name;       /* LDAP display name as the server spelled it, no ";range=" */
    size_t nvals;
    char **vals;      /* NUL-terminated; textual attributes only */
};

struct ad_object {
    enum ad_class cls;
    char *dn;
    char *parent_dn;          /* the container; for a tombstone its lastKnownParent */
    unsigned char guid[16];   /* objectGUID, raw octets as on the wire (MS-DTYP 2.3.4) */
    bool has_consistency_guid;
    unsigned char consistency_guid[16];
    bool bad_consistency_guid; /* present but not 16 bytes: Connect would not use it */
    char *sid;                 /* "S-1-5-21-..." or NULL (contacts have none) */
    uint32_t uac;
    bool disabled;             /* userAccountControl has ACCOUNTDISABLE */
    bool deleted;              /* a tombstone (isDeleted TRUE), seen through showDeleted */
    bool restored;             /* alive, yet it has lastKnownParent: it was deleted and
                                * reanimated once (MS-ADTS 3.1.1.5.3.7.3), at some time */
    bool in_scope;             /* false: seen by a delta pull, but outside the configured scope */
    uint64_t usn_changed;
    char *when_changed;        /* GeneralizedTime as AD sends it, e.g. 20261128010530.0Z */
    size_t nattrs;
    struct ad_attr *attrs;     /* every other requested attribute, textual */
};

/* Objects handed on one by one (a pull, a kept copy). obj and everything it
 * points to is valid only during the call. Return 0 to go on, non-zero to
 * stop (a pull then fails). */
typedef int (*ad_object_cb)(const struct ad_object *obj, void *ctx);

const char *ad_class_name(enum ad_class cls);

/* The attribute by name (case-insensitive) or NULL; ad_object_get gives its
 * first value or NULL. */
const struct ad_attr *ad_object_attr(const struct ad_object *obj, const char *name);
const char *ad_object_get(const struct ad_object *obj, const char *name);

/* The anchor bytes Connect would export, and where they came from. */
const unsigned char *ad_object_anchor(const struct ad_object *obj, enum ad_anchor_source *src);

/* Deep copy; free it with ad_object_clear + free, or ad_object_free. */
struct ad_object *ad_object_copy(const struct ad_object *obj);
void ad_object_clear(struct ad_object *obj);
void ad_object_free(struct ad_object *obj);

/* GUID octets (little-endian Data1..Data3, MS-DTYP 2.3.4) → canonical text,
 * lowercase, 36 characters + NUL. */
void ad_guid_to_text(const unsigned char guid[16], char out[37]);
/* Text (with or without braces) → octets. Returns 0, or -1 if not a GUID. */
int ad_guid_from_text(const char *text, unsigned char guid[16]);
/* The immutableId Connect writes: base64 of the raw 16 octets. Caller frees. */
char *ad_immutable_id(const unsigned char guid[16]);
/* Binary SID (MS-DTYP 2.4.2) → "S-1-..." appended to out. Returns 0, or -1 if malformed. */
int ad_sid_to_text(const unsigned char *sid, size_t len, struct strbuf *out);

/* The parent of a DN (after the first unescaped comma), or "" for a top entry.
 * Returns a pointer into dn. */
const char *ad_dn_parent(const char *dn);
/* A DN as people type it → the form AD returns: the blanks around unescaped
 * ',', '+' and '=' removed ("OU=US, OU=Contoso" → "OU=US,OU=Contoso").
 * Caller frees. */
char *ad_dn_canonical(const char *dn);
/* True if dn equals ancestor or lies below it (RDN-wise, case-insensitive). */
bool ad_dn_within(const char *dn, const char *ancestor);

#endif
