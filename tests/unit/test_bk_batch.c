/* Unit tests for bk_batch: one event row per order, snapshots, the statement list. */
#include "bk_batch.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

/* A binary array of records as bk_recs_param makes it, decoded. */
typedef struct rec {
    int ncols;
    uint32_t types[48];
    int lens[48]; /* -1: NULL */
    const unsigned char *vals[48];
} rec_t;

typedef struct arr {
    uint32_t ndim, elem_type, n;
    rec_t recs[4];
} arr_t;

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const unsigned char *p)
{
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

/* Decodes and checks the framing: every length adds up to the whole. */
static void decode(const char *v, int len, arr_t *a)
{
    const unsigned char *p = (const unsigned char *)v, *end = p + len;
    memset(a, 0, sizeof(*a));
    assert_true(len >= 12);
    a->ndim = be32(p);
    assert_int_equal(be32(p + 4), 0); /* no NULL element */
    a->elem_type = be32(p + 8);
    p += 12;
    if (a->ndim == 0) {
        assert_true(p == end);
        return;
    }
    assert_int_equal(a->ndim, 1);
    a->n = be32(p);
    assert_int_equal(be32(p + 4), 1); /* lower bound */
    p += 8;
    assert_true(a->n <= 4);
    for (uint32_t i = 0; i < a->n; i++) {
        rec_t *r = &a->recs[i];
        uint32_t elen = be32(p);
        const unsigned char *eend = p + 4 + elen;
        assert_true(eend <= end);
        r->ncols = (int)be32(p + 4);
        p += 8;
        assert_true(r->ncols <= 48);
        for (int k = 0; k < r->ncols; k++) {
            r->types[k] = be32(p);
            r->lens[k] = (int)be32(p + 4);
            p += 8;
            r->vals[k] = p;
            if (r->lens[k] >= 0)
                p += r->lens[k];
        }
        assert_true(p == eend);
    }
    assert_true(p == end);
}

static int field_is(const rec_t *r, int k, const char *text)
{
    return r->lens[k] == (int)strlen(text) && memcmp(r->vals[k], text, strlen(text)) == 0;
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
    bk_rec_uuid(&b.news[0].insert, &n->id);
    for (int k = 1; k < BK_ORDER_CONTENT_COLS; k++)
        bk_rec_text(&b.news[0].insert, "c");
    bk_row_t *rn = bk_batch_row(&b, n);
    assert_int_equal(rn->is_new, 1);
    pls_buf_adds(&rn->entries, "{\"kind\":\"received\"}");
    rn->n++;
    rn->state = BK_QUEUED;
    assert_int_equal(b.n_rows, 2);
    pls_buf_t sql;
    pls_buf_init(&sql);
    bk_rowtypes_t types = {.orders = 70001, .citizens = 70002, .events = 70003};
    bk_batch_sql(&b, &types, &sql);
    /* a statement list of one statement: pls_batch() and its four arrays as
     * binary parameters (the store adds BEGIN and COMMIT) */
    const char *p = sql.data, *end = sql.data + sql.len;
    bk_stmt_t st;
    assert_int_equal(bk_sql_next(&p, end, &st), 1);
    assert_true(strncmp(st.sql, "SELECT id FROM pls_batch($1::orders[],", 38) == 0);
    assert_int_equal(st.n, 4);
    const char *after = p;
    bk_stmt_t none;
    assert_int_equal(bk_sql_next(&after, end, &none), 0);
    arr_t news, cits, evs, chg;
    for (int i = 0; i < 4; i++)
        assert_int_equal(st.formats[i], 1);
    decode(st.vals[0], st.lens[0], &news);
    decode(st.vals[1], st.lens[1], &cits);
    decode(st.vals[2], st.lens[2], &evs);
    decode(st.vals[3], st.lens[3], &chg);
    /* no citizens: the empty array, of the citizens' row type */
    assert_int_equal(cits.ndim, 0);
    assert_int_equal(cits.elem_type, 70002);
    /* two event rows: order id, seq, n, at, entries (as they are: JSON needs no
     * escaping in binary) */
    assert_int_equal(evs.elem_type, 70003);
    assert_int_equal(evs.n, 2);
    const rec_t *e = &evs.recs[0];
    assert_int_equal(e->ncols, 5);
    assert_int_equal(e->types[0], BK_T_UUID);
    assert_int_equal(e->vals[0][0], 1);
    assert_int_equal(e->types[1], BK_T_INT4);
    assert_int_equal(be32(e->vals[1]), 5);
    assert_int_equal(e->types[2], BK_T_INT2);
    assert_int_equal(e->lens[2], 2);
    assert_int_equal(e->types[4], BK_T_JSON);
    assert_true(field_is(e, 4, "[{\"kind\":\"accepted\",\"note\":\"it's\"}]"));
    assert_int_equal(evs.recs[1].vals[0][0], 2);
    /* the existing order's row changes to its snapshot: its id, the content
     * columns NULL, then the state columns; the new one is inserted whole */
    assert_int_equal(chg.elem_type, 70001);
    assert_int_equal(chg.n, 1);
    const rec_t *c = &chg.recs[0], *o = &news.recs[0];
    assert_int_equal(c->vals[0][0], 1);
    for (int k = 1; k < BK_ORDER_CONTENT_COLS; k++)
        assert_int_equal(c->lens[k], -1);
    assert_true(field_is(c, BK_ORDER_CONTENT_COLS, "completed"));
    assert_int_equal(news.n, 1);
    assert_int_equal(o->ncols, c->ncols);
    assert_int_equal(o->vals[0][0], 2);
    assert_true(field_is(o, 1, "c"));
    assert_true(field_is(o, BK_ORDER_CONTENT_COLS, "queued"));
    /* the same column types in both, whichever wrote them */
    for (int k = BK_ORDER_CONTENT_COLS; k < c->ncols; k++)
        assert_int_equal(o->types[k], c->types[k]);

    /* the new order alone (tried after a refused batch): its orders row and
     * its event row, nothing of the other order, no day counter */
    b.day_seq = 3;
    b.day_seq_day = 20261127;
    bk_batch_sql_new(&b, 0, &types, &sql);
    p = sql.data;
    end = sql.data + sql.len;
    assert_int_equal(bk_sql_next(&p, end, &st), 1);
    assert_true(strncmp(st.sql, "SELECT id FROM pls_batch($1::orders[],", 38) == 0);
    assert_int_equal(bk_sql_next(&p, end, &none), 0);
    decode(st.vals[0], st.lens[0], &news);
    decode(st.vals[2], st.lens[2], &evs);
    decode(st.vals[3], st.lens[3], &chg);
    assert_int_equal(news.n, 1);
    assert_int_equal(news.recs[0].vals[0][0], 2);
    assert_true(field_is(&news.recs[0], BK_ORDER_CONTENT_COLS, "queued"));
    assert_int_equal(evs.n, 1);
    assert_int_equal(evs.recs[0].vals[0][0], 2);
    assert_true(field_is(&evs.recs[0], 4, "[{\"kind\":\"received\"}]"));
    assert_int_equal(chg.ndim, 0);
    pls_buf_cleanup(&sql);
    bk_batch_cleanup(&b);
    bk_order_free(a);
    bk_order_free(n);
}

/* Fields in PostgreSQL's binary formats. */
static void test_record_fields(void **state)
{
    (void)state;
    bk_recs_t r;
    bk_recs_init(&r);
    pls_uuid_t u = {{0}};
    u.b[15] = 0xab;
    bk_rec_begin(&r);
    bk_rec_text(&r.buf, "a\"b\\c");
    bk_rec_opt(&r.buf, "");
    bk_rec_text(&r.buf, "");
    bk_rec_int(&r.buf, BK_T_INT2, -7);
    bk_rec_int(&r.buf, BK_T_INT4, 70000);
    bk_rec_int(&r.buf, BK_T_INT8, -2);
    bk_rec_bool(&r.buf, 1);
    bk_rec_ts(&r.buf, 0);
    bk_rec_at(&r.buf, INT64_C(946684800001)); /* 2000-01-01 00:00:00.001 UTC */
    bk_rec_at(&r.buf, 0);
    bk_rec_uuid(&r.buf, &u);
    bk_rec_uuid_str(&r.buf, "not-a-uuid");
    bk_rec_json(&r.buf, BK_T_JSONB, "{}", 2);
    bk_rec_json(&r.buf, BK_T_JSON, NULL, 0);
    bk_rec_end(&r);
    bk_rec_begin(&r);
    bk_rec_null(&r.buf, BK_T_TEXT);
    bk_rec_end(&r);
    bk_param_t p = bk_recs_param(&r, 4242);
    arr_t a;
    decode(p.v, p.len, &a);
    assert_int_equal(a.elem_type, 4242);
    assert_int_equal(a.n, 2);
    const rec_t *x = &a.recs[0];
    assert_int_equal(x->ncols, 14);
    assert_true(field_is(x, 0, "a\"b\\c")); /* no escaping */
    assert_int_equal(x->types[1], BK_T_TEXT);
    assert_int_equal(x->lens[1], -1);
    assert_int_equal(x->lens[2], 0);
    assert_int_equal(x->lens[3], 2);
    assert_int_equal((int16_t)(x->vals[3][0] << 8 | x->vals[3][1]), -7);
    assert_int_equal(x->lens[4], 4);
    assert_int_equal(be32(x->vals[4]), 70000);
    assert_int_equal(x->lens[5], 8);
    assert_int_equal((int64_t)be64(x->vals[5]), -2);
    assert_int_equal(x->types[6], BK_T_BOOL);
    assert_int_equal(x->vals[6][0], 1);
    assert_int_equal(x->types[7], BK_T_TSTZ);
    assert_int_equal(x->lens[7], -1);
    assert_int_equal((int64_t)be64(x->vals[8]), 1000);
    assert_int_equal((int64_t)be64(x->vals[9]), INT64_C(-946684800000000));
    assert_int_equal(x->lens[10], 16);
    assert_int_equal(x->vals[10][15], 0xab);
    assert_int_equal(x->types[11], BK_T_UUID);
    assert_int_equal(x->lens[11], -1);
    /* jsonb: a version byte, then the text */
    assert_int_equal(x->lens[12], 3);
    assert_int_equal(x->vals[12][0], 1);
    assert_int_equal(x->types[13], BK_T_JSON);
    assert_int_equal(x->lens[13], -1);
    assert_int_equal(a.recs[1].ncols, 1);
    /* no rows: the empty array; rows written after it make a whole array again */
    bk_recs_reset(&r);
    p = bk_recs_param(&r, 4243);
    decode(p.v, p.len, &a);
    assert_int_equal(a.ndim, 0);
    assert_int_equal(a.elem_type, 4243);
    bk_rec_begin(&r);
    bk_rec_int(&r.buf, BK_T_INT2, 70000); /* out of range: clamped */
    bk_rec_int(&r.buf, BK_T_INT4, INT64_C(-5000000000));
    /* a peer's absurd times: within what PostgreSQL takes (4713 BC .. 294276 AD) */
    bk_rec_at(&r.buf, INT64_MIN);
    bk_rec_at(&r.buf, INT64_MAX);
    bk_rec_end(&r);
    p = bk_recs_param(&r, 4244);
    decode(p.v, p.len, &a);
    assert_int_equal(a.n, 1);
    assert_int_equal((int16_t)(a.recs[0].vals[0][0] << 8 | a.recs[0].vals[0][1]), INT16_MAX);
    assert_int_equal((int32_t)be32(a.recs[0].vals[1]), INT32_MIN);
    const int64_t pg_min_us = INT64_C(-211813488000000000); /* 4714-11-24 BC, µs since 2000 */
    const int64_t pg_max_us = INT64_C(9223371331200000000); /* 294277-01-01 AD */
    assert_true((int64_t)be64(a.recs[0].vals[2]) > pg_min_us);
    assert_true((int64_t)be64(a.recs[0].vals[3]) < pg_max_us);
    bk_recs_cleanup(&r);
}

/* The tables' columns are checked against what the broker writes; a table
 * that differs is named with its first column that does. */
static void test_rowtypes(void **state)
{
    (void)state;
    bk_rowtypes_t t = {0};
    char err[512];
    char *ev[] = {"events", "16400", "2950,23,21,1184,114",
                  "order_id uuid;seq integer;n smallint;at timestamp with time zone;entries json"};
    char *bad[] = {"citizens", "16401", "2950,25,25,25,1043",
                   "order_id uuid;name text;id_type text;id_number text;phone character "
                   "varying(40)"};
    char *few[] = {"citizens", "16401", "2950,25,25,25",
                   "order_id uuid;name text;id_type "
                   "text;id_number text"};
    char *more[] = {"citizens", "16401", "2950,25,25,25,25,16",
                    "order_id uuid;name text;id_type text;id_number text;phone text;vip boolean"};
    char *other[] = {"elsewhere", "16402", "25", "x text"};
    assert_int_equal(bk_rowtypes_row(&t, ev, 4, err, sizeof(err)), 0);
    assert_int_equal(t.events, 16400);
    assert_int_equal(bk_rowtypes_row(&t, other, 4, err, sizeof(err)), 0);
    assert_int_equal(bk_rowtypes_row(&t, bad, 4, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "table citizens has columns of other types than this broker "
                                "writes: column 5 is phone character varying(40) where it "
                                "writes text"));
    assert_int_equal(bk_rowtypes_row(&t, few, 4, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "4 columns where it writes 5"));
    assert_int_equal(bk_rowtypes_row(&t, more, 4, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "column 6 (vip boolean) is one it does not know"));
    assert_int_equal(t.citizens, 0);
    assert_int_equal(bk_rowtypes_check(&t, err, sizeof(err)), -1);
    t.orders = t.citizens = t.link_outbox = 1;
    assert_int_equal(bk_rowtypes_check(&t, err, sizeof(err)), 0);
}

/* A statement list with text and binary parameters reads back as written;
 * a truncated one is malformed. */
static void test_statement_list(void **state)
{
    (void)state;
    pls_buf_t q;
    pls_buf_init(&q);
    const char bin[] = {'x', '\0', 'y'};
    const bk_param_t ps[] = {{"text", -1}, {bin, 3}};
    bk_sql_addp(&q, "SELECT $1, $2", 2, ps);
    bk_sql_text(&q, "COMMIT");
    const char *p = q.data, *end = q.data + q.len;
    bk_stmt_t st;
    assert_int_equal(bk_sql_next(&p, end, &st), 1);
    assert_string_equal(st.sql, "SELECT $1, $2");
    assert_int_equal(st.n, 2);
    assert_int_equal(st.formats[0], 0);
    assert_string_equal(st.vals[0], "text");
    assert_int_equal(st.formats[1], 1);
    assert_int_equal(st.lens[1], 3);
    assert_memory_equal(st.vals[1], bin, 3);
    assert_int_equal(bk_sql_next(&p, end, &st), 1);
    assert_string_equal(st.sql, "COMMIT");
    assert_int_equal(st.n, 0);
    assert_int_equal(bk_sql_next(&p, end, &st), 0);
    p = q.data;
    assert_int_equal(bk_sql_next(&p, q.data + 20, &st), -1); /* inside the binary value */
    pls_buf_cleanup(&q);
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
        cmocka_unit_test(test_rows_and_sql), cmocka_unit_test(test_record_fields),
        cmocka_unit_test(test_rowtypes),     cmocka_unit_test(test_statement_list),
        cmocka_unit_test(test_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
