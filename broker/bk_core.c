/*
 * bk_core — see bk_core.h for the persist-then-emit rule this file follows.
 *
 * Layout: batch plumbing (events, replies, flush, commit), order movements
 * (route, assign, release, leave), then one handler per message kind, then
 * the periodic tick and the boot loader.
 */
#include "bk_core.h"
#include "bk_core_int.h"
#include "bk_rules.h"

#include "pls_log.h"
#include "pls_time.h"

#include <errno.h>
#include <jansson.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REASON_MAX 400

/* The holiday calendar compiled in (deploy/calendar/cn-holidays.csv). */
extern const char *const bk_calendar_builtin;
extern const size_t bk_calendar_builtin_len;

/* ---------------------------------------------------------------- helpers */

const char *bk__dept_name(const bk_core_t *c, int dept)
{
    return dept >= 0 && dept < c->cat.n_depts ? c->cat.depts[dept] : "";
}

static const bk_step_t *cur_step(const bk_core_t *c, const bk_order_t *o)
{
    return &c->cat.services[o->service].steps[o->step];
}

static void fmt_id(const bk_order_t *o, char out[PLS_UUID_STR])
{
    pls_uuid_format(&o->id, out);
}

int bk_authorize(const bk_core_t *c, const char *actor, int body_case, const bk_order_t *o)
{
    /* Until the security work (DESIGN §12) lands, every identity may do
     * everything; main() refuses to start without --insecure. */
    PLS_UNUSED(actor);
    PLS_UNUSED(body_case);
    PLS_UNUSED(o);
    return c->cfg.insecure ? 0 : -EPERM;
}

/* ------------------------------------------------------------ replies */

void bk_core_reply_now(bk_core_t *c, const void *ident, size_t ident_len, uint64_t corr,
                       uint32_t status, const char *reason, const char *json)
{
    uint8_t *msg;
    size_t len;
    pls_proto_pack_reply(corr, status, reason, NULL, NULL, 0, json, &msg, &len);
    if (c->send(c->send_arg, ident, ident_len, msg, len) != 0)
        pls_debug("could not send reply (peer gone)");
    free(msg);
    if (status >= 400 && status < 500)
        c->stats.rejected++;
}

/* A reply that depends on the current batch: sent after its COMMIT. */
void bk__reply_later(bk_core_t *c, const void *ident, size_t ident_len, uint64_t corr,
                     uint32_t status, const char *reason, const bk_order_t *o, int dup, int kind,
                     int new_idx)
{
    uint8_t *msg;
    size_t len;
    char id[PLS_UUID_STR];
    if (o)
        fmt_id(o, id);
    pls_proto_pack_reply(corr, status, reason, o ? id : NULL, o ? o->number : NULL, dup, NULL, &msg,
                         &len);
    bk_batch_out(c->cur, kind, ident, ident_len, msg, len, corr, new_idx);
}

void bk__reply_ok(bk_core_t *c, const void *ident, size_t ident_len, uint64_t corr,
                  const char *reason, const bk_order_t *o)
{
    int new_idx = -1;
    if (o && (o->flags & BK_OF_NEW) && o->batch_gen == c->cur->gen)
        new_idx = c->cur->rows[o->batch_row].new_idx;
    bk__reply_later(c, ident, ident_len, corr, PLS_OK, reason, o, 0, BK_OUT_REPLY, new_idx);
}

static void reject(bk_core_t *c, const void *ident, size_t ident_len, uint64_t corr,
                   uint32_t status, const char *fmt, ...) PLS_PRINTF(6, 7);
