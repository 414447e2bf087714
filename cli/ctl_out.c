/*
 * ctl_out — see ctl_out.h.
 *
 * Text output is built from small tables: cells are collected first, column
 * widths measured in terminal columns, then printed with two spaces between
 * columns and no trailing blanks. Every value goes through text_of(), which
 * turns whatever JSON the broker sent into a cell ("-" for null or missing),
 * so an unexpected type never breaks the output.
 */
#include "ctl_out.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- text helpers --------------------------------------------------------------------------- */

static char *fmt(const char *f, ...) PLS_PRINTF(1, 2);

static char *fmt(const char *f, ...)
{
    pls_buf_t b;
    pls_buf_init(&b);
    va_list ap;
    va_start(ap, f);
    pls_buf_vprintf(&b, f, ap);
    va_end(ap);
    if (!b.data)
        return pls_xstrdup("");
    return pls_buf_take(&b);
}

/* Decode one UTF-8 sequence at s; returns its length (1 for a bad byte). */
static size_t utf8_next(const unsigned char *s, unsigned *cp)
{
    size_t len = 1;
    unsigned c = s[0];
    if (c >= 0xf0 && c < 0xf8)
        len = 4, c &= 0x07;
    else if (c >= 0xe0)
        len = 3, c &= 0x0f;
    else if (c >= 0xc0)
        len = 2, c &= 0x1f;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            *cp = 0xfffd;
            return 1;
        }
        c = (c << 6) | (s[i] & 0x3f);
    }
    *cp = c;
    return len;
}

static int cp_width(unsigned c)
{
    if ((c >= 0x300 && c <= 0x36f) || c == 0x200b)
        return 0;
    if ((c >= 0x1100 && c <= 0x115f) || (c >= 0x2e80 && c <= 0x303e) ||
        (c >= 0x3041 && c <= 0x33ff) || (c >= 0x3400 && c <= 0x4dbf) ||
        (c >= 0x4e00 && c <= 0x9fff) || (c >= 0xa000 && c <= 0xa4cf) ||
        (c >= 0xac00 && c <= 0xd7a3) || (c >= 0xf900 && c <= 0xfaff) ||
        (c >= 0xfe30 && c <= 0xfe4f) || (c >= 0xff00 && c <= 0xff60) ||
        (c >= 0xffe0 && c <= 0xffe6) || (c >= 0x1f300 && c <= 0x1f64f) ||
        (c >= 0x1f900 && c <= 0x1f9ff) || (c >= 0x20000 && c <= 0x3fffd))
        return 2;
    return 1;
}

size_t ctl_out_width(const char *s)
{
    size_t w = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned cp;
        p += utf8_next(p, &cp);
        w += (size_t)cp_width(cp);
    }
    return w;
}

/* s cut to at most maxw columns, "…" marking a cut; newlines become spaces.
 * Takes ownership of s. */
static char *clip(char *s, size_t maxw)
{
    for (char *p = s; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
    if (ctl_out_width(s) <= maxw)
        return s;
    size_t w = 0, at = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (p[at]) {
        unsigned cp;
        size_t n = utf8_next(p + at, &cp);
        if (w + (size_t)cp_width(cp) > maxw - 1)
            break;
        w += (size_t)cp_width(cp);
        at += n;
    }
    char *out = fmt("%.*s…", (int)at, s);
    free(s);
    return out;
}

/* Any JSON value as a cell: strings as they are, null or missing as "-". */
static char *text_of(const json_t *v)
{
    if (!v || json_is_null(v))
        return pls_xstrdup("-");
    if (json_is_string(v))
        return pls_xstrdup(json_string_value(v));
    if (json_is_integer(v))
        return fmt("%lld", (long long)json_integer_value(v));
    if (json_is_real(v))
        return fmt("%g", json_real_value(v));
    if (json_is_boolean(v))
        return pls_xstrdup(json_is_true(v) ? "yes" : "no");
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    char *out = pls_xstrdup(s ? s : "?");
    free(s);
    return out;
}

static char *get_text(const json_t *obj, const char *key)
{
    return text_of(json_object_get(obj, key));
}

/* "key=value key=value" of an object, each value as a cell, nulls left out. */
static char *summary_of(const json_t *v)
{
    if (!json_is_object(v))
        return v && !json_is_null(v) ? text_of(v) : pls_xstrdup("");
    pls_buf_t b;
    pls_buf_init(&b);
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)(uintptr_t)v, k, x)
    {
        if (json_is_null(x))
            continue;
        char *t = text_of(x);
        pls_buf_printf(&b, "%s%s=%s", b.len ? " " : "", k, t);
        free(t);
    }
    return b.data ? pls_buf_take(&b) : pls_xstrdup("");
}

