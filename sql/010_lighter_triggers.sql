-- Fewer trigger runs per batch. The counts in state_counts (001) and
-- done_counts (005) were kept by four statement triggers on orders, two per
-- INSERT and two per UPDATE, and a statement trigger runs even when its
-- statement changed no row: every batch ran all four, each an aggregate
-- INSERT ... ON CONFLICT, also for a batch of completions only (no new order)
-- or of new orders only (no change). At 500 orders/s on one node that was a
-- fifth of PostgreSQL's CPU (BENCHMARKS §6 item 17). Now one trigger per kind
-- of statement keeps both tables and returns at once when no row changed, and
-- pls_batch() runs only the statements its batch needs. The counts are the
-- same as before.
CREATE FUNCTION pls_orders_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM new_rows) THEN
        RETURN NULL;
    END IF;
    INSERT INTO state_counts (state, owned, n)
    SELECT r.state, r.owner = m.v, count(*)
    FROM new_rows r, node_meta m WHERE m.k = 'node' GROUP BY 1, 2
    ON CONFLICT (state, owned) DO UPDATE SET n = state_counts.n + EXCLUDED.n;
    INSERT INTO done_counts (day, dept, scope, n)
    SELECT (r.finished_at AT TIME ZONE 'Asia/Shanghai')::date, r.dept, r.scope, count(*)
    FROM new_rows r
    WHERE r.finished_at IS NOT NULL AND r.state IN ('completed', 'closed', 'rating_review')
      AND r.dept IS NOT NULL AND r.scope IS NOT NULL
    GROUP BY 1, 2, 3
    ON CONFLICT (day, dept, scope) DO UPDATE SET n = done_counts.n + EXCLUDED.n;
    RETURN NULL;
END $$;

CREATE FUNCTION pls_orders_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM new_rows) THEN
        RETURN NULL;
    END IF;
    INSERT INTO state_counts (state, owned, n)
    SELECT x.state, x.owned, sum(x.d)
    FROM (SELECT r.state, r.owner = m.v AS owned, 1 AS d FROM new_rows r, node_meta m
          WHERE m.k = 'node'
          UNION ALL
          SELECT r.state, r.owner = m.v, -1 FROM old_rows r, node_meta m WHERE m.k = 'node') x
    GROUP BY 1, 2 HAVING sum(x.d) <> 0
    ON CONFLICT (state, owned) DO UPDATE SET n = state_counts.n + EXCLUDED.n;
    INSERT INTO done_counts (day, dept, scope, n)
    SELECT (x.finished_at AT TIME ZONE 'Asia/Shanghai')::date, x.dept, x.scope, sum(x.d)
    FROM (SELECT r.finished_at, r.state, r.dept, r.scope, 1 AS d FROM new_rows r
          UNION ALL
          SELECT r.finished_at, r.state, r.dept, r.scope, -1 FROM old_rows r) x
    WHERE x.finished_at IS NOT NULL AND x.state IN ('completed', 'closed', 'rating_review')
      AND x.dept IS NOT NULL AND x.scope IS NOT NULL
    GROUP BY 1, 2, 3 HAVING sum(x.d) <> 0
    ON CONFLICT (day, dept, scope) DO UPDATE SET n = done_counts.n + EXCLUDED.n;
    RETURN NULL;
END $$;

-- IF EXISTS: a database migrated with 005 as first committed (9412366) has no
-- done triggers, its pls_count_* functions keep done_counts themselves; either
-- way the two triggers below replace them all.
DROP TRIGGER IF EXISTS orders_count_insert ON orders;
DROP TRIGGER IF EXISTS orders_count_update ON orders;
DROP TRIGGER IF EXISTS orders_done_insert ON orders;
DROP TRIGGER IF EXISTS orders_done_update ON orders;
DROP FUNCTION IF EXISTS pls_count_insert();
DROP FUNCTION IF EXISTS pls_count_update();
DROP FUNCTION IF EXISTS pls_done_insert();
DROP FUNCTION IF EXISTS pls_done_update();

-- Every batch updates the same few rows of state_counts and done_counts, so
-- each row grows a chain of versions that the ON CONFLICT lookup walks to the
-- live one, until PostgreSQL prunes the page, which it does only when the page
-- is almost full (a hundred versions and more). A fillfactor of 10 has it prune
-- at nearly every visit: the chains stay short. state_counts has a dozen rows;
-- done_counts gains rows every day and keeps them, so it gets 50 (pruned at
-- half full, the table twice its packed size) rather than ten times its size.
ALTER TABLE state_counts SET (fillfactor = 10);
ALTER TABLE done_counts SET (fillfactor = 50);

CREATE TRIGGER orders_inserted AFTER INSERT ON orders
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION pls_orders_inserted();
CREATE TRIGGER orders_updated AFTER UPDATE ON orders
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pls_orders_updated();

-- pls_batch() as in 007, with each statement run only when it has rows: a
-- batch without new orders inserts only event rows (all of them of orders
-- the node already holds: seq > 1), one without changes updates nothing.
CREATE OR REPLACE FUNCTION pls_batch(new_orders orders[], new_citizens citizens[],
                                     new_events events[], changes orders[])
RETURNS SETOF uuid LANGUAGE plpgsql
SET enable_hashjoin = off SET enable_mergejoin = off SET enable_seqscan = off
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    IF cardinality(new_orders) > 0 THEN
        -- a key this node already holds (a resubmission it did not know
        -- about) inserts nothing: its events and citizen are not written
        -- either, and the broker learns from the returned ids which orders
        -- are real
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
    ELSIF cardinality(new_events) > 0 THEN
        INSERT INTO events
        SELECT e.* FROM unnest(new_events) e WHERE e.seq > 1
        ON CONFLICT DO NOTHING;
    END IF;
    IF cardinality(changes) > 0 THEN
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
    END IF;
END $$;
