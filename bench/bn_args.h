/*
 * bn_args — the options of pls-bench and the small catalog knowledge the
 * benchmark needs (which departments serve which service).
 *
 * Parsing is a pure function of argv so the unit test can check every flag,
 * every refusal and its message without running a benchmark.
 */
#ifndef BN_ARGS_H
#define BN_ARGS_H

#include "pls_id.h"
#include "pls_util.h"

#include <stddef.h>

/* Departments of the default catalog (sql/002_catalog.sql). */
#define BN_MAX_DEPTS 16

typedef struct bn_opts {
    const char *db;          /* --db: start our own broker on this database (borrowed argv) */
    const char *broker;      /* --broker: use this running broker instead (borrowed argv) */
    const char *node;        /* --node: the broker's node id; workers serve it (default dg) */
    const char *service;     /* --service: a catalog code or "mixed" (default consult) */
    const char *broker_log;  /* --broker-log: our broker's stderr (default: a temp file) */
    long orders;             /* --orders M */
    long workers;            /* --workers N (0 with --queue-only) */
    long concurrency;        /* --concurrency: credit of each worker */
    long submitters;         /* --submitters K */
    long window;             /* --window: outstanding submits per submitter (closed loop) */
    double rate;             /* --rate: orders/s over all submitters (open loop); 0 = closed loop */
    long desc_bytes;         /* --desc-bytes: description length */
    double warmup_s;         /* --warmup: seconds of submissions left out of the latencies */
    long stall_s;            /* --stall-timeout: give up after this long without progress */
    int queue_only;          /* --queue-only: no workers, report memory per queued order */
    int citizen;             /* --citizen: send a synthetic citizen with every order */
    int log_level;           /* --log-level (PLS_LOG_*), default warn */
    int federation;          /* --federation: a town broker under a city broker */
    const char *city_db;     /* --city-db: the city broker's database (with --db) */
    const char *city_broker; /* --city-broker: the running city broker (with --broker) */
    char city_node[PLS_NODE_MAX]; /* the parent of --node (federation) */
} bn_opts_t;

/* Defaults as documented in --help. */
void bn_opts_init(bn_opts_t *o);

/* Parse argv into o (initialised here). Returns 0 to run, 1 when --help was
 * asked (usage printed to stdout), or -EINVAL with err set to a message for
 * the user ("--orders: expected a number from 1 to 100000000, got 'x'"). */
int bn_args_parse(bn_opts_t *o, int argc, char **argv, char *err, size_t errsz) PLS_WUR;

void bn_args_usage(void *file);

/* The services of the default catalog, in catalog order ("mixed" submits
 * them round robin). */
extern const char *const bn_services[];
extern const size_t bn_n_services;
/* Every department of the default catalog (workers of a mixed run serve all). */
extern const char *const bn_all_depts[];
extern const size_t bn_n_all_depts;

/* The departments whose workers a run of `service` needs: its steps'
 * departments for a known service (complaint: discipline, the department of
 * a complaint without a subject), all departments for "mixed" or a service
 * this table does not know. Fills out[] (borrowed strings) and returns the
 * count. */
size_t bn_depts_for(const char *service, const char **out, size_t max);

#endif
