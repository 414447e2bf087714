/*
 * bk_store — see bk_store.h.
 *
 * Connection states:
 *
 *   DOWN --(timer)--> CONNECTING --(PQconnectPoll ok)--> IDLE <--> BUSY
 *    ^                    |                               |         |
 *    +----(failure: close socket, backoff timer)----------+---------+
 *
 * The write connection additionally boots (migrations + on_boot) on its first
 * IDLE after DOWN; the store is ready when both are IDLE/BUSY and booted.
 */
#include "bk_store.h"

#include "pls_log.h"
#include "pls_time.h"

#include <errno.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

enum conn_state { C_DOWN, C_CONNECTING, C_IDLE, C_BUSY };
/* A batch's statements have fixed texts (their values are parameters): each is
 * prepared once per session, then only bound and executed. Texts beyond this
 * many (there are about 15) go unprepared. */
enum { PREPARED_MAX = 48 };
enum { CONN_WRITE, CONN_READ };

struct bk_rows {
    PGresult *res; /* borrowed */
};

typedef struct read_req {
    char *sql;
    int nparams;
    char **params;
    bk_query_cb cb;
    void *arg;
    struct read_req *next;
} read_req_t;

typedef struct conn {
    bk_store_t *store; /* borrowed back pointer */
    int which;
    int state;
    PGconn *pg;      /* owned */
    uv_poll_t *poll; /* owned; closed asynchronously */
    int poll_events;
    uv_timer_t timer; /* reconnect backoff */
    int64_t backoff_ms;
    char error[256];      /* first error of the current request */
    int error_data;       /* ... and PostgreSQL refused it for what it wrote (is_data_error) */
    char send_error[256]; /* why the last request could not be sent */
    /* write connection: the batches in flight, oldest first, each its own
     * transaction and sync in one pipeline (pipeline mode while n_flight) */
    struct flight {
        bk_batch_rows_cb on_rows;
        bk_batch_done_cb on_done;
        void *arg;
    } flight[BK_STORE_FLIGHT_MAX];
    int n_flight;
    int pipeline;      /* in pipeline mode */
    int pipeline_null; /* the last PQgetResult of the pipeline was NULL */
    int failing;       /* a batch failed: the ones behind it fail, then the connection */
    char failed[288];  /* why the first of them failed */
    uint64_t tag;      /* the last batch sent in this session (pls.batch, sql/011) */
    /* write connection: statements of batches prepared in this session (their
     * texts, owned; statement i is named "pls_<i>") */
    char *prepared[PREPARED_MAX];
    int n_prepared;
    /* read connection: the query in flight and the waiting ones */
    read_req_t *cur;
    read_req_t *head, *tail;
} conn_t;

struct bk_store {
    uv_loop_t *loop;
    char *conninfo; /* owned */
    char *options;  /* owned: the conninfo's own "options" and ours */
    char *node;     /* owned */
    bk_store_cbs_t cbs;
    void *arg;
    conn_t conns[2];
    int booted;
    int stopping;
    bk_store_stats_t stats;
};

int bk_rows_count(const bk_rows_t *r)
{
    return PQntuples(r->res);
}

int bk_rows_fields(const bk_rows_t *r)
{
    return PQnfields(r->res);
}

const char *bk_rows_get(const bk_rows_t *r, int row, int col)
{
    if (PQgetisnull(r->res, row, col))
        return NULL;
    return PQgetvalue(r->res, row, col);
}

static void conn_connect(conn_t *c);
static void conn_fail(conn_t *c, const char *why);
static void on_reconnect_timer(uv_timer_t *t);
static void on_poll(uv_poll_t *h, int status, int events);

static void on_poll_closed(uv_handle_t *h)
{
    free(h);
}

static void poll_stop(conn_t *c)
{
    if (c->poll) {
        uv_close((uv_handle_t *)c->poll, on_poll_closed);
        c->poll = NULL;
        c->poll_events = 0;
    }
}

static void poll_want(conn_t *c, int events)
{
    if (!c->poll) {
        c->poll = pls_xmalloc(sizeof(*c->poll));
        /* the socket changes after every reconnect: read it each time */
        if (uv_poll_init(c->store->loop, c->poll, PQsocket(c->pg)) != 0) {
            free(c->poll);
            c->poll = NULL;
            conn_fail(c, "could not watch the store socket");
            return;
        }
        c->poll->data = c;
        c->poll_events = 0;
    }
    if (events != c->poll_events) {
        uv_poll_start(c->poll, events, on_poll);
        c->poll_events = events;
    }
}

/* Serving needs the write connection, booted; queries wait in the read
 * queue while the read connection (re)connects. */
static int store_is_ready(const bk_store_t *s)
{
    return s->booted && s->conns[CONN_WRITE].state >= C_IDLE;
}

static void read_req_free(read_req_t *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->nparams; i++)
        free(r->params[i]);
    free(r->params);
    free(r->sql);
    free(r);
}