static void reject(bk_core_t *c, const void *ident, size_t ident_len, uint64_t corr,
                   uint32_t status, const char *fmt, ...)
{
    char reason[REASON_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    bk_core_reply_now(c, ident, ident_len, corr, status, reason, NULL);
}

/* ------------------------------------------------------------- events */

/* Append one entry to o's event row: kind, from -> o->state (already set),
 * the actor, and an optional payload object (JSON text "{...}"). */
void bk__event(bk_core_t *c, bk_order_t *o, const char *kind, int from, const char *actor,
               const char *payload)
{
    bk_row_t *r = bk_batch_row(c->cur, o);
    int64_t now = pls_wall_ms();
    pls_buf_t *b = &r->entries;
    if (r->n == 0)
        r->at_ms = now;
    else
        pls_buf_addc(b, ',');
    pls_buf_adds(b, "{\"kind\":\"");
    pls_buf_adds(b, kind);
    pls_buf_adds(b, "\",\"at\":");
    pls_buf_add_i64(b, now);
    pls_buf_adds(b, ",\"node\":\"");
    pls_buf_adds(b, c->node);
    pls_buf_adds(b, "\",\"actor\":");
    pls_buf_add_json_str(b, actor && *actor ? actor : "broker");
    if (from >= 0) {
        pls_buf_adds(b, ",\"from\":\"");
        pls_buf_adds(b, bk_state_name(from));
        pls_buf_addc(b, '"');
    }
    pls_buf_adds(b, ",\"to\":\"");
    pls_buf_adds(b, bk_state_name(o->state));
    pls_buf_adds(b, "\",\"step\":");
    pls_buf_add_u64(b, o->step);
    pls_buf_adds(b, ",\"attempt\":");
    pls_buf_add_u64(b, o->attempt);
    if (payload && *payload) {
        pls_buf_adds(b, ",\"payload\":");
        pls_buf_adds(b, payload);
    }
    pls_buf_addc(b, '}');
    r->n++;
    o->next_seq++;
    bk_row_snap(r, o, bk__dept_name(c, o->dept), c->node);
}

/* Payload builder: P_BEGIN, then P_STR/P_INT pairs, then P_END -> c->scratch. */
/* A member separator unless the object or array has just begun. */
static void sep(pls_buf_t *b)
{
    if (b->len && b->data[b->len - 1] != '{' && b->data[b->len - 1] != '[')
        pls_buf_addc(b, ',');
}

pls_buf_t *bk__payload_begin(bk_core_t *c)
{
    pls_buf_reset(&c->scratch);
    pls_buf_addc(&c->scratch, '{');
    return &c->scratch;
}

void bk__p_str(pls_buf_t *b, const char *k, const char *v)
{
    if (!v || !*v)
        return;
    sep(b);
    pls_buf_add_json_str(b, k);
    pls_buf_addc(b, ':');
    pls_buf_add_json_str(b, v);
}

void bk__p_int(pls_buf_t *b, const char *k, int64_t v)
{
    sep(b);
    pls_buf_add_json_str(b, k);
    pls_buf_addc(b, ':');
    pls_buf_add_i64(b, v);
}

void bk__p_raw(pls_buf_t *b, const char *k, const char *json)
{
    sep(b);
    pls_buf_add_json_str(b, k);
    pls_buf_addc(b, ':');
    pls_buf_adds(b, json);
}

void bk__p_items(pls_buf_t *b, const char *k, char **items, size_t n)
{
    if (!n)
        return;
    sep(b);
    pls_buf_add_json_str(b, k);
    pls_buf_adds(b, ":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            pls_buf_addc(b, ',');
        pls_buf_add_json_str(b, items[i]);
    }
    pls_buf_addc(b, ']');
}

const char *bk__payload_end(pls_buf_t *b)
{
    pls_buf_addc(b, '}');
    return b->data;
}

static void token_hex(uint64_t t, char out[17])
{
    snprintf(out, 17, "%016" PRIx64, t);
}

/* ---------------------------------------------------------- movements */

static void push_assign(bk_core_t *c, bk_order_t *o, bk_worker_t *w);

void bk__set_state(bk_core_t *c, bk_order_t *o, int st)
{
    bk_orders_set_state(&c->orders, o, st);
}

/* Give up the lease the holder has on o (if any); its credit returns. */
void bk__release(bk_core_t *c, bk_order_t *o)
{
    bk_worker_t *w = o->worker;
    if (!w)
        return;
    bk_worker_release(w, o);
    w->credit++;
    for (int i = 0; i < w->n_queues; i++)
        bk_dispatch_mark(&c->disp, w->queues[i]);
}

void bk__unqueue(bk_core_t *c, bk_order_t *o)
{
    if (o->heap_idx == BK_NO_HEAP)
        return;
    bk_queue_t *q = bk_dispatch_queue(&c->disp, o->dept, o->scope, 0);
    if (q)
        bk_queue_remove(q, o);
}

/* Tell the worker holding o to drop it. */
void bk__push_revoke(bk_core_t *c, bk_order_t *o, const char *reason)
{
    bk_worker_t *w = o->worker;
    if (!w)
        return;
    Pls__Envelope env;
    Pls__Revoke rv;
    pls__envelope__init(&env);
    pls__revoke__init(&rv);
    char id[PLS_UUID_STR];
    fmt_id(o, id);
    rv.order = id;
    rv.attempt = o->attempt;
    rv.reason = (char *)(uintptr_t)reason;
    env.version = PLS_PROTO_VERSION;
    env.body_case = PLS__ENVELOPE__BODY_REVOKE;
    env.revoke = &rv;
    uint8_t *msg;
    size_t len;
    pls_proto_pack(&env, &msg, &len);
    bk_batch_out(c->cur, BK_OUT_PUSH, w->ident, w->ident_len, msg, len, 0, -1);
}

/* The order leaves memory (completed, terminated, withdrawn). */
void bk__leave(bk_core_t *c, bk_order_t *o)
{
    /* a finished order belongs to its first desk (首问): the intake node */
    if (o->intake && strcmp(o->intake, c->node) != 0 && o->batch_gen == c->cur->gen)
        c->cur->rows[o->batch_row].owner = o->intake;
    bk__unqueue(c, o);
    bk__release(c, o);
    bk_recent_add(&c->recent, o);
    bk_orders_remove(&c->orders, o);
}

/* Whether a worker ever registered for (dept, scope). */
static int scope_seen(bk_core_t *c, int dept, const char *scope)
{
    bk_queue_t *q = bk_dispatch_queue(&c->disp, dept, bk_dispatch_intern(&c->disp, scope), 0);
    return q && q->seen;
}

/* Put o in the queue of step `step` (department dept) at `scope` (NULL: where
 * the catalog says), falling back towards this node while no worker ever
 * served the scope (a village without workers of the department is served by
 * its town, DESIGN §5). A scope that belongs to another command center hands
 * the order over: `forwarded` now, the Forward once that is committed. */
void bk__route(bk_core_t *c, bk_order_t *o, int step, int dept, const char *where,
               const char *actor, const char *kind, const char *note)
{
    const bk_step_t *s = &c->cat.services[o->service].steps[step];
    char scope[PLS_NODE_MAX];
    if (where)
        snprintf(scope, sizeof(scope), "%s", where);
    else
        bk_catalog_scope(s, o->locality, o->site, c->node, c->cfg.has_parent, scope, sizeof(scope));
    const char *dest = bk_fed_broker_of(c, scope);
    int local = strcmp(dest, c->node) == 0;
    while (local && pls_node_depth(scope) > pls_node_depth(c->node) &&
           pls_node_within(scope, c->node) && !scope_seen(c, dept, scope)) {
        char up[PLS_NODE_MAX];
        pls_node_prefix(scope, pls_node_depth(scope) - 1, up, sizeof(up));
        snprintf(scope, sizeof(scope), "%s", up);
    }
    int from = o->state;
    if (step != o->step)
        o->attempt = 0; /* attempts count per step */
    o->step = (uint8_t)step;
    o->dept = (uint8_t)dept;
    o->scope = bk_dispatch_intern(&c->disp, scope);
    o->worker = NULL;
    o->flags &= (uint8_t)~BK_OF_BACKOFF;
    pls_buf_t *p = bk__payload_begin(c);
    bk__p_str(p, "dept", bk__dept_name(c, dept));
    bk__p_str(p, "scope", o->scope);
    bk__p_str(p, "note", note);
    if (!local) {
        bk__p_str(p, "to", dest);
        bk__set_state(c, o, BK_FORWARDED);
        bk__event(c, o, strcmp(kind, "queued") == 0 ? "forwarded" : kind, from, actor,
                  bk__payload_end(p));
        bk_fed_want_forward(c, &o->id);
        return;
    }
    bk__set_state(c, o, BK_QUEUED);
    bk_rules_queued(c, o);
    bk__event(c, o, kind, from, actor, bk__payload_end(p));
    bk_queue_t *q = bk_dispatch_queue(&c->disp, dept, o->scope, 1);
    bk_queue_push(q, o);
    bk_dispatch_mark(&c->disp, q);
}

void bk__hand_over_row(bk_core_t *c, bk_order_t *o, const char *owner)
{
    bk_row_t *r = bk_batch_row(c->cur, o);
    bk_row_snap(r, o, bk__dept_name(c, o->dept), owner);
    r->open = 0;
    bk_orders_remove(&c->orders, o);
}

/* The first step at or after `step` that is not skipped for this order. */
int bk__next_live_step(const bk_core_t *c, const bk_order_t *o, int step)
{
    const bk_service_t *svc = &c->cat.services[o->service];
    /* "received at the city": the intake desk (首问) is the city's */
    int intake_depth = pls_node_depth(o->origin);
    while (step < svc->n_steps && svc->steps[step].skip_when_intake_at_depth &&
           svc->steps[step].skip_when_intake_at_depth == intake_depth)
        step++;
    return step;
}

static void assign(bk_core_t *c, bk_queue_t *q, bk_worker_t *w)
{
    bk_order_t *o = bk_queue_pop(q);
    int from = o->state;
    o->attempt++;
    o->token = pls_fast_u64() | 1;
    o->custody = (uint8_t)w->custody;
    o->flags &= (uint8_t)~BK_OF_ORPHAN;
    bk__set_state(c, o, BK_ASSIGNED);
    bk_worker_hold(w, o);
    w->credit--;
    char tok[17];
    token_hex(o->token, tok);
    pls_buf_t *p = bk__payload_begin(c);
    bk__p_str(p, "worker", w->name);
    bk__p_str(p, "token", tok);
    bk__p_str(p, "dept", bk__dept_name(c, o->dept));
    bk__p_str(p, "scope", o->scope);
    bk__p_str(p, "custody", w->custody ? "staff" : "auto");
    bk__p_str(p, "role", w->role ? "B" : "A");
    bk__event(c, o, "assigned", from, "broker", bk__payload_end(p));
    push_assign(c, o, w);
    c->stats.assigns++;
}

static void push_assign(bk_core_t *c, bk_order_t *o, bk_worker_t *w)
{
    const bk_step_t *s = cur_step(c, o);
    Pls__Envelope env;
    Pls__Assign a;
    pls__envelope__init(&env);
    pls__assign__init(&a);
    char id[PLS_UUID_STR];
    fmt_id(o, id);
    char *outcomes[BK_MAX_OUTCOMES];
    for (int i = 0; i < s->n_outcomes; i++)
        outcomes[i] = (char *)(uintptr_t)s->outcomes[i].code;
    a.order = id;
    a.number = o->number;
    a.service = c->cat.services[o->service].code;
    a.step = o->step;
    a.step_name = (char *)(uintptr_t)s->name;
    a.dept = (char *)(uintptr_t)bk__dept_name(c, o->dept);
    a.scope = (char *)(uintptr_t)o->scope;
    a.attempt = o->attempt;
    a.token = o->token;
    a.priority = o->priority ? PLS__PRIORITY__PRIORITY_URGENT : PLS__PRIORITY__PRIORITY_NORMAL;
    a.locality = (char *)(uintptr_t)o->locality;
    a.n_outcomes = (size_t)s->n_outcomes;
    a.outcomes = outcomes;
    a.custody = w->custody ? PLS__CUSTODY__CUSTODY_STAFF : PLS__CUSTODY__CUSTODY_AUTO;
    env.version = PLS_PROTO_VERSION;
    env.body_case = PLS__ENVELOPE__BODY_ASSIGN;
    env.assign = &a;
    uint8_t *msg;
    size_t len;
    pls_proto_pack(&env, &msg, &len);
    int new_idx = (o->flags & BK_OF_NEW) ? c->cur->rows[o->batch_row].new_idx : -1;
    bk_batch_out(c->cur, BK_OUT_PUSH, w->ident, w->ident_len, msg, len, 0, new_idx);
}

static void dispatch_dirty(bk_core_t *c)
{
    int64_t now = pls_mono_ms();
    bk_queue_t *q = bk_dispatch_take_dirty(&c->disp);
    while (q) {
        bk_queue_t *next = q->next_dirty;
        bk_worker_t *w;
        while (q->n && (w = bk_dispatch_pick(q, now, c->cfg.lease_ms))) {
            bk_order_t *o = bk_queue_peek(q);
            if ((o->flags & BK_OF_NEW) && o->batch_gen != c->cur->gen)
                break; /* its intake is still being committed: after that */
            assign(c, q, w);
        }
        q = next;
    }
}

/* Apply a step outcome (from a worker or a person): advance the plan or end
 * the order. Returns 0, or PLS_BAD_REQUEST with reason for an unknown code. */
int bk__apply_outcome(bk_core_t *c, bk_order_t *o, const char *code, const char *note,
                      const char *actor, char *reason, size_t reasonsz)
{
    const bk_step_t *s = cur_step(c, o);
    const bk_outcome_t *out = bk_catalog_outcome(s, code);
    if (!out) {
        pls_buf_t list;
        pls_buf_init(&list);
        for (int i = 0; i < s->n_outcomes; i++)
            pls_buf_printf(&list, "%s%s", i ? ", " : "", s->outcomes[i].code);
        snprintf(reason, reasonsz, "unknown outcome %s for step %s of %s (expected %s)", code,
                 s->name, c->cat.services[o->service].code, list.data);
        pls_buf_cleanup(&list);
        return PLS_BAD_REQUEST;
    }
    bk__release(c, o);
    pls_buf_t *p = bk__payload_begin(c);
    bk__p_str(p, "outcome", out->code);
    bk__p_str(p, "note", note);
    int from = o->state;
    bk__event(c, o, "step_completed", from, actor, bk__payload_end(p));
    int next = out->next >= 0 ? bk__next_live_step(c, o, out->next) : -1;
    if (next >= 0 && next < c->cat.services[o->service].n_steps) {
        int dept = c->cat.services[o->service].steps[next].dept;
        bk__route(c, o, next, dept, NULL, actor, "queued", NULL);
        return 0;
    }
    from = o->state;
    if (out->ends == BK_END_TERMINATED) {
        bk__set_state(c, o, BK_TERMINATED);
        p = bk__payload_begin(c);
        bk__p_str(p, "outcome", out->code);
        bk__p_str(p, "note", note);
        bk__event(c, o, "terminated", from, actor, bk__payload_end(p));
    } else {
        bk__set_state(c, o, BK_COMPLETED);
        p = bk__payload_begin(c);
        bk__p_str(p, "outcome", out->code);
        if (strcmp(c->cat.services[o->service].code, "legal_aid") == 0 &&
            strcmp(out->code, "denied") == 0)
            bk__p_str(p, "objection",
                      "the applicant may object to the justice bureau within 5 "
                      "days (法律援助法: 异议)");
        bk__event(c, o, "completed", from, actor, bk__payload_end(p));
    }
    c->stats.completions++;
    bk__leave(c, o);
    return 0;
}

/* A failed attempt: retry with backoff, or `failed` after max attempts. */
static void timer_push(bk_core_t *c, int64_t when, const pls_uuid_t *id);

static void fail_attempt(bk_core_t *c, bk_order_t *o, const char *why, const char *actor)
{
    bk__release(c, o);
    int from = o->state;
    if (o->attempt >= c->cfg.max_attempts) {
        bk__set_state(c, o, BK_FAILED);
        pls_buf_t *p = bk__payload_begin(c);
        bk__p_str(p, "note", why);
        bk__p_int(p, "attempts", o->attempt);
        bk__event(c, o, "failed", from, actor, bk__payload_end(p));
        bk_rules_failed(c, o);
        return;
    }
    int64_t backoff = c->cfg.retry_base_ms << (o->attempt > 0 ? o->attempt - 1 : 0);
    if (backoff > 60000)
        backoff = 60000;
    bk__set_state(c, o, BK_QUEUED);
    o->flags |= BK_OF_BACKOFF;
    int64_t retry_at = pls_mono_ms() + backoff;
    pls_buf_t *p = bk__payload_begin(c);
    bk__p_str(p, "reason", "attempt failed");
    bk__p_str(p, "note", why);
    bk__p_int(p, "retry_in_ms", backoff);
    bk__p_str(p, "dept", bk__dept_name(c, o->dept));
    bk__p_str(p, "scope", o->scope);
    bk__event(c, o, "requeued", from, actor, bk__payload_end(p));
    timer_push(c, retry_at, &o->id);
}

/* Lease expired or the holder died: back to the queue (DESIGN §6). */
static void expire_lease(bk_core_t *c, bk_order_t *o, const char *why)
{
    char note[REASON_MAX];
    snprintf(note, sizeof(note), "%s (worker %s)", why, o->worker ? o->worker->name : "unknown");
    bk__release(c, o);
    o->flags &= (uint8_t)~BK_OF_ORPHAN;
    bk__route(c, o, o->step, o->dept, NULL, "broker", "lease_expired", note);
}

/* ---------------------------------------------------------- timers */

static void heap_swap(bk_heap_t *h, uint32_t a, uint32_t b)
{
    bk_timer_entry_t t = h->e[a];
    h->e[a] = h->e[b];
    h->e[b] = t;
}

void bk__heap_push(bk_heap_t *h, int64_t when, const pls_uuid_t *id)
{
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 64;
        h->e = pls_xrealloc(h->e, h->cap * sizeof(*h->e));
    }
    uint32_t i = h->n++;
    h->e[i].when_ms = when;
    h->e[i].id = *id;
    while (i > 0 && h->e[(i - 1) / 2].when_ms > h->e[i].when_ms) {
        heap_swap(h, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

void bk__heap_pop(bk_heap_t *h)
{
    h->e[0] = h->e[--h->n];
    uint32_t i = 0;
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && h->e[l].when_ms < h->e[m].when_ms)
            m = l;
        if (r < h->n && h->e[r].when_ms < h->e[m].when_ms)
            m = r;
        if (m == i)
            break;
        heap_swap(h, i, m);
        i = m;
    }
}

static void timer_push(bk_core_t *c, int64_t when, const pls_uuid_t *id)
{
    bk__heap_push(&c->retries, when, id);
}

/* ------------------------------------------------------- batch flow */

static void on_batch_rows(void *arg, const bk_rows_t *rows)
{
    bk_core_t *c = arg;
    if (bk_rows_fields(rows) == 2) {
        bk_fed_copy_rows(c, rows); /* the copies an Event updated */
        return;
    }
    /* RETURNING id of the orders really inserted */
    for (int i = 0; i < bk_rows_count(rows); i++) {
        pls_uuid_t id;
        const char *v = bk_rows_get(rows, i, 0);
        if (!v || pls_uuid_parse(v, &id) != 0)
            continue;
        bk_order_t *o = bk_orders_get(&c->orders, &id);
        if (o && (o->flags & BK_OF_NEW))
            o->flags &= (uint8_t)~BK_OF_NEW;
    }
}

typedef struct dup_lookup {
    bk_core_t *core;
    uint8_t ident[BK_IDENT_MAX];
    size_t ident_len;
    uint64_t corr;
    uint64_t hash;
} dup_lookup_t;

static void on_dup_lookup(void *arg, int ok, const bk_rows_t *rows, const char *err)
{
    dup_lookup_t *d = arg;
    bk_core_t *c = d->core;
    if (!ok || !rows || bk_rows_count(rows) != 1) {
        bk_core_reply_now(c, d->ident, d->ident_len, d->corr, PLS_UNAVAILABLE,
                          err ? "store unavailable: retry" : "retry", NULL);
    } else {
        const char *id = bk_rows_get(rows, 0, 0), *number = bk_rows_get(rows, 0, 1);
        uint64_t h = (uint64_t)strtoll(bk_rows_get(rows, 0, 2), NULL, 10);
        uint8_t *msg;
        size_t len;
        if (h == d->hash) {
            pls_proto_pack_reply(d->corr, PLS_OK, "duplicate: an order with this key exists", id,
                                 number, 1, NULL, &msg, &len);
        } else {
            char reason[REASON_MAX];
            snprintf(reason, sizeof(reason), "key already used for order %s with different content",
                     number);
            pls_proto_pack_reply(d->corr, PLS_CONFLICT, reason, NULL, NULL, 0, NULL, &msg, &len);
        }
        if (c->send(c->send_arg, d->ident, d->ident_len, msg, len) != 0)
            pls_debug("could not send reply (peer gone)");
        free(msg);
    }
    free(d);
}

/* The submit whose key already existed in the store: undo the order and
 * answer from what is stored (same content: the stored order; else 409). */
static void resolve_phantom(bk_core_t *c, bk_batch_t *b, bk_out_t *out)
{
    bk_new_t *n = &b->news[out->new_idx];
    dup_lookup_t *d = pls_xcalloc(1, sizeof(*d));
    d->core = c;
    memcpy(d->ident, out->ident, out->ident_len < BK_IDENT_MAX ? out->ident_len : BK_IDENT_MAX);
    d->ident_len = out->ident_len;
    d->corr = out->corr;
    bk_order_t *o = bk_orders_get(&c->orders, &n->id);
    d->hash = o ? o->content_hash : 0;
    const char *params[2] = {n->key, c->node};
    if (bk_store_query(c->store,
                       "SELECT id, number, content_hash FROM orders WHERE idem_key = $1 AND "
                       "intake_node = $2",
                       2, params, on_dup_lookup, d) != 0) {
        bk_core_reply_now(c, out->ident, out->ident_len, out->corr, PLS_UNAVAILABLE,
                          "store unavailable: retry", NULL);
        free(d);
    }
}

/* The replies a batch holds become 503 (its pushes are dropped). */
static void reply_unavailable(bk_core_t *c, const bk_batch_t *b)
{
    for (uint32_t i = 0; i < b->n_outs; i++)
        if (b->outs[i].kind != BK_OUT_PUSH)
            bk_core_reply_now(c, b->outs[i].ident, b->outs[i].ident_len, b->outs[i].corr,
                              PLS_UNAVAILABLE, "store unavailable: not saved, retry", NULL);
}

/* PostgreSQL refused batch b for its rows (BK_BATCH_REFUSED): each of its new
 * orders is tried alone at the next boot (try_suspects). Most batches that
 * fail this way hold one bad order, and its desk sends it again: without
 * this, every resend would fail a batch and make the broker reload. */
static void note_suspects(bk_core_t *c, const bk_batch_t *b)
{
    if (c->cfg.refuse_ms <= 0 || !b->n_news)
        return;
    uint32_t n = b->n_news;
    if (n > BK_SUSPECTS_MAX - c->n_suspects)
        n = BK_SUSPECTS_MAX - c->n_suspects;
    c->suspects = pls_xrealloc(c->suspects, (size_t)(c->n_suspects + n) * sizeof(*c->suspects));
    for (uint32_t i = 0; i < n; i++) {
        const bk_order_t *o = bk_orders_get(&c->orders, &b->news[i].id);
        if (!o)
            continue;
        bk_suspect_t *sp = &c->suspects[c->n_suspects++];
        memset(sp, 0, sizeof(*sp));
        bk_batch_sql_new(b, i, &c->rowtypes, &sp->sql);
        sp->hash = o->content_hash;
        /* what the log may say of it: no key (a desk may make keys of ID numbers) */
        snprintf(sp->what, sizeof(sp->what), "%s from %s", c->cat.services[o->service].code,
                 o->origin ? o->origin : "?");
    }
}

/* The refusal in force for this content, or NULL. */
static bk_refusal_t *refusal_of(bk_core_t *c, uint64_t hash)
{
    uint32_t n = c->n_refusals < BK_REFUSALS_MAX ? c->n_refusals : BK_REFUSALS_MAX;
    int64_t now = n ? pls_mono_ms() : 0;
    for (uint32_t i = 0; i < n; i++)
        if (c->refusals[i].hash == hash && c->refusals[i].until_ms > now)
            return &c->refusals[i];
    return NULL;
}

/* At boot, after a batch PostgreSQL refused: try each new order it held
 * alone and remember the content PostgreSQL refuses on its own. 0, or
 * -EIO when the connection failed (the orders not tried yet are kept for
 * the next boot). An order that fails alone for another reason is not
 * refused in advance: its resends go to PostgreSQL as any order's. */
static int try_suspects(bk_core_t *c, bk_store_t *s)
{
    uint32_t i, failed = 0, refused = 0;
    int rc = 0;
    for (i = 0; i < c->n_suspects; i++) {
        bk_suspect_t *sp = &c->suspects[i];
        char err[256];
        rc = bk_store_boot_try(s, &sp->sql, err, sizeof(err));
        if (rc == -EPIPE) {
            pls_warn("could not try the orders of the refused batch: %s", err);
            break;
        }
        if (rc == 0)
            continue;
        failed++;
        if (rc < 0) {
            pls_warn("a new order of the refused batch (%s) fails on its own for another "
                     "reason: %s; it is not refused in advance",
                     sp->what, err);
            continue;
        }
        bk_refusal_t *r = refusal_of(c, sp->hash);
        if (!r)
            r = &c->refusals[c->n_refusals++ % BK_REFUSALS_MAX];
        r->hash = sp->hash;
        r->until_ms = pls_mono_ms() + c->cfg.refuse_ms;
        pls_utf8_copy(r->reason, sizeof(r->reason), err);
        pls_warn("PostgreSQL refuses a new order (%s) on its own (%s): the same content is "
                 "answered 422 without writing for %lld s",
                 sp->what, r->reason, (long long)(c->cfg.refuse_ms / 1000));
        refused++;
    }
    if (!failed && rc != -EPIPE)
        pls_info("each of the %u new orders of the refused batch is taken on its own: the "
                 "batch failed for another of its changes",
                 c->n_suspects);
    if (rc != -EPIPE)
        bk_fed_refusal_explained(c, refused > 0);
    /* forget those tried */
    for (uint32_t k = 0; k < i; k++)
        pls_buf_cleanup(&c->suspects[k].sql);
    memmove(c->suspects, c->suspects + i, (size_t)(c->n_suspects - i) * sizeof(*c->suspects));
    c->n_suspects -= i;
    return rc == -EPIPE ? -EIO : 0;
}

static void on_batch_done(void *arg, int ok)
{
    bk_core_t *c = arg;
    if (!c->n_inflight)
        return; /* dropped by on_lost */
    bk_batch_t *b = c->inflight[0];
    memmove(&c->inflight[0], &c->inflight[1], (size_t)(--c->n_inflight) * sizeof(b));
    if (ok != 1) {
        if (ok == BK_BATCH_REFUSED) {
            note_suspects(c, b);
            bk_fed_batch_refused(c, b, bk_store_failure(c->store));
        }
        /* replies become 503 (clients retry: submits carry keys), pushes are
         * dropped; the store reports the loss and we reload. Until then
         * memory holds this batch's changes, which are not in the store:
         * nothing more is answered or sent from it (a batch behind this one
         * may still be answering, and fails too) */
        c->ready = 0;
        reply_unavailable(c, b);
        bk_batch_cleanup(b);
        return;
    }
    c->stats.batches++;
    c->stats.rows_written += b->rows_written;
    int64_t now_us = pls_mono_us();
    pls_hist_add(&c->commit_hist, now_us / 1000, now_us - b->sent_us);
    c->committed_gen = b->gen;
    /* orders whose key already existed: mark, then undo after sending */
    int phantoms = 0;
    for (uint32_t i = 0; i < b->n_news; i++) {
        bk_order_t *o = bk_orders_get(&c->orders, &b->news[i].id);
        if (o && (o->flags & BK_OF_NEW)) {
            o->flags |= BK_OF_PHANTOM;
            phantoms++;
        } else {
            b->news[i].confirmed = 1;
            /* it may have waited for this commit to be dispatched */
            if (o && o->state == BK_QUEUED && o->heap_idx != BK_NO_HEAP) {
                bk_queue_t *q = bk_dispatch_queue(&c->disp, o->dept, o->scope, 0);
                if (q)
                    bk_dispatch_mark(&c->disp, q);
            }
        }
    }
    for (uint32_t i = 0; i < b->n_outs; i++) {
        bk_out_t *o = &b->outs[i];
        if (o->new_idx >= 0 && !b->news[o->new_idx].confirmed) {
            if (o->kind == BK_OUT_SUBMIT)
                resolve_phantom(c, b, o);
            continue; /* an Assign of a phantom order is never sent */
        }
        if (c->send(c->send_arg, o->ident, o->ident_len, o->msg, o->len) != 0)
            pls_debug("could not send to a peer (gone or full)");
    }
    bk_fed_after_commit(c, b->gen);
    if (phantoms) {
        for (uint32_t i = 0; i < b->n_news; i++) {
            if (b->news[i].confirmed)
                continue;
            bk_order_t *o = bk_orders_get(&c->orders, &b->news[i].id);
            if (!o)
                continue;
            bk__unqueue(c, o);
            if (o->worker) {
                o->attempt = 0;
                bk__release(c, o);
            }
            bk_orders_remove(&c->orders, o);
        }
    }
    bk_batch_cleanup(b);
}

/* A batch goes into the pipeline behind another only with at least this many
 * orders' rows. Every batch costs a commit (its WAL flush) and fixed work in
 * PostgreSQL; a small one gains more from growing until the batch in flight
 * answers than from starting early. Under load batches hold hundreds of rows
 * and go behind one another; at 500 orders/s across a town and the city, a
 * batch sent behind another with whatever it held made more, smaller commits:
 * completion p50 79-105 ms against 63-77 ms with this limit (BENCHMARKS §6
 * item 18). */
#define BK_PIPELINE_MIN_ROWS 32

/* Send the batch being built, behind those in flight (bk_store.h): while
 * PostgreSQL commits one, the next is already waiting in the pipeline. */
static void flush(bk_core_t *c)
{
    if (!c->ready || bk_batch_empty(c->cur))
        return;
    if (!bk_store_can_send(c->store))
        return; /* before the batch is turned into statements and messages */
    if (c->n_inflight && c->cur->n_rows < BK_PIPELINE_MIN_ROWS)
        return; /* small: better to grow until the one in flight answers */
    bk_batch_t *b = c->cur;
    bk_fed_before_flush(c, b);
    bk_batch_sql(b, &c->rowtypes, &c->sql);
    if (bk_store_batch(c->store, &c->sql, on_batch_rows, on_batch_done, c) != 0)
        return; /* store not ready: the batch waits */
    b->sent_us = pls_mono_us();
    c->inflight[c->n_inflight++] = b;
    /* the buffers are a ring: batches are sent and answered in order, so the
     * next one after b is free */
    c->cur = &c->batches[(size_t)(b - c->batches + 1) % PLS_ARRAY_LEN(c->batches)];
    bk_batch_init(c->cur, ++c->gen);
    /* new orders of the batch in flight keep BK_OF_NEW until confirmed */
}

void bk_core_turn(bk_core_t *c)
{
    if (!c->ready)
        return;
    dispatch_dirty(c);
    bk_fed_turn(c);
    flush(c);
    if (c->draining && c->on_idle_after_drain && bk_core_drained(c))
        c->on_idle_after_drain(c);
}

/* ---------------------------------------------------------- handlers */

static uint64_t hash_strs(uint64_t h, const char *const *parts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *p = parts[i] ? parts[i] : "";
        h = pls_hash64(h, p, strlen(p) + 1);
    }
    return h;
}

