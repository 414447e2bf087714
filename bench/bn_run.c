/*
 * bn_run — one benchmark run. Everything after the broker is up happens in
 * one libuv loop on one thread (plus libzmq's I/O thread): K submitter
 * DEALER sockets, N plw_worker instances sharing the loop and the ZeroMQ
 * context, a control socket for status queries, and a few timers.
 *
 *   SETUP    (blocking) start pls-broker or find the running one, wait
 *            until it answers status
 *     |
 *   WORKERS  workers send Ready; once all are running, a status query
 *            records the baseline counters (commits, rows, completions)
 *     |
 *   SUBMIT   closed loop: each submitter keeps --window submits outstanding,
 *            sending the next when one is answered; open loop (--rate): a
 *            1 ms timer sends what is due, round robin over submitters
 *     |
 *   DRAIN    every order sent; wait for every answer, then (with workers)
 *            until every order's last OUTCOME report was answered and the
 *            broker's status confirms the completions
 *     |
 *   DONE     uv_stop; the JSON is built from the arrays and the last status
 *
 * What is measured per order (all on the monotonic clock, microseconds):
 *   sent     first send of its submit (a resend keeps the first time)
 *   acked    the broker's 200 answer, read by the submitter
 *   assign   the first Assign of the order, when the worker starts our
 *            handler (which then runs the builtin noop handler)
 *   done     the broker's 200 answer to the OUTCOME report of its last step.
 *            plw has no callback for that answer, so a uv_check handle
 *            started before the workers (libuv runs check handles newest
 *            first, so it runs after theirs in the same loop turn) compares
 *            each worker's held count with the assignments it started: in
 *            auto custody an assignment is held exactly until its OUTCOME is
 *            answered, and one worker's OUTCOME reports are answered in the
 *            order they were sent (one connection, batches commit in order),
 *            which is the order the assignments started. The stamp is taken
 *            at the end of the loop turn that read the answer, so it can be
 *            late by up to one turn.
 *
 * Submits carry an idempotency key (bench-RUN-SEQ) and are resent with the
 * same key when unanswered for 5 s or answered 503, so a resend never makes a
 * second order.
 */
#include "bn_run.h"
#include "bn_child.h"
#include "bn_stats.h"

#include "plw_builtin.h"
#include "plw_worker.h"

#include "pls_client.h"
#include "pls_id.h"
#include "pls_log.h"
#include "pls_proto.h"
#include "pls_time.h"
#include "pls_zuv.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zmq.h>

#define RESEND_US 5000000         /* an unanswered submit is sent again after this */
#define STATUS_RESEND_MS 10000    /* an unanswered status query is sent again */
#define STATUS_POLL_MS 100        /* between completion checks while draining */
#define WORKERS_READY_MS 30000    /* workers must all be registered by then */
#define PROGRESS_EVERY_US 5000000 /* a progress line on stderr */
#define READY_WAIT_MS 120000      /* our broker must answer status by then */
#define CONNECT_WAIT_MS 10000     /* a running broker (--broker) must answer by then */

enum phase { PH_WORKERS = 0, PH_SUBMIT, PH_DRAIN, PH_DONE };
/* Per-order submit state. */
enum { O_UNSENT = 0, O_SENT, O_ACKED, O_FAILED };
/* What a status query on the control socket is for. */
enum { CTL_NONE = 0, CTL_BASELINE, CTL_FINAL };

typedef struct bench bench_t;

/* A broker of the run: the one orders are submitted to (br[0]) and, with
 * --federation, the city above it (br[1]). A control socket asks each for
 * status: a baseline before the first submit, then completion checks. */
typedef struct peer {
    bench_t *b;         /* borrowed */
    const char *node;   /* its node id (borrowed) */
    char endpoint[256]; /* where it listens */
    bn_child_t child;   /* the process, when we started it (--db) */
    void *sock;         /* owned DEALER: status queries */
    pls_zuv_t ctl;
    int ctl_open;
    int purpose;       /* CTL_* of the query in flight */
    uint64_t corr;     /* its corr */
    int64_t sent_ms;   /* when sent */
    json_t *base;      /* owned: status document at the start */
    json_t *final;     /* owned: status document of the last completion check */
    long hwm_kb;       /* peak RSS at the end */
    double cpu0, cpu1; /* CPU seconds at the first submit and at the end */
} peer_t;

/* One submitting socket. */
typedef struct submitter {
    bench_t *b;       /* borrowed */
    void *sock;       /* owned DEALER */
    pls_zuv_t zuv;    /* drives sock */
    uint32_t pending; /* orders sent by it and not answered yet */
    int open;         /* zuv initialised and not yet closed */
} submitter_t;

/* One worker and the assignments it started whose OUTCOME is not answered
 * yet, oldest first (a ring of map entries; NULL for an order we could not
 * record). */
typedef struct wslot {
    bench_t *b;       /* borrowed */
    plw_worker_t *w;  /* owned */
    bn_seen_t **fifo; /* owned ring */
    size_t cap, head, len;
} wslot_t;

struct bench {
    const bn_opts_t *o; /* borrowed */
    uv_loop_t loop;
    void *zctx; /* owned */
    int phase;
    char error[2048]; /* first reason the run failed; empty = none */

    /* orders, indexed by sequence number 0..m-1 */
    size_t m;
    int64_t *t_send; /* owned: first send (us) */
    int64_t *t_last; /* owned: last send (us), 0 = resend at the next tick */
    int64_t *t_ack;  /* owned: answer (us) */
    uint8_t *ostate; /* owned: O_* */
    uint16_t *owner; /* owned: submitter that sent it */
    size_t next_idx, acked, failed, resent, busy, low;
    bn_map_t map;     /* order id -> what the workers saw (with workers only) */
    size_t done_ours; /* orders of this run with at least one OUTCOME answered */
    size_t assigns, outcomes;
    int64_t max_lag_us; /* open loop: latest send behind its schedule */

    /* submit encoding */
    char *desc;          /* owned: the description */
    char key_prefix[32]; /* bench-RUN */
    uint8_t *pack;       /* owned scratch for packing */
    size_t pack_cap;

    submitter_t *subs; /* owned, n_subs */
    size_t n_subs;
    wslot_t *ws; /* owned, n_ws */
    size_t n_ws;
    const char *depts[BN_MAX_DEPTS];
    size_t n_depts;

    /* the brokers: br[0] takes the submits; br[1] is the city (--federation) */
    peer_t br[2];
    size_t n_br;
    int64_t ctl_next_ms; /* no status query before */

    uv_timer_t tick, rate_timer;
    uv_check_t sampler;
    uv_signal_t sig_int, sig_term;
    int handles_open;

