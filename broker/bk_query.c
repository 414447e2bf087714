/*
 * bk_query — read-only questions: show, list, fetch (for --exec handlers)
 * and status. show, list and fetch are answered by PostgreSQL on the read
 * connection, which builds the JSON documents itself (the contracts of
 * DESIGN §3); status combines the store's counts with what only memory knows
 * (queues, workers). Queries change nothing, so they are answered as soon as
 * their result arrives, without waiting for a batch.
 */
#include "bk_core.h"
#include "bk_limits.h"

#include "pls_log.h"
#include "pls_time.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KIND_SUMMARY 100 /* a status for the parent, not a reply */

typedef struct pending {
    bk_core_t *core;
    int tree; /* status --tree */
    uint8_t ident[BK_IDENT_MAX];
    size_t ident_len;
    uint64_t corr;
    int kind;
    char ref[64];
    json_t *doc; /* status: the part built from memory */
} pending_t;

static pending_t *pending_new(bk_core_t *c, const void *ident, size_t ident_len, uint64_t corr,
                              int kind)
{
    pending_t *p = pls_xcalloc(1, sizeof(*p));
    p->core = c;
    memcpy(p->ident, ident, ident_len < BK_IDENT_MAX ? ident_len : BK_IDENT_MAX);
    p->ident_len = ident_len;
    p->corr = corr;
    p->kind = kind;
    return p;
}

static void pending_free(pending_t *p)
{
    if (p->doc)
        json_decref(p->doc);
    free(p);
}

/* The order document of `show` (DESIGN §3): personal data masked. */
static const char show_sql[] =
    "SELECT json_build_object("
    " 'id', o.id, 'number', o.number, 'service', o.service, 'state', o.state,"
    " 'step', CASE WHEN o.open THEN o.step END, 'node', o.owner, 'origin', o.origin,"
    " 'locality', o.locality, 'channel', o.channel,"
    " 'priority', CASE o.priority WHEN 1 THEN 'urgent' ELSE 'normal' END,"
    " 'created_at', o.created_at, 'finished_at', o.finished_at, 'attempt', o.attempt,"
    " 'dept', o.dept, 'scope', o.scope, 'due_at', o.due_at, 'actor', o.actor,"
    " 'description', CASE WHEN s.confidential OR coalesce((o.fields ->> 'confidential')::boolean,"
    "   false) THEN '(confidential)' ELSE o.descr END,"
    " 'fields', o.fields, 'attachments', o.attachments, 'about', o.about,"
    " 'limits', json_build_object('kind', CASE o.limit_kind WHEN 1 THEN 'sign' WHEN 2 THEN"
    "   'step' END, 'started_at', o.limit_start, 'due_at', o.due_at, 'whole_due_at', o.whole_due,"
    "   'paused_at', o.paused_at, 'extension_days', o.ext_days, 'extension_pending',"
    "   o.ext_pending, 'held_notice', o.held_notice),"
    " 'complaints', (SELECT json_agg(json_build_object('id', x.id, 'number', x.number,"
    "   'state', x.state, 'subject', x.subject) ORDER BY x.created_at) FROM orders x"
    "   WHERE x.about = o.id),"
    " 'citizen', (SELECT json_build_object('name', pls_mask(c.name), 'id_type', c.id_type,"
    "   'id_number', pls_mask(c.id_number), 'phone', pls_mask(c.phone))"
    "   FROM citizens c WHERE c.order_id = o.id),"
    " 'steps', (SELECT json_agg(json_build_object('name', p.step ->> 'name',"
    "   'dept', p.step ->> 'dept', 'scope', p.step ->> 'scope',"
    "   'skipped', coalesce((p.step ->> 'skip')::boolean, false),"
    "   'outcome', (SELECT x.e -> 'payload' ->> 'outcome' FROM events e2,"
    "      json_array_elements(e2.entries) WITH ORDINALITY x(e, i)"
    "      WHERE e2.order_id = o.id AND x.e ->> 'kind' = 'step_completed'"
    "        AND (x.e ->> 'step')::int = p.i - 1 ORDER BY e2.seq DESC, x.i DESC LIMIT 1))"
    "   ORDER BY p.i) FROM json_array_elements(o.plan) WITH ORDINALITY p(step, i)),"
    " 'events', (SELECT json_agg(json_build_object('seq', e.seq + x.i - 1,"
    "   'at', to_timestamp((x.e ->> 'at')::bigint / 1000.0), 'node', x.e ->> 'node',"
    "   'actor', x.e ->> 'actor', 'kind', x.e ->> 'kind', 'from', x.e ->> 'from',"
    "   'to', x.e ->> 'to', 'step', json_build_object('index', (x.e ->> 'step')::int,"
    "   'name', o.plan -> ((x.e ->> 'step')::int) ->> 'name'),"
    "   'attempt', (x.e ->> 'attempt')::int, 'payload', coalesce(x.e -> 'payload', '{}'))"
    "   ORDER BY e.seq, x.i) FROM events e, json_array_elements(e.entries)"
    "   WITH ORDINALITY x(e, i) WHERE e.order_id = o.id)"
    ")::text FROM orders o JOIN services s ON s.code = o.service"
    " WHERE o.id = $1::uuid OR o.number = $2";

