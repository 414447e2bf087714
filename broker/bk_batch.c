/*
 * bk_batch — see bk_batch.h.
 */
#include "bk_batch.h"

#include "pls_time.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bk_batch_init(bk_batch_t *b, uint32_t gen)
{
    memset(b, 0, sizeof(*b));
    b->gen = gen;
    pls_buf_init(&b->pre);
    pls_buf_init(&b->extra);
}

void bk_batch_cleanup(bk_batch_t *b)
{
    for (uint32_t i = 0; i < b->n_rows; i++) {
        pls_buf_cleanup(&b->rows[i].entries);
        free(b->rows[i].notice_copy);
    }
    for (uint32_t i = 0; i < b->n_news; i++) {
        free(b->news[i].key);
        pls_buf_cleanup(&b->news[i].insert);
        pls_buf_cleanup(&b->news[i].citizen);
        pls_buf_cleanup(&b->news[i].fields);
    }
    for (uint32_t i = 0; i < b->n_outs; i++) {
        free(b->outs[i].ident);
        free(b->outs[i].msg);
    }
    free(b->rows);
    free(b->news);
    free(b->outs);
    pls_buf_cleanup(&b->pre);
    pls_buf_cleanup(&b->extra);
    memset(b, 0, sizeof(*b));
}

int bk_batch_empty(const bk_batch_t *b)
{
    return b->n_rows == 0 && b->n_outs == 0 && b->extra.len == 0 && b->pre.len == 0 &&
           b->n_news == 0 && !b->touched;
}

bk_row_t *bk_batch_row(bk_batch_t *b, bk_order_t *o)
{
    if (o->batch_gen == b->gen && o->batch_row < b->n_rows &&
        memcmp(b->rows[o->batch_row].id.b, o->id.b, 16) == 0)
        return &b->rows[o->batch_row];
    if (b->n_rows == b->cap_rows) {
        b->cap_rows = b->cap_rows ? b->cap_rows * 2 : 64;
        b->rows = pls_xrealloc(b->rows, b->cap_rows * sizeof(*b->rows));
    }
    bk_row_t *r = &b->rows[b->n_rows];
    memset(r, 0, sizeof(*r));
    r->id = o->id;
    r->seq = o->next_seq;
    r->is_new = 0;
    r->new_idx = -1;
    pls_buf_init(&r->entries);
    o->batch_gen = b->gen;
    o->batch_row = b->n_rows++;
    return r;
}

int bk_batch_new_order(bk_batch_t *b, bk_order_t *o, const char *key)
{
    if (b->n_news == b->cap_news) {
        b->cap_news = b->cap_news ? b->cap_news * 2 : 64;
        b->news = pls_xrealloc(b->news, b->cap_news * sizeof(*b->news));
    }
    int idx = (int)b->n_news++;
    bk_new_t *n = &b->news[idx];
    memset(n, 0, sizeof(*n));
    n->id = o->id;
    n->key = pls_xstrdup(key);
    pls_buf_init(&n->insert);
    pls_buf_init(&n->citizen);
    pls_buf_init(&n->fields);
    bk_row_t *r = bk_batch_row(b, o);
    r->is_new = 1;
    r->new_idx = idx;
    n->row = (int)o->batch_row;
    return idx;
}

void bk_batch_out(bk_batch_t *b, int kind, const void *ident, size_t ident_len, uint8_t *msg,
                  size_t len, uint64_t corr, int new_idx)
{
    if (b->n_outs == b->cap_outs) {
        b->cap_outs = b->cap_outs ? b->cap_outs * 2 : 64;
        b->outs = pls_xrealloc(b->outs, b->cap_outs * sizeof(*b->outs));
    }
    bk_out_t *o = &b->outs[b->n_outs++];
    o->kind = kind;
    o->ident = pls_xmalloc(ident_len);
    memcpy(o->ident, ident, ident_len);
    o->ident_len = ident_len;
    o->msg = msg;
    o->len = len;
    o->corr = corr;
    o->new_idx = new_idx;
}

