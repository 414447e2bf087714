/* Unit tests for pls_proto: unpacking garbage and validation rules. */
#include "pls_proto.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

static char reason[256];

static int check_submit(Pls__SubmitRequest *s)
{
    Pls__Envelope env;
    pls__envelope__init(&env);
    env.version = 1;
    env.body_case = PLS__ENVELOPE__BODY_SUBMIT;
    env.submit = s;
    /* round trip through the wire format, as the broker sees it */
    uint8_t *buf;
    size_t len;
    pls_proto_pack(&env, &buf, &len);
    Pls__Envelope *e = pls_proto_unpack(buf, len, reason, sizeof(reason));
    free(buf);
    assert_non_null(e);
    int st = pls_proto_validate(e, reason, sizeof(reason));
    pls_proto_free(e);
    return st;
}

static void base_submit(Pls__SubmitRequest *s)
{
    pls__submit_request__init(s);
    s->service = "consult";
    s->origin = "dg.humen";
    s->desc = "工资被拖欠三个月";
}

static void test_garbage(void **state)
{
    (void)state;
    const char junk[] = "\xff\xff\xff\xff garbage";
    assert_null(pls_proto_unpack(junk, sizeof(junk), reason, sizeof(reason)));
    assert_non_null(strstr(reason, "malformed"));
}

static void test_valid_submit(void **state)
{
    (void)state;
    Pls__SubmitRequest s;
    base_submit(&s);
    assert_int_equal(check_submit(&s), 0);
}

static void test_bad_node(void **state)
{
    (void)state;
    Pls__SubmitRequest s;
    base_submit(&s);
    s.locality = "DG/Humen";
    assert_int_equal(check_submit(&s), PLS_BAD_REQUEST);
    assert_non_null(strstr(reason, "locality: not a node id"));
}

static void test_oversized_desc(void **state)
{
    (void)state;
    Pls__SubmitRequest s;
    base_submit(&s);
    char *big = malloc(200 * 1024 + 1);
    memset(big, 'a', 200 * 1024);
    big[200 * 1024] = '\0';
    s.desc = big;
    assert_int_equal(check_submit(&s), PLS_TOO_LARGE);
    assert_string_equal(reason, "desc: longer than 16384 bytes");
    free(big);
}

static void test_bad_utf8_and_enum(void **state)
{
    (void)state;
    Pls__SubmitRequest s;
    base_submit(&s);
    s.desc = "bad \xc3\x28 text";
    assert_int_equal(check_submit(&s), PLS_BAD_REQUEST);
    assert_string_equal(reason, "desc: not valid UTF-8");
    base_submit(&s);
    s.priority = (Pls__Priority)7;
    assert_int_equal(check_submit(&s), PLS_BAD_REQUEST);
    assert_string_equal(reason, "priority: value out of range");
}

static void test_missing_fields(void **state)
{
    (void)state;
    Pls__SubmitRequest s;
    base_submit(&s);
    s.desc = "";
    assert_int_equal(check_submit(&s), PLS_BAD_REQUEST);
    assert_string_equal(reason, "desc: required");
    base_submit(&s);
    s.service = "Consult!";
    assert_int_equal(check_submit(&s), PLS_BAD_REQUEST);
    assert_non_null(strstr(reason, "service: not a code"));
}

static void test_empty_envelope(void **state)
{
    (void)state;
    Pls__Envelope env;
    pls__envelope__init(&env);
    env.version = 1;
    assert_int_equal(pls_proto_validate(&env, reason, sizeof(reason)), PLS_BAD_REQUEST);
    assert_string_equal(reason, "body: empty or unknown message");
}

/* A link message refused with status and a reason containing what. */
static void link_msg_refused(const Pls__LinkMsg *m, int status, const char *what)
{
    assert_int_equal(pls_proto_link_msg_check(m, reason, sizeof(reason)), status);
    assert_non_null(strstr(reason, what));
}

/* A LinkBatch passes with a bad message in it (its receiver skips that one);
 * each message is checked on its own. */
static void test_link_msgs(void **state)
{
    (void)state;
    char *to[9] = {"dg", "dg", "dg", "dg", "dg", "dg", "dg", "dg", "dg"};
    Pls__LinkMsg m;
    pls__link_msg__init(&m);
    m.seq = 1;
    m.from = "dg.humen";
    m.to = to;
    m.n_to = 1;
    m.kind = "forward";
    m.order = "018f0000-0000-7000-8000-000000000001";
    m.body = "{}";
    assert_int_equal(pls_proto_link_msg_check(&m, reason, sizeof(reason)), 0);
    Pls__LinkMsg bad = m;
    Pls__LinkMsg *msgs[2] = {&m, &bad};
    Pls__LinkBatch lb;
    pls__link_batch__init(&lb);
    lb.node = "dg.humen";
    lb.msgs = msgs;
    lb.n_msgs = 2;
    Pls__Envelope env;
    pls__envelope__init(&env);
    env.version = 1;
    env.body_case = PLS__ENVELOPE__BODY_LINK;
    env.link = &lb;

    bad.n_to = 0;
    assert_int_equal(pls_proto_validate(&env, reason, sizeof(reason)), 0);
    link_msg_refused(&bad, PLS_BAD_REQUEST, "to: one to eight nodes");
    bad.n_to = 9;
    link_msg_refused(&bad, PLS_BAD_REQUEST, "to: one to eight nodes");
    bad = m;
    to[1] = "";
    bad.to = &to[1];
    link_msg_refused(&bad, PLS_BAD_REQUEST, "to: required");
    bad = m;
    bad.from = "DG..x";
    link_msg_refused(&bad, PLS_BAD_REQUEST, "from: not a node id");
    bad = m;
    bad.kind = "Forward!";
    link_msg_refused(&bad, PLS_BAD_REQUEST, "kind: not a code");
    bad = m;
    bad.order = "DG-HM-1";
    link_msg_refused(&bad, PLS_BAD_REQUEST, "order: ");
    bad = m;
    bad.body = "{\"x\":\"\xff\"}";
    link_msg_refused(&bad, PLS_BAD_REQUEST, "body: not valid UTF-8");
    char *big = malloc(PLS_MAX_ENVELOPE + 2);
    assert_non_null(big);
    memset(big, 'x', PLS_MAX_ENVELOPE + 1);
    big[PLS_MAX_ENVELOPE + 1] = '\0';
    bad = m;
    bad.body = big;
    link_msg_refused(&bad, PLS_TOO_LARGE, "body: longer than");
    free(big);
    /* what still refuses the whole batch: a message without a sequence number */
    bad = m;
    bad.seq = 0;
    assert_int_equal(pls_proto_validate(&env, reason, sizeof(reason)), PLS_BAD_REQUEST);
    assert_string_equal(reason, "msgs.seq: required");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_garbage),           cmocka_unit_test(test_valid_submit),
        cmocka_unit_test(test_bad_node),          cmocka_unit_test(test_oversized_desc),
        cmocka_unit_test(test_bad_utf8_and_enum), cmocka_unit_test(test_missing_fields),
        cmocka_unit_test(test_empty_envelope),    cmocka_unit_test(test_link_msgs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