/* What a desk submitted, all of it but the key: a resend with its key must
 * carry the same (else 409), and content PostgreSQL refused is known by it
 * (refusal_of), so a corrected resend is not refused with it. */
static uint64_t content_hash(const Pls__SubmitRequest *s, const char *locality)
{
    const Pls__Citizen *ci = s->citizen;
    const char *parts[] = {s->service,
                           s->origin,
                           locality,
                           s->desc,
                           ci ? ci->name : "",
                           ci ? ci->id_number : "",
                           ci ? ci->phone : "",
                           s->about,
                           s->subject,
                           s->site};
    uint64_t h = hash_strs(PLS_HASH64_INIT, parts, PLS_ARRAY_LEN(parts));
    uint8_t nums[2] = {(uint8_t)s->channel, (uint8_t)s->priority};
    h = pls_hash64(h, nums, 2);
    /* the rest only when given, so that an order without them keeps the hash
     * it had before they were counted (a resend across an upgrade) */
    if ((ci && ci->id_type && *ci->id_type) || s->fields || s->n_attachments) {
        const Pls__OrderFields *f = s->fields;
        const char *more[] = {ci ? ci->id_type : "", f ? f->category : "",
                              f ? f->applicant_category : "", f ? f->counterparty : ""};
        h = hash_strs(h, more, PLS_ARRAY_LEN(more));
        uint8_t flags[3] = {f && f->confidential, f && f->group_risk, f && f->detained};
        h = pls_hash64(h, flags, 3);
        for (size_t i = 0; i < s->n_attachments; i++) {
            const Pls__Attachment *a = s->attachments[i];
            const char *att[] = {a->sha256, a->type, a->location};
            h = hash_strs(h, att, PLS_ARRAY_LEN(att));
            h = pls_hash64(h, &a->size, sizeof(a->size));
        }
    }
    return h & 0x7fffffffffffffffULL; /* fits a signed bigint */
}

static const char *channel_name(int ch)
{
    static const char *const names[] = {"desk", "hotline", "web", "platform"};
    return ch >= 0 && ch < 4 ? names[ch] : "desk";
}

/* The resolved plan as stored: where each step goes (DESIGN §5), a JSON list. */
static void build_plan(bk_core_t *c, const bk_order_t *o, const Pls__SubmitRequest *s, int dept,
                       pls_buf_t *b)
{
    const bk_service_t *svc = &c->cat.services[o->service];
    pls_buf_addc(b, '[');
    for (int i = 0; i < svc->n_steps; i++) {
        char scope[PLS_NODE_MAX];
        bk_catalog_scope(&svc->steps[i], o->locality, s->site, c->node, c->cfg.has_parent, scope,
                         sizeof(scope));
        pls_buf_adds(b, i ? ",{" : "{");
        bk__p_str(b, "name", svc->steps[i].name);
        bk__p_str(b, "dept", bk__dept_name(c, i == 0 ? dept : svc->steps[i].dept));
        bk__p_str(b, "scope", scope);
        if (bk__next_live_step(c, o, i) != i)
            bk__p_raw(b, "skip", "true");
        pls_buf_addc(b, '}');
    }
    pls_buf_addc(b, ']');
}

/* The new order's content columns (the `orders` columns that never change,
 * id .. created_at) as binary record fields; bk_batch appends the state columns and
 * pls_batch() inserts the row (sql/007). */
static void build_insert(bk_core_t *c, bk_order_t *o, const Pls__SubmitRequest *s, const char *key,
                         const char *actor, int dept, pls_buf_t *b)
{
    /* the JSON columns, built in the payload builder (not in use while an
     * order is taken in: the received event's payload comes after) */
    pls_buf_t *j = &c->scratch;
    bk_rec_uuid(b, &o->id);
    bk_rec_text(b, o->number);
    bk_rec_text(b, key);
    bk_rec_int(b, BK_T_INT8, (int64_t)o->content_hash);
    bk_rec_text(b, c->cat.services[o->service].code);
    bk_rec_text(b, o->origin);
    bk_rec_text(b, o->locality);
    bk_rec_text(b, c->node);
    bk_rec_text(b, channel_name((int)s->channel));
    bk_rec_int(b, BK_T_INT2, o->priority);
    bk_rec_text(b, s->desc ? s->desc : "");
    if (s->fields) {
        const Pls__OrderFields *f = s->fields;
        pls_buf_reset(j);
        pls_buf_addc(j, '{');
        bk__p_str(j, "category", f->category);
        bk__p_str(j, "applicant_category", f->applicant_category);
        bk__p_str(j, "counterparty", f->counterparty);
        if (f->confidential)
            bk__p_raw(j, "confidential", "true");
        if (f->group_risk)
            bk__p_raw(j, "group_risk", "true");
        if (f->detained)
            bk__p_raw(j, "detained", "true");
        pls_buf_addc(j, '}');
        bk_rec_json(b, BK_T_JSONB, j->data, j->len);
    } else {
        bk_rec_null(b, BK_T_JSONB);
    }
    if (s->n_attachments) {
        pls_buf_reset(j);
        pls_buf_addc(j, '[');
        for (size_t i = 0; i < s->n_attachments; i++) {
            const Pls__Attachment *a = s->attachments[i];
            pls_buf_adds(j, i ? ",{" : "{");
            bk__p_str(j, "sha256", a->sha256);
            bk__p_str(j, "type", a->type);
            bk__p_int(j, "size", (int64_t)a->size);
            bk__p_str(j, "location", a->location);
            pls_buf_addc(j, '}');
        }
        pls_buf_addc(j, ']');
        bk_rec_json(b, BK_T_JSONB, j->data, j->len);
    } else {
        bk_rec_null(b, BK_T_JSONB);
    }
    bk_rec_uuid_str(b, s->about);
    bk_rec_opt(b, s->subject);
    bk_rec_opt(b, s->site);
    pls_buf_reset(j);
    build_plan(c, o, s, dept, j);
    bk_rec_json(b, BK_T_JSON, j->data, j->len);
    bk_rec_text(b, actor && *actor ? actor : "desk");
    bk_rec_at(b, o->created_ms);
}

/* The order's content for copies at other command centers (no personal data),
 * as the members of a JSON object. */
static void build_copy(bk_core_t *c, const bk_order_t *o, const Pls__SubmitRequest *s,
                       const char *key, const char *actor, int dept, pls_buf_t *b)
{
    char id[PLS_UUID_STR];
    pls_uuid_format(&o->id, id);
    bk__p_str(b, "id", id);
    bk__p_str(b, "number", o->number);
    bk__p_str(b, "key", key);
    bk__p_int(b, "hash", (int64_t)o->content_hash);
    bk__p_str(b, "service", c->cat.services[o->service].code);
    bk__p_str(b, "origin", o->origin);
    bk__p_str(b, "locality", o->locality);
    bk__p_str(b, "intake", c->node);
    bk__p_str(b, "channel", channel_name((int)s->channel));
    bk__p_int(b, "priority", o->priority);
    int confidential =
        c->cat.services[o->service].confidential || (s->fields && s->fields->confidential);
    bk__p_str(b, "desc", confidential ? "(confidential)" : s->desc);
    bk__p_str(b, "about", s->about);
    bk__p_str(b, "subject", s->subject);
    bk__p_str(b, "site", s->site);
    bk__p_str(b, "actor", actor && *actor ? actor : "desk");
    bk__p_int(b, "created_ms", o->created_ms);
    if (b->len)
        pls_buf_addc(b, ',');
    pls_buf_adds(b, "\"plan\":");
    build_plan(c, o, s, dept, b);
}

