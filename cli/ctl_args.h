/*
 * ctl_args — a small command-line option parser for plsctl.
 *
 * Options are long only (`--name`), described by a table the caller owns:
 *
 *     --name VALUE  --name=VALUE    CTL_OPT_VALUE, at most once
 *     --name                        CTL_OPT_FLAG, no value
 *     --name V1 --name V2 ...       CTL_OPT_LIST, repeated, order kept
 *
 * Everything else is a positional argument; `--` ends the options; `-h` is
 * `--help`. A value that starts with `--` must be given as `--name=--value`
 * (so a forgotten value reads as a mistake, not as the next option). Values
 * and positionals are borrowed from argv.
 *
 * A parser may have a fallback parser: an option missing from its own table is
 * looked up in the fallback's and stored there. plsctl uses this to accept the
 * global options (`--json`, `--broker` ...) after the command name too.
 */
#ifndef CTL_ARGS_H
#define CTL_ARGS_H

#include "pls_util.h"

#include <stddef.h>

typedef enum ctl_opt_kind {
    CTL_OPT_VALUE, /* takes one value; giving it twice is an error */
    CTL_OPT_FLAG,  /* boolean; takes no value */
    CTL_OPT_LIST,  /* takes one value each time; may be repeated */
} ctl_opt_kind_t;

/* One option. Tables end with an entry whose name is NULL. */
typedef struct ctl_opt {
    const char *name;    /* without the dashes: "service" */
    ctl_opt_kind_t kind; /* how it takes values */
    int required;        /* the parse fails when it is missing */
    const char *metavar; /* placeholder in help ("CODE"); NULL for flags */
    const char *help;    /* one line for --help */
} ctl_opt_t;

/* Parse result. Embed it, _init, _parse, read, _cleanup. */
typedef struct ctl_args {
    const ctl_opt_t *opts;     /* borrowed table */
    size_t n_opts;             /* entries in opts before the NULL one */
    struct ctl_args *fallback; /* borrowed; may be NULL */
    const char ***values;      /* owned: per option, a NULL-terminated owned array of
                                  borrowed values, or NULL when not given */
    size_t *counts;            /* owned: per option, times given */
    const char **pos;          /* owned array of borrowed positional arguments */
    size_t n_pos;              /* entries in pos */
    char err[256];             /* the reason of the last failed parse */
} ctl_args_t;

/* Flags of ctl_args_parse. */
#define CTL_ARGS_STOP_AT_POSITIONAL 1 /* stop at the first positional argument */

void ctl_args_init(ctl_args_t *a, const ctl_opt_t *opts);
void ctl_args_cleanup(ctl_args_t *a);

/* Parse argv[0..argc). Returns 0, or -EINVAL with a->err set to a message
 * naming the option ("unknown option --servce (did you mean --service?)").
 * With CTL_ARGS_STOP_AT_POSITIONAL, *next (if not NULL) is the index of the
 * first argument not parsed (argc when all were). Required options are checked
 * only when the parse did not stop early. */
int ctl_args_parse(ctl_args_t *a, int argc, char **argv, int flags, int *next) PLS_WUR;

/* The value of a VALUE option (the first of a LIST), or NULL when not given.
 * The name must be in the table (asserted). */
const char *ctl_args_get(const ctl_args_t *a, const char *name);
/* Times the option was given (1 for a flag that is set). */
size_t ctl_args_count(const ctl_args_t *a, const char *name);
/* The NULL-terminated values of a LIST option (an empty list when not given). */
const char *const *ctl_args_list(const ctl_args_t *a, const char *name);

/* 1 when argv (up to a `--`) holds --help or -h. */
int ctl_args_wants_help(int argc, char **argv);

/* The candidate closest to word by edit distance, if close enough to be a
 * likely typo; NULL otherwise. */
const char *ctl_args_closest(const char *word, const char *const *candidates, size_t n);

#endif
