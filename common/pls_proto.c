/*
 * pls_proto — see pls_proto.h.
 *
 * Validation is table-free on purpose: each message has one function that
 * reads like the list of its rules, and the first broken rule is reported.
 */
#include "pls_proto.h"
#include "pls_id.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Pls__Envelope *pls_proto_unpack(const void *data, size_t len, char *reason, size_t reasonsz)
{
    /* links between brokers may carry up to the transport cap; every other
     * message is held to the envelope cap by pls_proto_validate */
    if (len > PLS_MAX_FRAME) {
        snprintf(reason, reasonsz, "envelope of %zu bytes is larger than %d", len, PLS_MAX_FRAME);
        return NULL;
    }
    Pls__Envelope *e = pls__envelope__unpack(NULL, len, data);
    if (!e)
        snprintf(reason, reasonsz, "malformed frame: not a protocol envelope");
    return e;
}

void pls_proto_free(Pls__Envelope *e)
{
    if (e)
        pls__envelope__free_unpacked(e, NULL);
}

void pls_proto_pack(const Pls__Envelope *e, uint8_t **out, size_t *len)
{
    size_t n = pls__envelope__get_packed_size(e);
    *out = pls_xmalloc(n);
    *len = pls__envelope__pack(e, *out);
}

void pls_proto_pack_reply(uint64_t corr, uint32_t status, const char *reason, const char *order,
                          const char *number, int duplicate, const char *json, uint8_t **out,
                          size_t *len)
{
    Pls__Envelope env;
    Pls__Reply rep;
    pls__envelope__init(&env);
    pls__reply__init(&rep);
    env.version = PLS_PROTO_VERSION;
    env.corr = corr;
    rep.status = status;
    /* protobuf-c takes char * but does not write through it */
    rep.reason = (char *)(uintptr_t)(reason ? reason : "");
    if (order)
        rep.order = (char *)(uintptr_t)order;
    if (number)
        rep.number = (char *)(uintptr_t)number;
    if (json)
        rep.json = (char *)(uintptr_t)json;
    rep.duplicate = duplicate != 0;
    env.body_case = PLS__ENVELOPE__BODY_REPLY;
    env.reply = &rep;
    pls_proto_pack(&env, out, len);
}

const char *pls_proto_body_name(int body_case)
{
    switch (body_case) {
    case PLS__ENVELOPE__BODY_SUBMIT:
        return "submit";
    case PLS__ENVELOPE__BODY_ACTION:
        return "action";
    case PLS__ENVELOPE__BODY_QUERY:
        return "query";
    case PLS__ENVELOPE__BODY_READY:
        return "ready";
    case PLS__ENVELOPE__BODY_HEARTBEAT:
        return "heartbeat";
    case PLS__ENVELOPE__BODY_REPORT:
        return "report";
    case PLS__ENVELOPE__BODY_ASSIGN:
        return "assign";
    case PLS__ENVELOPE__BODY_REVOKE:
        return "revoke";
    case PLS__ENVELOPE__BODY_REPLY:
        return "reply";
    case PLS__ENVELOPE__BODY_HELLO:
        return "hello";
    case PLS__ENVELOPE__BODY_LINK:
        return "link";
    case PLS__ENVELOPE__BODY_SUMMARY:
        return "summary";
    default:
        return "none";
    }
}

int pls_code_valid(const char *s)
{
    if (!(*s >= 'a' && *s <= 'z'))
        return 0;
    size_t n = 0;
    for (; *s; s++, n++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return 0;
    return n <= PLS_MAX_CODE;
}

/* Validation context: the first failure wins. */
typedef struct vctx {
    int status;
    char *reason;
    size_t reasonsz;
} vctx_t;

static int fail(vctx_t *v, int status, const char *field, const char *what)
{
    if (!v->status) {
        v->status = status;
        snprintf(v->reason, v->reasonsz, "%s: %s", field, what);
    }
    return 0;
}

/* Text: valid UTF-8, no NUL, at most max bytes; optionally required. */
static int text(vctx_t *v, const char *field, const char *s, size_t max, int required)
{
    size_t n = s ? strlen(s) : 0;
    if (required && n == 0)
        return fail(v, PLS_BAD_REQUEST, field, "required");
    if (n > max) {
        char what[64];
        snprintf(what, sizeof(what), "longer than %zu bytes", max);
        return fail(v, PLS_TOO_LARGE, field, what);
    }
    if (n && !pls_utf8_valid_n(s, n))
        return fail(v, PLS_BAD_REQUEST, field, "not valid UTF-8");
    return 1;
}

static int node(vctx_t *v, const char *field, const char *s, int required)
{
    if (!s || !*s)
        return required ? fail(v, PLS_BAD_REQUEST, field, "required") : 1;
    if (strlen(s) >= PLS_NODE_MAX || !pls_node_valid(s))
        return fail(v, PLS_BAD_REQUEST, field,
                    "not a node id (lowercase labels joined by dots, like dg.humen)");
    return 1;
}

static int code(vctx_t *v, const char *field, const char *s, int required)
{
    if (!s || !*s)
        return required ? fail(v, PLS_BAD_REQUEST, field, "required") : 1;
    if (!pls_code_valid(s))
        return fail(v, PLS_BAD_REQUEST, field, "not a code ([a-z][a-z0-9_]{0,31})");
    return 1;
}

static int order_ref(vctx_t *v, const char *field, const char *s, int required)
{
    if (!s || !*s)
        return required ? fail(v, PLS_BAD_REQUEST, field, "required") : 1;
    if (!text(v, field, s, 64, 1))
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              *p == '-'))
            return fail(v, PLS_BAD_REQUEST, field, "not an order id or number");
    return 1;
}