/* Prepared statements live as long as the session. */
static void forget_prepared(conn_t *c)
{
    for (int i = 0; i < c->n_prepared; i++)
        free(c->prepared[i]);
    c->n_prepared = 0;
}

/* The oldest batch in flight, taken off the list. */
static struct flight pop_flight(conn_t *c)
{
    struct flight f = c->flight[0];
    memmove(&c->flight[0], &c->flight[1], (size_t)(--c->n_flight) * sizeof(f));
    return f;
}

/* Every batch in flight has failed (oldest first); done is called once per batch. */
static void fail_flights(conn_t *c)
{
    while (c->n_flight) {
        struct flight f = pop_flight(c);
        c->store->stats.batch_failures++;
        if (f.on_done)
            f.on_done(f.arg, 0);
    }
}

/* Lost: tell the owner of the request in flight, close, schedule a retry. */
static void conn_fail(conn_t *c, const char *why_in)
{
    bk_store_t *s = c->store;
    /* why_in is often PQerrorMessage(c->pg), which PQfinish below frees */
    char why[256];
    snprintf(why, sizeof(why), "%s", why_in ? why_in : "unknown error");
    why[strcspn(why, "\n")] = '\0';
    int was_ready = store_is_ready(s);
    int was_busy = c->state == C_BUSY;
    poll_stop(c);
    if (c->pg) {
        PQfinish(c->pg);
        c->pg = NULL;
    }
    forget_prepared(c);
    c->state = C_DOWN;
    c->pipeline = 0;
    c->failing = 0;
    c->tag = 0;
    if (c->which == CONN_WRITE)
        s->booted = 0;
    if (was_busy && c->which == CONN_WRITE)
        fail_flights(c);
    if (c->which == CONN_READ) {
        /* fail the query in flight and everything waiting */
        read_req_t *r = c->cur;
        c->cur = NULL;
        if (r) {
            r->cb(r->arg, 0, NULL, why);
            read_req_free(r);
        }
        while ((r = c->head)) {
            c->head = r->next;
            r->cb(r->arg, 0, NULL, why);
            read_req_free(r);
        }
        c->tail = NULL;
    }
    if (c->which == CONN_WRITE && (was_ready || was_busy)) {
        /* what the batch in flight did is unknown: the owner reloads */
        pls_warn("store connection lost: %s", why);
        s->cbs.on_lost(s, s->arg, why);
    } else if (c->which == CONN_READ && was_ready) {
        /* nothing in memory depends on it: its queries were answered
         * 503 above, the next ones wait for it to reconnect */
        pls_warn("store read connection lost: %s (queries wait for it to reconnect)", why);
    } else {
        pls_debug("store connection failed: %s", why);
    }
    if (!s->stopping) {
        c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : 100;
        if (c->backoff_ms > 2000)
            c->backoff_ms = 2000;
        uv_timer_start(&c->timer, on_reconnect_timer, (uint64_t)c->backoff_ms, 0);
    }
}

static void on_reconnect_timer(uv_timer_t *t)
{
    conn_connect(t->data);
}

/* Errors for what a statement wrote, not for the connection or the server: a
 * data exception (22), an integrity constraint (23) or an error raised in
 * PL/pgSQL (P0), such as a DBA's trigger. Sent again, the same rows fail
 * again. */
static int is_data_error(const char *st)
{
    return st &&
           (strncmp(st, "22", 2) == 0 || strncmp(st, "23", 2) == 0 || strncmp(st, "P0", 2) == 0);
}

/* Errors that mean the connection itself is gone (PQstatus lags behind). */
static int is_connection_error(const PGresult *res)
{
    const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (!st)
        return 1;
    return strncmp(st, "08", 2) == 0 || strncmp(st, "57P0", 4) == 0;
}

static int run_migrations(bk_store_t *s, PGconn *pg, char *err, size_t errsz);
/* A failed statement's message for the log and the desks: its first line
 * (the details may quote a whole row), long numbers masked (a trigger's
 * message may quote a phone or ID number), cut whole UTF-8 characters. */
static void error_text(const PGresult *res, char *out, size_t outsz)
{
    const char *msg = res ? PQresultErrorMessage(res) : NULL;
    char line[512];
    snprintf(line, sizeof(line), "%s", msg && *msg ? msg : "unknown error");
    line[strcspn(line, "\n")] = '\0';
    pls_mask_numbers(line);
    pls_utf8_copy(out, outsz, line);
}

/* A statement of bk_store_boot_try: 0; 1 when PostgreSQL refused what it
 * wrote; -EPIPE when the connection is gone; -EIO for any other failure (err
 * set but for 0). */
static int try_result(PGconn *pg, const PGresult *res, char *err, size_t errsz)
{
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return 0;
    error_text(res, err, errsz);
    if (PQstatus(pg) == CONNECTION_BAD || !res || is_connection_error(res))
        return -EPIPE;
    return is_data_error(PQresultErrorField(res, PG_DIAG_SQLSTATE)) ? 1 : -EIO;
}