    int64_t t_workers_ms;    /* workers started (loop ms) */
    int64_t t0_us, t_end_us; /* first send, last completion (or answer) */
    int64_t last_progress_us, last_report_us, last_resend_scan_us;
    size_t progress_mark; /* completed at the last progress line */
    size_t stall_mark;    /* answers + assignments + outcomes at the last change */

    long rss_base_kb, rss_end_kb; /* br[0] (own broker), for --queue-only */
    struct rusage ru0, ru1;
};

static void finish(bench_t *b);

static void fail_run(bench_t *b, const char *fmt, ...) PLS_PRINTF(2, 3);
static void fail_run(bench_t *b, const char *fmt, ...)
{
    if (!b->error[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(b->error, sizeof(b->error), fmt, ap);
        va_end(ap);
        pls_error("%s", b->error);
    }
    finish(b);
}

static double secs(int64_t us)
{
    return (double)us / 1e6;
}

/* ---- sockets ---------------------------------------------------------- */

static void *dealer(bench_t *b, const char *endpoint)
{
    void *s = zmq_socket(b->zctx, ZMQ_DEALER);
    if (!s)
        return NULL;
    int linger = 0, hwm = 0;
    int64_t maxmsg = PLS_MAX_FRAME;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm)); /* open loop: never drop a send */
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
    if (zmq_connect(s, endpoint) != 0) {
        zmq_close(s);
        return NULL;
    }
    return s;
}

static int send_env(bench_t *b, pls_zuv_t *z, Pls__Envelope *env)
{
    env->version = PLS_PROTO_VERSION;
    size_t len = pls__envelope__get_packed_size(env);
    if (len > b->pack_cap) {
        b->pack_cap = len * 2;
        b->pack = pls_xrealloc(b->pack, b->pack_cap);
    }
    pls__envelope__pack(env, b->pack);
    const void *parts[1] = {b->pack};
    size_t lens[1] = {len};
    return pls_zuv_send(z, parts, lens, 1);
}

/* ---- submitting ------------------------------------------------------- */

static const char *service_of(const bench_t *b, size_t idx)
{
    if (strcmp(b->o->service, "mixed") == 0)
        return bn_services[idx % bn_n_services];
    return b->o->service;
}

static void send_submit(bench_t *b, submitter_t *s, size_t idx)
{
    Pls__Envelope env;
    Pls__SubmitRequest sr;
    Pls__Citizen cz;
    char key[64], idn[32], phone[32];
    pls__envelope__init(&env);
    pls__submit_request__init(&sr);
    snprintf(key, sizeof(key), "%s-%zu", b->key_prefix, idx);
    sr.service = (char *)(uintptr_t)service_of(b, idx);
    sr.origin = (char *)(uintptr_t)b->o->node;
    sr.desc = b->desc;
    sr.key = key;
    if (b->o->citizen) {
        pls__citizen__init(&cz);
        snprintf(idn, sizeof(idn), "441900%012zu", idx);
        snprintf(phone, sizeof(phone), "138%08zu", idx % 100000000);
        cz.name = "Bench Citizen";
        cz.id_type = "resident_id";
        cz.id_number = idn;
        cz.phone = phone;
        sr.citizen = &cz;
    }
    env.corr = (uint64_t)idx + 1;
    env.actor = "pls-bench";
    env.body_case = PLS__ENVELOPE__BODY_SUBMIT;
    env.submit = &sr;
    int64_t now = pls_mono_us();
    if (b->ostate[idx] == O_UNSENT) {
        b->ostate[idx] = O_SENT;
        b->t_send[idx] = now;
        b->owner[idx] = (uint16_t)(s - b->subs);
        s->pending++;
    } else {
        b->resent++;
    }
    b->t_last[idx] = now;
    int rc = send_env(b, &s->zuv, &env);
    if (rc)
        b->t_last[idx] = 0; /* not sent: the next tick resends it */
}

/* Closed loop: keep the submitter's window full. */
static void feed(bench_t *b, submitter_t *s)
{
    while (b->phase == PH_SUBMIT && s->pending < (uint32_t)b->o->window && b->next_idx < b->m) {
        send_submit(b, s, b->next_idx++);
        if (b->next_idx == b->m)
            b->phase = PH_DRAIN;
    }
}

static void order_answered(bench_t *b, size_t idx)
{
    submitter_t *owner = &b->subs[b->owner[idx]];
    owner->pending--;
    if (b->o->rate <= 0)
        feed(b, owner);
}

static void on_submit_reply(bench_t *b, size_t idx, const Pls__Reply *r, int64_t now)
{
    if (b->ostate[idx] != O_SENT)
        return; /* an answer to a resend of an answered submit */
    if (r->status == PLS_OK) {
        b->ostate[idx] = O_ACKED;
        b->t_ack[idx] = now;
        b->acked++;
        pls_uuid_t id;
        if (b->n_ws && pls_uuid_parse(r->order, &id) == 0) {
            bn_seen_t *e = bn_map_get(&b->map, &id);
            if (e && e->idx < 0) {
                e->idx = (int32_t)idx;
                if (e->n_done)
                    b->done_ours++;
            }
        }
    } else if (r->status >= 500) {
        b->busy++;
        b->t_last[idx] = 0; /* resend at the next tick, same key */
        return;
    } else {
        b->ostate[idx] = O_FAILED;
        b->failed++;
        if (!b->error[0])
            snprintf(b->error, sizeof(b->error), "submit of %s order %zu refused: %u %s",
                     service_of(b, idx), idx, r->status, r->reason);
        pls_warn("submit of %s order %zu refused: %u %s", service_of(b, idx), idx, r->status,
                 r->reason);
    }
    order_answered(b, idx);
}

static void on_submitter_msg(pls_zuv_t *z, zmq_msg_t *frames, int nframes)
{
    submitter_t *s = z->data;
    bench_t *b = s->b;
    if (nframes != 1)
        return;
    int64_t now = pls_mono_us();
    char reason[128];
    Pls__Envelope *env = pls_proto_unpack(zmq_msg_data(&frames[0]), zmq_msg_size(&frames[0]),
                                          reason, sizeof(reason));
    if (!env)
        return;
    if (env->body_case == PLS__ENVELOPE__BODY_REPLY && env->corr >= 1 && env->corr <= b->m)
        on_submit_reply(b, (size_t)(env->corr - 1), env->reply, now);
    pls_proto_free(env);
}

/* Open loop: send what the schedule says is due, then sleep until the next
 * order is due (a one-shot timer: a loop turn costs a ZMQ_EVENTS check per
 * socket, so the timer does not tick faster than orders are due). */
