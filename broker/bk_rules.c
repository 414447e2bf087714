/*
 * bk_rules — see bk_rules.h.
 */
#include "bk_rules.h"

#include "bk_core_int.h"
#include "bk_limits.h"
#include "pls_log.h"
#include "pls_time.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REASON_MAX 300

static void iso(int64_t ms, char *out, unsigned n)
{
    pls_format_iso_ms(ms, out, n);
}

static void view_of(const bk_core_t *c, const bk_order_t *o, bk_limits_view_t *v)
{
    const bk_step_t *s = &c->cat.services[o->service].steps[o->step];
    /* an unclaimed order is offered one level up (a consult after 4 h) */
    /* while queued, the 签收 limit started when it entered the queue */
    v->escalate_ms = o->state == BK_QUEUED && s->escalate_after_ms && o->limit_start_ms &&
                             pls_node_depth(o->scope) > 1
                         ? o->limit_start_ms + s->escalate_after_ms
                         : 0;
    v->limit_start_ms = o->limit_start_ms;
    v->due_ms = o->due_ms;
    v->created_ms = o->created_ms;
    v->whole_due_ms = o->whole_due_ms;
    v->paused_ms = o->paused_ms;
    v->alarms = o->alarms;
}

void bk_rules_schedule(bk_core_t *c, bk_order_t *o)
{
    bk_limits_view_t v;
    view_of(c, o, &v);
    int64_t at = 0;
    if (bk_limits_next(c->cal, &v, &at) == BK_ALARM_NONE) {
        o->alarm_at_ms = 0;
        return;
    }
    if (at == o->alarm_at_ms)
        return; /* already in the heap at that time */
    o->alarm_at_ms = at;
    bk__heap_push(&c->alarms, at, &o->id);
}

void bk_rules_received(bk_core_t *c, bk_order_t *o)
{
    const bk_service_t *s = &c->cat.services[o->service];
    if (s->whole_limit_n)
        o->whole_due_ms =
            bk_limits_due(c->cal, o->created_ms, s->whole_limit_n, s->whole_limit_unit);
}

void bk_rules_queued(bk_core_t *c, bk_order_t *o)
{
    int64_t now = pls_rule_ms();
    o->limit_kind = BK_LIMIT_SIGN;
    o->limit_start_ms = now;
    o->due_ms = bk_limits_sign_due(c->cal, now, o->priority);
    o->alarms &= (uint8_t) ~(BK_AL_YELLOW | BK_AL_RED | BK_AL_REPORTED);
    bk_rules_schedule(c, o);
}

void bk_rules_accepted(bk_core_t *c, bk_order_t *o)
{
    const bk_step_t *s = &c->cat.services[o->service].steps[o->step];
    int64_t now = pls_rule_ms();
    o->limit_kind = BK_LIMIT_STEP;
    o->limit_start_ms = now;
    if ((o->flags & BK_OF_DETAINED) && c->cat.services[o->service].whole_limit_statutory &&
        o->step == 0)
        o->due_ms = now + 24 * PLS_CALENDAR_HOUR_MS; /* detained: forward within 24 h */
    else
        o->due_ms = s->limit_n ? bk_limits_due(c->cal, now, s->limit_n, s->limit_unit) : 0;
    o->alarms &= (uint8_t) ~(BK_AL_YELLOW | BK_AL_RED | BK_AL_REPORTED);
    bk_rules_schedule(c, o);
}

void bk_rules_paused(bk_core_t *c, bk_order_t *o)
{
    o->paused_ms = pls_rule_ms();
    bk_rules_schedule(c, o);
}

void bk_rules_resumed(bk_core_t *c, bk_order_t *o)
{
    if (!o->paused_ms)
        return;
    int64_t d = pls_rule_ms() - o->paused_ms;
    if (d < 0)
        d = 0;
    if (o->due_ms) {
        o->due_ms += d;
        o->limit_start_ms += d;
    }
    if (o->whole_due_ms)
        o->whole_due_ms += d;
    o->paused_ms = 0;
    bk_rules_schedule(c, o);
}

