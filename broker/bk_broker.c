/*
 * bk_broker — see bk_broker.h.
 */
#include "bk_broker.h"

#include "pls_log.h"
#include "pls_time.h"
#include "pls_zuv.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

typedef struct broker {
    uv_loop_t loop;
    void *zctx;
    void *router;
    pls_zuv_t zuv;
    void *uplink; /* DEALER to the parent broker, or NULL */
    pls_zuv_t up_zuv;
    void *mon; /* PAIR reading the ROUTER's disconnect events, or NULL */
    pls_zuv_t mon_zuv;
    bk_core_t core;
    uv_prepare_t turn;   /* end of each loop turn: dispatch + commit */
    uv_timer_t tick;     /* leases, retries */
    uv_timer_t deadline; /* drain deadline */
    uv_signal_t sigterm, sigint;
    int exit_code;
    int stopping;
} broker_t;

static int send_msg(void *arg, const void *ident, size_t ident_len, const void *msg, size_t len)
{
    broker_t *b = arg;
    if (!ident) {
        if (!b->uplink)
            return -ENOTCONN;
        const void *one[1] = {msg};
        size_t one_len[1] = {len};
        int rc = pls_zuv_send(&b->up_zuv, one, one_len, 1);
        if (rc == -EAGAIN)
            pls_debug("parent link queue full: message dropped (resent after the next hello)");
        return rc;
    }
    const void *parts[2] = {ident, msg};
    size_t lens[2] = {ident_len, len};
    int rc = pls_zuv_send(&b->zuv, parts, lens, 2);
    if (rc == -EHOSTUNREACH)
        pls_debug("peer is gone");
    else if (rc == -EAGAIN)
        pls_warn("peer is not reading (send queue full): message dropped");
    return rc;
}

static void on_zmsg(pls_zuv_t *z, zmq_msg_t *frames, int n)
{
    broker_t *b = z->data;
    if (n < 0) {
        bk_core_malformed(&b->core, zmq_msg_data(&frames[0]), zmq_msg_size(&frames[0]),
                          "malformed message: too many frames (expected one)");
        return;
    }
    if (n != 2) {
        if (n >= 1)
            bk_core_malformed(&b->core, zmq_msg_data(&frames[0]), zmq_msg_size(&frames[0]),
                              "malformed message: expected exactly one frame");
        return;
    }
    bk_core_message(&b->core, zmq_msg_data(&frames[0]), zmq_msg_size(&frames[0]),
                    zmq_msg_data(&frames[1]), zmq_msg_size(&frames[1]));
}

static void on_up_msg(pls_zuv_t *z, zmq_msg_t *frames, int n)
{
    broker_t *b = z->data;
    if (n != 1)
        return; /* the parent sends one frame per message */
    bk_core_message(&b->core, NULL, 0, zmq_msg_data(&frames[0]), zmq_msg_size(&frames[0]));
}

/* A monitor event (libzmq: frame 1 = uint16 event + uint32 value, frame 2 =
 * an address: for a connection this socket accepted, its own listening
 * endpoint; libzmq 4.3 without its draft API does not tell the peer's). libzmq
 * closes a connection that sends a frame over ZMQ_MAXMSGSIZE without a word
 * to the socket's owner; this line is the only trace of it. */
static void on_mon_msg(pls_zuv_t *z, zmq_msg_t *frames, int n)
{
    PLS_UNUSED(z);
    if (n != 2 || zmq_msg_size(&frames[0]) < 6)
        return;
    uint16_t ev;
    memcpy(&ev, zmq_msg_data(&frames[0]), sizeof(ev));
    if (ev != ZMQ_EVENT_DISCONNECTED)
        return;
    int len = (int)(zmq_msg_size(&frames[1]) < 200 ? zmq_msg_size(&frames[1]) : 200);
    pls_info("a connection to %.*s closed (a peer left; libzmq also closes the connection of a "
             "peer that sends a frame over %d bytes)",
             len, (const char *)zmq_msg_data(&frames[1]), PLS_MAX_FRAME);
}

