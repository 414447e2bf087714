/* Unit tests for ctl_cmd: each command line gives the Envelope the broker
 * expects (checked after a trip through the wire format), and every mistake a
 * user can make is refused with exit code 2 and a message naming the flag. */
#include "ctl_cmd.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

static ctl_args_t global;
static ctl_req_t req;
static char err[640];
static FILE *input; /* for --desc - */

static int setup(void **state)
{
    (void)state;
    setenv("PLS_OPERATOR", "desk-humen-1", 1);
    unsetenv("PLS_BROKER");
    ctl_args_init(&global, ctl_global_opts);
    ctl_req_init(&req);
    err[0] = '\0';
    input = NULL;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ctl_req_cleanup(&req);
    ctl_args_cleanup(&global);
    if (input)
        fclose(input);
    return 0;
}

/* Build from a NULL-terminated argv: global options first, as main parses
 * them, then the command. Returns the exit code. */
static int build_v(char **argv)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    int next = 0;
    if (ctl_args_parse(&global, argc, argv, CTL_ARGS_STOP_AT_POSITIONAL, &next) != 0) {
        snprintf(err, sizeof(err), "%s", global.err);
        return CTL_EXIT_USAGE;
    }
    return ctl_cmd_build(&req, &global, argc - next, argv + next, input, err, sizeof(err));
}
#define BUILD(...) build_v((char *[]){__VA_ARGS__, NULL})

/* The envelope as the broker will see it; it must pass validation. */
static Pls__Envelope *wire(void)
{
    uint8_t *buf;
    size_t len;
    char reason[256];
    pls_proto_pack(&req.env, &buf, &len);
    Pls__Envelope *e = pls_proto_unpack(buf, len, reason, sizeof(reason));
    free(buf);
    assert_non_null(e);
    assert_int_equal(pls_proto_validate(e, reason, sizeof(reason)), 0);
    assert_int_equal(e->version, 1);
    return e;
}

/* ---- submit --------------------------------------------------------------------------------- */

static void test_submit_minimal(void **state)
{
    (void)state;
    assert_int_equal(BUILD("submit", "--service", "consult", "--origin", "dg.humen.baisha",
                           "--desc", "工资被拖欠三个月"),
                     CTL_EXIT_OK);
    assert_int_equal(req.send, CTL_SEND_RETRY);
    assert_int_equal(req.out, CTL_OUT_SUBMIT);
    Pls__Envelope *e = wire();
    assert_int_equal(e->body_case, PLS__ENVELOPE__BODY_SUBMIT);
    assert_string_equal(e->actor, "desk-humen-1");
    assert_string_equal(e->submit->service, "consult");
    assert_string_equal(e->submit->origin, "dg.humen.baisha");
    assert_string_equal(e->submit->locality, "");
    assert_string_equal(e->submit->desc, "工资被拖欠三个月");
    assert_int_equal(e->submit->channel, PLS__CHANNEL__CHANNEL_DESK);
    assert_int_equal(e->submit->priority, PLS__PRIORITY__PRIORITY_NORMAL);
    assert_null(e->submit->citizen); /* nothing personal unless given */
    assert_null(e->submit->fields);
    /* a key was made: a UUID, the same one a resend carries */
    assert_true(req.key_generated);
    assert_int_equal(strlen(e->submit->key), 36);
    assert_string_equal(e->submit->key, req.key);
    pls_proto_free(e);
    /* the defaults of DESIGN §3 */
    assert_string_equal(req.broker, CTL_DEFAULT_BROKER);
    assert_int_equal(req.timeout_ms, 5000);
    assert_false(req.json);
}

