/*
 * bk_fed — see bk_fed.h for the link protocol and the ownership rules.
 *
 * Layout: links (find, route, send queue, pump, page reads), the batch hooks
 * (copies to send, link rows to write, commit), incoming Hello/LinkBatch,
 * applying forwards, events and requests, building forwards from the store,
 * and status.
 */
#include "bk_fed.h"

#include "bk_core.h"
#include "bk_core_int.h"
#include "bk_limits.h"
#include "bk_linkbody.h"
#include "bk_rules.h"
#include "pls_log.h"
#include "pls_time.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ links */

static void lmsg_free(bk_lmsg_t *m)
{
    free(m->to);
    free(m->from);
    free(m->kind);
    free(m->order);
    free(m->body);
    memset(m, 0, sizeof(*m));
}

static void link_clear_queues(bk_link_t *l)
{
    for (size_t i = 0; i < l->q_len; i++)
        lmsg_free(&l->q[(l->q_head + i) % l->q_cap]);
    l->q_head = l->q_len = 0;
    for (size_t i = 0; i < l->n_pend; i++)
        lmsg_free(&l->pend[i]);
    l->n_pend = 0;
}

static void link_free(bk_link_t *l)
{
    link_clear_queues(l);
    free(l->q);
    free(l->pend);
    free(l->summary);
    free(l);
}

void bk_fed_init(bk_fed_t *f, const char *parent_node)
{
    memset(f, 0, sizeof(*f));
    snprintf(f->parent_node, sizeof(f->parent_node), "%s", parent_node ? parent_node : "");
    bk_recs_init(&f->outbox_vals);
    bk_recs_init(&f->copy_events);
    bk_recs_init(&f->copy_update);
    bk_recs_init(&f->fwd_orders);
    bk_recs_init(&f->fwd_citizens);
    bk_recs_init(&f->fwd_own);
    pls_buf_init(&f->own_content);
}

static void clear_asked(bk_fed_t *f)
{
    for (size_t i = 0; i < f->n_asked; i++)
        free(f->asked_from[i]);
    f->n_asked = 0;
}

void bk_fed_cleanup(bk_fed_t *f)
{
    for (size_t i = 0; i < f->n_links; i++)
        link_free(f->links[i]);
    free(f->links);
    for (size_t i = 0; i < f->n_known; i++)
        free(f->known[i]);
    free(f->known);
    for (size_t i = 0; i < f->n_codes; i++)
        free(f->codes[i]);
    free(f->codes);
    free(f->fwd);
    clear_asked(f);
    free(f->asked_from);
    free(f->asked_order);
    free(f->asked_gen);
    free(f->asked_found);
    for (size_t i = 0; i < f->n_copies; i++)
        json_decref(f->copies[i].snap);
    free(f->copies);
    bk_index_cleanup(&f->copy_index);
    bk_recs_cleanup(&f->outbox_vals);
    bk_recs_cleanup(&f->copy_events);
    bk_recs_cleanup(&f->copy_update);
    bk_recs_cleanup(&f->fwd_orders);
    bk_recs_cleanup(&f->fwd_citizens);
    bk_recs_cleanup(&f->fwd_own);
    pls_buf_cleanup(&f->own_content);
    free(f->own);
    free(f->refused_kept);
    free(f->pauses);
    memset(f, 0, sizeof(*f));
}

void bk_fed_reset(bk_core_t *c)
{
    bk_fed_t *f = &c->fed;
    char parent[132];
    snprintf(parent, sizeof(parent), "%s", f->parent_node);
    char **known = f->known, **codes = f->codes;
    size_t n_known = f->n_known, n_codes = f->n_codes;
    f->known = f->codes = NULL;
    f->n_known = f->n_codes = 0;
    /* the refused counts: their messages are acknowledged and never come
     * again, so status must not forget them at a reload */
    bk_refused_t *kept = f->refused_kept;
    size_t n_kept = f->n_refused_kept;
    f->refused_kept = NULL;
    kept = pls_xrealloc(kept, (n_kept + f->n_links + 1) * sizeof(*kept));
    for (size_t i = 0; i < f->n_links; i++) {
        const bk_link_t *l = f->links[i];
        if (!l->refused)
            continue;
        bk_refused_t *k = &kept[n_kept++];
        snprintf(k->peer, sizeof(k->peer), "%s", l->peer);
        k->n = l->refused;
        snprintf(k->order, sizeof(k->order), "%s", l->refused_order);
    }
    bk_pause_t *pauses = f->pauses;
    size_t n_pauses = f->n_pauses;
    f->pauses = NULL;
    bk_fed_cleanup(f);
    bk_fed_init(f, parent);
    f->pauses = pauses;
    f->n_pauses = n_pauses;
    f->known = known;
    f->n_known = n_known;
    f->codes = codes;
    f->n_codes = n_codes;
    f->refused_kept = kept;
    f->n_refused_kept = n_kept;
}

static bk_link_t *link_find(bk_fed_t *f, const char *peer)
{
    for (size_t i = 0; i < f->n_links; i++)
        if (strcmp(f->links[i]->peer, peer) == 0)
            return f->links[i];
    return NULL;
}

static bk_link_t *link_add(bk_fed_t *f, const char *peer, int is_parent)
{
    bk_link_t *l = pls_xcalloc(1, sizeof(*l));
    snprintf(l->peer, sizeof(l->peer), "%s", peer);
    l->is_parent = is_parent;
    l->next_seq = 1;
    l->is_new = 1;
    l->state_dirty = 1;
    if (f->n_links == f->cap_links) {
        f->cap_links = f->cap_links ? f->cap_links * 2 : 8;
        f->links = pls_xrealloc(f->links, f->cap_links * sizeof(*f->links));
    }
    f->links[f->n_links++] = l;
    if (is_parent)
        f->parent = l;
    for (size_t i = 0; i < f->n_refused_kept; i++) {
        bk_refused_t *k = &f->refused_kept[i];
        if (strcmp(k->peer, peer) == 0) {
            l->refused = k->n;
            snprintf(l->refused_order, sizeof(l->refused_order), "%s", k->order);
            *k = f->refused_kept[--f->n_refused_kept];
            break;
        }
    }
    return l;
}

static int known_child(const bk_core_t *c, const char *node)
{
    for (size_t i = 0; i < c->fed.n_known; i++)
        if (strcmp(c->fed.known[i], node) == 0)
            return 1;
    return link_find((bk_fed_t *)&c->fed, node) != NULL;
}

static void code_claim(bk_core_t *c, const char *id)
{
    char code[48];
    pls_node_code(id, code, sizeof(code));
    const char *label = strrchr(id, '.') + 1;
    size_t base = (size_t)(strrchr(code, '-') - code) + 1;
    for (size_t extra = 0;; extra++) {
        int taken = 0;
        for (size_t i = 0; i < c->fed.n_codes; i++)
            taken |= strcmp(c->fed.codes[i], code) == 0;
        if (!taken)
            break;
        /* one more letter of the label each round: HJ, HOUJ..., the whole label */
        size_t n = strlen(label) < 2 + extra ? strlen(label) : 2 + extra;
        snprintf(code + base, sizeof(code) - base, "%.*s", (int)n, label);
        for (char *q = code + base; *q; q++)
            *q = (char)toupper((unsigned char)*q);
        if (n == strlen(label) && extra > strlen(label))
            break;
    }
    c->fed.codes = pls_xrealloc(c->fed.codes, (c->fed.n_codes + 1) * sizeof(char *));
    c->fed.codes[c->fed.n_codes++] = pls_xstrdup(code);
    if (strcmp(id, c->node) == 0)
        snprintf(c->node_code, sizeof(c->node_code), "%s", code);
}

int bk_fed_load_topology(bk_core_t *c, const char *path, char *err, size_t errsz)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        snprintf(err, errsz, "%s: %s", path, strerror(errno));
        return -errno;
    }
    char line[512];
    int lineno = 0, depth = pls_node_depth(c->node);
    while (fgets(line, sizeof(line), fp)) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0] || line[0] == '#' || (lineno == 1 && strncmp(line, "id,", 3) == 0))
            continue;
        char *id = line, *kind = strrchr(line, ',');
        char *comma = strchr(line, ',');
        if (!comma || !kind) {
            snprintf(err, errsz, "%s:%d: expected id,name_zh,name_en,kind", path, lineno);
            fclose(fp);
            return -EINVAL;
        }
        *comma = '\0';
        kind++;
        if (!pls_node_valid(id)) {
            snprintf(err, errsz, "%s:%d: '%s' is not a node id", path, lineno, id);
            fclose(fp);
            return -EINVAL;
        }
        /* order-number codes: the first of same-level nodes in the file keeps
         * its initials, a later clash takes more letters (all brokers read the
         * same file, so they agree) */
        if (pls_node_depth(id) == depth && pls_node_depth(id) > 1)
            code_claim(c, id);
        /* a child broker: one level below us, and not a village */
        if (pls_node_depth(id) == depth + 1 && pls_node_within(id, c->node) &&
            strcmp(kind, "village") != 0) {
            c->fed.known = pls_xrealloc(c->fed.known, (c->fed.n_known + 1) * sizeof(char *));
            c->fed.known[c->fed.n_known++] = pls_xstrdup(id);
        }
    }
    fclose(fp);
    return 0;
}

const char *bk_fed_broker_of(bk_core_t *c, const char *scope)
{
    if (!pls_node_within(scope, c->node)) {
        if (c->fed.parent_node[0])
            return c->fed.parent_node;
        return c->node;
    }
    int depth = pls_node_depth(c->node);
    if (pls_node_depth(scope) == depth)
        return c->node;
    char child[PLS_NODE_MAX];
    pls_node_prefix(scope, depth + 1, child, sizeof(child));
    if (known_child(c, child))
        return bk_dispatch_intern(&c->disp, child);
    return c->node;
}

/* The link a message for `to` leaves by, or NULL (for us, or no way). */
static bk_link_t *next_hop(bk_core_t *c, const char *to)
{
    if (strcmp(to, c->node) == 0)
        return NULL;
    if (pls_node_within(to, c->node)) {
        char child[PLS_NODE_MAX];
        pls_node_prefix(to, pls_node_depth(c->node) + 1, child, sizeof(child));
        bk_link_t *l = link_find(&c->fed, child);
        if (!l && known_child(c, child))
            l = link_add(&c->fed, child, 0);
        return l;
    }
    return c->fed.parent;
}

/* ------------------------------------------------------- send queue */

static bk_lmsg_t *q_at(bk_link_t *l, size_t i)
{
    return &l->q[(l->q_head + i) % l->q_cap];
}

static uint64_t q_last(const bk_link_t *l)
{
    return l->q_len ? l->q[(l->q_head + l->q_len - 1) % l->q_cap].seq : l->acked;
}

