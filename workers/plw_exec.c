/*
 * plw_exec — one process per task. See plw_exec.h.
 *
 * A run goes:
 *
 *   start --fetch--> FETCHING --answer or timeout--> spawn --> RUNNING
 *   RUNNING: stdin written then closed; stdout lines -> progress / accept
 *   RUNNING --exited and stdout at EOF--> report (finish or release) -> DONE
 *   any --cancel--> SIGKILL the process group, close the pipes -> DONE
 *
 * A run outlives its task when cancelled: run->task is set to NULL (nothing
 * more is reported) and the run frees itself once its three handles (process,
 * stdin pipe, stdout pipe) are closed.
 *
 * The process group is killed only while its leader has not been reaped, or
 * while something still holds its stdout (the group then still exists), so a
 * recycled process id is never signalled.
 */
#include "plw_exec.h"
#include "plw_output.h"

#include "pls_log.h"
#include "pls_proto.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

struct plw_exec {
    uv_loop_t *loop;       /* borrowed */
    char *cmd;             /* owned */
    plw_handler_t handler; /* arg = this */
};

typedef struct run {
    plw_task_t *task; /* borrowed; NULL once reported or cancelled */
    uv_loop_t *loop;  /* borrowed */
    const char *cmd;  /* borrowed from the plw_exec_t */
    uv_process_t proc;
    uv_pipe_t in, out;
    uv_write_t wr;
    char *input; /* owned: the stdin document */
    char buf[16384];
    plw_lines_t lines;
    char *last;         /* owned: the last non-blank line if it may be a result */
    int last_truncated; /* it was cut at PLW_LINE_MAX */
    int accepted;       /* the handler signed (accept line taken) */
    int spawned, exited, eof;
    int64_t exit_status;
    int term_signal;
    int open; /* handles not yet closed */
} run_t;

static void maybe_free(run_t *r)
{
    if (r->task || r->open)
        return;
    plw_lines_cleanup(&r->lines);
    free(r->input);
    free(r->last);
    free(r);
}

static void on_closed(uv_handle_t *h)
{
    run_t *r = h->data;
    r->open--;
    maybe_free(r);
}

static void close_handle(uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, on_closed);
}

static void kill_group(run_t *r)
{
    int pid = r->proc.pid;
    if (r->spawned && pid > 0 && (!r->exited || !r->eof))
        (void)uv_kill(-pid, SIGKILL);
}

/* ---- the end of a run ------------------------------------------------- */

static void report(run_t *r)
{
    plw_task_t *t = r->task;
    const plw_task_info_t *in = plw_task_info(t);
    plw_result_t res;
    plw_output_decide(r->last, r->last_truncated, r->exit_status, r->term_signal, r->accepted,
                      in->n_outcomes ? in->outcomes[0] : NULL, &res);
    r->task = NULL;
    if (r->lines.truncated)
        pls_warn("order %s: %llu handler output line(s) longer than %d bytes were cut", in->number,
                 (unsigned long long)r->lines.truncated, PLW_LINE_MAX);
    if (!res.outcome) {
        plw_task_release(t);
        return;
    }
    char err[256];
    if (plw_outcome_check(res.outcome, res.note, (const char *const *)res.items, res.n_items,
                          res.days, in->outcomes, in->n_outcomes, err, sizeof(err)) != 0) {
        pls_warn("order %s: handler result refused: %s", in->number, err);
        plw_result_fail(&res, "handler result refused: %s", err);
    }
    if (plw_task_finish(t, res.outcome, res.note, (const char *const *)res.items, res.n_items,
                        res.days) != 0)
        plw_task_release(t); /* cannot happen after the check; still end the task */
    plw_result_cleanup(&res);
}

static void maybe_report(run_t *r)
{
    if (r->task && r->exited && r->eof)
        report(r);
    maybe_free(r);
}

/* ---- stdout ----------------------------------------------------------- */

