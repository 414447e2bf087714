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
    b->started_us = pls_mono_us();
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

/* JSON helpers: members are separated by commas except after an opening brace. */
static void sep(pls_buf_t *s)
{
    if (s->len && s->data[s->len - 1] != '{' && s->data[s->len - 1] != '[')
        pls_buf_addc(s, ',');
}

static void j_str(pls_buf_t *s, const char *k, const char *v)
{
    sep(s);
    pls_buf_addc(s, '"');
    pls_buf_adds(s, k);
    pls_buf_adds(s, "\":");
    if (v)
        pls_buf_add_json_str(s, v);
    else
        pls_buf_adds(s, "null");
}

static void j_int(pls_buf_t *s, const char *k, int64_t v)
{
    sep(s);
    pls_buf_addc(s, '"');
    pls_buf_adds(s, k);
    pls_buf_adds(s, "\":");
    pls_buf_add_i64(s, v);
}

static void j_ts(pls_buf_t *s, const char *k, int64_t ms)
{
    sep(s);
    pls_buf_addc(s, '"');
    pls_buf_adds(s, k);
    pls_buf_adds(s, "\":");
    if (!ms) {
        pls_buf_adds(s, "null");
        return;
    }
    char t[40];
    pls_format_iso_ms(ms, t, sizeof(t));
    pls_buf_addc(s, '"');
    pls_buf_adds(s, t);
    pls_buf_addc(s, '"');
}

/* The changing columns of an `orders` row from a snapshot, as JSON members. */
static void add_state(pls_buf_t *s, const bk_row_t *r, int64_t now_ms)
{
    j_str(s, "state", bk_state_name(r->state));
    j_int(s, "step", r->step);
    sep(s);
    pls_buf_adds(s, r->open ? "\"open\":true" : "\"open\":false");
    j_ts(s, "finished_at", bk_state_open(r->state) ? 0 : now_ms);
    j_int(s, "attempt", r->attempt);
    j_str(s, "dept", r->dept);
    j_str(s, "scope", r->scope);
    j_int(s, "token", (int64_t)r->token);
    j_int(s, "custody", r->custody);
    j_int(s, "flags", r->flags);
    j_int(s, "next_seq", r->seq + r->n);
    j_ts(s, "due_at", r->due_ms);
    j_str(s, "owner", r->owner);
    j_str(s, "prev_owner", r->prev_owner);
    j_int(s, "limit_kind", r->limit_kind);
    j_ts(s, "limit_start", r->limit_start_ms);
    j_ts(s, "whole_due", r->whole_due_ms);
    j_ts(s, "paused_at", r->paused_ms);
    j_int(s, "alarms", r->alarms);
    j_int(s, "ext_days", r->ext_days);
    j_int(s, "ext_pending", r->ext_pending);
    sep(s);
    pls_buf_adds(s, "\"held_notice\":");
    pls_buf_adds(s, r->notice_copy ? r->notice_copy : "null");
}

void bk_sql_add_json(pls_buf_t *s, const pls_buf_t *doc)
{
    pls_buf_addc(s, '\'');
    const char *p = doc->len ? doc->data : "[]", *end = p + (doc->len ? doc->len : 2), *q;
    while ((q = memchr(p, '\'', (size_t)(end - p)))) {
        pls_buf_add(s, p, (size_t)(q - p) + 1);
        pls_buf_addc(s, '\'');
        p = q + 1;
    }
    pls_buf_add(s, p, (size_t)(end - p));
    pls_buf_adds(s, "'::json");
}

void bk_batch_sql(bk_batch_t *b, pls_buf_t *s)
{
    int64_t now = pls_rule_ms(); /* finished_at is read by the rule sweeps */
    pls_buf_t news, cits, evs, chg;
    pls_buf_init(&news);
    pls_buf_init(&cits);
    pls_buf_init(&evs);
    pls_buf_init(&chg);
    pls_buf_adds(&news, "[");
    pls_buf_adds(&cits, "[");
    pls_buf_adds(&evs, "[");
    pls_buf_adds(&chg, "[");
    for (uint32_t i = 0; i < b->n_news; i++) {
        bk_new_t *n = &b->news[i];
        sep(&news);
        pls_buf_addc(&news, '{');
        pls_buf_add(&news, n->insert.data ? n->insert.data : "", n->insert.len);
        add_state(&news, &b->rows[n->row], now);
        pls_buf_addc(&news, '}');
        b->rows_written++;
        if (n->citizen.len) {
            sep(&cits);
            pls_buf_addc(&cits, '{');
            pls_buf_add(&cits, n->citizen.data, n->citizen.len);
            pls_buf_addc(&cits, '}');
            b->rows_written++;
        }
    }
    for (uint32_t i = 0; i < b->n_rows; i++) {
        bk_row_t *r = &b->rows[i];
        if (r->n) {
            /* a row without entries only carries a new owner for the orders row */
            char id[PLS_UUID_STR];
            pls_uuid_format(&r->id, id);
            sep(&evs);
            pls_buf_adds(&evs, "{\"order_id\":\"");
            pls_buf_adds(&evs, id);
            pls_buf_adds(&evs, "\"");
            j_int(&evs, "seq", r->seq);
            j_int(&evs, "n", r->n);
            j_ts(&evs, "at", r->at_ms);
            pls_buf_adds(&evs, ",\"entries\":[");
            pls_buf_add(&evs, r->entries.data ? r->entries.data : "", r->entries.len);
            pls_buf_adds(&evs, "]}");
            b->rows_written++;
        }
        if (!r->is_new) {
            char id[PLS_UUID_STR];
            pls_uuid_format(&r->id, id);
            sep(&chg);
            pls_buf_adds(&chg, "{\"id\":\"");
            pls_buf_adds(&chg, id);
            pls_buf_adds(&chg, "\"");
            add_state(&chg, r, now);
            pls_buf_addc(&chg, '}');
            b->rows_written++;
        }
    }
    pls_buf_adds(&news, "]");
    pls_buf_adds(&cits, "]");
    pls_buf_adds(&evs, "]");
    pls_buf_adds(&chg, "]");
    pls_buf_reset(s);
    pls_buf_adds(s, "BEGIN;");
    pls_buf_add(s, b->pre.data ? b->pre.data : "", b->pre.len);
    if (b->n_news || b->n_rows) {
        /* one statement for every order row and event row of the batch; the ids
         * of the orders really inserted come back */
        pls_buf_adds(s, "SELECT id FROM pls_batch(");
        bk_sql_add_json(s, &news);
        pls_buf_addc(s, ',');
        bk_sql_add_json(s, &cits);
        pls_buf_addc(s, ',');
        bk_sql_add_json(s, &evs);
        pls_buf_addc(s, ',');
        bk_sql_add_json(s, &chg);
        pls_buf_adds(s, ") AS id;");
    }
    pls_buf_cleanup(&news);
    pls_buf_cleanup(&cits);
    pls_buf_cleanup(&evs);
    pls_buf_cleanup(&chg);
    if (b->day_seq) {
        pls_buf_printf(s,
                       "INSERT INTO counters (k, v) VALUES ('day:%lld', %u) ON CONFLICT (k) DO "
                       "UPDATE SET v = GREATEST(counters.v, EXCLUDED.v);",
                       (long long)b->day_seq_day, b->day_seq);
        b->rows_written++;
    }
    pls_buf_add(s, b->extra.data ? b->extra.data : "", b->extra.len);
    pls_buf_adds(s, "COMMIT;");
}
