# Federation tests (issue 3): a city broker, town brokers with --parent, village scopes,
# each broker with its own database. Helpers in tests/lib/fed.sh; the load client
# pls-fedload (tests/integration/fed/pls_fedload.c) is built into
# ${PLS_BUILD_DIR}/tests/integration/fed/ and not installed.
add_executable(pls-fedload ${CMAKE_CURRENT_LIST_DIR}/fed/pls_fedload.c)
pls_target(pls-fedload)
target_link_libraries(pls-fedload PRIVATE pls PkgConfig::ZMQ)
set_target_properties(pls-fedload PROPERTIES
  RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/integration/fed)

# deploy/start-topology.sh: start, status, submit through it, stop (nothing left running).
pls_shell_test(test_fed_start_topology integration/test_fed_start_topology.sh TIMEOUT 240)
# City + 3 towns + village scopes, every service, hotline orders at the city: same history at
# origin, handling node and city; the city holds every order once; no double completion.
pls_shell_test(test_fed_basic integration/test_fed_basic.sh TIMEOUT 300)
# A key used again at a town after its order completed: a duplicate, the city unharmed.
pls_shell_test(test_fed_dupkey integration/test_fed_dupkey.sh TIMEOUT 180)
# Malformed Forwards from a town: each refused with its reason, the link and the city go on.
pls_shell_test(test_fed_bad_forward integration/test_fed_bad_forward.sh TIMEOUT 180)
# A hand-over the city's catalog cannot take: sent back, returned at the town, then transferred.
pls_shell_test(test_fed_refused_handover integration/test_fed_refused_handover.sh TIMEOUT 180)
# A Forward of an order the city already finished, made before it did: not taken twice.
pls_shell_test(test_fed_stale_forward integration/test_fed_stale_forward.sh TIMEOUT 180)
# Link format 2 (event rows after the body): malformed ones refused, format 1 to an older peer.
pls_shell_test(test_fed_link_format integration/test_fed_link_format.sh TIMEOUT 180)
# A link message the city's PostgreSQL refuses, resent: the link waits, the city serves on.
pls_shell_test(test_fed_refused_link integration/test_fed_refused_link.sh TIMEOUT 180)
# An order with a history over the 1 MiB frame handed over to the city and to another town.
pls_shell_test(test_fed_long_history integration/test_fed_long_history.sh TIMEOUT 300)
# 3 towns x 300 orders while the city is killed (-9) for 10 s and restarted.
pls_shell_test(test_fed_city_kill integration/test_fed_city_kill.sh TIMEOUT 600)
# The issue's full size: 3 towns x 2,000 orders, the city killed for 20 s.
pls_shell_test(test_fed_city_kill_full integration/test_fed_city_kill.sh LABELS "integration;long"
  TIMEOUT 1800)
set_tests_properties(test_fed_city_kill_full PROPERTIES ENVIRONMENT
  "PLS_BUILD_DIR=${CMAKE_BINARY_DIR};PLS_SOURCE_DIR=${CMAKE_SOURCE_DIR};FED_ORDERS_PER_TOWN=2000;FED_KILL_S=20;FED_RATE=60")
# A town cut off from the city (network namespaces, veth, nftables) for 10 s while orders
# keep arriving; skipped where namespaces cannot be made.
pls_shell_test(test_fed_link_cut integration/test_fed_link_cut.sh TIMEOUT 400)
# The issue's 30 s cut.
pls_shell_test(test_fed_link_cut_full integration/test_fed_link_cut.sh LABELS "integration;long"
  TIMEOUT 900)
set_tests_properties(test_fed_link_cut_full PROPERTIES ENVIRONMENT
  "PLS_BUILD_DIR=${CMAKE_BINARY_DIR};PLS_SOURCE_DIR=${CMAKE_SOURCE_DIR};FED_CUT_S=30")
# Dongguan-sized: city + 32 towns, 590 village scopes, 20,000 orders; figures on stderr.
pls_shell_test(test_fed_dongguan integration/test_fed_dongguan.sh LABELS "integration;long"
  TIMEOUT 3600)
