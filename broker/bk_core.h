/*
 * bk_core — the broker's state and rules: intake, routing, dispatch, leases,
 * worker reports, operator actions, and group commit. No sockets and no
 * libpq here: messages come in through bk_core_message, go out through the
 * `send` function, and changes reach PostgreSQL through bk_store batches.
 *
 * Persist, then emit (DESIGN §8, must): a handler validates a message,
 * applies it to memory and records its SQL and its reply in the batch being
 * built (`cur`). At the end of each loop turn, if no batch is in flight,
 * `cur` becomes the batch in flight (one transaction). Its replies,
 * assignments and revocations are sent only after its COMMIT is confirmed.
 * If the batch fails, its replies become 503, its assignments are dropped,
 * and the whole in-memory state is dropped and reloaded from PostgreSQL.
 *
 * Ownership: a single node owns each open order and numbers its events
 * (o->next_seq); every transition appends one entry to the order's event row
 * of the current batch.
 */
#ifndef BK_CORE_H
#define BK_CORE_H

#include "bk_batch.h"
#include "bk_catalog.h"
#include "bk_dispatch.h"
#include "bk_fed.h"
#include "bk_order.h"
#include "bk_store.h"
#include "pls_calendar.h"
#include "pls_hist.h"
#include "pls_proto.h"

#include <uv.h>

/* Send one message to a peer of the ROUTER (ident), or to the parent broker
 * over the link socket (ident NULL). */
typedef int (*bk_send_fn)(void *arg, const void *ident, size_t ident_len, const void *msg,
                          size_t len);

typedef struct bk_config {
    const char *node;      /* this command center */
    const char *db;        /* conninfo */
    const char *parent;    /* federation: the parent broker's endpoint, or NULL */
    const char *topology;  /* CSV of the nodes, or NULL */
    int has_parent;        /* a parent endpoint was given */
    int64_t lease_ms;      /* auto-custody lease (default 10000) */
    int max_attempts;      /* before `failed` (default 5) */
    int64_t retry_base_ms; /* first retry backoff (default 1000), doubling */
    int insecure;          /* authorize allows everything */
    const char *calendar;  /* holiday file, NULL = the built-in one */
    int test_clock;        /* plsctl clock may shift the rule clock */
    int64_t refuse_ms;     /* a submit PostgreSQL refused on its own: refused again at
                                  once for this long (0: written, and refused, every time) */
} bk_config_t;

/* A new order of a batch PostgreSQL refused for its rows, to try alone at the
 * next boot (bk_store_boot_try): the order's statement list, its content. */
typedef struct bk_suspect {
    pls_buf_t sql;
    uint64_t hash; /* content hash (the submit's) */
    char what[80]; /* its service and desk, for the log */
} bk_suspect_t;
#define BK_SUSPECTS_MAX 1024

/* Content PostgreSQL refused on its own: a submit of it is answered 422
 * without writing until then. */
typedef struct bk_refusal {
    uint64_t hash;
    int64_t until_ms; /* monotonic */
    char reason[256];
} bk_refusal_t;
#define BK_REFUSALS_MAX 64

/* A timer entry: an order to look at when the time comes. */
typedef struct bk_timer_entry {
    int64_t when_ms;
    pls_uuid_t id;
} bk_timer_entry_t;

/* A min-heap of timer entries (one for retries on the monotonic clock, one
 * for time-limit alarms on the rule clock): never a timer per order. */
typedef struct bk_heap {
    bk_timer_entry_t *e; /* owned */
    uint32_t n, cap;
} bk_heap_t;

typedef struct bk_stats {
    uint64_t submits;
    uint64_t assigns;
    uint64_t completions;
    uint64_t rows_written;
    uint64_t batches;
    uint64_t rejected; /* requests answered 4xx */
} bk_stats_t;

