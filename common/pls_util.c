/*
 * pls_util — allocation, growable buffers and escapers. See pls_util.h.
 */
#include "pls_util.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t n)
{
    fprintf(stderr, "out of memory allocating %zu bytes\n", n);
    abort();
}

void *pls_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *pls_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom(n * size);
    return p;
}

void *pls_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *pls_xstrdup(const char *s)
{
    return pls_xstrndup(s, strlen(s));
}

char *pls_xstrndup(const char *s, size_t n)
{
    char *p = pls_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void pls_buf_init(pls_buf_t *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void pls_buf_cleanup(pls_buf_t *b)
{
    free(b->data);
    pls_buf_init(b);
}

void pls_buf_reset(pls_buf_t *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void pls_buf_grow(pls_buf_t *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    b->data = pls_xrealloc(b->data, cap);
    b->cap = cap;
}

void pls_buf_add(pls_buf_t *b, const void *p, size_t n)
{
    pls_buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void pls_buf_reserve(pls_buf_t *b, size_t extra)
{
    if (b->len + extra + 1 > b->cap)
        pls_buf_grow(b, extra);
}

void pls_buf_adds(pls_buf_t *b, const char *s)
{
    pls_buf_add(b, s, strlen(s));
}

void pls_buf_addc(pls_buf_t *b, char c)
{
    if (b->len + 2 > b->cap)
        pls_buf_grow(b, 1);
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
}

void pls_buf_vprintf(pls_buf_t *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return;
    pls_buf_reserve(b, (size_t)n);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void pls_buf_printf(pls_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pls_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void pls_buf_add_u64(pls_buf_t *b, uint64_t v)
{
    char tmp[24];
    int i = (int)sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    pls_buf_add(b, tmp + i, sizeof(tmp) - (size_t)i);
}

void pls_buf_add_i64(pls_buf_t *b, int64_t v)
{
    if (v < 0) {
        pls_buf_addc(b, '-');
        pls_buf_add_u64(b, (uint64_t)0 - (uint64_t)v);
    } else {
        pls_buf_add_u64(b, (uint64_t)v);
    }
}

void pls_buf_add_json_str(pls_buf_t *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    pls_buf_reserve(b, strlen(s) + 2);
    pls_buf_addc(b, '"');
    const char *run = s;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        pls_buf_add(b, run, (size_t)(p - run));
        run = p + 1;
        switch (c) {
        case '"':
            pls_buf_add(b, "\\\"", 2);
            break;
        case '\\':
            pls_buf_add(b, "\\\\", 2);
            break;
        case '\n':
            pls_buf_add(b, "\\n", 2);
            break;
        case '\t':
            pls_buf_add(b, "\\t", 2);
            break;
        case '\r':
            pls_buf_add(b, "\\r", 2);
            break;
        default: {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            pls_buf_add(b, u, 6);
        }
        }
    }
    pls_buf_add(b, run, strlen(run));
    pls_buf_addc(b, '"');
}

char *pls_buf_take(pls_buf_t *b)
{
    char *d = b->data ? b->data : pls_xstrdup("");
    pls_buf_init(b);
    return d;
}

char *pls_utf8_copy(char *dst, size_t dstsz, const char *src)
{
    size_t n = strlen(src);
    if (n >= dstsz) {
        n = dstsz - 1;
        while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80)
            n--;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
    return dst;
}

/* Nonzero when each of the 8 bytes of w is in 1..0x7f: no high bit, and no
 * zero byte ((w - 0x01..) & ~w sets the high bit of a byte that was zero). */
static int ascii_word(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    return ((w | ((w - ones) & ~w)) & highs) == 0;
}

int pls_utf8_valid_n(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    const unsigned char *end = p + n;
    while (p < end) {
        unsigned c = *p;
        if (c == 0)
            return 0;
        if (c < 0x80) {
            /* link bodies are mostly ASCII: after an ASCII byte, the rest of
             * the run 8 bytes at a time (a quarter of the instructions per
             * byte) up to a word with a NUL or a multibyte character; text of
             * multibyte characters only never tries a word */
            p++;
            uint64_t w;
            while ((size_t)(end - p) >= sizeof(w)) {
                memcpy(&w, p, sizeof(w));
                if (!ascii_word(w))
                    break;
                p += sizeof(w);
            }
            continue;
        }
        size_t len;
        unsigned min;
        if ((c & 0xe0) == 0xc0) {
            len = 2;
            min = 0x80;
            c &= 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3;
            min = 0x800;
            c &= 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4;
            min = 0x10000;
            c &= 0x07;
        } else {
            return 0;
        }
        if ((size_t)(end - p) < len)
            return 0;
        for (size_t i = 1; i < len; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return 0;
            c = (c << 6) | (p[i] & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
            return 0;
        p += len;
    }
    return 1;
}

uint64_t pls_hash64(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

int pls_parse_long(const char *s, long min, long max, long *out)
{
    if (!s || !*s)
        return -EINVAL;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}
