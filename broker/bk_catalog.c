/*
 * bk_catalog — see bk_catalog.h. Loading is row by row so that only the store
 * touches libpq; the catalog is small (a dozen services) and read-only after
 * start-up.
 */
#include "bk_catalog.h"

#include "pls_id.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char bk_catalog_sql_depts[] = "SELECT code FROM departments ORDER BY code";
const char bk_catalog_sql_services[] =
    "SELECT code, confidential::int, whole_limit_n, whole_limit_unit, "
    "whole_limit_statutory::int FROM services ORDER BY ordinal";
const char bk_catalog_sql_steps[] =
    "SELECT service, idx, name, place, array_to_string(designated, ','), dept, limit_n, "
    "limit_unit, statutory::int, skip_when_intake_at, escalate_after_s FROM steps "
    "ORDER BY service, idx";
const char bk_catalog_sql_outcomes[] = "SELECT service, step_idx, code, next_idx, ends "
                                       "FROM outcomes ORDER BY service, step_idx, ord";
const char bk_catalog_sql_routes[] =
    "SELECT 'subject', subject, dept FROM complaint_routes UNION ALL "
    "SELECT 'service', service, subject FROM complaint_subject_of_service ORDER BY 1 DESC";

void bk_catalog_init(bk_catalog_t *c)
{
    memset(c, 0, sizeof(*c));
    for (int i = 0; i < BK_MAX_SERVICES; i++)
        c->service_subject[i] = -1;
}

void bk_catalog_cleanup(bk_catalog_t *c)
{
    for (int i = 0; i < c->n_services; i++)
        for (int j = 0; j < c->services[i].n_steps; j++)
            for (int k = 0; k < c->services[i].steps[j].n_designated; k++)
                free(c->services[i].steps[j].designated[k]);
    bk_catalog_init(c);
}

static int unit_of(const char *s)
{
    if (!s)
        return BK_UNIT_NONE;
    if (strcmp(s, "wd") == 0)
        return BK_UNIT_WD;
    if (strcmp(s, "d") == 0)
        return BK_UNIT_DAYS;
    if (strcmp(s, "h") == 0)
        return BK_UNIT_HOURS;
    return BK_UNIT_NONE;
}

static int copy_code(char *dst, const char *src)
{
    if (!src || strlen(src) > 32)
        return -EINVAL;
    strcpy(dst, src);
    return 0;
}

int bk_catalog_add_dept(bk_catalog_t *c, char **v)
{
    if (c->n_depts >= BK_MAX_DEPTS)
        return -EINVAL;
    return copy_code(c->depts[c->n_depts++], v[0]);
}

int bk_catalog_add_service(bk_catalog_t *c, char **v)
{
    if (c->n_services >= BK_MAX_SERVICES)
        return -EINVAL;
    bk_service_t *s = &c->services[c->n_services];
    memset(s, 0, sizeof(*s));
    if (copy_code(s->code, v[0]))
        return -EINVAL;
    s->confidential = atoi(v[1]);
    s->whole_limit_n = v[2] ? atoi(v[2]) : 0;
    s->whole_limit_unit = unit_of(v[3]);
    s->whole_limit_statutory = atoi(v[4]);
    c->n_services++;
    return 0;
}

int bk_catalog_add_step(bk_catalog_t *c, char **v)
{
    int si = bk_catalog_service(c, v[0]);
    if (si < 0)
        return -EINVAL;
    bk_service_t *svc = &c->services[si];
    int idx = atoi(v[1]);
    if (idx != svc->n_steps || idx >= BK_MAX_STEPS)
        return -EINVAL; /* steps are numbered 0.. without gaps */
    bk_step_t *s = &svc->steps[idx];
    memset(s, 0, sizeof(*s));
    if (copy_code(s->name, v[2]))
        return -EINVAL;
    if (strcmp(v[3], "locality") == 0)
        s->place = BK_PLACE_LOCALITY;
    else if (strcmp(v[3], "town") == 0)
        s->place = BK_PLACE_TOWN;
    else if (strcmp(v[3], "city") == 0)
        s->place = BK_PLACE_CITY;
    else
        s->place = BK_PLACE_DESIGNATED;
    if (v[4] && *v[4]) {
        const char *p = v[4];
        while (*p && s->n_designated < BK_MAX_DESIGNATED) {
            const char *end = strchr(p, ',');
            size_t len = end ? (size_t)(end - p) : strlen(p);
            s->designated[s->n_designated++] = pls_xstrndup(p, len);
            p += len;
            if (*p == ',')
                p++;
        }
    }
    if (s->place == BK_PLACE_DESIGNATED && s->n_designated == 0)
        return -EINVAL;
    s->dept = bk_catalog_dept(c, v[5]);
    if (s->dept < 0)
        return -EINVAL;
    s->limit_n = v[6] ? atoi(v[6]) : 0;
    s->limit_unit = unit_of(v[7]);
    s->statutory = atoi(v[8]);
    s->skip_when_intake_at_depth = !v[9] ? 0 : strcmp(v[9], "city") == 0 ? 1 : 2;
    s->escalate_after_ms = v[10] ? (int64_t)atoll(v[10]) * 1000 : 0;
    svc->n_steps++;
    return 0;
}

