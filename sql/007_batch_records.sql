-- pls_batch() takes a batch's rows as arrays of the tables' own row types
-- instead of JSON documents (broker/bk_batch.c writes the record literals).
-- PostgreSQL 15 reads a JSON document with a lexer call per character and a
-- hash table per object, and reads it twice (the json input function checks
-- it, json_populate_recordset parses it again, and the json columns inside
-- once more); a record literal is split into fields and each is given to its
-- column type's input function. 128 orders rows: 0.6 ms instead of 3.2 ms;
-- 128 event rows: 0.7 ms instead of 2.7 ms (BENCHMARKS §6). The broker
-- writes every column of `orders`, `citizens` and `events` in the tables'
-- column order (sql/001); a change of those tables must change bk_batch.c and
-- bk_core.c (build_insert) with it.
DROP FUNCTION pls_batch(json, json, json, json);

CREATE FUNCTION pls_batch(new_orders orders[], new_citizens citizens[], new_events events[],
                          changes orders[])
RETURNS SETOF uuid LANGUAGE plpgsql
SET enable_hashjoin = off SET enable_mergejoin = off SET enable_seqscan = off
AS $$
BEGIN
    -- a key this node already holds (a resubmission it did not know about)
    -- inserts nothing: its events and citizen are not written either, and the
    -- broker learns from the returned ids which orders are real
    RETURN QUERY
    WITH ins AS (
        INSERT INTO orders SELECT * FROM unnest(new_orders)
        ON CONFLICT (intake_node, idem_key) DO NOTHING RETURNING orders.id
    ), ev AS (
        INSERT INTO events
        SELECT e.* FROM unnest(new_events) e
        WHERE e.seq > 1 OR e.order_id IN (SELECT i.id FROM ins i)
        ON CONFLICT DO NOTHING
    ), cz AS (
        INSERT INTO citizens
        SELECT c.* FROM unnest(new_citizens) c
        WHERE c.order_id IN (SELECT i.id FROM ins i)
        ON CONFLICT DO NOTHING
    )
    SELECT i.id FROM ins i;
    -- only the id and the changing columns of a change are set
    UPDATE orders o SET
        state = v.state, step = v.step, open = v.open, finished_at = v.finished_at,
        attempt = v.attempt, dept = v.dept, scope = v.scope, token = v.token,
        custody = v.custody, flags = v.flags, next_seq = v.next_seq, due_at = v.due_at,
        owner = v.owner, prev_owner = v.prev_owner, limit_kind = v.limit_kind,
        limit_start = v.limit_start, whole_due = v.whole_due, paused_at = v.paused_at,
        alarms = v.alarms, ext_days = v.ext_days, ext_pending = v.ext_pending,
        held_notice = v.held_notice
    FROM unnest(changes) v
    WHERE o.id = v.id;
END $$;

-- The same for the rows federation writes most: the event rows of copies
-- (copy_events) and the messages to peers (msgs: link_outbox rows, whose
-- bodies are JSON texts of ~1 KB that a JSON document carried as escaped
-- strings). The copies' snapshots stay a JSON document (sql/006): a few
-- short members per copy, and columns the orders row type does not have.
DROP FUNCTION pls_copies(json, json);
CREATE FUNCTION pls_copies(copy_events events[], copy_updates json)
RETURNS TABLE (copy_id uuid, what text) LANGUAGE plpgsql
SET enable_hashjoin = off SET enable_mergejoin = off SET enable_seqscan = off
AS $$
BEGIN
    INSERT INTO events
    SELECT e.* FROM unnest(copy_events) e
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

DROP FUNCTION pls_outbox(json);
CREATE FUNCTION pls_outbox(msgs link_outbox[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO link_outbox SELECT * FROM unnest(msgs);
END $$;
