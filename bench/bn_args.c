/*
 * bn_args — see bn_args.h.
 */
#include "bn_args.h"

#include "pls_id.h"
#include "pls_log.h"
#include "pls_proto.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const bn_services[] = {"consult",      "legal_aid",    "mediation",       "lawyer",
                                   "notary",       "forensic",     "pro_mediation",   "exam",
                                   "resettlement", "prison_video", "village_counsel", "complaint"};
const size_t bn_n_services = PLS_ARRAY_LEN(bn_services);

const char *const bn_all_depts[] = {
    "consult",       "legal_aid",    "mediation",      "lawyer",
    "notary_guide",  "notary_admin", "forensic_guide", "forensic_admin",
    "pro_mediation", "exam",         "resettlement",   "video_visit",
    "counsel",       "lawyer_admin", "grassroots",     "discipline"};
const size_t bn_n_all_depts = PLS_ARRAY_LEN(bn_all_depts);

/* service -> the departments of its steps (sql/002_catalog.sql). */
static const struct {
    const char *service;
    const char *depts[2];
} service_depts[] = {
    {"consult", {"consult", NULL}},
    {"legal_aid", {"legal_aid", NULL}},
    {"mediation", {"mediation", NULL}},
    {"lawyer", {"lawyer", NULL}},
    {"notary", {"notary_guide", "notary_admin"}},
    {"forensic", {"forensic_guide", "forensic_admin"}},
    {"pro_mediation", {"pro_mediation", NULL}},
    {"exam", {"exam", NULL}},
    {"resettlement", {"resettlement", NULL}},
    {"prison_video", {"video_visit", NULL}},
    {"village_counsel", {"counsel", NULL}},
    {"complaint", {"discipline", NULL}},
};

size_t bn_depts_for(const char *service, const char **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < PLS_ARRAY_LEN(service_depts); i++) {
        if (strcmp(service_depts[i].service, service) != 0)
            continue;
        for (size_t j = 0; j < 2 && service_depts[i].depts[j] && n < max; j++)
            out[n++] = service_depts[i].depts[j];
        return n;
    }
    for (size_t i = 0; i < bn_n_all_depts && n < max; i++)
        out[n++] = bn_all_depts[i];
    return n;
}

void bn_args_usage(void *file)
{
    FILE *f = file;
    fprintf(
        f, "usage: pls-bench (--db CONNINFO | --broker ENDPOINT) [options]\n"
           "\n"
           "Measures a pls-broker end to end: K submitters send M orders, N in-process\n"
           "department workers (the noop handler) take every step, and pls-bench waits until\n"
           "every order is completed. Prints one JSON object on stdout (orders/s, submit-ack,\n"
           "submit-to-assign and submit-to-complete latencies, broker peak RSS, commits, rows\n"
           "written); progress goes to stderr.\n"
           "\n"
           "Where the broker comes from (exactly one):\n"
           "  --db CONNINFO       start our own pls-broker on this PostgreSQL database (a fresh\n"
           "                      one gives comparable figures); it listens on a free port of\n"
           "                      127.0.0.1 and is stopped with SIGTERM at the end. pls-broker is\n"
           "                      looked for beside pls-bench (../broker/ in a build tree, or the\n"
           "                      same directory), then on PATH\n"
           "  --broker ENDPOINT   use a running broker (an otherwise idle one: commits, rows and\n"
           "                      completions are differences of its status counters); its RSS\n"
           "                      is not known and reported as null\n"
           "\n"
           "The load:\n"
           "  --orders M          orders to submit (default 10000)\n"
           "  --workers N         worker instances, all in this process and served by one libuv\n"
           "                      loop (default 16); they serve the broker's own node\n"
           "  --concurrency C     credit of each worker: assignments it holds at once\n"
           "                      (default 64)\n"
           "  --submitters K      submitting sockets (default 32)\n"
           "  --window W          closed loop: submits each submitter keeps outstanding; the\n"
           "                      next goes when one is answered (default 1)\n"
           "  --rate R            open loop instead: R orders/s in total, spread round robin\n"
           "                      over the submitters, whatever the answers (M/R seconds)\n"
           "  --service CODE      catalog service of every order (default consult), or 'mixed':\n"
           "                      every service of the catalog in turn; workers serve the\n"
           "                      departments the service needs (all of them for mixed)\n"
           "  --desc-bytes B      description length in bytes (default 200)\n"
           "  --citizen           give every order a synthetic citizen (name, id, phone): one\n"
           "                      more row per order\n"
           "  --queue-only        no workers: submit and wait for every answer, then report the\n"
           "                      broker's memory per queued order (RSS after minus before)\n"
           "  --node ID           node id of the broker (default dg); origin of every order and\n"
           "                      scope of the workers\n"
           "\n"
           "Measuring:\n"
           "  --warmup S          leave orders submitted in the first S seconds out of the\n"
           "                      latency figures (default 0; DESIGN §11 latency runs use 5)\n"
           "  --stall-timeout S   give up (exit 1) when nothing progresses for S seconds\n"
           "                      (default 60)\n"
           "  --broker-log FILE   our broker's log (default /tmp/pls-bench-broker.PID.log)\n"
           "  --log-level L       pls-bench's own log: error, warn (default), info, debug\n"
           "\n");
    fprintf(
        f,
        "Federation (DESIGN §7): a town broker under its city broker, each on its own\n"
        "database; orders are submitted at the town for a service whose steps cross to the\n"
        "city, and the run ends when the city completed them and the town's copies say so:\n"
        "  --federation        --node is the town (default dg.humen), its parent the city;\n"
        "                      --service defaults to legal_aid (初审 at the town, 审批 and 指派\n"
        "                      at the city); the workers are split: the first half serve\n"
        "                      the town, the rest the city (--workers at least 2)\n"
        "  --city-db CONNINFO  with --db: the city broker's database (not the town's), so\n"
        "                      pls-bench starts the city, then the town with --parent\n"
        "  --city-broker EP    with --broker: the running city broker the town links to\n"
        "  -h, --help          this text\n"
        "\n"
        "Latencies (milliseconds, p50/p90/p99/max) are taken per order from the moment its\n"
        "first submit was sent: submit_ack_ms until the broker's answer (after its commit),\n"
        "submit_to_assign_ms until a worker here got the order's first Assign,\n"
        "submit_to_complete_ms until the broker answered the OUTCOME report of its last\n"
        "step (seen at the loop turn in which the worker released the assignment).\n"
        "\n"
        "Exit status: 0 every order completed (or, with --queue-only, was queued); 1 the\n"
        "run failed (refusals, a stall, an interrupt; the JSON says why); 2 usage;\n"
        "3 the broker could not be started or reached.\n");
}

