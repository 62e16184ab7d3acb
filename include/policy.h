/* policy.h - per object and per tenant: member, external, contact or exclude, and why.
 *
 * Pure: no LDAP, no HTTP, no files. policy_compile turns the tenants' rules
 * (config.h, rules.h) into a compact form once: attribute names become
 * indices, regexes are compiled, `in` lists are sorted, group and OU DNs become
 * bit numbers. Deciding then allocates nothing and reads only the subject.
 *
 * Calling sequence:
 *     struct policy *pol = policy_compile(cfg);     cfg must outlive pol
 *     for each object:
 *         fill a struct policy_subject (see below; objset.h does it for pulled objects)
 *         policy_decide_all(pol, &subject, results); or policy_decide for one tenant
 *     policy_free(pol);
 *
 * The subject is what the rules may read, laid out by the policy:
 *   attrs[i]  the values of attribute policy_attr_name(pol, i), for i < policy_nattrs
 *   groups    a bitset: bit g set when the object is a member, at any depth, of
 *             the group policy_group_dn(pol, g) (groups.h computes it)
 *   ous       a bitset: bit o set when the object lies under policy_ou_dn(pol, o)
 *             (policy_ou_bits computes it from the object's DN)
 * Tenants are numbered as in cfg->tenants; rule numbers as in tenant->rules,
 * -1 for the tenant's default. */
#ifndef DUALSYNC_POLICY_H
#define DUALSYNC_POLICY_H

#include "compat.h"
#include "adobject.h"
#include "decision.h"

struct config;
struct strbuf;
struct tenant_rule;
struct policy;

struct policy_values {
    const char *const *vals;   /* NUL-terminated strings; the caller owns them */
    uint32_t n;                /* 0: the attribute is not set */
};

struct policy_subject {
    enum ad_class cls;
    bool disabled;                     /* userAccountControl has ACCOUNTDISABLE */
    const struct policy_values *attrs; /* policy_nattrs(pol) entries */
    const uint64_t *groups;            /* policy_set_words(pol) words, or NULL: no group */
    const uint64_t *ous;               /* policy_set_words(pol) words, or NULL: under none */
};

struct policy_result {
    enum decision decision;
    int rule;                  /* index in the tenant's rules; -1: its default */
};

/* Never fails on a config that config_load accepted (the parser has already
 * compiled every regex once); returns NULL after logging otherwise. */
struct policy *policy_compile(const struct config *cfg);
void policy_free(struct policy *pol);

size_t policy_ntenants(const struct policy *pol);
size_t policy_nattrs(const struct policy *pol);
const char *policy_attr_name(const struct policy *pol, size_t i);
/* The attribute's index, or -1 when no rule reads it (case-insensitive). */
int policy_attr_index(const struct policy *pol, const char *name);
size_t policy_ngroups(const struct policy *pol);
const char *policy_group_dn(const struct policy *pol, size_t g);   /* canonical DN */
size_t policy_nous(const struct policy *pol);
const char *policy_ou_dn(const struct policy *pol, size_t o);      /* canonical DN */
/* Words (uint64_t) of the groups and ous bitsets: enough for both. */
size_t policy_set_words(const struct policy *pol);
/* Set in bits (policy_set_words words, cleared by the caller) the OUs that
 * contain dn. Objects in one container share the result: compute it once per
 * parent DN, not per object. */
void policy_ou_bits(const struct policy *pol, const char *dn, uint64_t *bits);

/* The decision for one tenant. No allocation; safe to call from several
 * threads on one policy. */
void policy_decide(const struct policy *pol, const struct policy_subject *s, size_t tenant,
                   struct policy_result *out);
/* The decision for every tenant (out has policy_ntenants entries); evaluates
 * each tenant's home_when at most once. */
void policy_decide_all(const struct policy *pol, const struct policy_subject *s,
                       struct policy_result *out);

/* The rule behind a result: the tenant's rule `rule`, or its default for -1
 * (whose line is 0 when the config does not write one: exclude). */
const struct tenant_rule *policy_rule(const struct policy *pol, size_t tenant, int rule);

/* Why: the values the deciding rule read, e.g.
 *   extensionAttribute2 is "us-person"; class is user
 * appended to out (for -1: "no rule matched"). */
void policy_reason(const struct policy *pol, const struct policy_subject *s, size_t tenant,
                   const struct policy_result *r, struct strbuf *out);

/* Every rule of the tenant in order, up to the one that decides: fn gets its
 * number (-1 for the default), whether it matched, and what it read. */
typedef void (*policy_trace_fn)(int rule, bool matched, const char *reads, void *ctx);
void policy_trace(const struct policy *pol, const struct policy_subject *s, size_t tenant,
                  policy_trace_fn fn, void *ctx);

/* Whether the tenant's home_when matches the subject (false without one),
 * and what it read (appended to reads when not NULL). */
bool policy_is_home(const struct policy *pol, const struct policy_subject *s, size_t tenant,
                    struct strbuf *reads);

#endif
