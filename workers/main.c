/*
 * pls-worker — a department worker (DESIGN §3). Parses the command line and
 * calls plw_run; see plw_args.h for the options and workers/README.md for
 * the design.
 */
#include "plw_args.h"
#include "plw_run.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    plw_args_t a;
    char err[256];
    if (plw_args_parse(argc, argv, getenv("PLS_BROKER"), &a, err, sizeof(err)) != 0) {
        fprintf(stderr, "pls-worker: %s\n", err);
        plw_args_cleanup(&a);
        return 2;
    }
    if (a.help) {
        fputs(plw_args_usage(), stdout);
        plw_args_cleanup(&a);
        return 0;
    }
    int code = plw_run(&a);
    plw_args_cleanup(&a);
    return code;
}
