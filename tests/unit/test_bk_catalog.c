/* Unit tests for bk_catalog: loading rows, checks, where steps go. */
#include "bk_catalog.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

static bk_catalog_t cat;

static void add(int (*fn)(bk_catalog_t *, char **), const char *a, const char *b, const char *c,
                const char *d, const char *e, const char *f, const char *g, const char *h,
                const char *i, const char *j, const char *k)
{
    char *v[] = {(char *)a, (char *)b, (char *)c, (char *)d, (char *)e, (char *)f,
                 (char *)g, (char *)h, (char *)i, (char *)j, (char *)k};
    assert_int_equal(fn(&cat, v), 0);
}

static int setup(void **state)
{
    (void)state;
    bk_catalog_init(&cat);
    const char *depts[] = {"consult", "legal_aid", "video_visit", "lawyer_admin", "discipline"};
    for (size_t i = 0; i < 5; i++) {
        char *v[] = {(char *)depts[i]};
        assert_int_equal(bk_catalog_add_dept(&cat, v), 0);
    }
    add(bk_catalog_add_service, "consult", "0", NULL, NULL, "0", 0, 0, 0, 0, 0, 0);
    add(bk_catalog_add_service, "legal_aid", "0", "7", "d", "1", 0, 0, 0, 0, 0, 0);
    add(bk_catalog_add_service, "prison_video", "0", NULL, NULL, "0", 0, 0, 0, 0, 0, 0);
    add(bk_catalog_add_step, "consult", "0", "answer", "locality", NULL, "consult", "2", "wd", "0",
        NULL, "14400");
    add(bk_catalog_add_step, "legal_aid", "0", "review", "town", NULL, "legal_aid", "2", "wd", "0",
        "city", NULL);
    add(bk_catalog_add_step, "legal_aid", "1", "decide", "city", NULL, "legal_aid", "7", "d", "1",
        NULL, NULL);
    add(bk_catalog_add_step, "prison_video", "0", "book", "designated",
        "dg.hongmei,dg.humen,dg.dongcheng", "video_visit", "5", "wd", "0", NULL, NULL);
    add(bk_catalog_add_outcome, "consult", "0", "answered", NULL, "completed", 0, 0, 0, 0, 0, 0);
    add(bk_catalog_add_outcome, "legal_aid", "0", "pass", "1", NULL, 0, 0, 0, 0, 0, 0);
    add(bk_catalog_add_outcome, "legal_aid", "0", "not_eligible", NULL, "terminated", 0, 0, 0, 0, 0,
        0);
    add(bk_catalog_add_outcome, "legal_aid", "1", "granted", NULL, "completed", 0, 0, 0, 0, 0, 0);
    add(bk_catalog_add_outcome, "prison_video", "0", "booked", NULL, "completed", 0, 0, 0, 0, 0, 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    bk_catalog_cleanup(&cat);
    return 0;
}

static void test_loaded(void **state)
{
    (void)state;
    char err[128];
    assert_int_equal(bk_catalog_check(&cat, err, sizeof(err)), 0);
    int la = bk_catalog_service(&cat, "legal_aid");
    assert_true(la >= 0);
    const bk_step_t *review = &cat.services[la].steps[0];
    assert_int_equal(review->skip_when_intake_at_depth, 1);
    assert_string_equal(review->outcomes[0].code, "pass"); /* the default is first */
    assert_int_equal(bk_catalog_outcome(review, "not_eligible")->ends, BK_END_TERMINATED);
    assert_null(bk_catalog_outcome(review, "granted"));
    assert_int_equal(cat.services[la].steps[1].statutory, 1);
    assert_int_equal(cat.services[0].steps[0].escalate_after_ms, 14400000);
    assert_int_equal(bk_catalog_service(&cat, "nothing"), -1);
}

static void test_scope(void **state)
{
    (void)state;
    char out[64];
    const bk_step_t *answer = &cat.services[bk_catalog_service(&cat, "consult")].steps[0];
    const bk_step_t *review = &cat.services[bk_catalog_service(&cat, "legal_aid")].steps[0];
    const bk_step_t *decide = &cat.services[bk_catalog_service(&cat, "legal_aid")].steps[1];
    const bk_step_t *book = &cat.services[bk_catalog_service(&cat, "prison_video")].steps[0];
    /* federation: each step where the catalog says */
    bk_catalog_scope(answer, "dg.humen.baisha", NULL, "dg", 0, out, sizeof(out));
    assert_string_equal(out, "dg.humen.baisha");
    bk_catalog_scope(review, "dg.humen.baisha", NULL, "dg", 0, out, sizeof(out));
    assert_string_equal(out, "dg.humen");
    bk_catalog_scope(review, "dg", NULL, "dg", 0, out, sizeof(out));
    assert_string_equal(out, "dg"); /* a city locality: the city itself */
    bk_catalog_scope(decide, "dg.humen.baisha", NULL, "dg.humen", 1, out, sizeof(out));
    assert_string_equal(out, "dg");
    /* a town broker without a parent handles the city step itself */
    bk_catalog_scope(decide, "dg.humen.baisha", NULL, "dg.humen", 0, out, sizeof(out));
    assert_string_equal(out, "dg.humen");
    /* designated: chosen site, else the locality's town if listed, else the first */
    bk_catalog_scope(book, "dg.humen.x", "dg.dongcheng", "dg", 0, out, sizeof(out));
    assert_string_equal(out, "dg.dongcheng");
    bk_catalog_scope(book, "dg.humen.x", NULL, "dg", 0, out, sizeof(out));
    assert_string_equal(out, "dg.humen");
    bk_catalog_scope(book, "dg.changan", NULL, "dg", 0, out, sizeof(out));
    assert_string_equal(out, "dg.hongmei");
}

static void test_bad_rows(void **state)
{
    (void)state;
    char *gap[] = {"consult", "5", "x", "city", NULL, "consult", NULL, NULL, "0", NULL, NULL};
    assert_int_not_equal(bk_catalog_add_step(&cat, gap), 0); /* steps numbered without gaps */
    char *dept[] = {"consult", "1", "x", "city", NULL, "nope", NULL, NULL, "0", NULL, NULL};
    assert_int_not_equal(bk_catalog_add_step(&cat, dept), 0); /* unknown department */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loaded),
        cmocka_unit_test(test_scope),
        cmocka_unit_test(test_bad_rows),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
