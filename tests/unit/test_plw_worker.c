/* Unit tests for plw_worker against a fake broker: the test binds a ROUTER
 * socket, plays the broker's side of DESIGN §6, and runs real worker
 * instances in a libuv loop (the builtins, a test handler, and --exec shell
 * handlers). It checks what the broker — and so a user — would see: Ready
 * and its contents, 签收 and outcome reports with the right token and
 * attempt, in order, retried until answered; held assignments re-sent after
 * a broker restart; revokes, drains, refusals, handler timeouts. */
#include "plw_builtin.h"
#include "plw_exec.h"
#include "plw_worker.h"

#include "pls_proto.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define O1 "0190c7a2-0000-7000-8000-000000000001"
#define O2 "0190c7a2-0000-7000-8000-000000000002"
#define O3 "0190c7a2-0000-7000-8000-000000000003"
#define O4 "0190c7a2-0000-7000-8000-000000000004"

/* Generous: the suite also runs under ASan/UBSan. */
#define WAIT_MS 5000

/* ---- the fake broker -------------------------------------------------- */

typedef struct msg {
    uint8_t id[64]; /* the worker's ROUTER identity */
    size_t id_len;
    Pls__Envelope *env;
} msg_t;

#define MAXQ 256
#define MAXW 4

typedef struct fake {
    uv_loop_t loop;
    void *zctx;
    void *router;
    char endpoint[64];
    msg_t q[MAXQ]; /* received, not yet taken */
    int nq;
    int answer_heartbeats; /* while waiting for other things */
    int session_up;        /* a Ready was answered 200: answer later ones too */
    plw_worker_t *w[MAXW];
    int nw;
    int stopped;
    int stop_status;
    char stop_reason[256];
    int closed;
    char reported[512]; /* on_reported calls: "kind status order-suffix;" */
} fake_t;

static void fake_recv_all(fake_t *f)
{
    for (;;) {
        zmq_msg_t id, body;
        zmq_msg_init(&id);
        if (zmq_msg_recv(&id, f->router, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&id);
            return;
        }
        zmq_msg_init(&body);
        assert_true(zmq_msg_recv(&body, f->router, 0) >= 0);
        assert_true(f->nq < MAXQ);
        msg_t *m = &f->q[f->nq++];
        assert_true(zmq_msg_size(&id) <= sizeof(m->id));
        m->id_len = zmq_msg_size(&id);
        memcpy(m->id, zmq_msg_data(&id), m->id_len);
        char reason[128];
        m->env = pls_proto_unpack(zmq_msg_data(&body), zmq_msg_size(&body), reason, sizeof(reason));
        assert_non_null(m->env);
        /* whatever the worker sends must pass the broker's validation */
        if (pls_proto_validate(m->env, reason, sizeof(reason)) != 0)
            fail_msg("worker sent an invalid %s: %s", pls_proto_body_name(m->env->body_case),
                     reason);
        zmq_msg_close(&id);
        zmq_msg_close(&body);
    }
}

/* One turn: run the loop without blocking, wait a little for the router. */
static void fake_turn(fake_t *f, int wait_ms)
{
    uv_run(&f->loop, UV_RUN_NOWAIT);
    zmq_pollitem_t it = {f->router, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, wait_ms) > 0)
        fake_recv_all(f);
    uv_run(&f->loop, UV_RUN_NOWAIT);
}

static void send_to(fake_t *f, const msg_t *to, Pls__Envelope *env)
{
    uint8_t *buf;
    size_t len;
    env->version = PLS_PROTO_VERSION;
    pls_proto_pack(env, &buf, &len);
    assert_true(zmq_send(f->router, to->id, to->id_len, ZMQ_SNDMORE) >= 0);
    assert_true(zmq_send(f->router, buf, len, 0) >= 0);
    free(buf);
}

static void reply_to(fake_t *f, const msg_t *m, unsigned status, const char *reason,
                     const char *json)
{
    uint8_t *buf;
    size_t len;
    pls_proto_pack_reply(m->env->corr, status, reason, NULL, NULL, 0, json, &buf, &len);
    assert_true(zmq_send(f->router, m->id, m->id_len, ZMQ_SNDMORE) >= 0);
    assert_true(zmq_send(f->router, buf, len, 0) >= 0);
    free(buf);
}

/* Put a message taken with fake_find back at the front of the queue. */
static void fake_requeue(fake_t *f, msg_t *m)
{
    memmove(&f->q[1], &f->q[0], (size_t)f->nq * sizeof(msg_t));
    f->q[0] = *m;
    f->nq++;
    free(m);
}

static void msg_free(msg_t *m)
{
    if (!m)
        return;
    pls_proto_free(m->env);
    free(m);
}

/* The first queued message matching body (and report kind, if not 0). */
static msg_t *fake_find(fake_t *f, int body, int report_kind)
{
    for (int i = 0; i < f->nq; i++) {
        Pls__Envelope *e = f->q[i].env;
        if ((int)e->body_case != body)
            continue;
        if (report_kind && (int)e->report->kind != report_kind)
            continue;
        msg_t *m = pls_xmalloc(sizeof(*m));
        *m = f->q[i];
        memmove(&f->q[i], &f->q[i + 1], (size_t)(f->nq - i - 1) * sizeof(msg_t));
        f->nq--;
        return m;
    }
    return NULL;
}

static void answer_all(fake_t *f, int body)
{
    msg_t *m;
    while ((m = fake_find(f, body, 0)) != NULL) {
        reply_to(f, m, 200, "ok", NULL);
        msg_free(m);
    }
}

/* Wait for a message (heartbeats are answered 200 on the way unless they
 * are what is waited for). NULL after timeout_ms. */
static msg_t *fake_wait(fake_t *f, int body, int report_kind, int timeout_ms)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        /* a live broker keeps the session up: heartbeats, and a Ready the
         * worker re-sends when a loaded test machine stalled it past 3
         * heartbeats, are answered unless they are what is waited for */
        if (body != PLS__ENVELOPE__BODY_HEARTBEAT && f->answer_heartbeats)
            answer_all(f, PLS__ENVELOPE__BODY_HEARTBEAT);
        if (body != PLS__ENVELOPE__BODY_READY && f->answer_heartbeats && f->session_up)
            answer_all(f, PLS__ENVELOPE__BODY_READY);
        msg_t *m = fake_find(f, body, report_kind);
        if (m)
            return m;
        clock_gettime(CLOCK_MONOTONIC, &t);
        long ms = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
        if (ms >= timeout_ms)
            return NULL;
        fake_turn(f, 5);
    }
}

static msg_t *expect(fake_t *f, int body, int report_kind)
{
    msg_t *m = fake_wait(f, body, report_kind, WAIT_MS);
    if (!m)
        fail_msg("no %s (report kind %d) from the worker within %d ms", pls_proto_body_name(body),
                 report_kind, WAIT_MS);
    return m;
}

