/*
 * bk_dispatch — see bk_dispatch.h.
 */
#include "bk_dispatch.h"

#include "pls_util.h"

#include <stdlib.h>
#include <string.h>

typedef struct qkey {
    int dept;
    const char *scope; /* interned */
} qkey_t;

/* Hash the members, never the struct: its padding bytes are undefined. */
static uint64_t hash_qkey(int dept, const char *scope)
{
    uintptr_t p = (uintptr_t)scope;
    uint64_t v[2] = {(uint64_t)dept, (uint64_t)p};
    return bk_hash_bytes(v, sizeof(v));
}

static uint64_t hash_q(const void *e)
{
    const bk_queue_t *q = e;
    return hash_qkey(q->dept, q->scope);
}
static int eq_q(const void *e, const void *key)
{
    const bk_queue_t *q = e;
    const qkey_t *k = key;
    return q->dept == k->dept && q->scope == k->scope;
}
static uint64_t hash_w(const void *e)
{
    const bk_worker_t *w = e;
    return bk_hash_bytes(w->ident, w->ident_len);
}
typedef struct ident {
    const void *p;
    size_t len;
} ident_t;
static int eq_w(const void *e, const void *key)
{
    const bk_worker_t *w = e;
    const ident_t *k = key;
    return w->ident_len == k->len && memcmp(w->ident, k->p, k->len) == 0;
}
static uint64_t hash_node(const void *e)
{
    return bk_hash_str(e);
}
static int eq_node(const void *e, const void *key)
{
    return strcmp(e, key) == 0;
}

void bk_dispatch_init(bk_dispatch_t *d)
{
    memset(d, 0, sizeof(*d));
    bk_index_init(&d->queues, hash_q);
    bk_index_init(&d->workers, hash_w);
    bk_index_init(&d->nodes, hash_node);
}

static void worker_free(bk_worker_t *w)
{
    free(w->name);
    free(w->held);
    free(w);
}

void bk_dispatch_cleanup(bk_dispatch_t *d)
{
    void *e;
    for (size_t i = 0; (e = bk_index_next(&d->workers, &i));)
        worker_free(e);
    for (size_t i = 0; (e = bk_index_next(&d->queues, &i));) {
        bk_queue_t *q = e;
        free(q->heap);
        free(q->workers);
        free(q);
    }
    for (size_t i = 0; (e = bk_index_next(&d->nodes, &i));)
        free(e);
    bk_index_cleanup(&d->workers);
    bk_index_cleanup(&d->queues);
    bk_index_cleanup(&d->nodes);
    d->dirty = NULL;
}

const char *bk_dispatch_intern(bk_dispatch_t *d, const char *node)
{
    char *s = bk_index_find(&d->nodes, bk_hash_str(node), eq_node, node);
    if (!s) {
        s = pls_xstrdup(node);
        bk_index_put(&d->nodes, s);
    }
    return s;
}

bk_queue_t *bk_dispatch_queue(bk_dispatch_t *d, int dept, const char *scope, int create)
{
    qkey_t k = {dept, scope};
    bk_queue_t *q = bk_index_find(&d->queues, hash_qkey(dept, scope), eq_q, &k);
    if (!q && create) {
        q = pls_xcalloc(1, sizeof(*q));
        q->dept = dept;
        q->scope = scope;
        bk_index_put(&d->queues, q);
    }
    return q;
}

/* Heap order: urgent first, then earliest due time (none = last), then age. */
static int before(const bk_order_t *a, const bk_order_t *b)
{
    if (a->priority != b->priority)
        return a->priority > b->priority;
    int64_t da = a->due_ms ? a->due_ms : INT64_MAX, db = b->due_ms ? b->due_ms : INT64_MAX;
    if (da != db)
        return da < db;
    if (a->created_ms != b->created_ms)
        return a->created_ms < b->created_ms;
    return memcmp(a->id.b, b->id.b, 16) < 0;
}

static void heap_set(bk_queue_t *q, uint32_t i, bk_order_t *o)
{
    q->heap[i] = o;
    o->heap_idx = i;
}

static void sift_up(bk_queue_t *q, uint32_t i)
{
    bk_order_t *o = q->heap[i];
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (!before(o, q->heap[p]))
            break;
        heap_set(q, i, q->heap[p]);
        i = p;
    }
    heap_set(q, i, o);
}

static void sift_down(bk_queue_t *q, uint32_t i)
{
    bk_order_t *o = q->heap[i];
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= q->n)
            break;
        if (c + 1 < q->n && before(q->heap[c + 1], q->heap[c]))
            c++;
        if (!before(q->heap[c], o))
            break;
        heap_set(q, i, q->heap[c]);
        i = c;
    }
    heap_set(q, i, o);
}

void bk_queue_push(bk_queue_t *q, bk_order_t *o)
{
    if (q->n == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 16;
        q->heap = pls_xrealloc(q->heap, q->cap * sizeof(*q->heap));
    }
    heap_set(q, q->n++, o);
    sift_up(q, q->n - 1);
}

