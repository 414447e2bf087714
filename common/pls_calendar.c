/*
 * pls_calendar — see pls_calendar.h for the rules and the data format.
 *
 * Dates are handled internally as day numbers: days since 1970-01-01, the
 * Shanghai date of an instant being floor((ms + 8 h) / 24 h). The civil-date
 * conversions are Howard Hinnant's days_from_civil / civil_from_days, exact
 * for the proleptic Gregorian calendar and free of time zone databases
 * (Asia/Shanghai has had no DST since 1991, so a fixed offset is exact).
 *
 * The data is small (about 40 days a year), so a calendar is two sorted
 * arrays searched by bisection: the listed days and the declared years.
 * Limits are computed by walking day by day, which is obviously right and
 * fast enough for limits of weeks.
 */
#include "pls_calendar.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FILE_BYTES ((size_t)1 << 20) /* a calendar file is a few KiB */

/* A listed day. The array is sorted by day, days unique. */
struct entry {
    int64_t day;              /* day number (days since 1970-01-01) */
    pls_calendar_kind_t kind; /* HOLIDAY or WORKDAY */
    int line;                 /* line in the file it came from */
    char *name;               /* owned; "国庆节", "春节调休上班" */
};

/* A declared year. The array is sorted by year, years unique. */
struct year {
    int year;
    int line;     /* line of its `year` record */
    char *source; /* owned; the notice it comes from */
};

struct pls_calendar {
    struct entry *days; /* owned; sorted by day */
    size_t ndays;
    struct year *years; /* owned; sorted by year */
    size_t nyears;
};

/* ---- dates --------------------------------------------------------------- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int civil_from_days(int64_t z)
{
    z += 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    return (int)(y * 10000 + m * 100 + d);
}

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int pls_calendar_date_valid(int yyyymmdd)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y = yyyymmdd / 10000, m = yyyymmdd / 100 % 100, d = yyyymmdd % 100;
    if (yyyymmdd <= 0 || y < 1 || y > 9999 || m < 1 || m > 12 || d < 1)
        return 0;
    return d <= mdays[m - 1] + (m == 2 && is_leap(y));
}

/* Day number of a valid date. */
static int64_t dn_of(int yyyymmdd)
{
    return days_from_civil(yyyymmdd / 10000, yyyymmdd / 100 % 100, yyyymmdd % 100);
}

static int64_t dn_of_ms(int64_t ms)
{
    return floor_div(ms + PLS_CALENDAR_UTC_OFFSET_MS, PLS_CALENDAR_DAY_MS);
}

static int64_t dn_start_ms(int64_t dn)
{
    return dn * PLS_CALENDAR_DAY_MS - PLS_CALENDAR_UTC_OFFSET_MS;
}

/* ISO weekday of a day number: 1970-01-01 was a Thursday (4). */
static int dn_weekday(int64_t dn)
{
    int64_t r = (dn + 3) % 7;
    return (int)(r < 0 ? r + 7 : r) + 1;
}

int pls_calendar_date_of(int64_t ms)
{
    return civil_from_days(dn_of_ms(ms));
}

int64_t pls_calendar_day_start(int yyyymmdd)
{
    assert(pls_calendar_date_valid(yyyymmdd));
    return dn_start_ms(dn_of(yyyymmdd));
}

int64_t pls_calendar_day_end(int yyyymmdd)
{
    assert(pls_calendar_date_valid(yyyymmdd));
    return dn_start_ms(dn_of(yyyymmdd) + 1);
}

int pls_calendar_add_days(int yyyymmdd, int n)
{
    assert(pls_calendar_date_valid(yyyymmdd));
    return civil_from_days(dn_of(yyyymmdd) + n);
}

int pls_calendar_weekday(int yyyymmdd)
{
    if (!pls_calendar_date_valid(yyyymmdd))
        return 0;
    return dn_weekday(dn_of(yyyymmdd));
}

/* ---- lookups ------------------------------------------------------------- */

