/* Unit tests for bk_linkbody: link format 2 bodies (event rows after the JSON), their
 * checks, and the format-1 body made of one for an older peer. */
#include "bk_linkbody.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

static const char E1[] = "[{\"kind\":\"received\",\"note\":\"劳动合同\"}]";
static const char E2[] =
    "[{\"kind\":\"queued\",\"payload\":{\"dept\":\"consult\"}},{\"kind\":\"x\"}]";

/* {"snap":{...},"rows":[head(E1),head(E2)]}E1E2, as the broker writes it */
static void make_body(pls_buf_t *b)
{
    pls_buf_init(b);
    pls_buf_adds(b, "{\"snap\":{\"state\":\"queued\"},\"rows\":[");
    bk_lb_row_head(b, 1, 1, 1700000000000, strlen(E1));
    pls_buf_addc(b, ',');
    bk_lb_row_head(b, 2, 2, -5, strlen(E2));
    pls_buf_adds(b, "]}");
    pls_buf_adds(b, E1);
    pls_buf_adds(b, E2);
}

/* The check's verdict on a body; why gets the reason. */
static int check(const char *body, char *why, size_t whysz)
{
    const char *tail;
    size_t tail_len;
    json_error_t err;
    json_t *j = bk_lb_parse(body, strlen(body), &tail, &tail_len, &err);
    if (!j) {
        snprintf(why, whysz, "parse: %.100s", err.text);
        return -1;
    }
    int rc = bk_lb_check(j, tail, tail_len, why, whysz);
    json_decref(j);
    return rc;
}

static void test_round_trip(void **state)
{
    (void)state;
    pls_buf_t b;
    make_body(&b);
    assert_true(bk_lb_has_tail(b.data));
    const char *tail;
    size_t tail_len;
    json_error_t err;
    json_t *j = bk_lb_parse(b.data, b.len, &tail, &tail_len, &err);
    assert_non_null(j);
    assert_int_equal(tail_len, strlen(E1) + strlen(E2));
    char why[160] = "";
    assert_int_equal(bk_lb_check(j, tail, tail_len, why, sizeof(why)), 0);
    json_t *rows = json_object_get(j, "rows");
    size_t off = 0, len;
    char *alloc;
    const char *e = bk_lb_entries(json_array_get(rows, 0), tail, &off, &len, &alloc);
    assert_null(alloc);
    assert_int_equal(len, strlen(E1)); /* bytes, not characters */
    assert_memory_equal(e, E1, len);
    e = bk_lb_entries(json_array_get(rows, 1), tail, &off, &len, &alloc);
    assert_memory_equal(e, E2, len);
    assert_int_equal(off, tail_len);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(rows, 1), "at")), -5);
    json_decref(j);
    pls_buf_cleanup(&b);
}

static void test_format1_accepted(void **state)
{
    (void)state;
    const char body[] =
        "{\"snap\":{},\"rows\":[{\"seq\":1,\"n\":1,\"at\":0,\"entries\":[{\"k\":1}]}]}";
    char why[160];
    assert_false(bk_lb_has_tail(body));
    assert_int_equal(check(body, why, sizeof(why)), 0);
    json_t *j = json_loads(body, 0, NULL);
    size_t off = 0, len;
    char *alloc;
    const char *e =
        bk_lb_entries(json_array_get(json_object_get(j, "rows"), 0), "", &off, &len, &alloc);
    assert_non_null(alloc);
    assert_string_equal(e, "[{\"k\":1}]");
    assert_int_equal(len, 9);
    free(alloc);
    json_decref(j);
    /* no rows at all: also fine */
    assert_int_equal(check("{\"snap\":{}}", why, sizeof(why)), 0);
}

