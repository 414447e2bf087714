/*
 * plw_worker — one department worker instance: the session with the broker,
 * the assignments it holds, and the reports it owes. See plw_worker.h for
 * the API and the handler contract.
 *
 * The session (one per worker):
 *
 *   NEW --start--> READYING ------- Ready 200 ------> RUNNING
 *                   |  ^  \                            |
 *                   |  |   Ready 400/403/404/409/413   | Heartbeat 404, Report 404
 *                   |  |        |                      | "send Ready", or no answer
 *                   |  |        v                      | for 3 heartbeat intervals
 *                   |  |     STOPPED (on_stopped < 0)  |
 *                   |  +-------------------------------+
 *                   |
 *   READYING/RUNNING -- draining and nothing left --> STOPPED (on_stopped 0)
 *   any -- plw_worker_close --> CLOSING -- handles closed --> CLOSED
 *
 * While READYING, Ready (with the held assignments) is resent every
 * ready_retry_ms and no report is sent; once RUNNING again, every pending
 * report is resent at once. Assignments are taken in both states.
 *
 * Correlation ids say what they answer: corr = seq << 2 | kind, seq counting
 * up from a random start. A 404 "send Ready" answering a message sent before
 * the last successful Ready (seq < session_seq) is stale and only makes the
 * report go out again; it does not start another Ready round.
 *
 * An assignment (a task) lives from Assign until all of these are over: the
 * slot it holds (auto: until the OUTCOME is answered; staff: until the ACCEPT
 * is), its handler, and its queue of reports. Tasks that end are unlinked at
 * once and freed on the next timer turn, never inside a handler's call.
 *
 * One uv_timer per worker, armed at the earliest of: the next Ready or
 * heartbeat, the broker-silence limit, each queue head's resend time, each
 * pending fetch's deadline, each handler's timeout.
 */
#include "plw_worker.h"
#include "plw_output.h"

#include "pls_id.h"
#include "pls_log.h"
#include "pls_proto.h"
#include "pls_zuv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <zmq.h>

/* What a correlation id answers (its low two bits). */
enum { CORR_REPORT = 0, CORR_READY = 1, CORR_HEARTBEAT = 2, CORR_FETCH = 3 };

/* Backoff caps for reports: the reply wait doubles per unanswered send, the
 * pause after a 503 doubles per 503. */
#define BACKOFF_MAX_MS 16000
#define BROKER_SILENCE_BEATS 3
#define READY_UNSENT_MS 20

/* A report owed to the broker; a task's queue is sent head first, one at a
 * time, so the reports of one order arrive in order. */
typedef struct report {
    struct report *next;
    Pls__ReportKind kind;
    char *person;  /* owned; ACCEPT */
    unsigned pct;  /* PROGRESS */
    char *note;    /* owned, may be NULL */
    char *outcome; /* owned; OUTCOME */
    char **items;  /* owned */
    size_t n_items;
    unsigned days;
    uint64_t seq;      /* seq of the last send (0: never sent) */
    uint64_t prev_seq; /* seq of the send before (a late answer to it counts) */
    int in_flight;     /* sent, answer awaited until due */
    int64_t due;       /* in flight: answer deadline; else: earliest next send */
    unsigned tries;    /* sends so far */
    unsigned busy;     /* 503 answers so far */
} report_t;

enum { H_IDLE = 0, H_RUNNING, H_DONE };

struct plw_task {
    plw_worker_t *w;         /* borrowed: the worker owning this task */
    plw_task_t *prev, *next; /* in w->tasks, or next in w->dead */
    plw_task_info_t info;    /* strings point into the owned fields below */
    char *order, *number, *service, *step_name, *dept, *scope, *locality; /* owned */
    char **outcomes;           /* owned, info.n_outcomes */
    int holds_slot;            /* listed in held, counted against the credit */
    int handler;               /* H_IDLE, H_RUNNING, H_DONE */
    int accepted;              /* an ACCEPT is queued or sent (by the worker or the handler) */
    int dead;                  /* unlinked, waiting to be freed */
    int64_t deadline;          /* handler timeout (loop ms), 0 = none */
    report_t *q_head, *q_tail; /* owned reports */
    plw_fetch_cb fetch_cb;     /* pending fetch, NULL if none */
    void *fetch_arg;
    uint64_t fetch_seq;
    int64_t fetch_due;
    void *data; /* the handler's */
};

struct plw_worker {
    uv_loop_t *loop; /* borrowed */
    void *sock;      /* owned DEALER socket */
    pls_zuv_t zuv;   /* drives sock in the loop */
    uv_timer_t timer;
    int handles_open; /* libuv handles still to close */

    /* configuration (copied) */
    char *broker, *scope, *name; /* owned */
    char **depts;                /* owned, n_depts */
    size_t n_depts;
    plw_role_t role;
    plw_custody_t custody;
    unsigned concurrency, heartbeat_ms, handler_timeout_ms, ready_retry_ms, reply_timeout_ms;
    plw_handler_t handler;
    void (*on_stopped)(plw_worker_t *w, int status, const char *reason);
    void (*on_reported)(plw_worker_t *w, const plw_task_info_t *task, const char *kind,
                        unsigned status);
    void (*on_closed)(plw_worker_t *w);
    void *data;

    /* session */
    plw_state_t state;
    int draining;
    uint64_t seq;             /* last sequence number used in a corr */
    uint64_t ready_phase_seq; /* first Ready seq of this READYING round (0: none yet) */
    uint64_t session_seq;     /* seq of the Ready the broker last accepted */
    unsigned ready_sends;     /* Ready sent in this round (logs once when unanswered) */
    int64_t ready_unsent_ms;  /* retry delay while Ready cannot be sent (0: it was sent) */
    int64_t unsent_since;     /* since when Ready cannot be sent (0: it can) */
    int unsent_warned;        /* said so in this round */
    int64_t next_ready_at, next_hb_at, last_rx_at;
    int ever_ready;

    /* assignments */
    plw_task_t *tasks; /* owned, live */
    plw_task_t *dead;  /* owned, ended, freed on the next timer turn */
    unsigned n_tasks;
    unsigned slots; /* tasks with holds_slot */
};

static void rearm(plw_worker_t *w);
static void pump(plw_worker_t *w);
static void maybe_end(plw_task_t *t);
static void enter_readying(plw_worker_t *w, const char *why);

