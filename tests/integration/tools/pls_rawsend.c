/*
 * pls-rawsend — a test client that sends a broker what plsctl never sends:
 * raw frames, envelopes that skip plsctl's own validation, and worker reports
 * with a chosen attempt and token. Used by tests/integration/test_single_*.sh;
 * not installed.
 *
 *   pls-rawsend --broker EP [--timeout-ms N] frame --bytes N [--fill BYTE] [--frames K]
 *       K frames (default 1) of N bytes each, every byte BYTE (decimal,
 *       default 255: not a protobuf envelope).
 *   pls-rawsend ... submit --service S --origin O [--locality L]
 *                          [--desc TEXT | --desc-bytes N] [--key K]
 *       a SubmitRequest exactly as given (a --desc-bytes description is N
 *       bytes of 'x').
 *   pls-rawsend ... report --dept D --scope S ORDER ATTEMPT TOKEN OUTCOME
 *       first a Ready as a staff-custody worker of D at S with credit 0 (so
 *       nothing is assigned to it), then a Report OUTCOME for ORDER with
 *       ATTEMPT and TOKEN (16 hex digits, as in the `assigned` event).
 *   pls-rawsend ... link --node N --to T [--first S] [--format F] [--listen-ms M]
 *       a child command center N of the broker (whose node is T): a Hello
 *       (saying it reads link format F, default 0: none given), then one
 *       LinkBatch of the link messages read from stdin, one per line,
 *       "KIND<TAB>ORDER<TAB>BODY[<TAB>TO]" (BODY the text as sent; TO the
 *       message's destination, T by default), with sequence numbers S, S + 1,
 *       ... (S default 1); then waits for the broker's acknowledgement of them
 *       all (at most 64 messages). With --listen-ms it then receives for M ms
 *       more and prints every link message the broker sent it, in order of
 *       arrival, as "msg SEQ<TAB>KIND<TAB>ORDER<TAB>BODY" before the ack line;
 *       it acknowledges none of them.
 *
 * Output, one line on stdout: "STATUS REASON" of the (last) reply, followed
 * by " order=ID" when the reply names an order; "disconnected" when the
 * broker closed the connection without answering; "no reply" on timeout.
 * For link: "ack N", the highest acknowledgement seen ("ack 0" for none).
 * Exit status: 0 a reply or a disconnection was seen (link: every message
 * acknowledged), 1 nothing within the timeout (default 5000 ms) or a
 * refused Ready, 2 usage.
 */
#include "pls_proto.h"
#include "pls_time.h"
#include "pls_util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

typedef struct raw {
    void *ctx;
    void *sock;    /* DEALER to the broker */
    void *mon;     /* PAIR receiving the DEALER's monitor events */
    int connected; /* a CONNECTED event was seen */
    int disconnected;
    int timeout_ms;
} raw_t;

static int usage(void)
{
    fprintf(stderr,
            "usage: pls-rawsend --broker EP [--timeout-ms N] frame --bytes N [--fill BYTE] "
            "[--frames K]\n"
            "       pls-rawsend --broker EP [--timeout-ms N] submit --service S --origin O "
            "[--locality L] [--desc TEXT | --desc-bytes N] [--key K]\n"
            "       pls-rawsend --broker EP [--timeout-ms N] report --dept D --scope S ORDER "
            "ATTEMPT TOKEN OUTCOME\n"
            "       pls-rawsend --broker EP [--timeout-ms N] link --node N --to T [--first S] "
            "[--format F] [--listen-ms M] < MESSAGES\n");
    return 2;
}

/* Reads one monitor event if there is one; records (dis)connections. */
static void read_monitor(raw_t *r)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, r->mon, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&m);
        return;
    }
    uint16_t ev = 0;
    if (zmq_msg_size(&m) >= 2)
        memcpy(&ev, zmq_msg_data(&m), 2);
    int more = zmq_msg_more(&m);
    zmq_msg_close(&m);
    while (more) {
        zmq_msg_init(&m);
        zmq_msg_recv(&m, r->mon, 0);
        more = zmq_msg_more(&m);
        zmq_msg_close(&m);
    }
    if (ev == ZMQ_EVENT_CONNECTED)
        r->connected = 1;
    else if (ev == ZMQ_EVENT_DISCONNECTED && r->connected)
        r->disconnected = 1;
}

