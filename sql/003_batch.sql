-- The hot path of every broker batch (broker/bk_batch.c). The broker sends the
-- orders it received, their citizens, the new event rows and the changed
-- orders as four JSON documents; this function turns them into rows with
-- plans prepared once per connection, so PostgreSQL does not parse and plan a
-- fresh multi-row VALUES text for every batch. Joins are forced onto the
-- primary key: a batch touches few rows of a large table.
CREATE FUNCTION pls_batch(new_orders json, new_citizens json, new_events json, changes json)
RETURNS SETOF uuid LANGUAGE plpgsql
SET enable_hashjoin = off SET enable_mergejoin = off SET enable_seqscan = off
AS $$
BEGIN
    -- a key this node already holds (a resubmission it did not know about)
    -- inserts nothing: its events and citizen are not written either, and the
    -- broker learns from the returned ids which orders are real
    RETURN QUERY
    WITH ins AS (
        INSERT INTO orders SELECT * FROM json_populate_recordset(NULL::orders, new_orders)
        ON CONFLICT (intake_node, idem_key) DO NOTHING RETURNING orders.id
    ), ev AS (
        INSERT INTO events
        SELECT e.* FROM json_populate_recordset(NULL::events, new_events) e
        WHERE e.seq > 1 OR e.order_id IN (SELECT i.id FROM ins i)
        ON CONFLICT DO NOTHING
    ), cz AS (
        INSERT INTO citizens
        SELECT c.* FROM json_populate_recordset(NULL::citizens, new_citizens) c
        WHERE c.order_id IN (SELECT i.id FROM ins i)
        ON CONFLICT DO NOTHING
    )
    SELECT i.id FROM ins i;
    UPDATE orders o SET
        state = v.state, step = v.step, open = v.open, finished_at = v.finished_at,
        attempt = v.attempt, dept = v.dept, scope = v.scope, token = v.token,
        custody = v.custody, flags = v.flags, next_seq = v.next_seq, due_at = v.due_at,
        owner = v.owner, prev_owner = v.prev_owner, limit_kind = v.limit_kind,
        limit_start = v.limit_start, whole_due = v.whole_due, paused_at = v.paused_at,
        alarms = v.alarms, ext_days = v.ext_days, ext_pending = v.ext_pending,
        held_notice = v.held_notice
    FROM json_populate_recordset(NULL::orders, changes) v
    WHERE o.id = v.id;
END $$;