/* ---- small helpers ---------------------------------------------------- */

static int64_t now_ms(const plw_worker_t *w)
{
    return (int64_t)uv_now(w->loop);
}

static uint64_t next_corr(plw_worker_t *w, int kind, uint64_t *seq_out)
{
    uint64_t seq = ++w->seq;
    if (seq_out)
        *seq_out = seq;
    return seq << 2 | (uint64_t)kind;
}

/* How a task is named in logs: the order number people use, else the id. */
static const char *task_label(const plw_task_t *t)
{
    return t->number[0] ? t->number : t->order;
}

static const char *kind_name(Pls__ReportKind k)
{
    switch (k) {
    case PLS__REPORT_KIND__REPORT_ACCEPT:
        return "accept";
    case PLS__REPORT_KIND__REPORT_PROGRESS:
        return "progress";
    case PLS__REPORT_KIND__REPORT_OUTCOME:
        return "outcome";
    default:
        return "report";
    }
}

static char *clean_dup(const char *s, size_t max)
{
    if (!s)
        return NULL;
    char *d = pls_xstrdup(s);
    plw_text_clean(d, max);
    return d;
}

static unsigned credit(const plw_worker_t *w)
{
    if (w->draining || w->state >= PLW_STATE_STOPPED || w->slots >= w->concurrency)
        return 0;
    return w->concurrency - w->slots;
}

static int send_env(plw_worker_t *w, Pls__Envelope *env)
{
    uint8_t *buf;
    size_t len;
    env->version = PLS_PROTO_VERSION;
    env->actor = w->name;
    pls_proto_pack(env, &buf, &len);
    const void *parts[1] = {buf};
    size_t lens[1] = {len};
    int rc = pls_zuv_send(&w->zuv, parts, lens, 1);
    free(buf);
    if (rc)
        pls_debug("could not send %s to %s: %s", pls_proto_body_name((int)env->body_case),
                  w->broker, zmq_strerror(-rc));
    return rc;
}

/* ---- held list, Ready, Heartbeat -------------------------------------- */

typedef struct held_list {
    Pls__Held *items;
    Pls__Held **ptrs;
    size_t n;
} held_list_t;

static void held_build(plw_worker_t *w, held_list_t *h)
{
    h->items = pls_xcalloc(w->slots ? w->slots : 1, sizeof(*h->items));
    h->ptrs = pls_xcalloc(w->slots ? w->slots : 1, sizeof(*h->ptrs));
    h->n = 0;
    for (plw_task_t *t = w->tasks; t && h->n < w->slots; t = t->next) {
        if (!t->holds_slot)
            continue;
        Pls__Held *it = &h->items[h->n];
        pls__held__init(it);
        it->order = t->order;
        it->attempt = t->info.attempt;
        it->token = t->info.token;
        h->ptrs[h->n++] = it;
    }
}

static void held_free(held_list_t *h)
{
    free(h->items);
    free(h->ptrs);
}

static void send_ready(plw_worker_t *w)
{
    Pls__Envelope env;
    Pls__Ready r;
    held_list_t h;
    uint64_t seq;
    pls__envelope__init(&env);
    pls__ready__init(&r);
    held_build(w, &h);
    r.depts = w->depts;
    r.n_depts = w->n_depts;
    r.scope = w->scope;
    r.role = w->role == PLW_ROLE_B ? PLS__ROLE__ROLE_B : PLS__ROLE__ROLE_A;
    r.custody =
        w->custody == PLW_CUSTODY_STAFF ? PLS__CUSTODY__CUSTODY_STAFF : PLS__CUSTODY__CUSTODY_AUTO;
    r.credit = credit(w);
    r.held = h.ptrs;
    r.n_held = h.n;
    r.name = w->name;
    r.drain = w->draining != 0;
    env.corr = next_corr(w, CORR_READY, &seq);
    env.body_case = PLS__ENVELOPE__BODY_READY;
    env.ready = &r;
    if (!w->ready_phase_seq)
        w->ready_phase_seq = seq;
    int64_t now = now_ms(w), wait = w->ready_retry_ms;
    if (send_env(w, &env) != 0) {
        /* not connected (ZMQ_IMMEDIATE): try again soon, backing off to
         * ready_retry_ms, so that start-up does not wait a whole interval */
        w->ready_unsent_ms = w->ready_unsent_ms ? w->ready_unsent_ms * 2 : READY_UNSENT_MS;
        if (w->ready_unsent_ms < wait)
            wait = w->ready_unsent_ms;
        if (!w->unsent_since)
            w->unsent_since = now;
        else if (!w->unsent_warned && now - w->unsent_since >= 3LL * w->ready_retry_ms) {
            w->unsent_warned = 1;
            pls_warn("cannot reach broker at %s yet: still trying", w->broker);
        }
    } else {
        w->ready_unsent_ms = 0;
        w->unsent_since = 0;
        if (++w->ready_sends == 3)
            pls_warn("no answer from broker at %s yet: resending Ready every %u ms", w->broker,
                     w->ready_retry_ms);
    }
    held_free(&h);
    w->next_ready_at = now + wait;
}

static void send_heartbeat(plw_worker_t *w)
{
    Pls__Envelope env;
    Pls__Heartbeat hb;
    held_list_t h;
    pls__envelope__init(&env);
    pls__heartbeat__init(&hb);
    held_build(w, &h);
    hb.credit = credit(w);
    hb.held = h.ptrs;
    hb.n_held = h.n;
    hb.drain = w->draining != 0;
    env.corr = next_corr(w, CORR_HEARTBEAT, NULL);
    env.body_case = PLS__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    (void)send_env(w, &env);
    held_free(&h);
    w->next_hb_at = now_ms(w) + w->heartbeat_ms;
}

/* ---- reports ---------------------------------------------------------- */

static void report_free(report_t *r)
{
    free(r->person);
    free(r->note);
    free(r->outcome);
    for (size_t i = 0; i < r->n_items; i++)
        free(r->items[i]);
    free(r->items);
    free(r);
}

static void queue_drop(plw_task_t *t)
{
    report_t *r = t->q_head;
    while (r) {
        report_t *next = r->next;
        report_free(r);
        r = next;
    }
    t->q_head = t->q_tail = NULL;
}

static void queue_pop(plw_task_t *t)
{
    report_t *r = t->q_head;
    t->q_head = r->next;
    if (!t->q_head)
        t->q_tail = NULL;
    report_free(r);
}