static void test_bad_bodies(void **state)
{
    (void)state;
    char why[160];
    static const struct {
        const char *body, *why;
    } bad[] = {
        {"{\"rows\":[{\"len\":3}]}[1,", "row 0: its entries are not a JSON array"},
        {"{\"rows\":[{\"len\":2}]}{}", "row 0: its entries are not a JSON array"},
        {"{\"rows\":[{\"len\":4}]}[\"\xff\"]", "row 0: its entries are not a JSON array"},
        {"{\"rows\":[{\"len\":9}]}[]", "row 0: its entries (\"len\") run past the message's end"},
        {"{\"rows\":[{\"len\":-1}]}[]", "row 0: its entries (\"len\") run past the message's end"},
        {"{\"rows\":[{\"len\":\"2\"}]}[]",
         "row 0: its entries (\"len\") run past the message's end"},
        {"{\"rows\":[{\"len\":2}]}[] ", "1 bytes after the body that no row's \"len\" accounts"},
        {"{\"rows\":[]}[]", "2 bytes after the body that no row's \"len\" accounts for"},
        {"{\"rows\":[{\"seq\":1}]}", "row 0 has neither \"len\" nor \"entries\""},
        {"{\"rows\":[{\"entries\":{}}]}", "row 0 has neither \"len\" nor \"entries\""},
        {"{\"rows\":{}}", "\"rows\" is not an array"},
        {"{\"rows\":[{\"len\":2},{\"len\":2}]}[][1", "row 1: its entries are not a JSON array"},
        {"{\"rows\":[{\"len\":10}]}[\"\\u0000\"]", "row 0: a string holds \\u0000"},
        {"{\"rows\":[{\"len\":10}]}[\"\\udc00\"]",
         "row 0: a low surrogate escape without its high one"},
        {"{\"rows\":[{\"len\":16}]}[\"\\ud800\\u0041\"]",
         "row 0: a high surrogate escape without its low one"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why[0] = '\0';
        if (check(bad[i].body, why, sizeof(why)) == 0)
            fail_msg("accepted: %s", bad[i].body);
        if (!strstr(why, bad[i].why))
            fail_msg("%s: reason '%s', expected '%s'", bad[i].body, why, bad[i].why);
    }
    /* not a JSON object at all */
    assert_int_equal(check("[1]", why, sizeof(why)), -1);
    assert_int_equal(check("{\"a\":", why, sizeof(why)), -1);
}

static void test_depth(void **state)
{
    (void)state;
    char deep[200], body[300], why[160];
    for (int d = BK_LB_DEPTH_MAX; d <= BK_LB_DEPTH_MAX + 1; d++) {
        memset(deep, '[', (size_t)d);
        memset(deep + d, ']', (size_t)d);
        deep[2 * d] = '\0';
        snprintf(body, sizeof(body), "{\"rows\":[{\"len\":%d}]}%s", 2 * d, deep);
        assert_int_equal(check(body, why, sizeof(why)), d <= BK_LB_DEPTH_MAX ? 0 : -1);
        if (d > BK_LB_DEPTH_MAX)
            assert_string_equal(why, "row 0: its entries nest deeper than 32");
    }
}

static void test_legacy(void **state)
{
    (void)state;
    pls_buf_t b;
    make_body(&b);
    char *old = bk_lb_legacy(b.data);
    assert_non_null(old);
    assert_false(bk_lb_has_tail(old));
    json_t *got = json_loads(old, 0, NULL);
    assert_non_null(got);
    char want_text[512];
    snprintf(want_text, sizeof(want_text),
             "{\"snap\":{\"state\":\"queued\"},\"rows\":[{\"seq\":1,\"n\":1,\"at\":1700000000000,"
             "\"entries\":%s},{\"seq\":2,\"n\":2,\"at\":-5,\"entries\":%s}]}",
             E1, E2);
    json_t *want = json_loads(want_text, 0, NULL);
    assert_non_null(want);
    assert_true(json_equal(got, want));
    json_decref(got);
    json_decref(want);
    free(old);
    /* a body without a tail is copied; a malformed one gives NULL */
    old = bk_lb_legacy("{\"rows\":[]}");
    assert_string_equal(old, "{\"rows\":[]}");
    free(old);
    assert_null(bk_lb_legacy("{\"rows\":[{\"len\":3}]}[1,"));
    /* yajl checks no number's size: no format-1 body rather than empty entries */
    assert_null(bk_lb_legacy("{\"rows\":[{\"seq\":1,\"n\":1,\"len\":22}]}[99999999999999999999]"));
    /* a surrogate pair and escapes survive the rewrite */
    old = bk_lb_legacy("{\"rows\":[{\"len\":20}]}[\"\\ud83d\\ude00\\n\\\\\"]");
    assert_non_null(old);
    json_t *e = json_loads(old, 0, NULL);
    assert_non_null(e);
    assert_string_equal(
        json_string_value(json_array_get(
            json_object_get(json_array_get(json_object_get(e, "rows"), 0), "entries"), 0)),
        "\xf0\x9f\x98\x80\n\\");
    json_decref(e);
    free(old);
    pls_buf_cleanup(&b);
}

/* The object bk_lb_parse gives is the one json_loads gives, for bodies of every kind of
 * value; what follows the object is the tail. */
static void test_parse_like_jansson(void **state)
{
    (void)state;
    static const char *const docs[] = {
        "{}",
        " {\"a\":1}",
        "{\"snap\":{\"state\":\"queued\",\"step\":2,\"due_ms\":-1795774565614,\"owner\":\"dg\"},"
        "\"rows\":[{\"seq\":1,\"n\":3,\"at\":1795774565614,\"len\":2}]}",
        "{\"order\":{\"desc\":\"劳动合同纠纷\\n\\u00e9\\ud83d\\ude00\\\"\",\"priority\":0,"
        "\"plan\":[{\"name\":\"咨询\",\"dept\":\"consult\"}],\"fields\":null,"
        "\"x\":[true,false,null,1.5,-2e3,[],{}]},\"n\":9223372036854775807}",
        "{\"dup\":1,\"dup\":2}",
        /* escaped keys, then values that yajl decodes in the same buffer */
        "{\"\\u0061b\":1.5,\"\\u0063d\":\"x\\ny\",\"e\\tf\":{\"\\u00e9\":\"\\u00e8\\u00e8\"}}",
        "{\"a\\\"b\":\"\\ud83d\\ude00\",\"k\\\\\":[\"\\u0041\\u0042\"]}",
    };
    for (size_t i = 0; i <= sizeof(docs) / sizeof(docs[0]); i++) {
        char body[8300], big[8192];
        if (i == sizeof(docs) / sizeof(docs[0])) {
            /* an escaped key, then an escaped value of 4 KiB: yajl's buffer grows */
            size_t n = (size_t)snprintf(big, sizeof(big), "{\"\\u006b\":\"");
            for (int k = 0; k < 4096 / 6; k++)
                n += (size_t)snprintf(big + n, sizeof(big) - n, "\\u00e9");
            snprintf(big + n, sizeof(big) - n, "\",\"z\\u007a\":2.25}");
        }
        const char *doc = i < sizeof(docs) / sizeof(docs[0]) ? docs[i] : big;
        snprintf(body, sizeof(body), "%s[1,2]", doc);
        const char *tail;
        size_t tail_len;
        json_error_t err;
        json_t *got = bk_lb_parse(body, strlen(body), &tail, &tail_len, &err);
        if (!got)
            fail_msg("%.200s: %s", doc, err.text);
        json_t *want = json_loads(doc, 0, &err);
        assert_non_null(want);
        if (!json_equal(got, want))
            fail_msg("%.200s: not what json_loads gives", doc);
        assert_int_equal(tail_len, 5);
        assert_memory_equal(tail, "[1,2]", 5);
        json_decref(got);
        json_decref(want);
    }
}

static void test_parse_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *body, *why;
    } bad[] = {
        {"", "premature EOF"},
        {"   ", "premature EOF"},
        {"{\"a\":", "premature EOF"},
        {"[1]", "not a JSON object"},
        {"17", "not a JSON object"},
        {"\"s\"", "not a JSON object"},
        {"{\"a\":tru}", "invalid"},
        {"{\"a\":\"\xff\"}", "invalid"},
        {"{\"a\":\"x\\u0000y\"}", "a string holds \\u0000"},
        {"{\"a\\u0000\":1}", "a key holds \\u0000"},
        {"{\"a\":99999999999999999999}", "integer overflow"},
        {"{\"a\":1 /* c */}", "comments are not enabled"},
        {"{\"a\":\"\\udc00\"}", "a low surrogate escape without its high one"},
        {"{\"a\":\"\\ud800x\"}", "a high surrogate escape without its low one"},
        {"{\"a\":\"\\ud800\\u0041\"}", "a high surrogate escape without its low one"},
        {"{\"a\":\"\\ud800\"}", "a high surrogate escape without its low one"},
        {"{\"\\ud800\":1}", "a high surrogate escape without its low one"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *tail;
        size_t tail_len;
        json_error_t err;
        json_t *j = bk_lb_parse(bad[i].body, strlen(bad[i].body), &tail, &tail_len, &err);
        if (j)
            fail_msg("accepted: %s", bad[i].body);
        if (!strstr(err.text, bad[i].why))
            fail_msg("%s: reason '%s', expected '%s'", bad[i].body, err.text, bad[i].why);
    }
    /* nesting: 64 levels are taken, 65 are not */
    for (int d = 64; d <= 65; d++) {
        char body[256];
        size_t n = 0;
        for (int k = 0; k < d; k++)
            n += (size_t)snprintf(body + n, sizeof(body) - n, "%s", k ? "[" : "{\"a\":");
        for (int k = 1; k < d; k++)
            body[n++] = ']';
        body[n++] = '}';
        body[n] = '\0';
        const char *tail;
        size_t tail_len;
        json_error_t err;
        json_t *j = bk_lb_parse(body, n, &tail, &tail_len, &err);
        if (d == 64) {
            assert_non_null(j);
            assert_int_equal(tail_len, 0);
        } else {
            assert_null(j);
            assert_string_equal(err.text, "nested deeper than 64");
        }
        json_decref(j);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),     cmocka_unit_test(test_format1_accepted),
        cmocka_unit_test(test_bad_bodies),     cmocka_unit_test(test_depth),
        cmocka_unit_test(test_legacy),         cmocka_unit_test(test_parse_like_jansson),
        cmocka_unit_test(test_parse_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