static const struct entry *find_day(const pls_calendar_t *cal, int64_t dn)
{
    if (!cal)
        return NULL;
    size_t lo = 0, hi = cal->ndays;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cal->days[mid].day < dn)
            lo = mid + 1;
        else if (cal->days[mid].day > dn)
            hi = mid;
        else
            return &cal->days[mid];
    }
    return NULL;
}

static const struct year *find_year(const pls_calendar_t *cal, int year)
{
    if (!cal)
        return NULL;
    size_t lo = 0, hi = cal->nyears;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cal->years[mid].year < year)
            lo = mid + 1;
        else if (cal->years[mid].year > year)
            hi = mid;
        else
            return &cal->years[mid];
    }
    return NULL;
}

static int dn_is_workday(const pls_calendar_t *cal, int64_t dn)
{
    const struct entry *e = find_day(cal, dn);
    if (e)
        return e->kind == PLS_CALENDAR_WORKDAY;
    return dn_weekday(dn) <= 5;
}

int pls_calendar_is_workday(const pls_calendar_t *cal, int yyyymmdd)
{
    if (!pls_calendar_date_valid(yyyymmdd))
        return 0;
    return dn_is_workday(cal, dn_of(yyyymmdd));
}

pls_calendar_kind_t pls_calendar_kind(const pls_calendar_t *cal, int yyyymmdd, const char **name)
{
    const struct entry *e = NULL;
    if (pls_calendar_date_valid(yyyymmdd))
        e = find_day(cal, dn_of(yyyymmdd));
    if (name)
        *name = e ? e->name : NULL;
    return e ? e->kind : PLS_CALENDAR_NONE;
}

int pls_calendar_has_year(const pls_calendar_t *cal, int year)
{
    return find_year(cal, year) != NULL;
}

const char *pls_calendar_year_source(const pls_calendar_t *cal, int year)
{
    const struct year *y = find_year(cal, year);
    return y ? y->source : NULL;
}

size_t pls_calendar_missing_years(const pls_calendar_t *cal, int from, int to, int *out, size_t cap)
{
    size_t count = 0;
    for (int y = from; from <= to; y++) {
        if (!find_year(cal, y)) {
            if (count < cap)
                out[count] = y;
            count++;
        }
        if (y == to)
            break; /* before y++, so that to == INT_MAX cannot overflow */
    }
    return count;
}

/* ---- limits -------------------------------------------------------------- */

static int clamp_n(int n)
{
    return n < 0 ? 0 : n > PLS_CALENDAR_N_MAX ? PLS_CALENDAR_N_MAX : n;
}

int64_t pls_calendar_due(const pls_calendar_t *cal, int64_t start_ms, int n,
                         pls_calendar_unit_t unit)
{
    n = clamp_n(n);
    int64_t dn = dn_of_ms(start_ms); /* the day of acceptance */
    switch (unit) {
    case PLS_CALENDAR_HOURS:
        return start_ms + (int64_t)n * PLS_CALENDAR_HOUR_MS;
    case PLS_CALENDAR_DAYS:
        return dn_start_ms(dn + n + 1);
    case PLS_CALENDAR_WD:
        for (int counted = 0; counted < n;) {
            dn++;
            if (dn_is_workday(cal, dn))
                counted++;
        }
        return dn_start_ms(dn + 1);
    }
    assert(!"unknown pls_calendar_unit_t");
    return start_ms;
}

int64_t pls_calendar_due_paused(const pls_calendar_t *cal, int64_t start_ms, int n,
                                pls_calendar_unit_t unit, int64_t paused_ms)
{
    return pls_calendar_due(cal, start_ms, n, unit) + (paused_ms > 0 ? paused_ms : 0);
}

int64_t pls_calendar_at_fraction(int64_t start_ms, int64_t due_ms, double f)
{
    if (!(f > 0)) /* also NaN */
        return start_ms;
    if (f >= 1)
        return due_ms;
    return start_ms + (int64_t)((double)(due_ms - start_ms) * f);
}

