/*
 * plw_run — the pls-worker process: one loop, one ZeroMQ context, one
 * worker with the handler the arguments name, and the signals.
 *
 * SIGTERM or SIGINT drains (the broker is told, nothing new is taken, held
 * work finishes) and the process exits 0 once drained or after
 * --drain-timeout, abandoning what is left (auto-custody leases then expire
 * at the broker and the orders are re-queued). A second SIGTERM or SIGINT
 * exits at once with status 1. A broker refusal (unknown department, bad
 * scope) exits 1 with the broker's reason on stderr.
 */
#ifndef PLW_RUN_H
#define PLW_RUN_H

#include "plw_args.h"

/* Run until stopped; returns the process exit status. */
int plw_run(const plw_args_t *a);

#endif
