# pls-bench (bench/, prefix bn_): its unit test (options, summaries, order table), a short
# functional test (label integration), and the benchmarks of DESIGN §11 (label long: they
# run for minutes, print their JSON figures on stdout and are not part of tests/run.sh).
# Run one benchmark and keep its output:
#   ctest --test-dir build -R bench_throughput -V
#   PLS_BUILD_DIR=build bash tests/integration/bench_throughput.sh > result.json
pls_unit_test(test_bn_args SOURCES ${PROJECT_SOURCE_DIR}/bench/test_bn_args.c LIBS plsbench)

pls_shell_test(bench_functional integration/bench_functional.sh TIMEOUT 600)

pls_shell_test(bench_throughput integration/bench_throughput.sh LABELS long TIMEOUT 3600)
pls_shell_test(bench_latency integration/bench_latency.sh LABELS long TIMEOUT 1800)
pls_shell_test(bench_memory integration/bench_memory.sh LABELS long TIMEOUT 7200)
pls_shell_test(bench_restart integration/bench_restart.sh LABELS long TIMEOUT 7200)
pls_shell_test(bench_federation integration/bench_federation.sh LABELS long TIMEOUT 3600)
pls_shell_test(bench_callgrind integration/bench_callgrind.sh LABELS long TIMEOUT 3600)