int pls_calendar_workdays_between(const pls_calendar_t *cal, int64_t from_ms, int64_t to_ms)
{
    if (to_ms <= from_ms)
        return 0;
    /* Day D ends at start(D + 1): after from_ms iff D >= day(from_ms), at or
     * before to_ms iff D + 1 <= day(to_ms). */
    int count = 0;
    for (int64_t dn = dn_of_ms(from_ms), last = dn_of_ms(to_ms) - 1; dn <= last; dn++)
        count += dn_is_workday(cal, dn);
    return count;
}

int pls_calendar_next_workday(const pls_calendar_t *cal, int yyyymmdd)
{
    assert(pls_calendar_date_valid(yyyymmdd));
    int64_t dn = dn_of(yyyymmdd) + 1;
    while (!dn_is_workday(cal, dn))
        dn++;
    return civil_from_days(dn);
}

/* ---- loading ------------------------------------------------------------- */

/* What one load collects before it is checked against the calendar and
 * merged: entries and years in file order. */
struct parse {
    const char *name; /* borrowed; the file name for messages */
    char *err;        /* borrowed; the caller's message buffer */
    size_t errsz;
    pls_calendar_t got; /* owned contents; unsorted until checked */
    size_t days_cap, years_cap;
};

static int fail(struct parse *ps, int line, const char *fmt, ...) PLS_PRINTF(3, 4);

