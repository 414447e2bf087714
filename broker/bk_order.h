/*
 * bk_order — an open order in memory, its states, and the table of open
 * orders (by id, idempotency key and order number).
 *
 * Memory holds open orders only (DESIGN §8): those whose next change is the
 * broker's or a department's to make. Completed orders awaiting a rating,
 * closed, withdrawn and terminated ones live in PostgreSQL alone. Citizens'
 * data and descriptions never enter memory.
 *
 * States (DESIGN §4):
 *
 *   received -> queued -> assigned -> in_progress -> (next step) queued ...
 *                 ^  \       |  \          |  \-> waiting_citizen -> queued/in_progress
 *                 |   \      |   \         |  \-> returned -> (requeue) queued
 *                 |    \     |    lease expired / fail (retry) -> queued
 *                 |     \    |                \-> failed (attempts exhausted)
 *                 +------ requeue (operator)   \-> completed | terminated (leave memory)
 *   any open state -> withdrawn (leaves memory)
 */
#ifndef BK_ORDER_H
#define BK_ORDER_H

#include "bk_index.h"
#include "pls_id.h"

#include <stdint.h>

enum bk_state {
    BK_RECEIVED = 0,
    BK_FORWARDED,
    BK_QUEUED,
    BK_ASSIGNED,
    BK_IN_PROGRESS,
    BK_WAITING_CITIZEN,
    BK_RETURNED,
    BK_COMPLETED,
    BK_RATING_REVIEW,
    BK_CLOSED,
    BK_FAILED,
    BK_WITHDRAWN,
    BK_TERMINATED,
    BK_STATE_COUNT
};

const char *bk_state_name(int state);
int bk_state_parse(const char *name); /* -1 when unknown */
/* States kept in memory. */
int bk_state_open(int state);

enum bk_order_flags {
    BK_OF_NEED_INFO_USED = 1 << 0, /* the one-time notice was given */
    BK_OF_NEW = 1 << 1,            /* inserted by the batch being built or in flight */
    BK_OF_PHANTOM = 1 << 2,        /* its key existed in the store: being undone */
    BK_OF_BACKOFF = 1 << 3,        /* queued but waiting for its retry time */
    BK_OF_ORPHAN = 1 << 4,         /* held by a worker before a restart: awaiting re-attach */
    BK_OF_HANDBACK = 1 << 5,       /* returned: going back to prev_owner (stored) */
    BK_OF_DETAINED = 1 << 6,       /* detained applicant (stored) */
};

/* Flags kept in the orders row. */
#define BK_OF_STORED (BK_OF_NEED_INFO_USED | BK_OF_HANDBACK | BK_OF_DETAINED)

typedef struct bk_worker bk_worker_t;

typedef struct bk_order {
    pls_uuid_t id;
    uint64_t token;         /* lease token of the current assignment */
    uint64_t content_hash;  /* of the submitted content, for idempotent intake */
    int64_t created_ms;     /* wall ms of intake */
    int64_t due_ms;         /* rule-clock due time of the current step; 0 = none */
    const char *scope;      /* interned: the (dept, scope) queue of the current step */
    const char *origin;     /* interned */
    const char *locality;   /* interned */
    const char *intake;     /* interned: the broker that received it (a copy holder) */
    const char *prev_owner; /* interned: who handed it to us (gets a 退单 back), or NULL */
    const char *site;       /* interned: the citizen's chosen site (designated steps) */
    /* time limits (bk_limits.h), rule-clock ms */
    int64_t limit_start_ms; /* the current limit (签收 or step) started */
    int64_t whole_due_ms;   /* whole-order limit, 0 = none */
    int64_t paused_ms;      /* waiting for the citizen since, 0 = not paused */
    int64_t alarm_at_ms;    /* its entry in the alarm heap (stale entries are skipped) */
    char *notice;           /* owned: a held second notice (JSON), or NULL */
    uint64_t key_hash;      /* idempotency key hash; 0 = not indexed (generated, or not ours) */
    bk_worker_t *worker;    /* borrowed: holder of the current lease, or NULL */
    uint32_t next_seq;      /* sequence number of its next event */
    uint32_t heap_idx;      /* position in its queue's heap, or BK_NO_HEAP */
    uint32_t held_idx;      /* position in worker->held */
    uint32_t batch_gen;     /* the batch whose event row index is batch_row */
    uint32_t batch_row;
    uint16_t attempt;
    uint8_t service; /* catalog index */
    uint8_t step;    /* current step index */
    uint8_t state;   /* enum bk_state */
    uint8_t priority;
    uint8_t dept; /* catalog index of the current step's department */
    uint8_t custody;
    uint8_t flags;
    uint8_t returns;
    uint8_t limit_kind;  /* enum bk_limit_kind */
    uint8_t alarms;      /* BK_AL_* */
    uint8_t ext_days;    /* working days of extension granted */
    uint8_t ext_pending; /* asked, undecided */
    char number[32];
} bk_order_t;

#define BK_NO_HEAP UINT32_MAX

/* The table of open orders. By number, orders are found through the store
 * (an index less per order in memory). */
typedef struct bk_orders {
    bk_index_t by_id;
    bk_index_t by_key;
    size_t count[BK_STATE_COUNT]; /* open orders by state */
} bk_orders_t;

void bk_orders_init(bk_orders_t *t);
/* Frees every order. */
void bk_orders_cleanup(bk_orders_t *t);
bk_order_t *bk_orders_get(const bk_orders_t *t, const pls_uuid_t *id);
bk_order_t *bk_orders_by_key(const bk_orders_t *t, const char *key);
/* By id (a number is not found here: ask the store). */
bk_order_t *bk_orders_find(const bk_orders_t *t, const char *ref);
/* The key hash of an idempotency key (never 0). */
uint64_t bk_key_hash(const char *key);
void bk_orders_add(bk_orders_t *t, bk_order_t *o);
/* Removes and frees. */
void bk_orders_remove(bk_orders_t *t, bk_order_t *o);
void bk_orders_set_state(bk_orders_t *t, bk_order_t *o, int state);
size_t bk_orders_size(const bk_orders_t *t);

bk_order_t *bk_order_new(void);
/* Free an order that is not in a table (a transient one). */
void bk_order_free(bk_order_t *o);

/* Recently finished orders, for the original reply to a repeated report
 * and to know a stale Forward: a fixed ring of (id, attempt, token, next
 * event number). */
#define BK_RECENT_CAP 65536
typedef struct bk_recent_entry {
    pls_uuid_t id;
    uint64_t token;
    uint16_t attempt;
    uint8_t used;
    uint8_t state;     /* the state it left memory in */
    uint32_t next_seq; /* its next event's number then */
} bk_recent_entry_t;

typedef struct bk_recent {
    bk_recent_entry_t *ring; /* owned, BK_RECENT_CAP entries */
    size_t next;
    bk_index_t by_id; /* entries point into ring */
} bk_recent_t;

void bk_recent_init(bk_recent_t *r);
void bk_recent_cleanup(bk_recent_t *r);
void bk_recent_add(bk_recent_t *r, const bk_order_t *o);
const bk_recent_entry_t *bk_recent_get(const bk_recent_t *r, const pls_uuid_t *id);

#endif