static void expect_none(fake_t *f, int body, int report_kind, int ms)
{
    msg_t *m = fake_wait(f, body, report_kind, ms);
    if (m)
        fail_msg("unexpected %s (report kind %d) from the worker", pls_proto_body_name(body),
                 report_kind);
}

/* Let the worker run for ms, answering heartbeats if asked to. */
static void fake_run_for(fake_t *f, int ms)
{
    (void)fake_wait(f, -1, 0, ms);
}

static void assign_to(fake_t *f, const msg_t *to, const char *order, uint32_t attempt,
                      uint64_t token)
{
    Pls__Envelope env;
    Pls__Assign a;
    char *outcomes[] = {"answered", "referred"};
    pls__envelope__init(&env);
    pls__assign__init(&a);
    a.order = (char *)order;
    a.number = "DG-HM-20261126-0042";
    a.service = "consult";
    a.step = 0;
    a.step_name = "answer";
    a.dept = "consult";
    a.scope = "dg.humen";
    a.attempt = attempt;
    a.token = token;
    a.locality = "dg.humen.baisha";
    a.outcomes = outcomes;
    a.n_outcomes = 2;
    env.body_case = PLS__ENVELOPE__BODY_ASSIGN;
    env.assign = &a;
    send_to(f, to, &env);
}

static void revoke_to(fake_t *f, const msg_t *to, const char *order, uint32_t attempt)
{
    Pls__Envelope env;
    Pls__Revoke r;
    pls__envelope__init(&env);
    pls__revoke__init(&r);
    r.order = (char *)order;
    r.attempt = attempt;
    r.reason = "withdrawn by the citizen";
    env.body_case = PLS__ENVELOPE__BODY_REVOKE;
    env.revoke = &r;
    send_to(f, to, &env);
}

static void on_stopped(plw_worker_t *w, int status, const char *reason)
{
    fake_t *f = plw_worker_data(w);
    f->stopped++;
    f->stop_status = status;
    snprintf(f->stop_reason, sizeof(f->stop_reason), "%s", reason);
}

static void on_reported(plw_worker_t *w, const plw_task_info_t *t, const char *kind,
                        unsigned status)
{
    fake_t *f = plw_worker_data(w);
    size_t n = strlen(f->reported);
    snprintf(f->reported + n, sizeof(f->reported) - n, "%s %u %s;", kind, status,
             t->order + strlen(t->order) - 2);
}

static void on_closed(plw_worker_t *w)
{
    fake_t *f = plw_worker_data(w);
    f->closed++;
}

static void fake_init(fake_t *f)
{
    memset(f, 0, sizeof(*f));
    assert_int_equal(uv_loop_init(&f->loop), 0);
    f->zctx = zmq_ctx_new();
    f->router = zmq_socket(f->zctx, ZMQ_ROUTER);
    int linger = 0;
    zmq_setsockopt(f->router, ZMQ_LINGER, &linger, sizeof(linger));
    assert_int_equal(zmq_bind(f->router, "tcp://127.0.0.1:*"), 0);
    size_t sz = sizeof(f->endpoint);
    assert_int_equal(zmq_getsockopt(f->router, ZMQ_LAST_ENDPOINT, f->endpoint, &sz), 0);
    f->answer_heartbeats = 1;
}

static void config_base(fake_t *f, plw_config_t *cfg, const plw_handler_t *h)
{
    static const char *const depts[] = {"consult", "mediation"};
    plw_config_init(cfg);
    cfg->broker = f->endpoint;
    cfg->scope = "dg.humen";
    cfg->depts = depts;
    cfg->n_depts = 2;
    cfg->name = "test-w1";
    cfg->heartbeat_ms = 150;
    cfg->ready_retry_ms = 100;
    cfg->reply_timeout_ms = 400;
    cfg->handler = h;
    cfg->on_stopped = on_stopped;
    cfg->on_reported = on_reported;
    cfg->data = f;
}

static plw_worker_t *fake_worker(fake_t *f, const plw_config_t *cfg)
{
    plw_worker_t *w;
    char err[256];
    if (plw_worker_new(&w, &f->loop, f->zctx, cfg, err, sizeof(err)) != 0)
        fail_msg("plw_worker_new: %s", err);
    assert_int_equal(plw_worker_start(w), 0);
    assert_true(f->nw < MAXW);
    f->w[f->nw++] = w;
    return w;
}

/* Ready from the worker, answered 200: returns the Ready message. */
static msg_t *accept_ready(fake_t *f)
{
    msg_t *m = expect(f, PLS__ENVELOPE__BODY_READY, 0);
    reply_to(f, m, 200, "ok", NULL);
    f->session_up = 1;
    return m;
}

/* Close every worker, run the loop dry, and check nothing is left open. */
static void fake_close(fake_t *f)
{
    for (int i = 0; i < f->nw; i++)
        plw_worker_close(f->w[i], on_closed);
    for (int i = 0; i < 2000 && uv_loop_alive(&f->loop); i++)
        fake_turn(f, 2);
    assert_int_equal(f->closed, f->nw);
    for (int i = 0; i < f->nw; i++)
        plw_worker_destroy(&f->w[i]);
    for (int i = 0; i < f->nq; i++)
        pls_proto_free(f->q[i].env);
    zmq_close(f->router);
    zmq_ctx_term(f->zctx);
    assert_int_equal(uv_loop_close(&f->loop), 0);
}

/* ---- a test handler that holds its tasks until told ------------------- */

typedef struct holder {
    plw_task_t *task[8];
    int started;
    int cancelled;
    char cancelled_order[64];
} holder_t;

static int hold_start(plw_task_t *t, void *arg)
{
    holder_t *h = arg;
    assert_true(h->started < 8);
    h->task[h->started++] = t;
    return 0;
}

static void hold_cancel(plw_task_t *t, void *arg)
{
    holder_t *h = arg;
    h->cancelled++;
    snprintf(h->cancelled_order, sizeof(h->cancelled_order), "%s", plw_task_info(t)->order);
    for (int i = 0; i < h->started; i++)
        if (h->task[i] == t)
            h->task[i] = NULL;
}

static const Pls__Held *held_of(const Pls__Envelope *e, size_t *n)
{
    if (e->body_case == PLS__ENVELOPE__BODY_READY) {
        *n = e->ready->n_held;
        return e->ready->n_held ? e->ready->held[0] : NULL;
    }
    *n = e->heartbeat->n_held;
    return e->heartbeat->n_held ? e->heartbeat->held[0] : NULL;
}

/* ---- tests ------------------------------------------------------------ */

