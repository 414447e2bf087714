/*
 * plw_builtin — the noop and sign handlers. See plw_builtin.h.
 */
#include "plw_builtin.h"

#include "pls_log.h"

#include <errno.h>
#include <string.h>

/* In staff custody a handler signs for itself; in auto custody the worker
 * already did (-EALREADY is expected there). */
static int sign_as_worker(plw_task_t *t)
{
    int rc = plw_task_accept(t, plw_worker_name(plw_task_worker(t)));
    return rc == -EALREADY ? 0 : rc;
}

static int noop_start(plw_task_t *t, void *arg)
{
    PLS_UNUSED(arg);
    const plw_task_info_t *in = plw_task_info(t);
    int rc = sign_as_worker(t);
    if (rc)
        return rc;
    if (in->n_outcomes == 0)
        return plw_task_finish(t, "fail", "step lists no default outcome", NULL, 0, 0);
    return plw_task_finish(t, in->outcomes[0], NULL, NULL, 0, 0);
}

static int sign_start(plw_task_t *t, void *arg)
{
    PLS_UNUSED(arg);
    int rc = sign_as_worker(t);
    if (rc)
        return rc;
    plw_task_release(t);
    return 0;
}

static const plw_handler_t builtins[] = {
    {"noop", noop_start, NULL, NULL},
    {"sign", sign_start, NULL, NULL},
};

const plw_handler_t *plw_builtin_find(const char *name)
{
    for (size_t i = 0; i < PLS_ARRAY_LEN(builtins); i++)
        if (strcmp(builtins[i].name, name) == 0)
            return &builtins[i];
    return NULL;
}

const char *plw_builtin_names(void)
{
    return "noop, sign";
}