/* Stop the monitor, then close its reader: libzmq sends monitor events with a
 * blocking send from its I/O thread, so a monitor left running without a
 * reader stops all of the context's traffic at the next disconnect. */
static void close_monitor(broker_t *b)
{
    if (!b->mon)
        return;
    zmq_socket_monitor(b->router, NULL, 0);
    zmq_close(b->mon);
    b->mon = NULL;
}

static void on_zuv_closed(pls_zuv_t *z)
{
    PLS_UNUSED(z);
}

static void shutdown_now(broker_t *b)
{
    if (b->stopping)
        return;
    b->stopping = 1;
    uv_prepare_stop(&b->turn);
    uv_timer_stop(&b->tick);
    uv_timer_stop(&b->deadline);
    uv_signal_stop(&b->sigterm);
    uv_signal_stop(&b->sigint);
    pls_zuv_close(&b->zuv, on_zuv_closed);
    if (b->uplink)
        pls_zuv_close(&b->up_zuv, on_zuv_closed);
    if (b->mon)
        pls_zuv_close(&b->mon_zuv, on_zuv_closed);
    uv_close((uv_handle_t *)&b->turn, NULL);
    uv_close((uv_handle_t *)&b->tick, NULL);
    uv_close((uv_handle_t *)&b->deadline, NULL);
    uv_close((uv_handle_t *)&b->sigterm, NULL);
    uv_close((uv_handle_t *)&b->sigint, NULL);
    bk_store_stop(b->core.store);
}

static void on_drained(bk_core_t *c)
{
    broker_t *b = (broker_t *)((char *)c - offsetof(broker_t, core));
    pls_info("drained: every acknowledged change is committed; exiting");
    shutdown_now(b);
}

static void on_turn(uv_prepare_t *h)
{
    broker_t *b = h->data;
    bk_core_turn(&b->core);
}

static void on_tick(uv_timer_t *h)
{
    broker_t *b = h->data;
    bk_core_tick(&b->core);
}

static void on_deadline(uv_timer_t *h)
{
    broker_t *b = h->data;
    pls_warn("drain took too long: exiting with a batch still in flight (it is not "
             "acknowledged)");
    b->exit_code = 1;
    shutdown_now(b);
}

static void on_signal(uv_signal_t *h, int signum)
{
    broker_t *b = h->data;
    if (b->core.draining) {
        pls_warn("second signal: exiting now");
        b->exit_code = 1;
        shutdown_now(b);
        return;
    }
    pls_info("%s: draining (committing what is in flight)",
             signum == SIGTERM ? "SIGTERM" : "SIGINT");
    bk_core_drain(&b->core);
    uv_timer_start(&b->deadline, on_deadline, 4500, 0);
    if (bk_core_drained(&b->core))
        on_drained(&b->core);
}