/* noop in auto custody: Ready, then for one Assign the 签收 (ACCEPT as the
 * worker) and the default outcome, in that order, each with the
 * assignment's token and attempt; held and credit follow. */
static void test_noop_auto_lifecycle(void **state)
{
    (void)state;
    fake_t f;
    plw_config_t cfg;
    fake_init(&f);
    config_base(&f, &cfg, plw_builtin_find("noop"));
    cfg.concurrency = 2;
    plw_worker_t *w = fake_worker(&f, &cfg);

    msg_t *ready = expect(&f, PLS__ENVELOPE__BODY_READY, 0);
    Pls__Ready *r = ready->env->ready;
    assert_int_equal(r->n_depts, 2);
    assert_string_equal(r->depts[0], "consult");
    assert_string_equal(r->depts[1], "mediation");
    assert_string_equal(r->scope, "dg.humen");
    assert_string_equal(r->name, "test-w1");
    assert_int_equal(r->credit, 2);
    assert_int_equal(r->n_held, 0);
    assert_int_equal(r->custody, PLS__CUSTODY__CUSTODY_AUTO);
    assert_int_equal(r->role, PLS__ROLE__ROLE_A);
    assert_false(r->drain);
    assert_int_not_equal(ready->env->corr, 0);
    reply_to(&f, ready, 200, "ok", NULL);
    fake_run_for(&f, 50);
    assert_int_equal(plw_worker_state(w), PLW_STATE_RUNNING);

    assign_to(&f, ready, O1, 3, 0xfeedface12345678ULL);
    msg_t *acc = expect(&f, PLS__ENVELOPE__BODY_REPORT, PLS__REPORT_KIND__REPORT_ACCEPT);
    Pls__Report *rep = acc->env->report;
    assert_string_equal(rep->order, O1);
    assert_int_equal(rep->attempt, 3);
    assert_true(rep->token == 0xfeedface12345678ULL);
    assert_string_equal(rep->person, "test-w1");
    assert_string_equal(acc->env->actor, "test-w1");
    /* the outcome travels right behind the signature (the broker records both in
     * one transaction and answers in order) */
    msg_t *early =
        fake_wait(&f, PLS__ENVELOPE__BODY_REPORT, PLS__REPORT_KIND__REPORT_OUTCOME, WAIT_MS);
    assert_non_null(early);
    fake_requeue(&f, early);
    /* held while unanswered: listed in the heartbeat, credit down by one */
    msg_t *hb = expect(&f, PLS__ENVELOPE__BODY_HEARTBEAT, 0);
    size_t n;
    const Pls__Held *held = held_of(hb->env, &n);
    assert_int_equal(n, 1);
    assert_string_equal(held->order, O1);
    assert_int_equal(held->attempt, 3);
    assert_true(held->token == 0xfeedface12345678ULL);
    assert_int_equal(hb->env->heartbeat->credit, 1);
    reply_to(&f, hb, 200, "ok", NULL);
    msg_free(hb);

    reply_to(&f, acc, 200, "ok", NULL);
    msg_t *out = expect(&f, PLS__ENVELOPE__BODY_REPORT, PLS__REPORT_KIND__REPORT_OUTCOME);
    assert_string_equal(out->env->report->outcome, "answered"); /* the default: first listed */
    assert_int_equal(out->env->report->attempt, 3);
    assert_true(out->env->report->token == 0xfeedface12345678ULL);
    reply_to(&f, out, 200, "ok", NULL);
    fake_run_for(&f, 50);
    assert_int_equal(plw_worker_held(w), 0);
    assert_int_equal(plw_worker_credit(w), 2);
    assert_string_equal(f.reported, "accept 200 01;outcome 200 01;");
    hb = expect(&f, PLS__ENVELOPE__BODY_HEARTBEAT, 0);
    assert_int_equal(hb->env->heartbeat->n_held, 0);
    assert_int_equal(hb->env->heartbeat->credit, 2);
    reply_to(&f, hb, 200, "ok", NULL);
    fake_run_for(&f, 50);
    assert_int_equal(plw_worker_tasks(w), 0);

    msg_free(hb);
    msg_free(out);
    msg_free(acc);
    msg_free(ready);
    fake_close(&f);
}

/* Staff custody with a handler that holds its task: the broker restarts
 * (404 to a heartbeat) and gets the held assignment back in Ready; an
 * Assign beyond the credit is ignored; a Revoke cancels the handler and
 * frees the credit; after an acknowledged 签收 the order is no longer held. */