static void enqueue(plw_task_t *t, report_t *r)
{
    r->due = now_ms(t->w);
    if (!t->q_tail)
        t->q_head = t->q_tail = r;
    else {
        t->q_tail->next = r;
        t->q_tail = r;
    }
}

static void enqueue_progress(plw_task_t *t, unsigned pct, const char *note)
{
    report_t *tail = t->q_tail;
    if (tail && tail->kind == PLS__REPORT_KIND__REPORT_PROGRESS && !tail->in_flight) {
        /* not sent yet: the latest progress replaces it */
        tail->pct = pct;
        free(tail->note);
        tail->note = clean_dup(note, PLS_MAX_NOTE);
        return;
    }
    report_t *r = pls_xcalloc(1, sizeof(*r));
    r->kind = PLS__REPORT_KIND__REPORT_PROGRESS;
    r->pct = pct;
    r->note = clean_dup(note, PLS_MAX_NOTE);
    enqueue(t, r);
}

static void enqueue_accept(plw_task_t *t, const char *person)
{
    report_t *r = pls_xcalloc(1, sizeof(*r));
    r->kind = PLS__REPORT_KIND__REPORT_ACCEPT;
    r->person = clean_dup(person, PLS_MAX_NAME);
    t->accepted = 1;
    enqueue(t, r);
}

static void enqueue_outcome(plw_task_t *t, const char *outcome, const char *note,
                            const char *const *items, size_t n_items, unsigned days)
{
    if (!t->accepted) {
        /* staff custody, nobody signed: the broker takes an outcome only for
         * an accepted order, so the worker signs as itself first */
        pls_info("order %s: outcome without 签收: signing as %s first", task_label(t), t->w->name);
        enqueue_accept(t, t->w->name);
    }
    report_t *r = pls_xcalloc(1, sizeof(*r));
    r->kind = PLS__REPORT_KIND__REPORT_OUTCOME;
    r->outcome = pls_xstrdup(outcome);
    r->note = clean_dup(note, PLS_MAX_NOTE);
    r->items = pls_xcalloc(n_items ? n_items : 1, sizeof(char *));
    for (size_t i = 0; i < n_items; i++)
        r->items[i] = pls_xstrdup(items[i]);
    r->n_items = n_items;
    r->days = days;
    enqueue(t, r);
}

static void send_report(plw_worker_t *w, plw_task_t *t, report_t *r)
{
    Pls__Envelope env;
    Pls__Report rep;
    pls__envelope__init(&env);
    pls__report__init(&rep);
    rep.kind = r->kind;
    rep.order = t->order;
    rep.attempt = t->info.attempt;
    rep.token = t->info.token;
    if (r->person)
        rep.person = r->person;
    rep.pct = r->pct;
    if (r->note)
        rep.note = r->note;
    if (r->outcome)
        rep.outcome = r->outcome;
    rep.items = r->items;
    rep.n_items = r->n_items;
    rep.days = r->days;
    r->prev_seq = r->seq;
    env.corr = next_corr(w, CORR_REPORT, &r->seq);
    env.body_case = PLS__ENVELOPE__BODY_REPORT;
    env.report = &rep;
    (void)send_env(w, &env); /* unsent = unanswered: resent when due */
    unsigned shift = r->tries < 3 ? r->tries : 3;
    int64_t wait = (int64_t)w->reply_timeout_ms << shift;
    r->in_flight = 1;
    r->due = now_ms(w) + (wait < BACKOFF_MAX_MS ? wait : BACKOFF_MAX_MS);
    r->tries++;
}

/* Send every queue head that is due. Reports wait while READYING. */
static void pump(plw_worker_t *w)
{
    if (w->state != PLW_STATE_RUNNING)
        return;
    int64_t now = now_ms(w);
    for (plw_task_t *t = w->tasks; t; t = t->next) {
        report_t *r = t->q_head;
        if (r && !r->in_flight && r->due <= now)
            send_report(w, t, r);
        /* a signature and the outcome right behind it travel together, so
         * the broker records both in one transaction (its answers come back
         * in order: the outcome's answer finds it at the head) */
        report_t *n = r ? r->next : NULL;
        if (r && r->in_flight && r->kind == PLS__REPORT_KIND__REPORT_ACCEPT && n && !n->in_flight &&
            n->kind == PLS__REPORT_KIND__REPORT_OUTCOME && n->due <= now)
            send_report(w, t, n);
    }
}

/* ---- task lifetime ---------------------------------------------------- */

static void release_slot(plw_task_t *t)
{
    if (!t->holds_slot)
        return;
    t->holds_slot = 0;
    t->w->slots--;
}

static void unlink_task(plw_worker_t *w, plw_task_t *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else
        w->tasks = t->next;
    if (t->next)
        t->next->prev = t->prev;
    t->prev = NULL;
    t->next = NULL;
    w->n_tasks--;
}

static void task_free(plw_task_t *t)
{
    queue_drop(t);
    free(t->order);
    free(t->number);
    free(t->service);
    free(t->step_name);
    free(t->dept);
    free(t->scope);
    free(t->locality);
    for (size_t i = 0; i < t->info.n_outcomes; i++)
        free(t->outcomes[i]);
    free(t->outcomes);
    free(t);
}

/* A task with nothing left to do is unlinked now and freed on the next
 * timer turn (the caller may still be inside its handler). The drain check
 * runs there too, so on_stopped never runs inside a handler's call. */
static void maybe_end(plw_task_t *t)
{
    if (t->dead || t->holds_slot || t->handler == H_RUNNING || t->q_head)
        return;
    plw_worker_t *w = t->w;
    unlink_task(w, t);
    t->dead = 1;
    t->next = w->dead;
    w->dead = t;
}

static void reap(plw_worker_t *w)
{
    while (w->dead) {
        plw_task_t *t = w->dead;
        w->dead = t->next;
        task_free(t);
    }
}

static void cancel_handler(plw_task_t *t)
{
    t->fetch_cb = NULL;
    if (t->handler != H_RUNNING)
        return;
    t->handler = H_DONE;
    if (t->w->handler.cancel)
        t->w->handler.cancel(t, t->w->handler.arg);
}

/* The assignment is over without anything more to say: revoked, refused
 * with 409, or superseded by a newer attempt. */
static void end_assignment(plw_task_t *t)
{
    cancel_handler(t);
    queue_drop(t);
    release_slot(t);
    maybe_end(t);
}

