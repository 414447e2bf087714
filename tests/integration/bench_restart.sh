#!/usr/bin/env bash
# bench_restart.sh — DESIGN §11 / issue 5: a broker restarted on a database with 1,000,000
# open and 5,000,000 closed orders hands out its first Assign ≤ 10 s after it starts.
#
# How: pls-bench makes real template orders (completed ones, and queued ones with
# --queue-only); SQL then copies them — every column taken from the template except the id,
# order number, idempotency key and, for the closed ones, state and open — to the wanted
# counts (open orders with their event row; closed orders without event rows: a restart reads
# only the open orders, DESIGN §8), recounts state_counts, VACUUM ANALYZE, CHECKPOINT. Then a
# noop pls-worker is started (it resends Ready every second until answered) and the broker
# after it; the figure is the time from starting the broker to the worker's first
# "assigned" log line. Label "long". Prints one JSON object on stdout.
#
# Knobs: PLS_BENCH_OPEN (1000000), PLS_BENCH_CLOSED (5000000), PLS_BENCH_CHUNK (250000 rows
# per generating transaction), PLS_BENCH_PGBENCH_S (20).
source "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
source "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"
pls_setup

open_n=${PLS_BENCH_OPEN:-1000000}
closed_n=${PLS_BENCH_CLOSED:-5000000}
chunk=${PLS_BENCH_CHUNK:-250000}
templates=200

machine=$(bench_machine)
pgbench=$(bench_pgbench)

# ---- real template orders ----------------------------------------------------------
bench_run tpl_done --db "$PLS_DB" --orders "$templates" --workers 2 --concurrency 16 \
    --submitters 4 --broker-log "$T/tpl-broker.log"
bench_run tpl_open --db "$PLS_DB" --queue-only --orders "$templates" --submitters 4 \
    --broker-log "$T/tpl-broker.log"
assert_eq "$(pls_sql "SELECT count(*) FROM orders WHERE state = 'queued'")" "$templates" \
    "template queued orders"

# ---- copies --------------------------------------------------------------------------
# gen_orders KIND STATE N: N copies of one order in STATE (kind o = open, c = closed).
gen_orders() {
    local kind=$1 state=$2 n=$3
    ((n > 0)) || return 0
    pls_note "generating $n copies of a $state order (kind $kind)"
    pls_sql "
DO \$\$
DECLARE
    ocols text; osel text; ecols text; esel text; tpl uuid; done bigint := 0; step bigint;
BEGIN
    SELECT id INTO tpl FROM orders WHERE state = '$state' ORDER BY created_at LIMIT 1;
    SELECT string_agg(quote_ident(column_name), ',' ORDER BY ordinal_position),
           string_agg(CASE column_name
                        WHEN 'id' THEN 'gen_random_uuid()'
                        WHEN 'number' THEN '''DG-R$kind-'' || g'
                        WHEN 'idem_key' THEN '''restart-$kind-'' || g'
                        WHEN 'state' THEN CASE '$kind' WHEN 'c' THEN '''closed''' ELSE 't.state' END
                        WHEN 'open' THEN CASE '$kind' WHEN 'c' THEN 'false' ELSE 't.open' END
                        ELSE 't.' || quote_ident(column_name) END, ',' ORDER BY ordinal_position)
      INTO ocols, osel
      FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'orders';
    SELECT string_agg(quote_ident(column_name), ',' ORDER BY ordinal_position),
           string_agg(CASE column_name WHEN 'order_id' THEN 'ins.id'
                      ELSE 'e.' || quote_ident(column_name) END, ',' ORDER BY ordinal_position)
      INTO ecols, esel
      FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'events';
    WHILE done < $n LOOP
        step := least($chunk, $n - done);
        IF '$kind' = 'o' THEN
            EXECUTE format('WITH ins AS (INSERT INTO orders (%s) SELECT %s FROM orders t, '
                           'generate_series(%s, %s) g WHERE t.id = %L RETURNING id) '
                           'INSERT INTO events (%s) SELECT %s FROM ins, events e '
                           'WHERE e.order_id = %L', ocols, osel, done + 1, done + step, tpl,
                           ecols, esel, tpl);
        ELSE
            EXECUTE format('INSERT INTO orders (%s) SELECT %s FROM orders t, '
                           'generate_series(%s, %s) g WHERE t.id = %L', ocols, osel, done + 1,
                           done + step, tpl);
        END IF;
        done := done + step;
        COMMIT;
    END LOOP;
END
\$\$" >/dev/null
}
gen_start=$SECONDS
gen_orders c completed "$closed_n"
gen_orders o queued "$((open_n > templates ? open_n - templates : 0))"
# state_counts as the broker keeps it (whether or not a trigger already counted the copies)
pls_sql "BEGIN; DELETE FROM state_counts; INSERT INTO state_counts (state, owned, n)
    SELECT state, owner = 'dg', count(*) FROM orders GROUP BY 1, 2; COMMIT" >/dev/null