static void forget_last(run_t *r)
{
    free(r->last);
    r->last = NULL;
    r->last_truncated = 0;
}

static void take_accept(run_t *r, const char *person)
{
    char *p = pls_xstrdup(person);
    plw_text_clean(p, PLS_MAX_NAME);
    int rc = plw_task_accept(r->task, p);
    free(p);
    if (rc == 0)
        r->accepted = 1;
    else if (rc == -EALREADY)
        pls_debug("order %s: accept line ignored: already signed for",
                  plw_task_info(r->task)->number);
    else
        pls_warn("order %s: accept line ignored: %s", plw_task_info(r->task)->number,
                 strerror(-rc));
}

static void on_line(const char *line, size_t len, int truncated, void *arg)
{
    run_t *r = arg;
    PLS_UNUSED(len);
    if (!r->task)
        return;
    plw_line_t l;
    plw_line_classify(line, &l);
    switch (l.kind) {
    case PLW_LINE_BLANK:
        return; /* blank lines do not end the "last line" */
    case PLW_LINE_PROGRESS:
        if (plw_task_progress(r->task, l.pct, l.text) != 0)
            pls_debug("order %s: progress line ignored", plw_task_info(r->task)->number);
        break;
    case PLW_LINE_ACCEPT:
        take_accept(r, l.text);
        break;
    case PLW_LINE_RESULT:
        forget_last(r);
        r->last = pls_xstrdup(line);
        r->last_truncated = truncated;
        return;
    case PLW_LINE_BAD:
        pls_warn("order %s: handler line ignored: %s", plw_task_info(r->task)->number, l.why);
        break;
    case PLW_LINE_TEXT:
        break;
    }
    forget_last(r);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    run_t *r = h->data;
    PLS_UNUSED(suggested);
    *buf = uv_buf_init(r->buf, sizeof(r->buf));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    run_t *r = s->data;
    if (nread > 0) {
        plw_lines_feed(&r->lines, buf->base, (size_t)nread, on_line, r);
        return;
    }
    if (nread == 0)
        return; /* EAGAIN */
    if (nread != UV_EOF && r->task)
        pls_warn("order %s: reading handler output: %s", plw_task_info(r->task)->number,
                 uv_strerror((int)nread));
    plw_lines_end(&r->lines, on_line, r);
    r->eof = 1;
    close_handle((uv_handle_t *)&r->out);
    maybe_report(r);
}

/* ---- process ---------------------------------------------------------- */

static void on_exit(uv_process_t *p, int64_t status, int signo)
{
    run_t *r = p->data;
    r->exited = 1;
    r->exit_status = status;
    r->term_signal = signo;
    close_handle((uv_handle_t *)&r->proc);
    maybe_report(r);
}

static void on_written(uv_write_t *wr, int status)
{
    run_t *r = wr->data;
    if (status < 0 && status != UV_EPIPE && status != UV_ECANCELED && r->task)
        pls_debug("order %s: writing handler input: %s", plw_task_info(r->task)->number,
                  uv_strerror(status));
    close_handle((uv_handle_t *)&r->in);
}

static int env_ours(const char *e)
{
    static const char *const names[] = {
        "PLS_ORDER_ID=", "PLS_ORDER_NUMBER=", "PLS_STEP=",  "PLS_STEP_INDEX=", "PLS_ATTEMPT=",
        "PLS_SERVICE=",  "PLS_DEPT=",         "PLS_SCOPE=", "PLS_LOCALITY=",   "PLS_PRIORITY=",
        "PLS_OUTCOMES=", "PLS_CUSTODY=",      "PLS_WORKER="};
    for (size_t i = 0; i < PLS_ARRAY_LEN(names); i++)
        if (strncmp(e, names[i], strlen(names[i])) == 0)
            return 1;
    return 0;
}

static char *env_var(const char *name, const char *value)
{
    pls_buf_t b;
    pls_buf_init(&b);
    pls_buf_printf(&b, "%s=%s", name, value);
    return pls_buf_take(&b);
}

