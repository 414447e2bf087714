/*
 * pls-submitmany — submits many orders at once over one DEALER, as many desks
 * would, and prints every order the broker acknowledged. For the integration
 * tests that kill or stop a broker while orders are in flight
 * (tests/integration/test_single_*.sh); not installed. pls-bench measures;
 * this only keeps a window of submits outstanding and keeps the record.
 *
 *   pls-submitmany --broker EP --count N [--window W (256)] [--service S (consult)]
 *                  [--origin O (dg)] [--key-prefix P (load-)] [--deadline-s S (60)]
 *                  [--resend-ms MS (3000)]
 *
 * Order i carries the idempotency key P<i> and the description "load order
 * P<i>". Like plsctl, an unanswered submit is resent with the same key after
 * --resend-ms and a 503 is resent after a short pause, so an order is never
 * made twice and an order is acknowledged once it is committed. Any other
 * refusal is final (printed on stderr).
 *
 * stdout: "KEY ID" for each acknowledged order, flushed line by line.
 * stderr: a summary line "submitmany: acked A of N in T ms (sent S, resent R,
 *         503 U, duplicate D, refused F)".
 * Exit status: 0 every order acknowledged, 1 not all before the deadline,
 * 2 usage.
 */
#include "pls_proto.h"
#include "pls_time.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

enum { ST_NEW, ST_OUT, ST_RETRY, ST_DONE, ST_REFUSED };

#define IDX_BITS 24
#define IDX_MASK ((1u << IDX_BITS) - 1)

typedef struct order {
    int state;
    int64_t when_ms; /* ST_OUT: sent at; ST_RETRY: resend at */
} order_t;

typedef struct run {
    void *sock;
    const char *service, *origin, *prefix;
    long count, window, resend_ms;
    order_t *o;
    long outstanding, acked, refused;
    long sent, resent, unavailable, duplicate;
    uint64_t seq;
} run_t;

static int usage(void)
{
    fprintf(stderr, "usage: pls-submitmany --broker EP --count N [--window W] [--service S] "
                    "[--origin O] [--key-prefix P] [--deadline-s S] [--resend-ms MS]\n");
    return 2;
}

/* Sends order i; returns 0, or -1 when the socket cannot take it now. */
static int send_one(run_t *r, long i)
{
    char key[160], desc[200];
    snprintf(key, sizeof(key), "%s%ld", r->prefix, i);
    snprintf(desc, sizeof(desc), "load order %s", key);
    Pls__Envelope env;
    Pls__SubmitRequest s;
    pls__envelope__init(&env);
    pls__submit_request__init(&s);
    s.service = (char *)(uintptr_t)r->service;
    s.origin = (char *)(uintptr_t)r->origin;
    s.desc = desc;
    s.key = key;
    env.version = PLS_PROTO_VERSION;
    env.corr = (++r->seq << IDX_BITS) | (uint64_t)i;
    env.actor = "pls-submitmany";
    env.body_case = PLS__ENVELOPE__BODY_SUBMIT;
    env.submit = &s;
    uint8_t *buf;
    size_t len;
    pls_proto_pack(&env, &buf, &len);
    int rc = zmq_send(r->sock, buf, len, ZMQ_DONTWAIT);
    free(buf);
    if (rc < 0)
        return -1;
    if (r->o[i].state == ST_NEW)
        r->sent++;
    else
        r->resent++;
    if (r->o[i].state != ST_OUT)
        r->outstanding++;
    r->o[i].state = ST_OUT;
    r->o[i].when_ms = pls_mono_ms();
    return 0;
}

static void on_reply(run_t *r, const Pls__Envelope *e)
{
    long i = (long)(e->corr & IDX_MASK);
    if (e->body_case != PLS__ENVELOPE__BODY_REPLY || i >= r->count)
        return;
    order_t *o = &r->o[i];
    if (o->state != ST_OUT && o->state != ST_RETRY)
        return; /* answered already (a reply to an earlier send) */
    const Pls__Reply *rep = e->reply;
    if (o->state == ST_OUT)
        r->outstanding--;
    if (rep->status == PLS_OK) {
        o->state = ST_DONE;
        r->acked++;
        r->duplicate += rep->duplicate;
        printf("%s%ld %s\n", r->prefix, i, rep->order);
        fflush(stdout);
    } else if (rep->status == PLS_UNAVAILABLE) {
        r->unavailable++;
        o->state = ST_RETRY;
        o->when_ms = pls_mono_ms() + 200;
    } else {
        o->state = ST_REFUSED;
        r->refused++;
        fprintf(stderr, "submitmany: %s%ld refused: %u %s\n", r->prefix, i, rep->status,
                rep->reason);
    }
}

