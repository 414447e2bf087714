/*
 * ctl_cmd — see ctl_cmd.h.
 *
 * Each command is one row of `commands`: its option table, help texts and a
 * builder that fills the request from the parsed options. Builders check what
 * pls_proto_validate cannot know (numbers, choices, the --attach format,
 * sub-commands); the envelope is then validated with pls_proto_validate, the
 * same rules the broker applies, and its reasons are given back naming the
 * flag the user typed ("--origin: not a node id ...").
 *
 * Personal data (--name, --phone, --id-number) is never echoed in a message.
 */
#include "ctl_cmd.h"
#include "pls_id.h"
#include "pls_time.h"

#include <errno.h>
#include <math.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int build_fn(ctl_req_t *r, const ctl_args_t *a, FILE *in, char *err, size_t errsz);

/* A command of the table below. */
struct ctl_cmd {
    const char *name;     /* as typed: "need-info" */
    const char *group;    /* heading in plsctl --help */
    const char *summary;  /* one line for plsctl --help */
    const char *usage;    /* synopsis after "plsctl " (lines) */
    const char *about;    /* what it does, for plsctl CMD --help */
    const char *examples; /* example lines */
    const ctl_opt_t *opts;
    build_fn *build;
};

/* ---- options -------------------------------------------------------------------------------- */

#define OPT_HELP                                                                                   \
    {                                                                                              \
        "help", CTL_OPT_FLAG, 0, NULL, "show this help"                                            \
    }
#define OPT_END                                                                                    \
    {                                                                                              \
        NULL, CTL_OPT_FLAG, 0, NULL, NULL                                                          \
    }

const ctl_opt_t ctl_global_opts[] = {
    {"broker", CTL_OPT_VALUE, 0, "ENDPOINT",
     "the broker (command center) to talk to; default: $PLS_BROKER, else " CTL_DEFAULT_BROKER},
    {"json", CTL_OPT_FLAG, 0, NULL, "print JSON on stdout instead of text"},
    {"timeout", CTL_OPT_VALUE, 0, "S",
     "seconds to wait for an answer, retries included (default 5)"},
    {"operator", CTL_OPT_VALUE, 0, "NAME",
     "who acts, recorded in the order's events; default: $PLS_OPERATOR, else your user name"},
    {"help", CTL_OPT_FLAG, 0, NULL, "show help (also: plsctl COMMAND --help)"},
    OPT_END,
};

static const ctl_opt_t submit_opts[] = {
    {"service", CTL_OPT_VALUE, 1, "CODE",
     "the catalog service: consult, legal_aid, mediation, lawyer, notary, forensic, "
     "pro_mediation, exam, resettlement, prison_video, village_counsel, complaint"},
    {"origin", CTL_OPT_VALUE, 1, "NODE",
     "the intake desk's node (首问), which gets the result: dg.humen.baisha"},
    {"locality", CTL_OPT_VALUE, 0, "NODE",
     "where the matter belongs (default: the origin); routes village and town steps"},
    {"desc", CTL_OPT_VALUE, 1, "TEXT",
     "what the citizen needs, at most 16384 bytes; - reads it from standard input"},
    {"key", CTL_OPT_VALUE, 0, "KEY",
     "idempotency key: hotline call id, platform order number, desk ticket (default: a new "
     "random key, reused on retries)"},
    {"channel", CTL_OPT_VALUE, 0, "desk|hotline|web|platform",
     "how the need came in (default desk)"},
    {"priority", CTL_OPT_VALUE, 0, "normal|urgent", "urgent orders are dispatched first"},
    {"name", CTL_OPT_VALUE, 0, "N", "the citizen's name"},
    {"phone", CTL_OPT_VALUE, 0, "P", "the citizen's phone number"},
    {"id-number", CTL_OPT_VALUE, 0, "X", "the citizen's ID document number"},
    {"id-type", CTL_OPT_VALUE, 0, "T", "the kind of ID document: resident_id, passport, ..."},
    {"category", CTL_OPT_VALUE, 0, "C", "dispute or case category code"},
    {"applicant-category", CTL_OPT_VALUE, 0, "C",
     "migrant_worker, minor, elderly, disabled, women, military"},
    {"counterparty", CTL_OPT_VALUE, 0, "C", "the other party of the dispute"},
    {"confidential", CTL_OPT_FLAG, 0, NULL, "the matter is confidential"},
    {"detained", CTL_OPT_FLAG, 0, NULL, "the applicant is detained (legal aid: 24 h to forward)"},
    {"group-risk", CTL_OPT_FLAG, 0, NULL, "群体性: risk of a group incident or escalation"},
    {"about", CTL_OPT_VALUE, 0, "ID", "complaint: the id of the order complained about"},
    {"subject", CTL_OPT_VALUE, 0, "lawyer|notary|mediator|staff",
     "complaint: who is complained about (routes it to the overseeing section)"},
    {"site", CTL_OPT_VALUE, 0, "NODE", "prison_video: the site the citizen chose"},
    {"attach", CTL_OPT_LIST, 0, "SHA256:TYPE:SIZE:LOCATION",
     "a file kept outside the broker; repeat for more (at most 16)"},
    OPT_HELP,
    OPT_END,
};

static const ctl_opt_t show_opts[] = {OPT_HELP, OPT_END};

static const ctl_opt_t status_opts[] = {
    {"tree", CTL_OPT_FLAG, 0, NULL, "the whole network below this node (at the city: everything)"},
    OPT_HELP,
    OPT_END,
};

static const ctl_opt_t list_opts[] = {
    {"state", CTL_OPT_VALUE, 0, "S", "only orders in this state (queued, in_progress, ...)"},
    {"service", CTL_OPT_VALUE, 0, "C", "only this service"},
    {"dept", CTL_OPT_VALUE, 0, "D", "only orders whose current step is this department's"},
    {"node", CTL_OPT_VALUE, 0, "N", "only orders owned by, taken in or belonging under node N"},
    {"date", CTL_OPT_VALUE, 0, "YYYY-MM-DD", "only orders received that day (Asia/Shanghai)"},
    {"number", CTL_OPT_VALUE, 0, "N", "the order with this number"},
    {"key", CTL_OPT_VALUE, 0, "K", "the order with this idempotency key"},
    {"phone", CTL_OPT_VALUE, 0, "P", "orders of the citizen with this phone (audited)"},
    {"id-number", CTL_OPT_VALUE, 0, "X", "orders of the citizen with this ID number (audited)"},
    {"limit", CTL_OPT_VALUE, 0, "N", "at most N orders (default 100, at most 1000)"},
    {"overdue", CTL_OPT_FLAG, 0, NULL, "only orders past a time limit"},
    OPT_HELP,
    OPT_END,
};

static const ctl_opt_t requeue_opts[] = {
    {"dept", CTL_OPT_VALUE, 0, "D", "queue it for this department instead of the step's own"},
    {"note", CTL_OPT_VALUE, 0, "TEXT", "why, recorded in the order's history"},
    OPT_HELP,
    OPT_END,
};

static const ctl_opt_t note_opts[] = {
    {"note", CTL_OPT_VALUE, 0, "TEXT", "a note recorded in the order's history"},
    OPT_HELP,
    OPT_END,
};

