/*
 * plw_worker — the department worker as a C library (DESIGN §3, §6).
 *
 * One plw_worker_t is one worker instance: it has its own DEALER socket
 * (made from the ZeroMQ context the caller passes in) driven by the caller's
 * libuv loop through pls_zuv, keeps no global state, and so many instances
 * can share one loop and one context (the benchmark does).
 *
 * A worker tells the broker what it serves (Ready), keeps itself known
 * (Heartbeat), takes assignments (Assign) up to its credit, runs a handler
 * for each, and reports what the handler says (Report), retrying each report
 * until the broker answers. The handler is given as a plw_handler_t: the
 * builtins (plw_builtin.h), the --exec runner (plw_exec.h), or the caller's
 * own code — a department system can link this library and report on orders
 * from its own events.
 *
 * Typical use:
 *
 *     plw_config_t cfg;
 *     plw_config_init(&cfg);
 *     cfg.broker = "tcp://127.0.0.1:5555";
 *     cfg.scope = "dg.humen";
 *     cfg.depts = (const char *[]){"consult"};
 *     cfg.n_depts = 1;
 *     cfg.handler = plw_builtin_find("noop");
 *     cfg.on_stopped = on_stopped;               // refused, or drained
 *     plw_worker_t *w;
 *     if (plw_worker_new(&w, loop, zctx, &cfg, err, sizeof(err)) == 0 &&
 *         plw_worker_start(w) == 0)
 *         uv_run(loop, UV_RUN_DEFAULT);
 *     ... plw_worker_close(w, on_closed); ... plw_worker_destroy(&w);
 *
 * Handler contract:
 *   - start(task) begins work and returns 0; it later calls exactly one of
 *     plw_task_finish / plw_task_release (possibly from inside start). After
 *     that call the task pointer is no longer the handler's.
 *   - start may call plw_task_progress, plw_task_accept, plw_task_fetch in
 *     between, from any loop callback.
 *   - start returning < 0 means it could not begin: the worker reports
 *     "fail" for it and does not call cancel.
 *   - cancel(task) tells a running handler to stop at once (revoked by the
 *     broker, past the handler timeout, 409 on its assignment, worker closed).
 *     It must not call plw_task_* and must not use the task after returning;
 *     the handler cleans its own resources up asynchronously if it needs to.
 *
 * Custody (DESIGN §6):
 *   - auto: the worker signs (ACCEPT, person = worker name) before the
 *     handler runs; the assignment is held — listed in Heartbeat.held and
 *     counted against the credit — until the OUTCOME report is answered.
 *   - staff: the handler signs with plw_task_accept(person); once the broker
 *     acknowledges the ACCEPT, the department holds the order: the assignment
 *     is no longer held and its credit is free, though the handler may still
 *     report progress and an outcome with the assignment's token.
 *
 * An Assign the worker does not take (no credit, draining) is handed back
 * at once: the worker sends Ready again listing only what it really holds,
 * and the broker re-queues the rest. An Assign for a newer attempt of an
 * order held here ends the older attempt.
 *
 * Reports of one order are sent one at a time, in order. Each is resent
 * until the broker answers: 200 done; 409 (and other 4xx) dropped with a log
 * line — a 409 to ACCEPT or OUTCOME also ends the assignment; 404 "send
 * Ready" makes the worker send Ready (with its held assignments) and resend;
 * 503 or no answer within 2 s resends with backoff. Unsent progress reports
 * of an order are coalesced to the latest.
 *
 * The caller must ignore SIGPIPE (a handler process may exit without reading
 * its stdin).
 */
#ifndef PLW_WORKER_H
#define PLW_WORKER_H

#include "pls_util.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct plw_worker plw_worker_t;
typedef struct plw_task plw_task_t;

typedef enum plw_role { PLW_ROLE_A = 0, PLW_ROLE_B = 1 } plw_role_t;
typedef enum plw_custody { PLW_CUSTODY_AUTO = 0, PLW_CUSTODY_STAFF = 1 } plw_custody_t;

