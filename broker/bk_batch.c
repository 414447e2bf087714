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

int bk_batch_new_order(bk_batch_t *b, bk_order_t *o)
{
    if (b->n_news == b->cap_news) {
        b->cap_news = b->cap_news ? b->cap_news * 2 : 64;
        b->news = pls_xrealloc(b->news, b->cap_news * sizeof(*b->news));
    }
    int idx = (int)b->n_news++;
    bk_new_t *n = &b->news[idx];
    memset(n, 0, sizeof(*n));
    n->id = o->id;
    n->key = pls_xstrdup(o->key);
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

static void add_uuid(pls_buf_t *s, const pls_uuid_t *id)
{
    char u[PLS_UUID_STR];
    pls_uuid_format(id, u);
    pls_buf_addc(s, '\'');
    pls_buf_add(s, u, 36);
    pls_buf_adds(s, "'::uuid");
}

static void add_ts(pls_buf_t *s, int64_t ms)
{
    char t[40];
    pls_format_iso_ms(ms, t, sizeof(t));
    pls_buf_addc(s, '\'');
    pls_buf_adds(s, t);
    pls_buf_adds(s, "'::timestamptz");
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

#define STATE_COLUMNS                                                                              \
    "state, step, open, finished_at, attempt, dept, scope, token, custody, flags, next_seq, "      \
    "due_at, owner, prev_owner, limit_kind, limit_start, whole_due, paused_at, alarms, "           \
    "ext_days, ext_pending, held_notice"

/* The changing columns of a snapshot, in STATE_COLUMNS order. */
static void add_state(pls_buf_t *s, const bk_row_t *r, int64_t now_ms)
{
    pls_buf_addc(s, '\'');
    pls_buf_adds(s, bk_state_name(r->state));
    pls_buf_adds(s, "',");
    pls_buf_add_i64(s, r->step);
    pls_buf_adds(s, r->open ? ",true," : ",false,");
    if (bk_state_open(r->state))
        pls_buf_adds(s, "NULL::timestamptz");
    else
        add_ts(s, now_ms);
    pls_buf_addc(s, ',');
    pls_buf_add_u64(s, r->attempt);
    pls_buf_addc(s, ',');
    pls_buf_add_sql_str(s, r->dept);
    pls_buf_addc(s, ',');
    pls_buf_add_sql_str(s, r->scope);
    pls_buf_addc(s, ',');
    pls_buf_add_i64(s, (int64_t)r->token);
    pls_buf_adds(s, "::bigint,");
    pls_buf_add_i64(s, r->custody);
    pls_buf_addc(s, ',');
    pls_buf_add_i64(s, r->flags);
    pls_buf_addc(s, ',');
    pls_buf_add_u64(s, r->seq + r->n);
    pls_buf_addc(s, ',');
    if (r->due_ms)
        add_ts(s, r->due_ms);
    else
        pls_buf_adds(s, "NULL::timestamptz");
    pls_buf_addc(s, ',');
    pls_buf_add_sql_str(s, r->owner);
    pls_buf_addc(s, ',');
    pls_buf_add_sql_str(s, r->prev_owner);
    pls_buf_addc(s, ',');
    pls_buf_add_i64(s, r->limit_kind);
    int64_t ts[3] = {r->limit_start_ms, r->whole_due_ms, r->paused_ms};
    for (int i = 0; i < 3; i++) {
        pls_buf_addc(s, ',');
        if (ts[i])
            add_ts(s, ts[i]);
        else
            pls_buf_adds(s, "NULL::timestamptz");
    }
    pls_buf_addc(s, ',');
    pls_buf_add_i64(s, r->alarms);
    pls_buf_addc(s, ',');
    pls_buf_add_i64(s, r->ext_days);
    pls_buf_addc(s, ',');
    pls_buf_add_i64(s, r->ext_pending);
    pls_buf_addc(s, ',');
    pls_buf_add_sql_str(s, r->notice_copy);
    pls_buf_adds(s, "::jsonb");
}

void bk_batch_sql(bk_batch_t *b, pls_buf_t *s)
{
    int64_t now = pls_rule_ms(); /* finished_at is read by the rule sweeps */
    pls_buf_reset(s);
    pls_buf_adds(s, "BEGIN;");
    pls_buf_add(s, b->pre.data ? b->pre.data : "", b->pre.len);
    if (b->n_news) {
        pls_buf_adds(s,
                     "INSERT INTO orders (id, number, idem_key, content_hash, service, origin, "
                     "locality, intake_node, channel, priority, descr, fields, attachments, "
                     "about, subject, site, plan, actor, created_at, " STATE_COLUMNS ") VALUES ");
        for (uint32_t i = 0; i < b->n_news; i++) {
            bk_new_t *n = &b->news[i];
            if (i)
                pls_buf_addc(s, ',');
            pls_buf_add(s, n->insert.data, n->insert.len);
            pls_buf_addc(s, ',');
            add_state(s, &b->rows[n->row], now);
            pls_buf_addc(s, ')');
        }
        pls_buf_adds(s, " ON CONFLICT (intake_node, idem_key) DO NOTHING RETURNING id;");
        b->rows_written += b->n_news;
        int any = 0;
        for (uint32_t i = 0; i < b->n_news; i++) {
            bk_new_t *n = &b->news[i];
            if (!n->citizen.len)
                continue;
            pls_buf_adds(s, any ? ","
                                : "INSERT INTO citizens (order_id, name, id_type, "
                                  "id_number, phone) SELECT v.* FROM (VALUES ");
            pls_buf_add(s, n->citizen.data, n->citizen.len);
            any = 1;
            b->rows_written++;
        }
        if (any)
            pls_buf_adds(s, ") AS v(order_id, name, id_type, id_number, phone) WHERE EXISTS "
                            "(SELECT 1 FROM orders o WHERE o.id = v.order_id);");
    }
    uint32_t with_entries = 0;
    for (uint32_t i = 0; i < b->n_rows; i++)
        with_entries += b->rows[i].n > 0;
    if (with_entries) {
        /* a row without entries only carries a new owner for the orders row */
        int first = 1;
        pls_buf_adds(s, "INSERT INTO events (order_id, seq, n, at, entries) SELECT v.* FROM "
                        "(VALUES ");
        for (uint32_t i = 0; i < b->n_rows; i++) {
            bk_row_t *r = &b->rows[i];
            if (!r->n)
                continue;
            if (!first)
                pls_buf_addc(s, ',');
            first = 0;
            pls_buf_addc(s, '(');
            add_uuid(s, &r->id);
            pls_buf_addc(s, ',');
            pls_buf_add_u64(s, r->seq);
            pls_buf_addc(s, ',');
            pls_buf_add_u64(s, r->n);
            pls_buf_addc(s, ',');
            add_ts(s, r->at_ms);
            pls_buf_adds(s, ",'[");
            /* entries are JSON built by us; single quotes doubled for SQL */
            const char *p = r->entries.data, *end = p + r->entries.len, *q;
            while ((q = memchr(p, '\'', (size_t)(end - p)))) {
                pls_buf_add(s, p, (size_t)(q - p) + 1);
                pls_buf_addc(s, '\'');
                p = q + 1;
            }
            pls_buf_add(s, p, (size_t)(end - p));
            pls_buf_adds(s, "]'::jsonb)");
        }
        /* a row for a new order whose key turned out to exist is not written */
        /* ON CONFLICT: a numbering fault never takes the whole batch down */
        pls_buf_adds(s, ") AS v(order_id, seq, n, at, entries) WHERE v.seq > 1 OR EXISTS "
                        "(SELECT 1 FROM orders o WHERE o.id = v.order_id) ON CONFLICT DO NOTHING;");
        b->rows_written += with_entries;
    }
    if (b->n_rows) {
        int any = 0;
        for (uint32_t i = 0; i < b->n_rows; i++) {
            bk_row_t *r = &b->rows[i];
            if (r->is_new)
                continue;
            pls_buf_adds(s, any ? ",("
                                : "UPDATE orders o SET state = v.state, step = v.step, "
                                  "open = v.open, finished_at = v.finished_at, "
                                  "attempt = v.attempt, dept = v.dept, scope = v.scope, "
                                  "token = v.token, custody = v.custody, flags = v.flags, "
                                  "next_seq = v.next_seq, due_at = v.due_at, "
                                  "owner = v.owner, prev_owner = v.prev_owner, "
                                  "limit_kind = v.limit_kind, limit_start = v.limit_start, "
                                  "whole_due = v.whole_due, paused_at = v.paused_at, "
                                  "alarms = v.alarms, ext_days = v.ext_days, "
                                  "ext_pending = v.ext_pending, held_notice = v.held_notice "
                                  "FROM (VALUES (");
            add_uuid(s, &r->id);
            pls_buf_addc(s, ',');
            add_state(s, r, now);
            pls_buf_addc(s, ')');
            any = 1;
            b->rows_written++;
        }
        if (any)
            pls_buf_adds(s, ") AS v(id, " STATE_COLUMNS ") WHERE o.id = v.id;");
    }
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
