#!/usr/bin/env bash
# bench_latency.sh — DESIGN §11 / issue 5: at a fixed 500 orders/s for 60 s (after a
# CHECKPOINT; the first 5 s are left out), submit-ack p99 ≤ 2 ms and submit-to-assign
# p99 ≤ 2 ms. End to end on one node; the submitters send on a schedule (open loop),
# whatever the answers. 16 workers, 4 submitters by default: at 500 orders/s more submitters
# add nothing for the broker but cost pls-bench CPU on the same two cores (every socket is
# checked in every loop turn). Label "long". Prints one JSON object on stdout.
#
# Knobs: PLS_BENCH_RATE (500), PLS_BENCH_SECONDS (60, measured after the warm-up),
# PLS_BENCH_WARMUP (5), PLS_BENCH_WORKERS (16), PLS_BENCH_SUBMITTERS (4),
# PLS_BENCH_SERVICE (consult), PLS_BENCH_PGBENCH_S (20; also the seconds of the fixed-rate
# pgbench run that gives PostgreSQL's own commit latency at the same rate).
source "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
source "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"
pls_setup

rate=${PLS_BENCH_RATE:-500}
secs=${PLS_BENCH_SECONDS:-60}
warmup=${PLS_BENCH_WARMUP:-5}
orders=$(awk -v r="$rate" -v s="$secs" -v w="$warmup" 'BEGIN { printf "%d", r * (s + w) }')
args=(--orders "$orders" --rate "$rate" --warmup "$warmup" --workers "${PLS_BENCH_WORKERS:-16}"
    --submitters "${PLS_BENCH_SUBMITTERS:-4}" --service "${PLS_BENCH_SERVICE:-consult}")

machine=$(bench_machine)
pgbench=$(bench_pgbench)
pgbench_rate=$(bench_pgbench_rate "$rate")
bench_checkpoint
cpu0=$(bench_pg_cpu)
bench_run latency --db "$PLS_DB" "${args[@]}" --broker-log "$T/broker.log"
cpu1=$(bench_pg_cpu)

jq -n --argjson machine "$machine" --argjson pgbench "$pgbench" --argjson pgbench_rate "$pgbench_rate" \
    --slurpfile bench "$T/latency.json" --arg cmd "pls-bench --db DB ${args[*]}" \
    --argjson pg_cpu "$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { printf "%.2f", b - a }')" \
    '{benchmark: "latency", command: $cmd, machine: $machine, pgbench: $pgbench,
      pgbench_at_rate: $pgbench_rate,
      postgres_cpu_s: $pg_cpu, bench: $bench[0],
      cpu_us_per_order: {postgres: ($pg_cpu * 1e6 / $bench[0].answered | floor),
                         broker: ($bench[0].broker_cpu_s * 1e6 / $bench[0].answered | floor),
                         pls_bench: ($bench[0].bench_cpu_s * 1e6 / $bench[0].answered | floor)},
      target: {submit_ack_p99_ms: 2, submit_to_assign_p99_ms: 2},
      meets_target: ($bench[0].submit_ack_ms.p99 <= 2 and
                     $bench[0].submit_to_assign_ms.p99 <= 2)}'
