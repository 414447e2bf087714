/*
 * bk_fed — federation of command centers (DESIGN §2, §4, §7).
 *
 * Links. A child broker connects a DEALER to its parent's ROUTER (the same
 * socket desks and workers use). Each direction of a link carries messages
 * numbered 1, 2, 3, ...:
 *
 *   sender                                   receiver
 *   ------                                   --------
 *   change + outbox row, one transaction     apply only seq == applied + 1,
 *   after COMMIT: send (window of 512)       ignore seq <= applied; store
 *   ack N: delete outbox rows <= N           `applied` in the same transaction
 *   Hello (resume point) after any           as the effect; after COMMIT send
 *   reconnect or restart: resend from N+1    a cumulative ack
 *
 * Messages a link has not acknowledged are kept in memory (the send queue)
 * up to a cap; beyond it, and after a restart, they are read back from the
 * outbox in pages of 500 ("spill" mode). A link that is down never blocks
 * intake: changes are committed with their outbox rows and wait.
 *
 * Ownership (DESIGN §4). The node of an order's current step owns it and
 * numbers its events. When a step belongs to another command center, the
 * owner records `forwarded`, then (after that commit) reads the order with
 * its whole history from its store and sends a Forward naming the new owner;
 * in the transaction that writes the Forward, its own row becomes a copy.
 * Copies are kept at the intake node (首问) and at every node above the
 * owner: after each batch the owner sends the new event rows of its orders
 * to them (an Event), applied verbatim. A new order's first message to a copy
 * holder is a Forward with its content (no personal data for copies); of a
 * Forward over BK_FWD_HIST_BYTES the rest of the history follows in "history"
 * messages, since a receiver refuses a message over PLS_MAX_ENVELOPE. An
 * Event for an unknown order makes the receiver ask for a Forward. Changes
 * asked at a node that only holds a copy go to the owner as a Request.
 *
 * Routing: a message for node D goes down the child link whose subtree holds
 * D, else up. The city relays messages between towns (store and forward).
 */
#ifndef BK_FED_H
#define BK_FED_H

#include "bk_batch.h"
#include "bk_dispatch.h"
#include "bk_store.h"
#include "pls_proto.h"
#include "pls_util.h"

#include <stdint.h>

#define BK_LINK_WINDOW 512  /* unacknowledged messages in flight */
#define BK_LINK_CACHE 20000 /* messages kept in memory per link */
#define BK_LINK_PAGE 500    /* outbox rows read back at once */
#define BK_LINK_TIMEOUT_MS 3500
#define BK_LINK_BATCH_BYTES (192 * 1024) /* a LinkBatch stays under the envelope cap */
#define BK_FWD_HIST_BYTES (128 * 1024)   /* a Forward over this: in parts */
_Static_assert(2 * BK_FWD_HIST_BYTES <= PLS_MAX_ENVELOPE,
               "a Forward's part stays well under the receiver's cap of a link message");

typedef struct bk_core bk_core_t;
typedef struct bk_batch bk_batch_t;

/* A durable link message (owned strings). */
typedef struct bk_lmsg {
    uint64_t seq;
    uint32_t gen;  /* the batch that wrote it */
    int64_t at_ms; /* wall time it was made */
    char *to;
    char *from;
    char *kind;
    char *order;
    char *body;
} bk_lmsg_t;

/* What a batch writes of a link, acknowledged once it commits. */
typedef struct bk_flushed {
    uint32_t gen;     /* the batch */
    uint64_t applied; /* messages received and applied up to here */
    uint64_t purge;   /* outbox rows deleted up to here, or 0 */
} bk_flushed_t;

