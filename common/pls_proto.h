/*
 * pls_proto — the codec of proto/pls.proto: pack and unpack Envelopes and
 * validate them after unpacking (DESIGN §8): protobuf-c accepts out-of-range
 * enum values, invalid UTF-8 and embedded NUL bytes, so every string, enum,
 * size cap and identifier format is checked here before any module sees it.
 */
#ifndef PLS_PROTO_H
#define PLS_PROTO_H

#include "pls_util.h"

#include <proto/pls.pb-c.h>
#include <stddef.h>
#include <stdint.h>

#define PLS_PROTO_VERSION 1

/* Caps (DESIGN §8). The transport cap (ZMQ_MAXMSGSIZE) disconnects a peer;
 * these answer 413. */
#define PLS_MAX_FRAME (1024 * 1024)
#define PLS_MAX_ENVELOPE (256 * 1024)
#define PLS_MAX_DESC (16 * 1024)
#define PLS_MAX_NOTE 4096
#define PLS_MAX_KEY 128
#define PLS_MAX_NAME 128 /* person, worker, citizen names, id numbers, phone */
#define PLS_MAX_CODE 32  /* service, department, outcome codes */
#define PLS_MAX_ITEMS 32
#define PLS_MAX_ITEM 512
#define PLS_MAX_ATTACHMENTS 16
#define PLS_MAX_HELD 4096
#define PLS_MAX_DEPTS 32

/* Status codes carried in Reply.status. */
enum {
    PLS_OK = 200,
    PLS_BAD_REQUEST = 400,
    PLS_FORBIDDEN = 403,
    PLS_NOT_FOUND = 404,
    PLS_CONFLICT = 409,
    PLS_TOO_LARGE = 413,
    PLS_UNPROCESSABLE = 422, /* the database refuses it: sending it again does not help */
    PLS_UNAVAILABLE = 503,
};

/* Unpack one frame. Returns NULL on a malformed frame (reason filled). */
Pls__Envelope *pls_proto_unpack(const void *data, size_t len, char *reason, size_t reasonsz);
void pls_proto_free(Pls__Envelope *e);

/* Validate an unpacked envelope. Returns 0 when valid, else the status code
 * (400 or 413) with a reason like "desc: longer than 16384 bytes". */
int pls_proto_validate(const Pls__Envelope *e, char *reason, size_t reasonsz) PLS_WUR;
/* One message of a LinkBatch (pls_proto_validate checks only the batch's
 * node, size and sequence numbers): 0, or a status with the reason. */
int pls_proto_link_msg_check(const Pls__LinkMsg *m, char *reason, size_t reasonsz) PLS_WUR;

/* Pack into a new buffer (caller frees *out). */
void pls_proto_pack(const Pls__Envelope *e, uint8_t **out, size_t *len);

/* Pack a Reply envelope (order, number, json may be NULL). */
void pls_proto_pack_reply(uint64_t corr, uint32_t status, const char *reason, const char *order,
                          const char *number, int duplicate, const char *json, uint8_t **out,
                          size_t *len);

/* Name of the body case for logs: "submit", "ready", ... */
const char *pls_proto_body_name(int body_case);

/* Code format shared by services, departments and outcomes: [a-z][a-z0-9_]{0,31}. */
int pls_code_valid(const char *s);

#endif