static void on_rate_timer(uv_timer_t *h)
{
    bench_t *b = h->data;
    if (b->phase != PH_SUBMIT)
        return;
    int64_t now = pls_mono_us();
    double due_f = secs(now - b->t0_us) * b->o->rate + 1.0;
    size_t due = due_f >= (double)b->m ? b->m : (size_t)due_f;
    while (b->next_idx < due) {
        size_t idx = b->next_idx++;
        int64_t planned = b->t0_us + (int64_t)((double)idx * 1e6 / b->o->rate);
        if (now - planned > b->max_lag_us)
            b->max_lag_us = now - planned;
        send_submit(b, &b->subs[idx % b->n_subs], idx);
    }
    if (b->next_idx == b->m) {
        b->phase = PH_DRAIN;
        return;
    }
    int64_t next = b->t0_us + (int64_t)((double)b->next_idx * 1e6 / b->o->rate);
    int64_t wait_ms = (next - pls_mono_us() + 999) / 1000;
    uv_timer_start(&b->rate_timer, on_rate_timer, wait_ms > 0 ? (uint64_t)wait_ms : 0, 0);
}

static void start_submitting(bench_t *b)
{
    b->phase = PH_SUBMIT;
    b->t0_us = pls_mono_us();
    b->last_progress_us = b->last_report_us = b->last_resend_scan_us = b->t0_us;
    for (size_t i = 0; i < b->n_br; i++)
        if (b->br[i].child.pid)
            b->br[i].cpu0 = bn_proc_cpu_s(b->br[i].child.pid);
    getrusage(RUSAGE_SELF, &b->ru0);
    pls_info("submitting %zu orders", b->m);
    if (b->o->rate > 0) {
        uv_timer_start(&b->rate_timer, on_rate_timer, 0, 0);
        return;
    }
    for (size_t i = 0; i < b->n_subs; i++)
        feed(b, &b->subs[i]);
}

/* Resend what stayed unanswered (or was answered 503). */
static void resend_scan(bench_t *b, int64_t now)
{
    while (b->low < b->next_idx && b->ostate[b->low] != O_SENT)
        b->low++;
    for (size_t i = b->low; i < b->next_idx; i++)
        if (b->ostate[i] == O_SENT && now - b->t_last[i] >= RESEND_US)
            send_submit(b, &b->subs[b->owner[i]], i);
}

/* ---- workers ---------------------------------------------------------- */

static void fifo_push(wslot_t *ws, bn_seen_t *e)
{
    if (ws->len == ws->cap) {
        size_t ncap = ws->cap ? ws->cap * 2 : 64;
        bn_seen_t **n = pls_xcalloc(ncap, sizeof(*n));
        for (size_t i = 0; i < ws->len; i++)
            n[i] = ws->fifo[(ws->head + i) % ws->cap];
        free(ws->fifo);
        ws->fifo = n;
        ws->cap = ncap;
        ws->head = 0;
    }
    ws->fifo[(ws->head + ws->len) % ws->cap] = e;
    ws->len++;
}

static bn_seen_t *fifo_pop(wslot_t *ws)
{
    bn_seen_t *e = ws->fifo[ws->head];
    ws->head = (ws->head + 1) % ws->cap;
    ws->len--;
    return e;
}

/* The handler: note the assignment, then let the builtin noop finish it. */
static int on_task_start(plw_task_t *t, void *arg)
{
    bench_t *b = arg;
    const plw_task_info_t *in = plw_task_info(t);
    wslot_t *ws = plw_worker_data(plw_task_worker(t));
    pls_uuid_t id;
    bn_seen_t *e = NULL;
    if (pls_uuid_parse(in->order, &id) == 0)
        e = bn_map_get(&b->map, &id);
    if (e && !e->assign_us)
        e->assign_us = pls_mono_us();
    fifo_push(ws, e);
    b->assigns++;
    const plw_handler_t *noop = plw_builtin_find("noop");
    return noop->start(t, noop->arg);
}

static void on_worker_stopped(plw_worker_t *w, int status, const char *reason)
{
    wslot_t *ws = plw_worker_data(w);
    if (status < 0)
        fail_run(ws->b, "the broker refused worker %s: %s", plw_worker_name(w), reason);
}

/* After the workers' own check handles: OUTCOME answers read in this turn. */
static void on_sampler(uv_check_t *h)
{
    bench_t *b = h->data;
    int64_t now = 0;
    for (size_t i = 0; i < b->n_ws; i++) {
        wslot_t *ws = &b->ws[i];
        unsigned held = plw_worker_held(ws->w);
        while (ws->len > held) {
            bn_seen_t *e = fifo_pop(ws);
            b->outcomes++;
            if (!e)
                continue;
            if (!now)
                now = pls_mono_us();
            e->done_us = now;
            if (e->n_done++ == 0 && e->idx >= 0)
                b->done_ours++;
        }
    }
}

static int start_workers(bench_t *b, char *err, size_t errsz)
{
    b->n_depts = strcmp(b->o->service, "mixed") == 0
                     ? bn_depts_for("mixed", b->depts, BN_MAX_DEPTS)
                     : bn_depts_for(b->o->service, b->depts, BN_MAX_DEPTS);
    static const plw_handler_t handler_proto = {"bench", on_task_start, NULL, NULL};
    plw_handler_t handler = handler_proto;
    handler.arg = b;
    b->n_ws = (size_t)b->o->workers;
    b->ws = pls_xcalloc(b->n_ws ? b->n_ws : 1, sizeof(*b->ws));
    for (size_t i = 0; i < b->n_ws; i++) {
        wslot_t *ws = &b->ws[i];
        char name[64];
        snprintf(name, sizeof(name), "pls-bench:%ld:w%02zu", (long)getpid(), i);
        /* federation: the first half at the town, the rest at the city */
        const peer_t *at = &b->br[b->n_br > 1 && i >= (b->n_ws + 1) / 2 ? 1 : 0];
        plw_config_t cfg;
        plw_config_init(&cfg);
        cfg.broker = at->endpoint;
        cfg.scope = at->node;
        cfg.depts = b->depts;
        cfg.n_depts = b->n_depts;
        cfg.concurrency = (unsigned)b->o->concurrency;
        cfg.name = name;
        cfg.handler = &handler;
        cfg.on_stopped = on_worker_stopped;
        cfg.data = ws;
        ws->b = b;
        if (plw_worker_new(&ws->w, &b->loop, b->zctx, &cfg, err, errsz) != 0)
            return -EINVAL;
        int rc = plw_worker_start(ws->w);
        if (rc) {
            snprintf(err, errsz, "could not start worker %zu: %s", i, uv_strerror(rc));
            return rc;
        }
    }
    return 0;
}

