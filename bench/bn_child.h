/*
 * bn_child — the pls-broker that pls-bench starts for a run (--db), and what
 * /proc tells about a process (its memory and CPU time).
 *
 * The broker runs as a child with its stdout and stderr in a log file; it
 * listens on tcp://127.0.0.1:* and its "listening on tcp://..." log line
 * gives the endpoint. It gets SIGTERM when the run ends, and from the kernel
 * (PR_SET_PDEATHSIG) if pls-bench dies first, so no broker is left behind.
 */
#ifndef BN_CHILD_H
#define BN_CHILD_H

#include "pls_util.h"

#include <stddef.h>
#include <sys/types.h>

typedef struct bn_child {
    pid_t pid;          /* 0 when not running */
    int status;         /* once it has exited: exit status, 128 + signal if killed */
    char endpoint[256]; /* where it listens */
    char log[1024];     /* its log file */
} bn_child_t;

/* Find pls-broker: beside this executable's directory in a build tree
 * (../broker/pls-broker), in the same directory, then on PATH. Returns 0 and
 * the path in out, or -ENOENT. */
int bn_child_find_broker(char *out, size_t outsz) PLS_WUR;

/* Start `bin --node NODE --listen tcp://127.0.0.1:* --db DB --insecure
 * [--parent PARENT]` with its output in log_path, and wait up to timeout_ms
 * for it to listen. Returns 0, or < 0 with err set (the broker exited, or
 * never listened: the tail of its log is in err). */
int bn_child_start(bn_child_t *c, const char *bin, const char *node, const char *db,
                   const char *parent, const char *log_path, int timeout_ms, char *err,
                   size_t errsz) PLS_WUR;

/* 1 while the child runs (reaps it once it has exited). */
int bn_child_alive(bn_child_t *c);

/* SIGTERM, wait up to timeout_ms, then SIGKILL. Returns the exit status
 * (128 + signal when killed by one), or -1 when not running. */
int bn_child_stop(bn_child_t *c, int timeout_ms);

/* A "Name:  N kB" field of /proc/PID/status (VmRSS, VmHWM), or -1. */
long bn_proc_kb(pid_t pid, const char *field);
/* User + system CPU seconds of a process so far, or -1. */
double bn_proc_cpu_s(pid_t pid);

#endif