/* routing_id: NULL, or the DEALER's routing id (a child broker's is
 * "link:NODE", which lets it send up to the 1 MiB frame). */
static int raw_open(raw_t *r, const char *endpoint, const char *routing_id)
{
    r->ctx = zmq_ctx_new();
    r->sock = zmq_socket(r->ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(r->sock, ZMQ_LINGER, &zero, sizeof(zero));
    if (routing_id)
        zmq_setsockopt(r->sock, ZMQ_ROUTING_ID, routing_id, strlen(routing_id));
    if (zmq_socket_monitor(r->sock, "inproc://rawsend-monitor",
                           ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED) != 0)
        return -1;
    r->mon = zmq_socket(r->ctx, ZMQ_PAIR);
    if (zmq_connect(r->mon, "inproc://rawsend-monitor") != 0)
        return -1;
    if (zmq_connect(r->sock, endpoint) != 0) {
        fprintf(stderr, "pls-rawsend: could not connect to %s: %s\n", endpoint,
                zmq_strerror(errno));
        return -1;
    }
    /* wait for the TCP connection, so that what is sent really goes out */
    int64_t deadline = pls_mono_ms() + r->timeout_ms;
    while (!r->connected && pls_mono_ms() < deadline) {
        zmq_pollitem_t it = {r->mon, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 50) > 0)
            read_monitor(r);
    }
    if (!r->connected) {
        fprintf(stderr, "pls-rawsend: not connected to %s\n", endpoint);
        return -1;
    }
    return 0;
}

static void raw_close(raw_t *r)
{
    if (r->mon)
        zmq_close(r->mon);
    if (r->sock) {
        zmq_socket_monitor(r->sock, NULL, 0);
        zmq_close(r->sock);
    }
    if (r->ctx)
        zmq_ctx_term(r->ctx);
}

/* Waits until deadline for an envelope of the given body (a reply: with
 * corr, any corr when corr is 0). Returns it, or NULL with r->disconnected
 * set or on timeout. */
static Pls__Envelope *wait_env(raw_t *r, Pls__Envelope__BodyCase body, uint64_t corr,
                               int64_t deadline)
{
    while (pls_mono_ms() < deadline && !r->disconnected) {
        zmq_pollitem_t its[2] = {{r->sock, 0, ZMQ_POLLIN, 0}, {r->mon, 0, ZMQ_POLLIN, 0}};
        if (zmq_poll(its, 2, 50) <= 0)
            continue;
        if (its[1].revents & ZMQ_POLLIN)
            read_monitor(r);
        if (!(its[0].revents & ZMQ_POLLIN))
            continue;
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, r->sock, 0) < 0) {
            zmq_msg_close(&m);
            continue;
        }
        char why[128];
        Pls__Envelope *e = pls_proto_unpack(zmq_msg_data(&m), zmq_msg_size(&m), why, sizeof(why));
        zmq_msg_close(&m);
        if (e && e->body_case == body &&
            (body != PLS__ENVELOPE__BODY_REPLY || corr == 0 || e->corr == corr))
            return e;
        pls_proto_free(e); /* a push (Assign, Revoke), another reply, or not an envelope */
    }
    return NULL;
}

static Pls__Envelope *wait_reply(raw_t *r, uint64_t corr)
{
    return wait_env(r, PLS__ENVELOPE__BODY_REPLY, corr, pls_mono_ms() + r->timeout_ms);
}

static int print_outcome(const raw_t *r, Pls__Envelope *e)
{
    if (e) {
        printf("%u %s", e->reply->status, e->reply->reason);
        if (e->reply->order && *e->reply->order)
            printf(" order=%s", e->reply->order);
        printf("\n");
        pls_proto_free(e);
        return 0;
    }
    if (r->disconnected) {
        printf("disconnected\n");
        return 0;
    }
    printf("no reply\n");
    return 1;
}