static int exec_ok(PGconn *pg, const char *sql, char *err, size_t errsz);

static int boot(conn_t *c)
{
    bk_store_t *s = c->store;
    char err[512];
    PQsetnonblocking(c->pg, 0);
    const char *scs = PQparameterStatus(c->pg, "standard_conforming_strings");
    if (!scs || strcmp(scs, "on") != 0) {
        pls_error("store has standard_conforming_strings off: refusing to write");
        return -EINVAL;
    }
    int mrc = run_migrations(s, c->pg, err, sizeof(err));
    if (mrc == -EPERM) {
        s->cbs.on_fatal(s, s->arg, err);
        return mrc;
    }
    if (mrc != 0) {
        pls_error("could not apply migrations: %s", err);
        return -EIO;
    }
    int64_t t0 = pls_mono_ms();
    int rc = s->cbs.on_boot(s, s->arg);
    if (rc != 0)
        return rc;
    pls_info("state loaded in %lld ms", (long long)(pls_mono_ms() - t0));
    PQsetnonblocking(c->pg, 1);
    s->booted = 1;
    return 0;
}

static void on_notice(void *arg, const char *message)
{
    PLS_UNUSED(arg);
    pls_debug("store notice: %.200s", message);
}

static void became_idle(conn_t *c)
{
    bk_store_t *s = c->store;
    int was_ready = store_is_ready(s);
    c->state = C_IDLE;
    if (c->which == CONN_WRITE && !s->booted) {
        /* the backoff is reset only after a boot that worked: a failing
         * migration is retried every 2 s, not every 100 ms */
        if (boot(c) != 0) {
            conn_fail(c, "boot failed");
            return;
        }
    }
    c->backoff_ms = 0;
    poll_want(c, UV_READABLE); /* notice a server closing on us */
    if (!was_ready && store_is_ready(s)) {
        s->stats.reconnects++;
        s->cbs.on_ready(s, s->arg);
    }
    if (c->which == CONN_READ && c->head && c->state == C_IDLE) {
        /* resume queries queued while connecting */
        read_req_t *r = c->head;
        c->head = r->next;
        if (!c->head)
            c->tail = NULL;
        c->cur = r;
        c->state = C_BUSY;
        if (!PQsendQueryParams(c->pg, r->sql, r->nparams, NULL, (const char *const *)r->params,
                               NULL, NULL, 0)) {
            conn_fail(c, PQerrorMessage(c->pg));
            return;
        }
        poll_want(c, UV_READABLE | UV_WRITABLE);
    }
}

static void connect_step(conn_t *c)
{
    switch (PQconnectPoll(c->pg)) {
    case PGRES_POLLING_READING:
        poll_want(c, UV_READABLE);
        break;
    case PGRES_POLLING_WRITING:
        poll_want(c, UV_WRITABLE);
        break;
    case PGRES_POLLING_OK:
        PQsetNoticeProcessor(c->pg, on_notice, NULL);
        if (PQsetnonblocking(c->pg, 1) != 0) {
            conn_fail(c, "could not set non-blocking mode");
            return;
        }
        became_idle(c);
        break;
    default: {
        char why[256];
        snprintf(why, sizeof(why), "%s", PQerrorMessage(c->pg));
        why[strcspn(why, "\n")] = '\0';
        conn_fail(c, why);
    }
    }
}

static void conn_connect(conn_t *c)
{
    bk_store_t *s = c->store;
    if (s->stopping || c->state != C_DOWN)
        return;
    /* keepalives and tcp_user_timeout so a dead server is noticed (DESIGN §8);
     * application_name shows in pg_stat_activity */
    const char *keys[] = {"dbname",
                          "application_name",
                          "keepalives",
                          "keepalives_idle",
                          "keepalives_interval",
                          "keepalives_count",
                          "tcp_user_timeout",
                          "connect_timeout",
                          "options",
                          NULL};
    char appname[160];
    snprintf(appname, sizeof(appname), "pls-broker %s %s", s->node,
             c->which == CONN_WRITE ? "write" : "read");
    const char *vals[] = {s->conninfo, appname, "1", "5", "2", "3", "10000", "5", s->options, NULL};
    c->pg = PQconnectStartParams(keys, vals, 1);
    if (!c->pg || PQstatus(c->pg) == CONNECTION_BAD) {
        conn_fail(c, c->pg ? PQerrorMessage(c->pg) : "out of memory");
        return;
    }
    c->state = C_CONNECTING;
    connect_step(c);
}

