/* pls_hist — durations over a sliding window (pls_hist.h). */
#include "pls_hist.h"

#include <string.h>

/* Bucket of v: 8 per power of two. Values 1..15 have buckets of their own
 * (0..14), 0 shares the one of 1 (reported as 1 unless the maximum is 0);
 * from 16 on, the bucket is the power of two and the 3 bits after the
 * leading one. */
static unsigned bucket_of(uint64_t v)
{
    if (v < 16)
        return (unsigned)(v ? v - 1 : 0);
    unsigned lz = (unsigned)__builtin_clzll(v); /* gcc and clang; v > 0 here */
    unsigned p = 63 - lz;                       /* 2^p <= v < 2^(p+1), p >= 4 */
    unsigned sub = (unsigned)(v >> (p - 3)) & (PLS_HIST_SUB - 1);
    unsigned b = 15 + (p - 4) * PLS_HIST_SUB + sub;
    return b < PLS_HIST_BUCKETS ? b : PLS_HIST_BUCKETS - 1;
}

/* The largest value of bucket b. */
static uint64_t bucket_top(unsigned b)
{
    if (b < 15)
        return b + 1;
    unsigned p = (b - 15) / PLS_HIST_SUB + 4, sub = (b - 15) % PLS_HIST_SUB;
    return ((uint64_t)(PLS_HIST_SUB + sub + 1) << (p - 3)) - 1;
}

void pls_hist_init(pls_hist_t *h, int64_t slice_ms)
{
    memset(h, 0, sizeof(*h));
    h->slice_ms = slice_ms > 0 ? slice_ms : 1;
    for (int i = 0; i < PLS_HIST_SLICES; i++)
        h->slices[i].start_ms = -1;
}

static int64_t period_of(const pls_hist_t *h, int64_t now_ms)
{
    int64_t p = now_ms / h->slice_ms;
    return p * h->slice_ms;
}

void pls_hist_add(pls_hist_t *h, int64_t now_ms, int64_t us)
{
    int64_t start = period_of(h, now_ms);
    pls_hist_slice_t *s = &h->slices[(uint64_t)(start / h->slice_ms) % PLS_HIST_SLICES];
    if (s->start_ms != start) {
        memset(s, 0, sizeof(*s));
        s->start_ms = start;
    }
    if (us < 0)
        us = 0;
    s->n++;
    if (us > s->max_us)
        s->max_us = us;
    s->count[bucket_of((uint64_t)us)]++;
}

/* The value at rank r (0-based) of the merged counts, capped at max. */
static int64_t at_rank(const uint64_t *merged, uint64_t r, int64_t max)
{
    uint64_t seen = 0;
    for (unsigned b = 0; b < PLS_HIST_BUCKETS; b++) {
        seen += merged[b];
        if (seen > r) {
            if (b == PLS_HIST_BUCKETS - 1)
                return max; /* the last bucket has no top */
            uint64_t top = bucket_top(b);
            return (int64_t)top < max ? (int64_t)top : max;
        }
    }
    return max;
}

pls_hist_summary_t pls_hist_summary(const pls_hist_t *h, int64_t now_ms)
{
    pls_hist_summary_t out = {0, 0, 0, 0};
    uint64_t merged[PLS_HIST_BUCKETS] = {0};
    int64_t newest = period_of(h, now_ms);
    int64_t oldest = newest - (int64_t)(PLS_HIST_SLICES - 1) * h->slice_ms;
    for (int i = 0; i < PLS_HIST_SLICES; i++) {
        const pls_hist_slice_t *s = &h->slices[i];
        if (s->start_ms < oldest || s->start_ms > newest || !s->n)
            continue;
        out.n += s->n;
        if (s->max_us > out.max_us)
            out.max_us = s->max_us;
        for (unsigned b = 0; b < PLS_HIST_BUCKETS; b++)
            merged[b] += s->count[b];
    }
    if (!out.n)
        return out;
    /* the nearest rank: the smallest value with at least p of the values at
     * or below it */
    out.p50_us = at_rank(merged, (out.n * 50 + 99) / 100 - 1, out.max_us);
    out.p99_us = at_rank(merged, (out.n * 99 + 99) / 100 - 1, out.max_us);
    return out;
}