/* ---- time ----------------------------------------------------------------------------------- */

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* "2026-11-26T07:33:10.123Z" or with a "+08:00" offset, to epoch seconds. */
static int parse_iso(const char *s, int64_t *out)
{
    int y, mo, d, h, mi, sec, n = 0;
    if (sscanf(s, "%4d-%2d-%2d%*1[T ]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || !n)
        return -EINVAL;
    const char *p = s + n;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            ;
    int64_t off = 0;
    if (*p == 'Z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (strlen(p) != 6 || sscanf(p + 1, "%2d:%2d", &oh, &om) != 2)
            return -EINVAL;
        off = (*p == '-' ? -1 : 1) * (int64_t)(oh * 3600 + om * 60);
        p += 6;
    } else {
        return -EINVAL;
    }
    if (*p || mo < 1 || mo > 12 || d < 1 || d > 31)
        return -EINVAL;
    *out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off;
    return 0;
}

char *ctl_out_time(const json_t *v, int seconds)
{
    int64_t t;
    if (json_is_integer(v)) {
        t = (int64_t)json_integer_value(v);
        if (t > 100000000000LL || t < -100000000000LL)
            t /= 1000; /* epoch milliseconds */
    } else if (!json_is_string(v) || parse_iso(json_string_value(v), &t) != 0) {
        return text_of(v);
    }
    time_t local = (time_t)(t + 8 * 3600); /* Asia/Shanghai: UTC+8, no DST */
    struct tm tm;
    if (!gmtime_r(&local, &tm))
        return text_of(v);
    char buf[32];
    strftime(buf, sizeof(buf), seconds ? "%Y-%m-%d %H:%M:%S" : "%Y-%m-%d %H:%M", &tm);
    return pls_xstrdup(buf);
}

/* ---- tables --------------------------------------------------------------------------------- */

typedef struct table {
    size_t ncols;      /* cells per row */
    const char *align; /* per column: 'l' left, 'r' right */
    char **cells;      /* owned cells, row-major, the heading row first */
    size_t ncells;     /* cells added so far */
} table_t;

static void table_add(table_t *t, char *cell)
{
    t->cells = pls_xrealloc(t->cells, (t->ncells + 1) * sizeof(*t->cells));
    t->cells[t->ncells++] = cell;
}

/* A table with one column per letter of align ('l' or 'r') and the
 * headings of heads (as many). */
static void table_init_cols(table_t *t, const char *align, const char *const *heads)
{
    memset(t, 0, sizeof(*t));
    t->align = align;
    t->ncols = strlen(align);
    for (size_t i = 0; i < t->ncols; i++)
        table_add(t, pls_xstrdup(heads[i]));
}

#define table_init(t, align, ...) table_init_cols((t), (align), (const char *const[]){__VA_ARGS__})

static size_t table_rows(const table_t *t)
{
    return t->ncells / t->ncols - 1;
}

static void table_print(table_t *t, FILE *out)
{
    size_t *w = pls_xcalloc(t->ncols, sizeof(*w));
    for (size_t i = 0; i < t->ncells; i++) {
        size_t cw = ctl_out_width(t->cells[i]);
        if (cw > w[i % t->ncols])
            w[i % t->ncols] = cw;
    }
    for (size_t i = 0; i < t->ncells; i += t->ncols) {
        pls_buf_t line;
        pls_buf_init(&line);
        for (size_t c = 0; c < t->ncols; c++) {
            const char *s = t->cells[i + c];
            size_t pad = w[c] - ctl_out_width(s);
            pls_buf_adds(&line, "  ");
            if (t->align[c] == 'r')
                for (size_t k = 0; k < pad; k++)
                    pls_buf_addc(&line, ' ');
            pls_buf_adds(&line, s);
            if (t->align[c] != 'r')
                for (size_t k = 0; k < pad; k++)
                    pls_buf_addc(&line, ' ');
        }
        while (line.len && line.data[line.len - 1] == ' ')
            line.data[--line.len] = '\0';
        fprintf(out, "%s\n", line.data ? line.data : "");
        pls_buf_cleanup(&line);
    }
    free(w);
}

static void table_cleanup(table_t *t)
{
    for (size_t i = 0; i < t->ncells; i++)
        free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof(*t));
}

/* "Label       value" lines of a header block; a value of several lines is
 * indented under the first. Takes ownership of value. */
static void field(FILE *out, const char *label, char *value)
{
    const char *p = value;
    fprintf(out, "%-12s", label);
    for (;;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        fprintf(out, "%.*s\n", (int)n, p);
        if (!nl)
            break;
        p = nl + 1;
        fprintf(out, "%-12s", "");
    }
    free(value);
}

static int in_list(const char *key, const char *const *keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(key, keys[i]) == 0)
            return 1;
    return 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int empty(const json_t *v)
{
    return !v || json_is_null(v) || (json_is_object(v) && json_object_size(v) == 0) ||
           (json_is_array(v) && json_array_size(v) == 0) ||
           (json_is_string(v) && !*json_string_value(v));
}

/* Labels of fields a broker may add to its documents. */
static const struct {
    const char *key, *label;
} labels[] = {
    {"due_at", "Due"},       {"finished_at", "Finished"}, {"description", "Description"},
    {"desc", "Description"}, {"fields", "Fields"},        {"attachments", "Attachments"},
    {"about", "About"},      {"actor", "Taken in by"},    {"attempt", "Attempt"},
    {"broker", "Broker"},
};

/* One field of a document as a header line; times by their _at name,
 * objects as key=value, lists of objects one per line. */
static void any_field(FILE *out, const char *key, const json_t *v)
{
    const char *label = key;
    for (size_t i = 0; i < PLS_ARRAY_LEN(labels); i++)
        if (strcmp(key, labels[i].key) == 0)
            label = labels[i].label;
    if (ends_with(key, "_at")) {
        field(out, label, ctl_out_time(v, 1));
    } else if (json_is_object(v)) {
        field(out, label, summary_of(v));
    } else if (json_is_array(v)) {
        pls_buf_t b;
        pls_buf_init(&b);
        size_t i;
        const json_t *x;
        json_array_foreach(v, i, x)
        {
            char *t = summary_of(x);
            pls_buf_printf(&b, "%s%s", i ? "\n" : "", t);
            free(t);
        }
        field(out, label, b.data ? pls_buf_take(&b) : pls_xstrdup(""));
    } else {
        field(out, label, text_of(v));
    }
}

/* Fields the renderer did not place itself, unless empty. */
static void other_fields(FILE *out, const json_t *doc, const char *const *known, size_t n)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)(uintptr_t)doc, k, v)
    {
        if (!in_list(k, known, n) && !empty(v))
            any_field(out, k, v);
    }
}