typedef struct bk_link {
    char peer[132]; /* the peer's node id */
    int is_parent;
    uint8_t ident[BK_IDENT_MAX]; /* a child's routing id on our ROUTER */
    size_t ident_len;
    int connected;
    int64_t last_rx_ms; /* monotonic */
    int64_t last_tx_ms;
    int64_t last_hello_ms;
    int64_t skew_ms;      /* peer wall clock minus ours, from its Hello */
    uint32_t peer_format; /* link format the peer reads, from its Hello (bk_linkbody.h) */
    /* sending */
    uint64_t next_seq;       /* the next message gets this number */
    uint64_t committed;      /* messages up to here are in the store */
    uint64_t acked;          /* the peer has applied up to here */
    uint64_t sent;           /* sent on this connection up to here */
    uint64_t ack_seen;       /* acked when last seen advancing ... */
    int64_t ack_progress_ms; /* ... and when (monotonic) */
    bk_lmsg_t *q;            /* owned ring: cached messages, consecutive numbers */
    size_t q_head, q_len, q_cap;
    bk_lmsg_t *pend; /* owned: messages of batches not yet committed */
    size_t n_pend, cap_pend;
    int spill;                 /* some unacknowledged messages are only in the store */
    int reading;               /* an outbox page read is in flight */
    int64_t oldest_unacked_ms; /* wall time of the oldest unacknowledged message */
    /* receiving */
    uint64_t applied;           /* applied into memory and the batch being built */
    uint64_t applied_committed; /* acknowledged to the peer after COMMIT */
    int ack_due;
    /* messages from the peer skipped or refused since this broker started
     * (kept across reloads), and the order of the last one: status shows them */
    uint64_t refused;
    char refused_order[40];
    int state_dirty; /* link_state row to write in the next batch */
    int acked_dirty; /* outbox rows to delete in the next batch */
    /* outbox rows deleted up to here (committed): a delete names its range
     * from the last one on, so it does not walk the index entries of rows
     * deleted before (dead until VACUUM) */
    uint64_t purged;
    /* per batch in flight (slot gen % BK_STORE_FLIGHT_MAX: their gens are
     * consecutive): the link's applied number and outbox purge it writes */
    bk_flushed_t flushed[BK_STORE_FLIGHT_MAX];
    int is_new;    /* no link_state row yet */
    char *summary; /* owned: the child's last StatusSummary JSON */
    int64_t summary_ms;
} bk_link_t;

/* The newest snapshot of a copy seen in the batch being built. */
typedef struct bk_copy {
    pls_uuid_t id;
    void *snap; /* json_t *, owned reference */
} bk_copy_t;

/* A link's count of refused messages, kept across a reload (bk_fed_reset). */
typedef struct bk_refused {
    char peer[132];
    uint64_t n;
    char order[40];
} bk_refused_t;

/* A peer whose messages were in a batch PostgreSQL refused for its rows
 * (BK_BATCH_REFUSED): its messages are not applied until until_ms, then
 * again, with a pause twice as long after each such batch, until a batch
 * with them commits. The peer resends them (every 3 s without an
 * acknowledgement) and would otherwise make the broker fail a batch and
 * reload at every resend, serving nobody. Kept across reloads. */
typedef struct bk_pause {
    char peer[132];
    uint64_t hi;      /* its last message in the refused batch */
    int64_t until_ms; /* monotonic */
    uint32_t n;       /* refused batches with its messages in a row */
    int fresh;        /* set by the last refused batch, not yet explained otherwise */
} bk_pause_t;

typedef struct bk_fed {
    char parent_node[132]; /* empty without --parent */
    bk_link_t **links;     /* owned array of owned links */
    size_t n_links, cap_links;
    bk_link_t *parent; /* borrowed from links */
    char **known;      /* owned: child broker nodes from the topology */
    char **codes;      /* owned: order-number codes of same-level nodes (topology) */
    size_t n_codes;
    size_t n_known;
    bk_refused_t *refused_kept; /* owned: counts of links not yet back after a reload */
    size_t n_refused_kept;
    bk_pause_t *pauses; /* owned: peers whose messages wait (kept across reloads) */
    size_t n_pauses;
    /* orders to forward once their `forwarded` event is committed */
    pls_uuid_t *fwd;
    size_t n_fwd, cap_fwd;
    int fwd_reading;
    int64_t last_summary_ms;
    /* what applying link messages adds to the batch being built; written
     * before the batch's own order statements (bk_batch.pre) */
    bk_recs_t outbox_vals;  /* link_outbox rows for pls_outbox() */
    bk_recs_t copy_events;  /* events rows of copies for pls_copies() */
    bk_recs_t copy_update;  /* orders rows with the snapshots of copies for pls_copies() */
    bk_recs_t fwd_orders;   /* orders rows of Forwards for pls_forwards() */
    bk_recs_t fwd_citizens; /* personal data of the Forwards we own, for pls_forwards_own() */
    /* the Forwards that make us an order's owner: their content columns (id
     * .. created_at) one after another in own_content, and the batch row
     * whose snapshot gives the state columns at the flush (sql/013) */
    pls_buf_t own_content;
    struct bk_fwd_own {
        size_t off, len;
        uint32_t row; /* set by own_row() right after upsert_order() */
    } * own;
    size_t n_own, cap_own;
    bk_recs_t fwd_own; /* their orders rows for pls_forwards_own(), built at the flush */
    /* copies an Event named that may be unknown here: (from, order) pairs */
    char **asked_from;
    pls_uuid_t *asked_order;
    uint32_t *asked_gen;
    uint8_t *asked_found;
    size_t n_asked, cap_asked;
    bk_copy_t *copies; /* owned */
    size_t n_copies, cap_copies;
    bk_index_t copy_index; /* copies by order id */
} bk_fed_t;

