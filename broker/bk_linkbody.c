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

/* A body's object built from yajl's parse events into jansson values: yajl's
 * lexer takes about a third of the instructions jansson's own takes for these
 * bodies (json_loadb reads them character by character), and the code that
 * reads bodies keeps jansson's API (BENCHMARKS.md §6 item 24). */
#define LB_NEST_MAX 64

typedef struct lb_build {
    json_t *stack[LB_NEST_MAX]; /* the open objects and arrays, innermost last */
    /* each open object's key awaiting its value, copied into keys at key_off
     * (yajl decodes an escaped key into a buffer that the value's own decoding
     * reuses); a deeper object's key comes after it */
    pls_buf_t keys;
    size_t key_off[LB_NEST_MAX];
    size_t key_len[LB_NEST_MAX];
    int depth;
    json_t *root;
    const char *why; /* why a callback stopped the parse, if it did */
} lb_build_t;

/* Attach v where the parse is: the root, the open array, or the open object
 * under its last key. Takes v's reference. */
static int lb_add(lb_build_t *b, json_t *v)
{
    if (!v) {
        b->why = "out of memory";
        return 0;
    }
    if (b->depth == 0) {
        if (!json_is_object(v)) {
            b->why = "not a JSON object";
            json_decref(v);
            return 0;
        }
        b->root = v;
        return 1;
    }
    json_t *top = b->stack[b->depth - 1];
    int rc = json_is_object(top)
                 ? json_object_setn_new_nocheck(top, b->keys.data + b->key_off[b->depth - 1],
                                                b->key_len[b->depth - 1], v)
                 : json_array_append_new(top, v);
    if (rc != 0)
        b->why = "out of memory";
    return rc == 0;
}

static int lb_open(lb_build_t *b, json_t *v)
{
    if (b->depth == LB_NEST_MAX) {
        json_decref(v);
        b->why = "nested deeper than 64";
        return 0;
    }
    json_t *keep = v;
    if (!lb_add(b, v))
        return 0;
    b->key_off[b->depth] = b->keys.len;
    b->stack[b->depth++] = keep;
    return 1;
}

static int lb_null(void *ctx)
{
    return lb_add(ctx, json_null());
}

static int lb_bool(void *ctx, int v)
{
    return lb_add(ctx, json_boolean(v));
}

static int lb_int(void *ctx, long long v)
{
    return lb_add(ctx, json_integer((json_int_t)v));
}

static int lb_double(void *ctx, double v)
{
    return lb_add(ctx, json_real(v));
}

/* yajl has checked the UTF-8; a NUL that an escape made is refused, as
 * jansson refuses it */
static int lb_string(void *ctx, const unsigned char *s, size_t len)
{
    lb_build_t *b = ctx;
    if (memchr(s, 0, len)) {
        b->why = "a string holds \\u0000";
        return 0;
    }
    return lb_add(b, json_stringn_nocheck((const char *)s, len));
}

static int lb_key(void *ctx, const unsigned char *s, size_t len)
{
    lb_build_t *b = ctx;
    if (memchr(s, 0, len)) {
        b->why = "a key holds \\u0000";
        return 0;
    }
    b->keys.len = b->key_off[b->depth - 1]; /* the last key's copy at this depth is done */
    pls_buf_add(&b->keys, s, len);
    b->key_len[b->depth - 1] = len;
    return 1;
}

static int lb_start_map(void *ctx)
{
    return lb_open(ctx, json_object());
}

static int lb_start_array(void *ctx)
{
    return lb_open(ctx, json_array());
}

/* the end of the body's object stops the parse: what follows is the tail */
static int lb_end(void *ctx)
{
    lb_build_t *b = ctx;
    return --b->depth > 0;
}

static const yajl_callbacks build_cb = {
    .yajl_null = lb_null,
    .yajl_boolean = lb_bool,
    .yajl_integer = lb_int,
    .yajl_double = lb_double,
    .yajl_string = lb_string,
    .yajl_start_map = lb_start_map,
    .yajl_map_key = lb_key,
    .yajl_end_map = lb_end,
    .yajl_start_array = lb_start_array,
    .yajl_end_array = lb_end,
};

static void lb_build_free(lb_build_t *b, yajl_handle h)
{
    if (h)
        yajl_free(h);
    pls_buf_cleanup(&b->keys);
}

static int hex4(const char *p, unsigned *v)
{
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                            : 16;
        if (d == 16)
            return 0;
        *v = *v << 4 | d;
    }
    return 1;
}