static plw_task_t *find_task(plw_worker_t *w, const char *order, uint32_t attempt)
{
    for (plw_task_t *t = w->tasks; t; t = t->next)
        if (strcmp(t->order, order) == 0 && (attempt == 0 || t->info.attempt == attempt))
            return t;
    return NULL;
}

/* ---- stopping --------------------------------------------------------- */

static void stop(plw_worker_t *w, int status, const char *reason)
{
    if (w->state >= PLW_STATE_STOPPED)
        return;
    if (w->state != PLW_STATE_NEW)
        uv_timer_stop(&w->timer);
    w->state = PLW_STATE_STOPPED;
    for (plw_task_t *t = w->tasks; t; t = t->next)
        cancel_handler(t);
    if (w->on_stopped)
        w->on_stopped(w, status, reason);
}

static void maybe_drained(plw_worker_t *w)
{
    if (w->draining && w->n_tasks == 0 &&
        (w->state == PLW_STATE_READYING || w->state == PLW_STATE_RUNNING)) {
        pls_info("drained: nothing held, stopping");
        stop(w, 0, "drained");
    }
}

/* ---- incoming: replies ------------------------------------------------ */

static int fatal_ready_status(unsigned status)
{
    return status == PLS_BAD_REQUEST || status == PLS_FORBIDDEN || status == PLS_NOT_FOUND ||
           status == PLS_CONFLICT || status == PLS_TOO_LARGE;
}

static void on_ready_reply(plw_worker_t *w, uint64_t seq, const Pls__Reply *rep)
{
    if (w->state != PLW_STATE_READYING || seq < w->ready_phase_seq)
        return; /* an answer to an earlier round */
    if (rep->status == PLS_OK) {
        int64_t now = now_ms(w);
        /* the broker says its lease: beat at least three times within it */
        const char *lease = rep->json ? strstr(rep->json, "\"lease_ms\":") : NULL;
        if (lease) {
            long ms = strtol(lease + 11, NULL, 10);
            if (ms >= 30 && (long)w->heartbeat_ms > ms / 3) {
                pls_info("broker lease is %ld ms: heartbeat every %ld ms", ms, ms / 3);
                w->heartbeat_ms = (unsigned)(ms / 3);
            }
        }
        w->state = PLW_STATE_RUNNING;
        w->session_seq = seq;
        w->last_rx_at = now;
        w->next_hb_at = now + w->heartbeat_ms;
        if (!w->ever_ready)
            pls_info("ready at %s: %s as %s, %s custody, credit %u", w->broker, w->scope,
                     w->role == PLW_ROLE_B ? "B" : "A",
                     w->custody == PLW_CUSTODY_STAFF ? "staff" : "auto", credit(w));
        else
            pls_info("ready again at %s: %u held assignments re-attached", w->broker, w->slots);
        w->ever_ready = 1;
        for (plw_task_t *t = w->tasks; t; t = t->next)
            if (t->q_head) {
                t->q_head->in_flight = 0;
                t->q_head->due = now;
            }
        pump(w);
        return;
    }
    if (fatal_ready_status(rep->status)) {
        /* the owner reports it (on_stopped): logged once, there */
        pls_debug("broker at %s refused this worker: %u %s", w->broker, rep->status, rep->reason);
        stop(w, -EPERM, rep->reason);
        return;
    }
    pls_debug("broker answered Ready with %u %s: retrying", rep->status, rep->reason);
}

static void on_heartbeat_reply(plw_worker_t *w, uint64_t seq, const Pls__Reply *rep)
{
    if (rep->status == PLS_NOT_FOUND && w->state == PLW_STATE_RUNNING && seq > w->session_seq)
        enter_readying(w, "broker does not know this worker (restarted?)");
}

static int asks_for_ready(const Pls__Reply *rep)
{
    /* the broker's 404 to an unknown worker says "send Ready" */
    for (const char *p = rep->reason; *p; p++)
        if (strncasecmp(p, "ready", 5) == 0)
            return 1;
    return 0;
}

static void report_answered(plw_task_t *t, report_t *r, const Pls__Reply *rep)
{
    plw_worker_t *w = t->w;
    Pls__ReportKind kind = r->kind;
    if (rep->status == PLS_OK) {
        if (kind == PLS__REPORT_KIND__REPORT_OUTCOME)
            pls_info("order %s step %s: outcome %s reported", task_label(t), t->step_name,
                     r->outcome);
        queue_pop(t);
        if (kind == PLS__REPORT_KIND__REPORT_OUTCOME ||
            (kind == PLS__REPORT_KIND__REPORT_ACCEPT && w->custody == PLW_CUSTODY_STAFF))
            release_slot(t);
        maybe_end(t);
        return;
    }
    pls_warn("order %s: broker refused %s report: %u %s", task_label(t), kind_name(kind),
             rep->status, rep->reason);
    queue_pop(t);
    if (kind == PLS__REPORT_KIND__REPORT_ACCEPT || kind == PLS__REPORT_KIND__REPORT_OUTCOME)
        end_assignment(t); /* the assignment is not ours any more */
    else
        maybe_end(t);
}

static void on_report_reply(plw_worker_t *w, uint64_t seq, const Pls__Reply *rep)
{
    plw_task_t *t;
    report_t *r = NULL;
    for (t = w->tasks; t; t = t->next) {
        r = t->q_head;
        if (r && r->seq && (r->seq == seq || r->prev_seq == seq))
            break;
    }
    if (!t)
        return; /* an answer to a report already settled */
    if (seq != r->seq && rep->status != PLS_OK)
        return; /* the send after it is in flight: wait for its answer */
    int64_t now = now_ms(w);
    if (rep->status == PLS_NOT_FOUND && asks_for_ready(rep)) {
        r->in_flight = 0;
        r->due = now;
        if (w->state == PLW_STATE_RUNNING && seq > w->session_seq)
            enter_readying(w, "broker does not know this worker (restarted?)");
        else
            pump(w);
        return;
    }
    if (rep->status >= 500) {
        unsigned shift = r->busy < 4 ? r->busy : 4;
        int64_t wait = 1000LL << shift;
        r->busy++;
        r->in_flight = 0;
        r->due = now + (wait < BACKOFF_MAX_MS ? wait : BACKOFF_MAX_MS);
        pls_debug("order %s: broker busy (%u %s): resending %s report later", task_label(t),
                  rep->status, rep->reason, kind_name(r->kind));
        return;
    }
    const char *kind = kind_name(r->kind);
    report_answered(t, r, rep);
    pump(w);
    /* last: the callback may even close the worker (t stays readable until
     * the next timer turn or the close, neither of which can come first) */
    if (w->on_reported)
        w->on_reported(w, &t->info, kind, rep->status);
}