static int send_env(raw_t *r, Pls__Envelope *env)
{
    uint8_t *buf;
    size_t len;
    pls_proto_pack(env, &buf, &len);
    int rc = zmq_send(r->sock, buf, len, 0);
    free(buf);
    return rc < 0 ? -1 : 0;
}

static const char *opt_value(int argc, char **argv, const char *name)
{
    for (int i = 0; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return NULL;
}

static int cmd_frame(raw_t *r, int argc, char **argv)
{
    const char *bytes = opt_value(argc, argv, "--bytes");
    const char *fill = opt_value(argc, argv, "--fill");
    const char *frames = opt_value(argc, argv, "--frames");
    long n, b = 255, k = 1;
    if (!bytes || pls_parse_long(bytes, 1, 64L * 1024 * 1024, &n) != 0 ||
        (fill && pls_parse_long(fill, 0, 255, &b) != 0) ||
        (frames && pls_parse_long(frames, 1, 16, &k) != 0))
        return usage();
    uint8_t *buf = malloc((size_t)n);
    if (!buf)
        return 1;
    memset(buf, (int)b, (size_t)n);
    int rc = 0;
    for (long i = 0; i < k && rc == 0; i++)
        rc = zmq_send(r->sock, buf, (size_t)n, i + 1 < k ? ZMQ_SNDMORE : 0) < 0 ? -1 : 0;
    free(buf);
    if (rc) {
        fprintf(stderr, "pls-rawsend: send: %s\n", zmq_strerror(errno));
        return 1;
    }
    return print_outcome(r, wait_reply(r, 0));
}

static int cmd_submit(raw_t *r, int argc, char **argv)
{
    Pls__Envelope env;
    Pls__SubmitRequest s;
    pls__envelope__init(&env);
    pls__submit_request__init(&s);
    const char *service = opt_value(argc, argv, "--service");
    const char *origin = opt_value(argc, argv, "--origin");
    const char *locality = opt_value(argc, argv, "--locality");
    const char *desc = opt_value(argc, argv, "--desc");
    const char *desc_bytes = opt_value(argc, argv, "--desc-bytes");
    const char *key = opt_value(argc, argv, "--key");
    if (!service || !origin)
        return usage();
    char *big = NULL;
    if (desc_bytes) {
        long n;
        if (pls_parse_long(desc_bytes, 1, 512L * 1024, &n) != 0)
            return usage();
        big = malloc((size_t)n + 1);
        if (!big)
            return 1;
        memset(big, 'x', (size_t)n);
        big[n] = '\0';
        desc = big;
    }
    s.service = (char *)(uintptr_t)service;
    s.origin = (char *)(uintptr_t)origin;
    if (locality)
        s.locality = (char *)(uintptr_t)locality;
    s.desc = (char *)(uintptr_t)(desc ? desc : "sent by pls-rawsend");
    if (key)
        s.key = (char *)(uintptr_t)key;
    env.version = PLS_PROTO_VERSION;
    env.corr = 1;
    env.actor = "pls-rawsend";
    env.body_case = PLS__ENVELOPE__BODY_SUBMIT;
    env.submit = &s;
    int rc = send_env(r, &env);
    free(big);
    if (rc)
        return 1;
    return print_outcome(r, wait_reply(r, 1));
}

static int cmd_report(raw_t *r, int argc, char **argv)
{
    const char *dept = opt_value(argc, argv, "--dept");
    const char *scope = opt_value(argc, argv, "--scope");
    /* positionals: what is left after the two options */
    const char *pos[4];
    int n_pos = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--dept") == 0 || strcmp(argv[i], "--scope") == 0) {
            i++;
            continue;
        }
        if (n_pos == 4)
            return usage();
        pos[n_pos++] = argv[i];
    }
    long attempt;
    char *end;
    if (!dept || !scope || n_pos != 4 || pls_parse_long(pos[1], 0, 65535, &attempt) != 0)
        return usage();
    errno = 0;
    uint64_t token = strtoull(pos[2], &end, 16);
    if (errno || *end || !*pos[2])
        return usage();

    /* Ready: a staff worker with no credit */
    Pls__Envelope env;
    Pls__Ready rd;
    pls__envelope__init(&env);
    pls__ready__init(&rd);
    char name[64];
    snprintf(name, sizeof(name), "pls-rawsend:%ld", (long)getpid());
    char *depts[1] = {(char *)(uintptr_t)dept};
    rd.depts = depts;
    rd.n_depts = 1;
    rd.scope = (char *)(uintptr_t)scope;
    rd.role = PLS__ROLE__ROLE_A;
    rd.custody = PLS__CUSTODY__CUSTODY_STAFF;
    rd.credit = 0;
    rd.name = name;
    env.version = PLS_PROTO_VERSION;
    env.corr = 1;
    env.actor = name;
    env.body_case = PLS__ENVELOPE__BODY_READY;
    env.ready = &rd;
    if (send_env(r, &env) != 0)
        return 1;
    Pls__Envelope *rep = wait_reply(r, 1);
    if (!rep || rep->reply->status != PLS_OK) {
        printf("ready refused: ");
        print_outcome(r, rep);
        return 1;
    }
    pls_proto_free(rep);

    Pls__Report rp;
    pls__envelope__init(&env);
    pls__report__init(&rp);
    rp.kind = PLS__REPORT_KIND__REPORT_OUTCOME;
    rp.order = (char *)(uintptr_t)pos[0];
    rp.attempt = (uint32_t)attempt;
    rp.token = token;
    rp.outcome = (char *)(uintptr_t)pos[3];
    rp.note = "reported by pls-rawsend";
    env.version = PLS_PROTO_VERSION;
    env.corr = 2;
    env.actor = name;
    env.body_case = PLS__ENVELOPE__BODY_REPORT;
    env.report = &rp;
    if (send_env(r, &env) != 0)
        return 1;
    return print_outcome(r, wait_reply(r, 2));
}