/* What a handler needs (FETCH): unmasked, for the department only. */
static const char fetch_sql[] =
    "SELECT json_build_object("
    " 'id', o.id, 'number', o.number, 'service', o.service, 'state', o.state, 'step', o.step,"
    " 'origin', o.origin, 'locality', o.locality, 'channel', o.channel,"
    " 'priority', CASE o.priority WHEN 1 THEN 'urgent' ELSE 'normal' END,"
    " 'created_at', o.created_at, 'description', o.descr, 'fields', o.fields,"
    " 'attachments', o.attachments, 'plan', o.plan, 'attempt', o.attempt,"
    " 'citizen', (SELECT json_build_object('name', c.name, 'id_type', c.id_type,"
    "   'id_number', c.id_number, 'phone', c.phone) FROM citizens c WHERE c.order_id = o.id)"
    ")::text FROM orders o WHERE o.id = $1::uuid";

static void on_order_doc(void *arg, int ok, const bk_rows_t *rows, const char *err)
{
    pending_t *p = arg;
    bk_core_t *c = p->core;
    if (!ok) {
        pls_warn("query failed: %s", err ? err : "?");
        bk_core_reply_now(c, p->ident, p->ident_len, p->corr, PLS_UNAVAILABLE,
                          "store unavailable: retry", NULL);
    } else if (!rows || bk_rows_count(rows) == 0) {
        char reason[128];
        snprintf(reason, sizeof(reason), "no order %s at this node", p->ref);
        bk_core_reply_now(c, p->ident, p->ident_len, p->corr, PLS_NOT_FOUND, reason, NULL);
    } else {
        bk_core_reply_now(c, p->ident, p->ident_len, p->corr, PLS_OK, "ok",
                          bk_rows_get(rows, 0, 0));
    }
    pending_free(p);
}

static void query_order(bk_core_t *c, pending_t *p, const char *ref, const char *sql)
{
    pls_uuid_t id;
    int is_id = pls_uuid_parse(ref, &id) == 0;
    snprintf(p->ref, sizeof(p->ref), "%s", ref);
    const char *params[2] = {is_id ? ref : NULL, ref};
    int n = sql == fetch_sql ? 1 : 2;
    if (sql == fetch_sql && !is_id) {
        bk_core_reply_now(c, p->ident, p->ident_len, p->corr, PLS_BAD_REQUEST,
                          "order: fetch takes an order id", NULL);
        pending_free(p);
        return;
    }
    if (bk_store_query(c->store, sql, n, params, on_order_doc, p) != 0) {
        bk_core_reply_now(c, p->ident, p->ident_len, p->corr, PLS_UNAVAILABLE,
                          "store unavailable: retry", NULL);
        pending_free(p);
    }
}

/* ------------------------------------------------------------- list */

static void on_list(void *arg, int ok, const bk_rows_t *rows, const char *err)
{
    pending_t *p = arg;
    if (!ok) {
        pls_warn("list failed: %s", err ? err : "?");
        bk_core_reply_now(p->core, p->ident, p->ident_len, p->corr, PLS_UNAVAILABLE,
                          "store unavailable: retry", NULL);
    } else {
        const char *doc = rows && bk_rows_count(rows) ? bk_rows_get(rows, 0, 0) : NULL;
        bk_core_reply_now(p->core, p->ident, p->ident_len, p->corr, PLS_OK, "ok",
                          doc ? doc : "{\"orders\":[]}");
    }
    pending_free(p);
}

