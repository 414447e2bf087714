/*
 * pls_util — small helpers every module uses: allocation that aborts on
 * failure (there is no sensible recovery from OOM in a broker whose state is
 * in PostgreSQL anyway), and a growable byte buffer with the escapers we need
 * to build JSON and SQL text on the hot path without extra allocations.
 */
#ifndef PLS_UTIL_H
#define PLS_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define PLS_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define PLS_UNUSED(x) ((void)(x))
#define PLS_WUR __attribute__((warn_unused_result))
#define PLS_PRINTF(a, b) __attribute__((format(printf, a, b)))

void *pls_xmalloc(size_t n);
void *pls_xcalloc(size_t n, size_t size);
void *pls_xrealloc(void *p, size_t n);
char *pls_xstrdup(const char *s);
char *pls_xstrndup(const char *s, size_t n);

/* A growable byte buffer, always NUL-terminated. Embed it, _init, _cleanup. */
typedef struct pls_buf {
    char *data; /* owned; NUL-terminated; NULL until the first append */
    size_t len; /* bytes used, excluding the terminating NUL */
    size_t cap; /* bytes allocated */
} pls_buf_t;

void pls_buf_init(pls_buf_t *b);
void pls_buf_cleanup(pls_buf_t *b);
void pls_buf_reset(pls_buf_t *b); /* len = 0, keeps the allocation */
void pls_buf_reserve(pls_buf_t *b, size_t extra);
void pls_buf_grow(pls_buf_t *b, size_t extra); /* reserve's slow path */
void pls_buf_add(pls_buf_t *b, const void *p, size_t n);
void pls_buf_adds(pls_buf_t *b, const char *s);
void pls_buf_addc(pls_buf_t *b, char c);
void pls_buf_printf(pls_buf_t *b, const char *fmt, ...) PLS_PRINTF(2, 3);
void pls_buf_vprintf(pls_buf_t *b, const char *fmt, va_list ap) PLS_PRINTF(2, 0);
void pls_buf_add_i64(pls_buf_t *b, int64_t v);
void pls_buf_add_u64(pls_buf_t *b, uint64_t v);
/* A JSON string literal with quotes: escapes ", \ and control characters. */
void pls_buf_add_json_str(pls_buf_t *b, const char *s);
/* Take the data out of the buffer (caller owns it); the buffer is reset. */
char *pls_buf_take(pls_buf_t *b);

/* True when s is valid UTF-8 of at most max bytes (no NUL by construction of a
 * C string; callers with lengths use pls_utf8_valid_n). */
int pls_utf8_valid_n(const char *s, size_t n);
/* Copy src into dst (dstsz > 0), cut to fit before a UTF-8 character that
 * would not. Returns dst. */
char *pls_utf8_copy(char *dst, size_t dstsz, const char *src);

/* 64-bit FNV-1a, chained: h = pls_hash64(h, p, n), start with PLS_HASH64_INIT. */
#define PLS_HASH64_INIT 0xcbf29ce484222325ULL
uint64_t pls_hash64(uint64_t h, const void *p, size_t n);

/* Parse a decimal integer in [min,max]; 0 ok, -EINVAL otherwise. */
int pls_parse_long(const char *s, long min, long max, long *out) PLS_WUR;

#endif
