/* Unit tests for ctl_out: what an operator reads for canned broker documents
 * (DESIGN §3), and that --json passes the broker's document through unchanged. */
#include "ctl_out.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char show_json[] =
    "{\"id\":\"0192f0a4-6c1e-7d3a-9b2e-3f1a2b3c4d5e\",\"number\":\"DG-HM-20261126-0042\","
    "\"service\":\"legal_aid\",\"state\":\"in_progress\",\"step\":1,\"node\":\"dg\","
    "\"origin\":\"dg.humen.baisha\",\"locality\":\"dg.humen.baisha\",\"channel\":\"hotline\","
    "\"priority\":\"urgent\",\"created_at\":\"2026-11-26T07:33:10.123Z\","
    "\"due_at\":\"2026-12-03T16:00:00.000Z\","
    "\"citizen\":{\"name\":\"张**\",\"phone\":\"*******5678\",\"id_number\":\"**************1234\"}"
    ","
    "\"steps\":[{\"name\":\"review\",\"dept\":\"legal_aid\",\"scope\":\"dg.humen\","
    "\"outcome\":\"pass\"},{\"name\":\"decide\",\"dept\":\"legal_aid\",\"scope\":\"dg\","
    "\"outcome\":null},{\"name\":\"assign\",\"dept\":\"legal_aid\",\"scope\":\"dg\","
    "\"outcome\":null}],"
    "\"events\":[{\"seq\":1,\"at\":\"2026-11-26T07:33:10.123Z\",\"node\":\"dg.humen\","
    "\"actor\":\"desk-baisha\",\"kind\":\"received\",\"from\":null,\"to\":\"received\","
    "\"step\":null,\"attempt\":0,\"payload\":{}},"
    "{\"seq\":5,\"at\":\"2026-11-26T09:00:00.000Z\",\"node\":\"dg.humen\",\"actor\":\"王律师\","
    "\"kind\":\"step_completed\",\"from\":\"in_progress\",\"to\":\"forwarded\","
    "\"step\":{\"index\":0,\"name\":\"review\"},\"attempt\":1,"
    "\"payload\":{\"outcome\":\"pass\",\"note\":\"符合经济困难标准，材料齐全，建议批准援助，"
    "请市法律援助处尽快审批并指派律师\"}}]}";

static const char status_json[] =
    "{\"node\":\"dg.humen\",\"orders\":{\"queued\":3,\"in_progress\":2,\"closed\":7},"
    "\"owned\":{\"queued\":3,\"in_progress\":1},"
    "\"departments\":[{\"dept\":\"consult\",\"scope\":\"dg.humen\",\"queued\":1,\"assigned\":0,"
    "\"in_progress\":1,\"waiting\":0,\"yellow\":1,\"red\":0,\"supervised\":0,"
    "\"completed_today\":4,\"workers_a\":1,\"workers_b\":1,\"no_live_worker\":false,"
    "\"away\":false},{\"dept\":\"legal_aid\",\"scope\":\"dg.humen\",\"queued\":2,"
    "\"assigned\":0,\"in_progress\":0,\"waiting\":0,\"yellow\":0,\"red\":2,\"supervised\":2,"
    "\"completed_today\":0,\"workers_a\":0,\"workers_b\":0,\"no_live_worker\":true,"
    "\"away\":true}],"
    "\"workers\":[{\"name\":\"hm-1:311:ab\",\"depts\":[\"consult\",\"mediation\"],"
    "\"scope\":\"dg.humen\",\"role\":\"A\",\"custody\":\"auto\",\"alive\":true,\"held\":1,"
    "\"credit\":7},{\"name\":\"hm-2:12:cd\",\"depts\":[\"consult\"],\"scope\":\"dg.humen\","
    "\"role\":\"B\",\"custody\":\"staff\",\"alive\":false,\"held\":0,\"credit\":0}],"
    "\"links\":[{\"peer\":\"dg\",\"connected\":false,\"outbox\":42,\"oldest_unacked_s\":12.5}],"
    "\"warnings\":[\"no calendar for 2027: Monday-Friday assumed\"]}";

