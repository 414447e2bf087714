/*
 * bk_broker — the process around bk_core: the ZeroMQ ROUTER socket in the
 * libuv loop, the periodic tick, the end-of-turn hook that dispatches and
 * commits, and signals (SIGTERM/SIGINT drain: commit the batch in flight,
 * send its replies, exit within 5 s).
 */
#ifndef BK_BROKER_H
#define BK_BROKER_H

#include "bk_core.h"

typedef struct bk_broker_opts {
    bk_config_t core;
    const char *listen;
} bk_broker_opts_t;

/* Runs until SIGTERM/SIGINT. Returns the process exit code. */
int bk_broker_run(const bk_broker_opts_t *opts);

#endif
