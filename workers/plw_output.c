/*
 * plw_output — the exec protocol's lines and results. See plw_output.h.
 */
#include "plw_output.h"
#include "pls_proto.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- line splitter ---------------------------------------------------- */

void plw_lines_init(plw_lines_t *l, size_t max)
{
    pls_buf_init(&l->cur);
    l->max = max;
    l->dropping = 0;
    l->truncated = 0;
}

void plw_lines_cleanup(plw_lines_t *l)
{
    pls_buf_cleanup(&l->cur);
}

static void deliver(plw_lines_t *l, plw_line_cb cb, void *arg)
{
    size_t len = l->cur.len;
    if (len && l->cur.data[len - 1] == '\r')
        len--;
    if (l->cur.data)
        l->cur.data[len] = '\0';
    cb(l->cur.data ? l->cur.data : "", len, l->dropping, arg);
    if (l->dropping)
        l->truncated++;
    pls_buf_reset(&l->cur);
    l->dropping = 0;
}

void plw_lines_feed(plw_lines_t *l, const char *p, size_t n, plw_line_cb cb, void *arg)
{
    while (n) {
        const char *nl = memchr(p, '\n', n);
        size_t take = nl ? (size_t)(nl - p) : n;
        size_t room = l->cur.len < l->max ? l->max - l->cur.len : 0;
        if (take > room) {
            pls_buf_add(&l->cur, p, room);
            l->dropping = 1;
        } else {
            pls_buf_add(&l->cur, p, take);
        }
        if (!nl)
            return;
        deliver(l, cb, arg);
        p = nl + 1;
        n -= take + 1;
    }
}

void plw_lines_end(plw_lines_t *l, plw_line_cb cb, void *arg)
{
    if (l->cur.len || l->dropping)
        deliver(l, cb, arg);
}

/* ---- line classification ---------------------------------------------- */

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* The word `word` followed by a space/tab or the end: returns what follows
 * (spaces skipped), or NULL. */
static const char *after_word(const char *line, const char *word)
{
    size_t n = strlen(word);
    if (strncmp(line, word, n) != 0 || (line[n] && !is_space(line[n])))
        return NULL;
    const char *p = line + n;
    while (is_space(*p))
        p++;
    return p;
}

static void classify_progress(const char *rest, plw_line_t *out)
{
    unsigned pct = 0;
    const char *p = rest;
    if (*p < '0' || *p > '9') {
        out->kind = PLW_LINE_BAD;
        snprintf(out->why, sizeof(out->why), "progress: want a percentage 0-100");
        return;
    }
    while (*p >= '0' && *p <= '9' && pct <= 100)
        pct = pct * 10 + (unsigned)(*p++ - '0');
    if (pct > 100 || (*p && !is_space(*p))) {
        out->kind = PLW_LINE_BAD;
        snprintf(out->why, sizeof(out->why), "progress: want a percentage 0-100");
        return;
    }
    while (is_space(*p))
        p++;
    out->kind = PLW_LINE_PROGRESS;
    out->pct = pct;
    out->text = p;
}

void plw_line_classify(const char *line, plw_line_t *out)
{
    memset(out, 0, sizeof(*out));
    const char *p = line;
    while (is_space(*p))
        p++;
    if (!*p) {
        out->kind = PLW_LINE_BLANK;
        return;
    }
    const char *rest;
    if ((rest = after_word(p, "progress")) != NULL) {
        classify_progress(rest, out);
    } else if ((rest = after_word(p, "accept")) != NULL) {
        if (!*rest) {
            out->kind = PLW_LINE_BAD;
            snprintf(out->why, sizeof(out->why), "accept: want the name of the person");
            return;
        }
        out->kind = PLW_LINE_ACCEPT;
        out->text = rest;
    } else if (*p == '{') {
        out->kind = PLW_LINE_RESULT;
    } else {
        out->kind = PLW_LINE_TEXT;
    }
}

/* ---- results ---------------------------------------------------------- */

void plw_result_init(plw_result_t *r)
{
    memset(r, 0, sizeof(*r));
}

