# Turns one file into a C string: cmake -DIN=... -DOUT=... -DNAME=... -P embed_file.cmake
file(READ ${IN} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
file(WRITE ${OUT}.tmp "/* generated from ${IN} by cmake/embed_file.cmake: do not edit */\n#include <stddef.h>\nstatic const unsigned char data[] = {${hex} 0x00};\nconst char *const ${NAME} = (const char *)data;\nconst size_t ${NAME}_len = sizeof(data) - 1;\n")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different ${OUT}.tmp ${OUT})