static void on_fetch_reply(plw_worker_t *w, uint64_t seq, const Pls__Reply *rep)
{
    for (plw_task_t *t = w->tasks; t; t = t->next) {
        if (t->fetch_cb && t->fetch_seq == seq) {
            plw_fetch_cb cb = t->fetch_cb;
            t->fetch_cb = NULL;
            if (rep->status != PLS_OK)
                pls_warn("order %s: could not fetch the order: %u %s", task_label(t), rep->status,
                         rep->reason);
            cb(t, rep->status, rep->status == PLS_OK ? rep->json : NULL, t->fetch_arg);
            return;
        }
    }
}

static void on_reply(plw_worker_t *w, uint64_t corr, const Pls__Reply *rep)
{
    uint64_t seq = corr >> 2;
    switch ((int)(corr & 3)) {
    case CORR_READY:
        on_ready_reply(w, seq, rep);
        break;
    case CORR_HEARTBEAT:
        on_heartbeat_reply(w, seq, rep);
        break;
    case CORR_REPORT:
        on_report_reply(w, seq, rep);
        break;
    default:
        on_fetch_reply(w, seq, rep);
        break;
    }
}

/* ---- incoming: assignments and revokes -------------------------------- */

static plw_task_t *task_new(plw_worker_t *w, const Pls__Assign *a)
{
    plw_task_t *t = pls_xcalloc(1, sizeof(*t));
    t->w = w;
    t->order = pls_xstrdup(a->order);
    t->number = pls_xstrdup(a->number);
    t->service = pls_xstrdup(a->service);
    t->step_name = pls_xstrdup(a->step_name);
    t->dept = pls_xstrdup(a->dept);
    t->scope = pls_xstrdup(a->scope);
    t->locality = pls_xstrdup(a->locality);
    t->outcomes = pls_xcalloc(a->n_outcomes ? a->n_outcomes : 1, sizeof(char *));
    for (size_t i = 0; i < a->n_outcomes; i++)
        t->outcomes[i] = pls_xstrdup(a->outcomes[i]);
    plw_task_info_t *in = &t->info;
    in->order = t->order;
    in->number = t->number;
    in->service = t->service;
    in->step = a->step;
    in->step_name = t->step_name;
    in->dept = t->dept;
    in->scope = t->scope;
    in->locality = t->locality;
    in->attempt = a->attempt;
    in->token = a->token;
    in->urgent = a->priority == PLS__PRIORITY__PRIORITY_URGENT;
    in->outcomes = (const char *const *)t->outcomes;
    in->n_outcomes = a->n_outcomes;
    in->custody = w->custody;
    t->next = w->tasks;
    if (w->tasks)
        w->tasks->prev = t;
    w->tasks = t;
    w->n_tasks++;
    t->holds_slot = 1;
    w->slots++;
    return t;
}

/* An Assign the worker does not take stays held by it at the broker until
 * the worker dies or sends a Ready that does not list it: send that Ready
 * now, so the broker re-queues the order at once. */
static void hand_back(plw_worker_t *w, const Pls__Assign *a, const char *why)
{
    pls_warn("%s: handing order %s back", why, a->number[0] ? a->number : a->order);
    if (w->state == PLW_STATE_RUNNING)
        enter_readying(w, "assignment declined");
    /* while READYING, the next Ready (within ready_retry_ms) does it */
}

static int assign_acceptable(plw_worker_t *w, const Pls__Assign *a)
{
    if (w->state != PLW_STATE_RUNNING && w->state != PLW_STATE_READYING)
        return 0;
    if (a->attempt == 0) {
        pls_warn("assignment of order %s without an attempt number: ignored", a->order);
        return 0;
    }
    for (plw_task_t *t = w->tasks; t; t = t->next)
        if (t->holds_slot && t->info.attempt == a->attempt && t->info.token == a->token &&
            strcmp(t->order, a->order) == 0) {
            pls_debug("order %s attempt %u: already held", a->order, a->attempt);
            return 0;
        }
    plw_task_t *next;
    for (plw_task_t *t = w->tasks; t; t = next) {
        next = t->next;
        if (t->info.attempt < a->attempt && strcmp(t->order, a->order) == 0) {
            pls_warn("order %s: attempt %u supersedes attempt %u here: stopping it", task_label(t),
                     a->attempt, t->info.attempt);
            end_assignment(t);
        }
    }
    if (w->draining) {
        hand_back(w, a, "draining");
        return 0;
    }
    if (w->slots >= w->concurrency) {
        char why[64];
        snprintf(why, sizeof(why), "no credit (holding %u)", w->slots);
        hand_back(w, a, why);
        return 0;
    }
    return 1;
}

static void start_handler(plw_worker_t *w, plw_task_t *t)
{
    t->handler = H_RUNNING;
    if (w->handler_timeout_ms)
        t->deadline = now_ms(w) + w->handler_timeout_ms;
    int rc = w->handler.start(t, w->handler.arg);
    if (rc < 0 && t->handler == H_RUNNING) {
        t->handler = H_DONE;
        t->fetch_cb = NULL;
        pls_warn("order %s: %s handler could not start: %s", task_label(t), w->handler.name,
                 strerror(-rc));
        char note[160];
        snprintf(note, sizeof(note), "handler %s could not start: %s", w->handler.name,
                 strerror(-rc));
        enqueue_outcome(t, "fail", note, NULL, 0, 0);
    }
}

static void on_assign(plw_worker_t *w, const Pls__Assign *a)
{
    if (!assign_acceptable(w, a))
        return;
    plw_task_t *t = task_new(w, a);
    pls_info("order %s: assigned step %u %s (%s at %s), attempt %u", task_label(t), a->step,
             t->step_name, t->dept, t->scope, a->attempt);
    if (w->custody == PLW_CUSTODY_AUTO)
        enqueue_accept(t, w->name); /* auto custody: the worker signs first */
    start_handler(w, t);
    pump(w);
    maybe_end(t);
}