/* The \u escapes of JSON text that yajl has accepted: NULL if each is neither
 * \u0000 nor half of a surrogate pair on its own, else why. yajl decodes
 * escapes without these checks; jansson refuses such text, and PostgreSQL
 * refuses the bytes a lone surrogate decodes to in a text column, or cannot
 * read such a json value back as text (->>). */
static const char *escapes_bad(const char *p, size_t len)
{
    const char *end = p + len;
    for (const char *q = memchr(p, '\\', len); q; q = memchr(q, '\\', (size_t)(end - q))) {
        if (q + 1 >= end)
            return "a backslash at the end";
        if (q[1] != 'u') {
            q += 2; /* \\, \", \n ...: the escaped character is no escape itself */
            continue;
        }
        unsigned u, lo;
        if (end - q < 6 || !hex4(q + 2, &u))
            return "a malformed \\u escape";
        if (u == 0)
            return "a string holds \\u0000";
        if (u >= 0xdc00 && u <= 0xdfff)
            return "a low surrogate escape without its high one";
        if (u >= 0xd800 && u <= 0xdbff) {
            if (end - q < 12 || q[6] != '\\' || q[7] != 'u' || !hex4(q + 8, &lo) || lo < 0xdc00 ||
                lo > 0xdfff)
                return "a high surrogate escape without its low one";
            q += 12;
            continue;
        }
        q += 6;
        if (q >= end)
            break;
    }
    return NULL;
}

json_t *bk_lb_parse(const char *body, size_t len, const char **tail, size_t *tail_len,
                    json_error_t *err)
{
    lb_build_t build, *b = &build;
    b->depth = 0;
    b->root = NULL;
    b->why = NULL;
    pls_buf_init(&b->keys);
    pls_buf_reserve(&b->keys, 256);
    memset(err, 0, sizeof(*err));
    yajl_handle h = yajl_alloc(&build_cb, NULL, b);
    const unsigned char *p = (const unsigned char *)body;
    yajl_status st = h ? yajl_parse(h, p, len) : yajl_status_error;
    if (st == yajl_status_ok)
        st = yajl_complete_parse(h); /* the object did not end: an error */
    size_t used = h ? yajl_get_bytes_consumed(h) : 0;
    json_t *root = b->root;
    const char *why = !h ? "out of memory" : b->why;
    if (st == yajl_status_client_canceled && !why && root && b->depth == 0 && used <= len) {
        /* yajl decodes escapes without checking them: refused as jansson does */
        why = escapes_bad(body, used);
        if (!why) {
            lb_build_free(b, h);
            err->position = (int)used;
            *tail = body + used;
            *tail_len = len - used;
            return root;
        }
    }
    if (why) {
        snprintf(err->text, sizeof(err->text), "%s", why);
    } else {
        unsigned char *e = yajl_get_error(h, 0, p, len);
        snprintf(err->text, sizeof(err->text), "%s", e ? (const char *)e : "not JSON");
        if (e)
            yajl_free_error(h, e);
        err->text[strcspn(err->text, "\n")] = '\0'; /* yajl ends it with a newline */
    }
    err->position = (int)used;
    lb_build_free(b, h);
    json_decref(root);
    return NULL;
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
 * in strings and anything but JSON syntax), without \u0000 or a lone
 * surrogate escape (escapes_bad). NULL, or why not. */
static const char *array_bad(const char *p, size_t len)
{
    if (len < 2 || p[0] != '[')
        return "its entries are not a JSON array";
    int depth = 0;
    yajl_handle h = yajl_alloc(&depth_cb, NULL, &depth);
    if (!h)
        return "out of memory";
    yajl_status st = yajl_parse(h, (const unsigned char *)p, len);
    if (st == yajl_status_ok)
        st = yajl_complete_parse(h);
    yajl_free(h);
    if (st != yajl_status_ok)
        return depth > BK_LB_DEPTH_MAX ? "its entries nest deeper than 32"
                                       : "its entries are not a JSON array";
    return escapes_bad(p, len);
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
        const char *bad = array_bad(tail + off, (size_t)n);
        if (bad) {
            snprintf(why, whysz, "row %zu: %s", i, bad);
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
        /* checked above, but jansson refuses a little more (numbers over 64
         * bits): then there is no format-1 body of it */
        json_t *e = json_loadb(tail + off, n, 0, &err);
        off += n;
        if (!e) {
            json_decref(j);
            return NULL;
        }
        json_object_del(r, "len");
        json_object_set_new(r, "entries", e);
    }
    char *out = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return out;
}
