pls_unit_test(test_bk_index SOURCES unit/test_bk_index.c LIBS bkcore)
pls_unit_test(test_bk_dispatch SOURCES unit/test_bk_dispatch.c LIBS bkcore)
pls_unit_test(test_bk_catalog SOURCES unit/test_bk_catalog.c LIBS bkcore)
pls_unit_test(test_bk_batch SOURCES unit/test_bk_batch.c LIBS bkcore)