pls_note "VACUUM ANALYZE and CHECKPOINT"
pls_sql "VACUUM ANALYZE orders" >/dev/null
pls_sql "VACUUM ANALYZE events" >/dev/null
bench_checkpoint
gen_s=$((SECONDS - gen_start))
open_now=$(pls_sql "SELECT count(*) FROM orders WHERE open")
closed_now=$(pls_sql "SELECT count(*) FROM orders WHERE NOT open")
db_size=$(pls_sql "SELECT pg_database_size(current_database()) / 1048576")
pls_note "database: $open_now open, $closed_now closed orders, $db_size MiB (made in ${gen_s}s)"

# ---- the restart -----------------------------------------------------------------------
port=$(pls_free_port)
ep=tcp://127.0.0.1:$port
pls_start_worker w --broker "$ep" --node dg --dept consult --builtin noop --concurrency 1
pg_cpu0=$(bench_pg_cpu)
t0_ms=$(date +%s%3N)
pls_start_broker r dg --listen "$ep"
wlog=$(pls_logfile w)
blog=$(pls_logfile r)
assigned() { grep -q 'assigned step' "$wlog"; }
pls_wait_for 600 assigned || fail "no Assign within 600 s of the broker's start"
pg_cpu1=$(bench_pg_cpu)
# the broker's CPU so far: nearly all of it is loading the open orders
broker_cpu=$(awk -v hz="$(getconf CLK_TCK)" '{ s = $0; sub(/.*\) /, "", s); split(s, f, " ");
    printf "%.2f", (f[12] + f[13]) / hz }' "/proc/$(pls_pid r)/stat")

# log lines start with an ISO 8601 UTC time with milliseconds
line_ms() {
    local ts
    ts=$(grep -m1 "$1" "$2" | cut -d' ' -f1)
    [[ -n $ts ]] || {
        echo null
        return
    }
    date -d "$ts" +%s%3N
}
assign_ms=$(line_ms 'assigned step' "$wlog")
ready_ms=$(line_ms 'ready: ' "$blog")
loaded_line=$(grep -m1 'state loaded in' "$blog" || true)
rss_kb=$(awk '/VmRSS/ { print $2 }' "/proc/$(pls_pid r)/status")
hwm_kb=$(awk '/VmHWM/ { print $2 }' "/proc/$(pls_pid r)/status")

jq -n --argjson machine "$machine" --argjson pgbench "$pgbench" \
    --argjson open "$open_now" --argjson closed "$closed_now" --argjson db_mb "$db_size" \
    --argjson gen_s "$gen_s" --argjson first_assign_ms "$((assign_ms - t0_ms))" \
    --argjson ready_ms "$([[ $ready_ms == null ]] && echo null || echo $((ready_ms - t0_ms)))" \
    --arg loaded "$loaded_line" --argjson rss "$rss_kb" --argjson hwm "$hwm_kb" \
    --argjson broker_cpu "$broker_cpu" \
    --argjson pg_cpu "$(awk -v a="$pg_cpu0" -v b="$pg_cpu1" 'BEGIN { printf "%.2f", b - a }')" \
    '{benchmark: "restart", machine: $machine, pgbench: $pgbench,
      database: {open_orders: $open, closed_orders: $closed, size_mb: $db_mb,
                 generated_in_s: $gen_s},
      broker_ready_ms: $ready_ms, first_assign_ms: $first_assign_ms,
      broker_log_load_line: $loaded, broker_rss_kb: $rss, broker_peak_rss_kb: $hwm,
      broker_cpu_s_until_assign: $broker_cpu, postgres_cpu_s_until_assign: $pg_cpu,
      target: {first_assign_ms: 10000},
      meets_target: ($first_assign_ms <= 10000)}'
