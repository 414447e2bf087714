/*
 * plw_args — the pls-worker command line. See plw_args.h.
 */
#include "plw_args.h"
#include "plw_builtin.h"

#include "pls_id.h"
#include "pls_log.h"
#include "pls_proto.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: pls-worker --broker ENDPOINT --node SCOPE --dept DEPT[,DEPT...]\n"
    "                  [--role A|B] [--concurrency N] [--custody auto|staff]\n"
    "                  [--handler-timeout S] [--name NAME] [--heartbeat-ms N]\n"
    "                  [--drain-timeout S] [--log-level LEVEL]\n"
    "                  (--exec 'CMD' | --builtin noop|sign)\n"
    "\n"
    "A department worker of PLS Dispatch: takes work orders of its departments at\n"
    "one node from a pls-broker and hands each to a handler.\n"
    "\n"
    "  --broker ENDPOINT    the broker, e.g. tcp://127.0.0.1:5555 (default $PLS_BROKER)\n"
    "  --node SCOPE         the node served: dg (city), dg.humen (town),\n"
    "                       dg.humen.baisha (village)\n"
    "  --dept LIST          department codes, comma-separated: consult,mediation\n"
    "  --role A|B           AB post: B gets orders only when no A has room (default A)\n"
    "  --concurrency N      assignments held at once (default 1)\n"
    "  --custody auto       the worker signs for each order and the handler finishes\n"
    "                       it (default)\n"
    "  --custody staff      the handler signs for people (an `accept` line); after\n"
    "                       that the department holds the order and people finish it\n"
    "                       with plsctl\n"
    "  --handler-timeout S  kill a handler running longer and report fail\n"
    "                       (default 300, 0 = no limit)\n"
    "  --name NAME          worker name in the broker's records (default host:pid:rand)\n"
    "  --heartbeat-ms N     heartbeat interval (default 2000)\n"
    "  --drain-timeout S    on SIGTERM, wait at most S seconds for held work\n"
    "                       (default 30, 0 = no limit); a second SIGTERM or SIGINT\n"
    "                       exits at once\n"
    "  --log-level LEVEL    error, warn, info (default) or debug\n"
    "  --exec 'CMD'         run CMD with /bin/sh -c for each order:\n"
    "                         stdin   the order as JSON\n"
    "                         env     PLS_ORDER_ID PLS_ORDER_NUMBER PLS_STEP (name)\n"
    "                                 PLS_STEP_INDEX PLS_ATTEMPT PLS_SERVICE PLS_DEPT\n"
    "                                 PLS_SCOPE PLS_LOCALITY PLS_PRIORITY PLS_OUTCOMES\n"
    "                                 PLS_CUSTODY PLS_WORKER\n"
    "                         stdout  'progress <0-100> <note>' lines, 'accept <person>'\n"
    "                                 (staff custody), and as the last line, optionally\n"
    "                                 {\"outcome\":\"<code>\",\"note\":\"...\",\"items\":[...],"
    "\"days\":N}\n"
    "                       outcome: one of the step's outcomes, return, need_info\n"
    "                       (with items), extend (with days and note) or fail. Without\n"
    "                       that line, exit 0 = the step's default outcome, else fail.\n"
    "  --builtin noop       finish every order at once with its default outcome\n"
    "  --builtin sign       sign for every order as the worker name, nothing more\n"
    "                       (implies --custody staff)\n"
    "  -h, --help           this text\n"
    "\n"
    "Exit status: 0 stopped after draining, 1 refused by the broker (the reason is\n"
    "printed) or a runtime error, 2 bad usage.\n";

const char *plw_args_usage(void)
{
    return usage;
}

void plw_args_cleanup(plw_args_t *a)
{
    for (size_t i = 0; i < a->n_depts; i++)
        free(a->depts[i]);
    a->n_depts = 0;
}

static int bad(char *err, size_t errsz, const char *fmt, ...) PLS_PRINTF(3, 4);