static const ctl_opt_t transfer_opts[] = {
    {"to", CTL_OPT_VALUE, 1, "NODE", "the command center or village that takes it over"},
    {"dept", CTL_OPT_VALUE, 0, "D", "the department there (default: the step's own)"},
    {"reason", CTL_OPT_VALUE, 1, "TEXT", "why it is transferred: 转办 reason"},
    OPT_HELP,
    OPT_END,
};

static const ctl_opt_t post_opts[] = {OPT_HELP, OPT_END};

static const ctl_opt_t clock_opts[] = {
    {"offset", CTL_OPT_VALUE, 1, "DURATION",
     "rule clock = wall clock + DURATION: 3d, 5h, 90m, 20s, 1500ms, -1d, 0"},
    {"speed", CTL_OPT_VALUE, 0, "N", "the rule clock runs N times faster (default 1)"},
    OPT_HELP,
    OPT_END,
};

static const ctl_opt_t accept_opts[] = {
    {"as", CTL_OPT_VALUE, 1, "NAME", "the person who signs for it: 签收"},
    OPT_HELP,
    OPT_END,
};

static const ctl_opt_t progress_opts[] = {
    {"pct", CTL_OPT_VALUE, 0, "N", "how far along, 0 to 100"},
    {"note", CTL_OPT_VALUE, 1, "TEXT", "what was done"},
    OPT_HELP,
    OPT_END,
};

static const ctl_opt_t complete_opts[] = {
    {"outcome", CTL_OPT_VALUE, 1, "CODE",
     "the step's outcome: answered, pass, granted, settled, ..."},
    {"note", CTL_OPT_VALUE, 0, "TEXT", "the result, or the written reasons of a denial"},
    OPT_HELP,
    OPT_END,
};

static const ctl_opt_t reason_opts[] = {
    {"reason", CTL_OPT_VALUE, 1, "TEXT", "why, recorded in the order's history"},
    OPT_HELP,
    OPT_END,
};

static const ctl_opt_t need_info_opts[] = {
    {"items", CTL_OPT_LIST, 0, "ITEM", "one missing item; repeat for every item (all at once)"},
    {"note", CTL_OPT_VALUE, 0, "TEXT", "a note to the citizen, or on the approval or refusal"},
    OPT_HELP,
    OPT_END,
};

static const ctl_opt_t supplement_opts[] = {
    {"text", CTL_OPT_VALUE, 1, "TEXT", "what the citizen supplied"},
    OPT_HELP,
    OPT_END,
};

static const ctl_opt_t extension_opts[] = {
    {"days", CTL_OPT_VALUE, 0, "N", "request: working days asked for (at most 15 in total)"},
    {"reason", CTL_OPT_VALUE, 0, "TEXT", "request: why more time is needed"},
    {"note", CTL_OPT_VALUE, 0, "TEXT", "approve, refuse: the decision's note"},
    OPT_HELP,
    OPT_END,
};

static const ctl_opt_t rate_opts[] = {
    {"attitude", CTL_OPT_VALUE, 1, "N", "service attitude, 1 (poor) to 5 (very good)"},
    {"efficiency", CTL_OPT_VALUE, 1, "N", "efficiency, 1 to 5"},
    {"competence", CTL_OPT_VALUE, 1, "N", "professional competence, 1 to 5"},
    {"comment", CTL_OPT_VALUE, 0, "TEXT", "what the citizen said"},
    OPT_HELP,
    OPT_END,
};

static const ctl_opt_t review_opts[] = {
    {"redo", CTL_OPT_FLAG, 0, NULL, "the complaint holds: re-open the last step (重办)"},
    {"close", CTL_OPT_FLAG, 0, NULL, "the service was right: close the order"},
    {"note", CTL_OPT_VALUE, 1, "TEXT", "what the verification found"},
    OPT_HELP,
    OPT_END,
};

/* ---- helpers -------------------------------------------------------------------------------- */

static int usagef(char *err, size_t errsz, const char *fmt, ...) PLS_PRINTF(3, 4);

static int usagef(char *err, size_t errsz, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errsz, fmt, ap);
    va_end(ap);
    return CTL_EXIT_USAGE;
}

static void *keep(ctl_req_t *r, void *p)
{
    r->kept = pls_xrealloc(r->kept, (r->n_kept + 1) * sizeof(*r->kept));
    r->kept[r->n_kept++] = p;
    return p;
}

/* protobuf-c's string fields are char * but are only read */
static char *str(const char *s)
{
    return (char *)(uintptr_t)s;
}

/* The positional arguments from index `from` must be exactly the n named. */
static int positionals(const ctl_args_t *a, size_t from, size_t n, const char *names, char *err,
                       size_t errsz)
{
    if (a->n_pos < from + n)
        return usagef(err, errsz, "missing %s", names);
    if (a->n_pos > from + n)
        return usagef(err, errsz, "unexpected argument '%s'", a->pos[from + n]);
    return 0;
}

/* The one positional ORDER argument at index `from`. */
static int order_arg(ctl_req_t *r, const ctl_args_t *a, size_t from, char *err, size_t errsz)
{
    int rc =
        positionals(a, from, 1, "ID (an order id or number, like DG-HM-20261126-0042)", err, errsz);
    if (rc)
        return rc;
    r->action.order = str(a->pos[from]);
    return 0;
}

/* An integer option in [min,max]; *out untouched when absent. */
static int number(const ctl_args_t *a, const char *name, long min, long max, uint32_t *out,
                  char *err, size_t errsz)
{
    const char *v = ctl_args_get(a, name);
    long n;
    if (!v)
        return 0;
    if (pls_parse_long(v, min, max, &n) != 0)
        return usagef(err, errsz, "--%s: not a whole number from %ld to %ld: '%s'", name, min, max,
                      v);
    *out = (uint32_t)n;
    return 0;
}

/* An option whose value is one of names[]; *out is the index, untouched when
 * the option is absent. */
static int choice(const ctl_args_t *a, const char *name, const char *const *names, size_t n,
                  int *out, char *err, size_t errsz)
{
    const char *v = ctl_args_get(a, name);
    if (!v)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v, names[i]) == 0) {
            *out = (int)i;
            return 0;
        }
    }
    char list[256] = "";
    for (size_t i = 0; i < n; i++)
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "", names[i]);
    return usagef(err, errsz, "--%s: '%s' is not one of %s", name, v, list);
}

/* The text of option `flag` ("reason") goes into the action's note. */
static void note_from(ctl_req_t *r, const ctl_args_t *a, const char *flag)
{
    const char *v = ctl_args_get(a, flag);
    r->note_flag = flag;
    if (v)
        r->action.note = str(v);
}

static void set_action(ctl_req_t *r, Pls__Verb verb)
{
    r->env.body_case = PLS__ENVELOPE__BODY_ACTION;
    r->env.action = &r->action;
    r->action.verb = verb;
    r->send = CTL_SEND_ONLY_503;
    r->out = CTL_OUT_ACTION;
}

