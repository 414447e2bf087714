/* Unit tests for ctl_run: what plsctl prints and the exit code it returns for
 * each kind of answer (DESIGN §3), first through a fake transport, then over
 * real ZeroMQ against an in-process fake broker to check what is resent:
 * submits with the same key, queries on timeout and 503, other actions only
 * on 503. */
#include "ctl_run.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define ORDER_ID "0192f0a4-6c1e-7d3a-9b2e-3f1a2b3c4d5e"
#define ORDER_NO "DG-HM-20261126-0042"

/* ---- a fake transport ----------------------------------------------------------------------- */

typedef struct fake {
    int calls;           /* times the transport was used */
    char endpoint[128];  /* the last endpoint */
    ctl_send_t send;     /* the last resend policy */
    int timeout_ms;      /* the last timeout */
    Pls__Envelope *sent; /* owned: the last envelope, as the broker would see it */
    int rc;              /* returned instead of a reply when not 0 */
    uint32_t status;     /* the reply */
    const char *reason;
    const char *json;
    int duplicate;
} fake_t;

static int fake_call(void *ctx, const char *endpoint, Pls__Envelope *env, ctl_send_t send,
                     int timeout_ms, Pls__Envelope **reply, char *err, size_t errsz)
{
    fake_t *f = ctx;
    f->calls++;
    snprintf(f->endpoint, sizeof(f->endpoint), "%s", endpoint);
    f->send = send;
    f->timeout_ms = timeout_ms;
    uint8_t *buf;
    size_t len;
    char reason[128];
    pls_proto_pack(env, &buf, &len);
    pls_proto_free(f->sent);
    f->sent = pls_proto_unpack(buf, len, reason, sizeof(reason));
    free(buf);
    if (f->rc) {
        if (f->rc == -EINVAL)
            snprintf(err, errsz, "could not connect to %s: Invalid argument", endpoint);
        return f->rc;
    }
    pls_proto_pack_reply(env->corr, f->status, f->reason, ORDER_ID, ORDER_NO, f->duplicate, f->json,
                         &buf, &len);
    *reply = pls_proto_unpack(buf, len, reason, sizeof(reason));
    free(buf);
    return 0;
}

/* What one run printed. */
typedef struct result {
    int rc;
    char *out; /* owned */
    char *err; /* owned */
} result_t;

static void result_free(result_t *r)
{
    free(r->out);
    free(r->err);
}

/* Run a NULL-terminated plsctl command line (without "plsctl") as main does. */
static result_t run_v(ctl_call_fn *call, void *ctx, char **argv)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    result_t r;
    size_t olen, elen;
    FILE *out = open_memstream(&r.out, &olen), *err = open_memstream(&r.err, &elen);
    ctl_io_t io = {stdin, out, err, call, ctx};
    ctl_args_t g;
    ctl_args_init(&g, ctl_global_opts);
    int next = 0;
    assert_int_equal(ctl_args_parse(&g, argc, argv, CTL_ARGS_STOP_AT_POSITIONAL, &next), 0);
    r.rc = ctl_run(&g, argc - next, argv + next, &io);
    ctl_args_cleanup(&g);
    fclose(out);
    fclose(err);
    return r;
}
#define RUN(f, ...) run_v(fake_call, (f), (char *[]){__VA_ARGS__, NULL})

static fake_t fake;

static int setup(void **state)
{
    (void)state;
    memset(&fake, 0, sizeof(fake));
    fake.status = 200;
    fake.reason = "ok";
    setenv("PLS_OPERATOR", "ops-dg", 1);
    unsetenv("PLS_BROKER");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    pls_proto_free(fake.sent);
    fake.sent = NULL;
    return 0;
}

static void test_submit_prints_id_alone(void **state)
{
    (void)state;
    result_t r =
        RUN(&fake, "submit", "--service", "consult", "--origin", "dg.humen", "--desc", "咨询");
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, ORDER_ID "\n");
    assert_string_equal(r.err, "");
    assert_int_equal(fake.send, CTL_SEND_RETRY);
    assert_int_equal(fake.timeout_ms, 5000);
    assert_string_equal(fake.endpoint, "tcp://127.0.0.1:7700");
    assert_string_equal(fake.sent->actor, "ops-dg");
    result_free(&r);

    r = RUN(&fake, "--json", "submit", "--service", "consult", "--origin", "dg.humen", "--desc",
            "咨询");
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "{\n  \"id\": \"" ORDER_ID "\",\n  \"number\": \"" ORDER_NO
                               "\",\n  \"duplicate\": false\n}\n");
    result_free(&r);
}

