/*
 * bk_linkbody — event rows after a link message's JSON body (link format 2,
 * docs/FEDERATION.md "Message bodies").
 *
 * A Forward's or an Event's body carries the order's event rows. In format 1
 * each row is {"seq":S,"n":N,"at":T,"entries":[...]}, so the receiver parses
 * every entry into a tree only to print it again for PostgreSQL. In format 2
 * a row is {"seq":S,"n":N,"at":T,"len":L} and its entries, a JSON array of L
 * bytes, follow the body's closing brace, the rows' arrays one after the
 * other in the rows' order. The receiver parses the small head and hands each
 * array to PostgreSQL as it is, after a syntax check that builds nothing
 * (yajl, bk_lb_check). A broker says in its Hello that it reads format 2;
 * messages to a peer that did not get format 1 (bk_lb_legacy).
 */
#ifndef BK_LINKBODY_H
#define BK_LINKBODY_H

#include "pls_util.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* The link format this broker writes and reads (Hello.link_format). */
#define BK_LINK_FORMAT 2

/* Deepest nesting an entries array may have (PostgreSQL refuses deep JSON
 * with an error that would fail the whole batch). */
#define BK_LB_DEPTH_MAX 32

/* Append the head of a format-2 row for entries of len bytes. */
void bk_lb_row_head(pls_buf_t *b, uint64_t seq, uint64_t n, int64_t at_ms, size_t len);

/* Parse a body: its JSON object (read by yajl, held as jansson values: what
 * json_loadb would give, at a third of its instructions), and in *tail
 * (*tail_len bytes) what follows it (the rows' entries of format 2; empty for
 * format 1). NULL with err->text set when the body does not start with a JSON
 * object, the object nests deeper than 64, or an escape is \u0000 or half a
 * surrogate pair (jansson refuses those; yajl would decode them). */
json_t *bk_lb_parse(const char *body, size_t len, const char **tail, size_t *tail_len,
                    json_error_t *err);

/* Check the tail of a parsed body: the "len" members of its rows account for
 * exactly tail_len bytes, each row has either "len" or "entries", and each
 * slice is a JSON array, well-formed UTF-8, nested at most BK_LB_DEPTH_MAX
 * deep, without \u0000 or a lone surrogate escape (PostgreSQL stores those in
 * a json column but cannot read them back as text). Returns 0, or -1 with the
 * reason in why. */
int bk_lb_check(json_t *body, const char *tail, size_t tail_len, char *why, size_t whysz);

/* The entries of row r as JSON text, from its "len" (the next slice of the
 * tail at *off, which advances) or its "entries" (printed: *alloc set to free
 * it). NULL if the row has neither. */
const char *bk_lb_entries(json_t *r, const char *tail, size_t *off, size_t *len, char **alloc);

/* Whether a body may have rows after it: it ends in ']' (a JSON object, a
 * body of format 1 or without rows, ends in '}'). */
int bk_lb_has_tail(const char *body);

/* A body in format 1: malloc'd; a copy when it has no tail; NULL when it is
 * malformed (bk_lb_check fails). */
char *bk_lb_legacy(const char *body);

#endif