/* ---- show ----------------------------------------------------------------------------------- */

/* "1 decide  (legal_aid at dg)": the current step, with the queue the order
 * is in when the document says (it may differ from the plan's scope). */
static char *current_step(const json_t *doc)
{
    const json_t *step = json_object_get(doc, "step");
    if (json_is_null(step))
        return pls_xstrdup("- (none current)");
    const json_t *s = NULL;
    if (json_is_integer(step))
        s = json_array_get(json_object_get(doc, "steps"), (size_t)json_integer_value(step));
    char *idx = text_of(step);
    if (!s)
        return idx;
    const json_t *dept = json_object_get(doc, "dept"), *scope = json_object_get(doc, "scope");
    char *name = get_text(s, "name");
    char *d = text_of(json_is_string(dept) ? dept : json_object_get(s, "dept"));
    char *sc = text_of(json_is_string(scope) ? scope : json_object_get(s, "scope"));
    char *line = fmt("%s %s  (%s at %s)", idx, name, d, sc);
    free(idx);
    free(name);
    free(d);
    free(sc);
    return line;
}

static void show_header(FILE *out, const json_t *doc)
{
    /* placed here, or in the tables below */
    static const char *const placed[] = {
        "id",      "number",   "service",    "state", "step",   "node",    "origin", "locality",
        "channel", "priority", "created_at", "steps", "events", "citizen", "dept",   "scope"};
    static const struct {
        const char *key, *label;
    } top[] = {{"number", "Order"},      {"id", "Id"},
               {"service", "Service"},   {"state", "State"},
               {"node", "Owner"},        {"channel", "Channel"},
               {"priority", "Priority"}, {"created_at", "Created"}};
    for (size_t i = 0; i < PLS_ARRAY_LEN(top); i++) {
        const json_t *v = json_object_get(doc, top[i].key);
        if (v)
            field(out, top[i].label,
                  ends_with(top[i].key, "_at") ? ctl_out_time(v, 1) : text_of(v));
        if (strcmp(top[i].key, "node") != 0)
            continue;
        /* after the owner: where the order came from and belongs, and its step */
        const json_t *origin = json_object_get(doc, "origin");
        const json_t *loc = json_object_get(doc, "locality");
        if (origin || loc) {
            char *o = text_of(origin), *l = text_of(loc);
            field(out, "Route", fmt("%s → %s   (origin → locality)", o, l));
            free(o);
            free(l);
        }
        if (json_object_get(doc, "step"))
            field(out, "Step", current_step(doc));
    }
    const json_t *c = json_object_get(doc, "citizen");
    if (!empty(c))
        field(out, "Citizen", summary_of(c));
    other_fields(out, doc, placed, PLS_ARRAY_LEN(placed));
}

