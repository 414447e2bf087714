/* Unit tests for plw_output: the --exec protocol's stdout lines, outcome
 * JSON, outcome rules, the end-of-run decision and text cleaning. */
#include "plw_output.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Collects the lines a splitter delivers. */
typedef struct lines_seen {
    char *line[16];
    int truncated[16];
    int n;
} lines_seen_t;

static void collect(const char *line, size_t len, int truncated, void *arg)
{
    lines_seen_t *s = arg;
    assert_true(s->n < 16);
    assert_int_equal(strlen(line), len);
    s->line[s->n] = strdup(line);
    s->truncated[s->n++] = truncated;
}

static void seen_free(lines_seen_t *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->line[i]);
}

static void test_lines_split_across_reads(void **state)
{
    (void)state;
    plw_lines_t l;
    lines_seen_t s = {0};
    plw_lines_init(&l, 64);
    /* lines arrive cut at arbitrary places, with \r\n, and a last line
     * without a newline */
    static const char *const parts[] = {"progress 1", "0 loading\r\nacc",
                                        "ept 张三\n\n{\"outcome\"", ":\"done\"}"};
    for (size_t i = 0; i < 4; i++)
        plw_lines_feed(&l, parts[i], strlen(parts[i]), collect, &s);
    assert_int_equal(s.n, 3);
    plw_lines_end(&l, collect, &s);
    assert_int_equal(s.n, 4);
    assert_string_equal(s.line[0], "progress 10 loading");
    assert_string_equal(s.line[1], "accept 张三");
    assert_string_equal(s.line[2], "");
    assert_string_equal(s.line[3], "{\"outcome\":\"done\"}");
    assert_int_equal(l.truncated, 0);
    seen_free(&s);
    plw_lines_cleanup(&l);
}

static void test_lines_truncated_not_crashing(void **state)
{
    (void)state;
    plw_lines_t l;
    lines_seen_t s = {0};
    plw_lines_init(&l, PLW_LINE_MAX);
    /* 200 KiB on one line, fed in 4 KiB chunks, then a normal line */
    char chunk[4096];
    memset(chunk, 'x', sizeof(chunk));
    for (int i = 0; i < 50; i++)
        plw_lines_feed(&l, chunk, sizeof(chunk), collect, &s);
    plw_lines_feed(&l, "\nprogress 100 done\n", 19, collect, &s);
    assert_int_equal(s.n, 2);
    assert_int_equal(strlen(s.line[0]), PLW_LINE_MAX);
    assert_true(s.truncated[0]);
    assert_string_equal(s.line[1], "progress 100 done");
    assert_false(s.truncated[1]);
    assert_int_equal(l.truncated, 1);
    /* memory stays bounded by the cap, not by the output */
    assert_true(l.cur.cap <= 2 * PLW_LINE_MAX + 64);
    seen_free(&s);
    plw_lines_cleanup(&l);
}

static void test_classify(void **state)
{
    (void)state;
    plw_line_t l;
    plw_line_classify("progress 40 checking the documents", &l);
    assert_int_equal(l.kind, PLW_LINE_PROGRESS);
    assert_int_equal(l.pct, 40);
    assert_string_equal(l.text, "checking the documents");
    plw_line_classify("progress 100", &l);
    assert_int_equal(l.kind, PLW_LINE_PROGRESS);
    assert_int_equal(l.pct, 100);
    assert_string_equal(l.text, "");
    plw_line_classify("  accept 王五 ", &l);
    assert_int_equal(l.kind, PLW_LINE_ACCEPT);
    assert_string_equal(l.text, "王五 ");
    plw_line_classify("{\"outcome\":\"x\"}", &l);
    assert_int_equal(l.kind, PLW_LINE_RESULT);
    plw_line_classify(" \t ", &l);
    assert_int_equal(l.kind, PLW_LINE_BLANK);
    plw_line_classify("progressing nicely", &l);
    assert_int_equal(l.kind, PLW_LINE_TEXT);
    plw_line_classify("accepted by the office", &l);
    assert_int_equal(l.kind, PLW_LINE_TEXT);
    /* malformed progress and accept lines are reported, not guessed */
    plw_line_classify("progress 101 too much", &l);
    assert_int_equal(l.kind, PLW_LINE_BAD);
    assert_non_null(strstr(l.why, "0-100"));
    plw_line_classify("progress -5", &l);
    assert_int_equal(l.kind, PLW_LINE_BAD);
    plw_line_classify("progress 5x", &l);
    assert_int_equal(l.kind, PLW_LINE_BAD);
    plw_line_classify("progress 99999999999999999999", &l);
    assert_int_equal(l.kind, PLW_LINE_BAD);
    plw_line_classify("progress", &l);
    assert_int_equal(l.kind, PLW_LINE_BAD);
    plw_line_classify("accept", &l);
    assert_int_equal(l.kind, PLW_LINE_BAD);
    assert_non_null(strstr(l.why, "person"));
}