void plw_result_cleanup(plw_result_t *r)
{
    free(r->outcome);
    free(r->note);
    for (size_t i = 0; i < r->n_items; i++)
        free(r->items[i]);
    free(r->items);
    plw_result_init(r);
}

void plw_result_fail(plw_result_t *r, const char *fmt, ...)
{
    plw_result_cleanup(r);
    r->outcome = pls_xstrdup("fail");
    pls_buf_t b;
    pls_buf_init(&b);
    va_list ap;
    va_start(ap, fmt);
    pls_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    r->note = pls_buf_take(&b);
    plw_text_clean(r->note, PLS_MAX_NOTE);
}

static int parse_items(json_t *items, plw_result_t *out, char *err, size_t errsz)
{
    if (!json_is_array(items)) {
        snprintf(err, errsz, "items: want a list of strings");
        return -EINVAL;
    }
    size_t n = json_array_size(items);
    if (n > PLS_MAX_ITEMS) {
        snprintf(err, errsz, "items: more than %d", PLS_MAX_ITEMS);
        return -EINVAL;
    }
    out->items = pls_xcalloc(n ? n : 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        json_t *it = json_array_get(items, i);
        if (!json_is_string(it) || json_string_length(it) == 0) {
            snprintf(err, errsz, "items: want non-empty strings");
            return -EINVAL;
        }
        if (json_string_length(it) > PLS_MAX_ITEM) {
            snprintf(err, errsz, "items: an item is longer than %d bytes", PLS_MAX_ITEM);
            return -EINVAL;
        }
        out->items[out->n_items++] = pls_xstrdup(json_string_value(it));
    }
    return 0;
}

static int parse_fields(json_t *root, plw_result_t *out, char *err, size_t errsz)
{
    json_t *oc = json_object_get(root, "outcome");
    if (!json_is_string(oc) || json_string_length(oc) == 0) {
        snprintf(err, errsz, "outcome: required (a string)");
        return -EINVAL;
    }
    out->outcome = pls_xstrdup(json_string_value(oc));
    json_t *note = json_object_get(root, "note");
    if (note && !json_is_null(note)) {
        if (!json_is_string(note)) {
            snprintf(err, errsz, "note: want a string");
            return -EINVAL;
        }
        out->note = pls_xstrdup(json_string_value(note));
        plw_text_clean(out->note, PLS_MAX_NOTE);
    }
    json_t *items = json_object_get(root, "items");
    if (items && !json_is_null(items) && parse_items(items, out, err, errsz) != 0)
        return -EINVAL;
    json_t *days = json_object_get(root, "days");
    if (days && !json_is_null(days)) {
        if (!json_is_integer(days) || json_integer_value(days) < 0 ||
            json_integer_value(days) > 365) {
            snprintf(err, errsz, "days: want a whole number 0-365");
            return -EINVAL;
        }
        out->days = (unsigned)json_integer_value(days);
    }
    return 0;
}

int plw_result_parse(const char *json, plw_result_t *out, char *err, size_t errsz)
{
    plw_result_init(out);
    json_error_t jerr;
    /* JSON_REJECT_DUPLICATES: {"outcome":"a","outcome":"b"} is ambiguous */
    json_t *root = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(err, errsz, "not JSON: %s", jerr.text);
        return -EINVAL;
    }
    int rc = 0;
    if (!json_is_object(root)) {
        snprintf(err, errsz, "not a JSON object");
        rc = -EINVAL;
    } else {
        rc = parse_fields(root, out, err, errsz);
    }
    json_decref(root);
    if (rc)
        plw_result_cleanup(out);
    return rc;
}

static int listed(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (list[i] && strcmp(s, list[i]) == 0)
            return 1;
    return 0;
}

static int check_text(const char *what, const char *s, size_t max, char *err, size_t errsz)
{
    size_t n = strlen(s);
    if (n == 0) {
        snprintf(err, errsz, "%s: empty", what);
        return -EINVAL;
    }
    if (n > max) {
        snprintf(err, errsz, "%s: longer than %zu bytes", what, max);
        return -EINVAL;
    }
    if (!pls_utf8_valid_n(s, n)) {
        snprintf(err, errsz, "%s: not valid UTF-8", what);
        return -EINVAL;
    }
    return 0;
}