static void on_revoke(plw_worker_t *w, const Pls__Revoke *rv)
{
    plw_task_t *t;
    int found = 0;
    while ((t = find_task(w, rv->order, rv->attempt)) != NULL && !t->dead) {
        pls_info("order %s attempt %u revoked: %s", task_label(t), t->info.attempt,
                 rv->reason[0] ? rv->reason : "(no reason given)");
        end_assignment(t);
        found = 1;
    }
    if (!found)
        pls_debug("revoke of order %s: not held here", rv->order);
}

static void on_envelope(plw_worker_t *w, const Pls__Envelope *env)
{
    w->last_rx_at = now_ms(w); /* anything from the broker shows it is alive */
    switch (env->body_case) {
    case PLS__ENVELOPE__BODY_REPLY:
        on_reply(w, env->corr, env->reply);
        break;
    case PLS__ENVELOPE__BODY_ASSIGN:
        on_assign(w, env->assign);
        break;
    case PLS__ENVELOPE__BODY_REVOKE:
        on_revoke(w, env->revoke);
        break;
    default:
        pls_debug("unexpected %s message from broker: ignored",
                  pls_proto_body_name((int)env->body_case));
    }
}

static void on_zuv_msg(pls_zuv_t *z, zmq_msg_t *frames, int nframes)
{
    plw_worker_t *w = z->data;
    if (w->state >= PLW_STATE_STOPPED)
        return;
    if (nframes != 1) {
        pls_warn("malformed message from broker (%d frames): ignored", nframes);
        return;
    }
    char reason[160];
    Pls__Envelope *env = pls_proto_unpack(zmq_msg_data(&frames[0]), zmq_msg_size(&frames[0]),
                                          reason, sizeof(reason));
    if (!env) {
        pls_warn("message from broker: %s", reason);
        return;
    }
    if (pls_proto_validate(env, reason, sizeof(reason)) != 0)
        pls_warn("invalid %s message from broker: %s", pls_proto_body_name((int)env->body_case),
                 reason);
    else
        on_envelope(w, env);
    pls_proto_free(env);
    rearm(w);
}

/* ---- time ------------------------------------------------------------- */

static void enter_readying(plw_worker_t *w, const char *why)
{
    pls_warn("%s: sending Ready again with %u held assignments", why, w->slots);
    w->state = PLW_STATE_READYING;
    w->ready_phase_seq = 0;
    w->ready_sends = 0;
    w->unsent_since = 0;
    w->unsent_warned = 0;
    send_ready(w);
}

static void handler_timed_out(plw_task_t *t)
{
    plw_worker_t *w = t->w;
    unsigned s = (w->handler_timeout_ms + 999) / 1000;
    pls_warn("order %s: %s handler still running after %u s: stopped, reporting fail",
             task_label(t), w->handler.name, s);
    cancel_handler(t);
    char note[96];
    snprintf(note, sizeof(note), "handler timed out after %u s", s);
    enqueue_outcome(t, "fail", note, NULL, 0, 0);
}

static void step_task_time(plw_task_t *t, int64_t now)
{
    if (t->handler == H_RUNNING && t->deadline && now >= t->deadline)
        handler_timed_out(t);
    if (t->fetch_cb && now >= t->fetch_due) {
        plw_fetch_cb cb = t->fetch_cb;
        t->fetch_cb = NULL;
        pls_warn("order %s: no answer to the order fetch", task_label(t));
        cb(t, 0, NULL, t->fetch_arg);
    }
    report_t *r = t->q_head;
    if (r && r->in_flight && now >= r->due) {
        pls_debug("order %s: no answer to %s report: resending", task_label(t), kind_name(r->kind));
        r->in_flight = 0;
    }
    maybe_end(t);
}

static void step_timer(plw_worker_t *w)
{
    reap(w);
    maybe_drained(w);
    if (w->state >= PLW_STATE_STOPPED)
        return;
    int64_t now = now_ms(w);
    if (w->state == PLW_STATE_READYING && now >= w->next_ready_at)
        send_ready(w);
    if (w->state == PLW_STATE_RUNNING) {
        int64_t silence = now - w->last_rx_at;
        if (silence >= (int64_t)w->heartbeat_ms * BROKER_SILENCE_BEATS) {
            char why[96];
            snprintf(why, sizeof(why), "no answer from broker for %lld ms", (long long)silence);
            enter_readying(w, why);
        } else if (now >= w->next_hb_at) {
            send_heartbeat(w);
        }
    }
    plw_task_t *next;
    for (plw_task_t *t = w->tasks; t && w->state < PLW_STATE_STOPPED; t = next) {
        next = t->next;
        step_task_time(t, now);
    }
    pump(w);
    rearm(w);
}

