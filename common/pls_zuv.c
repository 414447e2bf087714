/*
 * pls_zuv — see pls_zuv.h for why it is built this way.
 */
#include "pls_zuv.h"
#include "pls_log.h"

#include <errno.h>
#include <string.h>

static int has_input(pls_zuv_t *z)
{
    int events = 0;
    size_t sz = sizeof(events);
    if (zmq_getsockopt(z->sock, ZMQ_EVENTS, &events, &sz) != 0)
        return 0;
    return (events & ZMQ_POLLIN) != 0;
}

/* Receive one whole multipart message; returns the number of frames, -1 for
 * too many frames (drained), 0 when nothing was waiting. */
static int recv_message(pls_zuv_t *z, zmq_msg_t *frames)
{
    int n = 0, more = 1, too_many = 0;
    while (more) {
        zmq_msg_t tmp;
        zmq_msg_t *m = n < PLS_ZUV_MAX_FRAMES ? &frames[n] : &tmp;
        zmq_msg_init(m);
        if (zmq_msg_recv(m, z->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(m);
            if (n == 0)
                return 0;
            /* a multipart message arrives whole: this does not happen */
            break;
        }
        more = zmq_msg_more(m);
        if (n < PLS_ZUV_MAX_FRAMES)
            n++;
        else {
            zmq_msg_close(m);
            too_many = 1;
        }
    }
    if (too_many) {
        for (int i = 1; i < n; i++)
            zmq_msg_close(&frames[i]);
        return -1; /* frames[0] (the identity on a ROUTER) is kept */
    }
    return n;
}

static void read_burst(pls_zuv_t *z)
{
    zmq_msg_t frames[PLS_ZUV_MAX_FRAMES];
    for (int i = 0; i < PLS_ZUV_BURST && !z->closing; i++) {
        int n = recv_message(z, frames);
        if (n == 0)
            break;
        z->on_msg(z, frames, n);
        int keep = n < 0 ? 1 : n;
        for (int k = 0; k < keep; k++)
            zmq_msg_close(&frames[k]);
    }
}

static void on_idle(uv_idle_t *h)
{
    PLS_UNUSED(h); /* only keeps the loop from blocking; reading is in check */
}

/* After polling: read when the socket signalled, or input was left over, or a
 * send may have consumed the edge. Idle sockets cost nothing per turn. */
static void on_check(uv_check_t *h)
{
    pls_zuv_t *z = h->data;
    if (z->closing || !z->pending)
        return;
    read_burst(z);
    z->pending = has_input(z);
    if (z->pending)
        uv_idle_start(&z->idle, on_idle);
    else
        uv_idle_stop(&z->idle);
}

/* Before blocking: a send since the last look may have eaten the edge. */
static void on_prepare(uv_prepare_t *h)
{
    pls_zuv_t *z = h->data;
    if (z->closing || !z->sent)
        return;
    z->sent = 0;
    if (has_input(z)) {
        z->pending = 1;
        uv_idle_start(&z->idle, on_idle);
    }
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    PLS_UNUSED(status);
    PLS_UNUSED(events);
    /* The readiness edge only wakes the loop; on_check reads. */
    ((pls_zuv_t *)h->data)->pending = 1;
}

int pls_zuv_init(pls_zuv_t *z, uv_loop_t *loop, void *sock, pls_zuv_msg_cb on_msg)
{
    int fd;
    size_t sz = sizeof(fd);
    memset(z, 0, sizeof(*z));
    z->sock = sock;
    z->on_msg = on_msg;
    if (zmq_getsockopt(sock, ZMQ_FD, &fd, &sz) != 0)
        return -errno;
    int rc = uv_poll_init(loop, &z->poll, fd);
    if (rc)
        return rc;
    uv_prepare_init(loop, &z->prepare);
    uv_check_init(loop, &z->check);
    uv_idle_init(loop, &z->idle);
    z->poll.data = z->prepare.data = z->check.data = z->idle.data = z;
    uv_poll_start(&z->poll, UV_READABLE, on_poll);
    uv_prepare_start(&z->prepare, on_prepare);
    uv_check_start(&z->check, on_check);
    z->pending = 1; /* look once: messages may be waiting already */
    uv_idle_start(&z->idle, on_idle);
    return 0;
}

static void on_handle_closed(uv_handle_t *h)
{
    pls_zuv_t *z = h->data;
    if (--z->pending_close == 0 && z->on_closed)
        z->on_closed(z);
}

void pls_zuv_close(pls_zuv_t *z, void (*on_closed)(pls_zuv_t *z))
{
    if (z->closing)
        return;
    z->closing = 1;
    z->on_closed = on_closed;
    z->pending_close = 4;
    uv_close((uv_handle_t *)&z->poll, on_handle_closed);
    uv_close((uv_handle_t *)&z->prepare, on_handle_closed);
    uv_close((uv_handle_t *)&z->check, on_handle_closed);
    uv_close((uv_handle_t *)&z->idle, on_handle_closed);
}

int pls_zuv_send(pls_zuv_t *z, const void *const *parts, const size_t *lens, int nparts)
{
    for (int i = 0; i < nparts; i++) {
        int flags = ZMQ_DONTWAIT | (i + 1 < nparts ? ZMQ_SNDMORE : 0);
        if (zmq_send(z->sock, parts[i], lens[i], flags) < 0) {
            /* a failed first part sends nothing; later parts cannot fail on
             * ROUTER/DEALER once the first is accepted */
            return -errno;
        }
    }
    /* a send may consume the readiness edge: the next prepare looks */
    z->sent = 1;
    return 0;
}