static void show_steps(FILE *out, const json_t *doc)
{
    const json_t *steps = json_object_get(doc, "steps");
    const json_t *cur = json_object_get(doc, "step");
    if (!json_is_array(steps) || !json_array_size(steps))
        return;
    table_t t;
    table_init(&t, "lrllll", "", "#", "NAME", "DEPT", "SCOPE", "OUTCOME");
    size_t i;
    const json_t *s;
    json_array_foreach(steps, i, s)
    {
        int here = json_is_integer(cur) && (size_t)json_integer_value(cur) == i;
        table_add(&t, pls_xstrdup(here ? ">" : ""));
        table_add(&t, fmt("%zu", i));
        table_add(&t, get_text(s, "name"));
        table_add(&t, get_text(s, "dept"));
        table_add(&t, get_text(s, "scope"));
        const json_t *outcome = json_object_get(s, "outcome");
        if (empty(outcome) && json_is_true(json_object_get(s, "skipped")))
            table_add(&t, pls_xstrdup("(skipped)"));
        else
            table_add(&t, text_of(outcome));
    }
    fprintf(out, "\nSteps\n");
    table_print(&t, out);
    table_cleanup(&t);
}

static char *step_cell(const json_t *step)
{
    if (!step || json_is_null(step))
        return pls_xstrdup("");
    if (!json_is_object(step))
        return text_of(step);
    if (empty(json_object_get(step, "index")))
        return pls_xstrdup("");
    char *idx = get_text(step, "index"), *name = get_text(step, "name");
    char *s = fmt("%s %s", idx, name);
    free(idx);
    free(name);
    return s;
}

static void show_events(FILE *out, const json_t *doc)
{
    const json_t *events = json_object_get(doc, "events");
    if (!json_is_array(events))
        return;
    table_t t;
    table_init(&t, "rlllllrll", "SEQ", "TIME (UTC+8)", "NODE", "KIND", "FROM → TO", "STEP", "TRY",
               "ACTOR", "DETAILS");
    size_t i;
    const json_t *e;
    json_array_foreach(events, i, e)
    {
        table_add(&t, get_text(e, "seq"));
        table_add(&t, ctl_out_time(json_object_get(e, "at"), 1));
        table_add(&t, get_text(e, "node"));
        table_add(&t, get_text(e, "kind"));
        const json_t *from = json_object_get(e, "from"), *to = json_object_get(e, "to");
        if ((from && !json_is_null(from)) || (to && !json_is_null(to))) {
            char *f = text_of(from), *o = text_of(to);
            table_add(&t, fmt("%s → %s", f, o));
            free(f);
            free(o);
        } else {
            table_add(&t, pls_xstrdup(""));
        }
        table_add(&t, step_cell(json_object_get(e, "step")));
        const json_t *att = json_object_get(e, "attempt");
        table_add(&t, att && !json_is_null(att) ? text_of(att) : pls_xstrdup(""));
        table_add(&t, get_text(e, "actor"));
        table_add(&t, clip(summary_of(json_object_get(e, "payload")), 60));
    }
    fprintf(out, "\nEvents (%zu)\n", json_array_size(events));
    if (table_rows(&t))
        table_print(&t, out);
    table_cleanup(&t);
}