static int workers_running(const bench_t *b)
{
    for (size_t i = 0; i < b->n_ws; i++)
        if (plw_worker_state(b->ws[i].w) != PLW_STATE_RUNNING)
            return 0;
    return 1;
}

static size_t fifo_total(const bench_t *b)
{
    size_t n = 0;
    for (size_t i = 0; i < b->n_ws; i++)
        n += b->ws[i].len;
    return n;
}

/* ---- status on the control sockets ------------------------------------ */

static void query_status(peer_t *p, int purpose)
{
    bench_t *b = p->b;
    Pls__Envelope env;
    Pls__QueryRequest q;
    pls__envelope__init(&env);
    pls__query_request__init(&q);
    q.kind = PLS__QUERY_KIND__QUERY_STATUS;
    env.corr = ++p->corr;
    env.actor = "pls-bench";
    env.body_case = PLS__ENVELOPE__BODY_QUERY;
    env.query = &q;
    p->purpose = purpose;
    p->sent_ms = (int64_t)uv_now(&b->loop);
    if (send_env(b, &p->ctl, &env) != 0)
        p->sent_ms = 0; /* resent by the tick */
}

/* Ask every broker that has no answer of this purpose yet and no query in flight. */
static void query_all(bench_t *b, int purpose)
{
    for (size_t i = 0; i < b->n_br; i++) {
        peer_t *p = &b->br[i];
        json_t *have = purpose == CTL_BASELINE ? p->base : p->final;
        if (!have && p->purpose == CTL_NONE)
            query_status(p, purpose);
    }
}

static json_int_t counter(const json_t *doc, const char *k)
{
    return json_integer_value(json_object_get(json_object_get(doc, "broker"), k));
}

static json_int_t orders_in(const json_t *doc, const char *state)
{
    return json_integer_value(json_object_get(json_object_get(doc, "orders"), state));
}

/* Sum over the brokers of a status counter's growth since the baseline. */
static json_int_t grown(const bench_t *b, const char *k)
{
    json_int_t n = 0;
    for (size_t i = 0; i < b->n_br; i++)
        n += counter(b->br[i].final, k) - counter(b->br[i].base, k);
    return n;
}

/* The town links to its city: submitting before the link is up would only
 * measure the wait for it. */
static int parent_link_up(const json_t *doc)
{
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(doc, "links"), i, l)
    {
        const char *role = json_string_value(json_object_get(l, "role"));
        if (role && strcmp(role, "parent") == 0 && json_is_true(json_object_get(l, "connected")))
            return 1;
    }
    return 0;
}

/* Every broker answered this round of completion checks: done, or ask again. */
static void check_final(bench_t *b)
{
    for (size_t i = 0; i < b->n_br; i++)
        if (!b->br[i].final)
            return;
    /* the brokers must have completed as many orders as we saw complete, and
     * in a federation the town's copies must say so too (the result flowed
     * back to the first desk) */
    json_int_t completions = grown(b, "completions");
    int ok = completions >= (json_int_t)b->acked;
    if (b->n_br > 1)
        ok = ok && orders_in(b->br[0].final, "completed") - orders_in(b->br[0].base, "completed") >=
                       (json_int_t)b->acked;
    if (b->n_ws && (!ok || fifo_total(b) || b->done_ours < b->acked)) {
        for (size_t i = 0; i < b->n_br; i++) {
            json_decref(b->br[i].final);
            b->br[i].final = NULL;
        }
        b->ctl_next_ms = (int64_t)uv_now(&b->loop) + STATUS_POLL_MS;
        return;
    }
    finish(b);
}

static void on_status_doc(peer_t *p, int purpose, json_t *doc)
{
    bench_t *b = p->b;
    if (!json_is_object(json_object_get(doc, "broker"))) {
        json_decref(doc);
        fail_run(b, "status answer without a \"broker\" object: is %s a pls-broker?", p->endpoint);
        return;
    }
    if (purpose == CTL_BASELINE) {
        if (b->n_br > 1 && p == &b->br[0] && !parent_link_up(doc)) {
            json_decref(doc); /* asked again by the tick */
            b->ctl_next_ms = (int64_t)uv_now(&b->loop) + STATUS_POLL_MS;
            return;
        }
        p->base = doc;
        for (size_t i = 0; i < b->n_br; i++)
            if (!b->br[i].base)
                return;
        start_submitting(b);
        return;
    }
    json_decref(p->final);
    p->final = doc;
    check_final(b);
}

static void on_ctl_msg(pls_zuv_t *z, zmq_msg_t *frames, int nframes)
{
    peer_t *p = z->data;
    bench_t *b = p->b;
    if (nframes != 1)
        return;
    char reason[128];
    Pls__Envelope *env = pls_proto_unpack(zmq_msg_data(&frames[0]), zmq_msg_size(&frames[0]),
                                          reason, sizeof(reason));
    if (!env)
        return;
    if (env->body_case != PLS__ENVELOPE__BODY_REPLY || env->corr != p->corr ||
        p->purpose == CTL_NONE) {
        pls_proto_free(env);
        return;
    }
    int purpose = p->purpose;
    p->purpose = CTL_NONE;
    if (env->reply->status != PLS_OK) {
        pls_info("status of %s answered %u %s: asking again", p->node, env->reply->status,
                 env->reply->reason);
        /* asked again by the tick (baseline) or the next completion check */
        b->ctl_next_ms = (int64_t)uv_now(&b->loop) + STATUS_POLL_MS;
        pls_proto_free(env);
        return;
    }
    json_error_t jerr;
    json_t *doc = json_loads(env->reply->json, 0, &jerr);
    pls_proto_free(env);
    if (!doc) {
        fail_run(b, "status answer of %s is not JSON: %s", p->node, jerr.text);
        return;
    }
    on_status_doc(p, purpose, doc);
}

/* ---- the tick: progress, resends, phase changes ----------------------- */

static void progress_line(bench_t *b, int64_t now)
{
    double t = secs(now - b->t0_us);
    double dt = secs(now - b->last_report_us);
    size_t done = b->n_ws ? b->done_ours : b->acked;
    fprintf(stderr,
            "pls-bench: %6.1fs sent %zu/%zu answered %zu assigned %zu completed %zu "
            "(%.0f/s lately)\n",
            t, b->next_idx, b->m, b->acked + b->failed, b->assigns, done,
            dt > 0 ? (double)(done - b->progress_mark) / dt : 0.0);
    b->progress_mark = done;
    b->last_report_us = now;
}

