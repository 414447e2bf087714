/*
 * pls_hist — durations over a sliding window, for percentiles in status
 * documents: how long the last minute's commits took, without keeping each
 * one. Values (microseconds) go into logarithmic buckets, 8 per power of two,
 * so a percentile is known to within 12.5 % (the bucket's upper bound is
 * reported, never more than the largest value seen); the window is a ring of
 * PLS_HIST_SLICES slices of slice_ms each, and a slice older than the window
 * is cleared when its turn comes again. Fixed size (~6 KiB), no allocation;
 * adding a value is a few instructions. Not thread-safe.
 */
#ifndef PLS_HIST_H
#define PLS_HIST_H

#include <stdint.h>

#define PLS_HIST_SUB 8       /* buckets per power of two */
#define PLS_HIST_BUCKETS 256 /* 1 us .. 2^34 us (4.8 hours); larger in the last one */
#define PLS_HIST_SLICES 6

typedef struct pls_hist_slice {
    int64_t start_ms;                 /* the slice's period start; -1: never used */
    uint64_t n;                       /* values counted in it */
    int64_t max_us;                   /* the largest of them */
    uint32_t count[PLS_HIST_BUCKETS]; /* values per bucket (bucket_of in pls_hist.c) */
} pls_hist_slice_t;

typedef struct pls_hist {
    int64_t slice_ms;                         /* length of a slice's period */
    pls_hist_slice_t slices[PLS_HIST_SLICES]; /* a ring: period / slice_ms mod SLICES */
} pls_hist_t;

/* A window of PLS_HIST_SLICES × slice_ms (6 × 10,000 ms: the last minute,
 * give or take one slice). */
void pls_hist_init(pls_hist_t *h, int64_t slice_ms);

/* Count a duration of us microseconds (negative counts as 0) at now_ms, a
 * monotonic clock in milliseconds. */
void pls_hist_add(pls_hist_t *h, int64_t now_ms, int64_t us);

typedef struct pls_hist_summary {
    uint64_t n;     /* values in the window */
    int64_t p50_us; /* 0 when n == 0 */
    int64_t p99_us;
    int64_t max_us;
} pls_hist_summary_t;

/* The values of the slices whose period lies within the window ending at
 * now_ms: the current slice and the PLS_HIST_SLICES - 1 before it. */
pls_hist_summary_t pls_hist_summary(const pls_hist_t *h, int64_t now_ms);

#endif
