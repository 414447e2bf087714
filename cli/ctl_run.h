/*
 * ctl_run — runs one plsctl command line:
 *
 *     ctl_cmd_build ──▶ io->call (send, wait, resend per policy) ──▶ ctl_out
 *
 * and turns what happened into the exit code of DESIGN §3 with one line on
 * stderr for anything that went wrong. The network is behind ctl_io_t so that
 * tests can answer in place of a broker; plsctl uses ctl_run_call.
 */
#ifndef CTL_RUN_H
#define CTL_RUN_H

#include "ctl_cmd.h"

#include <stdio.h>

/* Sends env to the broker at endpoint and waits for its Reply, within
 * timeout_ms in all, resending as `send` allows. Returns 0 with *reply (free
 * with pls_proto_free), -ETIMEDOUT when nothing came back in time, -EINVAL for
 * an endpoint that cannot be used (err says why), or another -errno. */
typedef int ctl_call_fn(void *ctx, const char *endpoint, Pls__Envelope *env, ctl_send_t send,
                        int timeout_ms, Pls__Envelope **reply, char *err, size_t errsz);

typedef struct ctl_io {
    FILE *in;          /* borrowed; read by --desc - */
    FILE *out;         /* borrowed; results */
    FILE *err;         /* borrowed; errors and notes */
    ctl_call_fn *call; /* the transport */
    void *ctx;         /* borrowed; passed to call */
} ctl_io_t;

/* Run argv (argv[0] is the command; global holds the global options parsed
 * before it). Returns the exit code. */
int ctl_run(ctl_args_t *global, int argc, char **argv, const ctl_io_t *io);

/* The real transport: a pls_client per call (ctx unused). */
int ctl_run_call(void *ctx, const char *endpoint, Pls__Envelope *env, ctl_send_t send,
                 int timeout_ms, Pls__Envelope **reply, char *err, size_t errsz);

#endif
