/*
 * bk_order — see bk_order.h.
 */
#include "bk_order.h"

#include "pls_util.h"

#include <stdlib.h>
#include <string.h>

static const char *const state_names[BK_STATE_COUNT] = {
    "received",        "forwarded", "queued",     "assigned",      "in_progress",
    "waiting_citizen", "returned",  "completed",  "rating_review", "closed",
    "failed",          "withdrawn", "terminated",
};

const char *bk_state_name(int state)
{
    return state >= 0 && state < BK_STATE_COUNT ? state_names[state] : "unknown";
}

int bk_state_parse(const char *name)
{
    for (int i = 0; i < BK_STATE_COUNT; i++)
        if (strcmp(state_names[i], name) == 0)
            return i;
    return -1;
}

int bk_state_open(int state)
{
    return state <= BK_RETURNED || state == BK_FAILED;
}

static uint64_t hash_id(const void *e)
{
    return bk_hash_bytes(((const bk_order_t *)e)->id.b, 16);
}
static int eq_id(const void *e, const void *key)
{
    return memcmp(((const bk_order_t *)e)->id.b, key, 16) == 0;
}
uint64_t bk_key_hash(const char *key)
{
    uint64_t h = bk_hash_str(key);
    return h ? h : 1;
}

static uint64_t hash_key(const void *e)
{
    return ((const bk_order_t *)e)->key_hash;
}
static int eq_key(const void *e, const void *key)
{
    return ((const bk_order_t *)e)->key_hash == *(const uint64_t *)key;
}

void bk_orders_init(bk_orders_t *t)
{
    memset(t, 0, sizeof(*t));
    bk_index_init(&t->by_id, hash_id);
    bk_index_init(&t->by_key, hash_key);
}

/* Orders come from slabs of 4096 without a malloc header each (memory per
 * queued order is a target, DESIGN §11). Sanitizer builds use malloc so that
 * use-after-free stays visible. */
#ifndef PLS_SANITIZE
#define SLAB_ORDERS 4096
typedef union slot {
    union slot *next;
    bk_order_t order;
} slot_t;
static slot_t *free_slots;

static bk_order_t *order_alloc(void)
{
    if (!free_slots) {
        slot_t *slab = pls_xmalloc(SLAB_ORDERS * sizeof(*slab));
        for (size_t i = 0; i < SLAB_ORDERS; i++) {
            slab[i].next = free_slots;
            free_slots = &slab[i];
        }
    }
    slot_t *s = free_slots;
    free_slots = s->next;
    memset(&s->order, 0, sizeof(s->order));
    return &s->order;
}

static void order_release(bk_order_t *o)
{
    slot_t *s = (slot_t *)(void *)o;
    s->next = free_slots;
    free_slots = s;
}
#else
static bk_order_t *order_alloc(void)
{
    return pls_xcalloc(1, sizeof(bk_order_t));
}

static void order_release(bk_order_t *o)
{
    free(o);
}
#endif

static void order_free(bk_order_t *o)
{
    free(o->notice);
    order_release(o);
}

void bk_orders_cleanup(bk_orders_t *t)
{
    bk_order_t *o;
    for (size_t i = 0; (o = bk_index_next(&t->by_id, &i));)
        order_free(o);
    bk_index_cleanup(&t->by_id);
    bk_index_cleanup(&t->by_key);
}

void bk_order_free(bk_order_t *o)
{
    order_free(o);
}

bk_order_t *bk_order_new(void)
{
    bk_order_t *o = order_alloc();
    o->heap_idx = BK_NO_HEAP;
    return o;
}

bk_order_t *bk_orders_get(const bk_orders_t *t, const pls_uuid_t *id)
{
    return bk_index_find(&t->by_id, bk_hash_bytes(id->b, 16), eq_id, id->b);
}

bk_order_t *bk_orders_by_key(const bk_orders_t *t, const char *key)
{
    uint64_t h = bk_key_hash(key);
    return bk_index_find(&t->by_key, h, eq_key, &h);
}

bk_order_t *bk_orders_find(const bk_orders_t *t, const char *ref)
{
    pls_uuid_t id;
    if (pls_uuid_parse(ref, &id) == 0)
        return bk_orders_get(t, &id);
    return NULL;
}

void bk_orders_add(bk_orders_t *t, bk_order_t *o)
{
    bk_index_put(&t->by_id, o);
    if (o->key_hash)
        bk_index_put(&t->by_key, o);
    t->count[o->state]++;
}

void bk_orders_remove(bk_orders_t *t, bk_order_t *o)
{
    bk_index_del(&t->by_id, o);
    if (o->key_hash)
        bk_index_del(&t->by_key, o);
    t->count[o->state]--;
    order_free(o);
}

void bk_orders_set_state(bk_orders_t *t, bk_order_t *o, int state)
{
    t->count[o->state]--;
    o->state = (uint8_t)state;
    t->count[state]++;
}

size_t bk_orders_size(const bk_orders_t *t)
{
    return t->by_id.n;
}

static uint64_t hash_recent(const void *e)
{
    return bk_hash_bytes(((const bk_recent_entry_t *)e)->id.b, 16);
}
static int eq_recent(const void *e, const void *key)
{
    return memcmp(((const bk_recent_entry_t *)e)->id.b, key, 16) == 0;
}

void bk_recent_init(bk_recent_t *r)
{
    r->ring = pls_xcalloc(BK_RECENT_CAP, sizeof(*r->ring));
    r->next = 0;
    bk_index_init(&r->by_id, hash_recent);
}

void bk_recent_cleanup(bk_recent_t *r)
{
    free(r->ring);
    r->ring = NULL;
    bk_index_cleanup(&r->by_id);
}

void bk_recent_add(bk_recent_t *r, const bk_order_t *o)
{
    bk_recent_entry_t *e = &r->ring[r->next];
    r->next = (r->next + 1) % BK_RECENT_CAP;
    if (e->used)
        bk_index_del(&r->by_id, e);
    const bk_recent_entry_t *old = bk_recent_get(r, &o->id);
    if (old)
        bk_index_del(&r->by_id, (void *)(uintptr_t)old);
    e->id = o->id;
    e->token = o->token;
    e->attempt = o->attempt;
    e->state = o->state;
    e->next_seq = o->next_seq;
    e->used = 1;
    bk_index_put(&r->by_id, e);
}

const bk_recent_entry_t *bk_recent_get(const bk_recent_t *r, const pls_uuid_t *id)
{
    return bk_index_find(&r->by_id, bk_hash_bytes(id->b, 16), eq_recent, id->b);
}