int bk_catalog_add_outcome(bk_catalog_t *c, char **v)
{
    int si = bk_catalog_service(c, v[0]);
    if (si < 0)
        return -EINVAL;
    int idx = atoi(v[1]);
    if (idx < 0 || idx >= c->services[si].n_steps)
        return -EINVAL;
    bk_step_t *s = &c->services[si].steps[idx];
    if (s->n_outcomes >= BK_MAX_OUTCOMES)
        return -EINVAL;
    bk_outcome_t *o = &s->outcomes[s->n_outcomes];
    if (copy_code(o->code, v[2]))
        return -EINVAL;
    o->next = v[3] ? atoi(v[3]) : -1;
    o->ends = !v[4]                             ? BK_END_NONE
              : strcmp(v[4], "terminated") == 0 ? BK_END_TERMINATED
                                                : BK_END_COMPLETED;
    s->n_outcomes++;
    return 0;
}

int bk_catalog_add_route(bk_catalog_t *c, char **v)
{
    if (strcmp(v[0], "subject") == 0) {
        if (c->n_subjects >= 8)
            return -EINVAL;
        int d = bk_catalog_dept(c, v[2]);
        if (d < 0 || copy_code(c->subjects[c->n_subjects], v[1]))
            return -EINVAL;
        c->subject_dept[c->n_subjects++] = d;
        return 0;
    }
    int si = bk_catalog_service(c, v[1]);
    if (si < 0)
        return -EINVAL;
    for (int i = 0; i < c->n_subjects; i++)
        if (strcmp(c->subjects[i], v[2]) == 0) {
            c->service_subject[si] = i;
            return 0;
        }
    return -EINVAL;
}

int bk_catalog_check(const bk_catalog_t *c, char *err, size_t errsz)
{
    if (c->n_services == 0 || c->n_depts == 0) {
        snprintf(err, errsz, "catalog is empty");
        return -EINVAL;
    }
    for (int i = 0; i < c->n_services; i++) {
        const bk_service_t *s = &c->services[i];
        if (s->n_steps == 0) {
            snprintf(err, errsz, "service %s has no steps", s->code);
            return -EINVAL;
        }
        for (int j = 0; j < s->n_steps; j++) {
            const bk_step_t *st = &s->steps[j];
            if (st->n_outcomes == 0) {
                snprintf(err, errsz, "step %s.%s has no outcomes", s->code, st->name);
                return -EINVAL;
            }
            for (int k = 0; k < st->n_outcomes; k++)
                if (st->outcomes[k].next >= s->n_steps ||
                    (st->outcomes[k].next >= 0 && st->outcomes[k].next <= j)) {
                    snprintf(err, errsz, "outcome %s.%s.%s leads nowhere", s->code, st->name,
                             st->outcomes[k].code);
                    return -EINVAL;
                }
        }
    }
    return 0;
}

int bk_catalog_service(const bk_catalog_t *c, const char *code)
{
    for (int i = 0; i < c->n_services; i++)
        if (strcmp(c->services[i].code, code) == 0)
            return i;
    return -1;
}

int bk_catalog_dept(const bk_catalog_t *c, const char *code)
{
    for (int i = 0; i < c->n_depts; i++)
        if (strcmp(c->depts[i], code) == 0)
            return i;
    return -1;
}

const bk_outcome_t *bk_catalog_outcome(const bk_step_t *s, const char *code)
{
    for (int i = 0; i < s->n_outcomes; i++)
        if (strcmp(s->outcomes[i].code, code) == 0)
            return &s->outcomes[i];
    return NULL;
}

int bk_catalog_complaint_dept(const bk_catalog_t *c, const char *subject)
{
    for (int i = 0; i < c->n_subjects; i++)
        if (strcmp(c->subjects[i], subject) == 0)
            return c->subject_dept[i];
    return -1;
}

const char *bk_catalog_subject_of_service(const bk_catalog_t *c, int service)
{
    if (service < 0 || service >= c->n_services || c->service_subject[service] < 0)
        return NULL;
    return c->subjects[c->service_subject[service]];
}

void bk_catalog_scope(const bk_step_t *s, const char *locality, const char *site,
                      const char *broker_node, int has_parent, char *out, size_t outsz)
{
    char town[PLS_NODE_MAX];
    pls_node_prefix(locality, 2, town, sizeof(town));
    switch (s->place) {
    case BK_PLACE_LOCALITY:
        snprintf(out, outsz, "%s", locality);
        break;
    case BK_PLACE_TOWN:
        snprintf(out, outsz, "%s", town);
        break;
    case BK_PLACE_CITY:
        pls_node_prefix(locality, 1, out, outsz);
        break;
    case BK_PLACE_DESIGNATED: {
        const char *pick = s->designated[0];
        for (int i = 0; i < s->n_designated; i++)
            if (strcmp(s->designated[i], town) == 0)
                pick = s->designated[i];
        for (int i = 0; site && *site && i < s->n_designated; i++)
            if (strcmp(s->designated[i], site) == 0)
                pick = s->designated[i];
        snprintf(out, outsz, "%s", pick);
        break;
    }
    }
    if (!has_parent && !pls_node_within(out, broker_node))
        snprintf(out, outsz, "%s", broker_node);
}
