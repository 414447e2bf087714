/*
 * bk_dispatch — workers, the (department, scope) queues, and the choice of
 * the next order and the worker that gets it (DESIGN §6).
 *
 * A queue holds the orders waiting for (department, scope) in a binary heap:
 * urgent first, then earliest due time, then age. A worker serves every
 * queue (d, its scope) for each of its departments; its credit is shared
 * between them. The choice of worker:
 *   - A-post workers with credit, unless the post is marked away;
 *   - B-post workers only when no live A-post worker of the queue has credit
 *     (or the post is away);
 *   - among several, the one with the most free credit.
 * This module decides; bk_core records the assignment and its events.
 */
#ifndef BK_DISPATCH_H
#define BK_DISPATCH_H

#include "bk_index.h"
#include "bk_order.h"

#include <stddef.h>
#include <stdint.h>

#define BK_IDENT_MAX 256
#define BK_WORKER_DEPTS 32

typedef struct bk_queue bk_queue_t;

struct bk_worker {
    char *name;                  /* owned: stable worker name from Ready */
    uint8_t ident[BK_IDENT_MAX]; /* ZeroMQ routing id */
    size_t ident_len;
    const char *scope; /* interned */
    int role;          /* 0 A, 1 B */
    int custody;       /* 0 auto, 1 staff */
    int drain;
    uint32_t credit;   /* free slots as the broker counts them */
    bk_order_t **held; /* owned array of borrowed orders under its lease */
    uint32_t n_held, cap_held;
    int64_t last_seen_ms;                /* monotonic */
    bk_queue_t *queues[BK_WORKER_DEPTS]; /* borrowed: the queues it serves */
    int n_queues;
};

struct bk_queue {
    int dept;
    const char *scope; /* interned */
    bk_order_t **heap; /* owned array of borrowed orders */
    uint32_t n, cap;
    bk_worker_t **workers; /* owned array of borrowed workers serving it */
    uint32_t n_workers, cap_workers;
    int away;  /* post marked away: B-post workers take its orders */
    int dirty; /* on the dispatch list */
    int seen;  /* a worker ever registered for it (workers_seen) */
    bk_queue_t *next_dirty;
    uint32_t status_idx; /* scratch for status counting */
};

typedef struct bk_dispatch {
    bk_index_t queues;  /* bk_queue_t by (dept, scope) */
    bk_index_t workers; /* bk_worker_t by routing id */
    bk_index_t nodes;   /* interned node names (owned strings) */
    bk_queue_t *dirty;  /* queues to dispatch at the end of this loop turn */
} bk_dispatch_t;

void bk_dispatch_init(bk_dispatch_t *d);
void bk_dispatch_cleanup(bk_dispatch_t *d);

/* Interned copy of a node id: equal strings give equal pointers. */
const char *bk_dispatch_intern(bk_dispatch_t *d, const char *node);

/* The queue for (dept, scope); created when absent when create is set. */
bk_queue_t *bk_dispatch_queue(bk_dispatch_t *d, int dept, const char *scope, int create);

void bk_queue_push(bk_queue_t *q, bk_order_t *o);
bk_order_t *bk_queue_peek(const bk_queue_t *q);
bk_order_t *bk_queue_pop(bk_queue_t *q);
void bk_queue_remove(bk_queue_t *q, bk_order_t *o);

void bk_dispatch_mark(bk_dispatch_t *d, bk_queue_t *q);
/* Take the list of dirty queues (NULL-terminated via next_dirty). */
bk_queue_t *bk_dispatch_take_dirty(bk_dispatch_t *d);

/* The worker that should get q's next order, or NULL. */
bk_worker_t *bk_dispatch_pick(const bk_queue_t *q, int64_t now_ms, int64_t lease_ms);

bk_worker_t *bk_dispatch_worker(const bk_dispatch_t *d, const void *ident, size_t len);
/* A new worker attached to the queues of its departments (created as needed). */
bk_worker_t *bk_dispatch_worker_add(bk_dispatch_t *d, const void *ident, size_t len,
                                    const char *name, const char *scope, const int *depts,
                                    int n_depts, int role, int custody);
/* Detach and free (the caller has re-queued its orders). */
void bk_dispatch_worker_remove(bk_dispatch_t *d, bk_worker_t *w);
void bk_worker_hold(bk_worker_t *w, bk_order_t *o);
void bk_worker_release(bk_worker_t *w, bk_order_t *o);

#endif