static void test_staff_reready_revoke_accept(void **state)
{
    (void)state;
    fake_t f;
    plw_config_t cfg;
    holder_t h = {0};
    plw_handler_t hh = {"hold", hold_start, hold_cancel, &h};
    fake_init(&f);
    config_base(&f, &cfg, &hh);
    cfg.custody = PLW_CUSTODY_STAFF;
    cfg.concurrency = 1;
    plw_worker_t *w = fake_worker(&f, &cfg);
    msg_t *ready = accept_ready(&f);
    assert_int_equal(ready->env->ready->custody, PLS__CUSTODY__CUSTODY_STAFF);

    assign_to(&f, ready, O2, 1, 42);
    fake_run_for(&f, 100);
    assert_int_equal(h.started, 1);
    assert_string_equal(plw_task_info(h.task[0])->number, "DG-HM-20261126-0042");
    assert_int_equal(plw_task_info(h.task[0])->custody, PLW_CUSTODY_STAFF);
    /* staff custody: the worker does not sign by itself */
    expect_none(&f, PLS__ENVELOPE__BODY_REPORT, 0, 100);

    /* the broker restarted: it answers the heartbeat 404 "send Ready" */
    msg_t *hb = expect(&f, PLS__ENVELOPE__BODY_HEARTBEAT, 0);
    assert_int_equal(hb->env->heartbeat->n_held, 1);
    assert_int_equal(hb->env->heartbeat->credit, 0);
    reply_to(&f, hb, 404, "send Ready", NULL);
    msg_free(hb);
    msg_t *again = expect(&f, PLS__ENVELOPE__BODY_READY, 0);
    size_t n;
    const Pls__Held *held = held_of(again->env, &n);
    assert_int_equal(n, 1);
    assert_string_equal(held->order, O2);
    assert_int_equal(held->attempt, 1);
    assert_true(held->token == 42);
    assert_int_equal(again->env->ready->credit, 0);
    reply_to(&f, again, 200, "ok", NULL);
    fake_run_for(&f, 50);
    assert_int_equal(plw_worker_state(w), PLW_STATE_RUNNING);
    assert_int_equal(h.started, 1); /* re-attached, not restarted */

    /* no credit left: a second Assign is not taken, and handed back at once
     * by a Ready that lists only what is really held */
    assign_to(&f, again, O3, 1, 43);
    msg_t *back = expect(&f, PLS__ENVELOPE__BODY_READY, 0);
    held = held_of(back->env, &n);
    assert_int_equal(n, 1);
    assert_string_equal(held->order, O2);
    assert_int_equal(back->env->ready->credit, 0);
    reply_to(&f, back, 200, "ok", NULL);
    msg_free(back);
    fake_run_for(&f, 50);
    assert_int_equal(h.started, 1);
    assert_int_equal(plw_worker_state(w), PLW_STATE_RUNNING);

    /* Revoke: the handler is stopped and the credit is free again */
    revoke_to(&f, again, O2, 1);
    fake_run_for(&f, 100);
    assert_int_equal(h.cancelled, 1);
    assert_string_equal(h.cancelled_order, O2);
    assert_int_equal(plw_worker_held(w), 0);
    assert_int_equal(plw_worker_credit(w), 1);
    expect_none(&f, PLS__ENVELOPE__BODY_REPORT, 0, 50);

    /* a person signs: after the broker acknowledges it the order is the
     * department's — not held, credit free — while the handler goes on */
    assign_to(&f, again, O4, 2, 44);
    fake_run_for(&f, 100);
    assert_int_equal(h.started, 2);
    plw_task_t *t = h.task[1];
    assert_int_equal(plw_task_accept(t, "张三"), 0);
    assert_int_equal(plw_task_accept(t, "李四"), -EALREADY);
    msg_t *acc = expect(&f, PLS__ENVELOPE__BODY_REPORT, PLS__REPORT_KIND__REPORT_ACCEPT);
    assert_string_equal(acc->env->report->person, "张三");
    assert_int_equal(acc->env->report->attempt, 2);
    assert_true(acc->env->report->token == 44);
    assert_int_equal(plw_worker_held(w), 1);
    reply_to(&f, acc, 200, "ok", NULL);
    fake_run_for(&f, 50);
    assert_int_equal(plw_worker_held(w), 0);
    assert_int_equal(plw_worker_credit(w), 1);
    hb = expect(&f, PLS__ENVELOPE__BODY_HEARTBEAT, 0);
    assert_int_equal(hb->env->heartbeat->n_held, 0);
    reply_to(&f, hb, 200, "ok", NULL);
    msg_free(hb);

    /* it still reports progress and the outcome with the step token */
    assert_int_equal(plw_task_progress(t, 30, "材料审核中"), 0);
    const char *const items[] = {"身份证复印件"};
    assert_int_equal(plw_task_finish(t, "granted", NULL, NULL, 0, 0), -EINVAL);
    assert_int_equal(plw_task_finish(t, "need_info", "缺材料", items, 1, 0), 0);
    msg_t *pr = expect(&f, PLS__ENVELOPE__BODY_REPORT, PLS__REPORT_KIND__REPORT_PROGRESS);
    assert_int_equal(pr->env->report->pct, 30);
    assert_string_equal(pr->env->report->note, "材料审核中");
    reply_to(&f, pr, 200, "ok", NULL);
    msg_t *out = expect(&f, PLS__ENVELOPE__BODY_REPORT, PLS__REPORT_KIND__REPORT_OUTCOME);
    assert_string_equal(out->env->report->outcome, "need_info");
    assert_int_equal(out->env->report->n_items, 1);
    assert_string_equal(out->env->report->items[0], "身份证复印件");
    assert_true(out->env->report->token == 44);
    reply_to(&f, out, 200, "ok", NULL);
    fake_run_for(&f, 50);
    assert_int_equal(plw_worker_tasks(w), 0);

    msg_free(out);
    msg_free(pr);
    msg_free(acc);
    msg_free(again);
    msg_free(ready);
    fake_close(&f);
}

/* A broker that refuses the worker (unknown department): the worker stops,
 * reports the broker's reason, and sends nothing more. */
static void test_refused_unknown_department(void **state)
{
    (void)state;
    fake_t f;
    plw_config_t cfg;
    fake_init(&f);
    config_base(&f, &cfg, plw_builtin_find("noop"));
    plw_worker_t *w = fake_worker(&f, &cfg);
    msg_t *m = expect(&f, PLS__ENVELOPE__BODY_READY, 0);
    reply_to(&f, m, 404, "unknown department mediation", NULL);
    fake_run_for(&f, 100);
    assert_int_equal(f.stopped, 1);
    assert_true(f.stop_status < 0);
    assert_string_equal(f.stop_reason, "unknown department mediation");
    assert_int_equal(plw_worker_state(w), PLW_STATE_STOPPED);
    expect_none(&f, PLS__ENVELOPE__BODY_READY, 0, 400);
    msg_free(m);
    fake_close(&f);
}

/* No answer: Ready is resent until the broker answers (a Ready sent before
 * the answer is not an error), then heartbeats start. Later the broker goes
 * silent: after 3 heartbeat intervals the worker sends Ready again. */
static void test_ready_resent_and_broker_silence(void **state)
{
    (void)state;
    fake_t f;
    plw_config_t cfg;
    fake_init(&f);
    config_base(&f, &cfg, plw_builtin_find("noop"));
    plw_worker_t *w = fake_worker(&f, &cfg);
    msg_t *first = expect(&f, PLS__ENVELOPE__BODY_READY, 0);
    msg_t *second = expect(&f, PLS__ENVELOPE__BODY_READY, 0);
    assert_true(second->env->corr != first->env->corr);
    assert_int_equal(plw_worker_state(w), PLW_STATE_READYING);
    reply_to(&f, first, 200, "ok", NULL); /* a late answer to the first still counts */
    fake_run_for(&f, 50);
    assert_int_equal(plw_worker_state(w), PLW_STATE_RUNNING);
    msg_t *hb = expect(&f, PLS__ENVELOPE__BODY_HEARTBEAT, 0);
    reply_to(&f, hb, 200, "ok", NULL);
    msg_free(hb);

    /* silence: heartbeats go unanswered */
    f.answer_heartbeats = 0;
    msg_t *again = expect(&f, PLS__ENVELOPE__BODY_READY, 0);
    assert_int_equal(plw_worker_state(w), PLW_STATE_READYING);
    reply_to(&f, again, 200, "ok", NULL);
    f.answer_heartbeats = 1;
    fake_run_for(&f, 50);
    assert_int_equal(plw_worker_state(w), PLW_STATE_RUNNING);
    msg_free(again);
    msg_free(second);
    msg_free(first);
    fake_close(&f);
}

/* Report retries: unanswered → resent; 503 → resent later; 404 "send Ready"
 * → Ready, then resent; 409 on the 签收 → dropped, the assignment ends (no
 * outcome), credit back. */