static const char list_json[] =
    "{\"orders\":[{\"id\":\"0192f0a4-6c1e-7d3a-9b2e-3f1a2b3c4d5e\","
    "\"number\":\"DG-HM-20261126-0042\",\"service\":\"consult\",\"state\":\"queued\","
    "\"node\":\"dg.humen\",\"origin\":\"dg.humen.baisha\",\"locality\":\"dg.humen.baisha\","
    "\"created_at\":\"2026-11-26T07:33:10.123Z\",\"due_at\":\"2026-11-27T10:00:00.000Z\","
    "\"overdue\":true},{\"id\":\"0192f0a4-6c1e-7d3a-9b2e-3f1a2b3c4d5f\","
    "\"number\":\"DG-HM-20261126-0043\",\"service\":\"mediation\",\"state\":\"in_progress\","
    "\"node\":\"dg.humen\",\"origin\":\"dg.humen\",\"locality\":\"dg.humen.baisha\","
    "\"created_at\":\"2026-11-26T08:00:00.000Z\",\"due_at\":null,\"overdue\":false}]}";

/* Run a printer into a string (caller frees). */
static char *render(ctl_out_kind_t kind, const char *json, int as_json, int *rc)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    char err[256] = "";
    *rc = ctl_out_query(out, kind, json, as_json, err, sizeof(err));
    if (*rc)
        fprintf(out, "ERROR %s", err);
    fclose(out);
    if (getenv("CTL_OUT_SHOW"))
        fprintf(stderr, "%s\n", buf);
    return buf;
}

/* The line of text that contains needle (static buffer), or "" */
static const char *line_with(const char *text, const char *needle)
{
    static char line[512];
    const char *p = strstr(text, needle);
    line[0] = '\0';
    if (!p)
        return line;
    const char *start = p;
    while (start > text && start[-1] != '\n')
        start--;
    const char *end = strchr(p, '\n');
    size_t n = end ? (size_t)(end - start) : strlen(start);
    snprintf(line, sizeof(line), "%.*s", (int)n, start);
    return line;
}

static void assert_has(const char *text, const char *needle)
{
    if (!strstr(text, needle))
        fail_msg("output lacks \"%s\":\n%s", needle, text);
}

static void test_show(void **state)
{
    (void)state;
    int rc;
    char *s = render(CTL_OUT_SHOW, show_json, 0, &rc);
    assert_int_equal(rc, 0);
    assert_has(s, "Order       DG-HM-20261126-0042\n");
    assert_has(s, "Id          0192f0a4-6c1e-7d3a-9b2e-3f1a2b3c4d5e\n");
    assert_has(s, "State       in_progress\n");
    assert_has(s, "Owner       dg\n");
    assert_has(s, "Route       dg.humen.baisha → dg.humen.baisha");
    assert_has(s, "Step        1 decide  (legal_aid at dg)\n");
    assert_has(s, "Priority    urgent\n");
    /* times are shown in Asia/Shanghai */
    assert_has(s, "Created     2026-11-26 15:33:10\n");
    /* a field the contract does not name is shown too, as a time since it ends in _at */
    assert_has(s, "Due         2026-12-04 00:00:00\n");
    /* the citizen exactly as the broker masked it */
    assert_has(s, "Citizen     name=张** phone=*******5678 id_number=**************1234\n");
    /* the steps, with the current one marked */
    assert_has(line_with(s, "decide  legal_aid"), ">");
    assert_null(strstr(line_with(s, "review  legal_aid"), ">"));
    assert_has(line_with(s, "review  legal_aid"), "pass");
    /* one row per event, with kind, states, step and a clipped payload */
    assert_has(s, "Events (2)");
    const char *ev = line_with(s, "step_completed");
    assert_has(ev, "    5  2026-11-26 17:00:00  dg.humen  step_completed");
    assert_has(ev, "in_progress → forwarded");
    assert_has(ev, "0 review");
    assert_has(ev, "王律师");
    assert_has(ev, "outcome=pass note=符合经济困难标准");
    assert_has(ev, "…");
    assert_true(ctl_out_width(strstr(ev, "outcome=")) <= 60);
    assert_has(line_with(s, "desk-baisha"), "- → received");
    free(s);
}