static int num_err(char *err, size_t errsz, const char *opt, const char *what, const char *got)
{
    snprintf(err, errsz, "%s: expected %s, got '%s'", opt, what, got);
    return -EINVAL;
}

static int parse_long(const char *opt, const char *s, long min, long max, long *out, char *err,
                      size_t errsz)
{
    if (pls_parse_long(s, min, max, out) == 0)
        return 0;
    char what[80];
    snprintf(what, sizeof(what), "a number from %ld to %ld", min, max);
    return num_err(err, errsz, opt, what, s);
}

static int parse_double(const char *opt, const char *s, double min, double max, double *out,
                        char *err, size_t errsz)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !isfinite(v) || v < min || v > max) {
        char what[80];
        snprintf(what, sizeof(what), "a number from %g to %g", min, max);
        return num_err(err, errsz, opt, what, s);
    }
    *out = v;
    return 0;
}

void bn_opts_init(bn_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->node = "dg";
    o->service = "consult";
    o->orders = 10000;
    o->workers = 16;
    o->concurrency = 64;
    o->submitters = 32;
    o->window = 1;
    o->desc_bytes = 200;
    o->stall_s = 60;
    o->log_level = PLS_LOG_WARN;
}

enum {
    OPT_DB = 256,
    OPT_BROKER,
    OPT_NODE,
    OPT_ORDERS,
    OPT_WORKERS,
    OPT_CONCURRENCY,
    OPT_SUBMITTERS,
    OPT_WINDOW,
    OPT_RATE,
    OPT_SERVICE,
    OPT_DESC_BYTES,
    OPT_CITIZEN,
    OPT_QUEUE_ONLY,
    OPT_WARMUP,
    OPT_STALL,
    OPT_BROKER_LOG,
    OPT_LOG_LEVEL,
    OPT_FEDERATION,
    OPT_CITY_DB,
    OPT_CITY_BROKER,
};

static int service_known(const char *s)
{
    if (strcmp(s, "mixed") == 0)
        return 1;
    for (size_t i = 0; i < bn_n_services; i++)
        if (strcmp(bn_services[i], s) == 0)
            return 1;
    return 0;
}