void bk_rules_record_supervision(bk_core_t *c, const char *order, const char *number,
                                 const char *node, const char *dept, const char *scope,
                                 const char *kind, const char *reason)
{
    pls_buf_t *x = &c->cur->extra;
    char now[40];
    iso(pls_rule_ms(), now, sizeof(now));
    /* a statement list has no NULL values: no department or scope is '' */
    const char *vals[] = {order, number, node, dept ? dept : "", scope ? scope : "",
                          kind,  reason, now};
    bk_sql_add(x,
               "INSERT INTO supervisions (order_id, number, node, dept, scope, kind, reason, "
               "raised_at) VALUES ($1::uuid, $2, $3, NULLIF($4, ''), NULLIF($5, ''), $6, $7, "
               "$8::timestamptz) ON CONFLICT DO NOTHING",
               8, vals);
}

/* 督办: the event here, the record at the parent command center. */
static void supervise(bk_core_t *c, bk_order_t *o, const char *kind, const char *why)
{
    const char *where = c->fed.parent_node[0] ? c->fed.parent_node : c->node;
    o->alarms |= BK_AL_SUPERVISED;
    pls_buf_t *p = bk__payload_begin(c);
    bk__p_str(p, "kind", kind);
    bk__p_str(p, "reason", why);
    bk__p_str(p, "by", where);
    bk__event(c, o, "supervised", o->state, "broker", bk__payload_end(p));
    char id[PLS_UUID_STR];
    pls_uuid_format(&o->id, id);
    const char *dept = bk__dept_name(c, o->dept);
    if (!c->fed.parent_node[0]) {
        bk_rules_record_supervision(c, id, o->number, c->node, dept, o->scope, kind, why);
        return;
    }
    pls_buf_t b;
    pls_buf_init(&b);
    pls_buf_addc(&b, '{');
    bk__p_str(&b, "number", o->number);
    bk__p_str(&b, "node", c->node);
    bk__p_str(&b, "dept", dept);
    bk__p_str(&b, "scope", o->scope);
    bk__p_str(&b, "kind", kind);
    bk__p_str(&b, "reason", why);
    pls_buf_addc(&b, '}');
    bk_fed_emit(c, c->fed.parent_node, NULL, "supervise", &o->id, b.data);
    pls_buf_cleanup(&b);
}

void bk_rules_failed(bk_core_t *c, bk_order_t *o)
{
    /* no more alarms for a step nobody works on: 督办 is raised instead */
    o->limit_kind = BK_LIMIT_NONE;
    o->due_ms = 0;
    bk_rules_schedule(c, o);
    char why[REASON_MAX];
    snprintf(why, sizeof(why), "handling failed %u times", o->attempt);
    supervise(c, o, "failed", why);
}

static const char *limit_name(const bk_order_t *o)
{
    return o->limit_kind == BK_LIMIT_SIGN ? "sign" : "step";
}

