/*
 * pls_client — a blocking request/reply client for plsctl, tests and tools.
 *
 * One DEALER socket to one broker. Each call sends one Envelope with a fresh
 * correlation id and waits for the Reply with that id (replies to earlier,
 * abandoned calls are discarded). A call may be retried by the caller with
 * the same content: submits carry an idempotency key, so a retry after a
 * timeout returns the original order instead of a second one.
 */
#ifndef PLS_CLIENT_H
#define PLS_CLIENT_H

#include "pls_proto.h"

typedef struct pls_client pls_client_t;

/* Connects lazily (ZeroMQ); returns NULL only for a malformed endpoint. */
pls_client_t *pls_client_new(const char *endpoint, char *err, size_t errsz);
void pls_client_destroy(pls_client_t **self_p);

/* Send env (its corr and version are filled in) and wait up to timeout_ms for
 * the Reply. Returns 0 and sets *reply (free with pls_proto_free), or
 * -ETIMEDOUT, or another -errno. */
int pls_client_call(pls_client_t *c, Pls__Envelope *env, int timeout_ms,
                    Pls__Envelope **reply) PLS_WUR;

/* Like pls_client_call, but resends the same message on a timeout or a 503
 * until total_ms has passed (for idempotent requests: submits with a key,
 * queries). A late reply to an earlier copy is accepted: it is the original
 * answer (a later copy of a submit would be answered as a duplicate). */
int pls_client_call_retry(pls_client_t *c, Pls__Envelope *env, int total_ms,
                          Pls__Envelope **reply) PLS_WUR;

#endif
