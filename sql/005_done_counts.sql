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

-- Triggers of their own beside the state_counts ones (001_schema.sql), each one
-- aggregate write per statement.
CREATE FUNCTION pls_done_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO done_counts (day, dept, scope, n)
    SELECT (r.finished_at AT TIME ZONE 'Asia/Shanghai')::date, r.dept, r.scope, count(*)
    FROM new_rows r
    WHERE r.finished_at IS NOT NULL AND r.state IN ('completed', 'closed', 'rating_review')
      AND r.dept IS NOT NULL AND r.scope IS NOT NULL
    GROUP BY 1, 2, 3
    ON CONFLICT (day, dept, scope) DO UPDATE SET n = done_counts.n + EXCLUDED.n;
    RETURN NULL;
END $$;

CREATE FUNCTION pls_done_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
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

CREATE TRIGGER orders_done_insert AFTER INSERT ON orders
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION pls_done_insert();
CREATE TRIGGER orders_done_update AFTER UPDATE ON orders
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pls_done_update();
