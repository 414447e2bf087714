/* Unit tests for ctl_args: the option forms plsctl accepts and the messages a
 * user sees for the ones it refuses. */
#include "ctl_args.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static const ctl_opt_t opts[] = {
    {"service", CTL_OPT_VALUE, 0, "CODE", "the service"},
    {"desc", CTL_OPT_VALUE, 0, "TEXT", "the description"},
    {"items", CTL_OPT_LIST, 0, "ITEM", "a missing item"},
    {"detained", CTL_OPT_FLAG, 0, NULL, "detained"},
    {"help", CTL_OPT_FLAG, 0, NULL, "help"},
    {NULL, CTL_OPT_FLAG, 0, NULL, NULL},
};

static const ctl_opt_t required_opts[] = {
    {"origin", CTL_OPT_VALUE, 1, "NODE", "the intake desk"},
    {NULL, CTL_OPT_FLAG, 0, NULL, NULL},
};

static const ctl_opt_t global_opts[] = {
    {"json", CTL_OPT_FLAG, 0, NULL, "json"},
    {"broker", CTL_OPT_VALUE, 0, "ENDPOINT", "broker"},
    {NULL, CTL_OPT_FLAG, 0, NULL, NULL},
};

#define ARGC(v) ((int)(sizeof(v) / sizeof((v)[0])))

static void test_value_forms(void **state)
{
    (void)state;
    char *argv[] = {"ID1", "--service", "consult", "--desc=a=b", "--detained", "ID2"};
    ctl_args_t a;
    ctl_args_init(&a, opts);
    assert_int_equal(ctl_args_parse(&a, ARGC(argv), argv, 0, NULL), 0);
    assert_string_equal(ctl_args_get(&a, "service"), "consult");
    assert_string_equal(ctl_args_get(&a, "desc"), "a=b"); /* split at the first = only */
    assert_int_equal(ctl_args_count(&a, "detained"), 1);
    assert_int_equal(ctl_args_count(&a, "help"), 0);
    assert_null(ctl_args_get(&a, "help"));
    assert_int_equal(a.n_pos, 2);
    assert_string_equal(a.pos[0], "ID1");
    assert_string_equal(a.pos[1], "ID2");
    ctl_args_cleanup(&a);
}

static void test_list_keeps_order(void **state)
{
    (void)state;
    char *argv[] = {"--items", "身份证复印件", "--items=劳动合同", "--items", "工资条"};
    ctl_args_t a;
    ctl_args_init(&a, opts);
    assert_int_equal(ctl_args_parse(&a, ARGC(argv), argv, 0, NULL), 0);
    assert_int_equal(ctl_args_count(&a, "items"), 3);
    const char *const *items = ctl_args_list(&a, "items");
    assert_string_equal(items[0], "身份证复印件");
    assert_string_equal(items[1], "劳动合同");
    assert_string_equal(items[2], "工资条");
    assert_null(items[3]);
    assert_null(ctl_args_list(&a, "desc")[0]); /* not given: an empty list */
    ctl_args_cleanup(&a);
}

static void test_dash_values(void **state)
{
    (void)state;
    /* "-" (stdin) and negative numbers are values; --x=--y is explicit */
    char *argv[] = {"--desc", "-", "--service=--odd", "--", "--detained"};
    ctl_args_t a;
    ctl_args_init(&a, opts);
    assert_int_equal(ctl_args_parse(&a, ARGC(argv), argv, 0, NULL), 0);
    assert_string_equal(ctl_args_get(&a, "desc"), "-");
    assert_string_equal(ctl_args_get(&a, "service"), "--odd");
    assert_int_equal(ctl_args_count(&a, "detained"), 0); /* after --: positional */
    assert_int_equal(a.n_pos, 1);
    assert_string_equal(a.pos[0], "--detained");
    ctl_args_cleanup(&a);
}

