/*
 * plw_run — the pls-worker process. See plw_run.h.
 */
#include "plw_run.h"
#include "plw_builtin.h"
#include "plw_exec.h"

#include "pls_log.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

typedef struct runner {
    uv_loop_t loop;
    uv_signal_t sigterm, sigint;
    uv_timer_t drain_timer;
    unsigned drain_timeout_s;
    plw_worker_t *w; /* owned */
    int signals;     /* SIGTERM/SIGINT received so far */
    int closing;     /* shutting down: no more signals handled */
    int exit_code;
} runner_t;

static void on_handle_closed(uv_handle_t *h)
{
    PLS_UNUSED(h);
}

/* Close everything of ours; the loop then ends once the worker and any
 * handler processes it killed are gone. */
static void shut_down(runner_t *r, int exit_code)
{
    if (r->closing)
        return;
    r->closing = 1;
    r->exit_code = exit_code;
    uv_close((uv_handle_t *)&r->sigterm, on_handle_closed);
    uv_close((uv_handle_t *)&r->sigint, on_handle_closed);
    uv_close((uv_handle_t *)&r->drain_timer, on_handle_closed);
    plw_worker_close(r->w, NULL);
}

static void on_stopped(plw_worker_t *w, int status, const char *reason)
{
    runner_t *r = plw_worker_data(w);
    if (status < 0) {
        pls_error("broker refused this worker: %s", reason);
        shut_down(r, 1);
        return;
    }
    pls_info("stopped: %s", reason);
    shut_down(r, 0);
}

static void on_drain_timeout(uv_timer_t *h)
{
    runner_t *r = h->data;
    pls_warn("drain not finished after %u s: exiting, %u assignment(s) abandoned",
             r->drain_timeout_s, plw_worker_held(r->w));
    shut_down(r, 0);
}

static void on_signal(uv_signal_t *h, int signo)
{
    runner_t *r = h->data;
    if (r->closing)
        return;
    if (++r->signals == 1) {
        pls_info("%s: draining (again to exit at once)", signo == SIGINT ? "SIGINT" : "SIGTERM");
        if (r->drain_timeout_s)
            uv_timer_start(&r->drain_timer, on_drain_timeout, r->drain_timeout_s * 1000ULL, 0);
        plw_worker_drain(r->w);
        return;
    }
    pls_warn("second signal: exiting now, %u assignment(s) abandoned", plw_worker_held(r->w));
    shut_down(r, 1);
}

static int make_worker(runner_t *r, const plw_args_t *a, void *zctx, const plw_handler_t *h)
{
    plw_config_t cfg;
    char err[256];
    plw_config_init(&cfg);
    cfg.broker = a->broker;
    cfg.scope = a->node;
    cfg.depts = (const char *const *)a->depts;
    cfg.n_depts = a->n_depts;
    cfg.role = a->role;
    cfg.custody = a->custody;
    cfg.concurrency = a->concurrency;
    cfg.name = a->name;
    cfg.heartbeat_ms = a->heartbeat_ms;
    cfg.handler_timeout_ms = a->handler_timeout_s * 1000U;
    cfg.handler = h;
    cfg.on_stopped = on_stopped;
    cfg.data = r;
    if (plw_worker_new(&r->w, &r->loop, zctx, &cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "pls-worker: %s\n", err);
        return 2; /* a malformed endpoint is a usage error */
    }
    return 0;
}

static void ignore_sigpipe(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGPIPE, &sa, NULL);
}

int plw_run(const plw_args_t *a)
{
    runner_t r;
    memset(&r, 0, sizeof(r));
    pls_log_init("pls-worker", a->node);
    if (pls_log_set_level_name(a->log_level) != 0)
        return 2;
    ignore_sigpipe();
    uv_loop_init(&r.loop);
    void *zctx = zmq_ctx_new();
    plw_exec_t *ex = a->exec ? plw_exec_new(&r.loop, a->exec) : NULL;
    const plw_handler_t *h = ex ? plw_exec_handler(ex) : plw_builtin_find(a->builtin);
    r.drain_timeout_s = a->drain_timeout_s;
    int code = make_worker(&r, a, zctx, h);
    if (code == 0) {
        uv_signal_init(&r.loop, &r.sigterm);
        uv_signal_init(&r.loop, &r.sigint);
        uv_timer_init(&r.loop, &r.drain_timer);
        r.sigterm.data = r.sigint.data = r.drain_timer.data = &r;
        uv_signal_start(&r.sigterm, on_signal, SIGTERM);
        uv_signal_start(&r.sigint, on_signal, SIGINT);
        if (plw_worker_start(r.w) != 0) {
            fprintf(stderr, "pls-worker: could not start the worker\n");
            shut_down(&r, 1);
        }
        uv_run(&r.loop, UV_RUN_DEFAULT);
        code = r.exit_code;
    }
    plw_worker_destroy(&r.w);
    plw_exec_destroy(&ex);
    zmq_ctx_term(zctx);
    if (uv_loop_close(&r.loop) != 0)
        pls_warn("loop closed with handles still open");
    return code;
}