static void q_push(bk_link_t *l, bk_lmsg_t *m)
{
    if (l->q_len == l->q_cap) {
        size_t ncap = l->q_cap ? l->q_cap * 2 : 256;
        bk_lmsg_t *nq = pls_xcalloc(ncap, sizeof(*nq));
        for (size_t i = 0; i < l->q_len; i++)
            nq[i] = *q_at(l, i);
        free(l->q);
        l->q = nq;
        l->q_head = 0;
        l->q_cap = ncap;
    }
    *q_at(l, l->q_len++) = *m;
    memset(m, 0, sizeof(*m));
}

static void q_pop_acked(bk_link_t *l)
{
    while (l->q_len && l->q[l->q_head].seq <= l->acked) {
        lmsg_free(&l->q[l->q_head]);
        l->q_head = (l->q_head + 1) % l->q_cap;
        l->q_len--;
    }
}

static void send_env(bk_core_t *c, bk_link_t *l, Pls__Envelope *env)
{
    uint8_t *buf;
    size_t len;
    env->version = PLS_PROTO_VERSION;
    pls_proto_pack(env, &buf, &len);
    if (l->is_parent)
        c->send(c->send_arg, NULL, 0, buf, len);
    else if (l->ident_len)
        c->send(c->send_arg, l->ident, l->ident_len, buf, len);
    free(buf);
    l->last_tx_ms = pls_mono_ms();
}

static void send_hello(bk_core_t *c, bk_link_t *l, int reply)
{
    Pls__Envelope env;
    Pls__Hello h;
    pls__envelope__init(&env);
    pls__hello__init(&h);
    h.node = c->node;
    h.wall_ms = pls_wall_ms();
    h.last_applied = l->applied_committed;
    h.reply = reply != 0;
    h.link_format = BK_LINK_FORMAT;
    env.body_case = PLS__ENVELOPE__BODY_HELLO;
    env.hello = &h;
    send_env(c, l, &env);
    l->last_hello_ms = pls_mono_ms();
}

static void request_page(bk_core_t *c, bk_link_t *l);
static void copy_update_rec(bk_core_t *c, const bk_copy_t *cp);

/* Send what the window allows, and the acknowledgement. */
static void pump(bk_core_t *c, bk_link_t *l)
{
    if (!l->connected)
        return;
    for (;;) {
        uint64_t limit =
            l->committed < l->acked + BK_LINK_WINDOW ? l->committed : l->acked + BK_LINK_WINDOW;
        Pls__LinkMsg msgs[128];
        Pls__LinkMsg *ptrs[128];
        char *legacy[128]; /* bodies made for a peer that reads format 1 only */
        size_t n = 0;
        if (l->sent < l->acked)
            l->sent = l->acked;
        size_t bytes = 0;
        while (l->sent + n < limit && n < 128) {
            uint64_t want = l->sent + n + 1;
            if (!l->q_len || l->q[l->q_head].seq > want || q_last(l) < want)
                break;
            bk_lmsg_t *m = q_at(l, (size_t)(want - l->q[l->q_head].seq));
            char *body = m->body, *old = NULL;
            if (l->peer_format < BK_LINK_FORMAT && bk_lb_has_tail(m->body) &&
                (old = bk_lb_legacy(m->body)))
                body = old;
            /* keep a batch under the envelope cap (a single big message goes alone) */
            size_t sz = strlen(body) + strlen(m->to) + strlen(m->kind) + 96;
            if (n && bytes + sz > BK_LINK_BATCH_BYTES) {
                free(old);
                break;
            }
            bytes += sz;
            pls__link_msg__init(&msgs[n]);
            msgs[n].seq = m->seq;
            msgs[n].from = m->from;
            msgs[n].n_to = 1;
            msgs[n].to = &m->to;
            msgs[n].kind = m->kind;
            msgs[n].order = m->order;
            msgs[n].body = body;
            legacy[n] = old;
            ptrs[n] = &msgs[n];
            n++;
        }
        int ack = l->ack_due;
        if (!n && !ack) {
            if (l->spill && l->sent < l->committed && l->sent < l->acked + BK_LINK_WINDOW)
                request_page(c, l);
            return;
        }
        Pls__Envelope env;
        Pls__LinkBatch lb;
        pls__envelope__init(&env);
        pls__link_batch__init(&lb);
        lb.node = c->node;
        lb.n_msgs = n;
        lb.msgs = ptrs;
        lb.ack = l->applied_committed;
        env.body_case = PLS__ENVELOPE__BODY_LINK;
        env.link = &lb;
        send_env(c, l, &env);
        for (size_t i = 0; i < n; i++)
            free(legacy[i]);
        l->sent += n;
        l->ack_due = 0;
        if (!n)
            return;
    }
}

static void on_page(void *arg, int ok, const bk_rows_t *rows, const char *err)
{
    bk_core_t *c = arg;
    PLS_UNUSED(err);
    /* the link is found again by name: it may have been reset meanwhile */
    if (!ok || !rows) {
        for (size_t i = 0; i < c->fed.n_links; i++)
            c->fed.links[i]->reading = 0;
        return;
    }
    int n = bk_rows_count(rows);
    if (n == 0) {
        for (size_t i = 0; i < c->fed.n_links; i++)
            if (c->fed.links[i]->reading == 2) {
                bk_link_t *l = c->fed.links[i];
                l->reading = 0;
                if (q_last(l) >= l->committed)
                    l->spill = 0;
            }
        return;
    }
    bk_link_t *l = link_find(&c->fed, bk_rows_get(rows, 0, 6));
    if (!l)
        return;
    l->reading = 0;
    for (int i = 0; i < n; i++) {
        uint64_t seq = strtoull(bk_rows_get(rows, i, 0), NULL, 10);
        if (seq != q_last(l) + 1)
            continue; /* already cached, or not contiguous */
        bk_lmsg_t m;
        m.seq = seq;
        m.gen = 0;
        m.at_ms = strtoll(bk_rows_get(rows, i, 7), NULL, 10);
        m.to = pls_xstrdup(bk_rows_get(rows, i, 1));
        m.from = pls_xstrdup(bk_rows_get(rows, i, 2));
        m.kind = pls_xstrdup(bk_rows_get(rows, i, 3));
        m.order = pls_xstrdup(bk_rows_get(rows, i, 4));
        m.body = pls_xstrdup(bk_rows_get(rows, i, 5));
        q_push(l, &m);
    }
    if (n < BK_LINK_PAGE && q_last(l) >= l->committed)
        l->spill = 0; /* everything committed is cached now */
    pump(c, l);
}

static void request_page(bk_core_t *c, bk_link_t *l)
{
    if (l->reading || l->q_len >= BK_LINK_CACHE)
        return;
    char after[24];
    snprintf(after, sizeof(after), "%llu", (unsigned long long)q_last(l));
    const char *params[2] = {l->peer, after};
    /* the peer's name is echoed so that the answer finds its link */
    if (bk_store_query(c->store,
                       "SELECT seq, to_node, from_node, kind, order_id, body, peer, "
                       "(date_part('epoch', created_at) * 1000)::bigint FROM link_outbox "
                       "WHERE peer = $1 AND seq > $2::bigint ORDER BY seq LIMIT 500",
                       2, params, on_page, c) == 0)
        l->reading = 2;
}

/* ------------------------------------------------------ batch hooks */

int bk_fed_emit(bk_core_t *c, const char *to, const char *from, const char *kind,
                const pls_uuid_t *order, const char *body)
{
    bk_link_t *l = next_hop(c, to);
    if (!l) {
        pls_debug("no link towards %s: message dropped", to);
        return -1;
    }
    if (l->n_pend == l->cap_pend) {
        l->cap_pend = l->cap_pend ? l->cap_pend * 2 : 64;
        l->pend = pls_xrealloc(l->pend, l->cap_pend * sizeof(*l->pend));
    }
    char oid[PLS_UUID_STR];
    pls_uuid_format(order, oid);
    bk_lmsg_t *m = &l->pend[l->n_pend++];
    m->seq = l->next_seq++;
    m->gen = c->cur->gen;
    m->at_ms = pls_wall_ms();
    m->to = pls_xstrdup(to);
    m->from = pls_xstrdup(from ? from : c->node);
    m->kind = pls_xstrdup(kind);
    m->order = pls_xstrdup(oid);
    m->body = pls_xstrdup(body);
    if (l->next_seq - 1 == l->acked + 1 || !l->oldest_unacked_ms)
        l->oldest_unacked_ms = m->at_ms;
    l->state_dirty = 1;
    c->cur->touched = 1;
    bk_recs_t *r = &c->fed.outbox_vals; /* a link_outbox row for pls_outbox() (sql/007) */
    pls_buf_t *v = &r->buf;
    bk_rec_begin(r);
    bk_rec_text(v, l->peer);
    bk_rec_int(v, BK_T_INT8, (int64_t)m->seq);
    bk_rec_text(v, m->to); /* "" stays "": the columns are NOT NULL */
    bk_rec_text(v, m->from);
    bk_rec_text(v, m->kind);
    bk_rec_uuid(v, order);
    bk_rec_text(v, m->body);
    bk_rec_at(v, m->at_ms);
    bk_rec_end(r);
    return 0;
}

/* The members of a snapshot: {"state",...} from a batch row. */
static void snap_json(bk_core_t *c, pls_buf_t *b, const bk_row_t *r)
{
    pls_buf_adds(b, "{\"state\":\"");
    pls_buf_adds(b, bk_state_name(r->state));
    pls_buf_adds(b, "\",\"step\":");
    pls_buf_add_i64(b, r->step);
    pls_buf_adds(b, ",\"attempt\":");
    pls_buf_add_u64(b, r->attempt);
    bk__p_str(b, "dept", r->dept);
    bk__p_str(b, "scope", r->scope);
    bk__p_str(b, "owner", r->owner ? r->owner : c->node);
    bk__p_str(b, "prev_owner", r->prev_owner);
    bk__p_int(b, "next_seq", r->seq + r->n);
    bk__p_int(b, "flags", r->flags);
    bk__p_int(b, "custody", r->custody);
    bk__p_int(b, "due_ms", r->due_ms);
    bk__p_int(b, "whole_due_ms", r->whole_due_ms);
    bk__p_int(b, "alarms", r->alarms);
    bk__p_int(b, "ext_days", r->ext_days);
    pls_buf_addc(b, '}');
}

/* The order's event row of this batch in link format 2 (bk_linkbody.h): its
 * head in the body's "rows", its entries after the body. */
static void row_head(pls_buf_t *b, const bk_row_t *r)
{
    bk_lb_row_head(b, r->seq, r->n, r->at_ms, r->entries.len + 2);
}

static void row_entries(pls_buf_t *b, const bk_row_t *r)
{
    pls_buf_addc(b, '[');
    pls_buf_add(b, r->entries.data ? r->entries.data : "", r->entries.len);
    pls_buf_addc(b, ']');
}