void ctl_out_show(FILE *out, const json_t *doc)
{
    show_header(out, doc);
    show_steps(out, doc);
    show_events(out, doc);
}

/* ---- status --------------------------------------------------------------------------------- */

const char *const ctl_out_states[CTL_OUT_N_STATES] = {
    "received",        "forwarded", "queued",    "assigned",      "in_progress",
    "waiting_citizen", "returned",  "completed", "rating_review", "closed",
    "failed",          "withdrawn", "terminated"};

static void add_state_row(table_t *t, const char *state, const json_t *orders, const json_t *owned,
                          json_int_t *sum_all, json_int_t *sum_owned)
{
    const json_t *a = json_object_get(orders, state), *o = json_object_get(owned, state);
    table_add(t, pls_xstrdup(state));
    table_add(t, a ? text_of(a) : pls_xstrdup("0"));
    table_add(t, o ? text_of(o) : pls_xstrdup("0"));
    *sum_all += json_integer_value(a);
    *sum_owned += json_integer_value(o);
}

static void status_orders(FILE *out, const json_t *doc)
{
    const json_t *orders = json_object_get(doc, "orders"), *owned = json_object_get(doc, "owned");
    if (!json_is_object(orders) && !json_is_object(owned))
        return;
    table_t t;
    table_init(&t, "lrr", "STATE", "ALL", "OWNED");
    json_int_t all = 0, own = 0;
    for (size_t i = 0; i < CTL_OUT_N_STATES; i++)
        if (json_object_get(orders, ctl_out_states[i]) || json_object_get(owned, ctl_out_states[i]))
            add_state_row(&t, ctl_out_states[i], orders, owned, &all, &own);
    const json_t *sets[] = {orders, owned};
    for (size_t s = 0; s < 2; s++) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)(uintptr_t)sets[s], k, v)
        {
            if (in_list(k, ctl_out_states, CTL_OUT_N_STATES) ||
                (s == 1 && json_object_get(orders, k)))
                continue;
            add_state_row(&t, k, orders, owned, &all, &own);
        }
    }
    table_add(&t, pls_xstrdup("total"));
    table_add(&t, fmt("%lld", (long long)all));
    table_add(&t, fmt("%lld", (long long)own));
    fprintf(out, "\nOrders (all: in this node's database; owned: this node decides)\n");
    table_print(&t, out);
    table_cleanup(&t);
}

/* Counts a broker adds to a department beyond those of DESIGN §10
 * (returned, failed, ...): numbers under names not placed otherwise. */
static size_t extra_counts(const json_t *depts, const char *const *placed, size_t n_placed,
                           const char **out, size_t max)
{
    size_t n = 0, i;
    const json_t *d;
    json_array_foreach(depts, i, d)
    {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)(uintptr_t)d, k, v)
        {
            if (json_is_number(v) && !in_list(k, placed, n_placed) && !in_list(k, out, n) &&
                n < max)
                out[n++] = k;
        }
    }
    return n;
}

