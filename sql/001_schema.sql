-- PLS Dispatch schema, version 1 (applied by pls-broker at start-up under an
-- advisory lock; see broker/bk_store.c). One database per command center.
--
-- Write path (DESIGN §8, §11): one transaction per broker batch. An order costs
-- one row in `orders` (inserted at intake, its state columns updated at most
-- once per batch), one row in `events` per batch that changed it (several
-- transitions share a row: `entries` is a list), and a `citizens` row when
-- personal data was given. Columns that change (state, step, owner, open) are
-- not indexed except `open` in a partial index, so updates stay HOT until the
-- order leaves the open set.

CREATE TABLE node_meta (
    k text PRIMARY KEY,
    v text NOT NULL
);

-- Small counters updated once per batch (daily order-number sequence).
CREATE TABLE counters (
    k text PRIMARY KEY,
    v bigint NOT NULL
);

CREATE TABLE departments (
    code    text PRIMARY KEY,
    name_zh text NOT NULL,
    name_en text NOT NULL
);

CREATE TABLE services (
    code       text PRIMARY KEY,
    ordinal    int NOT NULL UNIQUE,
    name_zh    text NOT NULL,
    name_en    text NOT NULL,
    basic      boolean NOT NULL,             -- one of the "3" basic functions
    confidential boolean NOT NULL DEFAULT false,
    -- whole-order limit from first receipt, if any (legal aid: 7 days)
    whole_limit_n    int,
    whole_limit_unit text CHECK (whole_limit_unit IN ('wd', 'd', 'h')),
    whole_limit_statutory boolean NOT NULL DEFAULT false
);

-- A step: where it is handled, by which department, its limit.
--   place: locality   = the order's locality node (village, town or city)
--          town       = the locality's town (the city itself for a city locality)
--          city       = the city
--          designated = one of `designated` (chosen site, else locality's town
--                       if listed, else the first listed)
CREATE TABLE steps (
    service   text NOT NULL REFERENCES services,
    idx       int NOT NULL,
    name      text NOT NULL,
    action_zh text NOT NULL,
    place     text NOT NULL CHECK (place IN ('locality', 'town', 'city', 'designated')),
    designated text[],
    dept      text NOT NULL REFERENCES departments,
    limit_n   int,
    limit_unit text CHECK (limit_unit IN ('wd', 'd', 'h')),
    statutory boolean NOT NULL DEFAULT false,
    skip_when_intake_at text CHECK (skip_when_intake_at IN ('city', 'town')),
    escalate_after_s int,
    PRIMARY KEY (service, idx)
);

-- (step, outcome) -> next step, or the end of the order. The outcome with the
-- lowest ord is the step's default. next_idx NULL ends the order: `ends` says
-- whether as completed or terminated.
CREATE TABLE outcomes (
    service  text NOT NULL,
    step_idx int NOT NULL,
    ord      int NOT NULL,
    code     text NOT NULL,
    next_idx int,
    ends     text CHECK (ends IN ('completed', 'terminated')),
    note_zh  text,
    PRIMARY KEY (service, step_idx, code),
    FOREIGN KEY (service, step_idx) REFERENCES steps,
    CHECK ((next_idx IS NULL) <> (ends IS NULL))
);

-- Complaints are routed by subject to the overseeing section (DESIGN §5).
CREATE TABLE complaint_routes (
    subject text PRIMARY KEY,       -- lawyer | notary | mediator | staff
    dept    text NOT NULL REFERENCES departments
);
-- Without --subject, the subject follows the service of the order complained about.
CREATE TABLE complaint_subject_of_service (
    service text PRIMARY KEY REFERENCES services,
    subject text NOT NULL REFERENCES complaint_routes
);