static int bad(char *err, size_t errsz, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errsz, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

static int parse_depts(plw_args_t *a, const char *list, char *err, size_t errsz)
{
    const char *p = list;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        char *code = pls_xstrndup(p, n);
        if (!pls_code_valid(code)) {
            snprintf(err, errsz,
                     "--dept: '%.40s' is not a department code (lowercase letters, digits, "
                     "_; like consult)",
                     code);
            free(code);
            return -EINVAL;
        }
        for (size_t i = 0; i < a->n_depts; i++)
            if (strcmp(a->depts[i], code) == 0) {
                snprintf(err, errsz, "--dept: %s given twice", code);
                free(code);
                return -EINVAL;
            }
        if (a->n_depts == PLS_MAX_DEPTS) {
            snprintf(err, errsz, "--dept: more than %d departments", PLS_MAX_DEPTS);
            free(code);
            return -EINVAL;
        }
        a->depts[a->n_depts++] = code;
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

static int parse_uint(const char *opt, const char *v, long min, long max, unsigned *out, char *err,
                      size_t errsz)
{
    long n;
    if (pls_parse_long(v, min, max, &n) != 0) {
        snprintf(err, errsz, "%s: '%.40s' is not a whole number from %ld to %ld", opt, v, min, max);
        return -EINVAL;
    }
    *out = (unsigned)n;
    return 0;
}

/* Apply one option with its value. */
static int apply(plw_args_t *a, const char *opt, const char *v, int *custody_set, char *err,
                 size_t errsz)
{
    if (strcmp(opt, "--broker") == 0) {
        a->broker = v;
    } else if (strcmp(opt, "--node") == 0) {
        if (strlen(v) >= PLS_NODE_MAX || !pls_node_valid(v))
            return bad(err, errsz,
                       "%s: '%.60s' is not a node id (lowercase labels joined by dots, like "
                       "dg.humen)",
                       opt, v);
        a->node = v;
    } else if (strcmp(opt, "--dept") == 0) {
        return parse_depts(a, v, err, errsz);
    } else if (strcmp(opt, "--role") == 0) {
        if (strcmp(v, "A") == 0 || strcmp(v, "a") == 0)
            a->role = PLW_ROLE_A;
        else if (strcmp(v, "B") == 0 || strcmp(v, "b") == 0)
            a->role = PLW_ROLE_B;
        else
            return bad(err, errsz, "%s: '%.40s': want A or B", opt, v);
    } else if (strcmp(opt, "--custody") == 0) {
        if (strcmp(v, "auto") == 0)
            a->custody = PLW_CUSTODY_AUTO;
        else if (strcmp(v, "staff") == 0)
            a->custody = PLW_CUSTODY_STAFF;
        else
            return bad(err, errsz, "%s: '%.40s': want auto or staff", opt, v);
        *custody_set = 1;
    } else if (strcmp(opt, "--concurrency") == 0) {
        return parse_uint(opt, v, 1, 100000, &a->concurrency, err, errsz);
    } else if (strcmp(opt, "--handler-timeout") == 0) {
        return parse_uint(opt, v, 0, 7 * 86400, &a->handler_timeout_s, err, errsz);
    } else if (strcmp(opt, "--heartbeat-ms") == 0) {
        return parse_uint(opt, v, 50, 60000, &a->heartbeat_ms, err, errsz);
    } else if (strcmp(opt, "--drain-timeout") == 0) {
        return parse_uint(opt, v, 0, 86400, &a->drain_timeout_s, err, errsz);
    } else if (strcmp(opt, "--name") == 0) {
        if (!*v || strlen(v) > PLS_MAX_NAME || !pls_utf8_valid_n(v, strlen(v)))
            return bad(err, errsz, "%s: want 1 to 128 bytes of UTF-8", opt);
        a->name = v;
    } else if (strcmp(opt, "--log-level") == 0) {
        if (strcmp(v, "error") && strcmp(v, "warn") && strcmp(v, "info") && strcmp(v, "debug"))
            return bad(err, errsz, "%s: '%.40s': want error, warn, info or debug", opt, v);
        a->log_level = v;
    } else if (strcmp(opt, "--exec") == 0) {
        if (!*v)
            return bad(err, errsz, "%s: empty command", opt);
        a->exec = v;
    } else if (strcmp(opt, "--builtin") == 0) {
        if (!plw_builtin_find(v)) {
            snprintf(err, errsz, "--builtin: unknown handler '%.40s' (have: %s)", v,
                     plw_builtin_names());
            return -EINVAL;
        }
        a->builtin = v;
    } else {
        return bad(err, errsz, "unknown option %.60s (see --help)", opt);
    }
    return 0;
}

static int check_complete(plw_args_t *a, int custody_set, char *err, size_t errsz)
{
    if (!a->broker || !*a->broker)
        snprintf(err, errsz, "--broker ENDPOINT required (or set PLS_BROKER)");
    else if (!a->node)
        snprintf(err, errsz, "--node SCOPE required (the node served, like dg.humen)");
    else if (a->n_depts == 0)
        snprintf(err, errsz, "--dept DEPT[,DEPT...] required");
    else if (!a->exec && !a->builtin)
        snprintf(err, errsz, "a handler is required: --exec 'CMD' or --builtin NAME");
    else if (a->exec && a->builtin)
        snprintf(err, errsz, "--exec and --builtin exclude each other");
    else if (a->builtin && strcmp(a->builtin, "sign") == 0 && custody_set &&
             a->custody == PLW_CUSTODY_AUTO)
        snprintf(err, errsz,
                 "--builtin sign needs --custody staff (in auto custody a signed "
                 "order would come back when its lease expires)");
    else {
        if (a->builtin && strcmp(a->builtin, "sign") == 0)
            a->custody = PLW_CUSTODY_STAFF;
        return 0;
    }
    return -EINVAL;
}

static const char *const with_value[] = {"--broker",       "--node",          "--dept",
                                         "--role",         "--custody",       "--concurrency",
                                         "--name",         "--log-level",     "--handler-timeout",
                                         "--heartbeat-ms", "--drain-timeout", "--exec",
                                         "--builtin"};

static int takes_value(const char *opt)
{
    for (size_t i = 0; i < PLS_ARRAY_LEN(with_value); i++)
        if (strcmp(opt, with_value[i]) == 0)
            return 1;
    return 0;
}

_Static_assert(PLS_ARRAY_LEN(((plw_args_t *)0)->depts) == PLS_MAX_DEPTS, "depts size");

int plw_args_parse(int argc, char **argv, const char *env_broker, plw_args_t *a, char *err,
                   size_t errsz)
{
    memset(a, 0, sizeof(*a));
    a->broker = env_broker;
    a->role = PLW_ROLE_A;
    a->custody = PLW_CUSTODY_AUTO;
    a->concurrency = 1;
    a->handler_timeout_s = PLW_DEFAULT_HANDLER_TIMEOUT_S;
    a->heartbeat_ms = 2000;
    a->drain_timeout_s = PLW_DEFAULT_DRAIN_TIMEOUT_S;
    a->log_level = "info";
    int custody_set = 0;
    char opt[32];
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            a->help = 1;
            return 0;
        }
        const char *eq = strchr(arg, '=');
        size_t n = eq ? (size_t)(eq - arg) : strlen(arg);
        if (strncmp(arg, "--", 2) != 0 || n >= sizeof(opt))
            return bad(err, errsz, "unexpected argument '%.60s' (see --help)", arg);
        memcpy(opt, arg, n);
        opt[n] = '\0';
        if (!takes_value(opt))
            return bad(err, errsz, "unknown option %.60s (see --help)", opt);
        const char *v = eq ? eq + 1 : NULL;
        if (!v) {
            if (i + 1 >= argc)
                return bad(err, errsz, "%s needs a value (see --help)", opt);
            v = argv[++i];
        }
        if (apply(a, opt, v, &custody_set, err, errsz) != 0)
            return -EINVAL;
    }
    return check_complete(a, custody_set, err, errsz);
}