static void raise_alarm(bk_core_t *c, bk_order_t *o, int alarm)
{
    char due[40], why[REASON_MAX];
    pls_buf_t *p;
    switch (alarm) {
    case BK_ALARM_YELLOW:
    case BK_ALARM_RED:
    case BK_ALARM_REPORTED:
        iso(o->due_ms, due, sizeof(due));
        o->alarms |= alarm == BK_ALARM_YELLOW ? BK_AL_YELLOW
                     : alarm == BK_ALARM_RED  ? BK_AL_RED
                                              : BK_AL_REPORTED;
        p = bk__payload_begin(c);
        bk__p_str(p, "limit", limit_name(o));
        bk__p_str(p, "due_at", due);
        bk__p_str(p, "dept", bk__dept_name(c, o->dept));
        bk__p_str(p, "scope", o->scope);
        bk__event(c, o, bk_limits_alarm_name(alarm), o->state, "broker", bk__payload_end(p));
        if (alarm == BK_ALARM_RED) {
            snprintf(why, sizeof(why), "%s limit of %s at %s passed at %s",
                     o->limit_kind == BK_LIMIT_SIGN ? "签收" : "step", bk__dept_name(c, o->dept),
                     o->scope, due);
            supervise(c, o, "red", why);
        }
        break;
    case BK_ALARM_W_YELLOW:
    case BK_ALARM_W_RED:
        iso(o->whole_due_ms, due, sizeof(due));
        o->alarms |= alarm == BK_ALARM_W_YELLOW ? BK_AL_W_YELLOW : BK_AL_W_RED;
        p = bk__payload_begin(c);
        bk__p_str(p, "limit", "whole");
        bk__p_str(p, "due_at", due);
        bk__event(c, o, bk_limits_alarm_name(alarm), o->state, "broker", bk__payload_end(p));
        if (alarm == BK_ALARM_W_RED) {
            snprintf(why, sizeof(why), "whole-order limit passed at %s", due);
            supervise(c, o, "whole", why);
        }
        break;
    case BK_ALARM_ESCALATE: {
        char up[PLS_NODE_MAX];
        pls_node_prefix(o->scope, pls_node_depth(o->scope) - 1, up, sizeof(up));
        snprintf(why, sizeof(why), "unclaimed at %s for %lld min: offered to %s", o->scope,
                 (long long)(c->cat.services[o->service].steps[o->step].escalate_after_ms / 60000),
                 up);
        bk__unqueue(c, o);
        bk__route(c, o, o->step, o->dept, up, "broker", "transferred", why);
        return;
    }
    case BK_ALARM_NOTICE_EXPIRED: {
        int from = o->state;
        bk__unqueue(c, o);
        bk__release(c, o);
        bk__set_state(c, o, BK_WITHDRAWN);
        p = bk__payload_begin(c);
        bk__p_str(p, "reason", "no supplement within 15 days of the one-time notice (一次告知)");
        bk__event(c, o, "withdrawn", from, "broker", bk__payload_end(p));
        bk__leave(c, o);
        return;
    }
    default:
        break;
    }
}

/* ---------------------------------------------------------- offline */

typedef struct offline {
    bk_core_t *core;
    uint8_t ident[BK_IDENT_MAX];
    size_t ident_len;
    uint64_t corr;
    int verb;
    unsigned scores[3];
    char note[PLS_MAX_NOTE + 1];
    char actor[PLS_MAX_NAME + 1];
    int sweep; /* the unrated sweep, not a client */
} offline_t;

static const char offline_sql[] =
    "SELECT id, number, state, step, attempt, service, origin, locality, intake_node, next_seq, "
    "owner, priority, (date_part('epoch', created_at) * 1000)::bigint, dept, scope, flags, site "
    "FROM orders ";

/* Orders changed offline in a batch not yet committed: their next_seq in
 * the store is stale until then, so a second change waits (409, retry). */
static int offline_busy(bk_core_t *c, const pls_uuid_t *id)
{
    uint32_t done = c->committed_gen;
    for (size_t i = 0; i < PLS_ARRAY_LEN(c->offline); i++)
        if (c->offline[i].gen > done && memcmp(c->offline[i].id.b, id->b, 16) == 0)
            return 1;
    return 0;
}

static void offline_mark(bk_core_t *c, const pls_uuid_t *id)
{
    size_t slot = c->offline_next++ % PLS_ARRAY_LEN(c->offline);
    c->offline[slot].id = *id;
    c->offline[slot].gen = c->cur->gen;
}

