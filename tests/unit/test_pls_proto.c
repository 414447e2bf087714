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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_garbage),           cmocka_unit_test(test_valid_submit),
        cmocka_unit_test(test_bad_node),          cmocka_unit_test(test_oversized_desc),
        cmocka_unit_test(test_bad_utf8_and_enum), cmocka_unit_test(test_missing_fields),
        cmocka_unit_test(test_empty_envelope),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