static void test_report_retry_and_conflict(void **state)
{
    (void)state;
    fake_t f;
    plw_config_t cfg;
    holder_t h = {0};
    plw_handler_t hh = {"hold", hold_start, hold_cancel, &h};
    fake_init(&f);
    config_base(&f, &cfg, &hh);
    plw_worker_t *w = fake_worker(&f, &cfg);
    msg_t *ready = accept_ready(&f);

    assign_to(&f, ready, O1, 1, 7);
    msg_t *a1 = expect(&f, PLS__ENVELOPE__BODY_REPORT, PLS__REPORT_KIND__REPORT_ACCEPT);
    /* unanswered: resent (reply_timeout 400 ms) */
    msg_t *a2 = expect(&f, PLS__ENVELOPE__BODY_REPORT, PLS__REPORT_KIND__REPORT_ACCEPT);
    assert_string_equal(a2->env->report->order, O1);
    assert_true(a2->env->report->token == 7);
    reply_to(&f, a2, 503, "store unavailable", NULL);
    msg_t *a3 = expect(&f, PLS__ENVELOPE__BODY_REPORT, PLS__REPORT_KIND__REPORT_ACCEPT);
    reply_to(&f, a3, 404, "send Ready", NULL);
    msg_t *r2 = expect(&f, PLS__ENVELOPE__BODY_READY, 0);
    assert_int_equal(r2->env->ready->n_held, 1);
    reply_to(&f, r2, 200, "ok", NULL);
    msg_t *a4 = expect(&f, PLS__ENVELOPE__BODY_REPORT, PLS__REPORT_KIND__REPORT_ACCEPT);
    assert_string_equal(a4->env->report->order, O1);
    reply_to(&f, a4, 409, "stale attempt", NULL);
    fake_run_for(&f, 100);
    /* the assignment is over: handler cancelled, nothing held, no outcome */
    assert_int_equal(h.cancelled, 1);
    assert_int_equal(plw_worker_held(w), 0);
    assert_int_equal(plw_worker_tasks(w), 0);
    assert_string_equal(f.reported, "accept 409 01;"); /* 503 and 404 were not final */
    expect_none(&f, PLS__ENVELOPE__BODY_REPORT, 0, 500);
    /* a late 200 to an earlier send changes nothing */
    reply_to(&f, a1, 200, "ok", NULL);
    fake_run_for(&f, 50);
    assert_int_equal(plw_worker_tasks(w), 0);

    msg_free(a4);
    msg_free(r2);
    msg_free(a3);
    msg_free(a2);
    msg_free(a1);
    msg_free(ready);
    fake_close(&f);
}

/* A newer attempt of an order held here (the lease expired at the broker
 * and the order came back to this worker) ends the older attempt: its
 * handler is stopped and its reports are dropped. */
static void test_newer_attempt_supersedes(void **state)
{
    (void)state;
    fake_t f;
    plw_config_t cfg;
    holder_t h = {0};
    plw_handler_t hh = {"hold", hold_start, hold_cancel, &h};
    fake_init(&f);
    config_base(&f, &cfg, &hh);
    cfg.concurrency = 2;
    plw_worker_t *w = fake_worker(&f, &cfg);
    msg_t *ready = accept_ready(&f);
    assign_to(&f, ready, O1, 1, 11);
    msg_t *a1 = expect(&f, PLS__ENVELOPE__BODY_REPORT, PLS__REPORT_KIND__REPORT_ACCEPT);
    assert_int_equal(a1->env->report->attempt, 1);
    /* the same Assign again (a duplicate) changes nothing */
    assign_to(&f, ready, O1, 1, 11);
    fake_run_for(&f, 100);
    assert_int_equal(h.started, 1);
    assign_to(&f, ready, O1, 2, 12);
    msg_t *a2 = expect(&f, PLS__ENVELOPE__BODY_REPORT, PLS__REPORT_KIND__REPORT_ACCEPT);
    assert_int_equal(a2->env->report->attempt, 2);
    assert_true(a2->env->report->token == 12);
    assert_int_equal(h.started, 2);
    assert_int_equal(h.cancelled, 1);
    assert_int_equal(plw_task_info(h.task[1])->attempt, 2);
    assert_int_equal(plw_worker_held(w), 1);
    reply_to(&f, a2, 200, "ok", NULL);
    /* attempt 1's unanswered report is not resent */
    expect_none(&f, PLS__ENVELOPE__BODY_REPORT, PLS__REPORT_KIND__REPORT_ACCEPT, 1000);
    msg_free(a2);
    msg_free(a1);
    msg_free(ready);
    fake_close(&f);
}

/* Drain: the broker is told (drain, credit 0), new work is refused, held
 * work finishes and is reported, then the worker stops with status 0. */
static void test_drain(void **state)
{
    (void)state;
    fake_t f;
    plw_config_t cfg;
    holder_t h = {0};
    plw_handler_t hh = {"hold", hold_start, hold_cancel, &h};
    fake_init(&f);
    config_base(&f, &cfg, &hh);
    cfg.concurrency = 4;
    plw_worker_t *w = fake_worker(&f, &cfg);
    msg_t *ready = accept_ready(&f);
    assign_to(&f, ready, O1, 1, 9);
    msg_t *acc = expect(&f, PLS__ENVELOPE__BODY_REPORT, PLS__REPORT_KIND__REPORT_ACCEPT);
    reply_to(&f, acc, 200, "ok", NULL);
    fake_run_for(&f, 50);

    plw_worker_drain(w);
    msg_t *hb = expect(&f, PLS__ENVELOPE__BODY_HEARTBEAT, 0);
    assert_true(hb->env->heartbeat->drain);
    assert_int_equal(hb->env->heartbeat->credit, 0);
    assert_int_equal(hb->env->heartbeat->n_held, 1);
    reply_to(&f, hb, 200, "ok", NULL);
    /* an Assign that crossed the drain notice is handed back */
    assign_to(&f, ready, O2, 1, 10);
    msg_t *back = expect(&f, PLS__ENVELOPE__BODY_READY, 0);
    assert_true(back->env->ready->drain);
    assert_int_equal(back->env->ready->credit, 0);
    assert_int_equal(back->env->ready->n_held, 1);
    assert_string_equal(back->env->ready->held[0]->order, O1);
    reply_to(&f, back, 200, "ok", NULL);
    msg_free(back);
    fake_run_for(&f, 50);
    assert_int_equal(h.started, 1); /* nothing new taken */
    assert_int_equal(f.stopped, 0); /* still holding O1 */

    assert_int_equal(plw_task_finish(h.task[0], "referred", "to the notary office", NULL, 0, 0), 0);
    msg_t *out = expect(&f, PLS__ENVELOPE__BODY_REPORT, PLS__REPORT_KIND__REPORT_OUTCOME);
    assert_string_equal(out->env->report->outcome, "referred");
    assert_string_equal(out->env->report->note, "to the notary office");
    assert_int_equal(f.stopped, 0); /* not before the outcome is answered */
    reply_to(&f, out, 200, "ok", NULL);
    fake_run_for(&f, 100);
    assert_int_equal(f.stopped, 1);
    assert_int_equal(f.stop_status, 0);
    assert_string_equal(f.stop_reason, "drained");
    msg_free(out);
    msg_free(hb);
    msg_free(acc);
    msg_free(ready);
    fake_close(&f);
}