/* Parse argv and return the error message (static buffer). */
static const char *error_of(const ctl_opt_t *table, int argc, char **argv)
{
    static char msg[256];
    ctl_args_t a;
    ctl_args_init(&a, table);
    int rc = ctl_args_parse(&a, argc, argv, 0, NULL);
    snprintf(msg, sizeof(msg), "%s", rc ? a.err : "(no error)");
    ctl_args_cleanup(&a);
    return msg;
}

static void test_errors_name_the_option(void **state)
{
    (void)state;
    char *unknown[] = {"--servce", "consult"};
    assert_string_equal(error_of(opts, 2, unknown),
                        "unknown option --servce (did you mean --service?)");
    char *far[] = {"--colour"};
    assert_string_equal(error_of(opts, 1, far), "unknown option --colour");
    char *at_end[] = {"--desc"};
    assert_string_equal(error_of(opts, 1, at_end), "--desc needs a value (TEXT)");
    char *next_opt[] = {"--desc", "--detained"};
    assert_string_equal(error_of(opts, 2, next_opt), "--desc needs a value, not --detained "
                                                     "(write --desc=--detained if you mean it)");
    char *twice[] = {"--service", "a", "--service", "b"};
    assert_string_equal(error_of(opts, 4, twice), "--service given more than once");
    char *flag_value[] = {"--detained=yes"};
    assert_string_equal(error_of(opts, 1, flag_value), "--detained takes no value");
    char *short_opt[] = {"-x"};
    assert_string_equal(error_of(opts, 1, short_opt),
                        "unknown option -x (options are long: --name)");
    char *none[] = {"x"};
    assert_string_equal(error_of(required_opts, 1, none),
                        "missing --origin NODE (the intake desk)");
}

static void test_fallback_and_stop(void **state)
{
    (void)state;
    /* global options before the command stop at the command name ... */
    char *argv[] = {"--json", "show", "X", "--broker", "tcp://b:1"};
    ctl_args_t g, a;
    ctl_args_init(&g, global_opts);
    int next = -1;
    assert_int_equal(ctl_args_parse(&g, ARGC(argv), argv, CTL_ARGS_STOP_AT_POSITIONAL, &next), 0);
    assert_int_equal(next, 1);
    assert_int_equal(ctl_args_count(&g, "json"), 1);
    /* ... and those after it land in the global parser */
    ctl_args_init(&a, opts);
    a.fallback = &g;
    assert_int_equal(ctl_args_parse(&a, ARGC(argv) - 2, argv + 2, 0, NULL), 0);
    assert_string_equal(ctl_args_get(&g, "broker"), "tcp://b:1");
    assert_int_equal(a.n_pos, 1);
    /* suggestions come from both tables */
    char *typo[] = {"--brokr", "x"};
    assert_int_equal(ctl_args_parse(&a, 2, typo, 0, NULL), -EINVAL);
    assert_string_equal(a.err, "unknown option --brokr (did you mean --broker?)");
    ctl_args_cleanup(&a);
    ctl_args_cleanup(&g);
}

static void test_help_and_closest(void **state)
{
    (void)state;
    char *h1[] = {"X", "--help"};
    char *h2[] = {"-h"};
    char *h3[] = {"--", "--help"};
    assert_true(ctl_args_wants_help(2, h1));
    assert_true(ctl_args_wants_help(1, h2));
    assert_false(ctl_args_wants_help(2, h3));
    const char *names[] = {"need-info", "requeue", "review", "show"};
    assert_string_equal(ctl_args_closest("needinfo", names, 4), "need-info");
    assert_string_equal(ctl_args_closest("shwo", names, 4), "show");
    assert_null(ctl_args_closest("status", names, 4));
    assert_null(ctl_args_closest("show", names, 4)); /* exact: not a typo */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_value_forms),       cmocka_unit_test(test_list_keeps_order),
        cmocka_unit_test(test_dash_values),       cmocka_unit_test(test_errors_name_the_option),
        cmocka_unit_test(test_fallback_and_stop), cmocka_unit_test(test_help_and_closest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