static void test_show_tolerates_missing_fields(void **state)
{
    (void)state;
    int rc;
    char *s = render(CTL_OUT_SHOW,
                     "{\"id\":\"x\",\"step\":null,\"events\":[{\"kind\":\"received\"}],"
                     "\"steps\":\"not a list\",\"paused_ms\":1500}",
                     0, &rc);
    assert_int_equal(rc, 0);
    assert_has(s, "Id          x\n");
    assert_has(s, "Step        - (none current)\n");
    assert_has(s, "paused_ms   1500\n");
    assert_has(s, "received");
    assert_null(strstr(s, "Order       "));
    free(s);
}

static void test_status(void **state)
{
    (void)state;
    int rc;
    char *s = render(CTL_OUT_STATUS, status_json, 0, &rc);
    assert_int_equal(rc, 0);
    assert_has(s, "Node        dg.humen\n");
    /* orders by state in lifecycle order, all and owned, with a total */
    const char *q = strstr(s, "  queued");
    const char *p = strstr(s, "  in_progress");
    const char *c = strstr(s, "  closed");
    assert_true(q && p && c && q < p && p < c);
    assert_has(s, "  queued         3      3\n");
    assert_has(s, "  closed         7      0\n");
    assert_has(s, "  total         12      4\n");
    /* the unmanned queue is flagged, the manned one is not */
    assert_has(line_with(s, "legal_aid  dg.humen"), "NO LIVE WORKER, A post away");
    assert_null(strstr(line_with(s, "consult    dg.humen"), "NO LIVE"));
    assert_has(line_with(s, "consult    dg.humen"), "1/1");
    assert_has(s, "! 1 queue with no live worker");
    /* workers, links, warnings */
    assert_has(line_with(s, "hm-1:311:ab"), "consult,mediation");
    assert_has(line_with(s, "hm-2:12:cd"), "NO");
    assert_has(line_with(s, "  dg  "), "12.5 s");
    assert_has(s, "! no calendar for 2027: Monday-Friday assumed");
    free(s);
}

static void test_status_tree(void **state)
{
    (void)state;
    int rc;
    char *s = render(CTL_OUT_STATUS,
                     "{\"node\":\"dg\",\"orders\":{\"queued\":1},\"nodes\":["
                     "{\"node\":\"dg.humen\",\"orders\":{\"queued\":5},\"departments\":[]},"
                     "{\"node\":\"dg.changan\",\"orders\":{\"queued\":7}}]}",
                     0, &rc);
    assert_int_equal(rc, 0);
    assert_has(s, "Node        dg\n");
    assert_has(s, "== dg.humen ==");
    assert_has(s, "== dg.changan ==");
    assert_has(strstr(s, "== dg.changan =="), "  queued    7      0\n");
    free(s);
}

static void test_list(void **state)
{
    (void)state;
    int rc;
    char *s = render(CTL_OUT_LIST, list_json, 0, &rc);
    assert_int_equal(rc, 0);
    assert_has(s, "NUMBER");
    const char *l1 = line_with(s, "DG-HM-20261126-0042");
    assert_has(l1, "queued");
    assert_has(l1, "2026-11-26 15:33");
    assert_has(l1, "2026-11-27 18:00");
    assert_has(l1, "OVERDUE");
    assert_has(l1, "0192f0a4-6c1e-7d3a-9b2e-3f1a2b3c4d5e");
    const char *l2 = line_with(s, "DG-HM-20261126-0043");
    assert_has(l2, "dg.humen → dg.humen.baisha");
    assert_null(strstr(l2, "OVERDUE"));
    assert_has(s, "2 orders, 1 overdue");
    free(s);
    s = render(CTL_OUT_LIST, "{\"orders\":[]}", 0, &rc);
    assert_string_equal(s, "no orders match\n");
    free(s);
}

