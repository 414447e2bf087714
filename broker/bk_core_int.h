/*
 * bk_core_int — functions of bk_core shared with the federation module
 * (bk_fed.c). Not for other modules: they change orders only through the
 * entry points of bk_core.h.
 */
#ifndef BK_CORE_INT_H
#define BK_CORE_INT_H

#include "bk_core.h"

const char *bk__dept_name(const bk_core_t *c, int dept);

/* Append one entry to o's event row in the batch being built (o->state is
 * already the new state). */
void bk__event(bk_core_t *c, bk_order_t *o, const char *kind, int from, const char *actor,
               const char *payload);
/* Payload builder over c->scratch: begin, members, end (returns the text). */
pls_buf_t *bk__payload_begin(bk_core_t *c);
void bk__p_str(pls_buf_t *b, const char *k, const char *v);
void bk__p_int(pls_buf_t *b, const char *k, int64_t v);
void bk__p_raw(pls_buf_t *b, const char *k, const char *json);
void bk__p_items(pls_buf_t *b, const char *k, char **items, size_t n);
const char *bk__payload_end(pls_buf_t *b);

void bk__set_state(bk_core_t *c, bk_order_t *o, int st);
void bk__release(bk_core_t *c, bk_order_t *o);
void bk__unqueue(bk_core_t *c, bk_order_t *o);
void bk__push_revoke(bk_core_t *c, bk_order_t *o, const char *reason);
void bk__leave(bk_core_t *c, bk_order_t *o);
/* Queue o for step `step` of department dept; scope NULL = where the catalog
 * says. A scope of another command center hands the order over. */
void bk__route(bk_core_t *c, bk_order_t *o, int step, int dept, const char *scope,
               const char *actor, const char *kind, const char *note);
int bk__next_live_step(const bk_core_t *c, const bk_order_t *o, int step);
int bk__apply_outcome(bk_core_t *c, bk_order_t *o, const char *code, const char *note,
                      const char *actor, char *reason, size_t reasonsz);
/* An operator's action on an order this node owns: 0, or a status with the
 * reason. For withdraw/terminate the order has left memory on return. */
int bk__act(bk_core_t *c, bk_order_t *o, const Pls__ActionRequest *a, const char *actor,
            char *reason, size_t reasonsz);

void bk__reply_later(bk_core_t *c, const void *ident, size_t ident_len, uint64_t corr,
                     uint32_t status, const char *reason, const bk_order_t *o, int dup, int kind,
                     int new_idx);
void bk__reply_ok(bk_core_t *c, const void *ident, size_t ident_len, uint64_t corr,
                  const char *reason, const bk_order_t *o);

void bk__heap_push(bk_heap_t *h, int64_t when, const pls_uuid_t *id);
void bk__heap_pop(bk_heap_t *h);

/* The order leaves this node: its row becomes a copy owned by `owner`. */
void bk__hand_over_row(bk_core_t *c, bk_order_t *o, const char *owner);

#endif
