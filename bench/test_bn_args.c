/* Unit tests for pls-bench's option parser (bn_args) and its summaries and
 * order table (bn_stats): what a user typing a command line sees — the
 * defaults, each flag, and the message of every refusal. */
#include "bn_args.h"
#include "bn_stats.h"

#include "pls_log.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define ARGV(...) ((char *[]){"pls-bench", __VA_ARGS__, NULL})
#define ARGC(...) ((int)(sizeof((char *[]){"pls-bench", __VA_ARGS__}) / sizeof(char *)))
#define PARSE(o, err, ...) bn_args_parse(o, ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), err, sizeof(err))

static void test_defaults(void **state)
{
    (void)state;
    bn_opts_t o;
    char err[512];
    assert_int_equal(PARSE(&o, err, "--db", "dbname=x"), 0);
    assert_string_equal(o.db, "dbname=x");
    assert_null(o.broker);
    assert_string_equal(o.node, "dg");
    assert_string_equal(o.service, "consult");
    assert_int_equal(o.orders, 10000);
    assert_int_equal(o.workers, 16);
    assert_int_equal(o.concurrency, 64);
    assert_int_equal(o.submitters, 32);
    assert_int_equal(o.window, 1);
    assert_true(o.rate == 0);
    assert_int_equal(o.desc_bytes, 200);
    assert_int_equal(o.queue_only, 0);
    assert_int_equal(o.log_level, PLS_LOG_WARN);
}

static void test_every_flag(void **state)
{
    (void)state;
    bn_opts_t o;
    char err[512];
    assert_int_equal(PARSE(&o, err, "--broker", "tcp://127.0.0.1:7700", "--node", "dg.humen",
                           "--orders", "2000", "--workers", "4", "--concurrency", "8",
                           "--submitters", "3", "--rate", "500", "--service", "mixed",
                           "--desc-bytes", "16", "--citizen", "--warmup", "1.5", "--stall-timeout",
                           "9", "--broker-log", "/tmp/x.log", "--log-level", "debug"),
                     0);
    assert_string_equal(o.broker, "tcp://127.0.0.1:7700");
    assert_string_equal(o.node, "dg.humen");
    assert_int_equal(o.orders, 2000);
    assert_int_equal(o.workers, 4);
    assert_int_equal(o.concurrency, 8);
    assert_int_equal(o.submitters, 3);
    assert_true(o.rate == 500);
    assert_string_equal(o.service, "mixed");
    assert_int_equal(o.desc_bytes, 16);
    assert_int_equal(o.citizen, 1);
    assert_true(o.warmup_s == 1.5);
    assert_int_equal(o.stall_s, 9);
    assert_string_equal(o.broker_log, "/tmp/x.log");
    assert_int_equal(o.log_level, PLS_LOG_DEBUG);
}

static void test_queue_only(void **state)
{
    (void)state;
    bn_opts_t o;
    char err[512];
    assert_int_equal(PARSE(&o, err, "--db", "x", "--queue-only"), 0);
    assert_int_equal(o.workers, 0);
    assert_int_equal(PARSE(&o, err, "--db", "x", "--queue-only", "--workers", "2"), -EINVAL);
    assert_string_equal(err, "--queue-only runs without workers: drop --workers");
    assert_int_equal(PARSE(&o, err, "--db", "x", "--workers", "0"), -EINVAL);
    assert_non_null(strstr(err, "use --queue-only"));
}

static void test_refusals(void **state)
{
    (void)state;
    bn_opts_t o;
    char err[512];
    assert_int_equal(PARSE(&o, err, "--orders", "5"), -EINVAL);
    assert_non_null(strstr(err, "exactly one of --db"));
    assert_int_equal(PARSE(&o, err, "--db", "x", "--broker", "tcp://a:1"), -EINVAL);
    assert_non_null(strstr(err, "exactly one of --db"));
    assert_int_equal(PARSE(&o, err, "--db", "x", "--orders", "many"), -EINVAL);
    assert_string_equal(err, "--orders: expected a number from 1 to 100000000, got 'many'");
    assert_int_equal(PARSE(&o, err, "--db", "x", "--rate", "-3"), -EINVAL);
    assert_non_null(strstr(err, "--rate: expected a number"));
    assert_int_equal(PARSE(&o, err, "--db", "x", "--service", "astrology"), -EINVAL);
    assert_non_null(strstr(err, "--service: unknown service 'astrology'"));
    assert_int_equal(PARSE(&o, err, "--db", "x", "--node", "DG"), -EINVAL);
    assert_non_null(strstr(err, "--node"));
    assert_int_equal(PARSE(&o, err, "--db", "x", "--bogus"), -EINVAL);
    assert_string_equal(err, "unknown option '--bogus' (see --help)");
    assert_int_equal(PARSE(&o, err, "--db"), -EINVAL);
    assert_string_equal(err, "--db: missing value");
    assert_int_equal(PARSE(&o, err, "--db", "x", "extra"), -EINVAL);
    assert_string_equal(err, "unexpected argument 'extra' (see --help)");
    assert_int_equal(PARSE(&o, err, "--db", "x", "--rate", "10", "--window", "4"), -EINVAL);
    assert_non_null(strstr(err, "--window is for the closed loop"));
    assert_int_equal(
        PARSE(&o, err, "--db", "x", "--rate", "100", "--orders", "100", "--warmup", "2"), -EINVAL);
    assert_non_null(strstr(err, "no order would be measured"));
    assert_int_equal(PARSE(&o, err, "--db", "x", "--log-level", "loud"), -EINVAL);
    assert_non_null(strstr(err, "--log-level"));
}

