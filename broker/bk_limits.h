/*
 * bk_limits — time limits (限时办结) of DESIGN §9 as pure functions over the
 * working-day calendar: when a limit falls due, and which alarm comes next.
 *
 * Limits of an order (rule-clock milliseconds, Asia/Shanghai calendar):
 *   - 签收 (sign): from the moment the order enters its department's queue:
 *     1 working day, urgent 1 hour;
 *   - the step's limit, from 签收 (accept), as the catalog says;
 *   - the whole-order limit (legal aid: 7 days from first receipt).
 * Alarms, each an event decided by the owner: yellow (催办) at 80 % of a
 * limit, red (督办) at its due time, reported (通报) when still red 3 working
 * days after it; the whole-order limit has its own yellow and red. While the
 * order waits for the citizen the clock is paused: no alarms, and on the
 * supplement every due time moves later by the paused time. A one-time
 * notice unanswered for 15 days withdraws the order.
 */
#ifndef BK_LIMITS_H
#define BK_LIMITS_H

#include "bk_catalog.h"
#include "pls_calendar.h"

#include <stdint.h>

enum bk_limit_kind { BK_LIMIT_NONE = 0, BK_LIMIT_SIGN, BK_LIMIT_STEP };

/* Alarm bits already raised (bk_order_t.alarms). */
enum {
    BK_AL_YELLOW = 1 << 0,
    BK_AL_RED = 1 << 1,
    BK_AL_REPORTED = 1 << 2,
    BK_AL_W_YELLOW = 1 << 3,
    BK_AL_W_RED = 1 << 4,
    BK_AL_SUPERVISED = 1 << 5, /* a supervision record exists (red or failed) */
};

/* What comes next for an order. */
enum bk_alarm {
    BK_ALARM_NONE = 0,
    BK_ALARM_YELLOW,
    BK_ALARM_RED,
    BK_ALARM_REPORTED,
    BK_ALARM_W_YELLOW,
    BK_ALARM_W_RED,
    BK_ALARM_NOTICE_EXPIRED, /* 15 days without a supplement */
    BK_ALARM_ESCALATE,       /* unclaimed in its queue past the step's escalate_after */
};

#define BK_YELLOW_FRACTION 0.8
#define BK_REPORT_AFTER_WD 3
#define BK_NOTICE_DAYS 15
#define BK_MAX_EXTENSION_WD 15

/* The limit's state as the functions need it. */
typedef struct bk_limits_view {
    int64_t limit_start_ms; /* current limit (sign or step) started */
    int64_t due_ms;         /* 0 = no current limit */
    int64_t created_ms;     /* whole-order limit start */
    int64_t whole_due_ms;   /* 0 = none */
    int64_t paused_ms;      /* waiting for the citizen since, 0 = not paused */
    int alarms;             /* BK_AL_* raised */
    int64_t escalate_ms;    /* queued and unclaimed until then: offer it one level up */
} bk_limits_view_t;

/* N units after start (catalog units: working days, days, hours). */
int64_t bk_limits_due(const pls_calendar_t *cal, int64_t start_ms, int n, int unit);
/* 签收 limit. */
int64_t bk_limits_sign_due(const pls_calendar_t *cal, int64_t start_ms, int urgent);
/* The next alarm and its time, or BK_ALARM_NONE. */
int bk_limits_next(const pls_calendar_t *cal, const bk_limits_view_t *v, int64_t *at_ms);
/* A due time extended by n working days (the end of the nth working day after
 * the due day). */
int64_t bk_limits_extend(const pls_calendar_t *cal, int64_t due_ms, int n);

const char *bk_limits_alarm_name(int alarm);

#endif
