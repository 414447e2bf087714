/*
 * ctl_args — see ctl_args.h.
 *
 * The parser is one pass over argv. Each option occurrence is appended to its
 * option's value array; the arrays are tiny (a command has a dozen options and
 * users give each once or a few times), so lookups are linear.
 */
#include "ctl_args.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ctl_args_init(ctl_args_t *a, const ctl_opt_t *opts)
{
    memset(a, 0, sizeof(*a));
    a->opts = opts;
    while (opts[a->n_opts].name)
        a->n_opts++;
    a->values = pls_xcalloc(a->n_opts + 1, sizeof(*a->values));
    a->counts = pls_xcalloc(a->n_opts + 1, sizeof(*a->counts));
}

void ctl_args_cleanup(ctl_args_t *a)
{
    if (a->values)
        for (size_t i = 0; i < a->n_opts; i++)
            free(a->values[i]);
    free(a->values);
    free(a->counts);
    free(a->pos);
    memset(a, 0, sizeof(*a));
}

static long find(const ctl_args_t *a, const char *name, size_t len)
{
    for (size_t i = 0; i < a->n_opts; i++)
        if (strlen(a->opts[i].name) == len && memcmp(a->opts[i].name, name, len) == 0)
            return (long)i;
    return -1;
}

static void add_value(ctl_args_t *a, size_t i, const char *v)
{
    size_t n = a->counts[i]++;
    a->values[i] = pls_xrealloc(a->values[i], (n + 2) * sizeof(*a->values[i]));
    a->values[i][n] = v;
    a->values[i][n + 1] = NULL;
}

static void add_pos(ctl_args_t *a, const char *v)
{
    a->pos = pls_xrealloc(a->pos, (a->n_pos + 1) * sizeof(*a->pos));
    a->pos[a->n_pos++] = v;
}

static int failf(ctl_args_t *a, const char *fmt, ...) PLS_PRINTF(2, 3);

static int failf(ctl_args_t *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->err, sizeof(a->err), fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* "unknown option --x", with a suggestion from this parser's and the
 * fallback's tables. */
static int unknown(ctl_args_t *a, const char *arg, size_t len)
{
    const char *names[128];
    size_t n = 0;
    for (const ctl_args_t *t = a; t; t = t->fallback)
        for (size_t i = 0; i < t->n_opts && n < PLS_ARRAY_LEN(names); i++)
            names[n++] = t->opts[i].name;
    char word[64];
    snprintf(word, sizeof(word), "%.*s", (int)(len < 63 ? len : 63), arg);
    const char *best = ctl_args_closest(word, names, n);
    if (best)
        return failf(a, "unknown option --%s (did you mean --%s?)", word, best);
    return failf(a, "unknown option --%s", word);
}

/* One `--name[=value]` at argv[*i]; advances *i past a separate value. */
static int parse_option(ctl_args_t *a, int argc, char **argv, int *i)
{
    const char *arg = argv[*i] + 2;
    const char *eq = strchr(arg, '=');
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    ctl_args_t *t = a;
    long k = -1;
    for (; t; t = t->fallback)
        if ((k = find(t, arg, len)) >= 0)
            break;
    if (!t)
        return unknown(a, arg, len);
    const ctl_opt_t *o = &t->opts[k];
    if (o->kind == CTL_OPT_FLAG) {
        if (eq)
            return failf(a, "--%s takes no value", o->name);
        if (t->counts[k] == 0)
            add_value(t, (size_t)k, "");
        return 0;
    }
    const char *v;
    if (eq) {
        v = eq + 1;
    } else {
        if (*i + 1 >= argc)
            return failf(a, "--%s needs a value (%s)", o->name, o->metavar ? o->metavar : "VALUE");
        v = argv[*i + 1];
        if (strncmp(v, "--", 2) == 0 && v[2] != '\0')
            return failf(a, "--%s needs a value, not %s (write --%s=%s if you mean it)", o->name, v,
                         o->name, v);
        (*i)++;
    }
    if (o->kind == CTL_OPT_VALUE && t->counts[k] > 0)
        return failf(a, "--%s given more than once", o->name);
    add_value(t, (size_t)k, v);
    return 0;
}

int ctl_args_parse(ctl_args_t *a, int argc, char **argv, int flags, int *next)
{
    int i = 0;
    int only_pos = 0;
    a->err[0] = '\0';
    for (; i < argc; i++) {
        const char *arg = argv[i];
        if (only_pos || arg[0] != '-' || arg[1] == '\0') {
            if (flags & CTL_ARGS_STOP_AT_POSITIONAL)
                break;
            add_pos(a, arg);
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (strcmp(arg, "-h") == 0) {
            char help[] = "--help";
            char *one[] = {help};
            int j = 0;
            int rc = parse_option(a, 1, one, &j);
            if (rc)
                return rc;
            continue;
        }
        if (arg[1] != '-')
            return failf(a, "unknown option %s (options are long: --name)", arg);
        int rc = parse_option(a, argc, argv, &i);
        if (rc)
            return rc;
    }
    if (next)
        *next = i;
    if (i < argc)
        return 0;
    for (size_t k = 0; k < a->n_opts; k++)
        if (a->opts[k].required && a->counts[k] == 0)
            return failf(a, "missing --%s %s (%s)", a->opts[k].name,
                         a->opts[k].metavar ? a->opts[k].metavar : "", a->opts[k].help);
    return 0;
}

static size_t index_of(const ctl_args_t *a, const char *name)
{
    long i = find(a, name, strlen(name));
    assert(i >= 0 && "option not in the table");
    return (size_t)i;
}

const char *ctl_args_get(const ctl_args_t *a, const char *name)
{
    size_t i = index_of(a, name);
    return a->counts[i] ? a->values[i][0] : NULL;
}

size_t ctl_args_count(const ctl_args_t *a, const char *name)
{
    return a->counts[index_of(a, name)];
}

const char *const *ctl_args_list(const ctl_args_t *a, const char *name)
{
    static const char *const empty[] = {NULL};
    size_t i = index_of(a, name);
    return a->counts[i] ? a->values[i] : empty;
}

int ctl_args_wants_help(int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return 0;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
    }
    return 0;
}

/* Optimal string alignment distance (a transposition counts as one edit). */
static size_t distance(const char *s, const char *t)
{
    size_t n = strlen(s), m = strlen(t);
    if (n > 63 || m > 63)
        return (size_t)-1;
    size_t d[64][64];
    for (size_t i = 0; i <= n; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= m; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= n; i++) {
        for (size_t j = 1; j <= m; j++) {
            size_t cost = s[i - 1] != t[j - 1];
            size_t best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < best)
                best = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && s[i - 1] == t[j - 2] && s[i - 2] == t[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[n][m];
}

const char *ctl_args_closest(const char *word, const char *const *candidates, size_t n)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    for (size_t i = 0; i < n; i++) {
        size_t d = distance(word, candidates[i]);
        if (d < best_d) {
            best_d = d;
            best = candidates[i];
        }
    }
    /* a typo: at most 2 edits, and fewer than a third of the word */
    size_t len = strlen(word);
    if (best && best_d > 0 && best_d <= 2 && best_d * 3 <= len + 1)
        return best;
    return NULL;
}
