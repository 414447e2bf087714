/*
 * bk_index — an open-addressing hash index of pointers (linear probing with
 * backward-shift deletion, so no tombstones). The entries are the caller's;
 * the index stores pointers and asks the caller for hashes and equality.
 * Used for orders by id, key and number, workers by routing id, queues by
 * (department, scope) and interned node names.
 */
#ifndef BK_INDEX_H
#define BK_INDEX_H

#include <stddef.h>
#include <stdint.h>

typedef uint64_t (*bk_index_hash_fn)(const void *entry);
typedef int (*bk_index_eq_fn)(const void *entry, const void *key);

typedef struct bk_index {
    void **slots; /* owned array of borrowed entries; NULL = empty */
    size_t cap;   /* power of two */
    size_t n;
    bk_index_hash_fn hash_entry;
} bk_index_t;

void bk_index_init(bk_index_t *x, bk_index_hash_fn hash_entry);
void bk_index_cleanup(bk_index_t *x);
void *bk_index_find(const bk_index_t *x, uint64_t hash, bk_index_eq_fn eq, const void *key);
/* Make room for n entries at once (a restart knows how many come). */
void bk_index_reserve(bk_index_t *x, size_t n);
/* Insert an entry that is not present yet. */
void bk_index_put(bk_index_t *x, void *entry);
/* Remove this entry (by pointer); no-op when absent. */
void bk_index_del(bk_index_t *x, void *entry);
/* Iterate: for (size_t i = 0; (e = bk_index_next(x, &i));) */
void *bk_index_next(const bk_index_t *x, size_t *pos);

uint64_t bk_hash_str(const char *s);
uint64_t bk_hash_bytes(const void *p, size_t n);

#endif
