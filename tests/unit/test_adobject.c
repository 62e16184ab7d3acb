/* Unit tests for adobject.c: GUID, immutableId and SID decoding, DN helpers. */
#include "compat.h"

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#include "adobject.h"
#include "util.h"

/* The worked example of reference/graph-api.md §2.2. */
static const unsigned char example_wire[16] = {
    0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66,
    0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
};

static void guid_text_is_little_endian_data1_to_3(void **state)
{
    (void)state;
    char text[37];
    ad_guid_to_text(example_wire, text);
    assert_string_equal(text, "00112233-4455-6677-8899-aabbccddeeff");
}

static void immutable_id_is_base64_of_raw_octets(void **state)
{
    (void)state;
    char *id = ad_immutable_id(example_wire);
    assert_string_equal(id, "MyIRAFVEd2aImaq7zN3u/w==");
    free(id);
}

static void guid_from_text_round_trips(void **state)
{
    (void)state;
    unsigned char g[16];
    assert_int_equal(ad_guid_from_text("00112233-4455-6677-8899-AABBCCDDEEFF", g), 0);
    assert_memory_equal(g, example_wire, 16);
    assert_int_equal(ad_guid_from_text("{00112233-4455-6677-8899-aabbccddeeff}", g), 0);
    assert_memory_equal(g, example_wire, 16);
    assert_int_equal(ad_guid_from_text("00112233-4455-6677-8899-aabbccddeef", g), -1);
    assert_int_equal(ad_guid_from_text("00112233+4455-6677-8899-aabbccddeeff", g), -1);
    assert_int_equal(ad_guid_from_text("0011223g-4455-6677-8899-aabbccddeeff", g), -1);
    assert_int_equal(ad_guid_from_text("", g), -1);
}

static void sid_decodes_domain_sid(void **state)
{
    (void)state;
    /* S-1-5-21-1004336348-1177238915-682003330-512 (MS-DTYP 2.4.2.2 layout) */
    const unsigned char sid[] = {
        1, 5, 0, 0, 0, 0, 0, 5,
        21, 0, 0, 0,
        0xdc, 0xf4, 0xdc, 0x3b,
        0x83, 0x3d, 0x2b, 0x46,
        0x82, 0x8b, 0xa6, 0x28,
        0x00, 0x02, 0x00, 0x00,
    };
    struct strbuf sb = STRBUF_INIT;
    assert_int_equal(ad_sid_to_text(sid, sizeof(sid), &sb), 0);
    assert_string_equal(sb.buf, "S-1-5-21-1004336348-1177238915-682003330-512");
    strbuf_release(&sb);
}

static void sid_rejects_malformed(void **state)
{
    (void)state;
    struct strbuf sb = STRBUF_INIT;
    const unsigned char short_sid[] = { 1, 2, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0 };
    assert_int_equal(ad_sid_to_text(short_sid, sizeof(short_sid), &sb), -1);
    const unsigned char bad_rev[] = { 2, 0, 0, 0, 0, 0, 0, 5 };
    assert_int_equal(ad_sid_to_text(bad_rev, sizeof(bad_rev), &sb), -1);
    assert_int_equal(ad_sid_to_text(bad_rev, 3, &sb), -1);
    strbuf_release(&sb);
}

static void dn_parent_skips_escaped_commas(void **state)
{
    (void)state;
    assert_string_equal(ad_dn_parent("CN=Smith\\, John,OU=US,DC=corp"), "OU=US,DC=corp");
    assert_string_equal(ad_dn_parent("CN=a\\\\,OU=US"), "OU=US");
    assert_string_equal(ad_dn_parent("DC=corp"), "");
}

static void dn_within_matches_whole_rdns(void **state)
{
    (void)state;
    assert_true(ad_dn_within("CN=x,OU=US,DC=corp", "OU=US,DC=corp"));
    assert_true(ad_dn_within("CN=x,OU=US,DC=corp", "ou=us,dc=CORP"));
    assert_true(ad_dn_within("OU=US,DC=corp", "OU=US,DC=corp"));
    /* a suffix that is not an RDN boundary is not containment */
    assert_false(ad_dn_within("CN=x,OU=NotUS,DC=corp", "US,DC=corp"));
    assert_false(ad_dn_within("CN=x,OU=BOU=US,DC=corp", "OU=US,DC=corp"));
    /* an escaped comma is not a boundary */
    assert_false(ad_dn_within("CN=a\\,OU=US,DC=corp", "OU=US,DC=corp"));
    assert_false(ad_dn_within("DC=corp", "OU=US,DC=corp"));
}

static void attributes_and_anchor(void **state)
{
    (void)state;
    struct ad_object o = { 0 };
    char *vals[] = { "SE", NULL };
    struct ad_attr a = { "c", 1, vals };
    o.nattrs = 1;
    o.attrs = &a;
    assert_string_equal(ad_object_get(&o, "C"), "SE");
    assert_null(ad_object_get(&o, "mail"));
    memcpy(o.guid, example_wire, 16);
    enum ad_anchor_source src;
    assert_ptr_equal(ad_object_anchor(&o, &src), o.guid);
    assert_int_equal(src, AD_ANCHOR_OBJECT_GUID);
    o.has_consistency_guid = true;
    assert_ptr_equal(ad_object_anchor(&o, &src), o.consistency_guid);
    assert_int_equal(src, AD_ANCHOR_CONSISTENCY_GUID);

    o.dn = "CN=x,DC=corp";
    struct ad_object *c = ad_object_copy(&o);
    assert_string_equal(ad_object_get(c, "c"), "SE");
    assert_string_equal(c->dn, "CN=x,DC=corp");
    assert_ptr_not_equal(c->dn, o.dn);
    ad_object_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(guid_text_is_little_endian_data1_to_3),
        cmocka_unit_test(immutable_id_is_base64_of_raw_octets),
        cmocka_unit_test(guid_from_text_round_trips),
        cmocka_unit_test(sid_decodes_domain_sid),
        cmocka_unit_test(sid_rejects_malformed),
        cmocka_unit_test(dn_parent_skips_escaped_commas),
        cmocka_unit_test(dn_within_matches_whole_rdns),
        cmocka_unit_test(attributes_and_anchor),
    };
    return cmocka_run_group_tests_name("adobject", tests, NULL, NULL);
}
