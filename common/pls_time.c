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

void pls_format_iso_ms(int64_t ms, char *out, unsigned outsz)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(out, outsz, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

int pls_shanghai_yyyymmdd(int64_t ms)
{
    time_t s = (time_t)(ms / 1000 + 8 * 3600);
    struct tm tm;
    gmtime_r(&s, &tm);
    return (tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday;
}