static void test_result_parse(void **state)
{
    (void)state;
    plw_result_t r;
    char err[160];
    assert_int_equal(plw_result_parse("{\"outcome\":\"need_info\",\"note\":\"缺材料\","
                                      "\"items\":[\"身份证复印件\",\"劳动合同\"],\"days\":0}",
                                      &r, err, sizeof(err)),
                     0);
    assert_string_equal(r.outcome, "need_info");
    assert_string_equal(r.note, "缺材料");
    assert_int_equal(r.n_items, 2);
    assert_string_equal(r.items[1], "劳动合同");
    plw_result_cleanup(&r);

    assert_int_equal(plw_result_parse("{\"outcome\":\"extend\",\"days\":5,\"note\":\"expert\","
                                      "\"extra\":1}",
                                      &r, err, sizeof(err)),
                     0);
    assert_int_equal(r.days, 5);
    assert_int_equal(r.n_items, 0);
    plw_result_cleanup(&r);

    /* broken results say what is wrong */
    assert_int_equal(plw_result_parse("{\"outcome\":", &r, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "not JSON"));
    assert_int_equal(plw_result_parse("[1,2]", &r, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "object"));
    assert_int_equal(plw_result_parse("{\"note\":\"no outcome\"}", &r, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "outcome"));
    assert_int_equal(plw_result_parse("{\"outcome\":\"x\",\"days\":\"3\"}", &r, err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "days"));
    assert_int_equal(plw_result_parse("{\"outcome\":\"x\",\"days\":400}", &r, err, sizeof(err)),
                     -EINVAL);
    assert_int_equal(plw_result_parse("{\"outcome\":\"x\",\"items\":[1]}", &r, err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "items"));
    assert_int_equal(
        plw_result_parse("{\"outcome\":\"a\",\"outcome\":\"b\"}", &r, err, sizeof(err)), -EINVAL);
    assert_null(r.outcome); /* nothing half-filled is left behind */
}

static void test_result_note_cleaned(void **state)
{
    (void)state;
    plw_result_t r;
    char err[160];
    /* a 10000-byte note is cut to the protocol cap, control chars replaced */
    size_t n = 10000;
    char *json = malloc(n + 64);
    strcpy(json, "{\"outcome\":\"done\",\"note\":\"a\\u0001");
    size_t at = strlen(json);
    memset(json + at, 'b', n);
    strcpy(json + at + n, "\"}");
    assert_int_equal(plw_result_parse(json, &r, err, sizeof(err)), 0);
    assert_int_equal(strlen(r.note), 4096);
    assert_memory_equal(r.note, "a?bbb", 5);
    plw_result_cleanup(&r);
    free(json);
}

