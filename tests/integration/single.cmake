# Single-node integration tests: one pls-broker (command center dg) on real PostgreSQL, real
# pls-worker and plsctl processes over TCP loopback (tests/lib/single.sh on top of
# tests/lib/harness.sh; the test clients of tests/integration/tools). Each prints its measured
# figures. Label integration; every test has a TIMEOUT.
pls_shell_test(test_single_lifecycle integration/test_single_lifecycle.sh TIMEOUT 180)
pls_shell_test(test_single_broker_kill integration/test_single_broker_kill.sh TIMEOUT 300)
pls_shell_test(test_single_worker_death integration/test_single_worker_death.sh TIMEOUT 180)
pls_shell_test(test_single_staff_custody integration/test_single_staff_custody.sh TIMEOUT 180)
pls_shell_test(test_single_pg_outage integration/test_single_pg_outage.sh TIMEOUT 240)
pls_shell_test(test_single_bad_input integration/test_single_bad_input.sh TIMEOUT 180)
pls_shell_test(test_single_sigterm integration/test_single_sigterm.sh TIMEOUT 240)
pls_shell_test(test_single_worker_stall integration/test_single_worker_stall.sh TIMEOUT 120)
pls_shell_test(test_single_read_conn_loss integration/test_single_read_conn_loss.sh TIMEOUT 120)
pls_shell_test(test_single_text_fields integration/test_single_text_fields.sh TIMEOUT 120)
pls_shell_test(test_single_batch_error integration/test_single_batch_error.sh TIMEOUT 120)
pls_shell_test(test_single_slow_store integration/test_single_slow_store.sh TIMEOUT 120)