/* The citizen's data as the fields of a `citizens` row, or nothing. */
static void build_citizen(const bk_order_t *o, const Pls__Citizen *ct, pls_buf_t *b)
{
    if (!ct || (!*ct->name && !*ct->id_number && !*ct->phone))
        return;
    bk_rec_uuid(b, &o->id);
    bk_rec_opt(b, ct->name);
    bk_rec_opt(b, ct->id_type);
    bk_rec_opt(b, ct->id_number);
    bk_rec_opt(b, ct->phone);
}

static void next_number(bk_core_t *c, char *out, size_t outsz)
{
    int today = pls_shanghai_yyyymmdd(pls_wall_ms());
    if (today != c->today) {
        c->today = today;
        c->day_seq = 0;
    }
    c->day_seq++;
    c->cur->day_seq_day = today;
    c->cur->day_seq = c->day_seq;
    pls_order_number(out, outsz, c->node_code, today, c->day_seq);
}

/* Services of orders complained about that are not in memory, looked up in
 * the store once and remembered in a small ring. */
#define ABOUT_UNKNOWN -1
#define ABOUT_MISSING -2

static int about_lookup(bk_core_t *c, const pls_uuid_t *id)
{
    for (size_t i = 0; i < PLS_ARRAY_LEN(c->about); i++)
        if (c->about[i].used && memcmp(c->about[i].id.b, id->b, 16) == 0)
            return c->about[i].service;
    return ABOUT_UNKNOWN;
}

typedef struct about_req {
    bk_core_t *core;
    uint64_t corr;
    pls_uuid_t id;
    uint8_t ident[BK_IDENT_MAX];
    size_t ident_len;
    uint8_t *msg; /* owned: the submit, handled again with the answer */
    size_t len;
} about_req_t;

static void on_about(void *arg, int ok, const bk_rows_t *rows, const char *err)
{
    about_req_t *r = arg;
    bk_core_t *c = r->core;
    PLS_UNUSED(err);
    if (ok && rows) {
        int svc = ABOUT_MISSING;
        if (bk_rows_count(rows) == 1)
            svc = bk_catalog_service(&c->cat, bk_rows_get(rows, 0, 0));
        size_t slot = c->about_next++ % PLS_ARRAY_LEN(c->about);
        c->about[slot].used = 1;
        c->about[slot].id = r->id;
        c->about[slot].service = svc < 0 ? ABOUT_MISSING : svc;
        bk_core_message(c, r->ident, r->ident_len, r->msg, r->len);
    } else {
        bk_core_reply_now(c, r->ident, r->ident_len, 0, PLS_UNAVAILABLE, "store unavailable: retry",
                          NULL);
    }
    free(r->msg);
    free(r);
}

static void about_fetch(bk_core_t *c, const void *ident, size_t ident_len, uint64_t corr,
                        const pls_uuid_t *id)
{
    about_req_t *r = pls_xcalloc(1, sizeof(*r));
    r->core = c;
    r->corr = corr;
    r->id = *id;
    memcpy(r->ident, ident, ident_len < BK_IDENT_MAX ? ident_len : BK_IDENT_MAX);
    r->ident_len = ident_len;
    r->msg = pls_xmalloc(c->raw_len);
    memcpy(r->msg, c->raw, c->raw_len);
    r->len = c->raw_len;
    char u[PLS_UUID_STR];
    pls_uuid_format(id, u);
    const char *params[1] = {u};
    if (bk_store_query(c->store, "SELECT service FROM orders WHERE id = $1::uuid", 1, params,
                       on_about, r) != 0) {
        bk_core_reply_now(c, ident, ident_len, corr, PLS_UNAVAILABLE, "store unavailable: retry",
                          NULL);
        free(r->msg);
        free(r);
    }
}

static void handle_submit(bk_core_t *c, const void *ident, size_t ident_len,
                          const Pls__Envelope *env)
{
    const Pls__SubmitRequest *s = env->submit;
    int svc = bk_catalog_service(&c->cat, s->service);
    if (svc < 0) {
        reject(c, ident, ident_len, env->corr, PLS_NOT_FOUND, "unknown service %s", s->service);
        return;
    }
    if (!pls_node_within(s->origin, c->node)) {
        reject(c, ident, ident_len, env->corr, PLS_BAD_REQUEST,
               "origin %s is not a desk of node %s", s->origin, c->node);
        return;
    }
    const char *locality = s->locality && *s->locality ? s->locality : s->origin;
    char city[PLS_NODE_MAX], my_city[PLS_NODE_MAX];
    pls_node_prefix(locality, 1, city, sizeof(city));
    pls_node_prefix(c->node, 1, my_city, sizeof(my_city));
    if (strcmp(city, my_city) != 0) {
        reject(c, ident, ident_len, env->corr, PLS_BAD_REQUEST,
               "locality %s is outside this network (%s)", locality, my_city);
        return;
    }
    int dept = c->cat.services[svc].steps[0].dept;
    const char *subject = s->subject && *s->subject ? s->subject : NULL;
    if (strcmp(s->service, "complaint") == 0) {
        if (!subject && s->about && *s->about) {
            /* the subject follows the service of the order complained about */
            pls_uuid_t about;
            int svc_about = -1;
            if (pls_uuid_parse(s->about, &about) == 0) {
                bk_order_t *ao = bk_orders_get(&c->orders, &about);
                svc_about = ao ? ao->service : about_lookup(c, &about);
            }
            if (svc_about == ABOUT_UNKNOWN) {
                about_fetch(c, ident, ident_len, env->corr, &about);
                return; /* answered once the store says which service it was */
            }
            if (svc_about == ABOUT_MISSING) {
                reject(c, ident, ident_len, env->corr, PLS_NOT_FOUND,
                       "about: no order %s at this node to complain about", s->about);
                return;
            }
            subject = bk_catalog_subject_of_service(&c->cat, svc_about);
        }
        if (subject) {
            dept = bk_catalog_complaint_dept(&c->cat, subject);
            if (dept < 0) {
                reject(c, ident, ident_len, env->corr, PLS_BAD_REQUEST,
                       "unknown complaint subject %s (lawyer, notary, mediator or staff)", subject);
                return;
            }
        }
    }
    uint64_t hash = content_hash(s, locality);
    if (s->key && *s->key) {
        bk_order_t *ex = bk_orders_by_key(&c->orders, s->key);
        if (ex) {
            if (ex->content_hash != hash) {
                reject(c, ident, ident_len, env->corr, PLS_CONFLICT,
                       "key already used for order %s with different content", ex->number);
                return;
            }
            if ((ex->flags & BK_OF_NEW) && ex->batch_gen != c->cur->gen) {
                /* still being committed: its fate is not known yet */
                reject(c, ident, ident_len, env->corr, PLS_UNAVAILABLE,
                       "order with this key is being saved: retry");
                return;
            }
            int new_idx = (ex->flags & BK_OF_NEW) ? c->cur->rows[ex->batch_row].new_idx : -1;
            bk__reply_later(c, ident, ident_len, env->corr, PLS_OK,
                            "duplicate: an order with this key exists", ex, 1, BK_OUT_SUBMIT,
                            new_idx);
            return;
        }
    }
    const bk_refusal_t *refusal = refusal_of(c, hash);
    if (refusal) {
        reject(c, ident, ident_len, env->corr, PLS_UNPROCESSABLE,
               "not saved: the database refuses this order (%s); sending it again does not help",
               refusal->reason);
        return;
    }
    bk_order_t *o = bk_order_new();
    o->created_ms = pls_rule_ms(); /* limits count on the rule clock */
    pls_uuid7(&o->id, o->created_ms);
    /* a generated key is never sent again: not indexed */
    char key[PLS_MAX_KEY + 8];
    if (s->key && *s->key) {
        snprintf(key, sizeof(key), "%s", s->key);
        o->key_hash = bk_key_hash(s->key);
    } else {
        memcpy(key, "gen:", 4);
        pls_uuid_format(&o->id, key + 4);
    }
    o->content_hash = hash;
    o->service = (uint8_t)svc;
    o->origin = bk_dispatch_intern(&c->disp, s->origin);
    o->locality = bk_dispatch_intern(&c->disp, locality);
    o->intake = bk_dispatch_intern(&c->disp, c->node);
    o->site = s->site && *s->site ? bk_dispatch_intern(&c->disp, s->site) : NULL;
    o->priority = s->priority == PLS__PRIORITY__PRIORITY_URGENT;
    o->next_seq = 1;
    o->state = BK_RECEIVED;
    o->dept = (uint8_t)dept;
    o->flags = BK_OF_NEW;
    if (s->fields && s->fields->detained)
        o->flags |= BK_OF_DETAINED;
    next_number(c, o->number, sizeof(o->number));
    bk_rules_received(c, o);
    bk_orders_add(&c->orders, o);
    int idx = bk_batch_new_order(c->cur, o, key);
    bk_new_t *n = &c->cur->news[idx];
    /* the stored subject is the one routing used (given, or from --about) */
    Pls__SubmitRequest stored = *s;
    stored.subject = (char *)(uintptr_t)(subject ? subject : "");
    build_insert(c, o, &stored, key, env->actor, dept, &n->insert);
    build_citizen(o, s->citizen, &n->citizen);
    if (c->fed.parent || c->fed.n_links || c->fed.n_known)
        build_copy(c, o, &stored, key, env->actor, dept, &n->fields);
    pls_buf_t *p = bk__payload_begin(c);
    bk__p_str(p, "service", s->service);
    bk__p_str(p, "origin", s->origin);
    bk__p_str(p, "locality", locality);
    bk__p_str(p, "channel", channel_name((int)s->channel));
    if (o->priority)
        bk__p_str(p, "priority", "urgent");
    bk__event(c, o, "received", -1, env->actor, bk__payload_end(p));
    int first = bk__next_live_step(c, o, 0);
    bk__route(c, o, first, first == 0 ? dept : c->cat.services[svc].steps[first].dept, NULL,
              "broker", "queued", NULL);
    bk__reply_later(c, ident, ident_len, env->corr, PLS_OK, "received", o, 0, BK_OUT_SUBMIT, idx);
    c->stats.submits++;
}

static int parse_dept_list(bk_core_t *c, const Pls__Ready *r, int *depts, char *reason,
                           size_t reasonsz)
{
    for (size_t i = 0; i < r->n_depts; i++) {
        depts[i] = bk_catalog_dept(&c->cat, r->depts[i]);
        if (depts[i] < 0) {
            snprintf(reason, reasonsz, "unknown department %s", r->depts[i]);
            return PLS_NOT_FOUND;
        }
    }
    return 0;
}

static void forget_worker(bk_core_t *c, bk_worker_t *w, const char *why)
{
    /* its auto-custody orders go back to their queues */
    while (w->n_held) {
        bk_order_t *o = w->held[w->n_held - 1];
        expire_lease(c, o, why);
    }
    bk_dispatch_worker_remove(&c->disp, w);
}

static void handle_ready(bk_core_t *c, const void *ident, size_t ident_len,
                         const Pls__Envelope *env)
{
    const Pls__Ready *r = env->ready;
    int depts[PLS_MAX_DEPTS];
    char reason[REASON_MAX];
    int st = parse_dept_list(c, r, depts, reason, sizeof(reason));
    if (st) {
        bk_core_reply_now(c, ident, ident_len, env->corr, (uint32_t)st, reason, NULL);
        return;
    }
    if (!pls_node_within(r->scope, c->node)) {
        reject(c, ident, ident_len, env->corr, PLS_BAD_REQUEST, "scope %s is not served by node %s",
               r->scope, c->node);
        return;
    }
    bk_worker_t *old = bk_dispatch_worker(&c->disp, ident, ident_len);
    /* a re-sent Ready re-registers: keep what it still holds */
    bk_worker_t *w = bk_dispatch_worker_add(&c->disp, ident, ident_len, r->name, r->scope, depts,
                                            (int)r->n_depts, (int)r->role, (int)r->custody);
    if (old) {
        while (old->n_held) {
            bk_order_t *o = old->held[old->n_held - 1];
            bk_worker_release(old, o);
            bk_worker_hold(w, o);
        }
        bk_dispatch_worker_remove(&c->disp, old);
    }
    w->last_seen_ms = pls_mono_ms();
    w->drain = r->drain;
    uint32_t attached = 0;
    for (size_t i = 0; i < r->n_held; i++) {
        pls_uuid_t id;
        if (pls_uuid_parse(r->held[i]->order, &id) != 0)
            continue;
        bk_order_t *o = bk_orders_get(&c->orders, &id);
        if (!o || o->attempt != r->held[i]->attempt || o->token != r->held[i]->token ||
            (o->state != BK_ASSIGNED && o->state != BK_IN_PROGRESS))
            continue; /* stale: its reports will get 409 */
        if (o->worker == w)
            continue;
        if (o->worker)
            bk_worker_release(o->worker, o);
        o->flags &= (uint8_t)~BK_OF_ORPHAN;
        bk_worker_hold(w, o);
        attached++;
    }
    /* what it held before and no longer lists is lost on its side */
    for (uint32_t i = 0; i < w->n_held;) {
        bk_order_t *o = w->held[i];
        int listed = 0;
        char id[PLS_UUID_STR];
        fmt_id(o, id);
        for (size_t k = 0; k < r->n_held && !listed; k++)
            listed = strcmp(r->held[k]->order, id) == 0 && r->held[k]->attempt == o->attempt;
        if (listed) {
            i++;
            continue;
        }
        expire_lease(c, o, "worker no longer holds it");
    }
    /* what the worker says it has free: what it holds and we do not count
     * (finished, or from before a restart) is not free until it says so */
    w->credit = r->credit;
    for (int i = 0; i < w->n_queues; i++) {
        bk_queue_t *q = w->queues[i];
        if (!q->seen) {
            q->seen = 1;
            const char *v[] = {bk__dept_name(c, q->dept), q->scope};
            bk_sql_add(&c->cur->extra,
                       "INSERT INTO workers_seen (dept, scope, first_seen) VALUES ($1, $2, now()) "
                       "ON CONFLICT DO NOTHING",
                       2, v);
        }
        bk_dispatch_mark(&c->disp, q);
    }
    pls_info("worker %s ready: %zu departments at %s, role %s, %s custody, credit %u, %u "
             "re-attached",
             r->name, r->n_depts, r->scope, r->role ? "B" : "A", r->custody ? "staff" : "auto",
             r->credit, attached);
    snprintf(reason, sizeof(reason), "ready: %u assignments re-attached", attached);
    /* the worker heartbeats at a third of the lease at most */
    char json[64];
    snprintf(json, sizeof(json), "{\"lease_ms\":%lld}", (long long)c->cfg.lease_ms);
    uint8_t *msg;
    size_t len;
    pls_proto_pack_reply(env->corr, PLS_OK, reason, NULL, NULL, 0, json, &msg, &len);
    bk_batch_out(c->cur, BK_OUT_REPLY, ident, ident_len, msg, len, env->corr, -1);
}