static void test_refused_exit_1(void **state)
{
    (void)state;
    fake.status = 409;
    fake.reason = "order is closed";
    result_t r = RUN(&fake, "requeue", ORDER_NO);
    assert_int_equal(r.rc, CTL_EXIT_REFUSED);
    assert_string_equal(r.err, "plsctl: 409 order is closed\n");
    assert_string_equal(r.out, "");
    assert_int_equal(fake.send, CTL_SEND_ONLY_503);
    result_free(&r);

    fake.status = 404;
    fake.reason = "no such order";
    r = RUN(&fake, "--json", "show", ORDER_NO);
    assert_int_equal(r.rc, CTL_EXIT_REFUSED);
    assert_string_equal(r.err, "plsctl: 404 no such order\n");
    assert_string_equal(r.out, ""); /* nothing on stdout, not even JSON */
    result_free(&r);
}

static void test_unreachable_exit_3(void **state)
{
    (void)state;
    fake.rc = -ETIMEDOUT;
    result_t r = RUN(&fake, "status");
    assert_int_equal(r.rc, CTL_EXIT_UNREACHABLE);
    assert_string_equal(r.err, "plsctl: no answer from tcp://127.0.0.1:7700 within 5 s\n");
    result_free(&r);

    setenv("PLS_BROKER", "tcp://10.1.2.3:7700", 1);
    r = RUN(&fake, "--timeout", "0.5", "list");
    assert_int_equal(r.rc, CTL_EXIT_UNREACHABLE);
    assert_string_equal(r.err, "plsctl: no answer from tcp://10.1.2.3:7700 within 0.5 s\n");
    assert_int_equal(fake.timeout_ms, 500);
    result_free(&r);

    fake.rc = -EINVAL;
    r = RUN(&fake, "--broker", "nowhere", "status");
    assert_int_equal(r.rc, CTL_EXIT_USAGE);
    assert_string_equal(r.err,
                        "plsctl: --broker: could not connect to nowhere: Invalid argument\n");
    result_free(&r);
}

static void test_usage_sends_nothing(void **state)
{
    (void)state;
    result_t r =
        RUN(&fake, "rate", ORDER_NO, "--attitude", "9", "--efficiency", "1", "--competence", "1");
    assert_int_equal(r.rc, CTL_EXIT_USAGE);
    assert_string_equal(r.err, "plsctl: rate: --attitude: not a whole number from 1 to 5: '9'\n"
                               "(plsctl rate --help explains it)\n");
    assert_string_equal(r.out, "");
    result_free(&r);
    r = RUN(&fake, "shwo", ORDER_NO);
    assert_int_equal(r.rc, CTL_EXIT_USAGE);
    assert_string_equal(r.err, "plsctl: unknown command 'shwo' (did you mean 'show'?)\n");
    result_free(&r);
    assert_int_equal(fake.calls, 0);
}

static void test_help(void **state)
{
    (void)state;
    result_t r = RUN(&fake, "need-info", "--help");
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "usage: plsctl [global options] need-info ID --items ITEM"));
    assert_non_null(strstr(r.out, "need-info approve|refuse ID"));
    assert_non_null(strstr(r.out, "examples:"));
    result_free(&r);
    r = RUN(&fake, "help", "submit");
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "--desc TEXT"));
    assert_non_null(strstr(r.out, "from standard input"));
    result_free(&r);
    r = RUN(&fake, "help");
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "exit status:"));
    assert_non_null(strstr(r.out, "tcp://127.0.0.1:7700"));
    result_free(&r);
    assert_int_equal(fake.calls, 0);
}

static void test_queries_print(void **state)
{
    (void)state;
    fake.json = "{\"orders\":[{\"number\":\"" ORDER_NO "\",\"state\":\"queued\"}]}";
    result_t r = RUN(&fake, "list", "--json", "--state", "queued");
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "{\n  \"orders\": [\n    {\n      \"number\": \"" ORDER_NO
                               "\",\n      \"state\": \"queued\"\n    }\n  ]\n}\n");
    assert_int_equal(fake.send, CTL_SEND_RETRY);
    result_free(&r);
    r = RUN(&fake, "list", "--state", "queued");
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, ORDER_NO));
    assert_non_null(strstr(r.out, "1 order "));
    result_free(&r);

    fake.json = "<html>";
    r = RUN(&fake, "status");
    assert_int_equal(r.rc, CTL_EXIT_REFUSED);
    assert_non_null(strstr(r.err, "plsctl: the broker's answer is not JSON"));
    result_free(&r);
}

