/*
 * pls_log — leveled logging to stderr, one line per message:
 *   2026-11-26T07:33:10.123Z pls-broker[dg] warn: could not connect to store: ...
 * Messages follow PostgreSQL's style: short, factual, lowercase, no trailing
 * period. The macros test the level before evaluating their arguments.
 *
 * Citizens' personal data never goes to a log unmasked: use pls_mask() for
 * names, phone and ID numbers (keeps only the last characters).
 */
#ifndef PLS_LOG_H
#define PLS_LOG_H

#include "pls_util.h"

#include <stddef.h>

enum pls_log_level { PLS_LOG_ERROR = 0, PLS_LOG_WARN, PLS_LOG_INFO, PLS_LOG_DEBUG };

extern int pls_log_level;

void pls_log_init(const char *prog, const char *context);
/* Accepts error|warn|info|debug; returns -EINVAL otherwise. */
int pls_log_set_level_name(const char *name) PLS_WUR;
void pls_log_write(int level, const char *fmt, ...) PLS_PRINTF(2, 3);

#define PLS_LOG(level, ...)                                                                        \
    do {                                                                                           \
        if ((level) <= pls_log_level)                                                              \
            pls_log_write((level), __VA_ARGS__);                                                   \
    } while (0)
#define pls_error(...) PLS_LOG(PLS_LOG_ERROR, __VA_ARGS__)
#define pls_warn(...) PLS_LOG(PLS_LOG_WARN, __VA_ARGS__)
#define pls_info(...) PLS_LOG(PLS_LOG_INFO, __VA_ARGS__)
#define pls_debug(...) PLS_LOG(PLS_LOG_DEBUG, __VA_ARGS__)

/* Mask personal data for a log line: "13812345678" -> "*******5678",
 * a name "张三丰" -> "张**". Writes at most outsz bytes (NUL included). */
void pls_mask(const char *in, char *out, size_t outsz);
/* Mask, in place, what may be a phone or ID number inside free text that is
 * not ours (a database's error message): every run of 7 or more digits (an
 * X after it included) keeps its last four. */
void pls_mask_numbers(char *s);

#endif