static void test_submit_every_field(void **state)
{
    (void)state;
    char sha[] = "ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789";
    char attach[200];
    snprintf(attach, sizeof(attach), "%s:application/pdf:20480:s3://pls/a:b.pdf", sha);
    assert_int_equal(
        BUILD("--json", "submit", "--service", "legal_aid", "--origin", "dg.humen", "--locality",
              "dg.humen.baisha", "--desc", "需要法律援助", "--key", "call-42", "--channel",
              "hotline", "--priority", "urgent", "--name", "张三", "--phone", "13812345678",
              "--id-number", "441900199001011234", "--id-type", "resident_id", "--category",
              "labor", "--applicant-category", "migrant_worker", "--counterparty", "某工厂",
              "--confidential", "--detained", "--group-risk", "--site", "dg.humen", "--attach",
              attach, "--attach",
              "0000000000000000000000000000000000000000000000000000000000000000:image/png:1:loc"),
        CTL_EXIT_OK);
    assert_true(req.json);
    assert_false(req.key_generated);
    Pls__Envelope *e = wire();
    Pls__SubmitRequest *s = e->submit;
    assert_string_equal(s->locality, "dg.humen.baisha");
    assert_string_equal(s->key, "call-42");
    assert_int_equal(s->channel, PLS__CHANNEL__CHANNEL_HOTLINE);
    assert_int_equal(s->priority, PLS__PRIORITY__PRIORITY_URGENT);
    assert_non_null(s->citizen);
    assert_string_equal(s->citizen->name, "张三");
    assert_string_equal(s->citizen->phone, "13812345678");
    assert_string_equal(s->citizen->id_number, "441900199001011234");
    assert_string_equal(s->citizen->id_type, "resident_id");
    assert_non_null(s->fields);
    assert_string_equal(s->fields->category, "labor");
    assert_string_equal(s->fields->applicant_category, "migrant_worker");
    assert_string_equal(s->fields->counterparty, "某工厂");
    assert_true(s->fields->confidential);
    assert_true(s->fields->detained);
    assert_true(s->fields->group_risk);
    assert_string_equal(s->site, "dg.humen");
    assert_int_equal(s->n_attachments, 2);
    /* hex lowercased for the broker; the location keeps its colons */
    assert_string_equal(s->attachments[0]->sha256,
                        "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
    assert_string_equal(s->attachments[0]->type, "application/pdf");
    assert_int_equal(s->attachments[0]->size, 20480);
    assert_string_equal(s->attachments[0]->location, "s3://pls/a:b.pdf");
    assert_string_equal(s->attachments[1]->type, "image/png");
    pls_proto_free(e);
}

static void test_submit_complaint(void **state)
{
    (void)state;
    assert_int_equal(BUILD("submit", "--service", "complaint", "--origin", "dg", "--desc",
                           "律师未出庭", "--subject", "lawyer", "--about",
                           "0192f0a4-6c1e-7d3a-9b2e-3f1a2b3c4d5e"),
                     CTL_EXIT_OK);
    Pls__Envelope *e = wire();
    assert_string_equal(e->submit->subject, "lawyer");
    assert_string_equal(e->submit->about, "0192f0a4-6c1e-7d3a-9b2e-3f1a2b3c4d5e");
    pls_proto_free(e);
}

static void test_submit_desc_from_stdin(void **state)
{
    (void)state;
    static char text[] = "第一行\n第二行\n\n";
    input = fmemopen(text, strlen(text), "r");
    assert_int_equal(BUILD("submit", "--service", "consult", "--origin", "dg", "--desc", "-"),
                     CTL_EXIT_OK);
    assert_string_equal(req.submit.desc, "第一行\n第二行"); /* trailing newlines dropped */
}

static void test_submit_desc_stdin_refused(void **state)
{
    (void)state;
    input = fopen("/dev/null", "r");
    assert_int_equal(BUILD("submit", "--service", "consult", "--origin", "dg", "--desc", "-"),
                     CTL_EXIT_USAGE);
    assert_string_equal(err, "submit: --desc -: standard input was empty");
    fclose(input);

    static char nul[] = "abc\0def";
    input = fmemopen(nul, sizeof(nul) - 1, "r");
    ctl_req_cleanup(&req);
    ctl_req_init(&req);
    assert_int_equal(BUILD("submit", "--service", "consult", "--origin", "dg", "--desc", "-"),
                     CTL_EXIT_USAGE);
    assert_string_equal(err, "submit: --desc -: standard input holds a NUL byte; it is not text");
    fclose(input);

    /* 20 kB: more than the 16 KiB cap, refused before anything is sent */
    static char big[20000];
    memset(big, 'x', sizeof(big));
    input = fmemopen(big, sizeof(big), "r");
    ctl_req_cleanup(&req);
    ctl_req_init(&req);
    assert_int_equal(BUILD("submit", "--service", "consult", "--origin", "dg", "--desc", "-"),
                     CTL_EXIT_USAGE);
    assert_string_equal(err, "submit: --desc: longer than 16384 bytes");
    fclose(input);

    /* exactly the cap and a line end: accepted, the line end dropped */
    static char full[PLS_MAX_DESC + 2];
    memset(full, 'y', PLS_MAX_DESC);
    full[PLS_MAX_DESC] = '\r';
    full[PLS_MAX_DESC + 1] = '\n';
    input = fmemopen(full, sizeof(full), "r");
    ctl_req_cleanup(&req);
    ctl_req_init(&req);
    assert_int_equal(BUILD("submit", "--service", "consult", "--origin", "dg", "--desc", "-"),
                     CTL_EXIT_OK);
    assert_int_equal(strlen(req.submit.desc), PLS_MAX_DESC);
    fclose(input);

    /* one byte more, after two line ends: refused, not cut */
    static char over[PLS_MAX_DESC + 3];
    memset(over, 'y', sizeof(over));
    over[PLS_MAX_DESC] = '\n';
    over[PLS_MAX_DESC + 1] = '\n';
    input = fmemopen(over, sizeof(over), "r");
    ctl_req_cleanup(&req);
    ctl_req_init(&req);
    assert_int_equal(BUILD("submit", "--service", "consult", "--origin", "dg", "--desc", "-"),
                     CTL_EXIT_USAGE);
    assert_string_equal(err, "submit: --desc: longer than 16384 bytes");
}

/* Each bad submit line and the message it must give. */
static void test_submit_mistakes(void **state)
{
    (void)state;
    static const struct {
        const char *flag, *value, *message;
    } cases[] = {
        {"--origin", "DG.Humen",
         "submit: --origin: not a node id (lowercase labels joined by "
         "dots, like dg.humen)"},
        {"--locality", "dg..x",
         "submit: --locality: not a node id (lowercase labels joined by "
         "dots, like dg.humen)"},
        {"--service", "Legal-Aid", "submit: --service: not a code ([a-z][a-z0-9_]{0,31})"},
        {"--channel", "fax", "submit: --channel: 'fax' is not one of desk, hotline, web, platform"},
        {"--priority", "high", "submit: --priority: 'high' is not one of normal, urgent"},
        {"--subject", "judge",
         "submit: --subject: 'judge' is not one of lawyer, notary, mediator, staff"},
        {"--about", "DG-HM-1", "submit: --about: not an order id (UUID)"},
        {"--site", "Humen",
         "submit: --site: not a node id (lowercase labels joined by dots, like "
         "dg.humen)"},
        {"--attach", "abc", "submit: --attach: 'abc' is not SHA256:TYPE:SIZE:LOCATION"},
        {"--attach", "abc:text/plain:1:x", "submit: --attach SHA256: not 64 lowercase hex digits"},
        {"--attach",
         "0000000000000000000000000000000000000000000000000000000000000000:text/plain:-1:x",
         "submit: --attach: size '-1' is not a number of bytes"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ctl_req_cleanup(&req);
        ctl_req_init(&req);
        char *argv[] = {"submit", "--service", "consult", "--origin", "dg",
                        "--desc", "x",         NULL,      NULL,       NULL};
        char *flag = (char *)(uintptr_t)cases[i].flag, *value = (char *)(uintptr_t)cases[i].value;
        if (strcmp(flag, "--service") == 0)
            argv[2] = value;
        else if (strcmp(flag, "--origin") == 0)
            argv[4] = value;
        else
            argv[7] = flag, argv[8] = value;
        assert_int_equal(build_v(argv), CTL_EXIT_USAGE);
        assert_string_equal(err, cases[i].message);
    }
}

static void test_submit_missing_required(void **state)
{
    (void)state;
    assert_int_equal(BUILD("submit", "--service", "consult", "--origin", "dg"), CTL_EXIT_USAGE);
    assert_string_equal(err, "submit: missing --desc TEXT (what the citizen needs, at most 16384 "
                             "bytes; - reads it from standard input)");
    ctl_req_cleanup(&req);
    ctl_req_init(&req);
    assert_int_equal(
        BUILD("submit", "--service", "consult", "--origin", "dg", "--desc", "x", "extra"),
        CTL_EXIT_USAGE);
    assert_string_equal(err, "submit: unexpected argument 'extra'");
}

static void test_personal_data_not_echoed(void **state)
{
    (void)state;
    char phone[200];
    memset(phone, '9', sizeof(phone) - 1);
    phone[sizeof(phone) - 1] = '\0';
    assert_int_equal(
        BUILD("submit", "--service", "consult", "--origin", "dg", "--desc", "x", "--phone", phone),
        CTL_EXIT_USAGE);
    assert_string_equal(err, "submit: --phone: longer than 128 bytes");
    assert_null(strstr(err, "9999"));
}

/* ---- settings ------------------------------------------------------------------------------- */

static void test_operator_broker_timeout(void **state)
{
    (void)state;
    setenv("PLS_BROKER", "tcp://10.0.0.1:7700", 1);
    assert_int_equal(BUILD("status"), CTL_EXIT_OK);
    assert_string_equal(req.broker, "tcp://10.0.0.1:7700");
    assert_string_equal(req.env.actor, "desk-humen-1"); /* $PLS_OPERATOR */

    ctl_req_cleanup(&req);
    ctl_req_init(&req);
    ctl_args_cleanup(&global);
    ctl_args_init(&global, ctl_global_opts);
    /* flags win over the environment, also after the command */
    assert_int_equal(BUILD("--broker", "tcp://127.0.0.1:9", "status", "--operator", "王主任",
                           "--timeout", "2.5", "--json"),
                     CTL_EXIT_OK);
    assert_string_equal(req.broker, "tcp://127.0.0.1:9");
    assert_string_equal(req.env.actor, "王主任");
    assert_int_equal(req.timeout_ms, 2500);
    assert_true(req.json);

    ctl_req_cleanup(&req);
    ctl_req_init(&req);
    ctl_args_cleanup(&global);
    ctl_args_init(&global, ctl_global_opts);
    unsetenv("PLS_OPERATOR");
    assert_int_equal(BUILD("status"), CTL_EXIT_OK);
    assert_true(strlen(req.env.actor) > 0); /* the OS user */
    assert_string_not_equal(req.env.actor, "desk-humen-1");

    ctl_req_cleanup(&req);
    ctl_req_init(&req);
    ctl_args_cleanup(&global);
    ctl_args_init(&global, ctl_global_opts);
    assert_int_equal(BUILD("--timeout", "soon", "status"), CTL_EXIT_USAGE);
    assert_string_equal(err, "status: --timeout: not a number of seconds above 0: 'soon'");
}

static void test_help_sends_nothing(void **state)
{
    (void)state;
    assert_int_equal(BUILD("submit", "--help"), CTL_EXIT_OK);
    assert_true(req.help);
    assert_string_equal(ctl_cmd_name(req.cmd), "submit");
    ctl_req_cleanup(&req);
    ctl_req_init(&req);
    assert_int_equal(BUILD("--help", "rate"), CTL_EXIT_OK);
    assert_true(req.help);
    assert_string_equal(ctl_cmd_name(req.cmd), "rate");
}

static void test_unknown_command(void **state)
{
    (void)state;
    assert_int_equal(BUILD("shwo", "X"), CTL_EXIT_USAGE);
    assert_string_equal(err, "unknown command 'shwo' (did you mean 'show'?)");
    assert_int_equal(BUILD("launch"), CTL_EXIT_USAGE);
    assert_string_equal(err, "unknown command 'launch' (plsctl --help lists them)");
}

/* ---- queries -------------------------------------------------------------------------------- */

static void test_show_status(void **state)
{
    (void)state;
    assert_int_equal(BUILD("show", "DG-HM-20261126-0042"), CTL_EXIT_OK);
    assert_int_equal(req.send, CTL_SEND_RETRY); /* queries are idempotent */
    assert_int_equal(req.out, CTL_OUT_SHOW);
    Pls__Envelope *e = wire();
    assert_int_equal(e->query->kind, PLS__QUERY_KIND__QUERY_SHOW);
    assert_string_equal(e->query->order, "DG-HM-20261126-0042");
    pls_proto_free(e);

    ctl_req_cleanup(&req);
    ctl_req_init(&req);
    assert_int_equal(BUILD("status", "--tree"), CTL_EXIT_OK);
    e = wire();
    assert_int_equal(e->query->kind, PLS__QUERY_KIND__QUERY_STATUS);
    assert_true(e->query->tree);
    pls_proto_free(e);

    ctl_req_cleanup(&req);
    ctl_req_init(&req);
    assert_int_equal(BUILD("show"), CTL_EXIT_USAGE);
    assert_string_equal(err, "show: missing ID|NUMBER (the order's id or number)");
    ctl_req_cleanup(&req);
    ctl_req_init(&req);
    assert_int_equal(BUILD("show", "DG HM"), CTL_EXIT_USAGE);
    assert_string_equal(err, "show: ID: not an order id or number");
}

static void test_list_filters(void **state)
{
    (void)state;
    assert_int_equal(BUILD("list", "--state", "in_progress", "--service", "legal_aid", "--dept",
                           "legal_aid", "--node", "dg.humen", "--date", "2026-11-26", "--number",
                           "DG-HM-20261126-0042", "--key", "call-42", "--phone", "13812345678",
                           "--id-number", "441900199001011234", "--limit", "20", "--overdue"),
                     CTL_EXIT_OK);
    assert_int_equal(req.out, CTL_OUT_LIST);
    Pls__Envelope *e = wire();
    assert_int_equal(e->query->kind, PLS__QUERY_KIND__QUERY_LIST);
    Pls__ListFilter *f = e->query->filter;
    assert_non_null(f);
    assert_string_equal(f->state, "in_progress");
    assert_string_equal(f->service, "legal_aid");
    assert_string_equal(f->dept, "legal_aid");
    assert_string_equal(f->node, "dg.humen");
    assert_string_equal(f->date, "2026-11-26");
    assert_string_equal(f->number, "DG-HM-20261126-0042");
    assert_string_equal(f->key, "call-42");
    assert_string_equal(f->phone, "13812345678");
    assert_string_equal(f->id_number, "441900199001011234");
    assert_int_equal(f->limit, 20);
    assert_true(f->overdue);
    pls_proto_free(e);

    static const struct {
        const char *flag, *value, *message;
    } bad[] = {
        {"--state", "open",
         "list: --state: 'open' is not one of received, forwarded, queued, "
         "assigned, in_progress, waiting_citizen, returned, completed, "
         "rating_review, closed, failed, withdrawn, terminated"},
        {"--date", "26/11/2026", "list: --date: '26/11/2026' is not a date like 2026-11-26"},
        {"--date", "2026-02-40", "list: --date: '2026-02-40' is not a date like 2026-11-26"},
        {"--limit", "0", "list: --limit: not a whole number from 1 to 1000: '0'"},
        {"--limit", "5000", "list: --limit: not a whole number from 1 to 1000: '5000'"},
        {"--node", "DG",
         "list: --node: not a node id (lowercase labels joined by dots, like "
         "dg.humen)"},
        {"--dept", "Legal", "list: --dept: not a code ([a-z][a-z0-9_]{0,31})"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ctl_req_cleanup(&req);
        ctl_req_init(&req);
        assert_int_equal(BUILD("list", (char *)bad[i].flag, (char *)bad[i].value), CTL_EXIT_USAGE);
        assert_string_equal(err, bad[i].message);
    }
}

/* ---- actions -------------------------------------------------------------------------------- */

#define ORDER "DG-HM-20261126-0042"

/* Build an action line and return its envelope (after the wire). */
static Pls__Envelope *action_v(char **argv)
{
    ctl_req_cleanup(&req);
    ctl_req_init(&req);
    int rc = build_v(argv);
    if (rc != CTL_EXIT_OK)
        fail_msg("%s", err);
    assert_int_equal(req.send, CTL_SEND_ONLY_503); /* not resent on a timeout */
    assert_int_equal(req.out, CTL_OUT_ACTION);
    Pls__Envelope *e = wire();
    assert_int_equal(e->body_case, PLS__ENVELOPE__BODY_ACTION);
    return e;
}
#define ACTION(...) action_v((char *[]){__VA_ARGS__, NULL})

static void test_actions_map_to_verbs(void **state)
{
    (void)state;
    Pls__Envelope *e;
    Pls__ActionRequest *a;

    e = ACTION("requeue", ORDER, "--dept", "mediation", "--note", "材料已补齐");
    a = e->action;
    assert_int_equal(a->verb, PLS__VERB__VERB_REQUEUE);
    assert_string_equal(a->order, ORDER);
    assert_string_equal(a->dept, "mediation");
    assert_string_equal(a->note, "材料已补齐");
    pls_proto_free(e);

    e = ACTION("withdraw", ORDER, "--note", "已和解");
    assert_int_equal(e->action->verb, PLS__VERB__VERB_WITHDRAW);
    assert_string_equal(e->action->note, "已和解");
    pls_proto_free(e);

    e = ACTION("transfer", ORDER, "--to", "dg.changan", "--dept", "mediation", "--reason", "属地");
    a = e->action;
    assert_int_equal(a->verb, PLS__VERB__VERB_TRANSFER);
    assert_string_equal(a->to, "dg.changan");
    assert_string_equal(a->dept, "mediation");
    assert_string_equal(a->note, "属地");
    pls_proto_free(e);

    e = ACTION("post", "away", "legal_aid", "dg.humen");
    assert_int_equal(e->action->verb, PLS__VERB__VERB_POST_AWAY);
    assert_string_equal(e->action->dept, "legal_aid");
    assert_string_equal(e->action->scope, "dg.humen");
    assert_string_equal(e->action->order, "");
    assert_string_equal(req.what, "post away");
    pls_proto_free(e);

    e = ACTION("post", "back", "legal_aid", "dg.humen");
    assert_int_equal(e->action->verb, PLS__VERB__VERB_POST_BACK);
    pls_proto_free(e);

    e = ACTION("accept", ORDER, "--as", "李律师");
    assert_int_equal(e->action->verb, PLS__VERB__VERB_ACCEPT);
    assert_string_equal(e->action->person, "李律师");
    pls_proto_free(e);

    e = ACTION("progress", ORDER, "--pct", "50", "--note", "已联系双方");
    assert_int_equal(e->action->verb, PLS__VERB__VERB_PROGRESS);
    assert_int_equal(e->action->pct, 50);
    assert_string_equal(e->action->note, "已联系双方");
    pls_proto_free(e);

    e = ACTION("complete", ORDER, "--outcome", "answered", "--note", "已解答");
    assert_int_equal(e->action->verb, PLS__VERB__VERB_COMPLETE);
    assert_string_equal(e->action->outcome, "answered");
    assert_string_equal(e->action->note, "已解答");
    pls_proto_free(e);

    e = ACTION("return", ORDER, "--reason", "不属于本部门");
    assert_int_equal(e->action->verb, PLS__VERB__VERB_RETURN);
    assert_string_equal(e->action->note, "不属于本部门");
    pls_proto_free(e);

    e = ACTION("need-info", ORDER, "--items", "身份证复印件", "--items", "劳动合同", "--note",
               "请一次补齐");
    a = e->action;
    assert_int_equal(a->verb, PLS__VERB__VERB_NEED_INFO);
    assert_int_equal(a->n_items, 2);
    assert_string_equal(a->items[0], "身份证复印件");
    assert_string_equal(a->items[1], "劳动合同");
    assert_string_equal(a->note, "请一次补齐");
    pls_proto_free(e);

    e = ACTION("need-info", "approve", ORDER, "--note", "新证据");
    assert_int_equal(e->action->verb, PLS__VERB__VERB_NEED_INFO_APPROVE);
    assert_string_equal(e->action->order, ORDER);
    assert_string_equal(req.what, "need-info approve");
    pls_proto_free(e);

    e = ACTION("need-info", "refuse", ORDER);
    assert_int_equal(e->action->verb, PLS__VERB__VERB_NEED_INFO_REFUSE);
    pls_proto_free(e);

    e = ACTION("supplement", ORDER, "--text", "已提交劳动合同");
    assert_int_equal(e->action->verb, PLS__VERB__VERB_SUPPLEMENT);
    assert_string_equal(e->action->note, "已提交劳动合同");
    pls_proto_free(e);

    e = ACTION("extension", "request", ORDER, "--days", "5", "--reason", "等待鉴定");
    assert_int_equal(e->action->verb, PLS__VERB__VERB_EXTENSION_REQUEST);
    assert_int_equal(e->action->days, 5);
    assert_string_equal(e->action->note, "等待鉴定");
    pls_proto_free(e);

    e = ACTION("extension", "approve", ORDER, "--note", "同意");
    assert_int_equal(e->action->verb, PLS__VERB__VERB_EXTENSION_APPROVE);
    assert_string_equal(e->action->note, "同意");
    pls_proto_free(e);

    e = ACTION("extension", "refuse", ORDER);
    assert_int_equal(e->action->verb, PLS__VERB__VERB_EXTENSION_REFUSE);
    pls_proto_free(e);

    e = ACTION("rate", ORDER, "--attitude", "5", "--efficiency", "2", "--competence", "4",
               "--comment", "等待太久");
    a = e->action;
    assert_int_equal(a->verb, PLS__VERB__VERB_RATE);
    assert_non_null(a->scores);
    assert_int_equal(a->scores->attitude, 5);
    assert_int_equal(a->scores->efficiency, 2);
    assert_int_equal(a->scores->competence, 4);
    assert_string_equal(a->note, "等待太久");
    pls_proto_free(e);

    e = ACTION("review", ORDER, "--redo", "--note", "核实属实");
    assert_int_equal(e->action->verb, PLS__VERB__VERB_REVIEW_REDO);
    assert_string_equal(e->action->note, "核实属实");
    pls_proto_free(e);

    e = ACTION("review", ORDER, "--close", "--note", "服务无不当");
    assert_int_equal(e->action->verb, PLS__VERB__VERB_REVIEW_CLOSE);
    pls_proto_free(e);

    e = ACTION("terminate", ORDER, "--reason", "不属于援助范围");
    assert_int_equal(e->action->verb, PLS__VERB__VERB_TERMINATE);
    assert_string_equal(e->action->note, "不属于援助范围");
    assert_string_equal(e->actor, "desk-humen-1");
    pls_proto_free(e);
}

/* Each bad action line and the message it must give. */
static void test_action_mistakes(void **state)
{
    (void)state;
    static const struct {
        const char *argv[8];
        const char *message;
    } cases[] = {
        {{"requeue"}, "requeue: missing ID (an order id or number, like DG-HM-20261126-0042)"},
        {{"requeue", ORDER, "other"}, "requeue: unexpected argument 'other'"},
        {{"transfer", ORDER, "--reason", "x"},
         "transfer: missing --to NODE (the command center "
         "or village that takes it over)"},
        {{"transfer", ORDER, "--to", "Changan", "--reason", "x"},
         "transfer: --to: not a node id (lowercase labels joined by dots, like dg.humen)"},
        {{"transfer", ORDER, "--to", "dg.changan"},
         "transfer: missing --reason TEXT (why it is transferred: 转办 reason)"},
        {{"post", "legal_aid", "dg.humen"},
         "post: say away or back: plsctl post away|back DEPT "
         "SCOPE"},
        {{"post", "away", "legal_aid"},
         "post away: missing DEPT SCOPE (a department code and the node it serves)"},
        {{"post", "away", "Legal", "dg"}, "post away: DEPT: not a code ([a-z][a-z0-9_]{0,31})"},
        {{"post", "away", "legal_aid", "DG"},
         "post away: SCOPE: not a node id (lowercase labels joined by dots, like dg.humen)"},
        {{"accept", ORDER}, "accept: missing --as NAME (the person who signs for it: 签收)"},
        {{"progress", ORDER, "--pct", "101", "--note", "x"},
         "progress: --pct: not a whole number from 0 to 100: '101'"},
        {{"progress", ORDER, "--pct", "half", "--note", "x"},
         "progress: --pct: not a whole number from 0 to 100: 'half'"},
        {{"progress", ORDER, "--pct", "5"}, "progress: missing --note TEXT (what was done)"},
        {{"complete", ORDER, "--outcome", "Done!"},
         "complete: --outcome: not a code ([a-z][a-z0-9_]{0,31})"},
        {{"need-info", ORDER},
         "need-info: missing --items ITEM: list every missing item, one "
         "--items each (一次告知: the citizen is asked once)"},
        {{"need-info", "approve", ORDER, "--items", "x"},
         "need-info approve: --items is not used with need-info approve"},
        {{"need-info", "refuse"},
         "need-info refuse: missing ID (an order id or number, like DG-HM-20261126-0042)"},
        {{"supplement", ORDER}, "supplement: missing --text TEXT (what the citizen supplied)"},
        {{"extension", ORDER},
         "extension: say request, approve or refuse: plsctl extension "
         "request ID --days N --reason TEXT, plsctl extension "
         "approve|refuse ID"},
        {{"extension", "request", ORDER, "--reason", "x"},
         "extension request: missing --days N (working days asked for)"},
        {{"extension", "request", ORDER, "--days", "5"},
         "extension request: missing --reason TEXT (why more time is needed)"},
        {{"extension", "request", ORDER, "--days", "16", "--reason", "x"},
         "extension request: --days: not a whole number from 1 to 15: '16'"},
        {{"extension", "approve", ORDER, "--days", "3"},
         "extension approve: --days is not used with extension approve"},
        {{"rate", ORDER, "--attitude", "0", "--efficiency", "3", "--competence", "3"},
         "rate: --attitude: not a whole number from 1 to 5: '0'"},
        {{"rate", ORDER, "--attitude", "3", "--efficiency", "3"},
         "rate: missing --competence N (professional competence, 1 to 5)"},
        {{"review", ORDER, "--note", "x"},
         "review: say either --redo (re-open the last step) or --close"},
        {{"review", ORDER, "--redo", "--close", "--note", "x"},
         "review: say either --redo (re-open the last step) or --close"},
        {{"terminate", ORDER},
         "terminate: missing --reason TEXT (why, recorded in the order's "
         "history)"},
        {{"withdraw", ORDER, "--reason", "x"}, "withdraw: unknown option --reason"},
        {{"withdraw", ORDER, "--nte", "x"},
         "withdraw: unknown option --nte (did you mean --note?)"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ctl_req_cleanup(&req);
        ctl_req_init(&req);
        char *argv[9] = {0};
        for (size_t k = 0; k < 8 && cases[i].argv[k]; k++)
            argv[k] = (char *)(uintptr_t)cases[i].argv[k];
        int rc = build_v(argv);
        if (rc != CTL_EXIT_USAGE || strcmp(err, cases[i].message) != 0)
            fail_msg("case %zu: exit %d, message:\n  %s\nwanted:\n  %s", i, rc, err,
                     cases[i].message);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_submit_minimal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_submit_every_field, setup, teardown),
        cmocka_unit_test_setup_teardown(test_submit_complaint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_submit_desc_from_stdin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_submit_desc_stdin_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_submit_mistakes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_submit_missing_required, setup, teardown),
        cmocka_unit_test_setup_teardown(test_personal_data_not_echoed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_operator_broker_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_help_sends_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_command, setup, teardown),
        cmocka_unit_test_setup_teardown(test_show_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_actions_map_to_verbs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_action_mistakes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
