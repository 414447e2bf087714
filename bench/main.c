/*
 * pls-bench — measures a pls-broker end to end (DESIGN §11). Parses the
 * arguments and calls bn_run.
 */
#include "bn_args.h"
#include "bn_run.h"

#include "pls_log.h"

#include <stdio.h>

int main(int argc, char **argv)
{
    bn_opts_t o;
    char err[512];
    int rc = bn_args_parse(&o, argc, argv, err, sizeof(err));
    if (rc == 1)
        return 0;
    if (rc < 0) {
        fprintf(stderr, "pls-bench: %s\n", err);
        return 2;
    }
    pls_log_init("pls-bench", NULL);
    pls_log_level = o.log_level;
    return bn_run(&o);
}
