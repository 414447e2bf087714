/* Unit tests for plw_args: the pls-worker command line and the messages a
 * user sees for bad usage. */
#include "plw_args.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <string.h>

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])))

static void test_full_command_line(void **state)
{
    (void)state;
    char *argv[] = {"pls-worker",
                    "--broker=tcp://127.0.0.1:7000",
                    "--node",
                    "dg.humen.baisha",
                    "--dept",
                    "consult,mediation",
                    "--role",
                    "B",
                    "--concurrency",
                    "8",
                    "--custody",
                    "staff",
                    "--handler-timeout",
                    "60",
                    "--name",
                    "humen-consult-1",
                    "--heartbeat-ms",
                    "500",
                    "--drain-timeout",
                    "5",
                    "--log-level",
                    "debug",
                    "--exec",
                    "/opt/pls/handle.sh --fast"};
    plw_args_t a;
    char err[256];
    assert_int_equal(plw_args_parse(ARGC(argv), argv, NULL, &a, err, sizeof(err)), 0);
    assert_string_equal(a.broker, "tcp://127.0.0.1:7000");
    assert_string_equal(a.node, "dg.humen.baisha");
    assert_int_equal(a.n_depts, 2);
    assert_string_equal(a.depts[0], "consult");
    assert_string_equal(a.depts[1], "mediation");
    assert_int_equal(a.role, PLW_ROLE_B);
    assert_int_equal(a.concurrency, 8);
    assert_int_equal(a.custody, PLW_CUSTODY_STAFF);
    assert_int_equal(a.handler_timeout_s, 60);
    assert_string_equal(a.name, "humen-consult-1");
    assert_int_equal(a.heartbeat_ms, 500);
    assert_int_equal(a.drain_timeout_s, 5);
    assert_string_equal(a.log_level, "debug");
    assert_string_equal(a.exec, "/opt/pls/handle.sh --fast");
    assert_null(a.builtin);
    plw_args_cleanup(&a);
}

static void test_defaults_and_env_broker(void **state)
{
    (void)state;
    char *argv[] = {"pls-worker", "--node", "dg", "--dept", "exam", "--builtin", "noop"};
    plw_args_t a;
    char err[256];
    assert_int_equal(plw_args_parse(ARGC(argv), argv, "tcp://10.0.0.1:5555", &a, err, sizeof(err)),
                     0);
    assert_string_equal(a.broker, "tcp://10.0.0.1:5555");
    assert_int_equal(a.role, PLW_ROLE_A);
    assert_int_equal(a.custody, PLW_CUSTODY_AUTO);
    assert_int_equal(a.concurrency, 1);
    assert_int_equal(a.heartbeat_ms, 2000);
    assert_int_equal(a.handler_timeout_s, PLW_DEFAULT_HANDLER_TIMEOUT_S);
    assert_null(a.name);
    assert_string_equal(a.builtin, "noop");
    plw_args_cleanup(&a);
}

static void test_sign_implies_staff(void **state)
{
    (void)state;
    char *argv[] = {"pls-worker", "--broker", "tcp://h:1", "--node", "dg",
                    "--dept",     "exam",     "--builtin", "sign"};
    plw_args_t a;
    char err[256];
    assert_int_equal(plw_args_parse(ARGC(argv), argv, NULL, &a, err, sizeof(err)), 0);
    assert_int_equal(a.custody, PLW_CUSTODY_STAFF);
    plw_args_cleanup(&a);
}

static void test_help(void **state)
{
    (void)state;
    char *argv[] = {"pls-worker", "--node", "dg", "--help"};
    plw_args_t a;
    char err[256];
    assert_int_equal(plw_args_parse(ARGC(argv), argv, NULL, &a, err, sizeof(err)), 0);
    assert_true(a.help);
    plw_args_cleanup(&a);
    /* the help text explains the exec protocol and every option */
    const char *u = plw_args_usage();
    const char *must[] = {"--broker",
                          "--node",
                          "--dept",
                          "--role",
                          "--concurrency",
                          "--custody",
                          "--handler-timeout",
                          "--name",
                          "--heartbeat-ms",
                          "--log-level",
                          "--exec",
                          "--builtin",
                          "PLS_ORDER_ID",
                          "progress",
                          "outcome",
                          "PLS_BROKER",
                          "Exit status"};
    for (size_t i = 0; i < sizeof(must) / sizeof(must[0]); i++)
        assert_non_null(strstr(u, must[i]));
}