static void handle_result(conn_t *c, PGresult *res)
{
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_TUPLES_OK) {
        bk_rows_t rows = {res};
        if (c->which == CONN_WRITE) {
            /* rows without columns: the store's own pls_batch_after */
            if (c->n_flight && c->flight[0].on_rows && !c->error[0] && PQnfields(res) > 0)
                c->flight[0].on_rows(c->flight[0].arg, &rows);
        } else if (c->cur && c->cur->cb && !c->error[0]) {
            c->cur->cb(c->cur->arg, 1, &rows, NULL);
            c->cur->cb = NULL; /* answered */
        }
    } else if (st != PGRES_COMMAND_OK && st != PGRES_EMPTY_QUERY) {
        if (!c->error[0]) {
            error_text(res, c->error, sizeof(c->error));
            c->error_data = is_data_error(PQresultErrorField(res, PG_DIAG_SQLSTATE));
            if (is_connection_error(res))
                strncat(c->error, " (connection)", sizeof(c->error) - strlen(c->error) - 1);
        }
    }
}

/* The oldest batch in flight has answered in full (its sync). A failed
 * batch's transaction is aborted, and so is every one behind it
 * (pls_batch_after, sql/011): they are reported failed as their syncs come,
 * then the connection is dropped and the broker reloads what was committed. */
static void batch_done(conn_t *c)
{
    bk_store_t *s = c->store;
    struct flight f = pop_flight(c);
    int ok = !c->error[0];
    if (!ok) {
        /* the first batch to fail, for its own rows: they would fail again */
        if (!c->failing && c->error_data)
            ok = BK_BATCH_REFUSED;
        pls_error("batch failed: %s", c->error);
        s->stats.batch_failures++;
        if (!c->failing)
            snprintf(c->failed, sizeof(c->failed), "batch failed: %s", c->error);
        c->failing = 1;
        c->error[0] = '\0';
    } else {
        s->stats.commits++;
    }
    if (f.on_done)
        f.on_done(f.arg, ok);
    if (c->state != C_BUSY || c->n_flight)
        return; /* failed meanwhile (not by today's callers), or more to come */
    c->state = C_IDLE;
    c->pipeline = 0;
    if (!PQexitPipelineMode(c->pg)) {
        conn_fail(c, PQerrorMessage(c->pg)); /* conn_fail copies it */
        return;
    }
    if (c->failing) {
        conn_fail(c, c->failed); /* conn_fail copies it */
        return;
    }
    poll_want(c, UV_READABLE);
}

/* The read connection's query has answered in full: the next one. */
static void request_done(conn_t *c)
{
    c->state = C_IDLE;
    poll_want(c, UV_READABLE);
    read_req_t *r = c->cur;
    c->cur = NULL;
    if (r && r->cb) {
        if (c->error[0])
            r->cb(r->arg, 0, NULL, c->error);
        else
            r->cb(r->arg, 1, NULL, NULL); /* a statement without rows */
    }
    read_req_free(r);
    if (c->state == C_IDLE && c->head) {
        read_req_t *n = c->head;
        c->head = n->next;
        if (!c->head)
            c->tail = NULL;
        c->cur = n;
        c->state = C_BUSY;
        c->error[0] = '\0';
        if (!PQsendQueryParams(c->pg, n->sql, n->nparams, NULL, (const char *const *)n->params,
                               NULL, NULL, 0)) {
            conn_fail(c, PQerrorMessage(c->pg));
            return;
        }
        poll_want(c, UV_READABLE | UV_WRITABLE);
    }
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    conn_t *c = h->data;
    if (status < 0) {
        conn_fail(c, uv_strerror(status));
        return;
    }
    if (c->state == C_CONNECTING) {
        connect_step(c);
        return;
    }
    if (events & UV_WRITABLE) {
        int f = PQflush(c->pg);
        if (f < 0) {
            conn_fail(c, PQerrorMessage(c->pg));
            return;
        }
        if (f == 0)
            poll_want(c, UV_READABLE);
    }
    if (!(events & UV_READABLE))
        return;
    if (!PQconsumeInput(c->pg)) {
        char why[256];
        snprintf(why, sizeof(why), "%s", PQerrorMessage(c->pg));
        why[strcspn(why, "\n")] = '\0';
        conn_fail(c, why);
        return;
    }
    if (c->state != C_BUSY) {
        /* idle: notices, or the server going away */
        PGnotify *n;
        while ((n = PQnotifies(c->pg)))
            PQfreemem(n);
        if (PQstatus(c->pg) == CONNECTION_BAD)
            conn_fail(c, "server closed the connection");
        return;
    }
    while (!PQisBusy(c->pg)) {
        PGresult *res = PQgetResult(c->pg);
        if (!res) {
            /* in a pipeline, the end of one statement's results; each
             * statement has a result, so a second NULL in a row means libpq
             * gave up on the connection (it reports a lost one that way) */
            if (c->pipeline && !c->pipeline_null++ && PQstatus(c->pg) != CONNECTION_BAD)
                continue;
            if (c->pipeline) {
                conn_fail(c, c->error[0]  ? c->error
                             : c->failing ? c->failed
                                          : "store connection lost during a batch");
                return;
            }
            request_done(c);
            return;
        }
        c->pipeline_null = 0;
        if (PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
            /* every statement of the oldest batch has answered */
            PQclear(res);
            batch_done(c);
            if (c->state != C_BUSY)
                return;
            continue;
        }
        handle_result(c, res);
        PQclear(res);
    }
}