static void query_list(bk_core_t *c, pending_t *p, const char *actor, const Pls__ListFilter *f)
{
    pls_buf_t sql;
    pls_buf_init(&sql);
    const char *params[14];
    char now[40];
    pls_format_iso_ms(pls_rule_ms(), now, sizeof(now));
    params[0] = now; /* $1: the rule clock's now */
    int n = 1;
    pls_buf_adds(&sql,
                 "SELECT json_build_object('orders', coalesce(json_agg(json_build_object("
                 "'id', o.id, 'number', o.number, 'service', o.service, 'state', o.state, "
                 "'node', o.owner, 'origin', o.origin, 'locality', o.locality, 'dept', o.dept, "
                 "'scope', o.scope, 'created_at', o.created_at, 'due_at', o.due_at, "
                 "'overdue', coalesce(o.state IN ('queued', 'assigned', 'in_progress', "
                 "'returned', 'failed') AND (o.due_at < $1::timestamptz OR o.whole_due < "
                 "$1::timestamptz), false)) "
                 "ORDER BY o.created_at DESC), '[]'))::text FROM (SELECT * FROM orders o "
                 "WHERE true");
    int audited = 0;
    if (f) {
#define FILTER(field, cond)                                                                        \
    if (f->field && *f->field) {                                                                   \
        params[n++] = f->field;                                                                    \
        pls_buf_printf(&sql, cond, n);                                                             \
    }
        FILTER(state, " AND o.state = $%d")
        FILTER(service, " AND o.service = $%d")
        FILTER(dept, " AND o.dept = $%d")
        if (f->node && *f->node) {
            params[n++] = f->node;
            params[n++] = f->node;
            pls_buf_printf(&sql,
                           " AND (o.owner = $%d OR o.origin = $%d OR o.locality = $%d OR "
                           "starts_with(o.locality, $%d || '.'))",
                           n - 1, n - 1, n - 1, n);
        }
        if (f->date && *f->date) {
            params[n++] = f->date;
            pls_buf_printf(&sql,
                           " AND o.created_at >= ($%d::date::timestamp AT TIME ZONE "
                           "'Asia/Shanghai') AND o.created_at < (($%d::date + 1)::timestamp AT "
                           "TIME ZONE 'Asia/Shanghai')",
                           n, n);
        }
        FILTER(number, " AND o.number = $%d")
        FILTER(key, " AND o.idem_key = $%d")
        FILTER(phone, " AND o.id IN (SELECT order_id FROM citizens WHERE phone = $%d)")
        FILTER(id_number, " AND o.id IN (SELECT order_id FROM citizens WHERE id_number = $%d)")
#undef FILTER
        if (f->overdue)
            pls_buf_adds(&sql, " AND o.state IN ('queued', 'assigned', 'in_progress', "
                               "'returned', 'failed') AND (o.due_at < $1::timestamptz OR "
                               "o.whole_due < $1::timestamptz)");
        audited = (f->phone && *f->phone) || (f->id_number && *f->id_number);
    }
    unsigned limit = f && f->limit ? f->limit : 100;
    pls_buf_printf(&sql, " ORDER BY o.created_at DESC LIMIT %u) o", limit);
    if (audited) {
        /* looking an order up by a citizen's phone or ID number is audited:
         * who, when, and the masked value */
        char masked[160];
        pls_mask(f->phone && *f->phone ? f->phone : f->id_number, masked, sizeof(masked));
        pls_buf_t *x = &c->cur->extra;
        const char *v[] = {actor && *actor ? actor : "unknown",
                           f->phone && *f->phone ? "list by phone" : "list by id number", masked};
        bk_sql_add(x, "INSERT INTO audit (at, actor, action, detail) VALUES (now(), $1, $2, $3)", 3,
                   v);
        pls_info("audited lookup by %s for %s", f->phone && *f->phone ? "phone" : "id number",
                 actor && *actor ? actor : "unknown");
    }
    if (bk_store_query(c->store, sql.data, n, params, on_list, p) != 0) {
        bk_core_reply_now(c, p->ident, p->ident_len, p->corr, PLS_UNAVAILABLE,
                          "store unavailable: retry", NULL);
        pending_free(p);
    }
    pls_buf_cleanup(&sql);
}

