/*
 * bk_index — see bk_index.h. Load factor stays at or below 3/4 (linear
 * probing with backward-shift deletion stays short at that load).
 */
#include "bk_index.h"

#include "pls_util.h"

#include <stdlib.h>
#include <string.h>

uint64_t bk_hash_bytes(const void *p, size_t n)
{
    uint64_t h = pls_hash64(PLS_HASH64_INIT, p, n);
    /* finalizer: FNV's low bits are weak for short keys */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

uint64_t bk_hash_str(const char *s)
{
    return bk_hash_bytes(s, strlen(s));
}

void bk_index_init(bk_index_t *x, bk_index_hash_fn hash_entry)
{
    x->cap = 16;
    x->n = 0;
    x->slots = pls_xcalloc(x->cap, sizeof(void *));
    x->hash_entry = hash_entry;
}

void bk_index_cleanup(bk_index_t *x)
{
    free(x->slots);
    x->slots = NULL;
    x->cap = x->n = 0;
}

void *bk_index_find(const bk_index_t *x, uint64_t hash, bk_index_eq_fn eq, const void *key)
{
    size_t mask = x->cap - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        void *e = x->slots[i];
        if (!e)
            return NULL;
        if (eq(e, key))
            return e;
    }
}

static void raw_put(void **slots, size_t cap, void *entry, uint64_t hash)
{
    size_t mask = cap - 1;
    size_t i = hash & mask;
    while (slots[i])
        i = (i + 1) & mask;
    slots[i] = entry;
}

static void rehash(bk_index_t *x, size_t ncap)
{
    void **ns = pls_xcalloc(ncap, sizeof(void *));
    for (size_t i = 0; i < x->cap; i++)
        if (x->slots[i])
            raw_put(ns, ncap, x->slots[i], x->hash_entry(x->slots[i]));
    free(x->slots);
    x->slots = ns;
    x->cap = ncap;
}

void bk_index_reserve(bk_index_t *x, size_t n)
{
    size_t cap = x->cap;
    while (n * 4 > cap * 3)
        cap *= 2;
    if (cap != x->cap)
        rehash(x, cap);
}

void bk_index_put(bk_index_t *x, void *entry)
{
    if ((x->n + 1) * 4 > x->cap * 3)
        rehash(x, x->cap * 2);
    raw_put(x->slots, x->cap, entry, x->hash_entry(entry));
    x->n++;
}

void bk_index_del(bk_index_t *x, void *entry)
{
    size_t mask = x->cap - 1;
    size_t i = x->hash_entry(entry) & mask;
    while (x->slots[i] && x->slots[i] != entry)
        i = (i + 1) & mask;
    if (!x->slots[i])
        return;
    x->slots[i] = NULL;
    x->n--;
    /* backward shift: move later members of the cluster into the hole when
     * their home slot is not between the hole and their position */
    size_t hole = i;
    for (size_t j = (i + 1) & mask; x->slots[j]; j = (j + 1) & mask) {
        size_t home = x->hash_entry(x->slots[j]) & mask;
        int move = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
        if (move) {
            x->slots[hole] = x->slots[j];
            x->slots[j] = NULL;
            hole = j;
        }
    }
}

void *bk_index_next(const bk_index_t *x, size_t *pos)
{
    while (*pos < x->cap) {
        void *e = x->slots[(*pos)++];
        if (e)
            return e;
    }
    return NULL;
}