static void on_send_failed(uv_timer_t *t)
{
    conn_t *c = t->data;
    conn_fail(c, c->send_error);
}

/* A request that could not be sent fails the connection on the next loop
 * turn, never inside bk_store_batch or bk_store_query: their callbacks would
 * otherwise run before the caller has recorded what it sent (bk_core's batch
 * in flight). */
static void send_request(conn_t *c, int ok)
{
    int f = ok ? PQflush(c->pg) : -1;
    if (f < 0) {
        snprintf(c->send_error, sizeof(c->send_error), "%s", PQerrorMessage(c->pg));
        c->send_error[strcspn(c->send_error, "\n")] = '\0';
        /* no poll until then: nothing may read a result of a request never
         * sent, and libpq may have closed the socket already */
        poll_stop(c);
        uv_timer_start(&c->timer, on_send_failed, 0, 0);
        return;
    }
    poll_want(c, f ? (UV_READABLE | UV_WRITABLE) : UV_READABLE);
}

/* Server settings of every session, after those the conninfo gives itself.
 * JIT off: the broker's statements are short, but a custom plan over an array
 * of ids or the status counts is estimated above jit_above_cost, and compiling
 * it cost 20-250 ms per call (BENCHMARKS §9). */
static char *session_options(const char *conninfo)
{
    static const char ours[] = "-c jit=off";
    const char *theirs = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (strcmp(o->keyword, "options") == 0 && o->val && o->val[0])
            theirs = o->val;
    /* passing options hides PGOPTIONS from libpq: keep it when the conninfo
     * has none */
    if (!theirs && getenv("PGOPTIONS") && getenv("PGOPTIONS")[0])
        theirs = getenv("PGOPTIONS");
    size_t n = (theirs ? strlen(theirs) + 1 : 0) + sizeof(ours);
    char *r = pls_xcalloc(1, n);
    snprintf(r, n, "%s%s%s", theirs ? theirs : "", theirs ? " " : "", ours);
    PQconninfoFree(opts);
    return r;
}

bk_store_t *bk_store_new(uv_loop_t *loop, const char *conninfo, const char *node,
                         const bk_store_cbs_t *cbs, void *arg)
{
    bk_store_t *s = pls_xcalloc(1, sizeof(*s));
    s->loop = loop;
    s->conninfo = pls_xstrdup(conninfo);
    s->options = session_options(conninfo);
    s->node = pls_xstrdup(node);
    s->cbs = *cbs;
    s->arg = arg;
    for (int i = 0; i < 2; i++) {
        conn_t *c = &s->conns[i];
        c->store = s;
        c->which = i;
        c->state = C_DOWN;
        uv_timer_init(loop, &c->timer);
        c->timer.data = c;
    }
    return s;
}

void bk_store_start(bk_store_t *s)
{
    conn_connect(&s->conns[CONN_WRITE]);
    conn_connect(&s->conns[CONN_READ]);
}

void bk_store_stop(bk_store_t *s)
{
    if (s->stopping)
        return;
    s->stopping = 1;
    s->booted = 0;
    read_req_t *unanswered = NULL, **tail = &unanswered;
    for (int i = 0; i < 2; i++) {
        conn_t *c = &s->conns[i];
        uv_timer_stop(&c->timer);
        uv_close((uv_handle_t *)&c->timer, NULL);
        poll_stop(c);
        if (c->pg) {
            PQfinish(c->pg);
            c->pg = NULL;
        }
        forget_prepared(c);
        c->state = C_DOWN;
        /* the query in flight, then those waiting */
        if (c->cur) {
            c->cur->next = c->head;
            c->head = c->cur;
            c->cur = NULL;
        }
        *tail = c->head;
        while (*tail)
            tail = &(*tail)->next;
        c->head = c->tail = NULL;
    }
    /* every query is answered, as when its connection is lost, so its owner
     * frees what it passed (a query it asks for now is refused: not ready) */
    read_req_t *r;
    while ((r = unanswered)) {
        unanswered = r->next;
        if (r->cb)
            r->cb(r->arg, 0, NULL, "store stopping");
        read_req_free(r);
    }
}

void bk_store_destroy(bk_store_t **self_p)
{
    bk_store_t *s = *self_p;
    if (!s)
        return;
    free(s->conninfo);
    free(s->options);
    free(s->node);
    free(s);
    *self_p = NULL;
}

int bk_store_ready(const bk_store_t *s)
{
    return store_is_ready(s);
}

int bk_store_busy(const bk_store_t *s)
{
    const conn_t *c = &s->conns[CONN_WRITE];
    return c->n_flight == BK_STORE_FLIGHT_MAX || c->failing;
}

/* The format, read by bk_sql_next: per statement one byte 'A' + n, the SQL
 * text ending in a NUL, then the n values, each one byte 't' and the text
 * ending in a NUL, or 'b', its length (4 bytes, host order) and its bytes. */