static int uuid(vctx_t *v, const char *field, const char *s, int required)
{
    pls_uuid_t u;
    if (!s || !*s)
        return required ? fail(v, PLS_BAD_REQUEST, field, "required") : 1;
    if (pls_uuid_parse(s, &u) != 0)
        return fail(v, PLS_BAD_REQUEST, field, "not an order id (UUID)");
    return 1;
}

static int enum_range(vctx_t *v, const char *field, int val, int max)
{
    if (val < 0 || val > max)
        return fail(v, PLS_BAD_REQUEST, field, "value out of range");
    return 1;
}

static void v_submit(vctx_t *v, const Pls__SubmitRequest *s)
{
    code(v, "service", s->service, 1);
    node(v, "origin", s->origin, 1);
    node(v, "locality", s->locality, 0);
    text(v, "desc", s->desc, PLS_MAX_DESC, 1);
    text(v, "key", s->key, PLS_MAX_KEY, 0);
    enum_range(v, "channel", (int)s->channel, PLS__CHANNEL__CHANNEL_PLATFORM);
    enum_range(v, "priority", (int)s->priority, PLS__PRIORITY__PRIORITY_URGENT);
    if (s->citizen) {
        text(v, "citizen.name", s->citizen->name, PLS_MAX_NAME, 0);
        text(v, "citizen.id_type", s->citizen->id_type, PLS_MAX_CODE, 0);
        text(v, "citizen.id_number", s->citizen->id_number, PLS_MAX_NAME, 0);
        text(v, "citizen.phone", s->citizen->phone, PLS_MAX_NAME, 0);
    }
    if (s->fields) {
        text(v, "fields.category", s->fields->category, PLS_MAX_NAME, 0);
        text(v, "fields.applicant_category", s->fields->applicant_category, PLS_MAX_NAME, 0);
        text(v, "fields.counterparty", s->fields->counterparty, PLS_MAX_NOTE, 0);
    }
    if (s->n_attachments > PLS_MAX_ATTACHMENTS)
        fail(v, PLS_TOO_LARGE, "attachments", "more than 16");
    for (size_t i = 0; i < s->n_attachments; i++) {
        const Pls__Attachment *a = s->attachments[i];
        if (strlen(a->sha256) != 64 || strspn(a->sha256, "0123456789abcdef") != 64)
            fail(v, PLS_BAD_REQUEST, "attachments.sha256", "not 64 lowercase hex digits");
        text(v, "attachments.type", a->type, PLS_MAX_NAME, 1);
        text(v, "attachments.location", a->location, PLS_MAX_NOTE, 1);
    }
    uuid(v, "about", s->about, 0);
    code(v, "subject", s->subject, 0);
    node(v, "site", s->site, 0);
}

static void v_items(vctx_t *v, char **items, size_t n)
{
    if (n > PLS_MAX_ITEMS)
        fail(v, PLS_TOO_LARGE, "items", "more than 32 items");
    for (size_t i = 0; i < n; i++)
        text(v, "items", items[i], PLS_MAX_ITEM, 1);
}