#define LINK_MSGS_MAX 64

static int cmd_link(raw_t *r, int argc, char **argv)
{
    const char *node = opt_value(argc, argv, "--node");
    const char *to = opt_value(argc, argv, "--to");
    const char *first_s = opt_value(argc, argv, "--first");
    const char *format_s = opt_value(argc, argv, "--format");
    const char *listen_s = opt_value(argc, argv, "--listen-ms");
    uint64_t first = first_s ? strtoull(first_s, NULL, 10) : 1;
    long format = 0, listen_ms = 0;
    if (!node || !to || first < 1 ||
        (format_s && pls_parse_long(format_s, 0, 1000, &format) != 0) ||
        (listen_s && pls_parse_long(listen_s, 1, 600000, &listen_ms) != 0))
        return usage();
    Pls__LinkMsg msgs[LINK_MSGS_MAX], *pm[LINK_MSGS_MAX];
    char *lines[LINK_MSGS_MAX];
    char *tos[LINK_MSGS_MAX];
    size_t n = 0, cap = 0;
    char *line = NULL;
    const char *bad = NULL;
    while (n < LINK_MSGS_MAX && getline(&line, &cap, stdin) > 0) {
        line[strcspn(line, "\n")] = '\0';
        char *kind = line, *order = strchr(kind, '\t');
        char *body = order ? strchr(order + 1, '\t') : NULL;
        if (!body) {
            bad = "a line is not KIND<TAB>ORDER<TAB>BODY[<TAB>TO]";
            break;
        }
        *order++ = '\0';
        *body++ = '\0';
        char *to_here = strchr(body, '\t'); /* a JSON text has no raw tab */
        if (to_here)
            *to_here++ = '\0';
        tos[n] = to_here ? to_here : (char *)(uintptr_t)to;
        pls__link_msg__init(&msgs[n]);
        msgs[n].seq = first + n;
        msgs[n].from = (char *)(uintptr_t)node;
        msgs[n].to = &tos[n];
        msgs[n].n_to = 1;
        msgs[n].kind = kind;
        msgs[n].order = order;
        msgs[n].body = body;
        pm[n] = &msgs[n];
        lines[n++] = line;
        line = NULL;
        cap = 0;
    }
    if (!bad && n == LINK_MSGS_MAX && getline(&line, &cap, stdin) > 0)
        bad = "more than 64 messages (LINK_MSGS_MAX)";
    free(line);
    if (bad) {
        fprintf(stderr, "pls-rawsend: link: %s\n", bad);
        for (size_t i = 0; i < n; i++)
            free(lines[i]);
        return 2;
    }

    Pls__Envelope env;
    Pls__Hello h;
    pls__envelope__init(&env);
    pls__hello__init(&h);
    h.node = (char *)(uintptr_t)node;
    h.wall_ms = pls_wall_ms();
    h.link_format = (uint32_t)format;
    env.version = PLS_PROTO_VERSION;
    env.body_case = PLS__ENVELOPE__BODY_HELLO;
    env.hello = &h;
    int64_t deadline = pls_mono_ms() + r->timeout_ms;
    pls_buf_t heard; /* the broker's link messages, printed at the end */
    pls_buf_init(&heard);
    uint64_t acked = 0;
    Pls__Envelope *e = NULL;
    if (send_env(r, &env) == 0 && (e = wait_env(r, PLS__ENVELOPE__BODY_HELLO, 0, deadline))) {
        pls_proto_free(e);
        Pls__LinkBatch lb;
        pls__link_batch__init(&lb);
        lb.node = (char *)(uintptr_t)node;
        lb.msgs = pm;
        lb.n_msgs = n;
        pls__envelope__init(&env);
        env.version = PLS_PROTO_VERSION;
        env.body_case = PLS__ENVELOPE__BODY_LINK;
        env.link = &lb;
        if (send_env(r, &env) == 0)
            for (int64_t until = 0;;) {
                if (acked >= first + n - 1 && !until) {
                    if (!listen_ms)
                        break;
                    until = pls_mono_ms() + listen_ms;
                }
                if (!(e = wait_env(r, PLS__ENVELOPE__BODY_LINK, 0, until ? until : deadline)))
                    break;
                if (e->link->ack > acked)
                    acked = e->link->ack;
                for (size_t i = 0; listen_ms && i < e->link->n_msgs; i++) {
                    const Pls__LinkMsg *m = e->link->msgs[i];
                    pls_buf_printf(&heard, "msg %llu\t%s\t%s\t%s\n", (unsigned long long)m->seq,
                                   m->kind, m->order, m->body);
                }
                pls_proto_free(e);
            }
    }
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    fwrite(heard.data ? heard.data : "", 1, heard.len, stdout);
    pls_buf_cleanup(&heard);
    printf("ack %llu\n", (unsigned long long)acked);
    return acked >= first + n - 1 ? 0 : 1;
}