void bk_sql_addp(pls_buf_t *q, const char *sql, int n, const bk_param_t *p)
{
    if (n < 0 || n > BK_SQL_MAX_PARAMS) {
        /* a programming error: every batch would fail and reload */
        pls_error("a statement with %d parameters (at most %d): %.80s", n, BK_SQL_MAX_PARAMS, sql);
        abort();
    }
    pls_buf_addc(q, (char)('A' + n));
    pls_buf_add(q, sql, strlen(sql) + 1);
    for (int i = 0; i < n; i++) {
        if (p[i].len >= 0) {
            uint32_t len = (uint32_t)p[i].len;
            pls_buf_addc(q, 'b');
            pls_buf_add(q, &len, sizeof(len));
            pls_buf_add(q, p[i].v, len);
            continue;
        }
        const char *v = p[i].v;
        if (!v) {
            pls_error("parameter $%d of a statement is NULL (written as ''): %.80s", i + 1, sql);
            v = "";
        }
        pls_buf_addc(q, 't');
        pls_buf_add(q, v, strlen(v) + 1);
    }
}

void bk_sql_add(pls_buf_t *q, const char *sql, int n, const char *const *vals)
{
    bk_param_t p[BK_SQL_MAX_PARAMS] = {{0}};
    for (int i = 0; i < n && i < BK_SQL_MAX_PARAMS; i++)
        p[i] = (bk_param_t){vals[i], -1};
    bk_sql_addp(q, sql, n, p);
}

void bk_sql_text(pls_buf_t *q, const char *sql)
{
    bk_sql_add(q, sql, 0, NULL);
}

/* The next NUL-terminated piece of a statement list, or NULL past its end. */
static const char *sql_piece(const char **p, const char *end)
{
    const char *s = *p, *z = s < end ? memchr(s, '\0', (size_t)(end - s)) : NULL;
    if (!z)
        return NULL;
    *p = z + 1;
    return s;
}

int bk_sql_next(const char **p, const char *end, bk_stmt_t *st)
{
    if (*p >= end)
        return 0;
    st->n = *(*p)++ - 'A';
    if (st->n < 0 || st->n > BK_SQL_MAX_PARAMS || !(st->sql = sql_piece(p, end)))
        return -1;
    for (int i = 0; i < st->n; i++) {
        char kind = *p < end ? *(*p)++ : '\0';
        if (kind == 't') {
            st->formats[i] = 0;
            st->lens[i] = 0;
            if (!(st->vals[i] = sql_piece(p, end)))
                return -1;
        } else if (kind == 'b' && end - *p >= 4) {
            uint32_t len;
            memcpy(&len, *p, sizeof(len));
            *p += sizeof(len);
            if (len > (size_t)(end - *p) || len > INT32_MAX)
                return -1;
            st->formats[i] = 1;
            st->lens[i] = (int)len;
            st->vals[i] = *p;
            *p += len;
        } else {
            return -1;
        }
    }
    return 1;
}

/* One statement into the pipeline, prepared first if this session has not
 * seen its text. The text counts as prepared from the moment the Parse is
 * queued: that holds because any error in a batch (a Parse that failed, or
 * one skipped after an earlier error) drops the session and this list with
 * it (conn_fail). */
static int send_statement(conn_t *c, const bk_stmt_t *st)
{
    int i = 0;
    while (i < c->n_prepared && strcmp(c->prepared[i], st->sql) != 0)
        i++;
    if (i == PREPARED_MAX)
        return PQsendQueryParams(c->pg, st->sql, st->n, NULL, st->vals, st->lens, st->formats, 0);
    char name[16];
    snprintf(name, sizeof(name), "pls_%d", i);
    if (i == c->n_prepared) {
        if (!PQsendPrepare(c->pg, name, st->sql, st->n, NULL))
            return 0;
        c->prepared[c->n_prepared++] = pls_xstrdup(st->sql);
    }
    return PQsendQueryPrepared(c->pg, name, st->n, st->vals, st->lens, st->formats, 0);
}

/* Every statement of the list into the pipeline: 1, or 0 when libpq refused
 * one (its error message says why) or the list is malformed (a bug). */
static int send_statements(conn_t *c, const pls_buf_t *stmts)
{
    const char *p = stmts->data ? stmts->data : "", *end = p + stmts->len;
    bk_stmt_t st;
    int rc;
    while ((rc = bk_sql_next(&p, end, &st)) > 0)
        if (!send_statement(c, &st))
            return 0;
    if (rc < 0) {
        pls_error("malformed statement list at byte %td", p - stmts->data);
        return 0;
    }
    return 1;
}

int bk_store_can_send(const bk_store_t *s)
{
    const conn_t *c = &s->conns[CONN_WRITE];
    return store_is_ready(s) && (c->state == C_IDLE || c->state == C_BUSY) && !bk_store_busy(s);
}