int plw_outcome_check(const char *outcome, const char *note, const char *const *items,
                      size_t n_items, unsigned days, const char *const *outcomes, size_t n_outcomes,
                      char *err, size_t errsz)
{
    static const char *const special[] = {"return", "need_info", "extend", "fail"};
    if (!outcome || !*outcome) {
        snprintf(err, errsz, "outcome: required");
        return -EINVAL;
    }
    if (!pls_code_valid(outcome) || (!listed(outcome, outcomes, n_outcomes) &&
                                     !listed(outcome, special, PLS_ARRAY_LEN(special)))) {
        pls_buf_t b;
        pls_buf_init(&b);
        for (size_t i = 0; i < n_outcomes; i++)
            pls_buf_printf(&b, "%s, ", outcomes[i]);
        snprintf(err, errsz, "outcome %.32s%s is not one of %sreturn, need_info, extend, fail",
                 outcome, strlen(outcome) > 32 ? "..." : "", b.data ? b.data : "");
        pls_buf_cleanup(&b);
        return -EINVAL;
    }
    if (n_items > PLS_MAX_ITEMS) {
        snprintf(err, errsz, "items: more than %d", PLS_MAX_ITEMS);
        return -EINVAL;
    }
    for (size_t i = 0; i < n_items; i++)
        if (check_text("items", items[i], PLS_MAX_ITEM, err, errsz))
            return -EINVAL;
    if (days > 365) {
        snprintf(err, errsz, "days: more than 365");
        return -EINVAL;
    }
    if (strcmp(outcome, "need_info") == 0 && n_items == 0) {
        snprintf(err, errsz, "need_info lists every missing item: items required");
        return -EINVAL;
    }
    if (strcmp(outcome, "extend") == 0 && (days == 0 || !note || !*note)) {
        snprintf(err, errsz, "extend needs days (1-365) and a note with the reason");
        return -EINVAL;
    }
    return 0;
}

void plw_output_decide(const char *last_result, int last_truncated, int64_t exit_status,
                       int term_signal, int accepted, const char *default_outcome,
                       plw_result_t *out)
{
    plw_result_init(out);
    if (last_result) {
        char err[160];
        if (last_truncated)
            plw_result_fail(out, "handler outcome line longer than %d bytes", PLW_LINE_MAX);
        else if (plw_result_parse(last_result, out, err, sizeof(err)) != 0)
            plw_result_fail(out, "handler printed a malformed outcome line: %s", err);
        return;
    }
    if (term_signal)
        plw_result_fail(out, "handler killed by signal %d", term_signal);
    else if (exit_status != 0)
        plw_result_fail(out, "handler exited with status %lld", (long long)exit_status);
    else if (accepted)
        return; /* signed for: people carry on */
    else if (default_outcome && *default_outcome)
        out->outcome = pls_xstrdup(default_outcome);
    else
        plw_result_fail(out, "step lists no default outcome");
}

/* ---- text ------------------------------------------------------------- */

/* Length of the valid UTF-8 character at p (at most n bytes), 0 if invalid. */
static size_t utf8_char(const unsigned char *p, size_t n)
{
    if (p[0] < 0x80)
        return 1;
    size_t len = (p[0] & 0xe0) == 0xc0   ? 2
                 : (p[0] & 0xf0) == 0xe0 ? 3
                 : (p[0] & 0xf8) == 0xf0 ? 4
                                         : 0;
    if (!len || len > n)
        return 0;
    return pls_utf8_valid_n((const char *)p, len) ? len : 0;
}

void plw_text_clean(char *s, size_t max)
{
    unsigned char *p = (unsigned char *)s;
    size_t n = strlen(s), i = 0;
    while (i < n) {
        size_t len = utf8_char(p + i, n - i);
        if (len == 0 || (len == 1 && p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f) {
            p[i] = '?';
            len = 1;
        }
        if (i + len > max)
            break;
        i += len;
    }
    s[i] = '\0';
}