/* ------------------------------------------------------------- status */

enum { Q_QUEUED, Q_ASSIGNED, Q_IN_PROGRESS, Q_WAITING, Q_RETURNED, Q_FAILED, Q_N };
enum { A_YELLOW, A_RED, A_N };

typedef struct qcount {
    long n[Q_N];
    long alarm[A_N];
    long completed_today;
} qcount_t;

/* A p99 of the last minute's commits from which status warns that the store
 * is slow (OPERATIONS §3): every ack and assignment waits for a commit. */
#define BK_SLOW_COMMIT_MS 1000

/* Microseconds as milliseconds with two decimals, for status documents. */
static double ms_of(int64_t us)
{
    return (double)(us / 10) / 100.0;
}

static json_t *status_from_memory(bk_core_t *c)
{
    json_t *doc = json_object();
    json_object_set_new(doc, "node", json_string(c->node));
    /* per (dept, scope): counts of the open orders in memory */
    bk_index_t *qs = &c->disp.queues;
    size_t nq = qs->n;
    bk_queue_t **ql = pls_xcalloc(nq ? nq : 1, sizeof(*ql));
    qcount_t *cnt = pls_xcalloc(nq ? nq : 1, sizeof(*cnt));
    size_t k = 0;
    void *e;
    for (size_t i = 0; (e = bk_index_next(qs, &i)) && k < nq;) {
        ql[k] = e;
        ql[k]->status_idx = (uint32_t)k;
        k++;
    }
    for (size_t i = 0; (e = bk_index_next(&c->orders.by_id, &i));) {
        bk_order_t *o = e;
        bk_queue_t *q = bk_dispatch_queue(&c->disp, o->dept, o->scope, 0);
        if (!q)
            continue;
        size_t qi = q->status_idx;
        if (qi >= k || ql[qi] != q)
            continue;
        int col = o->state == BK_QUEUED            ? Q_QUEUED
                  : o->state == BK_ASSIGNED        ? Q_ASSIGNED
                  : o->state == BK_IN_PROGRESS     ? Q_IN_PROGRESS
                  : o->state == BK_WAITING_CITIZEN ? Q_WAITING
                  : o->state == BK_RETURNED        ? Q_RETURNED
                  : o->state == BK_FAILED          ? Q_FAILED
                                                   : -1;
        if (col >= 0)
            cnt[qi].n[col]++;
        if (o->alarms & (BK_AL_RED | BK_AL_W_RED))
            cnt[qi].alarm[A_RED]++;
        else if (o->alarms & (BK_AL_YELLOW | BK_AL_W_YELLOW))
            cnt[qi].alarm[A_YELLOW]++;
    }
    json_t *depts = json_array();
    int64_t now = pls_mono_ms();
    for (size_t i = 0; i < k; i++) {
        bk_queue_t *q = ql[i];
        int a = 0, b = 0;
        for (uint32_t w = 0; w < q->n_workers; w++) {
            if (now - q->workers[w]->last_seen_ms > c->cfg.lease_ms)
                continue;
            if (q->workers[w]->role)
                b++;
            else
                a++;
        }
        long open = 0;
        for (int j = 0; j < Q_N; j++)
            open += cnt[i].n[j];
        if (!q->seen && !open && !q->n_workers)
            continue;
        json_t *d = json_object();
        json_object_set_new(d, "dept", json_string(c->cat.depts[q->dept]));
        json_object_set_new(d, "scope", json_string(q->scope));
        json_object_set_new(d, "queued", json_integer(cnt[i].n[Q_QUEUED]));
        json_object_set_new(d, "assigned", json_integer(cnt[i].n[Q_ASSIGNED]));
        json_object_set_new(d, "in_progress", json_integer(cnt[i].n[Q_IN_PROGRESS]));
        json_object_set_new(d, "waiting", json_integer(cnt[i].n[Q_WAITING]));
        json_object_set_new(d, "returned", json_integer(cnt[i].n[Q_RETURNED]));
        json_object_set_new(d, "failed", json_integer(cnt[i].n[Q_FAILED]));
        json_object_set_new(d, "yellow", json_integer(cnt[i].alarm[A_YELLOW]));
        json_object_set_new(d, "red", json_integer(cnt[i].alarm[A_RED]));
        json_object_set_new(d, "supervised", json_integer(0));
        json_object_set_new(d, "completed_today", json_integer(0));
        json_object_set_new(d, "workers_a", json_integer(a));
        json_object_set_new(d, "workers_b", json_integer(b));
        json_object_set_new(d, "no_live_worker", json_boolean(a + b == 0));
        json_object_set_new(d, "away", json_boolean(q->away));
        json_array_append_new(depts, d);
    }
    free(ql);
    free(cnt);
    json_object_set_new(doc, "departments", depts);
    json_t *workers = json_array();
    for (size_t i = 0; (e = bk_index_next(&c->disp.workers, &i));) {
        bk_worker_t *w = e;
        json_t *jw = json_object();
        json_object_set_new(jw, "name", json_string(w->name));
        json_t *wd = json_array();
        for (int j = 0; j < w->n_queues; j++)
            json_array_append_new(wd, json_string(c->cat.depts[w->queues[j]->dept]));
        json_object_set_new(jw, "depts", wd);
        json_object_set_new(jw, "scope", json_string(w->scope));
        json_object_set_new(jw, "role", json_string(w->role ? "B" : "A"));
        json_object_set_new(jw, "custody", json_string(w->custody ? "staff" : "auto"));
        json_object_set_new(jw, "alive", json_boolean(now - w->last_seen_ms <= c->cfg.lease_ms));
        json_object_set_new(jw, "held", json_integer(w->n_held));
        json_object_set_new(jw, "credit", json_integer(w->credit));
        json_object_set_new(jw, "draining", json_boolean(w->drain));
        json_array_append_new(workers, jw);
    }
    json_object_set_new(doc, "workers", workers);
    json_object_set_new(doc, "links", bk_fed_links_json(c));
    /* calendar: a year without holiday data counts Monday to Friday */
    json_t *warnings = json_array();
    int year = pls_shanghai_yyyymmdd(pls_rule_ms()) / 10000, missing[2];
    size_t nm = pls_calendar_missing_years(c->cal, year, year + 1, missing, 2);
    for (size_t i = 0; i < nm; i++) {
        char w[200];
        snprintf(w, sizeof(w),
                 "no holiday calendar for %d: working days count Monday to Friday (add the "
                 "State Council notice to the calendar file)",
                 missing[i]);
        json_array_append_new(warnings, json_string(w));
    }
    bk_fed_warnings(c, warnings);
    /* new orders PostgreSQL refuses (bk_core.c, try_suspects); the reason is
     * in the log and the desk's answer, not here: it is the database's text */
    uint32_t nr = c->n_refusals < BK_REFUSALS_MAX ? c->n_refusals : BK_REFUSALS_MAX, live = 0;
    int64_t mono = pls_mono_ms();
    for (uint32_t i = 0; i < nr; i++)
        live += c->refusals[i].until_ms > mono;
    if (live) {
        char w[200];
        snprintf(w, sizeof(w),
                 "the database refuses %u submitted order%s: %s answered 422 (see the log for "
                 "why)",
                 live, live == 1 ? "" : "s", live == 1 ? "its desk is" : "their desks are");
        json_array_append_new(warnings, json_string(w));
    }
    /* what a batch takes from being handed to libpq to its answer being read:
     * the commit with its flush to disk, behind the batch in flight if there
     * is one, and this loop's delay in reading the answer; the last 50-60 s */
    pls_hist_summary_t cs = pls_hist_summary(&c->commit_hist, pls_mono_ms());
    if (cs.n && cs.p99_us >= BK_SLOW_COMMIT_MS * 1000) {
        char w[240];
        snprintf(w, sizeof(w),
                 "the store is slow: %llu commit%s in the last minute took p50 %.0f ms, p99 "
                 "%.0f ms, up to %.0f ms; every answer and assignment waits for them",
                 (unsigned long long)cs.n, cs.n == 1 ? "" : "s", ms_of(cs.p50_us), ms_of(cs.p99_us),
                 ms_of(cs.max_us));
        json_array_append_new(warnings, json_string(w));
    }
    json_object_set_new(doc, "warnings", warnings);
    int64_t off;
    double speed;
    pls_rule_clock_get(&off, &speed);
    char rule_now[40];
    pls_format_iso_ms(pls_rule_ms(), rule_now, sizeof(rule_now));
    json_t *clk = json_object();
    json_object_set_new(clk, "now", json_string(rule_now));
    json_object_set_new(clk, "offset_ms", json_integer(off));
    json_object_set_new(clk, "speed", json_real(speed));
    json_object_set_new(doc, "rule_clock", clk);
    json_t *mem = json_object();
    json_object_set_new(mem, "open_orders", json_integer((json_int_t)bk_orders_size(&c->orders)));
    json_object_set_new(mem, "submits", json_integer((json_int_t)c->stats.submits));
    json_object_set_new(mem, "assigns", json_integer((json_int_t)c->stats.assigns));
    json_object_set_new(mem, "completions", json_integer((json_int_t)c->stats.completions));
    json_object_set_new(mem, "batches", json_integer((json_int_t)c->stats.batches));
    json_object_set_new(mem, "rows_written", json_integer((json_int_t)c->stats.rows_written));
    json_object_set_new(mem, "uptime_s",
                        json_integer((json_int_t)((pls_mono_ms() - c->started_ms) / 1000)));
    json_object_set_new(mem, "commits_last_min", json_integer((json_int_t)cs.n));
    json_object_set_new(mem, "commit_ms_p50", cs.n ? json_real(ms_of(cs.p50_us)) : json_null());
    json_object_set_new(mem, "commit_ms_p99", cs.n ? json_real(ms_of(cs.p99_us)) : json_null());
    json_object_set_new(mem, "commit_ms_max", cs.n ? json_real(ms_of(cs.max_us)) : json_null());
    json_object_set_new(doc, "broker", mem);
    return doc;
}

