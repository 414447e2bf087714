/*
 * pls_time — see pls_time.h.
 */
#include "pls_time.h"

#include <stdio.h>
#include <time.h>

int64_t pls_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t pls_mono_ms(void)
{
    return pls_mono_us() / 1000;
}

int64_t pls_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t rule_offset_ms;
static double rule_speed = 1.0;
static int64_t rule_anchor_ms; /* wall time when speed was set */

int64_t pls_rule_ms(void)
{
    int64_t wall = pls_wall_ms();
    if (rule_speed == 1.0)
        return wall + rule_offset_ms;
    return rule_anchor_ms + rule_offset_ms +
           (int64_t)((double)(wall - rule_anchor_ms) * rule_speed);
}

void pls_rule_clock_set(int64_t offset_ms, double speed)
{
    rule_anchor_ms = pls_wall_ms();
    rule_offset_ms = offset_ms;
    rule_speed = speed > 0 ? speed : 1.0;
}

void pls_rule_clock_get(int64_t *offset_ms, double *speed)
{
    *offset_ms = rule_offset_ms;
    *speed = rule_speed;
}

/* Civil date of a day count since 1970-01-01 (Howard Hinnant's algorithm):
 * no gmtime_r, no locale, no printf on the batch path. */
static void civil(int64_t days, int *y, int *m, int *d)
{
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    int64_t doe = days - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static char *digits(char *p, int v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + n;
}

void pls_format_iso_ms(int64_t ms, char *out, unsigned outsz)
{
    if (outsz < 25) {
        if (outsz)
            out[0] = '\0';
        return;
    }
    int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    int msec = (int)(ms - secs * 1000);
    int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
    int rem = (int)(secs - days * 86400);
    int y, mo, d;
    civil(days, &y, &mo, &d);
    if (y < 1 || y > 9999) { /* PostgreSQL has no year 0 */
        snprintf(out, outsz, "1970-01-01T00:00:00.000Z");
        return;
    }
    char *p = out;
    p = digits(p, y, 4);
    *p++ = '-';
    p = digits(p, mo, 2);
    *p++ = '-';
    p = digits(p, d, 2);
    *p++ = 'T';
    p = digits(p, rem / 3600, 2);
    *p++ = ':';
    p = digits(p, rem / 60 % 60, 2);
    *p++ = ':';
    p = digits(p, rem % 60, 2);
    *p++ = '.';
    p = digits(p, msec, 3);
    *p++ = 'Z';
    *p = '\0';
}

int pls_shanghai_yyyymmdd(int64_t ms)
{
    time_t s = (time_t)(ms / 1000 + 8 * 3600);
    struct tm tm;
    gmtime_r(&s, &tm);
    return (tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday;
}
