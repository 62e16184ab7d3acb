/* groups.c - membership closure for the watched groups (groups.h).
 *
 * Nodes are DNs interned in an open-addressing table; edges (group → direct
 * member) are collected as pairs and turned into adjacency lists (CSR) by
 * groups_resolve, which then walks breadth-first from each watched group.
 * Cost: O(edges) to build, O(sum of the watched groups' closures) to resolve. */
#include "compat.h"

#include "groups.h"
#include "util.h"

#define NO_NODE UINT32_MAX

struct edge {
    uint32_t group, member;
};

struct groups {
    struct arena strings;
    const char **dns;          /* node → DN */
    uint32_t *hashes;
    size_t nnodes, anodes;
    uint32_t *table;           /* open addressing: node + 1, 0 = empty */
    size_t tcap;
    struct edge *edges;
    size_t nedges, aedges;
    uint32_t *first;           /* CSR after resolve: members of node n are */
    uint32_t *adj;             /* adj[first[n] .. first[n + 1]) */
    uint32_t *watched;         /* node of each watched group, NO_NODE if never seen */
    size_t nwatched, words;
    uint64_t *bits;            /* nnodes × words */
    uint8_t *any;              /* node is in at least one watched group */
};

static inline unsigned char fold(unsigned char c)
{
    return (unsigned char)(c - 'A') < 26 ? (unsigned char)(c | 0x20) : c;
}

static uint32_t hash_dn(const char *s)
{
    uint32_t h = 2166136261u;   /* FNV-1a over the ASCII-folded bytes */
    for (; *s; s++)
        h = (h ^ fold((unsigned char)*s)) * 16777619u;
    return h;
}

static bool dn_eq(const char *a, const char *b)
{
    while (*a && fold((unsigned char)*a) == fold((unsigned char)*b))
        a++, b++;
    return *a == '\0' && *b == '\0';
}

struct groups *groups_new(void)
{
    struct groups *g = xcalloc(1, sizeof(*g));
    g->tcap = 1024;
    g->table = xcalloc(g->tcap, sizeof(*g->table));
    return g;
}

void groups_free(struct groups *g)
{
    if (!g)
        return;
    arena_release(&g->strings);
    free(g->dns);
    free(g->hashes);
    free(g->table);
    free(g->edges);
    free(g->first);
    free(g->adj);
    free(g->watched);
    free(g->bits);
    free(g->any);
    free(g);
}

static void rehash(struct groups *g)
{
    size_t cap = g->tcap * 2;
    uint32_t *t = xcalloc(cap, sizeof(*t));
    for (size_t n = 0; n < g->nnodes; n++) {
        size_t j = g->hashes[n] & (cap - 1);
        while (t[j])
            j = (j + 1) & (cap - 1);
        t[j] = (uint32_t)n + 1;
    }
    free(g->table);
    g->table = t;
    g->tcap = cap;
}

static uint32_t lookup(const struct groups *g, const char *dn, uint32_t h, size_t *slot)
{
    size_t j = h & (g->tcap - 1);
    while (g->table[j]) {
        uint32_t n = g->table[j] - 1;
        if (g->hashes[n] == h && dn_eq(g->dns[n], dn))
            return n;
        j = (j + 1) & (g->tcap - 1);
    }
    if (slot)
        *slot = j;
    return NO_NODE;
}

uint32_t groups_node(struct groups *g, const char *dn)
{
    uint32_t h = hash_dn(dn);
    size_t slot;
    uint32_t n = lookup(g, dn, h, &slot);
    if (n != NO_NODE)
        return n;
    if (g->nnodes >= UINT32_MAX - 1)
        abort();   /* four billion DNs: not a directory we can hold anyway */
    size_t had = g->anodes;
    GROW(g->dns, g->anodes, g->nnodes + 1);
    if (g->anodes != had)
        g->hashes = xrealloc(g->hashes, g->anodes * sizeof(*g->hashes));
    n = (uint32_t)g->nnodes++;
    g->dns[n] = arena_strdup(&g->strings, dn);
    g->hashes[n] = h;
    g->table[slot] = n + 1;
    /* keep the table at most half full so that probes stay short */
    if (g->nnodes * 2 > g->tcap)
        rehash(g);
    return n;
}

void groups_add_member(struct groups *g, const char *group_dn, const char *member_dn)
{
    uint32_t grp = groups_node(g, group_dn);
    uint32_t mem = groups_node(g, member_dn);
    GROW(g->edges, g->aedges, g->nedges + 1);
    g->edges[g->nedges].group = grp;
    g->edges[g->nedges].member = mem;
    g->nedges++;
}