static void handle_heartbeat(bk_core_t *c, const void *ident, size_t ident_len,
                             const Pls__Envelope *env)
{
    bk_worker_t *w = bk_dispatch_worker(&c->disp, ident, ident_len);
    if (!w) {
        reject(c, ident, ident_len, env->corr, PLS_NOT_FOUND, "unknown worker: send Ready");
        return;
    }
    w->last_seen_ms = pls_mono_ms();
    if (env->heartbeat->drain && !w->drain) {
        w->drain = 1;
        pls_info("worker %s is draining", w->name);
    }
    /* its credit is what it says it has free, less what we assigned and it
     * does not list yet (on the way to it) */
    const Pls__Heartbeat *hb = env->heartbeat;
    uint32_t unseen = 0;
    for (uint32_t i = 0; i < w->n_held; i++) {
        char id[PLS_UUID_STR];
        pls_uuid_format(&w->held[i]->id, id);
        int listed = 0;
        for (size_t k = 0; k < hb->n_held && !listed; k++)
            listed = strcmp(hb->held[k]->order, id) == 0;
        unseen += !listed;
    }
    uint32_t credit = hb->credit > unseen ? hb->credit - unseen : 0;
    if (credit > w->credit)
        for (int i = 0; i < w->n_queues; i++)
            bk_dispatch_mark(&c->disp, w->queues[i]);
    w->credit = credit;
    bk_core_reply_now(c, ident, ident_len, env->corr, PLS_OK, "ok", NULL);
}

/* A report about an order no longer in memory (finished, handed over, or
 * from before a restart): the store says whether it was this assignment's
 * last word, already applied (its original answer, 200) or stale (409). */
typedef struct stale_req {
    bk_core_t *core;
    uint8_t ident[BK_IDENT_MAX];
    size_t ident_len;
    uint64_t corr;
    uint32_t attempt;
    uint64_t token;
    char order[PLS_UUID_STR];
} stale_req_t;

static void on_stale(void *arg, int ok, const bk_rows_t *rows, const char *err)
{
    stale_req_t *r = arg;
    char reason[REASON_MAX];
    PLS_UNUSED(err);
    if (!ok || !rows) {
        bk_core_reply_now(r->core, r->ident, r->ident_len, r->corr, PLS_UNAVAILABLE,
                          "store unavailable: retry", NULL);
    } else if (bk_rows_count(rows) == 1 && (uint32_t)atoi(bk_rows_get(rows, 0, 1)) == r->attempt &&
               bk_rows_get(rows, 0, 2) &&
               (uint64_t)strtoll(bk_rows_get(rows, 0, 2), NULL, 10) == r->token) {
        snprintf(reason, sizeof(reason), "already applied: order is %s", bk_rows_get(rows, 0, 0));
        bk_core_reply_now(r->core, r->ident, r->ident_len, r->corr, PLS_OK, reason, NULL);
    } else {
        snprintf(reason, sizeof(reason), "order %s is not open at this node (%s)", r->order,
                 bk_rows_count(rows) ? bk_rows_get(rows, 0, 0) : "unknown");
        bk_core_reply_now(r->core, r->ident, r->ident_len, r->corr, PLS_CONFLICT, reason, NULL);
    }
    free(r);
}

static void stale_lookup(bk_core_t *c, const void *ident, size_t ident_len, uint64_t corr,
                         const char *order, uint32_t attempt, uint64_t token)
{
    stale_req_t *r = pls_xcalloc(1, sizeof(*r));
    r->core = c;
    memcpy(r->ident, ident, ident_len < BK_IDENT_MAX ? ident_len : BK_IDENT_MAX);
    r->ident_len = ident_len;
    r->corr = corr;
    r->attempt = attempt;
    r->token = token;
    snprintf(r->order, sizeof(r->order), "%s", order);
    const char *params[1] = {r->order};
    if (bk_store_query(c->store, "SELECT state, attempt, token FROM orders WHERE id = $1::uuid", 1,
                       params, on_stale, r) != 0) {
        bk_core_reply_now(c, ident, ident_len, corr, PLS_UNAVAILABLE, "store unavailable: retry",
                          NULL);
        free(r);
    }
}

/* Common checks for a message about one order's current assignment. */
static bk_order_t *check_assignment(bk_core_t *c, const void *ident, size_t ident_len,
                                    uint64_t corr, const char *order, uint32_t attempt,
                                    uint64_t token, int *repeated)
{
    pls_uuid_t id;
    *repeated = 0;
    if (pls_uuid_parse(order, &id) != 0) {
        reject(c, ident, ident_len, corr, PLS_BAD_REQUEST, "order: not an order id");
        return NULL;
    }
    bk_order_t *o = bk_orders_get(&c->orders, &id);
    if (!o) {
        const bk_recent_entry_t *e = bk_recent_get(&c->recent, &id);
        if (e && e->attempt == attempt && e->token == token) {
            *repeated = 1; /* already applied: the original answer */
            char reason[REASON_MAX];
            snprintf(reason, sizeof(reason), "already applied: order is %s",
                     bk_state_name(e->state));
            bk__reply_later(c, ident, ident_len, corr, PLS_OK, reason, NULL, 0, BK_OUT_REPLY, -1);
            return NULL;
        }
        stale_lookup(c, ident, ident_len, corr, order, attempt, token);
        return NULL;
    }
    if (attempt != o->attempt) {
        reject(c, ident, ident_len, corr, PLS_CONFLICT,
               "stale attempt %u: the current attempt is %u", attempt, o->attempt);
        return NULL;
    }
    if (token != o->token) {
        reject(c, ident, ident_len, corr, PLS_CONFLICT, "wrong token for this assignment");
        return NULL;
    }
    return o;
}

/* Staff or worker: the one-time notice (一次告知). */
static int need_info(bk_core_t *c, bk_order_t *o, char **items, size_t n_items, const char *note,
                     const char *actor, char *reason, size_t reasonsz)
{
    if (!n_items) {
        snprintf(reason, reasonsz, "need_info lists every missing item: none given");
        return PLS_BAD_REQUEST;
    }
    if (o->flags & BK_OF_NEED_INFO_USED) {
        int st = bk_rules_hold_notice(c, o, items, n_items, note, actor, reason, reasonsz);
        if (st == 0 && o->custody == 0 && o->worker) {
            /* an automatic handler's attempt ends; the step continues */
            bk__release(c, o);
            bk__route(c, o, o->step, o->dept, NULL, actor, "requeued",
                      "second notice held for approval");
        }
        return st ? st : -1; /* -1: done, not sent */
    }
    if (o->custody == 0)
        bk__release(c, o); /* an auto handler's attempt ends here */
    int from = o->state;
    o->flags |= BK_OF_NEED_INFO_USED;
    bk__set_state(c, o, BK_WAITING_CITIZEN);
    bk_rules_paused(c, o); /* before the event: its row stores the pause */
    pls_buf_t *p = bk__payload_begin(c);
    bk__p_items(p, "items", items, n_items);
    bk__p_str(p, "note", note);
    bk__event(c, o, "need_info", from, actor, bk__payload_end(p));
    return 0;
}

static void return_order(bk_core_t *c, bk_order_t *o, const char *why, const char *actor)
{
    bk__release(c, o);
    bk__unqueue(c, o);
    int from = o->state;
    o->returns++;
    bk__set_state(c, o, BK_RETURNED);
    pls_buf_t *p = bk__payload_begin(c);
    bk__p_str(p, "reason", why);
    bk__p_str(p, "dept", bk__dept_name(c, o->dept));
    bk__p_str(p, "scope", o->scope);
    bk__event(c, o, "returned", from, actor, bk__payload_end(p));
    if (o->prev_owner && strcmp(o->prev_owner, c->node) != 0) {
        /* 退单 goes back to the command center that sent it here */
        o->flags |= BK_OF_HANDBACK;
        bk_row_snap(bk_batch_row(c->cur, o), o, bk__dept_name(c, o->dept), c->node);
        bk_fed_want_forward(c, &o->id);
    }
}

static void accept_order(bk_core_t *c, bk_order_t *o, const char *person, const char *actor)
{
    int from = o->state;
    bk__set_state(c, o, BK_IN_PROGRESS);
    bk_rules_accepted(c, o);
    pls_buf_t *p = bk__payload_begin(c);
    bk__p_str(p, "person", person);
    bk__p_str(p, "custody", o->custody ? "staff" : "auto");
    bk__event(c, o, "accepted", from, actor, bk__payload_end(p));
    if (o->custody)
        bk__release(c, o); /* signed for: the department holds it now */
}

static void handle_report(bk_core_t *c, const void *ident, size_t ident_len,
                          const Pls__Envelope *env)
{
    const Pls__Report *r = env->report;
    bk_worker_t *w = bk_dispatch_worker(&c->disp, ident, ident_len);
    if (!w) {
        reject(c, ident, ident_len, env->corr, PLS_NOT_FOUND, "unknown worker: send Ready");
        return;
    }
    w->last_seen_ms = pls_mono_ms();
    int repeated;
    bk_order_t *o =
        check_assignment(c, ident, ident_len, env->corr, r->order, r->attempt, r->token, &repeated);
    if (!o)
        return;
    const char *actor = w->name;
    char reason[REASON_MAX];
    switch (r->kind) {
    case PLS__REPORT_KIND__REPORT_ACCEPT:
        if (o->state == BK_IN_PROGRESS) {
            bk__reply_ok(c, ident, ident_len, env->corr, "already accepted", o);
            return;
        }
        if (o->state != BK_ASSIGNED) {
            reject(c, ident, ident_len, env->corr, PLS_CONFLICT, "order is %s, not assigned",
                   bk_state_name(o->state));
            return;
        }
        accept_order(c, o, r->person && *r->person ? r->person : w->name, actor);
        bk__reply_ok(c, ident, ident_len, env->corr, "accepted", o);
        return;
    case PLS__REPORT_KIND__REPORT_PROGRESS: {
        if (o->state != BK_IN_PROGRESS) {
            reject(c, ident, ident_len, env->corr, PLS_CONFLICT,
                   "order is %s: progress needs it accepted first", bk_state_name(o->state));
            return;
        }
        pls_buf_t *p = bk__payload_begin(c);
        bk__p_int(p, "pct", r->pct);
        bk__p_str(p, "note", r->note);
        bk__event(c, o, "progress", o->state, actor, bk__payload_end(p));
        bk__reply_ok(c, ident, ident_len, env->corr, "progress recorded", o);
        return;
    }
    case PLS__REPORT_KIND__REPORT_OUTCOME:
        break;
    default:
        reject(c, ident, ident_len, env->corr, PLS_BAD_REQUEST, "unknown report");
        return;
    }
    if (o->state != BK_IN_PROGRESS) {
        reject(c, ident, ident_len, env->corr, PLS_CONFLICT,
               "order is %s: an outcome needs it accepted first", bk_state_name(o->state));
        return;
    }
    int st = 0;
    if (strcmp(r->outcome, "fail") == 0) {
        fail_attempt(c, o, r->note, actor);
    } else if (strcmp(r->outcome, "return") == 0) {
        return_order(c, o, r->note, actor);
    } else if (strcmp(r->outcome, "need_info") == 0) {
        st = need_info(c, o, r->items, r->n_items, r->note, actor, reason, sizeof(reason));
        if (st == -1) {
            bk__reply_later(c, ident, ident_len, env->corr, PLS_OK, reason, NULL, 0, BK_OUT_REPLY,
                            -1);
            return;
        }
    } else if (strcmp(r->outcome, "extend") == 0) {
        st = bk_rules_extension_request(c, o, r->days, r->note, actor, reason, sizeof(reason));
        if (st == 0 && o->custody == 0) {
            /* an automatic handler that needs more time hands the step to the
             * department's people: its attempt ends, the order stays signed
             * for (staff custody) and the decision applies to its limit */
            bk__release(c, o);
            o->custody = 1;
        }
    } else {
        st = bk__apply_outcome(c, o, r->outcome, r->note, actor, reason, sizeof(reason));
    }
    if (st) {
        bk_core_reply_now(c, ident, ident_len, env->corr, (uint32_t)st, reason, NULL);
        return;
    }
    bk__reply_later(c, ident, ident_len, env->corr, PLS_OK, "recorded", NULL, 0, BK_OUT_REPLY, -1);
}

/* An operator's action on an order that is not in memory here: a copy goes
 * to its owner as a Request; otherwise say why it cannot be done. */
typedef struct closed_lookup {
    bk_core_t *core;
    uint8_t ident[BK_IDENT_MAX];
    size_t ident_len;
    uint64_t corr;
    int verb;
    char ref[64];
    char *request; /* owned: the Request body for the owner */
} closed_lookup_t;

static const char *verb_name(int verb);

/* Apply a lookup's action (kept as its Request body) to an open order. */
static void act_from_json(bk_core_t *c, closed_lookup_t *d, bk_order_t *o)
{
    json_t *body = json_loads(d->request, 0, NULL);
    char reason[REASON_MAX];
    if (!body) {
        bk_core_reply_now(c, d->ident, d->ident_len, d->corr, PLS_BAD_REQUEST, "bad request", NULL);
        return;
    }
    Pls__ActionRequest a;
    pls__action_request__init(&a);
    char id[PLS_UUID_STR];
    pls_uuid_format(&o->id, id);
#define JS(k)                                                                                      \
    ((char *)(uintptr_t)(json_string_value(json_object_get(body, k))                               \
                             ? json_string_value(json_object_get(body, k))                         \
                             : ""))
    a.verb = (Pls__Verb)json_integer_value(json_object_get(body, "code"));
    a.order = id;
    a.dept = JS("dept");
    a.scope = JS("scope");
    a.outcome = JS("outcome");
    a.note = JS("note");
    a.person = JS("person");
    a.to = JS("to");
#undef JS
    a.days = (uint32_t)json_integer_value(json_object_get(body, "days"));
    a.pct = (uint32_t)json_integer_value(json_object_get(body, "pct"));
    char *items[PLS_MAX_ITEMS];
    size_t n = 0, i;
    json_t *it;
    json_array_foreach(json_object_get(body, "items"), i, it)
    {
        if (n < PLS_MAX_ITEMS && json_is_string(it))
            items[n++] = (char *)(uintptr_t)json_string_value(it);
    }
    a.items = items;
    a.n_items = n;
    const char *actor = json_string_value(json_object_get(body, "actor"));
    pls_uuid_t oid = o->id; /* the order may leave memory (withdrawn, completed) */
    int st = bk__act(c, o, &a, actor ? actor : "operator", reason, sizeof(reason));
    if (st)
        bk_core_reply_now(c, d->ident, d->ident_len, d->corr, (uint32_t)st, reason, NULL);
    else
        bk__reply_ok(c, d->ident, d->ident_len, d->corr, reason, bk_orders_get(&c->orders, &oid));
    json_decref(body);
}