CREATE TABLE orders (
    id           uuid PRIMARY KEY,
    number       text NOT NULL,       -- unique per intake node (see below)
    idem_key     text NOT NULL,       -- unique per intake node (see below)
    content_hash bigint NOT NULL,
    service      text NOT NULL,
    origin       text NOT NULL,       -- intake desk node (首问)
    locality     text NOT NULL,
    intake_node  text NOT NULL,       -- the broker that received it
    channel      text NOT NULL,
    priority     smallint NOT NULL,   -- 0 normal, 1 urgent
    descr        text NOT NULL,
    fields       jsonb,
    attachments  jsonb,
    about        uuid,                -- complaint: the order complained about
    subject      text,
    site         text,
    plan         json NOT NULL,       -- resolved steps: [{"name","dept","scope"}]
    actor        text NOT NULL,       -- desk / operator who submitted
    created_at   timestamptz NOT NULL,
    -- changing columns (not indexed, for HOT updates), written once per batch
    -- that changed the order; together they are what a restart needs, so a
    -- restart reads one row per open order and no events:
    state        text NOT NULL,
    step         int,
    owner        text NOT NULL,
    open         boolean NOT NULL,
    finished_at  timestamptz,
    attempt      int NOT NULL DEFAULT 0,
    dept         text,                -- current step's department
    scope        text,                -- current step's scope node
    token        bigint,              -- lease token of the current assignment
    custody      smallint NOT NULL DEFAULT 0,  -- 0 auto, 1 staff
    flags        int NOT NULL DEFAULT 0,       -- need-info used, ...
    next_seq     int NOT NULL DEFAULT 1,       -- next event sequence number
    due_at       timestamptz,         -- the current limit's due time (rule clock)
    prev_owner   text,                -- the command center that handed it over
    -- time limits (DESIGN §9; broker/bk_limits.h)
    limit_kind   smallint NOT NULL DEFAULT 0,  -- 0 none, 1 签收, 2 step
    limit_start  timestamptz,
    whole_due    timestamptz,         -- whole-order limit (legal aid)
    paused_at    timestamptz,         -- waiting for the citizen since
    alarms       int NOT NULL DEFAULT 0,       -- yellow, red, reported, ... raised
    ext_days     int NOT NULL DEFAULT 0,       -- working days of extension granted
    ext_pending  int NOT NULL DEFAULT 0,       -- working days asked, undecided
    held_notice  jsonb                -- a second one-time notice awaiting approval
) WITH (fillfactor = 85);
CREATE INDEX orders_open ON orders (id) WHERE open;
-- Keys and numbers are unique per intake node: a city database also holds
-- copies of every town's orders. The number index serves lookups by number.
CREATE UNIQUE INDEX orders_number ON orders (number, intake_node);
CREATE UNIQUE INDEX orders_key ON orders (intake_node, idem_key);

-- Citizens' personal data, apart so it can be deleted at end of retention
-- without touching the event log. Never logged.
CREATE TABLE citizens (
    order_id  uuid PRIMARY KEY,
    name      text,
    id_type   text,
    id_number text,
    phone     text
);

-- The append-only event log. One row per order per batch; `entries` is a
-- JSON list of transitions, entry i having sequence number seq + i:
--   {"kind","at" (epoch ms),"node","actor","from","to","step","attempt","payload"}
CREATE TABLE events (
    order_id uuid NOT NULL,
    seq      int NOT NULL,
    n        smallint NOT NULL,
    at       timestamptz NOT NULL,
    entries  json NOT NULL,   -- json, not jsonb: written far more often than searched
    PRIMARY KEY (order_id, seq)
);

-- Every (department, scope) a worker ever registered for: routing falls back
-- from a village to its town only when the village has none.
CREATE TABLE workers_seen (
    dept       text NOT NULL,
    scope      text NOT NULL,
    first_seen timestamptz NOT NULL,
    PRIMARY KEY (dept, scope)
);

-- Posts marked away (AB岗): their orders go to B-post workers at once.
CREATE TABLE posts_away (
    dept  text NOT NULL,
    scope text NOT NULL,
    since timestamptz NOT NULL,
    actor text NOT NULL,
    PRIMARY KEY (dept, scope)
);

-- Lookups of orders by a citizen's phone or ID number are audited.
CREATE TABLE audit (
    at     timestamptz NOT NULL,
    actor  text NOT NULL,
    action text NOT NULL,
    detail text NOT NULL   -- masked
);