static void test_json_passes_through(void **state)
{
    (void)state;
    const char *docs[] = {show_json, status_json, list_json,
                          "{\"z\":1,\"a\":0.1,\"m\":[1.5,2,\"三\"],\"big\":1e300}"};
    for (size_t i = 0; i < 4; i++) {
        int rc;
        char *s = render(CTL_OUT_SHOW, docs[i], 1, &rc);
        assert_int_equal(rc, 0);
        json_t *in = json_loads(docs[i], 0, NULL), *out = json_loads(s, 0, NULL);
        assert_non_null(out);
        assert_true(json_equal(in, out));              /* same content */
        assert_int_equal(strncmp(s, "{\n  \"", 5), 0); /* indented by 2 */
        json_decref(in);
        json_decref(out);
        if (i == 3) {
            /* key order kept, and 0.1 printed as the broker wrote it */
            assert_true(strstr(s, "\"z\"") < strstr(s, "\"a\""));
            assert_has(s, "\"a\": 0.1,");
        }
        free(s);
    }
}

static void test_bad_json_reported(void **state)
{
    (void)state;
    int rc;
    char *s = render(CTL_OUT_STATUS, "{\"node\":", 1, &rc);
    assert_int_equal(rc, -EINVAL);
    assert_has(s, "ERROR the broker's answer is not JSON");
    free(s);
    s = render(CTL_OUT_LIST, "", 0, &rc);
    assert_int_equal(rc, -EINVAL);
    free(s);
    s = render(CTL_OUT_LIST, "[1,2]", 0, &rc);
    assert_int_equal(rc, -EINVAL);
    assert_has(s, "not a JSON object");
    free(s);
}

static void test_width_and_time(void **state)
{
    (void)state;
    assert_int_equal(ctl_out_width("abc"), 3);
    assert_int_equal(ctl_out_width("张三"), 4);
    assert_int_equal(ctl_out_width("a → b"), 5);
    json_t *v = json_string("2026-12-31T16:30:00Z");
    char *t = ctl_out_time(v, 1);
    assert_string_equal(t, "2027-01-01 00:30:00"); /* across the year in UTC+8 */
    free(t);
    json_decref(v);
    v = json_string("2026-11-26T15:33:10+08:00");
    t = ctl_out_time(v, 0);
    assert_string_equal(t, "2026-11-26 15:33");
    free(t);
    json_decref(v);
    v = json_integer(1795679590123LL); /* epoch ms */
    t = ctl_out_time(v, 1);
    assert_string_equal(t, "2026-11-26 15:53:10");
    free(t);
    json_decref(v);
    v = json_string("yesterday");
    t = ctl_out_time(v, 1);
    assert_string_equal(t, "yesterday");
    free(t);
    json_decref(v);
    t = ctl_out_time(NULL, 1);
    assert_string_equal(t, "-");
    free(t);
}

static void test_submit_and_action(void **state)
{
    (void)state;
    Pls__Reply rep;
    pls__reply__init(&rep);
    rep.status = 200;
    rep.reason = "ok";
    rep.order = "0192f0a4-6c1e-7d3a-9b2e-3f1a2b3c4d5e";
    rep.number = "DG-HM-20261126-0042";
    char *out = NULL, *err = NULL;
    size_t olen, elen;
    FILE *o = open_memstream(&out, &olen), *e = open_memstream(&err, &elen);
    ctl_out_submit(o, e, &rep, 0);
    fflush(o);
    fflush(e);
    assert_string_equal(out, "0192f0a4-6c1e-7d3a-9b2e-3f1a2b3c4d5e\n"); /* the id alone */
    assert_string_equal(err, "");
    rep.duplicate = 1;
    ctl_out_submit(o, e, &rep, 0);
    fclose(e);
    assert_has(err, "DG-HM-20261126-0042");
    assert_has(err, "no new order was made");
    free(err);
    fclose(o);
    free(out);

    o = open_memstream(&out, &olen);
    ctl_out_submit(o, stderr, &rep, 1);
    fclose(o);
    json_t *doc = json_loads(out, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(doc, "id")), rep.order);
    assert_string_equal(json_string_value(json_object_get(doc, "number")), rep.number);
    assert_true(json_is_true(json_object_get(doc, "duplicate")));
    json_decref(doc);
    free(out);

    rep.reason = "requeued";
    o = open_memstream(&out, &olen);
    ctl_out_action(o, "requeue", "DG-HM-20261126-0042", &rep, 0);
    ctl_out_action(o, "requeue", "DG-HM-20261126-0042", &rep, 1);
    fclose(o);
    assert_string_equal(out, "requeue DG-HM-20261126-0042: requeued\n"
                             "{\n  \"status\": 200,\n  \"reason\": \"requeued\"\n}\n");
    free(out);
}

