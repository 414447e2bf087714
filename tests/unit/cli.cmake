# plsctl (cli/): the option parser, the command builders, the output and the
# run loop (exit codes, retries) against an in-process fake broker.
find_package(Threads REQUIRED)
pls_unit_test(test_plsctl_args SOURCES unit/test_plsctl_args.c LIBS plsctl_core)
pls_unit_test(test_plsctl_cmd SOURCES unit/test_plsctl_cmd.c LIBS plsctl_core)