static void on_timer(uv_timer_t *h)
{
    step_timer(h->data);
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

static void rearm(plw_worker_t *w)
{
    if (w->state != PLW_STATE_READYING && w->state != PLW_STATE_RUNNING)
        return;
    int64_t now = now_ms(w), next = INT64_MAX;
    if (w->dead || (w->draining && w->n_tasks == 0))
        next = now;
    if (w->state == PLW_STATE_READYING)
        next = min64(next, w->next_ready_at);
    else
        next = min64(next, min64(w->next_hb_at,
                                 w->last_rx_at + (int64_t)w->heartbeat_ms * BROKER_SILENCE_BEATS));
    for (plw_task_t *t = w->tasks; t; t = t->next) {
        if (t->q_head && (t->q_head->in_flight || w->state == PLW_STATE_RUNNING))
            next = min64(next, t->q_head->due);
        if (t->fetch_cb)
            next = min64(next, t->fetch_due);
        if (t->handler == H_RUNNING && t->deadline)
            next = min64(next, t->deadline);
    }
    /* at least 1 ms: libuv (1.44) runs a timer re-armed with 0 from its own
     * callback again in the same pass, so a deadline left in the past by
     * mistake would spin the loop instead of polling it */
    uv_timer_start(&w->timer, on_timer, next > now + 1 ? (uint64_t)(next - now) : 1, 0);
}

/* ---- public: handlers ------------------------------------------------- */

const plw_task_info_t *plw_task_info(const plw_task_t *t)
{
    return &t->info;
}

plw_worker_t *plw_task_worker(const plw_task_t *t)
{
    return t->w;
}

void plw_task_set_data(plw_task_t *t, void *data)
{
    t->data = data;
}

void *plw_task_data(const plw_task_t *t)
{
    return t->data;
}

int plw_task_progress(plw_task_t *t, unsigned pct, const char *note)
{
    if (t->handler != H_RUNNING || pct > 100)
        return -EINVAL;
    enqueue_progress(t, pct, note);
    pump(t->w);
    rearm(t->w);
    return 0;
}

int plw_task_accept(plw_task_t *t, const char *person)
{
    if (t->handler != H_RUNNING)
        return -EINVAL;
    if (t->accepted)
        return -EALREADY;
    if (!person || !*person || strlen(person) > PLS_MAX_NAME ||
        !pls_utf8_valid_n(person, strlen(person)))
        return -EINVAL;
    pls_info("order %s: signed for (签收) by a person", task_label(t));
    enqueue_accept(t, person);
    pump(t->w);
    rearm(t->w);
    return 0;
}

int plw_task_finish(plw_task_t *t, const char *outcome, const char *note, const char *const *items,
                    size_t n_items, unsigned days)
{
    char err[256];
    if (t->handler != H_RUNNING)
        return -EINVAL;
    if (plw_outcome_check(outcome, note, items, n_items, days, t->info.outcomes, t->info.n_outcomes,
                          err, sizeof(err)) != 0) {
        pls_debug("order %s: outcome rejected: %s", task_label(t), err);
        return -EINVAL;
    }
    t->handler = H_DONE;
    t->fetch_cb = NULL;
    plw_worker_t *w = t->w;
    pls_debug("order %s step %s: handler done, outcome %s", task_label(t), t->step_name, outcome);
    enqueue_outcome(t, outcome, note, items, n_items, days);
    pump(w);
    maybe_end(t);
    rearm(w);
    return 0;
}

void plw_task_release(plw_task_t *t)
{
    if (t->handler != H_RUNNING)
        return;
    t->handler = H_DONE;
    t->fetch_cb = NULL;
    if (t->w->custody == PLW_CUSTODY_STAFF && t->accepted) {
        pls_info("order %s: handler done, the department holds the order", task_label(t));
    } else {
        pls_warn("order %s: handler ended without an outcome: reporting fail", task_label(t));
        enqueue_outcome(t, "fail", "handler ended without an outcome", NULL, 0, 0);
    }
    plw_worker_t *w = t->w;
    pump(w);
    maybe_end(t);
    rearm(w);
}

int plw_task_fetch(plw_task_t *t, plw_fetch_cb cb, void *arg)
{
    if (t->handler != H_RUNNING || !cb)
        return -EINVAL;
    if (t->fetch_cb)
        return -EBUSY;
    plw_worker_t *w = t->w;
    Pls__Envelope env;
    Pls__QueryRequest q;
    pls__envelope__init(&env);
    pls__query_request__init(&q);
    q.kind = PLS__QUERY_KIND__QUERY_FETCH;
    q.order = t->order;
    env.corr = next_corr(w, CORR_FETCH, &t->fetch_seq);
    env.body_case = PLS__ENVELOPE__BODY_QUERY;
    env.query = &q;
    t->fetch_cb = cb;
    t->fetch_arg = arg;
    /* not sent (no connection): fail on the next timer turn, not in here */
    t->fetch_due = now_ms(w) + (send_env(w, &env) == 0 ? w->reply_timeout_ms : 0);
    rearm(w);
    return 0;
}

/* ---- public: the worker ----------------------------------------------- */

void plw_config_init(plw_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->role = PLW_ROLE_A;
    cfg->custody = PLW_CUSTODY_AUTO;
    cfg->concurrency = 1;
    cfg->heartbeat_ms = 2000;
    cfg->ready_retry_ms = 1000;
    cfg->reply_timeout_ms = 2000;
}

static int config_check(const plw_config_t *c, char *err, size_t errsz)
{
    if (!c->broker || !*c->broker)
        snprintf(err, errsz, "broker: endpoint required");
    else if (!c->scope || strlen(c->scope) >= PLS_NODE_MAX || !pls_node_valid(c->scope))
        snprintf(err, errsz,
                 "scope: not a node id (lowercase labels joined by dots, like "
                 "dg.humen)");
    else if (c->n_depts == 0 || !c->depts)
        snprintf(err, errsz, "depts: at least one department required");
    else if (c->n_depts > PLS_MAX_DEPTS)
        snprintf(err, errsz, "depts: more than %d departments", PLS_MAX_DEPTS);
    else if (c->concurrency == 0 || c->concurrency > 100000)
        snprintf(err, errsz, "concurrency: want 1 to 100000");
    else if (c->heartbeat_ms < 10 || c->ready_retry_ms < 10 || c->reply_timeout_ms < 10)
        snprintf(err, errsz, "heartbeat, Ready retry and reply timeout: want at least 10 ms");
    else if (c->name && (!*c->name || strlen(c->name) > PLS_MAX_NAME ||
                         !pls_utf8_valid_n(c->name, strlen(c->name))))
        snprintf(err, errsz, "name: want 1 to %d bytes of UTF-8", PLS_MAX_NAME);
    else if (!c->handler || !c->handler->start)
        snprintf(err, errsz, "handler: required");
    else {
        for (size_t i = 0; i < c->n_depts; i++)
            if (!c->depts[i] || !pls_code_valid(c->depts[i])) {
                snprintf(err, errsz, "depts: %s is not a department code ([a-z][a-z0-9_]{0,31})",
                         c->depts[i] ? c->depts[i] : "(null)");
                return -EINVAL;
            }
        return 0;
    }
    return -EINVAL;
}

static char *default_name(void)
{
    char host[64];
    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "localhost");
    host[sizeof(host) - 1] = '\0';
    char name[PLS_MAX_NAME];
    snprintf(name, sizeof(name), "%s:%ld:%04x", host, (long)getpid(),
             (unsigned)(pls_random_u64() & 0xffff));
    plw_text_clean(name, PLS_MAX_NAME);
    return pls_xstrdup(name);
}

