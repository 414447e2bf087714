/*
 * pls_log — see pls_log.h.
 */
#include "pls_log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int pls_log_level = PLS_LOG_INFO;
static char log_prefix[96] = "pls";

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void pls_log_init(const char *prog, const char *context)
{
    if (context && *context)
        snprintf(log_prefix, sizeof(log_prefix), "%s[%s]", prog, context);
    else
        snprintf(log_prefix, sizeof(log_prefix), "%s", prog);
}

int pls_log_set_level_name(const char *name)
{
    for (size_t i = 0; i < PLS_ARRAY_LEN(level_names); i++) {
        if (strcmp(name, level_names[i]) == 0) {
            pls_log_level = (int)i;
            return 0;
        }
    }
    return -EINVAL;
}

void pls_log_write(int level, const char *fmt, ...)
{
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof(line),
                     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s: ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, log_prefix, level_names[level]);
    if (n < 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    line[len++] = '\n';
    /* one write per line so concurrent processes do not interleave */
    fwrite(line, 1, len, stderr);
    fflush(stderr);
}

void pls_mask(const char *in, char *out, size_t outsz)
{
    if (!outsz)
        return;
    if (!in) {
        snprintf(out, outsz, "(none)");
        return;
    }
    /* count UTF-8 characters */
    size_t chars = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p; p++)
        if ((*p & 0xc0) != 0x80)
            chars++;
    /* keep the first character of a short value (a name), the last four of a
     * long one (phone, ID number) */
    size_t keep_tail = chars >= 7 ? 4 : 0;
    size_t keep_head = chars < 7 && chars > 1 ? 1 : 0;
    size_t o = 0, idx = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p;) {
        size_t len = 1;
        while ((p[len] & 0xc0) == 0x80)
            len++;
        int keep = idx < keep_head || idx >= chars - keep_tail;
        if (keep) {
            if (o + len >= outsz)
                break;
            memcpy(out + o, p, len);
            o += len;
        } else {
            if (o + 1 >= outsz)
                break;
            out[o++] = '*';
        }
        p += len;
        idx++;
    }
    out[o] = '\0';
}

void pls_mask_numbers(char *s)
{
    for (char *p = s; *p;) {
        size_t n = 0;
        while (p[n] >= '0' && p[n] <= '9')
            n++;
        if (n && (p[n] == 'X' || p[n] == 'x'))
            n++;
        if (n >= 7)
            memset(p, '*', n - 4);
        p += n ? n : 1;
    }
}
