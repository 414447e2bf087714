#!/usr/bin/env bash
# bench_memory.sh — DESIGN §11 / issue 5: broker RSS ≤ 300 bytes per queued order (200-byte
# descriptions) plus a fixed base, with 1,000,000 queued orders and no workers. pls-bench
# --queue-only reads the broker's VmRSS once it is ready (the base) and once every order is
# answered; the figure is (after − base) / orders. Label "long". Prints one JSON object.
#
# Knobs: PLS_BENCH_ORDERS (1000000), PLS_BENCH_SUBMITTERS (32), PLS_BENCH_WINDOW (8),
# PLS_BENCH_PGBENCH_S (20).
source "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
source "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"
pls_setup

args=(--queue-only --orders "${PLS_BENCH_ORDERS:-1000000}" --desc-bytes 200
    --submitters "${PLS_BENCH_SUBMITTERS:-32}" --window "${PLS_BENCH_WINDOW:-8}"
    --stall-timeout 300)

machine=$(bench_machine)
pgbench=$(bench_pgbench)
bench_checkpoint
cpu0=$(bench_pg_cpu)
bench_run memory --db "$PLS_DB" "${args[@]}" --broker-log "$T/broker.log"
cpu1=$(bench_pg_cpu)

jq -n --argjson machine "$machine" --argjson pgbench "$pgbench" \
    --slurpfile bench "$T/memory.json" --arg cmd "pls-bench --db DB ${args[*]}" \
    --argjson pg_cpu "$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { printf "%.2f", b - a }')" \
    '{benchmark: "memory", command: $cmd, machine: $machine, pgbench: $pgbench,
      postgres_cpu_s: $pg_cpu, bench: $bench[0],
      cpu_us_per_order: {postgres: ($pg_cpu * 1e6 / $bench[0].answered | floor),
                         broker: ($bench[0].broker_cpu_s * 1e6 / $bench[0].answered | floor),
                         pls_bench: ($bench[0].bench_cpu_s * 1e6 / $bench[0].answered | floor)},
      target: {queued_bytes_per_order: 300},
      meets_target: ($bench[0].queued_bytes_per_order <= 300)}'