/* Who keeps a copy of an order owned here: its intake node and every node
 * above us (DESIGN §7). */
static int copy_holders(bk_core_t *c, const bk_row_t *r, const char **out)
{
    int n = 0;
    if (r->intake && strcmp(r->intake, c->node) != 0 && !pls_node_within(c->node, r->intake))
        out[n++] = r->intake;
    char up[PLS_NODE_MAX];
    for (int d = pls_node_depth(c->node) - 1; d >= 1 && c->fed.parent_node[0]; d--) {
        pls_node_prefix(c->node, d, up, sizeof(up));
        const char *node = bk_dispatch_intern(&c->disp, up);
        if (!(n && out[0] == node))
            out[n++] = node;
    }
    return n;
}

void bk_fed_before_flush(bk_core_t *c, bk_batch_t *b)
{
    bk_fed_t *f = &c->fed;
    if (!f->parent && !f->n_links && !f->n_known)
        return; /* a single command center */
    pls_buf_t body;
    pls_buf_init(&body);
    for (uint32_t i = 0; i < b->n_rows; i++) {
        bk_row_t *r = &b->rows[i];
        if (!r->n)
            continue;
        const char *to[6];
        int n = copy_holders(c, r, to);
        if (!n)
            continue;
        pls_buf_reset(&body);
        int is_forward = r->is_new;
        pls_buf_adds(&body, "{");
        if (is_forward) {
            /* a new order: its content first (no personal data) */
            bk_new_t *nw = &b->news[r->new_idx];
            pls_buf_adds(&body, "\"order\":{");
            pls_buf_add(&body, nw->fields.data ? nw->fields.data : "", nw->fields.len);
            pls_buf_adds(&body, "},");
        }
        pls_buf_adds(&body, "\"snap\":");
        snap_json(c, &body, r);
        pls_buf_adds(&body, ",\"rows\":[");
        row_head(&body, r);
        pls_buf_adds(&body, "]}");
        row_entries(&body, r);
        for (int k = 0; k < n; k++)
            bk_fed_emit(c, to[k], NULL, is_forward ? "forward" : "event", &r->id, body.data);
    }
    pls_buf_cleanup(&body);
    /* what applying link messages produced goes before the order statements:
     * the orders of Forwards first (their events and updates need the rows) */
    if (f->fwd_orders.n) {
        /* copies: no personal data (that of ours goes with them, next) */
        bk_recs_t none;
        bk_recs_init(&none);
        const bk_param_t v[] = {bk_recs_param(&f->fwd_orders, c->rowtypes.orders),
                                bk_recs_param(&none, c->rowtypes.citizens)};
        bk_sql_addp(&b->pre, "SELECT pls_forwards($1::orders[], $2::citizens[])", 2, v);
        bk_recs_cleanup(&none);
        bk_recs_reset(&f->fwd_orders);
    }
    if (f->n_own || f->fwd_citizens.n) {
        /* the orders we now own, with the state this batch leaves them in:
         * one write each, their rows are not in pls_batch()'s changes */
        int64_t now = pls_rule_ms();
        for (size_t i = 0; i < f->n_own; i++) {
            const struct bk_fwd_own *w = &f->own[i];
            bk_rec_begin(&f->fwd_own);
            pls_buf_add(&f->fwd_own.buf, f->own_content.data + w->off, w->len);
            bk_rec_order_state(&f->fwd_own.buf, &b->rows[w->row], now);
            bk_rec_end(&f->fwd_own);
            b->rows_written++;
        }
        const bk_param_t v[] = {bk_recs_param(&f->fwd_own, c->rowtypes.orders),
                                bk_recs_param(&f->fwd_citizens, c->rowtypes.citizens)};
        bk_sql_addp(&b->pre, "SELECT pls_forwards_own($1::orders[], $2::citizens[])", 2, v);
        bk_recs_reset(&f->fwd_own);
        bk_recs_reset(&f->fwd_citizens);
        pls_buf_reset(&f->own_content);
        f->n_own = 0;
    }
    for (size_t i = 0; i < f->n_copies; i++) {
        copy_update_rec(c, &f->copies[i]);
        json_decref(f->copies[i].snap);
    }
    f->n_copies = 0;
    if (f->copy_index.slots) {
        bk_index_cleanup(&f->copy_index);
        f->copy_index.slots = NULL;
    }
    if (f->copy_events.n || f->copy_update.n) {
        /* event rows and snapshots of copies (sql/012); the copies updated
         * come back as two columns, so the commit tells them from intake ids */
        const bk_param_t v[] = {bk_recs_param(&f->copy_events, c->rowtypes.events),
                                bk_recs_param(&f->copy_update, c->rowtypes.orders)};
        bk_sql_addp(&b->pre, "SELECT * FROM pls_copies($1::events[], $2::orders[])", 2, v);
        bk_recs_reset(&f->copy_events);
        bk_recs_reset(&f->copy_update);
    }
    for (size_t i = 0; i < f->n_links; i++) {
        bk_link_t *l = f->links[i];
        /* what this batch acknowledges once committed (bk_fed_after_commit) */
        l->flushed[b->gen % BK_STORE_FLIGHT_MAX] = (bk_flushed_t){b->gen, l->applied, 0};
        if (l->state_dirty || l->is_new) {
            char n[3][24];
            snprintf(n[0], sizeof(n[0]), "%llu", (unsigned long long)l->applied);
            snprintf(n[1], sizeof(n[1]), "%llu", (unsigned long long)l->next_seq);
            snprintf(n[2], sizeof(n[2]), "%llu", (unsigned long long)l->acked);
            const char *v[] = {l->peer, l->is_parent ? "true" : "false", n[0], n[1], n[2]};
            bk_sql_add(&b->extra,
                       "INSERT INTO link_state (peer, is_parent, applied, next_seq, acked) "
                       "VALUES ($1, $2::boolean, $3::bigint, $4::bigint, $5::bigint) ON CONFLICT "
                       "(peer) DO UPDATE SET applied = EXCLUDED.applied, next_seq = "
                       "EXCLUDED.next_seq, acked = EXCLUDED.acked",
                       5, v);
            l->state_dirty = 0;
            l->is_new = 0;
        }
        if (l->acked_dirty) {
            char n[2][24];
            snprintf(n[0], sizeof(n[0]), "%llu",
                     (unsigned long long)(l->acked < l->purged ? 0 : l->purged));
            snprintf(n[1], sizeof(n[1]), "%llu", (unsigned long long)l->acked);
            const char *v[] = {l->peer, n[0], n[1]};
            bk_sql_add(&b->extra,
                       "DELETE FROM link_outbox WHERE peer = $1 AND seq > $2::bigint AND seq <= "
                       "$3::bigint",
                       3, v);
            l->flushed[b->gen % BK_STORE_FLIGHT_MAX].purge = l->acked;
            l->acked_dirty = 0;
        }
    }
    if (f->outbox_vals.n) {
        const bk_param_t v[] = {bk_recs_param(&f->outbox_vals, c->rowtypes.link_outbox)};
        bk_sql_addp(&b->extra, "SELECT pls_outbox($1::link_outbox[])", 1, v);
        bk_recs_reset(&f->outbox_vals);
    }
}

/* A copy an Event named exists after all: no Forward needs asking for it. */
static void asked_found(bk_fed_t *f, const pls_uuid_t *id)
{
    for (size_t k = 0; k < f->n_asked; k++)
        if (memcmp(f->asked_order[k].b, id->b, 16) == 0)
            f->asked_found[k] = 1;
}

void bk_fed_copy_rows(bk_core_t *c, const void *rows_)
{
    const bk_rows_t *rows = rows_;
    /* an asked copy that came back exists */
    for (int i = 0; i < bk_rows_count(rows); i++) {
        pls_uuid_t id;
        if (pls_uuid_parse(bk_rows_get(rows, i, 0), &id) == 0)
            asked_found(&c->fed, &id);
    }
}

/* A copy an Event named: if the batch's copy UPDATE does not find it, this
 * node never had it, and asks its owner for a Forward. */
static void ask_forward(bk_core_t *c, const char *from, const pls_uuid_t *id)
{
    bk_fed_t *f = &c->fed;
    if (f->n_asked == f->cap_asked) {
        f->cap_asked = f->cap_asked ? f->cap_asked * 2 : 32;
        f->asked_from = pls_xrealloc(f->asked_from, f->cap_asked * sizeof(char *));
        f->asked_order = pls_xrealloc(f->asked_order, f->cap_asked * sizeof(pls_uuid_t));
        f->asked_gen = pls_xrealloc(f->asked_gen, f->cap_asked * sizeof(uint32_t));
        f->asked_found = pls_xrealloc(f->asked_found, f->cap_asked * sizeof(uint8_t));
    }
    f->asked_from[f->n_asked] = pls_xstrdup(from);
    f->asked_order[f->n_asked] = *id;
    f->asked_gen[f->n_asked] = c->cur->gen;
    f->asked_found[f->n_asked] = 0;
    f->n_asked++;
}

static bk_pause_t *pause_of(bk_fed_t *f, const char *peer)
{
    for (size_t i = 0; i < f->n_pauses; i++)
        if (strcmp(f->pauses[i].peer, peer) == 0)
            return &f->pauses[i];
    return NULL;
}

/* A batch with the peer's messages up to the paused ones committed: they
 * went in, the pause is over. */
static void pause_end(bk_core_t *c, const bk_link_t *l)
{
    bk_fed_t *f = &c->fed;
    bk_pause_t *p = pause_of(f, l->peer);
    if (!p || l->applied_committed < p->hi)
        return;
    pls_info("messages from %s up to %llu are applied: its link goes on", l->peer,
             (unsigned long long)p->hi);
    *p = f->pauses[--f->n_pauses];
}

void bk_fed_batch_refused(bk_core_t *c, const bk_batch_t *b, const char *why)
{
    bk_fed_t *f = &c->fed;
    for (size_t i = 0; i < f->n_links; i++) {
        const bk_link_t *l = f->links[i];
        const bk_flushed_t *fl = &l->flushed[b->gen % BK_STORE_FLIGHT_MAX];
        if (fl->gen != b->gen || fl->applied <= l->applied_committed)
            continue; /* none of its messages in b */
        bk_pause_t *p = pause_of(f, l->peer);
        if (!p) {
            f->pauses = pls_xrealloc(f->pauses, (f->n_pauses + 1) * sizeof(*f->pauses));
            p = &f->pauses[f->n_pauses++];
            memset(p, 0, sizeof(*p));
            snprintf(p->peer, sizeof(p->peer), "%s", l->peer);
        }
        p->n++;
        p->fresh = 1;
        p->hi = fl->applied;
        /* 4 s .. 256 s: a town says Hello again only after 3.5 s of silence
         * (BK_LINK_TIMEOUT_MS), so a shorter wait would be over before its
         * first delivery after the reload */
        int64_t wait_s = (int64_t)4 << (p->n - 1 < 6 ? p->n - 1 : 6);
        p->until_ms = pls_mono_ms() + wait_s * 1000;
        pls_warn("messages %llu to %llu from %s were in a batch PostgreSQL refused (%s): they are "
                 "applied again in %lld s; the broker serves everyone else meanwhile",
                 (unsigned long long)l->applied_committed + 1, (unsigned long long)fl->applied,
                 l->peer, why && *why ? why : "no reason given", (long long)wait_s);
    }
}

