/*
 * pls-broker — a command center's work-order broker. Parses arguments and
 * calls bk_broker_run.
 */
#include "bk_broker.h"

#include "pls_id.h"
#include "pls_log.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: pls-broker --node ID --listen ENDPOINT --db CONNINFO [options]\n"
               "\n"
               "The work-order broker of one Public Legal Service command center: it accepts\n"
               "orders from desks (plsctl), keeps them in PostgreSQL, hands each step to the\n"
               "department workers (pls-worker) of the right scope, and records every step.\n"
               "\n"
               "  --node ID          this command center's node id: dg (city), dg.humen (town)\n"
               "  --listen ENDPOINT  ZeroMQ endpoint for desks and workers, e.g.\n"
               "                     tcp://0.0.0.0:7700 (tcp://127.0.0.1:* picks a free port and\n"
               "                     logs it)\n"
               "  --db CONNINFO      PostgreSQL connection string, e.g. 'host=/tmp port=5433\n"
               "                     dbname=pls_dg'; migrations in sql/ are applied at start-up\n"
               "                     (default: $PLS_DB)\n"
               "  --parent ENDPOINT  the parent command center's broker (federation)\n"
               "  --topology FILE    CSV id,name_zh,name_en,kind of the nodes this broker knows\n"
               "  --lease-ms N       lease of an automatic worker on an order (default 10000)\n"
               "  --max-attempts N   failed attempts before an order is `failed` (default 5)\n"
               "  --retry-ms N       first retry backoff after a failed attempt, doubling\n"
               "                     (default 1000)\n"
               "  --refuse-s N       when PostgreSQL refuses a new order for what it holds (a\n"
               "                     trigger, a constraint), answer 422 to the same content\n"
               "                     for N s without writing it; 0: write it every time, and\n"
               "                     reload after every failure (default 600)\n"
               "  --calendar FILE    holidays and make-up working days (default: the built-in\n"
               "                     deploy/calendar/cn-holidays.csv)\n"
               "  --test-clock       let `plsctl clock` shift and speed up the rule clock that\n"
               "                     time limits run on (for tests; never in production)\n"
               "  --insecure         run without CURVE authentication (required until the\n"
               "                     security work lands; every peer may do everything)\n"
               "  --log-level L      error, warn, info (default) or debug\n"
               "  -h, --help         this text\n"
               "\n"
               "SIGTERM or SIGINT: the batch in flight is committed and answered, then the\n"
               "broker exits (within 5 s). Open orders and leases stay in PostgreSQL; after a\n"
               "restart workers re-attach what they hold.\n");
}

static int parse_num(const char *opt, const char *s, long min, long max, long *out)
{
    if (pls_parse_long(s, min, max, out) != 0) {
        fprintf(stderr, "pls-broker: %s: expected a number from %ld to %ld, got '%s'\n", opt, min,
                max, s);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"node", required_argument, NULL, 'n'},
                                             {"listen", required_argument, NULL, 'l'},
                                             {"db", required_argument, NULL, 'd'},
                                             {"parent", required_argument, NULL, 'p'},
                                             {"topology", required_argument, NULL, 't'},
                                             {"lease-ms", required_argument, NULL, 'L'},
                                             {"max-attempts", required_argument, NULL, 'M'},
                                             {"retry-ms", required_argument, NULL, 'R'},
                                             {"refuse-s", required_argument, NULL, 'Q'},
                                             {"insecure", no_argument, NULL, 'I'},
                                             {"log-level", required_argument, NULL, 'v'},
                                             {"calendar", required_argument, NULL, 'C'},
                                             {"test-clock", no_argument, NULL, 'T'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    bk_broker_opts_t o;
    memset(&o, 0, sizeof(o));
    o.core.db = getenv("PLS_DB");
    o.core.refuse_ms = 600000;
    const char *parent = NULL, *topology = NULL;
    long v;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'n':
            o.core.node = optarg;
            break;
        case 'l':
            o.listen = optarg;
            break;
        case 'd':
            o.core.db = optarg;
            break;
        case 'p':
            parent = optarg;
            break;
        case 't':
            topology = optarg;
            break;
        case 'L':
            if (parse_num("--lease-ms", optarg, 100, 86400000, &v))
                return 2;
            o.core.lease_ms = v;
            break;
        case 'M':
            if (parse_num("--max-attempts", optarg, 1, 1000, &v))
                return 2;
            o.core.max_attempts = (int)v;
            break;
        case 'R':
            if (parse_num("--retry-ms", optarg, 1, 3600000, &v))
                return 2;
            o.core.retry_base_ms = v;
            break;
        case 'Q':
            if (parse_num("--refuse-s", optarg, 0, 86400, &v))
                return 2;
            o.core.refuse_ms = v * 1000;
            break;
        case 'I':
            o.core.insecure = 1;
            break;
        case 'C':
            o.core.calendar = optarg;
            break;
        case 'T':
            o.core.test_clock = 1;
            break;
        case 'v':
            if (pls_log_set_level_name(optarg) != 0) {
                fprintf(stderr, "pls-broker: --log-level: expected error, warn, info or debug\n");
                return 2;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "pls-broker: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!o.core.node || !o.listen || !o.core.db) {
        fprintf(stderr, "pls-broker: --node, --listen and --db are required (see --help)\n");
        return 2;
    }
    if (!pls_node_valid(o.core.node)) {
        fprintf(stderr,
                "pls-broker: --node: '%s' is not a node id (lowercase labels joined by dots, "
                "like dg.humen)\n",
                o.core.node);
        return 2;
    }
    if (!o.core.insecure) {
        fprintf(stderr, "pls-broker: refusing to start without authentication: CURVE keys are "
                        "not supported yet, so every peer could act as anyone; pass --insecure "
                        "to run on a trusted network\n");
        return 2;
    }
    if (parent && pls_node_depth(o.core.node) < 2) {
        fprintf(stderr, "pls-broker: --parent: %s is the city and has no parent\n", o.core.node);
        return 2;
    }
    o.core.parent = parent;
    o.core.topology = topology;
    pls_log_init("pls-broker", o.core.node);
    return bk_broker_run(&o);
}