void bk_fed_init(bk_fed_t *f, const char *parent_node);
void bk_fed_cleanup(bk_fed_t *f);
/* Forget links' in-memory state (a reload follows). */
void bk_fed_reset(bk_core_t *c);

/* Topology CSV (id,name_zh,name_en,kind): child brokers below this node. */
int bk_fed_load_topology(bk_core_t *c, const char *path, char *err, size_t errsz) PLS_WUR;

/* The command center whose broker handles scope node (this node when it is
 * ours or no child broker is known for it). */
const char *bk_fed_broker_of(bk_core_t *c, const char *scope);

/* Boot: one row of link_state / of forwarded orders. */
int bk_fed_boot_link(void *core, char **v, int n);
extern const char bk_fed_sql_links[];

/* Before a batch is turned into SQL: copy messages for every order changed
 * in it, the outbox rows and link_state updates. */
void bk_fed_before_flush(bk_core_t *c, bk_batch_t *b);
/* After the batch committed: messages become sendable, acks go out. */
void bk_fed_after_commit(bk_core_t *c, uint32_t gen);
/* PostgreSQL refused batch b for its rows (BK_BATCH_REFUSED; why: the
 * store's reason): the peers whose messages it held wait (bk_pause_t). */
void bk_fed_batch_refused(bk_core_t *c, const bk_batch_t *b, const char *why);
/* After that batch: explained = 1 when one of its new orders was refused on
 * its own (bk_core.c, try_suspects): the peers it held back for it go on. */
void bk_fed_refusal_explained(bk_core_t *c, int explained);
/* Rows returned by the copy UPDATE of a batch: these copies exist. */
void bk_fed_copy_rows(bk_core_t *c, const void *rows);
/* Queue a durable message for node `to` in the batch being built (from =
 * NULL: this node). Returns -1, queuing nothing, when no link leads to `to`. */
int bk_fed_emit(bk_core_t *c, const char *to, const char *from, const char *kind,
                const pls_uuid_t *order, const char *body);
/* An order in `forwarded` state waits for its Forward. */
void bk_fed_want_forward(bk_core_t *c, const pls_uuid_t *id);

/* Incoming federation messages (ident NULL = from our parent). */
void bk_fed_hello(bk_core_t *c, const void *ident, size_t ident_len, const Pls__Hello *h);
void bk_fed_link(bk_core_t *c, const void *ident, size_t ident_len, const Pls__LinkBatch *lb);
void bk_fed_summary(bk_core_t *c, const Pls__StatusSummary *s);

/* Periodic: Hello while down, keepalives, timeouts, summaries, page reads,
 * forwards to build. */
void bk_fed_tick(bk_core_t *c);
/* End of a loop turn: build Forwards of committed `forwarded` orders. */
void bk_fed_turn(bk_core_t *c);

/* Status: links as JSON (a json_t * array, returned as void * to keep
 * jansson out of this header). */
void *bk_fed_links_json(bk_core_t *c);
/* Status warnings of the links (messages refused) into the JSON array. */
void bk_fed_warnings(bk_core_t *c, void *warnings);
void *bk_fed_tree_json(bk_core_t *c);

#endif