bk_order_t *bk_queue_peek(const bk_queue_t *q)
{
    return q->n ? q->heap[0] : NULL;
}

void bk_queue_remove(bk_queue_t *q, bk_order_t *o)
{
    uint32_t i = o->heap_idx;
    if (i == BK_NO_HEAP || i >= q->n || q->heap[i] != o)
        return;
    o->heap_idx = BK_NO_HEAP;
    q->n--;
    if (i == q->n)
        return;
    heap_set(q, i, q->heap[q->n]);
    sift_down(q, i);
    sift_up(q, q->heap[i]->heap_idx);
}

bk_order_t *bk_queue_pop(bk_queue_t *q)
{
    bk_order_t *o = bk_queue_peek(q);
    if (o)
        bk_queue_remove(q, o);
    return o;
}

void bk_dispatch_mark(bk_dispatch_t *d, bk_queue_t *q)
{
    if (q->dirty)
        return;
    q->dirty = 1;
    q->next_dirty = d->dirty;
    d->dirty = q;
}

bk_queue_t *bk_dispatch_take_dirty(bk_dispatch_t *d)
{
    bk_queue_t *list = d->dirty;
    d->dirty = NULL;
    for (bk_queue_t *q = list; q; q = q->next_dirty)
        q->dirty = 0;
    return list;
}

static int usable(const bk_worker_t *w, int64_t now_ms, int64_t lease_ms)
{
    return w->credit > 0 && !w->drain && now_ms - w->last_seen_ms <= lease_ms;
}

bk_worker_t *bk_dispatch_pick(const bk_queue_t *q, int64_t now_ms, int64_t lease_ms)
{
    bk_worker_t *best_a = NULL, *best_b = NULL;
    for (uint32_t i = 0; i < q->n_workers; i++) {
        bk_worker_t *w = q->workers[i];
        if (!usable(w, now_ms, lease_ms))
            continue;
        bk_worker_t **best = w->role == 0 ? &best_a : &best_b;
        if (!*best || w->credit > (*best)->credit)
            *best = w;
    }
    if (best_a && !q->away)
        return best_a;
    return best_b;
}

bk_worker_t *bk_dispatch_worker(const bk_dispatch_t *d, const void *ident, size_t len)
{
    ident_t k = {ident, len};
    return bk_index_find(&d->workers, bk_hash_bytes(ident, len), eq_w, &k);
}

bk_worker_t *bk_dispatch_worker_add(bk_dispatch_t *d, const void *ident, size_t len,
                                    const char *name, const char *scope, const int *depts,
                                    int n_depts, int role, int custody)
{
    bk_worker_t *w = pls_xcalloc(1, sizeof(*w));
    memcpy(w->ident, ident, len < BK_IDENT_MAX ? len : BK_IDENT_MAX);
    w->ident_len = len < BK_IDENT_MAX ? len : BK_IDENT_MAX;
    w->name = pls_xstrdup(name);
    w->scope = bk_dispatch_intern(d, scope);
    w->role = role;
    w->custody = custody;
    for (int i = 0; i < n_depts && i < BK_WORKER_DEPTS; i++) {
        bk_queue_t *q = bk_dispatch_queue(d, depts[i], w->scope, 1);
        if (q->n_workers == q->cap_workers) {
            q->cap_workers = q->cap_workers ? q->cap_workers * 2 : 4;
            q->workers = pls_xrealloc(q->workers, q->cap_workers * sizeof(*q->workers));
        }
        q->workers[q->n_workers++] = w;
        w->queues[w->n_queues++] = q;
    }
    bk_index_put(&d->workers, w);
    return w;
}

void bk_dispatch_worker_remove(bk_dispatch_t *d, bk_worker_t *w)
{
    for (int i = 0; i < w->n_queues; i++) {
        bk_queue_t *q = w->queues[i];
        for (uint32_t j = 0; j < q->n_workers; j++)
            if (q->workers[j] == w) {
                q->workers[j] = q->workers[--q->n_workers];
                break;
            }
    }
    bk_index_del(&d->workers, w);
    worker_free(w);
}

void bk_worker_hold(bk_worker_t *w, bk_order_t *o)
{
    if (w->n_held == w->cap_held) {
        w->cap_held = w->cap_held ? w->cap_held * 2 : 8;
        w->held = pls_xrealloc(w->held, w->cap_held * sizeof(*w->held));
    }
    o->held_idx = w->n_held;
    w->held[w->n_held++] = o;
    o->worker = w;
}

void bk_worker_release(bk_worker_t *w, bk_order_t *o)
{
    uint32_t i = o->held_idx;
    if (i < w->n_held && w->held[i] == o) {
        w->held[i] = w->held[--w->n_held];
        w->held[i]->held_idx = i;
    }
    o->worker = NULL;
}
