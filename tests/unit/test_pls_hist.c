/* Unit tests for pls_hist: percentiles of durations over a sliding window. */
#include "pls_hist.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

static pls_hist_t h; /* ~6 KiB: not on the test's stack */

static void test_empty(void **state)
{
    (void)state;
    pls_hist_init(&h, 10000);
    pls_hist_summary_t s = pls_hist_summary(&h, 123456);
    assert_int_equal(s.n, 0);
    assert_int_equal(s.p50_us, 0);
    assert_int_equal(s.p99_us, 0);
    assert_int_equal(s.max_us, 0);
}

/* Small values have buckets of their own: exact. */
static void test_small_exact(void **state)
{
    (void)state;
    pls_hist_init(&h, 10000);
    for (int v = 10; v >= 1; v--)
        pls_hist_add(&h, 5000, v);
    pls_hist_summary_t s = pls_hist_summary(&h, 5000);
    assert_int_equal(s.n, 10);
    assert_int_equal(s.p50_us, 5);
    assert_int_equal(s.p99_us, 10);
    assert_int_equal(s.max_us, 10);
}

/* 1..100 ms: p50 and p99 within a bucket (12.5 %) above the true ones,
 * never above the maximum. */
static void test_percentiles(void **state)
{
    (void)state;
    pls_hist_init(&h, 10000);
    for (int ms = 100; ms >= 1; ms--)
        pls_hist_add(&h, 1000 + ms, (int64_t)ms * 1000);
    pls_hist_summary_t s = pls_hist_summary(&h, 1200);
    assert_int_equal(s.n, 100);
    assert_in_range(s.p50_us, 50000, 56250);
    assert_in_range(s.p99_us, 99000, 100000);
    assert_int_equal(s.max_us, 100000);
}

/* The value reported for v alone (p50 of v and a huge value: v's bucket
 * top, not capped). */
static int64_t reported(int64_t v)
{
    pls_hist_init(&h, 10000);
    pls_hist_add(&h, 0, v);
    pls_hist_add(&h, 0, INT64_MAX / 2);
    return pls_hist_summary(&h, 0).p50_us;
}

/* Buckets' tops where they change: exact below 16, then 8 per power of two,
 * up to 2^34 - 1. */
static void test_bucket_tops(void **state)
{
    (void)state;
    static const int64_t cases[][2] = {
        {1, 1},   {15, 15}, {16, 17}, {17, 17}, {18, 19}, {31, 31},
        {32, 35}, {35, 35}, {36, 39}, {63, 63}, {64, 71}, {(1LL << 34) - 1, (1LL << 34) - 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(reported(cases[i][0]), cases[i][1]);
    /* past the last top: the last bucket, reported as the maximum */
    assert_int_equal(reported(1LL << 34), INT64_MAX / 2);
}

/* Nearest rank: with 200 values, p99 is the 198th and p50 the 100th. */
static void test_ranks(void **state)
{
    (void)state;
    pls_hist_init(&h, 10000);
    for (int i = 0; i < 196; i++)
        pls_hist_add(&h, 0, 1);
    for (int v = 2; v <= 5; v++)
        pls_hist_add(&h, 0, v); /* sorted: ..., 1 (#196), 2, 3 (#198), 4, 5 */
    pls_hist_summary_t s = pls_hist_summary(&h, 0);
    assert_int_equal(s.n, 200);
    assert_int_equal(s.p50_us, 1);
    assert_int_equal(s.p99_us, 3);
    assert_int_equal(s.max_us, 5);
}

/* Values every ~14 % up to 2^34: the value reported for each is at or above
 * it and less than 12.5 % above. */
static void test_bucket_bounds(void **state)
{
    (void)state;
    for (int64_t v = 1; v < (1LL << 34); v += v / 7 + 1) {
        int64_t top = reported(v);
        assert_true(top >= v);
        assert_true(top <= v + v / 8);
    }
}

/* Values older than the window drop out; a slice is cleared when reused. */
static void test_window(void **state)
{
    (void)state;
    pls_hist_init(&h, 10000);
    pls_hist_add(&h, 0, 5000);
    pls_hist_add(&h, 25000, 7000);
    assert_int_equal(pls_hist_summary(&h, 25000).n, 2);
    assert_int_equal(pls_hist_summary(&h, 59999).n, 2); /* six slices: 0 .. 59,999 */
    pls_hist_summary_t s = pls_hist_summary(&h, 60000);
    assert_int_equal(s.n, 1); /* the slice of 0 .. 9,999 has left the window */
    assert_int_equal(s.max_us, 7000);
    pls_hist_add(&h, 61000, 3000); /* the same ring slot as the first value */
    s = pls_hist_summary(&h, 61000);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.max_us, 7000);
    assert_int_equal(pls_hist_summary(&h, 200000).n, 0);
}

/* Negative durations (a clock step) count as 0; huge ones in the last bucket. */
static void test_extremes(void **state)
{
    (void)state;
    pls_hist_init(&h, 10000);
    pls_hist_add(&h, 0, -5);
    pls_hist_summary_t s = pls_hist_summary(&h, 0);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.p50_us, 0);
    assert_int_equal(s.max_us, 0);
    pls_hist_add(&h, 0, INT64_MAX);
    s = pls_hist_summary(&h, 0);
    assert_int_equal(s.p99_us, INT64_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),       cmocka_unit_test(test_small_exact),
        cmocka_unit_test(test_percentiles), cmocka_unit_test(test_bucket_tops),
        cmocka_unit_test(test_ranks),       cmocka_unit_test(test_bucket_bounds),
        cmocka_unit_test(test_window),      cmocka_unit_test(test_extremes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
