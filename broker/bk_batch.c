/*
 * bk_batch — see bk_batch.h.
 */
#include "bk_batch.h"

#include "pls_time.h"

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

/* Record literals. Each writer appends one field of an array element followed
 * by a comma; bk_rec_end turns the last comma into the record's closing
 * parenthesis. Two levels of quoting: the field inside the record, the record
 * inside the array, so a value's '"' and '\\' become four characters. */
void bk_rec_begin(pls_buf_t *b)
{
    if (!b->len)
        pls_buf_addc(b, '{');
    else if (b->data[b->len - 1] != '{')
        pls_buf_addc(b, ',');
    pls_buf_adds(b, "\"(");
}

void bk_rec_end(pls_buf_t *b)
{
    if (b->len && b->data[b->len - 1] == ',')
        b->len--;
    pls_buf_adds(b, ")\"");
}

void bk_rec_null(pls_buf_t *b)
{
    pls_buf_addc(b, ',');
}

static void rec_escape(pls_buf_t *b, const char *p, size_t n)
{
    const char *end = p + n;
    pls_buf_reserve(b, n + 8);
    while (p < end) {
        const char *q = p;
        while (q < end && *q != '"' && *q != '\\')
            q++;
        pls_buf_add(b, p, (size_t)(q - p));
        if (q == end)
            break;
        pls_buf_adds(b, *q == '"' ? "\\\\\\\"" : "\\\\\\\\");
        p = q + 1;
    }
}

void bk_rec_strn(pls_buf_t *b, const char *v, size_t n)
{
    pls_buf_adds(b, "\\\"");
    rec_escape(b, v, n);
    pls_buf_adds(b, "\\\",");
}

void bk_rec_str(pls_buf_t *b, const char *v)
{
    if (v)
        bk_rec_strn(b, v, strlen(v));
    else
        bk_rec_null(b);
}

void bk_rec_opt(pls_buf_t *b, const char *v)
{
    bk_rec_str(b, v && *v ? v : NULL);
}

void bk_rec_int(pls_buf_t *b, int64_t v)
{
    pls_buf_add_i64(b, v);
    pls_buf_addc(b, ',');
}

void bk_rec_bool(pls_buf_t *b, int v)
{
    pls_buf_adds(b, v ? "t," : "f,");
}

void bk_rec_ts(pls_buf_t *b, int64_t ms)
{
    if (!ms) {
        bk_rec_null(b);
        return;
    }
    char t[40];
    pls_format_iso_ms(ms, t, sizeof(t));
    pls_buf_adds(b, t); /* digits, '-', ':', '.', 'T', 'Z': nothing to quote */
    pls_buf_addc(b, ',');
}

/* The changing columns of an `orders` row from a snapshot, in the table's
 * column order (state .. held_notice). */
static void add_state(pls_buf_t *s, const bk_row_t *r, int64_t now_ms)
{
    bk_rec_str(s, bk_state_name(r->state));
    bk_rec_int(s, r->step);
    bk_rec_str(s, r->owner);
    bk_rec_bool(s, r->open);
    bk_rec_ts(s, bk_state_open(r->state) ? 0 : now_ms);
    bk_rec_int(s, r->attempt);
    bk_rec_str(s, r->dept);
    bk_rec_str(s, r->scope);
    bk_rec_int(s, (int64_t)r->token);
    bk_rec_int(s, r->custody);
    bk_rec_int(s, r->flags);
    bk_rec_int(s, r->seq + r->n);
    bk_rec_ts(s, r->due_ms);
    bk_rec_str(s, r->prev_owner);
    bk_rec_int(s, r->limit_kind);
    bk_rec_ts(s, r->limit_start_ms);
    bk_rec_ts(s, r->whole_due_ms);
    bk_rec_ts(s, r->paused_ms);
    bk_rec_int(s, r->alarms);
    bk_rec_int(s, r->ext_days);
    bk_rec_int(s, r->ext_pending);
    bk_rec_str(s, r->notice_copy);
}

const char *bk_sql_array(pls_buf_t *arr)
{
    if (!arr->len)
        pls_buf_addc(arr, '{');
    pls_buf_addc(arr, '}');
    return arr->data;
}

void bk_batch_sql(bk_batch_t *b, pls_buf_t *s)
{
    int64_t now = pls_rule_ms(); /* finished_at is read by the rule sweeps */
    pls_buf_t news, cits, evs, chg;
    pls_buf_init(&news);
    pls_buf_init(&cits);
    pls_buf_init(&evs);
    pls_buf_init(&chg);
    for (uint32_t i = 0; i < b->n_news; i++) {
        bk_new_t *n = &b->news[i];
        bk_rec_begin(&news);
        pls_buf_add(&news, n->insert.data ? n->insert.data : "", n->insert.len);
        add_state(&news, &b->rows[n->row], now);
        bk_rec_end(&news);
        b->rows_written++;
        if (n->citizen.len) {
            bk_rec_begin(&cits);
            pls_buf_add(&cits, n->citizen.data, n->citizen.len);
            bk_rec_end(&cits);
            b->rows_written++;
        }
    }
    for (uint32_t i = 0; i < b->n_rows; i++) {
        bk_row_t *r = &b->rows[i];
        char id[PLS_UUID_STR];
        pls_uuid_format(&r->id, id);
        if (r->n) {
            /* a row without entries only carries a new owner for the orders row */
            bk_rec_begin(&evs);
            bk_rec_str(&evs, id);
            bk_rec_int(&evs, r->seq);
            bk_rec_int(&evs, r->n);
            bk_rec_ts(&evs, r->at_ms);
            pls_buf_adds(&evs, "\\\"[");
            rec_escape(&evs, r->entries.data ? r->entries.data : "", r->entries.len);
            pls_buf_adds(&evs, "]\\\",");
            bk_rec_end(&evs);
            b->rows_written++;
        }
        if (!r->is_new) {
            /* an orders row of which only the id and the state columns count */
            bk_rec_begin(&chg);
            bk_rec_str(&chg, id);
            for (int k = 0; k < BK_ORDER_CONTENT_COLS - 1; k++)
                bk_rec_null(&chg);
            add_state(&chg, r, now);
            bk_rec_end(&chg);
            b->rows_written++;
        }
    }
    pls_buf_reset(s);
    pls_buf_add(s, b->pre.data ? b->pre.data : "", b->pre.len);
    if (b->n_news || b->n_rows) {
        /* one statement for every order and event row of the batch, as arrays
         * of the tables' row types (sql/007) given as parameters; the ids of
         * the orders really inserted come back */
        const char *rows[] = {bk_sql_array(&news), bk_sql_array(&cits), bk_sql_array(&evs),
                              bk_sql_array(&chg)};
        bk_sql_add(s,
                   "SELECT id FROM pls_batch($1::orders[], $2::citizens[], $3::events[], "
                   "$4::orders[]) AS id",
                   4, rows);
    }
    pls_buf_cleanup(&news);
    pls_buf_cleanup(&cits);
    pls_buf_cleanup(&evs);
    pls_buf_cleanup(&chg);
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