static void check_drain(bench_t *b, int64_t now_ms)
{
    if (b->acked + b->failed < b->m)
        return;
    if (!b->n_ws) {
        if (!b->rss_end_kb && b->br[0].child.pid) {
            /* every order is committed and in memory: the figure we want */
            b->rss_end_kb = bn_proc_kb(b->br[0].child.pid, "VmRSS");
        }
    } else if (b->done_ours < b->acked || fifo_total(b)) {
        return;
    }
    if (now_ms >= b->ctl_next_ms)
        query_all(b, CTL_FINAL);
}

static int ctl_idle(const bench_t *b)
{
    for (size_t i = 0; i < b->n_br; i++)
        if (b->br[i].purpose != CTL_NONE)
            return 0;
    return 1;
}

static void on_tick(uv_timer_t *h)
{
    bench_t *b = h->data;
    int64_t now_ms = (int64_t)uv_now(&b->loop), now = pls_mono_us();
    for (size_t i = 0; i < b->n_br; i++) {
        peer_t *p = &b->br[i];
        if (b->o->db && !bn_child_alive(&p->child)) {
            fail_run(b, "pls-broker %s exited during the run with status %d (log: %s)", p->node,
                     p->child.status, p->child.log);
            return;
        }
        if (p->purpose != CTL_NONE && now_ms - p->sent_ms >= STATUS_RESEND_MS)
            query_status(p, p->purpose);
    }
    if (b->phase == PH_WORKERS) {
        if (ctl_idle(b) && now_ms >= b->ctl_next_ms && workers_running(b))
            query_all(b, CTL_BASELINE);
        else if (ctl_idle(b) && now_ms - b->t_workers_ms > WORKERS_READY_MS)
            fail_run(b, "%s after %d s",
                     b->n_br > 1 && workers_running(b) ? "the town's link to its city is not up"
                                                       : "workers not registered with the broker",
                     WORKERS_READY_MS / 1000);
        return;
    }
    if (b->phase != PH_SUBMIT && b->phase != PH_DRAIN)
        return;
    if (now - b->last_resend_scan_us >= 1000000) {
        b->last_resend_scan_us = now;
        resend_scan(b, now);
    }
    size_t mark = b->acked + b->failed + b->assigns + b->outcomes;
    if (mark != b->stall_mark) {
        b->stall_mark = mark;
        b->last_progress_us = now;
    } else if (now - b->last_progress_us >= (int64_t)b->o->stall_s * 1000000) {
        fail_run(b,
                 "no progress for %ld s: %zu of %zu orders answered, %zu completed, %zu "
                 "assignments started",
                 b->o->stall_s, b->acked + b->failed, b->m, b->done_ours, b->assigns);
        return;
    }
    if (now - b->last_report_us >= PROGRESS_EVERY_US)
        progress_line(b, now);
    if (b->phase == PH_DRAIN)
        check_drain(b, now_ms);
}

static void on_signal(uv_signal_t *h, int signum)
{
    bench_t *b = h->data;
    fail_run(b, "interrupted by signal %d", signum);
}

/* ---- setup and teardown ----------------------------------------------- */

static void finish(bench_t *b)
{
    if (b->phase == PH_DONE)
        return;
    b->phase = PH_DONE;
    for (size_t i = 0; i < b->n_br; i++) {
        peer_t *p = &b->br[i];
        if (!p->child.pid)
            continue;
        p->cpu1 = bn_proc_cpu_s(p->child.pid);
        p->hwm_kb = bn_proc_kb(p->child.pid, "VmHWM");
    }
    if (b->br[0].child.pid && !b->rss_end_kb)
        b->rss_end_kb = bn_proc_kb(b->br[0].child.pid, "VmRSS");
    getrusage(RUSAGE_SELF, &b->ru1);
    uv_stop(&b->loop);
}

static void on_handle_closed(uv_handle_t *h)
{
    bench_t *b = h->data;
    b->handles_open--;
}

static void on_zuv_closed(pls_zuv_t *z)
{
    PLS_UNUSED(z);
}

static void on_worker_closed(plw_worker_t *w)
{
    wslot_t *ws = plw_worker_data(w);
    ws->b->handles_open--;
}

static void close_handle(bench_t *b, uv_handle_t *h)
{
    h->data = b;
    b->handles_open++;
    uv_close(h, on_handle_closed);
}

/* Close every handle and socket; run the loop until all are closed. */
static void teardown(bench_t *b)
{
    uv_check_stop(&b->sampler);
    close_handle(b, (uv_handle_t *)&b->tick);
    close_handle(b, (uv_handle_t *)&b->rate_timer);
    close_handle(b, (uv_handle_t *)&b->sampler);
    close_handle(b, (uv_handle_t *)&b->sig_int);
    close_handle(b, (uv_handle_t *)&b->sig_term);
    for (size_t i = 0; i < b->n_ws; i++) {
        if (!b->ws[i].w)
            continue;
        if (plw_worker_state(b->ws[i].w) == PLW_STATE_NEW)
            continue;
        b->handles_open++;
        plw_worker_close(b->ws[i].w, on_worker_closed);
    }
    for (size_t i = 0; i < b->n_subs; i++)
        if (b->subs[i].open)
            pls_zuv_close(&b->subs[i].zuv, on_zuv_closed);
    for (size_t i = 0; i < b->n_br; i++)
        if (b->br[i].ctl_open)
            pls_zuv_close(&b->br[i].ctl, on_zuv_closed);
    uv_run(&b->loop, UV_RUN_DEFAULT);
    if (b->handles_open)
        pls_warn("%d handle(s) did not close", b->handles_open);
    for (size_t i = 0; i < b->n_ws; i++) {
        plw_worker_destroy(&b->ws[i].w);
        free(b->ws[i].fifo);
    }
    for (size_t i = 0; i < b->n_subs; i++)
        if (b->subs[i].sock)
            zmq_close(b->subs[i].sock);
    for (size_t i = 0; i < b->n_br; i++)
        if (b->br[i].sock)
            zmq_close(b->br[i].sock);
    if (uv_loop_close(&b->loop) != 0)
        pls_warn("event loop closed with handles still open");
    zmq_ctx_term(b->zctx);
}