static void receive_all(run_t *r)
{
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, r->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return;
        }
        char why[128];
        Pls__Envelope *e = pls_proto_unpack(zmq_msg_data(&m), zmq_msg_size(&m), why, sizeof(why));
        zmq_msg_close(&m);
        if (e) {
            on_reply(r, e);
            pls_proto_free(e);
        }
    }
}

int main(int argc, char **argv)
{
    run_t r;
    memset(&r, 0, sizeof(r));
    const char *broker = NULL;
    long deadline_s = 60;
    r.window = 256;
    r.resend_ms = 3000;
    r.service = "consult";
    r.origin = "dg";
    r.prefix = "load-";
    for (int i = 1; i < argc; i += 2) {
        if (i + 1 >= argc)
            return usage();
        const char *k = argv[i], *v = argv[i + 1];
        int bad = 0;
        if (strcmp(k, "--broker") == 0)
            broker = v;
        else if (strcmp(k, "--count") == 0)
            bad = pls_parse_long(v, 1, IDX_MASK, &r.count);
        else if (strcmp(k, "--window") == 0)
            bad = pls_parse_long(v, 1, 100000, &r.window);
        else if (strcmp(k, "--service") == 0)
            r.service = v;
        else if (strcmp(k, "--origin") == 0)
            r.origin = v;
        else if (strcmp(k, "--key-prefix") == 0)
            r.prefix = v;
        else if (strcmp(k, "--deadline-s") == 0)
            bad = pls_parse_long(v, 1, 3600, &deadline_s);
        else if (strcmp(k, "--resend-ms") == 0)
            bad = pls_parse_long(v, 10, 600000, &r.resend_ms);
        else
            return usage();
        if (bad)
            return usage();
    }
    if (!broker || !r.count || strlen(r.prefix) > 100)
        return usage();

    void *ctx = zmq_ctx_new();
    r.sock = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0, hwm = 0;
    zmq_setsockopt(r.sock, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(r.sock, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(r.sock, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    if (zmq_connect(r.sock, broker) != 0) {
        fprintf(stderr, "submitmany: could not connect to %s: %s\n", broker, zmq_strerror(errno));
        return 2;
    }
    r.o = calloc((size_t)r.count, sizeof(*r.o));
    if (!r.o)
        return 1;

    int64_t start = pls_mono_ms(), end = start + deadline_s * 1000, last_scan = 0;
    long next_new = 0;
    while (r.acked + r.refused < r.count && pls_mono_ms() < end) {
        /* first sends, in order, within the window */
        while (next_new < r.count && r.outstanding < r.window && send_one(&r, next_new) == 0)
            next_new++;
        /* resends: unanswered for resend_ms, or a 503 whose pause is over */
        int64_t now = pls_mono_ms();
        if (now - last_scan >= 50) {
            last_scan = now;
            for (long i = 0; i < next_new; i++) {
                order_t *o = &r.o[i];
                if ((o->state == ST_OUT && now - o->when_ms >= r.resend_ms) ||
                    (o->state == ST_RETRY && now >= o->when_ms && r.outstanding < r.window)) {
                    if (send_one(&r, i) != 0)
                        break;
                }
            }
        }
        zmq_pollitem_t it = {r.sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 20) > 0)
            receive_all(&r);
    }
    fprintf(stderr,
            "submitmany: acked %ld of %ld in %" PRId64
            " ms (sent %ld, resent %ld, 503 %ld, duplicate %ld, refused %ld)\n",
            r.acked, r.count, pls_mono_ms() - start, r.sent, r.resent, r.unavailable, r.duplicate,
            r.refused);
    free(r.o);
    zmq_close(r.sock);
    zmq_ctx_term(ctx);
    return r.acked == r.count ? 0 : 1;
}
