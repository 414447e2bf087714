/*
 * plsctl — the command line of PLS Dispatch for operators and desks.
 * Parses the global options and hands the command to ctl_run (see README.md).
 */
#include "ctl_run.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    ctl_args_t global;
    ctl_args_init(&global, ctl_global_opts);
    int next = 0, rc;
    if (ctl_args_parse(&global, argc - 1, argv + 1, CTL_ARGS_STOP_AT_POSITIONAL, &next) != 0) {
        fprintf(stderr, "plsctl: %s\n(plsctl --help lists the options)\n", global.err);
        rc = CTL_EXIT_USAGE;
    } else if (next == argc - 1 && ctl_args_count(&global, "help")) {
        ctl_cmd_help_main(stdout);
        rc = CTL_EXIT_OK;
    } else if (next == argc - 1) {
        fprintf(stderr, "usage: plsctl [--broker ENDPOINT] [--json] [--timeout S] "
                        "[--operator NAME] COMMAND [ARGS...]\n"
                        "(plsctl --help lists the commands)\n");
        rc = CTL_EXIT_USAGE;
    } else {
        ctl_io_t io = {stdin, stdout, stderr, ctl_run_call, NULL};
        rc = ctl_run(&global, argc - 1 - next, argv + 1 + next, &io);
    }
    ctl_args_cleanup(&global);
    /* an id that never reached its file is an error, not a success */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "plsctl: could not write the output: %s\n", strerror(errno));
        if (rc == CTL_EXIT_OK)
            rc = CTL_EXIT_REFUSED;
    }
    return rc;
}
