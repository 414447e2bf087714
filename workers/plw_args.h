/*
 * plw_args — the pls-worker command line (DESIGN §3), parsed into a struct
 * without side effects so that it is unit-tested (tests/unit/test_plw_args.c)
 * and main.c only prints and exits.
 *
 *   pls-worker --broker ENDPOINT --node SCOPE --dept DEPT[,DEPT...]
 *              [--role A|B] [--concurrency N] [--custody auto|staff]
 *              [--handler-timeout S] [--name N] [--heartbeat-ms N]
 *              [--drain-timeout S] [--log-level L]
 *              (--exec 'CMD' | --builtin noop|sign)
 *
 * Options take their value as the next argument or after '='.
 */
#ifndef PLW_ARGS_H
#define PLW_ARGS_H

#include "plw_worker.h"

#include <stddef.h>

typedef struct plw_args {
    int help;           /* --help / -h: print plw_args_usage, exit 0 */
    const char *broker; /* borrowed from argv or the environment */
    const char *node;
    char *depts[32]; /* owned copies, n_depts */
    size_t n_depts;
    plw_role_t role;
    plw_custody_t custody;
    unsigned concurrency;
    unsigned handler_timeout_s; /* 0 = no limit */
    const char *name;           /* NULL = host:pid:random */
    unsigned heartbeat_ms;
    unsigned drain_timeout_s; /* bound on a SIGTERM drain */
    const char *log_level;    /* error|warn|info|debug */
    const char *exec;         /* --exec CMD, or */
    const char *builtin;      /* --builtin NAME */
} plw_args_t;

#define PLW_DEFAULT_HANDLER_TIMEOUT_S 300
#define PLW_DEFAULT_DRAIN_TIMEOUT_S 30

/* Parse argv (argv[0] is the program). env_broker is $PLS_BROKER (may be
 * NULL). Returns 0, or -EINVAL with err set to a message for the user
 * ("--node: dg.Humen is not a node id ..."). Call plw_args_cleanup either way. */
int plw_args_parse(int argc, char **argv, const char *env_broker, plw_args_t *a, char *err,
                   size_t errsz) PLS_WUR;
void plw_args_cleanup(plw_args_t *a);

/* The --help text. */
const char *plw_args_usage(void);

#endif
