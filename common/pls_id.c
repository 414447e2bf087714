/*
 * pls_id — see pls_id.h.
 */
#include "pls_id.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

void pls_random(void *buf, size_t n)
{
    unsigned char *p = buf;
    while (n) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            perror("getrandom");
            abort();
        }
        p += r;
        n -= (size_t)r;
    }
}

uint64_t pls_random_u64(void)
{
    uint64_t v;
    pls_random(&v, sizeof(v));
    return v;
}

/* splitmix64 seeded once from getrandom: unpredictable enough to tell one
 * assignment from another, without a system call per lease token. */
uint64_t pls_fast_u64(void)
{
    static uint64_t state;
    static int seeded;
    if (!seeded) {
        pls_random(&state, sizeof(state));
        seeded = 1;
    }
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void pls_uuid7(pls_uuid_t *out, int64_t wall_ms)
{
    uint64_t ms = (uint64_t)wall_ms;
    for (int i = 0; i < 6; i++)
        out->b[i] = (uint8_t)(ms >> (40 - 8 * i));
    uint64_t r1 = pls_fast_u64(), r2 = pls_fast_u64();
    memcpy(out->b + 6, &r1, 8);
    memcpy(out->b + 14, &r2, 2);
    out->b[6] = (uint8_t)(0x70 | (out->b[6] & 0x0f)); /* version 7 */
    out->b[8] = (uint8_t)(0x80 | (out->b[8] & 0x3f)); /* variant 10 */
}

void pls_uuid_format(const pls_uuid_t *u, char out[PLS_UUID_STR])
{
    static const char hex[] = "0123456789abcdef";
    int o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[u->b[i] >> 4];
        out[o++] = hex[u->b[i] & 15];
    }
    out[o] = '\0';
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int pls_uuid_parse(const char *s, pls_uuid_t *out)
{
    if (strlen(s) != 36)
        return -EINVAL;
    int b = 0;
    for (int i = 0; i < 36;) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return -EINVAL;
            i++;
            continue;
        }
        int hi = hexval(s[i]), lo = hexval(s[i + 1]);
        if (hi < 0 || lo < 0)
            return -EINVAL;
        out->b[b++] = (uint8_t)(hi << 4 | lo);
        i += 2;
    }
    return 0;
}

int pls_node_valid(const char *s)
{
    int labels = 0;
    const char *p = s;
    for (;;) {
        if (!(*p >= 'a' && *p <= 'z'))
            return 0;
        int len = 0;
        while ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_') {
            p++;
            if (++len > 32)
                return 0;
        }
        if (++labels > 4)
            return 0;
        if (*p == '\0')
            return 1;
        if (*p != '.')
            return 0;
        p++;
    }
}

int pls_node_depth(const char *s)
{
    int d = 1;
    for (; *s; s++)
        if (*s == '.')
            d++;
    return d;
}

int pls_node_within(const char *a, const char *b)
{
    size_t lb = strlen(b);
    return strncmp(a, b, lb) == 0 && (a[lb] == '\0' || a[lb] == '.');
}

void pls_node_prefix(const char *node, int depth, char *out, size_t outsz)
{
    size_t n = 0;
    int d = 1;
    while (node[n] && !(node[n] == '.' && d == depth)) {
        if (node[n] == '.')
            d++;
        n++;
    }
    if (n >= outsz)
        n = outsz - 1;
    memcpy(out, node, n);
    out[n] = '\0';
}

static int is_vowel(char c)
{
    return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u' || c == 'v';
}

/* Initials of the pinyin syllables of a label: "humen" -> "HM",
 * "dalingshan" -> "DLS", "changan" -> "CG" (a final n/ng goes to the next
 * syllable when a vowel follows). Not every pair is unique ("houjie" and
 * "huangjiang" both give "HJ"): brokers with a topology resolve clashes. */
static void initials(const char *p, size_t len, pls_buf_t *b)
{
    size_t i = 0;
    while (i < len) {
        pls_buf_addc(b, (char)toupper((unsigned char)p[i]));
        if (i + 1 < len && (p[i] == 'z' || p[i] == 'c' || p[i] == 's') && p[i + 1] == 'h')
            i += 2;
        else if (!is_vowel(p[i]))
            i++;
        while (i < len && is_vowel(p[i]))
            i++;
        if (i < len && p[i] == 'n') {
            if (i + 1 < len && p[i + 1] == 'g' && !(i + 2 < len && is_vowel(p[i + 2])))
                i += 2; /* -ng */
            else if (!(i + 1 < len && is_vowel(p[i + 1])))
                i++; /* -n */
        } else if (i < len && p[i] == 'r' && !(i + 1 < len && is_vowel(p[i + 1]))) {
            i++; /* -r (er) */
        }
        while (i < len && !isalpha((unsigned char)p[i]))
            i++;
    }
}

void pls_node_code(const char *node, char *out, size_t outsz)
{
    pls_buf_t b;
    pls_buf_init(&b);
    const char *p = node;
    int first = 1;
    while (*p) {
        const char *end = strchr(p, '.');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (!first)
            pls_buf_addc(&b, '-');
        if (first) {
            for (size_t i = 0; i < len && i < 4; i++)
                pls_buf_addc(&b, (char)toupper((unsigned char)p[i]));
        } else {
            initials(p, len, &b);
        }
        first = 0;
        p += len;
        if (*p == '.')
            p++;
    }
    snprintf(out, outsz, "%s", b.data ? b.data : "");
    pls_buf_cleanup(&b);
}

void pls_order_number(char *out, size_t outsz, const char *node_code, int yyyymmdd, uint32_t seq)
{
    snprintf(out, outsz, "%s-%08d-%04u", node_code, yyyymmdd, seq);
}