/* Checks that need every option. */
static int check_combination(bn_opts_t *o, int seen_workers, int seen_window, int seen_conc,
                             char *err, size_t errsz)
{
    if (!!o->db == !!o->broker) {
        snprintf(err, errsz,
                 "give exactly one of --db CONNINFO (start a broker) and --broker "
                 "ENDPOINT (use a running one)");
        return -EINVAL;
    }
    if (o->queue_only) {
        if (seen_workers && o->workers > 0) {
            snprintf(err, errsz, "--queue-only runs without workers: drop --workers");
            return -EINVAL;
        }
        if (seen_conc) {
            snprintf(err, errsz, "--queue-only runs without workers: drop --concurrency");
            return -EINVAL;
        }
        o->workers = 0;
    } else if (o->workers == 0) {
        snprintf(err, errsz,
                 "--workers 0: orders would never complete (use --queue-only to "
                 "measure a queue without workers)");
        return -EINVAL;
    }
    if (o->rate > 0 && seen_window) {
        snprintf(err, errsz, "--window is for the closed loop; --rate sends at its own pace");
        return -EINVAL;
    }
    if (o->warmup_s > 0 && o->rate > 0 && o->warmup_s >= (double)o->orders / o->rate) {
        snprintf(err, errsz,
                 "--warmup %g: the run lasts only %g s at --rate %g with --orders %ld, so no "
                 "order would be measured",
                 o->warmup_s, (double)o->orders / o->rate, o->rate, o->orders);
        return -EINVAL;
    }
    return 0;
}

/* --federation: a town under its city, each broker given the same way. */
static int check_federation(bn_opts_t *o, char *err, size_t errsz)
{
    if (!o->federation) {
        if (o->city_db || o->city_broker) {
            snprintf(err, errsz, "%s is for --federation runs",
                     o->city_db ? "--city-db" : "--city-broker");
            return -EINVAL;
        }
        return 0;
    }
    if (pls_node_depth(o->node) != 2) {
        snprintf(err, errsz,
                 "--federation: --node must be a town (like dg.humen) under its city, got '%s'",
                 o->node);
        return -EINVAL;
    }
    const char *dot = strrchr(o->node, '.');
    snprintf(o->city_node, sizeof(o->city_node), "%.*s", (int)(dot - o->node), o->node);
    if (o->db && !o->city_db) {
        snprintf(err, errsz,
                 "--federation with --db: give the city's database too (--city-db CONNINFO)");
        return -EINVAL;
    }
    if (o->broker && !o->city_broker) {
        snprintf(err, errsz,
                 "--federation with --broker: give the running city broker too "
                 "(--city-broker ENDPOINT)");
        return -EINVAL;
    }
    if ((o->db && o->city_broker) || (o->broker && o->city_db)) {
        snprintf(err, errsz,
                 "--federation: give --db with --city-db, or --broker with --city-broker");
        return -EINVAL;
    }
    if (o->db && o->city_db && strcmp(o->db, o->city_db) == 0) {
        snprintf(err, errsz,
                 "--federation: the town and the city need databases of their own "
                 "(--db and --city-db are the same)");
        return -EINVAL;
    }
    if (o->queue_only) {
        snprintf(err, errsz, "--queue-only measures one broker: not with --federation");
        return -EINVAL;
    }
    if (o->workers < 2) {
        snprintf(err, errsz,
                 "--federation: --workers must be at least 2 (half serve the town, half the "
                 "city)");
        return -EINVAL;
    }
    return 0;
}