static int open_sockets(bench_t *b, char *err, size_t errsz)
{
    for (size_t i = 0; i < b->n_br; i++) {
        peer_t *p = &b->br[i];
        p->sock = dealer(b, p->endpoint);
        if (!p->sock || pls_zuv_init(&p->ctl, &b->loop, p->sock, on_ctl_msg) != 0) {
            snprintf(err, errsz, "could not open a socket to %s: %s", p->endpoint,
                     zmq_strerror(errno));
            return -EIO;
        }
        p->ctl.data = p;
        p->ctl_open = 1;
    }
    b->n_subs = (size_t)b->o->submitters;
    b->subs = pls_xcalloc(b->n_subs, sizeof(*b->subs));
    for (size_t i = 0; i < b->n_subs; i++) {
        submitter_t *s = &b->subs[i];
        s->b = b;
        s->sock = dealer(b, b->br[0].endpoint);
        if (!s->sock || pls_zuv_init(&s->zuv, &b->loop, s->sock, on_submitter_msg) != 0) {
            snprintf(err, errsz, "could not open submitter socket %zu: %s", i, zmq_strerror(errno));
            return -EIO;
        }
        s->zuv.data = s;
        s->open = 1;
    }
    return 0;
}

static void make_desc(bench_t *b)
{
    static const char text[] = "tenant asks how to get a deposit back after the landlord kept it "
                               "for repairs that were never made; wants advice and mediation ";
    size_t n = (size_t)b->o->desc_bytes;
    b->desc = pls_xmalloc(n + 1);
    for (size_t i = 0; i < n; i++)
        b->desc[i] = text[i % (sizeof(text) - 1)];
    b->desc[n] = '\0';
}

static void alloc_orders(bench_t *b)
{
    b->m = (size_t)b->o->orders;
    b->t_send = pls_xcalloc(b->m, sizeof(*b->t_send));
    b->t_last = pls_xcalloc(b->m, sizeof(*b->t_last));
    b->t_ack = pls_xcalloc(b->m, sizeof(*b->t_ack));
    b->ostate = pls_xcalloc(b->m, sizeof(*b->ostate));
    b->owner = pls_xcalloc(b->m, sizeof(*b->owner));
    if (b->o->workers > 0)
        bn_map_init(&b->map, b->m + 4096);
    snprintf(b->key_prefix, sizeof(b->key_prefix), "bench-%08" PRIx32, (uint32_t)pls_random_u64());
    make_desc(b);
}

static void free_orders(bench_t *b)
{
    free(b->t_send);
    free(b->t_last);
    free(b->t_ack);
    free(b->ostate);
    free(b->owner);
    if (b->map.slots)
        bn_map_cleanup(&b->map);
    free(b->desc);
    free(b->pack);
    free(b->subs);
    free(b->ws);
    for (size_t i = 0; i < b->n_br; i++) {
        json_decref(b->br[i].base);
        json_decref(b->br[i].final);
    }
}

/* Blocking: wait until the broker answers status (its store is up). */
static int wait_ready(bench_t *b, peer_t *p, char *err, size_t errsz)
{
    pls_client_t *c = pls_client_new(p->endpoint, err, errsz);
    if (!c)
        return -EINVAL;
    int wait_ms = b->o->db ? READY_WAIT_MS : CONNECT_WAIT_MS;
    int64_t deadline = pls_mono_ms() + wait_ms;
    int rc = -ETIMEDOUT;
    while (pls_mono_ms() < deadline) {
        Pls__Envelope env, *reply = NULL;
        Pls__QueryRequest q;
        pls__envelope__init(&env);
        pls__query_request__init(&q);
        q.kind = PLS__QUERY_KIND__QUERY_STATUS;
        env.body_case = PLS__ENVELOPE__BODY_QUERY;
        env.query = &q;
        env.actor = "pls-bench";
        if (pls_client_call(c, &env, 1000, &reply) == 0) {
            unsigned st = reply->body_case == PLS__ENVELOPE__BODY_REPLY ? reply->reply->status : 0;
            pls_proto_free(reply);
            if (st == PLS_OK) {
                rc = 0;
                break;
            }
        }
        if (b->o->db && !bn_child_alive(&p->child)) {
            snprintf(err, errsz, "pls-broker %s exited while starting (log: %s)", p->node,
                     p->child.log);
            pls_client_destroy(&c);
            return -ECHILD;
        }
        struct timespec ts = {0, 100000000L};
        nanosleep(&ts, NULL);
    }
    pls_client_destroy(&c);
    if (rc)
        snprintf(err, errsz, "no answer to status from %s (%s) within %d s", p->endpoint, p->node,
                 wait_ms / 1000);
    return rc;
}

/* Start our broker for p (its log: --broker-log, the city's with .city after it). */
static int start_one(bench_t *b, peer_t *p, const char *db, const char *parent, char *err,
                     size_t errsz)
{
    char bin[1024], log[1024];
    if (bn_child_find_broker(bin, sizeof(bin)) != 0) {
        snprintf(err, errsz,
                 "pls-broker not found beside pls-bench (../broker/ or the same "
                 "directory) nor on PATH");
        return -ENOENT;
    }
    const char *suffix = p == &b->br[1] ? ".city" : "";
    if (b->o->broker_log)
        snprintf(log, sizeof(log), "%s%s", b->o->broker_log, suffix);
    else
        snprintf(log, sizeof(log), "%s/pls-bench-broker.%ld%s.log",
                 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (long)getpid(), suffix);
    int rc = bn_child_start(&p->child, bin, p->node, db, parent, log, 60000, err, errsz);
    if (rc)
        return rc;
    snprintf(p->endpoint, sizeof(p->endpoint), "%s", p->child.endpoint);
    fprintf(stderr, "pls-bench: started %s --node %s (pid %ld) on %s, log %s\n", bin, p->node,
            (long)p->child.pid, p->endpoint, log);
    return 0;
}

/* The brokers of the run, started (--db) or found (--broker); the city
 * first, so the town can link to it. Returns 0 once each answers status. */
static int start_brokers(bench_t *b, char *err, size_t errsz)
{
    const bn_opts_t *o = b->o;
    b->n_br = o->federation ? 2 : 1;
    for (size_t i = 0; i < b->n_br; i++)
        b->br[i].b = b;
    b->br[0].node = o->node;
    b->br[1].node = o->city_node;
    int rc = 0;
    if (o->broker) {
        snprintf(b->br[0].endpoint, sizeof(b->br[0].endpoint), "%s", o->broker);
        if (o->federation)
            snprintf(b->br[1].endpoint, sizeof(b->br[1].endpoint), "%s", o->city_broker);
    } else {
        if (o->federation) {
            rc = start_one(b, &b->br[1], o->city_db, NULL, err, errsz);
            if (rc == 0)
                rc = wait_ready(b, &b->br[1], err, errsz);
        }
        if (rc == 0)
            rc = start_one(b, &b->br[0], o->db, o->federation ? b->br[1].endpoint : NULL, err,
                           errsz);
        if (rc)
            return rc;
    }
    for (size_t i = 0; rc == 0 && i < b->n_br; i++)
        rc = wait_ready(b, &b->br[i], err, errsz);
    return rc;
}