static void set_query(ctl_req_t *r, Pls__QueryKind kind, ctl_out_kind_t out)
{
    r->env.body_case = PLS__ENVELOPE__BODY_QUERY;
    r->env.query = &r->query;
    r->query.kind = kind;
    r->send = CTL_SEND_RETRY;
    r->out = out;
}

/* Refuse options that belong to another form of the command. */
static int not_with(const ctl_args_t *a, const char *const *names, size_t n, const char *form,
                    char *err, size_t errsz)
{
    for (size_t i = 0; i < n; i++)
        if (ctl_args_count(a, names[i]))
            return usagef(err, errsz, "--%s is not used with %s", names[i], form);
    return 0;
}

/* ---- submit --------------------------------------------------------------------------------- */

/* Read the description from `in` (for --desc -): at most the cap and a
 * line end, so that an oversized text is reported, not read whole. */
static int read_desc(ctl_req_t *r, FILE *in, char *err, size_t errsz)
{
    if (!in)
        return usagef(err, errsz, "--desc -: no standard input");
    size_t cap = PLS_MAX_DESC + 2; /* the text and a final \r\n */
    char *buf = keep(r, pls_xmalloc(cap + 1));
    size_t n = fread(buf, 1, cap, in);
    if (ferror(in))
        return usagef(err, errsz, "--desc -: could not read standard input: %s", strerror(errno));
    if (memchr(buf, '\0', n))
        return usagef(err, errsz, "--desc -: standard input holds a NUL byte; it is not text");
    int more = n == cap && fgetc(in) != EOF;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    if (more || n > PLS_MAX_DESC)
        return usagef(err, errsz, "--desc: longer than %d bytes", PLS_MAX_DESC);
    buf[n] = '\0';
    if (n == 0)
        return usagef(err, errsz, "--desc -: standard input was empty");
    r->submit.desc = buf;
    return 0;
}

/* --attach SHA256:TYPE:SIZE:LOCATION; the location may hold colons. */
static int parse_attach(ctl_req_t *r, const char *spec, Pls__Attachment *at, char *err,
                        size_t errsz)
{
    char *s = keep(r, pls_xstrdup(spec));
    char *type = strchr(s, ':');
    char *size = type ? strchr(type + 1, ':') : NULL;
    char *loc = size ? strchr(size + 1, ':') : NULL;
    if (!loc)
        return usagef(err, errsz, "--attach: '%s' is not SHA256:TYPE:SIZE:LOCATION", spec);
    *type++ = '\0';
    *size++ = '\0';
    *loc++ = '\0';
    for (char *p = s; *p; p++)
        if (*p >= 'A' && *p <= 'F')
            *p = (char)(*p - 'A' + 'a');
    char *end;
    errno = 0;
    unsigned long long n = strtoull(size, &end, 10);
    if (!*size || *end || errno || size[0] == '-')
        return usagef(err, errsz, "--attach: size '%s' is not a number of bytes", size);
    pls__attachment__init(at);
    at->sha256 = s;
    at->type = type;
    at->size = (uint64_t)n;
    at->location = loc;
    return 0;
}

static int build_submit(ctl_req_t *r, const ctl_args_t *a, FILE *in, char *err, size_t errsz)
{
    static const char *const channels[] = {"desk", "hotline", "web", "platform"};
    static const char *const priorities[] = {"normal", "urgent"};
    static const char *const subjects[] = {"lawyer", "notary", "mediator", "staff"};
    Pls__SubmitRequest *s = &r->submit;
    int rc;
    if ((rc = positionals(a, 0, 0, "", err, errsz)))
        return rc;
    r->env.body_case = PLS__ENVELOPE__BODY_SUBMIT;
    r->env.submit = s;
    r->send = CTL_SEND_RETRY;
    r->out = CTL_OUT_SUBMIT;
    s->service = str(ctl_args_get(a, "service"));
    s->origin = str(ctl_args_get(a, "origin"));
    if (ctl_args_get(a, "locality"))
        s->locality = str(ctl_args_get(a, "locality"));
    const char *desc = ctl_args_get(a, "desc");
    if (strcmp(desc, "-") == 0) {
        if ((rc = read_desc(r, in, err, errsz)))
            return rc;
    } else {
        s->desc = str(desc);
    }

    const char *key = ctl_args_get(a, "key");
    if (key && strlen(key) > PLS_MAX_KEY)
        return usagef(err, errsz, "--key: longer than %d bytes", PLS_MAX_KEY);
    if (!key) {
        pls_uuid_t u;
        pls_uuid7(&u, pls_wall_ms());
        char id[PLS_UUID_STR];
        pls_uuid_format(&u, id);
        snprintf(r->key, sizeof(r->key), "%s", id);
        r->key_generated = 1;
    } else {
        snprintf(r->key, sizeof(r->key), "%s", key);
    }
    s->key = r->key;

    int ch = 0, pr = 0, sub = -1;
    if ((rc = choice(a, "channel", channels, PLS_ARRAY_LEN(channels), &ch, err, errsz)) ||
        (rc = choice(a, "priority", priorities, PLS_ARRAY_LEN(priorities), &pr, err, errsz)) ||
        (rc = choice(a, "subject", subjects, PLS_ARRAY_LEN(subjects), &sub, err, errsz)))
        return rc;
    s->channel = (Pls__Channel)ch;
    s->priority = (Pls__Priority)pr;
    if (sub >= 0)
        s->subject = str(subjects[sub]);
    if (ctl_args_get(a, "about"))
        s->about = str(ctl_args_get(a, "about"));
    if (ctl_args_get(a, "site"))
        s->site = str(ctl_args_get(a, "site"));

    static const char *const citizen_flags[] = {"name", "phone", "id-number", "id-type"};
    for (size_t i = 0; i < PLS_ARRAY_LEN(citizen_flags); i++)
        if (ctl_args_get(a, citizen_flags[i]))
            s->citizen = &r->citizen;
    if (s->citizen) {
        const char *v;
        if ((v = ctl_args_get(a, "name")))
            r->citizen.name = str(v);
        if ((v = ctl_args_get(a, "phone")))
            r->citizen.phone = str(v);
        if ((v = ctl_args_get(a, "id-number")))
            r->citizen.id_number = str(v);
        if ((v = ctl_args_get(a, "id-type")))
            r->citizen.id_type = str(v);
    }

    static const char *const field_flags[] = {"category",     "applicant-category", "counterparty",
                                              "confidential", "detained",           "group-risk"};
    for (size_t i = 0; i < PLS_ARRAY_LEN(field_flags); i++)
        if (ctl_args_count(a, field_flags[i]))
            s->fields = &r->fields;
    if (s->fields) {
        const char *v;
        if ((v = ctl_args_get(a, "category")))
            r->fields.category = str(v);
        if ((v = ctl_args_get(a, "applicant-category")))
            r->fields.applicant_category = str(v);
        if ((v = ctl_args_get(a, "counterparty")))
            r->fields.counterparty = str(v);
        r->fields.confidential = ctl_args_count(a, "confidential") > 0;
        r->fields.detained = ctl_args_count(a, "detained") > 0;
        r->fields.group_risk = ctl_args_count(a, "group-risk") > 0;
    }

    size_t n = ctl_args_count(a, "attach");
    if (n) {
        const char *const *specs = ctl_args_list(a, "attach");
        Pls__Attachment *at = keep(r, pls_xcalloc(n, sizeof(*at)));
        s->attachments = keep(r, pls_xcalloc(n, sizeof(*s->attachments)));
        for (size_t i = 0; i < n; i++) {
            if ((rc = parse_attach(r, specs[i], &at[i], err, errsz)))
                return rc;
            s->attachments[i] = &at[i];
        }
        s->n_attachments = n;
    }
    return 0;
}

