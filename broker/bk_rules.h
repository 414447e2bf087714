/*
 * bk_rules — the plan's service rules on top of the order life cycle
 * (DESIGN §9): 限时办结 (limits and their alarms: 催办, 督办, 通报), 延期
 * (extensions), 一次告知 (the held second notice, the 15-day withdrawal),
 * 回访 and rating at the first desk, verification of low ratings (重办), the
 * unrated auto-close, and supervision records at the parent command center.
 *
 * Only an order's owner decides: every alarm is an event numbered by the
 * owner. Limits run on the rule clock (pls_time.h), which tests shift with
 * `plsctl clock` on a broker started with --test-clock.
 */
#ifndef BK_RULES_H
#define BK_RULES_H

#include "bk_core.h"

/* The order entered a department's queue here: the 签收 limit starts. */
void bk_rules_queued(bk_core_t *c, bk_order_t *o);
/* Signed for: the step's limit starts. */
void bk_rules_accepted(bk_core_t *c, bk_order_t *o);
/* The clock pauses (waiting for the citizen) and resumes (supplement). */
void bk_rules_paused(bk_core_t *c, bk_order_t *o);
void bk_rules_resumed(bk_core_t *c, bk_order_t *o);
/* A new order: the whole-order limit, if its service has one. */
void bk_rules_received(bk_core_t *c, bk_order_t *o);
/* `failed` raises 督办 too. */
void bk_rules_failed(bk_core_t *c, bk_order_t *o);
/* (Re)compute the order's next alarm and put it in the alarm heap. */
void bk_rules_schedule(bk_core_t *c, bk_order_t *o);

/* Alarms that came due, and the periodic unrated sweep. */
void bk_rules_tick(bk_core_t *c);

/* Verbs of this module on an order in memory: extension request / approve /
 * refuse, need-info approve / refuse. Returns 0 or a status with reason. */
int bk_rules_act(bk_core_t *c, bk_order_t *o, const Pls__ActionRequest *a, const char *actor,
                 char *reason, size_t reasonsz);
/* A handler or person asks for more time (the `extend` outcome). */
int bk_rules_extension_request(bk_core_t *c, bk_order_t *o, unsigned days, const char *why,
                               const char *actor, char *reason, size_t reasonsz);
/* A second need-info is held until an operator decides (0, or a status). */
int bk_rules_hold_notice(bk_core_t *c, bk_order_t *o, char **items, size_t n, const char *note,
                         const char *actor, char *reason, size_t reasonsz);

/* Rate / review an order that is no longer in memory (completed here, at its
 * first desk). Answers the client itself. */
void bk_rules_offline(bk_core_t *c, const void *ident, size_t ident_len, uint64_t corr,
                      const Pls__ActionRequest *a, const char *actor);

/* A supervision record sent by a child (or raised here): into the batch. */
void bk_rules_record_supervision(bk_core_t *c, const char *order, const char *number,
                                 const char *node, const char *dept, const char *scope,
                                 const char *kind, const char *reason);

#endif