static void stop_brokers(bench_t *b)
{
    /* the town first: its link to the city ends before the city does */
    for (size_t i = 0; i < b->n_br; i++) {
        peer_t *p = &b->br[i];
        if (!p->child.pid)
            continue;
        int st = bn_child_stop(&p->child, 10000);
        if (st != 0)
            pls_warn("pls-broker %s exited with status %d (log: %s)", p->node, st, p->child.log);
    }
}

/* ---- the result ------------------------------------------------------- */

static double round3(double v)
{
    return round(v * 1000.0) / 1000.0;
}

static json_t *summary_json(int64_t *v, size_t n)
{
    bn_summary_t s;
    bn_summarize_us(v, n, &s);
    if (n == 0)
        return json_null();
    return json_pack("{s:I, s:f, s:f, s:f, s:f, s:f}", "n", (json_int_t)s.n, "p50", round3(s.p50),
                     "p90", round3(s.p90), "p99", round3(s.p99), "max", round3(s.max), "mean",
                     round3(s.mean));
}

static json_t *kb_or_null(long kb)
{
    return kb > 0 ? json_integer(kb) : json_null();
}

static double cpu_s(const struct rusage *r)
{
    return (double)r->ru_utime.tv_sec + (double)r->ru_utime.tv_usec / 1e6 +
           (double)r->ru_stime.tv_sec + (double)r->ru_stime.tv_usec / 1e6;
}

/* Latency arrays of the measured orders (sent after the warm-up). */
static void latencies(bench_t *b, json_t *out)
{
    int64_t *ack = pls_xcalloc(b->m, sizeof(int64_t));
    int64_t *asg = pls_xcalloc(b->m, sizeof(int64_t));
    int64_t *cpl = pls_xcalloc(b->m, sizeof(int64_t));
    size_t na = 0, ns = 0, nc = 0;
    int64_t from = b->t0_us + (int64_t)(b->o->warmup_s * 1e6);
    for (size_t i = 0; i < b->m; i++)
        if (b->ostate[i] == O_ACKED && b->t_send[i] >= from)
            ack[na++] = b->t_ack[i] - b->t_send[i];
    for (size_t i = 0; b->n_ws && i < bn_map_capacity(&b->map); i++) {
        bn_seen_t *e = bn_map_slot(&b->map, i);
        if (!e || e->idx < 0 || b->t_send[e->idx] < from)
            continue;
        if (e->assign_us)
            asg[ns++] = e->assign_us - b->t_send[e->idx];
        if (e->n_done)
            cpl[nc++] = e->done_us - b->t_send[e->idx];
    }
    json_object_set_new(out, "measured_orders", json_integer((json_int_t)na));
    json_object_set_new(out, "submit_ack_ms", summary_json(ack, na));
    json_object_set_new(out, "submit_to_assign_ms", b->n_ws ? summary_json(asg, ns) : json_null());
    json_object_set_new(out, "submit_to_complete_ms",
                        b->n_ws ? summary_json(cpl, nc) : json_null());
    free(ack);
    free(asg);
    free(cpl);
}

static int64_t end_time(bench_t *b)
{
    int64_t end = b->t0_us;
    for (size_t i = 0; i < b->m; i++)
        if (b->ostate[i] == O_ACKED && b->t_ack[i] > end)
            end = b->t_ack[i];
    for (size_t i = 0; b->n_ws && i < bn_map_capacity(&b->map); i++) {
        bn_seen_t *e = bn_map_slot(&b->map, i);
        if (e && e->idx >= 0 && e->n_done && e->done_us > end)
            end = e->done_us;
    }
    return end;
}

static void store_figures(bench_t *b, json_t *out, double seconds)
{
    for (size_t i = 0; i < b->n_br; i++)
        if (!b->br[i].final || !b->br[i].base) {
            json_object_set_new(out, "commits", json_null());
            json_object_set_new(out, "rows_written", json_null());
            return;
        }
    json_int_t commits = grown(b, "batches");
    json_int_t rows = grown(b, "rows_written");
    json_object_set_new(out, "commits", json_integer(commits));
    json_object_set_new(out, "rows_written", json_integer(rows));
    json_object_set_new(out, "commits_per_s",
                        json_real(round3(seconds > 0 ? (double)commits / seconds : 0)));
    json_object_set_new(out, "orders_per_commit",
                        json_real(round3(commits ? (double)b->acked / (double)commits : 0)));
    json_object_set_new(out, "rows_per_order",
                        json_real(round3(b->acked ? (double)rows / (double)b->acked : 0)));
    const json_t *fin = b->br[0].final;
    json_object_set_new(out, "broker_open_orders", json_integer(counter(fin, "open_orders")));
    json_t *orders = json_object_get(fin, "orders");
    json_object_set(out, "broker_orders", orders ? orders : json_null());
}

/* One line per broker (a federation run has two). */
static json_t *brokers_json(const bench_t *b)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < b->n_br; i++) {
        const peer_t *p = &b->br[i];
        json_t *o = json_pack("{s:s, s:s}", "node", p->node, "endpoint", p->endpoint);
        json_object_set_new(o, "peak_rss_kb", kb_or_null(p->hwm_kb));
        json_object_set_new(o, "cpu_s",
                            p->cpu1 > 0 ? json_real(round3(p->cpu1 - p->cpu0)) : json_null());
        if (p->base && p->final) {
            json_object_set_new(
                o, "commits",
                json_integer(counter(p->final, "batches") - counter(p->base, "batches")));
            json_object_set_new(
                o, "rows_written",
                json_integer(counter(p->final, "rows_written") - counter(p->base, "rows_written")));
            json_object_set_new(
                o, "completions",
                json_integer(counter(p->final, "completions") - counter(p->base, "completions")));
            json_object_set_new(
                o, "orders_completed",
                json_integer(orders_in(p->final, "completed") - orders_in(p->base, "completed")));
            /* the broker's own send-to-commit times of its batches, over the
             * 50-60 s before the end of the run (not the growth since the
             * baseline: a short run's include its warm-up) */
            static const char *const commit_keys[] = {"commits_last_min", "commit_ms_p50",
                                                      "commit_ms_p99", "commit_ms_max"};
            const json_t *fb = json_object_get(p->final, "broker");
            for (size_t k = 0; k < PLS_ARRAY_LEN(commit_keys); k++) {
                json_t *v = json_object_get(fb, commit_keys[k]);
                json_object_set(o, commit_keys[k], v ? v : json_null());
            }
        }
        json_array_append_new(arr, o);
    }
    return arr;
}