/* A transient order from a row of offline_sql (not in the open-order table). */
static bk_order_t *transient(bk_core_t *c, const bk_rows_t *r, int i)
{
    int svc = bk_catalog_service(&c->cat, bk_rows_get(r, i, 5));
    int st = bk_state_parse(bk_rows_get(r, i, 2));
    if (svc < 0 || st < 0)
        return NULL;
    bk_order_t *o = bk_order_new();
    if (pls_uuid_parse(bk_rows_get(r, i, 0), &o->id) != 0) {
        bk_order_free(o);
        return NULL;
    }
    snprintf(o->number, sizeof(o->number), "%s", bk_rows_get(r, i, 1));
    o->state = (uint8_t)st;
    o->step = (uint8_t)(bk_rows_get(r, i, 3) ? atoi(bk_rows_get(r, i, 3)) : 0);
    if (o->step >= c->cat.services[svc].n_steps)
        o->step = 0;
    o->attempt = (uint16_t)atoi(bk_rows_get(r, i, 4));
    o->service = (uint8_t)svc;
    o->origin = bk_dispatch_intern(&c->disp, bk_rows_get(r, i, 6));
    o->locality = bk_dispatch_intern(&c->disp, bk_rows_get(r, i, 7));
    o->intake = bk_dispatch_intern(&c->disp, bk_rows_get(r, i, 8));
    o->next_seq = (uint32_t)atoi(bk_rows_get(r, i, 9));
    o->priority = (uint8_t)atoi(bk_rows_get(r, i, 11));
    o->created_ms = strtoll(bk_rows_get(r, i, 12), NULL, 10);
    int dept = bk_rows_get(r, i, 13) ? bk_catalog_dept(&c->cat, bk_rows_get(r, i, 13)) : -1;
    o->dept = (uint8_t)(dept >= 0 ? dept : c->cat.services[svc].steps[o->step].dept);
    o->scope =
        bk_dispatch_intern(&c->disp, bk_rows_get(r, i, 14) ? bk_rows_get(r, i, 14) : c->node);
    o->flags = (uint8_t)(atoi(bk_rows_get(r, i, 15)) & BK_OF_STORED);
    o->site = bk_rows_get(r, i, 16) ? bk_dispatch_intern(&c->disp, bk_rows_get(r, i, 16)) : NULL;
    return o;
}

static int rate(bk_core_t *c, bk_order_t *o, const offline_t *d, char *reason, size_t n)
{
    if (o->state != BK_COMPLETED) {
        snprintf(reason, n, "order %s is %s: only a completed order is rated", o->number,
                 bk_state_name(o->state));
        return PLS_CONFLICT;
    }
    int low = d->scores[0] <= 2 || d->scores[1] <= 2 || d->scores[2] <= 2;
    pls_buf_t *p = bk__payload_begin(c);
    bk__p_int(p, "attitude", d->scores[0]);
    bk__p_int(p, "efficiency", d->scores[1]);
    bk__p_int(p, "competence", d->scores[2]);
    bk__p_str(p, "comment", d->note);
    o->state = low ? BK_RATING_REVIEW : BK_COMPLETED;
    bk__event(c, o, "rated", BK_COMPLETED, d->actor, bk__payload_end(p));
    if (low) {
        snprintf(reason, n,
                 "rated; a score of 2 or less: the command center verifies it "
                 "(plsctl review ID --redo|--close)");
        return 0;
    }
    o->state = BK_CLOSED;
    p = bk__payload_begin(c);
    bk__p_str(p, "reason", "rated");
    bk__event(c, o, "closed", BK_COMPLETED, d->actor, bk__payload_end(p));
    snprintf(reason, n, "rated and closed");
    return 0;
}

static int review(bk_core_t *c, bk_order_t **op, const offline_t *d, char *reason, size_t n)
{
    bk_order_t *o = *op;
    if (o->state != BK_RATING_REVIEW) {
        snprintf(reason, n, "order %s is %s: only an order under rating review is reviewed",
                 o->number, bk_state_name(o->state));
        return PLS_CONFLICT;
    }
    pls_buf_t *p = bk__payload_begin(c);
    bk__p_str(p, "note", d->note);
    if (d->verb == PLS__VERB__VERB_REVIEW_CLOSE) {
        bk__p_raw(p, "verified", "true");
        o->state = BK_CLOSED;
        bk__event(c, o, "closed", BK_RATING_REVIEW, d->actor, bk__payload_end(p));
        snprintf(reason, n, "closed after verification");
        return 0;
    }
    /* 重办: the last step again, with a fresh limit; the order is open again */
    bk__p_int(p, "step", o->step);
    bk_orders_add(&c->orders, o);
    *op = NULL; /* now owned by the table */
    bk__set_state(c, o, BK_RATING_REVIEW);
    bk__event(c, o, "reopened", BK_RATING_REVIEW, d->actor, bk__payload_end(p));
    bk__route(c, o, o->step, c->cat.services[o->service].steps[o->step].dept, NULL, d->actor,
              "queued", "redo after a low rating");
    snprintf(reason, n, "re-opened: step %s again",
             c->cat.services[o->service].steps[o->step].name);
    return 0;
}