/* Fields beyond the contract, as the broker sends them: placed, or shown
 * generically; nulls left out. */
static void test_broker_extras(void **state)
{
    (void)state;
    int rc;
    char *s = render(CTL_OUT_SHOW,
                     "{\"id\":\"x\",\"number\":\"DG-HM-20261126-0003\",\"state\":\"queued\","
                     "\"step\":0,\"node\":\"dg.humen\",\"dept\":\"mediation\","
                     "\"scope\":\"dg.humen\",\"finished_at\":null,\"about\":null,"
                     "\"description\":\"邻里纠纷\\n第二行\",\"fields\":{\"detained\":true},"
                     "\"citizen\":{\"name\":\"李*\",\"id_type\":null,\"phone\":null},"
                     "\"steps\":[{\"name\":\"mediate\",\"dept\":\"mediation\","
                     "\"scope\":\"dg.humen.baisha\",\"skipped\":false,\"outcome\":null},"
                     "{\"name\":\"review\",\"dept\":\"x\",\"scope\":\"dg\",\"skipped\":true,"
                     "\"outcome\":null}],"
                     "\"events\":[{\"seq\":1,\"at\":\"2026-11-26T07:56:23.6+00:00\","
                     "\"kind\":\"note\",\"step\":{\"index\":null,\"name\":null}}]}",
                     0, &rc);
    assert_int_equal(rc, 0);
    /* the queue the order is in, not the plan's village scope */
    assert_has(s, "Step        0 mediate  (mediation at dg.humen)\n");
    assert_has(s, "Description 邻里纠纷\n            第二行\n");
    assert_has(s, "Fields      detained=yes\n");
    assert_has(s, "Citizen     name=李*\n");
    assert_null(strstr(s, "Finished"));
    assert_null(strstr(s, "About"));
    assert_has(line_with(s, "  review"), "(skipped)");
    assert_has(line_with(s, "  note"), "2026-11-26 15:56:23");
    assert_null(strstr(line_with(s, "  note"), "- -"));
    free(s);

    s = render(
        CTL_OUT_STATUS,
        "{\"node\":\"dg.humen\",\"departments\":[{\"dept\":\"consult\",\"scope\":\"dg.humen\","
        "\"queued\":1,\"returned\":4,\"failed\":2,\"workers_a\":1,\"workers_b\":0}],"
        "\"workers\":[{\"name\":\"w1\",\"alive\":true,\"draining\":true}],"
        "\"broker\":{\"open_orders\":3,\"uptime_s\":60}}",
        0, &rc);
    assert_int_equal(rc, 0);
    assert_has(line_with(s, "DEPT"), "RETURNED  FAILED");
    assert_has(line_with(s, "consult"), "4       2");
    assert_has(line_with(s, "w1"), "draining");
    assert_has(s, "Broker      open_orders=3 uptime_s=60\n");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_show),
        cmocka_unit_test(test_show_tolerates_missing_fields),
        cmocka_unit_test(test_status),
        cmocka_unit_test(test_status_tree),
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_json_passes_through),
        cmocka_unit_test(test_bad_json_reported),
        cmocka_unit_test(test_width_and_time),
        cmocka_unit_test(test_submit_and_action),
        cmocka_unit_test(test_broker_extras),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
