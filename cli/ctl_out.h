/*
 * ctl_out — what plsctl prints.
 *
 * With --json, stdout holds one JSON document and nothing else: the broker's
 * document for show, status and list (re-indented, content unchanged), or a
 * small one of our own for submit and actions. Without it, text for a person
 * at a command center: aligned tables (Chinese text counts two columns), times
 * in Asia/Shanghai, and the fields the broker sent — missing ones are skipped,
 * unknown ones are shown as they are. Personal data is printed only as the
 * broker gave it (masked).
 */
#ifndef CTL_OUT_H
#define CTL_OUT_H

#include "pls_proto.h"

#include <jansson.h>
#include <stdio.h>

/* What a reply is printed as. */
typedef enum ctl_out_kind {
    CTL_OUT_SUBMIT,
    CTL_OUT_SHOW,
    CTL_OUT_STATUS,
    CTL_OUT_LIST,
    CTL_OUT_ACTION,
} ctl_out_kind_t;

/* The order states of DESIGN §4, in the order an operator reads them. */
#define CTL_OUT_N_STATES 13
extern const char *const ctl_out_states[CTL_OUT_N_STATES];

/* Print the JSON document of a query reply: indented by 2 with as_json, else
 * as text for kind (SHOW, STATUS or LIST). Returns 0, or -EINVAL when json is
 * not a JSON object (err says why; nothing printed). */
int ctl_out_query(FILE *out, ctl_out_kind_t kind, const char *json, int as_json, char *err,
                  size_t errsz) PLS_WUR;

/* Text renderings of the documents of DESIGN §3. */
void ctl_out_show(FILE *out, const json_t *doc);
void ctl_out_status(FILE *out, const json_t *doc);
void ctl_out_list(FILE *out, const json_t *doc);

/* submit: the order id alone, or {"id","number","duplicate"}; a duplicate is
 * also noted on note_out (stderr) in text mode. */
void ctl_out_submit(FILE *out, FILE *note_out, const Pls__Reply *rep, int as_json);
/* Other actions: "WHAT ORDER: REASON", or {"status","reason"}. */
void ctl_out_action(FILE *out, const char *what, const char *order, const Pls__Reply *rep,
                    int as_json);

/* Print doc indented by 2 and a newline; reals keep their value. */
void ctl_out_json(FILE *out, const json_t *doc);

/* Columns a UTF-8 string takes on a terminal (East Asian wide = 2). */
size_t ctl_out_width(const char *s);
/* A time value of the broker (ISO 8601 text, or epoch ms) as Asia/Shanghai
 * "YYYY-MM-DD HH:MM:SS" (seconds = 0: "YYYY-MM-DD HH:MM"); other text as is,
 * null or missing as "-". Caller frees. */
char *ctl_out_time(const json_t *v, int seconds);

#endif