static void status_departments(FILE *out, const json_t *doc)
{
    const json_t *depts = json_object_get(doc, "departments");
    if (!json_is_array(depts))
        return;
    static const char *const placed[] = {
        "dept",           "scope", "queued",     "assigned",        "in_progress", "waiting",
        "yellow",         "red",   "supervised", "completed_today", "workers_a",   "workers_b",
        "no_live_worker", "away"};
    static const char *const heads[] = {"QUEUED", "ASSIGNED", "IN PROG", "WAITING",
                                        "YELLOW", "RED",      "SUPERV",  "DONE TODAY"};
    const char *extra[16];
    size_t n_extra = extra_counts(depts, placed, PLS_ARRAY_LEN(placed), extra, 16);
    /* columns: dept, scope, the first four counts, the extras, the other four, workers, flags */
    char align[40];
    size_t ncols = 2 + 8 + n_extra + 2;
    memset(align, 'r', ncols);
    align[0] = align[1] = align[ncols - 1] = 'l';
    align[ncols] = '\0';
    const char *cols[40];
    size_t c = 0;
    cols[c++] = "DEPT";
    cols[c++] = "SCOPE";
    for (size_t i = 0; i < 4; i++)
        cols[c++] = heads[i];
    char upper[16][40];
    for (size_t i = 0; i < n_extra; i++) {
        snprintf(upper[i], sizeof(upper[i]), "%s", extra[i]);
        for (char *p = upper[i]; *p; p++)
            *p = *p == '_' ? ' ' : (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
        cols[c++] = upper[i];
    }
    for (size_t i = 4; i < 8; i++)
        cols[c++] = heads[i];
    cols[c++] = "WORKERS A/B";
    cols[c++] = "FLAGS";
    table_t t;
    table_init_cols(&t, align, cols);

    size_t i, unmanned = 0;
    const json_t *d;
    json_array_foreach(depts, i, d)
    {
        table_add(&t, get_text(d, "dept"));
        table_add(&t, get_text(d, "scope"));
        for (size_t k = 2; k < 6; k++)
            table_add(&t, get_text(d, placed[k]));
        for (size_t k = 0; k < n_extra; k++)
            table_add(&t, get_text(d, extra[k]));
        for (size_t k = 6; k < 10; k++)
            table_add(&t, get_text(d, placed[k]));
        char *a = get_text(d, "workers_a"), *b = get_text(d, "workers_b");
        table_add(&t, fmt("%s/%s", a, b));
        free(a);
        free(b);
        int none = json_is_true(json_object_get(d, "no_live_worker"));
        int away = json_is_true(json_object_get(d, "away"));
        unmanned += (size_t)none;
        table_add(&t, fmt("%s%s%s", none ? "NO LIVE WORKER" : "", none && away ? ", " : "",
                          away ? "A post away" : ""));
    }
    fprintf(out, "\nDepartments (%zu)\n", json_array_size(depts));
    if (table_rows(&t))
        table_print(&t, out);
    if (unmanned)
        fprintf(out, "  ! %zu queue%s with no live worker\n", unmanned, unmanned == 1 ? "" : "s");
    table_cleanup(&t);
}

static char *list_cell(const json_t *v)
{
    if (!json_is_array(v))
        return text_of(v);
    pls_buf_t b;
    pls_buf_init(&b);
    size_t i;
    const json_t *x;
    json_array_foreach(v, i, x)
    {
        char *s = text_of(x);
        pls_buf_printf(&b, "%s%s", i ? "," : "", s);
        free(s);
    }
    return b.data ? pls_buf_take(&b) : pls_xstrdup("-");
}

static void status_workers(FILE *out, const json_t *doc)
{
    const json_t *ws = json_object_get(doc, "workers");
    if (!json_is_array(ws))
        return;
    table_t t;
    static const char *const placed[] = {"name",    "depts", "scope", "role",
                                         "custody", "alive", "held",  "credit"};
    table_init(&t, "lllllrrrl", "NAME", "DEPTS", "SCOPE", "ROLE", "CUSTODY", "ALIVE", "HELD",
               "CREDIT", "FLAGS");
    size_t i;
    const json_t *w;
    json_array_foreach(ws, i, w)
    {
        table_add(&t, get_text(w, "name"));
        table_add(&t, list_cell(json_object_get(w, "depts")));
        table_add(&t, get_text(w, "scope"));
        table_add(&t, get_text(w, "role"));
        table_add(&t, get_text(w, "custody"));
        const json_t *alive = json_object_get(w, "alive");
        table_add(&t, json_is_boolean(alive) ? pls_xstrdup(json_is_true(alive) ? "yes" : "NO")
                                             : text_of(alive));
        table_add(&t, list_cell(json_object_get(w, "held")));
        table_add(&t, get_text(w, "credit"));
        /* other yes/no facts a broker reports (draining, ...) when true */
        pls_buf_t flags;
        pls_buf_init(&flags);
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)(uintptr_t)w, k, v)
        {
            if (json_is_true(v) && !in_list(k, placed, PLS_ARRAY_LEN(placed)))
                pls_buf_printf(&flags, "%s%s", flags.len ? ", " : "", k);
        }
        table_add(&t, flags.data ? pls_buf_take(&flags) : pls_xstrdup(""));
    }
    fprintf(out, "\nWorkers (%zu)\n", json_array_size(ws));
    if (table_rows(&t))
        table_print(&t, out);
    table_cleanup(&t);
}

