/*
 * plw_output — what a handler says, as data: splitting an --exec handler's
 * stdout into lines, classifying each line, parsing the outcome JSON of the
 * last line, checking an outcome against the step, and deciding what a
 * finished handler run amounts to (DESIGN §3, "--exec protocol").
 *
 * Nothing here touches a socket, a process or the loop, so every rule of the
 * exec protocol is unit-tested directly (tests/unit/test_plw_output.c).
 *
 * Stdout is read as a stream of lines. Each line is capped at PLW_LINE_MAX
 * bytes: the rest of a longer line is dropped (the line is marked truncated)
 * and the stream goes on, so a chatty handler costs bounded memory and its
 * last line — the outcome — is still seen. Progress reports are coalesced by
 * the worker, so many progress lines cost bounded traffic too.
 *
 * Lines:
 *   progress <0-100> [note]      a progress report
 *   accept <person>              签收 by a person (staff custody)
 *   {"outcome":"<code>","note":"...","items":["..."],"days":N}
 *                                the result, only when it is the last
 *                                non-blank line
 *   anything else                ignored (free text)
 */
#ifndef PLW_OUTPUT_H
#define PLW_OUTPUT_H

#include "pls_util.h"

#include <stddef.h>
#include <stdint.h>

#define PLW_LINE_MAX (64 * 1024)

/* ---- line splitter ---------------------------------------------------- */

/* One complete line, without its "\n" (and "\r"); valid during the call. */
typedef void (*plw_line_cb)(const char *line, size_t len, int truncated, void *arg);

typedef struct plw_lines {
    pls_buf_t cur;      /* the line being assembled (owned) */
    size_t max;         /* per-line cap in bytes */
    int dropping;       /* cur reached max: the rest of this line is dropped */
    uint64_t truncated; /* lines truncated so far */
} plw_lines_t;

void plw_lines_init(plw_lines_t *l, size_t max);
void plw_lines_cleanup(plw_lines_t *l);
/* Feed bytes; cb runs once per complete line. */
void plw_lines_feed(plw_lines_t *l, const char *p, size_t n, plw_line_cb cb, void *arg);
/* End of stream: a last line without a newline is delivered too. */
void plw_lines_end(plw_lines_t *l, plw_line_cb cb, void *arg);

/* ---- line classification ---------------------------------------------- */

typedef enum plw_line_kind {
    PLW_LINE_BLANK = 0, /* empty or whitespace only */
    PLW_LINE_TEXT,      /* free text */
    PLW_LINE_PROGRESS,  /* pct, text = note (may be "") */
    PLW_LINE_ACCEPT,    /* text = person */
    PLW_LINE_RESULT,    /* starts with '{': an outcome if it is the last line */
    PLW_LINE_BAD,       /* a progress/accept line that breaks its rule; why says how */
} plw_line_kind_t;

typedef struct plw_line {
    plw_line_kind_t kind;
    unsigned pct;     /* PROGRESS: 0..100 */
    const char *text; /* PROGRESS note / ACCEPT person: points into the line */
    char why[96];     /* BAD: what is wrong, for the log */
} plw_line_t;

/* Classify a NUL-terminated line. */
void plw_line_classify(const char *line, plw_line_t *out);

/* ---- results ---------------------------------------------------------- */

/* What a handler reports at its end. outcome NULL = no outcome. */
typedef struct plw_result {
    char *outcome; /* owned: a step outcome, return, need_info, extend, fail */
    char *note;    /* owned, may be NULL */
    char **items;  /* owned, n_items strings */
    size_t n_items;
    unsigned days;
} plw_result_t;

void plw_result_init(plw_result_t *r);
void plw_result_cleanup(plw_result_t *r);
/* Set r to "fail" with a note (printf-style). */
void plw_result_fail(plw_result_t *r, const char *fmt, ...) PLS_PRINTF(2, 3);

/* Parse an outcome line (jansson). Returns 0, or -EINVAL with err set to a
 * short reason ("not JSON: ...", "outcome: required", "items: more than 32"). */
int plw_result_parse(const char *json, plw_result_t *out, char *err, size_t errsz) PLS_WUR;

/* Check an outcome against the step: outcome is one of outcomes[] or return,
 * need_info (with items), extend (with days and a note) or fail; items and
 * days are within the protocol caps. Returns 0 or -EINVAL with err set. */
int plw_outcome_check(const char *outcome, const char *note, const char *const *items,
                      size_t n_items, unsigned days, const char *const *outcomes, size_t n_outcomes,
                      char *err, size_t errsz) PLS_WUR;

/* What a finished --exec run amounts to:
 *   - a last line that is a result (last_result != NULL) wins; a malformed
 *     one (or one cut at PLW_LINE_MAX: last_truncated) is "fail";
 *   - else killed by a signal: "fail";
 *   - else exit status non-zero: "fail";
 *   - else, when the handler signed (staff custody, accepted): no outcome —
 *     the department's people carry on through plsctl;
 *   - else the step's default outcome (NULL default: "fail").
 * out is initialised here. */
void plw_output_decide(const char *last_result, int last_truncated, int64_t exit_status,
                       int term_signal, int accepted, const char *default_outcome,
                       plw_result_t *out);

/* ---- text ------------------------------------------------------------- */

/* Make s fit a protocol text field in place: invalid UTF-8 bytes and control
 * characters (but tab) become '?', and s is cut at a character boundary to at
 * most max bytes. */
void plw_text_clean(char *s, size_t max);

#endif
