/*
 * bk_limits — see bk_limits.h.
 */
#include "bk_limits.h"

int64_t bk_limits_due(const pls_calendar_t *cal, int64_t start_ms, int n, int unit)
{
    switch (unit) {
    case BK_UNIT_WD:
        return pls_calendar_due(cal, start_ms, n, PLS_CALENDAR_WD);
    case BK_UNIT_DAYS:
        return pls_calendar_due(cal, start_ms, n, PLS_CALENDAR_DAYS);
    case BK_UNIT_HOURS:
        return pls_calendar_due(cal, start_ms, n, PLS_CALENDAR_HOURS);
    default:
        return 0;
    }
}

int64_t bk_limits_sign_due(const pls_calendar_t *cal, int64_t start_ms, int urgent)
{
    return urgent ? start_ms + PLS_CALENDAR_HOUR_MS
                  : pls_calendar_due(cal, start_ms, 1, PLS_CALENDAR_WD);
}

int64_t bk_limits_extend(const pls_calendar_t *cal, int64_t due_ms, int n)
{
    /* the due time is the end of a day: count from within that day */
    return pls_calendar_due(cal, due_ms - 1, n, PLS_CALENDAR_WD);
}

static void consider(int *best, int64_t *best_at, int alarm, int64_t at)
{
    if (at && (*best == BK_ALARM_NONE || at < *best_at)) {
        *best = alarm;
        *best_at = at;
    }
}

int bk_limits_next(const pls_calendar_t *cal, const bk_limits_view_t *v, int64_t *at_ms)
{
    int best = BK_ALARM_NONE;
    int64_t best_at = 0;
    if (v->paused_ms) {
        /* the clock is paused: only the notice can expire */
        consider(&best, &best_at, BK_ALARM_NOTICE_EXPIRED,
                 v->paused_ms + BK_NOTICE_DAYS * PLS_CALENDAR_DAY_MS);
        *at_ms = best_at;
        return best;
    }
    if (v->escalate_ms)
        consider(&best, &best_at, BK_ALARM_ESCALATE, v->escalate_ms);
    if (v->due_ms) {
        if (!(v->alarms & BK_AL_YELLOW) && !(v->alarms & BK_AL_RED))
            consider(&best, &best_at, BK_ALARM_YELLOW,
                     pls_calendar_at_fraction(v->limit_start_ms, v->due_ms, BK_YELLOW_FRACTION));
        if (!(v->alarms & BK_AL_RED))
            consider(&best, &best_at, BK_ALARM_RED, v->due_ms);
        else if (!(v->alarms & BK_AL_REPORTED))
            consider(&best, &best_at, BK_ALARM_REPORTED,
                     bk_limits_extend(cal, v->due_ms, BK_REPORT_AFTER_WD));
    }
    if (v->whole_due_ms) {
        if (!(v->alarms & BK_AL_W_YELLOW) && !(v->alarms & BK_AL_W_RED))
            consider(&best, &best_at, BK_ALARM_W_YELLOW,
                     pls_calendar_at_fraction(v->created_ms, v->whole_due_ms, BK_YELLOW_FRACTION));
        if (!(v->alarms & BK_AL_W_RED))
            consider(&best, &best_at, BK_ALARM_W_RED, v->whole_due_ms);
    }
    *at_ms = best_at;
    return best;
}

const char *bk_limits_alarm_name(int alarm)
{
    static const char *const names[] = {"none",   "yellow", "red",           "reported",
                                        "yellow", "red",    "notice expired"};
    return alarm >= 0 && alarm <= BK_ALARM_NOTICE_EXPIRED ? names[alarm] : "?";
}