static void status_links(FILE *out, const json_t *doc)
{
    const json_t *ls = json_object_get(doc, "links");
    if (!json_is_array(ls))
        return;
    table_t t;
    table_init(&t, "llrr", "PEER", "CONNECTED", "OUTBOX", "OLDEST UNACKED");
    size_t i;
    const json_t *l;
    json_array_foreach(ls, i, l)
    {
        table_add(&t, get_text(l, "peer"));
        const json_t *c = json_object_get(l, "connected");
        table_add(&t,
                  json_is_boolean(c) ? pls_xstrdup(json_is_true(c) ? "yes" : "NO") : text_of(c));
        table_add(&t, get_text(l, "outbox"));
        const json_t *age = json_object_get(l, "oldest_unacked_s");
        if (json_is_number(age)) {
            char *s = text_of(age);
            table_add(&t, fmt("%s s", s));
            free(s);
        } else {
            table_add(&t, text_of(age));
        }
    }
    fprintf(out, "\nLinks (%zu)\n", json_array_size(ls));
    if (table_rows(&t))
        table_print(&t, out);
    table_cleanup(&t);
}

static void status_warnings(FILE *out, const json_t *doc)
{
    const json_t *ws = json_object_get(doc, "warnings");
    if (!json_is_array(ws) || !json_array_size(ws))
        return;
    fprintf(out, "\nWarnings\n");
    size_t i;
    const json_t *w;
    json_array_foreach(ws, i, w)
    {
        char *s = json_is_object(w) ? summary_of(w) : text_of(w);
        fprintf(out, "  ! %s\n", s);
        free(s);
    }
}

static void status_one(FILE *out, const json_t *doc, int depth);

/* status --tree: other nodes' documents under "nodes" (a list, or an object
 * by node id) or "children". */
static void status_subtree(FILE *out, const json_t *doc, int depth)
{
    static const char *const keys[] = {"nodes", "children"};
    for (size_t k = 0; k < PLS_ARRAY_LEN(keys); k++) {
        const json_t *sub = json_object_get(doc, keys[k]);
        size_t i;
        const char *name;
        const json_t *n;
        if (json_is_array(sub)) {
            json_array_foreach(sub, i, n)
            {
                if (json_is_object(n))
                    status_one(out, n, depth + 1);
            }
        } else if (json_is_object(sub)) {
            json_object_foreach((json_t *)(uintptr_t)sub, name, n)
            {
                if (!json_is_object(n))
                    continue;
                if (!json_object_get(n, "node"))
                    fprintf(out, "\n== %s ==\n", name);
                status_one(out, n, depth + 1);
            }
        }
    }
}

static void status_one(FILE *out, const json_t *doc, int depth)
{
    static const char *const known[] = {"node",  "orders",   "owned", "departments", "workers",
                                        "links", "warnings", "nodes", "children"};
    const json_t *node = json_object_get(doc, "node");
    if (node) {
        char *n = text_of(node);
        if (depth)
            fprintf(out, "\n== %s ==\n", n);
        else
            field(out, "Node", pls_xstrdup(n));
        free(n);
    }
    other_fields(out, doc, known, PLS_ARRAY_LEN(known));
    status_orders(out, doc);
    status_departments(out, doc);
    status_workers(out, doc);
    status_links(out, doc);
    status_warnings(out, doc);
    status_subtree(out, doc, depth);
}

void ctl_out_status(FILE *out, const json_t *doc)
{
    status_one(out, doc, 0);
}

/* ---- list ----------------------------------------------------------------------------------- */

