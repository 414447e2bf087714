/*
 * pls_zuv — a ZeroMQ socket driven by a libuv loop (the only module besides
 * the clients that touches libzmq's socket readiness).
 *
 * ZMQ_FD is edge-triggered: it signals only when ZMQ_EVENTS changes, and any
 * zmq_send or zmq_recv on the socket may consume that edge. So reading once
 * per poll callback loses messages. This adapter:
 *   - drains while ZMQ_EVENTS has ZMQ_POLLIN, at most PLS_ZUV_BURST messages
 *     per loop turn so one busy peer cannot starve timers and the store;
 *   - checks ZMQ_EVENTS again in a uv_prepare before the loop blocks when it
 *     sent since the last look (a send may have eaten the edge), and keeps a
 *     uv_idle running while input is pending, so the loop does not block
 *     with messages waiting;
 *   - reads in uv_check, after I/O polling, so one turn = one read burst,
 *     and only on sockets that signalled or had input left: many idle
 *     sockets in one loop cost nothing per turn.
 *
 * Frames of one multipart message are handed to the callback together; a
 * message with more than PLS_ZUV_MAX_FRAMES frames is drained and reported
 * with nframes = -1 (the caller answers "malformed").
 */
#ifndef PLS_ZUV_H
#define PLS_ZUV_H

#include "pls_util.h"

#include <uv.h>
#include <zmq.h>

#define PLS_ZUV_MAX_FRAMES 4
#define PLS_ZUV_BURST 512

typedef struct pls_zuv pls_zuv_t;

/* frames[0..nframes-1] are valid for the duration of the call. */
typedef void (*pls_zuv_msg_cb)(pls_zuv_t *z, zmq_msg_t *frames, int nframes);

struct pls_zuv {
    uv_poll_t poll;       /* on ZMQ_FD */
    uv_prepare_t prepare; /* re-check ZMQ_EVENTS before blocking */
    uv_check_t check;     /* read burst after polling */
    uv_idle_t idle;       /* keeps the loop spinning while input is pending */
    void *sock;           /* borrowed ZeroMQ socket */
    pls_zuv_msg_cb on_msg;
    void *data; /* the owner's pointer */
    int closing;
    int pending;       /* input may be waiting: read in the next check */
    int sent;          /* sent since the last look at ZMQ_EVENTS */
    int pending_close; /* handles still to close */
    void (*on_closed)(pls_zuv_t *z);
};

int pls_zuv_init(pls_zuv_t *z, uv_loop_t *loop, void *sock, pls_zuv_msg_cb on_msg) PLS_WUR;
/* Stops reading and closes the libuv handles; on_closed runs when all are
 * closed (the socket itself stays the caller's). */
void pls_zuv_close(pls_zuv_t *z, void (*on_closed)(pls_zuv_t *z));

/* Send a multipart message without blocking. Returns 0, or -errno
 * (-EAGAIN at the high-water mark, -EHOSTUNREACH for an unknown ROUTER peer). */
int pls_zuv_send(pls_zuv_t *z, const void *const *parts, const size_t *lens, int nparts) PLS_WUR;

#endif
