/*
 * bk_store — the broker's PostgreSQL adapter, the only module that touches
 * libpq (DESIGN §8).
 *
 * Two non-blocking connections driven by the libuv loop:
 *   - the write connection carries batches: each one transaction, the
 *     statements built by bk_batch (below) between the store's BEGIN and
 *     COMMIT, sent at once in libpq's pipeline mode with the rows as
 *     parameters, so PostgreSQL never lexes them as SQL text; each statement
 *     text is prepared once per session. Up to BK_STORE_FLIGHT_MAX batches
 *     are in flight, one behind the other in the same pipeline: PostgreSQL
 *     starts the next as soon as the previous has committed, without waiting
 *     for the broker to read that answer. A batch behind one that failed does
 *     not commit (pls_batch_after, sql/011). Rows returned by a batch's
 *     statements are handed to the caller; the done callback says whether
 *     its COMMIT was confirmed, batch by batch in the order sent. Any error
 *     in a batch fails it and the ones behind it, and the connection is
 *     dropped (which also forgets the prepared statements): the broker then
 *     reloads from the store.
 *   - the read connection serves queries (show, list, status, fetch) in FIFO
 *     order with parameters, so user input never enters SQL text there.
 *
 * Connecting is asynchronous (PQconnectStart/PQconnectPoll). Once the write
 * connection is up, the store runs the migrations and the caller's boot
 * function (loading catalog and open orders) with blocking calls — the
 * broker has nothing to serve until its state is loaded — then reports
 * ready. A lost write connection (SQLSTATE NULL, class 08, 57P0x, or a
 * failed read) is reported once through on_lost (the caller reloads); a lost
 * read connection only fails the queries it had (the next ones wait for it).
 * The store reconnects with backoff by itself.
 */
#ifndef BK_STORE_H
#define BK_STORE_H

#include "pls_util.h"

#include <uv.h>

typedef struct bk_store bk_store_t;
typedef struct bk_rows bk_rows_t;

/* Rows of one result. */
int bk_rows_count(const bk_rows_t *r);
int bk_rows_fields(const bk_rows_t *r);
/* NULL for SQL NULL. */
const char *bk_rows_get(const bk_rows_t *r, int row, int col);

typedef struct bk_store_cbs {
    /* Connected and migrated: load state with bk_store_boot_query. Return 0,
     * or a negative code to drop the connection and retry later. */
    int (*on_boot)(bk_store_t *s, void *arg);
    /* Boot done: the broker can serve. */
    void (*on_ready)(bk_store_t *s, void *arg);
    /* A connection was lost or a batch failed: the broker must drop its
     * in-memory state and answer 503 until on_ready comes again. */
    void (*on_lost)(bk_store_t *s, void *arg, const char *why);
    /* A configuration error retrying cannot fix (the database belongs to
     * another node): the broker exits. */
    void (*on_fatal)(bk_store_t *s, void *arg, const char *why);
} bk_store_cbs_t;

/* Rows returned inside a batch (e.g. INSERT ... RETURNING). */
typedef void (*bk_batch_rows_cb)(void *arg, const bk_rows_t *rows);
/* ok = 1 when the COMMIT was confirmed; 0 when the batch failed, or
 * BK_BATCH_REFUSED when it failed for its own rows (a data exception, an
 * integrity constraint, an error a trigger raised: sent again, they fail
 * again) and not behind another batch that failed. */
#define BK_BATCH_REFUSED (-1)
typedef void (*bk_batch_done_cb)(void *arg, int ok);
/* ok = 0 with err set when the query failed. */
typedef void (*bk_query_cb)(void *arg, int ok, const bk_rows_t *rows, const char *err);

bk_store_t *bk_store_new(uv_loop_t *loop, const char *conninfo, const char *node,
                         const bk_store_cbs_t *cbs, void *arg);
void bk_store_destroy(bk_store_t **self_p);
/* Begin connecting. */
void bk_store_start(bk_store_t *s);
/* Stop reconnecting and close the connections (a batch in flight is waited for
 * by the caller before this). */
void bk_store_stop(bk_store_t *s);