int main(int argc, char **argv)
{
    const char *broker = NULL;
    long timeout_ms = 5000;
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (i + 1 >= argc)
            return usage();
        if (strcmp(argv[i], "--broker") == 0)
            broker = argv[i + 1];
        else if (strcmp(argv[i], "--timeout-ms") == 0) {
            if (pls_parse_long(argv[i + 1], 1, 600000, &timeout_ms) != 0)
                return usage();
        } else
            return usage();
    }
    if (!broker || i >= argc)
        return usage();
    const char *cmd = argv[i++];
    raw_t r;
    memset(&r, 0, sizeof(r));
    r.timeout_ms = (int)timeout_ms;
    int rc;
    if (strcmp(cmd, "frame") != 0 && strcmp(cmd, "submit") != 0 && strcmp(cmd, "report") != 0 &&
        strcmp(cmd, "link") != 0)
        return usage();
    char rid[160];
    const char *link_node =
        strcmp(cmd, "link") == 0 ? opt_value(argc - i, argv + i, "--node") : NULL;
    if (link_node)
        snprintf(rid, sizeof(rid), "link:%s", link_node);
    if (raw_open(&r, broker, link_node ? rid : NULL) != 0) {
        raw_close(&r);
        return 1;
    }
    if (strcmp(cmd, "frame") == 0)
        rc = cmd_frame(&r, argc - i, argv + i);
    else if (strcmp(cmd, "submit") == 0)
        rc = cmd_submit(&r, argc - i, argv + i);
    else if (strcmp(cmd, "report") == 0)
        rc = cmd_report(&r, argc - i, argv + i);
    else
        rc = cmd_link(&r, argc - i, argv + i);
    fflush(stdout);
    raw_close(&r);
    return rc;
}