static void close_unrated(bk_core_t *c, bk_order_t *o)
{
    o->state = BK_CLOSED;
    bk__event(c, o, "closed", BK_COMPLETED, "broker",
              "{\"reason\":\"no rating within 7 days: closed as unrated\",\"unrated\":true}");
}

static void on_offline(void *arg, int ok, const bk_rows_t *rows, const char *err)
{
    offline_t *d = arg;
    bk_core_t *c = d->core;
    char reason[REASON_MAX];
    PLS_UNUSED(err);
    if (d->sweep) {
        for (int i = 0; ok && rows && i < bk_rows_count(rows); i++) {
            bk_order_t *o = transient(c, rows, i);
            if (!o || bk_orders_get(&c->orders, &o->id) || offline_busy(c, &o->id)) {
                if (o)
                    bk_order_free(o);
                continue;
            }
            close_unrated(c, o);
            offline_mark(c, &o->id);
            bk_order_free(o);
        }
        free(d);
        return;
    }
    if (!ok || !rows) {
        bk_core_reply_now(c, d->ident, d->ident_len, d->corr, PLS_UNAVAILABLE,
                          "store unavailable: retry", NULL);
        free(d);
        return;
    }
    if (bk_rows_count(rows) == 0) {
        bk_core_reply_now(c, d->ident, d->ident_len, d->corr, PLS_NOT_FOUND,
                          "no such order at this node", NULL);
        free(d);
        return;
    }
    bk_order_t *o = transient(c, rows, 0);
    const char *owner = bk_rows_get(rows, 0, 10);
    if (!o) {
        bk_core_reply_now(c, d->ident, d->ident_len, d->corr, PLS_CONFLICT,
                          "the order's row is not readable", NULL);
        free(d);
        return;
    }
    if (bk_orders_get(&c->orders, &o->id)) {
        snprintf(reason, sizeof(reason), "order %s is still open: it is rated once completed",
                 o->number);
        bk_core_reply_now(c, d->ident, d->ident_len, d->corr, PLS_CONFLICT, reason, NULL);
        bk_order_free(o);
        free(d);
        return;
    }
    if (strcmp(owner, c->node) != 0) {
        snprintf(reason, sizeof(reason),
                 "order %s belongs to %s (its first desk): rate and review it there", o->number,
                 owner);
        bk_core_reply_now(c, d->ident, d->ident_len, d->corr, PLS_CONFLICT, reason, NULL);
        bk_order_free(o);
        free(d);
        return;
    }
    if (offline_busy(c, &o->id)) {
        snprintf(reason, sizeof(reason), "another change to order %s is being saved: retry",
                 o->number);
        bk_core_reply_now(c, d->ident, d->ident_len, d->corr, PLS_UNAVAILABLE, reason, NULL);
        bk_order_free(o);
        free(d);
        return;
    }
    pls_uuid_t id = o->id;
    int st = d->verb == PLS__VERB__VERB_RATE ? rate(c, o, d, reason, sizeof(reason))
                                             : review(c, &o, d, reason, sizeof(reason));
    if (st == 0)
        offline_mark(c, &id); /* a refusal changed nothing */
    if (st)
        bk_core_reply_now(c, d->ident, d->ident_len, d->corr, (uint32_t)st, reason, NULL);
    else
        bk__reply_later(c, d->ident, d->ident_len, d->corr, PLS_OK, reason, NULL, 0, BK_OUT_REPLY,
                        -1);
    if (o)
        bk_order_free(o);
    free(d);
}