-- One entry per row of the event log, for reports and analytics.
CREATE VIEW event_entries AS
SELECT e.order_id, e.seq + (x.i - 1)::int AS seq,
       to_timestamp((x.entry ->> 'at')::bigint / 1000.0) AS at,
       x.entry ->> 'node' AS node, x.entry ->> 'actor' AS actor,
       x.entry ->> 'kind' AS kind, x.entry ->> 'from' AS from_state,
       x.entry ->> 'to' AS to_state, (x.entry ->> 'step')::int AS step,
       (x.entry ->> 'attempt')::int AS attempt, x.entry -> 'payload' AS payload
FROM events e, json_array_elements(e.entries) WITH ORDINALITY AS x(entry, i);

-- Orders by state, exact in the same transaction as every change (so status
-- never scans the orders table); owned = this node owns the order. Kept by
-- statement-level triggers with transition tables: one aggregate write per
-- statement, whatever the number of rows, copies from other nodes included.
CREATE TABLE state_counts (
    state text NOT NULL,
    owned boolean NOT NULL,
    n     bigint NOT NULL,
    PRIMARY KEY (state, owned)
);

CREATE FUNCTION pls_count_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO state_counts (state, owned, n)
    SELECT r.state, r.owner = m.v, count(*)
    FROM new_rows r, node_meta m WHERE m.k = 'node' GROUP BY 1, 2
    ON CONFLICT (state, owned) DO UPDATE SET n = state_counts.n + EXCLUDED.n;
    RETURN NULL;
END $$;

CREATE FUNCTION pls_count_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO state_counts (state, owned, n)
    SELECT x.state, x.owned, sum(x.d)
    FROM (SELECT r.state, r.owner = m.v AS owned, 1 AS d FROM new_rows r, node_meta m
          WHERE m.k = 'node'
          UNION ALL
          SELECT r.state, r.owner = m.v, -1 FROM old_rows r, node_meta m WHERE m.k = 'node') x
    GROUP BY 1, 2 HAVING sum(x.d) <> 0
    ON CONFLICT (state, owned) DO UPDATE SET n = state_counts.n + EXCLUDED.n;
    RETURN NULL;
END $$;

CREATE TRIGGER orders_count_insert AFTER INSERT ON orders
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION pls_count_insert();
CREATE TRIGGER orders_count_update AFTER UPDATE ON orders
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pls_count_update();

-- Finished orders by time, for "completed today" and the rating sweep.
CREATE INDEX orders_finished ON orders (finished_at) WHERE finished_at IS NOT NULL;

-- Mask personal data for display: the last four characters of long values
-- (phone, ID number), the first character of short ones (names).
CREATE FUNCTION pls_mask(s text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN s IS NULL OR s = '' THEN NULL
        WHEN length(s) >= 7 THEN repeat('*', length(s) - 4) || right(s, 4)
        WHEN length(s) > 1 THEN left(s, 1) || repeat('*', length(s) - 1)
        ELSE '*'
    END
$$;

-- Federation links (DESIGN §7). One row per peer (parent or child broker):
-- applied = last sequence applied from the peer (written in the same
-- transaction as the effect); next_seq = next sequence to give a message to
-- the peer; acked = last sequence the peer confirmed.
CREATE TABLE link_state (
    peer      text PRIMARY KEY,
    is_parent boolean NOT NULL,
    applied   bigint NOT NULL DEFAULT 0,
    next_seq  bigint NOT NULL DEFAULT 1,
    acked     bigint NOT NULL DEFAULT 0
);

-- Messages to a peer, written in the same transaction as the change that made
-- them, deleted once acknowledged.
CREATE TABLE link_outbox (
    peer       text NOT NULL,
    seq        bigint NOT NULL,
    to_node    text NOT NULL,
    from_node  text NOT NULL,
    kind       text NOT NULL,
    order_id   uuid NOT NULL,
    body       text NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (peer, seq)
);

-- Supervision (督办) records, kept at the parent command center of the node
-- that owns the order (at the city itself for the city's own orders).
CREATE TABLE supervisions (
    order_id  uuid NOT NULL,
    number    text NOT NULL,
    node      text NOT NULL,       -- the owner that raised it
    dept      text,
    scope     text,
    kind      text NOT NULL,       -- red (limit breached), whole (whole-order limit), failed
    reason    text NOT NULL,
    raised_at timestamptz NOT NULL,
    PRIMARY KEY (order_id, kind, raised_at)
);