/* Many instances share one loop and one context (the benchmark's case):
 * each has its own socket and name, and each completes its own order. */
static void test_many_workers_one_loop(void **state)
{
    (void)state;
    fake_t f;
    plw_config_t cfg;
    const char *names[3] = {"w-a", "w-b", "w-c"};
    const char *orders[3] = {O1, O2, O3};
    fake_init(&f);
    for (int i = 0; i < 3; i++) {
        config_base(&f, &cfg, plw_builtin_find("noop"));
        cfg.name = names[i];
        (void)fake_worker(&f, &cfg);
    }
    msg_t *rd[3];
    for (int i = 0; i < 3; i++)
        rd[i] = accept_ready(&f);
    for (int i = 0; i < 3; i++)
        assign_to(&f, rd[i], orders[i], 1, 100 + (uint64_t)i);
    int done = 0;
    for (int k = 0; k < 6; k++) {
        msg_t *m = expect(&f, PLS__ENVELOPE__BODY_REPORT, 0);
        /* each order is reported by the worker it went to, with its token */
        int i = 0;
        while (i < 3 && strcmp(m->env->report->order, orders[i]) != 0)
            i++;
        assert_true(i < 3);
        assert_memory_equal(m->id, rd[i]->id, m->id_len);
        assert_true(m->env->report->token == 100 + (uint64_t)i);
        if (m->env->report->kind == PLS__REPORT_KIND__REPORT_ACCEPT)
            assert_string_equal(m->env->report->person, rd[i]->env->ready->name);
        else
            done++;
        reply_to(&f, m, 200, "ok", NULL);
        msg_free(m);
    }
    assert_int_equal(done, 3);
    for (int i = 0; i < 3; i++)
        msg_free(rd[i]);
    fake_close(&f);
}

/* ---- --exec ----------------------------------------------------------- */

static plw_worker_t *exec_worker(fake_t *f, plw_exec_t **ex, const char *cmd, plw_custody_t custody,
                                 unsigned timeout_ms)
{
    plw_config_t cfg;
    *ex = plw_exec_new(&f->loop, cmd);
    config_base(f, &cfg, plw_exec_handler(*ex));
    cfg.custody = custody;
    cfg.handler_timeout_ms = timeout_ms;
    cfg.reply_timeout_ms = 2000;
    return fake_worker(f, &cfg);
}

/* The handler gets the fetched order on stdin and the task in its
 * environment; its progress lines and final JSON become reports; a 100 KiB
 * line of chatter does not hurt. */
static void test_exec_outcome(void **state)
{
    (void)state;
    fake_t f;
    plw_exec_t *ex;
    const char *cmd =
        "doc=$(cat); case \"$doc\" in *doc-from-broker*) src=broker;; *) src=other;; esac; "
        "head -c 100000 /dev/zero | tr '\\0' x; echo; "
        "echo \"progress 50 halfway $src\"; echo 'free text is ignored'; "
        "printf '{\"outcome\":\"referred\",\"note\":\"%s %s %s %s %s\"}\\n' "
        "\"$PLS_ORDER_ID\" \"$PLS_STEP\" \"$PLS_ATTEMPT\" \"$PLS_DEPT\" \"$PLS_OUTCOMES\"";
    fake_init(&f);
    (void)exec_worker(&f, &ex, cmd, PLW_CUSTODY_AUTO, 0);
    msg_t *ready = accept_ready(&f);
    assign_to(&f, ready, O1, 2, 77);
    msg_t *q = expect(&f, PLS__ENVELOPE__BODY_QUERY, 0);
    assert_int_equal(q->env->query->kind, PLS__QUERY_KIND__QUERY_FETCH);
    assert_string_equal(q->env->query->order, O1);
    reply_to(&f, q, 200, "ok", "{\"id\":\"" O1 "\",\"marker\":\"doc-from-broker\"}");
    msg_t *acc = expect(&f, PLS__ENVELOPE__BODY_REPORT, PLS__REPORT_KIND__REPORT_ACCEPT);
    reply_to(&f, acc, 200, "ok", NULL);
    msg_t *pr = expect(&f, PLS__ENVELOPE__BODY_REPORT, PLS__REPORT_KIND__REPORT_PROGRESS);
    assert_int_equal(pr->env->report->pct, 50);
    assert_string_equal(pr->env->report->note, "halfway broker");
    reply_to(&f, pr, 200, "ok", NULL);
    msg_t *out = expect(&f, PLS__ENVELOPE__BODY_REPORT, PLS__REPORT_KIND__REPORT_OUTCOME);
    assert_string_equal(out->env->report->outcome, "referred");
    assert_string_equal(out->env->report->note, O1 " answer 2 consult answered referred");
    assert_int_equal(out->env->report->attempt, 2);
    assert_true(out->env->report->token == 77);
    reply_to(&f, out, 200, "ok", NULL);
    fake_run_for(&f, 50);
    msg_free(out);
    msg_free(pr);
    msg_free(acc);
    msg_free(q);
    msg_free(ready);
    fake_close(&f);
    plw_exec_destroy(&ex);
}

/* The fetch fails: the handler gets the Assign fields, marked partial; a
 * non-zero exit without a result line is "fail", saying the status. */
static void test_exec_fallback_and_exit_status(void **state)
{
    (void)state;
    fake_t f;
    plw_exec_t *ex;
    const char *cmd = "doc=$(cat); case \"$doc\" in "
                      "*'\"number\":\"DG-HM-20261126-0042\"'*'\"partial\":true'*) "
                      "echo 'progress 10 partial';; *) echo 'progress 10 full';; esac; exit 3";
    fake_init(&f);
    (void)exec_worker(&f, &ex, cmd, PLW_CUSTODY_AUTO, 0);
    msg_t *ready = accept_ready(&f);
    assign_to(&f, ready, O1, 1, 5);
    msg_t *q = expect(&f, PLS__ENVELOPE__BODY_QUERY, 0);
    reply_to(&f, q, 404, "unknown order", NULL);
    msg_t *acc = expect(&f, PLS__ENVELOPE__BODY_REPORT, PLS__REPORT_KIND__REPORT_ACCEPT);
    reply_to(&f, acc, 200, "ok", NULL);
    msg_t *pr = expect(&f, PLS__ENVELOPE__BODY_REPORT, PLS__REPORT_KIND__REPORT_PROGRESS);
    assert_string_equal(pr->env->report->note, "partial");
    reply_to(&f, pr, 200, "ok", NULL);
    msg_t *out = expect(&f, PLS__ENVELOPE__BODY_REPORT, PLS__REPORT_KIND__REPORT_OUTCOME);
    assert_string_equal(out->env->report->outcome, "fail");
    assert_string_equal(out->env->report->note, "handler exited with status 3");
    reply_to(&f, out, 200, "ok", NULL);
    fake_run_for(&f, 50);
    msg_free(out);
    msg_free(pr);
    msg_free(acc);
    msg_free(q);
    msg_free(ready);
    fake_close(&f);
    plw_exec_destroy(&ex);
}