void bk_rules_offline(bk_core_t *c, const void *ident, size_t ident_len, uint64_t corr,
                      const Pls__ActionRequest *a, const char *actor)
{
    offline_t *d = pls_xcalloc(1, sizeof(*d));
    d->core = c;
    memcpy(d->ident, ident, ident_len < BK_IDENT_MAX ? ident_len : BK_IDENT_MAX);
    d->ident_len = ident_len;
    d->corr = corr;
    d->verb = (int)a->verb;
    if (a->scores) {
        d->scores[0] = a->scores->attitude;
        d->scores[1] = a->scores->efficiency;
        d->scores[2] = a->scores->competence;
    }
    snprintf(d->note, sizeof(d->note), "%s", a->note ? a->note : "");
    snprintf(d->actor, sizeof(d->actor), "%s", actor);
    char sql[512];
    snprintf(sql, sizeof(sql), "%sWHERE id = $1::uuid OR number = $2 LIMIT 1", offline_sql);
    pls_uuid_t id;
    const char *params[2] = {pls_uuid_parse(a->order, &id) == 0 ? a->order : NULL, a->order};
    if (bk_store_query(c->store, sql, 2, params, on_offline, d) != 0) {
        bk_core_reply_now(c, ident, ident_len, corr, PLS_UNAVAILABLE, "store unavailable: retry",
                          NULL);
        free(d);
    }
}

static void sweep_unrated(bk_core_t *c)
{
    offline_t *d = pls_xcalloc(1, sizeof(*d));
    d->core = c;
    d->sweep = 1;
    char sql[640], cutoff[40];
    iso(pls_rule_ms() - 7 * PLS_CALENDAR_DAY_MS, cutoff, sizeof(cutoff));
    snprintf(sql, sizeof(sql),
             "%sWHERE state = 'completed' AND owner = $1 AND finished_at < $2::timestamptz "
             "LIMIT 200",
             offline_sql);
    const char *params[2] = {c->node, cutoff};
    if (bk_store_query(c->store, sql, 2, params, on_offline, d) != 0)
        free(d);
}

/* ------------------------------------------------------------ tick */

void bk_rules_tick(bk_core_t *c)
{
    int64_t now = pls_rule_ms();
    bk_timer_entry_t *later = NULL;
    size_t n_later = 0, cap_later = 0;
    while (c->alarms.n && c->alarms.e[0].when_ms <= now) {
        bk_timer_entry_t e = c->alarms.e[0];
        bk__heap_pop(&c->alarms);
        bk_order_t *o = bk_orders_get(&c->orders, &e.id);
        if (!o || o->alarm_at_ms != e.when_ms)
            continue; /* stale: the order moved on */
        if (o->flags & BK_OF_NEW) {
            /* its intake is not committed yet: look again next tick */
            if (n_later == cap_later) {
                cap_later = cap_later ? cap_later * 2 : 16;
                later = pls_xrealloc(later, cap_later * sizeof(*later));
            }
            later[n_later++] = e;
            continue;
        }
        o->alarm_at_ms = 0;
        for (int guard = 0; guard < 8 && o; guard++) {
            bk_limits_view_t v;
            view_of(c, o, &v);
            int64_t at;
            int alarm = bk_limits_next(c->cal, &v, &at);
            if (alarm == BK_ALARM_NONE)
                break;
            if (at > now) {
                bk_rules_schedule(c, o);
                break;
            }
            int leaves = alarm == BK_ALARM_NOTICE_EXPIRED || alarm == BK_ALARM_ESCALATE;
            raise_alarm(c, o, alarm);
            if (leaves)
                o = NULL; /* withdrawn, or re-routed (it scheduled itself) */
        }
    }
    for (size_t i = 0; i < n_later; i++)
        bk__heap_push(&c->alarms, later[i].when_ms, &later[i].id);
    free(later);
    int64_t mono = pls_mono_ms();
    if (mono - c->last_sweep_ms >= 30000) {
        c->last_sweep_ms = mono;
        sweep_unrated(c);
    }
}

/* ----------------------------------------------------------- verbs */