int bn_args_parse(bn_opts_t *o, int argc, char **argv, char *err, size_t errsz)
{
    static const struct option longopts[] = {
        {"db", required_argument, NULL, OPT_DB},
        {"broker", required_argument, NULL, OPT_BROKER},
        {"node", required_argument, NULL, OPT_NODE},
        {"orders", required_argument, NULL, OPT_ORDERS},
        {"workers", required_argument, NULL, OPT_WORKERS},
        {"concurrency", required_argument, NULL, OPT_CONCURRENCY},
        {"submitters", required_argument, NULL, OPT_SUBMITTERS},
        {"window", required_argument, NULL, OPT_WINDOW},
        {"rate", required_argument, NULL, OPT_RATE},
        {"service", required_argument, NULL, OPT_SERVICE},
        {"desc-bytes", required_argument, NULL, OPT_DESC_BYTES},
        {"citizen", no_argument, NULL, OPT_CITIZEN},
        {"queue-only", no_argument, NULL, OPT_QUEUE_ONLY},
        {"warmup", required_argument, NULL, OPT_WARMUP},
        {"stall-timeout", required_argument, NULL, OPT_STALL},
        {"broker-log", required_argument, NULL, OPT_BROKER_LOG},
        {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
        {"federation", no_argument, NULL, OPT_FEDERATION},
        {"city-db", required_argument, NULL, OPT_CITY_DB},
        {"city-broker", required_argument, NULL, OPT_CITY_BROKER},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    bn_opts_init(o);
    int seen_workers = 0, seen_window = 0, seen_conc = 0, seen_node = 0, seen_service = 0, c,
        rc = 0;
    opterr = 0;
    optind = 1;
    while (rc == 0 && (c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_DB:
            o->db = optarg;
            break;
        case OPT_BROKER:
            o->broker = optarg;
            break;
        case OPT_NODE:
            if (!pls_node_valid(optarg) || strlen(optarg) >= PLS_NODE_MAX)
                rc = num_err(err, errsz, "--node", "a node id like dg or dg.humen", optarg);
            o->node = optarg;
            seen_node = 1;
            break;
        case OPT_ORDERS:
            rc = parse_long("--orders", optarg, 1, 100000000, &o->orders, err, errsz);
            break;
        case OPT_WORKERS:
            rc = parse_long("--workers", optarg, 0, 1000, &o->workers, err, errsz);
            seen_workers = 1;
            break;
        case OPT_CONCURRENCY:
            rc = parse_long("--concurrency", optarg, 1, 100000, &o->concurrency, err, errsz);
            seen_conc = 1;
            break;
        case OPT_SUBMITTERS:
            rc = parse_long("--submitters", optarg, 1, 1000, &o->submitters, err, errsz);
            break;
        case OPT_WINDOW:
            rc = parse_long("--window", optarg, 1, 100000, &o->window, err, errsz);
            seen_window = 1;
            break;
        case OPT_RATE:
            rc = parse_double("--rate", optarg, 0.001, 10000000, &o->rate, err, errsz);
            break;
        case OPT_SERVICE:
            if (!service_known(optarg)) {
                snprintf(err, errsz,
                         "--service: unknown service '%s' (one of the catalog: "
                         "consult, legal_aid, mediation, lawyer, notary, forensic, "
                         "pro_mediation, exam, resettlement, prison_video, "
                         "village_counsel, complaint; or mixed)",
                         optarg);
                rc = -EINVAL;
            }
            o->service = optarg;
            seen_service = 1;
            break;
        case OPT_DESC_BYTES:
            rc = parse_long("--desc-bytes", optarg, 0, PLS_MAX_DESC, &o->desc_bytes, err, errsz);
            break;
        case OPT_CITIZEN:
            o->citizen = 1;
            break;
        case OPT_QUEUE_ONLY:
            o->queue_only = 1;
            break;
        case OPT_WARMUP:
            rc = parse_double("--warmup", optarg, 0, 86400, &o->warmup_s, err, errsz);
            break;
        case OPT_STALL:
            rc = parse_long("--stall-timeout", optarg, 1, 86400, &o->stall_s, err, errsz);
            break;
        case OPT_BROKER_LOG:
            o->broker_log = optarg;
            break;
        case OPT_LOG_LEVEL:
            if (strcmp(optarg, "error") == 0)
                o->log_level = PLS_LOG_ERROR;
            else if (strcmp(optarg, "warn") == 0)
                o->log_level = PLS_LOG_WARN;
            else if (strcmp(optarg, "info") == 0)
                o->log_level = PLS_LOG_INFO;
            else if (strcmp(optarg, "debug") == 0)
                o->log_level = PLS_LOG_DEBUG;
            else
                rc = num_err(err, errsz, "--log-level", "error, warn, info or debug", optarg);
            break;
        case OPT_FEDERATION:
            o->federation = 1;
            break;
        case OPT_CITY_DB:
            o->city_db = optarg;
            break;
        case OPT_CITY_BROKER:
            o->city_broker = optarg;
            break;
        case 'h':
            bn_args_usage(stdout);
            return 1;
        case ':':
            snprintf(err, errsz, "%s: missing value", argv[optind - 1]);
            rc = -EINVAL;
            break;
        default:
            snprintf(err, errsz, "unknown option '%s' (see --help)", argv[optind - 1]);
            rc = -EINVAL;
            break;
        }
    }
    if (rc)
        return rc;
    if (optind < argc) {
        snprintf(err, errsz, "unexpected argument '%s' (see --help)", argv[optind]);
        return -EINVAL;
    }
    if (o->federation) {
        if (!seen_node)
            o->node = "dg.humen";
        if (!seen_service)
            o->service = "legal_aid";
    }
    rc = check_combination(o, seen_workers, seen_window, seen_conc, err, errsz);
    if (rc == 0)
        rc = check_federation(o, err, errsz);
    return rc;
}
