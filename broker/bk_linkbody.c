/*
 * bk_linkbody — event rows after a link message's JSON body (see the header).
 */
#include "bk_linkbody.h"

#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

void bk_lb_row_head(pls_buf_t *b, uint64_t seq, uint64_t n, int64_t at_ms, size_t len)
{
    pls_buf_adds(b, "{\"seq\":");
    pls_buf_add_u64(b, seq);
    pls_buf_adds(b, ",\"n\":");
    pls_buf_add_u64(b, n);
    pls_buf_adds(b, ",\"at\":");
    pls_buf_add_i64(b, at_ms);
    pls_buf_adds(b, ",\"len\":");
    pls_buf_add_u64(b, len);
    pls_buf_addc(b, '}');
}

json_t *bk_lb_parse(const char *body, size_t len, const char **tail, size_t *tail_len,
                    json_error_t *err)
{
    /* the decoder stops after the object; position is what it read */
    json_t *j = json_loadb(body, len, JSON_DISABLE_EOF_CHECK, err);
    if (!j)
        return NULL;
    if (!json_is_object(j) || err->position < 0 || (size_t)err->position > len) {
        json_decref(j);
        snprintf(err->text, sizeof(err->text), "not a JSON object");
        return NULL;
    }
    *tail = body + err->position;
    *tail_len = len - (size_t)err->position;
    return j;
}

/* yajl callbacks: only the nesting depth is watched */
static int depth_in(void *ctx)
{
    int *d = ctx;
    return ++*d <= BK_LB_DEPTH_MAX;
}

static int depth_out(void *ctx)
{
    --*(int *)ctx;
    return 1;
}

static const yajl_callbacks depth_cb = {
    .yajl_start_map = depth_in,
    .yajl_end_map = depth_out,
    .yajl_start_array = depth_in,
    .yajl_end_array = depth_out,
};

/* One JSON array of exactly len bytes (yajl refuses trailing text, bad UTF-8
 * in strings and anything but JSON syntax). */
static int array_ok(const char *p, size_t len)
{
    if (len < 2 || p[0] != '[')
        return 0;
    int depth = 0;
    yajl_handle h = yajl_alloc(&depth_cb, NULL, &depth);
    if (!h)
        return 0;
    yajl_status st = yajl_parse(h, (const unsigned char *)p, len);
    if (st == yajl_status_ok)
        st = yajl_complete_parse(h);
    yajl_free(h);
    return st == yajl_status_ok;
}

int bk_lb_check(json_t *body, const char *tail, size_t tail_len, char *why, size_t whysz)
{
    json_t *rows = json_object_get(body, "rows");
    size_t off = 0, i;
    json_t *r;
    if (rows && !json_is_array(rows)) {
        snprintf(why, whysz, "\"rows\" is not an array");
        return -1;
    }
    json_array_foreach(rows, i, r)
    {
        json_t *l = json_object_get(r, "len");
        if (!l) {
            if (!json_is_array(json_object_get(r, "entries"))) {
                snprintf(why, whysz, "row %zu has neither \"len\" nor \"entries\"", i);
                return -1;
            }
            continue;
        }
        json_int_t n = json_is_integer(l) ? json_integer_value(l) : -1;
        if (n < 0 || (size_t)n > tail_len - off) {
            snprintf(why, whysz, "row %zu: its entries (\"len\") run past the message's end", i);
            return -1;
        }
        if (!array_ok(tail + off, (size_t)n)) {
            snprintf(why, whysz,
                     "row %zu: its entries are not a JSON array (or nest deeper than %d)", i,
                     BK_LB_DEPTH_MAX);
            return -1;
        }
        off += (size_t)n;
    }
    if (off != tail_len) {
        snprintf(why, whysz, "%zu bytes after the body that no row's \"len\" accounts for",
                 tail_len - off);
        return -1;
    }
    return 0;
}

const char *bk_lb_entries(json_t *r, const char *tail, size_t *off, size_t *len, char **alloc)
{
    *alloc = NULL;
    json_t *l = json_object_get(r, "len");
    if (l) {
        const char *p = tail + *off;
        *len = (size_t)json_integer_value(l);
        *off += *len;
        return p;
    }
    json_t *e = json_object_get(r, "entries");
    if (!e)
        return NULL;
    *alloc = json_dumps(e, JSON_COMPACT);
    *len = *alloc ? strlen(*alloc) : 0;
    return *alloc;
}

int bk_lb_has_tail(const char *body)
{
    size_t n = strlen(body);
    return n && body[n - 1] == ']';
}

char *bk_lb_legacy(const char *body)
{
    const char *tail;
    size_t tail_len;
    json_error_t err;
    json_t *j = bk_lb_parse(body, strlen(body), &tail, &tail_len, &err);
    char why[160];
    if (!j || bk_lb_check(j, tail, tail_len, why, sizeof(why)) != 0) {
        json_decref(j);
        return NULL;
    }
    if (!tail_len) {
        json_decref(j);
        return pls_xstrdup(body);
    }
    size_t off = 0, i;
    json_t *r;
    json_array_foreach(json_object_get(j, "rows"), i, r)
    {
        json_t *l = json_object_get(r, "len");
        if (!l)
            continue;
        size_t n = (size_t)json_integer_value(l);
        json_t *e = json_loadb(tail + off, n, 0, &err); /* checked above */
        off += n;
        json_object_del(r, "len");
        json_object_set_new(r, "entries", e ? e : json_array());
    }
    char *out = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return out;
}
