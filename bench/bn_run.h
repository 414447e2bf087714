/*
 * bn_run — one benchmark run of pls-bench: the broker (started or found),
 * the submitters and workers in one libuv loop, and the JSON result.
 */
#ifndef BN_RUN_H
#define BN_RUN_H

#include "bn_args.h"

/* Runs the benchmark described by o, prints the JSON result on stdout and
 * returns the process exit status (0 ok, 1 run failed, 3 broker not started
 * or not reachable). */
int bn_run(const bn_opts_t *o);

#endif