/* 1 when booted and both connections are up. */
int bk_store_ready(const bk_store_t *s);
/* Batches in flight at most: the one PostgreSQL runs and the next, queued. */
#define BK_STORE_FLIGHT_MAX 2
/* 1 while the store takes no further batch (BK_STORE_FLIGHT_MAX in flight,
 * or one failed and the connection is about to be dropped). */
int bk_store_busy(const bk_store_t *s);
/* 1 when bk_store_batch would take a batch now (booted, the write connection
 * up and not busy). */
int bk_store_can_send(const bk_store_t *s);

/* A statement list: the statements of one transaction, each with its own
 * parameters, appended one whole statement at a time. sql is one statement
 * (parameters $1..$n, no ';'); vals are its n parameters' text values, never
 * NULL (a statement list has no NULL: write NULLIF($k, '') in the SQL). A
 * value cannot contain a NUL byte (PostgreSQL text cannot either). */
#define BK_SQL_MAX_PARAMS 8
void bk_sql_add(pls_buf_t *q, const char *sql, int n, const char *const *vals);
/* The same with parameters that may be binary: len < 0 for text (v
 * NUL-terminated, as above), else len bytes in PostgreSQL's binary format of
 * the parameter's type (bk_recs_param). */
typedef struct bk_param {
    const char *v;
    int len;
} bk_param_t;
void bk_sql_addp(pls_buf_t *q, const char *sql, int n, const bk_param_t *p);
/* One statement of a list: *p at its start, moved past it. 1, 0 at the end,
 * -1 when the list is malformed (a bug). */
typedef struct bk_stmt {
    const char *sql;
    int n;
    const char *vals[BK_SQL_MAX_PARAMS];
    int lens[BK_SQL_MAX_PARAMS];
    int formats[BK_SQL_MAX_PARAMS]; /* 0 text, 1 binary */
} bk_stmt_t;
int bk_sql_next(const char **p, const char *end, bk_stmt_t *st);
/* A statement without parameters. */
void bk_sql_text(pls_buf_t *q, const char *sql);

/* Send a batch: a statement list (above) between BEGIN and COMMIT, with one
 * sync, into the pipeline (behind the batches in flight). The store is done
 * with the buffer when this returns; -EAGAIN when not ready or busy. */
int bk_store_batch(bk_store_t *s, const pls_buf_t *stmts, bk_batch_rows_cb on_rows,
                   bk_batch_done_cb on_done, void *arg) PLS_WUR;

/* A read query with text parameters (copied). */
int bk_store_query(bk_store_t *s, const char *sql, int nparams, const char *const *params,
                   bk_query_cb cb, void *arg) PLS_WUR;

/* Only inside on_boot: run a query, blocking, calling row_cb per row with the
 * values (NULL for SQL NULL). Returns 0 or a negative code (err filled). */
int bk_store_boot_query(bk_store_t *s, const char *sql, int (*row_cb)(void *arg, char **v, int n),
                        void *arg, char *err, size_t errsz) PLS_WUR;
/* Only inside on_boot: run a statement without rows. */
int bk_store_boot_exec(bk_store_t *s, const char *sql, char *err, size_t errsz) PLS_WUR;

/* Only inside on_boot: run a statement list (as bk_store_batch would) and
 * its deferred triggers, then roll it back: does PostgreSQL take these rows?
 * 0 yes; 1 no, it refuses them for what they are (BK_BATCH_REFUSED's errors;
 * err says why); -EPIPE when the connection failed (on_boot should fail, to
 * retry on a new one); another negative code when they failed otherwise
 * (err set). */
int bk_store_boot_try(bk_store_t *s, const pls_buf_t *stmts, char *err, size_t errsz) PLS_WUR;

/* Why the first of the failed batches failed ("batch failed: ERROR: ..."),
 * while the store reports them. */
const char *bk_store_failure(const bk_store_t *s);

/* Statistics for status and benchmarks. */
typedef struct bk_store_stats {
    uint64_t commits;
    uint64_t batch_failures;
    uint64_t reconnects;
} bk_store_stats_t;
void bk_store_get_stats(const bk_store_t *s, bk_store_stats_t *out);

/* Embedded migrations (generated from sql/ at build time). */
typedef struct bk_migration {
    int version;
    const char *name;
    const char *sql;
} bk_migration_t;
extern const bk_migration_t bk_migrations[];
extern const int bk_n_migrations;

#endif
