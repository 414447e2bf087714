# plsctl (cli/): the option parser, the command builders, the output and the
# run loop (exit codes, retries) against an in-process fake broker.
find_package(Threads REQUIRED)
pls_unit_test(test_plsctl_args SOURCES unit/test_plsctl_args.c LIBS plsctl_core)
pls_unit_test(test_plsctl_cmd SOURCES unit/test_plsctl_cmd.c LIBS plsctl_core)
pls_unit_test(test_plsctl_out SOURCES unit/test_plsctl_out.c LIBS plsctl_core)
pls_unit_test(test_plsctl_run SOURCES unit/test_plsctl_run.c LIBS plsctl_core Threads::Threads)
# the plsctl binary itself: usage, help, exit codes as a script sees them
pls_shell_test(test_plsctl_main unit/test_plsctl_main.sh LABELS unit TIMEOUT 60)
