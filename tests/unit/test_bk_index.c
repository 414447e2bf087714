/* Unit tests for bk_index: insert, find, delete with backward shift, growth. */
#include "bk_index.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>

typedef struct item {
    uint64_t key;
} item_t;

/* a deliberately poor hash so that clusters and wrap-around happen */
static uint64_t hash_item(const void *e)
{
    return ((const item_t *)e)->key % 7;
}
static int eq_item(const void *e, const void *key)
{
    return ((const item_t *)e)->key == *(const uint64_t *)key;
}

static item_t *find(bk_index_t *x, uint64_t k)
{
    return bk_index_find(x, k % 7, eq_item, &k);
}

static void test_put_find_delete(void **state)
{
    (void)state;
    enum { N = 1000 };
    item_t *items = calloc(N, sizeof(*items));
    bk_index_t x;
    bk_index_init(&x, hash_item);
    for (int i = 0; i < N; i++) {
        items[i].key = (uint64_t)i * 3;
        bk_index_put(&x, &items[i]);
    }
    assert_int_equal(x.n, N);
    for (int i = 0; i < N; i++)
        assert_ptr_equal(find(&x, (uint64_t)i * 3), &items[i]);
    assert_null(find(&x, 1));
    /* delete every other item: the rest must stay reachable */
    for (int i = 0; i < N; i += 2)
        bk_index_del(&x, &items[i]);
    assert_int_equal(x.n, N / 2);
    for (int i = 0; i < N; i++) {
        item_t *f = find(&x, (uint64_t)i * 3);
        if (i % 2)
            assert_ptr_equal(f, &items[i]);
        else
            assert_null(f);
    }
    /* iteration visits each remaining item once */
    size_t seen = 0, pos = 0;
    while (bk_index_next(&x, &pos))
        seen++;
    assert_int_equal(seen, N / 2);
    bk_index_del(&x, &items[0]); /* absent: no-op */
    assert_int_equal(x.n, N / 2);
    bk_index_cleanup(&x);
    free(items);
}

static void test_delete_in_wrapped_cluster(void **state)
{
    (void)state;
    /* all keys hash to the same slot 6 of 16: the cluster wraps to slot 0 */
    item_t items[6];
    bk_index_t x;
    bk_index_init(&x, hash_item);
    for (int i = 0; i < 6; i++) {
        items[i].key = 6 + 7 * (uint64_t)i;
        bk_index_put(&x, &items[i]);
    }
    bk_index_del(&x, &items[1]);
    bk_index_del(&x, &items[3]);
    assert_ptr_equal(find(&x, items[0].key), &items[0]);
    assert_ptr_equal(find(&x, items[2].key), &items[2]);
    assert_ptr_equal(find(&x, items[4].key), &items[4]);
    assert_ptr_equal(find(&x, items[5].key), &items[5]);
    assert_null(find(&x, items[1].key));
    bk_index_cleanup(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_find_delete),
        cmocka_unit_test(test_delete_in_wrapped_cluster),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