/* ---- queries -------------------------------------------------------------------------------- */

static int build_show(ctl_req_t *r, const ctl_args_t *a, FILE *in, char *err, size_t errsz)
{
    PLS_UNUSED(in);
    set_query(r, PLS__QUERY_KIND__QUERY_SHOW, CTL_OUT_SHOW);
    int rc = positionals(a, 0, 1, "ID|NUMBER (the order's id or number)", err, errsz);
    if (rc)
        return rc;
    r->query.order = str(a->pos[0]);
    return 0;
}

static int build_status(ctl_req_t *r, const ctl_args_t *a, FILE *in, char *err, size_t errsz)
{
    PLS_UNUSED(in);
    set_query(r, PLS__QUERY_KIND__QUERY_STATUS, CTL_OUT_STATUS);
    r->query.tree = ctl_args_count(a, "tree") > 0;
    return positionals(a, 0, 0, "", err, errsz);
}

static int check_date(const char *d, char *err, size_t errsz)
{
    int ok = strlen(d) == 10 && d[4] == '-' && d[7] == '-';
    for (int i = 0; ok && i < 10; i++)
        if (i != 4 && i != 7 && !(d[i] >= '0' && d[i] <= '9'))
            ok = 0;
    if (ok) {
        int month = (d[5] - '0') * 10 + (d[6] - '0');
        int day = (d[8] - '0') * 10 + (d[9] - '0');
        ok = month >= 1 && month <= 12 && day >= 1 && day <= 31;
    }
    return ok ? 0 : usagef(err, errsz, "--date: '%s' is not a date like 2026-11-26", d);
}

static int build_list(ctl_req_t *r, const ctl_args_t *a, FILE *in, char *err, size_t errsz)
{
    PLS_UNUSED(in);
    Pls__ListFilter *f = &r->filter;
    int rc;
    set_query(r, PLS__QUERY_KIND__QUERY_LIST, CTL_OUT_LIST);
    r->query.filter = f;
    if ((rc = positionals(a, 0, 0, "", err, errsz)))
        return rc;
    int st;
    if ((rc = choice(a, "state", ctl_out_states, CTL_OUT_N_STATES, &st, err, errsz)))
        return rc;
    if (ctl_args_get(a, "date") && (rc = check_date(ctl_args_get(a, "date"), err, errsz)))
        return rc;
    if ((rc = number(a, "limit", 1, 1000, &f->limit, err, errsz)))
        return rc;
    struct {
        const char *flag;
        char **field;
    } text[] = {
        {"state", &f->state}, {"service", &f->service}, {"dept", &f->dept},
        {"node", &f->node},   {"date", &f->date},       {"number", &f->number},
        {"key", &f->key},     {"phone", &f->phone},     {"id-number", &f->id_number},
    };
    for (size_t i = 0; i < PLS_ARRAY_LEN(text); i++)
        if (ctl_args_get(a, text[i].flag))
            *text[i].field = str(ctl_args_get(a, text[i].flag));
    f->overdue = ctl_args_count(a, "overdue") > 0;
    return 0;
}

/* ---- actions -------------------------------------------------------------------------------- */

static int build_requeue(ctl_req_t *r, const ctl_args_t *a, FILE *in, char *err, size_t errsz)
{
    PLS_UNUSED(in);
    set_action(r, PLS__VERB__VERB_REQUEUE);
    if (ctl_args_get(a, "dept"))
        r->action.dept = str(ctl_args_get(a, "dept"));
    note_from(r, a, "note");
    return order_arg(r, a, 0, err, errsz);
}

static int build_withdraw(ctl_req_t *r, const ctl_args_t *a, FILE *in, char *err, size_t errsz)
{
    PLS_UNUSED(in);
    set_action(r, PLS__VERB__VERB_WITHDRAW);
    note_from(r, a, "note");
    return order_arg(r, a, 0, err, errsz);
}

static int build_transfer(ctl_req_t *r, const ctl_args_t *a, FILE *in, char *err, size_t errsz)
{
    PLS_UNUSED(in);
    set_action(r, PLS__VERB__VERB_TRANSFER);
    r->action.to = str(ctl_args_get(a, "to"));
    if (ctl_args_get(a, "dept"))
        r->action.dept = str(ctl_args_get(a, "dept"));
    note_from(r, a, "reason");
    return order_arg(r, a, 0, err, errsz);
}

static int build_post(ctl_req_t *r, const ctl_args_t *a, FILE *in, char *err, size_t errsz)
{
    PLS_UNUSED(in);
    if (a->n_pos < 1 || (strcmp(a->pos[0], "away") != 0 && strcmp(a->pos[0], "back") != 0))
        return usagef(err, errsz, "say away or back: plsctl post away|back DEPT SCOPE");
    int away = strcmp(a->pos[0], "away") == 0;
    set_action(r, away ? PLS__VERB__VERB_POST_AWAY : PLS__VERB__VERB_POST_BACK);
    snprintf(r->what, sizeof(r->what), "post %s", a->pos[0]);
    int rc =
        positionals(a, 1, 2, "DEPT SCOPE (a department code and the node it serves)", err, errsz);
    if (rc)
        return rc;
    r->dept_flag = "DEPT";
    r->action.dept = str(a->pos[1]);
    r->action.scope = str(a->pos[2]);
    return 0;
}

static int build_accept(ctl_req_t *r, const ctl_args_t *a, FILE *in, char *err, size_t errsz)
{
    PLS_UNUSED(in);
    set_action(r, PLS__VERB__VERB_ACCEPT);
    r->action.person = str(ctl_args_get(a, "as"));
    return order_arg(r, a, 0, err, errsz);
}

static int build_progress(ctl_req_t *r, const ctl_args_t *a, FILE *in, char *err, size_t errsz)
{
    PLS_UNUSED(in);
    set_action(r, PLS__VERB__VERB_PROGRESS);
    note_from(r, a, "note");
    int rc = number(a, "pct", 0, 100, &r->action.pct, err, errsz);
    return rc ? rc : order_arg(r, a, 0, err, errsz);
}

static int build_complete(ctl_req_t *r, const ctl_args_t *a, FILE *in, char *err, size_t errsz)
{
    PLS_UNUSED(in);
    set_action(r, PLS__VERB__VERB_COMPLETE);
    r->action.outcome = str(ctl_args_get(a, "outcome"));
    note_from(r, a, "note");
    return order_arg(r, a, 0, err, errsz);
}

