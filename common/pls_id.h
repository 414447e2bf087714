/*
 * pls_id — identifiers of DESIGN §2: node ids, order ids (UUIDv7), lease
 * tokens and order numbers.
 *
 * Node ids are dotted paths, the parent being the prefix:
 *     dg               the city
 *     dg.humen         a town
 *     dg.humen.baisha  a village (no broker of its own; its town holds it)
 */
#ifndef PLS_ID_H
#define PLS_ID_H

#include "pls_util.h"

#include <stddef.h>
#include <stdint.h>

#define PLS_NODE_MAX 131 /* 4 labels of 32 + 3 dots */
#define PLS_UUID_STR 37  /* 36 characters + NUL */

typedef struct pls_uuid {
    uint8_t b[16];
} pls_uuid_t;

/* Fill buf with n random bytes from getrandom(2). */
void pls_random(void *buf, size_t n);
uint64_t pls_random_u64(void);
/* Fast non-cryptographic 64-bit values (seeded from getrandom once). */
uint64_t pls_fast_u64(void);

/* A UUIDv7 for the given epoch milliseconds. */
void pls_uuid7(pls_uuid_t *out, int64_t wall_ms);
void pls_uuid_format(const pls_uuid_t *u, char out[PLS_UUID_STR]);
/* Accepts the canonical 8-4-4-4-12 lowercase or uppercase hex form. */
int pls_uuid_parse(const char *s, pls_uuid_t *out) PLS_WUR;

/* 1 when s is a well-formed node id (DESIGN §2). */
int pls_node_valid(const char *s);
/* Depth: dg = 1, dg.humen = 2, dg.humen.baisha = 3. */
int pls_node_depth(const char *s);
/* 1 when a is b or a descendant of b. */
int pls_node_within(const char *a, const char *b);
/* The ancestor of node at depth (1 = city); copies at most outsz bytes.
 * A node shallower than depth is copied as is. */
void pls_node_prefix(const char *node, int depth, char *out, size_t outsz);

/* Short upper-case code of a node for order numbers: dg -> DG,
 * dg.humen -> DG-HM (first letter and first consonant after the first vowel
 * run of each label below the city). */
void pls_node_code(const char *node, char *out, size_t outsz);

/* Order number "DG-HM-20261126-0042". */
void pls_order_number(char *out, size_t outsz, const char *node_code, int yyyymmdd, uint32_t seq);

#endif
