/* Unit tests for bk_batch: one event row per order, snapshots, the statement list. */
#include "bk_batch.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static void test_rows_and_sql(void **state)
{
    (void)state;
    bk_batch_t b;
    bk_batch_init(&b, 7);
    bk_order_t *a = bk_order_new(), *n = bk_order_new();
    a->id.b[0] = 1;
    a->next_seq = 5;
    a->state = BK_ASSIGNED;
    n->id.b[0] = 2;
    n->next_seq = 1;
    /* an existing order gets one row however many entries */
    bk_row_t *r1 = bk_batch_row(&b, a);
    pls_buf_adds(&r1->entries, "{\"kind\":\"accepted\",\"note\":\"it's\"}");
    r1->n++;
    a->next_seq++;
    bk_row_t *r2 = bk_batch_row(&b, a);
    assert_ptr_equal(r1, r2);
    assert_int_equal(r1->seq, 5);
    a->state = BK_COMPLETED;
    bk_row_snap(r1, a, "consult", "dg");
    /* a new order */
    int idx = bk_batch_new_order(&b, n, "k-1");
    assert_int_equal(idx, 0);
    for (int k = 0; k < BK_ORDER_CONTENT_COLS; k++)
        bk_rec_str(&b.news[0].insert, k ? "c" : "x");
    bk_row_t *rn = bk_batch_row(&b, n);
    assert_int_equal(rn->is_new, 1);
    pls_buf_adds(&rn->entries, "{\"kind\":\"received\"}");
    rn->n++;
    rn->state = BK_QUEUED;
    assert_int_equal(b.n_rows, 2);
    pls_buf_t sql;
    pls_buf_init(&sql);
    bk_batch_sql(&b, &sql);
    /* a statement list: pls_batch() and its four arrays (the store adds
     * BEGIN and COMMIT) */
    const char *p = sql.data, *end = sql.data + sql.len;
    const char *piece[8];
    size_t np = 0;
    while (p < end && np < 8) {
        piece[np++] = p;
        p += strlen(p) + 1;
    }
    assert_true(p == end);
    assert_int_equal(np, 5);
    /* every order and event row goes through one call of pls_batch(), the rows
     * as its four parameters */
    assert_true(strncmp(piece[0], "ESELECT id FROM pls_batch($1::orders[],", 39) == 0);
    const char *news = piece[1], *evs = piece[3], *chg = piece[4];
    assert_string_equal(piece[2], "{}"); /* no citizens */
    /* the entries' double quotes escaped for the record and again for the
     * array; a single quote is data, not doubled */
    assert_non_null(strstr(evs, "\\\\\\\"note\\\\\\\":\\\\\\\"it's\\\\\\\""));
    /* the existing order's row changes to its snapshot; the new one is inserted */
    assert_non_null(strstr(chg, "\\\"completed\\\""));
    assert_non_null(strstr(news, "\\\"queued\\\""));
    /* two event rows (ids 01.. and 02..) and one change (01..) */
    assert_int_equal(count(evs, "\"(\\\"0"), 2);
    assert_non_null(strstr(evs, "\"(\\\"01"));
    assert_non_null(strstr(evs, "\"(\\\"02"));
    assert_int_equal(count(chg, "\"(\\\"01"), 1);
    pls_buf_cleanup(&sql);
    bk_batch_cleanup(&b);
    bk_order_free(a);
    bk_order_free(n);
}

/* Record fields: '"' and '\\' escaped for the record and again for the array
 * element; NULL as an empty field; the closing comma becomes ')'. */
static void test_record_fields(void **state)
{
    (void)state;
    pls_buf_t b;
    pls_buf_init(&b);
    bk_rec_begin(&b);
    bk_rec_str(&b, "a\"b\\c");
    bk_rec_opt(&b, "");
    bk_rec_str(&b, "");
    bk_rec_int(&b, -7);
    bk_rec_bool(&b, 1);
    bk_rec_ts(&b, 0);
    bk_rec_end(&b);
    bk_rec_begin(&b);
    bk_rec_null(&b);
    bk_rec_end(&b);
    assert_string_equal(bk_sql_array(&b),
                        "{\"(\\\"a\\\\\\\"b\\\\\\\\c\\\",,\\\"\\\",-7,t,)\",\"()\"}");
    /* no rows: the empty array; a single quote is data */
    pls_buf_t none, one;
    pls_buf_init(&none);
    pls_buf_init(&one);
    assert_string_equal(bk_sql_array(&none), "{}");
    bk_rec_begin(&one);
    bk_rec_str(&one, "it's");
    bk_rec_end(&one);
    assert_string_equal(bk_sql_array(&one), "{\"(\\\"it's\\\")\"}");
    pls_buf_cleanup(&none);
    pls_buf_cleanup(&one);
    pls_buf_cleanup(&b);
}

static void test_empty(void **state)
{
    (void)state;
    bk_batch_t b;
    bk_batch_init(&b, 1);
    assert_true(bk_batch_empty(&b));
    uint8_t *msg = malloc(3);
    bk_batch_out(&b, BK_OUT_REPLY, "id", 2, msg, 3, 9, -1);
    assert_false(bk_batch_empty(&b));
    bk_batch_cleanup(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_and_sql),
        cmocka_unit_test(test_record_fields),
        cmocka_unit_test(test_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