static int open_router(broker_t *b, const char *endpoint)
{
    b->zctx = zmq_ctx_new();
    b->router = zmq_socket(b->zctx, ZMQ_ROUTER);
    int one = 1, zero = 0;
    int64_t maxmsg = PLS_MAX_FRAME;
    int hwm = 200000;
    zmq_setsockopt(b->router, ZMQ_ROUTER_MANDATORY, &one, sizeof(one));
    /* a child broker reconnecting under its routing id takes its place over */
    zmq_setsockopt(b->router, ZMQ_ROUTER_HANDOVER, &one, sizeof(one));
    zmq_setsockopt(b->router, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
    zmq_setsockopt(b->router, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(b->router, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(b->router, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    if (zmq_bind(b->router, endpoint) != 0) {
        pls_error("could not listen on %s: %s", endpoint, zmq_strerror(errno));
        return -1;
    }
    char last[256];
    size_t sz = sizeof(last);
    zmq_getsockopt(b->router, ZMQ_LAST_ENDPOINT, last, &sz);
    pls_info("listening on %s", last);
    /* disconnects, for the log (on_mon_msg); the broker works without */
    if (zmq_socket_monitor(b->router, "inproc://pls-broker-monitor", ZMQ_EVENT_DISCONNECTED) == 0) {
        b->mon = zmq_socket(b->zctx, ZMQ_PAIR);
        if (!b->mon)
            zmq_socket_monitor(b->router, NULL, 0);
        else if (zmq_setsockopt(b->mon, ZMQ_LINGER, &zero, sizeof(zero)) != 0 ||
                 zmq_connect(b->mon, "inproc://pls-broker-monitor") != 0)
            close_monitor(b);
    }
    if (!b->mon)
        pls_warn("no monitor on the socket (%s): disconnects are not logged", zmq_strerror(errno));
    return 0;
}

/* The link to the parent: a DEALER whose routing id names this node, so the
 * parent recognizes it across reconnects. */
static int open_uplink(broker_t *b, const char *endpoint, const char *node)
{
    b->uplink = zmq_socket(b->zctx, ZMQ_DEALER);
    int zero = 0, hwm = 100000;
    int64_t maxmsg = PLS_MAX_FRAME;
    char id[160];
    snprintf(id, sizeof(id), "link:%s", node);
    zmq_setsockopt(b->uplink, ZMQ_ROUTING_ID, id, strlen(id));
    zmq_setsockopt(b->uplink, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(b->uplink, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(b->uplink, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(b->uplink, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
    if (zmq_connect(b->uplink, endpoint) != 0) {
        pls_error("could not connect to the parent at %s: %s", endpoint, zmq_strerror(errno));
        return -1;
    }
    pls_info("parent broker at %s", endpoint);
    return 0;
}

int bk_broker_run(const bk_broker_opts_t *opts)
{
    broker_t *b = pls_xcalloc(1, sizeof(*b));
    int rc = 1;
    signal(SIGPIPE, SIG_IGN);
    uv_loop_init(&b->loop);
    if (open_router(b, opts->listen) != 0)
        goto done;
    if (bk_core_init(&b->core, &b->loop, &opts->core, send_msg, b) != 0)
        goto done;
    b->core.on_idle_after_drain = on_drained;
    if (pls_zuv_init(&b->zuv, &b->loop, b->router, on_zmsg) != 0) {
        pls_error("could not watch the socket");
        goto done;
    }
    b->zuv.data = b;
    if (b->mon && pls_zuv_init(&b->mon_zuv, &b->loop, b->mon, on_mon_msg) != 0)
        close_monitor(b);
    if (opts->core.parent) {
        if (open_uplink(b, opts->core.parent, opts->core.node) != 0 ||
            pls_zuv_init(&b->up_zuv, &b->loop, b->uplink, on_up_msg) != 0)
            goto done;
        b->up_zuv.data = b;
    }
    uv_prepare_init(&b->loop, &b->turn);
    b->turn.data = b;
    uv_prepare_start(&b->turn, on_turn);
    uv_timer_init(&b->loop, &b->tick);
    b->tick.data = b;
    uv_timer_start(&b->tick, on_tick, 100, 100);
    uv_timer_init(&b->loop, &b->deadline);
    b->deadline.data = b;
    uv_signal_init(&b->loop, &b->sigterm);
    uv_signal_init(&b->loop, &b->sigint);
    b->sigterm.data = b->sigint.data = b;
    uv_signal_start(&b->sigterm, on_signal, SIGTERM);
    uv_signal_start(&b->sigint, on_signal, SIGINT);
    bk_core_start(&b->core);
    uv_run(&b->loop, UV_RUN_DEFAULT);
    rc = b->exit_code;
    bk_core_cleanup(&b->core);
done:
    uv_loop_close(&b->loop);
    if (b->router) {
        close_monitor(b);
        zmq_close(b->router);
    }
    if (b->uplink)
        zmq_close(b->uplink);
    if (b->zctx)
        zmq_ctx_term(b->zctx);
    free(b);
    return rc;
}
