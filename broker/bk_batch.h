/*
 * bk_batch — one group-commit batch: the SQL of every change made while the
 * previous batch was in flight, and the messages to send once it commits
 * (persist, then emit: DESIGN §8).
 *
 * Per order and batch there is one event row; every transition of the order
 * in the batch appends an entry to it, and the row keeps a snapshot of the
 * order's state after the last entry for the single UPDATE of `orders` (or,
 * for an order received in this batch, for its INSERT). Rows copy what they
 * need, so an order may leave memory while its batch is being built.
 */
#ifndef BK_BATCH_H
#define BK_BATCH_H

#include "bk_order.h"
#include "bk_store.h"
#include "pls_util.h"

#include <stdint.h>

typedef struct bk_row {
    pls_uuid_t id;
    uint32_t seq;      /* first entry's sequence number */
    uint32_t n;        /* entries */
    int64_t at_ms;     /* first entry's time */
    pls_buf_t entries; /* "{...},{...}" */
    /* snapshot of the order after the last entry (the orders row's changing
     * columns); dept and scope are interned/catalog strings valid while the
     * batch lives (a reload discards batches first) */
    int state;
    int step;
    uint32_t attempt;
    uint64_t token;
    const char *dept;
    const char *scope;
    const char *owner;      /* interned; this node unless handed over */
    const char *prev_owner; /* interned or NULL */
    const char *intake;     /* interned: copy holder */
    int open;               /* owned here and in memory */
    int custody;
    int flags;
    int64_t due_ms;
    int64_t limit_start_ms;
    int64_t whole_due_ms;
    int64_t paused_ms;
    int limit_kind;
    int alarms;
    int ext_days;
    int ext_pending;
    char *notice_copy; /* owned copy of the order's held notice */
    int is_new;        /* order inserted by this batch: index into news */
    int new_idx;
} bk_row_t;

/* An order received in this batch. */
typedef struct bk_new {
    pls_uuid_t id;
    char *key;         /* owned */
    pls_buf_t insert;  /* id .. created_at as record fields (bk_rec_*); the state columns
                          are appended at flush */
    pls_buf_t citizen; /* the citizens row's fields (bk_rec_*), or empty */
    pls_buf_t fields;  /* the order's content as JSON members for copies (no citizen) */
    int row;           /* its event row */
    int confirmed;     /* the INSERT returned it */
} bk_new_t;

enum bk_out_kind {
    BK_OUT_REPLY = 0, /* a reply to a request: becomes 503 when the batch fails */
    BK_OUT_SUBMIT,    /* a submit reply: re-resolved by key when its order was a phantom */
    BK_OUT_PUSH,      /* Assign / Revoke: dropped when the batch fails */
};

typedef struct bk_out {
    int kind;
    uint8_t *ident; /* owned routing id */
    size_t ident_len;
    uint8_t *msg; /* owned packed envelope */
    size_t len;
    uint64_t corr;
    int new_idx; /* the new order it depends on, or -1 */
} bk_out_t;

typedef struct bk_batch {
    uint32_t gen;
    bk_row_t *rows;
    uint32_t n_rows, cap_rows;
    bk_new_t *news;
    uint32_t n_news, cap_news;
    bk_out_t *outs;
    uint32_t n_outs, cap_outs;
    pls_buf_t pre;       /* statement list (bk_store.h) before the order statements:
                            Forwards and copies applied */
    pls_buf_t extra;     /* statement list after them */
    int64_t day_seq_day; /* counters: highest daily number used */
    uint32_t day_seq;
    int touched;           /* something outside rows/news/outs waits to be written */
    uint64_t rows_written; /* statistics */
} bk_batch_t;

void bk_batch_init(bk_batch_t *b, uint32_t gen);
void bk_batch_cleanup(bk_batch_t *b);
int bk_batch_empty(const bk_batch_t *b);

/* The event row of o in this batch (created on first use). */
bk_row_t *bk_batch_row(bk_batch_t *b, bk_order_t *o);

/* Copy the order's changing fields into its row (after each entry). */
void bk_row_snap(bk_row_t *r, const bk_order_t *o, const char *dept, const char *owner);

/* Register a new order; returns its index in news. */
int bk_batch_new_order(bk_batch_t *b, bk_order_t *o, const char *key);

/* Queue a message for after the commit (copies ident and takes msg). */
void bk_batch_out(bk_batch_t *b, int kind, const void *ident, size_t ident_len, uint8_t *msg,
                  size_t len, uint64_t corr, int new_idx);

/* Record literals (sql/007): a batch's rows go to pls_batch() as arrays of the
 * tables' own row types, {"(f1,f2,...)",...}, which PostgreSQL reads field by
 * field with each column type's input function (JSON documents cost it about
 * four times as much: a lexer call per character, a hash table per object).
 * Each writer appends one field of an array element and a comma; fields go in
 * the table's column order (sql/001). bk_rec_begin/bk_rec_end open and close
 * an element of an array (an empty buffer starts one). bk_rec_str writes NULL for
 * NULL, bk_rec_opt also for "" (as an absent JSON member did); bk_rec_ts NULL
 * for 0. */
void bk_rec_begin(pls_buf_t *b);
void bk_rec_end(pls_buf_t *b);
void bk_rec_null(pls_buf_t *b);
void bk_rec_strn(pls_buf_t *b, const char *v, size_t n);
void bk_rec_str(pls_buf_t *b, const char *v);
void bk_rec_opt(pls_buf_t *b, const char *v);
void bk_rec_int(pls_buf_t *b, int64_t v);
void bk_rec_bool(pls_buf_t *b, int v);
void bk_rec_ts(pls_buf_t *b, int64_t ms);

/* An array of record literals (bk_rec_begin ...; empty: no rows) closed; its
 * text, for a parameter of bk_sql_add. */
const char *bk_sql_array(pls_buf_t *arr);

/* Columns of `orders` before the changing ones: id .. created_at. */
#define BK_ORDER_CONTENT_COLS 19

/* The whole transaction as a statement list for bk_store_batch (which adds
 * BEGIN and COMMIT): the statements of `pre`, pls_batch() with the batch's
 * rows, the day counter, the statements of `extra`. */
void bk_batch_sql(bk_batch_t *b, pls_buf_t *out);

#endif