static void test_action_output(void **state)
{
    (void)state;
    fake.reason = "A post of legal_aid at dg.humen is away";
    result_t r = RUN(&fake, "post", "away", "legal_aid", "dg.humen");
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "post away legal_aid dg.humen: A post of legal_aid at dg.humen "
                               "is away\n");
    result_free(&r);
    fake.reason = "";
    r = RUN(&fake, "accept", ORDER_NO, "--as", "李律师", "--json");
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "{\n  \"status\": 200,\n  \"reason\": \"\"\n}\n");
    assert_string_equal(fake.sent->action->person, "李律师");
    result_free(&r);
}

/* ---- a fake broker over real ZeroMQ -----------------------------------------------------------
 */

/* What the broker does with the n-th request: 'd' drop it, 'u' answer 503,
 * 'c' answer 409, 'o' answer 200, 'D' answer 200 as a duplicate, 's' answer
 * 200 after 1.8 s (plsctl resends after 1 s). Past the script's end its last letter. */
typedef struct broker {
    void *ctx;
    void *sock; /* ROUTER, used by the thread only once started */
    char endpoint[64];
    pthread_t thread;
    pthread_mutex_t mu; /* guards everything below */
    int stop;
    const char *script;
    int n; /* requests seen */
    char keys[16][PLS_MAX_KEY + 1];
    uint64_t corrs[16];
} broker_t;

static void *broker_main(void *arg)
{
    broker_t *b = arg;
    for (;;) {
        pthread_mutex_lock(&b->mu);
        int stop = b->stop;
        pthread_mutex_unlock(&b->mu);
        if (stop)
            return NULL;
        zmq_pollitem_t it = {b->sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 20) <= 0)
            continue;
        zmq_msg_t id, m;
        zmq_msg_init(&id);
        zmq_msg_init(&m);
        zmq_msg_recv(&id, b->sock, 0);
        zmq_msg_recv(&m, b->sock, 0);
        char reason[128];
        Pls__Envelope *e =
            pls_proto_unpack(zmq_msg_data(&m), zmq_msg_size(&m), reason, sizeof(reason));
        pthread_mutex_lock(&b->mu);
        int i = b->n++;
        size_t len = strlen(b->script);
        char what = b->script[(size_t)i < len ? (size_t)i : len - 1];
        if (e && i < 16) {
            b->corrs[i] = e->corr;
            if (e->body_case == PLS__ENVELOPE__BODY_SUBMIT)
                snprintf(b->keys[i], sizeof(b->keys[i]), "%s", e->submit->key);
        }
        pthread_mutex_unlock(&b->mu);
        if (what == 's') {
            struct timespec slow = {1, 800000000L};
            nanosleep(&slow, NULL);
        }
        if (e && what != 'd') {
            uint32_t status = what == 'u' ? 503 : what == 'c' ? 409 : 200;
            const char *why = what == 'u' ? "store unavailable" : what == 'c' ? "conflict" : "ok";
            uint8_t *buf;
            size_t blen;
            pls_proto_pack_reply(e->corr, status, why, ORDER_ID, ORDER_NO, what == 'D',
                                 "{\"node\":\"dg\"}", &buf, &blen);
            zmq_send(b->sock, zmq_msg_data(&id), zmq_msg_size(&id), ZMQ_SNDMORE);
            zmq_send(b->sock, buf, blen, 0);
            free(buf);
        }
        pls_proto_free(e);
        zmq_msg_close(&id);
        zmq_msg_close(&m);
    }
}

static void broker_start(broker_t *b, const char *script)
{
    memset(b, 0, sizeof(*b));
    pthread_mutex_init(&b->mu, NULL);
    b->script = script;
    b->ctx = zmq_ctx_new();
    b->sock = zmq_socket(b->ctx, ZMQ_ROUTER);
    int linger = 0;
    zmq_setsockopt(b->sock, ZMQ_LINGER, &linger, sizeof(linger));
    assert_int_equal(zmq_bind(b->sock, "tcp://127.0.0.1:*"), 0);
    size_t len = sizeof(b->endpoint);
    zmq_getsockopt(b->sock, ZMQ_LAST_ENDPOINT, b->endpoint, &len);
    assert_int_equal(pthread_create(&b->thread, NULL, broker_main, b), 0);
}

static void broker_stop(broker_t *b)
{
    pthread_mutex_lock(&b->mu);
    b->stop = 1;
    pthread_mutex_unlock(&b->mu);
    pthread_join(b->thread, NULL);
    zmq_close(b->sock);
    zmq_ctx_term(b->ctx);
    pthread_mutex_destroy(&b->mu);
}

