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
    int fwd_own; /* its orders row goes to pls_forwards_own() with this snapshot:
                    no update of its own (bk_fed.c) */
} bk_row_t;

/* An order received in this batch. */
typedef struct bk_new {
    pls_uuid_t id;
    char *key;         /* owned */
    pls_buf_t insert;  /* id .. created_at as binary record fields (bk_rec_*); the state
                          columns are appended at flush */
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
    int64_t sent_us;       /* when it went to PostgreSQL (pls_mono_us) */
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

/* A batch's rows go to pls_batch() and its kin as arrays of the tables' own
 * row types (sql/007), sent as binary parameters: PostgreSQL's binary format
 * of an array of records (array_recv, record_recv), so PostgreSQL neither
 * scans the array's text for its elements nor un-escapes each field twice
 * (text input was a fifth of the write backend's time, BENCHMARKS §6 item 19).
 *
 * bk_recs_t holds one table's rows: bk_rec_begin, the row's fields in the
 * table's column order (sql/001), bk_rec_end. Every field carries its column
 * type, which PostgreSQL checks against the table's; bk_rowtypes_check (at
 * boot) checks the tables against what this file writes. Field writers take
 * a pls_buf_t: the rows' buf, or a fragment of fields appended to it later
 * (an order's content, built when it is taken in). */
typedef struct bk_recs {
    pls_buf_t buf; /* the array's header, then its elements */
    size_t elem;   /* offset of the element being written */
    uint32_t n;    /* elements */
} bk_recs_t;

void bk_recs_init(bk_recs_t *r);
void bk_recs_cleanup(bk_recs_t *r);
void bk_recs_reset(bk_recs_t *r);
void bk_rec_begin(bk_recs_t *r);
void bk_rec_end(bk_recs_t *r);

/* Column types (PostgreSQL's built-in type OIDs, fixed since 1996-2014). */
enum {
    BK_T_BOOL = 16,
    BK_T_INT8 = 20,
    BK_T_INT2 = 21,
    BK_T_INT4 = 23,
    BK_T_TEXT = 25,
    BK_T_JSON = 114,
    BK_T_TSTZ = 1184,
    BK_T_UUID = 2950,
    BK_T_JSONB = 3802,
};

/* Fields. bk_rec_text writes NULL for NULL, bk_rec_opt also for "";
 * bk_rec_json writes a json or jsonb column (type) from its text;
 * bk_rec_uuid_str NULL for NULL, "" or text that is no UUID; bk_rec_int a
 * smallint, integer or bigint (type), clamped to its range; bk_rec_ts NULL
 * for 0, bk_rec_at never (0 is 1970). */
void bk_rec_null(pls_buf_t *b, uint32_t type);
void bk_rec_textn(pls_buf_t *b, const char *v, size_t n);
void bk_rec_text(pls_buf_t *b, const char *v);
void bk_rec_opt(pls_buf_t *b, const char *v);
void bk_rec_json(pls_buf_t *b, uint32_t type, const char *v, size_t n);
void bk_rec_uuid(pls_buf_t *b, const pls_uuid_t *u);
void bk_rec_uuid_str(pls_buf_t *b, const char *s);
void bk_rec_int(pls_buf_t *b, uint32_t type, int64_t v);
void bk_rec_bool(pls_buf_t *b, int v);
void bk_rec_ts(pls_buf_t *b, int64_t ms);
void bk_rec_at(pls_buf_t *b, int64_t ms);

/* The rows as a binary parameter of type elem_type[] (bk_rowtypes_t): the
 * array's header is filled in; valid until r changes. */
bk_param_t bk_recs_param(bk_recs_t *r, uint32_t elem_type);

/* The row types' OIDs in this database (they differ from one database to
 * another), read at boot with bk_rowtypes_sql: one row per table, its name,
 * its row type's OID, its columns' types ("25,23,...") and their names and
 * types as text ("id uuid;..."). bk_rowtypes_row takes a row; it fails, saying
 * which table and column differ, when a table's columns are not those this
 * broker writes (a database of another version). */
typedef struct bk_rowtypes {
    uint32_t orders, citizens, events, link_outbox;
} bk_rowtypes_t;
extern const char bk_rowtypes_sql[];
int bk_rowtypes_row(bk_rowtypes_t *t, char **v, int n, char *err, size_t errsz);
/* 0 when every table was seen. */
int bk_rowtypes_check(const bk_rowtypes_t *t, char *err, size_t errsz);

/* The changing columns of an `orders` row (state .. held_notice) from a row's
 * snapshot, as pls_batch() writes them: finished_at is now_ms for a finished
 * state. */
void bk_rec_order_state(pls_buf_t *s, const bk_row_t *r, int64_t now_ms);

/* Columns of `orders` before the changing ones: id .. created_at; all of them. */
#define BK_ORDER_CONTENT_COLS 19
#define BK_ORDER_COLS 41
/* NULL for the columns from .. to - 1 of an `orders` row (each of its type). */
void bk_rec_orders_nulls(pls_buf_t *b, int from, int to);

/* The whole transaction as a statement list for bk_store_batch (which adds
 * BEGIN and COMMIT): the statements of `pre`, pls_batch() with the batch's
 * rows, the day counter, the statements of `extra`. */
void bk_batch_sql(bk_batch_t *b, const bk_rowtypes_t *types, pls_buf_t *out);

/* The statement list of one new order of the batch (news[i]) alone: its
 * orders, citizens and event rows, through pls_batch() as bk_batch_sql
 * writes them. After a batch PostgreSQL refused, each new order is tried
 * this way to find the one it refuses (bk_store_boot_try). */
void bk_batch_sql_new(const bk_batch_t *b, uint32_t i, const bk_rowtypes_t *types, pls_buf_t *s);

#endif
