/*
 * pls_calendar — the working-day calendar and time-limit arithmetic of
 * DESIGN §9. Pure: no clock, no logging, no I/O except reading a data file.
 *
 * Every calendar question is asked in Asia/Shanghai (UTC+8, no daylight
 * saving since 1991); times are epoch milliseconds, dates are YYYYMMDD ints.
 *
 * A calendar is the set of days the State Council's yearly notice changes:
 * public holidays (days off, including weekend days inside a break) and
 * make-up working days (调休上班, always a Saturday or Sunday). Every other day
 * is a working day when it is Monday to Friday. A year counts as "having
 * data" only when the data file declares it with a `year` line citing the
 * notice; a year without data silently falls back to Monday–Friday, and the
 * caller is expected to show a status warning (pls_calendar_missing_years).
 *
 * Data file (deploy/calendar/cn-holidays.csv), UTF-8, one record a line:
 *
 *     # comment (the file's header cites its sources)
 *     year,2026,国务院办公厅关于2026年部分节假日安排的通知（2025-11-04）
 *     2026-01-01,holiday,元旦
 *     2026-01-04,workday,元旦调休上班
 *
 * Exactly three comma-separated fields; blank lines and lines starting with
 * '#' are skipped; CRLF and a leading BOM are accepted. Rules checked at load:
 * a date is a real calendar date; a date appears once (across all files
 * loaded); a `workday` falls on a Saturday or Sunday (otherwise it is a typo);
 * every dated line belongs to a declared year, or to the December before /
 * January after one (a notice may start a break on 31 December); a year is
 * declared once; the third field is non-empty UTF-8. A load that fails
 * changes nothing.
 *
 * Time limits (a "day of acceptance" is the Shanghai date of start_ms):
 *
 *   WD     N working days: ends at 24:00 of the Nth working day after the day
 *          of acceptance. The day of acceptance never counts, even when it is
 *          a working day; acceptance on a holiday or weekend is the same.
 *   DAYS   N calendar days: ends at 24:00 of the Nth day after the day of
 *          acceptance. Holidays count (see the note below).
 *   HOURS  N hours: start_ms + N * 3 600 000, holidays and nights included.
 *
 * 24:00 of day D is returned as 00:00 of D+1 (the first instant that is
 * late), so "breached" is `now >= due`.
 *
 * Paused time (waiting for the citizen after 一次告知): the rule is "the due
 * time moves later by exactly as long as the order was paused", measured in
 * wall time, whatever the unit: due_paused = due(start, n, unit) + paused_ms.
 * A pause over a weekend therefore moves a working-day limit by the weekend's
 * length too; the result is easy to state to a citizen and to check by hand.
 * Warnings move with it: yellow for a paused order is
 * at_fraction(start, due_unpaused, 0.8) + paused_ms.
 *
 * Note for calendar-day limits: 民法典 §203 moves the last day of a period that
 * falls on a statutory holiday to the day after the holiday. DAYS here does
 * not do that (DESIGN §9 says "end of the Nth calendar day"); a limit that
 * needs it should be expressed in working days or decided by the design.
 *
 * A calendar is read-only after loading, so any number of threads may query
 * one at once. Every query accepts cal == NULL as "no data" (Monday–Friday).
 */
#ifndef PLS_CALENDAR_H
#define PLS_CALENDAR_H

#include "pls_util.h"

#include <stddef.h>
#include <stdint.h>

#define PLS_CALENDAR_DAY_MS 86400000LL
#define PLS_CALENDAR_HOUR_MS 3600000LL
#define PLS_CALENDAR_UTC_OFFSET_MS (8 * PLS_CALENDAR_HOUR_MS) /* Asia/Shanghai */
#define PLS_CALENDAR_N_MAX 100000                             /* n is clamped to [0, N_MAX] */

typedef struct pls_calendar pls_calendar_t;

typedef enum pls_calendar_unit {
    PLS_CALENDAR_WD,    /* working days, end of the Nth after acceptance */
    PLS_CALENDAR_DAYS,  /* calendar days, end of the Nth after acceptance */
    PLS_CALENDAR_HOURS, /* exact hours from the start */
} pls_calendar_unit_t;