/* An outcome the step does not have is refused by the worker and reported
 * as a failure that says why. */
static void test_exec_unknown_outcome(void **state)
{
    (void)state;
    fake_t f;
    plw_exec_t *ex;
    fake_init(&f);
    (void)exec_worker(&f, &ex, "echo '{\"outcome\":\"granted\"}'", PLW_CUSTODY_AUTO, 0);
    msg_t *ready = accept_ready(&f);
    assign_to(&f, ready, O1, 1, 5);
    msg_t *q = expect(&f, PLS__ENVELOPE__BODY_QUERY, 0);
    reply_to(&f, q, 200, "ok", "{}");
    msg_t *acc = expect(&f, PLS__ENVELOPE__BODY_REPORT, PLS__REPORT_KIND__REPORT_ACCEPT);
    reply_to(&f, acc, 200, "ok", NULL);
    msg_t *out = expect(&f, PLS__ENVELOPE__BODY_REPORT, PLS__REPORT_KIND__REPORT_OUTCOME);
    assert_string_equal(out->env->report->outcome, "fail");
    assert_non_null(strstr(out->env->report->note, "granted is not one of answered, referred"));
    reply_to(&f, out, 200, "ok", NULL);
    fake_run_for(&f, 50);
    msg_free(out);
    msg_free(acc);
    msg_free(q);
    msg_free(ready);
    fake_close(&f);
    plw_exec_destroy(&ex);
}

static int read_pid(const char *path)
{
    FILE *fp = fopen(path, "r");
    int pid = 0;
    if (fp) {
        if (fscanf(fp, "%d", &pid) != 1)
            pid = 0;
        fclose(fp);
    }
    return pid;
}

/* Gone, or a zombie waiting for a reaper (containers may lack an init that
 * reaps): either way no longer running. */
static int process_gone(int pid)
{
    char path[64], buf[256];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE *fp = fopen(path, "r");
    if (!fp)
        return 1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    return p && p[1] == ' ' && p[2] == 'Z';
}

static int wait_gone(fake_t *f, int pid)
{
    for (int i = 0; i < 400; i++) {
        if (process_gone(pid))
            return 1;
        fake_turn(f, 5);
    }
    return 0;
}

/* Past the handler timeout the handler's whole process group is killed and
 * the step fails, saying so. */
static void test_exec_timeout_kills_group(void **state)
{
    (void)state;
    fake_t f;
    plw_exec_t *ex;
    char pidfile[] = "/tmp/plw-test-XXXXXX";
    int fd = mkstemp(pidfile);
    assert_true(fd >= 0);
    close(fd);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "sleep 30 & echo $! > %s; wait", pidfile);
    fake_init(&f);
    (void)exec_worker(&f, &ex, cmd, PLW_CUSTODY_AUTO, 1000);
    msg_t *ready = accept_ready(&f);
    assign_to(&f, ready, O1, 1, 5);
    msg_t *q = expect(&f, PLS__ENVELOPE__BODY_QUERY, 0);
    reply_to(&f, q, 200, "ok", "{}");
    msg_t *acc = expect(&f, PLS__ENVELOPE__BODY_REPORT, PLS__REPORT_KIND__REPORT_ACCEPT);
    reply_to(&f, acc, 200, "ok", NULL);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    msg_t *out = expect(&f, PLS__ENVELOPE__BODY_REPORT, PLS__REPORT_KIND__REPORT_OUTCOME);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_true(t1.tv_sec - t0.tv_sec < 4); /* ~1 s, loose for sanitizers */
    assert_string_equal(out->env->report->outcome, "fail");
    assert_string_equal(out->env->report->note, "handler timed out after 1 s");
    reply_to(&f, out, 200, "ok", NULL);
    int pid = read_pid(pidfile);
    assert_true(pid > 0);
    assert_true(wait_gone(&f, pid)); /* the grandchild died with the group */
    unlink(pidfile);
    msg_free(out);
    msg_free(acc);
    msg_free(q);
    msg_free(ready);
    fake_close(&f);
    plw_exec_destroy(&ex);
}

/* Revoke while the handler runs: it is killed and nothing is reported. */
static void test_exec_revoke(void **state)
{
    (void)state;
    fake_t f;
    plw_exec_t *ex;
    char pidfile[] = "/tmp/plw-test-XXXXXX";
    int fd = mkstemp(pidfile);
    assert_true(fd >= 0);
    close(fd);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "echo $$ > %s; echo 'progress 5 started'; sleep 30", pidfile);
    fake_init(&f);
    plw_worker_t *w = exec_worker(&f, &ex, cmd, PLW_CUSTODY_AUTO, 0);
    msg_t *ready = accept_ready(&f);
    assign_to(&f, ready, O1, 1, 5);
    msg_t *q = expect(&f, PLS__ENVELOPE__BODY_QUERY, 0);
    reply_to(&f, q, 200, "ok", "{}");
    msg_t *acc = expect(&f, PLS__ENVELOPE__BODY_REPORT, PLS__REPORT_KIND__REPORT_ACCEPT);
    reply_to(&f, acc, 200, "ok", NULL);
    msg_t *pr = expect(&f, PLS__ENVELOPE__BODY_REPORT, PLS__REPORT_KIND__REPORT_PROGRESS);
    reply_to(&f, pr, 200, "ok", NULL);
    int pid = read_pid(pidfile);
    assert_true(pid > 0);
    revoke_to(&f, ready, O1, 0);
    assert_true(wait_gone(&f, pid));
    expect_none(&f, PLS__ENVELOPE__BODY_REPORT, 0, 300);
    assert_int_equal(plw_worker_tasks(w), 0);
    assert_int_equal(plw_worker_credit(w), 1);
    unlink(pidfile);
    msg_free(pr);
    msg_free(acc);
    msg_free(q);
    msg_free(ready);
    fake_close(&f);
    plw_exec_destroy(&ex);
}

/* Staff custody: the handler signs for a person and exits 0 without a
 * result; the department then holds the order — nothing more is reported. */