void bk_fed_refusal_explained(bk_core_t *c, int explained)
{
    bk_fed_t *f = &c->fed;
    for (size_t i = 0; i < f->n_pauses;) {
        bk_pause_t *p = &f->pauses[i];
        if (p->fresh && explained) {
            pls_info("messages from %s go on: a new order of the refused batch was the one "
                     "refused",
                     p->peer);
            if (--p->n == 0) {
                *p = f->pauses[--f->n_pauses];
                continue;
            }
            p->until_ms = 0;
        }
        p->fresh = 0;
        i++;
    }
}

void bk_fed_after_commit(bk_core_t *c, uint32_t gen)
{
    bk_fed_t *f = &c->fed;
    for (size_t i = 0; i < f->n_links; i++) {
        bk_link_t *l = f->links[i];
        size_t keep = 0;
        for (size_t k = 0; k < l->n_pend; k++) {
            bk_lmsg_t *m = &l->pend[k];
            if (m->gen > gen) {
                l->pend[keep++] = *m;
                continue;
            }
            if (m->seq > l->committed)
                l->committed = m->seq;
            if (!l->spill && m->seq == q_last(l) + 1 && l->q_len < BK_LINK_CACHE) {
                q_push(l, m);
            } else {
                if (m->seq > q_last(l))
                    l->spill = 1; /* it is in the store: read back later */
                lmsg_free(m);
            }
        }
        l->n_pend = keep;
        bk_flushed_t *fl = &l->flushed[gen % BK_STORE_FLIGHT_MAX];
        if (fl->gen == gen) {
            if (fl->purge > l->purged)
                l->purged = fl->purge;
            if (fl->applied > l->applied_committed) {
                l->applied_committed = fl->applied;
                l->ack_due = 1;
                pause_end(c, l);
            }
        }
        pump(c, l);
    }
    /* copies an Event named but this node does not have: ask their owner */
    size_t keep = 0;
    for (size_t k = 0; k < f->n_asked; k++) {
        if (f->asked_gen[k] > gen) {
            f->asked_from[keep] = f->asked_from[k];
            f->asked_order[keep] = f->asked_order[k];
            f->asked_gen[keep] = f->asked_gen[k];
            f->asked_found[keep] = f->asked_found[k];
            keep++;
            continue;
        }
        /* not one that became ours meanwhile (a Forward in the same batch:
         * its row's newer number keeps the copy UPDATE off it) */
        if (!f->asked_found[k] && !bk_orders_get(&c->orders, &f->asked_order[k])) {
            pls_info("an event for an order unknown here came from %s: asking for a forward",
                     f->asked_from[k]);
            bk_fed_emit(c, f->asked_from[k], NULL, "request", &f->asked_order[k],
                        "{\"verb\":\"forward_me\"}");
        }
        free(f->asked_from[k]);
    }
    f->n_asked = keep;
}

/* --------------------------------------------------------- incoming */

static bk_link_t *child_by_ident(bk_core_t *c, const void *ident, size_t len)
{
    for (size_t i = 0; i < c->fed.n_links; i++) {
        bk_link_t *l = c->fed.links[i];
        if (!l->is_parent && l->ident_len == len && memcmp(l->ident, ident, len) == 0)
            return l;
    }
    return NULL;
}

void bk_fed_hello(bk_core_t *c, const void *ident, size_t ident_len, const Pls__Hello *h)
{
    bk_link_t *l;
    if (!ident) {
        l = c->fed.parent;
        if (!l || strcmp(h->node, l->peer) != 0) {
            pls_warn("hello from %s on the parent link, expected %s", h->node,
                     l ? l->peer : "(none)");
            return;
        }
    } else {
        if (!pls_node_within(h->node, c->node) || strcmp(h->node, c->node) == 0 ||
            pls_node_depth(h->node) != pls_node_depth(c->node) + 1) {
            pls_warn("hello from %s: not a child command center of %s", h->node, c->node);
            return;
        }
        l = link_find(&c->fed, h->node);
        if (!l)
            l = link_add(&c->fed, h->node, 0);
        memcpy(l->ident, ident, ident_len < BK_IDENT_MAX ? ident_len : BK_IDENT_MAX);
        l->ident_len = ident_len < BK_IDENT_MAX ? ident_len : BK_IDENT_MAX;
    }
    int64_t skew = h->wall_ms - pls_wall_ms();
    if (skew > 1000 || skew < -1000)
        pls_warn("clock of %s differs from ours by %lld ms (time limits are decided by each "
                 "order's owner)",
                 h->node, (long long)skew);
    l->skew_ms = skew;
    l->peer_format = h->link_format;
    int was = l->connected;
    l->connected = 1;
    l->last_rx_ms = pls_mono_ms();
    /* the peer applied up to last_applied: resume after it */
    if (h->last_applied > l->acked) {
        l->acked = h->last_applied;
        l->acked_dirty = 1;
        l->state_dirty = 1;
        c->cur->touched = 1;
        q_pop_acked(l);
    }
    l->sent = l->acked;
    if (!was)
        pls_info("link to %s up: it applied up to %llu, we resume at %llu", h->node,
                 (unsigned long long)h->last_applied, (unsigned long long)l->acked + 1);
    if (!h->reply)
        send_hello(c, l, 1);
    l->ack_due = 1;
    c->cur->touched = 1;
    if (q_last(l) < l->committed)
        l->spill = 1; /* after a restart the queue is empty: read the outbox */
    pump(c, l);
}

void bk_fed_summary(bk_core_t *c, const Pls__StatusSummary *s)
{
    bk_link_t *l = link_find(&c->fed, s->node);
    if (!l)
        return;
    free(l->summary);
    l->summary = pls_xstrdup(s->json);
    l->summary_ms = pls_wall_ms();
    l->last_rx_ms = pls_mono_ms();
}

static void apply_msg(bk_core_t *c, bk_link_t *l, const Pls__LinkMsg *m);

/* A message from the peer refused or skipped: status counts them, naming the
 * last one's order (or "(none)" when it names none). */
static void note_refused(bk_link_t *l, const char *order)
{
    pls_uuid_t u;
    l->refused++;
    snprintf(l->refused_order, sizeof(l->refused_order), "%s",
             order && pls_uuid_parse(order, &u) == 0 ? order : "(none)");
}

void bk_fed_link(bk_core_t *c, const void *ident, size_t ident_len, const Pls__LinkBatch *lb)
{
    bk_link_t *l = ident ? child_by_ident(c, ident, ident_len) : c->fed.parent;
    if (!l || strcmp(l->peer, lb->node) != 0 || !l->connected) {
        pls_debug("link traffic from %s before its hello: ignored", lb->node);
        return;
    }
    l->last_rx_ms = pls_mono_ms();
    if (lb->ack > l->acked && lb->ack < l->next_seq) {
        l->acked = lb->ack;
        l->acked_dirty = 1;
        l->state_dirty = 1;
        c->cur->touched = 1;
        q_pop_acked(l);
        l->oldest_unacked_ms = l->q_len ? l->q[l->q_head].at_ms : 0;
    }
    const bk_pause_t *p = c->fed.n_pauses ? pause_of(&c->fed, l->peer) : NULL;
    size_t n_msgs = p && p->until_ms > pls_mono_ms() ? 0 : lb->n_msgs;
    if (n_msgs < lb->n_msgs)
        pls_debug("%zu messages from %s not applied: the link waits after a refused batch",
                  lb->n_msgs, l->peer);
    for (size_t i = 0; i < n_msgs; i++) {
        const Pls__LinkMsg *m = lb->msgs[i];
        if (m->seq <= l->applied)
            continue; /* already applied: a resend */
        if (m->seq != l->applied + 1)
            break; /* a gap: the peer resends after the next hello */
        char why[200];
        if (pls_proto_link_msg_check(m, why, sizeof(why)) != 0) {
            /* acknowledged without its effect: refusing the whole batch would
             * stop the link at every resend */
            note_refused(l, m->order);
            pls_error("message %llu from %s refused: %s; acknowledged without applying it "
                      "(kind %s, order %s)",
                      (unsigned long long)m->seq, l->peer, why,
                      m->kind && pls_code_valid(m->kind) ? m->kind : "?", l->refused_order);
        } else {
            apply_msg(c, l, m);
        }
        l->applied = m->seq;
        l->state_dirty = 1;
        c->cur->touched = 1;
    }
    pump(c, l);
}

/* ------------------------------------------------------ applying */

static const char *jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static int64_t jint(json_t *o, const char *k)
{
    return (int64_t)json_integer_value(json_object_get(o, k));
}

/* Event rows of a message into the copy events of the batch (events rows
 * for pls_copies(), sql/007). below > 0: only rows that end before that
 * sequence number (the rows of a Forward's history; a later row would take a
 * number the order's owner gives its own next event, which would then be
 * lost to ON CONFLICT DO NOTHING). */
static void add_rows(bk_core_t *c, const pls_uuid_t *order, json_t *rows, const char *tail,
                     int64_t below)
{
    size_t i, off = 0;
    json_t *r;
    bk_recs_t *e = &c->fed.copy_events;
    pls_buf_t *v = &e->buf;
    json_array_foreach(rows, i, r)
    {
        size_t len;
        char *alloc;
        /* a format-2 row's entries follow the body (checked: bk_lb_check) */
        const char *entries = bk_lb_entries(r, tail, &off, &len, &alloc);
        if (!entries)
            continue;
        if (below > 0 && jint(r, "seq") + jint(r, "n") > below) {
            char id[PLS_UUID_STR];
            pls_uuid_format(order, id);
            pls_warn("history of order %s: a row at %lld past the order's next event (%lld): "
                     "ignored",
                     id, (long long)jint(r, "seq"), (long long)below);
            free(alloc);
            continue;
        }
        bk_rec_begin(e);
        bk_rec_uuid(v, order);
        bk_rec_int(v, BK_T_INT4, jint(r, "seq"));
        bk_rec_int(v, BK_T_INT2, jint(r, "n"));
        bk_rec_at(v, jint(r, "at")); /* NOT NULL: 1970 for a peer's row without one */
        bk_rec_json(v, BK_T_JSON, entries, len);
        bk_rec_end(e);
        free(alloc);
    }
}