static int build_return(ctl_req_t *r, const ctl_args_t *a, FILE *in, char *err, size_t errsz)
{
    PLS_UNUSED(in);
    set_action(r, PLS__VERB__VERB_RETURN);
    note_from(r, a, "reason");
    return order_arg(r, a, 0, err, errsz);
}

/* "3d", "-5h", "90m", "20s", "1500ms" or a plain number of milliseconds. */
static int parse_duration(const char *v, int64_t *out)
{
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || end == v)
        return -1;
    long long unit = 1;
    if (strcmp(end, "d") == 0)
        unit = 86400000LL;
    else if (strcmp(end, "h") == 0)
        unit = 3600000LL;
    else if (strcmp(end, "m") == 0)
        unit = 60000LL;
    else if (strcmp(end, "s") == 0)
        unit = 1000LL;
    else if (strcmp(end, "ms") != 0 && *end)
        return -1;
    if (n > 3650LL * 86400000LL / unit || n < -3650LL * 86400000LL / unit)
        return -1;
    *out = n * unit;
    return 0;
}

static int build_clock(ctl_req_t *r, const ctl_args_t *a, FILE *in, char *err, size_t errsz)
{
    PLS_UNUSED(in);
    set_action(r, PLS__VERB__VERB_CLOCK);
    if (a->n_pos)
        return usagef(err, errsz, "clock takes no arguments, only --offset and --speed");
    int64_t off;
    if (parse_duration(ctl_args_get(a, "offset"), &off) != 0)
        return usagef(err, errsz, "--offset: not a duration like 3d, 5h, 90m, 20s or 1500ms: '%s'",
                      ctl_args_get(a, "offset"));
    r->action.clock_offset_ms = off;
    return number(a, "speed", 1, 1000000, &r->action.clock_speed, err, errsz);
}

static int build_terminate(ctl_req_t *r, const ctl_args_t *a, FILE *in, char *err, size_t errsz)
{
    PLS_UNUSED(in);
    set_action(r, PLS__VERB__VERB_TERMINATE);
    note_from(r, a, "reason");
    return order_arg(r, a, 0, err, errsz);
}

static int build_need_info(ctl_req_t *r, const ctl_args_t *a, FILE *in, char *err, size_t errsz)
{
    PLS_UNUSED(in);
    static const char *const items_only[] = {"items"};
    const char *sub = a->n_pos ? a->pos[0] : "";
    int rc;
    note_from(r, a, "note");
    if (strcmp(sub, "approve") == 0 || strcmp(sub, "refuse") == 0) {
        int approve = strcmp(sub, "approve") == 0;
        set_action(r,
                   approve ? PLS__VERB__VERB_NEED_INFO_APPROVE : PLS__VERB__VERB_NEED_INFO_REFUSE);
        snprintf(r->what, sizeof(r->what), "need-info %s", sub);
        if ((rc = not_with(a, items_only, 1, r->what, err, errsz)))
            return rc;
        return order_arg(r, a, 1, err, errsz);
    }
    set_action(r, PLS__VERB__VERB_NEED_INFO);
    if ((rc = order_arg(r, a, 0, err, errsz)))
        return rc;
    size_t n = ctl_args_count(a, "items");
    if (n == 0)
        return usagef(err, errsz,
                      "missing --items ITEM: list every missing item, one --items each "
                      "(一次告知: the citizen is asked once)");
    const char *const *items = ctl_args_list(a, "items");
    r->action.items = keep(r, pls_xcalloc(n, sizeof(*r->action.items)));
    for (size_t i = 0; i < n; i++)
        r->action.items[i] = str(items[i]);
    r->action.n_items = n;
    return 0;
}

static int build_supplement(ctl_req_t *r, const ctl_args_t *a, FILE *in, char *err, size_t errsz)
{
    PLS_UNUSED(in);
    set_action(r, PLS__VERB__VERB_SUPPLEMENT);
    note_from(r, a, "text");
    return order_arg(r, a, 0, err, errsz);
}

static int build_extension(ctl_req_t *r, const ctl_args_t *a, FILE *in, char *err, size_t errsz)
{
    PLS_UNUSED(in);
    static const char *const request_only[] = {"days", "reason"};
    static const char *const decision_only[] = {"note"};
    const char *sub = a->n_pos ? a->pos[0] : "";
    int rc;
    if (strcmp(sub, "request") == 0) {
        set_action(r, PLS__VERB__VERB_EXTENSION_REQUEST);
    } else if (strcmp(sub, "approve") == 0) {
        set_action(r, PLS__VERB__VERB_EXTENSION_APPROVE);
    } else if (strcmp(sub, "refuse") == 0) {
        set_action(r, PLS__VERB__VERB_EXTENSION_REFUSE);
    } else {
        return usagef(err, errsz,
                      "say request, approve or refuse: plsctl extension request ID "
                      "--days N --reason TEXT, plsctl extension approve|refuse ID");
    }
    snprintf(r->what, sizeof(r->what), "extension %s", sub);
    if (r->action.verb == PLS__VERB__VERB_EXTENSION_REQUEST) {
        if ((rc = not_with(a, decision_only, 1, r->what, err, errsz)))
            return rc;
        if (!ctl_args_get(a, "days"))
            return usagef(err, errsz, "missing --days N (working days asked for)");
        if (!ctl_args_get(a, "reason"))
            return usagef(err, errsz, "missing --reason TEXT (why more time is needed)");
        if ((rc = number(a, "days", 1, 15, &r->action.days, err, errsz)))
            return rc;
        note_from(r, a, "reason");
    } else {
        if ((rc = not_with(a, request_only, 2, r->what, err, errsz)))
            return rc;
        note_from(r, a, "note");
    }
    return order_arg(r, a, 1, err, errsz);
}

static int build_rate(ctl_req_t *r, const ctl_args_t *a, FILE *in, char *err, size_t errsz)
{
    PLS_UNUSED(in);
    set_action(r, PLS__VERB__VERB_RATE);
    r->action.scores = &r->scores;
    note_from(r, a, "comment");
    int rc;
    if ((rc = number(a, "attitude", 1, 5, &r->scores.attitude, err, errsz)) ||
        (rc = number(a, "efficiency", 1, 5, &r->scores.efficiency, err, errsz)) ||
        (rc = number(a, "competence", 1, 5, &r->scores.competence, err, errsz)))
        return rc;
    return order_arg(r, a, 0, err, errsz);
}

static int build_review(ctl_req_t *r, const ctl_args_t *a, FILE *in, char *err, size_t errsz)
{
    PLS_UNUSED(in);
    int redo = ctl_args_count(a, "redo") > 0, close = ctl_args_count(a, "close") > 0;
    if (redo == close)
        return usagef(err, errsz, "say either --redo (re-open the last step) or --close");
    set_action(r, redo ? PLS__VERB__VERB_REVIEW_REDO : PLS__VERB__VERB_REVIEW_CLOSE);
    note_from(r, a, "note");
    return order_arg(r, a, 0, err, errsz);
}

/* ---- the commands --------------------------------------------------------------------------- */

static const char G_ORDERS[] = "orders";
static const char G_CENTER[] = "command center";
static const char G_STAFF[] = "department staff (orders held in staff custody)";
static const char G_DESK[] = "desk (the first desk, 首问)";

