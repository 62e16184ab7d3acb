/* groups.h - nested group membership, computed once per pull: pure, no LDAP.
 *
 * AD gives membership in two directions: a group's `member` values (ranged
 * for big groups; the reader fetches every range) and an object's `memberOf`
 * backlinks (which also name groups outside the scope that was read). Feed
 * both; duplicates are harmless. Then groups_resolve computes, for the groups
 * the rules name ("watched"), who is a member at any depth — the answer of
 * AD's LDAP_MATCHING_RULE_IN_CHAIN (1.2.840.113556.1.4.1941) — with cycles
 * (A ∋ B ∋ A) handled. A watched group is not a member of itself, not even
 * through a cycle.
 *
 * Calling sequence:
 *     struct groups *g = groups_new();
 *     node = groups_node(g, obj->dn);                  for every object
 *     groups_add_member(g, group_dn, member_dn);       for every membership seen
 *     groups_resolve(g, watched_dns, nwatched);        once
 *     groups_bits(g, node)                              the object's bitset
 *     groups_free(g);
 * DNs are compared ASCII-case-insensitively and as AD writes them (no blanks
 * after commas); pass watched DNs through ad_dn_canonical. Every string is
 * copied: the caller's may go away after the call. */
#ifndef DUALSYNC_GROUPS_H
#define DUALSYNC_GROUPS_H

#include "compat.h"

struct strbuf;
struct groups;

struct groups *groups_new(void);
void groups_free(struct groups *g);

/* The node of a DN, created if new; the same DN always gives the same node. */
uint32_t groups_node(struct groups *g, const char *dn);
/* member_dn is a direct member of group_dn. */
void groups_add_member(struct groups *g, const char *group_dn, const char *member_dn);

/* Compute the closure of each watched group; watched[w] becomes bit w.
 * Call once, after the last groups_add_member. Returns how many of the
 * watched groups were never seen (neither read nor named by a membership):
 * likely a typo in a rule, or a group outside the scope. */
size_t groups_resolve(struct groups *g, char *const *watched, size_t nwatched);
/* Words (uint64_t) per bitset: (nwatched + 63) / 64. */
size_t groups_words(const struct groups *g);
/* The bitset of a node, or NULL when it is in no watched group. Valid until groups_free. */
const uint64_t *groups_bits(const struct groups *g, uint32_t node);
/* True if watched group w was seen (read, or named by some membership). */
bool groups_seen(const struct groups *g, size_t w);
/* How node is a member of watched group w: the chain of groups from w down to
 * the node's own group, appended to out as "A > B > C". False if it is not. */
bool groups_path(const struct groups *g, size_t w, uint32_t node, struct strbuf *out);

#endif
