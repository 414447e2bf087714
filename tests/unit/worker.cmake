# Unit tests of the department worker (workers/, prefix plw_).
pls_unit_test(test_plw_output SOURCES unit/test_plw_output.c LIBS plsworker)
pls_unit_test(test_plw_args SOURCES unit/test_plw_args.c LIBS plsworker)
# Runs worker instances against a fake broker socket and real shell handlers.
pls_unit_test(test_plw_worker SOURCES unit/test_plw_worker.c LIBS plsworker)