/* One row per (kind, key, value): 'orders'/'owned' state counts and
 * 'today' completions per (dept, scope), all from the counts the orders
 * triggers keep (sql/005_done_counts.sql). */
static const char status_sql[] =
    "SELECT 'orders', state, NULL, sum(n)::bigint FROM state_counts GROUP BY state HAVING sum(n) "
    "<> 0 UNION ALL SELECT 'owned', state, NULL, n FROM state_counts WHERE owned AND n <> 0 "
    "UNION ALL SELECT 'today', dept, scope, n FROM done_counts WHERE day = "
    "($1::timestamptz AT TIME ZONE 'Asia/Shanghai')::date AND n <> 0 "
    "UNION ALL SELECT 'supervised', s.dept, s.scope, count(DISTINCT s.order_id) FROM "
    "supervisions s JOIN orders o ON o.id = s.order_id WHERE o.state IN ('received', "
    "'forwarded', 'queued', 'assigned', 'in_progress', 'waiting_citizen', 'returned', 'failed') "
    "GROUP BY s.dept, s.scope";

static void on_status(void *arg, int ok, const bk_rows_t *rows, const char *err)
{
    pending_t *p = arg;
    bk_core_t *c = p->core;
    if (!ok) {
        pls_warn("status failed: %s", err ? err : "?");
        bk_core_reply_now(c, p->ident, p->ident_len, p->corr, PLS_UNAVAILABLE,
                          "store unavailable: retry", NULL);
        pending_free(p);
        return;
    }
    json_t *orders = json_object(), *owned = json_object();
    json_t *depts = json_object_get(p->doc, "departments");
    for (int i = 0; rows && i < bk_rows_count(rows); i++) {
        const char *kind = bk_rows_get(rows, i, 0), *k = bk_rows_get(rows, i, 1);
        json_int_t n = strtoll(bk_rows_get(rows, i, 3), NULL, 10);
        if (!k)
            continue;
        if (strcmp(kind, "orders") == 0) {
            json_object_set_new(orders, k, json_integer(n));
        } else if (strcmp(kind, "owned") == 0) {
            json_object_set_new(owned, k, json_integer(n));
        } else {
            const char *scope = bk_rows_get(rows, i, 2);
            const char *field = strcmp(kind, "today") == 0 ? "completed_today" : "supervised";
            size_t j;
            json_t *d, *hit = NULL;
            if (!scope)
                continue;
            json_array_foreach(depts, j, d)
            {
                if (strcmp(json_string_value(json_object_get(d, "dept")), k) == 0 &&
                    strcmp(json_string_value(json_object_get(d, "scope")), scope) == 0)
                    hit = d;
            }
            if (!hit) {
                /* e.g. supervision of a child's department: a line of its own */
                hit = json_object();
                json_object_set_new(hit, "dept", json_string(k));
                json_object_set_new(hit, "scope", json_string(scope));
                const char *zero[] = {"queued",     "assigned",        "in_progress", "waiting",
                                      "returned",   "failed",          "yellow",      "red",
                                      "supervised", "completed_today", "workers_a",   "workers_b"};
                for (size_t z = 0; z < PLS_ARRAY_LEN(zero); z++)
                    json_object_set_new(hit, zero[z], json_integer(0));
                json_object_set_new(hit, "no_live_worker", json_boolean(0));
                json_object_set_new(hit, "away", json_boolean(0));
                json_object_set_new(hit, "elsewhere", json_boolean(1));
                json_array_append_new(depts, hit);
            }
            json_object_set_new(hit, field, json_integer(n));
        }
    }
    json_object_set_new(p->doc, "orders", orders);
    json_object_set_new(p->doc, "owned", owned);
    if (p->kind == KIND_SUMMARY) {
        /* to the parent, for its status --tree */
        char *text = json_dumps(p->doc, JSON_COMPACT);
        Pls__Envelope env;
        Pls__StatusSummary sm;
        pls__envelope__init(&env);
        pls__status_summary__init(&sm);
        sm.node = c->node;
        sm.json = text;
        env.version = PLS_PROTO_VERSION;
        env.body_case = PLS__ENVELOPE__BODY_SUMMARY;
        env.summary = &sm;
        uint8_t *buf;
        size_t len;
        pls_proto_pack(&env, &buf, &len);
        c->send(c->send_arg, NULL, 0, buf, len);
        free(buf);
        free(text);
        pending_free(p);
        return;
    }
    if (p->tree)
        json_object_set_new(p->doc, "nodes", bk_fed_tree_json(c));
    char *text = json_dumps(p->doc, JSON_COMPACT);
    bk_core_reply_now(c, p->ident, p->ident_len, p->corr, PLS_OK, "ok", text);
    free(text);
    pending_free(p);
}