static void v_action(vctx_t *v, const Pls__ActionRequest *a)
{
    if (a->verb <= PLS__VERB__VERB_NONE || a->verb > PLS__VERB__VERB_CLOCK)
        fail(v, PLS_BAD_REQUEST, "verb", "unknown action");
    if (a->verb == PLS__VERB__VERB_CLOCK) {
        if (a->clock_speed > 1000000)
            fail(v, PLS_BAD_REQUEST, "clock_speed", "more than 1000000");
        return;
    }
    int needs_order = a->verb != PLS__VERB__VERB_POST_AWAY && a->verb != PLS__VERB__VERB_POST_BACK;
    order_ref(v, "order", a->order, needs_order);
    code(v, "dept", a->dept, !needs_order);
    node(v, "scope", a->scope, !needs_order);
    code(v, "outcome", a->outcome, a->verb == PLS__VERB__VERB_COMPLETE);
    text(v, "note", a->note, PLS_MAX_NOTE, 0);
    v_items(v, a->items, a->n_items);
    text(v, "person", a->person, PLS_MAX_NAME, a->verb == PLS__VERB__VERB_ACCEPT);
    node(v, "to", a->to, a->verb == PLS__VERB__VERB_TRANSFER);
    if (a->pct > 100)
        fail(v, PLS_BAD_REQUEST, "pct", "more than 100");
    if (a->days > 365)
        fail(v, PLS_BAD_REQUEST, "days", "more than 365");
    if (a->verb == PLS__VERB__VERB_NEED_INFO && a->n_items == 0)
        fail(v, PLS_BAD_REQUEST, "items", "need-info lists every missing item; none given");
    if (a->verb == PLS__VERB__VERB_RATE) {
        const Pls__Scores *s = a->scores;
        if (!s || s->attitude < 1 || s->attitude > 5 || s->efficiency < 1 || s->efficiency > 5 ||
            s->competence < 1 || s->competence > 5)
            fail(v, PLS_BAD_REQUEST, "scores", "attitude, efficiency and competence are 1 to 5");
    }
}

static void v_query(vctx_t *v, const Pls__QueryRequest *q)
{
    if (q->kind <= PLS__QUERY_KIND__QUERY_NONE || q->kind > PLS__QUERY_KIND__QUERY_FETCH)
        fail(v, PLS_BAD_REQUEST, "kind", "unknown query");
    order_ref(v, "order", q->order,
              q->kind == PLS__QUERY_KIND__QUERY_SHOW || q->kind == PLS__QUERY_KIND__QUERY_FETCH);
    const Pls__ListFilter *f = q->filter;
    if (f) {
        if (f->state && *f->state)
            code(v, "filter.state", f->state, 0);
        code(v, "filter.service", f->service, 0);
        code(v, "filter.dept", f->dept, 0);
        node(v, "filter.node", f->node, 0);
        text(v, "filter.date", f->date, 10, 0);
        if (f->date && *f->date &&
            (strlen(f->date) != 10 || f->date[4] != '-' || f->date[7] != '-'))
            fail(v, PLS_BAD_REQUEST, "filter.date", "not YYYY-MM-DD");
        text(v, "filter.number", f->number, 64, 0);
        text(v, "filter.key", f->key, PLS_MAX_KEY, 0);
        text(v, "filter.phone", f->phone, PLS_MAX_NAME, 0);
        text(v, "filter.id_number", f->id_number, PLS_MAX_NAME, 0);
        if (f->limit > 1000)
            fail(v, PLS_BAD_REQUEST, "filter.limit", "more than 1000");
    }
}

static void v_held(vctx_t *v, Pls__Held **held, size_t n)
{
    if (n > PLS_MAX_HELD)
        fail(v, PLS_TOO_LARGE, "held", "more than 4096 assignments");
    for (size_t i = 0; i < n; i++)
        uuid(v, "held.order", held[i]->order, 1);
}

static void v_ready(vctx_t *v, const Pls__Ready *r)
{
    if (r->n_depts == 0)
        fail(v, PLS_BAD_REQUEST, "depts", "required");
    if (r->n_depts > PLS_MAX_DEPTS)
        fail(v, PLS_TOO_LARGE, "depts", "more than 32 departments");
    for (size_t i = 0; i < r->n_depts; i++)
        code(v, "depts", r->depts[i], 1);
    node(v, "scope", r->scope, 1);
    enum_range(v, "role", (int)r->role, PLS__ROLE__ROLE_B);
    enum_range(v, "custody", (int)r->custody, PLS__CUSTODY__CUSTODY_STAFF);
    if (r->credit > 100000)
        fail(v, PLS_BAD_REQUEST, "credit", "more than 100000");
    v_held(v, r->held, r->n_held);
    text(v, "name", r->name, PLS_MAX_NAME, 1);
}