static void test_federation(void **state)
{
    (void)state;
    bn_opts_t o;
    char err[512];
    assert_int_equal(PARSE(&o, err, "--db", "t", "--city-db", "c", "--federation"), 0);
    assert_true(o.federation);
    assert_string_equal(o.node, "dg.humen");
    assert_string_equal(o.city_node, "dg");
    assert_string_equal(o.service, "legal_aid");
    assert_string_equal(o.city_db, "c");
    assert_int_equal(PARSE(&o, err, "--broker", "tcp://t", "--city-broker", "tcp://c",
                           "--federation", "--node", "dg.changan", "--service", "notary"),
                     0);
    assert_string_equal(o.city_node, "dg");
    assert_string_equal(o.service, "notary");
    assert_int_equal(PARSE(&o, err, "--db", "x", "--federation"), -EINVAL);
    assert_non_null(strstr(err, "--city-db CONNINFO"));
    assert_int_equal(PARSE(&o, err, "--broker", "x", "--federation"), -EINVAL);
    assert_non_null(strstr(err, "--city-broker ENDPOINT"));
    assert_int_equal(PARSE(&o, err, "--db", "x", "--city-db", "x", "--federation"), -EINVAL);
    assert_non_null(strstr(err, "databases of their own"));
    assert_int_equal(PARSE(&o, err, "--db", "x", "--city-db", "y", "--federation", "--node", "dg"),
                     -EINVAL);
    assert_non_null(strstr(err, "must be a town"));
    assert_int_equal(
        PARSE(&o, err, "--db", "x", "--city-db", "y", "--federation", "--workers", "1"), -EINVAL);
    assert_non_null(strstr(err, "at least 2"));
    assert_int_equal(PARSE(&o, err, "--db", "x", "--city-db", "y", "--federation", "--queue-only"),
                     -EINVAL);
    assert_non_null(strstr(err, "not with --federation"));
    assert_int_equal(PARSE(&o, err, "--db", "x", "--city-db", "y"), -EINVAL);
    assert_string_equal(err, "--city-db is for --federation runs");
}

static void test_depts(void **state)
{
    (void)state;
    const char *d[BN_MAX_DEPTS];
    assert_int_equal(bn_depts_for("consult", d, BN_MAX_DEPTS), 1);
    assert_string_equal(d[0], "consult");
    assert_int_equal(bn_depts_for("notary", d, BN_MAX_DEPTS), 2);
    assert_string_equal(d[1], "notary_admin");
    assert_int_equal(bn_depts_for("complaint", d, BN_MAX_DEPTS), 1);
    assert_string_equal(d[0], "discipline");
    assert_int_equal(bn_depts_for("mixed", d, BN_MAX_DEPTS), 16);
    assert_int_equal(bn_n_services, 12);
}

static void test_summary(void **state)
{
    (void)state;
    int64_t v[100];
    for (int i = 0; i < 100; i++)
        v[i] = (100 - i) * 1000; /* 100 ms .. 1 ms, unsorted */
    bn_summary_t s;
    bn_summarize_us(v, 100, &s);
    assert_int_equal(s.n, 100);
    assert_true(s.p50 == 50.0);
    assert_true(s.p90 == 90.0);
    assert_true(s.p99 == 99.0);
    assert_true(s.max == 100.0);
    assert_true(s.mean == 50.5);
    int64_t one = 1500;
    bn_summarize_us(&one, 1, &s);
    assert_true(s.p50 == 1.5 && s.p99 == 1.5 && s.max == 1.5);
    bn_summarize_us(v, 0, &s);
    assert_int_equal(s.n, 0);
}

static void test_map(void **state)
{
    (void)state;
    bn_map_t m;
    bn_map_init(&m, 1000);
    pls_uuid_t ids[1000];
    for (int i = 0; i < 1000; i++) {
        pls_uuid7(&ids[i], 1700000000000LL); /* same millisecond: only the tail differs */
        bn_seen_t *e = bn_map_get(&m, &ids[i]);
        assert_non_null(e);
        assert_int_equal(e->idx, -1);
        e->idx = i;
    }
    for (int i = 0; i < 1000; i++)
        assert_int_equal(bn_map_get(&m, &ids[i])->idx, i);
    size_t n = 0;
    for (size_t i = 0; i < bn_map_capacity(&m); i++)
        n += bn_map_slot(&m, i) != NULL;
    assert_int_equal(n, 1000);
    bn_map_cleanup(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),   cmocka_unit_test(test_every_flag),
        cmocka_unit_test(test_queue_only), cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_federation), cmocka_unit_test(test_depts),
        cmocka_unit_test(test_summary),    cmocka_unit_test(test_map),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
