/*
 * plw_exec — the --exec handler: runs a shell command per assignment
 * (DESIGN §3, "--exec protocol").
 *
 * For each task: fetch the order from the broker (Query FETCH), start
 * `/bin/sh -c CMD` in a process group of its own, write the order JSON to its
 * stdin (or, when the fetch fails, a partial document built from the Assign
 * fields, marked "partial": true), read its stdout line by line
 * (plw_output), and when it has exited and closed stdout, report what the
 * run amounts to (plw_output_decide).
 *
 * Environment: the worker's own, plus PLS_ORDER_ID, PLS_ORDER_NUMBER,
 * PLS_STEP (the step name), PLS_STEP_INDEX, PLS_ATTEMPT, PLS_SERVICE,
 * PLS_DEPT, PLS_SCOPE, PLS_LOCALITY, PLS_PRIORITY (normal|urgent),
 * PLS_OUTCOMES (space-separated, default first), PLS_CUSTODY (auto|staff)
 * and PLS_WORKER (the worker name). Stderr is the worker's stderr.
 *
 * The handler timeout is the worker's (plw_config_t.handler_timeout_ms):
 * past it the worker cancels the run, which SIGKILLs the process group, and
 * reports "fail". A revoke cancels the same way, reporting nothing.
 *
 * The handler's stdin document holds the citizen's personal data: this
 * module never logs it, nor the handler's output.
 */
#ifndef PLW_EXEC_H
#define PLW_EXEC_H

#include "plw_worker.h"

typedef struct plw_exec plw_exec_t;

/* cmd is copied. The exec object must outlive every worker using its
 * handler; runs cancelled by a closing worker finish their cleanup on the
 * loop on their own (uv_run until the loop is idle before uv_loop_close). */
plw_exec_t *plw_exec_new(uv_loop_t *loop, const char *cmd);
void plw_exec_destroy(plw_exec_t **self_p);
/* The handler to put in plw_config_t.handler (borrowed from ex). */
const plw_handler_t *plw_exec_handler(plw_exec_t *ex);

/* The stdin document used when the fetch fails (caller frees). */
char *plw_exec_fallback_json(const plw_task_info_t *in);

#endif
