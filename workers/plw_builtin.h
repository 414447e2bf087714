/*
 * plw_builtin — handlers compiled into the worker (DESIGN §3 --builtin), so
 * tests and benchmarks run without forking a process per order:
 *
 *   noop  finishes at once with the step's default outcome (the first of
 *         Assign.outcomes). In staff custody it first signs (accept) as the
 *         worker name.
 *   sign  signs for the order (签收) as the worker name and does nothing
 *         more: people finish it through plsctl. Meant for staff custody; in
 *         auto custody the order would come back when its lease expires, so
 *         pls-worker refuses that combination.
 */
#ifndef PLW_BUILTIN_H
#define PLW_BUILTIN_H

#include "plw_worker.h"

/* The builtin handler called name, or NULL. */
const plw_handler_t *plw_builtin_find(const char *name);
/* "noop, sign": for usage messages. */
const char *plw_builtin_names(void);

#endif
