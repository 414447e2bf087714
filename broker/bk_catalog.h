/*
 * bk_catalog — the service catalog (DESIGN §5) in memory: departments,
 * services, their steps, outcomes and limits, loaded from the database at
 * start-up (sql/002_catalog.sql is the data), plus plan resolution: where each
 * step of an order is handled, decided once at intake.
 */
#ifndef BK_CATALOG_H
#define BK_CATALOG_H

#include "pls_util.h"

#include <stdint.h>

#define BK_MAX_SERVICES 64
#define BK_MAX_DEPTS 64
#define BK_MAX_STEPS 8
#define BK_MAX_OUTCOMES 8
#define BK_MAX_DESIGNATED 8

enum bk_place { BK_PLACE_LOCALITY, BK_PLACE_TOWN, BK_PLACE_CITY, BK_PLACE_DESIGNATED };
enum bk_end { BK_END_NONE = 0, BK_END_COMPLETED, BK_END_TERMINATED };
enum bk_unit { BK_UNIT_NONE = 0, BK_UNIT_WD, BK_UNIT_DAYS, BK_UNIT_HOURS };

typedef struct bk_outcome {
    char code[33];
    int next; /* next step index, or -1 when the order ends */
    int ends; /* enum bk_end when next == -1 */
} bk_outcome_t;

typedef struct bk_step {
    char name[33];
    int place;                           /* enum bk_place */
    char *designated[BK_MAX_DESIGNATED]; /* owned node ids (place designated) */
    int n_designated;
    int dept;                               /* index into departments */
    int limit_n;                            /* 0 = no step limit */
    int limit_unit;                         /* enum bk_unit */
    int statutory;                          /* no extensions */
    int skip_when_intake_at_depth;          /* 0 = never; 1 = intake at the city */
    int64_t escalate_after_ms;              /* 0 = never */
    bk_outcome_t outcomes[BK_MAX_OUTCOMES]; /* [0] is the default */
    int n_outcomes;
} bk_step_t;

typedef struct bk_service {
    char code[33];
    int confidential;
    int whole_limit_n;
    int whole_limit_unit;
    int whole_limit_statutory;
    bk_step_t steps[BK_MAX_STEPS];
    int n_steps;
} bk_service_t;

typedef struct bk_catalog {
    char depts[BK_MAX_DEPTS][33];
    int n_depts;
    bk_service_t services[BK_MAX_SERVICES];
    int n_services;
    /* complaint routing: subject -> dept, service -> subject */
    char subjects[8][33];
    int subject_dept[8];
    int n_subjects;
    int service_subject[BK_MAX_SERVICES]; /* index into subjects or -1 */
} bk_catalog_t;

void bk_catalog_init(bk_catalog_t *c);
void bk_catalog_cleanup(bk_catalog_t *c);

/* Loaders: one call per database row, in the column order of the queries
 * in bk_catalog_sql_* (values are text; NULL for SQL NULL). Return 0 or
 * -EINVAL with err filled for inconsistent data. */
extern const char bk_catalog_sql_depts[];
extern const char bk_catalog_sql_services[];
extern const char bk_catalog_sql_steps[];
extern const char bk_catalog_sql_outcomes[];
extern const char bk_catalog_sql_routes[];
int bk_catalog_add_dept(bk_catalog_t *c, char **v) PLS_WUR;
int bk_catalog_add_service(bk_catalog_t *c, char **v) PLS_WUR;
int bk_catalog_add_step(bk_catalog_t *c, char **v) PLS_WUR;
int bk_catalog_add_outcome(bk_catalog_t *c, char **v) PLS_WUR;
int bk_catalog_add_route(bk_catalog_t *c, char **v) PLS_WUR;
/* After loading: every service has steps, every step has outcomes. */
int bk_catalog_check(const bk_catalog_t *c, char *err, size_t errsz) PLS_WUR;

int bk_catalog_service(const bk_catalog_t *c, const char *code); /* index or -1 */
int bk_catalog_dept(const bk_catalog_t *c, const char *code);    /* index or -1 */
/* The outcome of a step by code, or NULL. */
const bk_outcome_t *bk_catalog_outcome(const bk_step_t *s, const char *code);
/* Complaint: the department for a subject (or -1 for an unknown subject). */
int bk_catalog_complaint_dept(const bk_catalog_t *c, const char *subject);
/* Complaint: the subject implied by the service of the order complained about. */
const char *bk_catalog_subject_of_service(const bk_catalog_t *c, int service);

/* Where a step is handled (its scope node), DESIGN §5:
 *   locality -> the locality; town -> the locality's town (the city for a
 *   city locality); city -> the city; designated -> the chosen site if listed,
 *   else the locality's town if listed, else the first listed.
 * A broker without a parent handles every step itself: a scope outside its
 * subtree resolves to its own node. */
void bk_catalog_scope(const bk_step_t *s, const char *locality, const char *site,
                      const char *broker_node, int has_parent, char *out, size_t outsz);

#endif