int bk_rules_extension_request(bk_core_t *c, bk_order_t *o, unsigned days, const char *why,
                               const char *actor, char *reason, size_t n)
{
    const bk_step_t *s = &c->cat.services[o->service].steps[o->step];
    char due[40];
    if (o->limit_kind != BK_LIMIT_STEP || !o->due_ms) {
        snprintf(reason, n,
                 "order %s has no step limit running: extensions apply to a step's "
                 "limit after 签收",
                 o->number);
        return PLS_CONFLICT;
    }
    iso(o->due_ms, due, sizeof(due));
    if (s->statutory) {
        snprintf(reason, n, "the limit of step %s is statutory (法定时限): it cannot be extended",
                 s->name);
        return PLS_CONFLICT;
    }
    if (!why || !*why) {
        snprintf(reason, n, "an extension needs a reason");
        return PLS_BAD_REQUEST;
    }
    if (days == 0) {
        snprintf(reason, n, "days: at least 1 working day");
        return PLS_BAD_REQUEST;
    }
    if (pls_rule_ms() >= o->due_ms) {
        snprintf(reason, n,
                 "too late: the step was due at %s; an extension is asked before "
                 "the due time",
                 due);
        return PLS_CONFLICT;
    }
    if (o->ext_pending) {
        snprintf(reason, n, "an extension of %u working days already waits for a decision",
                 o->ext_pending);
        return PLS_CONFLICT;
    }
    if (o->ext_days + days > BK_MAX_EXTENSION_WD) {
        snprintf(reason, n, "at most %d working days of extension in total; %u already granted",
                 BK_MAX_EXTENSION_WD, o->ext_days);
        return PLS_CONFLICT;
    }
    o->ext_pending = (uint8_t)days;
    pls_buf_t *p = bk__payload_begin(c);
    bk__p_int(p, "days", days);
    bk__p_str(p, "reason", why);
    bk__p_str(p, "due_at", due);
    bk__event(c, o, "extension_requested", o->state, actor, bk__payload_end(p));
    snprintf(reason, n,
             "extension of %u working days requested: decided at %s (plsctl "
             "extension approve|refuse ID)",
             days, c->node);
    return 0;
}

int bk_rules_hold_notice(bk_core_t *c, bk_order_t *o, char **items, size_t n_items,
                         const char *note, const char *actor, char *reason, size_t n)
{
    if (o->notice) {
        snprintf(reason, n, "a second one-time notice already waits for an operator's approval");
        return PLS_CONFLICT;
    }
    pls_buf_t b;
    pls_buf_init(&b);
    pls_buf_addc(&b, '{');
    bk__p_items(&b, "items", items, n_items);
    bk__p_str(&b, "note", note);
    bk__p_str(&b, "by", actor);
    pls_buf_addc(&b, '}');
    o->notice = pls_buf_take(&b);
    pls_buf_t *p = bk__payload_begin(c);
    bk__p_str(p, "held_notice", "a second one-time notice waits for approval");
    bk__p_items(p, "items", items, n_items);
    bk__p_str(p, "note", note);
    bk__event(c, o, "note", o->state, actor, bk__payload_end(p));
    snprintf(reason, n,
             "the one-time notice (一次告知) was already given: this second notice is "
             "held until an operator approves it (plsctl need-info approve ID)");
    return 0;
}

static int decide_extension(bk_core_t *c, bk_order_t *o, int approve, const char *note,
                            const char *actor, char *reason, size_t n)
{
    if (!o->ext_pending) {
        snprintf(reason, n, "order %s has no extension request waiting", o->number);
        return PLS_CONFLICT;
    }
    const bk_step_t *s = &c->cat.services[o->service].steps[o->step];
    char due[40];
    iso(o->due_ms, due, sizeof(due));
    if (approve && s->statutory) {
        snprintf(reason, n, "the limit of step %s is statutory: refuse the request", s->name);
        return PLS_CONFLICT;
    }
    if (approve && pls_rule_ms() >= o->due_ms) {
        snprintf(reason, n, "the step was due at %s, before this decision: refuse the request",
                 due);
        return PLS_CONFLICT;
    }
    unsigned days = o->ext_pending;
    o->ext_pending = 0;
    pls_buf_t *p = bk__payload_begin(c);
    bk__p_str(p, "decision", approve ? "approved" : "refused");
    bk__p_int(p, "days", days);
    bk__p_str(p, "note", note);
    if (approve) {
        o->due_ms = bk_limits_extend(c->cal, o->due_ms, (int)days);
        o->ext_days = (uint8_t)(o->ext_days + days);
        o->alarms &= (uint8_t)~BK_AL_YELLOW;
        iso(o->due_ms, due, sizeof(due));
        bk__p_str(p, "due_at", due);
        bk_rules_schedule(c, o);
    }
    bk__event(c, o, "extension_decided", o->state, actor, bk__payload_end(p));
    if (approve)
        snprintf(reason, n, "extension of %u working days approved: now due %s", days, due);
    else
        snprintf(reason, n, "extension refused");
    return 0;
}