/* The environment for the handler: the worker's own plus the task's. */
static char **build_env(const plw_task_t *t)
{
    const plw_task_info_t *in = plw_task_info(t);
    size_t n = 0, k = 0;
    while (environ && environ[n])
        n++;
    char **env = pls_xcalloc(n + 16, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        if (!env_ours(environ[i]))
            env[k++] = pls_xstrdup(environ[i]);
    char num[32];
    pls_buf_t outs;
    pls_buf_init(&outs);
    for (size_t i = 0; i < in->n_outcomes; i++)
        pls_buf_printf(&outs, "%s%s", i ? " " : "", in->outcomes[i]);
    env[k++] = env_var("PLS_ORDER_ID", in->order);
    env[k++] = env_var("PLS_ORDER_NUMBER", in->number);
    env[k++] = env_var("PLS_STEP", in->step_name);
    snprintf(num, sizeof(num), "%u", in->step);
    env[k++] = env_var("PLS_STEP_INDEX", num);
    snprintf(num, sizeof(num), "%u", in->attempt);
    env[k++] = env_var("PLS_ATTEMPT", num);
    env[k++] = env_var("PLS_SERVICE", in->service);
    env[k++] = env_var("PLS_DEPT", in->dept);
    env[k++] = env_var("PLS_SCOPE", in->scope);
    env[k++] = env_var("PLS_LOCALITY", in->locality);
    env[k++] = env_var("PLS_PRIORITY", in->urgent ? "urgent" : "normal");
    env[k++] = env_var("PLS_OUTCOMES", outs.data ? outs.data : "");
    env[k++] = env_var("PLS_CUSTODY", in->custody == PLW_CUSTODY_STAFF ? "staff" : "auto");
    env[k++] = env_var("PLS_WORKER", plw_worker_name(plw_task_worker(t)));
    env[k] = NULL;
    pls_buf_cleanup(&outs);
    return env;
}

static void free_env(char **env)
{
    for (size_t i = 0; env[i]; i++)
        free(env[i]);
    free(env);
}

static int spawn(run_t *r)
{
    char sh[] = "/bin/sh", dash_c[] = "-c";
    char *cmd = pls_xstrdup(r->cmd);
    char *args[] = {sh, dash_c, cmd, NULL};
    char **env = build_env(r->task);
    uv_stdio_container_t stdio[3];
    stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
    stdio[0].data.stream = (uv_stream_t *)&r->in;
    stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[1].data.stream = (uv_stream_t *)&r->out;
    stdio[2].flags = UV_INHERIT_FD;
    stdio[2].data.fd = 2;
    uv_process_options_t o;
    memset(&o, 0, sizeof(o));
    o.file = sh;
    o.args = args;
    o.env = env;
    o.exit_cb = on_exit;
    o.flags = UV_PROCESS_DETACHED; /* setsid: a process group to kill as one */
    o.stdio = stdio;
    o.stdio_count = 3;
    uv_pipe_init(r->loop, &r->in, 0);
    uv_pipe_init(r->loop, &r->out, 0);
    r->in.data = r->out.data = r->proc.data = r;
    r->open = 3; /* the process handle is initialised even when uv_spawn fails */
    int rc = uv_spawn(r->loop, &r->proc, &o);
    free_env(env);
    free(cmd);
    if (rc)
        return rc;
    r->spawned = 1;
    uv_buf_t b = uv_buf_init(r->input, (unsigned)strlen(r->input));
    r->wr.data = r;
    if (uv_write(&r->wr, (uv_stream_t *)&r->in, &b, 1, on_written) != 0)
        close_handle((uv_handle_t *)&r->in);
    return uv_read_start((uv_stream_t *)&r->out, on_alloc, on_read);
}

static void spawn_or_fail(run_t *r)
{
    int rc = spawn(r);
    if (rc == 0)
        return;
    const plw_task_info_t *in = plw_task_info(r->task);
    pls_error("order %s: could not start handler: %s", in->number, uv_strerror(rc));
    char note[160];
    snprintf(note, sizeof(note), "could not start handler: %s", uv_strerror(rc));
    plw_task_t *t = r->task;
    r->task = NULL;
    kill_group(r);
    close_handle((uv_handle_t *)&r->in);
    close_handle((uv_handle_t *)&r->out);
    close_handle((uv_handle_t *)&r->proc);
    if (plw_task_finish(t, "fail", note, NULL, 0, 0) != 0)
        plw_task_release(t);
}

/* ---- the handler ------------------------------------------------------ */

char *plw_exec_fallback_json(const plw_task_info_t *in)
{
    json_t *outs = json_array();
    for (size_t i = 0; i < in->n_outcomes; i++)
        json_array_append_new(outs, json_string(in->outcomes[i]));
    json_t *doc =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:I, s:o, s:b}", "id", in->order,
                  "number", in->number, "service", in->service, "locality", in->locality,
                  "priority", in->urgent ? "urgent" : "normal", "step", (json_int_t)in->step,
                  "step_name", in->step_name, "dept", in->dept, "scope", in->scope, "attempt",
                  (json_int_t)in->attempt, "outcomes", outs, "partial", 1);
    char *s = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    char *out = pls_xstrdup(s ? s : "{\"partial\":true}");
    free(s);
    return out;
}