static uint64_t hash_copy(const void *e)
{
    return bk_hash_bytes(((const bk_copy_t *)e)->id.b, 16);
}

static int eq_copy(const void *e, const void *key)
{
    return memcmp(((const bk_copy_t *)e)->id.b, key, 16) == 0;
}

/* Keep the newest snapshot of each copy in this batch: an UPDATE ... FROM
 * with two rows for one order would apply either. */
static void add_copy_update(bk_core_t *c, const pls_uuid_t *id, json_t *snap)
{
    bk_fed_t *f = &c->fed;
    if (!f->copy_index.slots)
        bk_index_init(&f->copy_index, hash_copy);
    bk_copy_t *cp = bk_index_find(&f->copy_index, bk_hash_bytes(id->b, 16), eq_copy, id->b);
    if (cp) {
        if (jint(snap, "next_seq") >= jint(cp->snap, "next_seq")) {
            json_decref(cp->snap);
            cp->snap = json_incref(snap);
        }
        return;
    }
    if (f->n_copies == f->cap_copies) {
        /* the index points into the array: rebuild it after growing */
        f->cap_copies = f->cap_copies ? f->cap_copies * 2 : 64;
        f->copies = pls_xrealloc(f->copies, f->cap_copies * sizeof(*f->copies));
        bk_index_cleanup(&f->copy_index);
        bk_index_init(&f->copy_index, hash_copy);
        for (size_t i = 0; i < f->n_copies; i++)
            bk_index_put(&f->copy_index, &f->copies[i]);
    }
    cp = &f->copies[f->n_copies++];
    cp->id = *id;
    cp->snap = json_incref(snap);
    bk_index_put(&f->copy_index, cp);
}

/* The changing columns of an `orders` row (state .. held_notice) from a
 * peer's snapshot, st its state parsed: what pls_forwards() and pls_copies()
 * read of them (each reads its own; sql/012). "" is SQL NULL, as an absent
 * member was; open is the row's own (a copy's is set false by pls_copies). */
static void snap_state_cols(pls_buf_t *v, json_t *snap, int st, int open)
{
    bk_rec_opt(v, jstr(snap, "state"));
    bk_rec_int(v, BK_T_INT4, jint(snap, "step"));
    bk_rec_opt(v, jstr(snap, "owner"));
    bk_rec_bool(v, open);
    /* an order that arrives finished is finished here now (finished_at):
     * "completed today" counts it */
    bk_rec_ts(v, st >= 0 && !bk_state_open(st) ? pls_rule_ms() : 0);
    bk_rec_int(v, BK_T_INT4, jint(snap, "attempt"));
    bk_rec_opt(v, jstr(snap, "dept"));
    bk_rec_opt(v, jstr(snap, "scope"));
    bk_rec_null(v, BK_T_INT8); /* token: 0 for a row pls_forwards() inserts */
    bk_rec_int(v, BK_T_INT2, jint(snap, "custody"));
    bk_rec_int(v, BK_T_INT4, jint(snap, "flags"));
    bk_rec_int(v, BK_T_INT4, jint(snap, "next_seq"));
    bk_rec_ts(v, jint(snap, "due_ms"));
    bk_rec_opt(v, jstr(snap, "prev_owner"));
    bk_rec_orders_nulls(v, BK_ORDER_CONTENT_COLS + 14, BK_ORDER_CONTENT_COLS + 16);
    bk_rec_ts(v, jint(snap, "whole_due_ms"));
    bk_rec_null(v, BK_T_TSTZ); /* paused_at */
    bk_rec_int(v, BK_T_INT4, jint(snap, "alarms"));
    bk_rec_orders_nulls(v, BK_ORDER_CONTENT_COLS + 19, BK_ORDER_COLS);
}

static void copy_update_rec(bk_core_t *c, const bk_copy_t *cp)
{
    json_t *snap = cp->snap;
    int st = bk_state_parse(jstr(snap, "state"));
    if (st < 0 || !*jstr(snap, "owner")) {
        /* a peer's malformed snapshot must not fail the batch (NOT NULL columns) */
        char order[PLS_UUID_STR];
        pls_uuid_format(&cp->id, order);
        pls_warn("copy of order %s: snapshot without a known state or an owner, ignored", order);
        return;
    }
    /* an orders row of which pls_copies() reads the id and the snapshot's
     * columns (sql/012) */
    bk_recs_t *r = &c->fed.copy_update;
    bk_rec_begin(r);
    bk_rec_uuid(&r->buf, &cp->id);
    bk_rec_orders_nulls(&r->buf, 1, BK_ORDER_CONTENT_COLS);
    snap_state_cols(&r->buf, snap, st, 0);
    bk_rec_end(r);
}

/* A JSON value of a Forward as a json or jsonb column (absent or null: NULL). */
static void rec_json(pls_buf_t *v, uint32_t type, json_t *j)
{
    char *text = j && !json_is_null(j) ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    bk_rec_json(v, type, text, text ? strlen(text) : 0);
    free(text);
}

/* The content columns (id .. created_at) of a Forward's orders row. The rows
 * of a batch's Forwards go to the store together, at the head of the batch:
 * one call of pls_forwards() (sql/012) for copies, one of pls_forwards_own()
 * (sql/013) for the orders we now own, the rows in the orders table's column
 * order; "" is SQL NULL, as an absent member was. */
static void order_content(pls_buf_t *v, const pls_uuid_t *id, json_t *ord)
{
    bk_rec_uuid(v, id);
    bk_rec_opt(v, jstr(ord, "number"));
    bk_rec_opt(v, jstr(ord, "key"));
    bk_rec_int(v, BK_T_INT8, jint(ord, "hash"));
    bk_rec_opt(v, jstr(ord, "service"));
    bk_rec_opt(v, jstr(ord, "origin"));
    bk_rec_opt(v, jstr(ord, "locality"));
    bk_rec_opt(v, jstr(ord, "intake"));
    bk_rec_opt(v, jstr(ord, "channel"));
    bk_rec_int(v, BK_T_INT2, jint(ord, "priority"));
    bk_rec_text(v, jstr(ord, "desc"));
    rec_json(v, BK_T_JSONB, json_object_get(ord, "fields"));
    rec_json(v, BK_T_JSONB, json_object_get(ord, "attachments"));
    bk_rec_uuid_str(v, jstr(ord, "about"));
    bk_rec_opt(v, jstr(ord, "subject"));
    bk_rec_opt(v, jstr(ord, "site"));
    json_t *plan = json_object_get(ord, "plan");
    if (plan && !json_is_null(plan))
        rec_json(v, BK_T_JSON, plan);
    else
        bk_rec_json(v, BK_T_JSON, "[]", 2);
    bk_rec_text(v, jstr(ord, "actor"));
    bk_rec_ts(v, jint(ord, "created_ms"));
}

/* Insert (or refresh) the orders row of a forwarded order. open: we own it;
 * its row is then written by pls_forwards_own() at the flush, with the state
 * of its batch row (own_row). */
static void upsert_order(bk_core_t *c, const pls_uuid_t *id, json_t *ord, json_t *snap, int open)
{
    bk_fed_t *f = &c->fed;
    if (open) {
        if (f->n_own == f->cap_own) {
            f->cap_own = f->cap_own ? f->cap_own * 2 : 32;
            f->own = pls_xrealloc(f->own, f->cap_own * sizeof(*f->own));
        }
        size_t off = f->own_content.len;
        order_content(&f->own_content, id, ord);
        f->own[f->n_own++] = (struct bk_fwd_own){off, f->own_content.len - off, UINT32_MAX};
    } else {
        bk_recs_t *r = &f->fwd_orders;
        bk_rec_begin(r);
        order_content(&r->buf, id, ord);
        snap_state_cols(&r->buf, snap, bk_state_parse(jstr(snap, "state")), 0);
        bk_rec_end(r);
    }
    json_t *ct = json_object_get(ord, "citizen");
    if (open && json_is_object(ct)) {
        bk_recs_t *cz = &f->fwd_citizens;
        bk_rec_begin(cz);
        bk_rec_uuid(&cz->buf, id);
        const char *keys[] = {"name", "id_type", "id_number", "phone"};
        for (int i = 0; i < 4; i++)
            bk_rec_opt(&cz->buf, jstr(ct, keys[i]));
        bk_rec_end(cz);
    }
}

/* The order of the last own Forward (upsert_order), just put in memory: its
 * row of this batch, made now (routing it may end it and free it), gives its
 * orders row the state the batch leaves it in at the flush, and is not
 * written again as a change. */
static void own_row(bk_core_t *c, bk_order_t *o)
{
    bk_fed_t *f = &c->fed;
    bk_row_t *r = bk_batch_row(c->cur, o);
    bk_row_snap(r, o, bk__dept_name(c, o->dept), c->node);
    r->fwd_own = 1;
    f->own[f->n_own - 1].row = o->batch_row;
}

/* What is wrong with a Forward's order and snapshot, or NULL. A column the
 * orders table requires (NOT NULL) must not be missing: the row would fail
 * the whole batch, everyone's changes with it, and again at every resend of
 * the message. An order we are to own must name a service and a department
 * of our catalog, or it could not be routed here. */
static const char *forward_problem(bk_core_t *c, json_t *ord, json_t *snap, int mine, int returned)
{
    static const char *const need[] = {"number",   "key",    "service", "origin",
                                       "locality", "intake", "channel"};
    for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
        if (!*jstr(ord, need[i]))
            return "an order member the orders table requires is missing or not a string "
                   "(number, key, service, origin, locality, intake, channel)";
    if (jint(ord, "created_ms") <= 0)
        return "the order has no creation time (created_ms)";
    if (bk_state_parse(jstr(snap, "state")) < 0)
        return "the snapshot has no known state";
    if (!*jstr(snap, "owner"))
        return "the snapshot names no owner";
    if (mine && bk_catalog_service(&c->cat, jstr(ord, "service")) < 0)
        return "we are to own it, and its service is not in our catalog";
    /* (our hand-over sent back waits for an operator here: under its step's
     * department of our catalog when we no longer have the one it was sent to) */
    if (mine && !returned && bk_catalog_dept(&c->cat, jstr(snap, "dept")) < 0)
        return "we are to own it, and its department is not in our catalog";
    return NULL;
}

/* A hand-over we refused for our catalog goes back to its sender, which
 * owned the order until it sent it and holds a copy naming us as owner: a
 * Forward making it the owner again, in state returned (退单), so that its
 * operators can requeue or transfer it (apply_forward there). Without it no
 * node would work on the order. Only the catalog checks may have failed (the
 * order and snapshot are whole), and never for a Forward that is itself such
 * a return ("refused"), so that two nodes cannot send one back and forth. The
 * citizen's personal data and the order's free text stay at the sender, which
 * still has them (its row is a copy: pls_forwards_own() updates only its
 * state). */