void bk_row_snap(bk_row_t *r, const bk_order_t *o, const char *dept, const char *owner)
{
    r->owner = owner;
    r->prev_owner = o->prev_owner;
    r->intake = o->intake;
    r->open = bk_state_open(o->state);
    r->state = o->state;
    r->step = o->step;
    r->attempt = o->attempt;
    r->token = o->token;
    r->dept = dept;
    r->scope = o->scope;
    r->custody = o->custody;
    r->flags = o->flags & BK_OF_STORED;
    r->due_ms = o->due_ms;
    r->limit_start_ms = o->limit_start_ms;
    r->whole_due_ms = o->whole_due_ms;
    r->paused_ms = o->paused_ms;
    r->limit_kind = o->limit_kind;
    r->alarms = o->alarms;
    r->ext_days = o->ext_days;
    r->ext_pending = o->ext_pending;
    if ((r->notice_copy == NULL) != (o->notice == NULL) ||
        (o->notice && strcmp(o->notice, r->notice_copy) != 0)) {
        free(r->notice_copy);
        r->notice_copy = o->notice ? pls_xstrdup(o->notice) : NULL;
    }
}

/* Binary rows (bk_batch.h). An array: ndim, flags, element type, then per
 * dimension its length and lower bound (20 bytes; 12 without dimensions),
 * then the elements, each its length and a record: the number of columns,
 * then per column its type, its length (-1 for NULL) and its bytes. Integers
 * in network byte order. */
#define ARRAY_HEAD 20

/* x as n bytes (n <= 8), most significant first. */
static void put_be(pls_buf_t *b, uint64_t x, size_t n)
{
    unsigned char d[8];
    for (size_t i = 0; i < n; i++)
        d[i] = (unsigned char)(x >> (8 * (n - 1 - i)));
    pls_buf_add(b, d, n);
}

static void put32(pls_buf_t *b, uint32_t v)
{
    put_be(b, v, 4);
}

static void set32(pls_buf_t *b, size_t at, uint32_t v)
{
    unsigned char *x = (unsigned char *)b->data + at;
    x[0] = (unsigned char)(v >> 24);
    x[1] = (unsigned char)(v >> 16);
    x[2] = (unsigned char)(v >> 8);
    x[3] = (unsigned char)v;
}

static uint32_t get32(const char *p)
{
    const unsigned char *x = (const unsigned char *)p;
    return (uint32_t)x[0] << 24 | (uint32_t)x[1] << 16 | (uint32_t)x[2] << 8 | x[3];
}

/* A field's type and length. */
static void field(pls_buf_t *b, uint32_t type, size_t len)
{
    put32(b, type);
    put32(b, (uint32_t)len);
}

void bk_recs_init(bk_recs_t *r)
{
    memset(r, 0, sizeof(*r));
    pls_buf_init(&r->buf);
}

void bk_recs_cleanup(bk_recs_t *r)
{
    pls_buf_cleanup(&r->buf);
    r->n = 0;
}

void bk_recs_reset(bk_recs_t *r)
{
    pls_buf_reset(&r->buf);
    r->n = 0;
}

void bk_rec_begin(bk_recs_t *r)
{
    if (!r->n) {
        /* (bk_recs_param may have left the empty array's shorter header) */
        static const char head[ARRAY_HEAD];
        pls_buf_reset(&r->buf);
        pls_buf_add(&r->buf, head, sizeof(head)); /* filled by bk_recs_param */
    }
    r->elem = r->buf.len;
    put32(&r->buf, 0); /* the element's length */
    put32(&r->buf, 0); /* its number of columns */
}

void bk_rec_end(bk_recs_t *r)
{
    /* the fields are counted rather than tracked: an order's content comes
     * as a fragment of fields built earlier */
    uint32_t cols = 0;
    const char *p = r->buf.data + r->elem + 8, *end = r->buf.data + r->buf.len;
    while (end - p >= 8) {
        uint32_t len = get32(p + 4);
        p += 8 + (len == UINT32_MAX ? 0 : len);
        cols++;
    }
    set32(&r->buf, r->elem, (uint32_t)(r->buf.len - r->elem - 4));
    set32(&r->buf, r->elem + 4, cols);
    r->n++;
}