static int socket_open(plw_worker_t *w, void *zctx, char *err, size_t errsz)
{
    w->sock = zmq_socket(zctx, ZMQ_DEALER);
    if (!w->sock) {
        snprintf(err, errsz, "could not create a socket: %s", zmq_strerror(errno));
        return -EINVAL;
    }
    int linger = 0, immediate = 1, ivl = 100, ivl_max = 1000;
    int64_t maxmsg = PLS_MAX_FRAME;
    /* immediate: queue only to a live connection, so Ready resent every
     * second while the broker is down does not pile up for later */
    zmq_setsockopt(w->sock, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(w->sock, ZMQ_IMMEDIATE, &immediate, sizeof(immediate));
    zmq_setsockopt(w->sock, ZMQ_RECONNECT_IVL, &ivl, sizeof(ivl));
    zmq_setsockopt(w->sock, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof(ivl_max));
    zmq_setsockopt(w->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
    if (zmq_connect(w->sock, w->broker) != 0) {
        snprintf(err, errsz, "could not connect to %s: %s", w->broker, zmq_strerror(errno));
        return -EINVAL;
    }
    return 0;
}

int plw_worker_new(plw_worker_t **out, uv_loop_t *loop, void *zctx, const plw_config_t *cfg,
                   char *err, size_t errsz)
{
    *out = NULL;
    if (config_check(cfg, err, errsz) != 0)
        return -EINVAL;
    plw_worker_t *w = pls_xcalloc(1, sizeof(*w));
    w->loop = loop;
    w->broker = pls_xstrdup(cfg->broker);
    w->scope = pls_xstrdup(cfg->scope);
    w->name = cfg->name ? pls_xstrdup(cfg->name) : default_name();
    w->depts = pls_xcalloc(cfg->n_depts, sizeof(char *));
    for (size_t i = 0; i < cfg->n_depts; i++)
        w->depts[i] = pls_xstrdup(cfg->depts[i]);
    w->n_depts = cfg->n_depts;
    w->role = cfg->role;
    w->custody = cfg->custody;
    w->concurrency = cfg->concurrency;
    w->heartbeat_ms = cfg->heartbeat_ms;
    w->handler_timeout_ms = cfg->handler_timeout_ms;
    w->ready_retry_ms = cfg->ready_retry_ms;
    w->reply_timeout_ms = cfg->reply_timeout_ms;
    w->handler = *cfg->handler;
    if (!w->handler.name)
        w->handler.name = "handler";
    w->on_stopped = cfg->on_stopped;
    w->on_reported = cfg->on_reported;
    w->data = cfg->data;
    w->state = PLW_STATE_NEW;
    w->seq = (pls_random_u64() >> 34) + 1; /* random start, far from overflow */
    if (socket_open(w, zctx, err, errsz) != 0) {
        plw_worker_destroy(&w);
        return -EINVAL;
    }
    *out = w;
    return 0;
}

int plw_worker_start(plw_worker_t *w)
{
    if (w->state != PLW_STATE_NEW)
        return -EALREADY;
    int rc = pls_zuv_init(&w->zuv, w->loop, w->sock, on_zuv_msg);
    if (rc)
        return rc;
    w->zuv.data = w;
    uv_timer_init(w->loop, &w->timer);
    w->timer.data = w;
    w->handles_open = 2;
    w->state = PLW_STATE_READYING;
    w->last_rx_at = now_ms(w);
    pls_info("worker %s: %zu department(s) at %s, broker %s", w->name, w->n_depts, w->scope,
             w->broker);
    send_ready(w);
    rearm(w);
    return 0;
}

void plw_worker_drain(plw_worker_t *w)
{
    if (w->draining || w->state >= PLW_STATE_STOPPED)
        return;
    w->draining = 1;
    pls_info("draining: taking nothing new, %u assignment(s) and %u task(s) to finish", w->slots,
             w->n_tasks);
    if (w->state == PLW_STATE_NEW) {
        stop(w, 0, "drained");
        return;
    }
    if (w->state == PLW_STATE_RUNNING)
        send_heartbeat(w); /* tell the broker now: credit 0, drain */
    rearm(w);              /* the timer stops us once nothing is left */
}

static void closed_one(plw_worker_t *w)
{
    if (--w->handles_open > 0)
        return;
    zmq_close(w->sock);
    w->sock = NULL;
    w->state = PLW_STATE_CLOSED;
    if (w->on_closed)
        w->on_closed(w); /* may destroy w: touch nothing after */
}

static void on_timer_closed(uv_handle_t *h)
{
    closed_one(h->data);
}

static void on_zuv_closed(pls_zuv_t *z)
{
    closed_one(z->data);
}

void plw_worker_close(plw_worker_t *w, void (*on_closed)(plw_worker_t *w))
{
    if (w->state == PLW_STATE_CLOSING || w->state == PLW_STATE_CLOSED)
        return;
    int started = w->state != PLW_STATE_NEW;
    w->state = PLW_STATE_CLOSING;
    w->on_closed = on_closed;
    if (w->n_tasks)
        pls_info("closing with %u task(s) unfinished: abandoned", w->n_tasks);
    plw_task_t *t = w->tasks, *next;
    w->tasks = NULL;
    for (; t; t = next) {
        next = t->next;
        cancel_handler(t);
        release_slot(t);
        task_free(t);
    }
    w->n_tasks = 0;
    reap(w);
    if (!started) {
        w->handles_open = 1;
        closed_one(w);
        return;
    }
    uv_close((uv_handle_t *)&w->timer, on_timer_closed);
    pls_zuv_close(&w->zuv, on_zuv_closed);
}

void plw_worker_destroy(plw_worker_t **w_p)
{
    plw_worker_t *w = *w_p;
    if (!w)
        return;
    /* a started worker is destroyed only once closed */
    if (w->state != PLW_STATE_NEW && w->state != PLW_STATE_CLOSED) {
        pls_error("plw_worker_destroy on a worker that is not closed");
        abort();
    }
    if (w->sock)
        zmq_close(w->sock);
    free(w->broker);
    free(w->scope);
    free(w->name);
    for (size_t i = 0; i < w->n_depts; i++)
        free(w->depts[i]);
    free(w->depts);
    free(w);
    *w_p = NULL;
}

void *plw_worker_data(const plw_worker_t *w)
{
    return w->data;
}

const char *plw_worker_name(const plw_worker_t *w)
{
    return w->name;
}

plw_state_t plw_worker_state(const plw_worker_t *w)
{
    return w->state;
}

unsigned plw_worker_held(const plw_worker_t *w)
{
    return w->slots;
}

unsigned plw_worker_credit(const plw_worker_t *w)
{
    return credit(w);
}

unsigned plw_worker_tasks(const plw_worker_t *w)
{
    return w->n_tasks;
}
