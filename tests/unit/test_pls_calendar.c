/*
 * test_pls_calendar — working days, limits and the calendar file.
 *
 * The 2025/2026 expectations are transcribed here a second time from the
 * State Council notices, independently of deploy/calendar/cn-holidays.csv,
 * so a typo in either shows up as a failure. Instants that matter are also
 * written as literal epoch milliseconds (computed outside this code), so the
 * tests do not only check the module against itself.
 */
#include "pls_calendar.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#define H PLS_CALENDAR_HOUR_MS
#define MIN 60000LL
#define DATA_FILE PLS_SOURCE_DIR "/deploy/calendar/cn-holidays.csv"

static pls_calendar_t *cal; /* the real data file, loaded once */

/* Shanghai wall time of a date. */
static int64_t at(int yyyymmdd, int hh, int mm)
{
    return pls_calendar_day_start(yyyymmdd) + hh * H + mm * MIN;
}

static int64_t end_of(int yyyymmdd)
{
    return pls_calendar_day_end(yyyymmdd);
}

static int64_t due(int64_t start, int n, pls_calendar_unit_t unit)
{
    return pls_calendar_due(cal, start, n, unit);
}

static int group_setup(void **state)
{
    (void)state;
    char err[256];
    cal = pls_calendar_new();
    if (pls_calendar_load(cal, DATA_FILE, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    pls_calendar_destroy(&cal);
    pls_calendar_destroy(&cal); /* safe twice */
    return 0;
}

/* ---- dates --------------------------------------------------------------- */

static void test_dates(void **state)
{
    (void)state;
    const int64_t jan1_utc = 1767225600000LL; /* 2026-01-01T00:00:00Z */
    assert_int_equal(pls_calendar_date_of(jan1_utc), 20260101);
    assert_int_equal(pls_calendar_date_of(jan1_utc - 8 * H), 20260101); /* 00:00 Shanghai */
    assert_int_equal(pls_calendar_date_of(jan1_utc - 8 * H - 1), 20251231);
    assert_true(pls_calendar_day_start(20260101) == jan1_utc - 8 * H);
    assert_true(pls_calendar_day_end(20251231) == jan1_utc - 8 * H);
    assert_int_equal(pls_calendar_date_of(-1), 19700101); /* 07:59:59.999 in Shanghai */
    assert_int_equal(pls_calendar_date_of(-8 * H - 1), 19691231);

    assert_int_equal(pls_calendar_weekday(20261001), 4); /* 周四 */
    assert_int_equal(pls_calendar_weekday(20260214), 6); /* 周六 */
    assert_int_equal(pls_calendar_weekday(20250126), 7); /* 周日 */
    assert_int_equal(pls_calendar_weekday(19700101), 4);
    assert_int_equal(pls_calendar_weekday(20260230), 0);

    assert_int_equal(pls_calendar_add_days(20260228, 1), 20260301);
    assert_int_equal(pls_calendar_add_days(20240228, 1), 20240229);
    assert_int_equal(pls_calendar_add_days(20260101, -1), 20251231);
    assert_int_equal(pls_calendar_add_days(20260131, 30), 20260302);

    assert_true(pls_calendar_date_valid(20240229));
    assert_false(pls_calendar_date_valid(20260229));
    assert_false(pls_calendar_date_valid(21000229));
    assert_true(pls_calendar_date_valid(20000229));
    assert_false(pls_calendar_date_valid(20261301));
    assert_false(pls_calendar_date_valid(20260100));
    assert_false(pls_calendar_date_valid(0));
}

/* ---- the data ------------------------------------------------------------ */

struct range {
    int from, to; /* inclusive */
};

/* Days off (放假) of the notices, as ranges. */
static const struct range holidays[] = {
    /* 国办发明电〔2024〕12号 */
    {20250101, 20250101}, /* 元旦 */
    {20250128, 20250204}, /* 春节 */
    {20250404, 20250406}, /* 清明节 */
    {20250501, 20250505}, /* 劳动节 */
    {20250531, 20250602}, /* 端午节 */
    {20251001, 20251008}, /* 国庆节、中秋节 */
    /* 2026 notice of 2025-11-04 */
    {20260101, 20260103}, /* 元旦 */
    {20260215, 20260223}, /* 春节 */
    {20260404, 20260406}, /* 清明节 */
    {20260501, 20260505}, /* 劳动节 */
    {20260619, 20260621}, /* 端午节 */
    {20260925, 20260927}, /* 中秋节 */
    {20261001, 20261007}, /* 国庆节 */
};

/* Make-up working days (上班). */
static const int makeup[] = {
    20250126, 20250208, 20250427, 20250928, 20251011,           /* 2025 */
    20260104, 20260214, 20260228, 20260509, 20260920, 20261010, /* 2026 */
};

static int expected_workday(int d)
{
    for (size_t i = 0; i < sizeof(makeup) / sizeof(makeup[0]); i++)
        if (makeup[i] == d)
            return 1;
    for (size_t i = 0; i < sizeof(holidays) / sizeof(holidays[0]); i++)
        if (d >= holidays[i].from && d <= holidays[i].to)
            return 0;
    return pls_calendar_weekday(d) <= 5;
}

static void test_data_file(void **state)
{
    (void)state;
    for (int year = 2025; year <= 2026; year++) {
        int workdays = 0;
        for (int d = year * 10000 + 101; d / 10000 == year; d = pls_calendar_add_days(d, 1)) {
            if (pls_calendar_is_workday(cal, d) != expected_workday(d))
                fail_msg("%d: file says %s", d,
                         pls_calendar_is_workday(cal, d) ? "working day" : "day off");
            workdays += pls_calendar_is_workday(cal, d);
        }
        /* 261 Monday–Friday days minus the 13 statutory days of the 2024
         * 全国年节及纪念日放假办法, in both years. */
        assert_int_equal(workdays, 248);
    }
    for (size_t i = 0; i < sizeof(makeup) / sizeof(makeup[0]); i++)
        assert_true(pls_calendar_weekday(makeup[i]) >= 6);

    assert_true(pls_calendar_has_year(cal, 2025));
    assert_true(pls_calendar_has_year(cal, 2026));
    assert_false(pls_calendar_has_year(cal, 2024));
    assert_false(pls_calendar_has_year(cal, 2027));
    assert_non_null(strstr(pls_calendar_year_source(cal, 2025), "国办发明电〔2024〕12号"));
    assert_non_null(strstr(pls_calendar_year_source(cal, 2026), "2026年部分节假日安排"));
    assert_null(pls_calendar_year_source(cal, 2027));

    const char *name = "x";
    assert_int_equal(pls_calendar_kind(cal, 20261001, &name), PLS_CALENDAR_HOLIDAY);
    assert_string_equal(name, "国庆节");
    assert_int_equal(pls_calendar_kind(cal, 20260214, &name), PLS_CALENDAR_WORKDAY);
    assert_string_equal(name, "春节调休上班");
    assert_int_equal(pls_calendar_kind(cal, 20260310, &name), PLS_CALENDAR_NONE);
    assert_null(name);

    assert_int_equal(pls_calendar_next_workday(cal, 20260930), 20261008);
    assert_int_equal(pls_calendar_next_workday(cal, 20261009), 20261010);
    assert_int_equal(pls_calendar_next_workday(cal, 20260213), 20260214);
}

/* ---- working-day limits -------------------------------------------------- */

static void test_wd_across_national_day(void **state)
{
    (void)state;
    /* Accepted on Wednesday 30 September 2026, the day before 国庆 (1–7 Oct). */
    int64_t start = at(20260930, 10, 0);
    assert_true(due(start, 1, PLS_CALENDAR_WD) == 1791475200000LL); /* 2026-10-08T16:00Z */
    assert_true(due(start, 1, PLS_CALENDAR_WD) == end_of(20261008));
    assert_true(due(start, 2, PLS_CALENDAR_WD) == end_of(20261009));
    assert_true(due(start, 3, PLS_CALENDAR_WD) == end_of(20261010)); /* 调休 Saturday */
    assert_true(due(start, 4, PLS_CALENDAR_WD) == end_of(20261012));
    assert_true(due(at(20260929, 16, 0), 2, PLS_CALENDAR_WD) == end_of(20261008));
    /* 中秋 25–27 Sep and the 调休 Sunday 20 Sep. */
    assert_true(due(at(20260918, 9, 0), 1, PLS_CALENDAR_WD) == end_of(20260920));
    assert_true(due(at(20260924, 9, 0), 1, PLS_CALENDAR_WD) == end_of(20260928));
    /* 15 working days (complaint) from Monday 2026-09-21: 22–24, 28–30,
     * 8–10 (10th a 调休 Saturday), 12–16, 19. */
    assert_true(due(at(20260921, 9, 0), 15, PLS_CALENDAR_WD) == end_of(20261019));
    /* n = 0: the end of the day of acceptance. */
    assert_true(due(start, 0, PLS_CALENDAR_WD) == end_of(20260930));
}

static void test_wd_makeup_saturday(void **state)
{
    (void)state;
    /* Friday before 春节 2026: Saturday 14 Feb is a working day, then 15–23 off. */
    int64_t fri = at(20260213, 15, 0);
    assert_true(due(fri, 1, PLS_CALENDAR_WD) == end_of(20260214));
    assert_true(due(fri, 2, PLS_CALENDAR_WD) == end_of(20260224));
    /* Saturday 28 Feb 2026 is a working day too. */
    int64_t fri2 = at(20260227, 9, 0);
    assert_true(due(fri2, 1, PLS_CALENDAR_WD) == end_of(20260228));
    assert_true(due(fri2, 2, PLS_CALENDAR_WD) == end_of(20260302));
    /* An ordinary Saturday is not. */
    assert_true(due(at(20260306, 9, 0), 1, PLS_CALENDAR_WD) == end_of(20260309));
}

static void test_wd_friday_evening(void **state)
{
    (void)state;
    /* Friday 13 March 2026, 21:30 in Shanghai: the weekend does not count. */
    assert_true(due(at(20260313, 21, 30), 1, PLS_CALENDAR_WD) == end_of(20260316));
    assert_true(due(at(20260313, 21, 30), 5, PLS_CALENDAR_WD) == end_of(20260320));
    assert_true(due(end_of(20260313) - 1, 1, PLS_CALENDAR_WD) == end_of(20260316));
    /* 2026-03-12T20:00Z is Thursday in UTC but Friday 04:00 in Shanghai:
     * the limit is counted from Friday, so 1 working day ends Monday, not
     * Friday as a UTC calendar would say. */
    int64_t thu_utc = 1773345600000LL;
    assert_int_equal(pls_calendar_date_of(thu_utc), 20260313);
    assert_true(due(thu_utc, 1, PLS_CALENDAR_WD) == 1773676800000LL); /* 2026-03-16T16:00Z */
}

static void test_wd_accepted_on_day_off(void **state)
{
    (void)state;
    /* On a holiday: counting starts after it. */
    assert_true(due(at(20261001, 10, 0), 1, PLS_CALENDAR_WD) == end_of(20261008));
    assert_true(due(at(20261005, 23, 59), 1, PLS_CALENDAR_WD) == end_of(20261008));
    /* On a Sunday. */
    assert_true(due(at(20260315, 10, 0), 1, PLS_CALENDAR_WD) == end_of(20260316));
    /* On a 调休 Saturday, which is a working day: it still does not count. */
    assert_true(due(at(20261010, 10, 0), 1, PLS_CALENDAR_WD) == end_of(20261012));
    /* At 00:00 of a working day: that day does not count either. */
    assert_true(due(at(20261008, 0, 0), 1, PLS_CALENDAR_WD) == end_of(20261009));
}

/* ---- hours and calendar days --------------------------------------------- */

static void test_hours(void **state)
{
    (void)state;
    /* 23:30 UTC on 10 March is 07:30 on 11 March in Shanghai. */
    int64_t start = 1773185400000LL; /* 2026-03-10T23:30Z */
    assert_int_equal(pls_calendar_date_of(start), 20260311);
    assert_true(start == at(20260311, 7, 30));
    assert_true(due(start, 1, PLS_CALENDAR_HOURS) == start + 3600000);
    assert_true(due(start, 24, PLS_CALENDAR_HOURS) == 1773271800000LL); /* 2026-03-11T23:30Z */
    assert_true(due(start, 0, PLS_CALENDAR_HOURS) == start);
    /* Hours run through nights and holidays. */
    assert_true(due(at(20260930, 20, 0), 24, PLS_CALENDAR_HOURS) == at(20261001, 20, 0));
    assert_true(due(at(20260930, 23, 30), 1, PLS_CALENDAR_HOURS) == at(20261001, 0, 30));
    /* Negative n is 0. */
    assert_true(due(start, -5, PLS_CALENDAR_HOURS) == start);
}

static void test_calendar_days(void **state)
{
    (void)state;
    /* 7 days (法律援助法 §43) across 国庆: holidays count. */
    assert_true(due(at(20260928, 10, 0), 7, PLS_CALENDAR_DAYS) == end_of(20261005));
    assert_true(due(end_of(20260928) - 1, 7, PLS_CALENDAR_DAYS) == end_of(20261005));
    assert_true(due(at(20260929, 0, 0), 7, PLS_CALENDAR_DAYS) == end_of(20261006));
    /* 30 days (mediation) across a short February. */
    assert_true(due(at(20260131, 12, 0), 30, PLS_CALENDAR_DAYS) == end_of(20260302));
    /* Counted from the Shanghai date: Thursday 20:00 UTC is Friday here. */
    assert_true(due(1773345600000LL, 1, PLS_CALENDAR_DAYS) ==
                1773504000000LL); /* end of Sat 14 March = 2026-03-14T16:00Z */
    assert_true(due(at(20260930, 10, 0), 0, PLS_CALENDAR_DAYS) == end_of(20260930));
}

/* ---- a year without data ------------------------------------------------- */

static void test_fallback_year(void **state)
{
    (void)state;
    int out[8] = {0};
    assert_int_equal(pls_calendar_missing_years(cal, 2024, 2028, out, 8), 3);
    assert_int_equal(out[0], 2024);
    assert_int_equal(out[1], 2027);
    assert_int_equal(out[2], 2028);
    memset(out, 0, sizeof(out));
    assert_int_equal(pls_calendar_missing_years(cal, 2024, 2028, out, 1), 3);
    assert_int_equal(out[0], 2024);
    assert_int_equal(out[1], 0);
    assert_int_equal(pls_calendar_missing_years(cal, 2025, 2026, out, 8), 0);
    assert_int_equal(pls_calendar_missing_years(cal, 2026, 2025, out, 8), 0);
    assert_int_equal(pls_calendar_missing_years(NULL, 2026, 2026, NULL, 0), 1);

    /* 2027 has no data: Monday–Friday, so 1 Oct 2027 (a Friday) works. */
    assert_int_equal(pls_calendar_weekday(20271001), 5);
    assert_true(pls_calendar_is_workday(cal, 20271001));
    assert_false(pls_calendar_is_workday(cal, 20271002));
    assert_true(due(at(20270930, 10, 0), 1, PLS_CALENDAR_WD) == end_of(20271001));
    assert_true(due(at(20270930, 10, 0), 2, PLS_CALENDAR_WD) == end_of(20271004));
    /* Across the year end: 1 Jan 2027 is a Friday and counts without data. */
    assert_true(due(at(20261231, 10, 0), 1, PLS_CALENDAR_WD) == end_of(20270101));
    assert_true(due(at(20261231, 10, 0), 2, PLS_CALENDAR_WD) == end_of(20270104));
    /* No calendar at all: Monday–Friday everywhere. */
    assert_true(pls_calendar_due(NULL, at(20260930, 10, 0), 1, PLS_CALENDAR_WD) ==
                end_of(20261001));
    assert_false(pls_calendar_has_year(NULL, 2026));
}

/* ---- pauses, fractions, 通报 --------------------------------------------- */

static void test_paused(void **state)
{
    (void)state;
    int64_t start = at(20260930, 10, 0);
    /* Paused 3 hours: the due time (end of 8 Oct) moves 3 hours later. */
    assert_true(pls_calendar_due_paused(cal, start, 1, PLS_CALENDAR_WD, 3 * H) ==
                at(20261009, 3, 0));
    /* Paused 2 days over a weekend: exactly 2 days later, even onto a Sunday. */
    int64_t fri = at(20260313, 21, 30);
    assert_true(pls_calendar_due_paused(cal, fri, 5, PLS_CALENDAR_WD, 48 * H) == end_of(20260322));
    assert_true(pls_calendar_due_paused(cal, start, 7, PLS_CALENDAR_DAYS, 90 * MIN) ==
                at(20261008, 1, 30));
    assert_true(pls_calendar_due_paused(cal, start, 1, PLS_CALENDAR_HOURS, 1) == start + H + 1);
    assert_true(pls_calendar_due_paused(cal, start, 1, PLS_CALENDAR_WD, 0) == end_of(20261008));
    assert_true(pls_calendar_due_paused(cal, start, 1, PLS_CALENDAR_WD, -H) == end_of(20261008));
}

static void test_fraction(void **state)
{
    (void)state;
    int64_t start = at(20260310, 9, 0), due10h = start + 10 * H;
    assert_true(pls_calendar_at_fraction(start, due10h, 0.8) == at(20260310, 17, 0));
    assert_true(pls_calendar_at_fraction(start, due10h, 0.5) == at(20260310, 14, 0));
    assert_true(pls_calendar_at_fraction(start, due10h, 0) == start);
    assert_true(pls_calendar_at_fraction(start, due10h, 1) == due10h);
    assert_true(pls_calendar_at_fraction(start, due10h, 1.5) == due10h);
    assert_true(pls_calendar_at_fraction(start, due10h, -1) == start);
    assert_true(pls_calendar_at_fraction(start, due10h, NAN) == start);
    /* Wall time, not working time: Friday 21:30 + 1 wd ends Tuesday 00:00,
     * 74.5 h later; 80 % of that is 59 h 36 min, Monday 09:06. */
    int64_t fri = at(20260313, 21, 30);
    int64_t d = due(fri, 1, PLS_CALENDAR_WD);
    assert_true(d == end_of(20260316));
    assert_true(pls_calendar_at_fraction(fri, d, 0.8) == at(20260316, 9, 6));
    /* Rounded down to the millisecond. */
    assert_true(pls_calendar_at_fraction(0, 10, 0.99) == 9);
}

static void test_workdays_between(void **state)
{
    (void)state;
    /* Red since the end of 30 Sep 2026; 通报 after 3 more working days. */
    int64_t red = end_of(20260930);
    assert_int_equal(pls_calendar_workdays_between(cal, red, end_of(20261007)), 0);
    assert_int_equal(pls_calendar_workdays_between(cal, red, end_of(20261008)), 1);
    assert_int_equal(pls_calendar_workdays_between(cal, red, end_of(20261009)), 2);
    assert_int_equal(pls_calendar_workdays_between(cal, red, end_of(20261010) - 1), 2);
    assert_int_equal(pls_calendar_workdays_between(cal, red, end_of(20261010)), 3);
    assert_int_equal(pls_calendar_workdays_between(cal, red, red), 0);
    assert_int_equal(pls_calendar_workdays_between(cal, red, red - 1), 0);
    /* Red at noon on a working day: that day's end counts. */
    assert_int_equal(pls_calendar_workdays_between(cal, at(20261008, 12, 0), end_of(20261008)), 1);
    assert_int_equal(pls_calendar_workdays_between(cal, at(20261008, 12, 0), end_of(20261008) - 1),
                     0);
    /* A whole ordinary week. */
    assert_int_equal(pls_calendar_workdays_between(cal, end_of(20260315), end_of(20260322)), 5);
}

/* ---- loading ------------------------------------------------------------- */

/* Write text to a fresh file in /tmp; path receives its name. */
static void write_tmp(char path[64], const char *text)
{
    snprintf(path, 64, "/tmp/pls_calendar_test_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_true(write(fd, text, n) == (ssize_t)n);
    close(fd);
}

static void test_malformed(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *error; /* after "<path>:" */
    } cases[] = {
        {"year,2026,x\n2026-02-30,holiday,x\n",
         "2: bad date \"2026-02-30\" (expected YYYY-MM-DD or year)"},
        {"year,2026,x\n2026-1-01,holiday,x\n",
         "2: bad date \"2026-1-01\" (expected YYYY-MM-DD or year)"},
        {"# comment\nyear,2026,x\n2026-01-01,holday,元旦\n",
         "3: bad kind \"holday\" (expected holiday or workday)"},
        {"year,2026,x\n2026-01-01,holiday\n",
         "2: expected 3 fields (date,kind,name or year,YYYY,source), found 2"},
        {"year,2026,x\n2026-01-01,holiday,元旦,extra\n",
         "2: expected 3 fields (date,kind,name or year,YYYY,source), found 4"},
        {"year,2026,x\n\n2026-01-01,holiday,元旦\n2026-01-01,holiday,元旦\n",
         "4: duplicate date 2026-01-01 (first at line 3)"},
        {"year,2026,x\n2026-01-05,workday,x\n",
         "2: workday 2026-01-05 is a weekday already (make-up days are weekends)"},
        {"year,2026,x\n2027-05-01,holiday,劳动节\n",
         "2: no year line for 2027 (add `year,2027,<source>`)"},
        {"year,2026,x\nyear,2026,y\n", "2: duplicate year 2026 (first at line 1)"},
        {"year,26,x\n", "1: bad year \"26\""},
        /* A long field is cut to 40 bytes at a character boundary. */
        {"year,2026,x\n2026-01-01,春节春节春节春节春节春节春节,x\n",
         "2: bad kind \"春节春节春节春节春节春节春\" (expected holiday or workday)"},
        {"year,2026,x\n2026-01-01,holiday, \n", "2: empty third field (the name or the source)"},
        {"year,2026,x\n2026-01-01,holiday,\xff\n", "2: third field is not valid UTF-8"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        pls_calendar_t *c = pls_calendar_new();
        char path[64], err[256], want[256];
        write_tmp(path, cases[i].text);
        snprintf(want, sizeof(want), "%s:%s", path, cases[i].error);
        assert_int_equal(pls_calendar_load(c, path, err, sizeof(err)), -EINVAL);
        assert_string_equal(err, want);
        /* A failed load changes nothing. */
        assert_false(pls_calendar_has_year(c, 2026));
        assert_int_equal(pls_calendar_kind(c, 20260101, NULL), PLS_CALENDAR_NONE);
        unlink(path);
        pls_calendar_destroy(&c);
        assert_null(c);
    }
}

static void test_load_rules(void **state)
{
    (void)state;
    char err[256], path[64], want[256];
    pls_calendar_t *c = pls_calendar_new();

    /* BOM, CRLF, spaces around fields; a break starting on 31 December of
     * the year before the declared one. */
    write_tmp(path, "\xEF\xBB\xBFyear,2023,notice\r\n 2022-12-31 , holiday , 元旦\r\n"
                    "2023-01-01,holiday,元旦\r\n2023-01-02,holiday,元旦");
    assert_int_equal(pls_calendar_load(c, path, err, sizeof(err)), 0);
    unlink(path);
    assert_true(pls_calendar_has_year(c, 2023));
    assert_false(pls_calendar_has_year(c, 2022));
    assert_string_equal(pls_calendar_year_source(c, 2023), "notice");
    assert_false(pls_calendar_is_workday(c, 20230102)); /* a Monday off */
    assert_int_equal(pls_calendar_kind(c, 20221231, NULL), PLS_CALENDAR_HOLIDAY);

    /* A second file adds to the first; a date may not appear in both. */
    write_tmp(path, "year,2024,n\n2023-01-02,holiday,元旦\n");
    snprintf(want, sizeof(want), "%s:2: duplicate date 2023-01-02 (already loaded)", path);
    assert_int_equal(pls_calendar_load(c, path, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, want);
    assert_false(pls_calendar_has_year(c, 2024));
    unlink(path);

    write_tmp(path, "# again\nyear,2023,n\n");
    snprintf(want, sizeof(want), "%s:2: year 2023 is already loaded", path);
    assert_int_equal(pls_calendar_load(c, path, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, want);
    unlink(path);

    write_tmp(path, "year,2024,n\n2024-02-10,holiday,春节\n");
    assert_int_equal(pls_calendar_load(c, path, err, sizeof(err)), 0);
    unlink(path);
    assert_true(pls_calendar_has_year(c, 2024));
    assert_int_equal(pls_calendar_kind(c, 20230101, NULL), PLS_CALENDAR_HOLIDAY);
    assert_int_equal(pls_calendar_kind(c, 20240210, NULL), PLS_CALENDAR_HOLIDAY);

    /* Empty text is an empty, valid calendar. */
    assert_int_equal(pls_calendar_load_text(c, "empty", "", 0, err, sizeof(err)), 0);
    const char *text = "year,2030,x\n2030-13-01,holiday,y";
    assert_int_equal(pls_calendar_load_text(c, "inline", text, strlen(text), err, sizeof(err)),
                     -EINVAL);
    assert_string_equal(err, "inline:2: bad date \"2030-13-01\" (expected YYYY-MM-DD or year)");

    /* A missing file. */
    assert_int_equal(pls_calendar_load(c, "/nonexistent/cal.csv", err, sizeof(err)), -ENOENT);
    assert_string_equal(err, "could not open /nonexistent/cal.csv: No such file or directory");
    /* Loading the real file twice. */
    pls_calendar_destroy(&c);
    c = pls_calendar_new();
    assert_int_equal(pls_calendar_load(c, DATA_FILE, err, sizeof(err)), 0);
    assert_int_equal(pls_calendar_load(c, DATA_FILE, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, DATA_FILE ":"));
    assert_non_null(strstr(err, ": year 2025 is already loaded"));
    pls_calendar_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_data_file),
        cmocka_unit_test(test_wd_across_national_day),
        cmocka_unit_test(test_wd_makeup_saturday),
        cmocka_unit_test(test_wd_friday_evening),
        cmocka_unit_test(test_wd_accepted_on_day_off),
        cmocka_unit_test(test_hours),
        cmocka_unit_test(test_calendar_days),
        cmocka_unit_test(test_fallback_year),
        cmocka_unit_test(test_paused),
        cmocka_unit_test(test_fraction),
        cmocka_unit_test(test_workdays_between),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_load_rules),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