bk_param_t bk_recs_param(bk_recs_t *r, uint32_t elem_type)
{
    if (!r->n) {
        pls_buf_reset(&r->buf);
        put32(&r->buf, 0); /* no dimensions: the empty array */
        put32(&r->buf, 0);
        put32(&r->buf, elem_type);
    } else {
        set32(&r->buf, 0, 1);
        set32(&r->buf, 4, 0); /* no NULL element */
        set32(&r->buf, 8, elem_type);
        set32(&r->buf, 12, r->n);
        set32(&r->buf, 16, 1);
    }
    return (bk_param_t){r->buf.data, (int)r->buf.len};
}

void bk_rec_null(pls_buf_t *b, uint32_t type)
{
    put32(b, type);
    put32(b, UINT32_MAX);
}

void bk_rec_textn(pls_buf_t *b, const char *v, size_t n)
{
    field(b, BK_T_TEXT, n);
    pls_buf_add(b, v, n);
}

void bk_rec_text(pls_buf_t *b, const char *v)
{
    if (v)
        bk_rec_textn(b, v, strlen(v));
    else
        bk_rec_null(b, BK_T_TEXT);
}

void bk_rec_opt(pls_buf_t *b, const char *v)
{
    bk_rec_text(b, v && *v ? v : NULL);
}

void bk_rec_json(pls_buf_t *b, uint32_t type, const char *v, size_t n)
{
    if (!v) {
        bk_rec_null(b, type);
        return;
    }
    if (type == BK_T_JSONB) {
        field(b, type, n + 1);
        pls_buf_addc(b, 1); /* jsonb's binary format: a version, then the text */
    } else {
        field(b, type, n);
    }
    pls_buf_add(b, v, n);
}

void bk_rec_uuid(pls_buf_t *b, const pls_uuid_t *u)
{
    field(b, BK_T_UUID, 16);
    pls_buf_add(b, u->b, 16);
}

void bk_rec_uuid_str(pls_buf_t *b, const char *s)
{
    pls_uuid_t u;
    if (s && *s && pls_uuid_parse(s, &u) == 0)
        bk_rec_uuid(b, &u);
    else
        bk_rec_null(b, BK_T_UUID);
}

void bk_rec_int(pls_buf_t *b, uint32_t type, int64_t v)
{
    /* a value out of the column's range (a peer's) is clamped, where its text
     * would have failed the whole batch */
    if (type == BK_T_INT2)
        v = v < INT16_MIN ? INT16_MIN : v > INT16_MAX ? INT16_MAX : v;
    else if (type == BK_T_INT4)
        v = v < INT32_MIN ? INT32_MIN : v > INT32_MAX ? INT32_MAX : v;
    size_t n = type == BK_T_INT2 ? 2 : type == BK_T_INT4 ? 4 : 8;
    field(b, type, n);
    put_be(b, (uint64_t)v, n);
}

void bk_rec_bool(pls_buf_t *b, int v)
{
    field(b, BK_T_BOOL, 1);
    pls_buf_addc(b, v ? 1 : 0);
}

void bk_rec_at(pls_buf_t *b, int64_t ms)
{
    /* microseconds since 2000-01-01 00:00 UTC; a peer's absurd time is clamped
     * to what PostgreSQL takes (4713 BC to 294276 AD) rather than overflow or
     * fail the batch */
    const int64_t lo = INT64_C(-210000000000000), hi = INT64_C(9000000000000000);
    ms = ms < lo ? lo : ms > hi ? hi : ms;
    field(b, BK_T_TSTZ, 8);
    put_be(b, (uint64_t)((ms - INT64_C(946684800000)) * 1000), 8);
}

void bk_rec_ts(pls_buf_t *b, int64_t ms)
{
    if (ms)
        bk_rec_at(b, ms);
    else
        bk_rec_null(b, BK_T_TSTZ);
}

/* The columns this file and its callers write, per table, in column order
 * (sql/001). */
static const uint32_t orders_cols[] = {
    /* id .. created_at (build_insert in bk_core.c) */
    BK_T_UUID, BK_T_TEXT, BK_T_TEXT, BK_T_INT8, BK_T_TEXT, BK_T_TEXT, BK_T_TEXT, BK_T_TEXT,
    BK_T_TEXT, BK_T_INT2, BK_T_TEXT, BK_T_JSONB, BK_T_JSONB, BK_T_UUID, BK_T_TEXT, BK_T_TEXT,
    BK_T_JSON, BK_T_TEXT, BK_T_TSTZ,
    /* state .. held_notice (add_state) */
    BK_T_TEXT, BK_T_INT4, BK_T_TEXT, BK_T_BOOL, BK_T_TSTZ, BK_T_INT4, BK_T_TEXT, BK_T_TEXT,
    BK_T_INT8, BK_T_INT2, BK_T_INT4, BK_T_INT4, BK_T_TSTZ, BK_T_TEXT, BK_T_INT2, BK_T_TSTZ,
    BK_T_TSTZ, BK_T_TSTZ, BK_T_INT4, BK_T_INT4, BK_T_INT4, BK_T_JSONB};
