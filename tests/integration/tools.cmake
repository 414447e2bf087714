# Small C clients used by the integration tests (tests/integration/tools/):
# pls-rawsend (frames and messages plsctl never sends) and pls-submitmany
# (many submits in flight at once, printing every acknowledged order).
# Built with everything else; the tests find them in
# ${PLS_BUILD_DIR}/tests/integration/tools/.
add_subdirectory(${CMAKE_CURRENT_LIST_DIR}/tools ${CMAKE_BINARY_DIR}/tests/integration/tools)