static int decide_notice(bk_core_t *c, bk_order_t *o, int approve, const char *note,
                         const char *actor, char *reason, size_t n)
{
    if (!o->notice) {
        snprintf(reason, n, "order %s has no held notice", o->number);
        return PLS_CONFLICT;
    }
    if (approve && o->state != BK_IN_PROGRESS && o->state != BK_QUEUED && o->state != BK_ASSIGNED) {
        snprintf(reason, n, "order %s is %s: the held notice can no longer be sent (refuse it)",
                 o->number, bk_state_name(o->state));
        return PLS_CONFLICT;
    }
    json_t *nt = json_loads(o->notice, 0, NULL);
    free(o->notice);
    o->notice = NULL;
    if (!approve) {
        pls_buf_t *p = bk__payload_begin(c);
        bk__p_str(p, "held_notice", "refused: the step continues");
        bk__p_str(p, "note", note);
        bk__event(c, o, "note", o->state, actor, bk__payload_end(p));
        json_decref(nt);
        snprintf(reason, n, "held notice refused: the step continues");
        return 0;
    }
    char *items[PLS_MAX_ITEMS];
    size_t k = 0, i;
    json_t *it;
    json_array_foreach(json_object_get(nt, "items"), i, it)
    {
        if (k < PLS_MAX_ITEMS)
            items[k++] = (char *)(uintptr_t)json_string_value(it);
    }
    if (o->worker)
        bk__push_revoke(c, o, "waiting for the citizen");
    bk__unqueue(c, o);
    bk__release(c, o);
    int from = o->state;
    bk__set_state(c, o, BK_WAITING_CITIZEN);
    bk_rules_paused(c, o); /* before the event: its row stores the pause */
    pls_buf_t *p = bk__payload_begin(c);
    bk__p_items(p, "items", items, k);
    bk__p_str(p, "note", json_string_value(json_object_get(nt, "note")));
    bk__p_str(p, "approved_by", actor);
    bk__p_raw(p, "second", "true");
    bk__event(c, o, "need_info", from, actor, bk__payload_end(p));
    json_decref(nt);
    snprintf(reason, n, "second notice approved and sent: %zu item%s; the clock is paused", k,
             k == 1 ? "" : "s");
    return 0;
}

int bk_rules_act(bk_core_t *c, bk_order_t *o, const Pls__ActionRequest *a, const char *actor,
                 char *reason, size_t n)
{
    switch (a->verb) {
    case PLS__VERB__VERB_EXTENSION_REQUEST:
        return bk_rules_extension_request(c, o, a->days, a->note, actor, reason, n);
    case PLS__VERB__VERB_EXTENSION_APPROVE:
        return decide_extension(c, o, 1, a->note, actor, reason, n);
    case PLS__VERB__VERB_EXTENSION_REFUSE:
        return decide_extension(c, o, 0, a->note, actor, reason, n);
    case PLS__VERB__VERB_NEED_INFO_APPROVE:
        return decide_notice(c, o, 1, a->note, actor, reason, n);
    case PLS__VERB__VERB_NEED_INFO_REFUSE:
        return decide_notice(c, o, 0, a->note, actor, reason, n);
    case PLS__VERB__VERB_RATE:
    case PLS__VERB__VERB_REVIEW_REDO:
    case PLS__VERB__VERB_REVIEW_CLOSE:
        snprintf(reason, n, "order %s is %s: it is rated once completed", o->number,
                 bk_state_name(o->state));
        return PLS_CONFLICT;
    default:
        snprintf(reason, n, "not a rule verb");
        return PLS_BAD_REQUEST;
    }
}