static int return_forward(bk_core_t *c, const char *from, const pls_uuid_t *uid, json_t *body,
                          const char *why)
{
    json_t *ord = json_object_get(body, "order");
    json_t *snap = json_object_get(body, "snap");
    if (json_object_get(body, "refused") || forward_problem(c, ord, snap, 0, 0) ||
        strcmp(from, c->node) == 0)
        return -1;
    json_t *o2 = json_deep_copy(ord);
    json_t *s2 = json_deep_copy(snap);
    /* what it needs to own the order again: its identity and routing; not
     * the citizen's personal data, nor free text that may hold some */
    json_object_del(o2, "citizen");
    json_object_del(o2, "desc");
    json_object_del(o2, "fields");
    json_object_del(o2, "attachments");
    json_object_set_new(s2, "state", json_string(bk_state_name(BK_RETURNED)));
    json_object_set_new(s2, "owner", json_string(from));
    json_object_set_new(s2, "prev_owner", json_string(c->node));
    json_t *back =
        json_pack("{s:o, s:o, s:[], s:s}", "order", o2, "snap", s2, "rows", "refused", why);
    char *text = back ? json_dumps(back, JSON_COMPACT) : NULL;
    json_decref(back);
    int rc = text ? bk_fed_emit(c, from, NULL, "forward", uid, text) : -1;
    free(text);
    return rc;
}

/* A Forward: a copy for us, or the order itself when we are its owner.
 * Returns -1 when it is refused. */
static int apply_forward(bk_core_t *c, const char *from, const char *id, json_t *body,
                         const char *tail)
{
    json_t *ord = json_object_get(body, "order");
    json_t *snap = json_object_get(body, "snap");
    if (!json_is_object(ord) || !json_is_object(snap)) {
        pls_error("forward of %s from %s refused: no order or no snapshot; the order is not "
                  "taken here",
                  id, from);
        return -1;
    }
    pls_uuid_t uid;
    if (pls_uuid_parse(id, &uid) != 0)
        return -1;
    const char *owner = jstr(snap, "owner");
    int mine = strcmp(owner, c->node) == 0;
    if (bk_orders_get(&c->orders, &uid)) {
        pls_debug("forward of %s: we hold it already", id);
        return 0;
    }
    const bk_recent_entry_t *left = mine ? bk_recent_get(&c->recent, &uid) : NULL;
    if (left && jint(snap, "next_seq") < (int64_t)left->next_seq) {
        /* finished here after this Forward was made (a Forward we asked for
         * while it was on its way to us): taking it would work on it twice */
        pls_warn("forward of %s from %s: older than the order as it left this node (its "
                 "next event %lld, ours %u): ignored",
                 id, from, (long long)jint(snap, "next_seq"), left->next_seq);
        return 0;
    }
    const char *refused = jstr(body, "refused");
    const char *why = forward_problem(c, ord, snap, mine, *refused != '\0');
    if (why) {
        /* nothing of it is written; the link goes on with the next message */
        if (mine && return_forward(c, from, &uid, body, why) == 0)
            pls_error("forward of %s from %s refused: %s; sent back to %s, where it waits as "
                      "returned (退单) for an operator",
                      id, from, why, from);
        else
            pls_error("forward of %s from %s refused: %s; the order is not taken here", id, from,
                      why);
        return -1;
    }
    upsert_order(c, &uid, ord, snap, mine);
    asked_found(&c->fed, &uid); /* an Event ahead of it asked for it */
    add_rows(c, &uid, json_object_get(body, "rows"), tail, jint(snap, "next_seq"));
    if (!mine)
        return 0;
    /* we own it now: into memory, then where its step belongs */
    int svc = bk_catalog_service(&c->cat, jstr(ord, "service"));
    int st = bk_state_parse(jstr(snap, "state"));
    bk_order_t *o = bk_order_new();
    o->id = uid;
    snprintf(o->number, sizeof(o->number), "%s", jstr(ord, "number"));
    o->content_hash = (uint64_t)jint(ord, "hash");
    o->service = (uint8_t)svc;
    o->origin = bk_dispatch_intern(&c->disp, jstr(ord, "origin"));
    o->locality = bk_dispatch_intern(&c->disp, jstr(ord, "locality"));
    o->intake = bk_dispatch_intern(&c->disp, jstr(ord, "intake"));
    o->site = *jstr(ord, "site") ? bk_dispatch_intern(&c->disp, jstr(ord, "site")) : NULL;
    o->prev_owner = bk_dispatch_intern(&c->disp, from);
    o->priority = (uint8_t)jint(ord, "priority");
    o->created_ms = jint(ord, "created_ms");
    o->state = (uint8_t)(bk_state_open(st) ? st : BK_FORWARDED);
    o->step = (uint8_t)jint(snap, "step");
    if (o->step >= c->cat.services[svc].n_steps)
        o->step = 0;
    int sent_dept = bk_catalog_dept(&c->cat, jstr(snap, "dept"));
    /* not ours only in a hand-over sent back (forward_problem) */
    int dept = sent_dept >= 0 ? sent_dept : c->cat.services[svc].steps[o->step].dept;
    o->attempt = (uint16_t)jint(snap, "attempt");
    o->dept = (uint8_t)dept;
    o->scope = bk_dispatch_intern(&c->disp, *jstr(snap, "scope") ? jstr(snap, "scope") : c->node);
    o->custody = (uint8_t)jint(snap, "custody");
    o->flags = (uint8_t)(jint(snap, "flags") & BK_OF_NEED_INFO_USED);
    o->next_seq = (uint32_t)jint(snap, "next_seq");
    o->due_ms = jint(snap, "due_ms");
    o->whole_due_ms = jint(snap, "whole_due_ms");
    o->alarms = (uint8_t)(jint(snap, "alarms") & (BK_AL_W_YELLOW | BK_AL_W_RED | BK_AL_SUPERVISED));
    o->ext_days = (uint8_t)jint(snap, "ext_days");
    bk_orders_add(&c->orders, o);
    own_row(c, o);
    if (o->state == BK_RETURNED && *refused) {
        /* our hand-over, refused there (return_forward): it waits for an operator here */
        char reason[512]; /* a peer's text: cut on a character, the event row is JSON */
        int n = snprintf(reason, sizeof(reason), "%s refused the hand-over: ", from);
        if (n > 0 && (size_t)n < sizeof(reason))
            pls_utf8_copy(reason + n, sizeof(reason) - (size_t)n, refused);
        pls_buf_t *p = bk__payload_begin(c);
        bk__p_str(p, "reason", reason);
        bk__p_str(p, "dept", jstr(snap, "dept"));
        bk__p_str(p, "scope", o->scope);
        bk__event(c, o, "returned", BK_FORWARDED, "broker", bk__payload_end(p));
        char logged[sizeof(reason)]; /* a peer's text in our log: one line, no long numbers */
        snprintf(logged, sizeof(logged), "%s", reason);
        for (char *q = logged; *q; q++)
            if ((unsigned char)*q < 0x20)
                *q = ' ';
        pls_mask_numbers(logged);
        pls_warn("order %s (%s) is back: %s; it waits here as returned for an operator "
                 "(plsctl requeue or transfer)%s%s",
                 id, o->number, logged,
                 sent_dept >= 0 ? "" : ", under the department of its step here: ",
                 sent_dept >= 0 ? "" : bk__dept_name(c, o->dept));
    } else if (o->state == BK_RETURNED) {
        /* 退单 back to us: it waits for an operator here */
        bk__event(c, o, "returned", BK_RETURNED, "broker",
                  "{\"note\":\"back from the command center it was sent to\"}");
    } else {
        bk__route(c, o, o->step, dept, o->scope, "broker", "queued", NULL);
    }
    return 0;
}

/* An Event: new rows of a copy. Returns -1 when it is skipped as malformed. */
static int apply_event(bk_core_t *c, const char *from, const char *id, json_t *body,
                       const char *tail)
{
    pls_uuid_t uid;
    if (pls_uuid_parse(id, &uid) != 0)
        return -1;
    if (bk_orders_get(&c->orders, &uid))
        return 0; /* we own it: a late copy event from its previous owner */
    json_t *snap = json_object_get(body, "snap");
    if (!json_is_object(snap)) {
        pls_warn("event of %s from %s without a snapshot: skipped", id, from);
        return -1;
    }
    add_rows(c, &uid, json_object_get(body, "rows"), tail, 0);
    add_copy_update(c, &uid, snap);
    ask_forward(c, from, &uid);
    return 0;
}

/* The rest of a long history, right behind its Forward (emit_forward): rows
 * of an order we now hold, as owner or copy; nothing for one we do not hold
 * (a refused Forward: pls_copies() writes rows of known orders only). Of an
 * order we own, only rows before its next event's number. */
static void apply_history(bk_core_t *c, const char *id, json_t *body, const char *tail)
{
    pls_uuid_t uid;
    if (pls_uuid_parse(id, &uid) != 0)
        return;
    const bk_order_t *o = bk_orders_get(&c->orders, &uid);
    add_rows(c, &uid, json_object_get(body, "rows"), tail, o ? (int64_t)o->next_seq : 0);
}

static void apply_request(bk_core_t *c, const char *from, const char *id, json_t *body);

static void apply_msg(bk_core_t *c, bk_link_t *l, const Pls__LinkMsg *m)
{
    const char *to = m->to[0];
    if (strcmp(to, c->node) != 0) {
        /* store and forward towards its node */
        pls_uuid_t uid; /* a UUID: pls_proto_link_msg_check */
        if (pls_uuid_parse(m->order, &uid) != 0 ||
            bk_fed_emit(c, to, m->from, m->kind, &uid, m->body) != 0) {
            pls_warn("message %llu from %s for %s: no link towards it: skipped",
                     (unsigned long long)m->seq, l->peer, to);
            note_refused(l, m->order);
        }
        return;
    }
    json_error_t jerr;
    const char *tail;
    size_t tail_len;
    char why[160];
    json_t *body = bk_lb_parse(m->body, strlen(m->body), &tail, &tail_len, &jerr);
    int refused = 0;
    if (!body) {
        pls_warn("message %llu from %s: body is not JSON (%s): skipped", (unsigned long long)m->seq,
                 l->peer, jerr.text);
        refused = 1;
    } else if (bk_lb_check(body, tail, tail_len, why, sizeof(why)) != 0) {
        /* before any effect: PostgreSQL would refuse the batch for it */
        pls_warn("message %llu from %s: %s: skipped", (unsigned long long)m->seq, l->peer, why);
        refused = 1;
    } else if (strcmp(m->kind, "forward") == 0)
        refused = apply_forward(c, m->from, m->order, body, tail) != 0;
    else if (strcmp(m->kind, "event") == 0)
        refused = apply_event(c, m->from, m->order, body, tail) != 0;
    else if (strcmp(m->kind, "history") == 0)
        apply_history(c, m->order, body, tail);
    else if (strcmp(m->kind, "request") == 0)
        apply_request(c, m->from, m->order, body);
    else if (strcmp(m->kind, "supervise") == 0)
        bk_rules_record_supervision(c, m->order, jstr(body, "number"), jstr(body, "node"),
                                    jstr(body, "dept"), jstr(body, "scope"), jstr(body, "kind"),
                                    jstr(body, "reason"));
    else {
        pls_warn("message %llu from %s: unknown kind %s: skipped", (unsigned long long)m->seq,
                 l->peer, m->kind);
        refused = 1;
    }
    json_decref(body);
    if (refused)
        note_refused(l, m->order);
}

