/*
 * pls_time — the two clocks of DESIGN §9.
 *
 * The monotonic clock drives leases, heartbeats and retry backoff. The rule
 * clock is wall time as the time-limit rules see it; for tests it can be
 * shifted and sped up on a running broker:
 *     rule = wall_at_set + offset + (wall - wall_at_set) * speed
 * so a test can move a broker days ahead in a second without sleeping.
 */
#ifndef PLS_TIME_H
#define PLS_TIME_H

#include <stdint.h>

int64_t pls_mono_ms(void);
int64_t pls_mono_us(void);
int64_t pls_wall_ms(void);

/* Rule clock. Defaults: offset 0, speed 1. */
int64_t pls_rule_ms(void);
void pls_rule_clock_set(int64_t offset_ms, double speed);
void pls_rule_clock_get(int64_t *offset_ms, double *speed);

/* Format epoch milliseconds as UTC ISO 8601 with milliseconds into out (>= 25 bytes). */
void pls_format_iso_ms(int64_t ms, char *out, unsigned outsz);

/* Asia/Shanghai (UTC+8, no DST since 1991) calendar date of epoch ms as YYYYMMDD. */
int pls_shanghai_yyyymmdd(int64_t ms);

#endif