static void on_fetched(plw_task_t *t, unsigned status, const char *json, void *arg)
{
    run_t *r = arg;
    if (status == PLS_OK && json && *json) {
        r->input = pls_xstrdup(json);
    } else {
        pls_info("order %s: handler gets the assignment fields only (fetch: %u)",
                 plw_task_info(t)->number, status);
        r->input = plw_exec_fallback_json(plw_task_info(t));
    }
    /* the document ends with a newline so `read` in a shell handler gets it */
    size_t n = strlen(r->input);
    if (!n || r->input[n - 1] != '\n') {
        r->input = pls_xrealloc(r->input, n + 2);
        r->input[n] = '\n';
        r->input[n + 1] = '\0';
    }
    spawn_or_fail(r);
}

static int exec_start(plw_task_t *t, void *arg)
{
    plw_exec_t *ex = arg;
    run_t *r = pls_xcalloc(1, sizeof(*r));
    r->task = t;
    r->loop = ex->loop;
    r->cmd = ex->cmd;
    plw_lines_init(&r->lines, PLW_LINE_MAX);
    plw_task_set_data(t, r);
    int rc = plw_task_fetch(t, on_fetched, r);
    if (rc) {
        r->task = NULL;
        maybe_free(r);
    }
    return rc;
}

static void exec_cancel(plw_task_t *t, void *arg)
{
    PLS_UNUSED(arg);
    run_t *r = plw_task_data(t);
    r->task = NULL;
    if (!r->spawned) {
        maybe_free(r); /* still fetching: no handles yet */
        return;
    }
    kill_group(r);
    close_handle((uv_handle_t *)&r->in);
    close_handle((uv_handle_t *)&r->out);
    /* the process handle closes in on_exit, once the kill is reaped */
    if (r->exited)
        close_handle((uv_handle_t *)&r->proc);
}

plw_exec_t *plw_exec_new(uv_loop_t *loop, const char *cmd)
{
    plw_exec_t *ex = pls_xcalloc(1, sizeof(*ex));
    ex->loop = loop;
    ex->cmd = pls_xstrdup(cmd);
    ex->handler.name = "exec";
    ex->handler.start = exec_start;
    ex->handler.cancel = exec_cancel;
    ex->handler.arg = ex;
    return ex;
}

void plw_exec_destroy(plw_exec_t **self_p)
{
    plw_exec_t *ex = *self_p;
    if (!ex)
        return;
    free(ex->cmd);
    free(ex);
    *self_p = NULL;
}

const plw_handler_t *plw_exec_handler(plw_exec_t *ex)
{
    return &ex->handler;
}