/* ------------------------------------------------- building forwards */

void bk_fed_want_forward(bk_core_t *c, const pls_uuid_t *id)
{
    bk_fed_t *f = &c->fed;
    if (f->n_fwd == f->cap_fwd) {
        f->cap_fwd = f->cap_fwd ? f->cap_fwd * 2 : 32;
        f->fwd = pls_xrealloc(f->fwd, f->cap_fwd * sizeof(*f->fwd));
    }
    f->fwd[f->n_fwd++] = *id;
}

/* The order as stored, for a Forward: content, plan, citizen and history. */
static const char fwd_sql[] =
    "SELECT o.id, json_build_object('id', o.id, 'number', o.number, 'key', o.idem_key, "
    "'hash', o.content_hash, 'service', o.service, 'origin', o.origin, 'locality', o.locality, "
    "'intake', o.intake_node, 'channel', o.channel, 'priority', o.priority, "
    "'desc', CASE WHEN $2 OR NOT (SELECT s.confidential FROM services s WHERE s.code = "
    "o.service) THEN o.descr ELSE '(confidential)' END, "
    "'fields', o.fields, 'attachments', o.attachments, 'about', o.about, 'subject', o.subject, "
    "'site', o.site, 'plan', o.plan, 'actor', o.actor, "
    "'created_ms', (date_part('epoch', o.created_at) * 1000)::bigint, "
    "'citizen', CASE WHEN $2 THEN (SELECT json_build_object('name', c.name, 'id_type', "
    "c.id_type, 'id_number', c.id_number, 'phone', c.phone) FROM citizens c WHERE c.order_id = "
    "o.id) END)::text, "
    "h.heads::text, o.state, o.step, o.attempt, o.dept, o.scope, "
    "o.next_seq, o.flags, o.custody, (date_part('epoch', o.due_at) * 1000)::bigint, o.owner, "
    "(date_part('epoch', o.whole_due) * 1000)::bigint, o.alarms, o.ext_days, h.tail "
    "FROM orders o LEFT JOIN LATERAL (SELECT json_agg(json_build_object('seq', e.seq, 'n', "
    "e.n, 'at', (date_part('epoch', e.at) * 1000)::bigint, 'len', octet_length(e.entries::text)) "
    "ORDER BY e.seq) AS heads, string_agg(e.entries::text, '' ORDER BY e.seq) AS tail "
    "FROM events e WHERE e.order_id = o.id) h ON true WHERE o.id = ANY($1::uuid[])";

/* Close a part of a Forward's history (its rows so far, then their entries)
 * and send it: the Forward itself when cur is its body, else a "history". */
static void emit_part(bk_core_t *c, const char *to, const pls_uuid_t *id, pls_buf_t *cur,
                      const pls_buf_t *body, const pls_buf_t *part_tail)
{
    pls_buf_adds(cur, "]}");
    pls_buf_add(cur, part_tail->data ? part_tail->data : "", part_tail->len);
    bk_fed_emit(c, to, NULL, cur == body ? "forward" : "history", id, cur->data);
}

typedef struct fwd_read {
    bk_core_t *core;
    char *asker; /* NULL: our own handovers; else a forward_me from this node */
} fwd_read_t;

/* Emit a Forward whose body so far ends with "rows": and whose history is
 * heads (a JSON array of the event rows' heads) and tail (their entries, link
 * format 2: bk_linkbody.h). The receiver refuses a link message over
 * PLS_MAX_ENVELOPE (pls_proto_link_msg_check), and a message over the 1 MiB
 * frame closes the link at every resend, so a Forward over BK_FWD_HIST_BYTES
 * goes in parts: the Forward with as many of the first rows as keep it under
 * BK_FWD_HIST_BYTES (maybe none), then "history" messages ({"rows":[...]}
 * and their entries) right behind it, each under BK_FWD_HIST_BYTES too,
 * except a part of a single larger row. The receiver applies them in
 * sequence: the order's row first, then the rest of its history
 * (apply_history). */
static void emit_forward(bk_core_t *c, const char *to, const pls_uuid_t *id, pls_buf_t *body,
                         const char *heads, const char *tail)
{
    size_t heads_len = strlen(heads), tail_len = strlen(tail);
    json_t *rows = NULL;
    char order[PLS_UUID_STR];
    if (body->len + heads_len + tail_len > BK_FWD_HIST_BYTES) {
        pls_uuid_format(id, order);
        rows = json_loads(heads, 0, NULL);
        if (!json_is_array(rows))
            pls_warn("forward of %s: its history is not a JSON array: sent whole", order);
    }
    if (!json_is_array(rows)) {
        pls_buf_add(body, heads, heads_len);
        pls_buf_addc(body, '}');
        pls_buf_add(body, tail, tail_len);
        bk_fed_emit(c, to, NULL, "forward", id, body->data);
        json_decref(rows);
        return;
    }
    pls_buf_t part, part_tail;
    pls_buf_init(&part);
    pls_buf_init(&part_tail);
    pls_buf_t *cur = body; /* the Forward, then the history messages */
    size_t n_in = 0, n_parts = 1, off = 0, i;
    json_t *r;
    pls_buf_addc(cur, '[');
    json_array_foreach(rows, i, r)
    {
        size_t len = (size_t)jint(r, "len");
        char *t = json_dumps(r, JSON_COMPACT);
        if (!t || len > tail_len - off) {
            free(t);
            pls_error("forward of %s to %s: its history's rows and entries disagree (row %zu "
                      "of %zu): the rows from there on are not sent",
                      order, to, i, json_array_size(rows));
            break;
        }
        size_t tl = strlen(t);
        if ((n_in || cur == body) && cur->len + tl + part_tail.len + len + 3 > BK_FWD_HIST_BYTES) {
            emit_part(c, to, id, cur, body, &part_tail);
            cur = &part;
            pls_buf_reset(cur);
            pls_buf_reset(&part_tail);
            pls_buf_adds(cur, "{\"rows\":[");
            n_in = 0;
            n_parts++;
        }
        if (tl + len + 16 > PLS_MAX_ENVELOPE)
            pls_error("forward of %s to %s: an event row of %zu bytes, more than a link message "
                      "may hold (%d): the link will refuse it",
                      order, to, tl + len, PLS_MAX_ENVELOPE);
        if (n_in++)
            pls_buf_addc(cur, ',');
        pls_buf_add(cur, t, tl);
        pls_buf_add(&part_tail, tail + off, len);
        off += len;
        free(t);
    }
    emit_part(c, to, id, cur, body, &part_tail);
    pls_info("forward of %s to %s: a history of %zu bytes in %zu messages", order, to,
             heads_len + tail_len, n_parts);
    pls_buf_cleanup(&part);
    pls_buf_cleanup(&part_tail);
    json_decref(rows);
}

static void on_fwd_rows(void *arg, int ok, const bk_rows_t *rows, const char *err)
{
    fwd_read_t *fr = arg;
    bk_core_t *c = fr->core;
    c->fed.fwd_reading = 0;
    if (!ok || !rows) {
        pls_warn("could not read orders to forward: %s", err ? err : "?");
        free(fr->asker);
        free(fr);
        return;
    }
    pls_buf_t body;
    pls_buf_init(&body);
    for (int i = 0; i < bk_rows_count(rows); i++) {
        pls_uuid_t id;
        if (pls_uuid_parse(bk_rows_get(rows, i, 0), &id) != 0)
            continue;
        const char *to = fr->asker;
        const char *owner;
        bk_order_t *o = NULL;
        if (!to) {
            o = bk_orders_get(&c->orders, &id);
            /* where it goes: the broker of its step's scope, or (退单) back to
             * the command center that sent it */
            if (o && o->state == BK_FORWARDED)
                to = bk_fed_broker_of(c, o->scope);
            else if (o && o->state == BK_RETURNED && (o->flags & BK_OF_HANDBACK) && o->prev_owner)
                to = o->prev_owner;
            else
                continue;
            owner = to;
        } else {
            owner = bk_rows_get(rows, i, 12);
        }
        const char *hist = bk_rows_get(rows, i, 2);
        pls_buf_reset(&body);
        pls_buf_adds(&body, "{\"order\":");
        pls_buf_adds(&body, bk_rows_get(rows, i, 1));
        pls_buf_adds(&body, ",\"snap\":{\"state\":");
        pls_buf_add_json_str(&body, bk_rows_get(rows, i, 3));
        pls_buf_adds(&body, ",\"step\":");
        pls_buf_adds(&body, bk_rows_get(rows, i, 4) ? bk_rows_get(rows, i, 4) : "0");
        pls_buf_adds(&body, ",\"attempt\":");
        pls_buf_adds(&body, bk_rows_get(rows, i, 5));
        bk__p_str(&body, "dept", bk_rows_get(rows, i, 6));
        bk__p_str(&body, "scope", o ? o->scope : bk_rows_get(rows, i, 7));
        bk__p_str(&body, "owner", owner);
        bk__p_str(&body, "prev_owner", c->node);
        pls_buf_adds(&body, ",\"next_seq\":");
        pls_buf_adds(&body, bk_rows_get(rows, i, 8));
        pls_buf_adds(&body, ",\"flags\":");
        pls_buf_adds(&body, bk_rows_get(rows, i, 9));
        pls_buf_adds(&body, ",\"custody\":");
        pls_buf_adds(&body, bk_rows_get(rows, i, 10));
        if (bk_rows_get(rows, i, 11)) {
            pls_buf_adds(&body, ",\"due_ms\":");
            pls_buf_adds(&body, bk_rows_get(rows, i, 11));
        }
        if (bk_rows_get(rows, i, 13)) {
            pls_buf_adds(&body, ",\"whole_due_ms\":");
            pls_buf_adds(&body, bk_rows_get(rows, i, 13));
        }
        pls_buf_adds(&body, ",\"alarms\":");
        pls_buf_adds(&body, bk_rows_get(rows, i, 14));
        pls_buf_adds(&body, ",\"ext_days\":");
        pls_buf_adds(&body, bk_rows_get(rows, i, 15));
        pls_buf_adds(&body, "},\"rows\":");
        const char *tail = bk_rows_get(rows, i, 16);
        emit_forward(c, to, &id, &body, hist ? hist : "[]", hist && tail ? tail : "");
        if (o) {
            /* in this same transaction our row becomes a copy */
            bk__hand_over_row(c, o, to);
        }
    }
    pls_buf_cleanup(&body);
    free(fr->asker);
    free(fr);
}