static void on_closed_lookup(void *arg, int ok, const bk_rows_t *rows, const char *err)
{
    closed_lookup_t *d = arg;
    bk_core_t *c = d->core;
    char reason[REASON_MAX];
    PLS_UNUSED(err);
    if (!ok || !rows) {
        bk_core_reply_now(c, d->ident, d->ident_len, d->corr, PLS_UNAVAILABLE,
                          "store unavailable: retry", NULL);
    } else if (bk_rows_count(rows) == 0) {
        snprintf(reason, sizeof(reason), "no order %s at this node", d->ref);
        bk_core_reply_now(c, d->ident, d->ident_len, d->corr, PLS_NOT_FOUND, reason, NULL);
    } else {
        const char *number = bk_rows_get(rows, 0, 0), *state = bk_rows_get(rows, 0, 1);
        const char *owner = bk_rows_get(rows, 0, 2), *id = bk_rows_get(rows, 0, 3);
        int st = bk_state_parse(state);
        pls_uuid_t uid;
        bk_order_t *o = pls_uuid_parse(id, &uid) == 0 ? bk_orders_get(&c->orders, &uid) : NULL;
        if (o && c->ready) {
            /* named by its number: open here after all */
            act_from_json(c, d, o);
        } else if (strcmp(owner, c->node) != 0 && st >= 0 && bk_state_open(st) && c->ready &&
                   pls_uuid_parse(id, &uid) == 0) {
            bk_fed_emit(c, owner, NULL, "request", &uid, d->request);
            snprintf(reason, sizeof(reason),
                     "sent to %s, which owns order %s: it applies the change or records why "
                     "not in the order's history",
                     owner, number);
            bk__reply_later(c, d->ident, d->ident_len, d->corr, PLS_OK, reason, NULL, 0,
                            BK_OUT_REPLY, -1);
        } else {
            snprintf(reason, sizeof(reason), "order %s is %s: cannot %s it", number, state,
                     verb_name(d->verb));
            bk_core_reply_now(c, d->ident, d->ident_len, d->corr, PLS_CONFLICT, reason, NULL);
        }
    }
    free(d->request);
    free(d);
}

static const char *verb_name(int verb)
{
    static const char *const names[] = {"none",
                                        "requeue",
                                        "withdraw",
                                        "accept",
                                        "progress",
                                        "complete",
                                        "return",
                                        "need-info",
                                        "supplement",
                                        "post away",
                                        "post back",
                                        "transfer",
                                        "extension request",
                                        "extension approve",
                                        "extension refuse",
                                        "rate",
                                        "review",
                                        "review",
                                        "need-info approve",
                                        "need-info refuse",
                                        "terminate"};
    return verb >= 0 && verb < (int)PLS_ARRAY_LEN(names) ? names[verb] : "act on";
}

static void not_open(bk_core_t *c, const void *ident, size_t ident_len, uint64_t corr,
                     const Pls__ActionRequest *a, const char *actor)
{
    closed_lookup_t *d = pls_xcalloc(1, sizeof(*d));
    d->core = c;
    memcpy(d->ident, ident, ident_len < BK_IDENT_MAX ? ident_len : BK_IDENT_MAX);
    d->ident_len = ident_len;
    d->corr = corr;
    d->verb = (int)a->verb;
    snprintf(d->ref, sizeof(d->ref), "%s", a->order);
    pls_buf_t b;
    pls_buf_init(&b);
    pls_buf_addc(&b, '{');
    bk__p_str(&b, "verb", verb_name((int)a->verb));
    bk__p_int(&b, "code", (int64_t)a->verb);
    bk__p_str(&b, "actor", actor);
    bk__p_str(&b, "dept", a->dept);
    bk__p_str(&b, "scope", a->scope);
    bk__p_str(&b, "outcome", a->outcome);
    bk__p_str(&b, "note", a->note);
    bk__p_str(&b, "person", a->person);
    bk__p_str(&b, "to", a->to);
    bk__p_int(&b, "days", a->days);
    bk__p_int(&b, "pct", a->pct);
    bk__p_items(&b, "items", a->items, a->n_items);
    pls_buf_addc(&b, '}');
    d->request = pls_buf_take(&b);
    pls_uuid_t id;
    const char *params[2] = {pls_uuid_parse(a->order, &id) == 0 ? a->order : NULL, a->order};
    if (bk_store_query(c->store,
                       "SELECT number, state, owner, id FROM orders WHERE id = $1::uuid OR "
                       "number = $2 LIMIT 1",
                       2, params, on_closed_lookup, d) != 0) {
        bk_core_reply_now(c, ident, ident_len, corr, PLS_UNAVAILABLE, "store unavailable: retry",
                          NULL);
        free(d->request);
        free(d);
    }
}

/* Tests move the rule clock of a broker started with --test-clock. */
static void handle_clock(bk_core_t *c, const void *ident, size_t ident_len, uint64_t corr,
                         const Pls__ActionRequest *a)
{
    if (!c->cfg.test_clock) {
        reject(c, ident, ident_len, corr, PLS_FORBIDDEN,
               "the rule clock can be moved only on a broker started with --test-clock");
        return;
    }
    double speed = a->clock_speed ? (double)a->clock_speed : 1.0;
    pls_rule_clock_set(a->clock_offset_ms, speed);
    char reason[REASON_MAX], now[40];
    pls_format_iso_ms(pls_rule_ms(), now, sizeof(now));
    snprintf(reason, sizeof(reason), "rule clock: offset %lld ms, speed %gx, now %s",
             (long long)a->clock_offset_ms, speed, now);
    pls_warn("%s", reason);
    bk_core_reply_now(c, ident, ident_len, corr, PLS_OK, reason, NULL);
}

static void handle_post(bk_core_t *c, const void *ident, size_t ident_len, const Pls__Envelope *env)
{
    const Pls__ActionRequest *a = env->action;
    int dept = bk_catalog_dept(&c->cat, a->dept);
    if (dept < 0) {
        reject(c, ident, ident_len, env->corr, PLS_NOT_FOUND, "unknown department %s", a->dept);
        return;
    }
    if (!pls_node_within(a->scope, c->node)) {
        reject(c, ident, ident_len, env->corr, PLS_BAD_REQUEST, "scope %s is not served by node %s",
               a->scope, c->node);
        return;
    }
    bk_queue_t *q = bk_dispatch_queue(&c->disp, dept, bk_dispatch_intern(&c->disp, a->scope), 1);
    int away = a->verb == PLS__VERB__VERB_POST_AWAY;
    q->away = away;
    const char *v[] = {a->dept, a->scope, env->actor && *env->actor ? env->actor : "operator"};
    if (away)
        bk_sql_add(&c->cur->extra,
                   "INSERT INTO posts_away (dept, scope, since, actor) VALUES ($1, $2, now(), $3) "
                   "ON CONFLICT DO NOTHING",
                   3, v);
    else
        bk_sql_add(&c->cur->extra, "DELETE FROM posts_away WHERE dept = $1 AND scope = $2", 2, v);
    bk_dispatch_mark(&c->disp, q);
    char reason[REASON_MAX];
    snprintf(reason, sizeof(reason), "post %s at %s is %s", a->dept, a->scope,
             away ? "away: its orders go to B-post workers" : "back");
    bk__reply_ok(c, ident, ident_len, env->corr, reason, NULL);
}

int bk__act(bk_core_t *c, bk_order_t *o, const Pls__ActionRequest *a, const char *actor,
            char *reason, size_t reasonsz)
{
    int st = 0;
    int from = o->state;
    switch (a->verb) {
    case PLS__VERB__VERB_REQUEUE: {
        if (o->state != BK_RETURNED && o->state != BK_FAILED) {
            st = PLS_CONFLICT;
            snprintf(reason, reasonsz,
                     "order %s is %s: only returned or failed orders are requeued", o->number,
                     bk_state_name(o->state));
            break;
        }
        int dept = o->dept;
        if (a->dept && *a->dept) {
            dept = bk_catalog_dept(&c->cat, a->dept);
            if (dept < 0) {
                st = PLS_NOT_FOUND;
                snprintf(reason, reasonsz, "unknown department %s", a->dept);
                break;
            }
        }
        if (o->state == BK_FAILED)
            o->attempt = 0; /* a fresh round of attempts */
        bk__route(c, o, o->step, dept, NULL, actor, "requeued", a->note);
        snprintf(reason, reasonsz, "requeued to %s at %s", bk__dept_name(c, dept), o->scope);
        break;
    }
    case PLS__VERB__VERB_WITHDRAW: {
        bk__push_revoke(c, o, "withdrawn");
        bk__unqueue(c, o);
        bk__release(c, o);
        bk__set_state(c, o, BK_WITHDRAWN);
        pls_buf_t *p = bk__payload_begin(c);
        bk__p_str(p, "note", a->note);
        bk__event(c, o, "withdrawn", from, actor, bk__payload_end(p));
        snprintf(reason, reasonsz, "withdrawn");
        bk__leave(c, o);
        return 0;
    }
    case PLS__VERB__VERB_TERMINATE: {
        bk__push_revoke(c, o, "terminated");
        bk__unqueue(c, o);
        bk__release(c, o);
        bk__set_state(c, o, BK_TERMINATED);
        pls_buf_t *p = bk__payload_begin(c);
        bk__p_str(p, "note", a->note);
        bk__p_str(p, "approved_by", actor);
        bk__event(c, o, "terminated", from, actor, bk__payload_end(p));
        snprintf(reason, reasonsz, "terminated");
        bk__leave(c, o);
        return 0;
    }
    case PLS__VERB__VERB_ACCEPT:
        if (o->state == BK_IN_PROGRESS) {
            snprintf(reason, reasonsz, "already accepted");
            break;
        }
        if (o->state != BK_ASSIGNED) {
            st = PLS_CONFLICT;
            snprintf(reason, reasonsz, "order %s is %s, not assigned", o->number,
                     bk_state_name(o->state));
            break;
        }
        if (o->custody == 0) {
            /* a person takes it over from an automatic handler */
            bk__push_revoke(c, o, "accepted by a person");
            bk__release(c, o);
            o->custody = 1;
        }
        accept_order(c, o, a->person, actor);
        snprintf(reason, reasonsz, "accepted by %s", a->person);
        break;
    case PLS__VERB__VERB_PROGRESS: {
        if (o->state != BK_IN_PROGRESS) {
            st = PLS_CONFLICT;
            snprintf(reason, reasonsz, "order %s is %s: sign for it first (plsctl accept)",
                     o->number, bk_state_name(o->state));
            break;
        }
        pls_buf_t *p = bk__payload_begin(c);
        bk__p_int(p, "pct", a->pct);
        bk__p_str(p, "note", a->note);
        bk__event(c, o, "progress", from, actor, bk__payload_end(p));
        snprintf(reason, reasonsz, "progress recorded");
        break;
    }
    case PLS__VERB__VERB_COMPLETE:
        if (o->state != BK_IN_PROGRESS) {
            st = PLS_CONFLICT;
            snprintf(reason, reasonsz, "order %s is %s: sign for it first (plsctl accept)",
                     o->number, bk_state_name(o->state));
            break;
        }
        if (o->custody == 0 && o->worker) {
            bk__push_revoke(c, o, "completed by a person");
        }
        st = bk__apply_outcome(c, o, a->outcome, a->note, actor, reason, reasonsz);
        if (!st)
            snprintf(reason, reasonsz, "step completed: %s", a->outcome);
        break;
    case PLS__VERB__VERB_RETURN:
        if (o->state != BK_IN_PROGRESS && o->state != BK_ASSIGNED) {
            st = PLS_CONFLICT;
            snprintf(reason, reasonsz, "order %s is %s: only a held order is returned", o->number,
                     bk_state_name(o->state));
            break;
        }
        bk__push_revoke(c, o, "returned");
        return_order(c, o, a->note, actor);
        snprintf(reason, reasonsz, "returned to the command center");
        break;
    case PLS__VERB__VERB_NEED_INFO:
        if (o->state != BK_IN_PROGRESS) {
            st = PLS_CONFLICT;
            snprintf(reason, reasonsz,
                     o->state == BK_WAITING_CITIZEN
                         ? "order %s is %s: the notice was given; a supplement comes next"
                         : "order %s is %s: sign for it first (plsctl accept)",
                     o->number, bk_state_name(o->state));
            break;
        }
        if (o->custody == 0 && o->worker && !(o->flags & BK_OF_NEED_INFO_USED))
            bk__push_revoke(c, o, "waiting for the citizen");
        st = need_info(c, o, a->items, a->n_items, a->note, actor, reason, reasonsz);
        if (!st)
            snprintf(reason, reasonsz,
                     "one-time notice recorded: %zu item%s; the clock is paused until the "
                     "supplement",
                     a->n_items, a->n_items == 1 ? "" : "s");
        if (st == -1)
            st = 0; /* held: reason says so */
        break;
    case PLS__VERB__VERB_SUPPLEMENT: {
        if (o->state != BK_WAITING_CITIZEN) {
            st = PLS_CONFLICT;
            snprintf(reason, reasonsz, "order %s is %s, not waiting for the citizen", o->number,
                     bk_state_name(o->state));
            break;
        }
        bk_rules_resumed(c, o);
        pls_buf_t *p = bk__payload_begin(c);
        bk__p_str(p, "text", a->note);
        if (o->custody) {
            bk__set_state(c, o, BK_IN_PROGRESS);
            bk__event(c, o, "supplemented", from, actor, bk__payload_end(p));
        } else {
            /* an automatic handler starts the step again with the material */
            bk__event(c, o, "supplemented", from, actor, bk__payload_end(p));
            bk__route(c, o, o->step, o->dept, NULL, actor, "queued", "supplement received");
        }
        snprintf(reason, reasonsz, "supplement recorded; order is %s", bk_state_name(o->state));
        break;
    }
    case PLS__VERB__VERB_TRANSFER: {
        /* 转办: the current step to another node (and department) */
        if (o->state != BK_QUEUED && o->state != BK_RETURNED && o->state != BK_FAILED &&
            o->state != BK_ASSIGNED && o->state != BK_IN_PROGRESS) {
            st = PLS_CONFLICT;
            snprintf(reason, reasonsz, "order %s is %s: it cannot be transferred", o->number,
                     bk_state_name(o->state));
            break;
        }
        char city[PLS_NODE_MAX], mine[PLS_NODE_MAX];
        pls_node_prefix(a->to, 1, city, sizeof(city));
        pls_node_prefix(c->node, 1, mine, sizeof(mine));
        if (strcmp(city, mine) != 0) {
            st = PLS_BAD_REQUEST;
            snprintf(reason, reasonsz, "%s is outside this network", a->to);
            break;
        }
        int dept = o->dept;
        if (a->dept && *a->dept) {
            dept = bk_catalog_dept(&c->cat, a->dept);
            if (dept < 0) {
                st = PLS_NOT_FOUND;
                snprintf(reason, reasonsz, "unknown department %s", a->dept);
                break;
            }
        }
        if (o->worker || o->state == BK_IN_PROGRESS)
            bk__push_revoke(c, o, "transferred");
        bk__unqueue(c, o);
        bk__release(c, o);
        o->flags &= (uint8_t)~BK_OF_HANDBACK;
        bk__route(c, o, o->step, dept, a->to, actor, "transferred", a->note);
        snprintf(reason, reasonsz, "transferred to %s at %s%s", bk__dept_name(c, dept), a->to,
                 o->state == BK_FORWARDED ? " (another command center)" : "");
        break;
    }
    case PLS__VERB__VERB_EXTENSION_REQUEST:
    case PLS__VERB__VERB_EXTENSION_APPROVE:
    case PLS__VERB__VERB_EXTENSION_REFUSE:
    case PLS__VERB__VERB_NEED_INFO_APPROVE:
    case PLS__VERB__VERB_NEED_INFO_REFUSE:
    case PLS__VERB__VERB_RATE:
    case PLS__VERB__VERB_REVIEW_REDO:
    case PLS__VERB__VERB_REVIEW_CLOSE:
        st = bk_rules_act(c, o, a, actor, reason, reasonsz);
        break;
    default:
        st = 501;
        snprintf(reason, reasonsz, "%s is not available in this version", verb_name((int)a->verb));
    }
    return st;
}