static void v_report(vctx_t *v, const Pls__Report *r)
{
    if (r->kind <= PLS__REPORT_KIND__REPORT_NONE || r->kind > PLS__REPORT_KIND__REPORT_OUTCOME)
        fail(v, PLS_BAD_REQUEST, "kind", "unknown report");
    uuid(v, "order", r->order, 1);
    if (r->attempt == 0)
        fail(v, PLS_BAD_REQUEST, "attempt", "required");
    text(v, "person", r->person, PLS_MAX_NAME, 0);
    if (r->pct > 100)
        fail(v, PLS_BAD_REQUEST, "pct", "more than 100");
    text(v, "note", r->note, PLS_MAX_NOTE, 0);
    code(v, "outcome", r->outcome, r->kind == PLS__REPORT_KIND__REPORT_OUTCOME);
    v_items(v, r->items, r->n_items);
    if (r->days > 365)
        fail(v, PLS_BAD_REQUEST, "days", "more than 365");
}

/* The batch as a whole; each message is checked by the receiver
 * (pls_proto_link_msg_check), which skips a bad one and goes on. */
static void v_link(vctx_t *v, const Pls__LinkBatch *l)
{
    node(v, "node", l->node, 1);
    if (l->n_msgs > 4096)
        fail(v, PLS_TOO_LARGE, "msgs", "more than 4096 messages");
    for (size_t i = 0; i < l->n_msgs; i++)
        if (l->msgs[i]->seq == 0)
            fail(v, PLS_BAD_REQUEST, "msgs.seq", "required");
}

int pls_proto_link_msg_check(const Pls__LinkMsg *m, char *reason, size_t reasonsz)
{
    vctx_t v = {0, reason, reasonsz};
    reason[0] = '\0';
    node(&v, "from", m->from, 1);
    if (m->n_to == 0 || m->n_to > 8)
        fail(&v, PLS_BAD_REQUEST, "to", "one to eight nodes");
    for (size_t k = 0; k < m->n_to; k++)
        node(&v, "to", m->to[k], 1);
    code(&v, "kind", m->kind, 1);
    uuid(&v, "order", m->order, 1);
    text(&v, "body", m->body, PLS_MAX_ENVELOPE, 1);
    return v.status;
}

int pls_proto_validate(const Pls__Envelope *e, char *reason, size_t reasonsz)
{
    vctx_t v = {0, reason, reasonsz};
    reason[0] = '\0';
    if (e->body_case != PLS__ENVELOPE__BODY_LINK && e->body_case != PLS__ENVELOPE__BODY_REPLY &&
        pls__envelope__get_packed_size(e) > PLS_MAX_ENVELOPE) {
        char what[64];
        snprintf(what, sizeof(what), "larger than %d bytes", PLS_MAX_ENVELOPE);
        fail(&v, PLS_TOO_LARGE, "envelope", what);
    }
    if (e->version != PLS_PROTO_VERSION)
        fail(&v, PLS_BAD_REQUEST, "version", "unsupported protocol version (want 1)");
    text(&v, "actor", e->actor, PLS_MAX_NAME, 0);
    switch (e->body_case) {
    case PLS__ENVELOPE__BODY_SUBMIT:
        v_submit(&v, e->submit);
        break;
    case PLS__ENVELOPE__BODY_ACTION:
        v_action(&v, e->action);
        break;
    case PLS__ENVELOPE__BODY_QUERY:
        v_query(&v, e->query);
        break;
    case PLS__ENVELOPE__BODY_READY:
        v_ready(&v, e->ready);
        break;
    case PLS__ENVELOPE__BODY_HEARTBEAT:
        v_held(&v, e->heartbeat->held, e->heartbeat->n_held);
        break;
    case PLS__ENVELOPE__BODY_REPORT:
        v_report(&v, e->report);
        break;
    case PLS__ENVELOPE__BODY_ASSIGN:
        uuid(&v, "order", e->assign->order, 1);
        break;
    case PLS__ENVELOPE__BODY_REVOKE:
        uuid(&v, "order", e->revoke->order, 1);
        text(&v, "reason", e->revoke->reason, PLS_MAX_NOTE, 0);
        break;
    case PLS__ENVELOPE__BODY_REPLY:
        text(&v, "reason", e->reply->reason, PLS_MAX_NOTE, 0);
        text(&v, "json", e->reply->json, PLS_MAX_FRAME, 0);
        break;
    case PLS__ENVELOPE__BODY_HELLO:
        node(&v, "node", e->hello->node, 1);
        break;
    case PLS__ENVELOPE__BODY_LINK:
        v_link(&v, e->link);
        break;
    case PLS__ENVELOPE__BODY_SUMMARY:
        node(&v, "node", e->summary->node, 1);
        text(&v, "json", e->summary->json, PLS_MAX_ENVELOPE, 1);
        break;
    default:
        fail(&v, PLS_BAD_REQUEST, "body", "empty or unknown message");
    }
    return v.status;
}
