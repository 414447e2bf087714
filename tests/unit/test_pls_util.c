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

/* The reference the validator must agree with: the well-formed byte
 * sequences of the Unicode standard (chapter 3, table 3-7), NUL refused. */
static int utf8_valid_ref(const unsigned char *p, size_t n)
{
    static const struct {
        unsigned char first_lo, first_hi, second_lo, second_hi, len;
    } forms[] = {
        {0x01, 0x7f, 0, 0, 1},       {0xc2, 0xdf, 0x80, 0xbf, 2}, {0xe0, 0xe0, 0xa0, 0xbf, 3},
        {0xe1, 0xec, 0x80, 0xbf, 3}, {0xed, 0xed, 0x80, 0x9f, 3}, {0xee, 0xef, 0x80, 0xbf, 3},
        {0xf0, 0xf0, 0x90, 0xbf, 4}, {0xf1, 0xf3, 0x80, 0xbf, 4}, {0xf4, 0xf4, 0x80, 0x8f, 4},
    };
    size_t i = 0;
    while (i < n) {
        size_t f = 0;
        while (f < PLS_ARRAY_LEN(forms) && (p[i] < forms[f].first_lo || p[i] > forms[f].first_hi))
            f++;
        if (f == PLS_ARRAY_LEN(forms) || n - i < forms[f].len)
            return 0;
        for (size_t k = 1; k < forms[f].len; k++) {
            unsigned lo = k == 1 ? forms[f].second_lo : 0x80,
                     hi = k == 1 ? forms[f].second_hi : 0xbf;
            if (p[i + k] < lo || p[i + k] > hi)
                return 0;
        }
        i += forms[f].len;
    }
    return 1;
}

/* The word-at-a-time path at every offset: a NUL, a high byte, a character
 * cut at the end, each placed at each position of a long ASCII text (and
 * from each start, so words straddle them differently). */
static void test_utf8_positions(void **state)
{
    (void)state;
    char t[64];
    for (size_t start = 0; start < 8; start++) {
        for (size_t at = start; at < sizeof(t); at++) {
            size_t n = sizeof(t) - start;
            memset(t, 'a', sizeof(t));
            assert_true(pls_utf8_valid_n(t + start, n));
            t[at] = '\0';
            assert_false(pls_utf8_valid_n(t + start, n));
            t[at] = (char)0x80; /* a continuation byte alone */
            assert_false(pls_utf8_valid_n(t + start, n));
            t[at] = (char)0x7f; /* DEL is ASCII */
            assert_true(pls_utf8_valid_n(t + start, n));
            if (at + 3 <= sizeof(t)) {
                memcpy(t + at, "\xe8\xb0\x83", 3); /* 调 */
                assert_true(pls_utf8_valid_n(t + start, n));
                assert_int_equal(pls_utf8_valid_n(t + start, at + 2 - start), 0); /* cut */
                t[at + 2] = 'x'; /* not a continuation */
                assert_false(pls_utf8_valid_n(t + start, n));
            }
        }
    }
}

/* Random texts of ASCII, NULs, valid and broken multibyte characters: the
 * result is the reference validator's. */
static void test_utf8_random(void **state)
{
    (void)state;
    static const char *const pieces[] = {"a",
                                         "legal aid ",
                                         "\x7f",
                                         "\0",
                                         "\xc3\xa9",
                                         "\xe6\xb3\x95",
                                         "\xf0\x9f\x98\x80",
                                         "\xc3",
                                         "\xe6\xb3",
                                         "\x80",
                                         "\xff",
                                         "\xc0\xaf",
                                         "\xed\xa0\x80",
                                         "\xf4\x90\x80\x80",
                                         "0123456789abcdef"};
    unsigned char t[256];
    uint32_t seed = 12345;
    int valid = 0;
    for (int round = 0; round < 20000; round++) {
        size_t n = 0;
        seed = seed * 1103515245u + 12345u;
        size_t k = (seed >> 16) % 24;
        for (size_t i = 0; i < k; i++) {
            seed = seed * 1103515245u + 12345u;
            /* mostly valid pieces, so that long valid texts occur */
            size_t idx = (seed >> 16) % 100;
            idx = idx < 90 ? idx % 7 : 7 + idx % 8;
            const char *pc = pieces[idx];
            size_t len = idx == 3 ? 1 : strlen(pc);
            if (n + len > sizeof(t))
                break;
            memcpy(t + n, pc, len);
            n += len;
        }
        int want = utf8_valid_ref(t, n);
        valid += want;
        assert_int_equal(pls_utf8_valid_n((const char *)t, n) != 0, want);
    }
    /* both outcomes were tried often */
    assert_true(valid > 1000 && valid < 19000);
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
        cmocka_unit_test(test_utf8),        cmocka_unit_test(test_utf8_positions),
        cmocka_unit_test(test_utf8_random), cmocka_unit_test(test_parse_long),
        cmocka_unit_test(test_iso_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