void ctl_out_list(FILE *out, const json_t *doc)
{
    const json_t *orders = json_object_get(doc, "orders");
    if (!json_is_array(orders) || json_array_size(orders) == 0) {
        fprintf(out, "no orders match\n");
        return;
    }
    table_t t;
    table_init(&t, "lllllllll", "NUMBER", "STATE", "SERVICE", "OWNER", "ORIGIN → LOCALITY",
               "CREATED", "DUE", "", "ID");
    size_t i, overdue = 0;
    const json_t *o;
    json_array_foreach(orders, i, o)
    {
        table_add(&t, get_text(o, "number"));
        table_add(&t, get_text(o, "state"));
        table_add(&t, get_text(o, "service"));
        table_add(&t, get_text(o, "node"));
        char *origin = get_text(o, "origin");
        const json_t *loc = json_object_get(o, "locality");
        if (json_is_string(loc) && *json_string_value(loc) &&
            strcmp(json_string_value(loc), origin) != 0)
            table_add(&t, fmt("%s → %s", origin, json_string_value(loc)));
        else
            table_add(&t, pls_xstrdup(origin));
        free(origin);
        table_add(&t, ctl_out_time(json_object_get(o, "created_at"), 0));
        table_add(&t, ctl_out_time(json_object_get(o, "due_at"), 0));
        int late = json_is_true(json_object_get(o, "overdue"));
        overdue += (size_t)late;
        table_add(&t, pls_xstrdup(late ? "OVERDUE" : ""));
        table_add(&t, get_text(o, "id"));
    }
    table_print(&t, out);
    size_t n = json_array_size(orders);
    fprintf(out, "%zu order%s", n, n == 1 ? "" : "s");
    if (overdue)
        fprintf(out, ", %zu overdue", overdue);
    fprintf(out, " (times UTC+8)\n");
    table_cleanup(&t);
}

/* ---- entry points --------------------------------------------------------------------------- */

void ctl_out_json(FILE *out, const json_t *doc)
{
    /* the shortest precision that gives every real back unchanged */
    char *s = json_dumps(doc, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
    json_t *back = s ? json_loads(s, 0, NULL) : NULL;
    if (!back || !json_equal(back, (json_t *)(uintptr_t)doc)) {
        free(s);
        s = json_dumps(doc, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
    }
    json_decref(back);
    fprintf(out, "%s\n", s ? s : "null");
    free(s);
}

int ctl_out_query(FILE *out, ctl_out_kind_t kind, const char *json, int as_json, char *err,
                  size_t errsz)
{
    json_error_t je;
    json_t *doc = json_loads(json ? json : "", 0, &je);
    if (!doc) {
        snprintf(err, errsz, "the broker's answer is not JSON: %s (line %d)", je.text, je.line);
        return -EINVAL;
    }
    if (!json_is_object(doc)) {
        snprintf(err, errsz, "the broker's answer is not a JSON object");
        json_decref(doc);
        return -EINVAL;
    }
    if (as_json)
        ctl_out_json(out, doc);
    else if (kind == CTL_OUT_SHOW)
        ctl_out_show(out, doc);
    else if (kind == CTL_OUT_STATUS)
        ctl_out_status(out, doc);
    else
        ctl_out_list(out, doc);
    json_decref(doc);
    return 0;
}

void ctl_out_submit(FILE *out, FILE *note_out, const Pls__Reply *rep, int as_json)
{
    if (as_json) {
        json_t *doc = json_pack("{s:s, s:s, s:b}", "id", rep->order ? rep->order : "", "number",
                                rep->number ? rep->number : "", "duplicate", rep->duplicate);
        ctl_out_json(out, doc);
        json_decref(doc);
        return;
    }
    fprintf(out, "%s\n", rep->order ? rep->order : "");
    if (rep->duplicate)
        fprintf(note_out,
                "plsctl: this key was submitted before: that order (%s) is the answer, "
                "no new order was made\n",
                rep->number && *rep->number ? rep->number : rep->order);
}

void ctl_out_action(FILE *out, const char *what, const char *order, const Pls__Reply *rep,
                    int as_json)
{
    if (as_json) {
        json_t *doc = json_pack("{s:i, s:s}", "status", (int)rep->status, "reason",
                                rep->reason ? rep->reason : "");
        ctl_out_json(out, doc);
        json_decref(doc);
        return;
    }
    const char *reason = rep->reason && *rep->reason ? rep->reason : "ok";
    if (order && *order)
        fprintf(out, "%s %s: %s\n", what, order, reason);
    else
        fprintf(out, "%s: %s\n", what, reason);
}
