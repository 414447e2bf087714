-- Forwards received over federation links (broker/bk_fed.c, DESIGN §7): the
-- orders rows a batch's Forwards carry, as one JSON document, and the personal
-- data of the orders this node now owns, as another. One statement per batch
-- with plans prepared once per connection, instead of one literal upsert per
-- Forward that PostgreSQL would parse and plan every time.
--
-- forwards: [{id, number, idem_key, content_hash, service, origin, locality,
--   intake_node, channel, priority, descr, fields, attachments, about, subject,
--   site, plan, actor, created_at, state, step, open, attempt, dept, scope,
--   custody, flags, next_seq, due_at, owner, prev_owner}, ...]; of two for one
--   order the newer history (next_seq) wins, then the later one.
-- citizens: [{order_id, name, id_type, id_number, phone}, ...]
--
-- A row this node has is refreshed only forwards in its history (next_seq);
-- a new one is inserted; an intake key this node already holds (a
-- resubmission the intake node turned away) inserts nothing.
CREATE FUNCTION pls_forwards(forwards json, citizens json) RETURNS void LANGUAGE plpgsql
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
            prev_owner = v.prev_owner
        FROM v WHERE o.id = v.id AND o.next_seq <= v.next_seq
        RETURNING o.id
    )
    INSERT INTO orders (id, number, idem_key, content_hash, service, origin, locality,
        intake_node, channel, priority, descr, fields, attachments, about, subject, site,
        plan, actor, created_at, state, step, open, attempt, dept, scope, token, custody,
        flags, next_seq, due_at, owner, prev_owner)
    SELECT id, number, idem_key, content_hash, service, origin, locality, intake_node,
        channel, priority, descr, fields, attachments, about, subject, site, plan, actor,
        created_at, state, step, open, attempt, dept, scope, 0, custody, flags, next_seq,
        due_at, owner, prev_owner
    FROM v WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = v.id)
    ON CONFLICT DO NOTHING;
    INSERT INTO citizens
    SELECT c.* FROM json_populate_recordset(NULL::citizens, citizens) c
    WHERE EXISTS (SELECT 1 FROM orders o WHERE o.id = c.order_id)
    ON CONFLICT (order_id) DO NOTHING;
END $$;