static int fail(struct parse *ps, int line, const char *fmt, ...)
{
    if (ps->errsz == 0)
        return -EINVAL;
    int off = line > 0 ? snprintf(ps->err, ps->errsz, "%s:%d: ", ps->name, line)
                       : snprintf(ps->err, ps->errsz, "%s: ", ps->name);
    if (off >= 0 && (size_t)off < ps->errsz) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ps->err + off, ps->errsz - (size_t)off, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

static void free_contents(pls_calendar_t *c)
{
    for (size_t i = 0; i < c->ndays; i++)
        free(c->days[i].name);
    for (size_t i = 0; i < c->nyears; i++)
        free(c->years[i].source);
    free(c->days);
    free(c->years);
    memset(c, 0, sizeof(*c));
}

pls_calendar_t *pls_calendar_new(void)
{
    return pls_xcalloc(1, sizeof(pls_calendar_t));
}

void pls_calendar_destroy(pls_calendar_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free_contents(*self_p);
    free(*self_p);
    *self_p = NULL;
}

/* A field of a line: [p, p + n), trimmed of spaces and tabs. */
struct field {
    const char *p;
    size_t n;
};

static struct field trim(const char *p, size_t n)
{
    while (n && (*p == ' ' || *p == '\t'))
        p++, n--;
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    return (struct field){p, n};
}

static int is_digits(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return 0;
    return 1;
}

static int digits_value(const char *p, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (p[i] - '0');
    return v;
}

static int field_is(struct field f, const char *s)
{
    return f.n == strlen(s) && memcmp(f.p, s, f.n) == 0;
}

/* "YYYY-MM-DD" to a valid yyyymmdd, or 0. */
static int parse_date(struct field f)
{
    if (f.n != 10 || f.p[4] != '-' || f.p[7] != '-' || !is_digits(f.p, 4) ||
        !is_digits(f.p + 5, 2) || !is_digits(f.p + 8, 2))
        return 0;
    int v =
        digits_value(f.p, 4) * 10000 + digits_value(f.p + 5, 2) * 100 + digits_value(f.p + 8, 2);
    return pls_calendar_date_valid(v) ? v : 0;
}

/* How much of a field a message shows: at most 40 bytes, so a garbage line
 * cannot flood the log, cut before a UTF-8 continuation byte. */
static int shown_len(struct field f)
{
    size_t n = f.n;
    if (n > 40) {
        n = 40;
        while (n > 0 && ((unsigned char)f.p[n] & 0xc0) == 0x80)
            n--;
    }
    return (int)n;
}

#define SHOWN(f) shown_len(f), (f).p

static int parse_line(struct parse *ps, int line, const char *p, size_t n)
{
    struct field line_f = trim(p, n);
    if (line_f.n == 0 || line_f.p[0] == '#')
        return 0;
    if (memchr(p, '\0', n))
        return fail(ps, line, "NUL byte in line");

    struct field f[3];
    int nf = 0;
    const char *s = p, *end = p + n;
    for (;;) {
        const char *comma = memchr(s, ',', (size_t)(end - s));
        const char *fe = comma ? comma : end;
        if (nf < 3)
            f[nf] = trim(s, (size_t)(fe - s));
        nf++;
        if (!comma)
            break;
        s = comma + 1;
    }
    if (nf != 3)
        return fail(ps, line, "expected 3 fields (date,kind,name or year,YYYY,source), found %d",
                    nf);
    if (f[2].n == 0)
        return fail(ps, line, "empty third field (the name or the source)");
    if (!pls_utf8_valid_n(f[2].p, f[2].n))
        return fail(ps, line, "third field is not valid UTF-8");

    pls_calendar_t *got = &ps->got;
    if (field_is(f[0], "year")) {
        if (f[1].n != 4 || !is_digits(f[1].p, 4) || digits_value(f[1].p, 4) < 1)
            return fail(ps, line, "bad year \"%.*s\"", SHOWN(f[1]));
        if (got->nyears == ps->years_cap) {
            ps->years_cap = ps->years_cap ? 2 * ps->years_cap : 8;
            got->years = pls_xrealloc(got->years, ps->years_cap * sizeof(*got->years));
        }
        got->years[got->nyears++] = (struct year){
            .year = digits_value(f[1].p, 4),
            .line = line,
            .source = pls_xstrndup(f[2].p, f[2].n),
        };
        return 0;
    }

    int date = parse_date(f[0]);
    if (!date)
        return fail(ps, line, "bad date \"%.*s\" (expected YYYY-MM-DD or year)", SHOWN(f[0]));
    pls_calendar_kind_t kind;
    if (field_is(f[1], "holiday"))
        kind = PLS_CALENDAR_HOLIDAY;
    else if (field_is(f[1], "workday"))
        kind = PLS_CALENDAR_WORKDAY;
    else
        return fail(ps, line, "bad kind \"%.*s\" (expected holiday or workday)", SHOWN(f[1]));
    if (kind == PLS_CALENDAR_WORKDAY && pls_calendar_weekday(date) <= 5)
        return fail(ps, line, "workday %.10s is a weekday already (make-up days are weekends)",
                    f[0].p);
    if (got->ndays == ps->days_cap) {
        ps->days_cap = ps->days_cap ? 2 * ps->days_cap : 64;
        got->days = pls_xrealloc(got->days, ps->days_cap * sizeof(*got->days));
    }
    got->days[got->ndays++] = (struct entry){
        .day = dn_of(date),
        .kind = kind,
        .line = line,
        .name = pls_xstrndup(f[2].p, f[2].n),
    };
    return 0;
}

static int cmp_entry(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    if (x->day != y->day)
        return x->day < y->day ? -1 : 1;
    return (x->line > y->line) - (x->line < y->line);
}

static int cmp_year(const void *a, const void *b)
{
    const struct year *x = a, *y = b;
    if (x->year != y->year)
        return x->year < y->year ? -1 : 1;
    return (x->line > y->line) - (x->line < y->line);
}

static int declared(const pls_calendar_t *self, const pls_calendar_t *got, int year)
{
    return find_year(self, year) || find_year(got, year);
}

/* Check the parsed records on their own and against what self holds. */
static int check(struct parse *ps, const pls_calendar_t *self)
{
    pls_calendar_t *got = &ps->got;
    if (got->nyears) /* qsort(NULL, 0, ...) is undefined */
        qsort(got->years, got->nyears, sizeof(*got->years), cmp_year);
    for (size_t i = 0; i < got->nyears; i++) {
        const struct year *y = &got->years[i];
        if (i > 0 && got->years[i - 1].year == y->year)
            return fail(ps, y->line, "duplicate year %d (first at line %d)", y->year,
                        got->years[i - 1].line);
        if (find_year(self, y->year))
            return fail(ps, y->line, "year %d is already loaded", y->year);
    }
    if (got->ndays) /* qsort(NULL, 0, ...) is undefined */
        qsort(got->days, got->ndays, sizeof(*got->days), cmp_entry);
    for (size_t i = 0; i < got->ndays; i++) {
        const struct entry *e = &got->days[i];
        int date = civil_from_days(e->day), year = date / 10000, month = date / 100 % 100;
        if (i > 0 && got->days[i - 1].day == e->day)
            return fail(ps, e->line, "duplicate date %04d-%02d-%02d (first at line %d)", year,
                        month, date % 100, got->days[i - 1].line);
        if (find_day(self, e->day))
            return fail(ps, e->line, "duplicate date %04d-%02d-%02d (already loaded)", year, month,
                        date % 100);
        if (!declared(self, got, year) && !(month == 12 && declared(self, got, year + 1)) &&
            !(month == 1 && declared(self, got, year - 1)))
            return fail(ps, e->line, "no year line for %d (add `year,%d,<source>`)", year, year);
    }
    return 0;
}

/* Move the checked records into self, keeping both arrays sorted. */
static void merge(pls_calendar_t *self, pls_calendar_t *got)
{
    self->days = pls_xrealloc(self->days, (self->ndays + got->ndays + 1) * sizeof(*self->days));
    if (got->ndays) {
        memcpy(self->days + self->ndays, got->days, got->ndays * sizeof(*got->days));
        self->ndays += got->ndays;
        qsort(self->days, self->ndays, sizeof(*self->days), cmp_entry);
    }

    self->years =
        pls_xrealloc(self->years, (self->nyears + got->nyears + 1) * sizeof(*self->years));
    if (got->nyears) {
        memcpy(self->years + self->nyears, got->years, got->nyears * sizeof(*got->years));
        self->nyears += got->nyears;
        qsort(self->years, self->nyears, sizeof(*self->years), cmp_year);
    }

    /* The names and sources now belong to self. */
    free(got->days);
    free(got->years);
    memset(got, 0, sizeof(*got));
}

int pls_calendar_load_text(pls_calendar_t *self, const char *name, const char *text, size_t len,
                           char *err, size_t errsz)
{
    assert(self && name && (text || len == 0));
    struct parse ps = {.name = name, .err = err, .errsz = errsz};
    if (errsz)
        err[0] = '\0';

    const char *p = text, *end = text + len;
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3;
    int rc = 0;
    for (int line = 1; p < end && rc == 0; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        const char *stop = (eol > p && eol[-1] == '\r') ? eol - 1 : eol;
        rc = parse_line(&ps, line, p, (size_t)(stop - p));
        p = nl ? nl + 1 : end;
    }
    if (rc == 0)
        rc = check(&ps, self);
    if (rc == 0)
        merge(self, &ps.got);
    free_contents(&ps.got);
    return rc;
}

int pls_calendar_load(pls_calendar_t *self, const char *path, char *err, size_t errsz)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        int e = errno;
        if (errsz)
            snprintf(err, errsz, "could not open %s: %s", path, strerror(e));
        return -e;
    }
    pls_buf_t b;
    pls_buf_init(&b);
    char chunk[8192];
    size_t got;
    int rc = 0;
    while ((got = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
        pls_buf_add(&b, chunk, got);
        if (b.len > MAX_FILE_BYTES) {
            if (errsz)
                snprintf(err, errsz, "%s: file larger than %zu bytes", path, MAX_FILE_BYTES);
            rc = -EFBIG;
            break;
        }
    }
    if (rc == 0 && ferror(fp)) {
        if (errsz)
            snprintf(err, errsz, "could not read %s", path);
        rc = -EIO;
    }
    fclose(fp);
    if (rc == 0)
        rc = pls_calendar_load_text(self, path, b.data ? b.data : "", b.len, err, errsz);
    pls_buf_cleanup(&b);
    return rc;
}