static const uint32_t citizens_cols[] = {BK_T_UUID, BK_T_TEXT, BK_T_TEXT, BK_T_TEXT, BK_T_TEXT};
static const uint32_t events_cols[] = {BK_T_UUID, BK_T_INT4, BK_T_INT2, BK_T_TSTZ, BK_T_JSON};
static const uint32_t outbox_cols[] = {BK_T_TEXT, BK_T_INT8, BK_T_TEXT, BK_T_TEXT,
                                       BK_T_TEXT, BK_T_UUID, BK_T_TEXT, BK_T_TSTZ};
_Static_assert(PLS_ARRAY_LEN(orders_cols) == BK_ORDER_COLS, "orders columns");

void bk_rec_orders_nulls(pls_buf_t *b, int from, int to)
{
    for (int k = from; k < to && k < BK_ORDER_COLS; k++)
        bk_rec_null(b, orders_cols[k]);
}

const char bk_rowtypes_sql[] =
    "SELECT t.typname, t.oid, string_agg(a.atttypid::text, ',' ORDER BY a.attnum), "
    "string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ';' ORDER BY "
    "a.attnum) FROM pg_type t JOIN pg_attribute a ON a.attrelid = t.typrelid "
    "WHERE t.oid IN ('orders'::regtype, 'citizens'::regtype, 'events'::regtype, "
    "'link_outbox'::regtype) AND a.attnum > 0 AND NOT a.attisdropped GROUP BY 1, 2";

static const char *type_name(uint32_t type)
{
    switch (type) {
    case BK_T_BOOL:
        return "boolean";
    case BK_T_INT8:
        return "bigint";
    case BK_T_INT2:
        return "smallint";
    case BK_T_INT4:
        return "integer";
    case BK_T_TEXT:
        return "text";
    case BK_T_JSON:
        return "json";
    case BK_T_TSTZ:
        return "timestamp with time zone";
    case BK_T_UUID:
        return "uuid";
    case BK_T_JSONB:
        return "jsonb";
    default:
        return "?";
    }
}

/* The first column of a table (types: its columns' type OIDs, "25,23,...";
 * names: "name type;..." of the same columns) that is not what this broker
 * writes (want), said in err; 0 when all are. */
static int compare_columns(const char *table, const char *types, const char *names,
                           const uint32_t *want, size_t n_want, char *err, size_t errsz)
{
    const char *p = types, *name = names;
    size_t k = 0;
    for (; *p; k++) {
        char *end;
        unsigned long type = strtoul(p, &end, 10);
        if (k >= n_want || type != want[k]) {
            size_t len = strcspn(name, ";");
            if (k >= n_want)
                snprintf(err, errsz,
                         "table %s has columns of other types than this broker writes: "
                         "column %zu (%.*s) is one it does not know (a database of another "
                         "version?)",
                         table, k + 1, (int)len, name);
            else
                snprintf(err, errsz,
                         "table %s has columns of other types than this broker writes: "
                         "column %zu is %.*s where it writes %s (a database of another "
                         "version?)",
                         table, k + 1, (int)len, name, type_name(want[k]));
            return -1;
        }
        p = *end == ',' ? end + 1 : end;
        name += strcspn(name, ";");
        if (*name == ';')
            name++;
    }
    if (k != n_want) {
        snprintf(err, errsz,
                 "table %s has columns of other types than this broker writes: %zu columns "
                 "where it writes %zu (a database of another version?)",
                 table, k, n_want);
        return -1;
    }
    return 0;
}

