/*
 * pls-fedload — submits a list of orders to one broker, as a town's desks and
 * the hotline would, and prints every order the broker acknowledged. For the
 * federation tests (tests/integration/test_fed_*.sh); not installed.
 *
 *   pls-fedload --broker EP [--rate R (0 = as fast as the window allows)]
 *               [--window W (128)] [--resend-ms MS (3000)] [--deadline-s S (120)]
 *               [--actor NAME (pls-fedload)] [--in FILE (stdin)] [--out FILE (stdout)]
 *
 * Input: one order per line, fields separated by tabs ('-' = empty):
 *     KEY SERVICE ORIGIN LOCALITY CHANNEL SITE PRIORITY DESC
 * with CHANNEL desk|hotline|web|platform and PRIORITY normal|urgent.
 *
 * Order i is sent at the earliest at start + i / R (open loop) and while
 * fewer than W submits are unanswered. Like plsctl, an unanswered submit is
 * resent with the same key after --resend-ms (a broker killed and restarted
 * answers the resend; its idempotency key makes it the same order) and a 503
 * is resent after a short pause. Any other refusal is final (stderr).
 *
 * Output: "KEY ID" for each acknowledged order, flushed line by line.
 * stderr: "fedload: acked A of N in T ms (sent S, resent R, 503 U,
 *          duplicate D, refused F)".
 * Exit status: 0 every order acknowledged, 1 not all before the deadline or
 * some refused, 2 usage or unreadable input.
 */
#include "pls_proto.h"
#include "pls_time.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

enum { ST_NEW, ST_OUT, ST_RETRY, ST_DONE, ST_REFUSED };

#define IDX_BITS 24
#define IDX_MASK ((1u << IDX_BITS) - 1)
#define NFIELDS 8

typedef struct order {
    char *f[NFIELDS]; /* owned: key service origin locality channel site priority desc */
    int state;
    int64_t when_ms; /* ST_OUT: sent at; ST_RETRY: resend at */
} order_t;

typedef struct run {
    void *sock;
    const char *actor;
    long count, window, resend_ms;
    double rate;
    order_t *o;
    long next; /* the next order never sent */
    long outstanding, acked, refused;
    long sent, resent, unavailable, duplicate;
    uint64_t seq;
} run_t;

static int usage(void)
{
    fprintf(stderr, "usage: pls-fedload --broker EP [--rate R] [--window W] [--resend-ms MS] "
                    "[--deadline-s S] [--actor NAME] [--in ORDERS.tsv] [--out FILE]\n"
                    "  ORDERS.tsv: KEY SERVICE ORIGIN LOCALITY CHANNEL SITE PRIORITY DESC, "
                    "tab-separated, '-' = empty\n");
    return 2;
}

static char *field(order_t *o, int i)
{
    return strcmp(o->f[i], "-") == 0 ? NULL : o->f[i];
}

static int channel_of(const char *s, int *out)
{
    static const char *const names[] = {"desk", "hotline", "web", "platform"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = i;
            return 0;
        }
    return -1;
}

/* Reads the orders from stdin; returns the count or -1. */
static long read_orders(run_t *r)
{
    size_t cap = 1024, n = 0;
    r->o = calloc(cap, sizeof(*r->o));
    char *line = NULL;
    size_t linecap = 0;
    ssize_t len;
    long lineno = 0;
    while ((len = getline(&line, &linecap, stdin)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0)
            continue;
        if (n == cap) {
            cap *= 2;
            r->o = realloc(r->o, cap * sizeof(*r->o));
            if (!r->o)
                abort();
        }
        order_t *o = &r->o[n];
        memset(o, 0, sizeof(*o));
        char *p = line;
        for (int i = 0; i < NFIELDS; i++) {
            char *tab = i < NFIELDS - 1 ? strchr(p, '\t') : NULL;
            if (i < NFIELDS - 1 && !tab) {
                fprintf(stderr, "fedload: stdin:%ld: expected %d tab-separated fields\n", lineno,
                        NFIELDS);
                free(line);
                return -1;
            }
            if (tab)
                *tab = '\0';
            o->f[i] = strdup(p);
            p = tab ? tab + 1 : p;
        }
        int ch;
        if (channel_of(o->f[4], &ch) != 0 ||
            (strcmp(o->f[6], "normal") != 0 && strcmp(o->f[6], "urgent") != 0) || !field(o, 0) ||
            !field(o, 1) || !field(o, 2)) {
            fprintf(stderr, "fedload: stdin:%ld: bad key, service, origin, channel or priority\n",
                    lineno);
            free(line);
            return -1;
        }
        if (++n > IDX_MASK) {
            fprintf(stderr, "fedload: too many orders (at most %u)\n", IDX_MASK);
            free(line);
            return -1;
        }
    }
    free(line);
    return (long)n;
}