/* The session with the broker, for status and tests. */
typedef enum plw_state {
    PLW_STATE_NEW = 0,  /* made, not started */
    PLW_STATE_READYING, /* sending Ready every second until the broker answers */
    PLW_STATE_RUNNING,  /* the broker knows us: heartbeats, assignments */
    PLW_STATE_STOPPED,  /* refused by the broker, or drained: see on_stopped */
    PLW_STATE_CLOSING,  /* plw_worker_close called, handles closing */
    PLW_STATE_CLOSED,   /* on_closed has run (or is running) */
} plw_state_t;

/* An assignment as the handler sees it. All strings are borrowed from the
 * task and live as long as it does. */
typedef struct plw_task_info {
    const char *order;           /* order id (UUID) */
    const char *number;          /* order number for people, DG-HM-20261126-0042 */
    const char *service;         /* catalog code: consult, legal_aid, ... */
    uint32_t step;               /* step index in the order's plan */
    const char *step_name;       /* review, decide, answer, ... */
    const char *dept;            /* the department asked */
    const char *scope;           /* the node the step runs at */
    const char *locality;        /* where the matter belongs */
    uint32_t attempt;            /* echoed in every report */
    uint64_t token;              /* lease token, echoed in every report */
    int urgent;                  /* priority urgent */
    const char *const *outcomes; /* the step's outcomes, default first */
    size_t n_outcomes;
    plw_custody_t custody; /* the worker's custody mode */
} plw_task_info_t;

typedef struct plw_handler {
    const char *name; /* for logs: "noop", "sign", "exec" */
    int (*start)(plw_task_t *task, void *arg);
    void (*cancel)(plw_task_t *task, void *arg); /* may be NULL if start always finishes */
    void *arg;
} plw_handler_t;

typedef struct plw_config {
    const char *broker;       /* endpoint, e.g. tcp://127.0.0.1:5555 (required) */
    const char *scope;        /* node id served: dg, dg.humen, dg.humen.baisha (required) */
    const char *const *depts; /* department codes (1..32, required) */
    size_t n_depts;
    plw_role_t role;              /* AB岗: default A */
    plw_custody_t custody;        /* default auto */
    unsigned concurrency;         /* credit: assignments held at once; default 1 */
    const char *name;             /* stable worker name; NULL = host:pid:random */
    unsigned heartbeat_ms;        /* default 2000 */
    unsigned handler_timeout_ms;  /* a handler running longer is cancelled and
                                     reported "fail"; 0 = no limit (default) */
    unsigned ready_retry_ms;      /* Ready resend interval while unanswered; default 1000 */
    unsigned reply_timeout_ms;    /* a report unanswered this long is resent; default 2000 */
    const plw_handler_t *handler; /* required; copied */
    /* The worker stopped on its own: status 0 after a drain completed, or
     * < 0 when the broker refused it (reason is the broker's, e.g. "unknown
     * department xyz"). The worker sends nothing more; call plw_worker_close
     * (allowed from inside this callback). */
    void (*on_stopped)(plw_worker_t *w, int status, const char *reason);
    /* Optional: the broker settled a report — status 200, or the 4xx with
     * which it was refused and dropped (409: stale attempt, wrong token,
     * wrong state). kind is "accept", "progress" or "outcome"; task is valid
     * during the call. For benchmarks and systems that track what the broker
     * has recorded; may call plw_worker_close. */
    void (*on_reported)(plw_worker_t *w, const plw_task_info_t *task, const char *kind,
                        unsigned status);
    void *data; /* the caller's, see plw_worker_data */
} plw_config_t;

/* Defaults as documented above; pointers NULL. */
void plw_config_init(plw_config_t *cfg);