int bk_rowtypes_row(bk_rowtypes_t *t, char **v, int n, char *err, size_t errsz)
{
    static const struct {
        const char *name;
        const uint32_t *cols;
        size_t n;
        size_t at;
    } tables[] = {
        {"orders", orders_cols, PLS_ARRAY_LEN(orders_cols), offsetof(bk_rowtypes_t, orders)},
        {"citizens", citizens_cols, PLS_ARRAY_LEN(citizens_cols),
         offsetof(bk_rowtypes_t, citizens)},
        {"events", events_cols, PLS_ARRAY_LEN(events_cols), offsetof(bk_rowtypes_t, events)},
        {"link_outbox", outbox_cols, PLS_ARRAY_LEN(outbox_cols),
         offsetof(bk_rowtypes_t, link_outbox)},
    };
    if (n != 4 || !v[0] || !v[1] || !v[2] || !v[3]) {
        snprintf(err, errsz, "row types: a row of %d values", n);
        return -1;
    }
    for (size_t i = 0; i < PLS_ARRAY_LEN(tables); i++) {
        if (strcmp(v[0], tables[i].name) != 0)
            continue;
        if (compare_columns(v[0], v[2], v[3], tables[i].cols, tables[i].n, err, errsz) != 0)
            return -1;
        *(uint32_t *)((char *)t + tables[i].at) = (uint32_t)strtoul(v[1], NULL, 10);
        return 0;
    }
    return 0;
}

int bk_rowtypes_check(const bk_rowtypes_t *t, char *err, size_t errsz)
{
    if (t->orders && t->citizens && t->events && t->link_outbox)
        return 0;
    snprintf(err, errsz, "tables orders, citizens, events or link_outbox not found");
    return -1;
}

void bk_rec_order_state(pls_buf_t *s, const bk_row_t *r, int64_t now_ms)
{
    bk_rec_text(s, bk_state_name(r->state));
    bk_rec_int(s, BK_T_INT4, r->step);
    bk_rec_text(s, r->owner);
    bk_rec_bool(s, r->open);
    bk_rec_ts(s, bk_state_open(r->state) ? 0 : now_ms);
    bk_rec_int(s, BK_T_INT4, r->attempt);
    bk_rec_text(s, r->dept);
    bk_rec_text(s, r->scope);
    bk_rec_int(s, BK_T_INT8, (int64_t)r->token);
    bk_rec_int(s, BK_T_INT2, r->custody);
    bk_rec_int(s, BK_T_INT4, r->flags);
    bk_rec_int(s, BK_T_INT4, r->seq + r->n);
    bk_rec_ts(s, r->due_ms);
    bk_rec_text(s, r->prev_owner);
    bk_rec_int(s, BK_T_INT2, r->limit_kind);
    bk_rec_ts(s, r->limit_start_ms);
    bk_rec_ts(s, r->whole_due_ms);
    bk_rec_ts(s, r->paused_ms);
    bk_rec_int(s, BK_T_INT4, r->alarms);
    bk_rec_int(s, BK_T_INT4, r->ext_days);
    bk_rec_int(s, BK_T_INT4, r->ext_pending);
    bk_rec_json(s, BK_T_JSONB, r->notice_copy, r->notice_copy ? strlen(r->notice_copy) : 0);
}

/* A new order's orders row (and its citizens row) into the arrays. */
static void put_new(bk_recs_t *news, bk_recs_t *cits, const bk_new_t *n, const bk_row_t *r,
                    int64_t now)
{
    bk_rec_begin(news);
    pls_buf_add(&news->buf, n->insert.data ? n->insert.data : "", n->insert.len);
    bk_rec_order_state(&news->buf, r, now);
    bk_rec_end(news);
    if (n->citizen.len) {
        bk_rec_begin(cits);
        pls_buf_add(&cits->buf, n->citizen.data, n->citizen.len);
        bk_rec_end(cits);
    }
}

/* An order's event row of the batch. */
static void put_events(bk_recs_t *evs, const bk_row_t *r)
{
    bk_rec_begin(evs);
    bk_rec_uuid(&evs->buf, &r->id);
    bk_rec_int(&evs->buf, BK_T_INT4, r->seq);
    bk_rec_int(&evs->buf, BK_T_INT2, r->n);
    bk_rec_at(&evs->buf, r->at_ms);
    field(&evs->buf, BK_T_JSON, r->entries.len + 2);
    pls_buf_addc(&evs->buf, '[');
    pls_buf_add(&evs->buf, r->entries.data ? r->entries.data : "", r->entries.len);
    pls_buf_addc(&evs->buf, ']');
    bk_rec_end(evs);
}

