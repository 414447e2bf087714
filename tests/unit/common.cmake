pls_unit_test(test_pls_util SOURCES unit/test_pls_util.c LIBS pls)
pls_unit_test(test_pls_id SOURCES unit/test_pls_id.c LIBS pls)
pls_unit_test(test_pls_proto SOURCES unit/test_pls_proto.c LIBS pls)
pls_unit_test(test_pls_hist SOURCES unit/test_pls_hist.c LIBS pls)