/* Sends order i; returns 0, or -1 when the socket cannot take it now. */
static int send_one(run_t *r, long i)
{
    order_t *o = &r->o[i];
    Pls__Envelope env;
    Pls__SubmitRequest s;
    pls__envelope__init(&env);
    pls__submit_request__init(&s);
    s.key = field(o, 0);
    s.service = field(o, 1);
    s.origin = field(o, 2);
    s.locality = field(o, 3);
    int ch = 0;
    (void)channel_of(o->f[4], &ch);
    s.channel = (Pls__Channel)ch;
    s.site = field(o, 5);
    s.priority = strcmp(o->f[6], "urgent") == 0 ? PLS__PRIORITY__PRIORITY_URGENT
                                                : PLS__PRIORITY__PRIORITY_NORMAL;
    s.desc = field(o, 7) ? field(o, 7) : "-";
    env.version = PLS_PROTO_VERSION;
    env.corr = (++r->seq << IDX_BITS) | (uint64_t)i;
    env.actor = (char *)(uintptr_t)r->actor;
    env.body_case = PLS__ENVELOPE__BODY_SUBMIT;
    env.submit = &s;
    uint8_t *buf;
    size_t len;
    pls_proto_pack(&env, &buf, &len);
    int rc = zmq_send(r->sock, buf, len, ZMQ_DONTWAIT);
    free(buf);
    if (rc < 0)
        return -1;
    if (o->state == ST_NEW)
        r->sent++;
    else
        r->resent++;
    if (o->state != ST_OUT)
        r->outstanding++;
    o->state = ST_OUT;
    o->when_ms = pls_mono_ms();
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
        printf("%s %s\n", o->f[0], rep->order);
        fflush(stdout);
    } else if (rep->status == PLS_UNAVAILABLE) {
        if (r->unavailable++ == 0)
            fprintf(stderr, "fedload: %s: 503 %s (resending; only the first 503 is shown)\n",
                    o->f[0], rep->reason);
        o->state = ST_RETRY;
        o->when_ms = pls_mono_ms() + 200;
    } else {
        o->state = ST_REFUSED;
        r->refused++;
        fprintf(stderr, "fedload: %s refused: %u %s\n", o->f[0], rep->status, rep->reason);
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

/* Resends what timed out or waited after a 503, then sends new orders as the
 * rate and the window allow. The resend scan (scan != 0) runs every 100 ms. */
static void send_due(run_t *r, int64_t start, int64_t now, int scan)
{
    for (long i = 0; scan && i < r->next; i++) {
        order_t *o = &r->o[i];
        if ((o->state == ST_OUT && now - o->when_ms >= r->resend_ms) ||
            (o->state == ST_RETRY && now >= o->when_ms)) {
            if (o->state == ST_OUT) {
                r->outstanding--;
                o->state = ST_RETRY;
            }
            if (send_one(r, i) != 0)
                return;
        }
    }
    while (r->next < r->count && r->outstanding < r->window) {
        if (r->rate > 0 && (double)(now - start) < (double)r->next * 1000.0 / r->rate)
            break;
        if (send_one(r, r->next) != 0)
            break;
        r->next++;
    }
}

int main(int argc, char **argv)
{
    run_t r;
    memset(&r, 0, sizeof(r));
    const char *broker = NULL;
    long deadline_s = 120, rate_x1000 = 0;
    r.window = 128;
    r.resend_ms = 3000;
    r.actor = "pls-fedload";
    for (int i = 1; i < argc; i += 2) {
        if (i + 1 >= argc)
            return usage();
        const char *k = argv[i], *v = argv[i + 1];
        int bad = 0;
        if (strcmp(k, "--broker") == 0) {
            broker = v;
        } else if (strcmp(k, "--rate") == 0) {
            char *end;
            double d = strtod(v, &end);
            bad = *end || d < 0 || d > 1e6;
            rate_x1000 = (long)(d * 1000);
        } else if (strcmp(k, "--window") == 0) {
            bad = pls_parse_long(v, 1, 100000, &r.window);
        } else if (strcmp(k, "--resend-ms") == 0) {
            bad = pls_parse_long(v, 10, 600000, &r.resend_ms);
        } else if (strcmp(k, "--deadline-s") == 0) {
            bad = pls_parse_long(v, 1, 86400, &deadline_s);
        } else if (strcmp(k, "--actor") == 0) {
            r.actor = v;
        } else if (strcmp(k, "--in") == 0) {
            if (!freopen(v, "r", stdin)) {
                fprintf(stderr, "fedload: %s: %s\n", v, strerror(errno));
                return 2;
            }
        } else if (strcmp(k, "--out") == 0) {
            if (!freopen(v, "a", stdout)) {
                fprintf(stderr, "fedload: %s: %s\n", v, strerror(errno));
                return 2;
            }
        } else {
            return usage();
        }
        if (bad)
            return usage();
    }
    if (!broker)
        return usage();
    r.rate = (double)rate_x1000 / 1000.0;
    r.count = read_orders(&r);
    if (r.count < 0)
        return 2;

    void *ctx = zmq_ctx_new();
    r.sock = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0, hwm = 0, ivl = 100;
    zmq_setsockopt(r.sock, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(r.sock, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(r.sock, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(r.sock, ZMQ_RECONNECT_IVL, &ivl, sizeof(ivl));
    if (zmq_connect(r.sock, broker) != 0) {
        fprintf(stderr, "fedload: could not connect to %s: %s\n", broker, zmq_strerror(errno));
        return 2;
    }

    int64_t start = pls_mono_ms(), end = start + deadline_s * 1000, last_scan = start;
    while (r.acked + r.refused < r.count) {
        int64_t now = pls_mono_ms();
        if (now >= end)
            break;
        int scan = now - last_scan >= 100;
        if (scan)
            last_scan = now;
        send_due(&r, start, now, scan);
        zmq_pollitem_t it = {r.sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 10) > 0)
            receive_all(&r);
    }
    fprintf(stderr,
            "fedload: acked %ld of %ld in %lld ms (sent %ld, resent %ld, 503 %ld, duplicate %ld, "
            "refused %ld)\n",
            r.acked, r.count, (long long)(pls_mono_ms() - start), r.sent, r.resent, r.unavailable,
            r.duplicate, r.refused);
    zmq_close(r.sock);
    zmq_ctx_term(ctx);
    for (long i = 0; i < r.count; i++)
        for (int j = 0; j < NFIELDS; j++)
            free(r.o[i].f[j]);
    free(r.o);
    return r.acked == r.count ? 0 : 1;
}