int bk_store_batch(bk_store_t *s, const pls_buf_t *stmts, bk_batch_rows_cb on_rows,
                   bk_batch_done_cb on_done, void *arg)
{
    conn_t *c = &s->conns[CONN_WRITE];
    if (!bk_store_can_send(s))
        return -EAGAIN;
    if (!c->n_flight) {
        /* pipeline mode while batches are in flight: boot and reloads use
         * blocking calls */
        c->error[0] = '\0';
        c->pipeline_null = 0;
        c->pipeline = PQenterPipelineMode(c->pg);
    }
    c->state = C_BUSY;
    c->flight[c->n_flight++] = (struct flight){on_rows, on_done, arg};
    /* the batch commits only if the one still in flight before it did */
    char prev[24] = "", tag[24];
    if (c->n_flight > 1)
        snprintf(prev, sizeof(prev), "%llu", (unsigned long long)c->tag);
    snprintf(tag, sizeof(tag), "%llu", (unsigned long long)++c->tag);
    bk_stmt_t begin = {.sql = "BEGIN"}, commit = {.sql = "COMMIT"};
    bk_stmt_t after = {.sql = "SELECT FROM pls_batch_after($1, $2)", .n = 2, .vals = {prev, tag}};
    int ok = c->pipeline && send_statement(c, &begin) && send_statement(c, &after) &&
             send_statements(c, stmts) && send_statement(c, &commit) && PQpipelineSync(c->pg);
    send_request(c, ok);
    return 0;
}

int bk_store_query(bk_store_t *s, const char *sql, int nparams, const char *const *params,
                   bk_query_cb cb, void *arg)
{
    conn_t *c = &s->conns[CONN_READ];
    if (!store_is_ready(s))
        return -EAGAIN;
    read_req_t *r = pls_xcalloc(1, sizeof(*r));
    r->sql = pls_xstrdup(sql);
    r->nparams = nparams;
    r->params = pls_xcalloc((size_t)(nparams ? nparams : 1), sizeof(char *));
    for (int i = 0; i < nparams; i++)
        r->params[i] = params[i] ? pls_xstrdup(params[i]) : NULL;
    r->cb = cb;
    r->arg = arg;
    if (c->state == C_IDLE) {
        c->cur = r;
        c->state = C_BUSY;
        c->error[0] = '\0';
        send_request(c, PQsendQueryParams(c->pg, r->sql, nparams, NULL,
                                          (const char *const *)r->params, NULL, NULL, 0));
        return 0;
    }
    if (c->tail)
        c->tail->next = r;
    else
        c->head = r;
    c->tail = r;
    return 0;
}

/* The result of the query sent last, with the connection ready for the next
 * one (every result read up to the NULL). */
static PGresult *boot_result(PGconn *pg)
{
    PGresult *res = PQgetResult(pg), *more;
    while ((more = PQgetResult(pg)))
        PQclear(more);
    return res;
}

int bk_store_boot_query(bk_store_t *s, const char *sql, int (*row_cb)(void *arg, char **v, int n),
                        void *arg, char *err, size_t errsz)
{
    /* a cursor read in chunks: one result per 10,000 rows (single-row mode
     * makes a result per row, a fifth of a large restart). The next FETCH is
     * sent before the rows of this one are parsed, so PostgreSQL reads the
     * next chunk while we parse this one. */
    static const char fetch[] = "FETCH 10000 FROM pls_boot";
    PGconn *pg = s->conns[CONN_WRITE].pg;
    pls_buf_t q;
    pls_buf_init(&q);
    pls_buf_printf(&q, "BEGIN; DECLARE pls_boot NO SCROLL CURSOR FOR %s", sql);
    int rc = exec_ok(pg, q.data, err, errsz) ? 0 : -EIO;
    pls_buf_cleanup(&q);
    int in_flight = 0;
    if (rc == 0) {
        if (PQsendQuery(pg, fetch)) {
            in_flight = 1;
        } else {
            snprintf(err, errsz, "%s", PQerrorMessage(pg));
            rc = -EIO;
        }
    }
    char *vals[64];
    while (rc == 0) {
        PGresult *res = boot_result(pg);
        in_flight = 0;
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            snprintf(err, errsz, "%s", PQresultErrorMessage(res));
            PQclear(res);
            rc = -EIO;
            break;
        }
        int rows = PQntuples(res), n = PQnfields(res);
        if (rows > 0) {
            if (PQsendQuery(pg, fetch)) {
                in_flight = 1;
            } else {
                snprintf(err, errsz, "%s", PQerrorMessage(pg));
                rc = -EIO;
            }
        }
        if (n > 64)
            n = 64;
        for (int r = 0; r < rows && rc == 0; r++) {
            for (int i = 0; i < n; i++)
                vals[i] = PQgetisnull(res, r, i) ? NULL : PQgetvalue(res, r, i);
            if (row_cb(arg, vals, n) != 0) {
                snprintf(err, errsz, "bad row in: %.80s", sql);
                rc = -EINVAL;
            }
        }
        PQclear(res);
        if (rows == 0)
            break;
    }
    if (in_flight)
        PQclear(boot_result(pg)); /* a FETCH sent before a row was refused */
    if (rc != 0)
        err[strcspn(err, "\n")] = '\0';
    PQclear(PQexec(pg, rc == 0 ? "CLOSE pls_boot; COMMIT" : "ROLLBACK"));
    return rc;
}

