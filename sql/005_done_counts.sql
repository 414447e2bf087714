-- Completions per day, department and scope, for the "completed today" of
-- plsctl status and of each town's StatusSummary (every 2 s). Counting them
-- from orders read every order finished that day through orders_finished and
-- its heap rows: 100-250 ms per call with 10,000-30,000 completions
-- (BENCHMARKS §9). The orders triggers keep this table exact instead, the way
-- they keep state_counts: an order counts on the day (Asia/Shanghai) of its
-- finished_at while it is completed, in rating_review or closed, under its
-- last department and scope; a redo that reopens it takes it out again.
CREATE TABLE done_counts (
    day date NOT NULL,
    dept text NOT NULL,
    scope text NOT NULL,
    n bigint NOT NULL,
    PRIMARY KEY (day, dept, scope)
);

INSERT INTO done_counts (day, dept, scope, n)
SELECT (finished_at AT TIME ZONE 'Asia/Shanghai')::date, dept, scope, count(*)
FROM orders
WHERE finished_at IS NOT NULL AND state IN ('completed', 'closed', 'rating_review')
  AND dept IS NOT NULL AND scope IS NOT NULL
GROUP BY 1, 2, 3;

CREATE OR REPLACE FUNCTION pls_count_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
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

CREATE OR REPLACE FUNCTION pls_count_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO state_counts (state, owned, n)
    SELECT x.state, x.owned, sum(x.d)
    FROM (SELECT r.state, r.owner = m.v AS owned, 1 AS d FROM new_rows r, node_meta m
          WHERE m.k = 'node'
          UNION ALL
          SELECT r.state, r.owner = m.v, -1 FROM old_rows r, node_meta m WHERE m.k = 'node') x
    GROUP BY 1, 2 HAVING sum(x.d) <> 0
    ON CONFLICT (state, owned) DO UPDATE SET n = state_counts.n + EXCLUDED.n;
    INSERT INTO done_counts (day, dept, scope, n)
    SELECT x.day, x.dept, x.scope, sum(x.d)
    FROM (SELECT (r.finished_at AT TIME ZONE 'Asia/Shanghai')::date AS day, r.dept, r.scope,
                 1 AS d
          FROM new_rows r
          WHERE r.finished_at IS NOT NULL AND r.state IN ('completed', 'closed', 'rating_review')
            AND r.dept IS NOT NULL AND r.scope IS NOT NULL
          UNION ALL
          SELECT (r.finished_at AT TIME ZONE 'Asia/Shanghai')::date, r.dept, r.scope, -1
          FROM old_rows r
          WHERE r.finished_at IS NOT NULL AND r.state IN ('completed', 'closed', 'rating_review')
            AND r.dept IS NOT NULL AND r.scope IS NOT NULL) x
    GROUP BY 1, 2, 3 HAVING sum(x.d) <> 0
    ON CONFLICT (day, dept, scope) DO UPDATE SET n = done_counts.n + EXCLUDED.n;
    RETURN NULL;
END $$;