static const ctl_cmd_t commands[] = {
    {"submit", G_ORDERS, "take in a citizen's need as a new work order",
     "submit --service CODE --origin NODE --desc TEXT [options]",
     "Takes in a citizen's legal need as a new work order at the intake desk --origin\n"
     "(首问: that desk stays responsible and gets the result). The broker resolves the\n"
     "service's steps from the catalog and routes the first one. On success the order's id\n"
     "alone is printed on stdout (with --json: {\"id\", \"number\", \"duplicate\"}).\n"
     "\n"
     "Every submit carries an idempotency key: the same key with the same content gives\n"
     "back the same order (duplicate), the same key with other content is refused (409).\n"
     "Without --key a random key is made and reused if plsctl has to resend within\n"
     "--timeout, so a retried submit never makes two orders.",
     "plsctl submit --service consult --origin dg.humen.baisha \\\n"
     "    --desc '工资被拖欠三个月，想咨询如何维权' --name 张三 --phone 13812345678\n"
     "plsctl submit --service legal_aid --origin dg.humen --channel hotline \\\n"
     "    --key call-20261126-0042 --detained --priority urgent --desc - < statement.txt\n"
     "plsctl submit --service complaint --origin dg --subject lawyer \\\n"
     "    --about 0192f0a4-6c1e-7d3a-9b2e-3f1a2b3c4d5e --desc '律师未按约定出庭'\n"
     "id=$(plsctl submit --service mediation --origin dg.humen --desc '邻里纠纷') && "
     "plsctl show \"$id\"",
     submit_opts, build_submit},
    {"show", G_ORDERS, "one order: its steps and its whole history", "show ID|NUMBER",
     "Shows one order, by id or by order number: where it is, who owns it, its steps\n"
     "with their outcomes, and every event of its history. The citizen's personal data\n"
     "is shown only as the broker gives it (masked).",
     "plsctl show DG-HM-20261126-0042\n"
     "plsctl --json show 0192f0a4-6c1e-7d3a-9b2e-3f1a2b3c4d5e | jq .events",
     show_opts, build_show},
    {"status", G_ORDERS, "orders, departments, workers and links of this node", "status [--tree]",
     "Shows this command center: orders by state, and per department and scope the\n"
     "queued, assigned, in-progress and waiting orders, the yellow (催办), red (督办) and\n"
     "supervised ones and those completed today, with the A and B post workers.\n"
     "Queues with no live worker are flagged. Then the workers, the links to other\n"
     "command centers and any warnings.",
     "plsctl status\n"
     "plsctl --broker tcp://city.pls:7700 status --tree\n"
     "watch -n 5 plsctl status",
     status_opts, build_status},
    {"list", G_ORDERS, "find orders by state, service, department, node, date ...",
     "list [--state S] [--service C] [--dept D] [--node N] [--date YYYY-MM-DD]\n"
     "     [--number N] [--key K] [--phone P] [--id-number X] [--limit N] [--overdue]",
     "Lists the orders that match every filter given, newest first. Looking orders up\n"
     "by a citizen's phone or ID number is allowed and recorded (audited) by the broker.",
     "plsctl list --state queued --dept legal_aid\n"
     "plsctl list --node dg.humen --date 2026-11-26 --limit 20\n"
     "plsctl list --overdue\n"
     "plsctl list --key call-20261126-0042",
     list_opts, build_list},
    {"requeue", G_CENTER, "put a returned or stuck order back in a queue",
     "requeue ID [--dept D] [--note TEXT]",
     "Puts the order back in the queue of its current step (or of department --dept),\n"
     "for instance after a worker returned it (退单).",
     "plsctl requeue DG-HM-20261126-0042 --note '材料已补齐，重新派单'\n"
     "plsctl requeue DG-HM-20261126-0042 --dept mediation",
     requeue_opts, build_requeue},
    {"withdraw", G_CENTER, "withdraw an order (the citizen's wish)", "withdraw ID [--note TEXT]",
     "Withdraws the order; a worker holding it is told to drop it.",
     "plsctl withdraw DG-HM-20261126-0042 --note '当事人已自行和解'", note_opts, build_withdraw},
    {"transfer", G_CENTER, "hand an order over to another node (转办)",
     "transfer ID --to NODE [--dept D] --reason TEXT",
     "Transfers the order to another command center or village (and department),\n"
     "with the reason recorded in its history.",
     "plsctl transfer DG-HM-20261126-0042 --to dg.changan --reason '纠纷发生地在长安镇'",
     transfer_opts, build_transfer},
    {"post", G_CENTER, "mark a department's A post away or back (AB岗)",
     "post away|back DEPT SCOPE",
     "Marks the A post of department DEPT at node SCOPE away: its orders go to the\n"
     "B-post (backup) workers at once. 'back' ends that.",
     "plsctl post away legal_aid dg.humen\n"
     "plsctl post back legal_aid dg.humen",
     post_opts, build_post},
    {"clock", G_CENTER, "shift the rule clock of a test broker",
     "clock --offset DURATION [--speed N]",
     "Time limits (签收, step and whole-order limits, yellow and red alarms, the\n"
     "15-day notice, the 7-day rating window) run on the broker's rule clock. A broker\n"
     "started with --test-clock lets tests move it: the rule clock becomes the wall\n"
     "clock plus DURATION, running N times faster. Other brokers refuse (403).",
     "plsctl clock --offset 2d\n"
     "plsctl clock --offset 0 --speed 3600",
     clock_opts, build_clock},
    {"terminate", G_CENTER, "end an order as not accepted (不予受理/终止)",
     "terminate ID --reason TEXT",
     "Terminates the order with the written reason; you are recorded as the approving\n"
     "operator.",
     "plsctl terminate DG-HM-20261126-0042 --reason '不属于法律援助范围'", reason_opts,
     build_terminate},
    {"review", G_CENTER, "decide a low rating: redo the last step or close",
     "review ID (--redo|--close) --note TEXT",
     "After a citizen rated an order 2 or lower, the origin's command center verifies\n"
     "the complaint: --redo re-opens the last step with a fresh time limit (重办),\n"
     "--close closes the order with the note.",
     "plsctl review DG-HM-20261126-0042 --redo --note '回访核实：答复不完整'\n"
     "plsctl review DG-HM-20261126-0042 --close --note '核实后服务无不当'",
     review_opts, build_review},
    {"accept", G_STAFF, "sign for an order (签收)", "accept ID --as NAME",
     "Signs for an order offered to your department: from now the department holds it\n"
     "and the step's time limit runs. NAME is the person who signs.",
     "plsctl accept DG-HM-20261126-0042 --as '李律师'", accept_opts, build_accept},
    {"progress", G_STAFF, "report progress on an order", "progress ID [--pct N] --note TEXT",
     "Records what was done so far (and how far along it is, 0-100 %).",
     "plsctl progress DG-HM-20261126-0042 --pct 50 --note '已联系双方当事人'", progress_opts,
     build_progress},
    {"complete", G_STAFF, "finish the current step with an outcome",
     "complete ID --outcome CODE [--note TEXT]",
     "Ends the order's current step with one of the step's outcomes (answered, pass,\n"
     "not_eligible, granted, denied, settled, ...); the catalog decides the next step or\n"
     "the end. Give the written reasons of a denial in --note.",
     "plsctl complete DG-HM-20261126-0042 --outcome answered --note '已解答，建议申请劳动仲裁'\n"
     "plsctl complete DG-HM-20261126-0042 --outcome denied --note '经济状况不符合条件'",
     complete_opts, build_complete},
    {"return", G_STAFF, "send an order back to the command center (退单)",
     "return ID --reason TEXT",
     "Returns the order: it waits as 'returned' until the command center requeues or\n"
     "transfers it.",
     "plsctl return DG-HM-20261126-0042 --reason '不属于本部门职责'", reason_opts, build_return},
    {"need-info", G_STAFF, "ask the citizen for every missing item, once (一次告知)",
     "need-info ID --items ITEM [--items ITEM ...] [--note TEXT]\n"
     "need-info approve|refuse ID [--note TEXT]",
     "Tells the citizen, once, everything that is missing; the clock pauses until the\n"
     "supplement. An order gets one notice: a second one is held until the command\n"
     "center approves it ('need-info approve', then it is sent) or refuses it\n"
     "('need-info refuse', the step continues).",
     "plsctl need-info DG-HM-20261126-0042 --items '身份证复印件' --items '劳动合同'\n"
     "plsctl need-info approve DG-HM-20261126-0042 --note '新发现证据缺失'",
     need_info_opts, build_need_info},
    {"extension", G_STAFF, "ask for more time, or decide such a request (延期)",
     "extension request ID --days N --reason TEXT\n"
     "extension approve|refuse ID [--note TEXT]",
     "The handler asks before the due time for N more working days (at most 15 in all,\n"
     "never for statutory limits); an operator at the owning node approves or refuses.",
     "plsctl extension request DG-HM-20261126-0042 --days 5 --reason '需等待鉴定结果'\n"
     "plsctl extension approve DG-HM-20261126-0042",
     extension_opts, build_extension},
    {"supplement", G_DESK, "record what the citizen supplied after a need-info",
     "supplement ID --text TEXT", "Records the citizen's supplement; the paused clock resumes.",
     "plsctl supplement DG-HM-20261126-0042 --text '已提交身份证复印件和劳动合同'", supplement_opts,
     build_supplement},
    {"rate", G_DESK, "record the citizen's evaluation (回访)",
     "rate ID --attitude N --efficiency N --competence N [--comment TEXT]",
     "Records the callback's scores, 1 (poor) to 5 (very good). Any score of 2 or lower\n"
     "sends the order to rating_review for the command center to verify.",
     "plsctl rate DG-HM-20261126-0042 --attitude 5 --efficiency 4 --competence 5\n"
     "plsctl rate DG-HM-20261126-0042 --attitude 2 --efficiency 1 --competence 3 \\\n"
     "    --comment '等待时间太长'",
     rate_opts, build_rate},
};