/* Parse argv, expect failure with a message containing want. */
static void expect_usage_error(char **argv, int argc, const char *env, const char *want)
{
    plw_args_t a;
    char err[256] = "";
    int rc = plw_args_parse(argc, argv, env, &a, err, sizeof(err));
    plw_args_cleanup(&a);
    if (rc != -EINVAL || !strstr(err, want))
        fail_msg("want usage error containing '%s', got rc %d: '%s'", want, rc, err);
}

static void test_usage_errors(void **state)
{
    (void)state;
    char *no_broker[] = {"w", "--node", "dg", "--dept", "exam", "--builtin", "noop"};
    expect_usage_error(no_broker, ARGC(no_broker), NULL, "--broker ENDPOINT required");
    char *bad_node[] = {"w", "--node", "DG.humen", "--dept", "exam", "--builtin", "noop"};
    expect_usage_error(bad_node, ARGC(bad_node), "tcp://h:1", "not a node id");
    char *deep_node[] = {"w", "--node", "dg.a.b.c.d", "--dept", "exam", "--builtin", "noop"};
    expect_usage_error(deep_node, ARGC(deep_node), "tcp://h:1", "not a node id");
    char *bad_dept[] = {"w", "--node", "dg", "--dept", "consult,Legal-Aid", "--builtin", "noop"};
    expect_usage_error(bad_dept, ARGC(bad_dept), "tcp://h:1", "'Legal-Aid' is not a department");
    char *empty_dept[] = {"w", "--node", "dg", "--dept", "consult,", "--builtin", "noop"};
    expect_usage_error(empty_dept, ARGC(empty_dept), "tcp://h:1", "is not a department");
    char *dup_dept[] = {"w", "--node", "dg", "--dept", "exam,exam", "--builtin", "noop"};
    expect_usage_error(dup_dept, ARGC(dup_dept), "tcp://h:1", "given twice");
    char *no_handler[] = {"w", "--node", "dg", "--dept", "exam"};
    expect_usage_error(no_handler, ARGC(no_handler), "tcp://h:1", "--exec 'CMD' or --builtin");
    char *both[] = {"w", "--node", "dg", "--dept", "exam", "--builtin", "noop", "--exec", "x"};
    expect_usage_error(both, ARGC(both), "tcp://h:1", "exclude each other");
    char *bad_builtin[] = {"w", "--node", "dg", "--dept", "exam", "--builtin", "magic"};
    expect_usage_error(bad_builtin, ARGC(bad_builtin), "tcp://h:1", "unknown handler 'magic'");
    char *sign_auto[] = {"w",         "--node", "dg",        "--dept", "exam",
                         "--custody", "auto",   "--builtin", "sign"};
    expect_usage_error(sign_auto, ARGC(sign_auto), "tcp://h:1", "needs --custody staff");
    char *bad_role[] = {"w", "--role", "C"};
    expect_usage_error(bad_role, ARGC(bad_role), "tcp://h:1", "want A or B");
    char *bad_conc[] = {"w", "--concurrency", "0"};
    expect_usage_error(bad_conc, ARGC(bad_conc), "tcp://h:1", "--concurrency: '0'");
    char *bad_hb[] = {"w", "--heartbeat-ms", "fast"};
    expect_usage_error(bad_hb, ARGC(bad_hb), "tcp://h:1", "not a whole number");
    char *missing[] = {"w", "--node"};
    expect_usage_error(missing, ARGC(missing), "tcp://h:1", "--node needs a value");
    char *unknown[] = {"w", "--nodes", "dg"};
    expect_usage_error(unknown, ARGC(unknown), "tcp://h:1", "unknown option --nodes");
    char *stray[] = {"w", "dg"};
    expect_usage_error(stray, ARGC(stray), "tcp://h:1", "unexpected argument 'dg'");
    char *bad_level[] = {"w", "--log-level", "loud"};
    expect_usage_error(bad_level, ARGC(bad_level), "tcp://h:1", "want error, warn");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_command_line),  cmocka_unit_test(test_defaults_and_env_broker),
        cmocka_unit_test(test_sign_implies_staff), cmocka_unit_test(test_help),
        cmocka_unit_test(test_usage_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