int bk_store_boot_exec(bk_store_t *s, const char *sql, char *err, size_t errsz)
{
    PGresult *res = PQexec(s->conns[CONN_WRITE].pg, sql);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
    if (!ok) {
        snprintf(err, errsz, "%s", PQresultErrorMessage(res));
        err[strcspn(err, "\n")] = '\0';
    }
    PQclear(res);
    return ok ? 0 : -EIO;
}

int bk_store_boot_try(bk_store_t *s, const pls_buf_t *stmts, char *err, size_t errsz)
{
    PGconn *pg = s->conns[CONN_WRITE].pg;
    if (!exec_ok(pg, "BEGIN", err, errsz))
        return -EPIPE;
    const char *p = stmts->data ? stmts->data : "", *end = p + stmts->len;
    bk_stmt_t st;
    int rc = 0, more;
    while (rc == 0 && (more = bk_sql_next(&p, end, &st)) != 0) {
        if (more < 0) {
            snprintf(err, errsz, "malformed statement list");
            rc = -EINVAL;
            break;
        }
        PGresult *res = PQexecParams(pg, st.sql, st.n, NULL, st.vals, st.lens, st.formats, 0);
        rc = try_result(pg, res, err, errsz);
        PQclear(res);
    }
    if (rc == 0) {
        /* deferred constraints and triggers run at COMMIT: run them now */
        PGresult *res = PQexec(pg, "SET CONSTRAINTS ALL IMMEDIATE");
        rc = try_result(pg, res, err, errsz);
        PQclear(res);
    }
    char rerr[256];
    if (!exec_ok(pg, "ROLLBACK", rerr, sizeof(rerr)) && rc >= 0) {
        snprintf(err, errsz, "%s", rerr);
        rc = -EPIPE; /* the next boot starts on a new connection */
    }
    return rc;
}

const char *bk_store_failure(const bk_store_t *s)
{
    return s->conns[CONN_WRITE].failed;
}

void bk_store_get_stats(const bk_store_t *s, bk_store_stats_t *out)
{
    *out = s->stats;
}

static int exec_ok(PGconn *pg, const char *sql, char *err, size_t errsz)
{
    PGresult *res = PQexec(pg, sql);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
    if (!ok) {
        snprintf(err, errsz, "%s", PQresultErrorMessage(res));
        err[strcspn(err, "\n")] = '\0';
    }
    PQclear(res);
    return ok;
}

/* Versioned, idempotent, under a transaction-level advisory lock so that two
 * brokers starting on one database do not both migrate. */
static int run_migrations(bk_store_t *s, PGconn *pg, char *err, size_t errsz)
{
    if (!exec_ok(pg,
                 "BEGIN; SELECT pg_advisory_xact_lock(774977); "
                 "CREATE TABLE IF NOT EXISTS schema_migrations (version int PRIMARY KEY, "
                 "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
                 err, errsz))
        goto fail;
    for (int i = 0; i < bk_n_migrations; i++) {
        char q[128];
        snprintf(q, sizeof(q), "SELECT 1 FROM schema_migrations WHERE version = %d",
                 bk_migrations[i].version);
        PGresult *res = PQexec(pg, q);
        int have = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
        PQclear(res);
        if (have)
            continue;
        if (!exec_ok(pg, bk_migrations[i].sql, err, errsz))
            goto fail;
        char ins[256];
        snprintf(ins, sizeof(ins),
                 "INSERT INTO schema_migrations (version, name) VALUES (%d, '%s')",
                 bk_migrations[i].version, bk_migrations[i].name);
        if (!exec_ok(pg, ins, err, errsz))
            goto fail;
        pls_info("applied migration %03d %s", bk_migrations[i].version, bk_migrations[i].name);
    }
    /* one database per node: refuse a database that belongs to another node */
    PGresult *res;
    const char *params[1] = {s->node};
    res = PQexecParams(pg,
                       "INSERT INTO node_meta (k, v) VALUES ('node', $1) ON CONFLICT (k) DO "
                       "UPDATE SET v = node_meta.v RETURNING v",
                       1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        snprintf(err, errsz, "%s", PQresultErrorMessage(res));
        PQclear(res);
        goto fail;
    }
    if (strcmp(PQgetvalue(res, 0, 0), s->node) != 0) {
        snprintf(err, errsz, "database belongs to node %s, not %s", PQgetvalue(res, 0, 0), s->node);
        PQclear(res);
        PQclear(PQexec(pg, "ROLLBACK"));
        return -EPERM;
    }
    PQclear(res);
    if (!exec_ok(pg, "COMMIT", err, errsz))
        goto fail;
    return 0;
fail:
    PQclear(PQexec(pg, "ROLLBACK"));
    return -EIO;
}
