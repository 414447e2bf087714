/* Unit tests for pls_id: node ids, UUIDv7, order numbers, masking. */
#include "pls_id.h"
#include "pls_log.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

static void test_node_valid(void **state)
{
    (void)state;
    assert_true(pls_node_valid("dg"));
    assert_true(pls_node_valid("dg.humen"));
    assert_true(pls_node_valid("dg.humen.baisha"));
    assert_true(pls_node_valid("dg.humen.baisha.team_1"));
    assert_false(pls_node_valid("dg.humen.baisha.a.b")); /* 5 labels */
    assert_false(pls_node_valid("DG"));
    assert_false(pls_node_valid("dg..humen"));
    assert_false(pls_node_valid("dg."));
    assert_false(pls_node_valid("1dg"));
    assert_false(pls_node_valid(""));
    assert_false(pls_node_valid("dg.abcdefghijabcdefghijabcdefghijabc")); /* 33 chars */
    assert_true(pls_node_valid("dg.abcdefghijabcdefghijabcdefghijab"));   /* 32 chars */
}

static void test_node_relations(void **state)
{
    (void)state;
    char out[PLS_NODE_MAX];
    assert_int_equal(pls_node_depth("dg.humen.baisha"), 3);
    assert_true(pls_node_within("dg.humen.baisha", "dg.humen"));
    assert_true(pls_node_within("dg.humen", "dg.humen"));
    assert_false(pls_node_within("dg.humenx", "dg.humen"));
    pls_node_prefix("dg.humen.baisha", 2, out, sizeof(out));
    assert_string_equal(out, "dg.humen");
    pls_node_prefix("dg", 2, out, sizeof(out));
    assert_string_equal(out, "dg");
}

static void test_uuid7(void **state)
{
    (void)state;
    pls_uuid_t a, b;
    char s[PLS_UUID_STR];
    pls_uuid7(&a, 1764000000000LL);
    pls_uuid_format(&a, s);
    assert_int_equal(strlen(s), 36);
    assert_int_equal(s[14], '7'); /* version */
    assert_int_equal(pls_uuid_parse(s, &b), 0);
    assert_memory_equal(a.b, b.b, 16);
    assert_int_not_equal(pls_uuid_parse("not-a-uuid", &b), 0);
    assert_int_not_equal(pls_uuid_parse("0192b3c4-5d6e-7f80-9a0b-1c2d3e4f5g6h", &b), 0);
}

static void test_number(void **state)
{
    (void)state;
    char code[32], num[64];
    pls_node_code("dg.humen", code, sizeof(code));
    assert_string_equal(code, "DG-HM");
    pls_node_code("dg", code, sizeof(code));
    assert_string_equal(code, "DG");
    pls_node_code("dg.dongcheng", code, sizeof(code));
    assert_string_equal(code, "DG-DC");
    pls_node_code("dg.dongkeng", code, sizeof(code));
    assert_string_equal(code, "DG-DK");
    pls_node_code("dg.dalingshan", code, sizeof(code));
    assert_string_equal(code, "DG-DLS");
    pls_node_code("dg.changan", code, sizeof(code));
    assert_string_equal(code, "DG-CG");
    pls_order_number(num, sizeof(num), "DG-HM", 20261126, 42);
    assert_string_equal(num, "DG-HM-20261126-0042");
}

static void test_mask(void **state)
{
    (void)state;
    char out[64];
    pls_mask("13812345678", out, sizeof(out));
    assert_string_equal(out, "*******5678");
    pls_mask("张三丰", out, sizeof(out));
    assert_string_equal(out, "张**");
    pls_mask("44190019900101123X", out, sizeof(out));
    assert_null(strstr(out, "199001"));
    /* numbers inside a database's message: phone and ID numbers keep their
     * last four; short numbers stay */
    char msg[] = "refused: phone 13812345678, id 44190019900101123X, batch 123456, 7 rows";
    pls_mask_numbers(msg);
    assert_string_equal(msg,
                        "refused: phone *******5678, id **************123X, batch 123456, 7 rows");
    char edge[] = "1234567";
    pls_mask_numbers(edge);
    assert_string_equal(edge, "***4567");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_node_valid), cmocka_unit_test(test_node_relations),
        cmocka_unit_test(test_uuid7),      cmocka_unit_test(test_number),
        cmocka_unit_test(test_mask),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