/* What a data line says about a day. */
typedef enum pls_calendar_kind {
    PLS_CALENDAR_NONE = 0, /* not in the data: Monday–Friday work */
    PLS_CALENDAR_HOLIDAY,  /* a day off (放假) */
    PLS_CALENDAR_WORKDAY,  /* a make-up working day (调休上班) */
} pls_calendar_kind_t;

/* ---- the calendar ---------------------------------------------------------- */

/* An empty calendar (every year falls back to Monday–Friday). */
pls_calendar_t *pls_calendar_new(void);
/* Free *self_p and set it to NULL; safe on NULL and twice. */
void pls_calendar_destroy(pls_calendar_t **self_p);

/* Add the records of the data file at path. Returns 0, -EINVAL for a malformed
 * file, or a negative errno for I/O; on error writes a one-line message into
 * err ("deploy/calendar/x.csv:12: bad date \"2026-02-30\"") and leaves the
 * calendar as it was. May be called for several files. */
int pls_calendar_load(pls_calendar_t *self, const char *path, char *err, size_t errsz) PLS_WUR;
/* The same from text in memory; name stands for the file in messages. */
int pls_calendar_load_text(pls_calendar_t *self, const char *name, const char *text, size_t len,
                           char *err, size_t errsz) PLS_WUR;

/* 1 when the date is a working day, 0 when not or when the date is invalid. */
int pls_calendar_is_workday(const pls_calendar_t *cal, int yyyymmdd);
/* The data for a date: its kind and (borrowed, NULL for NONE) its name. */
pls_calendar_kind_t pls_calendar_kind(const pls_calendar_t *cal, int yyyymmdd, const char **name);
/* 1 when the data declares the year. */
int pls_calendar_has_year(const pls_calendar_t *cal, int year);
/* The citation of a declared year (borrowed), NULL for a year without data. */
const char *pls_calendar_year_source(const pls_calendar_t *cal, int year);
/* The years in [from, to] without data, ascending: writes at most cap of them
 * into out (out may be NULL when cap is 0) and returns how many there are. */
size_t pls_calendar_missing_years(const pls_calendar_t *cal, int from, int to, int *out,
                                  size_t cap);

/* ---- time limits ----------------------------------------------------------- */

/* The due time of a limit of n units accepted at start_ms (see the top). */
int64_t pls_calendar_due(const pls_calendar_t *cal, int64_t start_ms, int n,
                         pls_calendar_unit_t unit);
/* The same, moved later by paused_ms of paused wall time (negative = 0). */
int64_t pls_calendar_due_paused(const pls_calendar_t *cal, int64_t start_ms, int n,
                                pls_calendar_unit_t unit, int64_t paused_ms);
/* The instant a fraction f of the way from start to due in wall time, rounded
 * down to the millisecond; f is clamped to [0, 1]. The yellow warning (催办)
 * is at_fraction(start, due, 0.8). */
int64_t pls_calendar_at_fraction(int64_t start_ms, int64_t due_ms, double f);
/* How many working days end (their 24:00 Shanghai) within (from_ms, to_ms];
 * 0 when to_ms <= from_ms. For 通报: red since `from`, reported when this
 * reaches 3. */
int pls_calendar_workdays_between(const pls_calendar_t *cal, int64_t from_ms, int64_t to_ms);
/* The first working day strictly after yyyymmdd. */
int pls_calendar_next_workday(const pls_calendar_t *cal, int yyyymmdd);

/* ---- dates (Asia/Shanghai) ------------------------------------------------- */

/* 1 when yyyymmdd is a real Gregorian date in years 1..9999. */
int pls_calendar_date_valid(int yyyymmdd);
/* The Shanghai date of an instant. */
int pls_calendar_date_of(int64_t ms);
/* 00:00 Shanghai of a date as epoch ms (the first instant of the day). */
int64_t pls_calendar_day_start(int yyyymmdd);
/* 24:00 Shanghai of a date, which is 00:00 of the next day. */
int64_t pls_calendar_day_end(int yyyymmdd);
/* The date n days after (n < 0: before) a date. */
int pls_calendar_add_days(int yyyymmdd, int n);
/* ISO weekday of a date: 1 Monday ... 7 Sunday; 0 for an invalid date. */
int pls_calendar_weekday(int yyyymmdd);

#endif
