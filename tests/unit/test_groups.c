/* Unit tests for groups.c: nested membership, cycles, both directions of
 * membership, DNs compared as AD compares them. */
#include "compat.h"

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#include "groups.h"
#include "util.h"

static bool in(const struct groups *g, uint32_t node, size_t w)
{
    const uint64_t *b = groups_bits(g, node);
    return b && (b[w / 64] >> (w % 64) & 1);
}

static void nested_chain_and_cycle(void **state)
{
    (void)state;
    struct groups *g = groups_new();
    /* L1 ∋ L2 ∋ L3 ∋ alice; L1 ∋ bob; cycle A ∋ B ∋ A, B ∋ carol */
    uint32_t alice = groups_node(g, "CN=Alice,OU=US,DC=x");
    uint32_t bob = groups_node(g, "CN=Bob,OU=US,DC=x");
    uint32_t carol = groups_node(g, "CN=Carol,OU=US,DC=x");
    uint32_t dave = groups_node(g, "CN=Dave,OU=US,DC=x");
    groups_add_member(g, "CN=L1,DC=x", "CN=L2,DC=x");
    groups_add_member(g, "CN=L2,DC=x", "CN=L3,DC=x");
    /* alice's membership of L3 is known only from her memberOf */
    groups_add_member(g, "CN=L3,DC=x", "cn=alice,ou=us,dc=x");
    groups_add_member(g, "CN=L1,DC=x", "CN=Bob,OU=US,DC=x");
    groups_add_member(g, "CN=L1,DC=x", "CN=Bob,OU=US,DC=x");   /* seen twice: harmless */
    groups_add_member(g, "CN=A,DC=x", "CN=B,DC=x");
    groups_add_member(g, "CN=B,DC=x", "CN=A,DC=x");
    groups_add_member(g, "CN=B,DC=x", "CN=Carol,OU=US,DC=x");
    char *watched[] = { "cn=l1,dc=x", "CN=L3,DC=x", "CN=A,DC=x", "CN=Nowhere,DC=x" };
    assert_int_equal(groups_resolve(g, watched, 4), 1);
    assert_int_equal(groups_words(g), 1);
    assert_true(groups_seen(g, 0));
    assert_false(groups_seen(g, 3));
    assert_true(in(g, alice, 0));
    assert_true(in(g, alice, 1));
    assert_false(in(g, alice, 2));
    assert_true(in(g, bob, 0));
    assert_false(in(g, bob, 1));
    assert_true(in(g, carol, 2));
    assert_null(groups_bits(g, dave));
    /* the groups of the chain are members of L1 too; a watched group is not
     * its own member, not even through a cycle (groups.h) */
    assert_true(in(g, groups_node(g, "CN=L3,DC=x"), 0));
    assert_false(in(g, groups_node(g, "CN=L1,DC=x"), 0));
    assert_false(in(g, groups_node(g, "CN=A,DC=x"), 2));
    assert_true(in(g, groups_node(g, "CN=B,DC=x"), 2));

    struct strbuf path = STRBUF_INIT;
    assert_true(groups_path(g, 0, alice, &path));
    assert_string_equal(path.buf, "CN=L1,DC=x > CN=L2,DC=x > CN=L3,DC=x");
    strbuf_reset(&path);
    assert_true(groups_path(g, 0, bob, &path));
    assert_string_equal(path.buf, "CN=L1,DC=x");
    strbuf_reset(&path);
    assert_false(groups_path(g, 1, bob, &path));
    assert_true(groups_path(g, 2, carol, &path));
    assert_string_equal(path.buf, "CN=A,DC=x > CN=B,DC=x");
    strbuf_release(&path);
    groups_free(g);
}

/* Many nodes (the table grows) and more than 64 watched groups (several words). */
static void large(void **state)
{
    (void)state;
    struct groups *g = groups_new();
    char dn[64], grp[64];
    for (int i = 0; i < 20000; i++) {
        snprintf(dn, sizeof(dn), "CN=user%d,OU=People,DC=x", i);
        snprintf(grp, sizeof(grp), "CN=G%d,OU=Groups,DC=x", i % 100);
        groups_add_member(g, grp, dn);
    }
    char *watched[100];
    for (int w = 0; w < 100; w++)
        watched[w] = xasprintf("CN=G%d,OU=Groups,DC=x", w);
    assert_int_equal(groups_resolve(g, watched, 100), 0);
    assert_int_equal(groups_words(g), 2);
    for (int i = 0; i < 20000; i += 997) {
        snprintf(dn, sizeof(dn), "CN=user%d,OU=People,DC=x", i);
        uint32_t n = groups_node(g, dn);
        for (int w = 0; w < 100; w++)
            assert_int_equal(in(g, n, (size_t)w), w == i % 100);
    }
    for (int w = 0; w < 100; w++)
        free(watched[w]);
    groups_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(nested_chain_and_cycle),
        cmocka_unit_test(large),
    };
    return cmocka_run_group_tests_name("groups", tests, NULL, NULL);
}
