#!/usr/bin/env bash
# bench_throughput.sh — DESIGN §11 / issue 5, end to end on one node: submit → assign → accept
# → complete, every step durable and in the event log; 16 workers, 32 submitters (closed
# loop, one submit outstanding each). Target ≥ 15,000 orders/s (floor 10,000).
# Label "long". Prints one JSON object on stdout (see bench_lib.sh).
#
# Knobs: PLS_BENCH_ORDERS (default 100000), PLS_BENCH_WORKERS (16), PLS_BENCH_SUBMITTERS (32),
# PLS_BENCH_WINDOW (1), PLS_BENCH_CONCURRENCY (64), PLS_BENCH_SERVICE (consult),
# PLS_BENCH_PGBENCH_S (20).
source "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
source "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"
pls_setup

orders=${PLS_BENCH_ORDERS:-100000}
args=(--orders "$orders" --workers "${PLS_BENCH_WORKERS:-16}"
    --submitters "${PLS_BENCH_SUBMITTERS:-32}" --window "${PLS_BENCH_WINDOW:-1}"
    --concurrency "${PLS_BENCH_CONCURRENCY:-64}" --service "${PLS_BENCH_SERVICE:-consult}")

machine=$(bench_machine)
pgbench=$(bench_pgbench)
bench_checkpoint
cpu0=$(bench_pg_cpu)
bench_run throughput --db "$PLS_DB" "${args[@]}" --broker-log "$T/broker.log"
cpu1=$(bench_pg_cpu)

jq -n --argjson machine "$machine" --argjson pgbench "$pgbench" \
    --slurpfile bench "$T/throughput.json" --arg cmd "pls-bench --db DB ${args[*]}" \
    --argjson pg_cpu "$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { printf "%.2f", b - a }')" \
    '{benchmark: "throughput", command: $cmd, machine: $machine, pgbench: $pgbench,
      postgres_cpu_s: $pg_cpu, bench: $bench[0],
      cpu_us_per_order: {postgres: ($pg_cpu * 1e6 / $bench[0].answered | floor),
                         broker: ($bench[0].broker_cpu_s * 1e6 / $bench[0].answered | floor),
                         pls_bench: ($bench[0].bench_cpu_s * 1e6 / $bench[0].answered | floor)},
      target: {orders_per_s: 15000, floor: 10000},
      meets_target: ($bench[0].orders_per_s >= 15000),
      meets_floor: ($bench[0].orders_per_s >= 10000)}'
