/*
 * bn_stats — see bn_stats.h.
 */
#include "bn_stats.h"

#include <stdlib.h>
#include <string.h>

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest rank: the smallest sample with at least p of the samples at or
 * below it. */
static double rank_ms(const int64_t *v, size_t n, double p)
{
    size_t k = (size_t)(p * (double)n + 0.999999999);
    if (k < 1)
        k = 1;
    if (k > n)
        k = n;
    return (double)v[k - 1] / 1000.0;
}

void bn_summarize_us(int64_t *v, size_t n, bn_summary_t *out)
{
    memset(out, 0, sizeof(*out));
    if (n == 0)
        return;
    qsort(v, n, sizeof(*v), cmp_i64);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (double)v[i];
    out->n = n;
    out->p50 = rank_ms(v, n, 0.50);
    out->p90 = rank_ms(v, n, 0.90);
    out->p99 = rank_ms(v, n, 0.99);
    out->max = (double)v[n - 1] / 1000.0;
    out->mean = sum / (double)n / 1000.0;
}

void bn_map_init(bn_map_t *m, size_t expected)
{
    size_t cap = 64;
    while (cap < expected * 2)
        cap <<= 1;
    m->slots = pls_xcalloc(cap, sizeof(*m->slots));
    m->mask = cap - 1;
    m->n = 0;
}

void bn_map_cleanup(bn_map_t *m)
{
    free(m->slots);
    memset(m, 0, sizeof(*m));
}

static int is_free(const bn_seen_t *s)
{
    static const pls_uuid_t zero;
    return memcmp(s->id.b, zero.b, sizeof(zero.b)) == 0;
}

/* UUIDv7: the first 48 bits are a millisecond clock, the last 62 random:
 * hash the random tail. */
static size_t hash_id(const pls_uuid_t *id)
{
    uint64_t h;
    memcpy(&h, id->b + 8, sizeof(h));
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return (size_t)h;
}

bn_seen_t *bn_map_get(bn_map_t *m, const pls_uuid_t *id)
{
    size_t i = hash_id(id) & m->mask;
    for (size_t probes = 0; probes <= m->mask; probes++, i = (i + 1) & m->mask) {
        bn_seen_t *s = &m->slots[i];
        if (is_free(s)) {
            if (m->n * 10 >= (m->mask + 1) * 9)
                return NULL; /* keep probe chains short: refuse past 90 % */
            s->id = *id;
            s->idx = -1;
            m->n++;
            return s;
        }
        if (memcmp(s->id.b, id->b, sizeof(id->b)) == 0)
            return s;
    }
    return NULL;
}

bn_seen_t *bn_map_slot(bn_map_t *m, size_t i)
{
    return i <= m->mask && !is_free(&m->slots[i]) ? &m->slots[i] : NULL;
}

size_t bn_map_capacity(const bn_map_t *m)
{
    return m->mask + 1;
}