static void read_forwards(bk_core_t *c, const pls_uuid_t *ids, size_t n, const char *asker)
{
    pls_buf_t arr;
    pls_buf_init(&arr);
    pls_buf_addc(&arr, '{');
    for (size_t i = 0; i < n; i++) {
        char u[PLS_UUID_STR];
        pls_uuid_format(&ids[i], u);
        if (i)
            pls_buf_addc(&arr, ',');
        pls_buf_adds(&arr, u);
    }
    pls_buf_addc(&arr, '}');
    fwd_read_t *fr = pls_xcalloc(1, sizeof(*fr));
    fr->core = c;
    fr->asker = asker ? pls_xstrdup(asker) : NULL;
    /* $2: the receiver becomes the owner (personal data and the full
     * description go along); a copy gets the minimum */
    const char *params[2] = {arr.data, asker ? "false" : "true"};
    if (bk_store_query(c->store, fwd_sql, 2, params, on_fwd_rows, fr) == 0) {
        if (!asker)
            c->fed.fwd_reading = 1;
    } else {
        free(fr->asker);
        free(fr);
    }
    pls_buf_cleanup(&arr);
}

void bk_fed_turn(bk_core_t *c)
{
    bk_fed_t *f = &c->fed;
    if (!f->n_fwd || f->fwd_reading || !c->ready)
        return;
    /* only orders whose `forwarded` is committed: not touched by the batches
     * being built or in flight */
    size_t keep = 0, n = 0;
    pls_uuid_t *ready_ids = pls_xcalloc(f->n_fwd, sizeof(*ready_ids));
    for (size_t i = 0; i < f->n_fwd; i++) {
        bk_order_t *o = bk_orders_get(&c->orders, &f->fwd[i]);
        if (!o)
            continue;
        int pending = o->batch_gen > c->committed_gen;
        if (pending)
            f->fwd[keep++] = f->fwd[i];
        else
            ready_ids[n++] = f->fwd[i];
    }
    f->n_fwd = keep;
    if (n)
        read_forwards(c, ready_ids, n, NULL);
    free(ready_ids);
}

/* --------------------------------------------------------- requests */

static void apply_request(bk_core_t *c, const char *from, const char *id, json_t *body)
{
    pls_uuid_t uid;
    if (pls_uuid_parse(id, &uid) != 0)
        return;
    const char *verb = jstr(body, "verb");
    if (strcmp(verb, "forward_me") == 0) {
        read_forwards(c, &uid, 1, from);
        return;
    }
    bk_order_t *o = bk_orders_get(&c->orders, &uid);
    if (!o) {
        pls_info("request %s for %s from %s: not open here; dropped", verb, id, from);
        return;
    }
    Pls__ActionRequest a;
    pls__action_request__init(&a);
    a.verb = (Pls__Verb)jint(body, "code");
    a.order = (char *)(uintptr_t)id;
    a.dept = (char *)(uintptr_t)jstr(body, "dept");
    a.scope = (char *)(uintptr_t)jstr(body, "scope");
    a.outcome = (char *)(uintptr_t)jstr(body, "outcome");
    a.note = (char *)(uintptr_t)jstr(body, "note");
    a.person = (char *)(uintptr_t)jstr(body, "person");
    a.to = (char *)(uintptr_t)jstr(body, "to");
    a.days = (uint32_t)jint(body, "days");
    a.pct = (uint32_t)jint(body, "pct");
    json_t *items = json_object_get(body, "items");
    char *list[PLS_MAX_ITEMS];
    size_t n = 0, i;
    json_t *it;
    json_array_foreach(items, i, it)
    {
        if (n < PLS_MAX_ITEMS && json_is_string(it))
            list[n++] = (char *)(uintptr_t)json_string_value(it);
    }
    a.items = list;
    a.n_items = n;
    char reason[300];
    char actor[200];
    snprintf(actor, sizeof(actor), "%s@%s", jstr(body, "actor"), from);
    /* what a desk's own request must pass (lengths, node ids, bounds) */
    Pls__Envelope env;
    pls__envelope__init(&env);
    env.version = PLS_PROTO_VERSION;
    env.body_case = PLS__ENVELOPE__BODY_ACTION;
    env.action = &a;
    int st = pls_proto_validate(&env, reason, sizeof(reason));
    if (!st)
        st = bk__act(c, o, &a, actor, reason, sizeof(reason));
    if (st) {
        /* refused: the asking node sees why in the order's history */
        pls_buf_t *p = bk__payload_begin(c);
        bk__p_str(p, "request", verb);
        bk__p_str(p, "from", from);
        bk__p_str(p, "refused", reason);
        bk__event(c, o, "note", o->state, actor, bk__payload_end(p));
    }
}

/* ------------------------------------------------------------ tick */

void bk_fed_tick(bk_core_t *c)
{
    bk_fed_t *f = &c->fed;
    int64_t now = pls_mono_ms();
    for (size_t i = 0; i < f->n_links; i++) {
        bk_link_t *l = f->links[i];
        if (l->connected && now - l->last_rx_ms > BK_LINK_TIMEOUT_MS) {
            l->connected = 0;
            pls_warn("link to %s down: nothing heard for %lld ms", l->peer,
                     (long long)(now - l->last_rx_ms));
        }
        if (l->is_parent && !l->connected && now - l->last_hello_ms >= 1000)
            send_hello(c, l, 0);
        if (l->acked > l->ack_seen) {
            l->ack_seen = l->acked;
            l->ack_progress_ms = now;
        }
        if (l->connected && l->sent > l->acked && now - l->ack_progress_ms > 3000) {
            /* sent but not acknowledged for 3 s: a send was dropped (queue full)
             * or refused; resend from the acknowledged point (duplicates are
             * ignored by the receiver) */
            pls_info("link to %s: nothing acknowledged after %llu for 3 s: resending", l->peer,
                     (unsigned long long)l->acked);
            l->sent = l->acked;
            l->ack_progress_ms = now;
            pump(c, l);
        }
        if (l->connected && now - l->last_tx_ms >= 1000) {
            l->ack_due = 1; /* keepalive */
            pump(c, l);
        }
        if (l->connected && l->spill && !l->reading)
            pump(c, l);
    }
}

/* ------------------------------------------------------------ boot */

const char bk_fed_sql_links[] =
    "SELECT peer, is_parent::int, applied, next_seq, acked FROM link_state ORDER BY peer";

int bk_fed_boot_link(void *core, char **v, int n)
{
    bk_core_t *c = core;
    PLS_UNUSED(n);
    int is_parent = atoi(v[1]);
    if (is_parent && strcmp(v[0], c->fed.parent_node) != 0) {
        pls_warn("link_state names %s as our parent; now it is %s", v[0],
                 c->fed.parent_node[0] ? c->fed.parent_node : "(none)");
        return 0;
    }
    bk_link_t *l = link_find(&c->fed, v[0]);
    if (!l)
        l = link_add(&c->fed, v[0], is_parent);
    l->is_new = 0;
    l->state_dirty = 0;
    l->applied = l->applied_committed = strtoull(v[2], NULL, 10);
    l->next_seq = strtoull(v[3], NULL, 10);
    /* the outbox rows up to acked went in the transaction that wrote it */
    l->acked = l->sent = l->purged = strtoull(v[4], NULL, 10);
    l->committed = l->next_seq - 1;
    l->spill = l->committed > l->acked;
    return 0;
}

/* ---------------------------------------------------------- status */

void *bk_fed_links_json(bk_core_t *c)
{
    json_t *arr = json_array();
    int64_t now = pls_wall_ms();
    for (size_t i = 0; i < c->fed.n_links; i++) {
        bk_link_t *l = c->fed.links[i];
        json_t *o = json_object();
        json_object_set_new(o, "peer", json_string(l->peer));
        json_object_set_new(o, "role", json_string(l->is_parent ? "parent" : "child"));
        json_object_set_new(o, "connected", json_boolean(l->connected));
        uint64_t depth = l->next_seq - 1 - l->acked;
        json_object_set_new(o, "outbox", json_integer((json_int_t)depth));
        double age =
            depth && l->oldest_unacked_ms ? (double)(now - l->oldest_unacked_ms) / 1000.0 : 0.0;
        json_object_set_new(o, "oldest_unacked_s", json_real(age));
        json_object_set_new(o, "applied", json_integer((json_int_t)l->applied_committed));
        json_object_set_new(o, "acked", json_integer((json_int_t)l->acked));
        json_object_set_new(o, "clock_skew_ms", json_integer(l->skew_ms));
        json_object_set_new(o, "refused", json_integer((json_int_t)l->refused));
        json_array_append_new(arr, o);
    }
    return arr;
}

void bk_fed_warnings(bk_core_t *c, void *warnings)
{
    for (size_t i = 0; i < c->fed.n_links; i++) {
        const bk_link_t *l = c->fed.links[i];
        if (!l->refused)
            continue;
        char w[300];
        snprintf(w, sizeof(w),
                 "%llu message%s from %s refused or skipped since this broker started (the last "
                 "of order %s): see its log",
                 (unsigned long long)l->refused, l->refused == 1 ? "" : "s", l->peer,
                 l->refused_order);
        json_array_append_new(warnings, json_string(w));
    }
    int64_t now = pls_mono_ms();
    for (size_t i = 0; i < c->fed.n_pauses; i++) {
        const bk_pause_t *p = &c->fed.pauses[i];
        char w[300], next[64] = "at its next delivery";
        if (p->until_ms > now)
            snprintf(next, sizeof(next), "in %lld s", (long long)(p->until_ms - now + 999) / 1000);
        snprintf(w, sizeof(w),
                 "messages from %s were in %u batch%s PostgreSQL refused: applying them waits, "
                 "next try %s (see the log for why)",
                 p->peer, p->n, p->n == 1 ? "" : "es", next);
        json_array_append_new(warnings, json_string(w));
    }
}

void *bk_fed_tree_json(bk_core_t *c)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < c->fed.n_links; i++) {
        bk_link_t *l = c->fed.links[i];
        if (l->is_parent)
            continue;
        json_t *doc = l->summary ? json_loads(l->summary, 0, NULL) : NULL;
        if (!doc) {
            doc = json_object();
            json_object_set_new(doc, "node", json_string(l->peer));
        }
        json_object_set_new(doc, "connected", json_boolean(l->connected));
        json_object_set_new(
            doc, "summary_age_s",
            json_real(l->summary_ms ? (double)(pls_wall_ms() - l->summary_ms) / 1000.0 : -1.0));
        json_array_append_new(arr, doc);
    }
    return arr;
}
