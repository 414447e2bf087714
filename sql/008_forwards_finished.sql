-- pls_forwards() (sql/004) keeps the time an order finished: a Forward whose
-- order is already finished (a copy asked for after the order completed, a
-- hand-over of a finished order) carries finished_at, set by the broker to
-- when it applied it, as pls_copies() does for a copy an Event finishes.
-- Before this, such an order had no finish time at the node it arrived at and
-- was missing from that node's "completed today" (done_counts). An order that
-- is open again loses it, as in pls_copies().
CREATE OR REPLACE FUNCTION pls_forwards(forwards json, citizens json) RETURNS void LANGUAGE plpgsql
SET enable_hashjoin = off SET enable_mergejoin = off SET enable_seqscan = off
AS $$
BEGIN
    WITH v AS (
        SELECT DISTINCT ON (d.id) d.*
        FROM json_populate_recordset(NULL::orders, forwards) WITH ORDINALITY AS d
        ORDER BY d.id, d.next_seq DESC, d.ordinality DESC
    ), u AS (
        UPDATE orders o SET state = v.state, step = v.step, open = v.open,
            attempt = v.attempt, dept = v.dept, scope = v.scope, custody = v.custody,
            flags = v.flags, next_seq = v.next_seq, due_at = v.due_at, owner = v.owner,
            prev_owner = v.prev_owner,
            finished_at = CASE WHEN v.finished_at IS NOT NULL
                               THEN coalesce(o.finished_at, v.finished_at) END
        FROM v WHERE o.id = v.id AND o.next_seq <= v.next_seq
        RETURNING o.id
    )
    INSERT INTO orders (id, number, idem_key, content_hash, service, origin, locality,
        intake_node, channel, priority, descr, fields, attachments, about, subject, site,
        plan, actor, created_at, state, step, open, finished_at, attempt, dept, scope, token,
        custody, flags, next_seq, due_at, owner, prev_owner)
    SELECT id, number, idem_key, content_hash, service, origin, locality, intake_node,
        channel, priority, descr, fields, attachments, about, subject, site, plan, actor,
        created_at, state, step, open, finished_at, attempt, dept, scope, 0, custody, flags,
        next_seq, due_at, owner, prev_owner
    FROM v WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = v.id)
    ON CONFLICT DO NOTHING;
    INSERT INTO citizens
    SELECT c.* FROM json_populate_recordset(NULL::citizens, citizens) c
    WHERE EXISTS (SELECT 1 FROM orders o WHERE o.id = c.order_id)
    ON CONFLICT (order_id) DO NOTHING;
END $$;