static void handle_action(bk_core_t *c, const void *ident, size_t ident_len,
                          const Pls__Envelope *env)
{
    const Pls__ActionRequest *a = env->action;
    const char *actor = env->actor && *env->actor ? env->actor : "operator";
    if (a->verb == PLS__VERB__VERB_POST_AWAY || a->verb == PLS__VERB__VERB_POST_BACK) {
        handle_post(c, ident, ident_len, env);
        return;
    }
    if (a->verb == PLS__VERB__VERB_CLOCK) {
        handle_clock(c, ident, ident_len, env->corr, a);
        return;
    }
    bk_order_t *o = bk_orders_find(&c->orders, a->order);
    if (!o && (a->verb == PLS__VERB__VERB_RATE || a->verb == PLS__VERB__VERB_REVIEW_REDO ||
               a->verb == PLS__VERB__VERB_REVIEW_CLOSE)) {
        bk_rules_offline(c, ident, ident_len, env->corr, a, actor);
        return;
    }
    if (!o) {
        not_open(c, ident, ident_len, env->corr, a, actor);
        return;
    }
    if (o->flags & BK_OF_NEW) {
        reject(c, ident, ident_len, env->corr, PLS_UNAVAILABLE, "order %s is being saved: retry",
               o->number);
        return;
    }
    if (bk_authorize(c, actor, PLS__ENVELOPE__BODY_ACTION, o) != 0) {
        reject(c, ident, ident_len, env->corr, PLS_FORBIDDEN, "%s may not %s order %s", actor,
               verb_name((int)a->verb), o->number);
        return;
    }
    char reason[REASON_MAX];
    pls_uuid_t id = o->id;
    int st = bk__act(c, o, a, actor, reason, sizeof(reason));
    if (st) {
        bk_core_reply_now(c, ident, ident_len, env->corr, (uint32_t)st, reason, NULL);
        return;
    }
    /* the order may have left memory (withdrawn, completed, handed over) */
    bk__reply_ok(c, ident, ident_len, env->corr, reason, bk_orders_get(&c->orders, &id));
}

void bk_core_malformed(bk_core_t *c, const void *ident, size_t ident_len, const char *why)
{
    pls_warn("malformed message from a peer: %s", why);
    bk_core_reply_now(c, ident, ident_len, 0, PLS_BAD_REQUEST, why, NULL);
}

void bk_core_message(bk_core_t *c, const void *ident, size_t ident_len, const void *data,
                     size_t len)
{
    char reason[REASON_MAX];
    /* only brokers (the parent, or a child whose routing id says link:) may
     * send more than the envelope cap */
    int link_peer = !ident || (ident_len > 5 && memcmp(ident, "link:", 5) == 0);
    if (len > PLS_MAX_ENVELOPE && !link_peer) {
        snprintf(reason, sizeof(reason), "envelope of %zu bytes is larger than %d", len,
                 PLS_MAX_ENVELOPE);
        pls_warn("refused a frame of %zu bytes: %s", len, reason);
        bk_core_reply_now(c, ident, ident_len, 0, PLS_TOO_LARGE, reason, NULL);
        return;
    }
    Pls__Envelope *env = pls_proto_unpack(data, len, reason, sizeof(reason));
    if (!env) {
        pls_warn("refused a frame of %zu bytes: %s", len, reason);
        bk_core_reply_now(c, ident, ident_len, 0,
                          len > PLS_MAX_ENVELOPE ? PLS_TOO_LARGE : PLS_BAD_REQUEST, reason, NULL);
        return;
    }
    int st = pls_proto_validate(env, reason, sizeof(reason));
    if (st) {
        pls_info("refused %s: %s", pls_proto_body_name(env->body_case), reason);
        bk_core_reply_now(c, ident, ident_len, env->corr, (uint32_t)st, reason, NULL);
        pls_proto_free(env);
        return;
    }
    if (env->body_case == PLS__ENVELOPE__BODY_REPLY) {
        pls_proto_free(env); /* nobody asked */
        return;
    }
    if (!c->ready || c->draining) {
        bk_core_reply_now(
            c, ident, ident_len, env->corr, PLS_UNAVAILABLE,
            c->draining ? "broker is shutting down: retry" : "store unavailable: retry", NULL);
        pls_proto_free(env);
        return;
    }
    if (bk_authorize(c, env->actor, env->body_case, NULL) != 0) {
        bk_core_reply_now(c, ident, ident_len, env->corr, PLS_FORBIDDEN, "not allowed", NULL);
        pls_proto_free(env);
        return;
    }
    c->raw = data;
    c->raw_len = len;
    switch (env->body_case) {
    case PLS__ENVELOPE__BODY_SUBMIT:
        handle_submit(c, ident, ident_len, env);
        break;
    case PLS__ENVELOPE__BODY_ACTION:
        handle_action(c, ident, ident_len, env);
        break;
    case PLS__ENVELOPE__BODY_QUERY:
        bk_query_handle(c, ident, ident_len, env->corr, env->actor, env->query);
        break;
    case PLS__ENVELOPE__BODY_READY:
        handle_ready(c, ident, ident_len, env);
        break;
    case PLS__ENVELOPE__BODY_HEARTBEAT:
        handle_heartbeat(c, ident, ident_len, env);
        break;
    case PLS__ENVELOPE__BODY_REPORT:
        handle_report(c, ident, ident_len, env);
        break;
    case PLS__ENVELOPE__BODY_HELLO:
        bk_fed_hello(c, ident, ident_len, env->hello);
        break;
    case PLS__ENVELOPE__BODY_LINK:
        bk_fed_link(c, ident, ident_len, env->link);
        break;
    case PLS__ENVELOPE__BODY_SUMMARY:
        bk_fed_summary(c, env->summary);
        break;
    default:
        bk_core_reply_now(c, ident, ident_len, env->corr, PLS_BAD_REQUEST,
                          "a broker does not accept this message", NULL);
    }
    pls_proto_free(env);
}

/* ------------------------------------------------------------- tick */

void bk_core_tick(bk_core_t *c)
{
    if (!c->ready)
        return; /* leases do not expire while the store is unavailable */
    bk_fed_tick(c);
    bk_rules_tick(c);
    if (c->fed.parent && c->fed.parent->connected &&
        pls_mono_ms() - c->fed.last_summary_ms >= 2000) {
        c->fed.last_summary_ms = pls_mono_ms();
        bk_query_send_summary(c);
    }
    int64_t now = pls_mono_ms();
    /* dead workers: no message for a lease time */
    bk_worker_t *dead[64];
    int n_dead = 0;
    void *e;
    for (size_t i = 0; n_dead < 64 && (e = bk_index_next(&c->disp.workers, &i));) {
        bk_worker_t *w = e;
        if (now - w->last_seen_ms > c->cfg.lease_ms)
            dead[n_dead++] = w;
    }
    for (int i = 0; i < n_dead; i++) {
        pls_warn("worker %s silent for %lld ms: its leases expire", dead[i]->name,
                 (long long)(now - dead[i]->last_seen_ms));
        forget_worker(c, dead[i], "worker silent past its lease");
    }
    /* retries whose backoff ended */
    while (c->retries.n && c->retries.e[0].when_ms <= now) {
        pls_uuid_t id = c->retries.e[0].id;
        bk__heap_pop(&c->retries);
        bk_order_t *o = bk_orders_get(&c->orders, &id);
        if (!o || !(o->flags & BK_OF_BACKOFF) || o->state != BK_QUEUED)
            continue;
        o->flags &= (uint8_t)~BK_OF_BACKOFF;
        bk_queue_t *q = bk_dispatch_queue(&c->disp, o->dept, o->scope, 1);
        bk_queue_push(q, o);
        bk_dispatch_mark(&c->disp, q);
    }
    /* assignments held before a restart and not re-attached by their workers */
    if (c->orphan_deadline_ms && now >= c->orphan_deadline_ms) {
        c->orphan_deadline_ms = 0;
        bk_order_t *list[256];
        int more = 1;
        while (more) {
            int n = 0;
            more = 0;
            for (size_t i = 0; (e = bk_index_next(&c->orders.by_id, &i));) {
                bk_order_t *o = e;
                if (!(o->flags & BK_OF_ORPHAN))
                    continue;
                if (n == 256) {
                    more = 1;
                    break;
                }
                list[n++] = o;
            }
            for (int i = 0; i < n; i++)
                expire_lease(c, list[i], "not re-attached after a broker restart");
        }
    }
}

/* ------------------------------------------------------------- boot */

static int boot_dept(void *arg, char **v, int n)
{
    PLS_UNUSED(n);
    return bk_catalog_add_dept(&((bk_core_t *)arg)->cat, v);
}
static int boot_service(void *arg, char **v, int n)
{
    PLS_UNUSED(n);
    return bk_catalog_add_service(&((bk_core_t *)arg)->cat, v);
}
static int boot_step(void *arg, char **v, int n)
{
    PLS_UNUSED(n);
    return bk_catalog_add_step(&((bk_core_t *)arg)->cat, v);
}
static int boot_outcome(void *arg, char **v, int n)
{
    PLS_UNUSED(n);
    return bk_catalog_add_outcome(&((bk_core_t *)arg)->cat, v);
}
static int boot_route(void *arg, char **v, int n)
{
    PLS_UNUSED(n);
    return bk_catalog_add_route(&((bk_core_t *)arg)->cat, v);
}

static int boot_seen(void *arg, char **v, int n)
{
    bk_core_t *c = arg;
    PLS_UNUSED(n);
    int dept = bk_catalog_dept(&c->cat, v[0]);
    if (dept < 0)
        return 0; /* a department removed from the catalog */
    bk_queue_t *q = bk_dispatch_queue(&c->disp, dept, bk_dispatch_intern(&c->disp, v[1]), 1);
    q->seen = 1;
    return 0;
}

static int boot_away(void *arg, char **v, int n)
{
    bk_core_t *c = arg;
    PLS_UNUSED(n);
    int dept = bk_catalog_dept(&c->cat, v[0]);
    if (dept < 0)
        return 0;
    bk_queue_t *q = bk_dispatch_queue(&c->disp, dept, bk_dispatch_intern(&c->disp, v[1]), 1);
    q->away = 1;
    return 0;
}

static int boot_counter(void *arg, char **v, int n)
{
    bk_core_t *c = arg;
    PLS_UNUSED(n);
    c->day_seq = (uint32_t)strtoul(v[0], NULL, 10);
    return 0;
}

static int boot_reserve(void *arg, char **v, int n)
{
    bk_core_t *c = arg;
    PLS_UNUSED(n);
    long long open = v[0] ? atoll(v[0]) : 0;
    if (open > 0) {
        bk_index_reserve(&c->orders.by_id, (size_t)open);
        bk_index_reserve(&c->orders.by_key, (size_t)open);
    }
    return 0;
}

/* Times as epoch milliseconds through date_part (double precision): extract()
 * is numeric since PostgreSQL 14, several times slower over a million rows,
 * and the stored times are whole milliseconds, so nothing rounds differently. */
static const char boot_orders_sql[] =
    "SELECT id, number, idem_key, content_hash, service, origin, locality, priority, "
    "(date_part('epoch', created_at) * 1000)::bigint, state, step, attempt, dept, scope, token, "
    "custody, flags, next_seq, (date_part('epoch', due_at) * 1000)::bigint, intake_node, "
    "prev_owner, site, limit_kind, (date_part('epoch', limit_start) * 1000)::bigint, "
    "(date_part('epoch', whole_due) * 1000)::bigint, (date_part('epoch', paused_at) * "
    "1000)::bigint, "
    "alarms, ext_days, ext_pending, held_notice::text FROM orders WHERE open";