static void test_exec_staff_sign_only(void **state)
{
    (void)state;
    fake_t f;
    plw_exec_t *ex;
    fake_init(&f);
    plw_worker_t *w =
        exec_worker(&f, &ex, "cat >/dev/null; echo 'accept 李四'", PLW_CUSTODY_STAFF, 0);
    msg_t *ready = accept_ready(&f);
    assign_to(&f, ready, O1, 1, 5);
    msg_t *q = expect(&f, PLS__ENVELOPE__BODY_QUERY, 0);
    reply_to(&f, q, 200, "ok", "{}");
    msg_t *acc = expect(&f, PLS__ENVELOPE__BODY_REPORT, PLS__REPORT_KIND__REPORT_ACCEPT);
    assert_string_equal(acc->env->report->person, "李四");
    reply_to(&f, acc, 200, "ok", NULL);
    expect_none(&f, PLS__ENVELOPE__BODY_REPORT, 0, 300);
    assert_int_equal(plw_worker_tasks(w), 0);
    assert_int_equal(plw_worker_held(w), 0);
    msg_free(acc);
    msg_free(q);
    msg_free(ready);
    fake_close(&f);
    plw_exec_destroy(&ex);
}

/* Staff custody, the handler decides at once without an accept line: the
 * broker takes outcomes only for accepted orders, so the worker signs as
 * itself first, then reports the outcome (here 退单 with its reason). */
static void test_exec_staff_outcome_signs_first(void **state)
{
    (void)state;
    fake_t f;
    plw_exec_t *ex;
    fake_init(&f);
    plw_worker_t *w =
        exec_worker(&f, &ex, "echo '{\"outcome\":\"return\",\"note\":\"not our matter\"}'",
                    PLW_CUSTODY_STAFF, 0);
    msg_t *ready = accept_ready(&f);
    assign_to(&f, ready, O1, 1, 5);
    msg_t *q = expect(&f, PLS__ENVELOPE__BODY_QUERY, 0);
    reply_to(&f, q, 200, "ok", "{}");
    msg_t *acc = expect(&f, PLS__ENVELOPE__BODY_REPORT, PLS__REPORT_KIND__REPORT_ACCEPT);
    assert_string_equal(acc->env->report->person, "test-w1");
    /* the outcome travels right behind the signature */
    msg_t *early =
        fake_wait(&f, PLS__ENVELOPE__BODY_REPORT, PLS__REPORT_KIND__REPORT_OUTCOME, WAIT_MS);
    assert_non_null(early);
    fake_requeue(&f, early);
    reply_to(&f, acc, 200, "ok", NULL);
    msg_t *out = expect(&f, PLS__ENVELOPE__BODY_REPORT, PLS__REPORT_KIND__REPORT_OUTCOME);
    assert_string_equal(out->env->report->outcome, "return");
    assert_string_equal(out->env->report->note, "not our matter");
    reply_to(&f, out, 200, "ok", NULL);
    fake_run_for(&f, 50);
    assert_int_equal(plw_worker_tasks(w), 0);
    msg_free(out);
    msg_free(acc);
    msg_free(q);
    msg_free(ready);
    fake_close(&f);
    plw_exec_destroy(&ex);
}

/* The sign builtin: 签收 as the worker name, nothing else. */
static void test_sign_builtin(void **state)
{
    (void)state;
    fake_t f;
    plw_config_t cfg;
    fake_init(&f);
    config_base(&f, &cfg, plw_builtin_find("sign"));
    cfg.custody = PLW_CUSTODY_STAFF;
    plw_worker_t *w = fake_worker(&f, &cfg);
    msg_t *ready = accept_ready(&f);
    assign_to(&f, ready, O1, 1, 5);
    msg_t *acc = expect(&f, PLS__ENVELOPE__BODY_REPORT, PLS__REPORT_KIND__REPORT_ACCEPT);
    assert_string_equal(acc->env->report->person, "test-w1");
    reply_to(&f, acc, 200, "ok", NULL);
    expect_none(&f, PLS__ENVELOPE__BODY_REPORT, 0, 300);
    assert_int_equal(plw_worker_tasks(w), 0);
    msg_free(acc);
    msg_free(ready);
    fake_close(&f);
}

static void test_config_errors(void **state)
{
    (void)state;
    fake_t f;
    plw_config_t cfg;
    plw_worker_t *w = NULL;
    char err[256];
    fake_init(&f);
    static const char *const bad_depts[] = {"Consult"};
    config_base(&f, &cfg, plw_builtin_find("noop"));
    cfg.scope = "DG";
    assert_int_equal(plw_worker_new(&w, &f.loop, f.zctx, &cfg, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "scope"));
    config_base(&f, &cfg, plw_builtin_find("noop"));
    cfg.depts = bad_depts;
    cfg.n_depts = 1;
    assert_int_equal(plw_worker_new(&w, &f.loop, f.zctx, &cfg, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "Consult is not a department code"));
    config_base(&f, &cfg, plw_builtin_find("noop"));
    cfg.broker = "nonsense";
    assert_int_equal(plw_worker_new(&w, &f.loop, f.zctx, &cfg, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "could not connect to nonsense"));
    assert_null(w);
    /* made but never started: destroyed directly, default name host:pid:rand */
    config_base(&f, &cfg, plw_builtin_find("noop"));
    cfg.name = NULL;
    assert_int_equal(plw_worker_new(&w, &f.loop, f.zctx, &cfg, err, sizeof(err)), 0);
    char pid[32];
    snprintf(pid, sizeof(pid), ":%ld:", (long)getpid());
    assert_non_null(strstr(plw_worker_name(w), pid));
    plw_worker_destroy(&w);
    plw_worker_destroy(&w);
    assert_null(w);
    fake_close(&f);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_noop_auto_lifecycle),
        cmocka_unit_test(test_staff_reready_revoke_accept),
        cmocka_unit_test(test_refused_unknown_department),
        cmocka_unit_test(test_ready_resent_and_broker_silence),
        cmocka_unit_test(test_report_retry_and_conflict),
        cmocka_unit_test(test_newer_attempt_supersedes),
        cmocka_unit_test(test_drain),
        cmocka_unit_test(test_many_workers_one_loop),
        cmocka_unit_test(test_exec_outcome),
        cmocka_unit_test(test_exec_fallback_and_exit_status),
        cmocka_unit_test(test_exec_unknown_outcome),
        cmocka_unit_test(test_exec_timeout_kills_group),
        cmocka_unit_test(test_exec_revoke),
        cmocka_unit_test(test_exec_staff_sign_only),
        cmocka_unit_test(test_exec_staff_outcome_signs_first),
        cmocka_unit_test(test_sign_builtin),
        cmocka_unit_test(test_config_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