size_t groups_resolve(struct groups *g, char *const *watched, size_t nwatched)
{
    /* adjacency lists by counting sort on the group */
    size_t n = g->nnodes;
    g->first = xcalloc(n + 1, sizeof(*g->first));
    for (size_t e = 0; e < g->nedges; e++)
        g->first[g->edges[e].group + 1]++;
    for (size_t i = 0; i < n; i++)
        g->first[i + 1] += g->first[i];
    g->adj = xmalloc((g->nedges ? g->nedges : 1) * sizeof(*g->adj));
    uint32_t *fill = xmalloc((n ? n : 1) * sizeof(*fill));
    memcpy(fill, g->first, n * sizeof(*fill));
    for (size_t e = 0; e < g->nedges; e++)
        g->adj[fill[g->edges[e].group]++] = g->edges[e].member;
    free(fill);
    free(g->edges);
    g->edges = NULL;
    g->nedges = g->aedges = 0;

    g->nwatched = nwatched;
    g->words = (nwatched + 63) / 64;
    g->watched = xmalloc((nwatched ? nwatched : 1) * sizeof(*g->watched));
    g->bits = xcalloc(n * g->words + 1, sizeof(*g->bits));
    g->any = xcalloc(n + 1, 1);
    size_t unseen = 0;
    uint32_t *queue = xmalloc((n ? n : 1) * sizeof(*queue));
    /* visited[v] == w + 1: v already reached from watched group w */
    uint32_t *visited = xcalloc(n + 1, sizeof(*visited));
    for (size_t w = 0; w < nwatched; w++) {
        uint32_t start = lookup(g, watched[w], hash_dn(watched[w]), NULL);
        g->watched[w] = start;
        if (start == NO_NODE) {
            unseen++;
            continue;
        }
        size_t head = 0, tail = 0;
        queue[tail++] = start;
        visited[start] = (uint32_t)w + 1;
        while (head < tail) {
            uint32_t v = queue[head++];
            for (uint32_t k = g->first[v]; k < g->first[v + 1]; k++) {
                uint32_t m = g->adj[k];
                if (visited[m] == w + 1)
                    continue;
                visited[m] = (uint32_t)w + 1;
                g->bits[(size_t)m * g->words + w / 64] |= 1ull << (w % 64);
                g->any[m] = 1;
                queue[tail++] = m;
            }
        }
    }
    free(queue);
    free(visited);
    return unseen;
}

size_t groups_words(const struct groups *g)
{
    return g->words;
}

const uint64_t *groups_bits(const struct groups *g, uint32_t node)
{
    if (!g->any || node >= g->nnodes || !g->any[node])
        return NULL;
    return &g->bits[(size_t)node * g->words];
}

bool groups_seen(const struct groups *g, size_t w)
{
    return w < g->nwatched && g->watched[w] != NO_NODE;
}

bool groups_path(const struct groups *g, size_t w, uint32_t node, struct strbuf *out)
{
    const uint64_t *b = groups_bits(g, node);
    if (!b || !(b[w / 64] >> (w % 64) & 1))
        return false;
    /* breadth-first again, this time remembering where each node came from,
     * so that the chain shown is a shortest one */
    size_t n = g->nnodes;
    uint32_t *from = xmalloc(n * sizeof(*from));
    for (size_t i = 0; i < n; i++)
        from[i] = NO_NODE;
    uint32_t *queue = xmalloc(n * sizeof(*queue));
    size_t head = 0, tail = 0;
    uint32_t start = g->watched[w];
    queue[tail++] = start;
    from[start] = start;
    while (head < tail && from[node] == NO_NODE) {
        uint32_t v = queue[head++];
        for (uint32_t k = g->first[v]; k < g->first[v + 1]; k++) {
            uint32_t m = g->adj[k];
            if (from[m] != NO_NODE)
                continue;
            from[m] = v;
            queue[tail++] = m;
        }
    }
    /* the chain, from the watched group down to the node's direct group */
    size_t depth = 0;
    for (uint32_t v = from[node]; v != start; v = from[v])
        depth++;
    uint32_t *chain = xmalloc((depth + 1) * sizeof(*chain));
    size_t k = depth + 1;
    for (uint32_t v = from[node];; v = from[v]) {
        chain[--k] = v;
        if (v == start)
            break;
    }
    for (size_t i = 0; i <= depth; i++)
        strbuf_addf(out, "%s%s", i ? " > " : "", g->dns[chain[i]]);
    free(chain);
    free(queue);
    free(from);
    return true;
}
