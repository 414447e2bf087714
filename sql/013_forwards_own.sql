-- pls_forwards_own(): the orders rows of the Forwards that make this node an
-- order's owner, with the order's state as the batch leaves it. Until now
-- such an order was written twice in one transaction: by pls_forwards() with
-- the sender's snapshot (an update of the copy this node usually holds), then
-- by pls_batch()'s update with the state the broker gave it (queued, assigned)
-- in the same batch: two row versions and, as the update is rarely HOT, two
-- sets of index entries. Now the broker gives such a row every state column
-- from its own snapshot (as for a new order in pls_batch()) and leaves it out
-- of pls_batch()'s changes: one write. Forwards of copies still go through
-- pls_forwards(), which runs first in the batch; this function runs right
-- after it and before pls_copies(), which writes the history rows of the
-- orders both created.
CREATE FUNCTION pls_forwards_own(own orders[], new_citizens citizens[]) RETURNS void
LANGUAGE plpgsql
SET enable_hashjoin = off SET enable_mergejoin = off SET enable_seqscan = off
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    -- one row per order (a broker writes one per order and batch); the
    -- state columns as pls_batch() sets those of its changes, without a
    -- condition: the row says what the broker holds in memory (a stale
    -- Forward it took is its business, see apply_forward), as it did when
    -- pls_batch() wrote it after pls_forwards()
    WITH u AS (
        UPDATE orders o SET
            state = v.state, step = v.step, open = v.open, finished_at = v.finished_at,
            attempt = v.attempt, dept = v.dept, scope = v.scope, token = v.token,
            custody = v.custody, flags = v.flags, next_seq = v.next_seq, due_at = v.due_at,
            owner = v.owner, prev_owner = v.prev_owner, limit_kind = v.limit_kind,
            limit_start = v.limit_start, whole_due = v.whole_due, paused_at = v.paused_at,
            alarms = v.alarms, ext_days = v.ext_days, ext_pending = v.ext_pending,
            held_notice = v.held_notice
        FROM unnest(own) v
        WHERE o.id = v.id
        RETURNING o.id
    )
    INSERT INTO orders
    SELECT v.* FROM unnest(own) v
    WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = v.id)
    ON CONFLICT DO NOTHING;
    IF cardinality(new_citizens) > 0 THEN
        INSERT INTO citizens
        SELECT c.* FROM unnest(new_citizens) c
        WHERE EXISTS (SELECT 1 FROM orders o WHERE o.id = c.order_id)
        ON CONFLICT (order_id) DO NOTHING;
    END IF;
END $$;
