# The integration-test harness itself (tests/lib/harness.sh, deploy/pg.sh): PostgreSQL
# durability settings, crash and restart, process handling and clean-up. Needs no binary.
pls_shell_test(test_harness_pg integration/test_harness_pg.sh TIMEOUT 120)