static int status_query(bk_core_t *c, pending_t *p)
{
    char now[40];
    pls_format_iso_ms(pls_rule_ms(), now, sizeof(now)); /* "today" on the rule clock */
    const char *params[1] = {now};
    return bk_store_query(c->store, status_sql, 1, params, on_status, p);
}

void bk_query_send_summary(bk_core_t *c)
{
    static const uint8_t none[1] = {0};
    pending_t *p = pending_new(c, none, 1, 0, KIND_SUMMARY);
    p->doc = status_from_memory(c);
    if (status_query(c, p) != 0)
        pending_free(p);
}

void bk_query_handle(bk_core_t *c, const void *ident, size_t ident_len, uint64_t corr,
                     const char *actor, const Pls__QueryRequest *q)
{
    pending_t *p = pending_new(c, ident, ident_len, corr, (int)q->kind);
    switch (q->kind) {
    case PLS__QUERY_KIND__QUERY_SHOW:
        query_order(c, p, q->order, show_sql);
        break;
    case PLS__QUERY_KIND__QUERY_FETCH:
        query_order(c, p, q->order, fetch_sql);
        break;
    case PLS__QUERY_KIND__QUERY_LIST:
        query_list(c, p, actor, q->filter);
        break;
    case PLS__QUERY_KIND__QUERY_STATUS:
        p->tree = q->tree;
        p->doc = status_from_memory(c);
        if (status_query(c, p) != 0) {
            bk_core_reply_now(c, ident, ident_len, corr, PLS_UNAVAILABLE,
                              "store unavailable: retry", NULL);
            pending_free(p);
        }
        break;
    default:
        bk_core_reply_now(c, ident, ident_len, corr, PLS_BAD_REQUEST, "unknown query", NULL);
        pending_free(p);
    }
}
