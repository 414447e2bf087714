-- pls_forwards() and pls_copies() take arrays of the tables' row types for
-- what they took as JSON documents: the orders rows of Forwards and their
-- personal data (sql/004, sql/008), and the copies' snapshots (sql/006,
-- sql/007). The broker sends every array of a batch in PostgreSQL's binary
-- format (broker/bk_batch.c), which PostgreSQL reads without a JSON lexer,
-- a hash table per object or the text of each field (BENCHMARKS §6 items 19
-- and 20). The functions do what they did; only their inputs change:
--   - a Forward's row carries the columns pls_forwards() writes, the others
--     are NULL and not read;
--   - a copy's snapshot is an orders row with id, state, step, owner,
--     finished_at (the time the copy finished here, NULL while it is open:
--     what the JSON's "fin" and "now" said together), attempt, dept, scope,
--     next_seq, due_at, whole_due and alarms; the others are NULL.
DROP FUNCTION pls_forwards(json, json);
CREATE FUNCTION pls_forwards(forwards orders[], new_citizens citizens[]) RETURNS void
LANGUAGE plpgsql
SET enable_hashjoin = off SET enable_mergejoin = off SET enable_seqscan = off
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    WITH v AS (
        SELECT DISTINCT ON (d.id) d.*
        FROM unnest(forwards) WITH ORDINALITY AS d
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
    IF cardinality(new_citizens) > 0 THEN
        INSERT INTO citizens
        SELECT c.* FROM unnest(new_citizens) c
        WHERE EXISTS (SELECT 1 FROM orders o WHERE o.id = c.order_id)
        ON CONFLICT (order_id) DO NOTHING;
    END IF;
END $$;

DROP FUNCTION pls_copies(events[], json);
CREATE FUNCTION pls_copies(copy_events events[], copy_updates orders[])
RETURNS TABLE (copy_id uuid, what text) LANGUAGE plpgsql
SET enable_hashjoin = off SET enable_mergejoin = off SET enable_seqscan = off
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    IF cardinality(copy_events) > 0 THEN
        INSERT INTO events
        SELECT e.* FROM unnest(copy_events) e
        WHERE EXISTS (SELECT 1 FROM orders o WHERE o.id = e.order_id)
        ON CONFLICT DO NOTHING;
    END IF;
    IF cardinality(copy_updates) > 0 THEN
        RETURN QUERY
        UPDATE orders o SET state = v.state, step = v.step, attempt = v.attempt,
            dept = v.dept, scope = v.scope, owner = v.owner, next_seq = v.next_seq,
            due_at = v.due_at, whole_due = v.whole_due, alarms = v.alarms, open = false,
            finished_at = CASE WHEN v.finished_at IS NOT NULL
                               THEN coalesce(o.finished_at, v.finished_at) END
        FROM unnest(copy_updates) v
        WHERE o.id = v.id AND o.next_seq <= v.next_seq
        RETURNING o.id, 'copy'::text;
    END IF;
END $$;