static json_t *config_json(const bench_t *b)
{
    const bn_opts_t *o = b->o;
    json_t *c =
        json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:s, s:I, s:b, s:b, s:f}", "broker",
                  b->br[0].endpoint, "node", o->node, "orders", (json_int_t)o->orders, "workers",
                  (json_int_t)o->workers, "concurrency", (json_int_t)o->concurrency, "submitters",
                  (json_int_t)o->submitters, "window", (json_int_t)o->window, "service", o->service,
                  "desc_bytes", (json_int_t)o->desc_bytes, "queue_only", o->queue_only, "citizen",
                  o->citizen, "warmup_s", o->warmup_s);
    json_object_set_new(c, "rate", o->rate > 0 ? json_real(o->rate) : json_null());
    json_object_set_new(c, "own_broker", json_boolean(o->db != NULL));
    json_object_set_new(c, "federation", json_boolean(o->federation));
    if (o->federation)
        json_object_set_new(
            c, "city", json_pack("{s:s, s:s}", "node", o->city_node, "broker", b->br[1].endpoint));
    return c;
}

static json_t *result_json(bench_t *b)
{
    json_t *out = json_object();
    int64_t end = b->t0_us ? end_time(b) : 0;
    double seconds = b->t0_us ? secs(end - b->t0_us) : 0;
    size_t done = b->n_ws ? b->done_ours : b->acked;
    json_object_set_new(out, "orders", json_integer((json_int_t)b->m));
    json_object_set_new(out, "answered", json_integer((json_int_t)b->acked));
    json_object_set_new(out, "refused", json_integer((json_int_t)b->failed));
    json_object_set_new(out, "completed", b->n_ws ? json_integer((json_int_t)done) : json_null());
    json_object_set_new(out, "seconds", json_real(round3(seconds)));
    json_object_set_new(out, "orders_per_s",
                        json_real(round3(seconds > 0 ? (double)done / seconds : 0)));
    latencies(b, out);
    long hwm = 0;
    double cpu = 0;
    for (size_t i = 0; i < b->n_br; i++) {
        hwm += b->br[i].hwm_kb > 0 ? b->br[i].hwm_kb : 0;
        cpu += b->br[i].cpu1 > 0 ? b->br[i].cpu1 - b->br[i].cpu0 : 0;
    }
    /* a federation run: the sums over both brokers (each in "brokers") */
    json_object_set_new(out, "broker_peak_rss_kb", kb_or_null(hwm));
    json_object_set_new(out, "broker_base_rss_kb", kb_or_null(b->rss_base_kb));
    json_object_set_new(out, "broker_end_rss_kb", kb_or_null(b->rss_end_kb));
    if (b->o->queue_only && b->rss_base_kb > 0 && b->rss_end_kb > 0 && b->acked)
        json_object_set_new(out, "queued_bytes_per_order",
                            json_real(round3((double)(b->rss_end_kb - b->rss_base_kb) * 1024.0 /
                                             (double)b->acked)));
    store_figures(b, out, seconds);
    json_object_set_new(out, "broker_cpu_s", cpu > 0 ? json_real(round3(cpu)) : json_null());
    json_object_set_new(out, "brokers", brokers_json(b));
    json_object_set_new(out, "bench_cpu_s", json_real(round3(cpu_s(&b->ru1) - cpu_s(&b->ru0))));
    json_object_set_new(out, "resent_submits", json_integer((json_int_t)b->resent));
    json_object_set_new(out, "busy_answers", json_integer((json_int_t)b->busy));
    if (b->o->rate > 0)
        json_object_set_new(out, "max_send_lag_ms", json_real(round3((double)b->max_lag_us / 1e3)));
    json_object_set_new(out, "config", config_json(b));
    json_object_set_new(out, "error", b->error[0] ? json_string(b->error) : json_null());
    return out;
}

/* ---- the run ---------------------------------------------------------- */

static int loop_setup(bench_t *b, char *err, size_t errsz)
{
    uv_loop_init(&b->loop);
    b->zctx = zmq_ctx_new();
    uv_timer_init(&b->loop, &b->tick);
    uv_timer_init(&b->loop, &b->rate_timer);
    uv_check_init(&b->loop, &b->sampler);
    uv_signal_init(&b->loop, &b->sig_int);
    uv_signal_init(&b->loop, &b->sig_term);
    b->tick.data = b->rate_timer.data = b->sampler.data = b;
    b->sig_int.data = b->sig_term.data = b;
    uv_signal_start(&b->sig_int, on_signal, SIGINT);
    uv_signal_start(&b->sig_term, on_signal, SIGTERM);
    /* before the workers: check handles run newest first, so this one runs
     * after theirs in every loop turn */
    uv_check_start(&b->sampler, on_sampler);
    int rc = open_sockets(b, err, errsz);
    if (rc == 0)
        rc = start_workers(b, err, errsz);
    b->t_workers_ms = (int64_t)uv_now(&b->loop);
    uv_timer_start(&b->tick, on_tick, 100, 100);
    return rc;
}

static int print_result(bench_t *b)
{
    json_t *out = result_json(b);
    char *text = json_dumps(out, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    printf("%s\n", text);
    fflush(stdout);
    free(text);
    json_decref(out);
    if (b->error[0])
        return 1;
    return 0;
}

int bn_run(const bn_opts_t *o)
{
    bench_t *b = pls_xcalloc(1, sizeof(*b));
    char err[2048] = "";
    b->o = o;
    int status = 0;
    signal(SIGPIPE, SIG_IGN);
    if (start_brokers(b, err, sizeof(err)) != 0) {
        fprintf(stderr, "pls-bench: %s\n", err);
        stop_brokers(b);
        free(b);
        return 3;
    }
    if (b->br[0].child.pid)
        b->rss_base_kb = bn_proc_kb(b->br[0].child.pid, "VmRSS");
    alloc_orders(b);
    if (loop_setup(b, err, sizeof(err)) != 0) {
        snprintf(b->error, sizeof(b->error), "%s", err);
        fprintf(stderr, "pls-bench: %s\n", err);
        b->phase = PH_DONE;
    } else {
        fprintf(stderr, "pls-bench: %zu orders (%s), %ld workers x %ld, %ld submitters%s%s%s\n",
                b->m, o->service, o->workers, o->workers ? o->concurrency : 0, o->submitters,
                o->queue_only ? ", queue only" : "", o->federation ? ", submitted at " : "",
                o->federation ? o->node : "");
        uv_run(&b->loop, UV_RUN_DEFAULT);
    }
    if (b->t0_us)
        progress_line(b, pls_mono_us());
    teardown(b);
    stop_brokers(b);
    status = print_result(b);
    free_orders(b);
    free(b);
    return status;
}
