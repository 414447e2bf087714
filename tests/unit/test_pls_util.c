/* Unit tests for pls_util: buffers, escapers, UTF-8 validation. */
#include "pls_time.h"
#include "pls_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

static void test_json_escape(void **state)
{
    (void)state;
    pls_buf_t b;
    pls_buf_init(&b);
    pls_buf_add_json_str(&b, "say \"hi\"\\\n\x01 调解");
    assert_string_equal(b.data, "\"say \\\"hi\\\"\\\\\\n\\u0001 调解\"");
    pls_buf_cleanup(&b);
}

static void test_numbers_and_printf(void **state)
{
    (void)state;
    pls_buf_t b;
    pls_buf_init(&b);
    pls_buf_add_i64(&b, -9223372036854775807LL - 1);
    pls_buf_addc(&b, ' ');
    pls_buf_add_u64(&b, 18446744073709551615ULL);
    pls_buf_printf(&b, " %s=%d", "x", 42);
    assert_string_equal(b.data, "-9223372036854775808 18446744073709551615 x=42");
    char *t = pls_buf_take(&b);
    assert_null(b.data);
    free(t);
}

static void test_utf8(void **state)
{
    (void)state;
    const char *ok = "法律援助 ok";
    assert_true(pls_utf8_valid_n(ok, strlen(ok)));
    assert_false(pls_utf8_valid_n("\xc3\x28", 2));     /* bad continuation */
    assert_false(pls_utf8_valid_n("\xe6\xb3", 2));     /* truncated */
    assert_false(pls_utf8_valid_n("\xc0\xaf", 2));     /* overlong */
    assert_false(pls_utf8_valid_n("\xed\xa0\x80", 3)); /* surrogate */
    assert_false(pls_utf8_valid_n("a\0b", 3));         /* embedded NUL */
}

static void test_parse_long(void **state)
{
    (void)state;
    long v = 0;
    assert_int_equal(pls_parse_long("42", 0, 100, &v), 0);
    assert_int_equal(v, 42);
    assert_int_not_equal(pls_parse_long("101", 0, 100, &v), 0);
    assert_int_not_equal(pls_parse_long("4x", 0, 100, &v), 0);
    assert_int_not_equal(pls_parse_long("", 0, 100, &v), 0);
}

static void test_iso_format(void **state)
{
    (void)state;
    char out[32];
    pls_format_iso_ms(0, out, sizeof(out));
    assert_string_equal(out, "1970-01-01T00:00:00.000Z");
    pls_format_iso_ms(1795679610008LL, out, sizeof(out));
    assert_string_equal(out, "2026-11-26T07:53:30.008Z");
    pls_format_iso_ms(951782400000LL + 86399999LL, out, sizeof(out)); /* 2000-02-29 */
    assert_string_equal(out, "2000-02-29T23:59:59.999Z");
    pls_format_iso_ms(1798761599999LL, out, sizeof(out));
    assert_string_equal(out, "2026-12-31T23:59:59.999Z");
    pls_format_iso_ms(-1, out, sizeof(out));
    assert_string_equal(out, "1969-12-31T23:59:59.999Z");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_escape), cmocka_unit_test(test_numbers_and_printf),
        cmocka_unit_test(test_utf8),        cmocka_unit_test(test_parse_long),
        cmocka_unit_test(test_iso_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