static int broker_seen(broker_t *b)
{
    pthread_mutex_lock(&b->mu);
    int n = b->n;
    pthread_mutex_unlock(&b->mu);
    return n;
}

/* The requests seen once there are at least n, or after 5 s: a copy plsctl
 * resent may reach the fake broker after plsctl has its answer and exits. */
static int broker_seen_wait(broker_t *b, int n)
{
    for (int i = 0; i < 500 && broker_seen(b) < n; i++) {
        struct timespec ts = {0, 10000000L};
        nanosleep(&ts, NULL);
    }
    return broker_seen(b);
}

#define RUN_REAL(...) run_v(ctl_run_call, NULL, (char *[]){__VA_ARGS__, NULL})

static void test_submit_resent_with_same_key(void **state)
{
    (void)state;
    broker_t b;
    broker_start(&b, "do"); /* the first copy is lost */
    result_t r = RUN_REAL("--broker", b.endpoint, "--timeout", "5", "submit", "--service",
                          "consult", "--origin", "dg.humen", "--desc", "咨询");
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, ORDER_ID "\n");
    assert_int_equal(broker_seen(&b), 2);
    assert_int_equal(strlen(b.keys[0]), 36);
    assert_string_equal(b.keys[0], b.keys[1]); /* one key: the broker makes one order */
    assert_true(b.corrs[0] != b.corrs[1]);
    result_free(&r);
    broker_stop(&b);
}

/* The first copy is answered late, after plsctl resent it: the first answer
 * (a new order) is the one shown, not the second's "duplicate". */
static void test_submit_late_answer_is_not_a_duplicate(void **state)
{
    (void)state;
    broker_t b;
    broker_start(&b, "sD");
    result_t r = RUN_REAL("--broker", b.endpoint, "--json", "submit", "--service", "consult",
                          "--origin", "dg.humen", "--desc", "咨询");
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "\"duplicate\": false"));
    assert_int_equal(broker_seen_wait(&b, 2), 2);
    result_free(&r);
    broker_stop(&b);
}

static void test_action_not_resent_on_timeout(void **state)
{
    (void)state;
    broker_t b;
    broker_start(&b, "d");
    char msg[160];
    result_t r = RUN_REAL("--broker", b.endpoint, "--timeout", "1.5", "requeue", ORDER_NO);
    snprintf(msg, sizeof(msg), "plsctl: no answer from %s within 1.5 s\n", b.endpoint);
    assert_int_equal(r.rc, CTL_EXIT_UNREACHABLE);
    assert_string_equal(r.err, msg);
    assert_int_equal(broker_seen(&b), 1);
    result_free(&r);
    broker_stop(&b);
}

static void test_action_resent_after_503(void **state)
{
    (void)state;
    broker_t b;
    broker_start(&b, "uo");
    result_t r = RUN_REAL("--broker", b.endpoint, "requeue", ORDER_NO);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "requeue " ORDER_NO ": ok\n");
    assert_int_equal(broker_seen(&b), 2);
    result_free(&r);
    broker_stop(&b);
}

static void test_query_503_until_timeout(void **state)
{
    (void)state;
    broker_t b;
    broker_start(&b, "u");
    result_t r = RUN_REAL("--broker", b.endpoint, "--timeout", "1", "status");
    assert_int_equal(r.rc, CTL_EXIT_REFUSED);
    assert_string_equal(r.err, "plsctl: 503 store unavailable\n");
    assert_true(broker_seen(&b) >= 2); /* resent while time was left */
    result_free(&r);
    broker_stop(&b);

    broker_start(&b, "c");
    r = RUN_REAL("--broker", b.endpoint, "withdraw", ORDER_NO);
    assert_int_equal(r.rc, CTL_EXIT_REFUSED);
    assert_string_equal(r.err, "plsctl: 409 conflict\n");
    assert_int_equal(broker_seen(&b), 1);
    result_free(&r);
    broker_stop(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_submit_prints_id_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_exit_1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unreachable_exit_3, setup, teardown),
        cmocka_unit_test_setup_teardown(test_usage_sends_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_help, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queries_print, setup, teardown),
        cmocka_unit_test_setup_teardown(test_action_output, setup, teardown),
        cmocka_unit_test_setup_teardown(test_submit_resent_with_same_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_submit_late_answer_is_not_a_duplicate, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_action_not_resent_on_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_action_resent_after_503, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query_503_until_timeout, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
