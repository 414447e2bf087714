/* Unit tests for bk_dispatch: queue order, A/B posts, credit, away posts. */
#include "bk_dispatch.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

static bk_order_t *order(int id, int urgent, int64_t due, int64_t created)
{
    bk_order_t *o = bk_order_new();
    o->id.b[0] = (uint8_t)id;
    o->priority = (uint8_t)urgent;
    o->due_ms = due;
    o->created_ms = created;
    return o;
}

static void test_queue_order(void **state)
{
    (void)state;
    bk_dispatch_t d;
    bk_dispatch_init(&d);
    bk_queue_t *q = bk_dispatch_queue(&d, 0, bk_dispatch_intern(&d, "dg"), 1);
    bk_order_t *old = order(1, 0, 0, 100);
    bk_order_t *young = order(2, 0, 0, 200);
    bk_order_t *due = order(3, 0, 5000, 300);
    bk_order_t *urgent = order(4, 1, 0, 400);
    bk_order_t *gone = order(5, 1, 0, 50);
    bk_queue_push(q, young);
    bk_queue_push(q, old);
    bk_queue_push(q, due);
    bk_queue_push(q, gone);
    bk_queue_push(q, urgent);
    bk_queue_remove(q, gone); /* withdrawn while queued */
    assert_int_equal(gone->heap_idx, BK_NO_HEAP);
    /* urgent first, then earliest due time, then age */
    assert_ptr_equal(bk_queue_pop(q), urgent);
    assert_ptr_equal(bk_queue_pop(q), due);
    assert_ptr_equal(bk_queue_pop(q), old);
    assert_ptr_equal(bk_queue_pop(q), young);
    assert_null(bk_queue_pop(q));
    bk_order_free(old);
    bk_order_free(young);
    bk_order_free(due);
    bk_order_free(urgent);
    bk_order_free(gone);
    bk_dispatch_cleanup(&d);
}

static void test_same_queue_for_same_key(void **state)
{
    (void)state;
    bk_dispatch_t d;
    bk_dispatch_init(&d);
    char scope[16];
    strcpy(scope, "dg.humen"); /* a different buffer with equal text */
    bk_queue_t *a = bk_dispatch_queue(&d, 3, bk_dispatch_intern(&d, "dg.humen"), 1);
    bk_queue_t *b = bk_dispatch_queue(&d, 3, bk_dispatch_intern(&d, scope), 0);
    assert_ptr_equal(a, b);
    assert_null(bk_dispatch_queue(&d, 4, bk_dispatch_intern(&d, scope), 0));
    bk_dispatch_cleanup(&d);
}

static void test_ab_posts(void **state)
{
    (void)state;
    bk_dispatch_t d;
    bk_dispatch_init(&d);
    int depts[1] = {0};
    bk_worker_t *a = bk_dispatch_worker_add(&d, "A", 1, "a", "dg", depts, 1, 0, 0);
    bk_worker_t *b = bk_dispatch_worker_add(&d, "B", 1, "b", "dg", depts, 1, 1, 0);
    a->credit = 2;
    b->credit = 5;
    a->last_seen_ms = b->last_seen_ms = 1000;
    bk_queue_t *q = bk_dispatch_queue(&d, 0, bk_dispatch_intern(&d, "dg"), 0);
    assert_non_null(q);
    /* A first even with less credit */
    assert_ptr_equal(bk_dispatch_pick(q, 1500, 10000), a);
    /* A without credit: B */
    a->credit = 0;
    assert_ptr_equal(bk_dispatch_pick(q, 1500, 10000), b);
    /* A silent past its lease: B */
    a->credit = 2;
    assert_ptr_equal(bk_dispatch_pick(q, 20000, 10000), NULL); /* both silent */
    b->last_seen_ms = 19000;
    assert_ptr_equal(bk_dispatch_pick(q, 20000, 10000), b);
    /* post away: B at once */
    a->last_seen_ms = 19000;
    q->away = 1;
    assert_ptr_equal(bk_dispatch_pick(q, 20000, 10000), b);
    q->away = 0;
    /* draining A takes nothing */
    a->drain = 1;
    assert_ptr_equal(bk_dispatch_pick(q, 20000, 10000), b);
    assert_ptr_equal(bk_dispatch_worker(&d, "A", 1), a);
    bk_dispatch_worker_remove(&d, a);
    assert_null(bk_dispatch_worker(&d, "A", 1));
    assert_int_equal(q->n_workers, 1);
    bk_dispatch_cleanup(&d);
}

static void test_hold_release(void **state)
{
    (void)state;
    bk_dispatch_t d;
    bk_dispatch_init(&d);
    int depts[1] = {0};
    bk_worker_t *w = bk_dispatch_worker_add(&d, "W", 1, "w", "dg", depts, 1, 0, 0);
    bk_order_t *o[3];
    for (int i = 0; i < 3; i++) {
        o[i] = order(i, 0, 0, i);
        bk_worker_hold(w, o[i]);
    }
    bk_worker_release(w, o[0]);
    assert_int_equal(w->n_held, 2);
    assert_null(o[0]->worker);
    /* the others are still found at their recorded positions */
    for (int i = 1; i < 3; i++)
        assert_ptr_equal(w->held[o[i]->held_idx], o[i]);
    for (int i = 0; i < 3; i++)
        bk_order_free(o[i]);
    bk_dispatch_cleanup(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queue_order),
        cmocka_unit_test(test_same_queue_for_same_key),
        cmocka_unit_test(test_ab_posts),
        cmocka_unit_test(test_hold_release),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
