#!/usr/bin/env bash
# bench_federation.sh — DESIGN §11 / issue 5, federation targets: a town → city flow (legal
# aid received at the town: 初审 there, 审批 and 指派 at the city, the result back in the town's
# copy), two brokers on their own databases on one PostgreSQL server:
#   1. as fast as possible (closed loop): orders/s (target ≥ 5,000);
#   2. at a fixed 500 orders/s (open loop, first 5 s left out): submit-to-completion p99
#      (target ≤ 20 ms).
# Label "long". Prints one JSON object on stdout.
#
# Knobs: PLS_BENCH_ORDERS (30000, run 1), PLS_BENCH_WORKERS (8: half at each broker),
# PLS_BENCH_SUBMITTERS (16), PLS_BENCH_WINDOW (4), PLS_BENCH_RATE (500), PLS_BENCH_SECONDS
# (30, run 2 after the warm-up), PLS_BENCH_SERVICE (legal_aid), PLS_BENCH_PGBENCH_S (20).
source "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
source "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"
pls_setup

service=${PLS_BENCH_SERVICE:-legal_aid}
workers=${PLS_BENCH_WORKERS:-8}
rate=${PLS_BENCH_RATE:-500}
secs=${PLS_BENCH_SECONDS:-30}
warmup=5
rate_orders=$(awk -v r="$rate" -v s="$secs" -v w="$warmup" 'BEGIN { printf "%d", r * (s + w) }')

machine=$(bench_machine)
pgbench=$(bench_pgbench)

# run NAME ARGS...: a fresh town and city database each time
run() {
    local name=$1 town city
    shift
    town=$(pls_createdb "${name}_town")
    city=$(pls_createdb "${name}_city")
    bench_checkpoint
    bench_run "$name" --db "$town" --city-db "$city" --federation --service "$service" \
        --workers "$workers" --broker-log "$T/$name-broker.log" "$@"
}
fast_args=(--orders "${PLS_BENCH_ORDERS:-30000}" --submitters "${PLS_BENCH_SUBMITTERS:-16}"
    --window "${PLS_BENCH_WINDOW:-4}")
rate_args=(--orders "$rate_orders" --rate "$rate" --warmup "$warmup" --submitters 4)
cpu0=$(bench_pg_cpu)
run fast "${fast_args[@]}"
cpu1=$(bench_pg_cpu)
run rate "${rate_args[@]}"

common="--db TOWN --city-db CITY --federation --service $service --workers $workers"
jq -n --argjson machine "$machine" --argjson pgbench "$pgbench" \
    --slurpfile fast "$T/fast.json" --slurpfile rate "$T/rate.json" \
    --arg cmd_fast "pls-bench $common ${fast_args[*]}" \
    --arg cmd_rate "pls-bench $common ${rate_args[*]}" \
    --argjson pg_cpu "$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { printf "%.2f", b - a }')" \
    '{benchmark: "federation", machine: $machine, pgbench: $pgbench,
      fast: {command: $cmd_fast, postgres_cpu_s: $pg_cpu, bench: $fast[0]},
      rate: {command: $cmd_rate, bench: $rate[0]},
      target: {orders_per_s: 5000, submit_to_complete_p99_ms_at_500: 20},
      meets_target: {orders_per_s: ($fast[0].orders_per_s >= 5000),
                     p99: ($rate[0].submit_to_complete_ms.p99 <= 20)}}'
