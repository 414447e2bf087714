/*
 * bn_stats — what pls-bench records per order, without an allocation per
 * order: latency samples in flat arrays summarised by sorting, and an
 * open-addressing table from order id to what the workers saw of it.
 *
 * Why a table: a submitter learns an order's id from the broker's answer; a
 * worker learns it from the Assign. The two arrive on different sockets and
 * the broker may assign an order in the very batch that received it, so the
 * Assign can come first. Both sides look the id up (inserting it when new),
 * and the submit side fills in the order's sequence number.
 */
#ifndef BN_STATS_H
#define BN_STATS_H

#include "pls_id.h"
#include "pls_util.h"

#include <stddef.h>
#include <stdint.h>

/* Percentile summary of a set of samples, in the samples' unit. */
typedef struct bn_summary {
    size_t n;
    double p50, p90, p99, max, mean;
} bn_summary_t;

/* Summarise v[0..n-1] (microseconds, sorted in place) as milliseconds.
 * Nearest-rank percentiles; all zero when n is 0. */
void bn_summarize_us(int64_t *v, size_t n, bn_summary_t *out);

/* One order as the workers saw it. */
typedef struct bn_seen {
    pls_uuid_t id;   /* all zero: a free slot (a UUIDv7 never is) */
    int32_t idx;     /* the order's sequence number in this run, -1 until its submit is answered */
    uint32_t n_done; /* OUTCOME reports answered (one per step) */
    int64_t assign_us; /* first Assign seen (monotonic us), 0 = none yet */
    int64_t done_us;   /* latest OUTCOME answered, 0 = none yet */
} bn_seen_t;

typedef struct bn_map {
    bn_seen_t *slots; /* owned */
    size_t mask;      /* capacity - 1 (a power of two) */
    size_t n;
} bn_map_t;

/* A table for up to `expected` orders (capacity at least twice that; it does
 * not grow: the benchmark knows its order count). */
void bn_map_init(bn_map_t *m, size_t expected);
void bn_map_cleanup(bn_map_t *m);
/* The entry of id, made (idx -1, times 0) when new. NULL only when the table
 * is full, which a caller that sized it right never sees. Pointers stay
 * valid (the table never moves). */
bn_seen_t *bn_map_get(bn_map_t *m, const pls_uuid_t *id);
/* The entry at slot i or NULL when free, for walking the table. */
bn_seen_t *bn_map_slot(bn_map_t *m, size_t i);
size_t bn_map_capacity(const bn_map_t *m);

#endif