static int boot_order(void *arg, char **v, int n)
{
    bk_core_t *c = arg;
    if (n < 30)
        return -EINVAL;
    int svc = bk_catalog_service(&c->cat, v[4]);
    int st = bk_state_parse(v[9]);
    int dept = v[12] ? bk_catalog_dept(&c->cat, v[12]) : -1;
    if (svc < 0 || st < 0 || !bk_state_open(st) || dept < 0 || !v[13]) {
        pls_warn("skipping open order %s: inconsistent row (service %s, state %s)", v[1], v[4],
                 v[9]);
        return 0;
    }
    bk_order_t *o = bk_order_new();
    if (pls_uuid_parse(v[0], &o->id) != 0) {
        bk_order_free(o);
        return 0;
    }
    snprintf(o->number, sizeof(o->number), "%s", v[1]);
    o->key_hash = bk_key_hash(v[2]);
    o->content_hash = (uint64_t)strtoll(v[3], NULL, 10);
    o->service = (uint8_t)svc;
    o->origin = bk_dispatch_intern(&c->disp, v[5]);
    o->locality = bk_dispatch_intern(&c->disp, v[6]);
    o->priority = (uint8_t)atoi(v[7]);
    o->created_ms = strtoll(v[8], NULL, 10);
    o->state = (uint8_t)st;
    o->step = (uint8_t)(v[10] ? atoi(v[10]) : 0);
    if (o->step >= c->cat.services[svc].n_steps)
        o->step = 0;
    o->attempt = (uint16_t)atoi(v[11]);
    o->dept = (uint8_t)dept;
    o->scope = bk_dispatch_intern(&c->disp, v[13]);
    o->token = v[14] ? (uint64_t)strtoll(v[14], NULL, 10) : 0;
    o->custody = (uint8_t)atoi(v[15]);
    o->flags = (uint8_t)(atoi(v[16]) & BK_OF_STORED);
    o->next_seq = (uint32_t)atoi(v[17]);
    o->due_ms = v[18] ? strtoll(v[18], NULL, 10) : 0;
    o->intake = bk_dispatch_intern(&c->disp, v[19]);
    o->prev_owner = v[20] ? bk_dispatch_intern(&c->disp, v[20]) : NULL;
    o->site = v[21] ? bk_dispatch_intern(&c->disp, v[21]) : NULL;
    o->limit_kind = (uint8_t)atoi(v[22]);
    o->limit_start_ms = v[23] ? strtoll(v[23], NULL, 10) : 0;
    o->whole_due_ms = v[24] ? strtoll(v[24], NULL, 10) : 0;
    o->paused_ms = v[25] ? strtoll(v[25], NULL, 10) : 0;
    o->alarms = (uint8_t)atoi(v[26]);
    o->ext_days = (uint8_t)atoi(v[27]);
    o->ext_pending = (uint8_t)atoi(v[28]);
    o->notice = v[29] ? pls_xstrdup(v[29]) : NULL;
    bk_rules_schedule(c, o);
    if (strcmp(o->intake, c->node) != 0 || strncmp(v[2], "gen:", 4) == 0)
        o->key_hash = 0; /* keys are unique per intake node: index only ours, not generated */
    bk_orders_add(&c->orders, o);
    if (st == BK_FORWARDED) {
        /* its Forward was not written before the restart */
        bk_fed_want_forward(c, &o->id);
        return 0;
    }
    if (st == BK_RETURNED && (o->flags & BK_OF_HANDBACK) && o->prev_owner) {
        bk_fed_want_forward(c, &o->id);
        return 0;
    }
    if (st == BK_QUEUED || st == BK_RECEIVED) {
        if (st == BK_RECEIVED)
            bk_orders_set_state(&c->orders, o, BK_QUEUED);
        bk_queue_t *q = bk_dispatch_queue(&c->disp, o->dept, o->scope, 1);
        bk_queue_push(q, o);
        bk_dispatch_mark(&c->disp, q);
    } else if (st == BK_ASSIGNED || (st == BK_IN_PROGRESS && o->custody == 0)) {
        /* a worker holds it: wait a lease time for it to re-attach */
        o->flags |= BK_OF_ORPHAN;
    }
    return 0;
}

typedef struct rowtypes_ctx {
    bk_rowtypes_t *types;
    char err[512];
} rowtypes_ctx_t;

static int boot_rowtype(void *arg, char **v, int n)
{
    rowtypes_ctx_t *x = arg;
    return bk_rowtypes_row(x->types, v, n, x->err, sizeof(x->err)) != 0 ? -EINVAL : 0;
}

static int on_boot(bk_store_t *s, void *arg)
{
    bk_core_t *c = arg;
    char err[512];
    bk_catalog_cleanup(&c->cat);
    bk_catalog_init(&c->cat);
    struct {
        const char *sql;
        int (*fn)(void *, char **, int);
    } steps[] = {{bk_catalog_sql_depts, boot_dept},
                 {bk_catalog_sql_services, boot_service},
                 {bk_catalog_sql_steps, boot_step},
                 {bk_catalog_sql_outcomes, boot_outcome},
                 {bk_catalog_sql_routes, boot_route}};
    for (size_t i = 0; i < PLS_ARRAY_LEN(steps); i++)
        if (bk_store_boot_query(s, steps[i].sql, steps[i].fn, c, err, sizeof(err)) != 0) {
            pls_error("could not load the catalog: %s", err);
            return -EIO;
        }
    if (bk_catalog_check(&c->cat, err, sizeof(err)) != 0) {
        pls_error("catalog is inconsistent: %s", err);
        return -EINVAL;
    }
    memset(&c->rowtypes, 0, sizeof(c->rowtypes));
    rowtypes_ctx_t rt = {.types = &c->rowtypes};
    if (bk_store_boot_query(s, bk_rowtypes_sql, boot_rowtype, &rt, err, sizeof(err)) != 0 ||
        bk_rowtypes_check(&c->rowtypes, err, sizeof(err)) != 0) {
        /* a table that differs is said by boot_rowtype, anything else by the store */
        pls_error("%s", rt.err[0] ? rt.err : err);
        return -EIO;
    }
    if (!c->n_suspects)
        bk_fed_refusal_explained(c, 0);
    else if (try_suspects(c, s) != 0)
        return -EIO;
    if (bk_store_boot_query(s, "SELECT dept, scope FROM workers_seen", boot_seen, c, err,
                            sizeof(err)) ||
        bk_store_boot_query(s, "SELECT dept, scope FROM posts_away", boot_away, c, err,
                            sizeof(err))) {
        pls_error("could not load workers and posts: %s", err);
        return -EIO;
    }
    c->today = pls_shanghai_yyyymmdd(pls_wall_ms());
    c->day_seq = 0;
    char q[128];
    snprintf(q, sizeof(q), "SELECT v FROM counters WHERE k = 'day:%d'", c->today);
    if (bk_store_boot_query(s, q, boot_counter, c, err, sizeof(err)) != 0) {
        pls_error("could not load counters: %s", err);
        return -EIO;
    }
    if (bk_store_boot_query(s, bk_fed_sql_links, bk_fed_boot_link, c, err, sizeof(err)) != 0) {
        pls_error("could not load links: %s", err);
        return -EIO;
    }
    if (c->fed.parent_node[0] && !c->fed.parent) {
        /* first start with a parent: the link is made now, its row with the next batch */
        bk_fed_boot_link(c, (char *[]){c->fed.parent_node, "1", "0", "1", "0"}, 5);
        c->fed.parent->is_new = 1;
        c->fed.parent->state_dirty = 1;
    }
    /* room for every open order at once */
    if (bk_store_boot_query(s,
                            "SELECT coalesce(sum(n), 0) FROM state_counts WHERE owned AND state "
                            "IN ('received', 'forwarded', 'queued', 'assigned', 'in_progress', "
                            "'waiting_citizen', 'returned', 'failed')",
                            boot_reserve, c, err, sizeof(err)) != 0) {
        pls_error("could not count open orders: %s", err);
        return -EIO;
    }
    if (bk_store_boot_query(s, boot_orders_sql, boot_order, c, err, sizeof(err)) != 0) {
        pls_error("could not load open orders: %s", err);
        return -EIO;
    }
    return 0;
}

static void on_ready(bk_store_t *s, void *arg)
{
    bk_core_t *c = arg;
    PLS_UNUSED(s);
    c->ready = 1;
    int orphans = 0;
    void *e;
    for (size_t i = 0; (e = bk_index_next(&c->orders.by_id, &i));)
        orphans += (((bk_order_t *)e)->flags & BK_OF_ORPHAN) != 0;
    if (orphans)
        c->orphan_deadline_ms = pls_mono_ms() + c->cfg.lease_ms;
    pls_info("ready: %zu open orders (%d held by workers before the restart), %zu queued",
             bk_orders_size(&c->orders), orphans, c->orders.count[BK_QUEUED]);
}

/* Drop everything in memory: the store is the truth (the restart path). */
static void drop_state(bk_core_t *c)
{
    bk_batch_cleanup(c->cur);
    bk_batch_init(c->cur, ++c->gen);
    bk_orders_cleanup(&c->orders);
    bk_orders_init(&c->orders);
    bk_dispatch_cleanup(&c->disp);
    bk_dispatch_init(&c->disp);
    /* what left memory may not have been committed: the reload knows */
    bk_recent_cleanup(&c->recent);
    bk_recent_init(&c->recent);
    c->retries.n = 0;
    c->alarms.n = 0;
    c->orphan_deadline_ms = 0;
    bk_fed_reset(c);
}

/* Forget the batches in flight (their on_batch_done, if it comes, finds none). */
static void drop_inflight(bk_core_t *c)
{
    for (int k = 0; k < c->n_inflight; k++)
        bk_batch_cleanup(c->inflight[k]);
    c->n_inflight = 0;
}

static void on_lost(bk_store_t *s, void *arg, const char *why)
{
    bk_core_t *c = arg;
    PLS_UNUSED(s);
    /* once per loss: the store calls this when a serving connection goes */
    pls_warn("store unavailable (%s): answering 503 and reloading when it is back", why);
    c->ready = 0;
    /* pending replies cannot be kept: 503 them. The store has reported the
     * batches in flight failed already (what they committed, if anything, is
     * reloaded; clients resend with their keys); any left are dropped here
     * and their on_batch_done finds none */
    for (int k = 0; k < c->n_inflight; k++)
        reply_unavailable(c, c->inflight[k]);
    reply_unavailable(c, c->cur);
    drop_inflight(c);
    drop_state(c);
}

static void on_fatal(bk_store_t *s, void *arg, const char *why)
{
    PLS_UNUSED(s);
    PLS_UNUSED(arg);
    pls_error("%s", why);
    exit(1);
}

/* ------------------------------------------------------------- life */

int bk_core_init(bk_core_t *c, uv_loop_t *loop, const bk_config_t *cfg, bk_send_fn send,
                 void *send_arg)
{
    memset(c, 0, sizeof(*c));
    c->loop = loop;
    c->cfg = *cfg;
    if (c->cfg.lease_ms <= 0)
        c->cfg.lease_ms = 10000;
    if (c->cfg.max_attempts <= 0)
        c->cfg.max_attempts = 5;
    if (c->cfg.retry_base_ms <= 0)
        c->cfg.retry_base_ms = 1000;
    snprintf(c->node, sizeof(c->node), "%s", cfg->node);
    c->cfg.node = c->node;
    pls_node_code(c->node, c->node_code, sizeof(c->node_code));
    bk_catalog_init(&c->cat);
    bk_orders_init(&c->orders);
    bk_dispatch_init(&c->disp);
    bk_recent_init(&c->recent);
    char parent_node[PLS_NODE_MAX] = "";
    if (cfg->parent && pls_node_depth(c->node) > 1)
        pls_node_prefix(c->node, pls_node_depth(c->node) - 1, parent_node, sizeof(parent_node));
    bk_fed_init(&c->fed, parent_node[0] ? parent_node : NULL);
    c->cfg.has_parent = parent_node[0] != 0;
    if (cfg->topology) {
        char err[256];
        if (bk_fed_load_topology(c, cfg->topology, err, sizeof(err)) != 0) {
            pls_error("could not load the topology: %s", err);
            return -EINVAL;
        }
    }
    c->cal = pls_calendar_new();
    char cerr[300];
    int crc = cfg->calendar
                  ? pls_calendar_load(c->cal, cfg->calendar, cerr, sizeof(cerr))
                  : pls_calendar_load_text(c->cal, "built-in calendar", bk_calendar_builtin,
                                           bk_calendar_builtin_len, cerr, sizeof(cerr));
    if (crc != 0) {
        pls_error("could not load the working-day calendar: %s", cerr);
        return -EINVAL;
    }
    pls_buf_init(&c->sql);
    pls_buf_init(&c->scratch);
    c->cur = &c->batches[0];
    bk_batch_init(c->cur, ++c->gen);
    c->send = send;
    c->send_arg = send_arg;
    c->started_ms = pls_mono_ms();
    pls_hist_init(&c->commit_hist, 10000);
    bk_store_cbs_t cbs = {on_boot, on_ready, on_lost, on_fatal};
    c->store = bk_store_new(loop, cfg->db, c->node, &cbs, c);
    return 0;
}

void bk_core_start(bk_core_t *c)
{
    bk_store_start(c->store);
}

void bk_core_drain(bk_core_t *c)
{
    c->draining = 1;
}

int bk_core_drained(const bk_core_t *c)
{
    return c->draining && !c->n_inflight && (bk_batch_empty(c->cur) || !c->ready);
}

void bk_core_cleanup(bk_core_t *c)
{
    bk_store_stop(c->store);
    bk_store_destroy(&c->store);
    drop_inflight(c);
    bk_batch_cleanup(c->cur);
    bk_orders_cleanup(&c->orders);
    bk_dispatch_cleanup(&c->disp);
    bk_recent_cleanup(&c->recent);
    bk_fed_cleanup(&c->fed);
    bk_catalog_cleanup(&c->cat);
    pls_buf_cleanup(&c->sql);
    pls_buf_cleanup(&c->scratch);
    free(c->retries.e);
    free(c->alarms.e);
    for (uint32_t i = 0; i < c->n_suspects; i++)
        pls_buf_cleanup(&c->suspects[i].sql);
    free(c->suspects);
    pls_calendar_destroy(&c->cal);
}