/* Check cfg and make a worker: copies everything in cfg, creates the DEALER
 * socket from zctx and connects it (ZeroMQ connects lazily: the broker need
 * not be up). Returns 0, or -EINVAL with err set ("scope: not a node id"). */
int plw_worker_new(plw_worker_t **out, uv_loop_t *loop, void *zctx, const plw_config_t *cfg,
                   char *err, size_t errsz) PLS_WUR;
/* Begin: send Ready, resend it every ready_retry_ms until answered. */
int plw_worker_start(plw_worker_t *w) PLS_WUR;
/* Drain (DESIGN §6): tell the broker (drain = true, credit 0), take nothing
 * new, finish what is held, then on_stopped(w, 0, "drained"). */
void plw_worker_drain(plw_worker_t *w);
/* Stop now: cancel every running handler, drop unsent reports (the broker
 * re-queues auto-custody assignments when their leases expire), close the
 * socket. on_closed (may be NULL) runs once every handle is closed; only then
 * may the worker be destroyed. Safe from inside the worker's callbacks and
 * safe to call twice. */
void plw_worker_close(plw_worker_t *w, void (*on_closed)(plw_worker_t *w));
/* Free a worker that is closed or was never started; NULLs *w_p; safe twice. */
void plw_worker_destroy(plw_worker_t **w_p);

void *plw_worker_data(const plw_worker_t *w);
const char *plw_worker_name(const plw_worker_t *w);
plw_state_t plw_worker_state(const plw_worker_t *w);
/* Assignments held (listed in Heartbeat.held) and the credit announced. */
unsigned plw_worker_held(const plw_worker_t *w);
unsigned plw_worker_credit(const plw_worker_t *w);
/* Tasks alive: handlers running or reports not yet answered. */
unsigned plw_worker_tasks(const plw_worker_t *w);

/* ---- for handlers ----------------------------------------------------- */

const plw_task_info_t *plw_task_info(const plw_task_t *t);
plw_worker_t *plw_task_worker(const plw_task_t *t);
void plw_task_set_data(plw_task_t *t, void *data);
void *plw_task_data(const plw_task_t *t);

/* Report progress (0..100, note may be NULL). Unsent progress of the same
 * order is replaced by the latest. */
int plw_task_progress(plw_task_t *t, unsigned pct, const char *note) PLS_WUR;
/* Sign for the order (签收) as person (staff custody). Returns -EALREADY
 * when already signed (always, in auto custody), -EINVAL for an empty or
 * over-long name. */
int plw_task_accept(plw_task_t *t, const char *person) PLS_WUR;
/* The handler's result. outcome: one of the step's outcomes, "return",
 * "need_info" (items required), "extend" (days and note required) or "fail".
 * Notes are made valid UTF-8 and cut to the protocol cap. In staff custody
 * without a prior plw_task_accept the worker signs as itself first (the
 * broker takes outcomes only for accepted orders). Returns -EINVAL
 * (nothing reported, the task still running) when the outcome breaks a
 * rule — see plw_outcome_check for the reason text. */
int plw_task_finish(plw_task_t *t, const char *outcome, const char *note, const char *const *items,
                    size_t n_items, unsigned days) PLS_WUR;
/* The handler ends without an outcome. In staff custody after
 * plw_task_accept this leaves the order with the department's people (the
 * `sign` builtin); otherwise it is reported as "fail". */
void plw_task_release(plw_task_t *t);

/* Ask the broker for the order document (Query FETCH). cb runs once, with
 * status 200 and the JSON (borrowed, valid during the call), or with the
 * broker's status / 0 for no answer within reply_timeout_ms and json NULL.
 * It does not run if the task is cancelled first. The document holds the
 * citizen's personal data: never log it. */
typedef void (*plw_fetch_cb)(plw_task_t *t, unsigned status, const char *json, void *arg);
int plw_task_fetch(plw_task_t *t, plw_fetch_cb cb, void *arg) PLS_WUR;

#endif