static void test_outcome_check(void **state)
{
    (void)state;
    const char *const outs[] = {"answered", "referred"};
    const char *const items[] = {"ID card copy"};
    char err[256];
    assert_int_equal(plw_outcome_check("referred", NULL, NULL, 0, 0, outs, 2, err, sizeof(err)), 0);
    assert_int_equal(plw_outcome_check("fail", "broke", NULL, 0, 0, outs, 2, err, sizeof(err)), 0);
    assert_int_equal(plw_outcome_check("return", "not ours", NULL, 0, 0, outs, 2, err, sizeof(err)),
                     0);
    assert_int_equal(plw_outcome_check("need_info", NULL, items, 1, 0, outs, 2, err, sizeof(err)),
                     0);
    assert_int_equal(
        plw_outcome_check("extend", "expert opinion", NULL, 0, 5, outs, 2, err, sizeof(err)), 0);
    /* an outcome the step does not have: the message lists what it has */
    assert_int_equal(plw_outcome_check("granted", NULL, NULL, 0, 0, outs, 2, err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "granted"));
    assert_non_null(strstr(err, "answered, referred"));
    assert_int_equal(plw_outcome_check("need_info", NULL, NULL, 0, 0, outs, 2, err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "items"));
    assert_int_equal(plw_outcome_check("extend", NULL, NULL, 0, 5, outs, 2, err, sizeof(err)),
                     -EINVAL);
    assert_int_equal(plw_outcome_check("extend", "why", NULL, 0, 0, outs, 2, err, sizeof(err)),
                     -EINVAL);
    assert_int_equal(plw_outcome_check("Answered", NULL, NULL, 0, 0, outs, 2, err, sizeof(err)),
                     -EINVAL);
    assert_int_equal(plw_outcome_check("", NULL, NULL, 0, 0, outs, 2, err, sizeof(err)), -EINVAL);
}

static void test_decide(void **state)
{
    (void)state;
    plw_result_t r;
    /* exit 0 without a result line: the default outcome */
    plw_output_decide(NULL, 0, 0, 0, 0, "answered", &r);
    assert_string_equal(r.outcome, "answered");
    plw_result_cleanup(&r);
    /* non-zero exit: fail, saying the status */
    plw_output_decide(NULL, 0, 3, 0, 0, "answered", &r);
    assert_string_equal(r.outcome, "fail");
    assert_string_equal(r.note, "handler exited with status 3");
    plw_result_cleanup(&r);
    plw_output_decide(NULL, 0, 0, 9, 0, "answered", &r);
    assert_string_equal(r.outcome, "fail");
    assert_non_null(strstr(r.note, "signal 9"));
    plw_result_cleanup(&r);
    /* the result line wins over the exit status */
    plw_output_decide("{\"outcome\":\"referred\",\"note\":\"to notary\"}", 0, 1, 0, 0, "answered",
                      &r);
    assert_string_equal(r.outcome, "referred");
    assert_string_equal(r.note, "to notary");
    plw_result_cleanup(&r);
    /* a malformed or cut result line is a failure, not the default */
    plw_output_decide("{\"outcome\":\"referred\"", 0, 0, 0, 0, "answered", &r);
    assert_string_equal(r.outcome, "fail");
    assert_non_null(strstr(r.note, "malformed outcome line"));
    plw_result_cleanup(&r);
    plw_output_decide("{\"outcome\":\"referred\"}", 1, 0, 0, 0, "answered", &r);
    assert_string_equal(r.outcome, "fail");
    assert_non_null(strstr(r.note, "longer than"));
    plw_result_cleanup(&r);
    /* signed for in staff custody, exit 0, no result: nothing to report */
    plw_output_decide(NULL, 0, 0, 0, 1, "answered", &r);
    assert_null(r.outcome);
    plw_result_cleanup(&r);
    /* no default outcome known */
    plw_output_decide(NULL, 0, 0, 0, 0, NULL, &r);
    assert_string_equal(r.outcome, "fail");
    plw_result_cleanup(&r);
}

static void test_text_clean(void **state)
{
    (void)state;
    char s[64];
    strcpy(s, "ok\ttab\x01\x7f\xff end");
    plw_text_clean(s, sizeof(s));
    assert_string_equal(s, "ok\ttab??? end");
    /* cut at a character boundary: 调 is 3 bytes */
    strcpy(s, "ab调解");
    plw_text_clean(s, 4);
    assert_string_equal(s, "ab");
    strcpy(s, "ab调解");
    plw_text_clean(s, 5);
    assert_string_equal(s, "ab调");
    /* a truncated multibyte sequence at the end */
    strcpy(s, "x\xe8\xb0");
    plw_text_clean(s, sizeof(s));
    assert_string_equal(s, "x??");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_split_across_reads),
        cmocka_unit_test(test_lines_truncated_not_crashing),
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_result_parse),
        cmocka_unit_test(test_result_note_cleaned),
        cmocka_unit_test(test_outcome_check),
        cmocka_unit_test(test_decide),
        cmocka_unit_test(test_text_clean),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