const ctl_cmd_t *ctl_cmd_find(const char *name)
{
    for (size_t i = 0; i < PLS_ARRAY_LEN(commands); i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

const char *ctl_cmd_name(const ctl_cmd_t *cmd)
{
    return cmd->name;
}

/* ---- help ----------------------------------------------------------------------------------- */

/* text wrapped at 80 columns, continuation lines indented by `indent`
 * (the first line is assumed to start there already) */
static void print_wrapped(FILE *out, const char *text, size_t indent)
{
    size_t col = indent;
    const char *p = text;
    while (*p) {
        size_t n = strcspn(p, " ");
        char word[256];
        snprintf(word, sizeof(word), "%.*s", (int)(n < 255 ? n : 255), p);
        size_t w = ctl_out_width(word);
        if (col > indent && col + 1 + w > 80) {
            fprintf(out, "\n%*s", (int)indent, "");
            col = indent;
        } else if (col > indent) {
            fputc(' ', out);
            col++;
        }
        fputs(word, out);
        col += w;
        p += n;
        while (*p == ' ')
            p++;
    }
    fputc('\n', out);
}

static void print_opts(FILE *out, const ctl_opt_t *opts)
{
    for (const ctl_opt_t *o = opts; o->name; o++) {
        char head[64];
        snprintf(head, sizeof(head), "--%s%s%s", o->name, o->metavar ? " " : "",
                 o->metavar ? o->metavar : "");
        if (strlen(head) <= 24)
            fprintf(out, "  %-24s  ", head);
        else
            fprintf(out, "  %s\n  %-24s  ", head, "");
        print_wrapped(out, o->help, 28);
    }
}

static void print_indented(FILE *out, const char *text)
{
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        fprintf(out, "  %.*s\n", (int)n, p);
        p += n + (nl != NULL);
    }
}

void ctl_cmd_help_main(FILE *out)
{
    fprintf(out,
            "usage: plsctl [--broker ENDPOINT] [--json] [--timeout S] [--operator NAME]\n"
            "              COMMAND [ARGS...]\n"
            "\n"
            "plsctl is the command line of PLS Dispatch, the work-order broker of the Public\n"
            "Legal Service command centers: it takes in citizens' needs as work orders, finds\n"
            "and shows them, acts on them, and shows the status of a node or of the network.\n"
            "\n"
            "global options (also accepted after the command):\n");
    print_opts(out, ctl_global_opts);
    const char *group = NULL;
    for (size_t i = 0; i < PLS_ARRAY_LEN(commands); i++) {
        const ctl_cmd_t *c = &commands[i];
        if (c->group != group) {
            group = c->group;
            fprintf(out, "\n%s:\n", group);
        }
        fprintf(out, "  %-12s  %s\n", c->name, c->summary);
    }
    fprintf(out,
            "\n"
            "ID is an order's id (a UUID) or its number (DG-HM-20261126-0042).\n"
            "\n"
            "exit status:\n"
            "  0  done\n"
            "  1  refused: the broker answered with a status other than 200; the status and\n"
            "     its reason are printed on stderr (plsctl: 409 order is closed); also when\n"
            "     its answer could not be read or printed\n"
            "  2  usage error: unknown command or option, missing or bad value; nothing sent\n"
            "  3  no answer from the broker within --timeout\n"
            "\n"
            "environment:\n"
            "  PLS_BROKER    the broker when --broker is not given (else %s)\n"
            "  PLS_OPERATOR  the operator when --operator is not given (else the user name)\n"
            "\n"
            "examples:\n"
            "  plsctl status\n"
            "  plsctl submit --service consult --origin dg.humen --desc '劳动合同纠纷咨询'\n"
            "  plsctl --json show DG-HM-20261126-0042\n"
            "\n"
            "'plsctl COMMAND --help' explains a command, with examples.\n",
            CTL_DEFAULT_BROKER);
}

void ctl_cmd_help(const ctl_cmd_t *cmd, FILE *out)
{
    const char *u = cmd->usage;
    const char *prefix = "usage: plsctl [global options] ";
    while (*u) {
        const char *nl = strchr(u, '\n');
        size_t n = nl ? (size_t)(nl - u) : strlen(u);
        fprintf(out, "%s%.*s\n", prefix, (int)n, u);
        prefix = "       plsctl [global options] ";
        u += n + (nl != NULL);
    }
    fprintf(out, "\n%s\n\noptions:\n", cmd->about);
    print_opts(out, cmd->opts);
    fprintf(out, "\nglobal options:\n");
    print_opts(out, ctl_global_opts);
    fprintf(out, "\nexamples:\n");
    print_indented(out, cmd->examples);
}

/* ---- settings, validation, build ------------------------------------------------------------ */

static int settings(ctl_req_t *r, const ctl_args_t *g, char *err, size_t errsz)
{
    const char *v = ctl_args_get(g, "broker");
    if (!v || !*v)
        v = getenv("PLS_BROKER");
    r->broker = v && *v ? v : CTL_DEFAULT_BROKER;

    r->timeout_s = CTL_DEFAULT_TIMEOUT_S;
    if ((v = ctl_args_get(g, "timeout"))) {
        char *end;
        errno = 0;
        double t = strtod(v, &end);
        if (!*v || *end || errno || !isfinite(t) || t <= 0 || t > 86400)
            return usagef(err, errsz, "--timeout: not a number of seconds above 0: '%s'", v);
        r->timeout_s = t;
    }
    r->timeout_ms = (int)ceil(r->timeout_s * 1000);
    r->json = ctl_args_count(g, "json") > 0;

    v = ctl_args_get(g, "operator");
    if (v && !*v)
        return usagef(err, errsz, "--operator: empty; name who acts");
    if (!v || !*v)
        v = getenv("PLS_OPERATOR");
    char uid[32];
    if (!v || !*v) {
        struct passwd *pw = getpwuid(geteuid());
        snprintf(uid, sizeof(uid), "uid%u", (unsigned)geteuid());
        v = pw && pw->pw_name && *pw->pw_name ? pw->pw_name : uid;
    }
    if (strlen(v) > PLS_MAX_NAME)
        return usagef(err, errsz, "--operator: longer than %d bytes", PLS_MAX_NAME);
    snprintf(r->actor, sizeof(r->actor), "%s", v);
    return 0;
}

/* pls_proto_validate's field names, as the user typed them. */
static const struct {
    const char *field;
    const char *flag;
} flag_names[] = {
    {"actor", "--operator"},
    {"order", "ID"},
    {"citizen.name", "--name"},
    {"citizen.id_type", "--id-type"},
    {"citizen.id_number", "--id-number"},
    {"citizen.phone", "--phone"},
    {"fields.category", "--category"},
    {"fields.applicant_category", "--applicant-category"},
    {"fields.counterparty", "--counterparty"},
    {"attachments", "--attach"},
    {"attachments.sha256", "--attach SHA256"},
    {"attachments.type", "--attach TYPE"},
    {"attachments.location", "--attach LOCATION"},
    {"person", "--as"},
    {"scope", "SCOPE"},
    {"scores", "--attitude/--efficiency/--competence"},
};

/* Rewrite "field: what" as "--flag: what". */
static void name_flag(const ctl_req_t *r, const char *reason, char *out, size_t outsz)
{
    const char *colon = strstr(reason, ": ");
    if (!colon) {
        snprintf(out, outsz, "%s", reason);
        return;
    }
    char field[64];
    snprintf(field, sizeof(field), "%.*s", (int)(colon - reason), reason);
    const char *flag = NULL;
    for (size_t i = 0; i < PLS_ARRAY_LEN(flag_names) && !flag; i++)
        if (strcmp(field, flag_names[i].field) == 0)
            flag = flag_names[i].flag;
    if (!flag && strcmp(field, "dept") == 0 && r->dept_flag)
        flag = r->dept_flag;
    char dashed[80];
    if (!flag) {
        const char *f = strcmp(field, "note") == 0 && r->note_flag ? r->note_flag : field;
        if (strncmp(f, "filter.", 7) == 0)
            f += 7;
        snprintf(dashed, sizeof(dashed), "--%s", f);
        for (char *p = dashed; *p; p++)
            if (*p == '_')
                *p = '-';
        flag = dashed;
    }
    snprintf(out, outsz, "%s%s", flag, colon);
}

void ctl_req_init(ctl_req_t *r)
{
    memset(r, 0, sizeof(*r));
    pls__envelope__init(&r->env);
    pls__submit_request__init(&r->submit);
    pls__citizen__init(&r->citizen);
    pls__order_fields__init(&r->fields);
    pls__action_request__init(&r->action);
    pls__scores__init(&r->scores);
    pls__query_request__init(&r->query);
    pls__list_filter__init(&r->filter);
}

void ctl_req_cleanup(ctl_req_t *r)
{
    for (size_t i = 0; i < r->n_kept; i++)
        free(r->kept[i]);
    free(r->kept);
    r->kept = NULL;
    r->n_kept = 0;
}

static int unknown_command(const char *name, char *err, size_t errsz)
{
    const char *names[PLS_ARRAY_LEN(commands)];
    for (size_t i = 0; i < PLS_ARRAY_LEN(commands); i++)
        names[i] = commands[i].name;
    const char *best = ctl_args_closest(name, names, PLS_ARRAY_LEN(names));
    if (best)
        return usagef(err, errsz, "unknown command '%s' (did you mean '%s'?)", name, best);
    return usagef(err, errsz, "unknown command '%s' (plsctl --help lists them)", name);
}

int ctl_cmd_build(ctl_req_t *r, ctl_args_t *global, int argc, char **argv, FILE *in, char *err,
                  size_t errsz)
{
    if (argc < 1)
        return usagef(err, errsz, "missing COMMAND (plsctl --help lists them)");
    const ctl_cmd_t *cmd = ctl_cmd_find(argv[0]);
    if (!cmd)
        return unknown_command(argv[0], err, errsz);
    r->cmd = cmd;
    snprintf(r->what, sizeof(r->what), "%s", cmd->name);
    if (ctl_args_wants_help(argc - 1, argv + 1) || ctl_args_count(global, "help")) {
        r->help = 1;
        return CTL_EXIT_OK;
    }

    char msg[512];
    int rc = CTL_EXIT_OK;
    ctl_args_t a;
    ctl_args_init(&a, cmd->opts);
    a.fallback = global;
    if (ctl_args_parse(&a, argc - 1, argv + 1, 0, NULL) != 0) {
        snprintf(msg, sizeof(msg), "%s", a.err);
        rc = CTL_EXIT_USAGE;
    }
    if (!rc)
        rc = settings(r, global, msg, sizeof(msg));
    if (!rc)
        rc = cmd->build(r, &a, in, msg, sizeof(msg));
    ctl_args_cleanup(&a);
    if (!rc) {
        r->env.version = PLS_PROTO_VERSION;
        r->env.actor = r->actor;
        char reason[256];
        if (pls_proto_validate(&r->env, reason, sizeof(reason)) != 0) {
            name_flag(r, reason, msg, sizeof(msg));
            rc = CTL_EXIT_USAGE;
        }
    }
    if (rc)
        snprintf(err, errsz, "%s: %s", r->what, msg);
    return rc;
}
