/*
 * pls_client — see pls_client.h.
 */
#include "pls_client.h"
#include "pls_id.h"
#include "pls_time.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

struct pls_client {
    void *ctx;     /* owned ZeroMQ context */
    void *sock;    /* owned DEALER socket */
    uint64_t corr; /* last correlation id used */
};

pls_client_t *pls_client_new(const char *endpoint, char *err, size_t errsz)
{
    pls_client_t *c = pls_xcalloc(1, sizeof(*c));
    c->ctx = zmq_ctx_new();
    c->sock = zmq_socket(c->ctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(c->sock, ZMQ_LINGER, &linger, sizeof(linger));
    int64_t maxmsg = PLS_MAX_FRAME * 2;
    zmq_setsockopt(c->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
    if (zmq_connect(c->sock, endpoint) != 0) {
        snprintf(err, errsz, "could not connect to %s: %s", endpoint, zmq_strerror(errno));
        pls_client_destroy(&c);
        return NULL;
    }
    c->corr = pls_random_u64() >> 16;
    return c;
}

void pls_client_destroy(pls_client_t **self_p)
{
    pls_client_t *c = *self_p;
    if (!c)
        return;
    if (c->sock)
        zmq_close(c->sock);
    if (c->ctx)
        zmq_ctx_term(c->ctx);
    free(c);
    *self_p = NULL;
}

static int send_env(pls_client_t *c, Pls__Envelope *env)
{
    uint8_t *buf;
    size_t len;
    pls_proto_pack(env, &buf, &len);
    int rc = zmq_send(c->sock, buf, len, 0);
    free(buf);
    return rc < 0 ? -errno : 0;
}

/* Wait until deadline (monotonic ms) for the reply to any of the copies sent
 * with correlation ids first..last (a resent request's earlier copies are
 * answered first: their reply is the true one, a later copy's may say
 * "duplicate"). */
static int wait_reply(pls_client_t *c, uint64_t first, uint64_t last, int64_t deadline,
                      Pls__Envelope **reply)
{
    for (;;) {
        int64_t left = deadline - pls_mono_ms();
        if (left <= 0)
            return -ETIMEDOUT;
        zmq_pollitem_t it = {c->sock, 0, ZMQ_POLLIN, 0};
        int rc = zmq_poll(&it, 1, (long)left);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (rc == 0)
            continue;
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, c->sock, 0) < 0) {
            zmq_msg_close(&m);
            continue;
        }
        int more = zmq_msg_more(&m);
        char reason[128];
        Pls__Envelope *e =
            pls_proto_unpack(zmq_msg_data(&m), zmq_msg_size(&m), reason, sizeof(reason));
        zmq_msg_close(&m);
        while (more) { /* a reply is one frame; drop anything else */
            zmq_msg_init(&m);
            zmq_msg_recv(&m, c->sock, 0);
            more = zmq_msg_more(&m);
            zmq_msg_close(&m);
        }
        if (!e)
            continue;
        if (e->corr >= first && e->corr <= last && e->body_case == PLS__ENVELOPE__BODY_REPLY) {
            *reply = e;
            return 0;
        }
        pls_proto_free(e); /* a reply to an abandoned call */
    }
}

/* Send env with a fresh correlation id and wait for the reply to it or to an
 * earlier copy sent since id `first` (0: this copy only). */
static int call_since(pls_client_t *c, Pls__Envelope *env, int timeout_ms, uint64_t first,
                      Pls__Envelope **reply)
{
    env->version = PLS_PROTO_VERSION;
    env->corr = ++c->corr;
    int64_t deadline = pls_mono_ms() + timeout_ms;
    int rc = send_env(c, env);
    if (rc)
        return rc;
    return wait_reply(c, first ? first : env->corr, env->corr, deadline, reply);
}

int pls_client_call(pls_client_t *c, Pls__Envelope *env, int timeout_ms, Pls__Envelope **reply)
{
    return call_since(c, env, timeout_ms, 0, reply);
}

int pls_client_call_retry(pls_client_t *c, Pls__Envelope *env, int total_ms, Pls__Envelope **reply)
{
    int64_t deadline = pls_mono_ms() + total_ms;
    int backoff = 100;
    uint64_t first = c->corr + 1; /* the id of the first copy */
    for (;;) {
        int64_t left = deadline - pls_mono_ms();
        if (left <= 0)
            return -ETIMEDOUT;
        int slice = left < 1000 ? (int)left : 1000;
        int rc = call_since(c, env, slice, first, reply);
        if (rc == 0 && (*reply)->reply->status != PLS_UNAVAILABLE)
            return 0;
        if (rc == 0) {
            if (pls_mono_ms() + backoff >= deadline)
                return 0; /* hand the 503 to the caller */
            pls_proto_free(*reply);
            *reply = NULL;
            struct timespec ts = {0, (long)backoff * 1000000L};
            nanosleep(&ts, NULL);
            if (backoff < 1000)
                backoff *= 2;
        } else if (rc != -ETIMEDOUT) {
            return rc;
        }
    }
}