/* pls_batch() with the arrays (still the caller's) into the statement list. */
static void add_batch_call(pls_buf_t *s, bk_recs_t *news, bk_recs_t *cits, bk_recs_t *evs,
                           bk_recs_t *chg, const bk_rowtypes_t *types)
{
    /* one statement for every order and event row of the batch, as arrays
     * of the tables' row types (sql/007) given as binary parameters; the
     * ids of the orders really inserted come back */
    const bk_param_t rows[] = {
        bk_recs_param(news, types->orders), bk_recs_param(cits, types->citizens),
        bk_recs_param(evs, types->events), bk_recs_param(chg, types->orders)};
    bk_sql_addp(s,
                "SELECT id FROM pls_batch($1::orders[], $2::citizens[], $3::events[], "
                "$4::orders[]) AS id",
                4, rows);
}

void bk_batch_sql(bk_batch_t *b, const bk_rowtypes_t *types, pls_buf_t *s)
{
    int64_t now = pls_rule_ms(); /* finished_at is read by the rule sweeps */
    bk_recs_t news, cits, evs, chg;
    bk_recs_init(&news);
    bk_recs_init(&cits);
    bk_recs_init(&evs);
    bk_recs_init(&chg);
    for (uint32_t i = 0; i < b->n_news; i++) {
        bk_new_t *n = &b->news[i];
        put_new(&news, &cits, n, &b->rows[n->row], now);
        b->rows_written += 1 + (n->citizen.len != 0);
    }
    for (uint32_t i = 0; i < b->n_rows; i++) {
        bk_row_t *r = &b->rows[i];
        if (r->n) {
            /* a row without entries only carries a new owner for the orders row */
            put_events(&evs, r);
            b->rows_written++;
        }
        if (!r->is_new && !r->fwd_own) {
            /* an orders row of which only the id and the state columns count */
            bk_rec_begin(&chg);
            bk_rec_uuid(&chg.buf, &r->id);
            bk_rec_orders_nulls(&chg.buf, 1, BK_ORDER_CONTENT_COLS);
            bk_rec_order_state(&chg.buf, r, now);
            bk_rec_end(&chg);
            b->rows_written++;
        }
    }
    pls_buf_reset(s);
    pls_buf_add(s, b->pre.data ? b->pre.data : "", b->pre.len);
    if (b->n_news || b->n_rows)
        add_batch_call(s, &news, &cits, &evs, &chg, types);
    bk_recs_cleanup(&news);
    bk_recs_cleanup(&cits);
    bk_recs_cleanup(&evs);
    bk_recs_cleanup(&chg);
    if (b->day_seq) {
        char k[32], v[24];
        snprintf(k, sizeof(k), "day:%lld", (long long)b->day_seq_day);
        snprintf(v, sizeof(v), "%u", b->day_seq);
        const char *kv[] = {k, v};
        bk_sql_add(s,
                   "INSERT INTO counters (k, v) VALUES ($1, $2::bigint) ON CONFLICT (k) DO "
                   "UPDATE SET v = GREATEST(counters.v, EXCLUDED.v)",
                   2, kv);
        b->rows_written++;
    }
    pls_buf_add(s, b->extra.data ? b->extra.data : "", b->extra.len);
}

void bk_batch_sql_new(const bk_batch_t *b, uint32_t i, const bk_rowtypes_t *types, pls_buf_t *s)
{
    bk_recs_t news, cits, evs, chg;
    bk_recs_init(&news);
    bk_recs_init(&cits);
    bk_recs_init(&evs);
    bk_recs_init(&chg);
    const bk_new_t *n = &b->news[i];
    const bk_row_t *r = &b->rows[n->row];
    put_new(&news, &cits, n, r, pls_rule_ms());
    if (r->n)
        put_events(&evs, r);
    pls_buf_reset(s);
    add_batch_call(s, &news, &cits, &evs, &chg, types);
    bk_recs_cleanup(&news);
    bk_recs_cleanup(&cits);
    bk_recs_cleanup(&evs);
    bk_recs_cleanup(&chg);
}