typedef struct bk_core {
    uv_loop_t *loop;
    bk_config_t cfg;
    char node[PLS_NODE_MAX];
    char node_code[48];
    bk_catalog_t cat;
    bk_orders_t orders;
    bk_dispatch_t disp;
    bk_recent_t recent;
    bk_fed_t fed;
    bk_store_t *store; /* owned */
    int ready;         /* state loaded and store up */
    int draining;      /* SIGTERM: commit what is in flight, then stop */
    bk_batch_t batches[BK_STORE_FLIGHT_MAX + 1];
    bk_batch_t *cur;                           /* being built */
    bk_batch_t *inflight[BK_STORE_FLIGHT_MAX]; /* being committed, oldest first */
    int n_inflight;
    uint32_t gen;
    pls_buf_t sql;          /* the statements of the last batch sent */
    bk_rowtypes_t rowtypes; /* the tables' row types in this database (bk_batch.h) */
    pls_buf_t scratch;      /* payload builder */
    int today;              /* yyyymmdd (Asia/Shanghai) of day_seq */
    uint32_t day_seq;
    bk_heap_t retries;          /* backoff ends, monotonic ms */
    bk_heap_t alarms;           /* time-limit alarms, rule-clock ms */
    pls_calendar_t *cal;        /* owned working-day calendar */
    int64_t last_sweep_ms;      /* monotonic: the unrated-completion sweep */
    int64_t orphan_deadline_ms; /* 0 = no orphan sweep pending */
    int64_t started_ms;
    pls_hist_t commit_hist; /* batches' send-to-commit times, last minute (status) */
    bk_send_fn send;
    void *send_arg;
    const void *raw; /* the message being handled (borrowed, valid during the call) */
    size_t raw_len;
    struct {
        pls_uuid_t id;
        int service; /* catalog index, or -2: no such order */
        int used;
    } about[256]; /* services of orders complained about, from the store */
    size_t about_next;
    uint32_t committed_gen; /* the last batch committed */
    struct {
        pls_uuid_t id;
        uint32_t gen; /* the batch that changes it */
    } offline[256];   /* orders changed outside memory (rating, sweep) */
    size_t offline_next;
    bk_stats_t stats;
    bk_suspect_t *suspects; /* owned; kept across reloads */
    uint32_t n_suspects;
    bk_refusal_t refusals[BK_REFUSALS_MAX];         /* a ring; kept across reloads */
    uint32_t n_refusals;                            /* ever made: the next goes to n % MAX */
    void (*on_idle_after_drain)(struct bk_core *c); /* called when draining and nothing in flight */
} bk_core_t;

int bk_core_init(bk_core_t *c, uv_loop_t *loop, const bk_config_t *cfg, bk_send_fn send,
                 void *send_arg) PLS_WUR;
void bk_core_cleanup(bk_core_t *c);
void bk_core_start(bk_core_t *c);

/* One message from a peer (identity = its ZeroMQ routing id; NULL for a
 * message from the parent broker). */
void bk_core_message(bk_core_t *c, const void *ident, size_t ident_len, const void *data,
                     size_t len);
/* A peer sent a multipart message with a wrong number of frames. */
void bk_core_malformed(bk_core_t *c, const void *ident, size_t ident_len, const char *why);
/* End of a loop turn: dispatch and, if possible, start the next batch. */
void bk_core_turn(bk_core_t *c);
/* Periodic: leases, retry timers, orphan sweep. */
void bk_core_tick(bk_core_t *c);
/* SIGTERM: stop taking requests, commit what is pending. */
void bk_core_drain(bk_core_t *c);
/* 1 when draining and nothing is left to commit. */
int bk_core_drained(const bk_core_t *c);

/* Queries (bk_query.c). */
void bk_query_handle(bk_core_t *c, const void *ident, size_t ident_len, uint64_t corr,
                     const char *actor, const Pls__QueryRequest *q);

/* Send this node's status to the parent (StatusSummary). */
void bk_query_send_summary(bk_core_t *c);

/* Reply at once (no state change to persist). */
void bk_core_reply_now(bk_core_t *c, const void *ident, size_t ident_len, uint64_t corr,
                       uint32_t status, const char *reason, const char *json);

/* authorize(identity, command, order) — DESIGN §8. Until the security work
 * lands it allows everything, and the broker runs only with --insecure. */
int bk_authorize(const bk_core_t *c, const char *actor, int body_case, const bk_order_t *o);

#endif
