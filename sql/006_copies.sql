-- What applying federation link messages writes (broker/bk_fed.c, DESIGN §7),
-- as JSON documents into functions whose plans are made once per connection,
-- like pls_batch and pls_forwards: PostgreSQL spent a sixth of its CPU in a
-- town → city flow parsing, analysing and planning the VALUES lists these were
-- sent as (BENCHMARKS §9), and the planner hashed all of orders for the
-- EXISTS below.
--
-- copy_events: [{order_id, seq, n, at, entries}, ...] event rows of copies;
--   rows of an order this node does not hold wait for its Forward (which
--   carries them all).
-- copy_updates: [{id, state, step, attempt, dept, scope, owner, next_seq,
--   due_at, fin, whole_due, alarms, now}, ...] the newest snapshot of each
--   copy named in the batch; a copy changes only forwards in its history.
-- Returns the copies updated, with kind 'copy' (the broker asks the owner for
-- a Forward of those it did not find).
CREATE FUNCTION pls_copies(copy_events json, copy_updates json)
RETURNS TABLE (copy_id uuid, what text) LANGUAGE plpgsql
SET enable_hashjoin = off SET enable_mergejoin = off SET enable_seqscan = off
AS $$
BEGIN
    INSERT INTO events
    SELECT e.* FROM json_populate_recordset(NULL::events, copy_events) e
    WHERE EXISTS (SELECT 1 FROM orders o WHERE o.id = e.order_id)
    ON CONFLICT DO NOTHING;
    RETURN QUERY
    UPDATE orders o SET state = v.state, step = v.step, attempt = v.attempt, dept = v.dept,
        scope = v.scope, owner = v.owner, next_seq = v.next_seq, due_at = v.due_at,
        whole_due = v.whole_due, alarms = v.alarms, open = false,
        finished_at = CASE WHEN v.fin THEN coalesce(o.finished_at, v.now) END
    FROM json_to_recordset(copy_updates) AS v(id uuid, state text, step int, attempt int,
        dept text, scope text, owner text, next_seq int, due_at timestamptz, fin boolean,
        whole_due timestamptz, alarms int, now timestamptz)
    WHERE o.id = v.id AND o.next_seq <= v.next_seq
    RETURNING o.id, 'copy'::text;
END $$;

-- Link messages written to the outbox in the batch that produced them:
-- [{peer, seq, to_node, from_node, kind, order_id, body}, ...]. (plpgsql, not
-- sql: PostgreSQL plans a LANGUAGE sql function's statement on every call.)
CREATE FUNCTION pls_outbox(msgs json) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO link_outbox (peer, seq, to_node, from_node, kind, order_id, body, created_at)
    SELECT m.peer, m.seq, m.to_node, m.from_node, m.kind, m.order_id, m.body, now()
    FROM json_populate_recordset(NULL::link_outbox, msgs) m;
END $$;
